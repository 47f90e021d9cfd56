//! Finding a seed's bytes, and proving they are the seed.
//!
//! A file found under a seed's name is only a candidate: a text file named
//! `bash` in a seed directory is not the bootstrap bash, and the i686 and
//! armhf bootstrap executables share the file name `bash`. Content evidence
//! counts only when the bytes hash to what the graph pins:
//!
//! - a **fixed-output derivation**'s output is hashed as the derivation
//!   declares it, with its algorithm: the flat hash of the file, or, for a
//!   recursive (`r:`) hash, the hash of its NAR serialisation;
//! - an **input source** is NAR-hashed (SHA-256) and compared with the NAR
//!   hash that the store metadata (the graph's snapshot) or the store
//!   database (`--db`) records;
//! - an input source with no recorded hash is accepted only when its store
//!   path follows from its content, as the daemon computes the path of an
//!   item it adds (`add-to-store`, recursive or flat; `add-text-to-store`
//!   with no references, or with the store paths the text mentions).
//!
//! A regular file in a seed directory is NAR-hashed both as it is and with
//! its executable bit flipped: a download does not carry the mode of the
//! store item (Guix's bootstrap executables are stored executable), and the
//! bytes are what matters. The seed's own store path is taken as it is.
//!
//! Candidates are tried in a fixed order ([`candidates`]); the first that
//! matches wins, and every candidate tried before it that exists but does
//! not match is returned as a [`RejectedFile`] (with the expected and actual
//! hash in nix32) so that reports can say it was ignored.

use crate::classify::SeedFacts;
use abovo_store::derivation::FixedOutput;
use abovo_store::file_hash::hash_reader;
use abovo_store::nar::{self, NarHash, NarHashSink, wire};
use abovo_store::{Hash, HashAlgo, StoreDir, StorePath};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// How a candidate is hashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HashMethod {
    /// The file's own bytes.
    Flat,
    /// The NAR serialisation of the file or tree.
    Nar,
}

/// Which record of the store says what an input source's NAR hash is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NarHashRecord {
    /// The graph's store metadata (the snapshot's `narHash`).
    StoreMeta,
    /// The store database's `ValidPaths.hash` (`--db`).
    StoreDb,
}

impl NarHashRecord {
    /// A short label for reports.
    pub fn label(self) -> &'static str {
        match self {
            NarHashRecord::StoreMeta => "store metadata",
            NarHashRecord::StoreDb => "store database",
        }
    }
}

/// What a seed's bytes must hash to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// A fixed-output derivation's pinned hash.
    Fixed(FixedOutput),
    /// An input source's NAR hash (SHA-256), as a store record gives it.
    NarHash {
        /// The hash.
        hash: Hash,
        /// Where it is recorded.
        record: NarHashRecord,
    },
    /// No hash is recorded: the store path itself must follow from the
    /// content.
    StorePath {
        /// The store directory the path is in.
        store: StoreDir,
        /// The seed's store path.
        path: StorePath,
    },
}

/// How found bytes were proven to be the seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verified {
    /// Their hash is the fixed-output derivation's hash.
    FixedOutputHash,
    /// Their NAR hash is the one recorded in the graph's store metadata.
    StoreMeta,
    /// Their NAR hash is the one recorded in the store database.
    StoreDb,
    /// The seed's store path follows from their content.
    StorePath,
}

impl Verified {
    /// A short phrase for reports ("matches the fixed-output hash").
    pub fn label(self) -> &'static str {
        match self {
            Verified::FixedOutputHash => "the fixed-output hash",
            Verified::StoreMeta => "the NAR hash in the store metadata",
            Verified::StoreDb => "the NAR hash in the store database",
            Verified::StorePath => "the store path, computed from the content",
        }
    }
}

/// Bytes that are the seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Where they are (a seed directory entry, with a symbolic link
    /// followed, or the seed's own store path).
    pub path: PathBuf,
    /// How they were proven to be the seed.
    pub verified: Verified,
    /// Their SHA-256 NAR hash and NAR size, when the check computed them.
    pub nar: Option<NarHash>,
}

/// Why a candidate file is not the seed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum Rejection {
    /// It hashes to something else.
    HashMismatch {
        /// How it was hashed.
        method: HashMethod,
        /// The seed's hash (`sha256:<nix32>`).
        expected: String,
        /// The file's hash (`sha256:<nix32>`).
        actual: String,
    },
    /// No hash is recorded for the seed, and its store path does not follow
    /// from the file's content.
    StorePathMismatch {
        /// The seed's store path.
        expected: String,
        /// The store path the file's content gives when added recursively
        /// (`add-to-store`) without references.
        actual: String,
        /// The file's NAR hash (`sha256:<nix32>`).
        nar_hash: String,
    },
    /// It could not be hashed as the seed requires (unreadable, a
    /// directory where a single file is expected, a device in a tree).
    Unreadable {
        /// What went wrong.
        error: String,
    },
}

/// A file found under a seed's name that is not the seed: it was ignored
/// for classification and sizes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RejectedFile {
    /// The file.
    pub file: PathBuf,
    /// Why.
    #[serde(flatten)]
    pub rejection: Rejection,
}

impl RejectedFile {
    /// One sentence for people (untrusted parts are not escaped here: the
    /// caller renders it for its medium).
    pub fn message(&self) -> String {
        let file = self.file.display();
        match &self.rejection {
            Rejection::HashMismatch {
                method,
                expected,
                actual,
            } => {
                let what = match method {
                    HashMethod::Flat => "hash",
                    HashMethod::Nar => "NAR hash",
                };
                format!(
                    "`{file}` is not this seed: its {what} is {actual}, the seed's is {expected}"
                )
            }
            Rejection::StorePathMismatch {
                expected, actual, ..
            } => format!(
                "`{file}` is not this seed as far as can be told: no hash of the seed is recorded (--db gives them), and its content gives {actual}, not {expected}"
            ),
            Rejection::Unreadable { error } => format!("`{file}` cannot be checked: {error}"),
        }
    }
}

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
    if let Some((hash_part, _)) = base.split_once('-') {
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

fn unreadable(e: impl std::fmt::Display) -> Rejection {
    Rejection::Unreadable {
        error: e.to_string(),
    }
}

fn flat_hash(path: &Path, algo: HashAlgo) -> Result<Hash, Rejection> {
    let meta = std::fs::metadata(path).map_err(unreadable)?;
    if !meta.is_file() {
        return Err(unreadable(
            "not a regular file, and the seed's hash is that of a single file",
        ));
    }
    let file = std::fs::File::open(path).map_err(unreadable)?;
    hash_reader(std::io::BufReader::with_capacity(1 << 16, file), algo).map_err(unreadable)
}

/// The NAR hash of `path` with `algo`; with `either_mode`, for a regular
/// file, also the NAR hash it would have with its executable bit flipped
/// (both in one read).
fn nar_hashes(
    path: &Path,
    algo: HashAlgo,
    either_mode: bool,
) -> Result<(NarHash, Option<NarHash>), Rejection> {
    let meta = std::fs::symlink_metadata(path).map_err(unreadable)?;
    if !(either_mode && meta.is_file()) {
        let n = nar::hash_path_with(path, algo, &mut |_, _| true).map_err(unreadable)?;
        return Ok((n, None));
    }
    use std::io::{Read, Write};
    let executable = is_executable(path);
    let mut sinks = [NarHashSink::with_algo(algo), NarHashSink::with_algo(algo)];
    let size = meta.len();
    for (sink, exec) in sinks.iter_mut().zip([executable, !executable]) {
        let head = |sink: &mut NarHashSink| -> std::io::Result<()> {
            wire::write_str(sink, wire::MAGIC)?;
            if exec {
                wire::write_tokens(
                    sink,
                    &[b"(", b"type", b"regular", b"executable", b"", b"contents"],
                )?;
            } else {
                wire::write_tokens(sink, &[b"(", b"type", b"regular", b"contents"])?;
            }
            sink.write_all(&size.to_le_bytes())
        };
        head(sink).map_err(unreadable)?;
    }
    let mut file = std::fs::File::open(path).map_err(unreadable)?;
    let mut buf = vec![0u8; 1 << 16];
    let mut read = 0u64;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(unreadable(e)),
        };
        read += n as u64;
        for sink in &mut sinks {
            sink.write_all(&buf[..n]).map_err(unreadable)?;
        }
    }
    if read != size {
        return Err(unreadable("the file changed while it was read"));
    }
    let [mut own, mut flipped] = sinks;
    for sink in [&mut own, &mut flipped] {
        wire::write_padding(sink, size).map_err(unreadable)?;
        wire::write_str(sink, b")").map_err(unreadable)?;
    }
    Ok((own.finish(), Some(flipped.finish())))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o100 != 0)
}

/// The first of the NAR hashes of `path` (as [`nar_hashes`]) equal to
/// `want`, else the file's own.
fn nar_match(
    path: &Path,
    algo: HashAlgo,
    either_mode: bool,
    want: impl Fn(&Hash) -> bool,
) -> Result<(bool, NarHash), Rejection> {
    let (own, flipped) = nar_hashes(path, algo, either_mode)?;
    if want(&own.hash) {
        return Ok((true, own));
    }
    match flipped {
        Some(f) if want(&f.hash) => Ok((true, f)),
        _ => Ok((false, own)),
    }
}

/// The largest file whose mentioned store paths are tried as text
/// references: text added to the store is small.
const MAX_TEXT_SCAN: u64 = 64 << 20;

/// The store paths mentioned in `text` (`<store>/<32 nix32 chars>-<name>`,
/// up to the first character a store name cannot hold), without
/// duplicates.
fn mentioned_store_paths(store: &StoreDir, text: &[u8]) -> Vec<StorePath> {
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

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use crate::classify::Origin;

    fn facts(name: &str, fixed: Option<FixedOutput>, store_path: &str) -> SeedFacts {
        SeedFacts {
            node: abovo_graph::NodeId(0),
            origin: if fixed.is_some() {
                Origin::FixedOutput
            } else {
                Origin::InputSource
            },
            name: name.to_owned(),
            store_path: store_path.to_owned(),
            derivation: None,
            fixed,
            hash: None,
            urls: vec![],
            builder: None,
        }
    }

    #[test]
    fn a_flat_fixed_output_needs_its_flat_hash() {
        let dir = tempfile::tempdir().unwrap();
        let good = b"#!/bin/sh\necho the real seed\n";
        std::fs::write(dir.path().join("tool"), good).unwrap();
        let fixed = FixedOutput {
            recursive: false,
            hash: HashAlgo::Sha256.digest(good),
        };
        let f = facts(
            "tool",
            Some(fixed),
            "/gnu/store/00000000000000000000000000000000-tool",
        );
        let dirs = vec![dir.path().to_owned()];
        let l = locate(&f, &Expected::Fixed(fixed), &dirs, false);
        let found = l.found.unwrap();
        assert_eq!(found.verified, Verified::FixedOutputHash);
        assert!(l.rejected.is_empty());

        // Another file under the same name is ignored and reported.
        std::fs::write(dir.path().join("tool"), b"impostor").unwrap();
        let l = locate(&f, &Expected::Fixed(fixed), &dirs, false);
        assert!(l.found.is_none());
        assert_eq!(l.rejected.len(), 1);
        let Rejection::HashMismatch {
            method,
            expected,
            actual,
        } = &l.rejected[0].rejection
        else {
            panic!("{:?}", l.rejected)
        };
        assert_eq!(*method, HashMethod::Flat);
        assert_eq!(expected, &fixed.hash.to_string());
        assert_eq!(actual, &HashAlgo::Sha256.digest(b"impostor").to_string());
        assert!(l.rejected[0].message().contains("is not this seed"));
    }

    #[test]
    fn a_recursive_fixed_output_needs_its_nar_hash_and_the_hash_resolves_shared_names() {
        // Two seeds named `bash` (as the i686 and armhf bootstrap bash):
        // the one in the directory under a hash name is found for its own
        // seed; the bare name serves only the seed whose hash it has.
        let dir = tempfile::tempdir().unwrap();
        let i686 = b"\x7fELF i686 bash";
        let armhf = b"\x7fELF armhf bash";
        std::fs::write(dir.path().join("bash"), i686).unwrap();
        let nar_of = |b: &[u8]| nar::hash_regular_bytes(b, false).hash;
        let fixed_i686 = FixedOutput {
            recursive: true,
            hash: nar_of(i686),
        };
        let fixed_armhf = FixedOutput {
            recursive: true,
            hash: nar_of(armhf),
        };
        std::fs::write(dir.path().join(fixed_armhf.hash.to_nix32()), armhf).unwrap();
        let dirs = vec![dir.path().to_owned()];
        let a = facts(
            "bash",
            Some(fixed_i686),
            "/gnu/store/00000000000000000000000000000001-bash",
        );
        let b = facts(
            "bash",
            Some(fixed_armhf),
            "/gnu/store/00000000000000000000000000000002-bash",
        );
        let la = locate(&a, &Expected::Fixed(fixed_i686), &dirs, false);
        assert_eq!(la.found.unwrap().path, dir.path().join("bash"));
        let lb = locate(&b, &Expected::Fixed(fixed_armhf), &dirs, false);
        assert_eq!(
            lb.found.unwrap().path,
            dir.path().join(fixed_armhf.hash.to_nix32())
        );
        // A flat hash of the same bytes is not the recursive one.
        let flat = FixedOutput {
            recursive: false,
            hash: nar_of(i686),
        };
        let l = locate(&a, &Expected::Fixed(flat), &dirs, false);
        assert!(l.found.is_none());
    }

    #[test]
    fn input_sources_check_the_recorded_nar_hash_or_the_store_path() {
        let dir = tempfile::tempdir().unwrap();
        let store = StoreDir::default();
        let content = b"(define x 1)\n";
        let nar = nar::hash_regular_bytes(content, false);
        // Added recursively (add-to-store): the path is a source path.
        let path = store
            .make_fixed_output_path("x.scm", true, &nar.hash)
            .unwrap();
        std::fs::write(dir.path().join(path.base_name()), content).unwrap();
        let f = facts("x.scm", None, &store.display(&path));
        let dirs = vec![dir.path().to_owned()];
        let by_path = Expected::StorePath {
            store: store.clone(),
            path: path.clone(),
        };
        let l = locate(&f, &by_path, &dirs, false);
        assert_eq!(l.found.unwrap().verified, Verified::StorePath);
        let recorded = Expected::NarHash {
            hash: nar.hash,
            record: NarHashRecord::StoreMeta,
        };
        let l = locate(&f, &recorded, &dirs, false);
        assert_eq!(l.found.unwrap().verified, Verified::StoreMeta);
        // Added as text (add-text-to-store), also recognised.
        let text_path = store.make_text_path("y.scm", content, []).unwrap();
        std::fs::write(dir.path().join(text_path.base_name()), content).unwrap();
        let ft = facts("y.scm", None, &store.display(&text_path));
        let l = locate(
            &ft,
            &Expected::StorePath {
                store: store.clone(),
                path: text_path,
            },
            &dirs,
            false,
        );
        assert!(l.found.is_some());
        // A builder script refers to the store paths it names.
        let lib = StorePath::from_base_name("0a9wqyxa0cg4cx1rj3d1cxjgyqiqmfdi-lib-1.0").unwrap();
        let guile =
            StorePath::from_base_name("1b9wqyxa0cg4cx1rj3d1cxjgyqiqmfdi-guile-3.0").unwrap();
        let script = format!(
            "(begin (use-modules (guix build utils)) (system* \"{0}/bin/guile\" \"{1}/lib\" \"{0}\"))\n",
            store.display(&guile),
            store.display(&lib)
        );
        let builder = store
            .make_text_path("x-builder", script.as_bytes(), [&lib, &guile])
            .unwrap();
        std::fs::write(dir.path().join(builder.base_name()), &script).unwrap();
        let fb = facts("x-builder", None, &store.display(&builder));
        let expect_builder = Expected::StorePath {
            store: store.clone(),
            path: builder.clone(),
        };
        let l = locate(&fb, &expect_builder, &dirs, false);
        assert_eq!(l.found.unwrap().verified, Verified::StorePath);
        assert_eq!(
            mentioned_store_paths(&store, script.as_bytes()),
            [guile, lib]
        );
        std::fs::write(
            dir.path().join(builder.base_name()),
            script.replace("lib\"", "lob\""),
        )
        .unwrap();
        let l = locate(&fb, &expect_builder, &dirs, false);
        assert!(l.found.is_none());
        assert!(l.rejected[0].message().contains("--db"));
        // Changed bytes: neither check passes.
        std::fs::write(dir.path().join(path.base_name()), b"(define x 2)\n").unwrap();
        let l = locate(&f, &by_path, &dirs, false);
        assert!(l.found.is_none());
        assert!(matches!(
            l.rejected[0].rejection,
            Rejection::StorePathMismatch { .. }
        ));
        let l = locate(&f, &recorded, &dirs, false);
        assert!(matches!(
            l.rejected[0].rejection,
            Rejection::HashMismatch {
                method: HashMethod::Nar,
                ..
            }
        ));
    }

    #[test]
    fn symlinks_in_seed_dirs_are_followed_and_names_cannot_escape() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let content = b"payload";
        std::fs::write(elsewhere.path().join("download"), content).unwrap();
        let fixed = FixedOutput {
            recursive: false,
            hash: HashAlgo::Sha256.digest(content),
        };
        std::os::unix::fs::symlink(
            elsewhere.path().join("download"),
            dir.path().join(fixed.hash.to_nix32()),
        )
        .unwrap();
        let f = facts(
            "p",
            Some(fixed),
            "/gnu/store/00000000000000000000000000000003-p",
        );
        let l = locate(&f, &Expected::Fixed(fixed), &[dir.path().to_owned()], false);
        assert!(l.found.is_some());
        let odd = facts("..", None, "/gnu/store/x/..");
        assert!(
            candidates(&odd, &[dir.path().to_owned()], false)
                .iter()
                .all(|c| !c.path.ends_with(".."))
        );
    }

    #[test]
    fn a_download_need_not_carry_the_executable_bit() {
        let dir = tempfile::tempdir().unwrap();
        let content = b"\x7fELF pretend static bash";
        let file = dir.path().join("bash");
        std::fs::write(&file, content).unwrap();
        // The store item is executable; the download is not.
        let fixed = FixedOutput {
            recursive: true,
            hash: nar::hash_regular_bytes(content, true).hash,
        };
        let (v, n) = check(&file, &Expected::Fixed(fixed), true).unwrap();
        assert_eq!(v, Verified::FixedOutputHash);
        // The NAR hash and size reported are those of the store item.
        assert_eq!(n.unwrap(), nar::hash_regular_bytes(content, true));
        // Taken as it is (a store path), the mode counts.
        let r = check(&file, &Expected::Fixed(fixed), false).unwrap_err();
        let Rejection::HashMismatch { actual, .. } = r else {
            panic!("{r:?}")
        };
        assert_eq!(
            actual,
            nar::hash_regular_bytes(content, false).hash.to_string()
        );
        // Both modes are hashed exactly as the NAR writer does.
        let (own, flipped) = nar_hashes(&file, HashAlgo::Sha256, true).unwrap();
        assert_eq!(own, nar::hash_path(&file).unwrap());
        assert_eq!(flipped.unwrap(), nar::hash_regular_bytes(content, true));
    }

    #[test]
    fn a_directory_is_not_a_flat_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("t")).unwrap();
        let fixed = FixedOutput {
            recursive: false,
            hash: HashAlgo::Sha256.digest(b""),
        };
        let r = check(&dir.path().join("t"), &Expected::Fixed(fixed), true).unwrap_err();
        assert!(matches!(r, Rejection::Unreadable { .. }), "{r:?}");
    }
}
