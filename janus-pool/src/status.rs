//! What the pool tells the application: a watch of its instances and store, and events.

use janus_core::SessionId;

use crate::instance::{InstanceId, InstanceState};

/// One instance's state and counts, as published in [`PoolStatus`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceStatus {
    /// Its id in this pool.
    pub id: InstanceId,
    /// Its name.
    pub name: String,
    /// What the pool knows of it.
    pub state: InstanceState,
    /// Sessions this pool has there (those being created included).
    pub sessions: usize,
    /// Handles its client held at the last probe.
    pub handles: usize,
    /// Sessions its Admin API listed at the last probe that could ask it (every client's), when the instance
    /// has one ([`InstanceSpec::admin`](crate::InstanceSpec::admin)).
    pub admin_sessions: Option<usize>,
    /// The name Janus gives itself (`server-name` in its `info` answer, `general.server_name`
    /// in `janus.jcfg`), read at every probe; `None` before the first one answered. Janus's
    /// event handlers send it as their events' `emitter`: see
    /// [`PooledSession::event_key`](crate::PooledSession::event_key).
    pub server_name: Option<String>,
    /// Its weight.
    pub weight: u32,
    /// Its cap, if any.
    pub max_sessions: Option<usize>,
}

/// Whether the placement store answers.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum StoreHealth {
    /// It answered the last call.
    #[default]
    Available,
    /// Its last call failed: sticky keys are placed with this pool's local view (other
    /// replicas may disagree) until it answers again, when the pool writes its keys back.
    Unavailable {
        /// The failure.
        error: String,
    },
}

/// The pool's state, as a [`watch`](tokio::sync::watch) value ([`Pool::status`](crate::Pool::status)).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PoolStatus {
    /// Every instance, in the order they were added.
    pub instances: Vec<InstanceStatus>,
    /// The placement store.
    pub store: StoreHealth,
    /// Sticky keys this pool has sessions for.
    pub keys: usize,
}

impl PoolStatus {
    /// The status of the instance named `name`.
    pub fn instance(&self, name: &str) -> Option<&InstanceStatus> {
        self.instances.iter().find(|i| i.name == name)
    }
}

/// Where a pooled session is now ([`PooledSession::placement`](crate::PooledSession::placement)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    /// The instance.
    pub instance: InstanceId,
    /// Its name.
    pub instance_name: String,
    /// The Janus session id there (unique only on that instance).
    pub session: SessionId,
    /// 0 when created; one more on each re-creation.
    pub generation: u64,
    /// Set when the session was lost and not re-created: why.
    pub lost: Option<String>,
}

/// Something the application should know about ([`Pool::events`](crate::Pool::events)).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PoolEvent {
    /// An instance changed state.
    InstanceState {
        /// Which.
        instance: InstanceId,
        /// Its name.
        name: String,
        /// The new state.
        state: InstanceState,
    },
    /// A session lost with its instance (or by Janus) was created again, as
    /// [`Failover::Recreate`](crate::Failover::Recreate) says. Handles and plugin state
    /// (rooms, publishers, subscriptions, SIP registrations) were not carried over: attach
    /// again, rejoin, renegotiate, register again.
    SessionRecreated {
        /// The pooled session's key, if sticky.
        key: Option<String>,
        /// The instance it was on.
        from: InstanceId,
        /// That instance's name.
        from_name: String,
        /// The session id there.
        old: SessionId,
        /// The instance it is on now.
        to: InstanceId,
        /// That instance's name.
        to_name: String,
        /// The session id there.
        new: SessionId,
    },
    /// A session was lost and not re-created (by policy, or no instance could take it).
    SessionLost {
        /// The pooled session's key, if sticky.
        key: Option<String>,
        /// The instance it was on.
        instance: InstanceId,
        /// That instance's name.
        name: String,
        /// The session id there.
        session: SessionId,
        /// Why.
        reason: String,
    },
    /// The placement store stopped answering: sticky keys are placed locally meanwhile.
    StoreUnavailable {
        /// The failure.
        error: String,
    },
    /// The placement store answers again; this pool's keys were written back.
    StoreAvailable,
    /// The store places a key this pool uses on another instance than this pool does
    /// (written by another replica while the store was unreachable). This pool keeps its
    /// sessions where they are; new sessions for the key follow this pool's placement until
    /// its last session ends.
    KeyConflict {
        /// The key.
        key: String,
        /// Where this pool has it.
        ours: String,
        /// Where the store has it.
        store: String,
    },
}
