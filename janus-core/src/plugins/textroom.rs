//! `janus.plugin.textroom`: text chat rooms over data channels.
//!
//! This module covers the requests sent through the Janus API: room management (answered
//! at once) and the data channel's setup ([`Setup`] gets Janus' offer, [`Ack`] sends the
//! answer). Joining, leaving and messaging go over the data channel itself, which is not
//! this library's business.
//!
//! Notes from Janus 1.1.2: errors come as `"textroom":"error"` (not `"event"`), and the
//! answer to [`ListParticipants`] has no `textroom` field at all.

use serde::Deserialize;
use serde_json::Value;

use super::{
    decode_with_jsep, AllowedAction, AllowedList, Done, Id, Plugin, RoomExists, RoomResult,
};
use crate::Jsep;

/// The TextRoom plugin.
#[derive(Clone, Copy, Debug)]
pub struct TextRoom;

impl Plugin for TextRoom {
    const NAME: &'static str = "janus.plugin.textroom";
    type Event = Event;
    fn parse_event(data: Value) -> Event {
        Event::from_data(data)
    }
}

/// TextRoom error codes (Janus 1.1.2, `plugins/janus_textroom.c`).
pub mod errors {
    /// 411: no message.
    pub const NO_MESSAGE: i64 = 411;
    /// 412: invalid JSON.
    pub const INVALID_JSON: i64 = 412;
    /// 413: missing mandatory element.
    pub const MISSING_ELEMENT: i64 = 413;
    /// 414: invalid element.
    pub const INVALID_ELEMENT: i64 = 414;
    /// 415: unknown request.
    pub const INVALID_REQUEST: i64 = 415;
    /// 416: the PeerConnection is already set up.
    pub const ALREADY_SETUP: i64 = 416;
    /// 417: no such room.
    pub const NO_SUCH_ROOM: i64 = 417;
    /// 418: the room already exists.
    pub const ROOM_EXISTS: i64 = 418;
    /// 419: unauthorized (wrong secret or PIN).
    pub const UNAUTHORIZED: i64 = 419;
    /// 420: the username is taken.
    pub const USERNAME_EXISTS: i64 = 420;
    /// 421: already in the room.
    pub const ALREADY_IN_ROOM: i64 = 421;
    /// 422: not in the room.
    pub const NOT_IN_ROOM: i64 = 422;
    /// 423: no such user.
    pub const NO_SUCH_USER: i64 = 423;
    /// 499: unknown error.
    pub const UNKNOWN_ERROR: i64 = 499;
}

requests! {
    plugin = TextRoom;

    /// `list`: the public rooms.
    List("list") -> RoomList {}

    /// `listparticipants`: who is in a room.
    ListParticipants("listparticipants") -> Participants {
        required {
            /// The room.
            room: Id,
        }
    }

    /// `exists`: whether a room exists.
    Exists("exists") -> RoomExists {
        required {
            /// The room.
            room: Id,
        }
    }

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
            /// Messages kept and sent to new participants.
            history: u32,
            /// URL to which every message is also POSTed.
            post: String,
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
            /// New POST URL.
            new_post: String,
            /// Save the change to the config file.
            permanent: bool,
        }
    }

    /// `announcement`: sends a message to everyone in the room, from the room.
    Announcement("announcement") -> Done {
        required {
            /// The room.
            room: Id,
            /// The text.
            text: String,
        }
        optional {
            /// The room's secret.
            secret: String,
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
            username: String,
        }
        optional {
            /// The room's secret.
            secret: String,
        }
    }

    /// `destroy`: destroys a room.
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

    /// `setup`: asks Janus for the data channel's offer.
    Setup("setup") -> SetupAnswer, via decode_with_jsep {}

    /// `ack`: sends the JSEP answer to [`Setup`]'s offer.
    Ack("ack") -> Done { jsep: optional }

    /// `restart`: asks for a new offer (ICE restart).
    Restart("restart") -> SetupAnswer, via decode_with_jsep {}
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
    /// Participants now.
    #[serde(default)]
    pub num_participants: u64,
    /// Messages kept for new participants.
    pub history: Option<u32>,
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
    /// Its unique username.
    pub username: String,
    /// Its display name.
    pub display: Option<String>,
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

/// The answer to [`Setup`] and [`Restart`]: Janus' offer for the data channel.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct SetupAnswer {
    /// `ok`.
    pub result: Option<String>,
    /// Janus' JSEP offer; answer it with [`Ack`].
    #[serde(skip)]
    pub jsep: Option<Jsep>,
}

with_jsep!(SetupAnswer);

/// An unsolicited TextRoom event (over the Janus API; chat traffic uses the data channel).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// `"result": ...` (normally the answer to [`Setup`] or [`Ack`]).
    Result(Value),
    /// Anything else, as Janus sent it.
    Other(Value),
}

impl Event {
    /// Decodes the `data` of a TextRoom event; never fails.
    pub fn from_data(data: Value) -> Event {
        match data.get("result") {
            Some(r) if data.get("textroom").and_then(Value::as_str) == Some("event") => {
                Event::Result(r.clone())
            }
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

    fn decode<R: PluginRequest<TextRoom>>(data: Value, jsep: Option<Jsep>) -> R::Response {
        R::decode(PluginResponse {
            plugin: TextRoom::NAME.into(),
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
                room: Some(6666.into()),
                history: Some(10),
                ..Default::default()
            })
            .unwrap(),
            json!({"request":"create","room":6666,"history":10})
        );
        assert_eq!(
            serde_json::to_value(Announcement::new(6666, "hi")).unwrap(),
            json!({"request":"announcement","room":6666,"text":"hi"})
        );
        assert_eq!(
            serde_json::to_value(Kick {
                secret: Some("s".into()),
                ..Kick::new(1, "bob")
            })
            .unwrap(),
            json!({"request":"kick","room":1,"username":"bob","secret":"s"})
        );
    }

    #[test]
    fn answers_and_events_as_janus_sends_them() {
        // Captured from Janus 1.1.2.
        let list = decode::<List>(
            json!({"textroom":"success","list":[{"room":1234,"description":"Demo Room",
                "pin_required":false,"num_participants":0,"history":0}]}),
            None,
        );
        assert_eq!(list.list[0].room, 1234);
        let c = decode::<Create>(
            json!({"textroom":"created","room":6666,"permanent":false}),
            None,
        );
        assert_eq!(c.room, 6666);
        let e = decode::<Exists>(
            json!({"textroom":"success","room":6666,"exists":true}),
            None,
        );
        assert!(e.exists);
        // No "textroom" key in this one.
        let p = decode::<ListParticipants>(json!({"room":6666,"participants":[]}), None);
        assert!(p.participants.is_empty());
        let a = decode::<Allowed>(
            json!({"textroom":"success","room":6666,"allowed":["t"]}),
            None,
        );
        assert_eq!(a.allowed, vec!["t".to_string()]);
        let d = decode::<Destroy>(
            json!({"textroom":"destroyed","room":6666,"permanent":false}),
            None,
        );
        assert_eq!(d.room, 6666);
        let s = decode::<Setup>(
            json!({"textroom":"event","result":"ok"}),
            Some(Jsep::offer("v=0")),
        );
        assert_eq!(s.jsep.unwrap().kind, "offer");
        assert_eq!(
            Event::from_data(json!({"textroom":"event","result":"ok"})),
            Event::Result(json!("ok"))
        );
        let v = json!({"textroom":"announcement","room":1,"text":"x"});
        assert_eq!(Event::from_data(v.clone()), Event::Other(v));
    }
}
