//! One module per subcommand. Each has an `Args` struct and a `run` function
//! that returns an [exit code](crate::exit).

pub mod add;
pub mod audit;
pub mod build;
pub mod cat;
pub mod challenge;
pub mod closure;
pub mod dependents;
pub mod derivation;
pub mod diff;
pub mod export;
pub mod fetch;
pub mod graph;
pub mod hash;
pub mod history;
pub mod index;
pub mod key;
pub mod log;
pub mod ls;
pub mod path;
pub mod publish;
pub mod scan;
pub mod seeds;
pub mod serve;
pub mod show;
pub mod signers;
pub mod snapshot;
pub mod store;
pub mod trust_common;
pub mod verify;
pub mod why;

use crate::output::Context;
use clap::Subcommand;

/// The subcommands.
// A variant's `about` documents it: a doc comment would also replace its
// `Args`' text in `abovo COMMAND --help`.
#[allow(missing_docs)]
#[derive(Debug, Subcommand)]
pub enum Command {
    // In `--help` order, by workflow: analysis, formats, building. Each
    // variant's `about` is its line in that list; the doc comment of its
    // `Args` is the whole text of `abovo COMMAND --help` (a doc comment
    // here would replace it).
    #[command(about = "Print the graph of TARGET: packages, as `guix graph`, bags or derivations")]
    Graph(graph::Args),
    #[command(about = "Print a shortest path from FROM to TO (packages, bags or derivations)")]
    Path(path::Args),
    #[command(about = "Explain why TARGET depends on DEP, edge by edge")]
    Why(why::Args),
    #[command(about = "Who would be rebuilt if TARGET changed (as `guix refresh -l`)")]
    Dependents(dependents::Args),
    #[command(
        about = "Count and list the closure of TARGET: derivations, fixed-output derivations, sources, size"
    )]
    Closure(closure::Args),
    #[command(
        about = "What must one trust to get TARGET: its seeds, kinds, evidence, sizes and paths"
    )]
    Seeds(seeds::Args),
    #[command(about = "Which binary seeds every package rests on, counted and ranked")]
    Audit(audit::Args),
    #[command(about = "Fetch the fixed outputs TARGET rests on into the cache, verified by hash")]
    Fetch(fetch::Args),
    #[command(about = "Which compiled code is inside files, directories and archives")]
    Scan(scan::Args),
    #[command(about = "Do independent builders agree on TARGET's outputs, and who signed each?")]
    Challenge(challenge::Args),
    #[command(
        about = "Show packages as `guix show` does; with --derivation, how a derivation is built"
    )]
    Show(show::Args),
    #[command(
        about = "List a store item, a directory in it, or the members of an archive inside it"
    )]
    Ls(ls::Args),
    #[command(about = "Print a file of a store item, or a member of an archive inside it")]
    Cat(cat::Args),
    #[command(about = "Recompute .drv and output paths from content; report every mismatch")]
    Verify(verify::Args),
    #[command(about = "Print the hash of files or trees, as `guix hash` does")]
    Hash(hash::Args),
    #[command(about = "Write or inspect a snapshot of a derivation graph")]
    Snapshot(snapshot::Args),
    #[command(
        about = "Index a store directory now, or anew (the first query on one does it anyway)"
    )]
    Index(index::Args),
    #[command(about = "Write the .drv files and sources of a closure to an archive of store items")]
    Export(export::Args),
    #[command(about = "Add a file or tree to abovo's store (content-addressed, like a source)")]
    Add(add::Args),
    #[command(about = "Make derivations without Scheme: add one written in JSON to the store")]
    Derivation(derivation::Args),
    #[command(about = "Build derivations in the sandbox; --check and --rounds compare rebuilds")]
    Build(build::Args),
    #[command(about = "Print the build log of a derivation")]
    Log(log::Args),
    #[command(about = "Compare two store items or trees file by file")]
    Diff(diff::Args),
    #[command(about = "Work with abovo's own store: verify it, show what it records")]
    Store(store::Args),
    #[command(about = "Serve abovo's store as a signed substitute server (as `guix publish`)")]
    Publish(publish::Args),
    #[command(about = "Explore trust bases in the browser: a read-only local web application")]
    Serve(serve::Args),
    #[command(about = "Make the signing key pair of `abovo publish` (Guix and Nix forms)")]
    Key(key::Args),
    /// The single-threaded sandbox helper that `abovo build` runs (internal).
    #[command(name = "__sandbox-helper", hide = true)]
    SandboxHelper,
}

/// Runs a subcommand.
pub fn dispatch(command: Command, ctx: &Context) -> anyhow::Result<u8> {
    match command {
        Command::Audit(args) => audit::run(args, ctx),
        Command::Hash(args) => hash::run(args, ctx),
        Command::Fetch(args) => fetch::run(args, ctx),
        Command::Challenge(args) => challenge::run(args, ctx),
        Command::Seeds(args) => seeds::run(args, ctx),
        Command::Scan(args) => scan::run(args, ctx),
        Command::Show(args) => show::run(args, ctx),
        Command::Ls(args) => ls::run(args, ctx),
        Command::Cat(args) => cat::run(args, ctx),
        Command::Export(args) => export::run(args, ctx),
        Command::Closure(args) => closure::run(args, ctx),
        Command::Dependents(args) => dependents::run(args, ctx),
        Command::Graph(args) => graph::run(args, ctx),
        Command::Path(args) => path::run(args, ctx),
        Command::Snapshot(args) => snapshot::run(args, ctx),
        Command::Index(args) => index::run(args, ctx),
        Command::Verify(args) => verify::run(args, ctx),
        Command::Why(args) => why::run(args, ctx),
        Command::Add(args) => add::run(args, ctx),
        Command::Derivation(args) => derivation::run(args, ctx),
        Command::Build(args) => build::run(args, ctx),
        Command::Log(args) => log::run(args, ctx),
        Command::Diff(args) => diff::run(args, ctx),
        Command::Store(args) => store::run(args, ctx),
        Command::Publish(args) => publish::run(args, ctx),
        Command::Key(args) => key::run(args, ctx),
        Command::Serve(args) => serve::run(args, ctx),
        Command::SandboxHelper => abovo_build::sandbox::helper::main(),
    }
}
