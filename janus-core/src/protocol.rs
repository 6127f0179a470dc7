//! The Janus JSON API as Rust types: ids, JSEP, trickle candidates, incoming messages and events.
//!
//! Decoding never fails on what it does not know: an unknown `janus` kind becomes
//! [`HandleEvent::Other`]/[`SessionEvent::Other`] with the raw JSON, unknown fields are kept.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

pub use crate::decode::{decode_frame, plugin_error, Incoming};

macro_rules! id_type {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub u64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl From<u64> for $name {
            fn from(v: u64) -> Self {
                $name(v)
            }
        }

        impl From<$name> for u64 {
            fn from(v: $name) -> u64 {
                v.0
            }
        }
    };
}

id_type!(
    /// A Janus session id (a JSON integer below 2^53).
    SessionId
);
id_type!(
    /// A Janus plugin handle id.
    HandleId
);

/// A JSEP offer or answer, with any extra fields (`trickle`, `e2ee`, `rid_order`, ...) kept.
///
/// ```
/// # use janus_core as janus_client;
/// use janus_client::Jsep;
/// let offer = Jsep::offer("v=0\r\n");
/// assert_eq!(offer.kind, "offer");
/// let json = serde_json::to_value(&offer).unwrap();
/// assert_eq!(json["type"], "offer");
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Jsep {
    /// `offer` or `answer`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The SDP.
    #[serde(default)]
    pub sdp: String,
    /// Other JSEP fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Jsep {
    /// An offer.
    pub fn offer(sdp: impl Into<String>) -> Self {
        Jsep {
            kind: "offer".into(),
            sdp: sdp.into(),
            extra: Map::new(),
        }
    }

    /// An answer.
    pub fn answer(sdp: impl Into<String>) -> Self {
        Jsep {
            kind: "answer".into(),
            sdp: sdp.into(),
            extra: Map::new(),
        }
    }
}

/// One ICE candidate as Janus carries it in `trickle`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Candidate {
    /// The candidate line (`candidate:...`).
    pub candidate: String,
    /// The media id it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdp_mid: Option<String>,
    /// The m-line index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdp_m_line_index: Option<u32>,
}

/// What a `trickle` request carries: one candidate, several, or the end of gathering.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trickle {
    /// One candidate.
    Candidate(Candidate),
    /// Several candidates.
    Candidates(Vec<Candidate>),
    /// Gathering is over (`{"completed": true}`).
    Completed,
}

/// A plugin's answer to a `message`, whether it came synchronously or as an event.
#[derive(Clone, Debug, PartialEq)]
pub struct PluginResponse {
    /// The plugin package name (`janus.plugin.echotest`).
    pub plugin: String,
    /// The plugin's data.
    pub data: Value,
    /// The JSEP that came with it, if any.
    pub jsep: Option<Jsep>,
    /// The handle that answered (`sender`), when Janus said it (it always does for the
    /// answer to a handle's `message`).
    pub sender: Option<HandleId>,
}

/// An asynchronous message for one plugin handle.
///
/// A plugin `event` that answers a request made with [`crate::Handle::message`] goes to
/// that request's caller, not here.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum HandleEvent {
    /// A plugin event not tied to a pending request.
    Plugin(PluginResponse),
    /// The plugin's answer to a request of this handle that is no longer waiting for it
    /// (it timed out, or its connection dropped first). It may carry plugin state the
    /// application needs (a videoroom's `joined`, say); it is not a new notification.
    LateReply {
        /// The transaction of the request it answers.
        transaction: String,
        /// The answer.
        response: PluginResponse,
    },
    /// The PeerConnection is up.
    WebrtcUp,
    /// Janus started or stopped receiving media.
    Media {
        /// The stream's mid.
        mid: Option<String>,
        /// `audio` or `video`.
        kind: Option<String>,
        /// Whether media is flowing.
        receiving: bool,
        /// The raw message (substream, seconds, ...).
        raw: Value,
    },
    /// Packet loss reported.
    Slowlink {
        /// The stream's mid.
        mid: Option<String>,
        /// Direction: true when Janus is sending.
        uplink: bool,
        /// Lost packets.
        lost: u64,
        /// The raw message.
        raw: Value,
    },
    /// The PeerConnection closed.
    Hangup {
        /// Why ("DTLS alert", "ICE failed", ...).
        reason: String,
    },
    /// The handle was detached on the server side.
    Detached,
    /// A candidate from Janus (full trickle only).
    Trickle(Trickle),
    /// ICE failed (Janus 1.2 and later).
    IceFailed,
    /// Events were dropped because the consumer was slow: this many.
    Lagged {
        /// How many events were dropped.
        missed: u64,
    },
    /// A message this library does not know, as Janus sent it.
    Other(Value),
    /// The last event of the stream: the handle is gone and why.
    Closed(CloseReason),
}

/// An asynchronous message for a session.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum SessionEvent {
    /// Janus destroyed the session for lack of keepalives.
    Timeout,
    /// The connection was restored and the session is usable again: claimed on the new
    /// connection, or, on a transport whose sessions belong to no connection (RabbitMQ,
    /// MQTT), found alive by a keepalive.
    Reclaimed,
    /// The session could not be claimed and was re-created under a new id, handles re-attached.
    ///
    /// Plugin state (room membership, PeerConnections) is not restored by Janus: rejoin.
    Recreated {
        /// The id before.
        old: SessionId,
        /// The id now.
        new: SessionId,
        /// Handle ids before and after.
        handles: Vec<(HandleId, HandleId)>,
    },
    /// Events were dropped because the consumer was slow: this many.
    Lagged {
        /// How many events were dropped.
        missed: u64,
    },
    /// A session-level message this library does not know.
    Other(Value),
    /// The last event of the stream: the session is gone and why.
    Closed(CloseReason),
}

/// Why a session or handle event stream ended.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// The application detached the handle.
    Detached,
    /// Janus detached the handle.
    DetachedByServer,
    /// The application destroyed the session.
    Destroyed,
    /// Janus timed the session out.
    SessionTimeout,
    /// The session could not be saved across a reconnect (or keepalive found it gone).
    SessionLost(String),
    /// The connection closed for good.
    TransportClosed(String),
    /// The last `Session`/`Handle` value was dropped, or the client shut down.
    Released,
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::Detached => f.write_str("detached"),
            CloseReason::DetachedByServer => f.write_str("detached by the server"),
            CloseReason::Destroyed => f.write_str("session destroyed"),
            CloseReason::SessionTimeout => f.write_str("session timed out"),
            CloseReason::SessionLost(r) => write!(f, "session lost: {r}"),
            CloseReason::TransportClosed(r) => {
                // The reason often says it already ("connection closed: ...").
                let r = r.strip_prefix("connection closed: ").unwrap_or(r);
                write!(f, "connection closed: {r}")
            }
            CloseReason::Released => f.write_str("released"),
        }
    }
}

/// Server information from `info` (`server_info`), with the whole reply kept.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerInfo {
    /// `version_string`, e.g. `1.1.2`.
    pub version: String,
    /// The server's `session-timeout` in seconds (0: none).
    pub session_timeout: Option<u64>,
    /// The server's `reclaim-session-timeout` in seconds.
    pub reclaim_session_timeout: Option<u64>,
    /// Whether the server requires an api secret.
    pub api_secret: bool,
    /// Whether the server requires tokens.
    pub auth_token: bool,
    /// Plugin package names.
    pub plugins: Vec<String>,
    /// The whole reply.
    pub raw: Value,
}

impl ServerInfo {
    /// Reads a `server_info` reply.
    pub fn from_incoming(msg: Incoming) -> ServerInfo {
        let b = &msg.body;
        ServerInfo {
            version: b
                .get("version_string")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            session_timeout: b.get("session-timeout").and_then(Value::as_u64),
            reclaim_session_timeout: b.get("reclaim-session-timeout").and_then(Value::as_u64),
            api_secret: b
                .get("api_secret")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            auth_token: b
                .get("auth_token")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            plugins: b
                .get("plugins")
                .and_then(Value::as_object)
                .map(|p| p.keys().cloned().collect())
                .unwrap_or_default(),
            raw: Value::Object(msg.body),
        }
    }
}
