//! Janus writes an answer to a Unix socket in one packet, and a packet larger than its
//! socket's send buffer (`net.core.wmem_default`: Janus sets no `SO_SNDBUF`) fails with
//! `EMSGSIZE`, which Janus ignores: the client sees only a timeout. An Admin API
//! `list_sessions` with enough sessions is such an answer. Over the Unix socket the timeout
//! says so; the same list over WebSocket's Admin API arrives. Needs `JANUS_WS_URL`,
//! `JANUS_ADMIN_UNIX_URL`, `JANUS_ADMIN_WS_URL` and `JANUS_ADMIN_SECRET` (`scripts/test`).
//! A binary of its own: its thousands of sessions would weigh on the other Unix tests.

mod common;

use common::env_or_skip;
use futures::stream::{self, StreamExt};
use janus_client::{connect, connect_admin, ClientOptions, Config, Secret};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_over_the_socket_buffer_is_lost_and_the_timeout_says_why() {
    let (Some(ws), Some(admin_unix), Some(admin_ws), Some(secret)) = (
        env_or_skip("JANUS_WS_URL"),
        env_or_skip("JANUS_ADMIN_UNIX_URL"),
        env_or_skip("JANUS_ADMIN_WS_URL"),
        env_or_skip("JANUS_ADMIN_SECRET"),
    ) else {
        return;
    };
    let secret = Secret::from(secret);
    let buffer: usize = std::fs::read_to_string("/proc/sys/net/core/wmem_default")
        .expect("net.core.wmem_default")
        .trim()
        .parse()
        .expect("a number");
    // Each session is about 17 bytes of the answer: enough of them to pass the buffer.
    let sessions = buffer / 15 + 1_000;

    let client = connect(Config::new(ws))
        .await
        .expect("connect over WebSocket");
    let held: Vec<_> = stream::iter(0..sessions)
        .map(|_| client.create_session())
        .buffer_unordered(64)
        .collect()
        .await;
    let held: Vec<_> = held
        .into_iter()
        .collect::<Result<_, _>>()
        .expect("every session created");

    // Over WebSocket the whole list arrives, and it is larger than the buffer.
    let over_ws = connect_admin(Config::new(admin_ws), secret.clone())
        .await
        .expect("admin over WebSocket");
    let listed = over_ws.list_sessions().await.expect("list over WebSocket");
    assert!(listed.len() >= sessions, "{} listed", listed.len());
    let answer_bytes = serde_json::to_string(&listed).expect("json").len();
    assert!(
        answer_bytes > buffer,
        "{answer_bytes} bytes fit in {buffer}"
    );

    // Over the Unix socket Janus drops it: a timeout, which says why it may have come.
    let options = ClientOptions {
        request_timeout: Duration::from_secs(3),
        ..Default::default()
    };
    let over_unix = connect_admin(Config::new(admin_unix).with_options(options), secret)
        .await
        .expect("admin over the Unix socket");
    let e = over_unix
        .list_sessions()
        .await
        .expect_err("Janus cannot send this answer over its Unix socket");
    assert!(e.is_timeout(), "{e:?}");
    let text = e.to_string();
    assert!(
        text.contains("net.core.wmem_default") && text.contains(&buffer.to_string()),
        "{text}"
    );
    // The connection is still good for answers that fit.
    over_unix.info().await.expect("a small answer still comes");

    for s in held {
        let _ = s.destroy().await;
    }
    over_ws.close().await;
    over_unix.close().await;
}
