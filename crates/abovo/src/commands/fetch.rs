//! `abovo fetch TARGET…`: realise the fixed outputs a target rests on into
//! abovo's content-addressed cache, verified against their derivations'
//! own hashes. [`NetArgs`] are its network and cache flags, shared with
//! `seeds --fetch`, `audit --fetch` and `closure --fetch`.

use crate::commands::trust_common::TrustArgs;
use crate::exit;
use crate::output::{Context, Format, TEXT_JSON, print_json, sanitize};
use crate::report::human_bytes;
use crate::report::text::{count, plural, title_line};
use abovo_fetch::cache::Cache;
use abovo_fetch::debian::{AptSource, apt_sources};
use abovo_fetch::keys::AuthorizedKeys;
use abovo_fetch::realise::{LocalStore, Outcome, Progress, Realiser, Request, Settings, Status};
use abovo_graph::{Graph, NodeId};
use abovo_store::derivation::{Derivation, Output};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Guix's official substitute servers, the default of `--substitute-urls`.
pub const DEFAULT_SUBSTITUTE_URLS: &str = "https://bordeaux.guix.gnu.org https://ci.guix.gnu.org";

/// Where fetched content is kept and where it may come from.
#[derive(Debug, Clone, clap::Args)]
pub struct NetArgs {
    /// The cache directory. Default: $ABOVO_CACHE_DIR, else
    /// $XDG_CACHE_HOME/abovo, else ~/.cache/abovo (see docs/fetch.md).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Do not read the cache (by default `seeds`, `audit` and `closure`
    /// use what it holds).
    #[arg(long)]
    pub no_cache: bool,
    /// How many items to fetch at once.
    #[arg(long, short = 'j', default_value_t = 4, value_name = "N")]
    pub jobs: usize,
    /// Use no network: only the cache and the stores.
    #[arg(long)]
    pub offline: bool,
    /// Substitute servers, separated by spaces, tried in order (narinfo,
    /// then NAR). An empty string asks none.
    #[arg(long, value_name = "URLS", default_value = DEFAULT_SUBSTITUTE_URLS)]
    pub substitute_urls: String,
    /// Whose signatures are trusted.
    #[command(flatten)]
    pub keys: KeyArgs,
    /// Accept narinfos that are unsigned or signed by an unknown key (the
    /// content is still checked against the derivation's hash; a signature
    /// that does not verify is refused all the same).
    #[arg(long)]
    pub allow_untrusted: bool,
    /// A content-addressed mirror: a base URL (BASE/ALGO/NIX32-HASH is
    /// asked, as tarballs.nixos.org serves them) or a template with
    /// {file}, {algo}, {hash} (nix-base32) and {hex}. May be repeated.
    #[arg(long = "mirror", value_name = "URL")]
    pub mirrors: Vec<String>,
    /// Debian archive to look flat SHA-256 hashes up in (its Sources
    /// indices). Default: the archives of this machine's apt sources.
    #[arg(long, value_name = "URL")]
    pub debian_mirror: Option<String>,
    /// Suite of --debian-mirror (may be repeated; default: bookworm).
    #[arg(long, value_name = "SUITE")]
    pub debian_suite: Vec<String>,
    /// Do not look in Debian's archive.
    #[arg(long)]
    pub no_debian: bool,
    /// Do not use the derivations' own URLs.
    #[arg(long)]
    pub no_urls: bool,
    /// A mirrors file to expand mirror:// URLs with, instead of the
    /// derivations' own (Guix's `((gnu "https://…/" …) …)` form).
    #[arg(long, value_name = "FILE")]
    pub mirrors_file: Option<PathBuf>,
    /// Timeouts, retries and TLS trust.
    #[command(flatten)]
    pub http: HttpArgs,
}

/// The HTTP client's flags, shared by `fetch` (and the commands that
/// fetch) and `challenge`.
#[derive(Debug, Clone, clap::Args)]
pub struct HttpArgs {
    /// Seconds to wait for a connection, a response, or each read.
    #[arg(long, default_value_t = 20, value_name = "SECONDS")]
    pub timeout: u64,
    /// Extra attempts after a transient failure (timeouts, HTTP 5xx).
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub retries: u32,
    /// Trust this CA file for https instead of the system's.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
}

impl HttpArgs {
    /// The client's options.
    pub fn options(&self) -> abovo_fetch::HttpOptions {
        abovo_fetch::HttpOptions {
            timeout: Duration::from_secs(self.timeout.max(1)),
            retries: self.retries,
            trust: match &self.ca_file {
                Some(f) => abovo_fetch::tls::Trust::CaFile(f.clone()),
                None => abovo_fetch::tls::Trust::FromEnvironment,
            },
            user_agent: format!("abovo/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

impl NetArgs {
    /// The cache, unless `--no-cache` (or no location can be found).
    pub fn cache(&self) -> Option<Cache> {
        if self.no_cache {
            return None;
        }
        self.cache_location()
    }

    /// Where the cache is, read or not: `--cache-dir`, else the default.
    fn cache_location(&self) -> Option<Cache> {
        self.cache_dir
            .clone()
            .or_else(Cache::default_dir)
            .map(Cache::new)
    }

    /// The settings of a run.
    /// `dirs` are directories that may hold outputs under their `/gnu/store`
    /// base names (the `--source` store, `--seed-dir`s).
    pub fn settings(&self, dirs: &[PathBuf], narinfo_only: bool) -> anyhow::Result<Settings> {
        let keys = self.keys.load()?;
        let debian = if self.no_debian {
            Vec::new()
        } else if let Some(m) = &self.debian_mirror {
            let suites = if self.debian_suite.is_empty() {
                vec!["bookworm".to_owned()]
            } else {
                self.debian_suite.clone()
            };
            suites
                .into_iter()
                .map(|suite| AptSource {
                    uri: m.clone(),
                    suite,
                    component: "main".into(),
                })
                .collect()
        } else {
            apt_sources(std::path::Path::new("/"))
        };
        let mut stores: Vec<LocalStore> = dirs
            .iter()
            .filter(|d| d.is_dir())
            .map(|d| LocalStore {
                dir: d.clone(),
                store_dir: None,
            })
            .collect();
        if let Some(own) = super::store::own_store_from_env()
            .map(PathBuf::from)
            .or_else(abovo_build::store::default_store_dir)
        {
            if let Ok(sd) = abovo_store::StoreDir::new(own.to_string_lossy().as_ref()) {
                stores.push(LocalStore {
                    dir: own,
                    store_dir: Some(sd),
                });
            }
        }
        Ok(Settings {
            stores,
            substitute_urls: substitute_urls(&self.substitute_urls),
            keys,
            allow_untrusted: self.allow_untrusted,
            mirrors: self.mirrors.clone(),
            debian,
            no_urls: self.no_urls,
            offline: self.offline,
            narinfo_only,
            http: self.http.options(),
        })
    }

    /// The mirrors file's text given with `--mirrors-file`.
    fn mirrors_override(&self) -> anyhow::Result<Option<String>> {
        self.mirrors_file
            .as_ref()
            .map(|f| {
                std::fs::read_to_string(f).map_err(|e| {
                    anyhow::anyhow!("cannot read the mirrors file `{}`: {e}", f.display())
                })
            })
            .transpose()
    }
}

/// The servers of a `--substitute-urls` value: separated by white space,
/// without trailing `/`.
pub fn substitute_urls(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|s| s.trim_end_matches('/').to_owned())
        .collect()
}

/// A progress bar on standard error for `len` things, drawn with
/// `template` (indicatif's), ticking so that a slow step still moves.
pub fn stderr_bar(len: u64, template: &str) -> ProgressBar {
    let b = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    b.set_style(
        ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    b.enable_steady_tick(Duration::from_millis(200));
    b
}

/// `--authorized-key`: the keys whose signatures `fetch` (through
/// [`NetArgs`]) and `challenge` trust.
#[derive(Debug, Clone, clap::Args)]
pub struct KeyArgs {
    /// A file of authorised signing keys: Guix's ACL or a `(public-key …)`
    /// S-expression, or Nix keys `name:base64`. May be repeated. Default:
    /// /etc/guix/acl when it exists.
    #[arg(long = "authorized-key", value_name = "FILE")]
    pub authorized_keys: Vec<PathBuf>,
}

impl KeyArgs {
    /// The authorised keys of the files (either form, see
    /// [`abovo_fetch::keys`]); with none given, Guix's ACL `/etc/guix/acl`
    /// when it exists.
    pub fn load(&self) -> anyhow::Result<AuthorizedKeys> {
        let mut keys = AuthorizedKeys::default();
        let mut key_files = self.authorized_keys.clone();
        if key_files.is_empty() && std::path::Path::new("/etc/guix/acl").is_file() {
            key_files.push("/etc/guix/acl".into());
        }
        for f in &key_files {
            let text = std::fs::read_to_string(f)
                .map_err(|e| anyhow::anyhow!("cannot read the key file `{}`: {e}", f.display()))?;
            keys.add_text(&text)
                .map_err(|e| anyhow::anyhow!("key file `{}`: {e}", f.display()))?;
        }
        Ok(keys)
    }
}

/// Fetches what `nodes` rest on before a report (`--fetch`), telling on
/// standard error what was fetched; the exit code (1 when some items
/// could not be fetched, which the report then shows with unknown sizes).
pub fn fetch_first(
    g: &Graph,
    nodes: &[NodeId],
    net: &NetArgs,
    dirs: &[PathBuf],
    ctx: &Context,
) -> anyhow::Result<u8> {
    let (report, code) = fetch_nodes(g, nodes, net, dirs, false, ctx)?;
    ctx.note(&format!(
        "--fetch: {} cached, {} fetched ({} received), {} could not be fetched{}",
        count(report.cached as u64),
        count(report.fetched as u64),
        human_bytes(report.downloaded),
        count(report.failed as u64),
        if report.failed > 0 {
            " (`abovo fetch` says why for each)"
        } else {
            ""
        }
    ));
    Ok(code)
}

/// `--fetch` of `seeds` and `audit`: fetches the fixed-output seeds of
/// `roots` ([`fixed_outputs`], each once) with the flags of `trust`.
pub fn fetch_seeds_first(
    g: &Graph,
    roots: &[NodeId],
    trust: &TrustArgs,
    ctx: &Context,
) -> anyhow::Result<u8> {
    let mut nodes = fixed_outputs(g, roots, false, trust);
    nodes.sort_unstable();
    nodes.dedup();
    fetch_first(g, &nodes, &trust.net, &trust.local_dirs(), ctx)
}

/// Realise the fixed-output derivations TARGET rests on (its seeds; the
/// whole closure's with --closure) into abovo's content-addressed cache.
///
/// Every candidate is verified against the derivation's own hash (flat or
/// recursive) before it is kept. Sources, in order: the cache; a store
/// holding the output (--source when it is a store directory, --seed-dir,
/// abovo's own store); substitute servers (narinfo, signature checked,
/// then the NAR); content-addressed mirrors (/file/ on substitute servers,
/// the derivation's own, --mirror, Debian's source archive by SHA-256);
/// the derivation's own URLs (mirror:// expanded) or git. Exit code 0:
/// everything is in the cache; 1: some items could not be fetched (the
/// report says why for each); 2: an error.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Packages or derivations.
    #[arg(required = true, value_name = "TARGET")]
    pub targets: Vec<String>,
    /// Every fixed-output derivation of the closure, not only the seeds.
    #[arg(long)]
    pub closure: bool,
    /// Ask substitute servers for narinfos only (their sizes), not for
    /// content.
    #[arg(long)]
    pub narinfo_only: bool,
    /// Output format.
    #[arg(long, short = 'f', default_value = "text", value_parser = Format::parser(TEXT_JSON))]
    pub format: Format,
    /// Graph source and seed flags.
    #[command(flatten)]
    pub trust: TrustArgs,
}

/// Runs `abovo fetch`.
pub fn run(args: Args, ctx: &Context) -> anyhow::Result<u8> {
    let g = args.trust.load_graph(ctx)?;
    let mut roots = Vec::new();
    for t in &args.targets {
        roots.push(crate::source::resolve_one(
            &g,
            t,
            &args.trust.preferences(),
            ctx,
        )?);
    }
    let nodes = fixed_outputs(&g, &roots, args.closure, &args.trust);
    warn_impure(ctx, &g, &roots, args.closure, &args.trust);
    let (report, code) = fetch_nodes(
        &g,
        &nodes,
        &args.trust.net,
        &args.trust.local_dirs(),
        args.narinfo_only,
        ctx,
    )?;
    match args.format {
        Format::Json => print_json(&report)?,
        _ => {
            let text = render_text(&report, &|sgr, t| ctx.style(sgr, t));
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
    }
    Ok(code)
}

/// The fixed-output derivations `roots` rest on: the seeds of the trust
/// walk, or every one of the closure.
pub fn fixed_outputs(g: &Graph, roots: &[NodeId], closure: bool, trust: &TrustArgs) -> Vec<NodeId> {
    let mut out: Vec<NodeId> = Vec::new();
    for &r in roots {
        let nodes = if closure {
            abovo_graph::query::closure_summary(g, &[r], &abovo_graph::query::Walk::default())
                .fixed_output
        } else {
            abovo_trust::report::walk(g, r, &trust.walk())
                .seeds
                .into_iter()
                .filter(|&n| g.is_fixed_output(n))
                .collect()
        };
        out.extend(nodes);
    }
    out
}

/// Warns when `roots` rest on impure derivations (Nix's `__impure`): they
/// fetch what they like with no hash to pin it, so there is nothing
/// abovo could fetch and verify in their place.
fn warn_impure(ctx: &Context, g: &Graph, roots: &[NodeId], closure: bool, trust: &TrustArgs) {
    let mut impure: Vec<NodeId> = Vec::new();
    for &r in roots {
        let nodes = if closure {
            abovo_graph::query::closure_summary(g, &[r], &abovo_graph::query::Walk::default())
                .derivations
        } else {
            abovo_trust::report::walk(g, r, &trust.walk()).seeds
        };
        impure.extend(
            nodes
                .into_iter()
                .filter(|&n| g.derivation(n).is_some_and(|d| d.is_impure())),
        );
    }
    impure.sort_unstable();
    impure.dedup();
    if let Some(&first) = impure.first() {
        ctx.warn(&format!(
            "{} rests on {} (the first: {}): an impure derivation fetches what it likes, pinned \
             by no hash, and abovo does not support impure derivations: nothing is fetched for it",
            if roots.len() == 1 {
                "the target"
            } else {
                "the targets"
            },
            plural(impure.len(), "impure derivation", "impure derivations"),
            g.display_path(first),
        ));
    }
}

/// What `abovo fetch` reports.
#[derive(Debug, serde::Serialize)]
pub struct FetchReport {
    /// The cache.
    pub cache: String,
    /// Items that were in the cache already.
    pub cached: usize,
    /// Items fetched now.
    pub fetched: usize,
    /// Items found only as narinfos (`--narinfo-only`).
    pub narinfo: usize,
    /// Items no source gave.
    pub failed: usize,
    /// Bytes received.
    pub downloaded: u64,
    /// Every item.
    pub items: Vec<Outcome>,
}

/// Fetches the fixed outputs of `nodes` (one request per output path);
/// the report and the exit code (1 when some could not be fetched).
pub fn fetch_nodes(
    g: &Graph,
    nodes: &[NodeId],
    net: &NetArgs,
    dirs: &[PathBuf],
    narinfo_only: bool,
    ctx: &Context,
) -> anyhow::Result<(FetchReport, u8)> {
    let cache = net.cache_location().ok_or_else(|| {
        anyhow::anyhow!(
            "no cache directory: set --cache-dir, ABOVO_CACHE_DIR, XDG_CACHE_HOME or HOME"
        )
    })?;
    let settings = net.settings(dirs, narinfo_only)?;
    let mirrors_override = net.mirrors_override()?;
    let mut seen = std::collections::HashSet::new();
    let requests: Vec<Request> = nodes
        .iter()
        .filter_map(|&n| request(g, n, mirrors_override.as_deref()))
        .filter(|r| seen.insert(r.store_path.clone()))
        .collect();
    let bar = FetchBar::new(ctx, requests.len() as u64);
    let realiser = Realiser::new(&cache, &settings, &bar).map_err(|e| anyhow::anyhow!(e))?;
    let items = realiser.realise_all(&requests, net.jobs.max(1));
    bar.finish();
    let by = |s: Status| items.iter().filter(|o| o.status == s).count();
    let report = FetchReport {
        cache: cache.root().display().to_string(),
        cached: by(Status::Cached),
        fetched: by(Status::Fetched),
        narinfo: by(Status::Narinfo),
        failed: by(Status::Failed),
        downloaded: items.iter().map(|o| o.downloaded).sum(),
        items,
    };
    let code = if report.failed > 0 {
        exit::NEGATIVE
    } else {
        exit::SUCCESS
    };
    Ok((report, code))
}

/// The request for fixed-output node `n`, with the text of its mirror
/// lists when they can be found (verified against the store metadata's
/// NAR hash when it has one).
fn request(g: &Graph, n: NodeId, mirrors_override: Option<&str>) -> Option<Request> {
    let d = g.derivation(n)?;
    let fixed = d.fixed_output()?;
    let out = d.fixed_output_path()?;
    let store = g.store_dir();
    let mut drv = Derivation {
        system: d.system().to_owned(),
        builder: d.builder().to_owned(),
        ..Derivation::default()
    };
    for (k, v) in d.env_vars() {
        drv.environment
            .insert(k.as_bytes().to_vec(), v.as_bytes().to_vec());
    }
    drv.outputs.insert(
        "out".into(),
        Output {
            path: Some(out.clone()),
            hash_algo: fixed.hash_algo_field(),
            hash: fixed.hash.to_base16(),
        },
    );
    let text_of = |var: &str| -> Option<String> {
        let path = d.env(var).filter(|p| !p.is_empty())?;
        item_text(g, path)
    };
    let mirrors = mirrors_override
        .map(str::to_owned)
        .or_else(|| text_of("mirrors"));
    let ca_mirrors = text_of("content-addressed-mirrors");
    Some(Request {
        store_path: store.display(&out),
        fixed,
        derivation: Some(drv),
        mirrors,
        ca_mirrors,
    })
}

/// The text of store item `path` (a mirrors file): on disk at its path,
/// else built in; when the graph records its NAR hash, the text must
/// match it.
fn item_text(g: &Graph, path: &str) -> Option<String> {
    let base = path.rsplit('/').next()?;
    let text = std::fs::read_to_string(path)
        .ok()
        .or_else(|| abovo_fetch::guix_data::item_text(base).map(str::to_owned))?;
    let recorded = g
        .store_dir()
        .parse(path)
        .ok()
        .and_then(|p| g.lookup(&p))
        .and_then(|node| g.meta().nar_hash(node));
    match recorded {
        Some(h) if abovo_store::nar::hash_regular_bytes(text.as_bytes(), false).hash != h => None,
        _ => Some(text),
    }
}

/// A progress bar on standard error: items done, bytes received, rate,
/// and the time left.
struct FetchBar {
    bar: Option<ProgressBar>,
    bytes: AtomicU64,
    start: std::time::Instant,
}

impl FetchBar {
    fn new(ctx: &Context, items: u64) -> FetchBar {
        let bar = (ctx.progress && items > 0).then(|| {
            stderr_bar(
                items,
                "{spinner} fetching [{bar:30}] {pos}/{len} items, {msg}, ETA {eta}",
            )
        });
        FetchBar {
            bar,
            bytes: AtomicU64::new(0),
            start: std::time::Instant::now(),
        }
    }

    fn message(&self) -> String {
        let b = self.bytes.load(Ordering::Relaxed);
        let secs = self.start.elapsed().as_secs_f64().max(0.001);
        format!(
            "{} at {}/s",
            human_bytes(b),
            human_bytes((b as f64 / secs) as u64)
        )
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl Progress for FetchBar {
    fn bytes(&self, n: u64) {
        self.bytes.fetch_add(n, Ordering::Relaxed);
        if let Some(b) = &self.bar {
            b.set_message(self.message());
        }
    }

    fn finished(&self, _outcome: &Outcome) {
        if let Some(b) = &self.bar {
            b.inc(1);
            b.set_message(self.message());
        }
    }
}

/// The text report: one line per item, then why each failure failed.
pub fn render_text(r: &FetchReport, style: &dyn Fn(&str, &str) -> String) -> String {
    let mut o = String::new();
    let title = format!(
        "Fetched {} into {}",
        plural(r.items.len(), "fixed output", "fixed outputs"),
        sanitize(&r.cache)
    );
    o.push_str(&title_line(style, &title));
    // Successes first, then what could not be fetched with why.
    let mut items: Vec<&Outcome> = r.items.iter().collect();
    items.sort_by_key(|o| o.status == Status::Failed);
    for it in items {
        let (mark, sgr) = match it.status {
            Status::Cached => ("cached ", "32"),
            Status::Fetched => ("fetched", "1;32"),
            Status::Narinfo => ("narinfo", "36"),
            Status::Failed => ("FAILED ", "1;31"),
        };
        let size = match (&it.measured, &it.narinfo) {
            (Some(m), _) if it.hash.starts_with("r:") && m.nar_size != m.bytes => {
                format!("{} B (NAR {} B)", count(m.bytes), count(m.nar_size))
            }
            (Some(m), _) => format!("{} B", count(m.bytes)),
            (None, Some(n)) => format!("NAR {} B (narinfo)", count(n.nar_size)),
            (None, None) => String::new(),
        };
        let from = match (&it.source, &it.location) {
            (Some(k), Some(l)) => format!(" from {} {}", k.name(), sanitize(l)),
            _ => String::new(),
        };
        o.push_str(&format!(
            "  {} {}  {}{}{}\n",
            style(sgr, mark),
            sanitize(&it.name),
            size,
            if it.verified { ", verified" } else { "" },
            from
        ));
        if it.status == Status::Failed || it.status == Status::Narinfo {
            for a in &it.attempts {
                o.push_str(&format!(
                    "      {} {}: {}\n",
                    a.source.name(),
                    sanitize(&a.location),
                    sanitize(&a.error)
                ));
            }
        }
    }
    o.push_str(&format!(
        "\n{} cached, {} fetched ({} received){}, {} could not be fetched\n",
        count(r.cached as u64),
        count(r.fetched as u64),
        human_bytes(r.downloaded),
        if r.narinfo > 0 {
            format!(", {} narinfo only", count(r.narinfo as u64))
        } else {
            String::new()
        },
        count(r.failed as u64)
    ));
    o
}
