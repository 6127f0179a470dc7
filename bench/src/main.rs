//! janus-bench: the session lifecycle (create → attach echotest → message `{"audio":true}`
//! waiting for its event → detach → destroy) through janus-client and through a minimal
//! hand-written client, against the same Janus, in one process and one tokio runtime.
//!
//! One JSON line per run on stdout, then a summary line; progress and errors on stderr.
//! `scripts/bench` starts a private Janus, builds this in release and runs it.

mod library;
mod memory;
#[cfg(feature = "amqp")]
mod minimal_amqp;
#[cfg(feature = "http")]
mod minimal_http;
mod minimal_lifecycle;
#[cfg(feature = "mqtt")]
mod minimal_mqtt;
#[cfg(feature = "unix")]
mod minimal_unix;
mod minimal_waiters;
mod minimal_ws;
mod pool;
mod runner;

use runner::{Lifecycle, RunConfig, RunResult};
use serde_json::Value;
use std::cell::Cell;
use std::collections::HashMap;
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "\
usage: janus-bench [options]

  --ws-url URL              Janus WebSocket URL (default: $BENCH_WS_URL)
  --http-url URL            Janus HTTP base URL, e.g. http://127.0.0.1:8088/janus
                            (default: $BENCH_HTTP_URL; needs the `http` feature)
  --amqp-url URL            Janus over RabbitMQ, amqp://…?to_janus=…&from_janus=…&janus_exchange=…
                            (default: $BENCH_AMQP_URL; needs the `amqp` feature)
  --unix-url URL            Janus' Unix socket, unix:///path/to/janus.sock (SOCK_SEQPACKET)
                            (default: $BENCH_UNIX_URL; needs the `unix` feature)
  --mqtt-url URL            Janus through an MQTT broker, mqtt://host:port?request_topic=..
                            &response_topic=.. (default: $BENCH_MQTT_URL; needs the `mqtt`
                            feature)
  --transport ws|http|unix|mqtt|amqp|all
                            transports to run (default all: those with a URL; http and
                            amqp only when built with their feature)
  --workers LIST            comma-separated worker counts (default 1,16)
  --duration SECS           length of each measured run (default 5)
  --warmup SECS             unmeasured run before each measured one (default 1; 0 = none)
  --rounds N                rounds of the alternating runs (default 2); the summary ratios
                            divide the library's median ops/s over the rounds by the
                            minimal client's
  --first alternate|library|minimal
                            which client runs first in a round (default alternate: the
                            library in odd rounds, the minimal client in even ones, so that
                            what a run leaves behind in Janus, or a slow start, weighs on
                            both alike; use an even number of rounds)
  --profile-only library|minimal
                            run only this client (no ratios), e.g. under `perf record`
  --no-stress               skip the library's error-only stress runs
  --idle-sessions N         sessions (each with an echotest handle) held open through the
                            library over WebSocket to measure its heap per idle session,
                            then dropped to measure what is left (default 10000; 0 = skip)
  --pool-creates N          sequential create_session calls through a plain Client and
                            through a pool of the same instance (and with a new sticky key
                            each), over WebSocket: the placement's cost (default 1000; 0 = skip)
  --stress-ws-workers N     workers of the WebSocket stress run (default 256)
  --stress-http-workers N   workers of the HTTP stress run (default 64)
  --stress-broker-workers N workers of the Unix socket, MQTT and RabbitMQ stress runs
                            (default 64)
  --minimal-writer mutex|task
                            how the minimal WebSocket client writes (default task)
  --minimal-http-poll concurrent|after-ack
                            when the minimal HTTP client sends its long poll (default
                            concurrent with the message POST)
  --timeout SECS            limit on one lifecycle, counted as an error (default 10)
  --settle SECS             pause between runs (default 0.3)
  --http-settle SECS        pause after a library HTTP run (default 0): Janus 1.1.2 leaves
                            the long poll of a destroyed session open until its 30 s
                            keepalive, and libmicrohttpd stalls near 1020 connections; the
                            library parks a session's poll once its last handle is detached,
                            so none is left behind; use 31 to rule such leftovers out
  --janus-pid PID           also report Janus' CPU time per lifecycle (default: $BENCH_PID)
  -h, --help                this text
";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Transport {
    Ws,
    Http,
    Unix,
    Mqtt,
    Amqp,
}

impl Transport {
    fn name(self) -> &'static str {
        match self {
            Transport::Ws => "ws",
            Transport::Http => "http",
            Transport::Unix => "unix",
            Transport::Mqtt => "mqtt",
            Transport::Amqp => "amqp",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum ClientKind {
    Library,
    Minimal,
}

impl ClientKind {
    fn name(self) -> &'static str {
        match self {
            ClientKind::Library => "library",
            ClientKind::Minimal => "minimal",
        }
    }
}

struct Args {
    ws_url: Option<String>,
    http_url: Option<String>,
    unix_url: Option<String>,
    mqtt_url: Option<String>,
    amqp_url: Option<String>,
    transport: Option<Transport>,
    workers: Vec<usize>,
    duration: Duration,
    warmup: Duration,
    rounds: usize,
    only: Option<ClientKind>,
    /// Which client runs first in a round; `None`: they alternate.
    first: Option<ClientKind>,
    stress: bool,
    stress_ws_workers: usize,
    stress_http_workers: usize,
    stress_broker_workers: usize,
    idle_sessions: usize,
    pool_creates: usize,
    writer: minimal_ws::WriterKind,
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    http_poll: String,
    timeout: Duration,
    settle: Duration,
    http_settle: Duration,
    janus_pid: Option<String>,
}

fn secs(flag: &str, v: &str) -> Result<Duration, String> {
    v.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("{flag}: not a number of seconds: {v:?}"))
}

fn count(flag: &str, v: &str) -> Result<usize, String> {
    v.parse::<usize>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{flag}: not a positive integer: {v:?}"))
}

/// `Ok(None)` for `--help`.
fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut a = Args {
        ws_url: std::env::var("BENCH_WS_URL").ok().filter(|s| !s.is_empty()),
        http_url: std::env::var("BENCH_HTTP_URL")
            .ok()
            .filter(|s| !s.is_empty()),
        unix_url: std::env::var("BENCH_UNIX_URL")
            .ok()
            .filter(|s| !s.is_empty()),
        mqtt_url: std::env::var("BENCH_MQTT_URL")
            .ok()
            .filter(|s| !s.is_empty()),
        amqp_url: std::env::var("BENCH_AMQP_URL")
            .ok()
            .filter(|s| !s.is_empty()),
        transport: None,
        workers: vec![1, 16],
        duration: Duration::from_secs(5),
        warmup: Duration::from_secs(1),
        rounds: 2,
        only: None,
        first: None,
        stress: true,
        stress_ws_workers: 256,
        stress_http_workers: 64,
        stress_broker_workers: 64,
        idle_sessions: 10_000,
        pool_creates: 1000,
        writer: minimal_ws::WriterKind::Task,
        http_poll: "concurrent".into(),
        timeout: Duration::from_secs(10),
        settle: Duration::from_millis(300),
        http_settle: Duration::ZERO,
        janus_pid: std::env::var("BENCH_PID").ok().filter(|s| !s.is_empty()),
    };
    while let Some(flag) = it.next() {
        let (flag, inline) = match flag.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (flag, None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--ws-url" => a.ws_url = Some(value()?),
            "--http-url" => a.http_url = Some(value()?),
            "--unix-url" => a.unix_url = Some(value()?),
            "--mqtt-url" => a.mqtt_url = Some(value()?),
            "--amqp-url" => a.amqp_url = Some(value()?),
            "--transport" => {
                a.transport = match value()?.as_str() {
                    "ws" => Some(Transport::Ws),
                    "http" => Some(Transport::Http),
                    "unix" => Some(Transport::Unix),
                    "mqtt" => Some(Transport::Mqtt),
                    "amqp" => Some(Transport::Amqp),
                    "all" => None,
                    other => {
                        return Err(format!(
                            "--transport: ws, http, unix, mqtt, amqp or all, not {other:?}"
                        ))
                    }
                }
            }
            "--workers" => {
                a.workers = value()?
                    .split(',')
                    .map(|w| count("--workers", w.trim()))
                    .collect::<Result<_, _>>()?
            }
            "--duration" => a.duration = secs("--duration", &value()?)?,
            "--warmup" => a.warmup = secs("--warmup", &value()?)?,
            "--rounds" => a.rounds = count("--rounds", &value()?)?,
            "--first" => {
                a.first = match value()?.as_str() {
                    "alternate" => None,
                    "library" => Some(ClientKind::Library),
                    "minimal" => Some(ClientKind::Minimal),
                    other => {
                        return Err(format!(
                            "--first: alternate, library or minimal, not {other:?}"
                        ))
                    }
                }
            }
            "--profile-only" => {
                a.only = match value()?.as_str() {
                    "library" => Some(ClientKind::Library),
                    "minimal" => Some(ClientKind::Minimal),
                    other => {
                        return Err(format!("--profile-only: library or minimal, not {other:?}"))
                    }
                }
            }
            "--no-stress" => a.stress = false,
            "--stress-ws-workers" => a.stress_ws_workers = count(&flag, &value()?)?,
            "--stress-http-workers" => a.stress_http_workers = count(&flag, &value()?)?,
            "--stress-broker-workers" => a.stress_broker_workers = count(&flag, &value()?)?,
            "--idle-sessions" => {
                let v = value()?;
                a.idle_sessions = v
                    .parse()
                    .map_err(|_| format!("{flag}: {v:?} is not a count"))?;
            }
            "--pool-creates" => {
                let v = value()?;
                a.pool_creates = v
                    .parse()
                    .map_err(|_| format!("{flag}: {v:?} is not a count"))?;
            }
            "--minimal-writer" => a.writer = value()?.parse()?,
            "--minimal-http-poll" => a.http_poll = value()?,
            "--timeout" => a.timeout = secs("--timeout", &value()?)?,
            "--settle" => a.settle = secs("--settle", &value()?)?,
            "--http-settle" => a.http_settle = secs("--http-settle", &value()?)?,
            "--janus-pid" => a.janus_pid = Some(value()?),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if a.duration.is_zero() {
        return Err("--duration must be more than 0".into());
    }
    if a.timeout.is_zero() {
        return Err("--timeout must be more than 0".into());
    }
    Ok(Some(a))
}

/// The transports to run, or why the requested one cannot run.
fn transports(a: &Args) -> Result<Vec<Transport>, String> {
    let mut out = Vec::new();
    // (transport, built with its feature, its URL, the option naming it)
    let all = [
        (Transport::Ws, true, &a.ws_url, "--ws-url (or BENCH_WS_URL)"),
        (
            Transport::Http,
            cfg!(feature = "http"),
            &a.http_url,
            "--http-url (or BENCH_HTTP_URL)",
        ),
        (
            Transport::Unix,
            cfg!(feature = "unix"),
            &a.unix_url,
            "--unix-url (or BENCH_UNIX_URL)",
        ),
        (
            Transport::Mqtt,
            cfg!(feature = "mqtt"),
            &a.mqtt_url,
            "--mqtt-url (or BENCH_MQTT_URL)",
        ),
        (
            Transport::Amqp,
            cfg!(feature = "amqp"),
            &a.amqp_url,
            "--amqp-url (or BENCH_AMQP_URL)",
        ),
    ];
    for (t, built, url, option) in all {
        if a.transport.is_some_and(|want| want != t) {
            continue;
        }
        let explicit = a.transport.is_some();
        if !built {
            if explicit {
                return Err(format!("built without the `{}` feature", t.name()));
            }
            eprintln!(
                "janus-bench: built without the `{}` feature: its runs skipped",
                t.name()
            );
        } else if url.is_none() {
            if explicit {
                return Err(format!("no {option}"));
            }
            eprintln!("janus-bench: no {} URL: its runs skipped", t.name());
        } else {
            out.push(t);
        }
    }
    if out.is_empty() {
        return Err(
            "nothing to run: give at least one of --ws-url, --http-url, --unix-url, --mqtt-url \
             or --amqp-url"
                .into(),
        );
    }
    Ok(out)
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(a)) => a,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("janus-bench: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("janus-bench: cannot start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(bench(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("janus-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The clients of round `round` (from 1) in the order they run: `first` first, or, when
/// `None`, as given in odd rounds and reversed in even ones.
fn round_order(kinds: &[ClientKind], first: Option<ClientKind>, round: usize) -> Vec<ClientKind> {
    let mut order = kinds.to_vec();
    match first {
        Some(k) => order.sort_by_key(|&c| c != k),
        None if round % 2 == 0 => order.reverse(),
        None => {}
    }
    order
}

async fn bench(a: Args) -> Result<(), String> {
    let transports = transports(&a)?;
    #[cfg(feature = "http")]
    let http_poll: minimal_http::PollMode = a.http_poll.parse()?;
    let kinds: Vec<ClientKind> = match a.only {
        Some(k) => vec![k],
        None => vec![ClientKind::Library, ClientKind::Minimal],
    };
    let threads = std::thread::available_parallelism().map_or(0, |n| n.get());
    eprintln!(
        "janus-bench: tokio multi-thread runtime ({threads} worker threads), runs of {:?} \
         after {:?} warmup, {} round(s), workers {:?}, minimal WS writer: {:?}{}",
        a.duration,
        a.warmup,
        a.rounds,
        a.workers,
        a.writer,
        if cfg!(feature = "http") {
            format!(", minimal HTTP poll: {}", a.http_poll)
        } else {
            String::new()
        }
    );

    let ctx = Ctx {
        a: &a,
        #[cfg(feature = "http")]
        http_poll,
        previous: Cell::new(None),
    };
    // ops/s of every measured run, per (transport, workers, client).
    let mut ops: HashMap<(Transport, usize, ClientKind), Vec<f64>> = HashMap::new();
    // The bench process's CPU µs per lifecycle, likewise.
    let mut cpu: HashMap<(Transport, usize, ClientKind), Vec<f64>> = HashMap::new();
    for round in 1..=a.rounds {
        for &t in &transports {
            for &w in &a.workers {
                for k in round_order(&kinds, a.first, round) {
                    eprintln!(
                        "janus-bench: round {round}/{}: {} {} W={w}",
                        a.rounds,
                        k.name(),
                        t.name()
                    );
                    let r = ctx.run(t, k, w).await;
                    report(k, t, w, &r);
                    ops.entry((t, w, k)).or_default().push(r.ops_per_s());
                    if let Some(c) = r.client_cpu.filter(|_| r.ops > 0) {
                        let us = c.as_secs_f64() * 1e6 / r.ops as f64;
                        cpu.entry((t, w, k)).or_default().push(us);
                    }
                }
            }
        }
    }

    let mut stress_errors: Vec<(String, Option<u64>)> = Vec::new();
    if a.stress && a.only != Some(ClientKind::Minimal) {
        for (t, w) in [
            (Transport::Ws, a.stress_ws_workers),
            (Transport::Http, a.stress_http_workers),
            (Transport::Unix, a.stress_broker_workers),
            (Transport::Mqtt, a.stress_broker_workers),
            (Transport::Amqp, a.stress_broker_workers),
        ] {
            let key = format!("{}_w{w}_errors", t.name());
            if transports.contains(&t) {
                eprintln!("janus-bench: stress: library {} W={w}", t.name());
                let r = ctx.run(t, ClientKind::Library, w).await;
                report(ClientKind::Library, t, w, &r);
                stress_errors.push((key, Some(r.errors)));
            } else {
                stress_errors.push((key, None));
            }
        }
    }

    let mut idle: Option<memory::Memory> = None;
    if a.idle_sessions > 0 && a.only != Some(ClientKind::Minimal) {
        if let Some(url) = a.ws_url.as_deref() {
            eprintln!(
                "janus-bench: memory: {} idle sessions with a handle each, library over WebSocket",
                a.idle_sessions
            );
            match library::Library::connect(url).await {
                Ok(c) => {
                    match memory::measure(c.client(), a.idle_sessions).await {
                        Ok(m) => {
                            eprintln!(
                                "janus-bench:   {:.0} bytes per idle session, {:.1} bytes per session left after dropping them all",
                                m.bytes_per_session, m.leftover_per_session
                            );
                            idle = Some(m);
                        }
                        Err(e) => eprintln!("janus-bench:   memory: {e}"),
                    }
                    c.close().await;
                }
                Err(e) => eprintln!("janus-bench:   memory: {e}"),
            }
        }
    }

    let mut pool_cost: Option<pool::PoolCost> = None;
    if a.pool_creates > 0 && a.only != Some(ClientKind::Minimal) {
        if let Some(url) = a.ws_url.as_deref() {
            eprintln!(
                "janus-bench: pool: {} creates each through a Client and a pool, over WebSocket",
                a.pool_creates
            );
            match pool::measure(url, a.pool_creates).await {
                Ok(c) => {
                    eprintln!(
                        "janus-bench:   create_session: plain {:?}, pool {:?}, pool with a new sticky key {:?}",
                        c.plain, c.pooled, c.sticky
                    );
                    pool_cost = Some(c);
                }
                Err(e) => eprintln!("janus-bench:   pool: {e}"),
            }
        }
    }

    let mut summary: Vec<(String, Value)> = Vec::new();
    for t in [
        Transport::Ws,
        Transport::Http,
        Transport::Unix,
        Transport::Mqtt,
        Transport::Amqp,
    ] {
        for &w in &a.workers {
            for k in [ClientKind::Library, ClientKind::Minimal] {
                let v = cpu
                    .get(&(t, w, k))
                    .map_or(Value::Null, |c| Value::from(round_to(median(c), 0)));
                summary.push((format!("{}_w{w}_cpu_us_{}", t.name(), k.name()), v));
            }
            let ratio = match (
                ops.get(&(t, w, ClientKind::Library)),
                ops.get(&(t, w, ClientKind::Minimal)),
            ) {
                (Some(lib), Some(min)) if median(min) > 0.0 => {
                    Value::from(round_to(median(lib) / median(min), 3))
                }
                _ => Value::Null,
            };
            summary.push((format!("{}_w{w}_ratio", t.name()), ratio));
        }
    }
    for (key, errors) in stress_errors {
        summary.push((key, errors.map_or(Value::Null, Value::from)));
    }
    match &idle {
        Some(m) => {
            summary.push(("idle_sessions".into(), Value::from(m.sessions)));
            summary.push((
                "idle_session_bytes".into(),
                Value::from(round_to(m.bytes_per_session, 0)),
            ));
            summary.push((
                "idle_leftover_bytes".into(),
                Value::from(round_to(m.leftover_per_session, 1)),
            ));
        }
        None => summary.push(("idle_session_bytes".into(), Value::Null)),
    }
    let us = |d: Duration| Value::from(round_to(d.as_secs_f64() * 1e6, 1));
    match &pool_cost {
        Some(c) => {
            summary.push(("pool_creates".into(), Value::from(c.creates)));
            summary.push(("create_us_plain".into(), us(c.plain)));
            summary.push(("create_us_pool".into(), us(c.pooled)));
            summary.push(("create_us_pool_sticky".into(), us(c.sticky)));
        }
        None => summary.push(("create_us_pool".into(), Value::Null)),
    }
    eprintln!(
        "janus-bench: ratios = library's median ops/s over the {} round(s) / the minimal \
         client's (with 2 rounds the median is the mean)",
        a.rounds
    );
    println!("{{\"summary\": {}}}", json_object(&summary));
    Ok(())
}

struct Ctx<'a> {
    a: &'a Args,
    #[cfg(feature = "http")]
    http_poll: minimal_http::PollMode,
    /// The transport and client of the previous run.
    previous: Cell<Option<(Transport, ClientKind)>>,
}

impl Ctx<'_> {
    /// Waits for Janus to settle after the previous run, connects the client, runs the warmup
    /// and the measured run, closes the client. A failure to connect is one error, never a
    /// panic.
    async fn run(&self, t: Transport, k: ClientKind, workers: usize) -> RunResult {
        let a = self.a;
        match self.previous.replace(Some((t, k))) {
            None => {}
            Some((Transport::Http, ClientKind::Library)) if t == Transport::Http => {
                eprintln!(
                    "janus-bench:   waiting {:?} for the long polls of the previous run's \
                     sessions to end (--http-settle)",
                    a.http_settle
                );
                tokio::time::sleep(a.http_settle).await;
            }
            Some(_) => tokio::time::sleep(a.settle).await,
        }
        let ws_url = a.ws_url.as_deref().unwrap_or_default();
        match (t, k) {
            (Transport::Ws, ClientKind::Library) => match library::Library::connect(ws_url).await {
                Ok(c) => {
                    let r = self.measure(&c, workers).await;
                    c.close().await;
                    r
                }
                Err(e) => failed(e),
            },
            (Transport::Ws, ClientKind::Minimal) => {
                match minimal_ws::MinimalWs::connect(ws_url, a.writer).await {
                    Ok((c, tasks)) => {
                        let r = self.measure(&c, workers).await;
                        c.close(tasks).await;
                        r
                    }
                    Err(e) => failed(e),
                }
            }
            #[cfg(feature = "http")]
            (Transport::Http, ClientKind::Library) => {
                match library::Library::connect(a.http_url.as_deref().unwrap_or_default()).await {
                    Ok(c) => {
                        let r = self.measure(&c, workers).await;
                        c.close().await;
                        r
                    }
                    Err(e) => failed(e),
                }
            }
            #[cfg(feature = "http")]
            (Transport::Http, ClientKind::Minimal) => {
                let url = a.http_url.as_deref().unwrap_or_default();
                match minimal_http::MinimalHttp::new(url, self.http_poll) {
                    Ok(c) => self.measure(&c, workers).await,
                    Err(e) => failed(e),
                }
            }
            #[cfg(not(feature = "http"))]
            (Transport::Http, _) => failed("built without the `http` feature".into()),
            #[cfg(feature = "unix")]
            (Transport::Unix, ClientKind::Library) => {
                match library::Library::connect(a.unix_url.as_deref().unwrap_or_default()).await {
                    Ok(c) => {
                        let r = self.measure(&c, workers).await;
                        c.close().await;
                        r
                    }
                    Err(e) => failed(e),
                }
            }
            #[cfg(feature = "unix")]
            (Transport::Unix, ClientKind::Minimal) => {
                match minimal_unix::MinimalUnix::connect(a.unix_url.as_deref().unwrap_or_default())
                    .await
                {
                    Ok((c, reader)) => {
                        let r = self.measure(&c, workers).await;
                        c.close(reader).await;
                        r
                    }
                    Err(e) => failed(e),
                }
            }
            #[cfg(not(feature = "unix"))]
            (Transport::Unix, _) => failed("built without the `unix` feature".into()),
            #[cfg(feature = "mqtt")]
            (Transport::Mqtt, ClientKind::Library) => {
                match library::Library::connect(a.mqtt_url.as_deref().unwrap_or_default()).await {
                    Ok(c) => {
                        let r = self.measure(&c, workers).await;
                        c.close().await;
                        r
                    }
                    Err(e) => failed(e),
                }
            }
            #[cfg(feature = "mqtt")]
            (Transport::Mqtt, ClientKind::Minimal) => {
                let url = a.mqtt_url.as_deref().unwrap_or_default();
                match minimal_mqtt::MinimalMqtt::connect(url).await {
                    Ok((c, tasks)) => {
                        let r = self.measure(&c, workers).await;
                        c.close(tasks).await;
                        r
                    }
                    Err(e) => failed(e),
                }
            }
            #[cfg(not(feature = "mqtt"))]
            (Transport::Mqtt, _) => failed("built without the `mqtt` feature".into()),
            #[cfg(feature = "amqp")]
            (Transport::Amqp, ClientKind::Library) => {
                match library::Library::connect(a.amqp_url.as_deref().unwrap_or_default()).await {
                    Ok(c) => {
                        let r = self.measure(&c, workers).await;
                        c.close().await;
                        r
                    }
                    Err(e) => failed(e),
                }
            }
            #[cfg(feature = "amqp")]
            (Transport::Amqp, ClientKind::Minimal) => {
                match minimal_amqp::MinimalAmqp::connect(a.amqp_url.as_deref().unwrap_or_default())
                    .await
                {
                    Ok((c, reader)) => {
                        let r = self.measure(&c, workers).await;
                        c.close(reader).await;
                        r
                    }
                    Err(e) => failed(e),
                }
            }
            #[cfg(not(feature = "amqp"))]
            (Transport::Amqp, _) => failed("built without the `amqp` feature".into()),
        }
    }

    async fn measure<L: Lifecycle>(&self, client: &L, workers: usize) -> RunResult {
        let mut cfg = RunConfig {
            workers,
            duration: self.a.warmup,
            lifecycle_timeout: self.a.timeout,
            keep_errors: 5,
        };
        if !self.a.warmup.is_zero() {
            let w = runner::run(client, &cfg).await;
            if w.errors > 0 {
                eprintln!("janus-bench:   warmup: {} errors", w.errors);
            }
        }
        cfg.duration = self.a.duration;
        let janus_pid = self.a.janus_pid.as_deref();
        let cpu0 = runner::process_cpu("self");
        let janus0 = janus_pid.and_then(runner::process_cpu);
        let mut r = runner::run(client, &cfg).await;
        let since = |a: Option<Duration>, b: Option<Duration>| Some(b?.saturating_sub(a?));
        r.client_cpu = since(cpu0, runner::process_cpu("self"));
        r.janus_cpu = since(janus0, janus_pid.and_then(runner::process_cpu));
        r
    }
}

fn failed(e: String) -> RunResult {
    RunResult {
        ops: 0,
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
        errors: 1,
        first_errors: vec![e],
        client_cpu: None,
        janus_cpu: None,
    }
}

/// The run's JSON line on stdout, a readable line and its first errors on stderr.
fn report(k: ClientKind, t: Transport, w: usize, r: &RunResult) {
    let ms = |v: Option<f64>| v.map_or(Value::Null, |v| Value::from(round_to(v, 3)));
    let fields = [
        ("client".to_string(), Value::from(k.name())),
        ("transport".to_string(), Value::from(t.name())),
        ("workers".to_string(), Value::from(w)),
        (
            "ops_per_s".to_string(),
            Value::from(round_to(r.ops_per_s(), 1)),
        ),
        ("p50_ms".to_string(), ms(r.percentile_ms(50.0))),
        ("p99_ms".to_string(), ms(r.percentile_ms(99.0))),
        ("errors".to_string(), Value::from(r.errors)),
    ];
    println!("{}", json_object(&fields));
    eprintln!(
        "janus-bench:   {} lifecycles in {:.2} s = {:.1}/s, p50 {} ms, p99 {} ms, {} errors",
        r.ops,
        r.elapsed.as_secs_f64(),
        r.ops_per_s(),
        fields[4].1,
        fields[5].1,
        r.errors
    );
    let per_op = |cpu: Option<Duration>| match cpu {
        Some(c) if r.ops > 0 => format!("{:.0} µs", c.as_secs_f64() * 1e6 / r.ops as f64),
        _ => "-".into(),
    };
    eprintln!(
        "janus-bench:   CPU per lifecycle: bench process {}, Janus {}",
        per_op(r.client_cpu),
        per_op(r.janus_cpu)
    );
    for e in &r.first_errors {
        eprintln!("janus-bench:   error: {e}");
    }
}

/// A JSON object with the keys in this order (serde_json's map would sort them).
fn json_object(fields: &[(String, Value)]) -> String {
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}:{v}", Value::from(k.as_str())))
        .collect();
    format!("{{{}}}", body.join(","))
}

fn round_to(v: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (v * f).round() / f
}

fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Option<Args>, String> {
        parse_args(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn args_parse() {
        let a = parse(&[
            "--workers",
            "1,4,16",
            "--duration=2.5",
            "--rounds",
            "3",
            "--no-stress",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(a.workers, vec![1, 4, 16]);
        assert_eq!(a.duration, Duration::from_millis(2500));
        assert_eq!(a.rounds, 3);
        assert!(!a.stress);
        let a = parse(&["--profile-only", "minimal", "--minimal-writer", "mutex"])
            .unwrap()
            .unwrap();
        assert_eq!(a.only, Some(ClientKind::Minimal));
        assert_eq!(a.first, None);
        let both = [ClientKind::Library, ClientKind::Minimal];
        let minimal_first = [ClientKind::Minimal, ClientKind::Library];
        assert_eq!(round_order(&both, None, 1), both);
        assert_eq!(round_order(&both, None, 2), minimal_first);
        assert_eq!(round_order(&both, None, 3), both);
        assert_eq!(
            round_order(&both, Some(ClientKind::Minimal), 1),
            minimal_first
        );
        assert_eq!(round_order(&both, Some(ClientKind::Library), 2), both);
        assert_eq!(
            round_order(&[ClientKind::Minimal], None, 2),
            [ClientKind::Minimal]
        );
        let first = parse(&["--first", "minimal"]).unwrap().unwrap();
        assert_eq!(first.first, Some(ClientKind::Minimal));
        assert!(parse(&["--first", "both"]).is_err());
        assert_eq!(a.writer, minimal_ws::WriterKind::Mutex);
        assert!(parse(&["--help"]).unwrap().is_none());
        assert!(parse(&["--workers", "0"]).is_err());
        assert!(parse(&["--bogus"]).is_err());
        assert!(parse(&["--duration"]).is_err());
    }

    #[test]
    fn stats() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[1.0, 2.0]), 1.5);
        let r = RunResult {
            ops: 100,
            elapsed: Duration::from_secs(2),
            latencies: (1..=100).map(Duration::from_millis).collect(),
            errors: 0,
            first_errors: Vec::new(),
            client_cpu: None,
            janus_cpu: None,
        };
        assert_eq!(r.ops_per_s(), 50.0);
        assert_eq!(r.percentile_ms(50.0), Some(50.0));
        assert_eq!(r.percentile_ms(99.0), Some(99.0));
    }

    #[test]
    fn json_lines_keep_their_order() {
        let s = json_object(&[
            ("client".into(), Value::from("library")),
            ("ops_per_s".into(), Value::from(12.5)),
            ("p50_ms".into(), Value::Null),
        ]);
        assert_eq!(s, r#"{"client":"library","ops_per_s":12.5,"p50_ms":null}"#);
    }
}
