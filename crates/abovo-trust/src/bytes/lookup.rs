//! Where a seed's bytes may be, and the search through those places.
//!
//! The candidates are tried in a fixed order ([`candidates`]): the most
//! specific names first, since the bare file name is shared by seeds for
//! different systems. The first candidate whose bytes pass [`check`](fn@check) wins;
//! those tried before it that exist are kept as [`RejectedFile`]s.

use super::{Expected, Found, RejectedFile, Rejection, check};
use crate::classify::SeedFacts;
use std::collections::HashSet;
use std::path::PathBuf;

/// The outcome of a lookup: the bytes, if any candidate is the seed, and
/// the candidates that were not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Located {
    /// The bytes that are the seed.
    pub found: Option<Found>,
    /// Candidates that exist but are not the seed.
    pub rejected: Vec<RejectedFile>,
}

/// A place where a seed's bytes may be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The path.
    pub path: PathBuf,
    /// Whether it is in a seed directory (a symbolic link there is
    /// followed: a seed directory may link to downloads kept elsewhere),
    /// rather than the seed's own store path (taken as it is).
    pub in_seed_dir: bool,
}

/// Where to look for the bytes of a seed, in order: in each seed directory
/// (in the order given), the store base name (`<hash>-<name>`), the store
/// hash part, the fixed-output hash (`<nix32>`, `<base16>`,
/// `<algo>-<base16>`, `<algo>:<nix32>`), then the bare file name (`<name>`,
/// the weakest: seeds for different systems share it); then the seed's own
/// store path when `use_store`.
pub fn candidates(facts: &SeedFacts, seed_dirs: &[PathBuf], use_store: bool) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = Vec::new();
    if !seed_dirs.is_empty() {
        let names = seed_dir_names(facts);
        for dir in seed_dirs {
            for n in &names {
                let c = Candidate {
                    path: dir.join(n),
                    in_seed_dir: true,
                };
                if !out.contains(&c) {
                    out.push(c);
                }
            }
        }
    }
    if use_store {
        out.push(Candidate {
            path: PathBuf::from(&facts.store_path),
            in_seed_dir: false,
        });
    }
    out
}

/// The names a seed may have in a seed directory, in lookup order.
fn seed_dir_names(facts: &SeedFacts) -> Vec<String> {
    let base = facts.base_name();
    let mut names: Vec<String> = vec![base.to_owned()];
    if let Some(hash_part) = facts.hash_part() {
        names.push(hash_part.to_owned());
    }
    if let Some(f) = &facts.fixed {
        let h = f.hash;
        names.push(h.to_nix32());
        names.push(h.to_base16());
        names.push(format!("{}-{}", h.algo(), h.to_base16()));
        names.push(format!("{}:{}", h.algo(), h.to_nix32()));
    }
    names.push(facts.name.clone());
    // A name is one path component: nothing from a derivation may walk out
    // of the seed directory.
    names.retain(|n| !n.is_empty() && !n.contains('/') && n != "." && n != "..");
    names
}

/// The seed's bytes in abovo's fetch cache (`abovo fetch`), when it holds
/// them under the seed's store base name with a record of the seed's own
/// fixed-output hash. The cache verified them before keeping them (it
/// keeps nothing else) and they are read-only, so they are not hashed
/// again: a warm cache costs a file lookup per seed. A file whose size is
/// no longer the recorded one is not taken.
/// `record` is the cache's record of the seed's base name
/// ([`abovo_fetch::cache::Cache::lookup`]).
pub fn from_cache(
    facts: &SeedFacts,
    cache: &abovo_fetch::cache::Cache,
    record: &abovo_fetch::cache::Record,
) -> Option<Found> {
    let fixed = facts.fixed.as_ref()?;
    if record.hash != abovo_fetch::verify::show_fixed(fixed) {
        return None;
    }
    let path = cache.item_path(facts.base_name());
    let meta = std::fs::symlink_metadata(&path).ok()?;
    if meta.is_file() && meta.len() != record.measured.bytes {
        return None;
    }
    let nar = record
        .measured
        .nar_hash
        .map(|hash| abovo_store::nar::NarHash {
            hash,
            size: record.measured.nar_size,
        });
    Some(Found {
        path,
        verified: super::Verified::FixedOutputHash,
        nar,
    })
}

/// Looks for the seed's bytes among its [`candidates`] and checks each that
/// exists against `expected`.
pub fn locate(
    facts: &SeedFacts,
    expected: &Expected,
    seed_dirs: &[PathBuf],
    use_store: bool,
) -> Located {
    let mut located = Located::default();
    for c in candidates(facts, seed_dirs, use_store) {
        let Ok(meta) = std::fs::symlink_metadata(&c.path) else {
            continue;
        };
        let path = if c.in_seed_dir && meta.file_type().is_symlink() {
            match std::fs::canonicalize(&c.path) {
                Ok(p) => p,
                Err(e) => {
                    located.rejected.push(RejectedFile {
                        file: c.path,
                        rejection: Rejection::Unreadable {
                            error: format!("a symbolic link that cannot be followed: {e}"),
                        },
                    });
                    continue;
                }
            }
        } else {
            c.path.clone()
        };
        match check(&path, expected, c.in_seed_dir) {
            Ok((verified, nar)) => {
                located.found = Some(Found {
                    path,
                    verified,
                    nar,
                });
                break;
            }
            Err(rejection) => located.rejected.push(RejectedFile {
                file: c.path,
                rejection,
            }),
        }
    }
    located
}

/// The entries of the seed directories that none of `seeds` answers to by
/// any of its names (see [`candidates`]): files a user put there that no
/// seed of the report looked at, sorted. A file found under a seed's name
/// but not the seed is not among them: it is a [`RejectedFile`].
pub fn unused_files<'a>(
    seed_dirs: &[PathBuf],
    seeds: impl IntoIterator<Item = &'a SeedFacts>,
) -> Vec<PathBuf> {
    if seed_dirs.is_empty() {
        return Vec::new();
    }
    let claimed: HashSet<PathBuf> = seeds
        .into_iter()
        .flat_map(|f| candidates(f, seed_dirs, false))
        .map(|c| c.path)
        .collect();
    let mut unused: Vec<PathBuf> = seed_dirs
        .iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| !claimed.contains(p))
        .collect();
    unused.sort();
    unused.dedup();
    unused
}
