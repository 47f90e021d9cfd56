//! Choosing and loading the graph a command works on.
//!
//! Every graph command takes the same [`SourceArgs`]: `--source PATH` (or
//! `ABOVO_SOURCE`) names a store directory, a directory of `.drv` files, a
//! `.tar.zst` of them, a corpus folder or an abovo snapshot; `--store-dir`
//! the store prefix of their paths (by default read from the data, see
//! [`SourceArgs::load`]); `--package-table`
//! and `--meta` attach a package table and store metadata, and
//! [`PackageLevelArgs`] the package-level tables (`--package-meta`,
//! `--package-edges`, `--bag-emerged-edges`). Without a source,
//! the Guix 1.5.0 snapshot built into the binary is used, so abovo answers
//! out of the box. Loading shows a progress bar on a terminal once it has
//! taken more than a second.
//!
//! The graph queries (`graph`, `path`, `why`, `closure`, `dependents`) share
//! the rest of their plumbing here too: [`QueryArgs`] (format, system and
//! source, then [`QueryArgs::open`] to load the graph and resolve the names,
//! telling in a note when `--system` or the other end of a path chose
//! between derivations of the same name, see [`resolve_one`]),
//! [`WalkArgs`], and the pieces of their reports ([`node_json`],
//! [`display_name`], [`edge_outputs`]), so that each command module holds
//! only its own question and answer.

use crate::output::{Context, Format};
use abovo_graph::load::{LoadOptions, Reporter};
use abovo_graph::query::Walk;
use abovo_graph::resolve::{Preferences, TieBreak, host_system, resolve_with};
use abovo_graph::{Graph, NodeId};
use abovo_store::StoreDir;
use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::mem::ManuallyDrop;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The Guix 1.5.0 snapshot carried by the binary (made by `abovo snapshot
/// create` from the corpus; see `data/README.md`).
pub static BUILT_IN_SNAPSHOT: &[u8] = include_bytes!("../../../data/guix-1.5.0.abovo-snapshot");

/// How the built-in snapshot is named in reports.
pub const BUILT_IN_NAME: &str = "built-in Guix 1.5.0 snapshot (x86_64-linux)";

/// Where the graph comes from.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SourceArgs {
    /// Where the derivations come from: a store directory (`/gnu/store`), a
    /// directory of `.drv` files, a `.tar.zst` of them, a corpus folder
    /// (`drvs.tar.zst` with `packages.tsv.zst` and `store-meta.tsv.zst`) or
    /// an abovo snapshot. Default: the built-in Guix 1.5.0 snapshot.
    #[arg(long, env = "ABOVO_SOURCE", value_name = "PATH")]
    pub source: Option<PathBuf>,
    /// The store directory of the paths (see [`STORE_DIR_HELP`]).
    #[arg(long, value_name = "DIR", help = STORE_DIR_HELP)]
    pub store_dir: Option<String>,
    /// A package table (`packages.tsv` or `.tsv.zst`: name, version,
    /// derivation, module) to attach to the graph.
    #[arg(long = "package-table", alias = "packages", value_name = "TSV")]
    pub packages: Option<PathBuf>,
    /// Store metadata (`store-meta.tsv` or `.tsv.zst`: path, nar_hash,
    /// nar_size, references) to attach to the graph.
    #[arg(long, value_name = "TSV")]
    pub meta: Option<PathBuf>,
    /// Package-level tables to attach.
    #[command(flatten)]
    pub package_level: PackageLevelArgs,
    /// Do not use (or make) the index of a store directory (see
    /// [`crate::index::NO_INDEX_HELP`]).
    #[arg(long, help = crate::index::NO_INDEX_HELP)]
    pub no_index: bool,
}

/// The package-level tables Guix writes for a corpus (no header,
/// tab-separated; see the data folder's README), for a source that lacks
/// them: a corpus folder has them beside its `drvs.tar.zst`, and a
/// snapshot made from one carries them.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PackageLevelArgs {
    /// What `guix show` says of each package (`packages-meta.tsv` or
    /// `.tsv.zst`: name, version, drv, location, home page, licences,
    /// synopsis, description, supported systems, hidden, superseded). It
    /// also serves as the package table when there is none.
    #[arg(long, value_name = "TSV")]
    pub package_meta: Option<PathBuf>,
    /// The edges of the `package` graph (`package-edges.tsv` or
    /// `.tsv.zst`: from, from_drv, to, to_drv, label, output, kind,
    /// from_status, to_status).
    #[arg(long, value_name = "TSV")]
    pub package_edges: Option<PathBuf>,
    /// The edges of the `bag-emerged` graph (`bag-emerged-edges.tsv` or
    /// `.tsv.zst`, the same columns).
    #[arg(long, value_name = "TSV")]
    pub bag_emerged_edges: Option<PathBuf>,
}

impl PackageLevelArgs {
    /// Whether no table is named.
    pub fn is_empty(&self) -> bool {
        self.package_meta.is_none()
            && self.package_edges.is_none()
            && self.bag_emerged_edges.is_none()
    }

    /// The library's form.
    pub fn files(&self) -> abovo_graph::load::PackageFiles<'_> {
        abovo_graph::load::PackageFiles {
            meta: self.package_meta.as_deref(),
            edges: self.package_edges.as_deref(),
            bag_emerged_edges: self.bag_emerged_edges.as_deref(),
        }
    }
}

/// The `--help` text of `--store-dir` in every analysis command (graph
/// queries, `seeds`, `audit`, `verify`, `snapshot create`).
pub const STORE_DIR_HELP: &str = "The store directory the derivations' paths are in (`/gnu/store`, \
`/nix/store`, …). Default: the one the data names (a snapshot's header, the paths in the \
`.drv` files), else /gnu/store. Not to be confused with abovo's own store (build, add, \
derivation, store, log), which --store names: neither ABOVO_STORE nor its old name \
ABOVO_STORE_DIR is read here.";

/// The `--help` text of `--system` in every command that resolves names.
pub const SYSTEM_HELP: &str = "When a name matches several derivations of the same version \
(a store holds those of several systems: guile-bootstrap-2.0.drv for x86_64-linux, i686-linux \
and armhf-linux), take the one built for SYSTEM, as Guix's --system does; several or none \
for SYSTEM is an error that lists them. Default: this machine's system as Guix names it \
(x86_64-linux, aarch64-linux, i686-linux, armhf-linux, powerpc64le-linux, riscv64-linux, …).";

/// The store directory for a source: `flag` (`--store-dir`) when given,
/// else the one `inferred` from the data, else `/gnu/store`. The
/// environment is deliberately not consulted: `ABOVO_STORE` (and its old
/// name `ABOVO_STORE_DIR`) names abovo's own build store, which has nothing
/// to do with the store a graph under analysis comes from.
pub fn store_dir_or_inferred(
    flag: Option<&str>,
    inferred: Option<StoreDir>,
) -> anyhow::Result<StoreDir> {
    match flag {
        Some(dir) => StoreDir::new(dir).with_context(|| format!("invalid --store-dir `{dir}`")),
        None => Ok(inferred.unwrap_or_default()),
    }
}

impl SourceArgs {
    /// The store directory of `source`, already opened (`None`: the
    /// built-in snapshot; a stream such as `/dev/stdin` is read once, then
    /// looked at and loaded from memory): `--store-dir` when given, else the
    /// one its data names (a snapshot's header, the paths in its `.drv`
    /// files), else `/gnu/store`. A snapshot's store directory is part of
    /// it, so a `--store-dir` that differs is an error rather than a silent
    /// reinterpretation.
    fn store_for_input(
        &self,
        source: Option<&abovo_graph::input::Input>,
    ) -> anyhow::Result<StoreDir> {
        let (inferred, recorded) = match source {
            None => (Some(StoreDir::default()), true),
            Some(input) => {
                let path = input.path();
                let dir = abovo_graph::store_dir::infer_input(input)
                    .with_context(|| format!("cannot load `{}`", path.display()))?;
                let snapshot = matches!(
                    abovo_graph::load::detect_input(input),
                    Ok(abovo_graph::load::SourceKind::Snapshot)
                );
                (dir, snapshot)
            }
        };
        let store = store_dir_or_inferred(self.store_dir.as_deref(), inferred.clone())?;
        if let (true, Some(own)) = (recorded, inferred) {
            if own != store {
                let what = match source {
                    Some(input) => format!("the snapshot `{}`", input.path().display()),
                    None => BUILT_IN_NAME.to_owned(),
                };
                anyhow::bail!(
                    "--store-dir `{store}` does not match {what}, whose paths are in `{own}`\n\
                     hint: leave --store-dir out: a snapshot records its store directory"
                );
            }
        }
        Ok(store)
    }

    /// Loads the graph: the given source, or the built-in snapshot.
    pub fn load(&self, ctx: &Context) -> anyhow::Result<Graph> {
        let Some(source) = &self.source else {
            self.store_for_input(None)?;
            if self.packages.is_some() || self.meta.is_some() || !self.package_level.is_empty() {
                anyhow::bail!(
                    "--package-table, --meta, --package-meta, --package-edges and \
                     --bag-emerged-edges need --source (the built-in snapshot has them all)"
                );
            }
            let mut graph = crate::snapshot_cache::load(BUILT_IN_SNAPSHOT)
                .context("the built-in snapshot does not load")?;
            graph.set_description(BUILT_IN_NAME);
            return Ok(graph);
        };
        // Opened once: a stream cannot be read twice.
        let input = abovo_graph::input::Input::open(source)
            .with_context(|| format!("cannot load `{}`", source.display()))?;
        let store = self.store_for_input(Some(&input))?;
        let reporter = LoadProgress::new(ctx.progress);
        let opts = LoadOptions {
            store: &store,
            packages: self.packages.as_deref(),
            meta: self.meta.as_deref(),
            package_level: self.package_level.files(),
            reporter: &reporter,
        };
        let graph = match self.indexed_directory(&input) {
            Some(dir) => {
                crate::index::load(dir, &store, ctx, &reporter, false).and_then(|(mut graph, _)| {
                    abovo_graph::load::attach_tables(&mut graph, opts)?;
                    Ok(graph)
                })
            }
            None => abovo_graph::load::load_input(&input, opts).map_err(Into::into),
        }
        .with_context(|| format!("cannot load `{}`", source.display()));
        reporter.clear();
        reporter.notes(ctx);
        graph
    }

    /// The directory of `.drv` files `input` is, when it is to be loaded
    /// through its index (not with `--no-index` or ABOVO_NO_INDEX).
    pub fn indexed_directory<'a>(
        &self,
        input: &'a abovo_graph::input::Input,
    ) -> Option<&'a std::path::Path> {
        if self.no_index || crate::index::disabled_by_env() {
            return None;
        }
        match input {
            abovo_graph::input::Input::Path(p)
                if matches!(
                    abovo_graph::load::detect_input(input),
                    Ok(abovo_graph::load::SourceKind::Directory)
                ) =>
            {
                Some(p)
            }
            _ => None,
        }
    }
}

/// Draws the progress of loading a graph (the [`Reporter`] of
/// `abovo_graph::load`; a build draws its own, in `commands::build`), but
/// only once a phase has taken more than a second, and only on a terminal.
pub struct LoadProgress {
    enabled: bool,
    state: Mutex<Option<Phase>>,
    /// What [`Reporter::warn`] was told, for [`LoadProgress::notes`].
    warnings: Mutex<Vec<String>>,
}

struct Phase {
    bar: ProgressBar,
    started: Instant,
    shown: bool,
}

impl LoadProgress {
    /// A reporter; `enabled` is [`Context::progress`].
    pub fn new(enabled: bool) -> LoadProgress {
        LoadProgress {
            enabled,
            state: Mutex::new(None),
            warnings: Mutex::new(Vec::new()),
        }
    }

    /// Says what the library warned about, as notes (once each).
    pub fn notes(&self, ctx: &Context) {
        if let Ok(mut w) = self.warnings.lock() {
            for message in w.drain(..) {
                ctx.note(&message);
            }
        }
    }

    /// Removes a bar left on screen.
    pub fn clear(&self) {
        if let Ok(mut s) = self.state.lock() {
            if let Some(p) = s.take() {
                p.bar.finish_and_clear();
            }
        }
    }
}

impl Reporter for LoadProgress {
    fn begin(&self, phase: &str, total: Option<u64>) {
        if !self.enabled {
            return;
        }
        let bar = match total {
            Some(t) => ProgressBar::with_draw_target(Some(t), ProgressDrawTarget::hidden()),
            None => ProgressBar::hidden(),
        };
        let style = ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} {elapsed}")
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_message(phase.to_owned());
        if let Ok(mut s) = self.state.lock() {
            if let Some(old) = s.take() {
                old.bar.finish_and_clear();
            }
            *s = Some(Phase {
                bar,
                started: Instant::now(),
                shown: false,
            });
        }
    }

    fn advance(&self, n: u64) {
        if !self.enabled {
            return;
        }
        let Ok(mut s) = self.state.lock() else {
            return;
        };
        if let Some(p) = s.as_mut() {
            p.bar.inc(n);
            if !p.shown && p.started.elapsed() > Duration::from_secs(1) {
                p.bar.set_draw_target(ProgressDrawTarget::stderr());
                p.shown = true;
            }
        }
    }

    fn end(&self) {
        self.clear();
    }

    fn warn(&self, message: &str) {
        if let Ok(mut w) = self.warnings.lock() {
            w.push(message.to_owned());
        }
    }
}

/// How a walk over the graph proceeds (shared by the graph commands).
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct WalkArgs {
    /// Leave input sources (builder scripts, patches, …) out.
    #[arg(long)]
    pub no_sources: bool,
    /// Do not walk into the inputs of fixed-output derivations (their
    /// fetchers): their output is pinned by a hash.
    #[arg(long)]
    pub stop_at_fixed: bool,
}

impl WalkArgs {
    /// The library's walk options.
    pub fn walk(&self, max_depth: Option<u32>) -> abovo_graph::query::Walk {
        abovo_graph::query::Walk {
            hide_sources: self.no_sources,
            stop_at_fixed: self.stop_at_fixed,
            max_depth,
            ..Default::default()
        }
    }
}

pub use crate::output::TEXT_JSON;

/// What every graph query takes besides its own arguments: the output
/// format and where the graph comes from. The format accepts text and
/// JSON; a command that writes more says so with
/// `#[command(mut_arg("format", …))]` and [`Format::parser`], so that its
/// `--help` lists exactly the formats it writes.
#[derive(Debug, Clone, clap::Args)]
pub struct QueryArgs {
    /// Output format.
    #[arg(long, short = 'f', default_value = "text", value_parser = Format::parser(TEXT_JSON))]
    pub format: Format,
    /// The system a name prefers (see [`SYSTEM_HELP`]).
    #[arg(long, value_name = "SYSTEM", default_value_t = host_system(), help = SYSTEM_HELP)]
    pub system: String,
    /// Where the graph comes from.
    #[command(flatten)]
    pub source: SourceArgs,
}

impl QueryArgs {
    /// The first steps of every graph query: checks that `command` writes
    /// the requested format (one of `formats`), loads the graph, and
    /// resolves `names` to its nodes, preferring `--system`. The graph is
    /// never dropped, on any way out of the command, for the reason
    /// [`release_at_exit`] gives.
    pub fn open(
        &self,
        ctx: &Context,
        command: &str,
        formats: &[Format],
        names: &[String],
    ) -> anyhow::Result<(ManuallyDrop<Graph>, Vec<NodeId>)> {
        self.format.check(command, formats)?;
        let graph = ManuallyDrop::new(self.source.load(ctx)?);
        let prefs = Preferences::new().system(&self.system);
        let nodes = names
            .iter()
            .map(|name| resolve_one(&graph, name, &prefs, ctx))
            .collect::<anyhow::Result<_>>()?;
        Ok((graph, nodes))
    }

    /// [`QueryArgs::open`] for a question about two nodes (`path FROM TO`,
    /// `why TARGET DEP`), answered in text or JSON. When TO still matches
    /// several derivations after `--system`, the one FROM reaches by
    /// `walk` is taken, if only one is.
    pub fn open_two(
        &self,
        ctx: &Context,
        command: &str,
        (from, to): (&str, &str),
        walk: &Walk,
    ) -> anyhow::Result<(ManuallyDrop<Graph>, NodeId, NodeId)> {
        let (graph, ends) = self.open(ctx, command, TEXT_JSON, &[from.to_owned()])?;
        let from = ends[0];
        let prefs = Preferences::new()
            .system(&self.system)
            .reachable_from(from, *walk);
        let to = resolve_one(&graph, to, &prefs, ctx)?;
        Ok((graph, from, to))
    }

    /// Whether JSON was asked for.
    pub fn json(&self) -> bool {
        self.format == Format::Json
    }
}

/// Ends a query's use of the graph (and of its answer, when that is large:
/// a trust report, an audit): the process exits with the answer, and
/// handing millions of small allocations back to the allocator one by one
/// (and unmapping a snapshot) would only delay that, so the memory is left
/// to the operating system.
pub fn release_at_exit<T>(graph_and_answer: T) {
    std::mem::forget(graph_and_answer);
}

/// Each node in JSON ([`node_json`]), as an array.
pub fn nodes_json<'g>(graph: &'g Graph, nodes: &'g [NodeId]) -> NodesJson<'g> {
    NodesJson { graph, nodes }
}

/// Nodes as a JSON array ([`nodes_json`]), serialized as it is written.
#[derive(Clone, Copy)]
pub struct NodesJson<'g> {
    graph: &'g Graph,
    nodes: &'g [NodeId],
}

impl serde::Serialize for NodesJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.nodes.iter().map(|&n| node_json(self.graph, n)))
    }
}

/// The output names the edge `from -> to` uses (none for a source, or when
/// there is no such edge).
pub fn edge_outputs(graph: &Graph, from: NodeId, to: NodeId) -> Vec<&str> {
    graph
        .edge(from, to)
        .map(|e| e.outputs().collect())
        .unwrap_or_default()
}

/// Whether some edge of `graph` uses an output of an output (asked of
/// the few distinct sets of output names, not of every edge).
fn has_dynamic_edges(graph: &Graph) -> bool {
    graph
        .edge_output_names()
        .any(|o| o.contains(abovo_store::derivation::OUTPUT_OF_OUTPUT))
}

/// Warns when an edge of `edges` uses an output of an output (Nix's
/// dynamic derivations, `cat^kitten`): the derivation that output is
/// exists only once its input is built, so neither it nor its inputs are
/// in the graph, and an answer built on the graph misses them. `edges` is
/// asked for only when the graph has such edges at all (which a walk of a
/// whole closure, made for this alone, would cost).
pub fn warn_dynamic<E: AsRef<[(NodeId, NodeId)]>>(
    ctx: &Context,
    graph: &Graph,
    edges: impl FnOnce() -> E,
) {
    if !has_dynamic_edges(graph) {
        return;
    }
    let found = edges().as_ref().iter().find_map(|&(from, to)| {
        edge_outputs(graph, from, to)
            .into_iter()
            .find(|o| o.contains(abovo_store::derivation::OUTPUT_OF_OUTPUT))
            .map(|o| (from, to, o.to_owned()))
    });
    if let Some((from, to, output)) = found {
        ctx.warn(&format!(
            "the graph is incomplete: {} uses `{}^{output}`, an output of an output (Nix's \
             dynamic derivations, which abovo does not follow): that derivation exists only once \
             the input is built, so it and its inputs are not in the graph",
            graph.display_path(from),
            graph.display_path(to),
        ));
    }
}

/// Resolves a name (see `abovo_graph::resolve`) with `prefs`; when the name
/// matched several derivations and a preference chose one, a note says
/// which and why, so that nobody is silently handed another system's
/// derivation. A name nothing in the graph has may be a member of a seed
/// the knowledge base knows (`hex0` → the stage0-posix tarball): that seed
/// is taken, with a note ([`crate::members`]).
pub fn resolve_one(
    graph: &Graph,
    spec: &str,
    prefs: &Preferences,
    ctx: &Context,
) -> anyhow::Result<NodeId> {
    let found = match resolve_with(graph, spec, prefs) {
        Ok(found) => found,
        // Not a derivation: perhaps a member of a known seed (`hex0`).
        Err(e @ abovo_graph::ResolveError::Unknown { .. }) => {
            return match crate::members::resolve_member(graph, spec, prefs) {
                crate::members::Member::Found(node, note) => {
                    ctx.note(&note);
                    Ok(node)
                }
                crate::members::Member::Ambiguous(message) => Err(anyhow::anyhow!(message)),
                crate::members::Member::None => Err(e.into()),
            };
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(tie) = &found.tie_break {
        ctx.note(&tie_break_note(graph, spec, found.node, tie));
    }
    if let Some(system) = &found.system_unavailable {
        let built_for = graph.system(found.node).unwrap_or_default().to_owned();
        ctx.note(&format!(
            "`{spec}`: this graph has no {system} derivation of {} (--system); taking the \
             {built_for} one: {}",
            graph.label(found.node),
            graph.display_path(found.node)
        ));
    }
    Ok(found.node)
}

/// "`guile-bootstrap` matches 3 derivations; taking the x86_64-linux one
/// (--system): /gnu/store/…-guile-bootstrap-2.0.drv".
pub fn tie_break_note(graph: &Graph, spec: &str, chosen: NodeId, tie: &TieBreak) -> String {
    let count = tie.candidates().len();
    let why = match tie {
        TieBreak::System { system, .. } => format!("the {system} one (--system)"),
        TieBreak::Reachable { from, .. } => {
            format!("the only one {} depends on", display_name(graph, *from))
        }
        _ => "one".to_owned(),
    };
    format!(
        "`{spec}` matches {count} derivations; taking {why}: {}",
        graph.display_path(chosen)
    )
}

/// How a node is named for people: `name@version` of its package when the
/// package table knows it, else its derivation name (or source name).
pub fn display_name(graph: &Graph, n: NodeId) -> String {
    match graph.packages().rows_of(n).next() {
        Some(i) => graph.packages().full_name(i),
        None => graph.label(n).to_owned(),
    }
}

/// A node in JSON: path, name, kind, whether fixed-output, the kind of its
/// outputs when their paths are known only after a build (Nix's
/// `deferred`, `floating` content-addressed and `impure` outputs), its
/// package(s) and its size when known.
pub fn node_json(graph: &Graph, node: NodeId) -> NodeJson<'_> {
    NodeJson { graph, node }
}

/// A node as a JSON object ([`node_json`]). It is serialized straight from
/// the graph: building a `serde_json::Value` map for each node, then
/// dropping it, was most of the time of an answer with 20,000 nodes.
#[derive(Clone, Copy)]
pub struct NodeJson<'g> {
    graph: &'g Graph,
    node: NodeId,
}

impl serde::Serialize for NodeJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use abovo_store::derivation::DerivationKind;
        use serde::ser::SerializeMap;
        let (graph, n) = (self.graph, self.node);
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("path", &graph.display_path(n))?;
        map.serialize_entry("name", graph.label(n))?;
        map.serialize_entry("kind", &graph.kind(n))?;
        map.serialize_entry("fixed_output", &graph.is_fixed_output(n))?;
        // From the node flags where the source keeps them (no derivation
        // decoded).
        let after_build = match graph.derivation_kind(n) {
            Some(DerivationKind::Deferred) => Some("deferred"),
            Some(DerivationKind::Floating) => Some("floating"),
            Some(DerivationKind::Impure) => Some("impure"),
            _ => None,
        };
        if let Some(kind) = after_build {
            map.serialize_entry("output_kind", kind)?;
        }
        let table = graph.packages();
        if table.rows_of(n).next().is_some() {
            let packages: Vec<String> = table.rows_of(n).map(|i| table.full_name(i)).collect();
            map.serialize_entry("packages", &packages)?;
        }
        if let Some(size) = graph.nar_size(n) {
            map.serialize_entry("nar_size", &size)?;
        }
        map.end()
    }
}
