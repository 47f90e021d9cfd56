//! Derivation hashes straight from canonical `.drv` bytes.
//!
//! The derivation hash "modulo" of an input-addressed derivation is the
//! SHA-256 of its ATerm text with every input derivation path replaced by
//! that input's hash (inputs re-sorted by it); the hash that gives its
//! output paths is the same over the *masked* text, where output paths and
//! the environment variables named after outputs are blank. When a file is
//! known to be canonical (it re-serialises to its own bytes, which
//! [`verify`](crate::verify) checks first), both texts are the file's bytes
//! with a few spans replaced, so they can be spliced together rather than
//! written out from a parsed derivation. `abovo-store`'s
//! `Derivation::hash_modulo` and `check_output_paths` define the rules; the
//! corpus test checks that both ways agree on every Guix 1.5.0 output path.
//!
//! [`Spans::find`] returns `None` for anything unusual (an output without
//! its environment variable, which masking would have to add); callers then
//! use the parsed derivation instead.

use std::ops::Range;

/// Where the parts that hashing replaces sit in a canonical `.drv`.
pub(crate) struct Spans<'a> {
    /// The whole outputs list `[…]`.
    outputs: Range<usize>,
    /// Each output: name, recorded path (text, may be empty), hashAlgo, hash.
    pub(crate) output_fields: Vec<[&'a [u8]; 4]>,
    /// The whole input derivations list `[…]`.
    inputs: Range<usize>,
    /// Each input: its path (text) and the span of its output-names list.
    pub(crate) input_fields: Vec<(&'a [u8], Range<usize>)>,
    /// The value (inside the quotes) of each environment variable named
    /// after an output, with that output's name.
    output_env: Vec<(&'a [u8], Range<usize>)>,
}

/// A cursor over canonical ATerm: strings have no escapes where it matters
/// here (names, paths, hashes), and anything else makes `find` give up.
struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn eat(&mut self, token: &[u8]) -> Option<()> {
        self.b
            .get(self.pos..)?
            .starts_with(token)
            .then(|| self.pos += token.len())
    }

    /// A string without escapes; its contents.
    fn plain(&mut self) -> Option<&'a [u8]> {
        self.eat(b"\"")?;
        let rest = self.b.get(self.pos..)?;
        let end = memchr::memchr2(b'"', b'\\', rest)?;
        if rest[end] != b'"' {
            return None;
        }
        self.pos += end + 1;
        Some(&rest[..end])
    }

    /// Any string (escapes allowed); the span of its contents.
    fn any(&mut self) -> Option<Range<usize>> {
        self.eat(b"\"")?;
        let start = self.pos;
        loop {
            let rest = self.b.get(self.pos..)?;
            let i = memchr::memchr2(b'"', b'\\', rest)?;
            if rest[i] == b'"' {
                self.pos += i + 1;
                return Some(start..self.pos - 1);
            }
            self.pos += i + 2;
        }
    }

    /// `[` items `]`, items separated by `,`.
    fn list(&mut self, mut item: impl FnMut(&mut Self) -> Option<()>) -> Option<Range<usize>> {
        let start = self.pos;
        self.eat(b"[")?;
        if self.eat(b"]").is_some() {
            return Some(start..self.pos);
        }
        loop {
            item(self)?;
            if self.eat(b"]").is_some() {
                return Some(start..self.pos);
            }
            self.eat(b",")?;
        }
    }
}

impl<'a> Spans<'a> {
    /// The spans of a canonical `.drv`, or `None` when splicing does not
    /// apply.
    pub(crate) fn find(b: &'a [u8]) -> Option<Spans<'a>> {
        let mut c = Cursor { b, pos: 0 };
        c.eat(b"Derive(")?;
        let mut output_fields = Vec::new();
        let outputs = c.list(|c| {
            c.eat(b"(")?;
            let name = c.plain()?;
            c.eat(b",")?;
            let path = c.plain()?;
            c.eat(b",")?;
            let algo = c.plain()?;
            c.eat(b",")?;
            let hash = c.plain()?;
            c.eat(b")")?;
            output_fields.push([name, path, algo, hash]);
            Some(())
        })?;
        c.eat(b",")?;
        let mut input_fields = Vec::new();
        let inputs = c.list(|c| {
            c.eat(b"(")?;
            let path = c.plain()?;
            c.eat(b",")?;
            let names = c.list(|c| c.any().map(drop))?;
            c.eat(b")")?;
            input_fields.push((path, names));
            Some(())
        })?;
        c.eat(b",")?;
        c.list(|c| c.any().map(drop))?;
        c.eat(b",")?;
        c.any()?;
        c.eat(b",")?;
        c.any()?;
        c.eat(b",")?;
        c.list(|c| c.any().map(drop))?;
        c.eat(b",")?;
        let mut output_env = Vec::new();
        c.list(|c| {
            c.eat(b"(")?;
            let key = c.any()?;
            c.eat(b",")?;
            let value = c.any()?;
            c.eat(b")")?;
            let key = &b[key];
            if output_fields.iter().any(|f| f[0] == key) {
                output_env.push((key, value));
            }
            Some(())
        })?;
        c.eat(b")")?;
        // Masking adds missing output variables; leave that to the slow way.
        if c.pos != b.len() || output_env.len() != output_fields.len() {
            return None;
        }
        Some(Spans {
            outputs,
            output_fields,
            inputs,
            input_fields,
            output_env,
        })
    }

    /// The unmasked and masked texts, given each input's hash in the order
    /// of `input_fields`.
    pub(crate) fn texts(&self, b: &[u8], input_hashes: &[[u8; 32]]) -> (Vec<u8>, Vec<u8>) {
        // Inputs keyed by the base16 of their hash; on equal keys the later
        // input in path order wins, as in the daemon's map.
        let mut keyed: Vec<(String, Range<usize>)> = self
            .input_fields
            .iter()
            .zip(input_hashes)
            .map(|((_, names), h)| (abovo_store::encoding::base16_encode(h), names.clone()))
            .collect();
        keyed.sort_by(|a, x| a.0.cmp(&x.0));
        let mut inputs = Vec::with_capacity(self.inputs.len());
        inputs.push(b'[');
        let mut first = true;
        for (i, (hex, names)) in keyed.iter().enumerate() {
            if keyed.get(i + 1).is_some_and(|next| &next.0 == hex) {
                continue;
            }
            if !first {
                inputs.push(b',');
            }
            first = false;
            inputs.extend_from_slice(b"(\"");
            inputs.extend_from_slice(hex.as_bytes());
            inputs.extend_from_slice(b"\",");
            inputs.extend_from_slice(&b[names.clone()]);
            inputs.push(b')');
        }
        inputs.push(b']');

        let mut unmasked = Vec::with_capacity(b.len());
        unmasked.extend_from_slice(&b[..self.inputs.start]);
        unmasked.extend_from_slice(&inputs);
        unmasked.extend_from_slice(&b[self.inputs.end..]);

        let mut outputs = Vec::with_capacity(self.outputs.len());
        outputs.push(b'[');
        for (i, [name, _, algo, hash]) in self.output_fields.iter().enumerate() {
            if i > 0 {
                outputs.push(b',');
            }
            for (j, part) in [*name, &b""[..], *algo, *hash].iter().enumerate() {
                outputs.extend_from_slice(if j == 0 { b"(\"" } else { b",\"" });
                outputs.extend_from_slice(part);
                outputs.push(b'"');
            }
            outputs.push(b')');
        }
        outputs.push(b']');
        let mut masked = Vec::with_capacity(b.len());
        masked.extend_from_slice(&b[..self.outputs.start]);
        masked.extend_from_slice(&outputs);
        masked.extend_from_slice(&b[self.outputs.end..self.inputs.start]);
        masked.extend_from_slice(&inputs);
        let mut at = self.inputs.end;
        let mut blanks: Vec<&Range<usize>> = self.output_env.iter().map(|(_, v)| v).collect();
        blanks.sort_by_key(|r| r.start);
        for r in blanks {
            masked.extend_from_slice(&b[at..r.start]);
            at = r.end;
        }
        masked.extend_from_slice(&b[at..]);
        (unmasked, masked)
    }

    /// The recorded value of the environment variable of `output`.
    pub(crate) fn env_value<'b>(&self, b: &'b [u8], output: &[u8]) -> Option<&'b [u8]> {
        self.output_env
            .iter()
            .find(|(k, _)| *k == output)
            .map(|(_, v)| &b[v.clone()])
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use abovo_store::StoreDir;
    use abovo_store::derivation::{Derivation, Output};
    use std::collections::{BTreeMap, BTreeSet};

    fn sp(s: &str) -> abovo_store::StorePath {
        abovo_store::StorePath::from_base_name(s).unwrap()
    }

    /// Both texts equal those `abovo-store` writes from the parsed form,
    /// including inputs whose hashes collide (the later one wins).
    #[test]
    fn spliced_texts_equal_the_written_ones() {
        let store = StoreDir::default();
        let a = sp("0aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-a.drv");
        let b = sp("0bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-b.drv");
        let c = sp("0ccccccccccccccccccccccccccccccc-c.drv");
        let out = sp("1ddddddddddddddddddddddddddddddd-x");
        let lib = sp("1fffffffffffffffffffffffffffffff-x-lib");
        let drv = Derivation {
            outputs: BTreeMap::from([
                (
                    "out".to_owned(),
                    Output {
                        path: Some(out.clone()),
                        ..Output::default()
                    },
                ),
                (
                    "lib".to_owned(),
                    Output {
                        path: Some(lib.clone()),
                        ..Output::default()
                    },
                ),
            ]),
            input_derivations: BTreeMap::from([
                (a.clone(), BTreeSet::from(["out".to_owned()])),
                (
                    b.clone(),
                    BTreeSet::from(["dev".to_owned(), "out".to_owned()]),
                ),
                (c.clone(), BTreeSet::from(["lib".to_owned()])),
            ]),
            input_sources: BTreeSet::from([sp("0sssssssssssssssssssssssssssssss-s")]),
            system: "x86_64-linux".into(),
            builder: "/bin/sh".into(),
            arguments: vec![b"-c".to_vec(), b"echo \"hi\"\n".to_vec()],
            environment: BTreeMap::from([
                (b"lib".to_vec(), store.display(&lib).into_bytes()),
                (b"out".to_vec(), store.display(&out).into_bytes()),
                (b"tab".to_vec(), b"a\tb\\c".to_vec()),
            ]),
        };
        let bytes = drv.to_aterm(&store);
        let hashes = BTreeMap::from([(a, [3u8; 32]), (b, [1u8; 32]), (c, [1u8; 32])]);
        let spans = Spans::find(&bytes).unwrap();
        let ordered: Vec<[u8; 32]> = spans
            .input_fields
            .iter()
            .map(|(p, _)| hashes[&store.parse(std::str::from_utf8(p).unwrap()).unwrap()])
            .collect();
        let (unmasked, masked) = spans.texts(&bytes, &ordered);
        let lookup = |p: &abovo_store::StorePath| Ok(hashes[p]);
        assert_eq!(unmasked, drv.modulo_text(&store, false, lookup).unwrap());
        assert_eq!(masked, drv.modulo_text(&store, true, lookup).unwrap());
        assert_eq!(
            spans.env_value(&bytes, b"lib"),
            Some(store.display(&lib).as_bytes())
        );
        // Without an output's variable, masking would add it: not spliced.
        let mut missing = drv.clone();
        missing.environment.remove(&b"lib"[..]);
        assert!(Spans::find(&missing.to_aterm(&store)).is_none());
    }
}
