//! `abovo add PATH`: import a file or tree into abovo's store.

use super::store::StoreArgs;
use crate::exit;
use crate::output::Context;
use abovo_build::store::add::{AddMethod, check_add_name};
use std::path::PathBuf;

/// Add a file or tree to the store, content-addressed like a source; print
/// its store path.
///
/// With --recursive the item is hashed as a NAR (any file type; the
/// executable bit is kept) and gets a `source` path, as Guix's `local-file`
/// does; without, PATH must be a regular file and gets a fixed path of its
/// SHA-256. Adding the same content twice gives the same path.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The file or directory.
    pub path: PathBuf,
    /// Hash the NAR serialisation (needed for directories, symlinks and
    /// executables).
    #[arg(long, short = 'r')]
    pub recursive: bool,
    /// The store name (default: the file name).
    #[arg(long, short = 'n', value_name = "NAME")]
    pub name: Option<String>,
    /// The store.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Runs `abovo add`.
pub fn run(args: Args, _ctx: &Context) -> anyhow::Result<u8> {
    let meta = std::fs::symlink_metadata(&args.path)
        .map_err(|e| anyhow::anyhow!("cannot read `{}`: {e}", args.path.display()))?;
    if !args.recursive && !std::fs::metadata(&args.path).is_ok_and(|m| m.is_file()) {
        anyhow::bail!(
            "`{}` is {}; without --recursive only a regular file can be added",
            args.path.display(),
            if meta.is_dir() {
                "a directory"
            } else {
                "not a regular file"
            }
        );
    }
    let method = if args.recursive {
        AddMethod::Recursive
    } else {
        AddMethod::Flat
    };
    // The name is checked before a store is created for it.
    let default_name = args
        .path
        .file_name()
        .and_then(|n| n.to_str())
        .map(str::to_owned);
    match args.name.as_deref().or(default_name.as_deref()) {
        Some(name) => check_add_name(name)?,
        None => anyhow::bail!(
            "`{}` has no file name that can name a store item (store names are ASCII); \
             pass --name",
            args.path.display()
        ),
    }
    // Opened (and created when missing) once the argument looks right.
    let store = args.store.open()?;
    let path = store.add_path(&args.path, method, args.name.as_deref())?;
    crate::outln!("{}", store.display(&path))?;
    Ok(exit::SUCCESS)
}
