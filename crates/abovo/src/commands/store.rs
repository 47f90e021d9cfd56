//! `abovo store verify|info`: the local store and its database.
//!
//! Also home of [`StoreArgs`], the flags every command that uses abovo's own
//! store shares (`add`, `derivation add`, `build`, `log`, `store`).

use crate::exit;
use crate::output::{Context, Format, TEXT_JSON, print_json};
use crate::report::text::plain_plural;
use abovo_build::build::{BuildOptions, Builder, DrvResult, NoReporter};
use abovo_build::sandbox::HelperCommand;
use abovo_build::store::verify::{Problem, VerifyReport};
use abovo_build::{LocalStore, StoreConfig};
use abovo_store::{StoreDir, StorePath};
use anyhow::Context as _;
use std::collections::BTreeSet;
use std::path::PathBuf;

/// The hidden subcommand under which abovo re-executes itself as the
/// single-threaded sandbox helper.
pub const HELPER_SUBCOMMAND: &str = "__sandbox-helper";

/// Where abovo's store is.
#[derive(Debug, Clone, clap::Args)]
pub struct StoreArgs {
    /// abovo's own store: the store directory its paths name (any absolute
    /// path; `/gnu/store` works as root). Default:
    /// $XDG_DATA_HOME/abovo/store, i.e. ~/.local/share/abovo/store.
    #[arg(long = "store", env = "ABOVO_STORE", value_name = "DIR")]
    pub store: Option<String>,
    /// The old spelling of `--store` (and of ABOVO_STORE): still read, with
    /// a warning, since `--store-dir` now names only the store directory of
    /// the data an analysis reads.
    #[arg(
        long = "store-dir",
        env = "ABOVO_STORE_DIR",
        value_name = "DIR",
        hide = true
    )]
    pub deprecated_store_dir: Option<String>,
    /// Where the store's items are on disk, when not in the store directory
    /// itself (Nix's `real`): with `--store /gnu/store --real-store-dir
    /// ~/gnu/store`, paths name /gnu/store, and builders see their inputs
    /// there, while the items are in ~/gnu/store, so Guix's own `.drv`
    /// files build without privileges. Default: the store directory.
    #[arg(long, env = "ABOVO_REAL_STORE_DIR", value_name = "DIR")]
    pub real_store_dir: Option<PathBuf>,
    /// The state directory: database (db/db.sqlite), logs, locks. Default:
    /// `var/abovo` next to the store directory (or the real one).
    #[arg(long, env = "ABOVO_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

impl StoreArgs {
    /// Where the store is (nothing is opened or created).
    pub fn config(&self) -> anyhow::Result<StoreConfig> {
        let dir = match chosen_store(self.store.as_deref(), self.deprecated_store_dir.as_deref()) {
            Some(d) => d.to_owned(),
            None => abovo_build::store::default_store_dir()
                .ok_or_else(|| {
                    anyhow::anyhow!("no store directory: set --store, ABOVO_STORE or HOME")
                })?
                .to_string_lossy()
                .into_owned(),
        };
        let store_dir = StoreDir::new(&dir)?;
        Ok(match &self.real_store_dir {
            Some(real) => {
                let real = std::path::absolute(real)
                    .with_context(|| format!("--real-store-dir `{}`", real.display()))?;
                StoreConfig::with_real_dir(store_dir, real, self.state_dir.clone())
            }
            None => StoreConfig::new(store_dir, self.state_dir.clone()),
        })
    }

    /// Opens the store, creating it when missing: for the commands that
    /// add to it (`add`, `derivation add`).
    pub fn open(&self) -> anyhow::Result<LocalStore> {
        let config = self.config()?;
        LocalStore::open(config.clone()).with_context(|| {
            format!(
                "cannot open the store `{}` (state in `{}`)",
                config.store_dir,
                config.state_dir.display()
            )
        })
    }

    /// Opens a store that exists, creating nothing: for the commands that
    /// read it, or build what it holds (a command that fails must not
    /// leave a new store behind).
    pub fn open_existing(&self) -> anyhow::Result<LocalStore> {
        let config = self.config()?;
        match LocalStore::open_existing(config.clone()) {
            Ok(store) => Ok(store),
            Err(e @ abovo_build::StoreError::NoStore { .. }) => Err(e.into()),
            Err(e) => Err(cannot_open(e, &config)),
        }
    }

    /// The store when it exists, `None` when it does not (creating nothing):
    /// for the commands that check what they will add before the store may
    /// be created (`build` and `derivation add` importing `.drv` files).
    pub fn open_if_exists(&self) -> anyhow::Result<Option<LocalStore>> {
        let config = self.config()?;
        match LocalStore::open_existing(config.clone()) {
            Ok(store) => Ok(Some(store)),
            Err(abovo_build::StoreError::NoStore { .. }) => Ok(None),
            Err(e) => Err(cannot_open(e, &config)),
        }
    }
}

/// abovo's own store as the environment names it (ABOVO_STORE, or the
/// deprecated ABOVO_STORE_DIR), for the commands that look at it without
/// taking [`StoreArgs`] (`challenge --local`, `fetch`).
pub fn own_store_from_env() -> Option<String> {
    let new = std::env::var("ABOVO_STORE").ok();
    let old = std::env::var("ABOVO_STORE_DIR").ok();
    chosen_store(new.as_deref(), old.as_deref()).map(str::to_owned)
}

/// `--store` when given, else the deprecated `--store-dir` (or their
/// variables), with a warning on standard error, said once per process.
fn chosen_store<'a>(store: Option<&'a str>, deprecated: Option<&'a str>) -> Option<&'a str> {
    static WARNED: std::sync::Once = std::sync::Once::new();
    let Some(old) = deprecated else {
        return store;
    };
    if store.is_some_and(|new| new != old) {
        WARNED.call_once(|| {
            eprintln!(
                "abovo: warning: ignoring {} `{old}`: --store (ABOVO_STORE) names abovo's store",
                old_spelling(old)
            )
        });
        return store;
    }
    WARNED.call_once(|| {
        eprintln!(
            "abovo: warning: {} for abovo's own store is deprecated: use --store \
             (ABOVO_STORE); --store-dir now names only the store directory of analysed data",
            old_spelling(old)
        )
    });
    Some(store.unwrap_or(old))
}

/// How the user gave the deprecated value: the variable or the flag.
fn old_spelling(value: &str) -> &'static str {
    if std::env::var("ABOVO_STORE_DIR").is_ok_and(|v| v == value) {
        "ABOVO_STORE_DIR"
    } else {
        "--store-dir"
    }
}

/// A store that exists but cannot be opened, named with its state directory.
fn cannot_open(e: abovo_build::StoreError, config: &StoreConfig) -> anyhow::Error {
    anyhow::Error::new(e).context(format!(
        "cannot open the store `{}` (state in `{}`)",
        config.store_dir,
        config.state_dir.display()
    ))
}

/// Parses a store path argument: an absolute path in the store, or a path
/// inside an item (`…/bin/sh` means its item). The error says what was
/// expected, once.
pub fn parse_item(store_dir: &StoreDir, arg: &str) -> anyhow::Result<StorePath> {
    let trimmed = arg.trim_end_matches('/');
    // A relative path that exists (`./store/…-x.drv`) means the same as
    // its absolute form; symlinks are not resolved (a store path is a name).
    let absolute = if !trimmed.starts_with('/') && std::path::Path::new(trimmed).exists() {
        std::env::current_dir()
            .ok()
            .map(|cwd| cwd.join(trimmed.trim_start_matches("./")))
            .and_then(|p| p.to_str().map(str::to_owned))
    } else {
        None
    };
    let trimmed = absolute.as_deref().unwrap_or(trimmed);
    match store_dir.parse_prefix(trimmed) {
        Ok((item, _)) => Ok(item),
        Err(abovo_store::store_path::StorePathError::NotInStore { .. }) => {
            let hint = if trimmed.starts_with('/') {
                format!(
                    "store paths here start with `{store_dir}/`; --store or ABOVO_STORE \
                     choose another store"
                )
            } else {
                format!(
                    "give the absolute path of an item, `{store_dir}/<hash>-<name>` (a \
                     derivation's is printed by `abovo derivation add`)"
                )
            };
            anyhow::bail!("`{arg}` is not in the store `{store_dir}`\nhint: {hint}")
        }
        Err(e) => anyhow::bail!("`{arg}` is not a store path: {e}"),
    }
}

/// Work with abovo's own store.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub command: StoreCommand,
}

/// `abovo store` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum StoreCommand {
    /// Check every registered item against its NAR hash and references, and
    /// the database's integrity. Exit 1 when something is wrong.
    Verify(VerifyArgs),
    /// Print what the database records about store items.
    Info(InfoArgs),
}

/// `abovo store verify` flags.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// Repair: rebuild corrupt or missing items that have a valid
    /// derivation, forget missing items nothing refers to, delete the
    /// leftovers of interrupted work and the lock files that no running
    /// abovo owns, and the build directories of killed builds (in
    /// $TMPDIR/abovo-builds-UID). Trees kept by `build -K` stay, and so do
    /// entries abovo never makes (listed as `foreign`, such as Guix's
    /// `.links`).
    #[arg(long)]
    pub repair: bool,
    /// Delete the trees that `abovo build --keep-failed` kept on purpose:
    /// OUT-check (the other build of a differing output) and the
    /// unregistered later round of --rounds.
    #[arg(long)]
    pub remove_check: bool,
    /// Output format: text or json.
    #[arg(long, short = 'f', default_value = "text", value_parser = Format::parser(TEXT_JSON))]
    pub format: Format,
    /// The store.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `abovo store info` flags.
#[derive(Debug, clap::Args)]
pub struct InfoArgs {
    /// Store items.
    #[arg(required = true)]
    pub paths: Vec<String>,
    /// Output format: text or json.
    #[arg(long, short = 'f', default_value = "text", value_parser = Format::parser(TEXT_JSON))]
    pub format: Format,
    /// The store.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Runs `abovo store`.
pub fn run(args: Args, ctx: &Context) -> anyhow::Result<u8> {
    match args.command {
        StoreCommand::Verify(a) => verify(a, ctx),
        StoreCommand::Info(a) => info(a, ctx),
    }
}

fn info(args: InfoArgs, _ctx: &Context) -> anyhow::Result<u8> {
    args.format.check("store info", TEXT_JSON)?;
    let config = args.store.config()?;
    let paths = args
        .paths
        .iter()
        .map(|p| parse_item(&config.store_dir, p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let store = args.store.open_existing()?;
    let mut items = Vec::new();
    for path in &paths {
        let info = store.path_info(path)?.ok_or_else(|| {
            anyhow::anyhow!("`{}` is not valid in this store", store.display(path))
        })?;
        items.push(serde_json::json!({
            "path": store.display(path),
            "nar_hash": info.nar_hash.to_nix32_string(),
            "nar_hash_base16": info.nar_hash.to_db_string(),
            "nar_size": info.nar_size,
            "references": info.references.iter().map(|r| store.display(r)).collect::<Vec<_>>(),
            "deriver": info.deriver.as_ref().map(|d| store.display(d)),
            "registration_time": info.registration_time,
        }));
    }
    if args.format == Format::Json {
        print_json(&items)?;
        return Ok(exit::SUCCESS);
    }
    for i in &items {
        crate::outln!("{}", i["path"].as_str().unwrap_or_default())?;
        crate::outln!(
            "  NAR hash:   {}",
            i["nar_hash"].as_str().unwrap_or_default()
        )?;
        crate::outln!("  NAR size:   {}", i["nar_size"])?;
        if let Some(d) = i["deriver"].as_str() {
            crate::outln!("  deriver:    {d}")?;
        }
        for r in i["references"].as_array().into_iter().flatten() {
            crate::outln!("  reference:  {}", r.as_str().unwrap_or_default())?;
        }
    }
    Ok(exit::SUCCESS)
}

/// What `store verify` changed.
#[derive(Default)]
struct Removals {
    repaired: Vec<String>,
    leftovers: Vec<PathBuf>,
    kept: Vec<PathBuf>,
    build_dirs: Vec<PathBuf>,
}

fn verify(args: VerifyArgs, ctx: &Context) -> anyhow::Result<u8> {
    args.format.check("store verify", TEXT_JSON)?;
    let store = args.store.open_existing()?;
    let mut report = store.verify(&mut |_, _| {})?;
    let mut done = Removals::default();
    if args.repair {
        done.leftovers = store.remove_leftovers(&report)?;
        let tmp = BuildOptions::new(HelperCommand::reexec(HELPER_SUBCOMMAND)).tmp_dir;
        done.build_dirs = abovo_build::build::build_dir::reclaim(&tmp)?;
        done.repaired = repair(&store, &report, ctx)?;
    }
    if args.remove_check {
        done.kept = store.remove_kept(&report)?;
    }
    if args.repair || args.remove_check {
        report = store.verify(&mut |_, _| {})?;
    }
    if args.format == Format::Json {
        print_json(&serde_json::json!({
            "store": store.store_dir().as_str(),
            "real_store": store.real_dir(),
            "database": store.db().file(),
            "checked": report.checked,
            "consistent": report.is_consistent(),
            "problems": report.problems,
            "leftovers": report.leftovers,
            "kept": report.kept,
            "foreign": report.foreign,
            "repaired": done.repaired,
            "removed_leftovers": done.leftovers,
            "removed_kept": done.kept,
            "removed_build_directories": done.build_dirs,
        }))?;
    } else {
        print_text(&store, &report, &done, args.repair, ctx)?;
    }
    Ok(if report.is_consistent() {
        exit::SUCCESS
    } else {
        exit::NEGATIVE
    })
}

fn print_text(
    store: &LocalStore,
    report: &VerifyReport,
    done: &Removals,
    repaired: bool,
    ctx: &Context,
) -> std::io::Result<()> {
    for p in &done.repaired {
        crate::outln!("repaired: {p}")?;
    }
    for p in &done.leftovers {
        crate::outln!("removed leftover: {}", p.display())?;
    }
    for p in &done.build_dirs {
        crate::outln!("removed stale build directory: {}", p.display())?;
    }
    for p in &done.kept {
        crate::outln!("removed kept tree: {}", p.display())?;
    }
    for p in &report.problems {
        crate::outln!("{} {p}", ctx.style("1;31", "problem:"))?;
    }
    for p in &report.kept {
        crate::outln!("kept: {}", p.display())?;
    }
    if !report.kept.is_empty() {
        ctx.note(&format!(
            "{} kept by `abovo build --keep-failed` to examine a difference (not registered, \
             harmless; `abovo diff` compares them, `--remove-check` deletes them)",
            plain_plural(report.kept.len(), "tree is", "trees are")
        ));
    }
    for p in &report.foreign {
        crate::outln!("foreign: {}", p.display())?;
    }
    if !report.leftovers.is_empty() {
        // After `--repair`, what is left is what a running process holds.
        let what = if repaired {
            "held by a running abovo process, left alone"
        } else {
            "not registered, harmless; `--repair` deletes them once no running abovo holds them"
        };
        ctx.note(&format!(
            "{} of interrupted work in the store directory ({what})",
            plain_plural(report.leftovers.len(), "leftover", "leftovers")
        ));
    }
    if !report.foreign.is_empty() {
        ctx.note(&format!(
            "{} in the store directory that abovo never makes (such as Guix's `.links`); \
             abovo leaves them alone, delete them yourself if they are not needed",
            plain_plural(report.foreign.len(), "entry", "entries")
        ));
    }
    let verdict = if report.is_consistent() {
        ctx.style("1;32", "consistent")
    } else {
        ctx.style(
            "1;31",
            &plain_plural(report.problems.len(), "problem", "problems"),
        )
    };
    crate::outln!(
        "checked {} in {}: {verdict}",
        plain_plural(report.checked, "item", "items"),
        store.store_dir()
    )
}

/// Rebuilds what can be rebuilt and forgets missing items nothing needs;
/// returns what was repaired.
fn repair(store: &LocalStore, report: &VerifyReport, ctx: &Context) -> anyhow::Result<Vec<String>> {
    let mut drvs: BTreeSet<StorePath> = BTreeSet::new();
    let mut repaired = Vec::new();
    for problem in &report.problems {
        let Some(path) = problem.path() else { continue };
        let item = store.parse(path)?;
        let info = store.path_info(&item)?;
        let deriver = info.as_ref().and_then(|i| i.deriver.clone());
        match deriver {
            Some(d) if store.is_valid(&d)? => {
                drvs.insert(d);
            }
            _ => {
                if matches!(problem, Problem::Missing { .. })
                    && store.db().referrers(&item)?.is_empty()
                {
                    store.db().invalidate(std::slice::from_ref(&item))?;
                    repaired.push(format!("{path} (missing, forgotten)"));
                } else {
                    ctx.warn(&format!(
                        "cannot repair `{path}`: no valid derivation builds it"
                    ));
                }
            }
        }
    }
    if drvs.is_empty() {
        return Ok(repaired);
    }
    let mut opts = BuildOptions::new(HelperCommand::reexec(HELPER_SUBCOMMAND));
    opts.repair = true;
    let builder = Builder::new(store, opts, &NoReporter);
    let targets: Vec<StorePath> = drvs.into_iter().collect();
    let result = builder.build(&targets)?;
    for (drv, r) in &result.results {
        match r {
            DrvResult::Done(_) => repaired.push(format!("outputs of {}", store.display(drv))),
            DrvResult::Failed(e) => ctx.warn(&format!("repair failed: {e}")),
            DrvResult::Skipped => {}
        }
    }
    Ok(repaired)
}
