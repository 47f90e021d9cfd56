//! `abovo closure TARGET…`: what the build closure of TARGET holds.

use crate::exit;
use crate::output::{Context, Format, print_json};
use crate::source::{QueryArgs, WalkArgs, nodes_json};
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

/// Runs `abovo closure`.
pub fn run(args: Args, ctx: &Context) -> anyhow::Result<u8> {
    let (graph, roots) =
        args.query
            .open(ctx, "closure", &[Format::Text, Format::Json], &args.targets)?;
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
        names.join(", "),
        graph.description()
    )?;
    writeln!(out, "  nodes                    {}", s.nodes.len())?;
    writeln!(out, "  derivations              {}", s.derivations.len())?;
    writeln!(out, "    of them fixed-output   {}", s.fixed_output.len())?;
    writeln!(out, "  input sources            {}", s.sources.len())?;
    if !s.missing.is_empty() {
        writeln!(out, "  missing derivations      {}", s.missing.len())?;
    }
    if s.sized == 0 {
        writeln!(
            out,
            "  total size               unknown (no store metadata)"
        )?;
    } else {
        writeln!(
            out,
            "  total size               {} bytes (NAR size of {} of {} nodes: the .drv files and sources; outputs are not built)",
            s.known_size,
            s.sized,
            s.nodes.len()
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
                writeln!(out, "  {}", graph.display_path(n))?;
            }
        }
    }
    out.flush()?;
    Ok(exit::SUCCESS)
}
