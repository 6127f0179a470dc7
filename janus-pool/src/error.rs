//! What can go wrong when the pool places a session.

use std::fmt;

/// The error type of the pool's calls.
#[derive(Debug)]
#[non_exhaustive]
pub enum PoolError {
    /// No instance can take a new session: every one is down, draining, disconnected or
    /// at its cap (or the pool has none). `states` says what each instance was.
    NoInstance {
        /// `name: state` for every instance, as the pool saw them.
        states: String,
    },
    /// A sticky key lives on an instance that takes no new session now (draining, at its
    /// cap, or disconnected but not yet declared down). Its existing sessions go on there;
    /// the key is placed anew once its last session ends or the instance is declared down.
    KeyUnavailable {
        /// The key.
        key: String,
        /// The instance it lives on.
        instance: String,
        /// Why that instance takes no session.
        reason: String,
    },
    /// Janus (or the transport to it) refused or failed the request.
    Janus(janus_core::Error),
    /// An option cannot work; the message names it.
    Config(String),
}

impl PoolError {
    /// The Janus error underneath, when there is one.
    pub fn janus(&self) -> Option<&janus_core::Error> {
        match self {
            PoolError::Janus(e) => Some(e),
            _ => None,
        }
    }
}

impl fmt::Display for PoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PoolError::NoInstance { states } => {
                write!(f, "no Janus instance takes new sessions ({states})")
            }
            PoolError::KeyUnavailable {
                key,
                instance,
                reason,
            } => write!(
                f,
                "key {key:?} lives on instance {instance}, which takes no new session: {reason}"
            ),
            PoolError::Janus(e) => write!(f, "{e}"),
            PoolError::Config(m) => write!(f, "invalid pool configuration: {m}"),
        }
    }
}

impl std::error::Error for PoolError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PoolError::Janus(e) => Some(e),
            _ => None,
        }
    }
}

impl From<janus_core::Error> for PoolError {
    fn from(e: janus_core::Error) -> Self {
        PoolError::Janus(e)
    }
}
