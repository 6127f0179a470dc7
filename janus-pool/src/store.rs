//! Where sticky keys are placed: a trait, and the in-process default.
//!
//! A key maps to an instance's *name* (stable across processes; every replica of the
//! application names its instances alike). Each pool that uses a key registers itself as a
//! *holder* of it (one holder id per pool and key incarnation); the key is deleted when its
//! last holder releases it, and otherwise expires when nobody renews its lease.

use async_trait::async_trait;
use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// A placement store failed (unreachable, timed out, answered nonsense).
#[derive(Debug, Clone)]
pub struct StoreError(pub String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "placement store: {}", self.0)
    }
}

impl std::error::Error for StoreError {}

/// Shared placements of sticky keys. Every method is atomic in the store.
///
/// Implementations: [`LocalStore`] (one process) and, with the `redis` feature,
/// `RedisStore` (several application replicas).
#[async_trait]
pub trait PlacementStore: Send + Sync + 'static {
    /// Places `key` on `candidate` unless it is placed already (set-if-absent with a lease of
    /// `ttl`), registers `holder` as one of its users, and returns the instance it is on now.
    async fn claim(
        &self,
        key: &str,
        candidate: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<String, StoreError>;

    /// Moves `key` from `from` (an instance that died) to `to`, only when it still names
    /// `from` or nothing; registers `holder`; returns the instance it is on now (another
    /// replica may have moved it first).
    async fn replace(
        &self,
        key: &str,
        from: &str,
        to: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<String, StoreError>;

    /// Renews the lease of `key` on `owner` for `holder`: when the key names `owner` its
    /// lease is extended; when it names nothing (it expired, or the store lost it) it is
    /// written again. Returns the instance the key is on now: another name means another
    /// replica placed it elsewhere meanwhile (and nothing was changed).
    async fn renew(
        &self,
        key: &str,
        owner: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<String, StoreError>;

    /// Removes `holder` from `key`; deletes the key when it was the last holder and the key
    /// still names `owner`.
    async fn release(&self, key: &str, owner: &str, holder: &str) -> Result<(), StoreError>;

    /// The instance `key` is on, if any.
    async fn owner(&self, key: &str) -> Result<Option<String>, StoreError>;

    /// Checks that the store answers (used to notice it is back).
    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

struct LocalEntry {
    owner: String,
    expires: Instant,
    holders: HashMap<String, Instant>,
}

/// The in-process store: placements agree within one process (the pools that share one
/// `Arc<LocalStore>`). The default.
///
/// Expired keys and holders are removed when the key is next used, and every key is checked
/// whenever the map has doubled since the last sweep, so the map stays as large as the keys in use.
#[derive(Default)]
pub struct LocalStore {
    map: Mutex<LocalMap>,
}

#[derive(Default)]
struct LocalMap {
    entries: HashMap<String, LocalEntry>,
    swept_at: usize,
}

impl LocalStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, key: &str, f: impl FnOnce(&mut HashMap<String, LocalEntry>) -> T) -> T {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if map.entries.len() > 2 * map.swept_at.max(32) {
            map.entries.retain(|_, e| e.expires > now);
            map.swept_at = map.entries.len();
        }
        if let Some(e) = map.entries.get_mut(key) {
            e.holders.retain(|_, exp| *exp > now);
            if e.expires <= now {
                map.entries.remove(key);
            }
        }
        f(&mut map.entries)
    }
}

/// When a lease of `ttl` from now ends (a ttl too large to add is taken as ten years).
fn lease_end(ttl: Duration) -> Instant {
    const CAP: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
    Instant::now() + ttl.min(CAP)
}

/// `key`'s entry, made for `owner` with a fresh lease when there is none.
fn entry<'m>(
    m: &'m mut HashMap<String, LocalEntry>,
    key: &str,
    owner: &str,
    ttl: Duration,
) -> &'m mut LocalEntry {
    m.entry(key.to_string()).or_insert_with(|| LocalEntry {
        owner: owner.to_string(),
        expires: lease_end(ttl),
        holders: HashMap::new(),
    })
}

fn hold(e: &mut LocalEntry, holder: &str, ttl: Duration) {
    e.holders.insert(holder.to_string(), lease_end(ttl));
}

#[async_trait]
impl PlacementStore for LocalStore {
    async fn claim(
        &self,
        key: &str,
        candidate: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<String, StoreError> {
        Ok(self.with(key, |m| {
            let e = entry(m, key, candidate, ttl);
            hold(e, holder, ttl);
            e.owner.clone()
        }))
    }

    async fn replace(
        &self,
        key: &str,
        from: &str,
        to: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<String, StoreError> {
        Ok(self.with(key, |m| {
            let e = entry(m, key, to, ttl);
            if e.owner == from {
                e.owner = to.to_string();
                e.expires = lease_end(ttl);
            }
            hold(e, holder, ttl);
            e.owner.clone()
        }))
    }

    async fn renew(
        &self,
        key: &str,
        owner: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<String, StoreError> {
        Ok(self.with(key, |m| {
            let e = entry(m, key, owner, ttl);
            if e.owner == owner {
                e.expires = lease_end(ttl);
                hold(e, holder, ttl);
            }
            e.owner.clone()
        }))
    }

    async fn release(&self, key: &str, owner: &str, holder: &str) -> Result<(), StoreError> {
        self.with(key, |m| {
            if let Some(e) = m.get_mut(key) {
                e.holders.remove(holder);
                if e.holders.is_empty() && e.owner == owner {
                    m.remove(key);
                }
            }
        });
        Ok(())
    }

    async fn owner(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.with(key, |m| m.get(key).map(|e| e.owner.clone())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Duration = Duration::from_secs(30);

    #[tokio::test]
    async fn the_first_claim_wins_and_the_last_holder_deletes() {
        let s = LocalStore::new();
        assert_eq!(s.claim("room", "a", "h1", TTL).await.unwrap(), "a");
        assert_eq!(s.claim("room", "b", "h2", TTL).await.unwrap(), "a");
        s.release("room", "a", "h1").await.unwrap();
        assert_eq!(s.owner("room").await.unwrap().as_deref(), Some("a"));
        s.release("room", "a", "h2").await.unwrap();
        assert_eq!(s.owner("room").await.unwrap(), None);
    }

    #[tokio::test]
    async fn replace_moves_only_from_the_dead_instance() {
        let s = LocalStore::new();
        s.claim("k", "a", "h1", TTL).await.unwrap();
        assert_eq!(s.replace("k", "b", "c", "h1", TTL).await.unwrap(), "a");
        assert_eq!(s.replace("k", "a", "c", "h1", TTL).await.unwrap(), "c");
        // A second replica that saw `a` die too agrees with the first move.
        assert_eq!(s.replace("k", "a", "d", "h2", TTL).await.unwrap(), "c");
        // Renewing on the old owner changes nothing and says where the key is.
        assert_eq!(s.renew("k", "a", "h1", TTL).await.unwrap(), "c");
    }

    #[tokio::test]
    async fn any_ttl_is_taken() {
        let s = LocalStore::new();
        assert_eq!(s.claim("k", "a", "h", Duration::MAX).await.unwrap(), "a");
        assert_eq!(s.renew("k", "a", "h", Duration::MAX).await.unwrap(), "a");
    }

    #[tokio::test(start_paused = true)]
    async fn an_unrenewed_lease_expires_and_renew_writes_it_again() {
        let s = LocalStore::new();
        s.claim("k", "a", "h1", Duration::from_secs(3))
            .await
            .unwrap();
        tokio::time::advance(Duration::from_secs(4)).await;
        assert_eq!(s.owner("k").await.unwrap(), None);
        assert_eq!(s.renew("k", "a", "h1", TTL).await.unwrap(), "a");
        assert_eq!(s.owner("k").await.unwrap().as_deref(), Some("a"));
    }
}
