//! The walk behind [`super::scan_reader`] and [`super::scan_path`]: one
//! recursive function over streams ([`Scan::stream`]), undoing compression
//! and visiting container members ([`super::containers`]), with every
//! decoder wrapped in a [`Guard`].
//!
//! Error policy:
//! - a member that cannot be decoded (a corrupt `.gz` test file in a
//!   tarball, a zip member in an unknown method) is itself an **opaque
//!   blob**: its raw bytes are counted and listed as opaque, with the
//!   reason, and the walk goes on with the next member. Its bytes were all
//!   seen, so the scan stays complete, and the listing shows it;
//! - an error of a container itself (its next header cannot be read) ends
//!   that container; for the top stream, or when the bytes around a member
//!   cannot be read either, the scan is **incomplete**: what lies after the
//!   error was not seen;
//! - a crossed limit ends the whole scan (incomplete).
//!
//! Memory does not grow with the input: one stream is read at a time
//! through a reused 64 KiB buffer, keeping its first 64 KiB (the text
//! heuristics' window) and its last 512 bytes (the OCaml trailer); the
//! listed members are capped by [`Limits::max_listed`].

use super::code::{self, Code, CodeKind};
use super::layers;
use super::limits::{Budget, Counting, Guard, Limits};
use super::magic::{self, Compression, Container, Sniffed};
use super::text;
use super::{ContentReport, Member, Tally};
use std::collections::BTreeMap;
use std::io::{self, Cursor, Read};

/// How many bytes of a stream's end are kept: the OCaml trailer and up to
/// 62 section entries before it.
const TAIL_LEN: usize = 512;

/// What a leaf stream turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Leaf {
    Code(Code),
    Generated(String),
    Text,
    Data(&'static str),
    /// Unrecognised or undecodable data, and why.
    Opaque(String),
}

/// The objects of one `ar` archive being read, reported as one static
/// library.
#[derive(Debug, Default)]
pub(super) struct ArGroup {
    pub(super) objects: u64,
    pub(super) bytes: u64,
    pub(super) first: Option<String>,
}

/// A stream's place in the walk.
#[derive(Debug, Clone, Copy)]
pub(super) struct Place {
    /// Layers above it (compression and containers).
    pub(super) depth: u32,
    /// Whether it is the top stream (or what a compression layer of the
    /// top stream holds).
    pub(super) top: bool,
    /// Whether it is a member of an `ar` archive (objects there make a
    /// static library).
    pub(super) in_ar: bool,
}

impl Place {
    pub(super) const TOP: Place = Place {
        depth: 0,
        top: true,
        in_ar: false,
    };

    /// A member of a container at this place.
    pub(super) fn member(self) -> Place {
        Place {
            depth: self.depth + 1,
            top: false,
            in_ar: false,
        }
    }
}

/// One scan in progress.
pub(super) struct Scan<'l> {
    pub(super) limits: &'l Limits,
    pub(super) budget: Budget,
    pub(super) members: u64,
    /// Prefix of every member path (the input as named on the command
    /// line), or empty for paths relative to the input.
    pub(super) root: String,
    /// The layers of the top stream (`xz`, `tar`), or its leaf description.
    pub(super) format: Vec<String>,
    /// The top stream's leaf, when the top is not a container.
    pub(super) top_leaf: Option<Leaf>,
    pub(super) container_seen: bool,
    pub(super) files: u64,
    pub(super) bytes: u64,
    pub(super) binary: Tally,
    pub(super) generated: Tally,
    pub(super) source: Tally,
    pub(super) data: Tally,
    pub(super) opaque: Tally,
    pub(super) code_kinds: BTreeMap<CodeKind, Tally>,
    pub(super) binary_members: Vec<Member>,
    pub(super) generated_members: Vec<Member>,
    pub(super) opaque_members: Vec<Member>,
    pub(super) issues: Vec<String>,
    pub(super) complete: bool,
    pub(super) ar_groups: Vec<ArGroup>,
    buf: Vec<u8>,
    tail: Vec<u8>,
    /// Head buffers ([`text::WINDOW`] bytes, initialised), one per stream
    /// being read: streams nest, so a stream takes one and gives it back.
    heads: Vec<Vec<u8>>,
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

/// A member's path: the container's path, `!/`, the member's name.
pub(super) fn join(parent: &str, member: &str) -> String {
    if parent.is_empty() {
        member.to_owned()
    } else {
        format!("{parent}!/{member}")
    }
}

/// The last component of a member path.
pub(super) fn base_name(path: &str) -> &str {
    path.rsplit(['/', '!']).next().unwrap_or(path)
}

/// Reads into `buf[have..want]` until it is full or the stream ends;
/// returns how many bytes `buf` now holds. `buf` is initialised once and
/// reused (the scan's own buffer), so nothing is zeroed per stream.
pub(super) fn fill(
    r: &mut dyn Read,
    buf: &mut [u8],
    mut have: usize,
    want: usize,
) -> io::Result<usize> {
    let want = want.min(buf.len());
    while have < want {
        match read_some(r, &mut buf[have..want])? {
            0 => break,
            n => have += n,
        }
    }
    Ok(have)
}

/// One `read`, retried when a signal interrupted it.
fn read_some(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match r.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

impl<'l> Scan<'l> {
    pub(super) fn new(limits: &'l Limits, root: &str) -> Scan<'l> {
        Scan {
            limits,
            budget: Budget::default(),
            members: 0,
            root: root.to_owned(),
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
            code_kinds: BTreeMap::new(),
            binary_members: Vec::new(),
            generated_members: Vec::new(),
            opaque_members: Vec::new(),
            issues: Vec::new(),
            complete: true,
            ar_groups: Vec::new(),
            buf: vec![0; 1 << 16],
            tail: Vec::with_capacity(TAIL_LEN),
            heads: Vec::new(),
        }
    }

    /// Scans the top stream of a file.
    pub(super) fn top(&mut self, r: &mut dyn Read, name: &str) {
        let root = self.root.clone();
        if let Err(e) = self.stream(r, &root, name, Place::TOP) {
            self.issue(&root, &e);
        }
    }

    /// Records a symbolic link given as the whole input.
    pub(super) fn note_symlink(&mut self, target: &std::path::Path) {
        self.format.push(format!(
            "symbolic link to {}",
            clean_name(target.as_os_str().as_encoded_bytes())
        ));
        self.top_leaf = Some(Leaf::Text);
    }

    /// Records an error that leaves part of the input unseen.
    pub(super) fn issue(&mut self, place: &str, e: &io::Error) {
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
    pub(super) fn count_member(&mut self, path: &str) -> bool {
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

    /// Scans a member of a container. A member that cannot be decoded is
    /// counted as an opaque blob of its raw bytes (see the module docs);
    /// the error is returned only when the member's raw bytes cannot be
    /// read either (the container is broken) or a limit was crossed.
    pub(super) fn member(
        &mut self,
        r: &mut dyn Read,
        path: &str,
        name: &str,
        place: Place,
    ) -> io::Result<()> {
        let (mut counted, consumed) = Counting::new(r);
        let Err(e) = self.stream(&mut counted, path, name, place) else {
            return Ok(());
        };
        if self.budget.stopped().is_some() {
            return Err(e);
        }
        io::copy(&mut counted, &mut io::sink())?;
        self.issues
            .push(format!("{path}: {e} (counted as opaque data)"));
        self.leaf(
            path,
            name,
            Leaf::Opaque(format!("undecodable data: {e}")),
            consumed.get(),
            place,
        );
        Ok(())
    }

    /// Reads what is left of a stream whose first bytes are `head`,
    /// keeping its last [`TAIL_LEN`] bytes in `self.tail`; returns its size.
    fn rest(&mut self, head: &[u8], r: &mut dyn Read) -> io::Result<u64> {
        self.tail.clear();
        keep_tail(&mut self.tail, head);
        let mut size = head.len() as u64;
        loop {
            let n = read_some(r, &mut self.buf)?;
            if n == 0 {
                break;
            }
            size += n as u64;
            keep_tail(&mut self.tail, &self.buf[..n]);
        }
        Ok(size)
    }

    /// Scans one stream: its path in reports, its file name (for
    /// recognition and to name what a compression layer holds) and place.
    pub(super) fn stream(
        &mut self,
        r: &mut dyn Read,
        path: &str,
        name: &str,
        place: Place,
    ) -> io::Result<()> {
        let mut head = self.heads.pop().unwrap_or_else(|| vec![0; text::WINDOW]);
        let result = self.stream_with(&mut head, r, path, name, place);
        self.heads.push(head);
        result
    }

    /// [`Scan::stream`] with `head`, a buffer for the stream's first bytes.
    fn stream_with(
        &mut self,
        head: &mut [u8],
        r: &mut dyn Read,
        path: &str,
        name: &str,
        place: Place,
    ) -> io::Result<()> {
        let mut have = fill(r, head, 0, magic::HEAD_LEN)?;
        let sniffed = magic::sniff(&head[..have], name);
        let nests = matches!(sniffed, Sniffed::Compressed(_) | Sniffed::Container(_));
        if nests && place.depth >= self.limits.max_depth {
            let what = format!(
                "nested deeper than {} layers: not inspected",
                self.limits.max_depth
            );
            let size = self.rest(&head[..have], r)?;
            self.complete = false;
            self.issues.push(format!(
                "{}: {what}",
                if path.is_empty() { name } else { path }
            ));
            self.leaf(path, name, Leaf::Opaque(what), size, place);
            return Ok(());
        }
        match sniffed {
            Sniffed::Compressed(c) => {
                if place.top {
                    self.format.push(c.name().to_owned());
                }
                let rest = Cursor::new(&head[..have]).chain(r);
                let (counting, consumed) = Counting::new(rest);
                let at = if path.is_empty() { name } else { path };
                let decoder = self.decoder(c, counting)?;
                let mut guarded =
                    Guard::new(decoder, consumed, &self.budget, self.limits, at.to_owned());
                let inner = Place {
                    depth: place.depth + 1,
                    top: place.top,
                    in_ar: false,
                };
                self.stream(&mut guarded, path, &layers::inner_name(name, c), inner)
            }
            Sniffed::Container(c) => {
                if place.top {
                    let jar = c == Container::Zip && name.to_ascii_lowercase().ends_with(".jar");
                    self.format
                        .push(if jar { "jar" } else { c.name() }.to_owned());
                    self.container_seen = true;
                }
                let mut rest = Cursor::new(&head[..have]).chain(r);
                match c {
                    Container::Tar => self.tar(&mut rest, path, place),
                    Container::Zip => self.zip(&mut rest, path, place),
                    Container::Ar => self.ar(&mut rest, path, name, place),
                }
            }
            Sniffed::Code(code) => {
                let size = self.rest(&head[..have], r)?;
                self.leaf(path, name, Leaf::Code(code), size, place);
                Ok(())
            }
            Sniffed::Data(desc) => {
                let size = self.rest(&head[..have], r)?;
                self.leaf(path, name, Leaf::Data(desc), size, place);
                Ok(())
            }
            Sniffed::Unrecognised => {
                have = fill(r, head, have, text::WINDOW)?;
                let window = &head[..have];
                let mut leaf = if text::is_text(window) {
                    match text::generated(window, name) {
                        Some(why) => Leaf::Generated(why),
                        None => Leaf::Text,
                    }
                } else {
                    Leaf::Opaque("unrecognised binary data".to_owned())
                };
                let size = self.rest(window, r)?;
                // OCaml bytecode executables are known by their end.
                if let Some(version) = code::ocaml_trailer(&self.tail, size) {
                    leaf = Leaf::Code(Code::new(
                        CodeKind::OcamlExecutable,
                        format!("OCaml bytecode executable (Caml1999X{version:03})"),
                    ));
                } else if matches!(leaf, Leaf::Opaque(_))
                    && size == 512
                    && window[510..] == [0x55, 0xaa]
                {
                    // Exactly one sector of non-text ending with the boot
                    // signature: what a PC's firmware loads and runs.
                    leaf = Leaf::Code(Code::new(
                        CodeKind::BootSector,
                        "x86 boot sector (512 bytes, boot signature 55 AA)",
                    ));
                }
                self.leaf(path, name, leaf, size, place);
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

    /// Counts a leaf; `path` is empty for the top stream of a scan with
    /// no root, which is then named by `name`.
    pub(super) fn leaf(&mut self, path: &str, name: &str, leaf: Leaf, size: u64, place: Place) {
        self.files += 1;
        self.bytes += size;
        let max = self.limits.max_listed;
        let shown = if path.is_empty() { name } else { path };
        let member = |what: &str, kind: Option<CodeKind>| Member {
            path: shown.to_owned(),
            what: what.to_owned(),
            size,
            kind,
        };
        match &leaf {
            Leaf::Code(code) => {
                self.binary.add(size);
                let grouped = place.in_ar && code.kind.is_object();
                match self.ar_groups.last_mut() {
                    Some(group) if grouped => {
                        group.objects += 1;
                        group.bytes += size;
                        group.first.get_or_insert_with(|| code.what.clone());
                    }
                    _ => {
                        self.code_kinds.entry(code.kind).or_default().add(size);
                        if self.binary_members.len() < max {
                            self.binary_members
                                .push(member(&code.what, Some(code.kind)));
                        }
                    }
                }
            }
            Leaf::Generated(why) => {
                self.generated.add(size);
                if self.generated_members.len() < max {
                    self.generated_members.push(member(why, None));
                }
            }
            Leaf::Text => self.source.add(size),
            Leaf::Data(_) => self.data.add(size),
            Leaf::Opaque(why) => {
                self.opaque.add(size);
                if self.opaque_members.len() < max {
                    self.opaque_members.push(member(why, None));
                }
            }
        }
        if place.top {
            self.format.push(match &leaf {
                Leaf::Code(c) => c.what.clone(),
                Leaf::Generated(_) => "text (machine-made)".to_owned(),
                Leaf::Text => "text".to_owned(),
                Leaf::Data(d) => (*d).to_owned(),
                Leaf::Opaque(_) => "unrecognised data".to_owned(),
            });
            self.top_leaf = Some(leaf);
        }
    }

    /// Ends an `ar` archive's group: its objects become one static library
    /// named by the archive's path.
    pub(super) fn close_ar(&mut self, path: &str, name: &str) {
        let Some(group) = self.ar_groups.pop() else {
            return;
        };
        if group.objects == 0 {
            return;
        }
        let shown = if path.is_empty() { name } else { path };
        self.code_kinds
            .entry(CodeKind::StaticLibrary)
            .or_default()
            .add(group.bytes);
        if self.binary_members.len() < self.limits.max_listed {
            let what = format!(
                "static library (ar) of {} {}: {}",
                group.objects,
                if group.objects == 1 {
                    "object"
                } else {
                    "objects"
                },
                group.first.unwrap_or_default()
            );
            self.binary_members.push(Member {
                path: shown.to_owned(),
                what,
                size: group.bytes,
                kind: Some(CodeKind::StaticLibrary),
            });
        }
    }

    /// Turns the scan into its report (see [`super::verdict`]).
    pub(super) fn finish(self, container_format: &str) -> ContentReport {
        super::verdict::finish(self, container_format)
    }
}

/// Appends `data` to `tail`, keeping only the last [`TAIL_LEN`] bytes.
fn keep_tail(tail: &mut Vec<u8>, data: &[u8]) {
    if data.len() >= TAIL_LEN {
        tail.clear();
        tail.extend_from_slice(&data[data.len() - TAIL_LEN..]);
        return;
    }
    let excess = (tail.len() + data.len()).saturating_sub(TAIL_LEN);
    tail.drain(..excess);
    tail.extend_from_slice(data);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_bytes() {
        let mut tail = Vec::new();
        let data: Vec<u8> = (0..2000u32).map(|i| i as u8).collect();
        for chunk in data.chunks(37) {
            keep_tail(&mut tail, chunk);
        }
        assert_eq!(tail, data[data.len() - TAIL_LEN..]);
        let mut short = Vec::new();
        keep_tail(&mut short, b"abc");
        keep_tail(&mut short, b"def");
        assert_eq!(short, b"abcdef");
    }

    #[test]
    fn inner_names_drop_the_compression_suffix() {
        assert_eq!(layers::inner_name("a.tar.gz", Compression::Gzip), "a.tar");
        assert_eq!(layers::inner_name("a.tgz", Compression::Gzip), "a.tar");
        assert_eq!(
            layers::inner_name("x.class.zst", Compression::Zstd),
            "x.class"
        );
        assert_eq!(layers::inner_name("blob", Compression::Xz), "blob");
    }
}
