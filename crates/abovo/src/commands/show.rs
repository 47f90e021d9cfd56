//! `abovo show DRV`: print a derivation.

use crate::exit;
use crate::output::{Context, print_json};
use crate::source::{STORE_DIR_HELP, store_dir_or_inferred};
use abovo_store::StoreDir;
use abovo_store::derivation::Derivation;
use anyhow::Context as _;
use clap::ValueEnum;
use std::io::Write;
use std::path::PathBuf;

/// Print a derivation as ATerm (its exact `.drv` text) or JSON.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The `.drv` file to show.
    pub drv: PathBuf,
    /// `aterm` writes the derivation back in the `.drv` format; `json` in the
    /// shape of `nix derivation show`.
    #[arg(long, short = 'f', value_enum, default_value_t = ShowFormat::Aterm)]
    pub format: ShowFormat,
    /// The store directory the derivation's paths are in.
    #[arg(long, value_name = "DIR", help = STORE_DIR_HELP)]
    pub store_dir: Option<String>,
}

/// Formats of `abovo show`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ShowFormat {
    /// The `.drv` text.
    Aterm,
    /// JSON.
    Json,
}

/// Runs `abovo show`.
pub fn run(args: Args, _ctx: &Context) -> anyhow::Result<u8> {
    let (drv, name, store) = read_derivation(args.store_dir.as_deref(), &args.drv)?;
    match args.format {
        ShowFormat::Aterm => {
            let mut out = std::io::stdout().lock();
            out.write_all(&drv.to_aterm(&store))?;
            // The `.drv` text has no final newline; add one only for a person.
            if std::io::IsTerminal::is_terminal(&out) {
                out.write_all(b"\n")?;
            }
            out.flush()?;
        }
        ShowFormat::Json => print_json(&drv.to_json(&store, name.as_deref()))?,
    }
    Ok(exit::SUCCESS)
}

/// Reads and parses a `.drv` file in the store directory `store_dir`
/// (`--store-dir`), else the one its paths name; the derivation name comes
/// from the file name when it looks like a store base name
/// (`<hash>-<name>.drv`).
pub fn read_derivation(
    store_dir: Option<&str>,
    file: &std::path::Path,
) -> anyhow::Result<(Derivation, Option<String>, StoreDir)> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read `{}`", file.display()))?;
    let store = store_dir_or_inferred(store_dir, abovo_graph::store_dir::from_derivation(&bytes))?;
    let drv = Derivation::parse(&store, &bytes).map_err(|e| {
        let mut msg = format!("`{}` is not a valid derivation: {e}", file.display());
        if store.as_str() != StoreDir::NIX && bytes.windows(11).any(|w| w == b"/nix/store/") {
            msg.push_str("\n  (hint: its paths are in /nix/store; pass --store-dir /nix/store)");
        }
        anyhow::anyhow!(msg)
    })?;
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| abovo_store::StorePath::from_base_name(n).ok())
        .and_then(|p| p.derivation_name().map(str::to_owned));
    Ok((drv, name, store))
}
