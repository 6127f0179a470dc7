//! A minimal hand-written Janus client over Janus' Unix socket (SOCK_SEQPACKET), with no
//! library code: tokio-seqpacket and serde_json only.
//!
//! - ONE connection shared by every worker; each request is one packet, sent straight from
//!   the worker's task (a SEQPACKET send is whole or nothing, so no lock is needed).
//! - A reader task parses each packet and completes the request's `oneshot`, found by
//!   transaction in a `std::sync::Mutex<HashMap<..>>`; it never waits for a writer, so
//!   Janus (which writes its answers with blocking writes before it reads again) is always
//!   drained. `ack`s are skipped: `message` completes on its `event`.

use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_seqpacket::UnixSeqpacket;

use crate::minimal_lifecycle::{request_text, JanusCall};
use crate::minimal_waiters::Waiters;

struct Inner {
    socket: Arc<UnixSeqpacket>,
    shared: Arc<Waiters>,
    next_txn: AtomicU64,
}

#[derive(Clone)]
pub struct MinimalUnix {
    inner: Arc<Inner>,
}

impl MinimalUnix {
    /// Connects to `unix:///path/to/janus.sock`; returns the client and its reader task.
    pub async fn connect(url: &str) -> Result<(MinimalUnix, JoinHandle<()>), String> {
        let path = url
            .strip_prefix("unix://")
            .ok_or_else(|| format!("not a unix:// URL: {url}"))?;
        let socket = Arc::new(
            UnixSeqpacket::connect(path)
                .await
                .map_err(|e| format!("minimal Unix socket connect to {path}: {e}"))?,
        );
        let shared = Arc::new(Waiters::default());
        let reader = tokio::spawn(read_loop(socket.clone(), shared.clone()));
        Ok((
            MinimalUnix {
                inner: Arc::new(Inner {
                    socket,
                    shared,
                    next_txn: AtomicU64::new(1),
                }),
            },
            reader,
        ))
    }

    /// Closes the connection and waits (briefly) for the reader to see it.
    pub async fn close(self, mut reader: JoinHandle<()>) {
        let _ = self.inner.socket.shutdown(std::net::Shutdown::Both);
        if tokio::time::timeout(Duration::from_secs(2), &mut reader)
            .await
            .is_err()
        {
            reader.abort();
        }
    }
}

impl JanusCall for MinimalUnix {
    async fn call(
        &self,
        janus: &str,
        session: Option<u64>,
        handle: Option<u64>,
        extra: Option<(&str, Value)>,
    ) -> Result<Value, String> {
        let txn = self
            .inner
            .next_txn
            .fetch_add(1, Ordering::Relaxed)
            .to_string();
        let text = request_text(janus, &txn, session, handle, extra)?;
        let wait = self
            .inner
            .shared
            .wait_for(txn)
            .ok_or_else(|| format!("{janus}: connection closed"))?;
        self.inner
            .socket
            .send(text.as_bytes())
            .await
            .map_err(|e| format!("{janus}: send: {e}"))?;
        wait.answer(janus).await
    }
}

async fn read_loop(socket: Arc<UnixSeqpacket>, shared: Arc<Waiters>) {
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match socket.recv(&mut buf).await {
            Ok(info) if info.bytes_read() > 0 => info.bytes_read(),
            _ => break,
        };
        let Some(packet) = buf.get(..n) else {
            continue;
        };
        if shared.deliver(packet).is_err() {
            eprintln!("janus-bench: minimal Unix client: unparsable packet");
        }
    }
    shared.fail_all();
}
