//! A persistent index of a live store directory's derivations, so that a
//! query on `/gnu/store` (or `/nix/store`, or any directory of `.drv`
//! files) does not parse every `.drv` again.
//!
//! The first [`load`] of a directory parses every `.drv` (in parallel, with
//! `abovo-graph`'s loader) and leaves in the cache, under
//! `index/<key>/` (`key` names the directory's canonical path and its
//! store directory):
//!
//! * `state`: the commit point (`state`): which generation of the two
//!   files below is current, and what change detection compares;
//! * `graph-<generation>.abovo-snapshot`: the graph built from them, in
//!   `abovo-graph`'s snapshot format, so that a query on an unchanged store
//!   only reads that snapshot; it is also all an update reads of the
//!   derivations already indexed ([`abovo_graph::build::rebuild_graph`]);
//! * `stamps-<generation>.bin`: the size, modification time and inode of
//!   the file of each derivation of the graph ([`stamps`]).
//!
//! A later load decides what changed, cheapest test first:
//!
//! 1. the directory's modification time is the one recorded: no entry was
//!    added or removed, and the snapshot is the answer;
//! 2. with the daemon's database ([`Registry`]): the rows of `ValidPaths`
//!    above the highest id seen name the `.drv` files registered since;
//!    when the row count is the old count plus those rows, nothing was
//!    deleted (a garbage collection deletes rows), and only the new files
//!    are parsed;
//! 3. otherwise the directory is listed: new names are parsed, names gone
//!    are forgotten, and a file whose size, modification time or inode
//!    differ from its stamp is parsed again.
//!
//! In 1 and 2 a `.drv` already indexed is not looked at again: in a store,
//! a `.drv` is written once by the daemon under a name that is the hash of
//! its content, and never rewritten (the store is read-only to everyone
//! else, and an item is deleted, not changed); a different text would have
//! a different name. A directory that is not a store gets no such
//! guarantee, which is why a listing compares every stamp, and why
//! `--no-index` (and `abovo index --rebuild`) exist. A modification time
//! is trusted only once it is older than [`RACY_NS`]: a file system's
//! clock ticks coarsely, and an entry added in the same tick as the
//! listing would leave it unchanged.
//!
//! An update builds the new graph from the old snapshot's derivations
//! that did not change, read in place, and the records of the files parsed
//! now ([`abovo_graph::build::rebuild_graph`]): the graph a fresh load
//! makes, without parsing or decoding into records what is already
//! indexed. It then writes a whole new snapshot (node numbers follow path
//! order, so one added `.drv` renumbers most of the graph).
//!
//! Files are written under a temporary name and renamed into place, the
//! state last, so a reader sees one generation or the other; every file is
//! checksummed and versioned. A damaged or foreign index is rebuilt, with
//! one note ([`Report::note`]); a cache that cannot be written leaves the
//! answer as it would be without an index, with one note too.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod stamps;
mod state;
mod update;

use abovo_graph::Graph;
use abovo_graph::build::build_graph_packed;
use abovo_graph::error::LoadError;
use abovo_graph::load::{
    FileStamp, LoadOptions, Reporter, list_entries, parse_directory_files, parse_packed,
    skipped_note,
};
use abovo_store::store_path::StoreDir;
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use state::State;
use std::path::{Path, PathBuf};
use update::Index;

/// How recent a modification time may be and still be trusted not to
/// change: two seconds, well above the tick of any file system's clock.
pub const RACY_NS: i64 = 2_000_000_000;

/// A store daemon's database, read only: what tells which `.drv` files
/// were registered or deleted since an index was made.
pub trait Registry {
    /// The highest `ValidPaths` id and the number of rows.
    fn state(&self) -> Result<(i64, u64), String>;
    /// How many rows have an id above `id`, and the base names of the
    /// `.drv` paths among them.
    fn since(&self, id: i64) -> Result<(u64, Vec<String>), String>;
}

/// How to load through an index.
#[derive(Clone, Copy)]
pub struct Options<'a> {
    /// abovo's cache directory (`index/` goes in it); `None` when there is
    /// none: the directory is then loaded as without an index.
    pub cache: Option<&'a Path>,
    /// The store directory of the paths.
    pub store: &'a StoreDir,
    /// The daemon's database, when the directory is a store that has one.
    pub registry: Option<&'a dyn Registry>,
    /// Where progress and warnings go.
    pub reporter: &'a dyn Reporter,
    /// Ignore an existing index and make it again.
    pub rebuild: bool,
    /// Told when a section of the index's snapshot that is read on first
    /// use turns out damaged (the index is then dropped, so the next load
    /// makes it again). The section reads as empty, so a program that must
    /// not answer from it stops here, as the `abovo` binary does.
    pub on_damage: Option<&'a abovo_graph::snapshot::OnDamage>,
}

/// What a load through the index did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    /// The index was made now (or made again).
    Built,
    /// The directory's modification time was unchanged: the snapshot only.
    Unchanged,
    /// A check (the database, or a listing) found nothing to parse.
    Checked,
    /// Files were parsed or forgotten, and the index updated.
    Updated,
    /// No index was used (no cache, or it could not be written).
    Unindexed,
}

impl How {
    /// The word for it in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            How::Built => "built",
            How::Unchanged => "unchanged",
            How::Checked => "checked",
            How::Updated => "updated",
            How::Unindexed => "unindexed",
        }
    }
}

/// What a load through the index did, and what the user should know.
#[derive(Debug, Clone)]
pub struct Report {
    /// What was done.
    pub how: How,
    /// How changes were detected: `directory time`, `database`,
    /// `listing`, or empty when the index was built.
    pub checked_by: &'static str,
    /// `.drv` files parsed because they were new.
    pub added: usize,
    /// Indexed `.drv` files forgotten because they are gone.
    pub removed: usize,
    /// Indexed `.drv` files parsed again because their file changed.
    pub reparsed: usize,
    /// The index directory, when there is one.
    pub index_dir: Option<PathBuf>,
    /// One line for the user: the index was damaged and rebuilt, or could
    /// not be written.
    pub note: Option<String>,
}

/// A graph and how it was had.
pub struct Loaded {
    /// The graph of the directory, as [`abovo_graph::load::load_directory`]
    /// gives it.
    pub graph: Graph,
    /// What the index did.
    pub report: Report,
}

/// The directory of the index of `dir` (canonical) with paths in `store`,
/// under the cache directory `cache`.
pub fn index_dir(cache: &Path, canonical: &Path, store: &StoreDir) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    let mut h = Sha256::new();
    h.update(canonical.as_os_str().as_bytes());
    h.update([0]);
    h.update(store.as_str().as_bytes());
    let key: String = h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    cache.join("index").join(key)
}

/// Loads the graph of the `.drv` files of `dir` through its index (see the
/// crate docs): the same graph as `load_directory`, and the same errors
/// for the directory's own files. Problems of the index itself are never
/// errors: they are said in [`Report::note`].
pub fn load(dir: &Path, opts: &Options<'_>) -> Result<Loaded, LoadError> {
    let Some(cache) = opts.cache else {
        return unindexed(dir, opts, None);
    };
    let canonical = std::fs::canonicalize(dir).map_err(io(dir))?;
    let at = index_dir(cache, &canonical, opts.store);
    let mut note = None;
    if !opts.rebuild {
        match Index::open(dir, &canonical, &at, opts) {
            Ok(Some(index)) => match index.refresh() {
                Ok(loaded) => return Ok(loaded),
                Err(Problem::Source(e)) => return Err(e),
                Err(Problem::Damaged(why)) => note = Some(damaged(dir, &why)),
            },
            Ok(None) => {}
            Err(Problem::Source(e)) => return Err(e),
            Err(Problem::Damaged(why)) => note = Some(damaged(dir, &why)),
        }
    }
    build(dir, &canonical, &at, opts, note)
}

fn damaged(dir: &Path, why: &str) -> String {
    format!(
        "the index of `{}` was damaged ({why}); rebuilding it",
        dir.display()
    )
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> LoadError + '_ {
    move |source| LoadError::Io {
        path: path.to_owned(),
        source,
    }
}

/// What stops an index from answering: the source itself (an error for
/// the user), or the index (rebuilt).
enum Problem {
    Source(LoadError),
    Damaged(String),
}

impl From<LoadError> for Problem {
    fn from(e: LoadError) -> Problem {
        Problem::Source(e)
    }
}

/// The load without an index, with `note` (why).
fn unindexed(dir: &Path, opts: &Options<'_>, note: Option<String>) -> Result<Loaded, LoadError> {
    let graph = abovo_graph::load::load_directory(dir, load_options(opts))?;
    Ok(Loaded {
        graph,
        report: Report {
            how: How::Unindexed,
            checked_by: "",
            added: 0,
            removed: 0,
            reparsed: 0,
            index_dir: None,
            note,
        },
    })
}

fn load_options<'a>(opts: &Options<'a>) -> LoadOptions<'a> {
    LoadOptions::new(opts.store, opts.reporter)
}

/// The directory's modification time, in nanoseconds.
fn dir_mtime(dir: &Path) -> Result<i64, LoadError> {
    let st = rustix::fs::stat(dir).map_err(|e| io(dir)(e.into()))?;
    Ok(FileStamp::of(&st).mtime_ns)
}

/// `mtime` when it is old enough to be trusted ([`RACY_NS`]).
fn trusted_mtime(mtime: i64) -> Option<i64> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64);
    (now.saturating_sub(mtime) > RACY_NS).then_some(mtime)
}

/// Makes the index of `dir` anew.
fn build(
    dir: &Path,
    canonical: &Path,
    at: &Path,
    opts: &Options<'_>,
    note: Option<String>,
) -> Result<Loaded, LoadError> {
    // What change detection compares is taken before the listing: a change
    // made during it is then seen as a change next time.
    let registry = opts.registry.and_then(|r| r.state().ok());
    let mtime = dir_mtime(dir)?;
    let listing = list_entries(dir)?;
    let mut parsed = parse_directory_files(dir, &listing, true, parse_packed, load_options(opts))?;
    if parsed.skipped > 0 {
        opts.reporter.warn(&skipped_note(dir, parsed.skipped));
    }
    if parsed.records.is_empty() {
        return Err(LoadError::Empty(dir.to_owned()));
    }
    // The listing is sorted by name, which is path order; sorted again
    // all the same (a sorted run costs one pass), since the stamps are
    // kept in the order of the graph's derivations.
    parsed
        .records
        .par_sort_unstable_by(|a, b| a.0.path().cmp(b.0.path()));
    let stamps: Vec<FileStamp> = parsed.records.iter().map(|(_, s)| *s).collect();
    let graph = build_graph_packed(
        opts.store.clone(),
        parsed.records.iter().map(|(r, _)| r).collect(),
    );
    // Millions of small strings: freed on every core, beside the writing
    // below and the answer (a process that exits first frees nothing).
    let records = parsed.records;
    rayon::spawn(move || records.into_par_iter().for_each(drop));
    let state = State {
        source: path_bytes(canonical),
        store: opts.store.as_str().to_owned(),
        generation: String::new(),
        dir_mtime: trusted_mtime(mtime),
        registry,
        skipped: parsed.skipped as u64,
        ..State::default()
    };
    let (graph, written) = commit(dir, at, state, graph?, &stamps);
    let mut report = Report {
        how: How::Built,
        checked_by: "",
        added: stamps.len(),
        removed: 0,
        reparsed: 0,
        index_dir: Some(at.to_owned()),
        note,
    };
    if let Err(why) = written {
        report.how = How::Unindexed;
        report.index_dir = None;
        report.note = Some(unwritable(at, &why));
    }
    Ok(Loaded { graph, report })
}

fn unwritable(at: &Path, why: &str) -> String {
    format!(
        "cannot write the index in `{}` ({why}); working without one",
        at.display()
    )
}

fn path_bytes(p: &Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    p.as_os_str().as_bytes().to_vec()
}

/// Writes the snapshot of `graph`, the `stamps` of its derivations (in
/// node order) and the state, in that order. The graph is the answer
/// whatever happens to the writing, whose failure is returned beside it.
fn commit(
    dir: &Path,
    at: &Path,
    mut state: State,
    mut graph: Graph,
    stamps: &[FileStamp],
) -> (Graph, Result<(), String>) {
    let generation = new_generation();
    state.generation = generation.clone();
    state.derivations = stamps.len() as u64;
    state.nodes = graph.len() as u64;
    graph.set_description(dir.display().to_string());
    // The in-place form: later queries map it and read only the sections
    // they need.
    let snapshot = abovo_graph::snapshot::write_in_place(
        &graph,
        &abovo_graph::snapshot::WriteOptions {
            creator: "abovo index".into(),
            level: 1,
            nar_hashes: true,
        },
    );
    state.snapshot_len = snapshot.len() as u64;
    let written = (|| {
        std::fs::create_dir_all(at).map_err(|e| e.to_string())?;
        write_atomic(at, &stamps_name(&generation), &stamps::encode(stamps))?;
        write_atomic(at, &snapshot_name(&generation), &snapshot)?;
        drop(snapshot);
        write_atomic(at, "state", &state.encode())?;
        clean(at, &generation);
        Ok(())
    })();
    (graph, written)
}

fn stamps_name(generation: &str) -> String {
    format!("stamps-{generation}.bin")
}

fn snapshot_name(generation: &str) -> String {
    format!("graph-{generation}.abovo-snapshot")
}

/// A name no other writer picks: the time in nanoseconds and the process.
fn new_generation() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    format!("{nanos:016x}{:08x}", std::process::id())
}

/// Writes `name` in `at` under a temporary name, then renames it into
/// place, so that no reader sees it half-written.
fn write_atomic(at: &Path, name: &str, bytes: &[u8]) -> Result<(), String> {
    let tmp = at.join(format!(".{name}.{}.tmp", new_generation()));
    let done = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, at.join(name)));
    if let Err(e) = done {
        let _ = std::fs::remove_file(&tmp);
        return Err(e.to_string());
    }
    Ok(())
}

/// Removes the files of other generations (a reader that still wants them
/// reads the state again; `records-` files are those of an index of
/// abovo before the stamps), and temporary files over an hour old (those
/// of a writer that died).
fn clean(at: &Path, generation: &str) {
    let Ok(entries) = std::fs::read_dir(at) else {
        return;
    };
    let keep = [stamps_name(generation), snapshot_name(generation)];
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        let old_generation = ["records-", "stamps-", "graph-"]
            .iter()
            .any(|p| name.starts_with(p))
            && !keep.iter().any(|k| k == name);
        let stale_tmp = name.ends_with(".tmp")
            && e.metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age.as_secs() > 3600);
        if old_generation || stale_tmp {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// The state of the index at `at`; `None` when there is none.
fn read_state(at: &Path) -> Result<Option<State>, Problem> {
    match std::fs::read(at.join("state")) {
        Ok(bytes) => State::decode(&bytes).map(Some).map_err(Problem::Damaged),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Problem::Damaged(format!("its state cannot be read: {e}"))),
    }
}
