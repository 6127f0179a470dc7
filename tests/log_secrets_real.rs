//! The library's own log lines never carry the api secret: everything the library's
//! targets (`janus_core`, `janus_ws`, `janus_http`, `janus_client`) log at TRACE, spans
//! included, is captured during connect, create, attach, message, detach and destroy
//! against the real Janus that requires an api secret (`JANUS_AUTH_*`, secret
//! `test-api-secret`), over every transport compiled in, and searched for the secret.
//!
//! (The WebSocket and HTTP libraries underneath do log whole frames at TRACE, secret
//! included: the README's "Logging and secrets" says which targets to keep below TRACE.)

mod common;

use common::targets;
use janus_client::{ClientOptions, Secret};
use serde_json::json;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;

const SECRET: &str = "test-api-secret";

/// Everything logged, as text.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Installs, once for this test binary, a global subscriber writing the library's targets
/// at TRACE (with span fields, on every thread: the connection task runs on the runtime's
/// workers) into the capture.
fn capture() -> Captured {
    static CAPTURED: OnceLock<Captured> = OnceLock::new();
    CAPTURED
        .get_or_init(|| {
            let captured = Captured::default();
            let writer = captured.clone();
            let filter = Targets::new()
                .with_target("janus_core", LevelFilter::TRACE)
                .with_target("janus_ws", LevelFilter::TRACE)
                .with_target("janus_http", LevelFilter::TRACE)
                .with_target("janus_client", LevelFilter::TRACE);
            let layer = tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_target(true)
                .with_writer(move || writer.clone());
            let subscriber = tracing_subscriber::registry().with(layer).with(filter);
            tracing::subscriber::set_global_default(subscriber).expect("no other subscriber");
            captured
        })
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn library_logs_never_carry_the_api_secret_at_trace() {
    let captured = capture();
    let targets = targets("JANUS_AUTH");
    for target in &targets {
        let what = format!("{} ({})", target.url, target.transport);
        let options = ClientOptions {
            api_secret: Some(Secret::new(SECRET)),
            ..Default::default()
        };
        let client = target.connect_with(options).await;
        let session = client
            .create_session()
            .await
            .unwrap_or_else(|e| panic!("{what}: create: {e}"));
        let handle = session
            .attach("janus.plugin.echotest")
            .await
            .unwrap_or_else(|e| panic!("{what}: attach: {e}"));
        let reply = handle
            .message(json!({"audio": true}))
            .await
            .unwrap_or_else(|e| panic!("{what}: message: {e}"));
        assert_eq!(reply.data["result"], "ok", "{what}");
        // A refused request too: its error (logged or not) must not carry the secret.
        let _ = handle.message(json!({"bitrate": "not a number"})).await;
        handle
            .detach()
            .await
            .unwrap_or_else(|e| panic!("{what}: detach: {e}"));
        session
            .destroy()
            .await
            .unwrap_or_else(|e| panic!("{what}: destroy: {e}"));
        client.close().await;
    }
    // Let the last lines of the connection tasks come in.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let text = captured.text();
    if !targets.is_empty() {
        // The capture works: the library did log something at these levels.
        assert!(
            text.contains("janus_core") || text.contains("janus_ws") || text.contains("janus_http"),
            "nothing captured from the library's targets:\n{text}"
        );
    }
    eprintln!(
        "log_secrets_real: {} bytes, {} lines of the library's logs captured at TRACE",
        text.len(),
        text.lines().count()
    );
    assert!(
        !text.contains(SECRET),
        "the api secret appears in the library's logs:\n{}",
        text.lines()
            .filter(|l| l.contains(SECRET))
            .collect::<Vec<_>>()
            .join("\n")
    );
}
