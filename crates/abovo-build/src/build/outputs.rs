//! Post-processing the outputs of a build, still inside the chroot
//! (docs/build.md, "After the build"), in this order for each output:
//!
//! 1. it must exist; unless it is a symlink, its top must not be group- or
//!    world-writable and must belong to the build user ("suspicious
//!    ownership or permission");
//! 2. ownership of every inode is checked and the tree canonicalised (modes
//!    0444/0555, mtime 1, owner = the store's owner);
//! 3. a fixed output is copied into fresh inodes and the builder's copy
//!    deleted, so that a descriptor the builder passed to an accomplice (a
//!    fixed-output build shares the host network, and with it abstract
//!    Unix sockets) cannot change it after its hash was checked: the
//!    CVE-2024-27297 pattern;
//! 4. one NAR serialisation gives the NAR hash, the NAR size and the
//!    references (hash parts of the input closure and the outputs found in
//!    the stream);
//! 5. a fixed output's hash is compared with the expected one (a flat hash
//!    needs a regular, non-executable file);
//! 6. `allowedReferences`, `disallowedReferences`, `allowedRequisites` and
//!    `disallowedRequisites` are enforced.

use super::{BuildError, OutputResult};
use crate::fsutil::{self, InodesSeen};
use crate::store::LocalStore;
use abovo_store::StorePath;
use abovo_store::derivation::Derivation;
use abovo_store::hash::{Hash, HashAlgo};
use abovo_store::nar;
use abovo_store::references::{ReferenceScanner, hash_and_scan_path};
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// A post-processed output waiting in the chroot.
#[derive(Debug, Clone)]
pub struct Staged {
    /// Hash, size and references as they will be registered.
    pub result: OutputResult,
    /// The references as store paths.
    pub references: BTreeSet<StorePath>,
}

/// Post-processes every output of `drv` (see the module docs); `location`
/// gives where an output was built.
#[allow(clippy::too_many_arguments)]
pub fn process(
    store: &LocalStore,
    drv_shown: &str,
    drv: &Derivation,
    outputs: &BTreeMap<String, StorePath>,
    location: &dyn Fn(&StorePath) -> PathBuf,
    from_uid: u32,
    candidates: &BTreeSet<StorePath>,
    closure: &BTreeSet<StorePath>,
) -> Result<BTreeMap<String, Staged>, BuildError> {
    let mut seen = InodesSeen::default();
    let mut staged = BTreeMap::new();
    let fixed = match drv.fixed_output() {
        None => None,
        Some(Ok(f)) => Some(f),
        Some(Err(e)) => {
            return Err(BuildError::BadDerivation {
                drv: drv_shown.to_owned(),
                reason: e.to_string(),
            });
        }
    };
    for (name, path) in outputs {
        let shown = store.display(path);
        let built = location(path);
        let suspicious = |reason: String| BuildError::Suspicious {
            drv: drv_shown.to_owned(),
            path: shown.clone(),
            reason,
        };
        let meta = match std::fs::symlink_metadata(&built) {
            Ok(m) => m,
            Err(_) => {
                return Err(BuildError::MissingOutput {
                    drv: drv_shown.to_owned(),
                    path: shown,
                });
            }
        };
        if !meta.file_type().is_symlink() {
            if meta.mode() & 0o022 != 0 {
                return Err(suspicious(format!(
                    "it is group- or world-writable (mode {:04o})",
                    meta.mode() & 0o7777
                )));
            }
            if meta.uid() != from_uid {
                return Err(suspicious(format!(
                    "it belongs to uid {}, not to the build user",
                    meta.uid()
                )));
            }
        }
        fsutil::canonicalise(&built, Some(from_uid), &mut seen)
            .map_err(|e| suspicious(e.to_string()))?;
        if fixed.is_some() {
            let fresh = fresh_name(&built);
            fsutil::copy_tree(&built, &fresh).map_err(|e| suspicious(e.to_string()))?;
            fsutil::delete_path(&built)?;
            std::fs::rename(&fresh, &built).map_err(|e| fsutil::FsError::Io {
                path: fresh.clone(),
                action: "move",
                source: e,
            })?;
            fsutil::canonicalise(&built, None, &mut InodesSeen::default())?;
        }
        let scanner = ReferenceScanner::for_store_paths(candidates.iter());
        let (nar_hash, found) =
            hash_and_scan_path(&built, scanner).map_err(|e| suspicious(e.to_string()))?;
        let references: BTreeSet<StorePath> = candidates
            .iter()
            .filter(|c| found.contains(c.hash_part_bytes()))
            .cloned()
            .collect();
        if let Some(f) = fixed {
            let actual = fixed_hash(&built, f.recursive, f.hash.algo(), nar_hash.hash)
                .map_err(suspicious)?;
            if actual != f.hash {
                return Err(BuildError::HashMismatch {
                    drv: drv_shown.to_owned(),
                    path: shown,
                    expected: f.hash.to_nix32_string(),
                    actual: actual.to_nix32_string(),
                });
            }
        }
        staged.insert(
            name.clone(),
            Staged {
                result: OutputResult {
                    name: name.clone(),
                    path: shown,
                    nar_hash: nar_hash.hash,
                    nar_size: nar_hash.size,
                    references: references.iter().map(|r| store.display(r)).collect(),
                },
                references,
            },
        );
    }
    check_reference_rules(store, drv_shown, drv, outputs, &staged, closure)?;
    Ok(staged)
}

fn fresh_name(built: &Path) -> PathBuf {
    let mut s = built.as_os_str().to_owned();
    s.push(".fresh");
    PathBuf::from(s)
}

/// The hash of a fixed output in the way its derivation states it.
fn fixed_hash(
    path: &Path,
    recursive: bool,
    algo: HashAlgo,
    nar_sha256: Hash,
) -> Result<Hash, String> {
    if recursive {
        if algo == HashAlgo::Sha256 {
            return Ok(nar_sha256);
        }
        return nar::hash_path_with(path, algo, &mut |_, _| true)
            .map(|h| h.hash)
            .map_err(|e| e.to_string());
    }
    let meta = std::fs::symlink_metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() || meta.mode() & 0o100 != 0 {
        return Err("a flat fixed output must be a non-executable regular file".into());
    }
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    Ok(algo.digest(&bytes))
}

/// The paths a reference attribute names: store paths, or output names of
/// the derivation itself.
fn reference_specifiers(
    store: &LocalStore,
    drv_shown: &str,
    drv: &Derivation,
    value: &str,
) -> Result<BTreeSet<StorePath>, BuildError> {
    let mut out = BTreeSet::new();
    for token in value.split_ascii_whitespace() {
        if let Ok(p) = store.parse(token) {
            out.insert(p);
        } else if let Some(p) = drv.outputs.get(token).and_then(|o| o.path.clone()) {
            out.insert(p);
        } else {
            return Err(BuildError::BadDerivation {
                drv: drv_shown.to_owned(),
                reason: format!("invalid reference specifier `{token}`"),
            });
        }
    }
    Ok(out)
}

fn check_reference_rules(
    store: &LocalStore,
    drv_shown: &str,
    drv: &Derivation,
    outputs: &BTreeMap<String, StorePath>,
    staged: &BTreeMap<String, Staged>,
    closure: &BTreeSet<StorePath>,
) -> Result<(), BuildError> {
    for (attribute, allowed, recursive) in [
        ("allowedReferences", true, false),
        ("disallowedReferences", false, false),
        ("allowedRequisites", true, true),
        ("disallowedRequisites", false, true),
    ] {
        let Some(value) = drv.env_str(attribute) else {
            continue;
        };
        let spec = reference_specifiers(store, drv_shown, drv, value)?;
        for (name, s) in staged {
            let used = if recursive {
                requisites(store, s, staged, outputs, closure)?
            } else {
                s.references.clone()
            };
            for r in used {
                if spec.contains(&r) != allowed {
                    return Err(BuildError::ForbiddenReference {
                        drv: drv_shown.to_owned(),
                        path: store.display(&outputs[name]),
                        reference: store.display(&r),
                        attribute: attribute.to_owned(),
                    });
                }
            }
        }
    }
    Ok(())
}

/// The closure of an output's references, through the other outputs of the
/// same build and the valid store.
fn requisites(
    store: &LocalStore,
    output: &Staged,
    staged: &BTreeMap<String, Staged>,
    outputs: &BTreeMap<String, StorePath>,
    closure: &BTreeSet<StorePath>,
) -> Result<BTreeSet<StorePath>, BuildError> {
    let by_path: BTreeMap<&StorePath, &Staged> = outputs
        .iter()
        .filter_map(|(n, p)| staged.get(n).map(|s| (p, s)))
        .collect();
    let mut seen = BTreeSet::new();
    let mut todo: Vec<StorePath> = output.references.iter().cloned().collect();
    while let Some(p) = todo.pop() {
        if !seen.insert(p.clone()) {
            continue;
        }
        if let Some(s) = by_path.get(&p) {
            todo.extend(s.references.iter().cloned());
        } else if closure.contains(&p) {
            if let Some(info) = store.path_info(&p)? {
                todo.extend(info.references);
            }
        }
    }
    Ok(seen)
}
