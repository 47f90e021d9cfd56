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
//! keys (every reference is valid). Paths in the store directory that are not
//! valid are *leftovers* of interrupted work: they do not make the store
//! inconsistent (nothing uses them) and are listed separately;
//! [`LocalStore::remove_leftovers`] deletes those no running process owns.

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
    /// Entries of the store directory that are not valid items (work left by
    /// interrupted operations), sorted.
    pub leftovers: Vec<PathBuf>,
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
        report.leftovers = self.leftovers(&valid)?;
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
        let outputs: Option<std::collections::BTreeMap<String, StorePath>> = drv
            .outputs
            .iter()
            .map(|(n, o)| o.path.clone().map(|p| (n.clone(), p)))
            .collect();
        if outputs.as_ref() != Some(&recorded) {
            problems.push(Problem::BadDerivation {
                path: shown,
                reason: "its DerivationOutputs rows are not its outputs".into(),
            });
        }
        Ok(())
    }

    fn leftovers(&self, valid: &BTreeSet<String>) -> Result<Vec<PathBuf>, StoreError> {
        let dir = Path::new(self.store_dir().as_str());
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io_err(dir, "list"))? {
            let entry = entry.map_err(io_err(dir, "list"))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if valid.contains(name.as_ref()) || name.ends_with(".lock") {
                continue;
            }
            out.push(entry.path());
        }
        out.sort();
        Ok(out)
    }

    /// Deletes the leftovers of `report` that no running abovo owns: each is
    /// tried under the lock of the item it belongs to (the item itself, the
    /// output of a `-check` copy, the outputs of a `.drv.chroot`); temporary
    /// names carry the pid of their process. Returns what was deleted.
    pub fn remove_leftovers(&self, report: &VerifyReport) -> Result<Vec<PathBuf>, StoreError> {
        let mut removed = Vec::new();
        for leftover in &report.leftovers {
            let Some(name) = leftover.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let owners = self.leftover_owners(name);
            let Some(owners) = owners else {
                continue;
            };
            let lock_paths: Vec<PathBuf> = owners.iter().map(|p| self.real_path(p)).collect();
            let Some(_locks) = PathLocks::lock(lock_paths.iter().map(PathBuf::as_path), Wait::Try)?
            else {
                continue;
            };
            // Under the lock, the item may have become valid meanwhile.
            if let Ok(p) = StorePath::from_base_name(name)
                && self.is_valid(&p)?
            {
                continue;
            }
            fsutil::delete_path(leftover)?;
            removed.push(leftover.clone());
        }
        Ok(removed)
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
            let drv = self.read_derivation(&drv_path).ok()?;
            return drv.outputs.values().map(|o| o.path.clone()).collect();
        }
        if let Some(out) = name.strip_suffix("-check")
            && let Ok(p) = StorePath::from_base_name(out)
        {
            return Some(vec![p]);
        }
        StorePath::from_base_name(name).ok().map(|p| vec![p])
    }
}
