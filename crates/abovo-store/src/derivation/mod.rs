//! Derivations: the build recipes Guix writes to `.drv` files.
//!
//! A [`Derivation`] is the parsed form of a `.drv` file. This module and its
//! children cover:
//!
//! * [`aterm`](Derivation::parse): reading and writing the ATerm text
//!   byte-exactly (grammar in [`aterm`]);
//! * [`borrowed`]: the one reader of that grammar, giving a zero-copy
//!   [`DerivationRef`] (what `Derivation::parse` copies into owned maps),
//!   which also hashes straight from canonical bytes ([`DerivationRef::hashes`]);
//! * [`json`]: a JSON form in the shape of `nix derivation show`;
//! * [`hashing`]: the derivation hash "modulo" fixed-output inputs, output
//!   paths and the `.drv` store path, with Guix's rules.
//!
//! Arguments and environment values are kept as bytes: Guix writes UTF-8, but
//! Nix writes any byte, and a parser that must round-trip real data cannot
//! assume more than the format promises.

pub mod aterm;
pub mod borrowed;
pub mod hashing;
pub mod json;
mod reader;
mod splice;

use crate::hash::{Hash, HashAlgo};
use crate::store_path::StorePath;
use std::collections::{BTreeMap, BTreeSet};

pub use aterm::{ParseError, ParseErrorKind};
pub use borrowed::{DerivationRef, StorePathRef};
pub use hashing::{DerivationError, DerivationHashes, PathMismatch};

/// One output of a derivation: `(name, path, hashAlgo, hash)` in the ATerm.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Output {
    /// The output's store path; `None` where the ATerm has `""` (a derivation
    /// whose paths are not computed yet, or the masked form used for hashing).
    pub path: Option<StorePath>,
    /// `""` for input-addressed outputs, otherwise the algorithm with an `r:`
    /// prefix for recursive (NAR) hashing, e.g. `r:sha256`.
    pub hash_algo: String,
    /// `""` for input-addressed outputs, otherwise the expected hash in
    /// lower-case base16.
    pub hash: String,
}

/// The pinned content of a fixed-output derivation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FixedOutput {
    /// Whether the hash is over the NAR serialisation (`r:` prefix) rather than
    /// over the flat file.
    pub recursive: bool,
    /// The expected hash.
    pub hash: Hash,
}

impl FixedOutput {
    /// Reads the `hashAlgo` and `hash` fields of an output.
    pub fn from_fields(hash_algo: &str, hash: &str) -> Result<FixedOutput, crate::hash::HashError> {
        let (recursive, algo) = match hash_algo.strip_prefix("r:") {
            Some(rest) => (true, rest),
            None => (false, hash_algo),
        };
        let algo = HashAlgo::from_name(algo)?;
        Ok(FixedOutput {
            recursive,
            hash: Hash::parse_digest(algo, hash)?,
        })
    }

    /// The `hashAlgo` field: `r:sha256`, `sha256`, …
    pub fn hash_algo_field(&self) -> String {
        format!(
            "{}{}",
            if self.recursive { "r:" } else { "" },
            self.hash.algo()
        )
    }
}

/// A derivation, as in a `.drv` file.
///
/// Maps and sets are ordered the way the ATerm writer must emit them (byte-wise
/// by name or path), so writing a parsed canonical `.drv` gives its bytes back.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Derivation {
    /// Outputs by name.
    pub outputs: BTreeMap<String, Output>,
    /// Input derivations (`.drv` paths) and the output names used from each.
    pub input_derivations: BTreeMap<StorePath, BTreeSet<String>>,
    /// Input sources: store items that are not built by a derivation here.
    pub input_sources: BTreeSet<StorePath>,
    /// The system type, e.g. `x86_64-linux`.
    pub system: String,
    /// The builder: a path in the store, or a daemon built-in such as
    /// `builtin:download`.
    pub builder: String,
    /// Arguments for the builder, in their order.
    pub arguments: Vec<Vec<u8>>,
    /// Environment variables for the builder.
    pub environment: BTreeMap<Vec<u8>, Vec<u8>>,
}

/// The most a `.drv` file may hold: 64 MiB (Guix's largest is under 1 MiB).
///
/// The one limit of abovo: the readers refuse a larger file, and the store
/// refuses to make one, so that nothing abovo writes is refused when it is
/// read back (docs/formats.md §3.4).
pub const MAX_DRV_SIZE: u64 = 64 << 20;

/// The prefix of builders that the daemon runs itself.
pub const BUILTIN_PREFIX: &str = "builtin:";

impl Derivation {
    /// Whether this is a fixed-output derivation as the daemon defines it:
    /// exactly one output, named `out`, with a non-empty hash.
    pub fn is_fixed_output(&self) -> bool {
        self.outputs.len() == 1 && self.outputs.get("out").is_some_and(|o| !o.hash.is_empty())
    }

    /// The pinned hash of a fixed-output derivation; `None` for other
    /// derivations, an error when the fields do not parse.
    pub fn fixed_output(&self) -> Option<Result<FixedOutput, crate::hash::HashError>> {
        if !self.is_fixed_output() {
            return None;
        }
        let out = &self.outputs["out"];
        Some(FixedOutput::from_fields(&out.hash_algo, &out.hash))
    }

    /// The built-in builder's name (`download`, `git-download`) when the
    /// daemon itself builds this derivation.
    pub fn builtin(&self) -> Option<&str> {
        self.builder.strip_prefix(BUILTIN_PREFIX)
    }

    /// An environment variable.
    pub fn env(&self, name: &str) -> Option<&[u8]> {
        self.environment.get(name.as_bytes()).map(Vec::as_slice)
    }

    /// An environment variable that is valid UTF-8.
    pub fn env_str(&self, name: &str) -> Option<&str> {
        self.env(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The references of the `.drv` file itself: every input derivation and
    /// every input source (its outputs are *not* references).
    pub fn references(&self) -> impl Iterator<Item = &StorePath> {
        self.input_derivations
            .keys()
            .chain(self.input_sources.iter())
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_borrowed;
#[cfg(test)]
mod tests_scale;
