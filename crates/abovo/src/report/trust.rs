//! What the text forms of the trust reports (`seeds`, `audit`, and their
//! `--against` comparisons) print alike: the colour of each seed kind, the
//! `walk:` line's words, and the closing sections about files found under
//! a seed's name that are not the seed and files no seed answers to.

use crate::output::sanitize;
use crate::report::text::plural;
use abovo_trust::Kind;
use abovo_trust::bytes::RejectedFile;
use std::path::PathBuf;

/// The ANSI style of a kind's name.
pub fn kind_style(kind: Kind) -> &'static str {
    match kind {
        Kind::Binary => "1;31",
        Kind::SourceWithBinaries => "1;33",
        Kind::Generated => "35",
        Kind::Source => "32",
        Kind::Unknown => "2",
    }
}

/// What the walk does at fixed-output derivations, in the words of the
/// reports' `walk:` line.
pub fn fixed_output_walk(through_fixed: bool) -> &'static str {
    if through_fixed {
        "goes through"
    } else {
        "stops at"
    }
}

/// Appends the closing section of a text report that lists the files
/// found under a seed's name and ignored: each file, the seed (as the
/// caller labels it; sanitized here) and why. Nothing when `rejected` is
/// empty.
pub fn push_rejected_section(
    o: &mut String,
    rejected: &[(&RejectedFile, String)],
    style: &dyn Fn(&str, &str) -> String,
) {
    if rejected.is_empty() {
        return;
    }
    o.push_str(&format!(
        "\n{}\n",
        style(
            "1;33",
            &format!(
                "Warning: {} found under a seed's name, ignored: not the seed's bytes",
                plural(rejected.len(), "file", "files")
            )
        )
    ));
    for (file, seed) in rejected {
        o.push_str(&format!(
            "  {}\n",
            sanitize(&file.file.display().to_string())
        ));
        o.push_str(&format!("    seed:    {}\n", sanitize(seed)));
        o.push_str(&format!("    why:     {}\n", sanitize(&file.message())));
    }
}

/// Appends the section of a text report that lists the files of the seed
/// directories that no seed answers to (at most 20 unless `all`).
pub fn push_unused_section(
    o: &mut String,
    unused: &[PathBuf],
    all: bool,
    style: &dyn Fn(&str, &str) -> String,
) {
    if unused.is_empty() {
        return;
    }
    o.push_str(&format!(
        "\n{}\n",
        style(
            "1",
            &format!(
                "Not used: {} in --seed-dir {} no seed's store base name, store hash, fixed-output hash or file name",
                plural(unused.len(), "file", "files"),
                if unused.len() == 1 { "matches" } else { "match" }
            )
        )
    ));
    let shown = if all {
        unused.len()
    } else {
        unused.len().min(20)
    };
    for f in &unused[..shown] {
        o.push_str(&format!("  {}\n", sanitize(&f.display().to_string())));
    }
    if shown < unused.len() {
        o.push_str(&format!(
            "  … and {} more (--all lists them)\n",
            crate::report::text::count((unused.len() - shown) as u64)
        ));
    }
}
