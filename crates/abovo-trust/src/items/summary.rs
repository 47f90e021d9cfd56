//! What `abovo show` prints of each item a derivation uses: the text of a
//! script or patch (its first lines), what a binary file is, what a tree
//! holds — read for many items in one pass over each place.

use super::ItemError;
use super::archive::describe_head;
use super::entry::{Entry, EntryKind, Flow, ItemVisitor};
use super::place::{Places, Wanted};
use crate::content::text;
use serde::Serialize;
use std::io::{self, Read};

/// How much of each item to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SummaryOptions {
    /// Lines of a text file kept (0: no limit).
    pub max_lines: usize,
    /// Bytes of a text file kept, whatever the lines.
    pub max_bytes: usize,
    /// Entries of a tree listed (the counts stay exact).
    pub max_entries: usize,
}

impl Default for SummaryOptions {
    fn default() -> SummaryOptions {
        SummaryOptions {
            max_lines: 200,
            max_bytes: 256 << 10,
            max_entries: 50,
        }
    }
}

/// What an item holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Content {
    /// A text file: its first lines.
    Text {
        /// The lines kept (raw bytes: printed escaped).
        #[serde(skip)]
        head: Vec<u8>,
        /// How many lines the file has.
        lines: u64,
        /// How many of them `head` holds.
        shown_lines: u64,
        /// Whether `head` is less than the whole file.
        truncated: bool,
    },
    /// A file that is not text.
    Binary {
        /// What it is (`ELF 32-bit LSB executable, Intel 80386`,
        /// `xz-compressed data`).
        what: String,
    },
    /// A directory tree.
    Tree {
        /// Regular files in it.
        files: u64,
        /// Directories below the root.
        directories: u64,
        /// Links and special files.
        others: u64,
        /// The first entries (paths relative to the root).
        entries: Vec<Entry>,
    },
    /// A symbolic link.
    Link {
        /// Its target.
        target: String,
    },
}

/// One item, read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemSummary {
    /// The place it was read from.
    pub place: String,
    /// Its size: a file's bytes, or the sum of a tree's files.
    pub size: u64,
    /// Whether it is an executable file.
    pub executable: bool,
    /// What it holds.
    pub content: Content,
}

/// Reads each of `wanted` from the first place that holds it; `None` for
/// those at hand nowhere.
pub fn summarise(
    places: &Places,
    wanted: &[Wanted],
    options: &SummaryOptions,
) -> Result<Vec<Option<ItemSummary>>, ItemError> {
    let mut collect = Collect {
        options,
        items: vec![None; wanted.len()],
    };
    let from = places.visit(wanted, &mut collect)?;
    Ok(collect
        .items
        .into_iter()
        .zip(from)
        .map(|(summary, place)| {
            let place = places.name(place?);
            summary.map(|mut s| {
                s.place = place;
                s
            })
        })
        .collect())
}

struct Collect<'o> {
    options: &'o SummaryOptions,
    items: Vec<Option<ItemSummary>>,
}

impl ItemVisitor for Collect<'_> {
    fn entry(
        &mut self,
        item: usize,
        entry: &Entry,
        data: &mut dyn Read,
    ) -> Result<Flow, ItemError> {
        let place = String::from_utf8_lossy(&entry.path).into_owned();
        let io_err = |source: io::Error| ItemError::Corrupt {
            place: place.clone(),
            source,
        };
        if entry.path.is_empty() {
            let summary = match entry.kind {
                EntryKind::Regular => {
                    let (size, content) =
                        read_file(data, entry.size, self.options).map_err(io_err)?;
                    ItemSummary {
                        place: String::new(),
                        size,
                        executable: entry.executable,
                        content,
                    }
                }
                EntryKind::Directory => empty_tree(),
                _ => ItemSummary {
                    place: String::new(),
                    size: 0,
                    executable: false,
                    content: Content::Link {
                        target: entry
                            .target
                            .as_deref()
                            .map(|t| String::from_utf8_lossy(t).into_owned())
                            .unwrap_or_default(),
                    },
                },
            };
            self.items[item] = Some(summary);
            return Ok(Flow::Continue);
        }
        // An archive may hold a tree without an entry for its root.
        let summary = self.items[item].get_or_insert_with(empty_tree);
        let ItemSummary {
            size,
            content:
                Content::Tree {
                    files,
                    directories,
                    others,
                    entries,
                },
            ..
        } = summary
        else {
            return Ok(Flow::Continue);
        };
        match entry.kind {
            EntryKind::Regular => {
                *files += 1;
                *size += entry.size.unwrap_or(0);
            }
            EntryKind::Directory => *directories += 1,
            _ => *others += 1,
        }
        if entries.len() < self.options.max_entries {
            entries.push(entry.clone());
        }
        Ok(Flow::Continue)
    }
}

/// A tree with nothing counted yet.
fn empty_tree() -> ItemSummary {
    ItemSummary {
        place: String::new(),
        size: 0,
        executable: false,
        content: Content::Tree {
            files: 0,
            directories: 0,
            others: 0,
            entries: Vec::new(),
        },
    }
}

/// Reads a file (of `known` size, when the place says): its size, and its
/// first lines when it is text. A binary file of known size is not read
/// past its head (a fixed output may be gigabytes).
fn read_file(
    data: &mut dyn Read,
    known: Option<u64>,
    options: &SummaryOptions,
) -> io::Result<(u64, Content)> {
    let mut head = Vec::new();
    super::archive::fill(data, &mut head, text::WINDOW)?;
    if !text::is_text(&head) {
        let what = describe_head(&head, "");
        let size = match known {
            Some(size) => size,
            None => head.len() as u64 + io::copy(data, &mut io::sink())?,
        };
        return Ok((size, Content::Binary { what }));
    }
    // Keep whole lines up to the bounds; count the rest.
    let max_lines = if options.max_lines == 0 {
        usize::MAX
    } else {
        options.max_lines
    };
    let mut kept = Vec::new();
    let mut shown_lines: u64 = 0;
    let mut lines: u64 = 0;
    let mut size: u64 = 0;
    let mut keeping = true;
    let mut last = b'\n';
    let mut chunk = head;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        if chunk.is_empty() {
            let n = data.read(&mut buf)?;
            if n == 0 {
                break;
            }
            chunk = buf[..n].to_vec();
        }
        size += chunk.len() as u64;
        for line in chunk.split_inclusive(|&b| b == b'\n') {
            if line.ends_with(b"\n") {
                lines += 1;
            }
            if keeping {
                if shown_lines as usize >= max_lines || kept.len() + line.len() > options.max_bytes
                {
                    keeping = false;
                } else {
                    kept.extend_from_slice(line);
                    if line.ends_with(b"\n") {
                        shown_lines += 1;
                    }
                }
            }
        }
        last = *chunk.last().unwrap_or(&last);
        chunk.clear();
    }
    if last != b'\n' {
        // A last line without its newline.
        lines += 1;
        if keeping {
            shown_lines += 1;
        }
    }
    let truncated = (kept.len() as u64) < size;
    Ok((
        size,
        Content::Text {
            head: kept,
            lines,
            shown_lines,
            truncated,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_of(bytes: &[u8], max_lines: usize, max_bytes: usize) -> (u64, Content) {
        let opts = SummaryOptions {
            max_lines,
            max_bytes,
            max_entries: 10,
        };
        read_file(&mut &bytes[..], None, &opts).unwrap_or((
            0,
            Content::Link {
                target: "error".into(),
            },
        ))
    }

    #[test]
    fn text_is_kept_by_whole_lines_and_counted() {
        let (size, c) = text_of(b"a\nbb\nccc\n", 2, 1000);
        assert_eq!(size, 9);
        assert_eq!(
            c,
            Content::Text {
                head: b"a\nbb\n".to_vec(),
                lines: 3,
                shown_lines: 2,
                truncated: true
            }
        );
        let (_, c) = text_of(b"a\nno newline", 0, 1000);
        assert_eq!(
            c,
            Content::Text {
                head: b"a\nno newline".to_vec(),
                lines: 2,
                shown_lines: 2,
                truncated: false
            }
        );
        // The byte bound cuts before a line that would pass it.
        let (_, c) = text_of(b"abc\ndefgh\n", 0, 6);
        assert!(
            matches!(c, Content::Text { ref head, shown_lines: 1, truncated: true, .. } if head == b"abc\n")
        );
        let (_, c) = text_of(b"", 10, 10);
        assert!(matches!(
            c,
            Content::Text {
                lines: 0,
                truncated: false,
                ..
            }
        ));
    }

    #[test]
    fn binary_is_described() {
        let mut elf = vec![0x7f, b'E', b'L', b'F', 1, 1, 1, 0];
        elf.resize(200, 0);
        elf[16] = 2;
        elf[18] = 3;
        let (size, c) = text_of(&elf, 10, 10);
        assert_eq!(size, 200);
        assert!(
            matches!(c, Content::Binary { ref what } if what.contains("ELF")),
            "{c:?}"
        );
    }
}
