//! The ATerm text of `.drv` files: the grammar, the reader's errors and a
//! byte-exact writer. The reader itself is [`DerivationRef::parse`] (in
//! [`borrowed`](super::borrowed)), which [`Derivation::parse`] builds on.
//!
//! # Grammar
//!
//! ```text
//! drv       = "Derive(" body ")"
//!           | "DrvWithVersion(" '"xp-dyn-drv"' "," body ")"   ; Nix's dynamic derivations
//! body      = outputs "," inputDrvs "," inputSrcs "," str "," str "," strList "," env
//! outputs   = "[" [ output { "," output } ] "]"
//! output    = "(" str "," str "," str "," str ")"      ; name, path, hashAlgo, hash
//! inputDrvs = "[" [ inDrv { "," inDrv } ] "]"
//! inDrv     = "(" str "," node ")"                      ; .drv path, outputs used
//! node      = strList                                   ; output names
//!           | "(" strList "," "[" [ child { "," child } ] "]" ")"   ; versioned form only
//! child     = "(" str "," node ")"                      ; an output, and outputs of it
//! inputSrcs = strList
//! strList   = "[" [ str { "," str } ] "]"
//! env       = "[" [ pair { "," pair } ] "]"
//! pair      = "(" str "," str ")"
//! str       = '"' { byte | "\" byte } '"'
//! ```
//!
//! There is no whitespace and no trailing newline. The fields after the inputs
//! are the system, the builder, the arguments and the environment. The
//! versioned form exists for inputs that use outputs of outputs (an output
//! that is itself a derivation); the writer uses it exactly when some input
//! does, as Nix does. What each output's fields mean is in
//! [`output`](super::output).
//!
//! # Strings
//!
//! The writer escapes exactly `"` `\` LF CR TAB (as `\"` `\\` `\n` `\r` `\t`)
//! and passes every other byte through, as the Guix daemon does. The reader
//! turns `\n`, `\r`, `\t` into LF, CR, TAB and `\x` into `x` for any other `x`.
//!
//! # Strictness
//!
//! The reader rejects what the daemon would silently accept and then write
//! differently: bytes after the final `)`, a repeated output name, input,
//! source, output name of an input, or environment variable, and an output
//! whose fields make no output kind (Nix's `parseOutput` rules: a floating
//! or impure output with a path, a fixed output without one, an unknown
//! hash algorithm, a hash that does not decode; and a hash without an
//! algorithm, which Nix would drop). Paths must be in the given store
//! directory. Whether a fixed output's path is the one its hash gives needs
//! the derivation's name, which the text does not hold:
//! [`Derivation::check_fixed_paths`] checks it. It accepts lists in any order (Nix's own test
//! data has unsorted inputs); the writer always sorts them, so such a file does
//! not round-trip, which is what a byte comparison then reports (or, without
//! writing anything, [`DerivationRef::is_canonical`]).

use super::borrowed::DerivationRef;
use super::{Derivation, DynamicOutputs};
use crate::store_path::{StoreDir, StorePath, StorePathError};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The one format version of `DrvWithVersion(…)`: Nix's dynamic
/// derivations (experimental feature `dynamic-derivations`).
pub const DYNAMIC_VERSION: &str = "xp-dyn-drv";

/// How deep outputs of outputs may nest in the versioned form (Nix sets no
/// bound; a bound keeps hostile input from exhausting the stack).
pub const MAX_DYNAMIC_DEPTH: usize = 64;

/// Where and why a `.drv` text does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at byte {offset}: {kind}")]
pub struct ParseError {
    /// Byte offset in the input where the problem was found.
    pub offset: usize,
    /// What was wrong there.
    pub kind: ParseErrorKind,
}

/// The kinds of [`ParseError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// Something else than the expected token.
    #[error("expected {expected}, found {}", Found(*.found))]
    Expected {
        /// What the grammar required here.
        expected: &'static str,
        /// The byte found, or `None` at the end of the input.
        found: Option<u8>,
    },
    /// The input ended inside a string.
    #[error("unterminated string: the text ends before its closing `\"`")]
    UnterminatedString,
    /// A `DrvWithVersion(…)` of another version than `xp-dyn-drv`.
    #[error(
        "unknown derivation format version `{0}` (the only one is `xp-dyn-drv`, Nix's dynamic derivations)"
    )]
    UnknownVersion(String),
    /// Outputs of outputs in a text without the versioned form.
    #[error(
        "an input uses outputs of its outputs (Nix's dynamic derivations), which needs the `DrvWithVersion(\"xp-dyn-drv\",…)` form, not `Derive(`"
    )]
    DynamicWithoutVersion,
    /// Outputs of outputs nested too deep.
    #[error("outputs of outputs are nested more than {MAX_DYNAMIC_DEPTH} deep")]
    TooDeep,
    /// An output whose fields make no output kind.
    #[error("output `{output}`: {error}")]
    BadOutput {
        /// The output's name.
        output: String,
        /// What is wrong.
        error: super::output::OutputError,
    },
    /// A field that must be text is not UTF-8.
    #[error("{field} is not valid UTF-8")]
    InvalidUtf8 {
        /// Which field.
        field: &'static str,
    },
    /// A path that is not a valid store path of the store directory.
    #[error("invalid store path in {field}: {source}")]
    BadStorePath {
        /// Which field.
        field: &'static str,
        /// Why the path is invalid.
        source: StorePathError,
    },
    /// An input derivation path that does not end in `.drv`.
    #[error("input derivation `{0}` does not end in `.drv`")]
    NotADerivation(String),
    /// A key that appears twice.
    #[error("duplicate {what} `{key}`")]
    Duplicate {
        /// What kind of key (output, input derivation, …).
        what: &'static str,
        /// The repeated key.
        key: String,
    },
    /// Bytes after the final `)`.
    #[error("{0} unexpected byte(s) after the end of the derivation")]
    TrailingBytes(usize),
}

/// Shows a byte for an error message.
struct Found(Option<u8>);

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            None => f.write_str("end of input"),
            Some(b) if b.is_ascii_graphic() || b == b' ' => write!(f, "`{}`", b as char),
            Some(b) => write!(f, "byte 0x{b:02x}"),
        }
    }
}

impl Derivation {
    /// Parses the ATerm text of a `.drv` file whose paths are in `store`:
    /// [`DerivationRef::parse`], the one reader of the grammar, then a copy
    /// into owned maps.
    pub fn parse(store: &StoreDir, input: &[u8]) -> Result<Derivation, ParseError> {
        DerivationRef::parse(store, input).map(|d| d.to_derivation())
    }

    /// The ATerm text of this derivation: the exact bytes of its `.drv` file.
    pub fn to_aterm(&self, store: &StoreDir) -> Vec<u8> {
        let mut out = Vec::with_capacity(4096);
        self.write_aterm(store, &mut out);
        out
    }

    /// Appends the ATerm text of this derivation to `out`: the versioned
    /// form exactly when some input uses outputs of outputs.
    pub fn write_aterm(&self, store: &StoreDir, out: &mut Vec<u8>) {
        let path = |p: &StorePath| store.display(p);
        let outputs: Vec<(&str, String, &str, &str)> = self
            .outputs
            .iter()
            .map(|(name, o)| {
                (
                    name.as_str(),
                    o.path.as_ref().map(path).unwrap_or_default(),
                    o.hash_algo.as_str(),
                    o.hash.as_str(),
                )
            })
            .collect();
        let inputs: Vec<(String, &BTreeSet<String>, Option<&Children>)> = self
            .input_derivations
            .iter()
            .map(|(p, o)| {
                let dynamic = self.dynamic_inputs.get(p).filter(|m| !m.is_empty());
                (path(p), o, dynamic)
            })
            .collect();
        let sources: Vec<String> = self.input_sources.iter().map(path).collect();
        if self.has_dynamic_inputs() {
            out.extend_from_slice(b"DrvWithVersion(");
            write_str(out, DYNAMIC_VERSION.as_bytes());
            out.push(b',');
        } else {
            out.extend_from_slice(b"Derive(");
        }
        write_derive(
            out,
            outputs.iter().map(|(n, p, a, h)| (*n, p.as_str(), *a, *h)),
            inputs.iter().map(|(p, o, d)| (p.as_str(), *o, *d)),
            sources.iter().map(String::as_str),
            self,
            self.environment
                .iter()
                .map(|(k, v)| (k.as_slice(), v.as_slice())),
        );
    }
}

/// The outputs of outputs of one input, by output name.
type Children = BTreeMap<String, DynamicOutputs>;

/// Writes the body of a term and its closing `)`, after the caller wrote
/// `Derive(` (or the versioned header). Used for the `.drv` text and for the
/// masked and "modulo" texts that are hashed, which differ only in what
/// stands for the outputs, the inputs and the environment (and have no
/// outputs of outputs: such a derivation has no modulo text).
pub(crate) fn write_derive<'s>(
    out: &mut Vec<u8>,
    outputs: impl Iterator<Item = (&'s str, &'s str, &'s str, &'s str)>,
    inputs: impl Iterator<Item = (&'s str, &'s BTreeSet<String>, Option<&'s Children>)>,
    sources: impl Iterator<Item = &'s str>,
    drv: &Derivation,
    env: impl Iterator<Item = (&'s [u8], &'s [u8])>,
) {
    out.push(b'[');
    for (i, (name, path, algo, hash)) in outputs.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'(');
        write_str(out, name.as_bytes());
        out.push(b',');
        write_str(out, path.as_bytes());
        out.push(b',');
        write_str(out, algo.as_bytes());
        out.push(b',');
        write_str(out, hash.as_bytes());
        out.push(b')');
    }
    out.extend_from_slice(b"],[");
    for (i, (path, names, dynamic)) in inputs.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'(');
        write_str(out, path.as_bytes());
        out.push(b',');
        write_node(out, names, dynamic);
        out.push(b')');
    }
    out.extend_from_slice(b"],[");
    write_list(out, sources.map(str::as_bytes));
    out.extend_from_slice(b"],");
    write_str(out, drv.system.as_bytes());
    out.push(b',');
    write_str(out, drv.builder.as_bytes());
    out.extend_from_slice(b",[");
    write_list(out, drv.arguments.iter().map(Vec::as_slice));
    out.extend_from_slice(b"],[");
    for (i, (k, v)) in env.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'(');
        write_str(out, k);
        out.push(b',');
        write_str(out, v);
        out.push(b')');
    }
    out.extend_from_slice(b"])");
}

/// An input's outputs: `[names]`, or with outputs of outputs
/// `([names],[(name,node),…])`.
fn write_node(out: &mut Vec<u8>, names: &BTreeSet<String>, dynamic: Option<&Children>) {
    let with_children = dynamic.filter(|d| !d.is_empty());
    if with_children.is_some() {
        out.push(b'(');
    }
    out.push(b'[');
    write_list(out, names.iter().map(|n| n.as_bytes()));
    out.push(b']');
    if let Some(children) = with_children {
        out.extend_from_slice(b",[");
        for (i, (name, node)) in children.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.push(b'(');
            write_str(out, name.as_bytes());
            out.push(b',');
            write_node(out, &node.outputs, Some(&node.dynamic));
            out.push(b')');
        }
        out.extend_from_slice(b"])");
    }
}

fn write_list<'s>(out: &mut Vec<u8>, items: impl Iterator<Item = &'s [u8]>) {
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, item);
    }
}

/// The first byte of `s` that must be escaped. Two SIMD scans (memchr)
/// beat a byte-by-byte test, since most strings have nothing to escape.
fn next_special(s: &[u8]) -> Option<usize> {
    let common = memchr::memchr3(b'"', b'\\', b'\n', s);
    let rare = memchr::memchr2(b'\r', b'\t', &s[..common.unwrap_or(s.len())]);
    rare.or(common)
}

/// Writes a quoted string, escaping `"` `\` LF CR TAB.
pub(super) fn write_str(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    let mut rest = s;
    while let Some(i) = next_special(rest) {
        out.extend_from_slice(&rest[..i]);
        out.extend_from_slice(match rest[i] {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            _ => b"\\t",
        });
        rest = &rest[i + 1..];
    }
    out.extend_from_slice(rest);
    out.push(b'"');
}
