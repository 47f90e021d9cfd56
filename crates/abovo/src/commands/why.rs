//! `abovo why TARGET DEP`: why TARGET needs DEP, edge by edge.

use crate::commands::path::NoPath;
use crate::exit;
use crate::output::{Context, print_json, sanitize};
use crate::packages::{
    GraphKind, choose_kind, other_paths, other_paths_json, other_paths_text, package_json,
    package_of, package_view, type_help, uses_json, uses_words,
};
use crate::report::text::plural;
use crate::source::{QueryArgs, WalkArgs, display_name, edge_outputs, node_json};
use abovo_graph::package_graph::GraphType;
use abovo_graph::query::{Walk, shortest_path};
use abovo_graph::{Graph, NodeId, NodeKind};
use std::io::Write;

/// Explain why TARGET depends on DEP: the shortest path between them, and
/// for each edge how the input is taken: as an input, a native, propagated
/// or implicit input (`--type package`, the default, or `bag-emerged`), or
/// which of its outputs are used (`--type derivation`).
///
/// When DEP matches several derivations even after --system, the one
/// TARGET depends on is taken if only one is (a note says so). Exit code 1
/// when TARGET does not depend on DEP in that graph; the message says
/// which other types of graph have a path, and, when other derivations
/// share DEP's name, which of them TARGET depends on.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The package or derivation that depends.
    pub target: String,
    /// What it depends on.
    pub dep: String,
    /// What the nodes are.
    #[arg(long = "type", short = 't', value_enum, value_name = "TYPE",
          help = type_help!("package"))]
    pub kind: Option<GraphKind>,
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
    let kind = choose_kind(&graph, args.kind, GraphKind::Package, ctx);
    if let Some(ty) = kind.package_graph() {
        return package_why(&args, ctx, &graph, (from, to), (kind, ty));
    }
    let path = shortest_path(&*graph, from, to, &walk);
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
                "type": "derivation",
                "target": node_json(&graph, from),
                "dependency": node_json(&graph, to),
                "steps": [],
                "namesakes": hint.json(),
            }))?;
        }
        ctx.warn(&format!(
            "{from_name} does not depend on {to_name}: no path from {from_name} to {to_name}{}",
            hint.text("why --type derivation", &args.target)
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
            "type": "derivation",
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

/// `abovo why --type package|bag-emerged`: the path between the packages
/// of TARGET and DEP, each step with how the input is taken.
fn package_why(
    args: &Args,
    ctx: &Context,
    graph: &Graph,
    (from, to): (NodeId, NodeId),
    (kind, ty): (GraphKind, GraphType),
) -> anyhow::Result<u8> {
    let view = package_view(graph, ty)?;
    let (a, b) = (
        package_of(&view, from, &args.target)?,
        package_of(&view, to, &args.dep)?,
    );
    let (a_name, b_name) = (
        sanitize(&view.full_name(a)).into_owned(),
        sanitize(&view.full_name(b)).into_owned(),
    );
    let Some(path) = shortest_path(&view, a, b, &Walk::default()) else {
        let elsewhere = other_paths(graph, (from, to), kind, &args.walk.walk(None));
        if args.query.json() {
            print_json(&serde_json::json!({
                "graph": graph.description(),
                "type": ty,
                "target": package_json(&view, a),
                "dependency": package_json(&view, b),
                "steps": [],
                "elsewhere": other_paths_json(&elsewhere),
            }))?;
        }
        ctx.warn(&format!(
            "{a_name} does not depend on {b_name} in the `{}` graph: no path from {a_name} \
             to {b_name}{}",
            ty.name(),
            other_paths_text(&elsewhere)
        ));
        return Ok(exit::NEGATIVE);
    };
    if args.query.json() {
        let steps: Vec<serde_json::Value> = path
            .windows(2)
            .map(|w| {
                serde_json::json!({
                    "from": package_json(&view, w[0]),
                    "to": package_json(&view, w[1]),
                    "uses": uses_json(&view, w[0], w[1]),
                })
            })
            .collect();
        print_json(&serde_json::json!({
            "graph": graph.description(),
            "type": ty,
            "target": package_json(&view, a),
            "dependency": package_json(&view, b),
            "length": steps.len(),
            "steps": steps,
        }))?;
        return Ok(exit::SUCCESS);
    }
    let mut out = std::io::stdout().lock();
    if path.len() == 1 {
        writeln!(out, "{a_name} is {b_name} itself")?;
        return Ok(exit::SUCCESS);
    }
    writeln!(
        out,
        "{} depends on {} through {} in the `{}` graph ({}):",
        ctx.style("1", &a_name),
        ctx.style("1", &b_name),
        plural(path.len() - 1, "edge", "edges"),
        ty.name(),
        sanitize(graph.description())
    )?;
    for (i, w) in path.windows(2).enumerate() {
        let uses: Vec<_> = view.uses(w[0], w[1]).collect();
        writeln!(
            out,
            "{:>3}. {} takes {} {}",
            i + 1,
            sanitize(&view.full_name(w[0])),
            sanitize(&view.full_name(w[1])),
            sanitize(&uses_words(&uses))
        )?;
        writeln!(
            out,
            "     {} -> {}",
            sanitize(&view.display_drv_path(w[0])),
            sanitize(&view.display_drv_path(w[1]))
        )?;
    }
    out.flush()?;
    Ok(exit::SUCCESS)
}
