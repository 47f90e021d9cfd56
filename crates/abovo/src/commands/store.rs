//! `abovo store verify|info`: the local store and its database.
//!
//! Also home of [`StoreArgs`], the flags every command that uses abovo's own
//! store shares (`add`, `derivation add`, `build`, `log`, `store`).

use crate::exit;
use crate::output::{Context, Format, print_json};
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
    /// The store directory (any absolute path; `/gnu/store` works as root).
    /// Default: $XDG_DATA_HOME/abovo/store, i.e. ~/.local/share/abovo/store.
    #[arg(long, env = "ABOVO_STORE_DIR", value_name = "DIR")]
    pub store_dir: Option<String>,
    /// The state directory: database (db/db.sqlite), logs, locks. Default:
    /// `var/abovo` next to the store directory.
    #[arg(long, env = "ABOVO_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

impl StoreArgs {
    /// Opens (creating if needed) the store.
    pub fn open(&self) -> anyhow::Result<LocalStore> {
        let dir = match &self.store_dir {
            Some(d) => d.clone(),
            None => abovo_build::store::default_store_dir()
                .ok_or_else(|| {
                    anyhow::anyhow!("no store directory: set --store-dir, ABOVO_STORE_DIR or HOME")
                })?
                .to_string_lossy()
                .into_owned(),
        };
        let store_dir = StoreDir::new(&dir)?;
        let config = StoreConfig::new(store_dir, self.state_dir.clone());
        LocalStore::open(config.clone()).with_context(|| {
            format!(
                "cannot open the store `{}` (state in `{}`)",
                config.store_dir,
                config.state_dir.display()
            )
        })
    }
}

/// Parses a store path argument: an absolute path in the store, or a path
/// inside an item (`…/bin/sh` means its item).
pub fn parse_item(store: &LocalStore, arg: &str) -> anyhow::Result<StorePath> {
    let arg = arg.trim_end_matches('/');
    let (item, _) = store
        .store_dir()
        .parse_prefix(arg)
        .map_err(|e| anyhow::anyhow!("`{arg}` is not in the store `{}`: {e}", store.store_dir()))?;
    Ok(item)
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
    /// derivation, forget missing items nothing refers to, and delete the
    /// leftovers of interrupted work that no running abovo owns.
    #[arg(long)]
    pub repair: bool,
    /// Output format: text or json.
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Text)]
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
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Text)]
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
    args.format
        .check("store info", &[Format::Text, Format::Json])?;
    let store = args.store.open()?;
    let mut items = Vec::new();
    for p in &args.paths {
        let path = parse_item(&store, p)?;
        let info = store.path_info(&path)?.ok_or_else(|| {
            anyhow::anyhow!("`{}` is not valid in this store", store.display(&path))
        })?;
        items.push(serde_json::json!({
            "path": store.display(&path),
            "narHash": info.nar_hash.to_nix32_string(),
            "narHashBase16": info.nar_hash.to_db_string(),
            "narSize": info.nar_size,
            "references": info.references.iter().map(|r| store.display(r)).collect::<Vec<_>>(),
            "deriver": info.deriver.as_ref().map(|d| store.display(d)),
            "registrationTime": info.registration_time,
        }));
    }
    if args.format == Format::Json {
        print_json(&items)?;
        return Ok(exit::SUCCESS);
    }
    for i in &items {
        println!("{}", i["path"].as_str().unwrap_or_default());
        println!(
            "  NAR hash:   {}",
            i["narHash"].as_str().unwrap_or_default()
        );
        println!("  NAR size:   {}", i["narSize"]);
        if let Some(d) = i["deriver"].as_str() {
            println!("  deriver:    {d}");
        }
        for r in i["references"].as_array().into_iter().flatten() {
            println!("  reference:  {}", r.as_str().unwrap_or_default());
        }
    }
    Ok(exit::SUCCESS)
}

fn verify(args: VerifyArgs, ctx: &Context) -> anyhow::Result<u8> {
    args.format
        .check("store verify", &[Format::Text, Format::Json])?;
    let store = args.store.open()?;
    let mut report = store.verify(&mut |_, _| {})?;
    let mut repaired: Vec<String> = Vec::new();
    let mut removed: Vec<PathBuf> = Vec::new();
    if args.repair {
        removed = store.remove_leftovers(&report)?;
        repaired = repair(&store, &report, ctx)?;
        report = store.verify(&mut |_, _| {})?;
    }
    if args.format == Format::Json {
        print_json(&serde_json::json!({
            "store": store.store_dir().as_str(),
            "database": store.db().file(),
            "checked": report.checked,
            "consistent": report.is_consistent(),
            "problems": report.problems,
            "leftovers": report.leftovers,
            "repaired": repaired,
            "removed": removed,
        }))?;
    } else {
        print_text(&store, &report, &repaired, &removed, ctx);
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
    repaired: &[String],
    removed: &[PathBuf],
    ctx: &Context,
) {
    for p in repaired {
        println!("repaired: {p}");
    }
    for p in removed {
        println!("removed leftover: {}", p.display());
    }
    for p in &report.problems {
        println!("{} {p}", ctx.style("1;31", "problem:"));
    }
    if !report.leftovers.is_empty() {
        ctx.note(&format!(
            "{} leftover(s) of interrupted work in the store directory (not registered, harmless; `--repair` deletes them)",
            report.leftovers.len()
        ));
    }
    let verdict = if report.is_consistent() {
        ctx.style("1;32", "consistent")
    } else {
        ctx.style("1;31", &format!("{} problem(s)", report.problems.len()))
    };
    println!(
        "checked {} item(s) in {}: {verdict}",
        report.checked,
        store.store_dir()
    );
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
