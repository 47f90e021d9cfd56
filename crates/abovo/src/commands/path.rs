//! `abovo path FROM TO`: the shortest path over input edges, as `guix graph
//! --path --type TYPE FROM TO` answers it (`package` by default, as Guix).

use crate::exit;
use crate::output::{Context, print_json, sanitize};
use crate::packages::{
    GraphKind, choose_kind, other_paths, other_paths_json, other_paths_text, package_json,
    package_of, package_view, packages_json, type_help,
};
use crate::report::text::{count, plural};
use crate::source::{QueryArgs, WalkArgs, display_name, nodes_json};
use abovo_graph::package_graph::GraphType;
use abovo_graph::query::{Walk, all_shortest_paths, closure, shortest_path};
use abovo_graph::resolve::{Preferences, namesakes, spec_for};
use abovo_graph::version::split_name_version;
use abovo_graph::{Graph, NodeId};
use std::io::Write;

/// Print a shortest path from FROM to TO: through packages and their
/// inputs (`--type package`, the default, as `guix graph --path`), through
/// packages with the implicit inputs of their build systems (`--type
/// bag-emerged`), or through derivations and sources (`--type
/// derivation`).
///
/// Packages are printed as `name@version`, one a line, as Guix prints
/// them; derivations by their store paths. The path is breadth-first over
/// input edges; among equally short paths it is the one whose sequence of
/// (`.drv`) store paths sorts first, so the answer is the same every time.
/// When TO matches several derivations even after --system, the one FROM
/// depends on is taken if only one is (a note says so). Exit code 1 when
/// there is no path; the message says which other types of graph have
/// one, and, when other derivations share TO's name, which of them FROM
/// depends on and how to name them.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where the path starts (a package, a derivation or an output path).
    pub from: String,
    /// Where it ends.
    pub to: String,
    /// What the nodes are.
    #[arg(long = "type", short = 't', value_enum, value_name = "TYPE",
          help = type_help!("package"))]
    pub kind: Option<GraphKind>,
    /// Print every shortest path (at most --limit), not just the first.
    #[arg(long)]
    pub all_shortest: bool,
    /// With --all-shortest, the most paths to print.
    #[arg(long, default_value_t = 100, value_name = "N", value_parser = at_least_one)]
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
    let walk = args.walk.walk(None);
    let (graph, from, to) = args
        .query
        .open_two(ctx, "path", (&args.from, &args.to), &walk)?;
    let kind = choose_kind(&graph, args.kind, GraphKind::Package, ctx);
    if let Some(ty) = kind.package_graph() {
        return package_path(&args, ctx, &graph, (from, to), (kind, ty));
    }
    let paths = if args.all_shortest {
        all_shortest_paths(&*graph, from, to, &walk, args.limit)
    } else {
        shortest_path(&*graph, from, to, &walk)
            .into_iter()
            .collect()
    };
    let no_path = paths
        .is_empty()
        .then(|| NoPath::explain(&graph, from, to, &walk, &args.query.system));
    if args.query.json() {
        let list: Vec<_> = paths.iter().map(|p| nodes_json(&graph, p)).collect();
        let mut answer = serde_json::json!({
            "graph": graph.description(),
            "type": "derivation",
            "from": graph.display_path(from),
            "to": graph.display_path(to),
            "length": paths.first().map(|p| p.len() - 1),
            "paths": list,
        });
        if let Some(hint) = &no_path {
            answer["namesakes"] = hint.json();
        }
        print_json(&answer)?;
    } else {
        write_paths(&paths, |n| graph.display_path(n))?;
    }
    let negative = no_path.map(|hint| {
        format!(
            "no path from {} to {}{}",
            display_name(&graph, from),
            display_name(&graph, to),
            hint.text("path --type derivation", &args.from)
        )
    });
    if let Some(message) = negative {
        ctx.warn(&message);
        return Ok(exit::NEGATIVE);
    }
    Ok(exit::SUCCESS)
}

/// `abovo path --type package|bag-emerged`: the path between the packages
/// of FROM and TO.
fn package_path(
    args: &Args,
    ctx: &Context,
    graph: &Graph,
    (from, to): (NodeId, NodeId),
    (kind, ty): (GraphKind, GraphType),
) -> anyhow::Result<u8> {
    let view = package_view(graph, ty)?;
    let (a, b) = (
        package_of(&view, from, &args.from)?,
        package_of(&view, to, &args.to)?,
    );
    let walk = Walk::default();
    let paths = if args.all_shortest {
        all_shortest_paths(&view, a, b, &walk, args.limit)
    } else {
        shortest_path(&view, a, b, &walk).into_iter().collect()
    };
    let elsewhere = if paths.is_empty() {
        other_paths(graph, (from, to), kind, &args.walk.walk(None))
    } else {
        Vec::new()
    };
    if args.query.json() {
        let list: Vec<_> = paths.iter().map(|p| packages_json(&view, p)).collect();
        let mut answer = serde_json::json!({
            "graph": graph.description(),
            "type": ty,
            "from": package_json(&view, a),
            "to": package_json(&view, b),
            "length": paths.first().map(|p| p.len() - 1),
            "paths": list,
        });
        if paths.is_empty() {
            answer["elsewhere"] = other_paths_json(&elsewhere);
        }
        print_json(&answer)?;
    } else {
        write_paths(&paths, |n| sanitize(&view.full_name(n)).into_owned())?;
    }
    if paths.is_empty() {
        ctx.warn(&format!(
            "no path from {} to {} in the `{}` graph{}",
            sanitize(&view.full_name(a)),
            sanitize(&view.full_name(b)),
            ty.name(),
            other_paths_text(&elsewhere)
        ));
        return Ok(exit::NEGATIVE);
    }
    Ok(exit::SUCCESS)
}

/// Writes `paths` one node a line (as `name` gives it), a blank line
/// between two paths.
fn write_paths<N: Copy>(paths: &[Vec<N>], name: impl Fn(N) -> String) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    for (i, p) in paths.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        for &n in p {
            writeln!(out, "{}", name(n))?;
        }
    }
    out.flush()
}

/// How many namesakes a "no path" hint lists.
const NAMESAKES_SHOWN: usize = 5;

/// What a "no path from X to Y" answer adds when Y's name is shared: the
/// derivation Y resolved to is one of several with that name (Guix has a
/// `glibc` package and bootstrap `glibc` derivations), and X may well
/// depend on another of them. Shared by `path` and `why`.
pub(crate) struct NoPath {
    /// Y's name (`glibc`) and the derivation it resolved to.
    name: String,
    to_path: String,
    /// How many other derivations answer to that name.
    others: usize,
    /// The ones in X's closure: how to name each, and its path.
    in_closure: Vec<(String, String)>,
    /// X for people.
    from_name: String,
}

impl NoPath {
    /// Looks for the namesakes of `to` in the closure of `from`; each is
    /// named as it would be resolved in the same command (`system`, then
    /// what `from` reaches).
    pub(crate) fn explain(
        graph: &Graph,
        from: NodeId,
        to: NodeId,
        walk: &Walk,
        system: &str,
    ) -> NoPath {
        let prefs = Preferences::new()
            .system(system)
            .reachable_from(from, *walk);
        let others = namesakes(graph, to);
        let in_closure = if others.is_empty() {
            Vec::new()
        } else {
            let reach: std::collections::HashSet<NodeId> =
                closure(graph, &[from], walk).into_iter().collect();
            others
                .iter()
                .filter(|n| reach.contains(n))
                .map(|&n| (spec_for(graph, n, &prefs), graph.display_path(n)))
                .collect()
        };
        let name = match graph.packages().rows_of(to).next() {
            Some(i) => graph.packages().name(i).to_owned(),
            None => split_name_version(graph.label(to)).0.to_owned(),
        };
        NoPath {
            name,
            to_path: graph.display_path(to),
            others: others.len(),
            in_closure,
            from_name: display_name(graph, from),
        }
    }

    /// The hint as lines to append to the warning (empty when the name is
    /// not shared). `command` and `from_arg` make the suggested command.
    pub(crate) fn text(&self, command: &str, from_arg: &str) -> String {
        if self.others == 0 {
            return String::new();
        }
        let total = self.others + 1;
        let mut text = format!(
            "\n  {} derivations are named {}; the one resolved is {}",
            total, self.name, self.to_path
        );
        match self.in_closure.as_slice() {
            [] => text.push_str(&format!(
                "\n  none of the {} is in the closure of {} either",
                plural(self.others, "other", "others"),
                self.from_name
            )),
            found => {
                text.push_str(&format!(
                    "\n  {} depends on {} of the others; name the one you mean:",
                    self.from_name,
                    if found.len() == 1 {
                        "one".to_owned()
                    } else {
                        count(found.len() as u64)
                    }
                ));
                for (spec, path) in found.iter().take(NAMESAKES_SHOWN) {
                    if spec == path {
                        text.push_str(&format!("\n    {path}"));
                    } else {
                        text.push_str(&format!("\n    {spec}  ({path})"));
                    }
                }
                if found.len() > NAMESAKES_SHOWN {
                    text.push_str(&format!(
                        "\n    and {} more",
                        count((found.len() - NAMESAKES_SHOWN) as u64)
                    ));
                }
                text.push_str(&format!(
                    "\n  e.g. abovo {command} {from_arg} {}",
                    found[0].0
                ));
            }
        }
        text
    }

    /// The namesakes in the closure, for JSON.
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name,
            "derivations_with_this_name": self.others + 1,
            "in_closure": self.in_closure.iter().map(|(spec, path)| {
                serde_json::json!({ "spec": spec, "path": path })
            }).collect::<Vec<_>>(),
        })
    }
}

/// `--limit`: a count of paths, at least 1 (a limit of 0 would print
/// nothing and answer nothing).
fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_owned()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}
