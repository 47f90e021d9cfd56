//! `abovo log DRV`: print the build log of a derivation, from abovo's store
//! or from a log directory laid out as guix-daemon's (`/var/log/guix`).

use super::store::{StoreArgs, parse_item};
use crate::exit;
use crate::output::{Context, strip_terminal_escapes};
use abovo_build::build::log::{find_log, log_base, read_log};
use abovo_store::StorePath;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

/// Print the build log of a derivation (or of the derivation that built an
/// output).
///
/// Logs are found as guix-daemon keeps them: `drvs/XX/REST` under the log
/// directory, where XXREST is the `.drv` file name, compressed with gzip
/// (`.gz`), bzip2 (`.bz2`) or not at all; the newest wins when there are
/// several. abovo's log directory is `log/` in the state directory; with
/// --log-dir any other, such as Guix's own /var/log/guix.
///
/// On a terminal, escape sequences other than colours are left out of the
/// log (as Nix does); written to a file or a pipe, the log is unchanged.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A `.drv` path or an output path (with --log-dir: a `.drv` path or
    /// its file name).
    pub item: String,
    /// Read the log from this directory (laid out as guix-daemon's, e.g.
    /// /var/log/guix) instead of abovo's store; no store is opened.
    #[arg(long, value_name = "DIR")]
    pub log_dir: Option<PathBuf>,
    /// The store.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Runs `abovo log`.
pub fn run(args: Args, _ctx: &Context) -> anyhow::Result<u8> {
    let (log_dir, shown, base) = match &args.log_dir {
        Some(dir) => {
            let base = drv_base_name(&args.item)?;
            (dir.clone(), args.item.clone(), base)
        }
        None => {
            let item = parse_item(&args.store.config()?.store_dir, &args.item)?;
            let store = args.store.open_existing()?;
            let drv = deriver(&store, &args.item, item)?;
            (store.log_dir(), store.display(&drv), drv.base_name())
        }
    };
    let file = find_log(&log_dir, &base).ok_or_else(|| {
        anyhow::anyhow!(
            "no build log for `{shown}` (looked for `{}` with no extension, `.gz` and `.bz2`)",
            log_base(&log_dir, &base).display()
        )
    })?;
    let bytes = read_log(&file)
        .map_err(|e| anyhow::anyhow!("cannot read the build log `{}`: {e}", file.display()))?;
    let mut out = std::io::stdout().lock();
    // On a terminal the builder's escape sequences (window title, clearing
    // the screen) must not reach it, its colours may; anywhere else the log
    // is data and goes out byte for byte.
    if out.is_terminal() {
        out.write_all(&strip_terminal_escapes(&bytes))?;
    } else {
        out.write_all(&bytes)?;
    }
    out.flush()?;
    Ok(exit::SUCCESS)
}

/// The `.drv` file name of `item` (a path in any store, or the bare name).
fn drv_base_name(item: &str) -> anyhow::Result<String> {
    let name = Path::new(item.trim_end_matches('/'))
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let path = StorePath::from_base_name(name)
        .map_err(|e| anyhow::anyhow!("`{item}` is not a store path: {e}"))?;
    if !path.is_derivation() {
        anyhow::bail!(
            "`{item}` is not a derivation (`.drv`) path; with --log-dir give the derivation \
             (`guix gc --derivers ITEM` names it)"
        );
    }
    Ok(name.to_owned())
}

/// The derivation of `item`: itself, or the deriver the database records.
fn deriver(
    store: &abovo_build::LocalStore,
    item: &str,
    path: StorePath,
) -> anyhow::Result<StorePath> {
    if path.is_derivation() {
        return Ok(path);
    }
    if let Some(d) = store.path_info(&path)?.and_then(|i| i.deriver) {
        return Ok(d);
    }
    store
        .db()
        .valid_derivers(&path)?
        .into_iter()
        .next()
        .ok_or_else(|| anyhow::anyhow!("no derivation is known to build `{item}`"))
}
