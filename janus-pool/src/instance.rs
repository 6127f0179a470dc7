//! An instance as the application describes it, and its state as the pool sees it.

use futures::future::BoxFuture;
use janus_core::admin::AdminClient;
use janus_core::{Client, Error};
use std::fmt;
use std::future::Future;
use std::sync::Arc;

/// An instance's id in this pool. Ids are local to one pool; the instance's
/// [name](InstanceSpec::name) is what other processes know it by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstanceId(pub u64);

impl fmt::Display for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Opens a client to one instance (called again when its client closed for good).
pub type ConnectFn = Arc<dyn Fn() -> BoxFuture<'static, Result<Client, Error>> + Send + Sync>;

/// Opens an Admin API client to one instance (for [`InstanceSpec::admin`]).
pub type AdminConnectFn =
    Arc<dyn Fn() -> BoxFuture<'static, Result<AdminClient, Error>> + Send + Sync>;

/// One Janus instance of the pool: its name, weight, capacity cap and how to connect to it.
///
/// With the facade, `janus_client::pool::InstanceSpec::from_config` builds one from a
/// `janus_client::Config` (any transport).
///
/// ```no_run
/// # mod janus_client { pub use janus_core::*; pub mod pool { pub use janus_pool::*; } }
/// # async fn demo(connector: std::sync::Arc<dyn janus_client::Connector>) {
/// use janus_client::pool::InstanceSpec;
/// use janus_client::{Client, ClientOptions};
/// let spec = InstanceSpec::new("janus-1", move || {
///     let connector = connector.clone();
///     async move { Client::connect(connector, ClientOptions::default()).await }
/// })
/// .weight(2)
/// .max_sessions(500);
/// # }
/// ```
#[derive(Clone)]
pub struct InstanceSpec {
    /// The name every process of the application knows this instance by (its URL, say):
    /// sticky keys are stored with it. Unique in a pool, not empty.
    pub name: String,
    /// Its share of the load: an instance of weight 2 gets twice the sessions of one of
    /// weight 1. At least 1.
    pub weight: u32,
    /// At most this many sessions from this pool (`None`: no cap).
    pub max_sessions: Option<usize>,
    pub(crate) connect: ConnectFn,
    pub(crate) admin: Option<AdminConnectFn>,
}

impl fmt::Debug for InstanceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InstanceSpec")
            .field("name", &self.name)
            .field("weight", &self.weight)
            .field("max_sessions", &self.max_sessions)
            .field("admin", &self.admin.is_some())
            .finish()
    }
}

impl InstanceSpec {
    /// An instance named `name` (weight 1, no cap) that `connect` opens a client to.
    pub fn new<F, Fut>(name: impl Into<String>, connect: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Client, Error>> + Send + 'static,
    {
        InstanceSpec {
            name: name.into(),
            weight: 1,
            max_sessions: None,
            connect: Arc::new(move || Box::pin(connect())),
            admin: None,
        }
    }

    /// Refreshes the instance's load from its Admin API at every probe: the sessions
    /// `list_sessions` counts (every client's, other replicas' included) count as its
    /// load when they are more than this pool's own count (which is current between
    /// probes). `connect` opens the Admin client (`janus_client::connect_admin`).
    pub fn admin<F, Fut>(mut self, connect: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<AdminClient, Error>> + Send + 'static,
    {
        self.admin = Some(Arc::new(move || Box::pin(connect())));
        self
    }

    /// Sets the weight (at least 1).
    pub fn weight(mut self, weight: u32) -> Self {
        self.weight = weight;
        self
    }

    /// Caps the sessions this pool places on the instance.
    pub fn max_sessions(mut self, max: usize) -> Self {
        self.max_sessions = Some(max);
        self
    }
}

/// What the pool knows of an instance.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InstanceState {
    /// Its first connect (and probe) has not finished yet.
    Connecting,
    /// Connected, answering probes, accepting new sessions.
    Up,
    /// Answering, but it accepts no new sessions (`accepting-new-sessions: false`, or it
    /// refused a `create`): existing sessions go on, new ones go elsewhere.
    Draining,
    /// Its connection dropped; no new sessions while the client reconnects. After
    /// [`down_after`](crate::PoolOptions::down_after) it is declared down.
    Disconnected,
    /// Declared dead: probes or connects failed (or it stayed disconnected too long). Its
    /// sessions were lost (and re-created, by policy); it is probed with backoff and used
    /// again once it answers.
    Down {
        /// Failed probes or connects in a row.
        failures: u32,
        /// The last failure.
        reason: String,
    },
    /// Being removed: no new sessions; it leaves the pool with its last session.
    Removing,
}

impl InstanceState {
    /// Whether the pool places new sessions here (at its cap it still does not).
    pub fn takes_sessions(&self) -> bool {
        matches!(self, InstanceState::Up)
    }

    pub(crate) fn describe(&self) -> String {
        match self {
            InstanceState::Connecting => "connecting".into(),
            InstanceState::Up => "up".into(),
            InstanceState::Draining => "draining".into(),
            InstanceState::Disconnected => "disconnected".into(),
            InstanceState::Down { failures, reason } => {
                format!("down after {failures} failures ({reason})")
            }
            InstanceState::Removing => "being removed".into(),
        }
    }
}
