//! Following an [`ItemPath`] through an item's directories and into the
//! archives inside it, then printing the file there ([`cat`]) or listing
//! what is there ([`list`]).
//!
//! Everything is one pass over streams: the place hands the item's entries
//! in order; the entry whose path is the one asked for is the answer; an
//! entry that is a proper prefix of it must be a file that is an archive,
//! whose members are then searched the same way for the rest of the path
//! (to any depth within the content scan's [`Limits`]). Nothing is held
//! whole and nothing is written to disk.
//!
//! A path inside an archive may leave out the archive's top-level
//! directory, as Guix's unpacking does (`…-stage0-posix-1.6.0.tar.gz/
//! bootstrap-seeds/POSIX/x86/hex0-seed` finds
//! `stage0-posix-1.6.0/bootstrap-seeds/POSIX/x86/hex0-seed`): when no
//! member has the path as given and every member that has it below one
//! top-level directory has it below the same one, the path is read again
//! with that directory put in. A member given exactly always wins.

use super::ItemError;
use super::archive::{Members, Reading, read_members};
use super::entry::{Entry, EntryKind, EntryVisitor, Flow, ItemVisitor};
use super::path::ItemPath;
use super::place::{Places, Wanted};
use crate::content::Limits;
use std::collections::BTreeSet;
use std::io::{self, Read, Write};

/// How [`list`] lists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// A directory's whole tree, not only its direct entries (an archive
    /// is always listed whole, as `tar tv` does).
    pub recursive: bool,
    /// The directory or archive itself, not what is in it (`ls -d`).
    pub directory: bool,
}

/// What the path turned out to be.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Found {
    /// A directory of the item or of an archive.
    Directory,
    /// A file that is an archive, whose members were listed.
    Archive {
        /// Its layers, outermost first (`gzip, tar`).
        format: String,
    },
    /// A file (no archive): `what` it is (`text`, `ELF …`, `data`).
    File {
        /// What it is; empty when only its bytes were read ([`cat`]).
        what: String,
    },
    /// A symbolic or hard link.
    Link,
    /// A device, FIFO or other special file.
    Special,
}

/// Where a path was read from and what it is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Located {
    /// The place the item came from (as [`Places::describe`] names it).
    pub place: String,
    /// The path read, as written canonically (with an archive's top-level
    /// directory put in when it was left out).
    pub path: String,
    /// What it is.
    pub found: Found,
}

/// Writes the bytes of the file at `path` to `out`. `wanted` is the item
/// (with its fixed-output hash when known).
pub fn cat(
    places: &Places,
    path: &ItemPath,
    wanted: &Wanted,
    limits: &Limits,
    out: &mut dyn Write,
) -> Result<Located, ItemError> {
    let mut op = Cat { out, bytes: 0 };
    run(places, path, wanted, limits, &mut op)
}

/// Lists what is at `path`, handing each entry to `sink` as it is read: a
/// directory's entries (paths relative to it), an archive's members (their
/// paths in the archive), or, for a file that is no archive and for a
/// link, the file itself (its path is the one asked for).
pub fn list(
    places: &Places,
    path: &ItemPath,
    wanted: &Wanted,
    limits: &Limits,
    options: ListOptions,
    sink: &mut dyn FnMut(&Entry) -> Result<(), ItemError>,
) -> Result<Located, ItemError> {
    let mut op = List {
        options,
        sink,
        children: BTreeSet::new(),
        itself: false,
    };
    run(places, path, wanted, limits, &mut op)
}

/// What happens at the end of the path.
trait Op {
    /// The path is a regular file, whose bytes are `data`; `name` is its
    /// file name (it helps recognise archives), `shown` the path for
    /// messages and listings.
    fn file(
        &mut self,
        entry: &Entry,
        data: &mut dyn Read,
        name: &str,
        shown: &str,
        depth: u32,
        reading: &Reading<'_>,
    ) -> Result<Found, ItemError>;
    /// Whether a hard link in an archive stands for the member it links
    /// to (read that member's bytes) rather than for itself.
    fn follows_hard_links(&self) -> bool {
        false
    }
    /// The path is a link or special file.
    fn other(&mut self, entry: &Entry, shown: &str) -> Result<Found, ItemError>;
    /// The path is a directory (`entry` is its own entry when the source
    /// has one); its entries follow through `inside`.
    fn directory(&mut self, entry: Option<&Entry>, shown: &str) -> Result<(), ItemError>;
    /// An entry below the directory, its path relative to it.
    fn inside(&mut self, entry: &Entry) -> Result<(), ItemError>;
}

/// Resolves `path` once, then again as long as a top-level directory of
/// an archive had to be put in (at most once per nesting level).
fn run(
    places: &Places,
    path: &ItemPath,
    wanted: &Wanted,
    limits: &Limits,
    op: &mut dyn Op,
) -> Result<Located, ItemError> {
    let mut path = path.clone();
    for _ in 0..=limits.max_depth {
        let reading = Reading::new(limits);
        let inner: Vec<Vec<u8>> = path.inner.iter().map(|c| c.as_bytes().to_vec()).collect();
        let mut level = Level::new(&inner, 0, path.item_path(), false, 0);
        let mut visitor = ItemLevel {
            level: &mut level,
            op: &mut *op,
            reading: &reading,
            item_name: path.item.name(),
        };
        let from = places.visit(std::slice::from_ref(wanted), &mut visitor)?;
        let Some(place) = from[0] else {
            return Err(ItemError::NotFound {
                item: path.item_path(),
                places: places.describe(),
            });
        };
        match level.finish()? {
            Outcome::Found(found) => {
                return Ok(Located {
                    place: places.name(place),
                    path: path.to_string(),
                    found,
                });
            }
            Outcome::Retry { at, dir } => path.inner.insert(at, dir),
            Outcome::Redirect { at, to } => {
                path.inner.truncate(at);
                path.inner.extend(to);
            }
        }
    }
    Err(ItemError::Limit(format!(
        "{path}: more than {} archive directories left out",
        limits.max_depth
    )))
}

/// How one level (the item, or an archive inside it) ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Found(Found),
    /// Not found as given, but below one top-level directory: read again
    /// with `dir` inserted at inner component `at`.
    Retry {
        at: usize,
        dir: String,
    },
    /// A hard link of an archive: read the member it links to instead,
    /// whose path replaces the inner components from `at` on.
    Redirect {
        at: usize,
        to: Vec<String>,
    },
}

/// The search at one level: the item's tree, or one archive's members.
struct Level<'p> {
    /// The components still to find at this level.
    target: &'p [Vec<u8>],
    /// How many of the path's inner components lie before this level.
    offset: usize,
    /// The path of this level's root, for messages (`/gnu/store/…tar.gz`).
    root: String,
    /// Whether this level is an archive (whose top directory may be left
    /// out of the path).
    archive: bool,
    depth: u32,
    state: State,
    /// Top-level directories below which the target exists (two are
    /// enough to know it is not one).
    strip: BTreeSet<Vec<u8>>,
    /// Entries named like the target's last component, for the error.
    similar: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Searching,
    InDirectory,
    Done(Outcome),
}

/// Where an entry lies relative to the target.
enum Relation {
    Equal,
    /// The entry is above the target (a proper prefix of it).
    Above,
    /// The entry is inside the target, at this relative path.
    Inside(Vec<u8>),
    Unrelated,
}

fn relation(entry: &[&[u8]], target: &[Vec<u8>]) -> Relation {
    let common = entry
        .iter()
        .zip(target)
        .take_while(|(a, b)| **a == b.as_slice())
        .count();
    match (common == entry.len(), common == target.len()) {
        (true, true) => Relation::Equal,
        (true, false) => Relation::Above,
        (false, true) => Relation::Inside(entry[common..].join(&b'/')),
        (false, false) => Relation::Unrelated,
    }
}

fn shown(root: &str, components: &[impl AsRef<[u8]>]) -> String {
    let mut s = root.to_owned();
    for c in components {
        s.push('/');
        s.push_str(&String::from_utf8_lossy(c.as_ref()));
    }
    s
}

fn joined(components: &[Vec<u8>]) -> String {
    components
        .iter()
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

impl<'p> Level<'p> {
    fn new(
        target: &'p [Vec<u8>],
        offset: usize,
        root: String,
        archive: bool,
        depth: u32,
    ) -> Level<'p> {
        Level {
            target,
            offset,
            root,
            archive,
            depth,
            state: State::Searching,
            strip: BTreeSet::new(),
            similar: Vec::new(),
        }
    }

    /// One entry of this level; `root_name` names the root entry's file
    /// (the item's name).
    fn entry(
        &mut self,
        e: &Entry,
        data: &mut dyn Read,
        op: &mut dyn Op,
        reading: &Reading<'_>,
        root_name: &str,
    ) -> Result<Flow, ItemError> {
        if matches!(self.state, State::Done(_)) {
            return Ok(Flow::Stop);
        }
        let comps: Vec<&[u8]> = e.components().collect();
        match relation(&comps, self.target) {
            Relation::Equal => {
                let here = shown(&self.root, self.target);
                let name = if comps.is_empty() {
                    root_name.to_owned()
                } else {
                    String::from_utf8_lossy(e.file_name()).into_owned()
                };
                match e.kind {
                    EntryKind::Regular => {
                        let found = op.file(e, data, &name, &here, self.depth, reading)?;
                        self.state = State::Done(Outcome::Found(found));
                        return Ok(Flow::Stop);
                    }
                    EntryKind::Directory => {
                        if self.state == State::Searching {
                            op.directory(Some(e), &here)?;
                            self.state = State::InDirectory;
                        }
                    }
                    EntryKind::Hardlink if self.archive && op.follows_hard_links() => {
                        let to = e
                            .target
                            .as_deref()
                            .map(super::entry::split_components)
                            .unwrap_or_default()
                            .into_iter()
                            .map(|c| String::from_utf8_lossy(&c).into_owned())
                            .collect();
                        self.state = State::Done(Outcome::Redirect {
                            at: self.offset,
                            to,
                        });
                        return Ok(Flow::Stop);
                    }
                    EntryKind::Symlink | EntryKind::Hardlink | EntryKind::Other => {
                        let found = op.other(e, &here)?;
                        self.state = State::Done(Outcome::Found(found));
                        return Ok(Flow::Stop);
                    }
                }
            }
            Relation::Above => match e.kind {
                EntryKind::Regular => {
                    let outcome = self.nested(e, comps.len(), data, op, reading)?;
                    self.state = State::Done(outcome);
                    return Ok(Flow::Stop);
                }
                EntryKind::Symlink | EntryKind::Hardlink | EntryKind::Other => {
                    return Err(ItemError::ThroughLink {
                        path: shown(&self.root, &comps),
                        target: e
                            .target
                            .as_deref()
                            .map(|t| String::from_utf8_lossy(t).into_owned())
                            .unwrap_or_default(),
                    });
                }
                EntryKind::Directory => {}
            },
            Relation::Inside(rel) => {
                if self.state == State::Searching {
                    op.directory(None, &shown(&self.root, self.target))?;
                    self.state = State::InDirectory;
                }
                let mut inner = e.clone();
                inner.path = rel;
                op.inside(&inner)?;
            }
            Relation::Unrelated => self.note_near_miss(&comps),
        }
        Ok(Flow::Continue)
    }

    /// Remembers what may help when the target is not found: a top-level
    /// directory the target is under, entries with its file name.
    fn note_near_miss(&mut self, comps: &[&[u8]]) {
        if self.archive && comps.len() > 1 && !self.target.is_empty() && self.strip.len() < 2 {
            if let Relation::Equal | Relation::Above | Relation::Inside(_) =
                relation(&comps[1..], self.target)
            {
                self.strip.insert(comps[0].to_vec());
            }
        }
        if let (Some(last), Some(want)) = (comps.last(), self.target.last()) {
            if *last == want.as_slice() && self.similar.len() < 3 {
                self.similar.push(shown(&self.root, comps));
            }
        }
    }

    /// The entry of `depth_here` components is a file above the target: it
    /// must be an archive holding the rest of the path.
    fn nested(
        &mut self,
        e: &Entry,
        depth_here: usize,
        data: &mut dyn Read,
        op: &mut dyn Op,
        reading: &Reading<'_>,
    ) -> Result<Outcome, ItemError> {
        let here = shown(&self.root, &self.target[..depth_here]);
        let name = String::from_utf8_lossy(e.file_name()).into_owned();
        let rest = &self.target[depth_here..];
        let mut child = Level::new(
            rest,
            self.offset + depth_here,
            here.clone(),
            true,
            self.depth + 1,
        );
        let members = {
            let mut visitor = MemberLevel {
                level: &mut child,
                op,
                reading,
            };
            read_members(data, &name, &here, self.depth + 1, reading, &mut visitor)?
        };
        match members {
            Members::NotAnArchive { what } => Err(ItemError::NotAContainer {
                path: here,
                what,
                rest: joined(rest),
            }),
            Members::Read { .. } => child.finish(),
        }
    }

    fn finish(self) -> Result<Outcome, ItemError> {
        match self.state {
            State::Done(outcome) => Ok(outcome),
            State::InDirectory => Ok(Outcome::Found(Found::Directory)),
            State::Searching => {
                if self.archive && self.strip.len() == 1 {
                    if let Some(dir) = self.strip.first().and_then(|d| std::str::from_utf8(d).ok())
                    {
                        return Ok(Outcome::Retry {
                            at: self.offset,
                            dir: dir.to_owned(),
                        });
                    }
                }
                Err(ItemError::NoSuchPath {
                    within: self.root,
                    missing: joined(self.target),
                    archive: self.archive,
                    similar: self.similar,
                })
            }
        }
    }
}

/// The item's entries, from the place, into the top level.
struct ItemLevel<'a, 'p, 'l> {
    level: &'a mut Level<'p>,
    op: &'a mut dyn Op,
    reading: &'a Reading<'l>,
    item_name: &'a str,
}

impl ItemVisitor for ItemLevel<'_, '_, '_> {
    fn entry(
        &mut self,
        _item: usize,
        entry: &Entry,
        data: &mut dyn Read,
    ) -> Result<Flow, ItemError> {
        self.level
            .entry(entry, data, self.op, self.reading, self.item_name)
    }
}

/// An archive's members into the level searching it.
struct MemberLevel<'a, 'p, 'l> {
    level: &'a mut Level<'p>,
    op: &'a mut dyn Op,
    reading: &'a Reading<'l>,
}

impl EntryVisitor for MemberLevel<'_, '_, '_> {
    fn entry(&mut self, entry: &Entry, data: &mut dyn Read) -> Result<Flow, ItemError> {
        self.level.entry(entry, data, self.op, self.reading, "")
    }
}

/// `abovo cat`: copies the file's bytes.
struct Cat<'o> {
    out: &'o mut dyn Write,
    bytes: u64,
}

impl Op for Cat<'_> {
    fn follows_hard_links(&self) -> bool {
        true
    }

    fn file(
        &mut self,
        _entry: &Entry,
        data: &mut dyn Read,
        _name: &str,
        shown: &str,
        _depth: u32,
        reading: &Reading<'_>,
    ) -> Result<Found, ItemError> {
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = match data.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(reading.error(shown, e)),
            };
            self.out.write_all(&buf[..n]).map_err(ItemError::Output)?;
            self.bytes += n as u64;
        }
        Ok(Found::File {
            what: String::new(),
        })
    }

    fn other(&mut self, entry: &Entry, shown: &str) -> Result<Found, ItemError> {
        Err(ItemError::NotAFile {
            path: shown.to_owned(),
            what: describe_other(entry),
        })
    }

    fn directory(&mut self, _entry: Option<&Entry>, shown: &str) -> Result<(), ItemError> {
        Err(ItemError::NotAFile {
            path: shown.to_owned(),
            what: "a directory (abovo ls lists it)".to_owned(),
        })
    }

    fn inside(&mut self, _entry: &Entry) -> Result<(), ItemError> {
        Ok(())
    }
}

/// What a link or special file is, for messages.
fn describe_other(entry: &Entry) -> String {
    let target = entry
        .target
        .as_deref()
        .map(|t| String::from_utf8_lossy(t).into_owned())
        .unwrap_or_default();
    match entry.kind {
        EntryKind::Symlink => format!("a symbolic link to `{target}`"),
        EntryKind::Hardlink => format!("a hard link to the member `{target}`"),
        _ => "a special file (device or FIFO)".to_owned(),
    }
}

/// `abovo ls`: hands entries to the sink.
struct List<'s> {
    options: ListOptions,
    sink: &'s mut dyn FnMut(&Entry) -> Result<(), ItemError>,
    /// The direct entries of a directory already listed (those only
    /// implied by deeper members are listed once, as directories).
    children: BTreeSet<Vec<u8>>,
    /// Set when the directory itself was listed (`--directory`).
    itself: bool,
}

impl Op for List<'_> {
    fn file(
        &mut self,
        entry: &Entry,
        data: &mut dyn Read,
        name: &str,
        shown: &str,
        depth: u32,
        reading: &Reading<'_>,
    ) -> Result<Found, ItemError> {
        let mut itself = entry.clone();
        itself.path = shown.as_bytes().to_vec();
        if self.options.directory {
            (self.sink)(&itself)?;
            return Ok(Found::File {
                what: String::new(),
            });
        }
        let mut members = AllMembers {
            sink: &mut *self.sink,
            reading,
        };
        match read_members(data, name, shown, depth + 1, reading, &mut members)? {
            Members::Read { format, .. } => Ok(Found::Archive { format }),
            Members::NotAnArchive { what } => {
                (self.sink)(&itself)?;
                Ok(Found::File { what })
            }
        }
    }

    fn other(&mut self, entry: &Entry, shown: &str) -> Result<Found, ItemError> {
        let mut itself = entry.clone();
        itself.path = shown.as_bytes().to_vec();
        (self.sink)(&itself)?;
        Ok(match entry.kind {
            EntryKind::Symlink | EntryKind::Hardlink => Found::Link,
            _ => Found::Special,
        })
    }

    fn directory(&mut self, entry: Option<&Entry>, shown: &str) -> Result<(), ItemError> {
        if self.options.directory {
            let mut itself = entry
                .cloned()
                .unwrap_or_else(|| Entry::new(Vec::new(), EntryKind::Directory, Some(0)));
            itself.path = shown.as_bytes().to_vec();
            self.itself = true;
            (self.sink)(&itself)?;
        }
        Ok(())
    }

    fn inside(&mut self, entry: &Entry) -> Result<(), ItemError> {
        if self.itself {
            return Ok(());
        }
        if self.options.recursive {
            return (self.sink)(entry);
        }
        let mut comps = entry.components();
        let Some(first) = comps.next() else {
            return Ok(());
        };
        let direct = comps.next().is_none();
        if !self.children.insert(first.to_vec()) {
            return Ok(());
        }
        if direct {
            (self.sink)(entry)
        } else {
            // Only implied by a deeper member (a tar without directory
            // entries): list it as a directory.
            (self.sink)(&Entry::new(first.to_vec(), EntryKind::Directory, Some(0)))
        }
    }
}

/// Every member of an archive into the sink; a member whose size is not
/// known in advance (the stream of a compressed file) is counted.
struct AllMembers<'s, 'r, 'l> {
    sink: &'s mut dyn FnMut(&Entry) -> Result<(), ItemError>,
    reading: &'r Reading<'l>,
}

impl EntryVisitor for AllMembers<'_, '_, '_> {
    fn entry(&mut self, entry: &Entry, data: &mut dyn Read) -> Result<Flow, ItemError> {
        if entry.size.is_none() {
            let size = io::copy(data, &mut io::sink())
                .map_err(|e| self.reading.error(&String::from_utf8_lossy(&entry.path), e))?;
            let mut sized = entry.clone();
            sized.size = Some(size);
            (self.sink)(&sized)?;
        } else {
            (self.sink)(entry)?;
        }
        Ok(Flow::Continue)
    }
}
