//! The running PeerConnection: the str0m loop (socket, timers, synthetic media) in a task,
//! and the handle the caller keeps.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use str0m::change::SdpOffer;
use str0m::media::Mid;
use str0m::net::{Protocol, Receive};
use str0m::rtp::{RtpPacket, RtpWrite, SeqNo};
use str0m::{Event, IceConnectionState, Input, Output, Rtc};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::counts::Tally;
use crate::peer::Peer;
use crate::{synthetic, Counts, Kind, PeerError, RoundTrip};

/// The interval of the audio packets; a video frame goes every second one.
const TICK: Duration = Duration::from_millis(20);

/// A running peer. Dropping it stops the task.
#[derive(Debug)]
pub struct Running {
    tally: Arc<Mutex<Tally>>,
    connected: watch::Receiver<bool>,
    sending: watch::Sender<bool>,
    stop: Option<oneshot::Sender<()>>,
    offers: mpsc::Sender<Renegotiation>,
    task: JoinHandle<Result<(), PeerError>>,
}

/// A remote offer for the running peer, and where its answer goes.
type Renegotiation = (String, oneshot::Sender<Result<String, PeerError>>);

impl Running {
    pub(crate) fn spawn(peer: Peer) -> Running {
        let tally = Arc::new(Mutex::new(Tally::default()));
        let (connected_tx, connected) = watch::channel(false);
        let (sending, sending_rx) = watch::channel(true);
        let (stop, stop_rx) = oneshot::channel();
        let (offers, offers_rx) = mpsc::channel(1);
        let task = tokio::spawn(drive(
            peer,
            Shared {
                tally: tally.clone(),
                connected: connected_tx,
            },
            sending_rx,
            stop_rx,
            offers_rx,
        ));
        Running {
            tally,
            connected,
            sending,
            stop: Some(stop),
            offers,
            task,
        }
    }

    /// Answers a new remote offer (a renegotiation) while the connection runs.
    pub async fn accept_offer(&self, sdp: &str) -> Result<String, PeerError> {
        let (tx, rx) = oneshot::channel();
        self.offers
            .send((sdp.to_string(), tx))
            .await
            .map_err(|_| PeerError("the peer loop has ended".into()))?;
        rx.await
            .map_err(|_| PeerError("the peer loop has ended".into()))?
    }

    /// Waits until ICE and DTLS are up (true), or `limit` passes or the loop ends (false).
    pub async fn connected(&mut self, limit: Duration) -> bool {
        tokio::time::timeout(limit, self.connected.wait_for(|c| *c))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Whether the connection is up now.
    pub fn is_connected(&self) -> bool {
        *self.connected.borrow()
    }

    /// The counts so far.
    pub fn counts(&self) -> Counts {
        self.tally.lock().map(|t| t.counts).unwrap_or_default()
    }

    /// The round trip of the packets that came back so far (an echo), if any did.
    pub fn round_trip(&self) -> Option<RoundTrip> {
        self.tally.lock().ok().and_then(|t| t.round_trip())
    }

    /// Sends synthetic media (the default) or pauses it.
    pub fn set_sending(&self, on: bool) {
        self.sending.send_replace(on);
    }

    /// Waits until `done(counts)` holds, or `limit` passes; returns the last counts and
    /// whether it held.
    pub async fn wait_counts(
        &self,
        limit: Duration,
        mut done: impl FnMut(&Counts) -> bool,
    ) -> (Counts, bool) {
        let end = tokio::time::Instant::now() + limit;
        loop {
            let c = self.counts();
            if done(&c) {
                return (c, true);
            }
            if tokio::time::Instant::now() >= end || self.task.is_finished() {
                return (c, false);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Closes the PeerConnection (DTLS close) and returns the final counts, or how the
    /// loop failed.
    pub async fn close(mut self) -> Result<Counts, PeerError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let task = &mut self.task;
        match tokio::time::timeout(Duration::from_secs(5), task).await {
            Ok(Ok(r)) => r.map(|()| self.counts()),
            Ok(Err(e)) => Err(PeerError(format!("peer task: {e}"))),
            Err(_) => Err(PeerError("peer task did not stop within 5 s".into())),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What the loop reports to the handle.
struct Shared {
    tally: Arc<Mutex<Tally>>,
    connected: watch::Sender<bool>,
}

impl Shared {
    fn tally(&self, f: impl FnOnce(&mut Tally)) {
        if let Ok(mut t) = self.tally.lock() {
            f(&mut t);
        }
    }
}

/// The synthetic stream of one sending mid.
struct Track {
    mid: Mid,
    kind: Kind,
    seq: u64,
    frames: u64,
}

async fn drive(
    peer: Peer,
    shared: Shared,
    sending: watch::Receiver<bool>,
    mut stop: oneshot::Receiver<()>,
    mut offers: mpsc::Receiver<Renegotiation>,
) -> Result<(), PeerError> {
    let Peer {
        mut rtc,
        socket,
        sending: mids,
        ..
    } = peer;
    let local = socket.local_addr()?;
    let mut tracks: Vec<Track> = mids
        .into_iter()
        .map(|(mid, kind)| Track {
            mid,
            kind,
            seq: 1,
            frames: 0,
        })
        .collect();
    let start = Instant::now();
    let mut buf = vec![0u8; 2048];
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut ticks: u64 = 0;
    loop {
        let deadline = drain(&mut rtc, &socket, &shared).await?;
        if !rtc.is_alive() {
            return Ok(());
        }
        tokio::select! {
            _ = &mut stop => {
                rtc.disconnect();
                let _ = drain(&mut rtc, &socket, &shared).await;
                return Ok(());
            }
            Some((sdp, reply)) = offers.recv() => {
                let answer = SdpOffer::from_sdp_string(&sdp)
                    .map_err(|e| PeerError(format!("offer SDP: {e}")))
                    .and_then(|offer| Ok(rtc.sdp_api().accept_offer(offer)?))
                    .map(|answer| answer.to_sdp_string());
                let _ = reply.send(answer);
            }
            r = socket.recv_from(&mut buf) => {
                let (n, source) = r?;
                let Ok(contents) = buf[..n].try_into() else {
                    continue; // not STUN, DTLS, RTP or RTCP: ignored
                };
                rtc.handle_input(Input::Receive(
                    Instant::now(),
                    Receive { proto: Protocol::Udp, source, destination: local, contents },
                ))?;
            }
            _ = tokio::time::sleep_until(deadline.into()) => {
                rtc.handle_input(Input::Timeout(Instant::now()))?;
            }
            _ = tick.tick() => {
                ticks += 1;
                if !*shared.connected.borrow() || !*sending.borrow() {
                    continue;
                }
                let now = Instant::now();
                let elapsed = now - start;
                for t in tracks.iter_mut() {
                    if t.kind == Kind::Video && ticks % 2 == 1 {
                        continue;
                    }
                    if let Some(seq) = write(&mut rtc, t, now, elapsed) {
                        shared.tally(|tally| tally.sent(t.kind, seq, now));
                    }
                    // One mutation, then a full drain, before the next.
                    drain(&mut rtc, &socket, &shared).await?;
                }
            }
        }
    }
}

/// Writes the next packet of `t` and returns its sequence number; `None` when the stream
/// is not there (yet).
fn write(rtc: &mut Rtc, t: &mut Track, now: Instant, elapsed: Duration) -> Option<u64> {
    let codec = match t.kind {
        Kind::Audio => str0m::format::Codec::Opus,
        Kind::Video => str0m::format::Codec::Vp8,
    };
    let pt = rtc
        .codec_config()
        .params()
        .iter()
        .find(|p| p.spec().codec == codec)
        .map(|p| p.pt())?;
    let (clock, payload) = match t.kind {
        Kind::Audio => (48_000, synthetic::opus()),
        Kind::Video => (90_000, synthetic::vp8(t.frames)),
    };
    let time = (elapsed.as_micros() as u64 * clock / 1_000_000) as u32;
    let mut api = rtc.direct_api();
    let tx = api.stream_tx_by_mid(t.mid, None)?;
    let seq = t.seq;
    tx.write_rtp(RtpWrite::new(pt, SeqNo::from(seq), time, now, payload).marker(true));
    t.seq += 1;
    t.frames += 1;
    Some(seq)
}

/// Polls `rtc` until it asks for a timeout (which it returns), sending what it transmits
/// and handling its events.
async fn drain(rtc: &mut Rtc, socket: &UdpSocket, shared: &Shared) -> Result<Instant, PeerError> {
    loop {
        match rtc.poll_output()? {
            Output::Timeout(t) => return Ok(t),
            Output::Transmit(t) => {
                // A datagram that cannot go is lost, as on any network.
                let _ = socket.send_to(&t.contents, t.destination).await;
            }
            Output::Event(e) => match e {
                Event::Connected => {
                    shared.connected.send_replace(true);
                }
                Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                    shared.connected.send_replace(false);
                }
                Event::RtpPacket(p) => received(rtc, shared, &p),
                _ => {}
            },
        }
    }
}

/// Counts an incoming packet under the kind of the media its stream belongs to.
fn received(rtc: &mut Rtc, shared: &Shared, p: &RtpPacket) {
    let Some(mid) = rtc.direct_api().stream_rx(&p.header.ssrc).map(|s| s.mid()) else {
        return;
    };
    let kind = match rtc.media(mid).map(|m| m.kind()) {
        Some(str0m::media::MediaKind::Audio) => Kind::Audio,
        Some(str0m::media::MediaKind::Video) => Kind::Video,
        None => return,
    };
    shared.tally(|t| t.received(kind, *p.seq_no, p.timestamp));
}
