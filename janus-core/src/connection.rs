//! The connection task: the one owner of the transport, the transaction table, the routes,
//! the keepalive schedule and the reconnect loop.
//!
//! Application values (`Client`, `Session`, `Handle`) send it commands over a bounded
//! channel and get answers on a `oneshot`. No lock is held across an await anywhere: the
//! state lives in this task alone. (A shared `DashMap` read by a separate reader task was
//! considered; with one task doing both reading and routing, a reply costs one wake-up of
//! the caller and nothing else, which the benchmark shows is enough.)

use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use futures::FutureExt;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::error::Error;
use crate::options::{ClientOptions, Secret};
use crate::protocol::{decode_frame, CloseReason, HandleId, SessionId};
use crate::state::{Effect, Expect, HandleShared, Pending, Purpose, SessionShared, State, Stats};
use crate::transport::{Connector, OutgoingMessage, Transport, TransportEvent};

/// The state of the connection under a client, as a [`watch`] value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionState {
    /// Connected, nothing special happened.
    Connected,
    /// The connection dropped, or the server stopped answering (a stalled network; over
    /// HTTP, a request or poll that broke); requests wait (up to their timeout) for the
    /// reconnect or for the server to answer again.
    Disconnected {
        /// Why it dropped.
        reason: String,
    },
    /// Trying to reconnect.
    Reconnecting {
        /// Attempt number, from 1.
        attempt: u32,
    },
    /// Reconnected and every session claimed (or reported lost); or, after a `Disconnected`
    /// that did not need a new connection (HTTP), the server answers again.
    Reconnected,
    /// Closed for good: no reconnect (disabled, gave up, or unauthorized), or the client shut down.
    Closed {
        /// Why.
        reason: String,
    },
}

/// Builds requests: transaction ids and the credentials every request carries.
pub(crate) struct Wire {
    next: AtomicU64,
    api_secret: Option<Secret>,
    token: Option<Secret>,
}

#[derive(Serialize)]
struct Envelope<'a, B: Serialize> {
    janus: &'a str,
    transaction: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    handle_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    apisecret: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<&'a str>,
    #[serde(flatten)]
    body: B,
}

impl Wire {
    pub(crate) fn new(options: &ClientOptions) -> Self {
        Wire {
            next: AtomicU64::new(1),
            api_secret: options.api_secret.clone(),
            token: options.token.clone(),
        }
    }

    /// Serializes one request. `token` overrides the client's token (attach with its own).
    pub(crate) fn build<B: Serialize>(
        &self,
        janus: &'static str,
        session: Option<SessionId>,
        handle: Option<HandleId>,
        token: Option<&Secret>,
        body: &B,
    ) -> Result<(u64, OutgoingMessage), Error> {
        let txn = self.next.fetch_add(1, Ordering::Relaxed);
        let transaction = txn.to_string();
        // info and ping need no credentials; leaving them out keeps secrets off the wire.
        let auth = !matches!(janus, "info" | "ping");
        let env = Envelope {
            janus,
            transaction: &transaction,
            session_id: session.map(|s| s.0),
            handle_id: handle.map(|h| h.0),
            apisecret: self
                .api_secret
                .as_ref()
                .filter(|_| auth)
                .map(Secret::expose),
            token: token
                .or(self.token.as_ref())
                .filter(|_| auth)
                .map(Secret::expose),
            body,
        };
        let json = serde_json::to_string(&env)
            .map_err(|e| Error::protocol(format!("cannot serialize request: {e}")))?;
        Ok((
            txn,
            OutgoingMessage {
                janus,
                transaction,
                session_id: session,
                handle_id: handle,
                json,
                deadline: None,
            },
        ))
    }
}

/// A request handed to the connection task.
pub(crate) struct Request {
    pub(crate) txn: u64,
    pub(crate) msg: OutgoingMessage,
    pub(crate) pending: Pending,
}

// Requests are the hot path and by far the most common command: moving them inline through the
// bounded channel is cheaper than an extra allocation per request.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Command {
    Request(Request),
    Stats(oneshot::Sender<Stats>),
    SetKeepalive(Duration),
    Shutdown(oneshot::Sender<()>),
}

/// The last `Session` or `Handle` value of something was dropped: destroy or detach it.
///
/// These travel on their own unbounded channel, never the bounded command channel: a drop
/// cannot wait, and one lost to a full queue would leak a session on the server. The
/// channel is bounded all the same by what can be dropped: each live session and handle
/// sends at most one.
pub(crate) enum Release {
    Session(Arc<SessionShared>),
    Handle(Arc<HandleShared>),
}

type Connecting = BoxFuture<'static, Result<Box<dyn Transport>, Error>>;

/// Reconnect attempts in flight at once. A new attempt starts on the backoff schedule even
/// while earlier ones hang (a network that accepts connections but forwards nothing), so
/// the first attempt after the network comes back succeeds without waiting for the hung
/// ones to time out.
const MAX_ATTEMPTS_IN_FLIGHT: usize = 16;

/// Commands taken in one go before the writes are flushed.
const COMMAND_BATCH: usize = 64;

/// Transport events taken in one turn of the connection task's loop, after the first.
const TRANSPORT_BATCH: usize = 32;

pub(crate) struct Driver {
    connector: Arc<dyn Connector>,
    transport: Option<Box<dyn Transport>>,
    state: State,
    commands: mpsc::Receiver<Command>,
    releases: mpsc::UnboundedReceiver<Release>,
    wire: Arc<Wire>,
    options: ClientOptions,
    keepalive: Duration,
    conn_state: watch::Sender<ConnectionState>,
    queue: VecDeque<Request>,
    recovering: usize,
    /// The transport reported the server not answering ([`TransportEvent::Interrupted`]).
    interrupted: bool,
    /// Reconnect attempts started, and failed, since the connection was lost.
    attempt: u32,
    failed_attempts: u32,
    reconnect_at: Option<Instant>,
    connecting: FuturesUnordered<Connecting>,
    /// Sessions released (their last value dropped) while no transport could take their
    /// `destroy`: destroyed after the reconnect. At most one entry per session.
    orphans: Vec<SessionId>,
    last_reason: String,
    broken: Option<String>,
    unflushed: bool,
}

async fn recv_from(t: &mut Option<Box<dyn Transport>>) -> Result<TransportEvent, Error> {
    match t {
        Some(t) => t.recv().await,
        None => futures::future::pending().await,
    }
}

async fn connected(c: &mut FuturesUnordered<Connecting>) -> Result<Box<dyn Transport>, Error> {
    match c.next().await {
        Some(r) => r,
        None => futures::future::pending().await,
    }
}

/// `fut` bounded by `limit` (`None` when that passed). The timer, and its clock read, only
/// when `fut` does not complete at once, as a write or flush almost always does.
async fn bounded<F: Future + Unpin>(limit: Duration, mut fut: F) -> Option<F::Output> {
    if let Some(out) = (&mut fut).now_or_never() {
        return Some(out);
    }
    tokio::time::timeout(limit, fut).await.ok()
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => futures::future::pending().await,
    }
}

impl Driver {
    pub(crate) fn new(
        connector: Arc<dyn Connector>,
        transport: Box<dyn Transport>,
        commands: mpsc::Receiver<Command>,
        releases: mpsc::UnboundedReceiver<Release>,
        wire: Arc<Wire>,
        options: ClientOptions,
        conn_state: watch::Sender<ConnectionState>,
    ) -> Self {
        let state = State {
            recreate_lost: options.reconnect.recreate_lost_sessions,
            ..Default::default()
        };
        Driver {
            connector,
            transport: Some(transport),
            state,
            commands,
            releases,
            wire,
            keepalive: options.keepalive_interval,
            options,
            conn_state,
            queue: VecDeque::new(),
            recovering: 0,
            interrupted: false,
            attempt: 0,
            failed_attempts: 0,
            reconnect_at: None,
            connecting: FuturesUnordered::new(),
            orphans: Vec::new(),
            last_reason: String::new(),
            broken: None,
            unflushed: false,
        }
    }

    fn tick_period(&self) -> Duration {
        (self.keepalive / 5).clamp(Duration::from_millis(100), Duration::from_secs(1))
    }

    pub(crate) async fn run(mut self) {
        let mut tick = tokio::time::interval(self.tick_period());
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                ev = recv_from(&mut self.transport) => {
                    self.on_transport(ev).await;
                    // Take what else has arrived without another turn of the loop: under
                    // load several replies are ready at once. Bounded, so commands are
                    // never starved. `recv` is cancel-safe, and the next turn polls it
                    // again with this task's waker before waiting.
                    for _ in 0..TRANSPORT_BATCH {
                        let Some(t) = self.transport.as_mut() else { break };
                        match t.recv().now_or_never() {
                            Some(ev) => self.on_transport(ev).await,
                            None => break,
                        }
                    }
                }
                cmd = self.commands.recv() => match cmd {
                    Some(Command::Shutdown(done)) => {
                        self.shutdown("the client was closed").await;
                        let _ = done.send(());
                        return;
                    }
                    Some(Command::SetKeepalive(d)) => {
                        self.keepalive = d;
                        tick = tokio::time::interval(self.tick_period());
                        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    }
                    Some(cmd) => {
                        self.on_command(cmd).await;
                        // Take what else is queued now and write it all with one flush:
                        // under load this saves a system call (and a wake-up of Janus) per
                        // request. Bounded, so replies are never starved.
                        for _ in 0..COMMAND_BATCH {
                            match self.commands.try_recv() {
                                Ok(Command::Shutdown(done)) => {
                                    self.shutdown("the client was closed").await;
                                    let _ = done.send(());
                                    return;
                                }
                                Ok(Command::SetKeepalive(d)) => self.keepalive = d,
                                Ok(cmd) => self.on_command(cmd).await,
                                Err(_) => break,
                            }
                        }
                    }
                    None => {
                        // Every Client, Session and Handle is gone: the last ones may have
                        // released something just before.
                        while let Ok(release) = self.releases.try_recv() {
                            self.on_release(release).await;
                        }
                        self.shutdown("the client was dropped").await;
                        return;
                    }
                },
                Some(release) = self.releases.recv() => {
                    self.on_release(release).await;
                    while let Ok(release) = self.releases.try_recv() {
                        self.on_release(release).await;
                    }
                }
                res = connected(&mut self.connecting) => {
                    self.on_connected(res).await;
                }
                _ = sleep_until(self.reconnect_at) => {
                    self.reconnect_at = None;
                    self.start_connecting();
                }
                _ = tick.tick() => self.on_tick().await,
            }
            if std::mem::take(&mut self.unflushed) {
                if let Some(t) = self.transport.as_mut() {
                    let limit = self.options.request_timeout;
                    match bounded(limit, t.flush()).await {
                        Some(Ok(())) => {}
                        Some(Err(e)) => {
                            self.broken.get_or_insert(e.to_string());
                        }
                        None => {
                            self.broken.get_or_insert(format!(
                                "a write did not complete within {limit:?}"
                            ));
                        }
                    }
                }
            }
            if let Some(reason) = self.broken.take() {
                self.on_disconnect(reason).await;
            }
            if self.is_closed() {
                self.drain_closed();
                return;
            }
        }
    }

    fn is_closed(&self) -> bool {
        matches!(*self.conn_state.borrow(), ConnectionState::Closed { .. })
    }

    /// After a final close, answer what is still queued and stop.
    fn drain_closed(&mut self) {
        let reason = self.last_reason.clone();
        for r in self.queue.drain(..) {
            if let Some(tx) = r.pending.reply {
                let _ = tx.send(Err(Error::transport_closed(reason.clone(), false)));
            }
        }
        self.commands.close();
        while let Ok(cmd) = self.commands.try_recv() {
            match cmd {
                Command::Request(r) => {
                    if let Some(tx) = r.pending.reply {
                        let _ = tx.send(Err(Error::transport_closed(reason.clone(), false)));
                    }
                }
                Command::Stats(tx) => {
                    let _ = tx.send(self.stats());
                }
                Command::Shutdown(tx) => {
                    let _ = tx.send(());
                }
                _ => {}
            }
        }
    }

    async fn shutdown(&mut self, reason: &str) {
        self.last_reason = reason.to_string();
        self.state.close_all(CloseReason::Released);
        self.apply_effects().await;
        if let Some(mut t) = self.transport.take() {
            // Best effort: a peer that does not answer must not hold the shutdown.
            let _ = tokio::time::timeout(Duration::from_secs(1), t.close()).await;
        }
        self.conn_state.send_replace(ConnectionState::Closed {
            reason: reason.to_string(),
        });
        self.drain_closed();
    }

    fn stats(&self) -> Stats {
        let mut s = self.state.stats();
        s.queued_requests = self.queue.len();
        s
    }

    fn usable(&self) -> bool {
        self.transport.is_some() && self.recovering == 0 && !self.interrupted
    }

    async fn on_command(&mut self, cmd: Command) {
        match cmd {
            Command::Request(req) => {
                if self.usable() {
                    self.dispatch(req).await;
                } else if self.queue.len() < self.options.command_buffer {
                    self.queue.push_back(req);
                } else if let Some(tx) = req.pending.reply {
                    let _ = tx.send(Err(Error::transport_closed(
                        "disconnected and the request queue is full",
                        true,
                    )));
                }
            }
            Command::Stats(tx) => {
                let _ = tx.send(self.stats());
            }
            Command::SetKeepalive(_) | Command::Shutdown(_) => {}
        }
    }

    /// The last value of a session or handle was dropped: destroy or detach it on the
    /// server, now or, when no transport can take it, after the reconnect.
    async fn on_release(&mut self, release: Release) {
        match release {
            Release::Session(shared) => {
                let sid = shared.id();
                if !self.state.sessions.contains_key(&sid) {
                    return;
                }
                debug!(session = %sid, "last Session value dropped: destroying it");
                self.state.close_session(sid, CloseReason::Released);
                self.apply_effects().await;
                if self.transport.is_some() {
                    self.internal_request("destroy", Some(sid), None, &Map::new(), Purpose::Plain)
                        .await;
                } else {
                    self.orphans.push(sid);
                }
            }
            Release::Handle(shared) => {
                let hid = shared.id();
                let Some(h) = self.state.handles.get(&hid) else {
                    return;
                };
                let sid = h.session;
                debug!(handle = %hid, "last Handle value dropped: detaching it");
                self.state.close_handle(hid, CloseReason::Released);
                self.apply_effects().await;
                // Without a transport the handle goes with its session (claimed or not).
                if self.transport.is_some() {
                    self.internal_request(
                        "detach",
                        Some(sid),
                        Some(hid),
                        &Map::new(),
                        Purpose::Plain,
                    )
                    .await;
                }
            }
        }
    }

    /// Registers then sends: an answer can never arrive before its transaction is known.
    async fn dispatch(&mut self, req: Request) {
        let now = Instant::now();
        // Requests on a session this task no longer knows fail here, not on the wire.
        if let Purpose::Attach { session, .. } = &req.pending.purpose {
            if !self.state.sessions.contains_key(session) {
                if let Some(tx) = req.pending.reply {
                    let _ = tx.send(Err(Error::new(crate::ErrorKind::SessionGone {
                        reason: "unknown session".into(),
                    })));
                }
                return;
            }
        }
        if let Some(s) = req.msg.session_id {
            self.state.touch(s, now);
        }
        self.state.register(req.txn, req.pending, now);
        let Some(t) = self.transport.as_mut() else {
            return;
        };
        // A peer that stops reading fills the socket: bounded, so the task never hangs in a
        // write.
        let limit = self.options.request_timeout;
        match bounded(limit, t.send(req.msg)).await {
            Some(Ok(())) => {}
            // Handled by the main loop, which owns the reconnect.
            Some(Err(e)) => {
                self.broken.get_or_insert(e.to_string());
            }
            None => {
                self.broken
                    .get_or_insert(format!("a write did not complete within {limit:?}"));
            }
        }
        self.unflushed = true;
    }

    async fn internal_request<B: Serialize>(
        &mut self,
        janus: &'static str,
        session: Option<SessionId>,
        handle: Option<HandleId>,
        body: &B,
        purpose: Purpose,
    ) {
        let Ok((txn, mut msg)) = self.wire.build(janus, session, handle, None, body) else {
            return;
        };
        let deadline = Instant::now() + self.options.request_timeout;
        msg.deadline = Some(deadline);
        let expect = match janus {
            "keepalive" => Expect::Ack,
            _ => Expect::Success,
        };
        let pending = Pending {
            janus,
            expect,
            purpose,
            reply: None,
            deadline,
            timeout: self.options.request_timeout,
            acked: false,
        };
        self.dispatch(Request { txn, msg, pending }).await;
    }

    async fn on_transport(&mut self, ev: Result<TransportEvent, Error>) {
        match ev {
            Ok(TransportEvent::Frame(text)) => {
                // Dropped and counted when it is not JSON; nothing else to do.
                let _ = self.take_frame(&text);
                self.apply_effects().await;
            }
            Ok(TransportEvent::Reply { transaction, text }) => {
                let problem = self.take_frame(&text).err();
                if let Ok(id) = transaction.parse::<u64>() {
                    // Janus answers every request body with its transaction (`success`,
                    // `ack` or `error`); anything else will never answer it.
                    if self.state.pending.get(&id).is_some_and(|p| !p.acked) {
                        let why = problem.unwrap_or_else(|| {
                            "the reply body does not answer the request".to_string()
                        });
                        self.state.fail_request(id, Error::protocol(why));
                    }
                }
                self.apply_effects().await;
            }
            Ok(TransportEvent::RequestFailed { transaction, error }) => {
                if let Ok(id) = transaction.parse::<u64>() {
                    // Through the state, so a failed claim still counts as a recovery step.
                    self.state.fail_request(id, error);
                    self.apply_effects().await;
                }
            }
            Ok(TransportEvent::Interrupted { reason }) => {
                if self.transport.is_some() && !self.interrupted {
                    warn!(%reason, endpoint = %self.connector.endpoint(), "the server stopped answering");
                    self.interrupted = true;
                    self.conn_state
                        .send_replace(ConnectionState::Disconnected { reason });
                }
            }
            Ok(TransportEvent::Restored) => {
                if std::mem::take(&mut self.interrupted) {
                    info!(endpoint = %self.connector.endpoint(), "the server answers again");
                    self.conn_state.send_replace(ConnectionState::Reconnected);
                    if self.recovering == 0 {
                        self.finish_recovery().await;
                    }
                }
            }
            Ok(TransportEvent::Malformed { reason }) => {
                self.state.stats.malformed_messages += 1;
                warn!(%reason, "transport dropped a malformed message");
            }
            Ok(TransportEvent::SessionGone { session, reason }) => {
                // Gone because we destroyed it (over HTTP a poll can be answered 404 before
                // the destroy's own answer comes): that answer closes it, as `Destroyed`.
                if self.state.sessions.contains_key(&session) && !self.state.destroying(session) {
                    info!(%session, %reason, "transport reports the session gone");
                    if self.options.reconnect.recreate_lost_sessions {
                        self.state.effects.push(Effect::Recreate(session));
                    } else {
                        self.state
                            .close_session(session, CloseReason::SessionLost(reason));
                    }
                    self.apply_effects().await;
                }
            }
            Err(e) => self.on_disconnect(e.to_string()).await,
        }
    }

    /// Decodes one frame or body and hands each message to the state; malformed ones are
    /// counted and dropped. `Err` says why the whole text was dropped.
    fn take_frame(&mut self, text: &str) -> Result<(), String> {
        match decode_frame(text) {
            Ok(items) => {
                for item in items {
                    match item {
                        Ok(msg) => self.state.on_incoming(msg),
                        Err(e) => {
                            self.state.stats.malformed_messages += 1;
                            warn!(error = %e, "malformed message dropped");
                        }
                    }
                }
                Ok(())
            }
            Err(e) => {
                self.state.stats.malformed_messages += 1;
                warn!(error = %e, bytes = text.len(), "malformed frame dropped");
                Err(format!("the reply is not JSON: {e}"))
            }
        }
    }

    async fn apply_effects(&mut self) {
        while !self.state.effects.is_empty() {
            let effects = std::mem::take(&mut self.state.effects);
            for effect in effects {
                match effect {
                    Effect::SessionOpened(s) => {
                        if let Some(t) = self.transport.as_mut() {
                            t.session_opened(s);
                            if let Some(entry) = self.state.sessions.get(&s) {
                                for h in &entry.handles {
                                    t.handle_opened(s, *h);
                                }
                            }
                        }
                    }
                    Effect::HandleOpened(s, h) => {
                        if let Some(t) = self.transport.as_mut() {
                            t.handle_opened(s, h);
                        }
                    }
                    Effect::HandleClosed(s, h) => {
                        if let Some(t) = self.transport.as_mut() {
                            t.handle_closed(s, h);
                        }
                    }
                    Effect::SessionClosed(s) => {
                        if let Some(t) = self.transport.as_mut() {
                            t.session_closed(s);
                        }
                    }
                    Effect::RecoveryStep => {
                        self.recovering = self.recovering.saturating_sub(1);
                        if self.recovering == 0 {
                            self.finish_recovery().await;
                        }
                    }
                    Effect::Recreate(old) => {
                        self.recovering += 1;
                        self.internal_request(
                            "create",
                            None,
                            None,
                            &Map::new(),
                            Purpose::Recreate { old },
                        )
                        .await;
                    }
                    Effect::Reattach { session, handles } => {
                        for (old, plugin, opaque_id) in handles {
                            let mut body = Map::new();
                            body.insert("plugin".into(), Value::String(plugin));
                            if let Some(o) = opaque_id {
                                body.insert("opaque_id".into(), Value::String(o));
                            }
                            self.recovering += 1;
                            self.internal_request(
                                "attach",
                                Some(session),
                                None,
                                &body,
                                Purpose::Reattach { session, old },
                            )
                            .await;
                        }
                    }
                }
            }
        }
    }

    async fn finish_recovery(&mut self) {
        if self.transport.is_none() || self.interrupted {
            return;
        }
        if self.state.stats.reconnects > 0 {
            self.conn_state.send_replace(ConnectionState::Reconnected);
        }
        for sid in std::mem::take(&mut self.orphans) {
            self.internal_request("destroy", Some(sid), None, &Map::new(), Purpose::Plain)
                .await;
        }
        let now = Instant::now();
        while self.usable() {
            let Some(req) = self.queue.pop_front() else {
                break;
            };
            if req.pending.deadline <= now {
                if let Some(tx) = req.pending.reply {
                    let _ = tx.send(Err(Error::timeout(req.pending.timeout)));
                }
                continue;
            }
            self.dispatch(req).await;
        }
    }

    async fn on_disconnect(&mut self, reason: String) {
        let Some(mut t) = self.transport.take() else {
            return;
        };
        warn!(%reason, endpoint = %self.connector.endpoint(), "connection lost");
        drop(tokio::time::timeout(Duration::from_millis(200), t.close()).await);
        self.last_reason = reason.clone();
        self.recovering = 0;
        self.interrupted = false;
        self.state.recreating.clear();
        self.state.fail_in_flight(&reason);
        if !self.options.reconnect.enabled {
            self.close_for_good(reason).await;
            return;
        }
        self.conn_state
            .send_replace(ConnectionState::Disconnected { reason });
        self.attempt = 0;
        self.failed_attempts = 0;
        // The first attempt at once.
        self.reconnect_at = Some(Instant::now());
    }

    /// Starts one reconnect attempt and schedules the next one, which starts on time even
    /// if this one still hangs; the first to succeed wins.
    fn start_connecting(&mut self) {
        let max = self.options.reconnect.max_attempts;
        if max.is_some_and(|m| self.attempt >= m) {
            return;
        }
        if self.connecting.len() < MAX_ATTEMPTS_IN_FLIGHT {
            self.attempt += 1;
            self.conn_state.send_replace(ConnectionState::Reconnecting {
                attempt: self.attempt,
            });
            let connector = self.connector.clone();
            let limit = self.options.request_timeout;
            self.connecting.push(
                async move {
                    match tokio::time::timeout(limit, connector.connect()).await {
                        Ok(r) => r,
                        Err(_) => Err(Error::timeout(limit)),
                    }
                }
                .boxed(),
            );
        }
        if max.is_none_or(|m| self.attempt < m) {
            let delay = self.options.reconnect.delay(self.attempt.max(1));
            self.reconnect_at = Some(Instant::now() + delay);
        }
    }

    async fn on_connected(&mut self, res: Result<Box<dyn Transport>, Error>) {
        match res {
            Ok(t) => {
                info!(attempt = self.attempt, endpoint = %self.connector.endpoint(), "reconnected");
                self.transport = Some(t);
                // The other attempts are not needed any more.
                self.connecting.clear();
                self.reconnect_at = None;
                self.attempt = 0;
                self.failed_attempts = 0;
                self.state.stats.reconnects += 1;
                let sessions: Vec<SessionId> = self.state.sessions.keys().copied().collect();
                self.recovering = sessions.len();
                for sid in sessions {
                    self.internal_request(
                        "claim",
                        Some(sid),
                        None,
                        &Map::new(),
                        Purpose::Claim { session: sid },
                    )
                    .await;
                }
                if self.recovering == 0 {
                    self.finish_recovery().await;
                }
            }
            Err(e) => {
                self.failed_attempts += 1;
                let give_up = e.is_unauthorized()
                    || self
                        .options
                        .reconnect
                        .max_attempts
                        .is_some_and(|m| self.failed_attempts >= m);
                warn!(attempt = self.failed_attempts, error = %e, give_up, "reconnect failed");
                if give_up {
                    self.connecting.clear();
                    self.reconnect_at = None;
                    self.close_for_good(format!("reconnect failed: {e}")).await;
                } else if self.reconnect_at.is_none() && self.connecting.is_empty() {
                    self.reconnect_at = Some(Instant::now());
                }
            }
        }
    }

    async fn close_for_good(&mut self, reason: String) {
        self.last_reason = reason.clone();
        self.state
            .close_all(CloseReason::TransportClosed(reason.clone()));
        self.apply_effects().await;
        self.conn_state
            .send_replace(ConnectionState::Closed { reason });
    }

    async fn on_tick(&mut self) {
        let now = Instant::now();
        self.state.sweep(now);
        // Queued requests time out too.
        while let Some(front) = self.queue.front() {
            if front.pending.deadline > now {
                break;
            }
            if let Some(req) = self.queue.pop_front() {
                if let Some(tx) = req.pending.reply {
                    let _ = tx.send(Err(Error::timeout(req.pending.timeout)));
                }
            }
        }
        self.queue
            .retain(|r| r.pending.reply.as_ref().is_none_or(|tx| !tx.is_closed()));
        self.apply_effects().await;
        if self.usable() {
            for sid in self.state.due_keepalives(now, self.keepalive) {
                self.internal_request(
                    "keepalive",
                    Some(sid),
                    None,
                    &Map::new(),
                    Purpose::Keepalive { session: sid },
                )
                .await;
            }
        }
    }
}
