//! Loading derivations from a source: a directory of `.drv` files (a real
//! `/gnu/store` or `/nix/store`, or an unpacked corpus), a tarball of them
//! (`.tar.zst` or plain `.tar`), a corpus folder (`drvs.tar.zst` with
//! `packages.tsv.zst` and `store-meta.tsv.zst` beside it), or an abovo
//! [snapshot](crate::snapshot).
//!
//! Files are parsed in parallel with rayon. Progress is reported through a
//! [`Reporter`], so that a command-line tool can draw a bar and a library
//! user can ignore it.

use crate::build::{DrvRecord, build_graph};
use crate::error::{GraphError, LoadError};
use crate::graph::Graph;
use crate::meta::StoreMeta;
use crate::packages::PackageTable;
use crate::tsv::ZSTD_MAGIC;
use abovo_store::derivation::{Derivation, DerivationRef};
use abovo_store::store_path::{StoreDir, StorePath};
use rayon::prelude::*;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Receives progress from long operations. Every method has a no-op
/// default; calls may come from several threads at once.
pub trait Reporter: Sync {
    /// A phase starts; `total` units of work when known.
    fn begin(&self, _phase: &str, _total: Option<u64>) {}
    /// `n` more units are done.
    fn advance(&self, _n: u64) {}
    /// The phase is over.
    fn end(&self) {}
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
    /// A folder holding `drvs.tar.zst` and possibly `packages.tsv[.zst]` and
    /// `store-meta.tsv[.zst]`, as the Guix corpora are laid out.
    CorpusFolder {
        /// The tarball of `.drv` files.
        tarball: PathBuf,
        /// The package table, when present.
        packages: Option<PathBuf>,
        /// The store metadata, when present.
        meta: Option<PathBuf>,
    },
    /// A tar archive (zstd-compressed or not) of `.drv` files.
    Tarball,
    /// An abovo snapshot.
    Snapshot,
}

/// Tells what kind of source `path` is, by looking at it.
pub fn detect(path: &Path) -> Result<SourceKind, LoadError> {
    let io = |source| LoadError::Io {
        path: path.to_owned(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.is_dir() {
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
            });
        }
        return Ok(SourceKind::Directory);
    }
    let mut head = [0u8; 512];
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut len = 0;
    while len < head.len() {
        match file.read(&mut head[len..]).map_err(io)? {
            0 => break,
            k => len += k,
        }
    }
    let head = &head[..len];
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
    /// Where progress goes.
    pub reporter: &'a dyn Reporter,
}

/// Loads the graph of any source [`detect`] recognises.
pub fn load(path: &Path, opts: LoadOptions<'_>) -> Result<Graph, LoadError> {
    let mut graph = match detect(path)? {
        SourceKind::Snapshot => {
            let bytes = std::fs::read(path).map_err(|source| LoadError::Io {
                path: path.to_owned(),
                source,
            })?;
            crate::snapshot::read(&bytes).map_err(|source| LoadError::Snapshot {
                path: path.to_owned(),
                source,
            })?
        }
        SourceKind::CorpusFolder {
            tarball,
            packages,
            meta,
        } => {
            let mut g = load_tarball(&tarball, opts)?;
            attach(&mut g, packages.as_deref(), meta.as_deref(), opts.store)?;
            g
        }
        SourceKind::Tarball => load_tarball(path, opts)?,
        SourceKind::Directory => load_directory(path, opts)?,
    };
    attach(&mut graph, opts.packages, opts.meta, opts.store)?;
    if graph.description().is_empty() {
        graph.set_description(path.display().to_string());
    }
    Ok(graph)
}

fn attach(
    graph: &mut Graph,
    packages: Option<&Path>,
    meta: Option<&Path>,
    store: &StoreDir,
) -> Result<(), LoadError> {
    if let Some(p) = packages {
        graph.set_packages(PackageTable::read(p, store)?);
    }
    if let Some(m) = meta {
        let meta = StoreMeta::read(m, graph)?;
        graph.set_meta(meta);
    }
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

/// The `.drv` file names of a directory, sorted.
pub fn list_directory(dir: &Path) -> Result<Vec<String>, LoadError> {
    let io = |source| LoadError::Io {
        path: dir.to_owned(),
        source,
    };
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if !name.ends_with(".drv") {
            continue;
        }
        let ft = entry.file_type().map_err(io)?;
        if ft.is_file() || ft.is_symlink() {
            names.push(name);
        }
    }
    names.sort_unstable();
    Ok(names)
}

/// An open directory whose files are read by name: `openat` on the
/// directory's descriptor spares the kernel the walk of the directory's own
/// path for each of tens of thousands of files, and reading without a
/// `stat` first saves another system call per file.
struct Dir {
    fd: rustix::fd::OwnedFd,
    path: std::path::PathBuf,
}

impl Dir {
    fn open(path: &Path) -> Result<Dir, LoadError> {
        use rustix::fs::{Mode, OFlags};
        let fd = rustix::fs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| LoadError::Io {
            path: path.to_owned(),
            source: e.into(),
        })?;
        Ok(Dir {
            fd,
            path: path.to_owned(),
        })
    }

    fn read(&self, name: &str) -> Result<Vec<u8>, LoadError> {
        use rustix::fs::{Mode, OFlags};
        let err = |e: rustix::io::Errno| LoadError::Io {
            path: self.path.join(name),
            source: e.into(),
        };
        let fd = rustix::fs::openat(
            &self.fd,
            name,
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(err)?;
        // Read into a per-thread scratch buffer (a `.drv` is a few
        // kilobytes: one read fills it, a second one confirms the end), then
        // keep an exact-size copy.
        thread_local! {
            static SCRATCH: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0u8; 64 * 1024]);
        }
        SCRATCH.with(|scratch| {
            let mut buf = scratch.borrow_mut();
            let mut len = 0;
            loop {
                if len == buf.len() {
                    let grown = buf.len() * 2;
                    buf.resize(grown, 0);
                }
                let n = rustix::io::read(&fd, &mut buf[len..]).map_err(err)?;
                if n == 0 {
                    return Ok(buf[..len].to_vec());
                }
                len += n;
            }
        })
    }
}

/// Reads every `.drv` file of a directory (in parallel).
pub fn read_directory(dir: &Path, reporter: &dyn Reporter) -> Result<Vec<DrvFile>, LoadError> {
    let names = list_directory(dir)?;
    let handle = Dir::open(dir)?;
    reporter.begin("reading", Some(names.len() as u64));
    let files: Vec<Result<DrvFile, LoadError>> = names
        .into_par_iter()
        .map(|name| {
            let bytes = handle.read(&name)?;
            reporter.advance(1);
            Ok(DrvFile { name, bytes })
        })
        .collect();
    reporter.end();
    files.into_iter().collect()
}

/// Reads every `.drv` member of a tar archive, zstd-compressed or not.
/// Members are matched by base name; other members are skipped.
pub fn read_tarball(path: &Path, reporter: &dyn Reporter) -> Result<Vec<DrvFile>, LoadError> {
    read_tarball_members(path, reporter).map(|(files, _)| files)
}

/// The members of a tarball whose name in the archive is not their base
/// name (`gnu/store/…-x.drv`), by base name: what errors name them by.
/// Empty for the usual flat archive, so it costs nothing there.
type MemberNames = rustc_hash::FxHashMap<String, String>;

/// [`read_tarball`], with the [`MemberNames`] of the members.
fn read_tarball_members(
    path: &Path,
    reporter: &dyn Reporter,
) -> Result<(Vec<DrvFile>, MemberNames), LoadError> {
    let io = |source| LoadError::Io {
        path: path.to_owned(),
        source,
    };
    let bad = |reason: String| LoadError::Tarball {
        path: path.to_owned(),
        reason,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let total = file.metadata().map(|m| m.len()).ok();
    let counted = Counting {
        inner: std::io::BufReader::with_capacity(1 << 20, file),
        reporter,
    };
    let mut head = [0u8; 4];
    let mut reader = std::io::BufReader::with_capacity(1 << 20, counted);
    {
        use std::io::BufRead;
        let buf = reader.fill_buf().map_err(io)?;
        let k = buf.len().min(4);
        head[..k].copy_from_slice(&buf[..k]);
    }
    reporter.begin("decompressing", total);
    let stream: Box<dyn Read> = if head == ZSTD_MAGIC {
        let mut d = zstd::stream::read::Decoder::with_buffer(reader).map_err(io)?;
        d.window_log_max(31).map_err(io)?;
        Box::new(d)
    } else {
        Box::new(reader)
    };
    let mut archive = tar::Archive::new(stream);
    let mut files = Vec::new();
    let mut members = MemberNames::default();
    for entry in archive.entries().map_err(|e| bad(e.to_string()))? {
        let mut entry = entry.map_err(|e| bad(e.to_string()))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = {
            let p = entry.path().map_err(|e| bad(e.to_string()))?;
            let name = match p.file_name().and_then(|n| n.to_str()) {
                Some(n) if n.ends_with(".drv") => n.to_owned(),
                _ => continue,
            };
            if p.as_os_str() != name.as_str() {
                members.insert(name.clone(), p.display().to_string());
            }
            name
        };
        let mut bytes = Vec::with_capacity(entry.size() as usize);
        entry
            .read_to_end(&mut bytes)
            .map_err(|e| bad(format!("member `{name}`: {e}")))?;
        files.push(DrvFile { name, bytes });
    }
    reporter.end();
    files.sort_unstable_by(|a, b| a.name.cmp(&b.name));
    Ok((files, members))
}

/// Loads the `.drv` members of a tarball, naming a failing one by
/// [`member_origin`].
fn load_tarball(path: &Path, opts: LoadOptions<'_>) -> Result<Graph, LoadError> {
    let (files, members) = read_tarball_members(path, opts.reporter)?;
    graph_of_files_at(files, opts, |name| {
        member_origin(path, members.get(name).map_or(name, String::as_str))
    })
}

/// Counts bytes read for a progress bar.
struct Counting<'a, R> {
    inner: R,
    reporter: &'a dyn Reporter,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.reporter.advance(n as u64);
        Ok(n)
    }
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
    let path = file_store_path(name)?;
    let drv = DerivationRef::parse(store, bytes).map_err(|source| LoadError::Parse {
        file: name.to_owned(),
        source,
    })?;
    DrvRecord::from_ref(path, &drv).map_err(|e| match e {
        // Name the file by its absolute path.
        GraphError::BadFixedOutput { path, reason } => {
            LoadError::Graph(GraphError::BadFixedOutput {
                path: format!("{}/{path}", store.as_str()),
                reason,
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
    let names = list_directory(dir)?;
    if names.is_empty() {
        return Err(LoadError::Empty(dir.to_owned()));
    }
    let handle = Dir::open(dir)?;
    opts.reporter.begin("loading", Some(names.len() as u64));
    let records: Vec<Result<DrvRecord, LoadError>> = names
        .par_iter()
        .map(|name| {
            let bytes = handle.read(name)?;
            let r = parse_record(opts.store, name, &bytes)
                .map_err(|e| located(e, || dir.join(name).display().to_string()));
            opts.reporter.advance(1);
            r
        })
        .collect();
    opts.reporter.end();
    let mut g = finish(records, opts.store)?;
    g.set_description(dir.display().to_string());
    Ok(g)
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
        assert!(
            err.contains("/gnu/store/w9krgvil6919s2ghqgx443zb9krx75s6-minimal.drv")
                && err.contains("invalid hash"),
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
        let opts = LoadOptions {
            store: &store,
            packages: None,
            meta: None,
            reporter: &Silent,
        };
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
            err.starts_with(&format!("`{on_disk}`: fixed output")),
            "{err}"
        );

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
