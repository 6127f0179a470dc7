//! A minimal hand-written Janus client over RabbitMQ, with no library code: lapin and
//! serde_json only.
//!
//! - ONE connection and ONE channel shared by every worker.
//! - Its own queue (named by the broker, exclusive, auto-delete) bound to Janus's exchange
//!   with Janus's routing key, consumed with automatic acknowledgement (no prefetch bound:
//!   the minimal way, unlike the library).
//! - Requests are published to the default exchange with Janus's queue as routing key,
//!   without publisher confirms or `mandatory`; transactions carry a random prefix (other
//!   clients on the broker see the same traffic).
//! - A reader task parses each message and completes the request's `oneshot`, found by
//!   transaction in a `std::sync::Mutex<HashMap<..>>`; `ack`s are skipped (`message`
//!   completes on its `event`).

use crate::minimal_lifecycle::{request_text, JanusCall};
use crate::minimal_waiters::Waiters;
use futures::StreamExt;
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::task::JoinHandle;

struct Inner {
    connection: Connection,
    channel: Channel,
    to_janus: String,
    pending: Arc<Waiters>,
    prefix: String,
    next_txn: AtomicU64,
}

#[derive(Clone)]
pub struct MinimalAmqp {
    inner: Arc<Inner>,
}

/// The query parameter `name` of `url`, or `default`.
fn param(url: &url::Url, name: &str, default: &str) -> String {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map_or_else(|| default.to_string(), |(_, v)| v.into_owned())
}

impl MinimalAmqp {
    /// Connects to the broker of `url` (`amqp://…?to_janus=…&from_janus=…&janus_exchange=…`).
    pub async fn connect(url: &str) -> Result<(MinimalAmqp, JoinHandle<()>), String> {
        let parsed = url::Url::parse(url).map_err(|e| format!("{url}: {e}"))?;
        let to_janus = param(&parsed, "to_janus", "to-janus");
        let from_janus = param(&parsed, "from_janus", "from-janus");
        let exchange = param(&parsed, "janus_exchange", "janus-exchange");
        let mut base = parsed.clone();
        base.set_query(None);
        let connection = Connection::connect(base.as_str(), ConnectionProperties::default())
            .await
            .map_err(|e| format!("minimal amqp connect: {e}"))?;
        let channel = connection
            .create_channel()
            .await
            .map_err(|e| format!("channel: {e}"))?;
        channel
            .exchange_declare(
                exchange.as_str().into(),
                ExchangeKind::Direct,
                ExchangeDeclareOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(|e| format!("exchange: {e}"))?;
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
            .map_err(|e| format!("queue: {e}"))?;
        channel
            .queue_bind(
                queue.name().clone(),
                exchange.as_str().into(),
                from_janus.as_str().into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(|e| format!("bind: {e}"))?;
        let consumer = channel
            .basic_consume(
                queue.name().clone(),
                "".into(),
                BasicConsumeOptions {
                    no_ack: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .map_err(|e| format!("consume: {e}"))?;
        let pending = Arc::new(Waiters::default());
        let reader = tokio::spawn(read_loop(consumer, pending.clone()));
        let client = MinimalAmqp {
            inner: Arc::new(Inner {
                connection,
                channel,
                to_janus,
                pending,
                prefix: format!("m{:x}-", std::process::id()),
                next_txn: AtomicU64::new(1),
            }),
        };
        Ok((client, reader))
    }

    /// Closes the connection and waits for the reader (bounded).
    pub async fn close(self, reader: JoinHandle<()>) {
        let _ = self.inner.connection.close(200, "bye".into()).await;
        if tokio::time::timeout(std::time::Duration::from_secs(2), reader)
            .await
            .is_err()
        {
            eprintln!("janus-bench: minimal amqp reader still running at close");
        }
    }
}

impl JanusCall for MinimalAmqp {
    /// Publishes one request and waits for its answer (for `message`, its `event`).
    async fn call(
        &self,
        janus: &str,
        session: Option<u64>,
        handle: Option<u64>,
        extra: Option<(&str, Value)>,
    ) -> Result<Value, String> {
        let inner = &self.inner;
        let txn = format!(
            "{}{}",
            inner.prefix,
            inner.next_txn.fetch_add(1, Ordering::Relaxed)
        );
        let text = request_text(janus, &txn, session, handle, extra)?;
        let wait = inner
            .pending
            .wait_for(txn.clone())
            .ok_or_else(|| format!("{janus}: connection closed"))?;
        let sent = inner
            .channel
            .basic_publish(
                "".into(),
                inner.to_janus.as_str().into(),
                BasicPublishOptions::default(),
                text.as_bytes(),
                BasicProperties::default().with_correlation_id(txn.as_str().into()),
            )
            .await;
        match sent {
            Ok(_) => wait.answer(janus).await,
            Err(e) => Err(format!("{janus}: publish: {e}")),
        }
    }
}

async fn read_loop(mut consumer: lapin::Consumer, pending: Arc<Waiters>) {
    while let Some(Ok(delivery)) = consumer.next().await {
        // Garbage is dropped.
        let _ = pending.deliver(&delivery.data);
    }
    pending.fail_all();
}
