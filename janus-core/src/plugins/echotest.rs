//! `janus.plugin.echotest`: sends back what it receives, optionally recorded.
//!
//! Every request is asynchronous (`ack`, then an event with `"result":"ok"`); a body with no
//! known field fails with [`errors::INVALID_ELEMENT`]. Unlike the other plugins, the body
//! has no `request` name: [`Configure`] is the only request.
//!
//! ```no_run
//! # use janus_core as janus_client;
//! # async fn demo(session: janus_client::Session, offer: janus_client::Jsep) -> Result<(), janus_client::Error> {
//! use janus_client::plugins::{echotest, PluginHandle};
//! let echo = PluginHandle::<echotest::EchoTest>::attach(&session).await?;
//! let answer = echo
//!     .request(&echotest::Configure {
//!         audio: Some(true),
//!         video: Some(true),
//!         bitrate: Some(256_000),
//!         ..Default::default()
//!     }.with_jsep(offer))
//!     .await?;
//! assert_eq!(answer.result.as_deref(), Some("ok"));
//! let sdp_answer = answer.jsep.expect("Janus answers an offer");
//! # Ok(()) }
//! ```

use serde::Deserialize;
use serde_json::Value;

use super::{decode_with_jsep, from_value, Plugin};
use crate::Jsep;

/// The EchoTest plugin.
#[derive(Clone, Copy, Debug)]
pub struct EchoTest;

impl Plugin for EchoTest {
    const NAME: &'static str = "janus.plugin.echotest";
    type Event = Event;
    fn parse_event(data: Value) -> Event {
        Event::from_data(data)
    }
}

/// EchoTest error codes (Janus 1.1.2, `plugins/janus_echotest.c`).
pub mod errors {
    /// 411: no message.
    pub const NO_MESSAGE: i64 = 411;
    /// 412: invalid JSON.
    pub const INVALID_JSON: i64 = 412;
    /// 413: invalid element (also: a body with none of the known fields).
    pub const INVALID_ELEMENT: i64 = 413;
    /// 414: invalid SDP.
    pub const INVALID_SDP: i64 = 414;
}

requests! {
    plugin = EchoTest;

    /// The EchoTest's one request: (re)configures the echo. Every field is optional; Janus
    /// needs at least one (an empty request fails with 413). Send the first one with the
    /// JSEP offer ([`with_jsep`](Self::with_jsep)).
    //
    // `Configure()`: the echotest reads the body's fields without a `request` name.
    Configure() -> EchoResult, via decode_with_jsep {
        optional {
            /// Echo audio back.
            audio: bool,
            /// Echo video back.
            video: bool,
            /// Bitrate cap (REMB), in bits per second.
            bitrate: u64,
            /// Start or stop recording.
            record: bool,
            /// Base name of the recording files.
            filename: String,
            /// Simulcast substream to send back (0–2).
            substream: u8,
            /// Simulcast temporal layer to send back (0–2).
            temporal: u8,
            /// Simulcast fallback: microseconds without packets before going to a lower
            /// substream.
            fallback: u64,
            /// Audio codec to negotiate (`opus`, `pcmu`, ...).
            audiocodec: String,
            /// Video codec to negotiate (`vp8`, `h264`, ...).
            videocodec: String,
            /// Codec profile (VP9 `profile-id` or H.264 `profile-level-id`).
            videoprofile: String,
            /// Negotiate Opus RED.
            opusred: bool,
            /// Minimum playout delay (playout-delay extension), in milliseconds.
            min_delay: i64,
            /// Maximum playout delay (playout-delay extension), in milliseconds.
            max_delay: i64,
        }
        jsep: optional,
    }
}

/// The answer to [`Configure`]: `{"echotest":"event","result":"ok"}`, with Janus' JSEP
/// answer when the request carried an offer.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct EchoResult {
    /// `ok`.
    pub result: Option<String>,
    /// Janus' JSEP (an answer to the offer sent).
    #[serde(skip)]
    pub jsep: Option<Jsep>,
}

with_jsep!(EchoResult);

/// The simulcast or SVC layers now sent back.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Layers {
    /// The video codec.
    pub videocodec: Option<String>,
    /// The simulcast substream now relayed.
    pub substream: Option<u8>,
    /// The simulcast temporal layer now relayed.
    pub temporal: Option<u8>,
    /// The SVC spatial layer now relayed.
    pub spatial_layer: Option<u8>,
    /// The SVC temporal layer now relayed.
    pub temporal_layer: Option<u8>,
}

/// An unsolicited EchoTest event.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// `"result": ...`: `ok`, or `done` when the PeerConnection closed.
    Result(String),
    /// The simulcast/SVC layer sent back changed.
    Layers(Layers),
    /// Anything else, as Janus sent it.
    Other(Value),
}

impl Event {
    /// Decodes the `data` of an EchoTest event; never fails.
    pub fn from_data(data: Value) -> Event {
        if let Some(result) = data.get("result").and_then(Value::as_str) {
            return Event::Result(result.to_string());
        }
        let layered = ["substream", "temporal", "spatial_layer", "temporal_layer"]
            .iter()
            .any(|k| data.get(*k).is_some());
        if layered {
            if let Some(l) = from_value(&data) {
                return Event::Layers(l);
            }
        }
        Event::Other(data)
    }
}

event_deserialize!(Event);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::PluginRequest;
    use crate::PluginResponse;
    use serde_json::json;

    #[test]
    fn only_set_fields_go_on_the_wire() {
        let req = Configure {
            audio: Some(true),
            bitrate: Some(128_000),
            ..Default::default()
        }
        .with_jsep(Jsep::offer("v=0"));
        assert_eq!(
            serde_json::to_value(&req).unwrap(),
            json!({"audio": true, "bitrate": 128000})
        );
        assert_eq!(req.jsep().unwrap().kind, "offer");
        assert_eq!(serde_json::to_value(Configure::new()).unwrap(), json!({}));
        let all = every_field();
        assert_eq!(
            serde_json::to_value(&all)
                .unwrap()
                .as_object()
                .unwrap()
                .len(),
            14
        );
    }

    /// A `configure` with every field set.
    fn every_field() -> Configure {
        Configure {
            audio: Some(true),
            video: Some(false),
            bitrate: Some(1),
            record: Some(true),
            filename: Some("/tmp/x".into()),
            substream: Some(2),
            temporal: Some(1),
            fallback: Some(500_000),
            audiocodec: Some("opus".into()),
            videocodec: Some("vp8".into()),
            videoprofile: Some("0".into()),
            opusred: Some(true),
            min_delay: Some(0),
            max_delay: Some(100),
            ..Configure::new()
        }
    }

    /// `configure` on the wire, every field set: the JSON content (fields and values) the
    /// table-generated struct must keep. The body has no `request` field.
    #[test]
    fn configure_on_the_wire() {
        let mut all = every_field().with_jsep(Jsep::answer("v=0"));
        all.extra.insert("future".into(), json!("x"));
        assert_eq!(
            serde_json::to_value(&all).unwrap(),
            json!({"audio": true, "video": false, "bitrate": 1, "record": true,
                   "filename": "/tmp/x", "substream": 2, "temporal": 1, "fallback": 500000,
                   "audiocodec": "opus", "videocodec": "vp8", "videoprofile": "0",
                   "opusred": true, "min_delay": 0, "max_delay": 100, "future": "x"})
        );
        assert_eq!(all.jsep().unwrap(), &Jsep::answer("v=0"));
        assert_eq!(Configure::default(), Configure::new());
        assert!(Configure::new().jsep().is_none());
    }

    #[test]
    fn answers_and_events_as_janus_sends_them() {
        // Captured from Janus 1.1.2 (an offer sent along).
        let r = <Configure as PluginRequest<EchoTest>>::decode(PluginResponse {
            plugin: EchoTest::NAME.into(),
            data: json!({"echotest":"event","result":"ok"}),
            jsep: Some(Jsep::answer("v=0")),
            sender: None,
        })
        .unwrap();
        assert_eq!(r.result.as_deref(), Some("ok"));
        assert_eq!(r.jsep.unwrap().kind, "answer");

        assert_eq!(
            Event::from_data(json!({"echotest":"event","result":"done"})),
            Event::Result("done".into())
        );
        match Event::from_data(
            json!({"echotest":"event","videocodec":"vp8","substream":1,"new_field":[1]}),
        ) {
            Event::Layers(l) => assert_eq!(l.substream, Some(1)),
            other => panic!("{other:?}"),
        }
        let odd = json!({"echotest":"event","something":"new"});
        assert_eq!(Event::from_data(odd.clone()), Event::Other(odd));
    }
}
