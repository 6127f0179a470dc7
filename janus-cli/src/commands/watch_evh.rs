//! `watch`'s second source: Janus' event handlers. The tool listens (`--evh-http` for
//! `sampleevh`, `--evh-ws` for `wsevh`) or reads a broker (`--evh-mqtt` for `mqttevh`,
//! `--evh-amqp` for `rabbitmqevh`), any of them at once, with `janus_client::evh`'s receiver,
//! and prints every event: its type as the event's kind, its session as the id, and as the
//! data the listener or consumer it came through (`via`) and the event as Janus sent it
//! (`event`: emitter, ids, body).

use janus_client::evh::{
    types, AmqpEvhOptions, Consumer, EvhItem, EvhStream, HttpOptions, Listener, MqttEvhOptions,
    Receiver, ReceiverOptions, WsOptions,
};
use janus_client::Secret;
use serde_json::Value;
use std::time::Duration;

use crate::args::WatchSourceArgs;
use crate::commands::watch::WatchEvent;
use crate::failure::{Exit, Failure};

/// The receiver, its listeners and its stream.
pub struct EvhSource {
    /// Kept for as long as the listeners feed the stream.
    _receiver: Receiver,
    listeners: Vec<Listener>,
    consumers: Vec<Consumer>,
    events: EvhStream,
}

impl EvhSource {
    /// Binds the listeners `args` asks for; says on stderr where each listens.
    pub async fn open(args: &WatchSourceArgs) -> Result<EvhSource, Failure> {
        let receiver = Receiver::new(&ReceiverOptions::default())
            .map_err(|e| Failure::usage(e.to_string()))?;
        let events = receiver.events();
        let mut listeners = Vec::new();
        if let Some(bind) = args.evh_http {
            let mut options = HttpOptions::new(bind);
            if let Some(path) = &args.evh_path {
                options = options.with_path(path.clone());
            }
            if let Some(auth) = &args.evh_auth {
                let (user, password) = user_password("--evh-auth", auth)?;
                options = options.with_basic_auth(user, password);
            }
            let listener = receiver
                .listen_http(&options)
                .await
                .map_err(listen_failure)?;
            eprintln!(
                "janus-cli: listening for sampleevh on http://{}{} (Ctrl-C to stop)",
                listener.local_addr(),
                args.evh_path.as_deref().unwrap_or("/")
            );
            listeners.push(listener);
        }
        if let Some(bind) = args.evh_ws {
            let listener = receiver
                .listen_ws(&WsOptions::new(bind))
                .await
                .map_err(listen_failure)?;
            eprintln!(
                "janus-cli: listening for wsevh on ws://{}/ (Ctrl-C to stop)",
                listener.local_addr()
            );
            listeners.push(listener);
        }
        let mut consumers = Vec::new();
        if let Some(addr) = &args.evh_mqtt {
            let (host, port) = host_port("--evh-mqtt", addr)?;
            let mut options = MqttEvhOptions::new(host, port).with_topic(&args.evh_mqtt_topic);
            if let Some(auth) = &args.evh_mqtt_auth {
                let (user, password) = user_password("--evh-mqtt-auth", auth)?;
                options = options.with_credentials(user, password);
            }
            let consumer = receiver
                .consume_mqtt(&options)
                .await
                .map_err(listen_failure)?;
            eprintln!(
                "janus-cli: reading mqttevh's {}/# on mqtt://{addr} (Ctrl-C to stop)",
                args.evh_mqtt_topic
            );
            consumers.push(consumer);
        }
        if let Some(addr) = &args.evh_amqp {
            let (host, port) = host_port("--evh-amqp", addr)?;
            let mut options = AmqpEvhOptions::new(host, port);
            if let Some(exchange) = &args.evh_amqp_exchange {
                options = options.with_exchange(
                    exchange,
                    &args.evh_amqp_exchange_type,
                    &args.evh_amqp_route_key,
                );
            } else {
                options.route_key = args.evh_amqp_route_key.clone();
            }
            options.vhost = args.evh_amqp_vhost.clone();
            if let Some(auth) = &args.evh_amqp_auth {
                let (user, password) = user_password("--evh-amqp-auth", auth)?;
                options.username = Some(user.to_owned());
                options.password = Some(Secret::new(password));
            }
            let consumer = receiver
                .consume_amqp(&options)
                .await
                .map_err(listen_failure)?;
            eprintln!("janus-cli: reading rabbitmqevh's events on amqp://{addr} (Ctrl-C to stop)");
            consumers.push(consumer);
        }
        Ok(EvhSource {
            _receiver: receiver,
            listeners,
            consumers,
            events,
        })
    }

    /// The next event; `Err` when the stream ended.
    pub async fn next(&mut self) -> Result<WatchEvent, String> {
        match self.events.recv().await {
            Some(EvhItem::Event(received)) => Ok(WatchEvent {
                source: "evh",
                id: received.event.session_id.map(|s| s.0),
                kind: type_name(received.event.event_type),
                data: serde_json::json!({
                    "via": received.source.to_string(),
                    "event": received.event.raw,
                }),
            }),
            Some(EvhItem::Lagged { missed }) => Ok(WatchEvent {
                source: "evh",
                id: None,
                kind: "lagged",
                data: serde_json::json!({ "missed": missed }),
            }),
            Some(EvhItem::Closed) | None => Err("the event-handler receiver stopped".into()),
            Some(other) => Ok(WatchEvent {
                source: "evh",
                id: None,
                kind: "unknown",
                data: Value::String(format!("{other:?}")),
            }),
        }
    }

    /// Stops the listeners (their ports are free once this returns) and the consumers,
    /// within `limit`.
    pub async fn close(self, limit: Duration) {
        let listeners = futures::future::join_all(self.listeners.into_iter().map(Listener::stop));
        let consumers = futures::future::join_all(self.consumers.into_iter().map(Consumer::stop));
        let _ = tokio::time::timeout(limit, futures::future::join(listeners, consumers)).await;
    }
}

/// `HOST:PORT` (a name, an IPv4 address or a bracketed IPv6 one), or a usage error naming
/// `flag`.
fn host_port<'a>(flag: &str, addr: &'a str) -> Result<(&'a str, u16), Failure> {
    let parsed = addr.rsplit_once(':').and_then(|(host, port)| {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port = port.parse::<u16>().ok().filter(|p| *p != 0)?;
        (!host.is_empty()).then_some((host, port))
    });
    parsed.ok_or_else(|| Failure::usage(format!("{flag} takes HOST:PORT, got {addr:?}")))
}

/// `USER:PASSWORD`, or a usage error naming `flag`.
fn user_password<'a>(flag: &str, auth: &'a str) -> Result<(&'a str, &'a str), Failure> {
    auth.split_once(':')
        .ok_or_else(|| Failure::usage(format!("{flag} takes USER:PASSWORD")))
}

/// A listener that cannot start: a bad option is a usage error, a port that cannot be bound a
/// connection error.
fn listen_failure(e: janus_client::evh::ListenError) -> Failure {
    let exit = match e {
        janus_client::evh::ListenError::Config(_) => Exit::Usage,
        _ => Exit::Connection,
    };
    Failure {
        exit,
        message: format!("cannot listen for Janus' event handlers: {e}"),
    }
}

/// The name of an event type (`janus_client::evh::types`).
fn type_name(t: u32) -> &'static str {
    match t {
        types::SESSION => "session",
        types::HANDLE => "handle",
        types::EXTERNAL => "external",
        types::JSEP => "jsep",
        types::WEBRTC => "webrtc",
        types::MEDIA => "media",
        types::PLUGIN => "plugin",
        types::TRANSPORT => "transport",
        types::CORE => "core",
        _ => "other",
    }
}
