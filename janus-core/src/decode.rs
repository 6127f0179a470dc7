//! Where an incoming message is decoded: a frame (one JSON object, or an array of them
//! from an HTTP long poll) becomes [`Incoming`] envelopes, and a handle's message becomes
//! the [`HandleEvent`] an application sees.
//!
//! Decoding never fails on what it does not know: an unknown `janus` kind becomes
//! [`HandleEvent::Other`] with the raw JSON, unknown fields are kept.

use serde_json::{Map, Value};

use crate::error::Error;
use crate::protocol::{Candidate, HandleEvent, HandleId, Jsep, PluginResponse, SessionId, Trickle};

/// The envelope fields of one incoming message, with the whole message kept.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    /// The `janus` kind (`success`, `ack`, `event`, ...).
    pub janus: String,
    /// The transaction, when the message answers a request.
    pub transaction: Option<String>,
    /// The session it belongs to.
    pub session_id: Option<SessionId>,
    /// The handle it comes from (`sender`).
    pub sender: Option<HandleId>,
    /// The whole message.
    pub body: Map<String, Value>,
}

fn opt_u64(map: &Map<String, Value>, key: &str) -> Result<Option<u64>, Error> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(Some)
            .ok_or_else(|| Error::protocol(format!("`{key}` is not an unsigned integer"))),
        Some(_) => Err(Error::protocol(format!("`{key}` is not a number"))),
    }
}

impl Incoming {
    /// Reads the envelope of one decoded JSON value. Wrong types are errors; unknown fields stay in `body`.
    pub fn from_value(value: Value) -> Result<Incoming, Error> {
        let Value::Object(body) = value else {
            return Err(Error::protocol("message is not a JSON object"));
        };
        let janus = match body.get("janus") {
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err(Error::protocol("`janus` is not a string")),
            None => return Err(Error::protocol("message has no `janus` field")),
        };
        let transaction = match body.get("transaction") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(Error::protocol("`transaction` is not a string")),
        };
        let session_id = opt_u64(&body, "session_id")?.map(SessionId);
        let sender = opt_u64(&body, "sender")?.map(HandleId);
        Ok(Incoming {
            janus,
            transaction,
            session_id,
            sender,
            body,
        })
    }

    /// The core error carried by a `{"janus":"error"}` message.
    pub fn core_error(&self) -> Error {
        let err = self.body.get("error");
        let code = err
            .and_then(|e| e.get("code"))
            .and_then(Value::as_u64)
            .and_then(|c| u16::try_from(c).ok())
            .unwrap_or(crate::codes::UNKNOWN);
        let reason = err
            .and_then(|e| e.get("reason"))
            .and_then(Value::as_str)
            .unwrap_or("unknown error");
        Error::janus(code, reason)
    }

    /// `data.id` of a `success` reply (create, attach).
    pub fn data_id(&self) -> Option<u64> {
        self.body.get("data")?.get("id")?.as_u64()
    }

    /// Takes `plugindata` and `jsep` out as a [`PluginResponse`], turning `error_code`/`error`
    /// inside the data into a plugin error.
    pub fn into_plugin_response(mut self) -> Result<PluginResponse, Error> {
        let jsep = match self.body.remove("jsep") {
            Some(j) => Some(
                serde_json::from_value::<Jsep>(j)
                    .map_err(|e| Error::protocol(format!("bad jsep: {e}")))?,
            ),
            None => None,
        };
        let Some(Value::Object(mut pd)) = self.body.remove("plugindata") else {
            return Err(Error::protocol(format!(
                "`{}` reply carries no plugindata",
                self.janus
            )));
        };
        let plugin = match pd.remove("plugin") {
            Some(Value::String(s)) => s,
            _ => String::new(),
        };
        let data = pd.remove("data").unwrap_or(Value::Null);
        if let Some(err) = plugin_error(&data) {
            return Err(err);
        }
        Ok(PluginResponse {
            plugin,
            data,
            jsep,
            sender: self.sender,
        })
    }

    /// Turns a handle-level message into the event an application sees.
    pub fn into_handle_event(self) -> HandleEvent {
        let raw_of = |body: Map<String, Value>| Value::Object(body);
        match self.janus.as_str() {
            "event" => {
                // Kept whole even when it carries a plugin error: it is still an event.
                let sender = self.sender;
                let mut body = self.body;
                let jsep = body
                    .remove("jsep")
                    .and_then(|j| serde_json::from_value(j).ok());
                let (plugin, data) = match body.remove("plugindata") {
                    Some(Value::Object(mut pd)) => (
                        match pd.remove("plugin") {
                            Some(Value::String(s)) => s,
                            _ => String::new(),
                        },
                        pd.remove("data").unwrap_or(Value::Null),
                    ),
                    _ => (String::new(), Value::Null),
                };
                HandleEvent::Plugin(PluginResponse {
                    plugin,
                    data,
                    jsep,
                    sender,
                })
            }
            "webrtcup" => HandleEvent::WebrtcUp,
            "media" => HandleEvent::Media {
                mid: self
                    .body
                    .get("mid")
                    .and_then(Value::as_str)
                    .map(String::from),
                kind: self
                    .body
                    .get("type")
                    .and_then(Value::as_str)
                    .map(String::from),
                receiving: self
                    .body
                    .get("receiving")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                raw: raw_of(self.body),
            },
            "slowlink" => HandleEvent::Slowlink {
                mid: self
                    .body
                    .get("mid")
                    .and_then(Value::as_str)
                    .map(String::from),
                uplink: self
                    .body
                    .get("uplink")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                lost: self.body.get("lost").and_then(Value::as_u64).unwrap_or(0),
                raw: raw_of(self.body),
            },
            "hangup" => HandleEvent::Hangup {
                reason: self
                    .body
                    .get("reason")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
            },
            "detached" => HandleEvent::Detached,
            "ice-failed" => HandleEvent::IceFailed,
            "trickle" => match self.body.get("candidate") {
                Some(c) if c.get("completed").and_then(Value::as_bool) == Some(true) => {
                    HandleEvent::Trickle(Trickle::Completed)
                }
                Some(c) => match serde_json::from_value::<Candidate>(c.clone()) {
                    Ok(c) => HandleEvent::Trickle(Trickle::Candidate(c)),
                    Err(_) => HandleEvent::Other(raw_of(self.body)),
                },
                None => HandleEvent::Other(raw_of(self.body)),
            },
            _ => HandleEvent::Other(raw_of(self.body)),
        }
    }
}

/// `error_code`/`error` inside plugin data, as a plugin error.
pub fn plugin_error(data: &Value) -> Option<Error> {
    let code = data.get("error_code")?;
    let code = code.as_i64().unwrap_or(0);
    let reason = data
        .get("error")
        .and_then(Value::as_str)
        .unwrap_or("plugin error");
    Some(Error::plugin(code, reason))
}

/// Decodes one frame: a JSON object, or an array of them (HTTP long poll with `maxev` > 1).
///
/// Each element is decoded on its own, so one bad element does not hide the others.
pub fn decode_frame(text: &str) -> Result<Vec<Result<Incoming, Error>>, Error> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| Error::protocol(format!("invalid JSON: {e}")))?;
    Ok(match value {
        Value::Array(items) => items.into_iter().map(Incoming::from_value).collect(),
        other => vec![Incoming::from_value(other)],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ServerInfo;
    use serde_json::json;

    fn inc(v: Value) -> Incoming {
        Incoming::from_value(v).unwrap()
    }

    #[test]
    fn envelope_fields_are_read_and_unknown_fields_kept() {
        let m =
            inc(json!({"janus":"event","session_id":1,"sender":2,"transaction":"7","x":{"y":1}}));
        assert_eq!(m.janus, "event");
        assert_eq!(m.session_id, Some(SessionId(1)));
        assert_eq!(m.sender, Some(HandleId(2)));
        assert_eq!(m.transaction.as_deref(), Some("7"));
        assert_eq!(m.body["x"]["y"], 1);
    }

    #[test]
    fn wrong_types_are_protocol_errors() {
        assert!(Incoming::from_value(json!({"janus":1})).is_err());
        assert!(Incoming::from_value(json!({"transaction":"1"})).is_err());
        assert!(Incoming::from_value(json!({"janus":"ack","transaction":5})).is_err());
        assert!(Incoming::from_value(json!({"janus":"ack","session_id":"5"})).is_err());
        assert!(Incoming::from_value(json!({"janus":"ack","sender":-5})).is_err());
        assert!(Incoming::from_value(json!([1])).is_err());
    }

    #[test]
    fn frames_may_be_arrays_with_bad_elements() {
        let r =
            decode_frame(r#"[{"janus":"keepalive"},{"janus":3},{"janus":"webrtcup","sender":4}]"#)
                .unwrap();
        assert_eq!(r.len(), 3);
        assert!(r[0].is_ok() && r[1].is_err() && r[2].is_ok());
        assert!(decode_frame("{not json").is_err());
    }

    #[test]
    fn core_error_is_decoded() {
        let e = inc(json!({"janus":"error","error":{"code":458,"reason":"No such session 1"}}))
            .core_error();
        assert_eq!(e.janus_code(), Some(458));
        let e = inc(json!({"janus":"error","error":{"code":"x"}})).core_error();
        assert_eq!(e.janus_code(), Some(crate::codes::UNKNOWN));
    }

    #[test]
    fn plugin_response_and_plugin_error() {
        let ok = inc(
            json!({"janus":"event","plugindata":{"plugin":"janus.plugin.echotest","data":{"echotest":"event","result":"ok"}},"jsep":{"type":"answer","sdp":"v=0","e2ee":false}}),
        );
        let r = ok.into_plugin_response().unwrap();
        assert_eq!(r.plugin, "janus.plugin.echotest");
        assert_eq!(r.data["result"], "ok");
        let jsep = r.jsep.unwrap();
        assert_eq!(jsep.kind, "answer");
        assert_eq!(jsep.extra["e2ee"], false);

        let bad = inc(
            json!({"janus":"success","plugindata":{"plugin":"janus.plugin.videoroom","data":{"videoroom":"event","error_code":423,"error":"Unknown request 'x'"}}}),
        );
        let e = bad.into_plugin_response().unwrap_err();
        assert_eq!(e.plugin_code(), Some(423));
        assert!(e.to_string().contains("Unknown request"));

        let none = inc(json!({"janus":"success"}));
        assert!(none.into_plugin_response().is_err());
    }

    #[test]
    fn handle_events_decode_with_fallbacks() {
        let ev = |v| inc(v).into_handle_event();
        assert_eq!(
            ev(json!({"janus":"webrtcup","sender":1})),
            HandleEvent::WebrtcUp
        );
        assert_eq!(
            ev(json!({"janus":"detached","sender":1})),
            HandleEvent::Detached
        );
        assert_eq!(
            ev(json!({"janus":"hangup","sender":1,"reason":"DTLS alert"})),
            HandleEvent::Hangup {
                reason: "DTLS alert".into()
            }
        );
        match ev(
            json!({"janus":"media","sender":1,"mid":"0","type":"audio","receiving":true,"seconds":1}),
        ) {
            HandleEvent::Media {
                mid,
                kind,
                receiving,
                raw,
            } => {
                assert_eq!(mid.as_deref(), Some("0"));
                assert_eq!(kind.as_deref(), Some("audio"));
                assert!(receiving);
                assert_eq!(raw["seconds"], 1);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            ev(json!({"janus":"trickle","sender":1,"candidate":{"completed":true}})),
            HandleEvent::Trickle(Trickle::Completed)
        );
        assert!(matches!(
            ev(
                json!({"janus":"trickle","sender":1,"candidate":{"candidate":"candidate:1","sdpMid":"0","sdpMLineIndex":0}})
            ),
            HandleEvent::Trickle(Trickle::Candidate(_))
        ));
        assert!(matches!(
            ev(json!({"janus":"brand-new","sender":1})),
            HandleEvent::Other(_)
        ));
        // An unsolicited plugin event carrying an error is still delivered whole.
        match ev(
            json!({"janus":"event","sender":1,"plugindata":{"plugin":"p","data":{"error_code":1,"error":"e"}}}),
        ) {
            HandleEvent::Plugin(p) => assert_eq!(p.data["error_code"], 1),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn server_info_is_read() {
        let i = ServerInfo::from_incoming(inc(
            json!({"janus":"server_info","version_string":"1.1.2","session-timeout":60,"reclaim-session-timeout":0,"api_secret":false,"auth_token":false,"plugins":{"janus.plugin.echotest":{}}}),
        ));
        assert_eq!(i.version, "1.1.2");
        assert_eq!(i.session_timeout, Some(60));
        assert_eq!(i.plugins, vec!["janus.plugin.echotest".to_string()]);
    }
}
