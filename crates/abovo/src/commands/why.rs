//! `abovo why TARGET DEP`: why TARGET needs DEP, edge by edge.

use crate::commands::path::NoPath;
use crate::exit;
use crate::output::{Context, print_json, sanitize};
use crate::source::{QueryArgs, WalkArgs, display_name, edge_outputs, node_json};
use abovo_graph::NodeKind;
use abovo_graph::query::shortest_path;
use std::io::Write;

/// Explain why TARGET depends on DEP: the shortest path between them, and
/// for each edge which outputs of the input are used.
///
/// When DEP matches several derivations even after --system, the one
/// TARGET depends on is taken if only one is (a note says so). Exit code 1
/// when TARGET does not depend on DEP; when other derivations share DEP's
/// name, the message says which of them TARGET depends on.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The package or derivation that depends.
    pub target: String,
    /// What it depends on.
    pub dep: String,
    /// How the walk proceeds.
    #[command(flatten)]
    pub walk: WalkArgs,
    /// Format and source.
    #[command(flatten)]
    pub query: QueryArgs,
}

/// Runs `abovo why`.
pub fn run(args: Args, ctx: &Context) -> anyhow::Result<u8> {
    let walk = args.walk.walk(None);
    let (graph, from, to) = args
        .query
        .open_two(ctx, "why", (&args.target, &args.dep), &walk)?;
    let path = shortest_path(&graph, from, to, &walk);
    // Sanitized once: every text line below prints them.
    let (from_name, to_name) = (
        sanitize(&display_name(&graph, from)).into_owned(),
        sanitize(&display_name(&graph, to)).into_owned(),
    );
    let Some(path) = path else {
        let hint = NoPath::explain(&graph, from, to, &walk, &args.query.system);
        if args.query.json() {
            print_json(&serde_json::json!({
                "graph": graph.description(),
                "target": node_json(&graph, from),
                "dependency": node_json(&graph, to),
                "steps": [],
                "namesakes": hint.json(),
            }))?;
        }
        ctx.warn(&format!(
            "{from_name} does not depend on {to_name}: no path from {from_name} to {to_name}{}",
            hint.text("why", &args.target)
        ));
        return Ok(exit::NEGATIVE);
    };
    let steps: Vec<(abovo_graph::NodeId, abovo_graph::NodeId, Vec<&str>)> = path
        .windows(2)
        .map(|w| (w[0], w[1], edge_outputs(&graph, w[0], w[1])))
        .collect();
    if args.query.json() {
        let list: Vec<serde_json::Value> = steps
            .iter()
            .map(|(a, b, outs)| {
                serde_json::json!({
                    "from": node_json(&graph, *a),
                    "to": node_json(&graph, *b),
                    "outputs": outs,
                })
            })
            .collect();
        print_json(&serde_json::json!({
            "graph": graph.description(),
            "target": node_json(&graph, from),
            "dependency": node_json(&graph, to),
            "length": steps.len(),
            "steps": list,
        }))?;
        return Ok(exit::SUCCESS);
    }
    let mut out = std::io::stdout().lock();
    if steps.is_empty() {
        writeln!(out, "{from_name} is {to_name} itself")?;
        return Ok(exit::SUCCESS);
    }
    writeln!(
        out,
        "{} depends on {} through {} edge{} ({}):",
        ctx.style("1", &from_name),
        ctx.style("1", &to_name),
        steps.len(),
        if steps.len() == 1 { "" } else { "s" },
        sanitize(graph.description())
    )?;
    for (i, (a, b, outs)) in steps.iter().enumerate() {
        let how = match graph.kind(*b) {
            NodeKind::Source => "the source".to_owned(),
            _ if outs.is_empty() => "".to_owned(),
            _ => format!(
                "output{} {} of",
                if outs.len() == 1 { "" } else { "s" },
                outs.iter()
                    .map(|o| format!("\"{}\"", sanitize(o)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        writeln!(
            out,
            "{:>3}. {} uses {} {}",
            i + 1,
            sanitize(graph.name(*a)),
            how,
            sanitize(graph.name(*b))
        )?;
        writeln!(
            out,
            "     {} -> {}",
            sanitize(&graph.display_path(*a)),
            sanitize(&graph.display_path(*b))
        )?;
    }
    out.flush()?;
    Ok(exit::SUCCESS)
}
