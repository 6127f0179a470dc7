//! Shared helpers of the integration tests: finding the real Janus instances that
//! `scripts/janus` started (through environment variables), once per transport.
#![allow(dead_code)]

#[cfg(feature = "evh")]
pub mod media_evh;
pub mod proxy;

use futures::StreamExt;
use janus_client::plugins::{Plugin, PluginEvent, PluginEvents};
use janus_client::{connect, ClientOptions, Config};
use std::time::Duration;

/// One transport to run a test body over.
#[derive(Clone, Debug)]
pub struct Target {
    /// "ws", "http", "unix", "mqtt" or "amqp".
    pub transport: &'static str,
    /// The URL.
    pub url: String,
}

impl Target {
    /// A config for this target with `options`.
    pub fn config(&self, options: ClientOptions) -> Config {
        Config::new(self.url.clone()).with_options(options)
    }

    /// Connects with default options (fast reconnect off unless asked).
    pub async fn connect(&self) -> janus_client::Client {
        self.connect_with(ClientOptions::default()).await
    }

    /// Connects with `options`.
    pub async fn connect_with(&self, options: ClientOptions) -> janus_client::Client {
        match connect(self.config(options)).await {
            Ok(c) => c,
            Err(e) => panic!("cannot connect to {} ({}): {e}", self.url, self.transport),
        }
    }
}

/// The transports compiled in, for the instance whose variables start with `prefix`
/// (`JANUS`, `JANUS_SHORT`, ...). Locally a missing instance skips loudly; with `CI` set it
/// fails the test. An instance that died while the suite ran is started again first (see
/// [`revive`]).
pub fn targets(prefix: &str) -> Vec<Target> {
    revive(prefix);
    let mut out = Vec::new();
    let mut wanted: Vec<(&'static str, String)> = Vec::new();
    if cfg!(feature = "ws") {
        wanted.push(("ws", format!("{prefix}_WS_URL")));
    }
    if cfg!(feature = "http") {
        wanted.push(("http", format!("{prefix}_HTTP_URL")));
    }
    if cfg!(feature = "unix") {
        wanted.push(("unix", format!("{prefix}_UNIX_URL")));
    }
    if cfg!(feature = "mqtt") {
        wanted.push(("mqtt", format!("{prefix}_MQTT_URL")));
    }
    if cfg!(feature = "amqp") {
        wanted.push(("amqp", format!("{prefix}_AMQP_URL")));
    }
    for (transport, var) in wanted {
        match std::env::var(&var) {
            Ok(url) if !url.is_empty() => out.push(Target { transport, url }),
            _ => missing(&var),
        }
    }
    out
}

/// Starts the instance again (on its ports) when its Janus died while the suite ran, which
/// `scripts/janus revive` tells from an instance a test stopped or killed on purpose (those
/// stay as the test left them). Janus 1.1.2 crashed once in CI between two test binaries
/// (after the session timeouts of `parity_real`), and every later test of that instance
/// failed to connect; the script prints the end of the dead instance's log, so the crash is
/// reported, not hidden.
fn revive(prefix: &str) {
    let Ok(name) = std::env::var(format!("{prefix}_NAME")) else {
        return;
    };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/janus");
    let revived = std::process::Command::new(script)
        .args(["revive", &name])
        .status()
        .is_ok_and(|s| s.success());
    assert!(revived, "scripts/janus revive {name} failed");
}

/// An admin URL of an instance (`JANUS_ADMIN_WS_URL`, ...).
pub fn env_or_skip(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            missing(var);
            None
        }
    }
}

fn missing(var: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("{var} is not set: real-Janus tests must run in CI (use scripts/test)");
    }
    eprintln!("\n*** SKIPPED: {var} is not set; run scripts/test to start a real Janus ***\n");
}

/// Polls `f` until it returns true or `limit` passes.
pub async fn eventually<F, Fut>(limit: Duration, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = tokio::time::Instant::now() + limit;
    loop {
        if f().await {
            return true;
        }
        if tokio::time::Instant::now() >= end {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends messages on `h` until one is answered and returns how long that took; errors a cut
/// or a stall can cause are retried (each try waits 2 s at most), others fail the test, and
/// so does a handle still unusable after `limit`.
pub async fn until_usable(h: &janus_client::Handle, limit: Duration) -> Duration {
    let start = tokio::time::Instant::now();
    let mut seen = Vec::new();
    loop {
        let tried = start.elapsed();
        match h
            .message(serde_json::json!({"audio": true}))
            .timeout(Duration::from_secs(2))
            .await
        {
            Ok(_) => return start.elapsed(),
            Err(e) if e.is_transport_closed() || e.is_timeout() || e.is_retry_safe() => {
                seen.push(format!("{tried:?}: {e}"));
            }
            Err(e) => panic!("handle {} failed for good: {e}", h.id()),
        }
        assert!(
            start.elapsed() < limit,
            "handle {} unusable for {limit:?}; errors: {seen:#?}",
            h.id()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Asserts that the client holds nothing: no pending request, session or handle.
pub async fn assert_empty(client: &janus_client::Client) {
    let ok = eventually(Duration::from_secs(3), || async {
        let s = client.stats();
        s.pending_transactions == 0 && s.sessions == 0 && s.handles == 0 && s.queued_requests == 0
    })
    .await;
    assert!(ok, "client still holds state: {:?}", client.stats());
}

/// Waits for the first plugin event `pick` accepts, failing after `limit`.
pub async fn wait_for<P: Plugin, T>(
    events: &mut PluginEvents<P>,
    limit: Duration,
    mut pick: impl FnMut(&PluginEvent<P::Event>) -> Option<T>,
) -> T
where
    P::Event: std::fmt::Debug,
{
    let deadline = tokio::time::Instant::now() + limit;
    let mut seen = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, events.next()).await {
            Ok(Some(ev)) => {
                if let Some(t) = pick(&ev) {
                    return t;
                }
                if ev.is_closed() {
                    panic!("stream closed before the expected event; saw {seen:#?} then {ev:?}");
                }
                seen.push(ev);
            }
            Ok(None) => panic!("stream ended; saw {seen:#?}"),
            Err(_) => panic!("no expected event within {limit:?}; saw {seen:#?}"),
        }
    }
}
