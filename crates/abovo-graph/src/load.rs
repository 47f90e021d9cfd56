//! Loading derivations from a source: a directory of `.drv` files (a real
//! `/gnu/store` or `/nix/store`, or an unpacked corpus), a tarball of them
//! (`.tar.zst` or plain `.tar`), a corpus folder (`drvs.tar.zst` with
//! `packages.tsv.zst`, `store-meta.tsv.zst` and the package-level tables
//! `packages-meta.tsv.zst`, `package-edges.tsv.zst` and
//! `bag-emerged-edges.tsv.zst` beside it), or an abovo
//! [snapshot](crate::snapshot).
//!
//! Files are parsed in parallel with rayon. Progress is reported through a
//! [`Reporter`], so that a command-line tool can draw a bar and a library
//! user can ignore it.

use crate::build::{DrvRecord, PackedRecord, build_graph, build_graph_packed};
use crate::error::{GraphError, LoadError};
use crate::graph::Graph;
use crate::meta::StoreMeta;
use crate::package_meta::PackageMeta;
use crate::packages::PackageTable;
use crate::tsv::ZSTD_MAGIC;
use abovo_store::derivation::{Derivation, DerivationRef};
use abovo_store::store_path::{StoreDir, StorePath};
use rayon::prelude::*;
use std::io::Read;
use std::path::{Path, PathBuf};

pub use crate::drv_files::{
    DirectoryFiles, FileStamp, Listing, list as list_entries, list_directory, read_directory,
    read_directory_lenient, read_tarball, read_tarball_input, skipped_note,
};
pub use crate::input::Input;

/// Receives progress from long operations. Every method has a no-op
/// default; calls may come from several threads at once.
pub trait Reporter: Sync {
    /// A phase starts; `total` units of work when known.
    fn begin(&self, _phase: &str, _total: Option<u64>) {}
    /// `n` more units are done.
    fn advance(&self, _n: u64) {}
    /// The phase is over.
    fn end(&self) {}
    /// Something the user should know that is not an error (entries
    /// skipped, say); said once per occasion.
    fn warn(&self, _message: &str) {}
}

/// A [`Reporter`] that reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Reporter for Silent {}

/// The kinds of source [`detect`] recognises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceKind {
    /// A directory holding `.drv` files.
    Directory,
    /// A folder holding `drvs.tar.zst` and possibly `packages.tsv[.zst]`,
    /// `store-meta.tsv[.zst]` and the package-level tables, as the Guix
    /// corpora are laid out.
    CorpusFolder {
        /// The tarball of `.drv` files.
        tarball: PathBuf,
        /// The package table, when present.
        packages: Option<PathBuf>,
        /// The store metadata, when present.
        meta: Option<PathBuf>,
        /// `packages-meta.tsv[.zst]`, when present.
        package_meta: Option<PathBuf>,
        /// `package-edges.tsv[.zst]`, when present.
        package_edges: Option<PathBuf>,
        /// `bag-emerged-edges.tsv[.zst]`, when present.
        bag_emerged_edges: Option<PathBuf>,
    },
    /// A tar archive (zstd-compressed or not) of `.drv` files.
    Tarball,
    /// An abovo snapshot.
    Snapshot,
}

/// Tells what kind of source `path` is, by looking at it. A stream
/// (`/dev/stdin`) is consumed: open it once with [`Input::open`] and use
/// [`detect_input`] and [`load_input`] instead.
pub fn detect(path: &Path) -> Result<SourceKind, LoadError> {
    detect_input(&Input::open(path)?)
}

/// Tells what kind of source an opened [`Input`] is, by looking at it.
pub fn detect_input(input: &Input) -> Result<SourceKind, LoadError> {
    let path = input.path();
    let io = |source| LoadError::Io {
        path: path.to_owned(),
        source,
    };
    if let Input::Path(p) = input {
        if std::fs::metadata(p).map_err(io)?.is_dir() {
            let tarball = path.join("drvs.tar.zst");
            if tarball.is_file() {
                let find = |stem: &str| {
                    [format!("{stem}.tsv.zst"), format!("{stem}.tsv")]
                        .into_iter()
                        .map(|n| path.join(n))
                        .find(|p| p.is_file())
                };
                return Ok(SourceKind::CorpusFolder {
                    tarball,
                    packages: find("packages"),
                    meta: find("store-meta"),
                    package_meta: find("packages-meta"),
                    package_edges: find("package-edges"),
                    bag_emerged_edges: find("bag-emerged-edges"),
                });
            }
            return Ok(SourceKind::Directory);
        }
    }
    let mut head = Vec::with_capacity(512);
    input
        .reader()?
        .take(512)
        .read_to_end(&mut head)
        .map_err(io)?;
    let len = head.len();
    if head.starts_with(crate::snapshot::MAGIC) {
        Ok(SourceKind::Snapshot)
    } else if head.starts_with(&ZSTD_MAGIC) || (len >= 262 && &head[257..262] == b"ustar") {
        Ok(SourceKind::Tarball)
    } else {
        Err(LoadError::UnknownSource(path.to_owned()))
    }
}

/// How to load a source.
#[derive(Clone, Copy)]
pub struct LoadOptions<'a> {
    /// The store directory the paths are in.
    pub store: &'a StoreDir,
    /// A package table to attach (overrides one found in a corpus folder or
    /// snapshot).
    pub packages: Option<&'a Path>,
    /// Store metadata to attach (likewise).
    pub meta: Option<&'a Path>,
    /// Package-level tables to attach (likewise).
    pub package_level: PackageFiles<'a>,
    /// Where progress goes.
    pub reporter: &'a dyn Reporter,
}

impl<'a> LoadOptions<'a> {
    /// Options that attach nothing beyond what the source holds.
    pub fn new(store: &'a StoreDir, reporter: &'a dyn Reporter) -> LoadOptions<'a> {
        LoadOptions {
            store,
            packages: None,
            meta: None,
            package_level: PackageFiles::default(),
            reporter,
        }
    }
}

/// The package-level tables of a source: what `guix show` says of each
/// package ([`crate::package_meta`]) and the edges of the `package` and
/// `bag-emerged` graphs ([`crate::package_graph`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct PackageFiles<'a> {
    /// `packages-meta.tsv[.zst]`.
    pub meta: Option<&'a Path>,
    /// `package-edges.tsv[.zst]`.
    pub edges: Option<&'a Path>,
    /// `bag-emerged-edges.tsv[.zst]`.
    pub bag_emerged_edges: Option<&'a Path>,
}

impl PackageFiles<'_> {
    /// Whether no table is named.
    pub fn is_empty(&self) -> bool {
        self.meta.is_none() && self.edges.is_none() && self.bag_emerged_edges.is_none()
    }
}

/// Loads the graph of any source [`detect`] recognises.
pub fn load(path: &Path, opts: LoadOptions<'_>) -> Result<Graph, LoadError> {
    load_input(&Input::open(path)?, opts)
}

/// Loads the graph of an opened [`Input`].
pub fn load_input(input: &Input, opts: LoadOptions<'_>) -> Result<Graph, LoadError> {
    let path = input.path();
    let mut graph = match detect_input(input)? {
        SourceKind::Snapshot => {
            let bytes = input.bytes()?;
            crate::snapshot::read(&bytes).map_err(|source| LoadError::Snapshot {
                path: path.to_owned(),
                source,
            })?
        }
        SourceKind::CorpusFolder {
            tarball,
            packages,
            meta,
            package_meta,
            package_edges,
            bag_emerged_edges,
        } => {
            let mut g = load_tarball(&Input::Path(tarball), opts)?;
            let level = PackageFiles {
                meta: package_meta.as_deref(),
                edges: package_edges.as_deref(),
                bag_emerged_edges: bag_emerged_edges.as_deref(),
            };
            attach(&mut g, packages.as_deref(), meta.as_deref(), level, opts)?;
            g
        }
        SourceKind::Tarball => load_tarball(input, opts)?,
        SourceKind::Directory => load_directory(path, opts)?,
    };
    attach(
        &mut graph,
        opts.packages,
        opts.meta,
        opts.package_level,
        opts,
    )?;
    if graph.description().is_empty() {
        graph.set_description(path.display().to_string());
    }
    Ok(graph)
}

/// Attaches the tables `opts` names (`--package-table`, `--meta`, the
/// package-level tables) to a graph loaded otherwise (from an index, say),
/// as [`load`] attaches them.
pub fn attach_tables(graph: &mut Graph, opts: LoadOptions<'_>) -> Result<(), LoadError> {
    attach(graph, opts.packages, opts.meta, opts.package_level, opts)
}

/// Attaches the tables given to `graph`: the package table first, since
/// the package metadata is kept per row of it and the package graphs count
/// its packages among their nodes.
fn attach(
    graph: &mut Graph,
    packages: Option<&Path>,
    meta: Option<&Path>,
    level: PackageFiles<'_>,
    opts: LoadOptions<'_>,
) -> Result<(), LoadError> {
    let store = opts.store;
    if packages.is_some() || !level.is_empty() {
        opts.reporter.begin("packages", None);
    }
    if let Some(p) = packages {
        graph.set_packages(PackageTable::read(p, store)?);
    }
    if let Some(m) = meta {
        let meta = StoreMeta::read(m, graph)?;
        graph.set_meta(meta);
    }
    if let Some(m) = level.meta {
        let (meta, table) = PackageMeta::read(m, graph.packages(), store)?;
        if let Some(table) = table {
            graph.set_packages(table);
        }
        graph.set_package_meta(meta);
    }
    if level.edges.is_some() || level.bag_emerged_edges.is_some() {
        let packages = crate::package_graph::read(graph, level.edges, level.bag_emerged_edges)?;
        graph.set_package_graph(packages);
    }
    opts.reporter.end();
    Ok(())
}

/// A `.drv` file's base name and bytes.
#[derive(Debug, Clone)]
pub struct DrvFile {
    /// `<hash>-<name>.drv`.
    pub name: String,
    /// The file's contents.
    pub bytes: Vec<u8>,
}

/// Loads the `.drv` members of a tarball, naming a failing one by
/// [`member_origin`].
fn load_tarball(input: &Input, opts: LoadOptions<'_>) -> Result<Graph, LoadError> {
    let path = input.path();
    let (files, members) = crate::drv_files::read_tarball_members(input, opts.reporter)?;
    if files.is_empty() {
        return Err(LoadError::Empty(path.to_owned()));
    }
    graph_of_files_at(files, opts, |name| {
        member_origin(path, members.get(name).map_or(name, String::as_str))
    })
}

/// The store path a `.drv` file name stands for.
pub fn file_store_path(name: &str) -> Result<StorePath, LoadError> {
    let path = StorePath::from_base_name(name).map_err(|source| LoadError::BadFileName {
        file: name.to_owned(),
        source,
    })?;
    if !path.is_derivation() {
        return Err(LoadError::BadFileName {
            file: name.to_owned(),
            source: abovo_store::store_path::StorePathError::TooShort(name.to_owned()),
        });
    }
    Ok(path)
}

/// Parses one `.drv` file into what the graph keeps: the zero-copy reader
/// of `abovo-store` ([`DerivationRef::parse`], as strict as
/// [`Derivation::parse`], which is built on it) reduced with
/// [`DrvRecord::from_ref`].
pub fn parse_record(store: &StoreDir, name: &str, bytes: &[u8]) -> Result<DrvRecord, LoadError> {
    parse_reduced(store, name, bytes, DrvRecord::from_ref)
}

/// [`parse_record`], packed ([`PackedRecord`]): what a load of a whole
/// directory keeps until the graph is built.
pub fn parse_packed(store: &StoreDir, name: &str, bytes: &[u8]) -> Result<PackedRecord, LoadError> {
    parse_reduced(store, name, bytes, PackedRecord::from_ref)
}

/// Parses one `.drv` file with the zero-copy reader and reduces it with
/// `reduce`, naming the file in errors.
fn parse_reduced<R>(
    store: &StoreDir,
    name: &str,
    bytes: &[u8],
    reduce: impl FnOnce(StorePath, &DerivationRef<'_>) -> Result<R, GraphError>,
) -> Result<R, LoadError> {
    let path = file_store_path(name)?;
    let drv = DerivationRef::parse(store, bytes).map_err(|source| LoadError::Parse {
        file: name.to_owned(),
        source,
    })?;
    reduce(path, &drv).map_err(|e| match e {
        // Name the file by its absolute path.
        GraphError::BadFixedOutput { path, reason } => {
            LoadError::Graph(GraphError::BadFixedOutput {
                path: format!("{}/{path}", store.as_str()),
                reason,
            })
        }
        GraphError::UnsupportedFixedOutput { path, method } => {
            LoadError::Graph(GraphError::UnsupportedFixedOutput {
                path: format!("{}/{path}", store.as_str()),
                method,
            })
        }
        e => LoadError::Graph(e),
    })
}

/// Parses one `.drv` file into the owned [`Derivation`] and reduces it with
/// [`DrvRecord::new`]; slower than [`parse_record`], which must give the
/// same record (a corpus test checks both reductions agree).
pub fn parse_record_full(
    store: &StoreDir,
    name: &str,
    bytes: &[u8],
) -> Result<DrvRecord, LoadError> {
    let path = file_store_path(name)?;
    let drv = Derivation::parse(store, bytes).map_err(|source| LoadError::Parse {
        file: name.to_owned(),
        source,
    })?;
    Ok(DrvRecord::new(path, drv)?)
}

/// Builds the graph of files already in memory (parsing in parallel).
/// Errors name a file by its base name; [`load`] names it where it was
/// read from.
pub fn graph_of_files(files: Vec<DrvFile>, opts: LoadOptions<'_>) -> Result<Graph, LoadError> {
    graph_of_files_at(files, opts, |name| name.to_owned())
}

/// [`graph_of_files`], naming a failing file by `origin(base name)`.
fn graph_of_files_at(
    files: Vec<DrvFile>,
    opts: LoadOptions<'_>,
    origin: impl Fn(&str) -> String + Sync,
) -> Result<Graph, LoadError> {
    opts.reporter.begin("parsing", Some(files.len() as u64));
    let records: Vec<Result<DrvRecord, LoadError>> = files
        .into_par_iter()
        .map(|f| {
            let r = parse_record(opts.store, &f.name, &f.bytes)
                .map_err(|e| located(e, || origin(&f.name)));
            opts.reporter.advance(1);
            r
        })
        .collect();
    opts.reporter.end();
    finish(records, opts.store)
}

/// Names the file of a per-file error by `origin` (its path on disk, or
/// its tar member and the tarball) instead of its base name: a person must
/// be able to find the file to look at it.
fn located(e: LoadError, origin: impl FnOnce() -> String) -> LoadError {
    match e {
        LoadError::Parse { source, .. } => LoadError::Parse {
            file: origin(),
            source,
        },
        LoadError::BadFileName { source, .. } => LoadError::BadFileName {
            file: origin(),
            source,
        },
        LoadError::Graph(GraphError::BadFixedOutput { reason, .. }) => {
            LoadError::Graph(GraphError::BadFixedOutput {
                path: origin(),
                reason,
            })
        }
        LoadError::Graph(GraphError::UnsupportedFixedOutput { method, .. }) => {
            LoadError::Graph(GraphError::UnsupportedFixedOutput {
                path: origin(),
                method,
            })
        }
        e => e,
    }
}

/// How a tar member is named in errors: `TARBALL:MEMBER`, with the member's
/// name as the archive records it.
fn member_origin(tarball: &Path, member: &str) -> String {
    format!("{}:{member}", tarball.display())
}

/// Loads the `.drv` files of a directory, reading and parsing each file in
/// one parallel pass (so the raw bytes never all sit in memory).
pub fn load_directory(dir: &Path, opts: LoadOptions<'_>) -> Result<Graph, LoadError> {
    let listing = crate::drv_files::list(dir)?;
    let parsed = parse_directory_files(dir, &listing, false, parse_packed, opts)?;
    if parsed.skipped > 0 {
        opts.reporter
            .warn(&crate::drv_files::skipped_note(dir, parsed.skipped));
    }
    if parsed.records.is_empty() {
        return Err(LoadError::Empty(dir.to_owned()));
    }
    let graph = build_graph_packed(
        opts.store.clone(),
        parsed.records.iter().map(|(r, _)| r).collect(),
    );
    // Millions of small strings: freed on every core.
    parsed.records.into_par_iter().for_each(drop);
    let mut g = graph?;
    g.set_description(dir.display().to_string());
    Ok(g)
}

/// What [`parse_directory_files`] read.
#[derive(Debug)]
pub struct ParsedFiles<R = DrvRecord> {
    /// The record of each file read, in the order of the listing, with the
    /// file's stamp (its default when stamps were not asked for).
    pub records: Vec<(R, FileStamp)>,
    /// Entries skipped as not regular files: those the listing skipped and
    /// those found so on opening. Not reported: the caller says it once.
    pub skipped: usize,
}

/// Reads the files `listing` names in `dir` and parses each with `parse`
/// ([`parse_record`] or [`parse_packed`]), in parallel (the raw bytes never
/// all sit in memory), with each file's [`FileStamp`] when `stamps` (one
/// `fstat` more per file). The first error in listing order is the error,
/// naming the file by its path on disk.
pub fn parse_directory_files<R: Send>(
    dir: &Path,
    listing: &Listing,
    stamps: bool,
    parse: fn(&StoreDir, &str, &[u8]) -> Result<R, LoadError>,
    opts: LoadOptions<'_>,
) -> Result<ParsedFiles<R>, LoadError> {
    if listing.names.is_empty() {
        return Ok(ParsedFiles {
            records: Vec::new(),
            skipped: listing.skipped,
        });
    }
    let handle = crate::drv_files::Dir::open(dir)?;
    let skipped = std::sync::atomic::AtomicUsize::new(listing.skipped);
    opts.reporter
        .begin("loading", Some(listing.names.len() as u64));
    // The error of the first file in listing order that failed, kept
    // aside so that the records are collected as they are and then only
    // the skipped entries taken out, in place: the records of a large
    // store are tens of megabytes, which a second vector would copy on
    // one core (into fresh pages).
    let failed: std::sync::Mutex<Option<(usize, LoadError)>> = std::sync::Mutex::new(None);
    let records: Vec<Option<(R, FileStamp)>> = listing
        .names
        .par_iter()
        .enumerate()
        .map(|(i, (name, check))| {
            let parsed = handle
                .with_file(name, *check, stamps, |bytes, stamp| {
                    parse(opts.store, name, bytes).map(|r| (r, stamp))
                })
                .and_then(Option::transpose);
            match parsed {
                Ok(Some(r)) => {
                    opts.reporter.advance(1);
                    Some(r)
                }
                Ok(None) => {
                    skipped.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    None
                }
                Err(e) => {
                    let mut failed = failed.lock().unwrap_or_else(|p| p.into_inner());
                    if failed.as_ref().is_none_or(|(at, _)| i < *at) {
                        let e = located(e, || dir.join(name).display().to_string());
                        *failed = Some((i, e));
                    }
                    None
                }
            }
        })
        .collect();
    opts.reporter.end();
    if let Some((_, e)) = failed.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    // `filter_map` collects in place (an `Option` of a record takes no
    // more room than the record); `flatten` would copy into a new vector.
    #[allow(clippy::filter_map_identity)]
    let records = records.into_iter().filter_map(|r| r).collect();
    Ok(ParsedFiles {
        records,
        skipped: skipped.into_inner(),
    })
}

/// The first error in file order, or the graph of the records.
fn finish(
    records: Vec<Result<DrvRecord, LoadError>>,
    store: &StoreDir,
) -> Result<Graph, LoadError> {
    let records: Vec<DrvRecord> = records.into_iter().collect::<Result<_, _>>()?;
    if records.is_empty() {
        return Err(LoadError::Empty(PathBuf::new()));
    }
    Ok(build_graph(store.clone(), records)?)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const NAME: &str = "w9krgvil6919s2ghqgx443zb9krx75s6-minimal.drv";
    const GOOD: &str = r#"Derive([("out","/gnu/store/280xcws0xz6c1gx6721jyj2d8j0ly9gz-minimal","","")],[("/gnu/store/00000000000000000000000000000001-dep.drv",["lib","out"]),("/gnu/store/00000000000000000000000000000003-dep.drv",["out"])],["/gnu/store/00000000000000000000000000000002-src"],"x86_64-linux","/bin/sh",["-c","echo \"x\""],[("PATH","/bin"),("out","/gnu/store/280xcws0xz6c1gx6721jyj2d8j0ly9gz-minimal")])"#;

    fn both(text: &str) -> (Result<DrvRecord, String>, Result<DrvRecord, String>) {
        let store = StoreDir::default();
        let fast = parse_record(&store, NAME, text.as_bytes()).map_err(|e| e.to_string());
        let full = parse_record_full(&store, NAME, text.as_bytes()).map_err(|e| e.to_string());
        (fast, full)
    }

    #[test]
    fn a_good_derivation_reduces_like_the_owned_form() {
        let (fast, full) = both(GOOD);
        let fast = fast.unwrap();
        assert_eq!(fast, full.unwrap());
        assert_eq!(fast.inputs[0].1, ["lib", "out"]);
        assert_eq!(fast.inputs[1].1, ["out"]);
        assert_eq!(fast.sources.len(), 1);
        assert!(
            fast.env.is_empty(),
            "only fixed-output derivations keep their environment"
        );
    }

    /// A text that is not canonical (lists out of order, an escaped name)
    /// gives the sorted record all the same.
    #[test]
    fn unsorted_texts_give_sorted_records() {
        let text = r#"Derive([("out","","",""),("lib","","","")],[("/gnu/store/00000000000000000000000000000003-dep.drv",["out"]),("/gnu/store/00000000000000000000000000000001-dep.drv",["out","\lib"])],["/gnu/store/00000000000000000000000000000004-src","/gnu/store/00000000000000000000000000000002-src"],"x86_64-linux","/bin/sh",[],[("out",""),("lib","")])"#;
        let (fast, full) = both(text);
        let fast = fast.unwrap();
        assert_eq!(fast, full.unwrap());
        assert_eq!(fast.outputs[0].0, "lib");
        assert_eq!(fast.inputs[0].1, ["lib", "out"]);
        assert!(fast.sources[0] < fast.sources[1]);
    }

    #[test]
    fn fixed_outputs_keep_their_environment() {
        let text = r#"Derive([("out","/gnu/store/280xcws0xz6c1gx6721jyj2d8j0ly9gz-x.tar.gz","sha256","0000000000000000000000000000000000000000000000000000000000000000")],[],[],"x86_64-linux","builtin:download",[],[("url","https://example.org/x.tar.gz"),("out","/gnu/store/280xcws0xz6c1gx6721jyj2d8j0ly9gz-x.tar.gz"),("impureEnvVars","http_proxy")])"#;
        let (fast, full) = both(text);
        let fast = fast.unwrap();
        assert_eq!(fast, full.unwrap());
        assert!(fast.fixed.is_some());
        assert_eq!(
            fast.env,
            [
                ("impureEnvVars".to_owned(), "http_proxy".to_owned()),
                ("url".to_owned(), "https://example.org/x.tar.gz".to_owned())
            ]
        );
        let bad = text.replace("\"sha256\"", "\"sha257\"");
        let err = both(&bad).0.unwrap_err();
        // The reader refuses an output whose fields make no output kind.
        assert!(
            err.contains("w9krgvil6919s2ghqgx443zb9krx75s6-minimal.drv")
                && err.contains("output `out`: unknown hash algorithm `sha257`"),
            "{err}"
        );
    }

    /// A bad `.drv` in a directory is named by its path on disk, in a
    /// tarball by the tarball and its member name, not by its base name
    /// alone.
    #[test]
    fn load_errors_name_the_file_where_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let drvs = dir.path().join("drvs");
        std::fs::create_dir(&drvs).unwrap();
        let bad_text = &GOOD[..GOOD.len() - 1];
        std::fs::write(drvs.join(NAME), bad_text).unwrap();
        let store = StoreDir::default();
        let opts = LoadOptions::new(&store, &Silent);
        let err = load(&drvs, opts).unwrap_err();
        let on_disk = drvs.join(NAME).display().to_string();
        assert!(
            matches!(&err, LoadError::Parse { file, .. } if *file == on_disk),
            "{err}"
        );
        assert!(err.to_string().starts_with(&format!("`{on_disk}` is not")));
        // A fixed output with a bad hash: the file on disk too.
        let fixed = r#"Derive([("out","/gnu/store/280xcws0xz6c1gx6721jyj2d8j0ly9gz-x","sha257","00")],[],[],"x86_64-linux","builtin:download",[],[("out","/gnu/store/280xcws0xz6c1gx6721jyj2d8j0ly9gz-x")])"#;
        std::fs::write(drvs.join(NAME), fixed).unwrap();
        let err = load(&drvs, opts).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("`{on_disk}` is not a valid derivation"))
                && err.contains("unknown hash algorithm `sha257`"),
            "{err}"
        );
        // Of many bad files, the first in listing order is named, whichever
        // thread read it.
        let many: Vec<String> = (0..200).map(|i| format!("{i:032}-bad.drv")).collect();
        for name in &many {
            std::fs::write(drvs.join(name), bad_text).unwrap();
        }
        for _ in 0..5 {
            let err = load(&drvs, opts).unwrap_err().to_string();
            let first = drvs.join(&many[0]).display().to_string();
            assert!(err.starts_with(&format!("`{first}` is not")), "{err}");
        }
        for name in &many {
            std::fs::remove_file(drvs.join(name)).unwrap();
        }

        // In a tarball, under a directory of the archive.
        let tarball = dir.path().join("drvs.tar");
        {
            let mut b = tar::Builder::new(std::fs::File::create(&tarball).unwrap());
            for (member, text) in [
                (format!("gnu/store/{NAME}"), bad_text),
                ("ok.txt".into(), ""),
            ] {
                let mut h = tar::Header::new_gnu();
                h.set_size(text.len() as u64);
                h.set_mode(0o444);
                h.set_cksum();
                b.append_data(&mut h, member, text.as_bytes()).unwrap();
            }
            b.finish().unwrap();
        }
        let err = load(&tarball, opts).unwrap_err();
        let member = format!("{}:gnu/store/{NAME}", tarball.display());
        assert!(
            matches!(&err, LoadError::Parse { file, .. } if *file == member),
            "{err}"
        );
        // From memory, the base name is all there is.
        let files = read_tarball(&tarball, &Silent).unwrap();
        let err = graph_of_files(files, opts).unwrap_err();
        assert!(
            matches!(&err, LoadError::Parse { file, .. } if file == NAME),
            "{err}"
        );
    }

    #[test]
    fn malformed_inputs_fail_with_the_readers_error() {
        let cases = [
            GOOD[..GOOD.len() - 1].to_owned(),
            format!("{GOOD} "),
            GOOD.replacen("Derive(", "Derive[", 1),
            GOOD.replacen(
                "[(\"PATH\",\"/bin\"),",
                "[(\"PATH\",\"/bin\"),(\"PATH\",\"/x\"),",
                1,
            ),
            GOOD.replacen("[\"lib\",\"out\"]", "[\"out\",\"out\"]", 1),
            GOOD.replacen(
                "00000000000000000000000000000001-dep.drv",
                "00000000000000000000000000000001-dep",
                1,
            ),
            GOOD.replacen(
                "/gnu/store/00000000000000000000000000000002-src",
                "/nix/store/00000000000000000000000000000002-src",
                1,
            ),
            GOOD.replacen("\"x86_64-linux\"", "\"x86_64-linux", 1),
            String::new(),
        ];
        for text in cases {
            let (fast, full) = both(&text);
            let want =
                abovo_store::derivation::Derivation::parse(&StoreDir::default(), text.as_bytes())
                    .unwrap_err();
            assert_eq!(fast.unwrap_err(), full.unwrap_err(), "{text:?}");
            let err = parse_record(&StoreDir::default(), NAME, text.as_bytes()).unwrap_err();
            assert!(
                matches!(&err, LoadError::Parse { file, source } if file == NAME && *source == want),
                "{text:?}: {err}"
            );
        }
    }
}
