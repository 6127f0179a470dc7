//! Joining events with the sessions and handles the application holds.
//!
//! An event names its session and handle with janus-core's [`SessionId`] and [`HandleId`],
//! the same values `Session::id()` and `Handle::id()` return, so the join is a comparison.
//! Janus picks ids at random per instance: with several instances, key by
//! `(emitter, id)` ([`Received::session_key`]) and compare the emitter with the instance's
//! `server-name` (in `client.info()`'s raw reply).
//!
//! ```no_run
//! # use janus_core as janus_client;
//! use futures::StreamExt;
//! use janus_client::Handle;
//! use janus_evh::{EvhItem, EvhStream};
//!
//! /// Prints what Janus' event handlers report about one handle, until it is detached.
//! async fn watch(handle: &Handle, mut events: EvhStream) {
//!     while let Some(item) = events.next().await {
//!         let EvhItem::Event(received) = item else { continue };
//!         if received.is_about_handle(handle.id()) {
//!             println!("{}: {:?}", received.emitter, received.event.body);
//!         }
//!     }
//! }
//! ```

use janus_core::{HandleId, SessionId};

use crate::stream::{EvhItem, Received};

impl Received {
    /// The session the event is about, if any.
    pub fn session_id(&self) -> Option<SessionId> {
        self.event.session_id
    }

    /// The handle the event is about, if any.
    pub fn handle_id(&self) -> Option<HandleId> {
        self.event.handle_id
    }

    /// Whether the event is about session `id` (the session itself, or one of its handles).
    pub fn is_about_session(&self, id: SessionId) -> bool {
        self.event.session_id == Some(id)
    }

    /// Whether the event is about handle `id`.
    pub fn is_about_handle(&self, id: HandleId) -> bool {
        self.event.handle_id == Some(id)
    }

    /// `(emitter, session)`: a key that stays unique with several Janus instances.
    pub fn session_key(&self) -> Option<(&str, SessionId)> {
        Some((self.emitter.as_str(), self.event.session_id?))
    }

    /// `(emitter, handle)`: a key that stays unique with several Janus instances.
    pub fn handle_key(&self) -> Option<(&str, HandleId)> {
        Some((self.emitter.as_str(), self.event.handle_id?))
    }
}

impl EvhItem {
    /// The event, when the item is one.
    pub fn received(&self) -> Option<&Received> {
        match self {
            EvhItem::Event(r) => Some(r),
            _ => None,
        }
    }
}
