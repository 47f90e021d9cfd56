//! Realising derivations: planning, scheduling and the options of a build.
//!
//! [`Builder::build`] takes `.drv` paths that are valid in the store and
//! makes their outputs valid:
//!
//! 1. **plan**: walk the input derivations; a derivation needs building when
//!    one of the outputs asked of it is not valid (with `--check`, the
//!    targets are rebuilt although they are valid). Every input source must
//!    be valid.
//! 2. **schedule**: up to `jobs` derivations build at once, each as soon as
//!    its inputs are done; after a failure no new build starts (unless
//!    `keep_going`) and the derivations that depend on it are reported as
//!    such.
//! 3. **realise** each one (`goal.rs`): lock its outputs (a second process
//!    asking for the same derivation waits here and then finds them valid),
//!    run the builder in its sandbox or a built-in, post-process the outputs
//!    ([`outputs`]) and register them in one transaction.

pub mod build_dir;
pub mod build_user;
pub mod env;
mod goal;
pub mod log;
pub mod outputs;
mod references_graph;

use crate::builtins::DownloadOptions;
use crate::diff::Change;
use crate::sandbox::{HelperCommand, Limits, SandboxError};
use crate::store::{LocalStore, StoreError};
use abovo_store::derivation::Derivation;
use abovo_store::{Hash, StorePath};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::PathBuf;
use std::sync::{Condvar, Mutex};

pub use build_user::BuildUser;
pub use goal::{OutputResult, Realised};

/// Options of a build (`abovo build`'s flags).
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// How many derivations build at once.
    pub jobs: usize,
    /// `NIX_BUILD_CORES`; `None` passes `0` ("all"), as guix-daemon does.
    pub cores: Option<u32>,
    /// Silence and total time limits.
    pub limits: Limits,
    /// Keep the build directory of a failed build, and the differing output
    /// of `--check`/`--rounds` as `<out>-check`.
    pub keep_failed: bool,
    /// Rebuild the targets although their outputs are valid and compare.
    pub check: bool,
    /// Rebuild the targets and replace their outputs (corrupt or missing
    /// items of a store with a valid deriver).
    pub repair: bool,
    /// Build each derivation this many times and compare (at least 1).
    pub rounds: u32,
    /// Go on with other derivations after a failure.
    pub keep_going: bool,
    /// How to start the sandbox helper.
    pub helper: HelperCommand,
    /// Where host build directories are created (`$TMPDIR` or `/tmp`).
    pub tmp_dir: PathBuf,
    /// Settings of `builtin:download` and `builtin:git-download`.
    pub downloads: DownloadOptions,
    /// How build logs are compressed (gzip, as guix-daemon does by
    /// default).
    pub log_compression: log::LogCompression,
    /// Install the system call filter in the sandbox (no setuid or setgid
    /// bits, no extended attributes) and `no_new_privs`, as Nix does. Off by
    /// default: guix-daemon has neither, a builder can see both, and a
    /// build Guix passes (one that sets a setuid bit, which canonicalisation
    /// clears) would fail.
    pub filter_syscalls: bool,
    /// The network of fixed-output builds.
    pub fixed_output_network: FixedOutputNetwork,
}

impl BuildOptions {
    /// Defaults: one job per core, one round, no limits.
    pub fn new(helper: HelperCommand) -> BuildOptions {
        BuildOptions {
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cores: None,
            limits: Limits::default(),
            keep_failed: false,
            check: false,
            repair: false,
            rounds: 1,
            keep_going: false,
            helper,
            tmp_dir: std::env::var_os("TMPDIR")
                .filter(|v| !v.is_empty())
                .map_or_else(|| PathBuf::from("/tmp"), PathBuf::from),
            downloads: DownloadOptions::default(),
            filter_syscalls: false,
            fixed_output_network: FixedOutputNetwork::Auto,
            log_compression: log::LogCompression::Gzip,
        }
    }
}

/// The network of a fixed-output build (an ordinary build never has one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FixedOutputNetwork {
    /// As guix-daemon 1.5: a network namespace of its own, connected through
    /// `slirp4netns` when it is installed (found in `PATH`), otherwise with
    /// no network at all.
    #[default]
    Auto,
    /// A network namespace of its own and no network, even with
    /// `slirp4netns`.
    None,
    /// Through `slirp4netns`; the build fails when it is not installed.
    Slirp4netns,
    /// The host's network namespace, as abovo and guix-daemon before 1.5
    /// gave fixed-output builds: the builder can then talk to anything on
    /// the host, abstract Unix sockets included.
    Host,
}

impl FixedOutputNetwork {
    /// The sandbox's network for a fixed-output build; `Err` names what is
    /// missing.
    pub fn resolve(self) -> Result<abovo_sandbox::Network, String> {
        use abovo_sandbox::Network;
        Ok(match self {
            FixedOutputNetwork::Host => Network::Host,
            FixedOutputNetwork::None => Network::Isolated,
            FixedOutputNetwork::Auto => match find_in_path("slirp4netns") {
                Some(p) if tun_is_usable() => Network::Slirp(p),
                _ => Network::Isolated,
            },
            FixedOutputNetwork::Slirp4netns => match find_in_path("slirp4netns") {
                Some(p) if tun_is_usable() => Network::Slirp(p),
                Some(_) => {
                    return Err(format!(
                        "slirp4netns cannot open `{TUN}` (it is not readable and writable by \
                         this user); it gives fixed-output builds their network"
                    ));
                }
                None => {
                    return Err("`slirp4netns` is not installed (not found in PATH); \
                                it gives fixed-output builds their network"
                        .into());
                }
            },
        })
    }
}

/// The device slirp4netns makes its interface with.
const TUN: &str = "/dev/net/tun";

/// Whether this process may open [`TUN`] for reading and writing: always
/// as root; without privileges only where it is mode 0666, as on most
/// distributions (some containers make it 0600: slirp4netns then cannot
/// run, and `auto` gives the build no network, as when it is missing).
fn tun_is_usable() -> bool {
    use rustix::fs::{Access, AtFlags, CWD};
    rustix::fs::accessat(
        CWD,
        TUN,
        Access::READ_OK | Access::WRITE_OK,
        AtFlags::EACCESS,
    )
    .is_ok()
}

/// The first executable file named `name` in `PATH`.
fn find_in_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// One output whose rebuild differs.
///
/// In JSON its keys are the field names (snake_case, like every abovo report).
#[derive(Debug, Clone, serde::Serialize)]
pub struct OutputDifference {
    /// The output name.
    pub output: String,
    /// The output path.
    pub path: String,
    /// NAR hash of the registered output or of the previous round.
    pub expected: Hash,
    /// NAR hash of the new build.
    pub actual: Hash,
    /// Whether the references differ too (`--rounds` compares them).
    pub references_differ: bool,
    /// Where the other build was kept (`<out>-check`), with `--keep-failed`.
    pub kept: Option<String>,
    /// Every file that differs.
    pub changes: Vec<Change>,
}

/// Why a derivation could not be realised.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The sandbox could not be set up.
    #[error("cannot build `{drv}`: {source}")]
    Sandbox {
        /// The derivation.
        drv: String,
        /// Why.
        #[source]
        source: SandboxError,
    },
    /// Something the build needs is not there (`slirp4netns`).
    #[error("cannot build `{drv}`: {reason}")]
    Unavailable {
        /// The derivation.
        drv: String,
        /// What is missing.
        reason: String,
    },
    /// The builder failed.
    #[error("builder for `{drv}` {how}; see the build log: {}{}", log.display(),
        kept.as_ref().map(|k| format!("\n  (build directory kept at {})", k.display())).unwrap_or_default())]
    BuilderFailed {
        /// The derivation.
        drv: String,
        /// What happened (`exited with code 1`).
        how: String,
        /// Its log file.
        log: PathBuf,
        /// The build directory, when kept.
        kept: Option<PathBuf>,
    },
    /// A built-in builder failed.
    #[error("built-in builder `{builtin}` for `{drv}` failed: {reason}")]
    BuiltinFailed {
        /// The derivation.
        drv: String,
        /// The built-in (`download`).
        builtin: String,
        /// Why.
        reason: String,
    },
    /// The builder did not create an output.
    #[error("builder for `{drv}` failed to produce output path `{path}`")]
    MissingOutput {
        /// The derivation.
        drv: String,
        /// The output path.
        path: String,
    },
    /// An output that must not be accepted (group- or world-writable top,
    /// foreign owner, wrong file type).
    #[error("suspicious output `{path}` of `{drv}`: {reason}")]
    Suspicious {
        /// The derivation.
        drv: String,
        /// The output path.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// An output holds a file of a type no store item can hold (a FIFO, a
    /// socket, a device).
    #[error("file `{}` (in an output of `{drv}`) has an unsupported type: it is a {kind}; store items hold only regular files, directories and symlinks", file.display())]
    UnsupportedFileType {
        /// The derivation.
        drv: String,
        /// The file, where it was built.
        file: PathBuf,
        /// Its type.
        kind: &'static str,
    },
    /// A fixed output with the wrong hash; nothing was registered.
    #[error(
        "hash mismatch for store item `{path}` (built by `{drv}`):\n  expected hash: {expected}\n  actual hash:   {actual}"
    )]
    HashMismatch {
        /// The derivation.
        drv: String,
        /// The output path.
        path: String,
        /// The expected hash, `algo:<nix32>`.
        expected: String,
        /// The hash of what was built, `algo:<nix32>`.
        actual: String,
    },
    /// An output refers to a path its derivation forbids.
    #[error("output `{path}` of `{drv}` is not allowed to refer to `{reference}` ({attribute})")]
    ForbiddenReference {
        /// The derivation.
        drv: String,
        /// The output.
        path: String,
        /// The reference.
        reference: String,
        /// The attribute (`allowedReferences`, …).
        attribute: String,
    },
    /// Outputs that refer to each other, which no store can register.
    #[error("cycle detected in the references of `{path}` from `{referrer}` (outputs of `{drv}`)")]
    ReferenceCycle {
        /// The derivation.
        drv: String,
        /// The output met again.
        path: String,
        /// The output that refers to it.
        referrer: String,
    },
    /// The rebuild differs from the registered output or the previous round.
    #[error("derivation `{drv}` may not be deterministic:{}", describe_differences(.differences, *.against_previous_round))]
    NotDeterministic {
        /// The derivation.
        drv: String,
        /// True for `--rounds`, false for `--check`.
        against_previous_round: bool,
        /// Every output that differs.
        differences: Vec<OutputDifference>,
    },
    /// `--check` on a derivation whose outputs are not all valid.
    #[error("some outputs of `{drv}` are not valid, so checking is not possible (build it first)")]
    CheckNotPossible {
        /// The derivation.
        drv: String,
    },
    /// An input is not valid.
    #[error("input `{input}` of `{drv}` is not valid (hint: add it with `abovo add` or build it)")]
    InputNotValid {
        /// The derivation.
        drv: String,
        /// The input.
        input: String,
    },
    /// A derivation it depends on failed.
    #[error("cannot build `{drv}`: its input `{dependency}` failed")]
    DependencyFailed {
        /// The derivation.
        drv: String,
        /// The failed input derivation.
        dependency: String,
    },
    /// The derivation is for a system this machine cannot run.
    #[error("a `{system}` is required to build `{drv}`, but I am a `{host}`")]
    UnsupportedSystem {
        /// The derivation.
        drv: String,
        /// Its system.
        system: String,
        /// This machine's system.
        host: String,
    },
    /// Something the derivation asks for is malformed.
    #[error("derivation `{drv}`: {reason}")]
    BadDerivation {
        /// The derivation.
        drv: String,
        /// What is wrong.
        reason: String,
    },
    /// A file operation failed.
    #[error(transparent)]
    Fs(#[from] crate::fsutil::FsError),
    /// The directory that holds the build directories is not abovo's
    /// alone ([`build_dir`]).
    #[error(
        "refusing to build in `{}`: {reason} (hint: remove it, or set TMPDIR to a directory of your own)",
        path.display()
    )]
    UnsafeBuildArea {
        /// The build area.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The derivation breaks a rule every derivation must follow.
    #[error("`{drv}` is not a valid derivation: {reason}")]
    Invalid {
        /// The derivation.
        drv: String,
        /// The rule it breaks.
        reason: String,
    },
}

fn describe_differences(differences: &[OutputDifference], rounds: bool) -> String {
    let mut s = String::new();
    for d in differences {
        let kept = d
            .kept
            .as_ref()
            .map(|k| format!(" (kept at {k})"))
            .unwrap_or_default();
        let changes = match d.changes.len() {
            0 if d.references_differ => "only its references differ".to_owned(),
            0 => "its NAR hash differs".to_owned(),
            1 => "1 difference".to_owned(),
            n => format!("{n} differences"),
        };
        s.push_str(&format!(
            "\n  output `{}` differs from {}{kept}: {changes}",
            d.path,
            if rounds {
                "the previous round"
            } else {
                "the registered output"
            },
        ));
        for c in &d.changes {
            s.push_str(&format!("\n    {}", c.summary()));
        }
    }
    s
}

impl BuildError {
    /// Whether this is a reproducibility failure (a negative answer rather
    /// than an error).
    pub fn is_not_deterministic(&self) -> bool {
        matches!(self, BuildError::NotDeterministic { .. })
    }
}

/// Progress of a build, reported as it happens (the CLI draws it; the
/// library never prints). Every method has an empty default.
pub trait Reporter: Sync {
    /// The derivations that will be built, in a dependency order.
    fn planned(&self, _drvs: &[StorePath]) {}
    /// Another process holds the lock of `drv`'s outputs; waiting for it.
    fn waiting(&self, _drv: &StorePath) {}
    /// A round of a build starts.
    fn started(&self, _drv: &StorePath, _round: u32, _rounds: u32) {}
    /// The builder wrote to its log.
    fn log(&self, _drv: &StorePath, _data: &[u8]) {}
    /// A derivation is done, successfully or not.
    fn finished(&self, _drv: &StorePath, _ok: bool) {}
}

/// A reporter that ignores everything.
pub struct NoReporter;
impl Reporter for NoReporter {}

/// What happened to one derivation.
#[derive(Debug)]
pub enum DrvResult {
    /// Built (or checked, or already valid).
    Done(Realised),
    /// Failed.
    Failed(BuildError),
    /// Not attempted because another build failed first.
    Skipped,
}

/// The results of [`Builder::build`].
#[derive(Debug, Default)]
pub struct BuildReport {
    /// Every derivation that was considered, in the order they finished.
    pub results: Vec<(StorePath, DrvResult)>,
}

impl BuildReport {
    /// The failures.
    pub fn failures(&self) -> impl Iterator<Item = (&StorePath, &BuildError)> {
        self.results.iter().filter_map(|(p, r)| match r {
            DrvResult::Failed(e) => Some((p, e)),
            _ => None,
        })
    }

    /// Whether every derivation was realised.
    pub fn success(&self) -> bool {
        self.results
            .iter()
            .all(|(_, r)| matches!(r, DrvResult::Done(_)))
    }
}

/// Builds derivations in a store.
pub struct Builder<'a> {
    store: &'a LocalStore,
    opts: BuildOptions,
    reporter: &'a dyn Reporter,
}

/// How a derivation of the plan is realised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Build when an output is not valid.
    Normal,
    /// Rebuild and compare with the registered outputs.
    Check,
    /// Rebuild and replace the outputs.
    Repair,
}

struct Node {
    drv: Derivation,
    deps: BTreeSet<StorePath>,
    mode: Mode,
}

#[derive(Default)]
struct Schedule {
    waiting_on: BTreeMap<StorePath, usize>,
    ready: VecDeque<StorePath>,
    running: usize,
    stop: bool,
    report: BuildReport,
    done: BTreeSet<StorePath>,
}

impl<'a> Builder<'a> {
    /// A builder for `store`.
    pub fn new(
        store: &'a LocalStore,
        opts: BuildOptions,
        reporter: &'a dyn Reporter,
    ) -> Builder<'a> {
        Builder {
            store,
            opts,
            reporter,
        }
    }

    /// The store.
    pub fn store(&self) -> &LocalStore {
        self.store
    }

    /// The options.
    pub fn options(&self) -> &BuildOptions {
        &self.opts
    }

    /// Realises the targets (valid `.drv` paths) and everything they need.
    /// An error here means the plan could not be made; build failures are
    /// in the report.
    pub fn build(&self, targets: &[StorePath]) -> Result<BuildReport, BuildError> {
        let mut plan: BTreeMap<StorePath, Node> = BTreeMap::new();
        for t in targets {
            if !t.is_derivation() {
                return Err(BuildError::BadDerivation {
                    drv: self.store.display(t),
                    reason: "not a `.drv` store path".into(),
                });
            }
            if !self.store.is_valid(t)? {
                return Err(StoreError::NotValid(self.store.display(t)).into());
            }
            let mode = if self.opts.repair {
                Mode::Repair
            } else if self.opts.check {
                Mode::Check
            } else {
                Mode::Normal
            };
            self.visit(t, None, mode, &mut plan)?;
        }
        // The build directories of killed builds (best effort: a failure
        // here must not stop a build; `store verify --repair` reports it).
        let _ = build_dir::reclaim(&self.opts.tmp_dir);
        let order = topological(&plan);
        self.reporter.planned(&order);
        Ok(self.run_plan(plan, order))
    }

    /// Adds `drv_path` to the plan if it needs building; `wanted` are the
    /// outputs its dependent uses (`None`: all).
    fn visit(
        &self,
        drv_path: &StorePath,
        wanted: Option<&BTreeSet<String>>,
        mode: Mode,
        plan: &mut BTreeMap<StorePath, Node>,
    ) -> Result<bool, BuildError> {
        if plan.contains_key(drv_path) {
            return Ok(true);
        }
        let drv = self.store.read_derivation(drv_path)?;
        // A `.drv` need not have come through `abovo derivation add`.
        let name = drv_path.derivation_name().unwrap_or(drv_path.name());
        crate::store::add::check_derivation(&drv, name).map_err(|reason| BuildError::Invalid {
            drv: self.store.display(drv_path),
            reason,
        })?;
        let mut needed = mode != Mode::Normal;
        for (name, output) in &drv.outputs {
            if wanted.is_some_and(|w| !w.contains(name)) {
                continue;
            }
            let Some(path) = &output.path else {
                return Err(BuildError::BadDerivation {
                    drv: self.store.display(drv_path),
                    reason: format!("its output `{name}` has no path"),
                });
            };
            if !self.store.is_valid(path)? {
                needed = true;
            }
        }
        if !needed {
            return Ok(false);
        }
        for src in &drv.input_sources {
            if !self.store.is_valid(src)? {
                return Err(BuildError::InputNotValid {
                    drv: self.store.display(drv_path),
                    input: self.store.display(src),
                });
            }
        }
        let mut deps = BTreeSet::new();
        for (input, outputs) in &drv.input_derivations {
            if !self.store.is_valid(input)? {
                return Err(BuildError::InputNotValid {
                    drv: self.store.display(drv_path),
                    input: self.store.display(input),
                });
            }
            if self.visit(input, Some(outputs), Mode::Normal, plan)? {
                deps.insert(input.clone());
            }
        }
        plan.insert(drv_path.clone(), Node { drv, deps, mode });
        Ok(true)
    }

    fn run_plan(&self, plan: BTreeMap<StorePath, Node>, order: Vec<StorePath>) -> BuildReport {
        let mut dependents: BTreeMap<StorePath, Vec<StorePath>> = BTreeMap::new();
        let mut sched = Schedule::default();
        for (p, n) in &plan {
            sched.waiting_on.insert(p.clone(), n.deps.len());
            for d in &n.deps {
                dependents.entry(d.clone()).or_default().push(p.clone());
            }
        }
        for p in &order {
            if plan[p].deps.is_empty() {
                sched.ready.push_back(p.clone());
            }
        }
        let total = plan.len();
        let state = Mutex::new(sched);
        let wake = Condvar::new();
        let workers = self.opts.jobs.clamp(1, total.max(1));
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| {
                    self.worker(&plan, &dependents, &state, &wake, total);
                });
            }
        });
        let mut sched = state.into_inner().unwrap_or_else(|p| p.into_inner());
        // Whatever never ran (after a failure without keep_going).
        for p in order {
            if !sched.done.contains(&p) {
                sched.report.results.push((p, DrvResult::Skipped));
            }
        }
        sched.report
    }

    fn worker(
        &self,
        plan: &BTreeMap<StorePath, Node>,
        dependents: &BTreeMap<StorePath, Vec<StorePath>>,
        state: &Mutex<Schedule>,
        wake: &Condvar,
        total: usize,
    ) {
        loop {
            let next = {
                let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
                loop {
                    if s.done.len() == total || (s.stop && s.running == 0) {
                        wake.notify_all();
                        return;
                    }
                    if !s.stop
                        && let Some(p) = s.ready.pop_front()
                    {
                        s.running += 1;
                        break p;
                    }
                    if s.stop || (s.ready.is_empty() && s.running == 0) {
                        wake.notify_all();
                        return;
                    }
                    s = wake.wait(s).unwrap_or_else(|p| p.into_inner());
                }
            };
            let node = &plan[&next];
            let result = self.realise(&next, &node.drv, node.mode);
            self.reporter.finished(&next, result.is_ok());
            let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
            s.running -= 1;
            s.done.insert(next.clone());
            match result {
                Ok(r) => {
                    for d in dependents.get(&next).into_iter().flatten() {
                        if let Some(n) = s.waiting_on.get_mut(d) {
                            *n -= 1;
                            if *n == 0 {
                                s.ready.push_back(d.clone());
                            }
                        }
                    }
                    s.report.results.push((next, DrvResult::Done(r)));
                }
                Err(e) => {
                    // Everything downstream of a failure fails with it.
                    let mut todo: Vec<StorePath> =
                        dependents.get(&next).cloned().unwrap_or_default();
                    while let Some(d) = todo.pop() {
                        if s.done.insert(d.clone()) {
                            s.report.results.push((
                                d.clone(),
                                DrvResult::Failed(BuildError::DependencyFailed {
                                    drv: self.store.display(&d),
                                    dependency: self.store.display(&next),
                                }),
                            ));
                            todo.extend(dependents.get(&d).cloned().unwrap_or_default());
                        }
                    }
                    s.report.results.push((next, DrvResult::Failed(e)));
                    if !self.opts.keep_going {
                        s.stop = true;
                    }
                }
            }
            wake.notify_all();
        }
    }
}

/// The plan's derivations, inputs before their dependents, ties broken by
/// path.
fn topological(plan: &BTreeMap<StorePath, Node>) -> Vec<StorePath> {
    let mut order = Vec::with_capacity(plan.len());
    let mut seen = BTreeSet::new();
    fn visit(
        p: &StorePath,
        plan: &BTreeMap<StorePath, Node>,
        seen: &mut BTreeSet<StorePath>,
        order: &mut Vec<StorePath>,
    ) {
        if !seen.insert(p.clone()) {
            return;
        }
        for d in &plan[p].deps {
            visit(d, plan, seen, order);
        }
        order.push(p.clone());
    }
    for p in plan.keys() {
        visit(p, plan, &mut seen, &mut order);
    }
    order
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use crate::store::StoreConfig;
    use abovo_store::StoreDir;

    #[test]
    fn a_derivation_without_outputs_is_not_built() {
        // A `.drv` that did not come through `derivation add` (written as a
        // plain text item), so only the builder's own check stands between
        // it and an empty "success".
        let dir = tempfile::tempdir().unwrap();
        let store_dir = StoreDir::new(dir.path().join("store").to_str().unwrap()).unwrap();
        let store = LocalStore::open(StoreConfig::new(store_dir.clone(), None)).unwrap();
        let drv = Derivation {
            system: "x86_64-linux".into(),
            builder: "/bin/sh".into(),
            ..Derivation::default()
        };
        let path = store
            .add_text("empty.drv", &drv.to_aterm(&store_dir), &BTreeSet::new())
            .unwrap();
        let opts = BuildOptions::new(HelperCommand::reexec("unused"));
        let err = Builder::new(&store, opts, &NoReporter)
            .build(&[path])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("is not a valid derivation: it has no outputs"),
            "{err}"
        );
    }
}
