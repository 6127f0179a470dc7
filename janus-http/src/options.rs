//! Options of the HTTP transport.

use janus_core::{Error, Secret};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// Options of the HTTP long-poll transport. Deserializes from TOML or JSON, with durations
/// written like `"45s"` or `"250ms"`; unknown keys are an error.
///
/// The credentials here are only those of the long poll (`GET`), which carries them in its
/// query string; `POST` bodies get theirs from [`janus_core::ClientOptions`]. Give both the
/// same values.
///
/// ```
/// use janus_http::HttpOptions;
/// let o: HttpOptions = serde_json::from_str(
///     r#"{"maxev": 5, "long_poll_timeout": "40s", "api_secret": "s3cret"}"#,
/// ).unwrap();
/// assert_eq!(o.maxev, 5);
/// assert_eq!(o.long_poll_timeout.as_secs(), 40);
/// assert!(!format!("{o:?}").contains("s3cret"));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpOptions {
    /// Events Janus may return in one long-poll reply (`maxev`); with more than 1 the reply
    /// is always a JSON array. At least 1.
    pub maxev: u32,
    /// Client-side limit on one long poll. Janus answers an idle poll after 30 s with a
    /// keepalive, so this only fires when the server stopped answering (or the network
    /// swallowed the poll and the heartbeat did not notice); the poll is then sent again at
    /// once.
    #[serde(with = "humantime_serde")]
    pub long_poll_timeout: Duration,
    /// Client-side limit on one `POST`, from connecting to the last byte of the reply.
    /// Janus gives up on a request its core has not answered in 10 s, and the core's own
    /// request timeout usually fires first; this is a safety net.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Limit on opening a TCP (and TLS) connection.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// First delay before a failed long poll is sent again (or the server probed again);
    /// it doubles after each failure in a row, up to `poll_retry_max_delay`.
    #[serde(with = "humantime_serde")]
    pub poll_retry_delay: Duration,
    /// Largest delay between retries of a failing long poll.
    #[serde(with = "humantime_serde")]
    pub poll_retry_max_delay: Duration,
    /// How long the server may stay unreachable (refused or reset connections, 5xx) before
    /// the transport reports itself closed, so the client reconnects (and backs off).
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
    /// connections in all, from every client.
    pub max_connections: usize,
    /// Sessions long-polled at once: each session that has handles holds one connection
    /// open for its long poll. An `attach` that would need one more fails at once with an
    /// error naming this limit (never a timeout). Keep it, plus `max_connections`, under
    /// Janus' limit of about 1,020 connections, shared by every client of that Janus.
    pub max_long_polls: usize,
    /// How long the server may take to answer one reachability check (`GET <base>/info`),
    /// which is also the check a new connection makes. A check that takes longer counts as
    /// a failure.
    #[serde(with = "humantime_serde")]
    pub probe_timeout: Duration,
    /// When nothing has come from the server for this long while requests or long polls
    /// are outstanding, the transport checks that the server still answers (a network that
    /// stalls without closing is noticed this way); after a failed check it reports the
    /// connection `Disconnected`, and polls again on fresh connections once the server
    /// answers.
    #[serde(with = "humantime_serde")]
    pub heartbeat_interval: Duration,
    /// Largest reply body accepted; a bigger one is dropped and counted as malformed.
    pub max_body_bytes: usize,
    /// A PEM file of extra CA certificates trusted for `https` (a private CA), on top of
    /// the Mozilla roots.
    pub tls_ca_file: Option<PathBuf>,
    /// `apisecret` sent in the long poll's query string.
    pub api_secret: Option<Secret>,
    /// `token` sent in the long poll's query string.
    pub token: Option<Secret>,
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
            api_secret: None,
            token: None,
        }
    }
}

impl HttpOptions {
    /// Checks that the options can work.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        if self.maxev == 0 {
            return Err(Error::config("maxev must be at least 1"));
        }
        if self.max_body_bytes == 0 {
            return Err(Error::config("max_body_bytes must be at least 1"));
        }
        if self.poll_coalesce > MAX_POLL_COALESCE {
            return Err(Error::config(format!(
                "poll_coalesce must be at most {MAX_POLL_COALESCE:?}"
            )));
        }
        for (name, d) in [
            ("long_poll_timeout", self.long_poll_timeout),
            ("request_timeout", self.request_timeout),
            ("connect_timeout", self.connect_timeout),
            ("poll_retry_delay", self.poll_retry_delay),
            ("poll_retry_max_delay", self.poll_retry_max_delay),
            ("unreachable_timeout", self.unreachable_timeout),
        ] {
            if d.is_zero() {
                return Err(Error::config(format!("{name} must not be zero")));
            }
        }
        Ok(())
    }
}
