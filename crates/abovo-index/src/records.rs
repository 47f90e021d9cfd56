//! The records file: what the graph keeps of every indexed `.drv`
//! ([`DrvRecord`]) with the [`FileStamp`] of the file it was read from.
//!
//! # Layout
//!
//! ```text
//! offset  size  field
//! 0       8     magic "ABOVOIDR"
//! 8       4     format version, u32 little-endian
//! 12      32    SHA-256 of the rest
//! 44      …     one zstd frame: the body
//! ```
//!
//! The body is unsigned LEB128 varints and raw bytes: the strings (count,
//! then length and bytes of each), the store paths (count, then 32 bytes
//! of hash part and a string id each), then the entries (count, then per
//! entry: path id, size, modification time (zigzag), inode, system,
//! builder, outputs (count, then name and 0 or path id + 1), fixed output
//! (0, or 1, recursive flag, algorithm number, digest), kind, kept
//! environment (count, then name and value), input derivations (count,
//! then path id and output names), input sources (count, then path ids)).
//! Every id is range-checked on reading: a damaged file is an error, never
//! a panic.

use abovo_graph::build::DrvRecord;
use abovo_graph::load::FileStamp;
use abovo_store::derivation::{DerivationKind, FixedOutput};
use abovo_store::hash::{Hash, HashAlgo};
use abovo_store::store_path::{HASH_PART_LEN, StorePath};
use rustc_hash::FxHashMap;
use sha2::{Digest, Sha256};

/// The first bytes of a records file.
pub const MAGIC: &[u8; 8] = b"ABOVOIDR";
/// The format version this build reads and writes.
pub const VERSION: u32 = 1;
const HEADER_LEN: usize = 44;
/// The most a records body may decompress to (a store of a million `.drv`
/// files takes a few hundred megabytes).
const BODY_LIMIT: usize = 4 << 30;

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
    /// The checksum does not match.
    #[error("checksum mismatch")]
    Checksum,
    /// The body does not decode.
    #[error("damaged at byte {at} of the body: {what}")]
    Damaged {
        /// Where in the decompressed body.
        at: usize,
        /// What was wrong.
        what: &'static str,
    },
}

/// Serialises `entries` (compressed at zstd `level`; only a bad level
/// fails).
pub fn encode<'a>(entries: &'a [Entry], level: i32) -> std::io::Result<Vec<u8>> {
    // One pass numbers strings and paths as they come and writes the
    // entries; the tables are put before them at the end.
    let mut strings = Interner::default();
    let mut paths: FxHashMap<&StorePath, u32> = FxHashMap::default();
    let mut path_list: Vec<&StorePath> = Vec::new();
    let mut pid = |p: &'a StorePath, strings: &mut Interner<'a>| -> u64 {
        let next = path_list.len() as u32;
        u64::from(*paths.entry(p).or_insert_with(|| {
            strings.id(p.name());
            path_list.push(p);
            next
        }))
    };
    let mut out_entries = Vec::with_capacity(entries.len() * 128);
    let b = &mut out_entries;
    put(b, entries.len() as u64);
    for e in entries {
        let r = &e.record;
        let path = pid(&r.path, &mut strings);
        put(b, path);
        put(b, e.stamp.size);
        put(b, zigzag(e.stamp.mtime_ns));
        put(b, e.stamp.inode);
        put(b, u64::from(strings.id(&r.system)));
        put(b, u64::from(strings.id(&r.builder)));
        put(b, r.outputs.len() as u64);
        for (n, p) in &r.outputs {
            put(b, u64::from(strings.id(n)));
            let p = p.as_ref().map_or(0, |p| pid(p, &mut strings) + 1);
            put(b, p);
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
            put(b, u64::from(strings.id(k)));
            put(b, u64::from(strings.id(v)));
        }
        put(b, r.inputs.len() as u64);
        for (p, outs) in &r.inputs {
            let p = pid(p, &mut strings);
            put(b, p);
            put(b, outs.len() as u64);
            for o in outs {
                put(b, u64::from(strings.id(o)));
            }
        }
        put(b, r.sources.len() as u64);
        for p in &r.sources {
            let p = pid(p, &mut strings);
            put(b, p);
        }
    }
    let mut body =
        Vec::with_capacity(out_entries.len() + path_list.len() * 40 + strings.list.len() * 24);
    put(&mut body, strings.list.len() as u64);
    for s in &strings.list {
        put(&mut body, s.len() as u64);
        body.extend_from_slice(s.as_bytes());
    }
    put(&mut body, path_list.len() as u64);
    for p in &path_list {
        body.extend_from_slice(p.hash_part_bytes());
        put(&mut body, u64::from(strings.get(p.name())));
    }
    body.extend_from_slice(&out_entries);
    let frame = zstd::bulk::compress(&body, level)?;
    let mut out = Vec::with_capacity(HEADER_LEN + frame.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&Sha256::digest(&frame));
    out.extend_from_slice(&frame);
    Ok(out)
}

/// Reads a records file, checking its magic, version and checksum, and
/// every id in it.
pub fn decode(bytes: &[u8]) -> Result<Vec<Entry>, RecordsError> {
    if bytes.len() < HEADER_LEN || &bytes[..8] != MAGIC {
        return Err(RecordsError::Magic);
    }
    let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    if version != VERSION {
        return Err(RecordsError::Version(version));
    }
    let frame = &bytes[HEADER_LEN..];
    if Sha256::digest(frame)[..] != bytes[12..HEADER_LEN] {
        return Err(RecordsError::Checksum);
    }
    let body = decompress(frame).ok_or(RecordsError::Damaged {
        at: 0,
        what: "the zstd frame does not decompress",
    })?;
    Reader {
        bytes: &body,
        at: 0,
    }
    .entries()
}

/// Decompresses the body, never past [`BODY_LIMIT`].
fn decompress(frame: &[u8]) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::new();
    zstd::stream::read::Decoder::with_buffer(frame)
        .ok()?
        .take(BODY_LIMIT as u64 + 1)
        .read_to_end(&mut out)
        .ok()?;
    (out.len() <= BODY_LIMIT).then_some(out)
}

/// Numbers strings in order of first use, borrowing them from the
/// entries (a store's records hold millions of strings, a few hundred
/// thousand of them distinct).
#[derive(Default)]
struct Interner<'a> {
    ids: FxHashMap<&'a str, u32>,
    list: Vec<&'a str>,
}

impl<'a> Interner<'a> {
    fn id(&mut self, s: &'a str) -> u32 {
        let next = self.list.len() as u32;
        *self.ids.entry(s).or_insert_with(|| {
            self.list.push(s);
            next
        })
    }

    /// The id of a string already interned.
    fn get(&self, s: &str) -> u32 {
        self.ids.get(s).copied().unwrap_or(0)
    }
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

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn bad(&self, what: &'static str) -> RecordsError {
        RecordsError::Damaged { at: self.at, what }
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

    fn id(&mut self, len: usize, what: &'static str) -> Result<usize, RecordsError> {
        let v = self.varint()?;
        if v >= len as u64 {
            return Err(self.bad(what));
        }
        Ok(v as usize)
    }

    fn entries(&mut self) -> Result<Vec<Entry>, RecordsError> {
        let n = self.count()?;
        let mut strings = Vec::with_capacity(n);
        for _ in 0..n {
            let len = self.count()?;
            let s = std::str::from_utf8(self.take(len)?)
                .map_err(|_| self.bad("a string is not UTF-8"))?;
            strings.push(s.to_owned());
        }
        let n = self.count()?;
        let mut paths = Vec::with_capacity(n);
        for _ in 0..n {
            let hash = self.take(HASH_PART_LEN)?;
            let hash = std::str::from_utf8(hash).map_err(|_| self.bad("bad hash part"))?;
            let hash = hash.to_owned();
            let name = &strings[self.id(strings.len(), "string id out of range")?];
            let p = StorePath::from_base_name(&format!("{hash}-{name}"))
                .map_err(|_| self.bad("not a store path"))?;
            paths.push(p);
        }
        let s = |r: &mut Self| -> Result<String, RecordsError> {
            Ok(strings[r.id(strings.len(), "string id out of range")?].clone())
        };
        let p = |r: &mut Self| -> Result<StorePath, RecordsError> {
            Ok(paths[r.id(paths.len(), "path id out of range")?].clone())
        };
        let n = self.count()?;
        let mut entries = Vec::with_capacity(n);
        for _ in 0..n {
            let path = p(self)?;
            let stamp = FileStamp {
                size: self.varint()?,
                mtime_ns: unzigzag(self.varint()?),
                inode: self.varint()?,
            };
            let system = s(self)?;
            let builder = s(self)?;
            let k = self.count()?;
            let mut outputs = Vec::with_capacity(k);
            for _ in 0..k {
                let name = s(self)?;
                let path = match self.id(paths.len() + 1, "path id out of range")? {
                    0 => None,
                    i => Some(paths[i - 1].clone()),
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
                env.push((s(self)?, s(self)?));
            }
            let k = self.count()?;
            let mut inputs = Vec::with_capacity(k);
            for _ in 0..k {
                let path = p(self)?;
                let m = self.count()?;
                let mut outs = Vec::with_capacity(m);
                for _ in 0..m {
                    outs.push(s(self)?);
                }
                inputs.push((path, outs));
            }
            let k = self.count()?;
            let mut sources = Vec::with_capacity(k);
            for _ in 0..k {
                sources.push(p(self)?);
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
        for i in HEADER_LEN..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x01;
            assert_eq!(decode(&bad), Err(RecordsError::Checksum), "byte {i}");
        }
    }

    /// A body with its checksum made right: what a damaged file that
    /// passes the checksum would look like.
    fn framed(body: &[u8]) -> Vec<u8> {
        let frame = zstd::bulk::compress(body, 1).unwrap();
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&Sha256::digest(&frame));
        out.extend_from_slice(&frame);
        out
    }

    fn body(bytes: &[u8]) -> Vec<u8> {
        decompress(&bytes[HEADER_LEN..]).unwrap()
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
