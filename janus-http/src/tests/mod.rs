//! Tests against a tiny in-process HTTP server (and, when `JANUS_HTTP_URL` is set, a real Janus).

mod fake_janus;
mod live;
mod server;

use janus_core::{
    AnswerOutcome, Client, ClientOptions, ConnectionState, Credentials, ErrorKind, Expect,
    HandleId, OutgoingMessage, ReconnectPolicy, Sent, SessionId, Transport, TransportEvent, Verb,
};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{timeout, Instant};

use crate::{HttpConnector, HttpOptions, HttpTransport};
use server::{Reply, Req, TestServer};

/// Options with short delays, so failure tests run fast.
fn fast() -> HttpOptions {
    HttpOptions {
        poll_retry_delay: Duration::from_millis(20),
        poll_retry_max_delay: Duration::from_millis(100),
        unreachable_timeout: Duration::from_millis(300),
        connect_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(5),
        long_poll_timeout: Duration::from_secs(10),
        ..HttpOptions::default()
    }
}

async fn open(server: &TestServer, options: HttpOptions) -> HttpTransport {
    HttpConnector::new(server.base.clone(), options)
        .unwrap()
        .open()
        .await
        .unwrap()
}

fn info() -> Reply {
    Reply::Json(200, r#"{"janus":"server_info","transaction":"x"}"#.into())
}

fn out(
    janus: &'static str,
    txn: &str,
    session: Option<u64>,
    handle: Option<u64>,
) -> OutgoingMessage {
    OutgoingMessage {
        verb: Verb::known(janus).unwrap_or(Verb::Other {
            name: janus,
            expect: Expect::Success,
        }),
        transaction: txn.to_string(),
        session_id: session.map(SessionId),
        handle_id: handle.map(HandleId),
        json: format!(r#"{{"janus":"{janus}","transaction":"{txn}"}}"#),
        deadline: None,
        in_flight: 0,
    }
}

async fn next(t: &mut HttpTransport) -> TransportEvent {
    timeout(Duration::from_secs(5), t.recv())
        .await
        .expect("no event within 5 s")
        .expect("the transport closed")
}

async fn wait_until(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Polls `recv` (which runs the transport's requests and long polls) until `f` holds; what
/// it brought meanwhile.
async fn pump_until(
    t: &mut HttpTransport,
    what: &str,
    f: impl Fn() -> bool,
) -> Vec<TransportEvent> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut got = Vec::new();
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        if let Ok(ev) = timeout(Duration::from_millis(10), t.recv()).await {
            got.push(ev.expect("the transport closed"));
        }
    }
    got
}

/// Polls `recv` for `d`; what it brought.
async fn pump_for(t: &mut HttpTransport, d: Duration) -> Vec<TransportEvent> {
    let end = Instant::now() + d;
    let mut got = Vec::new();
    while let Ok(ev) = tokio::time::timeout_at(end, t.recv()).await {
        got.push(ev.expect("the transport closed"));
    }
    got
}

/// The text of a poll's frame or of a POST's reply.
fn frame(ev: TransportEvent) -> String {
    match ev {
        TransportEvent::Frame(text) | TransportEvent::Reply { text, .. } => text,
        other => panic!("expected a frame or a reply, got {other:?}"),
    }
}

#[tokio::test]
async fn posts_go_to_their_paths_and_reuse_one_connection() {
    let server = TestServer::start(|req: Req| async move {
        match (req.method.as_str(), req.path()) {
            ("GET", "/janus/info") => info(),
            ("POST", _) => Reply::Json(200, format!(r#"{{"path":"{}"}}"#, req.path())),
            _ => Reply::Json(404, String::new()),
        }
    })
    .await;
    let mut t = open(&server, fast()).await;
    let cases = [
        (None, None, "/janus"),
        (Some(11), None, "/janus/11"),
        (Some(11), Some(22), "/janus/11/22"),
    ];
    for (i, (s, h, path)) in cases.iter().enumerate() {
        t.send(out("attach", &i.to_string(), *s, *h)).await.unwrap();
        assert_eq!(frame(next(&mut t).await), format!(r#"{{"path":"{path}"}}"#));
    }
    let posts: Vec<Req> = server
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert_eq!(posts.len(), 3);
    for (req, (_, _, path)) in posts.iter().zip(cases.iter()) {
        assert_eq!(req.path(), *path);
        assert_eq!(req.content_type.as_deref(), Some("application/json"));
        assert!(req.body.starts_with(r#"{"janus":"attach""#));
    }
    // Many requests in a row reuse kept-alive connections. (Not exactly one: the client's
    // pool takes a connection back in its own time, so a request may now and then find
    // none idle and open another. A connection per request would be 24.)
    for i in 0..20 {
        t.send(out("keepalive", &format!("k{i}"), Some(11), None))
            .await
            .unwrap();
        frame(next(&mut t).await);
    }
    assert!(
        server.connections() <= 8,
        "{} TCP connections for 24 requests in a row",
        server.connections()
    );
}

#[tokio::test]
async fn send_does_not_wait_for_the_reply() {
    let server = TestServer::start(|req: Req| async move {
        match (req.method.as_str(), req.path()) {
            ("GET", "/janus/info") => info(),
            _ => Reply::Hang,
        }
    })
    .await;
    let mut t = open(&server, fast()).await;
    let started = Instant::now();
    for i in 0..5 {
        t.send(out("message", &i.to_string(), Some(1), Some(2)))
            .await
            .unwrap();
    }
    // Sending waits for nothing: a send that waited for its reply would hang here for good.
    assert!(started.elapsed() < Duration::from_secs(2));
    let got = pump_until(&mut t, "5 requests in flight", || server.hanging() == 5).await;
    assert!(got.is_empty(), "{got:?}");
    drop(t);
    wait_until("the requests are abandoned", || server.hanging() == 0).await;
}

/// The answer a caller awaits on the direct path.
async fn answer_of(sent: Result<Sent, OutgoingMessage>) -> (String, String) {
    let Ok(Sent::Answer(answer)) = sent else {
        panic!("expected an answer for the caller, got {sent:?}");
    };
    let answer = timeout(Duration::from_secs(5), answer)
        .await
        .expect("no answer within 5 s");
    assert!(answer.malformed.is_none());
    match answer.outcome {
        AnswerOutcome::Reply { transaction, text } => (transaction, text),
        AnswerOutcome::Failed { error, .. } => panic!("the POST failed: {error}"),
    }
}

#[tokio::test]
async fn a_caller_reads_its_own_post_and_one_it_drops_is_answered_through_recv() {
    let server = TestServer::start(|req: Req| async move {
        match (req.method.as_str(), req.path()) {
            ("GET", "/janus/info") => info(),
            ("POST", _) => Reply::Json(200, format!(r#"{{"path":"{}"}}"#, req.path())),
            // The long poll of session 11 holds its place.
            _ => Reply::Hang,
        }
    })
    .await;
    let options = HttpOptions {
        max_long_polls: 1,
        ..fast()
    };
    let mut t = open(&server, options).await;
    let direct = t.direct().expect("HTTP offers a direct path");
    // Sent and read in this task: the transport never sees it.
    let (transaction, text) =
        answer_of(direct.try_send(out("message", "d1", Some(11), Some(22)))).await;
    assert_eq!(transaction, "d1");
    assert_eq!(text, r#"{"path":"/janus/11/22"}"#);
    // A caller that stops waiting (here before the first poll) leaves it to `recv`.
    let Ok(Sent::Answer(dropped)) = direct.try_send(out("message", "d0", Some(11), Some(22)))
    else {
        panic!("expected an answer for the caller");
    };
    drop(dropped);
    match next(&mut t).await {
        TransportEvent::Reply { transaction, text } => {
            assert_eq!(transaction, "d0");
            assert_eq!(text, r#"{"path":"/janus/11/22"}"#);
        }
        other => panic!("expected the reply, got {other:?}"),
    }
    // Session 11 has a handle, so its long poll takes the only place: an attach on session 12
    // comes back to the caller untouched, and the slow way fails it naming the limit.
    t.session_opened(SessionId(11));
    t.handle_opened(SessionId(11), HandleId(22));
    t.session_opened(SessionId(12));
    let back = direct
        .try_send(out("attach", "d2", Some(12), None))
        .expect_err("an attach beyond max_long_polls is given back");
    assert_eq!(back.transaction, "d2");
    t.send(back).await.unwrap();
    match next(&mut t).await {
        TransportEvent::RequestFailed { transaction, error } => {
            assert_eq!(transaction, "d2");
            assert!(matches!(error.kind(), ErrorKind::Limit { .. }), "{error}");
        }
        other => panic!("expected the limit, got {other:?}"),
    }
    // On session 11 itself an attach keeps its place, and goes straight out.
    let (_, text) = answer_of(direct.try_send(out("attach", "d3", Some(11), None))).await;
    assert_eq!(text, r#"{"path":"/janus/11"}"#);
    t.attach_answered(SessionId(11));
    assert_eq!(t.polled_sessions(), vec![SessionId(11)]);
}

#[tokio::test]
async fn long_poll_uses_maxev_and_auth_and_forwards_arrays() {
    const ARRAY: &str = r#"[{"janus":"event","session_id":7,"sender":8},{"janus":"keepalive"}]"#;
    let polls = Arc::new(AtomicUsize::new(0));
    let p = polls.clone();
    let server = TestServer::start(move |req: Req| {
        let p = p.clone();
        async move {
            match (req.method.as_str(), req.path()) {
                ("GET", "/janus/info") => info(),
                ("GET", "/janus/7") if p.fetch_add(1, Ordering::SeqCst) == 0 => {
                    Reply::Json(200, ARRAY.into())
                }
                _ => Reply::Hang,
            }
        }
    })
    .await;
    let mut t = open(&server, fast()).await;
    // What the client does for each transport it opens, before any request.
    t.set_credentials(&Credentials {
        api_secret: Some("s&x y".into()),
        token: Some("t0k".into()),
    });
    t.session_opened(SessionId(7));
    // Only sessions with handles are polled.
    t.handle_opened(SessionId(7), HandleId(1));
    assert_eq!(frame(next(&mut t).await), ARRAY);
    // Polled again (after `poll_coalesce`), and only once.
    pump_until(&mut t, "the second poll", || server.hanging() == 1).await;
    let gets: Vec<Req> = server
        .requests()
        .into_iter()
        .filter(|r| r.path() == "/janus/7")
        .collect();
    assert_eq!(gets.len(), 2);
    for g in &gets {
        assert_eq!(g.method, "GET");
        assert_eq!(g.target, "/janus/7?maxev=10&apisecret=s%26x+y&token=t0k");
    }
    // Opening the same session again does not start a second poll.
    t.session_opened(SessionId(7));
    // Only sessions with handles are polled.
    t.handle_opened(SessionId(7), HandleId(1));
    assert_eq!(t.polled_sessions(), vec![SessionId(7)]);
    assert!(pump_for(&mut t, Duration::from_millis(100))
        .await
        .is_empty());
    assert_eq!(server.count("GET", "/janus/7"), 2);
}

#[tokio::test]
async fn poll_404_reports_the_session_gone_and_stops() {
    let server = TestServer::start(|req: Req| async move {
        match (req.method.as_str(), req.path()) {
            ("GET", "/janus/info") => info(),
            _ => Reply::Json(404, String::new()),
        }
    })
    .await;
    let mut t = open(&server, fast()).await;
    t.session_opened(SessionId(9));
    // Only sessions with handles are polled.
    t.handle_opened(SessionId(9), HandleId(1));
    match next(&mut t).await {
        TransportEvent::SessionGone { session, reason } => {
            assert_eq!(session, SessionId(9));
            assert!(reason.contains("404"), "{reason}");
        }
        other => panic!("expected SessionGone, got {other:?}"),
    }
    assert!(pump_for(&mut t, Duration::from_millis(200))
        .await
        .is_empty());
    assert_eq!(
        server.count("GET", "/janus/9"),
        1,
        "the poll went on after a 404"
    );
    assert!(t.polled_sessions().is_empty());
}

#[tokio::test]
async fn poll_403_reports_the_session_gone() {
    let server = TestServer::start(|req: Req| async move {
        match (req.method.as_str(), req.path()) {
            ("GET", "/janus/info") => info(),
            _ => Reply::Json(403, String::new()),
        }
    })
    .await;
    let mut t = open(&server, fast()).await;
    t.session_opened(SessionId(3));
    // Only sessions with handles are polled.
    t.handle_opened(SessionId(3), HandleId(1));
    match next(&mut t).await {
        TransportEvent::SessionGone { session, reason } => {
            assert_eq!(session, SessionId(3));
            assert!(reason.contains("403"), "{reason}");
        }
        other => panic!("expected SessionGone, got {other:?}"),
    }
}

#[tokio::test]
async fn post_403_fails_the_request_with_its_status() {
    let server = TestServer::start(|req: Req| async move {
        match (req.method.as_str(), req.path()) {
            ("GET", "/janus/info") => info(),
            _ => Reply::Json(403, String::new()),
        }
    })
    .await;
    let mut t = open(&server, fast()).await;
    t.send(out("create", "42", None, None)).await.unwrap();
    match next(&mut t).await {
        TransportEvent::RequestFailed { transaction, error } => {
            assert_eq!(transaction, "42");
            assert!(
                matches!(
                    error.kind(),
                    ErrorKind::Transport {
                        status: Some(403),
                        ..
                    }
                ),
                "{error:?}"
            );
            assert!(error.is_unauthorized());
        }
        other => panic!("expected RequestFailed, got {other:?}"),
    }
}

#[tokio::test]
async fn non_json_bodies_pass_through() {
    let server = TestServer::start(|req: Req| async move {
        match (req.method.as_str(), req.path()) {
            ("GET", "/janus/info") => info(),
            ("POST", _) => Reply::Json(200, "this is not JSON".into()),
            _ => Reply::Hang,
        }
    })
    .await;
    let mut t = open(&server, fast()).await;
    t.send(out("info", "1", None, None)).await.unwrap();
    // Handed to the core as the reply of transaction 1, which fails that request.
    match next(&mut t).await {
        TransportEvent::Reply { transaction, text } => {
            assert_eq!(transaction, "1");
            assert_eq!(text, "this is not JSON");
        }
        other => panic!("expected a reply, got {other:?}"),
    }
}

#[tokio::test]
async fn oversized_and_binary_bodies_are_malformed() {
    let polls = Arc::new(AtomicUsize::new(0));
    let p = polls.clone();
    let server = TestServer::start(move |req: Req| {
        let p = p.clone();
        async move {
            match (req.method.as_str(), req.path()) {
                ("GET", "/janus/info") => info(),
                ("POST", "/janus") => Reply::Json(200, "x".repeat(1000)),
                ("POST", _) => Reply::Raw(200, vec![0xff, 0xfe, 0x00]),
                ("GET", "/janus/5") if p.fetch_add(1, Ordering::SeqCst) == 0 => {
                    Reply::Json(200, format!("[{}]", " ".repeat(1000)))
                }
                _ => Reply::Hang,
            }
        }
    })
    .await;
    let options = HttpOptions {
        max_body_bytes: 256,
        ..fast()
    };
    let mut t = open(&server, options).await;
    t.send(out("create", "1", None, None)).await.unwrap();
    assert!(
        matches!(next(&mut t).await, TransportEvent::Malformed { reason } if reason.contains("256"))
    );
    match next(&mut t).await {
        TransportEvent::RequestFailed { transaction, error } => {
            assert_eq!(transaction, "1");
            assert!(matches!(error.kind(), ErrorKind::Protocol(_)));
        }
        other => panic!("expected RequestFailed, got {other:?}"),
    }
    t.send(out("attach", "2", Some(5), None)).await.unwrap();
    assert!(
        matches!(next(&mut t).await, TransportEvent::Malformed { reason } if reason.contains("UTF-8"))
    );
    assert!(matches!(
        next(&mut t).await,
        TransportEvent::RequestFailed { .. }
    ));
    t.session_opened(SessionId(5));
    // Only sessions with handles are polled.
    t.handle_opened(SessionId(5), HandleId(1));
    assert!(matches!(
        next(&mut t).await,
        TransportEvent::Malformed { .. }
    ));
    // The poll goes on after a malformed reply.
    pump_until(&mut t, "the next poll", || server.hanging() == 1).await;
}

#[tokio::test]
async fn after_events_the_poll_pauses_until_a_request_or_poll_coalesce() {
    let polls4 = Arc::new(AtomicUsize::new(0));
    let p4 = polls4.clone();
    let server = TestServer::start(move |req: Req| {
        let p4 = p4.clone();
        async move {
            match (req.method.as_str(), req.path()) {
                ("GET", "/janus/info") => info(),
                // Polls answer at once with an event, except session 4's after its first.
                ("GET", "/janus/4") if p4.fetch_add(1, Ordering::SeqCst) > 0 => Reply::Hang,
                ("GET", _) => Reply::Json(200, r#"[{"janus":"event","sender":1}]"#.into()),
                _ => Reply::Json(200, r#"{"janus":"ack","transaction":"x"}"#.into()),
            }
        }
    })
    .await;
    let options = HttpOptions {
        poll_coalesce: Duration::from_secs(1),
        ..fast()
    };
    let mut t = open(&server, options).await;
    t.session_opened(SessionId(4));
    t.handle_opened(SessionId(4), HandleId(1));
    assert!(matches!(next(&mut t).await, TransportEvent::Frame(_)));
    // Paused (for up to a second): no second GET yet.
    pump_for(&mut t, Duration::from_millis(100)).await;
    assert_eq!(server.count("GET", "/janus/4"), 1);
    // A request on the session ends the pause at once.
    let sent = Instant::now();
    t.send(out("message", "m", Some(4), Some(1))).await.unwrap();
    pump_until(&mut t, "the poll after the request", || {
        server.count("GET", "/janus/4") == 2
    })
    .await;
    assert!(
        sent.elapsed() < Duration::from_millis(500),
        "{:?}",
        sent.elapsed()
    );
    t.session_closed(SessionId(4));

    // Without a request, the pause ends after `poll_coalesce`.
    t.session_opened(SessionId(5));
    t.handle_opened(SessionId(5), HandleId(1));
    let first = Instant::now();
    assert!(matches!(next(&mut t).await, TransportEvent::Frame(_)));
    assert!(matches!(next(&mut t).await, TransportEvent::Frame(_)));
    assert!(
        first.elapsed() >= Duration::from_secs(1),
        "{:?}",
        first.elapsed()
    );
    assert_eq!(server.count("GET", "/janus/5"), 2);

    // The core closing the last handle during the pause parks the poll: no GET after it.
    let gets = server.count("GET", "/janus/5");
    t.handle_closed(SessionId(5), HandleId(1));
    let got = pump_for(&mut t, Duration::from_millis(300)).await;
    assert!(got.is_empty(), "{got:?}");
    assert!(t.polled_sessions().is_empty());
    pump_for(&mut t, Duration::from_millis(1200)).await;
    assert_eq!(server.count("GET", "/janus/5"), gets);
}

#[tokio::test]
async fn poll_stops_on_session_closed() {
    let server = TestServer::start(|req: Req| async move {
        match (req.method.as_str(), req.path()) {
            ("GET", "/janus/info") => info(),
            _ => Reply::Hang,
        }
    })
    .await;
    let mut t = open(&server, fast()).await;
    t.session_opened(SessionId(5));
    // Only sessions with handles are polled.
    t.handle_opened(SessionId(5), HandleId(1));
    t.session_opened(SessionId(6));
    // Only sessions with handles are polled.
    t.handle_opened(SessionId(6), HandleId(1));
    pump_until(&mut t, "two polls", || server.hanging() == 2).await;
    t.session_closed(SessionId(5));
    pump_until(&mut t, "the poll of session 5 ends", || {
        server.hanging() == 1
    })
    .await;
    assert_eq!(t.polled_sessions(), vec![SessionId(6)]);
    assert!(pump_for(&mut t, Duration::from_millis(100))
        .await
        .is_empty());
    assert_eq!(server.count("GET", "/janus/5"), 1);
    t.session_closed(SessionId(6));
    pump_until(&mut t, "no poll left", || server.hanging() == 0).await;
}

#[tokio::test]
async fn poll_parks_when_no_handle_is_left_and_resumes_on_attach() {
    // Janus does not answer a poll of a destroyed session for 30 s: a session torn down the
    // usual way (detach, then destroy) must have no poll outstanding by then.
    let server = TestServer::start(|req: Req| async move {
        match (req.method.as_str(), req.path()) {
            ("GET", "/janus/info") => info(),
            ("GET", "/janus/8") => {
                tokio::time::sleep(Duration::from_millis(20)).await;
                Reply::Json(
                    200,
                    r#"[{"janus":"event","session_id":8,"sender":1}]"#.into(),
                )
            }
            ("POST", _) => Reply::Json(200, r#"{"janus":"success","transaction":"5"}"#.into()),
            _ => Reply::Hang,
        }
    })
    .await;
    let mut t = open(&server, fast()).await;
    // No handle yet: nothing to poll for.
    t.session_opened(SessionId(8));
    assert!(pump_for(&mut t, Duration::from_millis(100))
        .await
        .is_empty());
    assert_eq!(server.count("GET", "/janus/8"), 0);
    t.handle_opened(SessionId(8), HandleId(1));
    assert!(matches!(next(&mut t).await, TransportEvent::Frame(_)));
    // A detach going out does not stop the poll: the handle's last events, and Janus'
    // `detached`, come through it.
    t.send(out("detach", "5", Some(8), Some(1))).await.unwrap();
    pump_until(&mut t, "polling on after the detach", || {
        server.count("GET", "/janus/8") >= 2
    })
    .await;
    assert!(!t.polled_sessions().is_empty());
    // The core closes the handle (at `detached`): the poll stops after its current reply.
    t.handle_closed(SessionId(8), HandleId(1));
    pump_for(&mut t, Duration::from_millis(200)).await;
    let parked_at = server.count("GET", "/janus/8");
    pump_for(&mut t, Duration::from_millis(200)).await;
    assert_eq!(server.count("GET", "/janus/8"), parked_at, "still polling");
    assert!(t.polled_sessions().is_empty());
    // A new handle resumes it; the core closing it parks it again.
    t.handle_opened(SessionId(8), HandleId(2));
    pump_until(&mut t, "the poll resumes", || {
        server.count("GET", "/janus/8") > parked_at
    })
    .await;
    t.handle_closed(SessionId(8), HandleId(2));
    pump_for(&mut t, Duration::from_millis(200)).await;
    let parked_again = server.count("GET", "/janus/8");
    pump_for(&mut t, Duration::from_millis(200)).await;
    assert_eq!(
        server.count("GET", "/janus/8"),
        parked_again,
        "still polling"
    );
    assert!(t.polled_sessions().is_empty());
    t.session_closed(SessionId(8));
}

#[tokio::test]
async fn dropping_or_closing_the_transport_ends_its_tasks() {
    let server = TestServer::start(|req: Req| async move {
        match (req.method.as_str(), req.path()) {
            ("GET", "/janus/info") => info(),
            _ => Reply::Hang,
        }
    })
    .await;
    let mut t = open(&server, fast()).await;
    t.session_opened(SessionId(1));
    // Only sessions with handles are polled.
    t.handle_opened(SessionId(1), HandleId(1));
    t.send(out("message", "1", Some(1), Some(2))).await.unwrap();
    pump_until(&mut t, "a poll and a request", || server.hanging() == 2).await;
    drop(t);
    wait_until("everything ends on drop", || server.hanging() == 0).await;

    let mut t = open(&server, fast()).await;
    t.session_opened(SessionId(1));
    // Only sessions with handles are polled.
    t.handle_opened(SessionId(1), HandleId(1));
    t.send(out("message", "2", Some(1), Some(2))).await.unwrap();
    pump_until(&mut t, "a poll and a request", || server.hanging() == 2).await;
    // The core bounds `close`; a request that never ends is dropped with the transport.
    assert!(timeout(Duration::from_millis(200), t.close())
        .await
        .is_err());
    wait_until("the poll ends on close", || server.hanging() == 1).await;
    assert!(t.send(out("info", "3", None, None)).await.is_err());
    assert!(t.recv().await.is_err());
    drop(t);
    wait_until("the request ends on drop", || server.hanging() == 0).await;
}

#[tokio::test]
async fn a_post_closed_without_reply_fails_and_is_reported_until_the_server_answers() {
    let server = TestServer::start(|req: Req| async move {
        match (req.method.as_str(), req.path()) {
            ("GET", "/janus/info") => info(),
            _ => Reply::Close,
        }
    })
    .await;
    let mut t = open(&server, fast()).await;
    t.send(out("message", "1", Some(1), Some(2))).await.unwrap();
    match next(&mut t).await {
        TransportEvent::RequestFailed { transaction, error } => {
            assert_eq!(transaction, "1");
            // Closed before the reply: it may have reached Janus, so not safe to repeat.
            assert!(
                matches!(
                    error.kind(),
                    ErrorKind::TransportClosed {
                        retry_safe: false,
                        ..
                    }
                ),
                "{error:?}"
            );
        }
        other => panic!("expected RequestFailed, got {other:?}"),
    }
    // Reported like a dropped connection, then restored: the server still answers `info`.
    assert!(matches!(
        next(&mut t).await,
        TransportEvent::Interrupted { .. }
    ));
    assert!(matches!(next(&mut t).await, TransportEvent::Restored));
    assert!(server.count("GET", "/janus/info") >= 2, "no check was made");
    // The transport stays up past `unreachable_timeout`.
    assert!(timeout(Duration::from_millis(800), t.recv()).await.is_err());
}

#[tokio::test]
async fn a_post_janus_drops_after_its_10_s_limit_is_a_timeout() {
    // Janus closes a POST its core has not answered in 10 s, with no reply at all.
    let server = TestServer::start(|req: Req| async move {
        match (req.method.as_str(), req.path()) {
            ("GET", "/janus/info") => info(),
            _ => {
                tokio::time::sleep(Duration::from_millis(9500)).await;
                Reply::Close
            }
        }
    })
    .await;
    let options = HttpOptions {
        request_timeout: Duration::from_secs(30),
        ..fast()
    };
    let mut t = open(&server, options).await;
    let started = Instant::now();
    t.send(out("message", "1", Some(1), Some(2))).await.unwrap();
    let event = timeout(Duration::from_secs(15), t.recv())
        .await
        .expect("no answer within 15 s")
        .expect("the transport closed");
    match event {
        TransportEvent::RequestFailed { transaction, error } => {
            assert_eq!(transaction, "1");
            // A timeout, not a broken connection; and not safe to repeat: it reached Janus.
            assert!(error.is_timeout(), "{error:?}");
            assert!(!error.is_retry_safe(), "{error:?}");
        }
        other => panic!("expected RequestFailed, got {other:?}"),
    }
    assert!(started.elapsed() >= Duration::from_millis(9500));
    // The server is fine: no probe found it unreachable, the transport stays up.
    assert!(timeout(Duration::from_millis(500), t.recv()).await.is_err());
}

#[tokio::test]
async fn an_empty_reply_body_is_a_protocol_error() {
    let server = TestServer::start(|req: Req| async move {
        match (req.method.as_str(), req.path()) {
            ("GET", "/janus/info") => info(),
            _ => Reply::Json(200, String::new()),
        }
    })
    .await;
    let mut t = open(&server, fast()).await;
    t.send(out("create", "1", None, None)).await.unwrap();
    match next(&mut t).await {
        TransportEvent::RequestFailed { transaction, error } => {
            assert_eq!(transaction, "1");
            assert!(matches!(error.kind(), ErrorKind::Protocol(_)), "{error:?}");
            assert!(error.to_string().contains("empty body"), "{error}");
            assert!(!error.is_retry_safe());
        }
        other => panic!("expected RequestFailed, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_that_does_not_answer_its_request_fails_it_at_once() {
    let server = TestServer::start(|req: Req| async move {
        let body: serde_json::Value = serde_json::from_str(&req.body).unwrap_or_default();
        let txn = body["transaction"].as_str().unwrap_or_default().to_string();
        match (req.method.as_str(), body["janus"].as_str()) {
            ("GET", _) => info(),
            ("POST", Some("info")) => Reply::Json(
                200,
                serde_json::json!({"janus": "server_info", "transaction": txn}).to_string(),
            ),
            // Something in front of Janus answering 200 with a page.
            ("POST", Some("create")) => Reply::Json(200, "<html>it works</html>".into()),
            // JSON, but not an answer to this request.
            ("POST", Some("ping")) => Reply::Json(200, r#"{"janus":"keepalive"}"#.into()),
            _ => Reply::Hang,
        }
    })
    .await;
    let connector = HttpConnector::new(server.base.clone(), fast()).unwrap();
    let options = ClientOptions {
        request_timeout: Duration::from_secs(10),
        ..ClientOptions::default()
    };
    let client = Client::connect(Arc::new(connector), options).await.unwrap();

    let started = Instant::now();
    let err = client.create_session().await.unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Protocol(_)), "{err:?}");
    assert!(err.to_string().contains("not JSON"), "{err}");
    let err = client.ping().await.unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Protocol(_)), "{err:?}");
    assert!(err.to_string().contains("does not answer"), "{err}");
    // At once, not after the 10 s request timeout.
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    let stats = client.stats();
    assert_eq!(stats.malformed_messages, 1);
    assert_eq!(stats.pending_transactions, 0);
    assert_eq!(stats.sessions, 0);
    client.close().await;
}

#[tokio::test]
async fn connect_fails_against_a_dead_server() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let url = format!("http://{addr}/janus").parse().unwrap();
    let c = HttpConnector::new(url, fast()).unwrap();
    let err = c.open().await.unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Transport { status: None, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_unreachable_server_closes_the_transport() {
    let server = TestServer::start(|req: Req| async move {
        match (req.method.as_str(), req.path()) {
            ("GET", "/janus/info") => info(),
            _ => Reply::Hang,
        }
    })
    .await;
    let mut t = open(&server, fast()).await;
    t.session_opened(SessionId(1));
    // Only sessions with handles are polled.
    t.handle_opened(SessionId(1), HandleId(1));
    pump_until(&mut t, "the poll", || server.hanging() == 1).await;
    let started = Instant::now();
    server.stop().await;
    // A request to the dead server fails at once, without a status.
    t.send(out("keepalive", "7", Some(1), None)).await.unwrap();
    let err = loop {
        match timeout(Duration::from_secs(3), t.recv())
            .await
            .expect("no close within 3 s")
        {
            Ok(TransportEvent::RequestFailed { transaction, error }) => {
                assert_eq!(transaction, "7");
                // Nothing reached the dead server: safe to repeat.
                assert!(
                    error.is_transport_closed() && error.is_retry_safe(),
                    "{error:?}"
                );
            }
            // Reported at the first failure, while the transport checks the server.
            Ok(TransportEvent::Interrupted { .. }) => {}
            Ok(other) => panic!("unexpected {other:?}"),
            Err(e) => break e,
        }
    };
    let took = started.elapsed();
    assert!(err.is_transport_closed(), "{err:?}");
    assert!(err.to_string().contains("unreachable"), "{err}");
    assert!(
        // `unreachable_timeout` is 300 ms, from the first failure (after `started`).
        took >= Duration::from_millis(300) && took < Duration::from_secs(2),
        "{took:?}"
    );
    // Closed for good, and nothing runs anymore.
    assert!(t.recv().await.is_err());
    assert!(t.polled_sessions().is_empty());
}

#[tokio::test]
async fn options_deserialize_and_are_checked() {
    let o: HttpOptions = serde_json::from_str("{}").unwrap();
    assert_eq!(o, HttpOptions::default());
    assert_eq!(o.maxev, 10);
    assert_eq!(o.long_poll_timeout, Duration::from_secs(35));
    assert_eq!(o.max_body_bytes, 8 * 1024 * 1024);
    assert_eq!(o.poll_coalesce, Duration::from_millis(5));
    let o: HttpOptions = serde_json::from_str(
        r#"{"maxev":1,"poll_retry_delay":"250ms","unreachable_timeout":"5s","tls_ca_file":"/x.pem","poll_coalesce":"0s"}"#,
    )
    .unwrap();
    assert_eq!(o.poll_coalesce, Duration::ZERO);
    let no_ca = HttpOptions {
        tls_ca_file: None,
        ..o.clone()
    };
    HttpConnector::new("http://127.0.0.1:1/janus".parse().unwrap(), no_ca)
        .expect("a zero pause is valid");
    assert_eq!(o.maxev, 1);
    assert_eq!(o.poll_retry_delay, Duration::from_millis(250));
    assert_eq!(o.unreachable_timeout, Duration::from_secs(5));
    assert!(serde_json::from_str::<HttpOptions>(r#"{"max_ev":1}"#).is_err());
    // The credentials are the client's now: refused here, not dropped silently.
    for removed in [r#"{"api_secret":"s"}"#, r#"{"token":"t"}"#] {
        let e = serde_json::from_str::<HttpOptions>(removed).unwrap_err();
        assert!(e.to_string().contains("unknown field"), "{e}");
    }
    let back: HttpOptions = serde_json::from_str(&serde_json::to_string(&o).unwrap()).unwrap();
    assert_eq!(back, o);

    let url: url::Url = "http://127.0.0.1:1/janus".parse().unwrap();
    for bad in [
        HttpOptions {
            maxev: 0,
            ..HttpOptions::default()
        },
        HttpOptions {
            long_poll_timeout: Duration::ZERO,
            ..HttpOptions::default()
        },
        HttpOptions {
            max_body_bytes: 0,
            ..HttpOptions::default()
        },
        HttpOptions {
            poll_coalesce: crate::options::MAX_POLL_COALESCE + Duration::from_millis(1),
            ..HttpOptions::default()
        },
        HttpOptions {
            tls_ca_file: Some("/nonexistent/ca.pem".into()),
            ..HttpOptions::default()
        },
        HttpOptions {
            tls_ca_file: Some(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml").into()),
            ..HttpOptions::default()
        },
    ] {
        let err = HttpConnector::new(url.clone(), bad).unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::Config(_)), "{err:?}");
    }
    let c = HttpConnector::new(
        "http://u:pw@127.0.0.1:1/janus/".parse().unwrap(),
        HttpOptions::default(),
    )
    .unwrap();
    use janus_core::Connector;
    assert_eq!(c.endpoint(), "http://127.0.0.1:1/janus");
    assert_eq!(c.url().path(), "/janus");
}

fn ca_file() -> std::path::PathBuf {
    concat!(env!("CARGO_MANIFEST_DIR"), "/src/tests/certs/ca.pem").into()
}

#[tokio::test]
async fn https_with_a_private_ca() {
    let server = TestServer::start_tls(|req: Req| async move {
        match (req.method.as_str(), req.path()) {
            ("GET", "/janus/info") => info(),
            ("POST", _) => Reply::Json(200, r#"{"janus":"pong","transaction":"1"}"#.into()),
            _ => Reply::Hang,
        }
    })
    .await;
    assert_eq!(server.base.scheme(), "https");
    // Without the CA the server is not trusted.
    let err = HttpConnector::new(server.base.clone(), fast())
        .unwrap()
        .open()
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Transport { status: None, .. }),
        "{err:?}"
    );
    let options = HttpOptions {
        tls_ca_file: Some(ca_file()),
        ..fast()
    };
    let mut t = open(&server, options).await;
    t.send(out("ping", "1", None, None)).await.unwrap();
    assert!(frame(next(&mut t).await).contains("pong"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_lifecycle_through_the_client() {
    let janus = fake_janus::FakeJanus::new(Duration::from_secs(2));
    let server = TestServer::start(janus.handler()).await;
    // The longest pause: in practice only requests end it.
    let options = HttpOptions {
        maxev: 3,
        poll_coalesce: Duration::from_secs(1),
        ..fast()
    };
    let connector = HttpConnector::new(server.base.clone(), options).unwrap();
    let client = Client::connect(Arc::new(connector), ClientOptions::default())
        .await
        .unwrap();
    let session = client.create_session().await.unwrap();
    let handle = session.attach("janus.plugin.echotest").await.unwrap();
    for _ in 0..3 {
        let reply = handle
            .message(serde_json::json!({"audio": true}))
            .await
            .unwrap();
        assert_eq!(reply.data["result"], "ok");
    }
    handle.detach().await.unwrap();
    session.destroy().await.unwrap();
    assert_eq!(janus.session_count(), 0);
    let stats = client.stats();
    assert_eq!(
        (stats.sessions, stats.handles, stats.pending_transactions),
        (0, 0, 0)
    );
    assert_eq!(stats.malformed_messages, 0);
    // No poll outlives its session: nothing hangs on the server.
    wait_until("no poll left", || server.hanging() == 0).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let polls = server
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path() != "/janus/info")
        .count();
    // How many connections carried this depends on when the client's pool takes them back:
    // `posts_go_to_their_paths_and_reuse_one_connection` checks reuse with a wide bound.
    // One GET per message's event, sent when the message goes out (ending the pause after
    // the previous event). The detach and the destroy do not end the pause: the destroy
    // comes before it is over, so no GET is left outstanding for Janus to hold. A pause
    // runs out on its own only after a whole second without a request, which only a
    // stalled machine would see.
    assert!(
        (3..=5).contains(&polls),
        "{polls} GETs: {:?}",
        server.requests()
    );
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_reconnects_when_the_server_comes_back() {
    let janus = fake_janus::FakeJanus::new(Duration::from_secs(2));
    let server = TestServer::start(janus.handler()).await;
    let addr = server.addr;
    let connector = HttpConnector::new(server.base.clone(), fast()).unwrap();
    let options = ClientOptions {
        reconnect: ReconnectPolicy {
            initial_delay: Duration::from_millis(50),
            max_delay: Duration::from_millis(200),
            ..ReconnectPolicy::default()
        },
        ..ClientOptions::default()
    };
    let client = Client::connect(Arc::new(connector), options).await.unwrap();
    let mut state = client.connection_state();
    let session = client.create_session().await.unwrap();
    let handle = session.attach("janus.plugin.echotest").await.unwrap();

    server.stop().await;
    let down = Instant::now();
    timeout(
        Duration::from_secs(3),
        state.wait_for(|s| {
            matches!(
                s,
                ConnectionState::Disconnected { .. } | ConnectionState::Reconnecting { .. }
            )
        }),
    )
    .await
    .expect("no disconnect noticed")
    .unwrap();
    let noticed = down.elapsed();
    // Attempts against the dead server fail for a while.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!matches!(
        *state.borrow(),
        ConnectionState::Reconnected | ConnectionState::Connected
    ));

    let _server = TestServer::restart_on(addr, janus.handler()).await;
    timeout(
        Duration::from_secs(5),
        state.wait_for(|s| *s == ConnectionState::Reconnected),
    )
    .await
    .expect("no reconnect")
    .unwrap();
    // The session was claimed and polled again: events flow.
    let reply = handle
        .message(serde_json::json!({"audio": true}))
        .await
        .unwrap();
    assert_eq!(reply.data["result"], "ok");
    let stats = client.stats();
    assert_eq!(stats.reconnects, 1);
    session.destroy().await.unwrap();
    client.close().await;
    eprintln!("disconnect noticed {noticed:?} after the server went down");
}

#[tokio::test]
async fn an_unreachable_server_closes_a_transport_without_sessions() {
    let server = TestServer::start(|req: Req| async move {
        match (req.method.as_str(), req.path()) {
            ("GET", "/janus/info") => info(),
            _ => Reply::Json(200, "{}".into()),
        }
    })
    .await;
    let mut t = open(&server, fast()).await;
    server.stop().await;
    // No poll runs: the failed request alone starts the checks.
    t.send(out("info", "1", None, None)).await.unwrap();
    assert!(matches!(
        next(&mut t).await,
        TransportEvent::RequestFailed { .. }
    ));
    assert!(matches!(
        next(&mut t).await,
        TransportEvent::Interrupted { .. }
    ));
    let err = timeout(Duration::from_secs(3), t.recv())
        .await
        .expect("no close within 3 s")
        .unwrap_err();
    assert!(err.is_transport_closed(), "{err:?}");
}
