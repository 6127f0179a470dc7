//! Client options: timeouts, keepalive, buffers, credentials and the reconnect policy.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// A secret (api secret, token, admin secret): never shown by `Debug` or `Display`.
///
/// ```
/// use janus_core::Secret;
/// let s = Secret::new("hunter2");
/// assert_eq!(format!("{s:?}"), "Secret(***)");
/// assert_eq!(s.expose(), "hunter2");
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// The secret itself, for putting on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret::new(s)
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret(s)
    }
}

/// How to reconnect after the connection drops.
///
/// Delays grow exponentially from `initial_delay` by `multiplier` up to `max_delay`, each one
/// randomised by ±`jitter` (a fraction). `max_attempts` of `None` retries forever.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReconnectPolicy {
    /// Reconnect at all. When false, a drop closes every session at once.
    pub enabled: bool,
    /// The first delay.
    #[serde(with = "humantime_serde")]
    pub initial_delay: Duration,
    /// The largest delay.
    #[serde(with = "humantime_serde")]
    pub max_delay: Duration,
    /// Growth factor between attempts.
    pub multiplier: f64,
    /// Random spread of each delay, as a fraction (0.2 = ±20 %).
    pub jitter: f64,
    /// Give up after this many failed attempts in a row; `None`: never.
    pub max_attempts: Option<u32>,
    /// When a session cannot be claimed, create a new one and re-attach its handles
    /// (reported as [`crate::SessionEvent::Recreated`]) instead of closing it.
    pub recreate_lost_sessions: bool,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        ReconnectPolicy {
            enabled: true,
            initial_delay: Duration::from_millis(100),
            // Small enough that a restarted Janus is noticed within about a second.
            max_delay: Duration::from_secs(1),
            multiplier: 2.0,
            jitter: 0.2,
            max_attempts: None,
            recreate_lost_sessions: false,
        }
    }
}

impl ReconnectPolicy {
    /// No reconnect: a drop closes everything.
    pub fn disabled() -> Self {
        ReconnectPolicy {
            enabled: false,
            ..Default::default()
        }
    }

    /// The delay before attempt `attempt` (1-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        let exp = self
            .multiplier
            .max(1.0)
            .powi(attempt.saturating_sub(1).min(64) as i32);
        let base = (self.initial_delay.as_secs_f64() * exp).min(self.max_delay.as_secs_f64());
        let jitter = self.jitter.clamp(0.0, 1.0);
        let factor = if jitter > 0.0 {
            1.0 + rand::random_range(-jitter..=jitter)
        } else {
            1.0
        };
        Duration::from_secs_f64((base * factor).max(0.0))
    }
}

/// Options of a client, independent of the transport. Deserializes from TOML or JSON, with
/// durations written like `"25s"` or `"500ms"`.
///
/// ```
/// use janus_core::ClientOptions;
/// let o: ClientOptions = serde_json::from_str(r#"{"request_timeout":"5s","keepalive_interval":"20s"}"#).unwrap();
/// assert_eq!(o.request_timeout.as_secs(), 5);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClientOptions {
    /// How long a request may wait for its complete answer (for `message`: ack and event).
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// How often an idle session sends `keepalive`. The client lowers it to a third of the
    /// server's `session-timeout` when that is shorter.
    #[serde(with = "humantime_serde")]
    pub keepalive_interval: Duration,
    /// Events buffered per handle before the slow-consumer policy drops new ones.
    pub event_buffer: usize,
    /// Requests queued towards the connection task before callers wait.
    pub command_buffer: usize,
    /// `apisecret` added to every request that needs it.
    pub api_secret: Option<Secret>,
    /// `token` added to every request that needs it.
    pub token: Option<Secret>,
    /// What to do when the connection drops.
    pub reconnect: ReconnectPolicy,
    /// Ask the server for `info` on connect and adapt the keepalive to its session timeout.
    pub probe_server: bool,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            request_timeout: Duration::from_secs(10),
            keepalive_interval: Duration::from_secs(25),
            event_buffer: 256,
            command_buffer: 1024,
            api_secret: None,
            token: None,
            reconnect: ReconnectPolicy::default(),
            probe_server: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_the_cap() {
        let p = ReconnectPolicy {
            jitter: 0.0,
            ..Default::default()
        };
        assert_eq!(p.delay(1), Duration::from_millis(100));
        assert_eq!(p.delay(2), Duration::from_millis(200));
        assert_eq!(p.delay(30), Duration::from_secs(1));
        let j = ReconnectPolicy::default();
        for a in 1..10 {
            let d = j.delay(a).as_secs_f64();
            let base = (0.1 * 2f64.powi(a as i32 - 1)).min(1.0);
            assert!(d >= base * 0.8 - 1e-9 && d <= base * 1.2 + 1e-9, "{a}: {d}");
        }
    }

    #[test]
    fn secrets_do_not_leak_through_debug() {
        let o = ClientOptions {
            api_secret: Some("topsecret".into()),
            token: Some("tok123".into()),
            ..Default::default()
        };
        let dbg = format!("{o:?}");
        assert!(!dbg.contains("topsecret") && !dbg.contains("tok123"));
    }

    #[test]
    fn unknown_option_is_an_error() {
        assert!(serde_json::from_str::<ClientOptions>(r#"{"request_timout":"5s"}"#).is_err());
    }
}
