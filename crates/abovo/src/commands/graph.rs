//! `abovo graph TARGET…`: the closure of TARGET as nodes and edges, the
//! node and edge sets of `guix graph -t derivation TARGET`.

use crate::exit;
use crate::output::{Context, Format, dot_quoted, markup_escape, print_json, sanitize};
use crate::report::text::plural;
use crate::source::{QueryArgs, WalkArgs, edge_outputs, nodes_json, release_at_exit};
use abovo_graph::query::{Subgraph, subgraph};
use abovo_graph::{Graph, NodeId, NodeKind};
use std::io::{BufWriter, Write};

/// Print the derivation graph of TARGET: derivations and input sources as
/// nodes, edges to input derivations (with the outputs used) and sources.
///
/// The node and edge sets are those of `guix graph -t derivation TARGET`:
/// the walk goes through fixed-output derivations unless --stop-at-fixed.
///
/// When the source lacks some input `.drv` files, the graph is drawn with
/// them as `missing` nodes, a warning says how many there are, JSON lists
/// them under `missing`, and the exit code stays 0.
#[derive(Debug, clap::Args)]
#[command(mut_arg("format", |a| a.value_parser(Format::parser(GRAPH_FORMATS))))]
pub struct Args {
    /// Packages or derivations: `hello`, `hello@2.12`, a `.drv` path or an
    /// output path.
    #[arg(required = true, value_name = "TARGET")]
    pub targets: Vec<String>,
    /// Only nodes at most N edges away from a target (the nodes at depth N
    /// are shown without their inputs).
    #[arg(long, value_name = "N")]
    pub max_depth: Option<u32>,
    /// How the walk proceeds.
    #[command(flatten)]
    pub walk: WalkArgs,
    /// Format and source.
    #[command(flatten)]
    pub query: QueryArgs,
}

/// What `abovo graph` writes.
const GRAPH_FORMATS: &[Format] = &[Format::Text, Format::Json, Format::Dot, Format::Graphml];

/// Runs `abovo graph`.
pub fn run(args: Args, ctx: &Context) -> anyhow::Result<u8> {
    let (graph, roots) = args
        .query
        .open(ctx, "graph", GRAPH_FORMATS, &args.targets)?;
    let sub = subgraph(&graph, &roots, &args.walk.walk(args.max_depth));
    let missing: Vec<NodeId> = sub
        .nodes
        .iter()
        .copied()
        .filter(|&n| graph.kind(n) == NodeKind::Missing)
        .collect();
    if let Some(&example) = missing.first() {
        ctx.warn(&format!(
            "the graph is incomplete: {} missing from the source (e.g. {})",
            plural(
                missing.len(),
                "input derivation is",
                "input derivations are"
            ),
            graph.display_path(example)
        ));
    }
    crate::source::warn_dynamic(ctx, &graph, &sub.edges);
    let title = format!(
        "derivation graph of {} ({})",
        roots
            .iter()
            .map(|&r| graph.label(r))
            .collect::<Vec<_>>()
            .join(", "),
        graph.description()
    );
    let mut out = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    match args.query.format {
        Format::Json => {
            drop(out);
            print_json(&to_json(&graph, &roots, &sub, &missing, &title))?;
            return Ok(exit::SUCCESS);
        }
        Format::Dot => write_dot(&mut out, &graph, &sub, &title)?,
        Format::Graphml => write_graphml(&mut out, &graph, &sub, &title)?,
        _ => write_text(&mut out, &graph, &sub, &title, ctx)?,
    }
    out.flush()?;
    release_at_exit(graph);
    Ok(exit::SUCCESS)
}

fn to_json(
    g: &Graph,
    roots: &[NodeId],
    sub: &Subgraph,
    missing: &[NodeId],
    title: &str,
) -> serde_json::Value {
    let edges: Vec<serde_json::Value> = sub
        .edges
        .iter()
        .map(|&(a, b)| {
            let outputs = edge_outputs(g, a, b);
            serde_json::json!({
                "from": g.display_path(a),
                "to": g.display_path(b),
                "outputs": outputs,
            })
        })
        .collect();
    serde_json::json!({
        "graph": g.description(),
        "title": title,
        "roots": roots.iter().map(|&r| g.display_path(r)).collect::<Vec<_>>(),
        "node_count": sub.nodes.len(),
        "edge_count": sub.edges.len(),
        "complete": missing.is_empty(),
        "missing": missing.iter().map(|&n| g.display_path(n)).collect::<Vec<_>>(),
        "nodes": nodes_json(g, &sub.nodes),
        "edges": edges,
    })
}

fn write_text(
    out: &mut impl Write,
    g: &Graph,
    sub: &Subgraph,
    title: &str,
    ctx: &Context,
) -> std::io::Result<()> {
    writeln!(
        out,
        "# {}: {}, {}",
        sanitize(title),
        plural(sub.nodes.len(), "node", "nodes"),
        plural(sub.edges.len(), "edge", "edges")
    )?;
    let mut edges = sub.edges.iter().peekable();
    for &n in &sub.nodes {
        let tag = match g.kind(n) {
            NodeKind::Source => " (source)",
            NodeKind::Missing => " (missing)",
            NodeKind::Derivation if g.is_fixed_output(n) => " (fixed-output)",
            NodeKind::Derivation => "",
        };
        writeln!(
            out,
            "{}{}",
            ctx.style("1", &sanitize(&g.display_path(n))),
            tag
        )?;
        while let Some(&&(a, b)) = edges.peek() {
            if a != n {
                break;
            }
            edges.next();
            let outputs = edge_outputs(g, a, b);
            let to = g.display_path(b);
            if outputs.is_empty() {
                writeln!(out, "  -> {}", sanitize(&to))?;
            } else {
                writeln!(
                    out,
                    "  -> {} [{}]",
                    sanitize(&to),
                    sanitize(&outputs.join(","))
                )?;
            }
        }
    }
    Ok(())
}

fn write_dot(out: &mut impl Write, g: &Graph, sub: &Subgraph, title: &str) -> std::io::Result<()> {
    writeln!(out, "digraph \"{}\" {{", dot_quoted(title))?;
    for &n in &sub.nodes {
        let shape = match g.kind(n) {
            NodeKind::Source => "ellipse",
            NodeKind::Missing => "octagon",
            NodeKind::Derivation if g.is_fixed_output(n) => "box, style = dashed",
            NodeKind::Derivation => "box",
        };
        writeln!(
            out,
            "  \"{}\" [label = \"{}\", shape = {shape}];",
            dot_quoted(&g.display_path(n)),
            dot_quoted(g.name(n))
        )?;
    }
    for &(a, b) in &sub.edges {
        writeln!(
            out,
            "  \"{}\" -> \"{}\";",
            dot_quoted(&g.display_path(a)),
            dot_quoted(&g.display_path(b))
        )?;
    }
    writeln!(out, "}}")
}

fn write_graphml(
    out: &mut impl Write,
    g: &Graph,
    sub: &Subgraph,
    title: &str,
) -> std::io::Result<()> {
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<graphml xmlns="http://graphml.graphdrawing.org/xmlns">"#
    )?;
    for (id, on, name, kind) in [
        ("label", "node", "label", "string"),
        ("kind", "node", "kind", "string"),
        ("fixed", "node", "fixed_output", "boolean"),
        ("outputs", "edge", "outputs", "string"),
    ] {
        writeln!(
            out,
            r#"  <key id="{id}" for="{on}" attr.name="{name}" attr.type="{kind}"/>"#
        )?;
    }
    writeln!(
        out,
        r#"  <graph id="{}" edgedefault="directed">"#,
        markup_escape(title)
    )?;
    for &n in &sub.nodes {
        let kind = match g.kind(n) {
            NodeKind::Source => "source",
            NodeKind::Missing => "missing",
            NodeKind::Derivation => "derivation",
        };
        writeln!(
            out,
            r#"    <node id="{}"><data key="label">{}</data><data key="kind">{kind}</data><data key="fixed">{}</data></node>"#,
            markup_escape(&g.display_path(n)),
            markup_escape(g.name(n)),
            g.is_fixed_output(n)
        )?;
    }
    for &(a, b) in &sub.edges {
        let outputs = edge_outputs(g, a, b);
        writeln!(
            out,
            r#"    <edge source="{}" target="{}"><data key="outputs">{}</data></edge>"#,
            markup_escape(&g.display_path(a)),
            markup_escape(&g.display_path(b)),
            markup_escape(&outputs.join(","))
        )?;
    }
    writeln!(out, "  </graph>")?;
    writeln!(out, "</graphml>")
}
