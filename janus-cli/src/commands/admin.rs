//! `janus-cli admin …`: the Admin API, as tables for people or JSON for scripts.

use futures::stream::{self, StreamExt};
use janus_client::admin::AdminClient;
use janus_client::{HandleId, SessionId};
use serde_json::{json, Value};
use std::io::BufRead;

use crate::args::{AdminCommand, ConnectionArgs, TokenCommand};
use crate::commands::raw;
use crate::connection::connect_admin;
use crate::failure::{Exit, Failure};
use crate::output::{cell, outline, print_json, Table};

/// Requests at once when a listing asks about every session or handle.
const CONCURRENCY: usize = 16;

/// Runs an `admin` command.
pub async fn run(args: &ConnectionArgs, cmd: AdminCommand, json: bool) -> Result<Exit, Failure> {
    // Read a token from stdin before connecting, so that a slow typist holds no connection.
    let cmd = read_stdin_tokens(cmd)?;
    let admin = connect_admin(args).await?;
    let outcome = dispatch(&admin, cmd, json).await;
    admin.close().await;
    outcome.map(|()| Exit::Ok)
}

async fn dispatch(admin: &AdminClient, cmd: AdminCommand, json: bool) -> Result<(), Failure> {
    let fail = |what: &'static str| move |e: janus_client::Error| Failure::from_error(what, &e);
    match cmd {
        AdminCommand::Status => {
            let status = admin.get_status().await.map_err(fail("get_status"))?;
            show(json, &status.raw, || outline(&status.raw));
        }
        AdminCommand::Sessions => {
            let sessions = admin.list_sessions().await.map_err(fail("list_sessions"))?;
            let rows: Vec<(SessionId, Option<Vec<HandleId>>)> = stream::iter(sessions)
                .map(|s| async move {
                    // A session can end between two requests: it is shown as gone.
                    match admin.list_handles(s).await {
                        Ok(h) => Ok((s, Some(h))),
                        Err(e) if e.is_gone() => Ok((s, None)),
                        Err(e) => Err(Failure::from_error("list_handles", &e)),
                    }
                })
                .buffered(CONCURRENCY)
                .collect::<Vec<_>>()
                .await
                .into_iter()
                .collect::<Result<_, _>>()?;
            let value = Value::Array(
                rows.iter()
                    .map(|(s, h)| json!({"session": s.0, "handles": h.as_ref().map(|h| h.iter().map(|h| h.0).collect::<Vec<_>>())}))
                    .collect(),
            );
            show(json, &value, || {
                let mut t = Table::new(&["SESSION", "HANDLES"]);
                for (s, h) in &rows {
                    let count = h.as_ref().map_or("gone".into(), |h| h.len().to_string());
                    t.row(vec![s.0.to_string(), count]);
                }
                format!("{}{} session(s)\n", t.render(), rows.len())
            });
        }
        AdminCommand::Handles { session } => {
            let sessions = match session {
                Some(s) => vec![SessionId(s)],
                None => admin.list_sessions().await.map_err(fail("list_sessions"))?,
            };
            let lists = stream::iter(sessions)
                .map(|s| async move {
                    match admin.list_handles(s).await {
                        Ok(h) => Ok(h.into_iter().map(|h| (s, h)).collect::<Vec<_>>()),
                        // Gone meanwhile: nothing to show, unless it was the one asked for.
                        Err(e) if e.is_gone() && session.is_none() => Ok(Vec::new()),
                        Err(e) => Err(Failure::from_error("list_handles", &e)),
                    }
                })
                .buffered(CONCURRENCY)
                .collect::<Vec<_>>()
                .await;
            let mut pairs = Vec::new();
            for list in lists {
                pairs.extend(list?);
            }
            let infos = stream::iter(pairs)
                .map(|(s, h)| async move {
                    match admin.handle_info(s, h, true).await {
                        Ok(info) => Ok(Some(info)),
                        Err(e) if e.is_gone() => Ok(None),
                        Err(e) => Err(Failure::from_error("handle_info", &e)),
                    }
                })
                .buffered(CONCURRENCY)
                .collect::<Vec<_>>()
                .await;
            let mut rows = Vec::new();
            for info in infos {
                rows.extend(info?);
            }
            let value = Value::Array(rows.iter().map(handle_summary).collect());
            show(json, &value, || {
                let mut t = Table::new(&[
                    "SESSION",
                    "HANDLE",
                    "PLUGIN",
                    "OPAQUE ID",
                    "TRANSPORT",
                    "AGE",
                ]);
                for h in value.as_array().into_iter().flatten() {
                    t.row(vec![
                        cell(&h["session"]),
                        cell(&h["handle"]),
                        cell(&h["plugin"]),
                        cell(&h["opaque_id"]),
                        cell(&h["transport"]),
                        h["age_s"]
                            .as_f64()
                            .map_or(String::new(), |a| format!("{a:.0} s")),
                    ]);
                }
                format!("{}{} handle(s)\n", t.render(), rows.len())
            });
        }
        AdminCommand::HandleInfo {
            session,
            handle,
            plugin_only,
        } => {
            let info = admin
                .handle_info(SessionId(session), HandleId(handle), plugin_only)
                .await
                .map_err(fail("handle_info"))?;
            show(json, &info, || outline(&info));
        }
        AdminCommand::LogLevel { level } => {
            let now = admin
                .set_log_level(level)
                .await
                .map_err(fail("set_log_level"))?;
            show(json, &json!({"level": now}), || {
                format!("log level {now}\n")
            });
        }
        AdminCommand::AcceptSessions { accept } => {
            admin
                .accept_new_sessions(accept)
                .await
                .map_err(fail("accept_new_sessions"))?;
            let text = if accept {
                "new sessions accepted\n"
            } else {
                "new sessions refused (create fails with 472)\n"
            };
            show(json, &json!({"accept": accept}), || text.into());
        }
        AdminCommand::SessionTimeout { seconds } => {
            let now = admin
                .set_session_timeout(seconds)
                .await
                .map_err(fail("set_session_timeout"))?;
            show(json, &json!({"timeout": now}), || {
                format!("session timeout {now} s\n")
            });
        }
        AdminCommand::DestroySession { session } => {
            admin
                .destroy_session(SessionId(session))
                .await
                .map_err(fail("destroy_session"))?;
            show(json, &json!({"destroyed": session}), || {
                format!("session {session} destroyed\n")
            });
        }
        AdminCommand::DetachHandle { session, handle } => {
            admin
                .detach_handle(SessionId(session), HandleId(handle))
                .await
                .map_err(fail("detach_handle"))?;
            show(json, &json!({"detached": handle}), || {
                format!("handle {handle} detached\n")
            });
        }
        AdminCommand::Hangup { session, handle } => {
            admin
                .hangup_webrtc(SessionId(session), HandleId(handle))
                .await
                .map_err(fail("hangup_webrtc"))?;
            show(json, &json!({"hangup": handle}), || {
                format!("handle {handle}: PeerConnection closed\n")
            });
        }
        AdminCommand::Tokens(cmd) => tokens(admin, cmd, json).await?,
        AdminCommand::Call { request } => {
            let req = raw::parse(&request, None)?;
            let name = req.verb.name();
            let reply = admin
                .raw(req)
                .await
                .map_err(|e| Failure::from_error(name, &e))?;
            print_json(&Value::Object(reply.body));
        }
    }
    Ok(())
}

async fn tokens(admin: &AdminClient, cmd: TokenCommand, json: bool) -> Result<(), Failure> {
    let fail = |what: &'static str| move |e: janus_client::Error| Failure::from_error(what, &e);
    let plugins_text = |p: &[String]| {
        if p.is_empty() {
            "no plugin".to_string()
        } else {
            p.join(", ")
        }
    };
    match cmd {
        TokenCommand::List => {
            let list = admin.list_tokens().await.map_err(fail("list_tokens"))?;
            let value = Value::Array(
                list.iter()
                    .map(|t| json!({"token": t.token.expose(), "allowed_plugins": t.allowed_plugins}))
                    .collect(),
            );
            show(json, &value, || {
                let mut t = Table::new(&["TOKEN", "ALLOWED PLUGINS"]);
                for token in &list {
                    t.row(vec![
                        token.token.expose().to_string(),
                        plugins_text(&token.allowed_plugins),
                    ]);
                }
                format!("{}{} token(s)\n", t.render(), list.len())
            });
        }
        TokenCommand::Add { token, plugins } => {
            let plugins = (!plugins.is_empty()).then_some(plugins);
            let now = admin
                .add_token(token.as_str(), plugins)
                .await
                .map_err(fail("add_token"))?;
            show(json, &json!({"allowed_plugins": now}), || {
                format!("token added; it may use: {}\n", plugins_text(&now))
            });
        }
        TokenCommand::Remove { token } => {
            admin
                .remove_token(token.as_str())
                .await
                .map_err(fail("remove_token"))?;
            show(json, &json!({"removed": true}), || "token removed\n".into());
        }
        TokenCommand::Allow { token, plugins } => {
            let now = admin
                .allow_token(token.as_str(), plugins)
                .await
                .map_err(fail("allow_token"))?;
            show(json, &json!({"allowed_plugins": now}), || {
                format!("the token may use: {}\n", plugins_text(&now))
            });
        }
        TokenCommand::Disallow { token, plugins } => {
            let now = admin
                .disallow_token(token.as_str(), plugins)
                .await
                .map_err(fail("disallow_token"))?;
            show(json, &json!({"allowed_plugins": now}), || {
                format!("the token may use: {}\n", plugins_text(&now))
            });
        }
    }
    Ok(())
}

/// One row of `admin handles`, from a `handle_info`.
fn handle_summary(info: &Value) -> Value {
    // `created` and `current_time` are Janus' monotonic clock, in microseconds.
    let age = match (info["current_time"].as_u64(), info["created"].as_u64()) {
        (Some(now), Some(created)) => Value::from(now.saturating_sub(created) as f64 / 1e6),
        _ => Value::Null,
    };
    json!({
        "session": info["session_id"],
        "handle": info["handle_id"],
        "plugin": info["plugin"],
        "opaque_id": info["opaque_id"],
        "transport": info["session_transport"],
        "age_s": age,
    })
}

/// Prints `value` as JSON, or the text `text` makes.
fn show(json: bool, value: &Value, text: impl FnOnce() -> String) {
    if json {
        print_json(value);
    } else {
        crate::out!("{}", text());
    }
}

/// A token given as `-` is read from the first line of standard input.
fn read_stdin_tokens(cmd: AdminCommand) -> Result<AdminCommand, Failure> {
    let read = |token: String| -> Result<String, Failure> {
        if token != "-" {
            return Ok(token);
        }
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| Failure::usage(format!("cannot read the token from stdin: {e}")))?;
        let token = line.trim_end_matches(['\r', '\n']).to_string();
        if token.is_empty() {
            return Err(Failure::usage("no token on stdin"));
        }
        Ok(token)
    };
    Ok(match cmd {
        AdminCommand::Tokens(t) => AdminCommand::Tokens(match t {
            TokenCommand::Add { token, plugins } => TokenCommand::Add {
                token: read(token)?,
                plugins,
            },
            TokenCommand::Remove { token } => TokenCommand::Remove {
                token: read(token)?,
            },
            TokenCommand::Allow { token, plugins } => TokenCommand::Allow {
                token: read(token)?,
                plugins,
            },
            TokenCommand::Disallow { token, plugins } => TokenCommand::Disallow {
                token: read(token)?,
                plugins,
            },
            TokenCommand::List => TokenCommand::List,
        }),
        other => other,
    })
}
