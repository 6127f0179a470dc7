//! MQTT transport for [`janus_core`], on rumqttc: Janus' MQTT transport plugin through a
//! broker (mosquitto, ...).
//!
//! - `mqtt://[user:pass@]host[:1883]` and `mqtts://…[:8883]` (rustls with the `ring`
//!   provider, web PKI roots and an optional private CA file). The query may name the
//!   topics and the version: `?request_topic=to-janus-2&response_topic=from-janus-2&protocol=5`,
//!   for one-line URLs to a Janus that does not use the default topics.
//! - Requests go to Janus' `subscribe_topic` ([`MqttOptions::request_topic`], `to-janus`);
//!   the client subscribes to its `publish_topic` ([`MqttOptions::response_topic`],
//!   `from-janus`), where Janus publishes the replies and events of **every** client. The
//!   client's transactions are numbered from a random point, so that they are its own, and
//!   the core drops and counts what belongs to no transaction, session or handle of this
//!   client (`stats().unknown_transactions`, `unroutable_events`).
//! - MQTT 5 ([`MqttVersion::V5`]): each request carries a Response Topic of this client
//!   (`<response_topic>/<client_id>`) and its transaction as Correlation Data; a Janus set
//!   to `mqtt_version = "5"` sends the replies there only. Events without a transaction
//!   still come on the shared topic.
//! - Sessions belong to no connection: Janus sees all of its MQTT traffic as one transport
//!   session, so a broker reconnect loses no session (only keepalives keep them alive).
//! - A broker that refuses the credentials fails `connect` with an error for which
//!   [`Error::is_unauthorized`] is true, and the client does not retry it.
//!
//! ```no_run
//! # async fn demo() -> Result<(), janus_core::Error> {
//! use std::sync::Arc;
//! use janus_core::{Client, ClientOptions};
//! use janus_mqtt::{MqttConnector, MqttOptions};
//!
//! let url = "mqtt://127.0.0.1:1883?request_topic=to-janus&response_topic=from-janus";
//! let connector = MqttConnector::new(url.parse().unwrap(), MqttOptions::default())?;
//! let client = Client::connect(Arc::new(connector), ClientOptions::default()).await?;
//! println!("{}", client.info().await?.version);
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

use async_trait::async_trait;
use bytes::Bytes;
use janus_core::{Connector, Error, Secret, Transport};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tracing::debug;
use url::Url;

mod handshake;
mod options;
mod transport;

pub use options::{MqttOptions, MqttVersion};
pub use transport::MqttTransport;
use transport::{Inbound, Publisher, TaskGuard};

/// Opens MQTT connections to one broker, for one Janus (its pair of topics).
pub struct MqttConnector {
    url: Url,
    host: String,
    port: u16,
    options: MqttOptions,
    client_id: String,
    credentials: Option<(String, Secret)>,
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl std::fmt::Debug for MqttConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttConnector")
            .field("endpoint", &self.endpoint())
            .field("client_id", &self.client_id)
            .finish()
    }
}

impl MqttConnector {
    /// A connector for `url` (`mqtt://host:port` or `mqtts://...`), with `options`; the
    /// URL's query (`request_topic`, `response_topic`, `protocol`, `qos`, `client_id`) wins
    /// over the options.
    ///
    /// Fails with a configuration error for another scheme, a URL without a host, an
    /// unknown query parameter, credentials both in the URL and in the options, options
    /// that [`MqttOptions::validate`] refuses, or a `tls_ca_file` that cannot be read.
    ///
    /// ```
    /// use janus_mqtt::{MqttConnector, MqttOptions};
    /// let c = MqttConnector::new(
    ///     "mqtt://127.0.0.1:1883?request_topic=to-janus-2&response_topic=from-janus-2".parse().unwrap(),
    ///     MqttOptions::default(),
    /// )?;
    /// assert_eq!(c.options().request_topic, "to-janus-2");
    /// # Ok::<(), janus_core::Error>(())
    /// ```
    pub fn new(url: Url, mut options: MqttOptions) -> Result<Self, Error> {
        options.validate()?;
        let default_port = match url.scheme() {
            "mqtt" => 1883,
            "mqtts" => 8883,
            other => {
                return Err(Error::config(format!(
                    "the MQTT transport takes mqtt:// or mqtts:// URLs, not {other}://"
                )))
            }
        };
        let host = match url.host_str() {
            Some(h) if !h.is_empty() => h.trim_start_matches('[').trim_end_matches(']'),
            _ => {
                return Err(Error::config(format!(
                    "no host in {}",
                    janus_core::endpoint::redact(&url)
                )))
            }
        }
        .to_string();
        if !matches!(url.path(), "" | "/") {
            return Err(Error::config(format!(
                "an MQTT URL has no path (topics go in the query: ?request_topic=...&response_topic=...), got {}",
                janus_core::endpoint::redact(&url)
            )));
        }
        for (key, value) in url.query_pairs() {
            let value = value.into_owned();
            match key.as_ref() {
                "request_topic" => options.request_topic = value,
                "response_topic" => options.response_topic = value,
                "client_id" => options.client_id = Some(value),
                "protocol" => {
                    options.protocol = MqttVersion::parse(&value).ok_or_else(|| {
                        Error::config(format!(
                            "the URL's protocol must be 3.1.1 or 5, got {value:?}"
                        ))
                    })?
                }
                "qos" => {
                    options.qos = value.parse().ok().filter(|q| *q <= 2).ok_or_else(|| {
                        Error::config(format!("the URL's qos must be 0, 1 or 2, got {value:?}"))
                    })?
                }
                other => {
                    return Err(Error::config(format!(
                        "unknown parameter {other:?} in the MQTT URL (known: request_topic, response_topic, protocol, qos, client_id)"
                    )))
                }
            }
        }
        options
            .validate()
            .map_err(|e| Error::config(format!("in the URL's query: {e}")))?;
        let url_user = percent_decode(url.username());
        let url_pass = url.password().map(percent_decode);
        let credentials = match (url_user.is_empty(), &options.username) {
            (false, Some(_)) => {
                return Err(Error::config(
                    "the MQTT user name is both in the URL and in mqtt.username: keep one",
                ))
            }
            (false, None) => Some((url_user, Secret::new(url_pass.unwrap_or_default()))),
            (true, Some(user)) => Some((
                user.clone(),
                options.password.clone().unwrap_or_else(|| Secret::new("")),
            )),
            (true, None) => None,
        };
        let tls = if url.scheme() == "mqtts" {
            Some(janus_core::tls::client_config(
                options.tls_ca_file.as_deref(),
            )?)
        } else {
            None
        };
        let client_id = options
            .client_id
            .clone()
            .unwrap_or_else(|| format!("janus-client-{:016x}", rand::random::<u64>()));
        let port = url.port().unwrap_or(default_port);
        Ok(MqttConnector {
            url,
            host,
            port,
            options,
            client_id,
            credentials,
            tls,
        })
    }

    /// The options in force (the URL's query applied).
    pub fn options(&self) -> &MqttOptions {
        &self.options
    }

    /// The MQTT client id of this connector's connections (random unless set).
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The topics this client subscribes to, and (MQTT 5) its reply topic.
    fn topics(&self) -> (Vec<String>, Option<String>) {
        match self.options.protocol {
            MqttVersion::V311 => (vec![self.options.response_topic.clone()], None),
            MqttVersion::V5 => {
                let reply = format!("{}/{}", self.options.response_topic, self.client_id);
                (
                    vec![self.options.response_topic.clone(), reply.clone()],
                    Some(reply),
                )
            }
        }
    }

    fn transport_setting(&self) -> rumqttc::Transport {
        match &self.tls {
            Some(tls) => {
                rumqttc::Transport::tls_with_config(rumqttc::TlsConfiguration::Rustls(tls.clone()))
            }
            None => rumqttc::Transport::tcp(),
        }
    }

    async fn open(&self) -> Result<MqttTransport, Error> {
        let o = &self.options;
        let endpoint = self.endpoint();
        let (topics, reply) = self.topics();
        let timeout_secs = o.connect_timeout.as_secs().max(1);
        let (tx, rx) = mpsc::channel(o.queue_capacity);
        let (publisher, driver) = match o.protocol {
            MqttVersion::V311 => {
                let mut m = rumqttc::MqttOptions::new(&self.client_id, &self.host, self.port);
                m.set_keep_alive(Duration::from_secs(o.keep_alive.as_secs()))
                    .set_clean_session(true)
                    .set_max_packet_size(o.max_packet_bytes(), MqttOptions::MAX_MESSAGE_BYTES)
                    .set_inflight(o.max_inflight)
                    .set_transport(self.transport_setting());
                if let Some((user, pass)) = &self.credentials {
                    m.set_credentials(user.clone(), pass.expose());
                }
                let (client, mut events) = rumqttc::AsyncClient::new(m, o.queue_capacity);
                let mut network = events.network_options();
                network.set_connection_timeout(timeout_secs);
                events.set_network_options(network);
                handshake::handshake_v311(&mut events, &client, &topics, o.qos, &endpoint).await?;
                let driver = TaskGuard(tokio::spawn(transport::drive_v311(
                    events,
                    tx,
                    endpoint.clone(),
                )));
                (Publisher::V311(client), driver)
            }
            MqttVersion::V5 => {
                let mut m = rumqttc::v5::MqttOptions::new(&self.client_id, &self.host, self.port);
                // rumqttc's MQTT 5 client takes no keep-alive under 5 s (it panics).
                m.set_keep_alive(Duration::from_secs(o.keep_alive.as_secs().max(5)))
                    .set_clean_start(true)
                    .set_max_packet_size(Some(o.max_packet_bytes() as u32))
                    .set_outgoing_inflight_upper_limit(o.max_inflight)
                    .set_connection_timeout(timeout_secs)
                    .set_transport(self.transport_setting());
                if let Some((user, pass)) = &self.credentials {
                    m.set_credentials(user.clone(), pass.expose());
                }
                let (client, mut events) = rumqttc::v5::AsyncClient::new(m, o.queue_capacity);
                handshake::handshake_v5(&mut events, &client, &topics, o.qos, &endpoint).await?;
                let driver = TaskGuard(tokio::spawn(transport::drive_v5(
                    events,
                    tx,
                    endpoint.clone(),
                )));
                (Publisher::V5(client), driver)
            }
        };
        debug!(%endpoint, client_id = %self.client_id, protocol = o.protocol.as_str(), "MQTT connected");
        let mut rx = rx;
        let early = self.probe(&publisher, &mut rx, reply.as_deref()).await?;
        Ok(MqttTransport::new(publisher, rx, early, driver, o, reply))
    }

    /// Pings Janus through the broker until it answers: a broker can be up with no Janus
    /// subscribed behind it (Janus reconnects to a restarted broker seconds after the
    /// client), and the broker drops what is published to a topic nobody subscribes to.
    /// Messages that come meanwhile are kept (up to `queue_capacity`) for the transport.
    async fn probe(
        &self,
        publisher: &Publisher,
        rx: &mut mpsc::Receiver<Inbound>,
        reply: Option<&str>,
    ) -> Result<VecDeque<Inbound>, Error> {
        let o = &self.options;
        let transaction = format!("mqtt-probe-{:016x}", rand::random::<u64>());
        let ping = format!(r#"{{"janus":"ping","transaction":"{transaction}"}}"#);
        let mut early = VecDeque::new();
        loop {
            publisher
                .publish(
                    &o.request_topic,
                    o.qos,
                    Bytes::from(ping.clone()),
                    reply.map(|t| (t, transaction.as_str())),
                )
                .await
                .map_err(|()| Error::transport("the MQTT connection ended while connecting"))?;
            let again = tokio::time::sleep(PROBE_INTERVAL);
            tokio::pin!(again);
            loop {
                tokio::select! {
                    got = rx.recv() => match got {
                        Some(Inbound::Message(payload)) => {
                            if is_pong(&payload, &transaction) {
                                return Ok(early);
                            }
                            if early.len() < o.queue_capacity {
                                early.push_back(Inbound::Message(payload));
                            }
                        }
                        Some(Inbound::Closed(e)) => return Err(e),
                        Some(other) => early.push_back(other),
                        None => return Err(Error::transport("the MQTT connection ended while connecting")),
                    },
                    () = &mut again => break,
                }
            }
        }
    }
}

/// How often the probe pings Janus while it does not answer.
const PROBE_INTERVAL: Duration = Duration::from_millis(500);

/// Whether `payload` is Janus' `pong` to the probe `transaction` (a random name no other
/// message carries).
fn is_pong(payload: &[u8], transaction: &str) -> bool {
    let text = String::from_utf8_lossy(payload);
    text.contains(transaction) && text.contains("pong")
}

#[async_trait]
impl Connector for MqttConnector {
    async fn connect(&self) -> Result<Box<dyn Transport>, Error> {
        let timeout = self.options.connect_timeout;
        match tokio::time::timeout(timeout, self.open()).await {
            Ok(Ok(t)) => Ok(Box::new(t)),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Error::transport(format!(
                "no answer from Janus through the MQTT broker at {} within mqtt.connect_timeout ({}): is the broker up, and is a Janus subscribed to {:?} and publishing to {:?}?",
                self.endpoint(),
                humantime_serde::re::humantime::format_duration(timeout),
                self.options.request_topic,
                self.options.response_topic,
            ))),
        }
    }

    fn endpoint(&self) -> String {
        // Never print credentials that may sit in the URL.
        janus_core::endpoint::redact(&self.url)
    }
}

/// `%XX` sequences decoded (credentials in a URL are percent-encoded); invalid ones kept.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(b) = hex {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connector(url: &str) -> Result<MqttConnector, Error> {
        MqttConnector::new(url.parse().unwrap(), MqttOptions::default())
    }

    #[test]
    fn rejects_other_schemes_paths_and_unknown_parameters() {
        let e = connector("ws://127.0.0.1:1883").unwrap_err();
        assert!(e.to_string().contains("mqtt://"), "{e}");
        let e = connector("mqtt://127.0.0.1:1883/janus").unwrap_err();
        assert!(e.to_string().contains("no path"), "{e}");
        let e = connector("mqtt://127.0.0.1:1883?topic=x").unwrap_err();
        assert!(e.to_string().contains("unknown parameter \"topic\""), "{e}");
        let e = connector("mqtt://127.0.0.1?request_topic=a/%23").unwrap_err();
        assert!(e.to_string().contains("mqtt.request_topic"), "{e}");
        let e = connector("mqtt://127.0.0.1?protocol=4").unwrap_err();
        assert!(e.to_string().contains("3.1.1 or 5"), "{e}");
        let e = connector("mqtt://127.0.0.1?qos=7").unwrap_err();
        assert!(e.to_string().contains("qos"), "{e}");
    }

    #[test]
    fn the_query_names_topics_version_and_id() {
        let c = connector(
            "mqtt://127.0.0.1?request_topic=to-1&response_topic=from-1&protocol=5&qos=0&client_id=me",
        )
        .unwrap();
        assert_eq!(c.options().request_topic, "to-1");
        assert_eq!(c.options().response_topic, "from-1");
        assert_eq!(c.options().protocol, MqttVersion::V5);
        assert_eq!(c.options().qos, 0);
        assert_eq!(c.client_id(), "me");
        assert_eq!(c.port, 1883);
        let (subs, reply) = c.topics();
        assert_eq!(subs, vec!["from-1".to_string(), "from-1/me".to_string()]);
        assert_eq!(reply.as_deref(), Some("from-1/me"));
    }

    #[test]
    fn client_ids_are_random_by_default() {
        let a = connector("mqtt://127.0.0.1").unwrap();
        let b = connector("mqtt://127.0.0.1").unwrap();
        assert_ne!(a.client_id(), b.client_id());
        assert!(a.client_id().starts_with("janus-client-"));
    }

    #[test]
    fn credentials_come_from_the_url_or_the_options_not_both() {
        let c = connector("mqtt://us%40er:p%3Ass@127.0.0.1:1884").unwrap();
        let (user, pass) = c.credentials.clone().unwrap();
        assert_eq!((user.as_str(), pass.expose()), ("us@er", "p:ss"));
        assert!(!c.endpoint().contains("p%3Ass") && !c.endpoint().contains("p:ss"));
        assert!(!format!("{c:?}").contains("p%3Ass"));
        let o = MqttOptions {
            username: Some("u".into()),
            password: Some("p".into()),
            ..Default::default()
        };
        let c = MqttConnector::new("mqtt://127.0.0.1".parse().unwrap(), o.clone()).unwrap();
        assert_eq!(c.credentials.as_ref().unwrap().0, "u");
        let e = MqttConnector::new("mqtt://x:y@127.0.0.1".parse().unwrap(), o).unwrap_err();
        assert!(e.to_string().contains("both in the URL"), "{e}");
    }

    #[test]
    fn mqtts_builds_tls_with_its_port() {
        let c = connector("mqtts://broker.example").unwrap();
        assert_eq!(c.port, 8883);
        assert!(c.tls.is_some());
        let o = MqttOptions {
            tls_ca_file: Some("/nonexistent/ca.pem".into()),
            ..Default::default()
        };
        let e = MqttConnector::new("mqtts://broker.example".parse().unwrap(), o).unwrap_err();
        assert!(matches!(e.kind(), janus_core::ErrorKind::Config(_)));
    }

    #[test]
    fn percent_decoding_keeps_what_is_not_an_escape() {
        assert_eq!(percent_decode("a%20b"), "a b");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }

    #[tokio::test]
    async fn a_closed_port_is_a_transport_error_not_a_hang() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let c = connector(&format!("mqtt://127.0.0.1:{port}")).unwrap();
        let Err(e) = c.connect().await else {
            panic!("connected to a closed port")
        };
        assert!(
            e.to_string().contains("cannot reach the MQTT broker"),
            "{e}"
        );
        assert!(!e.is_unauthorized());
        // MQTT 5 with the shortest keep-alive: an error too, no panic.
        let o = MqttOptions {
            protocol: MqttVersion::V5,
            keep_alive: Duration::from_secs(1),
            ..Default::default()
        };
        let c = MqttConnector::new(format!("mqtt://127.0.0.1:{port}").parse().unwrap(), o).unwrap();
        let Err(e) = c.connect().await else {
            panic!("connected to a closed port")
        };
        assert!(
            e.to_string().contains("cannot reach the MQTT broker"),
            "{e}"
        );
    }
}
