//! The timed loop: W workers, each running lifecycles back to back until the deadline.

use std::future::Future;
use std::time::{Duration, Instant};

/// One client under test: a full create → attach → message → detach → destroy cycle.
pub trait Lifecycle: Clone + Send + Sync + 'static {
    /// Runs one lifecycle; an error is a message for the report, never a panic.
    fn lifecycle(&self) -> impl Future<Output = Result<(), String>> + Send;
}

/// What one run measured.
pub struct RunResult {
    /// Completed lifecycles.
    pub ops: u64,
    /// From the start of the workers to the end of the last one (lifecycles started before
    /// the deadline are allowed to finish and are counted).
    pub elapsed: Duration,
    /// Latency of each completed lifecycle, sorted.
    pub latencies: Vec<Duration>,
    /// Failed lifecycles (errors and timeouts).
    pub errors: u64,
    /// The first few error messages.
    pub first_errors: Vec<String>,
    /// CPU time (user + system) this process used during the run.
    pub client_cpu: Option<Duration>,
    /// CPU time the Janus process used during the run (with `--janus-pid`).
    pub janus_cpu: Option<Duration>,
}

impl RunResult {
    pub fn ops_per_s(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.ops as f64 / secs
        } else {
            0.0
        }
    }

    /// Nearest-rank percentile in milliseconds; `None` without any completed lifecycle.
    pub fn percentile_ms(&self, p: f64) -> Option<f64> {
        if self.latencies.is_empty() {
            return None;
        }
        let n = self.latencies.len();
        let rank = ((p / 100.0) * n as f64).ceil() as usize;
        let i = rank.clamp(1, n) - 1;
        Some(self.latencies[i].as_secs_f64() * 1000.0)
    }
}

pub struct RunConfig {
    pub workers: usize,
    pub duration: Duration,
    /// Limit on one lifecycle; past it the lifecycle counts as an error.
    pub lifecycle_timeout: Duration,
    /// How many error messages to keep.
    pub keep_errors: usize,
}

/// Pause after a failed lifecycle, so a dead connection does not spin a worker.
const ERROR_PAUSE: Duration = Duration::from_millis(10);

struct WorkerResult {
    latencies: Vec<Duration>,
    errors: u64,
    first_errors: Vec<String>,
}

/// Runs `client` with `cfg.workers` workers until `cfg.duration` has passed.
pub async fn run<L: Lifecycle>(client: &L, cfg: &RunConfig) -> RunResult {
    let start = Instant::now();
    let deadline = start + cfg.duration;
    let mut tasks = Vec::with_capacity(cfg.workers);
    for _ in 0..cfg.workers {
        let client = client.clone();
        let timeout = cfg.lifecycle_timeout;
        let keep = cfg.keep_errors;
        tasks.push(tokio::spawn(async move {
            let mut r = WorkerResult {
                latencies: Vec::with_capacity(4096),
                errors: 0,
                first_errors: Vec::new(),
            };
            while Instant::now() < deadline {
                let t0 = Instant::now();
                let outcome = match tokio::time::timeout(timeout, client.lifecycle()).await {
                    Ok(o) => o,
                    Err(_) => Err(format!("lifecycle timed out after {timeout:?}")),
                };
                match outcome {
                    Ok(()) => r.latencies.push(t0.elapsed()),
                    Err(e) => {
                        r.errors += 1;
                        if r.first_errors.len() < keep {
                            r.first_errors.push(e);
                        }
                        tokio::time::sleep(ERROR_PAUSE).await;
                    }
                }
            }
            r
        }));
    }
    let mut all = RunResult {
        ops: 0,
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
        errors: 0,
        first_errors: Vec::new(),
        client_cpu: None,
        janus_cpu: None,
    };
    for task in tasks {
        match task.await {
            Ok(r) => {
                all.latencies.extend(r.latencies);
                all.errors += r.errors;
                for e in r.first_errors {
                    if all.first_errors.len() < cfg.keep_errors {
                        all.first_errors.push(e);
                    }
                }
            }
            Err(e) => {
                all.errors += 1;
                if all.first_errors.len() < cfg.keep_errors {
                    all.first_errors.push(format!("worker task failed: {e}"));
                }
            }
        }
    }
    all.elapsed = start.elapsed();
    all.ops = all.latencies.len() as u64;
    all.latencies.sort_unstable();
    all
}

/// CPU time (user + system) used so far by process `pid` ("self" for this one), from
/// `/proc/<pid>/stat`; `None` where that is not readable. Linux ticks are 1/100 s.
pub fn process_cpu(pid: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start at field 3, "state".
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}
