//! `janus-cli info`: the server's version, settings, plugins and transports.

use serde_json::Value;

use crate::args::ConnectionArgs;
use crate::connection::{api_config, connect};
use crate::failure::{Exit, Failure};
use crate::output::{cell, print_json, Table};

/// Runs `info`.
pub async fn run(args: &ConnectionArgs, json: bool) -> Result<Exit, Failure> {
    let config = api_config(args)?;
    let url = config.url.clone();
    let client = connect(config).await?;
    let info = client
        .info()
        .await
        .map_err(|e| Failure::from_error("info", &e));
    client.close().await;
    let info = info?;
    if json {
        print_json(&info.raw);
        return Ok(Exit::Ok);
    }
    let raw = &info.raw;
    let name = raw.get("name").map(cell).unwrap_or_default();
    crate::outln!("{name} {} at {url}", info.version);
    let mut t = Table::untitled(2);
    let mut add = |label: &str, value: String| t.row(vec![label.to_string(), value]);
    add(
        "server name",
        raw.get("server-name").map(cell).unwrap_or_default(),
    );
    add("session timeout", secs(info.session_timeout));
    add("reclaim timeout", secs(info.reclaim_session_timeout));
    add(
        "candidates timeout",
        secs(raw.get("candidates-timeout").and_then(Value::as_u64)),
    );
    add("api secret", required(info.api_secret));
    add("token auth", required(info.auth_token));
    add(
        "new sessions",
        match raw.get("accepting-new-sessions").and_then(Value::as_bool) {
            Some(true) => "accepted".into(),
            Some(false) => "refused".into(),
            None => "?".into(),
        },
    );
    add("event handlers", on_off(raw.get("event_handlers")));
    add("full trickle", on_off(raw.get("full-trickle")));
    add("ice-lite", on_off(raw.get("ice-lite")));
    add(
        "local ip",
        raw.get("local-ip").map(cell).unwrap_or_default(),
    );
    crate::out!("{}", t.render());
    for (title, key) in [
        ("PLUGIN", "plugins"),
        ("TRANSPORT", "transports"),
        ("EVENT HANDLER", "events"),
    ] {
        let Some(items) = raw.get(key).and_then(Value::as_object) else {
            continue;
        };
        if items.is_empty() {
            continue;
        }
        crate::outln!();
        let mut t = Table::new(&[title, "VERSION", "DESCRIPTION"]);
        for (package, about) in items {
            t.row(vec![
                package.clone(),
                about.get("version_string").map(cell).unwrap_or_default(),
                about.get("description").map(cell).unwrap_or_default(),
            ]);
        }
        crate::out!("{}", t.render());
    }
    Ok(Exit::Ok)
}

fn secs(v: Option<u64>) -> String {
    match v {
        Some(0) => "none".into(),
        Some(s) => format!("{s} s"),
        None => "?".into(),
    }
}

fn required(on: bool) -> String {
    if on { "required" } else { "not required" }.into()
}

fn on_off(v: Option<&Value>) -> String {
    match v.and_then(Value::as_bool) {
        Some(true) => "on".into(),
        Some(false) => "off".into(),
        None => "?".into(),
    }
}
