//! The connection task: the one owner of the link and of the queue of requests waiting for
//! a usable link. It turns commands and link events into calls on the protocol state
//! ([`crate::state::State`], no I/O) and [`Link`] (reconnect and keepalive policy), and does
//! the I/O.
//!
//! Application values (`Client`, `Session`, `Handle`) get answers on a `oneshot`. They send
//! their requests straight to the transport while the link is up ([`crate::table`]), and
//! otherwise to this task over a bounded channel (it queues them across a reconnect); drops
//! travel on their own channel. A caller whose transport hands it the answer itself (an HTTP
//! `POST`) applies it to the state in its own task ([`crate::shared_state`]) and leaves this
//! task what only it can do. No lock is held across an await anywhere: the state's and the
//! transaction table's locks cover their own work.

use futures::FutureExt;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, Interval, MissedTickBehavior};
use tracing::{debug, info, warn};

use crate::encode::{Encoder, NoFields};
use crate::error::{Error, ErrorKind};
use crate::link::{AfterFailure, ConnectionState, Keepalive, Link, LinkEvent};
use crate::options::ClientOptions;
use crate::protocol::{CloseReason, HandleId, SessionId};
use crate::registry::Notice;
use crate::request::{Request, Verb};
use crate::shared::{HandleShared, SessionShared};
use crate::shared_state::SharedState;
use crate::state::Effect;
use crate::stats::StatsCell;
use crate::transactions::{Pending, Purpose};
use crate::transport::{Connector, OutgoingMessage, Transport, TransportEvent};

// Requests are the hot path and by far the most common command: moving them inline through the
// bounded channel is cheaper than an extra allocation per request.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Command {
    Request(Request),
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

/// Commands taken in one go before the writes are flushed.
const COMMAND_BATCH: usize = 64;

/// Transport events taken in one turn of the connection task's loop, after the first.
const TRANSPORT_BATCH: usize = 32;

/// What the connection task is handed when the client starts.
pub(crate) struct Parts {
    pub(crate) connector: Arc<dyn Connector>,
    pub(crate) transport: Box<dyn Transport>,
    pub(crate) commands: mpsc::Receiver<Command>,
    pub(crate) releases: mpsc::UnboundedReceiver<Release>,
    pub(crate) encoder: Arc<Encoder>,
    pub(crate) options: ClientOptions,
    pub(crate) conn_state: watch::Sender<ConnectionState>,
    pub(crate) stats: Arc<StatsCell>,
    /// The protocol state, shared with callers that apply their own answers.
    pub(crate) state: Arc<SharedState>,
}

pub(crate) struct Driver {
    connector: Arc<dyn Connector>,
    link: Link,
    state: Arc<SharedState>,
    commands: mpsc::Receiver<Command>,
    releases: mpsc::UnboundedReceiver<Release>,
    encoder: Arc<Encoder>,
    options: ClientOptions,
    keepalive: Keepalive,
    tick: Interval,
    conn_state: watch::Sender<ConnectionState>,
    stats: Arc<StatsCell>,
    /// Requests waiting for a usable link.
    queue: VecDeque<Request>,
    /// Sessions released (their last value dropped) while no transport could take their
    /// `destroy`: destroyed after the reconnect. At most one entry per session.
    orphans: Vec<SessionId>,
    /// Why the link was last lost or closed.
    last_reason: String,
    /// A write failed: the link is lost (handled once per turn of the loop).
    broken: Option<String>,
    unflushed: bool,
}

/// `fut` bounded by `limit` (`None` when that passed). The timer, and its clock read, only
/// when `fut` does not complete at once, as a write or flush almost always does.
async fn bounded<F: Future + Unpin>(limit: Duration, mut fut: F) -> Option<F::Output> {
    if let Some(out) = (&mut fut).now_or_never() {
        return Some(out);
    }
    tokio::time::timeout(limit, fut).await.ok()
}

fn interval(period: Duration) -> Interval {
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    tick
}

impl Driver {
    pub(crate) fn new(parts: Parts) -> Self {
        let keepalive = Keepalive::new(parts.options.keepalive_interval);
        let mut transport = parts.transport;
        transport.set_credentials(parts.encoder.credentials());
        Driver {
            connector: parts.connector,
            link: Link::up(transport, 0),
            state: parts.state,
            commands: parts.commands,
            releases: parts.releases,
            encoder: parts.encoder,
            tick: interval(keepalive.tick_period()),
            keepalive,
            options: parts.options,
            conn_state: parts.conn_state,
            stats: parts.stats,
            queue: VecDeque::new(),
            orphans: Vec::new(),
            last_reason: String::new(),
            broken: None,
            unflushed: false,
        }
    }

    pub(crate) async fn run(mut self) {
        let work = self.state.clone();
        loop {
            tokio::select! {
                biased;
                ev = self.link.next() => {
                    self.on_link(ev).await;
                    // Take what else has arrived without another turn of the loop: under
                    // load several replies are ready at once. Bounded, so commands are
                    // never starved. `recv` is cancel-safe, and the next turn polls it
                    // again with this task's waker before waiting.
                    for _ in 0..TRANSPORT_BATCH {
                        let Some(t) = self.link.transport() else { break };
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
                    Some(Command::Request(req)) => {
                        self.on_request(req).await;
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
                                Ok(Command::Request(req)) => self.on_request(req).await,
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
                _ = self.tick.tick() => self.on_tick().await,
                // A caller applied its own answer and left the transport to tell.
                () = work.work_left() => self.apply_effects().await,
            }
            if std::mem::take(&mut self.unflushed) {
                if let Some(t) = self.link.transport() {
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
            self.sync_direct();
            self.publish_stats();
            if self.link.is_closed() {
                self.drain_closed();
                return;
            }
        }
    }

    /// Opens the direct path while the link is usable, and closes it otherwise.
    fn sync_direct(&mut self) {
        let usable = self.link.usable();
        let state = self.state.lock();
        let mut table = state.table.lock();
        if usable != table.has_direct() {
            let direct = if usable {
                self.link.transport().and_then(|t| t.direct())
            } else {
                None
            };
            table.set_direct(direct);
        }
    }

    fn publish_stats(&self) {
        self.state.lock().publish();
        self.stats.publish_queue(self.queue.len());
    }

    fn closed_error(&self) -> Error {
        let reason = match &self.link {
            Link::Closed { reason } => reason.clone(),
            _ => self.last_reason.clone(),
        };
        Error::transport_closed(reason, false)
    }

    /// After a final close, answer what is still queued and stop.
    fn drain_closed(&mut self) {
        let err = self.closed_error();
        for r in self.queue.drain(..) {
            r.pending.complete(Err(err.clone()));
        }
        self.commands.close();
        while let Ok(cmd) = self.commands.try_recv() {
            match cmd {
                Command::Request(r) => r.pending.complete(Err(err.clone())),
                Command::Shutdown(tx) => {
                    let _ = tx.send(());
                }
            }
        }
        self.publish_stats();
    }

    async fn shutdown(&mut self, reason: &str) {
        self.last_reason = reason.to_string();
        {
            let mut state = self.state.lock();
            state.table.lock().set_direct(None);
            state.close_all(CloseReason::Released);
        }
        self.apply_effects().await;
        if let Some(mut t) = self.link.close(reason.to_string()) {
            // Best effort: a peer that does not answer must not hold the shutdown.
            let _ = tokio::time::timeout(Duration::from_secs(1), t.close()).await;
        }
        self.conn_state.send_replace(ConnectionState::Closed {
            reason: reason.to_string(),
        });
        self.drain_closed();
    }

    async fn on_request(&mut self, req: Request) {
        if self.link.usable() {
            self.dispatch(req).await;
        } else if self.queue.len() < self.options.command_buffer {
            self.queue.push_back(req);
        } else {
            req.pending.complete(Err(Error::transport_closed(
                "disconnected and the request queue is full",
                true,
            )));
        }
    }

    /// The last value of a session or handle was dropped: destroy or detach it on the
    /// server, now or, when no transport can take it, after the reconnect.
    async fn on_release(&mut self, release: Release) {
        match release {
            Release::Session(shared) => {
                let sid = shared.id();
                {
                    let mut state = self.state.lock();
                    if !state.registry.has_session(sid) {
                        return;
                    }
                    debug!(session = %sid, "last Session value dropped: destroying it");
                    state.registry.close_session(sid, CloseReason::Released);
                }
                self.apply_effects().await;
                if self.link.is_up() {
                    self.internal(Verb::Destroy, Some(sid), None, &NoFields, Purpose::Plain)
                        .await;
                } else {
                    self.orphans.push(sid);
                }
            }
            Release::Handle(shared) => {
                let hid = shared.id();
                let sid = {
                    let mut state = self.state.lock();
                    let Some(sid) = state.registry.session_of(hid) else {
                        return;
                    };
                    debug!(handle = %hid, "last Handle value dropped: detaching it");
                    state.registry.close_handle(hid, CloseReason::Released);
                    sid
                };
                self.apply_effects().await;
                // Without a transport the handle goes with its session (claimed or not).
                if self.link.is_up() {
                    self.internal(
                        Verb::Detach,
                        Some(sid),
                        Some(hid),
                        &NoFields,
                        Purpose::Plain,
                    )
                    .await;
                }
            }
        }
    }

    /// Sends an application's request the slow way (the direct path was closed).
    async fn dispatch(&mut self, req: Request) {
        let Request { txn, json, pending } = req;
        // Requests on a session this task no longer knows fail here, not on the wire.
        if let Purpose::Attach { session, .. } = &pending.purpose {
            if !self.state.lock().registry.has_session(*session) {
                pending.complete(Err(Error::new(ErrorKind::SessionGone {
                    reason: "unknown session".into(),
                })));
                return;
            }
        }
        self.send(txn, json, pending).await;
    }

    /// Registers then sends: an answer can never arrive before its transaction is known.
    async fn send(&mut self, txn: u64, json: String, pending: Pending) {
        let msg = OutgoingMessage {
            verb: pending.verb,
            transaction: self.encoder.names().name(txn),
            session_id: pending.session,
            handle_id: pending.handle,
            json,
            deadline: Some(pending.deadline),
            in_flight: 0,
        };
        let msg = {
            let mut state = self.state.lock();
            let in_flight = state.table.lock().transactions.len();
            state.register(txn, pending, Instant::now());
            OutgoingMessage { in_flight, ..msg }
        };
        let Some(t) = self.link.transport() else {
            return;
        };
        // A peer that stops reading fills the socket: bounded, so the task never hangs in a
        // write.
        let limit = self.options.request_timeout;
        match bounded(limit, t.send(msg)).await {
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

    /// One of the task's own requests (keepalive, claim, re-creation, probe, release).
    async fn internal<B: Serialize>(
        &mut self,
        verb: Verb,
        session: Option<SessionId>,
        handle: Option<HandleId>,
        body: &B,
        purpose: Purpose,
    ) {
        let Ok((txn, json)) = self.encoder.encode(verb, session, handle, None, body) else {
            return;
        };
        let timeout = self.options.request_timeout;
        let pending = Pending {
            verb,
            session,
            handle,
            purpose,
            reply: None,
            deadline: Instant::now() + timeout,
            timeout,
            acked: false,
        };
        self.send(txn, json, pending).await;
    }

    async fn on_link(&mut self, ev: LinkEvent) {
        match ev {
            LinkEvent::Transport(ev) => self.on_transport(ev).await,
            LinkEvent::AttemptDue => self.start_attempt(),
            LinkEvent::Attempt(Ok(t)) => self.on_connected(t).await,
            LinkEvent::Attempt(Err(e)) => self.on_attempt_failed(e).await,
        }
    }

    async fn on_transport(&mut self, ev: Result<TransportEvent, Error>) {
        match ev {
            Ok(TransportEvent::Frame(text)) => {
                // Dropped and counted when it is not JSON; nothing else to do.
                let _ = self.state.lock().take_frame(&text);
            }
            Ok(TransportEvent::Reply { transaction, text }) => {
                self.state.lock().on_reply(&transaction, &text);
            }
            Ok(TransportEvent::RequestFailed { transaction, error }) => {
                self.state.lock().on_request_failed(&transaction, error);
            }
            Ok(TransportEvent::Interrupted { reason }) => {
                if self.link.interrupt() {
                    warn!(%reason, endpoint = %self.connector.endpoint(), "the server stopped answering");
                    self.conn_state
                        .send_replace(ConnectionState::Disconnected { reason });
                }
            }
            Ok(TransportEvent::Restored) => {
                if self.link.restore() {
                    info!(endpoint = %self.connector.endpoint(), "the server answers again");
                    self.conn_state.send_replace(ConnectionState::Reconnected);
                    self.finish_recovery().await;
                }
            }
            Ok(TransportEvent::Malformed { reason }) => {
                self.state.lock().on_malformed(&reason);
            }
            Ok(TransportEvent::SessionGone { session, reason }) => {
                // Gone because we destroyed it (over HTTP a poll can be answered 404 before
                // the destroy's own answer comes): that answer closes it, as `Destroyed`.
                let mut state = self.state.lock();
                if !state.destroying(session) {
                    info!(%session, %reason, "transport reports the session gone");
                    state.session_lost(session, reason, true);
                }
            }
            Err(e) => self.on_disconnect(e.to_string()).await,
        }
        self.apply_effects().await;
    }

    /// Tells the transport what changed, and does the work the state asked for.
    async fn apply_effects(&mut self) {
        loop {
            let (notices, effects) = {
                let mut state = self.state.lock();
                (
                    std::mem::take(&mut state.registry.notices),
                    std::mem::take(&mut state.effects),
                )
            };
            if notices.is_empty() && effects.is_empty() {
                return;
            }
            if let Some(t) = self.link.transport() {
                for notice in &notices {
                    match *notice {
                        Notice::SessionOpened(s) => t.session_opened(s),
                        Notice::SessionClosed(s) => t.session_closed(s),
                        Notice::HandleOpened(s, h) => t.handle_opened(s, h),
                        Notice::HandleClosed(s, h) => t.handle_closed(s, h),
                        Notice::AttachAnswered(s) => t.attach_answered(s),
                    }
                }
            }
            for effect in effects {
                match effect {
                    Effect::RecoveryStep => {
                        if self.link.recovery_step() {
                            self.finish_recovery().await;
                        }
                    }
                    Effect::Recreate(old) => {
                        self.link.recovery_started();
                        self.internal(
                            Verb::Create,
                            None,
                            None,
                            &NoFields,
                            Purpose::Recreate { old },
                        )
                        .await;
                    }
                    Effect::Reattach { session, handles } => {
                        for h in handles {
                            let mut body = Map::new();
                            body.insert("plugin".into(), Value::String(h.plugin));
                            if let Some(o) = h.opaque_id {
                                body.insert("opaque_id".into(), Value::String(o));
                            }
                            self.link.recovery_started();
                            self.internal(
                                Verb::Attach,
                                Some(session),
                                None,
                                &body,
                                Purpose::Reattach {
                                    session,
                                    old: h.old,
                                },
                            )
                            .await;
                        }
                    }
                    Effect::Undo { session, handle } => {
                        let verb = if handle.is_some() {
                            Verb::Detach
                        } else {
                            Verb::Destroy
                        };
                        self.internal(verb, Some(session), handle, &NoFields, Purpose::Plain)
                            .await;
                    }
                    Effect::ServerInfo { session_timeout } => {
                        if self.keepalive.on_server_timeout(session_timeout) {
                            debug!(
                                interval = ?self.keepalive.interval(),
                                "keepalive follows the server's session timeout"
                            );
                            self.tick = interval(self.keepalive.tick_period());
                        }
                    }
                }
            }
        }
    }

    /// Recovery is over (or the server answers again): destroy what was released meanwhile
    /// and send what waited.
    async fn finish_recovery(&mut self) {
        if !self.link.usable() {
            return;
        }
        if self.state.lock().reconnects > 0 {
            self.conn_state.send_replace(ConnectionState::Reconnected);
        }
        for sid in std::mem::take(&mut self.orphans) {
            self.internal(Verb::Destroy, Some(sid), None, &NoFields, Purpose::Plain)
                .await;
        }
        let now = Instant::now();
        while self.link.usable() {
            let Some(req) = self.queue.pop_front() else {
                break;
            };
            if req.pending.deadline <= now {
                let timeout = req.pending.timeout;
                req.pending.complete(Err(Error::timeout(timeout)));
                continue;
            }
            self.dispatch(req).await;
        }
    }

    async fn on_disconnect(&mut self, reason: String) {
        let Some(mut t) = self.link.go_down(Instant::now()) else {
            return;
        };
        // Before the close: the writer ends only once no direct sender is left.
        self.state.lock().table.lock().set_direct(None);
        warn!(%reason, endpoint = %self.connector.endpoint(), "connection lost");
        drop(tokio::time::timeout(Duration::from_millis(200), t.close()).await);
        self.last_reason = reason.clone();
        self.state.lock().connection_lost(&reason);
        if !self.options.reconnect.enabled {
            self.close_for_good(reason).await;
            return;
        }
        self.conn_state
            .send_replace(ConnectionState::Disconnected { reason });
    }

    fn start_attempt(&mut self) {
        let Link::Down(r) = &mut self.link else {
            return;
        };
        let limit = self.options.request_timeout;
        if r.start_attempt(
            &self.options.reconnect,
            &self.connector,
            limit,
            Instant::now(),
        ) {
            self.conn_state
                .send_replace(ConnectionState::Reconnecting { attempt: r.attempt });
        }
    }

    async fn on_connected(&mut self, mut t: Box<dyn Transport>) {
        let attempt = match &self.link {
            Link::Down(r) => r.attempt,
            _ => 0,
        };
        info!(attempt, endpoint = %self.connector.endpoint(), "reconnected");
        t.set_credentials(self.encoder.credentials());
        let sessions = self.state.lock().registry.session_ids();
        // Claimed where a connection owns its sessions; elsewhere a keepalive checks that
        // each is still there (either way a failure reports it lost).
        let verb = if t.session_ownership().claims_after_reconnect() {
            Verb::Claim
        } else {
            Verb::Keepalive
        };
        // The other attempts are not needed any more.
        self.link = Link::up(t, sessions.len());
        self.state.lock().reconnects += 1;
        for sid in sessions {
            self.internal(
                verb,
                Some(sid),
                None,
                &NoFields,
                Purpose::Claim { session: sid },
            )
            .await;
        }
        if self.options.probe_server {
            // The server may have restarted with another session timeout.
            self.internal(Verb::Info, None, None, &NoFields, Purpose::Probe)
                .await;
        }
        self.finish_recovery().await;
    }

    async fn on_attempt_failed(&mut self, e: Error) {
        let Link::Down(r) = &mut self.link else {
            return;
        };
        let after = r.on_failure(&self.options.reconnect, &e, Instant::now());
        warn!(attempt = r.failed(), error = %e, give_up = matches!(after, AfterFailure::GiveUp(_)), "reconnect failed");
        if let AfterFailure::GiveUp(reason) = after {
            self.close_for_good(reason).await;
        }
    }

    async fn close_for_good(&mut self, reason: String) {
        self.last_reason = reason.clone();
        {
            let mut state = self.state.lock();
            state.table.lock().set_direct(None);
            state.close_all(CloseReason::TransportClosed(reason.clone()));
        }
        self.apply_effects().await;
        if let Some(mut t) = self.link.close(reason.clone()) {
            drop(tokio::time::timeout(Duration::from_millis(200), t.close()).await);
        }
        self.conn_state
            .send_replace(ConnectionState::Closed { reason });
    }

    async fn on_tick(&mut self) {
        let now = Instant::now();
        self.state.lock().sweep(now);
        // Queued requests time out too, and are forgotten when their caller gave up.
        while let Some(front) = self.queue.front() {
            if front.pending.deadline > now {
                break;
            }
            if let Some(req) = self.queue.pop_front() {
                let timeout = req.pending.timeout;
                req.pending.complete(Err(Error::timeout(timeout)));
            }
        }
        self.queue
            .retain(|r| r.pending.reply.as_ref().is_none_or(|tx| !tx.is_closed()));
        if self.queue.capacity() > 64 && self.queue.len() * 4 < self.queue.capacity() {
            self.queue.shrink_to_fit();
        }
        self.apply_effects().await;
        if self.link.usable() {
            let due = self
                .state
                .lock()
                .registry
                .due_keepalives(now, self.keepalive.interval());
            for sid in due {
                self.internal(
                    Verb::Keepalive,
                    Some(sid),
                    None,
                    &NoFields,
                    Purpose::Keepalive { session: sid },
                )
                .await;
            }
        }
    }
}
