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
//!
//! | module | owns |
//! | --- | --- |
//! | this one | the verdicts: what the bytes must hash to ([`Expected`]), how they were proven ([`Verified`], [`Found`]), why a file was refused ([`Rejection`], [`RejectedFile`]) |
//! | `lookup` | where a seed's bytes may be ([`candidates`]), the search through them ([`locate`]), and abovo's fetch cache ([`from_cache`]) |
//! | `check` | one file or tree against what the seed must hash to ([`check`](fn@check)) |
//! | `hash` | hashing a candidate: flat, or as a NAR in either executable mode |

mod check;
mod hash;
mod lookup;

pub use check::check;
pub use lookup::{Candidate, Located, candidates, from_cache, locate, unused_files};

use abovo_store::derivation::FixedOutput;
use abovo_store::nar::NarHash;
use abovo_store::{Hash, StoreDir, StorePath};
use serde::Serialize;
use std::path::PathBuf;

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

/// The SHA-256 NAR hashes of the file or tree at `path`: for a regular
/// file, as it is and with its executable bit flipped (a download does not
/// carry the store item's mode); for anything else, its one NAR hash.
pub fn nar_hashes_either_mode(path: &std::path::Path) -> Result<Vec<Hash>, Rejection> {
    let (as_is, flipped) = hash::nar_hashes(path, abovo_store::HashAlgo::Sha256, true)?;
    Ok(std::iter::once(as_is.hash)
        .chain(flipped.map(|n| n.hash))
        .collect())
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

#[cfg(test)]
mod tests;
