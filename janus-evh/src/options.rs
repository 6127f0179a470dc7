//! Options of a receiver and its listeners, with their checks.
//!
//! Every option has a default, deserializes from JSON or TOML (durations as `"30s"`), and is
//! checked before anything binds: a value out of range is a [`ConfigError`] naming the
//! option, never a panic.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use janus_core::Secret;
use serde::{Deserialize, Serialize};

/// The largest delivery any listener accepts, whatever its options say: 64 MiB.
pub const MAX_DELIVERY_LIMIT: usize = 64 << 20;

/// Why options were refused: which option, and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The option, as written in a configuration (`http.max_body`).
    pub option: &'static str,
    /// What is wrong with its value.
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid option `{}`: {}", self.option, self.reason)
    }
}

impl std::error::Error for ConfigError {}

fn bad(option: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        option,
        reason: reason.into(),
    }
}

fn in_range(option: &'static str, v: usize, min: usize, max: usize) -> Result<(), ConfigError> {
    if v < min || v > max {
        return Err(bad(option, format!("{v} is not between {min} and {max}")));
    }
    Ok(())
}

fn check_path(option: &'static str, path: &Option<String>) -> Result<(), ConfigError> {
    if let Some(p) = path {
        if !p.starts_with('/')
            || p.len() > 1024
            || p.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(bad(
                option,
                "must start with '/' and hold no spaces or control characters (1024 bytes at most)",
            ));
        }
    }
    Ok(())
}

fn check_timeout(option: &'static str, t: Duration) -> Result<(), ConfigError> {
    if t.is_zero() || t > Duration::from_secs(3600) {
        return Err(bad(option, format!("{t:?} is not between 1 ns and 1 h")));
    }
    Ok(())
}

fn loopback_any_port() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
}

/// Options of a [`Receiver`](crate::Receiver) itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ReceiverOptions {
    /// How many items the stream holds for a slow consumer before it drops new events
    /// (2 to 1 000 000; default 1024).
    pub buffer: usize,
}

impl Default for ReceiverOptions {
    fn default() -> Self {
        ReceiverOptions { buffer: 1024 }
    }
}

impl ReceiverOptions {
    /// Checks every option.
    pub fn validate(&self) -> Result<(), ConfigError> {
        in_range("buffer", self.buffer, 2, 1_000_000)
    }

    /// These options with a stream of `buffer` items.
    pub fn with_buffer(mut self, buffer: usize) -> Self {
        self.buffer = buffer;
        self
    }
}

/// The user and password `sampleevh` sends (`backend_user`, `backend_pwd`) with HTTP basic
/// authentication.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    /// The user (no `:`).
    pub user: String,
    /// The password.
    pub password: Secret,
}

/// Options of the HTTP listener that `sampleevh` POSTs to
/// ([`Receiver::listen_http`](crate::Receiver::listen_http)).
///
/// ```
/// use janus_evh::HttpOptions;
///
/// let options: HttpOptions = serde_json::from_str(r#"{
///     "bind": "127.0.0.1:7088", "path": "/janus-events",
///     "basic_auth": {"user": "janus", "password": "secret"},
///     "max_body": 1048576, "read_timeout": "10s"
/// }"#)?;
/// options.validate()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct HttpOptions {
    /// Where to listen (default `127.0.0.1:0`: a free port, see
    /// [`Listener::local_addr`](crate::Listener::local_addr)).
    pub bind: SocketAddr,
    /// The only path accepted (the path of `sampleevh`'s `backend`); others get 404.
    /// Default: any path.
    pub path: Option<String>,
    /// Credentials every request must carry; others get 401. Default: none asked.
    pub basic_auth: Option<BasicAuth>,
    /// The largest body, compressed or not (1 byte to 64 MiB; default 1 MiB); a larger one
    /// gets 413.
    pub max_body: usize,
    /// How long a client may take to send a request's head, and then its body (default 10 s).
    #[serde(with = "humantime_serde")]
    pub read_timeout: Duration,
    /// Connections served at once (1 to 10 000; default 64); more are closed at once.
    pub max_connections: usize,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            bind: loopback_any_port(),
            path: None,
            basic_auth: None,
            max_body: 1 << 20,
            read_timeout: Duration::from_secs(10),
            max_connections: 64,
        }
    }
}

impl HttpOptions {
    /// Default options, listening on `bind`.
    pub fn new(bind: SocketAddr) -> Self {
        HttpOptions {
            bind,
            ..HttpOptions::default()
        }
    }

    /// Only `path` is accepted.
    pub fn with_path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// Every request must carry these credentials.
    pub fn with_basic_auth(mut self, user: impl Into<String>, password: impl Into<Secret>) -> Self {
        self.basic_auth = Some(BasicAuth {
            user: user.into(),
            password: password.into(),
        });
        self
    }

    /// Bodies up to `max_body` bytes.
    pub fn with_max_body(mut self, max_body: usize) -> Self {
        self.max_body = max_body;
        self
    }

    /// Checks every option.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_path("http.path", &self.path)?;
        if let Some(auth) = &self.basic_auth {
            if auth.user.is_empty()
                || auth.user.contains(':')
                || auth.user.chars().any(char::is_control)
            {
                return Err(bad(
                    "http.basic_auth.user",
                    "must be non-empty, without ':' or control characters",
                ));
            }
            if auth.password.expose().chars().any(char::is_control) {
                return Err(bad(
                    "http.basic_auth.password",
                    "must hold no control characters",
                ));
            }
        }
        in_range("http.max_body", self.max_body, 1, MAX_DELIVERY_LIMIT)?;
        check_timeout("http.read_timeout", self.read_timeout)?;
        in_range("http.max_connections", self.max_connections, 1, 10_000)
    }
}

/// The subprotocol `wsevh` asks for unless its `subprotocol` option says otherwise.
pub const WSEVH_SUBPROTOCOL: &str = "janus-event-handlers";

/// Options of the WebSocket listener that `wsevh` connects to
/// ([`Receiver::listen_ws`](crate::Receiver::listen_ws)).
///
/// ```
/// use janus_evh::WsOptions;
///
/// let options: WsOptions = serde_json::from_str(r#"{
///     "bind": "127.0.0.1:7188", "path": "/events", "subprotocol": "janus-event-handlers"
/// }"#)?;
/// options.validate()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct WsOptions {
    /// Where to listen (default `127.0.0.1:0`: a free port).
    pub bind: SocketAddr,
    /// The only path accepted (the path of `wsevh`'s `backend`); a handshake on another gets
    /// 404. Default: any path.
    pub path: Option<String>,
    /// The subprotocol a client must offer, answered in the handshake (default
    /// [`WSEVH_SUBPROTOCOL`], what `wsevh` offers unless configured otherwise); `None`
    /// accepts any client and answers none.
    pub subprotocol: Option<String>,
    /// The largest message (and frame) (1 byte to 64 MiB; default 1 MiB); a larger one
    /// closes the connection with 1009 (Janus reconnects).
    pub max_message: usize,
    /// How long the opening handshake may take (default 10 s).
    #[serde(with = "humantime_serde")]
    pub handshake_timeout: Duration,
    /// Connections served at once (1 to 10 000; default 64); more are closed at once.
    pub max_connections: usize,
}

impl Default for WsOptions {
    fn default() -> Self {
        WsOptions {
            bind: loopback_any_port(),
            path: None,
            subprotocol: Some(WSEVH_SUBPROTOCOL.to_owned()),
            max_message: 1 << 20,
            handshake_timeout: Duration::from_secs(10),
            max_connections: 64,
        }
    }
}

impl WsOptions {
    /// Default options, listening on `bind`.
    pub fn new(bind: SocketAddr) -> Self {
        WsOptions {
            bind,
            ..WsOptions::default()
        }
    }

    /// Only `path` is accepted.
    pub fn with_path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// The subprotocol a client must offer (`None`: any client).
    pub fn with_subprotocol(mut self, subprotocol: Option<String>) -> Self {
        self.subprotocol = subprotocol;
        self
    }

    /// Messages up to `max_message` bytes.
    pub fn with_max_message(mut self, max_message: usize) -> Self {
        self.max_message = max_message;
        self
    }

    /// Checks every option.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_path("ws.path", &self.path)?;
        if let Some(p) = &self.subprotocol {
            // An HTTP token (RFC 7230), as a subprotocol must be.
            let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
            if p.is_empty() || p.len() > 256 || !p.chars().all(token) {
                return Err(bad(
                    "ws.subprotocol",
                    "must be a non-empty token (letters, digits, !#$%&'*+-.^_`|~)",
                ));
            }
        }
        in_range("ws.max_message", self.max_message, 1, MAX_DELIVERY_LIMIT)?;
        check_timeout("ws.handshake_timeout", self.handshake_timeout)?;
        in_range("ws.max_connections", self.max_connections, 1, 10_000)
    }
}

/// The base topic `mqttevh` publishes on unless its `topic` option says otherwise.
#[cfg(feature = "mqtt")]
pub const MQTTEVH_TOPIC: &str = "/janus/events";

#[cfg(any(feature = "mqtt", feature = "amqp"))]
fn check_host(option: &'static str, host: &str) -> Result<(), ConfigError> {
    if host.is_empty()
        || host.len() > 255
        || host.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(bad(option, "must be a host name or address"));
    }
    Ok(())
}

#[cfg(any(feature = "mqtt", feature = "amqp"))]
fn check_credentials(
    option: &'static str,
    user: &Option<String>,
    password: &Option<Secret>,
) -> Result<(), ConfigError> {
    if user.is_some() != password.is_some() {
        return Err(bad(option, "give both a user and a password, or neither"));
    }
    Ok(())
}

/// Options of a consumer of `mqttevh`'s messages
/// ([`Receiver::consume_mqtt`](crate::Receiver::consume_mqtt)).
///
/// ```
/// use janus_evh::MqttEvhOptions;
///
/// let options: MqttEvhOptions = serde_json::from_str(r#"{
///     "host": "127.0.0.1", "port": 1883, "topic": "/janus/events",
///     "username": "evh", "password": "secret"
/// }"#)?;
/// options.validate()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg(feature = "mqtt")]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct MqttEvhOptions {
    /// The broker's host (default `127.0.0.1`).
    pub host: String,
    /// The broker's port (default 1883).
    pub port: u16,
    /// The client id (default: `janus-evh-` and a unique suffix; two clients with one id
    /// knock each other off the broker).
    pub client_id: Option<String>,
    /// The user, if the broker asks for one.
    pub username: Option<String>,
    /// The password, with `username`.
    pub password: Option<Secret>,
    /// `mqttevh`'s base topic (default [`MQTTEVH_TOPIC`]): the consumer subscribes to it and
    /// to everything under it (`addevent` adds the type: `/janus/events/sessions`, ...), and
    /// ignores `<topic>/status` (the handler's own connected and disconnected notes).
    pub topic: String,
    /// The QoS of the subscription (0, 1 or 2; default 0).
    pub qos: u8,
    /// The largest message (1 byte to 64 MiB; default 1 MiB); a larger one ends the
    /// connection (counted as oversized) and the consumer connects again.
    pub max_message: usize,
    /// MQTT keep-alive (1 s to 1 h; default 30 s).
    #[serde(with = "humantime_serde")]
    pub keep_alive: Duration,
    /// How long the first connection and subscription may take (default 10 s).
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// How long to wait before connecting again after the connection is lost (default 1 s).
    #[serde(with = "humantime_serde")]
    pub reconnect_delay: Duration,
}

#[cfg(feature = "mqtt")]
impl Default for MqttEvhOptions {
    fn default() -> Self {
        MqttEvhOptions {
            host: Ipv4Addr::LOCALHOST.to_string(),
            port: 1883,
            client_id: None,
            username: None,
            password: None,
            topic: MQTTEVH_TOPIC.to_owned(),
            qos: 0,
            max_message: 1 << 20,
            keep_alive: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            reconnect_delay: Duration::from_secs(1),
        }
    }
}

#[cfg(feature = "mqtt")]
impl MqttEvhOptions {
    /// Default options, for the broker at `host:port`.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        MqttEvhOptions {
            host: host.into(),
            port,
            ..MqttEvhOptions::default()
        }
    }

    /// `mqttevh`'s base topic.
    pub fn with_topic(mut self, topic: impl Into<String>) -> Self {
        self.topic = topic.into();
        self
    }

    /// Log in with these credentials.
    pub fn with_credentials(
        mut self,
        user: impl Into<String>,
        password: impl Into<Secret>,
    ) -> Self {
        self.username = Some(user.into());
        self.password = Some(password.into());
        self
    }

    /// Checks every option.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_host("mqtt.host", &self.host)?;
        if self.port == 0 {
            return Err(bad("mqtt.port", "must not be 0"));
        }
        if let Some(id) = &self.client_id {
            if id.is_empty() || id.len() > 128 || id.chars().any(char::is_control) {
                return Err(bad(
                    "mqtt.client_id",
                    "must be 1 to 128 bytes, without control characters",
                ));
            }
        }
        check_credentials("mqtt.username", &self.username, &self.password)?;
        if self.topic.is_empty() || self.topic.len() > 1024 || self.topic.contains(['+', '#', '\0'])
        {
            return Err(bad(
                "mqtt.topic",
                "must be a topic name (1 to 1024 bytes, no wildcards)",
            ));
        }
        if self.qos > 2 {
            return Err(bad("mqtt.qos", format!("{} is not 0, 1 or 2", self.qos)));
        }
        in_range("mqtt.max_message", self.max_message, 1, MAX_DELIVERY_LIMIT)?;
        if self.keep_alive < Duration::from_secs(1) || self.keep_alive > Duration::from_secs(3600) {
            return Err(bad(
                "mqtt.keep_alive",
                format!("{:?} is not between 1 s and 1 h", self.keep_alive),
            ));
        }
        check_timeout("mqtt.connect_timeout", self.connect_timeout)?;
        check_timeout("mqtt.reconnect_delay", self.reconnect_delay)
    }
}

/// The routing key `rabbitmqevh` publishes with unless its `route_key` option says otherwise.
#[cfg(feature = "amqp")]
pub const RABBITMQEVH_ROUTE_KEY: &str = "janus-events";

/// Options of a consumer of `rabbitmqevh`'s messages
/// ([`Receiver::consume_amqp`](crate::Receiver::consume_amqp)).
///
/// ```
/// use janus_evh::AmqpEvhOptions;
///
/// let options: AmqpEvhOptions = serde_json::from_str(r#"{
///     "host": "127.0.0.1", "port": 5672, "vhost": "/",
///     "username": "guest", "password": "guest",
///     "exchange": "janus-exchange", "exchange_type": "fanout", "route_key": "janus-events"
/// }"#)?;
/// options.validate()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg(feature = "amqp")]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct AmqpEvhOptions {
    /// The broker's host (default `127.0.0.1`).
    pub host: String,
    /// The broker's port (default 5672).
    pub port: u16,
    /// The virtual host (default `/`).
    pub vhost: String,
    /// The user (default `guest`).
    pub username: Option<String>,
    /// The password, with `username` (default `guest`).
    pub password: Option<Secret>,
    /// `rabbitmqevh`'s `exchange`: the consumer declares it as Janus does (not durable, not
    /// auto-deleted, of type `exchange_type`) and binds a queue of its own (named by the
    /// broker, exclusive, deleted with the consumer) with `route_key`. `None` (Janus' default,
    /// no `exchange`): Janus publishes to the nameless exchange, into the queue named
    /// `route_key` (which it declares with `declare_outgoing_queue`), and the consumer reads
    /// that queue (sharing it with any other consumer of it).
    pub exchange: Option<String>,
    /// The exchange's type as Janus declares it (`fanout`, Janus' default, `direct`, `topic`,
    /// `headers`).
    pub exchange_type: String,
    /// `rabbitmqevh`'s `route_key` (default [`RABBITMQEVH_ROUTE_KEY`]).
    pub route_key: String,
    /// Deliveries the broker sends before they are acknowledged (1 to 65 535; default 256).
    pub prefetch: u16,
    /// The largest message (1 byte to 64 MiB; default 1 MiB); a larger one is dropped and
    /// counted as oversized.
    pub max_message: usize,
    /// How long the first connection and subscription may take (default 10 s).
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// How long to wait before connecting again after the connection is lost (default 1 s).
    #[serde(with = "humantime_serde")]
    pub reconnect_delay: Duration,
}

#[cfg(feature = "amqp")]
impl Default for AmqpEvhOptions {
    fn default() -> Self {
        AmqpEvhOptions {
            host: Ipv4Addr::LOCALHOST.to_string(),
            port: 5672,
            vhost: "/".to_owned(),
            username: Some("guest".to_owned()),
            password: Some(Secret::new("guest")),
            exchange: None,
            exchange_type: "fanout".to_owned(),
            route_key: RABBITMQEVH_ROUTE_KEY.to_owned(),
            prefetch: 256,
            max_message: 1 << 20,
            connect_timeout: Duration::from_secs(10),
            reconnect_delay: Duration::from_secs(1),
        }
    }
}

#[cfg(feature = "amqp")]
impl AmqpEvhOptions {
    /// Default options, for the broker at `host:port`.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        AmqpEvhOptions {
            host: host.into(),
            port,
            ..AmqpEvhOptions::default()
        }
    }

    /// `rabbitmqevh`'s `exchange` (of type `exchange_type`) and `route_key`.
    pub fn with_exchange(
        mut self,
        exchange: impl Into<String>,
        exchange_type: impl Into<String>,
        route_key: impl Into<String>,
    ) -> Self {
        self.exchange = Some(exchange.into());
        self.exchange_type = exchange_type.into();
        self.route_key = route_key.into();
        self
    }

    /// Checks every option.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_host("amqp.host", &self.host)?;
        if self.port == 0 {
            return Err(bad("amqp.port", "must not be 0"));
        }
        check_credentials("amqp.username", &self.username, &self.password)?;
        // AMQP short strings: at most 255 bytes.
        let short = |option: &'static str, v: &str, empty_ok: bool| {
            if (v.is_empty() && !empty_ok) || v.len() > 255 || v.chars().any(char::is_control) {
                return Err(bad(
                    option,
                    "must be 1 to 255 bytes, without control characters",
                ));
            }
            Ok(())
        };
        short("amqp.vhost", &self.vhost, false)?;
        if let Some(e) = &self.exchange {
            short("amqp.exchange", e, false)?;
        }
        if !["fanout", "direct", "topic", "headers"].contains(&self.exchange_type.as_str()) {
            return Err(bad(
                "amqp.exchange_type",
                format!(
                    "{:?} is not fanout, direct, topic or headers",
                    self.exchange_type
                ),
            ));
        }
        short("amqp.route_key", &self.route_key, self.exchange.is_some())?;
        if self.prefetch == 0 {
            return Err(bad("amqp.prefetch", "must not be 0"));
        }
        in_range("amqp.max_message", self.max_message, 1, MAX_DELIVERY_LIMIT)?;
        check_timeout("amqp.connect_timeout", self.connect_timeout)?;
        check_timeout("amqp.reconnect_delay", self.reconnect_delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        ReceiverOptions::default().validate().unwrap();
        HttpOptions::default().validate().unwrap();
        WsOptions::default().validate().unwrap();
    }

    #[test]
    fn errors_name_the_option() {
        let e = ReceiverOptions::default()
            .with_buffer(1)
            .validate()
            .unwrap_err();
        assert_eq!(e.option, "buffer");
        let e = HttpOptions::default()
            .with_max_body(0)
            .validate()
            .unwrap_err();
        assert_eq!(e.option, "http.max_body");
        let e = HttpOptions::default()
            .with_max_body(MAX_DELIVERY_LIMIT + 1)
            .validate()
            .unwrap_err();
        assert_eq!(e.option, "http.max_body");
        let e = HttpOptions::default()
            .with_path("no-slash")
            .validate()
            .unwrap_err();
        assert_eq!(e.option, "http.path");
        let e = HttpOptions::default()
            .with_basic_auth("a:b", "pw")
            .validate()
            .unwrap_err();
        assert_eq!(e.option, "http.basic_auth.user");
        let h = HttpOptions {
            read_timeout: Duration::ZERO,
            ..HttpOptions::default()
        };
        assert_eq!(h.validate().unwrap_err().option, "http.read_timeout");
        let h = HttpOptions {
            max_connections: 0,
            ..HttpOptions::default()
        };
        assert_eq!(h.validate().unwrap_err().option, "http.max_connections");
        let e = WsOptions::default()
            .with_subprotocol(Some("two words".into()))
            .validate()
            .unwrap_err();
        assert_eq!(e.option, "ws.subprotocol");
        let e = WsOptions::default()
            .with_max_message(0)
            .validate()
            .unwrap_err();
        assert_eq!(e.option, "ws.max_message");
        assert!(e.to_string().contains("`ws.max_message`"), "{e}");
    }

    #[cfg(feature = "mqtt")]
    #[test]
    fn mqtt_errors_name_the_option() {
        MqttEvhOptions::default().validate().unwrap();
        let e = MqttEvhOptions::default()
            .with_topic("/janus/#")
            .validate()
            .unwrap_err();
        assert_eq!(e.option, "mqtt.topic");
        let o = MqttEvhOptions {
            username: Some("u".into()),
            ..MqttEvhOptions::default()
        };
        assert_eq!(o.validate().unwrap_err().option, "mqtt.username");
        let o = MqttEvhOptions {
            keep_alive: Duration::from_millis(500),
            ..MqttEvhOptions::default()
        };
        assert_eq!(o.validate().unwrap_err().option, "mqtt.keep_alive");
        let o = MqttEvhOptions {
            qos: 3,
            ..MqttEvhOptions::default()
        };
        assert_eq!(o.validate().unwrap_err().option, "mqtt.qos");
        assert_eq!(
            MqttEvhOptions::new("", 1).validate().unwrap_err().option,
            "mqtt.host"
        );
        assert_eq!(
            MqttEvhOptions::new("h", 0).validate().unwrap_err().option,
            "mqtt.port"
        );
    }

    #[cfg(feature = "amqp")]
    #[test]
    fn amqp_errors_name_the_option() {
        AmqpEvhOptions::default().validate().unwrap();
        let e = AmqpEvhOptions::default()
            .with_exchange("x", "round-robin", "k")
            .validate()
            .unwrap_err();
        assert_eq!(e.option, "amqp.exchange_type");
        // Without an exchange the routing key names the queue: it must not be empty.
        let o = AmqpEvhOptions {
            route_key: String::new(),
            ..AmqpEvhOptions::default()
        };
        assert_eq!(o.validate().unwrap_err().option, "amqp.route_key");
        let o = AmqpEvhOptions {
            prefetch: 0,
            ..AmqpEvhOptions::default()
        };
        assert_eq!(o.validate().unwrap_err().option, "amqp.prefetch");
        let o = AmqpEvhOptions {
            password: None,
            ..AmqpEvhOptions::default()
        };
        assert_eq!(o.validate().unwrap_err().option, "amqp.username");
    }

    #[test]
    fn unknown_fields_are_refused() {
        let e = serde_json::from_str::<HttpOptions>(r#"{"max_bdy": 10}"#).unwrap_err();
        assert!(e.to_string().contains("max_bdy"), "{e}");
    }
}
