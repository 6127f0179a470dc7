//! `load`'s progress on stderr: a bar on a terminal, a line per second elsewhere (with
//! `--progress`), or nothing.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;
use tokio::time::Instant;

/// How progress is shown.
pub enum Progress {
    /// Not at all.
    Hidden,
    /// An indicatif bar (stderr is a terminal).
    Bar(ProgressBar),
    /// A plain line per second.
    Lines {
        /// When the last line was written.
        last: Instant,
    },
}

/// What the progress shows.
pub struct Snapshot {
    /// Since the start.
    pub elapsed: Duration,
    /// Completed lifecycles.
    pub ok: u64,
    /// Failed ones.
    pub failed: u64,
}

impl Progress {
    /// Picks the display: `forced` (`--progress`) or a terminal shows it, `hidden`
    /// (`--no-progress`) never. The bar's length is the iterations, else the duration.
    pub fn new(
        forced: bool,
        hidden: bool,
        iterations: Option<u64>,
        duration: Option<Duration>,
    ) -> Self {
        if hidden {
            return Progress::Hidden;
        }
        if std::io::stderr().is_terminal() {
            let (len, template) = match (iterations, duration) {
                (Some(n), _) => (n, "{elapsed_precise} [{bar:30}] {pos}/{len} {msg}"),
                (None, Some(d)) => (
                    u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
                    "{elapsed_precise} [{bar:30}] {msg}",
                ),
                (None, None) => (0, "{elapsed_precise} {msg}"),
            };
            let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            return Progress::Bar(bar);
        }
        if forced {
            return Progress::Lines {
                last: Instant::now(),
            };
        }
        Progress::Hidden
    }

    /// How often [`update`](Progress::update) is worth calling.
    pub fn tick(&self) -> Duration {
        match self {
            Progress::Bar(_) => Duration::from_millis(100),
            _ => Duration::from_millis(250),
        }
    }

    /// Shows the current counts.
    pub fn update(&mut self, s: &Snapshot, iterations: Option<u64>) {
        let rate = if s.elapsed.as_secs_f64() > 0.0 {
            s.ok as f64 / s.elapsed.as_secs_f64()
        } else {
            0.0
        };
        let msg = format!("{} ok, {} failed, {rate:.1}/s", s.ok, s.failed);
        match self {
            Progress::Hidden => {}
            Progress::Bar(bar) => {
                let pos = match iterations {
                    Some(_) => s.ok + s.failed,
                    None => u64::try_from(s.elapsed.as_millis()).unwrap_or(u64::MAX),
                };
                bar.set_position(pos);
                bar.set_message(msg);
            }
            Progress::Lines { last } => {
                if last.elapsed() >= Duration::from_secs(1) {
                    *last = Instant::now();
                    eprintln!("janus-cli: load: {:.1} s, {msg}", s.elapsed.as_secs_f64());
                }
            }
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Progress::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}
