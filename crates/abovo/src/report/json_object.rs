//! A JSON object written field by field, byte for byte as
//! [`super::json::write`] writes a struct with those fields, so that a
//! large array field can be rendered on every core: the derivation graph
//! of python-pytorch is 10 MB of JSON (4,063 nodes, 42,473 edges), and
//! writing it on one core was most of the query's time.
//!
//! A large array is cut into chunks of consecutive elements. Each chunk is
//! written as an array of its own, at the depth of the whole array, into a
//! buffer; the chunks are then joined in order. A chunk's elements are
//! laid out as in the whole array (the layout depends only on the depth),
//! so the joins only drop the brackets around each chunk and put a comma
//! between two chunks. The chunks are rendered on every core and written
//! in order by one thread (`report::in_order`), a few chunks ahead at
//! most, in buffers used again from chunk to chunk: the memory (and the
//! page faults of touching it first) stays at a few hundred KiB whatever
//! the size of the answer, and the answer goes out in writes of a chunk
//! (about 120 KiB) each.
//!
//! A chunk of large elements is written by hand as objects of their own
//! ([`Object::array_in_chunks`], as for the seeds of a trust report): an
//! element's fields from a struct ([`Object::flatten`], as
//! `#[serde(flatten)]` writes them) and from pieces rendered once and
//! copied ([`Object::field_with`]).

use super::in_order::render_in_order;
use super::json::{INDENT, InlineNumbers, indent};
use serde::Serialize;
use std::io::{self, Write};

/// Elements in a chunk (about 120 KiB of JSON for nodes or edges of a
/// derivation graph). An array no longer than this is written on the
/// calling thread, so small answers never start the thread pool.
const CHUNK: usize = 512;

pub use super::in_order::Chunking;

/// A JSON object being written (see the module docs): [`Object::field`]
/// and [`Object::array`] add its fields in order, [`Object::end`] closes
/// it.
pub struct Object<'w, W: Write> {
    out: &'w mut W,
    /// How deep the object is (0 for a whole document).
    depth: usize,
    /// Whether no field is written yet.
    empty: bool,
}

impl<'w, W: Write> Object<'w, W> {
    /// Opens an object `depth` levels deep in its document (0: the
    /// document is this object).
    pub fn new(out: &'w mut W, depth: usize) -> io::Result<Self> {
        out.write_all(b"{")?;
        Ok(Object {
            out,
            depth,
            empty: true,
        })
    }

    /// Writes the key of the next field, and what comes before it.
    fn key(&mut self, key: &str) -> io::Result<()> {
        self.out
            .write_all(if self.empty { b"\n" } else { b",\n" })?;
        self.empty = false;
        indent(self.out, self.depth + 1)?;
        // Keys are escaped as every string is, whatever the layout.
        super::json::write_str(&mut *self.out, key)?;
        self.out.write_all(b": ")
    }

    /// Adds the field `key: VALUE`, VALUE written by `value(out, depth)`
    /// as [`super::json::write`] would write it `depth` levels deep: for a
    /// value made of pieces rendered once and copied.
    pub fn field_with(
        &mut self,
        key: &str,
        value: impl FnOnce(&mut W, usize) -> io::Result<()>,
    ) -> io::Result<()> {
        self.key(key)?;
        value(self.out, self.depth + 1)
    }

    /// Adds the field `key: "value"`, a string (as [`Object::field`]
    /// writes it, without serde: see [`super::json::write_str`]).
    pub fn field_str(&mut self, key: &str, value: &str) -> io::Result<()> {
        self.key(key)?;
        super::json::write_str(&mut *self.out, value)
    }

    /// Adds the field `key: value`.
    pub fn field<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> io::Result<()> {
        self.key(key)?;
        super::json::write_at(&mut *self.out, value, self.depth + 1)?;
        Ok(())
    }

    /// Adds the field `key: [element(item), …]`, the elements rendered on
    /// every core when there are many (see the module docs). Elements are
    /// objects, arrays or strings: one to a line (an array of numbers
    /// would be written on one line, and is never large enough to need
    /// this).
    pub fn array<T, E>(
        &mut self,
        key: &str,
        items: &[T],
        element: impl Fn(&T) -> E + Sync,
    ) -> io::Result<()>
    where
        T: Sync,
        E: Serialize,
    {
        self.array_with(key, items, |out, depth, chunk| {
            let mut ser =
                serde_json::Serializer::with_formatter(out, InlineNumbers::at_depth(depth));
            serde::Serializer::collect_seq(&mut ser, chunk.iter().map(&element))?;
            Ok(())
        })
    }

    /// [`Object::array`] with each chunk written by `write_chunk(out,
    /// depth, chunk)`, which appends to `out` the array of `chunk`'s
    /// elements as [`super::json::write`] would write it `depth` levels
    /// deep, elements one to a line: for elements faster written by hand
    /// than serialized.
    pub fn array_with<T: Sync>(
        &mut self,
        key: &str,
        items: &[T],
        write_chunk: impl Fn(&mut Vec<u8>, usize, &[T]) -> io::Result<()> + Sync,
    ) -> io::Result<()> {
        let chunking = Chunking {
            per_chunk: CHUNK,
            parallel_from: CHUNK + 1,
        };
        self.array_in_chunks(key, items, chunking, write_chunk)
    }

    /// [`Object::array_with`] cut as `chunking` says: for elements much
    /// larger than a graph's nodes and edges (a chunk's buffer starts with
    /// room for about 120 KiB).
    pub fn array_in_chunks<T: Sync>(
        &mut self,
        key: &str,
        items: &[T],
        chunking: Chunking,
        write_chunk: impl Fn(&mut Vec<u8>, usize, &[T]) -> io::Result<()> + Sync,
    ) -> io::Result<()> {
        self.key(key)?;
        let depth = self.depth + 1;
        let render = |out: &mut Vec<u8>, chunk: &[T]| write_chunk(out, depth, chunk);
        let per_chunk = chunking.per_chunk.max(1);
        let threads = chunking.threads(items.len());
        if items.len() <= per_chunk {
            let mut out = Vec::new();
            render(&mut out, items)?;
            return self.out.write_all(&out);
        }
        self.out.write_all(b"[")?;
        // What ends each chunk's array: a new line, the indent, `]`.
        let closing = 1 + INDENT * depth + 1;
        let mut first = true;
        render_in_order(items, per_chunk, threads, &render, |chunk| {
            debug_assert!(chunk.starts_with(b"[\n") && chunk.ends_with(b"]"));
            // `[`, then a new line, the indent and the first element, …
            let elements = &chunk[1..chunk.len() - closing];
            if !first {
                self.out.write_all(b",")?;
            }
            first = false;
            self.out.write_all(elements)
        })?;
        self.out.write_all(b"\n")?;
        indent(self.out, depth)?;
        self.out.write_all(b"]")
    }

    /// Closes the object.
    pub fn end(self) -> io::Result<()> {
        if !self.empty {
            self.out.write_all(b"\n")?;
            indent(self.out, self.depth)?;
        }
        self.out.write_all(b"}")
    }
}

impl Object<'_, Vec<u8>> {
    /// Adds the fields of `value`, a struct or a map, as
    /// `#[serde(flatten)]` would: `value` is written as an object at this
    /// object's depth, and its fields are kept without its braces.
    pub fn flatten<T: Serialize + ?Sized>(&mut self, value: &T) -> io::Result<()> {
        let start = self.out.len();
        super::json::write_at(&mut *self.out, value, self.depth)?;
        // `{}`, or `{`, the fields each after a new line, then a new
        // line, the indent and `}`.
        let written = &self.out[start..];
        if written == b"{}" {
            self.out.truncate(start);
            return Ok(());
        }
        let closing = 1 + INDENT * self.depth + 1;
        if !(written.starts_with(b"{\n") && written.ends_with(b"}") && written.len() > closing) {
            self.out.truncate(start);
            return Err(io::Error::other("only an object's fields can be flattened"));
        }
        self.out.truncate(self.out.len() - closing);
        // The `{` goes: the first field's new line is the one `key` writes,
        // after a comma unless it is the first field.
        if self.empty {
            self.out.remove(start);
        } else {
            self.out[start] = b',';
        }
        self.empty = false;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use serde_json::json;

    /// An object with an array of `n` objects, written field by field and
    /// whole: the bytes are the same, across every chunk and round
    /// boundary the sizes below cross.
    #[test]
    fn fields_and_chunks_are_written_as_the_whole_object() {
        for n in [
            0,
            1,
            CHUNK - 1,
            CHUNK,
            CHUNK + 1,
            3 * CHUNK,
            5 * CHUNK + 7,
            40 * CHUNK + 3,
        ] {
            let items: Vec<u64> = (0..n as u64).collect();
            let element = |&i: &u64| json!({"id": i, "name": format!("n\"{i}"), "uses": [i, i + 1], "tags": ["a"], "none": {}});
            let whole = json!({
                "title": "t",
                "counts": [n, 2],
                "nested": {"deep": [{"x": []}]},
                "items": items.iter().map(element).collect::<Vec<_>>(),
                "after": "end",
            });
            let mut expected = Vec::new();
            crate::report::json::write(&mut expected, &whole).unwrap();

            let mut out = Vec::new();
            let mut obj = Object::new(&mut out, 0).unwrap();
            obj.field("title", "t").unwrap();
            obj.field("counts", &[n, 2]).unwrap();
            obj.field("nested", &whole["nested"]).unwrap();
            obj.array("items", &items, element).unwrap();
            obj.field("after", "end").unwrap();
            obj.end().unwrap();
            assert_eq!(
                String::from_utf8(out).unwrap(),
                String::from_utf8(expected).unwrap(),
                "{n} items"
            );
        }
    }

    /// Flattened structs and maps give the bytes of the object with their
    /// fields in its place, first, between others or empty; anything else
    /// is refused and leaves nothing behind.
    #[test]
    fn flattened_fields_are_written_as_the_whole_object() {
        let inner = json!({"a": 1, "b": ["x", {"c": []}], "d": [1, 2]});
        let whole = json!({"a": 1, "b": ["x", {"c": []}], "d": [1, 2], "k": "v", "e": {}});
        for depth in [0, 3] {
            let mut expected = Vec::new();
            crate::report::json::write_at(&mut expected, &whole, depth).unwrap();
            let mut out = Vec::new();
            let mut obj = Object::new(&mut out, depth).unwrap();
            obj.flatten(&json!({})).unwrap();
            obj.flatten(&inner).unwrap();
            obj.flatten(&json!({})).unwrap();
            obj.field("k", "v").unwrap();
            obj.flatten(&json!({"e": {}})).unwrap();
            assert!(obj.flatten(&json!(["not", "an", "object"])).is_err());
            assert!(obj.flatten("text").is_err());
            obj.end().unwrap();
            assert_eq!(
                String::from_utf8(out).unwrap(),
                String::from_utf8(expected).unwrap()
            );
        }
        let mut out = Vec::new();
        let mut obj = Object::new(&mut out, 1).unwrap();
        obj.flatten(&json!({})).unwrap();
        obj.end().unwrap();
        assert_eq!(out, b"{}");
    }

    /// An object with no field is `{}`, deeper objects indent their fields.
    #[test]
    fn empty_and_nested_objects() {
        let mut out = Vec::new();
        Object::new(&mut out, 0).unwrap().end().unwrap();
        assert_eq!(out, b"{}");
        let mut out = Vec::new();
        let mut obj = Object::new(&mut out, 2).unwrap();
        obj.field("a", &[["x"]]).unwrap();
        obj.end().unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\n      \"a\": [\n        [\n          \"x\"\n        ]\n      ]\n    }"
        );
    }
}
