//! A VideoRoom call through the typed API (`janus_client::plugins::videoroom`): a room is
//! created, alice joins and publishes with an SDP offer, bob joins the room and subscribes
//! with a second handle (Janus offers, bob answers with `start`), then alice leaves, bob
//! sees it on his event stream, and the room is destroyed.
//!
//! ```text
//! cargo run --example videoroom                              # ws://127.0.0.1:8188
//! cargo run --example videoroom -- ws://127.0.0.1:8188
//! cargo run --example videoroom --features http -- http://127.0.0.1:8088/janus
//! ```
//! `scripts/janus start NAME` starts a local Janus and prints its URLs.
//!
//! There is no WebRTC stack here: the SDPs are synthetic (valid, audio only), so no
//! PeerConnection ever comes up and no media flows. Two things follow from that, both
//! Janus' rules, not this library's:
//! - Janus announces a publisher (and lets anyone subscribe to it) only once its
//!   PeerConnection is up, so alice is never announced. The room is created with a *dummy
//!   publisher*, which is always there, and bob subscribes to what the room announces:
//!   with real media, alice shows up the same way (in `Joined::publishers`, or later in an
//!   `Event::Publishers` on bob's stream).
//! - Janus considers alice never published, so she leaves rather than unpublishes.

use janus_client::plugins::videoroom::{self, VideoRoom};
use janus_client::plugins::{Plugin, PluginEvent, PluginEvents, PluginHandle};
use janus_client::{connect, Config, HandleEvent, Jsep};
use serde_json::json;
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
            eprintln!("videoroom: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ws://127.0.0.1:8188".to_string());
    let client = connect(Config::new(url.clone()))
        .await
        .map_err(failed(&format!("connect to {url}")))?;
    let session = client
        .create_session()
        .await
        .map_err(failed("create a session"))?;
    println!("session     {} on {url}", session.id());

    // Alice's handle: she creates the room, then joins it and publishes.
    let alice = PluginHandle::<VideoRoom>::attach(&session)
        .await
        .map_err(failed("attach alice's handle"))?;
    // Subscribe before sending anything: events are kept only while a stream is open.
    let mut alice_events = alice.events();
    let created = alice
        .request(&videoroom::Create {
            description: Some("janus-client videoroom example".into()),
            // Tell participants when someone joins or leaves, publisher or not.
            notify_joining: Some(true),
            // A publisher that is always there (see the top of this file).
            dummy_publisher: Some(true),
            dummy_streams: Some(vec![json!({"codec": "opus"})]),
            ..Default::default()
        })
        .await
        .map_err(failed("create a room"))?;
    let room = created.room;
    println!("room        {room} created");

    let joined = alice
        .request(&videoroom::JoinAndConfigure {
            display: Some("alice".into()),
            ..videoroom::JoinAndConfigure::new(&room, Jsep::offer(synthetic_sdp::offer()))
        })
        .await
        .map_err(failed("join and publish as alice"))?;
    let alice_id = joined.id.clone();
    let answer = joined
        .jsep
        .as_ref()
        .ok_or("Janus accepted alice's offer without an answer")?;
    println!(
        "alice       joined as {alice_id} and published: Janus answered ({} m-line(s)), streams {}",
        synthetic_sdp::media_lines(&answer.sdp).len(),
        describe_streams(&joined.streams)
    );
    // A real application passes `answer` to its WebRTC stack here (setRemoteDescription).

    // Bob joins the room as a participant (without publishing), to hear about it.
    let bob = PluginHandle::<VideoRoom>::attach(&session)
        .await
        .map_err(failed("attach bob's handle"))?;
    let mut bob_events = bob.events();
    let bob_joined = bob
        .request(&videoroom::JoinPublisher {
            display: Some("bob".into()),
            ..videoroom::JoinPublisher::new(&room)
        })
        .await
        .map_err(failed("join as bob"))?;
    println!(
        "bob         joined as {}; publishers announced: {}",
        bob_joined.id,
        describe_publishers(&bob_joined.publishers)
    );
    let joining = next_event(&mut alice_events, "alice", |ev| match ev {
        videoroom::Event::Joining { participant, .. } => Some(participant.clone()),
        _ => None,
    })
    .await?;
    println!(
        "alice       sees {} join as {}",
        joining.display.as_deref().unwrap_or("someone"),
        joining.id
    );

    // Bob subscribes, on a handle of its own, to a publisher the room announced.
    let feed = match bob_joined.publishers.iter().find(|p| p.id == alice_id) {
        Some(alice) => alice,
        None => {
            println!(
                "bob         alice is not announced (no media, see the top of this file): \
                 subscribing to the dummy publisher"
            );
            bob_joined
                .publishers
                .iter()
                .find(|p| p.dummy)
                .ok_or("the room announced no publisher to subscribe to")?
        }
    };
    let subscriber = PluginHandle::<VideoRoom>::attach(&session)
        .await
        .map_err(failed("attach bob's subscriber handle"))?;
    let mut subscriber_events = subscriber.events();
    let attached = subscriber
        .request(&videoroom::JoinSubscriber::new(
            &room,
            [videoroom::SubscribeStream::feed(&feed.id)],
        ))
        .await
        .map_err(failed("subscribe"))?;
    let offer = attached
        .jsep
        .as_ref()
        .ok_or("Janus attached the subscriber without an offer")?;
    println!(
        "subscriber  attached to feed {} ({}): Janus offered {} m-line(s)",
        feed.id,
        feed.display.as_deref().unwrap_or("no name"),
        synthetic_sdp::media_lines(&offer.sdp).len()
    );
    // A real application gives the offer to its WebRTC stack and sends back the answer
    // the stack makes; here the answer is synthesized from the offer.
    subscriber
        .request(
            &videoroom::Start::new().with_jsep(Jsep::answer(synthetic_sdp::answer(&offer.sdp))),
        )
        .await
        .map_err(failed("start the subscription"))?;
    println!("subscriber  answered with start: Janus accepted the answer");

    // Alice leaves; bob is told on his participant handle.
    alice
        .request(&videoroom::Leave::new())
        .await
        .map_err(failed("leave as alice"))?;
    println!("alice       left the room");
    let left = next_event(&mut bob_events, "bob", |ev| match ev {
        videoroom::Event::Leaving { id: Some(id), .. } => Some(id.clone()),
        _ => None,
    })
    .await?;
    println!(
        "bob         sees participant {left} leave{}",
        if left == alice_id { " (alice)" } else { "" }
    );

    // Bob stops his subscription; alice's handle destroys the room (any handle can).
    subscriber
        .request(&videoroom::Leave::new())
        .await
        .map_err(failed("leave as the subscriber"))?;
    println!("subscriber  left");
    alice
        .request(&videoroom::Destroy::new(&room))
        .await
        .map_err(failed("destroy the room"))?;
    println!("room        {room} destroyed");
    let gone = next_event(&mut bob_events, "bob", |ev| match ev {
        videoroom::Event::Destroyed { room } => Some(room.clone()),
        _ => None,
    })
    .await?;
    println!("bob         sees room {gone} destroyed");
    drain(&mut subscriber_events, "subscriber").await;

    for (name, handle) in [
        ("alice", &alice),
        ("bob", &bob),
        ("subscriber", &subscriber),
    ] {
        handle
            .detach()
            .await
            .map_err(failed(&format!("detach {name}'s handle")))?;
    }
    session
        .destroy()
        .await
        .map_err(failed("destroy the session"))?;
    println!("done        handles detached, session destroyed");
    client.close().await;
    Ok(())
}

/// Names the step that failed: `cannot <what>: <error>`.
fn failed(what: &str) -> impl FnOnce(janus_client::Error) -> String + '_ {
    move |e| format!("cannot {what}: {e}")
}

/// Waits (5 s at most) for the event `pick` accepts on `events`, printing the others.
async fn next_event<P: Plugin, T>(
    events: &mut PluginEvents<P>,
    who: &str,
    mut pick: impl FnMut(&P::Event) -> Option<T>,
) -> Result<T, String>
where
    P::Event: std::fmt::Debug,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(PluginEvent::Plugin { event, .. })) => match pick(&event) {
                Some(found) => return Ok(found),
                None => println!("{who:<11} event {event:?}"),
            },
            Ok(Some(other)) if other.is_closed() => {
                return Err(format!("{who}'s handle closed while waiting: {other:?}"))
            }
            Ok(Some(PluginEvent::Handle(HandleEvent::Hangup { reason }))) => {
                println!("{who:<11} event hangup: {reason}")
            }
            Ok(Some(other)) => println!("{who:<11} event {other:?}"),
            Ok(None) => return Err(format!("{who}'s event stream ended")),
            Err(_) => return Err(format!("{who} got no expected event within 5 s")),
        }
    }
}

/// Prints what is left on `events` (waiting half a second for more).
async fn drain<P: Plugin>(events: &mut PluginEvents<P>, who: &str)
where
    P::Event: std::fmt::Debug,
{
    while let Ok(Some(event)) =
        tokio::time::timeout(Duration::from_millis(500), events.recv()).await
    {
        match event {
            PluginEvent::Handle(HandleEvent::Hangup { reason }) => {
                println!("{who:<11} event hangup: {reason}")
            }
            other => println!("{who:<11} event {other:?}"),
        }
    }
}

fn describe_streams(streams: &[videoroom::PublisherStream]) -> String {
    let names: Vec<String> = streams
        .iter()
        .map(|s| {
            format!(
                "{} {}",
                s.kind.as_deref().unwrap_or("?"),
                s.codec.as_deref().unwrap_or("?")
            )
        })
        .collect();
    format!("[{}]", names.join(", "))
}

fn describe_publishers(publishers: &[videoroom::Publisher]) -> String {
    if publishers.is_empty() {
        return "none".into();
    }
    let names: Vec<String> = publishers
        .iter()
        .map(|p| format!("{} ({})", p.display.as_deref().unwrap_or("no name"), p.id))
        .collect();
    names.join(", ")
}
