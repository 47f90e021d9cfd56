//! Post-processing the outputs of a build (docs/sandbox.md §2.1,
//! docs/build.md "After the build"), in this order for each output:
//!
//! 1. it must exist; unless it is a symlink, its top must not be group- or
//!    world-writable and must belong to the build user ("suspicious
//!    ownership or permission");
//! 2. an input-addressed output is canonicalised where it was built, in the
//!    chroot (modes 0444/0555, mtime 1, owner = the store's owner), every
//!    inode checked to belong to the build user; a **fixed output is copied
//!    out** instead ([`fsutil::copy_out`]): read through descriptors abovo
//!    opened, written into fresh inodes in a private directory that no
//!    sandbox can reach (it is outside every chroot and build directory, and
//!    a descriptor a builder holds reaches nothing outside its own mounts),
//!    canonical as they are made. A fixed-output build may share the host
//!    network, and with it abstract Unix sockets, so it can hand a
//!    descriptor of its output, or of the directory where a copy would be
//!    made, to another build or process (the CVE-2024-27297 pattern); what
//!    is hashed and registered is a copy no builder ever held;
//! 3. one NAR serialisation gives the NAR hash, the NAR size and the
//!    references (hash parts of the input closure and the outputs found in
//!    the stream);
//! 4. a fixed output's hash is compared with the expected one (a flat hash
//!    needs a regular, non-executable file);
//! 5. `allowedReferences`, `disallowedReferences`, `allowedRequisites` and
//!    `disallowedRequisites` are enforced;
//! 6. outputs that refer to each other are refused ("cycle detected in the
//!    references of …", as guix-daemon says).

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

/// A post-processed output, waiting to be moved into the store.
#[derive(Debug, Clone)]
pub struct Staged {
    /// Where it is now: where it was built in the chroot, or, for a fixed
    /// output, its copy in the private directory.
    pub location: PathBuf,
    /// Hash, size and references as they will be registered.
    pub result: OutputResult,
    /// The references as store paths.
    pub references: BTreeSet<StorePath>,
}

/// Post-processes every output of `drv` (see the module docs); `location`
/// gives where an output was built, and `private` is the directory, which
/// only abovo can reach, where fixed outputs are copied.
#[allow(clippy::too_many_arguments)]
pub fn process(
    store: &LocalStore,
    drv_shown: &str,
    drv: &Derivation,
    outputs: &BTreeMap<String, StorePath>,
    location: &dyn Fn(&StorePath) -> PathBuf,
    private: &Path,
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
        // A file type the store cannot hold is its own failure, as in
        // guix-daemon ("has an unsupported type").
        let refused = |e: fsutil::FsError, suspicious: &dyn Fn(String) -> BuildError| match e {
            fsutil::FsError::UnsupportedType { path, kind } => BuildError::UnsupportedFileType {
                drv: drv_shown.to_owned(),
                file: path,
                kind,
            },
            e => suspicious(e.to_string()),
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
        let built = if fixed.is_some() {
            let copy = private.join(path.base_name());
            fsutil::copy_out(&built, &copy, Some(from_uid), &mut seen)
                .map_err(|e| refused(e, &suspicious))?;
            copy
        } else {
            fsutil::canonicalise(&built, Some(from_uid), &mut seen)
                .map_err(|e| refused(e, &suspicious))?;
            built
        };
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
                location: built,
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
    check_no_cycle(store, drv_shown, outputs, &staged)?;
    Ok(staged)
}

/// Outputs that refer to each other (directly or through other outputs)
/// cannot be registered: a store's items must be sortable with every
/// reference before its referrer (a self-reference is fine). guix-daemon
/// refuses them when it sorts them for registration; so does abovo, before
/// anything is moved, with guix-daemon's words.
fn check_no_cycle(
    store: &LocalStore,
    drv_shown: &str,
    outputs: &BTreeMap<String, StorePath>,
    staged: &BTreeMap<String, Staged>,
) -> Result<(), BuildError> {
    let edges: BTreeMap<&StorePath, Vec<&StorePath>> = outputs
        .iter()
        .map(|(name, path)| {
            let refs = staged[name]
                .references
                .iter()
                .filter(|r| *r != path && outputs.values().any(|o| o == *r))
                .collect();
            (path, refs)
        })
        .collect();
    // Depth-first, as guix-daemon's topoSortPaths: a path met again while
    // it is on the stack closes a cycle.
    fn visit<'a>(
        path: &'a StorePath,
        parent: Option<&'a StorePath>,
        edges: &BTreeMap<&'a StorePath, Vec<&'a StorePath>>,
        on_stack: &mut Vec<&'a StorePath>,
        done: &mut BTreeSet<&'a StorePath>,
    ) -> Result<(), (&'a StorePath, &'a StorePath)> {
        if on_stack.contains(&path) {
            return Err((path, parent.unwrap_or(path)));
        }
        if !done.insert(path) {
            return Ok(());
        }
        on_stack.push(path);
        for r in &edges[path] {
            visit(r, Some(path), edges, on_stack, done)?;
        }
        on_stack.pop();
        Ok(())
    }
    let mut done = BTreeSet::new();
    for path in edges.keys() {
        if let Err((path, parent)) = visit(path, None, &edges, &mut Vec::new(), &mut done) {
            return Err(BuildError::ReferenceCycle {
                drv: drv_shown.to_owned(),
                path: store.display(path),
                referrer: store.display(parent),
            });
        }
    }
    Ok(())
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
