//! The command-line grammar. Doc comments here are the `--help` text.

use clap::{Args, Parser, ValueEnum};

/// Verify a software supply chain from the egg.
///
/// abovo reads Guix (and Nix) derivations and answers what a package rests
/// on: which binaries you must trust to get it, how it connects to the
/// bootstrap seeds, who depends on what, and whether it rebuilds bit for bit.
/// Without --source it works on its built-in snapshot of Guix 1.5.0.
#[derive(Debug, Parser)]
// `version` without `propagate_version`: `-V, --version` belongs to the
// program, not to each subcommand's help.
#[command(name = "abovo", version, max_term_width = 100)]
pub struct Cli {
    /// Options shared by every command.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: crate::commands::Command,
}

/// Options shared by every command.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// When to use colours on standard output and standard error.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
    /// Print no progress bars and no notes, only the answer and errors.
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,
}

/// When to use colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colours when writing to a terminal and NO_COLOR is not set.
    Auto,
    /// Always colours.
    Always,
    /// Never colours.
    Never,
}
