//! Derivation hashes of a [`DerivationRef`], spliced from its bytes.
//!
//! The modulo text of an input-addressed derivation (see
//! [`hashing`](super::hashing)) is its ATerm text with the list of input
//! derivations rewritten (each path replaced by the base16 of that input's
//! hash, re-sorted by it); the masked text also blanks every output path
//! and every environment variable named after an output. When the bytes
//! are canonical ([`DerivationRef::is_canonical`]: exactly what the writer
//! would write), both texts are those bytes with a few spans replaced, so
//! they are hashed piece by piece straight from the input, instead of being
//! written out from an owned [`Derivation`]: no copy of the text, and no
//! allocation per string.
//!
//! # What splicing assumes, and the fallback
//!
//! Splicing applies when
//! 1. the bytes are canonical (keyed lists strictly sorted, the writer's
//!    escapes only), so that every span kept is what the writer would
//!    write; and
//! 2. every output has its environment variable, written without escapes
//!    (masking would otherwise have to insert a variable, or blank a value
//!    that is not a plain slice of the input).
//!
//! Anything else falls back on the owned form
//! ([`DerivationRef::to_derivation`], then [`Derivation::modulo_text`]),
//! which is the reference. Both ways give the same texts and hashes: unit
//! tests check it on the whole Guix corpus and on random derivations.

use super::borrowed::{DerivationRef, StorePathRef};
use super::hashing::{
    Deferral, DerivationError, DerivationHashes, PathMismatch, check_outputs, fixed_hash,
    hashes_without_inputs, input_or_deferral, kind_for_hashing, known_input_hash,
    merges_colliding_inputs, output_paths,
};
use super::output::DerivationKind;
use super::{Derivation, aterm};
use crate::encoding::base16_encode;
use crate::store_path::{StoreDir, StorePath};
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ops::Range;

impl<'a> DerivationRef<'a> {
    /// Both hashes of this derivation, the same as [`Derivation::hashes`]
    /// of the owned form gives. `input_hash` gives the derivation hash
    /// "modulo" of an input derivation (normally its
    /// [`DerivationHashes::modulo`], or [`DerivationError::Deferred`] when
    /// it has none); it is called once per input, and not at all for a
    /// derivation whose hashes need none (fixed-output, floating, impure,
    /// or using outputs of outputs).
    ///
    /// # Spliced from the bytes, or written from the owned form
    ///
    /// The modulo texts of an input-addressed derivation are its ATerm text
    /// with a few spans replaced (the input derivations list; for the masked
    /// text also the output paths and the values of the variables named
    /// after outputs). They are hashed piece by piece straight from
    /// [`bytes`](DerivationRef::bytes), without writing them out, when
    /// 1. the bytes are canonical ([`is_canonical`](DerivationRef::is_canonical)),
    ///    so every span kept is what the writer would write; and
    /// 2. every output has its environment variable, written without
    ///    escapes (masking would otherwise insert a variable, or blank a
    ///    value that is not a plain slice of the bytes).
    ///
    /// Otherwise they are written from [`to_derivation`](DerivationRef::to_derivation)
    /// with [`Derivation::modulo_text`], the reference. Every `.drv` Guix
    /// writes takes the first way; tests check that both ways agree on the
    /// whole Guix 1.5.0 corpus and on random derivations.
    pub fn hashes(
        &self,
        store: &StoreDir,
        mut input_hash: impl FnMut(&StorePathRef<'a>) -> Result<[u8; 32], DerivationError>,
    ) -> Result<DerivationHashes, DerivationError> {
        let kind = kind_for_hashing(self.kind())?;
        let fixed = || {
            let out = &self.outputs()[0];
            let path = out
                .path
                .as_ref()
                .ok_or(DerivationError::MissingFixedOutputPath)?;
            Ok(fixed_hash(&out.hash_algo, &out.hash, &path.display(store)))
        };
        let dynamic = || {
            (self.input_derivations().iter())
                .find(|i| !i.dynamic.is_empty())
                .map(|i| i.path.display(store))
        };
        if let Some(early) = hashes_without_inputs(kind, fixed, dynamic)? {
            return Ok(early);
        }
        let hashes = match self.input_hashes(store, &mut input_hash)? {
            Ok(h) => h,
            Err(d) => {
                return Ok(DerivationHashes {
                    modulo: Err(d),
                    masked: None,
                });
            }
        };
        let deferred = kind == DerivationKind::Deferred;
        match Splice::new(self) {
            Some(splice) => {
                let inputs = splice.inputs_text(&hashes, merges_colliding_inputs(store));
                let mut modulo = Sha256::new();
                if !deferred {
                    splice.pieces(false, &inputs, |b| modulo.update(b));
                }
                let mut masked = Sha256::new();
                splice.pieces(true, &inputs, |b| masked.update(b));
                Ok(DerivationHashes {
                    modulo: if deferred {
                        Err(Deferral::DeferredOutputs)
                    } else {
                        Ok(modulo.finalize().into())
                    },
                    masked: Some(masked.finalize().into()),
                })
            }
            None => {
                let known = self.known_hashes(&hashes);
                let owned: Derivation = self.to_derivation();
                owned.hashes(store, |p| known_input_hash(&known, store, p))
            }
        }
    }

    /// The derivation hash of this derivation as stored: the same as
    /// [`Derivation::hash_modulo`] of the owned form (see
    /// [`DerivationRef::hashes`]).
    pub fn hash_modulo(
        &self,
        store: &StoreDir,
        input_hash: impl FnMut(&StorePathRef<'a>) -> Result<[u8; 32], DerivationError>,
    ) -> Result<[u8; 32], DerivationError> {
        self.hashes(store, input_hash)?
            .modulo
            .map_err(DerivationError::Deferred)
    }

    /// The modulo text ([`Derivation::modulo_text`] of the owned form),
    /// spliced from the bytes when it can be (see [`DerivationRef::hashes`]).
    pub fn modulo_text(
        &self,
        store: &StoreDir,
        masked: bool,
        mut input_hash: impl FnMut(&StorePathRef<'a>) -> Result<[u8; 32], DerivationError>,
    ) -> Result<Vec<u8>, DerivationError> {
        if let Some(i) = self
            .input_derivations()
            .iter()
            .find(|i| !i.dynamic.is_empty())
        {
            return Err(Deferral::DynamicInputs(i.path.display(store)).into());
        }
        let hashes = self
            .input_hashes(store, &mut input_hash)?
            .map_err(DerivationError::Deferred)?;
        match Splice::new(self) {
            Some(splice) => {
                let inputs = splice.inputs_text(&hashes, merges_colliding_inputs(store));
                let mut out = Vec::with_capacity(self.bytes().len());
                splice.pieces(masked, &inputs, |b| out.extend_from_slice(b));
                Ok(out)
            }
            None => {
                let known = self.known_hashes(&hashes);
                let owned: Derivation = self.to_derivation();
                owned.modulo_text(store, masked, |p| known_input_hash(&known, store, p))
            }
        }
    }

    /// The output paths this derivation must have, given its
    /// [`hashes`](Self::hashes); `name` is the derivation name (the `.drv`
    /// name without `.drv`). [`DerivationError::Deferred`] when they are
    /// known only after a build.
    pub fn output_paths(
        &self,
        store: &StoreDir,
        name: &str,
        hashes: &DerivationHashes,
    ) -> Result<BTreeMap<String, StorePath>, DerivationError> {
        // In name order, as the owned form's map, so that the first error
        // is the same too.
        let mut outputs: Vec<_> = self.outputs().iter().collect();
        if !self.is_canonical() {
            outputs.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        }
        output_paths(
            store,
            name,
            self.kind(),
            hashes,
            outputs.into_iter().map(|o| (o.name.as_ref(), o.kind())),
        )
    }

    /// [`Derivation::compute_output_paths`] of the owned form.
    pub fn compute_output_paths(
        &self,
        store: &StoreDir,
        name: &str,
        input_hash: impl FnMut(&StorePathRef<'a>) -> Result<[u8; 32], DerivationError>,
    ) -> Result<BTreeMap<String, StorePath>, DerivationError> {
        let hashes = self.path_hashes(store, input_hash)?;
        self.output_paths(store, name, &hashes)
    }

    /// Compares the recorded output paths, and the environment variables
    /// named after the outputs, with those its [`hashes`](Self::hashes)
    /// give (what [`Derivation::check_output_paths`] reports).
    pub fn check_output_paths_with(
        &self,
        store: &StoreDir,
        name: &str,
        hashes: &DerivationHashes,
    ) -> Result<Vec<PathMismatch>, DerivationError> {
        let mut outputs: Vec<_> = self.outputs().iter().collect();
        if !self.is_canonical() {
            outputs.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        }
        // Indexed once: looking each variable up by a scan of the
        // environment made the check quadratic in the number of outputs.
        // The first of equal names wins, as in `env`.
        let mut env: HashMap<&[u8], &[u8]> = HashMap::new();
        for (k, v) in self.environment() {
            env.entry(k.as_ref()).or_insert(v.as_ref());
        }
        check_outputs(
            store,
            name,
            self.kind(),
            hashes,
            outputs.into_iter().map(|o| {
                (
                    o.name.as_ref(),
                    o.kind(),
                    o.path.as_ref().map(|p| p.display(store)),
                )
            }),
            |output| env.get(output.as_bytes()).copied(),
        )
    }

    /// [`Derivation::check_output_paths`] of the owned form.
    pub fn check_output_paths(
        &self,
        store: &StoreDir,
        name: &str,
        input_hash: impl FnMut(&StorePathRef<'a>) -> Result<[u8; 32], DerivationError>,
    ) -> Result<Vec<PathMismatch>, DerivationError> {
        let hashes = self.path_hashes(store, input_hash)?;
        self.check_output_paths_with(store, name, &hashes)
    }

    /// What output paths need: for a fixed-output derivation nothing (its
    /// path follows from its pinned hash, while its own hash would need a
    /// recorded path), else its hashes.
    fn path_hashes(
        &self,
        store: &StoreDir,
        input_hash: impl FnMut(&StorePathRef<'a>) -> Result<[u8; 32], DerivationError>,
    ) -> Result<DerivationHashes, DerivationError> {
        if self.is_fixed_output() {
            return Ok(DerivationHashes::FIXED_PLACEHOLDER);
        }
        self.hashes(store, input_hash)
    }

    /// The store path of this `.drv` file, named `<name>.drv`, from its own
    /// bytes and references ([`Derivation::drv_path`]).
    pub fn drv_path(&self, store: &StoreDir, name: &str) -> Result<StorePath, DerivationError> {
        let references: Vec<StorePath> =
            self.references().map(StorePathRef::to_store_path).collect();
        Ok(store.make_text_path(&format!("{name}.drv"), self.bytes(), &references)?)
    }

    /// Each input's hash, in the order of the text; `Err` with the first
    /// input (in that order) that has none.
    fn input_hashes(
        &self,
        store: &StoreDir,
        input_hash: &mut impl FnMut(&StorePathRef<'a>) -> Result<[u8; 32], DerivationError>,
    ) -> Result<Result<Vec<[u8; 32]>, Deferral>, DerivationError> {
        let mut hashes = Vec::with_capacity(self.input_derivations().len());
        let mut deferred = None;
        for i in self.input_derivations() {
            match input_hash(&i.path) {
                Ok(h) => hashes.push(h),
                Err(e) => {
                    if let Err(d) = input_or_deferral(store, &i.path.to_store_path(), Err(e))? {
                        deferred.get_or_insert(d);
                    }
                }
            }
        }
        Ok(match deferred {
            Some(d) => Err(d),
            None => Ok(hashes),
        })
    }

    /// The inputs' hashes by owned path, for the fallback.
    fn known_hashes(&self, hashes: &[[u8; 32]]) -> BTreeMap<StorePath, [u8; 32]> {
        self.input_derivations()
            .iter()
            .zip(hashes)
            .map(|(i, h)| (i.path.to_store_path(), *h))
            .collect()
    }
}

/// A derivation whose modulo texts can be spliced from its bytes.
struct Splice<'d, 'a> {
    drv: &'d DerivationRef<'a>,
    /// The values of the environment variables named after outputs, as
    /// spans of the bytes, in order.
    blanks: Vec<Range<usize>>,
}

impl<'d, 'a> Splice<'d, 'a> {
    /// `None` when the [module's](self) conditions do not hold.
    fn new(drv: &'d DerivationRef<'a>) -> Option<Splice<'d, 'a>> {
        if !drv.is_canonical() {
            return None;
        }
        let bytes = drv.bytes();
        let mut blanks = Vec::with_capacity(drv.outputs().len());
        let outputs: HashSet<&[u8]> = drv.outputs().iter().map(|o| o.name.as_bytes()).collect();
        for (key, value) in drv.environment() {
            if !outputs.contains(&key[..]) {
                continue;
            }
            // An unescaped value is a slice of the bytes: find where.
            let Cow::Borrowed(value) = value else {
                return None;
            };
            let start = (value.as_ptr() as usize).checked_sub(bytes.as_ptr() as usize)?;
            let span = start..start + value.len();
            if bytes.get(span.clone()) != Some(value) {
                return None;
            }
            blanks.push(span);
        }
        (blanks.len() == drv.outputs().len()).then_some(Splice { drv, blanks })
    }

    /// The input derivations list of the modulo texts: `("<base16 of the
    /// input's hash>",[outputs])`, sorted by hash. Of inputs with equal
    /// hashes the later one in path order stays, as in the daemon's map,
    /// or with `merge` (modern Nix) their output names are merged.
    fn inputs_text(&self, hashes: &[[u8; 32]], merge: bool) -> Vec<u8> {
        let inputs = self.drv.input_derivations();
        // Base16 sorts like the bytes it encodes; a stable sort keeps the
        // inputs of one hash in path order.
        let mut order: Vec<usize> = (0..inputs.len()).collect();
        order.sort_by(|&x, &y| hashes[x].cmp(&hashes[y]));
        let mut out = Vec::with_capacity(2 + inputs.len() * 80);
        out.push(b'[');
        let mut k = 0;
        while k < order.len() {
            let i = order[k];
            let same = order[k..]
                .iter()
                .take_while(|&&j| hashes[j] == hashes[i])
                .count();
            let group = &order[k..k + same];
            k += same;
            if out.len() > 1 {
                out.push(b',');
            }
            out.extend_from_slice(b"(\"");
            out.extend_from_slice(base16_encode(&hashes[i]).as_bytes());
            out.extend_from_slice(b"\",");
            match group {
                [only] => out.extend_from_slice(inputs[*only].outputs.raw()),
                [.., last] if !merge => out.extend_from_slice(inputs[*last].outputs.raw()),
                _ => {
                    let names: BTreeSet<Cow<'_, str>> = group
                        .iter()
                        .flat_map(|&j| inputs[j].outputs.iter())
                        .collect();
                    out.push(b'[');
                    for (n, name) in names.iter().enumerate() {
                        if n > 0 {
                            out.push(b',');
                        }
                        aterm::write_str(&mut out, name.as_bytes());
                    }
                    out.push(b']');
                }
            }
            out.push(b')');
        }
        out.push(b']');
        out
    }

    /// Feeds the unmasked or masked text to `out`, piece by piece.
    fn pieces(&self, masked: bool, inputs: &[u8], mut out: impl FnMut(&[u8])) {
        let b = self.drv.bytes();
        let (outputs, input_list) = (&self.drv.outputs_span, &self.drv.inputs_span);
        if !masked {
            out(&b[..input_list.start]);
            out(inputs);
            out(&b[input_list.end..]);
            return;
        }
        let mut list = Vec::with_capacity(outputs.len());
        list.push(b'[');
        for (i, o) in self.drv.outputs().iter().enumerate() {
            if i > 0 {
                list.push(b',');
            }
            list.push(b'(');
            aterm::write_str(&mut list, o.name.as_bytes());
            list.extend_from_slice(b",\"\",");
            aterm::write_str(&mut list, o.hash_algo.as_bytes());
            list.push(b',');
            aterm::write_str(&mut list, o.hash.as_bytes());
            list.push(b')');
        }
        list.push(b']');
        out(&b[..outputs.start]);
        out(&list);
        out(&b[outputs.end..input_list.start]);
        out(inputs);
        let mut at = input_list.end;
        for blank in &self.blanks {
            out(&b[at..blank.start]);
            at = blank.end;
        }
        out(&b[at..]);
    }
}
