//! `abovo seeds TARGET`: what must one trust to get TARGET.
//!
//! Also home of [`TrustArgs`], the flags that `abovo seeds` and `abovo
//! audit` share (graph source, knowledge bases, seed bytes, size sources).

use crate::exit;
use crate::output::{Context, Format, print_json};
use crate::report::human_bytes;
use abovo_graph::Graph;
use abovo_trust::Kind;
use abovo_trust::classify::Seeds;
use abovo_trust::knowledge::KnowledgeBase;
use abovo_trust::report::{SeedEntry, TrustReport, WalkOptions, trust_report};
use std::io::Write;
use std::path::PathBuf;

/// Flags shared by `abovo seeds` and `abovo audit`.
#[derive(Debug, Clone, clap::Args)]
pub struct TrustArgs {
    /// Where the derivations come from: a store directory, a directory of
    /// `.drv` files, a `.tar.zst` of them, a corpus folder or an abovo
    /// snapshot. Default: the built-in Guix 1.5.0 snapshot.
    #[arg(long, env = "ABOVO_SOURCE", value_name = "PATH")]
    pub source: Option<PathBuf>,
    /// The store directory the derivations' paths are in.
    #[arg(long, env = "ABOVO_STORE_DIR", default_value = abovo_store::StoreDir::GUIX, value_name = "DIR")]
    pub store_dir: String,
    /// Walk on into the inputs of fixed-output derivations (their fetchers);
    /// by default the walk stops there, since their output is pinned.
    #[arg(long)]
    pub through_fixed: bool,
    /// An extra knowledge-base file (TOML, the format of the built-in one,
    /// see docs/trust.md); may be repeated; later files win.
    #[arg(long, value_name = "FILE")]
    pub knowledge: Vec<PathBuf>,
    /// A directory of fetched seeds, named by store base name, store hash,
    /// file name or fixed-output hash; their bytes are scanned (evidence
    /// `content`). May be repeated.
    #[arg(long, value_name = "DIR")]
    pub seed_dir: Vec<PathBuf>,
    /// Do not look for seeds at their own store path.
    #[arg(long)]
    pub no_store: bool,
    /// A Guix store database (db.sqlite), opened read-only, for sizes.
    #[arg(long, value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// A directory of `<hash>.narinfo` files, for sizes.
    #[arg(long, value_name = "DIR")]
    pub narinfo: Vec<PathBuf>,
}

impl TrustArgs {
    /// Loads the graph: the given source, or the built-in Guix 1.5.0
    /// snapshot (through the loader all graph commands share).
    pub fn load_graph(&self, ctx: &Context) -> anyhow::Result<Graph> {
        let source = crate::source::SourceArgs {
            source: self.source.clone(),
            store_dir: self.store_dir.clone(),
            packages: None,
            meta: None,
        };
        source.load(ctx)
    }

    /// Builds the classifier from the flags.
    pub fn seeds(&self) -> anyhow::Result<Seeds> {
        let mut kb = KnowledgeBase::built_in()?;
        for f in &self.knowledge {
            kb.add_file(f)?;
        }
        let mut seeds = Seeds::new(kb);
        seeds.seed_dirs = self.seed_dir.clone();
        for d in &self.seed_dir {
            if !d.is_dir() {
                anyhow::bail!("--seed-dir `{}` is not a directory", d.display());
            }
        }
        seeds.use_store = !self.no_store;
        if let Some(db) = &self.db {
            seeds.sizes.open_db(db)?;
        }
        for n in &self.narinfo {
            seeds.sizes.add_narinfo_dir(n)?;
        }
        Ok(seeds)
    }

    /// The walk options.
    pub fn walk(&self) -> WalkOptions {
        WalkOptions {
            through_fixed: self.through_fixed,
        }
    }
}

/// List every seed that TARGET rests on: binaries first, with evidence,
/// size, hash, URLs and the shortest path from TARGET.
///
/// A seed is where content enters the graph: the output of a fixed-output
/// derivation or an input source. Each gets a kind (binary,
/// source-with-binaries, generated, source, unknown) with its evidence:
/// content (bytes scanned, see --seed-dir), known (the knowledge base lists
/// its hash) or rule:<id> (its name or URL matches a rule).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The target: `hello`, `hello@2.12`, a `.drv` path or an output path.
    pub target: String,
    /// Output format: text, json or html (a self-contained page).
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// In text, list every seed in detail (by default generated and source
    /// seeds get one line each).
    #[arg(long)]
    pub all: bool,
    /// Shared flags.
    #[command(flatten)]
    pub trust: TrustArgs,
}

/// Runs `abovo seeds`.
pub fn run(args: Args, ctx: &Context) -> anyhow::Result<u8> {
    args.format
        .check("seeds", &[Format::Text, Format::Json, Format::Html])?;
    let g = args.trust.load_graph(ctx)?;
    let target = abovo_graph::resolve::resolve(&g, &args.target)?;
    let seeds = args.trust.seeds()?;
    let report = trust_report(&g, target, &seeds, args.trust.walk());
    match args.format {
        Format::Json => print_json(&report)?,
        Format::Html => {
            let mut out = std::io::stdout().lock();
            out.write_all(crate::report::seeds::render(&report).as_bytes())?;
            out.flush()?;
        }
        _ => print_text(&report, args.all, ctx)?,
    }
    Ok(exit::SUCCESS)
}

fn kind_style(kind: Kind) -> &'static str {
    match kind {
        Kind::Binary => "1;31",
        Kind::SourceWithBinaries => "1;33",
        Kind::Generated => "35",
        Kind::Source => "32",
        Kind::Unknown => "2",
    }
}

fn size_text(e: &SeedEntry) -> String {
    match e.class.size {
        Some(s) => format!("{} ({})", human_bytes(s), e.class.size_source.label()),
        None => "size unknown".to_owned(),
    }
}

fn print_text(r: &TrustReport, all: bool, ctx: &Context) -> anyhow::Result<()> {
    let mut o = std::io::stdout().lock();
    writeln!(
        o,
        "{} {}",
        ctx.style("1", "Trust base of"),
        ctx.style("1", &r.target_label)
    )?;
    writeln!(o, "  target: {}", r.target)?;
    writeln!(
        o,
        "  graph: {}; the walk {} fixed-output derivations; {} derivations walked",
        r.graph,
        if r.through_fixed {
            "goes through"
        } else {
            "stops at"
        },
        r.derivations_walked
    )?;
    for kind in Kind::ALL {
        let rows: Vec<&SeedEntry> = r.of_kind(kind).collect();
        if rows.is_empty() {
            continue;
        }
        let total = r.totals.iter().find(|t| t.kind == kind);
        writeln!(o)?;
        writeln!(
            o,
            "{} — {} seed{}, {} known{}",
            ctx.style(kind_style(kind), kind.name()),
            rows.len(),
            if rows.len() == 1 { "" } else { "s" },
            human_bytes(total.map_or(0, |t| t.known_bytes)),
            match total.map_or(0, |t| t.unknown_sizes) {
                0 => String::new(),
                n => format!(", {n} of unknown size"),
            }
        )?;
        let detailed = all
            || matches!(
                kind,
                Kind::Binary | Kind::SourceWithBinaries | Kind::Unknown
            );
        for e in rows {
            if !detailed {
                writeln!(
                    o,
                    "  {:<44} {:<28} {}",
                    e.facts.name,
                    e.class.evidence.label(),
                    size_text(e)
                )?;
                continue;
            }
            writeln!(o, "  {}", ctx.style("1", e.class.display_name(&e.facts)))?;
            writeln!(
                o,
                "    evidence: {} — {}",
                e.class.evidence.label(),
                e.class.why
            )?;
            writeln!(o, "    size:     {}", size_text(e))?;
            if let Some(h) = &e.facts.hash {
                writeln!(o, "    hash:     {h}")?;
            }
            writeln!(o, "    item:     {}", e.facts.store_path)?;
            for u in e.facts.urls.iter().take(2) {
                writeln!(o, "    url:      {u}")?;
            }
            if let Some(k) = &e.class.known {
                for m in &k.members {
                    let size = m
                        .size
                        .map(human_bytes)
                        .unwrap_or_else(|| "size unknown".into());
                    writeln!(o, "    member:   {} — {} ({size})", m.path, m.what)?;
                }
            }
            if let Some(c) = &e.class.content {
                for m in c.binary_members.iter().take(10) {
                    writeln!(
                        o,
                        "    binary:   {} — {} ({})",
                        m.path,
                        m.what,
                        human_bytes(m.size)
                    )?;
                }
                if c.binary.files > 10 {
                    writeln!(o, "    … and {} more binary members", c.binary.files - 10)?;
                }
            }
            let path: Vec<&str> = e
                .path_from_target
                .iter()
                .map(|s| s.label.as_str())
                .collect();
            writeln!(o, "    path:     {}", path.join(" → "))?;
        }
    }
    writeln!(o)?;
    writeln!(o, "{}", ctx.style("1", "Totals"))?;
    for t in &r.totals {
        writeln!(
            o,
            "  {:<22} {:>5} seeds  {:>12} known  {:>5} of unknown size",
            t.kind.name(),
            t.seeds,
            human_bytes(t.known_bytes),
            t.unknown_sizes
        )?;
    }
    if !r.builtins.is_empty() {
        writeln!(o)?;
        writeln!(
            o,
            "{}",
            ctx.style(
                "1",
                "Daemon built-ins relied on (the daemon itself fetches and checks these)"
            )
        )?;
        for b in &r.builtins {
            writeln!(o, "  {:<22} {} derivations", b.builder, b.derivations)?;
        }
    }
    o.flush()?;
    Ok(())
}
