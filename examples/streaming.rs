//! A Streaming viewer through the typed API (`janus_client::plugins::streaming`): creates
//! an RTP mountpoint (or uses the one given), watches it (Janus offers), answers with
//! `start`, prints the viewer's events, stops, and destroys the mountpoint it created.
//!
//! ```text
//! cargo run --example streaming                              # ws://127.0.0.1:8188
//! cargo run --example streaming -- ws://127.0.0.1:8188
//! cargo run --example streaming -- ws://127.0.0.1:8188 1     # watch mountpoint 1
//! cargo run --example streaming --features http -- http://127.0.0.1:8088/janus
//! ```
//! `scripts/janus start NAME` starts a local Janus and prints its URLs. The mountpoint this
//! example creates listens for RTP on the ports it prints; send it Opus and VP8 with e.g.
//! GStreamer to feed a real viewer.
//!
//! There is no WebRTC stack here: the answer is synthetic (valid, made from Janus' offer),
//! so no PeerConnection comes up and no media flows. Janus 1.1.2 does not answer a `stop`
//! on a viewer whose PeerConnection never came up, so this example gives `stop` a short
//! timeout; the viewer's `stopped` event arrives when the mountpoint is destroyed.

use janus_client::plugins::streaming::{self, Streaming};
use janus_client::plugins::{Id, PluginEvent, PluginEvents, PluginHandle};
use janus_client::{connect, Config, HandleEvent, Jsep};
use std::process::ExitCode;
use std::time::Duration;

// Synthetic SDP: a real application passes the SDP of its WebRTC stack instead.
#[path = "support/synthetic_sdp.rs"]
mod synthetic_sdp;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("streaming: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "ws://127.0.0.1:8188".to_string());
    // A mountpoint id: a number, or a name when the plugin runs with `string_ids`.
    let given: Option<Id> = args.next().map(|a| match a.parse::<u64>() {
        Ok(n) => Id::from(n),
        Err(_) => Id::from(a),
    });

    let client = connect(Config::new(url.clone()))
        .await
        .map_err(failed(&format!("connect to {url}")))?;
    let session = client
        .create_session()
        .await
        .map_err(failed("create a session"))?;
    println!("session     {} on {url}", session.id());
    let viewer = PluginHandle::<Streaming>::attach(&session)
        .await
        .map_err(failed("attach a streaming handle"))?;
    // Subscribe before sending anything: events are kept only while a stream is open.
    let mut events = viewer.events();

    let (id, created) = match given {
        Some(id) => (id, false),
        None => {
            let created = viewer
                .request(&streaming::Create {
                    description: Some("janus-client streaming example".into()),
                    // Port 0: Janus picks free ports and says which.
                    media: Some(vec![
                        streaming::MediaSource::audio("a", 0, 111, "opus"),
                        streaming::MediaSource::video("v", 0, 96, "vp8"),
                    ]),
                    ..streaming::Create::new(streaming::MountpointType::Rtp)
                })
                .await
                .map_err(failed("create an RTP mountpoint"))?;
            let ports: Vec<String> = created
                .stream
                .ports
                .iter()
                .map(|p| {
                    format!(
                        "{} on udp/{}",
                        p.kind.as_deref().unwrap_or("?"),
                        p.port.map_or("?".into(), |n| n.to_string())
                    )
                })
                .collect();
            println!(
                "mountpoint  {} created, RTP in: {}",
                created.stream.id,
                ports.join(", ")
            );
            (created.stream.id, true)
        }
    };

    let info = viewer
        .request(&streaming::Info::new(&id))
        .await
        .map_err(failed(&format!("get mountpoint {id}")))?;
    println!(
        "mountpoint  {id}: {} ({} stream(s))",
        info.description.as_deref().unwrap_or("no description"),
        info.media.len()
    );

    let watching = viewer
        .request(&streaming::Watch::new(&id))
        .await
        .map_err(failed(&format!("watch mountpoint {id}")))?;
    let offer = watching
        .jsep
        .as_ref()
        .ok_or("Janus accepted the watch without an offer")?;
    let offered: Vec<String> = synthetic_sdp::media_lines(&offer.sdp)
        .iter()
        .map(|m| format!("{} {}", m.kind, m.rtpmap.unwrap_or("?")))
        .collect();
    println!(
        "watch       status {}: Janus offered [{}]",
        watching.status,
        offered.join(", ")
    );

    // A real application gives the offer to its WebRTC stack and sends back the answer the
    // stack makes; here the answer is synthesized from the offer.
    let started = viewer
        .request(
            &streaming::Start::new().with_jsep(Jsep::answer(synthetic_sdp::answer(&offer.sdp))),
        )
        .await
        .map_err(failed("start (send the answer)"))?;
    println!(
        "start       status {}: Janus took the answer",
        started.status
    );
    drain(&mut events, Duration::from_secs(1)).await;

    // Janus 1.1.2 leaves `stop` unanswered while the PeerConnection is down (always, here).
    match viewer
        .with_timeout(Duration::from_secs(2))
        .request(&streaming::Stop::new())
        .await
    {
        Ok(stopped) => println!("stop        status {}", stopped.status),
        Err(e) if e.is_timeout() => {
            println!("stop        no answer within 2 s (no PeerConnection was ever up)")
        }
        Err(e) => return Err(format!("cannot stop: {e}")),
    }

    if created {
        let destroyed = viewer
            .request(&streaming::Destroy::new(&id))
            .await
            .map_err(failed(&format!("destroy mountpoint {id}")))?;
        println!("mountpoint  {} destroyed", destroyed.destroyed);
    }
    drain(&mut events, Duration::from_secs(2)).await;

    viewer.detach().await.map_err(failed("detach"))?;
    session
        .destroy()
        .await
        .map_err(failed("destroy the session"))?;
    println!("done        handle detached, session destroyed");
    client.close().await;
    Ok(())
}

/// Names the step that failed: `cannot <what>: <error>`.
fn failed(what: &str) -> impl FnOnce(janus_client::Error) -> String + '_ {
    move |e| format!("cannot {what}: {e}")
}

/// Prints the viewer's events until none comes for `quiet`.
async fn drain(events: &mut PluginEvents<Streaming>, quiet: Duration) {
    while let Ok(Some(event)) = tokio::time::timeout(quiet, events.recv()).await {
        match event {
            PluginEvent::Plugin {
                event: streaming::Event::Status(status),
                ..
            } => println!("event       status {status}"),
            PluginEvent::Handle(HandleEvent::Hangup { reason }) => {
                println!("event       hangup: {reason}")
            }
            other => println!("event       {other:?}"),
        }
    }
}
