//! `abovo closure TARGET…`: what the build closure of TARGET holds.

use crate::exit;
use crate::output::{Context, print_json, sanitize};
use crate::report::human_bytes;
use crate::report::text::{count, plural};
use crate::source::{QueryArgs, TEXT_JSON, WalkArgs, nodes_json};
use abovo_graph::query::closure_summary;
use std::io::Write;

/// Count and list the closure of TARGET: derivations, fixed-output
/// derivations, input sources, and their total size where the store
/// metadata knows it.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Packages or derivations.
    #[arg(required = true, value_name = "TARGET")]
    pub targets: Vec<String>,
    /// Also list every member (by kind) in text.
    #[arg(long)]
    pub list: bool,
    /// How the walk proceeds.
    #[command(flatten)]
    pub walk: WalkArgs,
    /// Format and source.
    #[command(flatten)]
    pub query: QueryArgs,
}

/// `1 byte`, `1,482,560 bytes`.
fn bytes(n: u64) -> String {
    format!("{} {}", count(n), if n == 1 { "byte" } else { "bytes" })
}

/// Runs `abovo closure`.
pub fn run(args: Args, ctx: &Context) -> anyhow::Result<u8> {
    let (graph, roots) = args.query.open(ctx, "closure", TEXT_JSON, &args.targets)?;
    let s = closure_summary(&graph, &roots, &args.walk.walk(None));
    let list = |nodes: &[abovo_graph::NodeId]| nodes_json(&graph, nodes);
    if args.query.json() {
        print_json(&serde_json::json!({
            "graph": graph.description(),
            "roots": list(&roots),
            "nodes": s.nodes.len(),
            "derivation_count": s.derivations.len(),
            "fixed_output_count": s.fixed_output.len(),
            "source_count": s.sources.len(),
            "missing_count": s.missing.len(),
            "known_size": s.known_size,
            "sized_nodes": s.sized,
            "derivations": list(&s.derivations),
            "fixed_output": list(&s.fixed_output),
            "sources": list(&s.sources),
            "missing": list(&s.missing),
        }))?;
        return Ok(exit::SUCCESS);
    }
    let mut out = std::io::stdout().lock();
    let names: Vec<&str> = roots.iter().map(|&r| graph.label(r)).collect();
    writeln!(
        out,
        "closure of {} ({}):",
        sanitize(&names.join(", ")),
        sanitize(graph.description())
    )?;
    // Missing derivations are counted only when there are some.
    for (label, n, shown) in [
        ("nodes", s.nodes.len(), true),
        ("derivations", s.derivations.len(), true),
        ("  of them fixed-output", s.fixed_output.len(), true),
        ("input sources", s.sources.len(), true),
        (
            "missing derivations",
            s.missing.len(),
            !s.missing.is_empty(),
        ),
    ] {
        if shown {
            writeln!(out, "  {label:<25}{}", count(n as u64))?;
        }
    }
    if s.sized == 0 {
        writeln!(
            out,
            "  total size               unknown (no store metadata)"
        )?;
    } else {
        writeln!(
            out,
            "  total size               {} ({})\n                           the NAR size of {} of {}: .drv files and sources; outputs are not built",
            human_bytes(s.known_size),
            bytes(s.known_size),
            count(s.sized as u64),
            plural(s.nodes.len(), "node", "nodes")
        )?;
    }
    if args.list {
        for (title, nodes) in [
            ("derivations", &s.derivations),
            ("fixed-output derivations", &s.fixed_output),
            ("input sources", &s.sources),
            ("missing derivations", &s.missing),
        ] {
            if nodes.is_empty() {
                continue;
            }
            writeln!(out, "\n{title}:")?;
            for &n in nodes.iter() {
                writeln!(out, "  {}", sanitize(&graph.display_path(n)))?;
            }
        }
    }
    out.flush()?;
    Ok(exit::SUCCESS)
}
