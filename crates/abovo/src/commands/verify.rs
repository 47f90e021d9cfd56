//! `abovo verify`: is every `.drv` what it claims to be?

use crate::exit;
use crate::output::{Context, Format, print_json};
use crate::source::CliReporter;
use abovo_graph::load::{DrvFile, SourceKind, detect, read_directory, read_tarball};
use abovo_graph::verify::{Report, verify_files};
use abovo_store::StoreDir;
use abovo_store::derivation::DerivationRef;
use anyhow::Context as _;
use std::collections::{BTreeMap, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Recompute each `.drv` file's store path from its bytes and references,
/// and every output path from its content; print every mismatch with the
/// expected and actual value. Exit code 1 when anything differs.
///
/// Output paths of input-addressed derivations depend on the hashes of all
/// their inputs, so the inputs of each DRV are looked up too: next to the
/// file, then in the store directory.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// `.drv` files to verify.
    #[arg(
        value_name = "DRV",
        required_unless_present = "all",
        conflicts_with = "all"
    )]
    pub drvs: Vec<PathBuf>,
    /// Verify every `.drv` of a directory (a store or an unpacked corpus), a
    /// `.tar.zst` of them, or a corpus folder.
    #[arg(long, value_name = "DIR|TARBALL")]
    pub all: Option<PathBuf>,
    /// The store directory the derivations' paths are in.
    #[arg(long, env = "ABOVO_STORE_DIR", default_value = StoreDir::GUIX, value_name = "DIR")]
    pub store_dir: String,
    /// Output format: text or json.
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Runs `abovo verify`.
pub fn run(args: Args, ctx: &Context) -> anyhow::Result<u8> {
    args.format.check("verify", &[Format::Text, Format::Json])?;
    let store = StoreDir::new(&args.store_dir)
        .with_context(|| format!("invalid --store-dir `{}`", args.store_dir))?;
    let reporter = CliReporter::new(ctx.progress);
    let files = match &args.all {
        Some(source) => read_all(source, &reporter)?,
        None => with_inputs(&store, &args.drvs)?,
    };
    if files.is_empty() {
        anyhow::bail!("no `.drv` file to verify");
    }
    let report = verify_files(&store, files, &reporter);
    reporter.clear();
    if args.format == Format::Json {
        print_json(&report)?;
    } else {
        print_text(&report, ctx)?;
    }
    if !report.mismatches.is_empty() {
        return Ok(exit::NEGATIVE);
    }
    if !report.unchecked.is_empty() {
        anyhow::bail!(
            "{} derivation(s) could not be checked (see above)",
            report.unchecked.len()
        );
    }
    Ok(exit::SUCCESS)
}

fn read_all(source: &Path, reporter: &CliReporter) -> anyhow::Result<Vec<DrvFile>> {
    let files = match detect(source)? {
        SourceKind::Directory => read_directory(source, reporter)?,
        SourceKind::Tarball => read_tarball(source, reporter)?,
        SourceKind::CorpusFolder { tarball, .. } => read_tarball(&tarball, reporter)?,
        SourceKind::Snapshot => anyhow::bail!(
            "`{}` is a snapshot, which keeps the graph but not the `.drv` bytes; verify needs the `.drv` files",
            source.display()
        ),
    };
    reporter.clear();
    Ok(files)
}

/// Reads the given files and, transitively, the input derivations they name
/// (looked up next to the file that names them, then in the store
/// directory). Inputs found nowhere are left out; their dependents are then
/// reported as unchecked.
fn with_inputs(store: &StoreDir, drvs: &[PathBuf]) -> anyhow::Result<Vec<DrvFile>> {
    let mut found: BTreeMap<String, DrvFile> = BTreeMap::new();
    let mut queue: VecDeque<(PathBuf, bool)> = drvs.iter().map(|p| (p.clone(), true)).collect();
    while let Some((path, given)) = queue.pop_front() {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .with_context(|| format!("`{}` has no usable file name", path.display()))?
            .to_owned();
        if found.contains_key(&name) {
            continue;
        }
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if given => {
                return Err(e).with_context(|| format!("cannot read `{}`", path.display()));
            }
            Err(_) => continue,
        };
        if let Ok(drv) = DerivationRef::parse(store, &bytes) {
            let dir = path.parent().unwrap_or(Path::new("."));
            for input in drv.input_derivations() {
                let base = input.path.base_name();
                if found.contains_key(base) {
                    continue;
                }
                let beside = dir.join(base);
                let in_store = Path::new(store.as_str()).join(base);
                if beside.is_file() {
                    queue.push_back((beside, false));
                } else if in_store.is_file() {
                    queue.push_back((in_store, false));
                }
            }
        }
        found.insert(name.clone(), DrvFile { name, bytes });
    }
    Ok(found.into_values().collect())
}

fn print_text(r: &Report, ctx: &Context) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    for m in &r.mismatches {
        writeln!(
            out,
            "{} {}: {}",
            ctx.style("1;31", "MISMATCH"),
            m.drv,
            m.what
        )?;
        writeln!(out, "  expected: {}", m.expected)?;
        writeln!(out, "  actual:   {}", m.actual)?;
    }
    for u in &r.unchecked {
        writeln!(
            out,
            "{} {}: {}",
            ctx.style("1;33", "UNCHECKED"),
            u.drv,
            u.reason
        )?;
    }
    writeln!(
        out,
        "checked {} .drv files: {} parsed and re-serialised, {} .drv paths, {} output paths ({} fixed, {} input-addressed) in {} waves: {}",
        r.files,
        r.parsed,
        r.drv_paths,
        r.outputs,
        r.fixed_outputs,
        r.outputs - r.fixed_outputs,
        r.waves,
        if r.mismatches.is_empty() && r.unchecked.is_empty() {
            ctx.style("1;32", "all match")
        } else {
            ctx.style(
                "1;31",
                &format!(
                    "{} mismatch(es), {} unchecked",
                    r.mismatches.len(),
                    r.unchecked.len()
                ),
            )
        }
    )?;
    out.flush()?;
    Ok(())
}
