//! The Redis placement store: sticky keys shared between application replicas.
//!
//! Key `<prefix><key>` holds the instance name, with a lease (`PX`); `<prefix><key>:holders`
//! is a sorted set of the pools using the key (score: when their lease ends). Each
//! operation is one Lua script, so it is atomic in Redis: a claim is `SET key name NX PX
//! ttl`, a renewal extends the lease only while the key still names the same instance, and
//! a release deletes the key only when it still names that instance and no other holder is
//! left.

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::Script;
use serde::{Deserialize, Serialize};
use std::time::Duration;

use crate::error::PoolError;
use crate::store::{PlacementStore, StoreError};

/// Where the Redis store connects and how it names its keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisOptions {
    /// `redis://[user:password@]host:port[/db]` (or `rediss://`, `redis+unix://`).
    pub url: String,
    /// Put before every key, so several applications can share one Redis.
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// How long one command may take (connecting included) before the store counts as
    /// unavailable and the pool places with its local view.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

fn default_prefix() -> String {
    "janus-pool:".into()
}

fn default_timeout() -> Duration {
    Duration::from_millis(500)
}

impl RedisOptions {
    /// Options for `url` with the default prefix (`janus-pool:`) and timeout (500 ms).
    pub fn new(url: impl Into<String>) -> Self {
        RedisOptions {
            url: url.into(),
            prefix: default_prefix(),
            timeout: default_timeout(),
        }
    }
}

const CLAIM: &str = r"
redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])
local owner = redis.call('GET', KEYS[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return owner
";

const REPLACE: &str = r"
local owner = redis.call('GET', KEYS[1])
if (not owner) or owner == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  owner = ARGV[2]
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return owner
";

const RENEW: &str = r"
local owner = redis.call('GET', KEYS[1])
if not owner then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  owner = ARGV[1]
elseif owner == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
if owner == ARGV[1] then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[3])
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
end
return owner
";

const RELEASE: &str = r"
redis.call('ZREM', KEYS[2], ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[2]) == 0 then
  if redis.call('GET', KEYS[1]) == ARGV[1] then
    redis.call('DEL', KEYS[1])
  end
  redis.call('DEL', KEYS[2])
end
return 1
";

/// Sticky placements in Redis, shared by every pool that uses the same Redis and prefix.
///
/// It connects lazily and reconnects by itself; while Redis cannot be reached every call
/// fails within [`RedisOptions::timeout`], and the pool places with its local view (and says
/// so in [`PoolStatus::store`](crate::PoolStatus::store)) until Redis answers again.
///
/// ```no_run
/// # use janus_pool as pool;
/// # fn demo() -> Result<(), pool::PoolError> {
/// let store = pool::RedisStore::new(pool::RedisOptions::new("redis://127.0.0.1:6379"))?;
/// # Ok(()) }
/// ```
pub struct RedisStore {
    conn: ConnectionManager,
    prefix: String,
    timeout: Duration,
    claim: Script,
    replace: Script,
    renew: Script,
    release: Script,
}

impl RedisStore {
    /// Makes the store; nothing is sent until the first call. Fails only on a URL or
    /// option that cannot work (the error names the option).
    pub fn new(options: RedisOptions) -> Result<Self, PoolError> {
        if options.timeout.is_zero() || options.timeout > Duration::from_secs(3600) {
            return Err(PoolError::Config(format!(
                "redis.timeout must be more than zero and at most an hour (it is {:?})",
                options.timeout
            )));
        }
        let client = redis::Client::open(options.url.as_str())
            .map_err(|e| PoolError::Config(format!("redis.url {:?}: {e}", options.url)))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(options.timeout))
            .set_response_timeout(Some(options.timeout))
            .set_max_delay(Duration::from_secs(1))
            .set_number_of_retries(1);
        let conn = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| PoolError::Config(format!("redis.url {:?}: {e}", options.url)))?;
        Ok(RedisStore {
            conn,
            prefix: options.prefix,
            timeout: options.timeout,
            claim: Script::new(CLAIM),
            replace: Script::new(REPLACE),
            renew: Script::new(RENEW),
            release: Script::new(RELEASE),
        })
    }

    fn keys(&self, key: &str) -> (String, String) {
        let k = format!("{}{key}", self.prefix);
        let h = format!("{k}:holders");
        (k, h)
    }

    async fn run<T: redis::FromRedisValue>(
        &self,
        script: &Script,
        key: &str,
        args: &[&str],
    ) -> Result<T, StoreError> {
        let (k, h) = self.keys(key);
        let mut inv = script.key(k);
        inv.key(h);
        for a in args {
            inv.arg(*a);
        }
        let mut conn = self.conn.clone();
        // The connection manager's own timeouts bound each attempt; this bounds the whole
        // call (a reconnect and the script load included).
        match tokio::time::timeout(self.timeout * 2, inv.invoke_async(&mut conn)).await {
            Ok(r) => r.map_err(|e| StoreError(e.to_string())),
            Err(_) => Err(StoreError(format!(
                "no answer within {:?}",
                self.timeout * 2
            ))),
        }
    }
}

fn millis(ttl: Duration) -> String {
    ttl.as_millis().max(1).to_string()
}

#[async_trait]
impl PlacementStore for RedisStore {
    async fn claim(
        &self,
        key: &str,
        candidate: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<String, StoreError> {
        self.run(&self.claim, key, &[candidate, &millis(ttl), holder])
            .await
    }

    async fn replace(
        &self,
        key: &str,
        from: &str,
        to: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<String, StoreError> {
        self.run(&self.replace, key, &[from, to, &millis(ttl), holder])
            .await
    }

    async fn renew(
        &self,
        key: &str,
        owner: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<String, StoreError> {
        self.run(&self.renew, key, &[owner, &millis(ttl), holder])
            .await
    }

    async fn release(&self, key: &str, owner: &str, holder: &str) -> Result<(), StoreError> {
        self.run::<i64>(&self.release, key, &[owner, holder])
            .await
            .map(drop)
    }

    async fn owner(&self, key: &str) -> Result<Option<String>, StoreError> {
        let (k, _) = self.keys(key);
        let mut conn = self.conn.clone();
        let mut cmd = redis::cmd("GET");
        cmd.arg(k);
        let get = cmd.query_async::<Option<String>>(&mut conn);
        match tokio::time::timeout(self.timeout * 2, get).await {
            Ok(r) => r.map_err(|e| StoreError(e.to_string())),
            Err(_) => Err(StoreError(format!(
                "no answer within {:?}",
                self.timeout * 2
            ))),
        }
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let cmd = redis::cmd("PING");
        let ping = cmd.query_async::<String>(&mut conn);
        match tokio::time::timeout(self.timeout * 2, ping).await {
            Ok(r) => r.map(drop).map_err(|e| StoreError(e.to_string())),
            Err(_) => Err(StoreError(format!(
                "no answer within {:?}",
                self.timeout * 2
            ))),
        }
    }
}
