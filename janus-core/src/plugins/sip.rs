//! `janus.plugin.sip`: a SIP user agent per handle, bridging WebRTC and SIP calls.
//!
//! Every request is asynchronous and answered with an [`Event`] (`registering`, `calling`,
//! `accepting`, `declining`, `hangingup`, ...). What SIP does later arrives in the event
//! stream: [`Event::Registered`] or [`Event::RegistrationFailed`] after a [`Register`],
//! [`Event::IncomingCall`] (with the caller's offer), [`Event::HangUp`], ...
//!
//! Notes from Janus 1.1.2:
//! - A call's later events (e.g. `hangup` after `calling`) may carry the transaction of
//!   the `call` request; once that request is answered they are ordinary events.
//! - [`Hangup`] and [`Decline`] in the wrong state (no call) get no answer at all: the
//!   request times out. [`Accept`] in the wrong state fails with
//!   [`errors::WRONG_STATE`].

use serde::Deserialize;
use serde_json::{Map, Value};

use super::Plugin;

/// The SIP plugin.
#[derive(Clone, Copy, Debug)]
pub struct Sip;

impl Plugin for Sip {
    const NAME: &'static str = "janus.plugin.sip";
    type Event = Event;
    fn parse_event(data: Value) -> Event {
        Event::from_data(data)
    }
}

/// SIP error codes (Janus 1.1.2, `plugins/janus_sip.c`).
pub mod errors {
    /// 499: unknown error.
    pub const UNKNOWN_ERROR: i64 = 499;
    /// 440: no message.
    pub const NO_MESSAGE: i64 = 440;
    /// 441: invalid JSON.
    pub const INVALID_JSON: i64 = 441;
    /// 442: unknown request.
    pub const INVALID_REQUEST: i64 = 442;
    /// 443: missing mandatory element.
    pub const MISSING_ELEMENT: i64 = 443;
    /// 444: invalid element.
    pub const INVALID_ELEMENT: i64 = 444;
    /// 445: already registered.
    pub const ALREADY_REGISTERED: i64 = 445;
    /// 446: invalid SIP address.
    pub const INVALID_ADDRESS: i64 = 446;
    /// 447: wrong state (not registered, no call, ...).
    pub const WRONG_STATE: i64 = 447;
    /// 448: missing SDP.
    pub const MISSING_SDP: i64 = 448;
    /// 449: libsofia error.
    pub const LIBSOFIA_ERROR: i64 = 449;
    /// 450: I/O error.
    pub const IO_ERROR: i64 = 450;
    /// 451: recording error.
    pub const RECORDING_ERROR: i64 = 451;
    /// 452: too strict.
    pub const TOO_STRICT: i64 = 452;
    /// 453: helper error.
    pub const HELPER_ERROR: i64 = 453;
    /// 454: no such call id.
    pub const NO_SUCH_CALLID: i64 = 454;
    /// 455: REFER error.
    pub const REFER_ERROR: i64 = 455;
    /// 456: not a SIP handle.
    pub const NOT_SIP_HANDLE: i64 = 456;
}

requests! {
    plugin = Sip;

    /// `register`: registers with a SIP server (or, with `type: "guest"`, only takes an
    /// identity). Answered with [`Event::Registering`]; the outcome comes later as
    /// [`Event::Registered`] or [`Event::RegistrationFailed`].
    Register("register") -> Event {
        required {
            /// The SIP URI (`sip:alice@example.com`).
            username: String,
        }
        optional {
            /// `guest` (no REGISTER) or `helper`.
            #[serde(rename = "type")]
            kind: String,
            /// Send a REGISTER (default true).
            send_register: bool,
            /// Force UDP.
            force_udp: bool,
            /// Force TCP.
            force_tcp: bool,
            /// Use SIPS.
            sips: bool,
            /// RFC 2543 style CANCEL.
            rfc2543_cancel: bool,
            /// The password.
            secret: String,
            /// The HA1 digest instead of the password.
            ha1_secret: String,
            /// The user name to authenticate with, if not the URI's.
            authuser: String,
            /// The display name.
            display_name: String,
            /// The User-Agent header.
            user_agent: String,
            /// The registrar/proxy (`sip:example.com:5060`).
            proxy: String,
            /// An outbound proxy.
            outbound_proxy: String,
            /// Extra headers for the REGISTER.
            headers: Map<String, Value>,
            /// Extra Contact parameters.
            contact_params: Map<String, Value>,
            /// Prefixes of incoming headers to pass to the application.
            incoming_header_prefixes: Vec<String>,
            /// Refresh an existing registration.
            refresh: bool,
            /// The master handle's id (helper handles).
            master_id: u64,
            /// Registration expiry, in seconds.
            register_ttl: u32,
        }
    }

    /// `unregister`: unregisters; answered with [`Event::Unregistering`].
    Unregister("unregister") -> Event {}

    /// `call`: calls a SIP URI (send the offer with it); answered with
    /// [`Event::Calling`].
    Call("call") -> Event {
        required {
            /// Who to call.
            uri: String,
        }
        optional {
            /// The Call-ID to use.
            call_id: String,
            /// Extra headers for the INVITE.
            headers: Map<String, Value>,
            /// Accept re-INVITEs by itself.
            autoaccept_reinvites: bool,
            /// `sdes_optional` or `sdes_mandatory`.
            srtp: String,
            /// SRTP profile.
            srtp_profile: String,
            /// The password (for guest registrations).
            secret: String,
            /// The HA1 digest (for guest registrations).
            ha1_secret: String,
            /// The user name to authenticate with.
            authuser: String,
            /// The REFER this call follows (transfers).
            refer_id: u64,
        }
        jsep: optional,
    }

    /// `accept`: accepts the incoming call (send the answer with it); answered with
    /// [`Event::Accepting`].
    Accept("accept") -> Event {
        optional {
            /// `sdes_optional` or `sdes_mandatory`.
            srtp: String,
            /// Extra headers for the 200 OK.
            headers: Map<String, Value>,
            /// Accept re-INVITEs by itself.
            autoaccept_reinvites: bool,
        }
        jsep: optional,
    }

    /// `decline`: declines the incoming call; answered with [`Event::Declining`].
    Decline("decline") -> Event {
        optional {
            /// The SIP code (default 486 Busy Here).
            code: u16,
            /// Extra headers.
            headers: Map<String, Value>,
            /// The REFER to decline.
            refer_id: u64,
        }
    }

    /// `hangup`: ends the call; answered with [`Event::HangingUp`], then
    /// [`Event::HangUp`] in the stream.
    Hangup("hangup") -> Event {
        optional {
            /// Extra headers for the BYE.
            headers: Map<String, Value>,
        }
    }

    /// `hold`: puts the call on hold.
    Hold("hold") -> Event {
        optional {
            /// `sendonly` (default), `recvonly` or `inactive`.
            direction: String,
        }
    }

    /// `unhold`: resumes the call.
    Unhold("unhold") -> Event {}

    /// `message`: sends a SIP MESSAGE (in the call, or to `uri`).
    Message("message") -> Event {
        required {
            /// The text.
            content: String,
        }
        optional {
            /// Its content type (default `text/plain`).
            content_type: String,
            /// Out of a call: the recipient.
            uri: String,
            /// Extra headers.
            headers: Map<String, Value>,
        }
    }

    /// `info`: sends a SIP INFO in the call.
    Info("info") -> Event {
        required {
            /// Its content type.
            #[serde(rename = "type")]
            kind: String,
            /// Its content.
            content: String,
        }
        optional {
            /// Extra headers.
            headers: Map<String, Value>,
        }
    }

    /// `dtmf_info`: sends a DTMF digit as SIP INFO.
    DtmfInfo("dtmf_info") -> Event {
        required {
            /// The digit.
            digit: String,
        }
        optional {
            /// Its duration, in milliseconds.
            duration: u32,
        }
    }
}

/// An incoming call ([`Event::IncomingCall`]).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct IncomingCall {
    /// The caller's URI.
    pub username: Option<String>,
    /// The caller's display name.
    pub displayname: Option<String>,
    /// The URI called.
    pub callee: Option<String>,
    /// The Call-ID.
    pub call_id: Option<String>,
    /// Who referred the caller (transfers).
    pub referred_by: Option<String>,
    /// The call this one replaces.
    pub replaces: Option<String>,
    /// SRTP required or offered (`sdes_optional`, `sdes_mandatory`).
    pub srtp: Option<String>,
    /// Headers passed on (`incoming_header_prefixes`).
    pub headers: Option<Map<String, Value>>,
}

/// A SIP event (`"result": {"event": ...}`), also the answer to every request.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// A REGISTER is being sent.
    Registering,
    /// Registered (or, as a guest, identity taken).
    Registered {
        /// The user.
        username: Option<String>,
        /// Whether a REGISTER was sent (false for guests).
        register_sent: Option<bool>,
        /// The id helper handles use to join this one.
        master_id: Option<u64>,
    },
    /// The registration failed (e.g. 503 when no server answers).
    RegistrationFailed {
        /// The SIP code.
        code: Option<u16>,
        /// The SIP reason.
        reason: Option<String>,
    },
    /// An un-REGISTER is being sent.
    Unregistering,
    /// Unregistered.
    Unregistered {
        /// The user.
        username: Option<String>,
    },
    /// The INVITE was sent.
    Calling {
        /// The Call-ID.
        call_id: Option<String>,
    },
    /// The callee's phone rings (180).
    Ringing {
        /// The Call-ID.
        call_id: Option<String>,
    },
    /// The call proceeds (1xx).
    Proceeding {
        /// The Call-ID.
        call_id: Option<String>,
        /// The SIP code.
        code: Option<u16>,
    },
    /// Early media (183, with the callee's answer).
    Progress {
        /// The Call-ID.
        call_id: Option<String>,
        /// The callee.
        username: Option<String>,
    },
    /// Someone calls; the event carries their offer (if the INVITE had one).
    IncomingCall(IncomingCall),
    /// A call came while this handle was busy.
    MissedCall {
        /// The Call-ID.
        call_id: Option<String>,
        /// The caller.
        caller: Option<String>,
        /// The caller's display name.
        displayname: Option<String>,
        /// The URI called.
        callee: Option<String>,
    },
    /// The 200 OK is being sent.
    Accepting {
        /// The Call-ID.
        call_id: Option<String>,
    },
    /// The call is established (the caller gets the callee's answer with it).
    Accepted {
        /// The Call-ID.
        call_id: Option<String>,
        /// The peer.
        username: Option<String>,
    },
    /// The peer renegotiates; the event carries its JSEP.
    UpdatingCall {
        /// The Call-ID.
        call_id: Option<String>,
    },
    /// The decline is being sent.
    Declining {
        /// The Call-ID.
        call_id: Option<String>,
        /// The SIP code sent.
        code: Option<u16>,
    },
    /// The BYE is being sent.
    HangingUp {
        /// The Call-ID.
        call_id: Option<String>,
    },
    /// The call ended (or never started: e.g. 503 when no server answers).
    HangUp {
        /// The Call-ID.
        call_id: Option<String>,
        /// The SIP code.
        code: Option<u16>,
        /// The SIP reason.
        reason: Option<String>,
    },
    /// The call was put on hold.
    Holding {
        /// The Call-ID.
        call_id: Option<String>,
    },
    /// The call resumed.
    Resuming {
        /// The Call-ID.
        call_id: Option<String>,
    },
    /// A SIP MESSAGE arrived (or, as an answer, was sent).
    Message {
        /// The Call-ID.
        call_id: Option<String>,
        /// The sender.
        sender: Option<String>,
        /// The sender's display name.
        displayname: Option<String>,
        /// The text.
        content: Option<String>,
        /// Its content type.
        content_type: Option<String>,
    },
    /// A SIP INFO arrived (or, as an answer, was sent).
    Info {
        /// The Call-ID.
        call_id: Option<String>,
        /// The sender.
        sender: Option<String>,
        /// Its content type.
        kind: Option<String>,
        /// Its content.
        content: Option<String>,
    },
    /// Anything else, as Janus sent it.
    Other(Value),
}

impl Event {
    /// Decodes the `data` of a SIP event; never fails.
    pub fn from_data(data: Value) -> Event {
        Self::typed(&data).unwrap_or(Event::Other(data))
    }

    fn typed(data: &Value) -> Option<Event> {
        let result = data.get("result")?;
        let kind = result.get("event")?.as_str()?;
        let text = |key: &str| result.get(key).and_then(Value::as_str).map(String::from);
        let code = || {
            result
                .get("code")
                .and_then(Value::as_u64)
                .and_then(|c| u16::try_from(c).ok())
        };
        let call_id = text("call_id").or_else(|| {
            data.get("call_id")
                .and_then(Value::as_str)
                .map(String::from)
        });
        Some(match kind {
            "registering" => Event::Registering,
            "registered" => Event::Registered {
                username: text("username"),
                register_sent: result.get("register_sent").and_then(Value::as_bool),
                master_id: result.get("master_id").and_then(Value::as_u64),
            },
            "registration_failed" => Event::RegistrationFailed {
                code: code(),
                reason: text("reason"),
            },
            "unregistering" => Event::Unregistering,
            "unregistered" => Event::Unregistered {
                username: text("username"),
            },
            "calling" => Event::Calling { call_id },
            "ringing" => Event::Ringing { call_id },
            "proceeding" => Event::Proceeding {
                call_id,
                code: code(),
            },
            "progress" => Event::Progress {
                call_id,
                username: text("username"),
            },
            "incomingcall" => {
                let mut call: IncomingCall = super::from_value(result)?;
                if call.call_id.is_none() {
                    call.call_id = call_id;
                }
                Event::IncomingCall(call)
            }
            "missed_call" => Event::MissedCall {
                call_id,
                caller: text("caller"),
                displayname: text("displayname"),
                callee: text("callee"),
            },
            "accepting" => Event::Accepting { call_id },
            "accepted" => Event::Accepted {
                call_id,
                username: text("username"),
            },
            "updatingcall" => Event::UpdatingCall { call_id },
            "declining" => Event::Declining {
                call_id,
                code: code(),
            },
            "hangingup" => Event::HangingUp { call_id },
            "hangup" => Event::HangUp {
                call_id,
                code: code(),
                reason: text("reason"),
            },
            "holding" => Event::Holding { call_id },
            "resuming" => Event::Resuming { call_id },
            "message" => Event::Message {
                call_id,
                sender: text("sender"),
                displayname: text("displayname"),
                content: text("content"),
                content_type: text("content_type"),
            },
            "info" => Event::Info {
                call_id,
                sender: text("sender"),
                kind: text("type"),
                content: text("content"),
            },
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

    #[test]
    fn only_set_fields_go_on_the_wire() {
        assert_eq!(
            serde_json::to_value(Register {
                secret: Some("x".into()),
                proxy: Some("sip:127.0.0.1:5999".into()),
                ..Register::new("sip:alice@127.0.0.1")
            })
            .unwrap(),
            json!({"request":"register","username":"sip:alice@127.0.0.1","secret":"x",
                   "proxy":"sip:127.0.0.1:5999"})
        );
        assert_eq!(
            serde_json::to_value(Register {
                kind: Some("guest".into()),
                ..Register::new("sip:guest@127.0.0.1")
            })
            .unwrap(),
            json!({"request":"register","type":"guest","username":"sip:guest@127.0.0.1"})
        );
        let call = Call::new("sip:bob@127.0.0.1").with_jsep(Jsep::offer("v=0"));
        assert_eq!(
            serde_json::to_value(&call).unwrap(),
            json!({"request":"call","uri":"sip:bob@127.0.0.1"})
        );
        assert_eq!(
            serde_json::to_value(Decline {
                code: Some(603),
                ..Default::default()
            })
            .unwrap(),
            json!({"request":"decline","code":603})
        );
        assert_eq!(
            serde_json::to_value(Info::new("application/x", "y")).unwrap(),
            json!({"request":"info","type":"application/x","content":"y"})
        );
    }

    #[test]
    fn events_as_janus_sends_them() {
        // Captured from Janus 1.1.2.
        let answer = <Register as PluginRequest<Sip>>::decode(PluginResponse {
            plugin: Sip::NAME.into(),
            data: json!({"sip":"event","result":{"event":"registering"}}),
            jsep: None,
            sender: None,
        })
        .unwrap();
        assert_eq!(answer, Event::Registering);
        assert_eq!(
            Event::from_data(
                json!({"sip":"event","result":{"event":"registration_failed",
                "code":503,"reason":"Service Unavailable"}})
            ),
            Event::RegistrationFailed {
                code: Some(503),
                reason: Some("Service Unavailable".into())
            }
        );
        assert_eq!(
            Event::from_data(json!({"sip":"event","result":{"event":"registered",
                "username":"guest","register_sent":false,"master_id":2357463851u64}})),
            Event::Registered {
                username: Some("guest".into()),
                register_sent: Some(false),
                master_id: Some(2357463851)
            }
        );
        assert_eq!(
            Event::from_data(json!({"sip":"event","result":{"event":"calling",
                "call_id":"SuMlPrve9ps0NBBnpSEMawc"},"call_id":"SuMlPrve9ps0NBBnpSEMawc"})),
            Event::Calling {
                call_id: Some("SuMlPrve9ps0NBBnpSEMawc".into())
            }
        );
        assert_eq!(
            Event::from_data(json!({"sip":"event","result":{"event":"hangup","code":503,
                "reason":"Service Unavailable"},"call_id":"SuMlPrve9ps0NBBnpSEMawc"})),
            Event::HangUp {
                call_id: Some("SuMlPrve9ps0NBBnpSEMawc".into()),
                code: Some(503),
                reason: Some("Service Unavailable".into())
            }
        );
        // From the Janus documentation, with a field of a future version.
        match Event::from_data(json!({"sip":"event","call_id":"abc","result":{
            "event":"incomingcall","username":"sip:bob@example.com","displayname":"Bob",
            "callee":"sip:alice@example.com","future":[1]}}))
        {
            Event::IncomingCall(c) => {
                assert_eq!(c.call_id.as_deref(), Some("abc"));
                assert_eq!(c.displayname.as_deref(), Some("Bob"));
            }
            other => panic!("{other:?}"),
        }
        let v = json!({"sip":"event","result":{"event":"brand_new"}});
        assert_eq!(Event::from_data(v.clone()), Event::Other(v));
    }
}
