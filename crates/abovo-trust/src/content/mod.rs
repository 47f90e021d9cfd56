//! Content classification: look at a seed's bytes and say what it is.
//!
//! The strongest evidence abovo has is the bytes themselves. This module
//! reads a file, a directory tree or a stream and decides its [`Kind`]:
//!
//! - a single stream is recognised by its magic number ([`magic`]), or for
//!   OCaml bytecode executables by their trailer: compiled code (native:
//!   ELF, PE, Mach-O; bytecode: JVM, Python, OCaml, Guile, Emacs, BEAM,
//!   WebAssembly, LLVM bitcode, …, see [`CodeKind`]) is `binary`; text is
//!   `source` unless it looks machine-made ([`text`]), then `generated`;
//!   recognised non-code data (images, fonts) is `source`; anything else is
//!   an opaque blob and `unknown`;
//! - compression (gzip, xz, bzip2, zstd, lzip, lzma) is undone and the inner
//!   stream classified; containers (tar, zip/jar read as a stream by
//!   [`zip`], ar) and directories are walked, nested to any depth within
//!   [`Limits`], and every member is classified the same way; the objects
//!   of an `ar` archive are reported together as one static library;
//! - a container or tree is `binary` when binary members make up at least
//!   half of its bytes, `source-with-binaries` when it has binary members
//!   but fewer, otherwise `generated` when machine-made text is most of its
//!   text, `unknown` when unrecognised data is most of it, else `source`.
//!   When the scan could not finish (a corrupt container, a limit hit) and
//!   found no binary, the answer is `unknown`: what was not seen cannot be
//!   vouched for. A member that cannot be decoded is an opaque blob, not a
//!   hole: its bytes were seen.
//!
//! The report lists which members are compiled code (with kind and size),
//! which are generated and which are opaque, and counts each kind of
//! compiled code, so that a person can check the verdict. Member paths
//! join nested archives with `!/` (`a.tar.gz!/dir/b.zip!/x.class`); a
//! compressed single file keeps its own name (`x.class.gz` is the path of
//! the class it holds). Nothing is ever written to disk: archives are read
//! as streams, so member names with `..` or absolute paths are only ever
//! printed (escaped). Memory does not grow with the input (see `scan`).
//!
//! | module | owns |
//! | --- | --- |
//! | [`code`] | the kinds of compiled code and the OCaml trailer |
//! | [`magic`] | recognition by the first bytes |
//! | [`text`] | human-written or machine-made text |
//! | [`limits`] | the bounds on hostile input and the guards enforcing them |
//! | [`lzip`], [`zip`] | the formats no crate reads as this scanner needs |
//! | `scan`, `containers`, `verdict` | the walk, the containers, the report |
//! | [`remembered`] | verdicts on the fetch cache's content, kept so a warm cache is not scanned again |

pub mod code;
mod containers;
pub mod layers;
pub mod limits;
pub mod lzip;
pub mod magic;
pub mod remembered;
mod scan;
pub mod text;
mod verdict;
pub mod zip;

use crate::kind::Kind;
pub use code::{CodeClass, CodeKind};
pub use limits::Limits;
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Why a file or tree could not be scanned at all (errors inside an archive
/// are part of the [`ContentReport`] instead).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ContentError {
    /// The file or directory could not be opened or listed.
    #[error("cannot read `{path}`: {source}")]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// A count of files and their bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Number of files.
    pub files: u64,
    /// Their total size in bytes (expanded).
    pub bytes: u64,
}

impl Tally {
    fn add(&mut self, bytes: u64) {
        self.files += 1;
        self.bytes += bytes;
    }
}

/// One member of a scanned archive or tree worth naming.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// Its path: members of nested archives are joined with `!/`
    /// (`bin.zip!/lib/x.jar!/A.class`). Control characters are escaped.
    pub path: String,
    /// What it is (`ELF 32-bit LSB executable, Intel 80386`).
    pub what: String,
    /// Its size in bytes (expanded).
    pub size: u64,
    /// The kind of compiled code, for a member that is compiled code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<CodeKind>,
}

/// How many members of one kind of compiled code a scan found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeTally {
    /// The kind.
    pub kind: CodeKind,
    /// Its class (native or bytecode).
    pub class: CodeClass,
    /// How many members (a static library counts once).
    pub files: u64,
    /// Their total size in bytes (expanded).
    pub bytes: u64,
}

/// What a content scan found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentReport {
    /// The verdict.
    pub kind: Kind,
    /// One line saying why.
    pub summary: String,
    /// The outer layers (`xz, tar`), or what a single file is.
    pub format: String,
    /// Files seen (leaves, after decompression).
    pub files: u64,
    /// Their total size.
    pub bytes: u64,
    /// Executable code.
    pub binary: Tally,
    /// Machine-made text.
    pub generated: Tally,
    /// Human-written text.
    pub source: Tally,
    /// Recognised non-executable data (images, fonts …).
    pub data: Tally,
    /// Unrecognised non-text data.
    pub opaque: Tally,
    /// Compiled code by kind, in kind order (exact counts, whatever
    /// [`Limits::max_listed`] is).
    pub code_kinds: Vec<CodeTally>,
    /// The binary members (at most [`Limits::max_listed`]).
    pub binary_members: Vec<Member>,
    /// The generated members (at most [`Limits::max_listed`]).
    pub generated_members: Vec<Member>,
    /// The opaque members (at most [`Limits::max_listed`]).
    pub opaque_members: Vec<Member>,
    /// Whether every byte was seen.
    pub complete: bool,
    /// What stopped or disturbed the scan (corrupt data, limits), each with
    /// the member where it happened.
    pub issues: Vec<String>,
}

/// How to scan, besides the [`Limits`].
#[derive(Default)]
pub struct ScanOptions<'a> {
    /// The prefix of every member path: the input as the user named it
    /// (`a.tar.gz` gives `a.tar.gz!/dir/x.class`, a directory `d` gives
    /// `d/sub/x`). Empty: paths relative to the input, and a single file is
    /// named by its file name.
    pub root: String,
    /// Told how many bytes of the input were read, as they are read (for a
    /// progress bar).
    pub progress: Option<&'a dyn Fn(u64)>,
}

/// Scans a file or a directory tree (symbolic links are not followed).
pub fn scan_path(path: &Path, limits: &Limits) -> Result<ContentReport, ContentError> {
    scan_path_with(path, limits, &ScanOptions::default())
}

/// [`scan_path`] with a root label for member paths and a progress hook.
pub fn scan_path_with(
    path: &Path,
    limits: &Limits,
    options: &ScanOptions<'_>,
) -> Result<ContentReport, ContentError> {
    let io_err = |source| ContentError::Io {
        path: path.to_owned(),
        source,
    };
    let meta = std::fs::symlink_metadata(path).map_err(io_err)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if meta.is_dir() {
        let mut scan = scan::Scan::new(limits, &options.root);
        scan.directory(path, options.progress).map_err(io_err)?;
        return Ok(scan.finish("directory"));
    }
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(path).map_err(io_err)?;
        let mut scan = scan::Scan::new(limits, &options.root);
        scan.note_symlink(&target);
        return Ok(scan.finish("symbolic link"));
    }
    let file = std::fs::File::open(path).map_err(io_err)?;
    let reader = std::io::BufReader::with_capacity(1 << 16, Progress::new(file, options.progress));
    Ok(scan_reader_with(&name, reader, limits, options))
}

/// Scans one stream; `name` is its file name (it helps recognise `.pyc`
/// and minified `.js`, and names members of compressed files).
pub fn scan_reader<R: Read>(name: &str, reader: R, limits: &Limits) -> ContentReport {
    scan_reader_with(name, reader, limits, &ScanOptions::default())
}

/// [`scan_reader`] with a root label for member paths (the progress hook
/// is the caller's: it owns the reader).
pub fn scan_reader_with<R: Read>(
    name: &str,
    mut reader: R,
    limits: &Limits,
    options: &ScanOptions<'_>,
) -> ContentReport {
    let mut scan = scan::Scan::new(limits, &options.root);
    scan.top(&mut reader, name);
    scan.finish("")
}

/// Scans bytes in memory.
pub fn scan_bytes(name: &str, bytes: &[u8], limits: &Limits) -> ContentReport {
    scan_reader(name, bytes, limits)
}

/// A reader that tells a progress hook how many bytes went through it.
pub struct Progress<'a, R> {
    inner: R,
    hook: Option<&'a dyn Fn(u64)>,
}

impl<'a, R> Progress<'a, R> {
    /// Wraps `inner`; `hook` (when there is one) is called after each read.
    pub fn new(inner: R, hook: Option<&'a dyn Fn(u64)>) -> Progress<'a, R> {
        Progress { inner, hook }
    }
}

impl<R: Read> Read for Progress<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(hook) = self.hook {
            hook(n as u64);
        }
        Ok(n)
    }
}
