//! The requests: one `POST` per request, on a bounded set of kept-alive connections.
//!
//! At most [`HttpOptions::max_connections`](crate::HttpOptions::max_connections) `POST`s
//! are in flight; more wait for a free connection, in order, no longer than their
//! deadline. Each `POST` is a future that [`HttpTransport::recv`](crate::HttpTransport)
//! polls; what it ends with ([`PostDone`]) is the reply body, or why there is none.

use janus_core::{AnswerOutcome, DirectAnswer, Error, OutgoingMessage, SessionId, Verb};
use reqwest::header::CONTENT_TYPE;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tracing::debug;

use crate::transport::Shared;
use crate::wire::{describe, read_body, status_error, Body, DRAIN_LIMIT};

/// Janus closes a `POST` its core has not answered within 10 s, without any reply
/// (`transports/janus_http.c` returns `MHD_NO`). A connection that closes without a reply
/// after at least this long is taken for that.
const JANUS_POST_ABORT: Duration = Duration::from_secs(9);

/// What one finished `POST` brings: its reply, or why there is none (with why the body was
/// dropped, when it was), for `recv` or for the caller that awaits it.
pub(crate) struct PostDone {
    pub(crate) answer: DirectAnswer,
    /// The session an `attach` was for: it no longer reserves a long poll.
    pub(crate) attach_for: Option<SessionId>,
}

/// One `POST` in flight, polled by `recv`.
pub(crate) type PostFuture = Pin<Box<dyn Future<Output = PostDone> + Send>>;

/// The bound on `POST`s in flight, and their count.
pub(crate) struct PostSlots {
    /// One permit per `POST` in flight ([`HttpOptions::max_connections`](crate::HttpOptions::max_connections)).
    permits: Arc<Semaphore>,
    /// `POST`s sent and not yet handed back by `recv`.
    in_flight: AtomicUsize,
}

impl PostSlots {
    pub(crate) fn new(max_connections: usize) -> Self {
        PostSlots {
            permits: Arc::new(Semaphore::new(max_connections)),
            in_flight: AtomicUsize::new(0),
        }
    }

    /// `POST`s sent and not yet handed back.
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// A `POST` was sent (its future made).
    pub(crate) fn started(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    /// A `POST` was handed back by `recv`.
    pub(crate) fn finished(&self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Shared {
    /// Sends one request once a connection is free; its reply, or why there is none.
    pub(crate) async fn post(self: Arc<Self>, msg: OutgoingMessage) -> PostDone {
        let OutgoingMessage {
            verb,
            transaction,
            session_id,
            handle_id,
            json,
            deadline,
            ..
        } = msg;
        let attach_for = session_id.filter(|_| verb == Verb::Attach);
        let done = |outcome| PostDone {
            answer: DirectAnswer {
                malformed: None,
                outcome,
            },
            attach_for,
        };
        // Wait for a connection, in order, no longer than the caller waits.
        let acquire = self.posts.permits.clone().acquire_owned();
        let permit = match deadline {
            Some(at) => tokio::time::timeout_at(at, acquire).await.ok(),
            None => Some(acquire.await),
        };
        let _permit = match permit {
            Some(Ok(p)) => p,
            Some(Err(_)) => {
                let error = Error::transport_closed("the transport was closed", true);
                return done(AnswerOutcome::Failed { transaction, error });
            }
            None => {
                // Never sent: the caller gave up while it waited for a connection.
                let waited = deadline.map(|d| d.saturating_duration_since(Instant::now()));
                debug!(request = verb.name(), %transaction, ?waited, "request dropped before a connection was free");
                let error = Error::timeout(self.options.request_timeout);
                return done(AnswerOutcome::Failed { transaction, error });
            }
        };
        let url = self.urls.request(session_id, handle_id);
        let started = Instant::now();
        let limit = deadline
            .map(|d| d.saturating_duration_since(started))
            .unwrap_or(self.options.request_timeout)
            .min(self.options.request_timeout)
            .max(Duration::from_millis(1));
        let sent = self
            .client
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .timeout(limit)
            .body(json)
            .send()
            .await;
        let mut malformed = None;
        let result = match sent {
            Ok(resp) => self.post_reply(resp, started, &mut malformed).await,
            Err(e) => Err(self.post_error(e, started)),
        };
        let outcome = match result {
            // The core fails the request at once if this does not answer it.
            Ok(text) => AnswerOutcome::Reply { transaction, text },
            Err(error) => {
                debug!(request = verb.name(), %transaction, %error, "request failed");
                AnswerOutcome::Failed { transaction, error }
            }
        };
        PostDone {
            answer: DirectAnswer { malformed, outcome },
            attach_for,
        }
    }

    async fn post_reply(
        self: &Arc<Self>,
        resp: reqwest::Response,
        started: Instant,
        malformed: &mut Option<String>,
    ) -> Result<String, Error> {
        let status = resp.status();
        if !status.is_success() {
            // 403 (CORS, auth), 404 (bad path), 400, or 5xx from something in front of Janus.
            if status.is_server_error() {
                self.unreachable(&format!("POST answered HTTP {status}"));
            } else {
                self.heard();
            }
            let _ = read_body(resp, DRAIN_LIMIT).await;
            return Err(status_error(status));
        }
        self.heard();
        match read_body(resp, self.options.max_body_bytes).await {
            Ok(Body::Text(text)) if text.trim().is_empty() => {
                // Janus never answers 200 with nothing: whatever does is not speaking its
                // protocol. The request did arrive, so it is not safe to repeat blindly.
                Err(Error::protocol(format!(
                    "the server answered HTTP {status} with an empty body"
                )))
            }
            Ok(Body::Text(text)) => Ok(text),
            Ok(body) => {
                let reason = body.problem().unwrap_or_default();
                // Counted as malformed by the core, and the request fails at once instead
                // of waiting for its timeout.
                *malformed = Some(reason.clone());
                Err(Error::protocol(reason))
            }
            Err(e) => Err(self.post_error(e, started)),
        }
    }

    /// Maps a failed `POST` (no status, or the body broke off).
    fn post_error(self: &Arc<Self>, e: reqwest::Error, started: Instant) -> Error {
        let elapsed = started.elapsed();
        if e.is_connect() {
            // Nothing reached the server: safe to retry.
            let why = describe(e);
            self.unreachable(&why);
            Error::transport_closed(format!("cannot connect: {why}"), true)
        } else if e.is_timeout() {
            // Our own `request_timeout`.
            Error::timeout(self.options.request_timeout)
        } else if elapsed >= JANUS_POST_ABORT {
            // Janus drops the connection, with no reply at all, when its core has not
            // answered a POST in 10 s. That is a timeout, not a broken connection, and
            // not retry-safe either: the request reached Janus and may have taken effect.
            Error::timeout(elapsed)
        } else {
            // Reset or closed before the reply: the server may be going down, and the
            // request may have reached it, so it is not safe to repeat blindly.
            let why = describe(e);
            self.unreachable(&why);
            Error::transport_closed(format!("no reply: {why}"), false)
        }
    }
}
