//! Reading `.drv` files: every one of a directory (in parallel), or every
//! `.drv` member of a tar archive.
//!
//! Only regular files are read (see [`crate::input`]): a directory entry
//! named `x.drv` that is a FIFO, a device, a socket or a directory (or a
//! symbolic link to one) is skipped and counted, and the loaders report the
//! count once through [`Reporter::warn`]. Each file or member is at most
//! [`MAX_DRV_SIZE`], and the members of a tarball together at most
//! [`MAX_TARBALL_DRVS`]. Sizes alone do not bound memory, though: a
//! 332 KB `.tar.zst` of large members within them held 2 GiB (issue 16). So
//! a compressed tarball may also expand at most [`MAX_EXPANSION`] times
//! (beyond [`EXPANSION_FLOOR`]), which real archives of `.drv` files are far
//! from (Guix 1.5.0's expands 20 times), and its zstd window is at most
//! 128 MiB ([`crate::input::tar_stream`]).

use crate::error::LoadError;
use crate::input::{Input, MAX_DRV_SIZE};
use crate::load::{DrvFile, Reporter};
use rayon::prelude::*;
use std::cell::Cell;
use std::io::Read;
use std::path::Path;

/// The most the `.drv` members of one tarball may hold together (Guix
/// 1.5.0's 71,817 files hold a few hundred megabytes).
pub const MAX_TARBALL_DRVS: u64 = 2 << 30;

/// How many times its own size a compressed tarball may expand to (tar
/// headers and skipped members count), beyond [`EXPANSION_FLOOR`].
pub const MAX_EXPANSION: u64 = 64;

/// What any tarball may expand to, whatever its compressed size.
pub const EXPANSION_FLOOR: u64 = 64 << 20;

/// The `.drv` entries of a directory.
#[derive(Debug, Default)]
pub struct Listing {
    /// Base names, sorted, with whether the entry's type must be checked
    /// when it is opened (a symbolic link, or a file system that does not
    /// tell the type in the directory).
    pub names: Vec<(String, bool)>,
    /// Entries named `*.drv` that are not regular files.
    pub skipped: usize,
}

/// Lists the `.drv` entries of a directory.
pub fn list(dir: &Path) -> Result<Listing, LoadError> {
    let io = |source| LoadError::Io {
        path: dir.to_owned(),
        source,
    };
    let mut listing = Listing::default();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if !name.ends_with(".drv") {
            continue;
        }
        let ft = entry.file_type().map_err(io)?;
        if ft.is_file() {
            listing.names.push((name, false));
        } else if ft.is_symlink() {
            listing.names.push((name, true));
        } else {
            listing.skipped += 1;
        }
    }
    listing.names.sort_unstable();
    Ok(listing)
}

/// The `.drv` file names of a directory, sorted (regular files and
/// symbolic links; what a link points at is checked when it is read).
pub fn list_directory(dir: &Path) -> Result<Vec<String>, LoadError> {
    Ok(list(dir)?.names.into_iter().map(|(n, _)| n).collect())
}

/// The note a loader gives when it skipped entries that are not regular
/// files.
pub fn skipped_note(dir: &Path, skipped: usize) -> String {
    format!(
        "skipped {skipped} `.drv` {} of `{}` that {} not a regular file (a FIFO, device, socket or directory)",
        if skipped == 1 { "entry" } else { "entries" },
        dir.display(),
        if skipped == 1 { "is" } else { "are" },
    )
}

/// An open directory whose files are read by name: `openat` on the
/// directory's descriptor spares the kernel the walk of the directory's own
/// path for each of tens of thousands of files, and reading without a
/// `stat` first saves another system call per file (only entries whose
/// type the directory does not tell are checked).
pub(crate) struct Dir {
    fd: rustix::fd::OwnedFd,
    path: std::path::PathBuf,
}

impl Dir {
    pub(crate) fn open(path: &Path) -> Result<Dir, LoadError> {
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

    /// The bytes of the file `name`; `None` when `check` finds it is not a
    /// regular file. The open never blocks (`O_NONBLOCK`: a FIFO that
    /// slipped in reads as empty rather than hanging), and at most
    /// [`MAX_DRV_SIZE`] bytes are read.
    pub(crate) fn read(&self, name: &str, check: bool) -> Result<Option<Vec<u8>>, LoadError> {
        self.with_file(name, check, false, |bytes, _| bytes.to_vec())
    }

    /// Reads the file `name` into this thread's buffer and gives its bytes
    /// and its [`FileStamp`] (taken when `stamp`, with one `fstat` more;
    /// always when `check`) to `f`; `None` when `check` finds it is not a
    /// regular file. A parse needs the bytes only while it runs: reading
    /// every file into the same buffer spares an allocation, and the
    /// zeroing of one, per file.
    pub(crate) fn with_file<T>(
        &self,
        name: &str,
        check: bool,
        stamp: bool,
        f: impl FnOnce(&[u8], FileStamp) -> T,
    ) -> Result<Option<T>, LoadError> {
        use rustix::fs::{Mode, OFlags};
        let err = |e: rustix::io::Errno| LoadError::Io {
            path: self.path.join(name),
            source: e.into(),
        };
        let fd = rustix::fs::openat(
            &self.fd,
            name,
            OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK,
            Mode::empty(),
        )
        .map_err(err)?;
        let mut stamped = FileStamp::default();
        // The size the first read asks for: the file's, plus one byte to
        // see its end in the same read when the size is known.
        let mut want = 64 * 1024;
        if check || stamp {
            let st = rustix::fs::fstat(&fd).map_err(err)?;
            if rustix::fs::FileType::from_raw_mode(st.st_mode) != rustix::fs::FileType::RegularFile
            {
                return Ok(None);
            }
            stamped = FileStamp::of(&st);
            want = (stamped.size.min(MAX_DRV_SIZE) as usize).saturating_add(1);
        }
        thread_local! {
            static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        SCRATCH.with(|scratch| {
            let mut buf = scratch.borrow_mut();
            if buf.len() < want {
                buf.resize(want.next_power_of_two(), 0);
            }
            let mut len = 0;
            loop {
                if len == buf.len() {
                    let grown = (buf.len() * 2).min(MAX_DRV_SIZE as usize + 1);
                    buf.resize(grown, 0);
                }
                let n = rustix::io::read(&fd, &mut buf[len..]).map_err(err)?;
                if n == 0 {
                    return Ok(Some(f(&buf[..len], stamped)));
                }
                len += n;
                if len as u64 > MAX_DRV_SIZE {
                    return Err(LoadError::TooLarge {
                        file: self.path.join(name).display().to_string(),
                        what: "a .drv file",
                        limit: MAX_DRV_SIZE,
                    });
                }
                // A file read to its stamped size is read: a file that
                // grew meanwhile has another stamp, so an index reads it
                // again.
                if stamp && len as u64 == stamped.size {
                    return Ok(Some(f(&buf[..len], stamped)));
                }
            }
        })
    }
}

/// What tells a file that changed since it was read: its size, its
/// modification time and its inode (a file replaced by a rename has
/// another inode even when size and time agree).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileStamp {
    /// The size in bytes.
    pub size: u64,
    /// The modification time, in nanoseconds since the epoch.
    pub mtime_ns: i64,
    /// The inode number.
    pub inode: u64,
}

impl FileStamp {
    /// The stamp of a file's status.
    pub fn of(st: &rustix::fs::Stat) -> FileStamp {
        FileStamp {
            size: st.st_size as u64,
            mtime_ns: st
                .st_mtime
                .saturating_mul(1_000_000_000)
                .saturating_add(st.st_mtime_nsec as i64),
            inode: st.st_ino,
        }
    }
}

/// Reads every `.drv` file of a directory (in parallel); the first file
/// that cannot be read is the error. Entries that are not regular files
/// are skipped with one [`Reporter::warn`].
pub fn read_directory(dir: &Path, reporter: &dyn Reporter) -> Result<Vec<DrvFile>, LoadError> {
    let r = read_directory_lenient(dir, reporter)?;
    match r.unreadable.into_iter().next() {
        Some(e) => Err(e),
        None => Ok(r.files),
    }
}

/// What [`read_directory_lenient`] read.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct DirectoryFiles {
    /// The files read, sorted by name.
    pub files: Vec<DrvFile>,
    /// The `.drv` entries that could not be read (a dangling link, an I/O
    /// error, a file too large), sorted by name.
    pub unreadable: Vec<LoadError>,
    /// How many `.drv` entries were skipped as not regular files (already
    /// reported through [`Reporter::warn`]).
    pub skipped: usize,
}

/// Reads every `.drv` file of a directory (in parallel), keeping going past
/// those that cannot be read: what `verify --all` lists.
pub fn read_directory_lenient(
    dir: &Path,
    reporter: &dyn Reporter,
) -> Result<DirectoryFiles, LoadError> {
    let listing = list(dir)?;
    let handle = Dir::open(dir)?;
    reporter.begin("reading", Some(listing.names.len() as u64));
    type FileRead = (String, Result<Option<Vec<u8>>, LoadError>);
    let read: Vec<FileRead> = listing
        .names
        .into_par_iter()
        .map(|(name, check)| {
            let bytes = handle.read(&name, check);
            reporter.advance(1);
            (name, bytes)
        })
        .collect();
    reporter.end();
    let mut out = DirectoryFiles {
        skipped: listing.skipped,
        ..DirectoryFiles::default()
    };
    for (name, r) in read {
        match r {
            Ok(Some(bytes)) => out.files.push(DrvFile { name, bytes }),
            Ok(None) => out.skipped += 1,
            Err(e) => out.unreadable.push(e),
        }
    }
    if out.skipped > 0 {
        reporter.warn(&skipped_note(dir, out.skipped));
    }
    Ok(out)
}

/// Reads every `.drv` member of a tar archive, zstd-compressed or not.
/// Members are matched by base name; other members are skipped.
pub fn read_tarball(path: &Path, reporter: &dyn Reporter) -> Result<Vec<DrvFile>, LoadError> {
    read_tarball_members(&Input::open(path)?, reporter).map(|(files, _)| files)
}

/// [`read_tarball`] of a source already opened (a stream is read from
/// memory).
pub fn read_tarball_input(
    input: &Input,
    reporter: &dyn Reporter,
) -> Result<Vec<DrvFile>, LoadError> {
    read_tarball_members(input, reporter).map(|(files, _)| files)
}

/// The members of a tarball whose name in the archive is not their base
/// name (`gnu/store/…-x.drv`), by base name: what errors name them by.
/// Empty for the usual flat archive, so it costs nothing there.
pub(crate) type MemberNames = rustc_hash::FxHashMap<String, String>;

/// [`read_tarball`], with the [`MemberNames`] of the members.
pub(crate) fn read_tarball_members(
    input: &Input,
    reporter: &dyn Reporter,
) -> Result<(Vec<DrvFile>, MemberNames), LoadError> {
    let path = input.path();
    let io = |source| LoadError::Io {
        path: path.to_owned(),
        source,
    };
    let bad = |reason: String| LoadError::Tarball {
        path: path.to_owned(),
        reason,
    };
    let (file, total): (Box<dyn Read + '_>, Option<u64>) = match input {
        Input::Path(p) => {
            let (f, total) = crate::input::open_regular_sized(p)?;
            (Box::new(f), Some(total))
        }
        Input::Stream { bytes, .. } => (Box::new(&bytes[..]), Some(bytes.len() as u64)),
    };
    let compressed = Cell::new(0);
    let counted = Counting {
        inner: file,
        reporter,
        read: &compressed,
    };
    reporter.begin("decompressing", total);
    let stream = crate::input::tar_stream(std::io::BufReader::with_capacity(1 << 20, counted))
        .map_err(io)?;
    let guard = Expansion {
        inner: stream,
        compressed: &compressed,
        produced: 0,
        exceeded: None,
    };
    let mut archive = tar::Archive::new(guard);
    let result = tarball_members(&mut archive, path, &bad);
    if let Some(limit) = archive.into_inner().exceeded {
        return Err(LoadError::TooLarge {
            file: path.display().to_string(),
            // The words of MAX_EXPANSION and EXPANSION_FLOOR.
            what: "a compressed tarball of its size (64 times that, at least 64 MiB)",
            limit,
        });
    }
    let (mut files, members) = result?;
    reporter.end();
    files.sort_unstable_by(|a, b| a.name.cmp(&b.name));
    Ok((files, members))
}

/// The `.drv` members of `archive`, unsorted.
fn tarball_members<R: Read>(
    archive: &mut tar::Archive<R>,
    path: &Path,
    bad: &dyn Fn(String) -> LoadError,
) -> Result<(Vec<DrvFile>, MemberNames), LoadError> {
    let mut files = Vec::new();
    let mut members = MemberNames::default();
    let mut kept = 0u64;
    for entry in archive.entries().map_err(|e| bad(e.to_string()))? {
        let mut entry = entry.map_err(|e| bad(e.to_string()))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let (name, member) = {
            let p = entry.path().map_err(|e| bad(e.to_string()))?;
            let name = match p.file_name().and_then(|n| n.to_str()) {
                Some(n) if n.ends_with(".drv") => n.to_owned(),
                _ => continue,
            };
            let member = p.display().to_string();
            if member != name {
                members.insert(name.clone(), member.clone());
            }
            (name, member)
        };
        let too_large = |what, limit| LoadError::TooLarge {
            file: format!("{}:{member}", path.display()),
            what,
            limit,
        };
        // The header's size is checked before anything is read, and the
        // read is bounded all the same.
        let size = entry.size();
        if size > MAX_DRV_SIZE {
            return Err(too_large("a .drv file", MAX_DRV_SIZE));
        }
        kept += size;
        if kept > MAX_TARBALL_DRVS {
            return Err(too_large(
                "the .drv members of one tarball together",
                MAX_TARBALL_DRVS,
            ));
        }
        let bytes = crate::input::read_bounded(&mut entry, MAX_DRV_SIZE, size as usize)
            .map_err(|e| bad(format!("member `{member}`: {e}")))?
            .ok_or_else(|| too_large("a .drv file", MAX_DRV_SIZE))?;
        files.push(DrvFile { name, bytes });
    }
    Ok((files, members))
}

/// Counts bytes read, for a progress bar and for [`Expansion`].
struct Counting<'a, R> {
    inner: R,
    reporter: &'a dyn Reporter,
    read: &'a Cell<u64>,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.reporter.advance(n as u64);
        self.read.set(self.read.get() + n as u64);
        Ok(n)
    }
}

/// Stops a decompressed stream that grows past [`MAX_EXPANSION`] times the
/// compressed bytes read so far (at least [`EXPANSION_FLOOR`]): the error
/// ends the tar reader at once, and `exceeded` says which bound it was.
struct Expansion<'a, R> {
    inner: R,
    compressed: &'a Cell<u64>,
    produced: u64,
    exceeded: Option<u64>,
}

impl<R: Read> Read for Expansion<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.produced += n as u64;
        let allowed = EXPANSION_FLOOR.max(self.compressed.get().saturating_mul(MAX_EXPANSION));
        if self.produced > allowed {
            self.exceeded = Some(allowed);
            return Err(std::io::Error::other(format!(
                "it expands past {allowed} bytes, {MAX_EXPANSION} times what was read of it"
            )));
        }
        Ok(n)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::load::{LoadOptions, load};
    use std::sync::Mutex;

    const NAME: &str = "w9krgvil6919s2ghqgx443zb9krx75s6-minimal.drv";
    const GOOD: &str = r#"Derive([("out","/gnu/store/280xcws0xz6c1gx6721jyj2d8j0ly9gz-minimal","","")],[],[],"x86_64-linux","/bin/sh",[],[])"#;

    #[derive(Default)]
    struct Warnings(Mutex<Vec<String>>);
    impl Reporter for Warnings {
        fn warn(&self, message: &str) {
            self.0.lock().unwrap().push(message.to_owned());
        }
    }

    use crate::input::tests::mkfifo;

    /// A FIFO and a link to `/dev/zero` named like `.drv` files are skipped
    /// with one warning counting them (a plain open of the FIFO would block
    /// for ever, a read of the device never end); a dangling link is an
    /// error for a load, and listed by the lenient read.
    #[test]
    fn non_regular_entries_are_skipped_and_counted_once() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(NAME), GOOD).unwrap();
        mkfifo(&dir.path().join("00000000000000000000000000000000-fifo.drv"));
        std::os::unix::fs::symlink(
            "/dev/zero",
            dir.path().join("00000000000000000000000000000001-zero.drv"),
        )
        .unwrap();
        let store = abovo_store::StoreDir::default();
        let warnings = Warnings::default();
        let opts = LoadOptions::new(&store, &warnings);
        let g = load(dir.path(), opts).unwrap();
        assert_eq!(g.derivation_count(), 1);
        assert_eq!(
            *warnings.0.lock().unwrap(),
            [skipped_note(dir.path(), 2)],
            "one warning for both"
        );
        assert!(skipped_note(dir.path(), 2).starts_with("skipped 2 `.drv` entries"));
        assert_eq!(
            crate::store_dir::infer(dir.path())
                .unwrap()
                .unwrap()
                .as_str(),
            "/gnu/store"
        );
        let r = read_directory_lenient(dir.path(), &warnings).unwrap();
        assert_eq!((r.files.len(), r.skipped, r.unreadable.len()), (1, 2, 0));

        let dangling = dir.path().join("00000000000000000000000000000002-gone.drv");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
        let err = load(dir.path(), opts).unwrap_err();
        assert!(
            matches!(&err, LoadError::Io { path, .. } if *path == dangling),
            "{err}"
        );
        let r = read_directory_lenient(dir.path(), &warnings).unwrap();
        assert_eq!((r.files.len(), r.unreadable.len()), (1, 1));
        assert!(read_directory(dir.path(), &warnings).is_err());
    }

    fn tarball(members: &[(&str, &[u8])], zstd: bool) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, bytes) in members {
            let mut h = tar::Header::new_gnu();
            h.set_size(bytes.len() as u64);
            h.set_mode(0o444);
            h.set_cksum();
            b.append_data(&mut h, name, *bytes).unwrap();
        }
        let tar = b.into_inner().unwrap();
        if zstd {
            zstd::encode_all(&tar[..], 3).unwrap()
        } else {
            tar
        }
    }

    #[test]
    fn tar_members_are_bounded_and_empty_tarballs_named() {
        let dir = tempfile::tempdir().unwrap();
        let store = abovo_store::StoreDir::default();
        let opts = LoadOptions::new(&store, &crate::load::Silent);
        // A member of 65 MiB of zeros: a few kilobytes compressed.
        let huge = vec![0u8; (MAX_DRV_SIZE + (1 << 20)) as usize];
        let bytes = tarball(&[(NAME, GOOD.as_bytes()), ("big.drv", &huge)], true);
        drop(huge);
        assert!(bytes.len() < 100_000, "{}", bytes.len());
        let path = dir.path().join("bomb.tar.zst");
        std::fs::write(&path, bytes).unwrap();
        let err = load(&path, opts).unwrap_err();
        assert!(
            matches!(&err, LoadError::TooLarge { file, limit: MAX_DRV_SIZE, .. }
                if *file == format!("{}:big.drv", path.display())),
            "{err}"
        );
        // Issue 16: members each within the limits, together within
        // MAX_TARBALL_DRVS, but far more than a tarball of a few kilobytes
        // can honestly hold: the load stops once 64 MiB are out (before,
        // such members were read up to 2 GiB).
        let part = vec![b'('; (MAX_DRV_SIZE / 2) as usize];
        let members: Vec<(String, &[u8])> = (0..3)
            .map(|i| (format!("part{i}.drv"), &part[..]))
            .collect();
        let named: Vec<(&str, &[u8])> = members.iter().map(|(n, b)| (n.as_str(), *b)).collect();
        let bytes = tarball(&named, true);
        drop(part);
        assert!(bytes.len() < 1_000_000, "{}", bytes.len());
        let path = dir.path().join("expands.tar.zst");
        std::fs::write(&path, bytes).unwrap();
        let err = load(&path, opts).unwrap_err();
        assert!(
            matches!(&err, LoadError::TooLarge { file, limit: EXPANSION_FLOOR, .. }
                if *file == path.display().to_string()),
            "{err}"
        );
        // An archive without a `.drv` member names itself.
        let path = dir.path().join("empty.tar.zst");
        std::fs::write(&path, tarball(&[("README", b"hi")], true)).unwrap();
        let err = load(&path, opts).unwrap_err().to_string();
        assert_eq!(err, format!("`{}` holds no `.drv` file", path.display()));
    }
}
