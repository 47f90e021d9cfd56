//! `abovo challenge TARGET…`: do independent builders agree on every
//! output, and who vouches for each? (`guix challenge`, with signatures
//! and a K-of-N policy.)

use crate::exit;
use crate::output::{Context, Format, print_json, sanitize};
use crate::report::text::{count, plural};
use crate::report::{esc, page};
use abovo_challenge::ask::{Challenger, ItemReport, Report};
use abovo_challenge::verdict::{Answer, Standing, Verdict};
use abovo_graph::query::{Walk, closure_summary};
use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;

const FORMATS: &[Format] = &[Format::Text, Format::Json, Format::Html];

/// Compare what substitute servers (and the local store) hold for each
/// output of TARGET: do independent builders agree, and who signed what?
///
/// For every output (of the targets, or of their whole build closure with
/// --closure), each server's narinfo is fetched (in parallel, with
/// timeouts) and its signature checked against the authorised keys; the
/// NarHashes are compared with one another and, with --local, with
/// abovo's own store. Verdicts: `agree` (two or more independent signers
/// give the same hash; one key on several servers is one signer, the
/// local store is one), `differ` (trusted answers disagree), `only-one`,
/// `unsigned`, `untrusted` (signed by keys not authorised) and
/// `unavailable`. Untrusted answers are shown but never decide.
///
/// A TARGET is a package name, a `.drv` path or an output path, resolved
/// in the graph (--source, default the built-in Guix 1.5.0 snapshot); an
/// output path is challenged as is, without a graph, unless --closure.
///
/// Exit status: 0 when no output differs (and, with --require K, every
/// output has K agreeing signers); 1 when one differs or --require K is
/// not met; 2 on an error (bad arguments, unreadable keys).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Packages, derivations or output paths.
    #[arg(required = true, value_name = "TARGET")]
    pub targets: Vec<String>,
    /// Challenge every output of the targets' build closure.
    #[arg(long)]
    pub closure: bool,
    /// The servers to compare, separated by spaces (http or https).
    #[arg(long, value_name = "URLS", default_value = super::fetch::DEFAULT_SUBSTITUTE_URLS)]
    pub substitute_urls: String,
    /// Compare with abovo's own store too ($ABOVO_STORE and
    /// $ABOVO_STATE_DIR, or the default store): its NarHash counts as one
    /// signer, `local`.
    #[arg(long)]
    pub local: bool,
    /// Whose signatures are trusted.
    #[command(flatten)]
    pub keys: super::fetch::KeyArgs,
    /// Fail (exit 1) unless at least K independent signers agree on every
    /// output.
    #[arg(long, value_name = "K")]
    pub require: Option<usize>,
    /// For outputs that differ, stream both NARs and show the file-by-file
    /// differences (`abovo diff`'s), without unpacking them to disk.
    #[arg(long)]
    pub diff: bool,
    /// Also list the outputs that agree (text).
    #[arg(long, short = 'v')]
    pub verbose: bool,
    /// Output format.
    #[arg(long, short = 'f', default_value = "text", value_parser = Format::parser(FORMATS))]
    pub format: Format,
    /// Requests in flight at once.
    #[arg(long, short = 'j', default_value_t = 16, value_name = "N")]
    pub jobs: usize,
    /// Timeouts, retries and TLS trust.
    #[command(flatten)]
    pub http: super::fetch::HttpArgs,
    /// The system a name prefers.
    #[arg(long, value_name = "SYSTEM", default_value_t = abovo_graph::resolve::host_system(),
          help = crate::source::SYSTEM_HELP)]
    pub system: String,
    /// Where the graph comes from.
    #[command(flatten)]
    pub source: crate::source::SourceArgs,
}

/// Runs `abovo challenge`.
pub fn run(args: Args, ctx: &Context) -> anyhow::Result<u8> {
    let servers = super::fetch::substitute_urls(&args.substitute_urls);
    for s in &servers {
        if !(s.starts_with("http://") || s.starts_with("https://")) {
            anyhow::bail!("--substitute-urls: `{s}` is not an http or https URL");
        }
    }
    if servers.is_empty() && !args.local {
        anyhow::bail!("nothing to compare: --substitute-urls is empty and --local is not given");
    }
    if args.require == Some(0) {
        anyhow::bail!("--require 0 asks nothing; give K ≥ 1");
    }
    let keys = args.keys.load()?;
    if keys.is_empty() {
        ctx.warn("no authorised keys (--authorized-key FILE): every narinfo is untrusted");
    }
    let items = outputs(&args, ctx)?;
    let local_store = if args.local {
        let store = super::store::StoreArgs {
            store: super::store::own_store_from_env(),
            deprecated_store_dir: None,
            real_store_dir: std::env::var_os("ABOVO_REAL_STORE_DIR").map(PathBuf::from),
            state_dir: std::env::var_os("ABOVO_STATE_DIR").map(PathBuf::from),
        };
        Some(store.open_existing()?)
    } else {
        None
    };
    let local = |path: &str| -> Option<String> {
        let store = local_store.as_ref()?;
        let p = store.parse(path).ok()?;
        let info = store.path_info(&p).ok()??;
        Some(info.nar_hash.to_nix32_string())
    };
    let client = abovo_fetch::HttpClient::new(&args.http.options(), abovo_fetch::Deadline::none())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let challenger = Challenger {
        client: &client,
        keys: &keys,
        servers,
        jobs: args.jobs,
    };
    let report = ask_all(&challenger, &items, &local, "challenging", "outputs", ctx);
    let diffs = if args.diff {
        diffs(&report, &client)
    } else {
        Vec::new()
    };
    let below = args.require.map(|k| report.below(k).len());
    match args.format {
        Format::Json => print_json(&json(&report, &diffs, args.require, below))?,
        Format::Html => crate::output::write_stdout(&html(&report, args.require, below))?,
        _ => print_text(&report, &diffs, &args, below, ctx)?,
    }
    let differ = report
        .items
        .iter()
        .any(|i| i.judged.verdict == Verdict::Differ);
    Ok(if differ || below.is_some_and(|n| n > 0) {
        exit::NEGATIVE
    } else {
        exit::SUCCESS
    })
}

/// Runs `challenger` over `items` with a progress bar on standard error
/// (`doing` … `what`), and warns of every server given up on.
pub fn ask_all(
    challenger: &Challenger<'_>,
    items: &[String],
    local: &(dyn Fn(&str) -> Option<String> + Sync),
    doing: &str,
    what: &str,
    ctx: &Context,
) -> Report {
    let bar = (ctx.progress && items.len() > 1).then(|| {
        super::fetch::stderr_bar(
            items.len() as u64,
            &format!("{{spinner}} {doing} [{{bar:30}}] {{pos}}/{{len}} {what}, ETA {{eta}}"),
        )
    });
    let tick = || {
        if let Some(b) = &bar {
            b.inc(1);
        }
    };
    let report = challenger.run(items, local, &tick);
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    for s in &report.servers {
        if let Some(why) = &s.gave_up {
            ctx.warn(&format!(
                "gave up on {} for the rest of the run: {why}",
                s.url
            ));
        }
    }
    report
}

/// The store paths to challenge, in a stable order.
fn outputs(args: &Args, ctx: &Context) -> anyhow::Result<Vec<String>> {
    let direct = |t: &str| t.starts_with('/') && !t.ends_with(".drv") && !args.closure;
    let mut items: Vec<String> = Vec::new();
    let mut seen = BTreeSet::new();
    let named: Vec<String> = args
        .targets
        .iter()
        .filter(|t| !direct(t))
        .cloned()
        .collect();
    for t in args.targets.iter().filter(|t| direct(t)) {
        let base = t.trim_end_matches('/').rsplit('/').next().unwrap_or("");
        abovo_store::StorePath::from_base_name(base)
            .map_err(|e| anyhow::anyhow!("`{t}` is not a store path: {e}"))?;
        if seen.insert(t.clone()) {
            items.push(t.trim_end_matches('/').to_owned());
        }
    }
    if named.is_empty() {
        return Ok(items);
    }
    let graph = args.source.load(ctx)?;
    let prefs = abovo_graph::resolve::Preferences::new().system(&args.system);
    let roots = named
        .iter()
        .map(|n| crate::source::resolve_one(&graph, n, &prefs, ctx))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let nodes = if args.closure {
        closure_summary(
            &graph,
            &roots,
            &Walk {
                hide_sources: true,
                ..Walk::default()
            },
        )
        .derivations
    } else {
        roots
    };
    // Nix's floating content-addressed, impure and deferred outputs have
    // no path before they are built: nothing to ask a server about.
    let mut unbuilt = Vec::new();
    for n in nodes {
        let Some(d) = graph.derivation(n) else {
            continue;
        };
        for o in d.outputs() {
            match o.path {
                Some(p) => {
                    let full = graph.store_dir().display(&p);
                    if seen.insert(full.clone()) {
                        items.push(full);
                    }
                }
                None => unbuilt.push((n, d.kind())),
            }
        }
    }
    if let Some(&(example, kind)) = unbuilt.first() {
        let message = format!(
            "{} whose paths are known only after a build (e.g. the {} outputs of {}) \
             cannot be challenged by derivation\n\
             hint: challenge the store paths they were built at",
            plural(unbuilt.len(), "output", "outputs"),
            kind.name(),
            graph.display_path(example)
        );
        if items.is_empty() {
            anyhow::bail!(message);
        }
        ctx.warn(&message);
    }
    crate::source::release_at_exit(graph);
    Ok(items)
}

/// For each item that differs, the diff of two differing trusted copies.
fn diffs(
    report: &Report,
    client: &abovo_fetch::HttpClient,
) -> Vec<(String, Result<abovo_build::diff::TreeDiff, String>)> {
    let mut out = Vec::new();
    for item in report
        .items
        .iter()
        .filter(|i| i.judged.verdict == Verdict::Differ)
    {
        // One server per trusted hash; the local store has no NAR to stream.
        let pick: Vec<usize> = item
            .judged
            .groups
            .iter()
            .filter(|g| g.trusted)
            .filter_map(|g| g.sources.iter().flatten().next().copied())
            .take(2)
            .collect();
        let diff = match pick.as_slice() {
            [a, b] => match (&item.narinfos[*a], &item.narinfos[*b]) {
                (Some(x), Some(y)) => abovo_challenge::nar::diff(
                    client,
                    (&report.servers[*a].url, x),
                    (&report.servers[*b].url, y),
                ),
                _ => Err("internal error: a narinfo is missing".into()),
            },
            _ => Err("only one of the differing copies is on a server (the other is the local store's): compare with `abovo diff` after substituting it".into()),
        };
        out.push((item.path.clone(), diff));
    }
    out
}

fn source_name(report: &Report, s: Option<usize>) -> String {
    match s {
        None => abovo_challenge::verdict::LOCAL.to_owned(),
        Some(i) => report.servers[i].url.clone(),
    }
}

fn signer_of(a: &Answer) -> String {
    match a {
        Answer::Found(f) => match &f.standing {
            Standing::Trusted { signer } => format!("signed by {signer}"),
            Standing::Unsigned => "unsigned".into(),
            Standing::Untrusted { why } => format!("untrusted: {why}"),
        },
        Answer::Missing => "does not have it".into(),
        Answer::Failed { error } => format!("failed: {error}"),
    }
}

fn verdict_style(v: Verdict) -> &'static str {
    match v {
        Verdict::Agree => "32",
        Verdict::Differ => "1;31",
        Verdict::OnlyOne | Verdict::Unsigned | Verdict::Untrusted => "33",
        Verdict::Unavailable => "2",
    }
}

fn print_text(
    report: &Report,
    diffs: &[(String, Result<abovo_build::diff::TreeDiff, String>)],
    args: &Args,
    below: Option<usize>,
    ctx: &Context,
) -> anyhow::Result<()> {
    let mut o = String::new();
    for item in &report.items {
        let v = item.judged.verdict;
        if v == Verdict::Agree && !args.verbose {
            continue;
        }
        let head = match v {
            Verdict::Agree => format!("identical, {}", signers(&item.judged.signers)),
            Verdict::Differ => "contents differ".into(),
            Verdict::OnlyOne => format!("only one signer ({})", item.judged.signers.join(", ")),
            Verdict::Unsigned => "only unsigned narinfos".into(),
            Verdict::Untrusted => "only narinfos signed by keys not authorised".into(),
            Verdict::Unavailable => "no server has it".into(),
        };
        o.push_str(&format!(
            "{} {}\n",
            sanitize(&item.path),
            ctx.style(verdict_style(v), &format!("{}: {head}", v.name()))
        ));
        if let Some(h) = &item.local {
            o.push_str(&format!("  local hash:   {h}\n"));
        }
        for (i, a) in item.answers.iter().enumerate() {
            let url = sanitize(&report.servers[i].url).into_owned();
            match a {
                Answer::Found(f) => {
                    o.push_str(&format!(
                        "  {url}: {} ({})\n",
                        f.nar_hash,
                        sanitize(&signer_of(a))
                    ));
                }
                other if v != Verdict::Agree => {
                    o.push_str(&format!("  {url}: {}\n", sanitize(&signer_of(other))));
                }
                _ => {}
            }
        }
        if v == Verdict::Differ {
            for g in item.judged.groups.iter().filter(|g| g.trusted) {
                let who: Vec<String> = g.sources.iter().map(|s| source_name(report, *s)).collect();
                o.push_str(&format!(
                    "  {} gave {}\n",
                    sanitize(&who.join(" and ")),
                    g.nar_hash
                ));
            }
        }
        if let Some((_, d)) = diffs.iter().find(|(p, _)| *p == item.path) {
            match d {
                Ok(d) => {
                    o.push_str(&format!(
                        "  {} between the two NARs:\n",
                        plural(d.changes.len(), "change", "changes")
                    ));
                    for c in &d.changes {
                        o.push_str(&format!("    {}\n", sanitize(&c.summary())));
                    }
                }
                Err(e) => o.push_str(&format!("  no diff: {}\n", sanitize(e))),
            }
        }
    }
    let total = report.items.len();
    o.push_str(&format!(
        "\n{} analysed:\n",
        plural(total, "store item was", "store items were")
    ));
    for (v, n) in report.counts() {
        if n == 0 && matches!(v, Verdict::Unsigned | Verdict::Untrusted) {
            continue;
        }
        let pct = if total == 0 {
            0.0
        } else {
            100.0 * n as f64 / total as f64
        };
        o.push_str(&format!(
            "  - {} ({pct:.1}%) {}\n",
            count(n as u64),
            describe(v)
        ));
    }
    if let (Some(k), Some(n)) = (args.require, below) {
        let line = if n == 0 {
            ctx.style(
                "32",
                &format!("every output has at least {k} agreeing independent signers"),
            )
        } else {
            ctx.style(
                "1;31",
                &format!(
                    "{} fewer than {k} agreeing independent signers (--require {k})",
                    plural(n, "output has", "outputs have")
                ),
            )
        };
        o.push_str(&format!("{line}\n"));
    }
    let mut out = std::io::stdout().lock();
    out.write_all(o.as_bytes())?;
    out.flush()?;
    Ok(())
}

fn signers(s: &[String]) -> String {
    format!(
        "{} ({})",
        plural(s.len(), "signer", "signers"),
        s.join(", ")
    )
}

fn describe(v: Verdict) -> &'static str {
    match v {
        Verdict::Agree => "were identical (two or more independent signers)",
        Verdict::Differ => "differed",
        Verdict::OnlyOne => "had a single signer",
        Verdict::Unsigned => "had only unsigned narinfos",
        Verdict::Untrusted => "had only untrusted signatures",
        Verdict::Unavailable => "were unavailable",
    }
}

fn json(
    report: &Report,
    diffs: &[(String, Result<abovo_build::diff::TreeDiff, String>)],
    require: Option<usize>,
    below: Option<usize>,
) -> serde_json::Value {
    let counts: serde_json::Map<String, serde_json::Value> = report
        .counts()
        .into_iter()
        .map(|(v, n)| (v.name().to_owned(), n.into()))
        .collect();
    let items: Vec<serde_json::Value> = report
        .items
        .iter()
        .map(|i| {
            let mut v = serde_json::to_value(i).unwrap_or_default();
            if let Some((_, d)) = diffs.iter().find(|(p, _)| *p == i.path) {
                v["diff"] = match d {
                    Ok(d) => serde_json::to_value(d).unwrap_or_default(),
                    Err(e) => serde_json::json!({ "error": e }),
                };
            }
            v
        })
        .collect();
    serde_json::json!({
        "servers": report.servers,
        "summary": counts,
        "require": require,
        "below_require": below,
        "items": items,
    })
}

fn html(report: &Report, require: Option<usize>, below: Option<usize>) -> String {
    let mut b = String::from("<h1>Challenge</h1>\n<p class=\"sub\">Servers: ");
    b.push_str(
        &report
            .servers
            .iter()
            .map(|s| format!("<code>{}</code>", esc(&s.url)))
            .collect::<Vec<_>>()
            .join(", "),
    );
    b.push_str("</p>\n<table><tr><th>verdict</th><th class=\"num\">outputs</th></tr>\n");
    for (v, n) in report.counts() {
        b.push_str(&format!(
            "<tr><td>{}</td><td class=\"num\">{}</td></tr>\n",
            v.name(),
            count(n as u64)
        ));
    }
    b.push_str("</table>\n");
    if let (Some(k), Some(n)) = (require, below) {
        b.push_str(&format!(
            "<p>--require {k}: {}</p>\n",
            if n == 0 {
                "met".to_owned()
            } else {
                format!("{n} outputs below")
            }
        ));
    }
    b.push_str(
        "<h2>Outputs</h2>\n<table><tr><th>output</th><th>verdict</th><th>answers</th></tr>\n",
    );
    for item in &report.items {
        b.push_str(&item_row(report, item));
    }
    b.push_str("</table>\n");
    page("abovo challenge", &b)
}

fn item_row(report: &Report, item: &ItemReport) -> String {
    let mut cells = String::new();
    if let Some(h) = &item.local {
        cells.push_str(&format!("local: <code>{}</code><br>", esc(h)));
    }
    for (i, a) in item.answers.iter().enumerate() {
        let hash = match a {
            Answer::Found(f) => format!("<code>{}</code> ", esc(&f.nar_hash)),
            _ => String::new(),
        };
        cells.push_str(&format!(
            "{}: {hash}<span class=\"why\">{}</span><br>",
            esc(&report.servers[i].url),
            esc(&signer_of(a))
        ));
    }
    format!(
        "<tr><td class=\"mono\">{}</td><td>{}</td><td>{cells}</td></tr>\n",
        esc(&item.path),
        item.judged.verdict.name()
    )
}
