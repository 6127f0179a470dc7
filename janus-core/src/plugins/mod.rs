//! Typed APIs for the Janus plugins, and the machinery to write one for any plugin.
//!
//! A [`PluginHandle<P>`] wraps a [`Handle`](crate::Handle) attached to plugin `P`. Requests
//! are plain structs implementing [`PluginRequest<P>`]: only the fields that are set go on
//! the wire, and [`PluginHandle::request`] returns the typed answer, whether Janus answers at
//! once (`success`) or later (`ack` then `event`). A plugin error (`error_code`/`error` in
//! the plugin's data) is an [`ErrorKind::Plugin`](crate::ErrorKind::Plugin) error; each
//! plugin module names its codes in an `errors` submodule.
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
//! let mut events = handle.events();
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

#[macro_use]
mod macros;

mod common;
mod decode;
mod handle;

pub mod audiobridge;
pub mod echotest;
pub mod recordplay;
pub mod sip;
pub mod streaming;
pub mod textroom;
pub mod videocall;
pub mod videoroom;

pub use common::{
    AllowedAction, AllowedList, Done, Id, IntoField, RecordingState, RoomExists, RoomResult,
};
pub use decode::decode_data;
pub(crate) use decode::{
    decode_result, decode_result_with_jsep, decode_with_jsep, from_value, WithJsep,
};
pub use handle::{Plugin, PluginEvent, PluginEvents, PluginHandle, PluginRequest};
