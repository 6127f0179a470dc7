//! Packet counts per kind of media.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// The most packets the tally remembers per set (sequence numbers seen, send times, round
/// trips): more than 20 minutes of media; past it, packets are counted but not told apart
/// or timed.
const MAX_TRACKED: usize = 100_000;

/// Audio or video.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Opus.
    Audio,
    /// VP8.
    Video,
}

/// RTP packets sent, and distinct ones received (by sequence number, so a retransmission
/// is not counted twice), per kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Opus packets sent.
    pub audio_sent: u64,
    /// VP8 packets sent.
    pub video_sent: u64,
    /// Distinct Opus packets received.
    pub audio_received: u64,
    /// Distinct VP8 packets received.
    pub video_received: u64,
}

impl Counts {
    /// Packets of `kind` sent.
    pub fn sent(&self, kind: Kind) -> u64 {
        match kind {
            Kind::Audio => self.audio_sent,
            Kind::Video => self.video_sent,
        }
    }

    /// Distinct packets of `kind` received.
    pub fn received(&self, kind: Kind) -> u64 {
        match kind {
            Kind::Audio => self.audio_received,
            Kind::Video => self.video_received,
        }
    }
}

/// The round trip of the packets that came back with the sequence number they were sent
/// with (an echo).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoundTrip {
    /// The shortest.
    pub min: Duration,
    /// The median.
    pub median: Duration,
    /// The longest.
    pub max: Duration,
    /// How many packets were timed.
    pub samples: usize,
}

/// The counts, the sequence numbers seen and the send times, kept by the run loop.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub(crate) counts: Counts,
    seen_audio: HashSet<u64>,
    seen_video: HashSet<u64>,
    sent_at: HashMap<(Kind, u64), Instant>,
    round_trips: Vec<Duration>,
}

impl Tally {
    pub(crate) fn sent(&mut self, kind: Kind, seq: u64, at: Instant) {
        match kind {
            Kind::Audio => self.counts.audio_sent += 1,
            Kind::Video => self.counts.video_sent += 1,
        }
        if self.sent_at.len() < MAX_TRACKED {
            self.sent_at.insert((kind, seq), at);
        }
    }

    /// One packet received at `at`; a sequence number already seen is not counted again.
    /// One sent with the same sequence number is timed.
    pub(crate) fn received(&mut self, kind: Kind, seq: u64, at: Instant) {
        let (seen, count) = match kind {
            Kind::Audio => (&mut self.seen_audio, &mut self.counts.audio_received),
            Kind::Video => (&mut self.seen_video, &mut self.counts.video_received),
        };
        if seen.len() >= MAX_TRACKED {
            *count += 1;
            return;
        }
        if seen.insert(seq) {
            *count += 1;
        }
        if let Some(sent) = self.sent_at.remove(&(kind, seq)) {
            if self.round_trips.len() < MAX_TRACKED {
                self.round_trips.push(at.saturating_duration_since(sent));
            }
        }
    }

    pub(crate) fn round_trip(&self) -> Option<RoundTrip> {
        let mut v = self.round_trips.clone();
        v.sort();
        Some(RoundTrip {
            min: *v.first()?,
            median: v[v.len() / 2],
            max: *v.last()?,
            samples: v.len(),
        })
    }
}
