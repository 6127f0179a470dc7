//! The peer before it runs: its socket, its candidate and the SDP negotiation.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::media::{Direction, MediaKind, Mid};
use str0m::{Candidate, Rtc, RtcConfig};
use tokio::net::UdpSocket;

use crate::run::Running;
use crate::{Kind, PeerError};

/// A WebRTC peer with one UDP socket and one host candidate on it, offering or answering
/// Opus audio and VP8 video in RTP mode.
pub struct Peer {
    pub(crate) rtc: Rtc,
    pub(crate) socket: UdpSocket,
    pub(crate) candidate: Candidate,
    pub(crate) sending: Vec<(Mid, Kind)>,
    pending: Option<SdpPendingOffer>,
    first_mid: Option<String>,
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peer")
            .field("candidate", &self.candidate.to_sdp_string())
            .finish_non_exhaustive()
    }
}

impl Peer {
    /// A peer whose socket is bound to `ip` (port chosen by the system). The address must
    /// be one Janus reaches; its candidate is not added yet (see [`candidate`](Self::candidate)).
    pub async fn bind(ip: IpAddr) -> Result<Peer, PeerError> {
        let socket = UdpSocket::bind(SocketAddr::new(ip, 0)).await?;
        let addr = socket.local_addr()?;
        let candidate = Candidate::host(addr, "udp")
            .map_err(|e| PeerError(format!("candidate for {addr}: {e}")))?;
        let rtc = RtcConfig::new()
            .clear_codecs()
            .enable_opus(true, false)
            .enable_vp8(true)
            .set_rtp_mode(true)
            .build(Instant::now());
        Ok(Peer {
            rtc,
            socket,
            candidate,
            sending: Vec::new(),
            pending: None,
            first_mid: None,
        })
    }

    /// The local address (the candidate's).
    pub fn local_addr(&self) -> SocketAddr {
        self.candidate.addr()
    }

    /// An offer of `audio` (Opus) and `video` (VP8), each send-and-receive. It holds no
    /// candidate: trickle [`candidate`](Self::candidate).
    pub fn offer(&mut self, audio: bool, video: bool) -> Result<String, PeerError> {
        let mut change = self.rtc.sdp_api();
        let mut sending = Vec::new();
        if audio {
            let mid = change.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
            sending.push((mid, Kind::Audio));
        }
        if video {
            let mid = change.add_media(MediaKind::Video, Direction::SendRecv, None, None, None);
            sending.push((mid, Kind::Video));
        }
        let (offer, pending) = change
            .apply()
            .ok_or_else(|| PeerError("nothing to offer".into()))?;
        self.first_mid = sending.first().map(|(mid, _)| mid.to_string());
        self.sending = sending;
        self.pending = Some(pending);
        Ok(offer.to_sdp_string())
    }

    /// Adds the host candidate to the ICE agent and returns it for a trickle: the
    /// `candidate:` line, the mid and the m-line index it is given for (the first m-line;
    /// one candidate serves them all, with BUNDLE).
    pub fn candidate(&mut self) -> (String, Option<String>, u32) {
        self.rtc.add_local_candidate(self.candidate.clone());
        (self.candidate.to_sdp_string(), self.first_mid.clone(), 0)
    }

    /// Applies the remote answer to [`offer`](Self::offer).
    pub fn accept_answer(&mut self, sdp: &str) -> Result<(), PeerError> {
        let pending = self
            .pending
            .take()
            .ok_or_else(|| PeerError("an answer without an offer".into()))?;
        let answer =
            SdpAnswer::from_sdp_string(sdp).map_err(|e| PeerError(format!("answer SDP: {e}")))?;
        self.rtc.sdp_api().accept_answer(pending, answer)?;
        Ok(())
    }

    /// Answers a remote offer (receiving only what it offers: a subscriber). The answer
    /// carries the host candidate, so nothing needs trickling.
    pub fn accept_offer(&mut self, sdp: &str) -> Result<String, PeerError> {
        self.rtc.add_local_candidate(self.candidate.clone());
        let offer =
            SdpOffer::from_sdp_string(sdp).map_err(|e| PeerError(format!("offer SDP: {e}")))?;
        let answer = self.rtc.sdp_api().accept_offer(offer)?;
        Ok(answer.to_sdp_string())
    }

    /// Runs the PeerConnection in a task of the current Tokio runtime; once connected it
    /// sends an Opus packet every 20 ms and a VP8 frame every 40 ms on what it offered.
    pub fn start(self) -> Running {
        Running::spawn(self)
    }
}
