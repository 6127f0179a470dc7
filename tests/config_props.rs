//! No configuration makes the library panic: a property test generating whole `Config`s
//! (any duration from zero to `u64::MAX` seconds, any size up to `usize::MAX`, floats that
//! are NaN, infinite or negative, every `Option` both ways) and connecting with each one to
//! the real Janus of the suite, over every transport compiled in. A bad value must be a
//! configuration error naming the option; a value that is valid but odd (a 1 ns timeout, a
//! 1-byte message bound) may fail the connect, but never with a panic, in the caller or in
//! a task the library spawned (tokio would swallow those: a panic hook counts them).
// Built without any transport, the transport sections and their helpers go unused.
#![cfg_attr(
    not(any(feature = "ws", feature = "http")),
    allow(dead_code, unused_mut, unused_variables)
)]

mod common;

use janus_client::{connect, ClientOptions, Config, ErrorKind, ReconnectPolicy, Secret};
use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestCaseError, TestRunner};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;
use std::time::Duration;

/// Cases per transport: enough to meet every kind of bad value several times, few enough
/// to stay within seconds.
const CASES: u32 = 48;

/// Panics seen anywhere in this test binary since the hook went in.
static PANICS: AtomicUsize = AtomicUsize::new(0);
static HOOK: Once = Once::new();

/// Installs (once) a panic hook that counts every panic, on any thread, then reports it as
/// the default hook would.
fn count_panics() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            previous(info);
        }));
    });
}

/// How wild the fields of one generated `Config` are.
#[derive(Clone, Copy, Debug)]
enum Mode {
    /// Every field in a range where connecting usually works.
    Fair,
    /// Every field at an edge of its valid range (1 ns, exactly 1 year, size 1, the
    /// largest size accepted, multiplier 1 or 100, ...): all valid, so all of it reaches
    /// the transports and the connection task.
    Edge,
    /// Fair fields with, now and then (1 in 25), a wild one: usually a single bad value in
    /// an otherwise working configuration.
    Sprinkle,
    /// Every field anything at all.
    Wild,
}

fn mode() -> impl Strategy<Value = Mode> {
    prop_oneof![
        2 => Just(Mode::Fair),
        3 => Just(Mode::Edge),
        4 => Just(Mode::Sprinkle),
        1 => Just(Mode::Wild),
    ]
}

/// One field: `fair`, `edge` or `wild` values as `mode` says.
fn field<T: std::fmt::Debug + 'static>(
    mode: Mode,
    fair: BoxedStrategy<T>,
    edge: BoxedStrategy<T>,
    wild: BoxedStrategy<T>,
) -> BoxedStrategy<T> {
    match mode {
        Mode::Fair => fair,
        Mode::Edge => edge,
        Mode::Sprinkle => prop_oneof![24 => fair, 1 => wild].boxed(),
        Mode::Wild => wild,
    }
}

/// Any duration, boundaries first: zero, tiny, usual, past the 1-year bound, up to
/// `u64::MAX` seconds and the largest `Duration` there is.
fn any_duration() -> BoxedStrategy<Duration> {
    prop_oneof![
        4 => Just(Duration::ZERO),
        1 => (1u64..1_000_000).prop_map(Duration::from_nanos),
        2 => (1u64..20_000).prop_map(Duration::from_millis),
        1 => Just(ClientOptions::MAX_DURATION + Duration::from_nanos(1)),
        1 => (31_557_600u64..u64::MAX).prop_map(Duration::from_secs),
        1 => Just(Duration::from_secs(u64::MAX)),
        1 => Just(Duration::MAX),
    ]
    .boxed()
}

/// A duration that usually lets things work (1 ms to 10 s), sometimes tiny (valid, but
/// times out at once).
fn fair_duration() -> BoxedStrategy<Duration> {
    prop_oneof![
        1 => (1u64..1_000_000).prop_map(Duration::from_nanos),
        8 => (1u64..10_000).prop_map(Duration::from_millis),
    ]
    .boxed()
}

/// The edges of the valid range: 1 ns, 1 ms, exactly 1 year.
fn edge_duration() -> BoxedStrategy<Duration> {
    prop_oneof![
        Just(Duration::from_nanos(1)),
        Just(Duration::from_millis(1)),
        Just(ClientOptions::MAX_DURATION),
    ]
    .boxed()
}

fn duration(mode: Mode) -> BoxedStrategy<Duration> {
    field(mode, fair_duration(), edge_duration(), any_duration())
}

/// Any size: 0, 1, small, huge, `usize::MAX`.
fn any_size() -> BoxedStrategy<usize> {
    prop_oneof![
        3 => Just(0usize),
        1 => Just(1usize),
        1 => 2usize..100_000,
        1 => (1usize << 30)..usize::MAX,
        2 => Just(usize::MAX),
    ]
    .boxed()
}

/// A size: fair in `fair`, at the edges of `1..=max` in edge mode, anything when wild.
fn size(mode: Mode, fair: std::ops::Range<usize>, max: usize) -> BoxedStrategy<usize> {
    field(
        mode,
        fair.boxed(),
        prop_oneof![Just(1usize), Just(max)].boxed(),
        any_size(),
    )
}

/// Any float: NaN, both infinities, negatives, zero, and everything else.
fn any_float() -> BoxedStrategy<f64> {
    prop_oneof![
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(-0.0),
        -10.0f64..0.0,
        0.0f64..200.0,
        any::<f64>(),
    ]
    .boxed()
}

fn float(mode: Mode, min: f64, max: f64) -> BoxedStrategy<f64> {
    field(
        mode,
        (min..=max).boxed(),
        prop_oneof![Just(min), Just(max)].boxed(),
        any_float(),
    )
}

fn any_secret() -> BoxedStrategy<Option<Secret>> {
    proptest::option::of(
        prop_oneof![
            Just(String::new()),
            "[a-z0-9]{1,12}",
            Just("a&b=c d\n\u{e9}\"}".to_string()),
        ]
        .prop_map(Secret::new),
    )
    .boxed()
}

/// Both ways of a CA file: none, one that does not exist, and a real bundle.
fn any_ca_file() -> BoxedStrategy<Option<PathBuf>> {
    prop_oneof![
        Just(None),
        Just(Some(PathBuf::from("/nonexistent/ca.pem"))),
        Just(Some(PathBuf::from("/etc/ssl/certs/ca-certificates.crt"))),
    ]
    .boxed()
}

/// Unless wild, a first delay no longer than the largest.
fn ordered(mode: Mode, first: Duration, largest: Duration) -> (Duration, Duration) {
    match mode {
        Mode::Wild => (first, largest),
        _ => (first.min(largest), first.max(largest)),
    }
}

fn reconnect(mode: Mode) -> BoxedStrategy<ReconnectPolicy> {
    (
        any::<bool>(),
        duration(mode),
        duration(mode),
        float(mode, 1.0, ReconnectPolicy::MAX_MULTIPLIER),
        float(mode, 0.0, 1.0),
        field(
            mode,
            proptest::option::of(1u32..10).boxed(),
            prop_oneof![Just(None), Just(Some(1)), Just(Some(u32::MAX))].boxed(),
            proptest::option::of(any::<u32>()).boxed(),
        ),
        any::<bool>(),
    )
        .prop_map(
            move |(
                enabled,
                initial_delay,
                max_delay,
                multiplier,
                jitter,
                max_attempts,
                recreate,
            )| {
                let (initial_delay, max_delay) = ordered(mode, initial_delay, max_delay);
                ReconnectPolicy {
                    enabled,
                    initial_delay,
                    max_delay,
                    multiplier,
                    jitter,
                    max_attempts,
                    recreate_lost_sessions: recreate,
                }
            },
        )
        .boxed()
}

fn client_options(mode: Mode) -> BoxedStrategy<ClientOptions> {
    (
        duration(mode),
        duration(mode),
        size(mode, 1..2048, ClientOptions::MAX_BUFFER),
        size(mode, 1..2048, ClientOptions::MAX_BUFFER),
        any_secret(),
        any_secret(),
        reconnect(mode),
        any::<bool>(),
    )
        .prop_map(
            |(
                request_timeout,
                keepalive_interval,
                event_buffer,
                command_buffer,
                api_secret,
                token,
                reconnect,
                probe_server,
            )| ClientOptions {
                request_timeout,
                keepalive_interval,
                event_buffer,
                command_buffer,
                api_secret,
                token,
                reconnect,
                probe_server,
            },
        )
        .boxed()
}

#[cfg(feature = "ws")]
fn ws_options(mode: Mode) -> BoxedStrategy<janus_client::WsOptions> {
    use janus_client::WsOptions;
    let subprotocol = field(
        mode,
        prop_oneof![
            8 => Just("janus-protocol".to_string()),
            1 => Just("janus-admin-protocol".to_string()),
        ]
        .boxed(),
        Just("janus-protocol".to_string()).boxed(),
        prop_oneof![
            Just(String::new()),
            Just("bad\nname".to_string()),
            Just("janus-protocol".to_string()),
        ]
        .boxed(),
    );
    (
        subprotocol,
        field(
            mode,
            proptest::option::of(fair_duration()).boxed(),
            proptest::option::of(edge_duration()).boxed(),
            proptest::option::of(any_duration()).boxed(),
        ),
        duration(mode),
        size(mode, 1 << 16..1 << 24, WsOptions::MAX_MESSAGE_BYTES),
        any_ca_file(),
        any::<bool>(),
    )
        .prop_map(
            |(
                subprotocol,
                ping_interval,
                ping_timeout,
                max_message_bytes,
                tls_ca_file,
                nodelay,
            )| {
                WsOptions {
                    subprotocol,
                    ping_interval,
                    ping_timeout,
                    max_message_bytes,
                    tls_ca_file,
                    nodelay,
                }
            },
        )
        .boxed()
}

#[cfg(feature = "http")]
fn http_options(mode: Mode) -> BoxedStrategy<janus_client::HttpOptions> {
    use janus_client::HttpOptions;
    let d = || duration(mode);
    (
        (
            field(
                mode,
                (1u32..20).boxed(),
                prop_oneof![Just(1u32), Just(HttpOptions::MAX_MAXEV)].boxed(),
                prop_oneof![Just(0u32), Just(u32::MAX), any::<u32>()].boxed(),
            ),
            d(),
            d(),
            d(),
            d(),
            d(),
            d(),
            field(
                mode,
                (0u64..=1000).prop_map(Duration::from_millis).boxed(),
                prop_oneof![
                    Just(Duration::ZERO),
                    Just(Duration::from_nanos(1)),
                    Just(Duration::from_secs(1)),
                ]
                .boxed(),
                any_duration(),
            ),
        ),
        (
            size(mode, 1..64, HttpOptions::MAX_CONNECTIONS),
            size(mode, 1..64, HttpOptions::MAX_CONNECTIONS),
            d(),
            d(),
            size(mode, 1 << 16..1 << 24, HttpOptions::MAX_BODY_BYTES),
            field(mode, Just(None).boxed(), Just(None).boxed(), any_ca_file()),
        ),
    )
        .prop_map(
            move |(
                (
                    maxev,
                    long_poll_timeout,
                    request_timeout,
                    connect_timeout,
                    poll_retry_delay,
                    poll_retry_max_delay,
                    unreachable_timeout,
                    poll_coalesce,
                ),
                (
                    max_connections,
                    max_long_polls,
                    probe_timeout,
                    heartbeat_interval,
                    max_body_bytes,
                    tls_ca_file,
                ),
            )| {
                let (poll_retry_delay, poll_retry_max_delay) =
                    ordered(mode, poll_retry_delay, poll_retry_max_delay);
                HttpOptions {
                    maxev,
                    long_poll_timeout,
                    request_timeout,
                    connect_timeout,
                    poll_retry_delay,
                    poll_retry_max_delay,
                    unreachable_timeout,
                    poll_coalesce,
                    max_connections,
                    max_long_polls,
                    probe_timeout,
                    heartbeat_interval,
                    max_body_bytes,
                    tls_ca_file,
                }
            },
        )
        .boxed()
}

/// A whole `Config` for `url`, its fields as wild as a [`Mode`] drawn first.
fn config(url: String) -> BoxedStrategy<Config> {
    mode()
        .prop_flat_map(move |mode| {
            let url = url.clone();
            let options = client_options(mode);
            #[cfg(feature = "ws")]
            let ws = ws_options(mode);
            #[cfg(not(feature = "ws"))]
            let ws = Just(());
            #[cfg(feature = "http")]
            let http = http_options(mode);
            #[cfg(not(feature = "http"))]
            let http = Just(());
            (options, ws, http).prop_map(move |(options, _ws, _http)| {
                let mut c = Config::new(url.clone()).with_options(options);
                #[cfg(feature = "ws")]
                {
                    c.ws = _ws;
                }
                #[cfg(feature = "http")]
                {
                    c.http = _http;
                }
                c
            })
        })
        .boxed()
}

/// How the cases of one transport ended: refused as invalid, failed otherwise, still
/// connecting after 3 s, connected.
#[derive(Default)]
struct Outcomes {
    invalid: AtomicUsize,
    failed: AtomicUsize,
    slow: AtomicUsize,
    connected: AtomicUsize,
}

/// Connects with `config`; when that works, pings once and closes, each step bounded in
/// time (a valid but odd configuration may make a step wait for a long timeout).
async fn exercise(config: Config, outcomes: &Outcomes) -> Result<(), TestCaseError> {
    let valid = config.validate();
    let shown = format!("{config:?}");
    match tokio::time::timeout(Duration::from_secs(3), connect(config)).await {
        Err(_) => {
            // Still trying, within a valid configuration's own timeout.
            prop_assert!(
                valid.is_ok(),
                "invalid config did not fail at once: {shown}"
            );
            outcomes.slow.fetch_add(1, Ordering::Relaxed);
        }
        Ok(Err(e)) => {
            if valid.is_err() {
                outcomes.invalid.fetch_add(1, Ordering::Relaxed);
            } else {
                outcomes.failed.fetch_add(1, Ordering::Relaxed);
            }
            if let Err(v) = valid {
                prop_assert_eq!(&e, &v, "connect and validate disagree");
                prop_assert!(
                    matches!(e.kind(), ErrorKind::Config(_)),
                    "not a config error: {e:?}"
                );
                let text = e.to_string();
                prop_assert!(
                    ["options.", "ws.", "http.", "mqtt.", "tls_ca_file"]
                        .iter()
                        .any(|p| text.contains(p)),
                    "the error names no option: {text}"
                );
            }
        }
        Ok(Ok(client)) => {
            prop_assert!(valid.is_ok(), "connected with an invalid config: {shown}");
            outcomes.connected.fetch_add(1, Ordering::Relaxed);
            let _ = tokio::time::timeout(Duration::from_secs(1), client.ping()).await;
            let _ = tokio::time::timeout(Duration::from_secs(2), client.close()).await;
        }
    }
    Ok(())
}

/// Serializes the two real-Janus tests of this binary, so a panic is blamed on the case
/// that caused it.
static REAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

impl Outcomes {
    fn report(&self, what: &str, target: &common::Target, started: std::time::Instant) {
        let n = |a: &AtomicUsize| a.load(Ordering::Relaxed);
        eprintln!(
            "config_props: {what} over {} ({}): {} configs in {:.1?}, no panic: {} refused as \
             invalid, {} failed otherwise, {} still connecting after 3 s, {} connected",
            target.transport,
            target.url,
            n(&self.invalid) + n(&self.failed) + n(&self.slow) + n(&self.connected),
            started.elapsed(),
            n(&self.invalid),
            n(&self.failed),
            n(&self.slow),
            n(&self.connected),
        );
    }
}

/// Runs one config (see [`exercise`]) and fails when anything panicked meanwhile.
fn run_case(
    rt: &tokio::runtime::Runtime,
    config: Config,
    outcomes: &Outcomes,
) -> Result<(), TestCaseError> {
    let before = PANICS.load(Ordering::SeqCst);
    rt.block_on(async {
        exercise(config, outcomes).await?;
        // Let tasks the library spawned run a little: a panic there counts too.
        tokio::time::sleep(Duration::from_millis(20)).await;
        Ok::<(), TestCaseError>(())
    })?;
    let after = PANICS.load(Ordering::SeqCst);
    prop_assert_eq!(after, before, "a panic happened during this case");
    Ok(())
}

#[test]
fn connect_never_panics_on_any_config() {
    count_panics();
    let _serial = REAL.lock().unwrap_or_else(|e| e.into_inner());
    let rt = runtime();
    for target in common::targets("JANUS") {
        let mut runner = TestRunner::new(RunnerConfig {
            cases: CASES,
            failure_persistence: None,
            ..RunnerConfig::default()
        });
        let started = std::time::Instant::now();
        let outcomes = Outcomes::default();
        let result = runner.run(&config(target.url.clone()), |config| {
            run_case(&rt, config, &outcomes)
        });
        if let Err(e) = result {
            panic!("{} ({}): {e}", target.url, target.transport);
        }
        outcomes.report("generated", &target, started);
    }
    // Tasks of clients that were dropped wind down; a late panic still counts.
    rt.block_on(async { tokio::time::sleep(Duration::from_millis(300)).await });
    drop(rt);
    assert_eq!(PANICS.load(Ordering::SeqCst), 0, "panics seen");
}

/// One change to a default `Config`, named as in a configuration file.
type Edit = (String, Box<dyn Fn(&mut Config)>);

const EDGE_DURATIONS: [Duration; 6] = [
    Duration::ZERO,
    Duration::from_nanos(1),
    ClientOptions::MAX_DURATION,
    ClientOptions::MAX_DURATION.saturating_add(Duration::from_nanos(1)),
    Duration::from_secs(u64::MAX),
    Duration::MAX,
];

const EDGE_SIZES: [usize; 9] = [
    0,
    1,
    1 << 20,
    (1 << 20) + 1,
    65_535,
    65_536,
    1 << 30,
    (1 << 30) + 1,
    usize::MAX,
];

const EDGE_FLOATS: [f64; 12] = [
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    -1.0,
    -0.0,
    0.0,
    0.5,
    1.0,
    100.0,
    100.5,
    f64::MAX,
    f64::MIN_POSITIVE,
];

fn durations(out: &mut Vec<Edit>, name: &str, set: fn(&mut Config, Duration)) {
    for d in EDGE_DURATIONS {
        out.push((format!("{name} = {d:?}"), Box::new(move |c| set(c, d))));
    }
}

fn sizes(out: &mut Vec<Edit>, name: &str, set: fn(&mut Config, usize)) {
    for n in EDGE_SIZES {
        out.push((format!("{name} = {n}"), Box::new(move |c| set(c, n))));
    }
}

fn floats(out: &mut Vec<Edit>, name: &str, set: fn(&mut Config, f64)) {
    for x in EDGE_FLOATS {
        out.push((format!("{name} = {x}"), Box::new(move |c| set(c, x))));
    }
}

fn values<T: std::fmt::Debug + Clone + 'static>(
    out: &mut Vec<Edit>,
    name: &str,
    all: Vec<T>,
    set: fn(&mut Config, T),
) {
    for v in all {
        out.push((
            format!("{name} = {v:?}"),
            Box::new(move |c| set(c, v.clone())),
        ));
    }
}

/// Every option of every section at each of its edges (and past them), one at a time.
fn edits() -> Vec<Edit> {
    let mut out: Vec<Edit> = Vec::new();
    let secrets = || {
        vec![
            None,
            Some(Secret::new("")),
            Some(Secret::new("a&b=c d\n\"")),
        ]
    };
    let ca_files = || {
        vec![
            None,
            Some(PathBuf::from("/nonexistent/ca.pem")),
            Some(PathBuf::from("/etc/ssl/certs/ca-certificates.crt")),
        ]
    };
    durations(&mut out, "options.request_timeout", |c, d| {
        c.options.request_timeout = d
    });
    durations(&mut out, "options.keepalive_interval", |c, d| {
        c.options.keepalive_interval = d
    });
    sizes(&mut out, "options.event_buffer", |c, n| {
        c.options.event_buffer = n
    });
    sizes(&mut out, "options.command_buffer", |c, n| {
        c.options.command_buffer = n
    });
    values(&mut out, "options.api_secret", secrets(), |c, v| {
        c.options.api_secret = v
    });
    values(&mut out, "options.token", secrets(), |c, v| {
        c.options.token = v
    });
    values(
        &mut out,
        "options.probe_server",
        vec![false, true],
        |c, v| c.options.probe_server = v,
    );
    values(
        &mut out,
        "options.reconnect.enabled",
        vec![false, true],
        |c, v| c.options.reconnect.enabled = v,
    );
    durations(&mut out, "options.reconnect.initial_delay", |c, d| {
        c.options.reconnect.initial_delay = d
    });
    durations(&mut out, "options.reconnect.max_delay", |c, d| {
        c.options.reconnect.max_delay = d;
        // Keep the first delay under it where it can be, to test this option alone.
        if !d.is_zero() {
            c.options.reconnect.initial_delay = c.options.reconnect.initial_delay.min(d);
        }
    });
    floats(&mut out, "options.reconnect.multiplier", |c, x| {
        c.options.reconnect.multiplier = x
    });
    floats(&mut out, "options.reconnect.jitter", |c, x| {
        c.options.reconnect.jitter = x
    });
    values(
        &mut out,
        "options.reconnect.max_attempts",
        vec![None, Some(0), Some(1), Some(u32::MAX)],
        |c, v| c.options.reconnect.max_attempts = v,
    );
    values(
        &mut out,
        "options.reconnect.recreate_lost_sessions",
        vec![false, true],
        |c, v| c.options.reconnect.recreate_lost_sessions = v,
    );
    #[cfg(feature = "ws")]
    {
        values(
            &mut out,
            "ws.subprotocol",
            vec![
                String::new(),
                "bad\nname".to_string(),
                "janus-admin-protocol".to_string(),
                "x".repeat(10_000),
            ],
            |c, v| c.ws.subprotocol = v,
        );
        values(&mut out, "ws.ping_interval", vec![None], |c, v| {
            c.ws.ping_interval = v
        });
        durations(&mut out, "ws.ping_interval", |c, d| {
            c.ws.ping_interval = Some(d)
        });
        durations(&mut out, "ws.ping_timeout", |c, d| c.ws.ping_timeout = d);
        sizes(&mut out, "ws.max_message_bytes", |c, n| {
            c.ws.max_message_bytes = n
        });
        values(&mut out, "ws.tls_ca_file", ca_files(), |c, v| {
            c.ws.tls_ca_file = v
        });
        values(&mut out, "ws.nodelay", vec![false, true], |c, v| {
            c.ws.nodelay = v
        });
    }
    #[cfg(feature = "http")]
    {
        values(
            &mut out,
            "http.maxev",
            vec![0, 1, 1000, 1001, u32::MAX],
            |c, v| c.http.maxev = v,
        );
        durations(&mut out, "http.long_poll_timeout", |c, d| {
            c.http.long_poll_timeout = d
        });
        durations(&mut out, "http.request_timeout", |c, d| {
            c.http.request_timeout = d
        });
        durations(&mut out, "http.connect_timeout", |c, d| {
            c.http.connect_timeout = d
        });
        durations(&mut out, "http.poll_retry_delay", |c, d| {
            c.http.poll_retry_delay = d
        });
        durations(&mut out, "http.poll_retry_max_delay", |c, d| {
            c.http.poll_retry_max_delay = d;
            if !d.is_zero() {
                c.http.poll_retry_delay = c.http.poll_retry_delay.min(d);
            }
        });
        durations(&mut out, "http.unreachable_timeout", |c, d| {
            c.http.unreachable_timeout = d
        });
        durations(&mut out, "http.poll_coalesce", |c, d| {
            c.http.poll_coalesce = d
        });
        durations(&mut out, "http.probe_timeout", |c, d| {
            c.http.probe_timeout = d
        });
        durations(&mut out, "http.heartbeat_interval", |c, d| {
            c.http.heartbeat_interval = d
        });
        sizes(&mut out, "http.max_connections", |c, n| {
            c.http.max_connections = n
        });
        sizes(&mut out, "http.max_long_polls", |c, n| {
            c.http.max_long_polls = n
        });
        sizes(&mut out, "http.max_body_bytes", |c, n| {
            c.http.max_body_bytes = n
        });
        values(&mut out, "http.tls_ca_file", ca_files(), |c, v| {
            c.http.tls_ca_file = v
        });
    }
    #[cfg(feature = "mqtt")]
    {
        use janus_client::MqttVersion;
        durations(&mut out, "mqtt.keep_alive", |c, d| c.mqtt.keep_alive = d);
        durations(&mut out, "mqtt.connect_timeout", |c, d| {
            c.mqtt.connect_timeout = d
        });
        sizes(&mut out, "mqtt.max_message_bytes", |c, n| {
            c.mqtt.max_message_bytes = n
        });
        sizes(&mut out, "mqtt.queue_capacity", |c, n| {
            c.mqtt.queue_capacity = n
        });
        values(
            &mut out,
            "mqtt.max_inflight",
            vec![0, 1, 100, u16::MAX],
            |c, v| c.mqtt.max_inflight = v,
        );
        values(&mut out, "mqtt.qos", vec![0, 1, 2, 3, u8::MAX], |c, v| {
            c.mqtt.qos = v
        });
        values(
            &mut out,
            "mqtt.protocol",
            vec![MqttVersion::V311, MqttVersion::V5],
            |c, v| c.mqtt.protocol = v,
        );
        values(
            &mut out,
            "mqtt.client_id",
            vec![
                None,
                Some(String::new()),
                Some("x".repeat(64)),
                Some("x".repeat(65)),
                Some("a/b#".into()),
            ],
            |c, v| c.mqtt.client_id = v,
        );
        values(
            &mut out,
            "mqtt.request_topic",
            vec![String::new(), "a/+".into(), "\0".into(), "t".repeat(70_000)],
            |c, v| c.mqtt.request_topic = v,
        );
        values(
            &mut out,
            "mqtt.response_topic",
            vec![String::new(), "#".into(), "from-janus/x".into()],
            |c, v| c.mqtt.response_topic = v,
        );
        values(
            &mut out,
            "mqtt.username",
            vec![None, Some(String::new()), Some("u".repeat(70_000))],
            |c, v| c.mqtt.username = v,
        );
        values(&mut out, "mqtt.password", secrets(), |c, v| {
            c.mqtt.password = v
        });
        values(&mut out, "mqtt.tls_ca_file", ca_files(), |c, v| {
            c.mqtt.tls_ca_file = v
        });
    }
    out
}

/// Not random but exhaustive over the edges: every option, one at a time, at each edge of
/// its range and past it, on an otherwise default `Config`. A bad value is refused naming
/// its option; a valid one connects (or fails) without a panic. (The generated configs
/// above rarely hold exactly one bad value among working ones; this sweep always does.)
#[test]
fn every_option_at_its_edges_is_refused_or_runs_without_panic() {
    count_panics();
    let _serial = REAL.lock().unwrap_or_else(|e| e.into_inner());
    let rt = runtime();
    for target in common::targets("JANUS") {
        let started = std::time::Instant::now();
        let outcomes = Outcomes::default();
        for (name, edit) in edits() {
            let mut config = Config::new(target.url.clone());
            edit(&mut config);
            if let Err(e) = run_case(&rt, config.clone(), &outcomes) {
                panic!("{} ({}): {name}: {e}", target.url, target.transport);
            }
            // A refused value is refused naming its option.
            if let Err(e) = config.validate() {
                let option = name.split(" = ").next().unwrap_or_default();
                assert!(
                    e.to_string().contains(option),
                    "{name}: the error does not name {option}: {e}"
                );
            }
        }
        outcomes.report("edge values", &target, started);
    }
    rt.block_on(async { tokio::time::sleep(Duration::from_millis(300)).await });
    drop(rt);
    assert_eq!(PANICS.load(Ordering::SeqCst), 0, "panics seen");
}

/// The panic of the issue: `[ws] ping_interval = "0s"` made `connect` panic in tokio's
/// interval; it is a configuration error naming the option now, before any connection.
#[cfg(feature = "ws")]
#[tokio::test]
async fn zero_ping_interval_is_a_config_error_naming_the_option() {
    let config: Config = toml::from_str(
        r#"
        url = "ws://127.0.0.1:1"
        [ws]
        ping_interval = "0s"
        "#,
    )
    .unwrap();
    let e = connect(config).await.expect_err("connected");
    assert!(matches!(e.kind(), ErrorKind::Config(_)), "{e:?}");
    assert_eq!(
        e.to_string(),
        "configuration error: ws.ping_interval must not be zero (leave it out to disable pings)"
    );
}

/// Values that used to panic (or could not work) are refused by `connect` with the option's
/// name as written in a configuration file, before any connection is tried (port 1 is
/// closed: a connection attempt would fail differently).
#[tokio::test]
async fn bad_values_are_refused_by_connect_naming_the_option() {
    let url = if cfg!(feature = "ws") {
        "ws://127.0.0.1:1"
    } else {
        "http://127.0.0.1:1/janus"
    };
    let cases: Vec<(&str, &str)> = vec![
        (
            "[options]\nrequest_timeout = \"100000000years\"",
            "options.request_timeout must be at most 1 year, got ",
        ),
        (
            "[options]\nkeepalive_interval = \"0s\"",
            "options.keepalive_interval must not be zero",
        ),
        (
            "[options]\ncommand_buffer = 0",
            "options.command_buffer must be between 1 and 1048576, got 0",
        ),
        (
            "[options.reconnect]\njitter = nan",
            "options.reconnect.jitter must be between 0 and 1, got NaN",
        ),
        (
            "[options.reconnect]\nmultiplier = -inf",
            "options.reconnect.multiplier must be between 1 and 100, got -inf",
        ),
        (
            "[options.reconnect]\nmax_attempts = 0",
            "options.reconnect.max_attempts must be at least 1",
        ),
        (
            "[options.reconnect]\ninitial_delay = \"0s\"",
            "options.reconnect.initial_delay must not be zero",
        ),
    ];
    for (section, want) in cases {
        let text = format!("url = \"{url}\"\n{section}\n");
        let config: Config = toml::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let e = connect(config).await.expect_err("connected");
        assert!(matches!(e.kind(), ErrorKind::Config(_)), "{text}: {e:?}");
        assert!(e.to_string().contains(want), "{text}: {e}");
    }
    #[cfg(feature = "http")]
    {
        let text = "url = \"http://127.0.0.1:1/janus\"\n[http]\nmax_connections = 0\n";
        let e = connect(toml::from_str(text).unwrap())
            .await
            .expect_err("connected");
        assert!(
            e.to_string()
                .contains("http.max_connections must be between 1 and 65535, got 0"),
            "{e}"
        );
    }
}
