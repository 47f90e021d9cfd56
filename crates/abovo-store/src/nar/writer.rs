//! Writing NARs: from a filesystem tree, from an in-memory [`Tree`], or from
//! the bytes of a single regular file.
//!
//! The filesystem writer follows the Guix daemon's `dump` (docs/formats.md §6.2):
//! every item is `lstat`ed, symlinks are recorded and never followed, a
//! regular file is executable when its owner-execute bit (`S_IXUSR`) is set,
//! directory entries are sorted byte-wise, and devices, FIFOs and sockets
//! are errors that name the path.
//!
//! All writers stream into any [`Write`]: nothing is buffered beyond one read
//! buffer, so hashing a tree of any size takes constant memory. Tokens are
//! written with one `write_all` each; wrap a slow sink (a file, a pipe) in a
//! [`std::io::BufWriter`].

use super::wire::{write_padding, write_str, write_tokens};
use std::collections::BTreeMap;
use std::fs::{self, File, Metadata};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Size of the buffer file contents are read through. Large enough that the
/// per-call cost of `read` and of the hasher's update vanishes next to the
/// hashing itself.
pub const READ_BUFFER_SIZE: usize = 1 << 20;

/// Why a filesystem tree could not be written as a NAR.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DumpError {
    /// A system call on an item of the tree failed.
    #[error("cannot {operation} `{}`: {error}", path.display())]
    Io {
        /// The item.
        path: PathBuf,
        /// What was being done (`lstat`, `open`, `read`, `list`, `read the link`).
        operation: &'static str,
        /// The error.
        error: io::Error,
    },
    /// The item is a device, FIFO or socket, which a NAR cannot hold.
    #[error("`{}` is a {kind}; a NAR holds only regular files, directories and symlinks", path.display())]
    UnsupportedFileType {
        /// The item.
        path: PathBuf,
        /// Its type (`character device`, `block device`, `FIFO`, `socket`).
        kind: &'static str,
    },
    /// A regular file changed size (or type) while it was being archived, so
    /// the size already written no longer describes its contents.
    #[error("`{}` changed while it was being archived (expected {expected} bytes, read {actual})", path.display())]
    Changed {
        /// The file.
        path: PathBuf,
        /// The size `lstat` gave, already written to the NAR.
        expected: u64,
        /// What reading gave (at least this many bytes).
        actual: u64,
    },
    /// Writing to the sink failed.
    #[error("cannot write the NAR: {0}")]
    Sink(io::Error),
}

/// A tree in memory: what a NAR describes, without the encoding.
///
/// Directory entries are a [`BTreeMap`] keyed by the raw name bytes, so they
/// iterate in the byte-wise order the format requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tree {
    /// A regular file.
    Regular {
        /// Whether the owner-execute bit is set.
        executable: bool,
        /// The file's bytes.
        contents: Vec<u8>,
    },
    /// A symbolic link.
    Symlink {
        /// The link target, as bytes.
        target: Vec<u8>,
    },
    /// A directory.
    Directory(BTreeMap<Vec<u8>, Tree>),
}

impl Tree {
    /// The NAR of this tree.
    pub fn to_nar(&self) -> Vec<u8> {
        let mut out = Vec::new();
        write_tree(self, &mut out).expect("writing to a Vec cannot fail"); // Vec<u8>: Write is infallible
        out
    }
}

/// Writes the NAR of an in-memory tree.
pub fn write_tree<W: Write + ?Sized>(tree: &Tree, out: &mut W) -> io::Result<()> {
    write_str(out, super::wire::MAGIC)?;
    write_node(tree, out)
}

fn write_node<W: Write + ?Sized>(tree: &Tree, out: &mut W) -> io::Result<()> {
    match tree {
        Tree::Regular {
            executable,
            contents,
        } => write_regular_node(contents, *executable, out),
        Tree::Symlink { target } => write_symlink_node(target, out),
        Tree::Directory(entries) => {
            write_tokens(out, &[b"(", b"type", b"directory"])?;
            for (name, child) in entries {
                write_tokens(out, &[b"entry", b"(", b"name"])?;
                write_str(out, name)?;
                write_str(out, b"node")?;
                write_node(child, out)?;
                write_str(out, b")")?;
            }
            write_str(out, b")")
        }
    }
}

/// Writes the NAR of a single regular file whose bytes are `contents`.
///
/// This is how the daemon stores a `.drv` file or any text added to the
/// store: its NAR hash is that of a non-executable regular file.
pub fn write_regular<W: Write + ?Sized>(
    contents: &[u8],
    executable: bool,
    out: &mut W,
) -> io::Result<()> {
    write_str(out, super::wire::MAGIC)?;
    write_regular_node(contents, executable, out)
}

fn write_regular_node<W: Write + ?Sized>(
    contents: &[u8],
    executable: bool,
    out: &mut W,
) -> io::Result<()> {
    regular_header(out, executable, contents.len() as u64)?;
    out.write_all(contents)?;
    write_padding(out, contents.len() as u64)?;
    write_str(out, b")")
}

fn regular_header<W: Write + ?Sized>(out: &mut W, executable: bool, size: u64) -> io::Result<()> {
    if executable {
        write_tokens(
            out,
            &[b"(", b"type", b"regular", b"executable", b"", b"contents"],
        )?;
    } else {
        write_tokens(out, &[b"(", b"type", b"regular", b"contents"])?;
    }
    out.write_all(&size.to_le_bytes())
}

fn write_symlink_node<W: Write + ?Sized>(target: &[u8], out: &mut W) -> io::Result<()> {
    write_tokens(out, &[b"(", b"type", b"symlink", b"target"])?;
    write_str(out, target)?;
    write_str(out, b")")
}

/// Writes the NAR of the filesystem item at `path` (not followed if it is a
/// symlink) into `out`, and returns the number of bytes written.
pub fn dump_path<W: Write + ?Sized>(path: &Path, out: &mut W) -> Result<u64, DumpError> {
    dump_path_filtered(path, out, &mut |_, _| true)
}

/// [`dump_path`] leaving out every entry below `path` for which
/// `select(entry_path, lstat_metadata)` is false (`path` itself is always
/// included). This is how `guix hash -x` drops version-control files.
pub fn dump_path_filtered<W: Write + ?Sized>(
    path: &Path,
    out: &mut W,
    select: &mut dyn FnMut(&Path, &Metadata) -> bool,
) -> Result<u64, DumpError> {
    let mut counting = CountingWriter {
        inner: out,
        count: 0,
    };
    let mut dumper = Dumper {
        out: &mut counting,
        buf: Vec::new(),
        select,
    };
    write_str(dumper.out, super::wire::MAGIC).map_err(DumpError::Sink)?;
    let meta = lstat(path)?;
    dumper.node(path, &meta)?;
    Ok(counting.count)
}

fn lstat(path: &Path) -> Result<Metadata, DumpError> {
    fs::symlink_metadata(path).map_err(|error| DumpError::Io {
        path: path.to_owned(),
        operation: "lstat",
        error,
    })
}

struct Dumper<'a, W: Write + ?Sized> {
    out: &'a mut W,
    /// The read buffer, allocated on the first regular file.
    buf: Vec<u8>,
    select: &'a mut dyn FnMut(&Path, &Metadata) -> bool,
}

impl<W: Write + ?Sized> Dumper<'_, W> {
    fn node(&mut self, path: &Path, meta: &Metadata) -> Result<(), DumpError> {
        let ft = meta.file_type();
        if ft.is_file() {
            self.regular(path, meta)
        } else if ft.is_symlink() {
            let target = fs::read_link(path).map_err(|error| DumpError::Io {
                path: path.to_owned(),
                operation: "read the link",
                error,
            })?;
            write_symlink_node(target.as_os_str().as_bytes(), self.out).map_err(DumpError::Sink)
        } else if ft.is_dir() {
            self.directory(path)
        } else {
            let kind = if ft.is_char_device() {
                "character device"
            } else if ft.is_block_device() {
                "block device"
            } else if ft.is_fifo() {
                "FIFO"
            } else if ft.is_socket() {
                "socket"
            } else {
                "file of unknown type"
            };
            Err(DumpError::UnsupportedFileType {
                path: path.to_owned(),
                kind,
            })
        }
    }

    fn directory(&mut self, path: &Path) -> Result<(), DumpError> {
        let io_err = |operation, error| DumpError::Io {
            path: path.to_owned(),
            operation,
            error,
        };
        let mut names: Vec<std::ffi::OsString> = Vec::new();
        for entry in fs::read_dir(path).map_err(|e| io_err("list", e))? {
            names.push(entry.map_err(|e| io_err("list", e))?.file_name());
        }
        // Byte-wise order, as the daemon's std::map<string> and Guix's string<?.
        names.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        write_tokens(self.out, &[b"(", b"type", b"directory"]).map_err(DumpError::Sink)?;
        for name in names {
            let child = path.join(&name);
            let meta = lstat(&child)?;
            if !(self.select)(&child, &meta) {
                continue;
            }
            write_tokens(self.out, &[b"entry", b"(", b"name"]).map_err(DumpError::Sink)?;
            write_str(self.out, name.as_bytes()).map_err(DumpError::Sink)?;
            write_str(self.out, b"node").map_err(DumpError::Sink)?;
            self.node(&child, &meta)?;
            write_str(self.out, b")").map_err(DumpError::Sink)?;
        }
        write_str(self.out, b")").map_err(DumpError::Sink)
    }

    fn regular(&mut self, path: &Path, meta: &Metadata) -> Result<(), DumpError> {
        let io_err = |operation, error| DumpError::Io {
            path: path.to_owned(),
            operation,
            error,
        };
        // O_NOFOLLOW: if the file was swapped for a symlink since lstat, fail
        // rather than archive what it points to. O_NONBLOCK: a FIFO swapped in
        // must not hang us; it is then rejected by the type check below.
        let file = File::options()
            .read(true)
            .custom_flags(
                (rustix::fs::OFlags::NOFOLLOW
                    | rustix::fs::OFlags::NONBLOCK
                    | rustix::fs::OFlags::NOCTTY)
                    .bits() as i32,
            )
            .open(path)
            .map_err(|e| io_err("open", e))?;
        let fmeta = file.metadata().map_err(|e| io_err("fstat", e))?;
        let size = meta.len();
        if !fmeta.is_file() || fmeta.len() != size {
            return Err(DumpError::Changed {
                path: path.to_owned(),
                expected: size,
                actual: fmeta.len(),
            });
        }
        let executable = meta.permissions().mode() & 0o100 != 0;
        regular_header(self.out, executable, size).map_err(DumpError::Sink)?;
        if self.buf.is_empty() {
            self.buf = vec![0u8; READ_BUFFER_SIZE];
        }
        let mut remaining = size;
        let mut file = file;
        while remaining > 0 {
            let want = remaining.min(self.buf.len() as u64) as usize;
            let n = match file.read(&mut self.buf[..want]) {
                Ok(0) => {
                    return Err(DumpError::Changed {
                        path: path.to_owned(),
                        expected: size,
                        actual: size - remaining,
                    });
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_err("read", e)),
            };
            self.out
                .write_all(&self.buf[..n])
                .map_err(DumpError::Sink)?;
            remaining -= n as u64;
        }
        // A file that grew would make the NAR lie about its contents.
        let mut probe = [0u8; 1];
        loop {
            match file.read(&mut probe) {
                Ok(0) => break,
                Ok(_) => {
                    return Err(DumpError::Changed {
                        path: path.to_owned(),
                        expected: size,
                        actual: size + 1,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_err("read", e)),
            }
        }
        write_padding(self.out, size).map_err(DumpError::Sink)?;
        write_str(self.out, b")").map_err(DumpError::Sink)
    }
}

/// A writer that counts what passes through it.
pub(crate) struct CountingWriter<'a, W: Write + ?Sized> {
    pub(crate) inner: &'a mut W,
    pub(crate) count: u64,
}

impl<W: Write + ?Sized> Write for CountingWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.inner.write_all(buf)?;
        self.count += buf.len() as u64;
        Ok(())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
