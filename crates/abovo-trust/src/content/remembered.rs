//! Scan verdicts on the fetch cache's content, remembered.
//!
//! An item of abovo's fetch cache never changes: it entered the cache only
//! after its hash was checked, under the name its hash gives, read-only.
//! Scanning it again on every `abovo seeds` would cost seconds for a
//! closure's seeds (a compiler tarball is hundreds of megabytes expanded)
//! to learn what the last run already knew, so the verdict is kept beside
//! the item ([`abovo_fetch::cache::Cache::derived_path`]) and read back.
//!
//! A kept verdict is used only when it is certainly the one a scan would
//! give now: its file name carries [`key`] (this scanner's revision and
//! the limits it ran under), and it records the item's size and
//! modification time, which must still match. Anything else — a missing,
//! unreadable or stale file — means scanning again. Only complete scans
//! are kept: a scan that failed is tried again next time.

use super::{ContentError, ContentReport, Limits, scan_path};
use abovo_fetch::cache::Cache;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::UNIX_EPOCH;

/// The scanner's revision: raise it with any change that alters what a
/// scan reports for the same bytes, so that verdicts kept by an older
/// abovo are not read.
const SCAN_REVISION: u32 = 1;

/// A verdict as kept on disk.
#[derive(Serialize, Deserialize)]
struct Kept {
    /// The item's size (a file's bytes; 0 for a tree) when it was scanned.
    size: u64,
    /// Its modification time, in nanoseconds since the epoch.
    mtime_ns: u128,
    report: ContentReport,
}

/// The part of a kept verdict's file name that ties it to this scanner
/// and to `limits` (a scan under other limits may end elsewhere).
pub fn key(limits: &Limits) -> String {
    let text = format!("{}/{SCAN_REVISION}/{limits:?}", env!("CARGO_PKG_VERSION"));
    let digest = abovo_store::hash::sha256(text.as_bytes());
    abovo_store::encoding::base16_encode(&digest[..8])
}

/// The size and modification time that identify a version of `path`.
fn stamp(path: &Path) -> Option<(u64, u128)> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    let mtime = meta.modified().ok()?.duration_since(UNIX_EPOCH).ok()?;
    let size = if meta.is_file() { meta.len() } else { 0 };
    Some((size, mtime.as_nanos()))
}

/// What a scan of the cache item `base_name` (at `path`) finds: the kept
/// verdict when there is a valid one, else a fresh scan, kept for the next
/// time (a failure to keep it only costs that next scan).
pub fn scan_cached_item(
    cache: &Cache,
    base_name: &str,
    path: &Path,
    limits: &Limits,
) -> Result<ContentReport, ContentError> {
    let kept_at = cache.derived_path(base_name, &key(limits));
    let now = stamp(path);
    if let Some((size, mtime_ns)) = now {
        let kept = std::fs::read(&kept_at)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Kept>(&bytes).ok());
        if let Some(kept) = kept.filter(|k| k.size == size && k.mtime_ns == mtime_ns) {
            return Ok(kept.report);
        }
    }
    let report = scan_path(path, limits)?;
    if let Some((size, mtime_ns)) = now {
        let kept = Kept {
            size,
            mtime_ns,
            report,
        };
        if let Ok(bytes) = serde_json::to_vec(&kept) {
            // Best effort: a cache that cannot be written is still read.
            let _ = cache.write_atomic(&kept_at, &bytes);
        }
        return Ok(kept.report);
    }
    Ok(report)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use crate::kind::Kind;

    fn elf() -> Vec<u8> {
        let mut b = vec![0u8; 64];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 1; // 32-bit
        b[5] = 1; // little-endian
        b[6] = 1;
        b[16] = 2; // ET_EXEC
        b[18] = 3; // i386
        b
    }

    #[test]
    fn a_kept_verdict_is_read_back_and_a_changed_item_is_scanned_again() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().join("cache"));
        let item = cache.item_path("aaaa-tool");
        std::fs::create_dir_all(item.parent().unwrap()).unwrap();
        std::fs::write(&item, elf()).unwrap();
        let limits = Limits::default();
        let first = scan_cached_item(&cache, "aaaa-tool", &item, &limits).unwrap();
        assert_eq!(first.kind, Kind::Binary);
        let kept_at = cache.derived_path("aaaa-tool", &key(&limits));
        assert!(kept_at.is_file(), "the verdict is kept");

        // A kept verdict is what the next call returns, without scanning:
        // doctor it and see it come back.
        let mut kept: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&kept_at).unwrap()).unwrap();
        kept["report"]["summary"] = "remembered".into();
        std::fs::write(&kept_at, serde_json::to_vec(&kept).unwrap()).unwrap();
        let second = scan_cached_item(&cache, "aaaa-tool", &item, &limits).unwrap();
        assert_eq!(second.summary, "remembered");

        // Another size: the item is scanned again (text now).
        std::fs::write(&item, b"int main(void) { return 0; }\n").unwrap();
        let third = scan_cached_item(&cache, "aaaa-tool", &item, &limits).unwrap();
        assert_eq!(third.kind, Kind::Source);
        assert_ne!(third.summary, "remembered");
    }

    #[test]
    fn other_limits_and_garbage_are_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().join("cache"));
        let item = cache.item_path("bbbb-tool");
        std::fs::create_dir_all(item.parent().unwrap()).unwrap();
        std::fs::write(&item, elf()).unwrap();
        let limits = Limits::default();
        let tight = Limits {
            max_members: 10,
            ..Limits::default()
        };
        assert_ne!(key(&limits), key(&tight));
        std::fs::create_dir_all(cache.derived_path("bbbb-tool", "x").parent().unwrap()).unwrap();
        std::fs::write(cache.derived_path("bbbb-tool", &key(&limits)), b"{not json").unwrap();
        let r = scan_cached_item(&cache, "bbbb-tool", &item, &limits).unwrap();
        assert_eq!(r.kind, Kind::Binary);
    }
}
