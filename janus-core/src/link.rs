//! Where reconnect and keepalive happen: the state of the link under a client as one enum
//! ([`Link`]), the reconnect schedule ([`Reconnect`]) and the keepalive interval
//! ([`Keepalive`]), which follows the server's session timeout, read again on every
//! connection.

use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use futures::FutureExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

use crate::error::Error;
use crate::options::ReconnectPolicy;
use crate::transport::{Connector, Transport, TransportEvent};

/// Reconnect attempts in flight at once. A new attempt starts on the backoff schedule even
/// while earlier ones hang (a network that accepts connections but forwards nothing), so
/// the first attempt after the network comes back succeeds without waiting for the hung
/// ones to time out.
pub(crate) const MAX_ATTEMPTS_IN_FLIGHT: usize = 16;

type Connecting = BoxFuture<'static, Result<Box<dyn Transport>, Error>>;

/// The state of the connection under a client, as a [`watch`](tokio::sync::watch) value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionState {
    /// Connected, nothing special happened.
    Connected,
    /// The connection dropped, or the server stopped answering (a stalled network; over
    /// HTTP, a request or poll that broke); requests wait (up to their timeout) for the
    /// reconnect or for the server to answer again.
    Disconnected {
        /// Why it dropped.
        reason: String,
    },
    /// Trying to reconnect.
    Reconnecting {
        /// Attempt number, from 1.
        attempt: u32,
    },
    /// Reconnected and every session claimed (or reported lost); or, after a `Disconnected`
    /// that did not need a new connection (HTTP), the server answers again.
    Reconnected,
    /// Closed for good: no reconnect (disabled, gave up, or unauthorized), or the client shut down.
    Closed {
        /// Why.
        reason: String,
    },
}

/// The link to the server.
pub(crate) enum Link {
    /// Connected.
    Up {
        transport: Box<dyn Transport>,
        /// Claims and re-creations still out after a reconnect: requests wait for them.
        recovering: usize,
        /// The transport says the server stopped answering (over HTTP, a poll broke):
        /// requests wait until it answers again.
        interrupted: bool,
    },
    /// Lost: waiting for the next attempt on the schedule, with earlier attempts possibly
    /// still in flight.
    Down(Reconnect),
    /// Closed for good.
    Closed {
        /// Why.
        reason: String,
    },
}

/// What the link has for the connection task.
pub(crate) enum LinkEvent {
    /// From the transport.
    Transport(Result<TransportEvent, Error>),
    /// A reconnect attempt ended.
    Attempt(Result<Box<dyn Transport>, Error>),
    /// The schedule says: start another attempt.
    AttemptDue,
}

impl Link {
    /// A fresh connection, recovering `sessions` (0 on the first connect).
    pub(crate) fn up(transport: Box<dyn Transport>, recovering: usize) -> Link {
        Link::Up {
            transport,
            recovering,
            interrupted: false,
        }
    }

    /// Requests can go out now.
    pub(crate) fn usable(&self) -> bool {
        matches!(
            self,
            Link::Up {
                recovering: 0,
                interrupted: false,
                ..
            }
        )
    }

    pub(crate) fn is_up(&self) -> bool {
        matches!(self, Link::Up { .. })
    }

    pub(crate) fn is_closed(&self) -> bool {
        matches!(self, Link::Closed { .. })
    }

    pub(crate) fn transport(&mut self) -> Option<&mut Box<dyn Transport>> {
        match self {
            Link::Up { transport, .. } => Some(transport),
            _ => None,
        }
    }

    /// Marks the server as not answering; `false` when it already was (or the link is not up).
    pub(crate) fn interrupt(&mut self) -> bool {
        match self {
            Link::Up { interrupted, .. } if !*interrupted => {
                *interrupted = true;
                true
            }
            _ => false,
        }
    }

    /// The server answers again; `true` when it had been marked as not answering.
    pub(crate) fn restore(&mut self) -> bool {
        match self {
            Link::Up { interrupted, .. } => std::mem::take(interrupted),
            _ => false,
        }
    }

    /// One recovery step (a claim or re-creation) is over; `true` when it was the last.
    pub(crate) fn recovery_step(&mut self) -> bool {
        match self {
            Link::Up { recovering, .. } if *recovering > 0 => {
                *recovering -= 1;
                *recovering == 0
            }
            _ => false,
        }
    }

    /// One more recovery step is out.
    pub(crate) fn recovery_started(&mut self) {
        if let Link::Up { recovering, .. } = self {
            *recovering += 1;
        }
    }

    /// Takes the transport out, leaving the link down with a reconnect starting now.
    pub(crate) fn go_down(&mut self, now: Instant) -> Option<Box<dyn Transport>> {
        match std::mem::replace(self, Link::Down(Reconnect::new(now))) {
            Link::Up { transport, .. } => Some(transport),
            other => {
                *self = other;
                None
            }
        }
    }

    /// Closes the link for good; the transport, if there was one, to close.
    pub(crate) fn close(&mut self, reason: String) -> Option<Box<dyn Transport>> {
        match std::mem::replace(self, Link::Closed { reason }) {
            Link::Up { transport, .. } => Some(transport),
            _ => None,
        }
    }

    /// The next thing that happens on the link. Cancel-safe: the connection task polls it
    /// in `select!`.
    pub(crate) async fn next(&mut self) -> LinkEvent {
        match self {
            Link::Up { transport, .. } => LinkEvent::Transport(transport.recv().await),
            Link::Down(r) => {
                let due = r.next_at;
                tokio::select! {
                    Some(res) = r.in_flight.next(), if !r.in_flight.is_empty() => LinkEvent::Attempt(res),
                    () = sleep_until(due) => LinkEvent::AttemptDue,
                }
            }
            Link::Closed { .. } => futures::future::pending().await,
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => futures::future::pending().await,
    }
}

/// The reconnect schedule after a loss.
pub(crate) struct Reconnect {
    /// Attempts started since the link was lost.
    pub(crate) attempt: u32,
    /// Attempts failed since the link was lost.
    failed: u32,
    /// When the next attempt starts.
    next_at: Option<Instant>,
    in_flight: FuturesUnordered<Connecting>,
}

/// What a failed attempt leads to.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AfterFailure {
    /// Keep trying on the schedule.
    Retry,
    /// Stop: the reason to close with.
    GiveUp(String),
}

impl Reconnect {
    /// The first attempt at `now`.
    pub(crate) fn new(now: Instant) -> Self {
        Reconnect {
            attempt: 0,
            failed: 0,
            next_at: Some(now),
            in_flight: FuturesUnordered::new(),
        }
    }

    /// Starts one attempt (bounded by `limit`) and schedules the next, which starts on time
    /// even if this one still hangs; the first to succeed wins. `false` when the policy's
    /// attempts are used up (nothing started).
    pub(crate) fn start_attempt(
        &mut self,
        policy: &ReconnectPolicy,
        connector: &Arc<dyn Connector>,
        limit: Duration,
        now: Instant,
    ) -> bool {
        self.next_at = None;
        let max = policy.max_attempts;
        if max.is_some_and(|m| self.attempt >= m) {
            return false;
        }
        let started = self.in_flight.len() < MAX_ATTEMPTS_IN_FLIGHT;
        if started {
            self.attempt += 1;
            let connector = connector.clone();
            self.in_flight.push(
                async move {
                    match tokio::time::timeout(limit, connector.connect()).await {
                        Ok(r) => r,
                        Err(_) => Err(Error::timeout(limit)),
                    }
                }
                .boxed(),
            );
        }
        if max.is_none_or(|m| self.attempt < m) {
            self.next_at = Some(now + policy.delay(self.attempt.max(1)));
        }
        started
    }

    /// An attempt failed: give up (unauthorized, or the attempts are used up) or go on.
    pub(crate) fn on_failure(
        &mut self,
        policy: &ReconnectPolicy,
        error: &Error,
        now: Instant,
    ) -> AfterFailure {
        self.failed += 1;
        let give_up =
            error.is_unauthorized() || policy.max_attempts.is_some_and(|m| self.failed >= m);
        if give_up {
            self.in_flight.clear();
            self.next_at = None;
            return AfterFailure::GiveUp(format!("reconnect failed: {error}"));
        }
        if self.next_at.is_none() && self.in_flight.is_empty() {
            // Nothing scheduled and nothing running: try again now.
            self.next_at = Some(now);
        }
        AfterFailure::Retry
    }

    /// Failed attempts so far.
    pub(crate) fn failed(&self) -> u32 {
        self.failed
    }
}

/// The keepalive interval: the configured one, lowered to a third of the server's session
/// timeout when that is shorter (read again on every connection: a restarted Janus may
/// have another).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Keepalive {
    configured: Duration,
    effective: Duration,
}

/// Never more often than this, whatever the server says.
const MIN_KEEPALIVE: Duration = Duration::from_millis(500);

impl Keepalive {
    pub(crate) fn new(configured: Duration) -> Self {
        Keepalive {
            configured,
            effective: configured,
        }
    }

    pub(crate) fn interval(&self) -> Duration {
        self.effective
    }

    /// How often the connection task looks at its timers.
    pub(crate) fn tick_period(&self) -> Duration {
        (self.effective / 5).clamp(Duration::from_millis(100), Duration::from_secs(1))
    }

    /// The server's session timeout (seconds; 0 or none: sessions never time out). `true`
    /// when the interval changed.
    pub(crate) fn on_server_timeout(&mut self, seconds: Option<u64>) -> bool {
        let before = self.effective;
        self.effective = match seconds.filter(|s| *s > 0) {
            Some(s) => self
                .configured
                .min(Duration::from_secs(s).div_f64(3.0).max(MIN_KEEPALIVE)),
            None => self.configured,
        };
        self.effective != before
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;

    struct Refusing;

    #[async_trait]
    impl Connector for Refusing {
        async fn connect(&self) -> Result<Box<dyn Transport>, Error> {
            Err(Error::transport("refused"))
        }
        fn endpoint(&self) -> String {
            "test".into()
        }
    }

    fn policy(max_attempts: Option<u32>) -> ReconnectPolicy {
        ReconnectPolicy {
            jitter: 0.0,
            max_attempts,
            ..ReconnectPolicy::default()
        }
    }

    #[test]
    fn keepalive_follows_the_server_timeout_of_each_connection() {
        let mut k = Keepalive::new(Duration::from_secs(25));
        assert!(k.on_server_timeout(Some(30)));
        assert_eq!(k.interval(), Duration::from_secs(10));
        // A restarted server with a longer timeout: back to the configured interval.
        assert!(k.on_server_timeout(Some(120)));
        assert_eq!(k.interval(), Duration::from_secs(25));
        assert!(!k.on_server_timeout(Some(0)));
        // Never below the floor.
        k.on_server_timeout(Some(1));
        assert_eq!(k.interval(), MIN_KEEPALIVE);
        assert_eq!(k.tick_period(), Duration::from_millis(100));
    }

    #[tokio::test]
    async fn attempts_follow_the_schedule_and_stop_when_used_up() {
        let connector: Arc<dyn Connector> = Arc::new(Refusing);
        let p = policy(Some(2));
        let now = Instant::now();
        let mut r = Reconnect::new(now);
        assert!(r.start_attempt(&p, &connector, Duration::from_secs(1), now));
        assert_eq!(r.next_at, Some(now + p.delay(1)));
        assert!(r.start_attempt(&p, &connector, Duration::from_secs(1), now));
        assert_eq!(r.next_at, None, "no third attempt scheduled");
        assert!(!r.start_attempt(&p, &connector, Duration::from_secs(1), now));
        let e = Error::transport("refused");
        assert_eq!(r.on_failure(&p, &e, now), AfterFailure::Retry);
        assert!(matches!(r.on_failure(&p, &e, now), AfterFailure::GiveUp(_)));
        assert_eq!(r.failed(), 2);
    }

    #[tokio::test]
    async fn an_unauthorized_attempt_gives_up_at_once() {
        let p = policy(None);
        let mut r = Reconnect::new(Instant::now());
        let e = Error::janus(crate::codes::UNAUTHORIZED, "Unauthorized request");
        match r.on_failure(&p, &e, Instant::now()) {
            AfterFailure::GiveUp(reason) => assert!(reason.contains("Unauthorized"), "{reason}"),
            AfterFailure::Retry => panic!("must give up"),
        }
    }

    #[tokio::test]
    async fn a_failure_with_nothing_scheduled_retries_now() {
        let connector: Arc<dyn Connector> = Arc::new(Refusing);
        let p = policy(None);
        let now = Instant::now();
        let mut r = Reconnect::new(now);
        r.start_attempt(&p, &connector, Duration::from_secs(1), now);
        r.next_at = None;
        let mut link = Link::Down(r);
        // The attempt in flight fails.
        let LinkEvent::Attempt(Err(e)) = link.next().await else {
            panic!("expected the failed attempt");
        };
        let Link::Down(r) = &mut link else {
            unreachable!()
        };
        assert_eq!(r.on_failure(&p, &e, now), AfterFailure::Retry);
        assert_eq!(r.next_at, Some(now));
        assert!(matches!(link.next().await, LinkEvent::AttemptDue));
    }

    #[test]
    fn the_link_is_usable_only_when_up_recovered_and_answering() {
        struct Idle;
        #[async_trait]
        impl Transport for Idle {
            async fn send(&mut self, _: crate::OutgoingMessage) -> Result<(), Error> {
                Ok(())
            }
            async fn recv(&mut self) -> Result<TransportEvent, Error> {
                futures::future::pending().await
            }
        }
        let mut link = Link::up(Box::new(Idle), 1);
        assert!(!link.usable());
        assert!(link.recovery_step());
        assert!(link.usable());
        assert!(link.interrupt() && !link.interrupt());
        assert!(!link.usable());
        assert!(link.restore() && link.usable());
        assert!(link.go_down(Instant::now()).is_some());
        assert!(!link.usable() && !link.is_up());
        assert!(link.close("bye".into()).is_none());
        assert!(link.is_closed());
    }
}
