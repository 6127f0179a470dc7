//! `janus.plugin.videoroom`: an SFU with rooms of publishers and subscribers.
//!
//! Room management ([`Create`], [`Edit`], [`Destroy`], [`List`], [`Exists`], [`Allowed`],
//! [`Kick`], [`Moderate`], [`ListParticipants`], [`EnableRecording`], [`RtpForward`],
//! [`StopRtpForward`], [`ListForwarders`]) is answered at once. Publisher requests
//! ([`JoinPublisher`], [`JoinAndConfigure`], [`Configure`], [`Publish`], [`Unpublish`],
//! [`Leave`]) and subscriber requests ([`JoinSubscriber`], [`Start`], [`Pause`], [`Switch`],
//! [`Update`], [`Subscribe`], [`Unsubscribe`], [`Leave`]) are answered by an event.
//!
//! A subscriber handle gets Janus' offer in [`Attached::jsep`] and answers it with
//! [`Start`] (`Start::new().with_jsep(answer)`).
//!
//! Janus 1.1.2 announces a publisher to the room (the [`Event::Publishers`] event) only
//! once its PeerConnection is up, so subscribing needs real media.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{
    decode_with_jsep, from_value, AllowedAction, AllowedList, Done, Id, Plugin, RecordingState,
    RoomExists, RoomResult,
};
use crate::Jsep;

/// The VideoRoom plugin.
#[derive(Clone, Copy, Debug)]
pub struct VideoRoom;

impl Plugin for VideoRoom {
    const NAME: &'static str = "janus.plugin.videoroom";
    type Event = Event;
    fn parse_event(data: Value) -> Event {
        Event::from_data(data)
    }
}

/// VideoRoom error codes (Janus 1.1.2, `plugins/janus_videoroom.c`).
pub mod errors {
    /// 499: unknown error.
    pub const UNKNOWN_ERROR: i64 = 499;
    /// 421: no message.
    pub const NO_MESSAGE: i64 = 421;
    /// 422: invalid JSON.
    pub const INVALID_JSON: i64 = 422;
    /// 423: unknown request.
    pub const INVALID_REQUEST: i64 = 423;
    /// 424: join first (a request on a handle that has not joined).
    pub const JOIN_FIRST: i64 = 424;
    /// 425: already joined.
    pub const ALREADY_JOINED: i64 = 425;
    /// 426: no such room.
    pub const NO_SUCH_ROOM: i64 = 426;
    /// 427: the room already exists.
    pub const ROOM_EXISTS: i64 = 427;
    /// 428: no such feed (publisher, participant or stream).
    pub const NO_SUCH_FEED: i64 = 428;
    /// 429: missing mandatory element.
    pub const MISSING_ELEMENT: i64 = 429;
    /// 430: invalid element.
    pub const INVALID_ELEMENT: i64 = 430;
    /// 431: invalid SDP type.
    pub const INVALID_SDP_TYPE: i64 = 431;
    /// 432: the room is full of publishers.
    pub const PUBLISHERS_FULL: i64 = 432;
    /// 433: unauthorized (wrong secret or pin, not in the allowed list).
    pub const UNAUTHORIZED: i64 = 433;
    /// 434: already publishing.
    pub const ALREADY_PUBLISHED: i64 = 434;
    /// 435: not publishing.
    pub const NOT_PUBLISHED: i64 = 435;
    /// 436: the participant id is taken.
    pub const ID_EXISTS: i64 = 436;
    /// 437: invalid SDP.
    pub const INVALID_SDP: i64 = 437;
}

requests! {
    plugin = VideoRoom;

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
            /// Subscribers must give a publisher's `private_id`.
            require_pvtid: bool,
            /// Tokens are signed (token authentication).
            signed_tokens: bool,
            /// Maximum number of concurrent publishers.
            publishers: u32,
            /// Bitrate cap for publishers, in bits per second.
            bitrate: u64,
            /// Publishers may not go above `bitrate`.
            bitrate_cap: bool,
            /// Keyframe request interval, in seconds.
            fir_freq: u32,
            /// Allowed audio codecs, comma separated (`opus,g722`).
            audiocodec: String,
            /// Allowed video codecs, comma separated (`vp8,h264`).
            videocodec: String,
            /// VP9 profile.
            vp9_profile: String,
            /// H.264 profile.
            h264_profile: String,
            /// Opus in-band FEC.
            opus_fec: bool,
            /// Opus DTX.
            opus_dtx: bool,
            /// Negotiate the audio level extension.
            audiolevel_ext: bool,
            /// Send talking events.
            audiolevel_event: bool,
            /// Packets used to compute the audio level.
            audio_active_packets: u32,
            /// Average audio level threshold for talking events.
            audio_level_average: u32,
            /// Negotiate the video orientation extension.
            videoorient_ext: bool,
            /// Negotiate the playout delay extension.
            playoutdelay_ext: bool,
            /// Negotiate transport-wide congestion control.
            transport_wide_cc_ext: bool,
            /// Record every publisher.
            record: bool,
            /// Folder for the recordings.
            rec_dir: String,
            /// Only the secret holder may start or stop recordings.
            lock_record: bool,
            /// Tell participants when someone joins (not only publishers).
            notify_joining: bool,
            /// Publishers and subscribers must use end-to-end encryption.
            require_e2ee: bool,
            /// Add a dummy publisher (for subscriptions before anyone publishes).
            dummy_publisher: bool,
            /// The dummy publisher's streams.
            dummy_streams: Vec<Value>,
            /// Number of helper threads for this room.
            threads: u32,
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
            /// New `require_pvtid`.
            new_require_pvtid: bool,
            /// New bitrate cap.
            new_bitrate: u64,
            /// New keyframe request interval.
            new_fir_freq: u32,
            /// New maximum number of publishers.
            new_publishers: u32,
            /// New `lock_record`.
            new_lock_record: bool,
            /// New recording folder.
            new_rec_dir: String,
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

    /// `list`: the public rooms.
    List("list") -> RoomList {}

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

    /// `moderate`: mutes or unmutes one stream of a publisher.
    Moderate("moderate") -> Done {
        required {
            /// The room.
            room: Id,
            /// The publisher.
            id: Id,
            /// The stream's mid.
            mid: String,
            /// Mute (true) or unmute (false).
            mute: bool,
        }
        optional {
            /// The room's secret.
            secret: String,
        }
    }

    /// `listparticipants`: who is in a room.
    ListParticipants("listparticipants") -> Participants {
        required {
            /// The room.
            room: Id,
        }
    }

    /// `enable_recording`: starts or stops recording every publisher of a room.
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
        }
    }

    /// `rtp_forward`: forwards a publisher's streams over plain RTP.
    RtpForward("rtp_forward") -> RtpForwarded {
        required {
            /// The room.
            room: Id,
            /// The publisher.
            publisher_id: Id,
            /// Where to send by default.
            host: String,
        }
        optional {
            /// The room's secret.
            secret: String,
            /// `ipv4` or `ipv6`.
            host_family: String,
            /// What to forward where.
            streams: Vec<ForwardStream>,
            /// SRTP suite (32 or 80).
            srtp_suite: u32,
            /// SRTP key, base64.
            srtp_crypto: String,
            /// The plugin's admin key, when forwarding requires it.
            admin_key: String,
        }
    }

    /// `stop_rtp_forward`: stops one forwarder.
    StopRtpForward("stop_rtp_forward") -> RtpForwardStopped {
        required {
            /// The room.
            room: Id,
            /// The publisher.
            publisher_id: Id,
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

    /// `join` as a publisher (without media; send [`Publish`] later, or use
    /// [`JoinAndConfigure`]). Answered with [`Joined`].
    JoinPublisher("join") -> Joined, via decode_with_jsep {
        fixed {
            /// Always [`Ptype::Publisher`].
            ptype: Ptype = Ptype::Publisher,
        }
        required {
            /// The room.
            room: Id,
        }
        optional {
            /// The participant id to use (Janus picks one if unset).
            id: Id,
            /// The display name.
            display: String,
            /// The room's PIN.
            pin: String,
            /// A token from the room's allowed list.
            token: String,
        }
    }

    /// `joinandconfigure`: joins as a publisher and publishes at once (send the offer with
    /// it, as the last argument of `new`). Answered with [`Joined`], carrying Janus' answer.
    JoinAndConfigure("joinandconfigure") -> Joined, via decode_with_jsep {
        fixed {
            /// Always [`Ptype::Publisher`].
            ptype: Ptype = Ptype::Publisher,
        }
        required {
            /// The room.
            room: Id,
        }
        optional {
            /// The participant id to use (Janus picks one if unset).
            id: Id,
            /// The display name.
            display: String,
            /// The room's PIN.
            pin: String,
            /// A token from the room's allowed list.
            token: String,
            /// Bitrate cap, in bits per second.
            bitrate: u64,
            /// Record.
            record: bool,
            /// Base name of the recording.
            filename: String,
            /// Preferred audio codec.
            audiocodec: String,
            /// Preferred video codec.
            videocodec: String,
            /// Stream descriptions.
            descriptions: Vec<StreamDescription>,
        }
        jsep: required,
    }

    /// `join` as a subscriber. Answered with [`Attached`], carrying Janus' offer.
    JoinSubscriber("join") -> Attached, via decode_with_jsep {
        fixed {
            /// Always [`Ptype::Subscriber`].
            ptype: Ptype = Ptype::Subscriber,
        }
        required {
            /// The room.
            room: Id,
            /// What to subscribe to (left off the wire when empty).
            #[serde(skip_serializing_if = "Vec::is_empty")]
            streams: Vec<SubscribeStream>,
        }
        optional {
            /// The `private_id` of this user's publisher (rooms with `require_pvtid`).
            private_id: u64,
            /// Use the publishers' msid in the offer.
            use_msid: bool,
            /// Renegotiate by itself when a subscribed publisher leaves or changes.
            autoupdate: bool,
            /// The room's PIN.
            pin: String,
        }
    }

    /// `configure`: changes a publisher's or subscriber's settings, or (with a JSEP)
    /// renegotiates. The answer may carry Janus' JSEP.
    Configure("configure") -> Configured, via decode_with_jsep {
        optional {
            /// Publisher: bitrate cap, in bits per second.
            bitrate: u64,
            /// Publisher: ask for a keyframe.
            keyframe: bool,
            /// Publisher: record.
            record: bool,
            /// Publisher: base name of the recording.
            filename: String,
            /// Publisher: new display name.
            display: String,
            /// Publisher: packets used to compute the audio level.
            audio_active_packets: u32,
            /// Publisher: average audio level threshold.
            audio_level_average: u32,
            /// Per-stream settings.
            streams: Vec<StreamSettings>,
            /// Publisher: stream descriptions.
            descriptions: Vec<StreamDescription>,
            /// Subscriber: ask for an ICE restart (a new offer).
            restart: bool,
        }
        jsep: optional,
    }

    /// `publish`: starts publishing (send the offer with it).
    Publish("publish") -> Configured, via decode_with_jsep {
        optional {
            /// Preferred audio codec.
            audiocodec: String,
            /// Preferred video codec.
            videocodec: String,
            /// Bitrate cap, in bits per second.
            bitrate: u64,
            /// Record.
            record: bool,
            /// Base name of the recording.
            filename: String,
            /// New display name.
            display: String,
            /// Packets used to compute the audio level.
            audio_active_packets: u32,
            /// Average audio level threshold.
            audio_level_average: u32,
            /// Stream descriptions.
            descriptions: Vec<StreamDescription>,
        }
        jsep: optional,
    }

    /// `unpublish`: stops publishing (the handle stays in the room).
    Unpublish("unpublish") -> Done {}

    /// `leave`: leaves the room (publisher) or stops the subscription (subscriber).
    Leave("leave") -> Done {}

    /// `start`: a subscriber sends its JSEP answer (`Start::new().with_jsep(answer)`).
    Start("start") -> Done { jsep: optional }

    /// `pause`: a subscriber pauses delivery.
    Pause("pause") -> Done {}

    /// `switch`: a subscriber changes the sources of some of its streams, without
    /// renegotiating.
    Switch("switch") -> Switched {
        required {
            /// The changes.
            streams: Vec<SwitchStream>,
        }
    }

    /// `update`: a subscriber adds and removes streams at once (one renegotiation).
    Update("update") -> Updated, via decode_with_jsep {
        optional {
            /// Streams to add.
            subscribe: Vec<SubscribeStream>,
            /// Streams to remove.
            unsubscribe: Vec<UnsubscribeStream>,
        }
    }

    /// `subscribe`: a subscriber adds streams (Janus sends a new offer).
    Subscribe("subscribe") -> Updated, via decode_with_jsep {
        required {
            /// Streams to add.
            streams: Vec<SubscribeStream>,
        }
    }

    /// `unsubscribe`: a subscriber removes streams (Janus sends a new offer).
    Unsubscribe("unsubscribe") -> Updated, via decode_with_jsep {
        required {
            /// Streams to remove.
            streams: Vec<UnsubscribeStream>,
        }
    }
}

/// `ptype` of a `join`: set by the constructors of [`JoinPublisher`],
/// [`JoinAndConfigure`] and [`JoinSubscriber`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Ptype {
    /// Joins as a publisher.
    Publisher,
    /// Joins as a subscriber.
    Subscriber,
}

/// One stream of an [`RtpForward`].
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ForwardStream {
    /// The publisher's stream (mid).
    pub mid: String,
    /// Where to send (overrides the request's `host`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// `ipv4` or `ipv6`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_family: Option<String>,
    /// The port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Port for RTCP feedback from the receiver.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtcp_port: Option<u16>,
    /// SSRC to use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssrc: Option<u32>,
    /// Payload type to use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pt: Option<u8>,
    /// Forward every simulcast substream (to `port`, `port_2`, `port_3`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub simulcast: Option<bool>,
    /// Port of the second substream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port_2: Option<u16>,
    /// Port of the third substream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port_3: Option<u16>,
    /// Forward only this substream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub substream: Option<u8>,
    /// Fields this library does not model, sent as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Per-stream settings of a [`Configure`].
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct StreamSettings {
    /// The stream (mid).
    pub mid: String,
    /// Publisher: ask for a keyframe on this stream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keyframe: Option<bool>,
    /// Send (or relay) this stream or not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub send: Option<bool>,
    /// Subscriber: simulcast substream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub substream: Option<u8>,
    /// Subscriber: simulcast temporal layer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temporal: Option<u8>,
    /// Subscriber: simulcast fallback, in microseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<u64>,
    /// Subscriber: SVC spatial layer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spatial_layer: Option<u8>,
    /// Subscriber: SVC temporal layer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temporal_layer: Option<u8>,
    /// Minimum playout delay, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_delay: Option<i64>,
    /// Maximum playout delay, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_delay: Option<i64>,
    /// Fields this library does not model, sent as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A publisher's description of one of its streams.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct StreamDescription {
    /// The stream (mid).
    pub mid: String,
    /// Its description.
    pub description: String,
}

/// A stream to subscribe to.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SubscribeStream {
    /// The publisher.
    pub feed: Id,
    /// One of its streams (all of them when unset).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mid: Option<String>,
    /// An id of the application's, echoed back in [`SubscriberStream`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crossrefid: Option<String>,
}

impl SubscribeStream {
    /// Every stream of `feed`.
    pub fn feed(feed: impl Into<Id>) -> Self {
        SubscribeStream {
            feed: feed.into(),
            mid: None,
            crossrefid: None,
        }
    }

    /// One stream of `feed`.
    pub fn mid(feed: impl Into<Id>, mid: impl Into<String>) -> Self {
        SubscribeStream {
            feed: feed.into(),
            mid: Some(mid.into()),
            crossrefid: None,
        }
    }
}

/// A stream to unsubscribe from: by publisher (`feed`, optionally `mid`), or by the
/// subscription's own mid (`sub_mid`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct UnsubscribeStream {
    /// The publisher.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feed: Option<Id>,
    /// One of its streams.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mid: Option<String>,
    /// The subscription's mid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_mid: Option<String>,
}

/// One change of a [`Switch`]: the subscription's `sub_mid` now relays `feed`'s `mid`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SwitchStream {
    /// The new publisher.
    pub feed: Id,
    /// Its stream.
    pub mid: String,
    /// The subscription's stream to switch.
    pub sub_mid: String,
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
    /// Hidden from `list` (only shown to the admin).
    #[serde(default)]
    pub is_private: bool,
    /// Maximum number of publishers.
    pub max_publishers: Option<u32>,
    /// Bitrate cap.
    pub bitrate: Option<u64>,
    /// Whether the cap is enforced.
    pub bitrate_cap: Option<bool>,
    /// Keyframe request interval.
    pub fir_freq: Option<u32>,
    /// Subscribers must give a `private_id`.
    pub require_pvtid: Option<bool>,
    /// End-to-end encryption is required.
    pub require_e2ee: Option<bool>,
    /// The room has a dummy publisher.
    pub dummy_publisher: Option<bool>,
    /// Joins are notified.
    pub notify_joining: Option<bool>,
    /// Allowed audio codecs.
    pub audiocodec: Option<String>,
    /// Allowed video codecs.
    pub videocodec: Option<String>,
    /// Opus FEC.
    pub opus_fec: Option<bool>,
    /// Opus DTX.
    pub opus_dtx: Option<bool>,
    /// VP9 SVC.
    pub video_svc: Option<bool>,
    /// Recording.
    pub record: Option<bool>,
    /// Recording folder.
    pub rec_dir: Option<String>,
    /// Recording locked to the secret holder.
    pub lock_record: Option<bool>,
    /// Participants now.
    #[serde(default)]
    pub num_participants: u64,
    /// Audio level extension.
    pub audiolevel_ext: Option<bool>,
    /// Talking events.
    pub audiolevel_event: Option<bool>,
    /// Video orientation extension.
    pub videoorient_ext: Option<bool>,
    /// Playout delay extension.
    pub playoutdelay_ext: Option<bool>,
    /// Transport-wide congestion control.
    pub transport_wide_cc_ext: Option<bool>,
}

/// The answer to [`List`].
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct RoomList {
    /// The rooms.
    #[serde(default)]
    pub list: Vec<RoomInfo>,
}

/// A participant as [`ListParticipants`] shows it.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Participant {
    /// Its id.
    pub id: Id,
    /// Its display name.
    pub display: Option<String>,
    /// Whether it publishes now.
    #[serde(default)]
    pub publisher: bool,
    /// Whether it is talking (rooms with talking events).
    pub talking: Option<bool>,
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

/// One RTP forwarder.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Forwarder {
    /// Its id (for [`StopRtpForward`]).
    pub stream_id: Option<u64>,
    /// `audio`, `video` or `data`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// The publisher's stream.
    pub mid: Option<String>,
    /// Where it sends.
    pub host: Option<String>,
    /// The port.
    pub port: Option<u16>,
    /// Port for RTCP feedback.
    pub remote_rtcp_port: Option<u16>,
    /// SSRC used.
    pub ssrc: Option<u32>,
    /// Payload type used.
    pub pt: Option<u8>,
    /// The substream forwarded.
    pub substream: Option<u8>,
    /// Whether SRTP is used.
    pub srtp: Option<bool>,
}

/// The answer to [`RtpForward`].
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct RtpForwarded {
    /// The room.
    pub room: Id,
    /// The publisher.
    pub publisher_id: Id,
    /// The forwarders created.
    #[serde(default)]
    pub forwarders: Vec<Forwarder>,
    /// The answer of the deprecated API (`audio_port`, ... in the request).
    pub rtp_stream: Option<Value>,
}

/// The answer to [`StopRtpForward`].
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct RtpForwardStopped {
    /// The room.
    pub room: Id,
    /// The publisher.
    pub publisher_id: Id,
    /// The forwarder stopped.
    pub stream_id: u64,
}

/// The forwarders of one publisher.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct PublisherForwarders {
    /// The publisher.
    pub publisher_id: Id,
    /// Its display name.
    pub display: Option<String>,
    /// Its forwarders.
    #[serde(default)]
    pub forwarders: Vec<Forwarder>,
}

/// The answer to [`ListForwarders`].
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Forwarders {
    /// The room.
    pub room: Id,
    /// Publishers with forwarders.
    #[serde(default)]
    pub publishers: Vec<PublisherForwarders>,
}

/// One stream of a publisher.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct PublisherStream {
    /// `audio`, `video` or `data`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Its m-line index.
    pub mindex: Option<u32>,
    /// Its mid.
    pub mid: Option<String>,
    /// Whether it is disabled.
    #[serde(default)]
    pub disabled: bool,
    /// The codec.
    pub codec: Option<String>,
    /// The publisher's description.
    pub description: Option<String>,
    /// Muted by a moderator.
    pub moderated: Option<bool>,
    /// Simulcast.
    pub simulcast: Option<bool>,
    /// VP9 SVC.
    pub svc: Option<bool>,
    /// Talking (rooms with talking events).
    pub talking: Option<bool>,
    /// Opus FEC.
    pub fec: Option<bool>,
}

/// A publisher in the room.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Publisher {
    /// Its id.
    pub id: Id,
    /// Its display name.
    pub display: Option<String>,
    /// It is the room's dummy publisher.
    #[serde(default)]
    pub dummy: bool,
    /// Its streams.
    #[serde(default)]
    pub streams: Vec<PublisherStream>,
    /// Whether it is talking.
    pub talking: Option<bool>,
}

/// A participant that does not publish (rooms with `notify_joining`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Attendee {
    /// Its id.
    pub id: Id,
    /// Its display name.
    pub display: Option<String>,
}

/// The answer to a publisher's [`JoinPublisher`] or [`JoinAndConfigure`]
/// (`"videoroom":"joined"`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Joined {
    /// The room.
    pub room: Id,
    /// Its description.
    pub description: Option<String>,
    /// This participant's id.
    pub id: Id,
    /// This participant's private id (for subscriptions in `require_pvtid` rooms).
    pub private_id: Option<u64>,
    /// The active publishers.
    #[serde(default)]
    pub publishers: Vec<Publisher>,
    /// The other participants (rooms with `notify_joining`).
    #[serde(default)]
    pub attendees: Vec<Attendee>,
    /// With [`JoinAndConfigure`]: the streams negotiated.
    #[serde(default)]
    pub streams: Vec<PublisherStream>,
    /// With [`JoinAndConfigure`]: Janus' JSEP answer.
    #[serde(skip)]
    pub jsep: Option<Jsep>,
}

/// One stream of a subscription.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct SubscriberStream {
    /// Its m-line index.
    pub mindex: Option<u32>,
    /// Its mid (in the subscription).
    pub mid: Option<String>,
    /// `audio`, `video` or `data`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Whether it relays something.
    pub active: Option<bool>,
    /// The publisher.
    pub feed_id: Option<Id>,
    /// The publisher's stream.
    pub feed_mid: Option<String>,
    /// The publisher's display name.
    pub feed_display: Option<String>,
    /// Whether it is sent.
    pub send: Option<bool>,
    /// Whether it is ready.
    pub ready: Option<bool>,
    /// The codec.
    pub codec: Option<String>,
    /// The application's `crossrefid`, echoed.
    pub crossrefid: Option<String>,
}

/// The answer to [`JoinSubscriber`] (`"videoroom":"attached"`), with Janus' offer.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Attached {
    /// The room.
    pub room: Id,
    /// The streams offered.
    #[serde(default)]
    pub streams: Vec<SubscriberStream>,
    /// Janus' JSEP offer; answer it with [`Start`].
    #[serde(skip)]
    pub jsep: Option<Jsep>,
}

/// The answer to [`Configure`] and [`Publish`] (`"configured":"ok"`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Configured {
    /// The room.
    pub room: Option<Id>,
    /// `ok`.
    pub configured: Option<String>,
    /// The streams negotiated.
    #[serde(default)]
    pub streams: Vec<PublisherStream>,
    /// Janus' JSEP (an answer to an offer, or an offer after `restart`).
    #[serde(skip)]
    pub jsep: Option<Jsep>,
}

/// The answer to [`Switch`].
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Switched {
    /// The room.
    pub room: Option<Id>,
    /// `ok`.
    pub switched: Option<String>,
    /// How many streams changed.
    pub changes: Option<u64>,
    /// The subscription's streams now.
    #[serde(default)]
    pub streams: Vec<SubscriberStream>,
}

/// The answer to [`Update`], [`Subscribe`] and [`Unsubscribe`]
/// (`"videoroom":"updated"`), with Janus' new offer.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Updated {
    /// The room.
    pub room: Option<Id>,
    /// The subscription's streams now.
    #[serde(default)]
    pub streams: Vec<SubscriberStream>,
    /// Janus' new JSEP offer; answer it with [`Start`].
    #[serde(skip)]
    pub jsep: Option<Jsep>,
}

with_jsep!(Joined, Attached, Configured, Updated);

/// New publishers in the room ([`Event::Publishers`]).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct PublishersEvent {
    /// The room.
    pub room: Id,
    /// The publishers.
    #[serde(default)]
    pub publishers: Vec<Publisher>,
}

/// A participant started or stopped talking.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Talking {
    /// The room.
    pub room: Id,
    /// The participant.
    pub id: Id,
    /// The audio stream.
    pub mid: Option<String>,
    /// The average audio level, in dBov (0 is loudest, 127 silence).
    #[serde(rename = "audio-level-dBov-avg")]
    pub audio_level: Option<f64>,
}

/// An unsolicited VideoRoom event.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// `joined` (normally the answer to a join).
    Joined(Joined),
    /// New publishers are available.
    Publishers(PublishersEvent),
    /// Someone joined (rooms with `notify_joining`).
    Joining {
        /// The room.
        room: Id,
        /// Who.
        participant: Attendee,
    },
    /// A participant left; `id` is `None` when it is this handle (`"leaving":"ok"`).
    Leaving {
        /// The room.
        room: Id,
        /// Who.
        id: Option<Id>,
        /// Why (`kicked`, ...), when Janus says.
        reason: Option<String>,
    },
    /// A publisher stopped publishing; `id` is `None` when it is this handle.
    Unpublished {
        /// The room.
        room: Id,
        /// Who.
        id: Option<Id>,
    },
    /// A participant was kicked.
    Kicked {
        /// The room.
        room: Id,
        /// Who.
        id: Id,
    },
    /// A participant started talking.
    Talking(Talking),
    /// A participant stopped talking.
    StoppedTalking(Talking),
    /// Settings changed (normally the answer to `configure`).
    Configured(Configured),
    /// A subscription was set up (normally the answer to a subscriber's `join`).
    Attached(Attached),
    /// A subscription changed, with a new offer (after `update`, or by itself with
    /// `autoupdate` when a publisher left).
    Updated(Updated),
    /// A subscription's sources switched.
    Switched(Switched),
    /// The room was destroyed.
    Destroyed {
        /// The room.
        room: Id,
    },
    /// Janus lowered the bitrate for congestion (`slow_link`).
    SlowLink {
        /// The bitrate now, in bits per second.
        current_bitrate: Option<u64>,
    },
    /// Another `"videoroom":"event"` this library does not type.
    Event(Value),
    /// Anything else, as Janus sent it.
    Other(Value),
}

/// `"ok"` (this handle) or a participant id.
fn id_or_self(v: &Value) -> Option<Option<Id>> {
    match v {
        Value::String(s) if s == "ok" => Some(None),
        other => from_value::<Id>(other).map(Some),
    }
}

impl Event {
    /// Decodes the `data` of a VideoRoom event; never fails.
    pub fn from_data(data: Value) -> Event {
        Self::typed(&data).unwrap_or(Event::Other(data))
    }

    fn typed(data: &Value) -> Option<Event> {
        let kind = data.get("videoroom")?.as_str()?;
        let room = || data.get("room").and_then(from_value::<Id>);
        Some(match kind {
            "joined" => Event::Joined(from_value(data)?),
            "attached" => Event::Attached(from_value(data)?),
            "updated" => Event::Updated(from_value(data)?),
            "talking" => Event::Talking(from_value(data)?),
            "stopped-talking" => Event::StoppedTalking(from_value(data)?),
            "destroyed" => Event::Destroyed { room: room()? },
            "slow_link" => Event::SlowLink {
                current_bitrate: data.get("current-bitrate").and_then(Value::as_u64),
            },
            "event" => {
                if data.get("publishers").is_some() {
                    Event::Publishers(from_value(data)?)
                } else if let Some(p) = data.get("joining") {
                    Event::Joining {
                        room: room()?,
                        participant: from_value(p)?,
                    }
                } else if let Some(l) = data.get("leaving") {
                    Event::Leaving {
                        room: room()?,
                        id: id_or_self(l)?,
                        reason: data.get("reason").and_then(Value::as_str).map(String::from),
                    }
                } else if let Some(u) = data.get("unpublished") {
                    Event::Unpublished {
                        room: room()?,
                        id: id_or_self(u)?,
                    }
                } else if let Some(k) = data.get("kicked") {
                    Event::Kicked {
                        room: room()?,
                        id: from_value(k)?,
                    }
                } else if data.get("configured").is_some() {
                    Event::Configured(from_value(data)?)
                } else if data.get("switched").is_some() {
                    Event::Switched(from_value(data)?)
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

    fn decode<R: PluginRequest<VideoRoom>>(data: Value, jsep: Option<Jsep>) -> R::Response {
        R::decode(PluginResponse {
            plugin: VideoRoom::NAME.into(),
            data,
            jsep,
            sender: None,
        })
        .expect("decodes")
    }

    #[test]
    fn only_set_fields_go_on_the_wire() {
        assert_eq!(
            serde_json::to_value(Create::default()).unwrap(),
            json!({"request": "create"})
        );
        let create = Create {
            room: Some(4242.into()),
            publishers: Some(3),
            secret: Some("s".into()),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&create).unwrap(),
            json!({"request": "create", "room": 4242, "publishers": 3, "secret": "s"})
        );
        let mut edit = Edit::new("lobby");
        edit.new_description = Some("t2".into());
        edit.extra.insert("new_future_field".into(), json!(1));
        assert_eq!(
            serde_json::to_value(&edit).unwrap(),
            json!({"request": "edit", "room": "lobby", "new_description": "t2", "new_future_field": 1})
        );
        assert_eq!(
            serde_json::to_value(JoinPublisher {
                display: Some("alice".into()),
                ..JoinPublisher::new(1234)
            })
            .unwrap(),
            json!({"request": "join", "ptype": "publisher", "room": 1234, "display": "alice"})
        );
        assert_eq!(
            serde_json::to_value(JoinSubscriber::new(
                1234,
                [SubscribeStream::feed(1), SubscribeStream::mid(2, "0")]
            ))
            .unwrap(),
            json!({"request": "join", "ptype": "subscriber", "room": 1234,
                   "streams": [{"feed": 1}, {"feed": 2, "mid": "0"}]})
        );
        let start = Start::new().with_jsep(Jsep::answer("v=0"));
        assert_eq!(
            serde_json::to_value(&start).unwrap(),
            json!({"request": "start"})
        );
        assert_eq!(
            PluginRequest::<VideoRoom>::jsep(&start).unwrap().kind,
            "answer"
        );
        assert_eq!(
            serde_json::to_value(Allowed {
                allowed: Some(vec!["t".into()]),
                ..Allowed::new(1, AllowedAction::Add)
            })
            .unwrap(),
            json!({"request": "allowed", "room": 1, "action": "add", "allowed": ["t"]})
        );
        assert_eq!(
            serde_json::to_value(Configure {
                streams: Some(vec![StreamSettings {
                    mid: "1".into(),
                    send: Some(false),
                    ..Default::default()
                }]),
                ..Default::default()
            })
            .unwrap(),
            json!({"request": "configure", "streams": [{"mid": "1", "send": false}]})
        );
    }

    /// The three `join` requests on the wire, every field set and none: the JSON content
    /// (fields and values) the table-generated structs must keep.
    #[test]
    fn joins_on_the_wire() {
        let bare = JoinPublisher::new(1234);
        assert_eq!(
            serde_json::to_value(&bare).unwrap(),
            json!({"request": "join", "ptype": "publisher", "room": 1234})
        );
        assert!(PluginRequest::<VideoRoom>::jsep(&bare).is_none());
        let mut full = JoinPublisher {
            id: Some(77.into()),
            display: Some("alice".into()),
            pin: Some("1234".into()),
            token: Some("t".into()),
            ..JoinPublisher::new("lobby")
        };
        full.extra.insert("future".into(), json!([1]));
        assert_eq!(
            serde_json::to_value(&full).unwrap(),
            json!({"request": "join", "ptype": "publisher", "room": "lobby", "id": 77,
                   "display": "alice", "pin": "1234", "token": "t", "future": [1]})
        );
        assert_eq!(full.ptype, Ptype::Publisher);

        let bare = JoinAndConfigure::new(1234, Jsep::offer("v=0"));
        assert_eq!(
            serde_json::to_value(&bare).unwrap(),
            json!({"request": "joinandconfigure", "ptype": "publisher", "room": 1234})
        );
        assert_eq!(
            PluginRequest::<VideoRoom>::jsep(&bare).unwrap(),
            &Jsep::offer("v=0")
        );
        let mut full = JoinAndConfigure {
            id: Some("me".into()),
            display: Some("alice".into()),
            pin: Some("p".into()),
            token: Some("t".into()),
            bitrate: Some(256_000),
            record: Some(true),
            filename: Some("/tmp/rec".into()),
            audiocodec: Some("opus".into()),
            videocodec: Some("vp8".into()),
            descriptions: Some(vec![StreamDescription {
                mid: "0".into(),
                description: "mic".into(),
            }]),
            ..JoinAndConfigure::new(Id::from(5), Jsep::offer("v=0"))
        };
        full.extra.insert("future".into(), json!(true));
        assert_eq!(
            serde_json::to_value(&full).unwrap(),
            json!({"request": "joinandconfigure", "ptype": "publisher", "room": 5,
                   "id": "me", "display": "alice", "pin": "p", "token": "t",
                   "bitrate": 256000, "record": true, "filename": "/tmp/rec",
                   "audiocodec": "opus", "videocodec": "vp8",
                   "descriptions": [{"mid": "0", "description": "mic"}], "future": true})
        );
        assert_eq!(full.ptype, Ptype::Publisher);
        assert_eq!(full.jsep.as_ref().unwrap().kind, "offer");

        let bare = JoinSubscriber::new(1234, Vec::new());
        assert_eq!(
            serde_json::to_value(&bare).unwrap(),
            json!({"request": "join", "ptype": "subscriber", "room": 1234})
        );
        assert!(PluginRequest::<VideoRoom>::jsep(&bare).is_none());
        let mut full = JoinSubscriber {
            private_id: Some(2920699347),
            use_msid: Some(true),
            autoupdate: Some(false),
            pin: Some("p".into()),
            ..JoinSubscriber::new(
                "lobby",
                vec![SubscribeStream {
                    crossrefid: Some("x".into()),
                    ..SubscribeStream::mid(8, "1")
                }],
            )
        };
        full.extra.insert("future".into(), json!({"a": 1}));
        assert_eq!(
            serde_json::to_value(&full).unwrap(),
            json!({"request": "join", "ptype": "subscriber", "room": "lobby",
                   "streams": [{"feed": 8, "mid": "1", "crossrefid": "x"}],
                   "private_id": 2920699347u64, "use_msid": true, "autoupdate": false,
                   "pin": "p", "future": {"a": 1}})
        );
        assert_eq!(full.ptype, Ptype::Subscriber);
    }

    #[test]
    fn synchronous_answers_as_janus_sends_them() {
        // All captured from Janus 1.1.2.
        let list = decode::<List>(
            json!({"videoroom":"success","list":[{"room":1234,"description":"Demo Room",
            "pin_required":false,"is_private":false,"max_publishers":6,"bitrate":128000,
            "fir_freq":10,"require_pvtid":false,"require_e2ee":false,"dummy_publisher":false,
            "notify_joining":false,"audiocodec":"opus","videocodec":"vp8","opus_fec":true,
            "record":false,"lock_record":false,"num_participants":0,"audiolevel_ext":true,
            "audiolevel_event":false,"videoorient_ext":true,"playoutdelay_ext":true,
            "transport_wide_cc_ext":true,"brand_new_field":{"x":1}}]}),
            None,
        );
        assert_eq!(list.list[0].room, 1234);
        assert_eq!(list.list[0].max_publishers, Some(6));
        let c = decode::<Create>(
            json!({"videoroom":"created","room":5424076353455572u64,"permanent":false}),
            None,
        );
        assert_eq!(c.room, 5424076353455572);
        let e = decode::<Exists>(
            json!({"videoroom":"success","room":99,"exists":false}),
            None,
        );
        assert!(!e.exists);
        let p = decode::<ListParticipants>(
            json!({"videoroom":"participants","room":4343,"participants":[
                {"id":77,"display":"alice","publisher":false},
                {"id":1858179750730199u64,"display":"bob","publisher":false}]}),
            None,
        );
        assert_eq!(p.participants.len(), 2);
        assert_eq!(p.participants[0].display.as_deref(), Some("alice"));
        let f = decode::<ListForwarders>(
            json!({"videoroom":"forwarders","room":4242,"publishers":[]}),
            None,
        );
        assert!(f.publishers.is_empty());
        let r = decode::<EnableRecording>(json!({"videoroom":"success","record":false}), None);
        assert!(!r.record);
        let a = decode::<Allowed>(
            json!({"videoroom":"success","room":4242,"allowed":[]}),
            None,
        );
        assert!(a.allowed.is_empty());
        let fw = decode::<RtpForward>(
            json!({"publisher_id":1,"rtp_stream":{"warning":"deprecated_api","host":"127.0.0.1"},
                   "room":4444,"videoroom":"rtp_forward"}),
            None,
        );
        assert_eq!(fw.publisher_id, 1);
        assert!(fw.rtp_stream.is_some());
        let _: Done = decode::<Kick>(json!({"videoroom":"success"}), None);
    }

    #[test]
    fn asynchronous_answers_keep_their_jsep() {
        let joined = decode::<JoinAndConfigure>(
            json!({"videoroom":"joined","room":7777,"description":"Room 7777","id":1,
                   "private_id":2920699347u64,"publishers":[],"audio_codec":"opus",
                   "streams":[{"type":"audio","mindex":0,"mid":"0","codec":"opus","fec":true}]}),
            Some(Jsep::answer("v=0")),
        );
        assert_eq!(joined.id, 1);
        assert_eq!(joined.streams[0].codec.as_deref(), Some("opus"));
        assert_eq!(joined.jsep.unwrap().kind, "answer");
        let joined = decode::<JoinPublisher>(
            json!({"videoroom":"joined","room":4343,"description":"Room 4343",
                   "id":1858179750730199u64,"private_id":389748510,"publishers":[],
                   "attendees":[{"id":77,"display":"alice"}]}),
            None,
        );
        assert_eq!(joined.attendees[0].id, 77);
        assert!(joined.jsep.is_none());
        let conf = decode::<Configure>(
            json!({"videoroom":"event","room":4343,"configured":"ok"}),
            None,
        );
        assert_eq!(conf.configured.as_deref(), Some("ok"));
        let att = decode::<JoinSubscriber>(
            json!({"videoroom":"attached","room":1234,"streams":[{"type":"video","active":true,
                   "mindex":0,"mid":"0","ready":false,"send":true,"feed_id":8,
                   "feed_display":"bob","feed_mid":"1","codec":"vp8"}]}),
            Some(Jsep::offer("v=0")),
        );
        assert_eq!(att.streams[0].feed_id, Some(Id::Num(8)));
        assert_eq!(att.jsep.unwrap().kind, "offer");
    }

    #[test]
    fn events_as_janus_sends_them() {
        // Captured from Janus 1.1.2.
        let ev = Event::from_data(
            json!({"videoroom":"event","room":4343,"joining":{"id":1858179750730199u64,"display":"bob"}}),
        );
        assert!(
            matches!(ev, Event::Joining { ref participant, .. } if participant.display.as_deref() == Some("bob"))
        );
        let ev = Event::from_data(
            json!({"videoroom":"event","room":4343,"leaving":"ok","reason":"kicked"}),
        );
        assert_eq!(
            ev,
            Event::Leaving {
                room: 4343.into(),
                id: None,
                reason: Some("kicked".into())
            }
        );
        let ev = Event::from_data(json!({"videoroom":"event","room":4444,"leaving":2}));
        assert!(matches!(ev, Event::Leaving { id: Some(ref id), .. } if *id == 2));
        let ev = Event::from_data(json!({"videoroom":"event","room":4343,"kicked":77}));
        assert_eq!(
            ev,
            Event::Kicked {
                room: 4343.into(),
                id: 77.into()
            }
        );
        assert_eq!(
            Event::from_data(json!({"videoroom":"destroyed","room":4444})),
            Event::Destroyed { room: 4444.into() }
        );
        // From the Janus documentation, with an extra field of a future version.
        let ev = Event::from_data(json!({"videoroom":"event","room":1234,"publishers":[
            {"id":8,"display":"bob","streams":[{"type":"video","mindex":0,"mid":"0",
             "codec":"vp8","simulcast":true,"future":"x"}],"future":1}]}));
        match ev {
            Event::Publishers(p) => {
                assert_eq!(p.publishers[0].id, 8);
                assert_eq!(p.publishers[0].streams[0].simulcast, Some(true));
            }
            other => panic!("{other:?}"),
        }
        let ev = Event::from_data(json!({"videoroom":"event","room":1234,"unpublished":8}));
        assert!(matches!(ev, Event::Unpublished { id: Some(_), .. }));
        let ev = Event::from_data(
            json!({"videoroom":"talking","room":1234,"id":8,"mid":"0","audio-level-dBov-avg":-42.5}),
        );
        assert!(matches!(ev, Event::Talking(ref t) if t.audio_level == Some(-42.5)));
        let ev = Event::from_data(json!({"videoroom":"stopped-talking","room":1234,"id":8}));
        assert!(matches!(ev, Event::StoppedTalking(_)));
        // Unknown ones are kept whole.
        let v = json!({"videoroom":"event","room":1,"something_new":true});
        assert_eq!(Event::from_data(v.clone()), Event::Event(v));
        let v = json!({"videoroom":"brand-new","room":1});
        assert_eq!(Event::from_data(v.clone()), Event::Other(v));
        // A known kind with a wrong shape is kept whole too.
        let v = json!({"videoroom":"joined","room":1});
        assert_eq!(Event::from_data(v.clone()), Event::Other(v));
    }
}
