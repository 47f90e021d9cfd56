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

use super::borrowed::{DerivationRef, OutputRef, StorePathRef};
use super::hashing::{
    DerivationError, DerivationHashes, PathMismatch, compare_output_paths, fixed_hash,
    known_input_hash, output_paths,
};
use super::{Derivation, aterm};
use crate::encoding::base16_encode;
use crate::store_path::{StoreDir, StorePath};
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;

impl<'a> DerivationRef<'a> {
    /// Both hashes of this derivation, the same as [`Derivation::hashes`]
    /// of the owned form gives. `input_hash` gives the derivation hash
    /// "modulo" of an input derivation (normally its
    /// [`DerivationHashes::modulo`]); it is called once per input, and not
    /// at all for a fixed-output derivation.
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
        if let Some(fixed) = self.fixed_output() {
            fixed?;
            let out = &self.outputs()[0];
            let path = out
                .path
                .as_ref()
                .ok_or(DerivationError::MissingFixedOutputPath)?;
            return Ok(DerivationHashes {
                modulo: fixed_hash(&out.hash_algo, &out.hash, &path.display(store)),
                masked: None,
            });
        }
        let hashes = self.input_hashes(&mut input_hash)?;
        match Splice::new(self) {
            Some(splice) => {
                let inputs = splice.inputs_text(&hashes);
                let mut modulo = Sha256::new();
                splice.pieces(false, &inputs, |b| modulo.update(b));
                let mut masked = Sha256::new();
                splice.pieces(true, &inputs, |b| masked.update(b));
                Ok(DerivationHashes {
                    modulo: modulo.finalize().into(),
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
        Ok(self.hashes(store, input_hash)?.modulo)
    }

    /// The modulo text ([`Derivation::modulo_text`] of the owned form),
    /// spliced from the bytes when it can be (see [`DerivationRef::hashes`]).
    pub fn modulo_text(
        &self,
        store: &StoreDir,
        masked: bool,
        mut input_hash: impl FnMut(&StorePathRef<'a>) -> Result<[u8; 32], DerivationError>,
    ) -> Result<Vec<u8>, DerivationError> {
        let hashes = self.input_hashes(&mut input_hash)?;
        match Splice::new(self) {
            Some(splice) => {
                let inputs = splice.inputs_text(&hashes);
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
    /// name without `.drv`).
    pub fn output_paths(
        &self,
        store: &StoreDir,
        name: &str,
        hashes: &DerivationHashes,
    ) -> Result<BTreeMap<String, StorePath>, DerivationError> {
        // In name order, as the owned form's map, so that the first error
        // is the same too.
        let mut names: Vec<&str> = self.outputs().iter().map(|o| o.name.as_ref()).collect();
        if !self.is_canonical() {
            names.sort_unstable();
        }
        output_paths(
            store,
            name,
            self.fixed_output(),
            hashes.masked,
            names.into_iter(),
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
        let expected = self.output_paths(store, name, hashes)?;
        // Indexed once: looking each output up by a scan of the lists made
        // the check quadratic in the number of outputs. The first of equal
        // names wins, as in `output` and `env`.
        let mut recorded: HashMap<&str, &OutputRef<'a>> = HashMap::new();
        for o in self.outputs() {
            recorded.entry(o.name.as_ref()).or_insert(o);
        }
        let mut env: HashMap<&[u8], &[u8]> = HashMap::new();
        for (k, v) in self.environment() {
            env.entry(k.as_ref()).or_insert(v.as_ref());
        }
        Ok(compare_output_paths(
            store,
            &expected,
            |output| {
                recorded
                    .get(output)
                    .and_then(|o| o.path.as_ref())
                    .map(|p| p.display(store))
            },
            |output| env.get(output.as_bytes()).copied(),
        ))
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
            return Ok(DerivationHashes {
                modulo: [0; 32],
                masked: None,
            });
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

    /// Each input's hash, in the order of the text.
    fn input_hashes(
        &self,
        input_hash: &mut impl FnMut(&StorePathRef<'a>) -> Result<[u8; 32], DerivationError>,
    ) -> Result<Vec<[u8; 32]>, DerivationError> {
        self.input_derivations()
            .iter()
            .map(|i| input_hash(&i.path))
            .collect()
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
    /// input's hash>",[outputs])`, sorted by hash; of inputs with equal
    /// hashes the later one in path order stays, as in the daemon's map.
    fn inputs_text(&self, hashes: &[[u8; 32]]) -> Vec<u8> {
        let inputs = self.drv.input_derivations();
        // Base16 sorts like the bytes it encodes.
        let mut order: Vec<usize> = (0..inputs.len()).collect();
        order.sort_by(|&x, &y| hashes[x].cmp(&hashes[y]));
        let mut out = Vec::with_capacity(2 + inputs.len() * 80);
        out.push(b'[');
        let mut first = true;
        for (k, &i) in order.iter().enumerate() {
            if order.get(k + 1).is_some_and(|&j| hashes[j] == hashes[i]) {
                continue;
            }
            if !first {
                out.push(b',');
            }
            first = false;
            out.extend_from_slice(b"(\"");
            out.extend_from_slice(base16_encode(&hashes[i]).as_bytes());
            out.extend_from_slice(b"\",");
            out.extend_from_slice(inputs[i].outputs.raw());
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
