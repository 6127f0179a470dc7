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
use futures::{SinkExt, StreamExt};
use janus_core::{Connector, Error, OutgoingMessage, Transport, TransportEvent};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::{Instant, Interval};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tracing::{debug, warn};
use url::Url;

/// The subprotocol of the Janus API.
pub const JANUS_PROTOCOL: &str = "janus-protocol";
/// The subprotocol of the Janus Admin API.
pub const JANUS_ADMIN_PROTOCOL: &str = "janus-admin-protocol";

/// WebSocket options. Deserializes from TOML or JSON with durations like `"15s"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WsOptions {
    /// The subprotocol to ask for (`janus-protocol`, or `janus-admin-protocol`).
    pub subprotocol: String,
    /// Send a WebSocket ping when nothing has come from the server for this long; `None`
    /// disables pings. A silent peer is noticed within `ping_interval + ping_timeout`.
    #[serde(with = "humantime_serde")]
    pub ping_interval: Option<Duration>,
    /// Without any frame from the server this long after a ping, the connection is dead
    /// (the client reconnects).
    #[serde(with = "humantime_serde")]
    pub ping_timeout: Duration,
    /// The largest message accepted; a larger one is dropped and counted as malformed.
    pub max_message_bytes: usize,
    /// A PEM file with extra CA certificates to trust for `wss://` (a private CA).
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
    /// Options for the Admin API (`janus-admin-protocol`).
    pub fn admin() -> Self {
        WsOptions {
            subprotocol: JANUS_ADMIN_PROTOCOL.into(),
            ..Default::default()
        }
    }
}

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

fn tls_config(ca_file: Option<&PathBuf>) -> Result<Arc<rustls::ClientConfig>, Error> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        let pem = std::fs::read(path)
            .map_err(|e| Error::config(format!("cannot read {}: {e}", path.display())))?;
        let mut added = 0;
        for cert in rustls_pemfile_certs(&pem)? {
            roots
                .add(cert)
                .map_err(|e| Error::config(format!("bad CA in {}: {e}", path.display())))?;
            added += 1;
        }
        if added == 0 {
            return Err(Error::config(format!(
                "no certificate found in {}",
                path.display()
            )));
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| Error::config(format!("TLS setup: {e}")))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Arc::new(config))
}

fn rustls_pemfile_certs(
    pem: &[u8],
) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, Error> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::config(format!("bad PEM: {e}")))
}

impl WsConnector {
    /// A connector for `url` (`ws://host:port` or `wss://...`).
    pub fn new(url: Url, options: WsOptions) -> Result<Self, Error> {
        let tls = match url.scheme() {
            "ws" => None,
            "wss" => Some(tls_config(options.tls_ca_file.as_ref())?),
            other => {
                return Err(Error::config(format!(
                    "the WebSocket transport takes ws:// or wss:// URLs, not {other}://"
                )))
            }
        };
        if url.host_str().is_none() {
            return Err(Error::config(format!("no host in {url}")));
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
        .map_err(|e| Error::transport(format!("WebSocket connect to {}: {e}", self.endpoint())))?;
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
        let mut u = self.url.clone();
        let _ = u.set_password(None);
        let _ = u.set_username("");
        u.set_query(None);
        u.to_string()
    }
}

/// One WebSocket connection to Janus.
pub struct WsTransport {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
    ping: Option<Interval>,
    ping_timeout: Duration,
    awaiting_since: Option<Instant>,
    max_message_bytes: usize,
}

impl WsTransport {
    fn new(stream: WebSocketStream<MaybeTlsStream<TcpStream>>, options: &WsOptions) -> Self {
        let ping = options.ping_interval.map(|p| {
            let mut i = tokio::time::interval_at(Instant::now() + p, p);
            i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            i
        });
        WsTransport {
            stream,
            ping,
            ping_timeout: options.ping_timeout,
            awaiting_since: None,
            max_message_bytes: options.max_message_bytes,
        }
    }

    async fn tick(ping: &mut Option<Interval>) {
        match ping {
            Some(i) => {
                i.tick().await;
            }
            None => futures::future::pending().await,
        }
    }
}

#[async_trait]
impl Transport for WsTransport {
    async fn send(&mut self, msg: OutgoingMessage) -> Result<(), Error> {
        // The core serializes compactly: no whitespace after the closing brace (trap 2).
        // Buffered: the core flushes once per batch.
        self.stream
            .feed(Message::Text(msg.json.into()))
            .await
            .map_err(|e| Error::transport_closed(format!("WebSocket send: {e}"), true))
    }

    async fn flush(&mut self) -> Result<(), Error> {
        self.stream
            .flush()
            .await
            .map_err(|e| Error::transport_closed(format!("WebSocket flush: {e}"), true))
    }

    async fn recv(&mut self) -> Result<TransportEvent, Error> {
        loop {
            tokio::select! {
                next = self.stream.next() => {
                    // Any frame proves the peer is alive.
                    self.awaiting_since = None;
                    let text = match next {
                        Some(Ok(Message::Text(t))) => t.to_string(),
                        Some(Ok(Message::Binary(b))) => match String::from_utf8(b.to_vec()) {
                            Ok(s) => s,
                            Err(_) => {
                                return Ok(TransportEvent::Malformed {
                                    reason: "binary frame that is not UTF-8".into(),
                                })
                            }
                        },
                        Some(Ok(Message::Close(frame))) => {
                            let why = frame
                                .map(|f| format!("closed by server ({}: {})", f.code, f.reason))
                                .unwrap_or_else(|| "closed by server".into());
                            return Err(Error::transport_closed(why, true));
                        }
                        Some(Ok(_)) => continue, // ping, pong, raw frames
                        Some(Err(e)) => {
                            return Err(Error::transport_closed(format!("WebSocket: {e}"), true))
                        }
                        None => return Err(Error::transport_closed("connection closed", true)),
                    };
                    if text.len() > self.max_message_bytes {
                        warn!(bytes = text.len(), limit = self.max_message_bytes, "oversized message dropped");
                        return Ok(TransportEvent::Malformed {
                            reason: format!("message of {} bytes over the {} byte bound", text.len(), self.max_message_bytes),
                        });
                    }
                    return Ok(TransportEvent::Frame(text));
                }
                _ = Self::tick(&mut self.ping) => {
                    if let Some(since) = self.awaiting_since {
                        if since.elapsed() >= self.ping_timeout {
                            return Err(Error::transport_closed(
                                format!("no answer to ping within {:?}", self.ping_timeout),
                                true,
                            ));
                        }
                    } else {
                        self.awaiting_since = Some(Instant::now());
                    }
                    if let Err(e) = self.stream.send(Message::Ping(Vec::new().into())).await {
                        return Err(Error::transport_closed(format!("WebSocket ping: {e}"), true));
                    }
                }
            }
        }
    }

    async fn close(&mut self) {
        let _ = self.stream.close(None).await;
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
