//! Publishing: a request becomes a `basic.publish` (mandatory, with publisher confirms) whose
//! future ends with the broker's confirmation. Callers start theirs themselves while the link
//! is up (the direct path: no wake-up of the connection task per request); the transport
//! adopts each started publish at its task's next turn (the answer's arrival, a keepalive
//! tick: at most 1 s) and polls it to its confirmation in `recv`. A request no queue took is
//! learned from that confirmation, so it is published again at most that much later.

use futures::future::BoxFuture;
use janus_core::handoff::{Handoff, Wake};
use janus_core::{DirectSend, OutgoingMessage};
use lapin::options::BasicPublishOptions;
use lapin::types::ShortString;
use lapin::{BasicProperties, Channel, Confirmation};
use std::sync::Arc;
use std::task::{Context, Poll};

/// What a publish came to: the request, and what became of it.
pub(crate) type Confirmed = (Publish, Outcome);

/// One publish on its way to its confirmation.
pub(crate) type PublishFuture = BoxFuture<'static, Confirmed>;

/// What became of one publish.
pub(crate) enum Outcome {
    /// Its frames never reached the broker's connection (the channel is closing): it did
    /// not reach Janus either.
    NotSent(lapin::Error),
    /// Sent; the broker's confirmation (or why none will come). Boxed: a confirmation
    /// (which may hold a returned message) is large, and most of these wait in `confirms`.
    Sent(Box<Result<Confirmation, lapin::Error>>),
}

/// One request as published, kept until the broker confirms it (to publish it again when
/// no queue took it).
pub(crate) struct Publish {
    pub(crate) transaction: String,
    pub(crate) json: Vec<u8>,
    pub(crate) deadline: Option<tokio::time::Instant>,
}

/// Starts publishes, from the connection task or straight from callers.
pub(crate) struct Publisher {
    /// Shared by the publishes in flight: cloning a `Channel` itself clones a dozen `Arc`s.
    channel: Arc<Channel>,
    request_queue: ShortString,
    reply_queue: ShortString,
    max_request_bytes: usize,
    /// Publishes callers started, not yet adopted by the transport (at most one per request
    /// in flight: each caller waits for its answer).
    started: Handoff<Confirmed>,
}

impl Publisher {
    pub(crate) fn new(
        channel: Channel,
        request_queue: ShortString,
        reply_queue: ShortString,
        max_request_bytes: usize,
    ) -> Self {
        Publisher {
            channel: Arc::new(channel),
            request_queue,
            reply_queue,
            max_request_bytes,
            started: Handoff::new(),
        }
    }

    pub(crate) fn channel(&self) -> &Channel {
        &self.channel
    }

    pub(crate) fn request_queue(&self) -> &ShortString {
        &self.request_queue
    }

    pub(crate) fn reply_queue(&self) -> &ShortString {
        &self.reply_queue
    }

    pub(crate) fn max_request_bytes(&self) -> usize {
        self.max_request_bytes
    }

    /// The properties of a request: its transaction as `correlation_id`, the client's queue
    /// as `reply_to`.
    pub(crate) fn properties(&self, transaction: &str) -> BasicProperties {
        BasicProperties::default()
            .with_correlation_id(transaction.into())
            .with_reply_to(self.reply_queue.clone())
            .with_content_type("application/json".into())
    }

    /// The publish of `msg`, not started: its first poll hands the frames to lapin (whose
    /// I/O writes them); its end is the broker's confirmation.
    pub(crate) fn publish(&self, msg: OutgoingMessage) -> PublishFuture {
        let properties = self.properties(&msg.transaction);
        let publish = Publish {
            transaction: msg.transaction,
            json: msg.json.into_bytes(),
            deadline: msg.deadline,
        };
        let channel = self.channel.clone();
        let queue = self.request_queue.clone();
        Box::pin(async move {
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
        })
    }

    /// The publishes callers started, once there are any; until then the task polling this
    /// is woken only when one failed at once (the others wait for its next turn).
    pub(crate) fn poll_started(&self, cx: &mut Context<'_>) -> Poll<Vec<PublishFuture>> {
        self.started.poll_started(cx)
    }
}

impl DirectSend for Publisher {
    fn try_send(&self, msg: OutgoingMessage) -> Result<(), OutgoingMessage> {
        // Too long: the slow way refuses it with a clear error.
        if msg.json.len() > self.max_request_bytes {
            return Err(msg);
        }
        // The frames go to lapin now, from the caller's task. Nobody is woken when lapin has
        // written them: the transport adopts the publish the next time its task runs (at the
        // latest for the answer, by which time the broker's confirmation has usually come
        // too), so a request costs that task no wake-up of its own. Only a publish that
        // failed at once (the channel is closing) wakes it, to report the failure.
        self.started.start(self.publish(msg), Wake::OnlyIfDone);
        Ok(())
    }
}
