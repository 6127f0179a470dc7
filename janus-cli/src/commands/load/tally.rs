//! What a load run counted: successes with their latency (a histogram of bounded size),
//! failures by the library's error kind, per URL.

use hdrhistogram::Histogram;
use janus_cli::lifecycle::{LifecycleError, Step};
use std::collections::BTreeMap;
use std::time::Duration;

use crate::failure::{kind_code, kind_name};

/// Latencies are kept in microseconds, from 1 µs to 1 hour, to 3 significant digits.
const MAX_LATENCY_US: u64 = 3_600_000_000;

/// Failures of one kind (and code).
#[derive(Clone, Debug, Default)]
pub struct ErrorTally {
    /// How many.
    pub count: u64,
    /// How many at each step.
    pub steps: BTreeMap<Step, u64>,
    /// The first one's text.
    pub example: String,
}

/// The counts of a run (or of one URL's share of it).
#[derive(Clone, Debug)]
pub struct Tally {
    /// Latencies of the completed lifecycles, in microseconds.
    pub latency: Histogram<u64>,
    /// Failures by (kind, code).
    pub errors: BTreeMap<(&'static str, Option<i64>), ErrorTally>,
    /// Completed lifecycles per URL (by index).
    pub ok_per_url: Vec<u64>,
    /// Failed lifecycles per URL (by index).
    pub failed_per_url: Vec<u64>,
}

impl Tally {
    /// An empty tally for `urls` URLs.
    pub fn new(urls: usize) -> Tally {
        Tally {
            latency: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
                .expect("constant histogram bounds are valid"),
            errors: BTreeMap::new(),
            ok_per_url: vec![0; urls],
            failed_per_url: vec![0; urls],
        }
    }

    /// A completed lifecycle.
    pub fn ok(&mut self, url: usize, took: Duration) {
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.latency.saturating_record(us.clamp(1, MAX_LATENCY_US));
        if let Some(n) = self.ok_per_url.get_mut(url) {
            *n += 1;
        }
    }

    /// A failed lifecycle.
    pub fn failed(&mut self, url: usize, error: &LifecycleError) {
        let kind = error.error.kind();
        let entry = self
            .errors
            .entry((kind_name(kind), kind_code(kind)))
            .or_default();
        entry.count += 1;
        *entry.steps.entry(error.step).or_default() += 1;
        if entry.example.is_empty() {
            entry.example = error.to_string();
        }
        if let Some(n) = self.failed_per_url.get_mut(url) {
            *n += 1;
        }
    }

    /// Completed lifecycles.
    pub fn ok_count(&self) -> u64 {
        self.latency.len()
    }

    /// Failed lifecycles.
    pub fn failed_count(&self) -> u64 {
        self.errors.values().map(|e| e.count).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use janus_client::Error;

    #[test]
    fn failures_are_counted_by_kind_code_and_step() {
        let mut t = Tally::new(2);
        t.ok(0, Duration::from_millis(3));
        t.ok(1, Duration::ZERO);
        let timeout = LifecycleError {
            step: Step::Create,
            error: Error::timeout(Duration::from_secs(2)),
        };
        t.failed(1, &timeout);
        t.failed(1, &timeout);
        t.failed(
            0,
            &LifecycleError {
                step: Step::Attach,
                error: Error::janus(460, "No such plugin"),
            },
        );
        assert_eq!((t.ok_count(), t.failed_count()), (2, 3));
        assert_eq!(t.errors[&("timeout", None)].count, 2);
        assert_eq!(t.errors[&("timeout", None)].steps[&Step::Create], 2);
        assert_eq!(t.errors[&("janus", Some(460))].count, 1);
        assert!(t.errors[&("timeout", None)]
            .example
            .starts_with("create: request timed out"));
        assert_eq!(
            (t.ok_per_url.clone(), t.failed_per_url.clone()),
            (vec![1, 1], vec![1, 2])
        );
    }
}
