//! The sending half of one WebSocket: a frame is written at once by whoever sends it (the
//! connection task, or a caller on the client's direct path) when the socket takes it
//! without waiting, which is almost always; otherwise it is queued and a writer task of the
//! connection finishes the job. A request sent while others wait for their answers is
//! flushed by that task, so that under load several requests share one write (fewer system
//! calls here and in Janus); one sent alone is flushed at once. No lock is held across an
//! await: the lock covers one poll of the sink.

use futures::stream::SplitSink;
use futures::task::noop_waker_ref;
use futures::Sink;
use janus_core::{DirectSend, Error, OutgoingMessage, Sent};
use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use tokio::net::TcpStream;
use tokio::sync::{watch, Notify};
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Frames queued for the writer task at most; a peer that stops reading fills the socket,
/// then this queue, and the connection task's bounded wait for room takes the connection
/// for dead.
const QUEUE: usize = 1024;

struct State {
    sink: SplitSink<Ws, Message>,
    /// Frames the socket could not take at once, oldest first.
    queue: VecDeque<Message>,
    /// A flush the socket could not finish at once.
    unflushed: bool,
    /// No more frames: the task closes the connection once the queue is written.
    closing: bool,
}

/// What [`Writer::write`] did with a frame.
pub(crate) enum Written {
    /// Written, or queued for the writer task.
    Taken,
    /// The queue is full: the frame comes back.
    Full(Message),
    /// Writing failed for good; the frame comes back unless the socket had taken it.
    Failed(Error, Option<Message>),
}

pub(crate) struct Writer {
    state: Mutex<State>,
    /// Work for the writer task.
    work: Notify,
    /// Room in the queue again.
    room: Notify,
    /// Why writing stopped, once it has.
    failed: watch::Sender<Option<Error>>,
}

fn send_error(e: tungstenite::Error) -> Error {
    Error::transport_closed(format!("WebSocket send: {e}"), true)
}

impl Writer {
    pub(crate) fn new(sink: SplitSink<Ws, Message>) -> Arc<Writer> {
        Arc::new(Writer {
            state: Mutex::new(State {
                sink,
                queue: VecDeque::new(),
                unflushed: false,
                closing: false,
            }),
            work: Notify::new(),
            room: Notify::new(),
            failed: watch::channel(None).0,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Why writing stopped; changes once.
    pub(crate) fn failed(&self) -> watch::Receiver<Option<Error>> {
        self.failed.subscribe()
    }

    fn fail(&self, e: Error) -> Error {
        self.failed.send_replace(Some(e.clone()));
        // Whoever waits for room learns it at once.
        self.room.notify_waiters();
        e
    }

    /// Writes `msg` now when the socket takes it without waiting, or queues it for the
    /// writer task; never waits. `at_once` flushes it now too; otherwise the writer task
    /// flushes it, with whatever else is written before it runs.
    pub(crate) fn write(&self, msg: Message, at_once: bool) -> Written {
        if let Some(e) = self.failed.borrow().clone() {
            return Written::Failed(e, Some(msg));
        }
        let mut st = self.lock();
        if st.closing {
            let e = Error::transport_closed("the connection is closing", true);
            return Written::Failed(e, Some(msg));
        }
        // Behind queued frames, or while the task finishes a flush: in order, through it.
        if !st.queue.is_empty() || st.unflushed {
            if st.queue.len() >= QUEUE {
                return Written::Full(msg);
            }
            st.queue.push_back(msg);
            drop(st);
            self.work.notify_one();
            return Written::Taken;
        }
        // A waker that is never woken: a `Pending` here hands the work to the task, which
        // polls again with its own.
        let mut cx = Context::from_waker(noop_waker_ref());
        let sink = Pin::new(&mut st.sink);
        match sink.poll_ready(&mut cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => return Written::Failed(self.fail(send_error(e)), Some(msg)),
            Poll::Pending => {
                st.queue.push_back(msg);
                drop(st);
                self.work.notify_one();
                return Written::Taken;
            }
        }
        if let Err(e) = Pin::new(&mut st.sink).start_send(msg) {
            return Written::Failed(self.fail(send_error(e)), None);
        }
        if !at_once {
            // Others are in flight: the writer task flushes, after whatever else is written
            // meanwhile (one write for several requests under load).
            st.unflushed = true;
            drop(st);
            self.work.notify_one();
            return Written::Taken;
        }
        match Pin::new(&mut st.sink).poll_flush(&mut cx) {
            Poll::Ready(Ok(())) => Written::Taken,
            Poll::Ready(Err(e)) => Written::Failed(self.fail(send_error(e)), None),
            Poll::Pending => {
                st.unflushed = true;
                drop(st);
                self.work.notify_one();
                Written::Taken
            }
        }
    }

    /// Writes `msg`, waiting for room in the queue when it is full; `at_once` as for
    /// [`write`](Writer::write).
    pub(crate) async fn write_waiting(&self, mut msg: Message, at_once: bool) -> Result<(), Error> {
        loop {
            let room = self.room.notified();
            match self.write(msg, at_once) {
                Written::Taken => return Ok(()),
                Written::Failed(e, _) => return Err(e),
                Written::Full(m) => {
                    msg = m;
                    room.await;
                }
            }
        }
    }

    /// No more frames: the task closes the connection once what is queued is written.
    pub(crate) fn close(&self) {
        self.lock().closing = true;
        self.work.notify_one();
    }

    /// The writer task: writes what was queued and finishes flushes, with a real waker.
    pub(crate) async fn run(self: Arc<Self>) {
        loop {
            self.work.notified().await;
            let done = futures::future::poll_fn(|cx| self.poll_work(cx)).await;
            if done {
                return;
            }
        }
    }

    /// Drives the queue and the pending flush. `Ready(true)` when the task is done (closed,
    /// or failed), `Ready(false)` when there is nothing left to do.
    fn poll_work(&self, cx: &mut Context<'_>) -> Poll<bool> {
        let mut st = self.lock();
        let mut wrote = false;
        while !st.queue.is_empty() {
            match Pin::new(&mut st.sink).poll_ready(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => {
                    self.fail(send_error(e));
                    return Poll::Ready(true);
                }
                Poll::Pending => return Poll::Pending,
            }
            let Some(msg) = st.queue.pop_front() else {
                break;
            };
            if let Err(e) = Pin::new(&mut st.sink).start_send(msg) {
                self.fail(send_error(e));
                return Poll::Ready(true);
            }
            wrote = true;
        }
        if wrote {
            self.room.notify_waiters();
        }
        if wrote || st.unflushed {
            match Pin::new(&mut st.sink).poll_flush(cx) {
                Poll::Ready(Ok(())) => st.unflushed = false,
                Poll::Ready(Err(e)) => {
                    self.fail(send_error(e));
                    return Poll::Ready(true);
                }
                Poll::Pending => {
                    st.unflushed = true;
                    return Poll::Pending;
                }
            }
        }
        if st.closing {
            // Best effort: the close frame, then the socket.
            return match Pin::new(&mut st.sink).poll_close(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(_) => Poll::Ready(true),
            };
        }
        Poll::Ready(false)
    }
}

/// The writer, for requests sent without the connection task.
pub(crate) struct Direct(pub(crate) Arc<Writer>);

impl DirectSend for Direct {
    fn try_send(&self, mut msg: OutgoingMessage) -> Result<Sent, OutgoingMessage> {
        let json = std::mem::take(&mut msg.json);
        match self.0.write(Message::Text(json.into()), msg.in_flight == 0) {
            Written::Taken => Ok(Sent::Handed),
            Written::Full(Message::Text(t)) | Written::Failed(_, Some(Message::Text(t))) => {
                msg.json = t.as_str().to_owned();
                Err(msg)
            }
            // The socket took part of it and broke: what goes the slow way then is nothing,
            // which fails with the connection (the connection task sees the failure too).
            Written::Full(_) | Written::Failed(..) => Err(msg),
        }
    }
}
