//! The HTTP listener for `sampleevh`.
//!
//! What Janus 1.1.2's `sampleevh` sends (`src/events/janus_sampleevh.c`): one `POST` to its
//! `backend` URL per event, or per group of up to 100 with `grouping` (a JSON array), with
//! `Content-Type: application/json`, `Content-Encoding: gzip` when `compress` is on, and HTTP
//! basic authentication when `backend_user` and `backend_pwd` are set. It retries only when
//! the request fails at the transport level (no connection, timeout after 10 s), with an
//! exponential backoff (`retransmissions_backoff`, `max_retransmissions`); the status code
//! is not read. So the listener answers at once: 200 for events, 4xx (counted) for anything
//! else, and never waits for the consumer.

use std::convert::Infallible;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpStream;

use crate::listener::{self, Listener};
use crate::options::HttpOptions;
use crate::receiver::{ListenError, Receiver, Sink};
use crate::stats::Counters;
use crate::stream::Source;

/// What every connection of one listener needs.
struct Context {
    sink: Sink,
    path: Option<String>,
    /// The whole `Authorization` value expected, when credentials are asked.
    authorization: Option<String>,
    max_body: usize,
    read_timeout: Duration,
}

impl Receiver {
    /// Listens for `sampleevh` POSTs (see the module `http` docs for what Janus sends and
    /// what the listener answers).
    ///
    /// On the Janus side (`janus.eventhandler.sampleevh.jcfg`, with `broadcast = true` in
    /// the `events` section of `janus.jcfg`):
    ///
    /// ```text
    /// general: {
    ///     enabled = true
    ///     events = "all"
    ///     grouping = true
    ///     json = "compact"
    ///     compress = true                 # optional: gzip bodies
    ///     backend = "http://127.0.0.1:7088/janus-events"
    ///     backend_user = "janus"          # optional: basic authentication
    ///     backend_pwd = "secret"
    /// }
    /// ```
    pub async fn listen_http(&self, options: &HttpOptions) -> Result<Listener, ListenError> {
        options.validate()?;
        let tcp = Receiver::bind(options.bind).await?;
        let authorization = options.basic_auth.as_ref().map(|a| {
            let pair = format!("{}:{}", a.user, a.password.expose());
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            )
        });
        let ctx = Arc::new(Context {
            sink: self.sink(),
            path: options.path.clone(),
            authorization,
            max_body: options.max_body,
            read_timeout: options.read_timeout,
        });
        let counters = self.sink().counters;
        listener::spawn(
            tcp,
            options.max_connections,
            counters,
            move |stream, peer| serve(stream, peer, ctx.clone()),
        )
        .map_err(|source| ListenError::Bind {
            addr: options.bind,
            source,
        })
    }
}

async fn serve(stream: TcpStream, peer: SocketAddr, ctx: Arc<Context>) {
    let read_timeout = ctx.read_timeout;
    let service = service_fn(move |req| {
        let ctx = ctx.clone();
        async move { Ok::<_, Infallible>(answer(req, peer, &ctx).await) }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(read_timeout)
        .serve_connection(TokioIo::new(stream), service);
    if let Err(e) = connection.await {
        tracing::debug!(%peer, error = %e, "event handler HTTP connection ended");
    }
}

fn reply(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// Compares without stopping at the first difference (credentials).
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

enum Refusal {
    Garbage,
    Oversized,
}

async fn answer(req: Request<Incoming>, peer: SocketAddr, ctx: &Context) -> Response<Full<Bytes>> {
    let counters = &ctx.sink.counters;
    if req.method() != Method::POST {
        Counters::add(&counters.refused, 1);
        let mut r = reply(StatusCode::METHOD_NOT_ALLOWED, "POST only\n");
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return r;
    }
    if let Some(path) = &ctx.path {
        if req.uri().path() != path {
            Counters::add(&counters.refused, 1);
            return reply(StatusCode::NOT_FOUND, "no such path\n");
        }
    }
    if let Some(expected) = &ctx.authorization {
        let given = req.headers().get(header::AUTHORIZATION);
        if !given.is_some_and(|v| same(v.as_bytes(), expected.as_bytes())) {
            Counters::add(&counters.refused, 1);
            let mut r = reply(StatusCode::UNAUTHORIZED, "credentials required\n");
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"janus-evh\""),
            );
            return r;
        }
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > ctx.max_body as u64) {
        Counters::add(&counters.oversized, 1);
        return reply(StatusCode::PAYLOAD_TOO_LARGE, "body too large\n");
    }
    let gzip = match req.headers().get(header::CONTENT_ENCODING) {
        None => false,
        Some(v) => match v.to_str().map(|s| s.trim().to_ascii_lowercase()) {
            Ok(s) if s.is_empty() || s == "identity" => false,
            Ok(s) if s == "gzip" || s == "x-gzip" => true,
            _ => {
                Counters::add(&counters.garbage, 1);
                return reply(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "gzip or identity only\n",
                );
            }
        },
    };
    let limited = Limited::new(req.into_body(), ctx.max_body);
    let body = match tokio::time::timeout(ctx.read_timeout, limited.collect()).await {
        Err(_) => {
            Counters::add(&counters.garbage, 1);
            return reply(StatusCode::REQUEST_TIMEOUT, "body too slow\n");
        }
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Counters::add(&counters.oversized, 1);
            return reply(StatusCode::PAYLOAD_TOO_LARGE, "body too large\n");
        }
        Ok(Err(e)) => {
            // The connection broke mid-body: nobody reads the answer.
            tracing::debug!(%peer, error = %e, "event handler POST body unreadable");
            Counters::add(&counters.garbage, 1);
            return reply(StatusCode::BAD_REQUEST, "unreadable body\n");
        }
        Ok(Ok(collected)) => collected.to_bytes(),
    };
    let bytes = if gzip {
        match gunzip(&body, ctx.max_body) {
            Ok(b) => b,
            Err(Refusal::Oversized) => {
                Counters::add(&counters.oversized, 1);
                return reply(StatusCode::PAYLOAD_TOO_LARGE, "inflated body too large\n");
            }
            Err(Refusal::Garbage) => {
                Counters::add(&counters.garbage, 1);
                return reply(StatusCode::BAD_REQUEST, "not gzip\n");
            }
        }
    } else {
        body.to_vec()
    };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        Counters::add(&counters.garbage, 1);
        return reply(StatusCode::BAD_REQUEST, "not UTF-8\n");
    };
    match ctx.sink.deliver(text, &Source::Http { peer }) {
        Ok(()) => reply(StatusCode::OK, "ok\n"),
        Err(e) => {
            tracing::debug!(%peer, error = %e, "event handler POST refused");
            reply(StatusCode::BAD_REQUEST, "not a Janus event delivery\n")
        }
    }
}

/// Inflates a gzip body, refusing to produce more than `max` bytes (a small body can
/// inflate to gigabytes).
fn gunzip(body: &[u8], max: usize) -> Result<Vec<u8>, Refusal> {
    let mut out = Vec::new();
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    flate2::read::MultiGzDecoder::new(body)
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|_| Refusal::Garbage)?;
    if out.len() > max {
        return Err(Refusal::Oversized);
    }
    Ok(out)
}
