//! The in-place form, format version 8 (3 to 5 and 7 still read; see the
//! [format](super)): every section uncompressed at an 8-byte-aligned
//! offset, the columns every query reads as fixed-width little-endian
//! arrays that a graph borrows straight from the file's memory map, and
//! a checksum per section checked when the section is first touched.

use super::SnapshotError;
use super::assemble;
use super::codec::{Dec, Enc};
use super::decode::{self, Header};
pub(super) use super::sections::{
    ENTRY, FIXED, SECTION_NAMES, SECTIONS, SECTIONS_V3, SECTIONS_V4, SECTIONS_V5, SECTIONS_V7,
    Sections, VERSION, VERSION_3, VERSION_4, VERSION_5, VERSION_7, VERSION_8, hash, invalid,
    le_u64,
};
use crate::blocks::Checked;
use crate::build::assemble;
use crate::column::{Backing, Col};
use crate::dag::Csr;
use crate::graph::{
    Columns, Deferred, DrvColumns, Graph, NodeFacts, NodeId, NodeKind, Records, path_from_parts,
};
use crate::meta::StoreMeta;
use crate::package_graph::{GraphType, PackageGraph};
use crate::package_meta::PackageMeta;
use crate::packages::PackageTable;
use crate::strings::{StrId, Strings};
use std::sync::Arc;

/// The first of the three arrays of edges of each package graph (version
/// 4): offsets, targets, use sets, `package` then `bag-emerged`.
const LAYER_ARRAYS: usize = 19;

/// `v` as the little-endian words of an in-place array section.
pub(super) fn words(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Node ids as the little-endian words of an in-place array section.
pub(super) fn ids(v: &[NodeId]) -> Vec<u8> {
    v.iter().flat_map(|x| x.0.to_le_bytes()).collect()
}

/// Serialises `graph` in the in-place form (format version 8): what
/// [`open`] maps. It is about three times the size of the compressed form
/// ([`super::write`]), which stays the form to distribute; `opts.level`
/// is not used.
pub fn write_in_place(graph: &Graph, opts: &super::WriteOptions) -> Vec<u8> {
    // The varint sections are those of version 2, uncompressed.
    let v2 = super::encode::encode(graph, opts);
    let c = &graph.columns;
    let (text, ends) = c.strings.raw_parts();
    let mut sets = Enc::default();
    for set in &c.out_sets {
        sets.var(set.len() as u64);
        for s in set {
            sets.var(u64::from(s.0));
        }
    }
    // What most queries ask of a derivation, per node, so that they need
    // not decode the derivation facts.
    let mut systems = vec![crate::graph::NO_DRV; graph.len()];
    let mut flags = vec![0u8; graph.len()];
    for d in &graph.drv_columns().drvs {
        if let Some(s) = systems.get_mut(d.node.index()) {
            *s = d.system.0;
        }
        if let Some(f) = flags.get_mut(d.node.index()) {
            let builder = c.strings.get(d.builder);
            let builtin = builder.starts_with(abovo_store::derivation::BUILTIN_PREFIX);
            *f = crate::graph::flags_of(d.kind, builtin);
        }
    }
    let systems = words(&systems);
    // The edges of the package graphs as arrays; their sections 14 and 15
    // keep only the use sets and the edge count.
    let pg = graph.package_graph();
    let (mut l_offsets, mut l_targets, mut l_uses) = (
        <[Vec<u8>; 2]>::default(),
        <[Vec<u8>; 2]>::default(),
        <[Vec<u8>; 2]>::default(),
    );
    for ty in GraphType::ALL {
        if let Some(l) = pg.layer(ty) {
            let i = ty.slot();
            l_offsets[i] = words(&l.inputs.offsets);
            l_targets[i] = l
                .inputs
                .targets()
                .iter()
                .flat_map(|p| p.0.to_le_bytes())
                .collect();
            l_uses[i] = words(&l.how.get().edge_uses);
        }
    }
    let [dependent_offsets, dependent_targets, order] = super::derived::sections(graph);
    let [meta_flag, meta_ends, meta_text, meta_rows] =
        super::meta_rows::sections(graph.package_meta());
    // The header of the writer's own encoding decodes.
    let (row_index, starts) = match decode::header(&v2[0]) {
        Ok(h) => (
            super::row_index::sections(&v2[5], &h),
            super::drv_starts::section(&v2[3], &h, graph.len()),
        ),
        Err(_) => Default::default(),
    };
    let edge_targets = ids(c.inputs.targets());
    let edge_sets: Vec<u8> = c
        .edge_sets(0..c.inputs.edge_count())
        .iter()
        .flat_map(|s| s.to_le_bytes())
        .collect();
    let version_5: [Vec<u8>; SECTIONS_V5] = [
        v2[0].clone(),
        words(ends),
        text.to_vec(),
        c.hash_parts.all().iter().flatten().copied().collect(),
        c.names.iter().flat_map(|s| s.0.to_le_bytes()).collect(),
        c.kinds.to_vec(),
        v2[3].clone(),
        sets.buf,
        words(&c.inputs.offsets),
        edge_targets,
        edge_sets,
        v2[5].clone(),
        v2[6].clone(),
        v2[7].clone(),
        super::packages::layer_head(pg.layer(GraphType::Package)),
        super::packages::layer_head(pg.layer(GraphType::BagEmerged)),
        meta_flag,
        systems,
        flags,
        l_offsets[0].clone(),
        l_targets[0].clone(),
        l_uses[0].clone(),
        l_offsets[1].clone(),
        l_targets[1].clone(),
        l_uses[1].clone(),
        dependent_offsets,
        dependent_targets,
        order,
        meta_ends,
        meta_text,
        meta_rows,
    ];
    // Then what version 7 adds: sections 31 to 40, and the checksums of
    // the blocks of the largest arrays (41); and what version 8 adds, the
    // start of each derivation's record (42), whose section 6 the
    // checksums of 41 cover too.
    let mut sections: Vec<Vec<u8>> = version_5
        .into_iter()
        .chain(super::derived::layer_sections(pg))
        .chain(row_index)
        .chain(super::node_outputs::sections(graph))
        .collect();
    sections.push(Vec::new());
    sections.push(starts);
    sections.push(super::fixed_paths::section(graph));
    sections[super::block_sums::SECTION] = super::block_sums::section(&sections);
    debug_assert_eq!(sections.len(), SECTIONS);
    lay_out_in_place(&sections)
}

/// Lays `sections` out as an in-place snapshot file: the fixed header, the
/// section table (offset, length and checksum of each section, then the
/// table's own checksum) and the sections, each at an 8-byte-aligned
/// offset. [`write_in_place`] lays out a graph's sections so; a test or a
/// fuzzer lays out sections of its own making (any number of them) to
/// reach the checks behind the checksums.
pub fn lay_out_in_place(sections: &[impl AsRef<[u8]>]) -> Vec<u8> {
    let mut table = Vec::with_capacity(sections.len() * ENTRY);
    let mut at = (FIXED + sections.len() * ENTRY).next_multiple_of(8);
    for s in sections.iter().map(AsRef::as_ref) {
        table.extend_from_slice(&(at as u64).to_le_bytes());
        table.extend_from_slice(&(s.len() as u64).to_le_bytes());
        table.extend_from_slice(&hash(s).to_le_bytes());
        at = (at + s.len()).next_multiple_of(8);
    }
    let mut out = Vec::with_capacity(at);
    out.extend_from_slice(super::MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(sections.len() as u32).to_le_bytes());
    out.extend_from_slice(&(at as u64).to_le_bytes());
    out.extend_from_slice(&hash(&table).to_le_bytes());
    out.extend_from_slice(&table);
    for s in sections.iter().map(AsRef::as_ref) {
        out.resize(out.len().next_multiple_of(8), 0);
        out.extend_from_slice(s);
    }
    out.resize(at, 0);
    out
}

/// What to do when a section read on first use turns out damaged
/// ([`SnapshotError::Damaged`]); the section then reads as empty.
pub type OnDamage = Arc<dyn Fn(&SnapshotError) + Send + Sync>;

/// How [`open_with`] opens a snapshot.
#[derive(Clone, Default)]
pub struct OpenOptions {
    /// Told when a section decoded on first use (derivation facts, store
    /// metadata, package graphs, package metadata) does not match its
    /// checksum or does not decode; the section then reads as empty. A
    /// program that must not answer from a damaged file exits here (the
    /// `abovo` binary removes its cache file and stops with an error).
    /// Without one, damage is silent.
    pub on_damage: Option<OnDamage>,
}

impl std::fmt::Debug for OpenOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenOptions")
            .field("on_damage", &self.on_damage.is_some())
            .finish()
    }
}

/// Opens the snapshot file at `path` for queries: [`open_with`] without a
/// damage handler.
pub fn open(path: &std::path::Path) -> Result<Graph, SnapshotError> {
    open_with(path, &OpenOptions::default())
}

/// Opens the snapshot file at `path` for queries, in place when it is of
/// the in-place form (format versions 3, 4, 5, 7 and 8): the file is mapped, its header
/// and section table checked, and the sections every query reads (strings,
/// nodes, edges, the package table) are checked against their checksums
/// and their ids against their ranges, then borrowed as they are; the
/// other sections are checked and decoded when first used. What is not
/// checked, as for a trusted read, is what ties the sections together
/// (path order, valid store names, acyclicity, checked by [`super::read`]
/// and `abovo snapshot info`): a file that breaks those gives wrong
/// answers, never a panic or an out-of-bounds read.
///
/// A file of the compressed form (versions 1 and 2) is read whole and
/// checked as [`super::read`] does.
///
/// The file must not be truncated or rewritten in place while the graph
/// lives (replacing it by a rename, as abovo's cache does, is safe): that
/// is the contract of every memory map.
pub fn open_with(path: &std::path::Path, opts: &OpenOptions) -> Result<Graph, SnapshotError> {
    let mut file = std::fs::File::open(path).map_err(SnapshotError::Read)?;
    let mut head = [0u8; 12];
    let got = super::read_up_to(&mut file, &mut head)?;
    let version = super::version_of(&head[..got]);
    let in_place = matches!(
        version,
        Some(VERSION | VERSION_8 | VERSION_7 | VERSION_5 | VERSION_4 | VERSION_3)
    );
    if !in_place || cfg!(target_endian = "big") {
        let bytes = std::fs::read(path).map_err(SnapshotError::Read)?;
        return super::read(&bytes);
    }
    let backing = Arc::new(Backing::Map(map(&file).map_err(SnapshotError::Read)?));
    let s = Sections::parse(backing, opts.on_damage.clone())?;
    open_sections(s, false).map(|(g, _)| g)
}

/// Maps `file` read-only, asking for its pages in 2 MiB folios.
#[allow(unsafe_code)]
fn map(file: &std::fs::File) -> std::io::Result<memmap2::Mmap> {
    // SAFETY: the map is read-only and every read of it goes through
    // bounds-checked slices. What the type system cannot promise is that
    // no other process truncates or rewrites the file while it is mapped;
    // abovo never does (its cache files are replaced by a rename, which
    // leaves this mapping on the old file), and `open_with` states the
    // contract for other writers.
    let map = unsafe { memmap2::Mmap::map(file) }?;
    // Pages read from the disk for this mapping (after a reboot, or once
    // the page cache let the file go) then come in 2 MiB folios, which
    // the kernel maps with one entry each: a query's reads, strewn over
    // the whole file, miss the TLB far less. Read back without it, a
    // 67 MB cache file came in folios of which a third could be mapped so;
    // with it, queries ran 5-12% faster (BENCHMARKS.md, "Whole processes
    // timed from spawn to exit; the cache file in huge pages"). Pages
    // already cached keep their size. Best effort: a kernel built without
    // transparent huge pages refuses the advice, and one where they are
    // `never` ignores it.
    #[cfg(target_os = "linux")]
    let _ = map.advise(memmap2::Advice::HugePage);
    Ok(map)
}

/// Fails with `what` unless every value of `col` passes `ok`.
fn all<T: Copy>(col: &[T], ok: impl Fn(T) -> bool, what: &str) -> Result<(), SnapshotError> {
    // Folded without stopping early, so that the compiler checks many
    // values at once (this runs over every edge at every open); the index
    // is looked for only when some value fails.
    if col.iter().fold(true, |good, &v| good & ok(v)) {
        return Ok(());
    }
    let i = col.iter().position(|&v| !ok(v)).unwrap_or(0);
    Err(invalid(format!("{what} at index {i}")))
}

/// Opens a graph on the sections: the columns every query reads are
/// borrowed (each checked now against its checksum, and its ids against
/// their ranges, once), the rest decoded on first use. With `checked`, the
/// graph is also checked acyclic now.
pub(super) fn open_sections(s: Sections, checked: bool) -> Result<(Graph, String), SnapshotError> {
    let h = decode::header(s.verified(0)?)?;
    let n = h.nodes;
    let ends: Col<u32> = s.col(1, h.strings)?;
    let text_len = s.table[2].1;
    let (text, text_check) = if s.has(super::block_sums::SECTION) {
        // Checked block by block as strings are read.
        (
            s.mapped(2, text_len)?,
            Some(super::block_sums::string_text(&s)?),
        )
    } else {
        (s.col(2, text_len)?, None)
    };
    let strings = Strings::mapped(text, ends, text_check)
        .ok_or_else(|| invalid("string ends past the string text"))?;
    let hash_parts = if s.has(super::block_sums::SECTION) {
        // Checked block by block as they are read.
        Checked::new(s.mapped(3, n)?, Some(super::block_sums::hash_parts(&s, n)?))
    } else {
        Checked::new(s.col(3, n)?, None)
    };
    let names: Col<StrId> = s.col(4, n)?;
    all(
        &names,
        |x| (x.0 as usize) < h.strings,
        "node name out of range",
    )?;
    let kinds: Col<u8> = s.col(5, n)?;
    all(&kinds, |k| NodeKind::from_code(k).is_some(), "node kind")?;
    let out_sets = {
        let mut d = Dec::new(s.verified(7)?);
        let sets = decode::output_sets(&mut d, &h)?;
        if !d.at_end() {
            return Err(invalid("bytes after the output sets"));
        }
        sets
    };
    let offsets: Col<u32> = s.col(8, n + 1)?;
    if offsets.first() != Some(&0)
        || offsets.last().map(|&x| x as usize) != Some(h.edges)
        || offsets.windows(2).any(|w| w[0] > w[1])
    {
        return Err(invalid(
            "edge offsets are not ordered from 0 to the edge count",
        ));
    }
    let (targets, edge_outputs, check) = if s.has(super::block_sums::SECTION) {
        // Checked block by block as queries read them.
        let targets = s.mapped(9, h.edges)?;
        let edge_outputs = s.mapped(10, h.edges)?;
        let check = super::block_sums::edges(&s, &h)?;
        (targets, edge_outputs, Some(check))
    } else {
        let targets: Col<NodeId> = s.col(9, h.edges)?;
        all(&targets, |t| t.index() < n, "edge target out of range")?;
        let edge_outputs: Col<u16> = s.col(10, h.edges)?;
        all(
            &edge_outputs,
            |x| usize::from(x) < h.sets,
            "edge output set out of range",
        )?;
        (targets, edge_outputs, None)
    };
    let facts = if s.table.len() > SECTIONS_V3 {
        let systems: Col<u32> = s.col(17, n)?;
        all(
            &systems,
            |x| x == crate::graph::NO_DRV || (x as usize) < h.strings,
            "node system out of range",
        )?;
        let flags: Col<u8> = s.col(18, n)?;
        match s.has(super::drv_starts::SECTION) {
            true => all(&flags, crate::graph::valid_flags, "node flags")?,
            false => all(&flags, |b| b & !crate::graph::FACT_FIXED == 0, "node flags")?,
        }
        Some((systems, flags))
    } else {
        None
    };
    let (at, package_nodes) = package_rows(&s, &h, checked)?;
    let packages = {
        let (hp, nm, st) = (hash_parts.clone(), names.clone(), strings.clone());
        let path = move |n: NodeId| match (hp.get(n.index()), nm.get(n.index())) {
            (Some(h), Some(&name)) => path_from_parts(h, st.get(name)),
            _ => path_from_parts(&[b'0'; 32], "invalid"),
        };
        // Checked against its checksum above.
        let (start, len, _) = s.table[11];
        let bytes: Col<u8> = Col::mapped(&s.backing, start, len)
            .ok_or_else(|| invalid("the packages section is not in the file"))?;
        PackageTable::encoded(bytes, at, package_nodes, Arc::new(path))
    };

    let fixed_paths = match s.has(super::fixed_paths::SECTION) {
        true => Some(super::fixed_paths::read(&s, n)?),
        false => None,
    };
    let s = Arc::new(s);
    let stored = (s.table.len() > SECTIONS_V4)
        .then(|| super::derived::stored(&s, super::derived::FIRST, n, h.edges));
    let facts = facts.map(|(systems, flags)| NodeFacts {
        systems,
        flags,
        kinds: s.has(super::drv_starts::SECTION),
        outputs: match s.table.len() > SECTIONS_V5 {
            true => super::node_outputs::read(&s, n, h.strings),
            false => Deferred::default(),
        },
        records: s
            .has(super::drv_starts::SECTION)
            .then(|| Records::new(n, super::drv_starts::reader(&s, &h))),
        fixed_paths,
    });
    let late = |i: usize, h: &Header| (Arc::clone(&s), h.clone(), i);
    let (sd, hd, _) = late(6, &h);
    let drv_columns = Deferred::later(move || {
        sd.late(6, |data| {
            let d = decode::derivations(data, &hd)?;
            Ok(DrvColumns::new(hd.nodes, d.drvs, d.outputs, d.env))
        })
    });
    let (sm, hm, _) = late(12, &h);
    let meta =
        Deferred::later(move || sm.late::<StoreMeta>(12, |data| decode::meta_covering(data, &hm)));
    let (sp, _, _) = late(13, &h);
    let package_graph = Deferred::later(move || late_package_graph(&sp, n));
    let (sq, rows_count) = (Arc::clone(&s), h.packages);
    let package_meta = Deferred::later(move || {
        sq.late::<PackageMeta>(16, |data| match sq.table.len() > SECTIONS_V4 {
            true => super::meta_rows::read(&sq, data, rows_count),
            false => super::packages::decode_meta(data, rows_count),
        })
    });
    let mut graph = assemble(
        Columns {
            store: h.store.clone(),
            strings,
            hash_parts,
            names,
            kinds,
            drv_columns,
            inputs: Csr::of(offsets, targets, check),
            edge_outputs,
            out_sets,
            facts,
            stored,
        },
        checked,
    )?;
    let late = assemble::Late {
        meta,
        package_graph,
        package_meta,
    };
    assemble::attach(&mut graph, &h.description, packages, late);
    Ok((graph, h.creator))
}

/// Where each row of the package table (section 11, checked against its
/// checksum) starts and the node it names: stored (version 7 and later) or found
/// by walking the rows; `checked` also walks a file that stores them and
/// compares.
fn package_rows(
    s: &Sections,
    h: &Header,
    checked: bool,
) -> Result<(Vec<u32>, Vec<Option<NodeId>>), SnapshotError> {
    let table = s.verified(11)?;
    if s.table.len() <= SECTIONS_V5 {
        return decode::package_offsets(table, h);
    }
    let stored = super::row_index::read(s, h)?;
    if checked {
        super::row_index::check(&stored, &decode::package_offsets(table, h)?)?;
    }
    Ok(stored)
}

/// The package graph's nodes on first use, and the edges of each type
/// when first asked for.
fn late_package_graph(s: &Arc<Sections>, graph_nodes: usize) -> PackageGraph {
    let mut pg = s.late(13, |data| super::packages::decode_nodes(data, graph_nodes));
    let (n, strings) = (pg.len(), pg.strings.len());
    for ty in GraphType::ALL {
        if !pg.has(ty) {
            continue;
        }
        let (s, section) = (Arc::clone(s), 14 + ty.slot());
        pg.set_layer(
            ty,
            Deferred::later(move || {
                s.late(section, |data| {
                    if s.table.len() <= SECTIONS_V3 {
                        return super::packages::decode_layer(data, n, strings, true);
                    }
                    let first = LAYER_ARRAYS + 3 * ty.slot();
                    let arrays = [layer_array(&s, first)?, layer_array(&s, first + 1)?];
                    let edges = arrays[1].len();
                    // How the edges are taken, when first asked.
                    let how = {
                        let s = Arc::clone(&s);
                        Deferred::later(move || {
                            s.late(section, |head| {
                                let uses = layer_array(&s, first + 2)?;
                                super::packages::edge_uses_in_place(head, strings, edges, uses)
                            })
                        })
                    };
                    let mut layer = super::packages::layer_in_place(data, n, true, arrays, how)?;
                    if let Some(l) = layer.as_mut().filter(|_| s.table.len() > SECTIONS_V5) {
                        let first = super::derived::LAYER_FIRST + 3 * ty.slot();
                        let edges = l.inputs.edge_count();
                        l.stored = Some(super::derived::stored(&s, first, n, edges));
                    }
                    Ok(layer)
                })
            }),
        );
    }
    pg
}

/// Section `i`, one of a package layer's arrays of `u32`, checked against
/// its checksum.
fn layer_array(s: &Sections, i: usize) -> Result<Col<u32>, SnapshotError> {
    s.col::<u32>(i, s.table[i].1 / 4)
}

/// The store directory of an in-place snapshot, from `reader` positioned
/// after its first bytes, `head` (at least 56 of them, whose magic and
/// version are checked): the header section is found through the first
/// entry of the section table and read alone.
pub(super) fn peek_store_dir(
    head: &[u8],
    mut reader: impl std::io::Read,
) -> Result<abovo_store::StoreDir, SnapshotError> {
    let needed = le_u64(head, 16);
    if head.len() < FIXED + ENTRY {
        return Err(SnapshotError::TruncatedFile {
            needed,
            actual: head.len() as u64,
        });
    }
    let (start, len, want) = (
        le_u64(head, FIXED),
        le_u64(head, FIXED + 8),
        le_u64(head, FIXED + 16),
    );
    if len > super::HEADER_SECTION_LIMIT {
        return Err(invalid(format!("header section of {len} bytes")));
    }
    let skip = start.saturating_sub(head.len() as u64);
    let skipped = std::io::copy(
        &mut std::io::Read::take(&mut reader, skip),
        &mut std::io::sink(),
    )
    .map_err(SnapshotError::Read)?;
    let mut section = Vec::with_capacity(len as usize);
    std::io::Read::read_to_end(&mut std::io::Read::take(&mut reader, len), &mut section)
        .map_err(SnapshotError::Read)?;
    if skipped != skip || section.len() as u64 != len {
        return Err(SnapshotError::TruncatedFile {
            needed,
            actual: head.len() as u64 + skipped + section.len() as u64,
        });
    }
    let got = hash(&section);
    if got != want {
        return Err(SnapshotError::SectionChecksum {
            section: SECTION_NAMES[0],
            expected: format!("{want:016x}"),
            actual: format!("{got:016x}"),
        });
    }
    decode::store_dir(&section)
}
