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
//! 12      8     length of the compressed body, u64 little-endian
//! 20      32    SHA-256 of the compressed body
//! 52      …     body: one zstd frame
//! ```
//!
//! The decompressed body is a sequence of columns (varints are unsigned
//! LEB128; ids index earlier columns and are range-checked on reading):
//!
//! 1. header: creator string, store directory, description, and the counts
//!    of strings, nodes, derivations, outputs, environment pairs, output
//!    sets and edges;
//! 2. the string table (lengths, then the text);
//! 3. nodes in path order: 20-byte digests of the hash parts, name string
//!    ids, kinds (0 derivation, 1 source, 2 missing);
//! 4. derivations in node order: node (delta), system, builder, fixed
//!    output (tag: 0 none, else algorithm 1–4 plus 16 when recursive, then
//!    the digest), outputs (name, then 0 no path or 1, the path's name and
//!    digest), kept environment pairs;
//! 5. output-name sets; edges per node (count, targets as deltas, set ids);
//! 6. the package table (rows of name, version, node + 1 or 0 and the
//!    `.drv` base name, module);
//! 7. store metadata when present: NAR size + 1 per node (0 unknown), source
//!    NAR hashes, source references.
//!
//! What a snapshot leaves out: builder arguments and the environment of
//! derivations that are not fixed-output, so it cannot reproduce `.drv`
//! bytes; `verify` needs the `.drv` files.

mod codec;

use crate::build::{Assembly, assemble};
use crate::error::GraphError;
use crate::graph::{Csr, DrvData, Graph, NodeId, NodeKind, OutputData};
use crate::meta::StoreMeta;
use crate::packages::{Package, PackageTable};
use crate::strings::{StrId, Strings};
use abovo_store::derivation::FixedOutput;
use abovo_store::hash::{Hash, HashAlgo};
use abovo_store::nixbase32;
use abovo_store::store_path::{StoreDir, StorePath, validate_name};
use codec::{Dec, Enc};
use sha2::{Digest, Sha256};

/// The first bytes of every snapshot.
pub const MAGIC: &[u8; 8] = b"ABOVOSNP";
/// The format version this build writes and reads.
pub const VERSION: u32 = 1;
const HEADER_LEN: usize = 52;

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

/// Serialises `graph` into a snapshot (zstd `level`, 19 for distribution).
pub fn write(graph: &Graph, creator: &str, level: i32) -> Result<Vec<u8>, SnapshotError> {
    let body = encode(graph, creator);
    let mut enc =
        zstd::bulk::Compressor::new(level).map_err(|e| SnapshotError::Decompress(e.to_string()))?;
    enc.long_distance_matching(true)
        .and_then(|_| enc.window_log(27))
        .map_err(|e| SnapshotError::Decompress(e.to_string()))?;
    let compressed = enc
        .compress(&body)
        .map_err(|e| SnapshotError::Decompress(e.to_string()))?;
    let mut out = Vec::with_capacity(HEADER_LEN + compressed.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(compressed.len() as u64).to_le_bytes());
    out.extend_from_slice(&Sha256::digest(&compressed));
    out.extend_from_slice(&compressed);
    Ok(out)
}

/// Checks the header and checksum and returns the decompressed body.
fn open(bytes: &[u8]) -> Result<Vec<u8>, SnapshotError> {
    if bytes.len() < 8 || &bytes[..8] != MAGIC {
        return Err(SnapshotError::BadMagic);
    }
    if bytes.len() < HEADER_LEN {
        return Err(SnapshotError::TruncatedFile {
            expected: 0,
            actual: 0,
        });
    }
    let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    if version != VERSION {
        return Err(SnapshotError::UnsupportedVersion(version));
    }
    let mut len = [0u8; 8];
    len.copy_from_slice(&bytes[12..20]);
    let len = u64::from_le_bytes(len);
    let body = &bytes[HEADER_LEN..];
    if body.len() as u64 != len {
        return Err(SnapshotError::TruncatedFile {
            expected: len,
            actual: body.len() as u64,
        });
    }
    let actual = Sha256::digest(body);
    if actual[..] != bytes[20..52] {
        return Err(SnapshotError::ChecksumMismatch {
            expected: abovo_store::encoding::base16_encode(&bytes[20..52]),
            actual: abovo_store::encoding::base16_encode(&actual),
        });
    }
    let mut out = Vec::new();
    zstd::stream::read::Decoder::new(body)
        .and_then(|mut d| {
            d.window_log_max(31)?;
            std::io::Read::read_to_end(&mut d, &mut out)
        })
        .map_err(|e| SnapshotError::Decompress(e.to_string()))?;
    Ok(out)
}

/// Reads a snapshot into a graph.
pub fn read(bytes: &[u8]) -> Result<Graph, SnapshotError> {
    let body = open(bytes)?;
    decode(&body).map(|(g, _)| g)
}

/// Reads a snapshot's header and counts (verifying the checksum and
/// decoding the body, so a snapshot that `info` accepts also loads).
pub fn info(bytes: &[u8]) -> Result<SnapshotInfo, SnapshotError> {
    let body = open(bytes)?;
    let (g, creator) = decode(&body)?;
    Ok(SnapshotInfo {
        version: VERSION,
        file_size: bytes.len() as u64,
        body_size: body.len() as u64,
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

fn algo_code(a: HashAlgo) -> u8 {
    match a {
        HashAlgo::Md5 => 1,
        HashAlgo::Sha1 => 2,
        HashAlgo::Sha256 => 3,
        HashAlgo::Sha512 => 4,
    }
}

fn algo_of(code: u8) -> Option<HashAlgo> {
    Some(match code {
        1 => HashAlgo::Md5,
        2 => HashAlgo::Sha1,
        3 => HashAlgo::Sha256,
        4 => HashAlgo::Sha512,
        _ => return None,
    })
}

fn digest20(hash_part: &[u8; 32]) -> [u8; 20] {
    std::str::from_utf8(hash_part)
        .ok()
        .and_then(|s| nixbase32::decode_fixed::<20>(s).ok())
        .unwrap_or([0; 20])
}

fn hash_part(digest: &[u8; 20]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(nixbase32::encode(digest).as_bytes());
    out
}

fn encode(g: &Graph, creator: &str) -> Vec<u8> {
    let mut e = Enc::default();
    let (text, ends) = g.strings.raw_parts();
    e.str(creator);
    e.str(g.store.as_str());
    e.str(&g.description);
    for count in [
        ends.len(),
        g.len(),
        g.drvs.len(),
        g.outputs.len(),
        g.env.len(),
        g.out_sets.len(),
        g.edge_count(),
    ] {
        e.var(count as u64);
    }
    let mut prev = 0;
    for &end in ends {
        e.var(u64::from(end - prev));
        prev = end;
    }
    e.bytes(text.as_bytes());
    for h in &g.hash_parts {
        e.bytes(&digest20(h));
    }
    for s in &g.names {
        e.var(u64::from(s.0));
    }
    for k in &g.kinds {
        e.u8(match k {
            NodeKind::Derivation => 0,
            NodeKind::Source => 1,
            NodeKind::Missing => 2,
        });
    }
    let mut prev = 0;
    for d in &g.drvs {
        e.var(u64::from(d.node.0 - prev));
        prev = d.node.0;
        e.var(u64::from(d.system.0));
        e.var(u64::from(d.builder.0));
        match d.fixed {
            None => e.u8(0),
            Some(f) => {
                e.u8(algo_code(f.hash.algo()) | if f.recursive { 16 } else { 0 });
                e.bytes(f.hash.digest());
            }
        }
        let outputs = &g.outputs[d.outputs.0 as usize..d.outputs.1 as usize];
        e.var(outputs.len() as u64);
        for o in outputs {
            e.var(u64::from(o.name.0));
            match o.path {
                None => e.u8(0),
                Some((h, n)) => {
                    e.u8(1);
                    e.var(u64::from(n.0));
                    e.bytes(&digest20(&h));
                }
            }
        }
        let env = &g.env[d.env.0 as usize..d.env.1 as usize];
        e.var(env.len() as u64);
        for (k, v) in env {
            e.var(u64::from(k.0));
            e.var(u64::from(v.0));
        }
    }
    for set in &g.out_sets {
        e.var(set.len() as u64);
        for s in set {
            e.var(u64::from(s.0));
        }
    }
    for n in g.nodes() {
        let targets = g.inputs(n);
        e.var(targets.len() as u64);
        let mut prev = 0u32;
        for t in targets {
            e.var(u64::from(t.0 - prev));
            prev = t.0;
        }
        for &s in &g.edge_outputs[g.inputs.range(n)] {
            e.var(u64::from(s));
        }
    }
    let table = g.packages();
    e.var(table.len() as u64);
    for (i, p) in table.rows().iter().enumerate() {
        e.str(&p.name);
        e.str(&p.version);
        match table.node(i) {
            Some(n) => e.var(u64::from(n.0) + 1),
            None => {
                e.var(0);
                e.str(&p.derivation.to_string());
            }
        }
        e.str(&p.module);
    }
    let meta = g.meta();
    if meta.is_empty() {
        e.u8(0);
    } else {
        e.u8(1);
        for n in g.nodes() {
            e.var(meta.nar_size(n).map_or(0, |s| s.saturating_add(1)));
        }
        let mut hashes: Vec<_> = meta.nar_hash.iter().collect();
        hashes.sort_unstable();
        e.var(hashes.len() as u64);
        let mut prev = 0;
        for (n, h) in hashes {
            e.var(u64::from(n.0 - prev));
            prev = n.0;
            e.bytes(h);
        }
        let mut refs: Vec<_> = meta.references.iter().collect();
        refs.sort_unstable();
        e.var(refs.len() as u64);
        for (n, list) in refs {
            e.var(u64::from(n.0));
            e.var(list.len() as u64);
            for r in list {
                e.var(u64::from(r.0));
            }
        }
        e.var(meta.rows_outside);
        e.var(meta.references_outside);
    }
    e.buf
}

fn invalid(msg: impl Into<String>) -> SnapshotError {
    SnapshotError::Invalid(msg.into())
}

fn decode(body: &[u8]) -> Result<(Graph, String), SnapshotError> {
    let mut d = Dec::new(body);
    let creator = d.str("creator")?.to_owned();
    let store = StoreDir::new(d.str("store directory")?)
        .map_err(|e| invalid(format!("store directory: {e}")))?;
    let description = d.str("description")?.to_owned();
    let n_strings = d.count(1, "string count")?;
    let n = d.count(21, "node count")?;
    let n_drvs = d.count(4, "derivation count")?;
    let n_outputs = d.count(2, "output count")?;
    let n_env = d.count(2, "environment count")?;
    let n_sets = d.count(1, "output set count")?;
    let n_edges = d.count(2, "edge count")?;

    let mut ends = Vec::with_capacity(n_strings);
    let mut total = 0u64;
    for _ in 0..n_strings {
        total += d.var("string length")?;
        if total > u32::MAX as u64 {
            return Err(invalid("string table too large"));
        }
        ends.push(total as u32);
    }
    let text = std::str::from_utf8(d.bytes(total as usize, "string text")?)
        .map_err(|_| invalid("string table is not UTF-8"))?;
    let strings = Strings::from_raw_parts(text.to_owned(), ends)
        .ok_or_else(|| invalid("string table offsets"))?;
    let sid = |d: &mut Dec<'_>, what| d.below(n_strings, what).map(StrId);

    let digests = d.bytes(n * 20, "node hashes")?;
    let hash_parts: Vec<[u8; 32]> = digests
        .chunks_exact(20)
        .map(|c| {
            let mut a = [0u8; 20];
            a.copy_from_slice(c);
            hash_part(&a)
        })
        .collect();
    let mut names = Vec::with_capacity(n);
    for _ in 0..n {
        let s = sid(&mut d, "node name")?;
        validate_name(strings.get(s)).map_err(|e| invalid(format!("node name: {e}")))?;
        names.push(s);
    }
    let mut kinds = Vec::with_capacity(n);
    for _ in 0..n {
        kinds.push(match d.u8("node kind")? {
            0 => NodeKind::Derivation,
            1 => NodeKind::Source,
            2 => NodeKind::Missing,
            k => return Err(invalid(format!("node kind {k}"))),
        });
    }
    for w in 0..n.saturating_sub(1) {
        let a = (&hash_parts[w], strings.get(names[w]));
        let b = (&hash_parts[w + 1], strings.get(names[w + 1]));
        if a >= b {
            return Err(invalid("nodes are not in path order"));
        }
    }

    let mut drvs = Vec::with_capacity(n_drvs);
    let mut outputs = Vec::with_capacity(n_outputs);
    let mut env = Vec::with_capacity(n_env);
    let mut node = 0u64;
    for i in 0..n_drvs {
        node += d.var("derivation node")?;
        if node >= n as u64
            || (i > 0
                && drvs
                    .last()
                    .is_some_and(|p: &DrvData| u64::from(p.node.0) >= node))
        {
            return Err(invalid(format!("derivation node {node}")));
        }
        let node = NodeId(node as u32);
        if kinds[node.index()] != NodeKind::Derivation {
            return Err(invalid(
                "derivation data for a node that is not a derivation",
            ));
        }
        let system = sid(&mut d, "system")?;
        let builder = sid(&mut d, "builder")?;
        let tag = d.u8("fixed output")?;
        let fixed = if tag == 0 {
            None
        } else {
            let algo = algo_of(tag & 15).ok_or_else(|| invalid(format!("hash tag {tag}")))?;
            let digest = d.bytes(algo.digest_len(), "fixed hash")?;
            let hash = Hash::new(algo, digest).ok_or_else(|| invalid("fixed hash"))?;
            Some(FixedOutput {
                recursive: tag & 16 != 0,
                hash,
            })
        };
        let out_start = outputs.len() as u32;
        let count = d.count(2, "outputs")?;
        for _ in 0..count {
            let name = sid(&mut d, "output name")?;
            let path = match d.u8("output path tag")? {
                0 => None,
                1 => {
                    let pname = sid(&mut d, "output path name")?;
                    validate_name(strings.get(pname))
                        .map_err(|e| invalid(format!("output path: {e}")))?;
                    Some((hash_part(&d.array::<20>("output hash")?), pname))
                }
                t => return Err(invalid(format!("output path tag {t}"))),
            };
            outputs.push(OutputData { name, path });
        }
        let env_start = env.len() as u32;
        let count = d.count(2, "environment")?;
        for _ in 0..count {
            env.push((sid(&mut d, "env key")?, sid(&mut d, "env value")?));
        }
        drvs.push(DrvData {
            node,
            system,
            builder,
            fixed,
            outputs: (out_start, outputs.len() as u32),
            env: (env_start, env.len() as u32),
        });
    }
    if kinds.iter().filter(|k| **k == NodeKind::Derivation).count() != drvs.len() {
        return Err(invalid("derivation count does not match node kinds"));
    }

    let mut out_sets = Vec::with_capacity(n_sets);
    for _ in 0..n_sets {
        let len = d.count(1, "output set")?;
        let mut set = Vec::with_capacity(len);
        for _ in 0..len {
            set.push(sid(&mut d, "output set member")?);
        }
        out_sets.push(set);
    }
    let mut offsets = Vec::with_capacity(n + 1);
    let mut targets = Vec::with_capacity(n_edges);
    let mut edge_outputs = Vec::with_capacity(n_edges);
    offsets.push(0u32);
    for _ in 0..n {
        let count = d.count(2, "edges")?;
        let mut t = 0u64;
        for j in 0..count {
            let delta = d.var("edge target")?;
            if j > 0 && delta == 0 {
                return Err(invalid("repeated edge"));
            }
            t += delta;
            if t >= n as u64 {
                return Err(invalid(format!("edge target {t}")));
            }
            targets.push(NodeId(t as u32));
        }
        for _ in 0..count {
            edge_outputs.push(d.below(n_sets, "edge output set")?);
        }
        if targets.len() > n_edges {
            return Err(invalid("more edges than announced"));
        }
        offsets.push(targets.len() as u32);
    }
    if targets.len() != n_edges {
        return Err(invalid("fewer edges than announced"));
    }

    let rows = d.count(4, "package rows")?;
    let mut packages = Vec::with_capacity(rows);
    for _ in 0..rows {
        let name = d.str("package name")?.to_owned();
        let version = d.str("package version")?.to_owned();
        let derivation = match d.var("package node")? {
            0 => StorePath::from_base_name(d.str("package derivation")?)
                .map_err(|e| invalid(format!("package derivation: {e}")))?,
            k if k <= n as u64 => {
                let i = (k - 1) as usize;
                let name = strings.get(names[i]);
                StorePath::from_base_name(&format!(
                    "{}-{name}",
                    std::str::from_utf8(&hash_parts[i]).unwrap_or("")
                ))
                .map_err(|e| invalid(format!("package derivation: {e}")))?
            }
            k => return Err(invalid(format!("package node {k}"))),
        };
        let module = d.str("package module")?.to_owned();
        packages.push(Package {
            name,
            version,
            derivation,
            module,
        });
    }

    let mut meta = StoreMeta::default();
    if d.u8("metadata flag")? == 1 {
        meta.nar_size = Vec::with_capacity(n);
        for _ in 0..n {
            meta.nar_size.push(d.var("nar size")?.wrapping_sub(1));
        }
        let count = d.count(33, "nar hashes")?;
        let mut node = 0u64;
        for _ in 0..count {
            node += d.var("nar hash node")?;
            if node >= n as u64 {
                return Err(invalid("nar hash node"));
            }
            meta.nar_hash
                .insert(NodeId(node as u32), d.array::<32>("nar hash")?);
        }
        let count = d.count(2, "references")?;
        for _ in 0..count {
            let node = NodeId(d.below(n, "reference owner")?);
            let len = d.count(1, "reference list")?;
            let mut list = Vec::with_capacity(len);
            for _ in 0..len {
                list.push(NodeId(d.below(n, "reference")?));
            }
            meta.references.insert(node, list);
        }
        meta.rows_outside = d.var("rows outside")?;
        meta.references_outside = d.var("references outside")?;
    }
    if !d.at_end() {
        return Err(invalid("bytes after the last column"));
    }
    let mut graph = assemble(Assembly {
        store,
        strings,
        hash_parts,
        names,
        kinds,
        drvs,
        outputs,
        env,
        inputs: Csr { offsets, targets },
        edge_outputs,
        out_sets,
    })?;
    graph.set_description(description);
    if !packages.is_empty() {
        graph.set_packages(PackageTable::new(packages));
    }
    graph.set_meta(meta);
    Ok((graph, creator))
}
