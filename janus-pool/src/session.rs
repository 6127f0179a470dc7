//! `PooledSession`: a session the pool placed, which knows its instance and may be
//! re-created elsewhere when that instance dies.

use janus_core::{CloseReason, Error, Session, SessionId};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use tokio::sync::watch;

use crate::book::Shared;
use crate::instance::InstanceId;
use crate::status::Placement;

pub(crate) struct Current {
    pub instance: InstanceId,
    pub instance_name: String,
    pub session: Session,
    pub generation: u64,
    pub lost: Option<String>,
}

pub(crate) struct PooledInner {
    pub id: u64,
    pub key: Option<String>,
    pub shared: Weak<Shared>,
    pub current: Mutex<Current>,
    pub placement: watch::Sender<Placement>,
    /// Set while a failover of this session runs (one at a time).
    pub failing: AtomicBool,
}

impl PooledInner {
    pub fn current(&self) -> MutexGuard<'_, Current> {
        self.current.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn publish(&self) {
        let c = self.current();
        self.placement.send_replace(Placement {
            instance: c.instance,
            instance_name: c.instance_name.clone(),
            session: c.session.id(),
            generation: c.generation,
            lost: c.lost.clone(),
        });
    }

    /// Whether Janus lost the current session (not: the application ended it).
    pub fn lost_by_janus(&self) -> bool {
        let c = self.current();
        c.lost.is_none()
            && matches!(
                c.session.closed_reason(),
                Some(
                    CloseReason::SessionLost(_)
                        | CloseReason::SessionTimeout
                        | CloseReason::TransportClosed(_)
                )
            )
    }

    pub fn begin_failover(&self) -> bool {
        !self.failing.swap(true, Ordering::AcqRel)
    }

    pub fn end_failover(&self) {
        self.failing.store(false, Ordering::Release);
    }
}

impl Drop for PooledInner {
    fn drop(&mut self) {
        let instance = self.current().instance;
        if let Some(shared) = self.shared.upgrade() {
            let mut book = shared.lock();
            if let Some(slot) = book.slot_mut(instance) {
                slot.sessions.remove(&self.id);
            }
            if let Some(key) = &self.key {
                shared.unkey(&mut book, key);
            }
            shared.publish(&book);
        }
        // The session itself is destroyed on Janus when its last value goes (here, unless
        // the application holds a clone of it).
    }
}

/// A session the pool placed on one of its instances.
///
/// It knows its instance ([`instance`](Self::instance)); session and handle ids are unique
/// only there. Clones share it; when the last clone is dropped the pool forgets it, its
/// sticky key loses a session (the key is released with its last one), and the Janus
/// session is destroyed (unless the application still holds a [`Session`] taken from it).
///
/// After a failover ([`Failover::Recreate`](crate::Failover::Recreate)) it names the new
/// instance and [`session`](Self::session) returns the new session; handles attached to the
/// old one are gone, and plugin state must be rebuilt. Watch
/// [`placement`](Self::placement) (or [`Pool::events`](crate::Pool::events)) to know.
///
/// ```no_run
/// # mod janus_client { pub use janus_core::*; pub mod pool { pub use janus_pool::*; } }
/// # async fn demo(pool: janus_client::pool::Pool) -> Result<(), janus_client::pool::PoolError> {
/// let pooled = pool.create_session_for("room-1234").await?;
/// println!("room 1234 is on {}", pooled.instance_name());
/// let handle = pooled.session().attach("janus.plugin.videoroom").await?;
/// let mut placement = pooled.placement();
/// tokio::spawn(async move {
///     while placement.changed().await.is_ok() {
///         let now = placement.borrow().clone();
///         println!("now on {} (lost: {:?}): attach and rejoin", now.instance_name, now.lost);
///     }
/// });
/// # drop(handle); Ok(()) }
/// ```
#[derive(Clone)]
pub struct PooledSession {
    pub(crate) inner: Arc<PooledInner>,
}

impl std::fmt::Debug for PooledSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let c = self.inner.current();
        f.debug_struct("PooledSession")
            .field("instance", &c.instance_name)
            .field("session", &c.session.id())
            .field("key", &self.inner.key)
            .field("generation", &c.generation)
            .field("lost", &c.lost)
            .finish()
    }
}

impl PooledSession {
    /// The instance it is on now.
    pub fn instance(&self) -> InstanceId {
        self.inner.current().instance
    }

    /// The name of the instance it is on now.
    pub fn instance_name(&self) -> String {
        self.inner.current().instance_name.clone()
    }

    /// The Janus session now (a new one after a re-creation). Attach handles to it.
    pub fn session(&self) -> Session {
        self.inner.current().session.clone()
    }

    /// Its sticky key, if it was created with one.
    pub fn key(&self) -> Option<&str> {
        self.inner.key.as_deref()
    }

    /// Where it is, as a watch: changes on a re-creation or a loss.
    pub fn placement(&self) -> watch::Receiver<Placement> {
        self.inner.placement.subscribe()
    }

    /// Why it was lost, when it was (and not re-created).
    pub fn lost(&self) -> Option<String> {
        self.inner.current().lost.clone()
    }

    /// The name its instance's Janus gives itself ([`InstanceStatus::server_name`]), once a
    /// probe of that instance has read it.
    ///
    /// [`InstanceStatus::server_name`]: crate::InstanceStatus::server_name
    pub fn server_name(&self) -> Option<String> {
        let instance = self.instance();
        let shared = self.inner.shared.upgrade()?;
        let book = shared.lock();
        book.slot(instance)?.server_name.clone()
    }

    /// `(server name, session id)`: the key under which Janus's event handlers report this
    /// session. It equals `received.session_key()` of janus-evh's events about it (their
    /// `emitter` is the `server_name`), so events from every instance of the pool join with
    /// the pool's sessions without naming the pool's instances after their Janus. `None`
    /// until a probe of its instance has read the name; a re-created session has a new key.
    ///
    /// ```no_run
    /// # mod janus_client { pub use janus_core::*; pub mod pool { pub use janus_pool::*; } }
    /// # async fn run(pool: janus_client::pool::Pool) -> Result<(), janus_client::pool::PoolError> {
    /// use std::collections::HashMap;
    ///
    /// let room_a = pool.create_session_for("room-a").await?;
    /// // Filled as sessions are placed; looked up with each event's `session_key()`.
    /// let mut by_event_key = HashMap::new();
    /// if let Some(key) = room_a.event_key() {
    ///     by_event_key.insert(key, room_a.clone());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn event_key(&self) -> Option<(String, SessionId)> {
        let id = self.session().id();
        Some((self.server_name()?, id))
    }

    /// Destroys the session on Janus. The pool forgets it when its last clone is dropped.
    pub async fn destroy(&self) -> Result<(), Error> {
        self.session().destroy().await
    }
}
