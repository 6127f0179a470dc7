//! A minimal hand-written Janus client over WebSocket, with no library code: tokio-tungstenite
//! and serde_json only.
//!
//! - ONE connection shared by every worker, with the `janus-protocol` subprotocol (trap 1)
//!   and TCP_NODELAY (as the library).
//! - Requests are compact JSON with nothing after it (trap 2).
//! - Writes go through a `tokio::sync::Mutex` around the split sink, or through a writer task
//!   fed by an unbounded channel that batches whatever is queued into one flush
//!   ([`WriterKind`]).
//! - A reader task parses each frame with serde_json and completes the request's `oneshot`,
//!   found by transaction in a `std::sync::Mutex<HashMap<..>>`. The transaction is registered
//!   before the frame is sent, and `ack`s are skipped: the only request answered by an ack
//!   here is `message`, which completes on its `event` (that may come before the ack: trap 3).

use crate::minimal_lifecycle::{request_text, JanusCall};
use crate::minimal_waiters::Waiters;
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;
type Sink = SplitSink<Ws, Message>;

/// How requests reach the socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriterKind {
    /// Each request locks a `tokio::sync::Mutex` around the sink and sends (write + flush).
    Mutex,
    /// Requests go to a writer task over an unbounded channel; it writes everything queued,
    /// then flushes once.
    Task,
}

impl std::str::FromStr for WriterKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "mutex" => Ok(WriterKind::Mutex),
            "task" => Ok(WriterKind::Task),
            other => Err(format!("unknown writer {other:?} (mutex or task)")),
        }
    }
}

enum Writer {
    Mutex(tokio::sync::Mutex<Sink>),
    Task(mpsc::UnboundedSender<Message>),
}

struct Inner {
    writer: Writer,
    shared: Arc<Waiters>,
    next_txn: AtomicU64,
}

#[derive(Clone)]
pub struct MinimalWs {
    inner: Arc<Inner>,
}

/// The background tasks, kept by the bench to close the connection after the run.
pub struct Tasks {
    reader: JoinHandle<()>,
    writer: Option<JoinHandle<()>>,
}

impl MinimalWs {
    pub async fn connect(url: &str, kind: WriterKind) -> Result<(MinimalWs, Tasks), String> {
        let mut request = url
            .into_client_request()
            .map_err(|e| format!("bad URL {url}: {e}"))?;
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static("janus-protocol"),
        );
        let (ws, _) = tokio_tungstenite::connect_async_with_config(request, None, true)
            .await
            .map_err(|e| format!("minimal WebSocket connect to {url}: {e}"))?;
        let (sink, stream) = ws.split();
        let shared = Arc::new(Waiters::default());
        let reader = tokio::spawn(read_loop(stream, shared.clone()));
        let (writer, writer_task) = match kind {
            WriterKind::Mutex => (Writer::Mutex(tokio::sync::Mutex::new(sink)), None),
            WriterKind::Task => {
                let (tx, rx) = mpsc::unbounded_channel();
                let task = tokio::spawn(write_loop(sink, rx, shared.clone()));
                (Writer::Task(tx), Some(task))
            }
        };
        let client = MinimalWs {
            inner: Arc::new(Inner {
                writer,
                shared,
                next_txn: AtomicU64::new(1),
            }),
        };
        Ok((
            client,
            Tasks {
                reader,
                writer: writer_task,
            },
        ))
    }

    /// Closes the connection (every clone must be dropped first for the writer task to end).
    pub async fn close(self, mut tasks: Tasks) {
        match Arc::try_unwrap(self.inner) {
            Ok(inner) => match inner.writer {
                Writer::Mutex(sink) => {
                    let _ = sink.into_inner().close().await;
                }
                // Dropping the last sender ends the writer task, which closes the sink.
                Writer::Task(tx) => drop(tx),
            },
            Err(_) => eprintln!("janus-bench: minimal client still in use at close"),
        }
        if let Some(w) = tasks.writer.take() {
            let _ = w.await;
        }
        // Wait for the server's close; do not hang on it.
        if tokio::time::timeout(Duration::from_secs(2), &mut tasks.reader)
            .await
            .is_err()
        {
            tasks.reader.abort();
        }
    }
}

impl JanusCall for MinimalWs {
    /// Sends one request and waits for its answer (for `message`, its `event`).
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
        let msg = Message::Text(text.into());
        match &self.inner.writer {
            Writer::Mutex(sink) => sink
                .lock()
                .await
                .send(msg)
                .await
                .map_err(|e| format!("{janus}: send: {e}"))?,
            Writer::Task(tx) => tx
                .send(msg)
                .map_err(|_| format!("{janus}: connection closed"))?,
        }
        wait.answer(janus).await
    }
}

/// `answer` if its `janus` is `want`, else an error naming the step and the server's reason.
pub fn expect(answer: Value, want: &str, step: &str) -> Result<Value, String> {
    if answer["janus"] == want {
        return Ok(answer);
    }
    match answer.get("error") {
        Some(err) => Err(format!(
            "{step}: Janus error {}: {}",
            err["code"],
            err["reason"].as_str().unwrap_or("?")
        )),
        None => Err(format!("{step}: expected {want}, got {answer}")),
    }
}

/// `data.id` of a `success`.
pub fn data_id(answer: &Value, step: &str) -> Result<u64, String> {
    answer["data"]["id"]
        .as_u64()
        .ok_or_else(|| format!("{step}: no data.id in {answer}"))
}

async fn read_loop(mut stream: SplitStream<Ws>, shared: Arc<Waiters>) {
    while let Some(frame) = stream.next().await {
        let text = match frame {
            Ok(Message::Text(t)) => t,
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => continue,
        };
        if shared.deliver(text.as_bytes()).is_err() {
            eprintln!("janus-bench: minimal client: unparsable frame: {text}");
        }
    }
    shared.fail_all();
}

async fn write_loop(
    mut sink: Sink,
    mut rx: mpsc::UnboundedReceiver<Message>,
    shared: Arc<Waiters>,
) {
    let mut failed = false;
    'outer: while let Some(msg) = rx.recv().await {
        if sink.feed(msg).await.is_err() {
            failed = true;
            break;
        }
        while let Ok(msg) = rx.try_recv() {
            if sink.feed(msg).await.is_err() {
                failed = true;
                break 'outer;
            }
        }
        if sink.flush().await.is_err() {
            failed = true;
            break;
        }
    }
    if failed {
        // The connection is unusable: fail the waiting requests now.
        shared.fail_all();
    }
    let _ = sink.close().await;
}
