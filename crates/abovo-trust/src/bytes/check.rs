//! Checking one file or tree against what the seed must hash to
//! ([`check`]): a fixed-output hash, a recorded NAR hash, or, when nothing
//! is recorded, the store path itself, recomputed from the content as the
//! daemon would (recursive, flat, or text with the references it mentions).

use super::hash::{flat_hash, is_executable, nar_hashes, nar_match, unreadable};
use super::{Expected, HashMethod, NarHashRecord, Rejection, Verified};
use abovo_store::nar::NarHash;
use abovo_store::{Hash, HashAlgo, StoreDir, StorePath};
use std::path::Path;

/// The largest file whose mentioned store paths are tried as text
/// references: text added to the store is small.
const MAX_TEXT_SCAN: u64 = 64 << 20;

/// The store paths mentioned in `text` (`<store>/<32 nix32 chars>-<name>`,
/// up to the first character a store name cannot hold), without
/// duplicates.
pub(super) fn mentioned_store_paths(store: &StoreDir, text: &[u8]) -> Vec<StorePath> {
    let prefix = format!("{}/", store.as_str());
    let prefix = prefix.as_bytes();
    let name_char =
        |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.' | b'_' | b'?' | b'=');
    let mut out: Vec<StorePath> = Vec::new();
    let mut at = 0;
    while let Some(i) = text[at..]
        .windows(prefix.len())
        .position(|w| w == prefix)
        .map(|i| at + i)
    {
        let start = i + prefix.len();
        let end = text[start..]
            .iter()
            .position(|&b| !name_char(b))
            .map_or(text.len(), |n| start + n);
        at = start;
        let Ok(base) = std::str::from_utf8(&text[start..end]) else {
            continue;
        };
        if let Ok(p) = StorePath::from_base_name(base) {
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    out
}

/// Checks one file or tree against what the seed must hash to; on success,
/// how it was verified and its SHA-256 NAR hash (as the store item would
/// have it) when that was computed. `either_mode`: a regular file's
/// executable bit does not count (for seed directories).
pub fn check(
    path: &Path,
    expected: &Expected,
    either_mode: bool,
) -> Result<(Verified, Option<NarHash>), Rejection> {
    match expected {
        Expected::Fixed(f) => {
            if f.recursive {
                let algo = f.hash.algo();
                let (ok, n) = nar_match(path, algo, either_mode, |h| *h == f.hash)?;
                let nar = (algo == HashAlgo::Sha256).then_some(n);
                if ok {
                    return Ok((Verified::FixedOutputHash, nar));
                }
                return Err(Rejection::HashMismatch {
                    method: HashMethod::Nar,
                    expected: f.hash.to_string(),
                    actual: n.hash.to_string(),
                });
            }
            let actual = flat_hash(path, f.hash.algo())?;
            if actual == f.hash {
                Ok((Verified::FixedOutputHash, None))
            } else {
                Err(Rejection::HashMismatch {
                    method: HashMethod::Flat,
                    expected: f.hash.to_string(),
                    actual: actual.to_string(),
                })
            }
        }
        Expected::NarHash { hash, record } => {
            let (ok, n) = nar_match(path, HashAlgo::Sha256, either_mode, |h| h == hash)?;
            if ok {
                let verified = match record {
                    NarHashRecord::StoreMeta => Verified::StoreMeta,
                    NarHashRecord::StoreDb => Verified::StoreDb,
                };
                Ok((verified, Some(n)))
            } else {
                Err(Rejection::HashMismatch {
                    method: HashMethod::Nar,
                    expected: hash.to_string(),
                    actual: n.hash.to_string(),
                })
            }
        }
        Expected::StorePath { store, path: want } => {
            let name = want.name();
            let source_path = |h: &Hash| store.make_fixed_output_path(name, true, h).ok();
            let (ok, n) = nar_match(path, HashAlgo::Sha256, either_mode, |h| {
                source_path(h).as_ref() == Some(want)
            })?;
            if ok {
                return Ok((Verified::StorePath, Some(n)));
            }
            // A single file may also have been added flat, or as text: with
            // no references, or referring to the store paths it mentions
            // (a builder script refers to what it names).
            if let Some(meta) = std::fs::metadata(path).ok().filter(|m| m.is_file()) {
                let flat = flat_hash(path, HashAlgo::Sha256)?;
                let mut digest = [0u8; 32];
                digest.copy_from_slice(flat.digest());
                let as_flat = store.make_fixed_output_path(name, false, &flat);
                let as_text = store.make_text_path_from_hash(name, &digest, []);
                let mut matches = as_flat.as_ref() == Ok(want) || as_text.as_ref() == Ok(want);
                if !matches && meta.len() <= MAX_TEXT_SCAN {
                    let text = std::fs::read(path).map_err(unreadable)?;
                    let refs = mentioned_store_paths(store, &text);
                    matches = !refs.is_empty()
                        && store
                            .make_text_path_from_hash(name, &digest, &refs)
                            .as_ref()
                            == Ok(want);
                }
                if matches {
                    // The store item is then a non-executable regular file.
                    let plain = match nar_hashes(path, HashAlgo::Sha256, true)? {
                        (_, Some(flipped)) if is_executable(path) => flipped,
                        (own, _) => own,
                    };
                    return Ok((Verified::StorePath, Some(plain)));
                }
            }
            Err(Rejection::StorePathMismatch {
                expected: store.display(want),
                actual: source_path(&n.hash)
                    .map(|p| store.display(&p))
                    .unwrap_or_default(),
                nar_hash: n.hash.to_string(),
            })
        }
    }
}
