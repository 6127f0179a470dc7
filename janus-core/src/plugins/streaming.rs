//! `janus.plugin.streaming`: relays live or recorded streams (mountpoints) to viewers.
//!
//! Management ([`List`], [`Info`], [`Create`], [`Edit`], [`Destroy`], [`Recording`],
//! [`Enable`], [`Disable`], [`KickAll`]) is answered at once; viewer requests ([`Watch`],
//! [`Start`], [`Pause`], [`Stop`], [`Configure`], [`Switch`]) by an event. [`Watch`] gets
//! Janus' offer, answered with [`Start`] (`Start::new().with_jsep(answer)`).
//!
//! Two traps of Janus 1.1.2, found against the real server:
//! - [`Disable`] with `stop_recording` left to its default (`true`) crashed the server
//!   when the mountpoint was not recording; send `stop_recording: Some(false)` unless it is.
//! - [`Stop`] on a handle that never started gets no answer at all (the request times out).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{decode_result, decode_result_with_jsep, from_value, Done, Id, IntoField, Plugin};
use crate::{Error, Jsep, PluginResponse};

/// The Streaming plugin.
#[derive(Clone, Copy, Debug)]
pub struct Streaming;

impl Plugin for Streaming {
    const NAME: &'static str = "janus.plugin.streaming";
    type Event = Event;
    fn parse_event(data: Value) -> Event {
        Event::from_data(data)
    }
}

/// Streaming error codes (Janus 1.1.2, `plugins/janus_streaming.c`).
pub mod errors {
    /// 450: no message.
    pub const NO_MESSAGE: i64 = 450;
    /// 451: invalid JSON.
    pub const INVALID_JSON: i64 = 451;
    /// 452: unknown request.
    pub const INVALID_REQUEST: i64 = 452;
    /// 453: missing mandatory element.
    pub const MISSING_ELEMENT: i64 = 453;
    /// 454: invalid element.
    pub const INVALID_ELEMENT: i64 = 454;
    /// 455: no such mountpoint.
    pub const NO_SUCH_MOUNTPOINT: i64 = 455;
    /// 456: cannot create the mountpoint (also: the id is taken).
    pub const CANT_CREATE: i64 = 456;
    /// 457: unauthorized (wrong secret or PIN).
    pub const UNAUTHORIZED: i64 = 457;
    /// 458: cannot switch.
    pub const CANT_SWITCH: i64 = 458;
    /// 459: cannot record.
    pub const CANT_RECORD: i64 = 459;
    /// 460: invalid state.
    pub const INVALID_STATE: i64 = 460;
    /// 470: unknown error.
    pub const UNKNOWN_ERROR: i64 = 470;
}

/// The kind of a mountpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum MountpointType {
    /// Fed by RTP sent to Janus' ports.
    Rtp,
    /// A file played in a loop, shared by all viewers.
    Live,
    /// A file played from the start for each viewer.
    Ondemand,
    /// Pulled from an RTSP server.
    Rtsp,
}

impl IntoField<MountpointType> for MountpointType {
    fn into_field(self) -> MountpointType {
        self
    }
}

/// `action` of [`Recording`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum RecordingAction {
    /// Start recording.
    Start,
    /// Stop recording.
    Stop,
}

impl IntoField<RecordingAction> for RecordingAction {
    fn into_field(self) -> RecordingAction {
        self
    }
}

requests! {
    plugin = Streaming;

    /// `list`: the public mountpoints.
    List("list") -> MountpointList {}

    /// `info`: one mountpoint's details (more of them with the secret).
    Info("info") -> Mountpoint, via decode_info {
        required {
            /// The mountpoint.
            id: Id,
        }
        optional {
            /// Its secret (shows ports, secret, viewers, ...).
            secret: String,
        }
    }

    /// `create`: creates a mountpoint. For an RTP one, list its streams in `media`
    /// (port 0 lets Janus pick a free port; the answer says which).
    Create("create") -> MountpointCreated {
        required {
            /// The kind.
            #[serde(rename = "type")]
            kind: MountpointType,
        }
        optional {
            /// The id to use (Janus picks one if unset).
            id: Id,
            /// A name.
            name: String,
            /// A description.
            description: String,
            /// Opaque metadata shown in `list` and `info`.
            metadata: String,
            /// Leave it out of `list`.
            is_private: bool,
            /// The secret needed to edit or destroy it.
            secret: String,
            /// The PIN needed to watch it.
            pin: String,
            /// Save it to the plugin's config file.
            permanent: bool,
            /// The plugin's admin key, when it requires one.
            admin_key: String,
            /// RTP: the streams.
            media: Vec<MediaSource>,
            /// RTP: SRTP suite (32 or 80).
            srtpsuite: u32,
            /// RTP: SRTP key, base64.
            srtpcrypto: String,
            /// RTP: the streams are end-to-end encrypted.
            e2ee: bool,
            /// RTP: negotiate the playout delay extension.
            playoutdelay_ext: bool,
            /// RTP: helper threads.
            threads: u32,
            /// live/ondemand: the file to play.
            filename: String,
            /// live/ondemand/rtsp: has audio.
            audio: bool,
            /// live/ondemand/rtsp: has video.
            video: bool,
            /// RTSP: the URL.
            url: String,
            /// RTSP: user name.
            rtsp_user: String,
            /// RTSP: password.
            rtsp_pwd: String,
        }
    }

    /// `edit`: changes a mountpoint's properties.
    Edit("edit") -> MountpointEdited {
        required {
            /// The mountpoint.
            id: Id,
        }
        optional {
            /// Its secret.
            secret: String,
            /// New description.
            new_description: String,
            /// New metadata.
            new_metadata: String,
            /// New secret.
            new_secret: String,
            /// New PIN.
            new_pin: String,
            /// New privacy.
            new_is_private: bool,
            /// Save the change to the config file.
            permanent: bool,
            /// Tell the viewers about the change.
            edited_event: bool,
        }
    }

    /// `destroy`: destroys a mountpoint.
    Destroy("destroy") -> MountpointDestroyed {
        required {
            /// The mountpoint.
            id: Id,
        }
        optional {
            /// Its secret.
            secret: String,
            /// Remove it from the config file too.
            permanent: bool,
        }
    }

    /// `recording`: starts or stops recording a mountpoint.
    Recording("recording") -> Done {
        required {
            /// The mountpoint.
            id: Id,
            /// Start or stop.
            action: RecordingAction,
        }
        optional {
            /// Its secret.
            secret: String,
            /// Which streams, and (to start) the file of each.
            media: Vec<RecordingMedia>,
        }
    }

    /// `enable`: lets viewers watch again.
    Enable("enable") -> Done {
        required {
            /// The mountpoint.
            id: Id,
        }
        optional {
            /// Its secret.
            secret: String,
        }
    }

    /// `disable`: stops the mountpoint for its viewers (it keeps receiving).
    ///
    /// Janus 1.1.2 crashed here when `stop_recording` was left unset (true) on a
    /// mountpoint that was not recording: set it to `false` unless it records.
    Disable("disable") -> Done {
        required {
            /// The mountpoint.
            id: Id,
        }
        optional {
            /// Its secret.
            secret: String,
            /// Also stop its recordings (Janus' default: true).
            stop_recording: bool,
        }
    }

    /// `kick_all`: disconnects every viewer.
    KickAll("kick_all") -> Done {
        required {
            /// The mountpoint.
            id: Id,
        }
        optional {
            /// Its secret.
            secret: String,
        }
    }

    /// `watch`: asks to watch a mountpoint; the answer carries Janus' offer.
    Watch("watch") -> Status, via decode_result_with_jsep {
        required {
            /// The mountpoint.
            id: Id,
        }
        optional {
            /// Its PIN.
            pin: String,
            /// Only these streams (mids).
            media: Vec<String>,
            /// Offer audio (deprecated by `media`).
            offer_audio: bool,
            /// Offer video (deprecated by `media`).
            offer_video: bool,
            /// Offer data (deprecated by `media`).
            offer_data: bool,
        }
    }

    /// `start`: sends the viewer's JSEP answer and starts delivery.
    Start("start") -> Status, via decode_result { jsep: optional }

    /// `pause`: pauses delivery.
    Pause("pause") -> Status, via decode_result {}

    /// `stop`: stops watching (the PeerConnection closes).
    ///
    /// Janus 1.1.2 does not answer it on a handle that never started: use a short
    /// timeout ([`PluginHandle::with_timeout`](super::PluginHandle::with_timeout)) when
    /// unsure.
    Stop("stop") -> Status, via decode_result {}

    /// `configure`: chooses what is relayed to this viewer.
    Configure("configure") -> Done {
        optional {
            /// Per-stream settings.
            streams: Vec<StreamSettings>,
            /// Relay audio (deprecated by `streams`).
            audio: bool,
            /// Relay video (deprecated by `streams`).
            video: bool,
            /// Relay data (deprecated by `streams`).
            data: bool,
        }
    }

    /// `switch`: moves this viewer to another mountpoint without renegotiating.
    Switch("switch") -> Switched, via decode_result {
        required {
            /// The new mountpoint.
            id: Id,
        }
    }
}

fn decode_info(response: PluginResponse) -> Result<Mountpoint, Error> {
    #[derive(Deserialize)]
    struct Wrapper {
        info: Mountpoint,
    }
    super::decode_data::<Wrapper>(response).map(|w| w.info)
}

/// One stream of an RTP mountpoint ([`Create::media`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct MediaSource {
    /// `audio`, `video` or `data`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Its mid.
    pub mid: String,
    /// The port Janus listens on (0: a free one).
    pub port: u16,
    /// Payload type (audio and video).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pt: Option<u8>,
    /// Codec (`opus`, `vp8`, ...; audio and video).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codec: Option<String>,
    /// A label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The msid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msid: Option<String>,
    /// SDP fmtp line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fmtp: Option<String>,
    /// Multicast group to join.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mcast: Option<String>,
    /// Interface to listen on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iface: Option<String>,
    /// Port for RTCP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtcpport: Option<u16>,
    /// Video: simulcast (with `port2` and `port3`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub simulcast: Option<bool>,
    /// Video: port of the second substream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port2: Option<u16>,
    /// Video: port of the third substream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port3: Option<u16>,
    /// Video: VP9 SVC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub svc: Option<bool>,
    /// Video: keep the last keyframe for new viewers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bufferkf: Option<bool>,
    /// Compensate clock skew.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skew: Option<bool>,
    /// Data: `text` or `binary`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datatype: Option<String>,
    /// Fields this library does not model, sent as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl MediaSource {
    /// An audio stream.
    pub fn audio(mid: impl Into<String>, port: u16, pt: u8, codec: impl Into<String>) -> Self {
        MediaSource {
            kind: "audio".into(),
            mid: mid.into(),
            port,
            pt: Some(pt),
            codec: Some(codec.into()),
            ..Default::default()
        }
    }

    /// A video stream.
    pub fn video(mid: impl Into<String>, port: u16, pt: u8, codec: impl Into<String>) -> Self {
        MediaSource {
            kind: "video".into(),
            ..Self::audio(mid, port, pt, codec)
        }
    }

    /// A data stream.
    pub fn data(mid: impl Into<String>, port: u16) -> Self {
        MediaSource {
            kind: "data".into(),
            mid: mid.into(),
            port,
            ..Default::default()
        }
    }
}

/// One stream of a [`Recording`].
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RecordingMedia {
    /// The stream (mid).
    pub mid: String,
    /// To start: the file's base name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
}

/// Per-stream settings of a [`Configure`].
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct StreamSettings {
    /// The stream (mid).
    pub mid: String,
    /// Relay it or not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub send: Option<bool>,
    /// Simulcast substream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub substream: Option<u8>,
    /// Simulcast temporal layer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temporal: Option<u8>,
    /// Simulcast fallback, in microseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<u64>,
    /// SVC spatial layer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spatial_layer: Option<u8>,
    /// SVC temporal layer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temporal_layer: Option<u8>,
    /// Minimum playout delay, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_delay: Option<i64>,
    /// Maximum playout delay, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_delay: Option<i64>,
}

/// One stream of a mountpoint, as [`List`] and [`Info`] show it.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct MediaInfo {
    /// Its m-line index.
    pub mindex: Option<u32>,
    /// `audio`, `video` or `data`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Its mid.
    pub mid: Option<String>,
    /// Its label.
    pub label: Option<String>,
    /// Payload type.
    pub pt: Option<u8>,
    /// Codec.
    pub codec: Option<String>,
    /// rtpmap.
    pub rtpmap: Option<String>,
    /// fmtp.
    pub fmtp: Option<String>,
    /// The port Janus listens on (with the secret).
    pub port: Option<u16>,
    /// Milliseconds since the last packet.
    pub age_ms: Option<u64>,
}

/// A mountpoint as [`List`] and [`Info`] show it.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Mountpoint {
    /// Its id.
    pub id: Id,
    /// Its name (with the secret).
    pub name: Option<String>,
    /// Its kind (`live` for RTP and file-live mountpoints, `on demand`, ...).
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Its description.
    pub description: Option<String>,
    /// Its metadata.
    pub metadata: Option<String>,
    /// Its secret (with the secret).
    pub secret: Option<String>,
    /// Its PIN (with the secret).
    pub pin: Option<String>,
    /// Whether it is private.
    pub is_private: Option<bool>,
    /// Whether viewers may watch.
    pub enabled: Option<bool>,
    /// Viewers now (with the secret).
    pub viewers: Option<u64>,
    /// Its streams.
    #[serde(default)]
    pub media: Vec<MediaInfo>,
}

/// The answer to [`List`].
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct MountpointList {
    /// The mountpoints.
    #[serde(default)]
    pub list: Vec<Mountpoint>,
}

/// A port Janus opened for a new RTP mountpoint.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct MediaPort {
    /// `audio`, `video` or `data`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// The stream's mid.
    pub mid: Option<String>,
    /// The RTP port.
    pub port: Option<u16>,
    /// The RTCP port.
    pub rtcp_port: Option<u16>,
    /// Simulcast: the second substream's port.
    pub port_2: Option<u16>,
    /// Simulcast: the third substream's port.
    pub port_3: Option<u16>,
}

/// The new mountpoint, in [`MountpointCreated`].
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct CreatedStream {
    /// Its id.
    pub id: Id,
    /// Its kind.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Its description.
    pub description: Option<String>,
    /// Whether it is private.
    pub is_private: Option<bool>,
    /// RTP: the ports Janus listens on.
    #[serde(default)]
    pub ports: Vec<MediaPort>,
}

/// The answer to [`Create`].
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct MountpointCreated {
    /// Its name.
    pub created: Option<String>,
    /// Whether it was saved to the config file.
    #[serde(default)]
    pub permanent: bool,
    /// The mountpoint.
    pub stream: CreatedStream,
}

/// The answer to [`Edit`].
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct MountpointEdited {
    /// The mountpoint.
    pub id: Id,
    /// Whether the change was saved to the config file.
    #[serde(default)]
    pub permanent: bool,
}

/// The answer to [`Destroy`].
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct MountpointDestroyed {
    /// The mountpoint destroyed.
    pub destroyed: Id,
}

/// A viewer's status: the answer to [`Watch`], [`Start`], [`Pause`] and [`Stop`]
/// (`preparing`, `starting`, `pausing`, `stopping`), and later ones as events.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Status {
    /// The status.
    pub status: String,
    /// With [`Watch`]: Janus' JSEP offer; answer it with [`Start`].
    #[serde(skip)]
    pub jsep: Option<Jsep>,
}

with_jsep!(Status);

/// The answer to [`Switch`].
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Switched {
    /// `ok`.
    pub switched: Option<String>,
    /// The mountpoint now watched.
    pub id: Option<Id>,
}

/// An unsolicited Streaming event.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// The viewer's status changed (`started`, `stopped`, `updating`, ...).
    Status(String),
    /// The viewer was switched to another mountpoint.
    Switched(Switched),
    /// The viewer's settings changed (`"event":"configured"`).
    Configured,
    /// Another `result` this library does not type.
    Result(Value),
    /// Anything else, as Janus sent it.
    Other(Value),
}

impl Event {
    /// Decodes the `data` of a Streaming event; never fails.
    pub fn from_data(data: Value) -> Event {
        Self::typed(&data).unwrap_or(Event::Other(data))
    }

    fn typed(data: &Value) -> Option<Event> {
        let result = data.get("result")?;
        Some(
            if let Some(s) = result.get("status").and_then(Value::as_str) {
                Event::Status(s.to_string())
            } else if result.get("switched").is_some() {
                Event::Switched(from_value(result)?)
            } else if result.get("event").and_then(Value::as_str) == Some("configured") {
                Event::Configured
            } else {
                Event::Result(result.clone())
            },
        )
    }
}

event_deserialize!(Event);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::PluginRequest;
    use serde_json::json;

    fn decode<R: PluginRequest<Streaming>>(data: Value, jsep: Option<Jsep>) -> R::Response {
        R::decode(PluginResponse {
            plugin: Streaming::NAME.into(),
            data,
            jsep,
            sender: None,
        })
        .expect("decodes")
    }

    #[test]
    fn only_set_fields_go_on_the_wire() {
        let create = Create {
            id: Some(777.into()),
            secret: Some("s".into()),
            media: Some(vec![
                MediaSource::audio("a", 0, 111, "opus"),
                MediaSource::video("v", 0, 100, "vp8"),
            ]),
            ..Create::new(MountpointType::Rtp)
        };
        assert_eq!(
            serde_json::to_value(&create).unwrap(),
            json!({"request":"create","type":"rtp","id":777,"secret":"s","media":[
                {"type":"audio","mid":"a","port":0,"pt":111,"codec":"opus"},
                {"type":"video","mid":"v","port":0,"pt":100,"codec":"vp8"}]})
        );
        assert_eq!(
            serde_json::to_value(Disable {
                stop_recording: Some(false),
                ..Disable::new(7)
            })
            .unwrap(),
            json!({"request":"disable","id":7,"stop_recording":false})
        );
        assert_eq!(
            serde_json::to_value(Recording::new(1, RecordingAction::Stop)).unwrap(),
            json!({"request":"recording","id":1,"action":"stop"})
        );
        assert_eq!(
            serde_json::to_value(Watch::new("cam")).unwrap(),
            json!({"request":"watch","id":"cam"})
        );
        assert_eq!(
            serde_json::to_value(Start::new().with_jsep(Jsep::answer("v=0"))).unwrap(),
            json!({"request":"start"})
        );
    }

    #[test]
    fn answers_as_janus_sends_them() {
        // Captured from Janus 1.1.2.
        let list = decode::<List>(
            json!({"streaming":"list","list":[{"id":1,"type":"live",
                "description":"Opus/VP8 live stream coming from external source",
                "metadata":"You can use this metadata section to put any info you want!",
                "enabled":true,"media":[{"mid":"a","type":"audio","label":"audio","age_ms":17139},
                {"mid":"v","type":"video","label":"video","age_ms":17139}]}]}),
            None,
        );
        assert_eq!(list.list[0].id, 1);
        assert_eq!(list.list[0].media[1].kind.as_deref(), Some("video"));
        let info = decode::<Info>(
            json!({"streaming":"info","info":{"id":777,"name":"mp-777","description":"t",
                "secret":"s","enabled":true,"viewers":0,"type":"live","media":[{"mindex":0,
                "type":"audio","mid":"a","label":"audio","pt":111,"codec":"opus",
                "rtpmap":"opus/48000/2","port":10005,"age_ms":121}]}}),
            None,
        );
        assert_eq!(info.name.as_deref(), Some("mp-777"));
        assert_eq!(info.media[0].port, Some(10005));
        let created = decode::<Create>(
            json!({"streaming":"created","created":"mp-777","permanent":false,
                "stream":{"id":777,"type":"live","description":"t","is_private":false,
                "ports":[{"type":"audio","mid":"a","port":10005},
                {"type":"video","mid":"v","port":10006}]}}),
            None,
        );
        assert_eq!(created.stream.id, 777);
        assert_eq!(created.stream.ports[1].port, Some(10006));
        // The deprecated API's answer (no `ports`, an extra `warning`) decodes too.
        let old = decode::<Create>(
            json!({"streaming":"created","created":"mp-778","permanent":false,
                "stream":{"id":778,"type":"live","description":"mp-778","is_private":false,
                "audio_port":10007},"warning":"deprecated_api"}),
            None,
        );
        assert!(old.stream.ports.is_empty());
        let edited = decode::<Edit>(
            json!({"streaming":"edited","id":777,"permanent":false}),
            None,
        );
        assert_eq!(edited.id, 777);
        let gone = decode::<Destroy>(json!({"streaming":"destroyed","destroyed":777}), None);
        assert_eq!(gone.destroyed, 777);
        let _: Done = decode::<KickAll>(json!({"streaming":"kicked_all"}), None);
        let _: Done = decode::<Enable>(json!({"streaming":"ok"}), None);
        let w = decode::<Watch>(
            json!({"streaming":"event","result":{"status":"preparing"}}),
            Some(Jsep::offer("v=0")),
        );
        assert_eq!(w.status, "preparing");
        assert_eq!(w.jsep.unwrap().kind, "offer");
        let s = decode::<Start>(
            json!({"streaming":"event","result":{"status":"starting"}}),
            None,
        );
        assert_eq!(s.status, "starting");
        let _: Done = decode::<Configure>(
            json!({"streaming":"event","result":{"event":"configured"}}),
            None,
        );
        let sw = decode::<Switch>(
            json!({"streaming":"event","result":{"switched":"ok","id":1}}),
            None,
        );
        assert_eq!(sw.id, Some(Id::Num(1)));
    }

    #[test]
    fn events_as_janus_sends_them() {
        assert_eq!(
            Event::from_data(json!({"streaming":"event","result":{"status":"started"}})),
            Event::Status("started".into())
        );
        assert_eq!(
            Event::from_data(
                json!({"streaming":"event","result":{"status":"stopped","new":1},"extra":true})
            ),
            Event::Status("stopped".into())
        );
        assert!(matches!(
            Event::from_data(json!({"streaming":"event","result":{"switched":"ok","id":2}})),
            Event::Switched(_)
        ));
        assert_eq!(
            Event::from_data(json!({"streaming":"event","result":{"event":"configured"}})),
            Event::Configured
        );
        let v = json!({"streaming":"event","result":{"substream":1}});
        assert_eq!(
            Event::from_data(v.clone()),
            Event::Result(json!({"substream":1}))
        );
        let v2 = json!({"streaming":"something"});
        assert_eq!(Event::from_data(v2.clone()), Event::Other(v2));
        let _ = v;
    }
}
