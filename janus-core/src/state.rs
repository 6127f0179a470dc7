//! Protocol state without I/O: a matched answer ([`crate::transactions`]) applied to the
//! routes ([`crate::registry`]), and the bookkeeping of recovery after a reconnect (claims,
//! re-created sessions). The one place that decides what happens to a lost session.

use std::collections::HashMap;
use tokio::time::Instant;
use tracing::{info, warn};

use crate::decode::Incoming;
use crate::error::{codes, Error, ErrorKind};
use crate::protocol::{decode_frame, CloseReason, HandleId, SessionEvent, SessionId};
use crate::registry::{HandleEntry, Notice, Reattach, Registry};
use crate::request::Verb;
use crate::stats::{Stats, StatsCell};
use crate::table::Table;
use crate::transactions::{Match, Pending, Purpose, Transactions};
use crate::transport::{AnswerOutcome, DirectAnswer};
use std::sync::Arc;

/// Work the connection task must do for the state.
#[derive(Debug)]
pub(crate) enum Effect {
    /// A claim or re-creation finished (successfully or not) for one session.
    RecoveryStep,
    /// A session is lost and policy says re-create it: send the `create`.
    Recreate(SessionId),
    /// A session was re-created: attach its handles again.
    Reattach {
        session: SessionId,
        handles: Vec<Reattach>,
    },
    /// The server described itself (`info`): its session timeout, in seconds.
    ServerInfo { session_timeout: Option<u64> },
    /// Janus made a session (or a handle of `session`) for a caller that stopped waiting
    /// first: nobody will ever hold it, so it is destroyed (or detached) on the server
    /// rather than kept alive by keepalives, or left to Janus' session timeout.
    Undo {
        session: SessionId,
        handle: Option<HandleId>,
    },
}

/// A re-created session waiting for its handles to be attached again.
struct Recreating {
    old: SessionId,
    waiting: usize,
    pairs: Vec<(HandleId, HandleId)>,
}

pub(crate) struct State {
    /// The transaction table, shared with callers that send directly.
    pub(crate) table: Arc<Table>,
    pub(crate) registry: Registry,
    pub(crate) effects: Vec<Effect>,
    recreate_lost: bool,
    recreating: HashMap<SessionId, Recreating>,
    pub(crate) unknown_transactions: u64,
    pub(crate) malformed_messages: u64,
    pub(crate) reconnects: u64,
    /// Where the counts are published for `Client::stats`.
    cell: Arc<StatsCell>,
}

impl State {
    /// `recreate_lost`: a session that cannot be claimed is re-created (instead of closed).
    pub(crate) fn new(recreate_lost: bool, cell: Arc<StatsCell>, table: Arc<Table>) -> Self {
        State {
            table,
            cell,
            registry: Registry::default(),
            effects: Vec::new(),
            recreate_lost,
            recreating: HashMap::new(),
            unknown_transactions: 0,
            malformed_messages: 0,
            reconnects: 0,
        }
    }

    pub(crate) fn stats(&self) -> Stats {
        Stats {
            pending_transactions: self.table.lock().transactions.len(),
            queued_requests: 0,
            sessions: self.registry.session_count(),
            handles: self.registry.handle_count(),
            dropped_events: self.registry.dropped_events,
            malformed_messages: self.malformed_messages,
            unknown_transactions: self.unknown_transactions,
            unroutable_events: self.registry.unroutable_events,
            reconnects: self.reconnects,
        }
    }

    /// Publishes the counts; done before any request is answered, so its caller sees them.
    pub(crate) fn publish(&self) {
        self.cell.publish(&self.stats());
    }

    /// Registers a request before it is sent, so an answer can never come "too early".
    pub(crate) fn register(&mut self, txn: u64, pending: Pending, now: Instant) {
        if let Some(s) = pending.session.or(pending.purpose.session()) {
            self.registry.touch(s, now);
        }
        self.table.lock().transactions.register(txn, pending);
    }

    /// Takes one incoming message: completes its request, or routes it as an event.
    pub(crate) fn on_incoming(&mut self, msg: Incoming) {
        let matched = self.table.lock().transactions.on_message(msg);
        match matched {
            // The caller gave up (its timeout passed) an instant before the answer came: a
            // plugin event goes to the handle's stream as a late reply, not nowhere.
            Match::Completed(p, msg)
                if msg.janus == "event"
                    && matches!(p.purpose, Purpose::Plain)
                    && p.caller_gone() =>
            {
                self.unknown_transactions += 1;
                let late = msg.transaction.clone();
                let table = self.table.lock();
                self.registry.route(msg, late, |session, handle| {
                    teardown_reason(&table.transactions, session, handle)
                });
            }
            Match::Completed(p, msg) => self.on_succeeded(p, msg),
            Match::Failed(p, err) => self.on_failed(p, err),
            Match::Absorbed => {}
            Match::Stray => self.unknown_transactions += 1,
            Match::Event { msg, late } => {
                if late.is_some() {
                    self.unknown_transactions += 1;
                }
                let table = self.table.lock();
                self.registry.route(msg, late, |session, handle| {
                    teardown_reason(&table.transactions, session, handle)
                });
            }
        }
    }

    /// Decodes one frame or body and takes each message; malformed ones are counted and
    /// dropped. `Err` says why the whole text was dropped.
    pub(crate) fn take_frame(&mut self, text: &str) -> Result<(), String> {
        match decode_frame(text) {
            Ok(items) => {
                for item in items {
                    match item {
                        Ok(msg) => self.on_incoming(msg),
                        Err(e) => {
                            self.malformed_messages += 1;
                            warn!(error = %e, "malformed message dropped");
                        }
                    }
                }
                Ok(())
            }
            Err(e) => {
                self.malformed_messages += 1;
                warn!(error = %e, bytes = text.len(), "malformed frame dropped");
                Err(format!("the reply is not JSON: {e}"))
            }
        }
    }

    /// The body that answered one request (an HTTP `POST`). Janus answers every request
    /// body with its transaction (`success`, `ack` or `error`): when this body did not, it
    /// never will, and the request fails at once.
    pub(crate) fn on_reply(&mut self, transaction: &str, text: &str) {
        let problem = self.take_frame(text).err();
        let unanswered = {
            let table = self.table.lock();
            table
                .transactions
                .id_of(transaction)
                .filter(|id| table.transactions.unanswered(*id))
        };
        if let Some(id) = unanswered {
            let why =
                problem.unwrap_or_else(|| "the reply body does not answer the request".to_string());
            self.fail_request(id, Error::protocol(why));
        }
    }

    /// A request failed before Janus answered it (an HTTP `POST` got no reply).
    pub(crate) fn on_request_failed(&mut self, transaction: &str, error: Error) {
        let id = self.table.lock().transactions.id_of(transaction);
        if let Some(id) = id {
            // Through `fail_request`, so a failed claim still counts as a recovery step.
            self.fail_request(id, error);
        }
    }

    /// The transport dropped a message it could not read.
    pub(crate) fn on_malformed(&mut self, reason: &str) {
        self.malformed_messages += 1;
        warn!(%reason, "transport dropped a malformed message");
    }

    /// What a caller read itself on the direct path ([`crate::Sent::Answer`]), taken as the
    /// connection task takes what [`crate::Transport::recv`] returns. `attach_on`: the
    /// request was an `attach` on that session, whose transport hears that it was applied.
    pub(crate) fn on_answer(&mut self, answer: DirectAnswer, attach_on: Option<SessionId>) {
        if let Some(reason) = answer.malformed {
            self.on_malformed(&reason);
        }
        match answer.outcome {
            AnswerOutcome::Reply { transaction, text } => self.on_reply(&transaction, &text),
            AnswerOutcome::Failed { transaction, error } => {
                self.on_request_failed(&transaction, error)
            }
        }
        if let Some(session) = attach_on {
            self.registry.notices.push(Notice::AttachAnswered(session));
        }
    }

    /// Whether the connection task has work left by [`State::on_answer`] that cannot wait
    /// for its next turn: requests of its own to send, or a transport to tell of something
    /// that changes what it does. A session just created has no handle yet, so no transport
    /// acts on it: that notice waits for the task's next turn (its next tick at the latest),
    /// which saves a wake-up per `create`.
    pub(crate) fn has_work(&self) -> bool {
        !self.effects.is_empty()
            || self
                .registry
                .notices
                .iter()
                .any(|n| !matches!(n, Notice::SessionOpened(_)))
    }

    fn on_succeeded(&mut self, p: Pending, msg: Incoming) {
        if p.caller_gone() {
            let made = msg.data_id();
            let undo = match &p.purpose {
                Purpose::Create { .. } => made.map(|id| (SessionId(id), None)),
                Purpose::Attach { session, .. } => made.map(|id| (*session, Some(HandleId(id)))),
                _ => None,
            };
            if let Some((session, handle)) = undo {
                info!(%session, ?handle, "answered after its caller gave up: undoing it");
                self.effects.push(Effect::Undo { session, handle });
                self.publish();
                return;
            }
        }
        if msg.janus == "server_info" {
            let session_timeout = msg.body.get("session-timeout").and_then(|v| v.as_u64());
            self.effects.push(Effect::ServerInfo { session_timeout });
        }
        let Pending { purpose, reply, .. } = p;
        let cell = self.cell.clone();
        let answer = |result: Result<Incoming, Error>, state: &State| {
            cell.publish(&state.stats());
            if let Some(tx) = reply {
                let _ = tx.send(result);
            }
        };
        match purpose {
            Purpose::Create { shared, events } => match msg.data_id() {
                Some(id) => {
                    self.registry
                        .add_session(SessionId(id), shared, events, Instant::now());
                    answer(Ok(msg), self);
                }
                None => answer(
                    Err(Error::protocol("create succeeded without data.id")),
                    self,
                ),
            },
            Purpose::Attach {
                session,
                plugin,
                opaque_id,
                shared,
                events,
            } => match msg.data_id() {
                Some(id) => {
                    let entry = HandleEntry {
                        session,
                        plugin,
                        opaque_id,
                        shared,
                        events,
                    };
                    if self.registry.add_handle(HandleId(id), entry) {
                        answer(Ok(msg), self);
                    } else {
                        answer(
                            Err(Error::new(ErrorKind::SessionGone {
                                reason: "the session closed while attaching".into(),
                            })),
                            self,
                        );
                    }
                }
                None => answer(
                    Err(Error::protocol("attach succeeded without data.id")),
                    self,
                ),
            },
            Purpose::Destroy { session } => {
                self.registry.close_session(session, CloseReason::Destroyed);
                answer(Ok(msg), self);
            }
            Purpose::Detach { handle } => {
                self.registry.detach_confirmed(handle, Instant::now());
                answer(Ok(msg), self);
            }
            Purpose::Claim { session } => {
                if self.registry.has_session(session) {
                    self.registry.tell_session(session, SessionEvent::Reclaimed);
                    // The transport hears of it, and of its handles, again.
                    self.registry.notices.push(Notice::SessionOpened(session));
                    for h in self.registry.handles_of(session) {
                        self.registry.notices.push(Notice::HandleOpened(session, h));
                    }
                }
                self.effects.push(Effect::RecoveryStep);
                answer(Ok(msg), self);
            }
            Purpose::Recreate { old } => {
                match msg.data_id() {
                    Some(new) => self.recreated(old, SessionId(new)),
                    None => self.registry.close_session(
                        old,
                        CloseReason::SessionLost("re-create gave no id".into()),
                    ),
                }
                self.effects.push(Effect::RecoveryStep);
            }
            Purpose::Reattach { session, old } => {
                let new = msg.data_id().map(HandleId);
                match new {
                    Some(new) => self.registry.rekey_handle(session, old, new),
                    None => self
                        .registry
                        .close_handle(old, CloseReason::SessionLost("re-attach gave no id".into())),
                }
                self.reattached(session, old, new);
                self.effects.push(Effect::RecoveryStep);
            }
            Purpose::Plain | Purpose::Keepalive { .. } | Purpose::Probe => answer(Ok(msg), self),
        }
    }

    fn on_failed(&mut self, p: Pending, err: Error) {
        let code = err.janus_code();
        match &p.purpose {
            Purpose::Destroy { session } if code == Some(codes::SESSION_NOT_FOUND) => {
                self.registry
                    .close_session(*session, CloseReason::Destroyed);
            }
            Purpose::Detach { handle } if code == Some(codes::HANDLE_NOT_FOUND) => {
                self.registry.close_handle(*handle, CloseReason::Detached);
            }
            Purpose::Detach { handle } => {
                // The handle lives on: a transport that stopped caring about it when the
                // detach went out (HTTP stops polling for it) must hear of it again.
                if let Some(session) = self.registry.session_of(*handle) {
                    self.registry
                        .notices
                        .push(Notice::HandleOpened(session, *handle));
                }
            }
            // Janus forgot the session (it restarted, or timed it out unnoticed): over a
            // broker, where no connection drops, this is how a restart is learned. The
            // policy decides, as for a failed claim.
            Purpose::Keepalive { session } if code == Some(codes::SESSION_NOT_FOUND) => {
                self.session_lost(*session, err.to_string(), true);
            }
            // Where sessions belong to no connection the check after a reconnect is a
            // keepalive: one that got no answer in time proves nothing (a broker that just
            // came back may not have Janus subscribed again yet). The session stays; the
            // next keepalive tells, and a "No such session" then reports it lost.
            Purpose::Claim { session } if p.verb == Verb::Keepalive && err.is_timeout() => {
                warn!(session = %session, error = %err, "no answer to the check after a reconnect; the session stays");
                self.effects.push(Effect::RecoveryStep);
            }
            Purpose::Claim { session } => {
                warn!(session = %session, error = %err, "claim failed");
                self.session_lost(*session, err.to_string(), !err.is_unauthorized());
                self.effects.push(Effect::RecoveryStep);
            }
            Purpose::Recreate { old } => {
                self.registry
                    .close_session(*old, CloseReason::SessionLost(err.to_string()));
                self.effects.push(Effect::RecoveryStep);
            }
            Purpose::Reattach { session, old } => {
                let (session, old) = (*session, *old);
                self.registry
                    .close_handle(old, CloseReason::SessionLost(err.to_string()));
                self.reattached(session, old, None);
                self.effects.push(Effect::RecoveryStep);
            }
            _ => {}
        }
        self.publish();
        p.complete(Err(err));
    }

    /// A session is lost (its claim failed, or the transport says it is gone): re-create
    /// it when the policy says so and `may_recreate`, otherwise close it and say why. The
    /// one place this is decided.
    pub(crate) fn session_lost(&mut self, session: SessionId, reason: String, may_recreate: bool) {
        if !self.registry.has_session(session) {
            return;
        }
        if self.recreate_lost && may_recreate {
            info!(%session, %reason, "session lost: re-creating it");
            self.effects.push(Effect::Recreate(session));
        } else {
            info!(%session, %reason, "session lost");
            self.registry
                .close_session(session, CloseReason::SessionLost(reason));
        }
    }

    fn recreated(&mut self, old: SessionId, new: SessionId) {
        let handles = self.registry.rekey_session(old, new);
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
        info!(old = %rec.old, %new, "session re-created");
        self.registry.tell_session(
            new,
            SessionEvent::Recreated {
                old: rec.old,
                new,
                handles: rec.pairs,
            },
        );
    }

    /// Whether a `destroy` of `session` is waiting for its answer.
    pub(crate) fn destroying(&self, session: SessionId) -> bool {
        self.table
            .lock()
            .transactions
            .any(|p| matches!(p, Purpose::Destroy { session: s } if *s == session))
    }

    /// Fails requests whose deadline passed, forgets those whose caller gave up, and ends
    /// the streams of detached handles whose `detached` is overdue.
    pub(crate) fn sweep(&mut self, now: Instant) {
        self.registry.sweep(now);
        self.registry.shrink();
        let expired = {
            let mut table = self.table.lock();
            table.transactions.shrink();
            table.transactions.expired(now)
        };
        for p in expired {
            let err = Error::timeout(p.timeout);
            // Same bookkeeping as any failure (a timeout has no Janus code, so nothing is
            // closed for it: a keepalive without answer is no proof the session is gone).
            self.on_failed(p, err);
        }
    }

    /// A request failed before Janus answered it (HTTP: the POST itself failed).
    pub(crate) fn fail_request(&mut self, txn: u64, err: Error) {
        let removed = self.table.lock().transactions.remove(txn);
        if let Some(p) = removed {
            self.on_failed(p, err);
        }
    }

    /// The connection dropped: every request in flight fails; recovery starts over.
    pub(crate) fn connection_lost(&mut self, reason: &str) {
        self.recreating.clear();
        let failed = {
            // One critical section: a caller either registered before (and fails here
            // with the rest) or finds the direct path closed and goes the slow way.
            let mut table = self.table.lock();
            table.set_direct(None);
            table.transactions.take_all()
        };
        self.publish();
        for p in failed {
            p.fail_closed(reason);
        }
    }

    /// The connection is gone for good: everything closes.
    pub(crate) fn close_all(&mut self, reason: CloseReason) {
        self.connection_lost(&reason.to_string());
        self.registry.close_all(reason);
        self.publish();
    }
}

/// Why a handle Janus reports `detached` went, when we had not marked it: our own detach
/// or destroy still waiting for its answer, or the server's doing.
fn teardown_reason(t: &Transactions, session: SessionId, handle: HandleId) -> CloseReason {
    if t.any(|p| matches!(p, Purpose::Detach { handle: h } if *h == handle)) {
        CloseReason::Detached
    } else if t.any(|p| matches!(p, Purpose::Destroy { session: s } if *s == session)) {
        CloseReason::Destroyed
    } else {
        CloseReason::DetachedByServer
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::events::{channel, EventStream};
    use crate::protocol::HandleEvent;
    use crate::request::Verb;
    use crate::shared::{HandleShared, SessionShared};
    use serde_json::json;
    use std::time::Duration;
    use tokio::sync::oneshot;

    pub(crate) type Rx = oneshot::Receiver<Result<Incoming, Error>>;

    fn inc(v: serde_json::Value) -> Incoming {
        Incoming::from_value(v).unwrap()
    }

    /// A request waiting for its answer, and where the answer goes.
    pub(crate) fn pending(verb: Verb, purpose: Purpose) -> (Pending, Rx) {
        let (tx, rx) = oneshot::channel();
        let p = Pending {
            verb,
            session: None,
            handle: None,
            purpose,
            reply: Some(tx),
            deadline: Instant::now() + Duration::from_secs(10),
            timeout: Duration::from_secs(10),
            acked: false,
        };
        (p, rx)
    }

    fn send(s: &mut State, txn: u64, verb: Verb, purpose: Purpose) -> Rx {
        let (p, rx) = pending(verb, purpose);
        s.register(txn, p, Instant::now());
        rx
    }

    fn with_session(s: &mut State, id: u64) -> EventStream<SessionEvent> {
        let (tx, source) = channel(8);
        let shared = SessionShared::new(0);
        let purpose = Purpose::Create {
            shared: shared.clone(),
            events: tx,
        };
        let mut rx = send(s, 1000 + id, Verb::Create, purpose);
        s.on_incoming(inc(
            json!({"janus":"success","transaction":(1000+id).to_string(),"data":{"id":id}}),
        ));
        assert!(rx.try_recv().unwrap().is_ok());
        assert_eq!(
            shared.id(),
            SessionId(id),
            "the application's value learns its id"
        );
        source.subscribe()
    }

    fn with_handle(s: &mut State, session: u64, id: u64) -> EventStream<HandleEvent> {
        let (tx, source) = channel(8);
        let purpose = Purpose::Attach {
            session: SessionId(session),
            plugin: "janus.plugin.echotest".into(),
            opaque_id: None,
            shared: HandleShared::new(0),
            events: tx,
        };
        let mut rx = send(s, 2000 + id, Verb::Attach, purpose);
        s.on_incoming(inc(
            json!({"janus":"success","transaction":(2000+id).to_string(),
            "session_id":session,"data":{"id":id}}),
        ));
        assert!(rx.try_recv().unwrap().is_ok());
        source.subscribe()
    }

    #[test]
    fn a_message_answer_goes_to_its_caller_not_to_the_stream() {
        let mut s = State::new(false, Arc::default(), Arc::default());
        let _session = with_session(&mut s, 1);
        let mut events = with_handle(&mut s, 1, 11);
        let mut rx = send(&mut s, 7, Verb::Message, Purpose::Plain);
        s.on_incoming(inc(json!({"janus":"ack","transaction":"7","session_id":1})));
        s.on_incoming(inc(
            json!({"janus":"event","transaction":"7","session_id":1,"sender":11,
            "plugindata":{"plugin":"janus.plugin.echotest","data":{"result":"ok"}}}),
        ));
        let answer = rx.try_recv().unwrap().unwrap();
        assert_eq!(answer.sender, Some(HandleId(11)));
        s.registry.close_all(CloseReason::Released);
        assert_eq!(
            tokio_test::block_on(events.recv()),
            Some(HandleEvent::Closed(CloseReason::Released)),
            "nothing else reached the stream"
        );
    }

    #[test]
    fn an_attach_answered_after_its_session_closed_fails_clearly() {
        let mut s = State::new(false, Arc::default(), Arc::default());
        let (tx, _source) = channel(8);
        let purpose = Purpose::Attach {
            session: SessionId(1),
            plugin: "p".into(),
            opaque_id: None,
            shared: HandleShared::new(0),
            events: tx,
        };
        let mut rx = send(&mut s, 3, Verb::Attach, purpose);
        s.on_incoming(inc(
            json!({"janus":"success","transaction":"3","data":{"id":5}}),
        ));
        let e = rx.try_recv().unwrap().unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::SessionGone { .. }), "{e}");
        assert_eq!(s.registry.handle_count(), 0);
    }

    #[test]
    fn a_detached_event_overtaking_our_detach_reads_as_ours() {
        let mut s = State::new(false, Arc::default(), Arc::default());
        let _session = with_session(&mut s, 1);
        let mut ours = with_handle(&mut s, 1, 11);
        let mut other = with_handle(&mut s, 1, 12);
        let _rx = send(
            &mut s,
            7,
            Verb::Detach,
            Purpose::Detach {
                handle: HandleId(11),
            },
        );
        s.on_incoming(inc(json!({"janus":"detached","session_id":1,"sender":11})));
        s.on_incoming(inc(json!({"janus":"success","transaction":"7"})));
        s.on_incoming(inc(json!({"janus":"detached","session_id":1,"sender":12})));
        tokio_test::block_on(async {
            assert_eq!(
                ours.recv().await,
                Some(HandleEvent::Closed(CloseReason::Detached))
            );
            assert_eq!(other.recv().await, Some(HandleEvent::Detached));
            assert_eq!(
                other.recv().await,
                Some(HandleEvent::Closed(CloseReason::DetachedByServer))
            );
        });
        assert_eq!(s.table.lock().transactions.len(), 0);
    }

    #[test]
    fn a_destroy_closes_the_session_and_tells_the_transport() {
        let mut s = State::new(false, Arc::default(), Arc::default());
        let _session = with_session(&mut s, 1);
        let _h = with_handle(&mut s, 1, 11);
        let mut rx = send(
            &mut s,
            8,
            Verb::Destroy,
            Purpose::Destroy {
                session: SessionId(1),
            },
        );
        assert!(s.destroying(SessionId(1)));
        s.on_incoming(inc(json!({"janus":"success","transaction":"8"})));
        assert!(rx.try_recv().unwrap().is_ok());
        assert_eq!(
            (s.registry.session_count(), s.registry.handle_count()),
            (0, 0)
        );
        assert!(s
            .registry
            .notices
            .contains(&Notice::SessionClosed(SessionId(1))));
    }

    #[test]
    fn a_failed_detach_reasserts_the_handle_and_a_failed_claim_is_a_recovery_step() {
        let mut s = State::new(false, Arc::default(), Arc::default());
        let _session = with_session(&mut s, 1);
        let _h = with_handle(&mut s, 1, 11);
        s.registry.notices.clear();
        let mut rx = send(
            &mut s,
            7,
            Verb::Detach,
            Purpose::Detach {
                handle: HandleId(11),
            },
        );
        s.fail_request(7, Error::transport_closed("reset", false));
        assert!(rx.try_recv().unwrap().unwrap_err().is_transport_closed());
        assert_eq!(
            s.registry.notices,
            vec![Notice::HandleOpened(SessionId(1), HandleId(11))]
        );
        let _rx = send(
            &mut s,
            8,
            Verb::Claim,
            Purpose::Claim {
                session: SessionId(1),
            },
        );
        s.fail_request(8, Error::transport("refused"));
        assert!(matches!(s.effects.last(), Some(Effect::RecoveryStep)));
        assert_eq!(
            s.registry.session_count(),
            0,
            "an unclaimable session is lost"
        );
    }

    #[test]
    fn a_lost_session_is_recreated_with_its_handles_when_the_policy_says_so() {
        let mut s = State::new(true, Arc::default(), Arc::default());
        let mut session = with_session(&mut s, 1);
        let _h = with_handle(&mut s, 1, 11);
        s.session_lost(SessionId(1), "gone".into(), true);
        assert!(matches!(
            s.effects.pop(),
            Some(Effect::Recreate(SessionId(1)))
        ));
        let _rx = send(
            &mut s,
            9,
            Verb::Create,
            Purpose::Recreate { old: SessionId(1) },
        );
        s.on_incoming(inc(
            json!({"janus":"success","transaction":"9","data":{"id":2}}),
        ));
        let handles = match s
            .effects
            .iter()
            .find(|e| matches!(e, Effect::Reattach { .. }))
        {
            Some(Effect::Reattach { handles, .. }) => handles.len(),
            other => panic!("expected a re-attach, got {other:?}"),
        };
        assert_eq!(handles, 1);
        let _rx = send(
            &mut s,
            10,
            Verb::Attach,
            Purpose::Reattach {
                session: SessionId(2),
                old: HandleId(11),
            },
        );
        s.on_incoming(inc(
            json!({"janus":"success","transaction":"10","data":{"id":21}}),
        ));
        assert_eq!(
            tokio_test::block_on(session.recv()),
            Some(SessionEvent::Recreated {
                old: SessionId(1),
                new: SessionId(2),
                handles: vec![(HandleId(11), HandleId(21))]
            })
        );
        // Without the policy (or for an unauthorized claim) it is closed and said so.
        let mut s = State::new(true, Arc::default(), Arc::default());
        let mut session = with_session(&mut s, 1);
        s.session_lost(SessionId(1), "unauthorized".into(), false);
        assert_eq!(
            tokio_test::block_on(session.recv()),
            Some(SessionEvent::Closed(CloseReason::SessionLost(
                "unauthorized".into()
            )))
        );
    }

    #[test]
    fn server_info_reports_the_session_timeout() {
        let mut s = State::new(false, Arc::default(), Arc::default());
        let _rx = send(&mut s, 1, Verb::Info, Purpose::Probe);
        s.on_incoming(inc(
            json!({"janus":"server_info","transaction":"1","session-timeout":60}),
        ));
        assert!(matches!(
            s.effects.as_slice(),
            [Effect::ServerInfo {
                session_timeout: Some(60)
            }]
        ));
    }

    #[test]
    fn late_answers_are_delivered_marked_and_counted_and_stray_replies_dropped() {
        let mut s = State::new(false, Arc::default(), Arc::default());
        let _session = with_session(&mut s, 5);
        let mut events = with_handle(&mut s, 5, 6);
        let event = |txn: &str| {
            inc(
                json!({"janus":"event","transaction":txn,"session_id":5,"sender":6,
                "plugindata":{"plugin":"janus.plugin.echotest","data":{"result":"late"}}}),
            )
        };
        // Timed out and swept, then answered.
        let (mut p, _rx) = pending(Verb::Message, Purpose::Plain);
        p.deadline = Instant::now();
        s.register(1, p, Instant::now());
        s.sweep(Instant::now());
        s.on_incoming(event("1"));
        // Given up by its caller, answered before the sweep.
        let rx = send(&mut s, 2, Verb::Message, Purpose::Plain);
        drop(rx);
        s.on_incoming(event("2"));
        s.on_incoming(inc(json!({"janus":"success","transaction":"998"})));
        assert_eq!(s.stats().unknown_transactions, 3);
        for txn in ["1", "2"] {
            match tokio_test::block_on(events.recv()) {
                Some(HandleEvent::LateReply { transaction, .. }) => assert_eq!(transaction, txn),
                other => panic!("expected a late reply, got {other:?}"),
            }
        }
        // Another event with that transaction (a plugin's later progress) is a plain event.
        s.on_incoming(event("2"));
        assert!(matches!(
            tokio_test::block_on(events.recv()),
            Some(HandleEvent::Plugin(_))
        ));
    }

    #[test]
    fn sweep_times_out_requests_and_connection_loss_fails_the_rest() {
        let mut s = State::new(false, Arc::default(), Arc::default());
        let (mut p, mut overdue) = pending(Verb::Info, Purpose::Plain);
        p.deadline = Instant::now();
        s.register(1, p, Instant::now());
        let mut waiting = send(&mut s, 2, Verb::Message, Purpose::Plain);
        s.sweep(Instant::now());
        assert!(overdue.try_recv().unwrap().unwrap_err().is_timeout());
        assert_eq!(s.table.lock().transactions.len(), 1);
        s.connection_lost("reset");
        let e = waiting.try_recv().unwrap().unwrap_err();
        assert!(e.is_transport_closed() && !e.is_retry_safe());
        assert_eq!(s.table.lock().transactions.len(), 0);
    }
}
