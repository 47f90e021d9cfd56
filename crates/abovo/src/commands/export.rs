//! `abovo export TARGET… -o FILE`: the `.drv` files and sources of a
//! closure, in an archive of store items that `--sources` reads.

use crate::exit;
use crate::output::{Context, Format, print_json, sanitize};
use crate::places::{NOT_AT_HAND_HINT, PlaceArgs, graph_source_places};
use crate::report::human_bytes;
use crate::report::text::count;
use crate::source::{SYSTEM_HELP, SourceArgs, TEXT_JSON, resolve_one};
use abovo_graph::NodeKind;
use abovo_graph::query::{Walk, closure};
use abovo_graph::resolve::{Preferences, host_system};
use abovo_trust::items::Wanted;
use abovo_trust::items::export::collect;
use anyhow::Context as _;
use std::io::Write;
use std::path::PathBuf;

/// Write the `.drv` files and sources of TARGETs' closures to an archive of
/// store items (GNU tar compressed with zstd, items at its top level), the
/// layout `--sources` reads.
///
/// The closure is the whole build closure: every derivation (fixed-output
/// ones and their fetchers too) and every input source. Each item is read
/// from the first place that holds it (see --sources). The archive is
/// deterministic: the same items give the same bytes (items in base-name
/// order, entries in NAR order, owner 0, time 1). Any item at hand nowhere
/// is an error, unless --skip-missing.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Packages or derivations whose closures to export.
    #[arg(required = true, value_name = "TARGET")]
    pub targets: Vec<String>,
    /// The archive to write (replaced whole, never left half written).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: PathBuf,
    /// zstd compression level (1–22).
    #[arg(long, default_value_t = 19, value_parser = clap::value_parser!(i32).range(1..=22))]
    pub level: i32,
    /// Leave out the items at hand nowhere (they are counted) instead of
    /// failing.
    #[arg(long)]
    pub skip_missing: bool,
    /// Output format of the summary.
    #[arg(long, short = 'f', default_value = "text", value_parser = Format::parser(TEXT_JSON))]
    pub format: Format,
    /// The system a name prefers.
    #[arg(long, value_name = "SYSTEM", default_value_t = host_system(), help = SYSTEM_HELP)]
    pub system: String,
    /// Where the graph comes from (a corpus folder's or directory's items
    /// are also read).
    #[command(flatten)]
    pub source: SourceArgs,
    /// Where the items are.
    #[command(flatten)]
    pub places: PlaceArgs,
}

/// Runs `abovo export`.
pub fn run(args: Args, ctx: &Context) -> anyhow::Result<u8> {
    let graph = args.source.load(ctx)?;
    let prefs = Preferences::new().system(&args.system);
    let roots = args
        .targets
        .iter()
        .map(|t| resolve_one(&graph, t, &prefs, ctx))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let nodes = closure(&graph, &roots, &Walk::default());
    let mut derivations = 0usize;
    let mut wanted = Vec::new();
    for &n in &nodes {
        match graph.kind(n) {
            NodeKind::Derivation => derivations += 1,
            NodeKind::Source => {}
            _ => continue,
        }
        wanted.push(Wanted::new(graph.path(n)));
    }
    let store = graph.store_dir().clone();
    let extra = graph_source_places(args.source.source.as_deref());
    let places = args.places.places(&store, &extra)?;
    let collected = collect(&places, &wanted, &store)?;
    let missing = collected.missing.clone();
    if !missing.is_empty() && !args.skip_missing {
        let shown: Vec<String> = missing.iter().take(10).map(|m| format!("  {m}")).collect();
        anyhow::bail!(
            "{} of the closure's {} items are at hand nowhere (searched: {}):\n{}{}\n{NOT_AT_HAND_HINT}; \
             --skip-missing leaves them out",
            count(missing.len() as u64),
            count(wanted.len() as u64),
            places.describe().join(", "),
            shown.join("\n"),
            if missing.len() > shown.len() {
                format!("\n  … and {} more", missing.len() - shown.len())
            } else {
                String::new()
            }
        );
    }
    let summary = write_atomically(&args.output, |file| collected.write(args.level, file))?;
    let size = std::fs::metadata(&args.output)
        .map(|m| m.len())
        .unwrap_or(0);
    if args.format == Format::Json {
        print_json(&serde_json::json!({
            "output": args.output,
            "archive_size": size,
            "items": summary.items,
            "derivations": derivations,
            "sources": wanted.len() - derivations,
            "files": summary.files,
            "bytes": summary.bytes,
            "missing": missing,
        }))?;
        return Ok(exit::SUCCESS);
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "wrote {} items of the closure of {} to {} ({}): {} files, {} unpacked",
        count(summary.items as u64),
        sanitize(&args.targets.join(", ")),
        sanitize(&args.output.display().to_string()),
        human_bytes(size),
        count(summary.files),
        human_bytes(summary.bytes),
    )?;
    if !missing.is_empty() {
        writeln!(
            out,
            "left out {} items at hand nowhere (--skip-missing)",
            count(missing.len() as u64)
        )?;
    }
    Ok(exit::SUCCESS)
}

/// Writes `path` through a temporary file in the same directory, renamed
/// over it only once complete: a failed export leaves nothing behind.
fn write_atomically<T>(
    path: &std::path::Path,
    write: impl FnOnce(&mut std::io::BufWriter<&std::fs::File>) -> std::io::Result<T>,
) -> anyhow::Result<T> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    let tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write in `{}`", dir.display()))?;
    let value = {
        let mut w = std::io::BufWriter::new(tmp.as_file());
        let value = write(&mut w).with_context(|| format!("cannot write `{}`", path.display()))?;
        w.flush()?;
        value
    };
    // Readable by all, as a file written by `>` would be (a temporary
    // file is made private).
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    tmp.as_file().sync_all()?;
    tmp.persist(path)
        .with_context(|| format!("cannot write `{}`", path.display()))?;
    Ok(value)
}
