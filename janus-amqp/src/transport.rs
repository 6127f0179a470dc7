//! One connection to the broker: requests published to Janus's queue, replies and events
//! read from the client's own queue.

use async_trait::async_trait;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use janus_core::{Error, OutgoingMessage, SessionOwnership, Transport, TransportEvent};
use lapin::options::{BasicAckOptions, BasicPublishOptions};
use lapin::types::ShortString;
use lapin::Acker;
use lapin::Confirmation;
use lapin::{BasicProperties, Channel, Connection, Consumer};
use std::collections::VecDeque;
use std::time::Duration;
use tokio::sync::mpsc;
use tracing::{debug, trace, warn};

use crate::AmqpOptions;

/// What a publish came to: the request, and what became of it.
type Confirmed = (Publish, Outcome);

/// What became of one publish.
enum Outcome {
    /// Its frames never reached the broker's connection (the channel is closing): it did
    /// not reach Janus either.
    NotSent(lapin::Error),
    /// Sent; the broker's confirmation (or why none will come). Boxed: a confirmation
    /// (which may hold a returned message) is large, and most of these wait in `confirms`.
    Sent(Box<Result<Confirmation, lapin::Error>>),
}

/// One request as published, kept until the broker confirms it (to publish it again when
/// no queue took it).
struct Publish {
    transaction: String,
    json: Vec<u8>,
    deadline: Option<tokio::time::Instant>,
}

/// How long a request without a deadline is published again before it fails.
const NO_DEADLINE_RETRY: Duration = Duration::from_secs(30);

/// How long a delivery may wait for its acknowledgement when no more come.
const ACK_DELAY: Duration = Duration::from_millis(20);

/// Deliveries not acknowledged yet: acknowledged together (`multiple`) once a quarter of the
/// prefetch came, or [`ACK_DELAY`] after the first of them, whichever is first. One
/// acknowledgement per delivery cost a frame, a wake-up of lapin's I/O thread and one of the
/// acknowledging task each; the broker needs them only to keep sending (it holds back past
/// the prefetch).
struct Unacked<A = Acker> {
    last: Option<A>,
    count: u16,
    /// A quarter of the prefetch (at least 1): the broker may send three quarters more
    /// while the acknowledgement is on its way.
    every: u16,
    due: std::pin::Pin<Box<tokio::time::Sleep>>,
}

impl<A> Unacked<A> {
    fn new(prefetch: u16) -> Self {
        Unacked {
            last: None,
            count: 0,
            every: (prefetch / 4).max(1),
            due: Box::pin(tokio::time::sleep(Duration::ZERO)),
        }
    }

    /// One more delivery; its acker when the lot is due now.
    fn add(&mut self, acker: A) -> Option<A> {
        if self.last.is_none() {
            self.due
                .as_mut()
                .reset(tokio::time::Instant::now() + ACK_DELAY);
        }
        self.last = Some(acker);
        self.count += 1;
        if self.count >= self.every {
            return self.take();
        }
        None
    }

    /// The acker of the last delivery, acknowledging every one before it too.
    fn take(&mut self) -> Option<A> {
        self.count = 0;
        self.last.take()
    }
}

/// A connection to RabbitMQ carrying the Janus API (or the Admin API).
///
/// Made by [`AmqpConnector`](crate::AmqpConnector). Requests go to the default exchange
/// with Janus's queue as routing key (`mandatory`, with publisher confirms). A request no
/// queue takes (Janus is not connected to the broker: it is starting, or reconnecting
/// after the broker restarted) never reached Janus: it is published again, backing off
/// to 500 ms, until its deadline, when the core times it out. Each carries its transaction as
/// `correlation_id` and the client's queue as `reply_to`. Every client on the exchange
/// receives every reply and event; the core names its transactions with a prefix of its
/// own, so those of other clients never match a request of this one: it drops and counts
/// them. Sessions are [`SessionOwnership::Shared`]: checked with a keepalive after a
/// reconnect, never claimed.
pub struct AmqpTransport {
    connection: Connection,
    channel: Channel,
    consumer: Consumer,
    request_queue: ShortString,
    reply_queue: ShortString,
    confirms: FuturesUnordered<BoxFuture<'static, Confirmed>>,
    /// Requests no queue took, being published again (aborted with the transport).
    retries: tokio::task::JoinSet<Option<TransportEvent>>,
    /// Whether a request was returned already (said once, as a warning).
    warned: bool,
    /// Events decided in `send` (a request too large), handed out by `recv`.
    ready: VecDeque<TransportEvent>,
    /// The acknowledging task's queue (bounded by the prefetch: the broker sends no more
    /// unacknowledged messages than that).
    acks: mpsc::Sender<Acker>,
    unacked: Unacked,
    max_message_bytes: usize,
    max_request_bytes: usize,
}

impl std::fmt::Debug for AmqpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmqpTransport")
            .field("request_queue", &self.request_queue.as_str())
            .field("reply_queue", &self.reply_queue.as_str())
            .finish()
    }
}

impl AmqpTransport {
    pub(crate) fn new(
        connection: Connection,
        channel: Channel,
        consumer: Consumer,
        reply_queue: ShortString,
        options: &AmqpOptions,
    ) -> Self {
        let (acks, rx) = mpsc::channel(usize::from(options.prefetch).max(1));
        tokio::spawn(acknowledge(rx));
        AmqpTransport {
            connection,
            channel,
            consumer,
            request_queue: options.request_queue().into(),
            reply_queue,
            confirms: FuturesUnordered::new(),
            retries: tokio::task::JoinSet::new(),
            warned: false,
            ready: VecDeque::new(),
            acks,
            unacked: Unacked::new(options.prefetch),
            max_message_bytes: options.max_message_bytes,
            max_request_bytes: options.max_request_bytes,
        }
    }

    /// The name of this client's queue (the broker's, when it named it).
    pub fn reply_queue(&self) -> &str {
        self.reply_queue.as_str()
    }

    fn confirmed(&mut self, (publish, outcome): Confirmed) -> Option<TransportEvent> {
        let result = match outcome {
            Outcome::Sent(result) => *result,
            Outcome::NotSent(e) => {
                return Some(TransportEvent::RequestFailed {
                    transaction: publish.transaction,
                    error: Error::transport_closed(format!("publish failed: {e}"), true)
                        .with_source(e),
                })
            }
        };
        match result {
            Ok(Confirmation::Ack(None)) | Ok(Confirmation::NotRequested) => None,
            Ok(Confirmation::Ack(Some(_))) => {
                let queue = self.request_queue.clone();
                if !self.warned {
                    self.warned = true;
                    warn!(
                        queue = queue.as_str(),
                        "no queue took a request: Janus is not connected to the broker (is it \
                         running, with its RabbitMQ transport reading this to_janus?); requests \
                         are published again until their timeout"
                    );
                }
                let properties = self.properties(&publish.transaction);
                self.retries
                    .spawn(republish(self.channel.clone(), queue, properties, publish));
                None
            }
            Ok(Confirmation::Nack(_)) => Some(TransportEvent::RequestFailed {
                transaction: publish.transaction,
                error: Error::transport_closed(
                    format!(
                        "the broker refused the request for queue {:?}",
                        self.request_queue.as_str()
                    ),
                    true,
                ),
            }),
            // The connection is going: the consumer says so too, and the core fails what
            // is in flight.
            Err(e) => {
                debug!(error = %e, "publisher confirm lost");
                None
            }
        }
    }

    fn properties(&self, transaction: &str) -> BasicProperties {
        BasicProperties::default()
            .with_correlation_id(transaction.into())
            .with_reply_to(self.reply_queue.clone())
            .with_content_type("application/json".into())
    }

    /// Hands `acker` (with `multiple`, for every delivery up to its own) to the
    /// acknowledging task.
    fn acknowledge(&mut self, acker: Acker) {
        if self.acks.try_send(acker).is_err() {
            // Only when the acknowledging task stopped: the channel is closing.
            trace!("acknowledgement not queued");
        }
    }

    fn delivered(&mut self, delivery: lapin::message::Delivery) -> TransportEvent {
        if let Some(acker) = self.unacked.add(delivery.acker) {
            self.acknowledge(acker);
        }
        if delivery.data.len() > self.max_message_bytes {
            return TransportEvent::Malformed {
                reason: format!(
                    "a message of {} bytes is over amqp.max_message_bytes ({})",
                    delivery.data.len(),
                    self.max_message_bytes
                ),
            };
        }
        match String::from_utf8(delivery.data) {
            Ok(text) => TransportEvent::Frame(text),
            Err(_) => TransportEvent::Malformed {
                reason: "a message that is not UTF-8 text".into(),
            },
        }
    }
}

/// Publishes a request that no queue took again, backing off from 50 to 500 ms, until a
/// queue takes it or its deadline is near (then the core times it out).
async fn republish(
    channel: Channel,
    queue: ShortString,
    properties: BasicProperties,
    publish: Publish,
) -> Option<TransportEvent> {
    let give_up = publish
        .deadline
        .unwrap_or_else(|| tokio::time::Instant::now() + NO_DEADLINE_RETRY);
    let mut delay = Duration::from_millis(50);
    loop {
        if tokio::time::Instant::now() + delay >= give_up {
            if publish.deadline.is_some() {
                return None;
            }
            return Some(TransportEvent::RequestFailed {
                transaction: publish.transaction,
                error: Error::transport_closed(
                    format!("no queue {:?} took the request for 30 s", queue.as_str()),
                    true,
                ),
            });
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(500));
        let confirm = channel
            .basic_publish(
                "".into(),
                queue.clone(),
                BasicPublishOptions {
                    mandatory: true,
                    immediate: false,
                },
                &publish.json,
                properties.clone(),
            )
            .await
            .ok()?;
        match confirm.await {
            Ok(Confirmation::Ack(Some(_))) => continue,
            Ok(Confirmation::Nack(_)) => {
                return Some(TransportEvent::RequestFailed {
                    transaction: publish.transaction,
                    error: Error::transport_closed(
                        format!(
                            "the broker refused the request for queue {:?}",
                            queue.as_str()
                        ),
                        true,
                    ),
                })
            }
            _ => return None,
        }
    }
}

/// Acknowledges deliveries, several at once when they come faster than one round trip.
async fn acknowledge(mut rx: mpsc::Receiver<Acker>) {
    while let Some(mut last) = rx.recv().await {
        while let Ok(next) = rx.try_recv() {
            last = next;
        }
        if last.ack(BasicAckOptions { multiple: true }).await.is_err() {
            return;
        }
    }
}

#[async_trait]
impl Transport for AmqpTransport {
    async fn send(&mut self, msg: OutgoingMessage) -> Result<(), Error> {
        let json = msg.json;
        if json.len() > self.max_request_bytes {
            self.ready.push_back(TransportEvent::RequestFailed {
                transaction: msg.transaction,
                error: Error::limit(
                    "amqp.max_request_bytes",
                    self.max_request_bytes as u64,
                    format!(
                        "a request of {} bytes is over amqp.max_request_bytes ({}): Janus 1.1.2 \
                         misreads a request larger than one AMQP frame",
                        json.len(),
                        self.max_request_bytes
                    ),
                ),
            });
            return Ok(());
        }
        let properties = self.properties(&msg.transaction);
        let publish = Publish {
            transaction: msg.transaction,
            json: json.into_bytes(),
            deadline: msg.deadline,
        };
        // Not awaited here: lapin's publish resolves once its I/O task has written the
        // frames, and waiting for that in the connection task would hold up every other
        // request and reply for a task switch each. The future's first poll (in `flush`,
        // in the order of the sends) hands the frames over; its end is the confirmation.
        let channel = self.channel.clone();
        let queue = self.request_queue.clone();
        self.confirms.push(Box::pin(async move {
            let sent = channel
                .basic_publish(
                    "".into(),
                    queue,
                    BasicPublishOptions {
                        mandatory: true,
                        immediate: false,
                    },
                    &publish.json,
                    properties,
                )
                .await;
            let outcome = match sent {
                Ok(confirm) => Outcome::Sent(Box::new(confirm.await)),
                Err(e) => Outcome::NotSent(e),
            };
            (publish, outcome)
        }));
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), Error> {
        // Starts the publishes `send` queued, in order: each one's first poll hands its
        // frames to lapin. What completes already (a confirmation) is handed out by `recv`.
        while let Some(Some(done)) = self.confirms.next().now_or_never() {
            if let Some(ev) = self.confirmed(done) {
                self.ready.push_back(ev);
            }
        }
        Ok(())
    }

    async fn recv(&mut self) -> Result<TransportEvent, Error> {
        loop {
            if let Some(ev) = self.ready.pop_front() {
                return Ok(ev);
            }
            tokio::select! {
                Some(done) = self.confirms.next(), if !self.confirms.is_empty() => {
                    if let Some(ev) = self.confirmed(done) {
                        return Ok(ev);
                    }
                }
                Some(done) = self.retries.join_next(), if !self.retries.is_empty() => {
                    if let Ok(Some(ev)) = done {
                        return Ok(ev);
                    }
                }
                () = self.unacked.due.as_mut(), if self.unacked.last.is_some() => {
                    if let Some(acker) = self.unacked.take() {
                        self.acknowledge(acker);
                    }
                }
                delivery = self.consumer.next() => {
                    return match delivery {
                        Some(Ok(d)) => Ok(self.delivered(d)),
                        Some(Err(e)) => Err(Error::transport_closed(
                            format!("the broker connection failed: {e}"),
                            false,
                        )
                        .with_source(e)),
                        None => Err(Error::transport_closed(
                            "the broker cancelled the client's consumer (its queue was deleted?)",
                            false,
                        )),
                    };
                }
            }
        }
    }

    fn session_ownership(&self) -> SessionOwnership {
        SessionOwnership::Shared
    }

    async fn close(&mut self) {
        let tail = self.unacked.take();
        let bye = async {
            // What was delivered is acknowledged before the channel goes: a named queue that
            // outlives the connection would deliver it again.
            if let Some(acker) = tail {
                let _ = acker.ack(BasicAckOptions { multiple: true }).await;
            }
            let _ = self.channel.close(200, "bye".into()).await;
            let _ = self.connection.close(200, "bye".into()).await;
        };
        let _ = tokio::time::timeout(Duration::from_secs(2), bye).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn deliveries_are_acknowledged_by_a_quarter_of_the_prefetch_or_after_a_delay() {
        let mut u = Unacked::<u32>::new(16);
        assert_eq!(u.add(1), None);
        assert_eq!(u.add(2), None);
        assert_eq!(u.add(3), None);
        assert_eq!(
            u.add(4),
            Some(4),
            "a quarter of the prefetch: the last one, multiple"
        );
        assert!(u.last.is_none());
        assert_eq!(u.add(5), None);
        let armed = tokio::time::Instant::now();
        u.due.as_mut().await;
        assert!(armed.elapsed() >= ACK_DELAY);
        assert_eq!(u.take(), Some(5), "the tail, once the delay passed");
        assert_eq!(u.take(), None);
        let mut one = Unacked::<u32>::new(1);
        assert_eq!(one.add(9), Some(9), "a prefetch of 1 acknowledges each");
    }
}
