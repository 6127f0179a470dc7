//! [`Config`]: the URL whose scheme picks the transport, and the options of the client and
//! of each transport, read from a file or built in code.

use serde::{Deserialize, Serialize};
use std::sync::Arc;
use url::Url;

#[cfg(feature = "amqp")]
use janus_amqp::{AmqpConnector, AmqpOptions};
use janus_core::{ClientOptions, Connector, Error};
#[cfg(feature = "http")]
use janus_http::{HttpConnector, HttpOptions};
#[cfg(feature = "mqtt")]
use janus_mqtt::{MqttConnector, MqttOptions};
#[cfg(feature = "unix")]
use janus_unix::{UnixConnector, UnixOptions};
#[cfg(feature = "ws")]
use janus_ws::{WsConnector, WsOptions};

/// Everything needed to connect: the URL (whose scheme picks the transport), the client
/// options and each transport's options. Deserializes from TOML or JSON:
///
/// Every option of every section is checked by [`validate`](Config::validate) before
/// anything starts ([`connector`](Config::connector) and [`connect`](crate::connect) call it): a value that
/// cannot work is a configuration error naming the option as written in the file
/// (`options.reconnect.jitter`, `ws.ping_interval`, `http.maxev`, ...), never a panic.
///
/// The credentials are `options.api_secret` and `options.token`, for every transport (the
/// HTTP long poll gets them from the client). They are written in clear when a `Config` is
/// serialized, so it round-trips through a file; keep such files private. `Debug` never
/// shows them (see [`Secret`](crate::Secret)). `http.api_secret` and `http.token`, which
/// older versions took, are refused with an error saying where the credentials go now.
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
    /// `ws://`, `wss://`, `http://` or `https://` (for HTTP, include the base path, e.g. `/janus`),
    /// `unix:///path/to/janus.sock` (feature `unix`), `mqtt://`/`mqtts://` (feature `mqtt`;
    /// topics may go in the query:
    /// `mqtt://host:1883?request_topic=to-janus&response_topic=from-janus`), or `amqp://`
    /// (RabbitMQ, feature `amqp`; queue names may go in the query).
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
    /// Unix socket options (feature `unix`).
    #[cfg(feature = "unix")]
    #[serde(default)]
    pub unix: UnixOptions,
    /// MQTT options (feature `mqtt`): topics, QoS, client id, version, keep-alive.
    #[cfg(feature = "mqtt")]
    #[serde(default)]
    pub mqtt: MqttOptions,
    /// RabbitMQ options (feature `amqp`), section `[amqp]`.
    #[cfg(feature = "amqp")]
    #[serde(default)]
    pub amqp: AmqpOptions,
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
            #[cfg(feature = "unix")]
            unix: UnixOptions::default(),
            #[cfg(feature = "mqtt")]
            mqtt: MqttOptions::default(),
            #[cfg(feature = "amqp")]
            amqp: AmqpOptions::default(),
        }
    }

    /// Replaces the client options.
    pub fn with_options(mut self, options: ClientOptions) -> Self {
        self.options = options;
        self
    }

    /// Reads a configuration from TOML text (feature `toml`, on by default), and checks it
    /// ([`validate`](Config::validate)). Unknown keys are errors; durations are written like
    /// `"10s"` or `"250ms"`.
    ///
    /// ```
    /// let config = janus_client::Config::from_toml_str(r#"
    ///     url = "ws://127.0.0.1:8188"
    ///     [options]
    ///     request_timeout = "5s"
    ///     [options.reconnect]
    ///     max_delay = "2s"
    /// "#)?;
    /// assert_eq!(config.options.request_timeout.as_secs(), 5);
    /// assert!(janus_client::Config::from_toml_str("url = 3").is_err());
    /// # Ok::<(), janus_client::Error>(())
    /// ```
    #[cfg(feature = "toml")]
    pub fn from_toml_str(text: &str) -> Result<Config, Error> {
        let config: Config = toml::from_str(text).map_err(|e| {
            let hint = moved_key_hint(e.message());
            Error::config(format!("bad configuration: {e}{hint}")).with_source(e)
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Reads a configuration from a TOML file (feature `toml`, on by default), and checks
    /// it; the error names the file.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), janus_client::Error> {
    /// let config = janus_client::Config::from_file("janus.toml")?;
    /// let client = janus_client::connect(config).await?;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "toml")]
    pub fn from_file(path: impl AsRef<std::path::Path>) -> Result<Config, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::config(format!("cannot read {}: {e}", path.display())).with_source(e)
        })?;
        Config::from_toml_str(&text).map_err(|e| {
            let what = match e.kind() {
                janus_core::ErrorKind::Config(m) => m.clone(),
                _ => e.to_string(),
            };
            Error::config(format!("{}: {what}", path.display())).with_source(e)
        })
    }

    /// Checks every section: [`ClientOptions::validate`] (with the reconnect policy), and
    /// [`WsOptions::validate`] and [`HttpOptions::validate`] for the transports compiled in
    /// (whichever the URL picks). Errors name the option with its section: `options.`,
    /// `options.reconnect.`, `ws.`, `http.`.
    ///
    /// ```
    /// let mut config = janus_client::Config::new("ws://127.0.0.1:8188");
    /// config.options.reconnect.jitter = f64::NAN;
    /// let err = config.validate().unwrap_err();
    /// assert!(err.to_string().contains("options.reconnect.jitter must be between 0 and 1, got NaN"));
    /// ```
    pub fn validate(&self) -> Result<(), Error> {
        self.options.validate()?;
        #[cfg(feature = "ws")]
        self.ws.validate()?;
        #[cfg(feature = "http")]
        self.http.validate()?;
        #[cfg(feature = "unix")]
        self.unix.validate()?;
        #[cfg(feature = "mqtt")]
        self.mqtt.validate()?;
        #[cfg(feature = "amqp")]
        self.amqp.validate()?;
        Ok(())
    }

    /// Makes the connector the URL asks for, or says which feature is missing. Checks the
    /// configuration first ([`validate`](Config::validate)).
    pub fn connector(&self) -> Result<Arc<dyn Connector>, Error> {
        self.validate()?;
        let url = Url::parse(&self.url).map_err(|e| {
            let shown = janus_core::endpoint::redact_unparsed(&self.url);
            Error::config(format!("bad URL {shown:?}: {e}"))
        })?;
        match url.scheme() {
            "ws" | "wss" => self.ws_connector(url),
            "http" | "https" => self.http_connector(url),
            "unix" => self.unix_connector(url),
            "mqtt" | "mqtts" => self.mqtt_connector(url),
            "amqp" | "amqps" => self.amqp_connector(url),
            other => Err(Error::config(format!(
                "unsupported URL scheme {other:?}: use ws://, wss://, http://, https://, \
                 unix://, mqtt://, mqtts:// or amqp://"
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
        Ok(Arc::new(HttpConnector::new(url, self.http.clone())?))
    }

    #[cfg(not(feature = "http"))]
    fn http_connector(&self, url: Url) -> Result<Arc<dyn Connector>, Error> {
        Err(Error::config(format!(
            "{} needs the HTTP transport: enable the `http` feature of janus-client",
            url.scheme()
        )))
    }
}

impl Config {
    #[cfg(feature = "unix")]
    fn unix_connector(&self, url: Url) -> Result<Arc<dyn Connector>, Error> {
        Ok(Arc::new(UnixConnector::new(url, self.unix.clone())?))
    }

    #[cfg(not(feature = "unix"))]
    fn unix_connector(&self, url: Url) -> Result<Arc<dyn Connector>, Error> {
        Err(Error::config(format!(
            "{} needs the Unix socket transport: enable the `unix` feature of janus-client",
            url.scheme()
        )))
    }
}

impl Config {
    #[cfg(feature = "amqp")]
    fn amqp_connector(&self, url: Url) -> Result<Arc<dyn Connector>, Error> {
        Ok(Arc::new(AmqpConnector::new(url, self.amqp.clone())?))
    }

    #[cfg(not(feature = "amqp"))]
    fn amqp_connector(&self, url: Url) -> Result<Arc<dyn Connector>, Error> {
        Err(Error::config(format!(
            "{} needs the RabbitMQ transport: enable the `amqp` feature of janus-client",
            url.scheme()
        )))
    }
}

#[cfg(feature = "mqtt")]
impl Config {
    fn mqtt_connector(&self, url: Url) -> Result<Arc<dyn Connector>, Error> {
        Ok(Arc::new(MqttConnector::new(url, self.mqtt.clone())?))
    }
}

#[cfg(not(feature = "mqtt"))]
impl Config {
    fn mqtt_connector(&self, url: Url) -> Result<Arc<dyn Connector>, Error> {
        Err(Error::config(format!(
            "{} needs the MQTT transport: enable the `mqtt` feature of janus-client",
            url.scheme()
        )))
    }
}
#[cfg(all(test, feature = "amqp"))]
mod amqp_tests {
    use super::*;

    #[test]
    fn amqp_section_is_checked_with_its_prefix_and_the_url_picks_it() {
        let c: Config = toml::from_str(
            r#"
            url = "amqp://guest:guest@127.0.0.1:1/%2f"
            [amqp]
            janus_exchange = ""
            "#,
        )
        .unwrap();
        let e = c.validate().unwrap_err();
        assert!(
            e.to_string()
                .contains("amqp.janus_exchange must not be empty"),
            "{e}"
        );
        let c = Config::new("amqp://guest:guest@127.0.0.1:1/%2f?to_janus=in-2");
        let connector = c.connector().unwrap();
        assert!(
            connector.endpoint().contains("in-2"),
            "{}",
            connector.endpoint()
        );
        assert!(!connector.endpoint().contains("guest:guest"));
    }
}

#[cfg(all(test, not(feature = "amqp")))]
mod amqp_missing_tests {
    use super::*;

    #[test]
    fn amqp_without_the_feature_is_named() {
        let Err(e) = Config::new("amqp://127.0.0.1/").connector() else {
            panic!("amqp accepted without the feature")
        };
        assert!(e.to_string().contains("`amqp` feature"), "{e}");
    }
}

/// What to say after an "unknown field" error about a key that moved: `api_secret` and
/// `token` are taken only in `[options]` (older versions also took them in `[http]`).
#[cfg(feature = "toml")]
fn moved_key_hint(message: &str) -> &'static str {
    if ["`api_secret`", "`token`"]
        .iter()
        .any(|key| message.starts_with(&format!("unknown field {key}")))
    {
        "(the api secret and token go in [options] only, as options.api_secret and \
         options.token: the client hands them to every transport, the HTTP long poll \
         included; [http] no longer takes them)"
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use janus_core::{ErrorKind, Secret};

    #[cfg(feature = "toml")]
    #[test]
    fn from_file_names_the_file_and_the_option() {
        let dir = std::env::temp_dir().join(format!("janus-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.toml");
        std::fs::write(
            &good,
            "url = \"ws://127.0.0.1:8188\"\n[options]\nrequest_timeout = \"3s\"\n",
        )
        .unwrap();
        let c = Config::from_file(&good).unwrap();
        assert_eq!(c.options.request_timeout.as_secs(), 3);

        let bad = dir.join("bad.toml");
        std::fs::write(
            &bad,
            "url = \"ws://127.0.0.1:8188\"\n[options.reconnect]\njitter = 2.0\n",
        )
        .unwrap();
        let e = Config::from_file(&bad).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("bad.toml") && text.contains("options.reconnect.jitter"),
            "{text}"
        );
        assert!(std::error::Error::source(&e).is_some());

        let typo = dir.join("typo.toml");
        std::fs::write(
            &typo,
            "url = \"ws://127.0.0.1:8188\"\n[options]\nrequest_timout = \"3s\"\n",
        )
        .unwrap();
        let text = Config::from_file(&typo).unwrap_err().to_string();
        assert!(
            text.contains("typo.toml") && text.contains("request_timout"),
            "{text}"
        );

        let missing = Config::from_file(dir.join("missing.toml")).unwrap_err();
        assert!(missing.to_string().contains("missing.toml"), "{missing}");
        assert!(std::error::Error::source(&missing).is_some());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn unknown_scheme_is_a_config_error() {
        let Err(e) = Config::new("ftp://x").connector() else {
            panic!("ftp accepted")
        };
        assert!(matches!(e.kind(), ErrorKind::Config(_)));
        assert!(e.to_string().contains("ftp"));
    }

    #[cfg(not(feature = "mqtt"))]
    #[test]
    fn missing_mqtt_feature_is_named() {
        let Err(e) = Config::new("mqtt://127.0.0.1:1883").connector() else {
            panic!("mqtt accepted without the feature")
        };
        assert!(e.to_string().contains("`mqtt` feature"), "{e}");
    }

    #[cfg(feature = "mqtt")]
    #[test]
    fn mqtt_section_is_checked_and_the_scheme_picks_mqtt() {
        let c: Config = toml::from_str(
            r#"
            url = "mqtt://127.0.0.1:1?request_topic=to-janus-2"
            [mqtt]
            qos = 1
            keep_alive = "3s"
            "#,
        )
        .unwrap();
        c.connector().unwrap();
        let mut c = c;
        c.mqtt.qos = 9;
        let e = c.validate().unwrap_err();
        assert!(
            e.to_string().contains("mqtt.qos must be 0, 1 or 2, got 9"),
            "{e}"
        );
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

    #[test]
    fn validate_checks_every_section_with_its_prefix() {
        Config::new("ws://127.0.0.1:8188").validate().unwrap();
        let mut c = Config::new("ws://127.0.0.1:8188");
        c.options.request_timeout = std::time::Duration::ZERO;
        let e = c.validate().unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::Config(_)));
        assert!(
            e.to_string()
                .contains("options.request_timeout must not be zero"),
            "{e}"
        );
        let Err(e) = c.connector() else {
            panic!("connector made with a zero request_timeout")
        };
        assert!(e.to_string().contains("options.request_timeout"), "{e}");

        let mut c = Config::new("ws://127.0.0.1:8188");
        c.options.reconnect.multiplier = f64::INFINITY;
        let e = c.validate().unwrap_err();
        assert!(
            e.to_string()
                .contains("options.reconnect.multiplier must be between 1 and 100, got inf"),
            "{e}"
        );
    }

    #[cfg(feature = "ws")]
    #[test]
    fn zero_ping_interval_is_refused_not_a_panic() {
        let c: Config = toml::from_str(
            r#"
            url = "ws://127.0.0.1:1"
            [ws]
            ping_interval = "0s"
            "#,
        )
        .unwrap();
        let e = c.validate().unwrap_err();
        assert!(
            e.to_string()
                .contains("ws.ping_interval must not be zero (leave it out to disable pings)"),
            "{e}"
        );
        // The ws section is checked whatever the URL picks.
        let mut c = c;
        c.url = "http://127.0.0.1:1/janus".into();
        assert!(c.validate().is_err());
    }

    #[cfg(feature = "http")]
    #[test]
    fn http_section_is_checked_with_its_prefix() {
        let c: Config = toml::from_str(
            r#"
            url = "http://127.0.0.1:1/janus"
            [http]
            max_long_polls = 0
            "#,
        )
        .unwrap();
        let e = c.validate().unwrap_err();
        assert!(
            e.to_string()
                .contains("http.max_long_polls must be between 1 and 65535, got 0"),
            "{e}"
        );
    }

    #[cfg(all(feature = "toml", feature = "http"))]
    #[test]
    fn credentials_in_the_http_section_are_refused_saying_where_they_go() {
        for key in ["api_secret", "token"] {
            let text = format!("url = \"http://127.0.0.1:1/janus\"\n[http]\n{key} = \"s3cret\"\n");
            let e = Config::from_toml_str(&text).unwrap_err();
            assert!(matches!(e.kind(), ErrorKind::Config(_)), "{e:?}");
            let text = e.to_string();
            assert!(
                text.contains(&format!("unknown field `{key}`"))
                    && text.contains("options.api_secret and options.token"),
                "{text}"
            );
        }
        // Where they belong, they are taken.
        let c = Config::from_toml_str(
            "url = \"http://127.0.0.1:1/janus\"\n[options]\napi_secret = \"s3cret\"\n",
        )
        .unwrap();
        assert_eq!(
            c.options.api_secret.as_ref().map(Secret::expose),
            Some("s3cret")
        );
        // Other unknown keys get no such hint.
        let e =
            Config::from_toml_str("url = \"ws://127.0.0.1:1\"\n[http]\nmax_ev = 1\n").unwrap_err();
        assert!(!e.to_string().contains("options.api_secret"), "{e}");
    }

    #[test]
    fn huge_duration_in_a_file_is_refused() {
        let c: Config = toml::from_str(
            r#"
            url = "ws://127.0.0.1:1"
            [options.reconnect]
            max_delay = "100000000years"
            "#,
        )
        .unwrap();
        let e = c.validate().unwrap_err();
        assert!(
            e.to_string()
                .contains("options.reconnect.max_delay must be at most 1 year, got "),
            "{e}"
        );
    }

    #[test]
    fn config_round_trips_with_its_secrets_and_debug_hides_them() {
        let mut c = Config::new("ws://127.0.0.1:8188");
        c.options.api_secret = Some("s3cret-api".into());
        c.options.token = Some("s3cret-token".into());
        let text = toml::to_string(&c).unwrap();
        // In clear, so the file can be read back.
        assert!(text.contains("api_secret = \"s3cret-api\""), "{text}");
        assert!(text.contains("token = \"s3cret-token\""), "{text}");
        let back: Config = toml::from_str(&text).unwrap();
        assert_eq!(back.options, c.options);
        assert_eq!(
            back.options.api_secret.as_ref().map(Secret::expose),
            Some("s3cret-api")
        );
        #[cfg(feature = "http")]
        assert_eq!(back.http, c.http);
        #[cfg(feature = "ws")]
        assert_eq!(back.ws, c.ws);
        let json = serde_json::to_string(&c).unwrap();
        let back: Config = serde_json::from_str(&json).unwrap();
        assert_eq!(back.options, c.options);
        for shown in [format!("{c:?}"), format!("{back:?}"), format!("{c:#?}")] {
            assert!(!shown.contains("s3cret"), "{shown}");
        }
    }
}
