//! A minimal hand-written Janus client over HTTP, with no library code: reqwest (configured as
//! janus-http configures it: HTTP/1.1 keep-alive pool, TCP_NODELAY, rustls with ring) and
//! serde_json only.
//!
//! Every request is a `POST` to `/janus`, `/janus/<session>` or `/janus/<session>/<handle>`;
//! the echotest's event comes from one long poll `GET /janus/<session>?maxev=1` per session,
//! sent together with the `message` POST (or after its ack: [`PollMode`]).

use crate::minimal_ws::{data_id, expect};
use crate::runner::Lifecycle;
use reqwest::header::{HeaderValue, CONTENT_TYPE};
use serde_json::{json, Map, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// When the long poll for the `message`'s event is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PollMode {
    /// At the same time as the `message` POST (on a second pooled connection).
    Concurrent,
    /// After the POST's `ack` came back.
    AfterAck,
}

impl std::str::FromStr for PollMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "concurrent" => Ok(PollMode::Concurrent),
            "after-ack" => Ok(PollMode::AfterAck),
            other => Err(format!(
                "unknown poll mode {other:?} (concurrent or after-ack)"
            )),
        }
    }
}

struct Inner {
    client: reqwest::Client,
    base: String,
    next_txn: AtomicU64,
    poll: PollMode,
}

#[derive(Clone)]
pub struct MinimalHttp {
    inner: Arc<Inner>,
}

/// How many long polls may come back with something else before giving up on the event.
const MAX_POLLS: usize = 8;

impl MinimalHttp {
    /// `base` is the Janus HTTP base URL, e.g. `http://127.0.0.1:8088/janus`.
    pub fn new(base: &str, poll: PollMode) -> Result<MinimalHttp, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS setup: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let client = reqwest::Client::builder()
            .http1_only()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .tls_backend_preconfigured(tls)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {}", describe(&e)))?;
        Ok(MinimalHttp {
            inner: Arc::new(Inner {
                client,
                base: base.trim_end_matches('/').to_string(),
                next_txn: AtomicU64::new(1),
                poll,
            }),
        })
    }

    fn txn(&self) -> String {
        self.inner
            .next_txn
            .fetch_add(1, Ordering::Relaxed)
            .to_string()
    }

    /// POSTs `{"janus": janus, "transaction": txn, extra...}` to `url`; the JSON answer.
    async fn post(
        &self,
        url: &str,
        janus: &str,
        txn: String,
        extra: Option<(&str, Value)>,
    ) -> Result<Value, String> {
        let mut obj = Map::new();
        obj.insert("janus".into(), Value::from(janus));
        obj.insert("transaction".into(), Value::from(txn));
        if let Some((k, v)) = extra {
            obj.insert(k.into(), v);
        }
        let body = serde_json::to_string(&Value::Object(obj)).map_err(|e| e.to_string())?;
        let resp = self
            .inner
            .client
            .post(url)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(body)
            .send()
            .await
            .map_err(|e| format!("{janus}: POST: {}", describe(&e)))?;
        read_json(resp, janus).await
    }

    /// Long-polls the session until the event answering `txn` comes.
    async fn poll_event(&self, session_url: &str, txn: &str) -> Result<Value, String> {
        let url = format!("{session_url}?maxev=1");
        for _ in 0..MAX_POLLS {
            let resp = self
                .inner
                .client
                .get(&url)
                .send()
                .await
                .map_err(|e| format!("poll: GET: {}", describe(&e)))?;
            let ev = read_json(resp, "poll").await?;
            if ev["transaction"] == txn {
                return Ok(ev);
            }
            // A keepalive (30 s idle) or an event of something else: poll again.
        }
        Err(format!(
            "poll: no event for transaction {txn} in {MAX_POLLS} polls"
        ))
    }

    async fn run_lifecycle(&self) -> Result<(), String> {
        let base = &self.inner.base;
        let created = expect(
            self.post(base, "create", self.txn(), None).await?,
            "success",
            "create",
        )?;
        let session = data_id(&created, "create")?;
        let session_url = format!("{base}/{session}");
        let rest = self.after_create(&session_url).await;
        if rest.is_err() {
            let _ = self.post(&session_url, "destroy", self.txn(), None).await;
        }
        rest
    }

    async fn after_create(&self, session_url: &str) -> Result<(), String> {
        let attached = expect(
            self.post(
                session_url,
                "attach",
                self.txn(),
                Some(("plugin", Value::from("janus.plugin.echotest"))),
            )
            .await?,
            "success",
            "attach",
        )?;
        let handle = data_id(&attached, "attach")?;
        let handle_url = format!("{session_url}/{handle}");

        let txn = self.txn();
        let message = async {
            let ack = self
                .post(
                    &handle_url,
                    "message",
                    txn.clone(),
                    Some(("body", json!({"audio": true}))),
                )
                .await?;
            expect(ack, "ack", "message").map(drop)
        };
        let event = match self.inner.poll {
            PollMode::Concurrent => {
                // A failed POST drops the poll at once (try_join).
                tokio::try_join!(message, self.poll_event(session_url, &txn))?.1
            }
            PollMode::AfterAck => {
                message.await?;
                self.poll_event(session_url, &txn).await?
            }
        };
        let event = expect(event, "event", "message")?;
        if event["plugindata"]["data"]["result"] != "ok" {
            return Err(format!("message: unexpected answer {event}"));
        }
        expect(
            self.post(&handle_url, "detach", self.txn(), None).await?,
            "success",
            "detach",
        )?;
        expect(
            self.post(session_url, "destroy", self.txn(), None).await?,
            "success",
            "destroy",
        )?;
        Ok(())
    }
}

impl Lifecycle for MinimalHttp {
    async fn lifecycle(&self) -> Result<(), String> {
        self.run_lifecycle().await
    }
}

async fn read_json(resp: reqwest::Response, step: &str) -> Result<Value, String> {
    let status = resp.status();
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| format!("{step}: reading the reply: {}", describe(&e)))?;
    if !status.is_success() {
        return Err(format!("{step}: HTTP {status}"));
    }
    serde_json::from_slice(&bytes).map_err(|e| format!("{step}: bad JSON ({e})"))
}

/// A reqwest error with its causes.
fn describe(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}
