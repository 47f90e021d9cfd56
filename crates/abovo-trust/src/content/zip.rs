//! Reading a zip archive (and a jar, wheel, apk …) as a stream, member by
//! member, from its local headers.
//!
//! A zip nested in a tarball cannot be seeked, so its central directory (at
//! the end) is out of reach; the local header before each member says what
//! the scanner needs. The `zip` crate's stream reader refuses members whose
//! sizes follow their data in a *data descriptor* (general-purpose flag bit
//! 3), and that is how Java's `jar` tool and every streaming writer store
//! deflated members: most jars would go unread. Here such a member is
//! decoded to the end of its deflate stream, which marks its own end, and
//! the descriptor after it is read and checked against what was decoded.
//!
//! Supported: stored (method 0), deflate (8), and, with sizes in the local
//! header, bzip2 (12), zstd (93) and xz (95); ZIP64 sizes. A member in
//! another method, or encrypted, cannot be looked into: its bytes are
//! skipped and the scanner lists it as opaque. A stored member with a data
//! descriptor has no end that a stream reader can find: that stops the
//! archive with an error. The archive ends at the first central directory
//! header.

use std::io::{self, BufRead, Read};

/// `PK\3\4`.
const LOCAL_HEADER: u32 = 0x0403_4b50;
/// `PK\1\2`.
const CENTRAL_HEADER: u32 = 0x0201_4b50;
/// `PK\5\6`.
const END_OF_CENTRAL: u32 = 0x0605_4b50;
/// `PK\6\6`: the ZIP64 end record, after the last member like the others.
const ZIP64_END: u32 = 0x0606_4b50;
/// `PK\7\8`: a data descriptor's optional signature, and the marker at the
/// start of a split archive.
const DESCRIPTOR: u32 = 0x0807_4b50;

/// How a member's data is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Stored as it is.
    Stored,
    /// Deflate.
    Deflate,
    /// bzip2.
    Bzip2,
    /// Zstandard.
    Zstd,
    /// xz.
    Xz,
    /// Another method, by number: not decoded.
    Other(u16),
}

/// A member's local header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The name as stored.
    pub name: Vec<u8>,
    /// The compression method.
    pub method: Method,
    /// Whether the member is encrypted.
    pub encrypted: bool,
    /// The compressed size, when the local header gives it (a member with
    /// a data descriptor usually has zeros there: `None`).
    pub compressed: Option<u64>,
    /// Whether the sizes follow the data (flag bit 3).
    pub descriptor: bool,
    /// Whether the sizes are 64-bit (a ZIP64 extra field is present), which
    /// also makes a data descriptor's sizes 64-bit.
    pub zip64: bool,
    /// The uncompressed size, when the local header gives it.
    pub uncompressed: Option<u64>,
    /// The modification time as MS-DOS stores it (local time, two-second
    /// steps): year, month, day, hour, minute, second.
    pub dos_time: (u16, u8, u8, u8, u8, u8),
}

impl Entry {
    /// Whether the member is a directory (its name ends with `/`).
    pub fn is_dir(&self) -> bool {
        self.name.last() == Some(&b'/')
    }

    /// Why the scanner cannot look into the member, if it cannot; its raw
    /// bytes are then skipped (which needs [`Entry::compressed`]).
    pub fn opaque_reason(&self) -> Option<String> {
        if self.encrypted {
            return Some("encrypted zip member".to_owned());
        }
        match self.method {
            Method::Other(m) => Some(format!(
                "zip member compressed with method {m}, which abovo does not decode"
            )),
            _ => None,
        }
    }
}

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn le64(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}

/// Reads exactly `buf.len()` bytes, or fails with `what` on a short read.
fn read_exact(r: &mut dyn BufRead, buf: &mut [u8], what: &str) -> io::Result<()> {
    r.read_exact(buf).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("zip: {what} cut short"),
            )
        } else {
            e
        }
    })
}

/// Reads the next local header; `None` at the central directory (or at the
/// end of the input right after a member, as a truncated-but-complete
/// stream of members would be).
pub fn next_entry(r: &mut dyn BufRead) -> io::Result<Option<Entry>> {
    loop {
        if r.fill_buf()?.is_empty() {
            return Ok(None);
        }
        let mut sig = [0u8; 4];
        read_exact(r, &mut sig, "signature")?;
        match u32::from_le_bytes(sig) {
            LOCAL_HEADER => break,
            CENTRAL_HEADER | END_OF_CENTRAL | ZIP64_END => return Ok(None),
            // A split archive starts with the descriptor signature.
            DESCRIPTOR => continue,
            other => {
                return Err(invalid(format!(
                    "zip: expected a local file header, found signature {other:#010x}"
                )));
            }
        }
    }
    let mut fixed = [0u8; 26];
    read_exact(r, &mut fixed, "local file header")?;
    let flags = le16(&fixed, 2);
    let method = match le16(&fixed, 4) {
        0 => Method::Stored,
        8 => Method::Deflate,
        12 => Method::Bzip2,
        93 => Method::Zstd,
        95 => Method::Xz,
        m => Method::Other(m),
    };
    let (time, date) = (le16(&fixed, 6), le16(&fixed, 8));
    let dos_time = (
        1980 + (date >> 9),
        ((date >> 5) & 0xf) as u8,
        (date & 0x1f) as u8,
        (time >> 11) as u8,
        ((time >> 5) & 0x3f) as u8,
        ((time & 0x1f) * 2) as u8,
    );
    let mut compressed = u64::from(le32(&fixed, 14));
    let uncompressed = le32(&fixed, 18);
    let mut uncompressed_size = u64::from(uncompressed);
    let name_len = usize::from(le16(&fixed, 22));
    let extra_len = usize::from(le16(&fixed, 24));
    let mut name = vec![0u8; name_len];
    read_exact(r, &mut name, "member name")?;
    let mut extra = vec![0u8; extra_len];
    read_exact(r, &mut extra, "extra field")?;
    let mut zip64 = false;
    // The ZIP64 extra field (id 1) holds, in order, the 64-bit uncompressed
    // and compressed sizes that are 0xFFFFFFFF in the header.
    let mut at = 0;
    while at + 4 <= extra.len() {
        let id = le16(&extra, at);
        let len = usize::from(le16(&extra, at + 2));
        let body = extra.get(at + 4..at + 4 + len).unwrap_or_default();
        if id == 1 {
            zip64 = true;
            let mut field = 0;
            if uncompressed == u32::MAX && body.len() >= field + 8 {
                uncompressed_size = le64(body, field);
                field += 8;
            }
            if compressed == u64::from(u32::MAX) && body.len() >= field + 8 {
                compressed = le64(body, field);
            }
        }
        at += 4 + len;
    }
    let descriptor = flags & 8 != 0;
    Ok(Some(Entry {
        name,
        method,
        encrypted: flags & 1 != 0,
        compressed: (!descriptor || compressed != 0).then_some(compressed),
        descriptor,
        zip64,
        uncompressed: (!descriptor || uncompressed_size != 0).then_some(uncompressed_size),
        dos_time,
    }))
}

/// A decoder for the raw data of a member whose compressed size is known
/// (`raw` is limited to it).
pub fn decoder<'a, R: Read + 'a>(
    raw: R,
    method: Method,
    memlimit: u64,
) -> io::Result<Box<dyn Read + 'a>> {
    Ok(match method {
        Method::Stored => Box::new(raw),
        Method::Deflate => Box::new(flate2::read::DeflateDecoder::new(raw)),
        Method::Bzip2 => Box::new(bzip2::read::BzDecoder::new(raw)),
        Method::Zstd => {
            let mut d = zstd::stream::read::Decoder::new(raw)?;
            // A frame declares its window; refuse windows above the limit.
            let log = 63 - memlimit.max(1 << 10).leading_zeros();
            d.window_log_max(log.clamp(10, 31))?;
            Box::new(d)
        }
        Method::Xz => {
            let stream =
                xz2::stream::Stream::new_stream_decoder(memlimit, 0).map_err(io::Error::other)?;
            Box::new(xz2::read::XzDecoder::new_stream(raw, stream))
        }
        Method::Other(m) => return Err(invalid(format!("zip: method {m} is not decoded"))),
    })
}

/// The decoder for a deflated member whose size follows its data: the
/// deflate stream marks its own end, and the decoder stops there, leaving
/// the data descriptor in `r`.
pub fn self_delimited<'a>(r: &'a mut dyn BufRead, entry: &Entry) -> io::Result<Box<dyn Read + 'a>> {
    match entry.method {
        Method::Deflate => Ok(Box::new(flate2::bufread::DeflateDecoder::new(r))),
        _ => Err(invalid(
            "zip: a member whose size is only given after its data, in a method that does not mark its own end, cannot be read as a stream",
        )),
    }
}

/// Reads a member's data descriptor, when it has one (after its data).
pub fn read_descriptor(r: &mut dyn BufRead, entry: &Entry) -> io::Result<()> {
    if !entry.descriptor {
        return Ok(());
    }
    // crc32, then the sizes (8 bytes each with ZIP64), optionally behind
    // the signature.
    let sizes = if entry.zip64 { 16 } else { 8 };
    let mut first = [0u8; 4];
    read_exact(r, &mut first, "data descriptor")?;
    if u32::from_le_bytes(first) == DESCRIPTOR {
        read_exact(r, &mut first, "data descriptor")?;
    }
    let mut rest = [0u8; 16];
    read_exact(r, &mut rest[..sizes], "data descriptor")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use std::io::Write;

    /// A member with a data descriptor, as Java's `jar` writes them.
    fn streamed_deflate(name: &str, data: &[u8], signature: bool) -> Vec<u8> {
        let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(data).unwrap();
        let packed = enc.finish().unwrap();
        let mut out = Vec::new();
        out.extend_from_slice(&LOCAL_HEADER.to_le_bytes());
        out.extend_from_slice(&20u16.to_le_bytes());
        out.extend_from_slice(&8u16.to_le_bytes()); // flag bit 3
        out.extend_from_slice(&8u16.to_le_bytes()); // deflate
        out.extend_from_slice(&[0u8; 4]); // time, date
        out.extend_from_slice(&[0u8; 12]); // crc, sizes: in the descriptor
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&packed);
        if signature {
            out.extend_from_slice(&DESCRIPTOR.to_le_bytes());
        }
        let mut crc = flate2::Crc::new();
        crc.update(data);
        out.extend_from_slice(&crc.sum().to_le_bytes());
        out.extend_from_slice(&(packed.len() as u32).to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out
    }

    fn read_all(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
        let mut r = io::BufReader::new(bytes);
        let mut out = Vec::new();
        while let Some(e) = next_entry(&mut r).unwrap() {
            let mut data = Vec::new();
            match e.compressed {
                Some(size) => {
                    let mut raw = (&mut r).take(size);
                    decoder(&mut raw, e.method, 1 << 26)
                        .unwrap()
                        .read_to_end(&mut data)
                        .unwrap();
                }
                None => {
                    self_delimited(&mut r, &e)
                        .unwrap()
                        .read_to_end(&mut data)
                        .unwrap();
                }
            }
            read_descriptor(&mut r, &e).unwrap();
            out.push((String::from_utf8(e.name).unwrap(), data));
        }
        out
    }

    #[test]
    fn members_with_data_descriptors_are_read() {
        let mut zip = streamed_deflate("META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\n", true);
        zip.extend(streamed_deflate(
            "A.class",
            &[0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 52],
            false,
        ));
        zip.extend_from_slice(&CENTRAL_HEADER.to_le_bytes());
        let got = read_all(&zip);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].1, b"Manifest-Version: 1.0\n");
        assert_eq!(got[1].0, "A.class");
        assert_eq!(got[1].1[..4], [0xca, 0xfe, 0xba, 0xbe]);
    }

    #[test]
    fn members_written_by_the_zip_crate_are_read() {
        let mut w = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
        for (method, name) in [
            (zip::CompressionMethod::Stored, "stored.txt"),
            (zip::CompressionMethod::Deflated, "deflated.txt"),
        ] {
            let opts = zip::write::SimpleFileOptions::default().compression_method(method);
            w.start_file(name, opts).unwrap();
            w.write_all(name.repeat(50).as_bytes()).unwrap();
        }
        let bytes = w.finish().unwrap().into_inner();
        let got = read_all(&bytes);
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].1, "deflated.txt".repeat(50).as_bytes());
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let mut r = io::BufReader::new(&b"PK\x03\x04short"[..]);
        assert!(next_entry(&mut r).is_err());
        let mut r = io::BufReader::new(&b"not a zip at all"[..]);
        let err = next_entry(&mut r).unwrap_err();
        assert!(err.to_string().contains("local file header"), "{err}");
    }
}
