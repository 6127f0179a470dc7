//! The lifecycle every minimal client runs, written once over a raw "send this request,
//! wait for its answer" call that each minimal client provides for its wire.

use serde_json::{json, Map, Value};
use std::future::Future;

use crate::minimal_ws::{data_id, expect};
use crate::runner::Lifecycle;

/// One request to Janus and its answer (for `message`, its `event`), as plain JSON.
pub trait JanusCall: Sync {
    /// Sends `janus` with the given ids and one extra field, and waits for the answer.
    fn call(
        &self,
        janus: &str,
        session: Option<u64>,
        handle: Option<u64>,
        extra: Option<(&str, Value)>,
    ) -> impl Future<Output = Result<Value, String>> + Send;
}

/// Every minimal client runs the same lifecycle.
impl<C: JanusCall + Clone + Send + 'static> Lifecycle for C {
    async fn lifecycle(&self) -> Result<(), String> {
        run_lifecycle(self).await
    }
}

/// A request as compact JSON: `janus`, `transaction`, the ids, and one extra field.
pub fn request_text(
    janus: &str,
    transaction: &str,
    session: Option<u64>,
    handle: Option<u64>,
    extra: Option<(&str, Value)>,
) -> Result<String, String> {
    let mut obj = Map::new();
    obj.insert("janus".into(), Value::from(janus));
    obj.insert("transaction".into(), Value::from(transaction));
    if let Some(s) = session {
        obj.insert("session_id".into(), Value::from(s));
    }
    if let Some(h) = handle {
        obj.insert("handle_id".into(), Value::from(h));
    }
    if let Some((k, v)) = extra {
        obj.insert(k.into(), v);
    }
    serde_json::to_string(&Value::Object(obj)).map_err(|e| e.to_string())
}

/// create → attach (echotest) → message → detach → destroy; on a failure after `create`,
/// tries to destroy the session.
pub async fn run_lifecycle<C: JanusCall>(c: &C) -> Result<(), String> {
    let created = expect(
        c.call("create", None, None, None).await?,
        "success",
        "create",
    )?;
    let session = data_id(&created, "create")?;
    let rest = after_create(c, session).await;
    if rest.is_err() {
        let _ = c.call("destroy", Some(session), None, None).await;
    }
    rest
}

async fn after_create<C: JanusCall>(c: &C, session: u64) -> Result<(), String> {
    let attached = expect(
        c.call(
            "attach",
            Some(session),
            None,
            Some(("plugin", Value::from("janus.plugin.echotest"))),
        )
        .await?,
        "success",
        "attach",
    )?;
    let handle = data_id(&attached, "attach")?;
    let event = expect(
        c.call(
            "message",
            Some(session),
            Some(handle),
            Some(("body", json!({"audio": true}))),
        )
        .await?,
        "event",
        "message",
    )?;
    if event["plugindata"]["data"]["result"] != "ok" {
        return Err(format!("message: unexpected answer {event}"));
    }
    expect(
        c.call("detach", Some(session), Some(handle), None).await?,
        "success",
        "detach",
    )?;
    expect(
        c.call("destroy", Some(session), None, None).await?,
        "success",
        "destroy",
    )?;
    Ok(())
}
