//! Reading the tab-separated tables that come with a corpus (`packages.tsv`,
//! `store-meta.tsv`, and the package-level `packages-meta.tsv`,
//! `package-edges.tsv`, `bag-emerged-edges.tsv`), plain or
//! zstd-compressed.
//!
//! A table is streamed line by line, never held whole: a line is at most
//! [`MAX_LINE`] bytes and the whole (decompressed) table at most
//! [`MAX_TABLE`], so that a small compressed file cannot expand into
//! gigabytes in memory. Lines are numbered from 1, the header included.

use crate::error::LoadError;
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};

/// The zstd frame magic number.
pub(crate) const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
/// The longest line a table may have. A store-meta row with its
/// references is a few kilobytes at most.
pub(crate) const MAX_LINE: usize = 64 << 10;
/// The most a table may decompress to (Guix 1.5.0's store metadata is
/// 30 MB).
pub(crate) const MAX_TABLE: u64 = 1 << 30;
/// How many characters of a line or field an error quotes.
const QUOTED: usize = 100;

/// `text` for a message: whole when short, else its first hundred
/// characters, an ellipsis and its length.
pub(crate) fn clip(text: &str) -> String {
    match text.char_indices().nth(QUOTED) {
        None => text.to_owned(),
        Some((at, _)) => format!("{}… ({} bytes)", &text[..at], text.len()),
    }
}

/// A table being read: its header checked, then one row at a time.
pub(crate) struct Table {
    path: PathBuf,
    reader: Box<dyn BufRead>,
    line: usize,
    buf: Vec<u8>,
}

impl Table {
    /// Opens a table (a regular file, decompressed when it is a zstd frame)
    /// and checks that its header names the `expected` leading columns.
    pub(crate) fn open(path: &Path, expected: &[&str]) -> Result<Table, LoadError> {
        let mut table = Table::open_headerless(path)?;
        let header: Vec<String> = match table.next_line()? {
            Some((_, fields)) => fields.into_iter().map(str::to_owned).collect(),
            None => Vec::new(),
        };
        if header.len() < expected.len() || header[..expected.len()] != *expected {
            return Err(bad(
                path,
                1,
                format!(
                    "expected a header starting with `{}`, found `{}`",
                    expected.join("\\t"),
                    clip(&header.join("\\t"))
                ),
            ));
        }
        Ok(table)
    }

    /// Opens a table that has no header line (its first line is a row).
    pub(crate) fn open_headerless(path: &Path) -> Result<Table, LoadError> {
        let io = |source| LoadError::Io {
            path: path.to_owned(),
            source,
        };
        let mut file = std::io::BufReader::new(crate::input::open_regular(path)?);
        let zstd = file.fill_buf().map_err(io)?.starts_with(&ZSTD_MAGIC);
        let stream: Box<dyn Read> = if zstd {
            Box::new(zstd::stream::read::Decoder::with_buffer(file).map_err(io)?)
        } else {
            Box::new(file)
        };
        Ok(Table {
            path: path.to_owned(),
            reader: Box::new(std::io::BufReader::with_capacity(
                1 << 16,
                Bounded {
                    inner: stream,
                    left: MAX_TABLE,
                },
            )),
            line: 0,
            buf: Vec::new(),
        })
    }

    /// The path of the table.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The next non-empty row: its line number and its fields.
    pub(crate) fn next_row(&mut self) -> Result<Option<(usize, Vec<&str>)>, LoadError> {
        loop {
            // Read the line in a scope of its own so that an empty one
            // releases the buffer before the next read.
            let empty = match self.read_line()? {
                None => return Ok(None),
                Some(()) => self.buf.is_empty(),
            };
            if !empty {
                break;
            }
        }
        self.fields().map(Some)
    }

    /// The next line, empty or not.
    fn next_line(&mut self) -> Result<Option<(usize, Vec<&str>)>, LoadError> {
        match self.read_line()? {
            None => Ok(None),
            Some(()) => self.fields().map(Some),
        }
    }

    /// Reads the next line into the buffer, without its end of line.
    fn read_line(&mut self) -> Result<Option<()>, LoadError> {
        self.buf.clear();
        let n = (&mut self.reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut self.buf)
            .map_err(|e| bad(&self.path, self.line + 1, format!("cannot read: {e}")))?;
        if n == 0 {
            return Ok(None);
        }
        self.line += 1;
        if self.buf.last() == Some(&b'\n') {
            self.buf.pop();
            if self.buf.last() == Some(&b'\r') {
                self.buf.pop();
            }
        } else if self.buf.len() > MAX_LINE {
            return Err(LoadError::LineTooLong {
                path: self.path.clone(),
                line: self.line,
                limit: MAX_LINE,
            });
        }
        Ok(Some(()))
    }

    fn fields(&self) -> Result<(usize, Vec<&str>), LoadError> {
        let text = std::str::from_utf8(&self.buf)
            .map_err(|e| bad(&self.path, self.line, format!("not UTF-8: {e}")))?;
        Ok((self.line, text.split('\t').collect()))
    }
}

/// Fails a read once more than `left` bytes came through: the bound of a
/// table's decompressed size.
struct Bounded<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        match self.left.checked_sub(n as u64) {
            Some(left) => {
                self.left = left;
                Ok(n)
            }
            None => Err(std::io::Error::other(format!(
                "the table holds more than {MAX_TABLE} bytes (decompressed)"
            ))),
        }
    }
}

/// A text field of the package-level tables with its escapes undone:
/// `\\`, `\n`, `\t` and `\r` stand for a backslash, a newline, a
/// tab and a carriage return (so that a field never holds the table's own
/// separators); any other character after a backslash is an error.
pub(crate) fn unescape(field: &str) -> Result<std::borrow::Cow<'_, str>, String> {
    if !field.contains('\\') {
        return Ok(std::borrow::Cow::Borrowed(field));
    }
    let mut out = String::with_capacity(field.len());
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        out.push(match chars.next() {
            Some('\\') => '\\',
            Some('n') => '\n',
            Some('t') => '\t',
            Some('r') => '\r',
            Some(other) => return Err(format!("unknown escape `\\{other}` in `{}`", clip(field))),
            None => return Err(format!("a lone backslash ends `{}`", clip(field))),
        });
    }
    Ok(std::borrow::Cow::Owned(out))
}

/// A table error at `line`.
pub(crate) fn bad(path: &Path, line: usize, reason: impl Into<String>) -> LoadError {
    LoadError::Table {
        path: path.to_owned(),
        line,
        reason: reason.into(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn rows(path: &Path) -> Result<Vec<(usize, Vec<String>)>, LoadError> {
        let mut t = Table::open(path, &["a", "b"])?;
        let mut out = Vec::new();
        while let Some((line, f)) = t.next_row()? {
            out.push((line, f.into_iter().map(str::to_owned).collect()));
        }
        Ok(out)
    }

    #[test]
    fn rows_are_numbered_from_one_and_empty_lines_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.tsv");
        std::fs::write(&p, "a\tb\tc\n1\t2\r\n\n3\t4").unwrap();
        let r = rows(&p).unwrap();
        assert_eq!(r[0], (2, vec!["1".into(), "2".into()]));
        assert_eq!(r[1], (4, vec!["3".into(), "4".into()]));
        // The same, compressed.
        let z = dir.path().join("t.tsv.zst");
        std::fs::write(
            &z,
            zstd::encode_all(&std::fs::read(&p).unwrap()[..], 3).unwrap(),
        )
        .unwrap();
        assert_eq!(rows(&z).unwrap(), r);
    }

    #[test]
    fn bad_tables_name_the_line_and_quote_little() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.tsv");
        // Random bytes: the header is line 1.
        std::fs::write(&p, b"\xff\xfe\x00garbage").unwrap();
        let err = rows(&p).unwrap_err().to_string();
        assert!(err.contains("line 1: not UTF-8"), "{err}");
        // A long header is quoted in part, with its length.
        let long = "x".repeat(5000);
        std::fs::write(&p, format!("{long}\n")).unwrap();
        let err = rows(&p).unwrap_err().to_string();
        assert!(
            err.contains(&format!("{}… (5000 bytes)`", "x".repeat(100))),
            "{err}"
        );
        assert!(err.len() < 300, "{err}");
        // A line past the bound, compressed to a few bytes: refused at once.
        let mut text = b"a\tb\n1\t2\n".to_vec();
        text.extend(std::iter::repeat_n(b'y', 10 << 20));
        std::fs::write(&p, zstd::encode_all(&text[..], 3).unwrap()).unwrap();
        assert!(std::fs::metadata(&p).unwrap().len() < 4096);
        let err = rows(&p).unwrap_err().to_string();
        assert!(
            err.ends_with("t.tsv` line 3 is longer than 65536 bytes"),
            "{err}"
        );
    }

    #[test]
    fn headerless_tables_start_with_a_row_and_fields_unescape() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.tsv");
        std::fs::write(&p, "x\\ty\\\\z\ta\n").unwrap();
        let mut t = Table::open_headerless(&p).unwrap();
        let (line, f) = t.next_row().unwrap().unwrap();
        assert_eq!(line, 1);
        assert_eq!(unescape(f[0]).unwrap(), "x\ty\\z");
        assert_eq!(unescape(f[1]).unwrap(), "a");
        assert!(t.next_row().unwrap().is_none());
        assert_eq!(unescape("a\\nb\\r").unwrap(), "a\nb\r");
        assert!(unescape("a\\qb").unwrap_err().contains("`\\q`"));
        assert!(unescape("a\\").unwrap_err().contains("lone backslash"));
    }

    #[test]
    fn the_decompressed_size_is_bounded() {
        let mut b = Bounded {
            inner: &[0u8; 100][..],
            left: 60,
        };
        let mut buf = [0u8; 50];
        assert_eq!(b.read(&mut buf).unwrap(), 50);
        assert!(b.read(&mut buf).is_err());
        assert_eq!(clip("short"), "short");
        assert_eq!(
            clip(&"é".repeat(101)),
            format!("{}… (202 bytes)", "é".repeat(100))
        );
    }
}
