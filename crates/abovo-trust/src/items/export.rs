//! Writing an archive of store items (`abovo export`): the layout every
//! [`ItemArchive`](super::ItemArchive) reads, made deterministically, so
//! that the same items always give the same bytes (the items built into
//! abovo are made this way; `data/regenerate.sh` remakes them).
//!
//! The archive is GNU tar compressed with zstd: items at the top level in
//! base-name order, each item's entries depth first in name order (the
//! order of a NAR and of `tar --sort=name`), files `0444` or `0555`,
//! directories `0555`, owner and group 0 without names, every time 1 (the
//! store's own).

use super::ItemError;
use super::entry::{Entry, EntryKind, Flow, ItemVisitor};
use super::place::{Places, Wanted};
use std::collections::BTreeMap;
use std::io::{self, Read, Write};

/// The items read for an archive, before it is written.
#[derive(Debug, Default)]
pub struct Collected {
    /// Entries of each item, by base name.
    items: BTreeMap<String, Vec<(Entry, Vec<u8>)>>,
    /// Items no place holds, as absolute paths.
    pub missing: Vec<String>,
}

/// What an archive holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ExportSummary {
    /// Items written.
    pub items: usize,
    /// Regular files in them.
    pub files: u64,
    /// Bytes of those files.
    pub bytes: u64,
}

/// Reads each of `wanted` (`store_dir` names them in messages) from the
/// first place that holds it, whole, into memory.
pub fn collect(
    places: &Places,
    wanted: &[Wanted],
    store_dir: &abovo_store::StoreDir,
) -> Result<Collected, ItemError> {
    let mut reader = Reader {
        names: wanted.iter().map(Wanted::base_name).collect(),
        collected: Collected::default(),
    };
    let from = places.visit(wanted, &mut reader)?;
    let mut collected = reader.collected;
    for (w, place) in wanted.iter().zip(from) {
        if place.is_none() {
            collected.missing.push(store_dir.display(&w.path));
        }
    }
    Ok(collected)
}

struct Reader {
    names: Vec<String>,
    collected: Collected,
}

impl ItemVisitor for Reader {
    fn entry(
        &mut self,
        item: usize,
        entry: &Entry,
        data: &mut dyn Read,
    ) -> Result<Flow, ItemError> {
        let mut bytes = Vec::new();
        if entry.kind == EntryKind::Regular {
            data.read_to_end(&mut bytes)
                .map_err(|source| ItemError::Corrupt {
                    place: format!(
                        "{}/{}",
                        self.names[item],
                        String::from_utf8_lossy(&entry.path)
                    ),
                    source,
                })?;
        }
        self.collected
            .items
            .entry(self.names[item].clone())
            .or_default()
            .push((entry.clone(), bytes));
        Ok(Flow::Continue)
    }
}

impl Collected {
    /// Writes the archive, compressed with zstd at `level`, to `out`.
    pub fn write(mut self, level: i32, out: impl Write) -> io::Result<ExportSummary> {
        let mut zstd = zstd::stream::write::Encoder::new(out, level)?;
        let mut summary = ExportSummary::default();
        {
            let mut tar = tar::Builder::new(&mut zstd);
            for (base, entries) in &mut self.items {
                summary.items += 1;
                // Depth first, names in byte order: compare by components.
                entries.sort_by(|a, b| a.0.components().cmp(b.0.components()));
                for (entry, bytes) in entries.iter() {
                    let mut path = base.clone().into_bytes();
                    if !entry.path.is_empty() {
                        path.push(b'/');
                        path.extend_from_slice(&entry.path);
                    }
                    write_entry(&mut tar, &path, entry, bytes)?;
                    if entry.kind == EntryKind::Regular {
                        summary.files += 1;
                        summary.bytes += bytes.len() as u64;
                    }
                }
            }
            tar.finish()?;
        }
        zstd.finish()?.flush()?;
        Ok(summary)
    }
}

fn write_entry<W: Write>(
    tar: &mut tar::Builder<W>,
    path: &[u8],
    entry: &Entry,
    bytes: &[u8],
) -> io::Result<()> {
    let path = std::str::from_utf8(path).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "`{}`: a name that is not UTF-8 cannot be written",
                String::from_utf8_lossy(path)
            ),
        )
    })?;
    let mut h = tar::Header::new_gnu();
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1);
    match entry.kind {
        EntryKind::Regular => {
            h.set_entry_type(tar::EntryType::Regular);
            h.set_mode(if entry.executable { 0o555 } else { 0o444 });
            h.set_size(bytes.len() as u64);
            tar.append_data(&mut h, path, bytes)
        }
        EntryKind::Directory => {
            h.set_entry_type(tar::EntryType::Directory);
            h.set_mode(0o555);
            h.set_size(0);
            tar.append_data(&mut h, path, io::empty())
        }
        EntryKind::Symlink | EntryKind::Hardlink => {
            h.set_entry_type(if entry.kind == EntryKind::Symlink {
                tar::EntryType::Symlink
            } else {
                tar::EntryType::Link
            });
            h.set_mode(0o777);
            h.set_size(0);
            let target = entry.target.as_deref().unwrap_or_default();
            let target = std::str::from_utf8(target).map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("`{path}`: a link target that is not UTF-8 cannot be written"),
                )
            })?;
            tar.append_link(&mut h, path, target)
        }
        EntryKind::Other => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("`{path}` is a special file, which a store item cannot hold"),
        )),
    }
}
