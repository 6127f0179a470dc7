//! The connect handshake, written once for both protocol versions: wait for the broker's
//! `CONNACK`, subscribe to the reply topics, wait for the `SUBACK` and check each grant.

use janus_core::Error;
use rumqttc::v5::mqttbytes::v5::{Filter, Packet as Packet5};

use crate::transport::{connect_error_v311, connect_error_v5, qos311, qos5};

/// What the handshake reads from an event loop.
enum Step {
    Connected,
    /// The broker's answer to the subscription: per topic, why it was refused, if it was.
    Subscribed(Vec<Option<String>>),
    Other,
}

/// One protocol version's event loop and client, as the handshake sees them.
trait Handshake {
    async fn step(&mut self, endpoint: &str) -> Result<Step, Error>;
    async fn subscribe(&mut self, topics: &[String], qos: u8) -> Result<(), String>;
}

/// Connects, subscribes to `topics`, and returns once the broker acknowledged both.
async fn handshake(
    h: &mut impl Handshake,
    topics: &[String],
    qos: u8,
    endpoint: &str,
) -> Result<(), Error> {
    while !matches!(h.step(endpoint).await?, Step::Connected) {}
    h.subscribe(topics, qos)
        .await
        .map_err(|e| Error::transport(format!("cannot subscribe on {endpoint}: {e}")))?;
    loop {
        if let Step::Subscribed(grants) = h.step(endpoint).await? {
            for (refusal, topic) in grants.iter().zip(topics) {
                if let Some(why) = refusal {
                    return Err(Error::transport(format!(
                        "the MQTT broker at {endpoint} refused the subscription to {topic:?}{why}"
                    )));
                }
            }
            return Ok(());
        }
    }
}

struct V311<'a>(&'a mut rumqttc::EventLoop, &'a rumqttc::AsyncClient);

impl Handshake for V311<'_> {
    async fn step(&mut self, endpoint: &str) -> Result<Step, Error> {
        use rumqttc::{Event, Packet, SubscribeReasonCode};
        Ok(match self.0.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => Step::Connected,
            Ok(Event::Incoming(Packet::SubAck(ack))) => Step::Subscribed(
                ack.return_codes
                    .iter()
                    .map(|code| {
                        matches!(code, SubscribeReasonCode::Failure)
                            .then(|| " (not allowed by its ACL?)".to_string())
                    })
                    .collect(),
            ),
            Ok(_) => Step::Other,
            Err(e) => return Err(connect_error_v311(e, endpoint)),
        })
    }

    async fn subscribe(&mut self, topics: &[String], qos: u8) -> Result<(), String> {
        let filters = topics
            .iter()
            .map(|t| rumqttc::SubscribeFilter::new(t.clone(), qos311(qos)));
        self.1
            .subscribe_many(filters)
            .await
            .map_err(|e| e.to_string())
    }
}

struct V5<'a>(&'a mut rumqttc::v5::EventLoop, &'a rumqttc::v5::AsyncClient);

impl Handshake for V5<'_> {
    async fn step(&mut self, endpoint: &str) -> Result<Step, Error> {
        use rumqttc::v5::mqttbytes::v5::SubscribeReasonCode;
        use rumqttc::v5::Event;
        Ok(match self.0.poll().await {
            Ok(Event::Incoming(Packet5::ConnAck(_))) => Step::Connected,
            Ok(Event::Incoming(Packet5::SubAck(ack))) => Step::Subscribed(
                ack.return_codes
                    .iter()
                    .map(|code| {
                        (!matches!(code, SubscribeReasonCode::Success(_)))
                            .then(|| format!(": {code:?}"))
                    })
                    .collect(),
            ),
            Ok(_) => Step::Other,
            Err(e) => return Err(connect_error_v5(e, endpoint)),
        })
    }

    async fn subscribe(&mut self, topics: &[String], qos: u8) -> Result<(), String> {
        let filters = topics.iter().map(|t| Filter::new(t.clone(), qos5(qos)));
        self.1
            .subscribe_many(filters)
            .await
            .map_err(|e| e.to_string())
    }
}

/// Connects a 3.1.1 event loop and subscribes; returns once the broker acknowledged both.
pub(crate) async fn handshake_v311(
    events: &mut rumqttc::EventLoop,
    client: &rumqttc::AsyncClient,
    topics: &[String],
    qos: u8,
    endpoint: &str,
) -> Result<(), Error> {
    handshake(&mut V311(events, client), topics, qos, endpoint).await
}

/// Connects an MQTT 5 event loop and subscribes; returns once the broker acknowledged both.
pub(crate) async fn handshake_v5(
    events: &mut rumqttc::v5::EventLoop,
    client: &rumqttc::v5::AsyncClient,
    topics: &[String],
    qos: u8,
    endpoint: &str,
) -> Result<(), Error> {
    handshake(&mut V5(events, client), topics, qos, endpoint).await
}
