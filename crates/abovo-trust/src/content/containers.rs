//! Walking containers: tar, zip (and jar), `ar` and directory trees. Each
//! member is handed to [`Scan::member`], which classifies it, nested
//! containers included.
//!
//! A container returns an error when it cannot go on (its next header is
//! broken, its data ends early); what it had seen stays counted.

use super::limits::{Counting, Guard};
use super::scan::{ArGroup, Place, Scan, base_name, clean_name, join};
use super::zip;
use std::cell::Cell;
use std::io::{self, BufReader, Read};
use std::path::Path;
use std::rc::Rc;

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

impl<'l> Scan<'l> {
    pub(super) fn tar(&mut self, r: &mut dyn Read, path: &str, place: Place) -> io::Result<()> {
        let mut archive = tar::Archive::new(r);
        for entry in archive.entries()? {
            if self.budget.stopped().is_some() {
                break;
            }
            let mut entry = entry?;
            use tar::EntryType as T;
            if !matches!(
                entry.header().entry_type(),
                T::Regular | T::Continuous | T::GNUSparse
            ) {
                continue;
            }
            let member = clean_name(&entry.path_bytes());
            let member_path = join(path, &member);
            if !self.count_member(&member_path) {
                break;
            }
            let name = base_name(&member).to_owned();
            self.member(&mut entry, &member_path, &name, place.member())?;
        }
        Ok(())
    }

    pub(super) fn zip(&mut self, r: &mut dyn Read, path: &str, place: Place) -> io::Result<()> {
        let (counting, consumed) = Counting::new(r);
        let mut input = BufReader::with_capacity(1 << 16, counting);
        let memlimit = self.limits.max_decoder_memory;
        loop {
            if self.budget.stopped().is_some() {
                break;
            }
            let Some(entry) = zip::next_entry(&mut input)? else {
                break;
            };
            let member = clean_name(&entry.name);
            let member_path = join(path, &member);
            let name = base_name(&member).to_owned();
            let counts = !entry.is_dir();
            if counts && !self.count_member(&member_path) {
                break;
            }
            if let Some(why) = entry.opaque_reason() {
                // Its bytes can be skipped, not read.
                let Some(size) = entry.compressed else {
                    return Err(invalid(format!(
                        "{member_path}: {why} with no size before its data: the rest of the archive cannot be found"
                    )));
                };
                skip(&mut input, size)?;
                zip::read_descriptor(&mut input, &entry)?;
                if counts {
                    self.issues
                        .push(format!("{member_path}: {why} (counted as opaque data)"));
                    self.leaf(
                        &member_path,
                        &name,
                        super::scan::Leaf::Opaque(why),
                        size,
                        place.member(),
                    );
                }
                continue;
            }
            match entry.compressed {
                Some(size) => {
                    let mut raw = (&mut input).take(size);
                    let result = match zip::decoder(&mut raw, entry.method, memlimit) {
                        Ok(decoder) => {
                            let mut guarded = self.guard(decoder, &consumed, &member_path);
                            if counts {
                                self.member(&mut guarded, &member_path, &name, place.member())
                            } else {
                                io::copy(&mut guarded, &mut io::sink()).map(drop)
                            }
                        }
                        Err(e) => Err(e),
                    };
                    if let Err(e) = result {
                        if self.budget.stopped().is_some() {
                            return Err(e);
                        }
                        // The member's own compressed data is broken; its
                        // raw bytes are known, so the archive goes on.
                        self.issues
                            .push(format!("{member_path}: {e} (counted as opaque data)"));
                        self.leaf(
                            &member_path,
                            &name,
                            super::scan::Leaf::Opaque(format!("undecodable zip member: {e}")),
                            size,
                            place.member(),
                        );
                    }
                    let left = raw.limit();
                    skip(&mut input, left)?;
                }
                None => {
                    let decoder = zip::self_delimited(&mut input, &entry)?;
                    let mut guarded = self.guard(decoder, &consumed, &member_path);
                    // A broken member with no size cannot be skipped:
                    // its error ends the archive.
                    if counts {
                        self.member(&mut guarded, &member_path, &name, place.member())?;
                    } else {
                        io::copy(&mut guarded, &mut io::sink())?;
                    }
                }
            }
            zip::read_descriptor(&mut input, &entry)?;
        }
        Ok(())
    }

    /// Guards a zip member's decoder against the scan's limits; `consumed`
    /// counts the archive's raw bytes.
    fn guard<'r>(
        &self,
        decoder: Box<dyn Read + 'r>,
        consumed: &Rc<Cell<u64>>,
        place: &str,
    ) -> Guard<'l, Box<dyn Read + 'r>> {
        Guard::new(
            decoder,
            Rc::clone(consumed),
            &self.budget,
            self.limits,
            place.to_owned(),
        )
    }

    /// An `ar` archive: static libraries and `.deb` packages. Objects
    /// directly in it are reported as one static library.
    pub(super) fn ar(
        &mut self,
        r: &mut dyn Read,
        path: &str,
        name: &str,
        place: Place,
    ) -> io::Result<()> {
        self.ar_groups.push(ArGroup::default());
        let result = self.ar_members(r, path, place);
        self.close_ar(path, name);
        result
    }

    fn ar_members(&mut self, r: &mut dyn Read, path: &str, place: Place) -> io::Result<()> {
        let mut magic = [0u8; 8];
        r.read_exact(&mut magic)?;
        if &magic == b"!<thin>\n" {
            self.complete = false;
            self.issues.push(format!(
                "{}: thin ar archive: its members live in other files, not inspected",
                if path.is_empty() { "ar" } else { path }
            ));
            return Ok(());
        }
        let mut long_names: Vec<u8> = Vec::new();
        loop {
            if self.budget.stopped().is_some() {
                break;
            }
            let mut header = [0u8; 60];
            let got = super::scan::fill(r, &mut header, 0, 60)?;
            if got == 0 {
                break;
            }
            if got < 60 || &header[58..60] != b"`\n" {
                return Err(invalid("corrupt ar member header"));
            }
            let size_field = String::from_utf8_lossy(&header[48..58]);
            let Ok(size) = size_field.trim().parse::<u64>() else {
                return Err(invalid(format!(
                    "ar member size {:?} is not a number",
                    size_field.trim()
                )));
            };
            let raw_name = String::from_utf8_lossy(&header[..16]).trim_end().to_owned();
            let mut body = (&mut *r).take(size);
            let mut name = raw_name.trim_end_matches('/').to_owned();
            if raw_name == "/"
                || raw_name == "/SYM64/"
                || raw_name == "__.SYMDEF"
                || raw_name == "__.SYMDEF SORTED"
            {
                name.clear();
            } else if raw_name == "//" {
                long_names.clear();
                (&mut body).take(1 << 20).read_to_end(&mut long_names)?;
                name.clear();
            } else if let Some(offset) = raw_name
                .strip_prefix('/')
                .and_then(|o| o.parse::<usize>().ok())
            {
                let tail = long_names.get(offset..).unwrap_or_default();
                let end = tail.iter().position(|b| *b == b'\n').unwrap_or(tail.len());
                name = String::from_utf8_lossy(&tail[..end])
                    .trim_end_matches('/')
                    .to_owned();
            } else if let Some(len) = raw_name
                .strip_prefix("#1/")
                .and_then(|l| l.parse::<u64>().ok())
            {
                // BSD: the name is the first `len` bytes of the data.
                let mut n = Vec::new();
                (&mut body).take(len.min(4096)).read_to_end(&mut n)?;
                name = String::from_utf8_lossy(&n)
                    .trim_end_matches('\0')
                    .to_owned();
            }
            if !name.is_empty() {
                let member = clean_name(name.as_bytes());
                let member_path = join(path, &member);
                if !self.count_member(&member_path) {
                    break;
                }
                let base = base_name(&member).to_owned();
                let member_place = Place {
                    in_ar: true,
                    ..place.member()
                };
                self.member(&mut body, &member_path, &base, member_place)?;
            }
            let left = body.limit();
            if io::copy(&mut body, &mut io::sink())? < left {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "ar member data cut short",
                ));
            }
            if size % 2 == 1 {
                let mut pad = [0u8; 1];
                let _ = r.read(&mut pad)?;
            }
        }
        Ok(())
    }

    /// Scans a directory tree in name order, without following symbolic
    /// links. Errors listing the top directory are returned; errors below
    /// it are recorded. `progress` is told the bytes read from each file.
    pub(super) fn directory(
        &mut self,
        root: &Path,
        progress: Option<&dyn Fn(u64)>,
    ) -> io::Result<()> {
        std::fs::read_dir(root)?;
        self.container_seen = true;
        let walk = walkdir::WalkDir::new(root)
            .follow_links(false)
            .sort_by_file_name()
            .min_depth(1);
        for entry in walk {
            if self.budget.stopped().is_some() {
                break;
            }
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    self.complete = false;
                    self.issues
                        .push(format!("cannot list part of the tree: {e}"));
                    continue;
                }
            };
            if !entry.file_type().is_file() {
                continue;
            }
            let rel = entry.path().strip_prefix(root).unwrap_or(entry.path());
            let rel = clean_name(rel.as_os_str().as_encoded_bytes());
            let shown = if self.root.is_empty() {
                rel.clone()
            } else {
                format!("{}/{rel}", self.root.trim_end_matches('/'))
            };
            if !self.count_member(&shown) {
                break;
            }
            let result = std::fs::File::open(entry.path()).and_then(|f| {
                let mut r = BufReader::with_capacity(1 << 16, super::Progress::new(f, progress));
                let name = base_name(&rel).to_owned();
                self.member(&mut r, &shown, &name, Place::TOP.member())
            });
            if let Err(e) = result {
                self.issue(&shown, &e);
            }
        }
        Ok(())
    }
}

/// Skips `n` bytes of `r`; fewer is an error (the data ends early).
fn skip(r: &mut dyn Read, n: u64) -> io::Result<()> {
    if n > 0 && io::copy(&mut r.take(n), &mut io::sink())? < n {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "member data cut short",
        ));
    }
    Ok(())
}
