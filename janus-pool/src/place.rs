//! Choosing an instance for a new session, with or without a sticky key, and creating the
//! session there (trying another instance when one refuses).

use janus_core::{codes, ErrorKind, Session};
use std::sync::Arc;

use crate::book::{Book, Shared, Target};
use crate::error::PoolError;
use crate::instance::InstanceState;
use crate::status::StoreHealth;

/// Instances tried for one session before giving up.
const ATTEMPTS: usize = 3;

/// Reserves the instance the strategy picks.
fn reserve_any(shared: &Shared) -> Result<Target, PoolError> {
    let mut book = shared.lock();
    let id = book
        .choose(shared.options.strategy)
        .ok_or_else(|| PoolError::NoInstance {
            states: book.describe(),
        })?;
    let target = book.reserve(id)?;
    shared.publish(&book);
    Ok(target)
}

/// What the book says of a key, before any store call.
enum Local {
    /// Reserved on the key's live instance.
    Ready(Target),
    /// The key is new here: the store decides, proposing this instance.
    Claim { candidate: String },
    /// The key lives on a dead instance: move it there.
    Move {
        from: String,
        to: String,
        holder: String,
    },
}

fn look_up(shared: &Shared, book: &mut Book, key: &str) -> Result<Local, PoolError> {
    if let Some(entry) = book.keys.get(key) {
        let (id, name, holder) = (entry.instance, entry.name.clone(), entry.holder.clone());
        match book.slot(id) {
            Some(slot) if !slot.dead() => {
                if let Some(reason) = slot.refusal() {
                    return Err(PoolError::KeyUnavailable {
                        key: key.into(),
                        instance: name,
                        reason,
                    });
                }
                let target = book.reserve(id)?;
                if let Some(e) = book.keys.get_mut(key) {
                    e.sessions += 1;
                }
                return Ok(Local::Ready(target));
            }
            _ => {
                let to = choose_name(shared, book)?;
                return Ok(Local::Move {
                    from: name,
                    to,
                    holder,
                });
            }
        }
    }
    Ok(Local::Claim {
        candidate: choose_name(shared, book)?,
    })
}

fn choose_name(shared: &Shared, book: &mut Book) -> Result<String, PoolError> {
    let id = book
        .choose(shared.options.strategy)
        .ok_or_else(|| PoolError::NoInstance {
            states: book.describe(),
        })?;
    Ok(book.slot(id).map(|s| s.name.clone()).unwrap_or_default())
}

/// Reserves the instance `key` lives on, placing (or moving) the key first when needed.
async fn reserve_key(shared: &Shared, key: &str) -> Result<Target, PoolError> {
    let ttl = shared.options.lease_ttl;
    // A key found on an instance another replica thinks alive but this pool has down is
    // moved; that can race with the other replica's own move a few times, not forever.
    let mut pending_move: Option<(String, String)> = None;
    for _ in 0..ATTEMPTS {
        let (local, store_ok) = {
            let mut book = shared.lock();
            let local = match pending_move.take() {
                Some((from, holder)) => Local::Move {
                    from,
                    to: choose_name(shared, &mut book)?,
                    holder,
                },
                None => look_up(shared, &mut book, key)?,
            };
            (local, book.store == StoreHealth::Available)
        };
        let (proposed, holder, answer) = match local {
            Local::Ready(target) => return Ok(target),
            Local::Claim { candidate } => {
                let holder = shared.holder();
                let answer = if store_ok {
                    Some(shared.store.claim(key, &candidate, &holder, ttl).await)
                } else {
                    None
                };
                (candidate, holder, answer)
            }
            Local::Move { from, to, holder } => {
                let answer = if store_ok {
                    Some(shared.store.replace(key, &from, &to, &holder, ttl).await)
                } else {
                    None
                };
                (to, holder, answer)
            }
        };
        let owner = match answer {
            // Only the lease task says the store is back, once it wrote every key back.
            Some(Ok(owner)) => owner,
            Some(Err(e)) => {
                let mut book = shared.lock();
                shared.set_store(
                    &mut book,
                    StoreHealth::Unavailable {
                        error: e.to_string(),
                    },
                );
                proposed
            }
            // The store is known down: the local view decides (written back when it returns).
            None => proposed,
        };
        let mut book = shared.lock();
        // Another task of this pool may have placed the key meanwhile: its entry wins
        // (sessions of one key stay together here), unless it is dead.
        if let Some(entry) = book.keys.get(key) {
            let live = book.slot(entry.instance).is_some_and(|s| !s.dead());
            if live {
                if entry.holder != holder {
                    shared.release_later(key.into(), owner, holder);
                }
                continue;
            }
        }
        let Some(slot) = book.slot_named(&owner) else {
            // Another replica placed it on an instance this pool does not have.
            shared.release_later(key.into(), owner.clone(), holder);
            return Err(PoolError::KeyUnavailable {
                key: key.into(),
                instance: owner,
                reason: "not an instance of this pool".into(),
            });
        };
        let id = slot.id;
        if slot.dead() {
            // Placed (by another replica) on an instance this pool has down: move it next
            // round.
            pending_move = Some((owner, holder));
            continue;
        }
        if let Some(reason) = slot.refusal() {
            let sessions = book.keys.get(key).map_or(0, |e| e.sessions);
            if sessions == 0 {
                book.keys.remove(key);
                shared.release_later(key.into(), owner.clone(), holder);
            }
            return Err(PoolError::KeyUnavailable {
                key: key.into(),
                instance: owner,
                reason,
            });
        }
        let target = book.reserve(id)?;
        let sessions = book.keys.get(key).map_or(0, |e| e.sessions) + 1;
        book.keys.insert(
            key.into(),
            crate::book::KeyEntry {
                instance: id,
                name: owner,
                sessions,
                holder,
            },
        );
        shared.publish(&book);
        return Ok(target);
    }
    let book = shared.lock();
    Err(PoolError::NoInstance {
        states: format!("key {key:?} could not be placed: {}", book.describe()),
    })
}

/// Whether an error from `create` says the instance takes no new sessions (472, Janus'
/// answer while it does not accept new sessions; 490, its unknown error, is taken alike and
/// the next probe says whether the instance really drains), and whether another instance
/// is tried (also when the request never reached Janus).
fn refused(e: &janus_core::Error) -> (bool, bool) {
    match e.kind() {
        ErrorKind::Janus { code, .. }
            if *code == codes::NOT_ACCEPTING_SESSIONS || *code == codes::UNKNOWN =>
        {
            (true, true)
        }
        ErrorKind::TransportClosed {
            retry_safe: true, ..
        } => (false, true),
        _ => (false, false),
    }
}

/// Creates a session on the instance the strategy (or the key) picks; the slot stays
/// reserved, for the caller to turn into a registered session.
pub(crate) async fn create_placed(
    shared: &Arc<Shared>,
    key: Option<&str>,
) -> Result<(Target, Session), PoolError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let target = match key {
            Some(k) => reserve_key(shared, k).await?,
            None => reserve_any(shared)?,
        };
        match target.client.create_session().await {
            Ok(session) => return Ok((target, session)),
            Err(e) => {
                let (draining, again) = refused(&e);
                {
                    let mut book = shared.lock();
                    book.unreserve(target.id);
                    if let Some(k) = key {
                        shared.unkey(&mut book, k);
                    }
                    if draining {
                        shared.set_state(&mut book, target.id, InstanceState::Draining);
                    }
                    if let Some(slot) = book.slot(target.id) {
                        // Its monitor looks at once (a probe clears a passing refusal).
                        slot.wake.notify_one();
                    }
                    shared.publish(&book);
                }
                if !again || attempt >= ATTEMPTS {
                    return Err(PoolError::Janus(e));
                }
                tracing::debug!(instance = %target.name, error = %e, "janus pool: create refused; trying another instance");
            }
        }
    }
}
