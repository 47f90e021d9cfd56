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
use abovo_store::derivation::borrowed::EnvVarRef;
use abovo_store::derivation::{
    Derivation, DerivationKind, DerivationRef, DynamicOutputs, FixedOutput, KindError, StorePathRef,
};
use abovo_store::hash::HashError;
use abovo_store::store_path::{StoreDir, StorePath};
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use std::borrow::Cow;
use std::sync::OnceLock;

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
        let mut inputs: Vec<(StorePath, Vec<String>)> =
            exact(drv.input_derivations().iter().map(|i| {
                // Nine inputs in ten use just `out`.
                let names = if i.outputs.raw() == b"[\"out\"]" && i.dynamic.is_empty() {
                    vec!["out".to_owned()]
                } else {
                    let mut names = Vec::with_capacity(i.outputs.len());
                    names.extend(i.outputs.iter().map(Cow::into_owned));
                    if !i.dynamic.is_empty() {
                        names.extend(DynamicOutputs::names(&i.dynamic));
                        names.sort_unstable();
                    } else if !sorted {
                        names.sort_unstable();
                    }
                    names
                };
                (i.path.to_store_path(), names)
            }));
        let mut sources: Vec<StorePath> =
            exact(drv.input_sources().iter().map(StorePathRef::to_store_path));
        if !sorted {
            inputs.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            sources.sort_unstable();
        }
        Ok(DrvRecord {
            path,
            system: drv.system().to_owned(),
            builder: drv.builder().to_owned(),
            outputs,
            fixed,
            kind,
            env,
            inputs,
            sources,
        })
    }
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
    let graph = build_sorted(store, &records.iter().collect::<Vec<_>>());
    // Millions of small strings: free them on every core.
    records.into_par_iter().for_each(drop);
    graph
}

/// [`build_graph`] of records the caller keeps (an index writes them out
/// while the graph is built from them): the same graph, nothing copied.
pub fn build_graph_borrowed(
    store: StoreDir,
    mut records: Vec<&DrvRecord>,
) -> Result<Graph, GraphError> {
    records.par_sort_unstable_by(|a, b| a.path.cmp(&b.path));
    build_sorted(store, &records)
}

/// The graph of `records`, sorted by path.
fn build_sorted(store: StoreDir, records: &[&DrvRecord]) -> Result<Graph, GraphError> {
    if let Some(w) = records.windows(2).find(|w| w[0].path == w[1].path) {
        return Err(GraphError::Duplicate(store.display(&w[0].path)));
    }
    // Number the nodes: loaded derivations (record `i` is node `i` until
    // the nodes are put in path order below), then every other path
    // named, in the order first named.
    let mut ids: FxHashMap<Key<'_>, u32> = FxHashMap::default();
    ids.reserve(records.len() * 2);
    let mut keys: Vec<(Key<'_>, NodeKind)> = Vec::with_capacity(records.len() * 2);
    for r in records {
        ids.insert(key(&r.path), keys.len() as u32);
        keys.push((key(&r.path), NodeKind::Derivation));
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
        .map(|r| {
            let named = r.inputs.iter().map(|(p, _)| p).chain(&r.sources);
            exact_len(
                r.inputs.len() + r.sources.len(),
                named.map(|p| ids.get(&key(p)).copied().unwrap_or(UNSEEN)),
            )
        })
        .collect();
    for (r, refs) in records.iter().zip(&mut refs) {
        let named = (r.inputs.iter().map(|(p, _)| (p, NodeKind::Missing)))
            .chain(r.sources.iter().map(|p| (p, NodeKind::Source)));
        for (id, (p, kind)) in refs.iter_mut().zip(named) {
            if *id == UNSEEN {
                *id = *ids.entry(key(p)).or_insert_with(|| {
                    keys.push((key(p), kind));
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

    // Edges of each derivation, renumbered and sorted in parallel.
    let edges: Vec<Vec<(u32, &[String])>> = records
        .par_iter()
        .zip(&refs)
        .map(|(r, refs)| {
            let (inputs, sources) = refs.split_at(r.inputs.len());
            let mut e: Vec<(u32, &[String])> = Vec::with_capacity(refs.len());
            for ((_, outs), &old) in r.inputs.iter().zip(inputs) {
                e.push((final_id[old as usize], outs.as_slice()));
            }
            for &old in sources {
                let id = final_id[old as usize];
                // A path named both as input derivation and as source keeps
                // one edge, the one with outputs.
                if !e.iter().any(|&(t, _)| t == id) {
                    e.push((id, &[]));
                }
            }
            e.sort_unstable_by_key(|&(t, _)| t);
            e
        })
        .collect();
    drop(refs);

    let mut drvs = Vec::with_capacity(records.len());
    let mut set_cache: FxHashMap<&[String], u32> = FxHashMap::default();
    // Nine edges in ten use just `out`: give that set its id up front.
    let only_out = {
        let set = vec![strings.intern("out")];
        let id = out_sets.len() as u32;
        out_set_ids.insert(set.clone(), id);
        out_sets.push(set);
        id
    };
    let mut outputs = Vec::new();
    let mut env = Vec::new();
    let mut per_node: Vec<Vec<(u32, u32)>> = vec![Vec::new(); n];
    for (old, (r, e)) in records.iter().zip(&edges).enumerate() {
        let node = NodeId(final_id[old]);
        let out_start = outputs.len() as u32;
        for (name, path) in &r.outputs {
            outputs.push(OutputData {
                name: strings.intern(name),
                path: match path {
                    Some(p) => OutPath::Stored(*p.hash_part_bytes(), strings.intern(p.name())),
                    None => OutPath::None,
                },
            });
        }
        let env_start = env.len() as u32;
        for (k, v) in &r.env {
            env.push((strings.intern(k), strings.intern(v)));
        }
        drvs.push(DrvData {
            node,
            system: strings.intern(&r.system),
            builder: strings.intern(&r.builder),
            fixed: r.fixed,
            kind: if r.fixed.is_some() {
                DerivationKind::Fixed
            } else {
                r.kind
            },
            outputs: (out_start, outputs.len() as u32),
            env: (env_start, env.len() as u32),
        });
        per_node[node.index()] = e
            .iter()
            .map(|&(t, outs)| {
                if outs.len() == 1 && outs[0] == "out" {
                    return (t, only_out);
                }
                if let Some(&id) = set_cache.get(outs) {
                    return (t, id);
                }
                let set: Vec<StrId> = outs.iter().map(|o| strings.intern(o)).collect();
                let next = out_sets.len() as u32;
                let id = *out_set_ids.entry(set.clone()).or_insert_with(|| {
                    out_sets.push(set);
                    next
                });
                set_cache.insert(outs, id);
                (t, id)
            })
            .collect();
    }
    // Records are in path order, and so are node ids.
    drvs.sort_unstable_by_key(|d| d.node);
    drop(set_cache);
    drop(edges);
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
