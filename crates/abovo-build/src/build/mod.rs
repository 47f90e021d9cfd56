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
//!
//! | module | job |
//! | --- | --- |
//! | this one | the plan, the [`Builder`] and what it reports |
//! | `options` | [`BuildOptions`], [`FixedOutputNetwork`] |
//! | `error` | [`BuildError`], [`OutputDifference`] |
//! | `schedule` | the worker threads that run the plan |
//! | `goal` | realising one derivation |
//! | [`remote`] | what a remote executor (`--remote`, the `abovo-remote` crate) is given and gives back |
//! | [`floating`] | Nix's floating content-addressed outputs: resolving, scratch paths, the paths their content gives |

pub mod build_dir;
pub mod build_user;
pub mod env;
mod error;
pub mod floating;
mod goal;
pub mod log;
mod options;
pub mod outputs;
mod references_graph;
pub mod remote;
mod schedule;

use crate::store::{LocalStore, StoreError};
use abovo_store::StorePath;
use schedule::{Node, topological};
use std::collections::{BTreeMap, BTreeSet};

pub use build_user::BuildUser;
pub use error::{BuildError, OutputDifference};
pub use goal::{OutputResult, Realised};
pub use options::{BuildOptions, FixedOutputNetwork};
pub use remote::{InputTrees, RemoteExecutor, RemoteJob, RemoteOutcome};

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
        for name in drv.outputs.keys() {
            if wanted.is_some_and(|w| !w.contains(name)) {
                continue;
            }
            // An output not in the `.drv` (floating, deferred) is where
            // its build registered it.
            if floating::realised(self.store, drv_path, &drv, name)?.is_none() {
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
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use crate::sandbox::HelperCommand;
    use crate::store::StoreConfig;
    use abovo_store::StoreDir;
    use abovo_store::derivation::Derivation;

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
