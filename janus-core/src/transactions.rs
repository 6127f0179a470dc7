//! Where a transaction is matched: the table of requests waiting for their answer, and the
//! rules that say which incoming message completes which request (`success`, `ack`, `ack`
//! then `event` in either order, `error`). No I/O, no routes: what a completed request
//! does to sessions and handles is decided by the caller ([`crate::state`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tracing::{debug, trace};

use crate::decode::Incoming;
use crate::error::Error;
use crate::events::EventSender;
use crate::protocol::{HandleEvent, HandleId, SessionEvent, SessionId};
use crate::request::{Expect, Opens, Reply, Verb};
use crate::shared::{HandleShared, SessionShared};
use crate::txn::TxnNames;

/// What a completed request does to the routes.
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
    /// Getting a session back after a reconnect: a `claim`, or a `keepalive` where sessions
    /// belong to no connection ([`SessionOwnership::Shared`](crate::SessionOwnership)).
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
    /// The connection task's own `info` after a (re)connect, for the session timeout.
    Probe,
}

impl Purpose {
    /// What an application's request does when it succeeds.
    pub(crate) fn for_request(
        verb: Verb,
        session: Option<SessionId>,
        handle: Option<HandleId>,
        opens: Option<Opens>,
    ) -> Purpose {
        match (verb, opens, session, handle) {
            (Verb::Create, Some(Opens::Session { shared, events }), _, _) => {
                Purpose::Create { shared, events }
            }
            (
                Verb::Attach,
                Some(Opens::Handle {
                    plugin,
                    opaque_id,
                    shared,
                    events,
                }),
                Some(session),
                _,
            ) => Purpose::Attach {
                session,
                plugin,
                opaque_id,
                shared,
                events,
            },
            (Verb::Destroy, _, Some(session), _) => Purpose::Destroy { session },
            (Verb::Detach, _, _, Some(handle)) => Purpose::Detach { handle },
            _ => Purpose::Plain,
        }
    }

    /// The connection task's own bookkeeping requests: repeating them is always harmless.
    fn internal(&self) -> bool {
        matches!(
            self,
            Purpose::Keepalive { .. }
                | Purpose::Claim { .. }
                | Purpose::Recreate { .. }
                | Purpose::Reattach { .. }
                | Purpose::Probe
        )
    }

    /// The session the request concerns, when it names one in its purpose.
    pub(crate) fn session(&self) -> Option<SessionId> {
        match self {
            Purpose::Attach { session, .. }
            | Purpose::Destroy { session }
            | Purpose::Keepalive { session }
            | Purpose::Claim { session } => Some(*session),
            _ => None,
        }
    }
}

/// One request waiting for its answer.
pub(crate) struct Pending {
    pub(crate) verb: Verb,
    /// Where it went (to send it again the slow way).
    pub(crate) session: Option<SessionId>,
    pub(crate) handle: Option<HandleId>,
    pub(crate) purpose: Purpose,
    pub(crate) reply: Option<Reply>,
    pub(crate) deadline: Instant,
    pub(crate) timeout: Duration,
    /// A plugin message got its `ack`; its `event` is still to come.
    pub(crate) acked: bool,
}

impl Pending {
    /// Whether the application's caller stopped waiting (its timeout passed, or it dropped
    /// the request). Requests of the connection task's own have no caller to lose.
    pub(crate) fn caller_gone(&self) -> bool {
        self.reply.as_ref().is_some_and(|r| r.is_closed())
    }

    /// Answers the caller, if there is one still waiting.
    pub(crate) fn complete(self, result: Result<Incoming, Error>) {
        if let Some(tx) = self.reply {
            // The caller may have given up (timeout, dropped future): nothing to do then.
            let _ = tx.send(result);
        }
    }
}

/// What one incoming message is to the transaction table.
pub(crate) enum Match {
    /// The answer that completes a request.
    Completed(Pending, Incoming),
    /// An `error` answer.
    Failed(Pending, Error),
    /// Part of an answer (the `ack` of a plugin message), or a late `ack`: nothing to do.
    Absorbed,
    /// Not an answer: an event to route. `late` holds the transaction when the event
    /// answers a request no longer waiting for it (timed out, failed, or one that takes no
    /// event).
    Event { msg: Incoming, late: Option<String> },
    /// A reply (`success`, `error`, ...) for no waiting request: dropped and counted.
    Stray,
}

/// How many failed transactions are remembered, so that a plugin event answering one
/// later is marked as late.
const FAILED_REMEMBERED: usize = 4096;

/// How long a failed transaction is remembered.
const FAILED_FOR: Duration = Duration::from_secs(300);

/// The requests waiting for an answer, by transaction, and those that failed lately.
#[derive(Default)]
pub(crate) struct Transactions {
    /// How this client names its transactions: an answer named otherwise is not its own.
    names: TxnNames,
    pending: HashMap<u64, Pending>,
    /// Requests that failed (timed out, connection dropped) before their answer came,
    /// oldest first; bounded by [`FAILED_REMEMBERED`] and [`FAILED_FOR`].
    failed: std::collections::VecDeque<(u64, Instant)>,
    failed_set: std::collections::HashSet<u64>,
}

impl Transactions {
    /// The transaction `id` as written in a request.
    pub(crate) fn name(&self, id: u64) -> String {
        self.names.name(id)
    }

    /// An empty table for a client naming its transactions by `names`.
    pub(crate) fn new(names: TxnNames) -> Self {
        Transactions {
            names,
            ..Transactions::default()
        }
    }

    /// The request number in a transaction of this client's (`None` for anyone else's).
    pub(crate) fn id_of(&self, transaction: &str) -> Option<u64> {
        self.names.id(transaction)
    }

    pub(crate) fn len(&self) -> usize {
        self.pending.len()
    }

    /// Registers a request before it is sent, so an answer can never come "too early".
    pub(crate) fn register(&mut self, txn: u64, pending: Pending) {
        self.pending.insert(txn, pending);
    }

    /// Whether `txn` waits for the first part of its answer (not even an `ack` came).
    pub(crate) fn unanswered(&self, txn: u64) -> bool {
        self.pending.get(&txn).is_some_and(|p| !p.acked)
    }

    /// Takes back a request registered a moment ago that could not be written: it is not
    /// a failure, it goes another way.
    pub(crate) fn take_back(&mut self, txn: u64) -> Option<Pending> {
        self.pending.remove(&txn)
    }

    /// Takes a request out (it failed before Janus answered it).
    pub(crate) fn remove(&mut self, txn: u64) -> Option<Pending> {
        let p = self.pending.remove(&txn)?;
        self.remember_failed(txn, Instant::now());
        Some(p)
    }

    /// Remembers a request that failed before its answer, for a while.
    fn remember_failed(&mut self, txn: u64, now: Instant) {
        while let Some(&(old, at)) = self.failed.front() {
            if self.failed.len() < FAILED_REMEMBERED
                && now.saturating_duration_since(at) < FAILED_FOR
            {
                break;
            }
            self.failed.pop_front();
            self.failed_set.remove(&old);
        }
        if self.failed_set.insert(txn) {
            self.failed.push_back((txn, now));
        }
    }

    /// Whether a transaction is one of a request that failed lately.
    fn failed_lately(&self, txn: &str) -> bool {
        self.names
            .id(txn)
            .is_some_and(|id| self.failed_set.contains(&id))
    }

    /// Whether any waiting request's purpose satisfies `f`.
    pub(crate) fn any(&self, f: impl Fn(&Purpose) -> bool) -> bool {
        self.pending.values().any(|p| f(&p.purpose))
    }

    /// Matches one incoming message against the table.
    pub(crate) fn on_message(&mut self, msg: Incoming) -> Match {
        let Some(txn) = msg.transaction.as_deref() else {
            return Match::Event { msg, late: None };
        };
        let Some(id) = self
            .names
            .id(txn)
            .filter(|id| self.pending.contains_key(id))
        else {
            return match msg.janus.as_str() {
                // An ack after its event (trap 3) or after a timeout: expected, harmless.
                "ack" => {
                    trace!(transaction = txn, "late ack dropped");
                    Match::Absorbed
                }
                "success" | "error" | "server_info" | "pong" => {
                    debug!(transaction = txn, janus = %msg.janus, "reply for an unknown transaction dropped");
                    Match::Stray
                }
                // An event for a request that failed (timed out, say): still an event of
                // its handle, since it carries plugin state, marked as late. Others carry
                // the transaction of a request answered already (plugins send several
                // events with one transaction: a SIP call's progress) or not ours.
                _ if self.failed_lately(txn) => {
                    debug!(transaction = txn, janus = %msg.janus, "answer to a failed request delivered as a late reply");
                    let late = msg.transaction.clone();
                    Match::Event { msg, late }
                }
                _ => Match::Event { msg, late: None },
            };
        };
        let Some(p) = self.pending.get_mut(&id) else {
            return Match::Absorbed;
        };
        let kind = msg.janus.as_str();
        let done = match (kind, p.verb.expect()) {
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
            // Not an answer this request expects: an event.
            _ => return Match::Event { msg, late: None },
        };
        if !done {
            return Match::Absorbed;
        }
        let Some(p) = self.pending.remove(&id) else {
            return Match::Absorbed;
        };
        if kind == "error" {
            let err = msg.core_error();
            Match::Failed(p, err)
        } else {
            Match::Completed(p, msg)
        }
    }

    /// Takes out the requests whose deadline passed, or whose caller gave up. A `create` or
    /// an `attach` whose caller gave up stays until its deadline: its answer, if it comes,
    /// names what Janus made for nobody, which is then undone.
    pub(crate) fn expired(&mut self, now: Instant) -> Vec<Pending> {
        let ids: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| {
                p.deadline <= now
                    || (p.caller_gone()
                        && !matches!(p.purpose, Purpose::Create { .. } | Purpose::Attach { .. }))
            })
            .map(|(id, _)| *id)
            .collect();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(p) = self.pending.remove(&id) {
                self.remember_failed(id, now);
                out.push(p);
            }
        }
        out
    }

    /// Gives back memory held since a peak of requests in flight.
    pub(crate) fn shrink(&mut self) {
        crate::registry::shrink_map(&mut self.pending);
    }

    /// Takes every request out (the connection dropped).
    pub(crate) fn take_all(&mut self) -> Vec<Pending> {
        let now = Instant::now();
        let all: Vec<(u64, Pending)> = self.pending.drain().collect();
        all.into_iter()
            .map(|(id, p)| {
                self.remember_failed(id, now);
                p
            })
            .collect()
    }
}

impl Pending {
    /// Fails the request because the connection dropped: retry-safe when repeating it is
    /// harmless.
    pub(crate) fn fail_closed(self, reason: &str) {
        let retry_safe = self.purpose.internal() || self.verb.retry_safe();
        self.complete(Err(Error::transport_closed(reason, retry_safe)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tokio::sync::oneshot;

    fn inc(v: serde_json::Value) -> Incoming {
        Incoming::from_value(v).unwrap()
    }

    fn pending(verb: Verb) -> (Pending, oneshot::Receiver<Result<Incoming, Error>>) {
        let (tx, rx) = oneshot::channel();
        let p = Pending {
            verb,
            session: None,
            handle: None,
            purpose: Purpose::Plain,
            reply: Some(tx),
            deadline: Instant::now() + Duration::from_secs(10),
            timeout: Duration::from_secs(10),
            acked: false,
        };
        (p, rx)
    }

    fn completes(m: Match) -> Incoming {
        match m {
            Match::Completed(_, msg) => msg,
            _ => panic!("expected a completion"),
        }
    }

    #[test]
    fn ack_then_event_completes_a_message_and_the_ack_alone_does_not() {
        let mut t = Transactions::default();
        let (p, _rx) = pending(Verb::Message);
        t.register(1, p);
        assert!(t.unanswered(1));
        assert!(matches!(
            t.on_message(inc(json!({"janus":"ack","transaction":"1"}))),
            Match::Absorbed
        ));
        assert!(!t.unanswered(1) && t.len() == 1);
        let msg = completes(t.on_message(inc(
            json!({"janus":"event","transaction":"1","sender":6,"plugindata":{"plugin":"p","data":{}}}),
        )));
        assert_eq!(msg.janus, "event");
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn event_before_ack_completes_and_the_late_ack_is_absorbed() {
        let mut t = Transactions::default();
        let (p, _rx) = pending(Verb::Message);
        t.register(1, p);
        completes(t.on_message(inc(json!({"janus":"event","transaction":"1"}))));
        assert!(matches!(
            t.on_message(inc(json!({"janus":"ack","transaction":"1"}))),
            Match::Absorbed
        ));
    }

    #[test]
    fn each_verb_completes_on_its_own_answer() {
        for (verb, answer) in [
            (Verb::Message, "success"),
            (Verb::Trickle, "ack"),
            (Verb::Keepalive, "ack"),
            (Verb::Info, "server_info"),
            (Verb::Ping, "pong"),
            (Verb::Attach, "success"),
        ] {
            let mut t = Transactions::default();
            let (p, _rx) = pending(verb);
            t.register(9, p);
            completes(t.on_message(inc(json!({"janus":answer,"transaction":"9"}))));
        }
        // An ack does not complete a request answered by `success`.
        let mut t = Transactions::default();
        let (p, _rx) = pending(Verb::Create);
        t.register(9, p);
        assert!(matches!(
            t.on_message(inc(json!({"janus":"ack","transaction":"9"}))),
            Match::Absorbed
        ));
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn an_error_fails_with_the_janus_code() {
        let mut t = Transactions::default();
        let (p, _rx) = pending(Verb::Attach);
        t.register(5, p);
        match t.on_message(inc(
            json!({"janus":"error","transaction":"5","error":{"code":460,"reason":"No such plugin"}}),
        )) {
            Match::Failed(_, e) => assert_eq!(e.janus_code(), Some(460)),
            _ => panic!("expected a failure"),
        }
    }

    fn late(m: Match) -> Option<String> {
        match m {
            Match::Event { late, .. } => late,
            _ => panic!("expected an event"),
        }
    }

    #[test]
    fn replies_for_nobody_are_stray_and_only_answers_to_failed_requests_are_late() {
        let mut t = Transactions::default();
        assert!(matches!(
            t.on_message(inc(json!({"janus":"success","transaction":"42"}))),
            Match::Stray
        ));
        assert!(matches!(
            t.on_message(inc(json!({"janus":"success","transaction":"not-ours"}))),
            Match::Stray
        ));
        // Not ours, or a second event of an answered request (a SIP call's progress): plain.
        assert_eq!(
            late(t.on_message(inc(json!({"janus":"event","transaction":"42"})))),
            None
        );
        assert_eq!(
            late(t.on_message(inc(json!({"janus":"webrtcup","sender":1})))),
            None
        );
        // The answer to a request that timed out: late.
        let (mut p, _rx) = pending(Verb::Message);
        p.deadline = Instant::now();
        t.register(7, p);
        assert_eq!(t.expired(Instant::now()).len(), 1);
        assert_eq!(
            late(t.on_message(inc(json!({"janus":"event","transaction":"7","sender":1}))))
                .as_deref(),
            Some("7")
        );
        // An event with the transaction of a request that takes none: plain, and the
        // request still waits for its ack.
        let (p, _rx) = pending(Verb::Trickle);
        t.register(3, p);
        assert_eq!(
            late(t.on_message(inc(json!({"janus":"event","transaction":"3"})))),
            None
        );
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn failed_transactions_are_remembered_within_bounds() {
        let mut t = Transactions::default();
        let t0 = Instant::now();
        for id in 0..(FAILED_REMEMBERED as u64 + 10) {
            t.remember_failed(id, t0);
        }
        assert_eq!(t.failed.len(), FAILED_REMEMBERED);
        assert!(!t.failed_lately("0") && t.failed_lately("10"));
        t.remember_failed(99_999, t0 + FAILED_FOR);
        assert!(!t.failed_lately("10"), "forgotten after FAILED_FOR");
        assert!(t.failed_lately("99999"));
        assert_eq!(t.failed.len(), t.failed_set.len());
    }

    #[test]
    fn expired_takes_overdue_and_abandoned_requests() {
        let mut t = Transactions::default();
        let (mut p, _rx1) = pending(Verb::Info);
        p.deadline = Instant::now();
        t.register(1, p);
        let (p, rx2) = pending(Verb::Info);
        t.register(2, p);
        drop(rx2);
        let (p, _rx3) = pending(Verb::Info);
        t.register(3, p);
        assert_eq!(t.expired(Instant::now()).len(), 2);
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn fail_all_says_which_requests_are_safe_to_repeat() {
        let mut t = Transactions::default();
        let (p, mut info) = pending(Verb::Info);
        t.register(1, p);
        let (p, mut message) = pending(Verb::Message);
        t.register(2, p);
        for p in t.take_all() {
            p.fail_closed("reset");
        }
        let e = info.try_recv().unwrap().unwrap_err();
        assert!(e.is_transport_closed() && e.is_retry_safe());
        let e = message.try_recv().unwrap().unwrap_err();
        assert!(e.is_transport_closed() && !e.is_retry_safe());
        assert_eq!(t.len(), 0);
    }
}
