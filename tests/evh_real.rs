//! Janus' event handlers (`wsevh`, `sampleevh`) against janus-evh's receivers.
//!
//! Needs `scripts/test`: it starts the `JANUS_EVH_*` instance (session timeout 10 s) whose
//! `wsevh` connects to `ws://127.0.0.1:$EVH_WS_PORT/` and whose `sampleevh` POSTs, gzip-
//! compressed and with basic auth (`$EVH_HTTP_USER`, `$EVH_HTTP_PASSWORD`), to
//! `http://127.0.0.1:$EVH_HTTP_PORT/janus-events`. The tests bind those ports (one test at a
//! time per port) while Janus runs; both handlers connect again by themselves. Its `mqttevh`
//! publishes on `$EVH_MQTT_TOPIC` (a sub-topic per event type) on the broker at
//! `$MQTT_BROKER_PORT` (tests with the feature `evh-mqtt`); its `rabbitmqevh` to the fanout
//! exchange `$EVH_AMQP_EXCHANGE` with the key `$EVH_AMQP_ROUTE_KEY` on the RabbitMQ broker at
//! `$RABBITMQ_PORT` (tests with the feature `evh-amqp`).

mod common;

use common::{env_or_skip, eventually};
use futures::{SinkExt, StreamExt};
use janus_client::evh::{
    EventBody, EvhItem, EvhStream, HandleAction, HttpOptions, Listener, Received, Receiver,
    ReceiverOptions, SessionAction, Source, WsOptions,
};
use janus_client::{connect, ClientOptions, Config, SessionId};
use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

const ECHOTEST: &str = "janus.plugin.echotest";
const PATH: &str = "/janus-events";
/// The instance's `server_name`: the `emitter` of its events.
const EMITTER: &str = "evh";
/// wsevh waits up to 8 s between connection attempts, sampleevh retries for about 3 s and
/// then drops what it holds; a loaded machine adds to both.
const LIMIT: Duration = Duration::from_secs(40);

/// One receiver at a time on each port Janus sends to.
static HTTP_PORT: Mutex<()> = Mutex::const_new(());
static WS_PORT: Mutex<()> = Mutex::const_new(());

struct Setup {
    janus_url: String,
    http: SocketAddr,
    ws: SocketAddr,
    user: String,
    password: String,
}

/// The instance and ports scripts/test exported; `None` (skipped locally, a failure in CI)
/// when missing.
fn setup() -> Option<Setup> {
    let port = |var: &str| -> Option<SocketAddr> {
        let p: u16 = env_or_skip(var)?.parse().expect("a port number");
        Some(SocketAddr::from(([127, 0, 0, 1], p)))
    };
    Some(Setup {
        janus_url: env_or_skip("JANUS_EVH_WS_URL")?,
        http: port("EVH_HTTP_PORT")?,
        ws: port("EVH_WS_PORT")?,
        user: env_or_skip("EVH_HTTP_USER")?,
        password: env_or_skip("EVH_HTTP_PASSWORD")?,
    })
}

impl Setup {
    fn http_options(&self) -> HttpOptions {
        HttpOptions::new(self.http)
            .with_path(PATH)
            .with_basic_auth(self.user.clone(), self.password.clone())
    }

    /// A client; with `keepalive` false, nothing it sends keeps its sessions alive.
    async fn client(&self, keepalive: bool) -> janus_client::Client {
        let options = if keepalive {
            // Well within the instance's 10 s session timeout.
            ClientOptions {
                keepalive_interval: Duration::from_secs(3),
                ..ClientOptions::default()
            }
        } else {
            ClientOptions {
                keepalive_interval: Duration::from_secs(300),
                probe_server: false,
                ..ClientOptions::default()
            }
        };
        connect(Config::new(self.janus_url.clone()).with_options(options))
            .await
            .expect("connect to the evh instance")
    }
}

/// What to listen with.
enum Listen {
    Http(HttpOptions),
    Ws(WsOptions),
}

/// Starts a listener on `receiver`, retrying while the port is still held (by a listener
/// of another test that was just stopped).
async fn listen(receiver: &Receiver, what: Listen) -> Listener {
    let end = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let bound = match &what {
            Listen::Http(o) => receiver.listen_http(o).await,
            Listen::Ws(o) => receiver.listen_ws(o).await,
        };
        match bound {
            Ok(l) => return l,
            Err(e) if tokio::time::Instant::now() < end => {
                eprintln!("bind: {e}; retrying");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("cannot bind the receiver: {e}"),
        }
    }
}

/// The next event for which `wanted` holds, within `limit`.
async fn next_matching(
    events: &mut EvhStream,
    limit: Duration,
    mut wanted: impl FnMut(&Received) -> bool,
) -> Received {
    let found = tokio::time::timeout(limit, async {
        while let Some(item) = events.next().await {
            match item {
                EvhItem::Event(r) if wanted(&r) => return Some(*r),
                EvhItem::Event(r) => eprintln!("passed over: {} {}", r.emitter, r.event.raw),
                EvhItem::Closed => return None,
                _ => {}
            }
        }
        None
    })
    .await;
    match found {
        Ok(Some(r)) => r,
        Ok(None) => panic!("the stream ended"),
        Err(_) => panic!("no matching event within {limit:?}"),
    }
}

/// The next session or handle event about `session`.
async fn next_lifecycle_event(events: &mut EvhStream, session: SessionId) -> Received {
    next_matching(events, LIMIT, |r| {
        r.is_about_session(session)
            && matches!(
                r.event.body,
                EventBody::Session { .. } | EventBody::Handle { .. }
            )
    })
    .await
}

fn step(r: &Received) -> String {
    match &r.event.body {
        EventBody::Session { action, .. } => format!("session {action:?}"),
        EventBody::Handle { action, plugin, .. } => format!("handle {action:?} {plugin}"),
        other => format!("{other:?}"),
    }
}

/// Creates a session, attaches echotest, detaches, destroys; checks that the receiver got
/// exactly that, in order, with the client's ids.
///
/// Janus notifies `detached` from the handle's own loop, after it answered the `detach`
/// request: a session destroyed at once can be reported `destroyed` before its handle is
/// reported `detached`. So each step waits for the event of the one before.
async fn echotest_lifecycle(s: &Setup, events: &mut EvhStream, is_source: fn(&Source) -> bool) {
    let client = s.client(true).await;
    let session = client.create_session().await.expect("create");
    let sid = session.id();
    let handle = session.attach(ECHOTEST).await.expect("attach");
    let hid = handle.id();
    let mut seen = vec![
        next_lifecycle_event(events, sid).await,
        next_lifecycle_event(events, sid).await,
    ];
    handle.detach().await.expect("detach");
    seen.push(next_lifecycle_event(events, sid).await);
    session.destroy().await.expect("destroy");
    seen.push(next_lifecycle_event(events, sid).await);
    let steps: Vec<String> = seen.iter().map(step).collect();
    assert_eq!(
        steps,
        [
            "session Created".to_owned(),
            format!("handle Attached {ECHOTEST}"),
            format!("handle Detached {ECHOTEST}"),
            "session Destroyed".to_owned(),
        ]
    );
    for r in &seen {
        assert_eq!(r.emitter, EMITTER);
        assert_eq!(r.event.emitter.as_deref(), Some(EMITTER));
        assert_eq!(r.event.session_id, Some(sid));
        assert!(is_source(&r.source), "{:?}", r.source);
    }
    assert!(matches!(
        seen[1].event.body,
        EventBody::Handle {
            action: HandleAction::Attached,
            ..
        }
    ));
    assert_eq!(seen[1].handle_id(), Some(hid));
    assert_eq!(seen[2].handle_id(), Some(hid));
    assert!(seen[1].is_about_handle(hid));
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echotest_lifecycle_over_sampleevh_http() {
    let Some(s) = setup() else { return };
    let _port = HTTP_PORT.lock().await;
    let receiver = Receiver::new(&ReceiverOptions::default()).expect("receiver");
    let mut events = receiver.events();
    let http = listen(&receiver, Listen::Http(s.http_options())).await;
    echotest_lifecycle(&s, &mut events, |src| matches!(src, Source::Http { .. })).await;
    let stats = receiver.stats();
    assert!(stats.events >= 4, "{stats:?}");
    assert_eq!((stats.garbage, stats.oversized, stats.refused), (0, 0, 0));
    http.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echotest_lifecycle_over_wsevh_websocket() {
    let Some(s) = setup() else { return };
    let _port = WS_PORT.lock().await;
    let receiver = Receiver::new(&ReceiverOptions::default()).expect("receiver");
    let mut events = receiver.events();
    let ws = listen(&receiver, Listen::Ws(WsOptions::new(s.ws))).await;
    echotest_lifecycle(&s, &mut events, |src| {
        matches!(src, Source::WebSocket { .. })
    })
    .await;
    assert_eq!(receiver.stats().garbage, 0);
    ws.stop().await;
}

/// A pool's sessions join with the events about them: the pool reads each instance's
/// `server_name` at its probes, and `event_key()` is the `session_key()` of their events,
/// though the pool (built from a config file's text) names its instance otherwise.
#[cfg(feature = "pool")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_join_with_a_pools_sessions() {
    use janus_client::pool::{self, PoolConfig};
    let Some(s) = setup() else { return };
    let _port = WS_PORT.lock().await;
    let receiver = Receiver::new(&ReceiverOptions::default()).expect("receiver");
    let mut events = receiver.events();
    let ws = listen(&receiver, Listen::Ws(WsOptions::new(s.ws))).await;
    let config = PoolConfig::from_toml_str(&format!(
        "[[instances]]\nurl = \"{}\"\nname = \"janus-eu-1\"\n",
        s.janus_url
    ))
    .expect("pool config");
    let pool = pool::connect(config).await.expect("pool");
    let mut status = pool.status();
    let named = tokio::time::timeout(
        LIMIT,
        status.wait_for(|st| st.instances.iter().all(|i| i.server_name.is_some())),
    )
    .await
    .is_ok_and(|r| r.is_ok());
    assert!(
        named,
        "no probe read the server name: {:?}",
        *status.borrow()
    );
    let a = pool.create_session().await.expect("create a");
    let b = pool.create_session_for("room-1").await.expect("create b");
    assert_eq!(a.instance_name(), "janus-eu-1");
    assert_eq!(a.server_name().as_deref(), Some(EMITTER));
    let keys = [
        a.event_key().expect("a's key"),
        b.event_key().expect("b's key"),
    ];
    assert_eq!(keys[0], (EMITTER.to_owned(), a.session().id()));
    for (session, key) in [&a, &b].into_iter().zip(&keys) {
        let sid = session.session().id();
        let created = next_matching(&mut events, LIMIT, |r| {
            r.is_about_session(sid)
                && matches!(
                    r.event.body,
                    EventBody::Session {
                        action: SessionAction::Created,
                        ..
                    }
                )
        })
        .await;
        let got = created.session_key().map(|(e, id)| (e.to_owned(), id));
        assert_eq!(got.as_ref(), Some(key), "{}", created.event.raw);
    }
    assert_ne!(keys[0], keys[1]);
    a.destroy().await.expect("destroy a");
    b.destroy().await.expect("destroy b");
    ws.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_timeout_is_reported() {
    let Some(s) = setup() else { return };
    let _port = WS_PORT.lock().await;
    let receiver = Receiver::new(&ReceiverOptions::default()).expect("receiver");
    let mut events = receiver.events();
    let _ws = listen(&receiver, Listen::Ws(WsOptions::new(s.ws))).await;
    // Keepalives far slower than the instance's 10 s session timeout.
    let client = s.client(false).await;
    let session = client.create_session().await.expect("create");
    let sid = session.id();
    let r = next_matching(&mut events, LIMIT, |r| {
        r.is_about_session(sid)
            && matches!(
                r.event.body,
                EventBody::Session {
                    action: SessionAction::Timeout,
                    ..
                }
            )
    })
    .await;
    assert_eq!(r.emitter, EMITTER);
    assert_eq!(r.session_key(), Some((EMITTER, sid)));
    client.close().await;
}

/// A receiver dropped while Janus runs, and a new one on the same port: the events of a
/// session made after the restart arrive (the handler reconnects, or retries, by itself).
async fn restarted_receiver_gets_later_events(s: &Setup, over_ws: bool) {
    let first = Receiver::new(&ReceiverOptions::default()).expect("receiver");
    let mut events = first.events();
    let listener = if over_ws {
        listen(&first, Listen::Ws(WsOptions::new(s.ws))).await
    } else {
        listen(&first, Listen::Http(s.http_options())).await
    };
    let client = s.client(true).await;
    let before = client.create_session().await.expect("create");
    let sid = before.id();
    next_matching(&mut events, LIMIT, |r| r.is_about_session(sid)).await;
    // Gone: the stream says so once the receiver and its listener are dropped.
    listener.stop().await;
    drop(first);
    let rest: Vec<EvhItem> = tokio::time::timeout(Duration::from_secs(10), events.collect())
        .await
        .expect("the stream ends");
    assert_eq!(rest.last(), Some(&EvhItem::Closed));
    // Events while nobody listens (sampleevh drops them after its retries; wsevh queues).
    before.destroy().await.expect("destroy");

    let second = Receiver::new(&ReceiverOptions::default()).expect("receiver");
    let mut events = second.events();
    let _listener = if over_ws {
        listen(&second, Listen::Ws(WsOptions::new(s.ws))).await
    } else {
        listen(&second, Listen::Http(s.http_options())).await
    };
    let after = client.create_session().await.expect("create");
    let sid = after.id();
    let r = next_matching(&mut events, LIMIT, |r| r.is_about_session(sid)).await;
    assert!(matches!(
        r.event.body,
        EventBody::Session {
            action: SessionAction::Created,
            ..
        }
    ));
    after.destroy().await.expect("destroy");
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_http_receiver_gets_the_events_that_follow() {
    let Some(s) = setup() else { return };
    let _port = HTTP_PORT.lock().await;
    restarted_receiver_gets_later_events(&s, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_ws_receiver_gets_the_events_that_follow() {
    let Some(s) = setup() else { return };
    let _port = WS_PORT.lock().await;
    restarted_receiver_gets_later_events(&s, true).await;
}

/// Sends one HTTP/1.1 request on a new connection and returns the status code. The body is
/// sent only when `send_body` (a server refusing on the declared length does not read it).
async fn post(addr: SocketAddr, head: &str, body: &[u8], send_body: bool) -> u16 {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "{head}\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    tcp.write_all(request.as_bytes()).await.expect("write head");
    if send_body {
        tcp.write_all(body).await.expect("write body");
    }
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut answer))
        .await
        .expect("an answer in time");
    // A reset after the answer (the server closed with our bytes unread) keeps what came.
    if let Err(e) = read {
        assert!(!answer.is_empty(), "no answer: {e}");
    }
    let text = String::from_utf8_lossy(&answer);
    text.split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {text:?}"))
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_garbage_and_oversized_bodies_are_refused_and_counted() {
    let Some(s) = setup() else { return };
    let _port = HTTP_PORT.lock().await;
    let receiver = Receiver::new(&ReceiverOptions::default()).expect("receiver");
    let mut events = receiver.events();
    let max = 64 * 1024;
    let http = listen(&receiver, Listen::Http(s.http_options().with_max_body(max))).await;
    let addr = http.local_addr();
    let auth = {
        use base64::Engine;
        let pair = format!("{}:{}", s.user, s.password);
        let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
        format!("Authorization: Basic {encoded}")
    };
    let post_to = |extra: &str| format!("POST {PATH} HTTP/1.1\r\n{auth}{extra}");

    assert_eq!(post(addr, &post_to(""), b"{not json", true).await, 400);
    assert_eq!(post(addr, &post_to(""), b"[1, 2", true).await, 400);
    assert_eq!(post(addr, &post_to(""), b"\"a string\"", true).await, 400);
    assert_eq!(
        post(addr, &post_to(""), &[0xff, 0xfe, b'{'], true).await,
        400
    );
    let gz = "\r\nContent-Encoding: gzip";
    assert_eq!(
        post(addr, &post_to(gz), b"not gzip at all", true).await,
        400
    );
    assert_eq!(
        post(addr, &post_to("\r\nContent-Encoding: br"), b"{}", true).await,
        415
    );
    let big = vec![b' '; max + 1];
    assert_eq!(post(addr, &post_to(""), &big, false).await, 413);
    // Small on the wire, too large once inflated.
    let bomb = gzip(&vec![b' '; 16 * max]);
    assert!(bomb.len() < max);
    assert_eq!(post(addr, &post_to(gz), &bomb, true).await, 413);
    // Wrong credentials, path, method.
    let wrong = format!("POST {PATH} HTTP/1.1\r\nAuthorization: Basic d3Jvbmc6d3Jvbmc=");
    assert_eq!(post(addr, &wrong, b"{}", true).await, 401);
    let no_auth = format!("POST {PATH} HTTP/1.1");
    assert_eq!(post(addr, &no_auth, b"{}", true).await, 401);
    let elsewhere = format!("POST /elsewhere HTTP/1.1\r\n{auth}");
    assert_eq!(post(addr, &elsewhere, b"{}", true).await, 404);
    assert_eq!(
        post(addr, &format!("GET {PATH} HTTP/1.1"), b"", true).await,
        405
    );

    let stats = receiver.stats();
    assert_eq!(stats.garbage, 6, "{stats:?}");
    assert_eq!(stats.oversized, 2, "{stats:?}");
    assert_eq!(stats.refused, 4, "{stats:?}");

    // A good delivery of the test's own, gzip-compressed, is taken.
    let own = br#"[{"emitter":"test-sender","type":1,"timestamp":1,"session_id":77,
        "event":{"name":"created"}}]"#;
    assert_eq!(post(addr, &post_to(gz), &gzip(own), true).await, 200);
    let r = next_matching(&mut events, LIMIT, |r| r.emitter == "test-sender").await;
    assert_eq!(r.session_id(), Some(SessionId(77)));
    // And Janus' own deliveries still arrive.
    echotest_lifecycle(&s, &mut events, |src| matches!(src, Source::Http { .. })).await;
    http.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_garbage_and_oversized_messages_are_refused_and_counted() {
    let Some(s) = setup() else { return };
    let _port = WS_PORT.lock().await;
    let receiver = Receiver::new(&ReceiverOptions::default()).expect("receiver");
    let mut events = receiver.events();
    let max = 64 * 1024;
    let ws = listen(
        &receiver,
        Listen::Ws(WsOptions::new(s.ws).with_max_message(max)),
    )
    .await;
    let url = format!("ws://{}/", ws.local_addr());

    // Without the subprotocol wsevh offers: refused in the handshake.
    assert!(tokio_tungstenite::connect_async(url.as_str())
        .await
        .is_err());
    assert_eq!(receiver.stats().refused, 1);

    // A second "instance" of the test's own, beside Janus.
    let mut request = url.as_str().into_client_request().expect("request");
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "janus-event-handlers".parse().expect("header"),
    );
    let (mut own, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("connect with the subprotocol");
    own.send(Message::text("{not json")).await.expect("send");
    own.send(Message::binary(vec![0xffu8, 0xfe]))
        .await
        .expect("send");
    own.send(Message::text(
        r#"{"emitter":"test-sender","type":2,"session_id":5,"handle_id":6,
            "event":{"name":"attached","plugin":"janus.plugin.echotest"}}"#,
    ))
    .await
    .expect("send");
    // Garbage does not cost the connection: the event after it arrives.
    let r = next_matching(&mut events, LIMIT, |r| r.emitter == "test-sender").await;
    assert!(r.is_about_handle(janus_client::HandleId(6)));
    assert_eq!(receiver.stats().garbage, 2);

    // Too large: the connection is closed with 1009.
    own.send(Message::text(" ".repeat(max + 1)))
        .await
        .expect("send");
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match own.next().await {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| f.code),
                Some(Ok(_)) => continue,
                _ => return None,
            }
        }
    })
    .await
    .expect("the connection closes");
    assert_eq!(closed, Some(CloseCode::Size));
    assert!(
        eventually(Duration::from_secs(5), || async {
            receiver.stats().oversized == 1
        })
        .await
    );

    // Janus' connection was never affected.
    echotest_lifecycle(&s, &mut events, |src| {
        matches!(src, Source::WebSocket { .. })
    })
    .await;
    ws.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_consumer_is_told_what_it_missed() {
    let Some(s) = setup() else { return };
    let _port = WS_PORT.lock().await;
    let receiver = Receiver::new(&ReceiverOptions::default().with_buffer(2)).expect("receiver");
    let mut events = receiver.events();
    let _ws = listen(&receiver, Listen::Ws(WsOptions::new(s.ws))).await;
    let client = s.client(true).await;
    // Not reading: four sessions make at least eight events for a buffer of two.
    for _ in 0..4 {
        let session = client.create_session().await.expect("create");
        session.destroy().await.expect("destroy");
    }
    assert!(
        eventually(LIMIT, || async { receiver.stats().dropped >= 6 }).await,
        "{:?}",
        receiver.stats()
    );
    // What was kept, then the count of what was not, then what comes next.
    let kept = [events.next().await, events.next().await];
    assert!(
        kept.iter().all(|i| matches!(i, Some(EvhItem::Event(_)))),
        "{kept:?}"
    );
    let session = client.create_session().await.expect("create");
    let sid = session.id();
    match tokio::time::timeout(LIMIT, events.next()).await {
        Ok(Some(EvhItem::Lagged { missed })) => assert!(missed >= 6, "{missed}"),
        other => panic!("expected Lagged, got {other:?}"),
    }
    next_matching(&mut events, LIMIT, |r| r.is_about_session(sid)).await;
    session.destroy().await.expect("destroy");
    client.close().await;
}

/// The broker and topic `mqttevh` publishes on.
#[cfg(feature = "evh-mqtt")]
fn mqtt_options() -> Option<janus_client::evh::MqttEvhOptions> {
    let port: u16 = env_or_skip("MQTT_BROKER_PORT")?
        .parse()
        .expect("a port number");
    let topic = env_or_skip("EVH_MQTT_TOPIC")?;
    Some(janus_client::evh::MqttEvhOptions::new("127.0.0.1", port).with_topic(topic))
}

#[cfg(feature = "evh-mqtt")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echotest_lifecycle_over_mqttevh() {
    let (Some(s), Some(options)) = (setup(), mqtt_options()) else {
        return;
    };
    let receiver = Receiver::new(&ReceiverOptions::default()).expect("receiver");
    let mut events = receiver.events();
    let consumer = receiver.consume_mqtt(&options).await.expect("subscribe");
    echotest_lifecycle(&s, &mut events, |src| {
        // addevent: one sub-topic per type.
        matches!(src, Source::Mqtt { topic } if topic.ends_with("/sessions") || topic.ends_with("/handles"))
    })
    .await;
    consumer.stop().await;
}

/// Publishes `payloads` on `topic` as another MQTT client, each acknowledged by the broker.
#[cfg(feature = "evh-mqtt")]
async fn publish_raw(
    options: &janus_client::evh::MqttEvhOptions,
    topic: &str,
    payloads: Vec<Vec<u8>>,
) {
    let mut o = rumqttc::MqttOptions::new(
        format!("evh-hostile-{}", std::process::id()),
        options.host.clone(),
        options.port,
    );
    o.set_max_packet_size(1 << 20, 1 << 20);
    let (raw, mut events) = rumqttc::AsyncClient::new(o, 16);
    let count = payloads.len();
    for p in payloads {
        raw.publish(topic, rumqttc::QoS::AtLeastOnce, false, p)
            .await
            .expect("queue a publish");
    }
    let mut acked = 0;
    tokio::time::timeout(LIMIT, async {
        while acked < count {
            match events.poll().await {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_))) => acked += 1,
                Ok(_) => {}
                Err(e) => panic!("publisher: {e}"),
            }
        }
    })
    .await
    .expect("the broker acknowledges every publish");
    let _ = raw.disconnect().await;
}

#[cfg(feature = "evh-mqtt")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_garbage_and_oversized_messages_are_counted_and_the_consumer_goes_on() {
    let (Some(s), Some(mut options)) = (setup(), mqtt_options()) else {
        return;
    };
    options.max_message = 64 * 1024;
    let receiver = Receiver::new(&ReceiverOptions::default()).expect("receiver");
    let mut events = receiver.events();
    let consumer = receiver.consume_mqtt(&options).await.expect("subscribe");
    assert_eq!(receiver.stats().connections, 1);
    let topic = format!("{}/sessions", options.topic);
    publish_raw(
        &options,
        &topic,
        vec![b"{not json".to_vec(), vec![0xff, 0xfe], b"[1, 2".to_vec()],
    )
    .await;
    // The handler's own status note is not an event, nor garbage.
    let status = format!("{}/status", options.topic);
    publish_raw(
        &options,
        &status,
        vec![br#"{"event":"connected"}"#.to_vec()],
    )
    .await;
    publish_raw(
        &options,
        &topic,
        vec![
            br#"{"emitter":"test-sender","type":1,"session_id":9,"event":{"name":"created"}}"#
                .to_vec(),
        ],
    )
    .await;
    let r = next_matching(&mut events, LIMIT, |r| r.emitter == "test-sender").await;
    assert_eq!(r.session_id(), Some(SessionId(9)));
    assert_eq!(receiver.stats().garbage, 3, "{:?}", receiver.stats());

    // Too large: the consumer's connection ends, and it connects and subscribes again
    // (what Janus publishes meanwhile is lost: wait for the new subscription).
    publish_raw(&options, &topic, vec![vec![b' '; 100 * 1024]]).await;
    assert!(
        eventually(LIMIT, || async {
            let s = receiver.stats();
            s.oversized == 1 && s.connections == 2
        })
        .await,
        "{:?}",
        receiver.stats()
    );
    echotest_lifecycle(&s, &mut events, |src| matches!(src, Source::Mqtt { .. })).await;
    assert_eq!(receiver.stats().garbage, 3);
    consumer.stop().await;
}

#[cfg(feature = "evh-mqtt")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_consumer_refuses_a_broker_it_cannot_reach() {
    let Some(mut options) = mqtt_options() else {
        return;
    };
    // A port nothing listens on: the first connection fails, and says where.
    let unused = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    options.port = unused.local_addr().expect("addr").port();
    drop(unused);
    options.connect_timeout = Duration::from_secs(5);
    let receiver = Receiver::new(&ReceiverOptions::default()).expect("receiver");
    match receiver.consume_mqtt(&options).await {
        Err(janus_client::evh::ListenError::Connect { endpoint, .. }) => {
            assert!(endpoint.contains(&options.port.to_string()), "{endpoint}")
        }
        other => panic!("expected a connect error, got {other:?}"),
    }
}

/// The broker and exchange `rabbitmqevh` publishes to.
#[cfg(feature = "evh-amqp")]
fn amqp_options() -> Option<janus_client::evh::AmqpEvhOptions> {
    let port: u16 = env_or_skip("RABBITMQ_PORT")?
        .parse()
        .expect("a port number");
    let exchange = env_or_skip("EVH_AMQP_EXCHANGE")?;
    let key = env_or_skip("EVH_AMQP_ROUTE_KEY")?;
    Some(
        janus_client::evh::AmqpEvhOptions::new("127.0.0.1", port)
            .with_exchange(exchange, "fanout", key),
    )
}

#[cfg(feature = "evh-amqp")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echotest_lifecycle_over_rabbitmqevh() {
    let (Some(s), Some(options)) = (setup(), amqp_options()) else {
        return;
    };
    let receiver = Receiver::new(&ReceiverOptions::default()).expect("receiver");
    let mut events = receiver.events();
    let consumer = receiver.consume_amqp(&options).await.expect("subscribe");
    echotest_lifecycle(&s, &mut events, |src| {
        matches!(src, Source::Amqp { routing_key } if routing_key.starts_with("janus-events-"))
    })
    .await;
    consumer.stop().await;
}

/// Publishes `payloads` to the exchange as another AMQP client.
#[cfg(feature = "evh-amqp")]
async fn publish_amqp(options: &janus_client::evh::AmqpEvhOptions, payloads: Vec<Vec<u8>>) {
    let url = format!("amqp://guest:guest@{}:{}/%2f", options.host, options.port);
    let connection = lapin::Connection::connect(&url, lapin::ConnectionProperties::default())
        .await
        .expect("connect");
    let channel = connection.create_channel().await.expect("channel");
    let exchange = options.exchange.clone().expect("an exchange");
    for p in payloads {
        channel
            .basic_publish(
                exchange.as_str().into(),
                options.route_key.as_str().into(),
                lapin::options::BasicPublishOptions::default(),
                &p,
                lapin::BasicProperties::default(),
            )
            .await
            .expect("publish")
            .await
            .expect("published");
    }
    let _ = connection.close(200, "done".into()).await;
}

#[cfg(feature = "evh-amqp")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amqp_garbage_and_oversized_messages_are_counted_and_the_consumer_goes_on() {
    let (Some(s), Some(mut options)) = (setup(), amqp_options()) else {
        return;
    };
    options.max_message = 64 * 1024;
    let receiver = Receiver::new(&ReceiverOptions::default()).expect("receiver");
    let mut events = receiver.events();
    let consumer = receiver.consume_amqp(&options).await.expect("subscribe");
    publish_amqp(
        &options,
        vec![
            b"{not json".to_vec(),
            vec![0xff, 0xfe],
            b"42".to_vec(),
            vec![b' '; 100 * 1024],
            br#"[{"emitter":"test-sender","type":1,"session_id":11,"event":{"name":"created"}}]"#
                .to_vec(),
        ],
    )
    .await;
    // In order on one queue: the event after the refused ones arrives, and they were counted.
    let r = next_matching(&mut events, LIMIT, |r| r.emitter == "test-sender").await;
    assert_eq!(r.session_id(), Some(SessionId(11)));
    let stats = receiver.stats();
    assert_eq!((stats.garbage, stats.oversized), (3, 1), "{stats:?}");
    echotest_lifecycle(&s, &mut events, |src| matches!(src, Source::Amqp { .. })).await;
    consumer.stop().await;
}

#[cfg(feature = "evh-amqp")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amqp_consumer_refuses_bad_credentials() {
    let Some(mut options) = amqp_options() else {
        return;
    };
    options.password = Some("not-the-password".into());
    options.connect_timeout = Duration::from_secs(10);
    let receiver = Receiver::new(&ReceiverOptions::default()).expect("receiver");
    match receiver.consume_amqp(&options).await {
        Err(janus_client::evh::ListenError::Connect { endpoint, reason }) => {
            assert!(endpoint.contains(&options.port.to_string()), "{endpoint}");
            assert!(!reason.contains("not-the-password"), "{reason}");
        }
        other => panic!("expected a connect error, got {other:?}"),
    }
}
