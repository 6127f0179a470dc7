//! Where a request can skip the connection task: the transaction table, shared by the
//! callers and the connection task, and the transport's [`DirectSend`] while the link is up.
//!
//! A caller registers its transaction and hands the JSON to the transport's writer itself
//! (one wake-up fewer per request than going through the connection task); the connection
//! task reads and matches every answer, except those the transport hands back to the
//! caller ([`Sent::Answer`]), which the caller applies itself. A caller registers, and the
//! connection task closes the direct path and fails what is in flight, under one lock, held
//! for map operations only, never across an await: a request is either registered before a
//! drop (and failed with the others) or sent the slow way after it.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::request::Request;
use crate::transactions::Transactions;
use crate::transport::{AnswerFuture, DirectSend, OutgoingMessage, Sent};
use crate::txn::TxnNames;

/// What the lock protects.
#[derive(Default)]
pub(crate) struct Inner {
    pub(crate) transactions: Transactions,
    /// Set while the link is up, recovered and answering.
    direct: Option<Arc<dyn DirectSend>>,
}

impl Inner {
    /// Opens (`Some`) or closes (`None`) the direct path.
    pub(crate) fn set_direct(&mut self, direct: Option<Arc<dyn DirectSend>>) {
        self.direct = direct;
    }

    pub(crate) fn has_direct(&self) -> bool {
        self.direct.is_some()
    }
}

/// Where [`Table::try_direct`] left a request.
pub(crate) enum Direct {
    /// Not taken: it goes through the connection task.
    Slow(Request),
    /// On its way; its answer comes through the connection task.
    Sent,
    /// On its way; its answer comes on this future, for the caller to apply.
    Answer(AnswerFuture),
}

/// The shared table.
#[derive(Default)]
pub(crate) struct Table {
    inner: Mutex<Inner>,
}

impl Table {
    /// An empty table for a client naming its transactions by `names`.
    pub(crate) fn new(names: TxnNames) -> Self {
        Table {
            inner: Mutex::new(Inner {
                transactions: Transactions::new(names),
                direct: None,
            }),
        }
    }
}

impl Table {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        // Nothing panics while holding it; recover the data if something ever did.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers `req` and hands it to the transport, when the direct path is open. Gives
    /// the request back, untouched, when it must go through the connection task.
    pub(crate) fn try_direct(&self, req: Request) -> Direct {
        let Request { txn, json, pending } = req;
        let (direct, msg) = {
            let mut g = self.lock();
            let Some(direct) = g.direct.clone() else {
                return Direct::Slow(Request { txn, json, pending });
            };
            let msg = OutgoingMessage {
                verb: pending.verb,
                transaction: g.transactions.name(txn),
                session_id: pending.session,
                handle_id: pending.handle,
                json,
                deadline: Some(pending.deadline),
                in_flight: g.transactions.len(),
            };
            // What the slow way needs again is kept in the pending entry.
            g.transactions.register(txn, pending);
            (direct, msg)
        };
        match direct.try_send(msg) {
            Ok(Sent::Handed) => Direct::Sent,
            Ok(Sent::Answer(answer)) => Direct::Answer(answer),
            // Queue full or connection gone: take the entry back, unless the connection task
            // failed it already (the caller then gets that answer).
            Err(msg) => match self.lock().transactions.take_back(txn) {
                Some(pending) => Direct::Slow(Request {
                    txn,
                    json: msg.json,
                    pending,
                }),
                None => Direct::Sent,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Verb;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;
    use tokio::time::Instant;

    /// Takes requests while `open`, and keeps what it took.
    #[derive(Default)]
    struct Fake {
        open: AtomicBool,
        taken: Mutex<Vec<String>>,
    }

    impl DirectSend for Fake {
        fn try_send(&self, msg: OutgoingMessage) -> Result<Sent, OutgoingMessage> {
            if self.open.load(Ordering::SeqCst) {
                self.taken.lock().unwrap().push(msg.json);
                Ok(Sent::Handed)
            } else {
                Err(msg)
            }
        }
    }

    fn request(txn: u64) -> Request {
        Request::new(
            Verb::Message,
            None,
            None,
            txn,
            format!("{{\"transaction\":\"{txn}\"}}"),
            Instant::now() + Duration::from_secs(5),
            Duration::from_secs(5),
            None,
            None,
        )
    }

    #[test]
    fn closed_path_gives_the_request_back_untouched() {
        let table = Table::default();
        let Direct::Slow(back) = table.try_direct(request(1)) else {
            panic!("not given back")
        };
        assert_eq!(back.txn, 1);
        assert_eq!(table.lock().transactions.len(), 0);
    }

    #[test]
    fn open_path_registers_then_sends() {
        let table = Table::default();
        let fake = Arc::new(Fake::default());
        fake.open.store(true, Ordering::SeqCst);
        table.lock().set_direct(Some(fake.clone()));
        assert!(matches!(table.try_direct(request(2)), Direct::Sent));
        assert_eq!(table.lock().transactions.len(), 1);
        assert_eq!(fake.taken.lock().unwrap().len(), 1);
    }

    #[test]
    fn a_refused_send_takes_the_entry_back_with_its_json() {
        let table = Table::default();
        let fake = Arc::new(Fake::default());
        table.lock().set_direct(Some(fake));
        let Direct::Slow(back) = table.try_direct(request(3)) else {
            panic!("not given back")
        };
        assert_eq!(back.json, "{\"transaction\":\"3\"}");
        assert_eq!(table.lock().transactions.len(), 0, "not left behind");
    }
}
