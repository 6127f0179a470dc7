//! A minimal hand-written Janus client over MQTT 3.1.1, with no library code: rumqttc and
//! serde_json only.
//!
//! - ONE broker connection shared by every worker; requests are published (QoS 1) to
//!   Janus' request topic, and every reply comes on its response topic, which this client
//!   subscribes to (QoS 1).
//! - Transactions carry a random prefix, so another client's replies on the shared topic
//!   are never taken for this one's.
//! - A reader task polls rumqttc's event loop, parses each message with serde_json and
//!   completes the request's `oneshot`, found by transaction in a
//!   `std::sync::Mutex<HashMap<..>>`; `ack`s are skipped (the only request answered by an
//!   ack here is `message`, which completes on its `event`).
//! - Before the run it pings Janus until the `pong` comes, as the library does.

use crate::minimal_lifecycle::{request_text, JanusCall};
use crate::minimal_waiters::Waiters;
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS};
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

struct Inner {
    client: AsyncClient,
    request_topic: String,
    prefix: String,
    shared: Arc<Waiters>,
    next_txn: AtomicU64,
}

#[derive(Clone)]
pub struct MinimalMqtt {
    inner: Arc<Inner>,
}

/// The reader task, kept by the bench to end it after the run.
pub struct Tasks {
    reader: JoinHandle<()>,
}

/// `mqtt://host:port?request_topic=...&response_topic=...` (the form scripts/janus prints).
fn parse(url: &str) -> Result<(String, u16, String, String), String> {
    let u = url::Url::parse(url).map_err(|e| format!("bad URL {url}: {e}"))?;
    let host = u.host_str().ok_or("no host")?.to_string();
    let port = u.port().unwrap_or(1883);
    let mut req = "to-janus".to_string();
    let mut resp = "from-janus".to_string();
    for (k, v) in u.query_pairs() {
        match k.as_ref() {
            "request_topic" => req = v.into_owned(),
            "response_topic" => resp = v.into_owned(),
            _ => {}
        }
    }
    Ok((host, port, req, resp))
}

impl MinimalMqtt {
    pub async fn connect(url: &str) -> Result<(MinimalMqtt, Tasks), String> {
        let (host, port, request_topic, response_topic) = parse(url)?;
        let id = format!("bench-{:016x}", rand_u64());
        let mut o = MqttOptions::new(id, host, port);
        o.set_keep_alive(Duration::from_secs(5));
        o.set_max_packet_size(1 << 20, 1 << 20);
        let (client, mut events) = AsyncClient::new(o, 1024);
        // Connected and subscribed before anything is sent.
        client
            .subscribe(&response_topic, QoS::AtLeastOnce)
            .await
            .map_err(|e| e.to_string())?;
        let ready = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Packet::SubAck(_))) => return Ok(()),
                    Ok(_) => {}
                    Err(e) => return Err(format!("minimal MQTT connect: {e}")),
                }
            }
        })
        .await
        .map_err(|_| "minimal MQTT connect: no SUBACK within 5 s".to_string())?;
        ready?;
        let shared = Arc::new(Waiters::default());
        let reader = tokio::spawn(read_loop(events, shared.clone()));
        let c = MinimalMqtt {
            inner: Arc::new(Inner {
                client,
                request_topic,
                prefix: format!("{:08x}-", rand_u64() as u32),
                shared,
                next_txn: AtomicU64::new(1),
            }),
        };
        // Janus answers through the broker (it may still be subscribing).
        let mut ok = false;
        for _ in 0..20 {
            if let Ok(Ok(v)) =
                tokio::time::timeout(Duration::from_millis(500), c.call("ping", None, None, None))
                    .await
            {
                ok = v["janus"] == "pong";
                if ok {
                    break;
                }
            }
        }
        if !ok {
            return Err("minimal MQTT: Janus did not answer a ping".into());
        }
        Ok((c, Tasks { reader }))
    }

    pub async fn close(self, tasks: Tasks) {
        let _ = self.inner.client.disconnect().await;
        if tokio::time::timeout(Duration::from_secs(2), tasks.reader)
            .await
            .is_err()
        {
            eprintln!("janus-bench: minimal MQTT reader did not end");
        }
    }
}

impl JanusCall for MinimalMqtt {
    /// Publishes one request and waits for its answer (for `message`, its `event`).
    async fn call(
        &self,
        janus: &str,
        session: Option<u64>,
        handle: Option<u64>,
        extra: Option<(&str, Value)>,
    ) -> Result<Value, String> {
        let n = self.inner.next_txn.fetch_add(1, Ordering::Relaxed);
        let txn = format!("{}{n}", self.inner.prefix);
        let text = request_text(janus, &txn, session, handle, extra)?;
        let wait = self
            .inner
            .shared
            .wait_for(txn)
            .ok_or_else(|| format!("{janus}: connection closed"))?;
        self.inner
            .client
            .publish(&self.inner.request_topic, QoS::AtLeastOnce, false, text)
            .await
            .map_err(|e| format!("{janus}: publish: {e}"))?;
        wait.answer(janus).await
    }
}

async fn read_loop(mut events: EventLoop, shared: Arc<Waiters>) {
    loop {
        match events.poll().await {
            Ok(Event::Incoming(Packet::Publish(p))) => {
                // Another client's answers and Janus' garbage alike are dropped.
                let _ = shared.deliver(&p.payload);
            }
            Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) => break,
            Ok(_) => {}
            Err(_) => break,
        }
    }
    shared.fail_all();
}

/// A random number from the standard library's hasher (no extra dependency).
fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    );
    h.finish()
}
