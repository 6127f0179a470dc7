//! One MQTT connection: a task that polls rumqttc's event loop and hands what arrives to
//! [`MqttTransport::recv`] through a bounded queue, and a task that writes requests into
//! rumqttc's bounded request queue, in order.
//!
//! Backpressure: when the client does not take messages (`queue_capacity` of them wait),
//! the event loop task stops polling, so nothing more is read from the broker (TCP pushes
//! back on it; the broker holds what it queues for this client). [`MqttTransport::send`]
//! never waits: it hands the request to the writer's queue (at most 16 × `queue_capacity`;
//! past that the request fails at once, safe to retry). The writer waits for room in
//! rumqttc's queue, which the event loop empties as the broker acknowledges; so the client
//! keeps taking messages while requests wait, and the queues cannot wait on each other.
//! A request whose caller gave up (its deadline passed) while it waited is not sent.

use async_trait::async_trait;
use bytes::Bytes;
use janus_core::{Error, OutgoingMessage, SessionOwnership, Transport, TransportEvent};
use rumqttc::v5::mqttbytes::v5::{Packet as Packet5, PublishProperties};
use rumqttc::v5::mqttbytes::QoS as QoS5;
use std::collections::VecDeque;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::debug;

use crate::options::MqttOptions;

/// What the event loop task hands over.
#[derive(Debug)]
pub(crate) enum Inbound {
    /// The payload of one PUBLISH from Janus' topics.
    Message(Bytes),
    /// The connection ended; the task stops after this.
    Closed(Error),
    /// A request that could not be queued before its deadline (made by `send`).
    Failed { transaction: String, error: Error },
}

/// The client half of one rumqttc connection, for either protocol version.
#[derive(Clone)]
pub(crate) enum Publisher {
    V311(rumqttc::AsyncClient),
    V5(rumqttc::v5::AsyncClient),
}

impl Publisher {
    pub(crate) async fn publish(
        &self,
        topic: &str,
        qos: u8,
        payload: Bytes,
        v5_reply: Option<(&str, &str)>,
    ) -> Result<(), ()> {
        match self {
            Publisher::V311(c) => c
                .publish_bytes(topic, qos311(qos), false, payload)
                .await
                .map_err(|_| ()),
            Publisher::V5(c) => {
                let properties = PublishProperties {
                    response_topic: v5_reply.map(|(t, _)| t.to_string()),
                    correlation_data: v5_reply.map(|(_, c)| Bytes::copy_from_slice(c.as_bytes())),
                    ..Default::default()
                };
                c.publish_bytes_with_properties(topic, qos5(qos), false, payload, properties)
                    .await
                    .map_err(|_| ())
            }
        }
    }

    fn try_disconnect(&self) {
        // Fails only when the queue is full or the event loop is gone: the connection
        // is then dropped without a DISCONNECT, which the broker handles the same.
        match self {
            Publisher::V311(c) => drop(c.try_disconnect()),
            Publisher::V5(c) => drop(c.try_disconnect()),
        }
    }
}

pub(crate) fn qos311(qos: u8) -> rumqttc::QoS {
    match qos {
        0 => rumqttc::QoS::AtMostOnce,
        1 => rumqttc::QoS::AtLeastOnce,
        _ => rumqttc::QoS::ExactlyOnce,
    }
}

pub(crate) fn qos5(qos: u8) -> QoS5 {
    match qos {
        0 => QoS5::AtMostOnce,
        1 => QoS5::AtLeastOnce,
        _ => QoS5::ExactlyOnce,
    }
}

/// A connection to Janus through an MQTT broker.
///
/// Made by [`MqttConnector`](crate::MqttConnector). Requests go to the request topic;
/// everything on the response topic (and, with MQTT 5, this client's reply topic) comes
/// back through [`recv`](Transport::recv): the core keeps what belongs to its transactions,
/// sessions and handles, and drops and counts the rest (other clients' traffic).
pub struct MqttTransport {
    publisher: Publisher,
    incoming: mpsc::Receiver<Inbound>,
    /// Messages that came before this transport was handed over (during the probe), and
    /// requests that could not be queued: given out by `recv` first.
    stash: VecDeque<Inbound>,
    outgoing: mpsc::Sender<Outgoing>,
    driver: TaskGuard,
    /// Kept for its `Drop`: the writer ends with the transport.
    _writer: TaskGuard,
    driver_done: bool,
    request_topic: String,
    max_message_bytes: usize,
    max_request_bytes: usize,
}

/// One request waiting for the writer.
pub(crate) struct Outgoing {
    transaction: String,
    payload: Bytes,
    deadline: Option<Instant>,
}

impl std::fmt::Debug for MqttTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttTransport")
            .field("request_topic", &self.request_topic)
            .finish()
    }
}

impl MqttTransport {
    /// The largest number of requests waiting for the writer, for `queue_capacity`.
    pub(crate) fn outgoing_bound(queue_capacity: usize) -> usize {
        queue_capacity.saturating_mul(16)
    }

    pub(crate) fn new(
        publisher: Publisher,
        incoming: mpsc::Receiver<Inbound>,
        early: VecDeque<Inbound>,
        driver: TaskGuard,
        options: &MqttOptions,
        reply_topic: Option<String>,
    ) -> Self {
        let (outgoing, queued) = mpsc::channel(Self::outgoing_bound(options.queue_capacity));
        let writer = TaskGuard(tokio::spawn(write(
            publisher.clone(),
            queued,
            options.request_topic.clone(),
            options.qos,
            reply_topic,
        )));
        MqttTransport {
            publisher,
            incoming,
            stash: early,
            outgoing,
            driver,
            _writer: writer,
            driver_done: false,
            request_topic: options.request_topic.clone(),
            max_message_bytes: options.max_message_bytes,
            // Room for the fixed header, the topic and MQTT 5 properties.
            max_request_bytes: MqttOptions::MAX_MESSAGE_BYTES
                - 4096
                - options.request_topic.len()
                - options.response_topic.len(),
        }
    }

    fn convert(&self, inbound: Inbound) -> Result<TransportEvent, Error> {
        match inbound {
            Inbound::Message(payload) => {
                if payload.len() > self.max_message_bytes {
                    return Ok(TransportEvent::Malformed {
                        reason: format!(
                            "an MQTT message of {} bytes is over mqtt.max_message_bytes ({})",
                            payload.len(),
                            self.max_message_bytes
                        ),
                    });
                }
                match String::from_utf8(Vec::from(payload)) {
                    Ok(text) => Ok(TransportEvent::Frame(text)),
                    Err(_) => Ok(TransportEvent::Malformed {
                        reason: "an MQTT message that is not UTF-8 text".into(),
                    }),
                }
            }
            Inbound::Closed(e) => Err(e),
            Inbound::Failed { transaction, error } => {
                Ok(TransportEvent::RequestFailed { transaction, error })
            }
        }
    }
}

#[async_trait]
impl Transport for MqttTransport {
    async fn send(&mut self, msg: OutgoingMessage) -> Result<(), Error> {
        if msg.json.len() > self.max_request_bytes {
            self.stash.push_back(Inbound::Failed {
                transaction: msg.transaction,
                error: Error::limit(
                    "mqtt.max_message_bytes",
                    self.max_request_bytes as u64,
                    "a request over MQTT's largest packet was not sent",
                ),
            });
            return Ok(());
        }
        let request = Outgoing {
            transaction: msg.transaction,
            payload: Bytes::from(msg.json),
            deadline: msg.deadline,
        };
        match self.outgoing.try_send(request) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(request)) => {
                debug!(transaction = %request.transaction, "MQTT request queue full");
                self.stash.push_back(Inbound::Failed {
                    transaction: request.transaction,
                    error: Error::limit(
                        "mqtt.queue_capacity",
                        (self.outgoing.max_capacity() / 16) as u64,
                        "16 × mqtt.queue_capacity requests wait for the broker already; this one was not sent (safe to retry)",
                    ),
                });
                Ok(())
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(Error::transport_closed(
                "the MQTT connection has ended",
                true,
            )),
        }
    }

    /// Janus sees all of its MQTT traffic as one transport session: a broker connection
    /// owns no session, and after a reconnect the client checks its sessions with a
    /// keepalive instead of claiming them.
    fn session_ownership(&self) -> SessionOwnership {
        SessionOwnership::Shared
    }

    async fn recv(&mut self) -> Result<TransportEvent, Error> {
        if let Some(inbound) = self.stash.pop_front() {
            return self.convert(inbound);
        }
        if self.driver_done {
            return Err(Error::transport_closed(
                "the MQTT event loop has ended",
                false,
            ));
        }
        match self.incoming.recv().await {
            Some(inbound) => self.convert(inbound),
            None => {
                self.driver_done = true;
                Err(Error::transport_closed(
                    "the MQTT event loop has ended",
                    false,
                ))
            }
        }
    }

    async fn close(&mut self) {
        self.publisher.try_disconnect();
        // The event loop writes the DISCONNECT and ends; don't wait long for it.
        let _ = tokio::time::timeout(Duration::from_secs(1), &mut self.driver.0).await;
    }
}

/// A task that ends when this value is dropped: the event loop and writer tasks live
/// exactly as long as their transport (or the connect attempt that started them).
pub(crate) struct TaskGuard(pub(crate) JoinHandle<()>);

impl Drop for TaskGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Writes queued requests into rumqttc's queue, in order, waiting for room there; skips
/// those whose caller gave up meanwhile. Ends when the transport or the event loop does.
async fn write(
    publisher: Publisher,
    mut queued: mpsc::Receiver<Outgoing>,
    topic: String,
    qos: u8,
    reply_topic: Option<String>,
) {
    while let Some(request) = queued.recv().await {
        if request.deadline.is_some_and(|d| d <= Instant::now()) {
            continue;
        }
        let reply = reply_topic
            .as_deref()
            .map(|t| (t, request.transaction.as_str()));
        if publisher
            .publish(&topic, qos, request.payload, reply)
            .await
            .is_err()
        {
            return;
        }
    }
}

/// Polls a 3.1.1 event loop until the connection ends, handing PUBLISH payloads over.
pub(crate) async fn drive_v311(
    mut events: rumqttc::EventLoop,
    tx: mpsc::Sender<Inbound>,
    endpoint: String,
) {
    use rumqttc::{Event, Outgoing, Packet};
    loop {
        let inbound = match events.poll().await {
            Ok(Event::Incoming(Packet::Publish(p))) => Inbound::Message(p.payload),
            Ok(Event::Incoming(Packet::Disconnect)) => Inbound::Closed(Error::transport_closed(
                format!("the MQTT broker at {endpoint} disconnected the client"),
                false,
            )),
            Ok(Event::Outgoing(Outgoing::Disconnect)) => return,
            Ok(_) => continue,
            Err(e) => Inbound::Closed(
                Error::transport_closed(format!("MQTT connection to {endpoint} lost: {e}"), false)
                    .with_source(e),
            ),
        };
        let last = matches!(inbound, Inbound::Closed(_));
        if tx.send(inbound).await.is_err() || last {
            return;
        }
    }
}

/// Polls an MQTT 5 event loop until the connection ends, handing PUBLISH payloads over.
pub(crate) async fn drive_v5(
    mut events: rumqttc::v5::EventLoop,
    tx: mpsc::Sender<Inbound>,
    endpoint: String,
) {
    use rumqttc::v5::Event;
    use rumqttc::Outgoing;
    loop {
        let inbound = match events.poll().await {
            Ok(Event::Incoming(Packet5::Publish(p))) => Inbound::Message(p.payload),
            Ok(Event::Incoming(Packet5::Disconnect(d))) => {
                Inbound::Closed(Error::transport_closed(
                    format!(
                        "the MQTT broker at {endpoint} disconnected the client ({:?})",
                        d.reason_code
                    ),
                    false,
                ))
            }
            Ok(Event::Outgoing(Outgoing::Disconnect)) => return,
            Ok(_) => continue,
            Err(e) => Inbound::Closed(
                Error::transport_closed(format!("MQTT connection to {endpoint} lost: {e}"), false)
                    .with_source(e),
            ),
        };
        let last = matches!(inbound, Inbound::Closed(_));
        if tx.send(inbound).await.is_err() || last {
            return;
        }
    }
}

pub(crate) fn connect_error_v311(e: rumqttc::ConnectionError, endpoint: &str) -> Error {
    use rumqttc::{ConnectReturnCode as C, ConnectionError as E};
    match &e {
        E::ConnectionRefused(code @ (C::BadUserNamePassword | C::NotAuthorized)) => {
            Error::credentials_refused(format!(
                "the MQTT broker at {endpoint} refused the credentials ({code:?}): check the user name and password (mqtt://user:pass@host, or mqtt.username and mqtt.password)"
            ))
        }
        E::ConnectionRefused(code) => Error::transport(format!(
            "the MQTT broker at {endpoint} refused the connection ({code:?})"
        )),
        E::Io(_) | E::NetworkTimeout => Error::transport(format!(
            "cannot reach the MQTT broker at {endpoint}: {e}"
        ))
        .with_source(e),
        E::Tls(_) => Error::transport(format!(
            "TLS with the MQTT broker at {endpoint} failed: {e} (a plain MQTT port wants mqtt://, not mqtts://)"
        ))
        .with_source(e),
        _ => Error::transport(format!("MQTT connection to {endpoint} failed: {e}")).with_source(e),
    }
}

pub(crate) fn connect_error_v5(e: rumqttc::v5::ConnectionError, endpoint: &str) -> Error {
    use rumqttc::v5::mqttbytes::v5::ConnectReturnCode as C;
    use rumqttc::v5::ConnectionError as E;
    match &e {
        E::ConnectionRefused(code @ (C::BadUserNamePassword | C::NotAuthorized)) => {
            Error::credentials_refused(format!(
                "the MQTT broker at {endpoint} refused the credentials ({code:?}): check the user name and password (mqtt://user:pass@host, or mqtt.username and mqtt.password)"
            ))
        }
        E::ConnectionRefused(code) => Error::transport(format!(
            "the MQTT broker at {endpoint} refused the connection ({code:?})"
        )),
        E::Io(_) | E::Timeout(_) => Error::transport(format!(
            "cannot reach the MQTT broker at {endpoint}: {e}"
        ))
        .with_source(e),
        E::Tls(_) => Error::transport(format!(
            "TLS with the MQTT broker at {endpoint} failed: {e} (a plain MQTT port wants mqtt://, not mqtts://)"
        ))
        .with_source(e),
        _ => Error::transport(format!("MQTT connection to {endpoint} failed: {e}")).with_source(e),
    }
}
