//! Bringing an index found on disk up to date: what changed (the
//! directory's time, the daemon's database, a listing), and the new graph
//! of what did not change and what was parsed now.

use crate::state::State;
use crate::{
    How, Loaded, Options, Problem, Report, commit, dir_mtime, io, load_options, read_state,
    snapshot_name, stamps, stamps_name, trusted_mtime, unwritable, write_atomic,
};
use abovo_graph::build::{DrvRecord, rebuild_graph};
use abovo_graph::error::LoadError;
use abovo_graph::load::{FileStamp, Listing, parse_directory_files, parse_record, skipped_note};
use abovo_graph::{Graph, NodeId, NodeKind};
use rayon::prelude::*;
use std::cmp::Ordering;
use std::path::Path;

/// An index found on disk, its state read.
pub(crate) struct Index<'a> {
    dir: &'a Path,
    at: &'a Path,
    opts: &'a Options<'a>,
    state: State,
}

/// The derivations of an old graph that an update keeps, with their
/// stamps, and the records parsed now with theirs.
struct Change {
    kept: Vec<NodeId>,
    kept_stamps: Vec<FileStamp>,
    parsed: Vec<(DrvRecord, FileStamp)>,
}

impl<'a> Index<'a> {
    /// The index of `dir` at `at`, if there is one.
    pub(crate) fn open(
        dir: &'a Path,
        canonical: &Path,
        at: &'a Path,
        opts: &'a Options<'a>,
    ) -> Result<Option<Index<'a>>, Problem> {
        let state = match read_state(at)? {
            Some(s) => s,
            None => return Ok(None),
        };
        if state.source != crate::path_bytes(canonical) || state.store != opts.store.as_str() {
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
    pub(crate) fn refresh(mut self) -> Result<Loaded, Problem> {
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

    /// The derivation nodes of `graph` (the current snapshot's) and the
    /// stamps of their files, from the current stamps file.
    fn indexed(&self, graph: &Graph) -> Result<(Vec<NodeId>, Vec<FileStamp>), Problem> {
        let path = self.at.join(stamps_name(&self.state.generation));
        let bytes = std::fs::read(&path)
            .map_err(|e| Problem::Damaged(format!("its stamps cannot be read: {e}")))?;
        let stamps =
            stamps::decode(&bytes).map_err(|e| Problem::Damaged(format!("stamps: {e}")))?;
        let nodes = derivation_nodes(graph);
        if stamps.len() != nodes.len() || stamps.len() as u64 != self.state.derivations {
            return Err(Problem::Damaged(
                "its stamps do not match its snapshot".into(),
            ));
        }
        Ok((nodes, stamps))
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
        let new: Vec<(String, bool)> = drvs
            .into_iter()
            .filter(|name| {
                abovo_store::StorePath::from_base_name(name)
                    .ok()
                    .and_then(|p| graph.lookup(&p))
                    .is_none_or(|n| graph.kind(n) != NodeKind::Derivation)
            })
            // A registered path may be gone from the disk by now (deleted
            // since the count was taken): the next check sees the deletion.
            .filter(|name| self.dir.join(name).exists())
            .map(|name| (name, true))
            .collect();
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
        let (kept, kept_stamps) = self.indexed(&graph)?;
        let listing = Listing {
            names: new,
            skipped: 0,
        };
        let parsed = parse_directory_files(
            self.dir,
            &listing,
            true,
            parse_record,
            load_options(self.opts),
        )?;
        let added = parsed.records.len();
        let change = Change {
            kept,
            kept_stamps,
            parsed: parsed.records,
        };
        self.update(graph, change, "database", (added, 0, 0))
    }

    /// Without the database (or after a deletion): lists the directory,
    /// parses what is new or changed, forgets what is gone.
    fn relist(mut self, mtime: i64) -> Result<Loaded, Problem> {
        let listing = list_entries_of(self.dir)?;
        let graph = self.snapshot()?;
        let (indexed, stamps) = self.indexed(&graph)?;
        // Both are sorted by base name: walk them side by side.
        let mut both: Vec<(usize, usize)> = Vec::new();
        let mut todo = Listing {
            names: Vec::new(),
            skipped: listing.skipped,
        };
        let (mut added, mut removed) = (0usize, 0usize);
        let mut next = 0;
        for (i, (name, check)) in listing.names.iter().enumerate() {
            while next < indexed.len() && base_cmp(&graph, indexed[next], name) == Ordering::Less {
                removed += 1;
                next += 1;
            }
            if next < indexed.len() && base_cmp(&graph, indexed[next], name) == Ordering::Equal {
                both.push((i, next));
                next += 1;
            } else {
                added += 1;
                todo.names.push((name.clone(), *check));
            }
        }
        removed += indexed.len() - next;
        // Stamps of the names both have, taken in parallel.
        let handle = rustix::fs::open(
            self.dir,
            rustix::fs::OFlags::RDONLY
                | rustix::fs::OFlags::DIRECTORY
                | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .map_err(|e| io(self.dir)(e.into()))?;
        let stale: Vec<bool> = both
            .par_iter()
            .map(|&(i, k)| {
                let name = listing.names[i].0.as_str();
                rustix::fs::statat(&handle, name, rustix::fs::AtFlags::empty())
                    .map_or(true, |st| FileStamp::of(&st) != stamps[k])
            })
            .collect();
        let mut kept = Vec::with_capacity(both.len());
        let mut kept_stamps = Vec::with_capacity(both.len());
        let mut reparsed = 0usize;
        for (&(i, k), stale) in both.iter().zip(stale) {
            if stale {
                reparsed += 1;
                todo.names.push(listing.names[i].clone());
            } else {
                kept.push(indexed[k]);
                kept_stamps.push(stamps[k]);
            }
        }
        self.state.dir_mtime = trusted_mtime(mtime);
        if todo.names.is_empty() && removed == 0 {
            self.state.skipped = listing.skipped as u64;
            self.warn_skipped();
            let written = self.write_state();
            let how = if written.is_ok() {
                How::Checked
            } else {
                How::Unindexed
            };
            return Ok(self.loaded(graph, how, "listing", (0, 0, 0), written.err()));
        }
        todo.names.sort_unstable();
        let parsed =
            parse_directory_files(self.dir, &todo, true, parse_record, load_options(self.opts))?;
        self.state.skipped = parsed.skipped as u64;
        self.warn_skipped();
        // A file found not regular on opening is neither kept nor added.
        let lost = todo.names.len() - parsed.records.len();
        let change = Change {
            kept,
            kept_stamps,
            parsed: parsed.records,
        };
        self.update(
            graph,
            change,
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

    /// Builds the graph of what `change` keeps of `old` and adds to it, and
    /// commits a new generation.
    fn update(
        self,
        old: Graph,
        change: Change,
        checked_by: &'static str,
        counts: (usize, usize, usize),
    ) -> Result<Loaded, Problem> {
        let Change {
            kept,
            kept_stamps,
            mut parsed,
        } = change;
        if kept.is_empty() && parsed.is_empty() {
            return Err(Problem::Source(LoadError::Empty(self.dir.to_owned())));
        }
        // The derivation facts of the kept nodes are read from the old
        // snapshot: a damaged section reads as none.
        if !kept.is_empty() && old.derivations().len() != kept_stamps.len() + counts.1 + counts.2 {
            return Err(Problem::Damaged(
                "its snapshot's derivations cannot be read".into(),
            ));
        }
        parsed.par_sort_unstable_by(|a, b| a.0.path.cmp(&b.0.path));
        let graph = rebuild_graph(&old, &kept, parsed.iter().map(|(r, _)| r).collect())
            .map_err(|e| Problem::Source(LoadError::Graph(e)))?;
        drop(old);
        let stamps = merge_stamps(&graph, &kept_stamps, &parsed);
        rayon::spawn(move || parsed.into_par_iter().for_each(drop));
        let (graph, written) = commit(self.dir, self.at, self.state.clone(), graph, &stamps);
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

/// The listing of `dir`.
fn list_entries_of(dir: &Path) -> Result<Listing, Problem> {
    Ok(abovo_graph::load::list_entries(dir)?)
}

/// The derivation nodes of `graph`, in path order (read from the node
/// kinds: the derivation facts are not decoded).
fn derivation_nodes(graph: &Graph) -> Vec<NodeId> {
    graph
        .nodes()
        .filter(|&n| graph.kind(n) == NodeKind::Derivation)
        .collect()
}

/// How the base name of node `n` of `graph` sorts against `name`.
fn base_cmp(graph: &Graph, n: NodeId, name: &str) -> Ordering {
    let base = graph
        .hash_part(n)
        .bytes()
        .chain(std::iter::once(b'-'))
        .chain(graph.name(n).bytes());
    base.cmp(name.bytes())
}

/// The stamps of the derivations of `graph`, in node order: those of
/// `parsed` (sorted by path) where they are, the kept ones (in path order)
/// between them.
fn merge_stamps(
    graph: &Graph,
    kept: &[FileStamp],
    parsed: &[(DrvRecord, FileStamp)],
) -> Vec<FileStamp> {
    let mut out = Vec::with_capacity(kept.len() + parsed.len());
    let (mut kept, mut parsed) = (kept.iter(), parsed.iter().peekable());
    for n in derivation_nodes(graph) {
        let is_parsed = parsed.peek().is_some_and(|(r, _)| {
            graph.hash_part(n).as_bytes() == r.path.hash_part_bytes()
                && graph.name(n) == r.path.name()
        });
        let stamp = if is_parsed {
            parsed.next().map(|(_, s)| *s)
        } else {
            kept.next().copied()
        };
        out.extend(stamp);
    }
    out
}
