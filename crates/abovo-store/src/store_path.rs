//! Store paths and how they are computed.
//!
//! A store path is `<store dir>/<hash32>-<name>`: 32 nix32 characters that
//! stand for 160 bits, a dash, and a name. The store directory is a parameter
//! ([`StoreDir`]); `/gnu/store` is the default and `/nix/store` works the same
//! way. A [`StorePath`] holds only the hash part and the name, so one value
//! serves any store directory and compares like the absolute path would.
//!
//! # How a path is made
//!
//! Every path is [`StoreDir::make_store_path`] of a *type*, a SHA-256 *inner
//! hash* and a name: the fingerprint
//! `type ":sha256:" base16(inner) ":" storeDir ":" name` is hashed with SHA-256
//! and XOR-folded to 20 bytes ([`compress_hash`]). The types:
//!
//! | item | method |
//! | --- | --- |
//! | text added to the store, including `.drv` files | [`StoreDir::make_text_path`] |
//! | fixed-output (content-addressed) items | [`StoreDir::make_fixed_output_path`] |
//! | outputs of input-addressed derivations | [`StoreDir::make_output_path`] |
//!
//! ```
//! use abovo_store::store_path::StoreDir;
//! let store = StoreDir::new("/nix/store").unwrap();
//! let foo = store.make_text_path("foo", b"bar", []).unwrap();
//! assert_eq!(store.display(&foo), "/nix/store/vxjiwkjkn7x4079qvh1jkl5pn05j2aw0-foo");
//! ```

use crate::encoding::base16_encode;
use crate::hash::{Hash, HashAlgo, sha256};
use crate::nixbase32;
use std::fmt;

/// Length of the hash part of a store path, in characters.
pub const HASH_PART_LEN: usize = 32;

/// What is wrong with a store path or name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StorePathError {
    /// The store directory is not an absolute, normalised directory name.
    #[error(
        "invalid store directory `{0}`: it must be absolute, without a trailing `/`, `.` or `..` components"
    )]
    BadStoreDir(String),
    /// The path is not directly inside the store directory.
    #[error("`{path}` is not in the store `{store_dir}`")]
    NotInStore {
        /// The path given.
        path: String,
        /// The store directory expected.
        store_dir: String,
    },
    /// The base name is too short to hold a hash part and a name.
    #[error("`{0}` is not a store path base name (expected <32 nix-base32 characters>-<name>)")]
    TooShort(String),
    /// A character of the hash part is outside the nix32 alphabet.
    #[error("invalid character {character:?} at offset {offset} of the hash part of `{base_name}`")]
    BadHashPart {
        /// The base name.
        base_name: String,
        /// The offending character.
        character: char,
        /// Its offset in the base name.
        offset: usize,
    },
    /// No `-` after the hash part.
    #[error("`{0}` has no `-` after its 32-character hash part")]
    MissingDash(String),
    /// The name is empty.
    #[error("store path name is empty")]
    EmptyName,
    /// The name starts with a dot, which the Guix daemon forbids.
    #[error("store path name `{0}` starts with `.`")]
    LeadingDot(String),
    /// A character the Guix daemon does not allow in names.
    #[error(
        "invalid character {character:?} at offset {offset} in store path name `{name}` (allowed: A-Z a-z 0-9 + - . _ ? =)"
    )]
    BadNameChar {
        /// The name.
        name: String,
        /// The offending character.
        character: char,
        /// Its byte offset in the name.
        offset: usize,
    },
}

/// Checks a store path name as the Guix daemon's `checkStoreName` does: every
/// character in `[A-Za-z0-9+-._?=]`, not empty, not starting with `.`.
pub fn validate_name(name: &str) -> Result<(), StorePathError> {
    if name.is_empty() {
        return Err(StorePathError::EmptyName);
    }
    if name.starts_with('.') {
        return Err(StorePathError::LeadingDot(name.to_owned()));
    }
    // One table lookup per byte: every allowed character is ASCII, so the
    // first byte that fails starts the offending character.
    const ALLOWED: [bool; 256] = {
        let mut t = [false; 256];
        let mut i = 0;
        while i < 256 {
            let b = i as u8;
            t[i] =
                b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.' | b'_' | b'?' | b'=');
            i += 1;
        }
        t
    };
    match name.bytes().position(|b| !ALLOWED[b as usize]) {
        None => Ok(()),
        Some(offset) => Err(StorePathError::BadNameChar {
            name: name.to_owned(),
            character: name[offset..].chars().next().unwrap_or('?'),
            offset,
        }),
    }
}

/// A store path without its store directory: the 32-character hash part and
/// the name.
///
/// Ordering is that of the absolute path string (hash part, then name), which
/// is the order Guix sorts references and derivation inputs in.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StorePath {
    hash_part: [u8; HASH_PART_LEN],
    name: String,
}

impl StorePath {
    /// Parses a base name `<hash32>-<name>`.
    pub fn from_base_name(base_name: &str) -> Result<StorePath, StorePathError> {
        let bytes = base_name.as_bytes();
        if bytes.len() < HASH_PART_LEN + 2 {
            if bytes.len() == HASH_PART_LEN + 1 && bytes[HASH_PART_LEN] == b'-' {
                return Err(StorePathError::EmptyName);
            }
            return Err(StorePathError::TooShort(base_name.to_owned()));
        }
        let mut hash_part = [0u8; HASH_PART_LEN];
        for (offset, &c) in bytes[..HASH_PART_LEN].iter().enumerate() {
            if !nixbase32::is_nix32_char(c) {
                let character = base_name[offset..].chars().next().unwrap_or('?');
                return Err(StorePathError::BadHashPart {
                    base_name: base_name.to_owned(),
                    character,
                    offset,
                });
            }
            hash_part[offset] = c;
        }
        if bytes[HASH_PART_LEN] != b'-' {
            return Err(StorePathError::MissingDash(base_name.to_owned()));
        }
        let name = &base_name[HASH_PART_LEN + 1..];
        validate_name(name)?;
        Ok(StorePath {
            hash_part,
            name: name.to_owned(),
        })
    }

    /// A path from a base name that [`StorePath::from_base_name`]'s rules
    /// already passed (a reader checked it as it read it): only its shape
    /// is looked at again, so that a wrong caller gets `None`, never a
    /// panic. Spares a parse of hundreds of thousands of `.drv` files
    /// checking each path twice.
    pub(crate) fn from_checked_base_name(base_name: &str) -> Option<StorePath> {
        let bytes = base_name.as_bytes();
        if bytes.len() < HASH_PART_LEN + 2 || bytes[HASH_PART_LEN] != b'-' {
            return None;
        }
        let mut hash_part = [0u8; HASH_PART_LEN];
        hash_part.copy_from_slice(&bytes[..HASH_PART_LEN]);
        Some(StorePath {
            hash_part,
            name: base_name.get(HASH_PART_LEN + 1..)?.to_owned(),
        })
    }

    /// Builds a path from a 20-byte digest and a name.
    pub fn from_digest(digest: &[u8; 20], name: &str) -> Result<StorePath, StorePathError> {
        validate_name(name)?;
        let mut hash_part = [0u8; HASH_PART_LEN];
        let encoded = nixbase32::encode(digest);
        hash_part.copy_from_slice(encoded.as_bytes());
        Ok(StorePath {
            hash_part,
            name: name.to_owned(),
        })
    }

    /// The 32-character nix32 hash part.
    pub fn hash_part(&self) -> &str {
        // Only nix32 characters are ever stored, which are ASCII.
        std::str::from_utf8(&self.hash_part).unwrap_or_default()
    }

    /// The hash part as raw bytes, for reference scanning.
    pub fn hash_part_bytes(&self) -> &[u8; HASH_PART_LEN] {
        &self.hash_part
    }

    /// The 20-byte digest the hash part stands for.
    pub fn digest(&self) -> [u8; 20] {
        // 32 nix32 characters are exactly 160 bits, so decoding cannot fail.
        nixbase32::decode_fixed::<20>(self.hash_part()).unwrap_or([0; 20])
    }

    /// The name after the dash.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `<hash32>-<name>`.
    pub fn base_name(&self) -> String {
        let mut s = String::with_capacity(HASH_PART_LEN + 1 + self.name.len());
        s.push_str(self.hash_part());
        s.push('-');
        s.push_str(&self.name);
        s
    }

    /// Whether the name ends in `.drv`.
    pub fn is_derivation(&self) -> bool {
        self.name.ends_with(".drv")
    }

    /// The derivation name of a `.drv` path: its name without `.drv`.
    pub fn derivation_name(&self) -> Option<&str> {
        self.name.strip_suffix(".drv")
    }
}

/// Shows the base name; use [`StoreDir::display`] for the absolute path.
impl fmt::Display for StorePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.hash_part(), self.name)
    }
}

impl fmt::Debug for StorePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StorePath({self})")
    }
}

/// A store directory such as `/gnu/store`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StoreDir(String);

impl Default for StoreDir {
    fn default() -> Self {
        StoreDir(StoreDir::GUIX.to_owned())
    }
}

impl fmt::Display for StoreDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StoreDir {
    /// The Guix store directory.
    pub const GUIX: &'static str = "/gnu/store";
    /// The Nix store directory.
    pub const NIX: &'static str = "/nix/store";

    /// A store directory: absolute, no trailing slash, no `.`/`..` parts.
    pub fn new(dir: &str) -> Result<StoreDir, StorePathError> {
        let bad = || StorePathError::BadStoreDir(dir.to_owned());
        if !dir.starts_with('/') || dir.len() < 2 || dir.ends_with('/') {
            return Err(bad());
        }
        if dir[1..]
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..")
        {
            return Err(bad());
        }
        Ok(StoreDir(dir.to_owned()))
    }

    /// The directory as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The absolute path of `path` in this store.
    pub fn display(&self, path: &StorePath) -> String {
        let mut s = String::with_capacity(self.0.len() + 1 + HASH_PART_LEN + 1 + path.name.len());
        self.write_path(path, &mut s);
        s
    }

    /// Appends the absolute path of `path` to `out`.
    pub fn write_path(&self, path: &StorePath, out: &mut String) {
        out.push_str(&self.0);
        out.push('/');
        out.push_str(path.hash_part());
        out.push('-');
        out.push_str(&path.name);
    }

    /// Parses an absolute path that must be directly in this store.
    pub fn parse(&self, path: &str) -> Result<StorePath, StorePathError> {
        let base = self.strip(path)?;
        if base.contains('/') {
            return Err(StorePathError::NotInStore {
                path: path.to_owned(),
                store_dir: self.0.clone(),
            });
        }
        StorePath::from_base_name(base)
    }

    /// Parses a path inside a store item, such as
    /// `/gnu/store/…-hello-2.12.2/bin/hello`, into the item and the rest
    /// (`/bin/hello`, or empty).
    pub fn parse_prefix<'a>(&self, path: &'a str) -> Result<(StorePath, &'a str), StorePathError> {
        let base = self.strip(path)?;
        let (item, rest) = match base.find('/') {
            Some(i) => (&base[..i], &base[i..]),
            None => (base, ""),
        };
        Ok((StorePath::from_base_name(item)?, rest))
    }

    fn strip<'a>(&self, path: &'a str) -> Result<&'a str, StorePathError> {
        path.strip_prefix(self.0.as_str())
            .and_then(|rest| rest.strip_prefix('/'))
            .ok_or_else(|| StorePathError::NotInStore {
                path: path.to_owned(),
                store_dir: self.0.clone(),
            })
    }

    /// The fingerprint of a path: `type:sha256:<hex inner>:<store dir>:<name>`.
    pub fn fingerprint(&self, path_type: &str, inner: &[u8; 32], name: &str) -> String {
        format!(
            "{path_type}:sha256:{}:{}:{name}",
            base16_encode(inner),
            self.0
        )
    }

    /// The store path of `type`, `inner` hash and `name` (see the module docs).
    pub fn make_store_path(
        &self,
        path_type: &str,
        inner: &[u8; 32],
        name: &str,
    ) -> Result<StorePath, StorePathError> {
        let h = sha256(self.fingerprint(path_type, inner, name).as_bytes());
        StorePath::from_digest(&compress_hash(&h), name)
    }

    /// The path of a text added to the store (`add-text-to-store`): type
    /// `text` followed by `:<ref>` for each reference (absolute, sorted,
    /// without duplicates), inner hash SHA-256 of the contents. `.drv` files
    /// are stored this way, with their input derivations and sources as
    /// references.
    pub fn make_text_path<'a>(
        &self,
        name: &str,
        contents: &[u8],
        references: impl IntoIterator<Item = &'a StorePath>,
    ) -> Result<StorePath, StorePathError> {
        self.make_text_path_from_hash(name, &sha256(contents), references)
    }

    /// [`StoreDir::make_text_path`] when the SHA-256 of the contents is known.
    pub fn make_text_path_from_hash<'a>(
        &self,
        name: &str,
        content_sha256: &[u8; 32],
        references: impl IntoIterator<Item = &'a StorePath>,
    ) -> Result<StorePath, StorePathError> {
        let mut refs: Vec<&StorePath> = references.into_iter().collect();
        refs.sort();
        refs.dedup();
        let mut path_type = String::with_capacity(4 + refs.len() * (self.0.len() + 60));
        path_type.push_str("text");
        for r in refs {
            path_type.push(':');
            self.write_path(r, &mut path_type);
        }
        self.make_store_path(&path_type, content_sha256, name)
    }

    /// The path of a content-addressed item such as a fixed-output derivation's
    /// output: a recursive (NAR) SHA-256 gives type `source` with the hash as
    /// inner hash; anything else gives type `output:out` over
    /// `fixed:out:[r:]<algo>:<hex>:`.
    pub fn make_fixed_output_path(
        &self,
        name: &str,
        recursive: bool,
        hash: &Hash,
    ) -> Result<StorePath, StorePathError> {
        if recursive && hash.algo() == HashAlgo::Sha256 {
            let mut inner = [0u8; 32];
            inner.copy_from_slice(hash.digest());
            return self.make_store_path("source", &inner, name);
        }
        let inner = sha256(fixed_output_descriptor(recursive, hash).as_bytes());
        self.make_store_path("output:out", &inner, name)
    }

    /// The path of output `output` of an input-addressed derivation named
    /// `drv_name` whose masked derivation hash is `drv_hash`.
    pub fn make_output_path(
        &self,
        drv_hash: &[u8; 32],
        drv_name: &str,
        output: &str,
    ) -> Result<StorePath, StorePathError> {
        let name = output_path_name(drv_name, output);
        self.make_store_path(&format!("output:{output}"), drv_hash, &name)
    }
}

/// `fixed:out:[r:]<algo>:<hex>:`, the description of a fixed output.
pub fn fixed_output_descriptor(recursive: bool, hash: &Hash) -> String {
    format!(
        "fixed:out:{}{}:{}:",
        if recursive { "r:" } else { "" },
        hash.algo(),
        hash.to_base16()
    )
}

/// The store name of output `output` of derivation `drv_name`: the name
/// itself for `out`, otherwise `name-output`.
pub fn output_path_name(drv_name: &str, output: &str) -> String {
    if output == "out" {
        drv_name.to_owned()
    } else {
        format!("{drv_name}-{output}")
    }
}

/// Folds a 32-byte SHA-256 into 20 bytes by XOR: byte `i` goes into `i mod 20`.
pub fn compress_hash(h: &[u8; 32]) -> [u8; 20] {
    let mut c = [0u8; 20];
    for (i, b) in h.iter().enumerate() {
        c[i % 20] ^= b;
    }
    c
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    fn nix() -> StoreDir {
        StoreDir::new("/nix/store").unwrap()
    }

    proptest::proptest! {
        /// Whatever `from_base_name` accepts, `from_checked_base_name`
        /// makes the same path of; on anything else it never panics.
        #[test]
        fn a_checked_base_name_gives_the_same_path(
            hash in "[0-9a-df-np-sv-z]{32}",
            name in "[a-zA-Z0-9+._?=-]{0,40}",
            junk in ".{0,40}",
        ) {
            let base = format!("{hash}-{name}");
            if let Ok(p) = StorePath::from_base_name(&base) {
                proptest::prop_assert_eq!(StorePath::from_checked_base_name(&base), Some(p));
            }
            let _ = StorePath::from_checked_base_name(&junk);
        }
    }

    #[test]
    fn text_paths() {
        let s = nix();
        let foo = s.make_text_path("foo", b"bar", []).unwrap();
        assert_eq!(
            s.display(&foo),
            "/nix/store/vxjiwkjkn7x4079qvh1jkl5pn05j2aw0-foo"
        );
        let baz = s
            .make_text_path("baz", s.display(&foo).as_bytes(), [&foo])
            .unwrap();
        assert_eq!(
            s.display(&baz),
            "/nix/store/5xd714cbfnkz02h2vbsj4fm03x3f15nf-baz"
        );
        let g = StoreDir::default();
        assert_eq!(
            g.display(&g.make_text_path("foo", b"bar", []).unwrap()),
            "/gnu/store/798sxvdgr0680czdggbls7rd3sfwk2yx-foo"
        );
    }

    #[test]
    fn fixed_paths() {
        let s = nix();
        let h =
            Hash::parse_digest(HashAlgo::Sha1, "0beec7b5ea3f0fdbc95d0dd47f3c5bc275da8a33").unwrap();
        assert_eq!(
            s.display(&s.make_fixed_output_path("bar", true, &h).unwrap()),
            "/nix/store/mp57d33657rf34lzvlbpfa1gjfv5gmpg-bar"
        );
        let h = Hash::parse_digest(
            HashAlgo::Sha256,
            "894517c9163c896ec31a2adbd33c0681fd5f45b2c0ef08a64c92a03fb97f390f",
        )
        .unwrap();
        assert_eq!(
            s.display(
                &s.make_fixed_output_path("drv-name-output-name", false, &h)
                    .unwrap()
            ),
            "/nix/store/rhcg9h16sqvlbpsa6dqm57sbr2al6nzg-drv-name-output-name"
        );
        assert_eq!(
            s.display(
                &s.make_fixed_output_path("drv-name-output-name", true, &h)
                    .unwrap()
            ),
            "/nix/store/c015dhfh5l0lp6wxyvdn7bmwhbbr6hr9-drv-name-output-name"
        );
    }

    #[test]
    fn parsing_and_names() {
        let g = StoreDir::default();
        let p = g
            .parse("/gnu/store/cs56i9digj9qg1bd383cmxc6xrfpdn9n-hello-2.12.2")
            .unwrap();
        assert_eq!(p.name(), "hello-2.12.2");
        assert_eq!(
            g.display(&p),
            "/gnu/store/cs56i9digj9qg1bd383cmxc6xrfpdn9n-hello-2.12.2"
        );
        let (item, rest) = g
            .parse_prefix("/gnu/store/cs56i9digj9qg1bd383cmxc6xrfpdn9n-hello-2.12.2/bin/hello")
            .unwrap();
        assert_eq!((item.name(), rest), ("hello-2.12.2", "/bin/hello"));
        assert!(matches!(
            g.parse("/nix/store/cs56i9digj9qg1bd383cmxc6xrfpdn9n-x"),
            Err(StorePathError::NotInStore { .. })
        ));
        assert!(matches!(
            g.parse("/gnu/store/cs56i9digj9qg1bd383cmxc6xrfpdn9e-x"),
            Err(StorePathError::BadHashPart { offset: 31, .. })
        ));
        assert!(matches!(
            StorePath::from_base_name("cs56i9digj9qg1bd383cmxc6xrfpdn9n_x"),
            Err(StorePathError::MissingDash(_))
        ));
        assert!(matches!(
            validate_name(".hidden"),
            Err(StorePathError::LeadingDot(_))
        ));
        assert!(matches!(
            validate_name("a b"),
            Err(StorePathError::BadNameChar { offset: 1, .. })
        ));
        assert!(validate_name("fake-gtk+?=_.x").is_ok());
        assert!(StoreDir::new("gnu/store").is_err());
        assert!(StoreDir::new("/gnu/store/").is_err());
        assert!(StoreDir::new("/gnu/../store").is_err());
        // Digest and hash part agree.
        let d = p.digest();
        assert_eq!(StorePath::from_digest(&d, "hello-2.12.2").unwrap(), p);
    }

    #[test]
    fn ordering_is_that_of_absolute_paths() {
        let a = StorePath::from_base_name("00000000000000000000000000000000-b").unwrap();
        let b = StorePath::from_base_name("00000000000000000000000000000001-a").unwrap();
        let c = StorePath::from_base_name("00000000000000000000000000000001-a.x").unwrap();
        assert!(a < b && b < c);
    }
}
