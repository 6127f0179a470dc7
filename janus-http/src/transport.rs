//! The transport: one task per `POST`, one long-poll task per session, and a prober that
//! decides when the server is gone.
//!
//! Every task that produces something pushes it into one bounded channel, which
//! [`HttpTransport::recv`] drains. Only spawned tasks ever wait on that channel, never
//! `send`, `recv` or the session callbacks, so the core's connection task (which both sends
//! and drains) cannot deadlock on it; a full channel just slows the polls down.

use async_trait::async_trait;
use janus_core::{Error, HandleId, OutgoingMessage, SessionId, Transport, TransportEvent};
use reqwest::header::CONTENT_TYPE;
use reqwest::StatusCode;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::{AbortHandle, JoinSet};
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::options::HttpOptions;
use crate::wire::{describe, read_body, status_error, Body, Urls};

/// Capacity of the channel from the tasks to [`HttpTransport::recv`].
pub(crate) const EVENT_BUFFER: usize = 1024;

/// Janus closes a `POST` its core has not answered within 10 s, without any reply
/// (`transports/janus_http.c` returns `MHD_NO`). A connection that closes without a reply
/// after at least this long is taken for that.
const JANUS_POST_ABORT: Duration = Duration::from_secs(9);

/// Bodies read only to keep a connection reusable (error replies) are capped at this.
const DRAIN_LIMIT: usize = 64 * 1024;

/// The shortest time one reachability probe may take.
const MIN_PROBE_TIME: Duration = Duration::from_millis(250);

/// What the tasks hand to `recv`.
pub(crate) enum Item {
    Event(TransportEvent),
    /// The server is unreachable: `recv` returns this error and the core reconnects.
    Closed(Error),
}

#[derive(Default)]
struct Health {
    /// Since when requests fail at the connection level; `None` while all is well.
    failing_since: Option<Instant>,
    /// A prober task is running.
    probing: bool,
    /// The transport has been reported closed.
    closed: bool,
}

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
    task: Option<AbortHandle>,
}

/// What the tasks of one transport share.
pub(crate) struct Shared {
    pub(crate) client: reqwest::Client,
    pub(crate) urls: Urls,
    pub(crate) options: Arc<HttpOptions>,
    pub(crate) events: mpsc::Sender<Item>,
    /// Turns true (or loses its sender) when the transport closes; every task ends then.
    pub(crate) stop: watch::Receiver<bool>,
    health: Mutex<Health>,
    /// A long poll of this transport was refused with 403 already.
    poll_refused: AtomicBool,
    /// Sessions, their handles and their poll tasks.
    polls: Mutex<HashMap<SessionId, PollState>>,
}

/// Runs `fut` until it ends or the transport stops.
async fn guarded<F>(mut stop: watch::Receiver<bool>, fut: F)
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
        stop: watch::Receiver<bool>,
    ) -> Self {
        Shared {
            client,
            urls,
            options,
            events,
            stop,
            health: Mutex::new(Health::default()),
            poll_refused: AtomicBool::new(false),
            polls: Mutex::new(HashMap::new()),
        }
    }

    fn health(&self) -> MutexGuard<'_, Health> {
        // The lock is never held across an await or a call that could panic.
        self.health.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn polls(&self) -> MutexGuard<'_, HashMap<SessionId, PollState>> {
        // Never held across an await.
        self.polls.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// After a poll reply: whether to poll again. Not when the session has no handle left
    /// (the core said `handle_closed`, or a detach went out); the task is then marked as
    /// gone under the same lock, so a handle opened concurrently starts a new one.
    ///
    /// A `detached` in the reply is left to the core: when the server detaches a handle on
    /// its own (a session timeout, an admin request), the `timeout` that tells the rest may
    /// come in a later reply, so this poll must not stop on it.
    fn keep_polling(&self, session: SessionId) -> bool {
        let mut polls = self.polls();
        let Some(state) = polls.get_mut(&session) else {
            return false;
        };
        if state.handles.is_empty() {
            state.task = None;
            debug!(%session, "no handles left: long poll parked");
            return false;
        }
        true
    }

    /// Hands an event to `recv`; false when nobody will ever read it.
    async fn emit(&self, event: TransportEvent) -> bool {
        self.events.send(Item::Event(event)).await.is_ok()
    }

    /// The server answered: whatever failed before is over.
    fn reachable(&self) {
        let mut h = self.health();
        if h.failing_since.take().is_some() {
            info!(endpoint = %self.urls.endpoint(), "server reachable again");
        }
    }

    /// A request failed at the connection level (refused, reset, 5xx): start probing the
    /// server, unless a probe already runs. `why` must hold no secret.
    fn unreachable(self: &Arc<Self>, why: &str) {
        let start_probe = {
            let mut h = self.health();
            if h.closed {
                return;
            }
            if h.failing_since.is_none() {
                h.failing_since = Some(Instant::now());
                warn!(endpoint = %self.urls.endpoint(), error = %why, "request failed at the connection level; probing the server");
            }
            !std::mem::replace(&mut h.probing, true)
        };
        if start_probe {
            let this = self.clone();
            tokio::spawn(guarded(self.stop.clone(), this.probe(why.to_string())));
        }
    }

    /// `GET <base>/info`: Ok when the server answers 2xx.
    pub(crate) async fn check_info(&self) -> Result<(), Error> {
        let resp = self
            .client
            .get(self.urls.info())
            .timeout(self.options.request_timeout)
            .send()
            .await
            .map_err(|e| Error::transport(format!("GET info: {}", describe(e))))?;
        let status = resp.status();
        // Read the (small) body so the connection goes back to the pool.
        read_body(resp, self.options.max_body_bytes)
            .await
            .map_err(|e| Error::transport(format!("GET info: {}", describe(e))))?;
        if status.is_success() {
            Ok(())
        } else {
            Err(status_error(status))
        }
    }

    /// Probes `GET <base>/info` with growing delays until the server answers (all is well
    /// again) or `unreachable_timeout` has passed since the first failure (the transport
    /// reports itself closed, and the core reconnects).
    async fn probe(self: Arc<Self>, mut last_error: String) {
        let window = self.options.unreachable_timeout;
        let mut delay = self.options.poll_retry_delay;
        loop {
            let since = {
                let mut h = self.health();
                match h.failing_since {
                    Some(t) => t,
                    None => {
                        h.probing = false;
                        return;
                    }
                }
            };
            let deadline = since + window;
            let now = Instant::now();
            if now >= deadline {
                self.health().closed = true;
                let reason = format!("server unreachable for {window:?}: {last_error}");
                warn!(endpoint = %self.urls.endpoint(), %reason, "giving up on this connection");
                let _ = self
                    .events
                    .send(Item::Closed(Error::transport_closed(reason, false)))
                    .await;
                return;
            }
            tokio::time::sleep(delay.min(deadline - now)).await;
            delay = (delay * 2).min(self.options.poll_retry_max_delay);
            let budget = deadline
                .saturating_duration_since(Instant::now())
                .max(MIN_PROBE_TIME);
            match tokio::time::timeout(budget, self.check_info()).await {
                Ok(Ok(())) => {
                    let mut h = self.health();
                    h.probing = false;
                    if h.failing_since.take().is_some() {
                        info!(endpoint = %self.urls.endpoint(), "server reachable again");
                    }
                    return;
                }
                Ok(Err(e)) => last_error = e.to_string(),
                Err(_) => last_error = format!("GET info got no answer within {budget:?}"),
            }
        }
    }

    /// Sends one request and hands its reply (or why there is none) to `recv`.
    async fn post(self: Arc<Self>, msg: OutgoingMessage) {
        let OutgoingMessage {
            janus,
            transaction,
            session_id,
            handle_id,
            json,
            ..
        } = msg;
        let url = self.urls.request(session_id, handle_id);
        let started = Instant::now();
        let sent = self
            .client
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .timeout(self.options.request_timeout)
            .body(json)
            .send()
            .await;
        let result = match sent {
            Ok(resp) => self.post_reply(resp, started).await,
            Err(e) => Err(self.post_error(e, started)),
        };
        let event = match result {
            Ok(event) => event,
            Err(error) => {
                debug!(request = janus, %transaction, %error, "request failed");
                TransportEvent::RequestFailed { transaction, error }
            }
        };
        self.emit(event).await;
    }

    async fn post_reply(
        self: &Arc<Self>,
        resp: reqwest::Response,
        started: Instant,
    ) -> Result<TransportEvent, Error> {
        let status = resp.status();
        if !status.is_success() {
            // 403 (CORS, auth), 404 (bad path), 400, or 5xx from something in front of Janus.
            if status.is_server_error() {
                self.unreachable(&format!("POST answered HTTP {status}"));
            } else {
                self.reachable();
            }
            let _ = read_body(resp, DRAIN_LIMIT).await;
            return Err(status_error(status));
        }
        self.reachable();
        match read_body(resp, self.options.max_body_bytes).await {
            Ok(Body::Text(text)) if text.trim().is_empty() => {
                // Janus never answers 200 with nothing; if something does, say so as an HTTP
                // failure with the status. It is not retry-safe: the request did arrive.
                Err(Error::new(janus_core::ErrorKind::Transport {
                    reason: "the server answered with an empty body".into(),
                    status: Some(status.as_u16()),
                }))
            }
            Ok(Body::Text(text)) => Ok(TransportEvent::Frame(text)),
            Ok(body) => {
                let reason = body.problem().unwrap_or_default();
                // Counted as malformed by the core, and the request fails at once instead
                // of waiting for its timeout.
                self.emit(TransportEvent::Malformed {
                    reason: reason.clone(),
                })
                .await;
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

    /// The long poll of one session, until the session is gone or the transport closes.
    async fn poll_loop(self: Arc<Self>, session: SessionId) {
        let options = &self.options;
        // Carries the secrets: never logged.
        let url = self.urls.poll(
            session,
            options.maxev,
            options.api_secret.as_ref(),
            options.token.as_ref(),
        );
        let mut delay = options.poll_retry_delay;
        debug!(%session, "long poll started");
        loop {
            let sent = self
                .client
                .get(url.clone())
                .timeout(options.long_poll_timeout)
                .send()
                .await;
            let failure = match sent {
                Ok(resp) => {
                    let status = resp.status();
                    if status == StatusCode::NOT_FOUND || status == StatusCode::FORBIDDEN {
                        self.reachable();
                        let reason = if status == StatusCode::NOT_FOUND {
                            "the long poll got HTTP 404: the session no longer exists"
                        } else {
                            // Without a working poll the session gets no events: report it
                            // rather than poll in vain. Credentials that work for POSTs but
                            // not for polls would make a client that re-creates lost sessions
                            // loop (create, poll, 403, ...): from the second refusal on, slow
                            // that down.
                            if self.poll_refused.swap(true, Ordering::Relaxed) {
                                tokio::time::sleep(options.poll_retry_max_delay).await;
                            }
                            "the long poll was refused (HTTP 403): check the api_secret and token of HttpOptions"
                        };
                        info!(%session, %reason, "long poll stopped");
                        self.emit(TransportEvent::SessionGone {
                            session,
                            reason: reason.to_string(),
                        })
                        .await;
                        return;
                    }
                    if status.is_success() {
                        match read_body(resp, options.max_body_bytes).await {
                            Ok(body) => {
                                self.reachable();
                                delay = options.poll_retry_delay;
                                let event = match body {
                                    Body::Text(text) if text.trim().is_empty() => continue,
                                    // One event, or an array of up to `maxev` (keepalives
                                    // included): the core decodes both.
                                    Body::Text(text) => TransportEvent::Frame(text),
                                    other => TransportEvent::Malformed {
                                        reason: other.problem().unwrap_or_default(),
                                    },
                                };
                                let again = self.keep_polling(session);
                                if !self.emit(event).await || !again {
                                    return;
                                }
                                // Poll again at once: a GET only counts as activity when it
                                // arrives, and events wait on the server meanwhile.
                                continue;
                            }
                            Err(e) if e.is_timeout() => {
                                debug!(%session, "long poll body timed out; polling again");
                                continue;
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
                    continue;
                }
                Err(e) => {
                    let why = describe(e);
                    self.unreachable(&why);
                    why
                }
            };
            debug!(%session, error = %failure, retry_in = ?delay, "long poll failed");
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(options.poll_retry_max_delay);
        }
    }
}

/// A connection to Janus over HTTP, made by [`HttpConnector`](crate::HttpConnector).
///
/// Each request is a `POST` of its own (on a pool of kept-alive connections); each session
/// has one long poll (`GET <base>/<session>?maxev=N`) from
/// [`session_opened`](Transport::session_opened) to
/// [`session_closed`](Transport::session_closed). Replies and events come back through
/// [`recv`](Transport::recv) in the order they arrive.
///
/// - A failed request comes back as [`TransportEvent::RequestFailed`]: an HTTP status other
///   than 2xx as a transport error with that status, a refused or reset connection as one
///   without status, a connection Janus closes without reply after its 10 s limit as a
///   timeout, a body over [`HttpOptions::max_body_bytes`] or not UTF-8 as a protocol error
///   (after a [`TransportEvent::Malformed`]).
/// - A poll answered 404 (session destroyed or timed out) or 403 (the poll's credentials,
///   [`HttpOptions::api_secret`]/[`HttpOptions::token`], are refused) ends with
///   [`TransportEvent::SessionGone`]. Other failures are retried with a growing delay.
/// - When the server stays unreachable for [`HttpOptions::unreachable_timeout`], `recv`
///   returns an error so the client reconnects.
/// - [`close`](Transport::close) stops the polls and lets requests already sent finish;
///   dropping the transport ends all its tasks at once.
pub struct HttpTransport {
    shared: Arc<Shared>,
    events: mpsc::Receiver<Item>,
    stop: watch::Sender<bool>,
    posts: JoinSet<()>,
    polls: JoinSet<()>,
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
        HttpTransport {
            shared,
            events,
            stop,
            posts: JoinSet::new(),
            polls: JoinSet::new(),
            closed: None,
        }
    }

    /// The sessions whose long poll is running.
    pub fn polled_sessions(&self) -> Vec<SessionId> {
        let mut v: Vec<SessionId> = self
            .shared
            .polls()
            .iter()
            .filter(|(_, p)| p.task.as_ref().is_some_and(|t| !t.is_finished()))
            .map(|(s, _)| *s)
            .collect();
        v.sort();
        v
    }

    /// Starts the poll of `session` unless it runs or the session has no handle.
    fn ensure_poll(&mut self, session: SessionId) {
        if self.closed.is_some() {
            return;
        }
        while self.polls.try_join_next().is_some() {}
        let mut polls = self.shared.polls();
        let Some(state) = polls.get_mut(&session) else {
            return;
        };
        if state.handles.is_empty() || state.task.as_ref().is_some_and(|t| !t.is_finished()) {
            return;
        }
        let shared = self.shared.clone();
        state.task = Some(
            self.polls
                .spawn(guarded(self.stop.subscribe(), shared.poll_loop(session))),
        );
    }

    /// Ends every poll.
    fn stop_polls(&mut self) {
        for (_, p) in self.shared.polls().drain() {
            if let Some(t) = p.task {
                t.abort();
            }
        }
        self.polls.abort_all();
    }

    /// Ends every task at once.
    fn stop_tasks(&mut self) {
        self.stop.send_replace(true);
        self.stop_polls();
        self.posts.abort_all();
    }
}

impl Drop for HttpTransport {
    fn drop(&mut self) {
        // The join sets abort their tasks when dropped; the prober watches `stop`.
        self.stop.send_replace(true);
    }
}

#[async_trait]
impl Transport for HttpTransport {
    async fn send(&mut self, msg: OutgoingMessage) -> Result<(), Error> {
        if let Some(e) = &self.closed {
            return Err(e.clone());
        }
        while self.posts.try_join_next().is_some() {}
        if msg.janus == "detach" {
            // Stop wanting events for it now: the poll then parks after the plugin's last
            // event instead of waiting for `detached` too (one GET less per detach). If the
            // detach fails, the core says `handle_opened` again.
            if let (Some(s), Some(h)) = (msg.session_id, msg.handle_id) {
                if let Some(p) = self.shared.polls().get_mut(&s) {
                    p.handles.remove(&h);
                }
            }
        }
        let shared = self.shared.clone();
        self.posts
            .spawn(guarded(self.stop.subscribe(), shared.post(msg)));
        Ok(())
    }

    async fn recv(&mut self) -> Result<TransportEvent, Error> {
        if let Some(e) = &self.closed {
            return Err(e.clone());
        }
        // Cancel-safe: nothing happens before the channel yields an item.
        let error = match self.events.recv().await {
            Some(Item::Event(event)) => return Ok(event),
            Some(Item::Closed(e)) => e,
            None => Error::transport_closed("the transport was closed", false),
        };
        self.stop_tasks();
        self.closed = Some(error.clone());
        Err(error)
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
        if let Some(task) = removed.and_then(|p| p.task) {
            task.abort();
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
        // The poll itself stops when it sees the `detached` event, or at the next reply.
        if let Some(p) = self.shared.polls().get_mut(&session) {
            p.handles.remove(&handle);
        }
    }

    async fn close(&mut self) {
        self.closed
            .get_or_insert_with(|| Error::transport_closed("the transport was closed", false));
        // Nothing more is wanted from the tasks: their deliveries fail at once from now on.
        self.events.close();
        self.stop_polls();
        // Requests already on their way (a last `destroy` or `detach`) may finish; the core
        // bounds how long it waits for this, and dropping the transport aborts them.
        while self.posts.join_next().await.is_some() {}
        self.stop.send_replace(true);
    }
}
