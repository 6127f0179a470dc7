//! Counts that tests and operators read to prove nothing is left behind, published by
//! whoever changes the protocol state (the connection task, or a caller applying its own
//! answer) and read by [`Client::stats`](crate::Client::stats) without a round trip.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counts that tests and operators read to prove nothing is left behind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Requests waiting for an answer.
    pub pending_transactions: usize,
    /// Requests waiting for a connection (during a reconnect).
    pub queued_requests: usize,
    /// Live sessions.
    pub sessions: usize,
    /// Live handles.
    pub handles: usize,
    /// Events dropped because a consumer was slow.
    pub dropped_events: u64,
    /// Incoming frames or messages that could not be decoded.
    pub malformed_messages: u64,
    /// Replies whose transaction no pending request has (late answers to requests that
    /// timed out, or never ours; dropped), and plugin answers to requests that failed or
    /// were given up first (delivered to their handle as
    /// [`HandleEvent::LateReply`](crate::HandleEvent::LateReply), since they carry plugin
    /// state).
    pub unknown_transactions: u64,
    /// Events for sessions or handles that are not known here.
    pub unroutable_events: u64,
    /// Successful reconnects.
    pub reconnects: u64,
}

/// The published copy of [`Stats`].
#[derive(Default)]
pub(crate) struct StatsCell {
    values: [AtomicU64; 9],
}

impl StatsCell {
    /// Publishes a snapshot (all but the queue). Published before any request is answered,
    /// so a caller whose request completed reads counts that include it.
    pub(crate) fn publish(&self, s: &Stats) {
        let all = [
            s.pending_transactions as u64,
            self.values[1].load(Ordering::Relaxed),
            s.sessions as u64,
            s.handles as u64,
            s.dropped_events,
            s.malformed_messages,
            s.unknown_transactions,
            s.unroutable_events,
            s.reconnects,
        ];
        for (cell, v) in self.values.iter().zip(all) {
            cell.store(v, Ordering::Relaxed);
        }
    }

    /// Publishes the number of requests waiting for a usable link.
    pub(crate) fn publish_queue(&self, queued: usize) {
        self.values[1].store(queued as u64, Ordering::Relaxed);
    }

    pub(crate) fn read(&self) -> Stats {
        let v = |i: usize| self.values[i].load(Ordering::Relaxed);
        let n = |i: usize| usize::try_from(v(i)).unwrap_or(usize::MAX);
        Stats {
            pending_transactions: n(0),
            queued_requests: n(1),
            sessions: n(2),
            handles: n(3),
            dropped_events: v(4),
            malformed_messages: v(5),
            unknown_transactions: v(6),
            unroutable_events: v(7),
            reconnects: v(8),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_counts_read_back() {
        let cell = StatsCell::default();
        assert_eq!(cell.read(), Stats::default());
        let s = Stats {
            pending_transactions: 1,
            queued_requests: 2,
            sessions: 3,
            handles: 4,
            dropped_events: 5,
            malformed_messages: 6,
            unknown_transactions: 7,
            unroutable_events: 8,
            reconnects: 9,
        };
        cell.publish(&s);
        cell.publish_queue(2);
        assert_eq!(cell.read(), s);
    }
}
