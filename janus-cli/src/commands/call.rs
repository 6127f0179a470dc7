//! `janus-cli call`: one request as written, and Janus' whole answer.

use janus_client::protocol::plugin_error;
use janus_client::{Expect, Verb};
use serde_json::Value;

use crate::args::{CallArgs, ConnectionArgs, ExpectArg};
use crate::commands::raw;
use crate::connection::{api_config, connect};
use crate::failure::{Exit, Failure};
use crate::output::print_json;

/// The library's [`Expect`] for the command line's choice.
pub fn expect(arg: Option<ExpectArg>) -> Option<Expect> {
    arg.map(|a| match a {
        ExpectArg::Success => Expect::Success,
        ExpectArg::Ack => Expect::Ack,
        ExpectArg::Event => Expect::PluginMessage,
        ExpectArg::ServerInfo => Expect::ServerInfo,
        ExpectArg::Pong => Expect::Pong,
    })
}

/// Runs `call`.
pub async fn run(args: &ConnectionArgs, call: &CallArgs) -> Result<Exit, Failure> {
    let mut req = raw::parse(&call.request, expect(call.expect))?;
    let config = api_config(args)?;
    let client = connect(config).await?;
    // With --plugin: a session and a handle of our own, released (detached and destroyed
    // by the library) when they are dropped at the end.
    let mut owned = None;
    if let Some(plugin) = &call.plugin {
        let session = client
            .create_session()
            .await
            .map_err(|e| Failure::from_error("create", &e))?;
        let handle = session
            .attach(plugin.as_str())
            .await
            .map_err(|e| Failure::from_error(&format!("attach {plugin}"), &e))?;
        req.session = req.session.or(Some(session.id()));
        req.handle = req.handle.or(Some(handle.id()));
        owned = Some((session, handle));
    }
    let name = req.verb.name();
    let reply = client.raw_request(req).await;
    if let Some((session, handle)) = owned {
        // Errors here change nothing about the answer: the library releases them anyway.
        if Verb::known(name) != Some(Verb::Destroy) {
            let _ = handle.detach().await;
            let _ = session.destroy().await;
        }
    }
    client.close().await;
    let reply = reply.map_err(|e| Failure::from_error(name, &e))?;
    // A plugin's error comes inside a successful answer: printed, and exit code 1.
    let plugin_error = reply
        .body
        .get("plugindata")
        .and_then(|p| p.get("data"))
        .and_then(plugin_error);
    print_json(&Value::Object(reply.body));
    match plugin_error {
        Some(e) => Err(Failure::from_error(name, &e)),
        None => Ok(Exit::Ok),
    }
}
