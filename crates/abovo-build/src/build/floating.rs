//! Building derivations whose output paths are not all in their `.drv`
//! (Nix's content-addressed derivations, `ca-derivations`).
//!
//! Before the build ([`prepare`]):
//!
//! * a derivation that uses outputs of floating (or deferred) inputs names
//!   them by placeholders; it is *resolved*
//!   ([`Derivation::resolve`](abovo_store::derivation::Derivation::resolve)):
//!   the placeholders become the paths those outputs were registered at,
//!   the input derivations become input sources, and deferred outputs get
//!   their paths;
//! * each floating output is built at a scratch path, the path Nix gives
//!   it (`makeFallbackPath`: type `rewrite:<drv>:name:<output>`, a zero
//!   hash), and the placeholder of the output in the builder, arguments
//!   and environment becomes that path.
//!
//! After the build, when outputs are registered (`register`), each
//! floating output (in the order of their references to each other) is
//! hashed modulo its scratch hash part ([`finalise`])
//! ([`HashModuloWriter`]); its
//! path follows from that content address, its references and whether it
//! refers to itself (Nix `makeFixedOutputPathFromCA`); references to its
//! scratch path and to its siblings' are rewritten to the final paths;
//! and the `.drv` records where its outputs went (the store's
//! `DerivationOutputs`), for `build` to find them next time and for the
//! derivations that use them to be resolved.
//!
//! Impure derivations, outputs of outputs (dynamic derivations) and
//! `--check`/`--repair` of such derivations are refused by name.

use super::goal::move_replacing;
use super::outputs::Staged;
use super::{BuildError, OutputResult};
use crate::fsutil::{self, InodesSeen};
use crate::store::LocalStore;
use crate::store::StoreError;
use crate::store::db::{PathInfo, Registration};
use abovo_store::derivation::output::hash_placeholder;
use abovo_store::derivation::{CaMethod, ContentAddress, Derivation, DerivationKind, OutputKind};
use abovo_store::hash::{Hash, HashAlgo};
use abovo_store::nar;
use abovo_store::rewrite::{HashModuloWriter, RewritingWriter};
use abovo_store::store_path::output_path_name;
use abovo_store::{StoreDir, StorePath};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// What is built for a derivation whose output paths are not all known.
#[derive(Debug)]
pub struct Prepared {
    /// The derivation to build: resolved, every output with a path (the
    /// scratch path of a floating one).
    pub drv: Derivation,
    /// The floating outputs, with how their content is hashed.
    pub floating: BTreeMap<String, (CaMethod, HashAlgo)>,
}

/// The scratch path of floating output `output` of `drv_path` (Nix
/// `makeFallbackPath`).
pub fn scratch_path(
    store: &StoreDir,
    drv_path: &StorePath,
    output: &str,
) -> Result<StorePath, BuildError> {
    let name = drv_path.derivation_name().unwrap_or(drv_path.name());
    let path_type = format!("rewrite:{}:name:{output}", drv_path.base_name());
    store
        .make_store_path(&path_type, &[0; 32], &output_path_name(name, output))
        .map_err(|e| BuildError::BadDerivation {
            drv: store.display(drv_path),
            reason: e.to_string(),
        })
}

/// Whether `drv` needs preparing: it has floating, impure or deferred
/// outputs, or uses outputs of outputs. (An input-addressed derivation
/// never depends on a floating one: its outputs would be deferred.)
pub fn needs_preparing(drv: &Derivation) -> bool {
    drv.has_dynamic_inputs()
        || !matches!(
            drv.kind(),
            Ok(DerivationKind::InputAddressed | DerivationKind::Fixed)
        )
}

/// Prepares `drv` (stored at `drv_path`) for its build; see the
/// [module docs](self).
pub fn prepare(
    store: &LocalStore,
    drv_path: &StorePath,
    drv: &Derivation,
) -> Result<Prepared, BuildError> {
    let shown = store.display(drv_path);
    let unsupported = |what: &str| BuildError::Unsupported {
        drv: shown.clone(),
        what: what.to_owned(),
    };
    if drv.has_dynamic_inputs() {
        return Err(unsupported(
            "derivations that use outputs of outputs (Nix's dynamic derivations)",
        ));
    }
    if drv.kind() == Ok(DerivationKind::Impure) {
        return Err(unsupported(
            "impure derivations (Nix builds them outside the sandbox, with the network)",
        ));
    }
    let name = drv_path.derivation_name().unwrap_or(drv_path.name());
    let mut prepared = drv
        .resolve(store.store_dir(), name, |input, output| {
            let input_drv = store.read_derivation(input).ok()?;
            realised(store, input, &input_drv, output).ok().flatten()
        })
        .map_err(|e| BuildError::BadDerivation {
            drv: shown.clone(),
            reason: format!("cannot resolve it: {e}"),
        })?;
    let mut floating = BTreeMap::new();
    let mut rewrites = BTreeMap::new();
    for (output, o) in prepared.outputs.iter_mut() {
        if let Ok(OutputKind::Floating { method, algo }) = o.kind() {
            if method == CaMethod::Git {
                return Err(unsupported("floating outputs hashed with git"));
            }
            let scratch = scratch_path(store.store_dir(), drv_path, output)?;
            rewrites.insert(hash_placeholder(output), store.display(&scratch));
            floating.insert(output.clone(), (method, algo));
            // Built there as if it were recorded.
            o.path = Some(scratch);
            o.hash_algo.clear();
        }
    }
    prepared.rewrite(&rewrites);
    Ok(Prepared {
        drv: prepared,
        floating,
    })
}

/// Where output `output` of the valid derivation `drv` (stored at
/// `drv_path`) is: its recorded path, else where a build registered it;
/// `None` when it is not built (valid).
pub fn realised(
    store: &LocalStore,
    drv_path: &StorePath,
    drv: &Derivation,
    output: &str,
) -> Result<Option<StorePath>, BuildError> {
    let path = match drv.outputs.get(output).and_then(|o| o.path.clone()) {
        Some(p) => Some(p),
        None => store.db().derivation_outputs(drv_path)?.remove(output),
    };
    Ok(match path {
        Some(p) if store.is_valid(&p)? => Some(p),
        _ => None,
    })
}

/// Registers the outputs of a prepared derivation, built at `outputs` and
/// post-processed into `staged`: floating ones at the paths their content
/// gives ([`finalise`]), in the order of their references to each other,
/// the others at their paths; and records in the `.drv`'s
/// `DerivationOutputs` where each went, all in one transaction. Returns
/// what was registered.
pub(super) fn register(
    store: &LocalStore,
    drv_path: &StorePath,
    outputs: &BTreeMap<String, StorePath>,
    staged: &BTreeMap<String, Staged>,
    prepared: &Prepared,
) -> Result<Vec<OutputResult>, BuildError> {
    let shown = store.display(drv_path);
    let drv_name = drv_path.derivation_name().unwrap_or(drv_path.name());
    // Outputs that refer to others come after them.
    let mut order: Vec<&String> = Vec::new();
    let mut left: Vec<&String> = outputs.keys().collect();
    while !left.is_empty() {
        let ready = left.iter().position(|n| {
            let refs = &staged[*n].references;
            left.iter().all(|m| m == n || !refs.contains(&outputs[*m]))
        });
        let Some(i) = ready else {
            return Err(BuildError::BadDerivation {
                drv: shown,
                reason: "its floating outputs refer to each other in a cycle".into(),
            });
        };
        order.push(left.remove(i));
    }
    let mut finals: BTreeMap<StorePath, StorePath> = BTreeMap::new();
    let mut registrations = Vec::new();
    let mut results = Vec::new();
    let mut where_ = BTreeMap::new();
    for name in order {
        let built_at = &outputs[name];
        let item = &staged[name];
        let location = &item.location;
        let (path, nar_hash, nar_size, references) = match prepared.floating.get(name) {
            None => {
                let real = store.real_path(built_at);
                move_replacing(location, &real)?;
                let s = &item.result;
                (
                    built_at.clone(),
                    s.nar_hash,
                    s.nar_size,
                    item.references.clone(),
                )
            }
            Some(&(method, algo)) => {
                let others: Vec<StorePath> = item
                    .references
                    .iter()
                    .filter(|r| *r != built_at)
                    .map(|r| finals.get(r).unwrap_or(r).clone())
                    .collect();
                let siblings: BTreeMap<StorePath, StorePath> = finals
                    .iter()
                    .filter(|(scratch, _)| item.references.contains(*scratch))
                    .map(|(a, b)| (a.clone(), b.clone()))
                    .collect();
                let path_name = abovo_store::store_path::output_path_name(drv_name, name);
                let f = finalise(
                    store.store_dir(),
                    location,
                    built_at,
                    &path_name,
                    method,
                    algo,
                    &others,
                    &siblings,
                )
                .map_err(|reason| BuildError::Suspicious {
                    drv: shown.clone(),
                    path: store.display(built_at),
                    reason,
                })?;
                let real = store.real_path(&f.path);
                // The same content may be there already (built by
                // another derivation): it is the same item.
                if store.is_valid(&f.path)? {
                    fsutil::delete_path(location)?;
                } else {
                    move_replacing(location, &real)?;
                }
                let mut references: BTreeSet<StorePath> = others.into_iter().collect();
                if f.self_reference {
                    references.insert(f.path.clone());
                }
                finals.insert(built_at.clone(), f.path.clone());
                (f.path, f.nar_hash, f.nar_size, references)
            }
        };
        results.push(OutputResult {
            name: name.clone(),
            path: store.display(&path),
            nar_hash,
            nar_size,
            references: references.iter().map(|r| store.display(r)).collect(),
        });
        where_.insert(name.clone(), path.clone());
        registrations.push(Registration {
            info: PathInfo {
                path,
                nar_hash,
                nar_size,
                references,
                deriver: Some(drv_path.clone()),
                registration_time: 0,
            },
            derivation_outputs: BTreeMap::new(),
        });
    }
    let drv_info = store
        .path_info(drv_path)?
        .ok_or_else(|| StoreError::NotValid(shown.clone()))?;
    registrations.push(Registration {
        info: drv_info,
        derivation_outputs: where_,
    });
    store.register(&registrations)?;
    results.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(results)
}

/// A floating output moved to the path its content gives.
#[derive(Debug, Clone)]
pub struct Finalised {
    /// Its final path.
    pub path: StorePath,
    /// The NAR hash of its final content.
    pub nar_hash: Hash,
    /// The NAR size.
    pub nar_size: u64,
    /// Whether it refers to itself.
    pub self_reference: bool,
}

/// Hashes the floating output built at `built` (its scratch path
/// `scratch`), named `name` (`<drv name>[-<output>]`), whose references
/// other than itself are `others` (final paths); rewrites the hash parts
/// of `siblings` (scratch → final, outputs of the same build registered
/// before it) and of its own scratch path in its content; returns where it
/// belongs. See the [module docs](self).
#[allow(clippy::too_many_arguments)]
pub fn finalise(
    store: &StoreDir,
    built: &Path,
    scratch: &StorePath,
    name: &str,
    method: CaMethod,
    algo: HashAlgo,
    others: &[StorePath],
    siblings: &BTreeMap<StorePath, StorePath>,
) -> Result<Finalised, String> {
    for (from, to) in siblings {
        rewrite_tree(built, from, to)?;
    }
    let modulus = scratch.hash_part().as_bytes();
    let mut hasher = HashModuloWriter::new(algo, modulus);
    match method {
        CaMethod::Nar => {
            nar::dump_path(built, &mut hasher).map_err(|e| e.to_string())?;
        }
        CaMethod::Flat | CaMethod::Text => {
            let meta = std::fs::symlink_metadata(built).map_err(|e| e.to_string())?;
            if !meta.is_file() || meta.mode() & 0o100 != 0 {
                return Err(format!(
                    "a {method}-hashed output must be a non-executable regular file"
                ));
            }
            let mut f = std::fs::File::open(built).map_err(|e| e.to_string())?;
            let mut buf = vec![0u8; 1 << 16];
            loop {
                let n = f.read(&mut buf).map_err(|e| e.to_string())?;
                if n == 0 {
                    break;
                }
                std::io::Write::write_all(&mut hasher, &buf[..n]).map_err(|e| e.to_string())?;
            }
        }
        CaMethod::Git => return Err("git-hashed floating outputs are not supported".into()),
    }
    let (hash, matches) = hasher.finish().map_err(|e| e.to_string())?;
    let self_reference = !matches.is_empty();
    let ca = ContentAddress { method, hash };
    let path = ca
        .path_with_references(store, name, others, self_reference)
        .map_err(|e| e.to_string())?;
    if self_reference {
        rewrite_tree(built, scratch, &path)?;
    }
    let nar = nar::hash_path(built).map_err(|e| e.to_string())?;
    Ok(Finalised {
        path,
        nar_hash: nar.hash,
        nar_size: nar.size,
        self_reference,
    })
}

/// Rewrites the hash part of `from` to that of `to` everywhere in the tree
/// at `path` (file contents, symlink targets, names): through its NAR, as
/// Nix does.
fn rewrite_tree(path: &Path, from: &StorePath, to: &StorePath) -> Result<(), String> {
    let mut nar_file = path.as_os_str().to_owned();
    nar_file.push(".rewrite.nar");
    let nar_file = PathBuf::from(nar_file);
    let result = (|| {
        let file = std::fs::File::create(&nar_file).map_err(|e| e.to_string())?;
        let mut w = RewritingWriter::new(
            std::io::BufWriter::new(file),
            from.hash_part().as_bytes(),
            to.hash_part().as_bytes(),
        )
        .ok_or("hash parts of different lengths")?;
        nar::dump_path(path, &mut w).map_err(|e| e.to_string())?;
        let (_, matches) = w.finish().map_err(|e| e.to_string())?;
        if matches.is_empty() {
            return Ok(());
        }
        fsutil::delete_path(path).map_err(|e| e.to_string())?;
        let nar = std::fs::File::open(&nar_file).map_err(|e| e.to_string())?;
        nar::restore(std::io::BufReader::new(nar), path).map_err(|e| e.to_string())?;
        fsutil::canonicalise(path, None, &mut InodesSeen::default()).map_err(|e| e.to_string())
    })();
    let _ = std::fs::remove_file(&nar_file);
    result
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    #[test]
    fn scratch_paths_are_nix_s_fallback_paths() {
        // Nix: makeStorePath("rewrite:" + drvPath.to_string() + ":name:" +
        // output, Hash(SHA256), outputPathName(name, output)).
        let store = StoreDir::new(StoreDir::NIX).unwrap();
        let drv = StorePath::from_base_name("g1w7hy3qg1w7hy3qg1w7hy3qg1w7hy3q-foo.drv").unwrap();
        let p = scratch_path(&store, &drv, "dev").unwrap();
        let fingerprint = format!(
            "rewrite:g1w7hy3qg1w7hy3qg1w7hy3qg1w7hy3q-foo.drv:name:dev:sha256:{}:/nix/store:foo-dev",
            "0".repeat(64)
        );
        let h = abovo_store::hash::sha256(fingerprint.as_bytes());
        let want =
            StorePath::from_digest(&abovo_store::store_path::compress_hash(&h), "foo-dev").unwrap();
        assert_eq!(p, want);
    }

    #[test]
    fn a_self_reference_is_hashed_modulo_and_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let store = StoreDir::new(dir.path().join("store").to_str().unwrap()).unwrap();
        // A tree at `dir/<name>` whose file `self` names `scratch`, finalised.
        let built_at = |scratch: &StorePath, name: &str| {
            let out = dir.path().join(name);
            std::fs::create_dir(&out).unwrap();
            std::fs::write(out.join("self"), store.display(scratch)).unwrap();
            fsutil::canonicalise(&out, None, &mut InodesSeen::default()).unwrap();
            let f = finalise(
                &store,
                &out,
                scratch,
                "x",
                CaMethod::Nar,
                HashAlgo::Sha256,
                &[],
                &BTreeMap::new(),
            )
            .unwrap();
            (out, f)
        };
        let scratch = StorePath::from_base_name("g1w7hy3qg1w7hy3qg1w7hy3qg1w7hy3q-x").unwrap();
        let (out, f) = built_at(&scratch, "x");
        assert!(f.self_reference);
        assert_eq!(
            std::fs::read_to_string(out.join("self")).unwrap(),
            store.display(&f.path)
        );
        // The same content, built at another scratch path, lands at the
        // same path: the hash does not see the temporary name.
        let other = StorePath::from_base_name("h1w7hy3qg1w7hy3qg1w7hy3qg1w7hy3q-x").unwrap();
        let (_, g) = built_at(&other, "y");
        assert_eq!(g.path, f.path);
        assert_eq!(g.nar_hash, f.nar_hash);
        // A flat output cannot refer to itself.
        let file = dir.path().join("flat");
        std::fs::write(&file, store.display(&scratch)).unwrap();
        let err = finalise(
            &store,
            &file,
            &scratch,
            "x",
            CaMethod::Flat,
            HashAlgo::Sha256,
            &[],
            &BTreeMap::new(),
        )
        .unwrap_err();
        assert!(err.contains("cannot refer to itself"), "{err}");
    }
}
