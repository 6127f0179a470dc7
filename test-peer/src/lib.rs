//! A WebRTC peer for the tests and examples of `janus-client`, on [`str0m`] (a sans-IO
//! WebRTC stack: this crate owns the UDP socket, so the test chooses the address its one host
//! candidate has). It sends synthetic Opus and VP8 RTP (Janus' echotest and videoroom relay
//! RTP without decoding it, so well-formed packets are enough) and counts, per kind, the
//! packets it sent and the distinct ones it received.
//!
//! It is a development crate (`publish = false`): the library crates never depend on it.
//! Signalling is the caller's business, through `janus-client` as a user would do it:
//!
//! 1. [`Peer::bind`] on an address Janus can reach (never loopback: Janus gathers no
//!    candidate there);
//! 2. [`Peer::offer`] (send it in a plugin message), then [`Peer::candidate`] to trickle, and
//!    [`Peer::accept_answer`] with Janus' answer; or [`Peer::accept_offer`] to answer Janus;
//! 3. [`Peer::start`] runs the PeerConnection in a task: [`Running`] reports connection and
//!    counts, and pauses or closes it.

mod counts;
mod error;
mod peer;
mod run;
mod synthetic;

pub use counts::{Counts, Kind, RoundTrip};
pub use error::PeerError;
pub use peer::Peer;
pub use run::Running;
