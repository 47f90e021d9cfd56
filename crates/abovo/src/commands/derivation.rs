//! `abovo derivation add FILE.json`: write a derivation into abovo's store.

use super::store::StoreArgs;
use crate::exit;
use crate::output::Context;
use abovo_store::derivation::Derivation;
use anyhow::Context as _;
use std::path::PathBuf;

/// Make derivations without Scheme.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub command: DerivationCommand,
}

/// `abovo derivation` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum DerivationCommand {
    /// Add a derivation written in JSON to the store and print its `.drv`
    /// path. The JSON is Nix's derivation JSON, the shape of `nix derivation
    /// show` and of `abovo show -f json`, with Nix's own keys (`outputs`,
    /// `inputDrvs`, `inputSrcs`, `system`, `builder`, `args`, `env`; an
    /// output's `path`, `hashAlgo`, `hash`) and an optional `name`; unlike
    /// abovo's reports, these keys are camelCase. Output paths may be left
    /// out: abovo computes them (and the `out`… environment variables) the
    /// way Guix does. Every input must already be in the store.
    Add(AddArgs),
}

/// `abovo derivation add` flags.
#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// The JSON file (`-` for standard input).
    pub file: PathBuf,
    /// The derivation name, when the JSON has no "name".
    #[arg(long, short = 'n', value_name = "NAME")]
    pub name: Option<String>,
    /// The store.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Runs `abovo derivation`.
pub fn run(args: Args, _ctx: &Context) -> anyhow::Result<u8> {
    let DerivationCommand::Add(args) = args.command;
    let store_dir = args.store.config()?.store_dir;
    let text = if args.file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).context("cannot read standard input")?
    } else {
        std::fs::read_to_string(&args.file)
            .with_context(|| format!("cannot read `{}`", args.file.display()))?
    };
    let (mut drv, name) = Derivation::from_json(&store_dir, &text)
        .with_context(|| format!("`{}` is not a derivation in JSON", args.file.display()))?;
    let name = args
        .name
        .or(name)
        .ok_or_else(|| anyhow::anyhow!("`{}` has no \"name\"; pass --name", args.file.display()))?;
    // Structural mistakes are refused before a store is created for them.
    abovo_build::store::add::check_derivation(&drv, &name).map_err(|reason| {
        anyhow::anyhow!(
            "cannot add `{}` to the store: it is not a valid derivation: {reason}",
            args.file.display()
        )
    })?;
    let store = args.store.open()?;
    let path = store
        .add_derivation(&mut drv, &name)
        .with_context(|| format!("cannot add `{}` to the store", args.file.display()))?;
    println!("{}", store.display(&path));
    Ok(exit::SUCCESS)
}
