//! Opening one layer of a stream: reading its head ([`fill`]), undoing a
//! compression ([`decoder`]), naming the stream inside ([`inner_name`]),
//! and reading the members of a Unix `ar` archive ([`ArReader`]).
//!
//! The content scan and the readers of store items (`abovo ls`, `abovo
//! cat`) share these, so that abovo has one compression stack: every
//! decoder is bounded in memory (`max_decoder_memory`: xz, lzma and lzip
//! dictionaries, zstd windows), whatever reads through it.

use super::magic::Compression;
use std::io::{self, BufReader, Read};

/// A reader that undoes compression `c` on `input`, with its memory bounded
/// by `max_decoder_memory` bytes (a hostile header may ask for gigabytes).
/// Multi-member gzip, bzip2 and xz streams are read to their end.
pub fn decoder<'r, R: Read + 'r>(
    c: Compression,
    input: R,
    max_decoder_memory: u64,
) -> io::Result<Box<dyn Read + 'r>> {
    let memlimit = max_decoder_memory;
    // The decoders read big blocks: fewer calls through the layers below.
    Ok(match c {
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(
            BufReader::with_capacity(1 << 16, input),
        )),
        Compression::Bzip2 => Box::new(bzip2::bufread::MultiBzDecoder::new(
            BufReader::with_capacity(1 << 16, input),
        )),
        Compression::Xz => {
            let stream =
                xz2::stream::Stream::new_stream_decoder(memlimit, xz2::stream::CONCATENATED)
                    .map_err(io::Error::other)?;
            Box::new(xz2::bufread::XzDecoder::new_stream(
                BufReader::with_capacity(1 << 16, input),
                stream,
            ))
        }
        Compression::LzmaAlone => {
            let stream =
                xz2::stream::Stream::new_lzma_decoder(memlimit).map_err(io::Error::other)?;
            Box::new(xz2::bufread::XzDecoder::new_stream(
                BufReader::with_capacity(1 << 16, input),
                stream,
            ))
        }
        Compression::Zstd => {
            let mut d = zstd::stream::read::Decoder::new(input)?;
            // A frame declares its window; refuse windows above the
            // memory limit instead of allocating them.
            let log = 63 - memlimit.max(1 << 10).leading_zeros();
            d.window_log_max(log.clamp(10, 31))?;
            Box::new(d)
        }
        Compression::Lzip => Box::new(super::lzip::LzipReader::new(
            BufReader::with_capacity(1 << 16, input),
            memlimit,
        )),
    })
}

/// Reads until `buf` holds `want` bytes or the stream ends (a head to
/// sniff: [`super::magic::sniff`] wants [`super::magic::HEAD_LEN`]).
pub fn fill(r: &mut dyn Read, buf: &mut Vec<u8>, want: usize) -> io::Result<()> {
    let mut chunk = [0u8; 8192];
    while buf.len() < want {
        let n = match r.read(&mut chunk[..(want - buf.len()).min(8192)]) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(())
}

/// The name of the stream inside a compressed file (`a.tar.gz` → `a.tar`,
/// `x.tgz` → `x.tar`, `notes.txt.xz` → `notes.txt`); the name itself when
/// it does not end in an extension of `c`.
pub fn inner_name(name: &str, c: Compression) -> String {
    let lower = name.to_ascii_lowercase();
    let pairs: &[(&str, &str)] = match c {
        Compression::Gzip => &[(".tgz", ".tar"), (".gz", ""), (".z", "")],
        Compression::Xz => &[(".txz", ".tar"), (".xz", "")],
        Compression::Bzip2 => &[(".tbz2", ".tar"), (".tbz", ".tar"), (".bz2", "")],
        Compression::Zstd => &[(".tzst", ".tar"), (".zst", "")],
        Compression::Lzip => &[(".tlz", ".tar"), (".lz", "")],
        Compression::LzmaAlone => &[(".lzma", "")],
    };
    for (ext, repl) in pairs {
        if lower.ends_with(ext) && lower.len() > ext.len() {
            return format!("{}{}", &name[..name.len() - ext.len()], repl);
        }
    }
    name.to_owned()
}

/// One member of an `ar` archive: its header fields. Its bytes are read
/// from the [`ArReader`] until the next call to [`ArReader::next_member`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArMember {
    /// The member name (GNU long names and BSD `#1/LEN` names resolved;
    /// raw bytes, as the archive has them).
    pub name: Vec<u8>,
    /// Size of its data in bytes.
    pub size: u64,
    /// Modification time (seconds since the epoch), when the field parses.
    pub mtime: Option<i64>,
    /// Owner, when the field parses.
    pub uid: Option<u64>,
    /// Group, when the field parses.
    pub gid: Option<u64>,
    /// File mode (octal in the header), when the field parses.
    pub mode: Option<u32>,
}

/// Reads the members of a Unix `ar` archive (static libraries, `.deb`
/// packages) from a stream, in order: [`ArReader::next_member`] gives each
/// member's header, then the reader itself yields that member's bytes.
/// Symbol tables (`/`, `/SYM64/`, `__.SYMDEF`) are skipped, and the GNU
/// long-name table (`//`) is read (at most 1 MiB) to name the members after
/// it. A thin archive (`!<thin>`), whose members live in other files, is an
/// error.
pub struct ArReader<R> {
    inner: R,
    /// Bytes of the current member not yet read.
    left: u64,
    /// Whether one padding byte follows them (members start at even
    /// offsets).
    pad: bool,
    /// The GNU long-name table (`//`), once read.
    long_names: Vec<u8>,
    /// Whether the magic has been read.
    started: bool,
    /// Whether the end of the archive has been reached.
    done: bool,
}

fn corrupt(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// A numeric header field: decimal, or octal for the mode; `None` when it
/// does not parse or does not fit `T`.
fn field<T: TryFrom<u64>>(bytes: &[u8], radix_octal: bool) -> Option<T> {
    let text = std::str::from_utf8(bytes).ok()?.trim();
    let n = if radix_octal {
        u64::from_str_radix(text, 8).ok()?
    } else {
        text.parse::<u64>().ok()?
    };
    T::try_from(n).ok()
}

impl<R: Read> ArReader<R> {
    /// An archive read from `inner`, which starts with the `!<arch>\n` magic.
    pub fn new(inner: R) -> ArReader<R> {
        ArReader {
            inner,
            left: 0,
            pad: false,
            long_names: Vec::new(),
            started: false,
            done: false,
        }
    }

    /// Skips what is left of the current member (and its padding byte).
    fn skip_rest(&mut self) -> io::Result<()> {
        let left = self.left;
        let copied = io::copy(&mut (&mut self.inner).take(left), &mut io::sink())?;
        if copied < left {
            return Err(corrupt("the ar archive ends inside a member"));
        }
        self.left = 0;
        if std::mem::take(&mut self.pad) {
            let mut b = [0u8; 1];
            // The last member's padding byte may be missing.
            let _ = self.inner.read(&mut b)?;
        }
        Ok(())
    }

    /// The next member's header, `None` at the end of the archive. What the
    /// caller did not read of the previous member is skipped.
    pub fn next_member(&mut self) -> io::Result<Option<ArMember>> {
        if !self.started {
            self.started = true;
            let mut magic = [0u8; 8];
            self.inner.read_exact(&mut magic)?;
            if &magic == b"!<thin>\n" {
                return Err(corrupt(
                    "thin ar archive: its members live in other files, not inspected",
                ));
            }
            if &magic != b"!<arch>\n" {
                return Err(corrupt("not an ar archive (no `!<arch>` magic)"));
            }
        }
        loop {
            if self.done {
                return Ok(None);
            }
            self.skip_rest()?;
            let mut header = [0u8; 60];
            let mut got = 0;
            while got < 60 {
                let n = self.inner.read(&mut header[got..])?;
                if n == 0 {
                    break;
                }
                got += n;
            }
            if got == 0 {
                self.done = true;
                return Ok(None);
            }
            if got < 60 || &header[58..60] != b"`\n" {
                return Err(corrupt("corrupt ar member header"));
            }
            let Some(size) = field::<u64>(&header[48..58], false) else {
                let raw = String::from_utf8_lossy(&header[48..58]).trim().to_owned();
                return Err(corrupt(format!("ar member size {raw:?} is not a number")));
            };
            self.left = size;
            self.pad = size % 2 == 1;
            let raw_name = String::from_utf8_lossy(&header[..16]).trim_end().to_owned();
            let mut member = ArMember {
                name: raw_name.trim_end_matches('/').as_bytes().to_vec(),
                size,
                mtime: field::<i64>(&header[16..28], false),
                uid: field::<u64>(&header[28..34], false),
                gid: field::<u64>(&header[34..40], false),
                mode: field::<u32>(&header[40..48], true),
            };
            if matches!(
                raw_name.as_str(),
                "/" | "/SYM64/" | "__.SYMDEF" | "__.SYMDEF SORTED"
            ) {
                continue;
            }
            if raw_name == "//" {
                self.long_names.clear();
                (&mut self.inner)
                    .take(size.min(1 << 20))
                    .read_to_end(&mut self.long_names)?;
                self.left = size.saturating_sub(self.long_names.len() as u64);
                continue;
            }
            if let Some(offset) = raw_name
                .strip_prefix('/')
                .and_then(|o| o.parse::<usize>().ok())
            {
                let tail = self.long_names.get(offset..).unwrap_or_default();
                let end = tail.iter().position(|b| *b == b'\n').unwrap_or(tail.len());
                let name = &tail[..end];
                member.name = name.strip_suffix(b"/").unwrap_or(name).to_vec();
            } else if let Some(len) = raw_name
                .strip_prefix("#1/")
                .and_then(|l| l.parse::<u64>().ok())
            {
                // BSD: the name is the first `len` bytes of the data.
                let mut n = Vec::new();
                (&mut self.inner).take(len.min(4096)).read_to_end(&mut n)?;
                self.left = size.saturating_sub(n.len() as u64);
                while n.last() == Some(&0) {
                    n.pop();
                }
                member.name = n;
                member.size = self.left;
            }
            if member.name.is_empty() {
                continue;
            }
            return Ok(Some(member));
        }
    }
}

impl<R: Read> Read for ArReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(corrupt("the ar archive ends inside a member"));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    fn header(name: &str, size: usize) -> Vec<u8> {
        format!(
            "{name:<16}{:<12}{:<6}{:<6}{:<8}{size:<10}`\n",
            1, 0, 0, "100644"
        )
        .into_bytes()
    }

    #[test]
    fn ar_members_with_gnu_and_bsd_names() {
        let mut a = b"!<arch>\n".to_vec();
        a.extend(header("/", 4));
        a.extend(b"syms");
        let long = b"a-very-long-member-name.o/\n";
        a.extend(header("//", long.len()));
        a.extend(long);
        a.push(b'\n'); // padding to an even offset
        a.extend(header("/0", 3));
        a.extend(b"abc\n");
        a.extend(header("#1/8", 10));
        a.extend(b"bsd.o\0\0\0xy");
        a.extend(header("short.o/", 2));
        a.extend(b"hi");
        let mut r = ArReader::new(&a[..]);
        let mut seen = Vec::new();
        while let Some(m) = r.next_member().unwrap() {
            let mut body = Vec::new();
            r.read_to_end(&mut body).unwrap();
            assert_eq!(m.size, body.len() as u64);
            assert_eq!(m.mode, Some(0o100644));
            seen.push((String::from_utf8(m.name).unwrap(), body));
        }
        assert_eq!(
            seen,
            vec![
                ("a-very-long-member-name.o".to_owned(), b"abc".to_vec()),
                ("bsd.o".to_owned(), b"xy".to_vec()),
                ("short.o".to_owned(), b"hi".to_vec()),
            ]
        );
    }

    #[test]
    fn ar_errors_are_clear() {
        let mut r = ArReader::new(&b"!<thin>\n"[..]);
        assert!(r.next_member().unwrap_err().to_string().contains("thin"));
        let mut a = b"!<arch>\n".to_vec();
        a.extend(header("x.o/", 100));
        a.extend(b"short");
        let mut r = ArReader::new(&a[..]);
        r.next_member().unwrap();
        let e = io::copy(&mut r, &mut io::sink()).unwrap_err();
        assert!(e.to_string().contains("ends inside a member"), "{e}");
    }

    #[test]
    fn inner_names() {
        assert_eq!(inner_name("a.tar.gz", Compression::Gzip), "a.tar");
        assert_eq!(inner_name("a.TGZ", Compression::Gzip), "a.tar");
        assert_eq!(inner_name("x.patch.xz", Compression::Xz), "x.patch");
        assert_eq!(inner_name("blob", Compression::Zstd), "blob");
        assert_eq!(inner_name(".gz", Compression::Gzip), ".gz");
    }
}
