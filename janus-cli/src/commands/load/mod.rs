//! `janus-cli load`: session lifecycles with W workers over one or several URLs, then
//! throughput, latency percentiles and histogram, and errors by kind.

mod progress;
mod report;
mod tally;

use janus_cli::lifecycle::Lifecycle;
use janus_client::Client;
use serde_json::Value;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::args::{ConnectionArgs, LoadArgs};
use crate::connection::{api_configs, connect};
use crate::failure::{Exit, Failure};
use crate::interrupt::Interrupts;
use crate::output::print_json;
use progress::{Progress, Snapshot};
use report::{Report, Stop};
use tally::Tally;

/// The duration when neither `--duration` nor `--iterations` is given.
const DEFAULT_DURATION: Duration = Duration::from_secs(10);

/// What the workers share.
struct Shared {
    lifecycle: Lifecycle,
    /// Lifecycles started (claimed), against `--iterations`.
    started: AtomicU64,
    iterations: Option<u64>,
    deadline: Option<Instant>,
    max_errors: Option<u64>,
    /// Set once no lifecycle may start any more.
    stop: AtomicBool,
    /// Why, the first time it was set.
    stop_reason: Mutex<Option<Stop>>,
    ok: AtomicU64,
    failed: AtomicU64,
    tally: Mutex<Tally>,
}

impl Shared {
    fn stop(&self, why: Stop) {
        let mut reason = self
            .stop_reason
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        reason.get_or_insert(why);
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Claims the next lifecycle, or says the run is over.
    fn claim(&self) -> bool {
        if self.stop.load(Ordering::SeqCst) {
            return false;
        }
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            self.stop(Stop::Duration);
            return false;
        }
        if let Some(n) = self.iterations {
            if self.started.fetch_add(1, Ordering::SeqCst) >= n {
                self.stop(Stop::Iterations);
                return false;
            }
        }
        true
    }

    /// Counts an outcome (the lock is held for that only, never across an await).
    fn record(&self, f: impl FnOnce(&mut Tally)) {
        f(&mut self.tally.lock().unwrap_or_else(PoisonError::into_inner));
    }

    fn snapshot(&self, start: Instant) -> Snapshot {
        Snapshot {
            elapsed: start.elapsed(),
            ok: self.ok.load(Ordering::SeqCst),
            failed: self.failed.load(Ordering::SeqCst),
        }
    }
}

/// Pause after a failed lifecycle, so a dead connection does not spin a worker.
const ERROR_PAUSE: Duration = Duration::from_millis(10);

async fn worker(shared: Arc<Shared>, client: Client, url: usize) {
    while shared.claim() {
        let t0 = Instant::now();
        let outcome = shared.lifecycle.run(&client).await;
        let took = t0.elapsed();
        match outcome {
            Ok(()) => {
                shared.record(|t| t.ok(url, took));
                shared.ok.fetch_add(1, Ordering::SeqCst);
            }
            Err(e) => {
                shared.record(|t| t.failed(url, &e));
                let failed = shared.failed.fetch_add(1, Ordering::SeqCst) + 1;
                if shared.max_errors.is_some_and(|m| failed >= m) {
                    shared.stop(Stop::MaxErrors);
                }
                tokio::time::sleep(ERROR_PAUSE).await;
            }
        }
    }
}

fn lifecycle(args: &LoadArgs) -> Result<Lifecycle, Failure> {
    let body: Option<Value> = args
        .body
        .as_deref()
        .map(|b| {
            serde_json::from_str(b).map_err(|e| Failure::usage(format!("--body is not JSON: {e}")))
        })
        .transpose()?;
    let echotest = Lifecycle::echotest();
    Ok(match body {
        None if args.plugin == echotest.plugin => echotest,
        None => Lifecycle::plugin_request(args.plugin.clone(), Value::Object(Default::default())),
        Some(body) => Lifecycle::plugin_request(args.plugin.clone(), body),
    })
}

/// Runs `load`.
pub async fn run(conn: &ConnectionArgs, args: &LoadArgs, json: bool) -> Result<Exit, Failure> {
    let lifecycle = lifecycle(args)?;
    let mut sigint = Interrupts::listen()?;
    let configs = api_configs(conn)?;
    let timeout = configs[0].options.request_timeout;
    let urls: Vec<String> = configs.iter().map(|c| c.url.clone()).collect();
    // Every URL must answer before the run starts.
    let connects = futures::future::join_all(configs.into_iter().map(connect)).await;
    let mut clients = Vec::new();
    let mut failure = None;
    for c in connects {
        match c {
            Ok(client) => clients.push(client),
            Err(f) => {
                failure.get_or_insert(f);
            }
        }
    }
    if let Some(f) = failure {
        close_all(&clients).await;
        return Err(f);
    }

    let duration = match (args.duration, args.iterations) {
        (None, None) => Some(DEFAULT_DURATION),
        (d, _) => d,
    };
    let start = Instant::now();
    let shared = Arc::new(Shared {
        lifecycle,
        started: AtomicU64::new(0),
        iterations: args.iterations,
        deadline: duration.map(|d| start + d),
        max_errors: args.max_errors,
        stop: AtomicBool::new(false),
        stop_reason: Mutex::new(None),
        ok: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        tally: Mutex::new(Tally::new(urls.len())),
    });
    let mut workers_per_url = vec![0u32; urls.len()];
    let mut tasks = JoinSet::new();
    for w in 0..args.workers as usize {
        let url = w % clients.len();
        workers_per_url[url] += 1;
        tasks.spawn(worker(shared.clone(), clients[url].clone(), url));
    }
    let mut progress = Progress::new(args.progress, args.no_progress, args.iterations, duration);
    if let Progress::Lines { .. } = progress {
        eprintln!(
            "janus-cli: load: {} workers on {} URL(s)",
            args.workers,
            urls.len()
        );
    }

    // Until the workers are done: progress, Ctrl-C, and once the run is over, a grace for
    // the lifecycles under way: as long as all of a lifecycle's requests may take, each
    // within its timeout. Past it, only a request that outlived its own timeout could hold
    // a lifecycle: it is cut off (and counted as unfinished) rather than waited for.
    let mut interrupts = 0;
    let mut grace_end: Option<Instant> = None;
    let mut ticker = tokio::time::interval(progress.tick());
    let mut unfinished = 0u64;
    loop {
        if grace_end.is_none() && shared.stop.load(Ordering::SeqCst) {
            let grace = timeout
                .saturating_mul(Lifecycle::REQUESTS)
                .saturating_add(Duration::from_secs(1));
            grace_end = Some(Instant::now() + grace);
        }
        let deadline_wait = async {
            match (grace_end, shared.deadline) {
                (Some(g), _) => tokio::time::sleep_until(g).await,
                // Wakes at the deadline to start the grace even if no worker notices.
                (None, Some(d)) => tokio::time::sleep_until(d).await,
                (None, None) => std::future::pending().await,
            }
        };
        tokio::select! {
            done = tasks.join_next() => {
                if done.is_none() {
                    break;
                }
            }
            _ = ticker.tick() => progress.update(&shared.snapshot(start), args.iterations),
            () = sigint.next() => {
                interrupts += 1;
                shared.stop(Stop::Interrupted);
                if interrupts == 1 {
                    eprintln!("janus-cli: interrupted: finishing the lifecycles under way (Ctrl-C again to stop now)");
                } else {
                    unfinished = tasks.len() as u64;
                    tasks.abort_all();
                    break;
                }
            }
            () = deadline_wait => {
                match grace_end {
                    Some(g) if Instant::now() >= g => {
                        unfinished = tasks.len() as u64;
                        tasks.abort_all();
                        break;
                    }
                    Some(_) => {}
                    None => shared.stop(Stop::Duration),
                }
            }
        }
    }
    // Aborted tasks end at their next await; their values drop, which releases their
    // sessions.
    while tasks.join_next().await.is_some() {}
    let elapsed = start.elapsed();
    progress.update(&shared.snapshot(start), args.iterations);
    progress.finish();
    close_all(&clients).await;

    let stop = shared
        .stop_reason
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .unwrap_or(Stop::Iterations);
    let tally = shared
        .tally
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let report = Report {
        urls: &urls,
        workers_per_url,
        plugin: &args.plugin,
        elapsed,
        stop,
        unfinished,
        tally: &tally,
    };
    if json {
        print_json(&report.json());
    } else {
        crate::out!("{}", report.text());
    }
    Ok(if interrupts > 1 {
        Exit::Interrupted
    } else if tally.failed_count() > 0 {
        Exit::LoadErrors
    } else {
        Exit::Ok
    })
}

/// Closes every client, each within a second (a dead Janus must not hold up the report).
async fn close_all(clients: &[Client]) {
    futures::future::join_all(clients.iter().map(|c| async move {
        let _ = tokio::time::timeout(Duration::from_secs(1), c.close()).await;
    }))
    .await;
}
