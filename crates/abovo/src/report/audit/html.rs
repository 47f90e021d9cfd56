//! The HTML form of `abovo audit`: the core, charts of how many packages
//! rest on each other binary seed and of the largest trust bases, and the
//! full tables.

use super::{counted, packages_rest};
use crate::report::packages::names_counted;
use crate::report::text::{count, plural, size_or_unknown, size_summary};
use crate::report::{bar_chart, esc, kind_badge, kind_colour, page};
use abovo_trust::audit::{AuditReport, AuditSeed, Audited};
use std::fmt::Write as _;

fn seed_rows(seeds: &[AuditSeed], with_leaves: bool) -> String {
    let mut b = String::new();
    for s in seeds {
        let size = size_or_unknown(s.class.size);
        let _ = write!(
            b,
            "<tr><td><b>{}</b><div class=\"mono sub\">{}</div><div class=\"why\">{}</div>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>",
            esc(&s.label),
            esc(&s.facts.store_path),
            esc(&s.class.why),
            package_cell(s) + &crate::report::signers::html_cell(&s.class.signatures),
            kind_badge(s.class.kind.name()),
            esc(&s.class.evidence.label()),
            esc(&size),
            count(s.packages as u64)
        );
        if with_leaves {
            let shown: Vec<String> = s.leaves.iter().take(30).map(|l| esc(l)).collect();
            let more = s.leaves.len().saturating_sub(30);
            let _ = write!(
                b,
                "<td><details><summary>{}</summary><span class=\"mono\">{}{}</span></details></td>",
                plural(s.leaves.len(), "leaf", "leaves"),
                shown.join(", "),
                if more > 0 {
                    format!(" … and {} more (see the JSON)", count(more as u64))
                } else {
                    String::new()
                }
            );
        }
        b.push_str("</tr>");
    }
    b
}

/// A seed in package terms: who brings it in, and how its first leaf
/// comes to rest on it (derivation path, then package trail).
fn package_cell(s: &AuditSeed) -> String {
    let mut b = String::new();
    if !s.brought_in_by.is_empty() {
        let all = names_counted(&s.brought_in_by);
        let names: Vec<String> = all.iter().take(30).map(|n| esc(n)).collect();
        let more = all.len().saturating_sub(30);
        let _ = write!(
            b,
            "<div class=\"path\">brought in by: {}{}</div>",
            names.join(", "),
            if more > 0 {
                format!(" … and {} more (see the JSON)", count(more as u64))
            } else {
                String::new()
            }
        );
    }
    if let Some(e) = &s.example {
        let path: Vec<&str> = e.path.iter().map(|p| p.label.as_str()).collect();
        let _ = write!(
            b,
            "<div class=\"path\">e.g. {}: {}</div>",
            esc(&e.package),
            esc(&path.join(" → "))
        );
        if let Some(t) = &e.trail {
            let (first, then) = crate::report::packages::package_lines(t);
            let then = then.map(|t| format!("; {t}")).unwrap_or_default();
            let _ = write!(
                b,
                "<div class=\"path\">package: {}{}</div>",
                esc(&first),
                esc(&then)
            );
        }
    }
    b
}

/// The whole page.
pub fn render(r: &AuditReport) -> String {
    let mut b = String::new();
    let what = r.audited;
    let _ = write!(
        b,
        "<h1>What does the distribution rest on?</h1><p class=\"sub\">{} of <code>{}</code>{}; the walk {} fixed-output derivations.</p>",
        counted(what, r.package_count),
        esc(&r.graph),
        if what == Audited::RootDerivations {
            " (no package table: the derivations nothing depends on stand for its packages)"
        } else {
            ""
        },
        if r.through_fixed {
            "goes through"
        } else {
            "stops at"
        }
    );
    let _ = write!(
        b,
        "<h2>The core: {} under every {} ({})</h2><p>{} ({:.1}%) on nothing but the core.</p>",
        plural(r.core.len(), "binary seed", "binary seeds"),
        what.one(),
        esc(&size_summary(
            r.core_known_bytes,
            r.core_unknown_sizes,
            r.core.len()
        )),
        packages_rest(what, r.core_only_packages),
        r.core_only_packages as f64 * 100.0 / r.package_count.max(1) as f64
    );
    let _ = write!(
        b,
        "<table><tr><th>seed</th><th>kind</th><th>evidence</th><th>size</th><th>{}</th></tr>",
        what.many()
    );
    b.push_str(&seed_rows(&r.core, false));
    b.push_str("</table>");
    if !r.others.is_empty() {
        let bars: Vec<(String, u64, &'static str)> = r
            .others
            .iter()
            .take(40)
            .map(|s| {
                (
                    s.label.clone(),
                    s.packages as u64,
                    kind_colour(s.class.kind.name()),
                )
            })
            .collect();
        let _ = write!(
            b,
            "<h2>Other binary seeds ({}): {} resting on each</h2><div style=\"overflow:auto\">",
            count(r.others.len() as u64),
            what.many()
        );
        b.push_str(&bar_chart(&bars, what.many()));
        let _ = write!(
            b,
            "</div><table><tr><th>seed</th><th>kind</th><th>evidence</th><th>size</th><th>{}</th><th>leaves</th></tr>",
            what.many()
        );
        b.push_str(&seed_rows(&r.others, true));
        b.push_str("</table>");
    }
    if !r.largest.is_empty() {
        let bars: Vec<(String, u64, &'static str)> = r
            .largest
            .iter()
            .map(|t| (t.package.clone(), t.binary_seeds as u64, "#c0392b"))
            .collect();
        let _ = write!(
            b,
            "<h2>Largest trust bases (binary seeds per {})</h2><div style=\"overflow:auto\">",
            what.one()
        );
        b.push_str(&bar_chart(&bars, "binary seeds"));
        let _ = write!(
            b,
            "</div><table><tr><th>{}</th><th>binary seeds</th><th>known size</th><th>beyond the core</th></tr>",
            what.one()
        );
        for t in &r.largest {
            let _ = write!(
                b,
                "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"mono\">{}</td></tr>",
                esc(&t.package),
                t.binary_seeds,
                esc(&size_summary(
                    t.known_bytes,
                    t.unknown_sizes,
                    t.binary_seeds
                )),
                esc(&t.beyond_core.join(", "))
            );
        }
        b.push_str("</table>");
    }
    b.push_str(&crate::report::signers::html_totals(
        &super::signature_groups(r),
    ));
    if !r.unknown.is_empty() {
        let _ = write!(
            b,
            "<h2>Unknown seeds ({})</h2><p class=\"sub\">No bytes, no knowledge-base entry and no rule tell what they are.</p>\
             <details><summary>list them</summary><table><tr><th>seed</th><th>store path</th></tr>",
            count(r.unknown.len() as u64)
        );
        for u in &r.unknown {
            let _ = write!(
                b,
                "<tr><td>{}</td><td class=\"mono sub\">{}</td></tr>",
                esc(&u.facts.name),
                esc(&u.facts.store_path)
            );
        }
        b.push_str("</table></details>");
    }
    if !r.rejected_files.is_empty() {
        let _ = write!(
            b,
            "<h2>Warning: {} found under a seed's name, ignored</h2><table><tr><th>file</th><th>seed</th><th>why</th></tr>",
            plural(r.rejected_files.len(), "file", "files")
        );
        for f in &r.rejected_files {
            let _ = write!(
                b,
                "<tr><td class=\"mono\">{}</td><td class=\"mono sub\">{}</td><td class=\"why\">{}</td></tr>",
                esc(&f.file.file.display().to_string()),
                esc(&f.seed),
                esc(&f.file.message())
            );
        }
        b.push_str("</table>");
    }
    page("abovo audit", &b)
}
