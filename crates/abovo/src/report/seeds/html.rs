//! The HTML form of `abovo seeds`: totals, a picture of the paths from the
//! target to its binary seeds, and one table per kind.

use super::words::Words;
use super::write_in_chunks;
use crate::report::text::{count, plural};
use crate::report::{
    Esc, PAGE_END, TreeNode, esc, human_bytes, kind_badge, kind_colour, page_start, tree_svg,
};
use abovo_graph::NodeId;
use abovo_trust::Kind;
use abovo_trust::report::{SeedEntry, Tracer, TrustReport};
use rustc_hash::FxHashMap;
use std::fmt::Write as _;
use std::io::{self, Write};

/// The tree of shortest paths from the target to the seeds that carry
/// binaries (the paths share prefixes, so they form a tree), traced by
/// `tracer`; each node's store path is its title, shown on hover.
fn binary_paths_tree(r: &TrustReport, tracer: &Tracer<'_>) -> Vec<TreeNode> {
    let g = tracer.graph();
    let mut nodes: Vec<TreeNode> = Vec::new();
    let mut index: FxHashMap<NodeId, usize> = FxHashMap::default();
    for e in r.seeds.iter().filter(|e| e.class.kind.carries_binaries()) {
        let path = tracer.path(e.facts.node);
        let mut parent: Option<usize> = None;
        for (i, &n) in path.iter().enumerate() {
            let last = i + 1 == path.len();
            let at = *index.entry(n).or_insert_with(|| {
                nodes.push(TreeNode {
                    label: g.label(n).to_owned(),
                    title: g.display_path(n),
                    colour: if last {
                        kind_colour(e.class.kind.name())
                    } else {
                        "#34495e"
                    },
                    children: Vec::new(),
                });
                nodes.len() - 1
            });
            if let Some(p) = parent {
                if !nodes[p].children.contains(&at) {
                    nodes[p].children.push(at);
                }
            }
            parent = Some(at);
        }
    }
    nodes
}

/// A seed's size with where it came from, as a table cell, or `unknown`.
pub(crate) fn size_cell(e: &SeedEntry) -> String {
    match e.class.size {
        Some(s) => format!(
            "{} <span class=\"sub\">({})</span>",
            esc(&human_bytes(s)),
            esc(e.class.size_source.label())
        ),
        None => "unknown".to_owned(),
    }
}

/// Writes the row of seed `e` into `s`, traced in `words`.
fn seed_row(s: &mut String, e: &SeedEntry, words: &Words<'_, '_>) {
    let seed = words.seed(e.facts.node);
    let _ = write!(
        s,
        "<tr><td><b>{}</b><div class=\"mono sub\">{}</div><div class=\"why\">{}</div>",
        Esc(e.class.display_name(&e.facts)),
        Esc(&e.facts.store_path),
        Esc(&e.class.why)
    );
    if let Some(k) = &e.class.known {
        let _ = write!(
            s,
            "<details><summary>provenance</summary><div class=\"why\">{}</div></details>",
            Esc(&k.provenance)
        );
        for m in &k.members {
            let size = match (m.size, &m.size_source) {
                (Some(n), Some(src)) => format!(" — {} ({src})", human_bytes(n)),
                (Some(n), None) => format!(" — {}", human_bytes(n)),
                _ => String::new(),
            };
            let _ = write!(
                s,
                "<div class=\"why\">member <code>{}</code>: {}{}</div>",
                Esc(&m.path),
                Esc(&m.what),
                Esc(&size)
            );
        }
    }
    if let (Some(at), Some(v)) = (&e.class.bytes_at, e.class.bytes_verified) {
        let _ = write!(
            s,
            "<div class=\"why\">bytes scanned: <code>{}</code> (checked against {})</div>",
            Esc(&at.display().to_string()),
            Esc(v.label())
        );
    }
    if let Some(err) = &e.class.scan_error {
        let _ = write!(
            s,
            "<div class=\"why\"><b>scan could not be done:</b> {}</div>",
            Esc(err)
        );
    }
    if let Some(c) = e.class.content.as_ref().filter(|c| !c.complete) {
        let _ = write!(
            s,
            "<div class=\"why\"><b>scan incomplete:</b> {}</div>",
            Esc(&c.issues.join("; "))
        );
    }
    for r in &e.class.rejected_files {
        let _ = write!(
            s,
            "<div class=\"why\"><b>ignored:</b> {}</div>",
            Esc(&r.message())
        );
    }
    if let Some(c) = &e.class.content {
        for m in c.binary_members.iter().take(20) {
            let _ = write!(
                s,
                "<div class=\"why\">binary member <code>{}</code>: {} ({})</div>",
                Esc(&m.path),
                Esc(&m.what),
                Esc(&human_bytes(m.size))
            );
        }
    }
    s.push_str(&crate::report::signers::html_cell(&e.class.signatures));
    for u in e.facts.urls.iter().take(3) {
        let _ = write!(s, "<div class=\"mono sub\">{}</div>", Esc(u));
    }
    s.push_str("<div class=\"path\">");
    seed.push_path(s, crate::output::markup_escape);
    s.push_str("</div>");
    if let Some((first, then)) = seed.package() {
        let _ = write!(s, "<div class=\"path\">package: {}", Esc(first));
        if let Some(then) = then {
            let _ = write!(s, "; {}", Esc(then));
        }
        s.push_str("</div>");
    }
    let _ = write!(
        s,
        "</td><td>{}</td><td class=\"num\">{}</td><td class=\"mono\">{}</td></tr>",
        Esc(&e.class.evidence.label()),
        size_cell(e),
        Esc(e.facts.hash.as_deref().unwrap_or(""))
    );
}

/// Writes the whole page on `out`, its seeds traced by `tracer`. The
/// seeds' rows are written as they are rendered, chunk by chunk, never
/// gathered into one string of megabytes.
pub fn write(out: &mut impl Write, r: &TrustReport, tracer: &Tracer<'_>) -> io::Result<()> {
    out.write_all(page_start(&format!("abovo seeds {}", r.target_label)).as_bytes())?;
    let mut b = String::with_capacity(65536);
    let words = Words::new(tracer, r.seeds.iter().map(|e| e.facts.node));
    let _ = write!(
        b,
        "<h1>What must one trust to get {}?</h1><p class=\"sub\">Derivation <code>{}</code>{} on graph <code>{}</code>. \
         The walk {} fixed-output derivations and visited {}.</p>",
        esc(&r.target_label),
        esc(&r.target),
        match &r.target_package {
            Some(p) => format!(" (package <code>{}</code>)", esc(&p.package)),
            None => String::new(),
        },
        esc(&r.graph),
        if r.through_fixed {
            "went through"
        } else {
            "stopped at"
        },
        plural(r.derivations_walked, "derivation", "derivations")
    );
    b.push_str("<h2>Totals</h2><table><tr><th>kind</th><th>seeds</th><th>measured</th><th>measured size</th><th>known size</th><th>sizes unknown</th></tr>");
    for t in &r.totals {
        let _ = write!(
            b,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            kind_badge(t.kind.name()),
            count(t.seeds as u64),
            count(t.measured_seeds as u64),
            esc(&human_bytes(t.measured_bytes)),
            esc(&human_bytes(t.known_bytes)),
            count(t.unknown_sizes as u64)
        );
    }
    b.push_str("</table>");
    if !r.builtins.is_empty() {
        b.push_str("<p>Daemon built-ins relied on (the daemon itself fetches and checks these): ");
        let list: Vec<String> = r
            .builtins
            .iter()
            .map(|u| {
                format!(
                    "<code>{}</code> ({})",
                    esc(&u.builder),
                    plural(u.derivations, "derivation", "derivations")
                )
            })
            .collect();
        b.push_str(&list.join(", "));
        b.push_str("</p>");
    }
    let tree = binary_paths_tree(r, tracer);
    if !tree.is_empty() {
        b.push_str("<h2>Paths to the binary seeds</h2><p class=\"sub\">Shortest paths over input edges; hover a node for its store path.</p><div style=\"overflow:auto\">");
        b.push_str(&tree_svg(&tree));
        b.push_str("</div>");
    }
    b.push_str(&crate::report::signers::html_totals(
        &super::signature_groups(r),
    ));
    for kind in Kind::ALL {
        let rows: Vec<&SeedEntry> = r.of_kind(kind).collect();
        if rows.is_empty() {
            continue;
        }
        let _ = write!(
            b,
            "<h2>{} {}</h2><table><tr><th>seed</th><th>evidence</th><th>size</th><th>fixed-output hash</th></tr>",
            kind_badge(kind.name()),
            rows.len()
        );
        write_in_chunks(out, &mut b, &rows, |s, e| seed_row(s, e, &words))?;
        b.push_str("</table>");
    }
    out.write_all(b.as_bytes())?;
    out.write_all(PAGE_END.as_bytes())
}
