//! RabbitMQ (AMQP 0-9-1) transport for [`janus_core`], on lapin with its tokio runtime.
//!
//! Janus's RabbitMQ transport reads requests from one queue (`to_janus`) and publishes
//! every reply and event to one exchange (`janus_exchange`) with one routing key
//! (`from_janus`). Each client declares a queue of its own (named by the broker,
//! exclusive, deleted with the connection), binds it to that exchange and key, and so
//! receives everything Janus says: its replies are matched by transaction, its events
//! routed by session and handle, and the rest (other clients') dropped and counted by the
//! core. Janus must be configured with a named exchange of type `direct` and
//! `declare_outgoing_queue = false`.
//!
//! - URL: `amqp://user:password@host:5672/vhost` (the vhost `/` is written `%2f`), with
//!   optional query parameters naming the queues and exchange
//!   ([`AmqpOptions::URL_PARAMETERS`]) so that one line can point at a Janus whose queues
//!   are not the default ones.
//! - All RabbitMQ traffic is one Janus "transport session": sessions are not owned by a
//!   connection, `claim` has nothing to claim, and sessions live as long as keepalives
//!   reach Janus.
//! - A broker that refuses the credentials is an [`Error::is_unauthorized`] error at
//!   connect.
//!
//! ```no_run
//! # async fn demo() -> Result<(), janus_core::Error> {
//! use std::sync::Arc;
//! use janus_core::{Client, ClientOptions};
//! use janus_amqp::{AmqpConnector, AmqpOptions};
//!
//! let url = "amqp://guest:guest@127.0.0.1:5672/%2f?to_janus=to-janus".parse().unwrap();
//! let connector = AmqpConnector::new(url, AmqpOptions::default())?;
//! let client = Client::connect(Arc::new(connector), ClientOptions::default()).await?;
//! println!("{}", client.info().await?.version);
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

use async_trait::async_trait;
use janus_core::{Connector, Error, Transport};
use lapin::options::{
    BasicConsumeOptions, BasicQosOptions, ConfirmSelectOptions, ExchangeDeclareOptions,
    QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::uri::AMQPUri;
use lapin::{Connection, ConnectionProperties, ExchangeKind};
use tracing::{debug, warn};
use url::Url;

mod options;
mod publish;
mod transport;

pub use options::AmqpOptions;
pub use transport::AmqpTransport;

/// Opens connections to a RabbitMQ broker that a Janus reads (`amqp://`).
pub struct AmqpConnector {
    uri: AMQPUri,
    endpoint: String,
    options: AmqpOptions,
}

impl std::fmt::Debug for AmqpConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmqpConnector")
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl AmqpConnector {
    /// A connector for `url` (`amqp://user:password@host:port/vhost?to_janus=...`).
    ///
    /// Query parameters named in [`AmqpOptions::URL_PARAMETERS`] override `options`;
    /// lapin's own (`heartbeat`, `frame_max`, `channel_max`, `connection_timeout`,
    /// `auth_mechanism`) pass through. Fails with a configuration error for a URL that is
    /// not `amqp://` (`amqps://` is not supported yet), has no host or an unknown
    /// parameter, or for options that [`AmqpOptions::validate`] refuses.
    pub fn new(url: Url, mut options: AmqpOptions) -> Result<Self, Error> {
        match url.scheme() {
            "amqp" => {}
            "amqps" => {
                return Err(Error::config(
                    "amqps:// is not supported yet by the RabbitMQ transport: use amqp://",
                ))
            }
            other => {
                return Err(Error::config(format!(
                    "the RabbitMQ transport takes amqp:// URLs, not {other}://"
                )))
            }
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(Error::config(format!(
                "no host in {}",
                janus_core::endpoint::redact(&url)
            )));
        }
        let mut rest = url.clone();
        rest.set_query(None);
        let mut passed = Vec::new();
        for (name, value) in url.query_pairs() {
            if !options.set_by_name(&name, &value) {
                if [
                    "heartbeat",
                    "frame_max",
                    "channel_max",
                    "connection_timeout",
                    "auth_mechanism",
                ]
                .contains(&name.as_ref())
                {
                    passed.push((name.into_owned(), value.into_owned()));
                } else {
                    return Err(Error::config(format!(
                        "unknown parameter {name:?} in the amqp:// URL (known: {})",
                        AmqpOptions::URL_PARAMETERS.join(", ")
                    )));
                }
            }
        }
        if !passed.is_empty() {
            rest.query_pairs_mut().extend_pairs(passed);
        }
        options.validate()?;
        let mut uri: AMQPUri = rest.as_str().parse().map_err(|e: String| {
            Error::config(format!(
                "bad amqp:// URL {}: {e}",
                janus_core::endpoint::redact(&url)
            ))
        })?;
        if uri.query.heartbeat.is_none() {
            uri.query.heartbeat = u16::try_from(options.heartbeat.as_secs()).ok();
        }
        let mut shown = url.clone();
        shown.set_query(None);
        Ok(AmqpConnector {
            uri,
            endpoint: format!(
                "{} ({} → {}/{})",
                janus_core::endpoint::redact(&shown),
                options.request_queue(),
                options.janus_exchange,
                options.reply_routing_key()
            ),
            options,
        })
    }

    /// The options in force (the URL's parameters applied).
    pub fn options(&self) -> &AmqpOptions {
        &self.options
    }

    async fn open(&self) -> Result<AmqpTransport, Error> {
        let o = &self.options;
        let props = ConnectionProperties::default().with_connection_name("janus-client".into());
        let connection = Connection::connect_uri(self.uri.clone(), props)
            .await
            .map_err(|e| self.connect_error("connect", e))?;
        let channel = connection
            .create_channel()
            .await
            .map_err(|e| self.connect_error("open a channel", e))?;
        channel
            .basic_qos(o.prefetch, BasicQosOptions::default())
            .await
            .map_err(|e| self.connect_error("set the prefetch", e))?;
        // Requests go out on `channel` without confirms (the broker's returns say what no
        // queue took); those are published again on `retry_channel`, with confirms.
        let retry_channel = connection
            .create_channel()
            .await
            .map_err(|e| self.connect_error("open a channel", e))?;
        retry_channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(|e| self.connect_error("enable publisher confirms", e))?;
        let kind = match o.janus_exchange_type.as_str() {
            "topic" => ExchangeKind::Topic,
            "fanout" => ExchangeKind::Fanout,
            _ => ExchangeKind::Direct,
        };
        // As Janus declares it: not durable, not auto-deleted.
        channel
            .exchange_declare(
                o.janus_exchange.as_str().into(),
                kind,
                ExchangeDeclareOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(|e| {
                self.connect_error(
                    &format!(
                        "declare the exchange amqp.janus_exchange = {:?} of type amqp.janus_exchange_type = {:?} \
                         (Janus declares it not durable and not auto-deleted)",
                        o.janus_exchange, o.janus_exchange_type
                    ),
                    e,
                )
            })?;
        let queue = channel
            .queue_declare(
                o.reply_queue.as_deref().unwrap_or("").into(),
                QueueDeclareOptions {
                    exclusive: o.reply_queue_exclusive,
                    auto_delete: o.reply_queue_auto_delete,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .map_err(|e| self.connect_error("declare the client's queue (amqp.reply_queue)", e))?;
        if queue.consumer_count() > 0 {
            return Err(Error::config(format!(
                "amqp.reply_queue {:?} already has a consumer: each client needs a queue of its \
                 own (RabbitMQ would split the replies between the clients reading one queue)",
                queue.name().as_str()
            )));
        }
        let name = queue.name().clone();
        channel
            .queue_bind(
                name.clone(),
                o.janus_exchange.as_str().into(),
                o.reply_routing_key().into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(|e| self.connect_error("bind the client's queue", e))?;
        let consumer = channel
            .basic_consume(
                name.clone(),
                "".into(),
                BasicConsumeOptions {
                    exclusive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .map_err(|e| {
                self.connect_error(
                    "consume the client's queue (another client reading it would take its replies)",
                    e,
                )
            })?;
        self.check_janus_queues(&connection).await;
        debug!(endpoint = %self.endpoint, queue = name.as_str(), "RabbitMQ connected");
        Ok(AmqpTransport::new(
            connection,
            channel,
            retry_channel,
            consumer,
            name,
            o,
        ))
    }

    /// Warns about a queue named like `from_janus`: it exists when Janus publishes to the
    /// nameless exchange (`declare_outgoing_queue = true` without `janus_exchange`), where
    /// this client, reading `janus_exchange`, would get no answer. A passive declare on a
    /// channel of its own (a missing queue closes that channel); never fails the connect.
    async fn check_janus_queues(&self, connection: &Connection) {
        let o = &self.options;
        let Ok(channel) = connection.create_channel().await else {
            return;
        };
        let probe = channel.queue_declare(
            o.reply_routing_key().into(),
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        );
        if let Ok(Ok(q)) = tokio::time::timeout(std::time::Duration::from_secs(2), probe).await {
            warn!(
                queue = q.name().as_str(),
                messages = q.message_count(),
                consumers = q.consumer_count(),
                "a queue is named like from_janus: if Janus publishes there (declare_outgoing_queue \
                 = true, no janus_exchange), this client, which reads the exchange \
                 amqp.janus_exchange, gets no answers; configure Janus with janus_exchange = {:?} \
                 (type direct) and declare_outgoing_queue = false",
                o.janus_exchange
            );
            let _ = channel.close(200, "checked".into()).await;
        }
    }

    /// A connect failure, said so that the user knows what to change.
    fn connect_error(&self, step: &str, e: lapin::Error) -> Error {
        let endpoint = &self.endpoint;
        if let lapin::ErrorKind::ProtocolError(amqp) = e.kind() {
            let code = amqp.get_id();
            let text = amqp.get_message().as_str().to_string();
            return match code {
                403 if step == "connect" => Error::http_status(
                    403,
                    format!(
                        "the broker at {endpoint} refused the credentials of user {:?} \
                         (ACCESS_REFUSED: {text}); check the user and password in the URL",
                        self.uri.authority.userinfo.username
                    ),
                ),
                530 if step == "connect" => Error::http_status(
                    403,
                    format!(
                        "the broker at {endpoint} refused access to vhost {:?} (NOT_ALLOWED: {text}); \
                         check the vhost in the URL (`/` is written %2f) and the user's permissions",
                        self.uri.vhost
                    ),
                ),
                _ => Error::transport(format!(
                    "could not {step} on the broker at {endpoint}: {code} {text}"
                )),
            }
            .with_source(e);
        }
        Error::transport(format!("could not {step} on the broker at {endpoint}: {e}"))
            .with_source(e)
    }
}

#[async_trait]
impl Connector for AmqpConnector {
    async fn connect(&self) -> Result<Box<dyn Transport>, Error> {
        Ok(Box::new(self.open().await?))
    }

    fn endpoint(&self) -> String {
        self.endpoint.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connector(url: &str) -> Result<AmqpConnector, Error> {
        AmqpConnector::new(url.parse().unwrap(), AmqpOptions::default())
    }

    #[test]
    fn url_parameters_set_the_queues() {
        let c = connector(
            "amqp://u:p@127.0.0.1:5673/%2f?to_janus=in-2&from_janus=out-2&janus_exchange=ex-2&heartbeat=3",
        )
        .unwrap();
        assert_eq!(c.options().to_janus, "in-2");
        assert_eq!(c.options().from_janus, "out-2");
        assert_eq!(c.options().janus_exchange, "ex-2");
        assert_eq!(c.uri.query.heartbeat, Some(3));
        assert_eq!(c.uri.vhost, "/");
        assert_eq!(c.uri.authority.port, 5673);
        let e = c.endpoint();
        assert!(!e.contains(":p@") && e.contains("in-2"), "{e}");
    }

    #[test]
    fn bad_urls_are_config_errors() {
        for (url, want) in [
            ("http://x/", "amqp://"),
            ("amqps://x/", "amqps:// is not supported"),
            ("amqp://x/?bogus=1", "unknown parameter \"bogus\""),
            (
                "amqp://x/?janus_exchange=",
                "amqp.janus_exchange must not be empty",
            ),
        ] {
            let e = connector(url).unwrap_err();
            assert!(
                matches!(e.kind(), janus_core::ErrorKind::Config(_)),
                "{url}: {e:?}"
            );
            assert!(e.to_string().contains(want), "{url}: {e}");
        }
    }

    #[test]
    fn the_heartbeat_option_is_used_unless_the_url_sets_one() {
        let c = connector("amqp://127.0.0.1/").unwrap();
        assert_eq!(c.uri.query.heartbeat, Some(3));
    }
}
