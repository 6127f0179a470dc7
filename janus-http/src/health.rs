//! Whether the server still answers: the heartbeat and reachability checks of one
//! transport, and what the transport reports about it.
//!
//! HTTP has no connection whose loss says "the server is gone": requests and polls each
//! fail on their own, and a network that accepts connections but forwards nothing fails
//! nothing at all (a swallowed long poll just waits). So one task per transport, the
//! monitor, watches:
//!
//! - a request or poll that breaks at the connection level (refused, reset, 5xx) reports
//!   the server [`Interrupted`](Item::Interrupted) at once (as a dropped WebSocket would),
//!   then the monitor checks `GET <base>/info` until it answers
//!   ([`Restored`](Item::Restored)) or `unreachable_timeout` has passed
//!   ([`Closed`](Item::Closed): the client reconnects with a fresh transport);
//! - while requests or polls are outstanding and nothing at all has come from the server
//!   for `heartbeat_interval`, it checks `GET <base>/info` too; a check that gets no answer
//!   within `probe_timeout` counts as a connection-level failure.
//!
//! After [`Restored`](Item::Restored) the transport polls again, on fresh connections,
//! every session whose poll was sent before the failure began: such a poll may never be
//! answered (a stalled network swallowed it).

use janus_core::Error;
use std::time::Duration;
use tokio::time::Instant;
use tracing::{info, warn};

use crate::transport::Shared;

/// The longest wait between two checks while the server is failing: a server back after
/// an outage is noticed within this (plus one check's time).
const MAX_CHECK_INTERVAL: Duration = Duration::from_millis(500);

/// What the monitor hands to [`HttpTransport::recv`](crate::HttpTransport).
#[derive(Debug)]
pub(crate) enum Item {
    /// The server stopped answering (the first failure); the transport stays open.
    Interrupted(String),
    /// The server answers again after [`Interrupted`](Item::Interrupted), which began at
    /// `since`.
    Restored {
        /// When the failure began.
        since: Instant,
    },
    /// The server stayed unreachable for `unreachable_timeout`: `recv` returns this error
    /// and the client reconnects.
    Closed(Error),
}

/// What the monitor knows of the server.
#[derive(Debug)]
pub(crate) struct Health {
    /// When something last came from the server (a reply, a poll, a check).
    last_heard: Instant,
    /// Since when requests fail at the connection level; `None` while all is well.
    failing_since: Option<Instant>,
    /// When the failure that just ended began, until [`Item::Restored`] says so.
    recovered_from: Option<Instant>,
    /// The last connection-level failure, for the reports (never holds a secret).
    last_error: String,
    /// [`Item::Interrupted`] was reported and [`Item::Restored`] not yet.
    reported: bool,
    /// [`Item::Closed`] was reported: the monitor is done.
    closed: bool,
}

impl Health {
    pub(crate) fn new() -> Self {
        Health {
            last_heard: Instant::now(),
            failing_since: None,
            recovered_from: None,
            last_error: String::new(),
            reported: false,
            closed: false,
        }
    }
}

/// What the monitor does next.
enum Step {
    Report(Item),
    Check { after: Duration },
    Wait(Instant),
}

impl Shared {
    /// Something came from the server: whatever failed before is over.
    pub(crate) fn heard(&self) {
        let mut h = self.health();
        h.last_heard = Instant::now();
        if let Some(since) = h.failing_since.take() {
            h.recovered_from = Some(since);
            info!(endpoint = %self.urls.endpoint(), "server reachable again");
            drop(h);
            self.kick.notify_one();
        }
    }

    /// A request, poll or check failed at the connection level. `why` must hold no secret.
    pub(crate) fn unreachable(&self, why: &str) {
        let mut h = self.health();
        if h.closed {
            return;
        }
        h.last_error = why.to_string();
        if h.failing_since.is_none() {
            h.failing_since = Some(Instant::now());
            warn!(endpoint = %self.urls.endpoint(), error = %why, "request failed at the connection level; checking the server");
            drop(h);
            self.kick.notify_one();
        }
    }

    /// Whether anything is waiting for the server: a request in flight or a running poll.
    fn busy(&self) -> bool {
        self.requests_in_flight() > 0 || self.polling()
    }

    fn next_step(&self, checks_failed: u32) -> Step {
        let options = &self.options;
        let now = Instant::now();
        let mut h = self.health();
        match h.failing_since {
            None if h.reported => {
                h.reported = false;
                let since = h.recovered_from.take().unwrap_or(now);
                Step::Report(Item::Restored { since })
            }
            None => {
                let due = h.last_heard + options.heartbeat_interval;
                drop(h);
                if now < due {
                    Step::Wait(due)
                } else if self.busy() {
                    Step::Check {
                        after: Duration::ZERO,
                    }
                } else {
                    Step::Wait(now + options.heartbeat_interval)
                }
            }
            Some(_) if !h.reported => {
                h.reported = true;
                Step::Report(Item::Interrupted(h.last_error.clone()))
            }
            Some(since) if now >= since + options.unreachable_timeout => {
                h.closed = true;
                let reason = format!(
                    "server unreachable for {:?}: {}",
                    options.unreachable_timeout, h.last_error
                );
                warn!(endpoint = %self.urls.endpoint(), %reason, "giving up on this connection");
                Step::Report(Item::Closed(Error::transport_closed(reason, false)))
            }
            Some(since) => {
                // The first check at once (after a cut the server usually answers), then
                // growing pauses, never past the deadline.
                let pause = if checks_failed == 0 {
                    Duration::ZERO
                } else {
                    (options.poll_retry_delay * 2u32.saturating_pow(checks_failed - 1))
                        .min(MAX_CHECK_INTERVAL)
                };
                let left = (since + options.unreachable_timeout).saturating_duration_since(now);
                Step::Check {
                    after: pause.min(left),
                }
            }
        }
    }

    /// The monitor task: runs until the transport closes (its `stop` ends it) or reports
    /// itself closed.
    pub(crate) async fn monitor(self: std::sync::Arc<Self>) {
        let mut checks_failed = 0u32;
        loop {
            match self.next_step(checks_failed) {
                Step::Report(item) => {
                    let last = matches!(item, Item::Closed(_));
                    if self.events.send(item).await.is_err() || last {
                        return;
                    }
                }
                Step::Wait(at) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(at) => {}
                        () = self.kick.notified() => {}
                    }
                }
                Step::Check { after } => {
                    if !after.is_zero() {
                        tokio::time::sleep(after).await;
                    }
                    let limit = self.options.probe_timeout;
                    match tokio::time::timeout(limit, self.check_info()).await {
                        Ok(Ok(())) => {
                            checks_failed = 0;
                            self.heard();
                        }
                        Ok(Err(e)) => {
                            checks_failed = checks_failed.saturating_add(1);
                            self.unreachable(&e.to_string());
                        }
                        Err(_) => {
                            checks_failed = checks_failed.saturating_add(1);
                            self.unreachable(&format!("GET info got no answer within {limit:?}"));
                        }
                    }
                }
            }
        }
    }
}
