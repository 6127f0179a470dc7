//! Ctrl-C (SIGINT) as a stream: listened to from the start of a command, so that none is
//! missed between two waits, and so that a second one can be told apart.

use tokio::signal::unix::{signal, Signal, SignalKind};

use crate::failure::{Exit, Failure};

/// SIGINTs received since it was made.
pub struct Interrupts(Signal);

impl Interrupts {
    /// Starts listening (the default action, ending the process, no longer applies).
    pub fn listen() -> Result<Interrupts, Failure> {
        signal(SignalKind::interrupt())
            .map(Interrupts)
            .map_err(|e| Failure {
                exit: Exit::Connection,
                message: format!("cannot listen for Ctrl-C: {e}"),
            })
    }

    /// The next Ctrl-C.
    pub async fn next(&mut self) {
        // `None` means the signal driver is gone (the runtime shuts down): never again.
        if self.0.recv().await.is_none() {
            std::future::pending::<()>().await;
        }
    }
}
