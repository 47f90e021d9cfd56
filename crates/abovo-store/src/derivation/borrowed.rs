//! The borrowed view of a `.drv` file that the one reader of the ATerm
//! grammar gives: [`DerivationRef`].
//!
//! [`DerivationRef::parse`] reads the text of a `.drv` file (grammar in
//! [`aterm`](super::aterm); the reader is the private `reader` module)
//! without copying it: strings without escapes,
//! store paths, the builder's arguments and the output names of each input
//! stay slices of the input, so reading a derivation allocates a few small
//! vectors and no string. [`Derivation::parse`] is this reader followed by
//! [`DerivationRef::to_derivation`], so both forms accept exactly the same
//! texts and fail with the same [`ParseError`] (offset, kind and message).
//!
//! # Strictness
//!
//! As described in [`aterm`](super::aterm): bytes after the final `)`, a
//! repeated output name, input derivation, input source, output name of an
//! input or environment variable, a path outside the store directory, an
//! input derivation that does not end in `.drv`, and a text field (names,
//! paths, hash fields, system, builder) that is not UTF-8 are errors, each
//! at the byte offset where it was found.
//!
//! # Canonical bytes
//!
//! A `.drv` text is *canonical* when writing it back
//! ([`Derivation::to_aterm`]) gives its exact bytes: every keyed list
//! (outputs, inputs, sources, the output names of each input, the
//! environment) is in strictly increasing byte order, and every string is
//! escaped exactly as the writer escapes (`\"` `\\` `\n` `\r` `\t`, nothing
//! else, and no raw LF, CR or TAB). The reader notes this as it goes
//! ([`DerivationRef::is_canonical`]), so a caller can skip writing the
//! text back to compare it, and the derivation hashes can be spliced
//! straight from the bytes (see [`DerivationRef::hashes`]). Every `.drv`
//! that Guix writes is canonical.
//!
//! # Example
//!
//! ```
//! use abovo_store::derivation::{Derivation, DerivationRef};
//! use abovo_store::StoreDir;
//! let store = StoreDir::default();
//! let text = br#"Derive([("out","/gnu/store/280xcws0xz6c1gx6721jyj2d8j0ly9gz-minimal","","")],[],[],"x86_64-linux","/bin/sh",["-c","echo 'Success' > $out"],[("PATH","/bin"),("out","/gnu/store/280xcws0xz6c1gx6721jyj2d8j0ly9gz-minimal")])"#;
//! let drv = DerivationRef::parse(&store, text)?;
//! assert_eq!(drv.env("PATH"), Some(&b"/bin"[..]));
//! assert!(drv.is_canonical());
//! // No inputs: the hashes need no input hash.
//! let hashes = drv.hashes(&store, |p| unreachable!("{p} is no input"))?;
//! let outputs = drv.output_paths(&store, "minimal", &hashes)?;
//! assert_eq!(outputs["out"].to_string(), "280xcws0xz6c1gx6721jyj2d8j0ly9gz-minimal");
//! assert!(drv.check_output_paths_with(&store, "minimal", &hashes)?.is_empty());
//! // The owned form is the same derivation, from the same reader.
//! assert!(drv == Derivation::parse(&store, text)?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use super::aterm::ParseError;
use super::output::{DerivationKind, IMPURE_HASH, KindError, OutputError, OutputKind};
use super::{BUILTIN_PREFIX, Derivation, DynamicOutputs, FixedOutput, Output};
use crate::hash::HashError;
use crate::nixbase32::is_nix32_char;
use crate::store_path::{HASH_PART_LEN, StoreDir, StorePath, StorePathError, validate_name};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

/// A store path read from a `.drv` file: its base name `<hash32>-<name>`,
/// borrowed from the input (unless the path was written with escapes),
/// checked exactly as [`StoreDir::parse`] checks it.
///
/// Ordering and equality are those of [`StorePath`] (and of the absolute
/// path): base names compare like (hash part, name) because the hash part
/// has a fixed length.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StorePathRef<'a> {
    base: Cow<'a, str>,
}

/// The hash part given for a path that is never built (see
/// [`StorePathRef::hash_part`]).
const NO_HASH_PART: &[u8; HASH_PART_LEN] = &[b'0'; HASH_PART_LEN];

impl<'a> StorePathRef<'a> {
    /// Parses an absolute path that must be directly in `store`, as
    /// [`StoreDir::parse`] does and with the same errors, without copying it.
    pub fn parse(store: &StoreDir, path: &'a str) -> Result<StorePathRef<'a>, StorePathError> {
        match base_name_in(store, path) {
            Some(base) => Ok(StorePathRef {
                base: Cow::Borrowed(base),
            }),
            None => Err(path_error(store, path)),
        }
    }

    /// The 32 nix32 characters of the hash part.
    pub fn hash_part(&self) -> &[u8; HASH_PART_LEN] {
        // Every constructor checked the base name, so the chunk is there.
        self.base
            .as_bytes()
            .first_chunk::<HASH_PART_LEN>()
            .unwrap_or(NO_HASH_PART)
    }

    /// The name after the dash.
    pub fn name(&self) -> &str {
        self.base.get(HASH_PART_LEN + 1..).unwrap_or_default()
    }

    /// `<hash32>-<name>`.
    pub fn base_name(&self) -> &str {
        &self.base
    }

    /// Whether the name ends in `.drv`.
    pub fn is_derivation(&self) -> bool {
        self.base.ends_with(".drv")
    }

    /// The derivation name of a `.drv` path: its name without `.drv`.
    pub fn derivation_name(&self) -> Option<&str> {
        self.name().strip_suffix(".drv")
    }

    /// The absolute path in `store`.
    pub fn display(&self, store: &StoreDir) -> String {
        let mut s = String::with_capacity(store.as_str().len() + 1 + self.base.len());
        s.push_str(store.as_str());
        s.push('/');
        s.push_str(&self.base);
        s
    }

    /// The owned [`StorePath`].
    pub fn to_store_path(&self) -> StorePath {
        // The base name was checked by the same rules when this value was
        // made (a test checks that both constructors agree on it), so
        // this cannot fail; a fixed path beats a panic if it did.
        StorePath::from_checked_base_name(&self.base).unwrap_or_else(unreachable_path)
    }

    /// The same path, owning its base name.
    pub fn into_owned(self) -> StorePathRef<'static> {
        StorePathRef {
            base: Cow::Owned(self.base.into_owned()),
        }
    }
}

#[cold]
fn unreachable_path() -> StorePath {
    StorePath::from_digest(&[0; 20], "invalid").unwrap_or_else(|_| unreachable_path())
}

impl<'a> From<&'a StorePath> for StorePathRef<'a> {
    fn from(path: &'a StorePath) -> Self {
        StorePathRef {
            base: Cow::Owned(path.base_name()),
        }
    }
}

/// Shows the base name; use [`StorePathRef::display`] for the absolute path.
impl fmt::Display for StorePathRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.base)
    }
}

impl fmt::Debug for StorePathRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StorePathRef({})", self.base)
    }
}

/// The base name of `path` when it is a valid store path directly in
/// `store`: exactly the checks of [`StoreDir::parse`] and
/// [`StorePath::from_base_name`] (a property test holds them together),
/// without building the error values on the way.
fn base_name_in<'p>(store: &StoreDir, path: &'p str) -> Option<&'p str> {
    let base = path.strip_prefix(store.as_str())?.strip_prefix('/')?;
    let b = base.as_bytes();
    // No `/` test: neither nix32 nor a valid name has one.
    if b.len() < HASH_PART_LEN + 2 || b[HASH_PART_LEN] != b'-' {
        return None;
    }
    if !b[..HASH_PART_LEN].iter().all(|&c| is_nix32_char(c)) {
        return None;
    }
    validate_name(&base[HASH_PART_LEN + 1..]).ok()?;
    Some(base)
}

/// Why `path` is not a store path of `store` ([`StoreDir::parse`]'s own
/// error, so both readers say the same).
#[cold]
fn path_error(store: &StoreDir, path: &str) -> StorePathError {
    match store.parse(path) {
        Err(e) => e,
        // `base_name_in` rejects exactly what `parse` rejects.
        Ok(_) => StorePathError::TooShort(path.to_owned()),
    }
}

/// A list of strings as written in the input (`[` … `]`), read on demand.
/// The reader has checked it (every string terminated), so iterating
/// cannot fail.
#[derive(Clone, Copy)]
pub struct StringList<'a> {
    pub(super) raw: &'a [u8],
    pub(super) len: usize,
}

impl<'a> StringList<'a> {
    /// The number of strings.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The strings, unescaped, in their order.
    pub fn iter(&self) -> StringIter<'a> {
        StringIter {
            raw: self.raw,
            pos: 1,
        }
    }

    /// The list as written, brackets included.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }
}

impl fmt::Debug for StringList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|s| bstr_debug(&s)))
            .finish()
    }
}

impl PartialEq for StringList<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for StringList<'_> {}

fn bstr_debug(s: &[u8]) -> String {
    String::from_utf8_lossy(s).into_owned()
}

/// Iterates over a [`StringList`].
#[derive(Debug, Clone)]
pub struct StringIter<'a> {
    raw: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for StringIter<'a> {
    type Item = Cow<'a, [u8]>;

    fn next(&mut self) -> Option<Cow<'a, [u8]>> {
        let mut canonical = true;
        let (s, end) = super::reader::read_string(self.raw, self.pos, &mut canonical).ok()?;
        self.pos = end + usize::from(self.raw.get(end) == Some(&b','));
        Some(s)
    }
}

/// The output names an input derivation is used for (`["lib","out"]`),
/// read on demand; checked to be UTF-8 and without repeats.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct OutputNames<'a>(pub(super) StringList<'a>);

impl<'a> OutputNames<'a> {
    /// The number of names.
    pub fn len(&self) -> usize {
        self.0.len
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.0.len == 0
    }

    /// The names in their order (sorted in a canonical `.drv`).
    pub fn iter(&self) -> impl Iterator<Item = Cow<'a, str>> + use<'a> {
        self.0.iter().map(|s| match s {
            Cow::Borrowed(b) => std::str::from_utf8(b)
                .map(Cow::Borrowed)
                .unwrap_or_else(|_| String::from_utf8_lossy(b)),
            Cow::Owned(b) => Cow::Owned(
                String::from_utf8(b)
                    .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
            ),
        })
    }

    /// The list as written, brackets included.
    pub fn raw(&self) -> &'a [u8] {
        self.0.raw
    }
}

impl fmt::Debug for OutputNames<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// One output: `(name, path, hashAlgo, hash)`; see [`Output`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputRef<'a> {
    /// The output name.
    pub name: Cow<'a, str>,
    /// The recorded path; `None` where the text has `""`.
    pub path: Option<StorePathRef<'a>>,
    /// `""`, or the hash algorithm of a fixed output (`r:sha256`, …).
    pub hash_algo: Cow<'a, str>,
    /// `""`, `impure`, or the expected hash of a fixed output.
    pub hash: Cow<'a, str>,
}

impl OutputRef<'_> {
    /// What kind of output the fields make (the reader checked that they
    /// make one).
    pub fn kind(&self) -> Result<OutputKind, OutputError> {
        OutputKind::classify(self.path.is_some(), &self.hash_algo, &self.hash)
    }
}

/// One input derivation and the output names used from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputDerivationRef<'a> {
    /// The `.drv` path.
    pub path: StorePathRef<'a>,
    /// The outputs used.
    pub outputs: OutputNames<'a>,
    /// Outputs of outputs used (Nix's dynamic derivations; empty
    /// elsewhere), by output name.
    pub dynamic: BTreeMap<String, DynamicOutputs>,
}

/// An environment variable: name and value, as bytes.
pub type EnvVarRef<'a> = (Cow<'a, [u8]>, Cow<'a, [u8]>);

/// A derivation read from its ATerm text without copying it; see the
/// [module docs](self). Lists are in the order of the text (sorted in a
/// canonical `.drv`); [`DerivationRef::to_derivation`] gives the owned
/// [`Derivation`].
#[derive(Debug, Clone)]
pub struct DerivationRef<'a> {
    // Private to the module tree: the reader fills them, and the spans and
    // the canonical flag must stay true to `bytes`, which splicing relies on.
    pub(super) outputs: Vec<OutputRef<'a>>,
    pub(super) input_derivations: Vec<InputDerivationRef<'a>>,
    pub(super) input_sources: Vec<StorePathRef<'a>>,
    pub(super) system: Cow<'a, str>,
    pub(super) builder: Cow<'a, str>,
    pub(super) arguments: StringList<'a>,
    pub(super) environment: Vec<EnvVarRef<'a>>,
    /// The text this was read from.
    pub(super) bytes: &'a [u8],
    /// Where the outputs list and the input derivations list sit in it.
    pub(super) outputs_span: Range<usize>,
    pub(super) inputs_span: Range<usize>,
    pub(super) canonical: bool,
}

impl<'a> DerivationRef<'a> {
    /// Reads the ATerm text of a `.drv` file whose paths are in `store`.
    pub fn parse(store: &StoreDir, input: &'a [u8]) -> Result<DerivationRef<'a>, ParseError> {
        super::reader::read(store, input)
    }

    /// The outputs.
    pub fn outputs(&self) -> &[OutputRef<'a>] {
        &self.outputs
    }

    /// The output called `name`.
    pub fn output(&self, name: &str) -> Option<&OutputRef<'a>> {
        self.outputs.iter().find(|o| o.name == name)
    }

    /// The input derivations with the output names used from each.
    pub fn input_derivations(&self) -> &[InputDerivationRef<'a>] {
        &self.input_derivations
    }

    /// The input sources.
    pub fn input_sources(&self) -> &[StorePathRef<'a>] {
        &self.input_sources
    }

    /// The system type, e.g. `x86_64-linux`.
    pub fn system(&self) -> &str {
        &self.system
    }

    /// The builder: a store path, or a daemon built-in (`builtin:…`).
    pub fn builder(&self) -> &str {
        &self.builder
    }

    /// The built-in builder's name (`download`, `git-download`) when the
    /// daemon itself builds this derivation.
    pub fn builtin(&self) -> Option<&str> {
        self.builder.strip_prefix(BUILTIN_PREFIX)
    }

    /// The builder's arguments.
    pub fn arguments(&self) -> StringList<'a> {
        self.arguments
    }

    /// The environment variables.
    pub fn environment(&self) -> &[EnvVarRef<'a>] {
        &self.environment
    }

    /// An environment variable.
    pub fn env(&self, name: &str) -> Option<&[u8]> {
        self.environment
            .iter()
            .find(|(k, _)| k.as_ref() == name.as_bytes())
            .map(|(_, v)| v.as_ref())
    }

    /// The text this derivation was read from.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Whether [`Derivation::to_aterm`] of this derivation gives back
    /// exactly [`bytes`](Self::bytes) (see the [module docs](self)).
    pub fn is_canonical(&self) -> bool {
        self.canonical
    }

    /// Whether this is a fixed-output derivation: exactly one output,
    /// named `out`, with a non-empty hash (as [`Derivation::is_fixed_output`]).
    pub fn is_fixed_output(&self) -> bool {
        matches!(self.outputs.as_slice(), [o] if o.name == "out" && !o.hash.is_empty() && o.hash != IMPURE_HASH)
    }

    /// The kind of the derivation ([`Derivation::kind`], with the same
    /// error: outputs are looked at in name order).
    pub fn kind(&self) -> Result<DerivationKind, KindError> {
        if self.canonical {
            return DerivationKind::of(self.outputs.iter().map(|o| (o.name.as_ref(), o.kind())));
        }
        let mut sorted: Vec<&OutputRef<'a>> = self.outputs.iter().collect();
        sorted.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        DerivationKind::of(sorted.into_iter().map(|o| (o.name.as_ref(), o.kind())))
    }

    /// Whether the text is in the `DrvWithVersion("xp-dyn-drv",…)` form
    /// (a canonical one is exactly when some input uses outputs of its
    /// outputs).
    pub fn is_versioned(&self) -> bool {
        self.bytes.starts_with(b"DrvWithVersion(")
    }

    /// The pinned hash of a fixed-output derivation; `None` for other
    /// derivations, an error when the fields do not parse.
    pub fn fixed_output(&self) -> Option<Result<FixedOutput, HashError>> {
        if !self.is_fixed_output() {
            return None;
        }
        let out = &self.outputs[0];
        Some(FixedOutput::from_fields(&out.hash_algo, &out.hash))
    }

    /// The references of the `.drv` file itself: every input derivation and
    /// every input source.
    pub fn references(&self) -> impl Iterator<Item = &StorePathRef<'a>> {
        self.input_derivations
            .iter()
            .map(|i| &i.path)
            .chain(self.input_sources.iter())
    }

    /// The owned form, with every string copied (what
    /// [`Derivation::parse`] returns).
    pub fn to_derivation(&self) -> Derivation {
        Derivation {
            outputs: self
                .outputs
                .iter()
                .map(|o| {
                    (
                        o.name.clone().into_owned(),
                        Output {
                            path: o.path.as_ref().map(StorePathRef::to_store_path),
                            hash_algo: o.hash_algo.clone().into_owned(),
                            hash: o.hash.clone().into_owned(),
                        },
                    )
                })
                .collect(),
            input_derivations: self
                .input_derivations
                .iter()
                .map(|i| {
                    (
                        i.path.to_store_path(),
                        i.outputs.iter().map(Cow::into_owned).collect(),
                    )
                })
                .collect(),
            dynamic_inputs: self
                .input_derivations
                .iter()
                .filter(|i| !i.dynamic.is_empty())
                .map(|i| (i.path.to_store_path(), i.dynamic.clone()))
                .collect(),
            input_sources: self
                .input_sources
                .iter()
                .map(StorePathRef::to_store_path)
                .collect(),
            system: self.system.clone().into_owned(),
            builder: self.builder.clone().into_owned(),
            arguments: self.arguments.iter().map(Cow::into_owned).collect(),
            environment: self
                .environment
                .iter()
                .map(|(k, v)| (k.clone().into_owned(), v.clone().into_owned()))
                .collect(),
        }
    }
}

impl From<&DerivationRef<'_>> for Derivation {
    fn from(drv: &DerivationRef<'_>) -> Derivation {
        drv.to_derivation()
    }
}

/// A borrowed derivation equals an owned one when both hold the same
/// derivation. The owned form keeps its lists as maps and sets, so their
/// order does not matter; every field is compared through its own accessor,
/// not through [`DerivationRef::to_derivation`].
impl PartialEq<Derivation> for DerivationRef<'_> {
    fn eq(&self, d: &Derivation) -> bool {
        let same_path = |a: &StorePathRef<'_>, b: &StorePath| {
            a.hash_part() == b.hash_part_bytes() && a.name() == b.name()
        };
        // The reader rejects repeated keys, so equal lengths and every
        // borrowed entry found in the owned map make equal maps.
        self.outputs.len() == d.outputs.len()
            && self.outputs.iter().all(|o| {
                d.outputs.get(o.name.as_ref()).is_some_and(|x| {
                    x.hash_algo == o.hash_algo
                        && x.hash == o.hash
                        && match (&o.path, &x.path) {
                            (None, None) => true,
                            (Some(a), Some(b)) => same_path(a, b),
                            _ => false,
                        }
                })
            })
            && self.input_derivations.len() == d.input_derivations.len()
            && self.input_derivations.iter().all(|i| {
                let path = i.path.to_store_path();
                let dynamic = d.dynamic_inputs.get(&path).filter(|m| !m.is_empty());
                d.input_derivations.get(&path).is_some_and(|names| {
                    names.len() == i.outputs.len()
                        && i.outputs.iter().all(|n| names.contains(n.as_ref()))
                }) && dynamic.map_or(i.dynamic.is_empty(), |m| *m == i.dynamic)
            })
            && d.dynamic_inputs.values().filter(|m| !m.is_empty()).count()
                == self
                    .input_derivations
                    .iter()
                    .filter(|i| !i.dynamic.is_empty())
                    .count()
            && self.input_sources.len() == d.input_sources.len()
            && self
                .input_sources
                .iter()
                .all(|p| d.input_sources.contains(&p.to_store_path()))
            && self.system == d.system
            && self.builder == d.builder
            && self
                .arguments
                .iter()
                .eq(d.arguments.iter().map(|a| Cow::Borrowed(a.as_slice())))
            && self.environment.len() == d.environment.len()
            && self.environment.iter().all(|(k, v)| {
                d.environment
                    .get(k.as_ref())
                    .is_some_and(|x| x[..] == v[..])
            })
    }
}
