//! An EchoTest with real WebRTC media: a PeerConnection (the workspace's `test-peer`
//! crate, on str0m) offers Opus audio and VP8 video, the offer goes to Janus through this
//! library (`echotest::Configure` with the JSEP, then a trickled candidate and
//! `completed`), and synthetic RTP flows for a few seconds. It prints the time from the
//! offer to `webrtcup`, the packets sent and echoed back per kind, and their round trip.
//!
//! ```text
//! cargo run --example echotest_media -- URL PEER_IP [SECONDS]
//! ```
//! PEER_IP is the local address the peer's UDP socket binds: one Janus reaches, never
//! loopback (Janus 1.1.2 gathers no ICE candidate there, so a Janus on 127.0.0.1 has none
//! to offer). `scripts/test` runs one such Janus in a network namespace; by hand:
//!
//! ```text
//! scripts/netns up demo                # prints NETNS_NAME, NETNS_HOST_IP (10.200.N.1), ...
//! scripts/janus start demo --netns jcN-demo
//! cargo run --example echotest_media -- ws://10.200.N.2:PORT 10.200.N.1
//! scripts/janus stop demo; scripts/netns down demo
//! ```

use janus_client::plugins::{echotest, PluginEvent, PluginHandle};
use janus_client::{connect, Candidate, Config, HandleEvent, Jsep, Trickle};
use std::net::IpAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use test_peer::Peer;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echotest_media: {e}");
            ExitCode::FAILURE
        }
    }
}

fn failed<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> String + '_ {
    move |e| format!("{what}: {e}")
}

async fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: echotest_media URL PEER_IP [SECONDS]";
    let url = args.next().ok_or(usage)?;
    let ip: IpAddr = args
        .next()
        .ok_or(usage)?
        .parse()
        .map_err(failed("PEER_IP"))?;
    let seconds: u64 = match args.next() {
        Some(s) => s.parse().map_err(failed("SECONDS"))?,
        None => 3,
    };
    if !(1..=600).contains(&seconds) {
        return Err(format!("SECONDS must be 1 to 600, got {seconds}"));
    }

    let client = connect(Config::new(url.clone()))
        .await
        .map_err(failed("connect"))?;
    let session = client.create_session().await.map_err(failed("session"))?;
    let echo = PluginHandle::<echotest::EchoTest>::attach(&session)
        .await
        .map_err(failed("attach the echotest"))?;
    // Subscribe before sending anything: events are kept only while a stream is open.
    let mut events = echo.events();

    let mut peer = Peer::bind(ip).await.map_err(failed("bind the peer"))?;
    let offer = peer.offer(true, true).map_err(failed("make an offer"))?;
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
        .map_err(failed("configure with the offer"))?;
    let jsep = answer.jsep.ok_or("Janus sent no answer")?;
    peer.accept_answer(&jsep.sdp)
        .map_err(failed("apply Janus' answer"))?;
    // Half-trickle: Janus' candidates are in its answer; ours go as trickles.
    let (candidate, sdp_mid, index) = peer.candidate();
    echo.handle()
        .trickle(Trickle::Candidate(Candidate {
            candidate,
            sdp_mid,
            sdp_m_line_index: Some(index),
        }))
        .await
        .map_err(failed("trickle"))?;
    echo.handle()
        .trickle(Trickle::Completed)
        .await
        .map_err(failed("trickle completed"))?;
    let running = peer.start();

    let up = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(ev) = events.recv().await {
            if let PluginEvent::Handle(HandleEvent::WebrtcUp) = ev {
                return Some(start.elapsed());
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
    .ok_or("no webrtcup within 20 s")?;
    println!("webrtcup    {up:?} after the offer, over {url}");

    tokio::time::sleep(Duration::from_secs(seconds)).await;
    running.set_sending(false);
    let (c, _) = running
        .wait_counts(Duration::from_secs(2), |c| {
            c.audio_received >= c.audio_sent && c.video_received >= c.video_sent
        })
        .await;
    println!(
        "audio       {} sent, {} echoed back ({:.1}%)",
        c.audio_sent,
        c.audio_received,
        percent(c.audio_received, c.audio_sent)
    );
    println!(
        "video       {} sent, {} echoed back ({:.1}%)",
        c.video_sent,
        c.video_received,
        percent(c.video_received, c.video_sent)
    );
    match running.round_trip() {
        Some(rt) => println!(
            "round trip  min {:?}, median {:?}, max {:?} ({} packets)",
            rt.min, rt.median, rt.max, rt.samples
        ),
        None => println!("round trip  none measured"),
    }

    echo.hangup().await.map_err(failed("hangup"))?;
    running.close().await.map_err(failed("close the peer"))?;
    echo.detach().await.map_err(failed("detach"))?;
    session
        .destroy()
        .await
        .map_err(failed("destroy the session"))?;
    if c.audio_received == 0 || c.video_received == 0 {
        return Err("nothing came back".into());
    }
    Ok(())
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}
