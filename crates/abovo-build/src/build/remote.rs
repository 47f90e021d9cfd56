//! Builders run elsewhere: what `abovo build --remote` hands to a remote
//! executor, and what it gives back.
//!
//! The executor (the `abovo-remote` crate, which speaks the Remote
//! Execution API) gets what the local sandbox would get, in the same form:
//! the builder, its arguments, the environment exactly as
//! [`super::env::builder_env`] builds it, the input closure and the output
//! paths. It runs the builder and materialises the outputs at the places it
//! is given, inside the round's chroot, owned by abovo's own user. From
//! there on nothing differs from a local build: the outputs are checked,
//! canonicalised, hashed, scanned and registered by the same code
//! ([`super::outputs`]), and nothing is registered when the executor fails.

use super::env::Env;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Runs builders somewhere else (`--remote`).
pub trait RemoteExecutor: Send + Sync + std::fmt::Debug {
    /// Runs `job`'s builder, writing its standard output and error to
    /// `log`; on a zero exit, the outputs are at [`RemoteJob::outputs`]'
    /// destinations. `Err` is a failure of the service, not of the builder.
    fn execute(
        &self,
        job: &RemoteJob<'_>,
        log: &mut dyn FnMut(&[u8]),
    ) -> Result<RemoteOutcome, Box<dyn std::error::Error + Send + Sync>>;
}

/// One builder run, as the local sandbox would run it.
#[derive(Debug)]
pub struct RemoteJob<'a> {
    /// The derivation, as shown to users.
    pub drv: &'a str,
    /// Its system type (`x86_64-linux`).
    pub system: &'a str,
    /// The builder's absolute path (in the store).
    pub builder: &'a str,
    /// Its arguments, without argv\[0\].
    pub args: &'a [Vec<u8>],
    /// Its environment, sorted by name.
    pub env: &'a Env,
    /// The build directory the builder sees (`/tmp/guix-build-<name>.drv-0`).
    pub build_dir: &'a Path,
    /// The input closure: each item's place on disk and its store path as
    /// the builder sees it.
    pub inputs: &'a [(PathBuf, String)],
    /// The outputs: each store path as the builder sees it, and where its
    /// content must be put here.
    pub outputs: &'a [(String, PathBuf)],
    /// A fixed-output derivation (the only kind given a network).
    pub fixed_output: bool,
    /// The build's time limit.
    pub timeout: Option<Duration>,
}

/// What a remote run gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteOutcome {
    /// The builder's exit code.
    pub exit_code: i32,
    /// Whether the result came from the remote cache (nothing ran).
    pub cached: bool,
}
