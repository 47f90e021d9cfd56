//! Derivations: the build recipes Guix and Nix write to `.drv` files.
//!
//! A [`Derivation`] is the parsed form of a `.drv` file. This module and its
//! children cover:
//!
//! * [`aterm`](Derivation::parse): reading and writing the ATerm text
//!   byte-exactly (grammar in [`aterm`]), Nix's `DrvWithVersion` form for
//!   dynamic derivations included;
//! * [`borrowed`]: the one reader of that grammar, giving a zero-copy
//!   [`DerivationRef`] (what `Derivation::parse` copies into owned maps),
//!   which also hashes straight from canonical bytes ([`DerivationRef::hashes`]);
//! * [`output`]: the kinds of outputs (input-addressed, deferred, fixed,
//!   floating content-addressed, impure) and of derivations, content
//!   addresses and the placeholders that stand for paths not yet known;
//! * [`json`]: Nix's JSON forms, every version of them, and tvix's;
//! * [`resolve`]: replacing the placeholders of inputs whose outputs are
//!   known only once built by their paths (Nix's `tryResolve`);
//! * [`hashing`]: the derivation hash "modulo" fixed-output inputs, output
//!   paths and the `.drv` store path, with Guix's rules (and Nix's where
//!   they differ).
//!
//! Arguments and environment values are kept as bytes: Guix writes UTF-8, but
//! Nix writes any byte, and a parser that must round-trip real data cannot
//! assume more than the format promises.

pub mod aterm;
pub mod borrowed;
pub mod hashing;
pub mod json;
pub mod output;
mod reader;
pub mod resolve;
mod splice;

use crate::hash::{Hash, HashError};
use crate::store_path::{StoreDir, StorePath};
use std::collections::{BTreeMap, BTreeSet};

pub use aterm::{ParseError, ParseErrorKind};
pub use borrowed::{DerivationRef, StorePathRef};
pub use hashing::{Deferral, DerivationError, DerivationHashes, PathMismatch};
pub use output::{
    CaMethod, ContentAddress, DerivationKind, IMPURE_HASH, KindError, OutputError, OutputKind,
};
pub use resolve::ResolveError;

/// One output of a derivation: `(name, path, hashAlgo, hash)` in the ATerm,
/// kept as written so that it writes back the same; [`Output::kind`] says
/// what the fields make (see [`output`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Output {
    /// The output's store path; `None` where the ATerm has `""` (a deferred,
    /// floating or impure output, a derivation whose paths are not computed
    /// yet, or the masked form used for hashing).
    pub path: Option<StorePath>,
    /// `""` for input-addressed outputs, otherwise the algorithm with the
    /// method's prefix: `r:sha256` (NAR), `sha256` (flat), `text:sha256`,
    /// `git:sha1`.
    pub hash_algo: String,
    /// `""` for input-addressed and floating outputs, `impure` for impure
    /// ones, otherwise the expected hash (lower-case base16 as Guix and Nix
    /// write it).
    pub hash: String,
}

impl Output {
    /// What kind of output the fields make, or why they make none.
    pub fn kind(&self) -> Result<OutputKind, OutputError> {
        OutputKind::classify(self.path.is_some(), &self.hash_algo, &self.hash)
    }

    /// [`Output::kind`] of an output whose path may still be to compute: a
    /// fixed output without its path counts as fixed.
    pub(crate) fn kind_to_fill(&self) -> Result<OutputKind, OutputError> {
        let fixed = !self.hash.is_empty() && self.hash != IMPURE_HASH;
        OutputKind::classify(self.path.is_some() || fixed, &self.hash_algo, &self.hash)
    }
}

/// The separator of Nix's notation for an output of an output:
/// `dep.drv^cat^kitten` is output `kitten` of the derivation that output
/// `cat` of `dep.drv` is.
pub const OUTPUT_OF_OUTPUT: char = '^';

impl DynamicOutputs {
    /// The outputs of outputs in `children` in Nix's notation, relative to
    /// the input (`cat^kitten`, `cat^kitten^fur`), sorted. No output name
    /// holds `^`, so these never clash with plain output names.
    pub fn names(children: &BTreeMap<String, DynamicOutputs>) -> Vec<String> {
        let mut out = Vec::new();
        for (name, node) in children {
            for o in &node.outputs {
                out.push(format!("{name}{OUTPUT_OF_OUTPUT}{o}"));
            }
            for sub in DynamicOutputs::names(&node.dynamic) {
                out.push(format!("{name}{OUTPUT_OF_OUTPUT}{sub}"));
            }
        }
        out.sort();
        out
    }
}

/// The outputs of outputs a derivation uses from one input (Nix's dynamic
/// derivations, experimental): each named output of the input is itself a
/// derivation, of which `outputs` are used, and so on down `dynamic`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DynamicOutputs {
    /// The outputs used of the derivation that this output is.
    pub outputs: BTreeSet<String>,
    /// Outputs of its outputs, by output name.
    pub dynamic: BTreeMap<String, DynamicOutputs>,
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
    /// Reads the `hashAlgo` and `hash` fields of an output. Nix's `text:`
    /// and `git:` methods are content addresses ([`ContentAddress`]) but no
    /// `FixedOutput`: [`HashError::UnsupportedMethod`].
    pub fn from_fields(hash_algo: &str, hash: &str) -> Result<FixedOutput, HashError> {
        FixedOutput::try_from(ContentAddress::from_fields(hash_algo, hash)?)
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

impl TryFrom<ContentAddress> for FixedOutput {
    type Error = HashError;

    fn try_from(ca: ContentAddress) -> Result<FixedOutput, HashError> {
        let recursive = match ca.method {
            CaMethod::Flat => false,
            CaMethod::Nar => true,
            other => return Err(HashError::UnsupportedMethod(other.name())),
        };
        Ok(FixedOutput {
            recursive,
            hash: ca.hash,
        })
    }
}

impl From<FixedOutput> for ContentAddress {
    fn from(f: FixedOutput) -> ContentAddress {
        ContentAddress {
            method: if f.recursive {
                CaMethod::Nar
            } else {
                CaMethod::Flat
            },
            hash: f.hash,
        }
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
    /// The outputs of outputs used from input derivations (Nix's dynamic
    /// derivations; empty everywhere else). Every key is also a key of
    /// `input_derivations` (with the outputs used directly, perhaps none);
    /// a derivation with any is written as `DrvWithVersion("xp-dyn-drv",…)`.
    pub dynamic_inputs: BTreeMap<StorePath, BTreeMap<String, DynamicOutputs>>,
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
    /// exactly one output, named `out`, with a hash (an impure output's
    /// `impure` is no hash).
    pub fn is_fixed_output(&self) -> bool {
        self.outputs.len() == 1
            && self
                .outputs
                .get("out")
                .is_some_and(|o| !o.hash.is_empty() && o.hash != IMPURE_HASH)
    }

    /// The pinned hash of a fixed-output derivation; `None` for other
    /// derivations, an error when the fields do not parse.
    pub fn fixed_output(&self) -> Option<Result<FixedOutput, HashError>> {
        if !self.is_fixed_output() {
            return None;
        }
        let out = &self.outputs["out"];
        Some(FixedOutput::from_fields(&out.hash_algo, &out.hash))
    }

    /// The kind of the derivation (see [`DerivationKind::of`]): the one
    /// kind of all its outputs, or why they make none.
    pub fn kind(&self) -> Result<DerivationKind, KindError> {
        DerivationKind::of(self.outputs.iter().map(|(n, o)| (n.as_str(), o.kind())))
    }

    /// Whether some input is used through outputs of its outputs (Nix's
    /// dynamic derivations).
    pub fn has_dynamic_inputs(&self) -> bool {
        self.dynamic_inputs.values().any(|m| !m.is_empty())
    }

    /// The derivation's name as its recorded output paths tell it (output
    /// `out` lives at `<hash>-<name>`, output `o` at `<hash>-<name>-o`), for a
    /// `.drv` whose file name does not say it; `None` when no output
    /// records a path that fits.
    pub fn name_from_outputs(&self) -> Option<&str> {
        self.outputs.iter().find_map(|(output, o)| {
            let name = o.path.as_ref()?.name();
            if output == "out" {
                Some(name)
            } else {
                name.strip_suffix(output.as_str())?.strip_suffix('-')
            }
        })
    }

    /// The name the derivation's environment declares: its `name` variable,
    /// or `name` in its structured attributes (Nix's `derivation` always
    /// sets one of them, to the derivation's name), when it is a valid
    /// store name.
    pub fn declared_name(&self) -> Option<String> {
        let structured = || {
            let text = self.env(json::structured::ENV_VAR)?;
            let attrs: serde_json::Value = serde_json::from_slice(text).ok()?;
            attrs.get("name")?.as_str().map(str::to_owned)
        };
        self.env_str("name")
            .map(str::to_owned)
            .or_else(structured)
            .filter(|n| crate::store_path::validate_name(n).is_ok())
    }

    /// Checks what Nix checks when it parses a `.drv` named `name` (the
    /// `.drv` name without `.drv`): that the path a fixed output records is
    /// the one its content address gives (Nix `parseOutput`; the path is
    /// redundant, and two texts that mean the same derivation must not hash
    /// differently).
    pub fn check_fixed_paths(&self, store: &StoreDir, name: &str) -> Result<(), PathMismatch> {
        for (output, o) in &self.outputs {
            if let (Ok(OutputKind::Fixed(ca)), Some(path)) = (o.kind(), &o.path) {
                hashing::check_fixed_path(store, name, output, &ca, &store.display(path))?;
            }
        }
        Ok(())
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
