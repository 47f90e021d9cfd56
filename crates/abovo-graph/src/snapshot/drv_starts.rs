//! Where each derivation's record starts in the derivation facts
//! (section 42 of the in-place form, version 8; see the [format](super)),
//! so that a query reads the records it asks for one at a time
//! ([`crate::graph::Records`]) instead of decoding all of section 6.
//!
//! `abovo seeds hello` asks for the facts of a few hundred derivations
//! (which built-in builds each one the walk reaches, each seed's fixed
//! output and URLs) out of 71,817; decoding them all (4 MB of varints, a
//! vector of every output and kept variable) was most of its time. Each
//! record read alone is range-checked as it is decoded, and the pages of
//! section 6 it lies on are checked against their checksums
//! (`block_sums`) before it is given out.

use super::SnapshotError;
use super::block_sums;
use super::decode::{self, Header};
use super::inplace::{Sections, words};
use crate::blocks::BlockCheck;
use crate::column::Col;
use crate::graph::{Deferred, NodeId, ReadRecord, Record};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The section: u32 ×n, per node 1 + the offset of its derivation's
/// record in section 6, 0 for nodes that are not derivations.
pub(super) const SECTION: usize = 42;
/// The derivation facts.
const FACTS: usize = 6;

/// The section for a graph of `n` nodes whose derivation facts (as
/// section 6 holds them) are `facts`, with the counts of `h`.
pub(super) fn section(facts: &[u8], h: &Header, n: usize) -> Vec<u8> {
    words(&starts(facts, h, n).unwrap_or_else(|_| vec![0; n]))
}

/// Per node, 1 + where its record starts, 0 for nodes that are not
/// derivations.
fn starts(facts: &[u8], h: &Header, n: usize) -> Result<Vec<u32>, SnapshotError> {
    let mut starts = vec![0u32; n];
    for (node, at) in decode::record_starts(facts, h)? {
        let at = at
            .checked_add(1)
            .ok_or_else(|| decode::invalid("derivation facts past 4 GiB"))?;
        if let Some(s) = starts.get_mut(node.index()) {
            *s = at;
        }
    }
    Ok(starts)
}

/// How a graph of the counts of `h` reads the record of one node from
/// `s`: the starts checked whole (checksum, each below the length of
/// section 6) and the pages of section 6 checked as records are read,
/// both on first use. Damage is reported to the handler (once), and the
/// damaged record reads as none.
pub(super) fn reader(s: &Arc<Sections>, h: &Header) -> ReadRecord {
    let (n, strings, len) = (h.nodes, h.strings, s.table_len(FACTS));
    let sc = Arc::clone(s);
    let starts: Deferred<Option<Col<u32>>> = Deferred::later(move || {
        sc.late(SECTION, |_| {
            let col = sc.mapped::<u32>(SECTION, n)?;
            match col.iter().position(|&x| x as usize > len) {
                Some(i) => Err(decode::invalid(format!(
                    "derivation start out of range at index {i}"
                ))),
                None => Ok(Some(col)),
            }
        })
    });
    let sc = Arc::clone(s);
    let check: Deferred<Option<Arc<BlockCheck>>> =
        Deferred::later(move || match block_sums::derivations(&sc) {
            Ok(c) => Some(c),
            Err(e) => {
                report(&sc, e);
                None
            }
        });
    let sc = Arc::clone(s);
    let bytes = sc.mapped::<u8>(FACTS, len).unwrap_or_default();
    let reported = AtomicBool::new(false);
    Box::new(move |node: NodeId| {
        let at = *starts.get().as_ref()?.get(node.index())?;
        let at = (at as usize).checked_sub(1)?;
        let (got, end) = decode::one_record(&bytes, at, node, strings);
        // The record's bytes (at least one, where it fails) checked before
        // anything read from them is given out.
        if !check.get().as_ref()?.ensure(at..end.max(at + 1).min(len)) {
            return None;
        }
        match got {
            Ok(r) => Some(Record {
                data: r.data,
                outputs: r.outputs,
                env: r.env,
            }),
            Err(e) => {
                if !reported.swap(true, Ordering::AcqRel) {
                    report(&sc, e);
                }
                None
            }
        }
    })
}

/// Tells the handler of `s` that the derivation facts are damaged.
fn report(s: &Sections, e: SnapshotError) {
    if let Some(f) = s.on_damage() {
        f(&SnapshotError::Damaged {
            section: super::inplace::SECTION_NAMES[FACTS],
            source: Box::new(e),
        });
    }
}

/// What a checked read adds (version 8): the stored starts are where the
/// records are, so that each record read alone is the one decoded with
/// the others.
pub(super) fn check(s: &Sections, h: &Header) -> Result<(), SnapshotError> {
    if !s.has(SECTION) {
        return Ok(());
    }
    let facts = s.verified(FACTS)?;
    let want = starts(facts, h, h.nodes)?;
    let stored = s.col::<u32>(SECTION, h.nodes)?;
    if let Some(i) = (0..h.nodes).find(|&i| stored.get(i) != want.get(i)) {
        return Err(decode::invalid(format!(
            "the derivation start of node {i} is not where its record is"
        )));
    }
    Ok(())
}

#[cfg(test)]
#[path = "drv_starts_tests.rs"]
mod tests;
