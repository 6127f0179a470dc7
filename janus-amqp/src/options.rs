//! Options of the RabbitMQ transport (section `[amqp]`), and their checks.

use janus_core::{ClientOptions, Error};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// RabbitMQ options. Deserializes from TOML or JSON with durations like `"10s"`.
///
/// The names follow Janus's own `janus.transport.rabbitmq.jcfg` where they mean the same
/// thing: set `to_janus`, `janus_exchange` and `from_janus` to the values of that file.
/// Janus must publish to a named exchange (`janus_exchange`, of type `direct` or `topic`)
/// with `declare_outgoing_queue = false`: each client then binds a queue of its own to
/// that exchange and receives every reply and event. The nameless default exchange is
/// refused: with it, clients would share one `from-janus` queue and RabbitMQ would hand
/// each message to one of them only.
///
/// The queue and exchange names may also be given in the URL's query string
/// (`amqp://guest:guest@127.0.0.1:5672/%2f?to_janus=to-janus-2&from_janus=from-janus-2`),
/// which then wins over this section.
///
/// [`validate`](AmqpOptions::validate) checks every field against the bounds written on
/// it; [`AmqpConnector::new`](crate::AmqpConnector::new) calls it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AmqpOptions {
    /// The queue Janus consumes (Janus's `to_janus`): requests are published to the
    /// default exchange with this routing key. Default `"to-janus"`.
    pub to_janus: String,
    /// The exchange Janus publishes replies and events to (Janus's `janus_exchange`).
    /// Must not be empty. Default `"janus-exchange"`.
    pub janus_exchange: String,
    /// The exchange's type, as Janus declares it (Janus's `janus_exchange_type`):
    /// `"direct"` (default), `"topic"` or `"fanout"`. The client declares the exchange too
    /// (so that it may start before Janus); a different type is refused by the broker.
    pub janus_exchange_type: String,
    /// The routing key of Janus's messages (Janus's `from_janus`), which the client's queue
    /// is bound with. Default `"from-janus"`.
    pub from_janus: String,
    /// The Admin API's queue (Janus's `to_janus_admin`), used by
    /// [`connect_admin`](https://docs.rs/janus-client). Default `"to-janus-admin"`.
    pub to_janus_admin: String,
    /// The Admin API's routing key (Janus's `from_janus_admin`). Default
    /// `"from-janus-admin"`.
    pub from_janus_admin: String,
    /// The name of the client's own reply queue; `None` (default) lets the broker name it.
    /// Each client needs a queue of its own: a named queue that another consumer already
    /// reads is refused at connect.
    pub reply_queue: Option<String>,
    /// Whether the reply queue is exclusive to the connection (default true).
    pub reply_queue_exclusive: bool,
    /// Whether the reply queue is deleted when the client stops consuming it (default
    /// true).
    pub reply_queue_auto_delete: bool,
    /// How many messages the broker sends before the client acknowledges them
    /// (`basic.qos`): 1 to 65,535, default 256.
    pub prefetch: u16,
    /// The largest message accepted on the reply queue; a larger one is dropped and
    /// counted as malformed. From 1 byte to 1 GiB ([`AmqpOptions::MAX_BYTES`]),
    /// default 8 MiB.
    pub max_message_bytes: usize,
    /// The largest request sent. Janus 1.1.2 parses a request with the length of its last
    /// AMQP body frame, so a request split over several frames (more than 131,064 bytes
    /// with Janus's frame size of 128 KiB) is misread; a larger request fails at once
    /// with a [`Limit`](janus_core::ErrorKind::Limit) error naming this option.
    /// From 1 byte to 1 GiB, default 131,064.
    pub max_request_bytes: usize,
    /// AMQP heartbeat asked of the broker: a broker that goes silent is noticed within
    /// about two of these (lapin gives up after twice the heartbeat without a frame). At least
    /// 1 s, at most 65,535 s. Default 3 s: a stalled broker is noticed within 6 s.
    #[serde(with = "humantime_serde")]
    pub heartbeat: Duration,
    /// Admin API: publish to `to_janus_admin` and bind `from_janus_admin` instead.
    /// Set by [`AmqpOptions::admin`]; not read from a file.
    #[serde(skip)]
    pub admin: bool,
}

impl Default for AmqpOptions {
    fn default() -> Self {
        AmqpOptions {
            to_janus: "to-janus".into(),
            janus_exchange: "janus-exchange".into(),
            janus_exchange_type: "direct".into(),
            from_janus: "from-janus".into(),
            to_janus_admin: "to-janus-admin".into(),
            from_janus_admin: "from-janus-admin".into(),
            reply_queue: None,
            reply_queue_exclusive: true,
            reply_queue_auto_delete: true,
            prefetch: 256,
            max_message_bytes: 8 << 20,
            max_request_bytes: Self::JANUS_FRAME_PAYLOAD,
            heartbeat: Duration::from_secs(3),
            admin: false,
        }
    }
}

impl AmqpOptions {
    /// The largest [`max_message_bytes`](AmqpOptions::max_message_bytes) and
    /// [`max_request_bytes`](AmqpOptions::max_request_bytes) accepted: 1 GiB.
    pub const MAX_BYTES: usize = 1 << 30;

    /// The body of one AMQP frame at Janus's frame size (131,072 bytes less the frame's
    /// 8 bytes of header and end marker).
    pub const JANUS_FRAME_PAYLOAD: usize = 131_072 - 8;

    /// The query parameters of a URL that set options: `to_janus`, `janus_exchange`,
    /// `janus_exchange_type`, `from_janus`, `to_janus_admin`, `from_janus_admin`,
    /// `reply_queue`.
    pub const URL_PARAMETERS: [&'static str; 7] = [
        "to_janus",
        "janus_exchange",
        "janus_exchange_type",
        "from_janus",
        "to_janus_admin",
        "from_janus_admin",
        "reply_queue",
    ];

    /// Options for the Admin API (its own queues).
    pub fn admin() -> Self {
        AmqpOptions {
            admin: true,
            ..Default::default()
        }
    }

    /// The queue requests go to: `to_janus`, or `to_janus_admin` for the Admin API.
    pub fn request_queue(&self) -> &str {
        if self.admin {
            &self.to_janus_admin
        } else {
            &self.to_janus
        }
    }

    /// The routing key Janus's answers carry: `from_janus`, or `from_janus_admin`.
    pub fn reply_routing_key(&self) -> &str {
        if self.admin {
            &self.from_janus_admin
        } else {
            &self.from_janus
        }
    }

    /// Sets the option named by a URL query parameter; `false` for a name that is none
    /// of [`URL_PARAMETERS`](AmqpOptions::URL_PARAMETERS).
    pub(crate) fn set_by_name(&mut self, name: &str, value: &str) -> bool {
        let v = value.to_string();
        match name {
            "to_janus" => self.to_janus = v,
            "janus_exchange" => self.janus_exchange = v,
            "janus_exchange_type" => self.janus_exchange_type = v,
            "from_janus" => self.from_janus = v,
            "to_janus_admin" => self.to_janus_admin = v,
            "from_janus_admin" => self.from_janus_admin = v,
            "reply_queue" => self.reply_queue = Some(v),
            _ => return false,
        }
        true
    }

    /// Checks every option; the error names it as written in a configuration file
    /// (`amqp.janus_exchange`, ...). [`AmqpConnector::new`](crate::AmqpConnector::new)
    /// calls it.
    ///
    /// ```
    /// use janus_amqp::AmqpOptions;
    /// let o = AmqpOptions { janus_exchange: String::new(), ..Default::default() };
    /// assert!(o.validate().unwrap_err().to_string().contains("amqp.janus_exchange must not be empty"));
    /// ```
    pub fn validate(&self) -> Result<(), Error> {
        check_name("amqp.to_janus", &self.to_janus)?;
        if self.janus_exchange.is_empty() {
            return Err(Error::config(
                "amqp.janus_exchange must not be empty: configure Janus with a named \
                 janus_exchange of type direct and declare_outgoing_queue = false, and name it \
                 here (with the nameless default exchange every client would read one shared \
                 from_janus queue, and RabbitMQ would split the replies between them)",
            ));
        }
        check_name("amqp.janus_exchange", &self.janus_exchange)?;
        if self.janus_exchange.starts_with("amq.") {
            return Err(Error::config(format!(
                "amqp.janus_exchange must not start with \"amq.\" (reserved by the broker), got {:?}",
                self.janus_exchange
            )));
        }
        if !matches!(
            self.janus_exchange_type.as_str(),
            "direct" | "topic" | "fanout"
        ) {
            return Err(Error::config(format!(
                "amqp.janus_exchange_type must be \"direct\", \"topic\" or \"fanout\", got {:?}",
                self.janus_exchange_type
            )));
        }
        check_name("amqp.from_janus", &self.from_janus)?;
        check_name("amqp.to_janus_admin", &self.to_janus_admin)?;
        check_name("amqp.from_janus_admin", &self.from_janus_admin)?;
        if let Some(q) = &self.reply_queue {
            check_name("amqp.reply_queue", q)?;
            if q.starts_with("amq.") {
                return Err(Error::config(format!(
                    "amqp.reply_queue must not start with \"amq.\" (reserved by the broker), got {q:?}"
                )));
            }
            if q == &self.to_janus || q == &self.to_janus_admin {
                return Err(Error::config(format!(
                    "amqp.reply_queue must not be the queue Janus reads ({q:?})"
                )));
            }
        }
        if self.prefetch == 0 {
            return Err(Error::config(
                "amqp.prefetch must be between 1 and 65535, got 0",
            ));
        }
        for (name, v) in [
            ("amqp.max_message_bytes", self.max_message_bytes),
            ("amqp.max_request_bytes", self.max_request_bytes),
        ] {
            if v == 0 || v > Self::MAX_BYTES {
                return Err(Error::config(format!(
                    "{name} must be between 1 and {} (1 GiB), got {v}",
                    Self::MAX_BYTES
                )));
            }
        }
        if self.heartbeat < Duration::from_secs(1) {
            return Err(Error::config(format!(
                "amqp.heartbeat must be at least 1s (the broker counts whole seconds), got {}",
                humantime_serde::re::humantime::format_duration(self.heartbeat)
            )));
        }
        if self.heartbeat > Duration::from_secs(u16::MAX.into())
            || self.heartbeat > ClientOptions::MAX_DURATION
        {
            return Err(Error::config(format!(
                "amqp.heartbeat must be at most 65535s, got {}",
                humantime_serde::re::humantime::format_duration(self.heartbeat)
            )));
        }
        Ok(())
    }
}

/// An AMQP short string: not empty, at most 255 bytes.
fn check_name(option: &str, value: &str) -> Result<(), Error> {
    if value.is_empty() || value.len() > 255 {
        return Err(Error::config(format!(
            "{option} must be a name of 1 to 255 bytes, got {value:?}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(o: AmqpOptions) -> String {
        let e = o.validate().expect_err("accepted");
        assert!(
            matches!(e.kind(), janus_core::ErrorKind::Config(_)),
            "{e:?}"
        );
        e.to_string()
    }

    #[test]
    fn defaults_and_bounds_are_valid() {
        AmqpOptions::default().validate().unwrap();
        AmqpOptions::admin().validate().unwrap();
        AmqpOptions {
            prefetch: u16::MAX,
            max_message_bytes: AmqpOptions::MAX_BYTES,
            max_request_bytes: 1,
            heartbeat: Duration::from_secs(65535),
            reply_queue: Some("mine".into()),
            ..Default::default()
        }
        .validate()
        .unwrap();
    }

    #[test]
    fn bad_values_name_their_option() {
        let d = AmqpOptions::default;
        let cases = [
            (
                AmqpOptions {
                    janus_exchange: "".into(),
                    ..d()
                },
                "amqp.janus_exchange must not be empty",
            ),
            (
                AmqpOptions {
                    janus_exchange_type: "headers".into(),
                    ..d()
                },
                "amqp.janus_exchange_type must be",
            ),
            (
                AmqpOptions {
                    to_janus: "".into(),
                    ..d()
                },
                "amqp.to_janus must be a name of 1 to 255 bytes",
            ),
            (
                AmqpOptions {
                    from_janus: "x".repeat(256),
                    ..d()
                },
                "amqp.from_janus must be a name",
            ),
            (
                AmqpOptions {
                    reply_queue: Some("to-janus".into()),
                    ..d()
                },
                "amqp.reply_queue must not be the queue Janus reads",
            ),
            (
                AmqpOptions {
                    reply_queue: Some("amq.gen-x".into()),
                    ..d()
                },
                "amqp.reply_queue must not start with",
            ),
            (
                AmqpOptions { prefetch: 0, ..d() },
                "amqp.prefetch must be between 1 and 65535, got 0",
            ),
            (
                AmqpOptions {
                    max_message_bytes: 0,
                    ..d()
                },
                "amqp.max_message_bytes must be between 1 and 1073741824 (1 GiB), got 0",
            ),
            (
                AmqpOptions {
                    max_request_bytes: usize::MAX,
                    ..d()
                },
                "amqp.max_request_bytes must be between 1 and",
            ),
            (
                AmqpOptions {
                    heartbeat: Duration::ZERO,
                    ..d()
                },
                "amqp.heartbeat must be at least 1s",
            ),
            (
                AmqpOptions {
                    heartbeat: Duration::from_secs(u64::MAX),
                    ..d()
                },
                "amqp.heartbeat must be at most 65535s",
            ),
        ];
        for (o, want) in cases {
            let got = refused(o);
            assert!(got.contains(want), "{got:?} lacks {want:?}");
        }
    }

    #[test]
    fn options_deserialize_and_refuse_unknown_keys() {
        let o: AmqpOptions =
            serde_json::from_str(r#"{"to_janus":"in-2","heartbeat":"10s"}"#).unwrap();
        assert_eq!(o.to_janus, "in-2");
        assert_eq!(o.heartbeat, Duration::from_secs(10));
        assert!(serde_json::from_str::<AmqpOptions>(r#"{"admin":true}"#).is_err());
    }
}
