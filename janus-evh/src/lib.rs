//! Typed events from Janus' event handlers.
//!
//! With `broadcast = true` in `janus.jcfg`, Janus reports what happens to sessions, handles,
//! PeerConnections and media to its event handlers: `wsevh` (Janus connects to a WebSocket
//! server of yours), `sampleevh` (Janus POSTs to an HTTP server of yours), `rabbitmqevh` and
//! `mqttevh` (Janus publishes to a broker). This crate reads what they deliver:
//! [`decode`] turns one delivery (an object, or an array of them) into [`Event`]s whose
//! [`EventBody`] says what happened, typed for every type and subtype Janus 1.1.2 emits,
//! with the JSON kept whole in [`Event::raw`] and an `Other` variant for anything newer.
//!
//! A [`Receiver`] listens for the handlers that connect to you: HTTP for `sampleevh`
//! ([`Receiver::listen_http`], feature `http`) and WebSocket for `wsevh`
//! ([`Receiver::listen_ws`], feature `ws`), and hands everything over as one bounded
//! [`EvhStream`] with the client's slow-consumer policy, each event tagged with the instance
//! that sent it ([`Received::emitter`]). The handlers that publish to a broker have
//! consumers feeding the same stream: `Receiver::consume_mqtt` for `mqttevh` (feature
//! `mqtt`) and `Receiver::consume_amqp` for `rabbitmqevh` (feature `amqp`). See [`correlate`]
//! for joining events with the client's sessions and handles.
//!
//! Session and handle ids are `janus_core`'s [`SessionId`](janus_core::SessionId) and
//! [`HandleId`](janus_core::HandleId), so events join the sessions and handles a
//! `janus_core::Client` holds (`session.id()`, `handle.id()`) directly; with several Janus
//! instances, [`Event::emitter`] (Janus' `server_name`) says which one sent it.
//!
//! ```
//! use janus_evh::{decode, EventBody, MediaEvent};
//!
//! let delivery = r#"{"emitter":"janus-1","type":32,"subtype":3,"session_id":1,"handle_id":2,
//!     "event":{"mid":"0","media":"audio","rtt":12,"lost":3,"packets-received":500}}"#;
//! for event in decode(delivery)?.events {
//!     if let EventBody::Media(MediaEvent::Stats(stats)) = &event.body {
//!         for s in stats {
//!             println!("{:?} handle {:?}: rtt {:?} ms, lost {:?}", event.emitter, event.handle_id, s.rtt, s.lost);
//!         }
//!     }
//! }
//! # Ok::<(), janus_evh::DecodeError>(())
//! ```
#![warn(missing_docs)]
// Without any receiver feature only the decoding is used.
#![cfg_attr(
    not(any(feature = "http", feature = "ws", feature = "mqtt", feature = "amqp")),
    allow(dead_code)
)]

#[cfg(feature = "amqp")]
pub mod amqp;
#[cfg(any(feature = "mqtt", feature = "amqp"))]
mod consumer;
pub mod correlate;
mod decode;
mod event;
#[cfg(feature = "http")]
pub mod http;
#[cfg(any(feature = "http", feature = "ws"))]
mod listener;
#[cfg(feature = "mqtt")]
pub mod mqtt;
mod options;
mod receiver;
mod stats;
mod stream;
mod task;
#[cfg(feature = "ws")]
pub mod ws;

#[cfg(any(feature = "mqtt", feature = "amqp"))]
pub use consumer::Consumer;
pub use decode::{decode, event_from_value, Batch, DecodeError};
pub use event::{
    types, Component, ConnectionChange, CoreEvent, Event, EventBody, HandleAction, JsepOwner,
    MediaEvent, MediaStats, SessionAction, WebRtcEvent,
};
#[cfg(any(feature = "http", feature = "ws"))]
pub use listener::Listener;
#[cfg(feature = "amqp")]
pub use options::{AmqpEvhOptions, RABBITMQEVH_ROUTE_KEY};
pub use options::{
    BasicAuth, ConfigError, HttpOptions, ReceiverOptions, WsOptions, MAX_DELIVERY_LIMIT,
    WSEVH_SUBPROTOCOL,
};
#[cfg(feature = "mqtt")]
pub use options::{MqttEvhOptions, MQTTEVH_TOPIC};
pub use receiver::{ListenError, Receiver};
pub use stats::ReceiverStats;
pub use stream::{EvhItem, EvhStream, Received, Source};
