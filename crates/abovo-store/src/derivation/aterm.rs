//! The ATerm text of `.drv` files: a strict reader and a byte-exact writer.
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
//! not round-trip, which is what a byte comparison then reports.

use super::{Derivation, Output};
use crate::store_path::{StoreDir, StorePath, StorePathError};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
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

struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
    store: &'a StoreDir,
}

impl<'a> Parser<'a> {
    fn err<T>(&self, offset: usize, kind: ParseErrorKind) -> Result<T, ParseError> {
        Err(ParseError { offset, kind })
    }

    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn expect(&mut self, token: &'static str) -> Result<(), ParseError> {
        let bytes = token.as_bytes();
        for (i, &b) in bytes.iter().enumerate() {
            let found = self.input.get(self.pos + i).copied();
            if found != Some(b) {
                return self.err(
                    self.pos + i,
                    ParseErrorKind::Expected {
                        expected: quoted(token),
                        found,
                    },
                );
            }
        }
        self.pos += bytes.len();
        Ok(())
    }

    /// Parses `"[" [ item { "," item } ] "]"`.
    fn list(
        &mut self,
        mut item: impl FnMut(&mut Self) -> Result<(), ParseError>,
    ) -> Result<(), ParseError> {
        self.expect("[")?;
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            item(self)?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(());
                }
                found => {
                    return self.err(
                        self.pos,
                        ParseErrorKind::Expected {
                            expected: "`,` or `]`",
                            found,
                        },
                    );
                }
            }
        }
    }

    /// Parses a quoted string, borrowing when it has no escapes.
    fn string(&mut self) -> Result<Cow<'a, [u8]>, ParseError> {
        let start = self.pos;
        self.expect("\"")?;
        let rest = &self.input[self.pos..];
        let Some(end) = memchr::memchr2(b'"', b'\\', rest) else {
            return self.err(start, ParseErrorKind::UnterminatedString);
        };
        if rest[end] == b'"' {
            self.pos += end + 1;
            return Ok(Cow::Borrowed(&rest[..end]));
        }
        let mut out = rest[..end].to_vec();
        let mut i = self.pos + end;
        loop {
            match self.input.get(i) {
                None => return self.err(start, ParseErrorKind::UnterminatedString),
                Some(b'"') => {
                    self.pos = i + 1;
                    return Ok(Cow::Owned(out));
                }
                Some(b'\\') => {
                    let Some(&c) = self.input.get(i + 1) else {
                        return self.err(start, ParseErrorKind::UnterminatedString);
                    };
                    out.push(match c {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        other => other,
                    });
                    i += 2;
                }
                Some(_) => {
                    // Copy the run up to the next special byte at once; the
                    // byte at `i` is neither, so the run is not empty.
                    let run = memchr::memchr2(b'"', b'\\', &self.input[i..])
                        .unwrap_or(self.input.len() - i);
                    out.extend_from_slice(&self.input[i..i + run]);
                    i += run;
                }
            }
        }
    }

    fn text(&mut self, field: &'static str) -> Result<String, ParseError> {
        let start = self.pos;
        let bytes = self.string()?;
        match bytes {
            Cow::Borrowed(b) => match std::str::from_utf8(b) {
                Ok(s) => Ok(s.to_owned()),
                Err(_) => self.err(start, ParseErrorKind::InvalidUtf8 { field }),
            },
            Cow::Owned(b) => String::from_utf8(b)
                .or_else(|_| self.err(start, ParseErrorKind::InvalidUtf8 { field })),
        }
    }

    fn path(&mut self, field: &'static str) -> Result<StorePath, ParseError> {
        let start = self.pos;
        let bytes = self.string()?;
        let Ok(s) = std::str::from_utf8(&bytes) else {
            return self.err(start, ParseErrorKind::InvalidUtf8 { field });
        };
        self.store
            .parse(s)
            .or_else(|source| self.err(start, ParseErrorKind::BadStorePath { field, source }))
    }

    /// Parses one output; duplicates are checked by the caller.
    fn output(&mut self) -> Result<Keyed<String, Output>, ParseError> {
        self.expect("(")?;
        let name_at = self.pos;
        let name = self.text("output name")?;
        self.expect(",")?;
        let path = if self.input.get(self.pos..self.pos + 2) == Some(b"\"\"") {
            self.pos += 2;
            None
        } else {
            Some(self.path("output path")?)
        };
        self.expect(",")?;
        let hash_algo = self.text("output hash algorithm")?;
        self.expect(",")?;
        let hash = self.text("output hash")?;
        self.expect(")")?;
        Ok((
            name_at,
            name,
            Output {
                path,
                hash_algo,
                hash,
            },
        ))
    }

    /// Parses one input derivation; duplicate inputs are checked by the
    /// caller.
    fn input_derivation(&mut self) -> Result<Keyed<StorePath, BTreeSet<String>>, ParseError> {
        self.expect("(")?;
        let at = self.pos;
        let path = self.path("input derivation")?;
        if !path.is_derivation() {
            return self.err(
                at,
                ParseErrorKind::NotADerivation(self.store.display(&path)),
            );
        }
        self.expect(",")?;
        let mut names = Vec::new();
        self.list(|p| {
            let name_at = p.pos;
            names.push((name_at, p.text("input output name")?, ()));
            Ok(())
        })?;
        self.expect(")")?;
        let names = into_map(names, "output name of an input", |k: &String| k.clone())?
            .into_keys()
            .collect();
        Ok((at, path, names))
    }

    fn derivation(&mut self) -> Result<Derivation, ParseError> {
        let mut drv = Derivation::default();
        self.expect("Derive(")?;
        let mut outputs = Vec::new();
        self.list(|p| {
            outputs.push(p.output()?);
            Ok(())
        })?;
        drv.outputs = into_map(outputs, "output", String::clone)?;
        self.expect(",")?;
        let mut inputs = Vec::new();
        self.list(|p| {
            inputs.push(p.input_derivation()?);
            Ok(())
        })?;
        let store = self.store;
        drv.input_derivations = into_map(inputs, "input derivation", |k| store.display(k))?;
        self.expect(",")?;
        let mut sources = Vec::new();
        self.list(|p| {
            let at = p.pos;
            sources.push((at, p.path("input source")?, ()));
            Ok(())
        })?;
        drv.input_sources = into_map(sources, "input source", |k| store.display(k))?
            .into_keys()
            .collect();
        self.expect(",")?;
        drv.system = self.text("system")?;
        self.expect(",")?;
        drv.builder = self.text("builder")?;
        self.expect(",")?;
        self.list(|p| {
            drv.arguments.push(p.string()?.into_owned());
            Ok(())
        })?;
        self.expect(",")?;
        let mut env = Vec::new();
        self.list(|p| {
            p.expect("(")?;
            let at = p.pos;
            let key = p.string()?.into_owned();
            p.expect(",")?;
            let value = p.string()?.into_owned();
            p.expect(")")?;
            env.push((at, key, value));
            Ok(())
        })?;
        drv.environment = into_map(env, "environment variable", |k: &Vec<u8>| {
            String::from_utf8_lossy(k).into_owned()
        })?;
        self.expect(")")?;
        if self.pos != self.input.len() {
            return self.err(
                self.pos,
                ParseErrorKind::TrailingBytes(self.input.len() - self.pos),
            );
        }
        Ok(drv)
    }
}

/// A parsed map entry with the offset of its key, for error messages.
type Keyed<K, V> = (usize, K, V);

/// Builds a map from entries in document order, rejecting a repeated key at
/// the offset of its second occurrence. Canonical `.drv` files list keys in
/// strictly increasing order, which is checked in one pass and then built
/// in bulk, much faster than inserting one key at a time.
fn into_map<K: Ord, V>(
    entries: Vec<Keyed<K, V>>,
    what: &'static str,
    show: impl Fn(&K) -> String,
) -> Result<BTreeMap<K, V>, ParseError> {
    if entries.windows(2).all(|w| w[0].1 < w[1].1) {
        return Ok(entries.into_iter().map(|(_, k, v)| (k, v)).collect());
    }
    let mut map = BTreeMap::new();
    for (offset, key, value) in entries {
        if map.contains_key(&key) {
            return Err(ParseError {
                offset,
                kind: ParseErrorKind::Duplicate {
                    what,
                    key: show(&key),
                },
            });
        }
        map.insert(key, value);
    }
    Ok(map)
}

fn quoted(token: &'static str) -> &'static str {
    match token {
        "[" => "`[`",
        "]" => "`]`",
        "(" => "`(`",
        ")" => "`)`",
        "," => "`,`",
        "\"" => "`\"` (a string)",
        "Derive(" => "`Derive(`",
        other => other,
    }
}

impl Derivation {
    /// Parses the ATerm text of a `.drv` file whose paths are in `store`.
    pub fn parse(store: &StoreDir, input: &[u8]) -> Result<Derivation, ParseError> {
        Parser {
            input,
            pos: 0,
            store,
        }
        .derivation()
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
fn write_str(out: &mut Vec<u8>, s: &[u8]) {
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
