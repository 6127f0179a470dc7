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

use common::proxy::Proxy;
use common::{env_or_skip, targets, until_usable, wait_for, Target};
use futures::StreamExt;
use janus_client::plugins::{echotest, videoroom, Plugin, PluginEvent, PluginEvents, PluginHandle};
use janus_client::{Candidate, ConnectionState, HandleEvent, Jsep, SessionEvent, Trickle};
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

/// The event handler's view of the echotest (feature `evh`; without it, nothing to check).
#[cfg(feature = "evh")]
type Evh = common::media_evh::Collector;
#[cfg(not(feature = "evh"))]
type Evh = ();

async fn echotest_media(t: Target, ip: IpAddr, evh: &Evh) {
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
    let answered = start.elapsed();
    assert_eq!(answer.result.as_deref(), Some("ok"));
    let jsep = answer.jsep.expect("Janus answers the offer");
    assert_eq!(jsep.kind, "answer");
    peer.accept_answer(&jsep.sdp).expect("accept the answer");
    trickle(echo.handle(), peer.candidate()).await;
    let trickled = start.elapsed();
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
    let rt = running.round_trip().expect("echoed packets were timed");
    println!(
        "echotest over {}: offer -> webrtcup {:?} (answer {:?}, trickles done {:?}); \
         audio {}/{} back, video {}/{} back; round trip median {:?} (max {:?})",
        t.transport,
        up,
        answered,
        trickled,
        c.audio_received,
        c.audio_sent,
        c.video_received,
        c.video_sent,
        rt.median,
        rt.max
    );

    echo.hangup().await.expect("hangup");
    wait_for(&mut events, Duration::from_secs(10), |ev| match ev {
        PluginEvent::Handle(HandleEvent::Hangup { .. }) => Some(()),
        _ => None,
    })
    .await;
    running.close().await.expect("peer closes cleanly");
    echo.detach().await.expect("detach");
    let id = session.id();
    session.destroy().await.expect("destroy session");
    #[cfg(feature = "evh")]
    evh.expect_echotest(id, t.transport).await;
    #[cfg(not(feature = "evh"))]
    let _ = (evh, id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echotest_media_over_every_transport() {
    let Some(ip) = peer_ip() else { return };
    #[cfg(feature = "evh")]
    let Some(evh) = common::media_evh::Collector::start(ip).await
    else {
        return;
    };
    #[cfg(not(feature = "evh"))]
    let evh = ();
    for t in targets("JANUS_MEDIA") {
        echotest_media(t, ip, &evh).await;
    }
    #[cfg(feature = "evh")]
    evh.stop().await;
}

async fn videoroom_media(t: Target, ip: IpAddr) {
    use videoroom::*;
    let what = t.transport;
    let client = t.connect().await;
    let session = client.create_session().await.expect("create session");

    // The publisher: a room, a join, then `publish` with the offer.
    let publisher = PluginHandle::<VideoRoom>::attach(&session)
        .await
        .expect("attach");
    let mut pub_events = publisher.events();
    let room = publisher
        .request(&Create {
            description: Some("media test".into()),
            publishers: Some(2),
            ..Default::default()
        })
        .await
        .expect("create room")
        .room;
    let joined = publisher
        .request(&JoinPublisher {
            display: Some("synthetic".into()),
            ..JoinPublisher::new(room.clone())
        })
        .await
        .expect("join as publisher");
    let mut pub_peer = Peer::bind(ip).await.expect("peer socket");
    let offer = pub_peer.offer(true, true).expect("offer");
    let start = Instant::now();
    let configured = publisher
        .request(&Publish::new().with_jsep(Jsep::offer(offer)))
        .await
        .expect("publish");
    let answer = configured
        .jsep
        .expect("Janus answers the publisher's offer");
    pub_peer
        .accept_answer(&answer.sdp)
        .expect("accept the answer");
    trickle(publisher.handle(), pub_peer.candidate()).await;
    let mut pub_running = pub_peer.start();
    let pub_up = wait_up(&mut pub_events, start).await;
    assert!(
        pub_running.connected(Duration::from_secs(10)).await,
        "{what}: publisher never connected"
    );

    // The subscriber: Janus offers, it answers with `start`.
    let subscriber = PluginHandle::<VideoRoom>::attach(&session)
        .await
        .expect("attach");
    let mut sub_events = subscriber.events();
    let attached = subscriber
        .request(&JoinSubscriber::new(
            room.clone(),
            vec![SubscribeStream::feed(joined.id.clone())],
        ))
        .await
        .expect("join as subscriber");
    assert_eq!(attached.streams.len(), 2, "{what}: {attached:?}");
    let offer = attached.jsep.expect("Janus offers to the subscriber");
    assert_eq!(offer.kind, "offer");
    let mut sub_peer = Peer::bind(ip).await.expect("peer socket");
    let sub_start = Instant::now();
    let answer = sub_peer.accept_offer(&offer.sdp).expect("answer Janus");
    subscriber
        .request(&Start::new().with_jsep(Jsep::answer(answer)))
        .await
        .expect("start");
    subscriber
        .handle()
        .trickle(Trickle::Completed)
        .await
        .expect("trickle completed");
    let sub_running = sub_peer.start();
    let sub_up = wait_for(&mut sub_events, Duration::from_secs(20), |ev| match ev {
        PluginEvent::Handle(HandleEvent::WebrtcUp) => Some(sub_start.elapsed()),
        _ => None,
    })
    .await;
    // The publisher's media reaches the subscriber.
    let (got, ok) = sub_running
        .wait_counts(Duration::from_secs(15), |c| {
            c.audio_received >= 50 && c.video_received >= 25
        })
        .await;
    assert!(
        ok,
        "{what}: the subscriber did not receive the publisher's media: {got:?}"
    );
    let sent = pub_running.counts();

    // Unpublish: the subscriber is told (an `updated` offer without the publisher's
    // streams), answers it, and its media stops.
    publisher
        .request(&Unpublish::new())
        .await
        .expect("unpublish");
    let (updated, jsep) = wait_for(&mut sub_events, Duration::from_secs(10), |ev| match ev {
        PluginEvent::Plugin {
            event: Event::Updated(u),
            jsep,
        } => Some((u.clone(), jsep.clone())),
        _ => None,
    })
    .await;
    assert!(
        updated.streams.iter().all(|s| s.active != Some(true)),
        "{what}: streams still active after unpublish: {updated:?}"
    );
    let reoffer = jsep.expect("a new offer with the update");
    let answer = sub_running
        .accept_offer(&reoffer.sdp)
        .await
        .expect("answer the update");
    subscriber
        .request(&Start::new().with_jsep(Jsep::answer(answer)))
        .await
        .expect("start after the update");
    // Stopped: two counts 500 ms apart are equal (within 10 s).
    let sub = &sub_running;
    let stopped = common::eventually(Duration::from_secs(10), || async move {
        let before = sub.counts();
        tokio::time::sleep(Duration::from_millis(500)).await;
        before == sub.counts()
    })
    .await;
    assert!(
        stopped,
        "{what}: media still arrives after unpublish: {:?}",
        sub_running.counts()
    );

    // Destroying the room tells the publisher, still in it.
    publisher
        .request(&Destroy::new(room.clone()))
        .await
        .expect("destroy the room");
    wait_for(&mut pub_events, Duration::from_secs(10), |ev| match ev {
        PluginEvent::Plugin {
            event: Event::Destroyed { room: r },
            ..
        } if *r == room => Some(()),
        _ => None,
    })
    .await;
    println!(
        "videoroom over {what}: publish -> webrtcup {pub_up:?}, subscriber answer -> webrtcup \
         {sub_up:?}; publisher sent audio {} video {}, subscriber got audio {} video {} \
         before unpublish",
        sent.audio_sent, sent.video_sent, got.audio_received, got.video_received
    );
    pub_running.close().await.expect("publisher peer closes");
    sub_running.close().await.expect("subscriber peer closes");
    session.destroy().await.expect("destroy session");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn videoroom_media_over_every_transport() {
    let Some(ip) = peer_ip() else { return };
    for t in targets("JANUS_MEDIA") {
        videoroom_media(t, ip).await;
    }
}

/// An echotest through a proxy that cuts the connection (and refuses new ones for 2 s)
/// while media flows: Janus keeps the session for its reclaim window, the library claims
/// it on the new connection, and the PeerConnection never notices, since Janus' media path
/// does not go through the signalling connection.
async fn media_through_a_cut(t: Target, ip: IpAddr) {
    let what = t.transport;
    let proxy = Proxy::start(&t.url).await;
    let client = proxy.target(&t).connect().await;
    let mut state = client.connection_state();
    let session = client.create_session().await.expect("create session");
    let mut session_events = session.events();
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
    let jsep = answer.jsep.expect("Janus answers the offer");
    peer.accept_answer(&jsep.sdp).expect("accept the answer");
    trickle(echo.handle(), peer.candidate()).await;
    let mut running = peer.start();
    wait_up(&mut events, start).await;
    assert!(
        running.connected(Duration::from_secs(10)).await,
        "{what}: peer never connected"
    );

    // The cut, and no connection for 2 s: the echo keeps coming back meanwhile.
    let before = running.counts();
    proxy.refuse(true);
    proxy.cut();
    let cut_at = Instant::now();
    let (during, flowed) = running
        .wait_counts(Duration::from_secs(10), |c| {
            c.audio_received >= before.audio_received + 50
                && c.video_received >= before.video_received + 25
        })
        .await;
    assert!(
        flowed,
        "{what}: media stopped with the signalling cut: {before:?} -> {during:?}"
    );
    let wait = Duration::from_secs(2).saturating_sub(cut_at.elapsed());
    tokio::time::sleep(wait).await;
    let down_for = cut_at.elapsed();
    proxy.refuse(false);

    // The session is claimed on a new connection, the handle answers, and nothing happened
    // to the PeerConnection.
    let ev = tokio::time::timeout(Duration::from_secs(15), session_events.recv())
        .await
        .unwrap_or_else(|_| panic!("{what}: no session event within 15 s of the cut"));
    assert_eq!(ev, Some(SessionEvent::Reclaimed), "{what}");
    // Reconnected once every claim is over (the Reclaimed event comes with its own claim).
    let reconnected = tokio::time::timeout(
        Duration::from_secs(10),
        state.wait_for(|s| *s == ConnectionState::Reconnected),
    )
    .await
    .is_ok_and(|r| r.is_ok());
    assert!(
        reconnected,
        "{what}: not Reconnected within 10 s: {:?}",
        *state.borrow()
    );
    until_usable(echo.handle(), Duration::from_secs(10)).await;
    assert!(
        running.is_connected(),
        "{what}: the PeerConnection went down"
    );
    let after = running.counts();
    let (_, still) = running
        .wait_counts(Duration::from_secs(10), |c| {
            c.audio_received >= after.audio_received + 25
                && c.video_received >= after.video_received + 12
        })
        .await;
    assert!(still, "{what}: media stopped after the reconnect");
    let c = assert_echoed(&running, what).await;
    {
        use futures::FutureExt;
        while let Some(Some(ev)) = events.next().now_or_never() {
            assert!(
                !matches!(
                    ev,
                    PluginEvent::Handle(
                        HandleEvent::Hangup { .. } | HandleEvent::Detached | HandleEvent::Closed(_)
                    )
                ),
                "{what}: the handle saw {ev:?} across the cut"
            );
        }
    }
    println!(
        "media through a cut over {what}: signalling down {down_for:?}, echo during the cut \
         audio +{} video +{}; in all audio {}/{} back, video {}/{} back",
        during.audio_received - before.audio_received,
        during.video_received - before.video_received,
        c.audio_received,
        c.audio_sent,
        c.video_received,
        c.video_sent
    );
    echo.hangup().await.expect("hangup");
    running.close().await.expect("peer closes cleanly");
    session.destroy().await.expect("destroy session");
}

/// Over the transports whose connection carries the session (a WebSocket, a Unix socket):
/// a cut there is a disconnect that Janus answers with its reclaim window. (HTTP has no
/// connection to cut; MQTT and RabbitMQ go through a broker.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_keeps_flowing_through_a_signalling_cut() {
    let Some(ip) = peer_ip() else { return };
    let mut covered = Vec::new();
    for t in targets("JANUS_MEDIA") {
        if t.transport == "ws" || t.transport == "unix" {
            covered.push(t.transport);
            media_through_a_cut(t, ip).await;
        }
    }
    assert!(
        !cfg!(feature = "ws") || covered.contains(&"ws"),
        "the WebSocket cut did not run: {covered:?}"
    );
}
