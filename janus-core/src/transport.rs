//! The seam between the core and a wire: transports only move JSON.
//!
//! A [`Connector`] makes a fresh [`Transport`] to one endpoint (reconnect calls it again).
//! The core's connection task owns the transport: it calls [`Transport::send`] for each request
//! and [`Transport::recv`] for whatever comes back, and tells the transport when a session
//! appears or disappears, for transports (HTTP long poll) that need to know.

use async_trait::async_trait;

use crate::error::Error;
use crate::options::Secret;
use crate::protocol::{HandleId, SessionId};
use crate::request::Verb;

/// One request on its way out: compact JSON plus the routing facts a transport may need.
///
/// Its `Debug` output leaves the JSON out: it carries the api secret and token.
#[derive(Clone)]
pub struct OutgoingMessage {
    /// The request kind: what answers it, whether it is safe to repeat.
    pub verb: Verb,
    /// The transaction, as in the JSON.
    pub transaction: String,
    /// The session the request addresses, also present in `json`.
    pub session_id: Option<SessionId>,
    /// The handle the request addresses, also present in `json`.
    pub handle_id: Option<HandleId>,
    /// The whole request as compact JSON, with nothing after the closing brace.
    pub json: String,
    /// When the caller stops waiting for the answer. A transport that queues requests
    /// (HTTP, with its bounded connections) drops one still queued at this instant, and
    /// bounds its own wait for the reply by it.
    pub deadline: Option<tokio::time::Instant>,
    /// How many other requests of the client were waiting for their answer when this one
    /// was sent. A transport that can let requests share a write (WebSocket) writes one sent
    /// alone at once, and leaves one sent among others to its writer task, so that requests
    /// sent close together under load go out together.
    pub in_flight: usize,
}

impl std::fmt::Debug for OutgoingMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutgoingMessage")
            .field("verb", &self.verb.name())
            .field("transaction", &self.transaction)
            .field("session_id", &self.session_id)
            .field("handle_id", &self.handle_id)
            .field("json_bytes", &self.json.len())
            .field("deadline", &self.deadline)
            .field("in_flight", &self.in_flight)
            .finish()
    }
}

/// The credentials of the client ([`ClientOptions::api_secret`](crate::ClientOptions::api_secret)
/// and [`ClientOptions::token`](crate::ClientOptions::token)), handed to each transport by
/// [`Transport::set_credentials`] for the transports that send them outside a request
/// body (the HTTP long poll, in its query string). Request bodies already carry them.
///
/// `Debug` shows `Secret(***)` for each value set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Credentials {
    /// The api secret (`apisecret`), if the server requires one.
    pub api_secret: Option<Secret>,
    /// The token (`token`), if the server uses token authentication.
    pub token: Option<Secret>,
}

/// A way for requests to reach the wire without waking the connection task: the caller
/// registers its transaction in the shared table, then hands the request here.
///
/// Offered by transports that can take a write from any task without waiting (WebSocket,
/// Unix sockets, RabbitMQ, HTTP). The client uses it only while the connection is up and
/// recovered; otherwise, and whenever `try_send` gives the request back, the request goes
/// through the connection task as usual ([`Transport::send`]).
pub trait DirectSend: Send + Sync + 'static {
    /// Starts writing one request, without waiting. Gives it back, with its JSON, when it
    /// cannot (the queue is full, the connection is gone, the request needs the slow way).
    // Given back whole, and rarely: boxing it would cost every request an allocation.
    #[allow(clippy::result_large_err)]
    fn try_send(&self, msg: OutgoingMessage) -> Result<Sent, OutgoingMessage>;
}

/// What [`DirectSend::try_send`] did with a request it took.
pub enum Sent {
    /// It is on its way; its answer comes through [`Transport::recv`], like any other.
    Handed,
    /// Its answer comes back on the request itself (an HTTP `POST`): the caller awaits this
    /// future in its own task and hands what it brings to the core there, with no wake-up
    /// of the connection task on the way.
    ///
    /// A caller that stops waiting drops the future: the transport must then finish the
    /// request itself and hand its answer over through [`Transport::recv`], as if it had
    /// been sent that way.
    Answer(AnswerFuture),
}

impl std::fmt::Debug for Sent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Sent::Handed => "Handed",
            Sent::Answer(_) => "Answer(..)",
        })
    }
}

/// The answer to one request sent with [`Sent::Answer`].
pub type AnswerFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = DirectAnswer> + Send + 'static>>;

/// What a request sent with [`Sent::Answer`] brought: what [`Transport::recv`] would have
/// returned for it.
#[derive(Debug)]
pub struct DirectAnswer {
    /// Why the body had to be dropped, when it did (counted as a malformed message, as
    /// [`TransportEvent::Malformed`] is).
    pub malformed: Option<String>,
    /// The answer itself.
    pub outcome: AnswerOutcome,
}

/// The body that answered a request, or why there is none.
#[derive(Debug)]
pub enum AnswerOutcome {
    /// As [`TransportEvent::Reply`].
    Reply {
        /// The request's transaction.
        transaction: String,
        /// The body.
        text: String,
    },
    /// As [`TransportEvent::RequestFailed`].
    Failed {
        /// The request's transaction.
        transaction: String,
        /// Why it failed.
        error: Error,
    },
}

/// Who a session belongs to on a transport: what the client does with its sessions after a
/// reconnect.
///
/// # Example
///
/// A broker transport says its sessions outlive its connections:
///
/// ```
/// use janus_core::SessionOwnership;
///
/// let ownership = SessionOwnership::Shared;
/// assert!(!ownership.claims_after_reconnect());
/// assert!(SessionOwnership::default().claims_after_reconnect());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionOwnership {
    /// Janus ties each session to the connection that created or claimed it (WebSocket,
    /// Unix socket, HTTP): events go to that connection, and a session whose connection
    /// closed is gone unless another connection `claim`s it within Janus'
    /// `reclaim_session_timeout`. After a reconnect the client claims every session.
    #[default]
    Connection,
    /// All of the transport's traffic is one Janus transport session shared by every client
    /// (RabbitMQ, MQTT): a connection to the broker owns nothing, sessions live for as long
    /// as keepalives reach them, and `claim` means nothing. After a reconnect the client
    /// sends each session a `keepalive` instead: its `ack` proves the session is still
    /// there; an error (`No such session`) reports it lost, as a failed claim would.
    Shared,
}

impl SessionOwnership {
    /// Whether the client claims its sessions after a reconnect (`Connection`), rather than
    /// checking them with a keepalive (`Shared`).
    pub fn claims_after_reconnect(self) -> bool {
        matches!(self, SessionOwnership::Connection)
    }
}

/// What a transport hands to the core.
#[derive(Debug)]
#[non_exhaustive]
pub enum TransportEvent {
    /// The text of one frame or body: one JSON object, or an array of them.
    Frame(String),
    /// The body answering one request (HTTP): decoded like a [`Frame`](Self::Frame), and
    /// when it is not JSON or does not answer `transaction` (no `success`, `ack` or
    /// `error` for it), that request fails at once with a protocol error instead of
    /// waiting for its timeout.
    Reply {
        /// The transaction of the request this body answers.
        transaction: String,
        /// The body.
        text: String,
    },
    /// A request could not be delivered, or its reply could not be read (HTTP).
    RequestFailed {
        /// The failed request's transaction.
        transaction: String,
        /// What went wrong.
        error: Error,
    },
    /// Something arrived that the transport had to drop (a frame over the size bound, a
    /// body that is not text); the core counts it as malformed.
    Malformed {
        /// What was wrong.
        reason: String,
    },
    /// The transport stays open but the server stopped answering (HTTP: a request or poll
    /// broke at the connection level, or a reachability check failed). The client reports
    /// [`ConnectionState::Disconnected`](crate::ConnectionState::Disconnected) and holds new
    /// requests until [`Restored`](Self::Restored), or until the transport gives up and
    /// `recv` returns an error (then the client reconnects).
    Interrupted {
        /// What failed.
        reason: String,
    },
    /// The server answers again after [`Interrupted`](Self::Interrupted): the client reports
    /// [`ConnectionState::Reconnected`](crate::ConnectionState::Reconnected) and sends what it held.
    Restored,
    /// The transport learned that a session no longer exists (an HTTP poll answered 404).
    SessionGone {
        /// The session.
        session: SessionId,
        /// What the transport saw.
        reason: String,
    },
}

/// A connection to Janus that moves JSON both ways.
///
/// Implementations must not wait for replies in [`send`](Transport::send): replies and
/// events come back through [`recv`](Transport::recv), which must be cancel-safe (the core
/// polls it inside `select!`). The core polls `recv` whenever it is not handling something
/// else, so a transport may do its work inside `recv` (HTTP runs its requests there): a
/// request sent may make no progress until `recv` is polled again.
#[async_trait]
pub trait Transport: Send + 'static {
    /// Sends, starts sending, or buffers one request.
    ///
    /// The core calls [`flush`](Transport::flush) after a batch of sends, before it waits for
    /// anything else. An error means the connection is unusable; the core treats it as closed.
    async fn send(&mut self, msg: OutgoingMessage) -> Result<(), Error>;

    /// Writes out whatever [`send`](Transport::send) buffered.
    async fn flush(&mut self) -> Result<(), Error> {
        Ok(())
    }

    /// The next thing from the server. `Err` means the connection is closed for good and says why.
    async fn recv(&mut self) -> Result<TransportEvent, Error>;

    /// A [`DirectSend`] for this connection, if the transport offers one. The default offers
    /// none: every request goes through [`send`](Transport::send).
    fn direct(&self) -> Option<std::sync::Arc<dyn DirectSend>> {
        None
    }

    /// Who owns the sessions made over this transport; the default is
    /// [`SessionOwnership::Connection`] (a claim after each reconnect). Broker transports
    /// return [`SessionOwnership::Shared`].
    fn session_ownership(&self) -> SessionOwnership {
        SessionOwnership::Connection
    }

    /// A session now lives on this connection (created or claimed here).
    fn session_opened(&mut self, _session: SessionId) {}

    /// A session is gone from this connection (destroyed, timed out, lost).
    fn session_closed(&mut self, _session: SessionId) {}

    /// A handle of `session` now exists (attached, or known again after a claim). HTTP polls
    /// only sessions that have handles: nothing else receives asynchronous events.
    fn handle_opened(&mut self, _session: SessionId, _handle: HandleId) {}

    /// A handle of `session` is gone (detached, or re-attached under a new id).
    fn handle_closed(&mut self, _session: SessionId, _handle: HandleId) {}

    /// An `attach` on `session` whose answer its caller read itself ([`Sent::Answer`]) has
    /// been applied: the [`handle_opened`](Transport::handle_opened) it brought, if any, came
    /// before this. (HTTP holds a long-poll place for an `attach` in flight until then.)
    fn attach_answered(&mut self, _session: SessionId) {}

    /// The client's credentials, for requests the transport makes on its own (the HTTP
    /// long poll carries them in its query string). The client calls it on every transport
    /// it opens (first connect and each reconnect) before sending any request. The default
    /// does nothing: transports that only carry request bodies (which hold the credentials
    /// already) need none.
    fn set_credentials(&mut self, _credentials: &Credentials) {}

    /// Closes the connection; called once, when the core is done with it.
    async fn close(&mut self) {}
}

/// Makes fresh transports to one endpoint; reconnect calls it again.
#[async_trait]
pub trait Connector: Send + Sync + 'static {
    /// Opens a new connection.
    async fn connect(&self) -> Result<Box<dyn Transport>, Error>;

    /// The endpoint, for logs; never includes secrets.
    fn endpoint(&self) -> String;

    /// A way this transport is known to lose an answer without any error, said in the text
    /// of every request timeout over it (see [`Error::with_hint`]): a Unix socket, for one,
    /// cannot carry an answer larger than Janus's socket send buffer, which Janus then
    /// drops. `None` (the default) for a transport that loses nothing silently.
    fn timeout_hint(&self) -> Option<String> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_leaves_the_json_and_its_secrets_out() {
        let m = OutgoingMessage {
            verb: Verb::Create,
            transaction: "1".into(),
            session_id: None,
            handle_id: None,
            json: r#"{"janus":"create","transaction":"1","apisecret":"hunter2"}"#.into(),
            deadline: None,
            in_flight: 0,
        };
        let dbg = format!("{m:?}");
        assert!(!dbg.contains("hunter2"), "{dbg}");
        assert!(dbg.contains("create"));
    }

    #[test]
    fn credentials_debug_hides_their_values() {
        let c = Credentials {
            api_secret: Some(Secret::new("hunter2")),
            token: Some(Secret::new("t0ken")),
        };
        for dbg in [format!("{c:?}"), format!("{c:#?}")] {
            assert!(!dbg.contains("hunter2") && !dbg.contains("t0ken"), "{dbg}");
            assert!(dbg.contains("api_secret") && dbg.contains("***"), "{dbg}");
        }
        assert_eq!(Credentials::default().api_secret, None);
    }

    /// A transport that keeps the default `set_credentials`.
    struct Silent;

    #[async_trait]
    impl Transport for Silent {
        async fn send(&mut self, _msg: OutgoingMessage) -> Result<(), Error> {
            Ok(())
        }

        async fn recv(&mut self) -> Result<TransportEvent, Error> {
            Err(Error::transport_closed("closed", false))
        }
    }

    #[test]
    fn set_credentials_does_nothing_by_default() {
        let mut t: Box<dyn Transport> = Box::new(Silent);
        t.set_credentials(&Credentials {
            api_secret: Some("s".into()),
            token: None,
        });
    }
}
