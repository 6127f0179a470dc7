//! The end of a load run: throughput, latency percentiles and histogram, errors by kind, as
//! text or JSON.

use serde_json::{json, Value};
use std::fmt::Write as _;
use std::time::Duration;

use super::tally::Tally;
use crate::output::Table;

/// Why the run stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// `--duration` passed.
    Duration,
    /// `--iterations` were run.
    Iterations,
    /// `--max-errors` failures.
    MaxErrors,
    /// Ctrl-C.
    Interrupted,
}

impl Stop {
    fn name(self) -> &'static str {
        match self {
            Stop::Duration => "duration",
            Stop::Iterations => "iterations",
            Stop::MaxErrors => "max_errors",
            Stop::Interrupted => "interrupted",
        }
    }
}

/// Everything the report says.
pub struct Report<'a> {
    /// The URLs, in order.
    pub urls: &'a [String],
    /// Workers per URL.
    pub workers_per_url: Vec<u32>,
    /// The plugin.
    pub plugin: &'a str,
    /// From the start of the workers to the end of the last one.
    pub elapsed: Duration,
    /// Why it stopped.
    pub stop: Stop,
    /// Lifecycles still under way when the run ended and cut off (not counted as failed).
    pub unfinished: u64,
    /// The counts.
    pub tally: &'a Tally,
}

/// Microseconds as milliseconds, to the microsecond.
fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// A float number of microseconds as milliseconds, to the microsecond.
fn ms_f(us: f64) -> f64 {
    us.round() / 1000.0
}

impl Report<'_> {
    fn throughput(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.tally.ok_count() as f64 / secs
        } else {
            0.0
        }
    }

    /// `(p50, p90, p99, max)` in milliseconds, when a lifecycle completed.
    fn percentiles(&self) -> Option<[f64; 4]> {
        let h = &self.tally.latency;
        (!h.is_empty()).then(|| {
            [
                ms(h.value_at_quantile(0.50)),
                ms(h.value_at_quantile(0.90)),
                ms(h.value_at_quantile(0.99)),
                ms(h.max()),
            ]
        })
    }

    /// Histogram buckets `(upper bound in ms, count)`, doubling from 1 ms up to the maximum,
    /// from the first one that counts any.
    fn buckets(&self) -> Vec<(f64, u64)> {
        let h = &self.tally.latency;
        if h.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::new();
        for v in h.iter_log(1000, 2.0) {
            let count = v.count_since_last_iteration();
            if out.is_empty() && count == 0 {
                continue;
            }
            // The bucket ends at the highest value equivalent to its bound (1,999 µs for
            // 2 ms): one more is the bound itself.
            out.push((ms(v.value_iterated_to().saturating_add(1)), count));
            if v.value_iterated_to() >= h.max() {
                break;
            }
        }
        out
    }

    /// The report as JSON.
    pub fn json(&self) -> Value {
        let t = self.tally;
        let latency = match self.percentiles() {
            Some([p50, p90, p99, max]) => json!({
                "p50": p50, "p90": p90, "p99": p99, "max": max, "mean": ms_f(t.latency.mean()),
            }),
            None => Value::Null,
        };
        let errors: Vec<Value> = t
            .errors
            .iter()
            .map(|((kind, code), e)| {
                let steps: serde_json::Map<String, Value> = e
                    .steps
                    .iter()
                    .map(|(s, n)| (s.name().to_string(), Value::from(*n)))
                    .collect();
                json!({"kind": kind, "code": code, "count": e.count, "steps": steps, "example": e.example})
            })
            .collect();
        let per_url: Vec<Value> = self
            .urls
            .iter()
            .enumerate()
            .map(|(i, url)| {
                json!({
                    "url": url,
                    "workers": self.workers_per_url.get(i),
                    "ok": t.ok_per_url.get(i),
                    "failed": t.failed_per_url.get(i),
                })
            })
            .collect();
        json!({
            "plugin": self.plugin,
            "workers": self.workers_per_url.iter().sum::<u32>(),
            "elapsed_s": self.elapsed.as_secs_f64(),
            "stopped_by": self.stop.name(),
            "ok": t.ok_count(),
            "failed": t.failed_count(),
            "unfinished": self.unfinished,
            "throughput_per_s": self.throughput(),
            "latency_ms": latency,
            "histogram_ms": self.buckets().iter().map(|(le, n)| json!({"le": le, "count": n})).collect::<Vec<_>>(),
            "errors": errors,
            "per_url": per_url,
        })
    }

    /// The report as text.
    pub fn text(&self) -> String {
        let t = self.tally;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} lifecycles ({}) with {} workers on {} URL(s) in {:.2} s (stopped by {})",
            t.ok_count() + t.failed_count(),
            self.plugin,
            self.workers_per_url.iter().sum::<u32>(),
            self.urls.len(),
            self.elapsed.as_secs_f64(),
            self.stop.name()
        );
        let _ = writeln!(
            out,
            "  ok {}, failed {}{}, throughput {:.1}/s",
            t.ok_count(),
            t.failed_count(),
            if self.unfinished > 0 {
                format!(", cut off unfinished {}", self.unfinished)
            } else {
                String::new()
            },
            self.throughput()
        );
        if let Some([p50, p90, p99, max]) = self.percentiles() {
            let _ = writeln!(
                out,
                "  latency: p50 {p50:.2} ms, p90 {p90:.2} ms, p99 {p99:.2} ms, max {max:.2} ms"
            );
            let buckets = self.buckets();
            let most = buckets.iter().map(|(_, n)| *n).max().unwrap_or(1).max(1);
            out.push('\n');
            let mut table = Table::new(&["LATENCY", "COUNT", ""]);
            for (le, n) in buckets {
                let bar = "#".repeat(((n * 40).div_ceil(most)) as usize);
                table.row(vec![format!("<= {le:.0} ms"), n.to_string(), bar]);
            }
            out.push_str(&table.render());
        }
        if !t.errors.is_empty() {
            out.push('\n');
            let mut table = Table::new(&["ERROR KIND", "CODE", "COUNT", "STEPS", "EXAMPLE"]);
            for ((kind, code), e) in &t.errors {
                let steps = e
                    .steps
                    .iter()
                    .map(|(s, n)| format!("{s} {n}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                table.row(vec![
                    kind.to_string(),
                    code.map(|c| c.to_string()).unwrap_or_default(),
                    e.count.to_string(),
                    steps,
                    e.example.clone(),
                ]);
            }
            out.push_str(&table.render());
        }
        if self.urls.len() > 1 {
            out.push('\n');
            let mut table = Table::new(&["URL", "WORKERS", "OK", "FAILED"]);
            for (i, url) in self.urls.iter().enumerate() {
                table.row(vec![
                    url.clone(),
                    self.workers_per_url
                        .get(i)
                        .copied()
                        .unwrap_or(0)
                        .to_string(),
                    t.ok_per_url.get(i).copied().unwrap_or(0).to_string(),
                    t.failed_per_url.get(i).copied().unwrap_or(0).to_string(),
                ]);
            }
            out.push_str(&table.render());
        }
        out
    }
}
