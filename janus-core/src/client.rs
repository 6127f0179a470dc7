//! `Client`, `Session` and `Handle`: cheap, cloneable values that send commands to the
//! connection task.

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tracing::Instrument;

use crate::connection::{Command, Driver, Parts, Release};
use crate::decode::Incoming;
use crate::encode::{Encoder, NoFields};
use crate::error::{Error, ErrorKind};
use crate::events::{channel, EventSource, HandleEvents, SessionEvents};
use crate::link::ConnectionState;
use crate::options::{ClientOptions, Secret};
use crate::protocol::{Candidate, HandleId, Jsep, PluginResponse, ServerInfo, SessionId, Trickle};
use crate::request::{Opens, RawRequest, Request, Verb};
use crate::shared::{HandleShared, SessionShared};
use crate::shared_state::SharedState;
use crate::state::State;
use crate::stats::{Stats, StatsCell};
use crate::table::{Direct, Table};
use crate::transport::{Connector, Credentials};
use crate::txn::TxnNames;

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

struct ClientInner {
    commands: mpsc::Sender<Command>,
    table: Arc<Table>,
    /// Where a caller applies the answer its transport handed it ([`Direct::Answer`]).
    core: Arc<SharedState>,
    releases: mpsc::UnboundedSender<Release>,
    encoder: Arc<Encoder>,
    options: ClientOptions,
    state: watch::Receiver<ConnectionState>,
    stats: Arc<StatsCell>,
    /// Said in the text of every request timeout ([`Connector::timeout_hint`]).
    timeout_hint: Option<Arc<str>>,
}

/// One request as a caller hands it over; `Request::new` builds the bookkeeping from it.
struct Call<'a, B> {
    verb: Verb,
    session: Option<SessionId>,
    handle: Option<HandleId>,
    /// Overrides the client's token (an attach with its own).
    token: Option<&'a Secret>,
    body: &'a B,
    timeout: Option<Duration>,
    opens: Option<Opens>,
    /// The session whose keepalive this request makes unnecessary for a while.
    touch: Option<&'a SessionShared>,
}

impl<'a, B> Call<'a, B> {
    fn new(verb: Verb, body: &'a B) -> Self {
        Call {
            verb,
            session: None,
            handle: None,
            token: None,
            body,
            timeout: None,
            opens: None,
            touch: None,
        }
    }
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
    /// With `options.probe_server` (the default) it asks the server for `info` (failing
    /// when the server does not answer it) and lowers the keepalive interval to a third of
    /// the server's session timeout when that is shorter; the connection task asks again
    /// after every reconnect.
    pub async fn connect(
        connector: Arc<dyn Connector>,
        options: ClientOptions,
    ) -> Result<Client, Error> {
        options.validate()?;
        let endpoint = connector.endpoint();
        let timeout_hint = connector.timeout_hint().map(Arc::from);
        let transport = tokio::time::timeout(options.request_timeout, connector.connect())
            .await
            .map_err(|_| Error::timeout(options.request_timeout))??;
        let (tx, rx) = mpsc::channel(options.command_buffer.max(1));
        let (release_tx, release_rx) = mpsc::unbounded_channel();
        let (state_tx, state_rx) = watch::channel(ConnectionState::Connected);
        let names = TxnNames::random();
        let encoder = Arc::new(Encoder::new(
            Credentials {
                api_secret: options.api_secret.clone(),
                token: options.token.clone(),
            },
            names.clone(),
        ));
        let stats = Arc::new(StatsCell::default());
        let table = Arc::new(Table::new(names));
        let core = Arc::new(SharedState::new(State::new(
            options.reconnect.recreate_lost_sessions,
            stats.clone(),
            table.clone(),
        )));
        let driver = Driver::new(Parts {
            state: core.clone(),
            connector,
            transport,
            commands: rx,
            releases: release_rx,
            encoder: encoder.clone(),
            options: options.clone(),
            conn_state: state_tx,
            stats: stats.clone(),
        });
        tokio::spawn(
            driver
                .run()
                .instrument(tracing::info_span!("janus", %endpoint)),
        );
        let client = Client {
            inner: Arc::new(ClientInner {
                commands: tx,
                table,
                core,
                releases: release_tx,
                encoder,
                options,
                state: state_rx,
                stats,
                timeout_hint,
            }),
        };
        if client.inner.options.probe_server {
            // The connection task reads the session timeout from the answer.
            client.info().await?;
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

    /// Counts of pending transactions, sessions, handles, dropped and malformed messages,
    /// as last published (before any request is answered, and after each batch of the
    /// connection task's work).
    ///
    /// ```no_run
    /// # use janus_core as janus_client;
    /// # fn demo(client: janus_client::Client) {
    /// let stats = client.stats();
    /// println!("{} sessions, {} handles", stats.sessions, stats.handles);
    /// # }
    /// ```
    pub fn stats(&self) -> Stats {
        self.inner.stats.read()
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
        let msg = self.call(Call::new(Verb::Info, &NoFields)).await?;
        Ok(ServerInfo::from_incoming(msg))
    }

    /// `ping`: answered with `pong`.
    pub async fn ping(&self) -> Result<(), Error> {
        self.call(Call::new(Verb::Ping, &NoFields)).await.map(drop)
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
        let (events_tx, events) = channel(self.inner.options.event_buffer);
        let mut body = Map::new();
        if let Some(id) = id {
            body.insert("id".into(), Value::from(id.0));
        }
        let span = tracing::info_span!("session", id = tracing::field::Empty);
        let call = Call {
            opens: Some(Opens::Session {
                shared: shared.clone(),
                events: events_tx,
            }),
            ..Call::new(Verb::Create, &body)
        };
        self.call(call).instrument(span.clone()).await?;
        span.record("id", shared.id().0);
        Ok(Session {
            client: self.clone(),
            owner: Arc::new(SessionOwner {
                shared,
                releases: self.inner.releases.clone(),
                events,
                span,
            }),
            timeout: None,
        })
    }

    /// Sends any request and returns Janus' complete answer (`success`, `ack`, `server_info`
    /// or `pong`, as its verb says). For requests this crate has no method for, and for the
    /// Admin API.
    ///
    /// ```no_run
    /// # use janus_core as janus_client;
    /// # async fn demo(client: janus_client::Client) -> Result<(), janus_client::Error> {
    /// use janus_client::{Expect, RawRequest};
    /// let answer = client.raw_request(RawRequest::new("ping", Expect::Pong)).await?;
    /// assert_eq!(answer.janus, "pong");
    /// # Ok(()) }
    /// ```
    pub async fn raw_request(&self, req: RawRequest) -> Result<Incoming, Error> {
        self.call(Call {
            session: req.session,
            handle: req.handle,
            timeout: req.timeout,
            ..Call::new(req.verb, &req.body)
        })
        .await
    }

    fn closed_error(&self) -> Error {
        match &*self.inner.state.borrow() {
            ConnectionState::Closed { reason } => Error::transport_closed(reason.clone(), false),
            _ => Error::transport_closed("the client has shut down", false),
        }
    }

    /// Encodes one request, hands it to the connection task and waits for its answer.
    async fn call<B: Serialize>(&self, call: Call<'_, B>) -> Result<Incoming, Error> {
        let timeout = call.timeout.unwrap_or(self.inner.options.request_timeout);
        // A per-call timeout is not checked with the options: refuse one too large to add.
        let deadline = Instant::now().checked_add(timeout).ok_or_else(|| {
            Error::config(format!("a request timeout of {timeout:?} is too large"))
        })?;
        let (txn, json) = self.inner.encoder.encode(
            call.verb,
            call.session,
            call.handle,
            call.token,
            call.body,
        )?;
        let (tx, rx) = oneshot::channel();
        let request = Request::new(
            call.verb,
            call.session,
            call.handle,
            txn,
            json,
            deadline,
            timeout,
            Some(tx),
            call.opens,
        );
        if let Some(session) = call.touch {
            session.touch();
        }
        let attach_on = call.session.filter(|_| call.verb == Verb::Attach);
        let work = async {
            // Straight to the transport while the link is up; else through the connection
            // task, which queues it across a reconnect.
            match self.inner.table.try_direct(request) {
                Direct::Slow(request) => self
                    .inner
                    .commands
                    .send(Command::Request(request))
                    .await
                    .map_err(|_| self.closed_error())?,
                Direct::Sent => {}
                Direct::Answer(answer) => return self.answered(answer, rx, attach_on).await,
            }
            rx.await.map_err(|_| self.closed_error())?
        };
        let result = match tokio::time::timeout_at(deadline, work).await {
            Ok(r) => r,
            // The connection task forgets the transaction on its next sweep (our end is closed).
            Err(_) => Err(Error::timeout(timeout)),
        };
        match (result, &self.inner.timeout_hint) {
            (Err(e), Some(hint)) if e.is_timeout() => Err(e.with_hint(hint.clone())),
            (result, _) => result,
        }
    }

    /// Waits for the answer the transport hands this caller, and applies it here. Dropping
    /// this (the caller's timeout, or its own choice) leaves the request to the transport,
    /// which finishes it as if it had been sent the slow way.
    async fn answered(
        &self,
        answer: crate::transport::AnswerFuture,
        mut rx: oneshot::Receiver<Result<Incoming, Error>>,
        attach_on: Option<SessionId>,
    ) -> Result<Incoming, Error> {
        let answer = tokio::select! {
            biased;
            // Answered another way first (the connection dropped and failed every request
            // in flight): the transport finishes the request.
            result = &mut rx => return result.map_err(|_| self.closed_error())?,
            answer = answer => answer,
        };
        self.inner.core.take_answer(answer, attach_on);
        // Completed by now, unless Janus only acknowledged it (an `ack`: its `event` comes
        // through the connection task) or the answer was not this request's.
        rx.await.map_err(|_| self.closed_error())?
    }
}

struct SessionOwner {
    shared: Arc<SessionShared>,
    releases: mpsc::UnboundedSender<Release>,
    events: EventSource<crate::protocol::SessionEvent>,
    span: tracing::Span,
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
///
/// Its requests run in a tracing span `session` with its `id`.
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

    /// The tracing span of this session's requests.
    pub fn span(&self) -> &tracing::Span {
        &self.owner.span
    }

    /// The same session, with `timeout` for every request made through this value.
    pub fn with_timeout(&self, timeout: Duration) -> Session {
        Session {
            timeout: Some(timeout),
            ..self.clone()
        }
    }

    /// Session-level events (`timeout`, reclaim, re-creation) from now on.
    ///
    /// Events are kept only while a stream is subscribed: a session nobody listens to costs
    /// nothing. One stream at a time: calling this again ends the earlier stream. A stream
    /// taken after the session closed yields its `Closed` event at once.
    ///
    /// ```no_run
    /// # use janus_core as janus_client;
    /// # async fn demo(session: janus_client::Session) {
    /// let mut events = session.events();
    /// while let Some(ev) = events.recv().await {
    ///     println!("{ev:?}");
    /// }
    /// # }
    /// ```
    pub fn events(&self) -> SessionEvents {
        self.owner.events.subscribe()
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

    async fn call<B: Serialize>(&self, call: Call<'_, B>) -> Result<Incoming, Error> {
        let call = Call {
            timeout: call.timeout.or(self.timeout),
            ..call
        };
        self.client
            .call(call)
            .instrument(self.owner.span.clone())
            .await
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
        self.call(Call {
            session: Some(id),
            ..Call::new(Verb::Keepalive, &NoFields)
        })
        .await
        .map(drop)
    }

    /// Destroys the session and every handle of it.
    pub async fn destroy(&self) -> Result<(), Error> {
        let id = self.check()?;
        self.call(Call {
            session: Some(id),
            ..Call::new(Verb::Destroy, &NoFields)
        })
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
        let (events_tx, events) = channel(session.client.inner.options.event_buffer);
        #[derive(Serialize)]
        struct Body<'b> {
            plugin: &'b str,
            #[serde(skip_serializing_if = "Option::is_none")]
            opaque_id: Option<&'b str>,
        }
        let span = tracing::info_span!(
            parent: &session.owner.span,
            "handle",
            plugin = %self.plugin,
            id = tracing::field::Empty
        );
        let body = Body {
            plugin: &self.plugin,
            opaque_id: self.opaque_id.as_deref(),
        };
        session
            .client
            .call(Call {
                session: Some(sid),
                token: self.token.as_ref(),
                timeout: self.timeout,
                touch: Some(&session.owner.shared),
                opens: Some(Opens::Handle {
                    plugin: self.plugin.clone(),
                    opaque_id: self.opaque_id.clone(),
                    shared: shared.clone(),
                    events: events_tx,
                }),
                ..Call::new(Verb::Attach, &body)
            })
            .instrument(span.clone())
            .await?;
        span.record("id", shared.id().0);
        Ok(Handle {
            session: session.clone(),
            owner: Arc::new(HandleOwner {
                shared,
                plugin: self.plugin,
                releases: session.client.inner.releases.clone(),
                events,
                span,
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
    events: EventSource<crate::protocol::HandleEvent>,
    span: tracing::Span,
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
///
/// Its requests run in a tracing span `handle` (with `plugin` and `id`) inside its
/// session's span.
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

    /// The tracing span of this handle's requests.
    pub fn span(&self) -> &tracing::Span {
        &self.owner.span
    }

    /// The same handle, with `timeout` for every request made through this value.
    pub fn with_timeout(&self, timeout: Duration) -> Handle {
        Handle {
            timeout: Some(timeout),
            ..self.clone()
        }
    }

    /// This handle's events from now on.
    ///
    /// Events are kept only while a stream is subscribed: a handle nobody listens to costs
    /// nothing, and its events are not counted as dropped. Subscribe before sending the
    /// request whose events you want. One stream at a time: calling this again ends the
    /// earlier stream (it yields `None`). A plugin event that answers a
    /// [`message`](Handle::message) goes to that call, not here. The stream ends with
    /// `HandleEvent::Closed(reason)`; taken after the handle closed, it yields that at once.
    ///
    /// ```no_run
    /// # use janus_core as janus_client;
    /// # async fn demo(handle: janus_client::Handle) {
    /// use janus_client::HandleEvent;
    /// let mut events = handle.events();
    /// while let Some(ev) = events.recv().await {
    ///     match ev {
    ///         HandleEvent::WebrtcUp => println!("media is up"),
    ///         HandleEvent::Closed(reason) => println!("gone: {reason}"),
    ///         other => println!("{other:?}"),
    ///     }
    /// }
    /// # }
    /// ```
    pub fn events(&self) -> HandleEvents {
        self.owner.events.subscribe()
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

    async fn call<B: Serialize>(
        &self,
        verb: Verb,
        body: &B,
        timeout: Option<Duration>,
    ) -> Result<Incoming, Error> {
        let (sid, hid) = self.check()?;
        self.session
            .client
            .call(Call {
                session: Some(sid),
                handle: Some(hid),
                timeout: timeout.or(self.timeout),
                touch: Some(&self.session.owner.shared),
                ..Call::new(verb, body)
            })
            .instrument(self.owner.span.clone())
            .await
    }

    /// Sends a plugin `message` with `body`; add `.jsep(..)` or `.timeout(..)` before awaiting.
    ///
    /// Resolves to the plugin's answer whether the plugin answered at once (`success`) or
    /// later (`ack` then `event`, in either order). `error_code`/`error` in the plugin's data
    /// becomes [`ErrorKind::Plugin`]. The body is serialized once, here.
    pub fn message(&self, body: impl Serialize) -> MessageRequest<'_> {
        MessageRequest {
            handle: self,
            body: serde_json::value::to_raw_value(&body)
                .map_err(|e| Error::protocol(format!("cannot serialize body: {e}"))),
            jsep: None,
            timeout: self.timeout,
        }
    }

    /// Sends trickle candidates (`Trickle::Candidate`, `Candidates` or `Completed`).
    pub async fn trickle(&self, trickle: Trickle) -> Result<(), Error> {
        #[derive(Serialize)]
        #[serde(untagged)]
        enum Body<'b> {
            One { candidate: &'b Candidate },
            Many { candidates: &'b [Candidate] },
            Done { candidate: Completed },
        }
        #[derive(Serialize)]
        struct Completed {
            completed: bool,
        }
        let body = match &trickle {
            Trickle::Candidate(c) => Body::One { candidate: c },
            Trickle::Candidates(cs) => Body::Many { candidates: cs },
            Trickle::Completed => Body::Done {
                candidate: Completed { completed: true },
            },
        };
        self.call(Verb::Trickle, &body, None).await.map(drop)
    }

    /// Sends one candidate.
    pub async fn trickle_candidate(&self, candidate: Candidate) -> Result<(), Error> {
        self.trickle(Trickle::Candidate(candidate)).await
    }

    /// Closes the PeerConnection (`hangup`); the handle stays attached.
    pub async fn hangup(&self) -> Result<(), Error> {
        self.call(Verb::Hangup, &NoFields, None).await.map(drop)
    }

    /// Detaches the handle; its event stream ends with `Closed(Detached)`.
    pub async fn detach(&self) -> Result<(), Error> {
        self.call(Verb::Detach, &NoFields, None).await.map(drop)
    }
}

/// A plugin `message` being prepared; await it to send.
#[must_use = "a message does nothing until awaited"]
pub struct MessageRequest<'a> {
    handle: &'a Handle,
    body: Result<Box<RawValue>, Error>,
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
        #[derive(Serialize)]
        struct Body<'b> {
            body: &'b RawValue,
            #[serde(skip_serializing_if = "Option::is_none")]
            jsep: Option<&'b Jsep>,
        }
        let body = self.body?;
        let msg = self
            .handle
            .call(
                Verb::Message,
                &Body {
                    body: &body,
                    jsep: self.jsep.as_ref(),
                },
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
