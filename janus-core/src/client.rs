//! `Client`, `Session` and `Handle`: cheap, cloneable values that send commands to the
//! connection task.

use serde::Serialize;
use serde_json::{Map, Value};
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tracing::Instrument;

use crate::connection::{Command, ConnectionState, Driver, Release, Request, Wire};
use crate::error::{Error, ErrorKind};
use crate::events::{channel, HandleEvents, SessionEvents};
use crate::options::{ClientOptions, Secret};
use crate::protocol::{
    Candidate, HandleId, Incoming, Jsep, PluginResponse, ServerInfo, SessionId, Trickle,
};
use crate::state::{Expect, HandleShared, Pending, Purpose, SessionShared, Stats};
use crate::transport::Connector;

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

struct ClientInner {
    commands: mpsc::Sender<Command>,
    releases: mpsc::UnboundedSender<Release>,
    wire: Arc<Wire>,
    options: ClientOptions,
    state: watch::Receiver<ConnectionState>,
}

/// A connection to one Janus server. Cheap to clone; every clone drives the same connection.
///
/// The connection task runs until the client is [closed](Client::close) or every `Client`,
/// `Session` and `Handle` value is dropped.
///
/// ```no_run
/// # use janus_core as janus_client;
/// # async fn demo(connector: std::sync::Arc<dyn janus_client::Connector>) -> Result<(), janus_client::Error> {
/// use janus_client::{Client, ClientOptions};
/// let client = Client::connect(connector, ClientOptions::default()).await?;
/// let session = client.create_session().await?;
/// let handle = session.attach("janus.plugin.echotest").await?;
/// let reply = handle.message(serde_json::json!({"audio": true})).await?;
/// println!("{}", reply.data);
/// handle.detach().await?;
/// session.destroy().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<ClientInner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("state", &*self.inner.state.borrow())
            .finish()
    }
}

impl Client {
    /// Opens a connection through `connector` and starts its connection task.
    ///
    /// With `options.probe_server` (the default) it asks the server for `info` and lowers
    /// the keepalive interval to a third of the server's session timeout when that is shorter.
    pub async fn connect(
        connector: Arc<dyn Connector>,
        options: ClientOptions,
    ) -> Result<Client, Error> {
        options.validate()?;
        let endpoint = connector.endpoint();
        let transport = tokio::time::timeout(options.request_timeout, connector.connect())
            .await
            .map_err(|_| Error::timeout(options.request_timeout))??;
        let (tx, rx) = mpsc::channel(options.command_buffer.max(1));
        let (release_tx, release_rx) = mpsc::unbounded_channel();
        let (state_tx, state_rx) = watch::channel(ConnectionState::Connected);
        let wire = Arc::new(Wire::new(&options));
        let driver = Driver::new(
            connector,
            transport,
            rx,
            release_rx,
            wire.clone(),
            options.clone(),
            state_tx,
        );
        tokio::spawn(
            driver
                .run()
                .instrument(tracing::info_span!("janus", %endpoint)),
        );
        let client = Client {
            inner: Arc::new(ClientInner {
                commands: tx,
                releases: release_tx,
                wire,
                options,
                state: state_rx,
            }),
        };
        if client.inner.options.probe_server {
            let info = client.info().await?;
            if let Some(t) = info.session_timeout.filter(|t| *t > 0) {
                let third = Duration::from_secs(t).div_f64(3.0);
                if third < client.inner.options.keepalive_interval {
                    tracing::debug!(
                        ?third,
                        "keepalive lowered to a third of the server's session timeout"
                    );
                    let _ = client
                        .inner
                        .commands
                        .send(Command::SetKeepalive(third.max(Duration::from_millis(500))))
                        .await;
                }
            }
        }
        Ok(client)
    }

    /// The options this client runs with.
    pub fn options(&self) -> &ClientOptions {
        &self.inner.options
    }

    /// Watches the connection's state (connected, disconnected, reconnecting, ...).
    ///
    /// Watching is optional; the client reconnects whether anyone looks or not.
    pub fn connection_state(&self) -> watch::Receiver<ConnectionState> {
        self.inner.state.clone()
    }

    /// Counts of pending transactions, sessions, handles, dropped and malformed messages.
    pub async fn stats(&self) -> Result<Stats, Error> {
        let (tx, rx) = oneshot::channel();
        self.send_command(Command::Stats(tx)).await?;
        rx.await.map_err(|_| self.closed_error())
    }

    /// Closes the connection. Sessions are not destroyed on the server (with a reclaim window
    /// they could be claimed); their streams end with `Closed(Released)`.
    pub async fn close(&self) {
        let (tx, rx) = oneshot::channel();
        if self
            .inner
            .commands
            .send(Command::Shutdown(tx))
            .await
            .is_ok()
        {
            let _ = rx.await;
        }
    }

    /// `info`: the server's version, plugins and settings.
    pub async fn info(&self) -> Result<ServerInfo, Error> {
        let msg = self
            .request(
                "info",
                None,
                None,
                None,
                &Empty,
                Expect::ServerInfo,
                Purpose::Plain,
                None,
            )
            .await?;
        Ok(ServerInfo::from_incoming(msg))
    }

    /// `ping`: answered with `pong`.
    pub async fn ping(&self) -> Result<(), Error> {
        self.request(
            "ping",
            None,
            None,
            None,
            &Empty,
            Expect::Pong,
            Purpose::Plain,
            None,
        )
        .await
        .map(drop)
    }

    /// Creates a session. Its keepalive runs by itself until it is destroyed or dropped.
    pub async fn create_session(&self) -> Result<Session, Error> {
        self.create_session_with(None).await
    }

    /// Creates a session with a chosen id (Janus answers 468 when it is taken).
    pub async fn create_session_with_id(&self, id: SessionId) -> Result<Session, Error> {
        self.create_session_with(Some(id)).await
    }

    async fn create_session_with(&self, id: Option<SessionId>) -> Result<Session, Error> {
        let shared = SessionShared::new(0);
        let (events_tx, events_rx) = channel(self.inner.options.event_buffer);
        let mut body = Map::new();
        if let Some(id) = id {
            body.insert("id".into(), Value::from(id.0));
        }
        self.request(
            "create",
            None,
            None,
            None,
            &body,
            Expect::Success,
            Purpose::Create {
                shared: shared.clone(),
                events: events_tx,
            },
            None,
        )
        .await?;
        Ok(Session {
            client: self.clone(),
            owner: Arc::new(SessionOwner {
                shared,
                releases: self.inner.releases.clone(),
                events: Mutex::new(Some(events_rx)),
            }),
            timeout: None,
        })
    }

    /// Sends any request and returns Janus' complete answer (`success`, `ack`, `server_info`
    /// or `pong`, as `expect` says). For requests this crate has no method for, and for the
    /// Admin API.
    pub async fn raw_request(&self, req: RawRequest) -> Result<Incoming, Error> {
        let expect = match req.expect {
            RawExpect::Success => Expect::Success,
            RawExpect::Ack => Expect::Ack,
            RawExpect::ServerInfo => Expect::ServerInfo,
            RawExpect::Pong => Expect::Pong,
            RawExpect::PluginMessage => Expect::PluginMessage,
        };
        self.request(
            req.janus,
            req.session,
            req.handle,
            None,
            &req.body,
            expect,
            Purpose::Plain,
            req.timeout,
        )
        .await
    }

    fn closed_error(&self) -> Error {
        match &*self.inner.state.borrow() {
            ConnectionState::Closed { reason } => Error::transport_closed(reason.clone(), false),
            _ => Error::new(ErrorKind::Closed),
        }
    }

    async fn send_command(&self, cmd: Command) -> Result<(), Error> {
        self.inner
            .commands
            .send(cmd)
            .await
            .map_err(|_| self.closed_error())
    }

    #[allow(clippy::too_many_arguments)]
    async fn request<B: Serialize>(
        &self,
        janus: &'static str,
        session: Option<SessionId>,
        handle: Option<HandleId>,
        token: Option<&Secret>,
        body: &B,
        expect: Expect,
        purpose: Purpose,
        timeout: Option<Duration>,
    ) -> Result<Incoming, Error> {
        let timeout = timeout.unwrap_or(self.inner.options.request_timeout);
        // A per-call timeout is not checked with the options: refuse one too large to add.
        let deadline = Instant::now().checked_add(timeout).ok_or_else(|| {
            Error::config(format!("a request timeout of {timeout:?} is too large"))
        })?;
        let (txn, mut msg) = self.inner.wire.build(janus, session, handle, token, body)?;
        msg.deadline = Some(deadline);
        let (tx, rx) = oneshot::channel();
        let pending = Pending {
            janus,
            expect,
            purpose,
            reply: Some(tx),
            deadline,
            timeout,
            acked: false,
        };
        let work = async {
            self.send_command(Command::Request(Request { txn, msg, pending }))
                .await?;
            rx.await.map_err(|_| self.closed_error())?
        };
        match tokio::time::timeout_at(deadline, work).await {
            Ok(r) => r,
            // The connection task forgets the transaction on its next sweep (our end is closed).
            Err(_) => Err(Error::timeout(timeout)),
        }
    }
}

#[derive(Serialize)]
struct Empty;

/// What completes a [`RawRequest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RawExpect {
    /// `success`.
    Success,
    /// `ack`.
    Ack,
    /// `server_info`.
    ServerInfo,
    /// `pong`.
    Pong,
    /// `success`, or `ack` then `event`.
    PluginMessage,
}

/// A request built by hand: the `janus` kind, where it goes, and its other fields.
///
/// ```
/// # use janus_core as janus_client;
/// use janus_client::{RawRequest, RawExpect, SessionId};
/// let req = RawRequest::new("list_sessions", RawExpect::Success)
///     .field("admin_secret", "janusoverlord");
/// assert_eq!(req.body["admin_secret"], "janusoverlord");
/// ```
#[derive(Debug, Clone)]
pub struct RawRequest {
    /// The request kind.
    pub janus: &'static str,
    /// The session it addresses.
    pub session: Option<SessionId>,
    /// The handle it addresses.
    pub handle: Option<HandleId>,
    /// Other top-level fields.
    pub body: Map<String, Value>,
    /// What completes it.
    pub expect: RawExpect,
    /// Its own timeout instead of the client's.
    pub timeout: Option<Duration>,
}

impl RawRequest {
    /// A request with no fields yet.
    pub fn new(janus: &'static str, expect: RawExpect) -> Self {
        RawRequest {
            janus,
            session: None,
            handle: None,
            body: Map::new(),
            expect,
            timeout: None,
        }
    }

    /// Adds a top-level field.
    pub fn field(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.body.insert(key.to_string(), value.into());
        self
    }

    /// Addresses a session.
    pub fn session(mut self, id: SessionId) -> Self {
        self.session = Some(id);
        self
    }

    /// Addresses a handle.
    pub fn handle(mut self, id: HandleId) -> Self {
        self.handle = Some(id);
        self
    }

    /// Sets this request's timeout.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = Some(t);
        self
    }
}

struct SessionOwner {
    shared: Arc<SessionShared>,
    releases: mpsc::UnboundedSender<Release>,
    events: Mutex<Option<SessionEvents>>,
}

impl Drop for SessionOwner {
    fn drop(&mut self) {
        if self.shared.gone.get().is_none() {
            // Fails only when the connection task is gone, and the session with it.
            let _ = self.releases.send(Release::Session(self.shared.clone()));
        }
    }
}

/// A Janus session. Clones share it; when the last clone (and every handle of it) is
/// dropped, the session is destroyed on the server.
#[derive(Clone)]
pub struct Session {
    client: Client,
    owner: Arc<SessionOwner>,
    timeout: Option<Duration>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("id", &self.id()).finish()
    }
}

impl Session {
    /// The session id (it changes only when a lost session is re-created by policy).
    pub fn id(&self) -> SessionId {
        self.owner.shared.id()
    }

    /// The client it belongs to.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The same session, with `timeout` for every request made through this value.
    pub fn with_timeout(&self, timeout: Duration) -> Session {
        Session {
            timeout: Some(timeout),
            ..self.clone()
        }
    }

    /// Session-level events (`timeout`, reclaim, re-creation); the stream can be taken once.
    pub fn events(&self) -> Option<SessionEvents> {
        self.owner.events.lock().ok()?.take()
    }

    /// Why the session is gone, if it is.
    pub fn closed_reason(&self) -> Option<crate::CloseReason> {
        self.owner.shared.gone.get().cloned()
    }

    fn check(&self) -> Result<SessionId, Error> {
        match self.owner.shared.gone.get() {
            Some(reason) => Err(Error::new(ErrorKind::SessionGone {
                reason: reason.to_string(),
            })),
            None => Ok(self.id()),
        }
    }

    /// Attaches a plugin handle. Add `.opaque_id(..)`, `.token(..)` or `.timeout(..)` before
    /// awaiting.
    pub fn attach(&self, plugin: impl Into<String>) -> AttachRequest<'_> {
        AttachRequest {
            session: self,
            plugin: plugin.into(),
            opaque_id: None,
            token: None,
            timeout: self.timeout,
        }
    }

    /// Sends a `keepalive` now (they are sent by themselves; this is for tests and tools).
    pub async fn keepalive(&self) -> Result<(), Error> {
        let id = self.check()?;
        self.client
            .request(
                "keepalive",
                Some(id),
                None,
                None,
                &Empty,
                Expect::Ack,
                Purpose::Plain,
                self.timeout,
            )
            .await
            .map(drop)
    }

    /// Destroys the session and every handle of it.
    pub async fn destroy(&self) -> Result<(), Error> {
        let id = self.check()?;
        self.client
            .request(
                "destroy",
                Some(id),
                None,
                None,
                &Empty,
                Expect::Success,
                Purpose::Destroy { session: id },
                self.timeout,
            )
            .await
            .map(drop)
    }
}

/// An `attach` being prepared; await it to send.
#[must_use = "an attach request does nothing until awaited"]
pub struct AttachRequest<'a> {
    session: &'a Session,
    plugin: String,
    opaque_id: Option<String>,
    token: Option<Secret>,
    timeout: Option<Duration>,
}

impl<'a> AttachRequest<'a> {
    /// Sets `opaque_id`.
    pub fn opaque_id(mut self, id: impl Into<String>) -> Self {
        self.opaque_id = Some(id.into());
        self
    }

    /// Uses this token for the attach instead of the client's.
    pub fn token(mut self, token: impl Into<Secret>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Sets this request's timeout.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = Some(t);
        self
    }

    async fn send(self) -> Result<Handle, Error> {
        let session = self.session;
        let sid = session.check()?;
        let shared = HandleShared::new(0);
        let (events_tx, events_rx) = channel(session.client.inner.options.event_buffer);
        #[derive(Serialize)]
        struct Body<'b> {
            plugin: &'b str,
            #[serde(skip_serializing_if = "Option::is_none")]
            opaque_id: Option<&'b str>,
        }
        session
            .client
            .request(
                "attach",
                Some(sid),
                None,
                self.token.as_ref(),
                &Body {
                    plugin: &self.plugin,
                    opaque_id: self.opaque_id.as_deref(),
                },
                Expect::Success,
                Purpose::Attach {
                    session: sid,
                    plugin: self.plugin.clone(),
                    opaque_id: self.opaque_id.clone(),
                    shared: shared.clone(),
                    events: events_tx,
                },
                self.timeout,
            )
            .await?;
        Ok(Handle {
            session: session.clone(),
            owner: Arc::new(HandleOwner {
                shared,
                plugin: self.plugin,
                releases: session.client.inner.releases.clone(),
                events: Mutex::new(Some(events_rx)),
            }),
            timeout: self.timeout,
        })
    }
}

impl<'a> IntoFuture for AttachRequest<'a> {
    type Output = Result<Handle, Error>;
    type IntoFuture = BoxFuture<'a, Result<Handle, Error>>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

struct HandleOwner {
    shared: Arc<HandleShared>,
    plugin: String,
    releases: mpsc::UnboundedSender<Release>,
    events: Mutex<Option<HandleEvents>>,
}

impl Drop for HandleOwner {
    fn drop(&mut self) {
        if self.shared.gone.get().is_none() {
            let _ = self.releases.send(Release::Handle(self.shared.clone()));
        }
    }
}

/// A plugin handle. Clones share it; when the last clone is dropped the handle is detached.
/// A handle keeps its session alive.
#[derive(Clone)]
pub struct Handle {
    session: Session,
    owner: Arc<HandleOwner>,
    timeout: Option<Duration>,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle")
            .field("id", &self.id())
            .field("session", &self.session.id())
            .field("plugin", &self.owner.plugin)
            .finish()
    }
}

impl Handle {
    /// The handle id (it changes only when its session is re-created by policy).
    pub fn id(&self) -> HandleId {
        self.owner.shared.id()
    }

    /// The plugin package name.
    pub fn plugin(&self) -> &str {
        &self.owner.plugin
    }

    /// The session this handle belongs to.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The same handle, with `timeout` for every request made through this value.
    pub fn with_timeout(&self, timeout: Duration) -> Handle {
        Handle {
            timeout: Some(timeout),
            ..self.clone()
        }
    }

    /// This handle's events; the stream can be taken once (later calls return `None`).
    ///
    /// A plugin event that answers a [`message`](Handle::message) goes to that call, not
    /// here. The stream ends with `HandleEvent::Closed(reason)`.
    pub fn events(&self) -> Option<HandleEvents> {
        self.owner.events.lock().ok()?.take()
    }

    /// Why the handle is gone, if it is.
    pub fn closed_reason(&self) -> Option<crate::CloseReason> {
        self.owner.shared.gone.get().cloned()
    }

    fn check(&self) -> Result<(SessionId, HandleId), Error> {
        let sid = self.session.check()?;
        match self.owner.shared.gone.get() {
            Some(reason) => Err(Error::new(ErrorKind::HandleGone {
                reason: reason.to_string(),
            })),
            None => Ok((sid, self.id())),
        }
    }

    /// Sends a plugin `message` with `body`; add `.jsep(..)` or `.timeout(..)` before awaiting.
    ///
    /// Resolves to the plugin's answer whether the plugin answered at once (`success`) or
    /// later (`ack` then `event`, in either order). `error_code`/`error` in the plugin's data
    /// becomes [`ErrorKind::Plugin`].
    pub fn message(&self, body: impl Serialize) -> MessageRequest<'_> {
        MessageRequest {
            handle: self,
            body: serde_json::to_value(body)
                .map_err(|e| Error::protocol(format!("cannot serialize body: {e}"))),
            jsep: None,
            timeout: self.timeout,
        }
    }

    /// Sends trickle candidates (`Trickle::Candidate`, `Candidates` or `Completed`).
    pub async fn trickle(&self, trickle: Trickle) -> Result<(), Error> {
        let (sid, hid) = self.check()?;
        let mut body = Map::new();
        match trickle {
            Trickle::Candidate(c) => {
                body.insert("candidate".into(), to_value(&c)?);
            }
            Trickle::Candidates(cs) => {
                body.insert("candidates".into(), to_value(&cs)?);
            }
            Trickle::Completed => {
                body.insert("candidate".into(), serde_json::json!({"completed": true}));
            }
        }
        self.session
            .client
            .request(
                "trickle",
                Some(sid),
                Some(hid),
                None,
                &body,
                Expect::Ack,
                Purpose::Plain,
                self.timeout,
            )
            .await
            .map(drop)
    }

    /// Sends one candidate.
    pub async fn trickle_candidate(&self, candidate: Candidate) -> Result<(), Error> {
        self.trickle(Trickle::Candidate(candidate)).await
    }

    /// Closes the PeerConnection (`hangup`); the handle stays attached.
    pub async fn hangup(&self) -> Result<(), Error> {
        let (sid, hid) = self.check()?;
        self.session
            .client
            .request(
                "hangup",
                Some(sid),
                Some(hid),
                None,
                &Empty,
                Expect::Success,
                Purpose::Plain,
                self.timeout,
            )
            .await
            .map(drop)
    }

    /// Detaches the handle; its event stream ends with `Closed(Detached)`.
    pub async fn detach(&self) -> Result<(), Error> {
        let (sid, hid) = self.check()?;
        self.session
            .client
            .request(
                "detach",
                Some(sid),
                Some(hid),
                None,
                &Empty,
                Expect::Success,
                Purpose::Detach { handle: hid },
                self.timeout,
            )
            .await
            .map(drop)
    }
}

fn to_value<T: Serialize>(v: &T) -> Result<Value, Error> {
    serde_json::to_value(v).map_err(|e| Error::protocol(format!("cannot serialize: {e}")))
}

/// A plugin `message` being prepared; await it to send.
#[must_use = "a message does nothing until awaited"]
pub struct MessageRequest<'a> {
    handle: &'a Handle,
    body: Result<Value, Error>,
    jsep: Option<Jsep>,
    timeout: Option<Duration>,
}

impl<'a> MessageRequest<'a> {
    /// Adds a JSEP offer or answer.
    pub fn jsep(mut self, jsep: Jsep) -> Self {
        self.jsep = Some(jsep);
        self
    }

    /// Sets this request's timeout (covering both the ack and the event).
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = Some(t);
        self
    }

    async fn send(self) -> Result<PluginResponse, Error> {
        let (sid, hid) = self.handle.check()?;
        #[derive(Serialize)]
        struct Body<'b> {
            body: &'b Value,
            #[serde(skip_serializing_if = "Option::is_none")]
            jsep: Option<&'b Jsep>,
        }
        let body = self.body?;
        let msg = self
            .handle
            .session
            .client
            .request(
                "message",
                Some(sid),
                Some(hid),
                None,
                &Body {
                    body: &body,
                    jsep: self.jsep.as_ref(),
                },
                Expect::PluginMessage,
                Purpose::Plain,
                self.timeout,
            )
            .await?;
        msg.into_plugin_response()
    }
}

impl<'a> IntoFuture for MessageRequest<'a> {
    type Output = Result<PluginResponse, Error>;
    type IntoFuture = BoxFuture<'a, Result<PluginResponse, Error>>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}
