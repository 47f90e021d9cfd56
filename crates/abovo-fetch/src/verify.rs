//! Checking content against a fixed-output derivation's own hash, before
//! anything is kept.
//!
//! A flat hash (`sha256`) is the hash of a single regular file's bytes; a
//! recursive one (`r:sha256`) the hash of the NAR serialisation of the
//! file or tree, executable bits and symbolic links included. Whatever the
//! source (a store, a substitute's NAR, a mirror, the original URL), the
//! bytes reach the cache only through [`check`].

use abovo_store::derivation::FixedOutput;
use abovo_store::nar;
use abovo_store::{Hash, HashAlgo};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// What verified content measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Measured {
    /// The bytes of the file, or of every regular file of the tree.
    pub bytes: u64,
    /// The NAR size (a recursive output's size in the store's terms).
    pub nar_size: u64,
    /// The SHA-256 NAR hash, when computed (always for `r:sha256`).
    #[serde(skip_serializing_if = "Option::is_none", default, with = "opt_hash")]
    pub nar_hash: Option<Hash>,
}

/// Content that is not what the derivation pins.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The hash differs.
    #[error("hash mismatch: expected {expected}, got {actual}")]
    Mismatch {
        /// The derivation's hash (`sha256:<nix32>`, `r:` for recursive).
        expected: String,
        /// The content's.
        actual: String,
    },
    /// A flat hash needs a single regular file.
    #[error("not a regular file, and the output's hash is that of a single file")]
    NotAFile,
    /// The content could not be read.
    #[error("cannot read `{path}`: {message}")]
    Unreadable {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
}

/// The hash as Guix shows it: `r:sha256:<nix32>` or `sha256:<nix32>`.
pub fn show_fixed(f: &FixedOutput) -> String {
    format!("{}{}", if f.recursive { "r:" } else { "" }, f.hash)
}

/// Checks the file or tree at `path` against `fixed`; what it measures
/// when it matches.
pub fn check(path: &Path, fixed: &FixedOutput) -> Result<Measured, VerifyError> {
    let unreadable = |e: &dyn std::fmt::Display| VerifyError::Unreadable {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let prefix = if fixed.recursive { "r:" } else { "" };
    if fixed.recursive {
        // The regular files' bytes are counted in the walk that hashes
        // them; the walk shows every entry but the top one.
        let top = std::fs::symlink_metadata(path).map_err(|e| unreadable(&e))?;
        let mut bytes = if top.is_file() { top.len() } else { 0 };
        let n = nar::hash_path_with(path, fixed.hash.algo(), &mut |_, meta| {
            if meta.is_file() {
                bytes += meta.len();
            }
            true
        })
        .map_err(|e| unreadable(&e))?;
        if n.hash != fixed.hash {
            return Err(VerifyError::Mismatch {
                expected: format!("{prefix}{}", fixed.hash),
                actual: format!("{prefix}{}", n.hash),
            });
        }
        return Ok(Measured {
            bytes,
            nar_size: n.size,
            nar_hash: (fixed.hash.algo() == HashAlgo::Sha256).then_some(n.hash),
        });
    }
    let meta = std::fs::symlink_metadata(path).map_err(|e| unreadable(&e))?;
    if !meta.is_file() {
        return Err(VerifyError::NotAFile);
    }
    let file = std::fs::File::open(path).map_err(|e| unreadable(&e))?;
    let actual = abovo_store::file_hash::hash_reader(
        std::io::BufReader::with_capacity(1 << 16, file),
        fixed.hash.algo(),
    )
    .map_err(|e| unreadable(&e))?;
    if actual != fixed.hash {
        return Err(VerifyError::Mismatch {
            expected: fixed.hash.to_string(),
            actual: actual.to_string(),
        });
    }
    Ok(Measured {
        bytes: meta.len(),
        nar_size: flat_nar_size(meta.len()),
        nar_hash: None,
    })
}

/// The NAR size of a single regular file of `n` bytes: 112 bytes of
/// framing plus the contents padded to 8 (an executable adds 32).
pub fn flat_nar_size(n: u64) -> u64 {
    112 + n.div_ceil(8) * 8
}

mod opt_hash {
    //! A hash in JSON as `sha256:<nix32>`.
    use abovo_store::Hash;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(h: &Option<Hash>, s: S) -> Result<S::Ok, S::Error> {
        match h {
            Some(h) => s.serialize_str(&h.to_string()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Hash>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        text.map(|t| Hash::parse_prefixed(&t).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    #[test]
    fn flat_and_recursive_hashes_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, b"hello\n").unwrap();
        let flat = FixedOutput {
            recursive: false,
            hash: HashAlgo::Sha256.digest(b"hello\n"),
        };
        let m = check(&f, &flat).unwrap();
        assert_eq!((m.bytes, m.nar_size), (6, flat_nar_size(6)));
        let nar = nar::hash_regular_bytes(b"hello\n", false);
        assert_eq!(m.nar_size, nar.size);
        let rec = FixedOutput {
            recursive: true,
            hash: nar.hash,
        };
        let m = check(&f, &rec).unwrap();
        assert_eq!(
            (m.bytes, m.nar_size, m.nar_hash),
            (6, nar.size, Some(nar.hash))
        );
        std::fs::write(&f, b"hellO\n").unwrap();
        let err = check(&f, &flat).unwrap_err().to_string();
        assert!(err.starts_with("hash mismatch: expected sha256:"), "{err}");
        let err = check(&f, &rec).unwrap_err().to_string();
        assert!(
            err.contains("expected r:sha256:") && err.contains("got r:sha256:"),
            "{err}"
        );
        assert_eq!(check(dir.path(), &flat).unwrap_err(), VerifyError::NotAFile);
    }

    #[test]
    fn a_recursive_tree_counts_the_bytes_of_its_regular_files() {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path().join("out");
        std::fs::create_dir_all(top.join("share/doc")).unwrap();
        std::fs::write(top.join("a"), b"12345").unwrap();
        std::fs::write(top.join("share/doc/b"), b"123").unwrap();
        // A symlink counts for nothing, even to a file.
        std::os::unix::fs::symlink("a", top.join("link")).unwrap();
        let rec = FixedOutput {
            recursive: true,
            hash: nar::hash_path(&top).unwrap().hash,
        };
        assert_eq!(check(&top, &rec).unwrap().bytes, 8);
    }
}
