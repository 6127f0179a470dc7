//! A pool of Janus instances (feature `pool`): everything of the `janus-pool` crate, and a
//! configuration that lists the instances by URL.
//!
//! ```no_run
//! # async fn demo() -> Result<(), janus_client::pool::PoolError> {
//! let config = janus_client::pool::PoolConfig::from_toml_str(r#"
//!     [[instances]]
//!     url = "ws://10.0.0.1:8188"
//!     weight = 2
//!     max_sessions = 2000
//!
//!     [[instances]]
//!     url = "ws://10.0.0.2:8188"
//!
//!     [pool]
//!     failover = "recreate"
//! "#)?;
//! let pool = janus_client::pool::connect(config).await?;
//! let session = pool.create_session_for("room-1234").await?;
//! println!("room 1234 lives on {}", session.instance_name());
//! # Ok(()) }
//! ```

use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub use janus_pool::*;

use crate::{ClientOptions, Config, Secret};

/// One instance in a [`PoolConfig`].
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceConfig {
    /// Its URL; any scheme the compiled transports take.
    pub url: String,
    /// The name every replica of the application knows it by (sticky keys are stored with
    /// it); its URL when not given.
    #[serde(default)]
    pub name: Option<String>,
    /// Its share of the load (default 1).
    #[serde(default = "one")]
    pub weight: u32,
    /// At most this many sessions from this pool.
    #[serde(default)]
    pub max_sessions: Option<usize>,
    /// Its Admin API (`ws://…` with the admin port, `http://…/admin`, …): when given, the
    /// instance's load is refreshed from `list_sessions` at every probe (every client's
    /// sessions count, other replicas' too). Needs `admin_secret`.
    #[serde(default)]
    pub admin_url: Option<String>,
    /// The Admin API's secret.
    #[serde(default)]
    pub admin_secret: Option<Secret>,
}

fn one() -> u32 {
    1
}

/// A pool's configuration: the instances, the client options every instance's client runs
/// with, the pool's options and (feature `redis`) the Redis store.
///
/// For a transport section (`[ws]`, `[http]`, ...) per instance, build each
/// [`InstanceSpec`] with [`instance`] from a whole [`Config`] and call [`Pool::connect`].
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolConfig {
    /// The instances, `[[instances]]`.
    pub instances: Vec<InstanceConfig>,
    /// Every instance's client options, `[options]` (as in a [`Config`]).
    #[serde(default)]
    pub options: ClientOptions,
    /// The pool's options, `[pool]`.
    #[serde(default)]
    pub pool: PoolOptions,
    /// The Redis store, `[redis]` (feature `redis`); without it, sticky keys agree within
    /// this process only.
    #[cfg(feature = "redis")]
    #[serde(default)]
    pub redis: Option<RedisOptions>,
}

impl PoolConfig {
    /// A configuration of these URLs with default options.
    pub fn new<S: Into<String>>(urls: impl IntoIterator<Item = S>) -> Self {
        PoolConfig {
            instances: urls
                .into_iter()
                .map(|url| InstanceConfig {
                    url: url.into(),
                    name: None,
                    weight: 1,
                    max_sessions: None,
                    admin_url: None,
                    admin_secret: None,
                })
                .collect(),
            options: ClientOptions::default(),
            pool: PoolOptions::default(),
            #[cfg(feature = "redis")]
            redis: None,
        }
    }

    /// Checks every option; the error names the instance and the option.
    pub fn validate(&self) -> Result<(), PoolError> {
        self.pool.validate()?;
        let mut names = std::collections::HashSet::new();
        for (i, inst) in self.instances.iter().enumerate() {
            let config = Config::new(inst.url.clone()).with_options(self.options.clone());
            // The connector checks the URL (its scheme, a compiled-in transport) too.
            config
                .validate()
                .and_then(|()| config.connector().map(drop))
                .map_err(|e| PoolError::Config(format!("instances[{i}]: {e}")))?;
            if inst.weight == 0 {
                return Err(PoolError::Config(format!(
                    "instances[{i}].weight must be at least 1"
                )));
            }
            if let Some(url) = &inst.admin_url {
                if inst.admin_secret.is_none() {
                    return Err(PoolError::Config(format!(
                        "instances[{i}].admin_url needs instances[{i}].admin_secret"
                    )));
                }
                let admin = Config::new(url.clone());
                admin
                    .validate()
                    .and_then(|()| admin.connector().map(drop))
                    .map_err(|e| PoolError::Config(format!("instances[{i}].admin_url: {e}")))?;
            }
            let name = inst.name.clone().unwrap_or_else(|| inst.url.clone());
            if name.is_empty() || !names.insert(name.clone()) {
                return Err(PoolError::Config(format!(
                    "instances[{i}].name {name:?} is empty or used twice"
                )));
            }
        }
        Ok(())
    }

    /// Reads a configuration from TOML (feature `toml`) and checks it.
    #[cfg(feature = "toml")]
    pub fn from_toml_str(text: &str) -> Result<PoolConfig, PoolError> {
        let config: PoolConfig = toml::from_str(text)
            .map_err(|e| PoolError::Config(format!("bad pool configuration: {e}")))?;
        config.validate()?;
        Ok(config)
    }

    /// Reads a configuration from a TOML file (feature `toml`) and checks it.
    #[cfg(feature = "toml")]
    pub fn from_file(path: impl AsRef<std::path::Path>) -> Result<PoolConfig, PoolError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| PoolError::Config(format!("cannot read {}: {e}", path.display())))?;
        PoolConfig::from_toml_str(&text)
            .map_err(|e| PoolError::Config(format!("{}: {e}", path.display())))
    }
}

/// An instance named `name` that the pool connects to with `config` (any transport), with
/// [`crate::connect`].
///
/// ```no_run
/// # async fn demo() -> Result<(), janus_client::pool::PoolError> {
/// use janus_client::pool::{instance, Pool, PoolOptions};
/// use janus_client::Config;
/// let specs = vec![
///     instance("janus-1", Config::new("ws://10.0.0.1:8188")).weight(2),
///     instance("janus-2", Config::new("http://10.0.0.2:8088/janus")).max_sessions(500),
/// ];
/// let pool = Pool::connect(specs, PoolOptions::default(), None).await?;
/// # Ok(()) }
/// ```
pub fn instance(name: impl Into<String>, config: Config) -> InstanceSpec {
    InstanceSpec::new(name, move || crate::connect(config.clone()))
}

/// Opens the Admin API of an instance, for [`InstanceSpec::admin`] (with
/// [`crate::connect_admin`]).
///
/// ```no_run
/// # async fn demo() -> Result<(), janus_client::pool::PoolError> {
/// use janus_client::pool::{admin, instance};
/// use janus_client::Config;
/// let spec = instance("janus-1", Config::new("ws://10.0.0.1:8188"))
///     .admin(admin(Config::new("ws://10.0.0.1:7188"), "janusoverlord".into()));
/// # Ok(()) }
/// ```
pub fn admin(config: Config, secret: Secret) -> impl Fn() -> AdminFuture + Send + Sync + 'static {
    move || Box::pin(crate::connect_admin(config.clone(), secret.clone()))
}

/// The future [`admin`] returns: an Admin API client.
pub type AdminFuture = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<crate::admin::AdminClient, crate::Error>> + Send>,
>;

/// Starts a pool as the configuration says (checked first), with the Redis store when
/// `[redis]` is given. See [`Pool::connect`].
pub async fn connect(config: PoolConfig) -> Result<Pool, PoolError> {
    config.validate()?;
    let specs = config
        .instances
        .iter()
        .map(|i| {
            let mut spec = instance(
                i.name.clone().unwrap_or_else(|| i.url.clone()),
                Config::new(i.url.clone()).with_options(config.options.clone()),
            )
            .weight(i.weight);
            spec.max_sessions = i.max_sessions;
            if let (Some(url), Some(secret)) = (&i.admin_url, &i.admin_secret) {
                spec = spec.admin(admin(Config::new(url.clone()), secret.clone()));
            }
            spec
        })
        .collect();
    #[cfg(feature = "redis")]
    let store: Option<Arc<dyn PlacementStore>> = match &config.redis {
        Some(r) => Some(Arc::new(RedisStore::new(r.clone())?)),
        None => None,
    };
    #[cfg(not(feature = "redis"))]
    let store: Option<Arc<dyn PlacementStore>> = None;
    Pool::connect(specs, config.pool, store).await
}

#[cfg(all(test, feature = "toml"))]
mod tests {
    use super::*;

    #[test]
    fn a_config_file_reads_and_bad_values_are_named() {
        let c = PoolConfig::from_toml_str(
            r#"
            [[instances]]
            url = "ws://127.0.0.1:8188"
            weight = 2
            max_sessions = 10

            [[instances]]
            url = "ws://127.0.0.1:8189"
            name = "b"
            admin_url = "ws://127.0.0.1:7189"
            admin_secret = "s"

            [pool]
            strategy = "round_robin"
            failover = "recreate"
            down_after = "2s"
            "#,
        )
        .unwrap();
        assert_eq!(c.instances[0].weight, 2);
        assert_eq!(c.pool.failover, Failover::Recreate);
        assert_eq!(c.pool.down_after, std::time::Duration::from_secs(2));
        for (text, names) in [
            (
                "[[instances]]\nurl = \"ws://a\"\nweight = 0",
                "instances[0].weight",
            ),
            ("[[instances]]\nurl = \"ftp://a\"", "instances[0]"),
            (
                "[[instances]]\nurl = \"ws://a\"\n[[instances]]\nurl = \"ws://a\"",
                "instances[1].name",
            ),
            (
                "[[instances]]\nurl = \"ws://a\"\nadmin_url = \"ws://b\"",
                "instances[0].admin_secret",
            ),
            (
                "instances = []\n[pool]\nprobe_interval = \"0s\"",
                "pool.probe_interval",
            ),
            ("instances = []\n[pool]\nsurprise = 1", "surprise"),
        ] {
            let e = PoolConfig::from_toml_str(text).expect_err(text).to_string();
            assert!(e.contains(names), "{e} should name {names}");
        }
    }
}
