//! The `abovo` command line: argument parsing, dispatch, output formats and
//! exit codes.
//!
//! Everything a library user would need lives in the `abovo-*` crates; this
//! crate only turns their answers into text, JSON, DOT, GraphML or HTML, and
//! their errors into messages and [exit codes](exit).
//!
//! Each subcommand is a module of [`commands`] with an `Args` struct (its
//! flags, whose doc comments are the `--help` text) and a `run` function.
//!
//! `missing_docs` is denied here as in the libraries: every public item
//! (module, struct and field, enum and variant, function, constant) has a
//! doc comment. For the `Args` structs and their fields that comment is
//! also the `--help` text, so a flag without one would be a flag without
//! help.
#![deny(missing_docs)]
// Two system calls need `unsafe` (`prctl` and `_exit`, see [`memory`]);
// nothing else may.
#![deny(unsafe_code)]

pub mod cli;
pub mod commands;
pub mod config;
pub mod exit;
pub mod index;
pub mod members;
pub mod memory;
pub mod output;
pub mod packages;
pub mod places;
pub mod report;
pub mod snapshot_cache;
pub mod source;

use clap::Parser;
use std::ffi::OsString;

/// Runs abovo with these arguments (the first is the program name) and
/// ends the process with its exit code, without handing its memory back
/// first ([`memory::exit`]).
pub fn run_and_exit(args: impl IntoIterator<Item = OsString>) -> ! {
    memory::exit(run_code(args))
}

/// The exit code of abovo run with these arguments.
fn run_code(args: impl IntoIterator<Item = OsString>) -> u8 {
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help and version to stdout with success, errors to
            // stderr. Help that could not be written (a full disk, a closed
            // file) is an error too, but a reader that stopped reading
            // (`abovo --help | head`) is not, as for every command.
            if let Err(io) = e.print() {
                if io.kind() != std::io::ErrorKind::BrokenPipe {
                    let global = cli::GlobalArgs {
                        color: cli::ColorChoice::Auto,
                        quiet: false,
                    };
                    let stream = if e.use_stderr() {
                        "standard error"
                    } else {
                        "standard output"
                    };
                    output::Context::new(&global).error(
                        &anyhow::Error::new(io).context(format!("cannot write to {stream}")),
                    );
                    return exit::ERROR;
                }
            }
            return if e.use_stderr() {
                exit::ERROR
            } else {
                exit::SUCCESS
            };
        }
    };
    // Before the command allocates: the queries keep huge pages, the rest
    // of abovo turns them off (see `memory`).
    if !memory::keeps_huge_pages(&cli.command) {
        memory::keep_pages_small();
    }
    let ctx = output::Context::new(&cli.global);
    match commands::dispatch(cli.command, &ctx) {
        Ok(code) => code,
        Err(e) => {
            if output::is_broken_pipe(&e) {
                return exit::SUCCESS;
            }
            ctx.error(&e);
            exit::ERROR
        }
    }
}
