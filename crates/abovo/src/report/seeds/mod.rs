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
use abovo_trust::report::{SeedEntry, Tracer, TrustReport};
use rayon::prelude::*;
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

/// Seeds in a chunk of a text or HTML report: about 25 KiB, so
/// python-pytorch's 2,717 seeds in full make a hundred chunks to share
/// between the cores.
const SEEDS_PER_CHUNK: usize = 32;

/// Writes `seeds` on `out` as `render` writes each into a string: in
/// chunks rendered on every core, written in order as they are, never
/// gathered into one string of megabytes.
fn write_in_chunks(
    out: &mut impl Write,
    seeds: &[&SeedEntry],
    render: impl Fn(&mut String, &SeedEntry) + Sync,
) -> io::Result<()> {
    let chunks: Vec<String> = seeds
        .par_chunks(SEEDS_PER_CHUNK)
        .map(|chunk| {
            // A seed takes about 800 bytes.
            let mut text = String::with_capacity(1024 * chunk.len());
            for e in chunk {
                render(&mut text, e);
            }
            text
        })
        .collect();
    for chunk in chunks {
        out.write_all(chunk.as_bytes())?;
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
