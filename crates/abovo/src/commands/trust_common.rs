//! What `abovo seeds` and `abovo audit` share: [`TrustArgs`], their common
//! flags (graph source, knowledge bases, seed bytes, size sources), and the
//! notes both give on standard error about seed files. What their reports
//! print alike is [`crate::report::trust`].

use crate::output::Context;
use crate::report::text::plural;
use abovo_graph::Graph;
use abovo_graph::query::Walk;
use abovo_trust::classify::Seeds;
use abovo_trust::knowledge::KnowledgeBase;
use std::path::PathBuf;

/// Flags shared by `abovo seeds` and `abovo audit`.
#[derive(Debug, Clone, clap::Args)]
pub struct TrustArgs {
    /// Where the derivations come from: a store directory, a directory of
    /// `.drv` files, a `.tar.zst` of them, a corpus folder or an abovo
    /// snapshot. Default: the built-in Guix 1.5.0 snapshot.
    #[arg(long, env = "ABOVO_SOURCE", value_name = "PATH")]
    pub source: Option<PathBuf>,
    /// The store directory of the paths (see `source::STORE_DIR_HELP`).
    #[arg(long, value_name = "DIR", help = crate::source::STORE_DIR_HELP)]
    pub store_dir: Option<String>,
    /// The system a name prefers (see `source::SYSTEM_HELP`).
    #[arg(long, value_name = "SYSTEM", default_value_t = abovo_graph::resolve::host_system(),
          help = crate::source::SYSTEM_HELP)]
    pub system: String,
    /// Walk on into the inputs of fixed-output derivations (their fetchers);
    /// by default the walk stops there, since their output is pinned.
    #[arg(long)]
    pub through_fixed: bool,
    /// An extra knowledge-base file (TOML, the format of the built-in one,
    /// see docs/trust.md); may be repeated; later files win.
    #[arg(long, value_name = "FILE")]
    pub knowledge: Vec<PathBuf>,
    /// A directory of fetched seeds, named by store base name, store hash,
    /// fixed-output hash or file name (tried in that order). A file counts
    /// only when it hashes as the seed must (its fixed-output hash, or its
    /// recorded NAR hash); then its bytes are scanned (evidence `content`).
    /// A file found under a seed's name that does not hash as the seed is
    /// ignored and reported (a warning, and the report's ignored files); a
    /// file that matches no seed's name is listed as not used. May be
    /// repeated.
    #[arg(long, value_name = "DIR")]
    pub seed_dir: Vec<PathBuf>,
    /// Do not look for seeds at their own store path (by default, bytes
    /// found there are checked and scanned like those of --seed-dir).
    #[arg(long)]
    pub no_store: bool,
    /// A Guix store database (db.sqlite), opened read-only: sizes, and the
    /// NAR hashes that input sources' bytes are checked against.
    #[arg(long, value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// A directory of `<hash>.narinfo` files, for sizes. A narinfo that does
    /// not parse, or whose StorePath, NarHash or NarSize contradicts what is
    /// known of its seed, is an error.
    #[arg(long, value_name = "DIR")]
    pub narinfo: Vec<PathBuf>,
    /// The fetch cache and network flags (`--fetch`, `abovo fetch`).
    #[command(flatten)]
    pub net: crate::commands::fetch::NetArgs,
}

impl TrustArgs {
    /// How names are resolved: a tie between derivations of the same name
    /// and version goes to the one built for `--system`.
    pub fn preferences(&self) -> abovo_graph::resolve::Preferences {
        abovo_graph::resolve::Preferences::new().system(&self.system)
    }

    /// Loads the graph: the given source, or the built-in Guix 1.5.0
    /// snapshot (through the loader all graph commands share).
    pub fn load_graph(&self, ctx: &Context) -> anyhow::Result<Graph> {
        let source = crate::source::SourceArgs {
            source: self.source.clone(),
            store_dir: self.store_dir.clone(),
            ..crate::source::SourceArgs::default()
        };
        source.load(ctx)
    }

    /// Builds the classifier from the flags.
    pub fn seeds(&self) -> anyhow::Result<Seeds> {
        self.seeds_with(self.knowledge_base()?)
    }

    /// The knowledge base: the built-in one, then the `--knowledge` files.
    pub fn knowledge_base(&self) -> anyhow::Result<KnowledgeBase> {
        let mut kb = KnowledgeBase::built_in()?;
        for f in &self.knowledge {
            kb.add_file(f)?;
        }
        Ok(kb)
    }

    /// Builds the classifier from the flags on `kb` (from
    /// [`TrustArgs::knowledge_base`], which a command may read while its
    /// graph loads).
    pub fn seeds_with(&self, kb: KnowledgeBase) -> anyhow::Result<Seeds> {
        let mut seeds = Seeds::new(kb);
        seeds.seed_dirs = self.seed_dir.clone();
        for d in &self.seed_dir {
            if !d.is_dir() {
                anyhow::bail!("--seed-dir `{}` is not a directory", d.display());
            }
        }
        seeds.use_store = !self.no_store;
        seeds.keys = self.net.keys.load()?;
        if let Some(db) = &self.db {
            seeds.sizes.open_db(db)?;
        }
        for n in &self.narinfo {
            seeds.sizes.add_narinfo_dir(n)?;
        }
        // The fetch cache, without being asked: its items are verified
        // content (looked up by their records, not hashed again), its
        // narinfos passed their signature check.
        if let Some(cache) = self.net.cache() {
            if cache.narinfo_dir().is_dir() {
                seeds.sizes.add_narinfo_dir(&cache.narinfo_dir())?;
            }
            seeds.cache = Some(cache);
        }
        Ok(seeds)
    }

    /// Directories that may hold outputs under their store base names:
    /// the `--source` store when it is a directory, and `--seed-dir`s.
    pub fn local_dirs(&self) -> Vec<PathBuf> {
        self.source
            .iter()
            .filter(|s| s.is_dir())
            .chain(&self.seed_dir)
            .cloned()
            .collect()
    }

    /// The trust walk these options ask for.
    pub fn walk(&self) -> Walk {
        Walk::trust(self.through_fixed)
    }
}

/// Warns on standard error that `rejected` files found under seeds' names
/// were ignored (nothing when there are none); the report says which.
pub fn warn_rejected_files(ctx: &Context, rejected: usize) {
    if rejected > 0 {
        ctx.warn(&format!(
            "ignored {} found under a seed's name: {} not the seed (the report says which)",
            plural(rejected, "file", "files"),
            if rejected == 1 { "it is" } else { "they are" }
        ));
    }
}

/// Says on standard error that `unused` files of the seed directories
/// matched no seed (nothing when there are none); the report lists them.
pub fn note_unused_seed_files(ctx: &Context, unused: usize) {
    if unused > 0 {
        ctx.note(&format!(
            "{} in --seed-dir {} no seed's name (the report lists {})",
            plural(unused, "file", "files"),
            if unused == 1 { "matches" } else { "match" },
            if unused == 1 { "it" } else { "them" }
        ));
    }
}
