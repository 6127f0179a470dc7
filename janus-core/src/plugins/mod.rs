//! Typed APIs for the Janus plugins, and the machinery to write one for any plugin.
//!
//! A [`PluginHandle<P>`] wraps a [`Handle`] attached to plugin `P`. Requests are plain
//! structs implementing [`PluginRequest<P>`]: only the fields that are set go on the wire,
//! and [`PluginHandle::request`] returns the typed answer, whether Janus answers at once
//! (`success`) or later (`ack` then `event`). A plugin error (`error_code`/`error` in the
//! plugin's data) is an [`ErrorKind::Plugin`](crate::ErrorKind::Plugin) error; each plugin
//! module names its codes in an `errors` submodule.
//!
//! Decoding is lenient so that a Janus upgrade never breaks an application: answers and
//! events ignore fields they do not know and accept missing optional ones, every event enum
//! has an `Other(Value)` variant keeping what it could not recognise, and every request has
//! an `extra` map for fields this library does not model.
//!
//! | module | plugin |
//! |---|---|
//! | [`echotest`] | `janus.plugin.echotest` |
//! | [`videoroom`] | `janus.plugin.videoroom` |
//! | [`streaming`] | `janus.plugin.streaming` |
//! | [`audiobridge`] | `janus.plugin.audiobridge` |
//! | [`textroom`] | `janus.plugin.textroom` (the Janus-API requests) |
//! | [`videocall`] | `janus.plugin.videocall` |
//! | [`recordplay`] | `janus.plugin.recordplay` |
//! | [`sip`] | `janus.plugin.sip` |
//!
//! ```no_run
//! # use janus_core as janus_client;
//! # async fn demo(session: janus_client::Session) -> Result<(), janus_client::Error> {
//! use janus_client::plugins::{videoroom, PluginHandle};
//!
//! let rooms = PluginHandle::<videoroom::VideoRoom>::attach(&session).await?;
//! let created = rooms
//!     .request(&videoroom::Create {
//!         description: Some("demo".into()),
//!         publishers: Some(4),
//!         ..Default::default()
//!     })
//!     .await?;
//! let joined = rooms
//!     .request(&videoroom::JoinPublisher {
//!         display: Some("alice".into()),
//!         ..videoroom::JoinPublisher::new(created.room.clone())
//!     })
//!     .await?;
//! println!("joined as {} with {} publishers", joined.id, joined.publishers.len());
//! match rooms.request(&videoroom::Exists::new(4242)).await {
//!     Ok(answer) => println!("4242 exists: {}", answer.exists),
//!     Err(e) if e.plugin_code() == Some(videoroom::errors::NO_SUCH_ROOM) => {}
//!     Err(e) => return Err(e),
//! }
//! # Ok(()) }
//! ```
//!
//! # A plugin of your own
//!
//! Janus also runs plugins written in Lua or JavaScript; give them the same typed API by
//! implementing [`Plugin`] for a marker type and [`PluginRequest`] for each request:
//!
//! ```no_run
//! # use janus_core as janus_client;
//! use janus_client::plugins::{Plugin, PluginEvent, PluginHandle, PluginRequest};
//! use serde::{Deserialize, Serialize};
//! use serde_json::Value;
//!
//! /// `janus.plugin.mycustom`, a Lua plugin.
//! struct MyCustom;
//!
//! /// What it sends unsolicited.
//! #[derive(Debug)]
//! enum MyEvent {
//!     Counter(u64),
//!     Other(Value),
//! }
//!
//! impl Plugin for MyCustom {
//!     const NAME: &'static str = "janus.plugin.mycustom";
//!     type Event = MyEvent;
//!     fn parse_event(data: Value) -> MyEvent {
//!         match data.get("counter").and_then(Value::as_u64) {
//!             Some(n) => MyEvent::Counter(n),
//!             None => MyEvent::Other(data),
//!         }
//!     }
//! }
//!
//! /// `{"request":"bump","by":N}`, answered with `{"counter":N}`.
//! #[derive(Serialize)]
//! #[serde(tag = "request", rename = "bump")]
//! struct Bump {
//!     by: u64,
//! }
//!
//! #[derive(Deserialize)]
//! struct Counter {
//!     counter: u64,
//! }
//!
//! impl PluginRequest<MyCustom> for Bump {
//!     type Response = Counter;
//! }
//!
//! # async fn demo(session: janus_client::Session) -> Result<(), janus_client::Error> {
//! let handle = PluginHandle::<MyCustom>::attach(&session).await?;
//! let mut events = handle.events().expect("first call");
//! let now = handle.request(&Bump { by: 2 }).await?;
//! println!("counter is {}", now.counter);
//! while let Some(event) = events.recv().await {
//!     match event {
//!         PluginEvent::Plugin { event: MyEvent::Counter(n), .. } => println!("now {n}"),
//!         PluginEvent::Handle(other) => println!("{other:?}"),
//!         _ => {}
//!     }
//! }
//! # Ok(()) }
//! ```

use futures::Stream;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::error::Error;
use crate::events::HandleEvents;
use crate::protocol::{plugin_error, HandleEvent, Jsep, PluginResponse};
use crate::{Handle, Session};

/// Defines request structs: `pub` fields, the required ones first (arguments of `new`), then
/// the optional ones (`Option<T>`, left off the wire when `None`), an `extra` map, and
/// optionally a `jsep` to send along. `new()` without arguments also gives `Default`.
macro_rules! requests {
    (
        plugin = $plugin:ty;
        $(
            $(#[$meta:meta])*
            $name:ident ($req:literal) $(+ $jsep:ident)? -> $resp:ty $(, via $decode:path)? {
                $( $(#[$rmeta:meta])* $rfield:ident : $rty:ty ),* $(,)?
                $( ; $( $(#[$ometa:meta])* $ofield:ident : $oty:ty ),* $(,)? )?
            }
        )*
    ) => {
        $(
            $(#[$meta])*
            #[derive(Clone, Debug, PartialEq, serde::Serialize)]
            #[serde(tag = "request", rename = $req)]
            pub struct $name {
                $( $(#[$rmeta])* pub $rfield: $rty, )*
                $($(
                    $(#[$ometa])*
                    #[serde(skip_serializing_if = "Option::is_none")]
                    pub $ofield: Option<$oty>,
                )*)?
                /// Fields this library does not model, sent as they are.
                #[serde(flatten)]
                pub extra: serde_json::Map<String, serde_json::Value>,
                $(
                    /// The JSEP offer or answer sent with the request.
                    #[serde(skip)]
                    pub $jsep: Option<$crate::Jsep>,
                )?
            }

            impl $name {
                /// The request with its required fields; set optional ones with
                /// `..Self::new(..)` or by assignment.
                pub fn new($($rfield: impl $crate::plugins::IntoField<$rty>),*) -> Self {
                    $name {
                        $( $rfield: $rfield.into_field(), )*
                        $($( $ofield: None, )*)?
                        extra: serde_json::Map::new(),
                        $( $jsep: None, )?
                    }
                }

                $(
                    /// Sets the JSEP sent with the request.
                    pub fn with_jsep(mut self, jsep: $crate::Jsep) -> Self {
                        self.$jsep = Some(jsep);
                        self
                    }
                )?
            }

            requests!(@default $name; $($rfield)*);

            impl $crate::plugins::PluginRequest<$plugin> for $name {
                type Response = $resp;
                $(
                    fn jsep(&self) -> Option<&$crate::Jsep> {
                        self.$jsep.as_ref()
                    }
                )?
                $(
                    fn decode(response: $crate::PluginResponse) -> Result<$resp, $crate::Error> {
                        $decode(response)
                    }
                )?
            }
        )*
    };
    (@default $name:ident;) => {
        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }
    };
    (@default $name:ident; $($r:ident)+) => {};
}

/// Implements `Deserialize` for an event enum through its `from_data` (which never fails),
/// so that requests answered by an event can name the event type as their response.
macro_rules! event_deserialize {
    ($ty:ty) => {
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                serde_json::Value::deserialize(d).map(<$ty>::from_data)
            }
        }
    };
}

/// Implements the crate-private `WithJsep` for answers that carry a `jsep` field.
macro_rules! with_jsep {
    ($($ty:ty),* $(,)?) => {
        $(
            impl $crate::plugins::WithJsep for $ty {
                fn set_jsep(&mut self, jsep: Option<$crate::Jsep>) {
                    self.jsep = jsep;
                }
            }
        )*
    };
}

pub mod audiobridge;
pub mod echotest;
pub mod recordplay;
pub mod sip;
pub mod streaming;
pub mod textroom;
pub mod videocall;
pub mod videoroom;

/// A Janus plugin as a type: its package name, and how its unsolicited events decode.
///
/// Implement it for a marker type to give any plugin (including Lua and JavaScript ones) a
/// typed API; see the [module docs](self) for an example.
pub trait Plugin: Send + Sync + 'static {
    /// The package name passed to `attach` (`janus.plugin.videoroom`).
    const NAME: &'static str;
    /// The plugin's event type. It should keep what it does not recognise (an
    /// `Other(Value)` variant), since decoding an event never fails.
    type Event: Send + 'static;
    /// Decodes the `data` of a plugin event (the JSEP, if any, travels beside it in
    /// [`PluginEvent::Plugin`]). Events carrying `error_code` never get here: they become
    /// [`PluginEvent::Error`].
    fn parse_event(data: Value) -> Self::Event;
}

/// A request to plugin `P`: its body is the value's JSON serialization (`request` name
/// included), and its answer decodes to [`Response`](PluginRequest::Response).
pub trait PluginRequest<P: Plugin>: Serialize {
    /// The typed answer.
    type Response: DeserializeOwned;

    /// The JSEP offer or answer to send along, if any.
    fn jsep(&self) -> Option<&Jsep> {
        None
    }

    /// Builds the typed answer from the plugin's reply; by default it deserializes the
    /// plugin's `data` (ignoring any JSEP).
    fn decode(response: PluginResponse) -> Result<Self::Response, Error> {
        decode_data(response)
    }
}

/// Deserializes the plugin data of `response` into `T`, with a protocol error naming the
/// plugin when it does not fit. Handy in [`PluginRequest::decode`] implementations.
pub fn decode_data<T: DeserializeOwned>(response: PluginResponse) -> Result<T, Error> {
    decode_value(&response.plugin, response.data)
}

fn decode_value<T: DeserializeOwned>(plugin: &str, data: Value) -> Result<T, Error> {
    let shown = short(&data);
    serde_json::from_value(data)
        .map_err(|e| Error::protocol(format!("unexpected answer from {plugin}: {e} (in {shown})")))
}

fn short(v: &Value) -> String {
    let mut s = v.to_string();
    if s.len() > 300 {
        let mut cut = 300;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

/// Answers that carry the JSEP Janus sent with them.
pub(crate) trait WithJsep {
    fn set_jsep(&mut self, jsep: Option<Jsep>);
}

/// Decodes the data and keeps the JSEP.
pub(crate) fn decode_with_jsep<T: DeserializeOwned + WithJsep>(
    response: PluginResponse,
) -> Result<T, Error> {
    let jsep = response.jsep.clone();
    let mut out: T = decode_data(response)?;
    out.set_jsep(jsep);
    Ok(out)
}

/// Decodes `data.result` (videocall, streaming, recordplay and sip nest their answers there).
pub(crate) fn decode_result<T: DeserializeOwned>(response: PluginResponse) -> Result<T, Error> {
    let PluginResponse {
        plugin, mut data, ..
    } = response;
    let result = data
        .get_mut("result")
        .map(Value::take)
        .unwrap_or(Value::Null);
    decode_value(&plugin, result)
}

/// Decodes `data.result` and keeps the JSEP.
pub(crate) fn decode_result_with_jsep<T: DeserializeOwned + WithJsep>(
    response: PluginResponse,
) -> Result<T, Error> {
    let jsep = response.jsep.clone();
    let mut out: T = decode_result(response)?;
    out.set_jsep(jsep);
    Ok(out)
}

/// Deserializes `data` into `T`, or `None` when it does not fit (event parsing).
pub(crate) fn from_value<T: DeserializeOwned>(data: &Value) -> Option<T> {
    T::deserialize(data).ok()
}

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

macro_rules! into_field_identity {
    ($($t:ty),*) => {
        $(
            impl IntoField<$t> for $t {
                fn into_field(self) -> $t {
                    self
                }
            }
        )*
    };
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

/// A handle attached to plugin `P`, with typed requests and events. Cheap to clone (clones
/// share the handle); when the last clone of the underlying [`Handle`] goes, it is detached.
pub struct PluginHandle<P: Plugin> {
    handle: Handle,
    _plugin: PhantomData<fn() -> P>,
}

impl<P: Plugin> Clone for PluginHandle<P> {
    fn clone(&self) -> Self {
        PluginHandle {
            handle: self.handle.clone(),
            _plugin: PhantomData,
        }
    }
}

impl<P: Plugin> fmt::Debug for PluginHandle<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PluginHandle").field(&self.handle).finish()
    }
}

impl<P: Plugin> PluginHandle<P> {
    /// Attaches `P` in `session`. For `opaque_id` or a token, attach with
    /// [`Session::attach`] and wrap the handle with [`from_handle`](Self::from_handle).
    pub async fn attach(session: &Session) -> Result<Self, Error> {
        let handle = session.attach(P::NAME).await?;
        Ok(PluginHandle {
            handle,
            _plugin: PhantomData,
        })
    }

    /// Wraps a handle attached to `P`; a handle of another plugin is a configuration error.
    pub fn from_handle(handle: Handle) -> Result<Self, Error> {
        if handle.plugin() != P::NAME {
            return Err(Error::config(format!(
                "handle is attached to {}, not {}",
                handle.plugin(),
                P::NAME
            )));
        }
        Ok(PluginHandle {
            handle,
            _plugin: PhantomData,
        })
    }

    /// The underlying handle (for `trickle`, `hangup`, raw `message`s, ...).
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Unwraps the underlying handle.
    pub fn into_handle(self) -> Handle {
        self.handle
    }

    /// The same handle, with `timeout` for every request made through this value.
    ///
    /// Useful for the few requests Janus 1.1.2 may leave unanswered (documented on them).
    pub fn with_timeout(&self, timeout: Duration) -> Self {
        PluginHandle {
            handle: self.handle.with_timeout(timeout),
            _plugin: PhantomData,
        }
    }

    /// Sends `request` (with its JSEP, if any) and decodes the plugin's answer.
    ///
    /// `error_code`/`error` in the answer come back as [`ErrorKind::Plugin`](crate::ErrorKind::Plugin).
    pub async fn request<R: PluginRequest<P>>(&self, request: &R) -> Result<R::Response, Error> {
        let mut message = self.handle.message(request);
        if let Some(jsep) = request.jsep() {
            message = message.jsep(jsep.clone());
        }
        let response = message.await?;
        R::decode(response)
    }

    /// This handle's events from now on, typed (subscribing as [`Handle::events`] does:
    /// one stream at a time, events kept only while one is subscribed).
    pub fn events(&self) -> PluginEvents<P> {
        PluginEvents::new(self.handle.events())
    }

    /// Closes the PeerConnection (`hangup`); the handle stays attached.
    pub async fn hangup(&self) -> Result<(), Error> {
        self.handle.hangup().await
    }

    /// Detaches the handle.
    pub async fn detach(&self) -> Result<(), Error> {
        self.handle.detach().await
    }
}

/// One event of a [`PluginEvents`] stream.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum PluginEvent<E> {
    /// A plugin event not tied to a pending request, typed.
    Plugin {
        /// The decoded event.
        event: E,
        /// The JSEP that came with it (an offer to answer, or an answer).
        jsep: Option<Jsep>,
    },
    /// A plugin event carrying `error_code`/`error` that answered no pending request.
    Error {
        /// The plugin's error code (see the plugin module's `errors`).
        code: i64,
        /// The plugin's text.
        reason: String,
    },
    /// Any other event of the handle (`webrtcup`, `media`, `hangup`, ..., and the final
    /// `Closed`), as it is.
    Handle(HandleEvent),
}

impl<E> PluginEvent<E> {
    /// Types one handle event for plugin `P`.
    pub fn from_handle_event<P: Plugin<Event = E>>(event: HandleEvent) -> Self {
        match event {
            HandleEvent::Plugin(PluginResponse { data, jsep, .. }) => {
                if let Some(err) = plugin_error(&data) {
                    if let crate::ErrorKind::Plugin { code, reason } = err.kind() {
                        return PluginEvent::Error {
                            code: *code,
                            reason: reason.clone(),
                        };
                    }
                }
                PluginEvent::Plugin {
                    event: P::parse_event(data),
                    jsep,
                }
            }
            other => PluginEvent::Handle(other),
        }
    }

    /// True for the final event of the stream (`Handle(Closed(..))`).
    pub fn is_closed(&self) -> bool {
        matches!(self, PluginEvent::Handle(HandleEvent::Closed(_)))
    }
}

/// The typed event stream of a [`PluginHandle`]: plugin events decoded by `P`, everything
/// else passed through. It ends after `PluginEvent::Handle(HandleEvent::Closed(..))`.
pub struct PluginEvents<P: Plugin> {
    inner: HandleEvents,
    _plugin: PhantomData<fn() -> P>,
}

impl<P: Plugin> fmt::Debug for PluginEvents<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginEvents")
            .field("plugin", &P::NAME)
            .finish()
    }
}

impl<P: Plugin> PluginEvents<P> {
    /// Types an untyped handle stream (taken with [`Handle::events`]).
    pub fn new(inner: HandleEvents) -> Self {
        PluginEvents {
            inner,
            _plugin: PhantomData,
        }
    }

    /// The next event; `None` after the final `Closed` event.
    pub async fn recv(&mut self) -> Option<PluginEvent<P::Event>> {
        self.inner
            .recv()
            .await
            .map(PluginEvent::from_handle_event::<P>)
    }

    /// The untyped stream back.
    pub fn into_inner(self) -> HandleEvents {
        self.inner
    }
}

impl<P: Plugin> Stream for PluginEvents<P> {
    type Item = PluginEvent<P::Event>;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        Pin::new(&mut this.inner)
            .poll_next(cx)
            .map(|ev| ev.map(PluginEvent::from_handle_event::<P>))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Custom;
    impl Plugin for Custom {
        const NAME: &'static str = "janus.plugin.mycustom";
        type Event = Value;
        fn parse_event(data: Value) -> Value {
            data
        }
    }

    #[allow(dead_code)]
    fn futures_are_send(session: &Session, handle: &PluginHandle<Custom>) {
        fn is_send<T: Send>(_: T) {}
        #[derive(Serialize)]
        struct Ping {}
        impl PluginRequest<Custom> for Ping {
            type Response = Value;
        }
        is_send(PluginHandle::<Custom>::attach(session));
        is_send(handle.request(&Ping {}));
        is_send(handle.events());
    }

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
    fn events_are_typed_errors_split_and_the_rest_passes() {
        let ev = PluginEvent::from_handle_event::<Custom>(HandleEvent::Plugin(PluginResponse {
            plugin: Custom::NAME.into(),
            data: json!({"counter": 3}),
            jsep: Some(Jsep::offer("v=0")),
            sender: None,
        }));
        assert_eq!(
            ev,
            PluginEvent::Plugin {
                event: json!({"counter": 3}),
                jsep: Some(Jsep::offer("v=0"))
            }
        );
        let ev = PluginEvent::from_handle_event::<Custom>(HandleEvent::Plugin(PluginResponse {
            plugin: Custom::NAME.into(),
            data: json!({"error_code": 499, "error": "boom"}),
            jsep: None,
            sender: None,
        }));
        assert_eq!(
            ev,
            PluginEvent::Error {
                code: 499,
                reason: "boom".into()
            }
        );
        let ev = PluginEvent::from_handle_event::<Custom>(HandleEvent::WebrtcUp);
        assert_eq!(ev, PluginEvent::Handle(HandleEvent::WebrtcUp));
        assert!(!ev.is_closed());
    }

    #[test]
    fn bad_answers_are_protocol_errors_naming_the_plugin() {
        #[derive(Debug, Deserialize)]
        struct Needs {
            #[allow(dead_code)]
            room: u64,
        }
        let e = decode_data::<Needs>(PluginResponse {
            plugin: "janus.plugin.x".into(),
            data: json!({"x": "y".repeat(1000)}),
            jsep: None,
            sender: None,
        })
        .unwrap_err();
        assert!(matches!(e.kind(), crate::ErrorKind::Protocol(_)));
        let text = e.to_string();
        assert!(
            text.contains("janus.plugin.x") && text.contains("room"),
            "{text}"
        );
        assert!(text.len() < 500, "{text}");
    }

    #[test]
    fn done_accepts_anything_shaped_like_an_object() {
        let _: Done = serde_json::from_value(json!({"videoroom": "success", "x": 1})).unwrap();
    }
}
