//! The report of `abovo seeds TARGET`, in its three forms: [`text`],
//! [`html`], and [`json`] (the [`TrustReport`] as it serializes, every
//! seed traced).

pub mod html;
pub mod json;
pub mod text;
mod words;

use crate::output::{Context, Format, print_json_object, write_stdout_with};
use crate::report::signers::Group;
use abovo_trust::Kind;
use abovo_trust::report::{Tracer, TrustReport};

/// Writes `r` on standard output in `format` (text lists everything with
/// `all`). Every form traces the seeds it shows with `tracer` as it writes
/// them (the paths and trails `r` has are not read).
pub fn write(
    r: &TrustReport,
    tracer: &Tracer<'_>,
    format: Format,
    all: bool,
    ctx: &Context,
) -> anyhow::Result<()> {
    match format {
        Format::Json => print_json_object(|object| json::write(object, r, tracer))?,
        Format::Html => write_stdout_with(|out| html::write(out, r, tracer))?,
        _ => {
            write_stdout_with(|out| text::write(out, r, tracer, all, &|sgr, t| ctx.style(sgr, t)))?
        }
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
