//! Protocol state without I/O: the transaction table and the session → handle → event routes.
//!
//! The connection task feeds it requests and incoming messages; it decides which request a
//! message completes or which stream it goes to. Channel sends here never wait.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::time::Instant;
use tracing::{debug, trace, warn};

use crate::error::{codes, Error, ErrorKind};
use crate::events::EventSender;
use crate::protocol::{CloseReason, HandleEvent, HandleId, Incoming, SessionEvent, SessionId};

/// What completes a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Expect {
    /// `ack` (keepalive, trickle).
    Ack,
    /// `success` (create, attach, destroy, detach, hangup, claim, admin requests).
    Success,
    /// `server_info`.
    ServerInfo,
    /// `pong`.
    Pong,
    /// Plugin `message`: `success`, or `ack` then `event` (in either order).
    PluginMessage,
}

/// An id shared by the connection task and the application's `Session` or `Handle` values:
/// the id can change (re-creation by policy), and the task marks it gone with a reason.
#[derive(Debug)]
pub(crate) struct Shared<I> {
    pub(crate) id: AtomicU64,
    pub(crate) gone: OnceLock<CloseReason>,
    kind: std::marker::PhantomData<I>,
}

impl<I: From<u64>> Shared<I> {
    pub(crate) fn new(id: u64) -> Arc<Self> {
        Arc::new(Shared {
            id: AtomicU64::new(id),
            gone: OnceLock::new(),
            kind: std::marker::PhantomData,
        })
    }

    pub(crate) fn id(&self) -> I {
        I::from(self.id.load(Ordering::Acquire))
    }
}

pub(crate) type SessionShared = Shared<SessionId>;
pub(crate) type HandleShared = Shared<HandleId>;

/// Side effects a completed request has on the routes.
pub(crate) enum Purpose {
    Plain,
    Create {
        shared: Arc<SessionShared>,
        events: EventSender<SessionEvent>,
    },
    Attach {
        session: SessionId,
        plugin: String,
        opaque_id: Option<String>,
        shared: Arc<HandleShared>,
        events: EventSender<HandleEvent>,
    },
    Destroy {
        session: SessionId,
    },
    Detach {
        handle: HandleId,
    },
    Keepalive {
        session: SessionId,
    },
    Claim {
        session: SessionId,
    },
    /// Re-creating a lost session: the new session's id replaces the old one.
    Recreate {
        old: SessionId,
    },
    /// Re-attaching a handle of a re-created session.
    Reattach {
        session: SessionId,
        old: HandleId,
    },
}

impl Purpose {
    fn internal(&self) -> bool {
        matches!(
            self,
            Purpose::Keepalive { .. }
                | Purpose::Claim { .. }
                | Purpose::Recreate { .. }
                | Purpose::Reattach { .. }
        )
    }
}

pub(crate) type Reply = oneshot::Sender<Result<Incoming, Error>>;

/// One request waiting for its answer.
pub(crate) struct Pending {
    pub(crate) janus: &'static str,
    pub(crate) expect: Expect,
    pub(crate) purpose: Purpose,
    pub(crate) reply: Option<Reply>,
    pub(crate) deadline: Instant,
    pub(crate) timeout: Duration,
    pub(crate) acked: bool,
}

/// Counts that tests and operators read to prove nothing is left behind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Requests waiting for an answer.
    pub pending_transactions: usize,
    /// Requests waiting for a connection (during a reconnect).
    pub queued_requests: usize,
    /// Live sessions.
    pub sessions: usize,
    /// Live handles.
    pub handles: usize,
    /// Events dropped because a consumer was slow.
    pub dropped_events: u64,
    /// Incoming frames or messages that could not be decoded.
    pub malformed_messages: u64,
    /// Replies and events whose transaction no pending request has (late answers to
    /// requests that timed out, or never ours), and events answering a request that takes
    /// none. Replies are dropped; events are still delivered to their handle, since they
    /// carry plugin state.
    pub unknown_transactions: u64,
    /// Events for sessions or handles that are not known here.
    pub unroutable_events: u64,
    /// Successful reconnects.
    pub reconnects: u64,
}

pub(crate) struct SessionEntry {
    pub(crate) shared: Arc<SessionShared>,
    pub(crate) events: EventSender<SessionEvent>,
    pub(crate) handles: HashSet<HandleId>,
    pub(crate) last_request: Instant,
}

pub(crate) struct HandleEntry {
    pub(crate) session: SessionId,
    pub(crate) plugin: String,
    pub(crate) opaque_id: Option<String>,
    pub(crate) shared: Arc<HandleShared>,
    pub(crate) events: EventSender<HandleEvent>,
}

/// A transport notification the connection task must make.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Effect {
    SessionOpened(SessionId),
    SessionClosed(SessionId),
    HandleOpened(SessionId, HandleId),
    HandleClosed(SessionId, HandleId),
    /// A claim or re-creation finished (successfully or not) for this session.
    RecoveryStep,
    /// Claim failed and policy says re-create: start it.
    Recreate(SessionId),
    /// A session was re-created: re-attach these handles (old id, plugin, opaque id).
    Reattach {
        session: SessionId,
        handles: Vec<(HandleId, String, Option<String>)>,
    },
}

/// A re-created session waiting for its handles to be re-attached.
pub(crate) struct Recreating {
    old: SessionId,
    waiting: usize,
    pairs: Vec<(HandleId, HandleId)>,
}

/// How long a handle whose detach Janus confirmed waits for Janus' `detached` event before
/// its stream ends anyway. Janus sends `detached` after every handle's last event; over
/// HTTP it comes through the long poll, after the `success` of the detach, with any event
/// the handle had before it (a room's last notification, a `hangup`), so the stream ends
/// after those on every transport.
pub(crate) const DETACH_GRACE: Duration = Duration::from_secs(1);

#[derive(Default)]
pub(crate) struct State {
    pub(crate) pending: HashMap<u64, Pending>,
    pub(crate) sessions: HashMap<SessionId, SessionEntry>,
    pub(crate) handles: HashMap<HandleId, HandleEntry>,
    pub(crate) stats: Stats,
    pub(crate) effects: Vec<Effect>,
    pub(crate) recreate_lost: bool,
    pub(crate) recreating: HashMap<SessionId, Recreating>,
    /// Handles detached by us and confirmed, waiting for Janus' `detached` (oldest first).
    pub(crate) detaching: std::collections::VecDeque<(HandleId, Instant)>,
}

fn complete(reply: Option<Reply>, result: Result<Incoming, Error>) {
    if let Some(tx) = reply {
        // The caller may have given up (timeout, dropped future): nothing to do then.
        let _ = tx.send(result);
    }
}

impl State {
    pub(crate) fn stats(&self) -> Stats {
        Stats {
            pending_transactions: self.pending.len(),
            sessions: self.sessions.len(),
            handles: self.handles.len(),
            ..self.stats.clone()
        }
    }

    /// Registers a request before it is sent, so an answer can never come "too early".
    pub(crate) fn register(&mut self, txn: u64, pending: Pending, now: Instant) {
        if let Some(s) = self.session_of(&pending.purpose) {
            if let Some(entry) = self.sessions.get_mut(&s) {
                entry.last_request = now;
            }
        }
        self.pending.insert(txn, pending);
    }

    fn session_of(&self, p: &Purpose) -> Option<SessionId> {
        match p {
            Purpose::Attach { session, .. }
            | Purpose::Destroy { session }
            | Purpose::Keepalive { session }
            | Purpose::Claim { session } => Some(*session),
            Purpose::Detach { handle } => self.handles.get(handle).map(|h| h.session),
            _ => None,
        }
    }

    /// Notes a request on a session (for the keepalive schedule).
    pub(crate) fn touch(&mut self, session: SessionId, now: Instant) {
        if let Some(entry) = self.sessions.get_mut(&session) {
            entry.last_request = now;
        }
    }

    /// Routes one incoming message.
    pub(crate) fn on_incoming(&mut self, msg: Incoming) {
        if let Some(txn) = msg.transaction.as_deref() {
            if let Some(id) = txn
                .parse::<u64>()
                .ok()
                .filter(|id| self.pending.contains_key(id))
            {
                self.on_reply(id, msg);
                return;
            }
            match msg.janus.as_str() {
                "ack" => {
                    // An ack after its event (trap 3) or after a timeout: expected, harmless.
                    trace!(transaction = txn, "late ack dropped");
                    return;
                }
                "success" | "error" | "server_info" | "pong" => {
                    self.stats.unknown_transactions += 1;
                    debug!(transaction = txn, janus = %msg.janus, "reply for an unknown transaction dropped");
                    return;
                }
                // An event for a request that timed out (or nobody sent): still an event of
                // its handle, since it carries plugin state (a videoroom's `joined`, say).
                _ => {
                    self.stats.unknown_transactions += 1;
                    debug!(transaction = txn, janus = %msg.janus, "event for an unknown transaction delivered as an event");
                }
            }
        }
        self.route_event(msg);
    }

    fn on_reply(&mut self, id: u64, msg: Incoming) {
        let Some(p) = self.pending.get_mut(&id) else {
            return;
        };
        let kind = msg.janus.as_str();
        let done = match (kind, p.expect) {
            ("error", _) => true,
            ("ack", Expect::Ack) => true,
            ("ack", Expect::PluginMessage) => {
                p.acked = true;
                false
            }
            ("ack", _) => false,
            ("success", Expect::Success | Expect::PluginMessage) => true,
            ("event", Expect::PluginMessage) => true,
            ("server_info", Expect::ServerInfo) => true,
            ("pong", Expect::Pong) => true,
            _ => {
                // Not an answer this request expects: a plain event. An `event` carrying the
                // transaction of a request that takes none is counted like one whose
                // request is gone (which it is, as soon as the expected answer comes).
                if kind == "event" {
                    self.stats.unknown_transactions += 1;
                }
                self.route_event(msg);
                return;
            }
        };
        if !done {
            return;
        }
        let Some(p) = self.pending.remove(&id) else {
            return;
        };
        if kind == "error" {
            let err = msg.core_error();
            self.on_failed(p, err);
        } else {
            self.on_succeeded(p, msg);
        }
    }

    fn on_succeeded(&mut self, p: Pending, msg: Incoming) {
        match p.purpose {
            Purpose::Create { shared, events } => match msg.data_id() {
                Some(id) => {
                    shared.id.store(id, Ordering::Release);
                    let sid = SessionId(id);
                    self.sessions.insert(
                        sid,
                        SessionEntry {
                            shared,
                            events,
                            handles: HashSet::new(),
                            last_request: Instant::now(),
                        },
                    );
                    self.effects.push(Effect::SessionOpened(sid));
                    complete(p.reply, Ok(msg));
                }
                None => complete(
                    p.reply,
                    Err(Error::protocol("create succeeded without data.id")),
                ),
            },
            Purpose::Attach {
                session,
                plugin,
                opaque_id,
                shared,
                events,
            } => match (msg.data_id(), self.sessions.get_mut(&session)) {
                (Some(id), Some(entry)) => {
                    shared.id.store(id, Ordering::Release);
                    let hid = HandleId(id);
                    entry.handles.insert(hid);
                    self.effects.push(Effect::HandleOpened(session, hid));
                    self.handles.insert(
                        hid,
                        HandleEntry {
                            session,
                            plugin,
                            opaque_id,
                            shared,
                            events,
                        },
                    );
                    complete(p.reply, Ok(msg));
                }
                (None, _) => complete(
                    p.reply,
                    Err(Error::protocol("attach succeeded without data.id")),
                ),
                (Some(_), None) => complete(
                    p.reply,
                    Err(Error::new(ErrorKind::SessionGone {
                        reason: "the session closed while attaching".into(),
                    })),
                ),
            },
            Purpose::Destroy { session } => {
                self.close_session(session, CloseReason::Destroyed);
                complete(p.reply, Ok(msg));
            }
            Purpose::Detach { handle } => {
                if let Some(h) = self.handles.get(&handle) {
                    // Gone for the application at once; the stream ends with Janus'
                    // `detached` (or after `DETACH_GRACE`).
                    let _ = h.shared.gone.set(CloseReason::Detached);
                    self.detaching.push_back((handle, Instant::now()));
                }
                complete(p.reply, Ok(msg));
            }
            Purpose::Claim { session } => {
                if let Some(entry) = self.sessions.get_mut(&session) {
                    entry.events.deliver(SessionEvent::Reclaimed);
                    self.effects.push(Effect::SessionOpened(session));
                }
                self.effects.push(Effect::RecoveryStep);
                complete(p.reply, Ok(msg));
            }
            Purpose::Recreate { old } => {
                match msg.data_id() {
                    Some(new) => self.rekey_session(old, SessionId(new)),
                    None => self.close_session(
                        old,
                        CloseReason::SessionLost("re-create gave no id".into()),
                    ),
                }
                self.effects.push(Effect::RecoveryStep);
            }
            Purpose::Reattach { session, old } => {
                let new = msg.data_id().map(HandleId);
                match new {
                    Some(new) => self.rekey_handle(session, old, new),
                    None => self
                        .close_handle(old, CloseReason::SessionLost("re-attach gave no id".into())),
                }
                self.reattached(session, old, new);
                self.effects.push(Effect::RecoveryStep);
            }
            Purpose::Plain | Purpose::Keepalive { .. } => complete(p.reply, Ok(msg)),
        }
    }

    fn on_failed(&mut self, p: Pending, err: Error) {
        let code = err.janus_code();
        match &p.purpose {
            Purpose::Destroy { session } if code == Some(codes::SESSION_NOT_FOUND) => {
                self.close_session(*session, CloseReason::Destroyed);
            }
            Purpose::Detach { handle } if code == Some(codes::HANDLE_NOT_FOUND) => {
                self.close_handle(*handle, CloseReason::Detached);
            }
            Purpose::Detach { handle } => {
                // The handle lives on: a transport that stopped caring about it when the
                // detach went out (HTTP stops polling for it) must know again.
                if let Some(h) = self.handles.get(handle) {
                    self.effects.push(Effect::HandleOpened(h.session, *handle));
                }
            }
            Purpose::Keepalive { session } if code == Some(codes::SESSION_NOT_FOUND) => {
                self.close_session(*session, CloseReason::SessionLost(err.to_string()));
            }
            Purpose::Claim { session } => {
                let session = *session;
                warn!(%session, error = %err, "claim failed");
                if self.recreate_lost && !err.is_unauthorized() {
                    self.effects.push(Effect::Recreate(session));
                } else {
                    self.close_session(session, CloseReason::SessionLost(err.to_string()));
                }
                self.effects.push(Effect::RecoveryStep);
            }
            Purpose::Recreate { old } => {
                let old = *old;
                self.close_session(old, CloseReason::SessionLost(err.to_string()));
                self.effects.push(Effect::RecoveryStep);
            }
            Purpose::Reattach { session, old } => {
                let (session, old) = (*session, *old);
                self.close_handle(old, CloseReason::SessionLost(err.to_string()));
                self.reattached(session, old, None);
                self.effects.push(Effect::RecoveryStep);
            }
            _ => {}
        }
        complete(p.reply, Err(err));
    }

    fn route_event(&mut self, msg: Incoming) {
        if let Some(hid) = msg.sender {
            let Some(h) = self.handles.get_mut(&hid) else {
                // `detached` routinely follows the `success` of our own detach: not an anomaly.
                if msg.janus != "detached" {
                    self.stats.unroutable_events += 1;
                }
                debug!(handle = %hid, janus = %msg.janus, "event for an unknown handle dropped");
                return;
            };
            if msg.session_id.is_some_and(|s| s != h.session) {
                self.stats.unroutable_events += 1;
                debug!(handle = %hid, "event names another session than its handle's");
                return;
            }
            let session = h.session;
            if msg.janus == "detached" {
                // Ours when we detached it (confirmed or not: over HTTP the event can overtake
                // the `success` of the detach), or destroyed its session; then the close
                // reason says it all. Otherwise the server's doing, said as an event first.
                let reason = if h.shared.gone.get() == Some(&CloseReason::Detached) {
                    CloseReason::Detached
                } else {
                    self.pending_teardown(session, hid)
                };
                if reason == CloseReason::DetachedByServer {
                    let ev = msg.into_handle_event();
                    if let Some(h) = self.handles.get_mut(&hid) {
                        self.stats.dropped_events += h.events.deliver(ev);
                    }
                }
                self.close_handle(hid, reason);
                return;
            }
            let ev = msg.into_handle_event();
            self.stats.dropped_events += h.events.deliver(ev);
            return;
        }
        if msg.janus == "keepalive" {
            // HTTP long poll's "nothing happened".
            return;
        }
        if let Some(sid) = msg.session_id {
            let Some(s) = self.sessions.get_mut(&sid) else {
                self.stats.unroutable_events += 1;
                debug!(session = %sid, janus = %msg.janus, "event for an unknown session dropped");
                return;
            };
            if msg.janus == "timeout" {
                s.events.deliver(SessionEvent::Timeout);
                self.close_session(sid, CloseReason::SessionTimeout);
            } else {
                let ev = SessionEvent::Other(serde_json::Value::Object(msg.body));
                self.stats.dropped_events += s.events.deliver(ev);
            }
            return;
        }
        self.stats.unroutable_events += 1;
        if msg.janus == "error" {
            warn!(error = %msg.core_error(), "Janus reported an error with no transaction");
        } else {
            debug!(janus = %msg.janus, "message with no session dropped");
        }
    }

    /// Why a handle is being detached: our own pending detach or destroy, or the server.
    fn pending_teardown(&self, session: SessionId, handle: HandleId) -> CloseReason {
        for p in self.pending.values() {
            match &p.purpose {
                Purpose::Detach { handle: h } if *h == handle => return CloseReason::Detached,
                Purpose::Destroy { session: s } if *s == session => return CloseReason::Destroyed,
                _ => {}
            }
        }
        CloseReason::DetachedByServer
    }

    /// Whether a `destroy` of `session` is waiting for its answer.
    pub(crate) fn destroying(&self, session: SessionId) -> bool {
        self.pending
            .values()
            .any(|p| matches!(p.purpose, Purpose::Destroy { session: s } if s == session))
    }

    /// Removes a session, its handles and their routes; their streams end with `reason`.
    pub(crate) fn close_session(&mut self, sid: SessionId, reason: CloseReason) {
        let Some(entry) = self.sessions.remove(&sid) else {
            return;
        };
        self.recreating.remove(&sid);
        for hid in &entry.handles {
            if let Some(h) = self.handles.remove(hid) {
                let reason = h.shared.gone.get_or_init(|| reason.clone()).clone();
                h.events.close(reason);
            }
        }
        let _ = entry.shared.gone.set(reason.clone());
        entry.events.close(reason);
        self.effects.push(Effect::SessionClosed(sid));
    }

    /// Removes one handle and its route; its stream ends with `reason`, or with the reason
    /// it was already gone for (a confirmed detach waiting for `detached`).
    pub(crate) fn close_handle(&mut self, hid: HandleId, reason: CloseReason) {
        let Some(h) = self.handles.remove(&hid) else {
            return;
        };
        if let Some(s) = self.sessions.get_mut(&h.session) {
            s.handles.remove(&hid);
        }
        self.effects.push(Effect::HandleClosed(h.session, hid));
        let reason = h.shared.gone.get_or_init(|| reason).clone();
        h.events.close(reason);
    }

    fn rekey_session(&mut self, old: SessionId, new: SessionId) {
        let Some(entry) = self.sessions.remove(&old) else {
            return;
        };
        entry.shared.id.store(new.0, Ordering::Release);
        let mut handles = Vec::with_capacity(entry.handles.len());
        for hid in &entry.handles {
            if let Some(h) = self.handles.get_mut(hid) {
                h.session = new;
                handles.push((*hid, h.plugin.clone(), h.opaque_id.clone()));
            }
        }
        self.sessions.insert(new, entry);
        self.effects.push(Effect::SessionClosed(old));
        self.effects.push(Effect::SessionOpened(new));
        let rec = Recreating {
            old,
            waiting: handles.len(),
            pairs: Vec::new(),
        };
        if handles.is_empty() {
            self.report_recreated(new, rec);
        } else {
            self.recreating.insert(new, rec);
            self.effects.push(Effect::Reattach {
                session: new,
                handles,
            });
        }
    }

    fn reattached(&mut self, session: SessionId, old: HandleId, new: Option<HandleId>) {
        let Some(rec) = self.recreating.get_mut(&session) else {
            return;
        };
        if let Some(new) = new {
            rec.pairs.push((old, new));
        }
        rec.waiting = rec.waiting.saturating_sub(1);
        if rec.waiting == 0 {
            if let Some(rec) = self.recreating.remove(&session) {
                self.report_recreated(session, rec);
            }
        }
    }

    fn report_recreated(&mut self, new: SessionId, rec: Recreating) {
        if let Some(s) = self.sessions.get_mut(&new) {
            tracing::info!(old = %rec.old, %new, "session re-created");
            s.events.deliver(SessionEvent::Recreated {
                old: rec.old,
                new,
                handles: rec.pairs,
            });
        }
    }

    fn rekey_handle(&mut self, session: SessionId, old: HandleId, new: HandleId) {
        let Some(h) = self.handles.remove(&old) else {
            return;
        };
        h.shared.id.store(new.0, Ordering::Release);
        if let Some(s) = self.sessions.get_mut(&session) {
            s.handles.remove(&old);
            s.handles.insert(new);
        }
        self.effects.push(Effect::HandleClosed(session, old));
        self.effects.push(Effect::HandleOpened(session, new));
        self.handles.insert(new, h);
    }

    /// Fails requests whose deadline passed and forgets those whose caller gave up.
    pub(crate) fn sweep(&mut self, now: Instant) {
        while let Some(&(hid, since)) = self.detaching.front() {
            if now.saturating_duration_since(since) < DETACH_GRACE
                && self.handles.contains_key(&hid)
            {
                break;
            }
            self.detaching.pop_front();
            // A no-op when `detached` came already.
            self.close_handle(hid, CloseReason::Detached);
        }
        let expired: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now || p.reply.as_ref().is_some_and(|r| r.is_closed()))
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            if let Some(p) = self.pending.remove(&id) {
                let err = Error::timeout(p.timeout);
                // Same bookkeeping as any failure (a timeout has no Janus code, so nothing
                // is closed for it: a keepalive without answer is no proof the session is gone).
                self.on_failed(p, err);
            }
        }
    }

    /// A request failed before Janus answered it (HTTP: the POST itself failed).
    pub(crate) fn fail_request(&mut self, id: u64, err: Error) {
        if let Some(p) = self.pending.remove(&id) {
            self.on_failed(p, err);
        }
    }

    /// Sessions idle for at least `interval`.
    pub(crate) fn due_keepalives(&self, now: Instant, interval: Duration) -> Vec<SessionId> {
        self.sessions
            .iter()
            .filter(|(_, s)| now.saturating_duration_since(s.last_request) >= interval)
            .map(|(id, _)| *id)
            .collect()
    }

    /// The connection dropped: every request in flight fails.
    pub(crate) fn fail_in_flight(&mut self, reason: &str) {
        for (_, p) in self.pending.drain() {
            let retry_safe = p.purpose.internal()
                || matches!(
                    p.janus,
                    "info" | "ping" | "keepalive" | "claim" | "trickle" | "hangup"
                );
            complete(p.reply, Err(Error::transport_closed(reason, retry_safe)));
        }
    }

    /// The connection is gone for good: everything closes.
    pub(crate) fn close_all(&mut self, reason: CloseReason) {
        self.fail_in_flight(&reason.to_string());
        let ids: Vec<SessionId> = self.sessions.keys().copied().collect();
        for sid in ids {
            self.close_session(sid, reason.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{channel, EventStream};
    use serde_json::json;

    fn inc(v: serde_json::Value) -> Incoming {
        Incoming::from_value(v).unwrap()
    }

    fn pending(
        janus: &'static str,
        expect: Expect,
        purpose: Purpose,
    ) -> (Pending, oneshot::Receiver<Result<Incoming, Error>>) {
        let (tx, rx) = oneshot::channel();
        (
            Pending {
                janus,
                expect,
                purpose,
                reply: Some(tx),
                deadline: Instant::now() + Duration::from_secs(10),
                timeout: Duration::from_secs(10),
                acked: false,
            },
            rx,
        )
    }

    fn with_session(state: &mut State, id: u64) -> EventStream<SessionEvent> {
        let (tx, rx) = channel(8);
        let (p, mut reply) = pending(
            "create",
            Expect::Success,
            Purpose::Create {
                shared: SessionShared::new(0),
                events: tx,
            },
        );
        state.register(1000 + id, p, Instant::now());
        state.on_incoming(inc(
            json!({"janus":"success","transaction":(1000+id).to_string(),"data":{"id":id}}),
        ));
        assert!(reply.try_recv().unwrap().is_ok());
        rx
    }

    fn with_handle(state: &mut State, session: u64, id: u64) -> EventStream<HandleEvent> {
        let (tx, rx) = channel(8);
        let (p, mut reply) = pending(
            "attach",
            Expect::Success,
            Purpose::Attach {
                session: SessionId(session),
                plugin: "janus.plugin.echotest".into(),
                opaque_id: None,
                shared: HandleShared::new(0),
                events: tx,
            },
        );
        state.register(2000 + id, p, Instant::now());
        state.on_incoming(inc(
            json!({"janus":"success","transaction":(2000+id).to_string(),"session_id":session,"data":{"id":id}}),
        ));
        assert!(reply.try_recv().unwrap().is_ok());
        rx
    }

    #[test]
    fn ack_then_event_completes_message() {
        let mut s = State::default();
        let (p, mut rx) = pending("message", Expect::PluginMessage, Purpose::Plain);
        s.register(1, p, Instant::now());
        s.on_incoming(inc(json!({"janus":"ack","transaction":"1","session_id":5})));
        assert!(
            rx.try_recv().is_err(),
            "an ack alone must not complete a message"
        );
        assert_eq!(s.pending.len(), 1);
        s.on_incoming(inc(
            json!({"janus":"event","transaction":"1","session_id":5,"sender":6,
            "plugindata":{"plugin":"p","data":{"result":"ok"}}}),
        ));
        let m = rx.try_recv().unwrap().unwrap();
        assert_eq!(m.janus, "event");
        assert!(s.pending.is_empty());
    }

    #[test]
    fn event_before_ack_completes_and_late_ack_is_harmless() {
        let mut s = State::default();
        let (p, mut rx) = pending("message", Expect::PluginMessage, Purpose::Plain);
        s.register(1, p, Instant::now());
        s.on_incoming(inc(json!({"janus":"event","transaction":"1","sender":6,
            "plugindata":{"plugin":"p","data":{}}})));
        assert!(rx.try_recv().unwrap().is_ok());
        s.on_incoming(inc(json!({"janus":"ack","transaction":"1"})));
        assert!(s.pending.is_empty());
        assert_eq!(s.stats().unknown_transactions, 0);
        assert_eq!(s.stats().unroutable_events, 0);
    }

    #[test]
    fn synchronous_plugin_success_completes_message() {
        let mut s = State::default();
        let (p, mut rx) = pending("message", Expect::PluginMessage, Purpose::Plain);
        s.register(3, p, Instant::now());
        s.on_incoming(inc(json!({"janus":"success","transaction":"3","sender":6,
            "plugindata":{"plugin":"p","data":{"list":[]}}})));
        assert_eq!(rx.try_recv().unwrap().unwrap().janus, "success");
    }

    #[test]
    fn keepalive_and_trickle_complete_on_ack() {
        let mut s = State::default();
        let (p, mut rx) = pending("trickle", Expect::Ack, Purpose::Plain);
        s.register(4, p, Instant::now());
        s.on_incoming(inc(json!({"janus":"ack","transaction":"4"})));
        assert!(rx.try_recv().unwrap().is_ok());
    }

    #[test]
    fn core_error_fails_the_request() {
        let mut s = State::default();
        let (p, mut rx) = pending("attach", Expect::Success, Purpose::Plain);
        s.register(5, p, Instant::now());
        s.on_incoming(inc(json!({"janus":"error","transaction":"5",
            "error":{"code":460,"reason":"No such plugin"}})));
        let e = rx.try_recv().unwrap().unwrap_err();
        assert_eq!(e.janus_code(), Some(codes::PLUGIN_NOT_FOUND));
    }

    #[test]
    fn events_route_to_their_own_handle() {
        let mut s = State::default();
        let _s1 = with_session(&mut s, 1);
        let mut h1 = with_handle(&mut s, 1, 11);
        let mut h2 = with_handle(&mut s, 1, 12);
        s.on_incoming(inc(json!({"janus":"webrtcup","session_id":1,"sender":12})));
        s.on_incoming(inc(
            json!({"janus":"hangup","session_id":1,"sender":11,"reason":"x"}),
        ));
        tokio_test::block_on(async {
            assert_eq!(h2.recv().await, Some(HandleEvent::WebrtcUp));
            assert!(matches!(h1.recv().await, Some(HandleEvent::Hangup { .. })));
        });
        // Unknown handle, and a handle claimed by another session: counted, dropped.
        s.on_incoming(inc(json!({"janus":"webrtcup","session_id":1,"sender":99})));
        s.on_incoming(inc(json!({"janus":"webrtcup","session_id":2,"sender":11})));
        assert_eq!(s.stats().unroutable_events, 2);
    }

    #[test]
    fn timeout_closes_session_and_handles() {
        let mut s = State::default();
        let mut sess = with_session(&mut s, 1);
        let mut h = with_handle(&mut s, 1, 11);
        s.on_incoming(inc(json!({"janus":"timeout","session_id":1})));
        assert_eq!(s.stats().sessions, 0);
        assert_eq!(s.stats().handles, 0);
        tokio_test::block_on(async {
            assert_eq!(sess.recv().await, Some(SessionEvent::Timeout));
            assert_eq!(
                sess.recv().await,
                Some(SessionEvent::Closed(CloseReason::SessionTimeout))
            );
            assert_eq!(
                h.recv().await,
                Some(HandleEvent::Closed(CloseReason::SessionTimeout))
            );
            assert_eq!(h.recv().await, None);
        });
    }

    #[test]
    fn detach_and_destroy_remove_routes() {
        let mut s = State::default();
        let _sess = with_session(&mut s, 1);
        let _h = with_handle(&mut s, 1, 11);
        let (p, _rx) = pending(
            "detach",
            Expect::Success,
            Purpose::Detach {
                handle: HandleId(11),
            },
        );
        s.register(7, p, Instant::now());
        s.on_incoming(inc(json!({"janus":"success","transaction":"7"})));
        // Gone for the application at once; the route waits for Janus' `detached`.
        assert_eq!(gone_reason(&s, 11), Some(CloseReason::Detached));
        assert_eq!(s.stats().handles, 1);
        s.on_incoming(inc(json!({"janus":"detached","session_id":1,"sender":11})));
        assert_eq!(s.stats().handles, 0);
        let (p, _rx) = pending(
            "destroy",
            Expect::Success,
            Purpose::Destroy {
                session: SessionId(1),
            },
        );
        s.register(8, p, Instant::now());
        s.on_incoming(inc(json!({"janus":"success","transaction":"8"})));
        assert_eq!(s.stats().sessions, 0);
        assert!(s.pending.is_empty());
        assert!(s.effects.contains(&Effect::SessionClosed(SessionId(1))));
    }

    fn gone_reason(s: &State, id: u64) -> Option<CloseReason> {
        s.handles
            .get(&HandleId(id))
            .and_then(|h| h.shared.gone.get().cloned())
    }

    #[test]
    fn events_before_janus_detached_reach_a_detached_handle_then_its_stream_ends() {
        let mut s = State::default();
        let _sess = with_session(&mut s, 1);
        let mut h = with_handle(&mut s, 1, 11);
        let (p, _rx) = pending(
            "detach",
            Expect::Success,
            Purpose::Detach {
                handle: HandleId(11),
            },
        );
        let t0 = Instant::now();
        s.register(7, p, t0);
        s.on_incoming(inc(json!({"janus":"success","transaction":"7"})));
        // Over HTTP the room's last notification comes through the poll after the success.
        s.on_incoming(inc(json!({"janus":"event","session_id":1,"sender":11,
            "plugindata":{"plugin":"janus.plugin.videoroom","data":{"videoroom":"destroyed"}}})));
        s.on_incoming(inc(json!({"janus":"detached","session_id":1,"sender":11})));
        tokio_test::block_on(async {
            assert!(matches!(h.recv().await, Some(HandleEvent::Plugin(_))));
            assert_eq!(
                h.recv().await,
                Some(HandleEvent::Closed(CloseReason::Detached))
            );
        });
        // Without `detached` the stream ends after the grace, on a sweep.
        let mut h2 = with_handle(&mut s, 1, 12);
        let (p, _rx) = pending(
            "detach",
            Expect::Success,
            Purpose::Detach {
                handle: HandleId(12),
            },
        );
        s.register(8, p, t0);
        s.on_incoming(inc(json!({"janus":"success","transaction":"8"})));
        s.sweep(Instant::now());
        assert_eq!(s.stats().handles, 1, "closed before the grace");
        s.sweep(Instant::now() + DETACH_GRACE);
        assert_eq!(s.stats().handles, 0);
        tokio_test::block_on(async {
            assert_eq!(
                h2.recv().await,
                Some(HandleEvent::Closed(CloseReason::Detached))
            );
        });
    }

    #[test]
    fn detached_event_overtaking_our_detach_reads_as_ours() {
        let mut s = State::default();
        let _sess = with_session(&mut s, 1);
        let mut h = with_handle(&mut s, 1, 11);
        let mut other = with_handle(&mut s, 1, 12);
        let (p, _rx) = pending(
            "detach",
            Expect::Success,
            Purpose::Detach {
                handle: HandleId(11),
            },
        );
        s.register(7, p, Instant::now());
        s.on_incoming(inc(json!({"janus":"detached","session_id":1,"sender":11})));
        s.on_incoming(inc(json!({"janus":"success","transaction":"7"})));
        // And one the server did on its own.
        s.on_incoming(inc(json!({"janus":"detached","session_id":1,"sender":12})));
        tokio_test::block_on(async {
            // Ours: the close reason says it, no `Detached` event.
            assert_eq!(
                h.recv().await,
                Some(HandleEvent::Closed(CloseReason::Detached))
            );
            assert_eq!(other.recv().await, Some(HandleEvent::Detached));
            assert_eq!(
                other.recv().await,
                Some(HandleEvent::Closed(CloseReason::DetachedByServer))
            );
        });
        assert!(s.pending.is_empty());
    }

    #[test]
    fn a_failed_detach_reasserts_the_handle_and_a_failed_claim_is_a_recovery_step() {
        let mut s = State::default();
        let _sess = with_session(&mut s, 1);
        let _h = with_handle(&mut s, 1, 11);
        s.effects.clear();
        let (p, mut rx) = pending(
            "detach",
            Expect::Success,
            Purpose::Detach {
                handle: HandleId(11),
            },
        );
        s.register(7, p, Instant::now());
        s.fail_request(7, Error::transport_closed("reset", false));
        assert!(rx.try_recv().unwrap().unwrap_err().is_transport_closed());
        assert_eq!(
            s.effects,
            vec![Effect::HandleOpened(SessionId(1), HandleId(11))]
        );
        assert_eq!(s.stats().handles, 1);
        s.effects.clear();
        let (mut p, _rx) = pending(
            "claim",
            Expect::Success,
            Purpose::Claim {
                session: SessionId(1),
            },
        );
        p.reply = None;
        s.register(8, p, Instant::now());
        s.fail_request(8, Error::transport("refused"));
        assert!(s.effects.contains(&Effect::RecoveryStep), "{:?}", s.effects);
        assert_eq!(s.stats().sessions, 0, "an unclaimable session is lost");
    }

    #[test]
    fn sweep_times_out_and_forgets_abandoned_requests() {
        let mut s = State::default();
        let (mut p, mut rx) = pending("info", Expect::ServerInfo, Purpose::Plain);
        p.deadline = Instant::now();
        s.register(1, p, Instant::now());
        let (p2, rx2) = pending("info", Expect::ServerInfo, Purpose::Plain);
        s.register(2, p2, Instant::now());
        drop(rx2);
        s.sweep(Instant::now());
        assert!(rx.try_recv().unwrap().unwrap_err().is_timeout());
        assert!(s.pending.is_empty());
    }

    #[test]
    fn drop_fails_in_flight_with_retry_hint() {
        let mut s = State::default();
        let (p, mut rx) = pending("info", Expect::ServerInfo, Purpose::Plain);
        s.register(1, p, Instant::now());
        let (p, mut rx2) = pending("message", Expect::PluginMessage, Purpose::Plain);
        s.register(2, p, Instant::now());
        s.fail_in_flight("reset");
        let e = rx.try_recv().unwrap().unwrap_err();
        assert!(e.is_transport_closed() && e.is_retry_safe());
        let e = rx2.try_recv().unwrap().unwrap_err();
        assert!(e.is_transport_closed() && !e.is_retry_safe());
    }

    #[test]
    fn unknown_replies_are_counted_not_fatal() {
        let mut s = State::default();
        s.on_incoming(inc(json!({"janus":"success","transaction":"42"})));
        s.on_incoming(inc(json!({"janus":"success","transaction":"not-ours"})));
        assert_eq!(s.stats().unknown_transactions, 2);
    }

    #[test]
    fn an_event_with_an_unknown_transaction_is_delivered_and_counted() {
        let mut s = State::default();
        let _session = with_session(&mut s, 5);
        let mut events = with_handle(&mut s, 5, 6);
        s.on_incoming(inc(
            json!({"janus":"event","transaction":"999","session_id":5,"sender":6,
            "plugindata":{"plugin":"janus.plugin.echotest","data":{"result":"late"}}}),
        ));
        assert_eq!(s.stats().unknown_transactions, 1);
        match tokio_test::block_on(events.recv()) {
            Some(HandleEvent::Plugin(p)) => assert_eq!(p.data["result"], "late"),
            other => panic!("expected the late event, got {other:?}"),
        }
        // An event carrying the transaction of a request that takes none (it came before
        // the request's `ack`): delivered and counted the same way.
        let (p, _rx) = pending("message", Expect::Ack, Purpose::Plain);
        s.register(77, p, Instant::now());
        s.on_incoming(inc(
            json!({"janus":"event","transaction":"77","session_id":5,"sender":6,
            "plugindata":{"plugin":"janus.plugin.echotest","data":{"result":"early"}}}),
        ));
        assert_eq!(s.stats().unknown_transactions, 2);
        assert!(matches!(
            tokio_test::block_on(events.recv()),
            Some(HandleEvent::Plugin(_))
        ));
        s.on_incoming(inc(json!({"janus":"ack","transaction":"77"})));
        assert!(s.pending.is_empty());
    }
}
