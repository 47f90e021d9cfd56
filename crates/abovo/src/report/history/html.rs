//! The HTML forms of `abovo seeds --against` and `abovo audit --against`:
//! what changed in the binary seeds, with paths and sizes, the counts per
//! kind, the packages grouped by what changed under them, and the guard's
//! verdict.

use crate::report::seeds::html::size_cell;
use crate::report::text::{count, size_or_unknown};
use crate::report::{esc, human_bytes, kind_badge, page};
use abovo_trust::history::{AuditComparison, Change, SeedChange, SeedsComparison, Violation};
use abovo_trust::report::SeedEntry;
use std::fmt::Write as _;

fn change_badge(c: Change) -> String {
    let colour = match c {
        Change::Added => "#c0392b",
        Change::Removed => "#27ae60",
        Change::Changed => "#d35400",
        Change::Unchanged => "#7f8c8d",
    };
    format!(
        "<span class=\"k\" style=\"background:{colour}\">{}</span>",
        c.name()
    )
}

fn path(labels: &[String]) -> String {
    esc(&labels.join(" → "))
}

fn entry_path(e: &SeedEntry) -> String {
    let labels: Vec<String> = e.path_from_target.iter().map(|s| s.label.clone()).collect();
    path(&labels)
}

fn seed_row(s: &SeedChange) -> String {
    let mut cell = String::new();
    for (which, e) in [("old", &s.old), ("new", &s.new)] {
        if let Some(e) = e {
            let _ = write!(
                cell,
                "<div><b>{}</b> <span class=\"sub\">({which})</span><div class=\"mono sub\">{}</div>",
                esc(e.class.display_name(&e.facts)),
                esc(&e.facts.store_path)
            );
            if s.change != Change::Unchanged || which == "new" {
                let _ = write!(cell, "<div class=\"path\">{}</div>", entry_path(e));
            }
            cell.push_str("</div>");
        }
    }
    let e = s.entry();
    let sizes: Vec<String> = [&s.old, &s.new]
        .into_iter()
        .flatten()
        .map(size_cell)
        .collect();
    format!(
        "<tr><td>{}</td><td>{cell}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        change_badge(s.change),
        kind_badge(e.class.kind.name()),
        esc(&e.class.evidence.label()),
        sizes.join(" → ")
    )
}

fn guard_section(guard: Option<(&str, &[Violation])>) -> String {
    let Some((fail_on, v)) = guard else {
        return String::new();
    };
    let mut s = format!("<h2>Guard ({})</h2>", esc(fail_on));
    if v.is_empty() {
        s.push_str("<p>Passed: nothing to report.</p>");
        return s;
    }
    let _ = write!(
        s,
        "<p><b>Failed</b>: {} violations.</p><table><tr><th>package</th><th>seed</th><th>change</th><th>path</th></tr>",
        count(v.len() as u64)
    );
    for x in v {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{} {}</td><td>{}</td><td class=\"path\">{}</td></tr>",
            esc(x.package.as_deref().unwrap_or("(the distribution)")),
            esc(&x.seed),
            kind_badge(x.kind.name()),
            change_badge(x.change),
            path(&x.path)
        );
    }
    s.push_str("</table>");
    s
}

/// The page of `abovo seeds TARGET --against OLD`.
pub fn seeds(c: &SeedsComparison, guard: Option<(&str, &[Violation])>) -> String {
    let mut b = String::new();
    let _ = write!(
        b,
        "<h1>Trust base of {} against {}</h1><p class=\"sub\">new: <span class=\"mono\">{}</span> ({})<br>old: <span class=\"mono\">{}</span> ({})</p>",
        esc(&c.new.target_label),
        esc(&c.old.target_label),
        esc(&c.new.target),
        esc(&c.new.graph),
        esc(&c.old.target),
        esc(&c.old.graph)
    );
    b.push_str("<h2>Binary seeds</h2><table><tr><th>change</th><th>seed</th><th>kind</th><th>evidence</th><th>size</th></tr>");
    for s in c.seeds.iter().filter(|s| s.carries_binaries()) {
        b.push_str(&seed_row(s));
    }
    let _ = write!(
        b,
        "</table><p>Binary seeds known in size: old {} of {} ({}), new {} of {} ({}).</p>",
        count((c.old_binary.seeds - c.old_binary.unknown_sizes) as u64),
        count(c.old_binary.seeds as u64),
        esc(&human_bytes(c.old_binary.known_bytes)),
        count((c.new_binary.seeds - c.new_binary.unknown_sizes) as u64),
        count(c.new_binary.seeds as u64),
        esc(&human_bytes(c.new_binary.known_bytes))
    );
    b.push_str("<h2>All seeds, by kind</h2><table><tr><th>kind</th><th>added</th><th>removed</th><th>changed</th><th>unchanged</th></tr>");
    for k in &c.by_kind {
        let _ = write!(
            b,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            kind_badge(k.kind.name()),
            count(k.added as u64),
            count(k.removed as u64),
            count(k.changed as u64),
            count(k.unchanged as u64)
        );
    }
    b.push_str("</table><details><summary>Other seeds added, removed or changed</summary><table>");
    for s in c
        .seeds
        .iter()
        .filter(|s| !s.carries_binaries() && s.change != Change::Unchanged)
    {
        b.push_str(&seed_row(s));
    }
    b.push_str("</table></details>");
    b.push_str(&guard_section(guard));
    page(
        &format!(
            "abovo: {} against {}",
            c.new.target_label, c.old.target_label
        ),
        &b,
    )
}

/// The page of `abovo audit --against OLD`.
pub fn audit(c: &AuditComparison, guard: Option<(&str, &[Violation])>) -> String {
    let mut b = String::new();
    let _ = write!(
        b,
        "<h1>Audit against an older revision</h1><p class=\"sub\">new: {} ({} {})<br>old: {} ({} {})<br>{} in both, matched by name; {} only in the old, {} only in the new.</p>",
        esc(&c.new.graph),
        count(c.new.package_count as u64),
        c.new.audited.many(),
        esc(&c.old.graph),
        count(c.old.package_count as u64),
        c.old.audited.many(),
        count(c.matched as u64),
        count(c.only_old.len() as u64),
        count(c.only_new.len() as u64)
    );
    b.push_str("<h2>Binary seeds of the distribution</h2><table><tr><th>change</th><th>seed</th><th>kind</th><th class=\"num\">old pkgs</th><th class=\"num\">new pkgs</th><th class=\"num\">gained</th><th class=\"num\">lost</th><th class=\"num\">changed under</th><th>size</th></tr>");
    for s in &c.seeds {
        let name = match (&s.old, &s.new) {
            (Some(a), Some(x)) if s.change == Change::Changed => {
                format!("{} → {}", a.label, x.label)
            }
            _ => s.side().label.clone(),
        };
        let pk = |x: &Option<abovo_trust::history::AuditSeedSide>| {
            x.as_ref()
                .map_or("—".to_owned(), |x| count(x.packages as u64))
        };
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            change_badge(s.change),
            esc(&name),
            kind_badge(s.side().kind.name()),
            pk(&s.old),
            pk(&s.new),
            count(s.gained as u64),
            count(s.lost as u64),
            count(s.changed_under as u64),
            esc(&size_or_unknown(s.side().size))
        );
    }
    let _ = write!(
        b,
        "</table><h2>Packages whose binary seeds changed ({} of {})</h2><table><tr><th>package</th><th>gained, lost, changed — with a path to each</th></tr>",
        count(c.packages.len() as u64),
        count(c.matched as u64)
    );
    for p in &c.packages {
        let mut cell = String::new();
        for (sign, list) in [("+", &p.gained), ("−", &p.lost)] {
            for s in list {
                let _ = write!(
                    cell,
                    "<div>{sign} <b>{}</b><div class=\"path\">{}</div></div>",
                    esc(c.label(s.seed)),
                    path(&s.path)
                );
            }
        }
        for s in &p.changed {
            let _ = write!(
                cell,
                "<div>~ <b>{} → {}</b><div class=\"path\">{}<br>{}</div></div>",
                esc(c.label(s.old.seed)),
                esc(c.label(s.new.seed)),
                path(&s.old.path),
                path(&s.new.path)
            );
        }
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{cell}</td></tr>",
            esc(&AuditComparison::package_label(p))
        );
    }
    b.push_str("</table>");
    b.push_str(&guard_section(guard));
    page("abovo: audit against an older revision", &b)
}
