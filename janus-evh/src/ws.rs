//! The WebSocket listener for `wsevh`.
//!
//! What Janus 1.1.2's `wsevh` does (`src/events/janus_wsevh.c`): it is the WebSocket
//! *client*. It connects to its `backend` (`ws://` or `wss://`, with the URL's path),
//! offering the subprotocol `janus-event-handlers` (or its `subprotocol` option), sends each
//! event or group of events as one text message, ignores what it receives, and when the
//! connection fails or closes it connects again (after 1 s, then up to 8 s between tries),
//! sending then what queued up meanwhile. So every connection here is one Janus instance;
//! several may be connected at once, and a listener restarted on the same address gets them
//! back by itself.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{header, HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::listener::{self, Listener};
use crate::options::WsOptions;
use crate::receiver::{ListenError, Receiver, Sink};
use crate::stats::Counters;
use crate::stream::Source;

/// What every connection of one listener needs.
struct Context {
    sink: Sink,
    path: Option<String>,
    subprotocol: Option<String>,
    max_message: usize,
    handshake_timeout: Duration,
}

impl Receiver {
    /// Listens for `wsevh` connections (see the module `ws` docs for what Janus does).
    ///
    /// On the Janus side (`janus.eventhandler.wsevh.jcfg`, with `broadcast = true` in the
    /// `events` section of `janus.jcfg`):
    ///
    /// ```text
    /// general: {
    ///     enabled = true
    ///     events = "all"
    ///     grouping = true
    ///     json = "compact"
    ///     backend = "ws://127.0.0.1:7188/events"
    ///     # subprotocol = "janus-event-handlers"   # the default
    /// }
    /// ```
    pub async fn listen_ws(&self, options: &WsOptions) -> Result<Listener, ListenError> {
        options.validate()?;
        let tcp = Receiver::bind(options.bind).await?;
        let ctx = Arc::new(Context {
            sink: self.sink(),
            path: options.path.clone(),
            subprotocol: options.subprotocol.clone(),
            max_message: options.max_message,
            handshake_timeout: options.handshake_timeout,
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

fn refuse(status: StatusCode, text: &str) -> ErrorResponse {
    let mut r = ErrorResponse::new(Some(text.to_owned()));
    *r.status_mut() = status;
    r
}

/// Checks the opening handshake: path and subprotocol.
// The signature is tungstenite's `Callback`, large error and all.
#[allow(clippy::result_large_err)]
fn check(req: &Request, mut resp: Response, ctx: &Context) -> Result<Response, ErrorResponse> {
    if let Some(path) = &ctx.path {
        if req.uri().path() != path {
            return Err(refuse(StatusCode::NOT_FOUND, "no such path"));
        }
    }
    if let Some(wanted) = &ctx.subprotocol {
        let offered = req
            .headers()
            .get_all(header::SEC_WEBSOCKET_PROTOCOL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|p| p.trim() == wanted);
        if !offered {
            return Err(refuse(StatusCode::BAD_REQUEST, "subprotocol not offered"));
        }
        match HeaderValue::from_str(wanted) {
            Ok(v) => {
                resp.headers_mut().insert(header::SEC_WEBSOCKET_PROTOCOL, v);
            }
            Err(_) => return Err(refuse(StatusCode::INTERNAL_SERVER_ERROR, "bad subprotocol")),
        }
    }
    Ok(resp)
}

// The handshake callback returns tungstenite's large error type.
#[allow(clippy::result_large_err)]
async fn serve(stream: TcpStream, peer: SocketAddr, ctx: Arc<Context>) {
    let counters = &ctx.sink.counters;
    let config = WebSocketConfig::default()
        .max_message_size(Some(ctx.max_message))
        .max_frame_size(Some(ctx.max_message));
    let mut refused = false;
    let callback = |req: &Request, resp: Response| {
        let checked = check(req, resp, &ctx);
        if checked.is_err() {
            // Counted before the refusal is written: whoever reads it sees the count.
            Counters::add(&ctx.sink.counters.refused, 1);
            refused = true;
        }
        checked
    };
    let handshake = tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(config));
    let mut ws = match tokio::time::timeout(ctx.handshake_timeout, handshake).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => {
            if !refused {
                Counters::add(&counters.garbage, 1);
            }
            tracing::debug!(%peer, error = %e, "event handler WebSocket handshake failed");
            return;
        }
        Err(_) => {
            Counters::add(&counters.garbage, 1);
            tracing::debug!(%peer, "event handler WebSocket handshake too slow");
            return;
        }
    };
    tracing::debug!(%peer, "event handler connected");
    let source = Source::WebSocket { peer };
    while let Some(message) = ws.next().await {
        let text = match message {
            Ok(Message::Text(t)) => t,
            Ok(Message::Binary(b)) => match String::from_utf8(b.to_vec()) {
                Ok(t) => t.into(),
                Err(_) => {
                    Counters::add(&counters.garbage, 1);
                    continue;
                }
            },
            Ok(Message::Close(_)) => break,
            // Pings are answered by tungstenite on the next read.
            Ok(_) => continue,
            Err(WsError::Capacity(e)) => {
                Counters::add(&counters.oversized, 1);
                tracing::warn!(%peer, error = %e, "event handler message too large: closing");
                let close = CloseFrame {
                    code: CloseCode::Size,
                    reason: "message too large".into(),
                };
                let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(Some(close))).await;
                break;
            }
            Err(e) => {
                tracing::debug!(%peer, error = %e, "event handler WebSocket ended");
                break;
            }
        };
        if let Err(e) = ctx.sink.deliver(text.as_str(), &source) {
            // One bad message is no reason to drop the instance's connection.
            tracing::debug!(%peer, error = %e, "event handler message refused");
        }
    }
}
