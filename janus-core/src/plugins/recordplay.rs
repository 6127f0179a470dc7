//! `janus.plugin.recordplay`: records a PeerConnection and plays recordings back.
//!
//! [`List`] and [`Update`] are answered at once; [`Record`] (send the offer with it),
//! [`Play`] (answered with Janus' offer), [`Start`] (send the answer) and [`Stop`] by an
//! event. When the PeerConnection closes, Janus sends [`Event::Done`].

use serde::Deserialize;
use serde_json::Value;

use super::{decode_result, decode_result_with_jsep, from_value, Done, Plugin};
use crate::Jsep;

/// The Record&Play plugin.
#[derive(Clone, Copy, Debug)]
pub struct RecordPlay;

impl Plugin for RecordPlay {
    const NAME: &'static str = "janus.plugin.recordplay";
    type Event = Event;
    fn parse_event(data: Value) -> Event {
        Event::from_data(data)
    }
}

/// Record&Play error codes (Janus 1.1.2, `plugins/janus_recordplay.c`).
pub mod errors {
    /// 411: no message.
    pub const NO_MESSAGE: i64 = 411;
    /// 412: invalid JSON.
    pub const INVALID_JSON: i64 = 412;
    /// 413: unknown request.
    pub const INVALID_REQUEST: i64 = 413;
    /// 414: invalid element.
    pub const INVALID_ELEMENT: i64 = 414;
    /// 415: missing mandatory element (also: [`Record`](super::Record) without an offer).
    pub const MISSING_ELEMENT: i64 = 415;
    /// 416: no such recording.
    pub const NOT_FOUND: i64 = 416;
    /// 417: invalid recording.
    pub const INVALID_RECORDING: i64 = 417;
    /// 418: invalid state (e.g. `start` on a handle that is not playing).
    pub const INVALID_STATE: i64 = 418;
    /// 419: invalid SDP.
    pub const INVALID_SDP: i64 = 419;
    /// 420: a recording with this id exists.
    pub const RECORDING_EXISTS: i64 = 420;
    /// 499: unknown error.
    pub const UNKNOWN_ERROR: i64 = 499;
}

requests! {
    plugin = RecordPlay;

    /// `list`: the recordings.
    List("list") -> RecordingList {}

    /// `update`: rescans the recordings folder.
    Update("update") -> Done {}

    /// `record`: starts recording (send the offer with it); the answer carries Janus'
    /// answer and the recording's id.
    Record("record") -> Status, via decode_result_with_jsep {
        required {
            /// The recording's name.
            name: String,
        }
        optional {
            /// Base name of the files.
            filename: String,
            /// The id to use (Janus picks one if unset).
            id: u64,
            /// Preferred audio codec.
            audiocodec: String,
            /// Preferred video codec.
            videocodec: String,
            /// Video codec profile.
            videoprofile: String,
            /// Negotiate Opus RED.
            opusred: bool,
            /// Record data channels as text (true) or binary.
            textdata: bool,
            /// Renegotiation of an ongoing recording.
            update: bool,
        }
        jsep: optional,
    }

    /// `play`: asks to play a recording; the answer carries Janus' offer.
    Play("play") -> Status, via decode_result_with_jsep {
        required {
            /// The recording.
            id: u64,
        }
        optional {
            /// Ask for a new offer (ICE restart).
            restart: bool,
        }
    }

    /// `start`: sends the player's JSEP answer and starts the playout.
    Start("start") -> Status, via decode_result { jsep: optional }

    /// `stop`: stops recording or playing.
    Stop("stop") -> Status, via decode_result {}
}

/// A recording as [`List`] shows it.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Recording {
    /// Its id.
    pub id: u64,
    /// Its name.
    pub name: Option<String>,
    /// When it was made.
    pub date: Option<String>,
    /// Has audio.
    pub audio: Option<bool>,
    /// Has video.
    pub video: Option<bool>,
    /// Has data.
    pub data: Option<bool>,
    /// The audio codec.
    pub audio_codec: Option<String>,
    /// The video codec.
    pub video_codec: Option<String>,
}

/// The answer to [`List`].
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct RecordingList {
    /// The recordings.
    #[serde(default)]
    pub list: Vec<Recording>,
}

/// A status (`recording`, `preparing`, `playing`, `stopped`): the answer to [`Record`],
/// [`Play`], [`Start`] and [`Stop`].
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Status {
    /// The status.
    pub status: String,
    /// The recording.
    pub id: Option<u64>,
    /// With [`Record`]: Janus' answer; with [`Play`]: Janus' offer.
    #[serde(skip)]
    pub jsep: Option<Jsep>,
}

with_jsep!(Status);

/// An unsolicited Record&Play event.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// A status change (`playing`, `stopped`, ...).
    Status(Status),
    /// The PeerConnection closed (`"result":"done"`).
    Done,
    /// Anything else, as Janus sent it.
    Other(Value),
}

impl Event {
    /// Decodes the `data` of a Record&Play event; never fails.
    pub fn from_data(data: Value) -> Event {
        match data.get("result") {
            Some(Value::String(s)) if s == "done" => Event::Done,
            Some(r @ Value::Object(_)) => match from_value(r) {
                Some(s) => Event::Status(s),
                None => Event::Other(data),
            },
            _ => Event::Other(data),
        }
    }
}

event_deserialize!(Event);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::PluginRequest;
    use crate::PluginResponse;
    use serde_json::json;

    fn decode<R: PluginRequest<RecordPlay>>(data: Value, jsep: Option<Jsep>) -> R::Response {
        R::decode(PluginResponse {
            plugin: RecordPlay::NAME.into(),
            data,
            jsep,
            sender: None,
        })
        .expect("decodes")
    }

    #[test]
    fn only_set_fields_go_on_the_wire() {
        assert_eq!(
            serde_json::to_value(Record {
                filename: Some("/tmp/rec".into()),
                ..Record::new("test")
            })
            .unwrap(),
            json!({"request":"record","name":"test","filename":"/tmp/rec"})
        );
        assert_eq!(
            serde_json::to_value(Play::new(12345)).unwrap(),
            json!({"request":"play","id":12345})
        );
    }

    #[test]
    fn answers_and_events_as_janus_sends_them() {
        // Captured from Janus 1.1.2.
        let l = decode::<List>(json!({"recordplay":"list","list":[]}), None);
        assert!(l.list.is_empty());
        let l = decode::<List>(
            json!({"recordplay":"list","list":[{"id":1,"name":"x","date":"2026-01-01 10:00:00",
                "audio":true,"video":false,"audio_codec":"opus","future":1}]}),
            None,
        );
        assert_eq!(l.list[0].audio_codec.as_deref(), Some("opus"));
        let _: Done = decode::<Update>(json!({"recordplay":"ok"}), None);
        let r = decode::<Record>(
            json!({"recordplay":"event","result":{"status":"recording","id":3641199313856637u64}}),
            Some(Jsep::answer("v=0")),
        );
        assert_eq!(r.status, "recording");
        assert_eq!(r.id, Some(3641199313856637));
        assert!(r.jsep.is_some());
        let s = decode::<Stop>(
            json!({"recordplay":"event","result":{"status":"stopped","id":3641199313856637u64}}),
            None,
        );
        assert_eq!(s.status, "stopped");
        assert_eq!(
            Event::from_data(json!({"recordplay":"event","result":"done"})),
            Event::Done
        );
        assert!(matches!(
            Event::from_data(json!({"recordplay":"event","result":{"status":"playing"}})),
            Event::Status(ref s) if s.status == "playing"
        ));
        let v = json!({"recordplay":"event","something":1});
        assert_eq!(Event::from_data(v.clone()), Event::Other(v));
    }
}
