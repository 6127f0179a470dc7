//! The protocol state ([`State`]), shared by the connection task and the callers whose
//! transport hands them their answer directly ([`Sent::Answer`](crate::Sent::Answer): an
//! HTTP `POST`'s reply). Such a caller applies its answer in its own task, so the reply
//! reaches it without a wake-up of the connection task on the way.
//!
//! One lock, held for the state's own work only, never across an await. What only the
//! connection task can do (tell its transport of a new session or handle, send requests of
//! its own) is left in the state, and the task is woken to do it.
//!
//! Lock order: the state, then the transaction table inside it ([`crate::table`]); the
//! table is never held while the state is taken.

use std::sync::{Mutex, MutexGuard};
use tokio::sync::Notify;

use crate::protocol::SessionId;
use crate::state::State;
use crate::transport::DirectAnswer;

/// The state behind its lock, and the connection task's wake-up for work callers leave.
pub(crate) struct SharedState {
    state: Mutex<State>,
    work: Notify,
}

impl SharedState {
    pub(crate) fn new(state: State) -> Self {
        SharedState {
            state: Mutex::new(state),
            work: Notify::new(),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding it; recover the data if something ever did.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Resolves once a caller has left work for the connection task (at once if it did
    /// since the last call).
    pub(crate) async fn work_left(&self) {
        self.work.notified().await
    }

    /// Applies the answer a caller read itself; the caller's own request is completed
    /// (through its `oneshot`, as for any answer) before this returns. `attach_on`: the
    /// request was an `attach` on that session.
    pub(crate) fn take_answer(&self, answer: DirectAnswer, attach_on: Option<SessionId>) {
        let work = {
            let mut state = self.lock();
            state.on_answer(answer, attach_on);
            state.has_work()
        };
        if work {
            self.work.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::channel;
    use crate::registry::Notice;
    use crate::request::Verb;
    use crate::shared::{HandleShared, SessionShared};
    use crate::state::tests::{pending, Rx};
    use crate::transactions::Purpose;
    use crate::transport::AnswerOutcome;
    use crate::Error;
    use futures::FutureExt;
    use std::sync::Arc;
    use std::time::Duration;
    use tokio::time::Instant;

    fn register(s: &SharedState, txn: u64, verb: Verb, purpose: Purpose) -> Rx {
        let (p, rx) = pending(verb, purpose);
        s.lock().register(txn, p, Instant::now());
        rx
    }

    fn reply(txn: u64, text: &str) -> DirectAnswer {
        DirectAnswer {
            malformed: None,
            outcome: AnswerOutcome::Reply {
                transaction: txn.to_string(),
                text: text.to_string(),
            },
        }
    }

    fn shared() -> SharedState {
        SharedState::new(State::new(false, Arc::default(), Arc::default()))
    }

    #[test]
    fn a_create_answered_directly_opens_the_session_for_the_tasks_next_turn() {
        let s = shared();
        let (events, _source) = channel(8);
        let session = SessionShared::new(0);
        let purpose = Purpose::Create {
            shared: session.clone(),
            events,
        };
        let mut rx = register(&s, 1, Verb::Create, purpose);
        assert!(s.work_left().now_or_never().is_none(), "no work yet");
        s.take_answer(
            reply(
                1,
                r#"{"janus":"success","transaction":"1","data":{"id":7}}"#,
            ),
            None,
        );
        assert!(rx.try_recv().expect("answered").is_ok());
        assert_eq!(session.id(), SessionId(7));
        let state = s.lock();
        assert!(state.registry.has_session(SessionId(7)));
        assert_eq!(
            state.registry.notices,
            vec![Notice::SessionOpened(SessionId(7))]
        );
        assert_eq!(state.table.lock().transactions.len(), 0);
        drop(state);
        assert!(
            s.work_left().now_or_never().is_none(),
            "a session without handles is nothing the transport acts on at once"
        );
    }

    #[test]
    fn an_attach_answered_directly_says_so_after_its_handle() {
        let s = shared();
        let (events, _source) = channel(8);
        let mut rx = register(
            &s,
            1,
            Verb::Create,
            Purpose::Create {
                shared: SessionShared::new(0),
                events,
            },
        );
        s.take_answer(
            reply(
                1,
                r#"{"janus":"success","transaction":"1","data":{"id":7}}"#,
            ),
            None,
        );
        assert!(rx.try_recv().expect("created").is_ok());
        s.lock().registry.notices.clear();
        let (events, _source) = channel(8);
        let purpose = Purpose::Attach {
            session: SessionId(7),
            plugin: "janus.plugin.echotest".into(),
            opaque_id: None,
            shared: HandleShared::new(0),
            events,
        };
        let mut rx = register(&s, 2, Verb::Attach, purpose);
        s.take_answer(
            reply(
                2,
                r#"{"janus":"success","transaction":"2","session_id":7,"data":{"id":9}}"#,
            ),
            Some(SessionId(7)),
        );
        assert!(rx.try_recv().expect("attached").is_ok());
        assert!(
            s.work_left().now_or_never().is_some(),
            "the connection task is woken to tell its transport"
        );
        assert_eq!(
            s.lock().registry.notices,
            vec![
                Notice::HandleOpened(SessionId(7), crate::HandleId(9)),
                Notice::AttachAnswered(SessionId(7)),
            ]
        );
    }

    #[test]
    fn a_failed_attach_wakes_the_task_to_free_its_place() {
        let s = shared();
        let (events, _source) = channel(8);
        let purpose = Purpose::Attach {
            session: SessionId(7),
            plugin: "janus.plugin.nosuch".into(),
            opaque_id: None,
            shared: HandleShared::new(0),
            events,
        };
        let mut rx = register(&s, 6, Verb::Attach, purpose);
        s.take_answer(
            reply(
                6,
                r#"{"janus":"error","transaction":"6","error":{"code":460,"reason":"No such plugin"}}"#,
            ),
            Some(SessionId(7)),
        );
        let err = rx.try_recv().expect("answered").expect_err("refused");
        assert_eq!(err.janus_code(), Some(460));
        assert_eq!(
            s.lock().registry.notices,
            vec![Notice::AttachAnswered(SessionId(7))]
        );
        assert!(s.work_left().now_or_never().is_some());
    }

    #[test]
    fn a_plain_answer_completes_its_caller_without_waking_the_task() {
        let s = shared();
        let mut rx = register(&s, 3, Verb::Ping, Purpose::Plain);
        s.take_answer(reply(3, r#"{"janus":"pong","transaction":"3"}"#), None);
        assert_eq!(
            rx.try_recv().expect("answered").expect("pong").janus,
            "pong"
        );
        assert!(s.work_left().now_or_never().is_none());
    }

    #[test]
    fn a_body_that_does_not_answer_or_a_failed_post_fails_the_request_at_once() {
        let s = shared();
        let mut rx = register(&s, 4, Verb::Ping, Purpose::Plain);
        s.take_answer(
            DirectAnswer {
                malformed: Some("the body is not UTF-8".into()),
                outcome: AnswerOutcome::Reply {
                    transaction: "4".into(),
                    text: "not json".into(),
                },
            },
            None,
        );
        let err = rx.try_recv().expect("answered").expect_err("fails");
        assert!(err.to_string().contains("not JSON"), "{err}");
        assert_eq!(s.lock().malformed_messages, 2, "the body and the frame");

        let mut rx = register(&s, 5, Verb::Ping, Purpose::Plain);
        s.take_answer(
            DirectAnswer {
                malformed: None,
                outcome: AnswerOutcome::Failed {
                    transaction: "5".into(),
                    error: Error::timeout(Duration::from_secs(1)),
                },
            },
            None,
        );
        assert!(rx
            .try_recv()
            .expect("answered")
            .expect_err("fails")
            .is_timeout());
        assert_eq!(s.lock().table.lock().transactions.len(), 0);
    }
}
