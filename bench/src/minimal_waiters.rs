//! What every minimal client's reader task shares with its requesters: the requests waiting
//! for an answer, by transaction, in a `std::sync::Mutex<HashMap<..>>`. A request registers
//! before it is sent, so an answer can never come first; `ack`s are skipped (the only request
//! answered by an ack here is `message`, which completes on its `event`).

use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use tokio::sync::oneshot;

#[derive(Default)]
pub struct Waiters {
    pending: Mutex<HashMap<String, oneshot::Sender<Value>>>,
    closed: AtomicBool,
}

impl Waiters {
    fn pending(&self) -> MutexGuard<'_, HashMap<String, oneshot::Sender<Value>>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers `txn` before its request goes out; `None` once the connection is closed.
    pub fn wait_for(&self, txn: String) -> Option<Wait<'_>> {
        let (tx, rx) = oneshot::channel();
        self.pending().insert(txn.clone(), tx);
        let wait = Wait {
            waiters: self,
            txn: Some(txn),
            rx,
        };
        // After the insert: a `fail_all` that cleared the map before it is seen here.
        (!self.closed.load(Ordering::SeqCst)).then_some(wait)
    }

    /// One message from Janus: completes the request it answers. `Err` when it is not JSON.
    pub fn deliver(&self, bytes: &[u8]) -> Result<(), serde_json::Error> {
        let value = serde_json::from_slice::<Value>(bytes)?;
        if value["janus"] == "ack" {
            return Ok(());
        }
        // Events of no request (detached, the echotest's "done", ...) have no transaction.
        let Some(txn) = value.get("transaction").and_then(Value::as_str) else {
            return Ok(());
        };
        let waiter = self.pending().remove(txn);
        if let Some(waiter) = waiter {
            let _ = waiter.send(value);
        }
        Ok(())
    }

    /// The connection is gone: every waiting request fails now, and later ones at once.
    pub fn fail_all(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.pending().clear();
    }
}

/// One registered request; its entry goes when this is dropped unanswered (an error, or the
/// runner's timeout).
pub struct Wait<'a> {
    waiters: &'a Waiters,
    txn: Option<String>,
    rx: oneshot::Receiver<Value>,
}

impl Wait<'_> {
    /// The answer; `Err` when the connection closed first.
    pub async fn answer(mut self, janus: &str) -> Result<Value, String> {
        let answer = (&mut self.rx).await;
        // Removed by the reader (or by `fail_all`).
        self.txn = None;
        answer.map_err(|_| format!("{janus}: connection closed"))
    }
}

impl Drop for Wait<'_> {
    fn drop(&mut self) {
        if let Some(txn) = self.txn.take() {
            self.waiters.pending().remove(&txn);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_answer_completes_its_request_and_an_ack_does_not() {
        let w = Waiters::default();
        let wait = w.wait_for("7".into()).expect("open");
        w.deliver(br#"{"janus":"ack","transaction":"7"}"#).unwrap();
        w.deliver(br#"{"janus":"event","transaction":"7"}"#)
            .unwrap();
        let answer = wait.answer("message").await.unwrap();
        assert_eq!(answer["janus"], "event");
        assert!(w.pending().is_empty());
        assert!(w.deliver(b"not json").is_err());
    }

    #[tokio::test]
    async fn closing_fails_waiting_and_later_requests() {
        let w = Waiters::default();
        let wait = w.wait_for("1".into()).expect("open");
        w.fail_all();
        assert!(wait.answer("create").await.is_err());
        assert!(w.wait_for("2".into()).is_none());
        assert!(
            w.pending().is_empty(),
            "the refused entry is not left behind"
        );
    }

    #[test]
    fn a_dropped_wait_takes_its_entry() {
        let w = Waiters::default();
        drop(w.wait_for("3".into()));
        assert!(w.pending().is_empty());
    }
}
