//! What ends a command: its exit code and the message for stderr, from the library's
//! [`ErrorKind`] or from the command line.

use janus_client::{Error, ErrorKind};
use std::fmt;
use std::process::ExitCode;

/// The exit codes, as `janus-cli --help` lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// 0: success.
    Ok = 0,
    /// 1: Janus or a plugin answered with an error, or the session/handle is gone.
    Refused = 1,
    /// 2: bad arguments, a configuration that cannot work.
    Usage = 2,
    /// 3: cannot connect, the connection failed or closed, a reply that breaks the protocol.
    Connection = 3,
    /// 4: no answer within the timeout.
    Timeout = 4,
    /// 5: credentials refused.
    Unauthorized = 5,
    /// 6: `load` completed with failed lifecycles.
    LoadErrors = 6,
    /// 130: interrupted.
    Interrupted = 130,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

/// The exit code for a library error.
pub fn exit_for(error: &Error) -> Exit {
    if error.is_unauthorized() {
        return Exit::Unauthorized;
    }
    match error.kind() {
        ErrorKind::Timeout { .. } => Exit::Timeout,
        ErrorKind::TransportClosed { .. } | ErrorKind::Transport { .. } => Exit::Connection,
        ErrorKind::Protocol(_) => Exit::Connection,
        ErrorKind::Config(_) => Exit::Usage,
        _ => Exit::Refused,
    }
}

/// The name of an error's kind, for `load`'s errors by kind (`timeout`, `janus`, ...).
pub fn kind_name(kind: &ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Timeout { .. } => "timeout",
        ErrorKind::TransportClosed { .. } => "transport_closed",
        ErrorKind::Transport { .. } => "transport",
        ErrorKind::Janus { .. } => "janus",
        ErrorKind::Plugin { .. } => "plugin",
        ErrorKind::SessionGone { .. } => "session_gone",
        ErrorKind::HandleGone { .. } => "handle_gone",
        ErrorKind::Protocol(_) => "protocol",
        ErrorKind::Config(_) => "config",
        ErrorKind::Limit { .. } => "limit",
        _ => "other",
    }
}

/// The error code inside a kind, when it has one (Janus' or the plugin's).
pub fn kind_code(kind: &ErrorKind) -> Option<i64> {
    match kind {
        ErrorKind::Janus { code, .. } => Some(i64::from(*code)),
        ErrorKind::Plugin { code, .. } => Some(*code),
        ErrorKind::Transport {
            status: Some(s), ..
        } => Some(i64::from(*s)),
        _ => None,
    }
}

/// A command that did not succeed: the exit code, and what to print on stderr.
#[derive(Debug)]
pub struct Failure {
    /// The exit code.
    pub exit: Exit,
    /// The message (one line or more).
    pub message: String,
}

impl Failure {
    /// A usage error (exit code 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Failure {
            exit: Exit::Usage,
            message: message.into(),
        }
    }

    /// A library error, with what it says about its cause and a hint for the usual fixes.
    pub fn from_error(context: &str, error: &Error) -> Self {
        let mut message = format!("{context}: {error}");
        let mut source = std::error::Error::source(error);
        while let Some(s) = source {
            let text = s.to_string();
            if !message.contains(&text) {
                message.push_str(&format!("\n  caused by: {text}"));
            }
            source = s.source();
        }
        if let Some(hint) = hint(error) {
            message.push_str(&format!("\n  hint: {hint}"));
        }
        Failure {
            exit: exit_for(error),
            message,
        }
    }
}

fn hint(error: &Error) -> Option<&'static str> {
    if error.is_unauthorized() {
        return Some(
            "check --api-secret / --token (JANUS_API_SECRET, JANUS_TOKEN), or --admin-secret \
             (JANUS_ADMIN_SECRET) for the Admin API",
        );
    }
    match error.kind() {
        ErrorKind::Timeout { .. } => {
            Some("Janus did not answer in time: raise --timeout, or check that it runs")
        }
        ErrorKind::Janus { code: 472, .. } => {
            Some("Janus refuses new sessions: `janus-cli admin accept-sessions true`")
        }
        _ => None,
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn every_kind_has_its_exit_code() {
        assert_eq!(
            exit_for(&Error::timeout(Duration::from_secs(1))),
            Exit::Timeout
        );
        assert_eq!(exit_for(&Error::transport("refused")), Exit::Connection);
        assert_eq!(
            exit_for(&Error::transport_closed("gone", false)),
            Exit::Connection
        );
        assert_eq!(
            exit_for(&Error::janus(458, "No such session")),
            Exit::Refused
        );
        assert_eq!(
            exit_for(&Error::janus(403, "Unauthorized")),
            Exit::Unauthorized
        );
        assert_eq!(
            exit_for(&Error::http_status(403, "forbidden")),
            Exit::Unauthorized
        );
        assert_eq!(exit_for(&Error::plugin(413, "bad")), Exit::Refused);
        assert_eq!(exit_for(&Error::config("bad url")), Exit::Usage);
        assert_eq!(exit_for(&Error::protocol("garbage")), Exit::Connection);
    }

    #[test]
    fn failures_say_what_and_why() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused by peer");
        let f = Failure::from_error(
            "cannot connect to ws://x",
            &Error::transport("connect").with_source(io),
        );
        assert_eq!(f.exit, Exit::Connection);
        assert!(f
            .message
            .starts_with("cannot connect to ws://x: transport error: connect"));
        assert!(
            f.message.contains("caused by: refused by peer"),
            "{}",
            f.message
        );
        let f = Failure::from_error("info", &Error::janus(403, "Unauthorized request"));
        assert!(
            f.message.contains("hint: check --api-secret"),
            "{}",
            f.message
        );
        assert_eq!(kind_name(Error::janus(403, "x").kind()), "janus");
        assert_eq!(kind_code(Error::janus(403, "x").kind()), Some(403));
    }
}
