//! Where imported derivations come from: a directory or a tar archive.
//!
//! A [`Place`] holds store items under their base names
//! (`<hash>-<name>`), `.drv` files among them:
//!
//! * a **directory**: a store directory (`/gnu/store`, a copy of one, a
//!   chroot store's `…/gnu/store`) or any folder of `.drv` files, such as
//!   `daemon-conformance/drvs/`. Entries are read by name, so a store of a
//!   hundred thousand items is never listed;
//! * a **tarball**, plain, zstd- or gzip-compressed (told by its first
//!   bytes, not its name), such as Guix 1.5.0's `drvs.tar.zst` or
//!   `sources.tar.zst`. A member belongs to the item named by the first
//!   component of its path that is a store base name, so `x.drv`,
//!   `./x.drv` and `gnu/store/x.drv` all are item `x.drv`, and
//!   `gnu/store/<hash>-src/bin/sh` is `bin/sh` in item `<hash>-src`. The
//!   `.drv` members are read into memory when the place is opened (each at
//!   most [`MAX_DRV_SIZE`], together at most [`MAX_TARBALL_DRVS`]); the
//!   other items are unpacked only when asked for, in a second pass.
//!
//! Nothing here trusts what it reads: a member whose path has a `..`, a
//! device or FIFO member, a hard link out of its item, or an archive that
//! ends before tar's end-of-archive blocks (a truncated download) is an
//! error that names the archive and the member. Whether the bytes are the
//! items their names promise is for the importer to check
//! ([`super::import`]).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use abovo_store::StorePath;

pub use abovo_store::derivation::MAX_DRV_SIZE;
/// The most the `.drv` members of one tarball may hold together (Guix
/// 1.5.0's 71,817 files hold 183 MB).
pub const MAX_TARBALL_DRVS: u64 = 2 << 30;

/// Why a place cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlaceError {
    /// A system call failed.
    #[error(transparent)]
    Io(#[from] crate::IoError),
    /// Something that is not a regular file where one is read (a tarball,
    /// a `.drv` file of a directory).
    #[error("`{}` is a {kind}, not a regular file", path.display())]
    NotRegular {
        /// The path.
        path: PathBuf,
        /// What it is (`FIFO`).
        kind: &'static str,
    },
    /// A file larger than abovo reads.
    #[error("`{file}` is larger than {limit} bytes, the most {what} may hold")]
    TooLarge {
        /// The file (`archive:member` for a member).
        file: String,
        /// What it is (`a .drv file`).
        what: &'static str,
        /// The limit.
        limit: u64,
    },
    /// The archive is malformed or truncated.
    #[error("`{}` is not a readable tarball: {reason}", path.display())]
    Tarball {
        /// The archive.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A member that cannot be part of a store item.
    #[error("`{}`: member `{member}` {reason}", path.display())]
    BadMember {
        /// The archive.
        path: PathBuf,
        /// The member's path in the archive.
        member: String,
        /// What is wrong with it.
        reason: String,
    },
}

use crate::io_error::io_err;

/// A directory or tarball that items are imported from.
#[derive(Debug)]
pub struct Place {
    path: PathBuf,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Directory,
    Tarball {
        /// The `.drv` members, by base name.
        drvs: BTreeMap<String, Vec<u8>>,
        /// The base names of every item in the archive.
        items: BTreeSet<String>,
        /// For each item, the members of *other* items that its hard
        /// links point to (GNU tar stores a file met before, in any item,
        /// as a link to its first member).
        links: BTreeMap<String, BTreeSet<(String, PathBuf)>>,
    },
}

impl Place {
    /// Opens a directory, or reads the `.drv` members of a tarball. A FIFO,
    /// device or socket is refused by its type before it is read.
    pub fn open(path: &Path) -> Result<Place, PlaceError> {
        let meta = std::fs::metadata(path).map_err(io_err(path, "open"))?;
        if meta.is_dir() {
            return Ok(Place {
                path: path.to_owned(),
                kind: Kind::Directory,
            });
        }
        let file = open_regular(path)?;
        Place::from_tarball(path, file)
    }

    /// Reads a tarball from `reader`; `path` names it in messages.
    pub fn from_tarball(path: &Path, reader: impl Read + 'static) -> Result<Place, PlaceError> {
        let mut drvs = BTreeMap::new();
        let mut items = BTreeSet::new();
        let mut links: BTreeMap<String, BTreeSet<(String, PathBuf)>> = BTreeMap::new();
        let mut total = 0u64;
        for_each_member(path, reader, &mut |member| {
            items.insert(member.item.clone());
            if member.entry.header().entry_type() == tar::EntryType::Link {
                let (item, inner) = link_target(member)?;
                if item != member.item {
                    links
                        .entry(member.item.clone())
                        .or_default()
                        .insert((item, inner));
                }
                return Ok(());
            }
            if !member.item.ends_with(".drv") || !member.inner.as_os_str().is_empty() {
                return Ok(());
            }
            if !member.entry.header().entry_type().is_file() {
                return Err(member.bad("is named like a `.drv` file but is not a regular file"));
            }
            let too_large = |what, limit| PlaceError::TooLarge {
                file: format!("{}:{}", path.display(), member.name),
                what,
                limit,
            };
            let size = member.entry.size();
            if size > MAX_DRV_SIZE {
                return Err(too_large("a .drv file", MAX_DRV_SIZE));
            }
            total += size;
            if total > MAX_TARBALL_DRVS {
                return Err(too_large(
                    "the .drv members of one tarball together",
                    MAX_TARBALL_DRVS,
                ));
            }
            let mut bytes = Vec::with_capacity(size as usize);
            (&mut member.entry)
                .take(MAX_DRV_SIZE + 1)
                .read_to_end(&mut bytes)
                .map_err(|e| member.bad(&format!("cannot be read: {e}")))?;
            if bytes.len() as u64 > MAX_DRV_SIZE {
                return Err(too_large("a .drv file", MAX_DRV_SIZE));
            }
            if drvs.insert(member.item.clone(), bytes).is_some() {
                return Err(member.bad("appears twice in the archive"));
            }
            Ok(())
        })?;
        Ok(Place {
            path: path.to_owned(),
            kind: Kind::Tarball { drvs, items, links },
        })
    }

    /// The directory or archive.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What it is, for messages: ``the directory `…` `` or ``the tarball `…` ``.
    pub fn describe(&self) -> String {
        match self.kind {
            Kind::Directory => format!("the directory `{}`", self.path.display()),
            Kind::Tarball { .. } => format!("the tarball `{}`", self.path.display()),
        }
    }

    /// The bytes of the `.drv` file `base` (a base name), or `None` when the
    /// place has none.
    pub fn derivation(&self, base: &str) -> Result<Option<Vec<u8>>, PlaceError> {
        match &self.kind {
            Kind::Tarball { drvs, .. } => Ok(drvs.get(base).cloned()),
            Kind::Directory => {
                let file = self.path.join(base);
                match std::fs::symlink_metadata(&file) {
                    Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                    Err(e) => return Err(io_err(&file, "read")(e).into()),
                    Ok(_) => {}
                }
                let f = open_regular(&file)?;
                let mut bytes = Vec::new();
                f.take(MAX_DRV_SIZE + 1)
                    .read_to_end(&mut bytes)
                    .map_err(io_err(&file, "read"))?;
                if bytes.len() as u64 > MAX_DRV_SIZE {
                    return Err(PlaceError::TooLarge {
                        file: file.display().to_string(),
                        what: "a .drv file",
                        limit: MAX_DRV_SIZE,
                    });
                }
                Ok(Some(bytes))
            }
        }
    }

    /// The base names of the `.drv` files of a tarball, sorted; `None` for
    /// a directory (which is never listed).
    pub fn derivation_names(&self) -> Option<impl Iterator<Item = &str>> {
        match &self.kind {
            Kind::Tarball { drvs, .. } => Some(drvs.keys().map(String::as_str)),
            Kind::Directory => None,
        }
    }

    /// Whether the place holds an item named `base`.
    pub fn has_item(&self, base: &str) -> bool {
        match &self.kind {
            Kind::Tarball { items, .. } => items.contains(base),
            Kind::Directory => std::fs::symlink_metadata(self.path.join(base)).is_ok(),
        }
    }

    /// Copies the items `bases` out of the place, each to the fresh path
    /// `target(base)` gives (which must not exist): from a directory, as
    /// `abovo add` copies a tree; from a tarball, in one more pass over it.
    pub fn copy_items(
        &self,
        bases: &BTreeSet<String>,
        target: &dyn Fn(&str) -> PathBuf,
    ) -> Result<(), PlaceError> {
        if bases.is_empty() {
            return Ok(());
        }
        match &self.kind {
            Kind::Directory => {
                for base in bases {
                    crate::fsutil::copy_tree(&self.path.join(base), &target(base)).map_err(
                        |e| {
                            PlaceError::Io(crate::IoError {
                                path: self.path.join(base),
                                action: "copy",
                                source: io::Error::other(e.to_string()),
                            })
                        },
                    )?;
                }
                Ok(())
            }
            Kind::Tarball { links, .. } => {
                // The members of other items that hard links of these
                // point to are kept in memory as they pass (they come
                // first in the archive).
                let wanted: BTreeSet<&(String, PathBuf)> = bases
                    .iter()
                    .filter_map(|b| links.get(b))
                    .flatten()
                    .collect();
                let mut stash = Stash::default();
                let file = open_regular(&self.path)?;
                let mut seen = BTreeSet::new();
                for_each_member(&self.path, file, &mut |member| {
                    let key = (member.item.clone(), member.inner.clone());
                    if !bases.contains(&member.item) {
                        if wanted.contains(&key) {
                            stash.keep(member, key)?;
                        }
                        return Ok(());
                    }
                    let root = target(&member.item);
                    seen.insert(member.item.clone());
                    unpack_member(member, &root, &stash)?;
                    if wanted.contains(&key) {
                        // Unpacked already: kept from the copy just made.
                        let written = root.join(&member.inner);
                        stash.keep_written(member, key, &written)?;
                    }
                    Ok(())
                })?;
                match bases.difference(&seen).next() {
                    Some(missing) => Err(PlaceError::Tarball {
                        path: self.path.clone(),
                        reason: format!("item `{missing}` vanished between two reads"),
                    }),
                    None => Ok(()),
                }
            }
        }
    }
}

/// Opens `path` without blocking on a FIFO and refuses anything but a
/// regular file.
fn open_regular(path: &Path) -> Result<std::fs::File, PlaceError> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags((rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::CLOEXEC).bits() as i32)
        .open(path)
        .map_err(io_err(path, "open"))?;
    let meta = file.metadata().map_err(io_err(path, "stat"))?;
    if !meta.is_file() {
        return Err(PlaceError::NotRegular {
            path: path.to_owned(),
            // A FIFO, a device or a socket (a directory where a `.drv`
            // file should be).
            kind: crate::fsutil::unsupported_kind(&meta.file_type()).unwrap_or("directory"),
        });
    }
    Ok(file)
}

/// One member of a tarball, with the item it belongs to.
struct Member<'a> {
    archive: &'a Path,
    /// Its path in the archive, as written there.
    name: String,
    /// The base name of its item.
    item: String,
    /// Its path inside the item (empty for the item itself).
    inner: PathBuf,
    entry: tar::Entry<'a, Box<dyn Read>>,
}

impl Member<'_> {
    fn bad(&self, reason: &str) -> PlaceError {
        PlaceError::BadMember {
            path: self.archive.to_owned(),
            member: self.name.clone(),
            reason: reason.to_owned(),
        }
    }
}

/// A reader that remembers whether it reached its end: tar's reader takes
/// an archive that stops at a member boundary for a complete one, so the
/// end must be seen to have come from the end-of-archive blocks.
struct EndSeen<R> {
    inner: R,
    ended: Arc<AtomicBool>,
}

impl<R: Read> Read for EndSeen<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.ended.store(true, Ordering::Relaxed);
        }
        Ok(n)
    }
}

/// The bytes of an archive as given: decompressed when they start with a
/// zstd frame (windows up to 2 GiB, as `zstd --long=31` writes) or a gzip
/// header, else as they are.
fn decompressed(reader: impl Read + 'static) -> io::Result<Box<dyn Read>> {
    use std::io::BufRead;
    const ZSTD: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
    const GZIP: [u8; 2] = [0x1f, 0x8b];
    let mut reader = io::BufReader::with_capacity(1 << 20, reader);
    let head = reader.fill_buf()?;
    if head.starts_with(&ZSTD) {
        let mut d = zstd::stream::read::Decoder::with_buffer(reader)?;
        d.window_log_max(31)?;
        Ok(Box::new(d))
    } else if head.starts_with(&GZIP) {
        Ok(Box::new(flate2::bufread::MultiGzDecoder::new(reader)))
    } else {
        Ok(Box::new(reader))
    }
}

/// Calls `each` on every member of the archive that belongs to an item
/// (members outside any item, such as the `gnu/store` directories above
/// them, are skipped), then checks that the archive was complete.
fn for_each_member(
    path: &Path,
    reader: impl Read + 'static,
    each: &mut dyn FnMut(&mut Member<'_>) -> Result<(), PlaceError>,
) -> Result<(), PlaceError> {
    let bad = |reason: String| PlaceError::Tarball {
        path: path.to_owned(),
        reason,
    };
    let ended = Arc::new(AtomicBool::new(false));
    let stream = decompressed(reader).map_err(io_err(path, "read"))?;
    let stream: Box<dyn Read> = Box::new(EndSeen {
        inner: stream,
        ended: Arc::clone(&ended),
    });
    let mut archive = tar::Archive::new(stream);
    let entries = archive
        .entries()
        .map_err(|e| bad(format!("{e} (truncated or corrupt)")))?;
    for entry in entries {
        let entry = entry.map_err(|e| bad(format!("{e} (truncated or corrupt)")))?;
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let Some((item, inner)) = split_member(&name).map_err(|reason| PlaceError::BadMember {
            path: path.to_owned(),
            member: name.clone(),
            reason,
        })?
        else {
            continue;
        };
        let mut member = Member {
            archive: path,
            name,
            item,
            inner,
            entry,
        };
        each(&mut member)?;
    }
    if ended.load(Ordering::Relaxed) {
        return Err(bad(
            "it ends before tar's end-of-archive blocks: the file is truncated".into(),
        ));
    }
    Ok(())
}

/// The item a member path belongs to and its path inside it; `None` for a
/// member above every item. A `..` is refused wherever it is.
fn split_member(name: &str) -> Result<Option<(String, PathBuf)>, String> {
    let mut item = None;
    let mut inner = PathBuf::new();
    for c in Path::new(name).components() {
        match c {
            Component::ParentDir => return Err("has a `..` in its path".into()),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            Component::Normal(part) => match &item {
                Some(_) => inner.push(part),
                None => {
                    let part = part.to_str().unwrap_or("");
                    if StorePath::from_base_name(part).is_ok() {
                        item = Some(part.to_owned());
                    }
                }
            },
        }
    }
    Ok(item.map(|i| (i, inner)))
}

/// Writes one member of an item below `root` (the item's fresh path).
/// Every directory above the member must be a real directory (created when
/// the archive has no entry for it): a symbolic link in the archive, such
/// as `item/lib -> /etc`, is never followed to write `item/lib/passwd`.
fn unpack_member(member: &mut Member<'_>, root: &Path, stash: &Stash) -> Result<(), PlaceError> {
    use std::os::unix::fs::PermissionsExt;
    use tar::EntryType;
    let target = inside_item(member, root, &member.inner.clone())?;
    let kind = member.entry.header().entry_type();
    match kind {
        EntryType::Directory => {
            if !target.is_dir() {
                std::fs::create_dir(&target).map_err(io_err(&target, "create directory"))?;
            }
        }
        EntryType::Regular | EntryType::Continuous => {
            let exec = member.entry.header().mode().unwrap_or(0) & 0o100 != 0;
            let mut out = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&target)
                .map_err(io_err(&target, "create"))?;
            io::copy(&mut member.entry, &mut out)
                .map_err(|e| member.bad(&format!("cannot be read: {e}")))?;
            let mode = if exec { 0o755 } else { 0o644 };
            out.set_permissions(std::fs::Permissions::from_mode(mode))
                .map_err(io_err(&target, "chmod"))?;
        }
        EntryType::Symlink => {
            let link = member
                .entry
                .link_name()
                .map_err(|e| member.bad(&e.to_string()))?
                .ok_or_else(|| member.bad("is a symbolic link without a target"))?;
            std::os::unix::fs::symlink(&link, &target)
                .map_err(io_err(&target, "create symlink"))?;
        }
        EntryType::Link => {
            // A second name of a file met before: a copy of it (store items
            // hold no hard links once canonicalised anyway).
            let (item, inner) = link_target(member)?;
            if item == member.item {
                let source = inside_item(member, root, &inner)?;
                if !std::fs::symlink_metadata(&source).is_ok_and(|m| m.is_file()) {
                    return Err(member
                        .bad("is a hard link to a member that is not a regular file before it"));
                }
                std::fs::copy(&source, &target).map_err(io_err(&target, "copy the hard link"))?;
            } else {
                let Some((bytes, exec)) = stash.files.get(&(item, inner)) else {
                    return Err(member
                        .bad("is a hard link to a member that is not a regular file before it"));
                };
                std::fs::write(&target, bytes).map_err(io_err(&target, "write"))?;
                let mode = if *exec { 0o755 } else { 0o644 };
                std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode))
                    .map_err(io_err(&target, "chmod"))?;
            }
        }
        other => {
            return Err(member.bad(&format!(
                "is a {}; store items hold only regular files, directories and symlinks",
                describe_type(other)
            )));
        }
    }
    Ok(())
}

/// The item and inner path a hard link member points to.
fn link_target(member: &Member<'_>) -> Result<(String, PathBuf), PlaceError> {
    let link = member
        .entry
        .link_name_bytes()
        .ok_or_else(|| member.bad("is a hard link without a target"))?;
    let link = String::from_utf8_lossy(&link).into_owned();
    split_member(&link)
        .map_err(|r| member.bad(&r))?
        .ok_or_else(|| member.bad("is a hard link to a member outside any item"))
}

/// The most the files that hard links of other items point to may hold in
/// memory together while a tarball is unpacked.
const MAX_STASH: u64 = 256 << 20;

/// Files of other items that hard links point to, with their executable
/// bit, by (item, inner path).
#[derive(Default)]
struct Stash {
    files: BTreeMap<(String, PathBuf), (Vec<u8>, bool)>,
    size: u64,
}

impl Stash {
    fn keep(&mut self, member: &mut Member<'_>, key: (String, PathBuf)) -> Result<(), PlaceError> {
        if !member.entry.header().entry_type().is_file() {
            return Ok(());
        }
        self.size += member.entry.size();
        if self.size > MAX_STASH {
            return Err(PlaceError::TooLarge {
                file: format!("{}:{}", member.archive.display(), member.name),
                what: "the files hard links point to",
                limit: MAX_STASH,
            });
        }
        let exec = member.entry.header().mode().unwrap_or(0) & 0o100 != 0;
        let mut bytes = Vec::new();
        member
            .entry
            .read_to_end(&mut bytes)
            .map_err(|e| member.bad(&format!("cannot be read: {e}")))?;
        self.files.insert(key, (bytes, exec));
        Ok(())
    }

    /// Keeps a member already unpacked at `written`.
    fn keep_written(
        &mut self,
        member: &Member<'_>,
        key: (String, PathBuf),
        written: &Path,
    ) -> Result<(), PlaceError> {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::symlink_metadata(written).map_err(io_err(written, "lstat"))?;
        if !meta.is_file() {
            return Ok(());
        }
        self.size += meta.len();
        if self.size > MAX_STASH {
            return Err(PlaceError::TooLarge {
                file: format!("{}:{}", member.archive.display(), member.name),
                what: "the files hard links point to",
                limit: MAX_STASH,
            });
        }
        let bytes = std::fs::read(written).map_err(io_err(written, "read"))?;
        self.files
            .insert(key, (bytes, meta.permissions().mode() & 0o100 != 0));
        Ok(())
    }
}

/// `root/inner`, after checking that every directory above it is a real
/// directory of the item, creating those the archive did not list.
fn inside_item(member: &Member<'_>, root: &Path, inner: &Path) -> Result<PathBuf, PlaceError> {
    let parts: Vec<Component<'_>> = inner.components().collect();
    let Some((last, above)) = parts.split_last() else {
        // The member is the item itself.
        return Ok(root.to_owned());
    };
    let mut dir = root.to_owned();
    for (i, part) in above.iter().chain([last]).enumerate() {
        match std::fs::symlink_metadata(&dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(member.bad("lies below a member that is not a directory")),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                std::fs::create_dir(&dir).map_err(io_err(&dir, "create directory"))?;
            }
            Err(e) => return Err(io_err(&dir, "lstat")(e).into()),
        }
        dir.push(part);
        if i == above.len() {
            break;
        }
    }
    Ok(dir)
}

fn describe_type(t: tar::EntryType) -> &'static str {
    use tar::EntryType;
    match t {
        EntryType::Char | EntryType::Block => "device",
        EntryType::Fifo => "FIFO",
        _ => "member of an unsupported type",
    }
}

#[cfg(test)]
mod tests;
