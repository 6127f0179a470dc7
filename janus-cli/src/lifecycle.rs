//! One session lifecycle through janus-client: create a session, attach a plugin, send it
//! one request and wait for its answer, detach, destroy. `janus-cli load` runs it with many
//! workers; the benchmark (`bench/`) runs the echotest one against a minimal client.

use janus_client::{Client, Error};
use serde_json::{json, Value};
use std::fmt;

/// What one lifecycle does: the plugin it attaches, the request it sends, and what the
/// answer must contain.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use janus_cli::lifecycle::Lifecycle;
/// let client = janus_client::connect(janus_client::Config::new("ws://127.0.0.1:8188")).await?;
/// Lifecycle::echotest().run(&client).await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Lifecycle {
    /// The plugin package name, e.g. `janus.plugin.echotest`.
    pub plugin: String,
    /// The body of the `message` sent to the handle.
    pub body: Value,
    /// A top-level field of the plugin's answer and the value it must have; another answer
    /// fails the lifecycle with a protocol error. A plugin's `error_code` fails it anyway
    /// (the library reads it as [`ErrorKind::Plugin`](janus_client::ErrorKind::Plugin)).
    pub expect: Option<(String, Value)>,
}

impl Lifecycle {
    /// How many requests one lifecycle sends (create, attach, message, detach, destroy):
    /// with a request timeout `t`, a lifecycle ends within `REQUESTS × t`.
    pub const REQUESTS: u32 = 5;

    /// The echotest lifecycle: `{"audio": true}`, answered `{"result": "ok"}`.
    pub fn echotest() -> Self {
        Lifecycle {
            plugin: "janus.plugin.echotest".into(),
            body: json!({"audio": true}),
            expect: Some(("result".into(), json!("ok"))),
        }
    }

    /// A lifecycle that sends `body` to `plugin` and takes any answer that is no error.
    pub fn plugin_request(plugin: impl Into<String>, body: Value) -> Self {
        Lifecycle {
            plugin: plugin.into(),
            body,
            expect: None,
        }
    }

    /// Runs it once on `client`. On a failure the session and handle are dropped, which
    /// makes the library detach and destroy them on the server.
    pub async fn run(&self, client: &Client) -> Result<(), LifecycleError> {
        let session = client.create_session().await.map_err(Step::Create.err())?;
        let handle = session
            .attach(self.plugin.as_str())
            .await
            .map_err(Step::Attach.err())?;
        let reply = handle
            .message(&self.body)
            .await
            .map_err(Step::Message.err())?;
        if let Some((field, want)) = &self.expect {
            if reply.data.get(field) != Some(want) {
                let answer = reply.data.to_string();
                return Err(LifecycleError {
                    step: Step::Message,
                    error: Error::protocol(format!(
                        "unexpected answer (wanted {field} = {want}): {answer}"
                    )),
                });
            }
        }
        handle.detach().await.map_err(Step::Detach.err())?;
        session.destroy().await.map_err(Step::Destroy.err())?;
        Ok(())
    }
}

/// The request of a lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Step {
    /// `create`.
    Create,
    /// `attach`.
    Attach,
    /// The plugin `message`.
    Message,
    /// `detach`.
    Detach,
    /// `destroy`.
    Destroy,
}

impl Step {
    /// The request's name: `create`, `attach`, `message`, `detach` or `destroy`.
    pub fn name(self) -> &'static str {
        match self {
            Step::Create => "create",
            Step::Attach => "attach",
            Step::Message => "message",
            Step::Detach => "detach",
            Step::Destroy => "destroy",
        }
    }

    fn err(self) -> impl FnOnce(Error) -> LifecycleError {
        move |error| LifecycleError { step: self, error }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A failed lifecycle: the request that failed and the library's error.
#[derive(Clone, Debug)]
pub struct LifecycleError {
    /// The request that failed.
    pub step: Step,
    /// Why (its [`kind`](Error::kind) says what went wrong).
    pub error: Error,
}

impl fmt::Display for LifecycleError {
    /// `create: request timed out after 10s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.step, self.error)
    }
}

impl std::error::Error for LifecycleError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}
