//! `abovo serve`: the explorer in the browser (see `abovo_serve`): this
//! module answers its questions with the very functions the other
//! commands print with `--format json`.

use crate::cli::{ColorChoice, GlobalArgs};
use crate::commands::history;
use crate::commands::trust_common::TrustArgs;
use crate::exit;
use crate::output::Context;
use crate::packages::GraphKind;
use abovo_graph::{Graph, NodeId};
use abovo_serve::{Explorer, Options, Question, Refusal};
use abovo_trust::classify::Seeds;
use anyhow::Context as _;
use std::sync::Arc;

/// Explore trust bases in the browser: a read-only local web application.
///
/// Pages: a search with suggestions (names, versions, `.drv` paths); a
/// package's page, with its trust base as an interactive graph (pan with
/// the mouse, zoom with the wheel, click a node for its derivation,
/// builder, environment, size and evidence, ± to collapse a branch), the
/// path to each seed, its dependents and closure; and the audit of every
/// package as charts. Each view has its URL, and its JSON at an API path,
/// the same JSON as the command's `--format json`: `/api/seeds/NAME`
/// (`abovo seeds`), `/api/dependents/NAME`, `/api/closure/NAME`,
/// `/api/audit`, `/api/derivation?path=DRV` (`abovo show --derivation
/// --format recipe-json`), and `/api/search?q=TEXT`.
///
/// With --against OLD_SOURCE, the diff view shows what changed in the
/// trust base since that older revision: `/diff` for the distribution
/// (seeds added, removed and changed, the packages whose binary trust base
/// grew or shrank, bytes per trust class before and after; JSON at
/// `/api/diff`, as `abovo audit --against OLD`) and `/diff/NAME` for one
/// package (`/api/diff/NAME`, as `abovo seeds NAME --against OLD`).
///
/// Everything is served from the binary (no CDN: it works offline). Only
/// GET and HEAD; request heads, connections and each client's rate are
/// bounded; on the loopback (the default) only requests for localhost are
/// answered. Runs until interrupted (Ctrl-C or SIGTERM). Exit status: 2
/// when the graph or the address cannot be used.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The address to listen on (port 0: any free port, printed on
    /// standard error). An address other than the loopback serves other
    /// machines too: abovo warns.
    #[arg(
        long,
        short = 'l',
        default_value = "127.0.0.1:8080",
        value_name = "ADDR:PORT"
    )]
    pub listen: String,
    /// New questions a second one client address may ask (0: no limit);
    /// beyond it, 429 Too Many Requests. Answers given before are kept and
    /// served again without counting.
    #[arg(long, default_value_t = 50, value_name = "N")]
    pub rate: u32,
    /// Connections served at once (others wait).
    #[arg(long, default_value_t = 256, value_name = "N")]
    pub max_connections: usize,
    /// Worker threads (default: one per core).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub workers: usize,
    /// An older revision to compare with, for the diff view: any source
    /// --source takes (a store directory, a directory or `.tar.zst` of
    /// `.drv` files, a corpus folder, an abovo snapshot) or `built-in`.
    /// Packages are matched by name across versions, as by `abovo audit
    /// --against`.
    #[arg(long, value_name = "OLD_SOURCE")]
    pub against: Option<std::path::PathBuf>,
    /// The graph and the seeds' classification (the flags of `abovo seeds`).
    #[command(flatten)]
    pub trust: TrustArgs,
}

/// Runs `abovo serve`.
pub fn run(args: Args, ctx: &Context) -> anyhow::Result<u8> {
    let listener = std::net::TcpListener::bind(&args.listen)
        .with_context(|| format!("cannot listen on `{}`", args.listen))?;
    let addr = listener.local_addr()?;
    if !addr.ip().is_loopback() {
        ctx.warn(&format!(
            "listening on {addr}, not the loopback: every machine that reaches it can read \
             this graph and make this server compute (there is no authentication)"
        ));
    }
    let (graph, old) = history::both(
        || args.trust.load_graph(ctx),
        || {
            args.against
                .as_deref()
                .map(|a| history::load_old(a, ctx))
                .transpose()
        },
    );
    let (graph, old) = (graph?, old?);
    let seeds = args.trust.seeds()?;
    let defaults = Options::default();
    let opts = Options {
        workers: args.workers,
        limits: abovo_serve::Limits {
            max_connections: args.max_connections,
            ..defaults.limits
        },
        rate: args.rate,
        description: graph.description().to_owned(),
        against: old.as_ref().map(|g| g.description().to_owned()),
        // The distribution's diff takes seconds (two audits): start it now.
        warm: old.iter().map(|_| Question::AuditAgainst).collect(),
        ..defaults
    };
    // One line on standard error, always (even with --quiet): scripts and
    // tests that asked for port 0 read the address from it.
    let against = old
        .as_ref()
        .map(|g| format!(" against {}", g.description()))
        .unwrap_or_default();
    eprintln!(
        "abovo serve: serving {}{against} on http://{addr}/",
        graph.description()
    );
    let index = SearchIndex::new(&graph);
    let explorer = CliExplorer {
        graph,
        old,
        seeds,
        trust: args.trust,
        index,
    };
    abovo_serve::server::serve(
        Arc::new(explorer),
        opts,
        listener,
        super::publish::shutdown_signal(),
    )
    .context("the server stopped")?;
    Ok(exit::SUCCESS)
}

/// The answers of the command line over one loaded graph.
struct CliExplorer {
    graph: Graph,
    /// The older revision of the diff view (`--against`).
    old: Option<Graph>,
    seeds: Seeds,
    trust: TrustArgs,
    index: SearchIndex,
}

/// The package table as searched: each row's name in lower case and its
/// `.drv` path, made once.
struct SearchIndex {
    rows: Vec<(String, String)>,
}

impl SearchIndex {
    fn new(graph: &Graph) -> SearchIndex {
        let store = graph.store_dir();
        let rows = graph
            .packages()
            .rows()
            .iter()
            .map(|p| (p.name.to_lowercase(), store.display(&p.derivation)))
            .collect();
        SearchIndex { rows }
    }
}

/// A quiet context: the server's answers carry no notes on standard error.
fn quiet() -> Context {
    Context::new(&GlobalArgs {
        color: ColorChoice::Never,
        quiet: true,
    })
}

fn failed(e: anyhow::Error) -> Refusal {
    Refusal {
        status: 500,
        message: format!("{e:#}"),
    }
}

impl CliExplorer {
    /// Resolves a name as the command line does; a name nothing matches
    /// is a 404 with the command line's message (near matches and all).
    fn resolve(&self, name: &str) -> Result<NodeId, Refusal> {
        crate::source::resolve_one(&self.graph, name, &self.trust.preferences(), &quiet()).map_err(
            |e| Refusal {
                status: 404,
                message: format!("{e:#}"),
            },
        )
    }

    fn seeds_json(&self, name: &str) -> Result<Vec<u8>, Refusal> {
        let target = self.resolve(name)?;
        let report =
            abovo_trust::report::trust_report(&self.graph, target, &self.seeds, &self.trust.walk())
                .map_err(|e| failed(e.into()))?;
        pretty(&report)
    }

    fn audit_json(&self) -> Result<Vec<u8>, Refusal> {
        let ctx = quiet();
        let (packages, audited) =
            crate::commands::audit::packages_of(&self.graph, None, &self.trust.preferences(), &ctx)
                .map_err(failed)?;
        let top = crate::commands::audit::DEFAULT_TOP;
        let mut report =
            abovo_trust::audit::audit(&self.graph, &packages, &self.seeds, &self.trust.walk(), top)
                .map_err(|e| failed(e.into()))?;
        report.audited = audited;
        let mut out = Vec::new();
        crate::report::json::write(&mut out, &report).map_err(|e| failed(e.into()))?;
        out.push(b'\n');
        Ok(out)
    }

    /// The older revision, or why there is no diff view.
    fn old(&self) -> Result<&Graph, Refusal> {
        self.old.as_ref().ok_or_else(|| Refusal {
            status: 404,
            message: "no older revision to compare with: start `abovo serve --against OLD_SOURCE` \
                      for the diff view"
                .into(),
        })
    }

    /// `abovo seeds NAME --against OLD --format json`.
    fn seeds_against_json(&self, name: &str) -> Result<Vec<u8>, Refusal> {
        let old = self.old()?;
        let target = self.resolve(name)?;
        let prefs = self.trust.preferences();
        let old_target = history::resolve_old(old, &self.graph, name, target, &prefs, &quiet())
            .map_err(|e| Refusal {
                status: 404,
                message: format!("{e:#}"),
            })?;
        let (cmp, _) = history::compare_targets(
            (old, old_target),
            (&self.graph, target),
            &self.seeds,
            &self.trust.walk(),
        )
        .map_err(failed)?;
        crate::report::history::json(&cmp, None).map_err(failed)
    }

    /// `abovo audit --against OLD --format json`.
    fn audit_against_json(&self) -> Result<Vec<u8>, Refusal> {
        let old = self.old()?;
        let (ctx, prefs) = (quiet(), self.trust.preferences());
        let (new_p, new_what) =
            crate::commands::audit::packages_of(&self.graph, None, &prefs, &ctx).map_err(failed)?;
        let (old_p, old_what) =
            history::old_packages(old, &new_p, None, &prefs, &ctx).map_err(failed)?;
        let (cmp, _) = history::compare_distributions(
            (old, &old_p, old_what),
            (&self.graph, &new_p, new_what),
            &self.seeds,
            &self.trust.walk(),
        )
        .map_err(failed)?;
        crate::report::history::json(&cmp, None).map_err(failed)
    }

    /// `abovo show --derivation PATH --format recipe-json`: the `.drv`
    /// read from the places of items when it is at hand (the built-in
    /// items, the `--source` directory), else what the graph knows. Only
    /// a derivation of the graph is looked for: a path is never opened
    /// because a client named it.
    fn derivation_json(&self, path: &str) -> Result<Vec<u8>, Refusal> {
        use crate::commands::show;
        let node = self.resolve(path)?;
        let g = &self.graph;
        show::check_derivation(g, node, path, g.description()).map_err(|e| Refusal {
            status: 404,
            message: format!("{e:#}"),
        })?;
        let source_places = crate::places::graph_source_places(self.trust.source.as_deref());
        let places = crate::places::PlaceArgs::default()
            .places(g.store_dir(), &source_places)
            .map_err(failed)?;
        let mut recipe = match show::read_drv(g, node, &places).map_err(failed)? {
            Ok((bytes, place)) => {
                show::recipe::of_text(None, &bytes, &g.display_path(node), Some(place), Some(g))
                    .map_err(failed)?
            }
            Err(_) => abovo_trust::recipe::Recipe::from_graph(g, node).ok_or_else(|| Refusal {
                status: 404,
                message: format!("`{path}` is not a derivation"),
            })?,
        };
        let options = abovo_trust::items::SummaryOptions {
            max_lines: show::DEFAULT_MAX_LINES,
            ..Default::default()
        };
        recipe
            .read_items(&places, &options)
            .map_err(|e| failed(e.into()))?;
        pretty(&show::recipe::recipe_json(&recipe))
    }

    /// Suggestions: packages whose name holds the text (exact names
    /// first, then prefixes), `name@version` prefixes, and `.drv` paths
    /// holding it. Not a command of its own: the command line takes the
    /// same names directly.
    fn search_json(&self, q: &str) -> Result<Vec<u8>, Refusal> {
        const SHOWN: usize = 50;
        let q = q.trim();
        let lower = q.to_lowercase();
        let (name_q, version_q) = match lower.split_once('@') {
            Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
            None => (lower.clone(), None),
        };
        let mut hits: Vec<(u8, usize, &abovo_graph::packages::Package, &str)> = Vec::new();
        if !q.is_empty() {
            for (p, (name, drv)) in self.graph.packages().rows().iter().zip(&self.index.rows) {
                let version_ok = version_q
                    .as_ref()
                    .is_none_or(|v| p.version.starts_with(v.as_str()));
                let bare = strip_language(name);
                let rank = if *name == name_q && version_ok {
                    0
                } else if name.starts_with(&name_q) && version_ok {
                    1
                } else if bare.starts_with(&name_q) && version_ok {
                    2
                } else if name.contains(&name_q) && version_ok {
                    3
                } else if drv.contains(q) {
                    4
                } else {
                    continue;
                };
                hits.push((rank, p.name.len(), p, drv));
            }
        }
        hits.sort_by(|a, b| {
            (a.0, a.1, &a.2.name)
                .cmp(&(b.0, b.1, &b.2.name))
                .then_with(|| b.2.version.cmp(&a.2.version))
        });
        let matches: Vec<serde_json::Value> = hits
            .iter()
            .take(SHOWN)
            .map(|(rank, _, p, drv)| {
                serde_json::json!({
                    "name": p.name,
                    "version": p.version,
                    "spec": p.full_name(),
                    "derivation": drv,
                    "module": p.module,
                    "matched": if *rank == 4 { "derivation" } else { "name" },
                })
            })
            .collect();
        pretty(&serde_json::json!({
            "query": q,
            "total": hits.len(),
            "matches": matches,
        }))
    }
}

/// A package name without the language prefix of Guix's naming
/// convention (`python-pytorch` → `pytorch`), so that a search for
/// `pytorch` puts the library before packages merely named after it.
fn strip_language(name: &str) -> &str {
    const PREFIXES: [&str; 14] = [
        "python-", "ghc-", "perl-", "ruby-", "rust-", "go-", "r-", "ocaml-", "guile-", "emacs-",
        "node-", "java-", "julia-", "lua-",
    ];
    PREFIXES
        .iter()
        .find_map(|p| name.strip_prefix(p))
        .unwrap_or(name)
}

/// JSON as `print_json` writes it (pretty, with a final newline).
fn pretty<T: serde::Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, Refusal> {
    let mut out = serde_json::to_vec_pretty(value).map_err(|e| failed(e.into()))?;
    out.push(b'\n');
    Ok(out)
}

impl Explorer for CliExplorer {
    fn answer(&self, question: &Question) -> Result<Vec<u8>, Refusal> {
        match question {
            Question::Info => pretty(&serde_json::json!({
                "graph": self.graph.description(),
                "against": self.old.as_ref().map(Graph::description),
                "version": env!("CARGO_PKG_VERSION"),
            })),
            Question::Search(q) => self.search_json(q),
            Question::Seeds(name) => self.seeds_json(name),
            Question::Dependents(name) => {
                let target = self.resolve(name)?;
                let kind = crate::packages::choose_kind(
                    &self.graph,
                    None,
                    GraphKind::BagEmerged,
                    &quiet(),
                );
                crate::commands::dependents::json(
                    &self.graph,
                    &[target],
                    std::slice::from_ref(name),
                    kind,
                    |json| pretty(json),
                )
                .map_err(failed)?
            }
            Question::Closure(name) => {
                let target = self.resolve(name)?;
                let walk = crate::source::WalkArgs::default().walk(None);
                let s = abovo_graph::query::closure_summary(&self.graph, &[target], &walk);
                let cache = self.trust.net.cache();
                pretty(&crate::commands::closure::derivation_json(
                    &self.graph,
                    &[target],
                    &s,
                    cache.as_ref(),
                ))
            }
            Question::Audit => self.audit_json(),
            Question::Derivation(path) => self.derivation_json(path),
            Question::AuditAgainst => self.audit_against_json(),
            Question::SeedsAgainst(name) => self.seeds_against_json(name),
        }
    }
}
