//! One WebSocket connection: frames in and out, and the ping that notices a silent peer.

use async_trait::async_trait;
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use janus_core::{DirectSend, Error, OutgoingMessage, Transport, TransportEvent};
use std::sync::Arc;
use std::pin::Pin;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, Sleep};
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tracing::warn;

use crate::WsOptions;

/// One WebSocket connection to Janus, made by [`WsConnector`](crate::WsConnector).
///
/// - Sends are buffered until the core flushes.
/// - A text or binary message over [`WsOptions::max_message_bytes`] is dropped and reported
///   as [`TransportEvent::Malformed`]; the connection stays up. A message so large that
///   reading it would take more than 4 × `max_message_bytes` (at least 1 MiB) cannot be
///   skipped: it is reported as malformed, then the connection is closed, and the client
///   reconnects.
/// - When nothing has come from the server for [`WsOptions::ping_interval`], a ping goes
///   out; without any frame within [`WsOptions::ping_timeout`] after it, the connection is
///   taken for dead.
pub struct WsTransport {
    stream: SplitStream<Ws>,
    /// To the writer task, which owns the sending half and flushes whenever its queue is
    /// empty: writes overlap with reading and with the connection task's own work.
    writer: mpsc::Sender<Message>,
    /// Why the writer stopped, once it has.
    writer_error: watch::Receiver<Option<Error>>,
    writer_task: Option<tokio::task::JoinHandle<()>>,
    ping_interval: Option<Duration>,
    ping_timeout: Duration,
    /// Wakes `recv` when a ping is due or overdue; moved forward lazily, when it fires.
    timer: Pin<Box<Sleep>>,
    /// When the last frame came.
    last_frame: Instant,
    /// When the ping now waiting for an answer went out.
    ping_sent: Option<Instant>,
    max_message_bytes: usize,
    /// An error `recv` returns next (after reporting the message that caused it).
    closing: Option<Error>,
}

impl std::fmt::Debug for WsTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsTransport")
            .field("ping_interval", &self.ping_interval)
            .field("ping_timeout", &self.ping_timeout)
            .field("max_message_bytes", &self.max_message_bytes)
            .finish_non_exhaustive()
    }
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Frames queued for the writer task at most; a peer that stops reading fills it, and the
/// connection task's bounded wait for room then takes the connection for dead.
const WRITE_QUEUE: usize = 1024;

/// The writer task's queue, for requests sent without the connection task.
struct WsDirect(mpsc::Sender<Message>);

impl DirectSend for WsDirect {
    fn try_send(&self, json: String) -> Result<(), String> {
        self.0
            .try_send(Message::Text(json.into()))
            .map_err(|e| match e.into_inner() {
                Message::Text(t) => t.as_str().to_owned(),
                _ => String::new(),
            })
    }
}

/// Writes what comes on `rx`, flushing once the queue is empty; stops at the first error
/// (said on `error`) or when the transport is gone (then it closes the connection).
async fn write_loop(
    mut sink: SplitSink<Ws, Message>,
    mut rx: mpsc::Receiver<Message>,
    error: watch::Sender<Option<Error>>,
) {
    let fail = |e: tungstenite::Error| {
        let _ = error.send(Some(Error::transport_closed(
            format!("WebSocket send: {e}"),
            true,
        )));
    };
    while let Some(msg) = rx.recv().await {
        if let Err(e) = sink.feed(msg).await {
            return fail(e);
        }
        while let Ok(msg) = rx.try_recv() {
            if let Err(e) = sink.feed(msg).await {
                return fail(e);
            }
        }
        if let Err(e) = sink.flush().await {
            return fail(e);
        }
    }
    let _ = sink.close().await;
}

impl WsTransport {
    pub(crate) fn new(ws: Ws, options: &WsOptions) -> Self {
        let now = Instant::now();
        let first = options.ping_interval.unwrap_or(Duration::from_secs(3600));
        let (sink, stream) = ws.split();
        let (writer, rx) = mpsc::channel(WRITE_QUEUE);
        let (error_tx, writer_error) = watch::channel(None);
        let writer_task = tokio::spawn(write_loop(sink, rx, error_tx));
        WsTransport {
            stream,
            writer,
            writer_error,
            writer_task: Some(writer_task),
            ping_interval: options.ping_interval,
            ping_timeout: options.ping_timeout,
            timer: Box::pin(tokio::time::sleep_until(now + first)),
            last_frame: now,
            ping_sent: None,
            max_message_bytes: options.max_message_bytes,
            closing: None,
        }
    }

    /// The timer fired: send a ping when one is due, give up when one is overdue, or
    /// move the timer to when one of those can happen.
    async fn on_timer(&mut self, interval: Duration) -> Result<(), Error> {
        let now = Instant::now();
        if let Some(sent) = self.ping_sent {
            let deadline = sent + self.ping_timeout;
            if now >= deadline {
                return Err(Error::transport_closed(
                    format!(
                        "the server did not answer a ping within {:?}",
                        self.ping_timeout
                    ),
                    true,
                ));
            }
            self.timer.as_mut().reset(deadline);
            return Ok(());
        }
        let due = self.last_frame + interval;
        if now < due {
            self.timer.as_mut().reset(due);
            return Ok(());
        }
        self.ping_sent = Some(now);
        self.timer.as_mut().reset(now + self.ping_timeout);
        // A full queue means writes are stuck: the ping's timeout then says so.
        let _ = self.writer.try_send(Message::Ping(Vec::new().into()));
        Ok(())
    }

    /// Why the writer stopped: its own error, or a generic one.
    fn writer_gone(&self) -> Error {
        self.writer_error
            .borrow()
            .clone()
            .unwrap_or_else(|| Error::transport_closed("the WebSocket writer stopped", true))
    }

    /// What one message from the server becomes.
    fn on_message(&mut self, next: Option<Result<Message, tungstenite::Error>>) -> Step {
        let text = match next {
            Some(Ok(Message::Text(t))) => t.to_string(),
            Some(Ok(Message::Binary(b))) => match String::from_utf8(b.to_vec()) {
                Ok(s) => s,
                Err(_) => {
                    return Step::Deliver(TransportEvent::Malformed {
                        reason: "binary frame that is not UTF-8".into(),
                    })
                }
            },
            Some(Ok(Message::Close(frame))) => {
                let why = frame
                    .map(|f| format!("closed by the server ({}: {})", f.code, f.reason))
                    .unwrap_or_else(|| "closed by the server".into());
                return Step::Fail(Error::transport_closed(why, true));
            }
            // Ping, pong, raw frames.
            Some(Ok(_)) => return Step::Skip,
            Some(Err(tungstenite::Error::Capacity(e))) => {
                // tungstenite cannot skip the rest of such a message: report it, then close.
                warn!(error = %e, "message too large to skip; closing the connection");
                self.closing = Some(Error::transport_closed(
                    format!("the server sent a message too large to skip ({e})"),
                    true,
                ));
                return Step::Deliver(TransportEvent::Malformed {
                    reason: format!("message too large: {e}"),
                });
            }
            Some(Err(e)) => {
                return Step::Fail(Error::transport_closed(format!("WebSocket: {e}"), true))
            }
            None => {
                return Step::Fail(Error::transport_closed(
                    "the server closed the connection",
                    true,
                ))
            }
        };
        if text.len() > self.max_message_bytes {
            warn!(
                bytes = text.len(),
                limit = self.max_message_bytes,
                "oversized message dropped"
            );
            return Step::Deliver(TransportEvent::Malformed {
                reason: format!(
                    "message of {} bytes over the {} byte bound",
                    text.len(),
                    self.max_message_bytes
                ),
            });
        }
        Step::Deliver(TransportEvent::Frame(text))
    }
}

/// What `recv` does with one message.
enum Step {
    Deliver(TransportEvent),
    Skip,
    Fail(Error),
}

#[async_trait]
impl Transport for WsTransport {
    async fn send(&mut self, msg: OutgoingMessage) -> Result<(), Error> {
        // The core serializes compactly: no whitespace after the closing brace (trap 2).
        // The writer task flushes once its queue is empty.
        if self
            .writer
            .send(Message::Text(msg.json.into()))
            .await
            .is_err()
        {
            return Err(self.writer_gone());
        }
        Ok(())
    }

    async fn recv(&mut self) -> Result<TransportEvent, Error> {
        loop {
            if let Some(e) = self.closing.take() {
                return Err(e);
            }
            let interval = self.ping_interval;
            tokio::select! {
                Ok(()) = self.writer_error.changed() => {
                    return Err(self.writer_gone());
                }
                next = self.stream.next() => {
                    // Any frame proves the peer is alive.
                    self.last_frame = Instant::now();
                    self.ping_sent = None;
                    match self.on_message(next) {
                        Step::Deliver(event) => return Ok(event),
                        Step::Skip => continue,
                        Step::Fail(e) => return Err(e),
                    }
                }
                () = &mut self.timer, if interval.is_some() => {
                    if let Some(interval) = interval {
                        self.on_timer(interval).await?;
                    }
                }
            }
        }
    }

    fn direct(&self) -> Option<Arc<dyn DirectSend>> {
        Some(Arc::new(WsDirect(self.writer.clone())))
    }

    async fn close(&mut self) {
        // The writer closes the connection once its queue is drained and this end is gone.
        let (closed, _) = mpsc::channel(1);
        drop(std::mem::replace(&mut self.writer, closed));
        if let Some(mut task) = self.writer_task.take() {
            // A sender still held elsewhere, or a peer that does not read: not for long.
            if tokio::time::timeout(Duration::from_secs(1), &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
    }
}

impl Drop for WsTransport {
    fn drop(&mut self) {
        // The writer task never outlives its connection.
        if let Some(task) = self.writer_task.take() {
            task.abort();
        }
    }
}
