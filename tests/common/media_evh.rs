//! What Janus's event handler said about real PeerConnections: `scripts/test` points the
//! media instance's `sampleevh` at `JANUS_MEDIA_PEER_IP:EVH_MEDIA_PORT`, where
//! [`Collector`] listens and keeps every event (its own task drains the receiver's stream, so
//! nothing is lost to a slow test). [`Collector::expect_echotest`] checks the JSEP, WebRTC
//! and media events Janus 1.1.2 emits for an echotest with audio and video, each decoded
//! into its typed variant, none into an `Other`.

use janus_client::evh::{
    ConnectionChange, EventBody, EvhItem, HttpOptions, JsepOwner, Listener, MediaEvent, Received,
    Receiver, ReceiverOptions, WebRtcEvent,
};
use janus_client::SessionId;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::env_or_skip;

/// sampleevh groups events and posts them about once a second; a loaded machine adds to it.
const LIMIT: Duration = Duration::from_secs(30);

/// Every event the media instance's sampleevh posted since [`Collector::start`].
pub struct Collector {
    seen: Arc<Mutex<Vec<Received>>>,
    listener: Option<Listener>,
    drain: tokio::task::JoinHandle<()>,
    _receiver: Receiver,
}

impl Collector {
    /// Listens on `ip:$EVH_MEDIA_PORT` (`None`: the variable is missing, skipped locally and
    /// a failure in CI).
    pub async fn start(ip: IpAddr) -> Option<Collector> {
        let port: u16 = env_or_skip("EVH_MEDIA_PORT")?
            .parse()
            .expect("EVH_MEDIA_PORT is a port number");
        let receiver = Receiver::new(&ReceiverOptions::default()).expect("receiver");
        let mut events = receiver.events();
        let options = HttpOptions::new(SocketAddr::new(ip, port)).with_path("/janus-events");
        let end = tokio::time::Instant::now() + Duration::from_secs(10);
        let listener = loop {
            match receiver.listen_http(&options).await {
                Ok(l) => break l,
                Err(e) if tokio::time::Instant::now() < end => {
                    eprintln!("bind {ip}:{port}: {e}; retrying");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("cannot bind the media event receiver: {e}"),
            }
        };
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let drain = tokio::spawn(async move {
            use futures::StreamExt;
            while let Some(item) = events.next().await {
                match item {
                    EvhItem::Event(r) => sink.lock().unwrap().push(*r),
                    EvhItem::Closed => return,
                    other => panic!("the media event receiver lost events: {other:?}"),
                }
            }
        });
        Some(Collector {
            seen,
            listener: Some(listener),
            drain,
            _receiver: receiver,
        })
    }

    fn about(&self, session: SessionId) -> Vec<Received> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.is_about_session(session))
            .cloned()
            .collect()
    }

    /// Waits until the events about `session` include everything an echotest with audio and
    /// video that came up, carried media and was hung up makes Janus report, and checks that
    /// none of them decoded into an `Other`; prints what it saw, by kind.
    pub async fn expect_echotest(&self, session: SessionId, transport: &str) {
        let wanted = echotest_steps();
        let end = tokio::time::Instant::now() + LIMIT;
        let events = loop {
            let events = self.about(session);
            let missing: Vec<&str> = wanted
                .iter()
                .filter(|(_, is)| !events.iter().any(is))
                .map(|(name, _)| *name)
                .collect();
            if missing.is_empty() {
                break events;
            }
            if tokio::time::Instant::now() >= end {
                let raw: Vec<String> = events.iter().map(|r| r.event.raw.to_string()).collect();
                panic!(
                    "{transport}: the event handler never reported {missing:?} about session {}; \
                     it reported:\n{}",
                    session.0,
                    raw.join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        for r in &events {
            assert!(
                !is_other(&r.event.body),
                "{transport}: an event Janus sent decoded into Other: {}",
                r.event.raw
            );
        }
        let mut kinds: Vec<String> = events.iter().map(kind).collect();
        kinds.sort();
        kinds.dedup();
        println!(
            "event handler over {transport}: {} events about the session, of kinds {kinds:?}",
            events.len()
        );
    }

    /// Stops listening.
    pub async fn stop(mut self) {
        if let Some(l) = self.listener.take() {
            l.stop().await;
        }
        self.drain.abort();
    }
}

type Step = (&'static str, fn(&Received) -> bool);

/// What an echotest with audio and video, up, flowing and hung up, must bring.
fn echotest_steps() -> Vec<Step> {
    vec![
        ("remote offer", |r| {
            matches!(&r.event.body, EventBody::Jsep { owner: JsepOwner::Remote, sdp_type, sdp }
                if sdp_type == "offer" && sdp.contains("m=audio") && sdp.contains("m=video"))
        }),
        ("local answer", |r| {
            matches!(&r.event.body, EventBody::Jsep { owner: JsepOwner::Local, sdp_type, .. }
                if sdp_type == "answer")
        }),
        ("ICE connected", |r| {
            matches!(&r.event.body, EventBody::WebRtc(WebRtcEvent::Ice { state, .. })
                if state == "connected" || state == "ready")
        }),
        ("a local candidate", |r| {
            matches!(&r.event.body, EventBody::WebRtc(WebRtcEvent::LocalCandidate { candidate, .. })
                if candidate.contains("typ host"))
        }),
        ("the peer's candidate", |r| {
            matches!(
                &r.event.body,
                EventBody::WebRtc(WebRtcEvent::RemoteCandidate { .. })
            )
        }),
        ("a selected pair", |r| {
            matches!(
                &r.event.body,
                EventBody::WebRtc(WebRtcEvent::SelectedPair { .. })
            )
        }),
        ("DTLS connected", |r| {
            matches!(&r.event.body, EventBody::WebRtc(WebRtcEvent::Dtls { state, .. })
                if state == "connected")
        }),
        ("webrtcup", |r| {
            matches!(
                &r.event.body,
                EventBody::WebRtc(WebRtcEvent::Connection {
                    state: ConnectionChange::WebrtcUp,
                    ..
                })
            )
        }),
        ("audio arriving", |r| receiving(r, "audio")),
        ("video arriving", |r| receiving(r, "video")),
        ("audio statistics", |r| counted(r, "audio")),
        ("video statistics", |r| counted(r, "video")),
        ("hangup", |r| {
            matches!(
                &r.event.body,
                EventBody::WebRtc(WebRtcEvent::Connection {
                    state: ConnectionChange::Hangup,
                    ..
                })
            )
        }),
    ]
}

fn receiving(r: &Received, kind: &str) -> bool {
    matches!(&r.event.body, EventBody::Media(MediaEvent::Receiving { media, receiving: true, .. })
        if media == kind)
}

/// Statistics of `kind` with packets received.
fn counted(r: &Received, kind: &str) -> bool {
    match &r.event.body {
        EventBody::Media(MediaEvent::Stats(entries)) => entries
            .iter()
            .any(|s| s.media.as_deref() == Some(kind) && s.packets_received.is_some_and(|n| n > 0)),
        _ => false,
    }
}

fn is_other(body: &EventBody) -> bool {
    matches!(
        body,
        EventBody::Other
            | EventBody::WebRtc(WebRtcEvent::Other)
            | EventBody::Media(MediaEvent::Other)
            | EventBody::Jsep {
                owner: JsepOwner::Other(_),
                ..
            }
    )
}

fn kind(r: &Received) -> String {
    match &r.event.body {
        EventBody::Session { .. } => "session".into(),
        EventBody::Handle { .. } => "handle".into(),
        EventBody::Jsep { .. } => "jsep".into(),
        EventBody::WebRtc(w) => format!("webrtc {}", webrtc_name(w)),
        EventBody::Media(MediaEvent::Receiving { .. }) => "media receiving".into(),
        EventBody::Media(MediaEvent::SlowLink { .. }) => "media slow link".into(),
        EventBody::Media(MediaEvent::Stats(_)) => "media stats".into(),
        EventBody::Plugin { .. } => "plugin".into(),
        other => format!("{other:?}"),
    }
}

fn webrtc_name(w: &WebRtcEvent) -> &'static str {
    match w {
        WebRtcEvent::Ice { .. } => "ice",
        WebRtcEvent::LocalCandidate { .. } => "local candidate",
        WebRtcEvent::RemoteCandidate { .. } => "remote candidate",
        WebRtcEvent::SelectedPair { .. } => "selected pair",
        WebRtcEvent::Dtls { .. } => "dtls",
        WebRtcEvent::Connection { .. } => "connection",
        _ => "other",
    }
}
