//! `abovo cat STORE-PATH[/PATH]`: the bytes of a file of a store item, or
//! of a member of an archive inside one.

use crate::exit;
use crate::output::Context;
use crate::places::PlaceArgs;
use abovo_trust::content::Limits;
use abovo_trust::items;
use std::io::Write;

/// Print the bytes of a file of a store item: a source (builder script,
/// patch), a fixed output, a `.drv` file, a file inside a tree, or a member
/// of an archive inside one, to any depth.
///
/// STORE-PATH[/PATH]: the item's absolute store path (or its base name
/// `<hash>-<name>`), then the path inside it, which goes on into archives:
/// `/gnu/store/…-stage0-posix-1.6.0.tar.gz/stage0-posix-1.6.0/bootstrap-seeds/POSIX/x86/hex0-seed`.
/// A path inside an archive may leave out its top-level directory
/// (`…tar.gz/bootstrap-seeds/POSIX/x86/hex0-seed`). `..` is refused.
/// Exactly the bytes are written, nothing added.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The file: STORE-PATH[/PATH].
    #[arg(value_name = "STORE-PATH[/PATH]")]
    pub path: String,
    /// The store directory of STORE-PATH. Default: what comes before its
    /// `<hash>-<name>` component (/gnu/store for a bare base name).
    #[arg(long, value_name = "DIR")]
    pub store_dir: Option<String>,
    /// Where the items are.
    #[command(flatten)]
    pub places: PlaceArgs,
}

/// Runs `abovo cat`.
pub fn run(args: Args, ctx: &Context) -> anyhow::Result<u8> {
    let (path, wanted) = crate::places::parse_item_path(&args.path, args.store_dir.as_deref())?;
    let places = args.places.places(&path.store, &[])?;
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let located = items::cat(&places, &path, &wanted, &Limits::default(), &mut out)
        .map_err(crate::places::with_hint)?;
    out.flush()?;
    crate::places::note_rewritten(ctx, &path, &located);
    Ok(exit::SUCCESS)
}
