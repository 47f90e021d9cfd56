//! `--check` against another daemon's store: `guix build --check` done by a
//! second, independent daemon, which never writes to the first one's store
//! or database.
//!
//! A [`ForeignCheck`] is a **scratch store**: a fresh abovo store in a
//! directory of its own (`abovo-check-<pid>-<n>` under the caller's
//! temporary directory; its database in memory, since nothing is ever
//! registered in it), whose store directory is the foreign store's
//! (`/gnu/store`), over the foreign store as its lower layer
//! ([`LocalStore::with_lower`]). Building a target with `--check` in it
//! then does what a local `--check` does:
//!
//! * the inputs are the foreign store's items, bound read-only into the
//!   sandbox from where they are, at their `/gnu/store/…` paths; nothing is
//!   copied;
//! * locks, the chroot, the rebuilt outputs, `OUT-check` with `-K` and the
//!   build logs are in the scratch store;
//! * each rebuilt output's NAR hash is compared with the one the foreign
//!   database registered, and when they differ, the rebuilt tree is
//!   compared file by file with the foreign store's copy ([`crate::diff`]).
//!
//! [`ForeignCheck::prepare`] first makes sure that this is possible and
//! says every reason it is not: each target is a valid `.drv` of the
//! foreign store whose path recomputes from its bytes, its outputs are
//! valid there (there is something to compare with), and so is every input
//! it needs (an input the other daemon has not built is not built here
//! either). The scratch store is deleted when the check is dropped, unless
//! [`ForeignCheck::keep`] was called.

use super::ForeignStore;
use crate::fsutil;
use crate::store::{LocalStore, StoreConfig, StoreError};
use abovo_store::StorePath;
use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

/// Why targets cannot be checked against a foreign store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The targets cannot be checked; each reason is listed.
    #[error("cannot check against the store `{store}` (database `{}`): {}", database.display(), Reasons(.reasons))]
    Impossible {
        /// The foreign store directory.
        store: String,
        /// Its database.
        database: PathBuf,
        /// Every reason.
        reasons: Vec<String>,
    },
}

struct Reasons<'a>(&'a [String]);

impl fmt::Display for Reasons<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            [one] => write!(f, "{one}"),
            all => {
                write!(f, "{} problems", all.len())?;
                for r in all {
                    write!(f, "\n  {r}")?;
                }
                Ok(())
            }
        }
    }
}

/// A scratch store over a foreign store (see the module docs).
pub struct ForeignCheck {
    // Fields drop in order: the store (and its database connection) goes
    // before its directory is deleted.
    store: LocalStore,
    dir: ScratchDir,
}

/// The scratch directory, deleted when dropped unless kept.
struct ScratchDir {
    path: PathBuf,
    keep: bool,
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fsutil::delete_path(&self.path);
        }
    }
}

impl ForeignCheck {
    /// Creates the scratch store in a new directory under `parent`.
    pub fn new(foreign: ForeignStore, parent: &Path) -> Result<ForeignCheck, StoreError> {
        use std::os::unix::fs::DirBuilderExt;
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let dir = loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let dir = parent.join(format!("abovo-check-{}-{n}", std::process::id()));
            match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => break dir,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(StoreError::Io(crate::IoError {
                        path: dir,
                        action: "create the scratch store",
                        source: e,
                    }));
                }
            }
        };
        let config = StoreConfig::with_real_dir(
            foreign.store_dir().clone(),
            dir.join("store"),
            Some(dir.join("var")),
        );
        let scratch = ScratchDir {
            path: dir,
            keep: false,
        };
        // Nothing is registered in it (inputs and outputs are the other
        // store's): its database lives in memory.
        let store = LocalStore::open_scratch(config)?.with_lower(foreign)?;
        Ok(ForeignCheck {
            store,
            dir: scratch,
        })
    }

    /// The scratch store, to build in with `--check`.
    pub fn store(&self) -> &LocalStore {
        &self.store
    }

    /// The foreign store.
    pub fn foreign(&self) -> Option<&ForeignStore> {
        self.store.lower()
    }

    /// The scratch directory.
    pub fn dir(&self) -> &Path {
        &self.dir.path
    }

    /// Keeps the scratch directory when the check is dropped (with `-K`, the
    /// other builds are there, and the logs of failed builds), and returns
    /// it.
    pub fn keep(&mut self) -> &Path {
        self.dir.keep = true;
        &self.dir.path
    }

    /// Checks that `targets` can be checked (see the module docs).
    pub fn prepare(&self, targets: &[StorePath]) -> Result<(), CheckError> {
        let Some(foreign) = self.store.lower() else {
            return Ok(());
        };
        let shown = |p: &StorePath| foreign.store_dir().display(p);
        let mut reasons = Vec::new();
        let mut inputs_missing: BTreeSet<(String, String)> = BTreeSet::new();
        for target in targets {
            if !foreign.is_valid(target)? {
                reasons.push(format!("`{}` is not valid in it", shown(target)));
                continue;
            }
            let file = foreign.real_path(target);
            let bytes = match std::fs::read(&file) {
                Ok(b) => b,
                Err(e) => {
                    reasons.push(format!("cannot read `{}`: {e}", file.display()));
                    continue;
                }
            };
            let drv = match abovo_store::derivation::Derivation::parse(foreign.store_dir(), &bytes)
            {
                Ok(d) => d,
                Err(e) => {
                    reasons.push(format!("`{}` is not a derivation: {e}", shown(target)));
                    continue;
                }
            };
            let computed =
                foreign
                    .store_dir()
                    .make_text_path(target.name(), &bytes, drv.references());
            if computed.as_ref() != Ok(target) {
                reasons.push(format!(
                    "`{}` does not match its content: its bytes and references give another path",
                    shown(target)
                ));
                continue;
            }
            for (name, output) in &drv.outputs {
                match &output.path {
                    Some(p) if foreign.is_valid(p)? => {}
                    Some(p) => reasons.push(format!(
                        "output `{name}` of `{}`, `{}`, is not valid in it: there is nothing to \
                         compare with (build it with the other daemon first)",
                        shown(target),
                        shown(p)
                    )),
                    None => reasons.push(format!(
                        "output `{name}` of `{}` has no path",
                        shown(target)
                    )),
                }
            }
            for src in &drv.input_sources {
                if !foreign.is_valid(src)? {
                    inputs_missing.insert((shown(src), shown(target)));
                }
            }
            for (input, wanted) in &drv.input_derivations {
                let input_drv = match foreign.is_valid(input)? {
                    true => self.store.read_derivation(input).ok(),
                    false => None,
                };
                let Some(input_drv) = input_drv else {
                    inputs_missing.insert((shown(input), shown(target)));
                    continue;
                };
                for o in wanted {
                    match input_drv.outputs.get(o).and_then(|o| o.path.as_ref()) {
                        Some(p) if foreign.is_valid(p)? => {}
                        Some(p) => {
                            inputs_missing.insert((shown(p), shown(target)));
                        }
                        None => reasons.push(format!(
                            "input `{}` of `{}` has no output `{o}`",
                            shown(input),
                            shown(target)
                        )),
                    }
                }
            }
        }
        for (input, target) in inputs_missing {
            reasons.push(format!(
                "input `{input}` of `{target}` is not valid in it (every input comes from the \
                 other daemon's store: build it there first)"
            ));
        }
        if reasons.is_empty() {
            return Ok(());
        }
        Err(CheckError::Impossible {
            store: foreign.store_dir().to_string(),
            database: foreign.database().to_owned(),
            reasons,
        })
    }
}
