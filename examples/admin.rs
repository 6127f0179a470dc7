//! Looks inside a running Janus through its Admin API: server status, then every session,
//! its handles, and what each handle is attached to.
//!
//! ```text
//! cargo run --example admin -- ws://127.0.0.1:7188 janusoverlord
//! cargo run --example admin --features http -- http://127.0.0.1:7088/admin janusoverlord
//! ```
//! The Admin API is off in Janus' default configuration: enable `admin_ws` (or `admin_http`)
//! in its transport configuration. `scripts/janus start NAME` starts an instance with both on
//! and prints their URLs (`…_ADMIN_WS_URL`, `…_ADMIN_HTTP_URL`).

use janus_client::{connect_admin, Config};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "ws://127.0.0.1:7188".to_string());
    let secret = args.next().unwrap_or_else(|| "janusoverlord".to_string());

    let admin = connect_admin(Config::new(url.clone()), secret.into()).await?;
    let info = admin.info().await?;
    println!(
        "{url}: Janus {} ({} plugins)",
        info.version,
        info.plugins.len()
    );
    let status = admin.get_status().await?;
    println!(
        "status: session timeout {:?} s, log level {:?}, token auth {:?}",
        status.session_timeout, status.log_level, status.token_auth
    );

    let sessions = admin.list_sessions().await?;
    println!("{} session(s)", sessions.len());
    for session in sessions {
        // A session can end between two requests: say so and go on.
        let handles = match admin.list_handles(session).await {
            Ok(h) => h,
            Err(e) if e.is_gone() => {
                println!("  session {session}: gone meanwhile");
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        println!("  session {session}: {} handle(s)", handles.len());
        for handle in handles {
            match admin.handle_info(session, handle, true).await {
                Ok(info) => println!(
                    "    handle {handle}: {} (opaque id {})",
                    info["plugin"].as_str().unwrap_or("?"),
                    info["opaque_id"].as_str().unwrap_or("none")
                ),
                Err(e) if e.is_gone() => println!("    handle {handle}: gone meanwhile"),
                Err(e) => return Err(e.into()),
            }
        }
    }
    admin.close().await;
    Ok(())
}
