//! The pool's shared state: instances, their counts and sticky keys, under one lock.
//!
//! The lock is a `std` mutex held for bookkeeping only, never across an await; placing a
//! session (choosing and reserving a slot) happens under it, so concurrent placements see
//! each other's reservations.

use janus_core::Client;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use tokio::sync::{broadcast, watch, Notify};

use crate::error::PoolError;
use crate::instance::{AdminConnectFn, ConnectFn, InstanceId, InstanceState};
use crate::options::{PoolOptions, Strategy};
use crate::session::PooledInner;
use crate::status::{InstanceStatus, PoolEvent, PoolStatus, StoreHealth};
use crate::store::PlacementStore;

pub(crate) struct Shared {
    pub options: PoolOptions,
    pub store: Arc<dyn PlacementStore>,
    /// Random; names this pool as a holder of its keys in the store.
    pub replica: String,
    pub book: Mutex<Book>,
    pub next_id: AtomicU64,
    pub status: watch::Sender<PoolStatus>,
    pub events: broadcast::Sender<PoolEvent>,
    /// Becomes true when the last `Pool` value is dropped: every task of the pool ends.
    pub shutdown: watch::Receiver<bool>,
}

pub(crate) struct Book {
    pub slots: Vec<Slot>,
    pub keys: HashMap<String, KeyEntry>,
    /// Where the next choice starts (round robin, and ties of least-loaded).
    pub turn: usize,
    pub store: StoreHealth,
}

pub(crate) struct Slot {
    pub id: InstanceId,
    pub name: String,
    pub weight: u32,
    pub max_sessions: Option<usize>,
    pub connect: ConnectFn,
    pub client: Option<Client>,
    pub admin_connect: Option<AdminConnectFn>,
    /// Sessions the Admin API listed at the last probe (when it is asked).
    pub admin_sessions: Option<usize>,
    pub state: InstanceState,
    /// The pooled sessions placed here, by pooled id.
    pub sessions: HashMap<u64, Weak<PooledInner>>,
    /// Sessions being created here.
    pub reserved: usize,
    /// Handles its client held at the last probe.
    pub handles: usize,
    /// Janus's `server-name` in its last `info` answer.
    pub server_name: Option<String>,
    /// Wakes its monitor (a refused create, a removal).
    pub wake: Arc<Notify>,
}

impl Slot {
    pub fn count(&self) -> usize {
        self.sessions.len() + self.reserved
    }

    fn load(&self) -> usize {
        self.count().max(self.admin_sessions.unwrap_or(0)) + self.handles
    }

    pub fn full(&self) -> bool {
        self.max_sessions.is_some_and(|m| self.count() >= m)
    }

    /// Why it takes no new session now, if it does not.
    pub fn refusal(&self) -> Option<String> {
        if !self.state.takes_sessions() {
            return Some(self.state.describe());
        }
        if self.full() {
            return Some(format!(
                "at its cap of {} sessions",
                self.max_sessions.unwrap_or_default()
            ));
        }
        if self.client.is_none() {
            return Some("not connected".into());
        }
        None
    }

    /// Dead for keys: a key living here must move.
    pub fn dead(&self) -> bool {
        matches!(
            self.state,
            InstanceState::Down { .. } | InstanceState::Removing
        )
    }
}

pub(crate) struct KeyEntry {
    pub instance: InstanceId,
    pub name: String,
    /// Pooled sessions with this key in this pool (those being created included).
    pub sessions: usize,
    /// This pool's holder id for the key in the store.
    pub holder: String,
}

/// A slot reserved for one session being created.
pub(crate) struct Target {
    pub id: InstanceId,
    pub name: String,
    pub client: Client,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, Book> {
        // Nothing panics while holding it; recover the data if something ever did.
        self.book.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    pub fn holder(&self) -> String {
        format!("{}-{}", self.replica, self.next_id())
    }

    pub fn emit(&self, event: PoolEvent) {
        // No receiver is fine: events are for whoever listens.
        let _ = self.events.send(event);
    }

    /// Publishes the status; call with the book locked, after a change.
    pub fn publish(&self, book: &Book) {
        let status = PoolStatus {
            instances: book
                .slots
                .iter()
                .map(|s| InstanceStatus {
                    id: s.id,
                    name: s.name.clone(),
                    state: s.state.clone(),
                    sessions: s.count(),
                    handles: s.handles,
                    admin_sessions: s.admin_sessions,
                    server_name: s.server_name.clone(),
                    weight: s.weight,
                    max_sessions: s.max_sessions,
                })
                .collect(),
            store: book.store.clone(),
            keys: book.keys.len(),
        };
        self.status.send_replace(status);
    }

    /// Sets an instance's state, telling the application when it changed.
    pub fn set_state(&self, book: &mut Book, id: InstanceId, state: InstanceState) {
        let Some(slot) = book.slot_mut(id) else {
            return;
        };
        if slot.state == state {
            return;
        }
        // A removal is final.
        if slot.state == InstanceState::Removing {
            return;
        }
        tracing::info!(instance = %slot.name, state = %state.describe(), "janus pool: instance state");
        slot.state = state.clone();
        let name = slot.name.clone();
        self.publish(book);
        self.emit(PoolEvent::InstanceState {
            instance: id,
            name,
            state,
        });
    }

    /// Records the store's health, telling the application when it changed.
    pub fn set_store(&self, book: &mut Book, health: StoreHealth) {
        let was_ok = book.store == StoreHealth::Available;
        let is_ok = health == StoreHealth::Available;
        book.store = health.clone();
        if was_ok != is_ok {
            self.publish(book);
            match health {
                StoreHealth::Available => self.emit(PoolEvent::StoreAvailable),
                StoreHealth::Unavailable { error } => {
                    tracing::warn!(%error, "janus pool: placement store unavailable; placing with the local view");
                    self.emit(PoolEvent::StoreUnavailable { error })
                }
            }
        }
    }

    /// One session with `key` fewer; the last one releases the key (in the store too).
    pub fn unkey(&self, book: &mut Book, key: &str) {
        let Some(entry) = book.keys.get_mut(key) else {
            return;
        };
        entry.sessions = entry.sessions.saturating_sub(1);
        if entry.sessions > 0 {
            return;
        }
        if let Some(entry) = book.keys.remove(key) {
            self.release_later(key.to_string(), entry.name, entry.holder);
        }
    }

    /// Releases `holder` of `key` in the store, in the background.
    pub fn release_later(&self, key: String, owner: String, holder: String) {
        let store = self.store.clone();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                if let Err(e) = store.release(&key, &owner, &holder).await {
                    // Its lease runs out by itself.
                    tracing::debug!(%key, error = %e, "janus pool: release of a sticky key failed");
                }
            });
        }
    }
}

impl Book {
    pub fn slot(&self, id: InstanceId) -> Option<&Slot> {
        self.slots.iter().find(|s| s.id == id)
    }

    pub fn slot_mut(&mut self, id: InstanceId) -> Option<&mut Slot> {
        self.slots.iter_mut().find(|s| s.id == id)
    }

    pub fn slot_named(&self, name: &str) -> Option<&Slot> {
        self.slots.iter().find(|s| s.name == name)
    }

    /// `name: state` of every instance, for an error.
    pub fn describe(&self) -> String {
        if self.slots.is_empty() {
            return "the pool has no instance".into();
        }
        self.slots
            .iter()
            .map(|s| format!("{}: {}", s.name, s.refusal().unwrap_or_else(|| "up".into())))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The instance the strategy picks for a new session, if any takes one.
    pub fn choose(&mut self, strategy: Strategy) -> Option<InstanceId> {
        let n = self.slots.len();
        if n == 0 {
            return None;
        }
        let start = self.turn % n;
        self.turn = self.turn.wrapping_add(1);
        let order = (0..n).map(|i| &self.slots[(start + i) % n]);
        let mut usable = order.filter(|s| s.refusal().is_none());
        match strategy {
            Strategy::RoundRobin => usable.next().map(|s| s.id),
            Strategy::LeastLoaded => {
                let mut best: Option<&Slot> = None;
                for s in usable {
                    // load / weight, compared without division.
                    let better = best.is_none_or(|b| {
                        (s.load() as u128) * (b.weight as u128)
                            < (b.load() as u128) * (s.weight as u128)
                    });
                    if better {
                        best = Some(s);
                    }
                }
                best.map(|s| s.id)
            }
        }
    }

    /// Reserves a place for one session on `id`.
    pub fn reserve(&mut self, id: InstanceId) -> Result<Target, PoolError> {
        let Some(slot) = self.slot_mut(id) else {
            return Err(PoolError::NoInstance {
                states: format!("instance {id} was removed"),
            });
        };
        let Some(client) = slot.client.clone() else {
            return Err(PoolError::NoInstance {
                states: format!("{}: not connected", slot.name),
            });
        };
        slot.reserved += 1;
        Ok(Target {
            id,
            name: slot.name.clone(),
            client,
        })
    }

    pub fn unreserve(&mut self, id: InstanceId) {
        if let Some(slot) = self.slot_mut(id) {
            slot.reserved = slot.reserved.saturating_sub(1);
        }
    }
}
