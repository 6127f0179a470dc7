//! The typed handle: a plugin as a type ([`Plugin`]), its requests ([`PluginRequest`]), a
//! handle attached to it ([`PluginHandle`]) and its typed events ([`PluginEvents`]).

use futures::Stream;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::fmt;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use super::decode::decode_data;
use crate::error::Error;
use crate::events::HandleEvents;
use crate::protocol::{plugin_error, HandleEvent, Jsep, PluginResponse};
use crate::{Handle, Session};

/// A Janus plugin as a type: its package name, and how its unsolicited events decode.
///
/// Implement it for a marker type to give any plugin (including Lua and JavaScript ones) a
/// typed API; see the [module docs](super) for an example.
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

    /// This handle's events from now on, typed (subscribing as [`Handle::events`] does: one
    /// stream at a time, events kept only while one is subscribed).
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
}
