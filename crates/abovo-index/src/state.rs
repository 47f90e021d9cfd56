//! The state file: the commit point of an index. It names the generation
//! of the snapshot and stamps files, and holds what change detection
//! compares: the store directory's modification time and, with a daemon's
//! database, the highest `ValidPaths` id and the row count seen.
//!
//! ```text
//! "ABOVOIDS", version u32 LE, then length-prefixed fields (varint length,
//! bytes): source, store directory, generation; then varints: flags (1 the
//! modification time is known, 2 the registry state is known), the
//! modification time (zigzag), the highest id (zigzag), the row count, the
//! derivations, the skipped entries, the graph's nodes, the snapshot's
//! length; then the SHA-256 of all before it.
//! ```

use sha2::{Digest, Sha256};

const MAGIC: &[u8; 8] = b"ABOVOIDS";
/// The format version of the state file; a change of the files beside it
/// or of what is indexed bumps it too, so that an older index is rebuilt
/// (4: the stamps file replaced the records file).
pub(crate) const VERSION: u32 = 4;

/// What an index recorded when it was last brought up to date.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct State {
    /// The canonical path of the indexed directory.
    pub source: Vec<u8>,
    /// The store directory its paths are in.
    pub store: String,
    /// Names the snapshot and stamps files of this state.
    pub generation: String,
    /// The directory's modification time (nanoseconds), when it can be
    /// trusted (see [`crate::RACY_NS`]).
    pub dir_mtime: Option<i64>,
    /// The daemon database's highest `ValidPaths` id and row count.
    pub registry: Option<(i64, u64)>,
    /// How many derivations are indexed.
    pub derivations: u64,
    /// How many `.drv` entries were skipped as not regular files.
    pub skipped: u64,
    /// The number of nodes of the snapshot's graph.
    pub nodes: u64,
    /// The snapshot file's length: a file of another length is not this
    /// state's (its sections carry their own checksums, checked when a
    /// query first reads them).
    pub snapshot_len: u64,
}

impl State {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        for field in [
            &self.source[..],
            self.store.as_bytes(),
            self.generation.as_bytes(),
        ] {
            put(&mut out, field.len() as u64);
            out.extend_from_slice(field);
        }
        let flags = u64::from(self.dir_mtime.is_some()) | (u64::from(self.registry.is_some()) << 1);
        put(&mut out, flags);
        put(&mut out, zigzag(self.dir_mtime.unwrap_or(0)));
        let (id, count) = self.registry.unwrap_or((0, 0));
        put(&mut out, zigzag(id));
        put(&mut out, count);
        put(&mut out, self.derivations);
        put(&mut out, self.skipped);
        put(&mut out, self.nodes);
        put(&mut out, self.snapshot_len);
        let sum = Sha256::digest(&out);
        out.extend_from_slice(&sum);
        out
    }

    /// Reads a state file; the error says what is wrong with it.
    pub(crate) fn decode(bytes: &[u8]) -> Result<State, String> {
        if bytes.len() < 12 + 32 || &bytes[..8] != MAGIC {
            return Err("not an abovo index state file".into());
        }
        let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
        if version != VERSION {
            return Err(format!(
                "index format version {version}, this abovo writes version {VERSION}"
            ));
        }
        let (body, sum) = bytes.split_at(bytes.len() - 32);
        if Sha256::digest(body)[..] != *sum {
            return Err("checksum mismatch".into());
        }
        let mut r = &body[12..];
        let cut = || "cut short".to_owned();
        let field = |r: &mut &[u8]| -> Result<Vec<u8>, String> {
            let n = get(r).ok_or_else(cut)? as usize;
            let f = r.get(..n).ok_or_else(cut)?.to_vec();
            *r = &r[n..];
            Ok(f)
        };
        let source = field(&mut r)?;
        let text = |b: Vec<u8>| String::from_utf8(b).map_err(|_| "a field is not UTF-8".to_owned());
        let store = text(field(&mut r)?)?;
        let generation = text(field(&mut r)?)?;
        let mut n = || get(&mut r).ok_or_else(cut);
        let flags = n()?;
        let mtime = unzigzag(n()?);
        let id = unzigzag(n()?);
        let count = n()?;
        let derivations = n()?;
        let skipped = n()?;
        let nodes = n()?;
        let snapshot_len = n()?;
        if !r.is_empty() {
            return Err("bytes after the last field".into());
        }
        if generation.is_empty() || !generation.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("bad generation".into());
        }
        Ok(State {
            source,
            store,
            generation,
            dir_mtime: (flags & 1 != 0).then_some(mtime),
            registry: (flags & 2 != 0).then_some((id, count)),
            derivations,
            skipped,
            nodes,
            snapshot_len,
        })
    }
}

fn put(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get(r: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = r.split_first()?;
        *r = rest;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some(v);
        }
    }
    None
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_state_reads_back_and_any_flipped_byte_is_refused() {
        let s = State {
            source: b"/gnu/store".to_vec(),
            store: "/gnu/store".into(),
            generation: "0123abcd".into(),
            dir_mtime: Some(-5),
            registry: Some((12345, 678)),
            derivations: 71_817,
            skipped: 2,
            nodes: 109_762,
            snapshot_len: 12_345_678,
        };
        let bytes = s.encode();
        assert_eq!(State::decode(&bytes).unwrap(), s);
        let none = State {
            dir_mtime: None,
            registry: None,
            ..s.clone()
        };
        assert_eq!(State::decode(&none.encode()).unwrap(), none);
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x10;
            assert!(State::decode(&bad).is_err(), "byte {i}");
        }
        assert!(State::decode(&bytes[..bytes.len() - 1]).is_err());
        let mut other = bytes.clone();
        other[8] = 9;
        assert!(State::decode(&other).unwrap_err().contains("version 9"));
    }
}
