//! The content-addressed cache of fetched fixed outputs.
//!
//! # Layout
//!
//! ```text
//! $XDG_CACHE_HOME/abovo/        (~/.cache/abovo; ABOVO_CACHE_DIR or --cache-dir override it)
//!   store/<hash>-<name>         verified content: the file, or the tree of a recursive output,
//!                               named by its store base name, as in /gnu/store
//!   meta/<hash>-<name>.json     what was verified: hash, bytes, NAR size and hash, source, time,
//!                               and the narinfos seen for it (text as served, and the server)
//!   narinfo/<hash>.narinfo      narinfos whose signature was accepted (sizes without content)
//!   debian/<archive>.tsv        parsed Debian `Sources` indices: sha256, size, path
//!   scans/<hash>-<name>.<key>.json  what a content scan of an item found (abovo-trust's
//!                               verdict, `key` naming the scanner and its limits)
//!   partial/<key>               interrupted downloads, resumed with HTTP Range; never content
//!   tmp/                        content being unpacked or checked
//! ```
//!
//! `store/` is laid out like a store directory, so anything that reads a
//! seed directory by store base name (`abovo seeds --seed-dir`) reads it
//! as it is. An item is in the cache when its `meta/` record exists: the
//! record is written after the content is in place, and both by a rename,
//! so a reader never sees a partial item, and an item without a record
//! (an interrupted insertion) is not used. Nothing enters `store/` without
//! passing [`crate::verify::check`]; a mismatch is deleted, never kept.

use crate::verify::Measured;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// What the cache knows of an item it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The store path it stands for (`/gnu/store/<hash>-<name>`).
    pub store_path: String,
    /// The fixed-output hash it was checked against (`r:sha256:<nix32>`).
    pub hash: String,
    /// What it measures.
    #[serde(flatten)]
    pub measured: Measured,
    /// Where it came from (a URL, a store directory).
    pub source: String,
    /// The kind of source ([`crate::realise::SourceKind`] name).
    pub source_kind: String,
    /// When it was verified (seconds since the epoch).
    pub verified_at: u64,
    /// The narinfos that substitute servers gave for it while it was
    /// fetched, whatever their signatures: a report checks them against
    /// the keys it is given, offline. Absent in records written before
    /// abovo kept them (read as none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub narinfos: Vec<SeenNarinfo>,
}

/// A narinfo a substitute server gave for an item, kept as served: its
/// signature covers this text, so it can be checked again later, against
/// other keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenNarinfo {
    /// The server's base URL.
    pub server: String,
    /// The narinfo, as served.
    pub text: String,
}

/// A cache directory.
///
/// A caller about to look up thousands of items, nearly all absent (an
/// audit of a whole distribution, the sizes of a closure), takes a
/// [`Cache::batch`] of it: the records' directory is then listed once, on
/// the first lookup, and a name it does not hold is answered without a
/// failed `open`. A plain `Cache` reads the file system on every lookup,
/// so that a long-lived one (the explorer's) sees what is fetched
/// meanwhile.
#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
    /// In a batch, the base names the records' directory held when first
    /// asked (`None` inside: it could not be listed, look each name up).
    listed: Option<Arc<OnceLock<Option<HashSet<String>>>>>,
}

/// A cache operation that failed.
#[derive(Debug, thiserror::Error)]
#[error("cache `{}`: cannot {what} `{}`: {source}", .root.display(), .path.display())]
pub struct CacheError {
    /// The cache.
    pub root: PathBuf,
    /// What was being done.
    pub what: &'static str,
    /// The file.
    pub path: PathBuf,
    /// The underlying error.
    pub source: std::io::Error,
}

impl Cache {
    /// The default location: `$ABOVO_CACHE_DIR`, else
    /// `$XDG_CACHE_HOME/abovo`, else `$HOME/.cache/abovo`.
    pub fn default_dir() -> Option<PathBuf> {
        let var = |n: &str| {
            std::env::var_os(n)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        var("ABOVO_CACHE_DIR")
            .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("abovo")))
            .or_else(|| var("HOME").map(|h| h.join(".cache").join("abovo")))
    }

    /// The cache at `root` (nothing is created until something is stored).
    pub fn new(root: impl Into<PathBuf>) -> Cache {
        Cache {
            root: root.into(),
            listed: None,
        }
    }

    /// The cache directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The store-like directory of verified items.
    pub fn store_dir(&self) -> PathBuf {
        self.root.join("store")
    }

    /// The directory of accepted narinfos (`<hash>.narinfo`).
    pub fn narinfo_dir(&self) -> PathBuf {
        self.root.join("narinfo")
    }

    /// The directory of parsed Debian indices.
    pub fn debian_dir(&self) -> PathBuf {
        self.root.join("debian")
    }

    /// Where a reader of the cache's items keeps what it derived from the
    /// content of `base_name` (a scan verdict), under `key` (which names
    /// the reader's version and settings, so that another one never reads
    /// it). The cache only places these files; their readers own them.
    pub fn derived_path(&self, base_name: &str, key: &str) -> PathBuf {
        self.root
            .join("scans")
            .join(format!("{base_name}.{key}.json"))
    }

    /// Where the content of `base_name` (`<hash>-<name>`) is kept.
    pub fn item_path(&self, base_name: &str) -> PathBuf {
        self.store_dir().join(base_name)
    }

    /// The directory of records (`<base name>.json`).
    fn meta_dir(&self) -> PathBuf {
        self.root.join("meta")
    }

    fn meta_path(&self, base_name: &str) -> PathBuf {
        self.meta_dir().join(format!("{base_name}.json"))
    }

    /// Where an interrupted download of `url` is kept for resumption.
    pub fn partial_path(&self, url: &str) -> PathBuf {
        let h = abovo_store::hash::sha256(url.as_bytes());
        self.root
            .join("partial")
            .join(abovo_store::encoding::base16_encode(&h[..16]))
    }

    fn err(&self, what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> CacheError {
        let root = self.root.clone();
        let path = path.to_owned();
        move |source| CacheError {
            root,
            what,
            path,
            source,
        }
    }

    /// Creates `dir` under the cache (and the cache).
    pub fn ensure(&self, dir: &Path) -> Result<(), CacheError> {
        std::fs::create_dir_all(dir).map_err(self.err("create", dir))
    }

    /// A fresh, empty scratch path under `tmp/` (on the cache's file
    /// system, so that a rename into `store/` is atomic).
    pub fn scratch(&self, base_name: &str) -> Result<PathBuf, CacheError> {
        let tmp = self.root.join("tmp");
        self.ensure(&tmp)?;
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = tmp.join(format!("{}-{n}-{base_name}", std::process::id()));
        remove_any(&p);
        Ok(p)
    }

    /// The same cache for a batch of lookups: its records are listed
    /// once, when first asked, and a name not listed is not looked up; a
    /// record written meanwhile may be missed, as it would be a moment
    /// earlier. Clones of the batch share the listing. For reading: an
    /// item the batch itself inserts is not in its listing.
    pub fn batch(&self) -> Cache {
        Cache {
            root: self.root.clone(),
            listed: Some(Arc::default()),
        }
    }

    /// Whether the cache may hold a record of `base_name`: `false` only in
    /// a batch whose listing lacks it; `true` when a lookup must tell.
    pub fn may_hold(&self, base_name: &str) -> bool {
        self.listing().is_none_or(|names| names.contains(base_name))
    }

    /// Whether the cache surely holds no record at all (in a batch, from
    /// its listing; else whether its records' directory is missing).
    pub fn holds_none(&self) -> bool {
        match &self.listed {
            Some(_) => self.listing().is_some_and(HashSet::is_empty),
            None => !self.meta_dir().is_dir(),
        }
    }

    /// In a batch that could list its records, the names listed (listed
    /// on the first call, shared by the batch's clones); `None` outside a
    /// batch or when the listing failed: each name must be looked up.
    fn listing(&self) -> Option<&HashSet<String>> {
        self.listed
            .as_ref()?
            .get_or_init(|| names_ending_in(&self.meta_dir(), ".json"))
            .as_ref()
    }

    /// The record of `base_name`, when the cache holds it and its content
    /// is still in place (a file or directory where the record says).
    pub fn lookup(&self, base_name: &str) -> Option<Record> {
        if !self.may_hold(base_name) {
            return None;
        }
        let text = std::fs::read(self.meta_path(base_name)).ok()?;
        let record: Record = serde_json::from_slice(&text).ok()?;
        std::fs::symlink_metadata(self.item_path(base_name))
            .ok()
            .map(|_| record)
    }

    /// Moves verified content at `scratch` into the store as `base_name`,
    /// then writes its record; both by rename. Content already there (put
    /// by another process) is kept and `scratch` removed.
    pub fn insert(
        &self,
        base_name: &str,
        scratch: &Path,
        record: &Record,
    ) -> Result<(), CacheError> {
        let store = self.store_dir();
        self.ensure(&store)?;
        let target = self.item_path(base_name);
        make_read_only(scratch);
        if std::fs::symlink_metadata(&target).is_ok() {
            remove_any(scratch);
        } else if let Err(e) = std::fs::rename(scratch, &target) {
            if std::fs::symlink_metadata(&target).is_err() {
                remove_any(scratch);
                return Err(self.err("move into the cache", &target)(e));
            }
            remove_any(scratch);
        }
        let meta = self.meta_path(base_name);
        let text = serde_json::to_vec_pretty(record).unwrap_or_default();
        self.write_atomic(&meta, &text)
    }

    /// Writes `bytes` to `path` under the cache through a temporary name
    /// and a rename.
    pub fn write_atomic(&self, path: &Path, bytes: &[u8]) -> Result<(), CacheError> {
        if let Some(parent) = path.parent() {
            self.ensure(parent)?;
        }
        let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
        std::fs::write(&tmp, bytes).map_err(self.err("write", &tmp))?;
        std::fs::rename(&tmp, path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            self.err("rename", path)(e)
        })
    }

    /// Keeps an accepted narinfo (its text as served) for `hash_part`.
    pub fn put_narinfo(&self, hash_part: &str, text: &str) -> Result<(), CacheError> {
        let path = self.narinfo_dir().join(format!("{hash_part}.narinfo"));
        self.write_atomic(&path, text.as_bytes())
    }

    /// Adds `seen` to the record of `base_name` (one narinfo per server:
    /// a newer one replaces what the record held for its server). Nothing
    /// when the cache does not hold the item.
    pub fn add_narinfos(&self, base_name: &str, seen: &[SeenNarinfo]) -> Result<(), CacheError> {
        let Some(mut record) = self.lookup(base_name) else {
            return Ok(());
        };
        for s in seen {
            record.narinfos.retain(|old| old.server != s.server);
            record.narinfos.push(s.clone());
        }
        let text = serde_json::to_vec_pretty(&record).unwrap_or_default();
        self.write_atomic(&self.meta_path(base_name), &text)
    }
}

/// Removes a file or tree, whatever its modes; nothing when absent.
pub fn remove_any(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return;
    };
    if meta.is_dir() {
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755));
        if let Ok(entries) = std::fs::read_dir(path) {
            for e in entries.flatten() {
                remove_any(&e.path());
            }
        }
        let _ = std::fs::remove_dir(path);
    } else {
        let _ = std::fs::remove_file(path);
    }
}

/// Makes a file or tree read-only as the store does (0444, or 0555 for
/// executables and directories); symbolic links are left alone.
fn make_read_only(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return;
    };
    if meta.is_dir() {
        if let Ok(entries) = std::fs::read_dir(path) {
            for e in entries.flatten() {
                make_read_only(&e.path());
            }
        }
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o555));
    } else if meta.is_file() {
        let mode = if meta.permissions().mode() & 0o100 != 0 {
            0o555
        } else {
            0o444
        };
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
    }
}

/// The names of the entries of `dir` that end in `suffix`, without it: an
/// empty set when `dir` does not exist, `None` when it cannot be listed.
/// For a caller about to look up many names there, most of them absent.
pub fn names_ending_in(dir: &Path, suffix: &str) -> Option<HashSet<String>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Some(HashSet::new()),
        Err(_) => return None,
    };
    let mut names = HashSet::new();
    for e in entries {
        let name = e.ok()?.file_name();
        if let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(suffix)) {
            names.insert(stem.to_owned());
        }
    }
    Some(names)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    /// A record of a one-byte item `base`.
    fn record_of(base: &str) -> Record {
        Record {
            store_path: format!("/gnu/store/{base}"),
            hash: "sha256:x".into(),
            measured: Measured {
                bytes: 1,
                nar_size: 120,
                nar_hash: None,
            },
            source: "test".into(),
            source_kind: "store".into(),
            verified_at: 0,
            narinfos: Vec::new(),
        }
    }

    #[test]
    fn items_appear_whole_with_their_record() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().join("c"));
        let base = "0123456789abcdfghijklmnpqrsvwxyz-f";
        assert!(cache.lookup(base).is_none());
        let scratch = cache.scratch(base).unwrap();
        std::fs::write(&scratch, b"x").unwrap();
        let record = record_of(base);
        cache.insert(base, &scratch, &record).unwrap();
        assert_eq!(cache.lookup(base), Some(record.clone()));
        assert_eq!(std::fs::read(cache.item_path(base)).unwrap(), b"x");
        assert!(!scratch.exists());
        // Inserting again keeps what is there.
        let scratch = cache.scratch(base).unwrap();
        std::fs::write(&scratch, b"y").unwrap();
        cache.insert(base, &scratch, &record).unwrap();
        assert_eq!(std::fs::read(cache.item_path(base)).unwrap(), b"x");
        // The narinfos seen for it join the record, one per server.
        let seen = |server: &str, text: &str| SeenNarinfo {
            server: server.into(),
            text: text.into(),
        };
        cache
            .add_narinfos(base, &[seen("http://a", "old"), seen("http://b", "b")])
            .unwrap();
        cache
            .add_narinfos(base, &[seen("http://a", "new")])
            .unwrap();
        let kept = cache.lookup(base).unwrap().narinfos;
        assert_eq!(kept, [seen("http://b", "b"), seen("http://a", "new")]);
        // A record written before narinfos were kept reads as none.
        let old = r#"{"store_path":"/gnu/store/x","hash":"sha256:x","bytes":1,"nar_size":120,"source":"s","source_kind":"store","verified_at":0}"#;
        let old: Record = serde_json::from_str(old).unwrap();
        assert!(old.narinfos.is_empty());
        // Content without its record is not an item.
        remove_any(&cache.meta_path(base));
        assert!(cache.lookup(base).is_none());
        // Nothing is left in tmp/.
        assert_eq!(
            std::fs::read_dir(dir.path().join("c/tmp")).unwrap().count(),
            0
        );
    }

    /// A batch lists the records once: it answers from the listing (a
    /// name absent there is not opened; an item is found as by a plain
    /// lookup), and a record written after the listing is the plain
    /// cache's only.
    #[test]
    fn a_batch_lists_the_records_once() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().join("c"));
        let batch = cache.batch();
        // No cache directory at all: it holds nothing.
        assert!(cache.holds_none() && batch.holds_none());
        let base = |i: u8| format!("0123456789abcdfghijklmnpqrsvwxy{}-f", i);
        let record = |i: u8| record_of(&base(i));
        let put = |i: u8| {
            let scratch = cache.scratch(&base(i)).unwrap();
            std::fs::write(&scratch, b"x").unwrap();
            cache.insert(&base(i), &scratch, &record(i)).unwrap();
        };
        put(1);
        let batch = cache.batch();
        assert!(!cache.holds_none() && !batch.holds_none());
        assert!(batch.may_hold(&base(1)) && !batch.may_hold(&base(2)));
        assert!(cache.may_hold(&base(2)));
        assert_eq!(batch.lookup(&base(1)), Some(record(1)));
        // Written after the listing: the plain cache sees it, the batch
        // and its clones (sharing the listing) do not.
        put(2);
        assert_eq!(cache.lookup(&base(2)), Some(record(2)));
        assert_eq!(batch.lookup(&base(2)), None);
        assert_eq!(batch.clone().lookup(&base(2)), None);
        // A new batch lists again.
        assert_eq!(cache.batch().lookup(&base(2)), Some(record(2)));
        // Listed but gone (its content removed): the lookup still checks.
        remove_any(&cache.item_path(&base(1)));
        assert_eq!(cache.batch().lookup(&base(1)), None);
    }
}
