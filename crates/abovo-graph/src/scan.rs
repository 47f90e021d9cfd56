//! A strict, zero-copy reader of `.drv` files for graph loading.
//!
//! Loading a graph needs little of each derivation: outputs, inputs,
//! sources, system, builder, and the environment of fixed-output
//! derivations. [`Derivation::parse`](abovo_store::derivation::Derivation)
//! builds everything, a string and a map node at a time; this reader walks
//! the same grammar (see `abovo_store::derivation::aterm`) over borrowed
//! bytes and keeps only that, which makes loading about twice as fast.
//!
//! It is as strict as the full parser on what it reads: the grammar,
//! trailing bytes, store paths of the store directory, input derivations
//! ending in `.drv`, UTF-8 text fields and repeated keys (outputs, inputs,
//! sources, output names of an input, environment variables) are all
//! errors with a byte offset, of the same [`ParseError`] type. A corpus
//! test checks that both readers give the same record for every `.drv` of
//! Guix 1.5.0.

use crate::build::DrvRecord;
use abovo_store::derivation::{FixedOutput, ParseError, ParseErrorKind};
use abovo_store::store_path::{StoreDir, StorePath};
use std::borrow::Cow;

struct Scanner<'a> {
    input: &'a [u8],
    pos: usize,
    store: &'a StoreDir,
}

type Res<T> = Result<T, ParseError>;

impl<'a> Scanner<'a> {
    fn err<T>(&self, offset: usize, kind: ParseErrorKind) -> Res<T> {
        Err(ParseError { offset, kind })
    }

    fn expected<T>(&self, at: usize, expected: &'static str) -> Res<T> {
        self.err(
            at,
            ParseErrorKind::Expected {
                expected,
                found: self.input.get(at).copied(),
            },
        )
    }

    fn byte(&mut self, b: u8, what: &'static str) -> Res<()> {
        if self.input.get(self.pos) == Some(&b) {
            self.pos += 1;
            Ok(())
        } else {
            self.expected(self.pos, what)
        }
    }

    /// `[`, then items separated by `,`, then `]`.
    fn list(&mut self, mut item: impl FnMut(&mut Self) -> Res<()>) -> Res<()> {
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
                _ => return self.expected(self.pos, "`,` or `]`"),
            }
        }
    }

    /// A quoted string, borrowed when it has no escape.
    fn string(&mut self) -> Res<Cow<'a, [u8]>> {
        let start = self.pos;
        self.byte(b'"', "`\"` (a string)")?;
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
                    let run = memchr::memchr2(b'"', b'\\', &self.input[i..])
                        .unwrap_or(self.input.len() - i);
                    out.extend_from_slice(&self.input[i..i + run]);
                    i += run;
                }
            }
        }
    }

    fn text(&mut self, field: &'static str) -> Res<Cow<'a, str>> {
        let start = self.pos;
        match self.string()? {
            Cow::Borrowed(b) => match std::str::from_utf8(b) {
                Ok(s) => Ok(Cow::Borrowed(s)),
                Err(_) => self.err(start, ParseErrorKind::InvalidUtf8 { field }),
            },
            Cow::Owned(b) => match String::from_utf8(b) {
                Ok(s) => Ok(Cow::Owned(s)),
                Err(_) => self.err(start, ParseErrorKind::InvalidUtf8 { field }),
            },
        }
    }

    fn path(&mut self, field: &'static str) -> Res<StorePath> {
        let start = self.pos;
        let text = self.text(field)?;
        self.store
            .parse(&text)
            .or_else(|source| self.err(start, ParseErrorKind::BadStorePath { field, source }))
    }
}

/// An environment variable with the offset of its name.
type EnvPair<'a> = (usize, Cow<'a, [u8]>, Cow<'a, [u8]>);

/// Rejects a repeated key among `keys` (in document order, with offsets),
/// at the offset of its second occurrence. Keys of canonical `.drv` files
/// are strictly increasing, which one pass confirms.
fn no_repeats<K: Ord>(
    keys: &[(usize, K)],
    what: &'static str,
    show: impl Fn(&K) -> String,
) -> Res<()> {
    if keys.windows(2).all(|w| w[0].1 < w[1].1) {
        return Ok(());
    }
    let mut seen = std::collections::BTreeSet::new();
    for (offset, k) in keys {
        if !seen.insert(k) {
            return Err(ParseError {
                offset: *offset,
                kind: ParseErrorKind::Duplicate { what, key: show(k) },
            });
        }
    }
    Ok(())
}

/// Reads the `.drv` bytes of `path` into the record the graph keeps.
pub(crate) fn scan(
    store: &StoreDir,
    path: StorePath,
    input: &[u8],
) -> Result<DrvRecord, ScanError> {
    let mut s = Scanner {
        input,
        pos: 0,
        store,
    };
    if !input.starts_with(b"Derive(") {
        let at = input
            .iter()
            .zip(b"Derive(")
            .position(|(a, b)| a != b)
            .unwrap_or(input.len());
        return Err(ParseError {
            offset: at,
            kind: ParseErrorKind::Expected {
                expected: "`Derive(`",
                found: input.get(at).copied(),
            },
        }
        .into());
    }
    s.pos = 7;

    // Outputs: (name, path, hashAlgo, hash).
    let mut outputs: Vec<(usize, String, Option<StorePath>, String, String)> = Vec::new();
    s.list(|s| {
        s.byte(b'(', "`(`")?;
        let at = s.pos;
        let name = s.text("output name")?.into_owned();
        s.byte(b',', "`,`")?;
        let path = if s.input.get(s.pos..s.pos + 2) == Some(b"\"\"") {
            s.pos += 2;
            None
        } else {
            Some(s.path("output path")?)
        };
        s.byte(b',', "`,`")?;
        let algo = s.text("output hash algorithm")?.into_owned();
        s.byte(b',', "`,`")?;
        let hash = s.text("output hash")?.into_owned();
        s.byte(b')', "`)`")?;
        outputs.push((at, name, path, algo, hash));
        Ok(())
    })?;
    let keys: Vec<(usize, &str)> = outputs.iter().map(|o| (o.0, o.1.as_str())).collect();
    no_repeats(&keys, "output", |k| k.to_string())?;
    // Fixed-output: exactly one output, `out`, with a hash.
    let fixed = match outputs.as_slice() {
        [(_, name, _, algo, hash)] if name == "out" && !hash.is_empty() => Some(
            FixedOutput::from_fields(algo, hash)
                .map_err(|e| ScanError::BadFixedOutput(e.to_string()))?,
        ),
        _ => None,
    };

    s.byte(b',', "`,`")?;
    let mut inputs: Vec<(usize, StorePath, Vec<String>)> = Vec::new();
    s.list(|s| {
        s.byte(b'(', "`(`")?;
        let at = s.pos;
        let path = s.path("input derivation")?;
        if !path.is_derivation() {
            return s.err(at, ParseErrorKind::NotADerivation(s.store.display(&path)));
        }
        s.byte(b',', "`,`")?;
        let mut names: Vec<(usize, String)> = Vec::new();
        s.list(|s| {
            let at = s.pos;
            names.push((at, s.text("input output name")?.into_owned()));
            Ok(())
        })?;
        s.byte(b')', "`)`")?;
        no_repeats(&names, "output name of an input", String::clone)?;
        let mut names: Vec<String> = exact(names.into_iter().map(|(_, n)| n));
        names.sort_unstable();
        inputs.push((at, path, names));
        Ok(())
    })?;
    let keys: Vec<(usize, &StorePath)> = inputs.iter().map(|i| (i.0, &i.1)).collect();
    no_repeats(&keys, "input derivation", |k| store.display(k))?;

    s.byte(b',', "`,`")?;
    let mut sources: Vec<(usize, StorePath)> = Vec::new();
    s.list(|s| {
        let at = s.pos;
        sources.push((at, s.path("input source")?));
        Ok(())
    })?;
    no_repeats(&sources, "input source", |k| store.display(k))?;

    s.byte(b',', "`,`")?;
    let system = s.text("system")?.into_owned();
    s.byte(b',', "`,`")?;
    let builder = s.text("builder")?.into_owned();
    s.byte(b',', "`,`")?;
    s.list(|s| s.string().map(drop))?;
    s.byte(b',', "`,`")?;
    let mut env: Vec<EnvPair<'_>> = Vec::new();
    s.list(|s| {
        s.byte(b'(', "`(`")?;
        let at = s.pos;
        let key = s.string()?;
        s.byte(b',', "`,`")?;
        let value = s.string()?;
        s.byte(b')', "`)`")?;
        env.push((at, key, value));
        Ok(())
    })?;
    s.byte(b')', "`)`")?;
    if s.pos != input.len() {
        return Err(ParseError {
            offset: s.pos,
            kind: ParseErrorKind::TrailingBytes(input.len() - s.pos),
        }
        .into());
    }
    let keys: Vec<(usize, &[u8])> = env.iter().map(|(at, k, _)| (*at, k.as_ref())).collect();
    no_repeats(&keys, "environment variable", |k| {
        String::from_utf8_lossy(k).into_owned()
    })?;

    let mut sorted_outputs: Vec<(String, Option<StorePath>)> =
        exact(outputs.into_iter().map(|(_, n, p, _, _)| (n, p)));
    sorted_outputs.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let is_output = |k: &[u8]| sorted_outputs.iter().any(|(n, _)| n.as_bytes() == k);
    let kept_env: Vec<(String, String)> = if fixed.is_some() {
        let mut env = env;
        env.sort_unstable_by(|a, b| a.1.cmp(&b.1));
        env.iter()
            .filter(|(_, k, _)| !is_output(k))
            .map(|(_, k, v)| {
                (
                    String::from_utf8_lossy(k).into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                )
            })
            .collect()
    } else {
        Vec::new()
    };
    let mut inputs: Vec<(StorePath, Vec<String>)> =
        exact(inputs.into_iter().map(|(_, p, o)| (p, o)));
    inputs.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut sources: Vec<StorePath> = exact(sources.into_iter().map(|(_, p)| p));
    sources.sort_unstable();
    Ok(DrvRecord {
        path,
        system,
        builder,
        outputs: sorted_outputs,
        fixed,
        env: kept_env,
        inputs,
        sources,
    })
}

/// Collects into a vector of exactly the needed capacity. (`collect` on a
/// mapped `IntoIter` reuses the source allocation, which for the larger
/// scratch tuples here would keep up to twice the memory alive in every
/// record of a graph.)
fn exact<T>(items: impl ExactSizeIterator<Item = T>) -> Vec<T> {
    let mut v = Vec::with_capacity(items.len());
    v.extend(items);
    v
}

/// Why [`scan`] failed.
#[derive(Debug)]
pub(crate) enum ScanError {
    /// The bytes do not parse.
    Parse(ParseError),
    /// A fixed output whose hash does not parse.
    BadFixedOutput(String),
}

impl From<ParseError> for ScanError {
    fn from(e: ParseError) -> Self {
        ScanError::Parse(e)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use abovo_store::derivation::Derivation;

    const GOOD: &str = r#"Derive([("out","/gnu/store/280xcws0xz6c1gx6721jyj2d8j0ly9gz-minimal","","")],[("/gnu/store/00000000000000000000000000000001-dep.drv",["lib","out"])],["/gnu/store/00000000000000000000000000000002-src"],"x86_64-linux","/bin/sh",["-c","echo \"x\""],[("PATH","/bin"),("out","/gnu/store/280xcws0xz6c1gx6721jyj2d8j0ly9gz-minimal")])"#;

    fn path() -> StorePath {
        StorePath::from_base_name("w9krgvil6919s2ghqgx443zb9krx75s6-minimal.drv").unwrap()
    }

    fn both(text: &str) -> (Result<DrvRecord, ScanError>, Result<DrvRecord, String>) {
        let store = StoreDir::default();
        let fast = scan(&store, path(), text.as_bytes());
        let full = Derivation::parse(&store, text.as_bytes())
            .map_err(|e| e.to_string())
            .and_then(|d| DrvRecord::new(path(), d).map_err(|e| e.to_string()));
        (fast, full)
    }

    #[test]
    fn a_good_derivation_reads_like_the_full_parser() {
        let (fast, full) = both(GOOD);
        let fast = fast.unwrap();
        assert_eq!(fast, full.unwrap());
        assert_eq!(fast.inputs[0].1, ["lib", "out"]);
        assert_eq!(fast.sources.len(), 1);
        assert!(
            fast.env.is_empty(),
            "only fixed-output derivations keep their environment"
        );
    }

    #[test]
    fn fixed_outputs_keep_their_environment() {
        let text = r#"Derive([("out","/gnu/store/280xcws0xz6c1gx6721jyj2d8j0ly9gz-x.tar.gz","sha256","0000000000000000000000000000000000000000000000000000000000000000")],[],[],"x86_64-linux","builtin:download",[],[("out","/gnu/store/280xcws0xz6c1gx6721jyj2d8j0ly9gz-x.tar.gz"),("url","https://example.org/x.tar.gz")])"#;
        let (fast, full) = both(text);
        let fast = fast.unwrap();
        assert_eq!(fast, full.unwrap());
        assert!(fast.fixed.is_some());
        assert_eq!(
            fast.env,
            [("url".to_owned(), "https://example.org/x.tar.gz".to_owned())]
        );
    }

    #[test]
    fn malformed_inputs_fail_like_the_full_parser() {
        let cases = [
            GOOD[..GOOD.len() - 1].to_owned(),
            format!("{GOOD} "),
            GOOD.replacen("Derive(", "Derive[", 1),
            GOOD.replacen(
                "[(\"PATH\",\"/bin\"),",
                "[(\"PATH\",\"/bin\"),(\"PATH\",\"/x\"),",
                1,
            ),
            GOOD.replacen("[\"lib\",\"out\"]", "[\"out\",\"out\"]", 1),
            GOOD.replacen(
                "00000000000000000000000000000001-dep.drv",
                "00000000000000000000000000000001-dep",
                1,
            ),
            GOOD.replacen(
                "/gnu/store/00000000000000000000000000000002-src",
                "/nix/store/00000000000000000000000000000002-src",
                1,
            ),
            GOOD.replacen("\"x86_64-linux\"", "\"x86_64-linux", 1),
            String::new(),
        ];
        for text in cases {
            let (fast, full) = both(&text);
            let Err(ScanError::Parse(e)) = fast else {
                panic!("scan accepted {text:?}");
            };
            let full = full.unwrap_err();
            assert_eq!(e.to_string(), full, "{text:?}");
        }
    }
}
