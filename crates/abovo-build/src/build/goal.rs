//! Realising one derivation: locks, rounds, `--check`, and the builder run.
//!
//! The order of events follows guix-daemon's `DerivationGoal`:
//!
//! 1. lock every output path; if they are all valid now (another process
//!    built them while we waited), stop;
//! 2. compute the input closure; delete invalid leftovers at the output
//!    paths;
//! 3. for each round: create the locked build directory
//!    (`$TMPDIR/abovo-builds-<uid>/guix-build-<name>.drv-N/top`, see
//!    [`super::build_dir`]) and the chroot (`<store>/<drv>.chroot`), run
//!    the builder in the sandbox (or a built-in), and post-process the
//!    outputs inside the chroot;
//! 4. compare (with `--check`, against the registered outputs; with
//!    `--rounds`, against the previous round, held under a temporary name);
//!    with `--keep-failed`, the other build of a differing output is kept
//!    at `<out>-check`, the only thing ever given that name;
//! 5. after the last round, move the outputs into the store and register
//!    them, their references and their deriver in one transaction.
//!
//! Fixed-output derivations are built once whatever `--rounds` says.

use super::build_dir::BuildDir;
use super::build_user::BuildUser;
use super::floating;
use super::log::LogWriter;
use super::outputs::{self, Staged};
use super::{BuildError, Builder, Mode, OutputDifference};
use crate::builtins;
use crate::diff::diff_items;
use crate::fsutil;
use crate::sandbox::{self, SandboxSpec, chroot};
use crate::store::db::{PathInfo, Registration};
use crate::store::lock::{PathLocks, Wait};
use crate::store::{LocalStore, StoreError, io_err};
use abovo_store::derivation::Derivation;
use abovo_store::{Hash, StorePath};
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Component, Path, PathBuf};

/// A registered (or checked) output.
///
/// In JSON its keys are the field names (snake_case, like every abovo report).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OutputResult {
    /// The output name.
    pub name: String,
    /// The output path.
    pub path: String,
    /// Its NAR hash.
    pub nar_hash: Hash,
    /// Its NAR size.
    pub nar_size: u64,
    /// Its references (absolute paths).
    pub references: BTreeSet<String>,
}

/// What realising a derivation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Realised {
    /// Its outputs were already valid.
    Valid,
    /// It was built and its outputs registered.
    Built(Vec<OutputResult>),
    /// It was rebuilt with `--check` and matched.
    Checked(Vec<OutputResult>),
    /// It was rebuilt and its outputs replaced (`--repair`).
    Repaired(Vec<OutputResult>),
}

/// One round's outputs, built and staged in its chroot: what the three ways
/// of finishing a round (`--check`, the next of `--rounds`, registering)
/// look at.
struct Built<'a> {
    drv_path: &'a StorePath,
    /// Its floating outputs, when it has any (see [`super::floating`]).
    floating: Option<&'a floating::Prepared>,
    /// Output name to store path.
    outputs: &'a BTreeMap<String, StorePath>,
    /// Output name to its post-processed result.
    staged: &'a BTreeMap<String, Staged>,
}

/// The host directories of one round.
struct Staging {
    /// `<store>/<drv>.chroot`.
    chroot: PathBuf,
    /// The locked build directory (`top` is the builder's).
    build_dir: BuildDir,
    /// Where the fixed outputs are copied to (a temporary name in the store
    /// directory, mode 0700, outside every chroot), once created.
    private: PathBuf,
}

impl Staging {
    /// Where output `path` is built: at its store path inside the chroot.
    fn output(&self, store: &LocalStore, path: &StorePath) -> PathBuf {
        chroot::inside(&self.root(), Path::new(&store.display(path)))
    }

    /// The root of the sandbox: `<drv>.chroot/top`, as guix-daemon lays it
    /// out. Its parent is abovo's alone (mode 0700), so no process outside
    /// the sandbox, whoever it runs as, can reach into the sandbox by path.
    fn root(&self) -> PathBuf {
        self.chroot.join("top")
    }

    /// Creates `<drv>.chroot` (mode 0700), the parent of [`Staging::root`].
    fn create_chroot(&self) -> Result<(), BuildError> {
        create_private_dir(&self.chroot)
    }

    /// The builder's build directory on the host.
    fn top(&self) -> &Path {
        self.build_dir.top()
    }

    /// Creates the private directory of fixed outputs ([`outputs`]).
    fn create_private(&self) -> Result<(), BuildError> {
        create_private_dir(&self.private)
    }

    /// Deletes the chroot, the private directory and the build directory.
    fn remove(self) {
        let _ = fsutil::delete_path(&self.chroot);
        let _ = fsutil::delete_path(&self.private);
        self.build_dir.remove();
    }

    /// Deletes the chroot and keeps the build directory for the user;
    /// returns where it is.
    fn keep(self) -> Result<PathBuf, BuildError> {
        let _ = fsutil::delete_path(&self.chroot);
        let _ = fsutil::delete_path(&self.private);
        self.build_dir.keep()
    }
}

impl Builder<'_> {
    pub(super) fn realise(
        &self,
        drv_path: &StorePath,
        drv: &Derivation,
        mode: Mode,
    ) -> Result<Realised, BuildError> {
        let check = mode != Mode::Normal;
        let store = self.store;
        let shown = store.display(drv_path);
        // A derivation whose output paths are not all in its `.drv` is
        // resolved and built at scratch paths (`floating`).
        let prepared = if floating::needs_preparing(drv) {
            if check {
                return Err(BuildError::Unsupported {
                    drv: shown,
                    what: "--check and --repair of content-addressed derivations".into(),
                });
            }
            Some(floating::prepare(store, drv_path, drv)?)
        } else {
            None
        };
        let original = drv;
        let drv = prepared.as_ref().map_or(drv, |p| &p.drv);
        let outputs = LocalStore::derivation_output_paths(drv, store.store_dir(), drv_path)?;
        let reals: Vec<PathBuf> = outputs.values().map(|p| store.real_path(p)).collect();
        let mut locks = match PathLocks::lock(reals.iter().map(PathBuf::as_path), Wait::Try)? {
            Some(l) => l,
            None => {
                self.reporter.waiting(drv_path);
                PathLocks::lock(reals.iter().map(PathBuf::as_path), Wait::Block)?
                    .unwrap_or_default()
            }
        };
        // Lock files are safe to delete on release whatever happens (a
        // waiter that opened one sees it marked stale and retries).
        locks.set_delete(true);
        let mut valid = true;
        for (name, p) in &outputs {
            valid &= match &prepared {
                Some(_) => floating::realised(store, drv_path, original, name)?.is_some(),
                None => store.is_valid(p)?,
            };
        }
        if valid && !check {
            return Ok(Realised::Valid);
        }
        if mode == Mode::Check && !valid {
            return Err(BuildError::CheckNotPossible { drv: shown });
        }
        if drv.builtin().is_none() {
            check_system(drv, &shown)?;
        }
        let closure = self.input_closure(drv_path, drv)?;
        if !check {
            for p in outputs.values() {
                fsutil::delete_path(&store.real_path(p))?;
            }
        }
        let fixed = drv.is_fixed_output();
        let rounds = if fixed || mode == Mode::Repair {
            1
        } else {
            self.opts.rounds.max(1)
        };
        let mut previous: Option<BTreeMap<String, OutputResult>> = None;
        // The previous round's outputs while `--rounds` builds the next one,
        // under temporary names (a killed abovo leaves them as leftovers;
        // only a difference kept on purpose is named `<out>-check`).
        let mut held = HeldRound::default();
        let mut result = Vec::new();
        for round in 1..=rounds {
            self.reporter.started(drv_path, round, rounds);
            // A later round and a check must run the builder again: a remote
            // executor's cache may not answer them, or they would compare one
            // build with itself (as `guix build --check` ignores substitutes).
            let rebuild = round > 1 || mode == Mode::Check;
            let (staging, staged) = self.run_round(drv_path, drv, &outputs, &closure, rebuild)?;
            let built = Built {
                drv_path,
                floating: prepared.as_ref(),
                outputs: &outputs,
                staged: &staged,
            };
            let outcome = match mode {
                Mode::Check => self.compare_with_registered(&built),
                Mode::Repair => self.register_outputs(&built),
                Mode::Normal => {
                    self.next_round(&built, previous.as_ref(), &mut held, round == rounds)
                }
            };
            staging.remove();
            let registered = outcome?;
            result =
                registered.unwrap_or_else(|| staged.values().map(|s| s.result.clone()).collect());
            previous = Some(staged.into_iter().map(|(k, v)| (k, v.result)).collect());
        }
        drop(held);
        drop(locks);
        Ok(match mode {
            Mode::Check => Realised::Checked(result),
            Mode::Repair => Realised::Repaired(result),
            Mode::Normal => Realised::Built(result),
        })
    }

    /// Input sources plus the outputs used of input derivations, closed
    /// under references. All must be valid.
    fn input_closure(
        &self,
        drv_path: &StorePath,
        drv: &Derivation,
    ) -> Result<BTreeSet<StorePath>, BuildError> {
        let store = self.store;
        let mut roots: BTreeSet<StorePath> = drv.input_sources.clone();
        for (input, names) in &drv.input_derivations {
            let input_drv = store.read_derivation(input)?;
            for name in names {
                let path = input_drv
                    .outputs
                    .get(name)
                    .and_then(|o| o.path.clone())
                    .ok_or_else(|| BuildError::BadDerivation {
                        drv: store.display(drv_path),
                        reason: format!("input `{}` has no output `{name}`", store.display(input)),
                    })?;
                roots.insert(path);
            }
        }
        for r in &roots {
            if !store.is_valid(r)? {
                return Err(BuildError::InputNotValid {
                    drv: store.display(drv_path),
                    input: store.display(r),
                });
            }
        }
        Ok(store.closure(&roots)?)
    }

    /// One build of the derivation, outputs post-processed in the chroot.
    fn run_round(
        &self,
        drv_path: &StorePath,
        drv: &Derivation,
        outputs: &BTreeMap<String, StorePath>,
        closure: &BTreeSet<StorePath>,
        rebuild: bool,
    ) -> Result<(Staging, BTreeMap<String, Staged>), BuildError> {
        let store = self.store;
        let shown = store.display(drv_path);
        let drv_name = drv_path.name();
        let chroot_dir = PathBuf::from(format!("{}.chroot", store.real_path(drv_path).display()));
        fsutil::delete_path(&chroot_dir)?;
        let staging = Staging {
            chroot: chroot_dir,
            build_dir: BuildDir::create(&self.opts.tmp_dir, drv_name)?,
            private: store.temp_path("fixed"),
        };
        let result = self.run_builder(drv_path, drv, outputs, closure, &staging, rebuild);
        let from_uid = match result {
            Ok(uid) => uid,
            Err(BuildError::BuilderFailed { drv, how, log, .. }) if self.opts.keep_failed => {
                // The builder's failure is the answer; a directory that
                // cannot be moved stays in the build area, to be reclaimed.
                return Err(BuildError::BuilderFailed {
                    drv,
                    how,
                    log,
                    kept: staging.keep().ok(),
                });
            }
            Err(e) => {
                staging.remove();
                return Err(e);
            }
        };
        let candidates: BTreeSet<StorePath> =
            closure.iter().chain(outputs.values()).cloned().collect();
        if drv.is_fixed_output()
            && let Err(e) = staging.create_private()
        {
            staging.remove();
            return Err(e);
        }
        match outputs::process(
            store,
            &shown,
            drv,
            outputs,
            &|p| staging.output(store, p),
            &staging.private,
            from_uid,
            &candidates,
            closure,
        ) {
            Ok(staged) => Ok((staging, staged)),
            Err(e) => {
                staging.remove();
                Err(e)
            }
        }
    }

    /// Runs the builder; returns the host uid the outputs must belong to.
    fn run_builder(
        &self,
        drv_path: &StorePath,
        drv: &Derivation,
        outputs: &BTreeMap<String, StorePath>,
        closure: &BTreeSet<StorePath>,
        staging: &Staging,
        rebuild: bool,
    ) -> Result<u32, BuildError> {
        let store = self.store;
        let shown = store.display(drv_path);
        let log_base = super::log::log_base(&store.log_dir(), &drv_path.base_name());
        let mut log = LogWriter::create(&log_base, self.opts.log_compression)
            .map_err(io_err(&log_base, "create the log file"))?;
        let log_path = log.path();
        staging.create_chroot()?;
        let store_in_chroot =
            chroot::inside(&staging.root(), Path::new(store.store_dir().as_str()));
        if let Some(name) = drv.builtin() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(&store_in_chroot)
                .map_err(io_err(&store_in_chroot, "create"))?;
            let out = outputs
                .get("out")
                .ok_or_else(|| BuildError::BadDerivation {
                    drv: shown.clone(),
                    reason: "a built-in derivation needs an output named `out`".into(),
                })?;
            let target = staging.output(store, out);
            let deadline = builtins::deadline(self.opts.limits);
            let r = builtins::run(
                name,
                drv,
                &target,
                &self.opts.downloads,
                store,
                deadline,
                &mut |b| {
                    log.write(b);
                    self.reporter.log(drv_path, b);
                },
            );
            let _ = log.finish();
            r.map_err(|reason| BuildError::BuiltinFailed {
                drv: shown,
                builtin: name.to_owned(),
                reason,
            })?;
            return Ok(rustix::process::geteuid().as_raw());
        }
        if let Some(remote) = &self.opts.remote {
            let root = staging.root();
            let job = super::remote::Local {
                drv_path,
                drv,
                outputs,
                closure,
                root: &root,
                output: &|p| staging.output(store, p),
                rebuild,
            };
            return self.run_remote(remote.as_ref(), &job, log);
        }
        let user = BuildUser::acquire(store.state_dir())?;
        let top = staging.top();
        create_private_dir(top)?;
        std::os::unix::fs::chown(top, Some(user.uid()), Some(user.gid()))
            .map_err(io_err(top, "chown"))?;
        self.export_references_graph(drv_path, drv, top, &user)?;
        let (sandbox_build_dir, env) = self.builder_env(drv_path, drv);
        let builder = self.checked_builder(drv, &shown)?;
        let fixed = drv.is_fixed_output();
        let network = if fixed {
            self.opts
                .fixed_output_network
                .resolve()
                .map_err(|reason| BuildError::Unavailable {
                    drv: shown.clone(),
                    reason,
                })?
        } else {
            sandbox::Network::Loopback
        };
        let spec = SandboxSpec {
            chroot: staging.root(),
            build_dir: staging.top().to_owned(),
            sandbox_build_dir,
            store_dir: PathBuf::from(store.store_dir().as_str()),
            inputs: closure
                .iter()
                .map(|p| Ok((store.item_path(p)?, PathBuf::from(store.display(p)))))
                .collect::<Result<_, StoreError>>()?,
            host_files: if fixed {
                chroot::NETWORK_FILES
                    .iter()
                    .map(PathBuf::from)
                    .filter(|p| p.exists())
                    .collect()
            } else {
                Vec::new()
            },
            network,
            identity: user.identity(),
            personality32: drv.system == "i686-linux" && host_system() == "x86_64-linux",
            filter_syscalls: self.opts.filter_syscalls,
            builder,
            args: drv.arguments.clone(),
            env: env.into_iter().collect(),
        };
        let sandbox_err = |source| BuildError::Sandbox {
            drv: shown.clone(),
            source,
        };
        chroot::prepare(&spec).map_err(sandbox_err)?;
        let outcome = sandbox::run(&spec, &self.opts.helper, self.opts.limits, &mut |b| {
            log.write(b);
            self.reporter.log(drv_path, b);
        });
        let log_file = log.finish().unwrap_or(log_path);
        let outcome = outcome.map_err(sandbox_err)?;
        if !outcome.success() {
            return Err(BuildError::BuilderFailed {
                drv: shown,
                how: outcome.describe(),
                log: log_file,
                // Filled in by `run_round` once the directory is moved.
                kept: None,
            });
        }
        Ok(user.uid())
    }

    /// The build directory the builder sees and its environment.
    pub(super) fn builder_env(
        &self,
        drv_path: &StorePath,
        drv: &Derivation,
    ) -> (PathBuf, super::env::Env) {
        let sandbox_build_dir = PathBuf::from(format!("/tmp/guix-build-{}-0", drv_path.name()));
        let env = super::env::builder_env(
            drv,
            self.store.store_dir().as_str(),
            &sandbox_build_dir,
            self.opts.cores,
            &super::env::host_var,
        );
        (sandbox_build_dir, env)
    }

    /// The builder's path, once checked to be in the store.
    pub(super) fn checked_builder(
        &self,
        drv: &Derivation,
        shown: &str,
    ) -> Result<PathBuf, BuildError> {
        let builder = PathBuf::from(&drv.builder);
        // As guix-daemon since CVE-2019-5736: the builder must be in the
        // store with no `..` in its path (`.` is harmless), so that
        // `<store>/x/../../proc/self/exe` (abovo itself) cannot be run.
        let lexically_clean = builder
            .components()
            .all(|c| matches!(c, Component::RootDir | Component::Normal(_)));
        if !lexically_clean || self.store.store_dir().parse_prefix(&drv.builder).is_err() {
            return Err(BuildError::BadDerivation {
                drv: shown.to_owned(),
                reason: format!("its builder `{}` is not in the store", drv.builder),
            });
        }
        Ok(builder)
    }

    /// `--check`: every output must have its registered NAR hash.
    fn compare_with_registered(&self, built: &Built<'_>) -> Result<Registered, BuildError> {
        let store = self.store;
        let mut differences = Vec::new();
        for (name, path) in built.outputs {
            let info = store
                .path_info(path)?
                .ok_or_else(|| StoreError::NotValid(store.display(path)))?;
            let new = &built.staged[name];
            if new.result.nar_hash == info.nar_hash {
                continue;
            }
            // The registered copy may be another daemon's (a lower layer);
            // `-K` keeps the other build in this store all the same.
            let registered = store.item_path(path)?;
            let real = store.real_path(path);
            let staged = &new.location;
            let changes = diff_items(&registered, staged, &path.base_name())
                .map(|d| d.changes)
                .unwrap_or_default();
            let kept = if self.opts.keep_failed {
                let check_path = check_path(&real);
                move_replacing(staged, &check_path)?;
                Some(check_path.display().to_string())
            } else {
                None
            };
            differences.push(OutputDifference {
                output: name.clone(),
                path: store.display(path),
                expected: info.nar_hash,
                actual: new.result.nar_hash,
                references_differ: references_of(store, &info) != new.result.references,
                kept,
                changes,
            });
        }
        self.no_differences(built, false, differences)?;
        Ok(None)
    }

    /// `Ok` when no output differs, else the error that lists them.
    fn no_differences(
        &self,
        built: &Built<'_>,
        against_previous_round: bool,
        differences: Vec<OutputDifference>,
    ) -> Result<(), BuildError> {
        if differences.is_empty() {
            return Ok(());
        }
        Err(BuildError::NotDeterministic {
            drv: self.store.display(built.drv_path),
            against_previous_round,
            differences,
        })
    }

    /// `--rounds`: compare with the previous round (held under temporary
    /// names), hold this round there, and after the last round move and
    /// register. On a difference with `--keep-failed`, as Guix: the earlier
    /// round stays at `<out>-check`, this one at the (invalid) output path.
    fn next_round(
        &self,
        built: &Built<'_>,
        previous: Option<&BTreeMap<String, OutputResult>>,
        held: &mut HeldRound,
        last: bool,
    ) -> Result<Registered, BuildError> {
        let store = self.store;
        if let Some(previous) = previous {
            let mut differences = Vec::new();
            for (name, path) in built.outputs {
                let (old, new) = (&previous[name], &built.staged[name].result);
                if old.nar_hash == new.nar_hash && old.references == new.references {
                    continue;
                }
                let real = store.real_path(path);
                let staged = &built.staged[name].location;
                let changes = held
                    .paths
                    .get(name)
                    .and_then(|h| diff_items(h, staged, &path.base_name()).ok())
                    .map(|d| d.changes)
                    .unwrap_or_default();
                differences.push(OutputDifference {
                    output: name.clone(),
                    path: store.display(path),
                    expected: old.nar_hash,
                    actual: new.nar_hash,
                    references_differ: old.references != new.references,
                    kept: self
                        .opts
                        .keep_failed
                        .then(|| check_path(&real).display().to_string()),
                    changes,
                });
            }
            if !differences.is_empty() && self.opts.keep_failed {
                for (name, path) in built.outputs {
                    let real = store.real_path(path);
                    let check = check_path(&real);
                    fsutil::delete_path(&check)?;
                    if let Some(h) = held.paths.remove(name) {
                        fsutil::rename_item(&h, &check)?;
                    }
                    move_replacing(&built.staged[name].location, &real)?;
                }
            }
            self.no_differences(built, true, differences)?;
        }
        if !last {
            for name in built.outputs.keys() {
                let tmp = held
                    .paths
                    .get(name)
                    .cloned()
                    .unwrap_or_else(|| store.temp_path("round"));
                move_replacing(&built.staged[name].location, &tmp)?;
                held.paths.insert(name.clone(), tmp);
            }
            return Ok(None);
        }
        self.register_outputs(built)
    }

    /// Moves the outputs from the chroot into the store (replacing what is
    /// there) and registers them in one transaction; floating outputs at
    /// the paths their content gives ([`floating::register`]).
    fn register_outputs(&self, built: &Built<'_>) -> Result<Registered, BuildError> {
        if let Some(prepared) = built.floating {
            let registered = floating::register(
                self.store,
                built.drv_path,
                built.outputs,
                built.staged,
                prepared,
            )?;
            return Ok(Some(registered));
        }
        let store = self.store;
        let mut registrations = Vec::new();
        for (name, path) in built.outputs {
            let s = &built.staged[name];
            move_replacing(&s.location, &store.real_path(path))?;
            registrations.push(Registration {
                info: PathInfo {
                    path: path.clone(),
                    nar_hash: s.result.nar_hash,
                    nar_size: s.result.nar_size,
                    references: s.references.clone(),
                    deriver: Some(built.drv_path.clone()),
                    registration_time: 0,
                },
                derivation_outputs: BTreeMap::new(),
            });
        }
        store.register(&registrations)?;
        Ok(None)
    }
}

/// What registering gave, when it differs from what was staged: the
/// outputs at their final paths.
type Registered = Option<Vec<OutputResult>>;

/// The outputs of the previous `--rounds` round, held in the store under
/// temporary names (`.abovo-round-<pid>-<n>`) while the next round builds;
/// whatever is still held when it is dropped is deleted.
#[derive(Default)]
struct HeldRound {
    paths: BTreeMap<String, PathBuf>,
}

impl Drop for HeldRound {
    fn drop(&mut self) {
        for p in self.paths.values() {
            let _ = fsutil::delete_path(p);
        }
    }
}

/// Moves `from` to `to`, deleting whatever was at `to` first.
pub(super) fn move_replacing(from: &Path, to: &Path) -> Result<(), fsutil::FsError> {
    fsutil::delete_path(to)?;
    fsutil::rename_item(from, to)
}

fn references_of(store: &LocalStore, info: &PathInfo) -> BTreeSet<String> {
    info.references.iter().map(|r| store.display(r)).collect()
}

/// `<out>-check`: where Guix keeps the other build of an output (Nix uses
/// `.check`).
pub fn check_path(real: &Path) -> PathBuf {
    let mut s = real.as_os_str().to_owned();
    s.push("-check");
    PathBuf::from(s)
}

/// This machine's system type, as Guix names it.
pub fn host_system() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "x86_64-linux",
        "x86" => "i686-linux",
        "aarch64" => "aarch64-linux",
        "arm" => "armhf-linux",
        "powerpc64" => "powerpc64le-linux",
        "riscv64" => "riscv64-linux",
        _ => "unknown-linux",
    }
}

fn check_system(drv: &Derivation, shown: &str) -> Result<(), BuildError> {
    let host = host_system();
    let ok = drv.system == host
        || (host == "x86_64-linux" && drv.system == "i686-linux")
        || (host == "aarch64-linux" && drv.system == "armhf-linux");
    if ok {
        Ok(())
    } else {
        Err(BuildError::UnsupportedSystem {
            drv: shown.to_owned(),
            system: drv.system.clone(),
            host: host.to_owned(),
        })
    }
}

/// Creates `path`, mode 0700: a directory only abovo (and, after a chown,
/// the build user) can enter.
fn create_private_dir(path: &Path) -> Result<(), BuildError> {
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(path)
        .map_err(io_err(path, "create"))?;
    Ok(())
}
