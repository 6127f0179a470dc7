//! The transport: `POST`s and long polls run inside [`HttpTransport::recv`]; the monitor
//! task (see `health.rs`) decides whether the server answers.
//!
//! Each `POST`, and each round of a session's long poll (one `GET`), is a future owned by
//! the transport and polled by `recv`, which the core's connection task always awaits when
//! idle: a reply reaches the core with no task switch in between (the connection's own I/O
//! runs in reqwest's connection tasks). What a poll round brings decides, in `recv`, whether
//! and when the next round starts. There are as many futures as requests in flight plus
//! one per polled session.
//!
//! `POST`s in flight are bounded by [`HttpOptions::max_connections`] (more wait their turn,
//! in order, within their deadline) and polled sessions by [`HttpOptions::max_long_polls`].
//! The monitor reports through a channel that `recv` also drains.

use async_trait::async_trait;
use futures::future::{AbortHandle, Abortable};
use futures::stream::{FuturesUnordered, StreamExt};
use janus_core::{Error, HandleId, OutgoingMessage, SessionId, Transport, TransportEvent, Verb};
use reqwest::header::CONTENT_TYPE;
use reqwest::StatusCode;
use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{mpsc, watch, Notify, Semaphore};
use tokio::time::Instant;
use tracing::{debug, info};

use crate::health::{Health, Item};
use crate::options::HttpOptions;
use crate::wire::{describe, read_body, status_error, Body, Urls};

/// Capacity of the channel from the monitor to [`HttpTransport::recv`] (it sends one item
/// at a time and waits).
pub(crate) const EVENT_BUFFER: usize = 4;

/// Janus closes a `POST` its core has not answered within 10 s, without any reply
/// (`transports/janus_http.c` returns `MHD_NO`). A connection that closes without a reply
/// after at least this long is taken for that.
const JANUS_POST_ABORT: Duration = Duration::from_secs(9);

/// Bodies read only to keep a connection reusable (error replies) are capped at this.
const DRAIN_LIMIT: usize = 64 * 1024;

/// What one finished `POST` hands to `recv`: its reply, or why there is none, after a
/// [`TransportEvent::Malformed`] when the body had to be dropped.
struct PostDone {
    malformed: Option<TransportEvent>,
    event: TransportEvent,
    /// The session an `attach` was for: it no longer reserves a long poll.
    attach_for: Option<SessionId>,
}

type PostFuture = Pin<Box<dyn Future<Output = PostDone> + Send>>;

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

struct PollRound {
    session: SessionId,
    outcome: PollOutcome,
    /// The retry delay in force after this round.
    delay: Duration,
}

type PollFuture = Abortable<Pin<Box<dyn Future<Output = PollRound> + Send>>>;

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

/// What the tasks of one transport share.
pub(crate) struct Shared {
    pub(crate) client: reqwest::Client,
    pub(crate) urls: Urls,
    pub(crate) options: Arc<HttpOptions>,
    pub(crate) events: mpsc::Sender<Item>,
    health: Mutex<Health>,
    /// Wakes the monitor: a failure to report, or a recovery.
    pub(crate) kick: Notify,
    /// One permit per `POST` in flight ([`HttpOptions::max_connections`]).
    permits: Arc<Semaphore>,
    /// `POST`s sent and not yet handed back by `recv`.
    in_flight: AtomicUsize,
    /// A long poll of this transport was refused with 403 already.
    poll_refused: AtomicBool,
    /// Sessions, their handles and their poll rounds. Shared with the rounds, which look
    /// at it at the end of a pause.
    polls: Mutex<HashMap<SessionId, PollState>>,
}

/// Runs `fut` until it ends or the transport stops.
pub(crate) async fn guarded<F>(mut stop: watch::Receiver<bool>, fut: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    tokio::select! {
        biased;
        // Ends on `true` and also when the sender is dropped with the transport.
        _ = stop.wait_for(|stopped| *stopped) => {}
        () = fut => {}
    }
}

impl Shared {
    pub(crate) fn new(
        client: reqwest::Client,
        urls: Urls,
        options: Arc<HttpOptions>,
        events: mpsc::Sender<Item>,
    ) -> Self {
        let permits = Arc::new(Semaphore::new(options.max_connections));
        Shared {
            client,
            urls,
            options,
            events,
            health: Mutex::new(Health::new()),
            kick: Notify::new(),
            permits,
            in_flight: AtomicUsize::new(0),
            poll_refused: AtomicBool::new(false),
            polls: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn health(&self) -> MutexGuard<'_, Health> {
        // The lock is never held across an await or a call that could panic.
        self.health.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn polls(&self) -> MutexGuard<'_, HashMap<SessionId, PollState>> {
        // Never held across an await.
        self.polls.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `POST`s sent and not yet handed back.
    pub(crate) fn requests_in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Whether any session is being polled.
    pub(crate) fn polling(&self) -> bool {
        self.polls().values().any(|p| p.round.is_some())
    }

    /// `GET <base>/info`: Ok when the server answers 2xx.
    pub(crate) async fn check_info(&self) -> Result<(), Error> {
        let resp = self
            .client
            .get(self.urls.info())
            .timeout(self.options.probe_timeout)
            .send()
            .await
            .map_err(|e| crate::wire::info_send_error(e, &self.urls.info()))?;
        let status = resp.status();
        // Read the (small) body so the connection goes back to the pool.
        read_body(resp, self.options.max_body_bytes)
            .await
            .map_err(|e| crate::wire::info_send_error(e, &self.urls.info()))?;
        if status.is_success() {
            Ok(())
        } else {
            Err(crate::wire::info_status_error(status, &self.urls.info()))
        }
    }

    /// Sends one request once a connection is free; its reply, or why there is none.
    async fn post(self: Arc<Self>, msg: OutgoingMessage) -> PostDone {
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
        let done = |event| PostDone {
            malformed: None,
            event,
            attach_for,
        };
        // Wait for a connection, in order, no longer than the caller waits.
        let acquire = self.permits.clone().acquire_owned();
        let permit = match deadline {
            Some(at) => tokio::time::timeout_at(at, acquire).await.ok(),
            None => Some(acquire.await),
        };
        let _permit = match permit {
            Some(Ok(p)) => p,
            Some(Err(_)) => {
                let error = Error::transport_closed("the transport was closed", true);
                return done(TransportEvent::RequestFailed { transaction, error });
            }
            None => {
                // Never sent: the caller gave up while it waited for a connection.
                let waited = deadline.map(|d| d.saturating_duration_since(Instant::now()));
                debug!(request = verb.name(), %transaction, ?waited, "request dropped before a connection was free");
                let error = Error::timeout(self.options.request_timeout);
                return done(TransportEvent::RequestFailed { transaction, error });
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
        let event = match result {
            // The core fails the request at once if this does not answer it.
            Ok(text) => TransportEvent::Reply { transaction, text },
            Err(error) => {
                debug!(request = verb.name(), %transaction, %error, "request failed");
                TransportEvent::RequestFailed { transaction, error }
            }
        };
        PostDone {
            malformed,
            event,
            attach_for,
        }
    }

    async fn post_reply(
        self: &Arc<Self>,
        resp: reqwest::Response,
        started: Instant,
        malformed: &mut Option<TransportEvent>,
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
                *malformed = Some(TransportEvent::Malformed {
                    reason: reason.clone(),
                });
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

    /// Whether a paused round should stop waiting: a request went out on the session since
    /// the pause began, or no handle is left.
    fn pause_over(&self, session: SessionId, sent: u64) -> bool {
        self.polls()
            .get(&session)
            .is_none_or(|p| p.sent != sent || p.handles.is_empty())
    }

    /// One round of the long poll of `session`: the pause, then one `GET`.
    async fn poll_round(
        self: Arc<Self>,
        session: SessionId,
        pause: Pause,
        mut delay: Duration,
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
                let wake = self.polls().get(&session).map(|p| p.wake.clone());
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
                    .polls()
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
            options.api_secret.as_ref(),
            options.token.as_ref(),
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
                        if self.poll_refused.swap(true, Ordering::Relaxed) {
                            tokio::time::sleep(options.poll_retry_max_delay).await;
                        }
                        "the long poll was refused (HTTP 403): check the api_secret and token of HttpOptions"
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

/// A connection to Janus over HTTP, made by [`HttpConnector`](crate::HttpConnector).
///
/// Each request is a `POST` of its own (on a pool of kept-alive connections); each session
/// has one long poll (`GET <base>/<session>?maxev=N`) while it has handles, until
/// [`session_closed`](Transport::session_closed), pausing up to
/// [`HttpOptions::poll_coalesce`] after each reply with events. Both run inside
/// [`recv`](Transport::recv), which hands out replies and events in the order they arrive:
/// nothing progresses while `recv` is not polled (the core always polls it).
///
/// - A failed request comes back as [`TransportEvent::RequestFailed`]: an HTTP status other
///   than 2xx as a transport error with that status, a refused or reset connection as one
///   without status, a connection Janus closes without reply after its 10 s limit as a
///   timeout, a body over [`HttpOptions::max_body_bytes`] or not UTF-8 as a protocol error
///   (after a [`TransportEvent::Malformed`]).
/// - A poll answered 404 (session destroyed or timed out) or 403 (the poll's credentials,
///   [`HttpOptions::api_secret`]/[`HttpOptions::token`], are refused) ends with
///   [`TransportEvent::SessionGone`]. Other failures are retried with a growing delay.
/// - At most [`HttpOptions::max_connections`] `POST`s are in flight; more wait their turn
///   (in order, until their deadline). At most [`HttpOptions::max_long_polls`] sessions are
///   polled: an `attach` that would need one more fails at once with
///   [`ErrorKind::Limit`](janus_core::ErrorKind::Limit), without being sent.
/// - A request or poll that breaks at the connection level, or a heartbeat check that gets
///   no answer, is reported as [`TransportEvent::Interrupted`]; when the server answers
///   again, [`TransportEvent::Restored`], and every poll sent before the failure starts
///   again on a fresh connection.
///   When the server stays unreachable for [`HttpOptions::unreachable_timeout`], `recv`
///   returns an error so the client reconnects.
/// - [`close`](Transport::close) stops the polls and lets requests already sent finish;
///   dropping the transport ends all its tasks at once.
pub struct HttpTransport {
    shared: Arc<Shared>,
    events: mpsc::Receiver<Item>,
    stop: watch::Sender<bool>,
    /// The requests in flight, polled by `recv`.
    posts: FuturesUnordered<PostFuture>,
    /// The poll rounds in flight (one per polled session), polled by `recv`.
    rounds: FuturesUnordered<PollFuture>,
    /// What finished requests and rounds brought and `recv` has not handed out yet; with
    /// the session an `attach` reply frees a long-poll place of, once handed out (the core
    /// then says `handle_opened` before it sends anything else, so the count stays exact).
    ready: VecDeque<(TransportEvent, Option<SessionId>)>,
    closed: Option<Error>,
}

impl std::fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpTransport")
            .field("endpoint", &self.shared.urls.endpoint())
            .field("polled_sessions", &self.polled_sessions().len())
            .field("requests_in_flight", &self.posts.len())
            .field("closed", &self.closed.is_some())
            .finish()
    }
}

impl HttpTransport {
    pub(crate) fn new(
        shared: Arc<Shared>,
        events: mpsc::Receiver<Item>,
        stop: watch::Sender<bool>,
    ) -> Self {
        tokio::spawn(guarded(stop.subscribe(), shared.clone().monitor()));
        HttpTransport {
            shared,
            events,
            stop,
            posts: FuturesUnordered::new(),
            rounds: FuturesUnordered::new(),
            ready: VecDeque::new(),
            closed: None,
        }
    }

    /// The sessions being polled.
    pub fn polled_sessions(&self) -> Vec<SessionId> {
        let mut v: Vec<SessionId> = self
            .shared
            .polls()
            .iter()
            .filter(|(_, p)| p.round.is_some())
            .map(|(s, _)| *s)
            .collect();
        v.sort();
        v
    }

    /// Starts the poll of `session` unless it runs or the session has no handle.
    fn ensure_poll(&mut self, session: SessionId) {
        let running = self
            .shared
            .polls()
            .get(&session)
            .is_none_or(|p| p.round.is_some());
        if !running {
            self.next_round(session, Pause::None, self.shared.options.poll_retry_delay);
        }
    }

    /// Starts the next round of the poll of `session`, or parks the poll when the session
    /// has no handle left (or is gone).
    fn next_round(&mut self, session: SessionId, pause: Pause, delay: Duration) {
        if self.closed.is_some() {
            return;
        }
        let mut polls = self.shared.polls();
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
        let round: Pin<Box<dyn Future<Output = PollRound> + Send>> =
            Box::pin(self.shared.clone().poll_round(session, pause, delay));
        self.rounds.push(Abortable::new(round, registration));
        state.round_started = Some(Instant::now());
        if state.round.replace(abort).is_none() {
            debug!(%session, "long poll started");
        }
    }

    /// Takes in what a poll round brought and starts the next one.
    fn after_round(&mut self, round: PollRound) {
        let PollRound {
            session,
            outcome,
            delay,
        } = round;
        let options = &self.shared.options;
        let (pause, delay) = match outcome {
            PollOutcome::Event(event) => {
                self.ready.push_back((event, None));
                // Events wait on the server meanwhile; see `poll_coalesce`.
                (Pause::Coalesce { sent: 0 }, delay)
            }
            // `next_round` parks it unless a handle came meanwhile.
            PollOutcome::Again | PollOutcome::Parked => (Pause::None, delay),
            PollOutcome::Gone(reason) => {
                info!(%session, %reason, "long poll stopped");
                if let Some(p) = self.shared.polls().get_mut(&session) {
                    p.round = None;
                }
                self.ready
                    .push_back((TransportEvent::SessionGone { session, reason }, None));
                return;
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
    }

    /// Starts again, on a fresh connection, every poll sent before an outage that began
    /// at `since`: it may never be answered (a stalled network swallowed it). Polls sent
    /// since are left alone: Janus keeps a poll the client abandons and hands it the
    /// session's next events, which are then lost.
    fn restart_polls(&mut self, since: Instant) {
        let sessions: Vec<SessionId> = {
            let mut polls = self.shared.polls();
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

    /// Whether an `attach` on `session` would need a long poll beyond `max_long_polls`.
    /// Sessions with handles, or with an attach in flight, hold their place.
    fn over_poll_limit(&self, session: SessionId) -> bool {
        let polls = self.shared.polls();
        let holds = |p: &PollState| !p.handles.is_empty() || p.attaching > 0;
        if polls.get(&session).is_some_and(holds) {
            return false;
        }
        polls.values().filter(|p| holds(p)).count() >= self.shared.options.max_long_polls
    }

    /// Ends every poll.
    fn stop_polls(&mut self) {
        for (_, p) in self.shared.polls().drain() {
            if let Some(round) = p.round {
                round.abort();
            }
        }
        self.rounds.clear();
    }

    /// Ends all work at once.
    fn stop_tasks(&mut self) {
        self.stop.send_replace(true);
        self.stop_polls();
        self.posts.clear();
        self.ready.clear();
    }
}

impl Drop for HttpTransport {
    fn drop(&mut self) {
        // Requests and polls are dropped with the transport; the prober watches `stop`.
        self.stop.send_replace(true);
    }
}

#[async_trait]
impl Transport for HttpTransport {
    async fn send(&mut self, msg: OutgoingMessage) -> Result<(), Error> {
        if let Some(e) = &self.closed {
            return Err(e.clone());
        }
        if let (Some(s), Verb::Attach) = (msg.session_id, msg.verb) {
            if self.over_poll_limit(s) {
                let limit = self.shared.options.max_long_polls;
                let error = Error::limit(
                    "http.max_long_polls",
                    limit as u64,
                    format!(
                        "over HTTP each session with handles holds one long poll open, and {limit} \
                         sessions already do; Janus' HTTP server accepts about 1,020 connections \
                         in all, so use fewer sessions with more handles each, or WebSocket"
                    ),
                );
                let failed = TransportEvent::RequestFailed {
                    transaction: msg.transaction,
                    error,
                };
                self.ready.push_back((failed, None));
                return Ok(());
            }
            if let Some(p) = self.shared.polls().get_mut(&s) {
                p.attaching += 1;
            }
        }
        if let Some(s) = msg.session_id {
            if let Some(p) = self.shared.polls().get_mut(&s) {
                // A request may bring events: end the poll's pause. Not a detach: the
                // poll goes on until the core closes the handle (at Janus' `detached`),
                // and after the pause Janus has queued the handle's last events and
                // `detached` together, for one GET; and if a destroy comes first, no GET
                // is left outstanding (Janus would hold it for 30 s, and aborting it costs
                // a connection). Not a destroy either: a poll sent after it gets 404.
                if !matches!(msg.verb, Verb::Detach | Verb::Destroy) {
                    p.sent = p.sent.wrapping_add(1);
                    p.wake.notify_waiters();
                }
            }
        }
        // Polled by `recv`.
        self.shared.in_flight.fetch_add(1, Ordering::Relaxed);
        self.posts.push(Box::pin(self.shared.clone().post(msg)));
        Ok(())
    }

    async fn recv(&mut self) -> Result<TransportEvent, Error> {
        loop {
            if let Some(e) = &self.closed {
                return Err(e.clone());
            }
            if let Some((event, attach_for)) = self.ready.pop_front() {
                if let Some(s) = attach_for {
                    if let Some(p) = self.shared.polls().get_mut(&s) {
                        p.attaching = p.attaching.saturating_sub(1);
                    }
                }
                return Ok(event);
            }
            // Cancel-safe: requests and rounds stay in their sets until done, what they
            // bring goes to `ready` before anything else is awaited, and nothing is taken
            // from the channel before it yields an item. Not biased: neither set starves.
            tokio::select! {
                Some(done) = self.posts.next(), if !self.posts.is_empty() => {
                    self.shared.in_flight.fetch_sub(1, Ordering::Relaxed);
                    if let Some(malformed) = done.malformed {
                        self.ready.push_back((malformed, None));
                    }
                    self.ready.push_back((done.event, done.attach_for));
                }
                Some(round) = self.rounds.next(), if !self.rounds.is_empty() => {
                    // An aborted round (its session closed) brings nothing.
                    if let Ok(round) = round {
                        self.after_round(round);
                    }
                }
                item = self.events.recv() => {
                    let error = match item {
                        Some(Item::Interrupted(reason)) => {
                            return Ok(TransportEvent::Interrupted { reason });
                        }
                        Some(Item::Restored { since }) => {
                            self.restart_polls(since);
                            return Ok(TransportEvent::Restored);
                        }
                        Some(Item::Closed(e)) => e,
                        None => Error::transport_closed("the transport was closed", false),
                    };
                    self.stop_tasks();
                    self.closed = Some(error.clone());
                    return Err(error);
                }
            }
        }
    }

    fn session_opened(&mut self, session: SessionId) {
        if self.closed.is_some() {
            return;
        }
        self.shared.polls().entry(session).or_default();
        self.ensure_poll(session);
    }

    fn session_closed(&mut self, session: SessionId) {
        let removed = self.shared.polls().remove(&session);
        if let Some(round) = removed.and_then(|p| p.round) {
            round.abort();
            debug!(%session, "long poll stopped");
        }
    }

    fn handle_opened(&mut self, session: SessionId, handle: HandleId) {
        if self.closed.is_some() {
            return;
        }
        self.shared
            .polls()
            .entry(session)
            .or_default()
            .handles
            .insert(handle);
        self.ensure_poll(session);
    }

    fn handle_closed(&mut self, session: SessionId, handle: HandleId) {
        // The poll parks at its next reply, or at once if it is paused.
        if let Some(p) = self.shared.polls().get_mut(&session) {
            p.handles.remove(&handle);
            p.wake.notify_waiters();
        }
    }

    async fn close(&mut self) {
        self.closed
            .get_or_insert_with(|| Error::transport_closed("the transport was closed", false));
        self.events.close();
        self.stop_polls();
        // Requests already on their way (a last `destroy` or `detach`) may finish; the core
        // bounds how long it waits for this, and dropping the transport aborts them.
        while self.posts.next().await.is_some() {}
        self.ready.clear();
        self.stop.send_replace(true);
    }
}
