//! Runs the echotest against a Janus named in a config file and prints what happens.
//!
//! ```text
//! cargo run --example demo -- examples/demo.toml
//! ```
//! The URL in the file picks the transport: `ws://…` or `http://…/janus` (the latter needs
//! `--features http`). `scripts/demo` starts a local Janus and writes such a file for you.

use futures::StreamExt;
use janus_client::{connect, Config, HandleEvent, Trickle};
use serde_json::json;
use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "examples/demo.toml".into());
    // Reads and checks the file: an error names the file and the option.
    let config = Config::from_file(&path)?;
    println!("config   {path}: {}", config.url);

    let client = connect(config).await?;
    let info = client.info().await?;
    println!(
        "info     Janus {} with {} plugins, session timeout {:?} s",
        info.version,
        info.plugins.len(),
        info.session_timeout
    );

    let session = client.create_session().await?;
    println!("session  {}", session.id());
    let handle = session
        .attach("janus.plugin.echotest")
        .opaque_id("demo")
        .await?;
    println!("attach   handle {} on {}", handle.id(), handle.plugin());

    let events = handle.events();
    let printer = tokio::spawn(async move {
        let mut events = events;
        while let Some(ev) = events.next().await {
            match &ev {
                HandleEvent::Plugin(p) => println!("event    plugin {}", p.data),
                HandleEvent::Closed(reason) => println!("event    stream closed: {reason}"),
                other => println!("event    {other:?}"),
            }
        }
    });

    let reply = handle
        .message(json!({"audio": true, "video": true, "bitrate": 128000}))
        .await?;
    println!("message  echotest answered {}", reply.data);

    handle.trickle(Trickle::Completed).await?;
    println!("trickle  completed acknowledged");

    match handle.message(json!({})).await {
        Err(e) => println!("message  an empty body fails as expected: {e}"),
        Ok(r) => println!("message  unexpected success: {}", r.data),
    }

    handle.hangup().await?;
    println!("hangup   done");
    handle.detach().await?;
    println!("detach   done");
    let _ = tokio::time::timeout(Duration::from_secs(2), printer).await;
    session.destroy().await?;
    println!("destroy  done");
    let stats = client.stats();
    println!(
        "stats    sessions {} handles {} pending {}",
        stats.sessions, stats.handles, stats.pending_transactions
    );
    client.close().await;
    Ok(())
}
