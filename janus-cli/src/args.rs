//! The command line: every command, its options and its `--help` text (clap derive).

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  Janus or a plugin answered with an error (or the session/handle is gone)
  2  usage: bad arguments, a configuration that cannot work, a URL no transport takes
  3  cannot connect, or the connection failed or closed (also a reply that breaks the protocol)
  4  timeout: no answer within --timeout
  5  unauthorized: wrong api secret, token or admin secret (403/405), or refused by the broker
  6  load: the run completed, and some lifecycles failed (see its errors by kind)
130  interrupted (a second Ctrl-C)

Environment: JANUS_URL, JANUS_CONFIG, JANUS_ADMIN_URL, JANUS_ADMIN_SECRET, JANUS_API_SECRET,
JANUS_TOKEN and JANUS_TIMEOUT stand for the options of the same name (secrets there stay out
of `ps`).";

/// A command-line client for the Janus WebRTC gateway, over any transport janus-client speaks:
/// ws://, wss://, http(s)://…/janus, unix:///path/janus.sock, mqtt(s)://, amqp://.
#[derive(Debug, Parser)]
#[command(name = "janus-cli", version, after_long_help = EXIT_CODES, after_help = EXIT_CODES)]
pub struct Cli {
    /// How to reach Janus (and its Admin API).
    #[command(flatten)]
    pub connection: ConnectionArgs,

    /// Print JSON (one object; `watch`: one per line) instead of text.
    #[arg(long, global = true)]
    pub json: bool,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Where Janus is and how to authenticate.
#[derive(Debug, Args)]
pub struct ConnectionArgs {
    /// Janus' URL; the scheme picks the transport: ws://, wss://, http(s)://host:port/janus,
    /// unix:///path/to/janus.sock, mqtt(s)://host:port?request_topic=…&response_topic=…,
    /// amqp://user:pass@host:5672/%2f?to_janus=…&from_janus=…&janus_exchange=…
    /// (`load` takes several: workers are spread across them). Overrides the config file's.
    #[arg(
        long,
        short = 'u',
        global = true,
        env = "JANUS_URL",
        value_name = "URL"
    )]
    pub url: Vec<String>,

    /// A janus-client configuration file (TOML: url, [options], [ws], [http], [unix], [mqtt],
    /// [amqp]); flags win over it.
    #[arg(
        long,
        short = 'c',
        global = true,
        env = "JANUS_CONFIG",
        value_name = "FILE"
    )]
    pub config: Option<PathBuf>,

    /// The Admin API's URL (ws://host:7188, http://host:7088/admin, unix:///…/admin.sock,
    /// mqtt://…?request_topic=to-janus-admin…, amqp://…): needed by `admin`.
    #[arg(long, global = true, env = "JANUS_ADMIN_URL", value_name = "URL")]
    pub admin_url: Option<String>,

    /// The Admin API's secret (Janus' admin_secret).
    #[arg(
        long,
        global = true,
        env = "JANUS_ADMIN_SECRET",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    pub admin_secret: Option<String>,

    /// The api secret Janus requires (its api_secret).
    #[arg(
        long,
        global = true,
        env = "JANUS_API_SECRET",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    pub api_secret: Option<String>,

    /// A stored token (Janus with token_auth).
    #[arg(
        long,
        global = true,
        env = "JANUS_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,

    /// How long each request (and the connect) may take: `500ms`, `5s`, `1m` [default: the
    /// config file's request_timeout, else 10s].
    #[arg(long, short = 't', global = true, env = "JANUS_TIMEOUT", value_parser = parse_duration, value_name = "DURATION")]
    pub timeout: Option<Duration>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Janus' version, settings, plugins and transports (`info`).
    Info,
    /// Round-trip times of `ping` requests.
    Ping(PingArgs),
    /// Send one request as written and print Janus' whole answer (always JSON).
    Call(CallArgs),
    /// The Admin API: sessions, handles, log level, new sessions, tokens, …
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Print live events as they come (Ctrl-C stops and cleans up).
    Watch(Box<WatchArgs>),
    /// Run session lifecycles with W workers and report throughput, latency and errors.
    Load(LoadArgs),
    /// Print a shell completion script: `janus-cli completions bash > /etc/bash_completion.d/janus-cli`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// `ping`.
#[derive(Debug, Args)]
pub struct PingArgs {
    /// How many pings.
    #[arg(long, short = 'n', default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub count: u32,
    /// Pause between pings.
    #[arg(long, short = 'i', default_value = "1s", value_parser = parse_duration, value_name = "DURATION")]
    pub interval: Duration,
}

/// `call`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  janus-cli -u ws://127.0.0.1:8188 call info
  janus-cli -u ws://127.0.0.1:8188 call '{\"janus\":\"create\"}'
  janus-cli -u ws://127.0.0.1:8188 call --plugin janus.plugin.videoroom \\
      '{\"janus\":\"message\",\"body\":{\"request\":\"list\"}}'")]
pub struct CallArgs {
    /// The request: a JSON object with its `janus` field (`{"janus":"info"}`; the
    /// transaction, api secret and token are added), or just that name (`info`).
    pub request: String,
    /// Create a session and attach this plugin first, and address the request to them
    /// (unless it names a session_id/handle_id); both are destroyed afterwards.
    #[arg(long, short = 'p', value_name = "PLUGIN")]
    pub plugin: Option<String>,
    /// What answer completes the request [default: the usual one for its name: info →
    /// server_info, ping → pong, keepalive/trickle → ack, message → event, others → success].
    #[arg(long, value_enum)]
    pub expect: Option<ExpectArg>,
}

/// The answer that completes a `call`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ExpectArg {
    /// `success`.
    Success,
    /// `ack`.
    Ack,
    /// A plugin `message`: `success`, or `ack` then `event`.
    Event,
    /// `server_info`.
    ServerInfo,
    /// `pong`.
    Pong,
}

/// `admin …`.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Server settings (`get_status`).
    Status,
    /// Every session, with how many handles it has.
    Sessions,
    /// Handles with their plugin and opaque id: of one session, or of every session.
    Handles {
        /// The session (every session when left out).
        session: Option<u64>,
    },
    /// Everything Janus knows about one handle (`handle_info`).
    HandleInfo {
        /// The session.
        session: u64,
        /// The handle.
        handle: u64,
        /// Only the session/handle basics and the plugin's part.
        #[arg(long)]
        plugin_only: bool,
    },
    /// Set Janus' log level: 0 none, 1 fatal, 2 error, 3 warning, 4 info, 5 verbose, 6 huge,
    /// 7 debug.
    LogLevel {
        /// The level.
        #[arg(value_parser = clap::value_parser!(u8).range(0..=7))]
        level: u8,
    },
    /// Let `create` make new sessions (true) or refuse them with 472 (false).
    AcceptSessions {
        /// true or false.
        #[arg(action = clap::ArgAction::Set)]
        accept: bool,
    },
    /// Set the server-wide session timeout, in seconds (0: none).
    SessionTimeout {
        /// Seconds.
        seconds: u64,
    },
    /// Destroy a session and its handles, whoever owns it.
    DestroySession {
        /// The session.
        session: u64,
    },
    /// Detach a handle, whoever owns it.
    DetachHandle {
        /// The session.
        session: u64,
        /// The handle.
        handle: u64,
    },
    /// Close a handle's PeerConnection (the handle stays).
    Hangup {
        /// The session.
        session: u64,
        /// The handle.
        handle: u64,
    },
    /// Stored tokens (Janus with token_auth).
    #[command(subcommand)]
    Tokens(TokenCommand),
    /// Send one Admin request as written (`{"janus":"loops_info"}`, or just its name) and
    /// print the whole answer; the admin secret is added.
    Call {
        /// The request.
        request: String,
    },
}

/// `admin tokens …`. A TOKEN of `-` is read from standard input (so it stays out of `ps`).
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Every stored token and the plugins it may use.
    List,
    /// Store a token, allowed to use the plugins given (every plugin when none is).
    Add {
        /// The token.
        token: String,
        /// A plugin it may use (repeat for more).
        #[arg(long = "plugin", short = 'p', value_name = "PLUGIN")]
        plugins: Vec<String>,
    },
    /// Forget a token.
    Remove {
        /// The token.
        token: String,
    },
    /// Let a token use more plugins.
    Allow {
        /// The token.
        token: String,
        /// The plugins.
        #[arg(required = true)]
        plugins: Vec<String>,
    },
    /// Stop a token from using some plugins.
    Disallow {
        /// The token.
        token: String,
        /// The plugins.
        #[arg(required = true)]
        plugins: Vec<String>,
    },
}

/// `watch`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  janus-cli -u ws://127.0.0.1:8188 watch --plugin janus.plugin.echotest --body '{\"audio\":true}'
  janus-cli -u ws://127.0.0.1:8188 --json watch --plugin janus.plugin.videoroom \\
      --body '{\"request\":\"join\",\"room\":1234,\"ptype\":\"publisher\"}'
  janus-cli watch --evh-ws 127.0.0.1:7188 --evh-http 127.0.0.1:7088 --evh-path /janus-events
  janus-cli watch --evh-mqtt 127.0.0.1:1883 --evh-mqtt-topic /janus/events
  janus-cli watch --evh-amqp 127.0.0.1:5672 --evh-amqp-exchange janus-exchange")]
pub struct WatchArgs {
    /// Where the events come from.
    #[command(flatten)]
    pub source: WatchSourceArgs,
    /// Stop after this many events.
    #[arg(long, short = 'n', value_name = "N")]
    pub count: Option<u64>,
    /// Stop after this long.
    #[arg(long = "for", value_parser = parse_duration, value_name = "DURATION")]
    pub duration: Option<Duration>,
}

/// The source of `watch`'s events: a handle the tool attaches (`--plugin`), or Janus' event
/// handlers (`--evh-http`, `--evh-ws`: the tool listens, Janus sends; `--evh-mqtt`,
/// `--evh-amqp`: the tool reads what Janus publishes on a broker).
#[derive(Debug, Args)]
#[group(required = true, multiple = true)]
pub struct WatchSourceArgs {
    /// Attach a handle to this plugin and print its events (and its session's).
    #[arg(long, short = 'p', value_name = "PLUGIN", conflicts_with_all = ["evh_http", "evh_ws", "evh_mqtt", "evh_amqp"])]
    pub plugin: Option<String>,
    /// Listen here for Janus' sampleevh (HTTP POSTs) and print every event it sends.
    #[arg(long, value_name = "ADDR:PORT")]
    pub evh_http: Option<std::net::SocketAddr>,
    /// Listen here for Janus' wsevh (it connects as a WebSocket client) and print every event.
    #[arg(long, value_name = "ADDR:PORT")]
    pub evh_ws: Option<std::net::SocketAddr>,
    /// The path the event handlers send to (sampleevh's `backend` path; default: any).
    #[arg(long, value_name = "PATH", requires = "evh_http")]
    pub evh_path: Option<String>,
    /// sampleevh's basic-auth credentials (`backend_user`, `backend_pwd`), required of every
    /// POST. Also from JANUS_EVH_AUTH.
    #[arg(
        long,
        value_name = "USER:PASSWORD",
        env = "JANUS_EVH_AUTH",
        hide_env_values = true,
        requires = "evh_http"
    )]
    pub evh_auth: Option<String>,
    /// Read what Janus' mqttevh publishes on the MQTT broker at this address.
    #[arg(long, value_name = "HOST:PORT")]
    pub evh_mqtt: Option<String>,
    /// mqttevh's base topic (`topic`; with `addevent`, one sub-topic per event type is read
    /// too).
    #[arg(long, value_name = "TOPIC", requires = "evh_mqtt", default_value = janus_client::evh::MQTTEVH_TOPIC)]
    pub evh_mqtt_topic: String,
    /// The MQTT broker's credentials. Also from JANUS_EVH_MQTT_AUTH.
    #[arg(
        long,
        value_name = "USER:PASSWORD",
        env = "JANUS_EVH_MQTT_AUTH",
        hide_env_values = true,
        requires = "evh_mqtt"
    )]
    pub evh_mqtt_auth: Option<String>,
    /// Read what Janus' rabbitmqevh publishes on the RabbitMQ broker at this address.
    #[arg(long, value_name = "HOST:PORT")]
    pub evh_amqp: Option<String>,
    /// rabbitmqevh's `exchange` (a queue of the tool's own is bound to it); without it, the
    /// tool reads the queue named by `--evh-amqp-route-key`.
    #[arg(long, value_name = "NAME", requires = "evh_amqp")]
    pub evh_amqp_exchange: Option<String>,
    /// rabbitmqevh's `exchange_type`.
    #[arg(
        long,
        value_name = "TYPE",
        requires = "evh_amqp_exchange",
        default_value = "fanout"
    )]
    pub evh_amqp_exchange_type: String,
    /// rabbitmqevh's `route_key`.
    #[arg(long, value_name = "KEY", requires = "evh_amqp", default_value = janus_client::evh::RABBITMQEVH_ROUTE_KEY)]
    pub evh_amqp_route_key: String,
    /// The RabbitMQ virtual host.
    #[arg(long, value_name = "VHOST", requires = "evh_amqp", default_value = "/")]
    pub evh_amqp_vhost: String,
    /// The RabbitMQ broker's credentials (default guest:guest). Also from JANUS_EVH_AMQP_AUTH.
    #[arg(
        long,
        value_name = "USER:PASSWORD",
        env = "JANUS_EVH_AMQP_AUTH",
        hide_env_values = true,
        requires = "evh_amqp"
    )]
    pub evh_amqp_auth: Option<String>,
    /// A message to send to the plugin once attached (JSON); its answer is printed as the
    /// first event.
    #[arg(long, short = 'b', value_name = "JSON", requires = "plugin")]
    pub body: Option<String>,
    /// The handle's opaque id (what Janus' event handlers and the Admin API show).
    #[arg(long, value_name = "ID", requires = "plugin")]
    pub opaque_id: Option<String>,
}

/// `load`.
#[derive(Debug, Args)]
#[command(
    after_help = "Each lifecycle: create a session, attach the plugin, send it the request and \
wait for its answer (for the echotest: {\"audio\":true} answered {\"result\":\"ok\"}), detach, destroy.
Workers share one connection per URL and run lifecycles back to back. The run ends after
--duration or --iterations (whichever comes first; --duration 10s when neither is given),
after --max-errors failures, or at Ctrl-C; lifecycles under way then finish.

Examples:
  janus-cli -u ws://127.0.0.1:8188 load -w 16 -d 30s
  janus-cli -u ws://10.0.0.1:8188 -u ws://10.0.0.2:8188 load -w 64 -n 100000 --json
  janus-cli -u http://127.0.0.1:8088/janus load --plugin janus.plugin.videoroom --body '{\"request\":\"list\"}'"
)]
pub struct LoadArgs {
    /// Concurrent workers (spread over the URLs in turn).
    #[arg(long, short = 'w', default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub workers: u32,
    /// How long to run.
    #[arg(long, short = 'd', value_parser = parse_duration, value_name = "DURATION")]
    pub duration: Option<Duration>,
    /// How many lifecycles to run in all.
    #[arg(long, short = 'n', value_parser = clap::value_parser!(u64).range(1..), value_name = "N")]
    pub iterations: Option<u64>,
    /// Stop after this many failed lifecycles.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..), value_name = "N")]
    pub max_errors: Option<u64>,
    /// The plugin each lifecycle attaches.
    #[arg(
        long,
        short = 'p',
        default_value = "janus.plugin.echotest",
        value_name = "PLUGIN"
    )]
    pub plugin: String,
    /// The request each lifecycle sends (JSON) [default with the echotest: {"audio":true},
    /// whose answer must be {"result":"ok"}; with another plugin: {}].
    #[arg(long, short = 'b', value_name = "JSON")]
    pub body: Option<String>,
    /// Show progress even when stderr is no terminal (a line per second then).
    #[arg(long, conflicts_with = "no_progress")]
    pub progress: bool,
    /// Never show progress.
    #[arg(long)]
    pub no_progress: bool,
}

/// Parses `500ms`, `5s`, `1m30s`, or plain seconds (`2.5`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let d = match text.parse::<f64>() {
        Ok(secs) if (0.0..=31_557_600.0).contains(&secs) => Duration::from_secs_f64(secs),
        Ok(_) => return Err(format!("{text:?} is not a duration from 0 to 1 year")),
        Err(_) => humantime::parse_duration(text)
            .map_err(|e| format!("{text:?} is not a duration (like 500ms, 5s, 1m): {e}"))?,
    };
    if d.is_zero() {
        return Err("a duration must be more than zero".into());
    }
    if d > Duration::from_secs(31_557_600) {
        return Err(format!("{text:?} is longer than 1 year"));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations_parse_or_say_why_not() {
        assert_eq!(parse_duration("2.5").unwrap(), Duration::from_millis(2500));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert!(parse_duration("0").unwrap_err().contains("more than zero"));
        assert!(parse_duration("NaN").is_err());
        assert!(parse_duration("-1").is_err());
        assert!(parse_duration("2 years").unwrap_err().contains("1 year"));
        assert!(parse_duration("soon")
            .unwrap_err()
            .contains("not a duration"));
    }
}
