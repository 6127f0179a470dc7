//! The lifecycle through janus-client: one `Client` (one connection), cloned into every worker.

use crate::runner::Lifecycle;
use janus_cli::lifecycle::Lifecycle as LibraryLifecycle;

#[derive(Clone)]
pub struct Library {
    client: janus_client::Client,
}

impl Library {
    /// Connects with default options; the URL scheme picks the transport.
    pub async fn connect(url: &str) -> Result<Library, String> {
        let client = janus_client::connect(janus_client::Config::new(url))
            .await
            .map_err(|e| format!("library connect to {url}: {e}"))?;
        Ok(Library { client })
    }

    /// The client underneath.
    pub fn client(&self) -> &janus_client::Client {
        &self.client
    }

    /// Closes the connection (the run is over).
    pub async fn close(self) {
        match self.client.stats() {
            s if s.sessions > 0 || s.pending_transactions > 0 || s.unknown_transactions > 0 => {
                eprintln!(
                    "janus-bench: library stats at the end of the run: {} sessions, {} handles, \
                     {} pending, {} unknown transactions, {} malformed, {} unroutable",
                    s.sessions,
                    s.handles,
                    s.pending_transactions,
                    s.unknown_transactions,
                    s.malformed_messages,
                    s.unroutable_events
                );
            }
            _ => {}
        }
        self.client.close().await;
    }
}

impl Lifecycle for Library {
    /// The echotest lifecycle `janus-cli load` runs (one definition, in `janus-cli`).
    async fn lifecycle(&self) -> Result<(), String> {
        LibraryLifecycle::echotest()
            .run(&self.client)
            .await
            .map_err(|e| e.to_string())
    }
}
