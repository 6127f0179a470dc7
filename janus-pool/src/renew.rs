//! One task per pool: renews the leases of the sticky keys it has sessions for, notices
//! when the store stops answering and when it answers again (then writes every key back).

use std::sync::Arc;
use std::time::Duration;

use crate::book::Shared;
use crate::status::{PoolEvent, StoreHealth};

pub(crate) async fn renew_leases(shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.clone();
    let ttl = shared.options.lease_ttl;
    let every = (ttl / 3).max(Duration::from_millis(10));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
        let (keys, healthy) = {
            let book = shared.lock();
            let keys: Vec<(String, String, String)> = book
                .keys
                .iter()
                .map(|(k, e)| (k.clone(), e.name.clone(), e.holder.clone()))
                .collect();
            (keys, book.store == StoreHealth::Available)
        };
        if !healthy {
            if let Err(e) = shared.store.ping().await {
                tracing::debug!(error = %e, "janus pool: placement store still unavailable");
                continue;
            }
        }
        let mut failure = None;
        for (key, owner, holder) in keys {
            match shared.store.renew(&key, &owner, &holder, ttl).await {
                Ok(now) if now != owner => {
                    tracing::warn!(%key, ours = %owner, store = %now, "janus pool: the store places a key elsewhere");
                    shared.emit(PoolEvent::KeyConflict {
                        key,
                        ours: owner,
                        store: now,
                    });
                }
                Ok(_) => {}
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        let mut book = shared.lock();
        match failure {
            Some(e) => shared.set_store(
                &mut book,
                StoreHealth::Unavailable {
                    error: e.to_string(),
                },
            ),
            // Marked unavailable during this round (by a placement): keys placed since are
            // not in this round's list; the next round writes every key back first.
            None if healthy && book.store != StoreHealth::Available => {}
            None => shared.set_store(&mut book, StoreHealth::Available),
        }
    }
}
