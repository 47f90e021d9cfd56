//! The derivation hash "modulo" fixed-output inputs, output paths and `.drv`
//! paths, with Guix's rules (and Nix's, where they differ).
//!
//! # The hash of a derivation
//!
//! * For a **fixed-output** derivation (one output `out` with a hash) it is
//!   `SHA-256("fixed:out:" hashAlgo ":" hash ":" outPath)`: only the promised
//!   content counts, not how it is fetched.
//! * For an **input-addressed** derivation, each input derivation path is
//!   replaced by the base16 of *its* hash (recursively), the inputs are
//!   re-sorted by that string, and the hash is SHA-256 of the resulting ATerm
//!   text (the "modulo text"). When two inputs hash the same, the later one
//!   in path order wins, as in the Guix daemon; in `/nix/store` their output
//!   names are merged, as modern Nix does (its test
//!   `collidingInputDrvsMergeOutputNames`).
//! * A derivation whose output paths are not all known before it is built
//!   has **no** hash (Nix's `DeferredDrv`, [`Deferral`]): a floating
//!   content-addressed or impure one, one whose outputs are deferred, one
//!   that uses outputs of outputs (dynamic derivations), and every
//!   derivation that depends on such a one. Its input-addressed dependents
//!   get deferred outputs (paths `""`) instead of paths.
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
//! (added when missing, which is where Guix differs from modern Nix: Nix's
//! `fillInOutputPaths` hashes without a missing variable, then adds it, so
//! that its own `checkInvariants` then computes another path; the Guix rule
//! is the one a filled-in derivation satisfies). Output `o` then lives at
//! [`make_output_path`](crate::StoreDir::make_output_path) of the masked
//! hash; a fixed output lives at its content address instead
//! ([`ContentAddress::path`]); floating and impure outputs have no path
//! before the build.
//!
//! # The `.drv` path
//!
//! A `.drv` file is stored as text named `<name>.drv` whose references are its
//! input derivations and input sources.

use super::Derivation;
use super::output::{ContentAddress, DerivationKind, KindError, OutputKind};
use crate::encoding::base16_encode;
use crate::hash::{HashError, sha256};
use crate::store_path::{StoreDir, StorePath, StorePathError};
use std::borrow::Cow;
use std::collections::btree_map::Entry;
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
    /// A content address that gives no path.
    #[error("{0}")]
    ContentAddress(#[from] super::output::ContentAddressError),
    /// The outputs make no derivation kind.
    #[error("{0}")]
    Kind(#[from] KindError),
    /// The output paths of an input-addressed derivation were asked for
    /// without its masked hash (hashes of another derivation were given).
    #[error("no masked derivation hash was given for an input-addressed derivation")]
    MissingMaskedHash,
    /// The derivation has no hash, or the paths asked for are not known
    /// before a build: see [`Deferral`].
    #[error("{0}")]
    Deferred(Deferral),
    /// The hash of an input derivation is not available.
    #[error("cannot hash input derivation `{path}`: {reason}")]
    Input {
        /// The input's absolute path.
        path: String,
        /// Why its hash is unavailable.
        reason: String,
    },
}

/// Why a derivation has no hash "modulo" (Nix's `DeferredDrv`): some output
/// path it would stand for is known only after a build.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Deferral {
    /// Floating content-addressed outputs.
    #[error(
        "its outputs are floating content-addressed: their paths follow from their content, known only after the build"
    )]
    Floating,
    /// Impure outputs.
    #[error(
        "its outputs are impure: their paths follow from their content, known only after the build"
    )]
    Impure,
    /// Deferred outputs: input-addressed, paths not recorded.
    #[error("its outputs are deferred: their paths are not recorded")]
    DeferredOutputs,
    /// Inputs used through outputs of their outputs (dynamic derivations).
    #[error(
        "it uses outputs of outputs of `{0}` (Nix's dynamic derivations), known only after that is built"
    )]
    DynamicInputs(String),
    /// An input that has no hash itself.
    #[error(
        "it depends on `{input}`, whose output paths are known only after a build (because of `{root}`)"
    )]
    Input {
        /// The input.
        input: String,
        /// The derivation upstream whose own outputs make it so (the input
        /// itself, or one of its inputs, recursively).
        root: String,
    },
}

impl Deferral {
    /// The derivation upstream whose own outputs are the reason, given the
    /// path of the derivation this deferral is about.
    pub fn root<'a>(&'a self, this: &'a str) -> &'a str {
        match self {
            Deferral::Input { root, .. } => root,
            _ => this,
        }
    }
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

/// Whether colliding input hashes merge their output names (modern Nix,
/// for `/nix/store`) rather than the later input overwriting the earlier
/// one (the Guix daemon).
pub(super) fn merges_colliding_inputs(store: &StoreDir) -> bool {
    store.as_str() == StoreDir::NIX
}

/// The kind of derivation for hashing: a derivation without outputs hashes
/// like an input-addressed one (the Guix daemon's view; Nix's store refuses
/// it), any other kind error is an error.
pub(super) fn kind_for_hashing(
    kind: Result<DerivationKind, KindError>,
) -> Result<DerivationKind, DerivationError> {
    match kind {
        Ok(k) => Ok(k),
        Err(KindError::NoOutputs) => Ok(DerivationKind::InputAddressed),
        Err(e) => Err(e.into()),
    }
}

/// The hash of input `path` as `input_hash` gives it: `Ok(Err(deferral))`
/// when the input has none (it said [`DerivationError::Deferred`]).
pub(super) fn input_or_deferral(
    store: &StoreDir,
    path: &StorePath,
    got: Result<[u8; 32], DerivationError>,
) -> Result<Result<[u8; 32], Deferral>, DerivationError> {
    match got {
        Ok(h) => Ok(Ok(h)),
        Err(DerivationError::Deferred(d)) => {
            let input = store.display(path);
            let root = d.root(&input).to_owned();
            Ok(Err(Deferral::Input { input, root }))
        }
        Err(e) => Err(e),
    }
}

impl Derivation {
    /// The derivation hash of this derivation *as stored* (output paths
    /// included), which is what its dependents put in their modulo text;
    /// [`DerivationError::Deferred`] when it has none.
    pub fn hash_modulo(
        &self,
        store: &StoreDir,
        input_hash: impl FnMut(&StorePath) -> Result<[u8; 32], DerivationError>,
    ) -> Result<[u8; 32], DerivationError> {
        self.hashes(store, input_hash)?
            .modulo
            .map_err(DerivationError::Deferred)
    }

    /// Both hashes of this derivation (see [`DerivationHashes`]), asking
    /// for each input's hash once. An input whose `input_hash` is
    /// [`DerivationError::Deferred`] makes this derivation deferred too.
    pub fn hashes(
        &self,
        store: &StoreDir,
        mut input_hash: impl FnMut(&StorePath) -> Result<[u8; 32], DerivationError>,
    ) -> Result<DerivationHashes, DerivationError> {
        let kind = kind_for_hashing(self.kind())?;
        let fixed = || {
            let out = &self.outputs["out"];
            let path = out
                .path
                .as_ref()
                .ok_or(DerivationError::MissingFixedOutputPath)?;
            Ok(fixed_hash(&out.hash_algo, &out.hash, &store.display(path)))
        };
        let dynamic = || {
            (self.dynamic_inputs.iter())
                .find(|(_, m)| !m.is_empty())
                .map(|(p, _)| store.display(p))
        };
        if let Some(early) = hashes_without_inputs(kind, fixed, dynamic)? {
            return Ok(early);
        }
        let mut known = BTreeMap::new();
        let mut deferred = None;
        for path in self.input_derivations.keys() {
            match input_or_deferral(store, path, input_hash(path))? {
                Ok(h) => {
                    known.insert(path, h);
                }
                Err(d) => {
                    deferred.get_or_insert(d);
                }
            }
        }
        if let Some(d) = deferred {
            return Ok(DerivationHashes {
                modulo: Err(d),
                masked: None,
            });
        }
        let lookup = |p: &StorePath| known_input_hash(&known, store, p);
        let masked = Some(sha256(&self.modulo_text(store, true, lookup)?));
        let modulo = if kind == DerivationKind::Deferred {
            Err(Deferral::DeferredOutputs)
        } else {
            Ok(sha256(&self.modulo_text(store, false, lookup)?))
        };
        Ok(DerivationHashes { modulo, masked })
    }

    /// The text whose SHA-256 is the derivation hash: inputs replaced by their
    /// hashes, and with `masked`, outputs and their environment variables
    /// blanked. A derivation that uses outputs of outputs has none
    /// ([`Deferral::DynamicInputs`]).
    pub fn modulo_text(
        &self,
        store: &StoreDir,
        masked: bool,
        mut input_hash: impl FnMut(&StorePath) -> Result<[u8; 32], DerivationError>,
    ) -> Result<Vec<u8>, DerivationError> {
        if let Some((p, _)) = self.dynamic_inputs.iter().find(|(_, m)| !m.is_empty()) {
            return Err(DerivationError::Deferred(Deferral::DynamicInputs(
                store.display(p),
            )));
        }
        // On a collision, later paths overwrite earlier ones like the Guix
        // daemon's map, or merge their output names like modern Nix.
        let merge = merges_colliding_inputs(store);
        let mut inputs: BTreeMap<String, Cow<'_, BTreeSet<String>>> = BTreeMap::new();
        for (path, outputs) in &self.input_derivations {
            match inputs.entry(base16_encode(&input_hash(path)?)) {
                Entry::Vacant(v) => {
                    v.insert(Cow::Borrowed(outputs));
                }
                Entry::Occupied(mut o) if merge => {
                    o.get_mut().to_mut().extend(outputs.iter().cloned());
                }
                Entry::Occupied(mut o) => {
                    o.insert(Cow::Borrowed(outputs));
                }
            }
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
        out.extend_from_slice(b"Derive(");
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
            inputs.iter().map(|(h, o)| (h.as_str(), o.as_ref(), None)),
            sources.iter().map(String::as_str),
            self,
            env.into_iter(),
        );
        Ok(out)
    }

    /// The output paths this derivation must have, recomputed from its
    /// content. `name` is the derivation name (the `.drv` name without
    /// `.drv`). [`DerivationError::Deferred`] when they are not known
    /// before a build (floating, impure, or deferred because of an input).
    pub fn compute_output_paths(
        &self,
        store: &StoreDir,
        name: &str,
        input_hash: impl FnMut(&StorePath) -> Result<[u8; 32], DerivationError>,
    ) -> Result<BTreeMap<String, StorePath>, DerivationError> {
        let hashes = self.path_hashes(store, input_hash)?;
        // Paths still to compute (a fixed output's too) are what this is for.
        output_paths(
            store,
            name,
            self.kind_to_fill(),
            &hashes,
            self.outputs
                .iter()
                .map(|(n, o)| (n.as_str(), o.kind_to_fill())),
        )
    }

    /// [`Derivation::kind`] with outputs whose paths may still be to
    /// compute.
    fn kind_to_fill(&self) -> Result<DerivationKind, KindError> {
        DerivationKind::of(
            self.outputs
                .iter()
                .map(|(n, o)| (n.as_str(), o.kind_to_fill())),
        )
    }

    /// What output paths need (see [`DerivationRef::hashes`](super::DerivationRef)):
    /// nothing for a fixed-output derivation, whose path follows from its
    /// hash (while its own hash would need a recorded path).
    fn path_hashes(
        &self,
        store: &StoreDir,
        input_hash: impl FnMut(&StorePath) -> Result<[u8; 32], DerivationError>,
    ) -> Result<DerivationHashes, DerivationError> {
        if self.is_fixed_output() {
            return Ok(DerivationHashes::FIXED_PLACEHOLDER);
        }
        self.hashes(store, input_hash)
    }

    /// Computes the output paths and fills them in where they are missing,
    /// as Guix's `derivation` does for a new derivation and Nix's
    /// `fillInOutputPaths`: an output without a path gets it, and so does
    /// the environment variable named after it (whatever it held: Nix
    /// corrects it, with a warning); the variable of an output whose path
    /// is recorded is set when it is missing or empty. A recorded path or
    /// variable is kept otherwise (right or wrong:
    /// [`Derivation::check_output_paths`] says). Outputs whose paths are
    /// known only after a build are left as they are (a deferred output
    /// stays deferred when an input makes it so).
    pub fn fill_output_paths(
        &mut self,
        store: &StoreDir,
        name: &str,
        input_hash: impl FnMut(&StorePath) -> Result<[u8; 32], DerivationError>,
    ) -> Result<(), DerivationError> {
        let paths = match self.compute_output_paths(store, name, input_hash) {
            Err(DerivationError::Deferred(_)) => return Ok(()),
            other => other?,
        };
        for (output, path) in paths {
            let Some(o) = self.outputs.get_mut(&output) else {
                continue;
            };
            let filled = o.path.is_none();
            let var = self
                .environment
                .entry(output.as_bytes().to_vec())
                .or_default();
            if filled || var.is_empty() {
                *var = store.display(&path).into_bytes();
            }
            o.path.get_or_insert(path);
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
    /// named after the outputs, with the values recomputed from content
    /// (see `check_outputs`).
    pub fn check_output_paths(
        &self,
        store: &StoreDir,
        name: &str,
        input_hash: impl FnMut(&StorePath) -> Result<[u8; 32], DerivationError>,
    ) -> Result<Vec<PathMismatch>, DerivationError> {
        let hashes = self.path_hashes(store, input_hash)?;
        check_outputs(
            store,
            name,
            self.kind_to_fill(),
            &hashes,
            self.outputs.iter().map(|(n, o)| {
                (
                    n.as_str(),
                    o.kind_to_fill(),
                    o.path.as_ref().map(|p| store.display(p)),
                )
            }),
            |output| self.env(output),
        )
    }
}

/// The two hashes of a derivation that its checks need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DerivationHashes {
    /// The derivation hash "modulo" as stored ([`Derivation::hash_modulo`]):
    /// what dependents put in their modulo text in place of its path; `Err`
    /// when it has none (see [`Deferral`]).
    pub modulo: Result<[u8; 32], Deferral>,
    /// The SHA-256 of the masked modulo text, from which the output paths
    /// of an input-addressed (or deferred) derivation follow; `None` for a
    /// fixed-output derivation, whose output path follows from its pinned
    /// hash, for floating, impure and dynamic ones, and when an input has
    /// no hash (then `modulo` says why).
    pub masked: Option<[u8; 32]>,
}

impl DerivationHashes {
    /// What [`output_paths`] and [`check_outputs`] need of a fixed-output
    /// derivation: nothing (its path follows from its hash).
    pub(super) const FIXED_PLACEHOLDER: DerivationHashes = DerivationHashes {
        modulo: Ok([0; 32]),
        masked: None,
    };
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
/// The hashes of a derivation that needs none of its inputs' hashes
/// (fixed-output, floating, impure, or using outputs of outputs), for the
/// owned and the borrowed form alike; `None` when it needs them.
/// `fixed_output` hashes the fixed output; `dynamic_input` names the first
/// input whose outputs of outputs are used.
pub(super) fn hashes_without_inputs(
    kind: DerivationKind,
    fixed_output: impl FnOnce() -> Result<[u8; 32], DerivationError>,
    dynamic_input: impl FnOnce() -> Option<String>,
) -> Result<Option<DerivationHashes>, DerivationError> {
    let deferral = match kind {
        DerivationKind::Fixed => {
            return Ok(Some(DerivationHashes {
                modulo: Ok(fixed_output()?),
                masked: None,
            }));
        }
        DerivationKind::Floating => Deferral::Floating,
        DerivationKind::Impure => Deferral::Impure,
        _ => match dynamic_input() {
            Some(path) => Deferral::DynamicInputs(path),
            None => return Ok(None),
        },
    };
    Ok(Some(DerivationHashes {
        modulo: Err(deferral),
        masked: None,
    }))
}

pub(super) fn fixed_hash(hash_algo: &str, hash: &str, out_path: &str) -> [u8; 32] {
    sha256(format!("fixed:out:{hash_algo}:{hash}:{out_path}").as_bytes())
}

/// Checks that `recorded`, the path fixed output `output` of derivation
/// `name` records, is the one its content address `ca` gives.
pub(super) fn check_fixed_path(
    store: &StoreDir,
    name: &str,
    output: &str,
    ca: &ContentAddress,
    recorded: &str,
) -> Result<(), PathMismatch> {
    let path_name = crate::store_path::output_path_name(name, output);
    let expected = match ca.path(store, &path_name) {
        Ok(p) => store.display(&p),
        Err(e) => format!("no path: {e}"),
    };
    if expected == recorded {
        return Ok(());
    }
    Err(PathMismatch {
        what: format!("output {output:?}"),
        expected,
        actual: recorded.to_owned(),
    })
}

/// The output paths of a derivation called `name` of kind `kind` with
/// these outputs (name and kind): the content address of a fixed output,
/// for input-addressed and deferred outputs the output paths of the masked
/// hash; [`DerivationError::Deferred`] for outputs whose paths are known
/// only after a build.
pub(super) fn output_paths<'n>(
    store: &StoreDir,
    name: &str,
    kind: Result<DerivationKind, KindError>,
    hashes: &DerivationHashes,
    outputs: impl Iterator<Item = (&'n str, Result<OutputKind, super::OutputError>)>,
) -> Result<BTreeMap<String, StorePath>, DerivationError> {
    let kind = kind_for_hashing(kind)?;
    let mut paths = BTreeMap::new();
    for (output, o) in outputs {
        let o = o.map_err(|error| KindError::BadOutput {
            output: output.to_owned(),
            error,
        })?;
        let path = match o {
            OutputKind::Fixed(ca) => {
                ca.path(store, &crate::store_path::output_path_name(name, output))?
            }
            OutputKind::Floating { .. } => return Err(Deferral::Floating.into()),
            OutputKind::Impure { .. } => return Err(Deferral::Impure.into()),
            OutputKind::InputAddressed | OutputKind::Deferred => match hashes.masked {
                Some(h) => store.make_output_path(&h, name, output)?,
                None => {
                    return Err(match &hashes.modulo {
                        Err(d) if kind != DerivationKind::Fixed => {
                            DerivationError::Deferred(d.clone())
                        }
                        _ => DerivationError::MissingMaskedHash,
                    });
                }
            },
        };
        paths.insert(output.to_owned(), path);
    }
    Ok(paths)
}

impl From<Deferral> for DerivationError {
    fn from(d: Deferral) -> DerivationError {
        DerivationError::Deferred(d)
    }
}

/// Compares what each output records with what its kind and the
/// derivation's hashes give, as Nix's `checkInvariants` does:
///
/// * a fixed or input-addressed output's path and its environment variable
///   must be the recomputed path;
/// * an input-addressed output of a derivation that has no hash (it
///   depends on one whose outputs are known only after a build) should be
///   deferred: its path is reported against the reason;
/// * deferred, floating and impure outputs record no path, and their
///   variables hold placeholders or nothing: there is nothing to compare.
pub(super) fn check_outputs<'e, 'n>(
    store: &StoreDir,
    name: &str,
    kind: Result<DerivationKind, KindError>,
    hashes: &DerivationHashes,
    outputs: impl Iterator<
        Item = (
            &'n str,
            Result<OutputKind, super::OutputError>,
            Option<String>,
        ),
    >,
    env: impl Fn(&str) -> Option<&'e [u8]>,
) -> Result<Vec<PathMismatch>, DerivationError> {
    kind_for_hashing(kind)?;
    let mut mismatches = Vec::new();
    for (output, o, recorded) in outputs {
        let o = o.map_err(|error| KindError::BadOutput {
            output: output.to_owned(),
            error,
        })?;
        let want = match o {
            OutputKind::Fixed(ca) => {
                let path_name = crate::store_path::output_path_name(name, output);
                store.display(&ca.path(store, &path_name)?)
            }
            OutputKind::InputAddressed => match (hashes.masked, &hashes.modulo) {
                (Some(h), _) => store.display(&store.make_output_path(&h, name, output)?),
                (None, Err(d)) => {
                    mismatches.push(PathMismatch {
                        what: format!("output {output:?}"),
                        expected: format!("no path (deferred): {d}"),
                        actual: recorded.unwrap_or_default(),
                    });
                    continue;
                }
                (None, Ok(_)) => return Err(DerivationError::MissingMaskedHash),
            },
            OutputKind::Deferred | OutputKind::Floating { .. } | OutputKind::Impure { .. } => {
                continue;
            }
        };
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
    Ok(mismatches)
}
