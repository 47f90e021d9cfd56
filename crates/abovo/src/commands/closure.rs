//! `abovo closure TARGET…`: what the build closure of TARGET holds.

use crate::exit;
use crate::output::{Context, print_json, sanitize};
use crate::packages::{
    GraphKind, choose_kind, package_view, packages_json, packages_of, type_help,
};
use crate::report::human_bytes;
use crate::report::text::{count, plural};
use crate::source::{NodesJson, QueryArgs, TEXT_JSON, WalkArgs, nodes_json};
use abovo_graph::package_graph::{GraphType, PackageId, Visibility};
use abovo_graph::query::{Walk, closure_summary, subgraph};
use abovo_graph::{Graph, NodeId};
use std::io::Write;

/// Count and list the closure of TARGET: derivations, fixed-output
/// derivations, input sources, and their total size where the store
/// metadata knows it; the fixed outputs' sizes as measured in abovo's
/// fetch cache (or as its narinfos give them) (`--type derivation`, the
/// default: the build closure, what `guix gc -R` gives of a `.drv`); or,
/// with `--type package` or `bag-emerged`, the packages TARGET reaches in
/// that graph, by status.
#[derive(Debug, clap::Args)]
// One paragraph is only an `about`, which the subcommand's replaces: this
// makes it the text of `--help`.
#[command(long_about)]
pub struct Args {
    /// Packages or derivations.
    #[arg(required = true, value_name = "TARGET")]
    pub targets: Vec<String>,
    /// What the nodes are.
    #[arg(long = "type", short = 't', value_enum, value_name = "TYPE",
          help = type_help!("derivation"))]
    pub kind: Option<GraphKind>,
    /// Also list every member (by kind) in text.
    #[arg(long)]
    pub list: bool,
    /// How the walk proceeds.
    #[command(flatten)]
    pub walk: WalkArgs,
    /// Format and source.
    #[command(flatten)]
    pub query: QueryArgs,
    /// Fetch the fixed outputs of the closure into the cache first (what
    /// is missing; see `abovo fetch`). Exit code 1 when some could not be
    /// fetched.
    #[arg(long)]
    pub fetch: bool,
    /// The fetch cache and network flags.
    #[command(flatten)]
    pub net: crate::commands::fetch::NetArgs,
}

/// What the fetch cache says of a closure's fixed outputs.
#[derive(Debug, Default, serde::Serialize)]
struct FixedSizes {
    /// Fixed outputs whose content is in the cache.
    measured: usize,
    /// Their bytes (a recursive output's unpacked size).
    measured_bytes: u64,
    /// Their NAR size.
    measured_nar_bytes: u64,
    /// Other fixed outputs with a narinfo in the cache.
    narinfo: usize,
    /// Their NAR size, as the narinfos say.
    narinfo_nar_bytes: u64,
}

fn fixed_sizes(
    graph: &abovo_graph::Graph,
    nodes: &[abovo_graph::NodeId],
    cache: Option<&abovo_fetch::cache::Cache>,
) -> FixedSizes {
    let mut out = FixedSizes::default();
    let Some(cache) = cache else { return out };
    // Its records listed once, not looked up per output: a cache that was
    // never filled (the usual case) would cost two failing opens per fixed
    // output of the closure.
    let cache = cache.batch();
    let records = !cache.holds_none();
    let narinfo_dir = cache.narinfo_dir();
    let narinfos = narinfo_dir.is_dir();
    if !records && !narinfos {
        return out;
    }
    for &n in nodes {
        let Some(path) = graph.derivation(n).and_then(|d| d.fixed_output_path()) else {
            continue;
        };
        let full = graph.store_dir().display(&path);
        let base = full.rsplit('/').next().unwrap_or("");
        if let Some(r) = records.then(|| cache.lookup(base)).flatten() {
            out.measured += 1;
            out.measured_bytes += r.measured.bytes;
            out.measured_nar_bytes += r.measured.nar_size;
            continue;
        }
        if !narinfos {
            continue;
        }
        let hash_part = base.split('-').next().unwrap_or("");
        let narinfo = std::fs::read_to_string(narinfo_dir.join(format!("{hash_part}.narinfo")))
            .ok()
            .and_then(|t| abovo_store::narinfo::NarInfo::parse(&t).ok())
            .filter(|i| i.store_path == full);
        if let Some(i) = narinfo {
            out.narinfo += 1;
            out.narinfo_nar_bytes += i.nar_size;
        }
    }
    out
}

/// `1 byte`, `1,482,560 bytes`.
fn bytes(n: u64) -> String {
    format!("{} {}", count(n), if n == 1 { "byte" } else { "bytes" })
}

/// Runs `abovo closure`.
pub fn run(args: Args, ctx: &Context) -> anyhow::Result<u8> {
    let (graph, roots) = args.query.open(ctx, "closure", TEXT_JSON, &args.targets)?;
    let kind = choose_kind(&graph, args.kind, GraphKind::Derivation, ctx);
    if let Some(ty) = kind.package_graph() {
        if args.fetch {
            anyhow::bail!(
                "--fetch fetches the fixed outputs of a closure of derivations; \
                 use it with --type derivation"
            );
        }
        return package_closure(&args, &graph, &roots, ty);
    }
    let s = closure_summary(&graph, &roots, &args.walk.walk(None));
    let mut code = exit::SUCCESS;
    if args.fetch {
        // A store directory given as the source may hold the outputs.
        let dirs: Vec<std::path::PathBuf> = args
            .query
            .source
            .source
            .iter()
            .filter(|p| p.is_dir())
            .cloned()
            .collect();
        code = crate::commands::fetch::fetch_first(&graph, &s.fixed_output, &args.net, &dirs, ctx)?;
    }
    let cache = args.net.cache();
    if args.query.json() {
        print_json(&derivation_json(&graph, &roots, &s, cache.as_ref()))?;
        return Ok(code);
    }
    let fixed = fixed_sizes(&graph, &s.fixed_output, cache.as_ref());
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
    if fixed.measured > 0 || fixed.narinfo > 0 || !s.fixed_output.is_empty() {
        writeln!(
            out,
            "  fixed outputs measured   {} of {}: {} ({}; NAR {})",
            count(fixed.measured as u64),
            count(s.fixed_output.len() as u64),
            human_bytes(fixed.measured_bytes),
            bytes(fixed.measured_bytes),
            bytes(fixed.measured_nar_bytes)
        )?;
        if fixed.narinfo > 0 {
            writeln!(
                out,
                "  fixed outputs, narinfo   {}: NAR {} (sizes from narinfos, content not fetched)",
                count(fixed.narinfo as u64),
                bytes(fixed.narinfo_nar_bytes)
            )?;
        }
        let unknown = s.fixed_output.len() - fixed.measured - fixed.narinfo;
        if unknown > 0 {
            writeln!(
                out,
                "                           {} of unknown size (not in the cache: `abovo fetch --closure` or --fetch)",
                count(unknown as u64)
            )?;
        }
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
    Ok(code)
}

/// The closure of derivations `s` of `roots` in JSON (`--format json`,
/// and `abovo serve`'s `/api/closure/NAME`), with what the fetch `cache`
/// says of its fixed outputs' sizes.
pub fn derivation_json<'g>(
    graph: &'g Graph,
    roots: &'g [NodeId],
    s: &'g abovo_graph::query::ClosureSummary,
    cache: Option<&abovo_fetch::cache::Cache>,
) -> impl serde::Serialize + 'g {
    ClosureJson {
        graph: graph.description(),
        ty: "derivation",
        roots: nodes_json(graph, roots),
        nodes: s.nodes.len(),
        derivation_count: s.derivations.len(),
        fixed_output_count: s.fixed_output.len(),
        source_count: s.sources.len(),
        missing_count: s.missing.len(),
        known_size: s.known_size,
        sized_nodes: s.sized,
        fixed_output_sizes: fixed_sizes(graph, &s.fixed_output, cache),
        derivations: nodes_json(graph, &s.derivations),
        fixed_output: nodes_json(graph, &s.fixed_output),
        sources: nodes_json(graph, &s.sources),
        missing: nodes_json(graph, &s.missing),
    }
}

/// [`derivation_json`]'s fields, in their order.
#[derive(serde::Serialize)]
struct ClosureJson<'g> {
    graph: &'g str,
    #[serde(rename = "type")]
    ty: &'static str,
    roots: NodesJson<'g>,
    nodes: usize,
    derivation_count: usize,
    fixed_output_count: usize,
    source_count: usize,
    missing_count: usize,
    known_size: u64,
    sized_nodes: usize,
    fixed_output_sizes: FixedSizes,
    derivations: NodesJson<'g>,
    fixed_output: NodesJson<'g>,
    sources: NodesJson<'g>,
    missing: NodesJson<'g>,
}

/// `abovo closure --type package|bag-emerged`: the packages the targets
/// reach, counted by status.
fn package_closure(
    args: &Args,
    graph: &Graph,
    roots: &[NodeId],
    ty: GraphType,
) -> anyhow::Result<u8> {
    let view = package_view(graph, ty)?;
    let roots = packages_of(&view, roots, &args.targets)?;
    let walk = Walk {
        max_depth: None,
        ..Walk::default()
    };
    let sub = subgraph(&view, &roots, &walk);
    let pg = view.packages();
    let of = |v: Visibility| -> Vec<PackageId> {
        sub.nodes
            .iter()
            .copied()
            .filter(|&p| pg.status(p).visibility == v)
            .collect()
    };
    let groups = Visibility::ALL.map(|v| (v.name(), of(v)));
    if args.query.json() {
        let mut by_status = serde_json::Map::new();
        for (name, nodes) in &groups {
            by_status.insert((*name).to_owned(), serde_json::json!(nodes.len()));
        }
        print_json(&serde_json::json!({
            "graph": graph.description(),
            "type": ty,
            "roots": packages_json(&view, &roots),
            "package_count": sub.nodes.len(),
            "edge_count": sub.edges.len(),
            "by_status": by_status,
            "packages": packages_json(&view, &sub.nodes),
        }))?;
        return Ok(exit::SUCCESS);
    }
    let mut out = std::io::stdout().lock();
    let names: Vec<String> = roots.iter().map(|&r| view.full_name(r)).collect();
    writeln!(
        out,
        "closure of {} in the `{}` graph ({}):",
        sanitize(&names.join(", ")),
        ty.name(),
        sanitize(graph.description())
    )?;
    writeln!(out, "  {:<25}{}", "packages", count(sub.nodes.len() as u64))?;
    for (name, nodes) in &groups {
        if !nodes.is_empty() {
            writeln!(
                out,
                "  {:<25}{}",
                format!("  {name}"),
                count(nodes.len() as u64)
            )?;
        }
    }
    writeln!(out, "  {:<25}{}", "edges", count(sub.edges.len() as u64))?;
    if args.list {
        for (name, nodes) in &groups {
            if nodes.is_empty() {
                continue;
            }
            writeln!(out, "\n{name} packages:")?;
            for &p in nodes {
                writeln!(
                    out,
                    "  {}  {}",
                    sanitize(&view.full_name(p)),
                    sanitize(&view.display_drv_path(p))
                )?;
            }
        }
    }
    out.flush()?;
    Ok(exit::SUCCESS)
}
