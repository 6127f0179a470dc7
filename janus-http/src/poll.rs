//! The long polls: one `GET <base>/<session>?maxev=N` at a time per session with handles.
//!
//! Each round of a session's poll (a pause, then one `GET`) is a future owned by the
//! [`Poller`] of the transport and polled by [`HttpTransport::recv`](crate::HttpTransport),
//! which hands what the round brought to [`Poller::after_round`]; that decides whether and
//! when the next round starts: after a reply with events, a pause of up to
//! [`HttpOptions::poll_coalesce`](crate::HttpOptions::poll_coalesce) (ended early by a
//! request on the session); after a failure, a growing delay; no round at all once the
//! session has no handle left. At most
//! [`HttpOptions::max_long_polls`](crate::HttpOptions::max_long_polls) sessions are polled,
//! and after an outage [`Poller::restart`] polls afresh every session whose `GET` was sent
//! before it.

use futures::future::{AbortHandle, Abortable};
use futures::stream::FuturesUnordered;
use janus_core::{Credentials, HandleId, SessionId, TransportEvent};
use reqwest::StatusCode;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;
use tracing::{debug, info};

use crate::transport::Shared;
use crate::wire::{describe, read_body, Body, DRAIN_LIMIT};

/// What comes before the `GET` of a poll round.
#[derive(Clone, Copy, Debug)]
enum Pause {
    /// Nothing: the first round, or one after an empty reply or a client-side timeout.
    None,
    /// After a reply with events: up to `poll_coalesce`, ended early by a request on the
    /// session (`sent` moved on from this value) or by its last handle going away.
    Coalesce { sent: u64 },
    /// After a failure.
    Retry(Duration),
}

/// How one round of a session's long poll ended.
enum PollOutcome {
    /// A reply to hand to the core (a frame, or a `Malformed`).
    Event(TransportEvent),
    /// Nothing to hand over (an empty body, a client-side timeout): poll again at once.
    Again,
    /// No handle was left after the pause: no `GET` was sent.
    Parked,
    /// 404 or 403: the session is gone for this transport.
    Gone(String),
    /// A failure worth retrying after a delay.
    Failed(String),
}

/// What one round of a session's long poll brought, for [`Poller::after_round`].
pub(crate) struct PollRound {
    session: SessionId,
    outcome: PollOutcome,
    /// The retry delay in force after this round.
    delay: Duration,
}

/// One poll round in flight, polled by `recv`; aborted when its session closes.
pub(crate) type PollFuture = Abortable<Pin<Box<dyn Future<Output = PollRound> + Send>>>;

/// The long poll of one session.
///
/// A session is polled only while it has handles: nothing else gets asynchronous events,
/// and Janus 1.1.2 does not answer a poll when its session is destroyed; it holds the
/// connection for up to 30 s (a poll aborted by the client stays in CLOSE-WAIT on the server
/// as long), and at about a thousand such connections it stops accepting new ones. Polling
/// stops after the first reply once no handle is left (a detach went out, or the core
/// closed the handle), so a session torn down the usual way (detach, then destroy) leaves
/// no poll behind.
#[derive(Default)]
struct PollState {
    handles: HashSet<HandleId>,
    /// The round in flight; `None` while the session is not polled.
    round: Option<AbortHandle>,
    /// Requests sent on the session so far: one sent during a pause ends it.
    sent: u64,
    /// `attach` requests in flight: each holds a place among the polled sessions.
    attaching: usize,
    /// Wakes a paused round when `sent` moves or the last handle goes.
    wake: Arc<Notify>,
    /// When the round in flight started.
    round_started: Option<Instant>,
}

/// The sessions of one transport, their handles and their poll rounds: shared (in
/// [`Shared`]) with the rounds, which look at it at the end of a pause.
#[derive(Default)]
pub(crate) struct Polls {
    sessions: Mutex<HashMap<SessionId, PollState>>,
    /// A long poll of this transport was refused with 403 already.
    refused: AtomicBool,
}

impl Polls {
    fn lock(&self) -> MutexGuard<'_, HashMap<SessionId, PollState>> {
        // Never held across an await.
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether any session is being polled.
    pub(crate) fn polling(&self) -> bool {
        self.lock().values().any(|p| p.round.is_some())
    }

    /// Reserves a place among the `max` polled sessions for an `attach` on `session`, until
    /// [`attach_done`](Polls::attach_done); `false`, reserving nothing, when that would need
    /// a long poll beyond `max`. Sessions with handles, or with an attach in flight, hold
    /// their place. The look and the reservation are one step, so callers attaching at once
    /// from several tasks cannot overshoot.
    pub(crate) fn reserve_attach(&self, session: SessionId, max: usize) -> bool {
        let mut polls = self.lock();
        let holds = |p: &PollState| !p.handles.is_empty() || p.attaching > 0;
        let placed = polls.get(&session).is_some_and(holds);
        if !placed && polls.values().filter(|p| holds(p)).count() >= max {
            return false;
        }
        if let Some(p) = polls.get_mut(&session) {
            p.attaching += 1;
        }
        true
    }

    /// The reply to an `attach` on `session` was handed out, and its handle (if it got one)
    /// is known: the reservation ends.
    pub(crate) fn attach_done(&self, session: SessionId) {
        if let Some(p) = self.lock().get_mut(&session) {
            p.attaching = p.attaching.saturating_sub(1);
        }
    }

    /// A request that may bring events went out on `session`: a paused round of its poll
    /// stops waiting.
    pub(crate) fn request_sent(&self, session: SessionId) {
        if let Some(p) = self.lock().get_mut(&session) {
            p.sent = p.sent.wrapping_add(1);
            p.wake.notify_waiters();
        }
    }
}

impl Shared {
    /// Whether a paused round should stop waiting: a request went out on the session since
    /// the pause began, or no handle is left.
    fn pause_over(&self, session: SessionId, sent: u64) -> bool {
        self.polls
            .lock()
            .get(&session)
            .is_none_or(|p| p.sent != sent || p.handles.is_empty())
    }

    /// One round of the long poll of `session`: the pause, then one `GET`.
    async fn poll_round(
        self: Arc<Self>,
        session: SessionId,
        pause: Pause,
        mut delay: Duration,
        credentials: Arc<Credentials>,
    ) -> PollRound {
        let options = &self.options;
        let round = |outcome, delay| PollRound {
            session,
            outcome,
            delay,
        };
        match pause {
            Pause::None => {}
            Pause::Retry(d) => tokio::time::sleep(d).await,
            Pause::Coalesce { sent } => {
                let wake = self.polls.lock().get(&session).map(|p| p.wake.clone());
                if let Some(wake) = wake {
                    // Made before the check, so a request sent after it wakes this
                    // (`notify_waiters` reaches every `Notified` made before it).
                    let woken = wake.notified();
                    if !self.pause_over(session, sent) {
                        tokio::select! {
                            () = tokio::time::sleep(options.poll_coalesce) => {}
                            () = woken => {}
                        }
                    }
                }
                if self
                    .polls
                    .lock()
                    .get(&session)
                    .is_none_or(|p| p.handles.is_empty())
                {
                    return round(PollOutcome::Parked, delay);
                }
            }
        }
        // Carries the secrets: never logged.
        let url = self.urls.poll(
            session,
            options.maxev,
            credentials.api_secret.as_ref(),
            credentials.token.as_ref(),
        );
        let sent = self
            .client
            .get(url)
            .timeout(options.long_poll_timeout)
            .send()
            .await;
        let failure = match sent {
            Ok(resp) => {
                let status = resp.status();
                if status == StatusCode::NOT_FOUND || status == StatusCode::FORBIDDEN {
                    self.heard();
                    let reason = if status == StatusCode::NOT_FOUND {
                        "the long poll got HTTP 404: the session no longer exists"
                    } else {
                        // Without a working poll the session gets no events: report it
                        // rather than poll in vain. Credentials that work for POSTs but not
                        // for polls would make a client that re-creates lost sessions loop
                        // (create, poll, 403, ...): from the second refusal on, slow that
                        // down.
                        if self.polls.refused.swap(true, Ordering::Relaxed) {
                            tokio::time::sleep(options.poll_retry_max_delay).await;
                        }
                        "the long poll was refused (HTTP 403): check the api_secret and token of ClientOptions"
                    };
                    return round(PollOutcome::Gone(reason.to_string()), delay);
                }
                if status.is_success() {
                    match read_body(resp, options.max_body_bytes).await {
                        Ok(body) => {
                            self.heard();
                            delay = options.poll_retry_delay;
                            let outcome = match body {
                                Body::Text(text) if text.trim().is_empty() => PollOutcome::Again,
                                // One event, or an array of up to `maxev` (keepalives
                                // included): the core decodes both.
                                Body::Text(text) => PollOutcome::Event(TransportEvent::Frame(text)),
                                other => PollOutcome::Event(TransportEvent::Malformed {
                                    reason: other.problem().unwrap_or_default(),
                                }),
                            };
                            return round(outcome, delay);
                        }
                        Err(e) if e.is_timeout() => {
                            debug!(%session, "long poll body timed out; polling again");
                            return round(PollOutcome::Again, delay);
                        }
                        Err(e) => {
                            let why = describe(e);
                            self.unreachable(&why);
                            why
                        }
                    }
                } else {
                    let why = format!("the long poll got HTTP {status}");
                    if status.is_server_error() {
                        self.unreachable(&why);
                    }
                    let _ = read_body(resp, DRAIN_LIMIT).await;
                    why
                }
            }
            Err(e) if e.is_timeout() && !e.is_connect() => {
                debug!(%session, limit = ?options.long_poll_timeout, "no long-poll reply in time; polling again");
                return round(PollOutcome::Again, delay);
            }
            Err(e) => {
                let why = describe(e);
                self.unreachable(&why);
                why
            }
        };
        round(PollOutcome::Failed(failure), delay)
    }
}

/// Starts, continues, parks and stops the polls of one transport; owned by
/// [`HttpTransport`](crate::HttpTransport), whose `recv` polls [`rounds`](Poller::rounds).
pub(crate) struct Poller {
    shared: Arc<Shared>,
    /// The poll rounds in flight (one per polled session).
    pub(crate) rounds: FuturesUnordered<PollFuture>,
    /// Set by [`stop`](Poller::stop) when the transport closes: no round starts anymore.
    stopped: bool,
    /// What the rounds started from now on send in their query string.
    credentials: Arc<Credentials>,
}

impl Poller {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Poller {
            shared,
            rounds: FuturesUnordered::new(),
            stopped: false,
            credentials: Arc::default(),
        }
    }

    /// The credentials every round started from now on sends.
    pub(crate) fn set_credentials(&mut self, credentials: &Credentials) {
        self.credentials = Arc::new(credentials.clone());
    }

    /// The sessions being polled, sorted.
    pub(crate) fn polled_sessions(&self) -> Vec<SessionId> {
        let mut v: Vec<SessionId> = self
            .shared
            .polls
            .lock()
            .iter()
            .filter(|(_, p)| p.round.is_some())
            .map(|(s, _)| *s)
            .collect();
        v.sort();
        v
    }

    /// A session now exists: it is polled once it has a handle.
    pub(crate) fn session_opened(&mut self, session: SessionId) {
        self.shared.polls.lock().entry(session).or_default();
        self.ensure_poll(session);
    }

    /// A session is gone: its poll stops at once.
    pub(crate) fn session_closed(&mut self, session: SessionId) {
        let removed = self.shared.polls.lock().remove(&session);
        if let Some(round) = removed.and_then(|p| p.round) {
            round.abort();
            debug!(%session, "long poll stopped");
        }
    }

    /// A handle of `session` now exists: the session is polled.
    pub(crate) fn handle_opened(&mut self, session: SessionId, handle: HandleId) {
        self.shared
            .polls
            .lock()
            .entry(session)
            .or_default()
            .handles
            .insert(handle);
        self.ensure_poll(session);
    }

    /// A handle of `session` is gone. The poll parks at its next reply, or at once if it is
    /// paused, when it was the last.
    pub(crate) fn handle_closed(&mut self, session: SessionId, handle: HandleId) {
        if let Some(p) = self.shared.polls.lock().get_mut(&session) {
            p.handles.remove(&handle);
            p.wake.notify_waiters();
        }
    }

    /// Starts the poll of `session` unless it runs or the session has no handle.
    fn ensure_poll(&mut self, session: SessionId) {
        let running = self
            .shared
            .polls
            .lock()
            .get(&session)
            .is_none_or(|p| p.round.is_some());
        if !running {
            self.next_round(session, Pause::None, self.shared.options.poll_retry_delay);
        }
    }

    /// Starts the next round of the poll of `session`, or parks the poll when the session
    /// has no handle left (or is gone).
    fn next_round(&mut self, session: SessionId, pause: Pause, delay: Duration) {
        if self.stopped {
            return;
        }
        let mut polls = self.shared.polls.lock();
        let Some(state) = polls.get_mut(&session) else {
            return;
        };
        if state.handles.is_empty() {
            if state.round.take().is_some() {
                debug!(%session, "no handles left: long poll parked");
            }
            return;
        }
        let pause = match pause {
            Pause::Coalesce { .. } if self.shared.options.poll_coalesce.is_zero() => Pause::None,
            // Counted from now: a request sent after this ends the pause.
            Pause::Coalesce { .. } => Pause::Coalesce { sent: state.sent },
            other => other,
        };
        let (abort, registration) = AbortHandle::new_pair();
        let round: Pin<Box<dyn Future<Output = PollRound> + Send>> = Box::pin(
            self.shared
                .clone()
                .poll_round(session, pause, delay, self.credentials.clone()),
        );
        self.rounds.push(Abortable::new(round, registration));
        state.round_started = Some(Instant::now());
        if state.round.replace(abort).is_none() {
            debug!(%session, "long poll started");
        }
    }

    /// Takes in what a poll round brought and starts the next one; what to hand to the
    /// core, if anything.
    pub(crate) fn after_round(&mut self, round: PollRound) -> Option<TransportEvent> {
        let PollRound {
            session,
            outcome,
            delay,
        } = round;
        let options = &self.shared.options;
        let mut ready = None;
        let (pause, delay) = match outcome {
            PollOutcome::Event(event) => {
                ready = Some(event);
                // Events wait on the server meanwhile; see `poll_coalesce`.
                (Pause::Coalesce { sent: 0 }, delay)
            }
            // `next_round` parks it unless a handle came meanwhile.
            PollOutcome::Again | PollOutcome::Parked => (Pause::None, delay),
            PollOutcome::Gone(reason) => {
                info!(%session, %reason, "long poll stopped");
                if let Some(p) = self.shared.polls.lock().get_mut(&session) {
                    p.round = None;
                }
                return Some(TransportEvent::SessionGone { session, reason });
            }
            PollOutcome::Failed(error) => {
                debug!(%session, %error, retry_in = ?delay, "long poll failed");
                (
                    Pause::Retry(delay),
                    (delay * 2).min(options.poll_retry_max_delay),
                )
            }
        };
        self.next_round(session, pause, delay);
        ready
    }

    /// Starts again, on a fresh connection, every poll sent before an outage that began
    /// at `since`: it may never be answered (a stalled network swallowed it). Polls sent
    /// since are left alone: Janus keeps a poll the client abandons and hands it the
    /// session's next events, which are then lost.
    pub(crate) fn restart(&mut self, since: Instant) {
        let sessions: Vec<SessionId> = {
            let mut polls = self.shared.polls.lock();
            polls
                .iter_mut()
                .filter(|(_, p)| p.round_started.is_some_and(|t| t <= since))
                .filter_map(|(s, p)| {
                    let round = p.round.take()?;
                    round.abort();
                    Some(*s)
                })
                .collect()
        };
        if !sessions.is_empty() {
            debug!(
                sessions = sessions.len(),
                "server answers again: polling afresh"
            );
        }
        let delay = self.shared.options.poll_retry_delay;
        for session in sessions {
            self.next_round(session, Pause::None, delay);
        }
    }

    /// Ends every poll, for good.
    pub(crate) fn stop(&mut self) {
        self.stopped = true;
        for (_, p) in self.shared.polls.lock().drain() {
            if let Some(round) = p.round {
                round.abort();
            }
        }
        self.rounds.clear();
    }
}
