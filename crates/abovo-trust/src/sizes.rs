//! Sizes of seeds, and where each came from.
//!
//! In order of preference (design.md, "Sizes"): the bytes themselves (a
//! seed directory or a real store), the store database's `narSize`
//! (`--db`, opened read-only), narinfo files (`NarSize`), the graph's store
//! metadata (the snapshot's `narSize` column), and the knowledge base. A
//! size nobody has is reported as unknown, never guessed.

use crate::classify::SeedFacts;
use crate::content::ContentReport;
use crate::knowledge::KnownSeed;
use abovo_graph::Graph;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Where a size came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SizeSource {
    /// The seed's own bytes (file size, or the sum of a tree's file sizes).
    Bytes,
    /// The store database's `ValidPaths.narSize`.
    StoreDb,
    /// A narinfo file's `NarSize`.
    Narinfo,
    /// The graph's store metadata (`narSize`).
    StoreMeta,
    /// The knowledge base.
    Knowledge,
    /// Nobody has it.
    Unknown,
}

impl SizeSource {
    /// A short label for reports.
    pub fn label(self) -> &'static str {
        match self {
            SizeSource::Bytes => "bytes",
            SizeSource::StoreDb => "store db",
            SizeSource::Narinfo => "narinfo",
            SizeSource::StoreMeta => "store metadata",
            SizeSource::Knowledge => "knowledge base",
            SizeSource::Unknown => "unknown",
        }
    }
}

/// Why a size source could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SizeError {
    /// The store database could not be opened or is not Guix's schema.
    #[error("cannot use store database `{path}`: {message}")]
    Db {
        /// The database file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A narinfo directory could not be read.
    #[error("cannot read narinfo directory `{path}`: {source}")]
    Narinfo {
        /// The directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// The size sources other than the bytes and the knowledge base.
#[derive(Default)]
pub struct Sizes {
    // A connection is not shareable between threads; the audit classifies
    // in parallel, so lookups take turns.
    db: Option<std::sync::Mutex<rusqlite::Connection>>,
    narinfo_dirs: Vec<PathBuf>,
}

impl Sizes {
    /// Opens a Guix store database read-only (it is never written) and
    /// checks that it has `ValidPaths` with `narSize`.
    pub fn open_db(&mut self, path: &Path) -> Result<(), SizeError> {
        let err = |message: String| SizeError::Db {
            path: path.to_owned(),
            message,
        };
        if !path.is_file() {
            return Err(err("no such file".into()));
        }
        let flags =
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn =
            rusqlite::Connection::open_with_flags(path, flags).map_err(|e| err(e.to_string()))?;
        conn.prepare("SELECT narSize FROM ValidPaths WHERE path = ?1")
            .map_err(|e| err(format!("not a Guix store database ({e})")))?;
        self.db = Some(std::sync::Mutex::new(conn));
        Ok(())
    }

    /// Adds a directory of `<hash>.narinfo` files.
    pub fn add_narinfo_dir(&mut self, path: &Path) -> Result<(), SizeError> {
        std::fs::read_dir(path).map_err(|source| SizeError::Narinfo {
            path: path.to_owned(),
            source,
        })?;
        self.narinfo_dirs.push(path.to_owned());
        Ok(())
    }

    fn db_nar_size(&self, store_path: &str) -> Option<u64> {
        let conn = self.db.as_ref()?.lock().ok()?;
        let mut stmt = conn
            .prepare_cached("SELECT narSize FROM ValidPaths WHERE path = ?1")
            .ok()?;
        let size: Option<i64> = stmt.query_row([store_path], |row| row.get(0)).ok()?;
        // The daemon reads NULL as 0, which says nothing about the size.
        size.filter(|s| *s > 0).map(|s| s as u64)
    }

    fn narinfo_size(&self, hash_part: &str) -> Option<u64> {
        for dir in &self.narinfo_dirs {
            let Ok(text) = std::fs::read_to_string(dir.join(format!("{hash_part}.narinfo"))) else {
                continue;
            };
            if let Some(size) = narinfo_nar_size(&text) {
                return Some(size);
            }
        }
        None
    }

    /// The size of a seed and where it came from.
    pub fn size_of(
        &self,
        g: &Graph,
        facts: &SeedFacts,
        content: Option<&ContentReport>,
        bytes_at: Option<&Path>,
        known: Option<&KnownSeed>,
    ) -> (Option<u64>, SizeSource) {
        if let Some(p) = bytes_at {
            if let Ok(meta) = std::fs::metadata(p) {
                if meta.is_file() {
                    return (Some(meta.len()), SizeSource::Bytes);
                }
            }
            if let Some(c) = content {
                return (Some(c.bytes), SizeSource::Bytes);
            }
        }
        if let Some(s) = self.db_nar_size(&facts.store_path) {
            return (Some(s), SizeSource::StoreDb);
        }
        let hash_part = facts
            .base_name()
            .split_once('-')
            .map(|(h, _)| h)
            .unwrap_or("");
        if let Some(s) = self.narinfo_size(hash_part) {
            return (Some(s), SizeSource::Narinfo);
        }
        if facts.fixed.is_none() {
            if let Some(s) = g.nar_size(facts.node) {
                return (Some(s), SizeSource::StoreMeta);
            }
        }
        if let Some(s) = known.and_then(|k| k.size) {
            return (Some(s), SizeSource::Knowledge);
        }
        (None, SizeSource::Unknown)
    }
}

/// The `NarSize` field of a narinfo text.
pub fn narinfo_nar_size(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("NarSize:"))
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    #[test]
    fn narinfo_size() {
        let text = "StorePath: /gnu/store/abc-x\nURL: nar/lzip/abc\nCompression: lzip\nFileSize: 100\nNarHash: sha256:0\nNarSize: 4096\n";
        assert_eq!(narinfo_nar_size(text), Some(4096));
        assert_eq!(narinfo_nar_size("NarSize: lots\n"), None);
        assert_eq!(narinfo_nar_size(""), None);
    }

    #[test]
    fn db_must_be_guix_schema_and_is_read_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        {
            let c = rusqlite::Connection::open(&path).unwrap();
            c.execute_batch(
                "CREATE TABLE ValidPaths(id integer primary key autoincrement not null, path text unique not null,
                 hash text not null, registrationTime integer not null, deriver text, narSize integer);
                 INSERT INTO ValidPaths(path, hash, registrationTime, narSize) VALUES ('/gnu/store/aaa-x', 'sha256:00', 1, 777);",
            )
            .unwrap();
        }
        let mut s = Sizes::default();
        s.open_db(&path).unwrap();
        assert_eq!(s.db_nar_size("/gnu/store/aaa-x"), Some(777));
        assert_eq!(s.db_nar_size("/gnu/store/bbb-y"), None);
        // Writing through the connection fails: it is read-only.
        let db = s.db.as_ref().unwrap().lock().unwrap();
        assert!(db.execute("DELETE FROM ValidPaths", []).is_err());

        let other = dir.path().join("other.sqlite");
        rusqlite::Connection::open(&other)
            .unwrap()
            .execute_batch("CREATE TABLE t(x)")
            .unwrap();
        let err = Sizes::default().open_db(&other).unwrap_err();
        assert!(
            err.to_string().contains("not a Guix store database"),
            "{err}"
        );
        assert!(
            Sizes::default()
                .open_db(&dir.path().join("missing"))
                .is_err()
        );
    }
}
