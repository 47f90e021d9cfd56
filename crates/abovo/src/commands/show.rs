//! `abovo show DRV`: print a derivation.
//!
//! `show` needs the whole `.drv` text, which only a file holds: the graph
//! sources (and the built-in snapshot above all) keep just what the graph
//! questions need. So DRV is a file, or, with `--source`, anything the
//! graph commands resolve (a name, a `.drv` or output path), looked up in
//! that source's graph and read from where the source keeps its files.
//! Without a source, a DRV that is no file is resolved in the built-in
//! snapshot only to say which `.drv` to look for.

use crate::exit;
use crate::output::{Context, print_json};
use crate::source::{
    BUILT_IN_NAME, BUILT_IN_SNAPSHOT, STORE_DIR_HELP, SYSTEM_HELP, SourceArgs, resolve_one,
    store_dir_or_inferred,
};
use abovo_graph::NodeKind;
use abovo_graph::load::{Silent, SourceKind, detect, read_tarball};
use abovo_graph::resolve::{Preferences, host_system, resolve_with};
use abovo_store::derivation::Derivation;
use abovo_store::{StoreDir, StorePath};
use anyhow::Context as _;
use clap::ValueEnum;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Print a derivation as ATerm (its exact `.drv` text) or JSON.
///
/// DRV is a `.drv` file. With --source DIR it may also be a `.drv` store
/// path, an output path or a name (`hello`, `hello@2.12`), resolved as the
/// graph commands do and read from DIR.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The derivation: a `.drv` file; with --source, also a store path or a
    /// name.
    pub drv: String,
    /// `aterm` writes the derivation back in the `.drv` format; `json` in the
    /// shape of `nix derivation show`.
    #[arg(long, short = 'f', value_enum, default_value_t = ShowFormat::Aterm)]
    pub format: ShowFormat,
    /// Where to find DRV when it is no file: a store directory
    /// (`/gnu/store`), a directory of `.drv` files, a `.tar.zst` of them or
    /// a corpus folder. (An abovo snapshot does not keep whole `.drv`
    /// files.)
    #[arg(long, env = "ABOVO_SOURCE", value_name = "DIR")]
    pub source: Option<PathBuf>,
    /// The store directory the derivation's paths are in.
    #[arg(long, value_name = "DIR", help = STORE_DIR_HELP)]
    pub store_dir: Option<String>,
    /// The system a name prefers.
    #[arg(long, value_name = "SYSTEM", default_value_t = host_system(), help = SYSTEM_HELP)]
    pub system: String,
}

/// Formats of `abovo show`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ShowFormat {
    /// The `.drv` text.
    Aterm,
    /// JSON.
    Json,
}

/// Runs `abovo show`.
pub fn run(args: Args, ctx: &Context) -> anyhow::Result<u8> {
    let (bytes, file) = find(&args, ctx)?;
    let (drv, name, store) = parse_derivation(args.store_dir.as_deref(), &file, &bytes)?;
    match args.format {
        ShowFormat::Aterm => {
            let mut out = std::io::stdout().lock();
            out.write_all(&drv.to_aterm(&store))?;
            // The `.drv` text has no final newline; add one only for a person.
            if std::io::IsTerminal::is_terminal(&out) {
                out.write_all(b"\n")?;
            }
            out.flush()?;
        }
        ShowFormat::Json => print_json(&drv.to_json(&store, name.as_deref()))?,
    }
    Ok(exit::SUCCESS)
}

/// The bytes of the derivation DRV names, and the file they come from
/// (its path, or `TARBALL:MEMBER`).
fn find(args: &Args, ctx: &Context) -> anyhow::Result<(Vec<u8>, String)> {
    let given = Path::new(&args.drv);
    let read_given = || read_file(given);
    // A file named on the command line is what the person means, wherever
    // it lies.
    if given.exists() {
        return read_given();
    }
    let Some(source) = &args.source else {
        return Err(not_a_file(args, read_given().err()));
    };
    from_source(args, source, ctx)
}

/// The error for a DRV that is no file, without a source: the path of its
/// derivation in the built-in snapshot, when it names one there, so that
/// the person knows which file to look for.
fn not_a_file(args: &Args, read_error: Option<anyhow::Error>) -> anyhow::Error {
    let spec = &args.drv;
    let snapshot = abovo_graph::snapshot::read_trusted(BUILT_IN_SNAPSHOT);
    let resolved = snapshot.as_ref().ok().and_then(|g| {
        let prefs = Preferences::new().system(&args.system);
        let found = resolve_with(g, spec, &prefs).ok()?;
        (g.kind(found.node) == NodeKind::Derivation).then(|| g.display_path(found.node))
    });
    match resolved {
        Some(path) => anyhow::anyhow!(
            "`{spec}` is not a file; abovo show reads .drv files. Its derivation in the \
             {BUILT_IN_NAME} is {path}: give a store directory holding it with --source DIR"
        ),
        None => {
            let e = read_error.unwrap_or_else(|| anyhow::anyhow!("cannot read `{spec}`"));
            e.context(format!(
                "`{spec}` is not a file; abovo show reads .drv files (with --source DIR, also \
                 a store path or a package name found in DIR)"
            ))
        }
    }
}

/// Finds DRV in `source`: a `.drv` path or base name directly in a
/// directory, anything else through the source's graph.
fn from_source(args: &Args, source: &Path, ctx: &Context) -> anyhow::Result<(Vec<u8>, String)> {
    let kind = detect(source).with_context(|| format!("cannot load `{}`", source.display()))?;
    if kind == SourceKind::Snapshot {
        anyhow::bail!(
            "`{}` is an abovo snapshot, which does not keep whole .drv files; give a store \
             directory, a directory of .drv files or a .tar.zst of them with --source",
            source.display()
        );
    }
    // A `.drv` path or base name in a directory: no need for the graph.
    if kind == SourceKind::Directory {
        if let Some(base) = drv_base_name(&args.drv) {
            let file = source.join(&base);
            if file.is_file() {
                return read_file(&file);
            }
        }
    }
    let source_args = SourceArgs {
        source: Some(source.to_owned()),
        store_dir: args.store_dir.clone(),
        ..SourceArgs::default()
    };
    let graph = source_args.load(ctx)?;
    let prefs = Preferences::new().system(&args.system);
    let node = resolve_one(&graph, &args.drv, &prefs, ctx)?;
    let path = graph.display_path(node);
    match graph.kind(node) {
        NodeKind::Derivation => {}
        NodeKind::Source => anyhow::bail!(
            "`{}` is a source ({path}), not a derivation; abovo show prints derivations",
            args.drv
        ),
        _ => anyhow::bail!(
            "`{}` resolves to {path}, which derivations in `{}` use but which is not in it",
            args.drv,
            source.display()
        ),
    }
    let base = graph.base_name(node);
    crate::source::release_at_exit(graph);
    match kind {
        SourceKind::CorpusFolder { tarball, .. } => from_tarball(&tarball, &base),
        SourceKind::Tarball => from_tarball(source, &base),
        _ => read_file(&source.join(&base)),
    }
}

/// The `.drv` base name of DRV when it is a `.drv` store path (in any store
/// directory) or a `.drv` base name.
fn drv_base_name(spec: &str) -> Option<String> {
    let base = spec.rsplit('/').next()?;
    let path = StorePath::from_base_name(base).ok()?;
    path.is_derivation().then(|| base.to_owned())
}

fn read_file(file: &Path) -> anyhow::Result<(Vec<u8>, String)> {
    // Regular files only (a FIFO would block, /dev/zero never end).
    let bytes =
        abovo_graph::input::read_regular(file, abovo_graph::input::MAX_DRV_SIZE, "a .drv file")
            .with_context(|| format!("cannot read `{}`", file.display()))?;
    Ok((bytes, file.display().to_string()))
}

/// The member named `base` of a tarball of `.drv` files.
fn from_tarball(tarball: &Path, base: &str) -> anyhow::Result<(Vec<u8>, String)> {
    let files = read_tarball(tarball, &Silent)
        .with_context(|| format!("cannot read `{}`", tarball.display()))?;
    let file = files
        .into_iter()
        .find(|f| f.name == base)
        .with_context(|| format!("`{}` has no member `{base}`", tarball.display()))?;
    Ok((file.bytes, format!("{}:{base}", tarball.display())))
}

/// Parses the `.drv` text `bytes` of `file` in the store directory
/// `store_dir` (`--store-dir`), else the one its paths name; the derivation
/// name comes from the file name when it looks like a store base name
/// (`<hash>-<name>.drv`).
pub fn parse_derivation(
    store_dir: Option<&str>,
    file: &str,
    bytes: &[u8],
) -> anyhow::Result<(Derivation, Option<String>, StoreDir)> {
    let store = store_dir_or_inferred(store_dir, abovo_graph::store_dir::from_derivation(bytes))?;
    let drv = Derivation::parse(&store, bytes).map_err(|e| {
        let mut msg = format!("`{file}` is not a valid derivation: {e}");
        if store.as_str() != StoreDir::NIX && bytes.windows(11).any(|w| w == b"/nix/store/") {
            msg.push_str("\n  (hint: its paths are in /nix/store; pass --store-dir /nix/store)");
        }
        anyhow::anyhow!(msg)
    })?;
    let name = file
        .rsplit(['/', ':'])
        .next()
        .and_then(|n| StorePath::from_base_name(n).ok())
        .and_then(|p| p.derivation_name().map(str::to_owned));
    Ok((drv, name, store))
}
