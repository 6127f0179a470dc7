//! The Unix socket transport over SOCK_DGRAM (`unix.socket_type = "dgram"`), against a real
//! Janus whose pfunix sockets (Janus API and Admin API) are SOCK_DGRAM: `scripts/test`
//! starts it as `JANUS_DGRAM` (`scripts/janus start dgram --unix-type dgram`) and exports
//! `JANUS_DGRAM_NAME` for the restart test. Without it the tests print a loud SKIPPED line,
//! and fail when `CI` is set.
#![cfg(feature = "unix")]

mod common;

use common::{assert_empty, env_or_skip, until_usable};
use janus_client::{
    connect, connect_admin, CloseReason, Config, ErrorKind, SessionEvent, SocketType,
};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

const ECHO: &str = "janus.plugin.echotest";

/// The tests share one Janus, and one of them restarts it.
static TURN: Mutex<()> = Mutex::const_new(());

/// A fresh directory for the client's own socket files (short: sun_path holds 107 bytes).
fn client_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("jd-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("client dir");
    dir
}

fn dgram_config(url: &str, dir: &Path) -> Config {
    let mut config = Config::new(url);
    config.unix.socket_type = SocketType::Dgram;
    config.unix.client_dir = Some(dir.to_path_buf());
    config
}

/// The client's socket files in `dir`.
fn socket_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .expect("read the client dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echotest_admin_and_the_8_kib_limit_over_datagrams() {
    let _turn = TURN.lock().await;
    let (Some(url), Some(admin_url), Some(secret)) = (
        env_or_skip("JANUS_DGRAM_UNIX_URL"),
        env_or_skip("JANUS_DGRAM_ADMIN_UNIX_URL"),
        env_or_skip("JANUS_DGRAM_ADMIN_SECRET"),
    ) else {
        return;
    };
    let dir = client_dir("echo");
    let client = connect(dgram_config(&url, &dir)).await.expect("connect");
    // The client's own socket, for Janus to answer to.
    assert_eq!(socket_files(&dir).len(), 1, "{:?}", socket_files(&dir));
    assert_eq!(client.info().await.expect("info").version, "1.1.2");

    let session = client.create_session().await.expect("create");
    let handle = session.attach(ECHO).await.expect("attach");
    let reply = handle
        .message(json!({"audio": true}))
        .await
        .expect("message");
    assert_eq!(reply.data["result"], "ok");

    // Over 8 KiB: refused at once, never sent; the connection stays usable.
    let start = Instant::now();
    let e = handle
        .message(json!({"audio": true, "pad": "a".repeat(9000)}))
        .timeout(Duration::from_secs(10))
        .await
        .unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert!(
        matches!(e.kind(), ErrorKind::Limit { option, .. } if option == "unix.max_request_bytes"),
        "{e}"
    );
    handle
        .message(json!({"audio": true, "pad": "a".repeat(7000)}))
        .await
        .expect("a request under 8 KiB");

    // The Admin API over the datagram admin socket sees the session and its handle.
    let admin = connect_admin(dgram_config(&admin_url, &dir), secret.into())
        .await
        .expect("admin");
    let sid = session.id();
    assert!(admin.list_sessions().await.expect("list").contains(&sid));
    assert_eq!(
        admin.list_handles(sid).await.expect("handles"),
        vec![handle.id()]
    );

    // Closing removes the client's socket file. Janus sees no disconnect over datagrams:
    // the session lives on (until `destroy` or its timeout).
    client.close().await;
    drop(handle);
    drop(session);
    drop(client);
    let admin_files = 1;
    assert!(
        common::eventually(Duration::from_secs(5), || async {
            socket_files(&dir).len() == admin_files
        })
        .await,
        "left behind: {:?}",
        socket_files(&dir)
    );
    assert!(admin.list_sessions().await.expect("list").contains(&sid));
    drop(admin);
    assert!(
        common::eventually(Duration::from_secs(5), || async {
            socket_files(&dir).is_empty()
        })
        .await,
        "left behind: {:?}",
        socket_files(&dir)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_wrong_socket_type_says_which_option_to_set() {
    let (Some(dgram), Some(seqpacket)) = (
        env_or_skip("JANUS_DGRAM_UNIX_URL"),
        env_or_skip("JANUS_UNIX_URL"),
    ) else {
        return;
    };
    let dir = client_dir("type");
    for config in [Config::new(dgram), dgram_config(&seqpacket, &dir)] {
        let Err(e) = connect(config).await else {
            panic!("connected with the wrong socket type");
        };
        assert!(e.to_string().contains("unix.socket_type"), "{e}");
    }
    // A failed connect leaves no socket file behind.
    assert!(socket_files(&dir).is_empty(), "{:?}", socket_files(&dir));
    let _ = std::fs::remove_dir_all(&dir);
}

fn janus_script(cmd: &str, name: &str) {
    let status = std::process::Command::new("scripts/janus")
        .args([cmd, name])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run scripts/janus");
    assert!(status.success(), "scripts/janus {cmd} {name} failed");
}

/// Janus killed and started again re-creates its socket: the client notices (a datagram
/// socket has no connection to lose: its next write, a probe at the latest, fails),
/// reconnects with a new socket file of its own, and its `claim` fails since the session
/// died with Janus; by policy the session is re-created and the handle answers again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_janus_is_noticed_and_the_session_recreated_over_datagrams() {
    let _turn = TURN.lock().await;
    let (Some(url), Some(name)) = (
        env_or_skip("JANUS_DGRAM_UNIX_URL"),
        env_or_skip("JANUS_DGRAM_NAME"),
    ) else {
        return;
    };
    for recreate in [false, true] {
        let dir = client_dir(if recreate { "re" } else { "lost" });
        let mut config = dgram_config(&url, &dir);
        config.options.reconnect.recreate_lost_sessions = recreate;
        let client = connect(config).await.expect("connect");
        let session = client.create_session().await.expect("create");
        let handle = session.attach(ECHO).await.expect("attach");
        let mut events = session.events();
        janus_script("kill", &name);
        tokio::time::sleep(Duration::from_millis(500)).await;
        janus_script("restart", &name);
        let answering = Instant::now();
        // Probes go out after 2.5 s of silence: generous bounds.
        let verdict = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                match events.recv().await {
                    Some(SessionEvent::Reclaimed) => continue,
                    other => return other,
                }
            }
        })
        .await
        .expect("a verdict on the session within 30 s");
        println!(
            "RESTART dgram (recreate {recreate}): {:?} after Janus answered: {verdict:?}",
            answering.elapsed()
        );
        if recreate {
            assert!(
                matches!(verdict, Some(SessionEvent::Recreated { .. })),
                "{verdict:?}"
            );
            until_usable(&handle, Duration::from_secs(10)).await;
            session.destroy().await.expect("destroy");
        } else {
            assert!(
                matches!(
                    verdict,
                    Some(SessionEvent::Closed(CloseReason::SessionLost(_)))
                ),
                "{verdict:?}"
            );
        }
        drop(handle);
        drop(session);
        assert_empty(&client).await;
        assert!(client.stats().reconnects >= 1, "{:?}", client.stats());
        // The socket file of the first connection went with it: one file, the current one.
        assert_eq!(socket_files(&dir).len(), 1, "{:?}", socket_files(&dir));
        client.close().await;
        drop(client);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
