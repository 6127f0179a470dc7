//! One connection to the broker: requests published to Janus's queue, replies and events
//! read from the client's own queue.

use async_trait::async_trait;
use futures::future::poll_fn;
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use janus_core::{DirectSend, Error, OutgoingMessage, SessionOwnership, Transport, TransportEvent};
use lapin::options::{BasicAckOptions, BasicPublishOptions};
use lapin::types::ShortString;
use lapin::Acker;
use lapin::Confirmation;
use lapin::{Channel, Connection, Consumer};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tracing::{debug, trace, warn};

use crate::publish::{Publish, PublishFuture, Published, Publisher};
use crate::AmqpOptions;

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
/// with Janus's queue as routing key (`mandatory`), with the time left until their deadline
/// as `expiration`. A request no queue takes (Janus is not connected to the broker: it is
/// starting, or reconnecting after the broker restarted) never reached Janus: the broker
/// returns it, and it is published again (on a channel of its own, with publisher
/// confirms), backing off to 500 ms, until its deadline, when the core times it out. Each
/// carries its transaction as `correlation_id` and the client's queue as `reply_to`. Every client on the exchange
/// receives every reply and event; the core names its transactions with a prefix of its
/// own, so those of other clients never match a request of this one: it drops and counts
/// them. Sessions are [`SessionOwnership::Shared`]: checked with a keepalive after a
/// reconnect, never claimed.
pub struct AmqpTransport {
    connection: Connection,
    consumer: Consumer,
    /// Publishes requests (shared with callers as the direct path).
    publisher: Arc<Publisher>,
    /// Publishes whose frames lapin has not written yet.
    publishes: FuturesUnordered<PublishFuture>,
    /// The channel requests no queue took are published again on, in confirm mode (so
    /// that each attempt learns whether a queue took it).
    retry_channel: Channel,
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
}

impl std::fmt::Debug for AmqpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmqpTransport")
            .field("request_queue", &self.publisher.request_queue().as_str())
            .field("reply_queue", &self.publisher.reply_queue().as_str())
            .finish()
    }
}

impl AmqpTransport {
    pub(crate) fn new(
        connection: Connection,
        channel: Channel,
        retry_channel: Channel,
        consumer: Consumer,
        reply_queue: ShortString,
        options: &AmqpOptions,
    ) -> Self {
        let (acks, rx) = mpsc::channel(usize::from(options.prefetch).max(1));
        tokio::spawn(acknowledge(rx));
        AmqpTransport {
            connection,
            consumer,
            publisher: Arc::new(Publisher::new(
                channel,
                options.request_queue().into(),
                reply_queue,
                options.max_request_bytes,
            )),
            publishes: FuturesUnordered::new(),
            retry_channel,
            retries: tokio::task::JoinSet::new(),
            warned: false,
            ready: VecDeque::new(),
            acks,
            unacked: Unacked::new(options.prefetch),
            max_message_bytes: options.max_message_bytes,
        }
    }

    /// The name of this client's queue (the broker's, when it named it).
    pub fn reply_queue(&self) -> &str {
        self.publisher.reply_queue().as_str()
    }

    /// A publish whose frames were written, or not (the channel is closing: the request did
    /// not reach Janus).
    fn published(&mut self, (transaction, result): Published) -> Option<TransportEvent> {
        let e = result.err()?;
        Some(TransportEvent::RequestFailed {
            transaction,
            error: Error::transport_closed(format!("publish failed: {e}"), true).with_source(e),
        })
    }

    /// Publishes again, each on its own schedule, the requests the broker returned since the
    /// last turn.
    fn take_returns(&mut self) {
        for message in self.publisher.returned() {
            let Some(publish) = Publish::from_return(message) else {
                debug!("a returned message that is not one of this client's requests");
                continue;
            };
            if !self.warned {
                self.warned = true;
                warn!(
                    queue = self.publisher.request_queue().as_str(),
                    "no queue took a request: Janus is not connected to the broker (is it \
                     running, with its RabbitMQ transport reading this to_janus?); requests \
                     are published again until their timeout"
                );
            }
            self.retries.spawn(republish(
                self.retry_channel.clone(),
                self.publisher.clone(),
                publish,
            ));
        }
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
/// queue takes it or its deadline is near (then the core times it out). `channel` is in
/// confirm mode: each attempt's confirmation says whether a queue took it.
async fn republish(
    channel: Channel,
    publisher: Arc<Publisher>,
    publish: Publish,
) -> Option<TransportEvent> {
    let queue = publisher.request_queue();
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
                publisher.properties(&publish.transaction, publish.deadline),
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
        let limit = self.publisher.max_request_bytes();
        if msg.json.len() > limit {
            self.ready.push_back(TransportEvent::RequestFailed {
                error: Error::limit(
                    "amqp.max_request_bytes",
                    limit as u64,
                    format!(
                        "a request of {} bytes is over amqp.max_request_bytes ({limit}): Janus \
                         1.1.2 misreads a request larger than one AMQP frame",
                        msg.json.len(),
                    ),
                ),
                transaction: msg.transaction,
            });
            return Ok(());
        }
        // Not awaited here: lapin's publish resolves once its I/O task has written the
        // frames, and waiting for that in the connection task would hold up every other
        // request and reply for a task switch each. The future's first poll (in `flush`,
        // in the order of the sends) hands the frames over.
        self.publishes.push(self.publisher.publish(msg));
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), Error> {
        // Starts the publishes `send` queued, in order: each one's first poll hands its
        // frames to lapin. What failed already is handed out by `recv`.
        while let Some(Some(done)) = self.publishes.next().now_or_never() {
            if let Some(ev) = self.published(done) {
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
            // Every turn of the connection task (an answer, a request, its keepalive tick:
            // at least once a second) comes through here.
            self.take_returns();
            tokio::select! {
                Some(done) = self.publishes.next(), if !self.publishes.is_empty() => {
                    if let Some(ev) = self.published(done) {
                        return Ok(ev);
                    }
                }
                started = poll_fn(|cx| self.publisher.poll_started(cx)) => {
                    // Publishes callers started: polled to their end from now on.
                    self.publishes.extend(started);
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

    fn direct(&self) -> Option<Arc<dyn DirectSend>> {
        Some(self.publisher.clone())
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
            let _ = self.retry_channel.close(200, "bye".into()).await;
            let _ = self.publisher.channel().close(200, "bye".into()).await;
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
