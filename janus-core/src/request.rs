//! What a request is: its [`Verb`] (which answer completes it, whether it carries the
//! credentials, whether repeating it is harmless), the [`RawRequest`] an application builds
//! by hand, and the [`Request`] value every caller hands to the connection task.

use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::decode::Incoming;
use crate::error::Error;
use crate::events::EventSender;
use crate::protocol::{HandleEvent, HandleId, SessionEvent, SessionId};
use crate::shared::{HandleShared, SessionShared};
use crate::transactions::{Pending, Purpose};

/// What completes a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Expect {
    /// `success` (create, attach, destroy, detach, hangup, claim, Admin API requests).
    Success,
    /// `ack` (keepalive, trickle).
    Ack,
    /// `server_info` (info).
    ServerInfo,
    /// `pong` (ping).
    Pong,
    /// A plugin `message`: `success`, or `ack` then `event` (in either order).
    PluginMessage,
}

/// The kind of a Janus request: its `janus` field, and what the client knows about it.
///
/// ```
/// # use janus_core as janus_client;
/// use janus_client::{Expect, Verb};
/// assert_eq!(Verb::Message.name(), "message");
/// assert_eq!(Verb::Message.expect(), Expect::PluginMessage);
/// assert!(!Verb::Info.needs_auth());
/// assert!(Verb::Keepalive.retry_safe() && !Verb::Create.retry_safe());
/// let admin = Verb::Other { name: "list_sessions", expect: Expect::Success };
/// assert_eq!(admin.name(), "list_sessions");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verb {
    /// `info`: the server's description.
    Info,
    /// `ping`.
    Ping,
    /// `create`: a new session.
    Create,
    /// `claim`: take a session over on a new connection.
    Claim,
    /// `keepalive`.
    Keepalive,
    /// `destroy`: end a session.
    Destroy,
    /// `attach`: a new plugin handle.
    Attach,
    /// `message`: a request to a plugin.
    Message,
    /// `trickle`: ICE candidates.
    Trickle,
    /// `hangup`: close a handle's PeerConnection.
    Hangup,
    /// `detach`: end a handle.
    Detach,
    /// Any other request (the Admin API, requests of a newer Janus), with what completes it.
    Other {
        /// The `janus` field.
        name: &'static str,
        /// What completes it.
        expect: Expect,
    },
}

impl Verb {
    /// The `janus` field.
    pub fn name(self) -> &'static str {
        match self {
            Verb::Info => "info",
            Verb::Ping => "ping",
            Verb::Create => "create",
            Verb::Claim => "claim",
            Verb::Keepalive => "keepalive",
            Verb::Destroy => "destroy",
            Verb::Attach => "attach",
            Verb::Message => "message",
            Verb::Trickle => "trickle",
            Verb::Hangup => "hangup",
            Verb::Detach => "detach",
            Verb::Other { name, .. } => name,
        }
    }

    /// The known verb named `name` (`"attach"` is [`Verb::Attach`]), if there is one.
    ///
    /// ```
    /// # use janus_core as janus_client;
    /// use janus_client::Verb;
    /// assert_eq!(Verb::known("detach"), Some(Verb::Detach));
    /// assert_eq!(Verb::known("list_sessions"), None);
    /// ```
    pub fn known(name: &str) -> Option<Verb> {
        Some(match name {
            "info" => Verb::Info,
            "ping" => Verb::Ping,
            "create" => Verb::Create,
            "claim" => Verb::Claim,
            "keepalive" => Verb::Keepalive,
            "destroy" => Verb::Destroy,
            "attach" => Verb::Attach,
            "message" => Verb::Message,
            "trickle" => Verb::Trickle,
            "hangup" => Verb::Hangup,
            "detach" => Verb::Detach,
            _ => return None,
        })
    }

    /// The answer that completes it.
    pub fn expect(self) -> Expect {
        match self {
            Verb::Info => Expect::ServerInfo,
            Verb::Ping => Expect::Pong,
            Verb::Keepalive | Verb::Trickle => Expect::Ack,
            Verb::Message => Expect::PluginMessage,
            Verb::Create
            | Verb::Claim
            | Verb::Destroy
            | Verb::Attach
            | Verb::Hangup
            | Verb::Detach => Expect::Success,
            Verb::Other { expect, .. } => expect,
        }
    }

    /// Whether it carries the api secret and token. `info` and `ping` do not: Janus answers
    /// them without, and leaving secrets out keeps them off the wire.
    pub fn needs_auth(self) -> bool {
        !matches!(self.name(), "info" | "ping")
    }

    /// Whether sending it again after a connection dropped mid-request is harmless (it
    /// changes nothing on the server, or doing it twice is the same as once).
    pub fn retry_safe(self) -> bool {
        matches!(
            self.name(),
            "info" | "ping" | "keepalive" | "claim" | "trickle" | "hangup"
        )
    }
}

/// A request built by hand: its verb, where it goes, and its other fields. For requests this
/// crate has no method for, and for the Admin API; sent with
/// [`Client::raw_request`](crate::Client::raw_request).
///
/// ```
/// # use janus_core as janus_client;
/// use janus_client::{Expect, RawRequest};
/// let req = RawRequest::new("list_sessions", Expect::Success)
///     .field("admin_secret", "janusoverlord");
/// assert_eq!(req.body["admin_secret"], "janusoverlord");
/// ```
#[derive(Debug, Clone)]
pub struct RawRequest {
    /// The request kind.
    pub verb: Verb,
    /// The session it addresses.
    pub session: Option<SessionId>,
    /// The handle it addresses.
    pub handle: Option<HandleId>,
    /// Other top-level fields.
    pub body: Map<String, Value>,
    /// Its own timeout instead of the client's.
    pub timeout: Option<Duration>,
}

impl RawRequest {
    /// A request named `janus`, completed by `expect`, with no fields yet. A known name
    /// with its usual answer is that [`Verb`] (so `"destroy"` closes the session here too).
    pub fn new(janus: &'static str, expect: Expect) -> Self {
        let verb = Verb::known(janus)
            .filter(|v| v.expect() == expect)
            .unwrap_or(Verb::Other {
                name: janus,
                expect,
            });
        Self::from_verb(verb)
    }

    /// A request of a known kind, with no fields yet.
    pub fn from_verb(verb: Verb) -> Self {
        RawRequest {
            verb,
            session: None,
            handle: None,
            body: Map::new(),
            timeout: None,
        }
    }

    /// Adds a top-level field.
    pub fn field(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.body.insert(key.to_string(), value.into());
        self
    }

    /// Addresses a session.
    pub fn session(mut self, id: SessionId) -> Self {
        self.session = Some(id);
        self
    }

    /// Addresses a handle.
    pub fn handle(mut self, id: HandleId) -> Self {
        self.handle = Some(id);
        self
    }

    /// Sets this request's timeout.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = Some(t);
        self
    }
}

/// Where the answer to a request goes.
pub(crate) type Reply = oneshot::Sender<Result<Incoming, Error>>;

/// The route a successful `create` or `attach` opens: the application's value is already
/// made, and learns its id when the answer comes.
pub(crate) enum Opens {
    Session {
        shared: Arc<SessionShared>,
        events: EventSender<SessionEvent>,
    },
    Handle {
        plugin: String,
        opaque_id: Option<String>,
        shared: Arc<HandleShared>,
        events: EventSender<HandleEvent>,
    },
}

/// One request, encoded, with the bookkeeping the connection task keeps for it until its
/// answer (built here, from what the caller says, so callers know nothing of it).
pub(crate) struct Request {
    pub(crate) txn: u64,
    /// The whole request as compact JSON.
    pub(crate) json: String,
    pub(crate) pending: Pending,
}

impl Request {
    /// A request from a caller: `opens` is the route a successful `create` or `attach`
    /// opens; `reply` is `None` for the connection task's own requests.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        verb: Verb,
        session: Option<SessionId>,
        handle: Option<HandleId>,
        txn: u64,
        json: String,
        deadline: Instant,
        timeout: Duration,
        reply: Option<Reply>,
        opens: Option<Opens>,
    ) -> Request {
        let purpose = Purpose::for_request(verb, session, handle, opens);
        Request {
            txn,
            json,
            pending: Pending {
                verb,
                session,
                handle,
                purpose,
                reply,
                deadline,
                timeout,
                acked: false,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_verb_knows_its_answer_and_its_credentials() {
        let all = [
            Verb::Info,
            Verb::Ping,
            Verb::Create,
            Verb::Claim,
            Verb::Keepalive,
            Verb::Destroy,
            Verb::Attach,
            Verb::Message,
            Verb::Trickle,
            Verb::Hangup,
            Verb::Detach,
        ];
        for v in all {
            // A hand-built request of the same name behaves the same.
            let other = Verb::Other {
                name: v.name(),
                expect: v.expect(),
            };
            assert_eq!(other.needs_auth(), v.needs_auth(), "{v:?}");
            assert_eq!(other.retry_safe(), v.retry_safe(), "{v:?}");
        }
        assert_eq!(Verb::Info.expect(), Expect::ServerInfo);
        assert_eq!(Verb::Ping.expect(), Expect::Pong);
        assert_eq!(Verb::Trickle.expect(), Expect::Ack);
        assert_eq!(Verb::Detach.expect(), Expect::Success);
        assert!(Verb::Create.needs_auth() && !Verb::Ping.needs_auth());
        assert!(!Verb::Message.retry_safe() && !Verb::Destroy.retry_safe());
    }

    #[test]
    fn known_names_with_their_usual_answer_are_known_verbs() {
        assert_eq!(
            RawRequest::new("destroy", Expect::Success).verb,
            Verb::Destroy
        );
        assert_eq!(
            RawRequest::new("destroy", Expect::Ack).verb,
            Verb::Other {
                name: "destroy",
                expect: Expect::Ack
            }
        );
        for v in [Verb::Info, Verb::Attach, Verb::Message, Verb::Keepalive] {
            assert_eq!(Verb::known(v.name()), Some(v));
        }
    }

    #[test]
    fn raw_requests_build_up() {
        let r = RawRequest::from_verb(Verb::Hangup)
            .session(SessionId(1))
            .handle(HandleId(2))
            .timeout(Duration::from_secs(3))
            .field("reason", "bye");
        assert_eq!(r.verb, Verb::Hangup);
        assert_eq!(
            (r.session, r.handle),
            (Some(SessionId(1)), Some(HandleId(2)))
        );
        assert_eq!(r.body["reason"], "bye");
        assert_eq!(r.timeout, Some(Duration::from_secs(3)));
    }
}
