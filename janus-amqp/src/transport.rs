//! One connection to the broker: requests published to Janus's queue, replies and events
//! read from the client's own queue.

use async_trait::async_trait;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use futures::StreamExt;
use janus_core::{Error, OutgoingMessage, Transport, TransportEvent};
use lapin::options::{BasicAckOptions, BasicPublishOptions};
use lapin::types::ShortString;
use lapin::Acker;
use lapin::Confirmation;
use lapin::{BasicProperties, Channel, Connection, Consumer};
use std::collections::VecDeque;
use std::time::Duration;
use tokio::sync::mpsc;
use tracing::{debug, trace};

use crate::AmqpOptions;

/// What a publish came to: the transaction it carried, and the broker's confirmation.
type Confirmed = (String, Result<Confirmation, lapin::Error>);

/// A connection to RabbitMQ carrying the Janus API (or the Admin API).
///
/// Made by [`AmqpConnector`](crate::AmqpConnector). Requests go to the default exchange
/// with Janus's queue as routing key (`mandatory`, with publisher confirms: a request no
/// queue takes fails at once, retry-safe); each carries its transaction as
/// `correlation_id` and the client's queue as `reply_to`. Transactions are prefixed with
/// a tag of this client, so that the replies and events of other clients on the same
/// exchange (which every client receives) never match a request of this one; they reach
/// the core with their foreign transactions, which it drops and counts.
pub struct AmqpTransport {
    connection: Connection,
    channel: Channel,
    consumer: Consumer,
    request_queue: ShortString,
    reply_queue: ShortString,
    /// `c<16 hex digits>.`: never a number, so a transaction with another client's tag
    /// matches no request here.
    tag: String,
    confirms: FuturesUnordered<BoxFuture<'static, Confirmed>>,
    /// Events decided in `send` (a request too large), handed out by `recv`.
    ready: VecDeque<TransportEvent>,
    /// The acknowledging task's queue (bounded by the prefetch: the broker sends no more
    /// unacknowledged messages than that).
    acks: mpsc::Sender<Acker>,
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
            tag: format!("c{:016x}.", rand::random::<u64>()),
            confirms: FuturesUnordered::new(),
            ready: VecDeque::new(),
            acks,
            max_message_bytes: options.max_message_bytes,
            max_request_bytes: options.max_request_bytes,
        }
    }

    /// The name of this client's queue (the broker's, when it named it).
    pub fn reply_queue(&self) -> &str {
        self.reply_queue.as_str()
    }

    /// The request's JSON with this client's tag in front of its transaction.
    fn tagged(&self, msg: &OutgoingMessage) -> Option<String> {
        // The envelope comes first: `{"janus":"…","transaction":"…`.
        let field = format!("\"transaction\":\"{}\"", msg.transaction);
        let at = msg.json.find(&field)? + "\"transaction\":\"".len();
        let mut out = String::with_capacity(msg.json.len() + self.tag.len());
        out.push_str(&msg.json[..at]);
        out.push_str(&self.tag);
        out.push_str(&msg.json[at..]);
        Some(out)
    }

    fn confirmed(&self, (transaction, result): Confirmed) -> Option<TransportEvent> {
        let queue = self.request_queue.as_str();
        let error = match result {
            Ok(Confirmation::Ack(None)) | Ok(Confirmation::NotRequested) => return None,
            Ok(Confirmation::Ack(Some(_))) => Error::transport_closed(
                format!(
                    "no queue {queue:?} on the broker took the request: is Janus running with \
                     its RabbitMQ transport reading to_janus = {queue:?}?"
                ),
                true,
            ),
            Ok(Confirmation::Nack(_)) => Error::transport_closed(
                format!("the broker refused the request for queue {queue:?}"),
                true,
            ),
            // The connection is going: the consumer says so too, and the core fails what
            // is in flight.
            Err(e) => {
                debug!(error = %e, "publisher confirm lost");
                return None;
            }
        };
        let transaction = transaction.strip_prefix(&self.tag)?.to_string();
        Some(TransportEvent::RequestFailed { transaction, error })
    }

    fn delivered(&mut self, delivery: lapin::message::Delivery) -> TransportEvent {
        if self.acks.try_send(delivery.acker).is_err() {
            // Only when the acknowledging task stopped: the channel is closing.
            trace!("acknowledgement not queued");
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
        let text = match String::from_utf8(delivery.data) {
            Ok(t) => t,
            Err(_) => {
                return TransportEvent::Malformed {
                    reason: "a message that is not UTF-8 text".into(),
                }
            }
        };
        if text.contains(&self.tag) {
            TransportEvent::Frame(text.replace(&self.tag, ""))
        } else {
            TransportEvent::Frame(text)
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
        let Some(json) = self.tagged(&msg) else {
            return Err(Error::protocol(
                "a request without its transaction in its JSON",
            ));
        };
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
        let correlation = format!("{}{}", self.tag, msg.transaction);
        let properties = BasicProperties::default()
            .with_correlation_id(correlation.as_str().into())
            .with_reply_to(self.reply_queue.clone())
            .with_content_type("application/json".into());
        let confirm = self
            .channel
            .basic_publish(
                "".into(),
                self.request_queue.clone(),
                BasicPublishOptions {
                    mandatory: true,
                    immediate: false,
                },
                json.as_bytes(),
                properties,
            )
            .await
            .map_err(|e| {
                Error::transport_closed(format!("publish failed: {e}"), false).with_source(e)
            })?;
        self.confirms
            .push(Box::pin(async move { (correlation, confirm.await) }));
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

    async fn close(&mut self) {
        let bye = async {
            let _ = self.channel.close(200, "bye".into()).await;
            let _ = self.connection.close(200, "bye".into()).await;
        };
        let _ = tokio::time::timeout(Duration::from_secs(2), bye).await;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_tag_is_never_a_number() {
        for _ in 0..100 {
            let tag = format!("c{:016x}.", rand::random::<u64>());
            assert!(format!("{tag}12").parse::<u64>().is_err());
        }
    }
}
