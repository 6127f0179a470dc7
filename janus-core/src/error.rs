//! The one error type of the library, with a kind that says what went wrong.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Janus core error codes (`src/apierror.h` in janus-gateway), as named constants.
///
/// ```
/// # use janus_core as janus_client;
/// use janus_client::{codes, Error};
/// let err = Error::janus(codes::SESSION_NOT_FOUND, "No such session");
/// assert_eq!(err.janus_code(), Some(codes::SESSION_NOT_FOUND));
/// ```
pub mod codes {
    /// 403: missing or wrong `apisecret`/`token`.
    pub const UNAUTHORIZED: u16 = 403;
    /// 405: the token may not use this plugin.
    pub const UNAUTHORIZED_PLUGIN: u16 = 405;
    /// 490: unknown error.
    pub const UNKNOWN: u16 = 490;
    /// 450: transport specific error.
    pub const TRANSPORT_SPECIFIC: u16 = 450;
    /// 452: missing request.
    pub const MISSING_REQUEST: u16 = 452;
    /// 453: unknown request.
    pub const UNKNOWN_REQUEST: u16 = 453;
    /// 454: invalid JSON.
    pub const INVALID_JSON: u16 = 454;
    /// 455: invalid JSON object.
    pub const INVALID_JSON_OBJECT: u16 = 455;
    /// 456: missing mandatory element.
    pub const MISSING_MANDATORY_ELEMENT: u16 = 456;
    /// 457: request at the wrong level (path).
    pub const INVALID_REQUEST_PATH: u16 = 457;
    /// 458: the session does not exist (destroyed, timed out, or never created).
    pub const SESSION_NOT_FOUND: u16 = 458;
    /// 459: the handle does not exist.
    pub const HANDLE_NOT_FOUND: u16 = 459;
    /// 460: no such plugin.
    pub const PLUGIN_NOT_FOUND: u16 = 460;
    /// 461: the plugin refused the attach.
    pub const PLUGIN_ATTACH: u16 = 461;
    /// 462: the plugin failed to handle a message.
    pub const PLUGIN_MESSAGE: u16 = 462;
    /// 463: the plugin failed to detach.
    pub const PLUGIN_DETACH: u16 = 463;
    /// 464: JSEP type unknown.
    pub const JSEP_UNKNOWN_TYPE: u16 = 464;
    /// 465: invalid SDP.
    pub const JSEP_INVALID_SDP: u16 = 465;
    /// 466: trickle for an invalid stream.
    pub const TRICKLE_INVALID_STREAM: u16 = 466;
    /// 467: a field has the wrong type.
    pub const INVALID_ELEMENT_TYPE: u16 = 467;
    /// 468: the chosen session id is taken.
    pub const SESSION_CONFLICT: u16 = 468;
    /// 469: unexpected answer.
    pub const UNEXPECTED_ANSWER: u16 = 469;
    /// 470: token not found.
    pub const TOKEN_NOT_FOUND: u16 = 470;
    /// 471: wrong WebRTC state.
    pub const WEBRTC_STATE: u16 = 471;
    /// 472: the server does not accept new sessions.
    pub const NOT_ACCEPTING_SESSIONS: u16 = 472;
}

/// What went wrong. New kinds may be added, so match with a `_` arm.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The request got no complete answer within its timeout.
    Timeout {
        /// The timeout that ran out.
        after: Duration,
    },
    /// The connection closed (or was never there) before the request was answered.
    TransportClosed {
        /// Why the connection closed.
        reason: String,
        /// True when the request certainly had no effect on the server, or repeating it is harmless.
        retry_safe: bool,
    },
    /// The transport failed to move a request or a reply (an HTTP status, a refused connection).
    Transport {
        /// What failed.
        reason: String,
        /// HTTP status, when there was one.
        status: Option<u16>,
    },
    /// Janus answered with a core error (`{"janus":"error"}`); see [`codes`].
    Janus {
        /// The Janus error code.
        code: u16,
        /// The text Janus gave.
        reason: String,
    },
    /// The plugin answered with `error_code`/`error` in its data.
    Plugin {
        /// The plugin's error code.
        code: i64,
        /// The text the plugin gave.
        reason: String,
    },
    /// The session is gone (destroyed, timed out, lost across a reconnect); every later call fails.
    SessionGone {
        /// Why it is gone.
        reason: String,
    },
    /// The handle is gone (detached, or its session is gone).
    HandleGone {
        /// Why it is gone.
        reason: String,
    },
    /// Something arrived that does not follow the protocol.
    Protocol(String),
    /// The configuration cannot work (bad URL, missing feature, ...).
    Config(String),
    /// A limit of the library or of Janus was reached; the request was not sent.
    Limit {
        /// The option that sets the limit (`http.max_long_polls`, ...).
        option: String,
        /// Its value.
        limit: u64,
        /// What the limit protects, and what to do about it.
        reason: String,
    },
}

/// The error type of every fallible call in this library.
///
/// It has a [`kind`](Error::kind), predicates such as [`is_timeout`](Error::is_timeout),
/// and, when a lower layer failed (an I/O error, a TLS handshake, an HTTP client or
/// WebSocket library error), that error as [`std::error::Error::source`]. Two errors are
/// equal when their kinds are; the source is not compared. Cloning is cheap (the source is
/// shared).
///
/// ```
/// # use janus_core as janus_client;
/// use janus_client::{Error, ErrorKind};
/// use std::time::Duration;
/// let err = Error::new(ErrorKind::Timeout { after: Duration::from_secs(1) });
/// assert!(err.is_timeout());
/// assert!(err.to_string().contains("timed out"));
///
/// let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
/// let err = Error::transport("cannot connect").with_source(io);
/// assert!(std::error::Error::source(&err).is_some());
/// assert_eq!(err, Error::transport("cannot connect"));
/// ```
#[derive(Clone)]
pub struct Error {
    inner: Box<Inner>,
}

#[derive(Clone)]
struct Inner {
    kind: ErrorKind,
    source: Option<Arc<dyn std::error::Error + Send + Sync + 'static>>,
    /// An HTTP status on this error says nothing about credentials (see
    /// [`Error::not_about_credentials`]).
    not_about_credentials: bool,
    /// A transport's peer (an MQTT broker) refused the client's credentials (see
    /// [`Error::credentials_refused`]).
    credentials_refused: bool,
    /// What may explain this error, said after it (see [`Error::with_hint`]).
    hint: Option<Arc<str>>,
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.inner.kind);
        if let Some(source) = &self.inner.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner.kind, f)?;
        if let Some(hint) = &self.inner.hint {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Equal kinds make equal errors; the source is not compared.
impl PartialEq for Error {
    fn eq(&self, other: &Self) -> bool {
        self.inner.kind == other.inner.kind
    }
}

impl Eq for Error {}

impl Error {
    /// Wraps a kind.
    pub fn new(kind: ErrorKind) -> Self {
        Error {
            inner: Box::new(Inner {
                kind,
                source: None,
                not_about_credentials: false,
                credentials_refused: false,
                hint: None,
            }),
        }
    }

    /// Keeps `source`, the lower-level error behind this one, as
    /// [`std::error::Error::source`]. The text of this error does not change: describe what
    /// matters in its kind.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.inner.source = Some(Arc::new(source));
        self
    }

    /// Adds what may explain this error, a known limit of the transport for instance,
    /// written after the error's own text in parentheses. The kind does not change.
    ///
    /// ```
    /// use janus_core::Error;
    /// use std::time::Duration;
    ///
    /// let e = Error::timeout(Duration::from_secs(1)).with_hint("answers over 200 kB are lost");
    /// assert!(e.is_timeout());
    /// assert_eq!(
    ///     e.to_string(),
    ///     "request timed out after 1s (answers over 200 kB are lost)"
    /// );
    /// ```
    pub fn with_hint(mut self, hint: impl Into<Arc<str>>) -> Self {
        self.inner.hint = Some(hint.into());
        self
    }

    /// Like [`with_source`](Error::with_source), for a source that is already shared.
    pub fn with_shared_source(
        mut self,
        source: Arc<dyn std::error::Error + Send + Sync + 'static>,
    ) -> Self {
        self.inner.source = Some(source);
        self
    }

    /// Says that the HTTP status of this error is no refusal of credentials, so that
    /// [`is_unauthorized`](Error::is_unauthorized) is false even for a 403: for instance a
    /// 403 to `GET <base>/info`, which needs no credentials (a WebSocket port answers plain
    /// HTTP requests that way), or a refused WebSocket upgrade.
    pub fn not_about_credentials(mut self) -> Self {
        self.inner.not_about_credentials = true;
        self
    }

    /// A transport failure because the server in front of Janus (an MQTT broker) refused
    /// the client's own credentials: [`is_unauthorized`](Error::is_unauthorized) is true, so
    /// the client does not retry with the same credentials.
    pub fn credentials_refused(reason: impl Into<String>) -> Self {
        let mut e = Error::transport(reason);
        e.inner.credentials_refused = true;
        e
    }

    /// A Janus core error.
    pub fn janus(code: u16, reason: impl Into<String>) -> Self {
        Error::new(ErrorKind::Janus {
            code,
            reason: reason.into(),
        })
    }

    /// A plugin error.
    pub fn plugin(code: i64, reason: impl Into<String>) -> Self {
        Error::new(ErrorKind::Plugin {
            code,
            reason: reason.into(),
        })
    }

    /// A protocol error.
    pub fn protocol(msg: impl Into<String>) -> Self {
        Error::new(ErrorKind::Protocol(msg.into()))
    }

    /// A configuration error.
    pub fn config(msg: impl Into<String>) -> Self {
        Error::new(ErrorKind::Config(msg.into()))
    }

    /// A transport failure without an HTTP status.
    pub fn transport(reason: impl Into<String>) -> Self {
        Error::new(ErrorKind::Transport {
            reason: reason.into(),
            status: None,
        })
    }

    /// A transport failure with an HTTP status.
    pub fn http_status(status: u16, reason: impl Into<String>) -> Self {
        Error::new(ErrorKind::Transport {
            reason: reason.into(),
            status: Some(status),
        })
    }

    /// The connection closed. A leading "connection closed" and a trailing "(safe to
    /// retry)" in `reason` (the text of another such error) are dropped, as the text of this
    /// error says both by itself.
    pub fn transport_closed(reason: impl Into<String>, retry_safe: bool) -> Self {
        let reason = reason.into();
        let cleaned = closed_reason(&reason);
        let reason = if cleaned.len() == reason.len() {
            reason
        } else {
            cleaned.to_string()
        };
        Error::new(ErrorKind::TransportClosed { reason, retry_safe })
    }

    /// A limit was reached: `option` (as written in a configuration file) is at `limit`.
    pub fn limit(option: impl Into<String>, limit: u64, reason: impl Into<String>) -> Self {
        Error::new(ErrorKind::Limit {
            option: option.into(),
            limit,
            reason: reason.into(),
        })
    }

    /// A request timed out.
    pub fn timeout(after: Duration) -> Self {
        Error::new(ErrorKind::Timeout { after })
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.inner.kind
    }

    /// The request timed out.
    pub fn is_timeout(&self) -> bool {
        matches!(self.inner.kind, ErrorKind::Timeout { .. })
    }

    /// The connection closed under the request.
    pub fn is_transport_closed(&self) -> bool {
        matches!(self.inner.kind, ErrorKind::TransportClosed { .. })
    }

    /// Repeating the request is safe: it had no effect, or it is idempotent.
    pub fn is_retry_safe(&self) -> bool {
        match &self.inner.kind {
            ErrorKind::TransportClosed { retry_safe, .. } => *retry_safe,
            _ => false,
        }
    }

    /// Janus refused the credentials (403 or 405, as a core error or an HTTP status), or
    /// the broker in front of it refused the transport's ([`Error::credentials_refused`]).
    ///
    /// An HTTP 403 marked [`not_about_credentials`](Error::not_about_credentials) (a
    /// server that refuses `GET <base>/info`, which needs none) is not counted.
    pub fn is_unauthorized(&self) -> bool {
        match &self.inner.kind {
            ErrorKind::Janus { code, .. } => {
                *code == codes::UNAUTHORIZED || *code == codes::UNAUTHORIZED_PLUGIN
            }
            ErrorKind::Transport { status, .. } => {
                self.inner.credentials_refused
                    || (*status == Some(403) && !self.inner.not_about_credentials)
            }
            _ => false,
        }
    }

    /// The session or handle no longer exists (locally known, or Janus said 458/459).
    pub fn is_gone(&self) -> bool {
        match &self.inner.kind {
            ErrorKind::SessionGone { .. } | ErrorKind::HandleGone { .. } => true,
            ErrorKind::Janus { code, .. } => {
                *code == codes::SESSION_NOT_FOUND || *code == codes::HANDLE_NOT_FOUND
            }
            _ => false,
        }
    }

    /// The Janus core error code, when this is a core error.
    pub fn janus_code(&self) -> Option<u16> {
        match &self.inner.kind {
            ErrorKind::Janus { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// The plugin error code, when this is a plugin error.
    pub fn plugin_code(&self) -> Option<i64> {
        match &self.inner.kind {
            ErrorKind::Plugin { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// The reason of a closed connection without what the text of
/// [`ErrorKind::TransportClosed`] adds by itself: leading "connection closed" (often
/// repeated, when the reason is the text of another error) and a trailing "(safe to retry)".
fn closed_reason(mut reason: &str) -> &str {
    const PREFIX: &str = "connection closed";
    const SUFFIX: &str = "(safe to retry)";
    loop {
        let r = reason.trim();
        if let Some(rest) = r.strip_suffix(SUFFIX) {
            reason = rest;
            continue;
        }
        let starts = r
            .get(..PREFIX.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(PREFIX));
        if starts {
            let rest = &r[PREFIX.len()..];
            if rest.is_empty() {
                return rest;
            }
            if let Some(rest) = rest.strip_prefix(':') {
                reason = rest;
                continue;
            }
        }
        return r;
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Error::new(kind)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Timeout { after } => write!(f, "request timed out after {after:?}"),
            ErrorKind::TransportClosed { reason, retry_safe } => {
                f.write_str("connection closed")?;
                let reason = closed_reason(reason);
                if !reason.is_empty() {
                    write!(f, ": {reason}")?;
                }
                if *retry_safe {
                    f.write_str(" (safe to retry)")?;
                }
                Ok(())
            }
            ErrorKind::Transport {
                reason,
                status: Some(s),
            } => write!(f, "transport error (HTTP {s}): {reason}"),
            ErrorKind::Transport {
                reason,
                status: None,
            } => write!(f, "transport error: {reason}"),
            ErrorKind::Janus { code, reason } => write!(f, "Janus error {code}: {reason}"),
            ErrorKind::Plugin { code, reason } => write!(f, "plugin error {code}: {reason}"),
            ErrorKind::SessionGone { reason } => write!(f, "session gone: {reason}"),
            ErrorKind::HandleGone { reason } => write!(f, "handle gone: {reason}"),
            ErrorKind::Protocol(m) => write!(f, "protocol error: {m}"),
            ErrorKind::Config(m) => write!(f, "configuration error: {m}"),
            ErrorKind::Limit {
                option,
                limit,
                reason,
            } => write!(f, "limit reached: {option} = {limit}: {reason}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predicates_follow_the_kind() {
        let e = Error::janus(codes::UNAUTHORIZED, "Unauthorized request");
        assert!(e.is_unauthorized());
        assert!(!e.is_timeout());
        assert_eq!(e.janus_code(), Some(403));
        assert_eq!(e.plugin_code(), None);
        assert_eq!(e.to_string(), "Janus error 403: Unauthorized request");

        let e = Error::plugin(413, "Invalid element");
        assert_eq!(e.plugin_code(), Some(413));
        assert!(!e.is_gone());

        let e = Error::transport_closed("reset", true);
        assert!(e.is_transport_closed() && e.is_retry_safe());
        assert!(e.to_string().contains("safe to retry"));

        assert!(Error::janus(codes::SESSION_NOT_FOUND, "x").is_gone());
        assert!(Error::new(ErrorKind::Transport {
            reason: "forbidden".into(),
            status: Some(403)
        })
        .is_unauthorized());
    }

    #[test]
    fn transport_closed_says_closed_once_and_retry_safety_only_when_true() {
        let safe = Error::transport_closed("closed by server (1000: )", true);
        assert_eq!(
            safe.to_string(),
            "connection closed: closed by server (1000: ) (safe to retry)"
        );
        let unsafe_ = Error::transport_closed("closed by server (1000: )", false);
        assert_eq!(
            unsafe_.to_string(),
            "connection closed: closed by server (1000: )"
        );
        // The reason is often the text of another such error (the connection task passes
        // it on): neither "connection closed" nor "(safe to retry)" repeats.
        let inner = Error::transport_closed("connection closed", true);
        assert_eq!(inner.to_string(), "connection closed (safe to retry)");
        let outer = Error::transport_closed(inner.to_string(), false);
        assert_eq!(outer.to_string(), "connection closed");
        assert!(!outer.is_retry_safe());
        let nested = Error::transport_closed(
            "connection closed: connection closed: WebSocket: reset (safe to retry)",
            false,
        );
        assert_eq!(nested.to_string(), "connection closed: WebSocket: reset");
        assert!(!nested.to_string().contains("safe to retry"));
        // Built from the kind directly, the text is cleaned the same way.
        let raw = Error::new(ErrorKind::TransportClosed {
            reason: "Connection closed: reset (safe to retry)".into(),
            retry_safe: false,
        });
        assert_eq!(raw.to_string(), "connection closed: reset");
        // A reason that only starts with the words is kept.
        let e = Error::transport_closed("connection closed by peer", true);
        assert_eq!(
            e.to_string(),
            "connection closed: connection closed by peer (safe to retry)"
        );
    }

    #[test]
    fn source_is_kept_cloned_and_ignored_by_equality() {
        use std::error::Error as _;
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let e = Error::transport("cannot connect").with_source(io);
        let source = e.source().expect("a source");
        assert_eq!(source.to_string(), "refused");
        let copy = e.clone();
        assert!(copy.source().is_some());
        assert_eq!(copy, Error::transport("cannot connect"));
        assert_ne!(copy, Error::transport("other"));
        assert!(Error::transport("x").source().is_none());
        assert!(format!("{e:?}").contains("refused"));
        // Display is the kind's text alone.
        assert_eq!(e.to_string(), "transport error: cannot connect");
    }

    #[test]
    fn credentials_refused_by_a_broker_is_unauthorized() {
        let e = Error::credentials_refused("bad user name or password");
        assert!(e.is_unauthorized());
        assert!(!e.is_retry_safe());
        assert!(!Error::transport("refused").is_unauthorized());
    }

    #[test]
    fn a_403_not_about_credentials_is_not_unauthorized() {
        let e = Error::http_status(403, "refused GET info").not_about_credentials();
        assert!(!e.is_unauthorized());
        assert!(Error::http_status(403, "forbidden").is_unauthorized());
        assert!(!Error::http_status(404, "not found").is_unauthorized());
    }
}
