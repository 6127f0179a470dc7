//! Unix socket transport for [`janus_core`]: Janus' `janus.transport.pfunix` over
//! `SOCK_SEQPACKET` (its default type, on [`tokio_seqpacket`]) or `SOCK_DGRAM`
//! ([`UnixOptions::socket_type`]).
//!
//! - A URL `unix:///path/to/janus.sock` (the `general.path` of `janus.transport.pfunix.jcfg`).
//! - One connection is one client for Janus, like a WebSocket: events of a session go to the
//!   connection that created or claimed it. When the connection drops, the core reconnects
//!   and claims its sessions again (within Janus' `reclaim_session_timeout`).
//! - One JSON object per packet, both ways. Janus reads at most 8,192 bytes of a packet and
//!   drops a longer request silently: such a request fails here at once with a limit error
//!   (`unix.max_request_bytes`) and is never sent.
//! - With `SOCK_DGRAM` (pfunix `general.type = "SOCK_DGRAM"`, and
//!   [`SocketType::Dgram`] here) the client binds a socket file of its own, in
//!   [`UnixOptions::client_dir`], that Janus answers to; it is removed when the connection
//!   closes. Janus sees no disconnect: sessions end only by `destroy` or timeout, and a
//!   reconnect (a new socket file) claims them like any other.
//!
//! ```no_run
//! # async fn demo() -> Result<(), janus_core::Error> {
//! use std::sync::Arc;
//! use janus_core::{Client, ClientOptions};
//! use janus_unix::{UnixConnector, UnixOptions};
//!
//! let url = "unix:///run/janus/janus.sock".parse().unwrap();
//! let connector = UnixConnector::new(url, UnixOptions::default())?;
//! let client = Client::connect(Arc::new(connector), ClientOptions::default()).await?;
//! println!("{}", client.info().await?.version);
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

use async_trait::async_trait;
use janus_core::{Connector, Error, Transport};
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::net::UnixDatagram;
use tokio_seqpacket::UnixSeqpacket;
use tracing::debug;
use transport::Socket;
use url::Url;

mod options;
mod transport;

pub use options::{SocketType, UnixOptions, JANUS_READ_BUFFER};
pub use transport::UnixTransport;

/// The longest socket path the kernel takes (`sun_path` holds 108 bytes with the final NUL).
const MAX_PATH_BYTES: usize = 107;

/// Opens connections to one Janus Unix socket (`unix:///path/to/janus.sock`).
pub struct UnixConnector {
    url: Url,
    path: PathBuf,
    options: UnixOptions,
}

impl std::fmt::Debug for UnixConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnixConnector")
            .field("endpoint", &self.endpoint())
            .finish()
    }
}

impl UnixConnector {
    /// A connector for `url`: `unix:///absolute/path` (or `unix:/absolute/path`).
    ///
    /// Fails with a configuration error for another scheme, a host in the URL
    /// (`unix://run/janus.sock` names the host `run`: write three slashes), a path longer
    /// than the kernel takes (107 bytes), or options that [`UnixOptions::validate`] refuses.
    /// The socket itself is looked at only when connecting.
    pub fn new(url: Url, options: UnixOptions) -> Result<Self, Error> {
        options.validate()?;
        let shown = janus_core::endpoint::redact(&url);
        if url.scheme() != "unix" {
            return Err(Error::config(format!(
                "the Unix socket transport takes unix:// URLs, not {}://",
                url.scheme()
            )));
        }
        if url.host_str().is_some_and(|h| !h.is_empty()) {
            return Err(Error::config(format!(
                "{shown}: a unix:// URL takes an absolute path and no host, like \
                 unix:///run/janus/janus.sock (three slashes)"
            )));
        }
        let path = url
            .to_file_path()
            .map_err(|()| Error::config(format!("{shown}: not an absolute socket path")))?;
        let len = path.as_os_str().len();
        if len > MAX_PATH_BYTES {
            return Err(Error::config(format!(
                "{shown}: socket path of {len} bytes, the kernel takes at most {MAX_PATH_BYTES}"
            )));
        }
        Ok(UnixConnector { url, path, options })
    }

    /// The socket path this connector opens.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// A datagram socket bound to a fresh file of the client's own, connected to Janus'.
    fn dgram(&self) -> Result<Socket, Error> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = self
            .options
            .client_dir
            .clone()
            .unwrap_or_else(std::env::temp_dir);
        let own = dir.join(format!(
            "janus-client-{}-{}.sock",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        if own.as_os_str().len() > MAX_PATH_BYTES {
            return Err(Error::config(format!(
                "unix.client_dir: the client's socket path {} is over {MAX_PATH_BYTES} bytes",
                own.display()
            )));
        }
        // A file left by an earlier process that had this pid: the name is ours now.
        let _ = std::fs::remove_file(&own);
        let socket = UnixDatagram::bind(&own).map_err(|e| {
            Error::transport(format!(
                "cannot create the client's socket {} (unix.client_dir): {e}",
                own.display()
            ))
            .with_source(e)
        })?;
        // From here the file goes with the socket.
        let socket = Socket::Dgram { socket, path: own };
        if let Socket::Dgram { socket: s, .. } = &socket {
            let path = self.path.display().to_string();
            s.connect(&self.path)
                .map_err(|e| connect_error(e, &path, SocketType::Dgram))?;
        }
        Ok(socket)
    }
}

/// A connect failure, with what to check.
fn connect_error(e: io::Error, path: &str, ty: SocketType) -> Error {
    let hint = match e.kind() {
        io::ErrorKind::NotFound => {
            "no such socket: is Janus running with janus.transport.pfunix enabled and \
             general.path set to this path?"
                .to_string()
        }
        io::ErrorKind::PermissionDenied => {
            "permission denied: this user needs write permission on the socket (and search \
             permission on its directories)"
                .to_string()
        }
        io::ErrorKind::ConnectionRefused => {
            "connection refused: nothing listens on this socket (Janus stopped and left the \
             file behind?)"
                .to_string()
        }
        _ if e.raw_os_error() == Some(91) => {
            // EPROTOTYPE: the socket is of the other type.
            format!(
                "wrong socket type: the client uses {}; set unix.socket_type to what Janus' \
                 pfunix transport uses (general.type, or admin.admin_type for the Admin API: \
                 \"seqpacket\" for SOCK_SEQPACKET, \"dgram\" for SOCK_DGRAM)",
                match ty {
                    SocketType::Seqpacket => "SOCK_SEQPACKET",
                    SocketType::Dgram => "SOCK_DGRAM",
                }
            )
        }
        _ if e.raw_os_error() == Some(111) => "connection refused".to_string(),
        _ => e.to_string(),
    };
    Error::transport(format!("cannot connect to {path}: {hint} ({e})")).with_source(e)
}

#[async_trait]
impl Connector for UnixConnector {
    async fn connect(&self) -> Result<Box<dyn Transport>, Error> {
        let path = self.path.display().to_string();
        let ty = self.options.socket_type;
        let socket = match ty {
            SocketType::Seqpacket => UnixSeqpacket::connect(&self.path)
                .await
                .map(Socket::Seqpacket)
                .map_err(|e| connect_error(e, &path, ty))?,
            SocketType::Dgram => self.dgram()?,
        };
        // A SEQPACKET connect has no handshake: the kernel accepts it before Janus reads a
        // byte (and a datagram socket has no connection at all). One ping answered proves
        // Janus is there and reading, as a WebSocket upgrade does, before the client sends
        // its claims on this connection.
        transport::handshake(&socket, self.options.probe_timeout)
            .await
            .map_err(|e| match e.kind() {
                janus_core::ErrorKind::Transport { reason, .. } => {
                    Error::transport(format!("{path}: {reason}"))
                }
                _ => e,
            })?;
        debug!(endpoint = %self.endpoint(), "Unix socket connected");
        Ok(Box::new(UnixTransport::new(socket, &self.options)))
    }

    fn endpoint(&self) -> String {
        janus_core::endpoint::redact(&self.url)
    }

    fn timeout_hint(&self) -> Option<String> {
        let limit = send_buffer_default();
        Some(format!(
            "over a Unix socket Janus drops, without a word, an answer larger than its socket's \
             send buffer: {limit} bytes on this host (net.core.wmem_default); an Admin API \
             list_sessions of about {} sessions is one: use the Admin API over WebSocket or \
             HTTP for such lists, or raise net.core.wmem_default before Janus starts",
            limit / SESSION_ID_BYTES
        ))
    }
}

/// What one session takes in a `list_sessions` answer: a 16-digit id and a comma.
const SESSION_ID_BYTES: usize = 17;

/// The send buffer a new socket gets on this host, so Janus's own: the largest packet Janus
/// can write to a Unix socket (it sets no `SO_SNDBUF`). Linux's usual default when
/// `/proc/sys/net/core/wmem_default` cannot be read.
fn send_buffer_default() -> usize {
    std::fs::read_to_string("/proc/sys/net/core/wmem_default")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(212_992)
}

#[cfg(test)]
mod tests {
    use super::*;
    use janus_core::{OutgoingMessage, TransportEvent, Verb};

    #[test]
    fn a_timeout_over_a_unix_socket_names_the_send_buffer_that_loses_large_answers() {
        let c = connector("unix:///tmp/janus.sock").unwrap();
        let hint = c.timeout_hint().expect("a hint");
        let limit = send_buffer_default();
        assert!(limit > 0);
        assert!(hint.contains("net.core.wmem_default"), "{hint}");
        assert!(hint.contains(&format!("{limit} bytes")), "{hint}");
    }

    fn connector(url: &str) -> Result<UnixConnector, Error> {
        UnixConnector::new(url.parse().unwrap(), UnixOptions::default())
    }

    #[test]
    fn urls() {
        assert_eq!(
            connector("unix:///run/janus.sock").unwrap().path(),
            std::path::Path::new("/run/janus.sock")
        );
        assert_eq!(
            connector("unix:/run/janus.sock").unwrap().path(),
            std::path::Path::new("/run/janus.sock")
        );
        assert!(connector("unix://run/janus.sock")
            .unwrap_err()
            .to_string()
            .contains("three slashes"));
        assert!(connector("ws://x/")
            .unwrap_err()
            .to_string()
            .contains("unix://"));
        let long = format!("unix:///{}", "a".repeat(120));
        assert!(connector(&long)
            .unwrap_err()
            .to_string()
            .contains("at most 107"));
        let c = connector("unix:///run/janus.sock?token=t0ken").unwrap();
        assert!(!c.endpoint().contains("t0ken"));
    }

    #[tokio::test]
    async fn connect_errors_say_what_to_check() {
        let c = connector("unix:///nonexistent/janus.sock").unwrap();
        let Err(e) = c.connect().await else {
            panic!("connected")
        };
        let e = e.to_string();
        assert!(
            e.contains("no such socket") && e.contains("/nonexistent/janus.sock"),
            "{e}"
        );

        let dir = std::env::temp_dir().join(format!("janus-unix-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let dgram = dir.join("dgram.sock");
        let _d = std::os::unix::net::UnixDatagram::bind(&dgram).unwrap();
        let c = connector(&format!("unix://{}", dgram.display())).unwrap();
        let Err(e) = c.connect().await else {
            panic!("connected")
        };
        let e = e.to_string();
        assert!(e.contains("SOCK_SEQPACKET"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn msg(json: String) -> OutgoingMessage {
        OutgoingMessage {
            verb: Verb::Create,
            transaction: "t1".into(),
            session_id: None,
            handle_id: None,
            json,
            deadline: None,
            in_flight: 0,
        }
    }

    #[tokio::test]
    async fn packets_both_ways_and_long_requests_refused() {
        let (a, b) = UnixSeqpacket::pair().unwrap();
        let mut t = UnixTransport::new(
            Socket::Seqpacket(a),
            &UnixOptions {
                max_message_bytes: 16,
                ..Default::default()
            },
        );
        // Until the reactor has seen the fresh socket writable, a request waits in the
        // transport's queue for `recv`; here nothing polls `recv` yet.
        t.socket.writable().await.unwrap();
        t.send(msg(r#"{"janus":"create"}"#.into())).await.unwrap();
        let mut buf = [0u8; 64];
        let n = b.recv(&mut buf).await.unwrap().bytes_read();
        assert_eq!(&buf[..n], br#"{"janus":"create"}"#);

        // Over 8 KiB: refused, never sent.
        t.send(msg(format!(r#"{{"x":"{}"}}"#, "a".repeat(8200))))
            .await
            .unwrap();
        match t.recv().await.unwrap() {
            TransportEvent::RequestFailed { transaction, error } => {
                assert_eq!(transaction, "t1");
                let text = error.to_string();
                assert!(
                    text.contains("unix.max_request_bytes") && text.contains("8 KiB"),
                    "{text}"
                );
            }
            other => panic!("{other:?}"),
        }
        // The direct path hands it back, and takes a short one.
        let direct = t.direct().expect("a direct path");
        let back = direct
            .try_send(msg("x".repeat(9000)))
            .expect_err("too long");
        assert_eq!(back.json.len(), 9000, "given back whole");
        assert!(direct.try_send(msg(r#"{"a":1}"#.into())).is_ok());
        let n = b.recv(&mut buf).await.unwrap().bytes_read();
        assert_eq!(&buf[..n], br#"{"a":1}"#);

        b.send(br#"{"janus":"ack"}"#).await.unwrap();
        assert!(
            matches!(t.recv().await.unwrap(), TransportEvent::Frame(f) if f == r#"{"janus":"ack"}"#)
        );
        b.send(&[b'x'; 40]).await.unwrap();
        assert!(matches!(
            t.recv().await.unwrap(),
            TransportEvent::Malformed { .. }
        ));
        b.send(&[0xff, 0xfe]).await.unwrap();
        assert!(matches!(
            t.recv().await.unwrap(),
            TransportEvent::Malformed { .. }
        ));
        drop(b);
        assert!(t.recv().await.unwrap_err().is_transport_closed());
    }

    #[tokio::test]
    async fn a_silent_janus_is_probed_and_given_up_on() {
        use std::time::Duration;
        let (a, b) = UnixSeqpacket::pair().unwrap();
        let options = UnixOptions {
            probe_interval: Some(Duration::from_millis(50)),
            probe_timeout: Duration::from_millis(150),
            ..Default::default()
        };
        let mut t = UnixTransport::new(Socket::Seqpacket(a), &options);
        // Answer the first probe, then an event: only the event comes out.
        let answer = tokio::spawn(async move {
            let mut buf = [0u8; 256];
            let n = b.recv(&mut buf).await.unwrap().bytes_read();
            let ping: serde_json::Value = serde_json::from_slice(&buf[..n]).unwrap();
            assert_eq!(ping["janus"], "ping");
            let pong = serde_json::json!({"janus": "pong", "transaction": ping["transaction"]});
            b.send(pong.to_string().as_bytes()).await.unwrap();
            b.send(br#"{"janus":"event"}"#).await.unwrap();
            // Then silence: keep the socket open, read nothing more.
            tokio::time::sleep(Duration::from_secs(5)).await;
            drop(b);
        });
        assert!(
            matches!(t.recv().await.unwrap(), TransportEvent::Frame(f) if f == r#"{"janus":"event"}"#)
        );
        let start = std::time::Instant::now();
        let e = t.recv().await.unwrap_err();
        assert!(
            e.is_transport_closed() && e.to_string().contains("probe"),
            "{e}"
        );
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
        answer.abort();
    }

    /// A peer that serves its socket like Janus' pfunix thread: blocking writes, and one
    /// request read only after the replies to the last one are written. A burst far over
    /// the socket buffers in both directions, sent with no `recv` in between (as a busy
    /// connection task may), must neither stall nor lose a packet: with a transport that
    /// stops reading while it waits to write, this failed with "took no request".
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_burst_to_a_peer_that_writes_before_it_reads_again() {
        use std::io::{Read, Write};
        let (a, b) = UnixSeqpacket::pair().unwrap();
        let fd: std::os::fd::OwnedFd = b.into();
        // A plain blocking socket for the peer (read and write work on any socket type).
        let peer = std::os::unix::net::UnixStream::from(fd);
        peer.set_nonblocking(false).unwrap();
        const N: usize = 5000;
        let janus = std::thread::spawn(move || {
            let mut peer = peer;
            let mut buf = [0u8; 8192];
            let mut n = 0usize;
            loop {
                match peer.read(&mut buf) {
                    Ok(0) | Err(_) => return n,
                    Ok(_) => {}
                }
                n += 1;
                for kind in ["ack", "event"] {
                    let reply = format!(r#"{{"janus":"{kind}","transaction":"{n}"}}"#);
                    if peer.write_all(reply.as_bytes()).is_err() {
                        return n;
                    }
                }
            }
        });
        let mut t = UnixTransport::new(
            Socket::Seqpacket(a),
            &UnixOptions {
                send_timeout: std::time::Duration::from_secs(20),
                ..Default::default()
            },
        );
        for i in 0..N {
            let json = format!(r#"{{"janus":"message","transaction":"{i}","body":{{}}}}"#);
            t.send(msg(json)).await.expect("send");
        }
        t.flush().await.unwrap();
        let mut frames = 0;
        while frames < 2 * N {
            let next = tokio::time::timeout(std::time::Duration::from_secs(20), t.recv()).await;
            match next {
                Ok(Ok(TransportEvent::Frame(_))) => frames += 1,
                other => panic!("{other:?} after {frames} frames"),
            }
        }
        t.close().await;
        drop(t);
        assert_eq!(janus.join().unwrap(), N);
    }

    #[tokio::test]
    async fn datagrams_both_ways_and_the_client_file_removed_on_close() {
        let dir = std::env::temp_dir().join(format!("janus-unix-dg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let server_path = dir.join("janus.sock");
        let _ = std::fs::remove_file(&server_path);
        let server = tokio::net::UnixDatagram::bind(&server_path).unwrap();
        let url: Url = format!("unix://{}", server_path.display()).parse().unwrap();
        let options = UnixOptions {
            socket_type: SocketType::Dgram,
            client_dir: Some(dir.clone()),
            ..Default::default()
        };
        let c = UnixConnector::new(url, options).unwrap();
        // The fake Janus answers the handshake's ping, then one request with an event.
        let fake = tokio::spawn(async move {
            let mut buf = [0u8; 8192];
            let (n, from) = server.recv_from(&mut buf).await.unwrap();
            let ping: serde_json::Value = serde_json::from_slice(&buf[..n]).unwrap();
            let to = from.as_pathname().unwrap().to_path_buf();
            let pong = serde_json::json!({"janus": "pong", "transaction": ping["transaction"]});
            server
                .send_to(pong.to_string().as_bytes(), &to)
                .await
                .unwrap();
            let (n, _) = server.recv_from(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], br#"{"janus":"create"}"#);
            server
                .send_to(br#"{"janus":"success"}"#, &to)
                .await
                .unwrap();
            to
        });
        let mut t = c.connect().await.expect("connect");
        t.send(msg(r#"{"janus":"create"}"#.into())).await.unwrap();
        t.flush().await.unwrap();
        assert!(
            matches!(t.recv().await.unwrap(), TransportEvent::Frame(f) if f == r#"{"janus":"success"}"#)
        );
        let own = fake.await.unwrap();
        assert!(own.starts_with(&dir) && own.exists(), "{}", own.display());
        t.close().await;
        drop(t);
        assert!(!own.exists(), "{} left behind", own.display());

        // A datagram client to a SEQPACKET socket: the error says which option to set.
        let seq = dir.join("seq.sock");
        let _ = std::fs::remove_file(&seq);
        let _l = tokio_seqpacket::UnixSeqpacketListener::bind(&seq).unwrap();
        let url: Url = format!("unix://{}", seq.display()).parse().unwrap();
        let options = UnixOptions {
            socket_type: SocketType::Dgram,
            client_dir: Some(dir.clone()),
            ..Default::default()
        };
        let Err(e) = UnixConnector::new(url, options).unwrap().connect().await else {
            panic!("connected")
        };
        assert!(e.to_string().contains("unix.socket_type"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
