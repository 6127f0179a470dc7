//! Load against a real Janus, over every transport: a burst of thousands of messages in
//! flight on one client, thousands of sessions, and thousands of values dropped at once.
//!
//! The tests of this file take turns (one lock), so each one has the machine to itself.
//! Figures are printed (`--nocapture`); the only bounds asserted are the issue's, far above
//! what a healthy run takes.

mod common;

use common::proxy::Proxy;
use common::{env_or_skip, eventually, targets, Target};
use futures::future::join_all;
use janus_client::{connect_admin, ClientOptions, Config, ErrorKind, SessionId};
use serde_json::json;
use std::collections::HashSet;
use std::future::IntoFuture;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

const ECHO: &str = "janus.plugin.echotest";

/// One test of this file at a time.
static TURN: Mutex<()> = Mutex::const_new(());

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Runs `f` over `items` with at most `width` at once, in order of completion.
async fn in_chunks<T, F, Fut, R>(items: Vec<T>, width: usize, f: F) -> Vec<R>
where
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = R>,
{
    use futures::stream::{self, StreamExt};
    stream::iter(items.into_iter().map(f))
        .buffer_unordered(width)
        .collect()
        .await
}

/// 200 sessions × 2 echotest handles, each handle sending 5 messages at once: 2,000
/// messages in flight on one client. Every one is answered, none waits pathologically long
/// (p99 under 10 s: the figures are printed, speed itself is the benchmark's business), and
/// over HTTP the client keeps its connections bounded.
async fn burst(t: Target) {
    let proxy = Proxy::start(&t.url).await;
    let client = proxy.target(&t).connect().await;
    let sessions: Vec<_> = join_all((0..200).map(|_| client.create_session()))
        .await
        .into_iter()
        .map(|s| s.expect("create"))
        .collect();
    let handles: Vec<_> = join_all(
        sessions
            .iter()
            .flat_map(|s| [s.attach(ECHO).into_future(), s.attach(ECHO).into_future()]),
    )
    .await
    .into_iter()
    .map(|h| h.expect("attach"))
    .collect();
    assert_eq!(handles.len(), 400);

    let started = Instant::now();
    let results = join_all(handles.iter().flat_map(|h| {
        (0..5).map(move |_| async move {
            let t0 = Instant::now();
            let r = h.message(json!({"audio": true})).await;
            (t0.elapsed(), r)
        })
    }))
    .await;
    let wall = started.elapsed();
    let mut latencies: Vec<Duration> = results.iter().map(|(d, _)| *d).collect();
    latencies.sort();
    let errors: Vec<String> = results
        .iter()
        .filter_map(|(_, r)| r.as_ref().err().map(|e| e.to_string()))
        .collect();
    let (p50, p99, max) = (
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0),
    );
    println!(
        "burst over {}: {} messages in {wall:?}, errors {}, p50 {p50:?}, p99 {p99:?}, max {max:?}, peak connections {}",
        t.transport,
        results.len(),
        errors.len(),
        proxy.peak_connections()
    );
    assert!(
        errors.is_empty(),
        "{} errors, first: {:?}",
        errors.len(),
        &errors[..errors.len().min(5)]
    );
    assert!(p99 < Duration::from_secs(10), "p99 {p99:?}");

    // Nothing lingers after the burst: every handle answers at once.
    let after = join_all(
        handles
            .iter()
            .map(|h| h.message(json!({"audio": true})).into_future()),
    )
    .await;
    assert!(
        after.iter().all(|r| r.is_ok()),
        "handles failing after the burst"
    );

    if t.transport == "http" {
        // In use: POSTs share `max_connections`, each session with handles holds one poll,
        // the monitor's check one more. Idle in the pool: at most `max_connections`.
        let bound = 2 * janus_client::HttpOptions::default().max_connections as u64 + 200 + 1;
        assert!(
            proxy.peak_connections() <= bound,
            "{} connections at once, bound {bound}",
            proxy.peak_connections()
        );
    }
    drop(handles);
    drop(sessions);
    assert!(
        eventually(Duration::from_secs(10), || async {
            {
                let s = client.stats();
                s.sessions == 0 && s.pending_transactions == 0
            }
        })
        .await,
        "{:?}",
        client.stats()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_2000_messages_on_one_client_over_every_transport() {
    let _turn = TURN.lock().await;
    for t in targets("JANUS") {
        burst(t).await;
    }
}

/// 5,000 sessions with one handle each. Over WebSocket all of them; over HTTP every session,
/// and handles up to `http.max_long_polls`, beyond which an attach fails at once with an
/// error that names the limit.
async fn five_thousand_sessions(t: Target) {
    let client = t.connect().await;
    let started = Instant::now();
    let sessions: Vec<_> = in_chunks((0..5000).collect(), 1000, |_| client.create_session())
        .await
        .into_iter()
        .map(|s| s.expect("create"))
        .collect();
    let created = started.elapsed();
    let started = Instant::now();
    let attached = join_all(sessions.iter().map(|s| s.attach(ECHO).into_future())).await;
    let took = started.elapsed();
    let mut handles = Vec::new();
    let mut limited = 0;
    for r in attached {
        match r {
            Ok(h) => handles.push(h),
            Err(e) => match e.kind() {
                ErrorKind::Limit { option, .. } => {
                    assert_eq!(option, "http.max_long_polls");
                    assert!(e.to_string().contains("1,020"), "{e}");
                    limited += 1;
                }
                _ => panic!("attach failed: {e}"),
            },
        }
    }
    println!(
        "5000 sessions over {}: created in {created:?}, {} handles attached and {limited} refused by the limit in {took:?}",
        t.transport,
        handles.len()
    );
    if t.transport == "http" {
        let limit = janus_client::HttpOptions::default().max_long_polls;
        assert_eq!(handles.len(), limit);
        assert_eq!(limited, 5000 - limit);
    } else {
        assert_eq!(handles.len(), 5000);
    }
    // The handles work (a sample of them, all at once).
    let sample = join_all(
        handles
            .iter()
            .step_by(10)
            .map(|h| h.message(json!({"audio": true})).into_future()),
    )
    .await;
    assert!(sample.iter().all(|r| r.is_ok()));
    drop(handles);
    drop(sessions);
    assert!(
        eventually(Duration::from_secs(10), || async {
            {
                let s = client.stats();
                s.sessions == 0
            }
        })
        .await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_thousand_sessions_with_a_handle_each_or_a_clear_limit() {
    let _turn = TURN.lock().await;
    for t in targets("JANUS") {
        five_thousand_sessions(t).await;
    }
}

/// The ids of the sessions Janus has now, through the Admin API.
async fn sessions_on_janus(admin: &janus_client::admin::AdminClient) -> HashSet<SessionId> {
    admin
        .list_sessions()
        .await
        .expect("list_sessions")
        .into_iter()
        .collect()
}

/// `n` sessions (each with a handle when `with_handles`) dropped at once: soon the client
/// holds none and Janus has none of them (times printed; bounds generous).
async fn drop_at_once(t: Target, n: usize, command_buffer: usize, with_handles: bool) {
    // Janus' view, through the Admin API over WebSocket whatever the client's transport:
    // the list of thousands of sessions is one reply of tens of KiB, more than a Unix
    // socket packet is sure to carry.
    let Some(admin_url) = env_or_skip("JANUS_ADMIN_WS_URL") else {
        return;
    };
    let secret = std::env::var("JANUS_ADMIN_SECRET").unwrap_or_else(|_| "janusoverlord".into());
    // Listing thousands of sessions while Janus tears thousands down can take a while on a
    // loaded machine: a generous timeout for the observer.
    let observer = Config::new(admin_url).with_options(ClientOptions {
        request_timeout: Duration::from_secs(60),
        ..ClientOptions::default()
    });
    let admin = connect_admin(observer, secret.into()).await.expect("admin");
    let client = t
        .connect_with(ClientOptions {
            command_buffer,
            ..ClientOptions::default()
        })
        .await;
    let sessions: Vec<_> = in_chunks((0..n).collect(), 500, |_| client.create_session())
        .await
        .into_iter()
        .map(|s| s.expect("create"))
        .collect();
    let handles: Vec<_> = if with_handles {
        join_all(sessions.iter().map(|s| s.attach(ECHO).into_future()))
            .await
            .into_iter()
            .map(|h| h.expect("attach"))
            .collect()
    } else {
        Vec::new()
    };
    let ids: HashSet<SessionId> = sessions.iter().map(|s| s.id()).collect();
    assert!(ids.is_subset(&sessions_on_janus(&admin).await));

    let dropped = Instant::now();
    drop(handles);
    drop(sessions);
    // Generous bounds: the times are printed (the README quotes them); what is asserted is
    // that everything goes, also on a loaded machine.
    let client_empty = eventually(Duration::from_secs(20), || async {
        {
            let s = client.stats();
            s.sessions == 0 && s.handles == 0
        }
    })
    .await;
    let in_client = dropped.elapsed();
    assert!(client_empty, "client still holds {:?}", client.stats());
    let janus_empty = eventually(Duration::from_secs(20), || async {
        ids.is_disjoint(&sessions_on_janus(&admin).await)
    })
    .await;
    let left = ids.intersection(&sessions_on_janus(&admin).await).count();
    println!(
        "{n} sessions{} dropped at once over {} (command_buffer {command_buffer}): client empty after {in_client:?}, Janus after {:?}",
        if with_handles { " with a handle each" } else { "" },
        t.transport,
        dropped.elapsed()
    );
    assert!(
        janus_empty,
        "{left} of {n} sessions still alive on Janus 20 s after the drop"
    );
    // No keepalive or request is left for them either.
    assert!(
        eventually(Duration::from_secs(5), || async {
            {
                let s = client.stats();
                s.pending_transactions == 0
            }
        })
        .await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_sessions_dropped_at_once_leave_nothing_over_every_transport() {
    let _turn = TURN.lock().await;
    for t in targets("JANUS") {
        drop_at_once(
            t.clone(),
            3000,
            ClientOptions::default().command_buffer,
            false,
        )
        .await;
        // A tiny command queue must not lose a drop either.
        drop_at_once(t.clone(), 300, 4, false).await;
        drop_at_once(t, 300, 4, true).await;
    }
}
