//! The lifecycle every minimal client runs, written once over a raw "send this request,
//! wait for its answer" call that each minimal client provides for its wire.

use serde_json::{json, Value};
use std::future::Future;

use crate::minimal_ws::{data_id, expect};

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
