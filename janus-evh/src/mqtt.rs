//! The consumer of `mqttevh`'s messages.
//!
//! What Janus 1.1.2's `mqttevh` does (`src/events/janus_mqttevh.c`): it publishes each event
//! alone (no grouping) as one message on its base `topic` (`/janus/events`), or with
//! `addevent` on `<topic>/<type>` (`sessions`, `handles`, `jsep`, `webrtc`, `media`,
//! `plugins`, `transports`, `core`, `external`), adding an `eventtype` field; it also
//! publishes its own `{"event": "connected", ...}` on `<topic>/status` (and may leave a will
//! there). The consumer subscribes to `<topic>` and `<topic>/#`, skips `<topic>/status`, and
//! reads every other message as a delivery.
//!
//! While the consumer is disconnected (the broker restarted, a message over `max_message`),
//! what `mqttevh` publishes is lost: the subscription is QoS `qos` on a clean session.
//! [`ReceiverStats::connections`](crate::ReceiverStats::connections) counts subscriptions
//! made, first and again.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rumqttc::{AsyncClient, ConnectionError, Event, EventLoop, Packet, QoS, StateError};
use rumqttc::{SubscribeFilter, SubscribeReasonCode};

use crate::consumer::Consumer;
use crate::options::MqttEvhOptions;
use crate::receiver::{ListenError, Receiver, Sink};
use crate::stats::Counters;
use crate::stream::Source;
use crate::task::Task;

impl Receiver {
    /// Subscribes to what `mqttevh` publishes on a broker; returns once the broker
    /// acknowledged the subscription (or with an error, within `connect_timeout`).
    ///
    /// On the Janus side (`janus.eventhandler.mqttevh.jcfg`, with `broadcast = true` in the
    /// `events` section of `janus.jcfg`):
    ///
    /// ```text
    /// general: {
    ///     enabled = true
    ///     events = "all"
    ///     json = "compact"
    ///     url = "tcp://127.0.0.1:1883"
    ///     client_id = "janus-1-evh"
    ///     topic = "/janus/events"
    ///     addevent = true          # one sub-topic per event type
    /// }
    /// ```
    pub async fn consume_mqtt(&self, options: &MqttEvhOptions) -> Result<Consumer, ListenError> {
        options.validate()?;
        let endpoint = format!("mqtt://{}:{}{}", options.host, options.port, options.topic);
        let client_id = options.client_id.clone().unwrap_or_else(unique_client_id);
        let mut m = rumqttc::MqttOptions::new(client_id, options.host.clone(), options.port);
        m.set_keep_alive(options.keep_alive)
            .set_clean_session(true)
            // Room for the PUBLISH header and topic around the largest message.
            .set_max_packet_size(options.max_message + options.topic.len() + 1024, 64 * 1024);
        if let (Some(user), Some(password)) = (&options.username, &options.password) {
            m.set_credentials(user.clone(), password.expose());
        }
        let (client, mut events) = AsyncClient::new(m, 16);
        let qos = match options.qos {
            0 => QoS::AtMostOnce,
            1 => QoS::AtLeastOnce,
            _ => QoS::ExactlyOnce,
        };
        let topic = options.topic.clone();
        let filters = vec![
            SubscribeFilter::new(topic.clone(), qos),
            SubscribeFilter::new(format!("{topic}/#"), qos),
        ];
        let sink = self.sink();
        let first = handshake(&mut events, &client, &filters, &sink, &topic);
        match tokio::time::timeout(options.connect_timeout, first).await {
            Ok(Ok(())) => {}
            Ok(Err(reason)) => return Err(ListenError::Connect { endpoint, reason }),
            Err(_) => {
                return Err(ListenError::Connect {
                    endpoint,
                    reason: format!("no subscription within {:?}", options.connect_timeout),
                })
            }
        }
        let delay = options.reconnect_delay;
        let task =
            Task::spawn(|stopped| consume(events, client, filters, sink, topic, delay, stopped));
        Ok(Consumer::new(endpoint, task))
    }
}

fn unique_client_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!(
        "janus-evh-{}-{nanos:x}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Connects and subscribes; messages arriving meanwhile are delivered.
async fn handshake(
    events: &mut EventLoop,
    client: &AsyncClient,
    filters: &[SubscribeFilter],
    sink: &Sink,
    topic: &str,
) -> Result<(), String> {
    loop {
        match events.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => break,
            Ok(_) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    client
        .subscribe_many(filters.to_vec())
        .await
        .map_err(|e| format!("cannot subscribe: {e}"))?;
    loop {
        match events.poll().await {
            Ok(Event::Incoming(Packet::SubAck(ack))) => {
                if ack
                    .return_codes
                    .iter()
                    .any(|c| matches!(c, SubscribeReasonCode::Failure))
                {
                    return Err(format!("the broker refused the subscription to {topic}"));
                }
                Counters::add(&sink.counters.connections, 1);
                return Ok(());
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                on_message(sink, topic, &p.topic, &p.payload)
            }
            Ok(_) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
}

async fn consume(
    mut events: EventLoop,
    client: AsyncClient,
    filters: Vec<SubscribeFilter>,
    sink: Sink,
    topic: String,
    reconnect_delay: Duration,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
) {
    loop {
        let polled = tokio::select! {
            _ = &mut stopped => break,
            polled = events.poll() => polled,
        };
        match polled {
            Ok(Event::Incoming(Packet::Publish(p))) => {
                on_message(&sink, &topic, &p.topic, &p.payload)
            }
            // A new connection (clean session): subscribe again.
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                if let Err(e) = client.try_subscribe_many(filters.clone()) {
                    tracing::warn!(error = %e, "mqttevh consumer: cannot subscribe again");
                }
            }
            Ok(Event::Incoming(Packet::SubAck(_))) => Counters::add(&sink.counters.connections, 1),
            Ok(_) => {}
            Err(e) => {
                if too_large(&e) {
                    Counters::add(&sink.counters.oversized, 1);
                }
                tracing::warn!(error = %e, ?reconnect_delay, "mqttevh consumer: connection lost, connecting again");
                tokio::select! {
                    _ = &mut stopped => break,
                    _ = tokio::time::sleep(reconnect_delay) => {}
                }
            }
        }
    }
    // Polite when the broker is there; the connection closes with the event loop anyway.
    let _ = client.try_disconnect();
    let _ = tokio::time::timeout(Duration::from_millis(200), events.poll()).await;
}

fn too_large(e: &ConnectionError) -> bool {
    matches!(
        e,
        ConnectionError::MqttState(StateError::Deserialization(
            rumqttc::mqttbytes::Error::PayloadSizeLimitExceeded(_)
        ))
    )
}

fn on_message(sink: &Sink, base: &str, topic: &str, payload: &[u8]) {
    if topic.strip_prefix(base) == Some("/status") {
        return;
    }
    let Ok(text) = std::str::from_utf8(payload) else {
        Counters::add(&sink.counters.garbage, 1);
        return;
    };
    let source = Source::Mqtt {
        topic: topic.to_owned(),
    };
    if let Err(e) = sink.deliver(text, &source) {
        tracing::debug!(topic, error = %e, "mqttevh message refused");
    }
}
