//! Checking a store against its database (`abovo store verify`).
//!
//! For every valid item:
//!
//! * it exists on disk;
//! * the SHA-256 and size of its NAR are the recorded ones;
//! * the references recorded for a built output or a `.drv` are really in its
//!   bytes (one streaming pass computes the NAR hash and scans for them);
//!   a `.drv` refers to exactly its input derivations and sources and its
//!   `DerivationOutputs` rows are its outputs;
//!
//! and for the database as a whole, SQLite's integrity check and the foreign
//! keys (every reference is valid).
//!
//! Paths in the store directory that are not valid do not make the store
//! inconsistent (nothing uses them) and are listed apart, in two groups:
//!
//! * **kept** trees, which `abovo build --keep-failed` left on purpose so
//!   that a difference can be examined: `<out>-check` (the other build of a
//!   differing output; only `-K` ever makes this name) and, after
//!   `--rounds -K`, the unregistered later round at `<out>` next to it.
//!   [`LocalStore::remove_kept`] deletes them when asked
//!   (`store verify --remove-check`), never otherwise;
//! * **leftovers** of interrupted work (temporary names, chroots, outputs
//!   of a killed build). [`LocalStore::remove_leftovers`] deletes those no
//!   running process owns, and the lock files nobody holds.
//!
//! Entries whose names abovo never makes (not a store path name, an
//! `.abovo-…` temporary name, a `.drv.chroot` or the lock file of one), such
//! as Guix's `.links` or anything a user put there, are **foreign**: listed,
//! never deleted, since abovo cannot know what they are. A symlink among
//! them is not followed.

use super::lock::{PathLocks, Wait};
use super::{LocalStore, StoreError, io_err};
use crate::fsutil;
use abovo_store::StorePath;
use abovo_store::references::{ReferenceScanner, hash_and_scan_path};
use serde::Serialize;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// One inconsistency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Problem {
    /// A valid item is not on disk.
    Missing {
        /// The item.
        path: String,
    },
    /// The NAR hash or size differs from the recorded one.
    Corrupt {
        /// The item.
        path: String,
        /// Recorded `sha256:<nix32>` and size.
        expected: String,
        /// Found `sha256:<nix32>` and size.
        actual: String,
    },
    /// A recorded reference whose hash is not in the item's bytes.
    ReferenceNotFound {
        /// The item.
        path: String,
        /// The reference.
        reference: String,
    },
    /// A `.drv` whose recorded references or outputs are not what its text
    /// says, or that does not parse.
    BadDerivation {
        /// The `.drv`.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The item cannot be read or serialised.
    Unreadable {
        /// The item.
        path: String,
        /// Why.
        reason: String,
    },
    /// A database-wide problem (SQLite integrity, foreign keys).
    Database {
        /// What is wrong.
        reason: String,
    },
}

impl Problem {
    /// The store item concerned, if any.
    pub fn path(&self) -> Option<&str> {
        match self {
            Problem::Missing { path }
            | Problem::Corrupt { path, .. }
            | Problem::ReferenceNotFound { path, .. }
            | Problem::BadDerivation { path, .. }
            | Problem::Unreadable { path, .. } => Some(path),
            Problem::Database { .. } => None,
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Missing { path } => write!(f, "`{path}` is valid but missing on disk"),
            Problem::Corrupt {
                path,
                expected,
                actual,
            } => write!(
                f,
                "`{path}` was modified: expected {expected}, found {actual}"
            ),
            Problem::ReferenceNotFound { path, reference } => write!(
                f,
                "`{path}` is recorded as referring to `{reference}`, but its bytes do not"
            ),
            Problem::BadDerivation { path, reason } => write!(f, "`{path}`: {reason}"),
            Problem::Unreadable { path, reason } => write!(f, "`{path}`: {reason}"),
            Problem::Database { reason } => write!(f, "database: {reason}"),
        }
    }
}

/// What `verify` found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyReport {
    /// How many valid items were checked.
    pub checked: usize,
    /// Every inconsistency; empty for a consistent store.
    pub problems: Vec<Problem>,
    /// Entries of the store directory that are not valid items, left by
    /// interrupted operations, sorted.
    pub leftovers: Vec<PathBuf>,
    /// Trees that `build --keep-failed` kept on purpose (`<out>-check`, and
    /// the unregistered later round of `--rounds`), sorted.
    pub kept: Vec<PathBuf>,
    /// Entries abovo never makes (such as Guix's `.links`), sorted: listed,
    /// never deleted.
    pub foreign: Vec<PathBuf>,
}

impl VerifyReport {
    /// Whether the store is consistent.
    pub fn is_consistent(&self) -> bool {
        self.problems.is_empty()
    }
}

impl LocalStore {
    /// Checks every valid item and the database (see the module docs).
    /// `progress` is called with (items done, items in all).
    pub fn verify(
        &self,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<VerifyReport, StoreError> {
        let mut report = VerifyReport::default();
        for reason in self.db().integrity_problems()? {
            report.problems.push(Problem::Database { reason });
        }
        let valid = self.db().valid_paths()?;
        let total = valid.len();
        for (i, path) in valid.iter().enumerate() {
            progress(i, total);
            self.verify_item(path, &mut report.problems)?;
            report.checked += 1;
        }
        progress(total, total);
        let valid: BTreeSet<String> = valid.iter().map(|p| p.base_name()).collect();
        (report.leftovers, report.kept, report.foreign) = self.unregistered(&valid)?;
        Ok(report)
    }

    fn verify_item(&self, path: &StorePath, problems: &mut Vec<Problem>) -> Result<(), StoreError> {
        let shown = self.display(path);
        let Some(info) = self.path_info(path)? else {
            return Ok(());
        };
        let real = self.real_path(path);
        if std::fs::symlink_metadata(&real).is_err() {
            problems.push(Problem::Missing { path: shown });
            return Ok(());
        }
        let scanner = ReferenceScanner::for_store_paths(info.references.iter());
        let (nar, found) = match hash_and_scan_path(&real, scanner) {
            Ok(r) => r,
            Err(e) => {
                problems.push(Problem::Unreadable {
                    path: shown,
                    reason: e.to_string(),
                });
                return Ok(());
            }
        };
        if nar.hash != info.nar_hash || (info.nar_size != 0 && nar.size != info.nar_size) {
            problems.push(Problem::Corrupt {
                path: shown.clone(),
                expected: format!("{} ({} bytes)", info.nar_hash, info.nar_size),
                actual: format!("{} ({} bytes)", nar.hash, nar.size),
            });
            return Ok(());
        }
        // Built outputs got their references from a scan and `.drv` files
        // name theirs, so both must contain every one. Other items (sources,
        // texts) declare theirs.
        if info.deriver.is_some() || path.is_derivation() {
            for r in &info.references {
                if !found.contains(r.hash_part_bytes()) {
                    problems.push(Problem::ReferenceNotFound {
                        path: shown.clone(),
                        reference: self.display(r),
                    });
                }
            }
        }
        if path.is_derivation() {
            self.verify_derivation(path, &info.references, problems)?;
        }
        Ok(())
    }

    fn verify_derivation(
        &self,
        path: &StorePath,
        references: &BTreeSet<StorePath>,
        problems: &mut Vec<Problem>,
    ) -> Result<(), StoreError> {
        let shown = self.display(path);
        let drv = match self.read_derivation(path) {
            Ok(d) => d,
            Err(e) => {
                problems.push(Problem::BadDerivation {
                    path: shown,
                    reason: e.to_string(),
                });
                return Ok(());
            }
        };
        let declared: BTreeSet<StorePath> = drv.references().cloned().collect();
        if &declared != references {
            problems.push(Problem::BadDerivation {
                path: shown.clone(),
                reason: "its recorded references are not its inputs".into(),
            });
        }
        let recorded = self.db().derivation_outputs(path)?;
        // Every output the `.drv` records a path for has its row; an output
        // without one (floating, deferred) has a row once it is built.
        let rows_fit = drv.outputs.iter().all(|(n, o)| match &o.path {
            Some(p) => recorded.get(n) == Some(p),
            None => true,
        }) && recorded.keys().all(|n| drv.outputs.contains_key(n));
        if !rows_fit {
            problems.push(Problem::BadDerivation {
                path: shown,
                reason: "its DerivationOutputs rows are not its outputs".into(),
            });
        }
        Ok(())
    }

    /// The entries of the store directory that are not valid (abovo's lock
    /// files aside), as (leftovers, kept, foreign).
    #[allow(clippy::type_complexity)]
    fn unregistered(
        &self,
        valid: &BTreeSet<String>,
    ) -> Result<(Vec<PathBuf>, Vec<PathBuf>, Vec<PathBuf>), StoreError> {
        let dir = self.real_dir();
        let mut names = BTreeSet::new();
        let mut foreign = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io_err(dir, "list"))? {
            let entry = entry.map_err(io_err(dir, "list"))?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                // abovo's names are ASCII.
                foreign.push(entry.path());
                continue;
            };
            if valid.contains(&name) {
                continue;
            }
            match name.strip_suffix(".lock") {
                Some(stem) if is_abovo_name(stem) => {}
                _ if is_abovo_name(&name) => {
                    names.insert(name);
                }
                _ => foreign.push(dir.join(name)),
            }
        }
        foreign.sort();
        let (mut leftovers, mut kept) = (Vec::new(), Vec::new());
        // `<out>-check` shares the hash part of `<out>`, which no other
        // item's path does: a package really named `…-check` has its own
        // hash, so its leftover is not mistaken for a kept tree unless a
        // `<stem>` with the same hash exists.
        let exists = |stem: &str| valid.contains(stem) || names.contains(stem);
        for name in &names {
            let is_kept = check_stem(name).is_some_and(exists)
                || (StorePath::from_base_name(name).is_ok()
                    && names.contains(&format!("{name}-check")));
            if is_kept {
                kept.push(dir.join(name));
            } else {
                leftovers.push(dir.join(name));
            }
        }
        Ok((leftovers, kept, foreign))
    }

    /// Deletes the leftovers of `report` that no running abovo owns: each is
    /// tried under the lock of the item it belongs to (the item itself, the
    /// outputs of a `.drv.chroot`); temporary names carry the pid of their
    /// process. Then deletes the lock files nobody holds (those of killed
    /// processes). Kept trees are left alone. Returns what was deleted.
    pub fn remove_leftovers(&self, report: &VerifyReport) -> Result<Vec<PathBuf>, StoreError> {
        let mut removed = Vec::new();
        for leftover in &report.leftovers {
            let Some(name) = leftover.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let Some(owners) = self.leftover_owners(name) else {
                continue;
            };
            if self.delete_under_locks(leftover, &owners)? {
                removed.push(leftover.clone());
            }
        }
        self.remove_free_lock_files()?;
        Ok(removed)
    }

    /// Deletes the trees `build --keep-failed` kept (`<out>-check` and the
    /// unregistered later round of `--rounds`), each under the lock of its
    /// output so that a build running now is not disturbed. Returns what
    /// was deleted.
    pub fn remove_kept(&self, report: &VerifyReport) -> Result<Vec<PathBuf>, StoreError> {
        let mut removed = Vec::new();
        for kept in &report.kept {
            let Some(name) = kept.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let owner = check_stem(name).unwrap_or(name);
            let Ok(owner) = StorePath::from_base_name(owner) else {
                continue;
            };
            if self.delete_under_locks(kept, &[owner])? {
                removed.push(kept.clone());
            }
        }
        Ok(removed)
    }

    /// Deletes `path` while holding the locks of `owners` (none: at once),
    /// unless one is taken or `path` became a valid item meanwhile. The
    /// lock files are deleted on release. Returns whether it was deleted.
    fn delete_under_locks(&self, path: &Path, owners: &[StorePath]) -> Result<bool, StoreError> {
        let lock_paths: Vec<PathBuf> = owners.iter().map(|p| self.real_path(p)).collect();
        let Some(mut locks) = PathLocks::lock(lock_paths.iter().map(PathBuf::as_path), Wait::Try)?
        else {
            return Ok(false);
        };
        locks.set_delete(true);
        if let Some(name) = path.file_name().and_then(|n| n.to_str())
            && let Ok(p) = StorePath::from_base_name(name)
            && self.is_valid(&p)?
        {
            return Ok(false);
        }
        fsutil::delete_path(path)?;
        Ok(true)
    }

    /// Deletes every `*.lock` file of the store directory whose lock is
    /// free: a lock file outlives its holder only when that process was
    /// killed. A process waiting on one sees it marked stale and retries
    /// ([`super::lock`]).
    fn remove_free_lock_files(&self) -> Result<(), StoreError> {
        let dir = self.real_dir();
        for entry in std::fs::read_dir(dir).map_err(io_err(dir, "list"))? {
            let entry = entry.map_err(io_err(dir, "list"))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(locked) = name.strip_suffix(".lock").filter(|l| is_abovo_name(l)) else {
                continue;
            };
            let target = dir.join(locked);
            if let Some(mut lock) = PathLocks::lock([target.as_path()], Wait::Try)? {
                lock.set_delete(true);
            }
        }
        Ok(())
    }

    /// The items whose locks guard a leftover; `None` when it is in use or
    /// unknown.
    fn leftover_owners(&self, name: &str) -> Option<Vec<StorePath>> {
        if let Some(rest) = name.strip_prefix(".abovo-") {
            // `.abovo-<what>-<pid>-<n>`: free once its process is gone.
            let pid: u32 = rest.rsplit('-').nth(1)?.parse().ok()?;
            let alive = Path::new(&format!("/proc/{pid}")).exists();
            return (!alive).then(Vec::new);
        }
        if let Some(drv) = name.strip_suffix(".chroot") {
            let drv_path = StorePath::from_base_name(drv).ok()?;
            // A build holds its outputs' locks while its chroot exists. A
            // `.drv` that cannot be read cannot be building (a build reads
            // it first), so its own lock is enough to delete the chroot.
            return match self.read_derivation(&drv_path) {
                Ok(drv) => drv.outputs.values().map(|o| o.path.clone()).collect(),
                Err(_) => Some(vec![drv_path]),
            };
        }
        StorePath::from_base_name(name).ok().map(|p| vec![p])
    }
}

/// Whether abovo makes entries named `name` in a store directory: a store
/// path's base name (outputs, `.drv`s, `<out>-check`), a temporary
/// `.abovo-<what>-<pid>-<n>`, or a `<drv>.chroot`.
fn is_abovo_name(name: &str) -> bool {
    if let Some(rest) = name.strip_prefix(".abovo-") {
        return rest
            .rsplit('-')
            .nth(1)
            .is_some_and(|pid| pid.parse::<u32>().is_ok());
    }
    let path_name = name
        .strip_suffix(".chroot")
        .filter(|drv| drv.ends_with(".drv"))
        .unwrap_or(name);
    StorePath::from_base_name(path_name).is_ok()
}

/// The output a kept `<out>-check` tree belongs to, when `name` is one.
fn check_stem(name: &str) -> Option<&str> {
    name.strip_suffix("-check")
        .filter(|stem| StorePath::from_base_name(stem).is_ok())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use crate::store::StoreConfig;
    use crate::store::add::AddMethod;
    use abovo_store::StoreDir;

    fn names(paths: &[PathBuf]) -> Vec<String> {
        paths
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn kept_trees_survive_repair_and_no_lock_file_is_left() {
        let dir = tempfile::tempdir().unwrap();
        let store_dir = StoreDir::new(dir.path().join("store").to_str().unwrap()).unwrap();
        let store = LocalStore::open(StoreConfig::new(store_dir, None)).unwrap();
        std::fs::write(dir.path().join("f"), "x").unwrap();
        let item = store
            .add_path(&dir.path().join("f"), AddMethod::Flat, None)
            .unwrap();
        let real = store.real_path(&item);
        let root = store.real_dir();
        let base = item.base_name();
        // `--check -K`: the other build of a valid output.
        std::fs::write(root.join(format!("{base}-check")), "y").unwrap();
        // `--rounds -K`: both rounds, neither registered.
        let round = "11111111111111111111111111111111-r";
        std::fs::create_dir(root.join(round)).unwrap();
        std::fs::create_dir(root.join(format!("{round}-check"))).unwrap();
        // Leftovers: an output of a killed build, a `-check` whose output
        // does not exist (a package named `…-check`), a dead temporary.
        let dead = "22222222222222222222222222222222-x";
        std::fs::create_dir(root.join(dead)).unwrap();
        let spell = "33333333333333333333333333333333-spell-check";
        std::fs::create_dir(root.join(spell)).unwrap();
        std::fs::create_dir(root.join(".abovo-round-999999999-0")).unwrap();
        // The chroot of a `.drv` that is not in the store.
        let chroot = "55555555555555555555555555555555-gone.drv.chroot";
        std::fs::create_dir(root.join(chroot)).unwrap();
        // Foreign entries: Guix's `.links` (here a symlink to a directory
        // outside the store, which must not be followed), a directory, a
        // lock file abovo does not make.
        let outside = dir.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("precious"), "p").unwrap();
        std::os::unix::fs::symlink(&outside, root.join(".links")).unwrap();
        std::fs::create_dir(root.join("garbage-dir")).unwrap();
        std::fs::write(root.join("other.lock"), "").unwrap();
        // Lock files of killed processes, and one held now.
        std::fs::write(root.join(format!("{dead}.lock")), "").unwrap();
        std::fs::write(root.join(format!("{base}.lock")), "").unwrap();
        let held_path = root.join("44444444444444444444444444444444-busy");
        let _held = PathLocks::lock([held_path.as_path()], Wait::Try)
            .unwrap()
            .unwrap();

        let report = store.verify(&mut |_, _| {}).unwrap();
        assert!(report.is_consistent(), "{:?}", report.problems);
        // Sorted, as the report is: `base`'s hash depends on the temporary
        // directory, and sorts before `round` one time in thirty-two.
        let mut kept = [
            round.to_owned(),
            format!("{round}-check"),
            format!("{base}-check"),
        ];
        kept.sort();
        assert_eq!(names(&report.kept), kept);
        assert_eq!(
            names(&report.leftovers),
            [".abovo-round-999999999-0", dead, spell, chroot]
        );
        let foreign = [".links", "garbage-dir", "other.lock"];
        assert_eq!(names(&report.foreign), foreign);
        let removed = store.remove_leftovers(&report).unwrap();
        assert_eq!(names(&removed), names(&report.leftovers));
        let after = store.verify(&mut |_, _| {}).unwrap();
        assert_eq!(after.kept, report.kept, "kept trees survive --repair");
        assert!(after.leftovers.is_empty());
        assert_eq!(names(&after.foreign), foreign, "foreign entries stay");
        assert!(outside.join("precious").exists());
        let mut locks: Vec<String> = std::fs::read_dir(root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".lock"))
            .collect();
        locks.sort();
        assert_eq!(
            locks,
            ["44444444444444444444444444444444-busy.lock", "other.lock"],
            "only the lock held now is left"
        );
        // Asked for, the kept trees go too (under their outputs' locks).
        let removed = store.remove_kept(&after).unwrap();
        assert_eq!(removed, after.kept);
        let last = store.verify(&mut |_, _| {}).unwrap();
        assert!(last.kept.is_empty() && last.leftovers.is_empty());
        assert!(real.exists(), "the valid item stays");
        assert!(store.is_valid(&item).unwrap());
    }
}
