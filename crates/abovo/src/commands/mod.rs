//! One module per subcommand. Each has an `Args` struct and a `run` function
//! that returns an [exit code](crate::exit).

pub mod hash;
pub mod show;

use crate::output::Context;
use clap::Subcommand;

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the hash of files or trees, as `guix hash` does.
    Hash(hash::Args),
    /// Print a derivation as ATerm (its exact `.drv` text) or JSON.
    Show(show::Args),
}

/// Runs a subcommand.
pub fn dispatch(command: Command, ctx: &Context) -> anyhow::Result<u8> {
    match command {
        Command::Hash(args) => hash::run(args, ctx),
        Command::Show(args) => show::run(args, ctx),
    }
}
