//! `watch`'s second source: Janus' event handlers. The tool listens (`--evh-http` for
//! `sampleevh`, `--evh-ws` for `wsevh`, or both) with `janus_client::evh`'s receiver and
//! prints every event: its type as the event's kind, its session as the id, and as the data
//! the listener it came through (`via`) and the event as Janus sent it (`event`: emitter,
//! ids, body).

use janus_client::evh::ReceiverOptions;
use janus_client::evh::{types, EvhItem, EvhStream, HttpOptions, Listener, Receiver, WsOptions};
use serde_json::Value;
use std::time::Duration;

use crate::args::WatchSourceArgs;
use crate::commands::watch::WatchEvent;
use crate::failure::{Exit, Failure};

/// The receiver, its listeners and its stream.
pub struct EvhSource {
    /// Kept for as long as the listeners feed the stream.
    _receiver: Receiver,
    listeners: Vec<Listener>,
    events: EvhStream,
}

impl EvhSource {
    /// Binds the listeners `args` asks for; says on stderr where each listens.
    pub async fn open(args: &WatchSourceArgs) -> Result<EvhSource, Failure> {
        let receiver = Receiver::new(&ReceiverOptions::default())
            .map_err(|e| Failure::usage(e.to_string()))?;
        let events = receiver.events();
        let mut listeners = Vec::new();
        if let Some(bind) = args.evh_http {
            let mut options = HttpOptions::new(bind);
            if let Some(path) = &args.evh_path {
                options = options.with_path(path.clone());
            }
            if let Some(auth) = &args.evh_auth {
                let Some((user, password)) = auth.split_once(':') else {
                    return Err(Failure::usage("--evh-auth takes USER:PASSWORD"));
                };
                options = options.with_basic_auth(user, password);
            }
            let listener = receiver
                .listen_http(&options)
                .await
                .map_err(listen_failure)?;
            eprintln!(
                "janus-cli: listening for sampleevh on http://{}{} (Ctrl-C to stop)",
                listener.local_addr(),
                args.evh_path.as_deref().unwrap_or("/")
            );
            listeners.push(listener);
        }
        if let Some(bind) = args.evh_ws {
            let listener = receiver
                .listen_ws(&WsOptions::new(bind))
                .await
                .map_err(listen_failure)?;
            eprintln!(
                "janus-cli: listening for wsevh on ws://{}/ (Ctrl-C to stop)",
                listener.local_addr()
            );
            listeners.push(listener);
        }
        Ok(EvhSource {
            _receiver: receiver,
            listeners,
            events,
        })
    }

    /// The next event; `Err` when the stream ended.
    pub async fn next(&mut self) -> Result<WatchEvent, String> {
        match self.events.recv().await {
            Some(EvhItem::Event(received)) => Ok(WatchEvent {
                source: "evh",
                id: received.event.session_id.map(|s| s.0),
                kind: type_name(received.event.event_type),
                data: serde_json::json!({
                    "via": received.source.to_string(),
                    "event": received.event.raw,
                }),
            }),
            Some(EvhItem::Lagged { missed }) => Ok(WatchEvent {
                source: "evh",
                id: None,
                kind: "lagged",
                data: serde_json::json!({ "missed": missed }),
            }),
            Some(EvhItem::Closed) | None => Err("the event-handler receiver stopped".into()),
            Some(other) => Ok(WatchEvent {
                source: "evh",
                id: None,
                kind: "unknown",
                data: Value::String(format!("{other:?}")),
            }),
        }
    }

    /// Stops the listeners (their ports are free once this returns), within `limit`.
    pub async fn close(self, limit: Duration) {
        let stop = futures::future::join_all(self.listeners.into_iter().map(Listener::stop));
        let _ = tokio::time::timeout(limit, stop).await;
    }
}

/// A listener that cannot start: a bad option is a usage error, a port that cannot be bound a
/// connection error.
fn listen_failure(e: janus_client::evh::ListenError) -> Failure {
    let exit = match e {
        janus_client::evh::ListenError::Config(_) => Exit::Usage,
        _ => Exit::Connection,
    };
    Failure {
        exit,
        message: format!("cannot listen for Janus' event handlers: {e}"),
    }
}

/// The name of an event type (`janus_client::evh::types`).
fn type_name(t: u32) -> &'static str {
    match t {
        types::SESSION => "session",
        types::HANDLE => "handle",
        types::EXTERNAL => "external",
        types::JSEP => "jsep",
        types::WEBRTC => "webrtc",
        types::MEDIA => "media",
        types::PLUGIN => "plugin",
        types::TRANSPORT => "transport",
        types::CORE => "core",
        _ => "other",
    }
}
