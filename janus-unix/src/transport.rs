//! One SOCK_SEQPACKET connection: one JSON object per packet, both ways.

use async_trait::async_trait;
use janus_core::{DirectSend, Error, OutgoingMessage, Transport, TransportEvent};
use std::collections::VecDeque;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio_seqpacket::UnixSeqpacket;
use tracing::warn;

use crate::options::JANUS_READ_BUFFER;
use crate::UnixOptions;

/// Refused requests held for `recv` at most. The core calls `recv` after each batch of
/// sends, so this holds at most one batch; past it `send` fails (and the client
/// reconnects) rather than grow without bound.
const MAX_REFUSED: usize = 4096;

/// One connection to Janus' pfunix transport (SOCK_SEQPACKET), made by
/// [`UnixConnector`](crate::UnixConnector). Like a WebSocket, it is one client for Janus:
/// the sessions created or claimed on it send their events here.
///
/// - Each request is one packet. A request longer than
///   [`UnixOptions::max_request_bytes`] fails at once with a limit error and is never sent.
/// - A packet longer than [`UnixOptions::max_message_bytes`], or not UTF-8, is reported as
///   [`TransportEvent::Malformed`]; the connection stays up.
/// - No pings: the peer is local, and the kernel reports its end (Janus stopped, or closed
///   the connection) as end of stream at once.
pub struct UnixTransport {
    socket: Arc<UnixSeqpacket>,
    /// Receives one packet; one byte longer than the bound, to tell a packet at the bound
    /// from a longer one.
    buf: Vec<u8>,
    max_message_bytes: usize,
    max_request_bytes: usize,
    send_timeout: Duration,
    /// Requests refused before sending, reported by `recv`.
    refused: VecDeque<TransportEvent>,
}

impl std::fmt::Debug for UnixTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnixTransport")
            .field("max_request_bytes", &self.max_request_bytes)
            .field("max_message_bytes", &self.max_message_bytes)
            .field("send_timeout", &self.send_timeout)
            .finish_non_exhaustive()
    }
}

/// The error of a request too long for Janus' read buffer.
pub(crate) fn too_long(bytes: usize, limit: usize) -> Error {
    Error::limit(
        "unix.max_request_bytes",
        limit as u64,
        format!(
            "request of {bytes} bytes not sent: over {limit} bytes; Janus' Unix socket \
             transport reads at most {JANUS_READ_BUFFER} bytes (its 8 KiB read buffer) per \
             packet and drops a longer request without an answer (use WebSocket or HTTP for \
             large requests such as big SDPs)"
        ),
    )
}

impl UnixTransport {
    pub(crate) fn new(socket: UnixSeqpacket, options: &UnixOptions) -> Self {
        UnixTransport {
            socket: Arc::new(socket),
            buf: vec![0; options.max_message_bytes.saturating_add(1)],
            max_message_bytes: options.max_message_bytes,
            max_request_bytes: options.max_request_bytes,
            send_timeout: options.send_timeout,
            refused: VecDeque::new(),
        }
    }
}

#[async_trait]
impl Transport for UnixTransport {
    async fn send(&mut self, msg: OutgoingMessage) -> Result<(), Error> {
        let bytes = msg.json.len();
        if bytes > self.max_request_bytes {
            if self.refused.len() >= MAX_REFUSED {
                return Err(Error::transport_closed(
                    "too many refused requests not yet reported",
                    true,
                ));
            }
            warn!(bytes, limit = self.max_request_bytes, verb = msg.verb.name(), "request too long for the Unix socket; not sent");
            self.refused.push_back(TransportEvent::RequestFailed {
                transaction: msg.transaction,
                error: too_long(bytes, self.max_request_bytes),
            });
            return Ok(());
        }
        match tokio::time::timeout(self.send_timeout, self.socket.send(msg.json.as_bytes())).await {
            Ok(Ok(n)) if n == bytes => Ok(()),
            Ok(Ok(n)) => Err(Error::transport_closed(
                format!("Unix socket send wrote {n} of {bytes} bytes"),
                false,
            )),
            Ok(Err(e)) => Err(Error::transport_closed(format!("Unix socket send: {e}"), true)
                .with_source(e)),
            Err(_) => Err(Error::transport_closed(
                format!(
                    "the Unix socket took no request for {:?}: Janus is not reading",
                    self.send_timeout
                ),
                true,
            )),
        }
    }

    async fn recv(&mut self) -> Result<TransportEvent, Error> {
        if let Some(event) = self.refused.pop_front() {
            return Ok(event);
        }
        loop {
            // Cancel-safe: a packet is taken from the socket only when this completes.
            let info = self.socket.recv(&mut self.buf).await.map_err(|e| {
                Error::transport_closed(format!("Unix socket receive: {e}"), true).with_source(e)
            })?;
            let n = info.bytes_read();
            if n == 0 {
                // SEQPACKET: end of stream (Janus sends no empty packets).
                return Err(Error::transport_closed(
                    "Janus closed the Unix socket connection",
                    true,
                ));
            }
            if info.truncated() || n > self.max_message_bytes {
                warn!(limit = self.max_message_bytes, "oversized packet dropped");
                return Ok(TransportEvent::Malformed {
                    reason: format!(
                        "packet over the {} byte bound (unix.max_message_bytes)",
                        self.max_message_bytes
                    ),
                });
            }
            let Some(packet) = self.buf.get(..n) else {
                continue;
            };
            return Ok(match std::str::from_utf8(packet) {
                Ok(text) => TransportEvent::Frame(text.to_owned()),
                Err(_) => TransportEvent::Malformed {
                    reason: "packet that is not UTF-8".into(),
                },
            });
        }
    }

    fn direct(&self) -> Option<Arc<dyn DirectSend>> {
        Some(Arc::new(Direct {
            socket: self.socket.clone(),
            max_request_bytes: self.max_request_bytes,
        }))
    }

    async fn close(&mut self) {
        let _ = self.socket.shutdown(std::net::Shutdown::Both);
    }
}

/// Writes a request from the caller's own task when the socket takes it at once.
struct Direct {
    socket: Arc<UnixSeqpacket>,
    max_request_bytes: usize,
}

impl DirectSend for Direct {
    fn try_send(&self, json: String) -> Result<(), String> {
        // A request too long goes the slow way, which refuses it with a clear error.
        if json.len() > self.max_request_bytes {
            return Err(json);
        }
        // A waker that is never woken: `Pending` (a full socket) hands the request back.
        let mut cx = Context::from_waker(Waker::noop());
        match self.socket.poll_send(&mut cx, json.as_bytes()) {
            // A packet is sent whole or not at all.
            Poll::Ready(Ok(_)) => Ok(()),
            // The slow path sends again and meets the error itself.
            Poll::Ready(Err(_)) | Poll::Pending => Err(json),
        }
    }
}
