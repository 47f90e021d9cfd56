//! Where the commands that read store items (`ls`, `cat`, `show`,
//! `export`) look for them: [`PlaceArgs`] and the order of the places.
//!
//! In order: what `--sources` (or `ABOVO_SOURCES`) names; what the
//! command's own graph source holds (`show --source DIR`); the item at its
//! own path when this machine has a store (unless `--no-store`); the items
//! built into abovo ([`BUILT_IN_ITEMS`]). The first place that holds an
//! item is the one it is read from.

use crate::output::Context;
use abovo_store::StoreDir;
use abovo_trust::items::{DiskPlace, ItemArchive, ItemError, ItemPath, Located, Places, Wanted};
use anyhow::Context as _;
use std::path::{Path, PathBuf};

/// The `.drv` files and sources of hello's closure in Guix 1.5.0 (401
/// items), carried by the binary so that `abovo show --derivation
/// guile-bootstrap` prints its builder script out of the box (made by `abovo export`; see
/// `data/README.md`).
pub static BUILT_IN_ITEMS: &[u8] = include_bytes!("../../../data/guix-1.5.0-hello-items.tar.zst");

/// How the built-in items are named in reports.
pub const BUILT_IN_ITEMS_NAME: &str =
    "the built-in items (the .drv files and sources of hello's closure, Guix 1.5.0)";

/// Where store items are looked for.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PlaceArgs {
    /// Where to look for store items first: a directory of items named
    /// `<hash>-<name>` (a store such as /gnu/store, a folder of fetched
    /// files), an archive of items (a tar, compressed or not, with the
    /// items at its top level: the Guix corpus's sources.tar.zst, or what
    /// `abovo export` writes), or a corpus folder (its sources.tar.zst and
    /// drvs.tar.zst). May be repeated. Default: the paths in ABOVO_SOURCES,
    /// separated by `:`.
    #[arg(long = "sources", value_name = "PATH")]
    pub sources: Vec<PathBuf>,
    /// Do not read an item at its own store path on this machine (by
    /// default, a machine with a store is read directly).
    #[arg(long)]
    pub no_store: bool,
}

impl PlaceArgs {
    /// The places, in search order: `--sources` (else `ABOVO_SOURCES`),
    /// then `extra` (what the command's graph source holds), then the
    /// store directory `store` itself, then the built-in items.
    pub fn places(&self, store: &StoreDir, extra: &[PathBuf]) -> anyhow::Result<Places> {
        let mut places = Places::new();
        let from_env: Vec<PathBuf> = match std::env::var_os("ABOVO_SOURCES") {
            Some(v) if self.sources.is_empty() => std::env::split_paths(&v)
                .filter(|p| !p.as_os_str().is_empty())
                .collect(),
            _ => Vec::new(),
        };
        let named = if self.sources.is_empty() {
            &from_env
        } else {
            &self.sources
        };
        for path in named {
            places
                .push_path(path)
                .with_context(|| format!("--sources `{}`", path.display()))?;
        }
        for path in extra {
            places.push_path(path)?;
        }
        if !self.no_store && Path::new(store.as_str()).is_dir() {
            places.push(Box::new(DiskPlace::own_paths(store.as_str())));
        }
        // A cache of fetched fixed outputs laid out like a store (items by
        // base name) is one more place here: `DiskPlace::new(name, false,
        // |w| path of w.base_name() in the cache, when it holds it)`.
        places.push(Box::new(ItemArchive::in_memory(
            BUILT_IN_ITEMS,
            BUILT_IN_ITEMS_NAME,
        )));
        Ok(places)
    }
}

/// What a graph source (`--source PATH`) offers as places of items: a
/// directory (of `.drv` files, or a whole store) or a corpus folder, and a
/// tarball of `.drv` files; an abovo snapshot holds no item. Streams are
/// not read twice, so they offer nothing.
pub fn graph_source_places(source: Option<&Path>) -> Vec<PathBuf> {
    use abovo_graph::load::{SourceKind, detect};
    let Some(path) = source else {
        return Vec::new();
    };
    if abovo_graph::input::is_stream_path(path) {
        return Vec::new();
    }
    match detect(path) {
        Ok(SourceKind::Directory | SourceKind::CorpusFolder { .. } | SourceKind::Tarball) => {
            vec![path.to_owned()]
        }
        _ => Vec::new(),
    }
}

/// The hint after an error saying an item is not at hand.
pub const NOT_AT_HAND_HINT: &str = "hint: --sources PATH adds a place to look: a store \
directory, a folder of fetched files, an archive of items such as the Guix corpus's \
sources.tar.zst, or a corpus folder";

/// Parses `STORE-PATH[/PATH]` (see `abovo cat --help`) and names the item
/// to look for.
pub fn parse_item_path(spec: &str, store_dir: Option<&str>) -> anyhow::Result<(ItemPath, Wanted)> {
    let store = store_dir
        .map(|d| StoreDir::new(d).with_context(|| format!("invalid --store-dir `{d}`")))
        .transpose()?;
    let path = ItemPath::parse(spec, store.as_ref())?;
    let wanted = Wanted::new(path.item.clone());
    Ok((path, wanted))
}

/// The library's error, with the hint of an item not at hand after it.
pub fn with_hint(e: ItemError) -> anyhow::Error {
    match e {
        ItemError::NotFound { .. } => anyhow::anyhow!("{e}\n{NOT_AT_HAND_HINT}"),
        other => anyhow::Error::new(other),
    }
}

/// A note when the path read is not the one given: an archive's top-level
/// directory was put in.
pub fn note_rewritten(ctx: &Context, given: &ItemPath, located: &Located) {
    let given = given.to_string();
    if located.path != given {
        ctx.note(&format!(
            "`{given}` read as `{}` (the archive's top-level directory put in)",
            located.path
        ));
    }
}
