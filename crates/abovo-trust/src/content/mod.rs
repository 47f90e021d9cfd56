//! Content classification: look at a seed's bytes and say what it is.
//!
//! The strongest evidence abovo has is the bytes themselves. This module
//! reads a file, a directory tree or a stream and decides its [`Kind`]:
//!
//! - a single stream is recognised by its magic number ([`magic`]):
//!   executable code (ELF, PE, Mach-O, JVM class, Python bytecode, wasm,
//!   LLVM bitcode, …) is `binary`; text is `source` unless it looks
//!   machine-made ([`text`]), then `generated`; recognised non-code data
//!   (images, fonts) is `source`; anything else is opaque and `unknown`;
//! - compression (gzip, xz, bzip2, zstd, lzip, lzma) is undone and the inner
//!   stream classified; containers (tar, zip/jar, ar) and directories are
//!   walked, nested to any depth within [`Limits`], and every member is
//!   classified the same way;
//! - a container or tree is `binary` when binary members make up at least
//!   half of its bytes, `source-with-binaries` when it has binary members
//!   but fewer, otherwise `generated` when machine-made text is most of its
//!   text, `unknown` when unrecognised data is most of it, else `source`.
//!   When the scan could not finish (corrupt data, a limit hit) and found no
//!   binary, the answer is `unknown`: what was not seen cannot be vouched
//!   for.
//!
//! The report lists which members are binary (with their sizes), which are
//! generated and which are opaque, so that a person can check the verdict.
//! Nothing is ever written to disk: archives are read as streams, so member
//! names with `..` or absolute paths are only ever printed (escaped).

pub mod layers;
pub mod limits;
pub mod lzip;
pub mod magic;
mod scan;
pub mod text;

use crate::kind::Kind;
pub use limits::Limits;
use serde::Serialize;
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    /// Its path: members of nested archives are joined with `!/`
    /// (`bin.zip!/lib/x.jar!/A.class`). Control characters are escaped.
    pub path: String,
    /// What it is (`ELF 32-bit LSB executable, Intel 80386`).
    pub what: String,
    /// Its size in bytes (expanded).
    pub size: u64,
}

/// What a content scan found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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

/// Scans a file or a directory tree (symbolic links are not followed).
pub fn scan_path(path: &Path, limits: &Limits) -> Result<ContentReport, ContentError> {
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
        let mut scan = scan::Scan::new(limits);
        scan.directory(path).map_err(io_err)?;
        return Ok(scan.finish("directory"));
    }
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(path).map_err(io_err)?;
        let mut scan = scan::Scan::new(limits);
        scan.note_symlink(&target);
        return Ok(scan.finish("symbolic link"));
    }
    let file = std::fs::File::open(path).map_err(io_err)?;
    Ok(scan_reader(
        &name,
        std::io::BufReader::with_capacity(1 << 16, file),
        limits,
    ))
}

/// Scans one stream; `name` is its file name (it helps recognise `.pyc`
/// and minified `.js`, and names members of compressed files).
pub fn scan_reader<R: Read>(name: &str, mut reader: R, limits: &Limits) -> ContentReport {
    let mut scan = scan::Scan::new(limits);
    scan.top(&mut reader, name);
    scan.finish("")
}

/// Scans bytes in memory.
pub fn scan_bytes(name: &str, bytes: &[u8], limits: &Limits) -> ContentReport {
    scan_reader(name, bytes, limits)
}
