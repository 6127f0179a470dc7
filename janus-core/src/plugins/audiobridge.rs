//! `janus.plugin.audiobridge`: an audio mixer (MCU) with rooms.
//!
//! Management requests are answered at once; [`Join`], [`Configure`], [`ChangeRoom`] and
//! [`Leave`] by an event. Joining without a JSEP works (the participant shows as not
//! `setup`); send the offer later with [`Configure`].
//!
//! Note (Janus 1.1.2): [`ChangeRoom`] without `id` gives the participant a new random id.

use serde::Deserialize;
use serde_json::Value;

use super::{
    decode_with_jsep, from_value, AllowedAction, AllowedList, Done, Id, Plugin, RecordingState,
    RoomExists, RoomResult,
};
use crate::Jsep;

/// The AudioBridge plugin.
#[derive(Clone, Copy, Debug)]
pub struct AudioBridge;

impl Plugin for AudioBridge {
    const NAME: &'static str = "janus.plugin.audiobridge";
    type Event = Event;
    fn parse_event(data: Value) -> Event {
        Event::from_data(data)
    }
}

/// AudioBridge error codes (Janus 1.1.2, `plugins/janus_audiobridge.c`).
pub mod errors {
    /// 499: unknown error (also: a file to play could not be opened).
    pub const UNKNOWN_ERROR: i64 = 499;
    /// 480: no message.
    pub const NO_MESSAGE: i64 = 480;
    /// 481: invalid JSON.
    pub const INVALID_JSON: i64 = 481;
    /// 482: unknown request.
    pub const INVALID_REQUEST: i64 = 482;
    /// 483: missing mandatory element.
    pub const MISSING_ELEMENT: i64 = 483;
    /// 484: invalid element.
    pub const INVALID_ELEMENT: i64 = 484;
    /// 485: no such room.
    pub const NO_SUCH_ROOM: i64 = 485;
    /// 486: the room already exists.
    pub const ROOM_EXISTS: i64 = 486;
    /// 487: not joined.
    pub const NOT_JOINED: i64 = 487;
    /// 488: libopus error.
    pub const LIBOPUS_ERROR: i64 = 488;
    /// 489: unauthorized (wrong secret or PIN, not in the allowed list).
    pub const UNAUTHORIZED: i64 = 489;
    /// 490: the participant id is taken.
    pub const ID_EXISTS: i64 = 490;
    /// 491: already in a room (use [`ChangeRoom`](super::ChangeRoom)).
    pub const ALREADY_JOINED: i64 = 491;
    /// 492: no such participant.
    pub const NO_SUCH_USER: i64 = 492;
    /// 493: invalid SDP.
    pub const INVALID_SDP: i64 = 493;
    /// 494: no such group.
    pub const NO_SUCH_GROUP: i64 = 494;
}

requests! {
    plugin = AudioBridge;

    /// `create`: creates a room (with `room` unset, Janus picks the id).
    Create("create") -> RoomResult {
        optional {
            /// The room id to use.
            room: Id,
            /// Save the room to the plugin's config file.
            permanent: bool,
            /// A description.
            description: String,
            /// The secret needed to edit or destroy the room.
            secret: String,
            /// The PIN needed to join.
            pin: String,
            /// Leave the room out of `list`.
            is_private: bool,
            /// Tokens allowed to join (turns the token check on).
            allowed: Vec<String>,
            /// Sampling rate of the mix (8000, 12000, 16000, 24000 or 48000).
            sampling_rate: u32,
            /// Stereo mix with spatial positions.
            spatial_audio: bool,
            /// Negotiate the audio level extension.
            audiolevel_ext: bool,
            /// Send talking events.
            audiolevel_event: bool,
            /// Packets used to compute the audio level.
            audio_active_packets: u32,
            /// Average audio level threshold for talking events.
            audio_level_average: u32,
            /// Packets to buffer per participant.
            default_prebuffering: u32,
            /// Expected packet loss (percent) for Opus FEC.
            default_expectedloss: u32,
            /// Default Opus bitrate for participants.
            default_bitrate: u64,
            /// Record the mix.
            record: bool,
            /// File of the recording.
            record_file: String,
            /// Folder of the recording.
            record_dir: String,
            /// Also record each participant (`.mjr` files).
            mjrs: bool,
            /// Folder of the `.mjr` files.
            mjrs_dir: String,
            /// Allow plain-RTP participants.
            allow_rtp_participants: bool,
            /// Named groups of participants.
            groups: Vec<String>,
            /// The plugin's admin key, when it requires one to create rooms.
            admin_key: String,
        }
    }

    /// `edit`: changes a room's properties.
    Edit("edit") -> RoomResult {
        required {
            /// The room.
            room: Id,
        }
        optional {
            /// The room's secret.
            secret: String,
            /// New description.
            new_description: String,
            /// New secret.
            new_secret: String,
            /// New PIN.
            new_pin: String,
            /// New privacy.
            new_is_private: bool,
            /// New recording folder.
            new_record_dir: String,
            /// New `.mjr` folder.
            new_mjrs_dir: String,
            /// Save the change to the config file.
            permanent: bool,
        }
    }

    /// `destroy`: destroys a room; its participants get [`Event::Destroyed`].
    Destroy("destroy") -> RoomResult {
        required {
            /// The room.
            room: Id,
        }
        optional {
            /// The room's secret.
            secret: String,
            /// Remove the room from the config file too.
            permanent: bool,
        }
    }

    /// `exists`: whether a room exists.
    Exists("exists") -> RoomExists {
        required {
            /// The room.
            room: Id,
        }
    }

    /// `allowed`: edits the list of tokens allowed to join.
    Allowed("allowed") -> AllowedList {
        required {
            /// The room.
            room: Id,
            /// What to do.
            action: AllowedAction,
        }
        optional {
            /// The room's secret.
            secret: String,
            /// The tokens to add or remove.
            allowed: Vec<String>,
        }
    }

    /// `list`: the public rooms.
    List("list") -> RoomList {}

    /// `listparticipants`: who is in a room.
    ListParticipants("listparticipants") -> Participants {
        required {
            /// The room.
            room: Id,
        }
    }

    /// `mute`: mutes a participant.
    Mute("mute") -> Done {
        required {
            /// The room.
            room: Id,
            /// The participant.
            id: Id,
        }
        optional {
            /// The room's secret.
            secret: String,
        }
    }

    /// `unmute`: unmutes a participant.
    Unmute("unmute") -> Done {
        required {
            /// The room.
            room: Id,
            /// The participant.
            id: Id,
        }
        optional {
            /// The room's secret.
            secret: String,
        }
    }

    /// `mute_room`: mutes everyone.
    MuteRoom("mute_room") -> Done {
        required {
            /// The room.
            room: Id,
        }
        optional {
            /// The room's secret.
            secret: String,
        }
    }

    /// `unmute_room`: unmutes the room.
    UnmuteRoom("unmute_room") -> Done {
        required {
            /// The room.
            room: Id,
        }
        optional {
            /// The room's secret.
            secret: String,
        }
    }

    /// `kick`: removes a participant.
    Kick("kick") -> Done {
        required {
            /// The room.
            room: Id,
            /// The participant.
            id: Id,
        }
        optional {
            /// The room's secret.
            secret: String,
        }
    }

    /// `kick_all`: removes everyone.
    KickAll("kick_all") -> Done {
        required {
            /// The room.
            room: Id,
        }
        optional {
            /// The room's secret.
            secret: String,
        }
    }

    /// `enable_recording`: starts or stops recording the mix.
    EnableRecording("enable_recording") -> RecordingState {
        required {
            /// The room.
            room: Id,
            /// Record or not.
            record: bool,
        }
        optional {
            /// The room's secret.
            secret: String,
            /// File of the recording.
            record_file: String,
            /// Folder of the recording.
            record_dir: String,
        }
    }

    /// `play_file`: plays an Opus file into the room.
    PlayFile("play_file") -> FilePlaying {
        required {
            /// The room.
            room: Id,
            /// The `.opus` file (on the server).
            filename: String,
        }
        optional {
            /// The room's secret.
            secret: String,
            /// An id for the announcement (Janus makes one if unset).
            file_id: String,
            /// Only to this group.
            group: String,
            /// Play in a loop.
            #[serde(rename = "loop")]
            repeat: bool,
        }
    }

    /// `is_playing`: whether an announcement is still playing.
    IsPlaying("is_playing") -> IsPlayingAnswer {
        required {
            /// The room.
            room: Id,
            /// The announcement.
            file_id: String,
        }
        optional {
            /// The room's secret.
            secret: String,
        }
    }

    /// `stop_file`: stops an announcement.
    StopFile("stop_file") -> Done {
        required {
            /// The room.
            room: Id,
            /// The announcement.
            file_id: String,
        }
        optional {
            /// The room's secret.
            secret: String,
        }
    }

    /// `rtp_forward`: forwards the mix over plain RTP.
    RtpForward("rtp_forward") -> RtpForwarded {
        required {
            /// The room.
            room: Id,
            /// Where to send.
            host: String,
            /// The port.
            port: u16,
        }
        optional {
            /// The room's secret.
            secret: String,
            /// `ipv4` or `ipv6`.
            host_family: String,
            /// Only this group's mix.
            group: String,
            /// SSRC to use.
            ssrc: u32,
            /// `opus` (default), `pcma` or `pcmu`.
            codec: String,
            /// Payload type to use.
            ptype: u8,
            /// SRTP suite (32 or 80).
            srtp_suite: u32,
            /// SRTP key, base64.
            srtp_crypto: String,
            /// Forward even when nobody talks.
            always_on: bool,
            /// The plugin's admin key, when forwarding requires it.
            admin_key: String,
        }
    }

    /// `stop_rtp_forward`: stops a forwarder.
    StopRtpForward("stop_rtp_forward") -> RtpForwardStopped {
        required {
            /// The room.
            room: Id,
            /// The forwarder.
            stream_id: u64,
        }
        optional {
            /// The room's secret.
            secret: String,
        }
    }

    /// `listforwarders`: the forwarders of a room.
    ListForwarders("listforwarders") -> Forwarders {
        required {
            /// The room.
            room: Id,
        }
        optional {
            /// The room's secret.
            secret: String,
        }
    }

    /// `join`: joins a room (with or without a JSEP offer).
    Join("join") -> Joined, via decode_with_jsep {
        required {
            /// The room.
            room: Id,
        }
        optional {
            /// The participant id to use (Janus picks one if unset).
            id: Id,
            /// The group to join.
            group: String,
            /// The room's PIN.
            pin: String,
            /// The display name.
            display: String,
            /// A token from the room's allowed list.
            token: String,
            /// Join muted.
            muted: bool,
            /// `opus` (default), `pcma` or `pcmu`.
            codec: String,
            /// Opus bitrate.
            bitrate: u64,
            /// Opus encoder complexity (1–10).
            quality: u8,
            /// Expected packet loss (percent) for Opus FEC.
            expected_loss: u8,
            /// Volume (percent, 100 is unchanged).
            volume: u32,
            /// Stereo position (0 left – 100 right) in spatial rooms.
            spatial_position: u8,
            /// The room's secret (for admin participants).
            secret: String,
            /// Average audio level threshold.
            audio_level_average: u32,
            /// Packets used to compute the audio level.
            audio_active_packets: u32,
            /// Record this participant.
            record: bool,
            /// Base name of that recording.
            filename: String,
            /// Ask Janus for an offer instead of sending one.
            generate_offer: bool,
        }
        jsep: optional,
    }

    /// `configure`: changes this participant's settings, or sends a JSEP offer.
    Configure("configure") -> Configured, via decode_with_jsep {
        optional {
            /// Mute or unmute.
            muted: bool,
            /// New display name.
            display: String,
            /// Opus bitrate.
            bitrate: u64,
            /// Opus encoder complexity (1–10).
            quality: u8,
            /// Expected packet loss (percent).
            expected_loss: u8,
            /// Volume (percent).
            volume: u32,
            /// Stereo position (0–100).
            spatial_position: u8,
            /// Record this participant.
            record: bool,
            /// Base name of that recording.
            filename: String,
            /// Packets to buffer.
            prebuffer: u32,
            /// Move to this group.
            group: String,
            /// Ask for a new offer (ICE restart).
            update: bool,
        }
        jsep: optional,
    }

    /// `changeroom`: moves to another room without renegotiating.
    ChangeRoom("changeroom") -> RoomChanged {
        required {
            /// The new room.
            room: Id,
        }
        optional {
            /// The participant id to use there (a new random one if unset).
            id: Id,
            /// The group to join.
            group: String,
            /// The display name.
            display: String,
            /// A token from the room's allowed list.
            token: String,
            /// Join muted.
            muted: bool,
            /// The room's PIN.
            pin: String,
            /// The room's secret.
            secret: String,
            /// Opus bitrate.
            bitrate: u64,
            /// Opus encoder complexity.
            quality: u8,
            /// Expected packet loss (percent).
            expected_loss: u8,
            /// Volume (percent).
            volume: u32,
            /// Stereo position (0–100).
            spatial_position: u8,
        }
    }

    /// `leave`: leaves the room.
    Leave("leave") -> Left {}
}

/// A room as [`List`] shows it.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct RoomInfo {
    /// The room.
    pub room: Id,
    /// Its description.
    pub description: Option<String>,
    /// A PIN is needed to join.
    #[serde(default)]
    pub pin_required: bool,
    /// Sampling rate of the mix.
    pub sampling_rate: Option<u32>,
    /// Stereo mix with spatial positions.
    pub spatial_audio: Option<bool>,
    /// Recording.
    pub record: Option<bool>,
    /// Everyone is muted.
    pub muted: Option<bool>,
    /// Participants now.
    #[serde(default)]
    pub num_participants: u64,
}

/// The answer to [`List`].
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct RoomList {
    /// The rooms.
    #[serde(default)]
    pub list: Vec<RoomInfo>,
}

/// A participant of a room.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Participant {
    /// Its id.
    pub id: Id,
    /// Its display name.
    pub display: Option<String>,
    /// Whether its PeerConnection is up.
    #[serde(default)]
    pub setup: bool,
    /// Whether it is muted.
    #[serde(default)]
    pub muted: bool,
    /// Whether it is talking (rooms with talking events).
    pub talking: Option<bool>,
    /// Stereo position (spatial rooms).
    pub spatial_position: Option<u8>,
}

/// The answer to [`ListParticipants`].
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Participants {
    /// The room.
    pub room: Id,
    /// Who is in it.
    #[serde(default)]
    pub participants: Vec<Participant>,
}

/// The answer to [`PlayFile`].
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct FilePlaying {
    /// The room.
    pub room: Id,
    /// The announcement's id.
    pub file_id: String,
}

/// The answer to [`IsPlaying`].
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct IsPlayingAnswer {
    /// The room.
    pub room: Id,
    /// The announcement.
    pub file_id: Option<String>,
    /// Whether it is playing.
    pub playing: bool,
}

/// The answer to [`RtpForward`].
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct RtpForwarded {
    /// The room.
    pub room: Id,
    /// The forwarder's id (for [`StopRtpForward`]).
    pub stream_id: u64,
    /// Where it sends.
    pub host: Option<String>,
    /// The port.
    pub port: Option<u16>,
    /// The group forwarded.
    pub group: Option<String>,
}

/// The answer to [`StopRtpForward`].
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct RtpForwardStopped {
    /// The room.
    pub room: Id,
    /// The forwarder stopped.
    pub stream_id: u64,
}

/// One forwarder of a room.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Forwarder {
    /// Its id.
    pub stream_id: u64,
    /// Where it sends.
    pub ip: Option<String>,
    /// The port.
    pub port: Option<u16>,
    /// SSRC.
    pub ssrc: Option<u32>,
    /// Codec.
    pub codec: Option<String>,
    /// Payload type.
    pub ptype: Option<u8>,
    /// The group forwarded.
    pub group: Option<String>,
    /// Whether SRTP is used.
    pub srtp: Option<bool>,
    /// Forwards even when nobody talks.
    pub always_on: Option<bool>,
}

/// The answer to [`ListForwarders`].
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Forwarders {
    /// The room.
    pub room: Id,
    /// Its forwarders.
    #[serde(default)]
    pub rtp_forwarders: Vec<Forwarder>,
}

/// `"audiobridge":"joined"`: the answer to [`Join`] (with this participant's `id`), and,
/// as an event without `id`, someone else joined.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Joined {
    /// The room.
    pub room: Id,
    /// This participant's id (absent when the event is about others).
    pub id: Option<Id>,
    /// This participant's display name.
    pub display: Option<String>,
    /// The other participants (or, as an event, the ones who joined).
    #[serde(default)]
    pub participants: Vec<Participant>,
    /// Janus' JSEP (the answer to the offer sent with [`Join`], or its own offer with
    /// `generate_offer`).
    #[serde(skip)]
    pub jsep: Option<Jsep>,
}

/// The answer to [`Configure`] (`"result":"ok"`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Configured {
    /// `ok`.
    pub result: Option<String>,
    /// Janus' JSEP answer, when an offer was sent.
    #[serde(skip)]
    pub jsep: Option<Jsep>,
}

with_jsep!(Joined, Configured);

/// `"audiobridge":"roomchanged"`: the answer to [`ChangeRoom`].
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct RoomChanged {
    /// The new room.
    pub room: Id,
    /// This participant's id there.
    pub id: Id,
    /// This participant's display name.
    pub display: Option<String>,
    /// The other participants.
    #[serde(default)]
    pub participants: Vec<Participant>,
}

/// `"audiobridge":"left"`: the answer to [`Leave`].
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Left {
    /// The room.
    pub room: Option<Id>,
    /// This participant's id.
    pub id: Option<Id>,
}

/// An unsolicited AudioBridge event.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// `joined`: with `id`, this handle joined (normally the answer to [`Join`]); without,
    /// others joined.
    Joined(Joined),
    /// This handle moved to another room.
    RoomChanged(RoomChanged),
    /// Participants changed (muted, display name, setup, ...).
    Participants {
        /// The room.
        room: Id,
        /// The participants that changed.
        participants: Vec<Participant>,
    },
    /// A participant left.
    Leaving {
        /// The room.
        room: Id,
        /// Who.
        id: Id,
    },
    /// This handle left (normally the answer to [`Leave`]).
    Left(Left),
    /// A participant was kicked.
    Kicked {
        /// The room.
        room: Id,
        /// Who.
        id: Id,
    },
    /// Everyone was kicked (`id` is this handle's participant).
    KickedAll {
        /// The room.
        room: Id,
        /// This handle's participant.
        id: Option<Id>,
    },
    /// The whole room was muted or unmuted.
    RoomMuted {
        /// The room.
        room: Id,
        /// Muted or not.
        muted: bool,
    },
    /// A participant started talking.
    Talking {
        /// The room.
        room: Id,
        /// Who.
        id: Id,
    },
    /// A participant stopped talking.
    StoppedTalking {
        /// The room.
        room: Id,
        /// Who.
        id: Id,
    },
    /// An announcement started.
    AnnouncementStarted {
        /// The room.
        room: Id,
        /// The announcement.
        file_id: String,
    },
    /// An announcement ended.
    AnnouncementStopped {
        /// The room.
        room: Id,
        /// The announcement.
        file_id: String,
    },
    /// The room was destroyed.
    Destroyed {
        /// The room.
        room: Id,
    },
    /// `"result": ...` (normally the answer to [`Configure`]).
    Result(Value),
    /// Another `"audiobridge":"event"` this library does not type.
    Event(Value),
    /// Anything else, as Janus sent it.
    Other(Value),
}

impl Event {
    /// Decodes the `data` of an AudioBridge event; never fails.
    pub fn from_data(data: Value) -> Event {
        Self::typed(&data).unwrap_or(Event::Other(data))
    }

    fn typed(data: &Value) -> Option<Event> {
        let kind = data.get("audiobridge")?.as_str()?;
        let room = || data.get("room").and_then(from_value::<Id>);
        let id_of = |key: &str| data.get(key).and_then(from_value::<Id>);
        let file_id = || {
            data.get("file_id")
                .and_then(Value::as_str)
                .map(String::from)
        };
        Some(match kind {
            "joined" => Event::Joined(from_value(data)?),
            "roomchanged" => Event::RoomChanged(from_value(data)?),
            "left" => Event::Left(from_value(data)?),
            "destroyed" => Event::Destroyed { room: room()? },
            "talking" => Event::Talking {
                room: room()?,
                id: id_of("id")?,
            },
            "stopped-talking" => Event::StoppedTalking {
                room: room()?,
                id: id_of("id")?,
            },
            "announcement-started" => Event::AnnouncementStarted {
                room: room()?,
                file_id: file_id()?,
            },
            "announcement-stopped" => Event::AnnouncementStopped {
                room: room()?,
                file_id: file_id()?,
            },
            "event" => {
                if let Some(p) = data.get("participants") {
                    Event::Participants {
                        room: room()?,
                        participants: from_value(p)?,
                    }
                } else if data.get("leaving").is_some() {
                    Event::Leaving {
                        room: room()?,
                        id: id_of("leaving")?,
                    }
                } else if data.get("kicked").is_some() {
                    Event::Kicked {
                        room: room()?,
                        id: id_of("kicked")?,
                    }
                } else if data.get("kicked_all").is_some() {
                    Event::KickedAll {
                        room: room()?,
                        id: id_of("kicked_all"),
                    }
                } else if let Some(m) = data.get("muted").and_then(Value::as_bool) {
                    Event::RoomMuted {
                        room: room()?,
                        muted: m,
                    }
                } else if let Some(r) = data.get("result") {
                    Event::Result(r.clone())
                } else {
                    Event::Event(data.clone())
                }
            }
            _ => return None,
        })
    }
}

event_deserialize!(Event);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::PluginRequest;
    use crate::PluginResponse;
    use serde_json::json;

    fn decode<R: PluginRequest<AudioBridge>>(data: Value, jsep: Option<Jsep>) -> R::Response {
        R::decode(PluginResponse {
            plugin: AudioBridge::NAME.into(),
            data,
            jsep,
            sender: None,
        })
        .expect("decodes")
    }

    #[test]
    fn only_set_fields_go_on_the_wire() {
        assert_eq!(
            serde_json::to_value(Create {
                room: Some(5555.into()),
                sampling_rate: Some(16000),
                ..Default::default()
            })
            .unwrap(),
            json!({"request":"create","room":5555,"sampling_rate":16000})
        );
        assert_eq!(
            serde_json::to_value(Join {
                display: Some("alice".into()),
                muted: Some(true),
                ..Join::new(5555)
            })
            .unwrap(),
            json!({"request":"join","room":5555,"display":"alice","muted":true})
        );
        assert_eq!(
            serde_json::to_value(PlayFile {
                repeat: Some(true),
                ..PlayFile::new(1, "/x.opus")
            })
            .unwrap(),
            json!({"request":"play_file","room":1,"filename":"/x.opus","loop":true})
        );
        assert_eq!(
            serde_json::to_value(StopRtpForward::new(1, 2984338975)).unwrap(),
            json!({"request":"stop_rtp_forward","room":1,"stream_id":2984338975u64})
        );
        assert_eq!(
            serde_json::to_value(Leave::new()).unwrap(),
            json!({"request":"leave"})
        );
    }

    #[test]
    fn answers_as_janus_sends_them() {
        // Captured from Janus 1.1.2.
        let list = decode::<List>(
            json!({"audiobridge":"success","list":[{"room":1234,"description":"Demo Room",
                "sampling_rate":16000,"spatial_audio":false,"pin_required":false,"record":false,
                "muted":false,"num_participants":0}]}),
            None,
        );
        assert_eq!(list.list[0].sampling_rate, Some(16000));
        let p = decode::<ListParticipants>(
            json!({"audiobridge":"participants","room":5555,"participants":[
                {"id":11,"display":"alice","setup":false,"muted":false},
                {"id":12,"display":"bob","setup":false,"muted":true}]}),
            None,
        );
        assert!(p.participants[1].muted);
        let _: Done = decode::<Mute>(json!({"audiobridge":"success","room":5555}), None);
        let ip = decode::<IsPlaying>(
            json!({"audiobridge":"success","room":5555,"file_id":"x","playing":false}),
            None,
        );
        assert!(!ip.playing);
        let fw = decode::<RtpForward>(
            json!({"audiobridge":"success","room":5555,"stream_id":2984338975u64,
                   "host":"127.0.0.1","port":5002}),
            None,
        );
        assert_eq!(fw.stream_id, 2984338975);
        let fl = decode::<ListForwarders>(
            json!({"audiobridge":"forwarders","room":5555,"rtp_forwarders":[]}),
            None,
        );
        assert!(fl.rtp_forwarders.is_empty());
        let j = decode::<Join>(
            json!({"audiobridge":"joined","room":5555,"id":12,"participants":[
                {"id":11,"display":"alice","setup":false,"muted":false}]}),
            None,
        );
        assert_eq!(j.id, Some(Id::Num(12)));
        let c = decode::<ChangeRoom>(
            json!({"audiobridge":"roomchanged","room":5602,"id":1545370832712614u64,"participants":[]}),
            None,
        );
        assert_eq!(c.room, 5602);
        let l = decode::<Leave>(json!({"audiobridge":"left","room":5555,"id":12}), None);
        assert_eq!(l.id, Some(Id::Num(12)));
        let conf = decode::<Configure>(json!({"audiobridge":"event","result":"ok"}), None);
        assert_eq!(conf.result.as_deref(), Some("ok"));
    }

    #[test]
    fn events_as_janus_sends_them() {
        // Captured from Janus 1.1.2.
        assert!(matches!(
            Event::from_data(json!({"audiobridge":"joined","room":5555,"participants":[
                {"id":12,"display":"bob","setup":false,"muted":true}]})),
            Event::Joined(Joined { id: None, .. })
        ));
        match Event::from_data(json!({"audiobridge":"event","room":5555,"participants":[
            {"id":11,"display":"alice","setup":false,"muted":true,"future":1}]}))
        {
            Event::Participants { participants, .. } => assert!(participants[0].muted),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            Event::from_data(json!({"audiobridge":"event","room":5555,"muted":true})),
            Event::RoomMuted {
                room: 5555.into(),
                muted: true
            }
        );
        assert_eq!(
            Event::from_data(json!({"audiobridge":"event","room":5555,"kicked":11})),
            Event::Kicked {
                room: 5555.into(),
                id: 11.into()
            }
        );
        assert_eq!(
            Event::from_data(json!({"audiobridge":"event","room":5555,"leaving":11})),
            Event::Leaving {
                room: 5555.into(),
                id: 11.into()
            }
        );
        assert!(matches!(
            Event::from_data(
                json!({"audiobridge":"event","room":5602,"kicked_all":1545370832712614u64})
            ),
            Event::KickedAll { id: Some(_), .. }
        ));
        assert_eq!(
            Event::from_data(json!({"audiobridge":"destroyed","room":5602})),
            Event::Destroyed { room: 5602.into() }
        );
        assert_eq!(
            Event::from_data(json!({"audiobridge":"event","result":"ok"})),
            Event::Result(json!("ok"))
        );
        assert!(matches!(
            Event::from_data(json!({"audiobridge":"talking","room":1,"id":2})),
            Event::Talking { .. }
        ));
        let v = json!({"audiobridge":"suspended","room":1,"id":2});
        assert_eq!(Event::from_data(v.clone()), Event::Other(v));
    }
}
