//! A [`DrvRecord`] with its references packed: what a load of a whole
//! directory keeps of each derivation until the graph is built.
//!
//! A record keeps each input as an owned path and a list of owned output
//! names: three allocations per input (and one per source), some 170 bytes
//! each, so the records of a 200,000-`.drv` store took half a gigabyte,
//! and the kernel's zeroing of those fresh pages and the allocator's work
//! to free them were a fifth of a first index. A packed record keeps every
//! reference in one array (hash part and where its name is) and the names
//! in one string; an input that uses only `out` (nine in ten) allocates
//! nothing of its own. The builder reads it as it reads a record (a test
//! checks that both give the same graph, byte for byte).

use super::view::{Outs, Ref};
use super::{DrvRecord, Key, input_names};
use crate::error::GraphError;
use crate::graph::NodeKind;
use abovo_store::derivation::{DerivationRef, StorePathRef};
use abovo_store::store_path::StorePath;

/// A derivation as the builder needs it, its references packed (see the
/// module's documentation). Made by [`PackedRecord::from_ref`]; built into
/// a graph by [`super::build_graph_packed`].
#[derive(Debug)]
pub struct PackedRecord {
    /// Everything but the references: its `inputs` and `sources` are empty.
    head: DrvRecord,
    /// Input derivations, then input sources, each sorted by path.
    refs: Box<[Packed]>,
    /// The names of the paths of `refs`, one after another.
    names: Box<str>,
    /// The output names of the inputs that use more than `out`, sorted.
    outs: Vec<Vec<String>>,
}

/// One reference: the path's hash part, where its name is in
/// [`PackedRecord::names`], and its outputs ([`SOURCE`], [`ONLY_OUT`], or
/// an index into [`PackedRecord::outs`]).
#[derive(Debug)]
struct Packed {
    hash: [u8; 32],
    name: (u32, u32),
    outs: u32,
}

/// `Packed::outs` of an input source.
const SOURCE: u32 = u32::MAX;
/// `Packed::outs` of an input derivation that uses just `out`.
const ONLY_OUT: u32 = u32::MAX - 1;

impl PackedRecord {
    /// Reduces a derivation read with the zero-copy reader and stored at
    /// `path`: what [`DrvRecord::from_ref`] keeps, packed.
    pub fn from_ref(path: StorePath, drv: &DerivationRef<'_>) -> Result<PackedRecord, GraphError> {
        let head = DrvRecord::head_of(path, drv)?;
        let sorted = drv.is_canonical();
        let inputs = drv.input_derivations();
        let sources = drv.input_sources();
        let len: usize = inputs
            .iter()
            .map(|i| i.path.name().len())
            .chain(sources.iter().map(|p| p.name().len()))
            .sum();
        if len > u32::MAX as usize {
            return Err(GraphError::TooLarge(format!(
                "the references of {}: {len} bytes of names",
                head.path
            )));
        }
        let mut record = PackedRecord {
            head,
            refs: Box::default(),
            names: Box::default(),
            outs: Vec::new(),
        };
        let mut names = String::with_capacity(len);
        let mut refs = Vec::with_capacity(inputs.len() + sources.len());
        let mut push = |refs: &mut Vec<Packed>, p: &StorePathRef<'_>, outs: u32| {
            let start = names.len() as u32;
            names.push_str(p.name());
            refs.push(Packed {
                hash: *p.hash_part(),
                name: (start, names.len() as u32),
                outs,
            });
        };
        for i in inputs {
            let outs = match input_names(i, sorted) {
                None => ONLY_OUT,
                Some(list) => {
                    record.outs.push(list);
                    record.outs.len() as u32 - 1
                }
            };
            push(&mut refs, &i.path, outs);
        }
        for p in sources {
            push(&mut refs, p, SOURCE);
        }
        record.names = names.into_boxed_str();
        if !sorted {
            // Input derivations first, then sources, each in path order,
            // as a record lists them.
            let n = inputs.len();
            let (ins, srcs) = refs.split_at_mut(n);
            let names = &record.names;
            let by_path = |a: &Packed, b: &Packed| packed_key(names, a).cmp(&packed_key(names, b));
            ins.sort_unstable_by(by_path);
            srcs.sort_unstable_by(by_path);
        }
        record.refs = refs.into_boxed_slice();
        Ok(record)
    }

    /// Everything but the references.
    pub(super) fn head(&self) -> &DrvRecord {
        &self.head
    }

    /// The `.drv` store path.
    pub fn path(&self) -> &StorePath {
        &self.head.path
    }

    /// Its references, as a record's view lists them.
    pub(super) fn refs(&self) -> impl Iterator<Item = Ref<'_>> {
        self.refs.iter().map(|r| {
            let key = packed_key(&self.names, r);
            match r.outs {
                SOURCE => (key, NodeKind::Source, Outs::Names(&[])),
                ONLY_OUT => (key, NodeKind::Missing, Outs::OnlyOut),
                i => (
                    key,
                    NodeKind::Missing,
                    Outs::Names(self.outs.get(i as usize).map_or(&[][..], Vec::as_slice)),
                ),
            }
        })
    }
}

/// The key of the path of `r`, whose name is in `names`.
fn packed_key<'a>(names: &'a str, r: &'a Packed) -> Key<'a> {
    let (start, end) = r.name;
    Key(
        &r.hash,
        names.get(start as usize..end as usize).unwrap_or(""),
    )
}
