//! The ATerm text of `.drv` files: the grammar, the reader's errors and a
//! byte-exact writer. The reader itself is [`DerivationRef::parse`] (in
//! [`borrowed`](super::borrowed)), which [`Derivation::parse`] builds on.
//!
//! # Grammar
//!
//! ```text
//! drv       = "Derive(" outputs "," inputDrvs "," inputSrcs "," str "," str "," strList "," env ")"
//! outputs   = "[" [ output { "," output } ] "]"
//! output    = "(" str "," str "," str "," str ")"      ; name, path, hashAlgo, hash
//! inputDrvs = "[" [ inDrv { "," inDrv } ] "]"
//! inDrv     = "(" str "," strList ")"                   ; .drv path, output names
//! inputSrcs = strList
//! strList   = "[" [ str { "," str } ] "]"
//! env       = "[" [ pair { "," pair } ] "]"
//! pair      = "(" str "," str ")"
//! str       = '"' { byte | "\" byte } '"'
//! ```
//!
//! There is no whitespace and no trailing newline. The fields after the inputs
//! are the system, the builder, the arguments and the environment.
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
//! source, output name of an input, or environment variable. Paths must be in
//! the given store directory. It accepts lists in any order (Nix's own test
//! data has unsorted inputs); the writer always sorts them, so such a file does
//! not round-trip, which is what a byte comparison then reports (or, without
//! writing anything, [`DerivationRef::is_canonical`]).

use super::Derivation;
use super::borrowed::DerivationRef;
use crate::store_path::{StoreDir, StorePath, StorePathError};
use std::collections::BTreeSet;
use std::fmt;

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
    #[error("unterminated string")]
    UnterminatedString,
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

    /// Appends the ATerm text of this derivation to `out`.
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
        let inputs: Vec<(String, &BTreeSet<String>)> = self
            .input_derivations
            .iter()
            .map(|(p, o)| (path(p), o))
            .collect();
        let sources: Vec<String> = self.input_sources.iter().map(path).collect();
        write_derive(
            out,
            outputs.iter().map(|(n, p, a, h)| (*n, p.as_str(), *a, *h)),
            inputs.iter().map(|(p, o)| (p.as_str(), *o)),
            sources.iter().map(String::as_str),
            self,
            self.environment
                .iter()
                .map(|(k, v)| (k.as_slice(), v.as_slice())),
        );
    }
}

/// Writes a `Derive(…)` term from its parts. Used for the `.drv` text and for
/// the masked and "modulo" texts that are hashed, which differ only in what
/// stands for the outputs, the inputs and the environment.
pub(crate) fn write_derive<'s>(
    out: &mut Vec<u8>,
    outputs: impl Iterator<Item = (&'s str, &'s str, &'s str, &'s str)>,
    inputs: impl Iterator<Item = (&'s str, &'s BTreeSet<String>)>,
    sources: impl Iterator<Item = &'s str>,
    drv: &Derivation,
    env: impl Iterator<Item = (&'s [u8], &'s [u8])>,
) {
    out.extend_from_slice(b"Derive([");
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
    for (i, (path, names)) in inputs.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'(');
        write_str(out, path.as_bytes());
        out.extend_from_slice(b",[");
        write_list(out, names.iter().map(|n| n.as_bytes()));
        out.extend_from_slice(b"])");
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
