//! The output names of each derivation, apart from the derivation facts
//! (sections 39 and 40 of the in-place form, version 7; see the
//! [format](super)): `abovo show` lists a package's outputs, and decoding
//! all 4 MB of derivation facts for one derivation's names cost it a
//! third of its time. A whole distribution has a few dozen distinct sets
//! of names (`out`; `out`, `doc`; …), so a set id per node says it all.

use super::SnapshotError;
use super::codec::{Dec, Enc};
use super::inplace::{Sections, words};
use crate::graph::{Deferred, Graph, NO_DRV, NodeOutputs};
use crate::strings::StrId;
use rustc_hash::FxHashMap;
use std::sync::Arc;

/// The first of the two sections: the distinct sets (varints: their
/// count, then per set its length and the string ids of its names), then
/// per node the id of its derivation's set, u32 ×n, [`NO_DRV`] for nodes
/// that are not derivations.
pub(super) const FIRST: usize = 39;

fn invalid(msg: impl Into<String>) -> SnapshotError {
    SnapshotError::Invalid(msg.into())
}

/// The two sections of `graph`.
pub(super) fn sections(graph: &Graph) -> [Vec<u8>; 2] {
    let columns = graph.drv_columns();
    let mut ids: FxHashMap<Vec<StrId>, u32> = FxHashMap::default();
    let mut sets: Vec<Vec<StrId>> = Vec::new();
    let mut of_node = vec![NO_DRV; graph.len()];
    for d in &columns.drvs {
        let (a, b) = d.outputs;
        let names: Vec<StrId> = columns.outputs[a as usize..b as usize]
            .iter()
            .map(|o| o.name)
            .collect();
        let id = *ids.entry(names).or_insert_with_key(|names| {
            sets.push(names.clone());
            sets.len() as u32 - 1
        });
        if let Some(slot) = of_node.get_mut(d.node.0 as usize) {
            *slot = id;
        }
    }
    let mut e = Enc::default();
    e.var(sets.len() as u64);
    for set in &sets {
        e.var(set.len() as u64);
        for s in set {
            e.var(u64::from(s.0));
        }
    }
    [e.buf, words(&of_node)]
}

/// The output names of a graph of `n` nodes and `strings` strings, read
/// from `s` on first use: every string id below `strings`, every set id
/// below the number of sets (or [`NO_DRV`]). Damage is reported to the
/// handler, and the derivation facts then answer.
pub(super) fn read(s: &Arc<Sections>, n: usize, strings: usize) -> Deferred<Option<NodeOutputs>> {
    let s = Arc::clone(s);
    Deferred::later(move || {
        s.late(FIRST, |data| {
            let mut d = Dec::new(data);
            let count = d.count(1, "derivation output sets")?;
            let mut sets = Vec::with_capacity(count);
            for _ in 0..count {
                let len = d.count(1, "derivation output set")?;
                let mut set = Vec::with_capacity(len);
                for _ in 0..len {
                    set.push(StrId(d.below(strings, "derivation output name")?));
                }
                sets.push(set);
            }
            if !d.at_end() {
                return Err(invalid("bytes after the derivation output sets"));
            }
            let of_node = s.col::<u32>(FIRST + 1, n)?;
            if let Some(i) = of_node
                .iter()
                .position(|&x| x != NO_DRV && x as usize >= count)
            {
                return Err(invalid(format!(
                    "node output set out of range at index {i}"
                )));
            }
            Ok(Some(NodeOutputs { sets, of_node }))
        })
    })
}

/// What a checked read adds: each node's names are those of its
/// derivation's outputs (none for nodes that are not derivations). A
/// file without them (version 5 and earlier) has nothing to check; one
/// whose sections are damaged was refused when they were read.
pub(super) fn check(g: &Graph) -> Result<(), SnapshotError> {
    let kept = g
        .columns
        .facts
        .as_ref()
        .and_then(|f| f.outputs.get().as_ref());
    let Some(o) = kept else {
        return Ok(());
    };
    let columns = g.drv_columns();
    for (i, &slot) in columns.drv_slot.iter().enumerate() {
        let want: Option<Vec<StrId>> = columns.drvs.get(slot as usize).map(|d| {
            let (a, b) = d.outputs;
            let outputs = columns.outputs.get(a as usize..b as usize);
            outputs.unwrap_or_default().iter().map(|o| o.name).collect()
        });
        let same = match (o.of_node.get(i).copied(), want) {
            (Some(NO_DRV), None) => true,
            (Some(id), Some(names)) => o.sets.get(id as usize) == Some(&names),
            _ => false,
        };
        if !same {
            return Err(invalid(format!(
                "the output names of node {i} do not match its derivation"
            )));
        }
    }
    if o.of_node.len() != columns.drv_slot.len() {
        return Err(invalid("output names not of every node"));
    }
    Ok(())
}
