//! Publishing: a request becomes a `basic.publish` (mandatory, so that a request no queue
//! takes comes back as a `basic.return`) whose future ends once lapin's I/O has written its
//! frames. Callers start theirs themselves while the link is up (the direct path: no
//! wake-up of the connection task per request); the transport adopts each started publish at
//! its task's next turn (the answer's arrival, a keepalive tick: at most 1 s) and polls it
//! to its end in `recv`.
//!
//! The channel is not in confirm mode: a confirmation per request was one more frame from
//! the broker and one more wake-up of lapin's I/O thread, a fifth of the client's CPU per
//! request at one request in flight. What confirms told (that no queue took a request)
//! comes from the returns instead, which the transport collects at each turn
//! ([`Publisher::returned`]) and publishes again on a channel of their own, in confirm mode.
//! A request carries its deadline as its `expiration`: a request still queued when its
//! caller gave up on it is dropped by the broker, never run by Janus later, and a returned
//! one says how long it may still be published again.

use futures::future::BoxFuture;
use futures::FutureExt;
use janus_core::handoff::Handoff;
use janus_core::{DirectSend, OutgoingMessage, Sent};
use lapin::options::BasicPublishOptions;
use lapin::types::ShortString;
use lapin::{BasicProperties, Channel};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// What a publish came to: the request's transaction, and the error when its frames were
/// not written.
pub(crate) type Published = (String, Result<(), lapin::Error>);

/// One publish on its way to the broker.
pub(crate) type PublishFuture = BoxFuture<'static, Published>;

/// One request published again (it came back: no queue took it).
pub(crate) struct Publish {
    pub(crate) transaction: String,
    pub(crate) json: Vec<u8>,
    pub(crate) deadline: Option<tokio::time::Instant>,
}

impl Publish {
    /// The request a `basic.return` gave back: its transaction from the `correlation_id`,
    /// its deadline from the `expiration` it was published with. `None` for a message this
    /// client did not publish as a request (no `correlation_id`).
    pub(crate) fn from_return(message: lapin::message::BasicReturnMessage) -> Option<Publish> {
        let now = tokio::time::Instant::now();
        let props = &message.delivery.properties;
        let transaction = props.correlation_id().as_ref()?.to_string();
        let deadline = props
            .expiration()
            .as_ref()
            .and_then(|ms| ms.as_str().parse::<u64>().ok())
            .map(|ms| now + Duration::from_millis(ms));
        Some(Publish {
            transaction,
            json: message.delivery.data,
            deadline,
        })
    }
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
    started: Handoff<Published>,
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
    /// as `reply_to`, the time left until its deadline (if it has one) as `expiration`.
    pub(crate) fn properties(
        &self,
        transaction: &str,
        deadline: Option<tokio::time::Instant>,
    ) -> BasicProperties {
        let properties = BasicProperties::default()
            .with_correlation_id(transaction.into())
            .with_reply_to(self.reply_queue.clone())
            .with_content_type("application/json".into());
        match deadline {
            Some(deadline) => properties.with_expiration(expiration(deadline).into()),
            None => properties,
        }
    }

    /// The publish of `msg`, not started: its first poll hands the frames to lapin, and it
    /// ends once lapin's I/O has written them.
    pub(crate) fn publish(&self, msg: OutgoingMessage) -> PublishFuture {
        let properties = self.properties(&msg.transaction, msg.deadline);
        let transaction = msg.transaction;
        let json = msg.json.into_bytes();
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
                    &json,
                    properties,
                )
                .await
                .map(drop);
            (transaction, sent)
        })
    }

    /// The requests the broker gave back since the last call (no queue took them). lapin
    /// keeps the returns of a channel without confirms until they are asked for, so this is
    /// called at every turn of the transport: what waits is bounded by what was published
    /// since.
    pub(crate) fn returned(&self) -> Vec<lapin::message::BasicReturnMessage> {
        // Without confirm mode nothing is pending: this is ready at once.
        self.channel
            .wait_for_confirms()
            .now_or_never()
            .and_then(Result::ok)
            .unwrap_or_default()
    }

    /// The publishes callers started, once there are any; until then the task polling this
    /// is woken only when one failed at once (the others wait for its next turn).
    pub(crate) fn poll_started(&self, cx: &mut Context<'_>) -> Poll<Vec<PublishFuture>> {
        self.started.poll_started(cx)
    }
}

impl DirectSend for Publisher {
    fn try_send(&self, msg: OutgoingMessage) -> Result<Sent, OutgoingMessage> {
        // Too long: the slow way refuses it with a clear error.
        if msg.json.len() > self.max_request_bytes {
            return Err(msg);
        }
        // The frames go to lapin now, from the caller's task. Nobody is woken when lapin has
        // written them: the transport adopts the publish the next time its task runs (at the
        // latest for the answer), so a request costs that task no wake-up of its own. Only a
        // publish that failed at once (the channel is closing) wakes it, to report the
        // failure.
        self.started.start(self.publish(msg));
        Ok(Sent::Handed)
    }
}

/// The `expiration` of a request due at `deadline`: the milliseconds left, rounded up (a
/// request due now expires at once unless a consumer takes it at once).
fn expiration(deadline: tokio::time::Instant) -> String {
    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
    left.as_millis()
        .saturating_add(u128::from(!left.subsec_nanos().is_multiple_of(1_000_000)))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_deadline_goes_out_as_an_expiration_and_comes_back_from_a_return() {
        let now = tokio::time::Instant::now();
        assert_eq!(expiration(now + Duration::from_millis(1500)), "1500");
        assert_eq!(expiration(now + Duration::from_micros(1)), "1");
        assert_eq!(expiration(now), "0");
        assert_eq!(expiration(now - Duration::from_secs(1)), "0");

        let returned = |props: BasicProperties| {
            let mut delivery = lapin::message::Delivery::mock(
                0,
                "".into(),
                "to-janus".into(),
                false,
                br#"{"janus":"info"}"#.to_vec(),
            );
            delivery.properties = props;
            lapin::message::BasicReturnMessage {
                delivery,
                reply_code: 312,
                reply_text: "NO_ROUTE".into(),
            }
        };
        let back = Publish::from_return(returned(
            BasicProperties::default()
                .with_correlation_id("t1".into())
                .with_expiration("2500".into()),
        ))
        .expect("a request");
        assert_eq!(back.transaction, "t1");
        assert_eq!(back.json, br#"{"janus":"info"}"#);
        assert_eq!(back.deadline, Some(now + Duration::from_millis(2500)));

        let no_deadline = Publish::from_return(returned(
            BasicProperties::default().with_correlation_id("t2".into()),
        ))
        .expect("a request");
        assert_eq!(no_deadline.deadline, None);
        assert!(
            Publish::from_return(returned(BasicProperties::default())).is_none(),
            "not one of this client's requests"
        );
    }
}
