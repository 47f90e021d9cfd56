//! Entries: what every place and every archive is read as.
//!
//! A store item on disk, an item inside an archive of items, and the members
//! of a tarball, zip or `ar` archive all come to their reader the same way:
//! a stream of [`Entry`] values, each with its data, handed to an
//! [`EntryVisitor`] in the order the source holds them. Nothing is held
//! whole: a regular file's bytes are offered as a reader that the visitor
//! may read, partly read or ignore.

use super::ItemError;
use serde::Serialize;
use std::io::Read;

/// What an entry is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryKind {
    /// A regular file.
    Regular,
    /// A directory.
    Directory,
    /// A symbolic link to `target`.
    Symlink,
    /// A hard link (in a tar archive) to another member, `target`.
    Hardlink,
    /// A device, FIFO or other special file.
    Other,
}

impl EntryKind {
    /// The `ls -l` type letter.
    pub fn letter(&self) -> char {
        match self {
            EntryKind::Regular => '-',
            EntryKind::Directory => 'd',
            EntryKind::Symlink => 'l',
            EntryKind::Hardlink => 'h',
            EntryKind::Other => '?',
        }
    }
}

/// One file, directory or link of a store item or of an archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// Its path below the root of the item or archive, components joined
    /// with `/`, without a leading `./` or a trailing `/`; empty for the
    /// root of an item. Raw bytes: archives may hold any name, so it is
    /// only ever printed escaped, never used as a path on disk.
    #[serde(skip)]
    pub path: Vec<u8>,
    /// What it is.
    pub kind: EntryKind,
    /// Size of a regular file's contents (0 for the others); `None` when
    /// the source does not say before the bytes are read (the stream
    /// inside a compressed file).
    pub size: Option<u64>,
    /// Whether a regular file is executable.
    pub executable: bool,
    /// A link's target (raw bytes).
    #[serde(skip)]
    pub target: Option<Vec<u8>>,
    /// Permission bits, when the source records them (store items and
    /// NARs record only the executable bit).
    pub mode: Option<u32>,
    /// Owner id, when recorded (archives).
    pub uid: Option<u64>,
    /// Group id, when recorded.
    pub gid: Option<u64>,
    /// Owner name, when recorded (tar).
    pub user: Option<String>,
    /// Group name, when recorded.
    pub group: Option<String>,
    /// Modification time in seconds since the epoch (UTC), when recorded.
    pub mtime: Option<i64>,
}

impl Entry {
    /// An entry with only a path, a kind and a size; the rest unrecorded.
    pub fn new(path: Vec<u8>, kind: EntryKind, size: Option<u64>) -> Entry {
        Entry {
            path,
            kind,
            size,
            executable: false,
            target: None,
            mode: None,
            uid: None,
            gid: None,
            user: None,
            group: None,
            mtime: None,
        }
    }

    /// The path's components (none for the root).
    pub fn components(&self) -> impl Iterator<Item = &[u8]> {
        self.path.split(|&b| b == b'/').filter(|c| !c.is_empty())
    }

    /// The last component of the path (empty for the root).
    pub fn file_name(&self) -> &[u8] {
        self.components().last().unwrap_or_default()
    }

    /// The mode as `ls -l` shows it: the type letter and nine permission
    /// characters. Without recorded permissions, those of a store item:
    /// read-only, executable for directories and executables.
    pub fn mode_string(&self) -> String {
        let mode = self.mode.unwrap_or(match self.kind {
            EntryKind::Directory => 0o555,
            EntryKind::Symlink => 0o777,
            _ if self.executable => 0o555,
            _ => 0o444,
        });
        let mut s = String::with_capacity(10);
        s.push(self.kind.letter());
        for shift in [6, 3, 0] {
            let bits = (mode >> shift) & 7;
            s.push(if bits & 4 != 0 { 'r' } else { '-' });
            s.push(if bits & 2 != 0 { 'w' } else { '-' });
            s.push(if bits & 1 != 0 { 'x' } else { '-' });
        }
        s
    }
}

/// What a visitor wants after an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Go on with the next entry.
    Continue,
    /// Stop reading: the visitor has what it wanted.
    Stop,
}

/// Receives the entries of one item or archive, in order.
pub trait EntryVisitor {
    /// One entry; `data` yields a regular file's bytes (nothing for the
    /// others). What the visitor does not read is skipped.
    fn entry(&mut self, entry: &Entry, data: &mut dyn Read) -> Result<Flow, ItemError>;
}

/// Receives the entries of several items at once (see
/// [`Place::visit`](super::Place::visit)): `item` is the index of the item
/// in the list asked for.
pub trait ItemVisitor {
    /// One entry of item `item`.
    fn entry(&mut self, item: usize, entry: &Entry, data: &mut dyn Read)
    -> Result<Flow, ItemError>;
}

/// Splits a path given by a person (`a/b//c/`) into its components,
/// dropping empty ones and `.`.
pub(crate) fn split_components(path: &[u8]) -> Vec<Vec<u8>> {
    path.split(|&b| b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .map(<[u8]>::to_vec)
        .collect()
}

/// A member path as archives write it, made canonical: a leading `./` or
/// `/` and a trailing `/` removed, empty and `.` components dropped.
pub(crate) fn canonical_member_path(raw: &[u8]) -> Vec<u8> {
    split_components(raw).join(&b'/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_paths() {
        assert_eq!(canonical_member_path(b"./a//b/./c/"), b"a/b/c");
        assert_eq!(canonical_member_path(b"/abs"), b"abs");
        assert_eq!(canonical_member_path(b"."), b"");
    }

    #[test]
    fn mode_strings() {
        let mut e = Entry::new(b"x".to_vec(), EntryKind::Regular, Some(3));
        assert_eq!(e.mode_string(), "-r--r--r--");
        e.executable = true;
        assert_eq!(e.mode_string(), "-r-xr-xr-x");
        e.mode = Some(0o644);
        assert_eq!(e.mode_string(), "-rw-r--r--");
        let d = Entry::new(Vec::new(), EntryKind::Directory, Some(0));
        assert_eq!(d.mode_string(), "dr-xr-xr-x");
    }
}
