//! The walk behind [`super::scan_reader`] and [`super::scan_path`]: one
//! recursive function over streams, undoing compression and visiting
//! container members, with every decoder wrapped in a [`Guard`].
//!
//! Error policy: an error inside a member is recorded against that member
//! and the walk goes on with the next one (a corrupt `.gz` test file does not
//! hide the rest of a tarball); an error of the container itself (its next
//! header cannot be read) ends that container. A crossed limit ends the
//! whole scan.

use super::layers::{self, ArReader};
use super::limits::{Budget, Counting, Guard, Limits};
use super::magic::{self, Compression, Container, Sniffed};
use super::text;
use super::{ContentReport, Member, Tally};
use crate::kind::Kind;
use std::io::{self, BufReader, Cursor, Read};
use std::path::Path;

/// What a leaf stream turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Leaf {
    Code(String),
    Generated(String),
    Text,
    Data(&'static str),
    Opaque,
}

/// One scan in progress.
pub(super) struct Scan<'l> {
    limits: &'l Limits,
    budget: Budget,
    members: u64,
    /// The layers of the top stream (`xz`, `tar`), or its leaf description.
    format: Vec<String>,
    /// The top stream's leaf, when the top is not a container.
    top_leaf: Option<Leaf>,
    container_seen: bool,
    files: u64,
    bytes: u64,
    binary: Tally,
    generated: Tally,
    source: Tally,
    data: Tally,
    opaque: Tally,
    binary_members: Vec<Member>,
    generated_members: Vec<Member>,
    opaque_members: Vec<Member>,
    issues: Vec<String>,
    complete: bool,
}

/// Escapes control characters and bounds the length of a member name, so
/// that a hostile name cannot move a terminal's cursor or flood a report.
pub(super) fn clean_name(raw: &[u8]) -> String {
    let lossy = String::from_utf8_lossy(raw);
    let mut out = String::with_capacity(lossy.len());
    for c in lossy.chars() {
        if out.len() > 1024 {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

fn join(parent: &str, member: &str) -> String {
    if parent.is_empty() {
        member.to_owned()
    } else {
        format!("{parent}!/{member}")
    }
}

fn base_name(path: &str) -> &str {
    path.rsplit(['/', '!']).next().unwrap_or(path)
}

use layers::fill;

impl<'l> Scan<'l> {
    pub(super) fn new(limits: &'l Limits) -> Scan<'l> {
        Scan {
            limits,
            budget: Budget::default(),
            members: 0,
            format: Vec::new(),
            top_leaf: None,
            container_seen: false,
            files: 0,
            bytes: 0,
            binary: Tally::default(),
            generated: Tally::default(),
            source: Tally::default(),
            data: Tally::default(),
            opaque: Tally::default(),
            binary_members: Vec::new(),
            generated_members: Vec::new(),
            opaque_members: Vec::new(),
            issues: Vec::new(),
            complete: true,
        }
    }

    /// Scans the top stream of a file.
    pub(super) fn top(&mut self, r: &mut dyn Read, name: &str) {
        if let Err(e) = self.stream(r, "", name, 0, true) {
            self.issue("", &e);
        }
    }

    /// Scans a directory tree in name order, without following symbolic
    /// links. Errors listing the top directory are returned; errors below
    /// it are recorded.
    pub(super) fn directory(&mut self, root: &Path) -> io::Result<()> {
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
            if !self.count_member(&rel) {
                break;
            }
            let result = std::fs::File::open(entry.path()).and_then(|f| {
                let mut r = BufReader::with_capacity(1 << 16, f);
                let name = base_name(&rel).to_owned();
                self.stream(&mut r, &rel, &name, 0, false)
            });
            if let Err(e) = result {
                self.issue(&rel, &e);
            }
        }
        Ok(())
    }

    /// Records a symbolic link given as the whole seed.
    pub(super) fn note_symlink(&mut self, target: &Path) {
        self.format.push(format!(
            "symbolic link to {}",
            clean_name(target.as_os_str().as_encoded_bytes())
        ));
        self.top_leaf = Some(Leaf::Text);
    }

    fn issue(&mut self, place: &str, e: &io::Error) {
        self.complete = false;
        let place = if place.is_empty() {
            "the stream"
        } else {
            place
        };
        // A crossed limit is reported once, by `finish`.
        if self.budget.stopped().is_none() {
            self.issues.push(format!("{place}: {e}"));
        }
    }

    /// Counts one member against the limit; false when the scan must stop.
    fn count_member(&mut self, path: &str) -> bool {
        self.members += 1;
        if self.members > self.limits.max_members {
            let _ = self.budget.stop(format!(
                "stopped at {path}: more than {} members (member count guard)",
                self.limits.max_members
            ));
            self.complete = false;
            return false;
        }
        true
    }

    fn stream(
        &mut self,
        r: &mut dyn Read,
        path: &str,
        name: &str,
        depth: u32,
        top: bool,
    ) -> io::Result<()> {
        let mut head = Vec::with_capacity(magic::HEAD_LEN);
        fill(r, &mut head, magic::HEAD_LEN)?;
        let sniffed = magic::sniff(&head, name);
        let nests = matches!(sniffed, Sniffed::Compressed(_) | Sniffed::Container(_));
        if nests && depth >= self.limits.max_depth {
            let what = format!(
                "nested deeper than {} layers: not inspected",
                self.limits.max_depth
            );
            let size = head.len() as u64 + io::copy(r, &mut io::sink())?;
            self.complete = false;
            self.issues.push(format!(
                "{}: {what}",
                if path.is_empty() { name } else { path }
            ));
            self.leaf(path, Leaf::Opaque, size, top);
            return Ok(());
        }
        match sniffed {
            Sniffed::Compressed(c) => {
                if top {
                    self.format.push(c.name().to_owned());
                }
                let rest = Cursor::new(head).chain(r);
                let (counting, consumed) = Counting::new(rest);
                let place = if path.is_empty() {
                    name.to_owned()
                } else {
                    path.to_owned()
                };
                let decoder = self.decoder(c, counting)?;
                let mut guarded = Guard::new(decoder, consumed, &self.budget, self.limits, place);
                let inner = layers::inner_name(name, c);
                self.stream(&mut guarded, path, &inner, depth + 1, top)
            }
            Sniffed::Container(c) => {
                if top {
                    let label =
                        if c == Container::Zip && name.to_ascii_lowercase().ends_with(".jar") {
                            "jar".to_owned()
                        } else {
                            c.name().to_owned()
                        };
                    self.format.push(label);
                    self.container_seen = true;
                }
                let rest = Cursor::new(head).chain(r);
                match c {
                    Container::Tar => self.tar(rest, path, depth),
                    Container::Zip => self.zip(rest, path, depth),
                    Container::Ar => self.ar(rest, path, depth),
                }
            }
            Sniffed::Code(desc) => {
                let size = head.len() as u64 + io::copy(r, &mut io::sink())?;
                self.leaf(path, Leaf::Code(desc), size, top);
                Ok(())
            }
            Sniffed::Data(desc) => {
                let size = head.len() as u64 + io::copy(r, &mut io::sink())?;
                self.leaf(path, Leaf::Data(desc), size, top);
                Ok(())
            }
            Sniffed::Unrecognised => {
                fill(r, &mut head, text::WINDOW)?;
                let leaf = if text::is_text(&head) {
                    match text::generated(&head, name) {
                        Some(why) => Leaf::Generated(why),
                        None => Leaf::Text,
                    }
                } else {
                    Leaf::Opaque
                };
                let size = head.len() as u64 + io::copy(r, &mut io::sink())?;
                self.leaf(path, leaf, size, top);
                Ok(())
            }
        }
    }

    fn decoder<'r, R: Read + 'r>(
        &self,
        c: Compression,
        input: R,
    ) -> io::Result<Box<dyn Read + 'r>> {
        layers::decoder(c, input, self.limits.max_decoder_memory)
    }

    fn leaf(&mut self, path: &str, leaf: Leaf, size: u64, top: bool) {
        self.files += 1;
        self.bytes += size;
        let max = self.limits.max_listed;
        let member = |what: &str| Member {
            path: path.to_owned(),
            what: what.to_owned(),
            size,
        };
        match &leaf {
            Leaf::Code(desc) => {
                self.binary.add(size);
                if self.binary_members.len() < max {
                    self.binary_members.push(member(desc));
                }
            }
            Leaf::Generated(why) => {
                self.generated.add(size);
                if self.generated_members.len() < max {
                    self.generated_members.push(member(why));
                }
            }
            Leaf::Text => self.source.add(size),
            Leaf::Data(_) => self.data.add(size),
            Leaf::Opaque => {
                self.opaque.add(size);
                if self.opaque_members.len() < max {
                    self.opaque_members.push(member("unrecognised binary data"));
                }
            }
        }
        if top {
            self.format.push(match &leaf {
                Leaf::Code(d) => d.clone(),
                Leaf::Generated(_) => "text (machine-made)".to_owned(),
                Leaf::Text => "text".to_owned(),
                Leaf::Data(d) => (*d).to_owned(),
                Leaf::Opaque => "unrecognised data".to_owned(),
            });
            self.top_leaf = Some(leaf);
        }
    }

    fn tar<R: Read>(&mut self, r: R, path: &str, depth: u32) -> io::Result<()> {
        let mut archive = tar::Archive::new(r);
        let entries = archive.entries()?;
        for entry in entries {
            if self.budget.stopped().is_some() {
                break;
            }
            let mut entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    // The archive itself is broken: nothing after this
                    // point can be trusted to be read right.
                    self.issue(if path.is_empty() { "tar" } else { path }, &e);
                    break;
                }
            };
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
            if let Err(e) = self.stream(&mut entry, &member_path, &name, depth + 1, false) {
                self.issue(&member_path, &e);
            }
        }
        Ok(())
    }

    fn zip<R: Read>(&mut self, r: R, path: &str, depth: u32) -> io::Result<()> {
        let (mut counting, consumed) = Counting::new(r);
        loop {
            if self.budget.stopped().is_some() {
                break;
            }
            let mut file = match zip::read::read_zipfile_from_stream(&mut counting) {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => {
                    self.issue(
                        if path.is_empty() { "zip" } else { path },
                        &io::Error::other(e),
                    );
                    break;
                }
            };
            if file.is_dir() {
                continue;
            }
            let member = clean_name(file.name_raw());
            let member_path = join(path, &member);
            if !self.count_member(&member_path) {
                break;
            }
            let name = base_name(&member).to_owned();
            let mut guarded = Guard::new(
                &mut file,
                consumed.clone(),
                &self.budget,
                self.limits,
                member_path.clone(),
            );
            if let Err(e) = self.stream(&mut guarded, &member_path, &name, depth + 1, false) {
                self.issue(&member_path, &e);
            }
        }
        Ok(())
    }

    fn ar<R: Read>(&mut self, r: R, path: &str, depth: u32) -> io::Result<()> {
        let place = if path.is_empty() { "ar" } else { path }.to_owned();
        let mut ar = ArReader::new(r);
        loop {
            if self.budget.stopped().is_some() {
                break;
            }
            let member = match ar.next_member() {
                Ok(Some(m)) => m,
                Ok(None) => break,
                Err(e) => {
                    self.issue(&place, &e);
                    break;
                }
            };
            let member_name = clean_name(&member.name);
            let member_path = join(path, &member_name);
            if !self.count_member(&member_path) {
                break;
            }
            let base = base_name(&member_name).to_owned();
            if let Err(e) = self.stream(&mut ar, &member_path, &base, depth + 1, false) {
                self.issue(&member_path, &e);
                break;
            }
        }
        Ok(())
    }

    /// Decides the kind and writes the report.
    pub(super) fn finish(mut self, container_format: &str) -> ContentReport {
        if let Some(reason) = self.budget.stopped() {
            self.complete = false;
            self.issues.push(reason);
        }
        let mut format = self.format.join(", ");
        if !container_format.is_empty() {
            format = container_format.to_owned();
        }
        let (kind, summary) = self.verdict();
        ContentReport {
            kind,
            summary,
            format,
            files: self.files,
            bytes: self.bytes,
            binary: self.binary,
            generated: self.generated,
            source: self.source,
            data: self.data,
            opaque: self.opaque,
            binary_members: self.binary_members,
            generated_members: self.generated_members,
            opaque_members: self.opaque_members,
            complete: self.complete,
            issues: self.issues,
        }
    }

    fn verdict(&self) -> (Kind, String) {
        /// `1982256` → `1,982,256`: summaries are read by people.
        fn thousands(n: u64) -> String {
            let digits = n.to_string();
            let mut out = String::new();
            for (i, c) in digits.chars().enumerate() {
                if i > 0 && (digits.len() - i) % 3 == 0 {
                    out.push(',');
                }
                out.push(c);
            }
            out
        }
        let incomplete = if self.complete {
            ""
        } else {
            " (scan incomplete)"
        };
        if !self.container_seen {
            if let Some(leaf) = &self.top_leaf {
                return match leaf {
                    Leaf::Code(d) => (Kind::Binary, format!("{d}{incomplete}")),
                    _ if !self.complete => (
                        Kind::Unknown,
                        "the scan could not finish and found no executable code".to_owned(),
                    ),
                    Leaf::Generated(why) => (Kind::Generated, why.clone()),
                    Leaf::Text => (Kind::Source, "text".to_owned()),
                    Leaf::Data(d) => (Kind::Source, format!("{d} (data, not executable code)")),
                    Leaf::Opaque => (
                        Kind::Unknown,
                        "unrecognised binary data: not a known executable, archive or data format"
                            .to_owned(),
                    ),
                };
            }
            return (Kind::Unknown, "nothing could be read".to_owned());
        }
        let total = self.bytes.max(1);
        if self.binary.files > 0 {
            let share = self.binary.bytes * 100 / total;
            let counts = format!(
                "{} of {} {} executable code ({} of {} bytes, {share}%){incomplete}",
                thousands(self.binary.files),
                thousands(self.files),
                match (self.files, self.binary.files) {
                    (1, _) => "file is",
                    (_, 1) => "files is",
                    _ => "files are",
                },
                thousands(self.binary.bytes),
                thousands(self.bytes)
            );
            return if self.binary.bytes * 2 >= self.bytes {
                (Kind::Binary, counts)
            } else {
                (Kind::SourceWithBinaries, counts)
            };
        }
        if !self.complete {
            return (
                Kind::Unknown,
                "the scan could not finish and found no executable code".to_owned(),
            );
        }
        if self.files == 0 {
            return (Kind::Source, "empty".to_owned());
        }
        if self.opaque.bytes * 2 > self.bytes {
            return (
                Kind::Unknown,
                format!(
                    "{} of {} bytes are unrecognised binary data",
                    thousands(self.opaque.bytes),
                    thousands(self.bytes)
                ),
            );
        }
        let text = self.generated.bytes + self.source.bytes;
        if self.generated.bytes * 2 > text {
            return (
                Kind::Generated,
                format!(
                    "{} of {} text bytes are machine-made",
                    thousands(self.generated.bytes),
                    thousands(text)
                ),
            );
        }
        (
            Kind::Source,
            format!(
                "no executable code in {} {} ({} generated, {} opaque)",
                thousands(self.files),
                if self.files == 1 { "file" } else { "files" },
                thousands(self.generated.files),
                thousands(self.opaque.files)
            ),
        )
    }
}
