//! One behaviour on every transport: the same scenarios against a real Janus, over each
//! transport, and the event sequences each handle and session receives compared.
//!
//! Scenarios: plugin messages (answered, and a plugin error), hangup, detach, destroy, a
//! session timeout, and a burst of room notifications. A sequence is written as labels
//! (`plugin:echotest/result=ok`, `hangup`, `closed:Detached`, ...) with ids left out, so the
//! transports can be compared. Differences that Janus itself causes are listed in the
//! README ("One behaviour on every transport"); the test knows exactly those and no other.

mod common;

use common::{targets, Target};
use futures::future::join_all;
use janus_client::{ClientOptions, EventStream, HandleEvent, SessionEvent, SessionEvents};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::future::IntoFuture;
use std::time::Duration;

const ECHO: &str = "janus.plugin.echotest";
const VIDEOROOM: &str = "janus.plugin.videoroom";

/// What the streams of one scenario received, by stream name.
type Sequences = BTreeMap<String, Vec<String>>;

fn plugin_label(data: &Value) -> String {
    let plugin = ["echotest", "videoroom"]
        .into_iter()
        .find(|k| data.get(*k).is_some())
        .unwrap_or("?");
    let what = data
        .get(plugin)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let mut keys: Vec<&str> = ["result", "joining", "leaving", "unpublished", "error_code"]
        .into_iter()
        .filter(|k| data.get(*k).is_some())
        .collect();
    keys.sort();
    let detail: Vec<String> = keys
        .iter()
        .map(|k| match data.get(*k) {
            Some(Value::String(s)) => format!("{k}={s}"),
            _ => k.to_string(),
        })
        .collect();
    format!("plugin:{plugin}/{what}/{}", detail.join(","))
}

fn handle_label(ev: &HandleEvent) -> String {
    match ev {
        HandleEvent::Plugin(p) => plugin_label(&p.data),
        HandleEvent::Hangup { reason, .. } => format!("hangup:{reason}"),
        HandleEvent::Closed(r) => format!("closed:{r:?}"),
        other => format!("{other:?}")
            .split(['(', ' ', '{'])
            .next()
            .unwrap_or_default()
            .to_lowercase(),
    }
}

fn session_label(ev: &SessionEvent) -> String {
    match ev {
        SessionEvent::Closed(r) => format!("closed:{r:?}"),
        other => format!("{other:?}")
            .split(['(', ' ', '{'])
            .next()
            .unwrap_or_default()
            .to_lowercase(),
    }
}

/// Everything a handle stream yields until it ends (bounded).
async fn drain_handle(mut events: EventStream<HandleEvent>, limit: Duration) -> Vec<String> {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(limit, async {
        while let Some(ev) = events.recv().await {
            out.push(handle_label(&ev));
        }
    })
    .await;
    if out.last().is_none_or(|l| !l.starts_with("closed:")) {
        out.push("(stream did not end)".into());
    }
    out
}

async fn drain_session(mut events: SessionEvents, limit: Duration) -> Vec<String> {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(limit, async {
        while let Some(ev) = events.recv().await {
            out.push(session_label(&ev));
        }
    })
    .await;
    if out.last().is_none_or(|l| !l.starts_with("closed:")) {
        out.push("(stream did not end)".into());
    }
    out
}

/// Messages (one answered, one a plugin error), a hangup, a detach.
async fn messages_hangup_detach(t: &Target) -> Sequences {
    let client = t.connect().await;
    let session = client.create_session().await.expect("create");
    let handle = session.attach(ECHO).await.expect("attach");
    let events = handle.events();
    let ok = handle
        .message(json!({"audio": true}))
        .await
        .expect("message");
    assert_eq!(ok.data["result"], "ok");
    let err = handle
        .message(json!({"nothing_known": 1}))
        .await
        .expect_err("a body with no known key is a plugin error");
    assert!(err.plugin_code().is_some(), "{err}");
    handle.hangup().await.expect("hangup");
    handle.detach().await.expect("detach");
    let mut seq = Sequences::new();
    seq.insert(
        "handle".into(),
        drain_handle(events, Duration::from_secs(5)).await,
    );
    session.destroy().await.expect("destroy");
    seq
}

/// A session with two handles destroyed at once.
async fn destroy_with_handles(t: &Target) -> Sequences {
    let client = t.connect().await;
    let session = client.create_session().await.expect("create");
    let sevents = session.events();
    let a = session.attach(ECHO).await.expect("attach");
    let b = session.attach(ECHO).await.expect("attach");
    let (ea, eb) = (a.events(), b.events());
    a.message(json!({"audio": true})).await.expect("message");
    b.message(json!({"video": true})).await.expect("message");
    session.destroy().await.expect("destroy");
    let mut seq = Sequences::new();
    seq.insert(
        "handle a".into(),
        drain_handle(ea, Duration::from_secs(5)).await,
    );
    seq.insert(
        "handle b".into(),
        drain_handle(eb, Duration::from_secs(5)).await,
    );
    seq.insert(
        "session".into(),
        drain_session(sevents, Duration::from_secs(5)).await,
    );
    seq
}

/// A session left without keepalives times out on the server (JANUS_SHORT: 10 s).
async fn session_timeout(t: &Target) -> Sequences {
    let client = t
        .connect_with(ClientOptions {
            keepalive_interval: Duration::from_secs(3600),
            probe_server: false,
            ..ClientOptions::default()
        })
        .await;
    let session = client.create_session().await.expect("create");
    let sevents = session.events();
    let handle = session.attach(ECHO).await.expect("attach");
    let hevents = handle.events();
    let mut seq = Sequences::new();
    let started = std::time::Instant::now();
    // Janus acts one watchdog tick late: about 13 s. Over HTTP each long poll counts as
    // activity, so a poll sent again (after a failed one, say) starts the 10 s afresh.
    seq.insert(
        "session".into(),
        drain_session(sevents, Duration::from_secs(45)).await,
    );
    println!(
        "{}: the session stream ended after {:?}",
        t.transport,
        started.elapsed()
    );
    let handle_seq = drain_handle(hevents, Duration::from_secs(5)).await;
    seq.insert("handle".into(), settle_timeout_race(handle_seq));
    if t.transport == "http" {
        settle_http_timeout(&mut seq);
    }
    seq
}

/// Over HTTP Janus hands `timeout` to the session's long poll only when one is outstanding.
/// When the handle's last event (echotest's `result: done`) has just taken the poll, the
/// session is gone before the next one, which is answered 404: the session ends
/// `SessionLost` (README, "One behaviour on every transport"). Under load this happens; that
/// ending, and only that one, is written as the timeout it was.
fn settle_http_timeout(seq: &mut Sequences) {
    let lost = |label: &String| label.starts_with("closed:SessionLost(") && label.contains("404");
    let session_lost = seq
        .get("session")
        .is_some_and(|s| s.len() == 1 && s.iter().all(lost));
    let handle_lost = seq.get("handle").is_some_and(|h| {
        h.last().is_some_and(lost)
            && h[..h.len() - 1]
                .iter()
                .all(|l| l == "plugin:echotest/event/result=done")
    });
    if session_lost && handle_lost {
        seq.insert(
            "session".into(),
            vec!["timeout".to_string(), "closed:SessionTimeout".to_string()],
        );
        seq.insert("handle".into(), vec!["closed:SessionTimeout".to_string()]);
    }
}

/// Janus' watchdog tears a timed-out session's handles down and sends `timeout` from
/// different threads, so the handle's own last events (echotest's `result: done`, then
/// `detached`) may reach the client before `timeout`, after it, or one on each side. All
/// of them before: the handle ends `DetachedByServer`, as the wire said. `result: done`
/// before and `detached` after, or both after: the session's end closes the handle first,
/// with `SessionTimeout`, and what comes later is dropped with the handle. Each order was
/// seen in CI, on different transports; none depends on the transport, so every one of
/// them is written as the late one. Anything else stays as it was and fails the comparison.
fn settle_timeout_race(seq: Vec<String>) -> Vec<String> {
    let early = ["plugin:echotest/event/result=done", "detached"];
    let Some((end, before)) = seq.split_last() else {
        return seq;
    };
    // What came before the end is some of `early`, in its order (Janus may also send the
    // handle's `detached` without the plugin's `done`: seen once in CI, over MQTT).
    let mut rest = early.iter();
    let in_order = before.iter().all(|l| rest.any(|e| e == l));
    let settled = in_order
        && match end.as_str() {
            "closed:SessionTimeout" => !before.iter().any(|l| l == "detached"),
            "closed:DetachedByServer" => before.iter().any(|l| l == "detached"),
            _ => false,
        };
    if settled {
        vec!["closed:SessionTimeout".to_string()]
    } else {
        seq
    }
}

#[test]
fn the_timeout_race_settles_every_order_janus_produces_and_nothing_else() {
    let labels = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let late = labels(&["closed:SessionTimeout"]);
    for order in [
        &["closed:SessionTimeout"][..],
        &["plugin:echotest/event/result=done", "closed:SessionTimeout"],
        &[
            "plugin:echotest/event/result=done",
            "detached",
            "closed:DetachedByServer",
        ],
        &["detached", "closed:DetachedByServer"],
    ] {
        assert_eq!(settle_timeout_race(labels(order)), late, "{order:?}");
    }
    for other in [
        &["closed:Detached"][..],
        &[
            "detached",
            "plugin:echotest/event/result=done",
            "closed:SessionTimeout",
        ],
        &[
            "plugin:echotest/event/result=done",
            "closed:DetachedByServer",
        ],
        &["plugin:echotest/event/result=done", "(stream did not end)"],
        &[],
    ] {
        assert_eq!(
            settle_timeout_race(labels(other)),
            labels(other),
            "{other:?}"
        );
    }
}

/// A room with `notify_joining`: ten participants join and leave while a first one
/// watches; the watcher's stream gets one notification per join and per leave.
async fn room_notifications(t: &Target) -> Sequences {
    let client = t.connect().await;
    let session = client.create_session().await.expect("create");
    let watcher = session.attach(VIDEOROOM).await.expect("attach");
    let room: u64 = 7_000_000
        + u64::from(std::process::id() % 1000) * 10
        // One room per transport (the broker and socket transports included).
        + ["ws", "http", "amqp", "unix", "mqtt"]
            .iter()
            .position(|name| *name == t.transport)
            .map_or(9, |i| i as u64 + 1);
    watcher
        .message(
            json!({"request": "create", "room": room, "notify_joining": true, "publishers": 20}),
        )
        .await
        .expect("create room");
    let events = watcher.events();
    watcher
        .message(
            json!({"request": "join", "room": room, "ptype": "publisher", "display": "watcher"}),
        )
        .await
        .expect("join");
    let others: Vec<_> = join_all((0..10).map(|_| session.attach(VIDEOROOM).into_future()))
        .await
        .into_iter()
        .map(|h| h.expect("attach"))
        .collect();
    for (i, h) in others.iter().enumerate() {
        h.message(json!({"request": "join", "room": room, "ptype": "publisher", "display": format!("p{i}")}))
            .await
            .expect("join");
    }
    for h in &others {
        h.message(json!({"request": "leave"})).await.expect("leave");
    }
    for h in &others {
        h.detach().await.expect("detach");
    }
    watcher
        .message(json!({"request": "destroy", "room": room}))
        .await
        .expect("destroy room");
    watcher.detach().await.expect("detach");
    let mut seq = Sequences::new();
    seq.insert(
        "watcher".into(),
        drain_handle(events, Duration::from_secs(5)).await,
    );
    session.destroy().await.expect("destroy");
    seq
}

async fn run_all(t: Target) -> (String, BTreeMap<&'static str, Sequences>) {
    let mut all = BTreeMap::new();
    all.insert(
        "1 messages, hangup, detach",
        messages_hangup_detach(&t).await,
    );
    all.insert("2 destroy with handles", destroy_with_handles(&t).await);
    all.insert("3 room notifications", room_notifications(&t).await);
    (t.transport.to_string(), all)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_transport_delivers_the_same_event_sequences() {
    let main = join_all(targets("JANUS").into_iter().map(run_all));
    let short = join_all(targets("JANUS_SHORT").into_iter().map(|t| async move {
        let seq = session_timeout(&t).await;
        (t.transport.to_string(), seq)
    }));
    let (main, short) = futures::join!(main, short);
    let mut by_transport: BTreeMap<String, BTreeMap<&'static str, Sequences>> =
        main.into_iter().collect();
    for (transport, seq) in short {
        by_transport
            .entry(transport)
            .or_default()
            .insert("4 session timeout", seq);
    }
    for (transport, scenarios) in &by_transport {
        for (scenario, seq) in scenarios {
            println!("{transport} | {scenario} | {seq:?}");
        }
    }
    let mut transports = by_transport.iter();
    let Some((first, reference)) = transports.next() else {
        return;
    };
    for (other, scenarios) in transports {
        for (scenario, seq) in scenarios {
            assert_eq!(
                Some(seq),
                reference.get(scenario),
                "scenario {scenario:?}: {other} differs from {first}"
            );
        }
    }
}
