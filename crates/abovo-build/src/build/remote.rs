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
use super::log::LogWriter;
use super::{BuildError, Builder};
use crate::LocalStore;
use crate::sandbox::chroot;
use crate::store::db::ItemTree;
use crate::store::{StoreError, io_err};
use abovo_store::StorePath;
use abovo_store::derivation::Derivation;
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::DirBuilderExt;
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

/// Each input's tree, kept between processes: abovo's database records it
/// against the item's NAR hash (`AbovoInputTrees`), so a closure is read
/// and hashed once, not by every `abovo build --remote`.
pub trait InputTrees: Send + Sync {
    /// The NAR hash and size of the item at `path` (a store path as shown
    /// to users) and the tree recorded for that hash; `None` when the
    /// item is not valid.
    fn input_tree(&self, path: &str) -> Result<Option<ItemTree>, StoreError>;
    /// Records `tree` for the item at `path` whose NAR hash was `nar_hash`
    /// (as [`ItemTree::nar_hash`] had it) when the tree was computed.
    fn record_input_tree(&self, path: &str, nar_hash: &str, tree: &[u8]) -> Result<(), StoreError>;
}

impl std::fmt::Debug for dyn InputTrees + '_ {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InputTrees")
    }
}

impl InputTrees for LocalStore {
    fn input_tree(&self, path: &str) -> Result<Option<ItemTree>, StoreError> {
        let p = self.parse(path)?;
        self.db().input_tree(&p)
    }

    fn record_input_tree(&self, path: &str, nar_hash: &str, tree: &[u8]) -> Result<(), StoreError> {
        let p = self.parse(path)?;
        self.db().record_input_tree(&p, nar_hash, tree)
    }
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
    /// Where the inputs' trees are kept between processes.
    pub trees: &'a dyn InputTrees,
    /// The outputs: each store path as the builder sees it, and where its
    /// content must be put here.
    pub outputs: &'a [(String, PathBuf)],
    /// A fixed-output derivation (the only kind given a network).
    pub fixed_output: bool,
    /// The build's time limit.
    pub timeout: Option<Duration>,
    /// A rebuild (the second and later of `--rounds`): the builder must
    /// run again, so no cached result may answer.
    pub rebuild: bool,
}

/// What a remote run gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteOutcome {
    /// The builder's exit code.
    pub exit_code: i32,
    /// Whether the result came from the remote cache (nothing ran).
    pub cached: bool,
}

/// What `goal.rs` knows of the round a remote executor runs.
pub(super) struct Local<'a> {
    pub drv_path: &'a StorePath,
    pub drv: &'a Derivation,
    pub outputs: &'a BTreeMap<String, StorePath>,
    pub closure: &'a BTreeSet<StorePath>,
    /// The root of the round's chroot.
    pub root: &'a Path,
    /// Where an output goes in it.
    pub output: &'a dyn Fn(&StorePath) -> PathBuf,
    /// A rebuild ([`RemoteJob::rebuild`]).
    pub rebuild: bool,
}

impl Builder<'_> {
    /// Runs the builder through the remote executor (`--remote`): the
    /// outputs come back into the chroot, owned by abovo's user, where the
    /// same post-processing as a local build's finds them.
    pub(super) fn run_remote(
        &self,
        remote: &dyn RemoteExecutor,
        local: &Local<'_>,
        mut log: LogWriter,
    ) -> Result<u32, BuildError> {
        let Local {
            drv_path,
            drv,
            outputs,
            closure,
            root,
            output,
            rebuild,
        } = *local;
        let store = self.store;
        let shown = store.display(drv_path);
        let log_path = log.path();
        if drv
            .environment
            .contains_key(b"exportReferencesGraph".as_slice())
        {
            return Err(BuildError::Unsupported {
                drv: shown,
                what: "`exportReferencesGraph` in a remote build".into(),
            });
        }
        let (build_dir, env) = self.builder_env(drv_path, drv);
        self.checked_builder(drv, &shown)?;
        let inputs = closure
            .iter()
            .map(|p| Ok((store.item_path(p)?, store.display(p))))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let outs: Vec<(String, PathBuf)> = outputs
            .values()
            .map(|p| (store.display(p), output(p)))
            .collect();
        let store_in_chroot = chroot::inside(root, Path::new(store.store_dir().as_str()));
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&store_in_chroot)
            .map_err(io_err(&store_in_chroot, "create"))?;
        let job = RemoteJob {
            drv: &shown,
            system: &drv.system,
            builder: &drv.builder,
            args: &drv.arguments,
            env: &env,
            build_dir: &build_dir,
            inputs: &inputs,
            trees: store,
            outputs: &outs,
            fixed_output: drv.is_fixed_output(),
            timeout: self.opts.limits.effective().timeout,
            rebuild,
        };
        let outcome = remote.execute(&job, &mut |b| {
            log.write(b);
            self.reporter.log(drv_path, b);
        });
        let log_file = log.finish().unwrap_or(log_path);
        let outcome = outcome.map_err(|source| BuildError::Remote {
            drv: shown.clone(),
            source,
        })?;
        if outcome.exit_code != 0 {
            return Err(BuildError::BuilderFailed {
                drv: shown,
                how: format!("failed remotely with exit code {}", outcome.exit_code),
                log: log_file,
                kept: None,
            });
        }
        Ok(rustix::process::geteuid().as_raw())
    }
}
