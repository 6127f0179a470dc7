//! The core suite against a real Janus, run once per compiled-in transport from one body.
//!
//! Needs `scripts/test` (or `scripts/janus start ...` by hand) to export `JANUS_WS_URL`,
//! `JANUS_HTTP_URL`, and the `JANUS_SHORT_*` instance (session timeout 10 s).

mod common;

use common::{assert_empty, eventually, targets, Target};
use futures::future::join_all;
use janus_client::{codes, ClientOptions, ErrorKind, Expect, HandleEvent, RawRequest};
use serde_json::json;
use std::future::IntoFuture;
use std::time::Duration;

const ECHOTEST: &str = "janus.plugin.echotest";
const VIDEOROOM: &str = "janus.plugin.videoroom";

async fn info_and_ping(t: Target) {
    let client = t.connect().await;
    let info = client.info().await.expect("info");
    assert_eq!(info.version, "1.1.2", "{}", t.transport);
    assert!(info.plugins.iter().any(|p| p == ECHOTEST));
    client.ping().await.expect("ping");
    assert_empty(&client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn info_and_ping_over_every_transport() {
    for t in targets("JANUS") {
        info_and_ping(t).await;
    }
}

async fn echotest_lifecycle(t: Target) {
    let client = t.connect().await;
    let session = client.create_session().await.expect("create");
    let handle = session
        .attach(ECHOTEST)
        .opaque_id("lifecycle")
        .await
        .expect("attach");
    assert_ne!(handle.id().0, 0);
    let mut events = handle.events();
    // echotest answers every request with ack, then an event with the same transaction.
    let reply = handle
        .message(json!({"audio": true, "video": true}))
        .await
        .expect("message");
    assert_eq!(reply.plugin, ECHOTEST);
    assert_eq!(reply.data["echotest"], "event");
    assert_eq!(reply.data["result"], "ok");
    assert!(reply.jsep.is_none());
    let stats = client.stats();
    assert_eq!((stats.sessions, stats.handles), (1, 1), "{}", t.transport);
    handle.detach().await.expect("detach");
    // The stream ends with Closed(Detached) after whatever Janus sent.
    let mut last = None;
    while let Some(ev) = tokio::time::timeout(Duration::from_secs(5), events.recv())
        .await
        .expect("stream must end")
    {
        last = Some(ev);
    }
    assert_eq!(
        last,
        Some(HandleEvent::Closed(janus_client::CloseReason::Detached))
    );
    // A detached handle fails locally with a clear error.
    let e = handle.message(json!({"audio": true})).await.unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::HandleGone { .. }), "{e}");
    session.destroy().await.expect("destroy");
    assert_empty(&client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echotest_lifecycle_over_every_transport() {
    for t in targets("JANUS") {
        echotest_lifecycle(t).await;
    }
}

async fn synchronous_request_and_plugin_errors(t: Target) {
    let client = t.connect().await;
    let session = client.create_session().await.unwrap();
    let room = session.attach(VIDEOROOM).await.unwrap();
    // videoroom `list` is answered synchronously with `success`.
    let list = room
        .message(json!({"request": "list"}))
        .await
        .expect("list");
    assert_eq!(list.data["videoroom"], "success");
    assert!(list.data["list"].is_array());
    // An unknown videoroom request: synchronous plugin error 423.
    let e = room
        .message(json!({"request": "no-such"}))
        .await
        .unwrap_err();
    assert_eq!(e.plugin_code(), Some(423), "{e}");
    // echotest with a body it does not understand: asynchronous plugin error 413.
    let echo = session.attach(ECHOTEST).await.unwrap();
    let e = echo.message(json!({})).await.unwrap_err();
    assert_eq!(e.plugin_code(), Some(413), "{e}");
    session.destroy().await.unwrap();
    assert_empty(&client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn synchronous_request_and_plugin_errors_over_every_transport() {
    for t in targets("JANUS") {
        synchronous_request_and_plugin_errors(t).await;
    }
}

async fn core_errors(t: Target) {
    let client = t.connect().await;
    let session = client.create_session().await.unwrap();
    let e = session.attach("janus.plugin.nosuch").await.unwrap_err();
    assert_eq!(e.janus_code(), Some(codes::PLUGIN_NOT_FOUND), "{e}");
    let old = session.id();
    session.destroy().await.unwrap();
    // Locally: a clear error without a round trip.
    let e = session.attach(ECHOTEST).await.unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::SessionGone { .. }), "{e}");
    // On the wire: Janus says 458.
    let e = client
        .raw_request(
            RawRequest::new("attach", Expect::Success)
                .session(old)
                .field("plugin", ECHOTEST),
        )
        .await
        .unwrap_err();
    assert_eq!(e.janus_code(), Some(codes::SESSION_NOT_FOUND), "{e}");
    assert!(e.is_gone());
    // An unknown request at the root: Janus 1.1.2 answers 457 ("Unhandled request at this path").
    let e = client
        .raw_request(RawRequest::new("frobnicate", Expect::Success))
        .await
        .unwrap_err();
    assert_eq!(e.janus_code(), Some(codes::INVALID_REQUEST_PATH), "{e}");
    assert_empty(&client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn core_errors_over_every_transport() {
    for t in targets("JANUS") {
        core_errors(t).await;
    }
}

async fn keepalive_holds_a_short_session(t: Target) {
    // The server's session timeout is 10 s; the client learns it from `info` and keeps
    // the idle session alive well past it.
    let client = t.connect().await;
    let session = client.create_session().await.unwrap();
    // With a handle, so over HTTP a long poll is outstanding the whole time: it does not
    // count as activity, only the client's own keepalives can hold the session.
    let handle = session.attach(ECHOTEST).await.unwrap();
    let mut sev = session.events();
    // 40 s idle: four times the server's timeout.
    tokio::time::sleep(Duration::from_secs(40)).await;
    assert!(
        sev.try_next_now().is_none(),
        "{}: session got an event while idle",
        t.transport
    );
    let r = handle
        .message(json!({"audio": true}))
        .await
        .expect("session and handle still alive after 40 s idle");
    assert_eq!(r.data["result"], "ok");
    let h = session
        .attach(ECHOTEST)
        .await
        .expect("attach after 40 s idle");
    h.detach().await.unwrap();
    handle.detach().await.unwrap();
    session.destroy().await.unwrap();
    assert_empty(&client).await;
}

/// Polls an event stream once without waiting.
trait TryNextNow {
    fn try_next_now(&mut self) -> Option<janus_client::SessionEvent>;
}

impl TryNextNow for janus_client::SessionEvents {
    fn try_next_now(&mut self) -> Option<janus_client::SessionEvent> {
        use futures::FutureExt;
        self.recv().now_or_never().flatten()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keepalive_holds_a_session_past_a_short_timeout_over_every_transport() {
    let runs = targets("JANUS_SHORT")
        .into_iter()
        .map(keepalive_holds_a_short_session);
    join_all(runs).await;
}

async fn without_keepalive_the_session_times_out(t: Target) {
    // The failure path of the test above: with keepalives slower than the server's timeout
    // and the probe off, Janus times the session out and the client reports it.
    let client = t
        .connect_with(ClientOptions {
            keepalive_interval: Duration::from_secs(120),
            probe_server: false,
            ..Default::default()
        })
        .await;
    let session = client.create_session().await.unwrap();
    let handle = session.attach(ECHOTEST).await.unwrap();
    let mut sev = session.events();
    let mut hev = handle.events();
    let ev = tokio::time::timeout(Duration::from_secs(30), sev.recv())
        .await
        .expect("a session event within 30 s");
    // Over WebSocket Janus sends `timeout`. Over HTTP it queues `timeout` too, but the poll
    // can be answered 404 first (the session is already gone when the poll arrives): then
    // the client reports the session lost. Either way it is reported, and nothing hangs.
    let expected = match (&ev, t.transport) {
        (Some(janus_client::SessionEvent::Timeout), _) => janus_client::CloseReason::SessionTimeout,
        (
            Some(janus_client::SessionEvent::Closed(
                r @ janus_client::CloseReason::SessionLost(why),
            )),
            "http",
        ) if why.contains("404") => r.clone(),
        other => panic!(
            "{}: expected the session timed out, got {other:?}",
            t.transport
        ),
    };
    let mut last = None;
    while let Some(ev) = tokio::time::timeout(Duration::from_secs(5), hev.recv())
        .await
        .expect("handle stream ends")
    {
        last = Some(ev);
    }
    // Janus detaches the handles of a timed-out session and sends `timeout` from different
    // threads (README, "One behaviour on every transport"): the handle may end with its
    // own `detached` first.
    let detached_first = Some(HandleEvent::Closed(
        janus_client::CloseReason::DetachedByServer,
    ));
    assert!(
        last == Some(HandleEvent::Closed(expected.clone())) || last == detached_first,
        "{}: {last:?}, expected {expected:?}",
        t.transport
    );
    let e = handle.message(json!({"audio": true})).await.unwrap_err();
    assert!(e.is_gone(), "{e}");
    assert_empty(&client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_timeout_is_reported_over_every_transport() {
    let runs = targets("JANUS_SHORT")
        .into_iter()
        .map(without_keepalive_the_session_times_out);
    join_all(runs).await;
}

async fn two_sessions_get_their_own_events(t: Target) {
    let client = t.connect().await;
    let admin_session = client.create_session().await.unwrap();
    let admin = admin_session.attach(VIDEOROOM).await.unwrap();
    let created = admin
        .message(json!({"request": "create", "notify_joining": true, "publishers": 4}))
        .await
        .expect("create room");
    let room = created.data["room"].as_u64().expect("room id");

    let sa = client.create_session().await.unwrap();
    let sb = client.create_session().await.unwrap();
    let ha = sa.attach(VIDEOROOM).await.unwrap();
    let hb = sb.attach(VIDEOROOM).await.unwrap();
    let mut ea = ha.events();
    let mut eb = hb.events();
    let joined = ha
        .message(json!({"request": "join", "ptype": "publisher", "room": room, "display": "a"}))
        .await
        .expect("a joins");
    assert_eq!(joined.data["videoroom"], "joined");
    hb.message(json!({"request": "join", "ptype": "publisher", "room": room, "display": "b"}))
        .await
        .expect("b joins");
    // A hears that B joined (an unsolicited event on A's handle only).
    let ev = tokio::time::timeout(Duration::from_secs(5), ea.recv())
        .await
        .expect("a gets an event")
        .unwrap();
    match ev {
        HandleEvent::Plugin(p) => assert_eq!(p.data["joining"]["display"], "b", "{p:?}"),
        other => panic!("{}: unexpected {other:?}", t.transport),
    }
    // B leaves: A hears it, B itself got nothing unsolicited about A.
    hb.message(json!({"request": "leave"}))
        .await
        .expect("b leaves");
    let ev = tokio::time::timeout(Duration::from_secs(5), ea.recv())
        .await
        .expect("a hears b leave")
        .unwrap();
    match ev {
        HandleEvent::Plugin(p) => assert!(p.data.get("leaving").is_some(), "{p:?}"),
        other => panic!("unexpected {other:?}"),
    }
    {
        use futures::FutureExt;
        let early = eb.recv().now_or_never().flatten();
        assert!(
            !matches!(&early, Some(HandleEvent::Plugin(p)) if p.data.get("joining").is_some()),
            "b got a's events: {early:?}"
        );
    }
    admin
        .message(json!({"request": "destroy", "room": room}))
        .await
        .expect("destroy room");
    for s in [sa, sb, admin_session] {
        s.destroy().await.unwrap();
    }
    assert_empty(&client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sessions_get_their_own_events_over_every_transport() {
    for t in targets("JANUS") {
        two_sessions_get_their_own_events(t).await;
    }
}

async fn handles_of_one_session_get_their_own_events(t: Target) {
    // Eight handles of ONE session in a room that announces joins: when somebody else joins,
    // a burst of eight events reaches that session at once (one long poll reply with maxev
    // batching over HTTP) and each handle gets exactly its own.
    let client = t.connect().await;
    let s = client.create_session().await.unwrap();
    let admin = s.attach(VIDEOROOM).await.unwrap();
    let room = admin
        .message(json!({"request": "create", "notify_joining": true, "publishers": 16}))
        .await
        .unwrap()
        .data["room"]
        .as_u64()
        .unwrap();
    let mut members = Vec::new();
    for i in 0..8 {
        let h = s.attach(VIDEOROOM).await.unwrap();
        h.message(json!({"request": "join", "ptype": "publisher", "room": room, "display": format!("m{i}")}))
            .await
            .unwrap();
        members.push(h);
    }
    // Drain the announcements of the members' own joins.
    let mut streams: Vec<_> = members.iter().map(|h| h.events()).collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    for st in streams.iter_mut() {
        use futures::FutureExt;
        while st.recv().now_or_never().flatten().is_some() {}
    }
    let other_session = client.create_session().await.unwrap();
    let newcomer = other_session.attach(VIDEOROOM).await.unwrap();
    let joined = newcomer
        .message(
            json!({"request": "join", "ptype": "publisher", "room": room, "display": "newcomer"}),
        )
        .await
        .unwrap();
    let newcomer_id = joined.data["id"].clone();
    for (i, st) in streams.iter_mut().enumerate() {
        let ev = tokio::time::timeout(Duration::from_secs(5), st.recv())
            .await
            .unwrap_or_else(|_| panic!("{}: member {i} got no event", t.transport))
            .unwrap();
        match ev {
            HandleEvent::Plugin(p) => {
                assert_eq!(p.data["joining"]["id"], newcomer_id, "{p:?}");
                assert_eq!(p.data["joining"]["display"], "newcomer");
            }
            other => panic!("member {i}: {other:?}"),
        }
        use futures::FutureExt;
        assert!(
            st.recv().now_or_never().is_none(),
            "member {i} got a second event"
        );
    }
    admin
        .message(json!({"request": "destroy", "room": room}))
        .await
        .unwrap();
    s.destroy().await.unwrap();
    other_session.destroy().await.unwrap();
    assert_empty(&client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handles_of_one_session_get_their_own_events_over_every_transport() {
    for t in targets("JANUS") {
        handles_of_one_session_get_their_own_events(t).await;
    }
}

/// The HTTP status of a plain `GET` (a long poll), written by hand to see exactly what Janus says.
async fn http_get_status(url: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let u = url::Url::parse(url).unwrap();
    let addr = format!("{}:{}", u.host_str().unwrap(), u.port().unwrap());
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "GET {}?{} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        u.path(),
        u.query().unwrap_or("")
    );
    sock.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(35), sock.read_to_end(&mut buf)).await;
    let head = String::from_utf8_lossy(&buf);
    head.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_poll_of_a_destroyed_session_is_404() {
    for t in targets("JANUS")
        .into_iter()
        .filter(|t| t.transport == "http")
    {
        let client = t.connect().await;
        let s = client.create_session().await.unwrap();
        let poll = format!("{}/{}", t.url, s.id());
        s.destroy().await.unwrap();
        assert_eq!(http_get_status(&poll).await, 404, "GET {poll}");
        // The client stopped polling it: nothing pending, nothing counted as lost.
        assert_empty(&client).await;
    }
}

async fn concurrent_lifecycles(t: Target, n: usize) {
    let client = t.connect().await;
    let runs = (0..n).map(|i| {
        let client = client.clone();
        tokio::spawn(async move {
            let session = client.create_session().await?;
            let handle = session.attach(ECHOTEST).await?;
            let r = handle
                .message(json!({"audio": true, "bitrate": 1000 + i}))
                .await?;
            assert_eq!(r.data["result"], "ok");
            handle.detach().await?;
            session.destroy().await?;
            Ok::<_, janus_client::Error>(())
        })
    });
    let results = join_all(runs).await;
    let errors: Vec<String> = results
        .into_iter()
        .filter_map(|r| match r {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(e) => Some(format!("task: {e}")),
        })
        .collect();
    assert!(
        errors.is_empty(),
        "{}: {} errors: {errors:?}",
        t.transport,
        errors.len()
    );
    assert_empty(&client).await;
    let stats = client.stats();
    assert_eq!(stats.malformed_messages, 0);
    // Over MQTT every client of this Janus reads one reply topic: the other tests' replies
    // reach this client too and are counted (dropped, never matched); see tests/mqtt_real.rs.
    if t.transport != "mqtt" {
        assert_eq!(stats.unknown_transactions, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_concurrent_lifecycles_over_every_transport() {
    for t in targets("JANUS") {
        concurrent_lifecycles(t, 64).await;
    }
}

async fn dropping_values_cleans_up_the_server(t: Target) {
    let client = t.connect().await;
    let id = {
        let session = client.create_session().await.unwrap();
        let _h = session.attach(ECHOTEST).await.unwrap();
        session.id()
        // Both dropped here: the handle is detached and the session destroyed.
    };
    assert_empty(&client).await;
    // The server agrees: the session is gone there too.
    let gone = common::eventually(Duration::from_secs(3), || {
        let client = client.clone();
        async move {
            let r = client
                .raw_request(RawRequest::new("keepalive", Expect::Ack).session(id))
                .await;
            matches!(r, Err(e) if e.janus_code() == Some(codes::SESSION_NOT_FOUND))
        }
    })
    .await;
    assert!(
        gone,
        "{}: session {id} still alive on the server",
        t.transport
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_sessions_are_released_over_every_transport() {
    for t in targets("JANUS") {
        dropping_values_cleans_up_the_server(t).await;
    }
}

/// Events whose request does not wait for them, over the real Janus:
/// - an `event` of a request answered already (here a raw `message` that asked for the
///   `ack` only; plugins such as SIP also send several events with one transaction) is a
///   plain event of its handle, not counted as unknown;
/// - the answer to a `message` whose caller gave up before it came arrives on the handle's
///   stream marked as `LateReply`, and is counted in `unknown_transactions`.
async fn an_event_nobody_waits_for_is_delivered_and_counted(t: Target) {
    let client = t.connect().await;
    let session = client.create_session().await.expect("create");
    let handle = session.attach(ECHOTEST).await.expect("attach");
    let mut events = handle.events();
    let before = client.stats().unknown_transactions;
    let ack = client
        .raw_request(
            RawRequest::new("message", Expect::Ack)
                .session(session.id())
                .handle(handle.id())
                .field("body", json!({"audio": true})),
        )
        .await
        .expect("ack");
    assert_eq!(ack.janus, "ack");
    match tokio::time::timeout(Duration::from_secs(5), events.recv()).await {
        Ok(Some(HandleEvent::Plugin(p))) => {
            assert_eq!(p.data["result"], "ok", "{}", t.transport);
            assert_eq!(p.sender, Some(handle.id()), "{}", t.transport);
        }
        other => panic!("{}: expected the plugin event, got {other:?}", t.transport),
    }
    // Over a broker (RabbitMQ, MQTT) every client receives the replies of the others (other
    // tests run on the same Janus at once): they are counted here too, so only "at least"
    // can be checked.
    let shared = matches!(t.transport, "amqp" | "mqtt");
    if !shared {
        assert_eq!(
            client.stats().unknown_transactions,
            before,
            "{}",
            t.transport
        );
    }

    // Sent, then given up at once: polled once (which hands it to the connection task)
    // and dropped before its answer comes. On a loaded machine the answer can come within
    // that one poll (the test's thread was preempted after the send): then try again.
    let mut given_up = false;
    for _ in 0..20 {
        let mut call = Box::pin(handle.message(json!({"audio": true})).into_future());
        if futures::poll!(call.as_mut()).is_pending() {
            drop(call);
            given_up = true;
            break;
        }
    }
    assert!(
        given_up,
        "{}: every message was answered within its first poll",
        t.transport
    );
    match tokio::time::timeout(Duration::from_secs(5), events.recv()).await {
        Ok(Some(HandleEvent::LateReply { response, .. })) => {
            assert_eq!(response.data["result"], "ok", "{}", t.transport);
            assert_eq!(response.sender, Some(handle.id()), "{}", t.transport);
        }
        other => panic!("{}: expected the late reply, got {other:?}", t.transport),
    }
    // Published by the connection task after the batch that delivered it.
    let counted = eventually(Duration::from_secs(5), || async {
        let n = client.stats().unknown_transactions;
        n == before + 1 || (shared && n > before)
    })
    .await;
    assert!(counted, "{}: {:?}", t.transport, client.stats());
    handle.detach().await.expect("detach");
    session.destroy().await.expect("destroy");
    assert_empty(&client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_nobody_waits_for_is_delivered_and_counted_over_every_transport() {
    for t in targets("JANUS") {
        an_event_nobody_waits_for_is_delivered_and_counted(t).await;
    }
}
