//! `abovo dependents TARGET…`: who would be rebuilt, as `guix refresh -l`
//! says it.

use crate::exit;
use crate::output::{Context, print_json, sanitize};
use crate::packages::{
    GraphKind, PackagesJson, choose_kind, package_view, packages_json, packages_of, type_help,
};
use crate::source::{NodesJson, QueryArgs, TEXT_JSON, display_name, nodes_json};
use abovo_graph::query::{dependents, dependents_where};
use abovo_graph::{Graph, NodeId};
use std::io::Write;

/// List the dependents of TARGET: every package whose build would change
/// if TARGET changed.
///
/// By default (`--type bag-emerged`) the walk goes up the package graph
/// with the implicit inputs of build systems, the bag graph that `guix
/// refresh -l` walks, and every package node counts, public, hidden or
/// private, as there. `--type package` walks explicit inputs only (`guix
/// graph -t reverse-package`); `--type derivation` walks derivations and
/// counts the packages of the package table (or, without one, every
/// derivation).
///
/// The text is `guix refresh -l`'s: "Building the following N packages
/// would ensure M dependent packages are rebuilt: …", where the N listed
/// are the dependents that no other dependent depends on. JSON has both
/// full lists.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Packages or derivations.
    #[arg(required = true, value_name = "TARGET")]
    pub targets: Vec<String>,
    /// What the nodes are.
    #[arg(long = "type", short = 't', value_enum, value_name = "TYPE",
          help = type_help!("bag-emerged"))]
    pub kind: Option<GraphKind>,
    /// Format and source.
    #[command(flatten)]
    pub query: QueryArgs,
}

/// Runs `abovo dependents`.
pub fn run(args: Args, ctx: &Context) -> anyhow::Result<u8> {
    let (graph, targets) = args
        .query
        .open(ctx, "dependents", TEXT_JSON, &args.targets)?;
    let kind = choose_kind(&graph, args.kind, GraphKind::BagEmerged, ctx);
    if args.query.json() {
        json(&graph, &targets, &args.targets, kind, |j| print_json(j))??;
        return Ok(exit::SUCCESS);
    }
    let answer = match kind.package_graph() {
        Some(ty) => {
            let view = package_view(&graph, ty)?;
            let targets = packages_of(&view, &targets, &args.targets)?;
            let d = dependents_where(&view, &targets, true, |_| true);
            let name = |p| sanitize(&view.full_name(p)).into_owned();
            Answer {
                targets: targets.iter().map(|&p| name(p)).collect(),
                total: d.all.len(),
                single: single(&d.all).map(name),
                covering: d.covering.iter().map(|&p| name(p)).collect(),
                packages_only: true,
            }
        }
        None => {
            let d = dependents(&graph, &targets);
            let name = |n| sanitize(&display_name(&graph, n)).into_owned();
            Answer {
                targets: targets.iter().map(|&n| name(n)).collect(),
                total: d.all.len(),
                single: single(&d.all).map(name),
                covering: d.covering.iter().map(|&n| name(n)).collect(),
                packages_only: d.packages_only,
            }
        }
    };
    answer.write(ctx)
}

/// The answer in JSON (`--format json`, and `abovo serve`'s
/// `/api/dependents/NAME`): the dependents of `targets` (resolved from
/// `names`) in the graph of `kind`, both full lists, handed to `emit` (to
/// print or to render), which is given its result.
pub fn json<R>(
    graph: &Graph,
    targets: &[NodeId],
    names: &[String],
    kind: GraphKind,
    emit: impl FnOnce(&DependentsJson<'_>) -> R,
) -> anyhow::Result<R> {
    Ok(match kind.package_graph() {
        Some(ty) => {
            let view = package_view(graph, ty)?;
            let targets = packages_of(&view, targets, names)?;
            let d = dependents_where(&view, &targets, true, |_| true);
            let list = |nodes| Listed::Packages(packages_json(&view, nodes));
            emit(&DependentsJson {
                graph: graph.description(),
                ty: ty.name(),
                targets: list(&targets),
                packages_only: true,
                dependent_count: d.all.len(),
                covering_count: d.covering.len(),
                covering: list(&d.covering),
                dependents: list(&d.all),
            })
        }
        None => {
            let d = dependents(graph, targets);
            let list = |nodes| Listed::Nodes(nodes_json(graph, nodes));
            emit(&DependentsJson {
                graph: graph.description(),
                ty: "derivation",
                targets: list(targets),
                packages_only: d.packages_only,
                dependent_count: d.all.len(),
                covering_count: d.covering.len(),
                covering: list(&d.covering),
                dependents: list(&d.all),
            })
        }
    })
}

/// The dependents in JSON ([`json`]), in the order of their fields.
#[derive(serde::Serialize)]
pub struct DependentsJson<'a> {
    graph: &'a str,
    #[serde(rename = "type")]
    ty: &'static str,
    targets: Listed<'a>,
    packages_only: bool,
    dependent_count: usize,
    covering_count: usize,
    covering: Listed<'a>,
    dependents: Listed<'a>,
}

/// A list of packages or of derivations, in JSON.
#[derive(serde::Serialize)]
#[serde(untagged)]
enum Listed<'a> {
    Packages(PackagesJson<'a>),
    Nodes(NodesJson<'a>),
}

/// The one node of `all`, when it has just one.
fn single<N: Copy>(all: &[N]) -> Option<N> {
    match all {
        [one] => Some(*one),
        _ => None,
    }
}

/// The answer of either kind of graph, for the text: names of people. The
/// text counts the dependents and names only the covering ones (a few
/// hundred of 31,000 dependents of glibc in a store), so only those are
/// named.
struct Answer {
    targets: Vec<String>,
    /// How many dependents there are.
    total: usize,
    /// The name of the one dependent, when there is just one.
    single: Option<String>,
    covering: Vec<String>,
    packages_only: bool,
}

impl Answer {
    /// Writes `guix refresh -l`'s sentence.
    fn write(mut self, ctx: &Context) -> anyhow::Result<u8> {
        self.covering.sort();
        let noun = if self.packages_only {
            "package"
        } else {
            "derivation"
        };
        let (names, covering) = (&self.targets, &self.covering);
        let mut out = std::io::stdout().lock();
        match (self.total, &self.single) {
            (0, _) if names.len() == 1 => {
                writeln!(out, "No dependents other than itself: {}", names[0])?
            }
            (0, _) => writeln!(
                out,
                "No dependents other than themselves: {}",
                names.join(" ")
            )?,
            (_, Some(one)) => writeln!(out, "A single dependent {noun}: {one}")?,
            (total, None) => writeln!(
                out,
                "Building the following {} {noun}{} would ensure {total} dependent {noun}s are rebuilt: {}",
                covering.len(),
                if covering.len() == 1 { "" } else { "s" },
                covering.join(" ")
            )?,
        }
        out.flush()?;
        if !self.packages_only {
            ctx.note(
                "no package table: counting every dependent derivation (pass --package-table for packages)",
            );
        }
        Ok(exit::SUCCESS)
    }
}
