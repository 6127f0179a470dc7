//! Client options: timeouts, keepalive, buffers, credentials and the reconnect policy.

use crate::Error;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// A secret (api secret, token, admin secret): never shown by `Debug` or `Display`.
///
/// Serializing writes the secret in clear, and deserializing reads it back: a
/// configuration holding secrets round-trips through a file (keep that file private). Only
/// `Debug` and `Display` hide it, so printing options or configurations in logs is safe.
///
/// The library's own log lines never carry a secret, but the WebSocket and HTTP libraries
/// underneath log whole frames at TRACE level (`tungstenite::protocol` does), and requests
/// carry `apisecret`/`token`: keep the targets `tungstenite`, `tokio_tungstenite`, `hyper`,
/// `hyper_util` and `reqwest` below TRACE (for instance `RUST_LOG=trace,tungstenite=debug,
/// tokio_tungstenite=debug,hyper=debug,hyper_util=debug,reqwest=debug`).
///
/// ```
/// # use janus_core as janus_client;
/// use janus_client::Secret;
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

/// The longest duration any option accepts: one year (365.25 days, humantime's `1year`).
/// Deadlines are computed as "now + duration"; this bound keeps them far from overflowing.
const MAX_DURATION: Duration = Duration::from_secs(31_557_600);

/// Checks a duration option: more than zero and at most [`ClientOptions::MAX_DURATION`].
///
/// For transports and applications that validate options of their own the way the
/// client's are validated: `option` is the option as written in a configuration file, and
/// the error names it.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use janus_client::check_duration;
/// # use janus_core as janus_client;
///
/// assert!(check_duration("ws.ping_timeout", Duration::from_secs(5)).is_ok());
/// let err = check_duration("ws.ping_timeout", Duration::ZERO).unwrap_err();
/// assert_eq!(err.to_string(), "configuration error: ws.ping_timeout must not be zero");
/// ```
pub fn check_duration(option: &str, d: Duration) -> Result<(), Error> {
    if d.is_zero() {
        return Err(Error::config(format!("{option} must not be zero")));
    }
    check_at_most_a_year(option, d)
}

/// Checks an optional period whose absence turns something off (`ws.ping_interval`,
/// `unix.probe_interval`): when set, as [`check_duration`], and a zero is refused with a
/// hint to leave the option out to disable `what`.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use janus_client::check_optional_duration;
/// # use janus_core as janus_client;
///
/// assert!(check_optional_duration("ws.ping_interval", None, "pings").is_ok());
/// let err = check_optional_duration("ws.ping_interval", Some(Duration::ZERO), "pings");
/// assert!(err.unwrap_err().to_string().contains("leave it out to disable pings"));
/// ```
pub fn check_optional_duration(option: &str, d: Option<Duration>, what: &str) -> Result<(), Error> {
    match d {
        None => Ok(()),
        Some(d) if d.is_zero() => Err(Error::config(format!(
            "{option} must not be zero (leave it out to disable {what})"
        ))),
        Some(d) => check_at_most_a_year(option, d),
    }
}

fn check_at_most_a_year(option: &str, d: Duration) -> Result<(), Error> {
    if d > MAX_DURATION {
        return Err(Error::config(format!(
            "{option} must be at most 1 year, got {}",
            humantime_serde::re::humantime::format_duration(d)
        )));
    }
    Ok(())
}

/// Checks a size option: between `min` and `max`.
fn check_size(name: &str, n: usize, min: usize, max: usize) -> Result<(), Error> {
    if n < min || n > max {
        return Err(Error::config(format!(
            "{name} must be between {min} and {max}, got {n}"
        )));
    }
    Ok(())
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
///
/// Every field is checked by [`validate`](ReconnectPolicy::validate) (through
/// [`ClientOptions::validate`], when the client connects), whether `enabled` or not.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReconnectPolicy {
    /// Reconnect at all. When false, a drop closes every session at once.
    pub enabled: bool,
    /// The first delay. More than zero, at most `max_delay`.
    #[serde(with = "humantime_serde")]
    pub initial_delay: Duration,
    /// The largest delay. More than zero, at most 1 year.
    #[serde(with = "humantime_serde")]
    pub max_delay: Duration,
    /// Growth factor between attempts: a number from 1 (a constant delay) to 100.
    pub multiplier: f64,
    /// Random spread of each delay, as a fraction (0.2 = ±20 %): from 0 to 1.
    pub jitter: f64,
    /// Give up after this many failed attempts in a row (at least 1); `None`: never. Set
    /// `enabled = false` not to reconnect at all.
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

    /// The largest [`multiplier`](ReconnectPolicy::multiplier) accepted.
    pub const MAX_MULTIPLIER: f64 = 100.0;

    /// Checks that the policy can work; the error names the option as written in a
    /// configuration file (`options.reconnect.jitter`, ...). [`ClientOptions::validate`]
    /// calls it.
    ///
    /// ```
    /// # use janus_core as janus_client;
    /// use janus_client::ReconnectPolicy;
    /// let p = ReconnectPolicy { jitter: f64::NAN, ..Default::default() };
    /// let err = p.validate().unwrap_err();
    /// assert!(err.to_string().contains("options.reconnect.jitter must be between 0 and 1, got NaN"));
    /// ```
    pub fn validate(&self) -> Result<(), Error> {
        check_duration("options.reconnect.initial_delay", self.initial_delay)?;
        check_duration("options.reconnect.max_delay", self.max_delay)?;
        if self.initial_delay > self.max_delay {
            return Err(Error::config(format!(
                "options.reconnect.initial_delay ({}) must not be longer than \
                 options.reconnect.max_delay ({})",
                humantime_serde::re::humantime::format_duration(self.initial_delay),
                humantime_serde::re::humantime::format_duration(self.max_delay),
            )));
        }
        // NaN fails both comparisons, so it is refused here too.
        if !(self.multiplier >= 1.0 && self.multiplier <= Self::MAX_MULTIPLIER) {
            return Err(Error::config(format!(
                "options.reconnect.multiplier must be between 1 and {}, got {}",
                Self::MAX_MULTIPLIER,
                self.multiplier
            )));
        }
        if !(self.jitter >= 0.0 && self.jitter <= 1.0) {
            return Err(Error::config(format!(
                "options.reconnect.jitter must be between 0 and 1, got {}",
                self.jitter
            )));
        }
        if self.max_attempts == Some(0) {
            return Err(Error::config(
                "options.reconnect.max_attempts must be at least 1 (leave it out to retry \
                 forever, or set options.reconnect.enabled = false not to reconnect)",
            ));
        }
        Ok(())
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
/// [`validate`](ClientOptions::validate) checks every field against the bounds written on
/// it (durations more than zero and at most 1 year, buffers from 1 to 1,048,576, ...);
/// [`Client::connect`](crate::Client::connect) calls it before starting anything.
///
/// Serializing writes `api_secret` and `token` in clear (a configuration round-trips
/// through a file); `Debug` hides them.
///
/// ```
/// # use janus_core as janus_client;
/// use janus_client::ClientOptions;
/// let o: ClientOptions = serde_json::from_str(r#"{"request_timeout":"5s","keepalive_interval":"20s"}"#).unwrap();
/// assert_eq!(o.request_timeout.as_secs(), 5);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClientOptions {
    /// How long a request may wait for its complete answer (for `message`: ack and event);
    /// also the limit on opening a connection. More than zero, at most 1 year.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// How often an idle session sends `keepalive`. The client lowers it to a third of the
    /// server's `session-timeout` when that is shorter. More than zero, at most 1 year.
    #[serde(with = "humantime_serde")]
    pub keepalive_interval: Duration,
    /// Events buffered per handle before the slow-consumer policy drops new ones. From 1
    /// to 1,048,576.
    pub event_buffer: usize,
    /// Requests queued towards the connection task before callers wait. From 1 to
    /// 1,048,576.
    pub command_buffer: usize,
    /// `apisecret` added to every request that needs it.
    ///
    /// Never in the library's log lines nor in `Debug` output, but in every request on the
    /// wire: at TRACE level `tungstenite::protocol` logs whole frames, so keep the targets
    /// `tungstenite`, `tokio_tungstenite`, `hyper`, `hyper_util` and `reqwest` below TRACE.
    /// Serialized in clear (see [`Secret`]).
    pub api_secret: Option<Secret>,
    /// `token` added to every request that needs it.
    ///
    /// Never in the library's log lines nor in `Debug` output, but in every request on the
    /// wire: at TRACE level `tungstenite::protocol` logs whole frames, so keep the targets
    /// `tungstenite`, `tokio_tungstenite`, `hyper`, `hyper_util` and `reqwest` below TRACE.
    /// Serialized in clear (see [`Secret`]).
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

impl ClientOptions {
    /// The longest duration any option accepts, in every section: one year (365.25 days,
    /// `"1year"`). Deadlines are computed as "now + duration"; the bound keeps them far
    /// from overflowing.
    pub const MAX_DURATION: Duration = MAX_DURATION;

    /// The largest `event_buffer` and `command_buffer` accepted.
    pub const MAX_BUFFER: usize = 1 << 20;

    /// Checks every option (and [`ReconnectPolicy::validate`]); the error names the
    /// option as written in a configuration file (`options.request_timeout`, ...).
    /// [`Client::connect`](crate::Client::connect) calls it before starting anything.
    ///
    /// ```
    /// # use janus_core as janus_client;
    /// use janus_client::ClientOptions;
    /// use std::time::Duration;
    /// let o = ClientOptions { request_timeout: Duration::ZERO, ..Default::default() };
    /// assert_eq!(
    ///     o.validate().unwrap_err().to_string(),
    ///     "configuration error: options.request_timeout must not be zero",
    /// );
    /// assert!(ClientOptions::default().validate().is_ok());
    /// ```
    pub fn validate(&self) -> Result<(), Error> {
        check_duration("options.request_timeout", self.request_timeout)?;
        check_duration("options.keepalive_interval", self.keepalive_interval)?;
        check_size(
            "options.event_buffer",
            self.event_buffer,
            1,
            Self::MAX_BUFFER,
        )?;
        check_size(
            "options.command_buffer",
            self.command_buffer,
            1,
            Self::MAX_BUFFER,
        )?;
        self.reconnect.validate()
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

    /// The message of the configuration error `o` gives.
    fn refused(o: &ClientOptions) -> String {
        let e = o.validate().expect_err("accepted");
        assert!(matches!(e.kind(), crate::ErrorKind::Config(_)), "{e:?}");
        e.to_string()
    }

    #[test]
    fn defaults_and_bounds_are_valid() {
        ClientOptions::default().validate().unwrap();
        ReconnectPolicy::disabled().validate().unwrap();
        ClientOptions {
            request_timeout: ClientOptions::MAX_DURATION,
            keepalive_interval: Duration::from_nanos(1),
            event_buffer: 1,
            command_buffer: ClientOptions::MAX_BUFFER,
            reconnect: ReconnectPolicy {
                initial_delay: Duration::from_nanos(1),
                max_delay: ClientOptions::MAX_DURATION,
                multiplier: 1.0,
                jitter: 1.0,
                max_attempts: Some(1),
                ..Default::default()
            },
            ..Default::default()
        }
        .validate()
        .unwrap();
        ReconnectPolicy {
            multiplier: ReconnectPolicy::MAX_MULTIPLIER,
            jitter: 0.0,
            ..Default::default()
        }
        .validate()
        .unwrap();
    }

    #[test]
    fn bad_values_name_their_option() {
        let d = ClientOptions::default;
        let r = ReconnectPolicy::default;
        let huge = Duration::from_secs(u64::MAX);
        let cases: Vec<(ClientOptions, &str)> = vec![
            (
                ClientOptions {
                    request_timeout: Duration::ZERO,
                    ..d()
                },
                "options.request_timeout must not be zero",
            ),
            (
                ClientOptions {
                    request_timeout: huge,
                    ..d()
                },
                "options.request_timeout must be at most 1 year, got ",
            ),
            (
                ClientOptions {
                    keepalive_interval: Duration::ZERO,
                    ..d()
                },
                "options.keepalive_interval must not be zero",
            ),
            (
                ClientOptions {
                    keepalive_interval: ClientOptions::MAX_DURATION + Duration::from_nanos(1),
                    ..d()
                },
                "options.keepalive_interval must be at most 1 year",
            ),
            (
                ClientOptions {
                    event_buffer: 0,
                    ..d()
                },
                "options.event_buffer must be between 1 and 1048576, got 0",
            ),
            (
                ClientOptions {
                    command_buffer: usize::MAX,
                    ..d()
                },
                "options.command_buffer must be between 1 and 1048576, got ",
            ),
            (
                ClientOptions {
                    reconnect: ReconnectPolicy {
                        jitter: f64::NAN,
                        ..r()
                    },
                    ..d()
                },
                "options.reconnect.jitter must be between 0 and 1, got NaN",
            ),
            (
                ClientOptions {
                    reconnect: ReconnectPolicy {
                        jitter: -0.1,
                        ..r()
                    },
                    ..d()
                },
                "options.reconnect.jitter must be between 0 and 1, got -0.1",
            ),
            (
                ClientOptions {
                    reconnect: ReconnectPolicy {
                        jitter: f64::INFINITY,
                        ..r()
                    },
                    ..d()
                },
                "options.reconnect.jitter must be between 0 and 1, got inf",
            ),
            (
                ClientOptions {
                    reconnect: ReconnectPolicy {
                        multiplier: f64::NAN,
                        ..r()
                    },
                    ..d()
                },
                "options.reconnect.multiplier must be between 1 and 100, got NaN",
            ),
            (
                ClientOptions {
                    reconnect: ReconnectPolicy {
                        multiplier: f64::NEG_INFINITY,
                        ..r()
                    },
                    ..d()
                },
                "options.reconnect.multiplier must be between 1 and 100, got -inf",
            ),
            (
                ClientOptions {
                    reconnect: ReconnectPolicy {
                        multiplier: 0.5,
                        ..r()
                    },
                    ..d()
                },
                "options.reconnect.multiplier must be between 1 and 100, got 0.5",
            ),
            (
                ClientOptions {
                    reconnect: ReconnectPolicy {
                        initial_delay: Duration::ZERO,
                        ..r()
                    },
                    ..d()
                },
                "options.reconnect.initial_delay must not be zero",
            ),
            (
                ClientOptions {
                    reconnect: ReconnectPolicy {
                        max_delay: huge,
                        ..r()
                    },
                    ..d()
                },
                "options.reconnect.max_delay must be at most 1 year",
            ),
            (
                ClientOptions {
                    reconnect: ReconnectPolicy {
                        initial_delay: Duration::from_secs(5),
                        ..r()
                    },
                    ..d()
                },
                "options.reconnect.initial_delay (5s) must not be longer than \
                 options.reconnect.max_delay (1s)",
            ),
            (
                ClientOptions {
                    reconnect: ReconnectPolicy {
                        max_attempts: Some(0),
                        ..r()
                    },
                    ..d()
                },
                "options.reconnect.max_attempts must be at least 1",
            ),
            (
                // Checked even when reconnecting is off.
                ClientOptions {
                    reconnect: ReconnectPolicy {
                        jitter: 2.0,
                        ..ReconnectPolicy::disabled()
                    },
                    ..d()
                },
                "options.reconnect.jitter must be between 0 and 1, got 2",
            ),
        ];
        for (o, want) in cases {
            let got = refused(&o);
            assert!(got.contains(want), "{got:?} does not contain {want:?}");
        }
    }

    #[test]
    fn a_huge_duration_from_a_file_is_refused_not_a_panic() {
        let o: ClientOptions =
            serde_json::from_str(r#"{"request_timeout":"100000000years"}"#).unwrap();
        assert!(refused(&o).contains("options.request_timeout must be at most 1 year, got"));
    }

    #[test]
    fn secrets_round_trip_through_serde_and_stay_out_of_debug() {
        let o = ClientOptions {
            api_secret: Some("topsecret".into()),
            token: Some("tok123".into()),
            ..Default::default()
        };
        let json = serde_json::to_string(&o).unwrap();
        // Written in clear, so the options can be saved and read back.
        assert!(json.contains(r#""api_secret":"topsecret""#), "{json}");
        assert!(json.contains(r#""token":"tok123""#), "{json}");
        let back: ClientOptions = serde_json::from_str(&json).unwrap();
        assert_eq!(back, o);
        assert_eq!(
            back.api_secret.as_ref().map(Secret::expose),
            Some("topsecret")
        );
        let dbg = format!("{back:?}");
        assert!(
            !dbg.contains("topsecret") && !dbg.contains("tok123"),
            "{dbg}"
        );
        assert_eq!(Secret::new("x").to_string(), "***");
    }
}
