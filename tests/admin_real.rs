//! The Admin API against a real Janus, run once per compiled-in transport from one body:
//! the normal client and the admin client use the same transport.
//!
//! Needs `scripts/test` (or `scripts/janus start main --prefix JANUS`) to export
//! `JANUS_WS_URL`/`JANUS_HTTP_URL`, `JANUS_ADMIN_WS_URL`/`JANUS_ADMIN_HTTP_URL` and
//! `JANUS_ADMIN_SECRET`.

mod common;

use common::{assert_empty, env_or_skip, eventually, targets, Target};
use janus_client::admin::{AdminClient, Pcap};
use janus_client::{
    codes, connect_admin, ClientOptions, CloseReason, Config, Expect, HandleEvent, RawRequest,
    Secret, SessionEvent,
};
use serde_json::json;
use std::time::Duration;
use tokio::sync::RwLock;

const ECHOTEST: &str = "janus.plugin.echotest";
const VIDEOROOM: &str = "janus.plugin.videoroom";

/// Tests that change server-wide settings (accepting sessions, the session timeout, the log
/// level) take this for writing; the others for reading, so they never see those changes.
static SERVER_WIDE: RwLock<()> = RwLock::const_new(());

/// A normal client's target and the admin endpoint of the same instance over the same transport.
struct Pair {
    janus: Target,
    admin_url: String,
    secret: Secret,
}

impl Pair {
    async fn admin(&self) -> AdminClient {
        self.admin_with(self.secret.clone()).await
    }

    async fn admin_with(&self, secret: Secret) -> AdminClient {
        match connect_admin(Config::new(self.admin_url.clone()), secret).await {
            Ok(a) => a,
            Err(e) => panic!("cannot connect to the admin API at {}: {e}", self.admin_url),
        }
    }

    fn transport(&self) -> &'static str {
        self.janus.transport
    }

    /// The transport plugin serving this pair's admin endpoint.
    fn transport_plugin(&self) -> &'static str {
        match self.transport() {
            "ws" => "janus.transport.websockets",
            "unix" => "janus.transport.pfunix",
            _ => "janus.transport.http",
        }
    }
}

/// One pair per compiled-in transport of the instance `prefix`.
fn pairs(prefix: &str) -> Vec<Pair> {
    let Some(secret) = env_or_skip(&format!("{prefix}_ADMIN_SECRET")) else {
        return Vec::new();
    };
    targets(prefix)
        .into_iter()
        .filter_map(|janus| {
            let var = format!("{prefix}_ADMIN_{}_URL", janus.transport.to_uppercase());
            let admin_url = env_or_skip(&var)?;
            Some(Pair {
                janus,
                admin_url,
                secret: Secret::new(secret.clone()),
            })
        })
        .collect()
}

async fn sessions_and_handles_are_listed(p: Pair) {
    let _shared = SERVER_WIDE.read().await;
    let t = p.transport();
    let admin = p.admin().await;
    admin.ping().await.expect("ping");
    let info = admin.info().await.expect("info");
    assert_eq!(info.version, "1.1.2", "{t}");

    let client = p.janus.connect().await;
    let session = client.create_session().await.unwrap();
    let handle = session.attach(ECHOTEST).await.unwrap();
    let (sid, hid) = (session.id(), handle.id());

    assert!(admin.list_sessions().await.unwrap().contains(&sid), "{t}");
    assert_eq!(admin.list_handles(sid).await.unwrap(), vec![hid], "{t}");

    let info = admin
        .handle_info(sid, hid, false)
        .await
        .expect("handle_info");
    assert_eq!(info["plugin"], ECHOTEST, "{t}: {info}");
    assert_eq!(info["session_id"], sid.0);
    assert_eq!(info["handle_id"], hid.0);
    assert!(
        info.get("flags").is_some(),
        "{t}: full info has flags: {info}"
    );
    let info = admin
        .handle_info(sid, hid, true)
        .await
        .expect("plugin-only handle_info");
    assert_eq!(info["plugin"], ECHOTEST, "{t}: {info}");
    assert!(info["plugin_specific"].is_object(), "{t}: {info}");
    assert!(
        info.get("flags").is_none(),
        "{t}: plugin_only still has flags: {info}"
    );

    // No PeerConnection yet: hanging it up is still accepted.
    admin.hangup_webrtc(sid, hid).await.expect("hangup_webrtc");

    handle.detach().await.unwrap();
    assert_eq!(admin.list_handles(sid).await.unwrap(), vec![], "{t}");
    let e = admin.handle_info(sid, hid, false).await.unwrap_err();
    assert_eq!(e.janus_code(), Some(codes::HANDLE_NOT_FOUND), "{t}: {e}");

    session.destroy().await.unwrap();
    assert!(!admin.list_sessions().await.unwrap().contains(&sid), "{t}");
    let e = admin.list_handles(sid).await.unwrap_err();
    assert_eq!(e.janus_code(), Some(codes::SESSION_NOT_FOUND), "{t}: {e}");
    assert_empty(&client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_and_handles_are_listed_over_every_transport() {
    for p in pairs("JANUS") {
        sessions_and_handles_are_listed(p).await;
    }
}

async fn admin_detach_and_destroy_reach_the_client(p: Pair) {
    let _shared = SERVER_WIDE.read().await;
    let t = p.transport();
    let admin = p.admin().await;
    // Janus tells the owner nothing when the Admin API destroys a session (see below): only
    // the next keepalive finds out, so keep them frequent.
    let client = p
        .janus
        .connect_with(ClientOptions {
            keepalive_interval: Duration::from_secs(1),
            ..Default::default()
        })
        .await;
    let session = client.create_session().await.unwrap();
    let mut sev = session.events();
    let kept = session.attach(ECHOTEST).await.unwrap();
    let mut kept_ev = kept.events();

    // detach_handle: Janus sends `detached` to the owner, whose handle stream ends.
    let doomed = session.attach(ECHOTEST).await.unwrap();
    let mut doomed_ev = doomed.events();
    admin
        .detach_handle(session.id(), doomed.id())
        .await
        .expect("detach_handle");
    let mut last = None;
    while let Some(ev) = tokio::time::timeout(Duration::from_secs(5), doomed_ev.recv())
        .await
        .unwrap_or_else(|_| panic!("{t}: the detached handle's stream must end"))
    {
        last = Some(ev);
    }
    assert_eq!(
        last,
        Some(HandleEvent::Closed(CloseReason::DetachedByServer)),
        "{t}"
    );
    let e = doomed.message(json!({"audio": true})).await.unwrap_err();
    assert!(e.is_gone(), "{t}: {e}");

    // destroy_session: observed on Janus 1.1.2 over both WebSocket and HTTP, the owner gets
    // no `timeout`, `detached` or other message at all. The client learns it from its next
    // keepalive (458) and closes the session as lost.
    admin
        .destroy_session(session.id())
        .await
        .expect("destroy_session");
    let ev = tokio::time::timeout(Duration::from_secs(10), sev.recv())
        .await
        .unwrap_or_else(|_| panic!("{t}: no session event within 10 s"));
    match ev {
        // 458 from a keepalive, or (HTTP) 404 from the long poll, whichever asks first.
        Some(SessionEvent::Closed(CloseReason::SessionLost(why))) => {
            assert!(why.contains("458") || why.contains("404"), "{t}: {why}")
        }
        other => panic!("{t}: expected Closed(SessionLost(..458..)), got {other:?}"),
    }
    let mut last = None;
    while let Some(ev) = tokio::time::timeout(Duration::from_secs(5), kept_ev.recv())
        .await
        .unwrap_or_else(|_| panic!("{t}: the handle's stream must end"))
    {
        last = Some(ev);
    }
    assert!(
        matches!(last, Some(HandleEvent::Closed(CloseReason::SessionLost(_)))),
        "{t}: {last:?}"
    );
    let e = session.attach(ECHOTEST).await.unwrap_err();
    assert!(e.is_gone(), "{t}: {e}");
    assert_empty(&client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_detach_and_destroy_reach_the_client_over_every_transport() {
    for p in pairs("JANUS") {
        admin_detach_and_destroy_reach_the_client(p).await;
    }
}

async fn server_wide_settings_round_trip(p: Pair) {
    let _exclusive = SERVER_WIDE.write().await;
    let t = p.transport();
    let admin = p.admin().await;
    let status = admin.get_status().await.expect("get_status");
    let timeout = status.session_timeout.expect("session_timeout");
    let level = status.log_level.expect("log_level");
    assert_eq!(status.raw["session_timeout"], timeout, "{t}");

    // The session timeout, read back through get_status and through the Janus API's info.
    let longer = timeout + 17;
    let set = admin.set_session_timeout(longer).await;
    let seen = admin.get_status().await.map(|s| s.session_timeout);
    let info = p
        .janus
        .connect()
        .await
        .info()
        .await
        .map(|i| i.session_timeout);
    admin
        .set_session_timeout(timeout)
        .await
        .expect("restoring the session timeout");
    assert_eq!(set.expect("set_session_timeout"), longer, "{t}");
    assert_eq!(seen.unwrap(), Some(longer), "{t}");
    assert_eq!(info.unwrap(), Some(longer), "{t}");
    assert_eq!(
        admin.get_status().await.unwrap().session_timeout,
        Some(timeout)
    );

    // The log level; out of range is 467.
    let other = if level == 5 { 4 } else { 5 };
    let set = admin.set_log_level(other).await;
    let seen = admin.get_status().await.map(|s| s.log_level);
    admin
        .set_log_level(level)
        .await
        .expect("restoring the log level");
    assert_eq!(set.expect("set_log_level"), other, "{t}");
    assert_eq!(seen.unwrap(), Some(other), "{t}");
    let e = admin.set_log_level(8).await.unwrap_err();
    assert_eq!(
        e.janus_code(),
        Some(codes::INVALID_ELEMENT_TYPE),
        "{t}: {e}"
    );
    assert_eq!(admin.get_status().await.unwrap().log_level, Some(level));

    // Not accepting new sessions: `create` fails with 472, existing sessions keep working.
    let client = p.janus.connect().await;
    let existing = client.create_session().await.unwrap();
    admin
        .accept_new_sessions(false)
        .await
        .expect("accept_new_sessions(false)");
    let refused = client.create_session().await;
    let attach = existing.attach(ECHOTEST).await;
    admin
        .accept_new_sessions(true)
        .await
        .expect("accept_new_sessions(true)");
    let e = refused.expect_err("create while not accepting sessions");
    assert_eq!(
        e.janus_code(),
        Some(codes::NOT_ACCEPTING_SESSIONS),
        "{t}: {e}"
    );
    attach
        .expect("an existing session still attaches")
        .detach()
        .await
        .unwrap();
    let again = client
        .create_session()
        .await
        .expect("create after accepting again");
    again.destroy().await.unwrap();
    existing.destroy().await.unwrap();
    assert_empty(&client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_wide_settings_round_trip_over_every_transport() {
    for p in pairs("JANUS") {
        server_wide_settings_round_trip(p).await;
    }
}

async fn plugins_and_transports_are_queried(p: Pair) {
    let _shared = SERVER_WIDE.read().await;
    let t = p.transport();
    let admin = p.admin().await;

    let list = admin
        .message_plugin(VIDEOROOM, json!({"request": "list"}))
        .await
        .expect("videoroom list");
    assert_eq!(list["videoroom"], "success", "{t}: {list}");
    assert!(
        list["list"]
            .as_array()
            .is_some_and(|rooms| !rooms.is_empty()),
        "{t}: the default config has demo rooms: {list}"
    );
    let e = admin
        .message_plugin(VIDEOROOM, json!({"request": "no-such"}))
        .await
        .unwrap_err();
    assert_eq!(e.plugin_code(), Some(423), "{t}: {e}");
    let e = admin
        .message_plugin("janus.plugin.nosuch", json!({"request": "list"}))
        .await
        .unwrap_err();
    assert_eq!(e.janus_code(), Some(codes::PLUGIN_NOT_FOUND), "{t}: {e}");

    // The transport plugin serving this very connection counts it.
    let r = admin
        .query_transport(p.transport_plugin(), json!({"request": "connections"}))
        .await
        .expect("query_transport");
    // websockets answers `connections: N`, http `connections: {"http": N, "admin_http": M}`.
    assert_eq!(r["result"], 200, "{t}: {r}");
    assert!(r.get("connections").is_some(), "{t}: {r}");
    let e = admin
        .query_transport(p.transport_plugin(), json!({"request": "no-such"}))
        .await
        .unwrap_err();
    assert_eq!(e.plugin_code(), Some(411), "{t}: {e}");
    let e = admin
        .query_transport("janus.transport.nosuch", json!({"request": "connections"}))
        .await
        .unwrap_err();
    assert_eq!(e.janus_code(), Some(codes::PLUGIN_NOT_FOUND), "{t}: {e}");

    // The escape hatch, for a request without a method.
    let loops = admin
        .raw(RawRequest::new("loops_info", Expect::Success))
        .await
        .expect("loops_info");
    assert!(loops.body["loops"].is_array(), "{t}: {:?}", loops.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugins_and_transports_are_queried_over_every_transport() {
    for p in pairs("JANUS") {
        plugins_and_transports_are_queried(p).await;
    }
}

async fn a_wrong_secret_is_refused_without_leaking(p: Pair) {
    let t = p.transport();
    let wrong = "not-the-admin-secret-4f2a";
    let admin = p.admin_with(Secret::new(wrong)).await;
    assert!(!format!("{admin:?}").contains(wrong), "{t}: {admin:?}");
    // info and ping need no secret.
    admin.ping().await.expect("ping");
    admin.info().await.expect("info");
    for e in [
        admin.list_sessions().await.unwrap_err(),
        admin.get_status().await.unwrap_err(),
        admin.accept_new_sessions(true).await.unwrap_err(),
    ] {
        assert!(e.is_unauthorized(), "{t}: {e}");
        assert_eq!(e.janus_code(), Some(codes::UNAUTHORIZED), "{t}: {e}");
        assert!(!e.to_string().contains(wrong), "{t}: {e}");
        assert!(!format!("{e:?}").contains(wrong), "{t}: {e:?}");
    }
    // No secret at all: the same 403. (`raw` keeps a secret the request already carries.)
    let right = p.admin().await;
    let e = right
        .raw(RawRequest::new("list_sessions", Expect::Success).field("admin_secret", ""))
        .await
        .unwrap_err();
    assert_eq!(e.janus_code(), Some(codes::UNAUTHORIZED), "{t}: {e}");
    // The connection survives a refusal.
    right.list_sessions().await.expect("right secret");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_is_refused_without_leaking_over_every_transport() {
    for p in pairs("JANUS") {
        a_wrong_secret_is_refused_without_leaking(p).await;
    }
}

/// A fresh, empty directory under the system temp dir, removed on drop.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir =
            std::env::temp_dir().join(format!("janus-admin-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn pcap_capture_starts_and_stops(p: Pair) {
    let _shared = SERVER_WIDE.read().await;
    let t = p.transport();
    let admin = p.admin().await;
    let client = p.janus.connect().await;
    let session = client.create_session().await.unwrap();
    let handle = session.attach(ECHOTEST).await.unwrap();
    let (sid, hid) = (session.id(), handle.id());
    let dir = TempDir::new(t);
    let file = dir.0.join("capture.pcap");

    admin
        .start_pcap(
            sid,
            hid,
            Pcap::new()
                .folder(dir.0.to_string_lossy())
                .filename("capture.pcap")
                .truncate(64),
        )
        .await
        .expect("start_pcap");
    // Janus (on this machine) creates the file at once.
    let created = eventually(Duration::from_secs(3), || {
        let file = file.clone();
        async move { file.exists() }
    })
    .await;
    assert!(created, "{t}: {} not created", file.display());
    let e = admin.start_pcap(sid, hid, Pcap::new()).await.unwrap_err();
    assert_eq!(
        e.janus_code(),
        Some(codes::UNKNOWN),
        "{t}: already started: {e}"
    );

    admin.stop_pcap(sid, hid).await.expect("stop_pcap");
    // Closed: at least the 24-byte pcap header is on disk.
    let len = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    assert!(len >= 24, "{t}: {} has {len} bytes", file.display());
    let e = admin.stop_pcap(sid, hid).await.unwrap_err();
    assert_eq!(
        e.janus_code(),
        Some(codes::UNKNOWN),
        "{t}: not started: {e}"
    );
    let e = admin
        .stop_pcap(sid, hid.0.wrapping_add(1).into())
        .await
        .unwrap_err();
    assert_eq!(e.janus_code(), Some(codes::HANDLE_NOT_FOUND), "{t}: {e}");

    handle.detach().await.unwrap();
    session.destroy().await.unwrap();
    assert_empty(&client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pcap_capture_starts_and_stops_over_every_transport() {
    for p in pairs("JANUS") {
        pcap_capture_starts_and_stops(p).await;
    }
}

/// A log sink for the test below.
#[derive(Clone, Default)]
struct Capture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// current_thread: the connection tasks run on this thread, under the subscriber set here.
#[tokio::test]
async fn admin_logs_never_show_the_secret() {
    let _shared = SERVER_WIDE.read().await;
    let logs = Capture::default();
    let sink = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let wrong = "wrong-admin-secret-91ce";
    let mut secrets = Vec::new();
    for p in pairs("JANUS") {
        secrets.push(p.secret.expose().to_string());
        let admin = p.admin().await;
        admin.list_sessions().await.unwrap();
        admin.get_status().await.unwrap();
        let e = admin.stop_pcap(1.into(), 2.into()).await.unwrap_err();
        tracing::info!(error = %e, ?admin, "an admin error, logged the way an application would");
        let bad = p.admin_with(Secret::new(wrong)).await;
        let e = bad.list_sessions().await.unwrap_err();
        tracing::info!(error = %e, ?bad, "refused");
        admin.close().await;
        bad.close().await;
    }
    secrets.push(wrong.to_string());
    let text = String::from_utf8_lossy(&logs.0.lock().unwrap()).to_string();
    assert!(text.contains("refused"), "the capture works: {text}");
    for s in &secrets {
        assert!(!text.contains(s.as_str()), "the logs show {s}:\n{text}");
    }
}
