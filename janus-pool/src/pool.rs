//! `Pool`: the application's entry point.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, watch, Notify};

use crate::book::{Book, Shared, Slot};
use crate::error::PoolError;
use crate::instance::{InstanceId, InstanceSpec, InstanceState};
use crate::monitor::monitor;
use crate::options::PoolOptions;
use crate::place::create_placed;
use crate::renew::renew_leases;
use crate::session::{Current, PooledInner, PooledSession};
use crate::status::{Placement, PoolEvent, PoolStatus, StoreHealth};
use crate::store::{LocalStore, PlacementStore};

/// Ends the pool's tasks when the last `Pool` value goes.
struct Guard {
    shutdown: watch::Sender<bool>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
    }
}

/// A pool of Janus instances: places sessions on the least loaded live instance (or round
/// robin), keeps sessions of one sticky key on one instance (agreed between application
/// replicas through a shared [`PlacementStore`]), probes every instance, avoids those down
/// or draining, and fails over the sessions of an instance that dies.
///
/// Cheap to clone. When its last clone is dropped, its probe and lease tasks stop; sessions
/// it handed out keep working on their instances, without failover.
///
/// ```no_run
/// # mod janus_client { pub use janus_core::*; pub mod pool { pub use janus_pool::*; } }
/// # async fn demo(specs: Vec<janus_client::pool::InstanceSpec>) -> Result<(), janus_client::pool::PoolError> {
/// use janus_client::pool::{Pool, PoolOptions};
/// let pool = Pool::connect(specs, PoolOptions::default(), None).await?;
/// let any = pool.create_session().await?;                  // least loaded live instance
/// let room = pool.create_session_for("room-1234").await?;  // every caller of this key: one instance
/// println!("{} and {}", any.instance_name(), room.instance_name());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Pool {
    shared: Arc<Shared>,
    _guard: Arc<Guard>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("status", &*self.shared.status.borrow())
            .finish()
    }
}

impl Pool {
    /// Starts a pool over `instances`, with `store` for sticky keys (`None`: a
    /// [`LocalStore`] of its own). Returns once every instance had its first connect and
    /// probe (each bounded by `probe_timeout`); instances that failed are retried in the
    /// background, and the pool places sessions on those that answered.
    pub async fn connect(
        instances: Vec<InstanceSpec>,
        options: PoolOptions,
        store: Option<Arc<dyn PlacementStore>>,
    ) -> Result<Pool, PoolError> {
        options.validate()?;
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let (events, _) = broadcast::channel(options.event_buffer);
        let (status, _) = watch::channel(PoolStatus::default());
        let replica = format!("{:016x}", rand::random::<u64>());
        let shared = Arc::new(Shared {
            options,
            store: store.unwrap_or_else(|| Arc::new(LocalStore::new())),
            replica,
            book: Mutex::new(Book {
                slots: Vec::new(),
                keys: HashMap::new(),
                turn: 0,
                store: StoreHealth::Available,
            }),
            next_id: AtomicU64::new(1),
            status,
            events,
            shutdown: shutdown_rx,
        });
        let pool = Pool {
            shared: shared.clone(),
            _guard: Arc::new(Guard {
                shutdown: shutdown_tx,
            }),
        };
        for spec in instances {
            pool.add_instance(spec)?;
        }
        tokio::spawn(renew_leases(shared));
        let mut status = pool.status();
        let first = status.wait_for(|s| {
            s.instances
                .iter()
                .all(|i| i.state != InstanceState::Connecting)
        });
        // A connect and a probe, each bounded by probe_timeout, and a little slack.
        let bound = pool.shared.options.probe_timeout * 2 + std::time::Duration::from_millis(500);
        let _ = tokio::time::timeout(bound, first).await;
        Ok(pool)
    }

    /// Adds an instance at run time; it takes sessions once it answers its first probe.
    /// Fails when its name is empty or taken, or its weight is 0.
    pub fn add_instance(&self, spec: InstanceSpec) -> Result<InstanceId, PoolError> {
        if spec.name.is_empty() {
            return Err(PoolError::Config(
                "an instance's name must not be empty".into(),
            ));
        }
        if spec.weight == 0 {
            return Err(PoolError::Config(format!(
                "instance {}: weight must be at least 1",
                spec.name
            )));
        }
        let id = InstanceId(self.shared.next_id());
        {
            let mut book = self.shared.lock();
            if book.slot_named(&spec.name).is_some() {
                return Err(PoolError::Config(format!(
                    "instance name {:?} is used twice",
                    spec.name
                )));
            }
            book.slots.push(Slot {
                id,
                name: spec.name,
                weight: spec.weight,
                max_sessions: spec.max_sessions,
                connect: spec.connect,
                client: None,
                admin_connect: spec.admin,
                admin_sessions: None,
                server_name: None,
                state: InstanceState::Connecting,
                sessions: HashMap::new(),
                reserved: 0,
                handles: 0,
                wake: Arc::new(Notify::new()),
            });
            self.shared.publish(&book);
        }
        tokio::spawn(monitor(self.shared.clone(), id));
        Ok(id)
    }

    /// Removes an instance: it takes no new session at once, and leaves the pool (its
    /// client closed) when its last pooled session ends. Returns false for an unknown id.
    pub fn remove_instance(&self, id: InstanceId) -> bool {
        let mut book = self.shared.lock();
        let Some(slot) = book.slot_mut(id) else {
            return false;
        };
        slot.wake.notify_one();
        self.shared
            .set_state(&mut book, id, InstanceState::Removing);
        true
    }

    /// Creates a session on the instance the strategy picks (never one down, draining,
    /// disconnected or at its cap). An instance that refuses (`create` answered 472 or
    /// 490, or the request never reached it) is marked draining and another is tried.
    pub async fn create_session(&self) -> Result<PooledSession, PoolError> {
        self.create(None).await
    }

    /// Creates a session on the instance `key` lives on (a room, a mountpoint, a SIP
    /// account): every caller with the same key, in this process and in every replica
    /// sharing the store, lands on the same instance while the key has sessions. A new key
    /// is placed like [`create_session`](Self::create_session); a key whose instance died
    /// is placed anew (and written to the store). When the key's instance is draining or at
    /// its cap, this fails with [`PoolError::KeyUnavailable`].
    pub async fn create_session_for(
        &self,
        key: impl Into<String>,
    ) -> Result<PooledSession, PoolError> {
        self.create(Some(key.into())).await
    }

    async fn create(&self, key: Option<String>) -> Result<PooledSession, PoolError> {
        let (target, session) = create_placed(&self.shared, key.as_deref()).await?;
        let id = self.shared.next_id();
        let placement = Placement {
            instance: target.id,
            instance_name: target.name.clone(),
            session: session.id(),
            generation: 0,
            lost: None,
        };
        let inner = Arc::new(PooledInner {
            id,
            key,
            shared: Arc::downgrade(&self.shared),
            current: Mutex::new(Current {
                instance: target.id,
                instance_name: target.name,
                session,
                generation: 0,
                lost: None,
            }),
            placement: watch::channel(placement).0,
            failing: AtomicBool::new(false),
        });
        let mut book = self.shared.lock();
        book.unreserve(target.id);
        if let Some(slot) = book.slot_mut(target.id) {
            slot.sessions.insert(id, Arc::downgrade(&inner));
        }
        self.shared.publish(&book);
        drop(book);
        Ok(PooledSession { inner })
    }

    /// The pool's state: every instance's state and counts, and the store's health.
    ///
    /// ```no_run
    /// # mod janus_client { pub use janus_core::*; pub mod pool { pub use janus_pool::*; } }
    /// # async fn demo(pool: janus_client::pool::Pool) {
    /// let mut status = pool.status();
    /// while status.changed().await.is_ok() {
    ///     for i in &status.borrow().instances {
    ///         println!("{}: {:?}, {} sessions", i.name, i.state, i.sessions);
    ///     }
    /// }
    /// # }
    /// ```
    pub fn status(&self) -> watch::Receiver<PoolStatus> {
        self.shared.status.subscribe()
    }

    /// Instance state changes, sessions re-created or lost, the store's health. A receiver
    /// that falls more than `event_buffer` events behind gets `Lagged` (and what is newer);
    /// the [`status`](Self::status) watch never lags.
    pub fn events(&self) -> broadcast::Receiver<PoolEvent> {
        self.shared.events.subscribe()
    }

    /// The name of an instance of this pool.
    pub fn instance_name(&self, id: InstanceId) -> Option<String> {
        self.shared.lock().slot(id).map(|s| s.name.clone())
    }

    /// The client of an instance (to reach it directly), while it has one.
    pub fn client(&self, id: InstanceId) -> Option<janus_core::Client> {
        self.shared.lock().slot(id).and_then(|s| s.client.clone())
    }

    /// The options the pool runs with.
    pub fn options(&self) -> &PoolOptions {
        &self.shared.options
    }
}
