//! The checked read of an in-place snapshot (see the [format](super)):
//! every section against its checksum, every id against its range, and
//! what ties the sections together, as a read of the compressed form
//! checks it; what [`super::read`] and [`super::info`] do with a file of
//! the in-place form in memory.

use super::SnapshotError;
use super::decode;
use super::inplace::{OnDamage, Sections, open_sections};
use crate::column::Backing;
use crate::graph::{Graph, NodeKind};
use crate::package_graph::GraphType;
use std::sync::Arc;

fn invalid(msg: impl Into<String>) -> SnapshotError {
    SnapshotError::Invalid(msg.into())
}

/// Reads an in-place snapshot from memory, copied to an aligned buffer,
/// checking everything ([`read_checked`]).
pub(super) fn read_copy(bytes: &[u8]) -> Result<(Graph, String), SnapshotError> {
    read_checked(Arc::new(Backing::copy_of(bytes)))
}

/// [`read_copy`], with the checksum of the section table (base16).
pub(super) fn read_copy_with_table(bytes: &[u8]) -> Result<(Graph, String, String), SnapshotError> {
    let (g, creator) = read_copy(bytes)?;
    let table = bytes
        .get(24..32)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u64::from_le_bytes);
    Ok((g, creator, format!("{table:016x}")))
}

/// Reads an in-place snapshot from `backing`, checking everything a
/// version 2 read checks: every section's checksum, every id, what ties
/// the sections together, and that the graph is acyclic.
pub(super) fn read_checked(backing: Arc<Backing>) -> Result<(Graph, String), SnapshotError> {
    let first: Arc<std::sync::Mutex<Option<String>>> = Arc::default();
    let keep = Arc::clone(&first);
    let handler: OnDamage = Arc::new(move |e: &SnapshotError| {
        if let Ok(mut slot) = keep.lock() {
            slot.get_or_insert_with(|| e.to_string());
        }
    });
    let s = Sections::parse(backing, Some(handler))?;
    for i in 0..s.len() {
        s.verified(i)?;
    }
    super::drv_starts::check(&s, &decode::header(s.verified(0)?)?)?;
    let (g, creator) = open_sections(s, true)?;
    // Decode every late section now, so that a damaged one is an error.
    let drvs = g.drv_columns();
    // The arrays checked block by block, every block now.
    let _ = (g.columns.inputs.targets(), g.dependent_rows().targets());
    let _ = g.columns.facts.as_ref().map(|f| f.outputs.get());
    let _ = g.meta();
    let pg = g.package_graph();
    for ty in GraphType::ALL {
        let _ = pg.layer(ty);
    }
    let _ = g.package_meta();
    if let Some(msg) = first.lock().ok().and_then(|mut m| m.take()) {
        return Err(invalid(msg));
    }
    let kinds: Vec<NodeKind> = g.nodes().map(|x| g.kind(x)).collect();
    let c = &g.columns;
    decode::check_tied(
        &c.strings,
        c.hash_parts.all(),
        &c.names,
        &kinds,
        &drvs.drvs,
        &drvs.outputs,
        pg,
    )?;
    if let Some(f) = &c.facts {
        let mut want = vec![(crate::graph::NO_DRV, 0u8); g.len()];
        for d in &drvs.drvs {
            let builder = c.strings.get(d.builder);
            let builtin = builder.starts_with(abovo_store::derivation::BUILTIN_PREFIX);
            let flags = match f.kinds {
                true => crate::graph::flags_of(d.kind, builtin),
                false => u8::from(d.fixed.is_some()),
            };
            want[d.node.index()] = (d.system.0, flags);
        }
        let tied = want
            .iter()
            .enumerate()
            .all(|(i, &(s, fl))| f.systems[i] == s && f.flags[i] == fl);
        if !tied {
            return Err(invalid(
                "node systems or flags do not match the derivations",
            ));
        }
    }
    if !g.meta().is_empty() && g.meta().nar_size.len() != g.len() {
        return Err(invalid("metadata does not cover every node"));
    }
    super::derived::check(&g)?;
    super::node_outputs::check(&g)?;
    super::fixed_paths::check(&g)?;
    super::meta_rows::check(g.package_meta())?;
    Ok((g, creator))
}
