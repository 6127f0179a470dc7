//! One connection to Janus' pfunix transport: one JSON object per packet, both ways.
//!
//! # Why writes never hold up reads
//!
//! Janus' pfunix transport serves every client from one thread, on blocking client
//! sockets: it reads one packet, then, when a client has replies queued, writes all of them
//! with blocking `write()`s before it reads again. A client that stops reading while it
//! waits to write can therefore wait forever: Janus' send buffer toward it is full, so Janus
//! stops reading, so the client's send buffer toward Janus stays full. (Seen with a burst of
//! 2,000 messages from 400 handles through the tests' SEQPACKET proxy: every socket of the
//! chain had a full send queue, Janus' pfunix thread slept in `sock_alloc_send_pskb`, and
//! most requests timed out.) So here the connection task never waits for room in the socket
//! without reading: a request the socket does not take at once is queued (bounded), written
//! when the socket has room again (`recv` watches for it), and while that queue is full,
//! `send` keeps reading packets into a bounded inbox that `recv` hands out first.

use async_trait::async_trait;
use janus_core::{DirectSend, Error, OutgoingMessage, Sent, Transport, TransportEvent};
use std::collections::VecDeque;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::net::UnixDatagram;
use tokio::time::{Instant, Sleep};
use tokio_seqpacket::UnixSeqpacket;
use tracing::warn;

use crate::options::JANUS_READ_BUFFER;
use crate::UnixOptions;

/// Refused requests held for `recv` at most. The core calls `recv` after each batch of
/// sends, so this holds at most one batch; past it `send` fails (and the client
/// reconnects) rather than grow without bound.
const MAX_REFUSED: usize = 4096;

/// Requests waiting for room in the socket at most (each at most 8 KiB).
const OUTBOX: usize = 1024;

/// The transaction prefix of the transport's own probes (Janus `ping`); their `pong`s are
/// swallowed, never handed to the core.
const PROBE: &str = "janus-unix-probe-";

/// The socket under a [`UnixTransport`]: a SOCK_SEQPACKET connection, or a SOCK_DGRAM
/// socket bound to a path of the client's own and connected to Janus' socket.
pub(crate) enum Socket {
    Seqpacket(UnixSeqpacket),
    Dgram {
        socket: UnixDatagram,
        /// The client's own socket file, removed when the socket goes.
        path: PathBuf,
    },
}

impl Drop for Socket {
    fn drop(&mut self) {
        if let Socket::Dgram { path, .. } = self {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// What one receive gave: the bytes read and whether the packet was longer than the buffer.
struct Received {
    bytes: usize,
    truncated: bool,
}

impl Socket {
    /// Receives one packet into `buf`. Cancel-safe: a packet is taken only on completion.
    async fn recv(&self, buf: &mut [u8]) -> io::Result<Received> {
        match self {
            Socket::Seqpacket(s) => s.recv(buf).await.map(|info| Received {
                bytes: info.bytes_read(),
                truncated: info.truncated(),
            }),
            Socket::Dgram { socket, .. } => {
                // The kernel cuts a datagram to the buffer and says nothing: the buffer is one
                // byte longer than the bound, so a packet that fills it was too long.
                let bytes = socket.recv(buf).await?;
                Ok(Received {
                    bytes,
                    truncated: bytes >= buf.len(),
                })
            }
        }
    }

    /// Sends one packet if the socket takes it now: `Ok(false)` when it has no room, or
    /// when tokio has not seen it writable yet (a fresh socket, until the reactor's first
    /// event for it): the packet then waits for [`writable`](Self::writable). Never
    /// registers a waker that anything waits on (see [`Direct`]), so any task may call it.
    fn try_send(&self, packet: &[u8]) -> io::Result<bool> {
        let sent = match self {
            Socket::Seqpacket(s) => {
                // `poll_send` stores the waker in the socket's single write-waker slot when
                // the socket is full. Nothing in this crate waits through that slot (the
                // connection task waits with `writable()`, which keeps its own waiter), so
                // a waker that is never woken is harmless here.
                let mut cx = Context::from_waker(Waker::noop());
                match s.poll_send(&mut cx, packet) {
                    Poll::Ready(result) => result?,
                    Poll::Pending => return Ok(false),
                }
            }
            Socket::Dgram { socket, .. } => match socket.try_send(packet) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            },
        };
        if sent == packet.len() {
            Ok(true)
        } else {
            Err(io::Error::other(format!(
                "sent {sent} of {} bytes of a packet",
                packet.len()
            )))
        }
    }

    /// Waits until the socket may take a packet.
    pub(crate) async fn writable(&self) -> io::Result<()> {
        match self {
            Socket::Seqpacket(s) => s.as_async_fd().writable().await.map(drop),
            Socket::Dgram { socket, .. } => socket.writable().await,
        }
    }

    /// Sends one packet, waiting for room (the connect handshake only).
    async fn send(&self, packet: &[u8]) -> io::Result<()> {
        loop {
            if self.try_send(packet)? {
                return Ok(());
            }
            self.writable().await?;
        }
    }

    fn is_dgram(&self) -> bool {
        matches!(self, Socket::Dgram { .. })
    }
}

/// One connection to Janus' pfunix transport, made by [`UnixConnector`](crate::UnixConnector).
/// Over SOCK_SEQPACKET, like a WebSocket, it is one client for Janus: the sessions created
/// or claimed on it send their events here. Over SOCK_DGRAM the client is its own socket
/// file, which the transport removes when it closes.
///
/// - Each request is one packet. A request longer than
///   [`UnixOptions::max_request_bytes`] fails at once with a limit error and is never sent.
/// - A packet longer than [`UnixOptions::max_message_bytes`], or not UTF-8, is reported as
///   [`TransportEvent::Malformed`]; the connection stays up.
/// - Over SOCK_SEQPACKET the kernel reports Janus' end (it stopped, or closed the
///   connection) as end of stream at once; over SOCK_DGRAM the next write fails. A Janus
///   that hangs is noticed by probes: when nothing has come for
///   [`UnixOptions::probe_interval`], a Janus `ping` goes out (its `pong` is swallowed), and
///   without any packet within [`UnixOptions::probe_timeout`] the connection is taken for
///   dead.
/// - Waiting to write never stops reading (see the module's source for why).
pub struct UnixTransport {
    pub(crate) socket: Arc<Socket>,
    /// Receives one packet; one byte longer than the bound, to tell a packet at the bound
    /// from a longer one.
    buf: Vec<u8>,
    max_message_bytes: usize,
    max_request_bytes: usize,
    send_timeout: Duration,
    /// Requests refused before sending, reported by `recv`.
    refused: VecDeque<TransportEvent>,
    /// Requests the socket had no room for yet, oldest first.
    outbox: VecDeque<String>,
    /// Whether `outbox` holds anything: the direct path then stands aside, to keep order.
    backlog: Arc<AtomicBool>,
    /// Packets read while `send` waited for room, handed out by `recv` first.
    inbox: VecDeque<TransportEvent>,
    /// Bytes in `inbox`, bounded by `inbox_limit`.
    inbox_bytes: usize,
    inbox_limit: usize,
    /// The end of the connection, seen while `send` waited; `recv` reports it after the
    /// inbox.
    ended: Option<Error>,
    probe_interval: Option<Duration>,
    probe_timeout: Duration,
    /// Wakes `recv` when a probe is due or overdue; moved forward lazily, when it fires.
    timer: Pin<Box<Sleep>>,
    /// When the last packet came.
    last_packet: Instant,
    /// When the probe now waiting for an answer went out.
    probe_sent: Option<Instant>,
    /// Probes sent so far (their transaction numbers).
    probes: u64,
}

impl std::fmt::Debug for UnixTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnixTransport")
            .field("dgram", &self.socket.is_dgram())
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

fn send_error(e: io::Error) -> Error {
    Error::transport_closed(format!("Unix socket send: {e}"), true).with_source(e)
}

/// What woke `recv` or `send`.
enum Woke {
    Packet(io::Result<Received>),
    Writable(io::Result<()>),
    Timer,
}

impl UnixTransport {
    pub(crate) fn new(socket: Socket, options: &UnixOptions) -> Self {
        UnixTransport {
            socket: Arc::new(socket),
            buf: vec![0; options.max_message_bytes.saturating_add(1)],
            max_message_bytes: options.max_message_bytes,
            max_request_bytes: options.max_request_bytes,
            send_timeout: options.send_timeout,
            refused: VecDeque::new(),
            outbox: VecDeque::new(),
            backlog: Arc::new(AtomicBool::new(false)),
            inbox: VecDeque::new(),
            inbox_bytes: 0,
            // Room for a good burst of replies, and always for one message at the bound.
            inbox_limit: options.max_message_bytes.max(16 << 20),
            ended: None,
            probe_interval: options.probe_interval,
            probe_timeout: options.probe_timeout,
            timer: Box::pin(tokio::time::sleep_until(
                Instant::now() + options.probe_interval.unwrap_or(Duration::from_secs(3600)),
            )),
            last_packet: Instant::now(),
            probe_sent: None,
            probes: 0,
        }
    }

    /// Writes queued requests while the socket takes them, without waiting.
    fn write_out(&mut self) -> Result<(), Error> {
        while let Some(front) = self.outbox.front() {
            if !self.socket.try_send(front.as_bytes()).map_err(send_error)? {
                break;
            }
            self.outbox.pop_front();
        }
        self.backlog
            .store(!self.outbox.is_empty(), Ordering::Release);
        Ok(())
    }

    /// Queues `packet` behind the others (the caller checked the bound).
    fn enqueue(&mut self, packet: String) {
        self.outbox.push_back(packet);
        self.backlog.store(true, Ordering::Release);
    }

    /// What one received packet becomes: an event, nothing (a probe's answer, an empty
    /// datagram), or the end of the connection.
    fn on_packet(
        &mut self,
        received: io::Result<Received>,
    ) -> Result<Option<TransportEvent>, Error> {
        let received = received.map_err(|e| {
            Error::transport_closed(format!("Unix socket receive: {e}"), true).with_source(e)
        })?;
        // Any packet proves Janus is alive.
        self.last_packet = Instant::now();
        self.probe_sent = None;
        let n = received.bytes;
        if n == 0 {
            if self.socket.is_dgram() {
                // An empty datagram: nothing to read in it.
                return Ok(None);
            }
            // SEQPACKET: end of stream (Janus sends no empty packets).
            return Err(Error::transport_closed(
                "Janus closed the Unix socket connection",
                true,
            ));
        }
        if received.truncated || n > self.max_message_bytes {
            warn!(limit = self.max_message_bytes, "oversized packet dropped");
            return Ok(Some(TransportEvent::Malformed {
                reason: format!(
                    "packet over the {} byte bound (unix.max_message_bytes)",
                    self.max_message_bytes
                ),
            }));
        }
        let Some(packet) = self.buf.get(..n) else {
            return Ok(None);
        };
        Ok(match std::str::from_utf8(packet) {
            Ok(text) if is_probe_reply(text) => None,
            Ok(text) => Some(TransportEvent::Frame(text.to_owned())),
            Err(_) => Some(TransportEvent::Malformed {
                reason: "packet that is not UTF-8".into(),
            }),
        })
    }

    /// Waits until the outbox has room, reading packets into the inbox meanwhile (see the
    /// module's doc). Gives up after `send_timeout` without room.
    async fn wait_for_room(&mut self) -> Result<(), Error> {
        let deadline = Instant::now() + self.send_timeout;
        loop {
            self.write_out()?;
            if self.outbox.len() < OUTBOX || self.ended.is_some() {
                return Ok(());
            }
            let read = self.inbox_bytes < self.inbox_limit;
            let socket = self.socket.clone();
            let woke = tokio::select! {
                r = socket.recv(&mut self.buf), if read => Woke::Packet(r),
                r = socket.writable() => Woke::Writable(r),
                () = tokio::time::sleep_until(deadline) => Woke::Timer,
            };
            match woke {
                Woke::Packet(r) => match self.on_packet(r) {
                    Ok(Some(event)) => {
                        self.inbox_bytes += event_bytes(&event);
                        self.inbox.push_back(event);
                    }
                    Ok(None) => {}
                    Err(e) => self.ended = Some(e),
                },
                Woke::Writable(r) => r.map_err(send_error)?,
                Woke::Timer => {
                    return Err(Error::transport_closed(
                        format!(
                            "the Unix socket took no request for {:?}: Janus is not reading",
                            self.send_timeout
                        ),
                        true,
                    ))
                }
            }
        }
    }

    /// The timer fired: send a probe when one is due, give up when one is overdue, or move
    /// the timer to when one of those can happen.
    fn on_timer(&mut self, interval: Duration) -> Result<(), Error> {
        let now = Instant::now();
        if let Some(sent) = self.probe_sent {
            let deadline = sent + self.probe_timeout;
            if now >= deadline {
                return Err(Error::transport_closed(
                    format!(
                        "Janus did not answer on the Unix socket within {:?} of a probe",
                        self.probe_timeout
                    ),
                    true,
                ));
            }
            self.timer.as_mut().reset(deadline);
            return Ok(());
        }
        let due = self.last_packet + interval;
        if now < due {
            self.timer.as_mut().reset(due);
            return Ok(());
        }
        self.probe_sent = Some(now);
        self.timer.as_mut().reset(now + self.probe_timeout);
        self.probes += 1;
        let ping = format!(
            r#"{{"janus":"ping","transaction":"{PROBE}{}"}}"#,
            self.probes
        );
        // Behind what is queued; with the queue full, Janus is not reading and the probe's
        // timeout says so.
        self.write_out()?;
        if self.outbox.is_empty() && self.socket.try_send(ping.as_bytes()).map_err(send_error)? {
            return Ok(());
        }
        if self.outbox.len() < OUTBOX {
            self.enqueue(ping);
        }
        Ok(())
    }
}

/// The bytes an inbox event holds.
fn event_bytes(event: &TransportEvent) -> usize {
    match event {
        TransportEvent::Frame(text) => text.len(),
        _ => 64,
    }
}

/// Sends a probe on a fresh connection and waits up to `timeout` for its answer.
pub(crate) async fn handshake(socket: &Socket, timeout: Duration) -> Result<(), Error> {
    let ping = format!(r#"{{"janus":"ping","transaction":"{PROBE}0"}}"#);
    let exchange = async {
        socket
            .send(ping.as_bytes())
            .await
            .map_err(|e| Error::transport(format!("sending a ping: {e}")).with_source(e))?;
        let mut buf = vec![0u8; 64 << 10];
        let received = socket.recv(&mut buf).await.map_err(|e| {
            Error::transport(format!("reading the answer to a ping: {e}")).with_source(e)
        })?;
        let n = received.bytes;
        if n == 0 && !socket.is_dgram() {
            return Err(Error::transport(
                "the connection closed before Janus answered a ping",
            ));
        }
        match buf.get(..n).and_then(|b| std::str::from_utf8(b).ok()) {
            Some(text) if !received.truncated && is_probe_reply(text) => Ok(()),
            _ => Err(Error::transport(
                "the peer did not answer a Janus ping with JSON: is this Janus' pfunix socket?",
            )),
        }
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(result) => result,
        Err(_) => Err(Error::transport(format!(
            "Janus did not answer a ping within {timeout:?} (unix.probe_timeout)"
        ))),
    }
}

/// Whether `text` answers one of the transport's own probes.
fn is_probe_reply(text: &str) -> bool {
    if !text.contains(PROBE) {
        return false;
    }
    serde_json::from_str::<serde_json::Value>(text).is_ok_and(|v| {
        v.get("transaction")
            .and_then(|t| t.as_str())
            .is_some_and(|t| t.starts_with(PROBE))
    })
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
            warn!(
                bytes,
                limit = self.max_request_bytes,
                verb = msg.verb.name(),
                "request too long for the Unix socket; not sent"
            );
            self.refused.push_back(TransportEvent::RequestFailed {
                transaction: msg.transaction,
                error: too_long(bytes, self.max_request_bytes),
            });
            return Ok(());
        }
        if self.ended.is_some() {
            // The connection is gone; `recv` says so once the inbox is handed out.
            return Ok(());
        }
        self.write_out()?;
        if self.outbox.is_empty()
            && self
                .socket
                .try_send(msg.json.as_bytes())
                .map_err(send_error)?
        {
            return Ok(());
        }
        if self.outbox.len() >= OUTBOX {
            self.wait_for_room().await?;
            if self.ended.is_some() {
                return Ok(());
            }
        }
        self.enqueue(msg.json);
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), Error> {
        // What the socket takes now; `recv` writes the rest when there is room.
        self.write_out()
    }

    async fn recv(&mut self) -> Result<TransportEvent, Error> {
        if let Some(event) = self.refused.pop_front() {
            return Ok(event);
        }
        if let Some(event) = self.inbox.pop_front() {
            self.inbox_bytes = self.inbox_bytes.saturating_sub(event_bytes(&event));
            return Ok(event);
        }
        if let Some(e) = self.ended.take() {
            return Err(e);
        }
        loop {
            let interval = self.probe_interval;
            let write = !self.outbox.is_empty();
            let socket = self.socket.clone();
            // Every branch is cancel-safe: a packet is taken from the socket only when its
            // future completes, and waiting for room takes nothing.
            let woke = tokio::select! {
                r = socket.recv(&mut self.buf) => Woke::Packet(r),
                r = socket.writable(), if write => Woke::Writable(r),
                () = &mut self.timer, if interval.is_some() => Woke::Timer,
            };
            match woke {
                Woke::Packet(r) => {
                    if let Some(event) = self.on_packet(r)? {
                        return Ok(event);
                    }
                }
                Woke::Writable(r) => {
                    r.map_err(send_error)?;
                    self.write_out()?;
                }
                Woke::Timer => {
                    if let Some(interval) = interval {
                        self.on_timer(interval)?;
                    }
                }
            }
        }
    }

    fn direct(&self) -> Option<Arc<dyn DirectSend>> {
        Some(Arc::new(Direct {
            socket: self.socket.clone(),
            backlog: self.backlog.clone(),
            max_request_bytes: self.max_request_bytes,
        }))
    }

    async fn close(&mut self) {
        match &*self.socket {
            Socket::Seqpacket(s) => {
                let _ = s.shutdown(std::net::Shutdown::Both);
            }
            // No connection to end: Janus forgets a datagram client only when its sessions
            // time out. The socket file goes now; the socket when its last user drops it.
            Socket::Dgram { path, .. } => {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

/// Writes a request from the caller's own task when the socket takes it at once, without
/// waiting and without registering any waker; otherwise hands it back, and it goes through
/// the connection task's queue.
pub(crate) struct Direct {
    socket: Arc<Socket>,
    backlog: Arc<AtomicBool>,
    max_request_bytes: usize,
}

impl DirectSend for Direct {
    fn try_send(&self, msg: OutgoingMessage) -> Result<Sent, OutgoingMessage> {
        // A request too long goes the slow way, which refuses it with a clear error; behind
        // queued requests, the slow way keeps the order.
        if msg.json.len() > self.max_request_bytes || self.backlog.load(Ordering::Acquire) {
            return Err(msg);
        }
        match self.socket.try_send(msg.json.as_bytes()) {
            // A packet is sent whole or not at all.
            Ok(true) => Ok(Sent::Handed),
            // Full: the connection task queues it. An error: the slow path meets it too.
            Ok(false) | Err(_) => Err(msg),
        }
    }
}
