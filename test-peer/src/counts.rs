//! Packet counts per kind of media.

use std::collections::HashSet;

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

/// The counts and the sequence numbers seen, kept by the run loop.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub(crate) counts: Counts,
    seen_audio: HashSet<u64>,
    seen_video: HashSet<u64>,
}

impl Tally {
    pub(crate) fn sent(&mut self, kind: Kind) {
        match kind {
            Kind::Audio => self.counts.audio_sent += 1,
            Kind::Video => self.counts.video_sent += 1,
        }
    }

    /// One packet received; a sequence number already seen is not counted again. The sets
    /// grow by one entry per packet: the peer runs for seconds, at 75 packets per second.
    pub(crate) fn received(&mut self, kind: Kind, seq: u64) {
        let (seen, count) = match kind {
            Kind::Audio => (&mut self.seen_audio, &mut self.counts.audio_received),
            Kind::Video => (&mut self.seen_video, &mut self.counts.video_received),
        };
        if seen.insert(seq) {
            *count += 1;
        }
    }
}
