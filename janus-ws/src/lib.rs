//! WebSocket transport for [`janus_core`], on tokio-tungstenite.
//!
//! - Asks for the `janus-protocol` subprotocol (Janus drops the connection without it), or
//!   `janus-admin-protocol` for the Admin API ([`WsOptions::admin`]).
//! - Sends compact JSON with nothing after it (Janus 1.1.2 rejects a frame with a trailing
//!   newline).
//! - Reassembles fragmented messages (tungstenite does), bounds the size of one message.
//! - `ws://` and `wss://` (rustls with the `ring` provider, web PKI roots, and an optional
//!   private CA file).
//! - Sends WebSocket pings to notice a dead peer: no pong within `ping_timeout` closes the
//!   connection, and the core reconnects.
//!
//! ```no_run
//! # async fn demo() -> Result<(), janus_core::Error> {
//! use std::sync::Arc;
//! use janus_core::{Client, ClientOptions};
//! use janus_ws::{WsConnector, WsOptions};
//!
//! let connector = WsConnector::new("ws://127.0.0.1:8188".parse().unwrap(), WsOptions::default())?;
//! let client = Client::connect(Arc::new(connector), ClientOptions::default()).await?;
//! println!("{}", client.info().await?.version);
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

use async_trait::async_trait;
use janus_core::{Connector, Error, Transport};
use std::sync::Arc;
// Only the tests below still use it (the options moved to `options.rs`).
#[cfg(test)]
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tracing::debug;
use url::Url;

mod connect_error;
mod options;

pub use options::WsOptions;

/// The subprotocol of the Janus API.
pub const JANUS_PROTOCOL: &str = "janus-protocol";
/// The subprotocol of the Janus Admin API.
pub const JANUS_ADMIN_PROTOCOL: &str = "janus-admin-protocol";

mod transport;
mod writer;
pub use transport::WsTransport;

/// Opens WebSocket connections to one Janus endpoint (`ws://` or `wss://`).
pub struct WsConnector {
    url: Url,
    options: WsOptions,
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl std::fmt::Debug for WsConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsConnector")
            .field("endpoint", &self.endpoint())
            .finish()
    }
}

impl WsConnector {
    /// A connector for `url` (`ws://host:port` or `wss://...`).
    ///
    /// Fails with a configuration error for a URL that is not `ws://`/`wss://` or has no
    /// host, for options that [`WsOptions::validate`] refuses, or for a `tls_ca_file` that
    /// cannot be read or holds no certificate.
    pub fn new(url: Url, options: WsOptions) -> Result<Self, Error> {
        options.validate()?;
        let tls = match url.scheme() {
            "ws" => None,
            "wss" => Some(janus_core::tls::client_config(
                options.tls_ca_file.as_deref(),
            )?),
            other => {
                return Err(Error::config(format!(
                    "the WebSocket transport takes ws:// or wss:// URLs, not {other}://"
                )))
            }
        };
        if url.host_str().is_none() {
            return Err(Error::config(format!(
                "no host in {}",
                janus_core::endpoint::redact(&url)
            )));
        }
        Ok(WsConnector { url, options, tls })
    }
}

#[async_trait]
impl Connector for WsConnector {
    async fn connect(&self) -> Result<Box<dyn Transport>, Error> {
        let mut request = self
            .url
            .as_str()
            .into_client_request()
            .map_err(|e| Error::config(format!("bad URL: {e}")))?;
        let proto = HeaderValue::from_str(&self.options.subprotocol)
            .map_err(|_| Error::config("bad subprotocol"))?;
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", proto);
        let mut config = WebSocketConfig::default();
        // tungstenite's own limit closes the connection; keep it far above ours, which drops
        // one message and keeps the connection.
        config.max_message_size = Some(
            self.options
                .max_message_bytes
                .saturating_mul(4)
                .max(1 << 20),
        );
        config.max_frame_size = config.max_message_size;
        // tungstenite zero-fills its read buffer before each read; Janus frames are at most a
        // few KiB (it fragments at 2800 bytes), so a small buffer is much cheaper.
        config.read_buffer_size = 8 << 10;
        let connector = match &self.tls {
            Some(tls) => Some(tokio_tungstenite::Connector::Rustls(tls.clone())),
            None => Some(tokio_tungstenite::Connector::Plain),
        };
        let (stream, response) = tokio_tungstenite::connect_async_tls_with_config(
            request,
            Some(config),
            self.options.nodelay,
            connector,
        )
        .await
        .map_err(|e| {
            connect_error::connect_error(
                e,
                &self.endpoint(),
                self.tls.is_some(),
                &self.options.subprotocol,
            )
        })?;
        let agreed = response
            .headers()
            .get("Sec-WebSocket-Protocol")
            .and_then(|v| v.to_str().ok());
        if agreed != Some(self.options.subprotocol.as_str()) {
            return Err(Error::protocol(format!(
                "server did not agree to subprotocol {} (got {agreed:?})",
                self.options.subprotocol
            )));
        }
        debug!(endpoint = %self.endpoint(), "WebSocket connected");
        Ok(Box::new(WsTransport::new(stream, &self.options)))
    }

    fn endpoint(&self) -> String {
        // Never print credentials that may sit in the URL.
        janus_core::endpoint::redact(&self.url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_other_schemes() {
        let e = WsConnector::new("http://x/".parse().unwrap(), WsOptions::default()).unwrap_err();
        assert!(e.to_string().contains("ws://"));
    }

    #[test]
    fn endpoint_hides_credentials() {
        let c = WsConnector::new(
            "ws://user:pw@127.0.0.1:8188/?apisecret=s".parse().unwrap(),
            WsOptions::default(),
        )
        .unwrap();
        let e = c.endpoint();
        assert!(!e.contains("pw") && !e.contains("apisecret"), "{e}");
    }

    #[test]
    fn wss_builds_tls_and_bad_ca_file_is_a_config_error() {
        assert!(WsConnector::new(
            "wss://janus.example/".parse().unwrap(),
            WsOptions::default()
        )
        .is_ok());
        let opts = WsOptions {
            tls_ca_file: Some("/nonexistent/ca.pem".into()),
            ..Default::default()
        };
        let e = WsConnector::new("wss://janus.example/".parse().unwrap(), opts).unwrap_err();
        assert!(matches!(e.kind(), janus_core::ErrorKind::Config(_)));
    }

    #[test]
    fn options_deserialize_with_durations() {
        let o: WsOptions =
            serde_json::from_str(r#"{"ping_interval":"5s","ping_timeout":"2s"}"#).unwrap();
        assert_eq!(o.ping_interval, Some(Duration::from_secs(5)));
        assert_eq!(o.subprotocol, JANUS_PROTOCOL);
    }
}
