//! `abovo index`: bring the index of a store directory up to date now (the
//! first query on a directory does it anyway), or make it anew, and say
//! what was done. See `abovo-index` for what an index holds and how it
//! notices changes.

use crate::exit;
use crate::output::{Context, Format, print_json};
use crate::report::text::count;
use crate::source::{LoadProgress, STORE_DIR_HELP, TEXT_JSON, store_dir_or_inferred};
use anyhow::Context as _;
use std::path::PathBuf;
use std::time::Instant;

/// Bring the index of a store directory up to date now, or make it anew.
///
/// The first query with `--source DIR` on a live store (`/gnu/store`,
/// `/nix/store`, any directory of `.drv` files) indexes it in abovo's cache
/// anyway; later queries parse only the `.drv` files registered since and
/// forget the deleted ones. This command does that work ahead of time and
/// says what was done (`built`, `unchanged`, `checked`, `updated`). With
/// --rebuild, the index is made anew. See docs/index.md.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The store directory (`/gnu/store`, `/nix/store`) or directory of
    /// `.drv` files to index.
    #[arg(long, env = "ABOVO_SOURCE", value_name = "DIR")]
    pub source: PathBuf,
    /// The store directory of the paths (see `source::STORE_DIR_HELP`).
    #[arg(long, value_name = "DIR", help = STORE_DIR_HELP)]
    pub store_dir: Option<String>,
    /// Make the index anew, ignoring the one there is (which is replaced).
    #[arg(long)]
    pub rebuild: bool,
    /// Output format.
    #[arg(long, short = 'f', default_value = "text", value_parser = Format::parser(TEXT_JSON))]
    pub format: Format,
}

/// Runs `abovo index`.
pub fn run(args: Args, ctx: &Context) -> anyhow::Result<u8> {
    let dir = &args.source;
    if !dir.is_dir() {
        anyhow::bail!(
            "`{}` is not a directory: only a store directory or a directory of `.drv` files \
             is indexed (a tarball or snapshot is read whole, quickly, without one)",
            dir.display()
        );
    }
    let inferred = abovo_graph::store_dir::infer(dir)
        .with_context(|| format!("cannot load `{}`", dir.display()))?;
    let store = store_dir_or_inferred(args.store_dir.as_deref(), inferred)?;
    let reporter = LoadProgress::new(ctx.progress);
    let started = Instant::now();
    let (graph, report) = crate::index::load(dir, &store, ctx, &reporter, args.rebuild)
        .with_context(|| format!("cannot load `{}`", dir.display()))?;
    reporter.notes(ctx);
    let seconds = started.elapsed().as_secs_f64();
    let derivations = graph.derivation_count();
    if args.format == Format::Json {
        print_json(&serde_json::json!({
            "source": dir.display().to_string(),
            "store_dir": store.as_str(),
            "index": report.index_dir.as_ref().map(|d| d.display().to_string()),
            "how": report.how.as_str(),
            "checked_by": report.checked_by,
            "derivations": derivations,
            "added": report.added,
            "removed": report.removed,
            "reparsed": report.reparsed,
            "seconds": seconds,
        }))?;
    } else {
        let what = match report.how {
            abovo_index::How::Built => "indexed".to_owned(),
            abovo_index::How::Unchanged => "unchanged (same directory time)".to_owned(),
            abovo_index::How::Checked => format!("unchanged (checked by {})", report.checked_by),
            abovo_index::How::Updated => format!(
                "updated by {}: {} added, {} removed, {} parsed again",
                report.checked_by,
                count(report.added as u64),
                count(report.removed as u64),
                count(report.reparsed as u64)
            ),
            abovo_index::How::Unindexed => "loaded without an index".to_owned(),
        };
        crate::outln!(
            "{}: {} derivations, {what}, in {:.0} ms",
            dir.display(),
            count(derivations as u64),
            seconds * 1000.0
        )?;
        if let Some(at) = &report.index_dir {
            crate::outln!("index: {}", at.display())?;
        }
    }
    crate::source::release_at_exit(graph);
    Ok(exit::SUCCESS)
}
