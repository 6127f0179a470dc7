//! Transport-agnostic core of a client for the [Janus WebRTC Gateway](https://janus.conf.meetecho.com/).
//!
//! - [`Client`], [`Session`] and [`Handle`] are cheap, cloneable values; one connection task per
//!   client owns the transport, the routes and the keepalives, and matches every answer in a
//!   transaction table it shares with callers (who may write their requests themselves while
//!   the link is up: see [`DirectSend`]).
//! - Requests match their answers however Janus sends them: `success`, `ack`, or `ack` then
//!   `event` with the same transaction (even when the event comes first).
//! - Events reach each handle's bounded [`HandleEvents`] stream; see [`events`] for the
//!   slow-consumer policy.
//! - Transports (`janus-ws`, `janus-http`, or `mock` with the `mock` feature) implement
//!   [`Transport`] and [`Connector`] and only move JSON.
//! - When the connection drops, the client reconnects and claims its sessions
//!   ([`ReconnectPolicy`]); what cannot be saved is reported, never left half-alive.
#![warn(missing_docs)]

pub mod admin;
mod client;
mod connection;
pub mod decode;
mod encode;
pub mod endpoint;
pub mod error;
pub mod events;
pub mod handoff;
mod link;
mod options;
pub mod plugins;
pub mod protocol;
mod registry;
mod request;
mod shared;
mod shared_state;
mod state;
mod stats;
mod table;
mod transactions;
pub mod transport;
mod txn;

#[cfg(feature = "tls")]
pub mod tls;

#[cfg(feature = "mock")]
pub mod mock;

pub use client::{AttachRequest, Client, Handle, MessageRequest, Session};
pub use error::{codes, Error, ErrorKind};
pub use events::{EventStream, HandleEvents, SessionEvents};
pub use link::ConnectionState;
pub use options::{
    check_duration, check_optional_duration, ClientOptions, ReconnectPolicy, Secret,
};
pub use protocol::{
    Candidate, CloseReason, HandleEvent, HandleId, Incoming, Jsep, PluginResponse, ServerInfo,
    SessionEvent, SessionId, Trickle,
};
pub use request::{Expect, RawRequest, Verb};
pub use stats::Stats;
pub use transport::{
    AnswerFuture, AnswerOutcome, Connector, Credentials, DirectAnswer, DirectSend, OutgoingMessage,
    Sent, SessionOwnership, Transport, TransportEvent,
};
