//! When a fetch must give up: an overall time limit and a limit on silence
//! (no byte received, no output from `git`).
//!
//! The daemon's built-ins take theirs from `--timeout` and
//! `--max-silent-time`, as any builder; `abovo fetch` uses
//! [`Deadline::none`] and bounds each request with per-source timeouts
//! instead.

use std::time::{Duration, Instant};

/// An overall limit and a silence limit, counted from creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    start: Instant,
    limit: Option<Duration>,
    silence: Option<Duration>,
}

impl Deadline {
    /// The deadline `limit` from now, with `silence` as the longest time
    /// without progress; a zero duration is no limit.
    pub fn new(limit: Option<Duration>, silence: Option<Duration>) -> Deadline {
        Deadline {
            start: Instant::now(),
            limit: limit.filter(|d| !d.is_zero()),
            silence: silence.filter(|d| !d.is_zero()),
        }
    }

    /// No limit at all.
    pub fn none() -> Deadline {
        Deadline::new(None, None)
    }

    /// How long a fetch may go without progress.
    pub fn max_silence(&self) -> Option<Duration> {
        self.silence
    }

    /// The time left (`None`: unlimited; zero once passed).
    pub fn remaining(&self) -> Option<Duration> {
        self.limit.map(|l| l.saturating_sub(self.start.elapsed()))
    }

    /// Whether it has passed.
    pub fn passed(&self) -> bool {
        self.remaining().is_some_and(|r| r.is_zero())
    }

    /// Whether `quiet_since` (the last sign of progress) is longer ago than
    /// the silence limit.
    pub fn silent_too_long(&self, quiet_since: Instant) -> bool {
        self.silence.is_some_and(|s| quiet_since.elapsed() >= s)
    }

    /// `d`, or the time left if that is shorter.
    pub fn cap(&self, d: Duration) -> Duration {
        self.remaining().map_or(d, |r| r.min(d))
    }

    /// The failure message: `timed out after N seconds`, as for a builder.
    pub fn message(&self) -> String {
        format!(
            "timed out after {}",
            seconds(self.limit.unwrap_or_default())
        )
    }

    /// The failure message for silence: `timed out after N seconds of
    /// silence`, as for a builder.
    pub fn silence_message(&self) -> String {
        format!(
            "timed out after {} of silence",
            seconds(self.silence.unwrap_or_default())
        )
    }
}

/// A duration in whole seconds for messages: `1 second`, `30 seconds`.
pub fn seconds(d: Duration) -> String {
    match d.as_secs() {
        1 => "1 second".into(),
        n => format!("{n} seconds"),
    }
}
