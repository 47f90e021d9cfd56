//! `abovo audit`: which binary seeds every package of a distribution rests
//! on, counted and ranked.

use crate::commands::signers;
use crate::commands::trust_common::{
    TrustArgs, fixed_output_walk, kind_style, note_unused_seed_files, push_rejected_section,
    push_unused_section, warn_rejected_files, write_stdout,
};
use crate::exit;
use crate::output::{Context, Format, sanitize};
use crate::report::human_bytes;
use crate::report::packages::package_lines;
use crate::report::text::{
    Align, Table, arrows, count, plural, size_or_unknown, size_summary, title_line, wrap_list,
};
use abovo_trust::audit::{AuditPackage, AuditReport, AuditSeed, Audited, audit, table_packages};
use std::path::Path;

/// For every package (of the graph's package table, or a list), the binary
/// seeds it rests on: the core common to all, every other binary seed
/// ranked by how many packages rest on it (with `guix refresh -l`-style
/// leaves), how many packages rest on nothing but the core, the largest
/// trust bases, and the seeds nothing classifies. The JSON also holds
/// every package with the ids of its binary seeds.
#[derive(Debug, clap::Args)]
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
    match args.format {
        Format::Json => crate::report::json::print(&report)?,
        Format::Html => write_stdout(&crate::report::audit::render(&report))?,
        _ => write_stdout(&render_text(&report, args.all, &|sgr, t| ctx.style(sgr, t)))?,
    }
    Ok(code)
}

/// How many unknown seeds and leaves the text lists without `--all`.
const SHOWN_UNKNOWN: usize = 20;
const SHOWN_LEAVES: usize = 6;
/// Where lists in the text report wrap.
const WIDTH: usize = 110;

/// What a binary seed's rows say in package terms, each line starting
/// with `lead`: the packages that bring it in, then how its first leaf
/// comes to rest on it, in derivations and in packages. Nothing without
/// package graphs.
fn package_terms(s: &AuditSeed, lead: &str, all: bool) -> String {
    let mut o = String::new();
    if !s.brought_in_by.is_empty() {
        let shown = if all { usize::MAX } else { SHOWN_LEAVES };
        let all_names = crate::report::packages::names_counted(&s.brought_in_by);
        let mut names: Vec<String> = all_names.iter().take(shown).cloned().collect();
        if all_names.len() > shown {
            names.push(format!(
                "… and {} more",
                count((all_names.len() - shown) as u64)
            ));
        }
        let head = format!("{lead}brought in by: ");
        o.push_str(&wrap_list(&head, &" ".repeat(head.len()), &names, WIDTH));
    }
    let Some(e) = &s.example else {
        return o;
    };
    o.push_str(&format!(
        "{lead}e.g. {}: {}\n",
        sanitize(&e.package),
        arrows(e.path.iter().map(|p| p.label.as_str()))
    ));
    if let Some(t) = &e.trail {
        let (first, then) = package_lines(t);
        o.push_str(&format!("{lead}     package: {first}\n"));
        if let Some(then) = then {
            o.push_str(&format!("{lead}              {then}\n"));
        }
    }
    o
}

fn percent(part: usize, whole: usize) -> String {
    format!("{:.1}%", part as f64 * 100.0 / whole.max(1) as f64)
}

fn seed_size(s: &AuditSeed) -> String {
    size_or_unknown(s.class.size)
}

fn sigs(seeds: &[AuditSeed]) -> Vec<&[abovo_trust::signatures::Signature]> {
    seeds
        .iter()
        .map(|s| s.class.signatures.as_slice())
        .collect()
}

/// The `signed by` line of a binary seed, when it has signatures.
fn push_signed_by(o: &mut String, s: &AuditSeed, lead: &str) {
    if let Some(by) = signers::signed_by(&s.class.signatures) {
        o.push_str(&format!("{lead}signed by: {by}\n"));
    }
}

/// The text report.
pub fn render_text(r: &AuditReport, all: bool, style: &dyn Fn(&str, &str) -> String) -> String {
    let mut o = String::new();
    let what = r.audited;
    let title = format!(
        "Audit of {}",
        crate::report::audit::counted(what, r.package_count)
    );
    o.push_str(&title_line(style, &title));
    o.push_str(&format!("  graph: {}\n", sanitize(&r.graph)));
    if what == Audited::RootDerivations {
        o.push_str(
            "  roots: the graph has no package table, so the derivations nothing in it depends \
             on stand for its packages\n",
        );
    }
    o.push_str(&format!(
        "  walk:  {} fixed-output derivations\n",
        fixed_output_walk(r.through_fixed)
    ));
    let kinds: Vec<String> = r
        .seeds_by_kind
        .iter()
        .map(|(k, n)| format!("{} {k}", count(*n as u64)))
        .collect();
    o.push_str(&format!("  distinct seeds reached: {}\n", kinds.join(", ")));

    o.push_str(&format!(
        "\n{} — {} under every {}, {}\n",
        style("1;31", "The core"),
        plural(r.core.len(), "binary seed", "binary seeds"),
        what.one(),
        size_summary(r.core_known_bytes, r.core_unknown_sizes, r.core.len())
    ));
    if !r.core.is_empty() {
        let mut t = Table::new(&[
            (Align::Left, 72),
            (Align::Left, usize::MAX),
            (Align::Left, usize::MAX),
            (Align::Left, 0),
        ]);
        t.header(&["seed", "kind", "evidence", "size"]);
        for s in &r.core {
            t.row(vec![
                (sanitize(&s.label).into_owned(), ""),
                (s.class.kind.name().into(), kind_style(s.class.kind)),
                (sanitize(&s.class.evidence.label()).into_owned(), ""),
                (seed_size(s), ""),
            ]);
        }
        let rows = t.render_rows("  ", style);
        o.push_str(&rows[0]);
        for (s, row) in r.core.iter().zip(&rows[1..]) {
            o.push_str(row);
            push_signed_by(&mut o, s, "    ");
            o.push_str(&package_terms(s, "    ", all));
        }
    }

    o.push_str(&format!(
        "\n{} on nothing but the core ({})\n",
        crate::report::audit::packages_rest(what, r.core_only_packages),
        percent(r.core_only_packages, r.package_count)
    ));

    if !r.others.is_empty() {
        o.push_str(&format!(
            "\n{}\n",
            style(
                "1",
                &format!(
                    "Other binary seeds ({}), by {} resting on them",
                    count(r.others.len() as u64),
                    what.many()
                )
            )
        ));
        let mut t = Table::new(&[
            (Align::Right, usize::MAX),
            (Align::Right, usize::MAX),
            (Align::Left, 72),
            (Align::Left, usize::MAX),
            (Align::Left, usize::MAX),
            (Align::Left, 0),
        ]);
        t.header(&["#", what.many(), "seed", "kind", "evidence", "size"]);
        for (i, s) in r.others.iter().enumerate() {
            t.row(vec![
                (format!("{}", i + 1), ""),
                (count(s.packages as u64), ""),
                (sanitize(&s.label).into_owned(), ""),
                (s.class.kind.name().into(), kind_style(s.class.kind)),
                (sanitize(&s.class.evidence.label()).into_owned(), ""),
                (seed_size(s), ""),
            ]);
        }
        let rows = t.render_rows("  ", style);
        // Leaves go under the seed's name.
        let lead = " ".repeat(
            2 + r.others.len().to_string().len()
                + 2
                + count(r.others.iter().map(|s| s.packages).max().unwrap_or(0) as u64)
                    .len()
                    .max(what.many().len())
                + 2,
        );
        o.push_str(&rows[0]);
        for (s, row) in r.others.iter().zip(&rows[1..]) {
            o.push_str(row);
            push_signed_by(&mut o, s, "      ");
            let shown = if all { s.leaves.len() } else { SHOWN_LEAVES };
            let mut leaves: Vec<String> = s
                .leaves
                .iter()
                .take(shown)
                .map(|l| sanitize(l).into_owned())
                .collect();
            if s.leaves.len() > shown {
                leaves.push(format!(
                    "… and {} more",
                    count((s.leaves.len() - shown) as u64)
                ));
            }
            let head = format!(
                "{lead}{}: ",
                if s.leaves.len() == 1 {
                    "leaf".to_owned()
                } else {
                    format!("leaves ({})", count(s.leaves.len() as u64))
                }
            );
            o.push_str(&wrap_list(
                &head,
                &" ".repeat(lead.len() + 2),
                &leaves,
                WIDTH,
            ));
            o.push_str(&package_terms(s, &lead, all));
        }
    }

    if !r.largest.is_empty() {
        o.push_str(&format!("\n{}\n", style("1", "Largest trust bases")));
        // Beyond the core, by their numbers in "Other binary seeds".
        let rank: std::collections::HashMap<u32, usize> = r
            .others
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id, i + 1))
            .collect();
        let mut t = Table::new(&[
            (Align::Right, usize::MAX),
            (Align::Right, usize::MAX),
            (Align::Left, 40),
            (Align::Left, 0),
        ]);
        t.header(&[
            "binary seeds",
            "known size",
            what.one(),
            "beyond the core (#n of Other binary seeds)",
        ]);
        for b in &r.largest {
            let size = if b.unknown_sizes == b.binary_seeds {
                "unknown".to_owned()
            } else if b.unknown_sizes == 0 {
                human_bytes(b.known_bytes)
            } else {
                format!("≥ {}", human_bytes(b.known_bytes))
            };
            let mut ranks: Vec<usize> = b
                .beyond_core_ids
                .iter()
                .filter_map(|id| rank.get(id).copied())
                .collect();
            ranks.sort_unstable();
            let ranks: Vec<String> = ranks.iter().map(|n| format!("#{n}")).collect();
            t.row(vec![
                (count(b.binary_seeds as u64), ""),
                (size, ""),
                (sanitize(&b.package).into_owned(), ""),
                (ranks.join(" "), ""),
            ]);
        }
        o.push_str(&t.render("  ", style));
    }

    if !r.unknown.is_empty() {
        o.push_str(&format!(
            "\n{}\n",
            style(
                "1",
                &format!(
                    "Unknown seeds ({}): no bytes, no knowledge-base entry and no rule tell what they are",
                    count(r.unknown.len() as u64)
                )
            )
        ));
        let shown = if all { r.unknown.len() } else { SHOWN_UNKNOWN };
        let mut t = Table::new(&[(Align::Left, 48), (Align::Left, 0)]);
        for u in r.unknown.iter().take(shown) {
            t.row(vec![
                (sanitize(&u.facts.name).into_owned(), ""),
                (sanitize(&u.facts.store_path).into_owned(), ""),
            ]);
        }
        o.push_str(&t.render("  ", style));
        if r.unknown.len() > shown {
            o.push_str(&format!(
                "  … and {} more (--all lists them all; the JSON has every one)\n",
                count((r.unknown.len() - shown) as u64)
            ));
        }
    }

    let groups = [
        ("core", sigs(&r.core)),
        ("other binary seeds", sigs(&r.others)),
    ];
    signers::push_totals(&mut o, &groups, style);

    let rejected: Vec<_> = r
        .rejected_files
        .iter()
        .map(|f| (&f.file, f.seed.clone()))
        .collect();
    push_rejected_section(&mut o, &rejected, style);
    push_unused_section(&mut o, &r.unused_seed_files, all, style);
    o
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
