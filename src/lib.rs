//! A client for the [Janus WebRTC Gateway](https://janus.conf.meetecho.com/): sessions,
//! plugin handles and events over WebSocket or HTTP long poll, chosen by the URL in the
//! configuration, with reconnect and session re-claiming built in.
//!
//! Features choose the transports: `ws` (default) for `ws://`/`wss://`, `http` for
//! `http://`/`https://`, `unix` for `unix:///path/to/janus.sock` (Janus' pfunix transport),
//! `mqtt` for `mqtt://`/`mqtts://` (Janus through a broker), and `mock` for the in-memory
//! fake Janus (`janus_client::mock`); `toml` (default) reads a [`Config`] from a TOML file
//! ([`Config::from_file`]); `pool` adds [`pool`]: several Janus instances behind one
//! back end, and `redis` its Redis placement store.
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
//! let mut events = handle.events();
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

mod config;
#[cfg(feature = "pool")]
pub mod pool;

pub use config::Config;
pub use janus_core::*;

#[cfg(feature = "ws")]
pub use janus_ws::{WsConnector, WsOptions};

#[cfg(feature = "http")]
pub use janus_http::{HttpConnector, HttpOptions};
#[cfg(feature = "unix")]
pub use janus_unix::{SocketType, UnixConnector, UnixOptions};

#[cfg(feature = "mqtt")]
pub use janus_mqtt::{MqttConnector, MqttOptions, MqttVersion};

#[cfg(feature = "amqp")]
pub use janus_amqp::{AmqpConnector, AmqpOptions};

/// Typed events from Janus' event handlers and receivers for them (`janus-evh`, feature
/// `evh`): `janus_client::evh::Receiver` and friends.
#[cfg(feature = "evh")]
pub use janus_evh as evh;

/// Connects to the Janus the configuration names, over the transport its URL picks.
///
/// The configuration is checked first ([`Config::validate`]); nothing starts when an option
/// cannot work.
///
/// ```no_run
/// # async fn demo() -> Result<(), janus_client::Error> {
/// let client = janus_client::connect(janus_client::Config::new("ws://127.0.0.1:8188")).await?;
/// client.ping().await?;
/// # Ok(()) }
/// ```
pub async fn connect(config: Config) -> Result<Client, Error> {
    config.validate()?;
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
    // Janus' admin topics, unless the section (or the URL's query, which wins) names others.
    #[cfg(feature = "mqtt")]
    {
        let defaults = janus_mqtt::MqttOptions::default();
        if config.mqtt.request_topic == defaults.request_topic
            && config.mqtt.response_topic == defaults.response_topic
        {
            let admin = janus_mqtt::MqttOptions::admin();
            config.mqtt.request_topic = admin.request_topic;
            config.mqtt.response_topic = admin.response_topic;
        }
    }
    // RabbitMQ: the admin queues (`amqp.to_janus_admin`, `amqp.from_janus_admin`).
    #[cfg(feature = "amqp")]
    {
        config.amqp.admin = true;
    }
    // The Admin API has no sessions of its own to keep alive, and no api secret.
    config.options.probe_server = false;
    config.options.api_secret = None;
    config.options.token = None;
    let connector = config.connector()?;
    let client = Client::connect(connector, config.options).await?;
    Ok(admin::AdminClient::new(client, admin_secret))
}

/// The README's examples, compiled and run as doc tests (with the features they use).
#[cfg(all(doctest, feature = "mock", feature = "evh"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
