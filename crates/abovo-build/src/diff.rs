//! Comparing two store items or trees file by file (`abovo diff`), and the
//! explanation of a failed `--check`.
//!
//! Both trees are walked in byte order of names, symlinks are never
//! followed, and every difference is one [`Change`]:
//!
//! | change | when |
//! | --- | --- |
//! | `added`, `removed` | an entry exists on one side only (its subtree is not listed again) |
//! | `type` | a file became a directory, a symlink… |
//! | `mode` | permission bits differ (in a store, the executable bit) |
//! | `symlink` | a symlink's target differs |
//! | `content` | a regular file's bytes differ: sizes, and for text a unified diff, for binary data the first differing byte ranges with a hex view of both sides |
//!
//! A file is *text* when both sides are valid UTF-8 without NUL bytes and
//! small enough to diff line by line.

use serde::Serialize;
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Files larger than this are compared as binary without loading them whole.
const TEXT_LIMIT: u64 = 4 << 20;
/// How many differing byte ranges are listed per binary file.
const MAX_RANGES: usize = 8;
/// How many ranges get a hex view.
const MAX_HEX_RANGES: usize = 3;
/// Bytes per hex row.
const HEX_ROW: u64 = 16;

/// Why two trees could not be compared.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiffError {
    /// A file could not be read.
    #[error("cannot {action} `{}`: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// The error.
        #[source]
        source: io::Error,
    },
}

fn io_err<'a>(path: &'a Path, action: &'static str) -> impl FnOnce(io::Error) -> DiffError + 'a {
    move |source| DiffError::Io {
        path: path.to_owned(),
        action,
        source,
    }
}

/// The kind of a file-system entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Directory,
    /// A symbolic link.
    Symlink,
    /// Anything else (device, FIFO, socket).
    Other,
}

impl Kind {
    fn of(meta: &fs::Metadata) -> Kind {
        let ft = meta.file_type();
        if ft.is_symlink() {
            Kind::Symlink
        } else if ft.is_dir() {
            Kind::Directory
        } else if ft.is_file() {
            Kind::File
        } else {
            Kind::Other
        }
    }

    /// The word used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Kind::File => "file",
            Kind::Directory => "directory",
            Kind::Symlink => "symlink",
            Kind::Other => "special file",
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
/// and the fields are camelCase (`oldSize`, `newSize`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(
    tag = "change",
    rename_all = "lowercase",
    rename_all_fields = "camelCase"
)]
pub enum Change {
    /// Only in the second tree.
    Added {
        /// Path relative to the tree: empty for the top directory, the
        /// item's name when the trees are single files (or symlinks).
        path: String,
        /// What it is.
        kind: Kind,
    },
    /// Only in the first tree.
    Removed {
        /// Path relative to the tree.
        path: String,
        /// What it was.
        kind: Kind,
    },
    /// Same name, different kind of entry.
    Type {
        /// Path relative to the tree.
        path: String,
        /// Kind in the first tree.
        old: Kind,
        /// Kind in the second tree.
        new: Kind,
    },
    /// Permission bits differ.
    Mode {
        /// Path relative to the tree.
        path: String,
        /// Mode in the first tree (`0o7777` bits).
        old: u32,
        /// Mode in the second tree.
        new: u32,
    },
    /// A symlink points elsewhere.
    Symlink {
        /// Path relative to the tree.
        path: String,
        /// Target in the first tree.
        old: String,
        /// Target in the second tree.
        new: String,
    },
    /// A regular file's bytes differ.
    Content {
        /// Path relative to the tree.
        path: String,
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
            Change::Added { path, kind } => format!("added {}: {}", kind.name(), shown(path)),
            Change::Removed { path, kind } => format!("removed {}: {}", kind.name(), shown(path)),
            Change::Type { path, old, new } => format!(
                "type changed: {} ({} → {})",
                shown(path),
                old.name(),
                new.name()
            ),
            Change::Mode { path, old, new } => {
                format!("mode changed: {} ({old:04o} → {new:04o})", shown(path))
            }
            Change::Symlink { path, old, new } => format!(
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

/// The differences between two trees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TreeDiff {
    /// The first tree.
    pub old: PathBuf,
    /// The second tree.
    pub new: PathBuf,
    /// Every difference, in path order.
    pub changes: Vec<Change>,
}

impl TreeDiff {
    /// Whether the trees are the same.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

/// Compares the trees at `old` and `new`. When they are single files (not
/// directories), changes name them by the file name of `old`.
pub fn diff_trees(old: &Path, new: &Path) -> Result<TreeDiff, DiffError> {
    let name = old
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| ".".into());
    diff_items(old, new, &name)
}

/// [`diff_trees`], naming single-file trees `top_name` (the builder passes
/// the output's store name: the other build sits at a temporary name).
pub fn diff_items(old: &Path, new: &Path, top_name: &str) -> Result<TreeDiff, DiffError> {
    let mut changes = Vec::new();
    let a = fs::symlink_metadata(old).map_err(io_err(old, "lstat"))?;
    let b = fs::symlink_metadata(new).map_err(io_err(new, "lstat"))?;
    // Inside a directory paths are relative to it (the top itself is "");
    // a single file has no relative path, so it goes by its name.
    let top = if a.is_dir() && b.is_dir() {
        String::new()
    } else {
        top_name.to_owned()
    };
    compare(old, new, &a, &b, top, &mut changes)?;
    Ok(TreeDiff {
        old: old.to_owned(),
        new: new.to_owned(),
        changes,
    })
}

fn compare(
    old: &Path,
    new: &Path,
    a: &fs::Metadata,
    b: &fs::Metadata,
    rel: String,
    changes: &mut Vec<Change>,
) -> Result<(), DiffError> {
    let (ka, kb) = (Kind::of(a), Kind::of(b));
    if ka != kb {
        changes.push(Change::Type {
            path: rel,
            old: ka,
            new: kb,
        });
        return Ok(());
    }
    if ka != Kind::Symlink && a.mode() & 0o7777 != b.mode() & 0o7777 {
        changes.push(Change::Mode {
            path: rel.clone(),
            old: a.mode() & 0o7777,
            new: b.mode() & 0o7777,
        });
    }
    match ka {
        Kind::Symlink => {
            let ta = fs::read_link(old).map_err(io_err(old, "read the link"))?;
            let tb = fs::read_link(new).map_err(io_err(new, "read the link"))?;
            if ta != tb {
                changes.push(Change::Symlink {
                    path: rel,
                    old: ta.to_string_lossy().into_owned(),
                    new: tb.to_string_lossy().into_owned(),
                });
            }
        }
        Kind::File => {
            if let Some(diff) = compare_files(old, new, a.len(), b.len(), &rel)? {
                changes.push(Change::Content {
                    path: rel,
                    old_size: a.len(),
                    new_size: b.len(),
                    diff,
                });
            }
        }
        Kind::Directory => compare_dirs(old, new, &rel, changes)?,
        Kind::Other => {}
    }
    Ok(())
}

fn sorted_names(dir: &Path) -> Result<Vec<std::ffi::OsString>, DiffError> {
    let mut names: Vec<_> = fs::read_dir(dir)
        .map_err(io_err(dir, "list"))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()
        .map_err(io_err(dir, "list"))?;
    names.sort_by(|x, y| x.as_encoded_bytes().cmp(y.as_encoded_bytes()));
    Ok(names)
}

fn compare_dirs(
    old: &Path,
    new: &Path,
    rel: &str,
    changes: &mut Vec<Change>,
) -> Result<(), DiffError> {
    let na = sorted_names(old)?;
    let nb = sorted_names(new)?;
    let (mut i, mut j) = (0, 0);
    let join = |name: &std::ffi::OsString| {
        let n = name.to_string_lossy();
        if rel.is_empty() {
            n.into_owned()
        } else {
            format!("{rel}/{n}")
        }
    };
    while i < na.len() || j < nb.len() {
        let order = match (na.get(i), nb.get(j)) {
            (Some(x), Some(y)) => x.as_encoded_bytes().cmp(y.as_encoded_bytes()),
            (Some(_), None) => std::cmp::Ordering::Less,
            _ => std::cmp::Ordering::Greater,
        };
        match order {
            std::cmp::Ordering::Less => {
                let p = old.join(&na[i]);
                let m = fs::symlink_metadata(&p).map_err(io_err(&p, "lstat"))?;
                changes.push(Change::Removed {
                    path: join(&na[i]),
                    kind: Kind::of(&m),
                });
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                let p = new.join(&nb[j]);
                let m = fs::symlink_metadata(&p).map_err(io_err(&p, "lstat"))?;
                changes.push(Change::Added {
                    path: join(&nb[j]),
                    kind: Kind::of(&m),
                });
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                let (pa, pb) = (old.join(&na[i]), new.join(&nb[j]));
                let ma = fs::symlink_metadata(&pa).map_err(io_err(&pa, "lstat"))?;
                let mb = fs::symlink_metadata(&pb).map_err(io_err(&pb, "lstat"))?;
                compare(&pa, &pb, &ma, &mb, join(&na[i]), changes)?;
                i += 1;
                j += 1;
            }
        }
    }
    Ok(())
}

fn is_text(bytes: &[u8]) -> bool {
    !bytes.contains(&0) && std::str::from_utf8(bytes).is_ok()
}

fn compare_files(
    old: &Path,
    new: &Path,
    size_a: u64,
    size_b: u64,
    rel: &str,
) -> Result<Option<ContentDiff>, DiffError> {
    if size_a <= TEXT_LIMIT && size_b <= TEXT_LIMIT {
        let a = fs::read(old).map_err(io_err(old, "read"))?;
        let b = fs::read(new).map_err(io_err(new, "read"))?;
        if a == b {
            return Ok(None);
        }
        if is_text(&a) && is_text(&b) {
            let (ta, tb) = (
                std::str::from_utf8(&a).unwrap_or_default(),
                std::str::from_utf8(&b).unwrap_or_default(),
            );
            // The header is one line whatever the name holds.
            let name = escape_controls(if rel.is_empty() { "." } else { rel });
            let unified = similar::TextDiff::from_lines(ta, tb)
                .unified_diff()
                .context_radius(3)
                .header(&format!("a/{name}"), &format!("b/{name}"))
                .to_string();
            return Ok(Some(ContentDiff::Text { unified }));
        }
        let (ranges, more) =
            byte_ranges(&mut &a[..], &mut &b[..], size_a, size_b).map_err(io_err(old, "read"))?;
        let hex = hex_view(&ranges, &mut |start, end| {
            Ok((
                slice(&a, start, end).to_vec(),
                slice(&b, start, end).to_vec(),
            ))
        })
        .map_err(io_err(old, "read"))?;
        return Ok(Some(ContentDiff::Binary { ranges, more, hex }));
    }
    // Too large to hold: stream for the ranges, then read back only the
    // windows the hex view shows.
    let mut fa = fs::File::open(old).map_err(io_err(old, "open"))?;
    let mut fb = fs::File::open(new).map_err(io_err(new, "open"))?;
    let (ranges, more) = byte_ranges(
        &mut io::BufReader::new(&mut fa),
        &mut io::BufReader::new(&mut fb),
        size_a,
        size_b,
    )
    .map_err(io_err(old, "read"))?;
    if ranges.is_empty() {
        return Ok(None);
    }
    let hex = hex_view(&ranges, &mut |start, end| {
        Ok((
            read_window(&mut fa, start, end)?,
            read_window(&mut fb, start, end)?,
        ))
    })
    .map_err(io_err(old, "read"))?;
    Ok(Some(ContentDiff::Binary { ranges, more, hex }))
}

/// `bytes[start..end]`, cut to what exists.
fn slice(bytes: &[u8], start: u64, end: u64) -> &[u8] {
    let len = bytes.len() as u64;
    &bytes[start.min(len) as usize..end.min(len) as usize]
}

/// The bytes of `file` from `start` to `end` (fewer at its end).
fn read_window(file: &mut fs::File, start: u64, end: u64) -> io::Result<Vec<u8>> {
    use std::io::{Seek, SeekFrom};
    file.seek(SeekFrom::Start(start))?;
    let mut out = Vec::new();
    file.take(end.saturating_sub(start)).read_to_end(&mut out)?;
    Ok(out)
}

/// The first differing runs of two streams; a length difference counts as
/// a final range from the end of the shorter one.
fn byte_ranges(
    a: &mut dyn Read,
    b: &mut dyn Read,
    size_a: u64,
    size_b: u64,
) -> io::Result<(Vec<ByteRange>, bool)> {
    let mut ranges: Vec<ByteRange> = Vec::new();
    let mut more = false;
    let common = size_a.min(size_b);
    let mut ba = vec![0u8; 64 * 1024];
    let mut bb = vec![0u8; 64 * 1024];
    let mut offset = 0u64;
    let mut open: Option<ByteRange> = None;
    while offset < common {
        let n = (common - offset).min(ba.len() as u64) as usize;
        a.read_exact(&mut ba[..n])?;
        b.read_exact(&mut bb[..n])?;
        for k in 0..n {
            let pos = offset + k as u64;
            if ba[k] != bb[k] {
                match &mut open {
                    Some(r) => r.len += 1,
                    None => {
                        open = Some(ByteRange {
                            offset: pos,
                            len: 1,
                        })
                    }
                }
            } else if let Some(r) = open.take() {
                if ranges.len() == MAX_RANGES {
                    more = true;
                    return Ok((ranges, more));
                }
                ranges.push(r);
            }
        }
        offset += n as u64;
    }
    if let Some(r) = open.take() {
        if ranges.len() == MAX_RANGES {
            return Ok((ranges, true));
        }
        ranges.push(r);
    }
    if size_a != size_b {
        if ranges.len() == MAX_RANGES {
            more = true;
        } else {
            ranges.push(ByteRange {
                offset: common,
                len: size_a.max(size_b) - common,
            });
        }
    }
    Ok((ranges, more))
}

/// One row of 16 bytes starting at `start`, from `window`, which holds the
/// bytes from `window_start` on.
fn hex_row(window: &[u8], window_start: u64, start: u64) -> String {
    let at = |k: usize| window.get((start - window_start) as usize + k).copied();
    let mut s = format!("{start:08x} ");
    for k in 0..HEX_ROW as usize {
        match at(k) {
            Some(b) => s.push_str(&format!(" {b:02x}")),
            None => s.push_str("   "),
        }
    }
    s.push_str("  |");
    for k in 0..HEX_ROW as usize {
        if let Some(b) = at(k) {
            s.push(if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '.'
            });
        }
    }
    s.push('|');
    s
}

/// Rows of 16 bytes from both sides around the first ranges: `-` lines are
/// the first file, `+` lines the second. `window(start, end)` gives the
/// bytes of both files in that span (fewer where a file ends).
fn hex_view(
    ranges: &[ByteRange],
    window: &mut dyn FnMut(u64, u64) -> io::Result<(Vec<u8>, Vec<u8>)>,
) -> io::Result<String> {
    let mut out = String::new();
    for r in ranges.iter().take(MAX_HEX_RANGES) {
        let first = r.offset / HEX_ROW * HEX_ROW;
        let last = (r.offset + r.len.min(4 * HEX_ROW))
            .div_ceil(HEX_ROW)
            .max(first / HEX_ROW + 1)
            * HEX_ROW;
        let (a, b) = window(first, last)?;
        out.push_str(&format!(
            "@@ offset {:#x}, {} @@\n",
            r.offset,
            if r.len == 1 {
                "1 byte differs".to_owned()
            } else {
                format!("{} bytes differ", r.len)
            }
        ));
        let mut row = first;
        while row < last {
            if row - first < a.len() as u64 {
                out.push_str(&format!("-{}\n", hex_row(&a, first, row)));
            }
            if row - first < b.len() as u64 {
                out.push_str(&format!("+{}\n", hex_row(&b, first, row)));
            }
            row += HEX_ROW;
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};

    fn tree(root: &Path, files: &[(&str, &[u8])]) {
        fs::create_dir_all(root).unwrap();
        for (name, data) in files {
            let p = root.join(name);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, data).unwrap();
        }
    }

    #[test]
    fn every_kind_of_change_is_reported() {
        let d = tempfile::tempdir().unwrap();
        let (a, b) = (d.path().join("a"), d.path().join("b"));
        tree(
            &a,
            &[
                ("same", b"x"),
                ("gone", b"1"),
                ("t.txt", b"one\ntwo\nthree\n"),
                ("bin", b"\0\x01\x02\x03rest"),
                ("sub/f", b"f"),
            ],
        );
        tree(
            &b,
            &[
                ("same", b"x"),
                ("new", b"2"),
                ("t.txt", b"one\nTWO\nthree\n"),
                ("bin", b"\0\x01\xff\x03rest+"),
                ("sub", b"now a file"),
            ],
        );
        symlink("here", a.join("l")).unwrap();
        symlink("there", b.join("l")).unwrap();
        fs::set_permissions(b.join("same"), fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(a.join("same"), fs::Permissions::from_mode(0o644)).unwrap();
        let diff = diff_trees(&a, &b).unwrap();
        let summary: Vec<String> = diff.changes.iter().map(Change::summary).collect();
        assert_eq!(
            summary,
            [
                "binary content differs: bin (8 → 9 bytes)",
                "removed file: gone",
                "symlink target changed: l (here → there)",
                "added file: new",
                "mode changed: same (0644 → 0755)",
                "type changed: sub (directory → file)",
                "text content differs: t.txt (14 bytes)",
            ]
        );
        let Change::Content {
            diff: ContentDiff::Binary { ranges, hex, .. },
            ..
        } = &diff.changes[0]
        else {
            panic!("{:?}", diff.changes[0]);
        };
        assert_eq!(
            ranges,
            &[
                ByteRange { offset: 2, len: 1 },
                ByteRange { offset: 8, len: 1 }
            ]
        );
        assert!(hex.contains("-00000000  00 01 02 03"), "{hex}");
        assert!(hex.contains("+00000000  00 01 ff 03"), "{hex}");
        let Change::Content {
            diff: ContentDiff::Text { unified },
            ..
        } = &diff.changes[6]
        else {
            panic!();
        };
        assert!(unified.contains("-two\n+TWO\n"), "{unified}");
        let json = serde_json::to_value(&diff).unwrap();
        assert_eq!(json["changes"][1]["change"], "removed");
        assert_eq!(json["changes"][6]["format"], "text");
    }

    #[test]
    fn single_files_go_by_their_name_and_json_is_camel_case() {
        let d = tempfile::tempdir().unwrap();
        let (a, b) = (d.path().join("hash-nd"), d.path().join("hash-nd-check"));
        fs::write(&a, b"\x00\x01").unwrap();
        fs::write(&b, b"\x00\x02\x03").unwrap();
        let diff = diff_trees(&a, &b).unwrap();
        assert_eq!(diff.changes.len(), 1);
        assert_eq!(
            diff.changes[0].summary(),
            "binary content differs: hash-nd (2 → 3 bytes)"
        );
        // The builder names the output, whatever the other build is called.
        let diff = diff_items(&b, &a, "out-name").unwrap();
        assert_eq!(diff.changes[0].path(), "out-name");
        let json = serde_json::to_value(&diff).unwrap();
        let change = &json["changes"][0];
        assert_eq!(change["oldSize"], 3);
        assert_eq!(change["newSize"], 2);
        assert!(change.get("old_size").is_none(), "{change}");
        // Text: the unified header names the file too.
        fs::write(&a, "one\n").unwrap();
        fs::write(&b, "two\n").unwrap();
        let Change::Content {
            diff: ContentDiff::Text { unified },
            ..
        } = &diff_trees(&a, &b).unwrap().changes[0]
        else {
            panic!()
        };
        assert!(
            unified.starts_with("--- a/hash-nd\n+++ b/hash-nd\n"),
            "{unified}"
        );
        // A directory's own changes are still `.`.
        let (x, y) = (d.path().join("x"), d.path().join("y"));
        fs::create_dir(&x).unwrap();
        fs::create_dir(&y).unwrap();
        fs::set_permissions(&y, fs::Permissions::from_mode(0o700)).unwrap();
        fs::set_permissions(&x, fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(
            diff_trees(&x, &y).unwrap().changes[0].summary(),
            "mode changed: . (0755 → 0700)"
        );
    }

    #[test]
    fn hostile_names_cannot_reach_the_terminal() {
        let d = tempfile::tempdir().unwrap();
        let (a, b) = (d.path().join("a"), d.path().join("b"));
        let evil = "evil\x1b[31mRED\nname";
        tree(&a, &[(evil, b"1\n")]);
        tree(&b, &[(evil, b"2\n")]);
        symlink("\x1b]0;title\x07", a.join("l")).unwrap();
        symlink("x", b.join("l")).unwrap();
        let diff = diff_trees(&a, &b).unwrap();
        for c in &diff.changes {
            let summary = c.summary();
            assert!(!summary.chars().any(|ch| ch.is_control()), "{summary:?}");
        }
        assert_eq!(
            diff.changes[0].summary(),
            "text content differs: evil\\u{1b}[31mRED\\nname (2 bytes)"
        );
        let Change::Content {
            diff: ContentDiff::Text { unified },
            ..
        } = &diff.changes[0]
        else {
            panic!()
        };
        assert!(
            unified.starts_with("--- a/evil\\u{1b}[31mRED\\nname\n"),
            "{unified}"
        );
        assert!(diff.changes[1].summary().contains("\\u{1b}]0;title\\u{7}"));
    }

    #[test]
    fn large_binary_files_get_a_hex_view_of_the_first_difference() {
        let d = tempfile::tempdir().unwrap();
        let size = (TEXT_LIMIT + 4096) as usize;
        let mut a = vec![0u8; size];
        let mut b = a.clone();
        let at = size - 1000;
        a[at] = 0xaa;
        b[at] = 0xbb;
        b.push(7);
        fs::write(d.path().join("a"), &a).unwrap();
        fs::write(d.path().join("b"), &b).unwrap();
        let diff = diff_trees(&d.path().join("a"), &d.path().join("b")).unwrap();
        let Change::Content {
            diff: ContentDiff::Binary { ranges, hex, .. },
            ..
        } = &diff.changes[0]
        else {
            panic!("{:?}", diff.changes)
        };
        assert_eq!(
            ranges[0],
            ByteRange {
                offset: at as u64,
                len: 1
            }
        );
        assert_eq!(
            ranges[1],
            ByteRange {
                offset: size as u64,
                len: 1
            }
        );
        let row = at / 16 * 16;
        let col = 3 * (at - row);
        let want_a = format!("-{row:08x} {}aa", " 00".repeat(col / 3) + " ");
        let want_b = format!("+{row:08x} {}bb", " 00".repeat(col / 3) + " ");
        assert!(hex.contains(&want_a), "{hex}");
        assert!(hex.contains(&want_b), "{hex}");
        assert!(
            hex.contains(&format!("@@ offset {at:#x}, 1 byte differs @@")),
            "{hex}"
        );
        // The byte past the end of the shorter file: only the longer side.
        assert!(hex.contains(&format!("+{size:08x}  07")), "{hex}");
        assert!(!hex.contains(&format!("-{size:08x}")), "{hex}");
    }

    #[test]
    fn identical_trees_have_no_changes() {
        let d = tempfile::tempdir().unwrap();
        let (a, b) = (d.path().join("a"), d.path().join("b"));
        tree(&a, &[("x/y", b"same")]);
        tree(&b, &[("x/y", b"same")]);
        assert!(diff_trees(&a, &b).unwrap().is_empty());
    }

    #[test]
    fn ranges_are_capped() {
        let a: Vec<u8> = (0..100).map(|i| if i % 2 == 0 { 0 } else { 1 }).collect();
        let b = [0u8; 100];
        let (ranges, more) = byte_ranges(&mut &a[..], &mut &b[..], 100, 100).unwrap();
        assert_eq!(ranges.len(), MAX_RANGES);
        assert!(more);
        assert_eq!(ranges[0], ByteRange { offset: 1, len: 1 });
    }
}
