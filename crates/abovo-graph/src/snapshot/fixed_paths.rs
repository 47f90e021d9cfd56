//! The store path of each fixed output, as its hash gives it (section 43
//! of the in-place form, version 8; see the [format](super)): the hash
//! part per node, 32 bytes of nix32 text, zeros for nodes that are not
//! fixed-output derivations.
//!
//! A derivation records no path for a fixed output (snapshots do not
//! store these incompressible digests in the compressed form), so its
//! path is computed from its hash: two SHA-256 and a nix32 encoding per
//! fixed output. `audit` asks for the path of each of its 36,000 fixed
//! outputs (each seed's store path), which cost it about a tenth of its
//! CPU; the in-place form stores them once, checked page by page as read
//! (section 41).

use super::SnapshotError;
use super::inplace::Sections;
use crate::blocks::Checked;
use crate::graph::Graph;

/// The section.
pub(super) const SECTION: usize = 43;

/// The section for `graph`.
pub(super) fn section(graph: &Graph) -> Vec<u8> {
    let mut parts = vec![[0u8; 32]; graph.len()];
    for d in graph.derivations() {
        if let (Some(p), Some(slot)) = (d.hashed_fixed_path(), parts.get_mut(d.node().index())) {
            *slot = *p.hash_part_bytes();
        }
    }
    parts.concat()
}

/// The hash parts of a graph of `n` nodes, checked page by page as read.
pub(super) fn read(s: &Sections, n: usize) -> Result<Checked<[u8; 32]>, SnapshotError> {
    let check = super::block_sums::fixed_paths(s, n)?;
    Ok(Checked::new(s.mapped(SECTION, n)?, Some(check)))
}

/// What a checked read adds (version 8): each stored hash part is the
/// one the fixed output's hash gives, and nodes that are not fixed-output
/// derivations have none.
pub(super) fn check(g: &Graph) -> Result<(), SnapshotError> {
    let Some(stored) = g
        .columns
        .facts
        .as_ref()
        .and_then(|f| f.fixed_paths.as_ref())
    else {
        return Ok(());
    };
    let mut want = vec![[0u8; 32]; g.len()];
    for d in g.derivations() {
        if let (Some(p), Some(slot)) = (d.hashed_fixed_path(), want.get_mut(d.node().index())) {
            *slot = *p.hash_part_bytes();
        }
    }
    match stored.whole() {
        Some(parts) if parts == &want[..] => Ok(()),
        _ => Err(SnapshotError::Invalid(
            "the fixed outputs' hash parts are not those their hashes give".into(),
        )),
    }
}
