//! Hash algorithms, digests and their string forms.
//!
//! A [`Hash`](struct@Hash) is an algorithm and its digest. Guix writes it in three ways,
//! which [`Hash`](struct@Hash) parses and prints:
//!
//! | where | form | method |
//! | --- | --- | --- |
//! | store database `ValidPaths.hash` | `sha256:<base16>` | [`Hash::to_db_string`] |
//! | narinfo `NarHash`, `FileHash` | `sha256:<nix32>` | [`Hash::to_nix32_string`] |
//! | derivation output `hash` field | bare base16 | [`Hash::to_base16`] |
//!
//! [`Hash::parse_prefixed`] reads `algo:digest` with the digest in base16,
//! nix32 or base64 (told apart by length, as the daemon does), and also Nix's
//! SRI form `algo-<base64>`.

use crate::encoding::{TextEncoding, base16_decode, base64_decode};
use crate::nixbase32;
use digest::Digest;
use std::fmt;
use std::io;

/// A hash algorithm that abovo can compute.
///
/// The Guix daemon also knows `sha3-256`, `sha3-512` and `blake2s-256`; no
/// derivation of Guix 1.5.0 uses them, and abovo reports them as unsupported
/// rather than misreading them.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum HashAlgo {
    /// MD5 (16 bytes). Readable for old data; never trust it.
    Md5,
    /// SHA-1 (20 bytes).
    Sha1,
    /// SHA-256 (32 bytes), the algorithm of store paths and NAR hashes.
    Sha256,
    /// SHA-512 (64 bytes).
    Sha512,
}

impl HashAlgo {
    /// Every supported algorithm.
    pub const ALL: [HashAlgo; 4] = [
        HashAlgo::Md5,
        HashAlgo::Sha1,
        HashAlgo::Sha256,
        HashAlgo::Sha512,
    ];

    /// The name Guix writes (`sha256`).
    pub fn name(self) -> &'static str {
        match self {
            HashAlgo::Md5 => "md5",
            HashAlgo::Sha1 => "sha1",
            HashAlgo::Sha256 => "sha256",
            HashAlgo::Sha512 => "sha512",
        }
    }

    /// Digest length in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            HashAlgo::Md5 => 16,
            HashAlgo::Sha1 => 20,
            HashAlgo::Sha256 => 32,
            HashAlgo::Sha512 => 64,
        }
    }

    /// Parses an algorithm name.
    pub fn from_name(name: &str) -> Result<Self, HashError> {
        Ok(match name {
            "md5" => HashAlgo::Md5,
            "sha1" => HashAlgo::Sha1,
            "sha256" => HashAlgo::Sha256,
            "sha512" => HashAlgo::Sha512,
            "sha3-256" | "sha3-512" | "blake2s-256" => {
                return Err(HashError::UnsupportedAlgo(name.to_owned()));
            }
            _ => return Err(HashError::UnknownAlgo(name.to_owned())),
        })
    }

    /// A fresh incremental hasher for this algorithm.
    pub fn hasher(self) -> Hasher {
        Hasher::new(self)
    }

    /// Hashes `data` in one go.
    pub fn digest(self, data: &[u8]) -> Hash {
        let mut h = self.hasher();
        h.update(data);
        h.finish()
    }
}

impl fmt::Display for HashAlgo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for HashAlgo {
    type Err = HashError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        HashAlgo::from_name(s)
    }
}

/// What is wrong with a hash or its string form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HashError {
    /// Not an algorithm name that Guix or Nix uses.
    #[error("unknown hash algorithm `{0}` (expected md5, sha1, sha256 or sha512)")]
    UnknownAlgo(String),
    /// A Guix algorithm that abovo does not compute.
    #[error("hash algorithm `{0}` is not supported by abovo")]
    UnsupportedAlgo(String),
    /// The digest text has a length that fits no encoding of this algorithm.
    #[error(
        "a {algo} digest cannot be {len} characters long (expected {base16} base16, {nix32} nix-base32 or {base64} base64)"
    )]
    BadLength {
        /// The algorithm.
        algo: HashAlgo,
        /// The length found.
        len: usize,
        /// Length in base16.
        base16: usize,
        /// Length in nix32.
        nix32: usize,
        /// Length in base64.
        base64: usize,
    },
    /// The digest text does not decode.
    #[error("invalid {algo} digest: {reason}")]
    BadDigest {
        /// The algorithm.
        algo: HashAlgo,
        /// The decoder's message.
        reason: String,
    },
    /// A content-address method that this use of a hash does not support
    /// (Nix's `text:` and `git:` fixed outputs, where only flat and NAR
    /// hashing are implemented).
    #[error(
        "content-address method `{0}` is not supported here (only flat and NAR, `r:`, fixed outputs are)"
    )]
    UnsupportedMethod(&'static str),
    /// No `algo:` or `algo-` prefix.
    #[error("hash `{0}` has no `algo:` prefix")]
    MissingAlgo(String),
}

/// A digest together with its algorithm.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Hash {
    algo: HashAlgo,
    bytes: [u8; 64],
}

impl Hash {
    /// Wraps a digest; `None` when its length is not that of `algo`.
    pub fn new(algo: HashAlgo, digest: &[u8]) -> Option<Hash> {
        if digest.len() != algo.digest_len() {
            return None;
        }
        let mut bytes = [0u8; 64];
        bytes[..digest.len()].copy_from_slice(digest);
        Some(Hash { algo, bytes })
    }

    /// A SHA-256 hash from its 32 bytes.
    pub fn sha256(digest: [u8; 32]) -> Hash {
        let mut bytes = [0u8; 64];
        bytes[..32].copy_from_slice(&digest);
        Hash {
            algo: HashAlgo::Sha256,
            bytes,
        }
    }

    /// The algorithm.
    pub fn algo(&self) -> HashAlgo {
        self.algo
    }

    /// The digest bytes.
    pub fn digest(&self) -> &[u8] {
        &self.bytes[..self.algo.digest_len()]
    }

    /// The digest in `encoding`, without the algorithm.
    pub fn encode(&self, encoding: TextEncoding) -> String {
        encoding.encode(self.digest())
    }

    /// Bare lower-case hex, as in a derivation's output `hash` field.
    pub fn to_base16(&self) -> String {
        self.encode(TextEncoding::Base16)
    }

    /// Bare nix32.
    pub fn to_nix32(&self) -> String {
        self.encode(TextEncoding::NixBase32)
    }

    /// `algo:<base16>`, as in the store database.
    pub fn to_db_string(&self) -> String {
        format!("{}:{}", self.algo, self.to_base16())
    }

    /// `algo:<nix32>`, as in narinfo files.
    pub fn to_nix32_string(&self) -> String {
        format!("{}:{}", self.algo, self.to_nix32())
    }

    /// Nix's SRI form `algo-<base64>`.
    pub fn to_sri(&self) -> String {
        format!("{}-{}", self.algo, self.encode(TextEncoding::Base64))
    }

    /// Parses a digest of a known algorithm written in base16, nix32 or
    /// base64; the encoding is told apart by length.
    pub fn parse_digest(algo: HashAlgo, text: &str) -> Result<Hash, HashError> {
        let n = algo.digest_len();
        let base16 = 2 * n;
        let nix32 = nixbase32::encoded_len(n);
        let base64 = n.div_ceil(3) * 4;
        let bad = |reason: String| HashError::BadDigest { algo, reason };
        let bytes = if text.len() == base16 {
            base16_decode(text).map_err(|e| bad(e.to_string()))?
        } else if text.len() == nix32 {
            nixbase32::decode(text).map_err(|e| bad(e.to_string()))?
        } else if text.len() == base64 {
            base64_decode(text).map_err(|e| bad(e.to_string()))?
        } else {
            return Err(HashError::BadLength {
                algo,
                len: text.len(),
                base16,
                nix32,
                base64,
            });
        };
        Hash::new(algo, &bytes).ok_or_else(|| bad("wrong digest length".into()))
    }

    /// Parses `algo:digest` (digest in base16, nix32 or base64) or the SRI form
    /// `algo-<base64>`.
    pub fn parse_prefixed(text: &str) -> Result<Hash, HashError> {
        if let Some((algo, digest)) = text.split_once(':') {
            return Hash::parse_digest(HashAlgo::from_name(algo)?, digest);
        }
        if let Some((algo, digest)) = text.split_once('-') {
            if let Ok(algo) = HashAlgo::from_name(algo) {
                return Hash::parse_digest(algo, digest);
            }
        }
        Err(HashError::MissingAlgo(text.to_owned()))
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_db_string())
    }
}

/// `algo:<nix32>`, the form Guix shows people.
impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_nix32_string())
    }
}

impl serde::Serialize for Hash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_nix32_string())
    }
}

impl<'de> serde::Deserialize<'de> for Hash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Hash::parse_prefixed(&s).map_err(serde::de::Error::custom)
    }
}

/// An incremental hasher for any [`HashAlgo`]; also an [`io::Write`] sink, so
/// that `io::copy` and the NAR writer can feed it.
#[derive(Clone)]
pub enum Hasher {
    /// MD5 state.
    Md5(md5::Md5),
    /// SHA-1 state.
    Sha1(sha1::Sha1),
    /// SHA-256 state.
    Sha256(sha2::Sha256),
    /// SHA-512 state.
    Sha512(sha2::Sha512),
}

impl Hasher {
    /// A fresh hasher.
    pub fn new(algo: HashAlgo) -> Hasher {
        match algo {
            HashAlgo::Md5 => Hasher::Md5(md5::Md5::new()),
            HashAlgo::Sha1 => Hasher::Sha1(sha1::Sha1::new()),
            HashAlgo::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            HashAlgo::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
        }
    }

    /// Feeds bytes.
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Md5(h) => h.update(data),
            Hasher::Sha1(h) => h.update(data),
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    /// The final hash.
    pub fn finish(self) -> Hash {
        let (algo, bytes): (HashAlgo, Vec<u8>) = match self {
            Hasher::Md5(h) => (HashAlgo::Md5, h.finalize().to_vec()),
            Hasher::Sha1(h) => (HashAlgo::Sha1, h.finalize().to_vec()),
            Hasher::Sha256(h) => (HashAlgo::Sha256, h.finalize().to_vec()),
            Hasher::Sha512(h) => (HashAlgo::Sha512, h.finalize().to_vec()),
        };
        Hash::new(algo, &bytes).expect("a digest has its algorithm's length") // by construction
    }
}

impl io::Write for Hasher {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// SHA-256 of `data`, as raw bytes: the workhorse of store paths.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    sha2::Sha256::digest(data).into()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    #[test]
    fn empty_string_vectors() {
        let h = HashAlgo::Sha256.digest(b"");
        assert_eq!(
            h.to_base16(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            h.to_nix32(),
            "0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73"
        );
        assert_eq!(
            h.encode(TextEncoding::Base32),
            "4oymiquy7qobjgx36tejs35zeqt24qpemsnzgtfeswmrw6csxbkq"
        );
        assert_eq!(
            HashAlgo::Sha1.digest(b"").encode(TextEncoding::Base64),
            "2jmj7l5rSw0yVb/vlWAYkK/YBwk="
        );
        assert_eq!(
            HashAlgo::Sha512.digest(b"").to_base16(),
            "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"
        );
        assert_eq!(
            HashAlgo::Md5.digest(b"abc").to_base16(),
            "900150983cd24fb0d6963f7d28e17f72"
        );
        assert_eq!(
            HashAlgo::Sha256.digest(b"abc").to_base16(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn prefixed_forms_round_trip() {
        let hex = "bac788414329413229a882d950ee2cfb5481c5a7affbe3eafcc8793b04335ae6";
        let h = Hash::parse_prefixed(&format!("sha256:{hex}")).unwrap();
        assert_eq!(
            h.to_nix32_string(),
            "sha256:1rjs6c23nyf8zkmf7yxglz2q2m7v5kp51nc2m0lk4h998d0qiixs"
        );
        assert_eq!(
            h.to_sri(),
            "sha256-useIQUMpQTIpqILZUO4s+1SBxaev++Pq/Mh5OwQzWuY="
        );
        assert_eq!(Hash::parse_prefixed(&h.to_nix32_string()).unwrap(), h);
        assert_eq!(Hash::parse_prefixed(&h.to_sri()).unwrap(), h);
        assert_eq!(Hash::parse_prefixed(&h.to_db_string()).unwrap(), h);
    }

    #[test]
    fn bad_forms_are_named() {
        assert!(matches!(
            Hash::parse_prefixed("sha256:abc"),
            Err(HashError::BadLength { len: 3, .. })
        ));
        assert!(matches!(
            Hash::parse_prefixed("whirlpool:00"),
            Err(HashError::UnknownAlgo(_))
        ));
        assert!(matches!(
            Hash::parse_prefixed("sha3-256:00"),
            Err(HashError::UnsupportedAlgo(_))
        ));
        assert!(matches!(
            Hash::parse_prefixed("deadbeef"),
            Err(HashError::MissingAlgo(_))
        ));
    }
}
