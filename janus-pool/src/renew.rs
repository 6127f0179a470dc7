//! One task per pool: renews the leases of the sticky keys it has sessions for, notices
//! when the store stops answering and when it answers again (then writes every key back).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use crate::book::Shared;
use crate::status::{PoolEvent, StoreHealth};
use crate::store::StoreError;

/// Passes over keys placed during a round before the round gives up (the next one goes on).
const PASSES: usize = 8;

pub(crate) async fn renew_leases(shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.clone();
    let every = (shared.options.lease_ttl / 3).max(Duration::from_millis(10));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
        let healthy = shared.lock().store == StoreHealth::Available;
        if !healthy {
            if let Err(e) = shared.store.ping().await {
                tracing::debug!(error = %e, "janus pool: placement store still unavailable");
                continue;
            }
        }
        round(&shared).await;
    }
}

/// Renews every key; keys placed meanwhile (with the local view, while the store looked
/// down) are taken in further passes, so the store is said to be available only once every
/// key this pool has is written (checked under the same lock that says so).
async fn round(shared: &Shared) {
    let ttl = shared.options.lease_ttl;
    let mut done: HashSet<String> = HashSet::new();
    for _ in 0..PASSES {
        let todo: Vec<(String, String, String)> = {
            let mut book = shared.lock();
            let todo: Vec<_> = book
                .keys
                .iter()
                .filter(|(k, _)| !done.contains(*k))
                .map(|(k, e)| (k.clone(), e.name.clone(), e.holder.clone()))
                .collect();
            if todo.is_empty() {
                shared.set_store(&mut book, StoreHealth::Available);
                return;
            }
            todo
        };
        if let Err(e) = renew_all(shared, &todo, ttl).await {
            let mut book = shared.lock();
            shared.set_store(
                &mut book,
                StoreHealth::Unavailable {
                    error: e.to_string(),
                },
            );
            return;
        }
        done.extend(todo.into_iter().map(|(k, _, _)| k));
    }
}

async fn renew_all(
    shared: &Shared,
    keys: &[(String, String, String)],
    ttl: Duration,
) -> Result<(), StoreError> {
    for (key, owner, holder) in keys {
        let now = shared.store.renew(key, owner, holder, ttl).await?;
        if &now != owner {
            tracing::warn!(%key, ours = %owner, store = %now, "janus pool: the store places a key elsewhere");
            shared.emit(PoolEvent::KeyConflict {
                key: key.clone(),
                ours: owner.clone(),
                store: now,
            });
        }
    }
    Ok(())
}
