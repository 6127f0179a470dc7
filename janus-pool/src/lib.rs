//! A pool of [Janus](https://janus.conf.meetecho.com/) instances for a back end that runs
//! several: least-loaded (or round-robin) placement of sessions, sticky keys that keep a
//! room's (a mountpoint's, a SIP account's) sessions on one instance, shared between
//! application replicas through a [`PlacementStore`] (in-process, or Redis with the `redis`
//! feature), health probes, draining, and failover when an instance dies.
//!
//! Janus has no clustering: a room lives on exactly one instance, and an instance that dies
//! takes its sessions and their plugin state with it. The pool can re-create the sessions
//! elsewhere ([`Failover::Recreate`]); the application rebuilds what lived in them.
//!
//! Session and handle ids are unique only per instance: every [`PooledSession`] knows its
//! [`InstanceId`] and instance name.
//!
//! With the facade crate this is `janus_client::pool` (feature `pool`), where
//! `janus_client::pool::connect` builds a pool from a configuration file.
#![warn(missing_docs)]

mod book;
mod error;
mod failover;
mod instance;
mod monitor;
mod options;
mod place;
mod pool;
#[cfg(feature = "redis")]
mod redis_store;
mod renew;
mod session;
mod status;
mod store;

pub use error::PoolError;
pub use instance::{AdminConnectFn, ConnectFn, InstanceId, InstanceSpec, InstanceState};
pub use options::{Failover, PoolOptions, Strategy};
pub use pool::Pool;
#[cfg(feature = "redis")]
pub use redis_store::{RedisOptions, RedisStore};
pub use session::PooledSession;
pub use status::{InstanceStatus, Placement, PoolEvent, PoolStatus, StoreHealth};
pub use store::{LocalStore, PlacementStore, StoreError};
