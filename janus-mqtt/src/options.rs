//! Options of the MQTT transport, and their checks.

use janus_core::{check_duration, Error, Secret};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// The MQTT protocol version spoken to the broker.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum MqttVersion {
    /// MQTT 3.1.1 (Janus' default, `mqtt_version = "3.1.1"`): every client of a Janus
    /// receives every reply and event on the response topic and keeps its own.
    #[default]
    #[serde(rename = "3.1.1")]
    V311,
    /// MQTT 5 (`mqtt_version = "5"` in Janus): requests carry a Response Topic of this
    /// client's own and Correlation Data, so Janus sends the replies to this client only;
    /// events without a transaction still come on the shared response topic.
    #[serde(rename = "5")]
    V5,
}

impl MqttVersion {
    /// The version as written in a configuration file or URL: `3.1.1` or `5`.
    pub fn as_str(self) -> &'static str {
        match self {
            MqttVersion::V311 => "3.1.1",
            MqttVersion::V5 => "5",
        }
    }

    /// Reads `3.1.1` or `5`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "3.1.1" => Some(MqttVersion::V311),
            "5" => Some(MqttVersion::V5),
            _ => None,
        }
    }
}

/// MQTT options (the `[mqtt]` section). Deserializes from TOML or JSON with durations like
/// `"5s"`.
///
/// The topics and the version can also be given in the URL's query
/// (`mqtt://host:1883?request_topic=to-janus-2&response_topic=from-janus-2&protocol=5`),
/// which then wins over this section; the broker's user name and password go in the URL
/// (`mqtt://user:pass@host`) or here, not both.
///
/// [`validate`](MqttOptions::validate) checks every field against the bounds written on it;
/// [`MqttConnector::new`](crate::MqttConnector::new) calls it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MqttOptions {
    /// The topic Janus subscribes to (its `subscribe_topic`, default `to-janus`). A topic
    /// name: not empty, at most 65,535 bytes, no `+`, `#` or NUL.
    pub request_topic: String,
    /// The topic Janus publishes to (its `publish_topic`, default `from-janus`). With MQTT 5
    /// this client's replies come on `<response_topic>/<client_id>` instead. Same rules as
    /// `request_topic`.
    pub response_topic: String,
    /// The QoS of requests and of the subscriptions: 0, 1 (default, as Janus) or 2.
    pub qos: u8,
    /// The MQTT client id: 1 to 64 characters among `A-Z a-z 0-9 _ -`. Left out, a random
    /// one (`janus-client-` and 16 hex digits) is made for each connector. Two clients with
    /// the same id knock each other off the broker.
    pub client_id: Option<String>,
    /// `"3.1.1"` (default) or `"5"`; must match Janus' `mqtt_version` only for the replies
    /// to reach this client alone (MQTT 5), both work with either broker setting.
    pub protocol: MqttVersion,
    /// How often the client pings the broker; a broker that does not answer within another
    /// such interval is taken as gone (the client reconnects). 1 s to 65,535 s (whole
    /// seconds are sent); with MQTT 5 at least 5 s is used (rumqttc's floor there).
    #[serde(with = "humantime_serde")]
    pub keep_alive: Duration,
    /// The bound on connecting: TCP (and TLS), CONNACK and SUBACK. More than zero, at most
    /// 1 year.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// The largest message accepted; a larger one is dropped and counted as malformed. A
    /// message over 4 × this (at least 1 MiB) cannot be read past: the client reconnects
    /// (MQTT 3.1.1), or the broker drops it itself (MQTT 5 tells the broker the limit).
    /// 1 byte to 256 MiB ([`MqttOptions::MAX_MESSAGE_BYTES`], MQTT's own limit).
    pub max_message_bytes: usize,
    /// The bound of each of the two queues between the client and the MQTT event loop:
    /// requests waiting to be written, and messages waiting for the client. 1 to 65,536.
    pub queue_capacity: usize,
    /// QoS 1 and 2 requests sent and not yet acknowledged by the broker; more wait in the
    /// request queue. 1 to 65,535.
    pub max_inflight: u16,
    /// The broker's user name, when not in the URL.
    pub username: Option<String>,
    /// The broker's password, when not in the URL (needs `username`).
    pub password: Option<Secret>,
    /// A PEM file with extra CA certificates to trust for `mqtts://` (a private CA).
    pub tls_ca_file: Option<PathBuf>,
}

impl Default for MqttOptions {
    fn default() -> Self {
        MqttOptions {
            request_topic: "to-janus".into(),
            response_topic: "from-janus".into(),
            qos: 1,
            client_id: None,
            protocol: MqttVersion::V311,
            keep_alive: Duration::from_secs(3),
            connect_timeout: Duration::from_secs(5),
            max_message_bytes: 8 << 20,
            queue_capacity: 1024,
            max_inflight: 100,
            username: None,
            password: None,
            tls_ca_file: None,
        }
    }
}

impl MqttOptions {
    /// The largest [`max_message_bytes`](MqttOptions::max_message_bytes): 256 MiB, the
    /// largest MQTT packet.
    pub const MAX_MESSAGE_BYTES: usize = 256 << 20;
    /// The largest [`queue_capacity`](MqttOptions::queue_capacity).
    pub const MAX_QUEUE_CAPACITY: usize = 65_536;

    /// Options for the Admin API of a Janus whose `admin` section uses the default topics
    /// (`to-janus-admin`, `from-janus-admin`).
    pub fn admin() -> Self {
        MqttOptions {
            request_topic: "to-janus-admin".into(),
            response_topic: "from-janus-admin".into(),
            ..Default::default()
        }
    }

    /// Checks every option; the error names it as written in a configuration file
    /// (`mqtt.qos`, ...). [`MqttConnector::new`](crate::MqttConnector::new) calls it.
    ///
    /// ```
    /// use janus_mqtt::MqttOptions;
    /// let o = MqttOptions { qos: 3, ..Default::default() };
    /// assert!(o.validate().unwrap_err().to_string().contains("mqtt.qos must be 0, 1 or 2, got 3"));
    /// ```
    pub fn validate(&self) -> Result<(), Error> {
        check_topic("mqtt.request_topic", &self.request_topic)?;
        check_topic("mqtt.response_topic", &self.response_topic)?;
        if self.qos > 2 {
            return Err(Error::config(format!(
                "mqtt.qos must be 0, 1 or 2, got {}",
                self.qos
            )));
        }
        if let Some(id) = &self.client_id {
            check_client_id(id)?;
        }
        if self.keep_alive < Duration::from_secs(1) || self.keep_alive.as_secs() > 65_535 {
            return Err(Error::config(format!(
                "mqtt.keep_alive must be between 1s and 65535s, got {}",
                humantime_serde::re::humantime::format_duration(self.keep_alive)
            )));
        }
        check_duration("mqtt.connect_timeout", self.connect_timeout)?;
        if self.max_message_bytes == 0 || self.max_message_bytes > Self::MAX_MESSAGE_BYTES {
            return Err(Error::config(format!(
                "mqtt.max_message_bytes must be between 1 and {} (256 MiB), got {}",
                Self::MAX_MESSAGE_BYTES,
                self.max_message_bytes
            )));
        }
        if self.queue_capacity == 0 || self.queue_capacity > Self::MAX_QUEUE_CAPACITY {
            return Err(Error::config(format!(
                "mqtt.queue_capacity must be between 1 and {}, got {}",
                Self::MAX_QUEUE_CAPACITY,
                self.queue_capacity
            )));
        }
        if self.max_inflight == 0 {
            return Err(Error::config(
                "mqtt.max_inflight must be between 1 and 65535, got 0",
            ));
        }
        if let Some(user) = &self.username {
            if user.is_empty() || user.len() > 65_535 {
                return Err(Error::config(
                    "mqtt.username must be 1 to 65535 bytes (leave it out for none)",
                ));
            }
        }
        if let Some(pass) = &self.password {
            if self.username.is_none() {
                return Err(Error::config("mqtt.password needs mqtt.username"));
            }
            if pass.expose().len() > 65_535 {
                return Err(Error::config("mqtt.password must be at most 65535 bytes"));
            }
        }
        Ok(())
    }

    /// The largest packet read from the broker: 4 × `max_message_bytes`, at least 1 MiB,
    /// at most 256 MiB.
    pub(crate) fn max_packet_bytes(&self) -> usize {
        self.max_message_bytes
            .saturating_mul(4)
            .clamp(1 << 20, Self::MAX_MESSAGE_BYTES)
    }
}

/// A topic name to publish or subscribe to exactly (no wildcards).
pub(crate) fn check_topic(name: &str, topic: &str) -> Result<(), Error> {
    if topic.is_empty() || topic.len() > 65_535 || topic.contains(['+', '#', '\0']) {
        return Err(Error::config(format!(
            "{name} must be a topic name (not empty, at most 65535 bytes, no '+', '#' or NUL), got {topic:?}"
        )));
    }
    Ok(())
}

fn check_client_id(id: &str) -> Result<(), Error> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !ok {
        return Err(Error::config(format!(
            "mqtt.client_id must be 1 to 64 characters among A-Z a-z 0-9 _ - (leave it out for a random one), got {id:?}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use janus_core::ClientOptions;

    fn refused(o: MqttOptions) -> String {
        let e = o.validate().expect_err("accepted");
        assert!(
            matches!(e.kind(), janus_core::ErrorKind::Config(_)),
            "{e:?}"
        );
        e.to_string()
    }

    #[test]
    fn defaults_and_bounds_are_valid() {
        MqttOptions::default().validate().unwrap();
        MqttOptions::admin().validate().unwrap();
        MqttOptions {
            qos: 0,
            client_id: Some("a".into()),
            keep_alive: Duration::from_secs(65_535),
            connect_timeout: ClientOptions::MAX_DURATION,
            max_message_bytes: 1,
            queue_capacity: 1,
            max_inflight: 1,
            ..Default::default()
        }
        .validate()
        .unwrap();
        MqttOptions {
            qos: 2,
            client_id: Some("x".repeat(64)),
            keep_alive: Duration::from_secs(1),
            max_message_bytes: MqttOptions::MAX_MESSAGE_BYTES,
            queue_capacity: MqttOptions::MAX_QUEUE_CAPACITY,
            max_inflight: u16::MAX,
            username: Some("u".into()),
            password: Some("p".into()),
            ..Default::default()
        }
        .validate()
        .unwrap();
    }

    #[test]
    fn bad_values_name_their_option() {
        let d = MqttOptions::default;
        let cases = [
            (
                MqttOptions {
                    request_topic: String::new(),
                    ..d()
                },
                "mqtt.request_topic must be a topic name",
            ),
            (
                MqttOptions {
                    response_topic: "from/#".into(),
                    ..d()
                },
                "mqtt.response_topic must be a topic name",
            ),
            (
                MqttOptions { qos: 3, ..d() },
                "mqtt.qos must be 0, 1 or 2, got 3",
            ),
            (
                MqttOptions {
                    client_id: Some(String::new()),
                    ..d()
                },
                "mqtt.client_id must be 1 to 64 characters",
            ),
            (
                MqttOptions {
                    client_id: Some("a/b".into()),
                    ..d()
                },
                "mqtt.client_id must be",
            ),
            (
                MqttOptions {
                    keep_alive: Duration::from_millis(500),
                    ..d()
                },
                "mqtt.keep_alive must be between 1s and 65535s, got 500ms",
            ),
            (
                MqttOptions {
                    keep_alive: Duration::from_secs(u64::MAX),
                    ..d()
                },
                "mqtt.keep_alive must be between 1s and 65535s",
            ),
            (
                MqttOptions {
                    connect_timeout: Duration::ZERO,
                    ..d()
                },
                "mqtt.connect_timeout must not be zero",
            ),
            (
                MqttOptions {
                    connect_timeout: Duration::from_secs(40_000_000),
                    ..d()
                },
                "mqtt.connect_timeout must be at most 1 year",
            ),
            (
                MqttOptions {
                    max_message_bytes: 0,
                    ..d()
                },
                "mqtt.max_message_bytes must be between 1 and 268435456 (256 MiB), got 0",
            ),
            (
                MqttOptions {
                    max_message_bytes: usize::MAX,
                    ..d()
                },
                "mqtt.max_message_bytes must be between",
            ),
            (
                MqttOptions {
                    queue_capacity: 0,
                    ..d()
                },
                "mqtt.queue_capacity must be between 1 and 65536, got 0",
            ),
            (
                MqttOptions {
                    max_inflight: 0,
                    ..d()
                },
                "mqtt.max_inflight must be between 1 and 65535, got 0",
            ),
            (
                MqttOptions {
                    password: Some("p".into()),
                    ..d()
                },
                "mqtt.password needs mqtt.username",
            ),
            (
                MqttOptions {
                    username: Some(String::new()),
                    ..d()
                },
                "mqtt.username must be",
            ),
        ];
        for (o, want) in cases {
            let got = refused(o);
            assert!(got.contains(want), "{got:?} does not contain {want:?}");
        }
    }

    #[test]
    fn packet_bound_is_four_times_the_message_bound_within_limits() {
        let o = |n| MqttOptions {
            max_message_bytes: n,
            ..Default::default()
        };
        assert_eq!(o(1).max_packet_bytes(), 1 << 20);
        assert_eq!(o(8 << 20).max_packet_bytes(), 32 << 20);
        assert_eq!(
            o(MqttOptions::MAX_MESSAGE_BYTES).max_packet_bytes(),
            MqttOptions::MAX_MESSAGE_BYTES
        );
    }

    #[test]
    fn versions_read_and_write() {
        let o: MqttOptions = serde_json::from_str(r#"{"protocol":"5","keep_alive":"3s"}"#).unwrap();
        assert_eq!(o.protocol, MqttVersion::V5);
        assert_eq!(o.keep_alive, Duration::from_secs(3));
        assert!(serde_json::from_str::<MqttOptions>(r#"{"protocol":"4"}"#).is_err());
        assert_eq!(MqttVersion::parse("3.1.1"), Some(MqttVersion::V311));
        assert_eq!(MqttVersion::parse("3.1"), None);
        assert_eq!(MqttVersion::V5.as_str(), "5");
    }
}
