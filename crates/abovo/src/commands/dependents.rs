//! `abovo dependents TARGET…`: who would be rebuilt, as `guix refresh -l`
//! says it.

use crate::exit;
use crate::output::{Context, print_json, sanitize};
use crate::source::{QueryArgs, TEXT_JSON, display_name, nodes_json};
use abovo_graph::query::dependents;
use std::io::Write;

/// List the dependents of TARGET: every package (or, without a package
/// table, every derivation) whose build would change if TARGET changed.
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
    /// Format and source.
    #[command(flatten)]
    pub query: QueryArgs,
}

/// Runs `abovo dependents`.
pub fn run(args: Args, ctx: &Context) -> anyhow::Result<u8> {
    let (graph, targets) = args
        .query
        .open(ctx, "dependents", TEXT_JSON, &args.targets)?;
    let d = dependents(&graph, &targets);
    let mut covering: Vec<String> = d
        .covering
        .iter()
        .map(|&n| sanitize(&display_name(&graph, n)).into_owned())
        .collect();
    covering.sort();
    if args.query.json() {
        let list = |nodes: &[abovo_graph::NodeId]| nodes_json(&graph, nodes);
        print_json(&serde_json::json!({
            "graph": graph.description(),
            "targets": list(&targets),
            "packages_only": d.packages_only,
            "dependent_count": d.all.len(),
            "covering_count": d.covering.len(),
            "covering": list(&d.covering),
            "dependents": list(&d.all),
        }))?;
        return Ok(exit::SUCCESS);
    }
    let noun = if d.packages_only {
        "package"
    } else {
        "derivation"
    };
    let names: Vec<String> = targets
        .iter()
        .map(|&n| sanitize(&display_name(&graph, n)).into_owned())
        .collect();
    let mut out = std::io::stdout().lock();
    match d.all.len() {
        0 if names.len() == 1 => writeln!(out, "No dependents other than itself: {}", names[0])?,
        0 => writeln!(
            out,
            "No dependents other than themselves: {}",
            names.join(" ")
        )?,
        1 => writeln!(
            out,
            "A single dependent {noun}: {}",
            sanitize(&display_name(&graph, d.all[0]))
        )?,
        total => writeln!(
            out,
            "Building the following {} {noun}{} would ensure {total} dependent {noun}s are rebuilt: {}",
            covering.len(),
            if covering.len() == 1 { "" } else { "s" },
            covering.join(" ")
        )?,
    }
    out.flush()?;
    if !d.packages_only {
        ctx.note(
            "no package table: counting every dependent derivation (pass --package-table for packages)",
        );
    }
    Ok(exit::SUCCESS)
}
