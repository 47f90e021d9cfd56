//! The report of `abovo seeds TARGET`, in its three forms: [`text`],
//! [`html`], and JSON (the [`TrustReport`] as it serializes).

pub mod html;
pub mod text;

use crate::output::{Context, Format, print_json, write_stdout};
use crate::report::signers::Group;
use abovo_trust::Kind;
use abovo_trust::report::TrustReport;

/// Writes `r` on standard output in `format` (text lists everything with
/// `all`).
pub fn write(r: &TrustReport, format: Format, all: bool, ctx: &Context) -> anyhow::Result<()> {
    match format {
        Format::Json => print_json(r)?,
        Format::Html => write_stdout(&html::render(r))?,
        _ => write_stdout(&text::render(r, all, &|sgr, t| ctx.style(sgr, t)))?,
    }
    Ok(())
}

/// The seeds' signatures grouped by kind, for the totals.
fn signature_groups(r: &TrustReport) -> Vec<Group<'_>> {
    Kind::ALL
        .iter()
        .map(|&k| {
            let sigs: Vec<_> = r
                .of_kind(k)
                .map(|e| e.class.signatures.as_slice())
                .collect();
            (k.name(), sigs)
        })
        .filter(|(_, s)| !s.is_empty())
        .collect()
}
