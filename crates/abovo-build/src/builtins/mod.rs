//! The daemon's built-in builders: `builtin:download` and
//! `builtin:git-download`.
//!
//! As in guix-daemon, built-ins are not run in the chroot: they are the
//! daemon's own code (here, abovo's), trusted like the daemon, and their
//! outputs are fixed, so the hash check decides. They write the output
//! where a sandboxed builder would (inside the derivation's staging
//! directory in the store) and the same post-processing follows.

pub mod download;
pub mod git;
pub mod sexp;
pub mod tls;

use crate::sandbox::Limits;
use crate::store::LocalStore;
use abovo_store::derivation::Derivation;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// When a built-in must give up: `--timeout` and `--max-silent-time` apply
/// to built-ins as to any builder. For a built-in, *silence* means no
/// progress: no byte received by a download, no output from `git`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    start: Instant,
    limit: Option<Duration>,
    silence: Option<Duration>,
}

impl Deadline {
    /// The deadline of `limits` (its `timeout` and `max_silent_time`),
    /// counted from now; a zero limit is none ([`Limits::effective`]).
    pub fn new(limits: Limits) -> Deadline {
        let limits = limits.effective();
        Deadline {
            start: Instant::now(),
            limit: limits.timeout,
            silence: limits.max_silent_time,
        }
    }

    /// How long a built-in may go without progress.
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
            crate::sandbox::seconds(self.limit.unwrap_or_default())
        )
    }

    /// The failure message for silence: `timed out after N seconds of
    /// silence`, as for a builder.
    pub fn silence_message(&self) -> String {
        format!(
            "timed out after {} of silence",
            crate::sandbox::seconds(self.silence.unwrap_or_default())
        )
    }
}

/// Settings of the built-in fetchers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadOptions {
    /// Timeout of connecting, of waiting for the response, and of each read
    /// of the body (not of the whole body: a large file may take longer).
    pub timeout: Duration,
    /// Extra attempts per URL after a transient failure.
    pub retries: u32,
    /// A mirrors file to use instead of the derivation's own.
    pub mirrors_file: Option<PathBuf>,
    /// Content-addressed mirror URL templates tried after the derivation's
    /// own: `{file}`, `{algo}`, `{hash}` (nix-base32), `{hex}`.
    pub content_addressed_mirrors: Vec<String>,
    /// Which certificates `https` downloads trust ([`tls`]).
    pub trust: tls::Trust,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        DownloadOptions {
            timeout: Duration::from_secs(60),
            retries: 3,
            mirrors_file: None,
            content_addressed_mirrors: Vec::new(),
            trust: tls::Trust::default(),
        }
    }
}

/// Runs built-in `name` for `drv`, creating its output at `target`, giving
/// up at `deadline`.
pub fn run(
    name: &str,
    drv: &Derivation,
    target: &Path,
    opts: &DownloadOptions,
    _store: &LocalStore,
    deadline: Deadline,
    log: &mut dyn FnMut(&[u8]),
) -> Result<(), String> {
    if !drv.is_fixed_output() {
        return Err("a built-in builder can only build fixed-output derivations".into());
    }
    match name {
        "download" => download::run(drv, target, opts, deadline, log),
        "git-download" => git::run(drv, target, deadline, log),
        other => Err(format!("unsupported built-in builder `builtin:{other}`")),
    }
}
