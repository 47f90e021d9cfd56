//! A persistent index of a live store directory's derivations, so that a
//! query on `/gnu/store` (or `/nix/store`, or any directory of `.drv`
//! files) does not parse every `.drv` again.
//!
//! The first [`load`] of a directory parses every `.drv` (in parallel, with
//! `abovo-graph`'s loader) and leaves in the cache, under
//! `index/<key>/` (`key` names the directory's canonical path and its
//! store directory):
//!
//! * `state`: the commit point ([`state`]): which generation of the two
//!   files below is current, and what change detection compares;
//! * `records-<generation>.bin`: what the graph keeps of every `.drv`, with
//!   the size, modification time and inode of its file ([`records`]);
//! * `graph-<generation>.abovo-snapshot`: the graph built from them, in
//!   `abovo-graph`'s snapshot format, so that a query on an unchanged store
//!   only reads that snapshot.
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
//! Files are written under a temporary name and renamed into place, the
//! state last, so a reader sees one generation or the other; every file is
//! checksummed and versioned. A damaged or foreign index is rebuilt, with
//! one note ([`Report::note`]); a cache that cannot be written leaves the
//! answer as it would be without an index, with one note too.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod records;
mod state;

use abovo_graph::Graph;
use abovo_graph::build::{DrvRecord, build_graph_borrowed};
use abovo_graph::error::LoadError;
use abovo_graph::load::{
    FileStamp, Listing, LoadOptions, Reporter, list_entries, parse_directory_files, skipped_note,
};
use abovo_store::store_path::StoreDir;
use rayon::prelude::*;
use records::Entry;
use rustc_hash::FxHashMap;
use sha2::{Digest, Sha256};
use state::State;
use std::path::{Path, PathBuf};

/// How recent a modification time may be and still be trusted not to
/// change: two seconds, well above the tick of any file system's clock.
pub const RACY_NS: i64 = 2_000_000_000;

/// The zstd level of the records (the quickest: they are written with
/// every change of the store, and zstd's first level already finds the
/// store paths and names that repeat from one record to the next).
const LEVEL: i32 = 1;

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
    let parsed = parse_directory_files(dir, &listing, true, load_options(opts))?;
    if parsed.skipped > 0 {
        opts.reporter.warn(&skipped_note(dir, parsed.skipped));
    }
    if parsed.records.is_empty() {
        return Err(LoadError::Empty(dir.to_owned()));
    }
    let entries: Vec<Entry> = parsed
        .records
        .into_iter()
        .map(|(record, stamp)| Entry { record, stamp })
        .collect();
    let state = State {
        source: path_bytes(canonical),
        store: opts.store.as_str().to_owned(),
        generation: String::new(),
        dir_mtime: trusted_mtime(mtime),
        registry,
        derivations: entries.len() as u64,
        skipped: parsed.skipped as u64,
        ..State::default()
    };
    let (graph, written) = commit(dir, at, state, entries, opts)?;
    let mut report = Report {
        how: How::Built,
        checked_by: "",
        added: graph.derivation_count(),
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

/// Builds the graph of `entries`, and writes records, snapshot and state
/// (in that order). The graph is the answer whatever happens to the
/// writing, whose failure is returned beside it.
fn commit(
    dir: &Path,
    at: &Path,
    mut state: State,
    entries: Vec<Entry>,
    opts: &Options<'_>,
) -> Result<(Graph, Result<(), String>), LoadError> {
    let generation = new_generation();
    state.generation = generation.clone();
    state.derivations = entries.len() as u64;
    // The records are written out while the graph is built from them: two
    // passes of one core each, side by side.
    let (records, graph) = rayon::join(
        || records::encode(&entries, LEVEL).map_err(|e| e.to_string()),
        || -> Result<(Graph, Vec<u8>), LoadError> {
            let list: Vec<&DrvRecord> = entries.iter().map(|e| &e.record).collect();
            let mut graph = build_graph_borrowed(opts.store.clone(), list)?;
            graph.set_description(dir.display().to_string());
            // The in-place form (format version 3): later queries map it
            // and read only the sections they need.
            let snapshot = abovo_graph::snapshot::write_in_place(
                &graph,
                &abovo_graph::snapshot::WriteOptions {
                    creator: "abovo index".into(),
                    level: LEVEL,
                    nar_hashes: true,
                },
            );
            Ok((graph, snapshot))
        },
    );
    // Millions of small strings: freed on every core, beside the writing
    // below and the answer (a process that exits first frees nothing).
    rayon::spawn(move || entries.into_par_iter().for_each(drop));
    let (graph, snapshot) = graph?;
    let written = records.and_then(|records| {
        state.nodes = graph.len() as u64;
        state.snapshot_len = snapshot.len() as u64;
        std::fs::create_dir_all(at).map_err(|e| e.to_string())?;
        write_atomic(at, &records_name(&generation), &records)?;
        write_atomic(at, &snapshot_name(&generation), &snapshot)?;
        write_atomic(at, "state", &state.encode())?;
        clean(at, &generation);
        Ok(())
    });
    Ok((graph, written))
}

fn records_name(generation: &str) -> String {
    format!("records-{generation}.bin")
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
/// reads the state again), and temporary files over an hour old (those of
/// a writer that died).
fn clean(at: &Path, generation: &str) {
    let Ok(entries) = std::fs::read_dir(at) else {
        return;
    };
    let keep = [records_name(generation), snapshot_name(generation)];
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        let old_generation = (name.starts_with("records-") || name.starts_with("graph-"))
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

/// An index found on disk, its state read.
struct Index<'a> {
    dir: &'a Path,
    at: &'a Path,
    opts: &'a Options<'a>,
    state: State,
}

impl<'a> Index<'a> {
    /// The index of `dir` at `at`, if there is one.
    fn open(
        dir: &'a Path,
        canonical: &Path,
        at: &'a Path,
        opts: &'a Options<'a>,
    ) -> Result<Option<Index<'a>>, Problem> {
        let state = match read_state(at)? {
            Some(s) => s,
            None => return Ok(None),
        };
        if state.source != path_bytes(canonical) || state.store != opts.store.as_str() {
            return Err(Problem::Damaged("it was made for another directory".into()));
        }
        Ok(Some(Index {
            dir,
            at,
            opts,
            state,
        }))
    }

    /// Brings the index up to date and gives the graph.
    fn refresh(mut self) -> Result<Loaded, Problem> {
        let mtime = dir_mtime(self.dir)?;
        if self.state.dir_mtime == Some(mtime) {
            let graph = self.snapshot()?;
            return Ok(self.loaded(graph, How::Unchanged, "directory time", (0, 0, 0), None));
        }
        if let (Some(registry), Some((id, count))) = (self.opts.registry, self.state.registry) {
            if let Ok(now) = registry.state() {
                if let Ok((rows, drvs)) = registry.since(id) {
                    if now.1 == count.saturating_add(rows) {
                        return self.add_registered(mtime, now, drvs);
                    }
                    // Rows were deleted: a garbage collection. The listing
                    // says which files went.
                    self.state.registry = Some(now);
                }
            }
        }
        self.relist(mtime)
    }

    /// The graph of the current snapshot; when its file is gone (another
    /// process updated the index meanwhile), the state is read again once.
    fn snapshot(&mut self) -> Result<Graph, Problem> {
        let graph = match self.open_snapshot()? {
            Some(g) => g,
            None => {
                self.state = read_state(self.at)?
                    .ok_or_else(|| Problem::Damaged("its state is gone".into()))?;
                self.open_snapshot()?
                    .ok_or_else(|| Problem::Damaged("its snapshot is gone".into()))?
            }
        };
        if graph.store_dir() != self.opts.store || graph.len() as u64 != self.state.nodes {
            return Err(Problem::Damaged(
                "its snapshot does not match its state".into(),
            ));
        }
        let mut graph = graph;
        graph.set_description(self.dir.display().to_string());
        Ok(graph)
    }

    /// Opens the current generation's snapshot in place (`None`: the file
    /// is gone). It is mapped, not read: the sections every query reads are
    /// checked against their checksums now, the others when first used. A
    /// section found damaged then removes the state, so that the next load
    /// makes the index again, and is told to [`Options::on_damage`].
    fn open_snapshot(&self) -> Result<Option<Graph>, Problem> {
        let path = self.at.join(snapshot_name(&self.state.generation));
        match std::fs::metadata(&path) {
            Ok(m) if m.len() == self.state.snapshot_len => {}
            Ok(_) => {
                return Err(Problem::Damaged(
                    "its snapshot is not the length its state says".into(),
                ));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(Problem::Damaged(format!(
                    "its snapshot cannot be read: {e}"
                )));
            }
        }
        let state = self.at.join("state");
        let told = self.opts.on_damage.cloned();
        let on_damage: abovo_graph::snapshot::OnDamage = std::sync::Arc::new(move |e| {
            let _ = std::fs::remove_file(&state);
            if let Some(tell) = &told {
                tell(e);
            }
        });
        let opts = abovo_graph::snapshot::OpenOptions {
            on_damage: Some(on_damage),
        };
        match abovo_graph::snapshot::open_with(&path, &opts) {
            Ok(g) => Ok(Some(g)),
            Err(abovo_graph::snapshot::SnapshotError::Read(e))
                if e.kind() == std::io::ErrorKind::NotFound =>
            {
                Ok(None)
            }
            Err(e) => Err(Problem::Damaged(format!("snapshot: {e}"))),
        }
    }

    /// The entries of the current records file.
    fn entries(&self) -> Result<Vec<Entry>, Problem> {
        let path = self.at.join(records_name(&self.state.generation));
        let bytes = std::fs::read(&path)
            .map_err(|e| Problem::Damaged(format!("its records cannot be read: {e}")))?;
        let entries =
            records::decode(&bytes).map_err(|e| Problem::Damaged(format!("records: {e}")))?;
        if entries.len() as u64 != self.state.derivations {
            return Err(Problem::Damaged(
                "its records do not match its state".into(),
            ));
        }
        Ok(entries)
    }

    /// With the database: parses the `.drv` files registered since, those
    /// not indexed yet.
    fn add_registered(
        mut self,
        mtime: i64,
        registry: (i64, u64),
        drvs: Vec<String>,
    ) -> Result<Loaded, Problem> {
        let mut graph = self.snapshot()?;
        let store = self.opts.store;
        let new: Vec<(String, bool)> = drvs
            .into_iter()
            .filter(|name| {
                abovo_store::StorePath::from_base_name(name)
                    .ok()
                    .and_then(|p| graph.lookup(&p))
                    .is_none_or(|n| graph.kind(n) != abovo_graph::NodeKind::Derivation)
            })
            // A registered path may be gone from the disk by now (deleted
            // since the count was taken): the next check sees the deletion.
            .filter(|name| self.dir.join(name).exists())
            .map(|name| (name, true))
            .collect();
        let _ = store;
        self.state.dir_mtime = trusted_mtime(mtime);
        self.state.registry = Some(registry);
        if new.is_empty() {
            let written = self.write_state();
            let how = if written.is_ok() {
                How::Checked
            } else {
                How::Unindexed
            };
            graph.set_description(self.dir.display().to_string());
            return Ok(self.loaded(graph, how, "database", (0, 0, 0), written.err()));
        }
        drop(graph);
        let mut entries = self.entries()?;
        let listing = Listing {
            names: new,
            skipped: 0,
        };
        let parsed = parse_directory_files(self.dir, &listing, true, load_options(self.opts))?;
        let added = parsed.records.len();
        entries.extend(
            parsed
                .records
                .into_iter()
                .map(|(record, stamp)| Entry { record, stamp }),
        );
        self.update(entries, "database", (added, 0, 0))
    }

    /// Without the database (or after a deletion): lists the directory,
    /// parses what is new or changed, forgets what is gone.
    fn relist(mut self, mtime: i64) -> Result<Loaded, Problem> {
        let listing = list_entries(self.dir)?;
        let entries = self.entries()?;
        let mut indexed: FxHashMap<String, Entry> = entries
            .into_iter()
            .map(|e| (e.record.path.base_name(), e))
            .collect();
        // Stamps of the names both have, taken in parallel.
        let handle = rustix::fs::open(
            self.dir,
            rustix::fs::OFlags::RDONLY
                | rustix::fs::OFlags::DIRECTORY
                | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .map_err(|e| io(self.dir)(e.into()))?;
        let stale: Vec<bool> = listing
            .names
            .par_iter()
            .map(|(name, _)| match indexed.get(name) {
                None => true,
                Some(e) => rustix::fs::statat(&handle, name.as_str(), rustix::fs::AtFlags::empty())
                    .map_or(true, |st| FileStamp::of(&st) != e.stamp),
            })
            .collect();
        let mut todo = Listing {
            names: Vec::new(),
            skipped: listing.skipped,
        };
        let mut kept = Vec::with_capacity(listing.names.len());
        let (mut added, mut reparsed) = (0usize, 0usize);
        for ((name, check), stale) in listing.names.into_iter().zip(stale) {
            match indexed.remove(&name) {
                Some(e) if !stale => kept.push(e),
                Some(_) => {
                    reparsed += 1;
                    todo.names.push((name, check));
                }
                None => {
                    added += 1;
                    todo.names.push((name, check));
                }
            }
        }
        let removed = indexed.len();
        self.state.dir_mtime = trusted_mtime(mtime);
        if todo.names.is_empty() && removed == 0 {
            self.state.skipped = listing.skipped as u64;
            self.warn_skipped();
            let graph = self.snapshot()?;
            let written = self.write_state();
            let how = if written.is_ok() {
                How::Checked
            } else {
                How::Unindexed
            };
            return Ok(self.loaded(graph, how, "listing", (0, 0, 0), written.err()));
        }
        let parsed = parse_directory_files(self.dir, &todo, true, load_options(self.opts))?;
        self.state.skipped = parsed.skipped as u64;
        self.warn_skipped();
        // A file found not regular on opening is neither kept nor added.
        let found = parsed.records.len();
        kept.extend(
            parsed
                .records
                .into_iter()
                .map(|(record, stamp)| Entry { record, stamp }),
        );
        let lost = todo.names.len() - found;
        self.update(
            kept,
            "listing",
            (added.saturating_sub(lost), removed, reparsed),
        )
    }

    fn warn_skipped(&self) {
        if self.state.skipped > 0 {
            self.opts
                .reporter
                .warn(&skipped_note(self.dir, self.state.skipped as usize));
        }
    }

    /// Writes the state alone (nothing to parse), returning why it failed.
    fn write_state(&self) -> Result<(), String> {
        write_atomic(self.at, "state", &self.state.encode())
            .map_err(|why| unwritable(self.at, &why))
    }

    /// Rebuilds the graph of `entries` and commits a new generation.
    fn update(
        self,
        entries: Vec<Entry>,
        checked_by: &'static str,
        counts: (usize, usize, usize),
    ) -> Result<Loaded, Problem> {
        if entries.is_empty() {
            return Err(Problem::Source(LoadError::Empty(self.dir.to_owned())));
        }
        let (graph, written) = commit(self.dir, self.at, self.state.clone(), entries, self.opts)?;
        let how = if written.is_ok() {
            How::Updated
        } else {
            How::Unindexed
        };
        let note = written.err().map(|why| unwritable(self.at, &why));
        Ok(self.loaded(graph, how, checked_by, counts, note))
    }

    fn loaded(
        &self,
        graph: Graph,
        how: How,
        checked_by: &'static str,
        (added, removed, reparsed): (usize, usize, usize),
        note: Option<String>,
    ) -> Loaded {
        if how == How::Unchanged {
            self.warn_skipped();
        }
        Loaded {
            graph,
            report: Report {
                how,
                checked_by,
                added,
                removed,
                reparsed,
                index_dir: (how != How::Unindexed).then(|| self.at.to_owned()),
                note,
            },
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
