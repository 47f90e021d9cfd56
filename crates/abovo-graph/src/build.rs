//! Building a [`Graph`] from parsed derivations.
//!
//! Loading is two steps: every `.drv` is parsed and reduced to a
//! [`DrvRecord`] (in parallel, one file at a time, so the full parsed
//! derivations never all sit in memory), then [`build_graph`] numbers the
//! nodes in path order, interns the strings, lays out the adjacency arrays in
//! both directions and checks that the graph is acyclic.

use crate::dag::Csr;
use crate::error::GraphError;
use crate::graph::{
    Columns, Deferred, DrvColumns, DrvData, Graph, NodeId, NodeKind, OutPath, OutputData,
};
use crate::meta::StoreMeta;
use crate::packages::PackageTable;
use crate::strings::{Interner, StrId};
use abovo_store::derivation::borrowed::{EnvVarRef, InputDerivationRef};
use abovo_store::derivation::{
    Derivation, DerivationKind, DerivationRef, DynamicOutputs, FixedOutput, KindError, StorePathRef,
};
use abovo_store::hash::HashError;
use abovo_store::store_path::{StoreDir, StorePath};
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use std::borrow::Cow;
use std::sync::OnceLock;
use view::{Outs, View};

pub use packed::PackedRecord;

mod packed;
mod view;

/// What the graph keeps of one derivation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrvRecord {
    /// The `.drv` store path.
    pub path: StorePath,
    /// The system type.
    pub system: String,
    /// The builder.
    pub builder: String,
    /// Outputs by name (sorted) with their recorded paths.
    pub outputs: Vec<(String, Option<StorePath>)>,
    /// The pinned hash of a fixed-output derivation.
    pub fixed: Option<FixedOutput>,
    /// The kind of its outputs: whether their paths are known before the
    /// build (input-addressed, fixed) or only after it (Nix's deferred,
    /// floating content-addressed and impure outputs).
    pub kind: DerivationKind,
    /// Kept environment variables, sorted by name (see
    /// [`DerivationNode::env`](crate::DerivationNode::env)).
    pub env: Vec<(String, String)>,
    /// Input derivations with the output names used (outputs of outputs
    /// of Nix's dynamic derivations in Nix's notation, `cat^kitten`).
    pub inputs: Vec<(StorePath, Vec<String>)>,
    /// Input sources.
    pub sources: Vec<StorePath>,
}

impl DrvRecord {
    /// Reduces a parsed derivation stored at `path` to what the graph keeps.
    pub fn new(path: StorePath, drv: Derivation) -> Result<DrvRecord, GraphError> {
        let fixed = fixed_of(&path, drv.fixed_output())?;
        let kind = kind_of(fixed.as_ref(), drv.kind());
        let env = if fixed.is_some() {
            drv.environment
                .into_iter()
                .filter(|(k, _)| !drv.outputs.contains_key(&*String::from_utf8_lossy(k)))
                .map(|(k, v)| {
                    (
                        String::from_utf8_lossy(&k).into_owned(),
                        String::from_utf8_lossy(&v).into_owned(),
                    )
                })
                .collect()
        } else {
            Vec::new()
        };
        Ok(DrvRecord {
            path,
            system: drv.system,
            builder: drv.builder,
            outputs: drv.outputs.into_iter().map(|(n, o)| (n, o.path)).collect(),
            fixed,
            kind,
            env,
            inputs: drv
                .input_derivations
                .into_iter()
                .map(|(p, o)| {
                    let mut names: Vec<String> = o.into_iter().collect();
                    if let Some(d) = drv.dynamic_inputs.get(&p) {
                        names.extend(DynamicOutputs::names(d));
                        names.sort();
                    }
                    (p, names)
                })
                .collect(),
            sources: drv.input_sources.into_iter().collect(),
        })
    }
}

impl DrvRecord {
    /// Reduces a derivation read with the zero-copy reader
    /// ([`DerivationRef`]) and stored at `path` to what the graph keeps:
    /// the same record as [`DrvRecord::new`] of its owned form, without
    /// building that form.
    pub fn from_ref(path: StorePath, drv: &DerivationRef<'_>) -> Result<DrvRecord, GraphError> {
        let mut record = DrvRecord::head_of(path, drv)?;
        let sorted = drv.is_canonical();
        record.inputs = exact(drv.input_derivations().iter().map(|i| {
            let names = input_names(i, sorted).unwrap_or_else(|| vec!["out".to_owned()]);
            (i.path.to_store_path(), names)
        }));
        record.sources = exact(drv.input_sources().iter().map(StorePathRef::to_store_path));
        if !sorted {
            record.inputs.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            record.sources.sort_unstable();
        }
        Ok(record)
    }

    /// [`DrvRecord::from_ref`] without the references (no inputs, no
    /// sources): what a [`PackedRecord`] keeps beside its packed ones.
    fn head_of(path: StorePath, drv: &DerivationRef<'_>) -> Result<DrvRecord, GraphError> {
        let fixed = fixed_of(&path, drv.fixed_output())?;
        let kind = kind_of(fixed.as_ref(), drv.kind());
        // A canonical text lists everything sorted already; the owned form
        // (and so the record) is sorted by name, path and key bytes.
        let sorted = drv.is_canonical();
        let mut outputs: Vec<(String, Option<StorePath>)> = exact(drv.outputs().iter().map(|o| {
            (
                o.name.to_string(),
                o.path.as_ref().map(StorePathRef::to_store_path),
            )
        }));
        if !sorted {
            outputs.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        }
        let env = if fixed.is_some() {
            let is_output = |k: &[u8]| drv.outputs().iter().any(|o| o.name.as_bytes() == k);
            let mut kept: Vec<&EnvVarRef<'_>> = drv
                .environment()
                .iter()
                .filter(|(k, _)| !is_output(k))
                .collect();
            if !sorted {
                kept.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            }
            exact(kept.into_iter().map(|(k, v)| {
                (
                    String::from_utf8_lossy(k).into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                )
            }))
        } else {
            Vec::new()
        };
        Ok(DrvRecord {
            path,
            system: drv.system().to_owned(),
            builder: drv.builder().to_owned(),
            outputs,
            fixed,
            kind,
            env,
            inputs: Vec::new(),
            sources: Vec::new(),
        })
    }
}

/// The output names an input derivation uses, sorted; `None` when that is
/// just `out` (nine inputs in ten), which the callers keep without a list
/// of their own.
fn input_names(i: &InputDerivationRef<'_>, sorted: bool) -> Option<Vec<String>> {
    if i.outputs.raw() == b"[\"out\"]" && i.dynamic.is_empty() {
        return None;
    }
    let mut names = Vec::with_capacity(i.outputs.len());
    names.extend(i.outputs.iter().map(Cow::into_owned));
    if !i.dynamic.is_empty() {
        names.extend(DynamicOutputs::names(&i.dynamic));
        names.sort_unstable();
    } else if !sorted {
        names.sort_unstable();
    }
    Some(names)
}

/// The kind of a derivation's outputs. One whose outputs make no kind
/// (Nix refuses it; `abovo verify` says why) is taken as input-addressed,
/// as a Guix daemon takes it.
fn kind_of(fixed: Option<&FixedOutput>, kind: Result<DerivationKind, KindError>) -> DerivationKind {
    match (fixed, kind) {
        (Some(_), _) => DerivationKind::Fixed,
        (None, Ok(DerivationKind::Fixed) | Err(_)) => DerivationKind::InputAddressed,
        (None, Ok(k)) => k,
    }
}

/// The pinned hash of the derivation at `path`, or why it does not parse.
fn fixed_of(
    path: &StorePath,
    fixed: Option<Result<FixedOutput, HashError>>,
) -> Result<Option<FixedOutput>, GraphError> {
    fixed.transpose().map_err(|e| match e {
        HashError::UnsupportedMethod(method) => GraphError::UnsupportedFixedOutput {
            path: path.to_string(),
            method,
        },
        e => GraphError::BadFixedOutput {
            path: path.to_string(),
            reason: e.to_string(),
        },
    })
}

/// Collects into a vector of exactly the needed capacity, so that records
/// kept for a whole graph hold no spare room.
fn exact<T>(items: impl ExactSizeIterator<Item = T>) -> Vec<T> {
    exact_len(items.len(), items)
}

/// Collects the `len` `items` into a vector of exactly that capacity.
fn exact_len<T>(len: usize, items: impl Iterator<Item = T>) -> Vec<T> {
    let mut v = Vec::with_capacity(len);
    v.extend(items);
    v
}

/// Key of a node while building: hash part and name, ordered as paths.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Key<'a>(&'a [u8; 32], &'a str);

/// Hashed by the hash part alone, the digest that tells paths apart
/// (hashing the name too showed in profiles of a store's first index);
/// equality still compares both.
impl std::hash::Hash for Key<'_> {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        for word in self.0.chunks_exact(8) {
            let mut w = [0u8; 8];
            w.copy_from_slice(word);
            h.write_u64(u64::from_le_bytes(w));
        }
    }
}

fn key(p: &StorePath) -> Key<'_> {
    Key(p.hash_part_bytes(), p.name())
}

/// Builds the graph of `records`. Every input named by a record becomes a
/// node too: a source, or a [`NodeKind::Missing`] derivation when it was not
/// loaded. Fails on a cycle or on the same path given twice.
pub fn build_graph(store: StoreDir, mut records: Vec<DrvRecord>) -> Result<Graph, GraphError> {
    records.par_sort_unstable_by(|a, b| a.path.cmp(&b.path));
    let views: Vec<View<'_>> = records.iter().map(View::Parsed).collect();
    let graph = build_sorted(store, &views);
    drop(views);
    // Millions of small strings: free them on every core.
    records.into_par_iter().for_each(drop);
    graph
}

/// [`build_graph`] of packed records ([`PackedRecord`]; the caller keeps
/// them, and frees them where it likes): the same graph.
pub fn build_graph_packed(
    store: StoreDir,
    mut records: Vec<&PackedRecord>,
) -> Result<Graph, GraphError> {
    records.par_sort_unstable_by(|a, b| a.path().cmp(b.path()));
    let views: Vec<View<'_>> = records.into_iter().map(View::Packed).collect();
    build_sorted(store, &views)
}

/// The graph [`build_graph`] makes of the records of the derivations
/// `kept` of `old` and of `added`: what an index's update builds, reading
/// the derivations that did not change from the old graph (in place, as
/// its snapshot maps them) instead of parsing them again. `kept` are
/// derivation nodes of `old` ([`GraphError::NotKept`] otherwise); a path
/// both kept and added is [`GraphError::Duplicate`].
///
/// The graph is [`build_graph`]'s of the same records, byte for byte in a
/// snapshot, with one exception no daemon's files meet: an input
/// derivation named with no output reads back as a source where it decides
/// the kind of a node not loaded.
pub fn rebuild_graph(
    old: &Graph,
    kept: &[NodeId],
    mut added: Vec<&DrvRecord>,
) -> Result<Graph, GraphError> {
    if let Some(&n) = kept.iter().find(|&&n| old.derivation(n).is_none()) {
        return Err(GraphError::NotKept(old.display_path(n)));
    }
    added.par_sort_unstable_by(|a, b| a.path.cmp(&b.path));
    let old_keys = view::Old::new(old);
    let old_keys = &old_keys;
    // Both are in path order: merge them.
    let mut views = Vec::with_capacity(kept.len() + added.len());
    let mut new = added.into_iter().peekable();
    for &n in kept {
        let k = View::Kept(old_keys, n);
        while let Some(r) = new.next_if(|r| key(&r.path) < k.key()) {
            views.push(View::Parsed(r));
        }
        views.push(k);
    }
    views.extend(new.map(View::Parsed));
    build_sorted(old.store_dir().clone(), &views)
}

/// The graph of `records`, sorted by path.
fn build_sorted<'a>(store: StoreDir, records: &[View<'a>]) -> Result<Graph, GraphError> {
    if let Some(w) = records.windows(2).find(|w| w[0].key() >= w[1].key()) {
        let Key(hash, name) = w[1].key();
        let hash = std::str::from_utf8(hash).unwrap_or("");
        return Err(GraphError::Duplicate(format!(
            "{}/{hash}-{name}",
            store.as_str()
        )));
    }
    // Number the nodes: loaded derivations (record `i` is node `i` until
    // the nodes are put in path order below), then every other path
    // named, in the order first named.
    let mut ids: FxHashMap<Key<'_>, u32> = FxHashMap::default();
    ids.reserve(records.len() * 2);
    let mut keys: Vec<(Key<'_>, NodeKind)> = Vec::with_capacity(records.len() * 2);
    for r in records {
        ids.insert(r.key(), keys.len() as u32);
        keys.push((r.key(), NodeKind::Derivation));
    }
    // Each record's references (inputs, then sources), found among the
    // derivations on every core; the others (sources, derivations not
    // loaded: far fewer) are numbered on one core, in record order, so
    // that the kind a path gets is the one of its first mention, as in a
    // single pass. Each reference is looked up once: the edges below take
    // these numbers.
    const UNSEEN: u32 = u32::MAX;
    let mut refs: Vec<Vec<u32>> = records
        .par_iter()
        .map_init(Vec::new, |named, r| {
            r.refs(named);
            exact_len(
                named.len(),
                named
                    .iter()
                    .map(|(k, _, _)| ids.get(k).copied().unwrap_or(UNSEEN)),
            )
        })
        .collect();
    let mut named = Vec::new();
    for (r, refs) in records.iter().zip(&mut refs) {
        if !refs.contains(&UNSEEN) {
            continue;
        }
        r.refs(&mut named);
        for (id, &(k, kind, _)) in refs.iter_mut().zip(&named) {
            if *id == UNSEEN {
                *id = *ids.entry(k).or_insert_with(|| {
                    keys.push((k, kind));
                    keys.len() as u32 - 1
                });
            }
        }
    }
    let n = keys.len();
    if n >= u32::MAX as usize - 1 {
        return Err(GraphError::TooLarge(format!("{n} nodes")));
    }
    // Final ids follow path order.
    let mut order: Vec<u32> = (0..n as u32).collect();
    order.par_sort_unstable_by(|&a, &b| keys[a as usize].0.cmp(&keys[b as usize].0));
    let mut final_id = vec![0u32; n];
    for (new, &old) in order.iter().enumerate() {
        final_id[old as usize] = new as u32;
    }

    let mut strings = Interner::new();
    let empty_set: Vec<StrId> = Vec::new();
    let mut out_sets: Vec<Vec<StrId>> = vec![empty_set];
    let mut out_set_ids: FxHashMap<Vec<StrId>, u32> = FxHashMap::default();
    out_set_ids.insert(Vec::new(), 0);

    let mut hash_parts = vec![[0u8; 32]; n];
    let mut names = vec![StrId(0); n];
    let mut kinds = vec![NodeKind::Source; n];
    for (old, (Key(hash, name), kind)) in keys.iter().enumerate() {
        let id = final_id[old] as usize;
        hash_parts[id] = **hash;
        names[id] = strings.intern(name);
        kinds[id] = *kind;
    }

    // Nine edges in ten use just `out`: give that set its id up front.
    let only_out = {
        let set = vec![strings.intern("out")];
        let id = out_sets.len() as u32;
        out_set_ids.insert(set.clone(), id);
        out_sets.push(set);
        id
    };
    // Edges of each derivation, renumbered and sorted in parallel, each
    // with its set of output names where that is just `out` or empty
    // (nearly all); the others, [`PENDING`] here, are given in order
    // beside the edges and numbered on one core below, in the order a
    // single pass would number them.
    const PENDING: u32 = u32::MAX;
    type Edges<'a> = (Vec<(u32, u32)>, Vec<Outs<'a>>);
    let edges: Vec<Edges<'a>> = records
        .par_iter()
        .zip(&refs)
        .map_init(
            || (Vec::new(), Vec::new()),
            |(named, e), (r, refs)| {
                r.refs(named);
                e.clear();
                for (&(_, kind, outs), &old) in named.iter().zip(refs) {
                    let id = final_id[old as usize];
                    // A path named both as input derivation and as source
                    // keeps one edge, the one with outputs (inputs come
                    // first).
                    if kind == NodeKind::Missing {
                        e.push((id, outs));
                    } else if !e.iter().any(|&(t, _)| t == id) {
                        e.push((id, Outs::Names(&[])));
                    }
                }
                e.sort_unstable_by_key(|&(t, _)| t);
                let mut rare = Vec::new();
                let list = exact_len(
                    e.len(),
                    e.iter().map(|&(t, outs)| {
                        let set = if outs.is_only_out() {
                            only_out
                        } else if outs.is_empty() {
                            0
                        } else {
                            rare.push(outs);
                            PENDING
                        };
                        (t, set)
                    }),
                );
                (list, rare)
            },
        )
        .collect();
    drop(refs);

    let mut drvs = Vec::with_capacity(records.len());
    let mut set_cache: FxHashMap<&'a [String], u32> = FxHashMap::default();
    // The sets of a kept derivation's graph, by their id there.
    let mut kept_sets: FxHashMap<(*const Graph, u16), u32> = FxHashMap::default();
    let mut outputs = Vec::new();
    let mut env = Vec::new();
    let mut per_node: Vec<Vec<(u32, u32)>> = vec![Vec::new(); n];
    let mut set_of = |strings: &mut Interner, outs: Outs<'a>| -> u32 {
        if outs.is_only_out() {
            return only_out;
        }
        let cached = match outs {
            // Answered above.
            Outs::OnlyOut => return only_out,
            Outs::Names(names) => set_cache.get(names),
            Outs::Set(g, s) => kept_sets.get(&(std::ptr::from_ref(g), s)),
        };
        if let Some(&id) = cached {
            return id;
        }
        let mut set: Vec<StrId> = Vec::new();
        outs.for_each(|o| set.push(strings.intern(o)));
        let next = out_sets.len() as u32;
        let id = *out_set_ids.entry(set.clone()).or_insert_with(|| {
            out_sets.push(set);
            next
        });
        match outs {
            Outs::OnlyOut => None,
            Outs::Names(names) => set_cache.insert(names, id),
            Outs::Set(g, s) => kept_sets.insert((std::ptr::from_ref(g), s), id),
        };
        id
    };
    for (old, (r, (mut list, rare))) in records.iter().zip(edges).enumerate() {
        let node = NodeId(final_id[old]);
        let out_start = outputs.len() as u32;
        r.outputs(|name, path| {
            outputs.push(OutputData {
                name: strings.intern(name),
                path: match path {
                    Some(p) => OutPath::Stored(*p.hash_part_bytes(), strings.intern(p.name())),
                    None => OutPath::None,
                },
            });
        });
        let env_start = env.len() as u32;
        r.env(|k, v| env.push((strings.intern(k), strings.intern(v))));
        let facts = r.facts();
        drvs.push(DrvData {
            node,
            system: strings.intern(facts.system),
            builder: strings.intern(facts.builder),
            fixed: facts.fixed,
            kind: if facts.fixed.is_some() {
                DerivationKind::Fixed
            } else {
                facts.kind
            },
            outputs: (out_start, outputs.len() as u32),
            env: (env_start, env.len() as u32),
        });
        let mut rare = rare.into_iter();
        for (_, set) in list.iter_mut().filter(|(_, set)| *set == PENDING) {
            if let Some(outs) = rare.next() {
                *set = set_of(&mut strings, outs);
            }
        }
        per_node[node.index()] = list;
    }
    // Records are in path order, and so are node ids.
    drvs.sort_unstable_by_key(|d| d.node);
    drop(set_cache);
    drop(kept_sets);
    drop(ids);
    drop(keys);
    let total: usize = per_node.iter().map(Vec::len).sum();
    if total >= u32::MAX as usize {
        return Err(GraphError::TooLarge(format!("{total} edges")));
    }
    if out_sets.len() > usize::from(u16::MAX) + 1 {
        return Err(GraphError::TooLarge(format!(
            "{} distinct sets of output names",
            out_sets.len()
        )));
    }
    let mut offsets = Vec::with_capacity(n + 1);
    let mut targets = Vec::with_capacity(total);
    let mut edge_outputs = Vec::with_capacity(total);
    offsets.push(0u32);
    for list in &per_node {
        for &(t, set) in list {
            targets.push(NodeId(t));
            // Checked above: every set id fits.
            edge_outputs.push(set as u16);
        }
        offsets.push(targets.len() as u32);
    }
    let drv_columns = Deferred::ready(DrvColumns::new(n, drvs, outputs, env));
    assemble(
        Columns {
            store,
            strings: strings.finish(),
            hash_parts: hash_parts.into(),
            names: names.into(),
            kinds: kinds.iter().map(|k| k.code()).collect::<Vec<u8>>().into(),
            drv_columns,
            inputs: Csr::new(offsets, targets),
            edge_outputs: edge_outputs.into(),
            out_sets,
            facts: None,
            stored: None,
        },
        true,
    )
}

/// Makes the graph of the columns. With `check_acyclic` (always, except for
/// the snapshot compiled into the binary, which was checked when it was
/// made), computes the topological order now and rejects cycles; otherwise
/// the order is computed on first use.
pub(crate) fn assemble(columns: Columns, check_acyclic: bool) -> Result<Graph, GraphError> {
    let graph = Graph {
        columns,
        dependents: Default::default(),
        topo: OnceLock::new(),
        packages: PackageTable::default(),
        package_meta: Deferred::ready(Default::default()),
        package_graph: Deferred::ready(Default::default()),
        meta: Deferred::ready(StoreMeta::default()),
        description: String::new(),
        output_index: Default::default(),
    };
    if check_acyclic {
        let order = topological_order(&graph)?;
        let _ = graph.topo.set(order.into());
    }
    Ok(graph)
}

/// The inputs-first order of `g` ([`crate::dag::inputs_first`]); on a
/// cycle, names one.
pub(crate) fn topological_order(g: &Graph) -> Result<Vec<NodeId>, GraphError> {
    let n = g.len();
    let pending = match crate::dag::inputs_first(&g.columns.inputs, n) {
        Ok(order) => return Ok(order),
        Err(pending) => pending,
    };
    // The nodes left unplaced (a count above zero) are on a cycle or below
    // one; following inputs that are left from a node left must come back
    // to a node already seen.
    let left: Vec<bool> = pending.iter().map(|&p| p > 0).collect();
    let Some(start) = g.nodes().find(|x| left[x.index()]) else {
        return Err(GraphError::Cycle(Vec::new()));
    };
    // Walk upwards: every left node has a left dependent.
    let rev = g.columns.inputs.transpose(n);
    let mut seen = FxHashMap::default();
    let mut walk = vec![start];
    let mut x = start;
    loop {
        seen.insert(x, walk.len() - 1);
        let Some(&up) = rev.neighbours(x).iter().find(|y| left[y.index()]) else {
            return Err(GraphError::Cycle(vec![g.display_path(x)]));
        };
        if let Some(&at) = seen.get(&up) {
            // `walk[at..]` then `up` goes dependent-wards; a cycle reads the
            // same either way, so print it in input order.
            let mut cycle: Vec<String> = walk[at..]
                .iter()
                .rev()
                .map(|&y| g.display_path(y))
                .collect();
            cycle.insert(0, g.display_path(up));
            return Err(GraphError::Cycle(cycle));
        }
        walk.push(up);
        x = up;
    }
}
