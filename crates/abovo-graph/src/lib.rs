//! Derivation graphs of Guix and Nix: load them, hold them compactly, and
//! answer graph questions in milliseconds.
//!
//! This crate is abovo's graph wing, on `abovo-store` and beside the build
//! wing (`abovo-build`), with the trust analysis on top of it
//! (docs/architecture.md). It reads derivations with `abovo-store` and
//! knows nothing of trust, builds or terminals.
//!
//! # API overview
//!
//! **Loading** ([`load`]): [`load::load`] takes any source —
//! a directory of `.drv` files (a real `/gnu/store`, `/nix/store`, or an
//! unpacked corpus), a `.tar.zst` of them, a corpus folder (`drvs.tar.zst`
//! with `packages.tsv.zst`, `store-meta.tsv.zst` and the package-level
//! tables), or an abovo [`snapshot`] — and returns a [`Graph`]. Parsing is parallel (rayon),
//! with `abovo-store`'s zero-copy reader (`DerivationRef`, the same grammar
//! and errors as `Derivation::parse`) reduced by [`load::parse_record`];
//! progress goes to a [`load::Reporter`]; [`store_dir::infer`] reads the
//! store directory of a source from its data. Lower level:
//! [`load::read_directory`] / [`load::read_tarball`] give the raw files,
//! [`build::DrvRecord`] and [`build::build_graph`] build a graph from parsed
//! derivations (also handy for hand-made graphs in tests).
//!
//! **The graph** ([`Graph`]): nodes are dense [`NodeId`]s in path order;
//! each is a derivation, an input source, or a missing input derivation
//! ([`NodeKind`]). [`Graph::inputs`] and [`Graph::dependents`] are
//! adjacency arrays in both directions; [`Graph::input_edges`] gives each
//! edge with the output names used. [`Graph::derivation`] gives a
//! [`DerivationNode`]: name, system, builder (`builtin:…` too), outputs and
//! their paths, fixed-output hash ([`DerivationNode::fixed_output`]), the
//! kind of its outputs ([`DerivationNode::kind`]: Nix's deferred, floating
//! content-addressed and impure ones have no path before the build),
//! kept environment (all variables of fixed-output derivations: `url`,
//! `commit`, `svn url`, …). [`Graph::topological_order`] lists inputs
//! first; graphs with a cycle are rejected when built. A graph may carry a
//! [`PackageTable`] ([`Graph::packages`]) and [`StoreMeta`] ([`Graph::meta`],
//! [`Graph::nar_size`]). Lookups: [`Graph::lookup`] (a store path),
//! [`Graph::lookup_output`] (an output path to its derivation), and
//! [`resolve::resolve`] for names as people type them (`hello`,
//! `hello@2.12`, a path).
//!
//! **Packages** ([`package_graph`], [`package_meta`]): beside the
//! derivations, the graphs `guix graph` draws by default (`--type
//! package`: packages and their explicit inputs) and with `--type
//! bag-emerged` (implicit inputs too), with how each input is taken
//! (label, output, input kind), each node a package identified by its
//! derivation with its status (public, hidden, private);
//! [`Graph::package_view`] gives one ready for queries. And what `guix
//! show` says of each package ([`Graph::package_meta`]: location, home
//! page, licences, synopsis, description, systems, hidden, superseded),
//! with its Texinfo fields rendered as `guix show` renders them
//! ([`texinfo`]).
//!
//! **Queries** ([`query`]), on any [`dag::Dag`] (the derivation graph or
//! a package graph): [`query::closure`], [`query::subgraph`] (the node and
//! edge sets of `guix graph -t TYPE`), [`query::reverse_closure`],
//! [`query::shortest_path`], [`query::all_shortest_paths`], [`query::PathsTo`]
//! (from every node to a set of targets),
//! [`query::dependents_where`] (`guix refresh -l`), and for derivations
//! [`query::closure_summary`] and [`query::dependents`], all shaped by a
//! [`query::Walk`] (hide sources, stop at fixed-output derivations, depth).
//!
//! **Snapshots** ([`snapshot`]): [`snapshot::write`] and [`snapshot::read`]
//! store a whole graph with its tables in a few megabytes (the Guix 1.5.0
//! corpus: 8.3 MB for the derivations, 4.3 MB more for the package-level
//! data, read in about 40 ms); [`snapshot::read_trusted`], for a snapshot
//! compiled into the program, skips the checksum and the checks across
//! sections, and decodes the derivation facts, store metadata, package
//! graphs (each type apart) and package metadata only when first asked for
//! (a `path` query never needs the derivation facts).
//! [`snapshot::write_in_place`] and [`snapshot::open`] are the in-place
//! form (format version 7): uncompressed, the columns every query reads as
//! aligned little-endian arrays that the graph borrows from a memory map
//! (owned or borrowed, a column reads as a slice), each section checked
//! against its checksum and its ids against their ranges when first
//! touched, with what a graph would otherwise derive in every process
//! stored beside them (reverse edges and inputs-first orders of the
//! derivation and package graphs, package metadata rows, where each
//! package row starts, each derivation's output names); the `abovo` binary keeps its built-in snapshot in that
//! form in its cache (docs/snapshot.md). [`snapshot::write_dense`] is the
//! compressed form at its smallest (version 6, xz where it beats zstd), the
//! one compiled into the binary.
//!
//! **Verification** ([`verify`]): [`verify::verify_files`] recomputes
//! every `.drv` path and output path of a set of derivations from their
//! bytes (with `abovo-store`'s `DerivationRef`: hashes spliced from the
//! canonical bytes), in dependency order with a memoised derivation hash,
//! and reports every mismatch with the recomputed and recorded value,
//! telling root causes from their consequences downstream.
//!
//! # Example
//!
//! ```
//! use abovo_graph::build::{DrvRecord, build_graph};
//! use abovo_graph::query::{Walk, shortest_path};
//! use abovo_store::{StoreDir, StorePath};
//!
//! let p = |s: &str| StorePath::from_base_name(s).unwrap();
//! let leaf = DrvRecord {
//!     path: p("00000000000000000000000000000001-leaf-1.0.drv"),
//!     system: "x86_64-linux".into(), builder: "/bin/sh".into(),
//!     outputs: vec![("out".into(), None)], fixed: None, env: vec![],
//!     kind: abovo_store::derivation::DerivationKind::InputAddressed,
//!     inputs: vec![], sources: vec![p("00000000000000000000000000000002-script")],
//! };
//! let top = DrvRecord {
//!     path: p("00000000000000000000000000000003-top-2.0.drv"),
//!     inputs: vec![(leaf.path.clone(), vec!["out".into()])],
//!     sources: vec![], ..leaf.clone()
//! };
//! let g = build_graph(StoreDir::default(), vec![leaf, top])?;
//! let from = abovo_graph::resolve::resolve(&g, "top")?;
//! let to = g.lookup(&p("00000000000000000000000000000002-script")).unwrap();
//! let path = shortest_path(&g, from, to, &Walk::default()).unwrap();
//! assert_eq!(path.len(), 3);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]
// Unsafe code is confined to three audited places: mapping a snapshot file
// (`snapshot::inplace`) and declaring the id newtypes plain old data
// (`pod_u32!`), so that a mapped snapshot's arrays read as `&[NodeId]`.
#![deny(unsafe_code)]

mod blocks;
pub mod build;
mod column;
pub mod dag;
mod deferred;
mod drv_files;
pub mod error;

/// Declares a `#[repr(transparent)]` newtype over `u32` plain old data, so
/// that arrays of it can be viewed in the bytes of a mapped snapshot.
macro_rules! pod_u32 {
    ($t:ty) => {
        // SAFETY: `$t` is `#[repr(transparent)]` over a `u32`: every bit
        // pattern is valid, it has no padding, and all zeros is a value.
        #[allow(unsafe_code)]
        unsafe impl bytemuck::Zeroable for $t {}
        // SAFETY: as above; it is `Copy` and `'static`.
        #[allow(unsafe_code)]
        unsafe impl bytemuck::Pod for $t {}
    };
}
pub(crate) use pod_u32;
pub mod graph;
pub mod input;
pub mod load;
pub mod meta;
pub mod package_graph;
pub mod package_meta;
pub mod packages;
pub mod query;
pub mod resolve;
pub mod snapshot;
pub mod store_dir;
pub mod strings;
pub mod texinfo;
mod tsv;
pub mod verify;
pub mod version;

pub use error::{GraphError, LoadError, ResolveError};
pub use graph::{DerivationNode, Edge, Graph, NodeId, NodeKind, OutputInfo};
pub use meta::StoreMeta;
pub use packages::{Package, PackageTable};
