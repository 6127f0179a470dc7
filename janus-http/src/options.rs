//! Options of the HTTP transport.

use janus_core::{check_duration, Error};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// Options of the HTTP long-poll transport. Deserializes from TOML or JSON, with durations
/// written like `"45s"` or `"250ms"`; unknown keys are an error.
///
/// [`validate`](HttpOptions::validate) checks every field against the bounds written on
/// it (durations more than zero and at most 1 year, unless said otherwise);
/// [`HttpConnector::new`](crate::HttpConnector::new) calls it.
///
/// There are no credentials here: the api secret and token are those of
/// [`ClientOptions`](janus_core::ClientOptions) (`options.api_secret`, `options.token` in a configuration file), which
/// the client puts in every request and hands to the transport for the long poll's query
/// string ([`Transport::set_credentials`](janus_core::Transport::set_credentials)). The
/// keys `api_secret` and `token` that older versions took here are refused like any
/// unknown key, so that a secret is never dropped silently.
///
/// ```
/// # mod janus_client { pub use janus_http::HttpOptions; }
/// use janus_client::HttpOptions;
/// let o: HttpOptions = serde_json::from_str(
///     r#"{"maxev": 5, "long_poll_timeout": "40s"}"#,
/// ).unwrap();
/// assert_eq!(o.maxev, 5);
/// assert_eq!(o.long_poll_timeout.as_secs(), 40);
/// assert!(serde_json::from_str::<HttpOptions>(r#"{"api_secret": "s3cret"}"#).is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpOptions {
    /// Events Janus may return in one long-poll reply (`maxev`); with more than 1 the reply
    /// is always a JSON array. From 1 to 1000.
    pub maxev: u32,
    /// Client-side limit on one long poll. Janus answers an idle poll after 30 s with a
    /// keepalive, so this only fires when the server stopped answering (or the network
    /// swallowed the poll and the heartbeat did not notice); the poll is then sent again at
    /// once. More than zero, at most 1 year.
    #[serde(with = "humantime_serde")]
    pub long_poll_timeout: Duration,
    /// Client-side limit on one `POST`, from connecting to the last byte of the reply.
    /// Janus gives up on a request its core has not answered in 10 s, and the core's own
    /// request timeout usually fires first; this is a safety net. More than zero, at most
    /// 1 year.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Limit on opening a TCP (and TLS) connection. More than zero, at most 1 year.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// First delay before a failed long poll is sent again (or the server probed again);
    /// it doubles after each failure in a row, up to `poll_retry_max_delay`. More than
    /// zero, at most `poll_retry_max_delay`.
    #[serde(with = "humantime_serde")]
    pub poll_retry_delay: Duration,
    /// Largest delay between retries of a failing long poll. More than zero, at most 1
    /// year.
    #[serde(with = "humantime_serde")]
    pub poll_retry_max_delay: Duration,
    /// How long the server may stay unreachable (refused or reset connections, 5xx) before
    /// the transport reports itself closed, so the client reconnects (and backs off).
    /// More than zero, at most 1 year.
    #[serde(with = "humantime_serde")]
    pub unreachable_timeout: Duration,
    /// How long a session's long poll waits, after a reply, before it is sent again. Events
    /// that come meanwhile wait on the server and arrive together in the next reply, and a
    /// `detach` sent in that time (the usual next step after a handle's last event) lets the
    /// poll park without one more round trip. Any request sent on the session ends the wait
    /// at once, so events answering requests are not delayed; only events that come on
    /// their own may be, by up to this long. Zero polls again at once; at most 1 s.
    #[serde(with = "humantime_serde")]
    pub poll_coalesce: Duration,
    /// Requests (`POST`s) in flight at once, each on its own kept-alive connection; more
    /// wait their turn, in order, within their own timeout. Long polls are not counted
    /// here (see `max_long_polls`). Janus' HTTP server (libmicrohttpd) accepts about 1,020
    /// connections in all, from every client. From 1 to 65,535.
    pub max_connections: usize,
    /// Sessions long-polled at once: each session that has handles holds one connection
    /// open for its long poll. An `attach` that would need one more fails at once with an
    /// error naming this limit (never a timeout). Keep it, plus `max_connections`, under
    /// Janus' limit of about 1,020 connections, shared by every client of that Janus.
    /// From 1 to 65,535.
    pub max_long_polls: usize,
    /// How long the server may take to answer one reachability check (`GET <base>/info`),
    /// which is also the check a new connection makes. A check that takes longer counts as
    /// a failure. More than zero, at most 1 year.
    #[serde(with = "humantime_serde")]
    pub probe_timeout: Duration,
    /// When nothing has come from the server for this long while requests or long polls
    /// are outstanding, the transport checks that the server still answers (a network that
    /// stalls without closing is noticed this way); after a failed check it reports the
    /// connection `Disconnected`, and polls again on fresh connections once the server
    /// answers. More than zero, at most 1 year.
    #[serde(with = "humantime_serde")]
    pub heartbeat_interval: Duration,
    /// Largest reply body accepted; a bigger one is dropped and counted as malformed.
    /// From 1 byte to 1 GiB.
    pub max_body_bytes: usize,
    /// A PEM file of extra CA certificates trusted for `https` (a private CA), on top of
    /// the Mozilla roots.
    pub tls_ca_file: Option<PathBuf>,
}

/// The longest [`HttpOptions::poll_coalesce`] accepted: a pause is meant to be short.
pub(crate) const MAX_POLL_COALESCE: Duration = Duration::from_secs(1);

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            maxev: 10,
            long_poll_timeout: Duration::from_secs(35),
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            poll_retry_delay: Duration::from_millis(100),
            poll_retry_max_delay: Duration::from_secs(2),
            unreachable_timeout: Duration::from_secs(2),
            poll_coalesce: Duration::from_millis(5),
            max_connections: 32,
            max_long_polls: 512,
            probe_timeout: Duration::from_secs(1),
            heartbeat_interval: Duration::from_secs(2),
            max_body_bytes: 8 * 1024 * 1024,
            tls_ca_file: None,
        }
    }
}

impl HttpOptions {
    /// The largest `maxev` accepted.
    pub const MAX_MAXEV: u32 = 1000;
    /// The largest `max_connections` and `max_long_polls` accepted.
    pub const MAX_CONNECTIONS: usize = 65_535;
    /// The largest `max_body_bytes` accepted: 1 GiB.
    pub const MAX_BODY_BYTES: usize = 1 << 30;

    /// Checks every option; the error names it as written in a configuration file
    /// (`http.maxev`, ...). [`HttpConnector::new`](crate::HttpConnector::new) calls it.
    ///
    /// ```
    /// # mod janus_client { pub use janus_http::HttpOptions; }
    /// use janus_client::HttpOptions;
    /// let o = HttpOptions { max_connections: 0, ..Default::default() };
    /// assert!(o.validate().unwrap_err().to_string().contains(
    ///     "http.max_connections must be between 1 and 65535, got 0"
    /// ));
    /// ```
    pub fn validate(&self) -> Result<(), Error> {
        if self.maxev == 0 || self.maxev > Self::MAX_MAXEV {
            return Err(Error::config(format!(
                "http.maxev must be between 1 and {}, got {}",
                Self::MAX_MAXEV,
                self.maxev
            )));
        }
        for (name, d) in [
            ("http.long_poll_timeout", self.long_poll_timeout),
            ("http.request_timeout", self.request_timeout),
            ("http.connect_timeout", self.connect_timeout),
            ("http.poll_retry_delay", self.poll_retry_delay),
            ("http.poll_retry_max_delay", self.poll_retry_max_delay),
            ("http.unreachable_timeout", self.unreachable_timeout),
            ("http.probe_timeout", self.probe_timeout),
            ("http.heartbeat_interval", self.heartbeat_interval),
        ] {
            check_duration(name, d)?;
        }
        if self.poll_retry_delay > self.poll_retry_max_delay {
            return Err(Error::config(format!(
                "http.poll_retry_delay ({}) must not be longer than http.poll_retry_max_delay ({})",
                format_duration(self.poll_retry_delay),
                format_duration(self.poll_retry_max_delay)
            )));
        }
        if self.poll_coalesce > MAX_POLL_COALESCE {
            return Err(Error::config(format!(
                "http.poll_coalesce must be at most {}, got {}",
                format_duration(MAX_POLL_COALESCE),
                format_duration(self.poll_coalesce)
            )));
        }
        for (name, n) in [
            ("http.max_connections", self.max_connections),
            ("http.max_long_polls", self.max_long_polls),
        ] {
            if n == 0 || n > Self::MAX_CONNECTIONS {
                return Err(Error::config(format!(
                    "{name} must be between 1 and {}, got {n}",
                    Self::MAX_CONNECTIONS
                )));
            }
        }
        if self.max_body_bytes == 0 || self.max_body_bytes > Self::MAX_BODY_BYTES {
            return Err(Error::config(format!(
                "http.max_body_bytes must be between 1 and {} (1 GiB), got {}",
                Self::MAX_BODY_BYTES,
                self.max_body_bytes
            )));
        }
        Ok(())
    }
}

fn format_duration(d: Duration) -> humantime_serde::re::humantime::FormattedDuration {
    humantime_serde::re::humantime::format_duration(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use janus_core::ClientOptions;

    #[test]
    fn defaults_and_bounds_are_valid() {
        HttpOptions::default().validate().unwrap();
        HttpOptions {
            maxev: HttpOptions::MAX_MAXEV,
            long_poll_timeout: ClientOptions::MAX_DURATION,
            poll_retry_delay: Duration::from_nanos(1),
            poll_retry_max_delay: Duration::from_nanos(1),
            poll_coalesce: Duration::ZERO,
            max_connections: 1,
            max_long_polls: HttpOptions::MAX_CONNECTIONS,
            max_body_bytes: 1,
            ..Default::default()
        }
        .validate()
        .unwrap();
    }

    #[test]
    fn bad_values_name_their_option() {
        let d = HttpOptions::default;
        let huge = Duration::from_secs(u64::MAX);
        let cases = [
            (
                HttpOptions { maxev: 0, ..d() },
                "http.maxev must be between 1 and 1000, got 0",
            ),
            (
                HttpOptions {
                    maxev: u32::MAX,
                    ..d()
                },
                "http.maxev must be between 1 and 1000, got 4294967295",
            ),
            (
                HttpOptions {
                    long_poll_timeout: Duration::ZERO,
                    ..d()
                },
                "http.long_poll_timeout must not be zero",
            ),
            (
                HttpOptions {
                    request_timeout: huge,
                    ..d()
                },
                "http.request_timeout must be at most 1 year, got ",
            ),
            (
                HttpOptions {
                    connect_timeout: Duration::ZERO,
                    ..d()
                },
                "http.connect_timeout must not be zero",
            ),
            (
                HttpOptions {
                    poll_retry_delay: Duration::ZERO,
                    ..d()
                },
                "http.poll_retry_delay must not be zero",
            ),
            (
                HttpOptions {
                    poll_retry_max_delay: huge,
                    ..d()
                },
                "http.poll_retry_max_delay must be at most 1 year",
            ),
            (
                HttpOptions {
                    poll_retry_delay: Duration::from_secs(3),
                    ..d()
                },
                "http.poll_retry_delay (3s) must not be longer than http.poll_retry_max_delay (2s)",
            ),
            (
                HttpOptions {
                    unreachable_timeout: Duration::ZERO,
                    ..d()
                },
                "http.unreachable_timeout must not be zero",
            ),
            (
                HttpOptions {
                    probe_timeout: Duration::ZERO,
                    ..d()
                },
                "http.probe_timeout must not be zero",
            ),
            (
                HttpOptions {
                    heartbeat_interval: Duration::ZERO,
                    ..d()
                },
                "http.heartbeat_interval must not be zero",
            ),
            (
                HttpOptions {
                    heartbeat_interval: huge,
                    ..d()
                },
                "http.heartbeat_interval must be at most 1 year",
            ),
            (
                HttpOptions {
                    poll_coalesce: Duration::from_secs(2),
                    ..d()
                },
                "http.poll_coalesce must be at most 1s, got 2s",
            ),
            (
                HttpOptions {
                    max_connections: 0,
                    ..d()
                },
                "http.max_connections must be between 1 and 65535, got 0",
            ),
            (
                HttpOptions {
                    max_long_polls: 0,
                    ..d()
                },
                "http.max_long_polls must be between 1 and 65535, got 0",
            ),
            (
                HttpOptions {
                    max_long_polls: usize::MAX,
                    ..d()
                },
                "http.max_long_polls must be between 1 and 65535, got ",
            ),
            (
                HttpOptions {
                    max_body_bytes: 0,
                    ..d()
                },
                "http.max_body_bytes must be between 1 and 1073741824 (1 GiB), got 0",
            ),
        ];
        for (o, want) in cases {
            let e = o.validate().expect_err(want);
            assert!(
                matches!(e.kind(), janus_core::ErrorKind::Config(_)),
                "{e:?}"
            );
            let got = e.to_string();
            assert!(got.contains(want), "{got:?} does not contain {want:?}");
        }
    }
}
