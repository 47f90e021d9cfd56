//! Pretty JSON that keeps arrays of numbers on one line.
//!
//! The audit's JSON lists every package with the ids of its binary seeds:
//! with serde_json's pretty printer each id takes a line of its own, which
//! makes the file several times longer and no easier to read. This
//! formatter writes exactly what the pretty printer writes (two-space
//! indents), except that an array whose first element is a number, a
//! boolean or null is written inline: `"seeds": [0, 3, 7]`. Every JSON
//! answer of the CLI is written with it ([`crate::output::print_json`], or
//! field by field by [`crate::report::json_object`], which lays out each
//! field as this formatter would).

use serde::Serialize;
use serde_json::ser::Formatter;
use std::io::{self, Write};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// No element yet.
    Undecided,
    /// Elements on one line.
    Inline,
    /// One element per line.
    Block,
}

#[derive(Debug)]
enum Frame {
    Array(Layout),
    Object { has_keys: bool },
}

/// Spaces an indent level has.
pub(crate) const INDENT: usize = 2;

/// Writes the indent of `depth` levels: what the formatter writes before
/// a line's value, and what [`crate::report::json_object`] writes by hand.
pub fn indent(out: &mut (impl Write + ?Sized), depth: usize) -> io::Result<()> {
    const SPACES: &[u8] = b"                                ";
    let mut left = INDENT * depth;
    while left > 0 {
        let n = left.min(SPACES.len());
        out.write_all(&SPACES[..n])?;
        left -= n;
    }
    Ok(())
}

/// Writes `s` as a JSON string, escaped byte for byte as serde_json
/// escapes it: copied whole when no byte needs escaping (store paths,
/// names and URLs, nearly always), through serde_json otherwise. (Its
/// escaping looks at each byte in turn; this test looks at many at once,
/// and a large report writes megabytes of such strings.)
pub fn write_str(out: &mut (impl Write + ?Sized), s: &str) -> io::Result<()> {
    // Without an early exit, which lets the loop work on many bytes at once.
    let plain = !s.bytes().fold(false, |escape, b| {
        escape | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if plain {
        out.write_all(b"\"")?;
        out.write_all(s.as_bytes())?;
        out.write_all(b"\"")
    } else {
        Ok(serde_json::to_writer(out, s)?)
    }
}

/// Appends the array of `items` as [`write`](fn@write) writes an array of objects,
/// arrays or strings `depth` levels deep (one element to a line), each
/// element written by `element(out, depth + 1, item)`.
pub fn push_array<T>(
    out: &mut Vec<u8>,
    depth: usize,
    items: impl IntoIterator<Item = T>,
    mut element: impl FnMut(&mut Vec<u8>, usize, T) -> io::Result<()>,
) -> io::Result<()> {
    out.push(b'[');
    let mut empty = true;
    for item in items {
        out.extend_from_slice(if empty { b"\n" } else { b",\n" });
        empty = false;
        indent(out, depth + 1)?;
        element(out, depth + 1, item)?;
    }
    if !empty {
        out.push(b'\n');
        indent(out, depth)?;
    }
    out.push(b']');
    Ok(())
}

/// The formatter (see the module docs).
#[derive(Debug, Default)]
pub struct InlineNumbers {
    stack: Vec<Frame>,
    /// Set by `begin_array_value`: an element is about to be written, and
    /// whether it is the first. The element's first event decides the
    /// array's layout.
    pending: Option<bool>,
}

impl InlineNumbers {
    /// A formatter for a value written `depth` levels deep, as this
    /// formatter lays it out there: what [`crate::report::json_object`]
    /// needs to write an object's fields, or a chunk of an array's
    /// elements, apart from the rest of the document. (The frames only
    /// count levels: a value written from here opens frames of its own
    /// before any element of it asks for its array's layout.)
    pub(crate) fn at_depth(depth: usize) -> Self {
        InlineNumbers {
            stack: (0..depth)
                .map(|_| Frame::Object { has_keys: true })
                .collect(),
            pending: None,
        }
    }

    fn indent<W: ?Sized + Write>(&self, w: &mut W) -> io::Result<()> {
        indent(w, self.stack.len())
    }

    /// Called before every value: writes the separator an array element
    /// needs, deciding the array's layout at its first element.
    fn before_value<W: ?Sized + Write>(&mut self, w: &mut W, scalar: bool) -> io::Result<()> {
        let Some(first) = self.pending.take() else {
            return Ok(());
        };
        let layout = match self.stack.last_mut() {
            Some(Frame::Array(layout)) => {
                if *layout == Layout::Undecided {
                    *layout = if scalar {
                        Layout::Inline
                    } else {
                        Layout::Block
                    };
                }
                *layout
            }
            _ => Layout::Block,
        };
        match layout {
            Layout::Inline => {
                if !first {
                    w.write_all(b", ")?;
                }
                Ok(())
            }
            _ => {
                w.write_all(if first { b"\n" } else { b",\n" })?;
                self.indent(w)
            }
        }
    }
}

macro_rules! scalar {
    ($($name:ident: $ty:ty),* $(,)?) => {$(
        fn $name<W: ?Sized + Write>(&mut self, w: &mut W, value: $ty) -> io::Result<()> {
            self.before_value(w, true)?;
            write!(w, "{value}")
        }
    )*};
}

impl Formatter for InlineNumbers {
    fn write_null<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.before_value(w, true)?;
        w.write_all(b"null")
    }

    fn write_bool<W: ?Sized + Write>(&mut self, w: &mut W, value: bool) -> io::Result<()> {
        self.before_value(w, true)?;
        w.write_all(if value { b"true" } else { b"false" })
    }

    scalar!(
        write_i8: i8, write_i16: i16, write_i32: i32, write_i64: i64, write_i128: i128,
        write_u8: u8, write_u16: u16, write_u32: u32, write_u64: u64, write_u128: u128,
    );

    fn write_f32<W: ?Sized + Write>(&mut self, w: &mut W, value: f32) -> io::Result<()> {
        self.before_value(w, true)?;
        serde_json::ser::CompactFormatter.write_f32(w, value)
    }

    fn write_f64<W: ?Sized + Write>(&mut self, w: &mut W, value: f64) -> io::Result<()> {
        self.before_value(w, true)?;
        serde_json::ser::CompactFormatter.write_f64(w, value)
    }

    fn write_number_str<W: ?Sized + Write>(&mut self, w: &mut W, value: &str) -> io::Result<()> {
        self.before_value(w, true)?;
        w.write_all(value.as_bytes())
    }

    fn begin_string<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.before_value(w, false)?;
        w.write_all(b"\"")
    }

    fn write_raw_fragment<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        self.before_value(w, false)?;
        w.write_all(fragment.as_bytes())
    }

    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.before_value(w, false)?;
        self.stack.push(Frame::Array(Layout::Undecided));
        w.write_all(b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        if let Some(Frame::Array(Layout::Block)) = self.stack.pop() {
            w.write_all(b"\n")?;
            self.indent(w)?;
        }
        w.write_all(b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(&mut self, _w: &mut W, first: bool) -> io::Result<()> {
        self.pending = Some(first);
        Ok(())
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        Ok(())
    }

    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.before_value(w, false)?;
        self.stack.push(Frame::Object { has_keys: false });
        w.write_all(b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        if let Some(Frame::Object { has_keys: true }) = self.stack.pop() {
            w.write_all(b"\n")?;
            self.indent(w)?;
        }
        w.write_all(b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if let Some(Frame::Object { has_keys }) = self.stack.last_mut() {
            *has_keys = true;
        }
        w.write_all(if first { b"\n" } else { b",\n" })?;
        self.indent(w)
    }

    fn end_object_key<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        Ok(())
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        Ok(())
    }
}

/// Writes `value` with [`InlineNumbers`] into `out`.
pub fn write<W: Write, T: Serialize + ?Sized>(out: W, value: &T) -> serde_json::Result<()> {
    write_at(out, value, 0)
}

/// Writes `value` into `out` as [`write`](fn@write) writes it `depth` levels deep
/// in a document (its lines after the first indented as there).
pub fn write_at<W: Write, T: Serialize + ?Sized>(
    out: W,
    value: &T,
    depth: usize,
) -> serde_json::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(out, InlineNumbers::at_depth(depth));
    value.serialize(&mut ser)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    proptest! {
        /// Any string, plain or with quotes, backslashes, control
        /// characters and any other character, is written as serde_json
        /// writes it.
        #[test]
        fn strings_are_escaped_as_serde_escapes_them(
            s in "(\\PC|[\"\\\\\u{0}-\u{1f}\u{7f}/<>&'])*"
        ) {
            let mut ours = Vec::new();
            write_str(&mut ours, &s).unwrap();
            prop_assert_eq!(ours, serde_json::to_vec(&s).unwrap());
        }
    }

    /// The cases the property test may not hit: every byte that serde
    /// escapes alone, at the start, middle and end of a plain string.
    #[test]
    fn every_escaped_character_is_written_as_serde_writes_it() {
        for c in (0u8..0x20).chain([b'"', b'\\']).map(char::from) {
            for s in [
                c.to_string(),
                format!("{c}ab"),
                format!("a{c}b"),
                format!("ab{c}"),
            ] {
                let mut ours = Vec::new();
                write_str(&mut ours, &s).unwrap();
                assert_eq!(ours, serde_json::to_vec(&s).unwrap(), "{s:?}");
            }
        }
    }

    fn render(v: &serde_json::Value) -> String {
        let mut out = Vec::new();
        write(&mut out, v).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn like_the_pretty_printer_but_numbers_inline() {
        let v = json!({
            "a": [1, 2, 3],
            "b": ["x", "y"],
            "c": [],
            "d": {},
            "e": [{"seeds": [0, 4], "name": "hello"}, {"seeds": [], "ok": true}],
            "f": [[1, 2], [3]],
            "g": 1.5,
            "h": null
        });
        let out = render(&v);
        assert_eq!(
            out,
            "{\n  \"a\": [1, 2, 3],\n  \"b\": [\n    \"x\",\n    \"y\"\n  ],\n  \"c\": [],\n  \"d\": {},\n  \
             \"e\": [\n    {\n      \"seeds\": [0, 4],\n      \"name\": \"hello\"\n    },\n    {\n      \"seeds\": [],\n      \"ok\": true\n    }\n  ],\n  \
             \"f\": [\n    [1, 2],\n    [3]\n  ],\n  \"g\": 1.5,\n  \"h\": null\n}"
        );
        // Same value back; and without arrays of numbers, byte for byte the
        // pretty printer's output.
        assert_eq!(serde_json::from_str::<serde_json::Value>(&out).unwrap(), v);
        let plain = json!({"k": ["s", {"t": "u"}], "n": 3, "o": {"p": [], "q": {}}});
        assert_eq!(
            render(&plain),
            serde_json::to_string_pretty(&plain).unwrap()
        );
    }
}
