//! The members of an archive file, as [`Entry`] values: tar, zip and `ar`
//! archives, under any number of compression layers, read as one stream.
//!
//! The layers are the content scan's ([`crate::content::magic`] recognises
//! them, [`crate::content::layers`] undoes them, [`crate::content::limits`]
//! bounds the work): abovo has one reader per format. A compressed file
//! that holds no archive (`fix.patch.gz`) reads as an archive of one
//! member, the stream inside, named as the compression's extension says
//! (`fix.patch`).

use super::ItemError;
use super::entry::{Entry, EntryKind, EntryVisitor, Flow, canonical_member_path};
use crate::content::layers::{self, ArReader};
use crate::content::limits::{Budget, Counting, Guard, Limits};
use crate::content::magic::{self, Compression, Container, Sniffed};
use crate::content::text;
use crate::content::zip as zipfile;
use std::cell::Cell;
use std::io::{self, Cursor, Read};

/// How an archive is read, and what is shared by everything read in one
/// go (nested archives included): the limits and the budget of
/// decompressed bytes.
/// Shared by reference: nested readers and the visitors inside them use it
/// at the same time, so its counters are cells.
pub(crate) struct Reading<'l> {
    pub(crate) limits: &'l Limits,
    pub(crate) budget: Budget,
    members: Cell<u64>,
}

impl<'l> Reading<'l> {
    pub(crate) fn new(limits: &'l Limits) -> Reading<'l> {
        Reading {
            limits,
            budget: Budget::default(),
            members: Cell::new(0),
        }
    }

    fn count_member(&self, place: &str) -> Result<(), ItemError> {
        self.members.set(self.members.get() + 1);
        if self.members.get() > self.limits.max_members {
            return Err(ItemError::Limit(format!(
                "stopped at {place}: more than {} members (member count guard)",
                self.limits.max_members
            )));
        }
        Ok(())
    }

    /// An I/O error while reading `place`: a crossed limit says so, any
    /// other error is corrupt or unreadable data.
    pub(crate) fn error(&self, place: &str, e: io::Error) -> ItemError {
        match self.budget.stopped() {
            Some(reason) => ItemError::Limit(reason),
            None => ItemError::Corrupt {
                place: place.to_owned(),
                source: e,
            },
        }
    }
}

/// What a file turned out to be when read as an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Members {
    /// An archive whose members were handed to the visitor (until it
    /// stopped); `format` names its layers (`gzip, tar`).
    Read {
        /// The layers, outermost first.
        format: String,
        /// Whether the visitor stopped the reading.
        stopped: bool,
    },
    /// Neither compressed nor an archive: `what` it is (`text`, `ELF
    /// 32-bit LSB executable, Intel 80386`, `data`).
    NotAnArchive {
        /// What it is.
        what: String,
    },
}

pub(crate) use crate::content::layers::fill;

/// An archive read through: its format, and whether the visitor stopped.
fn read(format: &str, flow: Flow) -> Members {
    Members::Read {
        format: format.to_owned(),
        stopped: flow == Flow::Stop,
    }
}

/// What a stream that is no archive is, from its head: the magic number's
/// description, else `text` or `data`.
pub(crate) fn describe_head(head: &[u8], name: &str) -> String {
    match magic::sniff(head, name) {
        Sniffed::Code(c) => c.what,
        Sniffed::Data(d) => d.to_owned(),
        Sniffed::Compressed(c) => format!("{}-compressed data", c.name()),
        Sniffed::Container(c) => format!("{} archive", c.name()),
        Sniffed::Unrecognised if text::is_text(head) => "text".to_owned(),
        Sniffed::Unrecognised => "data".to_owned(),
    }
}

/// Reads `data` (a file named `name`) as an archive, handing each member
/// to `visitor`; `place` names the file in messages. Nested layers count
/// from `depth`.
pub(crate) fn read_members(
    data: &mut dyn Read,
    name: &str,
    place: &str,
    depth: u32,
    reading: &Reading<'_>,
    visitor: &mut dyn EntryVisitor,
) -> Result<Members, ItemError> {
    let mut head = Vec::with_capacity(magic::HEAD_LEN);
    fill(data, &mut head, magic::HEAD_LEN).map_err(|e| reading.error(place, e))?;
    let layer = match magic::sniff(&head, name) {
        Sniffed::Compressed(c) => Err(c),
        Sniffed::Container(c) => Ok(c),
        Sniffed::Code(_) | Sniffed::Data(_) | Sniffed::Unrecognised => {
            return Ok(Members::NotAnArchive {
                what: describe_head(&head, name),
            });
        }
    };
    if depth >= reading.limits.max_depth {
        return Err(ItemError::Limit(format!(
            "{place}: nested deeper than {} layers",
            reading.limits.max_depth
        )));
    }
    let mut rest = Cursor::new(head).chain(data);
    match layer {
        Err(c) => compressed(c, &mut rest, name, place, depth, reading, visitor),
        Ok(Container::Tar) => tar(&mut rest, place, reading, visitor),
        Ok(Container::Zip) => zip(&mut rest, place, reading, visitor),
        Ok(Container::Ar) => ar(&mut rest, place, reading, visitor),
    }
}

fn compressed(
    c: Compression,
    input: &mut dyn Read,
    name: &str,
    place: &str,
    depth: u32,
    reading: &Reading<'_>,
    visitor: &mut dyn EntryVisitor,
) -> Result<Members, ItemError> {
    let (counting, consumed) = Counting::new(input);
    let decoder = layers::decoder(c, counting, reading.limits.max_decoder_memory)
        .map_err(|e| reading.error(place, e))?;
    let budget = reading.budget.clone();
    let mut guarded = Guard::new(decoder, consumed, &budget, reading.limits, place.to_owned());
    let inner = layers::inner_name(name, c);
    let mut head = Vec::with_capacity(magic::HEAD_LEN);
    fill(&mut guarded, &mut head, magic::HEAD_LEN).map_err(|e| reading.error(place, e))?;
    let nests = matches!(
        magic::sniff(&head, &inner),
        Sniffed::Compressed(_) | Sniffed::Container(_)
    );
    let mut stream = Cursor::new(head).chain(guarded);
    if nests {
        return match read_members(&mut stream, &inner, place, depth + 1, reading, visitor)? {
            Members::Read { format, stopped } => Ok(Members::Read {
                format: format!("{}, {format}", c.name()),
                stopped,
            }),
            other => Ok(other),
        };
    }
    // One member: the stream inside. Its size is known once it is read.
    reading.count_member(place)?;
    let entry = Entry::new(inner.into_bytes(), EntryKind::Regular, None);
    let flow = visitor.entry(&entry, &mut stream)?;
    Ok(read(c.name(), flow))
}

fn tar(
    input: &mut dyn Read,
    place: &str,
    reading: &Reading<'_>,
    visitor: &mut dyn EntryVisitor,
) -> Result<Members, ItemError> {
    let mut archive = tar::Archive::new(input);
    let entries = archive.entries().map_err(|e| reading.error(place, e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| reading.error(place, e))?;
        let Some(e) = tar_entry(&entry) else {
            continue;
        };
        reading.count_member(place)?;
        if visitor.entry(&e, &mut entry)? == Flow::Stop {
            return Ok(read("tar", Flow::Stop));
        }
    }
    Ok(read("tar", Flow::Continue))
}

/// A tar member as an [`Entry`]; `None` for the records that are not
/// members (PAX and GNU extension headers, volume labels).
pub(crate) fn tar_entry<R: Read>(entry: &tar::Entry<'_, R>) -> Option<Entry> {
    use tar::EntryType as T;
    let header = entry.header();
    let kind = match header.entry_type() {
        T::Regular | T::Continuous | T::GNUSparse => EntryKind::Regular,
        T::Directory => EntryKind::Directory,
        T::Symlink => EntryKind::Symlink,
        T::Link => EntryKind::Hardlink,
        T::Char | T::Block | T::Fifo => EntryKind::Other,
        _ => return None,
    };
    let mode = header.mode().ok();
    let size = if kind == EntryKind::Regular {
        entry.size()
    } else {
        0
    };
    let name = |b: Option<&[u8]>| b.map(|n| String::from_utf8_lossy(n).into_owned());
    Some(Entry {
        path: canonical_member_path(&entry.path_bytes()),
        executable: kind == EntryKind::Regular && mode.is_some_and(|m| m & 0o111 != 0),
        kind,
        size: Some(size),
        target: entry.link_name_bytes().map(|t| t.into_owned()),
        mode: mode.map(|m| m & 0o7777),
        uid: header.uid().ok(),
        gid: header.gid().ok(),
        user: name(header.username_bytes()).filter(|n| !n.is_empty()),
        group: name(header.groupname_bytes()).filter(|n| !n.is_empty()),
        mtime: header.mtime().ok().and_then(|t| i64::try_from(t).ok()),
    })
}

/// A zip archive, read as a stream of local headers by the content scan's
/// reader ([`crate::content::zip`]). A local header has no Unix mode, so
/// members are regular files or directories, with the time MS-DOS stored.
fn zip(
    input: &mut dyn Read,
    place: &str,
    reading: &Reading<'_>,
    visitor: &mut dyn EntryVisitor,
) -> Result<Members, ItemError> {
    let (counting, consumed) = Counting::new(input);
    let mut input = io::BufReader::with_capacity(1 << 16, counting);
    let memlimit = reading.limits.max_decoder_memory;
    let err = |e| reading.error(place, e);
    while let Some(header) = zipfile::next_entry(&mut input).map_err(err)? {
        reading.count_member(place)?;
        let kind = if header.is_dir() {
            EntryKind::Directory
        } else {
            EntryKind::Regular
        };
        let size = if kind == EntryKind::Regular {
            header.uncompressed
        } else {
            Some(0)
        };
        let mut entry = Entry::new(canonical_member_path(&header.name), kind, size);
        let (y, mo, d, h, mi, sec) = header.dos_time;
        entry.mtime = Some(
            days_from_civil(i64::from(y), u32::from(mo), u32::from(d)) * 86_400
                + i64::from(h) * 3600
                + i64::from(mi) * 60
                + i64::from(sec),
        );
        if let Some(why) = header.opaque_reason() {
            return Err(err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {why}", String::from_utf8_lossy(&header.name)),
            )));
        }
        let budget = reading.budget.clone();
        let guard = |decoder| {
            Guard::new(
                decoder,
                consumed.clone(),
                &budget,
                reading.limits,
                place.to_owned(),
            )
        };
        let flow = match header.compressed {
            Some(raw_size) => {
                let mut raw = (&mut input).take(raw_size);
                let decoder = zipfile::decoder(&mut raw, header.method, memlimit).map_err(err)?;
                let mut guarded = guard(decoder);
                let flow = visitor.entry(&entry, &mut guarded)?;
                drop(guarded);
                // What the visitor left of the member is skipped.
                io::copy(&mut raw, &mut io::sink()).map_err(err)?;
                flow
            }
            None => {
                let decoder = zipfile::self_delimited(&mut input, &header).map_err(err)?;
                let mut guarded = guard(decoder);
                let flow = visitor.entry(&entry, &mut guarded)?;
                // The descriptor follows the end of the deflate stream.
                io::copy(&mut guarded, &mut io::sink()).map_err(err)?;
                flow
            }
        };
        if flow == Flow::Stop {
            return Ok(read("zip", Flow::Stop));
        }
        zipfile::read_descriptor(&mut input, &header).map_err(err)?;
    }
    Ok(read("zip", Flow::Continue))
}

fn ar(
    input: &mut dyn Read,
    place: &str,
    reading: &Reading<'_>,
    visitor: &mut dyn EntryVisitor,
) -> Result<Members, ItemError> {
    let mut archive = ArReader::new(input);
    while let Some(m) = archive.next_member().map_err(|e| reading.error(place, e))? {
        reading.count_member(place)?;
        let mut entry = Entry::new(
            canonical_member_path(&m.name),
            EntryKind::Regular,
            Some(m.size),
        );
        entry.mode = m.mode.map(|mode| mode & 0o7777);
        entry.executable = m.mode.is_some_and(|mode| mode & 0o111 != 0);
        entry.uid = m.uid;
        entry.gid = m.gid;
        entry.mtime = m.mtime;
        if visitor.entry(&entry, &mut archive)? == Flow::Stop {
            return Ok(read("ar", Flow::Stop));
        }
    }
    Ok(read("ar", Flow::Continue))
}

/// Days from 1970-01-01 to the given proleptic Gregorian date (Howard
/// Hinnant's algorithm): zip times carry a calendar date, not a count.
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The calendar date and time (UTC) of `secs` since the epoch, as `ls`
/// and `tar tv` print it: `2023-11-01 23:17`.
pub fn format_time(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // The inverse of days_from_civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(format_time(0), "1970-01-01 00:00");
        assert_eq!(format_time(1), "1970-01-01 00:00");
        // stage0-posix 1.6.0's members: 2023-11-01 23:17 UTC.
        assert_eq!(format_time(1_698_880_620), "2023-11-01 23:17");
        for days in [0i64, 59, 60, 11_016, 20_000, 2_932_896] {
            let t = format_time(days * 86_400);
            let y: i64 = t[..4].parse().unwrap_or(0);
            let m: u32 = t[5..7].parse().unwrap_or(0);
            let d: u32 = t[8..10].parse().unwrap_or(0);
            assert_eq!(days_from_civil(y, m, d), days, "{t}");
        }
    }
}
