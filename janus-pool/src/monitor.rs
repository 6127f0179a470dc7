//! One task per instance: connects its client, probes it, follows its connection state,
//! declares it draining, disconnected or down, and starts the failover of its sessions.

use janus_core::admin::AdminClient;
use janus_core::{Client, ConnectionState};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::book::Shared;
use crate::failover::{fail_over, fail_over_instance};
use crate::instance::{InstanceId, InstanceState};
use crate::session::PooledInner;

/// What one round of the monitor found.
struct Round {
    /// Sleep this long unless something happens.
    wait: Duration,
}

pub(crate) async fn monitor(shared: Arc<Shared>, id: InstanceId) {
    let mut shutdown = shared.shutdown.clone();
    let Some(wake) = shared.lock().slot(id).map(|s| s.wake.clone()) else {
        return;
    };
    let mut m = Monitor {
        shared,
        id,
        failures: 0,
        disconnected_since: None,
        conn: None,
        admin: None,
    };
    loop {
        if *shutdown.borrow() {
            return;
        }
        let Some(round) = m.round().await else {
            return;
        };
        let conn = m.conn.clone();
        tokio::select! {
            _ = tokio::time::sleep(round.wait) => {}
            _ = wake.notified() => {}
            _ = changed(conn) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Resolves when the client's connection state changes (never without a client).
async fn changed(conn: Option<watch::Receiver<ConnectionState>>) {
    match conn {
        Some(mut rx) => {
            if rx.changed().await.is_err() {
                // The client is gone: look again after the usual wait.
                std::future::pending::<()>().await
            }
        }
        None => std::future::pending::<()>().await,
    }
}

struct Monitor {
    shared: Arc<Shared>,
    id: InstanceId,
    failures: u32,
    disconnected_since: Option<Instant>,
    conn: Option<watch::Receiver<ConnectionState>>,
    /// The Admin API client, when the instance has one and it connected.
    admin: Option<AdminClient>,
}

impl Monitor {
    fn backoff(&self) -> Duration {
        let o = &self.shared.options;
        let exp = self.failures.saturating_sub(o.failures_before_down).min(16);
        o.probe_interval
            .saturating_mul(1u32 << exp)
            .min(o.max_backoff.max(o.probe_interval))
    }

    fn set_state(&self, state: InstanceState) {
        let mut book = self.shared.lock();
        self.shared.set_state(&mut book, self.id, state);
    }

    fn state(&self) -> Option<InstanceState> {
        self.shared.lock().slot(self.id).map(|s| s.state.clone())
    }

    /// Counts a failure; the one that reaches the limit declares the instance down and
    /// fails its sessions over.
    fn failed(&mut self, reason: String) -> Round {
        self.failures = self.failures.saturating_add(1);
        tracing::debug!(instance = ?self.id, failures = self.failures, %reason, "janus pool: probe failed");
        if self.failures >= self.shared.options.failures_before_down {
            self.down(reason);
        }
        Round {
            wait: self.backoff(),
        }
    }

    fn down(&mut self, reason: String) {
        let was_down = matches!(self.state(), Some(InstanceState::Down { .. }));
        self.set_state(InstanceState::Down {
            failures: self.failures.max(1),
            reason: reason.clone(),
        });
        if !was_down {
            fail_over_instance(&self.shared, self.id, format!("instance down: {reason}"));
        }
    }

    /// One look at the instance. `None`: it left the pool.
    async fn round(&mut self) -> Option<Round> {
        let (client, connect, removing, empty) = {
            let book = self.shared.lock();
            let slot = book.slot(self.id)?;
            (
                slot.client.clone(),
                slot.connect.clone(),
                slot.state == InstanceState::Removing,
                slot.count() == 0,
            )
        };
        if removing && empty {
            let mut book = self.shared.lock();
            book.slots.retain(|s| s.id != self.id);
            self.shared.publish(&book);
            return None;
        }
        let timeout = self.shared.options.probe_timeout;
        let Some(client) = client else {
            return Some(match tokio::time::timeout(timeout, connect()).await {
                Ok(Ok(client)) => {
                    self.conn = Some(client.connection_state());
                    let mut book = self.shared.lock();
                    if let Some(slot) = book.slot_mut(self.id) {
                        slot.client = Some(client);
                    }
                    Round {
                        wait: Duration::ZERO,
                    }
                }
                Ok(Err(e)) => self.failed(format!("connect: {e}")),
                Err(_) => self.failed(format!("connect: no answer within {timeout:?}")),
            });
        };
        // Read through the receiver the loop waits on, marking what it saw: the loop's
        // `changed` then waits for the next change, instead of resolving at once for good
        // after the first one (a busy loop while the instance is away, an event per turn).
        let state = self
            .conn
            .get_or_insert_with(|| client.connection_state())
            .borrow_and_update()
            .clone();
        match state {
            ConnectionState::Closed { reason } => {
                // Closed for good: a new client next round.
                self.conn = None;
                let mut book = self.shared.lock();
                if let Some(slot) = book.slot_mut(self.id) {
                    slot.client = None;
                }
                drop(book);
                self.failures = self.shared.options.failures_before_down;
                self.down(format!("connection closed: {reason}"));
                Some(Round {
                    wait: self.backoff(),
                })
            }
            ConnectionState::Disconnected { .. } | ConnectionState::Reconnecting { .. } => {
                let since = *self.disconnected_since.get_or_insert_with(Instant::now);
                let down_after = self.shared.options.down_after;
                let gone = since.elapsed();
                if gone >= down_after {
                    self.failures = self.failures.max(self.shared.options.failures_before_down);
                    self.down(format!("disconnected for {gone:?}"));
                    return Some(Round {
                        wait: self.backoff(),
                    });
                }
                if !matches!(self.state(), Some(InstanceState::Down { .. })) {
                    self.set_state(InstanceState::Disconnected);
                }
                Some(Round {
                    wait: down_after - gone,
                })
            }
            _ => {
                self.disconnected_since = None;
                Some(self.probe(&client, timeout).await)
            }
        }
    }

    /// Sessions the Admin API lists, when the instance has one that answers.
    async fn admin_sessions(&mut self, timeout: Duration) -> Option<usize> {
        let connect = self.shared.lock().slot(self.id)?.admin_connect.clone()?;
        if self.admin.is_none() {
            match tokio::time::timeout(timeout, connect()).await {
                Ok(Ok(admin)) => self.admin = Some(admin),
                Ok(Err(e)) => {
                    tracing::debug!(error = %e, "janus pool: admin connect failed");
                    return None;
                }
                Err(_) => return None,
            }
        }
        let admin = self.admin.as_ref()?;
        match tokio::time::timeout(timeout, admin.list_sessions()).await {
            Ok(Ok(list)) => Some(list.len()),
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "janus pool: admin list_sessions failed");
                if !matches!(e.kind(), janus_core::ErrorKind::Janus { .. }) {
                    self.admin = None;
                }
                None
            }
            Err(_) => None,
        }
    }

    async fn probe(&mut self, client: &Client, timeout: Duration) -> Round {
        let info = match tokio::time::timeout(timeout, client.info()).await {
            Ok(Ok(info)) => info,
            Ok(Err(e)) => return self.failed(format!("info: {e}")),
            Err(_) => return self.failed(format!("info: no answer within {timeout:?}")),
        };
        self.failures = 0;
        let accepting = info
            .raw
            .get("accepting-new-sessions")
            .and_then(|v| v.as_bool())
            .unwrap_or(true);
        let server_name = info
            .raw
            .get("server-name")
            .and_then(|v| v.as_str())
            .map(str::to_owned);
        let handles = client.stats().handles;
        let admin_sessions = self.admin_sessions(timeout).await;
        let lost: Vec<Arc<PooledInner>> = {
            let mut book = self.shared.lock();
            let Some(slot) = book.slot_mut(self.id) else {
                return Round {
                    wait: Duration::ZERO,
                };
            };
            slot.handles = handles;
            slot.server_name = server_name;
            // A failed refresh keeps the last count (the pool's own count still rises).
            if admin_sessions.is_some() {
                slot.admin_sessions = admin_sessions;
            }
            let sessions: Vec<_> = slot.sessions.values().filter_map(|w| w.upgrade()).collect();
            let state = if accepting {
                InstanceState::Up
            } else {
                InstanceState::Draining
            };
            self.shared.set_state(&mut book, self.id, state);
            self.shared.publish(&book);
            sessions
        };
        // Sessions Janus lost while the instance lives (a restart faster than `down_after`,
        // a session timeout): each fails over on its own.
        let lost: Vec<_> = lost.into_iter().filter(|s| s.lost_by_janus()).collect();
        if !lost.is_empty() {
            fail_over(&self.shared, lost, "session lost by Janus".into());
        }
        Round {
            wait: self.shared.options.probe_interval,
        }
    }
}
