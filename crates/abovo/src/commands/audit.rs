//! `abovo audit`: which binary seeds every package of a distribution rests
//! on, counted and ranked. The report's text, JSON and HTML forms are in
//! [`crate::report::audit`].

use crate::commands::signers;
use crate::commands::trust_common::{TrustArgs, note_unused_seed_files, warn_rejected_files};
use crate::exit;
use crate::output::{Context, Format};
use abovo_trust::audit::{AuditPackage, Audited, audit, table_packages};
use std::path::Path;

/// For every package (of the graph's package table, or a list), the binary
/// seeds it rests on: the core common to all, every other binary seed
/// ranked by how many packages rest on it (with `guix refresh -l`-style
/// leaves), how many packages rest on nothing but the core, the largest
/// trust bases, and the seeds nothing classifies. The JSON also holds
/// every package with the ids of its binary seeds.
#[derive(Debug, clap::Args)]
// One paragraph is only an `about`, which the subcommand's replaces: this
// makes it the text of `--help`.
#[command(long_about)]
pub struct Args {
    /// Audit only these packages: names separated by commas, or a file with
    /// one name per line (`#` starts a comment). A value that names an
    /// existing file, or has a `/` and is not a list of store paths, is
    /// read as a file. Without it, every package of the package table (or,
    /// with no table, every derivation that nothing depends on).
    #[arg(long = "only", alias = "packages", value_name = "LIST|FILE")]
    pub packages: Option<String>,
    /// How many of the largest trust bases to list.
    #[arg(long, default_value_t = DEFAULT_TOP, value_name = "N")]
    pub top: usize,
    /// In text, list every leaf and every unknown seed (by default the
    /// first few, with a count).
    #[arg(long)]
    pub all: bool,
    /// Output format (html: a self-contained page).
    #[arg(long, short = 'f', default_value = "text",
          value_parser = Format::parser(&[Format::Text, Format::Json, Format::Html]))]
    pub format: Format,
    /// Fetch the seeds' content into the cache first (what is missing;
    /// see `abovo fetch`). Exit code 1 when some could not be fetched.
    #[arg(long)]
    pub fetch: bool,
    /// Who signed the binary seeds' bytes (`--signers`, `--require-signers`).
    #[command(flatten)]
    pub sign: crate::commands::signers::SignerArgs,
    /// Shared flags.
    #[command(flatten)]
    pub trust: TrustArgs,
    /// Comparison with an older revision (`--against`, `--fail-on`).
    #[command(flatten)]
    pub history: crate::commands::history::HistoryArgs,
}

/// Whether an `--only` value is a file rather than a list of names: it
/// names an existing file, or it has a `/` and is not a list of store
/// paths (`.drv` or output paths, which resolve like names).
fn is_file_arg(value: &str, store_dir: &str) -> bool {
    if Path::new(value).is_file() {
        return true;
    }
    value.contains('/')
        && !value
            .split(',')
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .all(|v| v.starts_with(store_dir) && v[store_dir.len()..].starts_with('/'))
}

/// What to audit, and what those are: the packages of `list`, else of the
/// package table, else the root derivations of the graph.
pub(crate) fn packages_of(
    g: &abovo_graph::Graph,
    list: Option<&str>,
    prefs: &abovo_graph::resolve::Preferences,
    ctx: &Context,
) -> anyhow::Result<(Vec<AuditPackage>, Audited)> {
    if let Some(list) = list {
        let from_file = is_file_arg(list, g.store_dir().as_str());
        let text = if from_file {
            std::fs::read_to_string(list)
                .map_err(|e| anyhow::anyhow!("cannot read the package list `{list}`: {e}"))?
        } else {
            list.replace(',', "\n")
        };
        let mut out = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let name = line.split('#').next().unwrap_or("").trim();
            if name.is_empty() {
                continue;
            }
            let node = crate::source::resolve_one(g, name, prefs, ctx).map_err(|e| {
                if from_file {
                    anyhow::anyhow!("{list}, line {}: {e}", i + 1)
                } else {
                    e
                }
            })?;
            // With a package table, the table's name and version.
            out.push(match g.packages().packages_of(node).next() {
                Some(p) => AuditPackage {
                    name: p.name.clone(),
                    version: Some(p.version.clone()),
                    node,
                },
                None => AuditPackage {
                    name: name.to_owned(),
                    version: None,
                    node,
                },
            });
        }
        if out.is_empty() {
            anyhow::bail!("the package list `{list}` names no package");
        }
        return Ok((out, Audited::Packages));
    }
    let table = table_packages(g);
    if !table.is_empty() {
        return Ok((table, Audited::Packages));
    }
    // No package table: the roots of the graph stand for its packages, and
    // the report calls them what they are.
    let roots = g
        .nodes()
        .filter(|&n| {
            g.derivation(n).is_some() && !g.is_fixed_output(n) && g.dependents(n).is_empty()
        })
        .map(|n| AuditPackage {
            name: g.label(n).to_owned(),
            version: None,
            node: n,
        })
        .collect();
    Ok((roots, Audited::RootDerivations))
}

/// `--top`'s default.
pub const DEFAULT_TOP: usize = 20;

/// Runs `abovo audit`.
pub fn run(args: Args, ctx: &Context) -> anyhow::Result<u8> {
    args.format
        .check("audit", &[Format::Text, Format::Json, Format::Html])?;
    if let Some(against) = &args.history.against {
        return crate::commands::history::run_audit(&args, against, ctx);
    }
    let g = args.trust.load_graph(ctx)?;
    let (packages, audited) =
        packages_of(&g, args.packages.as_deref(), &args.trust.preferences(), ctx)?;
    let mut code = exit::SUCCESS;
    if args.fetch {
        let roots: Vec<_> = packages.iter().map(|p| p.node).collect();
        code = crate::commands::fetch::fetch_seeds_first(&g, &roots, &args.trust, ctx)?;
    }
    let seeds = args.trust.seeds()?;
    let mut report = audit(&g, &packages, &seeds, &args.trust.walk(), args.top)?;
    report.audited = audited;
    if args.sign.signers {
        let entries = report
            .core
            .iter_mut()
            .chain(report.others.iter_mut())
            .map(|s| (&s.facts, &mut s.class))
            .collect();
        signers::ask(&g, &seeds, entries, &args.trust.net, ctx)?;
    }
    let signed: Vec<_> = report
        .core
        .iter()
        .chain(&report.others)
        .map(|s| (&s.facts, s.class.signatures.as_slice()))
        .collect();
    if !signers::require(args.sign.require_signers, &signed, ctx)? {
        code = exit::NEGATIVE;
    }
    warn_rejected_files(ctx, report.rejected_files.len());
    note_unused_seed_files(ctx, report.unused_seed_files.len());
    crate::report::audit::write(&report, args.format, args.all, ctx)?;
    crate::source::release_at_exit((report, packages, g));
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::is_file_arg;

    #[test]
    fn package_lists_and_files_are_told_apart() {
        assert!(!is_file_arg("hello,guile", "/gnu/store"));
        assert!(is_file_arg("/nonexistent.txt", "/gnu/store"));
        assert!(is_file_arg("lists/mine.txt", "/gnu/store"));
        assert!(!is_file_arg(
            "/gnu/store/2nfg943asrl9dv64zrr1a4kpb25mfafd-hello-2.12.2.drv, /gnu/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-x",
            "/gnu/store"
        ));
        assert!(is_file_arg("/gnu/storefoo/list", "/gnu/store"));
    }
}
