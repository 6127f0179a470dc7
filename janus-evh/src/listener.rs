//! The accept loop every listener shares: connections served at once are bounded, and
//! none outlives its listener.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use crate::stats::Counters;
use crate::task::Task;

/// A listening endpoint of a [`Receiver`](crate::Receiver) (HTTP or WebSocket).
///
/// It listens until [`stop`](Listener::stop) or until dropped; either way, its connections
/// are closed. `stop` also waits until the port is free again, so the same address can be
/// bound at once.
#[derive(Debug)]
pub struct Listener {
    local_addr: SocketAddr,
    task: Task,
}

impl Listener {
    /// The address it listens on (with the port chosen, when the options asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops listening, closes every connection and waits until the socket is closed.
    pub async fn stop(self) {
        self.task.stop().await;
    }
}

/// Runs `serve` for every connection `tcp` accepts, at most `max_connections` at once
/// (more are closed at once and counted as refused), until the [`Listener`] goes.
pub(crate) fn spawn<F, Fut>(
    tcp: TcpListener,
    max_connections: usize,
    counters: Arc<Counters>,
    serve: F,
) -> std::io::Result<Listener>
where
    F: Fn(TcpStream, SocketAddr) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let local_addr = tcp.local_addr()?;
    let task = Task::spawn(|mut stopped| async move {
        // Owned by this loop: when it ends, every connection task is aborted.
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                _ = &mut stopped => break,
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
                accepted = tcp.accept() => match accepted {
                    Ok((stream, peer)) => {
                        if connections.len() >= max_connections {
                            Counters::add(&counters.refused, 1);
                            tracing::warn!(%peer, max_connections, "event handler connection refused: too many");
                            drop(stream);
                            continue;
                        }
                        Counters::add(&counters.connections, 1);
                        connections.spawn(serve(stream, peer));
                    }
                    Err(e) => {
                        // Out of descriptors and the like: wait instead of spinning.
                        tracing::warn!(error = %e, "event handler listener: accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
            }
        }
    });
    Ok(Listener { local_addr, task })
}
