//! The built-in snapshot, expanded once into abovo's cache and mapped by
//! every later process.
//!
//! The snapshot compiled into the binary is compressed (the dense form:
//! xz, varints; the binary must stay under 25 MB), so reading it costs
//! hundreds of milliseconds of decompression and decoding in every
//! process. The first
//! process that reads it writes it out in the in-place form (format
//! version 9, see `abovo_graph::snapshot`) to
//!
//! ```text
//! $ABOVO_CACHE_DIR | $XDG_CACHE_HOME/abovo | ~/.cache/abovo
//!   snapshots/<sha256>.v9.abovo-snapshot
//! ```
//!
//! named by the built-in snapshot's own SHA-256 (the checksum in its
//! header), so that another build of abovo with other data never reads it
//! (and the copies of other builds are removed when a new one is written);
//! later processes map that file and answer without decoding it. The file
//! is written under a temporary name and renamed into place, so a reader
//! never sees a partial one.
//!
//! Falling back: without a cache directory, or one that cannot be written
//! (or whose parent does not exist),
//! the built-in snapshot is decoded in memory as before, silently (the
//! answer is the same, only slower). A cache file that fails its checks
//! when opened (its table, or the checksum of a section every query
//! reads) is replaced by a fresh one. One whose later section turns out
//! damaged on first use is removed, and the command stops with an error
//! (exit 2) rather than answer from damaged data; the next run writes it
//! again.

use abovo_graph::Graph;
use abovo_graph::snapshot::{self, OnDamage, OpenOptions, SnapshotError};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The cache file of the built-in snapshot `built_in` under the cache
/// directory `root`.
pub fn cache_path(root: &Path, built_in: &[u8]) -> PathBuf {
    // Bytes 20..52 of a compressed snapshot are the SHA-256 of its body.
    let key = built_in
        .get(20..52)
        .map(abovo_store::encoding::base16_encode)
        .unwrap_or_default();
    root.join("snapshots").join(format!(
        "{key}.v{}.abovo-snapshot",
        snapshot::VERSION_IN_PLACE
    ))
}

/// The built-in snapshot's graph: mapped from the cache when it is there,
/// else decoded from `built_in` (and written to the cache for the next
/// process when the cache can be written).
pub fn load(built_in: &'static [u8]) -> Result<Graph, SnapshotError> {
    let Some(root) = abovo_fetch::cache::Cache::default_dir() else {
        return snapshot::read_trusted(built_in);
    };
    let path = cache_path(&root, built_in);
    match snapshot::open_with(&path, &stop_on_damage(&path)) {
        Ok(graph) => return Ok(graph),
        Err(SnapshotError::Read(e)) if e.kind() == std::io::ErrorKind::NotFound => {}
        // Damaged, cut short, of another version: written again below.
        Err(_) => {
            let _ = std::fs::remove_file(&path);
        }
    }
    let graph = snapshot::read_trusted(built_in)?;
    // Best effort: a cache that cannot be written leaves the answer as it is.
    let _ = store(&path, &graph);
    Ok(graph)
}

/// Writes `graph` in the in-place form to `path` (`ROOT/snapshots/FILE`),
/// atomically. The parent of the cache root must exist (`~/.cache`, say):
/// abovo makes its own directories in it, not a whole path of them (a
/// cache directory set to somewhere that does not exist stays without a
/// cache).
pub fn store(path: &Path, graph: &Graph) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    if let Some(root) = dir.parent() {
        match std::fs::create_dir(root) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(e),
            _ => {}
        }
    }
    match std::fs::create_dir(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(e),
        _ => {}
    }
    let bytes = snapshot::write_in_place(
        graph,
        &snapshot::WriteOptions {
            creator: format!("abovo {} (cache)", env!("CARGO_PKG_VERSION")),
            ..Default::default()
        },
    );
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut tmp, &bytes)?;
    tmp.as_file().sync_data()?;
    tmp.persist(path).map_err(|e| e.error)?;
    // Copies made by other builds of abovo (other built-in data, or an
    // earlier version of the in-place form) are not read again: 44 MB
    // each, they go. A process still mapping one keeps its pages until it
    // ends.
    for entry in std::fs::read_dir(dir)?.flatten() {
        let other = entry.path();
        let name = other.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if other != path && name.ends_with(".abovo-snapshot") {
            let _ = std::fs::remove_file(&other);
        }
    }
    Ok(())
}

/// A damage handler for the cache file at `path`: removes it and stops
/// the process with an error, before any answer is drawn from the damaged
/// section.
fn stop_on_damage(path: &Path) -> OpenOptions {
    let path = path.to_owned();
    OpenOptions {
        on_damage: Some(stop_on_damage_of(
            format!("the cached snapshot `{}`", path.display()),
            Some(path),
        )),
    }
}

/// What to do when a section of a mapped snapshot, read on first use,
/// turns out damaged: remove `remove` (if any), say that `what` is damaged
/// and has been removed, and stop with exit status 2, before anything is
/// answered from an empty section.
pub fn stop_on_damage_of(what: String, remove: Option<PathBuf>) -> OnDamage {
    Arc::new(move |e: &SnapshotError| {
        if let Some(path) = &remove {
            let _ = std::fs::remove_file(path);
        }
        eprintln!(
            "abovo: error: {what} is damaged ({e}); it has been removed, run the command again"
        );
        std::process::exit(i32::from(crate::exit::ERROR));
    })
}
