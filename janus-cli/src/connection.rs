//! From the connection options (flags, environment, config file) to a connected client of
//! the Janus API or of the Admin API.

use janus_client::admin::AdminClient;
use janus_client::{Client, Config, ErrorKind, Secret};
use std::time::Duration;

use crate::args::ConnectionArgs;
use crate::failure::{Exit, Failure};

/// The configuration the options describe, with `url` as the URL (the config file's when
/// `None`).
fn config_for(args: &ConnectionArgs, url: Option<&str>) -> Result<Config, Failure> {
    let mut config = match &args.config {
        Some(path) => Config::from_file(path)
            .map_err(|e| Failure::from_error(&format!("--config {}", path.display()), &e))?,
        None => match url {
            Some(url) => Config::new(url),
            None => {
                return Err(Failure::usage(
                    "no Janus URL: give --url URL (or JANUS_URL), or --config FILE",
                ))
            }
        },
    };
    if let Some(url) = url {
        config.url = url.to_string();
    }
    if let Some(t) = args.timeout {
        config.options.request_timeout = t;
    }
    if let Some(s) = &args.api_secret {
        config.options.api_secret = Some(Secret::new(s.clone()));
    }
    if let Some(t) = &args.token {
        config.options.token = Some(Secret::new(t.clone()));
    }
    config
        .validate()
        .map_err(|e| Failure::from_error(&format!("cannot use {}", config.url), &e))?;
    Ok(config)
}

/// The one Janus API configuration of a command that talks to one Janus.
pub fn api_config(args: &ConnectionArgs) -> Result<Config, Failure> {
    match args.url.as_slice() {
        [] => config_for(args, None),
        [url] => config_for(args, Some(url)),
        more => Err(Failure::usage(format!(
            "--url given {} times: only `load` takes several",
            more.len()
        ))),
    }
}

/// One Janus API configuration per `--url` (`load`), or the config file's.
pub fn api_configs(args: &ConnectionArgs) -> Result<Vec<Config>, Failure> {
    if args.url.is_empty() {
        return Ok(vec![config_for(args, None)?]);
    }
    args.url
        .iter()
        .map(|url| config_for(args, Some(url)))
        .collect()
}

/// Connects to the Janus API; the whole connect is bounded by twice the request timeout.
pub async fn connect(config: Config) -> Result<Client, Failure> {
    let url = config.url.clone();
    let limit = bound(&config);
    match tokio::time::timeout(limit, janus_client::connect(config)).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(e)) if matches!(e.kind(), ErrorKind::Config(_)) => {
            Err(Failure::from_error(&format!("cannot use {url}"), &e))
        }
        Ok(Err(e)) => Err(Failure::from_error(&format!("cannot connect to {url}"), &e)),
        Err(_) => Err(Failure {
            exit: Exit::Timeout,
            message: format!("cannot connect to {url}: no answer within {limit:?}"),
        }),
    }
}

/// Connects to the Admin API (`--admin-url`; the config file gives the options).
pub async fn connect_admin(args: &ConnectionArgs) -> Result<AdminClient, Failure> {
    let Some(url) = &args.admin_url else {
        return Err(Failure::usage(
            "admin commands need --admin-url URL (or JANUS_ADMIN_URL), e.g. ws://127.0.0.1:7188 \
             or http://127.0.0.1:7088/admin",
        ));
    };
    let config = config_for(args, Some(url))?;
    let secret = Secret::new(args.admin_secret.clone().unwrap_or_default());
    let limit = bound(&config);
    match tokio::time::timeout(limit, janus_client::connect_admin(config, secret)).await {
        Ok(Ok(admin)) => Ok(admin),
        Ok(Err(e)) => Err(Failure::from_error(
            &format!("cannot connect to the Admin API at {url}"),
            &e,
        )),
        Err(_) => Err(Failure {
            exit: Exit::Timeout,
            message: format!(
                "cannot connect to the Admin API at {url}: no answer within {limit:?}"
            ),
        }),
    }
}

/// The connect opens the transport and asks for `info`, each within the request timeout.
fn bound(config: &Config) -> Duration {
    config
        .options
        .request_timeout
        .saturating_mul(2)
        .saturating_add(Duration::from_secs(1))
}
