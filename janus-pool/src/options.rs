//! How the pool places sessions, probes its instances and handles their death.

use serde::{Deserialize, Serialize};
use std::time::Duration;

use crate::error::PoolError;

/// Which live instance a new session (or a new sticky key) goes to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// The instance with the least load: the pool's own count of its sessions (those being
    /// created included) and the handles its client holds, divided by the instance's
    /// weight; ties go round the instances in turn.
    #[default]
    LeastLoaded,
    /// Each live instance in turn.
    RoundRobin,
}

/// What the pool does with the sessions of an instance that died (declared down), or whose
/// session Janus lost (a restart faster than the down delay, a session timeout).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Failover {
    /// Reports the loss: the [`PooledSession`](crate::PooledSession) says so in its
    /// [`placement`](crate::PooledSession::placement) watch and the pool sends
    /// [`PoolEvent::SessionLost`](crate::PoolEvent::SessionLost). The application decides.
    #[default]
    Report,
    /// Creates a new session on a live instance (a sticky key's sessions on the key's new
    /// instance, written to the shared store) and sends
    /// [`PoolEvent::SessionRecreated`](crate::PoolEvent::SessionRecreated). Handles and
    /// plugin state (rooms, publishers, SIP registrations) are not carried over: the
    /// application attaches again and rebuilds them.
    Recreate,
}

/// The pool's options. Every duration is more than zero and at most a year
/// ([`PoolOptions::validate`]).
///
/// ```
/// # use janus_pool as janus_client_pool;
/// let mut options = janus_client_pool::PoolOptions::default();
/// options.failover = janus_client_pool::Failover::Recreate;
/// options.validate().unwrap();
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PoolOptions {
    /// How new sessions and new keys are placed.
    pub strategy: Strategy,
    /// How often each instance is probed (`info`: reachable, and `accepting-new-sessions`).
    #[serde(with = "humantime_serde")]
    pub probe_interval: Duration,
    /// How long a probe (and a connect attempt) may take before it counts as failed.
    #[serde(with = "humantime_serde")]
    pub probe_timeout: Duration,
    /// Failed probes in a row (or connect attempts) that make an instance down. At least 1.
    pub failures_before_down: u32,
    /// How long an instance's client may stay disconnected before the instance is declared
    /// down (and its sessions lost). While disconnected, it takes no new session.
    #[serde(with = "humantime_serde")]
    pub down_after: Duration,
    /// While an instance is down, the probe interval doubles after each failure up to this.
    #[serde(with = "humantime_serde")]
    pub max_backoff: Duration,
    /// What happens to the sessions of a dead instance.
    pub failover: Failover,
    /// The lease of a sticky key in the placement store; renewed every third of it while
    /// the key has sessions in this pool.
    #[serde(with = "humantime_serde")]
    pub lease_ttl: Duration,
    /// Pool events kept for a slow [`Pool::events`](crate::Pool::events) receiver before it
    /// lags. From 1 to 1,048,576.
    pub event_buffer: usize,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            strategy: Strategy::LeastLoaded,
            probe_interval: Duration::from_secs(1),
            probe_timeout: Duration::from_secs(2),
            failures_before_down: 3,
            down_after: Duration::from_secs(1),
            max_backoff: Duration::from_secs(10),
            failover: Failover::Report,
            lease_ttl: Duration::from_secs(30),
            event_buffer: 1024,
        }
    }
}

const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);

impl PoolOptions {
    /// Checks every option; the error names the one that cannot work.
    pub fn validate(&self) -> Result<(), PoolError> {
        for (name, d) in [
            ("pool.probe_interval", self.probe_interval),
            ("pool.probe_timeout", self.probe_timeout),
            ("pool.down_after", self.down_after),
            ("pool.max_backoff", self.max_backoff),
        ] {
            if d.is_zero() || d > YEAR {
                return Err(PoolError::Config(format!(
                    "{name} must be more than zero and at most a year (it is {d:?})"
                )));
            }
        }
        if self.lease_ttl < Duration::from_millis(30) || self.lease_ttl > YEAR {
            return Err(PoolError::Config(format!(
                "pool.lease_ttl must be from 30ms to a year (it is {:?})",
                self.lease_ttl
            )));
        }
        if self.failures_before_down == 0 {
            return Err(PoolError::Config(
                "pool.failures_before_down must be at least 1".into(),
            ));
        }
        if self.event_buffer == 0 || self.event_buffer > 1 << 20 {
            return Err(PoolError::Config(format!(
                "pool.event_buffer must be from 1 to 1048576 (it is {})",
                self.event_buffer
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Spoil = Box<dyn Fn(&mut PoolOptions)>;

    #[test]
    fn every_bad_option_is_named() {
        let bad: Vec<(&str, Spoil)> = vec![
            (
                "pool.probe_interval",
                Box::new(|o| o.probe_interval = Duration::ZERO),
            ),
            (
                "pool.probe_timeout",
                Box::new(|o| o.probe_timeout = YEAR * 2),
            ),
            (
                "pool.down_after",
                Box::new(|o| o.down_after = Duration::ZERO),
            ),
            (
                "pool.max_backoff",
                Box::new(|o| o.max_backoff = Duration::ZERO),
            ),
            (
                "pool.lease_ttl",
                Box::new(|o| o.lease_ttl = Duration::from_millis(1)),
            ),
            (
                "pool.failures_before_down",
                Box::new(|o| o.failures_before_down = 0),
            ),
            ("pool.event_buffer", Box::new(|o| o.event_buffer = 0)),
        ];
        for (name, spoil) in bad {
            let mut o = PoolOptions::default();
            spoil(&mut o);
            let e = o.validate().expect_err(name).to_string();
            assert!(e.contains(name), "{e} should name {name}");
        }
        PoolOptions::default().validate().unwrap();
    }
}
