//! The seeds report in JSON: the [`TrustReport`] as it serializes with
//! every seed traced, written field by field
//! ([`crate::report::json_object`]) from the untraced report and its
//! [`Tracer`]. The bytes are those of the traced report serialized whole
//! (the tests compare the two).
//!
//! The seeds' paths and package trails are most of the answer: for
//! python-pytorch, 5 of its 8 MB are 14,717 path steps and 15,581 package
//! steps for 2,717 seeds, which name 3,865 derivations and 929 packages
//! between them. Made as text for every seed and serialized one seed
//! after the other, they took two thirds of the command's CPU. Here each
//! derivation and package is rendered once, on first use, by whichever
//! thread needs it first, at the depth it is written at (`Rendered`),
//! and copied wherever a path or a trail names it; the seeds are written
//! in chunks (on every core when there are many, see `SEEDS`), each
//! traced by ids as it is written.

use crate::report::in_order::Chunking;
use crate::report::json::{self, push_array};
use crate::report::json_object::Object;
use abovo_graph::NodeId;
use abovo_graph::package_graph::PackageId;
use abovo_trust::classify::SeedFacts;
use abovo_trust::packages::{PackageBuild, TrailIds};
use abovo_trust::report::{SeedEntry, Tracer, TrustReport, steps};
use rustc_hash::FxHashMap;
use serde::Serialize;
use std::hash::Hash;
use std::io::{self, Write};
use std::sync::OnceLock;

/// Seeds in a chunk, and how many make the chunks worth rendering on
/// several threads: a seed is about 3 KiB of JSON, so a chunk about 100
/// KiB; python-pytorch's 2,717 seeds make 85 chunks to share between the
/// cores, hello's 278 nine chunks, written one after the other (a thread
/// of its own gained nothing there, and cost time on a busy machine).
const SEEDS: Chunking = Chunking {
    per_chunk: 32,
    parallel_from: 1024,
};

/// Writes the fields of `r` with every seed traced by `tracer` (the paths
/// and trails `r` has are not read): the report [`Tracer::trace`] would
/// make, as it serializes.
pub fn write(
    json: &mut Object<'_, impl Write>,
    r: &TrustReport,
    tracer: &Tracer<'_>,
) -> io::Result<()> {
    // Every field by name, in order: one added to the report must be
    // added here too.
    let TrustReport {
        graph,
        target,
        target_label,
        target_package,
        through_fixed,
        derivations_walked,
        seeds,
        totals,
        builtins,
        unused_seed_files,
    } = r;
    json.field("graph", graph)?;
    json.field("target", target)?;
    json.field("target_label", target_label)?;
    if let Some(package) = target_package {
        json.field("target_package", package)?;
    }
    json.field("through_fixed", through_fixed)?;
    json.field("derivations_walked", derivations_walked)?;
    let pieces = Pieces::new(tracer);
    json.array_in_chunks("seeds", seeds, SEEDS, |out, depth, chunk| {
        push_array(out, depth, chunk, |out, depth, e| {
            pieces.seed(out, depth, e)
        })
    })?;
    json.field("totals", totals)?;
    json.field("builtins", builtins)?;
    json.field("unused_seed_files", unused_seed_files)
}

/// The steps and packages of a report's paths and trails, each rendered
/// once (see the module docs).
struct Pieces<'t, 'g> {
    tracer: &'t Tracer<'g>,
    /// Each node the walk reached, as a step of a path.
    steps: Rendered<NodeId>,
    /// Each package the target's package reaches, as the package that
    /// brings a seed in, and as a step of a package path (one level
    /// deeper).
    bringers: Rendered<PackageId>,
    packages: Rendered<PackageId>,
}

impl<'t, 'g> Pieces<'t, 'g> {
    fn new(tracer: &'t Tracer<'g>) -> Self {
        let packages = tracer.trails().map_or(&[][..], |t| t.reached());
        Pieces {
            tracer,
            steps: Rendered::new(tracer.reached()),
            bringers: Rendered::new(packages),
            packages: Rendered::new(packages),
        }
    }

    /// Writes seed `e` traced, an object `depth` levels deep.
    fn seed(&self, out: &mut Vec<u8>, depth: usize, e: &SeedEntry) -> io::Result<()> {
        // Every field by name, in order, as for the report's.
        let SeedEntry {
            facts,
            class,
            path_from_target: _,
            package: _,
        } = e;
        let path = self.tracer.path(facts.node);
        let g = self.tracer.graph();
        let mut entry = Object::new(out, depth)?;
        write_facts(&mut entry, facts)?;
        entry.flatten(class)?;
        entry.field_with("path_from_target", |out, depth| {
            push_array(out, depth, &path, |out, depth, &n| {
                self.steps.write_with(out, depth, n, |out| {
                    // A `Step`, as it serializes.
                    let mut step = Object::new(out, depth)?;
                    step.field_str("path", &g.display_path(n))?;
                    step.field_str("label", g.label(n))?;
                    step.end()
                })
            })
        })?;
        if let Some(trail) = self.tracer.trail_ids(&path) {
            entry.field_with("package", |out, depth| self.trail(out, depth, &trail))?;
        }
        entry.end()
    }

    /// Writes a package trail, an object `depth` levels deep, with the
    /// fields of [`abovo_trust::packages::PackageTrail`].
    fn trail(&self, out: &mut Vec<u8>, depth: usize, trail: &TrailIds<'_>) -> io::Result<()> {
        let TrailIds {
            brought_in_by,
            package_path,
            then,
        } = trail;
        let Some(trails) = self.tracer.trails() else {
            return Err(io::Error::other("a package trail without package graphs"));
        };
        let step = |b: PackageBuild| trails.packages().step(b);
        let mut object = Object::new(out, depth)?;
        object.field_with("brought_in_by", |out, depth| match brought_in_by {
            // Another system's build is its derivation's, and seldom met.
            PackageBuild {
                other_system: Some(_),
                ..
            } => Ok(json::write_at(out, &step(*brought_in_by), depth)?),
            b => self.bringers.write(out, depth, b.package, || step(*b)),
        })?;
        object.field_with("package_path", |out, depth| {
            push_array(out, depth, package_path, |out, depth, &package| {
                self.packages
                    .write(out, depth, package, || step(PackageBuild::own(package)))
            })
        })?;
        // Seldom more than a derivation or two, for few seeds.
        object.field("then", &steps(self.tracer.graph(), then))?;
        object.end()
    }
}

/// Writes the fields of `facts` into `entry` as `#[serde(flatten)]`
/// writes them, without serde: they are most of what is left to write of a
/// seed once its paths and trails are copied (see
/// [`crate::report::json::write_str`]).
fn write_facts(entry: &mut Object<'_, Vec<u8>>, facts: &SeedFacts) -> io::Result<()> {
    // Every field by name, in order: one added to the facts must be added
    // here too (and is, the tests compare with serde's bytes).
    let SeedFacts {
        node: _,
        origin,
        name,
        store_path,
        derivation,
        fixed: _,
        hash,
        urls,
        builder,
    } = facts;
    entry.field("origin", origin)?;
    entry.field_str("name", name)?;
    entry.field_str("store_path", store_path)?;
    if let Some(derivation) = derivation {
        entry.field_str("derivation", derivation)?;
    }
    if let Some(hash) = hash {
        entry.field_str("hash", hash)?;
    }
    if !urls.is_empty() {
        entry.field_with("urls", |out, depth| {
            push_array(out, depth, urls, |out, _, url| json::write_str(out, url))
        })?;
    }
    if let Some(builder) = builder {
        entry.field_str("builder", builder)?;
    }
    Ok(())
}

/// A value for each of a set of nodes, as JSON made on first use (by
/// whichever thread needs it first), at the depth it is first asked for.
/// (Found in a hash map: an array by node index would be as long as the
/// graph, and filling it cost more than the probes, even for
/// python-pytorch.)
struct Rendered<N> {
    depth: OnceLock<usize>,
    pieces: FxHashMap<N, OnceLock<Box<[u8]>>>,
}

impl<N: Copy + Eq + Hash> Rendered<N> {
    fn new(nodes: &[N]) -> Self {
        Rendered {
            depth: OnceLock::new(),
            pieces: nodes.iter().map(|&n| (n, OnceLock::new())).collect(),
        }
    }

    /// Appends the bytes `make` writes for `n` at `depth`: copied when
    /// they are made already, made (and kept, when `n` is one of the nodes
    /// and `depth` the usual one) otherwise.
    fn write_with(
        &self,
        out: &mut Vec<u8>,
        depth: usize,
        n: N,
        make: impl FnOnce(&mut Vec<u8>) -> io::Result<()>,
    ) -> io::Result<()> {
        let piece = match self.pieces.get(&n) {
            Some(piece) if *self.depth.get_or_init(|| depth) == depth => piece,
            _ => return make(out),
        };
        let bytes = match piece.get() {
            Some(bytes) => bytes,
            None => {
                // Two threads may both make it: the first one's is kept.
                let mut made = Vec::with_capacity(256);
                make(&mut made)?;
                piece.get_or_init(|| made.into_boxed_slice())
            }
        };
        out.extend_from_slice(bytes);
        Ok(())
    }

    /// Appends the value `make()` of `n` as [`json::write`] writes it
    /// `depth` levels deep: copied when it is made already, made (and
    /// kept, when `n` is one of the nodes and `depth` the usual one)
    /// otherwise.
    fn write<T: Serialize>(
        &self,
        out: &mut Vec<u8>,
        depth: usize,
        n: N,
        make: impl FnOnce() -> T,
    ) -> io::Result<()> {
        self.write_with(out, depth, n, |out| {
            Ok(json::write_at(out, &make(), depth)?)
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use abovo_graph::Graph;
    use abovo_graph::query::Walk;
    use abovo_graph::resolve::resolve_with;
    use abovo_trust::classify::Seeds;
    use abovo_trust::report::{trust_report, untraced_report};

    /// On the built-in snapshot, for targets large and small, through
    /// fixed-output derivations or not: the JSON written from the untraced
    /// report and its tracer is byte for byte the report traced whole and
    /// serialized, and it has every kind of piece (paths, trails, package
    /// paths, derivations after a package path); with the real bytes of
    /// bootstrap seeds at hand (`ABOVO_SEED_BYTES`), their content scans
    /// too.
    #[test]
    fn seeds_are_written_as_the_traced_report_serializes() {
        let (g, mut seeds, prefs) = super::super::built_in_for_tests();
        let cases = [
            ("python-pytorch", false),
            ("python-pytorch", true),
            ("hello", false),
            ("guile-bootstrap", false),
            ("ghc@7.10.3", false),
        ];
        let mut thens = 0;
        for (name, through_fixed) in cases {
            let target = resolve_with(&g, name, &prefs).unwrap().node;
            let walk = Walk::trust(through_fixed);
            let label = format!("{name} (through fixed: {through_fixed})");
            let (out, count) = written_and_whole(&g, target, &seeds, &walk, &label);
            assert!(out.contains("\"package_path\": [\n"), "{name}");
            thens += out.matches("\"then\": [\n").count();
            if name == "python-pytorch" {
                // Enough seeds for chunks on several threads.
                assert!(count > SEEDS.parallel_from);
            }
        }
        assert!(thens > 0);
        match std::env::var_os("ABOVO_SEED_BYTES") {
            Some(dir) => {
                seeds.seed_dirs = vec![dir.into()];
                let target = resolve_with(&g, "hello", &prefs).unwrap().node;
                let walk = Walk::trust(false);
                let (out, _) = written_and_whole(&g, target, &seeds, &walk, "hello, bytes");
                for field in ["content", "bytes_at", "bytes_verified", "known"] {
                    assert!(out.contains(&format!("\"{field}\": ")), "{field}");
                }
            }
            None => eprintln!("skipped the seeds' bytes: ABOVO_SEED_BYTES is not set"),
        }
    }

    /// The JSON of `target`'s seeds written from the untraced report
    /// (checked to be the traced report serialized), and how many seeds.
    fn written_and_whole(
        g: &Graph,
        target: NodeId,
        seeds: &Seeds,
        walk: &Walk,
        label: &str,
    ) -> (String, usize) {
        let whole = trust_report(g, target, seeds, walk).unwrap();
        let mut expected = Vec::new();
        json::write(&mut expected, &whole).unwrap();
        let (report, tracer) = untraced_report(g, target, seeds, walk).unwrap();
        assert!(report.seeds.iter().all(|e| e.path_from_target.is_empty()));
        let mut out = Vec::new();
        let mut object = Object::new(&mut out, 0).unwrap();
        write(&mut object, &report, &tracer).unwrap();
        object.end().unwrap();
        let (out, expected) = (
            String::from_utf8(out).unwrap(),
            String::from_utf8(expected).unwrap(),
        );
        assert!(out == expected, "{label}");
        (out, report.seeds.len())
    }
}
