//! A client for the [Janus WebRTC Gateway](https://janus.conf.meetecho.com/): sessions,
//! plugin handles and events over WebSocket or HTTP long poll, chosen by the URL in the
//! configuration, with reconnect and session re-claiming built in.
//!
//! Features choose the transports: `ws` (default) for `ws://`/`wss://`, `http` for
//! `http://`/`https://`, and `mock` for the in-memory fake Janus (`janus_client::mock`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), janus_client::Error> {
//! use janus_client::{connect, Config, HandleEvent};
//! use serde_json::json;
//!
//! // The transport is picked by the URL scheme: "http://127.0.0.1:8088/janus" works the same.
//! let client = connect(Config::new("ws://127.0.0.1:8188")).await?;
//! let session = client.create_session().await?;
//! let handle = session.attach("janus.plugin.echotest").await?;
//! let mut events = handle.events().expect("first call");
//!
//! let reply = handle.message(json!({"audio": true, "video": true})).await?;
//! println!("echotest says {}", reply.data);
//!
//! handle.detach().await?;
//! while let Some(ev) = events.recv().await {
//!     println!("event: {ev:?}"); // ... ends with HandleEvent::Closed(reason)
//! }
//! session.destroy().await?;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

use serde::{Deserialize, Serialize};
use std::sync::Arc;
use url::Url;

pub use janus_core::*;

#[cfg(feature = "ws")]
pub use janus_ws::{WsConnector, WsOptions};

#[cfg(feature = "http")]
pub use janus_http::{HttpConnector, HttpOptions};

/// Everything needed to connect: the URL (whose scheme picks the transport), the client
/// options and each transport's options. Deserializes from TOML or JSON:
///
/// ```
/// let config: janus_client::Config = serde_json::from_str(r#"{
///     "url": "ws://127.0.0.1:8188",
///     "options": { "request_timeout": "5s", "keepalive_interval": "20s" }
/// }"#).unwrap();
/// assert_eq!(config.options.request_timeout.as_secs(), 5);
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `ws://`, `wss://`, `http://` or `https://` (for HTTP, include the base path, e.g. `/janus`).
    pub url: String,
    /// Timeouts, keepalive, buffers, credentials and the reconnect policy.
    #[serde(default)]
    pub options: ClientOptions,
    /// WebSocket options (feature `ws`).
    #[cfg(feature = "ws")]
    #[serde(default)]
    pub ws: WsOptions,
    /// HTTP options (feature `http`).
    #[cfg(feature = "http")]
    #[serde(default)]
    pub http: HttpOptions,
}

impl Config {
    /// A configuration with default options.
    pub fn new(url: impl Into<String>) -> Self {
        Config {
            url: url.into(),
            options: ClientOptions::default(),
            #[cfg(feature = "ws")]
            ws: WsOptions::default(),
            #[cfg(feature = "http")]
            http: HttpOptions::default(),
        }
    }

    /// Replaces the client options.
    pub fn with_options(mut self, options: ClientOptions) -> Self {
        self.options = options;
        self
    }

    /// Makes the connector the URL asks for, or says which feature is missing.
    pub fn connector(&self) -> Result<Arc<dyn Connector>, Error> {
        let url = Url::parse(&self.url)
            .map_err(|e| Error::config(format!("bad URL {:?}: {e}", self.url)))?;
        match url.scheme() {
            "ws" | "wss" => self.ws_connector(url),
            "http" | "https" => self.http_connector(url),
            other => Err(Error::config(format!(
                "unsupported URL scheme {other:?}: use ws://, wss://, http:// or https://"
            ))),
        }
    }

    #[cfg(feature = "ws")]
    fn ws_connector(&self, url: Url) -> Result<Arc<dyn Connector>, Error> {
        Ok(Arc::new(WsConnector::new(url, self.ws.clone())?))
    }

    #[cfg(not(feature = "ws"))]
    fn ws_connector(&self, url: Url) -> Result<Arc<dyn Connector>, Error> {
        Err(Error::config(format!(
            "{} needs the WebSocket transport: enable the `ws` feature of janus-client",
            url.scheme()
        )))
    }

    #[cfg(feature = "http")]
    fn http_connector(&self, url: Url) -> Result<Arc<dyn Connector>, Error> {
        let mut http = self.http.clone();
        // The long poll carries credentials in its query string; POST bodies get them from the core.
        http.api_secret = http.api_secret.or_else(|| self.options.api_secret.clone());
        http.token = http.token.or_else(|| self.options.token.clone());
        Ok(Arc::new(HttpConnector::new(url, http)?))
    }

    #[cfg(not(feature = "http"))]
    fn http_connector(&self, url: Url) -> Result<Arc<dyn Connector>, Error> {
        Err(Error::config(format!(
            "{} needs the HTTP transport: enable the `http` feature of janus-client",
            url.scheme()
        )))
    }
}

/// Connects to the Janus the configuration names, over the transport its URL picks.
///
/// ```no_run
/// # async fn demo() -> Result<(), janus_client::Error> {
/// let client = janus_client::connect(janus_client::Config::new("ws://127.0.0.1:8188")).await?;
/// client.ping().await?;
/// # Ok(()) }
/// ```
pub async fn connect(config: Config) -> Result<Client, Error> {
    let connector = config.connector()?;
    Client::connect(connector, config.options).await
}

/// Connects to the Admin API the configuration names (`ws://` with the
/// `janus-admin-protocol` subprotocol, or `http://.../admin`), authenticating every request
/// with `admin_secret`.
///
/// ```no_run
/// # async fn demo() -> Result<(), janus_client::Error> {
/// use janus_client::{connect_admin, Config};
/// let admin = connect_admin(Config::new("ws://127.0.0.1:7188"), "janusoverlord".into()).await?;
/// println!("{:?}", admin.list_sessions().await?);
/// # Ok(()) }
/// ```
pub async fn connect_admin(
    mut config: Config,
    admin_secret: Secret,
) -> Result<admin::AdminClient, Error> {
    #[cfg(feature = "ws")]
    {
        config.ws.subprotocol = janus_ws::JANUS_ADMIN_PROTOCOL.into();
    }
    // The Admin API has no sessions of its own to keep alive, and no api secret.
    config.options.probe_server = false;
    config.options.api_secret = None;
    config.options.token = None;
    let connector = config.connector()?;
    let client = Client::connect(connector, config.options).await?;
    Ok(admin::AdminClient::new(client, admin_secret))
}

/// The README's examples, compiled and run as doc tests.
#[cfg(all(doctest, feature = "mock"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_scheme_is_a_config_error() {
        let Err(e) = Config::new("ftp://x").connector() else {
            panic!("ftp accepted")
        };
        assert!(matches!(e.kind(), ErrorKind::Config(_)));
        assert!(e.to_string().contains("ftp"));
    }

    #[cfg(not(feature = "http"))]
    #[test]
    fn missing_feature_is_named() {
        let Err(e) = Config::new("http://127.0.0.1:8088/janus").connector() else {
            panic!("http accepted without the feature")
        };
        assert!(e.to_string().contains("`http` feature"), "{e}");
    }

    #[test]
    fn config_reads_from_toml() {
        let c: Config = toml::from_str(
            r#"
            url = "ws://127.0.0.1:8188"
            [options]
            request_timeout = "3s"
            api_secret = "s3cret"
            [options.reconnect]
            max_attempts = 5
            "#,
        )
        .unwrap();
        assert_eq!(c.options.request_timeout.as_secs(), 3);
        assert_eq!(c.options.reconnect.max_attempts, Some(5));
        assert!(!format!("{c:?}").contains("s3cret"));
    }
}
