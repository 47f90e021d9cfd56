//! abovo's snapshot format: a whole [`Graph`] (with its package table and
//! store metadata) in one compact, versioned, checksummed file that loads in
//! a few tens of milliseconds.
//!
//! # Layout
//!
//! ```text
//! offset  size  field
//! 0       8     magic "ABOVOSNP"
//! 8       4     format version, u32 little-endian (currently 1)
//! 12      8     length L of the rest, u64 little-endian
//! 20      32    SHA-256 of the rest
//! 52      4     number of sections S, u32 little-endian
//! 56      8·S   compressed length of each section, u64 little-endian
//! …             the sections, each one zstd frame
//! ```
//!
//! Sections are compressed separately so that they decompress and decode in
//! parallel. Inside, varints are unsigned LEB128; ids index other columns
//! and are range-checked on reading.
//!
//! 0. header: creator, store directory, description, and the counts of
//!    strings, nodes, derivations, outputs, environment pairs, output sets,
//!    edges and packages;
//! 1. the string table (lengths, then the text);
//! 2. nodes in path order: 20-byte digests of the hash parts, name string
//!    ids, kinds (0 derivation, 1 source, 2 missing);
//! 3. derivations in node order: node (delta), system, builder, fixed
//!    output (tag: 0 none, else algorithm 1–4 plus 16 when recursive, then
//!    the digest), outputs (name, then 0 no path, 1 the path's name and
//!    digest, or 2 for a fixed output at the path its hash gives), kept
//!    environment pairs;
//! 4. output-name sets, then edges per node (count, targets as deltas, set
//!    ids);
//! 5. the package table (rows of name, version, node + 1 or 0 and the
//!    `.drv` base name, module);
//! 6. store metadata (flag, then NAR size + 1 per node with 0 for unknown,
//!    source NAR hashes, source references, counts of rows and references
//!    outside the graph).
//!
//! What a snapshot leaves out: builder arguments and the environment of
//! derivations that are not fixed-output, so it cannot reproduce `.drv`
//! bytes; `verify` needs the `.drv` files.

mod codec;
mod decode;
mod encode;

use crate::error::GraphError;
use crate::graph::{Graph, NodeKind};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

/// The first bytes of every snapshot.
pub const MAGIC: &[u8; 8] = b"ABOVOSNP";
/// The format version this build writes and reads.
pub const VERSION: u32 = 1;
const HEADER_LEN: usize = 52;
/// The number of sections of this version.
const SECTIONS: usize = 7;

/// Why a snapshot cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// The file does not start with the snapshot magic.
    #[error("not an abovo snapshot (bad magic number)")]
    BadMagic,
    /// A format version this build does not read.
    #[error("snapshot format version {0} is not supported (this abovo reads version {VERSION})")]
    UnsupportedVersion(u32),
    /// The file is shorter than its header says.
    #[error("truncated: the header announces {expected} bytes of body, the file has {actual}")]
    TruncatedFile {
        /// Body length in the header.
        expected: u64,
        /// Body bytes present.
        actual: u64,
    },
    /// The body does not match its checksum.
    #[error("checksum mismatch: header says sha256 {expected}, body has {actual}")]
    ChecksumMismatch {
        /// The checksum in the header (base16).
        expected: String,
        /// The checksum of the body (base16).
        actual: String,
    },
    /// The file cannot be read.
    #[error("cannot read: {0}")]
    Read(#[source] std::io::Error),
    /// The body does not decompress.
    #[error("body does not decompress: {0}")]
    Decompress(String),
    /// The body ends early.
    #[error("body truncated while reading {what} at offset {offset}")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Offset in the decompressed body.
        offset: usize,
    },
    /// The body holds an impossible value.
    #[error("invalid body: {0}")]
    Invalid(String),
    /// The graph it describes is not valid.
    #[error(transparent)]
    Graph(#[from] GraphError),
}

/// What `abovo snapshot info` shows.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SnapshotInfo {
    /// Format version.
    pub version: u32,
    /// Size of the whole file in bytes.
    pub file_size: u64,
    /// Size of the decompressed body.
    pub body_size: u64,
    /// SHA-256 of the compressed body (base16); verified.
    pub checksum: String,
    /// What wrote it.
    pub creator: String,
    /// The store directory.
    pub store_dir: String,
    /// Where the graph came from.
    pub description: String,
    /// Number of nodes.
    pub nodes: u64,
    /// Number of derivations.
    pub derivations: u64,
    /// Number of fixed-output derivations.
    pub fixed_output: u64,
    /// Number of input sources.
    pub sources: u64,
    /// Number of edges.
    pub edges: u64,
    /// Number of package table rows (0 when none).
    pub packages: u64,
    /// Number of nodes with a known NAR size (0 when no metadata).
    pub sized_nodes: u64,
}

/// How to write a snapshot.
#[derive(Debug, Clone)]
pub struct WriteOptions {
    /// What wrote it (shown by `snapshot info`), e.g. `abovo 0.1.0`.
    pub creator: String,
    /// zstd level: 19 for a snapshot to distribute, 3 for a quick one.
    pub level: i32,
    /// Keep the NAR hashes of sources (32 incompressible bytes each).
    pub nar_hashes: bool,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            creator: format!("abovo-graph {}", env!("CARGO_PKG_VERSION")),
            level: 19,
            nar_hashes: true,
        }
    }
}

/// Serialises `graph` into a snapshot.
pub fn write(graph: &Graph, opts: &WriteOptions) -> Result<Vec<u8>, SnapshotError> {
    let sections = encode::encode(graph, opts);
    let frames: Vec<Result<Vec<u8>, SnapshotError>> = sections
        .par_iter()
        .map(|body| {
            let err = |e: std::io::Error| SnapshotError::Decompress(e.to_string());
            let mut c = zstd::bulk::Compressor::new(opts.level).map_err(err)?;
            c.long_distance_matching(true).map_err(err)?;
            c.window_log(27).map_err(err)?;
            c.include_contentsize(true).map_err(err)?;
            c.compress(body).map_err(err)
        })
        .collect();
    let frames: Vec<Vec<u8>> = frames.into_iter().collect::<Result<_, _>>()?;
    let mut rest = Vec::new();
    rest.extend_from_slice(&(frames.len() as u32).to_le_bytes());
    for f in &frames {
        rest.extend_from_slice(&(f.len() as u64).to_le_bytes());
    }
    for f in &frames {
        rest.extend_from_slice(f);
    }
    let mut out = Vec::with_capacity(HEADER_LEN + rest.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(rest.len() as u64).to_le_bytes());
    out.extend_from_slice(&Sha256::digest(&rest));
    out.extend_from_slice(&rest);
    Ok(out)
}

fn le_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

/// Checks the header (and, unless `trusted`, the checksum) and returns the
/// compressed sections.
fn open(bytes: &[u8], trusted: bool) -> Result<Vec<&[u8]>, SnapshotError> {
    if bytes.len() < 8 || &bytes[..8] != MAGIC {
        return Err(SnapshotError::BadMagic);
    }
    if bytes.len() < HEADER_LEN {
        return Err(SnapshotError::TruncatedFile {
            expected: HEADER_LEN as u64,
            actual: bytes.len() as u64,
        });
    }
    let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    if version != VERSION {
        return Err(SnapshotError::UnsupportedVersion(version));
    }
    let len = le_u64(&bytes[12..20]);
    let rest = &bytes[HEADER_LEN..];
    if rest.len() as u64 != len {
        return Err(SnapshotError::TruncatedFile {
            expected: len,
            actual: rest.len() as u64,
        });
    }
    let actual = if trusted {
        [0u8; 32].into()
    } else {
        Sha256::digest(rest)
    };
    if !trusted && actual[..] != bytes[20..52] {
        return Err(SnapshotError::ChecksumMismatch {
            expected: abovo_store::encoding::base16_encode(&bytes[20..52]),
            actual: abovo_store::encoding::base16_encode(&actual),
        });
    }
    let bad = |m: &str| SnapshotError::Invalid(m.to_owned());
    if rest.len() < 4 {
        return Err(bad("no section table"));
    }
    let count = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
    if count != SECTIONS {
        return Err(SnapshotError::Invalid(format!(
            "{count} sections, expected {SECTIONS}"
        )));
    }
    let table_end = 4 + 8 * count;
    if rest.len() < table_end {
        return Err(bad("truncated section table"));
    }
    let mut frames = Vec::with_capacity(count);
    let mut at = table_end as u64;
    for i in 0..count {
        let n = le_u64(&rest[4 + 8 * i..]);
        let end = at.checked_add(n).filter(|&e| e <= rest.len() as u64);
        let end = end.ok_or_else(|| bad("section past the end of the file"))?;
        frames.push(&rest[at as usize..end as usize]);
        at = end;
    }
    if at != rest.len() as u64 {
        return Err(bad("bytes after the last section"));
    }
    Ok(frames)
}

/// Decompresses one frame, into a buffer of its announced size when the
/// frame says it (and that size is sane).
pub(super) fn decompress(frame: &[u8]) -> Result<Vec<u8>, SnapshotError> {
    let err = |e: std::io::Error| SnapshotError::Decompress(e.to_string());
    const LIMIT: u64 = 1 << 32;
    match zstd::zstd_safe::get_frame_content_size(frame) {
        Ok(Some(size)) if size <= LIMIT => {
            let mut d = zstd::bulk::Decompressor::new().map_err(err)?;
            d.window_log_max(31).map_err(err)?;
            d.decompress(frame, size as usize).map_err(err)
        }
        _ => {
            let mut out = Vec::new();
            let mut d = zstd::stream::read::Decoder::new(frame).map_err(err)?;
            d.window_log_max(31).map_err(err)?;
            std::io::Read::read_to_end(&mut d, &mut out).map_err(err)?;
            Ok(out)
        }
    }
}

/// Reads a snapshot into a graph, checking everything: the checksum, every
/// id, and that the graph is acyclic.
pub fn read(bytes: &[u8]) -> Result<Graph, SnapshotError> {
    let frames = open(bytes, false)?;
    decode::decode(&frames).map(|(g, _)| g)
}

/// Reads a snapshot whose integrity is vouched for otherwise — one compiled
/// into the program that reads it, checked by the tests when it was made.
/// It does only what a query needs before the first answer: no checksum,
/// no check of what ties the sections together, the topological order
/// computed on first use, and the derivation facts and store metadata
/// decoded from their (static) sections on first use, so that a command
/// such as `abovo path` never decodes them. Every id is still range-checked,
/// so even a damaged snapshot cannot cause a panic (a lazily decoded
/// section that is damaged reads as empty).
pub fn read_trusted(bytes: &'static [u8]) -> Result<Graph, SnapshotError> {
    let frames = open(bytes, true)?;
    decode::decode_trusted(&frames).map(|(g, _)| g)
}

/// The store directory a snapshot's paths are in, read from its first
/// section only (the first hundred-odd bytes of the file and one small zstd
/// frame): what a loader needs to know before it reads the whole file.
/// Nothing is checked beyond what reading that section needs; the full
/// read ([`read`]) still verifies the checksum and everything else.
pub fn peek_store_dir(
    mut reader: impl std::io::Read,
) -> Result<abovo_store::StoreDir, SnapshotError> {
    // The fixed header, the section count and the section lengths.
    let mut head = [0u8; HEADER_LEN + 4 + 8 * SECTIONS];
    let mut len = 0;
    while len < head.len() {
        match reader.read(&mut head[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(SnapshotError::Read(e)),
        }
    }
    if len < 8 || &head[..8] != MAGIC {
        return Err(SnapshotError::BadMagic);
    }
    if len < head.len() {
        return Err(SnapshotError::TruncatedFile {
            expected: head.len() as u64,
            actual: len as u64,
        });
    }
    let version = u32::from_le_bytes([head[8], head[9], head[10], head[11]]);
    if version != VERSION {
        return Err(SnapshotError::UnsupportedVersion(version));
    }
    let count = u32::from_le_bytes([
        head[HEADER_LEN],
        head[HEADER_LEN + 1],
        head[HEADER_LEN + 2],
        head[HEADER_LEN + 3],
    ]) as usize;
    if count != SECTIONS {
        return Err(SnapshotError::Invalid(format!(
            "{count} sections, expected {SECTIONS}"
        )));
    }
    // The header section holds three strings and nine counts.
    const HEADER_SECTION_LIMIT: u64 = 1 << 20;
    let first = le_u64(&head[HEADER_LEN + 4..]);
    if first > HEADER_SECTION_LIMIT {
        return Err(SnapshotError::Invalid(format!(
            "header section of {first} bytes"
        )));
    }
    let mut frame = Vec::with_capacity(first as usize);
    std::io::Read::read_to_end(&mut std::io::Read::take(&mut reader, first), &mut frame)
        .map_err(SnapshotError::Read)?;
    if frame.len() as u64 != first {
        return Err(SnapshotError::TruncatedFile {
            expected: first,
            actual: frame.len() as u64,
        });
    }
    decode::store_dir(&decompress(&frame)?)
}

/// Reads a snapshot's header and counts (verifying the checksum and
/// decoding everything, so a snapshot that `info` accepts also loads).
pub fn info(bytes: &[u8]) -> Result<SnapshotInfo, SnapshotError> {
    let frames = open(bytes, false)?;
    let body_size = frames
        .iter()
        .map(|f| {
            zstd::zstd_safe::get_frame_content_size(f)
                .ok()
                .flatten()
                .unwrap_or(0)
        })
        .sum();
    let (g, creator) = decode::decode(&frames)?;
    Ok(SnapshotInfo {
        version: VERSION,
        file_size: bytes.len() as u64,
        body_size,
        checksum: abovo_store::encoding::base16_encode(&bytes[20..52]),
        creator,
        store_dir: g.store_dir().to_string(),
        description: g.description().to_owned(),
        nodes: g.len() as u64,
        derivations: g.derivation_count() as u64,
        fixed_output: g.derivations().filter(|d| d.is_fixed_output()).count() as u64,
        sources: g.nodes().filter(|&n| g.kind(n) == NodeKind::Source).count() as u64,
        edges: g.edge_count() as u64,
        packages: g.packages().len() as u64,
        sized_nodes: g.meta().sized() as u64,
    })
}
