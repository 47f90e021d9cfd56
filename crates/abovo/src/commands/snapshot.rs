//! `abovo snapshot create|info`: write and inspect abovo's snapshot format
//! (a whole derivation graph with its package table and store metadata in
//! one compact, checksummed file).

use crate::exit;
use crate::output::{Context, Format, print_json, sanitize};
use crate::report::text::plural;
use crate::source::{LoadProgress, SourceArgs, TEXT_JSON};
use abovo_graph::package_graph::GraphType;
use anyhow::Context as _;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

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
    /// `.tar.zst` of them, or a corpus folder (whose package table, store
    /// metadata and package-level tables are attached too).
    #[arg(long, value_name = "DIR|TARBALL")]
    pub from: PathBuf,
    /// A package table (`packages.tsv` or `.tsv.zst`).
    #[arg(long = "package-table", alias = "packages", value_name = "TSV")]
    pub packages: Option<PathBuf>,
    /// Store metadata (`store-meta.tsv` or `.tsv.zst`).
    #[arg(long, value_name = "TSV")]
    pub meta: Option<PathBuf>,
    /// Package-level tables (override those of a corpus folder).
    #[command(flatten)]
    pub package_level: crate::source::PackageLevelArgs,
    /// The store directory of the paths (see `source::STORE_DIR_HELP`).
    #[arg(long, value_name = "DIR", help = crate::source::STORE_DIR_HELP)]
    pub store_dir: Option<String>,
    /// Where to write the snapshot; `-` for standard output. A file is
    /// written beside FILE under a temporary name and renamed into place
    /// once complete, so FILE is never left half-written; an existing FILE
    /// must be a regular file (a symlink, directory, device or FIFO is
    /// refused).
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
    /// Write the in-place form (format version 3): uncompressed, about
    /// three times larger, but opened without decoding (the file is
    /// mapped and each section checked when first read), which makes
    /// every query on it start in a few milliseconds. Without it, the
    /// compressed form (version 2), the one to distribute. abovo keeps
    /// the built-in snapshot in this form in its cache by itself.
    #[arg(long)]
    pub in_place: bool,
    /// Write the dense compressed form (format version 6): each section
    /// compressed with zstd and with xz (preset 9e), the smaller kept.
    /// About 4% smaller than the default for a whole distribution, slower
    /// to write and to read; what the built-in snapshot uses.
    #[arg(long, conflicts_with = "in_place")]
    pub dense: bool,
    /// How to name the graph in reports (default: the source path).
    #[arg(long, value_name = "TEXT")]
    pub description: Option<String>,
}

/// Flags of `abovo snapshot info`.
#[derive(Debug, clap::Args)]
pub struct InfoArgs {
    /// The snapshot file.
    pub file: PathBuf,
    /// Output format.
    #[arg(long, short = 'f', default_value = "text", value_parser = Format::parser(TEXT_JSON))]
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
    // The destination is checked and its temporary file made before the
    // (long) load, so that a typo in -o fails at once.
    let target = Target::open(&a.output)?;
    let source = SourceArgs {
        source: Some(a.from.clone()),
        store_dir: a.store_dir.clone(),
        packages: a.packages.clone(),
        meta: a.meta.clone(),
        package_level: a.package_level.clone(),
        no_index: false,
    };
    let mut graph = source.load(ctx)?;
    if let Some(d) = &a.description {
        graph.set_description(d.clone());
    }
    let reporter = LoadProgress::new(ctx.progress);
    abovo_graph::load::Reporter::begin(&reporter, "compressing", None);
    let opts = abovo_graph::snapshot::WriteOptions {
        creator: format!("abovo {}", env!("CARGO_PKG_VERSION")),
        level: a.level,
        nar_hashes: !a.no_nar_hashes,
    };
    let bytes = if a.in_place {
        abovo_graph::snapshot::write_in_place(&graph, &opts)
    } else if a.dense {
        abovo_graph::snapshot::write_dense(&graph, &opts)?
    } else {
        abovo_graph::snapshot::write(&graph, &opts)?
    };
    reporter.clear();
    let name = target.name();
    target.write(&bytes)?;
    let pg = graph.package_graph();
    ctx.note(&format!(
        "wrote {name} ({}): {}, {}, {}, {}, {}, {}, {} and {}",
        plural(bytes.len(), "byte", "bytes"),
        plural(graph.len(), "node", "nodes"),
        plural(graph.derivation_count(), "derivation", "derivations"),
        plural(graph.edge_count(), "edge", "edges"),
        plural(graph.packages().len(), "package", "packages"),
        plural(graph.meta().sized(), "sized node", "sized nodes"),
        plural(pg.len(), "package node", "package nodes"),
        plural(
            pg.edge_count(GraphType::Package),
            "package edge",
            "package edges"
        ),
        plural(
            pg.edge_count(GraphType::BagEmerged),
            "bag-emerged edge",
            "bag-emerged edges"
        ),
    ));
    Ok(exit::SUCCESS)
}

/// Where `snapshot create` writes: standard output (`-o -`), or a file
/// that is only ever complete. The bytes go to a temporary file in the
/// target's directory (so that the rename cannot cross file systems),
/// which is synced and renamed over the target once written; on any error
/// the temporary file is removed ([`PartFile`]) and the target is left as
/// it was.
enum Target {
    Stdout,
    File { path: PathBuf, part: PartFile },
}

impl Target {
    fn open(path: &Path) -> anyhow::Result<Target> {
        if path.as_os_str() == "-" {
            if std::io::stdout().is_terminal() {
                anyhow::bail!(
                    "refusing to write a binary snapshot to a terminal\n\
                     hint: redirect standard output (`-o - > FILE`) or give `-o FILE`"
                );
            }
            return Ok(Target::Stdout);
        }
        refuse_non_regular(path)?;
        let part = PartFile::create(path)
            .map_err(|e| anyhow::anyhow!("cannot write the snapshot `{}`: {e}", path.display()))?;
        Ok(Target::File {
            path: path.to_owned(),
            part,
        })
    }

    /// The target as notes name it.
    fn name(&self) -> String {
        match self {
            Target::Stdout => "the snapshot to standard output".to_owned(),
            Target::File { path, .. } => format!("`{}`", path.display()),
        }
    }

    fn write(self, bytes: &[u8]) -> anyhow::Result<()> {
        let (path, mut part) = match self {
            Target::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(bytes)?;
                out.flush()?;
                return Ok(());
            }
            Target::File { path, part } => (path, part),
        };
        let failed = |e: std::io::Error, part: &Path| {
            anyhow::anyhow!(
                "cannot write the snapshot `{}` (through `{}`): {e}",
                path.display(),
                part.display()
            )
        };
        part.file
            .write_all(bytes)
            // The rename must not make visible a file whose bytes are
            // still only in the page cache.
            .and_then(|()| part.file.sync_all())
            .map_err(|e| failed(e, &part.path))?;
        // The target may have appeared (or changed kind) during the load.
        refuse_non_regular(&path)?;
        std::fs::rename(&part.path, &path).map_err(|e| failed(e, &part.path))?;
        part.kept = true;
        Ok(())
    }
}

/// A temporary file beside the target (`.NAME.PID-N.part`, mode 0644),
/// removed when dropped unless it was renamed into place.
struct PartFile {
    path: PathBuf,
    file: std::fs::File,
    kept: bool,
}

impl PartFile {
    fn create(target: &Path) -> std::io::Result<PartFile> {
        use std::os::unix::fs::OpenOptionsExt;
        let dir = target
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = target.file_name().unwrap_or_default().to_string_lossy();
        let mut attempt = 0u32;
        loop {
            let path = dir.join(format!(".{name}.{}-{attempt}.part", std::process::id()));
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o644)
                .open(&path)
            {
                Ok(file) => {
                    let part = PartFile {
                        path,
                        file,
                        kept: false,
                    };
                    // 0644 whatever the umask: a snapshot is meant to be read.
                    use std::os::unix::fs::PermissionsExt;
                    part.file
                        .set_permissions(std::fs::Permissions::from_mode(0o644))?;
                    return Ok(part);
                }
                // Left by an earlier process of the same id that was killed.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 100 => {
                    attempt += 1;
                }
                Err(e) => {
                    return Err(std::io::Error::new(
                        e.kind(),
                        format!("cannot create a file in `{}`: {e}", dir.display()),
                    ));
                }
            }
        }
    }
}

impl Drop for PartFile {
    fn drop(&mut self) {
        if !self.kept {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Refuses a target that exists and is not a regular file: writing
/// "through" a symlink, a device, a FIFO or a directory is never what
/// `snapshot create` means.
fn refuse_non_regular(path: &Path) -> anyhow::Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => anyhow::bail!("cannot write the snapshot `{}`: {e}", path.display()),
    };
    use std::os::unix::fs::FileTypeExt;
    let ft = meta.file_type();
    let kind = if ft.is_file() {
        return Ok(());
    } else if ft.is_symlink() {
        "a symbolic link"
    } else if ft.is_dir() {
        "a directory"
    } else if ft.is_fifo() {
        "a FIFO"
    } else if ft.is_char_device() || ft.is_block_device() {
        "a device"
    } else if ft.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    };
    anyhow::bail!(
        "refusing to write the snapshot to `{}`: it exists and is {kind}\n\
         hint: -o replaces a regular file only; remove it or choose another name",
        path.display()
    )
}

fn info(a: InfoArgs) -> anyhow::Result<u8> {
    a.format.check("snapshot info", TEXT_JSON)?;
    // A FIFO or a device is refused rather than waited on; the standard
    // input is read once.
    let bytes = match abovo_graph::input::Input::open(&a.file)? {
        abovo_graph::input::Input::Stream { bytes, .. } => bytes,
        abovo_graph::input::Input::Path(p) => {
            abovo_graph::input::read_regular(&p, u64::MAX, "a snapshot")?
        }
    };
    let info = abovo_graph::snapshot::info(&bytes)
        .with_context(|| format!("`{}` is not a valid snapshot", a.file.display()))?;
    if a.format == Format::Json {
        print_json(&info)?;
        return Ok(exit::SUCCESS);
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "snapshot      {}",
        sanitize(&a.file.display().to_string())
    )?;
    writeln!(
        out,
        "format        version {} (checksum ok: {} {})",
        info.version,
        // The in-place form (versions 3 to 5) checks an XXH3-64 per
        // section, and shows the table's; the compressed forms (1, 2 and
        // the dense 6) a SHA-256 of the body.
        if (3..=5).contains(&info.version) {
            "xxh3 of the section table"
        } else {
            "sha256"
        },
        info.checksum
    )?;
    writeln!(
        out,
        "size          {} bytes ({} bytes uncompressed)",
        info.file_size, info.body_size
    )?;
    // What the snapshot says of itself is data: no control character of
    // it reaches the terminal.
    writeln!(out, "created by    {}", sanitize(&info.creator))?;
    writeln!(out, "graph of      {}", sanitize(&info.description))?;
    writeln!(out, "store         {}", sanitize(&info.store_dir))?;
    writeln!(out, "nodes         {}", info.nodes)?;
    writeln!(
        out,
        "derivations   {} ({} fixed-output)",
        info.derivations, info.fixed_output
    )?;
    writeln!(out, "sources       {}", info.sources)?;
    writeln!(out, "edges         {}", info.edges)?;
    writeln!(
        out,
        "packages      {} ({} with metadata)",
        info.packages, info.packages_with_metadata
    )?;
    writeln!(out, "sized nodes   {}", info.sized_nodes)?;
    let edges = |n: Option<u64>| n.map_or_else(|| "none".to_owned(), |n| n.to_string());
    writeln!(
        out,
        "package graph {} nodes; {} package edges, {} bag-emerged edges",
        info.package_nodes,
        edges(info.package_edges),
        edges(info.bag_emerged_edges)
    )?;
    out.flush()?;
    Ok(exit::SUCCESS)
}
