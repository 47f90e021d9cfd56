//! `abovo snapshot create|info`: write and inspect abovo's snapshot format
//! (a whole derivation graph with its package table and store metadata in
//! one compact, checksummed file).

use crate::exit;
use crate::output::{Context, Format, print_json};
use crate::source::{CliReporter, SourceArgs};
use anyhow::Context as _;
use std::io::Write;
use std::path::PathBuf;

/// Write or inspect a snapshot of a derivation graph.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub action: Action,
}

/// The snapshot subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Load derivations from a store directory, a tarball or a corpus folder
    /// and write them as a snapshot.
    Create(CreateArgs),
    /// Check a snapshot (magic, version, checksum, contents) and show what it
    /// holds.
    Info(InfoArgs),
}

/// Flags of `abovo snapshot create`.
#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// The derivations: a store directory, a directory of `.drv` files, a
    /// `.tar.zst` of them, or a corpus folder (whose package table and store
    /// metadata are attached too).
    #[arg(long, value_name = "DIR|TARBALL")]
    pub from: PathBuf,
    /// A package table (`packages.tsv` or `.tsv.zst`).
    #[arg(long, value_name = "TSV")]
    pub packages: Option<PathBuf>,
    /// Store metadata (`store-meta.tsv` or `.tsv.zst`).
    #[arg(long, value_name = "TSV")]
    pub meta: Option<PathBuf>,
    /// The store directory of the derivations' paths.
    #[arg(long, env = "ABOVO_STORE_DIR", default_value = abovo_store::StoreDir::GUIX, value_name = "DIR")]
    pub store_dir: String,
    /// Where to write the snapshot.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: PathBuf,
    /// zstd compression level (1–22): 19 makes the smallest files in a few
    /// seconds, 3 is quick.
    #[arg(long, default_value_t = 19, value_parser = clap::value_parser!(i32).range(1..=22))]
    pub level: i32,
    /// Leave out the NAR hashes of sources (32 bytes each); sizes and
    /// references are kept.
    #[arg(long)]
    pub no_nar_hashes: bool,
    /// How to name the graph in reports (default: the source path).
    #[arg(long, value_name = "TEXT")]
    pub description: Option<String>,
}

/// Flags of `abovo snapshot info`.
#[derive(Debug, clap::Args)]
pub struct InfoArgs {
    /// The snapshot file.
    pub file: PathBuf,
    /// Output format: text or json.
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Runs `abovo snapshot`.
pub fn run(args: Args, ctx: &Context) -> anyhow::Result<u8> {
    match args.action {
        Action::Create(a) => create(a, ctx),
        Action::Info(a) => info(a),
    }
}

fn create(a: CreateArgs, ctx: &Context) -> anyhow::Result<u8> {
    let source = SourceArgs {
        source: Some(a.from.clone()),
        store_dir: a.store_dir.clone(),
        packages: a.packages.clone(),
        meta: a.meta.clone(),
    };
    let mut graph = source.load(ctx)?;
    if let Some(d) = &a.description {
        graph.set_description(d.clone());
    }
    let reporter = CliReporter::new(ctx.progress);
    abovo_graph::load::Reporter::begin(&reporter, "compressing", None);
    let bytes = abovo_graph::snapshot::write(
        &graph,
        &abovo_graph::snapshot::WriteOptions {
            creator: format!("abovo {}", env!("CARGO_PKG_VERSION")),
            level: a.level,
            nar_hashes: !a.no_nar_hashes,
        },
    )?;
    reporter.clear();
    // Write next to the target and rename, so a failed write leaves no
    // half-written snapshot behind.
    let dir = a
        .output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot create a file in `{}`", dir.display()))?;
    tmp.write_all(&bytes)?;
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    tmp.persist(&a.output)
        .with_context(|| format!("cannot write `{}`", a.output.display()))?;
    ctx.note(&format!(
        "wrote {} ({} bytes): {} nodes, {} derivations, {} edges, {} packages, {} sized nodes",
        a.output.display(),
        bytes.len(),
        graph.len(),
        graph.derivation_count(),
        graph.edge_count(),
        graph.packages().len(),
        graph.meta().sized(),
    ));
    Ok(exit::SUCCESS)
}

fn info(a: InfoArgs) -> anyhow::Result<u8> {
    a.format
        .check("snapshot info", &[Format::Text, Format::Json])?;
    let bytes =
        std::fs::read(&a.file).with_context(|| format!("cannot read `{}`", a.file.display()))?;
    let info = abovo_graph::snapshot::info(&bytes)
        .with_context(|| format!("`{}` is not a valid snapshot", a.file.display()))?;
    if a.format == Format::Json {
        print_json(&info)?;
        return Ok(exit::SUCCESS);
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "snapshot      {}", a.file.display())?;
    writeln!(
        out,
        "format        version {} (checksum ok: sha256 {})",
        info.version, info.checksum
    )?;
    writeln!(
        out,
        "size          {} bytes ({} bytes uncompressed)",
        info.file_size, info.body_size
    )?;
    writeln!(out, "created by    {}", info.creator)?;
    writeln!(out, "graph of      {}", info.description)?;
    writeln!(out, "store         {}", info.store_dir)?;
    writeln!(out, "nodes         {}", info.nodes)?;
    writeln!(
        out,
        "derivations   {} ({} fixed-output)",
        info.derivations, info.fixed_output
    )?;
    writeln!(out, "sources       {}", info.sources)?;
    writeln!(out, "edges         {}", info.edges)?;
    writeln!(out, "packages      {}", info.packages)?;
    writeln!(out, "sized nodes   {}", info.sized_nodes)?;
    out.flush()?;
    Ok(exit::SUCCESS)
}
