//! One WebSocket connection: frames in and out, and the ping that notices a silent peer.

use async_trait::async_trait;
use futures::stream::SplitStream;
use futures::StreamExt;
use janus_core::{DirectSend, Error, OutgoingMessage, Transport, TransportEvent};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::{Instant, Sleep};
use tokio_tungstenite::tungstenite::{self, Message};
use tracing::warn;

use crate::writer::{Direct, Writer, Written, Ws};
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
    /// The sending half: written at once when the socket takes it, else by its task.
    writer: Arc<Writer>,
    /// Why writing stopped, once it has.
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

impl WsTransport {
    pub(crate) fn new(ws: Ws, options: &WsOptions) -> Self {
        let now = Instant::now();
        let first = options.ping_interval.unwrap_or(Duration::from_secs(3600));
        let (sink, stream) = ws.split();
        let writer = Writer::new(sink);
        let writer_error = writer.failed();
        let writer_task = tokio::spawn(writer.clone().run());
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
        match self.writer.write(Message::Ping(Vec::new().into()), true) {
            Written::Failed(e, _) => Err(e),
            Written::Taken | Written::Full(_) => Ok(()),
        }
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
        let at_once = msg.in_flight == 0;
        self.writer
            .write_waiting(Message::Text(msg.json.into()), at_once)
            .await
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
        Some(Arc::new(Direct(self.writer.clone())))
    }

    async fn close(&mut self) {
        // The writer task closes the connection once what is queued is written.
        self.writer.close();
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
