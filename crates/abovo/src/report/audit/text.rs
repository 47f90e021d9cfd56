//! The text form of `abovo audit`.

use crate::output::sanitize;
use crate::report::human_bytes;
use crate::report::packages::package_lines;
use crate::report::signers;
use crate::report::text::{
    Align, Table, arrows, count, plural, size_or_unknown, size_summary, title_line, wrap_list,
};
use crate::report::trust::{
    fixed_output_walk, kind_style, push_rejected_section, push_unused_section,
};
use abovo_trust::audit::{AuditReport, AuditSeed, Audited};

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

/// The `signed by` line of a binary seed, when it has signatures.
fn push_signed_by(o: &mut String, s: &AuditSeed, lead: &str) {
    if let Some(by) = signers::signed_by(&s.class.signatures) {
        o.push_str(&format!("{lead}signed by: {by}\n"));
    }
}

/// The text report.
pub fn render(r: &AuditReport, all: bool, style: &dyn Fn(&str, &str) -> String) -> String {
    let mut o = String::new();
    let what = r.audited;
    let title = format!("Audit of {}", super::counted(what, r.package_count));
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
        super::packages_rest(what, r.core_only_packages),
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

    signers::push_totals(&mut o, &super::signature_groups(r), style);

    let rejected: Vec<_> = r
        .rejected_files
        .iter()
        .map(|f| (&f.file, f.seed.clone()))
        .collect();
    push_rejected_section(&mut o, &rejected, style);
    push_unused_section(&mut o, &r.unused_seed_files, all, style);
    o
}
