//! The one error type of the peer.

use std::fmt;

/// What went wrong in the peer: negotiation, the socket or the WebRTC stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerError(pub String);

impl fmt::Display for PeerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "test peer: {}", self.0)
    }
}

impl std::error::Error for PeerError {}

impl From<std::io::Error> for PeerError {
    fn from(e: std::io::Error) -> Self {
        PeerError(format!("socket: {e}"))
    }
}

impl From<str0m::RtcError> for PeerError {
    fn from(e: str0m::RtcError) -> Self {
        PeerError(format!("str0m: {e}"))
    }
}
