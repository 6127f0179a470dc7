//! The vocabulary shared by the plugin modules: ids, what request constructors accept, and
//! the answers and values several plugins have in common.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A room, mountpoint or participant id: a number, or a string when the plugin runs with
/// `string_ids = true`.
///
/// ```
/// # use janus_core as janus_client;
/// use janus_client::plugins::Id;
/// assert_eq!(serde_json::to_string(&Id::from(1234)).unwrap(), "1234");
/// assert_eq!(serde_json::to_string(&Id::from("lobby")).unwrap(), "\"lobby\"");
/// assert_eq!(Id::from(7), 7);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Id {
    /// A numeric id (the default).
    Num(u64),
    /// A string id (`string_ids = true`).
    Str(String),
}

impl Id {
    /// The numeric id, if it is one.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Id::Num(n) => Some(*n),
            Id::Str(_) => None,
        }
    }
}

impl From<u64> for Id {
    fn from(v: u64) -> Self {
        Id::Num(v)
    }
}

impl From<&str> for Id {
    fn from(v: &str) -> Self {
        Id::Str(v.to_string())
    }
}

impl From<String> for Id {
    fn from(v: String) -> Self {
        Id::Str(v)
    }
}

impl From<&Id> for Id {
    fn from(v: &Id) -> Self {
        v.clone()
    }
}

impl PartialEq<u64> for Id {
    fn eq(&self, other: &u64) -> bool {
        self.as_u64() == Some(*other)
    }
}

impl PartialEq<&str> for Id {
    fn eq(&self, other: &&str) -> bool {
        matches!(self, Id::Str(s) if s == other)
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Id::Num(n) => fmt::Display::fmt(n, f),
            Id::Str(s) => f.write_str(s),
        }
    }
}

/// What the request constructors (`new`) accept for a field of type `T`: anything that
/// converts into an [`Id`] or a `String`, a `Vec` or an array for a list, and the type itself
/// otherwise (so that integer literals need no suffix).
pub trait IntoField<T> {
    /// Converts.
    fn into_field(self) -> T;
}

impl<T: Into<Id>> IntoField<Id> for T {
    fn into_field(self) -> Id {
        self.into()
    }
}

impl<T: Into<String>> IntoField<String> for T {
    fn into_field(self) -> String {
        self.into()
    }
}

impl<S, T: Into<Vec<S>>> IntoField<Vec<S>> for T {
    fn into_field(self) -> Vec<S> {
        self.into()
    }
}
into_field_identity!(u64, u32, u16, bool, AllowedAction);

/// An answer that carries nothing worth typing (`{"videoroom":"success"}`, `"result":"ok"`,
/// ...): reaching it means the plugin accepted the request.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Done {}

/// The answer to `create`, `edit` and `destroy` of a room (videoroom, audiobridge,
/// textroom): which room, and whether the change was saved to the plugin's config file.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct RoomResult {
    /// The room (for `create` without an id, the one Janus picked).
    pub room: Id,
    /// Whether the change was saved to the config file.
    #[serde(default)]
    pub permanent: bool,
}

/// The answer to `exists`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct RoomExists {
    /// The room asked about.
    pub room: Id,
    /// Whether it exists.
    pub exists: bool,
}

/// The answer to `allowed`: the tokens allowed now.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct AllowedList {
    /// The room.
    pub room: Option<Id>,
    /// The tokens allowed to join (empty when the check is off).
    #[serde(default)]
    pub allowed: Vec<String>,
}

/// The answer to `enable_recording`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct RecordingState {
    /// Whether the room records now.
    pub record: bool,
}

/// `action` of the `allowed` requests (videoroom, audiobridge, textroom): edits the list of
/// tokens allowed to join.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum AllowedAction {
    /// Turns the token check on.
    Enable,
    /// Turns the token check off.
    Disable,
    /// Adds tokens.
    Add,
    /// Removes tokens.
    Remove,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_are_numbers_or_strings() {
        let n: Id = serde_json::from_value(json!(1234)).unwrap();
        assert_eq!(n, Id::Num(1234));
        let s: Id = serde_json::from_value(json!("lobby")).unwrap();
        assert_eq!(s, "lobby");
        assert_eq!(s.to_string(), "lobby");
        assert_eq!(n.to_string(), "1234");
        assert!(serde_json::from_value::<Id>(json!(true)).is_err());
    }

    #[test]
    fn done_accepts_anything_shaped_like_an_object() {
        let _: Done = serde_json::from_value(json!({"videoroom": "success", "x": 1})).unwrap();
    }
}
