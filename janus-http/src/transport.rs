//! The transport: [`HttpTransport`] ties together the requests (`post.rs`), the long polls
//! (`poll.rs`) and the monitor task (`health.rs`), which all run inside
//! [`HttpTransport::recv`] or report to it.
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
use futures::stream::{FuturesUnordered, StreamExt};
use janus_core::{
    AnswerOutcome, Credentials, DirectAnswer, DirectSend, Error, HandleId, OutgoingMessage,
    SessionId, Transport, TransportEvent, Verb,
};
use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use tokio::sync::{mpsc, watch, Notify};

use crate::direct::Direct;
use crate::health::{Health, Item};
use crate::options::HttpOptions;
use crate::poll::{Poller, Polls};
use crate::post::{PostFuture, PostSlots};
use crate::wire::{read_body, Urls};

/// Capacity of the channel from the monitor to [`HttpTransport::recv`] (it sends one item
/// at a time and waits).
pub(crate) const EVENT_BUFFER: usize = 4;

/// What the tasks of one transport share.
pub(crate) struct Shared {
    pub(crate) client: reqwest::Client,
    pub(crate) urls: Urls,
    pub(crate) options: Arc<HttpOptions>,
    pub(crate) events: mpsc::Sender<Item>,
    health: Mutex<Health>,
    /// Wakes the monitor: a failure to report, or a recovery.
    pub(crate) kick: Notify,
    /// The bound on `POST`s in flight ([`HttpOptions::max_connections`]).
    pub(crate) posts: PostSlots,
    /// Sessions, their handles and their poll rounds.
    pub(crate) polls: Polls,
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
        let posts = PostSlots::new(options.max_connections);
        Shared {
            client,
            urls,
            options,
            events,
            health: Mutex::new(Health::new()),
            kick: Notify::new(),
            posts,
            polls: Polls::default(),
        }
    }

    pub(crate) fn health(&self) -> MutexGuard<'_, Health> {
        // The lock is never held across an await or a call that could panic.
        self.health.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `POST`s sent and not yet handed back.
    pub(crate) fn requests_in_flight(&self) -> usize {
        self.posts.in_flight()
    }

    /// Whether any session is being polled.
    pub(crate) fn polling(&self) -> bool {
        self.polls.polling()
    }

    /// What comes before a `POST`, sent either way: an `attach` reserves its session's
    /// long poll (`false`, with nothing done, when that would be one beyond
    /// [`HttpOptions::max_long_polls`]), and a request that may bring events ends its
    /// session's poll pause.
    pub(crate) fn before_post(&self, msg: &OutgoingMessage) -> bool {
        if let (Some(s), Verb::Attach) = (msg.session_id, msg.verb) {
            if !self.polls.reserve_attach(s, self.options.max_long_polls) {
                return false;
            }
        }
        if let Some(s) = msg.session_id {
            // A request may bring events: end the poll's pause. Not a detach: the poll goes
            // on until the core closes the handle (at Janus' `detached`), and after the
            // pause Janus has queued the handle's last events and `detached` together, for
            // one GET; and if a destroy comes first, no GET is left outstanding (Janus would
            // hold it for 30 s, and aborting it costs a connection). Not a destroy either: a
            // poll sent after it gets 404.
            if !matches!(msg.verb, Verb::Detach | Verb::Destroy) {
                self.polls.request_sent(s);
            }
        }
        self.posts.started();
        true
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
///   handed over by [`set_credentials`](Transport::set_credentials), are refused) ends with
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
    /// Where callers send their own requests while the link is up; `recv` adopts those
    /// whose callers stopped waiting.
    direct: Arc<Direct>,
    /// The session of the last `attach` reply handed out: its long-poll reservation ends
    /// once the core has said whether the attach opened a handle (the next call into the
    /// transport), so the count of polled sessions never dips in between.
    attach_handed: Option<SessionId>,
    /// The long polls; their rounds in flight (one per polled session) are polled by `recv`.
    poller: Poller,
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
            poller: Poller::new(shared.clone()),
            direct: Arc::new(Direct::new(shared.clone(), stop.subscribe())),
            attach_handed: None,
            shared,
            events,
            stop,
            posts: FuturesUnordered::new(),
            ready: VecDeque::new(),
            closed: None,
        }
    }

    /// The sessions being polled.
    pub fn polled_sessions(&self) -> Vec<SessionId> {
        self.poller.polled_sessions()
    }

    /// Ends all work at once.
    fn stop_tasks(&mut self) {
        self.stop.send_replace(true);
        self.poller.stop();
        self.take_started();
        self.posts.clear();
        self.ready.clear();
    }

    /// Adopts what callers stopped waiting for, without waiting.
    fn take_started(&mut self) {
        let mut cx = Context::from_waker(futures::task::noop_waker_ref());
        if let Poll::Ready(started) = self.direct.poll_started(&mut cx) {
            self.posts.extend(started);
        }
    }

    /// Ends the long-poll reservation of the last `attach` reply handed out.
    fn settle_attach(&mut self) {
        if let Some(s) = self.attach_handed.take() {
            self.shared.polls.attach_done(s);
        }
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
        self.settle_attach();
        if !self.shared.before_post(&msg) {
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
        // Polled by `recv`.
        self.posts.push(Box::pin(self.shared.clone().post(msg)));
        Ok(())
    }

    async fn recv(&mut self) -> Result<TransportEvent, Error> {
        loop {
            if let Some(e) = &self.closed {
                return Err(e.clone());
            }
            self.settle_attach();
            if let Some((event, attach_for)) = self.ready.pop_front() {
                self.attach_handed = attach_for;
                return Ok(event);
            }
            // Cancel-safe: requests and rounds stay in their sets until done, what they
            // bring goes to `ready` before anything else is awaited, and nothing is taken
            // from the channel before it yields an item. Not biased: neither set starves.
            tokio::select! {
                Some(done) = self.posts.next(), if !self.posts.is_empty() => {
                    self.shared.posts.finished();
                    let DirectAnswer { malformed, outcome } = done.answer;
                    if let Some(reason) = malformed {
                        self.ready.push_back((TransportEvent::Malformed { reason }, None));
                    }
                    let event = match outcome {
                        AnswerOutcome::Reply { transaction, text } => {
                            TransportEvent::Reply { transaction, text }
                        }
                        AnswerOutcome::Failed { transaction, error } => {
                            TransportEvent::RequestFailed { transaction, error }
                        }
                    };
                    self.ready.push_back((event, done.attach_for));
                }
                started = poll_fn(|cx| self.direct.poll_started(cx)) => {
                    // Polled from now on with this task's waker (their callers gave up).
                    self.posts.extend(started);
                }
                Some(round) = self.poller.rounds.next(), if !self.poller.rounds.is_empty() => {
                    // An aborted round (its session closed) brings nothing.
                    if let Ok(round) = round {
                        if let Some(event) = self.poller.after_round(round) {
                            self.ready.push_back((event, None));
                        }
                    }
                }
                item = self.events.recv() => {
                    let error = match item {
                        Some(Item::Interrupted(reason)) => {
                            return Ok(TransportEvent::Interrupted { reason });
                        }
                        Some(Item::Restored { since }) => {
                            self.poller.restart(since);
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
        self.poller.session_opened(session);
    }

    fn session_closed(&mut self, session: SessionId) {
        self.poller.session_closed(session);
    }

    fn handle_opened(&mut self, session: SessionId, handle: HandleId) {
        if self.closed.is_some() {
            return;
        }
        self.poller.handle_opened(session, handle);
        // The handle now holds the session's place.
        self.settle_attach();
    }

    fn handle_closed(&mut self, session: SessionId, handle: HandleId) {
        self.poller.handle_closed(session, handle);
    }

    fn attach_answered(&mut self, session: SessionId) {
        // The handle it opened, if any, now holds the session's place.
        self.shared.polls.attach_done(session);
    }

    fn direct(&self) -> Option<Arc<dyn DirectSend>> {
        Some(self.direct.clone())
    }

    /// Kept for the long polls, which carry them in their query string (`POST` bodies
    /// carry their own); polls started before keep what they had.
    fn set_credentials(&mut self, credentials: &Credentials) {
        self.poller.set_credentials(credentials);
    }

    async fn close(&mut self) {
        self.closed
            .get_or_insert_with(|| Error::transport_closed("the transport was closed", false));
        self.events.close();
        self.poller.stop();
        // Requests already on their way (a last `destroy` or `detach`) may finish; the core
        // bounds how long it waits for this, and dropping the transport aborts them.
        self.take_started();
        while self.posts.next().await.is_some() {}
        self.ready.clear();
        self.stop.send_replace(true);
    }
}
