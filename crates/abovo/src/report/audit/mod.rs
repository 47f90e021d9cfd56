//! The report of `abovo audit`, in its three forms: [`text`], [`html`],
//! and JSON (the [`AuditReport`] as it serializes, arrays of seed ids on
//! one line).

pub mod html;
pub mod text;

use crate::output::{Context, Format, print_json, write_stdout};
use crate::report::signers::Group;
use crate::report::text::count;
use abovo_trust::audit::{AuditReport, AuditSeed, Audited};

/// Writes `r` on standard output in `format` (text lists everything with
/// `all`).
pub fn write(r: &AuditReport, format: Format, all: bool, ctx: &Context) -> anyhow::Result<()> {
    match format {
        Format::Json => print_json(r)?,
        Format::Html => write_stdout(&html::render(r))?,
        _ => write_stdout(&text::render(r, all, &|sgr, t| ctx.style(sgr, t)))?,
    }
    Ok(())
}

/// `1 package rests`, `1,234 packages rest`, `3 root derivations rest` (on
/// nothing but the core): the words of the text and the HTML report.
pub fn packages_rest(what: Audited, n: usize) -> String {
    format!(
        "{} {}",
        counted(what, n),
        if n == 1 { "rests" } else { "rest" }
    )
}

/// `1 package`, `30,574 packages`, `10,078 root derivations`.
pub fn counted(what: Audited, n: usize) -> String {
    format!("{} {}", count(n as u64), what.noun(n))
}

/// The binary seeds' signatures, the core apart from the others, for the
/// totals.
fn signature_groups(r: &AuditReport) -> Vec<Group<'_>> {
    vec![
        ("core", signatures(&r.core)),
        ("other binary seeds", signatures(&r.others)),
    ]
}

/// The signatures of each of `seeds`.
fn signatures(seeds: &[AuditSeed]) -> Vec<&[abovo_trust::signatures::Signature]> {
    seeds
        .iter()
        .map(|s| s.class.signatures.as_slice())
        .collect()
}
