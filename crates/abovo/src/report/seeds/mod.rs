//! The report of `abovo seeds TARGET`, in its three forms: [`text`],
//! [`html`], and [`json`] (the [`TrustReport`] as it serializes, every
//! seed traced).

pub mod html;
pub mod json;
pub mod text;
mod words;

use crate::output::{Context, Format, print_json_object, write_stdout_with};
use crate::report::in_order::{Chunking, render_in_order};
use crate::report::signers::Group;
use abovo_trust::Kind;
use abovo_trust::report::{SeedEntry, Tracer, TrustReport};
use std::io::{self, Write};

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

/// How a text or HTML report's seeds are cut and shared out: chunks of
/// about 25 KiB (python-pytorch's 2,717 seeds in full make a hundred), on
/// every core from a few hundred seeds (hello's 278 in full take about a
/// millisecond on one).
const SEEDS: Chunking = Chunking {
    per_chunk: 32,
    parallel_from: 512,
};

/// Writes `pending`, then `seeds` as `render` writes each into a string,
/// on `out`: in chunks rendered on every core and written in order as they
/// are finished, a few at a time in memory ([`render_in_order`]); then
/// empties `pending`.
fn write_in_chunks(
    out: &mut impl Write,
    pending: &mut String,
    seeds: &[&SeedEntry],
    render: impl Fn(&mut String, &SeedEntry) + Sync,
) -> io::Result<()> {
    out.write_all(pending.as_bytes())?;
    pending.clear();
    let render_chunk = |buffer: &mut Vec<u8>, chunk: &[&SeedEntry]| {
        // The renderers write text: the chunk's buffer, empty, becomes a
        // string for the time it takes, its room kept.
        buffer.clear();
        let mut text = String::from_utf8(std::mem::take(buffer)).unwrap_or_default();
        for e in chunk {
            render(&mut text, e);
        }
        *buffer = text.into_bytes();
        Ok(())
    };
    let threads = SEEDS.threads(seeds.len());
    render_in_order(seeds, SEEDS.per_chunk, threads, &render_chunk, |chunk| {
        out.write_all(chunk)
    })
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

/// The built-in snapshot, the seeds classified from the built-in knowledge
/// alone (no store), and preferences for x86_64-linux: what the seeds
/// writers' tests run on.
#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
fn built_in_for_tests() -> (
    abovo_graph::Graph,
    abovo_trust::classify::Seeds,
    abovo_graph::resolve::Preferences,
) {
    let g = abovo_graph::snapshot::read_trusted(crate::source::BUILT_IN_SNAPSHOT).unwrap();
    let knowledge = abovo_trust::knowledge::KnowledgeBase::built_in().unwrap();
    let mut seeds = abovo_trust::classify::Seeds::new(knowledge);
    seeds.use_store = false;
    let prefs = abovo_graph::resolve::Preferences::new().system("x86_64-linux");
    (g, seeds, prefs)
}
