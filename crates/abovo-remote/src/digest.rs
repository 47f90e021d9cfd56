//! Content digests (SHA-256 and size, the only digest function abovo uses).

use crate::proto::Digest;
use sha2::{Digest as _, Sha256};

/// A digest as a key: lowercase hex SHA-256 and size.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    /// Lowercase hex SHA-256.
    pub hash: String,
    /// Size in bytes.
    pub size: i64,
}

impl Key {
    /// The key of `data`.
    pub fn of(data: &[u8]) -> Key {
        Key {
            hash: hex(&Sha256::digest(data)),
            size: data.len() as i64,
        }
    }

    /// The protocol's digest.
    pub fn digest(&self) -> Digest {
        Digest {
            hash: self.hash.clone(),
            size_bytes: self.size,
        }
    }

    /// The key of a protocol digest.
    pub fn from_digest(d: &Digest) -> Key {
        Key {
            hash: d.hash.clone(),
            size: d.size_bytes,
        }
    }
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// `Ok` when `data` has digest `d`: every blob from the server is checked,
/// so a server that sends other bytes than its ActionResult names is caught.
pub fn check(d: &Digest, data: &[u8]) -> Result<(), crate::RemoteError> {
    let got = Key::of(data);
    if got.hash == d.hash && got.size == d.size_bytes {
        Ok(())
    } else {
        Err(crate::RemoteError::BlobMismatch {
            hash: d.hash.clone(),
            size: d.size_bytes,
            actual: got.hash,
            actual_size: data.len(),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    #[test]
    fn the_empty_blob_has_the_well_known_digest() {
        let k = Key::of(b"");
        assert_eq!(
            k.hash,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(k.size, 0);
        assert!(check(&k.digest(), b"").is_ok());
        assert!(check(&k.digest(), b"x").is_err());
    }
}
