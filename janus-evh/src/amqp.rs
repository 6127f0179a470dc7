//! The consumer of `rabbitmqevh`'s messages.
//!
//! What Janus 1.1.2's `rabbitmqevh` does (`src/events/janus_rabbitmqevh.c`): it publishes each
//! event, or with `grouping` (the default) up to 100 at once as a JSON array, with
//! `content_type: application/json`, to its `exchange` (declared not durable, not auto-deleted,
//! of type `exchange_type`, `fanout` by default) with the routing key `route_key`; without an
//! `exchange`, to the nameless exchange, that is into the queue named `route_key` (declared
//! when `declare_outgoing_queue` is on, the default). The consumer declares the same exchange,
//! binds a queue of its own to it and reads it, or reads the `route_key` queue; it
//! acknowledges each message once handed over, so at most `prefetch` wait in memory, and after
//! a lost connection it connects and subscribes again by itself. While it is away, messages to
//! its own queue are lost (the queue goes with the connection); the `route_key` queue keeps
//! them.

use std::time::Duration;

use futures::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicQosOptions, ExchangeDeclareOptions,
    QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::uri::{AMQPAuthority, AMQPUri, AMQPUserInfo};
use lapin::{Connection, ConnectionProperties, Consumer as AmqpStream, ExchangeKind};

use crate::consumer::Consumer;
use crate::options::AmqpEvhOptions;
use crate::receiver::{ListenError, Receiver, Sink};
use crate::stats::Counters;
use crate::stream::Source;
use crate::task::Task;

impl Receiver {
    /// Consumes what `rabbitmqevh` publishes; returns once the first subscription is made
    /// (or with an error, within `connect_timeout`).
    ///
    /// On the Janus side (`janus.eventhandler.rabbitmqevh.jcfg`, with `broadcast = true` in
    /// the `events` section of `janus.jcfg`):
    ///
    /// ```text
    /// general: {
    ///     enabled = true
    ///     events = "all"
    ///     grouping = true
    ///     json = "compact"
    ///     host = "127.0.0.1"
    ///     port = 5672
    ///     exchange = "janus-exchange"
    ///     exchange_type = "fanout"
    ///     route_key = "janus-events"
    ///     declare_outgoing_queue = false   # the consumer binds a queue of its own
    /// }
    /// ```
    pub async fn consume_amqp(&self, options: &AmqpEvhOptions) -> Result<Consumer, ListenError> {
        options.validate()?;
        let endpoint = format!(
            "amqp://{}:{}/{} {}",
            options.host,
            options.port,
            options.vhost,
            match &options.exchange {
                Some(e) => format!("exchange {e:?} key {:?}", options.route_key),
                None => format!("queue {:?}", options.route_key),
            }
        );
        let setup = Setup::new(options);
        let sink = self.sink();
        let first = match tokio::time::timeout(options.connect_timeout, setup.subscribe()).await {
            Ok(Ok(first)) => first,
            Ok(Err(reason)) => return Err(ListenError::Connect { endpoint, reason }),
            Err(_) => {
                return Err(ListenError::Connect {
                    endpoint,
                    reason: format!("no subscription within {:?}", options.connect_timeout),
                })
            }
        };
        Counters::add(&sink.counters.connections, 1);
        let task = Task::spawn(|stopped| consume(setup, first, sink, stopped));
        Ok(Consumer::new(endpoint, task))
    }
}

/// What it takes to subscribe, again after a lost connection.
struct Setup {
    uri: AMQPUri,
    exchange: Option<String>,
    kind: ExchangeKind,
    route_key: String,
    prefetch: u16,
    max_message: usize,
    connect_timeout: Duration,
    reconnect_delay: Duration,
}

impl Setup {
    fn new(o: &AmqpEvhOptions) -> Setup {
        let mut uri = AMQPUri::default();
        uri.authority = AMQPAuthority {
            userinfo: match (&o.username, &o.password) {
                (Some(user), Some(password)) => AMQPUserInfo {
                    username: user.clone(),
                    password: password.expose().to_owned(),
                },
                _ => uri.authority.userinfo.clone(),
            },
            host: o.host.clone(),
            port: o.port,
        };
        uri.vhost = o.vhost.clone();
        Setup {
            uri,
            exchange: o.exchange.clone(),
            kind: match o.exchange_type.as_str() {
                "direct" => ExchangeKind::Direct,
                "topic" => ExchangeKind::Topic,
                "headers" => ExchangeKind::Headers,
                _ => ExchangeKind::Fanout,
            },
            route_key: o.route_key.clone(),
            prefetch: o.prefetch,
            max_message: o.max_message,
            connect_timeout: o.connect_timeout,
            reconnect_delay: o.reconnect_delay,
        }
    }

    /// Connects, declares and binds as configured, and starts consuming.
    async fn subscribe(&self) -> Result<(Connection, AmqpStream), String> {
        let props = ConnectionProperties::default().with_connection_name("janus-evh".into());
        let connection = Connection::connect_uri(self.uri.clone(), props)
            .await
            .map_err(|e| format!("cannot connect: {e}"))?;
        let channel = connection
            .create_channel()
            .await
            .map_err(|e| format!("cannot open a channel: {e}"))?;
        channel
            .basic_qos(self.prefetch, BasicQosOptions::default())
            .await
            .map_err(|e| format!("cannot set the prefetch: {e}"))?;
        let queue = match &self.exchange {
            Some(exchange) => {
                // As Janus declares it: not durable, not auto-deleted.
                channel
                    .exchange_declare(
                        exchange.as_str().into(),
                        self.kind.clone(),
                        ExchangeDeclareOptions::default(),
                        FieldTable::default(),
                    )
                    .await
                    .map_err(|e| {
                        format!("cannot declare the exchange {exchange:?} as Janus does: {e}")
                    })?;
                let queue = channel
                    .queue_declare(
                        "".into(),
                        QueueDeclareOptions {
                            exclusive: true,
                            auto_delete: true,
                            ..Default::default()
                        },
                        FieldTable::default(),
                    )
                    .await
                    .map_err(|e| format!("cannot declare a queue: {e}"))?;
                let name = queue.name().clone();
                channel
                    .queue_bind(
                        name.clone(),
                        exchange.as_str().into(),
                        self.route_key.as_str().into(),
                        QueueBindOptions::default(),
                        FieldTable::default(),
                    )
                    .await
                    .map_err(|e| format!("cannot bind a queue to {exchange:?}: {e}"))?;
                name
            }
            None => {
                // As Janus declares it (declare_outgoing_queue): nothing set.
                let queue = channel
                    .queue_declare(
                        self.route_key.as_str().into(),
                        QueueDeclareOptions::default(),
                        FieldTable::default(),
                    )
                    .await
                    .map_err(|e| {
                        format!(
                            "cannot declare the queue {:?} as Janus does: {e}",
                            self.route_key
                        )
                    })?;
                queue.name().clone()
            }
        };
        let stream = channel
            .basic_consume(
                queue,
                "".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(|e| format!("cannot consume: {e}"))?;
        Ok((connection, stream))
    }
}

async fn consume(
    setup: Setup,
    first: (Connection, AmqpStream),
    sink: Sink,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
) {
    let mut current = Some(first);
    loop {
        if let Some((connection, mut stream)) = current.take() {
            loop {
                let next = tokio::select! {
                    _ = &mut stopped => {
                        let _ = connection.close(200, "stopped".into()).await;
                        return;
                    }
                    next = stream.next() => next,
                };
                match next {
                    Some(Ok(delivery)) => {
                        on_message(&sink, &setup, delivery.routing_key.as_str(), &delivery.data);
                        if let Err(e) = delivery.acker.ack(BasicAckOptions::default()).await {
                            tracing::warn!(error = %e, "rabbitmqevh consumer: cannot acknowledge");
                            break;
                        }
                    }
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "rabbitmqevh consumer: connection lost");
                        break;
                    }
                    None => break,
                }
            }
        }
        tokio::select! {
            _ = &mut stopped => return,
            _ = tokio::time::sleep(setup.reconnect_delay) => {}
        }
        let again = tokio::select! {
            _ = &mut stopped => return,
            again = tokio::time::timeout(setup.connect_timeout, setup.subscribe()) => again,
        };
        match again {
            Ok(Ok(subscribed)) => {
                Counters::add(&sink.counters.connections, 1);
                current = Some(subscribed);
            }
            Ok(Err(reason)) => {
                tracing::warn!(reason, "rabbitmqevh consumer: cannot subscribe again")
            }
            Err(_) => tracing::warn!("rabbitmqevh consumer: no subscription in time"),
        }
    }
}

fn on_message(sink: &Sink, setup: &Setup, routing_key: &str, data: &[u8]) {
    if data.len() > setup.max_message {
        Counters::add(&sink.counters.oversized, 1);
        return;
    }
    let Ok(text) = std::str::from_utf8(data) else {
        Counters::add(&sink.counters.garbage, 1);
        return;
    };
    let source = Source::Amqp {
        routing_key: routing_key.to_owned(),
    };
    if let Err(e) = sink.deliver(text, &source) {
        tracing::debug!(routing_key, error = %e, "rabbitmqevh message refused");
    }
}
