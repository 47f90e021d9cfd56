//! The report of `abovo seeds TARGET`, in its three forms: [`text`],
//! [`html`], and [`json`] (the [`TrustReport`] as it serializes, every
//! seed traced).

pub mod html;
pub mod json;
pub mod text;

use crate::output::{Context, Format, print_json_object, write_stdout};
use crate::report::packages::package_lines_by_ids;
use crate::report::signers::Group;
use abovo_graph::NodeId;
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
        Format::Html => write_stdout(&html::render(r, tracer))?,
        _ => write_stdout(&text::render(r, tracer, all, &|sgr, t| ctx.style(sgr, t)))?,
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

/// A seed traced for text and HTML: its shortest path from the target, by
/// ids, and its package trail in words ([`package_lines_by_ids`]).
///
/// Traced by ids rather than as a traced report's [`SeedEntry`] steps:
/// those hold each step's store path, which text never shows and HTML
/// only for the picture's nodes, and making 15,000 of them for
/// python-pytorch's 2,717 seeds was a third of the report's time.
///
/// [`SeedEntry`]: abovo_trust::report::SeedEntry
struct Traced {
    path: Vec<NodeId>,
    package: Option<(String, Option<String>)>,
}

impl Traced {
    /// Seed `n` of a report traced by `tracer`.
    fn new(tracer: &Tracer<'_>, n: NodeId) -> Traced {
        let path = tracer.path(n);
        let package = tracer.trails().and_then(|trails| {
            let ids = trails.trail_ids(&path)?;
            Some(package_lines_by_ids(tracer.graph(), trails, &ids))
        });
        Traced { path, package }
    }
}
