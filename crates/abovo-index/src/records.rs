//! The records file: what the graph keeps of every indexed `.drv`
//! ([`DrvRecord`]) with the [`FileStamp`] of the file it was read from.
//!
//! # Layout
//!
//! ```text
//! offset  size  field
//! 0       8     magic "ABOVOIDR"
//! 8       4     format version, u32 little-endian
//! 12      4     chunk count, u32 little-endian
//! 16      40×n  per chunk: the length of its zstd frame (u64 LE) and the
//!               SHA-256 of that frame
//! …       32    SHA-256 of all the bytes before it
//! …       …     the chunks' zstd frames, one after the other
//! ```
//!
//! A chunk holds up to [`CHUNK`] entries, so that the chunks are written
//! and read on every core at once (a store's records are a few hundred
//! megabytes before compression, read after every change of the store).
//! A chunk's body is unsigned LEB128 varints and raw bytes: the count of
//! entries, then per entry: path, size, modification time (zigzag), inode,
//! system, builder, outputs (count, then name and 0, or 1 and a path), fixed
//! output (0, or 1, recursive flag, algorithm number, digest), kind, kept
//! environment (count, then name and value), input derivations (count, then
//! path and output names), input sources (count, then paths). A string is
//! its length and bytes. A path is, the first time a chunk writes it, 0,
//! its 32-byte hash part and its name (a string); after that, its number
//! (the n-th path the chunk wrote is n). Strings are written whole: what
//! repeats, zstd finds. Every length is checked on reading: a damaged file is an error,
//! never a panic.

use abovo_graph::build::DrvRecord;
use abovo_graph::load::FileStamp;
use abovo_store::derivation::{DerivationKind, FixedOutput};
use abovo_store::hash::{Hash, HashAlgo};
use abovo_store::store_path::{HASH_PART_LEN, StorePath};
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use sha2::{Digest, Sha256};

/// The first bytes of a records file.
pub const MAGIC: &[u8; 8] = b"ABOVOIDR";
/// The format version this build reads and writes.
pub const VERSION: u32 = 2;
/// Entries per chunk: some fifty chunks for a store of 200,000 `.drv`.
pub const CHUNK: usize = 4096;
/// The most a chunk may decompress to (4,096 entries of a few hundred
/// bytes each take about a megabyte; a derivation with huge fixed-output
/// environment could take much more).
const CHUNK_LIMIT: usize = 1 << 30;
/// Magic, version, chunk count.
const FIXED: usize = 16;
/// Frame length and SHA-256 of a chunk.
const ENTRY: usize = 40;

/// One indexed `.drv`: its record and the stamp of its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// What the graph keeps of it.
    pub record: DrvRecord,
    /// Its file when it was read.
    pub stamp: FileStamp,
}

/// Why a records file cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordsError {
    /// Not a records file at all.
    #[error("not an abovo index records file (bad magic)")]
    Magic,
    /// Written by another version of abovo.
    #[error("records format version {0}, this abovo reads version {VERSION}")]
    Version(u32),
    /// The file is shorter or longer than its chunk table says.
    #[error("the file is not the length its chunk table says")]
    Length,
    /// A checksum does not match.
    #[error("checksum mismatch")]
    Checksum,
    /// A chunk's body does not decode.
    #[error("damaged at byte {at} of chunk {chunk}: {what}")]
    Damaged {
        /// Which chunk.
        chunk: usize,
        /// Where in its decompressed body.
        at: usize,
        /// What was wrong.
        what: &'static str,
    },
}

/// Serialises `entries` (each chunk compressed at zstd `level`, on every
/// core; only a bad level fails).
pub fn encode(entries: &[Entry], level: i32) -> std::io::Result<Vec<u8>> {
    let frames: Vec<Vec<u8>> = entries
        .par_chunks(CHUNK)
        .map(|chunk| {
            let mut body = Vec::with_capacity(chunk.len() * 512);
            put(&mut body, chunk.len() as u64);
            let mut paths = Paths::default();
            for e in chunk {
                entry(&mut body, &mut paths, e);
            }
            zstd::bulk::compress(&body, level)
        })
        .collect::<std::io::Result<_>>()?;
    Ok(lay_out(&frames))
}

/// The one layout of a records file, from its chunks' zstd frames in
/// order: magic, version, chunk count, a table of each frame's length and
/// SHA-256 (summed on every core), the table's own SHA-256, then the
/// frames. [`encode`] writes files so, and tests and the fuzz harness frame
/// bodies of their own with it so that the checksums pass.
pub fn lay_out(frames: &[Vec<u8>]) -> Vec<u8> {
    let sums: Vec<[u8; 32]> = frames
        .par_iter()
        .map(|f| Sha256::digest(f).into())
        .collect();
    let total: usize = frames.iter().map(Vec::len).sum();
    let mut out = Vec::with_capacity(FIXED + frames.len() * ENTRY + 32 + total);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(frames.len() as u32).to_le_bytes());
    for (frame, sum) in frames.iter().zip(&sums) {
        out.extend_from_slice(&(frame.len() as u64).to_le_bytes());
        out.extend_from_slice(sum);
    }
    let sum = Sha256::digest(&out);
    out.extend_from_slice(&sum);
    for frame in frames {
        out.extend_from_slice(frame);
    }
    out
}

/// The paths a chunk has written so far, numbered from 1 in order of
/// first use: a path met again is written as its number (the fetchers
/// and sources many derivations share, every output path's derivation).
#[derive(Default)]
struct Paths<'a> {
    ids: FxHashMap<&'a StorePath, u64>,
}

/// Writes one entry into a chunk's body.
fn entry<'a>(b: &mut Vec<u8>, paths: &mut Paths<'a>, e: &'a Entry) {
    let r = &e.record;
    let mut path = |b: &mut Vec<u8>, p: &'a StorePath| {
        let next = paths.ids.len() as u64 + 1;
        match paths.ids.entry(p) {
            std::collections::hash_map::Entry::Occupied(id) => put(b, *id.get()),
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(next);
                b.push(0);
                b.extend_from_slice(p.hash_part_bytes());
                string(b, p.name());
            }
        }
    };
    path(b, &r.path);
    put(b, e.stamp.size);
    put(b, zigzag(e.stamp.mtime_ns));
    put(b, e.stamp.inode);
    string(b, &r.system);
    string(b, &r.builder);
    put(b, r.outputs.len() as u64);
    for (n, p) in &r.outputs {
        string(b, n);
        match p {
            None => b.push(0),
            Some(p) => {
                b.push(1);
                path(b, p);
            }
        }
    }
    match &r.fixed {
        None => b.push(0),
        Some(f) => {
            b.push(1);
            b.push(u8::from(f.recursive));
            b.push(algo_number(f.hash.algo()));
            b.extend_from_slice(f.hash.digest());
        }
    }
    b.push(kind_number(r.kind));
    put(b, r.env.len() as u64);
    for (k, v) in &r.env {
        string(b, k);
        string(b, v);
    }
    put(b, r.inputs.len() as u64);
    for (p, outs) in &r.inputs {
        path(b, p);
        put(b, outs.len() as u64);
        for o in outs {
            string(b, o);
        }
    }
    put(b, r.sources.len() as u64);
    for p in &r.sources {
        path(b, p);
    }
}

fn string(b: &mut Vec<u8>, s: &str) {
    put(b, s.len() as u64);
    b.extend_from_slice(s.as_bytes());
}

/// Reads a records file, checking its magic, version and checksums, and
/// every length in it; the chunks are read on every core.
pub fn decode(bytes: &[u8]) -> Result<Vec<Entry>, RecordsError> {
    if bytes.len() < FIXED || &bytes[..8] != MAGIC {
        return Err(RecordsError::Magic);
    }
    let word =
        |at: usize| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    let version = word(8);
    if version != VERSION {
        return Err(RecordsError::Version(version));
    }
    let n = word(12) as usize;
    let table_end = n
        .checked_mul(ENTRY)
        .and_then(|t| t.checked_add(FIXED + 32))
        .filter(|&end| end <= bytes.len())
        .ok_or(RecordsError::Length)?;
    let (head, sum) = bytes[..table_end].split_at(table_end - 32);
    if Sha256::digest(head)[..] != *sum {
        return Err(RecordsError::Checksum);
    }
    let mut frames = Vec::with_capacity(n);
    let mut at = table_end;
    for i in 0..n {
        let e = &head[FIXED + i * ENTRY..FIXED + (i + 1) * ENTRY];
        let mut len = [0u8; 8];
        len.copy_from_slice(&e[..8]);
        let end = usize::try_from(u64::from_le_bytes(len))
            .ok()
            .and_then(|len| at.checked_add(len))
            .filter(|&end| end <= bytes.len())
            .ok_or(RecordsError::Length)?;
        frames.push((&bytes[at..end], &e[8..]));
        at = end;
    }
    if at != bytes.len() {
        return Err(RecordsError::Length);
    }
    let chunks: Vec<Vec<Entry>> = frames
        .par_iter()
        .enumerate()
        .map(|(chunk, (frame, sum))| {
            if Sha256::digest(frame)[..] != **sum {
                return Err(RecordsError::Checksum);
            }
            let body = decompress(frame).ok_or(RecordsError::Damaged {
                chunk,
                at: 0,
                what: "the zstd frame does not decompress",
            })?;
            Reader {
                bytes: &body,
                at: 0,
                chunk,
            }
            .entries()
        })
        .collect::<Result<_, _>>()?;
    Ok(chunks.into_iter().flatten().collect())
}

/// Decompresses a chunk's body, never past [`CHUNK_LIMIT`].
fn decompress(frame: &[u8]) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::new();
    zstd::stream::read::Decoder::with_buffer(frame)
        .ok()?
        .take(CHUNK_LIMIT as u64 + 1)
        .read_to_end(&mut out)
        .ok()?;
    (out.len() <= CHUNK_LIMIT).then_some(out)
}

fn put(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

const ALGOS: [HashAlgo; 4] = [
    HashAlgo::Md5,
    HashAlgo::Sha1,
    HashAlgo::Sha256,
    HashAlgo::Sha512,
];

fn algo_number(a: HashAlgo) -> u8 {
    ALGOS.iter().position(|&b| b == a).unwrap_or(2) as u8
}

const KINDS: [DerivationKind; 5] = [
    DerivationKind::InputAddressed,
    DerivationKind::Deferred,
    DerivationKind::Fixed,
    DerivationKind::Floating,
    DerivationKind::Impure,
];

fn kind_number(k: DerivationKind) -> u8 {
    KINDS.iter().position(|&b| b == k).unwrap_or(0) as u8
}

/// The paths a chunk's reader has met, by number.
struct Seen {
    paths: Vec<StorePath>,
    scratch: String,
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    chunk: usize,
}

impl<'a> Reader<'a> {
    fn bad(&self, what: &'static str) -> RecordsError {
        RecordsError::Damaged {
            chunk: self.chunk,
            at: self.at,
            what,
        }
    }

    fn byte(&mut self) -> Result<u8, RecordsError> {
        let b = *self.bytes.get(self.at).ok_or(self.bad("cut short"))?;
        self.at += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], RecordsError> {
        let end = self.at.checked_add(n).ok_or(self.bad("length overflows"))?;
        let bytes: &'a [u8] = self.bytes;
        let s = bytes.get(self.at..end).ok_or(self.bad("cut short"))?;
        self.at = end;
        Ok(s)
    }

    fn varint(&mut self) -> Result<u64, RecordsError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(self.bad("varint too long"))
    }

    /// A count of items each at least one byte long.
    fn count(&mut self) -> Result<usize, RecordsError> {
        let n = self.varint()?;
        if n > (self.bytes.len() - self.at) as u64 {
            return Err(self.bad("count larger than the data"));
        }
        Ok(n as usize)
    }

    fn str(&mut self) -> Result<&'a str, RecordsError> {
        let len = self.count()?;
        std::str::from_utf8(self.take(len)?).map_err(|_| self.bad("a string is not UTF-8"))
    }

    fn string(&mut self) -> Result<String, RecordsError> {
        self.str().map(str::to_owned)
    }

    /// A path: the number of one met before in the chunk, or 0 and the
    /// path (then numbered next).
    fn path(&mut self, seen: &mut Seen) -> Result<StorePath, RecordsError> {
        let id = self.varint()?;
        if id > 0 {
            return usize::try_from(id - 1)
                .ok()
                .and_then(|i| seen.paths.get(i))
                .cloned()
                .ok_or(self.bad("path number out of range"));
        }
        let p = self.new_path(&mut seen.scratch)?;
        seen.paths.push(p.clone());
        Ok(p)
    }

    fn new_path(&mut self, scratch: &mut String) -> Result<StorePath, RecordsError> {
        let hash = self.take(HASH_PART_LEN)?;
        let hash = std::str::from_utf8(hash).map_err(|_| self.bad("bad hash part"))?;
        let name = self.str()?;
        scratch.clear();
        scratch.push_str(hash);
        scratch.push('-');
        scratch.push_str(name);
        StorePath::from_base_name(scratch).map_err(|_| self.bad("not a store path"))
    }

    fn entries(&mut self) -> Result<Vec<Entry>, RecordsError> {
        let n = self.count()?;
        let mut seen = Seen {
            paths: Vec::new(),
            scratch: String::with_capacity(128),
        };
        let s = &mut seen;
        let mut entries = Vec::with_capacity(n);
        for _ in 0..n {
            let path = self.path(s)?;
            let stamp = FileStamp {
                size: self.varint()?,
                mtime_ns: unzigzag(self.varint()?),
                inode: self.varint()?,
            };
            let system = self.string()?;
            let builder = self.string()?;
            let k = self.count()?;
            let mut outputs = Vec::with_capacity(k);
            for _ in 0..k {
                let name = self.string()?;
                let path = match self.byte()? {
                    0 => None,
                    1 => Some(self.path(s)?),
                    _ => return Err(self.bad("bad output path tag")),
                };
                outputs.push((name, path));
            }
            let fixed = match self.byte()? {
                0 => None,
                1 => {
                    let recursive = match self.byte()? {
                        0 => false,
                        1 => true,
                        _ => return Err(self.bad("bad recursive flag")),
                    };
                    let algo = *ALGOS
                        .get(usize::from(self.byte()?))
                        .ok_or(self.bad("bad hash algorithm"))?;
                    let digest = self.take(algo.digest_len())?;
                    let hash = Hash::new(algo, digest).ok_or(self.bad("bad digest"))?;
                    Some(FixedOutput { recursive, hash })
                }
                _ => return Err(self.bad("bad fixed-output tag")),
            };
            let kind = *KINDS
                .get(usize::from(self.byte()?))
                .ok_or(self.bad("bad derivation kind"))?;
            let k = self.count()?;
            let mut env = Vec::with_capacity(k);
            for _ in 0..k {
                env.push((self.string()?, self.string()?));
            }
            let k = self.count()?;
            let mut inputs = Vec::with_capacity(k);
            for _ in 0..k {
                let path = self.path(s)?;
                let m = self.count()?;
                let mut outs = Vec::with_capacity(m);
                for _ in 0..m {
                    outs.push(self.string()?);
                }
                inputs.push((path, outs));
            }
            let k = self.count()?;
            let mut sources = Vec::with_capacity(k);
            for _ in 0..k {
                sources.push(self.path(s)?);
            }
            entries.push(Entry {
                record: DrvRecord {
                    path,
                    system,
                    builder,
                    outputs,
                    fixed,
                    kind,
                    env,
                    inputs,
                    sources,
                },
                stamp,
            });
        }
        if self.at != self.bytes.len() {
            return Err(self.bad("bytes after the last entry"));
        }
        Ok(entries)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use abovo_graph::load::parse_record;
    use abovo_store::StoreDir;

    const PLAIN: &str = r#"Derive([("lib","/gnu/store/180xcws0xz6c1gx6721jyj2d8j0ly9gz-minimal-lib","",""),("out","/gnu/store/280xcws0xz6c1gx6721jyj2d8j0ly9gz-minimal","","")],[("/gnu/store/00000000000000000000000000000001-dep.drv",["lib","out"]),("/gnu/store/00000000000000000000000000000003-dep.drv",["out"])],["/gnu/store/00000000000000000000000000000002-src"],"x86_64-linux","/bin/sh",["-c","echo"],[("PATH","/bin"),("lib","/gnu/store/180xcws0xz6c1gx6721jyj2d8j0ly9gz-minimal-lib"),("out","/gnu/store/280xcws0xz6c1gx6721jyj2d8j0ly9gz-minimal")])"#;
    const FIXED: &str = r#"Derive([("out","/gnu/store/380xcws0xz6c1gx6721jyj2d8j0ly9gz-x.tar.gz","r:sha256","0000000000000000000000000000000000000000000000000000000000000000")],[],[],"x86_64-linux","builtin:download",[],[("url","https://example.org/x.tar.gz"),("out","/gnu/store/380xcws0xz6c1gx6721jyj2d8j0ly9gz-x.tar.gz")])"#;
    const FLOATING: &str = r#"Derive([("out","","r:sha256","")],[],[],"x86_64-linux","/bin/sh",[],[("out","/1rz4g4znpzjwh1xymhjpm42vipw92pr73vdgl6xs1hycac8kf2n9")])"#;

    fn entries() -> Vec<Entry> {
        let store = StoreDir::default();
        [
            ("00000000000000000000000000000004-minimal.drv", PLAIN),
            ("00000000000000000000000000000005-x.tar.gz.drv", FIXED),
            ("00000000000000000000000000000006-floating.drv", FLOATING),
        ]
        .iter()
        .enumerate()
        .map(|(i, (name, text))| Entry {
            record: parse_record(&store, name, text.as_bytes()).unwrap(),
            stamp: FileStamp {
                size: text.len() as u64,
                mtime_ns: -(i as i64) * 1_000_000_007,
                inode: 1 << (20 + i),
            },
        })
        .collect()
    }

    #[test]
    fn records_read_back_as_written() {
        let e = entries();
        assert!(e[1].record.fixed.is_some());
        assert_eq!(e[2].record.kind, DerivationKind::Floating);
        let bytes = encode(&e, 3).unwrap();
        assert_eq!(decode(&bytes).unwrap(), e);
        assert_eq!(decode(&encode(&[], 1).unwrap()).unwrap(), []);
    }

    #[test]
    fn damage_is_an_error_never_a_panic() {
        let bytes = encode(&entries(), 1).unwrap();
        assert_eq!(decode(&bytes[..10]), Err(RecordsError::Magic));
        let mut other = bytes.clone();
        other[8] = 7;
        assert_eq!(decode(&other), Err(RecordsError::Version(7)));
        // The chunk count, the table, its checksum and the frame: any
        // flipped bit is refused.
        for i in 12..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x01;
            assert!(
                matches!(
                    decode(&bad),
                    Err(RecordsError::Checksum | RecordsError::Length)
                ),
                "byte {i}"
            );
        }
        assert_eq!(decode(&bytes[..bytes.len() - 1]), Err(RecordsError::Length));
    }

    /// Many entries make many chunks, read back in order.
    #[test]
    fn chunks_read_back_in_order() {
        let one = entries();
        let many: Vec<Entry> = (0..CHUNK * 2 + 5)
            .map(|i| {
                let mut e = one[i % one.len()].clone();
                e.stamp.inode = i as u64;
                e
            })
            .collect();
        let bytes = encode(&many, 1).unwrap();
        assert_eq!(u32::from_le_bytes(bytes[12..16].try_into().unwrap()), 3);
        assert_eq!(decode(&bytes).unwrap(), many);
    }

    /// A file of one chunk holding `body`, its checksums made right: what a
    /// damaged file that passes the checksums would look like.
    fn framed(body: &[u8]) -> Vec<u8> {
        lay_out(&[zstd::bulk::compress(body, 1).unwrap()])
    }

    fn body(bytes: &[u8]) -> Vec<u8> {
        decompress(&bytes[super::FIXED + ENTRY + 32..]).unwrap()
    }

    proptest::proptest! {
        /// Any byte of a valid body changed, or the body cut anywhere: the
        /// reader range-checks its way to an answer or an error.
        #[test]
        fn a_damaged_body_never_panics(at in 0usize..10_000, to in 0u8..=255, cut in 0usize..10_000) {
            let valid = body(&encode(&entries(), 1).unwrap());
            let mut changed = valid.clone();
            let i = at % changed.len();
            changed[i] = to;
            if let Ok(e) = decode(&framed(&changed)) {
                // What reads writes back to what reads the same.
                proptest::prop_assert_eq!(decode(&encode(&e, 1).unwrap()).unwrap(), e);
            }
            let cut = cut % valid.len();
            proptest::prop_assert!(decode(&framed(&valid[..cut])).is_err());
        }
    }
}
