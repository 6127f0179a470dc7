//! What a receiver counted: deliveries, events, and what it refused.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters shared by a receiver and its listeners.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) deliveries: AtomicU64,
    pub(crate) events: AtomicU64,
    pub(crate) skipped: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) garbage: AtomicU64,
    pub(crate) oversized: AtomicU64,
    pub(crate) refused: AtomicU64,
    pub(crate) connections: AtomicU64,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> ReceiverStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ReceiverStats {
            deliveries: get(&self.deliveries),
            events: get(&self.events),
            skipped: get(&self.skipped),
            dropped: get(&self.dropped),
            garbage: get(&self.garbage),
            oversized: get(&self.oversized),
            refused: get(&self.refused),
            connections: get(&self.connections),
        }
    }
}

/// A snapshot of a receiver's counters ([`Receiver::stats`](crate::Receiver::stats)), all
/// since the receiver was made, over all its listeners.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReceiverStats {
    /// Deliveries read (an HTTP body, a WebSocket message), each one event or an array.
    pub deliveries: u64,
    /// Events read from them.
    pub events: u64,
    /// Array elements that were not events (skipped).
    pub skipped: u64,
    /// Events dropped because the stream was full (told to the consumer as `Lagged`).
    pub dropped: u64,
    /// Deliveries refused as unreadable: not JSON, not events, not UTF-8, a bad gzip body,
    /// an unknown content encoding (HTTP 400 or 415).
    pub garbage: u64,
    /// Deliveries refused as too large (HTTP 413, WebSocket close 1009).
    pub oversized: u64,
    /// Requests and connections refused before reading a delivery: wrong credentials, path,
    /// method or subprotocol, or too many connections.
    pub refused: u64,
    /// Connections accepted (HTTP and WebSocket), and broker subscriptions made (the first
    /// and each one after a reconnect).
    pub connections: u64,
}
