//! Writing a checked import: the sources copied and checked against their
//! paths, the `.drv` files written byte for byte, all moved into place and
//! registered in one transaction (see [`super`]).

use super::{ImportError, ImportPlan, ImportReport, Problem, describe};
use crate::foreign::place::Place;
use crate::fsutil::{self, InodesSeen};
use crate::store::db::{PathInfo, Registration};
use crate::store::lock::{PathLocks, Wait};
use crate::store::{LocalStore, StoreError};
use abovo_store::hash::HashAlgo;
use abovo_store::nar::NarHash;
use abovo_store::{StoreDir, StorePath};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

impl ImportPlan {
    /// The `.drv` files the plan adds, inputs first.
    pub fn derivations(&self) -> impl Iterator<Item = &StorePath> {
        self.derivations.iter().map(|(p, _, _)| p)
    }

    /// The sources the plan copies from the places.
    pub fn sources(&self) -> impl Iterator<Item = &StorePath> {
        self.sources.keys()
    }

    /// Writes the plan into `store` (see the module docs): all of it, or
    /// nothing. `places` are those the plan was made from.
    pub fn apply(&self, store: &LocalStore, places: &[Place]) -> Result<ImportReport, ImportError> {
        let items: Vec<&StorePath> = self
            .sources
            .keys()
            .chain(self.derivations.iter().map(|(p, _, _)| p))
            .collect();
        let reals: Vec<PathBuf> = items.iter().map(|p| store.real_path(p)).collect();
        let mut locks =
            PathLocks::lock(reals.iter().map(PathBuf::as_path), Wait::Block)?.unwrap_or_default();
        locks.set_delete(true);
        // Another process may have added some meanwhile.
        let mut fresh: BTreeSet<&StorePath> = BTreeSet::new();
        for p in &items {
            if !store.is_valid(p)? {
                fresh.insert(p);
            }
        }
        let temps: BTreeMap<String, PathBuf> = fresh
            .iter()
            .map(|p| (p.base_name(), store.temp_path("import")))
            .collect();
        let result = self.stage(store, places, &fresh, &temps);
        let staged = match result {
            Ok(s) => s,
            Err(e) => {
                for t in temps.values() {
                    let _ = fsutil::delete_path(t);
                }
                return Err(e);
            }
        };
        let report = ImportReport {
            derivations: staged
                .iter()
                .filter(|(r, _)| r.info.path.is_derivation())
                .count(),
            sources: staged
                .iter()
                .filter(|(r, _)| !r.info.path.is_derivation())
                .count(),
        };
        store.commit_staged(staged)?;
        drop(locks);
        Ok(report)
    }

    /// Writes every fresh item to its temporary path, canonicalised and
    /// checked, and returns what to register.
    fn stage(
        &self,
        store: &LocalStore,
        places: &[Place],
        fresh: &BTreeSet<&StorePath>,
        temps: &BTreeMap<String, PathBuf>,
    ) -> Result<Vec<(Registration, PathBuf)>, ImportError> {
        let store_dir = store.store_dir();
        for (i, place) in places.iter().enumerate() {
            let sources: BTreeSet<String> = self
                .sources
                .iter()
                .filter(|(p, from)| **from == i && fresh.contains(p))
                .map(|(p, _)| p.base_name())
                .collect();
            place.copy_items(&sources, &|base| temps[base].clone())?;
        }
        let mut staged = Vec::new();
        let mut problems = Vec::new();
        for src in self.sources.keys().filter(|p| fresh.contains(p)) {
            let tmp = &temps[&src.base_name()];
            fsutil::canonicalise(tmp, None, &mut InodesSeen::default())
                .map_err(StoreError::from)?;
            let (nar, found) =
                abovo_store::references::scan_path_for_store_paths(tmp, self.candidates.iter())
                    .map_err(StoreError::from)?;
            match source_references(store_dir, src, tmp, &nar, found) {
                Ok(references) => staged.push((
                    registration(src, &nar, references, BTreeMap::new()),
                    tmp.clone(),
                )),
                Err(reason) => problems.push(Problem::BadSource {
                    path: store_dir.display(src),
                    reason,
                }),
            }
        }
        if !problems.is_empty() {
            return Err(ImportError::Refused {
                place: describe(places),
                problems,
            });
        }
        for (path, bytes, drv) in &self.derivations {
            if !fresh.contains(path) {
                continue;
            }
            let tmp = &temps[&path.base_name()];
            crate::store::add::write_new_file(tmp, bytes)?;
            fsutil::canonicalise(tmp, None, &mut InodesSeen::default())
                .map_err(StoreError::from)?;
            let nar = abovo_store::nar::hash_path(tmp).map_err(StoreError::from)?;
            let outputs = LocalStore::derivation_output_paths(drv, store_dir, path)?;
            let references = drv.references().cloned().collect();
            staged.push((registration(path, &nar, references, outputs), tmp.clone()));
        }
        Ok(staged)
    }
}

fn registration(
    path: &StorePath,
    nar: &NarHash,
    references: BTreeSet<StorePath>,
    derivation_outputs: BTreeMap<String, StorePath>,
) -> Registration {
    Registration {
        info: PathInfo {
            path: path.clone(),
            nar_hash: nar.hash,
            nar_size: nar.size,
            references,
            deriver: None,
            registration_time: 0,
        },
        derivation_outputs,
    }
}

/// The references of a source copied to `tmp`, when its path follows from
/// its content as one of Guix's ways of adding a source makes it:
/// `add-to-store` recursive (type `source`, the NAR's SHA-256, no
/// references), `add-to-store` flat (a regular file's SHA-256, no
/// references), or `add-text-to-store` (a regular file with the references
/// `found` in it, or none). Otherwise, why not.
fn source_references(
    store_dir: &StoreDir,
    path: &StorePath,
    tmp: &Path,
    nar: &NarHash,
    found: Vec<StorePath>,
) -> Result<BTreeSet<StorePath>, String> {
    let name = path.name();
    let computed = |r: Result<StorePath, _>| r.ok();
    if computed(store_dir.make_fixed_output_path(name, true, &nar.hash)).as_ref() == Some(path) {
        return Ok(BTreeSet::new());
    }
    if std::fs::symlink_metadata(tmp).is_ok_and(|m| m.is_file()) {
        let bytes = std::fs::read(tmp).map_err(|e| format!("cannot read the copy: {e}"))?;
        let sha = HashAlgo::Sha256.digest(&bytes);
        if computed(store_dir.make_fixed_output_path(name, false, &sha)).as_ref() == Some(path) {
            return Ok(BTreeSet::new());
        }
        let mut digest = [0u8; 32];
        digest.copy_from_slice(sha.digest());
        let found: BTreeSet<StorePath> = found.into_iter().collect();
        for references in [found, BTreeSet::new()] {
            let text = store_dir.make_text_path_from_hash(name, &digest, &references);
            if computed(text).as_ref() == Some(path) {
                return Ok(references);
            }
        }
    }
    Err(format!(
        "its path does not follow from its content (NAR hash {}): it is not what `add-to-store` \
         (recursive or flat) or `add-text-to-store` would make of these bytes",
        nar.hash
    ))
}
