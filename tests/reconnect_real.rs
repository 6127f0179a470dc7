//! Reconnect and fault tolerance against a real Janus, through a fault-injecting proxy.
//!
//! Uses the `JANUS_SHORT` instance (session timeout 10 s, reclaim window 10 s) and the
//! `JANUS_RESTART` instance, which these tests kill with SIGKILL and start again.

mod common;

use common::proxy::Proxy;
use common::{assert_empty, eventually, targets, until_usable, Target};
use futures::future::join_all;
use janus_client::{ClientOptions, CloseReason, ConnectionState, HandleEvent, SessionEvent};
use serde_json::json;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

const ECHO: &str = "janus.plugin.echotest";

/// The first session event other than `Reclaimed`: what became of the session.
async fn verdict(sev: &mut janus_client::SessionEvents) -> Option<SessionEvent> {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match sev.recv().await {
                Some(SessionEvent::Reclaimed) => continue,
                other => return other,
            }
        }
    })
    .await
    .expect("a verdict on the session within 10 s")
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn twenty_cuts(t: Target) {
    let proxy = Proxy::start(&t.url).await;
    let client = proxy.target(&t).connect().await;
    let mut sessions = Vec::new();
    let mut handles = Vec::new();
    for _ in 0..4 {
        let s = client.create_session().await.unwrap();
        for _ in 0..2 {
            handles.push(s.attach(ECHO).await.unwrap());
        }
        sessions.push(s);
    }
    let ids: Vec<_> = handles.iter().map(|h| (h.session().id(), h.id())).collect();
    let mut session_events: Vec<_> = sessions.iter().map(|s| s.events()).collect();

    // A workload keeps every handle busy through the cuts.
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = handles
        .iter()
        .cloned()
        .map(|h| {
            let stop = stop.clone();
            let done = done.clone();
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    match h
                        .message(json!({"audio": true}))
                        .timeout(Duration::from_secs(3))
                        .await
                    {
                        Ok(_) => {
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e)
                            if e.is_transport_closed() || e.is_timeout() || e.is_retry_safe() =>
                        {
                            tokio::time::sleep(Duration::from_millis(5)).await
                        }
                        Err(e) => panic!("workload: {e}"),
                    }
                }
            })
        })
        .collect();

    let mut recover = Vec::new();
    for cut in 0..20 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let reconnects = client.stats().reconnects;
        let cut_at = Instant::now();
        proxy.cut();
        // Usable again means: every handle answers a message. Over HTTP, Janus may keep a
        // poll whose connection the cut broke and hand it the session's next events (lost)
        // until it gets some, or for 30 s (README, "One behaviour on every transport").
        let limit = if t.transport == "http" {
            Duration::from_secs(35)
        } else {
            Duration::from_secs(8)
        };
        let all = join_all(handles.iter().map(|h| until_usable(h, limit))).await;
        let _ = all;
        recover.push(cut_at.elapsed());
        // Each cut is one reconnect. Waited for, not read at once: the count may move just
        // after the handles answer again. Over HTTP a cut breaks connections, not a link.
        if t.transport != "http" {
            let counted = eventually(Duration::from_secs(10), || async {
                client.stats().reconnects > reconnects
            })
            .await;
            assert!(
                counted,
                "{}: cut {cut} brought no reconnect: {:?}",
                t.transport,
                client.stats()
            );
        }
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.expect("workload task");
    }
    assert!(
        done.load(Ordering::Relaxed) > 20,
        "the workload made progress"
    );
    // Same ids, nothing lost.
    let now: Vec<_> = handles.iter().map(|h| (h.session().id(), h.id())).collect();
    assert_eq!(ids, now);
    for ev in session_events.iter_mut() {
        use futures::FutureExt;
        while let Some(Some(e)) = ev.recv().now_or_never() {
            assert!(
                matches!(e, SessionEvent::Reclaimed),
                "{}: unexpected session event {e:?}",
                t.transport
            );
        }
    }
    let stats = client.stats();
    if t.transport != "http" {
        assert!(stats.reconnects >= 20, "{stats:?}");
    }
    let max = *recover.iter().max().unwrap();
    let med = median(&mut recover);
    println!(
        "RECONNECT {}: 20 cuts, recovery median {:?} max {:?}, reconnects {}, proxy connections {}",
        t.transport,
        med,
        max,
        stats.reconnects,
        proxy.accepted()
    );
    drop(handles);
    for s in sessions {
        s.destroy().await.unwrap();
    }
    assert_empty(&client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_cuts_under_load_over_every_transport() {
    for t in targets("JANUS_SHORT") {
        twenty_cuts(t).await;
    }
}

async fn long_outage(t: Target, recreate: bool) {
    let proxy = Proxy::start(&t.url).await;
    let mut options = ClientOptions::default();
    options.reconnect.recreate_lost_sessions = recreate;
    let client = proxy.target(&t).connect_with(options).await;
    let s = client.create_session().await.unwrap();
    let h = s.attach(ECHO).await.unwrap();
    let mut sev = s.events();
    let mut hev = h.events();
    let (old_s, old_h) = (s.id(), h.id());
    // Longer than the reclaim window (10 s) and the session timeout (10 s), counted from
    // the last request (trap 4), plus Janus' 2 s watchdog tick.
    proxy.refuse(true);
    proxy.cut();
    tokio::time::sleep(Duration::from_secs(15)).await;
    proxy.refuse(false);
    let ev = verdict(&mut sev).await;
    if recreate {
        match ev {
            Some(SessionEvent::Recreated { old, new, handles }) => {
                assert_eq!(old, old_s);
                assert_eq!(new, s.id());
                assert_eq!(handles, vec![(old_h, h.id())]);
            }
            other => panic!("{}: expected Recreated, got {other:?}", t.transport),
        }
        until_usable(&h, Duration::from_secs(5)).await;
        s.destroy().await.unwrap();
    } else {
        match ev {
            Some(SessionEvent::Closed(CloseReason::SessionLost(_)))
            | Some(SessionEvent::Timeout) => {}
            other => panic!("{}: expected the session lost, got {other:?}", t.transport),
        }
        let last = loop {
            match tokio::time::timeout(Duration::from_secs(5), hev.recv()).await {
                Ok(Some(HandleEvent::Closed(r))) => break r,
                Ok(Some(_)) => continue,
                Ok(None) | Err(_) => panic!("handle stream did not close"),
            }
        };
        assert!(
            matches!(
                last,
                CloseReason::SessionLost(_) | CloseReason::SessionTimeout
            ),
            "{last:?}"
        );
        let e = h.message(json!({})).await.unwrap_err();
        assert!(e.is_gone(), "{e}");
        // The client itself works on.
        let s2 = client.create_session().await.unwrap();
        s2.destroy().await.unwrap();
    }
    assert_empty(&client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_longer_than_the_reclaim_window_loses_the_session_cleanly() {
    join_all(
        targets("JANUS_SHORT")
            .into_iter()
            .map(|t| long_outage(t, false)),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_session_is_recreated_by_policy() {
    join_all(
        targets("JANUS_SHORT")
            .into_iter()
            .map(|t| long_outage(t, true)),
    )
    .await;
}

async fn short_cut_is_reclaimed(t: Target) {
    let proxy = Proxy::start(&t.url).await;
    let client = proxy.target(&t).connect().await;
    let s = client.create_session().await.unwrap();
    let h = s.attach(ECHO).await.unwrap();
    let mut sev = s.events();
    let mut state = client.connection_state();
    proxy.refuse(true);
    proxy.cut();
    tokio::time::sleep(Duration::from_secs(3)).await;
    proxy.refuse(false);
    until_usable(&h, Duration::from_secs(10)).await;
    if t.transport != "http" {
        // A WebSocket (or Unix socket) close is a disconnect: the session was claimed on the new connection.
        let ev = tokio::time::timeout(Duration::from_secs(5), sev.recv())
            .await
            .unwrap();
        assert_eq!(ev, Some(SessionEvent::Reclaimed));
        assert_eq!(*state.borrow_and_update(), ConnectionState::Reconnected);
    }
    s.destroy().await.unwrap();
    assert_empty(&client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_shorter_than_the_reclaim_window_keeps_the_session() {
    join_all(
        targets("JANUS_SHORT")
            .into_iter()
            .map(short_cut_is_reclaimed),
    )
    .await;
}

async fn stalled_peer_is_noticed(t: Target) {
    // A peer that keeps the TCP connection open and never answers: the request times out,
    // WebSocket pings notice the dead peer, the client reconnects.
    let proxy = Proxy::start(&t.url).await;
    let mut config = proxy.target(&t).config(ClientOptions::default());
    #[cfg(feature = "ws")]
    {
        config.ws.ping_interval = Some(Duration::from_millis(500));
        config.ws.ping_timeout = Duration::from_secs(1);
    }
    // Over HTTP a long poll whose request was swallowed is only noticed when its own time
    // limit runs out (45 s by default, since Janus answers an idle poll after 30 s).
    #[cfg(feature = "http")]
    {
        config.http.long_poll_timeout = Duration::from_secs(3);
    }
    let client = janus_client::connect(config).await.unwrap();
    let s = client.create_session().await.unwrap();
    let h = s.attach(ECHO).await.unwrap();
    proxy.stall(true);
    let e = h
        .message(json!({"audio": true}))
        .timeout(Duration::from_millis(800))
        .await
        .unwrap_err();
    assert!(e.is_timeout() || e.is_transport_closed(), "{e}");
    if t.transport == "ws" {
        let mut state = client.connection_state();
        tokio::time::timeout(
            Duration::from_secs(5),
            state.wait_for(|s| {
                matches!(
                    s,
                    ConnectionState::Disconnected { .. }
                        | ConnectionState::Reconnecting { .. }
                        | ConnectionState::Reconnected
                )
            }),
        )
        .await
        .expect("the dead peer is noticed")
        .unwrap();
    }
    proxy.stall(false);
    until_usable(&h, Duration::from_secs(10)).await;
    s.destroy().await.unwrap();
    assert_empty(&client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_peer_is_noticed_over_every_transport() {
    join_all(
        targets("JANUS_SHORT")
            .into_iter()
            .map(stalled_peer_is_noticed),
    )
    .await;
}

fn janus_script(cmd: &str, name: &str) {
    let status = std::process::Command::new("scripts/janus")
        .args([cmd, name])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run scripts/janus");
    assert!(status.success(), "scripts/janus {cmd} {name} failed");
}

async fn janus_restart(t: Target, name: &str, recreate: bool) {
    let mut options = ClientOptions::default();
    options.reconnect.recreate_lost_sessions = recreate;
    // Over a broker no connection drops when Janus dies: the client learns of the restart
    // when its next keepalive (queued on the broker meanwhile) is answered 458 by the new
    // Janus. Keepalives every second make that prompt.
    let broker = matches!(t.transport, "amqp" | "mqtt");
    if broker {
        options.keepalive_interval = Duration::from_secs(1);
        // A keepalive published while no Janus listens is lost (MQTT drops what nobody
        // subscribes to): it must time out soon for the next one to tell.
        options.request_timeout = Duration::from_secs(2);
    }
    let client = t.connect_with(options).await;
    let s = client.create_session().await.unwrap();
    let h = s.attach(ECHO).await.unwrap();
    let mut sev = s.events();
    janus_script("kill", name);
    tokio::time::sleep(Duration::from_millis(500)).await;
    janus_script("restart", name); // returns once Janus answers on every port
    let answering = Instant::now();
    let ev = verdict(&mut sev).await;
    let took = answering.elapsed();
    println!(
        "RESTART {} (recreate {recreate}): reported {took:?} after Janus answered: {ev:?}",
        t.transport
    );
    if recreate {
        assert!(matches!(ev, Some(SessionEvent::Recreated { .. })), "{ev:?}");
        until_usable(&h, Duration::from_secs(5)).await;
        s.destroy().await.unwrap();
    } else {
        assert!(
            matches!(ev, Some(SessionEvent::Closed(CloseReason::SessionLost(_)))),
            "{ev:?}"
        );
    }
    // Over a broker: one keepalive interval more at most.
    let bound = Duration::from_secs(if broker { 3 } else { 2 });
    assert!(took <= bound, "{}: reported after {took:?}", t.transport);
    assert_empty(&client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn janus_killed_and_restarted_is_reported_within_two_seconds() {
    let Some(name) = common::env_or_skip("JANUS_RESTART_NAME") else {
        return;
    };
    for t in targets("JANUS_RESTART") {
        janus_restart(t.clone(), &name, false).await;
        janus_restart(t, &name, true).await;
    }
}
