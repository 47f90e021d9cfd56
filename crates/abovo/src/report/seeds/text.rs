//! The text form of `abovo seeds`.

use super::words::Words;
use super::write_in_chunks;
use crate::output::sanitize;
use crate::report::human_bytes;
use crate::report::packages::package_name;
use crate::report::signers;
use crate::report::text::{
    Align, Table, count, plural, size_summary, size_with_source, title_line,
};
use crate::report::trust::{
    fixed_output_walk, kind_style, push_rejected_section, push_unused_section,
};
use abovo_trust::Kind;
use abovo_trust::report::{SeedEntry, Tracer, TrustReport};
use std::fmt::Write as _;
use std::io::{self, Write};

fn size_text(e: &SeedEntry) -> String {
    match (e.class.size, e.class.size_source) {
        // Measured sizes to the byte, with the NAR size of a recursive
        // output (what the store holds).
        (Some(s), abovo_trust::sizes::SizeSource::Bytes) => {
            let nar = match e.class.nar_size {
                Some(n) if n != s => format!("; NAR {} B", count(n)),
                _ => String::new(),
            };
            format!("{} ({} B, measured{nar})", human_bytes(s), count(s))
        }
        (size, source) => size_with_source(size, source.label()),
    }
}

/// At most `max` of `items`, joined, with "… and N more".
fn some_of(items: &[String], max: usize) -> String {
    let shown: Vec<String> = items
        .iter()
        .take(max)
        .map(|i| sanitize(i).into_owned())
        .collect();
    let mut out = shown.join("; ");
    if items.len() > max {
        out.push_str(&format!(
            "; … and {} more",
            count((items.len() - max) as u64)
        ));
    }
    out
}

/// Starts a detail line of a seed: its label, in a column of its own.
fn label(o: &mut String, label: &str) {
    let _ = write!(o, "    {label:<9} ");
}

/// A detail line of a seed: `name`, then `text`.
fn line(o: &mut String, name: &str, text: &str) {
    label(o, name);
    o.push_str(text);
    o.push('\n');
}

/// The detailed lines of one seed, traced in `words`, written straight
/// into `o`: thousands of seeds make megabytes of text, and a string made
/// for each line, then copied, cost as much again.
fn write_details(
    o: &mut String,
    e: &SeedEntry,
    words: &Words<'_, '_>,
    style: &dyn Fn(&str, &str) -> String,
) {
    let _ = writeln!(
        o,
        "  {}",
        style("1", &sanitize(e.class.display_name(&e.facts)))
    );
    label(o, "evidence:");
    let _ = writeln!(
        o,
        "{} — {}",
        sanitize(&e.class.evidence.label()),
        sanitize(&e.class.why)
    );
    line(o, "size:", &size_text(e));
    if let Some(h) = &e.facts.hash {
        line(o, "hash:", &sanitize(h));
    }
    line(o, "item:", &sanitize(&e.facts.store_path));
    for u in e.facts.urls.iter().take(2) {
        line(o, "url:", &sanitize(u));
    }
    if e.facts.urls.len() > 2 {
        label(o, "");
        let more = count((e.facts.urls.len() - 2) as u64);
        let _ = writeln!(o, "… and {more} more URLs");
    }
    if let (Some(at), Some(v)) = (&e.class.bytes_at, e.class.bytes_verified) {
        label(o, "bytes:");
        let _ = writeln!(
            o,
            "{} (checked against {})",
            sanitize(&at.display().to_string()),
            v.label()
        );
    }
    if let Some(by) = signers::signed_by(&e.class.signatures) {
        line(o, "signed:", &by);
        for r in signers::refused_lines(&e.class.signatures) {
            line(o, "", &r);
        }
    }
    if let Some(err) = &e.class.scan_error {
        label(o, "scan:");
        let _ = writeln!(o, "could not be done: {}", sanitize(err));
    }
    if let Some(c) = &e.class.content {
        if !c.complete {
            let why = if c.issues.is_empty() {
                "no reason was recorded".to_owned()
            } else {
                some_of(&c.issues, 3)
            };
            label(o, "scan:");
            let _ = writeln!(o, "incomplete — {why}");
        } else if !c.issues.is_empty() {
            label(o, "scan:");
            let _ = writeln!(o, "complete, with trouble — {}", some_of(&c.issues, 3));
        }
    }
    for r in &e.class.rejected_files {
        line(o, "ignored:", &style("1;33", &sanitize(&r.message())));
    }
    if let Some(k) = &e.class.known {
        for m in &k.members {
            label(o, "member:");
            let _ = write!(o, "{} — {}", sanitize(&m.path), sanitize(&m.what));
            let _ = match (m.size, &m.size_source) {
                (Some(s), Some(src)) => writeln!(o, " — {} ({})", human_bytes(s), sanitize(src)),
                (Some(s), None) => writeln!(o, " — {}", human_bytes(s)),
                _ => writeln!(o),
            };
        }
    }
    if let Some(c) = &e.class.content {
        for m in c.binary_members.iter().take(10) {
            label(o, "binary:");
            let _ = writeln!(
                o,
                "{} — {} — {}",
                sanitize(&m.path),
                sanitize(&m.what),
                human_bytes(m.size)
            );
        }
        if c.binary.files > 10 {
            label(o, "");
            let more = count(c.binary.files - 10);
            let _ = writeln!(o, "… and {more} more binary members");
        }
    }
    let seed = words.seed(e.facts.node);
    label(o, "path:");
    seed.push_path(o, sanitize);
    o.push('\n');
    if let Some((first, then)) = seed.package() {
        line(o, "package:", first);
        if let Some(then) = then {
            line(o, "", then);
        }
    }
}

/// Writes the text report on `out`, the seeds it details traced by
/// `tracer` (every seed with `all`).
pub fn write(
    out: &mut impl Write,
    r: &TrustReport,
    tracer: &Tracer<'_>,
    all: bool,
    style: &(dyn Fn(&str, &str) -> String + Sync),
) -> io::Result<()> {
    // What is not in detail, sized up front (a line takes about 100
    // bytes); the details are written as they are rendered, chunk by
    // chunk, never gathered into one string of megabytes.
    let mut o = String::with_capacity(4096 + 128 * r.seeds.len());
    let detailed = r.seeds.iter().filter(|e| all || !e.class.kind.summarised());
    let words = Words::new(tracer, detailed.map(|e| e.facts.node));
    let title = format!("Trust base of {}", sanitize(&r.target_label));
    o.push_str(&title_line(style, &title));
    o.push_str(&format!("  derivation: {}\n", sanitize(&r.target)));
    if let Some(p) = &r.target_package {
        o.push_str(&format!("  package:    {}\n", package_name(p)));
    }
    o.push_str(&format!("  graph:      {}\n", sanitize(&r.graph)));
    o.push_str(&format!(
        "  walk:       {} fixed-output derivations; {} walked\n",
        fixed_output_walk(r.through_fixed),
        plural(r.derivations_walked, "derivation", "derivations")
    ));
    for kind in Kind::ALL {
        let rows: Vec<&SeedEntry> = r.of_kind(kind).collect();
        if rows.is_empty() {
            continue;
        }
        let total = r.totals.iter().find(|t| t.kind == kind);
        o.push_str(&format!(
            "\n{} — {}, {}\n",
            style(kind_style(kind), kind.name()),
            plural(rows.len(), "seed", "seeds"),
            size_summary(
                total.map_or(0, |t| t.known_bytes),
                total.map_or(0, |t| t.unknown_sizes),
                rows.len()
            )
        ));
        if all || !kind.summarised() {
            // python-pytorch in full: 2,717 seeds, 2 MB of text.
            write_in_chunks(out, &mut o, &rows, |d, e| {
                write_details(d, e, &words, style);
            })?;
            continue;
        }
        // One line each; a seed with something to say about its bytes is
        // marked, and the section of ignored files below says what.
        let mut t = Table::new(&[(Align::Left, 48), (Align::Left, 30), (Align::Left, 0)]);
        for e in rows {
            let mut size = size_text(e);
            if !e.class.rejected_files.is_empty() {
                size.push_str(" — a file under its name is not it");
            }
            if let Some(by) = signers::signed_by(&e.class.signatures) {
                size.push_str(&format!(" — signed by {by}"));
            }
            t.row(vec![
                (sanitize(e.class.display_name(&e.facts)).into_owned(), ""),
                (sanitize(&e.class.evidence.label()).into_owned(), ""),
                (size, ""),
            ]);
        }
        o.push_str(&t.render("  ", style));
    }
    o.push_str(&format!("\n{}\n", style("1", "Totals")));
    let mut t = Table::name_and_numbers(5);
    t.header(&[
        "kind",
        "seeds",
        "measured",
        "measured size",
        "known size",
        "sizes unknown",
    ]);
    let row =
        |name: &str, seeds: usize, measured: usize, mbytes: u64, known: u64, unknown: usize| {
            vec![
                (name.to_owned(), ""),
                (count(seeds as u64), ""),
                (count(measured as u64), ""),
                (human_bytes(mbytes), ""),
                (human_bytes(known), ""),
                (count(unknown as u64), ""),
            ]
        };
    for tot in &r.totals {
        t.row(row(
            tot.kind.name(),
            tot.seeds,
            tot.measured_seeds,
            tot.measured_bytes,
            tot.known_bytes,
            tot.unknown_sizes,
        ));
    }
    t.row(row(
        "all",
        r.totals.iter().map(|t| t.seeds).sum(),
        r.totals.iter().map(|t| t.measured_seeds).sum(),
        r.totals.iter().map(|t| t.measured_bytes).sum(),
        r.totals.iter().map(|t| t.known_bytes).sum(),
        r.totals.iter().map(|t| t.unknown_sizes).sum(),
    ));
    o.push_str(&t.render("  ", style));
    signers::push_totals(&mut o, &super::signature_groups(r), style);
    if !r.builtins.is_empty() {
        o.push_str(&format!(
            "\n{}\n",
            style(
                "1",
                "Daemon built-ins relied on (the daemon itself fetches and checks what these derivations download)"
            )
        ));
        let mut t = Table::new(&[(Align::Left, usize::MAX), (Align::Right, usize::MAX)]);
        for b in &r.builtins {
            t.row(vec![
                (sanitize(&b.builder).into_owned(), ""),
                (plural(b.derivations, "derivation", "derivations"), ""),
            ]);
        }
        o.push_str(&t.render("  ", style));
    }
    // The seed's name and store path, since names repeat across versions.
    let ignored: Vec<(&abovo_trust::bytes::RejectedFile, String)> = r
        .seeds
        .iter()
        .flat_map(|e| {
            e.class.rejected_files.iter().map(move |f| {
                let seed = format!(
                    "{} ({})",
                    e.class.display_name(&e.facts),
                    e.facts.store_path
                );
                (f, seed)
            })
        })
        .collect();
    push_rejected_section(&mut o, &ignored, style);
    push_unused_section(&mut o, &r.unused_seed_files, all, style);
    out.write_all(o.as_bytes())
}
