//! `janus-cli watch`: live events, as readable lines or JSON lines, until Ctrl-C, `--count`
//! or `--for`.
//!
//! Events come from a [`Source`]: a handle the tool attaches (`--plugin`), whose events,
//! session events and connection changes are printed; or Janus' event handlers
//! (`--evh-http`, `--evh-ws`: the receivers of `janus-evh`, listening for `sampleevh` and
//! `wsevh`), whose every event is printed with its emitter. The printer and the loop are the
//! same for both.

use janus_client::{
    Client, CloseReason, ConnectionState, Handle, HandleEvent, HandleEvents, Session, SessionEvent,
    SessionEvents,
};
use serde_json::{json, Value};
use std::time::{Duration, SystemTime};
use tokio::sync::watch;

use crate::args::{ConnectionArgs, WatchArgs};
use crate::connection::{api_config, connect};
use crate::failure::{Exit, Failure};
use crate::interrupt::Interrupts;

/// One event, ready to print.
pub struct WatchEvent {
    /// Where it comes from: `handle`, `session`, `connection`, `reply`.
    pub source: &'static str,
    /// Its id there (a handle or session id), if any.
    pub id: Option<u64>,
    /// What happened: `plugin`, `webrtcup`, `media`, `closed`, ...
    pub kind: &'static str,
    /// Its content.
    pub data: Value,
}

/// How a source ended on its own (not by Ctrl-C, `--count` or `--for`).
struct Ended {
    exit: Exit,
    why: String,
}

/// Where `watch` reads events from.
enum Source {
    /// A handle attached by the tool, with its session and connection.
    Handle(HandleSource),
    /// Janus' event handlers, received by listeners of the tool's own.
    Evh(crate::commands::watch_evh::EvhSource),
}

impl Source {
    /// The next event; `Err` when the source ended.
    async fn next(&mut self) -> Result<WatchEvent, Ended> {
        match self {
            Source::Handle(h) => h.next().await,
            Source::Evh(e) => e.next().await.map_err(|why| Ended {
                exit: Exit::Connection,
                why,
            }),
        }
    }

    /// Releases what the source holds (detaches, destroys, disconnects), within `limit`.
    async fn close(self, limit: Duration) {
        match self {
            Source::Handle(h) => h.close(limit).await,
            Source::Evh(e) => e.close(limit).await,
        }
    }
}

struct HandleSource {
    client: Client,
    session: Session,
    handle: Handle,
    events: HandleEvents,
    session_events: SessionEvents,
    state: watch::Receiver<ConnectionState>,
    /// The answer to `--body`, printed first.
    first: Option<WatchEvent>,
}

impl HandleSource {
    async fn open(
        conn: &ConnectionArgs,
        plugin: &str,
        body: Option<&str>,
        opaque_id: Option<&str>,
    ) -> Result<HandleSource, Failure> {
        let body: Option<Value> = body
            .map(|b| {
                serde_json::from_str(b)
                    .map_err(|e| Failure::usage(format!("--body is not JSON: {e}")))
            })
            .transpose()?;
        let client = connect(api_config(conn)?).await?;
        let session = client
            .create_session()
            .await
            .map_err(|e| Failure::from_error("create", &e))?;
        let mut attach = session.attach(plugin);
        if let Some(id) = opaque_id {
            attach = attach.opaque_id(id);
        }
        let handle = attach
            .await
            .map_err(|e| Failure::from_error(&format!("attach {plugin}"), &e))?;
        // Subscribed before the message, so no event of it is missed.
        let events = handle.events();
        let session_events = session.events();
        let state = client.connection_state();
        eprintln!(
            "janus-cli: watching {plugin}: session {}, handle {} (Ctrl-C to stop)",
            session.id(),
            handle.id()
        );
        let first = match body {
            Some(body) => {
                let reply = handle
                    .message(body)
                    .await
                    .map_err(|e| Failure::from_error("message", &e))?;
                Some(WatchEvent {
                    source: "reply",
                    id: Some(handle.id().0),
                    kind: "plugin",
                    data: plugin_data(&reply.plugin, &reply.data, reply.jsep.as_ref()),
                })
            }
            None => None,
        };
        Ok(HandleSource {
            client,
            session,
            handle,
            events,
            session_events,
            state,
            first,
        })
    }

    async fn next(&mut self) -> Result<WatchEvent, Ended> {
        if let Some(first) = self.first.take() {
            return Ok(first);
        }
        let hid = self.handle.id().0;
        let sid = self.session.id().0;
        tokio::select! {
            ev = self.events.recv() => match ev {
                Some(HandleEvent::Closed(reason)) => Err(closed("handle", &reason)),
                Some(ev) => Ok(handle_event(hid, ev)),
                None => Err(Ended { exit: Exit::Connection, why: "the handle's events ended".into() }),
            },
            ev = self.session_events.recv() => match ev {
                Some(SessionEvent::Closed(reason)) => Err(closed("session", &reason)),
                Some(ev) => Ok(session_event(sid, ev)),
                None => Err(Ended { exit: Exit::Connection, why: "the session's events ended".into() }),
            },
            changed = self.state.changed() => match changed {
                Ok(()) => {
                    let state = self.state.borrow_and_update().clone();
                    Ok(connection_event(&state))
                }
                Err(_) => Err(Ended { exit: Exit::Connection, why: "the connection closed".into() }),
            },
        }
    }

    async fn close(self, limit: Duration) {
        let HandleSource {
            client,
            session,
            handle,
            ..
        } = self;
        let cleanup = async {
            let _ = handle.detach().await;
            let _ = session.destroy().await;
            client.close().await;
        };
        if tokio::time::timeout(limit, cleanup).await.is_err() {
            eprintln!("janus-cli: the cleanup did not finish within {limit:?}");
        }
    }
}

/// The source's end, as an exit code and a reason.
fn closed(what: &str, reason: &CloseReason) -> Ended {
    let exit = match reason {
        CloseReason::TransportClosed(_) => Exit::Connection,
        _ => Exit::Refused,
    };
    Ended {
        exit,
        why: format!("the {what} closed: {reason}"),
    }
}

fn plugin_data(plugin: &str, data: &Value, jsep: Option<&janus_client::Jsep>) -> Value {
    let mut v = json!({"plugin": plugin, "data": data});
    if let Some(jsep) = jsep {
        v["jsep"] = serde_json::to_value(jsep).unwrap_or(Value::Null);
    }
    v
}

fn handle_event(id: u64, ev: HandleEvent) -> WatchEvent {
    let (kind, data) = match ev {
        HandleEvent::Plugin(p) => ("plugin", plugin_data(&p.plugin, &p.data, p.jsep.as_ref())),
        HandleEvent::LateReply {
            transaction,
            response,
        } => (
            "late_reply",
            json!({"transaction": transaction,
                   "reply": plugin_data(&response.plugin, &response.data, response.jsep.as_ref())}),
        ),
        HandleEvent::WebrtcUp => ("webrtcup", Value::Null),
        HandleEvent::Media { raw, .. } => ("media", raw),
        HandleEvent::Slowlink { raw, .. } => ("slowlink", raw),
        HandleEvent::Hangup { reason } => ("hangup", json!({"reason": reason})),
        HandleEvent::Detached => ("detached", Value::Null),
        HandleEvent::Trickle(t) => ("trickle", Value::String(format!("{t:?}"))),
        HandleEvent::IceFailed => ("ice_failed", Value::Null),
        HandleEvent::Lagged { missed } => ("lagged", json!({"missed": missed})),
        HandleEvent::Other(v) => ("other", v),
        HandleEvent::Closed(reason) => ("closed", Value::String(reason.to_string())),
        other => ("unknown", Value::String(format!("{other:?}"))),
    };
    WatchEvent {
        source: "handle",
        id: Some(id),
        kind,
        data,
    }
}

fn session_event(id: u64, ev: SessionEvent) -> WatchEvent {
    let (kind, data) = match ev {
        SessionEvent::Timeout => ("timeout", Value::Null),
        SessionEvent::Reclaimed => ("reclaimed", Value::Null),
        SessionEvent::Recreated { old, new, .. } => {
            ("recreated", json!({"old": old.0, "new": new.0}))
        }
        SessionEvent::Lagged { missed } => ("lagged", json!({"missed": missed})),
        SessionEvent::Other(v) => ("other", v),
        SessionEvent::Closed(reason) => ("closed", Value::String(reason.to_string())),
        other => ("unknown", Value::String(format!("{other:?}"))),
    };
    WatchEvent {
        source: "session",
        id: Some(id),
        kind,
        data,
    }
}

fn connection_event(state: &ConnectionState) -> WatchEvent {
    let (kind, data) = match state {
        ConnectionState::Connected => ("connected", Value::Null),
        ConnectionState::Disconnected { reason } => ("disconnected", json!({"reason": reason})),
        ConnectionState::Reconnecting { attempt } => ("reconnecting", json!({"attempt": attempt})),
        ConnectionState::Reconnected => ("reconnected", Value::Null),
        ConnectionState::Closed { reason } => ("closed", json!({"reason": reason})),
        other => ("unknown", Value::String(format!("{other:?}"))),
    };
    WatchEvent {
        source: "connection",
        id: None,
        kind,
        data,
    }
}

/// Prints one event: a JSON line, or `time  source id  kind  data`.
fn print(ev: &WatchEvent, json: bool) {
    let time = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
    if json {
        crate::outln!(
            "{}",
            json!({"time": time, "source": ev.source, "id": ev.id, "event": ev.kind, "data": ev.data})
        );
        return;
    }
    // The time of day is enough on a terminal.
    let clock = time.get(11..23).unwrap_or(&time);
    let origin = match ev.id {
        Some(id) => format!("{} {id}", ev.source),
        None => ev.source.to_string(),
    };
    let data = match &ev.data {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let line = format!("{clock}  {origin}  {}  {data}", ev.kind);
    crate::outln!("{}", line.trim_end());
}

/// Runs `watch`.
pub async fn run(conn: &ConnectionArgs, args: &WatchArgs, json: bool) -> Result<Exit, Failure> {
    let src = &args.source;
    let mut interrupts = Interrupts::listen()?;
    let mut source = match &src.plugin {
        Some(plugin) => Source::Handle(
            HandleSource::open(conn, plugin, src.body.as_deref(), src.opaque_id.as_deref()).await?,
        ),
        None => Source::Evh(crate::commands::watch_evh::EvhSource::open(src).await?),
    };
    let cleanup_limit = conn
        .timeout
        .unwrap_or(Duration::from_secs(10))
        .saturating_mul(2);
    let stop_at = args.duration.map(|d| tokio::time::Instant::now() + d);
    let mut printed = 0u64;
    let ended = loop {
        if args.count.is_some_and(|n| printed >= n) {
            break None;
        }
        let until = async {
            match stop_at {
                Some(t) => tokio::time::sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            ev = source.next() => match ev {
                Ok(ev) => {
                    print(&ev, json);
                    printed += 1;
                    // Nobody reads any more (`watch | head`): stop, and clean up.
                    if crate::output::stdout_closed() {
                        break None;
                    }
                }
                Err(ended) => break Some(ended),
            },
            () = interrupts.next() => {
                eprintln!("janus-cli: interrupted");
                break None;
            }
            () = until => break None,
        }
    };
    source.close(cleanup_limit).await;
    match ended {
        None => Ok(Exit::Ok),
        Some(Ended { exit, why }) => Err(Failure { exit, message: why }),
    }
}
