//! `abovo audit`: which binary seeds every package of a distribution rests
//! on, counted and ranked.

use crate::commands::seeds::TrustArgs;
use crate::exit;
use crate::output::{Context, Format, print_json};
use crate::report::human_bytes;
use abovo_trust::audit::{AuditPackage, AuditReport, audit, table_packages};
use std::io::Write;

/// For every package (of the graph's package table, or a list), the binary
/// seeds it rests on: the core common to all, every other binary seed
/// ranked by how many packages rest on it (with `guix refresh -l`-style
/// leaves), how many packages rest on nothing but the core, and the largest
/// trust bases.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Audit only these packages: names separated by commas, or a file with
    /// one name per line. Without it, every package of the package table
    /// (or, with no table, every derivation that nothing depends on).
    #[arg(long, value_name = "LIST")]
    pub packages: Option<String>,
    /// How many of the largest trust bases to list.
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub top: usize,
    /// Output format: text, json or html (a self-contained page).
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Shared flags.
    #[command(flatten)]
    pub trust: TrustArgs,
}

fn packages_of(g: &abovo_graph::Graph, list: Option<&str>) -> anyhow::Result<Vec<AuditPackage>> {
    if let Some(list) = list {
        let text = match std::fs::read_to_string(list) {
            Ok(t) => t,
            Err(_) if !std::path::Path::new(list).exists() => list.replace(',', "\n"),
            Err(e) => anyhow::bail!("cannot read package list `{list}`: {e}"),
        };
        let mut out = Vec::new();
        for name in text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let node = abovo_graph::resolve::resolve(g, name)?;
            out.push(AuditPackage {
                name: name.to_owned(),
                node,
            });
        }
        if out.is_empty() {
            anyhow::bail!("the package list `{list}` names no package");
        }
        return Ok(out);
    }
    let table = table_packages(g);
    if !table.is_empty() {
        return Ok(table);
    }
    // No package table: the roots of the graph stand for its packages.
    Ok(g.nodes()
        .filter(|&n| {
            g.derivation(n).is_some() && !g.is_fixed_output(n) && g.dependents(n).is_empty()
        })
        .map(|n| AuditPackage {
            name: g.label(n).to_owned(),
            node: n,
        })
        .collect())
}

/// Runs `abovo audit`.
pub fn run(args: Args, ctx: &Context) -> anyhow::Result<u8> {
    args.format
        .check("audit", &[Format::Text, Format::Json, Format::Html])?;
    let g = args.trust.load_graph(ctx)?;
    let packages = packages_of(&g, args.packages.as_deref())?;
    let seeds = args.trust.seeds()?;
    let report = audit(&g, &packages, &seeds, args.trust.walk(), args.top);
    match args.format {
        Format::Json => print_json(&report)?,
        Format::Html => {
            let mut out = std::io::stdout().lock();
            out.write_all(crate::report::audit::render(&report).as_bytes())?;
            out.flush()?;
        }
        _ => print_text(&report, ctx)?,
    }
    Ok(exit::SUCCESS)
}

fn print_text(r: &AuditReport, ctx: &Context) -> anyhow::Result<()> {
    let mut o = std::io::stdout().lock();
    writeln!(
        o,
        "{}",
        ctx.style("1", &format!("Audit of {} packages", r.packages))
    )?;
    writeln!(
        o,
        "  graph: {}; the walk {} fixed-output derivations",
        r.graph,
        if r.through_fixed {
            "goes through"
        } else {
            "stops at"
        }
    )?;
    let kinds: Vec<String> = r
        .seeds_by_kind
        .iter()
        .map(|(k, n)| format!("{n} {k}"))
        .collect();
    writeln!(o, "  distinct seeds reached: {}", kinds.join(", "))?;
    writeln!(o)?;
    writeln!(
        o,
        "{} — {} binary seeds under every package, {} known{}",
        ctx.style("1;31", "The core"),
        r.core.len(),
        human_bytes(r.core_known_bytes),
        match r.core_unknown_sizes {
            0 => String::new(),
            n => format!(" ({n} of unknown size)"),
        }
    )?;
    for s in &r.core {
        let size = s
            .class
            .size
            .map(human_bytes)
            .unwrap_or_else(|| "size unknown".into());
        writeln!(
            o,
            "  {:<62} {:<22} {:<12} {}",
            s.class.display_name(&s.facts),
            s.class.kind.name(),
            s.class.evidence.label(),
            size
        )?;
    }
    writeln!(o)?;
    writeln!(
        o,
        "{} packages rest on nothing but the core ({:.1}%)",
        r.core_only_packages,
        r.core_only_packages as f64 * 100.0 / r.packages.max(1) as f64
    )?;
    writeln!(o)?;
    writeln!(
        o,
        "{}",
        ctx.style(
            "1",
            &format!(
                "Other binary seeds ({}), by packages resting on them",
                r.others.len()
            )
        )
    )?;
    for s in &r.others {
        let leaves = if s.leaves.len() <= 4 {
            s.leaves.join(" ")
        } else {
            format!("{} … (+{})", s.leaves[..4].join(" "), s.leaves.len() - 4)
        };
        writeln!(
            o,
            "  {:>6}  {:<62} {:<22} {:<26} leaves {}: {}",
            s.packages,
            s.class.display_name(&s.facts),
            s.class.kind.name(),
            s.class.evidence.label(),
            s.leaves.len(),
            leaves
        )?;
    }
    writeln!(o)?;
    writeln!(o, "{}", ctx.style("1", "Largest trust bases"))?;
    for t in &r.largest {
        writeln!(
            o,
            "  {:>4} binary seeds  {:>10} known  {}",
            t.binary_seeds,
            human_bytes(t.known_bytes),
            t.package
        )?;
    }
    o.flush()?;
    Ok(())
}
