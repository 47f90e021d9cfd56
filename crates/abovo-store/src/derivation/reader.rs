//! The reader of the ATerm grammar (see [`aterm`](super::aterm)): the one
//! implementation, behind [`DerivationRef::parse`] and so behind
//! [`Derivation::parse`](super::Derivation::parse) too. It walks the text
//! once, borrowing every string it can, checks everything the format's
//! strictness asks (see [`borrowed`](super::borrowed)), and notes on the
//! way whether the text is canonical.

use super::DynamicOutputs;
use super::aterm::{DYNAMIC_VERSION, MAX_DYNAMIC_DEPTH, ParseError, ParseErrorKind};
use super::borrowed::{
    DerivationRef, EnvVarRef, InputDerivationRef, OutputNames, OutputRef, StorePathRef, StringList,
};
use super::output::OutputKind;
use crate::store_path::StoreDir;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

type PResult<T> = Result<T, ParseError>;

/// Reads the ATerm text of a `.drv` file whose paths are in `store`.
pub(super) fn read<'a>(store: &StoreDir, input: &'a [u8]) -> PResult<DerivationRef<'a>> {
    Reader {
        input,
        pos: 0,
        store,
        canonical: true,
        dynamic: false,
    }
    .derivation()
}

const STRING: &str = "`\"` (a string)";

/// Reads the string whose opening quote is at `start` in `input`: its
/// contents (borrowed when it has no escape) and the offset after its
/// closing quote. Clears `canonical` on an escape the writer would not
/// write.
pub(super) fn read_string<'a>(
    input: &'a [u8],
    start: usize,
    canonical: &mut bool,
) -> PResult<(Cow<'a, [u8]>, usize)> {
    if input.get(start) != Some(&b'"') {
        return Err(ParseError {
            offset: start,
            kind: ParseErrorKind::Expected {
                expected: STRING,
                found: input.get(start).copied(),
            },
        });
    }
    let unterminated = || ParseError {
        offset: start,
        kind: ParseErrorKind::UnterminatedString,
    };
    let body = start + 1;
    let rest = &input[body..];
    let end = memchr::memchr2(b'"', b'\\', rest).ok_or_else(unterminated)?;
    if rest[end] == b'"' {
        return Ok((Cow::Borrowed(&rest[..end]), body + end + 1));
    }
    let mut out = rest[..end].to_vec();
    let mut i = body + end;
    loop {
        match input.get(i) {
            None => return Err(unterminated()),
            Some(b'"') => return Ok((Cow::Owned(out), i + 1)),
            Some(b'\\') => {
                let &c = input.get(i + 1).ok_or_else(unterminated)?;
                out.push(match c {
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'"' | b'\\' => c,
                    other => {
                        // `\x` reads as `x`, which the writer writes bare.
                        *canonical = false;
                        other
                    }
                });
                i += 2;
            }
            Some(_) => {
                // Copy the run up to the next special byte at once; the byte
                // at `i` is neither, so the run is not empty.
                let run = memchr::memchr2(b'"', b'\\', &input[i..]).unwrap_or(input.len() - i);
                out.extend_from_slice(&input[i..i + run]);
                i += run;
            }
        }
    }
}

/// The reader's state: where it is, and whether the text is canonical so
/// far.
struct Reader<'a, 's> {
    input: &'a [u8],
    pos: usize,
    store: &'s StoreDir,
    canonical: bool,
    /// Whether the text is in the `DrvWithVersion("xp-dyn-drv",…)` form,
    /// where inputs may use outputs of outputs.
    dynamic: bool,
}

impl<'a, 's> Reader<'a, 's> {
    fn fail<T>(&self, offset: usize, kind: ParseErrorKind) -> PResult<T> {
        Err(ParseError { offset, kind })
    }

    fn byte(&mut self, b: u8, expected: &'static str) -> PResult<()> {
        if self.input.get(self.pos) == Some(&b) {
            self.pos += 1;
            return Ok(());
        }
        let found = self.input.get(self.pos).copied();
        self.fail(self.pos, ParseErrorKind::Expected { expected, found })
    }

    /// A multi-byte token, failing at its first byte that differs.
    fn token(&mut self, token: &[u8], expected: &'static str) -> PResult<()> {
        for (i, &b) in token.iter().enumerate() {
            let found = self.input.get(self.pos + i).copied();
            if found != Some(b) {
                return self.fail(self.pos + i, ParseErrorKind::Expected { expected, found });
            }
        }
        self.pos += token.len();
        Ok(())
    }

    /// `"[" [ item { "," item } ] "]"`.
    fn list(&mut self, mut item: impl FnMut(&mut Self) -> PResult<()>) -> PResult<()> {
        self.byte(b'[', "`[`")?;
        if self.input.get(self.pos) == Some(&b']') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            item(self)?;
            match self.input.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(());
                }
                found => {
                    return self.fail(
                        self.pos,
                        ParseErrorKind::Expected {
                            expected: "`,` or `]`",
                            found: found.copied(),
                        },
                    );
                }
            }
        }
    }

    fn string(&mut self) -> PResult<Cow<'a, [u8]>> {
        let (s, end) = read_string(self.input, self.pos, &mut self.canonical)?;
        self.pos = end;
        Ok(s)
    }

    fn text(&mut self, field: &'static str) -> PResult<Cow<'a, str>> {
        let start = self.pos;
        match self.string()? {
            Cow::Borrowed(b) => match std::str::from_utf8(b) {
                Ok(s) => Ok(Cow::Borrowed(s)),
                Err(_) => self.fail(start, ParseErrorKind::InvalidUtf8 { field }),
            },
            Cow::Owned(b) => match String::from_utf8(b) {
                Ok(s) => Ok(Cow::Owned(s)),
                Err(_) => self.fail(start, ParseErrorKind::InvalidUtf8 { field }),
            },
        }
    }

    fn path(&mut self, field: &'static str) -> PResult<StorePathRef<'a>> {
        let start = self.pos;
        let parsed = match self.text(field)? {
            Cow::Borrowed(s) => StorePathRef::parse(self.store, s),
            Cow::Owned(s) => StorePathRef::parse(self.store, &s).map(StorePathRef::into_owned),
        };
        parsed.or_else(|source| self.fail(start, ParseErrorKind::BadStorePath { field, source }))
    }

    fn output(&mut self) -> PResult<OutputRef<'a>> {
        let start = self.pos;
        self.byte(b'(', "`(`")?;
        let name = self.text("output name")?;
        self.byte(b',', "`,`")?;
        let path = if self.input.get(self.pos..self.pos + 2) == Some(b"\"\"") {
            self.pos += 2;
            None
        } else {
            Some(self.path("output path")?)
        };
        self.byte(b',', "`,`")?;
        let hash_algo = self.text("output hash algorithm")?;
        self.byte(b',', "`,`")?;
        let hash = self.text("output hash")?;
        self.byte(b')', "`)`")?;
        if let Err(error) = OutputKind::classify(path.is_some(), &hash_algo, &hash) {
            return self.fail(
                start,
                ParseErrorKind::BadOutput {
                    output: name.into_owned(),
                    error,
                },
            );
        }
        Ok(OutputRef {
            name,
            path,
            hash_algo,
            hash,
        })
    }

    fn input_derivation(&mut self) -> PResult<InputDerivationRef<'a>> {
        self.byte(b'(', "`(`")?;
        let at = self.pos;
        let path = self.path("input derivation")?;
        if !path.is_derivation() {
            return self.fail(at, ParseErrorKind::NotADerivation(path.display(self.store)));
        }
        self.byte(b',', "`,`")?;
        let mut dynamic = BTreeMap::new();
        let nested = self.input.get(self.pos) == Some(&b'(');
        if nested {
            if !self.dynamic {
                return self.fail(self.pos, ParseErrorKind::DynamicWithoutVersion);
            }
            self.pos += 1;
        }
        let start = self.pos;
        let mut len = 0;
        let mut previous: Option<Cow<'a, str>> = None;
        let mut ordered = true;
        self.list(|r| {
            let name = r.text("input output name")?;
            if let Some(p) = &previous {
                ordered &= *p < name;
            }
            previous = Some(name);
            len += 1;
            Ok(())
        })?;
        let outputs = OutputNames(StringList {
            raw: &self.input[start..self.pos],
            len,
        });
        if nested {
            self.byte(b',', "`,`")?;
            dynamic = self.dynamic_children(1)?;
            self.byte(b')', "`)`")?;
            // The writer writes an input without outputs of outputs in the
            // plain form.
            self.canonical &= !dynamic.is_empty();
        }
        self.byte(b')', "`)`")?;
        if !ordered {
            self.canonical = false;
            self.reject_repeats(
                start,
                outputs.iter(),
                false,
                |r| r.string().map(drop),
                "output name of an input",
                |k| k.to_string(),
            )?;
        }
        Ok(InputDerivationRef {
            path,
            outputs,
            dynamic,
        })
    }

    /// The outputs of outputs of an input (Nix's dynamic derivations):
    /// `"[" { "(" str "," node ")" } "]"`, where a node is a string list
    /// or `"(" strList "," children ")"`, nested at most
    /// [`MAX_DYNAMIC_DEPTH`] deep.
    fn dynamic_children(&mut self, depth: usize) -> PResult<BTreeMap<String, DynamicOutputs>> {
        if depth > MAX_DYNAMIC_DEPTH {
            return self.fail(self.pos, ParseErrorKind::TooDeep);
        }
        let mut children = BTreeMap::new();
        let mut previous: Option<String> = None;
        self.list(|r| {
            r.byte(b'(', "`(`")?;
            let at = r.pos;
            let name = r.text("output name")?.into_owned();
            r.byte(b',', "`,`")?;
            let node = r.dynamic_node(depth + 1)?;
            r.byte(b')', "`)`")?;
            if previous.as_ref().is_some_and(|p| *p >= name) {
                r.canonical = false;
            }
            if children.contains_key(&name) {
                return r.fail(
                    at,
                    ParseErrorKind::Duplicate {
                        what: "output of an output",
                        key: name,
                    },
                );
            }
            previous = Some(name.clone());
            children.insert(name, node);
            Ok(())
        })?;
        Ok(children)
    }

    /// One node of [`Reader::dynamic_children`].
    fn dynamic_node(&mut self, depth: usize) -> PResult<DynamicOutputs> {
        let nested = self.input.get(self.pos) == Some(&b'(');
        if nested {
            self.pos += 1;
        }
        let mut outputs = BTreeSet::new();
        let mut previous: Option<String> = None;
        self.list(|r| {
            let at = r.pos;
            let name = r.text("output name")?.into_owned();
            if previous.as_ref().is_some_and(|p| *p >= name) {
                r.canonical = false;
            }
            if outputs.contains(&name) {
                return r.fail(
                    at,
                    ParseErrorKind::Duplicate {
                        what: "output name of an output",
                        key: name,
                    },
                );
            }
            previous = Some(name.clone());
            outputs.insert(name);
            Ok(())
        })?;
        let mut dynamic = BTreeMap::new();
        if nested {
            self.byte(b',', "`,`")?;
            dynamic = self.dynamic_children(depth)?;
            self.byte(b')', "`)`")?;
            self.canonical &= !dynamic.is_empty();
        }
        Ok(DynamicOutputs { outputs, dynamic })
    }

    fn env_var(&mut self) -> PResult<EnvVarRef<'a>> {
        self.byte(b'(', "`(`")?;
        let key = self.string()?;
        self.byte(b',', "`,`")?;
        let value = self.string()?;
        self.byte(b')', "`)`")?;
        Ok((key, value))
    }

    /// Fails on the first key (in document order) that repeats an earlier
    /// one, at the offset of that key. `keys` are those of the list whose
    /// `[` is at `list`; its items are read again with `item` to find the
    /// offset, which only happens for a list out of order. `tuple` tells
    /// that the key follows the item's `(`.
    #[cold]
    fn reject_repeats<K: Ord>(
        &self,
        list: usize,
        keys: impl Iterator<Item = K>,
        tuple: bool,
        item: impl Fn(&mut Reader<'a, 's>) -> PResult<()>,
        what: &'static str,
        show: impl Fn(&K) -> String,
    ) -> PResult<()> {
        let mut seen = BTreeSet::new();
        for (index, key) in keys.enumerate() {
            if seen.contains(&key) {
                let mut r = Reader {
                    input: self.input,
                    pos: list + 1,
                    store: self.store,
                    canonical: true,
                    dynamic: self.dynamic,
                };
                for _ in 0..index {
                    if item(&mut r).is_err() {
                        break;
                    }
                    r.pos += 1;
                }
                return self.fail(
                    r.pos + usize::from(tuple),
                    ParseErrorKind::Duplicate {
                        what,
                        key: show(&key),
                    },
                );
            }
            seen.insert(key);
        }
        Ok(())
    }

    /// A list whose items have keys (outputs, inputs, sources, the
    /// environment): its items in the order of the text, and its span. Keys
    /// out of strictly increasing order make the text not canonical, and a
    /// repeated key is an error at its second occurrence. `tuple` tells
    /// that an item's key follows its `(`.
    fn keyed_list<T, K: Ord + ?Sized>(
        &mut self,
        item: impl Fn(&mut Self) -> PResult<T>,
        key: impl Fn(&T) -> &K,
        tuple: bool,
        what: &'static str,
        show: impl Fn(&K) -> String,
    ) -> PResult<(Vec<T>, Range<usize>)> {
        let start = self.pos;
        let mut items = Vec::new();
        self.list(|r| {
            items.push(item(r)?);
            Ok(())
        })?;
        if !items.windows(2).all(|w| key(&w[0]) < key(&w[1])) {
            self.canonical = false;
            self.reject_repeats(
                start,
                items.iter().map(&key),
                tuple,
                |r| item(r).map(drop),
                what,
                |k| show(k),
            )?;
        }
        Ok((items, start..self.pos))
    }

    fn derivation(mut self) -> PResult<DerivationRef<'a>> {
        let store = self.store;
        self.header()?;
        let (outputs, outputs_span) =
            self.keyed_list(Self::output, |o| &*o.name, true, "output", str::to_owned)?;
        self.byte(b',', "`,`")?;
        let (input_derivations, inputs_span) = self.keyed_list(
            Self::input_derivation,
            |i| &i.path,
            true,
            "input derivation",
            |k| k.display(store),
        )?;
        self.byte(b',', "`,`")?;
        let (input_sources, _) = self.keyed_list(
            |r| r.path("input source"),
            |p| p,
            false,
            "input source",
            |k| k.display(store),
        )?;
        self.byte(b',', "`,`")?;
        let system = self.text("system")?;
        self.byte(b',', "`,`")?;
        let builder = self.text("builder")?;
        self.byte(b',', "`,`")?;

        let start = self.pos;
        let mut len = 0;
        self.list(|r| {
            r.string()?;
            len += 1;
            Ok(())
        })?;
        let arguments = StringList {
            raw: &self.input[start..self.pos],
            len,
        };
        self.byte(b',', "`,`")?;

        let (environment, _) = self.keyed_list(
            Self::env_var,
            |(k, _)| &**k,
            true,
            "environment variable",
            |k| String::from_utf8_lossy(k).into_owned(),
        )?;
        self.byte(b')', "`)`")?;
        if self.pos != self.input.len() {
            return self.fail(
                self.pos,
                ParseErrorKind::TrailingBytes(self.input.len() - self.pos),
            );
        }
        // The writer escapes LF, CR and TAB, so a raw one (which can only
        // sit inside a string) is not canonical.
        let canonical =
            self.canonical && memchr::memchr3(b'\n', b'\r', b'\t', self.input).is_none();
        // The writer uses the versioned form exactly when some input uses
        // outputs of outputs.
        let canonical =
            canonical && self.dynamic == input_derivations.iter().any(|i| !i.dynamic.is_empty());
        Ok(DerivationRef {
            outputs,
            input_derivations,
            input_sources,
            system,
            builder,
            arguments,
            environment,
            bytes: self.input,
            outputs_span,
            inputs_span,
            canonical,
        })
    }

    /// `Derive(`, or `DrvWithVersion("xp-dyn-drv",` (Nix's dynamic
    /// derivations; no other version exists).
    fn header(&mut self) -> PResult<()> {
        const EXPECTED: &str = "`Derive(` or `DrvWithVersion(`";
        if self.input.starts_with(b"DrvWithVersion(") {
            self.pos = "DrvWithVersion(".len();
            let at = self.pos;
            let version = self.text("format version")?;
            if version != DYNAMIC_VERSION {
                return self.fail(at, ParseErrorKind::UnknownVersion(version.into_owned()));
            }
            self.byte(b',', "`,`")?;
            self.dynamic = true;
            return Ok(());
        }
        self.token(b"Derive(", EXPECTED)
    }
}
