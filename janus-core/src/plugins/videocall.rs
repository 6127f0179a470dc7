//! `janus.plugin.videocall`: one-to-one calls between registered users, relayed by Janus.
//!
//! Every request is asynchronous; its answer is an [`Event`] (`registered`, `calling`,
//! `accepted`, `set`, `hangup`), except [`List`]. The callee gets
//! [`Event::IncomingCall`] with the caller's offer in the event stream
//! ([`PluginEvent::Plugin`](super::PluginEvent::Plugin)'s `jsep`), and answers with
//! [`Accept`].

use serde::Deserialize;
use serde_json::Value;

use super::{decode_result, from_value, Plugin};

/// The VideoCall plugin.
#[derive(Clone, Copy, Debug)]
pub struct VideoCall;

impl Plugin for VideoCall {
    const NAME: &'static str = "janus.plugin.videocall";
    type Event = Event;
    fn parse_event(data: Value) -> Event {
        Event::from_data(data)
    }
}

/// VideoCall error codes (Janus 1.1.2, `plugins/janus_videocall.c`).
pub mod errors {
    /// 499: unknown error.
    pub const UNKNOWN_ERROR: i64 = 499;
    /// 470: no message.
    pub const NO_MESSAGE: i64 = 470;
    /// 471: invalid JSON.
    pub const INVALID_JSON: i64 = 471;
    /// 472: unknown request.
    pub const INVALID_REQUEST: i64 = 472;
    /// 473: register first.
    pub const REGISTER_FIRST: i64 = 473;
    /// 474: invalid element.
    pub const INVALID_ELEMENT: i64 = 474;
    /// 475: missing mandatory element.
    pub const MISSING_ELEMENT: i64 = 475;
    /// 476: the username is taken.
    pub const USERNAME_TAKEN: i64 = 476;
    /// 477: this handle is already registered.
    pub const ALREADY_REGISTERED: i64 = 477;
    /// 478: no such username.
    pub const NO_SUCH_USERNAME: i64 = 478;
    /// 479: calling oneself (use the EchoTest).
    pub const USE_ECHO_TEST: i64 = 479;
    /// 480: already in a call.
    pub const ALREADY_IN_CALL: i64 = 480;
    /// 481: no call (nothing to accept or hang up).
    pub const NO_CALL: i64 = 481;
    /// 482: missing SDP.
    pub const MISSING_SDP: i64 = 482;
    /// 483: invalid SDP.
    pub const INVALID_SDP: i64 = 483;
}

requests! {
    plugin = VideoCall;

    /// `list`: the registered users.
    List("list") -> UserList, via decode_result {}

    /// `register`: takes a username; answered with [`Event::Registered`].
    Register("register") -> Event {
        required {
            /// The username.
            username: String,
        }
    }

    /// `call`: calls a user (send the offer with it); answered with [`Event::Calling`].
    Call("call") -> Event {
        required {
            /// Who to call.
            username: String,
        }
        jsep: optional,
    }

    /// `accept`: accepts the incoming call (send the answer with it); answered with
    /// [`Event::Accepted`].
    Accept("accept") -> Event { jsep: optional }

    /// `set`: changes the call's settings (or renegotiates, with a JSEP); answered with
    /// [`Event::Set`].
    Set("set") -> Event {
        optional {
            /// Relay audio.
            audio: bool,
            /// Relay video.
            video: bool,
            /// Bitrate cap, in bits per second.
            bitrate: u64,
            /// Record.
            record: bool,
            /// Base name of the recording.
            filename: String,
            /// Simulcast substream to relay.
            substream: u8,
            /// Simulcast temporal layer to relay.
            temporal: u8,
            /// Simulcast fallback, in microseconds.
            fallback: u64,
        }
        jsep: optional,
    }

    /// `hangup`: ends the call; answered with [`Event::HangUp`].
    Hangup("hangup") -> Event {}
}

/// The answer to [`List`].
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct UserList {
    /// The registered usernames.
    #[serde(default)]
    pub list: Vec<String>,
}

/// The simulcast layers relayed changed.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Layers {
    /// The video codec.
    pub videocodec: Option<String>,
    /// The substream now relayed.
    pub substream: Option<u8>,
    /// The temporal layer now relayed.
    pub temporal: Option<u8>,
}

/// A VideoCall event (`"result": {"event": ...}`), also the answer to most requests.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// This handle registered a username.
    Registered {
        /// The username.
        username: String,
    },
    /// The call is being placed.
    Calling,
    /// Someone calls; the event carries their offer.
    IncomingCall {
        /// The caller.
        username: String,
    },
    /// The call was accepted (the caller gets the callee's answer with it).
    Accepted {
        /// The peer (absent in the callee's own answer).
        username: Option<String>,
    },
    /// The peer renegotiates; the event carries its JSEP.
    Update,
    /// The settings changed.
    Set,
    /// The call ended.
    HangUp {
        /// The peer.
        username: Option<String>,
        /// Why (`Explicit hangup`, `Remote WebRTC hangup`, ...).
        reason: Option<String>,
    },
    /// The simulcast layers relayed changed.
    Simulcast(Layers),
    /// The registered users (the answer to [`List`], seen as an event).
    List(Vec<String>),
    /// Anything else, as Janus sent it.
    Other(Value),
}

impl Event {
    /// Decodes the `data` of a VideoCall event; never fails.
    pub fn from_data(data: Value) -> Event {
        Self::typed(&data).unwrap_or(Event::Other(data))
    }

    fn typed(data: &Value) -> Option<Event> {
        let result = data.get("result")?;
        let text = |key: &str| result.get(key).and_then(Value::as_str).map(String::from);
        let Some(kind) = result.get("event").and_then(Value::as_str) else {
            return Some(Event::List(from_value(result.get("list")?)?));
        };
        Some(match kind {
            "registered" => Event::Registered {
                username: text("username")?,
            },
            "calling" => Event::Calling,
            "incomingcall" => Event::IncomingCall {
                username: text("username")?,
            },
            "accepted" => Event::Accepted {
                username: text("username"),
            },
            "update" => Event::Update,
            "set" => Event::Set,
            "hangup" => Event::HangUp {
                username: text("username"),
                reason: text("reason"),
            },
            "simulcast" => Event::Simulcast(from_value(result)?),
            _ => return None,
        })
    }
}

event_deserialize!(Event);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::PluginRequest;
    use crate::{Jsep, PluginResponse};
    use serde_json::json;

    fn decode<R: PluginRequest<VideoCall>>(data: Value) -> R::Response {
        R::decode(PluginResponse {
            plugin: VideoCall::NAME.into(),
            data,
            jsep: None,
            sender: None,
        })
        .expect("decodes")
    }

    #[test]
    fn only_set_fields_go_on_the_wire() {
        assert_eq!(
            serde_json::to_value(Register::new("alice")).unwrap(),
            json!({"request":"register","username":"alice"})
        );
        let call = Call::new("bob").with_jsep(Jsep::offer("v=0"));
        assert_eq!(
            serde_json::to_value(&call).unwrap(),
            json!({"request":"call","username":"bob"})
        );
        assert!(PluginRequest::<VideoCall>::jsep(&call).is_some());
        assert_eq!(
            serde_json::to_value(Set {
                bitrate: Some(1000),
                ..Default::default()
            })
            .unwrap(),
            json!({"request":"set","bitrate":1000})
        );
    }

    #[test]
    fn answers_and_events_as_janus_sends_them() {
        // Captured from Janus 1.1.2.
        let l = decode::<List>(json!({"videocall":"event","result":{"list":["bob","alice"]}}));
        assert_eq!(l.list, vec!["bob", "alice"]);
        assert_eq!(
            decode::<Register>(
                json!({"videocall":"event","result":{"event":"registered","username":"alice"}})
            ),
            Event::Registered {
                username: "alice".into()
            }
        );
        assert_eq!(
            decode::<Call>(json!({"videocall":"event","result":{"event":"calling"}})),
            Event::Calling
        );
        assert_eq!(
            decode::<Accept>(json!({"videocall":"event","result":{"event":"accepted"}})),
            Event::Accepted { username: None }
        );
        assert_eq!(
            decode::<Set>(json!({"videocall":"event","result":{"event":"set"}})),
            Event::Set
        );
        assert_eq!(
            decode::<Hangup>(json!({"videocall":"event","result":{"event":"hangup",
                "username":"bob","reason":"Explicit hangup"}})),
            Event::HangUp {
                username: Some("bob".into()),
                reason: Some("Explicit hangup".into())
            }
        );
        assert_eq!(
            Event::from_data(
                json!({"videocall":"event","result":{"event":"incomingcall","username":"dave"}})
            ),
            Event::IncomingCall {
                username: "dave".into()
            }
        );
        assert_eq!(
            Event::from_data(json!({"videocall":"event","result":{"event":"accepted",
                "username":"carol","new_field":1}})),
            Event::Accepted {
                username: Some("carol".into())
            }
        );
        let v = json!({"videocall":"event","result":{"event":"brand_new"}});
        assert_eq!(Event::from_data(v.clone()), Event::Other(v));
    }
}
