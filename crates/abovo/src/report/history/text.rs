//! The text forms of `abovo seeds --against` and `abovo audit --against`.

use super::Guard;
use crate::output::sanitize;
use crate::report::human_bytes;
use crate::report::text::{
    Align, Table, arrows, count, plural, size_or_unknown, size_with_source, title_line,
};
use crate::report::trust::{fixed_output_walk, kind_style};
use abovo_trust::history::{
    AuditComparison, BinaryBytes, Change, SeedChange, SeedsComparison, Violation,
};
use abovo_trust::report::SeedEntry;

/// One violation of the guard in one line.
pub fn violation_text(v: &Violation) -> String {
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
pub fn seeds(
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
    let mut t = Table::name_and_numbers(4);
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
pub fn audit(
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
