//! Real WebRTC media through Janus 1.1.2, signalled by this library over every compiled-in
//! transport: a str0m peer (the dev-only `test-peer` crate) sends synthetic Opus and VP8 RTP.
//!
//! Janus never gathers ICE candidates on loopback, so `scripts/test` runs the instance
//! `JANUS_MEDIA` inside a network namespace of its own (scripts/netns), joined to the host
//! by a veth pair: Janus serves its transports and gathers its candidate on the namespace's
//! end, and the peer binds `JANUS_MEDIA_PEER_IP`, the host's end. Signalling and media both
//! cross that pair only. Without those variables the tests print a loud SKIPPED line, and
//! fail when `CI` is set.

mod common;

use common::{env_or_skip, targets, Target};
use futures::StreamExt;
use janus_client::plugins::{echotest, Plugin, PluginEvent, PluginEvents, PluginHandle};
use janus_client::{Candidate, HandleEvent, Jsep, Trickle};
use std::net::IpAddr;
use std::time::{Duration, Instant};
use test_peer::{Counts, Kind, Peer};

/// How long synthetic media flows before the counts are compared.
const FLOW: Duration = Duration::from_secs(3);

fn peer_ip() -> Option<IpAddr> {
    let ip = env_or_skip("JANUS_MEDIA_PEER_IP")?;
    Some(
        ip.parse()
            .unwrap_or_else(|e| panic!("JANUS_MEDIA_PEER_IP={ip}: {e}")),
    )
}

/// Waits for the first event `pick` accepts, failing after `limit`.
async fn wait_for<P: Plugin, T>(
    events: &mut PluginEvents<P>,
    limit: Duration,
    mut pick: impl FnMut(&PluginEvent<P::Event>) -> Option<T>,
) -> T
where
    P::Event: std::fmt::Debug,
{
    let deadline = tokio::time::Instant::now() + limit;
    let mut seen = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, events.next()).await {
            Ok(Some(ev)) => {
                if let Some(t) = pick(&ev) {
                    return t;
                }
                if ev.is_closed() {
                    panic!("stream closed before the expected event; saw {seen:#?} then {ev:?}");
                }
                seen.push(ev);
            }
            Ok(None) => panic!("stream ended; saw {seen:#?}"),
            Err(_) => panic!("no expected event within {limit:?}; saw {seen:#?}"),
        }
    }
}

/// Waits for `webrtcup` and for `media` with `receiving: true` for audio and for video, in
/// any order; returns when `webrtcup` came, measured from `start`.
async fn wait_up<P: Plugin>(events: &mut PluginEvents<P>, start: Instant) -> Duration
where
    P::Event: std::fmt::Debug,
{
    let (mut up, mut audio, mut video) = (None, false, false);
    while up.is_none() || !audio || !video {
        wait_for(events, Duration::from_secs(20), |ev| match ev {
            PluginEvent::Handle(HandleEvent::WebrtcUp) => {
                up = Some(start.elapsed());
                Some(())
            }
            PluginEvent::Handle(HandleEvent::Media {
                kind, receiving, ..
            }) => {
                assert!(*receiving, "media stopped: {ev:?}");
                match kind.as_deref() {
                    Some("audio") => audio = true,
                    Some("video") => video = true,
                    other => panic!("media of kind {other:?}"),
                }
                Some(())
            }
            _ => None,
        })
        .await;
    }
    up.unwrap_or_default()
}

/// Sends `line` and then `completed` as trickles.
async fn trickle(h: &janus_client::Handle, (line, mid, index): (String, Option<String>, u32)) {
    let c = Candidate {
        candidate: line,
        sdp_mid: mid,
        sdp_m_line_index: Some(index),
    };
    h.trickle(Trickle::Candidate(c)).await.expect("trickle");
    h.trickle(Trickle::Completed)
        .await
        .expect("trickle completed");
}

/// Pauses the media, waits until what is still on its way came back (or 3 s), and asserts
/// that at least 90% of every kind came back.
async fn assert_echoed(running: &test_peer::Running, what: &str) -> Counts {
    running.set_sending(false);
    // The last packets are in flight: stop once every kind is fully back, or after 3 s.
    let (c, _) = running
        .wait_counts(Duration::from_secs(3), |c| {
            c.audio_received >= c.audio_sent && c.video_received >= c.video_sent
        })
        .await;
    for kind in [Kind::Audio, Kind::Video] {
        assert!(c.sent(kind) > 0, "{what}: no {kind:?} sent: {c:?}");
        assert!(
            c.received(kind) * 10 >= c.sent(kind) * 9,
            "{what}: less than 90% of {kind:?} came back: {c:?}"
        );
    }
    c
}

async fn echotest_media(t: Target, ip: IpAddr) {
    let client = t.connect().await;
    let session = client.create_session().await.expect("create session");
    let echo = PluginHandle::<echotest::EchoTest>::attach(&session)
        .await
        .expect("attach echotest");
    let mut events = echo.events();
    let mut peer = Peer::bind(ip).await.expect("peer socket");
    let offer = peer.offer(true, true).expect("offer");

    let start = Instant::now();
    let answer = echo
        .request(
            &echotest::Configure {
                audio: Some(true),
                video: Some(true),
                ..Default::default()
            }
            .with_jsep(Jsep::offer(offer)),
        )
        .await
        .expect("configure with the offer");
    assert_eq!(answer.result.as_deref(), Some("ok"));
    let jsep = answer.jsep.expect("Janus answers the offer");
    assert_eq!(jsep.kind, "answer");
    peer.accept_answer(&jsep.sdp).expect("accept the answer");
    trickle(echo.handle(), peer.candidate()).await;
    let mut running = peer.start();

    let up = wait_up(&mut events, start).await;
    assert!(
        running.connected(Duration::from_secs(10)).await,
        "{}: peer never connected",
        t.transport
    );
    // Let media flow, then compare.
    let (flowing, _) = running
        .wait_counts(FLOW + Duration::from_secs(5), |c| {
            c.audio_sent >= FLOW.as_millis() as u64 / 20
        })
        .await;
    assert!(
        flowing.audio_sent > 0,
        "{}: nothing sent: {flowing:?}",
        t.transport
    );
    let c = assert_echoed(&running, t.transport).await;
    println!(
        "echotest over {}: offer -> webrtcup {:?}; audio {}/{} back, video {}/{} back",
        t.transport, up, c.audio_received, c.audio_sent, c.video_received, c.video_sent
    );

    echo.hangup().await.expect("hangup");
    wait_for(&mut events, Duration::from_secs(10), |ev| match ev {
        PluginEvent::Handle(HandleEvent::Hangup { .. }) => Some(()),
        _ => None,
    })
    .await;
    running.close().await.expect("peer closes cleanly");
    echo.detach().await.expect("detach");
    session.destroy().await.expect("destroy session");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echotest_media_over_every_transport() {
    let Some(ip) = peer_ip() else { return };
    for t in targets("JANUS_MEDIA") {
        echotest_media(t, ip).await;
    }
}
