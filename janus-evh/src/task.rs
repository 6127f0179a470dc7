//! A background task that ends with the value that owns it: listeners and consumers run
//! one each.

use std::future::Future;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Tells its task to stop when dropped (the task sees its `oneshot::Receiver` resolve) and
/// aborts it in case it was never polled; [`Task::stop`] also waits for the end.
#[derive(Debug)]
pub(crate) struct Task {
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<()>>,
}

impl Task {
    /// Spawns `body`, which must return soon after its receiver resolves.
    pub(crate) fn spawn<F, Fut>(body: F) -> Task
    where
        F: FnOnce(oneshot::Receiver<()>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (shutdown, stopped) = oneshot::channel();
        Task {
            shutdown: Some(shutdown),
            handle: Some(tokio::spawn(body(stopped))),
        }
    }

    /// Tells the task to stop and waits until it has.
    pub(crate) async fn stop(mut self) {
        self.shutdown.take();
        if let Some(handle) = self.handle.take() {
            // An error is a panic in the task, already reported.
            let _ = handle.await;
        }
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        self.shutdown.take();
        if let Some(handle) = self.handle.take() {
            handle.abort();
        }
    }
}
