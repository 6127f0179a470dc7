//! HTTP long-poll transport for [`janus_core`]: talks to the Janus HTTP transport
//! (`janus.transport.http`, port 8088 `/janus` by default, or the Admin API at `/admin`).
//!
//! - Each request is a `POST` of compact JSON to `<base>`, `<base>/<session>` or
//!   `<base>/<session>/<handle>`. Sending never waits for a reply: the request runs inside
//!   [`Transport::recv`](janus_core::Transport::recv), which hands its reply body back. While
//!   the link is up a caller sends its own `POST` ([`DirectSend`](janus_core::DirectSend))
//!   and reads its reply itself ([`Sent::Answer`](janus_core::Sent::Answer)); `recv` takes
//!   it over only if the caller stops waiting.
//! - Each session with handles has exactly one long poll, `GET <base>/<session>?maxev=N`,
//!   until the core reports the session closed; it parks when the core closes the last
//!   handle (at Janus' `detached`), so a session torn down the usual way has no poll left
//!   when it is destroyed (Janus would hold a poll of a destroyed session for 30 s). With
//!   `maxev` > 1 Janus answers with a JSON array, passed on as it is (the core decodes
//!   arrays). After a reply with events the next `GET` waits up to
//!   [`HttpOptions::poll_coalesce`], or until a request goes out on the session. A poll
//!   answered 404 reports the session gone.
//! - One `reqwest` client per transport: at most [`HttpOptions::max_connections`] POSTs in
//!   flight on kept-alive connections (more wait their turn); each running poll holds one
//!   more, for at most [`HttpOptions::max_long_polls`] sessions (an attach beyond fails at
//!   once with an error naming that limit).
//! - A request or poll that breaks at the connection level, or a heartbeat check
//!   (`GET <base>/info` after [`HttpOptions::heartbeat_interval`] of silence) without an
//!   answer, is reported as an interruption (the client says `Disconnected`) until the
//!   server answers again; when it stays unreachable for
//!   [`HttpOptions::unreachable_timeout`], the transport reports itself closed, and the
//!   client reconnects through [`HttpConnector`] (which checks `GET <base>/info`), then
//!   claims its sessions.
//!
//! See [`HttpConnector`] for an example.
#![warn(missing_docs)]

mod connector;
mod direct;
mod health;
mod options;
mod poll;
mod post;
mod transport;
mod wire;

#[cfg(test)]
mod tests;

pub use connector::HttpConnector;
pub use options::HttpOptions;
pub use transport::HttpTransport;
/// The URL type [`HttpConnector::new`] takes (re-exported from the `url` crate).
pub use url::Url;
