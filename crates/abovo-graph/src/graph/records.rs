//! Derivation records read one at a time, when the source can (an
//! in-place snapshot of version 8 stores where each one starts): a query
//! that asks for the facts of a few hundred derivations (`abovo seeds`)
//! decodes those and not the other 71,000.
//!
//! Node ids follow the order of hashes, so the derivations a walk reaches
//! lie all over the section: any chunk of records larger than one would
//! be touched by nearly every walk (as 16,384-value blocks were, see
//! `crate::blocks`). Each record is kept, once decoded, in a slot of its
//! node.
//!
//! A query that asks for most derivations (`audit` asks for every node
//! its walk reaches, nearly all of them) is better served by decoding the
//! section whole, in one pass into shared vectors, than record by record
//! (a few allocations each; 15 MB more for the whole distribution): past
//! [`SATURATED`] of the nodes read alone, the graph decodes them all.

use super::{DrvData, NodeId, OutputData};
use crate::strings::StrId;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The share of the nodes (one in this many) past which records read
/// alone give way to decoding every derivation at once.
pub(crate) const SATURATED: usize = 16;

/// One derivation's facts, decoded alone: its outputs and kept
/// environment are its own (its ranges index them).
#[derive(Debug)]
pub(crate) struct Record {
    pub(crate) data: DrvData,
    pub(crate) outputs: Vec<OutputData>,
    pub(crate) env: Vec<(StrId, StrId)>,
}

/// How a source reads the record of one node: `None` for a node that is
/// not a derivation, or whose record is damaged (reported by the source).
pub(crate) type ReadRecord = Box<dyn Fn(NodeId) -> Option<Record> + Send + Sync>;

/// The records of a graph's derivations, each read on first use.
pub(crate) struct Records {
    read: ReadRecord,
    /// The number of nodes.
    len: usize,
    /// Per node, its record once read (made on first use: most queries
    /// never ask).
    slots: OnceLock<Box<[OnceLock<Box<Record>>]>>,
    /// How many records were read.
    read_count: AtomicUsize,
}

impl Records {
    /// The records of a graph of `len` nodes, as `read` gives them.
    pub(crate) fn new(len: usize, read: ReadRecord) -> Records {
        Records {
            read,
            len,
            slots: OnceLock::new(),
            read_count: AtomicUsize::new(0),
        }
    }

    /// The record of node `n`, read now if it was not yet; `None` for a
    /// node that is not a derivation (or whose record is damaged).
    pub(crate) fn get(&self, n: NodeId) -> Option<&Record> {
        let slots = self
            .slots
            .get_or_init(|| (0..self.len).map(|_| OnceLock::new()).collect());
        let slot = slots.get(n.index())?;
        if let Some(r) = slot.get() {
            return Some(r);
        }
        // Two threads may read the same record at once: both read the
        // same facts, and the first one kept is the one given.
        let record = (self.read)(n)?;
        self.read_count.fetch_add(1, Ordering::Relaxed);
        Some(slot.get_or_init(|| Box::new(record)))
    }

    /// How many records were read (for tests: what a query decoded).
    pub(crate) fn read_count(&self) -> usize {
        self.read_count.load(Ordering::Relaxed)
    }

    /// Whether so many records were read that decoding every derivation
    /// at once serves the rest better ([`SATURATED`]).
    pub(crate) fn saturated(&self) -> bool {
        self.read_count() > self.len / SATURATED
    }
}

impl std::fmt::Debug for Records {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Records")
            .field("read", &self.read_count())
            .finish()
    }
}
