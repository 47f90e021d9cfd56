//! One module per subcommand. Each has an `Args` struct and a `run` function
//! that returns an [exit code](crate::exit).

pub mod audit;
pub mod hash;
pub mod seeds;
pub mod show;

use crate::output::Context;
use clap::Subcommand;

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Which binary seeds every package rests on, counted and ranked.
    Audit(audit::Args),
    /// Print the hash of files or trees, as `guix hash` does.
    Hash(hash::Args),
    /// What must one trust to get TARGET: its seeds, kinds, evidence, sizes and paths.
    Seeds(seeds::Args),
    /// Print a derivation as ATerm (its exact `.drv` text) or JSON.
    Show(show::Args),
}

/// Runs a subcommand.
pub fn dispatch(command: Command, ctx: &Context) -> anyhow::Result<u8> {
    match command {
        Command::Audit(args) => audit::run(args, ctx),
        Command::Hash(args) => hash::run(args, ctx),
        Command::Seeds(args) => seeds::run(args, ctx),
        Command::Show(args) => show::run(args, ctx),
    }
}
