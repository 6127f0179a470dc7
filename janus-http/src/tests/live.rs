//! Against a real Janus, when `JANUS_HTTP_URL` is set (`scripts/janus start NAME` prints it;
//! `scripts/test` sets it). Without it each test prints a loud SKIPPED line, or panics when
//! `CI` is set.
//!
//! - `JANUS_HTTP_URL` (and `JANUS_ADMIN_HTTP_URL`, `JANUS_ADMIN_SECRET`): a default server.
//! - `JANUS_AUTH_HTTP_URL` and `JANUS_AUTH_API_SECRET`: a server started with `--api-secret`
//!   (`scripts/test` starts one); the auth tests are skipped without them.
//! - The crash test starts (and stops) a private instance of its own with `scripts/janus`.

use janus_core::{
    Client, ClientOptions, CloseReason, ConnectionState, Credentials, HandleId, OutgoingMessage,
    ReconnectPolicy, SessionEvent, SessionId, Transport, TransportEvent,
};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{timeout, Instant};
use url::Url;

use crate::{HttpConnector, HttpOptions};

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|s| !s.is_empty())
}

/// The default server's URL, or `None` (with a loud line) when the test cannot run here.
fn janus_url(test: &str) -> Option<Url> {
    match env("JANUS_HTTP_URL") {
        Some(u) => Some(u.parse().expect("JANUS_HTTP_URL is not a URL")),
        None => {
            assert!(
                std::env::var_os("CI").is_none(),
                "{test}: JANUS_HTTP_URL is not set, and CI is: start a server with `scripts/janus start NAME`"
            );
            eprintln!("=================================================================");
            eprintln!("SKIPPED {test}: JANUS_HTTP_URL is not set (scripts/janus start NAME)");
            eprintln!("=================================================================");
            None
        }
    }
}

/// The api-secret server's URL and secret, if this environment has one.
fn auth_server(test: &str) -> Option<(Url, String)> {
    janus_url(test)?;
    match (env("JANUS_AUTH_HTTP_URL"), env("JANUS_AUTH_API_SECRET")) {
        (Some(u), Some(s)) => Some((u.parse().expect("JANUS_AUTH_HTTP_URL is not a URL"), s)),
        _ => {
            eprintln!(
                "SKIPPED {test}: JANUS_AUTH_HTTP_URL/JANUS_AUTH_API_SECRET are not set \
                 (scripts/janus start NAME --prefix JANUS_AUTH --api-secret S)"
            );
            None
        }
    }
}

/// A connector to `url` and client options with the api secret, if any: the client puts it
/// in POST bodies, the transport in the long poll's query string.
fn with_secret(url: Url, secret: Option<&str>) -> (HttpConnector, ClientOptions) {
    let connector = HttpConnector::new(url, HttpOptions::default()).unwrap();
    let Some(secret) = secret else {
        return (connector, ClientOptions::default());
    };
    let options = ClientOptions {
        api_secret: Some(secret.into()),
        ..ClientOptions::default()
    };
    (connector, options)
}

/// A TCP proxy in front of `target` that counts the connections it accepts.
async fn counting_proxy(target: &Url) -> (Url, Arc<AtomicUsize>) {
    let host = target.host_str().expect("a host").to_string();
    let port = target.port_or_known_default().expect("a port");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let local = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            c.fetch_add(1, Ordering::SeqCst);
            let host = host.clone();
            tokio::spawn(async move {
                if let Ok(mut outbound) = TcpStream::connect((host.as_str(), port)).await {
                    // No Nagle delays added by the proxy itself.
                    let _ = inbound.set_nodelay(true);
                    let _ = outbound.set_nodelay(true);
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    let mut url = target.clone();
    url.set_host(Some("127.0.0.1")).unwrap();
    url.set_port(Some(local.port())).unwrap();
    (url, count)
}

/// create, attach echotest, 20 messages (ack as the POST's reply, event through the long
/// poll), a plugin error, detach, destroy; checks the counts and the TCP connections used.
async fn echotest_lifecycle(url: Url, secret: Option<&str>) {
    let (proxied, connections) = counting_proxy(&url).await;
    let (connector, options) = with_secret(proxied, secret);
    let t0 = Instant::now();
    let client = Client::connect(Arc::new(connector), options).await.unwrap();
    let connected = t0.elapsed();

    let t = Instant::now();
    let session = client.create_session().await.unwrap();
    let create = t.elapsed();
    let t = Instant::now();
    let handle = session.attach("janus.plugin.echotest").await.unwrap();
    let attach = t.elapsed();

    let mut rtts = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let reply = handle
            .message(serde_json::json!({"audio": true}))
            .await
            .unwrap();
        rtts.push(t.elapsed());
        assert_eq!(reply.data["echotest"], "event");
        assert_eq!(reply.data["result"], "ok");
    }
    // A plugin error also comes through the poll (an event with error_code 413).
    let err = handle
        .message(serde_json::json!({"nothing": 1}))
        .await
        .unwrap_err();
    assert_eq!(err.plugin_code(), Some(413), "{err:?}");

    handle.detach().await.unwrap();
    session.destroy().await.unwrap();
    let stats = client.stats();
    assert_eq!(stats.sessions, 0);
    assert_eq!(stats.handles, 0);
    assert_eq!(stats.pending_transactions, 0);
    assert_eq!(stats.malformed_messages, 0);
    client.close().await;

    rtts.sort();
    let n = connections.load(Ordering::SeqCst);
    eprintln!(
        "live HTTP lifecycle (api secret: {}): connect {connected:?}, create {create:?}, \
         attach {attach:?}, message (ack + event) median {:?} max {:?} over {} runs, \
         {n} TCP connections",
        secret.is_some(),
        rtts[rtts.len() / 2],
        rtts[rtts.len() - 1],
        rtts.len()
    );
    // The info check, the POSTs (kept alive) and one poll: not one connection per request.
    assert!(n <= 6, "{n} TCP connections for about 30 requests");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_echotest_lifecycle() {
    let Some(url) = janus_url("live_echotest_lifecycle") else {
        return;
    };
    echotest_lifecycle(url, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_echotest_lifecycle_with_an_api_secret() {
    let Some((url, secret)) = auth_server("live_echotest_lifecycle_with_an_api_secret") else {
        return;
    };
    echotest_lifecycle(url, Some(&secret)).await;
}

/// A session created with the api secret, polled without it (no `set_credentials`) or with
/// a wrong one: the poll is refused (403) and the session reported gone, instead of
/// waiting forever for events. With the secret, the poll is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_poll_without_the_api_secret_loses_the_session() {
    let Some((url, secret)) = auth_server("live_poll_without_the_api_secret_loses_the_session")
    else {
        return;
    };
    let connector = HttpConnector::new(url, HttpOptions::default()).unwrap();
    let wrong = Credentials {
        api_secret: Some("not-the-secret".into()),
        token: None,
    };
    let right = Credentials {
        api_secret: Some(secret.as_str().into()),
        token: None,
    };
    for (credentials, refused) in [(None, true), (Some(&wrong), true), (Some(&right), false)] {
        let mut t = connector.open().await.unwrap();
        if let Some(c) = credentials {
            t.set_credentials(c);
        }
        let mut create = super::out("create", "c1", None, None);
        create.json =
            serde_json::json!({"janus": "create", "transaction": "c1", "apisecret": secret})
                .to_string();
        t.send(create).await.unwrap();
        let reply = match timeout(Duration::from_secs(5), t.recv()).await {
            Ok(Ok(TransportEvent::Reply { text, .. })) => text,
            other => panic!("no reply to create: {other:?}"),
        };
        let reply: serde_json::Value = serde_json::from_str(&reply).unwrap();
        let id = reply["data"]["id"].as_u64().expect("a session id");
        let session = SessionId(id);
        // Sessions are polled once they have a handle.
        t.session_opened(session);
        t.handle_opened(session, HandleId(1));
        // Janus answers an idle poll after 30 s with a keepalive; a refusal comes at once.
        let ev = timeout(Duration::from_secs(3), t.recv()).await;
        if refused {
            let ev = ev.expect("no answer to the poll").unwrap();
            assert!(
                matches!(&ev, TransportEvent::SessionGone { session: s, reason } if *s == session && reason.contains("403")),
                "{credentials:?}: {ev:?}"
            );
        } else {
            assert!(
                ev.is_err(),
                "{credentials:?}: the poll was answered: {ev:?}"
            );
            assert_eq!(t.polled_sessions(), vec![session]);
        }
        let mut destroy = super::out("destroy", "d1", Some(id), None);
        destroy.json = serde_json::json!({
            "janus": "destroy", "transaction": "d1", "session_id": id, "apisecret": secret
        })
        .to_string();
        t.session_closed(session);
        t.send(destroy).await.unwrap();
        t.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_poll_on_an_unknown_session_is_gone() {
    let Some(url) = janus_url("live_poll_on_an_unknown_session_is_gone") else {
        return;
    };
    let connector = HttpConnector::new(url, HttpOptions::default()).unwrap();
    let mut t = connector.open().await.unwrap();
    t.session_opened(SessionId(4_242_424_242));
    // Only sessions with handles are polled.
    t.handle_opened(SessionId(4_242_424_242), HandleId(1));
    let ev = timeout(Duration::from_secs(5), t.recv())
        .await
        .expect("no answer to the poll")
        .unwrap();
    assert!(
        matches!(ev, TransportEvent::SessionGone { session, .. } if session == SessionId(4_242_424_242)),
        "{ev:?}"
    );
}

/// The Admin API over HTTP: same transport, base path `/admin`, POST only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_admin_api_over_http() {
    if janus_url("live_admin_api_over_http").is_none() {
        return;
    }
    let Some(url) = env("JANUS_ADMIN_HTTP_URL") else {
        eprintln!("SKIPPED live_admin_api_over_http: JANUS_ADMIN_HTTP_URL is not set");
        return;
    };
    let secret = env("JANUS_ADMIN_SECRET").unwrap_or_else(|| "janusoverlord".into());
    let connector = HttpConnector::new(url.parse().unwrap(), HttpOptions::default()).unwrap();
    let mut t = connector.open().await.unwrap();
    let json =
        serde_json::json!({"janus": "list_sessions", "transaction": "a1", "admin_secret": secret});
    t.send(OutgoingMessage {
        verb: janus_core::Verb::Other {
            name: "list_sessions",
            expect: janus_core::Expect::Success,
        },
        transaction: "a1".into(),
        session_id: None,
        handle_id: None,
        json: json.to_string(),
        deadline: None,
        in_flight: 0,
    })
    .await
    .unwrap();
    let ev = timeout(Duration::from_secs(5), t.recv())
        .await
        .expect("no reply")
        .unwrap();
    let TransportEvent::Reply { transaction, text } = ev else {
        panic!("expected a reply, got {ev:?}");
    };
    assert_eq!(transaction, "a1");
    let reply: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(reply["janus"], "success", "{reply}");
    assert!(reply["sessions"].is_array(), "{reply}");
}

/// A private Janus of this test's own, stopped on drop (even when the test panics).
struct PrivateJanus {
    name: String,
    http_url: Url,
}

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/janus");

fn run_script(args: &[&str]) -> String {
    let out = std::process::Command::new(SCRIPT)
        .args(args)
        .output()
        .expect("cannot run scripts/janus");
    assert!(
        out.status.success(),
        "scripts/janus {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl PrivateJanus {
    async fn start(name: String) -> Self {
        let n = name.clone();
        let out = tokio::task::spawn_blocking(move || run_script(&["start", &n]))
            .await
            .unwrap();
        let http_url = out
            .lines()
            .find_map(|l| l.strip_prefix("JANUS_HTTP_URL="))
            .expect("scripts/janus printed no JANUS_HTTP_URL")
            .parse()
            .unwrap();
        PrivateJanus { name, http_url }
    }

    async fn run(&self, what: &'static str) {
        let n = self.name.clone();
        tokio::task::spawn_blocking(move || run_script(&[what, &n]))
            .await
            .unwrap();
    }
}

impl Drop for PrivateJanus {
    fn drop(&mut self) {
        let _ = std::process::Command::new(SCRIPT)
            .args(["stop", &self.name])
            .output();
    }
}

/// Kills the server (SIGKILL) under a live session, then restarts it on the same ports: the
/// client notices, fails its reconnect attempts while the server is down, reconnects when
/// it is back, and reports the session lost (a restarted Janus has no sessions).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_reconnect_after_a_crash() {
    if janus_url("live_reconnect_after_a_crash").is_none() {
        return;
    }
    let janus = PrivateJanus::start(format!("janus-http-crash-{}", std::process::id())).await;
    let options = ClientOptions {
        reconnect: ReconnectPolicy {
            max_delay: Duration::from_secs(1),
            ..ReconnectPolicy::default()
        },
        ..ClientOptions::default()
    };
    let connector = HttpConnector::new(janus.http_url.clone(), HttpOptions::default()).unwrap();
    let client = Client::connect(Arc::new(connector), options).await.unwrap();
    let mut state = client.connection_state();
    let session = client.create_session().await.unwrap();
    let mut events = session.events();
    let _handle = session.attach("janus.plugin.echotest").await.unwrap();

    janus.run("kill").await;
    let t = Instant::now();
    timeout(
        Duration::from_secs(10),
        // Disconnected turns into Reconnecting at once: a watch may show only the latter.
        state.wait_for(|s| {
            matches!(
                s,
                ConnectionState::Disconnected { .. } | ConnectionState::Reconnecting { .. }
            )
        }),
    )
    .await
    .expect("the crash went unnoticed")
    .unwrap();
    let noticed = t.elapsed();
    // Interrupted first (the transport stays open while it checks the server), then closed
    // after `unreachable_timeout`: the client reconnects, and fails while the server is down.
    timeout(
        Duration::from_secs(10),
        state.wait_for(|s| matches!(s, ConnectionState::Reconnecting { .. })),
    )
    .await
    .expect("no reconnect attempt while the server is down")
    .unwrap();

    janus.run("restart").await;
    let t = Instant::now();
    timeout(
        Duration::from_secs(15),
        state.wait_for(|s| matches!(s, ConnectionState::Reconnected)),
    )
    .await
    .expect("no reconnect")
    .unwrap();
    let back = t.elapsed();
    let ev = timeout(Duration::from_secs(5), events.recv())
        .await
        .expect("no session event");
    assert!(
        matches!(ev, Some(SessionEvent::Closed(CloseReason::SessionLost(_)))),
        "{ev:?}"
    );
    // The new connection works.
    let session = client.create_session().await.unwrap();
    let handle = session.attach("janus.plugin.echotest").await.unwrap();
    let reply = handle
        .message(serde_json::json!({"audio": true}))
        .await
        .unwrap();
    assert_eq!(reply.data["result"], "ok");
    session.destroy().await.unwrap();
    client.close().await;
    eprintln!(
        "live crash: noticed after {noticed:?}; reconnected {back:?} after the restarted server was ready"
    );
}
