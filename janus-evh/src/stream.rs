//! What a receiver hands the application: one bounded stream of [`EvhItem`]s, each event
//! tagged with the Janus instance that sent it and the way it came.
//!
//! The stream is janus-core's event queue (`janus_client::events`) with the same
//! slow-consumer policy as the client's handle and session streams: it holds at most
//! `buffer` items; when it is full, new events are dropped and counted, and the consumer
//! then sees one [`EvhItem::Lagged`] before the next event. The receiver never waits for the
//! consumer, so a slow consumer delays no Janus. One stream at a time: asking for another
//! ([`Receiver::events`](crate::Receiver::events)) ends the earlier one, and events that come
//! while nobody holds a stream are not kept.

use std::fmt;
use std::net::SocketAddr;

use janus_core::events::{EventStream, StreamEvent};

use crate::event::Event;

/// One item of a receiver's stream.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum EvhItem {
    /// An event from a Janus instance.
    Event(Box<Received>),
    /// `missed` events were dropped because the stream was full (the consumer was slow).
    Lagged {
        /// How many.
        missed: u64,
    },
    /// The receiver and all its listeners are gone: the stream ends after this.
    Closed,
}

impl StreamEvent for EvhItem {
    type Reason = ();
    fn lagged(missed: u64) -> Self {
        EvhItem::Lagged { missed }
    }
    fn closed((): ()) -> Self {
        EvhItem::Closed
    }
    fn released() {}
}

/// The stream of everything a [`Receiver`](crate::Receiver)'s listeners receive.
pub type EvhStream = EventStream<EvhItem>;

/// An event with where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Received {
    /// The Janus instance that sent it: the event's own `emitter` (Janus'
    /// `general.server_name`), or, when it has none, the [`Source`] written out.
    pub emitter: String,
    /// How it came.
    pub source: Source,
    /// The event.
    pub event: Event,
}

/// How an event reached the receiver.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Source {
    /// A `sampleevh` POST from this address.
    Http {
        /// The sender's address.
        peer: SocketAddr,
    },
    /// A `wsevh` connection from this address.
    WebSocket {
        /// The sender's address.
        peer: SocketAddr,
    },
    /// An `mqttevh` message on this MQTT topic.
    Mqtt {
        /// The topic.
        topic: String,
    },
    /// A `rabbitmqevh` message with this routing key.
    Amqp {
        /// The routing key.
        routing_key: String,
    },
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Http { peer } => write!(f, "http://{peer}"),
            Source::WebSocket { peer } => write!(f, "ws://{peer}"),
            Source::Mqtt { topic } => write!(f, "mqtt topic {topic}"),
            Source::Amqp { routing_key } => write!(f, "amqp routing key {routing_key}"),
        }
    }
}
