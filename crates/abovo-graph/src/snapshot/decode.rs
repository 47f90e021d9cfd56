//! Reading each snapshot section back into columns (see the
//! [format](super)); [`super::assemble`] puts them together into a graph.

use super::SnapshotError;
use super::codec::Dec;
use crate::dag::Csr;
use crate::graph::{DrvData, NodeId, NodeKind, OutPath, OutputData, path_from_parts};
use crate::meta::StoreMeta;
use crate::package_graph::PackageGraph;
use crate::packages::Package;
use crate::strings::{StrId, Strings};
use abovo_store::derivation::{DerivationKind, FixedOutput};
use abovo_store::hash::{Hash, HashAlgo};
use abovo_store::store_path::{StoreDir, StorePath};

/// The 32 nix32 characters of a 20-byte store path digest: the digest read
/// as one little-endian 160-bit number, five bits a character, most
/// significant first (what `abovo_store::nixbase32::encode` gives, without
/// building a string — this runs for every node of a snapshot).
fn hash_part_of(d: &[u8]) -> [u8; 32] {
    const ALPHABET: &[u8; 32] = b"0123456789abcdfghijklmnpqrsvwxyz";
    let mut lo = [0u8; 16];
    lo.copy_from_slice(&d[..16]);
    let lo = u128::from_le_bytes(lo);
    let hi = u32::from_le_bytes([d[16], d[17], d[18], d[19]]);
    let mut out = [0u8; 32];
    for (k, c) in out.iter_mut().rev().enumerate() {
        let bit = 5 * k as u32;
        let v = if bit + 5 <= 128 {
            (lo >> bit) as u32
        } else if bit >= 128 {
            hi >> (bit - 128)
        } else {
            ((lo >> bit) as u32) | (hi << (128 - bit))
        };
        *c = ALPHABET[(v & 31) as usize];
    }
    out
}

pub(super) fn invalid(msg: impl Into<String>) -> SnapshotError {
    SnapshotError::Invalid(msg.into())
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

/// The counts and names of the header section.
#[derive(Clone)]
pub(super) struct Header {
    pub(super) creator: String,
    pub(super) store: StoreDir,
    pub(super) description: String,
    pub(super) strings: usize,
    pub(super) nodes: usize,
    pub(super) drvs: usize,
    pub(super) outputs: usize,
    pub(super) env: usize,
    pub(super) sets: usize,
    pub(super) edges: usize,
    pub(super) packages: usize,
}

pub(super) fn header(data: &[u8]) -> Result<Header, SnapshotError> {
    let mut d = Dec::new(data);
    let creator = d.str("creator")?.to_owned();
    let store = StoreDir::new(d.str("store directory")?)
        .map_err(|e| invalid(format!("store directory: {e}")))?;
    let description = d.str("description")?.to_owned();
    // Counts are bounded by what could possibly fit in 4 GiB sections; the
    // readers check them again against their own data.
    let mut count = |what| -> Result<usize, SnapshotError> {
        let v = d.var(what)?;
        if v > u32::MAX as u64 {
            return Err(invalid(format!("{what} {v} too large")));
        }
        Ok(v as usize)
    };
    let h = Header {
        creator,
        store,
        description,
        strings: count("string count")?,
        nodes: count("node count")?,
        drvs: count("derivation count")?,
        outputs: count("output count")?,
        env: count("environment count")?,
        sets: count("output set count")?,
        edges: count("edge count")?,
        packages: count("package count")?,
    };
    if !d.at_end() {
        return Err(invalid("bytes after the header"));
    }
    Ok(h)
}

/// The store directory of a decompressed header section.
pub(super) fn store_dir(data: &[u8]) -> Result<StoreDir, SnapshotError> {
    header(data).map(|h| h.store)
}

pub(super) fn strings(mut data: Vec<u8>, h: &Header) -> Result<Strings, SnapshotError> {
    let mut d = Dec::new(&data);
    let mut ends = Vec::with_capacity(h.strings.min(data.len()));
    let mut total = 0u64;
    for _ in 0..h.strings {
        // A length near 2^64 must not wrap the sum around.
        total = total
            .checked_add(d.var("string length")?)
            .filter(|&t| t <= u64::from(u32::MAX))
            .ok_or_else(|| invalid("string table too large"))?;
        ends.push(total as u32);
    }
    d.bytes(total as usize, "string text")?;
    if !d.at_end() {
        return Err(invalid("bytes after the string table"));
    }
    // The text is the tail of the section: keep the buffer, drop the lengths.
    let start = data.len() - total as usize;
    data.drain(..start);
    let text = String::from_utf8(data).map_err(|_| invalid("string table is not UTF-8"))?;
    Strings::from_raw_parts(text, ends).ok_or_else(|| invalid("string table offsets"))
}

pub(super) struct Nodes {
    pub(super) hash_parts: Vec<[u8; 32]>,
    pub(super) names: Vec<StrId>,
    pub(super) kinds: Vec<NodeKind>,
}

pub(super) fn nodes(data: &[u8], h: &Header) -> Result<Nodes, SnapshotError> {
    let mut d = Dec::new(data);
    let digests = d.bytes(
        h.nodes
            .checked_mul(20)
            .ok_or_else(|| invalid("node count"))?,
        "node hashes",
    )?;
    // Indexed, so rayon collects straight into a vector of the final size.
    let hash_parts = {
        use rayon::prelude::*;
        digests.par_chunks_exact(20).map(hash_part_of).collect()
    };
    let mut names = Vec::with_capacity(h.nodes);
    for _ in 0..h.nodes {
        names.push(StrId(d.below(h.strings, "node name")?));
    }
    let kinds = d
        .bytes(h.nodes, "node kinds")?
        .iter()
        .map(|&k| match k {
            0 => Ok(NodeKind::Derivation),
            1 => Ok(NodeKind::Source),
            2 => Ok(NodeKind::Missing),
            k => Err(invalid(format!("node kind {k}"))),
        })
        .collect::<Result<_, _>>()?;
    if !d.at_end() {
        return Err(invalid("bytes after the nodes"));
    }
    Ok(Nodes {
        hash_parts,
        names,
        kinds,
    })
}

pub(super) struct Drvs {
    pub(super) drvs: Vec<DrvData>,
    pub(super) outputs: Vec<OutputData>,
    pub(super) env: Vec<(StrId, StrId)>,
}

pub(super) fn derivations(data: &[u8], h: &Header) -> Result<Drvs, SnapshotError> {
    let mut d = Dec::new(data);
    let cap = |n: usize| n.min(data.len());
    let mut drvs = Vec::with_capacity(cap(h.drvs));
    let mut outputs = Vec::with_capacity(cap(h.outputs));
    let mut env = Vec::with_capacity(cap(h.env));
    let mut node = 0u64;
    for i in 0..h.drvs {
        let (delta, data) = record(&mut d, h.strings, &mut outputs, &mut env)?;
        node = next_node(i, node, delta, h)?;
        drvs.push(DrvData {
            node: NodeId(node as u32),
            ..data
        });
    }
    if !d.at_end() {
        return Err(invalid("bytes after the derivations"));
    }
    Ok(Drvs { drvs, outputs, env })
}

/// The node of derivation `i`, `delta` after the previous one's (`node`).
fn next_node(i: usize, node: u64, delta: u64, h: &Header) -> Result<u64, SnapshotError> {
    if i > 0 && delta == 0 {
        return Err(invalid("two derivations on one node"));
    }
    let node = node.saturating_add(delta);
    if node >= h.nodes as u64 {
        return Err(invalid(format!("derivation node {node}")));
    }
    Ok(node)
}

/// Where each derivation's record starts in the derivation facts (the
/// section `data`, as [`derivations`] reads it), with its node: what the
/// in-place form stores per node so that one record can be read alone.
pub(super) fn record_starts(data: &[u8], h: &Header) -> Result<Vec<(NodeId, u32)>, SnapshotError> {
    let mut d = Dec::new(data);
    let mut starts = Vec::with_capacity(h.drvs.min(data.len()));
    let (mut outputs, mut env) = (Vec::new(), Vec::new());
    let mut node = 0u64;
    for i in 0..h.drvs {
        let at = d.pos();
        let (delta, _) = record(&mut d, h.strings, &mut outputs, &mut env)?;
        node = next_node(i, node, delta, h)?;
        let at = u32::try_from(at).map_err(|_| invalid("derivation facts past 4 GiB"))?;
        starts.push((NodeId(node as u32), at));
        outputs.clear();
        env.clear();
    }
    if !d.at_end() {
        return Err(invalid("bytes after the derivations"));
    }
    Ok(starts)
}

/// One derivation's record, read alone from `data` at `at` (as
/// [`record_starts`] finds it) for node `node` of a graph of `strings`
/// strings: its facts (output and environment ranges into its own
/// vectors), outputs and kept environment, and where the record ends.
pub(super) fn one_record(
    data: &[u8],
    at: usize,
    node: NodeId,
    strings: usize,
) -> (Result<OneRecord, SnapshotError>, usize) {
    let mut d = Dec::new(data.get(at..).unwrap_or_default());
    let (mut outputs, mut env) = (Vec::new(), Vec::new());
    // The node's delta is the previous record's business: the caller
    // knows the node it asked for.
    let got = record(&mut d, strings, &mut outputs, &mut env);
    let end = at + d.pos();
    let got = got.map(|(_, data)| OneRecord {
        data: DrvData { node, ..data },
        outputs,
        env,
    });
    (got, end)
}

/// One derivation read alone ([`one_record`]).
pub(super) struct OneRecord {
    pub(super) data: DrvData,
    pub(super) outputs: Vec<OutputData>,
    pub(super) env: Vec<(StrId, StrId)>,
}

/// Reads one derivation's record at `d` (see the [format](super)),
/// pushing its outputs and kept environment: the delta of its node from
/// the previous record's, and its facts (node 0, for the caller to set).
fn record(
    d: &mut Dec<'_>,
    strings: usize,
    outputs: &mut Vec<OutputData>,
    env: &mut Vec<(StrId, StrId)>,
) -> Result<(u64, DrvData), SnapshotError> {
    let sid = |d: &mut Dec<'_>, what| d.below(strings, what).map(StrId);
    let delta = d.var("derivation node")?;
    let system = sid(d, "system")?;
    let builder = sid(d, "builder")?;
    let tag = d.u8("fixed output")?;
    let fixed = if tag & 31 == 0 {
        None
    } else {
        let algo = algo_of(tag & 15).ok_or_else(|| invalid(format!("hash tag {tag}")))?;
        let digest = d.bytes(algo.digest_len(), "fixed hash")?;
        Some(FixedOutput {
            recursive: tag & 16 != 0,
            hash: Hash::new(algo, digest).ok_or_else(|| invalid("fixed hash"))?,
        })
    };
    let kind = match (fixed.is_some(), tag >> 5) {
        (true, _) => DerivationKind::Fixed,
        (false, 0) => DerivationKind::InputAddressed,
        (false, 1) => DerivationKind::Deferred,
        (false, 2) => DerivationKind::Floating,
        (false, 3) => DerivationKind::Impure,
        _ => return Err(invalid(format!("derivation tag {tag}"))),
    };
    let out_start = outputs.len() as u32;
    for _ in 0..d.count(2, "outputs")? {
        let name = sid(d, "output name")?;
        let path = match d.u8("output path tag")? {
            0 => OutPath::None,
            1 => {
                let pname = sid(d, "output path name")?;
                let digest = d.array::<20>("output hash")?;
                OutPath::Stored(hash_part_of(&digest), pname)
            }
            2 if fixed.is_some() => OutPath::Fixed,
            t => return Err(invalid(format!("output path tag {t}"))),
        };
        outputs.push(OutputData { name, path });
    }
    let env_start = env.len() as u32;
    for _ in 0..d.count(2, "environment")? {
        env.push((sid(d, "env key")?, sid(d, "env value")?));
    }
    let data = DrvData {
        node: NodeId(0),
        system,
        builder,
        fixed,
        kind,
        outputs: (out_start, outputs.len() as u32),
        env: (env_start, env.len() as u32),
    };
    Ok((delta, data))
}

pub(super) struct Edges {
    pub(super) out_sets: Vec<Vec<StrId>>,
    pub(super) inputs: Csr<NodeId>,
    pub(super) edge_outputs: Vec<u16>,
}

/// The output-name sets at the start of `d`.
pub(super) fn output_sets(d: &mut Dec<'_>, h: &Header) -> Result<Vec<Vec<StrId>>, SnapshotError> {
    if h.sets > usize::from(u16::MAX) + 1 {
        return Err(invalid(format!(
            "{} output-name sets (at most 65536)",
            h.sets
        )));
    }
    let mut out_sets = Vec::with_capacity(h.sets.min(d.remaining()));
    for _ in 0..h.sets {
        let len = d.count(1, "output set")?;
        let mut set = Vec::with_capacity(len);
        for _ in 0..len {
            set.push(StrId(d.below(h.strings, "output set member")?));
        }
        out_sets.push(set);
    }
    Ok(out_sets)
}

pub(super) fn edges(data: &[u8], h: &Header) -> Result<Edges, SnapshotError> {
    let mut d = Dec::new(data);
    let out_sets = output_sets(&mut d, h)?;
    let cap = h.edges.min(data.len());
    let mut offsets = Vec::with_capacity(h.nodes.min(data.len()) + 1);
    let mut targets = Vec::with_capacity(cap);
    let mut edge_outputs = Vec::with_capacity(cap);
    offsets.push(0u32);
    for _ in 0..h.nodes {
        let count = d.count(2, "edges")?;
        let mut t = 0u64;
        for j in 0..count {
            let delta = d.var("edge target")?;
            if j > 0 && delta == 0 {
                return Err(invalid("repeated edge"));
            }
            t = t.saturating_add(delta);
            if t >= h.nodes as u64 {
                return Err(invalid(format!("edge target {t}")));
            }
            targets.push(NodeId(t as u32));
        }
        for _ in 0..count {
            edge_outputs.push(d.below(h.sets, "edge output set")? as u16);
        }
        if targets.len() > h.edges {
            return Err(invalid("more edges than announced"));
        }
        offsets.push(targets.len() as u32);
    }
    if targets.len() != h.edges || !d.at_end() {
        return Err(invalid("edge count or trailing bytes"));
    }
    Ok(Edges {
        out_sets,
        inputs: Csr::new(offsets, targets),
        edge_outputs,
    })
}

/// A package row before its derivation path is tied to a node.
pub(super) struct RawPackage {
    name: String,
    version: String,
    node: Option<NodeId>,
    path: Option<StorePath>,
    module: String,
}

pub(super) fn packages(data: &[u8], h: &Header) -> Result<Vec<RawPackage>, SnapshotError> {
    let mut d = Dec::new(data);
    let mut rows = Vec::with_capacity(h.packages.min(data.len()));
    for _ in 0..h.packages {
        let name = d.str("package name")?.to_owned();
        let version = d.str("package version")?.to_owned();
        let (node, path) = match d.var("package node")? {
            0 => {
                let base = d.str("package derivation")?;
                let p = StorePath::from_base_name(base)
                    .map_err(|e| invalid(format!("package derivation: {e}")))?;
                (None, Some(p))
            }
            k if k <= h.nodes as u64 => (Some(NodeId((k - 1) as u32)), None),
            k => return Err(invalid(format!("package node {k}"))),
        };
        let module = d.str("package module")?.to_owned();
        rows.push(RawPackage {
            name,
            version,
            node,
            path,
            module,
        });
    }
    if !d.at_end() {
        return Err(invalid("bytes after the packages"));
    }
    Ok(rows)
}

/// The fields of one row of the package section, read where they lie.
pub(crate) struct PackageFields<'a> {
    pub(crate) name: &'a str,
    pub(crate) version: &'a str,
    /// The `.drv` base name of a row whose derivation the graph lacks
    /// (empty otherwise).
    pub(crate) derivation: &'a str,
    pub(crate) module: &'a str,
}

/// The first `upto` fields of the row at the start of `data` (1: the
/// name, 2: and the version, more: every field; the others left empty, so
/// that resolving a name, which reads every row's name, checks one string
/// of each as UTF-8 rather than four): empty fields for bytes that do not
/// decode, never a panic.
pub(crate) fn package_fields(data: &[u8], upto: usize) -> PackageFields<'_> {
    let mut d = Dec::new(data);
    let mut f = PackageFields {
        name: d.str("package name").unwrap_or(""),
        version: "",
        derivation: "",
        module: "",
    };
    if upto < 2 {
        return f;
    }
    f.version = d.str("package version").unwrap_or("");
    if upto < 3 {
        return f;
    }
    if let Ok(0) = d.var("package node") {
        f.derivation = d.str("package derivation").unwrap_or("");
    }
    f.module = d.str("package module").unwrap_or("");
    f
}

/// The bytes of the name of the row at the start of `data` (empty for
/// bytes that do not decode): resolving a name compares it with every
/// row's, and equal bytes need no UTF-8 check.
pub(crate) fn package_name_bytes(data: &[u8]) -> &[u8] {
    Dec::new(data).str_bytes("package name").unwrap_or_default()
}

/// Where each row of the package section starts and the node it names,
/// checking what [`packages`] checks (every field there and UTF-8, every
/// node in range, the base names of derivations outside the graph valid)
/// without copying a field.
pub(super) fn package_offsets(
    data: &[u8],
    h: &Header,
) -> Result<(Vec<u32>, Vec<Option<NodeId>>), SnapshotError> {
    if u32::try_from(data.len()).is_err() {
        return Err(invalid("package section larger than 4 GiB"));
    }
    let mut d = Dec::new(data);
    let cap = h.packages.min(data.len());
    let (mut at, mut nodes) = (Vec::with_capacity(cap), Vec::with_capacity(cap));
    for _ in 0..h.packages {
        at.push((data.len() - d.remaining()) as u32);
        d.str("package name")?;
        d.str("package version")?;
        let node = match d.var("package node")? {
            0 => {
                let base = d.str("package derivation")?;
                StorePath::from_base_name(base)
                    .map_err(|e| invalid(format!("package derivation: {e}")))?;
                None
            }
            k if k <= h.nodes as u64 => Some(NodeId((k - 1) as u32)),
            k => return Err(invalid(format!("package node {k}"))),
        };
        d.str("package module")?;
        nodes.push(node);
    }
    if !d.at_end() {
        return Err(invalid("bytes after the packages"));
    }
    Ok((at, nodes))
}

pub(super) fn meta(data: &[u8], h: &Header) -> Result<StoreMeta, SnapshotError> {
    let mut d = Dec::new(data);
    let mut meta = StoreMeta::default();
    if d.u8("metadata flag")? == 1 {
        meta.nar_size = Vec::with_capacity(h.nodes.min(data.len()));
        for _ in 0..h.nodes {
            meta.nar_size.push(d.var("nar size")?.wrapping_sub(1));
        }
        let mut node = 0u64;
        for _ in 0..d.count(33, "nar hashes")? {
            node = node.saturating_add(d.var("nar hash node")?);
            if node >= h.nodes as u64 {
                return Err(invalid("nar hash node"));
            }
            meta.nar_hash
                .insert(NodeId(node as u32), d.array::<32>("nar hash")?);
        }
        for _ in 0..d.count(2, "references")? {
            let owner = NodeId(d.below(h.nodes, "reference owner")?);
            let len = d.count(1, "reference list")?;
            let mut list = Vec::with_capacity(len);
            for _ in 0..len {
                list.push(NodeId(d.below(h.nodes, "reference")?));
            }
            meta.references.insert(owner, list);
        }
        meta.rows_outside = d.var("rows outside")?;
        meta.references_outside = d.var("references outside")?;
    }
    if !d.at_end() {
        return Err(invalid("bytes after the metadata"));
    }
    Ok(meta)
}

/// Whether `name` is a valid store path name (the daemon's rule, as
/// `abovo-store` checks it).
fn valid_name(name: &str) -> bool {
    abovo_store::store_path::validate_name(name).is_ok()
}

/// Checks what ties the sections together: the nodes' names are valid
/// store names and in path order, the derivation data sits on derivation
/// nodes, output paths have valid names, and the package graph fits the
/// derivation graph.
pub(super) fn check_tied(
    strings: &Strings,
    hash_parts: &[[u8; 32]],
    names: &[StrId],
    kinds: &[NodeKind],
    drvs: &[DrvData],
    outputs: &[OutputData],
    package_graph: &PackageGraph,
) -> Result<(), SnapshotError> {
    super::packages::check(package_graph, kinds)?;
    for (i, &name) in names.iter().enumerate() {
        if !valid_name(strings.get(name)) {
            return Err(invalid(format!(
                "node {i} has an invalid store name `{}`",
                strings.get(name)
            )));
        }
    }
    for w in 1..hash_parts.len() {
        let (a, b) = (&hash_parts[w - 1], &hash_parts[w]);
        let ordered = a < b || (a == b && strings.get(names[w - 1]) < strings.get(names[w]));
        if !ordered {
            return Err(invalid("nodes are not in path order"));
        }
    }
    let drv_kinds = kinds.iter().filter(|&&k| k == NodeKind::Derivation).count();
    if drv_kinds != drvs.len()
        || drvs
            .iter()
            .any(|d| kinds.get(d.node.index()) != Some(&NodeKind::Derivation))
    {
        return Err(invalid("derivation data does not match the node kinds"));
    }
    for o in outputs {
        if let OutPath::Stored(_, n) = o.path {
            if !valid_name(strings.get(n)) {
                return Err(invalid(format!(
                    "invalid output path name `{}`",
                    strings.get(n)
                )));
            }
        }
    }
    Ok(())
}

/// The package table's rows, tied to the nodes they name.
pub(super) fn package_rows(
    packages: Vec<RawPackage>,
    hash_parts: &[[u8; 32]],
    names: &[StrId],
    strings: &Strings,
) -> Vec<(Package, Option<NodeId>)> {
    use rayon::prelude::*;
    packages
        .into_par_iter()
        .map(|r| {
            let derivation = match (r.node, r.path) {
                (Some(n), _) => match (hash_parts.get(n.index()), names.get(n.index())) {
                    (Some(h), Some(&name)) => path_from_parts(h, strings.get(name)),
                    _ => unreachable_row(),
                },
                (None, Some(p)) => p,
                (None, None) => unreachable_row(),
            };
            (
                Package {
                    name: r.name,
                    version: r.version,
                    derivation,
                    module: r.module,
                },
                r.node,
            )
        })
        .collect()
}

/// The store metadata of `data`, which must cover every node.
pub(super) fn meta_covering(data: &[u8], h: &Header) -> Result<StoreMeta, SnapshotError> {
    let m = meta(data, h)?;
    if !m.is_empty() && m.nar_size.len() != h.nodes {
        return Err(invalid("metadata does not cover every node"));
    }
    Ok(m)
}

#[cold]
fn unreachable_row() -> StorePath {
    // `packages` always gives a node or a path.
    path_from_parts(&[b'0'; 32], "invalid")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use proptest::prelude::*;

    // Found with the fuzz target `snapshot` (fuzz/): string lengths adding
    // up past 2^64 overflowed their sum (a panic with overflow checks, a
    // wrapped total without).
    #[test]
    fn string_lengths_that_overflow_are_refused() {
        let mut e = super::super::codec::Enc::default();
        e.var(1);
        e.var(u64::MAX);
        e.bytes(b"x");
        let h = super::Header {
            creator: String::new(),
            store: abovo_store::StoreDir::default(),
            description: String::new(),
            strings: 2,
            nodes: 0,
            drvs: 0,
            outputs: 0,
            env: 0,
            sets: 0,
            edges: 0,
            packages: 0,
        };
        let err = super::strings(e.buf, &h).unwrap_err();
        assert!(err.to_string().contains("string table too large"), "{err}");
    }

    proptest! {
        #[test]
        fn hash_parts_are_nix32(d in proptest::array::uniform20(any::<u8>())) {
            let want = abovo_store::nixbase32::encode(&d);
            prop_assert_eq!(&super::hash_part_of(&d)[..], want.as_bytes());
        }
    }
}
