//! `abovo path FROM TO`: the shortest path over input edges, as `guix graph
//! --path -t derivation FROM TO` answers it.

use crate::exit;
use crate::output::{Context, print_json};
use crate::source::{QueryArgs, WalkArgs, display_name, nodes_json, release_at_exit};
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
    /// Format and source.
    #[command(flatten)]
    pub query: QueryArgs,
}

/// Runs `abovo path`.
pub fn run(args: Args, ctx: &Context) -> anyhow::Result<u8> {
    let (graph, from, to) = args.query.open_two(ctx, "path", &args.from, &args.to)?;
    let walk = args.walk.walk(None);
    let paths = if args.all_shortest {
        all_shortest_paths(&graph, from, to, &walk, args.limit.max(1))
    } else {
        shortest_path(&graph, from, to, &walk).into_iter().collect()
    };
    if args.query.json() {
        let list: Vec<Vec<serde_json::Value>> =
            paths.iter().map(|p| nodes_json(&graph, p)).collect();
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
    release_at_exit(graph);
    if let Some(message) = negative {
        ctx.warn(&message);
        return Ok(exit::NEGATIVE);
    }
    Ok(exit::SUCCESS)
}
