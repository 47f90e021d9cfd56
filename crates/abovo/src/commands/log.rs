//! `abovo log DRV`: print the build log of a derivation.

use super::store::{StoreArgs, parse_item};
use crate::exit;
use crate::output::Context;
use abovo_build::build::log::read_log;
use std::io::Write;

/// Print the build log of a derivation (or of the derivation that built an
/// output).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A `.drv` path or an output path.
    pub item: String,
    /// The store.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Runs `abovo log`.
pub fn run(args: Args, _ctx: &Context) -> anyhow::Result<u8> {
    let store = args.store.open()?;
    let item = parse_item(&store, &args.item)?;
    let drv = if item.is_derivation() {
        item
    } else {
        let from_info = store.path_info(&item)?.and_then(|i| i.deriver);
        match from_info {
            Some(d) => d,
            None => store
                .db()
                .valid_derivers(&item)?
                .into_iter()
                .next()
                .ok_or_else(|| {
                    anyhow::anyhow!("no derivation is known to build `{}`", args.item)
                })?,
        }
    };
    let file = store.log_path(&drv);
    let bytes = read_log(&file).map_err(|e| {
        anyhow::anyhow!(
            "no build log for `{}` (looked at `{}`: {e})",
            store.display(&drv),
            file.display()
        )
    })?;
    let mut out = std::io::stdout().lock();
    out.write_all(&bytes)?;
    out.flush()?;
    Ok(exit::SUCCESS)
}
