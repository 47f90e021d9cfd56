//! Reading NARs: a strict streaming parser that hands each item to a
//! [`NarVisitor`].
//!
//! The parser reads from any [`Read`], holds no file contents itself (a
//! regular file's bytes are offered to the visitor as a bounded reader), and
//! is as strict as modern Nix's `parseDump`, plus the limits a hostile input
//! calls for. It rejects:
//!
//! * a missing or wrong `nix-archive-1` magic, unknown tags, and any token
//!   out of place (`executable` after `contents`, `node` before `name`, …);
//! * entry names that are empty, `.`, `..`, or contain `/` or NUL, or are
//!   longer than [`MAX_NAME_LEN`];
//! * entries that are not in strictly increasing byte order (this also
//!   rejects duplicates);
//! * symlink targets that are empty, contain NUL, or are longer than
//!   [`MAX_TARGET_LEN`] (no filesystem can hold them);
//! * padding bytes that are not zero;
//! * a declared length that runs past the end of the input, and any other
//!   early end;
//! * nesting deeper than [`MAX_DEPTH`];
//! * any byte after the archive.
//!
//! Every error carries the byte offset where the problem starts and says
//! what was expected there. Token lengths are checked *before* anything is
//! read or allocated, so a declared length of 2^64-1 costs nothing.

use super::wire::{MAGIC, MAX_DEPTH, MAX_NAME_LEN, MAX_TARGET_LEN, padding_len};
use super::writer::Tree;
use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, BufReader, Read};

/// What the parser calls for each item of the archive, in archive order.
///
/// `path` is the item's path relative to the archive root, components joined
/// with `/` (the root itself is the empty path); its last component is the
/// entry name. Calls nest: `directory` for a directory, then its entries,
/// then `directory_end` for it. A visitor error stops the parse and is
/// returned as [`ReadErrorKind::Visitor`].
pub trait NarVisitor {
    /// A directory starts; its entries follow.
    fn directory(&mut self, path: &[u8]) -> io::Result<()>;

    /// The directory at `path` is complete.
    fn directory_end(&mut self, path: &[u8]) -> io::Result<()> {
        let _ = path;
        Ok(())
    }

    /// A symbolic link.
    fn symlink(&mut self, path: &[u8], target: &[u8]) -> io::Result<()>;

    /// A regular file of `size` bytes. `contents` yields at most `size`
    /// bytes; whatever the visitor does not read is skipped (and still
    /// checked to be present). The padding after the contents is checked
    /// only after this returns, so an unpacker must be ready to undo its
    /// work when the parse fails.
    fn regular(
        &mut self,
        path: &[u8],
        executable: bool,
        size: u64,
        contents: &mut dyn Read,
    ) -> io::Result<()>;
}

/// A visitor that does nothing: parsing with it validates the archive.
#[derive(Debug, Default, Clone, Copy)]
pub struct Validate;

impl NarVisitor for Validate {
    fn directory(&mut self, _: &[u8]) -> io::Result<()> {
        Ok(())
    }
    fn symlink(&mut self, _: &[u8], _: &[u8]) -> io::Result<()> {
        Ok(())
    }
    fn regular(&mut self, _: &[u8], _: bool, _: u64, _: &mut dyn Read) -> io::Result<()> {
        Ok(())
    }
}

/// Counts of what a valid archive holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NarSummary {
    /// The archive's length in bytes (its NAR size).
    pub nar_size: u64,
    /// Regular files.
    pub regular_files: u64,
    /// Of which executable.
    pub executables: u64,
    /// Symbolic links.
    pub symlinks: u64,
    /// Directories, the root included when it is one.
    pub directories: u64,
    /// Total size of the regular files' contents.
    pub contents_bytes: u64,
}

/// An invalid archive: where, and what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("invalid NAR at byte {offset}: {kind}")]
pub struct ReadError {
    /// Byte offset in the archive where the problem starts.
    pub offset: u64,
    /// What is wrong.
    pub kind: ReadErrorKind,
}

/// What is wrong with an archive.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadErrorKind {
    /// The input ended early.
    #[error("the archive ends early; expected {expected}")]
    Truncated {
        /// What should have come next.
        expected: String,
    },
    /// A token other than the ones the grammar allows here.
    #[error("expected {expected}, found {found}")]
    UnexpectedToken {
        /// The tokens allowed here.
        expected: String,
        /// What is there (quoted, or described when too long to show).
        found: String,
    },
    /// `executable` after `contents`, which Nix rejects.
    #[error(
        "expected `)`, found `executable` after the contents (the `executable` flag must come before `contents`)"
    )]
    ExecutableAfterContents,
    /// A declared length above the limit for this kind of string.
    #[error("{what} is {len} bytes long, more than the limit of {limit}")]
    TooLong {
        /// What the string is (entry name, symlink target).
        what: &'static str,
        /// The declared length.
        len: u64,
        /// The limit.
        limit: u64,
    },
    /// Padding bytes that are not zero.
    #[error("expected zero padding, found the byte {byte:#04x}")]
    NonZeroPadding {
        /// The offending byte.
        byte: u8,
    },
    /// An entry name that could escape or confuse a directory.
    #[error("invalid entry name {name}: {reason}")]
    BadName {
        /// The name, quoted.
        name: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// An entry not after its predecessor in byte order.
    #[error("entry {name} comes after {previous}; entries must be in strictly increasing byte order{}", if *.duplicate { " (duplicate name)" } else { "" })]
    Unsorted {
        /// The previous entry's name, quoted.
        previous: String,
        /// This entry's name, quoted.
        name: String,
        /// Whether the two names are equal.
        duplicate: bool,
    },
    /// A symlink target no filesystem can hold.
    #[error("invalid symlink target {target}: {reason}")]
    BadTarget {
        /// The target, quoted.
        target: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// Directories nested deeper than [`MAX_DEPTH`].
    #[error("directories nested more than {limit} deep (the limit of this reader)")]
    TooDeep {
        /// The limit.
        limit: usize,
    },
    /// Bytes after the end of the archive.
    #[error("expected the end of the input after the archive, found more data")]
    TrailingData,
    /// Reading the input failed.
    #[error("cannot read the archive: {0}")]
    Io(io::Error),
    /// The visitor refused an item (for an unpacker: it could not create it).
    #[error("cannot process `{path}`: {error}")]
    Visitor {
        /// The item's path in the archive.
        path: String,
        /// The visitor's error.
        error: io::Error,
    },
}

/// Parses the whole of `input` as one NAR, calling `visitor` for each item.
/// The input must end exactly where the archive does.
pub fn parse<R: Read, V: NarVisitor + ?Sized>(
    input: R,
    visitor: &mut V,
) -> Result<NarSummary, ReadError> {
    let mut p = Parser {
        input: BufReader::with_capacity(64 * 1024, input),
        offset: 0,
        summary: NarSummary::default(),
        path: Vec::new(),
        truncated: false,
    };
    p.expect(&[MAGIC], "the magic `nix-archive-1` (this is not a NAR)")?;
    p.node(visitor, 0)?;
    let end = p.offset;
    let mut byte = [0u8; 1];
    loop {
        match p.input.read(&mut byte) {
            Ok(0) => break,
            Ok(_) => return Err(p.error_at(end, ReadErrorKind::TrailingData)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(p.error_at(end, ReadErrorKind::Io(e))),
        }
    }
    p.summary.nar_size = end;
    Ok(p.summary)
}

/// Checks that `input` is exactly one valid NAR.
pub fn validate<R: Read>(input: R) -> Result<NarSummary, ReadError> {
    parse(input, &mut Validate)
}

impl Tree {
    /// Reads a whole NAR held in memory into a tree.
    pub fn from_nar(nar: &[u8]) -> Result<Tree, ReadError> {
        let mut builder = TreeBuilder::default();
        parse(nar, &mut builder)?;
        Ok(builder.root.expect("a valid NAR has a root item")) // parse succeeded, so the visitor saw the root
    }
}

/// The entries of a directory being built.
type Entries = BTreeMap<Vec<u8>, Tree>;

/// Builds a [`Tree`] from visitor calls.
#[derive(Default)]
struct TreeBuilder {
    /// Directories being filled, innermost last, with their paths.
    stack: Vec<(Vec<u8>, Entries)>,
    root: Option<Tree>,
}

impl TreeBuilder {
    fn place(&mut self, path: &[u8], tree: Tree) {
        let name = path.rsplit(|&b| b == b'/').next().unwrap_or(path).to_vec();
        match self.stack.last_mut() {
            Some((_, entries)) => {
                entries.insert(name, tree);
            }
            None => self.root = Some(tree),
        }
    }
}

impl NarVisitor for TreeBuilder {
    fn directory(&mut self, path: &[u8]) -> io::Result<()> {
        self.stack.push((path.to_vec(), BTreeMap::new()));
        Ok(())
    }
    fn directory_end(&mut self, _: &[u8]) -> io::Result<()> {
        if let Some((path, entries)) = self.stack.pop() {
            self.place(&path, Tree::Directory(entries));
        }
        Ok(())
    }
    fn symlink(&mut self, path: &[u8], target: &[u8]) -> io::Result<()> {
        self.place(
            path,
            Tree::Symlink {
                target: target.to_vec(),
            },
        );
        Ok(())
    }
    fn regular(
        &mut self,
        path: &[u8],
        executable: bool,
        size: u64,
        contents: &mut dyn Read,
    ) -> io::Result<()> {
        // Never trust `size` for the allocation: grow as bytes really arrive.
        let mut bytes = Vec::with_capacity(size.min(1 << 20) as usize);
        contents.read_to_end(&mut bytes)?;
        self.place(
            path,
            Tree::Regular {
                executable,
                contents: bytes,
            },
        );
        Ok(())
    }
}

/// Shows bytes for an error message: quoted, escaped, cut when long.
pub(crate) fn quote(bytes: &[u8]) -> String {
    const SHOW: usize = 64;
    let shown = &bytes[..bytes.len().min(SHOW)];
    let mut s = format!("`{}`", shown.escape_ascii());
    if bytes.len() > SHOW {
        s.push_str(&format!(" (first {SHOW} of {} bytes)", bytes.len()));
    }
    s
}

struct Parser<R: Read> {
    input: BufReader<R>,
    offset: u64,
    summary: NarSummary,
    /// The current item's path.
    path: Vec<u8>,
    /// Set when the contents reader met the end of the input.
    truncated: bool,
}

fn list(tokens: &[&[u8]]) -> String {
    let quoted: Vec<String> = tokens.iter().map(|t| quote(t)).collect();
    match quoted.len() {
        1 => quoted[0].clone(),
        _ => format!("one of {}", quoted.join(", ")),
    }
}

impl<R: Read> Parser<R> {
    fn error_at(&self, offset: u64, kind: ReadErrorKind) -> ReadError {
        ReadError { offset, kind }
    }

    fn path_string(&self) -> String {
        if self.path.is_empty() {
            "the archive root".to_owned()
        } else {
            String::from_utf8_lossy(&self.path).into_owned()
        }
    }

    /// Fills `buf` completely; `expected` describes it for the error.
    fn read_exact(&mut self, buf: &mut [u8], expected: &dyn fmt::Display) -> Result<(), ReadError> {
        let start = self.offset;
        let mut filled = 0;
        while filled < buf.len() {
            match self.input.read(&mut buf[filled..]) {
                Ok(0) => {
                    return Err(self.error_at(
                        start,
                        ReadErrorKind::Truncated {
                            expected: expected.to_string(),
                        },
                    ));
                }
                Ok(n) => {
                    filled += n;
                    self.offset += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.error_at(self.offset, ReadErrorKind::Io(e))),
            }
        }
        Ok(())
    }

    fn read_u64(&mut self, expected: &dyn fmt::Display) -> Result<u64, ReadError> {
        let mut b = [0u8; 8];
        self.read_exact(&mut b, expected)?;
        Ok(u64::from_le_bytes(b))
    }

    fn read_padding(&mut self, len: u64) -> Result<(), ReadError> {
        let pad = padding_len(len);
        let mut b = [0u8; 8];
        let start = self.offset;
        self.read_exact(&mut b[..pad], &"zero padding")?;
        if let Some(i) = b[..pad].iter().position(|&x| x != 0) {
            return Err(self.error_at(
                start + i as u64,
                ReadErrorKind::NonZeroPadding { byte: b[i] },
            ));
        }
        Ok(())
    }

    /// Reads one token that must be one of `tokens`; returns its index.
    fn expect(&mut self, tokens: &[&[u8]], what: &str) -> Result<usize, ReadError> {
        let start = self.offset;
        let expected = if what.is_empty() {
            list(tokens)
        } else {
            what.to_owned()
        };
        let len = self.read_u64(&expected)?;
        let max = tokens.iter().map(|t| t.len()).max().unwrap_or(0) as u64;
        if len > max {
            return Err(self.error_at(
                start,
                ReadErrorKind::UnexpectedToken {
                    expected,
                    found: format!("a string of {len} bytes"),
                },
            ));
        }
        let mut buf = [0u8; 16];
        let buf = &mut buf[..len as usize];
        self.read_exact(buf, &expected)?;
        self.read_padding(len)?;
        match tokens.iter().position(|t| *t == &buf[..]) {
            Some(i) => Ok(i),
            None => Err(self.error_at(
                start,
                ReadErrorKind::UnexpectedToken {
                    expected,
                    found: quote(buf),
                },
            )),
        }
    }

    /// Reads a string of at most `limit` bytes.
    fn read_string(&mut self, what: &'static str, limit: u64) -> Result<(u64, Vec<u8>), ReadError> {
        let start = self.offset;
        let len = self.read_u64(&what)?;
        if len > limit {
            return Err(self.error_at(start, ReadErrorKind::TooLong { what, len, limit }));
        }
        let mut buf = vec![0u8; len as usize];
        self.read_exact(&mut buf, &what)?;
        self.read_padding(len)?;
        Ok((start, buf))
    }

    fn node<V: NarVisitor + ?Sized>(
        &mut self,
        visitor: &mut V,
        depth: usize,
    ) -> Result<(), ReadError> {
        self.expect(&[b"("], "")?;
        self.expect(&[b"type"], "")?;
        match self.expect(
            &[b"regular", b"symlink", b"directory"],
            "a node type (`regular`, `symlink` or `directory`)",
        )? {
            0 => self.regular(visitor),
            1 => self.symlink(visitor),
            _ => self.directory(visitor, depth),
        }
    }

    fn visit(&self, r: io::Result<()>) -> Result<(), ReadError> {
        r.map_err(|error| {
            self.error_at(
                self.offset,
                ReadErrorKind::Visitor {
                    path: self.path_string(),
                    error,
                },
            )
        })
    }

    fn regular<V: NarVisitor + ?Sized>(&mut self, visitor: &mut V) -> Result<(), ReadError> {
        let executable = self.expect(&[b"executable", b"contents"], "")? == 0;
        if executable {
            self.expect(&[b""], "the empty string after `executable`")?;
            self.expect(&[b"contents"], "")?;
        }
        let size_at = self.offset;
        let size = self.read_u64(&"the size of the contents")?;
        let contents_start = self.offset;
        let path = self.path.clone();
        let result = {
            let mut contents = Contents {
                parser: self,
                remaining: size,
            };
            let r = visitor.regular(&path, executable, size, &mut contents);
            // Skip what the visitor left, so the rest is still checked.
            r.and_then(|()| io::copy(&mut contents, &mut io::sink()).map(|_| ()))
        };
        if self.truncated {
            return Err(self.error_at(
                size_at,
                ReadErrorKind::Truncated {
                    expected: format!(
                        "{size} bytes of contents from byte {contents_start}, found only {}",
                        self.offset - contents_start
                    ),
                },
            ));
        }
        self.visit(result)?;
        self.read_padding(size)?;
        self.summary.regular_files += 1;
        self.summary.executables += executable as u64;
        self.summary.contents_bytes += size;
        let at = self.offset;
        match self.expect(&[b")", b"executable"], "`)`") {
            Ok(0) => Ok(()),
            Ok(_) => Err(self.error_at(at, ReadErrorKind::ExecutableAfterContents)),
            Err(e) => Err(e),
        }
    }

    fn symlink<V: NarVisitor + ?Sized>(&mut self, visitor: &mut V) -> Result<(), ReadError> {
        self.expect(&[b"target"], "")?;
        let (at, target) = self.read_string("the symlink target", MAX_TARGET_LEN)?;
        let reason = if target.is_empty() {
            Some("it is empty")
        } else if target.contains(&0) {
            Some("it contains a NUL byte")
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(self.error_at(
                at,
                ReadErrorKind::BadTarget {
                    target: quote(&target),
                    reason,
                },
            ));
        }
        self.visit(visitor.symlink(&self.path, &target))?;
        self.summary.symlinks += 1;
        self.expect(&[b")"], "")?;
        Ok(())
    }

    fn directory<V: NarVisitor + ?Sized>(
        &mut self,
        visitor: &mut V,
        depth: usize,
    ) -> Result<(), ReadError> {
        if depth >= MAX_DEPTH {
            return Err(self.error_at(self.offset, ReadErrorKind::TooDeep { limit: MAX_DEPTH }));
        }
        self.visit(visitor.directory(&self.path))?;
        self.summary.directories += 1;
        let mut previous: Option<Vec<u8>> = None;
        loop {
            if self.expect(&[b"entry", b")"], "")? == 1 {
                break;
            }
            self.expect(&[b"("], "")?;
            self.expect(&[b"name"], "")?;
            let (at, name) = self.read_string("an entry name", MAX_NAME_LEN)?;
            if let Some(reason) = bad_name(&name) {
                return Err(self.error_at(
                    at,
                    ReadErrorKind::BadName {
                        name: quote(&name),
                        reason,
                    },
                ));
            }
            if let Some(prev) = &previous {
                if name.as_slice() <= prev.as_slice() {
                    return Err(self.error_at(
                        at,
                        ReadErrorKind::Unsorted {
                            previous: quote(prev),
                            name: quote(&name),
                            duplicate: name == *prev,
                        },
                    ));
                }
            }
            self.expect(&[b"node"], "")?;
            let saved = self.path.len();
            if !self.path.is_empty() {
                self.path.push(b'/');
            }
            self.path.extend_from_slice(&name);
            self.node(visitor, depth + 1)?;
            self.path.truncate(saved);
            self.expect(&[b")"], "`)` closing the entry")?;
            previous = Some(name);
        }
        self.visit(visitor.directory_end(&self.path))
    }
}

/// Why an entry name is refused, if it is.
pub(crate) fn bad_name(name: &[u8]) -> Option<&'static str> {
    if name.is_empty() {
        Some("it is empty")
    } else if name == b"." || name == b".." {
        Some("`.` and `..` are not entries")
    } else if name.contains(&b'/') {
        Some("it contains `/`")
    } else if name.contains(&0) {
        Some("it contains a NUL byte")
    } else {
        None
    }
}

/// The contents of one regular file, read through the parser so the offset
/// stays right; never yields more than the declared size.
struct Contents<'a, R: Read> {
    parser: &'a mut Parser<R>,
    remaining: u64,
}

impl<R: Read> Read for Contents<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = (buf.len() as u64).min(self.remaining) as usize;
        let n = self.parser.input.read(&mut buf[..want])?;
        if n == 0 {
            self.parser.truncated = true;
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the archive ends inside a file's contents",
            ));
        }
        self.parser.offset += n as u64;
        self.remaining -= n as u64;
        Ok(n)
    }
}
