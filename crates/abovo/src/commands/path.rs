//! `abovo path FROM TO`: the shortest path over input edges, as `guix graph
//! --path -t derivation FROM TO` answers it.

use crate::exit;
use crate::output::{Context, Format, print_json};
use crate::source::{SourceArgs, WalkArgs, display_name, node_json, resolve_all};
use abovo_graph::query::{all_shortest_paths, shortest_path};
use std::io::Write;

/// Print a shortest path from FROM to TO in the derivation graph.
///
/// The path is breadth-first over input edges; among equally short paths
/// it is the one whose sequence of store paths sorts first, so the answer
/// is the same every time. Exit code 1 when there is no path.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where the path starts (a package, a derivation or an output path).
    pub from: String,
    /// Where it ends.
    pub to: String,
    /// Print every shortest path (at most --limit), not just the first.
    #[arg(long)]
    pub all_shortest: bool,
    /// With --all-shortest, the most paths to print.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub limit: usize,
    /// How the walk proceeds.
    #[command(flatten)]
    pub walk: WalkArgs,
    /// Output format: text or json.
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Where the graph comes from.
    #[command(flatten)]
    pub source: SourceArgs,
}

/// Runs `abovo path`.
pub fn run(args: Args, ctx: &Context) -> anyhow::Result<u8> {
    args.format.check("path", &[Format::Text, Format::Json])?;
    let graph = args.source.load(ctx)?;
    let ends = resolve_all(&graph, &[args.from.clone(), args.to.clone()])?;
    let (from, to) = (ends[0], ends[1]);
    let walk = args.walk.walk(None);
    let paths = if args.all_shortest {
        all_shortest_paths(&graph, from, to, &walk, args.limit.max(1))
    } else {
        shortest_path(&graph, from, to, &walk).into_iter().collect()
    };
    if args.format == Format::Json {
        let list: Vec<Vec<serde_json::Value>> = paths
            .iter()
            .map(|p| p.iter().map(|&n| node_json(&graph, n)).collect())
            .collect();
        print_json(&serde_json::json!({
            "graph": graph.description(),
            "from": graph.display_path(from),
            "to": graph.display_path(to),
            "length": paths.first().map(|p| p.len() - 1),
            "paths": list,
        }))?;
    } else {
        let mut out = std::io::stdout().lock();
        for (i, p) in paths.iter().enumerate() {
            if i > 0 {
                writeln!(out)?;
            }
            for &n in p {
                writeln!(out, "{}", graph.display_path(n))?;
            }
        }
        out.flush()?;
    }
    let negative = paths.is_empty().then(|| {
        format!(
            "no path from {} to {}",
            display_name(&graph, from),
            display_name(&graph, to)
        )
    });
    // The process ends with the answer: handing a graph of millions of
    // small allocations back to the allocator one by one would only delay
    // the exit, so it is left to the operating system.
    std::mem::forget(graph);
    if let Some(message) = negative {
        ctx.warn(&message);
        return Ok(exit::NEGATIVE);
    }
    Ok(exit::SUCCESS)
}
