//! A network that stalls (accepts connections, forwards nothing) for 9 s, against a real
//! Janus, over every transport, with default options: the client notices it and says so
//! (`Disconnected`), and once the network is back every handle answers again within 2 s
//! (`Reconnected`).
//!
//! Uses the `JANUS_RECLAIM` instance (reclaim window 30 s), so that over WebSocket the
//! sessions survive the connection the client closes when it notices the stall.

mod common;

use common::proxy::Proxy;
use common::{targets, until_usable, Target};
use futures::future::join_all;
use janus_client::ConnectionState;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

const ECHO: &str = "janus.plugin.echotest";

/// A proxy in front of `t`, and a client (default options) through it.
async fn through_a_proxy(t: &Target) -> (Proxy, janus_client::Client) {
    let proxy = Proxy::start(&t.url).await;
    let client = proxy.target(t).connect().await;
    (proxy, client)
}

async fn stall_for_nine_seconds(t: Target) {
    let (proxy, client) = through_a_proxy(&t).await;
    let mut sessions = Vec::new();
    let mut handles = Vec::new();
    for _ in 0..4 {
        let s = client.create_session().await.expect("create");
        for _ in 0..2 {
            handles.push(s.attach(ECHO).await.expect("attach"));
        }
        sessions.push(s);
    }
    // Every state the client reports, with when.
    let log: Arc<Mutex<Vec<(Instant, ConnectionState)>>> = Arc::default();
    let watcher = tokio::spawn({
        let log = log.clone();
        let mut state = client.connection_state();
        async move {
            while state.changed().await.is_ok() {
                let s = state.borrow_and_update().clone();
                log.lock().unwrap().push((Instant::now(), s));
            }
        }
    });

    let stalled = Instant::now();
    proxy.stall(true);
    // What an application does meanwhile: it keeps asking, and gets errors, not hangs.
    let during = handles[0]
        .message(json!({"audio": true}))
        .timeout(Duration::from_secs(3))
        .await;
    assert!(
        during.is_err(),
        "a message was answered through a stalled network"
    );
    tokio::time::sleep(Duration::from_secs(9).saturating_sub(stalled.elapsed())).await;
    let back = Instant::now();
    proxy.stall(false);
    join_all(
        handles
            .iter()
            .map(|h| until_usable(h, Duration::from_secs(20))),
    )
    .await;
    let recovered = back.elapsed();
    // The watcher records `Reconnected` on its own thread: the handles may answer a moment
    // before it has (a Unix socket reconnects within a few milliseconds of the network
    // coming back).
    // Generous: on a loaded machine the watcher's task may run late.
    common::eventually(Duration::from_secs(10), || async {
        log.lock()
            .unwrap()
            .iter()
            .any(|(at, s)| *at >= back && matches!(s, ConnectionState::Reconnected))
    })
    .await;

    let log = log.lock().unwrap().clone();
    // A watch shows the latest state only: a `Disconnected` followed at once by
    // `Reconnecting` may be seen as the latter alone.
    let noticed = log
        .iter()
        .find(|(at, s)| {
            *at < back
                && matches!(
                    s,
                    ConnectionState::Disconnected { .. } | ConnectionState::Reconnecting { .. }
                )
        })
        .map(|(at, _)| *at - stalled);
    let reconnected = log
        .iter()
        .any(|(at, s)| *at >= back && matches!(s, ConnectionState::Reconnected));
    println!(
        "stall over {}: noticed after {noticed:?}, every handle answers {recovered:?} after the network is back; states: {:?}",
        t.transport,
        log.iter().map(|(at, s)| (*at - stalled, s.clone())).collect::<Vec<_>>()
    );
    let noticed = noticed.expect("the stall was never reported");
    assert!(
        noticed < Duration::from_secs(10),
        "stall noticed after {noticed:?}"
    );
    assert!(
        reconnected,
        "no Reconnected after the network came back: {log:?}"
    );
    assert!(
        recovered < Duration::from_secs(2),
        "handles answered only {recovered:?} after the network came back"
    );
    watcher.abort();
    for s in &sessions {
        s.destroy().await.expect("destroy");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_nine_second_stall_every_handle_answers_within_two_seconds() {
    for t in targets("JANUS_RECLAIM") {
        stall_for_nine_seconds(t).await;
    }
}

async fn cut_is_reported(t: Target) {
    let (proxy, client) = through_a_proxy(&t).await;
    let s = client.create_session().await.expect("create");
    let h = s.attach(ECHO).await.expect("attach");
    h.message(json!({"audio": true})).await.expect("message");
    let mut state = client.connection_state();
    assert_eq!(*state.borrow_and_update(), ConnectionState::Connected);
    // A request certainly in flight when the cut comes: held by a stall until its bytes
    // reached the proxy. (Over HTTP a cut of idle connections only interrupts nothing: the
    // client just opens new ones.)
    proxy.stall(true);
    let in_flight = tokio::spawn({
        let h = h.clone();
        async move { h.message(json!({"audio": true})).await }
    });
    let seen = common::eventually(Duration::from_secs(5), || async { proxy.swallowed() > 0 }).await;
    assert!(seen, "the request never reached the proxy");
    proxy.cut();
    proxy.stall(false);
    // Every transport says it lost the server and that it is back (over HTTP the same
    // transport goes on; over WebSocket a new connection claims the session). A watch shows
    // the latest state only, so the `Disconnected` in between may be skipped; `Reconnected`
    // is said only after one.
    tokio::time::timeout(
        Duration::from_secs(10),
        state.wait_for(|s| matches!(s, ConnectionState::Reconnected)),
    )
    .await
    .unwrap_or_else(|_| panic!("{}: no Reconnected after a cut", t.transport))
    .unwrap();
    // The request in flight failed (it may have reached Janus), or was answered if it
    // did not reach it before the cut and went again; it never hangs.
    let outcome = tokio::time::timeout(Duration::from_secs(15), in_flight)
        .await
        .expect("the request in flight hangs")
        .unwrap();
    if let Err(e) = outcome {
        assert!(e.is_transport_closed() || e.is_timeout(), "{e}");
    }
    until_usable(&h, Duration::from_secs(10)).await;
    s.destroy().await.expect("destroy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_is_reported_disconnected_then_reconnected_over_every_transport() {
    for t in targets("JANUS_RECLAIM") {
        cut_is_reported(t).await;
    }
}
