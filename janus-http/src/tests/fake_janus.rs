//! A small fake of the Janus HTTP transport on top of the test server, enough for a whole
//! lifecycle through `janus_core::Client`: info, create, attach, an echotest `message`
//! (ack in the POST reply, event through the long poll), detach, destroy, claim, and long
//! polls that return arrays of up to `maxev` events.

use serde_json::{json, Value};
use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

use super::server::{Reply, Req};

#[derive(Default)]
struct FakeSession {
    events: Mutex<VecDeque<Value>>,
    notify: Notify,
    handles: Mutex<HashSet<u64>>,
}

impl FakeSession {
    fn push(&self, event: Value) {
        self.events.lock().unwrap().push_back(event);
        self.notify.notify_one();
    }

    fn pop(&self, max: usize) -> Vec<Value> {
        let mut q = self.events.lock().unwrap();
        let n = q.len().min(max);
        q.drain(..n).collect()
    }
}

pub struct FakeJanus {
    next_id: AtomicU64,
    sessions: Mutex<HashMap<u64, Arc<FakeSession>>>,
    /// How long an idle poll waits before answering with a keepalive (30 s in Janus).
    poll_wait: Duration,
}

impl FakeJanus {
    pub fn new(poll_wait: Duration) -> Arc<Self> {
        Arc::new(FakeJanus {
            next_id: AtomicU64::new(1000),
            sessions: Mutex::new(HashMap::new()),
            poll_wait,
        })
    }

    /// The request handler, for [`super::server::TestServer::start`].
    pub fn handler(
        self: &Arc<Self>,
    ) -> impl Fn(Req) -> std::pin::Pin<Box<dyn Future<Output = Reply> + Send>> + Send + Sync + 'static
    {
        let this = self.clone();
        move |req| {
            let this = this.clone();
            Box::pin(async move { this.handle(req).await })
        }
    }

    pub fn session_count(&self) -> usize {
        self.sessions.lock().unwrap().len()
    }

    fn session(&self, id: u64) -> Option<Arc<FakeSession>> {
        self.sessions.lock().unwrap().get(&id).cloned()
    }

    async fn handle(self: Arc<Self>, req: Req) -> Reply {
        let path = req.path().to_string();
        let mut segs = path.trim_start_matches('/').split('/');
        if segs.next() != Some("janus") {
            return Reply::Json(404, String::new());
        }
        let first = segs.next().filter(|s| !s.is_empty());
        let second = segs.next().filter(|s| !s.is_empty());
        if req.method == "GET" {
            return match first {
                Some("info") => Reply::Json(200, server_info(&Value::Null).to_string()),
                Some(s) => match s.parse::<u64>().ok().and_then(|id| self.session(id)) {
                    Some(session) => self.long_poll(&session, &req).await,
                    None => Reply::Json(404, String::new()),
                },
                None => Reply::Json(404, String::new()),
            };
        }
        let Ok(body) = serde_json::from_str::<Value>(&req.body) else {
            return ok(json!({"janus":"error","error":{"code":454,"reason":"JSON error"}}));
        };
        let txn = body["transaction"].clone();
        let janus = body["janus"].as_str().unwrap_or_default().to_string();
        let sid = first.and_then(|s| s.parse::<u64>().ok());
        let hid = second.and_then(|s| s.parse::<u64>().ok());
        let session = sid.and_then(|id| self.session(id));
        if sid.is_some() && session.is_none() {
            return ok(json!({"janus":"error","session_id":sid,"transaction":txn,
                "error":{"code":458,"reason":"No such session"}}));
        }
        match (janus.as_str(), session, hid) {
            ("info", None, None) => ok(server_info(&txn)),
            ("create", None, None) => {
                let id = self.next_id.fetch_add(1, Ordering::SeqCst);
                self.sessions
                    .lock()
                    .unwrap()
                    .insert(id, Arc::new(FakeSession::default()));
                ok(json!({"janus":"success","transaction":txn,"data":{"id":id}}))
            }
            ("keepalive", Some(_), None) => {
                ok(json!({"janus":"ack","session_id":sid,"transaction":txn}))
            }
            ("claim", Some(_), None) => {
                ok(json!({"janus":"success","session_id":sid,"transaction":txn}))
            }
            ("attach", Some(s), None) => {
                let id = self.next_id.fetch_add(1, Ordering::SeqCst);
                s.handles.lock().unwrap().insert(id);
                ok(json!({"janus":"success","session_id":sid,"transaction":txn,"data":{"id":id}}))
            }
            ("destroy", Some(_), None) => {
                if let Some(id) = sid {
                    self.sessions.lock().unwrap().remove(&id);
                }
                ok(json!({"janus":"success","session_id":sid,"transaction":txn}))
            }
            ("message", Some(s), Some(h)) => {
                s.push(
                    json!({"janus":"event","session_id":sid,"sender":h,"transaction":txn,
                    "plugindata":{"plugin":"janus.plugin.echotest",
                        "data":{"echotest":"event","result":"ok"}}}),
                );
                ok(json!({"janus":"ack","session_id":sid,"transaction":txn}))
            }
            ("detach", Some(s), Some(h)) => {
                s.handles.lock().unwrap().remove(&h);
                s.push(json!({"janus":"detached","session_id":sid,"sender":h}));
                ok(json!({"janus":"success","session_id":sid,"transaction":txn}))
            }
            _ => ok(json!({"janus":"error","transaction":txn,
                "error":{"code":453,"reason":"Unknown request"}})),
        }
    }

    async fn long_poll(&self, session: &FakeSession, req: &Req) -> Reply {
        let maxev = req
            .target
            .split_once('?')
            .and_then(|(_, q)| {
                q.split('&')
                    .find_map(|kv| kv.strip_prefix("maxev="))
                    .and_then(|v| v.parse::<usize>().ok())
            })
            .unwrap_or(1)
            .max(1);
        let mut events = session.pop(maxev);
        let deadline = tokio::time::Instant::now() + self.poll_wait;
        while events.is_empty() {
            // `notify_one` keeps a permit, so an event pushed meanwhile is not missed; a
            // stale permit (its event taken by an earlier poll) just goes round again.
            if tokio::time::timeout_at(deadline, session.notify.notified())
                .await
                .is_err()
            {
                break;
            }
            events = session.pop(maxev);
        }
        if events.is_empty() {
            events.push(json!({"janus":"keepalive"}));
        }
        // Like Janus: pretty-printed, an array whenever maxev > 1.
        let body = if maxev > 1 {
            serde_json::to_string_pretty(&Value::Array(events))
        } else {
            serde_json::to_string_pretty(&events[0])
        };
        Reply::Json(200, body.unwrap())
    }
}

fn ok(v: Value) -> Reply {
    Reply::Json(200, serde_json::to_string_pretty(&v).unwrap())
}

fn server_info(txn: &Value) -> Value {
    json!({"janus":"server_info","transaction":txn,"name":"Fake Janus","version":1102,
        "version_string":"1.1.2","session-timeout":60,"reclaim-session-timeout":0,
        "api_secret":false,"auth_token":false,
        "plugins":{"janus.plugin.echotest":{"name":"JANUS EchoTest plugin"}}})
}
