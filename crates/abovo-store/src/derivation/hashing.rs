//! The derivation hash "modulo" fixed-output inputs, output paths and `.drv`
//! paths, with Guix's rules.
//!
//! # The hash of a derivation
//!
//! * For a **fixed-output** derivation (one output `out` with a hash) it is
//!   `SHA-256("fixed:out:" hashAlgo ":" hash ":" outPath)`: only the promised
//!   content counts, not how it is fetched.
//! * For any **other** derivation, each input derivation path is replaced by
//!   the base16 of *its* hash (recursively), the inputs are re-sorted by that
//!   string, and the hash is SHA-256 of the resulting ATerm text (the "modulo
//!   text"). When two inputs hash the same, the later one in path order wins,
//!   as in the Guix daemon.
//!
//! Input hashes come from a caller-supplied function, so a whole graph can be
//! hashed once in dependency order and memoised (see `abovo-graph`).
//!
//! The methods here write the modulo texts from the owned [`Derivation`];
//! they are the reference. A [`DerivationRef`](super::DerivationRef) read
//! from canonical bytes gets the same hashes faster by splicing its own
//! bytes ([`DerivationRef::hashes`](super::DerivationRef::hashes)), and
//! falls back on these methods otherwise.
//!
//! # Output paths
//!
//! To compute the outputs of a derivation, it is *masked* first: every output
//! path becomes `""` and every output's environment variable is set to `""`
//! (added when missing, which is where Guix differs from modern Nix). Output
//! `o` then lives at [`make_output_path`](crate::StoreDir::make_output_path)
//! of the masked hash; a fixed output lives at its content address instead.
//!
//! # The `.drv` path
//!
//! A `.drv` file is stored as text named `<name>.drv` whose references are its
//! input derivations and input sources.

use super::{Derivation, FixedOutput};
use crate::encoding::base16_encode;
use crate::hash::{HashError, sha256};
use crate::store_path::{StoreDir, StorePath, StorePathError};
use std::collections::{BTreeMap, BTreeSet};

/// Why a hash or path of a derivation cannot be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DerivationError {
    /// A fixed output whose `hashAlgo`/`hash` fields do not parse.
    #[error("fixed output has an invalid hash: {0}")]
    BadFixedOutput(#[from] HashError),
    /// A fixed-output derivation without a recorded output path, which its
    /// derivation hash needs.
    #[error("fixed-output derivation has no output path")]
    MissingFixedOutputPath,
    /// The derivation or output name makes an invalid store path name.
    #[error("invalid name: {0}")]
    BadName(#[from] StorePathError),
    /// The output paths of an input-addressed derivation were asked for
    /// without its masked hash (hashes of another derivation were given).
    #[error("no masked derivation hash was given for an input-addressed derivation")]
    MissingMaskedHash,
    /// The hash of an input derivation is not available.
    #[error("cannot hash input derivation `{path}`: {reason}")]
    Input {
        /// The input's absolute path.
        path: String,
        /// Why its hash is unavailable.
        reason: String,
    },
}

/// A recorded value that differs from the one recomputed from content.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PathMismatch {
    /// What was checked, e.g. `output "out"` or `environment variable "out"`.
    pub what: String,
    /// The value recomputed from the derivation's content.
    pub expected: String,
    /// The value the derivation records.
    pub actual: String,
}

impl Derivation {
    /// The derivation hash of this derivation *as stored* (output paths
    /// included), which is what its dependents put in their modulo text.
    pub fn hash_modulo(
        &self,
        store: &StoreDir,
        input_hash: impl FnMut(&StorePath) -> Result<[u8; 32], DerivationError>,
    ) -> Result<[u8; 32], DerivationError> {
        if let Some(fixed) = self.fixed_output() {
            fixed?;
            let out = &self.outputs["out"];
            let path = out
                .path
                .as_ref()
                .ok_or(DerivationError::MissingFixedOutputPath)?;
            return Ok(fixed_hash(&out.hash_algo, &out.hash, &store.display(path)));
        }
        Ok(sha256(&self.modulo_text(store, false, input_hash)?))
    }

    /// Both hashes of this derivation (see [`DerivationHashes`]), asking
    /// for each input's hash once.
    pub fn hashes(
        &self,
        store: &StoreDir,
        mut input_hash: impl FnMut(&StorePath) -> Result<[u8; 32], DerivationError>,
    ) -> Result<DerivationHashes, DerivationError> {
        if self.is_fixed_output() {
            return Ok(DerivationHashes {
                modulo: self.hash_modulo(store, &mut input_hash)?,
                masked: None,
            });
        }
        let mut known = BTreeMap::new();
        for path in self.input_derivations.keys() {
            known.insert(path, input_hash(path)?);
        }
        let lookup = |p: &StorePath| known_input_hash(&known, store, p);
        Ok(DerivationHashes {
            modulo: sha256(&self.modulo_text(store, false, lookup)?),
            masked: Some(sha256(&self.modulo_text(store, true, lookup)?)),
        })
    }

    /// The text whose SHA-256 is the derivation hash: inputs replaced by their
    /// hashes, and with `masked`, outputs and their environment variables
    /// blanked.
    pub fn modulo_text(
        &self,
        store: &StoreDir,
        masked: bool,
        mut input_hash: impl FnMut(&StorePath) -> Result<[u8; 32], DerivationError>,
    ) -> Result<Vec<u8>, DerivationError> {
        // Later paths overwrite earlier ones on a collision, like the daemon's map.
        let mut inputs: BTreeMap<String, &BTreeSet<String>> = BTreeMap::new();
        for (path, outputs) in &self.input_derivations {
            inputs.insert(base16_encode(&input_hash(path)?), outputs);
        }
        let paths: Vec<String> = self
            .outputs
            .values()
            .map(|o| match (&o.path, masked) {
                (Some(p), false) => store.display(p),
                _ => String::new(),
            })
            .collect();
        let sources: Vec<String> = self
            .input_sources
            .iter()
            .map(|p| store.display(p))
            .collect();
        // Masking blanks the variables named after outputs (adding them when
        // missing); borrow everything rather than clone the environment.
        // A map lookup, not a scan of the outputs: a derivation may have as
        // many outputs as variables, and a scan made that quadratic.
        let is_output =
            |k: &[u8]| std::str::from_utf8(k).is_ok_and(|n| self.outputs.contains_key(n));
        let mut env: Vec<(&[u8], &[u8])> = self
            .environment
            .iter()
            .map(|(k, v)| {
                let blank = masked && is_output(k);
                (k.as_slice(), if blank { &b""[..] } else { v.as_slice() })
            })
            .collect();
        if masked {
            let before = env.len();
            for name in self.outputs.keys() {
                if !self.environment.contains_key(name.as_bytes()) {
                    env.push((name.as_bytes(), b""));
                }
            }
            if env.len() != before {
                env.sort_unstable_by(|a, b| a.0.cmp(b.0));
            }
        }
        let mut out = Vec::with_capacity(4096);
        super::aterm::write_derive(
            &mut out,
            self.outputs.iter().zip(&paths).map(|((n, o), p)| {
                (
                    n.as_str(),
                    p.as_str(),
                    o.hash_algo.as_str(),
                    o.hash.as_str(),
                )
            }),
            inputs.iter().map(|(h, o)| (h.as_str(), *o)),
            sources.iter().map(String::as_str),
            self,
            env.into_iter(),
        );
        Ok(out)
    }

    /// The output paths this derivation must have, recomputed from its
    /// content. `name` is the derivation name (the `.drv` name without
    /// `.drv`).
    pub fn compute_output_paths(
        &self,
        store: &StoreDir,
        name: &str,
        input_hash: impl FnMut(&StorePath) -> Result<[u8; 32], DerivationError>,
    ) -> Result<BTreeMap<String, StorePath>, DerivationError> {
        let fixed = self.fixed_output();
        let masked = match fixed {
            Some(_) => None,
            None => Some(sha256(&self.modulo_text(store, true, input_hash)?)),
        };
        output_paths(
            store,
            name,
            fixed,
            masked,
            self.outputs.keys().map(String::as_str),
        )
    }

    /// Computes the output paths and writes them into the outputs and into
    /// the environment variables named after them, as Guix's `derivation`
    /// does for a new derivation.
    pub fn fill_output_paths(
        &mut self,
        store: &StoreDir,
        name: &str,
        input_hash: impl FnMut(&StorePath) -> Result<[u8; 32], DerivationError>,
    ) -> Result<(), DerivationError> {
        let paths = self.compute_output_paths(store, name, input_hash)?;
        for (output, path) in paths {
            self.environment.insert(
                output.as_bytes().to_vec(),
                store.display(&path).into_bytes(),
            );
            if let Some(o) = self.outputs.get_mut(&output) {
                o.path = Some(path);
            }
        }
        Ok(())
    }

    /// The store path of the `.drv` file named `<name>.drv` whose bytes are
    /// `aterm` (normally [`Derivation::to_aterm`]; pass the file's own bytes to
    /// check a file).
    pub fn drv_path(
        &self,
        store: &StoreDir,
        name: &str,
        aterm: &[u8],
    ) -> Result<StorePath, DerivationError> {
        Ok(store.make_text_path(&format!("{name}.drv"), aterm, self.references())?)
    }

    /// Compares the recorded output paths, and the environment variables
    /// named after the outputs, with the values recomputed from content.
    pub fn check_output_paths(
        &self,
        store: &StoreDir,
        name: &str,
        input_hash: impl FnMut(&StorePath) -> Result<[u8; 32], DerivationError>,
    ) -> Result<Vec<PathMismatch>, DerivationError> {
        let expected = self.compute_output_paths(store, name, input_hash)?;
        Ok(compare_output_paths(
            store,
            &expected,
            |output| {
                self.outputs
                    .get(output)
                    .and_then(|o| o.path.as_ref())
                    .map(|p| store.display(p))
            },
            |output| self.env(output),
        ))
    }
}

/// The two hashes of a derivation that its checks need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DerivationHashes {
    /// The derivation hash "modulo" as stored ([`Derivation::hash_modulo`]):
    /// what dependents put in their modulo text in place of its path.
    pub modulo: [u8; 32],
    /// The SHA-256 of the masked modulo text, from which the output paths
    /// of an input-addressed derivation follow; `None` for a fixed-output
    /// derivation, whose output path follows from its pinned hash.
    pub masked: Option<[u8; 32]>,
}

/// The hash of input `path` among those asked for already (`known`, keyed
/// by `StorePath` or `&StorePath`); a path that is none of them is an error.
pub(super) fn known_input_hash<K: std::borrow::Borrow<StorePath> + Ord>(
    known: &BTreeMap<K, [u8; 32]>,
    store: &StoreDir,
    path: &StorePath,
) -> Result<[u8; 32], DerivationError> {
    known
        .get(path)
        .copied()
        .ok_or_else(|| DerivationError::Input {
            path: store.display(path),
            reason: "not an input".into(),
        })
}

/// The derivation hash of a fixed-output derivation:
/// `SHA-256("fixed:out:" hashAlgo ":" hash ":" outPath)`.
pub(super) fn fixed_hash(hash_algo: &str, hash: &str, out_path: &str) -> [u8; 32] {
    sha256(format!("fixed:out:{hash_algo}:{hash}:{out_path}").as_bytes())
}

/// The output paths of a derivation called `name` with these outputs: the
/// content address of a fixed output, or for the others the output paths
/// of the masked hash (which the caller computed, `None` only for a
/// fixed-output derivation).
pub(super) fn output_paths<'n>(
    store: &StoreDir,
    name: &str,
    fixed: Option<Result<FixedOutput, HashError>>,
    masked: Option<[u8; 32]>,
    outputs: impl Iterator<Item = &'n str>,
) -> Result<BTreeMap<String, StorePath>, DerivationError> {
    if let Some(fixed) = fixed {
        let FixedOutput { recursive, hash } = fixed?;
        let path = store.make_fixed_output_path(name, recursive, &hash)?;
        return Ok(BTreeMap::from([("out".to_owned(), path)]));
    }
    let h = masked.ok_or(DerivationError::MissingMaskedHash)?;
    outputs
        .map(|o| Ok((o.to_owned(), store.make_output_path(&h, name, o)?)))
        .collect()
}

/// Compares each expected output path with the recorded one and with the
/// environment variable named after the output.
pub(super) fn compare_output_paths<'e>(
    store: &StoreDir,
    expected: &BTreeMap<String, StorePath>,
    recorded: impl Fn(&str) -> Option<String>,
    env: impl Fn(&str) -> Option<&'e [u8]>,
) -> Vec<PathMismatch> {
    let mut mismatches = Vec::new();
    for (output, path) in expected {
        let want = store.display(path);
        let recorded = recorded(output);
        if recorded.as_deref() != Some(want.as_str()) {
            mismatches.push(PathMismatch {
                what: format!("output {output:?}"),
                expected: want.clone(),
                actual: recorded.unwrap_or_default(),
            });
        }
        let env = env(output);
        if env != Some(want.as_bytes()) {
            mismatches.push(PathMismatch {
                what: format!("environment variable {output:?}"),
                expected: want,
                actual: env
                    .map(|v| String::from_utf8_lossy(v).into_owned())
                    .unwrap_or_default(),
            });
        }
    }
    mismatches
}
