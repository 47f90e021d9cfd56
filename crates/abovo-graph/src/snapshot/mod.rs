//! abovo's snapshot format: a whole [`Graph`] (with its package table and
//! store metadata) in one versioned, checksummed file, in two forms:
//!
//! - the **compressed form** (format version 2, [`write`](fn@write), [`read`]): every
//!   section a zstd frame of varints, 12.6 MB for the whole Guix 1.5.0
//!   distribution, decoded in a few tens of milliseconds. The form to
//!   distribute. Its **dense** variant (format version 6,
//!   [`write_dense`]) has the same layout with each section a zstd frame
//!   or an xz stream, whichever is smaller: 12.1 MB, decoded several
//!   times slower; the one compiled into the `abovo` binary, which must
//!   stay under 25 MB and expands it once into the in-place form.
//! - the **in-place form** (format version 9, [`write_in_place`],
//!   [`open`]; versions 3 to 5, 7 and 8 are still read): the same sections uncompressed,
//!   the columns every query
//!   reads as fixed-width little-endian arrays at 8-byte-aligned offsets,
//!   so that [`open`] maps the file and the graph borrows them as they are
//!   (about three times larger, opened without decoding what a query
//!   does not read; see BENCHMARKS.md). The `abovo` binary expands its built-in snapshot into this
//!   form in its cache once, and maps it in every later process.
//!
//! [`open`] is the entry point for a snapshot file on disk (either form);
//! [`read`] for bytes in memory (either form, everything checked).
//!
//! # Layout of the compressed form (version 2)
//!
//! ```text
//! offset  size  field
//! 0       8     magic "ABOVOSNP"
//! 8       4     format version, u32 little-endian (currently 2)
//! 12      8     length L of the rest, u64 little-endian
//! 20      32    SHA-256 of the rest
//! 52      4     number of sections S, u32 little-endian
//! 56      8·S   compressed length of each section, u64 little-endian
//! …             the sections, each one zstd frame
//! ```
//!
//! Sections are compressed separately so that they decompress and decode in
//! parallel. Version 6 is laid out the same, with the version field 6, and
//! any section may instead be one xz stream (it starts with xz's magic,
//! `FD 37 7A 58 5A 00`; LZMA2, a dictionary no larger than 64 MiB);
//! a version 1 or 2 file with an xz section is refused. Inside, varints
//! are unsigned LEB128; ids index other columns and are range-checked on
//! reading.
//!
//! 0. header: creator, store directory, description, and the counts of
//!    strings, nodes, derivations, outputs, environment pairs, output sets,
//!    edges and packages;
//! 1. the string table (lengths, then the text);
//! 2. nodes in path order: 20-byte digests of the hash parts, name string
//!    ids, kinds (0 derivation, 1 source, 2 missing);
//! 3. derivations in node order: node (delta), system, builder, fixed
//!    output (tag: algorithm 1–4 plus 16 when recursive, then the digest;
//!    without one, 0 for input-addressed, or Nix's kinds known only after
//!    a build, 32 deferred, 64 floating content-addressed, 96 impure),
//!    outputs (name, then 0 no path, 1 the path's name and digest, or 2
//!    for a fixed output at the path its hash gives), kept environment
//!    pairs;
//! 4. output-name sets, then edges per node (count, targets as deltas, set
//!    ids);
//! 5. the package table (rows of name, version, node + 1 or 0 and the
//!    `.drv` base name, module);
//! 6. store metadata (flag, then NAR size + 1 per node with 0 for unknown,
//!    source NAR hashes, source references, counts of rows and references
//!    outside the graph);
//! 7. the package nodes of the package graphs ([`crate::package_graph`]);
//! 8. the edges of the `package` graph;
//! 9. the edges of the `bag-emerged` graph;
//! 10. the package metadata ([`crate::package_meta`]), per row of the
//!     package table.
//!
//! Sections 7 to 10 (format version 2) are laid out in
//! `snapshot/packages.rs`; each holds its own counts and string table, and
//! is one byte long when the graph has no such data. Version 1 files (the
//! first seven sections) are still read, as graphs without package-level
//! data.
//!
//! Nix's kinds use tag values no earlier writer gave (a derivation of
//! Guix's, input-addressed or fixed, is tagged as before), so they need no
//! version of their own: the bytes of a graph without them are unchanged.
//!
//! # Layout of the in-place form (version 9)
//!
//! ```text
//! offset  size  field
//! 0       8     magic "ABOVOSNP"
//! 8       4     format version, u32 little-endian (8)
//! 12      4     number of sections S (44), u32 little-endian
//! 16      8     length of the whole file, u64 little-endian
//! 24      8     XXH3-64 of the section table, u64 little-endian
//! 32      24·S  the section table: per section its offset, its length and
//!               the XXH3-64 of its bytes, each a u64 little-endian
//! …             the sections, each at an offset that is a multiple of 8
//!               (zero bytes between them), the last one padded to a
//!               multiple of 8, where the file ends
//! ```
//!
//! The sections, in order (arrays are little-endian, `×n` per node, `×e`
//! per edge, with the counts of the header section):
//!
//! 0. header: as section 0 of version 2 (varints);
//! 1. string ends: u32 ×strings, the end of each string in the text;
//! 2. string text: the strings' UTF-8 bytes back to back;
//! 3. node hash parts: 32 bytes ×n, each the nix32 text of the path's hash
//!    (what [`Graph::hash_part`] gives, so it is borrowed, not computed);
//! 4. node names: u32 ×n, string ids;
//! 5. node kinds: u8 ×n (0 derivation, 1 source, 2 missing);
//! 6. derivations: as section 3 of version 2 (varints);
//! 7. output-name sets: as the first part of section 4 of version 2;
//! 8. edge offsets: u32 ×(n + 1), the inputs of node `i` being the edges
//!    `offsets[i]..offsets[i + 1]`;
//! 9. edge targets: u32 ×e, node ids, sorted within each node;
//! 10. edge output sets: u16 ×e, ids of output-name sets;
//! 11. the package table, 12. store metadata, 13. package nodes (16.
//!     package metadata in version 4): as sections 5, 6, 7 and 10 of
//!     version 2 (varints, uncompressed); the package table is read where it lies (an offset
//!     per row found when opening), its rows made only when asked for;
//! 14. `package` edges, 15. `bag-emerged` edges: the start of sections 8
//!     and 9 of version 2 (flag, input use sets, edge count), without the
//!     edges, which are in sections 19 to 24;
//! 17. node systems: u32 ×n, the string id of the system of the node's
//!     derivation, `u32::MAX` for nodes that are not derivations;
//! 18. node flags: u8 ×n, per derivation bit 0 (1) when it is
//!     fixed-output, bits 1 and 2 (2, 4 or 6) when it is of one of Nix's
//!     kinds whose paths are known only after its build (deferred,
//!     floating content-addressed, impure; 0 for input-addressed and
//!     fixed), bit 3 (8) when a daemon built-in builds it (its builder is
//!     `builtin:…`); 0 for other nodes (17 and 18 answer what resolving a
//!     name, walking a closure or a trust walk ask of a derivation
//!     without decoding section 6; in version 7 and earlier, only bit 0);
//! 19. to 21. the `package` graph's edges: offsets u32 ×(p + 1), targets
//!     u32 ×pe (package node ids), use set ids u32 ×pe (p package nodes,
//!     pe edges of that graph); 22. to 24. the same for `bag-emerged`
//!     (empty when the graph has no such edges);
//! 25. dependent offsets: u32 ×(n + 1), 26. dependent targets: u32 ×e,
//!     the reverse edges (the dependents of node `i` are
//!     `targets[offsets[i]..offsets[i + 1]]`, sorted);
//! 27. topological order: u32 ×n, every node once, inputs first;
//! 28. to 30. the package metadata: its strings' ends u32 ×ms, their
//!     text, and per row of the package table 8 × u32: flags (1 known, 2
//!     hidden), then the string ids of location, home page, licences,
//!     synopsis, description, systems and superseded; section 16 is then
//!     one byte, 1 when the graph has package metadata, else 0 (and 28 to
//!     30 are empty);
//! 31. to 33. the `package` graph's reverse edges and order, as 25 to 27
//!     over its package nodes: dependent offsets u32 ×(p + 1), dependent
//!     targets u32 ×pe, an inputs-first order u32 ×p; 34. to 36. the same
//!     for `bag-emerged` (each empty when the graph has no such edges);
//! 37. package row starts: u32 ×rows, where each row of section 11
//!     starts; 38. package row nodes: u32 ×rows, the node of the row's
//!     derivation, `u32::MAX` for one outside the graph;
//! 39. derivation output sets: varints, the number of distinct sets of
//!     output names of derivations, then per set its length and the
//!     names' string ids (in the derivation's order); 40. node output
//!     sets: u32 ×n, the set of the node's derivation, `u32::MAX` for
//!     nodes that are not derivations;
//! 41. block checksums: u64 per 1 KiB block (4 KiB in versions 7 and 8;
//!     version 8 is version 9 in all else) of the edge targets, the
//!     edge output sets, the dependent targets, the string text, the node
//!     hash parts, the package metadata text, the derivation facts
//!     (section 6) and the fixed outputs' hash parts (43; these two not
//!     in version 7), in that order (see `snapshot/block_sums.rs` and
//!     `crate::blocks`);
//! 42. derivation starts: u32 ×n, 1 + the offset of the node's
//!     derivation's record in section 6, 0 for nodes that are not
//!     derivations (see `snapshot/drv_starts.rs`);
//! 43. fixed output hash parts: 32 bytes ×n, the nix32 hash part of the
//!     path the node's fixed output's hash gives, zeros for nodes that
//!     are not fixed-output derivations (see `snapshot/fixed_paths.rs`).
//!
//! Sections 25 to 27 and 31 to 36 are derived from the edges: stored so
//! that `dependents`, `seeds` and `why` read them instead of computing
//! them in every process; 37 and 38 so that opening does not walk the
//! package table to find its rows; 39 and 40 so that `show` lists a
//! package's outputs without decoding section 6; 42 so that a query that
//! asks for a few derivations' facts (`seeds`: each seed's fixed output
//! and URLs) reads their records alone, each checked as it is decoded
//! and against the block checksums of the pages it lies on; 43 so that
//! `audit` does not compute the paths of 36,000 fixed outputs (two
//! SHA-256 each). Version 7 has sections 0 to 41 (41 without the blocks
//! of sections 6 and 43) and only bit 0 of the node flags, and is still
//! read (the graph then decodes every derivation at the first one asked
//! for, and computes the fixed outputs' paths). Version 5 has sections
//! 0 to 30 only, and is still read (the graph then computes or decodes
//! what 31 to 40 hold, and checks whole the arrays 41 covers). Version 4 has sections 0 to 24 only, section 16
//! as section 10 of version 2 (varints), and is still read (the graph
//! then computes sections 25 to 27 on first use).
//!
//! Version 3 has sections 0 to 16 only, with the edges of sections 14 and
//! 15 as varints after their edge count, as in version 2; it is still
//! read (systems and fixed-output flags then come from section 6).
//!
//! Sections 1, 4, 5, 7, 8, 11, 17, 18, 37 and 38 are what every query
//! reads: [`open`] checks each against its checksum and each id in it
//! against its range (names and systems below the string count, kinds
//! below 3, flags of known bits (0 or 1 in version 7) and no kind beside
//! fixed, offsets ordered from 0 to the edge count, row
//! starts rising within the package table, row nodes below the node
//! count; in version 5 and earlier, every row of the package table
//! decodes) once, then the graph indexes them without checks. A row of
//! the package table is decoded (each string checked as UTF-8) when it is
//! read. The arrays of section 41 (2, 3, 9, 10, 26 and 29, and 6 and 43
//! in version 8: 46 MB of the whole distribution's 67 MB file) are checked
//! block by block when a query first reads a value in a block: the
//! block's checksum, then each value
//! against its range (targets below the node count, set ids below the
//! set count), so that a query hashes the blocks it reads and no more; in
//! version 5 they are checked whole, when the file is opened or the
//! section first used. Section 6 is checked so too when a record is read
//! alone (version 8), and whole when every derivation is decoded
//! ([`Graph::derivations`]); section 42 is checked whole (each start at
//! most the length of section 6) when a record is first read alone.
//! Sections 12 to 16, 19 to 36, 39 and 40 are
//! checked when first used (the arrays of a package graph, the reverse
//! edges, the metadata rows and the node output sets with the same range
//! checks (set ids below the set count), an order as a permutation of its
//! nodes), so that a `path` query never hashes the derivation facts.
//! Strings are
//! checked as UTF-8 as they are read, one at a time. A checksum is XXH3-64 rather than
//! SHA-256 because it guards against damage (a disk, a truncated copy)
//! many times faster, and a checksum cannot guard against a hostile author
//! anyway, who would recompute it; the range checks are what does. [`read`] and
//! [`info`] check everything at once, as for version 2, including what
//! ties the sections together (path order, valid store names, acyclicity,
//! that the stored arrays are those the other sections give), which
//! [`open`] leaves out.
//!
//! What a snapshot leaves out: builder arguments and the environment of
//! derivations that are not fixed-output, so it cannot reproduce `.drv`
//! bytes; `verify` needs the `.drv` files. Of the package tables it leaves
//! out the edges to inputs that are not packages (origins, files), which
//! `guix graph` does not draw.

mod assemble;
mod block_sums;
mod checked;
mod codec;
mod decode;
mod derived;
mod drv_starts;
mod encode;
mod error;
mod fixed_paths;
mod inplace;
mod meta_rows;
mod node_outputs;
mod packages;
mod row_index;
mod sections;
mod xz;

pub(crate) use decode::{PackageFields, package_fields, package_name_bytes};
pub use error::SnapshotError;
pub use inplace::{OnDamage, OpenOptions, lay_out_in_place, open, open_with, write_in_place};

use crate::graph::{Graph, NodeKind};
use crate::package_graph::GraphType;
use rayon::prelude::*;
use sha2::{Digest, Sha256};

/// The first bytes of every snapshot.
pub const MAGIC: &[u8; 8] = b"ABOVOSNP";
/// The format version of the portable, compressed form this build writes
/// ([`write`](fn@write)); it also reads version 1.
pub const VERSION: u32 = 2;
/// The format version of the dense compressed form ([`write_dense`]): the
/// layout of [`VERSION`], each section a zstd frame or an xz stream,
/// whichever is smaller.
pub const VERSION_DENSE: u32 = 6;
/// The format version of the in-place form ([`write_in_place`], [`open`]).
pub const VERSION_IN_PLACE: u32 = inplace::VERSION;
const HEADER_LEN: usize = 52;
/// The number of sections of this version.
const SECTIONS: usize = 11;
/// The number of sections of version 1 (no package-level data).
const SECTIONS_V1: usize = 7;

/// Whether `version` is one of the in-place form (3 is still read).
fn is_in_place(version: Option<u32>) -> bool {
    matches!(
        version,
        Some(
            VERSION_IN_PLACE
                | inplace::VERSION_8
                | inplace::VERSION_7
                | inplace::VERSION_5
                | inplace::VERSION_4
                | inplace::VERSION_3
        )
    )
}

/// How many sections a file of format `version` has, for the versions
/// this build reads.
fn sections_of(version: u32) -> Result<usize, SnapshotError> {
    match version {
        1 => Ok(SECTIONS_V1),
        VERSION | VERSION_DENSE => Ok(SECTIONS),
        v => Err(SnapshotError::UnsupportedVersion(v)),
    }
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
    /// The checksum, verified: SHA-256 of the compressed body (versions 1
    /// and 2), or the XXH3-64 of the section table (versions 3 to 5, 7 and 8), base16.
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
    /// Number of package table rows with metadata (location, synopsis, …).
    pub packages_with_metadata: u64,
    /// Number of nodes of the package graphs (0 when none).
    pub package_nodes: u64,
    /// Number of edges of the `package` graph (`None` when absent).
    pub package_edges: Option<u64>,
    /// Number of edges of the `bag-emerged` graph (`None` when absent).
    pub bag_emerged_edges: Option<u64>,
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

/// Serialises `graph` into a snapshot of the compressed form (version 2,
/// every section a zstd frame at `opts.level`).
pub fn write(graph: &Graph, opts: &WriteOptions) -> Result<Vec<u8>, SnapshotError> {
    write_with(graph, opts, false)
}

/// Serialises `graph` into a snapshot of the dense compressed form (version
/// 5): each section compressed with zstd at `opts.level` and with xz at
/// preset 9e, and the smaller kept. About 4% smaller than [`write`](fn@write) for a
/// whole distribution, several times slower to write and to read: the form
/// of a snapshot compiled into a binary that must stay small and is read
/// once into the in-place form.
pub fn write_dense(graph: &Graph, opts: &WriteOptions) -> Result<Vec<u8>, SnapshotError> {
    write_with(graph, opts, true)
}

fn write_with(graph: &Graph, opts: &WriteOptions, dense: bool) -> Result<Vec<u8>, SnapshotError> {
    let sections = encode::encode(graph, opts);
    let frames: Vec<Result<Vec<u8>, SnapshotError>> = sections
        .par_iter()
        .map(|body| {
            let err = |e: std::io::Error| SnapshotError::Decompress(e.to_string());
            let mut c = zstd::bulk::Compressor::new(opts.level).map_err(err)?;
            c.long_distance_matching(true).map_err(err)?;
            c.window_log(27).map_err(err)?;
            c.include_contentsize(true).map_err(err)?;
            let zstd = c.compress(body).map_err(err)?;
            if !dense {
                return Ok(zstd);
            }
            let xz = xz::compress(body)?;
            Ok(if xz.len() < zstd.len() { xz } else { zstd })
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
    let version = if dense { VERSION_DENSE } else { VERSION };
    out.extend_from_slice(&version.to_le_bytes());
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
fn open_frames(bytes: &[u8], trusted: bool) -> Result<Vec<&[u8]>, SnapshotError> {
    if bytes.len() < 8 || &bytes[..8] != MAGIC {
        return Err(SnapshotError::BadMagic);
    }
    if bytes.len() < HEADER_LEN {
        return Err(SnapshotError::TruncatedFile {
            needed: HEADER_LEN as u64,
            actual: bytes.len() as u64,
        });
    }
    let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    let sections = sections_of(version)?;
    let len = le_u64(&bytes[12..20]);
    let rest = &bytes[HEADER_LEN..];
    if rest.len() as u64 > len {
        return Err(SnapshotError::Invalid(format!(
            "the header announces {} bytes, the file has {} (bytes after the end)",
            (HEADER_LEN as u64).saturating_add(len),
            bytes.len()
        )));
    }
    if (rest.len() as u64) < len {
        return Err(SnapshotError::TruncatedFile {
            needed: (HEADER_LEN as u64).saturating_add(len),
            actual: bytes.len() as u64,
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
    if count != sections {
        return Err(SnapshotError::Invalid(format!(
            "{count} sections, expected {sections} for format version {version}"
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
    if version != VERSION_DENSE && frames.iter().any(|f| xz::is_xz(f)) {
        return Err(SnapshotError::Invalid(format!(
            "an xz section in a file of format version {version} (only version {VERSION_DENSE} has them)"
        )));
    }
    Ok(frames)
}

/// What each section holds, for messages.
const SECTION_NAMES: [&str; SECTIONS] = [
    "header",
    "strings",
    "nodes",
    "derivations",
    "edges",
    "packages",
    "store metadata",
    "package nodes",
    "package edges",
    "bag-emerged edges",
    "package metadata",
];

/// The most the header section decompresses to: it holds three strings
/// and nine counts.
const HEADER_SECTION_LIMIT: u64 = 1 << 20;
/// The most all sections of one snapshot decompress to together. The
/// Guix 1.5.0 graph takes 48 MB with its package-level data; forty times
/// more is still a sane graph, and a file that claims more is a
/// decompression bomb.
pub const TOTAL_LIMIT: u64 = 2 << 30;
/// A section (other than the header) may decompress to this much whatever
/// its compressed size…
const SECTION_FLOOR: u64 = 16 << 20;
/// …and beyond that to this many times its compressed size. Real sections
/// compress 1 to 5 times; zstd compresses a run of zeros some 30,000 times,
/// which is what a bomb is made of.
const SECTION_RATIO: u64 = 1024;

/// How much a section of `compressed` bytes may decompress to.
fn section_limit(section: usize, compressed: usize) -> u64 {
    if section == 0 {
        return HEADER_SECTION_LIMIT;
    }
    (compressed as u64)
        .saturating_mul(SECTION_RATIO)
        .clamp(SECTION_FLOOR, TOTAL_LIMIT)
}

/// What is left of [`TOTAL_LIMIT`] while the sections of one snapshot
/// decompress (in parallel).
#[derive(Debug)]
pub(super) struct Budget(std::sync::atomic::AtomicU64);

impl Budget {
    pub(super) fn new() -> Budget {
        Budget(std::sync::atomic::AtomicU64::new(TOTAL_LIMIT))
    }

    fn left(&self) -> u64 {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Takes `n` bytes from the budget; false when fewer are left.
    fn spend(&self, n: u64) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        self.0
            .fetch_update(Relaxed, Relaxed, |left| left.checked_sub(n))
            .is_ok()
    }
}

/// Decompresses section number `section`, never to more than its bound
/// ([`section_limit`], and what is left of the snapshot's `budget`): a
/// frame that announces more is refused before any work, and one that does
/// not announce its size is read up to the bound and no further.
pub(super) fn decompress(
    frame: &[u8],
    section: usize,
    budget: &Budget,
) -> Result<Vec<u8>, SnapshotError> {
    let err = |e: std::io::Error| SnapshotError::Decompress(e.to_string());
    let limit = section_limit(section, frame.len()).min(budget.left());
    let too_large = || SnapshotError::SectionTooLarge {
        section: SECTION_NAMES.get(section).copied().unwrap_or("unknown"),
        compressed: frame.len() as u64,
        limit,
    };
    let out = match zstd::zstd_safe::get_frame_content_size(frame) {
        _ if xz::is_xz(frame) => xz::decompress(frame, limit)?.ok_or_else(too_large)?,
        Ok(Some(size)) => {
            if size > limit {
                return Err(too_large());
            }
            // The buffer is exactly the announced size: a frame that holds
            // more fails rather than grows it.
            let mut d = zstd::bulk::Decompressor::new().map_err(err)?;
            d.window_log_max(31).map_err(err)?;
            d.decompress(frame, size as usize).map_err(err)?
        }
        _ => {
            let mut out = Vec::new();
            let mut d = zstd::stream::read::Decoder::new(frame).map_err(err)?;
            d.window_log_max(31).map_err(err)?;
            std::io::Read::read_to_end(
                &mut std::io::Read::take(d, limit.saturating_add(1)),
                &mut out,
            )
            .map_err(err)?;
            if out.len() as u64 > limit {
                return Err(too_large());
            }
            out
        }
    };
    if !budget.spend(out.len() as u64) {
        return Err(too_large());
    }
    Ok(out)
}

/// Reads a snapshot into a graph, checking everything: the checksum, every
/// id, and that the graph is acyclic.
///
/// It reads both forms: the compressed one (versions 1 and 2) and the
/// in-place one (versions 3 to 5, 7 and 8, copied to an aligned buffer first; [`open`]
/// maps a file of it instead).
pub fn read(bytes: &[u8]) -> Result<Graph, SnapshotError> {
    if is_in_place(version_of(bytes)) {
        return checked::read_copy(bytes).map(|(g, _)| g);
    }
    let frames = open_frames(bytes, false)?;
    assemble::decode(&frames).map(|(g, _)| g)
}

/// Fills `buf` from `reader` as far as it goes; how many bytes it got.
fn read_up_to(mut reader: impl std::io::Read, buf: &mut [u8]) -> Result<usize, SnapshotError> {
    let mut len = 0;
    while len < buf.len() {
        match reader.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(SnapshotError::Read(e)),
        }
    }
    Ok(len)
}

/// The format version of a file that starts with the magic.
fn version_of(bytes: &[u8]) -> Option<u32> {
    let v = bytes.get(8..12)?;
    (bytes.get(..8)? == MAGIC).then(|| u32::from_le_bytes([v[0], v[1], v[2], v[3]]))
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
    let frames = open_frames(bytes, true)?;
    assemble::decode_trusted(&frames).map(|(g, _)| g)
}

/// The store directory a snapshot's paths are in, read from its first
/// section only (the first hundred-odd bytes of the file and one small zstd
/// frame): what a loader needs to know before it reads the whole file.
/// Nothing is checked beyond what reading that section needs; the full
/// read ([`read`]) still verifies the checksum and everything else.
pub fn peek_store_dir(
    mut reader: impl std::io::Read,
) -> Result<abovo_store::StoreDir, SnapshotError> {
    // The fixed header, the section count and the first section's length
    // (the others are not needed).
    let mut head = [0u8; HEADER_LEN + 4 + 8];
    let len = read_up_to(&mut reader, &mut head)?;
    if len < 8 || &head[..8] != MAGIC {
        return Err(SnapshotError::BadMagic);
    }
    if len < HEADER_LEN {
        return Err(SnapshotError::TruncatedFile {
            needed: HEADER_LEN as u64,
            actual: len as u64,
        });
    }
    let version = u32::from_le_bytes([head[8], head[9], head[10], head[11]]);
    if is_in_place(Some(version)) {
        return inplace::peek_store_dir(&head[..len], reader);
    }
    let sections = sections_of(version)?;
    // The size of the whole file, as the header announces it: what a
    // truncation is measured against, as the full read does.
    let needed = (HEADER_LEN as u64).saturating_add(le_u64(&head[12..20]));
    if len < head.len() {
        return Err(SnapshotError::TruncatedFile {
            needed,
            actual: len as u64,
        });
    }
    let count = u32::from_le_bytes([
        head[HEADER_LEN],
        head[HEADER_LEN + 1],
        head[HEADER_LEN + 2],
        head[HEADER_LEN + 3],
    ]) as usize;
    if count != sections {
        return Err(SnapshotError::Invalid(format!(
            "{count} sections, expected {sections} for format version {version}"
        )));
    }
    // The header section's compressed size is bounded like its content.
    let first = le_u64(&head[HEADER_LEN + 4..]);
    if first > HEADER_SECTION_LIMIT {
        return Err(SnapshotError::Invalid(format!(
            "header section of {first} bytes"
        )));
    }
    // Skip the other sections' lengths.
    let skip = 8 * (sections as u64 - 1);
    let skipped = std::io::copy(
        &mut std::io::Read::take(&mut reader, skip),
        &mut std::io::sink(),
    )
    .map_err(SnapshotError::Read)?;
    if skipped != skip {
        return Err(SnapshotError::TruncatedFile {
            needed,
            actual: (head.len() as u64) + skipped,
        });
    }
    let mut frame = Vec::with_capacity(first as usize);
    std::io::Read::read_to_end(&mut std::io::Read::take(&mut reader, first), &mut frame)
        .map_err(SnapshotError::Read)?;
    if frame.len() as u64 != first {
        return Err(SnapshotError::TruncatedFile {
            needed,
            actual: head.len() as u64 + skip + frame.len() as u64,
        });
    }
    decode::store_dir(&decompress(&frame, 0, &Budget::new())?)
}

/// Reads a snapshot's header and counts (verifying the checksum and
/// decoding everything, so a snapshot that `info` accepts also loads).
pub fn info(bytes: &[u8]) -> Result<SnapshotInfo, SnapshotError> {
    let (version, body_size, checksum, (g, creator)) =
        if let Some(v) = version_of(bytes).filter(|&v| is_in_place(Some(v))) {
            let (g, creator, table) = checked::read_copy_with_table(bytes)?;
            (v, bytes.len() as u64, table, (g, creator))
        } else {
            let frames = open_frames(bytes, false)?;
            let body_size = frames
                .iter()
                .map(|f| match xz::is_xz(f) {
                    true => xz::uncompressed_size(f).unwrap_or(0),
                    false => zstd::zstd_safe::get_frame_content_size(f)
                        .ok()
                        .flatten()
                        .unwrap_or(0),
                })
                .sum();
            let version = version_of(bytes).unwrap_or(VERSION);
            let checksum = abovo_store::encoding::base16_encode(&bytes[20..52]);
            (version, body_size, checksum, assemble::decode(&frames)?)
        };
    let edges = |ty| {
        g.package_graph()
            .has(ty)
            .then(|| g.package_graph().edge_count(ty) as u64)
    };
    Ok(SnapshotInfo {
        version,
        file_size: bytes.len() as u64,
        body_size,
        checksum,
        creator,
        store_dir: g.store_dir().to_string(),
        description: g.description().to_owned(),
        nodes: g.len() as u64,
        derivations: g.derivation_count() as u64,
        fixed_output: g.derivations().filter(|d| d.is_fixed_output()).count() as u64,
        sources: g.nodes().filter(|&n| g.kind(n) == NodeKind::Source).count() as u64,
        edges: g.edge_count() as u64,
        packages: g.packages().len() as u64,
        packages_with_metadata: (0..g.packages().len())
            .filter(|&i| g.package_meta().get(i).is_some())
            .count() as u64,
        package_nodes: g.package_graph().len() as u64,
        package_edges: edges(GraphType::Package),
        bag_emerged_edges: edges(GraphType::BagEmerged),
        sized_nodes: g.meta().sized() as u64,
    })
}

#[cfg(test)]
mod tests;
