//! The events Janus 1.1.2 hands to its event handlers, as Rust types.
//!
//! Every event has the same envelope (`emitter`, `type`, `subtype`, `timestamp`,
//! `session_id`, `handle_id`, `opaque_id`) around a body whose shape depends on `type` (and,
//! for WebRTC, media and core events, on `subtype`). The envelope becomes [`Event`], the body
//! [`EventBody`]. Nothing is lost: [`Event::raw`] keeps the JSON as it came, and a type,
//! subtype or body this crate does not know becomes an `Other` variant instead of an error,
//! so a newer Janus never breaks a receiver.

use janus_core::{HandleId, SessionId};
use serde::Deserialize;
use serde_json::Value;

/// The numeric event types of Janus (`type` in the envelope), as bit flags.
pub mod types {
    /// Session created, destroyed, timed out.
    pub const SESSION: u32 = 1;
    /// Handle attached, detached.
    pub const HANDLE: u32 = 2;
    /// Sent through the Admin API (`custom_event`).
    pub const EXTERNAL: u32 = 4;
    /// An SDP offer or answer, local or remote.
    pub const JSEP: u32 = 8;
    /// ICE, candidates, DTLS, PeerConnection state.
    pub const WEBRTC: u32 = 16;
    /// Media flowing or not, slow links, statistics.
    pub const MEDIA: u32 = 32;
    /// Something a plugin reports.
    pub const PLUGIN: u32 = 64;
    /// Something a transport reports (connections).
    pub const TRANSPORT: u32 = 128;
    /// Janus started or is shutting down.
    pub const CORE: u32 = 256;
}

/// One event from a Janus event handler.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// The Janus instance that sent it (`emitter`: `general.server_name` in `janus.jcfg`),
    /// when it says.
    pub emitter: Option<String>,
    /// The numeric type ([`types`]).
    pub event_type: u32,
    /// The numeric subtype, for the types that have one (WebRTC, media, core).
    pub subtype: Option<u32>,
    /// When Janus made it, in microseconds since the Unix epoch.
    pub timestamp_us: Option<u64>,
    /// The session it is about, if any.
    pub session_id: Option<SessionId>,
    /// The handle it is about, if any.
    pub handle_id: Option<HandleId>,
    /// The handle's opaque id, if it has one (set at `attach`).
    pub opaque_id: Option<String>,
    /// What happened.
    pub body: EventBody,
    /// The event as it came, with every field, known or not.
    pub raw: Value,
}

/// What an event says happened, by type.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum EventBody {
    /// Type 1: a session was created, destroyed or timed out.
    Session {
        /// What happened.
        action: SessionAction,
        /// The transport that carried the request, when Janus says (`transport`: its name
        /// and an id of the connection).
        transport: Option<Value>,
    },
    /// Type 2: a handle was attached or detached.
    Handle {
        /// What happened.
        action: HandleAction,
        /// The plugin's package name (`janus.plugin.echotest`).
        plugin: String,
        /// The token used to attach, with token authentication.
        token: Option<String>,
    },
    /// Type 4: an event sent through the Admin API (`custom_event`).
    External {
        /// The sender's schema name.
        schema: String,
        /// What it sent.
        data: Value,
    },
    /// Type 8: an SDP went out (local) or came in (remote).
    Jsep {
        /// Whose SDP it is.
        owner: JsepOwner,
        /// `offer` or `answer`.
        sdp_type: String,
        /// The SDP.
        sdp: String,
    },
    /// Type 16: ICE, DTLS and PeerConnection states.
    WebRtc(WebRtcEvent),
    /// Type 32: media states and statistics.
    Media(MediaEvent),
    /// Type 64: a plugin's own event; its shape is the plugin's business.
    Plugin {
        /// The plugin's package name.
        plugin: String,
        /// What it reported.
        data: Value,
    },
    /// Type 128: a transport's own event (a client connected or disconnected).
    Transport {
        /// The transport's package name (`janus.transport.websockets`).
        transport: String,
        /// An id of the transport's connection (a hash, as a string).
        id: String,
        /// What it reported.
        data: Value,
    },
    /// Type 256: Janus started or is shutting down.
    Core(CoreEvent),
    /// A type this crate does not know, or a known one whose body did not have the expected
    /// shape; [`Event::raw`] has all of it.
    Other,
}

/// What happened to a session.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionAction {
    /// `created`.
    Created,
    /// `destroyed`.
    Destroyed,
    /// `timeout`: no keepalive came in time.
    Timeout,
    /// Another name.
    Other(String),
}

/// What happened to a handle.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandleAction {
    /// `attached`.
    Attached,
    /// `detached`.
    Detached,
    /// Another name.
    Other(String),
}

/// Whose SDP a JSEP event carries.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum JsepOwner {
    /// Janus' own (sent to the client).
    Local,
    /// The client's (received by Janus).
    Remote,
    /// Another value.
    Other(String),
}

/// Where in a PeerConnection an ICE or DTLS event happened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct Component {
    /// The ICE stream.
    pub stream_id: Option<u64>,
    /// The ICE component.
    pub component_id: Option<u64>,
}

/// A WebRTC event (type 16), by subtype.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum WebRtcEvent {
    /// Subtype 1: the ICE state changed (`gathering`, `connecting`, `connected`, `ready`,
    /// `failed`, ...).
    Ice {
        /// The new state.
        state: String,
        /// Where.
        component: Component,
    },
    /// Subtype 2: Janus gathered a candidate of its own.
    LocalCandidate {
        /// The candidate line.
        candidate: String,
        /// Where.
        component: Component,
    },
    /// Subtype 3: a candidate of the peer's arrived.
    RemoteCandidate {
        /// The candidate line.
        candidate: String,
        /// Where.
        component: Component,
    },
    /// Subtype 4: ICE selected a candidate pair.
    SelectedPair {
        /// The pair, as Janus writes it (`local <-> remote`).
        pair: String,
        /// Where.
        component: Component,
        /// Details of both candidates, when Janus gives them.
        candidates: Option<Value>,
    },
    /// Subtype 5: the DTLS state changed (`trying`, `connected`, `failed`, ...).
    Dtls {
        /// The new state.
        state: String,
        /// Where.
        component: Component,
        /// DTLS retransmissions so far.
        retransmissions: Option<u64>,
    },
    /// Subtype 6: the PeerConnection came up or went down.
    Connection {
        /// `webrtcup` or `hangup`.
        state: ConnectionChange,
        /// Why it went down, for a hangup.
        reason: Option<String>,
    },
    /// Another subtype, or a body of another shape.
    Other,
}

/// The PeerConnection state in a [`WebRtcEvent::Connection`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionChange {
    /// `webrtcup`: ICE and DTLS are done, media can flow.
    WebrtcUp,
    /// `hangup`: the PeerConnection is gone.
    Hangup,
    /// Another value.
    Other(String),
}

/// A media event (type 32), by subtype.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum MediaEvent {
    /// Subtype 1: media of one kind started or stopped arriving.
    Receiving {
        /// `audio` or `video`.
        media: String,
        /// The m-line's mid.
        mid: Option<String>,
        /// The simulcast substream, when there is one.
        substream: Option<u64>,
        /// Whether media arrives now.
        receiving: bool,
        /// For how long nothing arrived, when it stopped (Janus' `no_media_timer`).
        seconds: Option<u64>,
    },
    /// Subtype 2: many packets were lost lately on one direction.
    SlowLink {
        /// `audio` or `video`.
        media: String,
        /// The m-line's mid.
        mid: Option<String>,
        /// `true` for `uplink` (what Janus receives), `false` for `downlink`.
        uplink: bool,
        /// Packets lost in the last second.
        lost_last_second: Option<u64>,
    },
    /// Subtype 3: statistics, one entry per m-line and simulcast layer (Janus sends one per
    /// event, or all of a handle's in one when `combine_media_stats` is on).
    Stats(Vec<MediaStats>),
    /// Another subtype, or a body of another shape.
    Other,
}

/// Statistics of one m-line (or simulcast layer) of a PeerConnection, as Janus reports them
/// every `stats_period` seconds. Every figure is optional: Janus leaves out what does not
/// apply (no RTT on simulcast layers, no RTCP figures on data channels).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub struct MediaStats {
    /// The m-line's mid.
    pub mid: Option<String>,
    /// The m-line's index.
    pub mindex: Option<u64>,
    /// `audio`, `video`, `video-sim1`, `video-sim2` or `data`.
    pub media: Option<String>,
    /// The codec.
    pub codec: Option<String>,
    /// The RTP clock rate.
    pub base: Option<u64>,
    /// Round-trip time in milliseconds.
    pub rtt: Option<u64>,
    /// Packets lost on the way in.
    pub lost: Option<i64>,
    /// Packets the peer reports lost on the way out.
    pub lost_by_remote: Option<i64>,
    /// Jitter of what arrives.
    pub jitter_local: Option<u64>,
    /// Jitter the peer reports.
    pub jitter_remote: Option<u64>,
    /// Link quality in (0–100).
    pub in_link_quality: Option<u64>,
    /// Media link quality in (0–100).
    pub in_media_link_quality: Option<u64>,
    /// Link quality out (0–100).
    pub out_link_quality: Option<u64>,
    /// Media link quality out (0–100).
    pub out_media_link_quality: Option<u64>,
    /// Packets received.
    pub packets_received: Option<u64>,
    /// Packets sent.
    pub packets_sent: Option<u64>,
    /// Bytes received.
    pub bytes_received: Option<u64>,
    /// Bytes sent.
    pub bytes_sent: Option<u64>,
    /// Bytes received in the last second.
    #[serde(rename = "bytes-received-lastsec")]
    pub bytes_received_last_second: Option<u64>,
    /// Bytes sent in the last second.
    #[serde(rename = "bytes-sent-lastsec")]
    pub bytes_sent_last_second: Option<u64>,
    /// NACKs received.
    pub nacks_received: Option<u64>,
    /// NACKs sent.
    pub nacks_sent: Option<u64>,
    /// Retransmissions received.
    pub retransmissions_received: Option<u64>,
    /// The bitrate the peer's REMB asks for.
    pub remb_bitrate: Option<u64>,
}

/// A core event (type 256), by subtype.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum CoreEvent {
    /// Subtype 1: Janus started; `info` is what the `info` request would answer.
    Started {
        /// The server's description.
        info: Value,
    },
    /// Subtype 2: Janus is shutting down.
    Shutdown {
        /// The signal that stops it, when one does.
        signal: Option<i64>,
    },
    /// Another subtype, or a body of another shape.
    Other,
}

impl Event {
    /// Whether the event is of `event_type` ([`types`]).
    pub fn is(&self, event_type: u32) -> bool {
        self.event_type == event_type
    }
}
