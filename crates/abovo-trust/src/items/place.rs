//! Places where the bytes of store items may be, and the ordered list of
//! them that every reader searches ([`Places`]).
//!
//! A [`Place`] answers one question — "do you hold these items? then hand
//! me their entries" — for several items at once, because some places can
//! only be read from end to end (an archive of items is one compressed
//! stream: reading it once for ten items costs what reading it once for
//! one does). Two kinds are built in:
//!
//! - [`DiskPlace`]: items as files and trees on disk, found by a function
//!   from the item to a path: a store directory (`/gnu/store`, where the
//!   item is `<dir>/<hash>-<name>`), a folder of fetched files named by
//!   base name (`--seed-dir`'s layout), or a content-addressed cache that
//!   finds fixed outputs by their hash ([`Wanted::fixed`]);
//! - [`ItemArchive`]: a tar archive, compressed or not, holding items at its
//!   top level under their base names, the layout of the Guix corpus's
//!   `sources.tar.zst` and `drvs.tar.zst`, of abovo's built-in items, and
//!   of `abovo export`'s output.
//!
//! Adding a place is one `Places::push`.

use super::ItemError;
use super::archive::{Reading, fill, tar_entry};
use super::entry::{Entry, EntryKind, Flow, ItemVisitor};
use crate::content::layers;
use crate::content::limits::{Counting, Guard, Limits};
use crate::content::magic::{self, Container, Sniffed};
use abovo_store::StorePath;
use abovo_store::derivation::FixedOutput;
use std::collections::HashMap;
use std::io::{self, BufReader, Cursor, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// An item asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    /// Its store path.
    pub path: StorePath,
    /// When it is the output of a fixed-output derivation, that
    /// derivation's hash: a content-addressed place finds it by this.
    pub fixed: Option<FixedOutput>,
}

impl Wanted {
    /// An item known by its path alone.
    pub fn new(path: StorePath) -> Wanted {
        Wanted { path, fixed: None }
    }

    /// Its base name, `<hash>-<name>`.
    pub fn base_name(&self) -> String {
        self.path.base_name()
    }
}

/// A place that may hold the bytes of store items.
pub trait Place {
    /// How messages name it (`the sources archive
    /// \`…/sources.tar.zst\``).
    fn describe(&self) -> String;

    /// Hands the entries of each of `wanted` that this place holds to
    /// `visitor` (the item's index in `wanted`, then the entry), item by
    /// item for a disk place, in archive order for an archive. Returns, per
    /// item, whether the place holds it; items not reached because the
    /// visitor stopped count as not held.
    fn visit(
        &self,
        wanted: &[Wanted],
        visitor: &mut dyn ItemVisitor,
    ) -> Result<Vec<bool>, ItemError>;
}

/// How a [`DiskPlace`] finds an item's path.
pub type Locate = dyn Fn(&Wanted) -> Option<PathBuf> + Send + Sync;

/// Items as files and trees on disk.
pub struct DiskPlace {
    description: String,
    locate: Box<Locate>,
    follow_top_symlink: bool,
}

impl DiskPlace {
    /// A place described as `description` whose items `locate` finds (it
    /// may return a path that does not exist: the item is then not held).
    /// The item itself may be a symbolic link only when
    /// `follow_top_symlink`: a folder of downloads may link to files kept
    /// elsewhere, while in a store a link is the item.
    pub fn new(
        description: impl Into<String>,
        follow_top_symlink: bool,
        locate: impl Fn(&Wanted) -> Option<PathBuf> + Send + Sync + 'static,
    ) -> DiskPlace {
        DiskPlace {
            description: description.into(),
            locate: Box::new(locate),
            follow_top_symlink,
        }
    }

    /// A folder of items named by base name (`<hash>-<name>`): a store
    /// directory given by hand, or fetched files. A symbolic link to the
    /// item is followed.
    pub fn directory(dir: &Path) -> DiskPlace {
        let root = dir.to_owned();
        DiskPlace::new(format!("`{}`", dir.display()), true, move |w| {
            Some(root.join(w.base_name()))
        })
    }

    /// The items at their own store paths, when this machine has them
    /// (a Guix or Nix machine's store): the item is taken as it is.
    pub fn own_paths(store_dir: &str) -> DiskPlace {
        let root = PathBuf::from(store_dir);
        DiskPlace::new(format!("the store `{store_dir}`"), false, move |w| {
            Some(root.join(w.base_name()))
        })
    }
}

impl Place for DiskPlace {
    fn describe(&self) -> String {
        self.description.clone()
    }

    fn visit(
        &self,
        wanted: &[Wanted],
        visitor: &mut dyn ItemVisitor,
    ) -> Result<Vec<bool>, ItemError> {
        let mut found = vec![false; wanted.len()];
        for (i, w) in wanted.iter().enumerate() {
            let Some(path) = (self.locate)(w) else {
                continue;
            };
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            let path = if meta.file_type().is_symlink() && self.follow_top_symlink {
                match std::fs::canonicalize(&path) {
                    Ok(p) => p,
                    Err(_) => continue,
                }
            } else {
                path
            };
            found[i] = true;
            if visit_disk(&path, i, visitor)? == Flow::Stop {
                break;
            }
        }
        Ok(found)
    }
}

/// Hands the file or tree at `root` to `visitor` as item `item`: the root
/// first, then everything below it in name order; symbolic links are not
/// followed.
fn visit_disk(root: &Path, item: usize, visitor: &mut dyn ItemVisitor) -> Result<Flow, ItemError> {
    let io_err = |path: &Path, source: io::Error| ItemError::Io {
        path: path.to_owned(),
        source,
    };
    let walk = walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name();
    for entry in walk {
        let entry = entry.map_err(|e| {
            let path = e.path().unwrap_or(root).to_owned();
            io_err(&path, e.into())
        })?;
        let rel = entry.path().strip_prefix(root).unwrap_or(Path::new(""));
        let meta = entry
            .metadata()
            .map_err(|e| io_err(entry.path(), e.into()))?;
        let ft = meta.file_type();
        let kind = if ft.is_file() {
            EntryKind::Regular
        } else if ft.is_dir() {
            EntryKind::Directory
        } else if ft.is_symlink() {
            EntryKind::Symlink
        } else {
            EntryKind::Other
        };
        let mut e = Entry::new(
            rel.as_os_str().as_bytes().to_vec(),
            kind.clone(),
            Some(if kind == EntryKind::Regular {
                meta.len()
            } else {
                0
            }),
        );
        e.executable = kind == EntryKind::Regular && meta.permissions().mode() & 0o111 != 0;
        let flow = match kind {
            EntryKind::Regular => {
                let file =
                    std::fs::File::open(entry.path()).map_err(|e| io_err(entry.path(), e))?;
                let mut r = BufReader::with_capacity(1 << 16, file);
                visitor.entry(item, &e, &mut r)?
            }
            EntryKind::Symlink => {
                let target =
                    std::fs::read_link(entry.path()).map_err(|e| io_err(entry.path(), e))?;
                e.target = Some(target.as_os_str().as_bytes().to_vec());
                visitor.entry(item, &e, &mut io::empty())?
            }
            _ => visitor.entry(item, &e, &mut io::empty())?,
        };
        if flow == Flow::Stop {
            return Ok(Flow::Stop);
        }
    }
    Ok(Flow::Continue)
}

/// Where an [`ItemArchive`]'s bytes are.
enum ArchiveBytes {
    File(PathBuf),
    Static(&'static [u8]),
}

/// A tar archive (compressed or not) of store items at its top level, each
/// under its base name: `<hash>-<name>` for a file, `<hash>-<name>/…` for a
/// tree. Each item's entries are expected together, as tar writes a tree;
/// reading stops once every item asked for has been passed.
pub struct ItemArchive {
    bytes: ArchiveBytes,
    description: String,
    limits: Limits,
}

impl ItemArchive {
    /// The archive in the file `path` (a regular file; checked when read).
    pub fn file(path: &Path, description: impl Into<String>) -> ItemArchive {
        ItemArchive {
            bytes: ArchiveBytes::File(path.to_owned()),
            description: description.into(),
            limits: Limits::default(),
        }
    }

    /// The archive in `bytes` (data compiled into the program).
    pub fn in_memory(bytes: &'static [u8], description: impl Into<String>) -> ItemArchive {
        ItemArchive {
            bytes: ArchiveBytes::Static(bytes),
            description: description.into(),
            limits: Limits::default(),
        }
    }

    fn name(&self) -> String {
        match &self.bytes {
            ArchiveBytes::File(p) => p.display().to_string(),
            ArchiveBytes::Static(_) => self.description.clone(),
        }
    }

    fn open(&self) -> Result<Box<dyn Read + '_>, ItemError> {
        Ok(match &self.bytes {
            ArchiveBytes::File(p) => {
                let f = abovo_graph::input::open_regular(p).map_err(|e| ItemError::Place {
                    place: p.clone(),
                    reason: e.to_string(),
                })?;
                Box::new(BufReader::with_capacity(1 << 16, f))
            }
            ArchiveBytes::Static(b) => Box::new(*b),
        })
    }
}

/// A hard link of an item asked for, whose bytes are another member's.
struct Deferred {
    item: usize,
    entry: Entry,
}

/// The most bytes of hard-linked members held in memory while they are
/// handed to their links (module trees share small Scheme files).
const MAX_LINKED_BYTES: usize = 256 << 20;

impl ItemArchive {
    /// Reads the archive from the start, handing each member to `each`
    /// until it returns `false`.
    fn members(
        &self,
        reading: &Reading<'_>,
        each: &mut dyn FnMut(&Entry, &mut dyn Read) -> Result<bool, ItemError>,
    ) -> Result<(), ItemError> {
        let place = self.name();
        let mut input = self.open()?;
        let mut head = Vec::with_capacity(magic::HEAD_LEN);
        fill(&mut input, &mut head, magic::HEAD_LEN).map_err(|e| reading.error(&place, e))?;
        let (counting, consumed) = Counting::new(Cursor::new(head.clone()).chain(input));
        let budget = reading.budget.clone();
        let tar_stream: Box<dyn Read> = match magic::sniff(&head, &place) {
            Sniffed::Compressed(c) => {
                let d = layers::decoder(c, counting, self.limits.max_decoder_memory)
                    .map_err(|e| reading.error(&place, e))?;
                Box::new(Guard::new(
                    d,
                    consumed,
                    &budget,
                    &self.limits,
                    place.clone(),
                ))
            }
            Sniffed::Container(Container::Tar) => Box::new(counting),
            _ => {
                return Err(ItemError::Place {
                    place: PathBuf::from(&place),
                    reason: format!(
                        "not an archive of store items: it is {}, where a tar archive \
                         (compressed or not) with items at its top level was expected",
                        super::archive::describe_head(&head, &place)
                    ),
                });
            }
        };
        let mut archive = tar::Archive::new(tar_stream);
        let entries = archive.entries().map_err(|e| reading.error(&place, e))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| reading.error(&place, e))?;
            let Some(e) = tar_entry(&entry) else {
                continue;
            };
            if !each(&e, &mut entry)? {
                break;
            }
        }
        Ok(())
    }
}

/// Splits an archive path into the item's base name and the path inside.
fn split_item(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().position(|&b| b == b'/') {
        Some(slash) => (&path[..slash], &path[slash + 1..]),
        None => (path, &[]),
    }
}

impl Place for ItemArchive {
    fn describe(&self) -> String {
        self.description.clone()
    }

    /// One pass over the archive; a second one when items asked for hold
    /// hard links (GNU tar stores a file met twice as a link to its first
    /// copy, which the Guix corpus's `sources.tar.zst` does for the files
    /// module trees share): their bytes are read from the members linked
    /// to and handed over as regular files, after the rest.
    fn visit(
        &self,
        wanted: &[Wanted],
        visitor: &mut dyn ItemVisitor,
    ) -> Result<Vec<bool>, ItemError> {
        let mut found = vec![false; wanted.len()];
        if wanted.is_empty() {
            return Ok(found);
        }
        let by_name: HashMap<Vec<u8>, usize> = wanted
            .iter()
            .enumerate()
            .map(|(i, w)| (w.base_name().into_bytes(), i))
            .collect();
        let reading = Reading::new(&self.limits);
        let mut left = wanted.len();
        let mut current: Option<usize> = None;
        let mut stopped = false;
        let mut deferred: Vec<Deferred> = Vec::new();
        self.members(&reading, &mut |e, data| {
            let (base, rest) = split_item(&e.path);
            let Some(&item) = by_name.get(base) else {
                // Past the last item asked for: the rest is other items.
                current = None;
                return Ok(left > 0);
            };
            if current != Some(item) {
                current = Some(item);
                if !found[item] {
                    found[item] = true;
                    left -= 1;
                }
            }
            // A store item has no owner, group or time: what the archive
            // records for them is the archive's, not the item's.
            let mut inner = Entry::new(rest.to_vec(), e.kind.clone(), e.size);
            inner.executable = e.executable;
            inner.target = e.target.clone();
            if e.kind == EntryKind::Hardlink {
                deferred.push(Deferred { item, entry: inner });
                return Ok(true);
            }
            if visitor.entry(item, &inner, data)? == Flow::Stop {
                stopped = true;
                return Ok(false);
            }
            Ok(true)
        })?;
        if stopped || deferred.is_empty() {
            return Ok(found);
        }
        // The members linked to, and the links to each.
        let mut targets: HashMap<Vec<u8>, Vec<usize>> = HashMap::new();
        for (i, d) in deferred.iter().enumerate() {
            let target = d.entry.target.as_deref().unwrap_or_default();
            targets
                .entry(super::entry::canonical_member_path(target))
                .or_default()
                .push(i);
        }
        let place = self.name();
        let mut held = 0usize;
        let mut stopped = false;
        self.members(&reading, &mut |e, data| {
            let Some(links) = targets.remove(&e.path) else {
                return Ok(true);
            };
            if e.kind != EntryKind::Regular {
                return Ok(!targets.is_empty());
            }
            let mut bytes = Vec::new();
            data.take(MAX_LINKED_BYTES as u64 + 1)
                .read_to_end(&mut bytes)
                .map_err(|err| reading.error(&place, err))?;
            held += bytes.len();
            if held > MAX_LINKED_BYTES {
                return Err(ItemError::Limit(format!(
                    "{place}: more than {MAX_LINKED_BYTES} bytes of hard-linked members"
                )));
            }
            for i in links {
                let d = &deferred[i];
                let mut file = d.entry.clone();
                file.kind = EntryKind::Regular;
                file.size = Some(bytes.len() as u64);
                file.executable = e.executable;
                file.target = None;
                if visitor.entry(d.item, &file, &mut &bytes[..])? == Flow::Stop {
                    stopped = true;
                    return Ok(false);
                }
            }
            Ok(!targets.is_empty())
        })?;
        if !stopped {
            if let Some(missing) = targets.keys().next() {
                return Err(ItemError::Corrupt {
                    place,
                    source: io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "a hard link to `{}`, which the archive does not hold",
                            String::from_utf8_lossy(missing)
                        ),
                    ),
                });
            }
        }
        Ok(found)
    }
}

/// The places to search, in order: the first that holds an item is the one
/// it is read from.
#[derive(Default)]
pub struct Places {
    places: Vec<Box<dyn Place>>,
}

impl Places {
    /// No place yet.
    pub fn new() -> Places {
        Places::default()
    }

    /// Adds a place after the others.
    pub fn push(&mut self, place: Box<dyn Place>) {
        self.places.push(place);
    }

    /// Adds the place a person named by `path`: a corpus folder (its
    /// `sources.tar.zst` and `drvs.tar.zst`), a directory of items, or an
    /// archive of items.
    pub fn push_path(&mut self, path: &Path) -> Result<(), ItemError> {
        let meta = std::fs::metadata(path).map_err(|e| ItemError::Place {
            place: path.to_owned(),
            reason: e.to_string(),
        })?;
        if meta.is_dir() {
            let archives: Vec<PathBuf> = ["sources.tar.zst", "drvs.tar.zst"]
                .iter()
                .map(|n| path.join(n))
                .filter(|p| p.is_file())
                .collect();
            if archives.is_empty() {
                self.push(Box::new(DiskPlace::directory(path)));
            }
            for a in archives {
                let what = format!("`{}`", a.display());
                self.push(Box::new(ItemArchive::file(&a, what)));
            }
        } else {
            let what = format!("`{}`", path.display());
            self.push(Box::new(ItemArchive::file(path, what)));
        }
        Ok(())
    }

    /// How each place is named, in search order.
    pub fn describe(&self) -> Vec<String> {
        self.places.iter().map(|p| p.describe()).collect()
    }

    /// Whether there is no place.
    pub fn is_empty(&self) -> bool {
        self.places.is_empty()
    }

    /// Visits each of `wanted` in the first place that holds it (places in
    /// order; each read once, for the items still missing). Returns, per
    /// item, the index of the place it was read from.
    pub fn visit(
        &self,
        wanted: &[Wanted],
        visitor: &mut dyn ItemVisitor,
    ) -> Result<Vec<Option<usize>>, ItemError> {
        let mut from: Vec<Option<usize>> = vec![None; wanted.len()];
        for (p, place) in self.places.iter().enumerate() {
            let missing: Vec<usize> = (0..wanted.len()).filter(|&i| from[i].is_none()).collect();
            if missing.is_empty() {
                break;
            }
            let subset: Vec<Wanted> = missing.iter().map(|&i| wanted[i].clone()).collect();
            let mut renumber = Renumber {
                map: &missing,
                inner: &mut *visitor,
            };
            let found = place.visit(&subset, &mut renumber)?;
            for (k, held) in found.into_iter().enumerate() {
                if held {
                    from[missing[k]] = Some(p);
                }
            }
        }
        Ok(from)
    }

    /// The description of place `index`.
    pub fn name(&self, index: usize) -> String {
        self.places
            .get(index)
            .map(|p| p.describe())
            .unwrap_or_default()
    }
}

/// Passes a subset's entries on under their index in the whole list.
struct Renumber<'a> {
    map: &'a [usize],
    inner: &'a mut dyn ItemVisitor,
}

impl ItemVisitor for Renumber<'_> {
    fn entry(
        &mut self,
        item: usize,
        entry: &Entry,
        data: &mut dyn Read,
    ) -> Result<Flow, ItemError> {
        self.inner.entry(self.map[item], entry, data)
    }
}
