//! What a diff says: the [`TreeDiff`] of two trees, each [`Change`] in it,
//! and how a file's bytes differ ([`ContentDiff`]).
//!
//! These values serialise to the JSON of `abovo diff` and of a failed
//! `--check`; [`Change::summary`] is their one-line human form, with every
//! name that comes from a tree escaped, since anyone may have made it.

use serde::Serialize;
use std::fs;
use std::path::PathBuf;

/// The kind of a file-system entry. Devices carry their numbers, so
/// `/dev/null` (character device 1:3) and `/dev/zero` (1:5) differ in
/// kind. In JSON a kind is its [`Kind::name`]: `file`, `directory`,
/// `symlink`, `fifo`, `socket`, `character device 1:3`, `block device 8:0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Directory,
    /// A symbolic link.
    Symlink,
    /// A named pipe.
    Fifo,
    /// A Unix domain socket.
    Socket,
    /// A character device, with its major and minor numbers.
    CharDevice {
        /// Major number.
        major: u32,
        /// Minor number.
        minor: u32,
    },
    /// A block device, with its major and minor numbers.
    BlockDevice {
        /// Major number.
        major: u32,
        /// Minor number.
        minor: u32,
    },
}

impl Kind {
    pub(super) fn of(meta: &fs::Metadata) -> Kind {
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        let ft = meta.file_type();
        let rdev = meta.rdev();
        let (major, minor) = (rustix::fs::major(rdev), rustix::fs::minor(rdev));
        if ft.is_symlink() {
            Kind::Symlink
        } else if ft.is_dir() {
            Kind::Directory
        } else if ft.is_file() {
            Kind::File
        } else if ft.is_fifo() {
            Kind::Fifo
        } else if ft.is_socket() {
            Kind::Socket
        } else if ft.is_char_device() {
            Kind::CharDevice { major, minor }
        } else {
            Kind::BlockDevice { major, minor }
        }
    }

    /// The words used in reports (and in JSON): `file`, `fifo`,
    /// `character device 1:3`…
    pub fn name(self) -> String {
        match self {
            Kind::File => "file".into(),
            Kind::Directory => "directory".into(),
            Kind::Symlink => "symlink".into(),
            Kind::Fifo => "fifo".into(),
            Kind::Socket => "socket".into(),
            Kind::CharDevice { major, minor } => format!("character device {major}:{minor}"),
            Kind::BlockDevice { major, minor } => format!("block device {major}:{minor}"),
        }
    }
}

impl Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.name())
    }
}

/// A name or symlink target from a tree, as bytes: file names need not be
/// UTF-8. `text` is what reports show (the name itself when it is UTF-8;
/// otherwise each byte that is not part of valid UTF-8 written `\xNN`), and
/// `bytes_hex` is `Some` (the raw bytes in lower-case hex) exactly when
/// the name is not UTF-8, so that two different names never serialise the
/// same.
pub fn name_text(raw: &[u8]) -> (String, Option<String>) {
    match std::str::from_utf8(raw) {
        Ok(text) => (text.to_owned(), None),
        Err(_) => {
            let mut text = String::new();
            for chunk in raw.utf8_chunks() {
                text.push_str(chunk.valid());
                for b in chunk.invalid() {
                    text.push_str(&format!("\\x{b:02x}"));
                }
            }
            let hex = raw.iter().map(|b| format!("{b:02x}")).collect();
            (text, Some(hex))
        }
    }
}

/// A run of differing bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ByteRange {
    /// Offset of the first differing byte.
    pub offset: u64,
    /// How many bytes in a row differ (up to the end of the shorter file).
    pub len: u64,
}

/// How the bytes of a file differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "format", rename_all = "lowercase")]
pub enum ContentDiff {
    /// Both sides are text: a unified diff.
    Text {
        /// The unified diff, with `---`/`+++` headers.
        unified: String,
    },
    /// Binary data: where the bytes differ.
    Binary {
        /// The first differing ranges, in order (at most eight).
        ranges: Vec<ByteRange>,
        /// Whether more ranges differ than are listed.
        more: bool,
        /// Hex rows of both sides around the first ranges.
        hex: String,
    },
}

/// One difference between the trees. In JSON, `change` names the variant
/// and the keys are the field names, snake_case like every abovo report
/// (`old_size`, `new_size`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "lowercase")]
pub enum Change {
    /// Only in the second tree.
    Added {
        /// Path relative to the tree: empty for the top directory, the
        /// item's name when the trees are single files (or symlinks). A
        /// name that is not UTF-8 shows its other bytes as `\xNN`.
        path: String,
        /// The path's bytes in hex, only when it is not UTF-8.
        #[serde(skip_serializing_if = "Option::is_none")]
        path_bytes: Option<String>,
        /// What it is.
        kind: Kind,
    },
    /// Only in the first tree.
    Removed {
        /// Path relative to the tree.
        path: String,
        /// The path's bytes in hex, only when it is not UTF-8.
        #[serde(skip_serializing_if = "Option::is_none")]
        path_bytes: Option<String>,
        /// What it was.
        kind: Kind,
    },
    /// Same name, different kind of entry.
    Type {
        /// Path relative to the tree.
        path: String,
        /// The path's bytes in hex, only when it is not UTF-8.
        #[serde(skip_serializing_if = "Option::is_none")]
        path_bytes: Option<String>,
        /// Kind in the first tree.
        old: Kind,
        /// Kind in the second tree.
        new: Kind,
    },
    /// Permission bits differ.
    Mode {
        /// Path relative to the tree.
        path: String,
        /// The path's bytes in hex, only when it is not UTF-8.
        #[serde(skip_serializing_if = "Option::is_none")]
        path_bytes: Option<String>,
        /// Mode in the first tree (`0o7777` bits).
        old: u32,
        /// Mode in the second tree.
        new: u32,
    },
    /// A symlink points elsewhere.
    Symlink {
        /// Path relative to the tree.
        path: String,
        /// The path's bytes in hex, only when it is not UTF-8.
        #[serde(skip_serializing_if = "Option::is_none")]
        path_bytes: Option<String>,
        /// Target in the first tree.
        old: String,
        /// Its bytes in hex, only when it is not UTF-8.
        #[serde(skip_serializing_if = "Option::is_none")]
        old_bytes: Option<String>,
        /// Target in the second tree.
        new: String,
        /// Its bytes in hex, only when it is not UTF-8.
        #[serde(skip_serializing_if = "Option::is_none")]
        new_bytes: Option<String>,
    },
    /// A regular file's bytes differ.
    Content {
        /// Path relative to the tree.
        path: String,
        /// The path's bytes in hex, only when it is not UTF-8.
        #[serde(skip_serializing_if = "Option::is_none")]
        path_bytes: Option<String>,
        /// Size in the first tree.
        old_size: u64,
        /// Size in the second tree.
        new_size: u64,
        /// How.
        #[serde(flatten)]
        diff: ContentDiff,
    },
}

impl Change {
    /// A symlink at `path` that points to `old` in the first tree and to
    /// `new` in the second (raw target bytes, named as [`name_text`] does).
    pub fn symlink(path: String, path_bytes: Option<String>, old: &[u8], new: &[u8]) -> Change {
        let (old, old_bytes) = name_text(old);
        let (new, new_bytes) = name_text(new);
        Change::Symlink {
            path,
            path_bytes,
            old,
            old_bytes,
            new,
            new_bytes,
        }
    }

    /// The path the change is about, relative to the trees.
    pub fn path(&self) -> &str {
        match self {
            Change::Added { path, .. }
            | Change::Removed { path, .. }
            | Change::Type { path, .. }
            | Change::Mode { path, .. }
            | Change::Symlink { path, .. }
            | Change::Content { path, .. } => path,
        }
    }

    /// A one-line summary, e.g. `binary content differs: bin/hello (1234 → 1240
    /// bytes)`. File names and symlink targets come from the trees, which
    /// anyone may have made: control characters in them (escape
    /// sequences, newlines that would forge a line) are shown escaped, so
    /// the summary is always one harmless line.
    pub fn summary(&self) -> String {
        let shown = |p: &str| {
            if p.is_empty() {
                ".".to_owned()
            } else {
                escape_controls(p)
            }
        };
        match self {
            Change::Added { path, kind, .. } => {
                format!("added {}: {}", kind.name(), shown(path))
            }
            Change::Removed { path, kind, .. } => {
                format!("removed {}: {}", kind.name(), shown(path))
            }
            Change::Type { path, old, new, .. } => format!(
                "type changed: {} ({} → {})",
                shown(path),
                old.name(),
                new.name()
            ),
            Change::Mode { path, old, new, .. } => {
                format!("mode changed: {} ({old:04o} → {new:04o})", shown(path))
            }
            Change::Symlink { path, old, new, .. } => format!(
                "symlink target changed: {} ({} → {})",
                shown(path),
                escape_controls(old),
                escape_controls(new)
            ),
            Change::Content {
                path,
                old_size,
                new_size,
                diff,
                ..
            } => {
                let what = match diff {
                    ContentDiff::Text { .. } => "text",
                    ContentDiff::Binary { .. } => "binary",
                };
                if old_size == new_size {
                    format!(
                        "{what} content differs: {} ({})",
                        shown(path),
                        bytes(*old_size)
                    )
                } else {
                    format!(
                        "{what} content differs: {} ({old_size} → {})",
                        shown(path),
                        bytes(*new_size)
                    )
                }
            }
        }
    }
}

/// `1 byte`, `2 bytes`.
pub fn bytes(n: u64) -> String {
    if n == 1 {
        "1 byte".into()
    } else {
        format!("{n} bytes")
    }
}

/// `text` with every control character but tab shown as a Rust escape
/// (`\u{1b}`, `\n`): what a terminal may safely print of a name found in
/// a tree.
pub fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && c != '\t' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// The differences between two trees. In JSON, `old` and `new` are the
/// trees' paths as text, with `old_bytes`/`new_bytes` (hex) beside them
/// when a path is not UTF-8, as for the names in [`Change`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeDiff {
    /// The first tree.
    pub old: PathBuf,
    /// The second tree.
    pub new: PathBuf,
    /// Every difference, in path order.
    pub changes: Vec<Change>,
}

impl Serialize for TreeDiff {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let (old, old_bytes) = name_text(self.old.as_os_str().as_encoded_bytes());
        let (new, new_bytes) = name_text(self.new.as_os_str().as_encoded_bytes());
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("old", &old)?;
        if let Some(b) = old_bytes {
            map.serialize_entry("old_bytes", &b)?;
        }
        map.serialize_entry("new", &new)?;
        if let Some(b) = new_bytes {
            map.serialize_entry("new_bytes", &b)?;
        }
        map.serialize_entry("changes", &self.changes)?;
        map.end()
    }
}

impl TreeDiff {
    /// Whether the trees are the same.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}
