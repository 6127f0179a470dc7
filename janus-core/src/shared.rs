//! What an application's `Session` or `Handle` value shares with the connection task: its
//! id, which changes when a lost session is re-created by policy, and why it is gone, set
//! once by the task.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use tokio::time::Instant;

use crate::protocol::{CloseReason, HandleId, SessionId};

/// An id and a gone-reason, read by the application, written by the connection task.
#[derive(Debug)]
pub(crate) struct Shared<I> {
    id: AtomicU64,
    /// When the application last sent a request on it, in microseconds since [`epoch`]
    /// (sessions: their keepalive waits that long again).
    last_request: AtomicU64,
    pub(crate) gone: OnceLock<CloseReason>,
    kind: std::marker::PhantomData<I>,
}

impl<I: From<u64> + Into<u64>> Shared<I> {
    /// A value whose id comes with the answer (0 until then).
    pub(crate) fn new(id: u64) -> Arc<Self> {
        Arc::new(Shared {
            id: AtomicU64::new(id),
            last_request: AtomicU64::new(0),
            gone: OnceLock::new(),
            kind: std::marker::PhantomData,
        })
    }

    pub(crate) fn id(&self) -> I {
        I::from(self.id.load(Ordering::Acquire))
    }

    /// Notes a request sent now.
    pub(crate) fn touch(&self) {
        let us = Instant::now()
            .saturating_duration_since(epoch())
            .as_micros();
        self.last_request
            .store(u64::try_from(us).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// When the application last sent a request on it, if it did.
    pub(crate) fn last_request(&self) -> Option<Instant> {
        match self.last_request.load(Ordering::Relaxed) {
            0 => None,
            us => Some(epoch() + std::time::Duration::from_micros(us)),
        }
    }

    pub(crate) fn set_id(&self, id: I) {
        self.id.store(id.into(), Ordering::Release);
    }
}

/// The instant `last_request` counts from.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

pub(crate) type SessionShared = Shared<SessionId>;
pub(crate) type HandleShared = Shared<HandleId>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_changes_and_gone_is_set_once() {
        let s = SessionShared::new(0);
        s.set_id(SessionId(7));
        assert_eq!(s.id(), SessionId(7));
        assert!(s.gone.set(CloseReason::Destroyed).is_ok());
        assert!(s.gone.set(CloseReason::Released).is_err());
        assert_eq!(s.gone.get(), Some(&CloseReason::Destroyed));
    }
}
