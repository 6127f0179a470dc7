//! What happens to sessions whose instance died, or that Janus lost: re-created on a live
//! instance, or reported lost, as the policy says.

use futures::future::join_all;
use std::sync::Arc;

use crate::book::Shared;
use crate::instance::InstanceId;
use crate::options::Failover;
use crate::place::create_placed;
use crate::session::PooledInner;
use crate::status::PoolEvent;

/// Fails over every session of instance `id` (it was declared down), concurrently.
pub(crate) fn fail_over_instance(shared: &Arc<Shared>, id: InstanceId, reason: String) {
    let sessions: Vec<Arc<PooledInner>> = {
        let book = shared.lock();
        match book.slot(id) {
            Some(slot) => slot.sessions.values().filter_map(|w| w.upgrade()).collect(),
            None => return,
        }
    };
    fail_over(shared, sessions, reason);
}

/// Fails over `sessions` in the background.
pub(crate) fn fail_over(shared: &Arc<Shared>, sessions: Vec<Arc<PooledInner>>, reason: String) {
    let sessions: Vec<_> = sessions
        .into_iter()
        .filter(|s| s.begin_failover())
        .collect();
    if sessions.is_empty() {
        return;
    }
    let shared = shared.clone();
    tokio::spawn(async move {
        // Keys first, one session per key: the key is moved (in the store too) once, and
        // its other sessions follow the local entry.
        let mut first = Vec::new();
        let mut rest = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for s in sessions {
            match &s.key {
                Some(k) if !seen.insert(k.clone()) => rest.push(s),
                _ => first.push(s),
            }
        }
        join_all(
            first
                .into_iter()
                .map(|s| fail_over_one(&shared, s, &reason)),
        )
        .await;
        join_all(rest.into_iter().map(|s| fail_over_one(&shared, s, &reason))).await;
    });
}

async fn fail_over_one(shared: &Arc<Shared>, inner: Arc<PooledInner>, reason: &str) {
    let (from, from_name, old) = {
        let c = inner.current();
        (c.instance, c.instance_name.clone(), c.session.id())
    };
    let outcome = match shared.options.failover {
        Failover::Report => Err(reason.to_string()),
        Failover::Recreate => create_placed(shared, inner.key.as_deref())
            .await
            .map_err(|e| format!("{reason}; not re-created: {e}")),
    };
    let old_session;
    match outcome {
        Ok((target, session)) => {
            let new = session.id();
            {
                let mut book = shared.lock();
                if let Some(slot) = book.slot_mut(from) {
                    slot.sessions.remove(&inner.id);
                }
                book.unreserve(target.id);
                if let Some(slot) = book.slot_mut(target.id) {
                    slot.sessions.insert(inner.id, Arc::downgrade(&inner));
                }
                if let Some(key) = &inner.key {
                    // The new session was counted for its key; the old one ends here.
                    shared.unkey(&mut book, key);
                }
                let mut c = inner.current();
                c.instance = target.id;
                c.instance_name = target.name.clone();
                old_session = std::mem::replace(&mut c.session, session);
                c.generation += 1;
                drop(c);
                shared.publish(&book);
            }
            tracing::info!(from = %from_name, to = %target.name, old = old.0, new = new.0, "janus pool: session re-created");
            inner.publish();
            shared.emit(PoolEvent::SessionRecreated {
                key: inner.key.clone(),
                from,
                from_name,
                old,
                to: target.id,
                to_name: target.name,
                new,
            });
        }
        Err(why) => {
            {
                let mut book = shared.lock();
                if let Some(slot) = book.slot_mut(from) {
                    slot.sessions.remove(&inner.id);
                }
                inner.current().lost = Some(why.clone());
                shared.publish(&book);
            }
            tracing::info!(instance = %from_name, session = old.0, reason = %why, "janus pool: session lost");
            inner.publish();
            shared.emit(PoolEvent::SessionLost {
                key: inner.key.clone(),
                instance: from,
                name: from_name,
                session: old,
                reason: why,
            });
            inner.end_failover();
            return;
        }
    }
    // Outside every lock: dropping the old session may release it on its (dead) client.
    drop(old_session);
    inner.end_failover();
}
