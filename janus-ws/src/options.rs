//! Options of the WebSocket transport, and their checks.

use janus_core::{check_duration, check_optional_duration, Error};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::{JANUS_ADMIN_PROTOCOL, JANUS_PROTOCOL};

/// WebSocket options. Deserializes from TOML or JSON with durations like `"15s"`.
///
/// [`validate`](WsOptions::validate) checks every field against the bounds written on it;
/// [`WsConnector::new`](crate::WsConnector::new) calls it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WsOptions {
    /// The subprotocol to ask for (`janus-protocol`, or `janus-admin-protocol`): not empty,
    /// and only characters allowed in an HTTP header.
    pub subprotocol: String,
    /// Send a WebSocket ping when nothing has come from the server for this long; `None`
    /// disables pings. A silent peer is noticed within `ping_interval + ping_timeout`.
    /// When set: more than zero, at most 1 year.
    #[serde(with = "humantime_serde")]
    pub ping_interval: Option<Duration>,
    /// Without any frame from the server this long after a ping, the connection is dead
    /// (the client reconnects). More than zero, at most 1 year (checked even without
    /// pings).
    #[serde(with = "humantime_serde")]
    pub ping_timeout: Duration,
    /// The largest message accepted; a larger one is dropped and counted as malformed.
    /// From 1 byte to 1 GiB ([`WsOptions::MAX_MESSAGE_BYTES`]).
    pub max_message_bytes: usize,
    /// A PEM file with extra CA certificates to trust for `wss://` (a private CA). Read
    /// when the connector is made for a `wss://` URL.
    pub tls_ca_file: Option<PathBuf>,
    /// Disable Nagle's algorithm (lower latency for small frames).
    pub nodelay: bool,
}

impl Default for WsOptions {
    fn default() -> Self {
        WsOptions {
            subprotocol: JANUS_PROTOCOL.into(),
            // A silent peer is noticed within 7.5 s.
            ping_interval: Some(Duration::from_millis(2500)),
            ping_timeout: Duration::from_secs(5),
            max_message_bytes: 8 << 20,
            tls_ca_file: None,
            nodelay: true,
        }
    }
}

impl WsOptions {
    /// The largest [`max_message_bytes`](WsOptions::max_message_bytes) accepted: 1 GiB.
    pub const MAX_MESSAGE_BYTES: usize = 1 << 30;

    /// Options for the Admin API (`janus-admin-protocol`).
    pub fn admin() -> Self {
        WsOptions {
            subprotocol: JANUS_ADMIN_PROTOCOL.into(),
            ..Default::default()
        }
    }

    /// Checks every option; the error names it as written in a configuration file
    /// (`ws.ping_interval`, ...). [`WsConnector::new`](crate::WsConnector::new) calls it.
    ///
    /// ```
    /// # mod janus_client { pub use janus_ws::WsOptions; }
    /// use janus_client::WsOptions;
    /// use std::time::Duration;
    /// let o = WsOptions { ping_interval: Some(Duration::ZERO), ..Default::default() };
    /// assert!(o.validate().unwrap_err().to_string().contains(
    ///     "ws.ping_interval must not be zero (leave it out to disable pings)"
    /// ));
    /// ```
    pub fn validate(&self) -> Result<(), Error> {
        if self.subprotocol.is_empty() || HeaderValue::from_str(&self.subprotocol).is_err() {
            return Err(Error::config(format!(
                "ws.subprotocol must be a subprotocol name such as {JANUS_PROTOCOL}, got {:?}",
                self.subprotocol
            )));
        }
        check_optional_duration("ws.ping_interval", self.ping_interval, "pings")?;
        check_duration("ws.ping_timeout", self.ping_timeout)?;
        if self.max_message_bytes == 0 || self.max_message_bytes > Self::MAX_MESSAGE_BYTES {
            return Err(Error::config(format!(
                "ws.max_message_bytes must be between 1 and {} (1 GiB), got {}",
                Self::MAX_MESSAGE_BYTES,
                self.max_message_bytes
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use janus_core::ClientOptions;

    fn refused(o: WsOptions) -> String {
        let e = o.validate().expect_err("accepted");
        assert!(
            matches!(e.kind(), janus_core::ErrorKind::Config(_)),
            "{e:?}"
        );
        e.to_string()
    }

    #[test]
    fn defaults_and_bounds_are_valid() {
        WsOptions::default().validate().unwrap();
        WsOptions::admin().validate().unwrap();
        WsOptions {
            ping_interval: None,
            ping_timeout: ClientOptions::MAX_DURATION,
            max_message_bytes: 1,
            ..Default::default()
        }
        .validate()
        .unwrap();
        WsOptions {
            ping_interval: Some(Duration::from_nanos(1)),
            max_message_bytes: WsOptions::MAX_MESSAGE_BYTES,
            ..Default::default()
        }
        .validate()
        .unwrap();
    }

    #[test]
    fn bad_values_name_their_option() {
        let d = WsOptions::default;
        let cases = [
            (
                WsOptions {
                    ping_interval: Some(Duration::ZERO),
                    ..d()
                },
                "ws.ping_interval must not be zero (leave it out to disable pings)",
            ),
            (
                WsOptions {
                    ping_interval: Some(Duration::from_secs(u64::MAX)),
                    ..d()
                },
                "ws.ping_interval must be at most 1 year, got ",
            ),
            (
                WsOptions {
                    ping_timeout: Duration::ZERO,
                    ..d()
                },
                "ws.ping_timeout must not be zero",
            ),
            (
                WsOptions {
                    ping_interval: None,
                    ping_timeout: Duration::from_secs(40_000_000),
                    ..d()
                },
                "ws.ping_timeout must be at most 1 year, got 1year 3months",
            ),
            (
                WsOptions {
                    max_message_bytes: 0,
                    ..d()
                },
                "ws.max_message_bytes must be between 1 and 1073741824 (1 GiB), got 0",
            ),
            (
                WsOptions {
                    max_message_bytes: usize::MAX,
                    ..d()
                },
                "ws.max_message_bytes must be between 1 and 1073741824 (1 GiB), got ",
            ),
            (
                WsOptions {
                    subprotocol: String::new(),
                    ..d()
                },
                "ws.subprotocol must be a subprotocol name such as janus-protocol, got \"\"",
            ),
            (
                WsOptions {
                    subprotocol: "bad\nname".into(),
                    ..d()
                },
                "ws.subprotocol must be",
            ),
        ];
        for (o, want) in cases {
            let got = refused(o);
            assert!(got.contains(want), "{got:?} does not contain {want:?}");
        }
    }

    #[test]
    fn the_connector_refuses_bad_options_before_anything_runs() {
        let o = WsOptions {
            ping_interval: Some(Duration::ZERO),
            ..Default::default()
        };
        let e = crate::WsConnector::new("ws://127.0.0.1:1/".parse().unwrap(), o).unwrap_err();
        assert!(e.to_string().contains("ws.ping_interval"), "{e}");
    }
}
