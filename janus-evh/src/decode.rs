//! Where the text a handler delivered becomes [`Event`]s: one JSON object, or an array of
//! them (Janus groups events by default in several handlers).

use janus_core::{HandleId, SessionId};
use serde::Deserialize;
use serde_json::Value;

use crate::event::{
    types, Component, ConnectionChange, CoreEvent, Event, EventBody, HandleAction, JsepOwner,
    MediaEvent, MediaStats, SessionAction, WebRtcEvent,
};

/// What one delivery held: the events that could be read, and how many elements were not
/// events at all (not an object, no numeric `type`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Batch {
    /// The events, in the order Janus sent them.
    pub events: Vec<Event>,
    /// Elements skipped because they were not events.
    pub skipped: usize,
}

/// Why a delivery could not be read at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    reason: String,
}

impl DecodeError {
    fn new(reason: impl Into<String>) -> Self {
        DecodeError {
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "not a Janus event delivery: {}", self.reason)
    }
}

impl std::error::Error for DecodeError {}

/// Reads one delivery (a WebSocket message, an HTTP body, a broker message).
///
/// An object is one event, an array is several; anything else, or text that is not JSON,
/// is an error. Array elements that are not events are skipped and counted in
/// [`Batch::skipped`]; an event of a type or shape this crate does not know is kept, with
/// [`EventBody::Other`].
///
/// ```
/// use janus_evh::{decode, EventBody, SessionAction};
///
/// let batch = decode(r#"[{"type":1,"timestamp":1700000000000000,"session_id":42,
///     "event":{"name":"created","transport":{"transport":"janus.transport.websockets"}}}]"#)?;
/// assert_eq!(batch.events.len(), 1);
/// let event = &batch.events[0];
/// assert_eq!(event.session_id.map(|s| s.0), Some(42));
/// assert!(matches!(&event.body, EventBody::Session { action: SessionAction::Created, .. }));
/// # Ok::<(), janus_evh::DecodeError>(())
/// ```
pub fn decode(text: &str) -> Result<Batch, DecodeError> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| DecodeError::new(format!("not JSON ({e})")))?;
    match value {
        Value::Array(items) => {
            let mut batch = Batch {
                events: Vec::with_capacity(items.len()),
                skipped: 0,
            };
            for item in items {
                match event_from_value(item) {
                    Some(event) => batch.events.push(event),
                    None => batch.skipped += 1,
                }
            }
            Ok(batch)
        }
        obj @ Value::Object(_) => match event_from_value(obj) {
            Some(event) => Ok(Batch {
                events: vec![event],
                skipped: 0,
            }),
            None => Err(DecodeError::new("an object without a numeric \"type\"")),
        },
        _ => Err(DecodeError::new("neither an object nor an array")),
    }
}

/// One event from its JSON; `None` when it is not an object with a numeric `type`.
pub fn event_from_value(raw: Value) -> Option<Event> {
    let obj = raw.as_object()?;
    let event_type = u32::try_from(obj.get("type")?.as_u64()?).ok()?;
    let subtype = obj
        .get("subtype")
        .and_then(Value::as_u64)
        .and_then(|s| u32::try_from(s).ok());
    let body_json = obj.get("event").unwrap_or(&Value::Null);
    let body = body_of(event_type, subtype, body_json).unwrap_or(EventBody::Other);
    Some(Event {
        emitter: text(obj.get("emitter")),
        event_type,
        subtype,
        timestamp_us: obj.get("timestamp").and_then(Value::as_u64),
        session_id: obj.get("session_id").and_then(Value::as_u64).map(SessionId),
        handle_id: obj.get("handle_id").and_then(Value::as_u64).map(HandleId),
        opaque_id: text(obj.get("opaque_id")),
        body,
        raw,
    })
}

fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).map(str::to_owned)
}

fn field<'a>(body: &'a Value, key: &str) -> Option<&'a str> {
    body.get(key).and_then(Value::as_str)
}

fn number(body: &Value, key: &str) -> Option<u64> {
    body.get(key).and_then(Value::as_u64)
}

fn component(body: &Value) -> Component {
    Component {
        stream_id: number(body, "stream_id"),
        component_id: number(body, "component_id"),
    }
}

/// The typed body; `None` when a known type's body lacks what it must have.
fn body_of(event_type: u32, subtype: Option<u32>, body: &Value) -> Option<EventBody> {
    Some(match event_type {
        types::SESSION => EventBody::Session {
            action: match field(body, "name")? {
                "created" => SessionAction::Created,
                "destroyed" => SessionAction::Destroyed,
                "timeout" => SessionAction::Timeout,
                other => SessionAction::Other(other.to_owned()),
            },
            transport: body.get("transport").cloned(),
        },
        types::HANDLE => EventBody::Handle {
            action: match field(body, "name")? {
                "attached" => HandleAction::Attached,
                "detached" => HandleAction::Detached,
                other => HandleAction::Other(other.to_owned()),
            },
            plugin: field(body, "plugin")?.to_owned(),
            token: field(body, "token").map(str::to_owned),
        },
        types::EXTERNAL => EventBody::External {
            schema: field(body, "schema")?.to_owned(),
            data: body.get("data").cloned().unwrap_or(Value::Null),
        },
        types::JSEP => {
            let jsep = body.get("jsep")?;
            EventBody::Jsep {
                owner: match field(body, "owner")? {
                    "local" => JsepOwner::Local,
                    "remote" => JsepOwner::Remote,
                    other => JsepOwner::Other(other.to_owned()),
                },
                sdp_type: field(jsep, "type")?.to_owned(),
                sdp: field(jsep, "sdp")?.to_owned(),
            }
        }
        types::WEBRTC => EventBody::WebRtc(webrtc(subtype, body).unwrap_or(WebRtcEvent::Other)),
        types::MEDIA => EventBody::Media(media(subtype, body).unwrap_or(MediaEvent::Other)),
        types::PLUGIN => EventBody::Plugin {
            plugin: field(body, "plugin")?.to_owned(),
            data: body.get("data").cloned().unwrap_or(Value::Null),
        },
        types::TRANSPORT => EventBody::Transport {
            transport: field(body, "transport")?.to_owned(),
            id: field(body, "id").unwrap_or_default().to_owned(),
            data: body.get("data").cloned().unwrap_or(Value::Null),
        },
        types::CORE => EventBody::Core(match subtype {
            Some(1) => CoreEvent::Started {
                info: body.get("info").cloned().unwrap_or(Value::Null),
            },
            Some(2) => CoreEvent::Shutdown {
                signal: body.get("signum").and_then(Value::as_i64),
            },
            _ => CoreEvent::Other,
        }),
        _ => return None,
    })
}

fn webrtc(subtype: Option<u32>, body: &Value) -> Option<WebRtcEvent> {
    let at = component(body);
    Some(match subtype? {
        1 => WebRtcEvent::Ice {
            state: field(body, "ice")?.to_owned(),
            component: at,
        },
        2 => WebRtcEvent::LocalCandidate {
            candidate: field(body, "local-candidate")?.to_owned(),
            component: at,
        },
        3 => WebRtcEvent::RemoteCandidate {
            candidate: field(body, "remote-candidate")?.to_owned(),
            component: at,
        },
        4 => WebRtcEvent::SelectedPair {
            pair: field(body, "selected-pair")?.to_owned(),
            component: at,
            candidates: body.get("candidates").cloned(),
        },
        5 => WebRtcEvent::Dtls {
            state: field(body, "dtls")?.to_owned(),
            component: at,
            retransmissions: number(body, "retransmissions"),
        },
        6 => WebRtcEvent::Connection {
            state: match field(body, "connection")? {
                "webrtcup" => ConnectionChange::WebrtcUp,
                "hangup" => ConnectionChange::Hangup,
                other => ConnectionChange::Other(other.to_owned()),
            },
            reason: field(body, "reason").map(str::to_owned),
        },
        _ => return None,
    })
}

fn media(subtype: Option<u32>, body: &Value) -> Option<MediaEvent> {
    Some(match subtype? {
        1 => MediaEvent::Receiving {
            media: field(body, "media")?.to_owned(),
            mid: field(body, "mid").map(str::to_owned),
            substream: number(body, "substream"),
            receiving: body.get("receiving")?.as_bool()?,
            seconds: number(body, "seconds"),
        },
        2 => MediaEvent::SlowLink {
            media: field(body, "media")?.to_owned(),
            mid: field(body, "mid").map(str::to_owned),
            uplink: field(body, "slow_link")? == "uplink",
            lost_last_second: number(body, "lost_lastsec"),
        },
        3 => MediaEvent::Stats(match body {
            Value::Array(items) => items.iter().filter_map(stats).collect(),
            one => vec![stats(one)?],
        }),
        _ => return None,
    })
}

fn stats(v: &Value) -> Option<MediaStats> {
    if !v.is_object() {
        return None;
    }
    MediaStats::deserialize(v).ok()
}

#[cfg(test)]
mod tests;
