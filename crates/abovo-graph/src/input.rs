//! Opening the files abovo reads, so that no input can hang it or make it
//! read without end.
//!
//! A FIFO blocks its reader until a writer comes, and a device such as
//! `/dev/zero` never ends; both can sit in a store directory under a name
//! like `x.drv`, or be named on the command line. So files are opened with
//! `O_NONBLOCK` (opening a FIFO then returns at once) and anything that is
//! not a regular file is refused by its type ([`NotRegular`]), checked on
//! the open descriptor. Every read is bounded too: a `.drv` is at most
//! [`MAX_DRV_SIZE`].
//!
//! The one exception is a stream the caller hands over on purpose: the
//! standard input (`/dev/stdin`) or a descriptor (`/dev/fd/N`, as `<(…)`
//! gives). Such a [`Input::Stream`] is read once, into memory (at most
//! [`MAX_STREAM_SIZE`]), so that both the look at its first bytes and the
//! load use the same bytes: a pipe cannot be read twice.
//!
//! [`NotRegular`]: LoadError::NotRegular

use crate::error::LoadError;
use std::io::Read;
use std::path::{Path, PathBuf};

pub use abovo_store::derivation::MAX_DRV_SIZE;
/// The most a source read from a stream (the standard input) may hold:
/// it is kept in memory whole.
pub const MAX_STREAM_SIZE: u64 = 1 << 30;

/// What kind of file a file type is, for messages: `a FIFO`, `a device`…
pub fn kind_of(ft: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_file() {
        "a regular file"
    } else if ft.is_dir() {
        "a directory"
    } else if ft.is_fifo() {
        "a FIFO"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_block_device() {
        "a block device"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_symlink() {
        "a symbolic link"
    } else {
        "not a regular file"
    }
}

/// Opens `path` for reading without blocking on a FIFO, and refuses it
/// unless it is a regular file (after following symbolic links).
pub fn open_regular(path: &Path) -> Result<std::fs::File, LoadError> {
    open_regular_sized(path).map(|(file, _)| file)
}

/// [`open_regular`], with the file's size from the same `fstat` that
/// checked its type, so that callers wanting the size need not ask again.
pub(crate) fn open_regular_sized(path: &Path) -> Result<(std::fs::File, u64), LoadError> {
    use rustix::fs::{Mode, OFlags};
    let io = |source: std::io::Error| LoadError::Io {
        path: path.to_owned(),
        source,
    };
    let fd = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io(e.into()))?;
    let file = std::fs::File::from(fd);
    let meta = file.metadata().map_err(io)?;
    let ft = meta.file_type();
    if !ft.is_file() {
        return Err(LoadError::NotRegular {
            path: path.to_owned(),
            kind: kind_of(&ft),
        });
    }
    Ok((file, meta.len()))
}

/// The bytes of a tar archive as given: decompressed when `reader` starts
/// with a zstd frame (windows up to 2 GiB, as `zstd --long=31` writes),
/// else as they are.
pub(crate) fn tar_stream<'r>(
    mut reader: impl std::io::BufRead + 'r,
) -> std::io::Result<Box<dyn Read + 'r>> {
    if reader.fill_buf()?.starts_with(&crate::tsv::ZSTD_MAGIC) {
        let mut d = zstd::stream::read::Decoder::with_buffer(reader)?;
        // The decoder holds a window of the size the frame asks for: 2^31
        // would let a few hundred bytes claim 2 GiB. 2^27 (128 MiB) is
        // `zstd --long`'s default and what Guix's and abovo's archives use.
        d.window_log_max(27)?;
        Ok(Box::new(d))
    } else {
        Ok(Box::new(reader))
    }
}

/// Reads all of `reader`, failing once it holds more than `limit` bytes
/// (without reading further than one byte past it).
pub(crate) fn read_bounded(
    reader: impl Read,
    limit: u64,
    capacity: usize,
) -> std::io::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::with_capacity(capacity.min(limit as usize));
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= limit).then_some(bytes))
}

/// Reads a regular file whole, at most `limit` bytes of it; `what` names
/// what it is in the error when it holds more (`a .drv file`).
pub fn read_regular(path: &Path, limit: u64, what: &'static str) -> Result<Vec<u8>, LoadError> {
    let (file, size) = open_regular_sized(path)?;
    let too_large = || LoadError::TooLarge {
        file: path.display().to_string(),
        what,
        limit,
    };
    if size > limit {
        return Err(too_large());
    }
    read_bounded(file, limit, size as usize)
        .map_err(|source| LoadError::Io {
            path: path.to_owned(),
            source,
        })?
        .ok_or_else(too_large)
}

/// Whether `path` names a stream the caller hands over: the standard input
/// or an inherited descriptor (`/dev/stdin`, `/dev/fd/N`,
/// `/proc/self/fd/N`), whatever the kind of file behind it.
pub fn is_stream_path(path: &Path) -> bool {
    let Some(text) = path.to_str() else {
        return false;
    };
    let number = |rest: &str| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit());
    text == "/dev/stdin"
        || text.strip_prefix("/dev/fd/").is_some_and(number)
        || text.strip_prefix("/proc/self/fd/").is_some_and(number)
}

/// A source as given: a path to open (a regular file or a directory), or
/// the bytes of a stream, read once.
#[derive(Debug, Clone)]
pub enum Input {
    /// A regular file or a directory, read from its path as needed.
    Path(PathBuf),
    /// A stream ([`is_stream_path`]) that is not a regular file, already
    /// read.
    Stream {
        /// The path it was read from (for messages).
        path: PathBuf,
        /// Its bytes.
        bytes: Vec<u8>,
    },
}

impl Input {
    /// Opens a source: a directory or a regular file stays a path; a
    /// stream ([`is_stream_path`]) that is a pipe or a terminal is read
    /// whole (at most [`MAX_STREAM_SIZE`]); anything else that is not a
    /// regular file (a FIFO, a device, a socket) is refused.
    pub fn open(path: &Path) -> Result<Input, LoadError> {
        let io = |source| LoadError::Io {
            path: path.to_owned(),
            source,
        };
        // `stat` does not open, so it never blocks on a FIFO.
        let ft = std::fs::metadata(path).map_err(io)?.file_type();
        if ft.is_dir() || ft.is_file() {
            return Ok(Input::Path(path.to_owned()));
        }
        if !is_stream_path(path) {
            return Err(LoadError::NotRegular {
                path: path.to_owned(),
                kind: kind_of(&ft),
            });
        }
        let file = std::fs::File::open(path).map_err(io)?;
        let bytes = read_bounded(file, MAX_STREAM_SIZE, 1 << 20)
            .map_err(io)?
            .ok_or_else(|| LoadError::TooLarge {
                file: path.display().to_string(),
                what: "a source read from a stream (save it to a file)",
                limit: MAX_STREAM_SIZE,
            })?;
        Ok(Input::Stream {
            path: path.to_owned(),
            bytes,
        })
    }

    /// The path it was given as.
    pub fn path(&self) -> &Path {
        match self {
            Input::Path(p) => p,
            Input::Stream { path, .. } => path,
        }
    }

    /// A reader of the file's bytes (for a path: opened anew, regular files
    /// only).
    pub(crate) fn reader(&self) -> Result<Box<dyn Read + '_>, LoadError> {
        match self {
            Input::Path(p) => Ok(Box::new(open_regular(p)?)),
            Input::Stream { bytes, .. } => Ok(Box::new(&bytes[..])),
        }
    }

    /// The whole file (for a path: read now, regular files only).
    pub(crate) fn bytes(&self) -> Result<std::borrow::Cow<'_, [u8]>, LoadError> {
        match self {
            Input::Path(p) => read_regular(p, u64::MAX, "a file").map(std::borrow::Cow::Owned),
            Input::Stream { bytes, .. } => Ok(std::borrow::Cow::Borrowed(bytes)),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;

    /// Makes a FIFO at `path` (for the tests of every reader that must not
    /// block on one).
    pub(crate) fn mkfifo(path: &Path) {
        rustix::fs::mknodat(
            rustix::fs::CWD,
            path,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
    }

    #[test]
    fn fifos_and_devices_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("x.drv");
        mkfifo(&fifo);
        // No writer: a blocking open would wait for ever.
        let err = open_regular(&fifo).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("`{}` is a FIFO, not a regular file", fifo.display())
        );
        let err = Input::open(&fifo).unwrap_err();
        assert!(
            matches!(err, LoadError::NotRegular { kind: "a FIFO", .. }),
            "{err}"
        );
        let err = read_regular(Path::new("/dev/zero"), 10, "a .drv file").unwrap_err();
        assert!(
            matches!(
                err,
                LoadError::NotRegular {
                    kind: "a character device",
                    ..
                }
            ),
            "{err}"
        );
        // A symbolic link is followed to what it points at.
        let link = dir.path().join("link.drv");
        std::os::unix::fs::symlink(&fifo, &link).unwrap();
        assert!(matches!(
            open_regular(&link).unwrap_err(),
            LoadError::NotRegular { kind: "a FIFO", .. }
        ));
        assert!(matches!(Input::open(dir.path()).unwrap(), Input::Path(_)));
    }

    #[test]
    fn reads_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("big.drv");
        std::fs::write(&file, vec![b'x'; 100]).unwrap();
        assert_eq!(read_regular(&file, 100, "a .drv file").unwrap().len(), 100);
        let err = read_regular(&file, 99, "a .drv file").unwrap_err();
        assert!(
            matches!(err, LoadError::TooLarge { limit: 99, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("big.drv"), "{err}");
        assert_eq!(
            read_bounded(&[1u8; 10][..], 9, 0).unwrap(),
            None,
            "one byte past the bound is refused"
        );
    }

    #[test]
    fn stream_paths_are_the_standard_descriptors() {
        for p in ["/dev/stdin", "/dev/fd/0", "/dev/fd/63", "/proc/self/fd/5"] {
            assert!(is_stream_path(Path::new(p)), "{p}");
        }
        for p in ["/dev/zero", "/dev/fd/", "/dev/fd/x", "/tmp/fifo", "stdin"] {
            assert!(!is_stream_path(Path::new(p)), "{p}");
        }
    }
}
