//! A typed API for a plugin the library has no module for, written in the application:
//! a marker type implementing `Plugin`, request types implementing `PluginRequest`, and
//! serde types for the answers. Any plugin (C, Lua or JavaScript) works the same way; this
//! one drives the echotest so that it runs against a stock Janus.
//!
//! ```text
//! cargo run --example custom_plugin -- ws://127.0.0.1:8188
//! ```

use janus_client::plugins::{Plugin, PluginEvent, PluginHandle, PluginRequest};
use janus_client::{connect, Config, HandleEvent};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The plugin, as a type.
struct Echo;

/// What the plugin says on its own.
#[derive(Debug)]
enum EchoEvent {
    /// `{"echotest":"event","result":...}`.
    Result(String),
    /// Anything else, kept whole: a newer plugin never breaks this code.
    Other(Value),
}

impl Plugin for Echo {
    const NAME: &'static str = "janus.plugin.echotest";
    type Event = EchoEvent;

    fn parse_event(data: Value) -> EchoEvent {
        match data.get("result").and_then(Value::as_str) {
            Some(r) => EchoEvent::Result(r.to_string()),
            None => EchoEvent::Other(data),
        }
    }
}

/// A request: its JSON is the plugin message's body.
#[derive(Serialize)]
struct Configure {
    audio: bool,
    video: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    bitrate: Option<u32>,
}

/// The answer, decoded from the plugin's `data`.
#[derive(Debug, Deserialize)]
struct Configured {
    result: String,
}

impl PluginRequest<Echo> for Configure {
    type Response = Configured;
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ws://127.0.0.1:8188".to_string());
    let client = connect(Config::new(url)).await?;
    let session = client.create_session().await?;
    let echo = PluginHandle::<Echo>::attach(&session).await?;
    let mut events = echo.events();

    let answer = echo
        .request(&Configure {
            audio: true,
            video: false,
            bitrate: Some(64_000),
        })
        .await?;
    println!("configured: {}", answer.result);

    // Plugin errors are errors, with the plugin's code.
    let bad = echo
        .handle()
        .message(serde_json::json!({"nothing": 1}))
        .await;
    match bad {
        Err(e) => println!(
            "an unknown request fails: {e} (plugin code {:?})",
            e.plugin_code()
        ),
        Ok(r) => println!("unexpected answer {}", r.data),
    }

    echo.detach().await?;
    // The stream ends after the handle's last events.
    while let Some(event) = events.recv().await {
        match event {
            PluginEvent::Plugin {
                event: EchoEvent::Result(r),
                ..
            } => println!("event: result {r}"),
            PluginEvent::Plugin {
                event: EchoEvent::Other(data),
                ..
            } => println!("event: {data}"),
            PluginEvent::Handle(HandleEvent::Closed(reason)) => println!("closed: {reason}"),
            other => println!("{other:?}"),
        }
    }
    session.destroy().await?;
    Ok(())
}
