//! What only the Unix socket transport (Janus' pfunix, SOCK_SEQPACKET) does, against the
//! real Janus: a request over Janus' 8 KiB read buffer fails at once without being sent,
//! and the connection stays usable. Needs `JANUS_UNIX_URL` (`scripts/test`).

mod common;

use janus_client::ErrorKind;
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_over_8_kib_fails_at_once_and_the_connection_stays_up() {
    let Some(t) = common::targets("JANUS")
        .into_iter()
        .find(|t| t.transport == "unix")
    else {
        return;
    };
    let client = t.connect().await;
    let session = client.create_session().await.expect("create");
    let handle = session
        .attach("janus.plugin.echotest")
        .await
        .expect("attach");
    let start = Instant::now();
    let e = handle
        .message(json!({"audio": true, "pad": "a".repeat(9000)}))
        .timeout(Duration::from_secs(10))
        .await
        .unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "took {:?}",
        start.elapsed()
    );
    match e.kind() {
        ErrorKind::Limit { option, limit, .. } => {
            assert_eq!(
                (option.as_str(), *limit),
                ("unix.max_request_bytes", 8192),
                "{e}"
            );
        }
        _ => panic!("expected a limit error, got {e}"),
    }
    assert!(e.to_string().contains("8 KiB"), "{e}");
    // Just under the bound goes through.
    let reply = handle
        .message(json!({"audio": true, "pad": "a".repeat(7000)}))
        .await
        .expect("a request under 8 KiB");
    assert_eq!(reply.data["result"], "ok");
    session.destroy().await.expect("destroy");
    common::assert_empty(&client).await;
    assert_eq!(client.stats().reconnects, 0, "{:?}", client.stats());
}

#[tokio::test]
async fn a_missing_socket_is_a_clear_connect_error() {
    let config = janus_client::Config::new("unix:///nonexistent/dir/janus.sock");
    let Err(e) = janus_client::connect(config).await else {
        panic!("connected to a missing socket");
    };
    let text = e.to_string();
    assert!(
        text.contains("/nonexistent/dir/janus.sock") && text.contains("pfunix"),
        "{text}"
    );
}

/// 400 echotest handles, 5 messages each at once, straight to Janus (no proxy): every one
/// is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_2000_messages_straight_to_janus() {
    let Some(t) = common::targets("JANUS")
        .into_iter()
        .find(|t| t.transport == "unix")
    else {
        return;
    };
    let client = t.connect().await;
    let mut handles = Vec::new();
    let mut sessions = Vec::new();
    for _ in 0..200 {
        let s = client.create_session().await.expect("create");
        for _ in 0..2 {
            handles.push(s.attach("janus.plugin.echotest").await.expect("attach"));
        }
        sessions.push(s);
    }
    let results =
        futures::future::join_all(handles.iter().flat_map(|h| {
            (0..5).map(move |_| async move { h.message(json!({"audio": true})).await })
        }))
        .await;
    let errors: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(
        errors.is_empty(),
        "{} errors, first: {:?}",
        errors.len(),
        errors.first()
    );
    for s in &sessions {
        s.destroy().await.expect("destroy");
    }
}
