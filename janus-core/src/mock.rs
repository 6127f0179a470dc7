//! An in-memory fake Janus for tests (feature `mock`).
//!
//! [`MockJanus`] answers like the real server for `info`, `ping`, `create`, `attach`,
//! `keepalive`, `claim`, `detach`, `hangup`, `trickle` and `destroy`, and lets a test script
//! what the real server cannot be made to do on demand: plugin replies of every shape
//! (synchronous, ack then event, event before ack, plugin errors), events pushed to any
//! handle, delayed or dropped replies, malformed frames, and closed connections.
//!
//! ```
//! # use janus_core as janus_client;
//! # tokio_test::block_on(async {
//! use janus_client::mock::{MockJanus, PluginReply};
//! use janus_client::{Client, ClientOptions};
//! use serde_json::json;
//!
//! // The fake server: the echotest answers every message with ack, then an event.
//! let janus = MockJanus::new();
//! janus.on_message("janus.plugin.echotest", |_body| {
//!     PluginReply::event(json!({"echotest": "event", "result": "ok"}))
//! });
//!
//! // The application's code under test uses a normal Client.
//! let client = Client::connect(janus.connector(), ClientOptions::default()).await.unwrap();
//! let session = client.create_session().await.unwrap();
//! let handle = session.attach("janus.plugin.echotest").await.unwrap();
//! let reply = handle.message(json!({"audio": true})).await.unwrap();
//! assert_eq!(reply.data["result"], "ok");
//! assert_eq!(janus.session_count(), 1);
//! # });
//! ```
//!
//! The fake's queues towards the client are unbounded on purpose: a fake that silently
//! dropped replies when a buffer filled would hide the very bugs it is there to find.
//! It is a test tool; do not use it in production code.

use async_trait::async_trait;
use serde_json::{json, Map, Value};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::mpsc;

use crate::error::Error;
use crate::transport::{Connector, OutgoingMessage, SessionOwnership, Transport, TransportEvent};

/// How the fake plugin answers one `message`.
#[derive(Clone, Debug)]
pub struct PluginReply {
    kind: ReplyKind,
    jsep: Option<Value>,
    delay: Duration,
}

#[derive(Clone, Debug)]
enum ReplyKind {
    Sync(Value),
    Event { data: Value, event_first: bool },
    CoreError { code: u16, reason: String },
    AckOnly,
    Nothing,
}

impl PluginReply {
    /// A synchronous answer: `success` with this plugin data.
    pub fn sync(data: Value) -> Self {
        PluginReply {
            kind: ReplyKind::Sync(data),
            jsep: None,
            delay: Duration::ZERO,
        }
    }

    /// An asynchronous answer: `ack`, then `event` with this data and the same transaction.
    pub fn event(data: Value) -> Self {
        PluginReply {
            kind: ReplyKind::Event {
                data,
                event_first: false,
            },
            jsep: None,
            delay: Duration::ZERO,
        }
    }

    /// Like [`event`](Self::event), but the event is sent before the ack (trap 3).
    pub fn event_before_ack(data: Value) -> Self {
        PluginReply {
            kind: ReplyKind::Event {
                data,
                event_first: true,
            },
            jsep: None,
            delay: Duration::ZERO,
        }
    }

    /// A plugin error carried in an asynchronous event (`error_code`/`error`).
    pub fn plugin_error(code: i64, reason: &str) -> Self {
        PluginReply::event(json!({"error_code": code, "error": reason}))
    }

    /// A Janus core error for the message.
    pub fn core_error(code: u16, reason: &str) -> Self {
        PluginReply {
            kind: ReplyKind::CoreError {
                code,
                reason: reason.into(),
            },
            jsep: None,
            delay: Duration::ZERO,
        }
    }

    /// An `ack` and never an event.
    pub fn ack_only() -> Self {
        PluginReply {
            kind: ReplyKind::AckOnly,
            jsep: None,
            delay: Duration::ZERO,
        }
    }

    /// No answer at all.
    pub fn nothing() -> Self {
        PluginReply {
            kind: ReplyKind::Nothing,
            jsep: None,
            delay: Duration::ZERO,
        }
    }

    /// Adds a JSEP to the answer.
    pub fn with_jsep(mut self, jsep: Value) -> Self {
        self.jsep = Some(jsep);
        self
    }

    /// Sends the answer (the event, for asynchronous ones) after `delay`.
    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

type Responder = Arc<dyn Fn(&Value) -> PluginReply + Send + Sync>;

enum Out {
    Frame(String),
    Close(String),
    Interrupted(String),
    Restored,
}

struct MockSession {
    conn: u64,
    handles: HashSet<u64>,
    keepalives: u64,
}

#[derive(Default)]
struct Inner {
    next_conn: u64,
    next_id: u64,
    conns: HashMap<u64, mpsc::UnboundedSender<Out>>,
    sessions: HashMap<u64, MockSession>,
    handles: HashMap<u64, (u64, String)>,
    responders: HashMap<String, Responder>,
    drop_next: HashMap<String, usize>,
    delay_next: HashMap<String, (usize, Duration)>,
    keep_sessions_on_close: bool,
    /// Sessions belong to no connection, as over a broker (see `shared_sessions`).
    shared_sessions: bool,
    refuse_connections: bool,
    hang_connections: bool,
    interrupted: bool,
    connect_error: Option<Error>,
    requests: Vec<Value>,
    /// `session-timeout` in `info` (seconds); 60 when not set.
    session_timeout: Option<u64>,
}

/// The fake Janus server. Cheap to clone; clones share the server.
#[derive(Clone, Default)]
pub struct MockJanus {
    inner: Arc<Mutex<Inner>>,
}

impl std::fmt::Debug for MockJanus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockJanus").finish_non_exhaustive()
    }
}

impl MockJanus {
    /// A fake server with no plugins scripted: a message to an unscripted plugin gets a
    /// synchronous `success` with empty data.
    pub fn new() -> Self {
        let m = MockJanus::default();
        m.lock().next_id = 1_000;
        m
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panicking test thread must not wedge every other user of the fake.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A connector whose every `connect` opens a new in-memory connection to this server.
    pub fn connector(&self) -> Arc<dyn Connector> {
        Arc::new(MockConnector {
            janus: self.clone(),
        })
    }

    /// Scripts how `plugin` answers a `message`; the closure gets the message's `body`.
    pub fn on_message<F>(&self, plugin: &str, f: F)
    where
        F: Fn(&Value) -> PluginReply + Send + Sync + 'static,
    {
        self.lock()
            .responders
            .insert(plugin.to_string(), Arc::new(f));
    }

    /// Drops the replies to the next `count` requests of kind `janus` (`keepalive`, `message`, ...).
    pub fn drop_next(&self, janus: &str, count: usize) {
        self.lock().drop_next.insert(janus.to_string(), count);
    }

    /// Delays the replies to the next `count` requests of kind `janus`.
    pub fn delay_next(&self, janus: &str, count: usize, delay: Duration) {
        self.lock()
            .delay_next
            .insert(janus.to_string(), (count, delay));
    }

    /// Whether sessions survive their connection closing (like a reclaim window); default false.
    pub fn keep_sessions_on_close(&self, keep: bool) {
        self.lock().keep_sessions_on_close = keep;
    }

    /// Behaves like Janus behind a broker (RabbitMQ, MQTT) when `shared` is true: connections
    /// opened from now on report [`SessionOwnership::Shared`], sessions outlive every
    /// connection, answers and a session's events go to every open connection (as a broker
    /// hands them to every subscriber), and `claim` is answered with an error, since a client of such
    /// a transport has no reason to send one. Default false.
    pub fn shared_sessions(&self, shared: bool) {
        self.lock().shared_sessions = shared;
    }

    /// Makes `connect` fail (a server that is down).
    pub fn refuse_connections(&self, refuse: bool) {
        self.lock().refuse_connections = refuse;
    }

    /// Makes `connect` fail with this error (for instance an unauthorized one, which a
    /// reconnect loop must not retry); `None` restores normal connects.
    pub fn fail_connections_with(&self, error: Option<Error>) {
        self.lock().connect_error = error;
    }

    /// Pushes an event to a handle; `session_id` and `sender` are filled in.
    pub fn push_event(&self, handle: u64, mut event: Value) {
        let mut g = self.lock();
        let Some((session, _)) = g.handles.get(&handle).cloned() else {
            return;
        };
        if let Some(obj) = event.as_object_mut() {
            obj.insert("session_id".into(), session.into());
            obj.insert("sender".into(), handle.into());
        }
        send_to_session(&mut g, session, &event);
    }

    /// Pushes a plugin event (`janus: event` with `plugindata`) to a handle.
    pub fn push_plugin_event(&self, handle: u64, data: Value) {
        let plugin = self
            .lock()
            .handles
            .get(&handle)
            .map(|(_, p)| p.clone())
            .unwrap_or_default();
        self.push_event(
            handle,
            json!({"janus": "event", "plugindata": {"plugin": plugin, "data": data}}),
        );
    }

    /// Times a session out as Janus does: `timeout`, then the session is gone.
    pub fn expire_session(&self, session: u64) {
        let mut g = self.lock();
        send_to_session(
            &mut g,
            session,
            &json!({"janus": "timeout", "session_id": session}),
        );
        remove_session(&mut g, session);
    }

    /// Forgets every session, as a restarted Janus would.
    pub fn forget_sessions(&self) {
        let mut g = self.lock();
        g.sessions.clear();
        g.handles.clear();
    }

    /// Sends raw text to every open connection (malformed JSON, wrong types, ...).
    pub fn send_raw(&self, text: &str) {
        for tx in self.lock().conns.values() {
            let _ = tx.send(Out::Frame(text.to_string()));
        }
    }

    /// The server stops answering while connections stay open, as a stalled network (or,
    /// over HTTP, a server that stopped answering its checks) would: open connections
    /// report [`TransportEvent::Interrupted`] with `reason`, and requests get no answer
    /// until [`restore`](Self::restore).
    pub fn interrupt(&self, reason: &str) {
        let mut g = self.lock();
        g.interrupted = true;
        for tx in g.conns.values() {
            let _ = tx.send(Out::Interrupted(reason.to_string()));
        }
    }

    /// Ends [`interrupt`](Self::interrupt): open connections report
    /// [`TransportEvent::Restored`] and requests are answered again.
    pub fn restore(&self) {
        let mut g = self.lock();
        g.interrupted = false;
        for tx in g.conns.values() {
            let _ = tx.send(Out::Restored);
        }
    }

    /// The `session-timeout` the fake reports in `info` (60 s by default), as a server
    /// restarted with another configuration would. (The fake itself never times sessions
    /// out; see [`expire_session`](Self::expire_session).)
    pub fn set_session_timeout(&self, seconds: u64) {
        self.lock().session_timeout = Some(seconds);
    }

    /// While true, a new connection attempt hangs for good (the client's own timeout ends
    /// it), as one into a network that accepts connections and forwards nothing.
    pub fn hang_connections(&self, hang: bool) {
        self.lock().hang_connections = hang;
    }

    /// Closes every open connection, as a network cut would.
    pub fn close_connections(&self) {
        let mut g = self.lock();
        let conns: Vec<u64> = g.conns.keys().copied().collect();
        for c in conns {
            close_conn(&mut g, c, "closed by the mock");
        }
    }

    /// Sessions the fake server holds.
    pub fn session_count(&self) -> usize {
        self.lock().sessions.len()
    }

    /// Handles the fake server holds.
    pub fn handle_count(&self) -> usize {
        self.lock().handles.len()
    }

    /// Open connections.
    pub fn connection_count(&self) -> usize {
        self.lock().conns.len()
    }

    /// Keepalives received for a session.
    pub fn keepalives(&self, session: u64) -> u64 {
        self.lock()
            .sessions
            .get(&session)
            .map(|s| s.keepalives)
            .unwrap_or(0)
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Value> {
        self.lock().requests.clone()
    }

    fn connect(&self) -> Result<MockTransport, Error> {
        let mut g = self.lock();
        if let Some(e) = &g.connect_error {
            return Err(e.clone());
        }
        if g.refuse_connections {
            return Err(Error::transport("connection refused (mock)"));
        }
        g.next_conn += 1;
        let id = g.next_conn;
        let (tx, rx) = mpsc::unbounded_channel();
        g.conns.insert(id, tx);
        let ownership = if g.shared_sessions {
            SessionOwnership::Shared
        } else {
            SessionOwnership::Connection
        };
        Ok(MockTransport {
            janus: self.clone(),
            conn: id,
            rx,
            ownership,
        })
    }

    fn handle_request(&self, conn: u64, text: &str) {
        let req: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(_) => {
                self.reply(
                    conn,
                    "?",
                    json!({"janus":"error","error":{"code":454,"reason":"JSON error"}}),
                    Duration::ZERO,
                );
                return;
            }
        };
        let janus = req["janus"].as_str().unwrap_or_default().to_string();
        let txn = req["transaction"].clone();
        let sid = req["session_id"].as_u64();
        let hid = req["handle_id"].as_u64();
        let mut g = self.lock();
        g.requests.push(req.clone());
        if g.interrupted {
            return;
        }
        let dropped = match g.drop_next.get_mut(&janus) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        };
        if dropped {
            return;
        }
        let delay = match g.delay_next.get_mut(&janus) {
            Some((n, d)) if *n > 0 => {
                *n -= 1;
                *d
            }
            _ => Duration::ZERO,
        };
        let err = |code: u16, reason: &str| json!({"janus":"error","transaction":txn,"session_id":sid,"error":{"code":code,"reason":reason}});
        let session_ok = sid.is_some_and(|s| g.sessions.contains_key(&s));
        let handle_ok =
            hid.is_some_and(|h| g.handles.get(&h).is_some_and(|(s, _)| Some(*s) == sid));
        let reply = match janus.as_str() {
            "info" => {
                json!({"janus":"server_info","transaction":txn,"name":"Mock Janus","version":1102,"version_string":"1.1.2","session-timeout":g.session_timeout.unwrap_or(60),"reclaim-session-timeout":0,"api_secret":false,"auth_token":false,"plugins":{}})
            }
            "ping" => json!({"janus":"pong","transaction":txn}),
            "create" => {
                g.next_id += 1;
                let id = req["id"].as_u64().unwrap_or(g.next_id);
                match g.sessions.entry(id) {
                    std::collections::hash_map::Entry::Occupied(_) => {
                        err(468, "Session ID already in use")
                    }
                    std::collections::hash_map::Entry::Vacant(v) => {
                        v.insert(MockSession {
                            conn,
                            handles: HashSet::new(),
                            keepalives: 0,
                        });
                        json!({"janus":"success","transaction":txn,"data":{"id":id}})
                    }
                }
            }
            _ if !session_ok => err(458, "No such session"),
            "keepalive" => {
                if let Some(s) = sid.and_then(|s| g.sessions.get_mut(&s)) {
                    s.keepalives += 1;
                }
                json!({"janus":"ack","transaction":txn,"session_id":sid})
            }
            "claim" if g.shared_sessions => err(
                490,
                "claim over a transport whose sessions belong to no connection",
            ),
            "claim" => {
                if let Some(s) = sid.and_then(|s| g.sessions.get_mut(&s)) {
                    s.conn = conn;
                }
                json!({"janus":"success","transaction":txn,"session_id":sid})
            }
            "attach" => {
                let plugin = req["plugin"].as_str().unwrap_or_default().to_string();
                if !plugin.starts_with("janus.plugin.") {
                    err(460, "No such plugin")
                } else {
                    g.next_id += 1;
                    let id = g.next_id;
                    let s = sid.unwrap_or_default();
                    g.handles.insert(id, (s, plugin));
                    if let Some(sess) = g.sessions.get_mut(&s) {
                        sess.handles.insert(id);
                    }
                    json!({"janus":"success","transaction":txn,"session_id":sid,"data":{"id":id}})
                }
            }
            "destroy" => {
                if let Some(s) = sid {
                    remove_session(&mut g, s);
                }
                json!({"janus":"success","transaction":txn,"session_id":sid})
            }
            _ if !handle_ok => err(459, "No such handle"),
            "detach" => {
                if let Some(h) = hid {
                    g.handles.remove(&h);
                    if let Some(s) = sid.and_then(|s| g.sessions.get_mut(&s)) {
                        s.handles.remove(&h);
                    }
                }
                drop(g);
                // As Janus does: the success, then the handle's `detached`.
                self.reply_many(
                    conn,
                    vec![
                        json!({"janus":"success","transaction":txn,"session_id":sid}),
                        json!({"janus":"detached","session_id":sid,"sender":hid}),
                    ],
                    delay,
                );
                return;
            }
            "hangup" => json!({"janus":"success","transaction":txn,"session_id":sid}),
            "trickle" => json!({"janus":"ack","transaction":txn,"session_id":sid}),
            "message" => {
                let plugin = hid
                    .and_then(|h| g.handles.get(&h))
                    .map(|(_, p)| p.clone())
                    .unwrap_or_default();
                let responder = g.responders.get(&plugin).cloned();
                drop(g);
                let reply = match responder {
                    Some(f) => f(&req["body"]),
                    None => PluginReply::sync(json!({})),
                };
                self.plugin_reply(conn, &txn, sid, hid, &plugin, reply, delay);
                return;
            }
            _ => err(453, "Unknown request"),
        };
        drop(g);
        self.reply(conn, &janus, reply, delay);
    }

    #[allow(clippy::too_many_arguments)]
    fn plugin_reply(
        &self,
        conn: u64,
        txn: &Value,
        sid: Option<u64>,
        hid: Option<u64>,
        plugin: &str,
        reply: PluginReply,
        delay: Duration,
    ) {
        let delay = delay + reply.delay;
        let with_jsep = |mut v: Value| {
            if let (Some(j), Some(o)) = (&reply.jsep, v.as_object_mut()) {
                o.insert("jsep".into(), j.clone());
            }
            v
        };
        let ack = json!({"janus":"ack","transaction":txn,"session_id":sid});
        match reply.kind.clone() {
            ReplyKind::Sync(data) => self.reply(
                conn,
                "message",
                with_jsep(json!({"janus":"success","transaction":txn,"session_id":sid,"sender":hid,
                    "plugindata":{"plugin":plugin,"data":data}})),
                delay,
            ),
            ReplyKind::Event { data, event_first } => {
                let event = with_jsep(json!({"janus":"event","transaction":txn,"session_id":sid,"sender":hid,
                    "plugindata":{"plugin":plugin,"data":data}}));
                if event_first {
                    self.reply_many(conn, vec![event, ack], delay);
                } else {
                    self.reply(conn, "message", ack, Duration::ZERO);
                    self.reply(conn, "message", event, delay);
                }
            }
            ReplyKind::CoreError { code, reason } => self.reply(
                conn,
                "message",
                json!({"janus":"error","transaction":txn,"session_id":sid,"error":{"code":code,"reason":reason}}),
                delay,
            ),
            ReplyKind::AckOnly => self.reply(conn, "message", ack, delay),
            ReplyKind::Nothing => {}
        }
    }

    fn reply(&self, conn: u64, _janus: &str, msg: Value, delay: Duration) {
        self.reply_many(conn, vec![msg], delay);
    }

    /// Answers on `conn`, or, with shared sessions, on every connection (as a broker
    /// hands every answer to every subscriber).
    fn reply_many(&self, conn: u64, msgs: Vec<Value>, delay: Duration) {
        let targets: Vec<_> = {
            let g = self.lock();
            if g.shared_sessions {
                g.conns.values().cloned().collect()
            } else {
                g.conns.get(&conn).cloned().into_iter().collect()
            }
        };
        if targets.is_empty() {
            return;
        }
        let frames: Vec<String> = msgs.iter().map(Value::to_string).collect();
        let deliver = move || {
            for tx in &targets {
                for f in &frames {
                    let _ = tx.send(Out::Frame(f.clone()));
                }
            }
        };
        if delay.is_zero() {
            deliver();
        } else {
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                deliver();
            });
        }
    }
}

fn send_to_session(g: &mut Inner, session: u64, msg: &Value) {
    let Some(conn) = g.sessions.get(&session).map(|s| s.conn) else {
        return;
    };
    if g.shared_sessions {
        for tx in g.conns.values() {
            let _ = tx.send(Out::Frame(msg.to_string()));
        }
    } else if let Some(tx) = g.conns.get(&conn) {
        let _ = tx.send(Out::Frame(msg.to_string()));
    }
}

fn remove_session(g: &mut Inner, session: u64) {
    if let Some(s) = g.sessions.remove(&session) {
        for h in s.handles {
            g.handles.remove(&h);
        }
    }
}

fn close_conn(g: &mut Inner, conn: u64, reason: &str) {
    if let Some(tx) = g.conns.remove(&conn) {
        let _ = tx.send(Out::Close(reason.to_string()));
    }
    if !g.keep_sessions_on_close && !g.shared_sessions {
        let owned: Vec<u64> = g
            .sessions
            .iter()
            .filter(|(_, s)| s.conn == conn)
            .map(|(id, _)| *id)
            .collect();
        for s in owned {
            remove_session(g, s);
        }
    }
}

struct MockConnector {
    janus: MockJanus,
}

#[async_trait]
impl Connector for MockConnector {
    async fn connect(&self) -> Result<Box<dyn Transport>, Error> {
        if self.janus.lock().hang_connections {
            futures::future::pending::<()>().await;
        }
        Ok(Box::new(self.janus.connect()?))
    }

    fn endpoint(&self) -> String {
        "mock://janus".into()
    }
}

/// One in-memory connection to a [`MockJanus`].
pub struct MockTransport {
    janus: MockJanus,
    conn: u64,
    rx: mpsc::UnboundedReceiver<Out>,
    ownership: SessionOwnership,
}

#[async_trait]
impl Transport for MockTransport {
    async fn send(&mut self, msg: OutgoingMessage) -> Result<(), Error> {
        if !self.janus.lock().conns.contains_key(&self.conn) {
            return Err(Error::transport_closed("mock connection closed", true));
        }
        debug_assert!(!msg.json.ends_with(char::is_whitespace));
        self.janus.handle_request(self.conn, &msg.json);
        Ok(())
    }

    async fn recv(&mut self) -> Result<TransportEvent, Error> {
        match self.rx.recv().await {
            Some(Out::Frame(f)) => Ok(TransportEvent::Frame(f)),
            Some(Out::Close(reason)) => Err(Error::transport_closed(reason, true)),
            Some(Out::Interrupted(reason)) => Ok(TransportEvent::Interrupted { reason }),
            Some(Out::Restored) => Ok(TransportEvent::Restored),
            None => Err(Error::transport_closed("mock server gone", true)),
        }
    }

    fn session_ownership(&self) -> SessionOwnership {
        self.ownership
    }

    async fn close(&mut self) {
        let mut g = self.janus.lock();
        close_conn(&mut g, self.conn, "closed by the client");
    }
}

impl Drop for MockTransport {
    fn drop(&mut self) {
        let mut g = self.janus.lock();
        close_conn(&mut g, self.conn, "dropped");
    }
}

/// Plugin data helpers for scripting.
pub fn plugin_data(plugin: &str, data: Value) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("plugin".into(), plugin.into());
    m.insert("data".into(), data);
    m
}
