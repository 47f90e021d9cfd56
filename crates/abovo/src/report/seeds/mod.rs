//! The report of `abovo seeds TARGET`, in its three forms: [`text`],
//! [`html`], and [`json`] (the [`TrustReport`] as it serializes, every
//! seed traced).

pub mod html;
pub mod json;
pub mod text;

use crate::output::{Context, Format, print_json_object, write_stdout};
use crate::report::signers::Group;
use abovo_trust::Kind;
use abovo_trust::report::{Tracer, TrustReport};

/// Writes `r` on standard output in `format` (text lists everything with
/// `all`). JSON traces every seed with `tracer` as it writes it; text and
/// HTML show the paths and trails `r` has.
pub fn write(
    r: &TrustReport,
    tracer: &Tracer<'_>,
    format: Format,
    all: bool,
    ctx: &Context,
) -> anyhow::Result<()> {
    match format {
        Format::Json => print_json_object(|object| json::write(object, r, tracer))?,
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
