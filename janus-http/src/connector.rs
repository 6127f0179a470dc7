//! The connector: checks the options once, makes a fresh transport (and HTTP client) per
//! connect.

use async_trait::async_trait;
use janus_core::{Connector, Error, Transport};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use url::Url;

use crate::options::HttpOptions;
use crate::transport::{HttpTransport, Shared, EVENT_BUFFER};
use crate::wire::Urls;

/// How long an idle kept-alive connection stays in the pool.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Makes [`HttpTransport`]s to one Janus HTTP endpoint; the client's reconnect calls it again.
///
/// The URL is the base of every request, as configured on the server: usually
/// `http://host:8088/janus` (or `https://host:8089/janus`), `http://host:7088/admin` for the
/// Admin API. Requests go to `<base>`, `<base>/<session>` and `<base>/<session>/<handle>`,
/// the long poll to `<base>/<session>`, and [`connect`](Connector::connect) checks the
/// server with `GET <base>/info`.
///
/// TLS is rustls with the *ring* provider, the Mozilla roots and, optionally, the CA
/// certificates of [`HttpOptions::tls_ca_file`].
///
/// ```no_run
/// # mod janus_client {
/// #     pub use janus_core::*;
/// #     pub use janus_http::{HttpConnector, HttpOptions};
/// # }
/// # async fn demo() -> Result<(), janus_client::Error> {
/// use janus_client::{Client, ClientOptions, HttpConnector, HttpOptions, Secret};
/// use std::sync::Arc;
///
/// let url = "http://127.0.0.1:8088/janus".parse().expect("a valid URL");
/// // With an api secret: the client puts it in every POST body, and hands it to the
/// // transport for the long poll's query string.
/// let options = ClientOptions {
///     api_secret: Some(Secret::new("janusrocks")),
///     ..ClientOptions::default()
/// };
/// let connector = HttpConnector::new(url, HttpOptions::default())?;
/// let client = Client::connect(Arc::new(connector), options).await?;
///
/// let session = client.create_session().await?; // starts the session's long poll
/// let handle = session.attach("janus.plugin.echotest").await?;
/// // The ack comes back as the POST's reply, the event through the long poll.
/// let reply = handle.message(serde_json::json!({"audio": true})).await?;
/// assert_eq!(reply.data["result"], "ok");
/// handle.detach().await?;
/// session.destroy().await?; // stops the long poll
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct HttpConnector {
    urls: Urls,
    options: Arc<HttpOptions>,
    tls: rustls::ClientConfig,
}

impl std::fmt::Debug for HttpConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The options hide their secrets; the TLS setup is not worth printing.
        f.debug_struct("HttpConnector")
            .field("endpoint", &self.urls.endpoint())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl HttpConnector {
    /// Checks the URL and the options, and loads `tls_ca_file` if any.
    ///
    /// Fails with a configuration error for a URL that is not `http`/`https`, has a query
    /// or a fragment, for options that [`HttpOptions::validate`] refuses (`maxev` 0, a
    /// zero duration, ...), or for a CA file that cannot be read or holds no certificate.
    pub fn new(url: Url, options: HttpOptions) -> Result<Self, Error> {
        options.validate()?;
        let urls = Urls::new(url)?;
        let tls = tls_config(&options)?;
        Ok(HttpConnector {
            urls,
            options: Arc::new(options),
            tls,
        })
    }

    /// The base URL, normalized (no trailing slash).
    pub fn url(&self) -> &Url {
        self.urls.base()
    }

    /// The options.
    pub fn options(&self) -> &HttpOptions {
        &self.options
    }

    /// Opens a transport: a new HTTP client (its own connection pool), checked with
    /// `GET <base>/info`. [`Connector::connect`] is this, boxed.
    ///
    /// When the check fails, the error says what to change where it can tell: a TLS
    /// handshake with a plain-HTTP server (`https://` to an `http://` port), a 403 (likely
    /// a WebSocket port: not counted as [`Error::is_unauthorized`], as `GET info` needs no
    /// credentials), a 404 (the path: `/janus`, or `/admin`). The underlying reqwest error,
    /// if any, is its [`source`](std::error::Error::source).
    pub async fn open(&self) -> Result<HttpTransport, Error> {
        let client = reqwest::Client::builder()
            .http1_only()
            // Janus never redirects a request that matters; a POST must not turn into a GET.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(self.options.connect_timeout)
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            // Connections in use are bounded by `max_connections` (POSTs) plus the running
            // polls; idle ones by this, so the total stays bounded however the pool takes
            // connections back.
            .pool_max_idle_per_host(self.options.max_connections)
            .tcp_nodelay(true)
            .user_agent(concat!("janus-http/", env!("CARGO_PKG_VERSION")))
            .tls_backend_preconfigured(self.tls.clone())
            .build()
            .map_err(|e| {
                let e = e.without_url();
                Error::config(format!("cannot build the HTTP client: {e}")).with_source(e)
            })?;
        let (events_tx, events_rx) = mpsc::channel(EVENT_BUFFER);
        let (stop_tx, _) = watch::channel(false);
        let shared = Arc::new(Shared::new(
            client,
            self.urls.clone(),
            self.options.clone(),
            events_tx,
        ));
        // A dead server fails here, so a reconnect attempt fails and the client backs off.
        shared.check_info().await?;
        Ok(HttpTransport::new(shared, events_rx, stop_tx))
    }
}

#[async_trait]
impl Connector for HttpConnector {
    async fn connect(&self) -> Result<Box<dyn Transport>, Error> {
        Ok(Box::new(self.open().await?))
    }

    fn endpoint(&self) -> String {
        self.urls.endpoint()
    }
}

/// The shared rustls setup (see [`janus_core::tls`]) with ALPN for HTTP/1.1.
fn tls_config(options: &HttpOptions) -> Result<rustls::ClientConfig, Error> {
    let shared = janus_core::tls::client_config(options.tls_ca_file.as_deref())?;
    let mut config = Arc::unwrap_or_clone(shared);
    // Janus (libmicrohttpd) speaks HTTP/1.1 only.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}
