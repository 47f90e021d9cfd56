//! `--against OLD_SOURCE` of `abovo seeds` and `abovo audit`: what changed
//! in the trust base between an old revision and the new one, and the
//! guard for CI (`--fail-on`). The comparison itself is
//! [`abovo_trust::history`]; this module loads the two graphs, finds the
//! target (or the packages) in both, and prints the answer.

use crate::commands::trust_common::{
    fixed_output_walk, kind_style, warn_rejected_files, write_stdout,
};
use crate::commands::{audit, seeds};
use crate::exit;
use crate::output::{Context, Format, sanitize};
use crate::report::human_bytes;
use crate::report::text::{
    Align, Table, arrows, count, plural, size_or_unknown, size_with_source, title_line,
};
use abovo_graph::{Graph, NodeId};
use abovo_trust::audit::AuditPackage;
use abovo_trust::history::{
    AuditComparison, BinaryBytes, Change, FailOn, Revision, SeedChange, SeedsComparison, Violation,
    compare_audits, compare_seeds, package_name,
};
use abovo_trust::report::{SeedEntry, trust_report};
use serde::Serialize;
use std::path::PathBuf;

/// The flags of a comparison with an older revision.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct HistoryArgs {
    /// Compare with an older revision: what was added, removed and
    /// changed since OLD_SOURCE (a store directory, a directory or
    /// `.tar.zst` of `.drv` files, a corpus folder, an abovo snapshot, or
    /// `built-in` for the built-in snapshot). The new revision is
    /// --source. Packages are matched by name across versions.
    #[arg(long, value_name = "OLD_SOURCE")]
    pub against: Option<PathBuf>,
    /// With --against, exit with code 1 when the new revision rests on a
    /// binary seed the old one did not (new-binary: added or changed, in
    /// the audit also under a package that did not rest on it), or when
    /// any binary seed was added, removed or changed (any-change).
    #[arg(long, value_name = "WHAT", requires = "against",
          value_parser = clap::builder::PossibleValuesParser::new(["new-binary", "any-change"]))]
    pub fail_on: Option<String>,
}

impl HistoryArgs {
    fn fail_on(&self) -> Option<FailOn> {
        match self.fail_on.as_deref() {
            Some("new-binary") => Some(FailOn::NewBinary),
            Some("any-change") => Some(FailOn::AnyChange),
            _ => None,
        }
    }
}

/// The guard's verdict, in the JSON of a comparison.
#[derive(Debug, Serialize)]
struct Guard {
    fail_on: FailOn,
    failed: bool,
    violations: Vec<Violation>,
}

#[derive(Serialize)]
struct WithGuard<'a, T: Serialize> {
    #[serde(flatten)]
    comparison: &'a T,
    #[serde(skip_serializing_if = "Option::is_none")]
    guard: Option<&'a Guard>,
}

/// Loads the new graph (`--source`) and the old one (`--against`), side by
/// side.
fn load_both(
    trust: &crate::commands::trust_common::TrustArgs,
    against: &std::path::Path,
    ctx: &Context,
) -> anyhow::Result<(Graph, Graph)> {
    let old_args = crate::source::SourceArgs {
        source: (against.as_os_str() != "built-in" || against.exists())
            .then(|| against.to_path_buf()),
        ..Default::default()
    };
    let (old, new) = both(|| old_args.load(ctx), || trust.load_graph(ctx));
    let old = old.map_err(|e| e.context(format!("--against `{}`", against.display())))?;
    Ok((new?, old))
}

/// How a comparison is written: its format, whether text lists
/// everything, and the exit code so far.
struct Output {
    format: Format,
    all: bool,
    code: u8,
}

/// A renderer of the text form: the comparison, the guard, `--all`, the
/// styler.
type TextRenderer<T> = fn(&T, Option<&Guard>, bool, &dyn Fn(&str, &str) -> String) -> String;

impl Output {
    /// Writes the comparison (with the guard's verdict) in the format asked
    /// for, and gives the exit code: the guard's failure, if any, on top
    /// of the code so far.
    fn emit<T: Serialize>(
        &self,
        cmp: &T,
        g: Option<Guard>,
        html: fn(&T, Option<(&str, &[Violation])>) -> String,
        text: TextRenderer<T>,
        ctx: &Context,
    ) -> anyhow::Result<u8> {
        match self.format {
            Format::Json => crate::report::json::print(&WithGuard {
                comparison: cmp,
                guard: g.as_ref(),
            })?,
            Format::Html => write_stdout(&html(
                cmp,
                g.as_ref().map(|g| (g.fail_on.name(), &g.violations[..])),
            ))?,
            _ => write_stdout(&text(cmp, g.as_ref(), self.all, &|sgr, t| {
                ctx.style(sgr, t)
            }))?,
        }
        Ok(self.code.max(guard_code(g.as_ref(), ctx)))
    }
}

/// Runs `a` and `b` side by side (the old and the new revision).
fn both<A: Send, B: Send>(a: impl FnOnce() -> A + Send, b: impl FnOnce() -> B + Send) -> (A, B) {
    std::thread::scope(|s| {
        let a = s.spawn(a);
        let b = b();
        match a.join() {
            Ok(a) => (a, b),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

fn guard(
    fail_on: Option<FailOn>,
    violations: impl FnOnce(FailOn) -> Vec<Violation>,
) -> Option<Guard> {
    fail_on.map(|f| {
        let violations = violations(f);
        Guard {
            fail_on: f,
            failed: !violations.is_empty(),
            violations,
        }
    })
}

/// Says on standard error why the guard failed, and gives the exit code.
fn guard_code(g: Option<&Guard>, ctx: &Context) -> u8 {
    match g {
        Some(g) if g.failed => {
            // A package's violation says more than the distribution's.
            let first = g
                .violations
                .iter()
                .find(|v| v.package.is_some())
                .unwrap_or(&g.violations[0]);
            ctx.warn(&format!(
                "--fail-on {}: {} (first: {})",
                g.fail_on.name(),
                plural(g.violations.len(), "violation", "violations"),
                violation_text(first)
            ));
            exit::NEGATIVE
        }
        _ => exit::SUCCESS,
    }
}

fn violation_text(v: &Violation) -> String {
    let what = match (v.change, v.package.is_some()) {
        (Change::Added, true) => "now rests on",
        (Change::Added, false) => "new binary seed",
        (Change::Removed, true) => "no longer rests on",
        (Change::Removed, false) => "binary seed removed",
        (Change::Changed, true) => "rests on another version:",
        (Change::Changed, false) => "binary seed changed",
        (Change::Unchanged, _) => "unchanged",
    };
    let mut s = match &v.package {
        Some(p) => format!("{} {what} {} ({})", sanitize(p), sanitize(&v.seed), v.kind),
        None => format!("{what}: {} ({})", sanitize(&v.seed), v.kind),
    };
    if !v.path.is_empty() {
        s.push_str(&format!(
            ", path: {}",
            arrows(v.path.iter().map(String::as_str))
        ));
    }
    s
}

fn push_guard(o: &mut String, g: Option<&Guard>, all: bool, style: &dyn Fn(&str, &str) -> String) {
    let Some(g) = g else { return };
    if !g.failed {
        o.push_str(&format!(
            "\n{} --fail-on {}: passed\n",
            style("1;32", "Guard"),
            g.fail_on.name()
        ));
        return;
    }
    o.push_str(&format!(
        "\n{} --fail-on {}: failed, {}\n",
        style("1;31", "Guard"),
        g.fail_on.name(),
        plural(g.violations.len(), "violation", "violations")
    ));
    let shown = if all {
        g.violations.len()
    } else {
        g.violations.len().min(20)
    };
    for v in &g.violations[..shown] {
        o.push_str(&format!("  {}\n", violation_text(v)));
    }
    if shown < g.violations.len() {
        o.push_str(&format!(
            "  … and {} more (--all lists them; the JSON has every one)\n",
            count((g.violations.len() - shown) as u64)
        ));
    }
}

// ---------------------------------------------------------------------
// seeds TARGET --against OLD

/// Finds the target in the old revision: the same name (and version,
/// when the old revision has it), else the new target's package name.
fn resolve_old(
    old: &Graph,
    new: &Graph,
    spec: &str,
    target: NodeId,
    prefs: &abovo_graph::resolve::Preferences,
    ctx: &Context,
) -> anyhow::Result<NodeId> {
    if !spec.contains('/') {
        if let Ok(n) = crate::source::resolve_one(old, spec, prefs, ctx) {
            return Ok(n);
        }
    }
    let name = new
        .packages()
        .packages_of(target)
        .next()
        .map(|p| p.name.clone())
        .unwrap_or_else(|| {
            abovo_graph::version::split_name_version(new.label(target))
                .0
                .to_owned()
        });
    let node = crate::source::resolve_one(old, &name, prefs, ctx).map_err(|e| {
        e.context(format!(
            "`{spec}` has no counterpart named `{name}` in the old revision ({})",
            old.description()
        ))
    })?;
    if name != spec {
        ctx.note(&format!(
            "`{spec}` is not in the old revision as such: comparing with `{name}` there, {}",
            old.label(node)
        ));
    }
    Ok(node)
}

/// Runs `abovo seeds TARGET --against OLD_SOURCE`.
pub fn run_seeds(
    args: &seeds::Args,
    against: &std::path::Path,
    ctx: &Context,
) -> anyhow::Result<u8> {
    let (new_g, old_g) = load_both(&args.trust, against, ctx)?;
    let prefs = args.trust.preferences();
    let target = crate::source::resolve_one(&new_g, &args.target, &prefs, ctx)?;
    let old_target = resolve_old(&old_g, &new_g, &args.target, target, &prefs, ctx)?;
    let mut code = exit::SUCCESS;
    if args.fetch {
        code = crate::commands::fetch::fetch_seeds_first(&new_g, &[target], &args.trust, ctx)?.max(
            crate::commands::fetch::fetch_seeds_first(&old_g, &[old_target], &args.trust, ctx)?,
        );
    }
    let seeds = args.trust.seeds()?;
    let walk = &args.trust.walk();
    let (old_r, new_r) = both(
        || trust_report(&old_g, old_target, &seeds, walk),
        || trust_report(&new_g, target, &seeds, walk),
    );
    let (old_r, new_r) = (old_r?, new_r?);
    let rejected = |r: &abovo_trust::report::TrustReport| -> usize {
        r.seeds.iter().map(|e| e.class.rejected_files.len()).sum()
    };
    warn_rejected_files(ctx, rejected(&old_r) + rejected(&new_r));
    let cmp = compare_seeds(&old_r, &new_r);
    let g = guard(args.history.fail_on(), |f| cmp.violations(f));
    let out = Output {
        format: args.format,
        all: args.all,
        code,
    };
    out.emit(&cmp, g, crate::report::history::seeds, seeds_text, ctx)
}

fn size_text(e: &SeedEntry) -> String {
    size_with_source(e.class.size, e.class.size_source.label())
}

fn label(e: &SeedEntry) -> String {
    sanitize(e.class.display_name(&e.facts)).into_owned()
}

fn path_text(e: &SeedEntry) -> String {
    arrows(e.path_from_target.iter().map(|s| s.label.as_str()))
}

fn binary_bytes_text(b: &BinaryBytes) -> String {
    let mut s = format!(
        "{}, {} known",
        plural(b.seeds, "seed", "seeds"),
        human_bytes(b.known_bytes)
    );
    if b.unknown_sizes > 0 {
        s.push_str(&format!(
            ", {} of unknown size",
            count(b.unknown_sizes as u64)
        ));
    }
    if b.measured_seeds > 0 {
        s.push_str(&format!(
            " ({} measured: {})",
            count(b.measured_seeds as u64),
            human_bytes(b.measured_bytes)
        ));
    }
    s
}

/// The lines of one seed change: status, name(s), kind, evidence, size(s),
/// then its path(s).
fn push_change(o: &mut String, s: &SeedChange, style: &dyn Fn(&str, &str) -> String) {
    let e = s.entry();
    let (name, size) = match (&s.old, &s.new) {
        (Some(a), Some(b)) if s.change == Change::Changed => (
            format!("{} → {}", label(a), label(b)),
            format!("{} → {}", size_text(a), size_text(b)),
        ),
        _ => (label(e), size_text(e)),
    };
    let status = match s.change {
        Change::Added => style("1;31", "added    "),
        Change::Removed => style("32", "removed  "),
        Change::Changed => style("1;33", "changed  "),
        Change::Unchanged => "unchanged".to_owned(),
    };
    o.push_str(&format!(
        "  {status} {} — {} — {} — {size}\n",
        style("1", &name),
        style(kind_style(e.class.kind), e.class.kind.name()),
        sanitize(&e.class.evidence.label())
    ));
    if s.change == Change::Unchanged {
        return;
    }
    if let Some(a) = &s.old {
        o.push_str(&format!("              old path: {}\n", path_text(a)));
    }
    if let Some(b) = &s.new {
        o.push_str(&format!("              new path: {}\n", path_text(b)));
    }
}

/// The text report of `seeds --against`.
fn seeds_text(
    c: &SeedsComparison,
    g: Option<&Guard>,
    all: bool,
    style: &dyn Fn(&str, &str) -> String,
) -> String {
    let mut o = String::new();
    let title = format!(
        "Trust base of {} against {}",
        sanitize(&c.new.target_label),
        sanitize(&c.old.target_label)
    );
    o.push_str(&title_line(style, &title));
    for (which, s) in [("new", &c.new), ("old", &c.old)] {
        o.push_str(&format!(
            "  {which}: {}\n       graph: {}; {} walked, {}\n",
            sanitize(&s.target),
            sanitize(&s.graph),
            plural(s.derivations_walked, "derivation", "derivations"),
            plural(s.seeds, "seed", "seeds")
        ));
    }
    o.push_str(&format!(
        "  walk: {} fixed-output derivations\n",
        fixed_output_walk(c.through_fixed)
    ));
    let binary: Vec<&SeedChange> = c.seeds.iter().filter(|s| s.carries_binaries()).collect();
    let n = |ch: Change| binary.iter().filter(|s| s.change == ch).count();
    o.push_str(&format!(
        "\n{} (binary and source-with-binaries): {} added, {} removed, {} changed, {} unchanged\n",
        style("1", "Binary seeds"),
        count(n(Change::Added) as u64),
        count(n(Change::Removed) as u64),
        count(n(Change::Changed) as u64),
        count(n(Change::Unchanged) as u64)
    ));
    for s in &binary {
        push_change(&mut o, s, style);
    }
    o.push_str(&format!(
        "  old: {}\n  new: {}\n",
        binary_bytes_text(&c.old_binary),
        binary_bytes_text(&c.new_binary)
    ));

    o.push_str(&format!("\n{}\n", style("1", "All seeds, by kind")));
    let mut t = Table::new(&[
        (Align::Left, usize::MAX),
        (Align::Right, usize::MAX),
        (Align::Right, usize::MAX),
        (Align::Right, usize::MAX),
        (Align::Right, usize::MAX),
    ]);
    t.header(&["kind", "added", "removed", "changed", "unchanged"]);
    for k in &c.by_kind {
        t.row(vec![
            (k.kind.name().to_owned(), kind_style(k.kind)),
            (count(k.added as u64), ""),
            (count(k.removed as u64), ""),
            (count(k.changed as u64), ""),
            (count(k.unchanged as u64), ""),
        ]);
    }
    o.push_str(&t.render("  ", style));
    let others: Vec<&SeedChange> = c
        .seeds
        .iter()
        .filter(|s| !s.carries_binaries() && s.change != Change::Unchanged)
        .collect();
    if !others.is_empty() {
        if all {
            o.push_str(&format!(
                "\n{}\n",
                style("1", "Other seeds added, removed or changed")
            ));
            for s in &others {
                push_change(&mut o, s, style);
            }
        } else {
            o.push_str(&format!(
                "  ({} other seeds added, removed or changed: --all lists them, the JSON has every one)\n",
                count(others.len() as u64)
            ));
        }
    }
    push_guard(&mut o, g, all, style);
    o
}

// ---------------------------------------------------------------------
// audit --against OLD

/// The old revision's packages: with `--only`, those of the new revision's
/// list that the old one has, by name; else its package table, or its
/// root derivations.
fn old_packages(
    old: &Graph,
    new_packages: &[AuditPackage],
    only: Option<&str>,
    prefs: &abovo_graph::resolve::Preferences,
    ctx: &Context,
) -> anyhow::Result<(Vec<AuditPackage>, abovo_trust::audit::Audited)> {
    if only.is_none() {
        return audit::packages_of(old, None, prefs, ctx);
    }
    let mut out = Vec::new();
    for p in new_packages {
        let name = package_name(p).0;
        let Ok(found) = abovo_graph::resolve::resolve_with(old, name, prefs) else {
            ctx.note(&format!("`{name}` is not in the old revision"));
            continue;
        };
        let node = found.node;
        out.push(match old.packages().packages_of(node).next() {
            Some(t) => AuditPackage {
                name: t.name.clone(),
                version: Some(t.version.clone()),
                node,
            },
            None => AuditPackage {
                name: old.label(node).to_owned(),
                version: None,
                node,
            },
        });
    }
    Ok((out, abovo_trust::audit::Audited::Packages))
}

/// Runs `abovo audit --against OLD_SOURCE`.
pub fn run_audit(
    args: &audit::Args,
    against: &std::path::Path,
    ctx: &Context,
) -> anyhow::Result<u8> {
    let (new_g, old_g) = load_both(&args.trust, against, ctx)?;
    let prefs = args.trust.preferences();
    let (new_p, new_what) = audit::packages_of(&new_g, args.packages.as_deref(), &prefs, ctx)?;
    let (old_p, old_what) = old_packages(&old_g, &new_p, args.packages.as_deref(), &prefs, ctx)?;
    let mut code = exit::SUCCESS;
    if args.fetch {
        let roots = |ps: &[AuditPackage]| ps.iter().map(|p| p.node).collect::<Vec<_>>();
        code = crate::commands::fetch::fetch_seeds_first(&new_g, &roots(&new_p), &args.trust, ctx)?
            .max(crate::commands::fetch::fetch_seeds_first(
                &old_g,
                &roots(&old_p),
                &args.trust,
                ctx,
            )?);
    }
    let seeds = args.trust.seeds()?;
    let walk = &args.trust.walk();
    let (old_r, new_r) = both(
        || abovo_trust::audit::audit(&old_g, &old_p, &seeds, walk, 0),
        || abovo_trust::audit::audit(&new_g, &new_p, &seeds, walk, 0),
    );
    let (mut old_r, mut new_r) = (old_r?, new_r?);
    old_r.audited = old_what;
    new_r.audited = new_what;
    warn_rejected_files(ctx, old_r.rejected_files.len() + new_r.rejected_files.len());
    let cmp = compare_audits(
        Revision {
            graph: &old_g,
            packages: &old_p,
            report: &old_r,
        },
        Revision {
            graph: &new_g,
            packages: &new_p,
            report: &new_r,
        },
        walk,
    );
    let g = guard(args.history.fail_on(), |f| cmp.violations(f));
    let out = Output {
        format: args.format,
        all: args.all,
        code,
    };
    out.emit(&cmp, g, crate::report::history::audit, audit_text, ctx)
}

/// How many package groups and packages per group the text shows without
/// `--all`.
const SHOWN_GROUPS: usize = 12;
const SHOWN_NAMES: usize = 8;

/// A package's change in one line: `+a −b ~c → d`.
fn change_signature(c: &AuditComparison, p: &abovo_trust::history::PackageChange) -> String {
    let mut parts = Vec::new();
    for (sign, list) in [("+", &p.gained), ("−", &p.lost)] {
        parts.extend(list.iter().map(|s| format!("{sign} {}", c.label(s.seed))));
    }
    for s in &p.changed {
        parts.push(format!(
            "~ {} → {}",
            c.label(s.old.seed),
            c.label(s.new.seed)
        ));
    }
    parts.join("; ")
}

/// The text report of `audit --against`.
fn audit_text(
    c: &AuditComparison,
    g: Option<&Guard>,
    all: bool,
    style: &dyn Fn(&str, &str) -> String,
) -> String {
    let mut o = String::new();
    let what = c.new.audited;
    let title = format!(
        "Audit of {} against {}: {} in both (matched by name)",
        crate::report::audit::counted(what, c.new.package_count),
        count(c.old.package_count as u64),
        count(c.matched as u64)
    );
    o.push_str(&title_line(style, &title));
    o.push_str(&format!(
        "  new graph: {}\n  old graph: {}\n",
        sanitize(&c.new.graph),
        sanitize(&c.old.graph)
    ));
    o.push_str(&format!(
        "  walk:      {} fixed-output derivations\n  only in old: {}; only in new: {}\n",
        fixed_output_walk(c.through_fixed),
        count(c.only_old.len() as u64),
        count(c.only_new.len() as u64)
    ));
    let n = |ch: Change| c.seeds.iter().filter(|s| s.change == ch).count();
    o.push_str(&format!(
        "\n{}: {} added, {} removed, {} changed, {} unchanged\n",
        style("1", "Binary seeds of the distribution"),
        count(n(Change::Added) as u64),
        count(n(Change::Removed) as u64),
        count(n(Change::Changed) as u64),
        count(n(Change::Unchanged) as u64)
    ));
    let mut t = Table::new(&[
        (Align::Left, usize::MAX),
        (Align::Left, 60),
        (Align::Right, usize::MAX),
        (Align::Right, usize::MAX),
        (Align::Right, usize::MAX),
        (Align::Right, usize::MAX),
        (Align::Left, 0),
    ]);
    t.header(&["", "seed", "old pkgs", "new pkgs", "gained", "lost", "size"]);
    let shown: Vec<_> = c
        .seeds
        .iter()
        .filter(|s| all || s.change != Change::Unchanged || s.gained + s.lost > 0)
        .collect();
    for s in &shown {
        let name = match (&s.old, &s.new) {
            (Some(a), Some(b)) if s.change == Change::Changed => {
                format!("{} → {}", a.label, b.label)
            }
            _ => s.side().label.clone(),
        };
        let pk = |x: &Option<abovo_trust::history::AuditSeedSide>| {
            x.as_ref()
                .map_or("—".to_owned(), |x| count(x.packages as u64))
        };
        let size = match (&s.old, &s.new) {
            (Some(a), Some(b)) if a.size != b.size => {
                format!("{} → {}", size_or_unknown(a.size), size_or_unknown(b.size))
            }
            _ => size_or_unknown(s.side().size),
        };
        let gained = if s.changed_under > 0 {
            format!(
                "{} (+{} changed)",
                count(s.gained as u64),
                count(s.changed_under as u64)
            )
        } else {
            count(s.gained as u64)
        };
        t.row(vec![
            (
                s.change.name().to_owned(),
                match s.change {
                    Change::Added => "1;31",
                    Change::Removed => "32",
                    Change::Changed => "1;33",
                    Change::Unchanged => "",
                },
            ),
            (sanitize(&name).into_owned(), ""),
            (pk(&s.old), ""),
            (pk(&s.new), ""),
            (gained, ""),
            (count(s.lost as u64), ""),
            (size, ""),
        ]);
    }
    o.push_str(&t.render("  ", style));
    let hidden = c.seeds.len() - shown.len();
    if hidden > 0 {
        o.push_str(&format!(
            "  ({} unchanged seeds under the same packages: --all lists them)\n",
            count(hidden as u64)
        ));
    }

    // Packages grouped by what changed under them.
    o.push_str(&format!(
        "\n{}: {} of {} matched, {} unchanged\n",
        style("1", "Packages whose binary seeds changed"),
        count(c.packages.len() as u64),
        count(c.matched as u64),
        count(c.unchanged_packages as u64)
    ));
    let mut groups: Vec<(String, Vec<&abovo_trust::history::PackageChange>)> = Vec::new();
    let mut at: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for p in &c.packages {
        let sig = change_signature(c, p);
        match at.get(&sig) {
            Some(&i) => groups[i].1.push(p),
            None => {
                at.insert(sig.clone(), groups.len());
                groups.push((sig, vec![p]));
            }
        }
    }
    groups.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
    let shown_groups = if all {
        groups.len()
    } else {
        groups.len().min(SHOWN_GROUPS)
    };
    for (sig, ps) in &groups[..shown_groups] {
        o.push_str(&format!(
            "  {} — {}\n",
            style("1", &plural(ps.len(), "package", "packages")),
            sanitize(sig)
        ));
        let names: Vec<String> = ps
            .iter()
            .take(if all { ps.len() } else { SHOWN_NAMES })
            .map(|p| sanitize(&AuditComparison::package_label(p)).into_owned())
            .collect();
        let more = if ps.len() > names.len() {
            format!(", … and {} more", count((ps.len() - names.len()) as u64))
        } else {
            String::new()
        };
        o.push_str(&format!("    {}{more}\n", names.join(", ")));
        // The paths of the first package (every package's with --all).
        for p in ps.iter().take(if all { ps.len() } else { 1 }) {
            let path = |v: &[String]| arrows(v.iter().map(String::as_str));
            for (sign, list) in [("+", &p.gained), ("−", &p.lost)] {
                for s in list {
                    o.push_str(&format!("      {sign} {}\n", path(&s.path)));
                }
            }
            for s in &p.changed {
                o.push_str(&format!(
                    "      ~ {}\n        → {}\n",
                    path(&s.old.path),
                    path(&s.new.path)
                ));
            }
        }
    }
    if shown_groups < groups.len() {
        o.push_str(&format!(
            "  … and {} more groups (--all lists them; the JSON has every package)\n",
            count((groups.len() - shown_groups) as u64)
        ));
    }
    push_guard(&mut o, g, all, style);
    o
}
