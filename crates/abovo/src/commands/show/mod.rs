//! `abovo show NAME…`: what `guix show` prints of packages
//! ([`packages`]); `abovo show --derivation DRV`: how a derivation is
//! built, or its `.drv` text.
//!
//! Which one: `--derivation`, `--format aterm`, `--format recipe-json` or
//! `--json-format` ask for the derivation; so does an argument no package can be called:
//! a path (it has a `/`), a `.drv` file name or a store base name. Anything
//! else is a package name, shown from the graph's package metadata; a
//! source without a package table (a store of hand-made derivations) shows
//! the derivation instead, with a note.
//!
//! The derivation's default view ([`recipe`], `text` or `recipe-json`) says how DRV is
//! built: its builder, arguments and environment, and the text of the
//! builder scripts and patches it reads, from wherever their bytes are at
//! hand (see [`crate::places`]). `aterm` and `json` print the derivation
//! itself.
//!
//! Where the `.drv` comes from: DRV as a file; with `--source` (a store
//! directory, a directory or tarball of `.drv` files, a corpus folder),
//! anything the graph commands resolve (a name, a `.drv` or output path),
//! read from where the source keeps its files; otherwise DRV is resolved
//! in the graph (the built-in snapshot, or a `--source` snapshot) and its
//! `.drv` read from the places of items (`--sources`, this machine's
//! store, the built-in items of hello's closure). A snapshot keeps no
//! whole `.drv`: without one at hand, the `text` view says what the graph
//! knows, and `aterm` and `json` say which `.drv` to look for.

pub mod packages;
pub mod recipe;

use crate::exit;
use crate::output::{Context, print_json};
use crate::places::{PlaceArgs, graph_source_places};
use crate::source::{STORE_DIR_HELP, SYSTEM_HELP, SourceArgs, resolve_one, store_dir_or_inferred};
use abovo_graph::load::{Silent, SourceKind, detect, read_tarball};
use abovo_graph::resolve::{Preferences, host_system};
use abovo_graph::{Graph, NodeId, NodeKind};
use abovo_store::derivation::json::JsonFormat;
use abovo_store::derivation::{Derivation, ParseErrorKind};
use abovo_store::{StoreDir, StorePath};
use abovo_trust::content::Limits;
use abovo_trust::items::{self, ItemError, ItemPath, Wanted};
use anyhow::Context as _;
use clap::ValueEnum;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Show packages as `guix show` does; with --derivation, how a derivation
/// is built (its builder, arguments, environment and the text of the
/// scripts and patches it reads), or the derivation as ATerm (its exact
/// `.drv` text) or JSON.
///
/// `abovo show NAME…` prints, for every package called NAME (`NAME@VERSION`
/// keeps the versions starting with VERSION), the record `guix show`
/// prints: name, version, outputs, systems, dependencies, location,
/// homepage, license, synopsis, description. `--format recutils` prints
/// exactly that record; `text` (the default) adds abovo's fields to it;
/// `json` has both. A hidden or private package is "not found", as in
/// Guix, with what abovo knows of it.
///
/// `abovo show --derivation DRV`: DRV is a `.drv` file, a `.drv` or output
/// store path, or a name (`hello`, `hello@2.12`), resolved as the graph
/// commands do: in --source when given, else in the built-in Guix 1.5.0
/// snapshot, whose `.drv` files are read from --sources, this machine's
/// store or the built-in items (hello's closure). A path, a `.drv` file
/// name or a store base name is shown as a derivation without
/// --derivation.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Package names (`hello`, `hello@2.12`); with --derivation, the
    /// derivation: a `.drv` file, a store path or a name.
    #[arg(required = true, value_name = "NAME|DRV")]
    pub targets: Vec<String>,
    /// Show the derivation (how it is built, or its `.drv` text) rather
    /// than the package.
    #[arg(long)]
    pub derivation: bool,
    /// Packages: `text` (the default: the `guix show` record and abovo's
    /// fields), `recutils` (exactly `guix show`) or `json`. A derivation:
    /// `text` (the default: how it is built, with the items it reads),
    /// `recipe-json` (the same in JSON), `aterm` (the `.drv` text, byte for
    /// byte) or `json` (the shape of `nix derivation show`: one derivation,
    /// without its wrapper, what `abovo derivation add` reads, in the form
    /// --json-format names).
    #[arg(long, short = 'f', value_enum)]
    pub format: Option<ShowFormat>,
    /// Which of Nix's JSON forms `-f json` writes for a derivation (implies
    /// --derivation): `nix-2.17` (the original; the default, or `nix-2.18`
    /// for a derivation with outputs of outputs, which it cannot hold),
    /// `nix-2.18` (inputs with `dynamicOutputs`), `nix-2.23` (outputs with
    /// `method`), `nix-2.30` (top-level `structuredAttrs`), `nix-2.32`
    /// (format version 3: base names), `nix-2.33` or `latest` (format
    /// version 4: `inputs`, SRI hashes), or `tvix` (`nix-2.17` without
    /// `name`). Values that are not UTF-8 are written `{"bytes":
    /// "<base64>"}` in all of them.
    #[arg(long, value_name = "FORMAT", value_parser = parse_json_format)]
    pub json_format: Option<JsonFormat>,
    /// Where the packages or DRV come from: a store directory
    /// (`/gnu/store`), a directory of `.drv` files, a `.tar.zst` of them, a
    /// corpus folder, or an abovo snapshot (whose `.drv` files are then
    /// looked for like the built-in snapshot's). Default: the built-in
    /// snapshot.
    #[arg(long, env = "ABOVO_SOURCE", value_name = "DIR")]
    pub source: Option<PathBuf>,
    /// The store directory the derivation's paths are in.
    #[arg(long, value_name = "DIR", help = STORE_DIR_HELP)]
    pub store_dir: Option<String>,
    /// The system a name prefers.
    #[arg(long, value_name = "SYSTEM", default_value_t = host_system(), help = SYSTEM_HELP)]
    pub system: String,
    /// Lines of each text item shown (0: all of them).
    #[arg(long, default_value_t = DEFAULT_MAX_LINES, value_name = "N")]
    pub max_lines: usize,
    /// Where the items it reads (and its `.drv`) are.
    #[command(flatten)]
    pub places: PlaceArgs,
}

/// Formats of `abovo show`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ShowFormat {
    /// Packages: the `guix show` record, then abovo's fields; a
    /// derivation: how it is built, for people.
    Text,
    /// Packages: exactly the record `guix show` prints.
    Recutils,
    /// Packages or the derivation, in JSON.
    Json,
    /// A derivation: how it is built, in JSON.
    RecipeJson,
    /// A derivation: the `.drv` text.
    Aterm,
}

impl Args {
    /// The derivation argument (the first).
    fn drv(&self) -> &str {
        &self.targets[0]
    }

    /// Whether the derivation is asked for: `--derivation`, a format only a
    /// derivation has, `--json-format`, or an argument no package could be
    /// called (a path, a `.drv` file name, a store base name).
    fn wants_derivation(&self) -> bool {
        // Not "a file of that name exists": packages are called `src` or
        // `build` too. A file in the current directory is `./NAME`.
        let looks_like_drv = |t: &String| {
            t.contains('/')
                || t.ends_with(".drv")
                || drv_base_name(t).is_some()
                || StorePath::from_base_name(t).is_ok()
        };
        self.derivation
            || self.json_format.is_some()
            || matches!(
                self.format,
                Some(ShowFormat::Aterm | ShowFormat::RecipeJson)
            )
            || self.targets.iter().any(looks_like_drv)
    }
}

/// A derivation as found.
pub enum Found {
    /// Its `.drv` text.
    Text {
        /// The bytes.
        bytes: Vec<u8>,
        /// The file they are (a path, `TARBALL:MEMBER`, or the `.drv`'s
        /// store path when read from a place of items).
        file: String,
        /// The place of items it was read from, if from one.
        place: Option<String>,
        /// The graph it was resolved in, if one was loaded.
        graph: Option<Graph>,
    },
    /// Only the graph's facts: its `.drv` is at hand nowhere.
    Graph {
        /// The graph.
        graph: Graph,
        /// The derivation.
        node: NodeId,
        /// The places searched for its `.drv`.
        searched: Vec<String>,
    },
}

/// Reads a `--json-format` value.
pub fn parse_json_format(s: &str) -> Result<JsonFormat, String> {
    JsonFormat::from_name(s).ok_or_else(|| {
        let names: Vec<&str> = JsonFormat::ALL.iter().map(|f| f.name()).collect();
        format!(
            "unknown JSON format `{s}` (known: {}, latest)",
            names.join(", ")
        )
    })
}

/// `--max-lines`' default.
pub const DEFAULT_MAX_LINES: usize = 200;

/// Runs `abovo show`.
pub fn run(args: Args, ctx: &Context) -> anyhow::Result<u8> {
    if !args.wants_derivation() {
        let source = SourceArgs {
            source: args.source.clone(),
            store_dir: args.store_dir.clone(),
            ..SourceArgs::default()
        };
        let graph = source.load(ctx)?;
        if !graph.packages().is_empty() {
            let format = match args.format {
                Some(ShowFormat::Recutils) => packages::PackageFormat::Recutils,
                Some(ShowFormat::Json) => packages::PackageFormat::Json,
                _ => packages::PackageFormat::Text,
            };
            let code = packages::run(&graph, &args.targets, format, ctx);
            crate::source::release_at_exit(graph);
            return code;
        }
        ctx.note(&format!(
            "{} has no package table: showing the derivation (--derivation)",
            graph.description()
        ));
        crate::source::release_at_exit(graph);
    }
    if args.targets.len() > 1 {
        anyhow::bail!(
            "abovo show --derivation shows one derivation; {} were given",
            args.targets.len()
        );
    }
    let format = match args.format {
        None => ShowFormat::Text,
        Some(ShowFormat::Recutils) => anyhow::bail!(
            "--format recutils shows packages; a derivation is shown as text, recipe-json, \
             aterm or json"
        ),
        Some(f) => f,
    };
    let found = find(&args, ctx)?;
    let (bytes, file) = match (format, found) {
        (ShowFormat::Text | ShowFormat::RecipeJson, found) => {
            return recipe::run(&args, found, ctx);
        }
        (_, Found::Text { bytes, file, .. }) => (bytes, file),
        (
            _,
            Found::Graph {
                graph,
                node,
                searched,
            },
        ) => return Err(not_at_hand(args.drv(), &graph, node, &searched)),
    };
    let (drv, name, store) = parse_derivation(args.store_dir.as_deref(), &file, &bytes)?;
    check_fixed_paths(&drv, name.as_deref(), &store, &file)?;
    match format {
        ShowFormat::Json => {
            let name = name
                .or_else(|| drv.name_from_outputs().map(str::to_owned))
                .or_else(|| drv.declared_name());
            let name = name.as_deref();
            let json = match args.json_format {
                Some(f) => drv
                    .to_json_as(&store, name, f)
                    .with_context(|| format!("cannot show `{file}` as JSON"))?,
                None => drv.to_json(&store, name),
            };
            print_json(&json)?;
        }
        _ => {
            let mut out = std::io::stdout().lock();
            out.write_all(&drv.to_aterm(&store))?;
            // The `.drv` text has no final newline; add one only for a person.
            if std::io::IsTerminal::is_terminal(&out) {
                out.write_all(b"\n")?;
            }
            out.flush()?;
        }
    }
    Ok(exit::SUCCESS)
}

/// Finds DRV: a file named on the command line (what the person means,
/// wherever it lies), else through --source, else through the graph and
/// the places of items.
fn find(args: &Args, ctx: &Context) -> anyhow::Result<Found> {
    let given = Path::new(args.drv());
    if given.exists() {
        let (bytes, file) = read_file(given)?;
        return Ok(Found::Text {
            bytes,
            file,
            place: None,
            graph: None,
        });
    }
    if let Some(source) = &args.source {
        let kind = detect(source).with_context(|| format!("cannot load `{}`", source.display()))?;
        if kind != SourceKind::Snapshot {
            return from_source(args, source, kind, ctx);
        }
    }
    from_places(args, ctx)
}

/// The error for a derivation whose `.drv` is at hand nowhere, naming it
/// so that the person knows which file to look for.
fn not_at_hand(spec: &str, graph: &Graph, node: NodeId, searched: &[String]) -> anyhow::Error {
    anyhow::anyhow!(
        "`{spec}` is not a file; abovo show reads .drv files. Its derivation in the {} is {}, \
         which is in none of {}: give a store directory holding it with --source DIR, or an \
         archive of items with --sources PATH",
        graph.description(),
        graph.display_path(node),
        searched.join(", ")
    )
}

/// Resolves DRV in the graph of the built-in snapshot (or a `--source`
/// snapshot) and reads its `.drv` from the places of items.
fn from_places(args: &Args, ctx: &Context) -> anyhow::Result<Found> {
    let graph = SourceArgs {
        source: args.source.clone(),
        store_dir: args.store_dir.clone(),
        ..SourceArgs::default()
    }
    .load(ctx)?;
    let prefs = Preferences::new().system(&args.system);
    let node = match resolve_one(&graph, args.drv(), &prefs, ctx) {
        Ok(n) => n,
        // A path that is neither a file nor in the graph: say what show
        // reads, with why the file could not be read.
        Err(e) if args.drv().contains('/') => {
            let read = read_file(Path::new(args.drv())).err().unwrap_or(e);
            return Err(read.context(format!(
                "`{}` is not a file; abovo show reads .drv files (with --source DIR, also \
                 a store path or a package name found in DIR)",
                args.drv()
            )));
        }
        Err(e) => return Err(e),
    };
    check_derivation(&graph, node, args.drv(), graph.description())?;
    let store = graph.store_dir().clone();
    let places = args
        .places
        .places(&store, &graph_source_places(args.source.as_deref()))?;
    match read_drv(&graph, node, &places)? {
        Ok((bytes, place)) => Ok(Found::Text {
            bytes,
            file: graph.display_path(node),
            place: Some(place),
            graph: Some(graph),
        }),
        Err(searched) => Ok(Found::Graph {
            graph,
            node,
            searched,
        }),
    }
}

/// The places searched in vain for a `.drv`.
type Searched = Vec<String>;

/// Reads the `.drv` of `node` from `places`: its bytes and the place
/// that held it, or (`Err` inside) the places searched in vain.
pub(crate) fn read_drv(
    graph: &Graph,
    node: NodeId,
    places: &abovo_trust::items::Places,
) -> anyhow::Result<Result<(Vec<u8>, String), Searched>> {
    let path = ItemPath {
        store: graph.store_dir().clone(),
        item: graph.path(node),
        inner: Vec::new(),
    };
    let mut bytes = Vec::new();
    let mut bounded = Bounded {
        out: &mut bytes,
        left: abovo_graph::input::MAX_DRV_SIZE,
    };
    let read = items::cat(
        places,
        &path,
        &Wanted::new(path.item.clone()),
        &Limits::default(),
        &mut bounded,
    );
    match read {
        Ok(located) => Ok(Ok((bytes, located.place))),
        Err(ItemError::NotFound { places, .. }) => Ok(Err(places)),
        Err(e) => {
            Err(anyhow::Error::new(e).context(format!("cannot read {}", graph.display_path(node))))
        }
    }
}

/// A writer that refuses more than `left` bytes: a `.drv` is small, and a
/// place of items may hold anything under its name.
struct Bounded<'a> {
    out: &'a mut Vec<u8>,
    left: u64,
}

impl Write for Bounded<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf.len() as u64 > self.left {
            return Err(std::io::Error::other(format!(
                "larger than {} bytes, which no .drv file is",
                abovo_graph::input::MAX_DRV_SIZE
            )));
        }
        self.left -= buf.len() as u64;
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// An error unless `node` of `graph` (in `source`, for messages) is a
/// derivation.
pub(crate) fn check_derivation(
    graph: &Graph,
    node: NodeId,
    spec: &str,
    source: &str,
) -> anyhow::Result<()> {
    let path = graph.display_path(node);
    match graph.kind(node) {
        NodeKind::Derivation => Ok(()),
        NodeKind::Source => anyhow::bail!(
            "`{spec}` is a source ({path}), not a derivation; abovo show prints derivations \
             (abovo cat prints a source)"
        ),
        _ => anyhow::bail!(
            "`{spec}` resolves to {path}, which derivations in `{source}` use but which is not in it"
        ),
    }
}

/// Refuses a `.drv` whose fixed output records another path than its hash
/// gives, as Nix refuses it when it parses one. The name comes from the
/// file name, else from the recorded path itself (which then is checked
/// against its own hash).
pub(super) fn check_fixed_paths(
    drv: &Derivation,
    name: Option<&str>,
    store: &StoreDir,
    file: &str,
) -> anyhow::Result<()> {
    let Some(name) = name.or(drv.name_from_outputs()) else {
        return Ok(());
    };
    drv.check_fixed_paths(store, name).map_err(|m| {
        anyhow::anyhow!(
            "`{file}` is not a valid derivation: its fixed {} has the path `{}`, which does not \
             match its content address (it gives `{}`); Nix refuses such a derivation \
             (`abovo verify` lists every mismatch)",
            m.what,
            m.actual,
            m.expected
        )
    })
}

/// Finds DRV in `source` (of `kind`, not a snapshot): a `.drv` path or base
/// name directly in a directory, anything else through the source's graph.
fn from_source(
    args: &Args,
    source: &Path,
    kind: SourceKind,
    ctx: &Context,
) -> anyhow::Result<Found> {
    let text = |(bytes, file): (Vec<u8>, String), graph: Option<Graph>| Found::Text {
        bytes,
        file,
        place: None,
        graph,
    };
    // A `.drv` path or base name in a directory: no need for the graph.
    if kind == SourceKind::Directory {
        if let Some(base) = drv_base_name(args.drv()) {
            let file = source.join(&base);
            if file.is_file() {
                return Ok(text(read_file(&file)?, None));
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
    let node = resolve_one(&graph, args.drv(), &prefs, ctx)?;
    check_derivation(&graph, node, args.drv(), &source.display().to_string())?;
    let base = graph.base_name(node);
    let read = match kind {
        SourceKind::CorpusFolder { tarball, .. } => from_tarball(&tarball, &base)?,
        SourceKind::Tarball => from_tarball(source, &base)?,
        _ => read_file(&source.join(&base))?,
    };
    Ok(text(read, Some(graph)))
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
        // Only a path outside the store directory calls for another one.
        let path_error = matches!(e.kind, ParseErrorKind::BadStorePath { .. });
        if path_error
            && store.as_str() != StoreDir::NIX
            && bytes.windows(11).any(|w| w == b"/nix/store/")
        {
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
