//! Sizes of seeds, and where each came from.
//!
//! In order of preference (docs/trust.md, "Sizes"): the bytes themselves (a
//! seed directory or a real store), the store database's `narSize`
//! (`--db`, opened read-only), narinfo files (`NarSize`), the graph's store
//! metadata (the snapshot's `narSize` column), and the knowledge base. A
//! size nobody has is reported as unknown, never guessed.
//!
//! A narinfo is input like any other: it must parse (an error names the
//! file and line) and agree with what is known of its store item — its
//! `StorePath`, its `NarHash` when the seed's NAR hash is known (a recursive
//! SHA-256 fixed-output hash, the store metadata, the store database, the
//! verified bytes), and its `NarSize` with the other sizes — or it is
//! refused with the field, the expected and the actual value.

use crate::bytes::Found;
use crate::classify::SeedFacts;
use crate::content::ContentReport;
use crate::knowledge::KnownSeed;
use abovo_graph::Graph;
use abovo_store::narinfo::NarInfo;
use abovo_store::{Hash, HashAlgo};
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
            SizeSource::Bytes => "measured",
            SizeSource::StoreDb => "store db",
            SizeSource::Narinfo => "narinfo",
            SizeSource::StoreMeta => "store metadata",
            SizeSource::Knowledge => "knowledge base",
            SizeSource::Unknown => "unknown",
        }
    }
}

/// Why a size source could not be opened or is refused.
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
    /// A narinfo directory or file could not be read.
    #[error("cannot read narinfo `{path}`: {source}")]
    Narinfo {
        /// The directory or file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A narinfo file does not parse.
    #[error("narinfo `{path}`, {}: {message}", match .line { Some(n) => format!("line {n}"), None => "as a whole".to_owned() })]
    NarinfoSyntax {
        /// The file.
        path: PathBuf,
        /// The 1-based line at fault, when one line is.
        line: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// A narinfo file contradicts what is known of its store item.
    #[error("narinfo `{path}`: field `{field}` is {actual}, expected {expected} ({because})")]
    NarinfoMismatch {
        /// The file.
        path: PathBuf,
        /// The field (`StorePath`, `NarHash`, `NarSize`).
        field: &'static str,
        /// What it should be.
        expected: String,
        /// What it is.
        actual: String,
        /// Where the expectation comes from.
        because: String,
    },
}

/// A row of the store database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DbRow {
    /// `ValidPaths.hash`, the NAR hash.
    pub nar_hash: Option<Hash>,
    /// `ValidPaths.narSize` (NULL and 0 read as unknown).
    pub nar_size: Option<u64>,
}

/// The size sources other than the bytes and the knowledge base.
#[derive(Default)]
pub struct Sizes {
    // A connection is not shareable between threads; the audit classifies
    // in parallel, so lookups take turns.
    db: Option<(PathBuf, std::sync::Mutex<rusqlite::Connection>)>,
    narinfo_dirs: Vec<PathBuf>,
}

/// What is known of a seed that its size sources must agree with.
#[derive(Debug, Clone, Copy, Default)]
pub struct Known<'a> {
    /// The bytes that are the seed, when found.
    pub found: Option<&'a Found>,
    /// Their content scan.
    pub content: Option<&'a ContentReport>,
    /// The knowledge-base entry.
    pub known: Option<&'a KnownSeed>,
    /// The store database's row.
    pub db: Option<DbRow>,
}

const QUERY: &str = "SELECT hash, narSize FROM ValidPaths WHERE path = ?1";

impl Sizes {
    /// Opens a Guix store database read-only (it is never written) and
    /// checks that it has `ValidPaths` with `hash` and `narSize`.
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
        conn.prepare(QUERY)
            .map_err(|e| err(format!("not a Guix store database ({e})")))?;
        self.db = Some((path.to_owned(), std::sync::Mutex::new(conn)));
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

    /// Whether a store database is open.
    pub(crate) fn has_db(&self) -> bool {
        self.db.is_some()
    }

    /// The narinfo directories.
    pub(crate) fn narinfo_dirs(&self) -> &[PathBuf] {
        &self.narinfo_dirs
    }

    /// The store database's row for `store_path`, if a database is open and
    /// has it. A hash that does not parse is an error naming the database.
    pub fn db_row(&self, store_path: &str) -> Result<Option<DbRow>, SizeError> {
        let Some((path, conn)) = &self.db else {
            return Ok(None);
        };
        let err = |message: String| SizeError::Db {
            path: path.clone(),
            message,
        };
        let conn = conn
            .lock()
            .map_err(|_| err("a previous lookup failed".into()))?;
        let mut stmt = conn.prepare_cached(QUERY).map_err(|e| err(e.to_string()))?;
        let row: Option<(Option<String>, Option<i64>)> =
            match stmt.query_row([store_path], |row| Ok((row.get(0)?, row.get(1)?))) {
                Ok(r) => Some(r),
                Err(rusqlite::Error::QueryReturnedNoRows) => None,
                Err(e) => return Err(err(format!("reading the row of `{store_path}`: {e}"))),
            };
        let Some((hash, size)) = row else {
            return Ok(None);
        };
        let nar_hash = match hash.as_deref() {
            None | Some("") => None,
            Some(h) => Some(
                Hash::parse_prefixed(h)
                    .map_err(|e| err(format!("the hash of `{store_path}` is not a hash ({e})")))?,
            ),
        };
        Ok(Some(DbRow {
            nar_hash,
            // The daemon reads NULL as 0, which says nothing about the size.
            nar_size: size.filter(|s| *s > 0).map(|s| s as u64),
        }))
    }

    /// The NarSize of the seed's narinfo, from the first narinfo directory
    /// that has `<hash>.narinfo`, after checking it against everything
    /// known of the seed (see [`check_narinfo`]).
    pub fn narinfo_size(
        &self,
        g: &Graph,
        facts: &SeedFacts,
        known: &Known<'_>,
    ) -> Result<Option<u64>, SizeError> {
        let hash_part = facts.hash_part().unwrap_or("");
        if hash_part.is_empty() {
            return Ok(None);
        }
        for dir in &self.narinfo_dirs {
            let path = dir.join(format!("{hash_part}.narinfo"));
            let bytes = match std::fs::read(&path) {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => return Err(SizeError::Narinfo { path, source }),
            };
            let text = match String::from_utf8(bytes) {
                Ok(t) => t,
                Err(e) => {
                    let line = e.as_bytes()[..e.utf8_error().valid_up_to()]
                        .iter()
                        .filter(|&&b| b == b'\n')
                        .count()
                        + 1;
                    return Err(SizeError::NarinfoSyntax {
                        path,
                        line: Some(line),
                        message: "not UTF-8 text".into(),
                    });
                }
            };
            let info = NarInfo::parse(&text).map_err(|e| SizeError::NarinfoSyntax {
                path: path.clone(),
                line: e.line,
                message: e.kind.to_string(),
            })?;
            check_narinfo(&path, &info, g, facts, known)?;
            return Ok(Some(info.nar_size));
        }
        Ok(None)
    }

    /// The size of a seed and where it came from. A narinfo for the seed
    /// is read and checked even when an earlier source has the size: a
    /// narinfo that contradicts what is known is refused, not skipped.
    pub fn size_of(
        &self,
        g: &Graph,
        facts: &SeedFacts,
        known: &Known<'_>,
    ) -> Result<(Option<u64>, SizeSource), SizeError> {
        let narinfo = self.narinfo_size(g, facts, known)?;
        if let Some(found) = known.found {
            if let Ok(meta) = std::fs::metadata(&found.path) {
                if meta.is_file() {
                    return Ok((Some(meta.len()), SizeSource::Bytes));
                }
            }
            if let Some(c) = known.content {
                return Ok((Some(c.bytes), SizeSource::Bytes));
            }
        }
        if let Some(s) = known.db.and_then(|r| r.nar_size) {
            return Ok((Some(s), SizeSource::StoreDb));
        }
        if let Some(s) = narinfo {
            return Ok((Some(s), SizeSource::Narinfo));
        }
        if facts.fixed.is_none() {
            if let Some(s) = g.nar_size(facts.node) {
                return Ok((Some(s), SizeSource::StoreMeta));
            }
        }
        if let Some(s) = known.known.and_then(|k| k.size) {
            return Ok((Some(s), SizeSource::Knowledge));
        }
        Ok((None, SizeSource::Unknown))
    }
}

/// The NAR hash a seed must have, and what says so: a recursive SHA-256
/// fixed-output hash, the store metadata's or the store database's NAR
/// hash, or the NAR hash of its verified bytes.
pub fn expected_nar_hash(
    g: &Graph,
    facts: &SeedFacts,
    known: &Known<'_>,
) -> Option<(Hash, &'static str)> {
    if let Some(f) = &facts.fixed {
        if f.recursive && f.hash.algo() == HashAlgo::Sha256 {
            return Some((f.hash, "the recursive fixed-output hash of its derivation"));
        }
    } else if let Some(h) = g.meta().nar_hash(facts.node) {
        return Some((h, "the NAR hash in the store metadata"));
    }
    if let Some(h) = known.db.and_then(|r| r.nar_hash) {
        return Some((h, "the NAR hash in the store database"));
    }
    known
        .found
        .and_then(|f| f.nar)
        .map(|n| (n.hash, "the NAR hash of its bytes"))
}

/// The smallest NAR of a regular file holding `n` bytes: the archive
/// framing (magic, `(`, `type`, `regular`, `contents`, `)`: 112 bytes) plus
/// the contents padded to 8 bytes. A tree holds at least as much.
fn min_nar_size(content_bytes: u64) -> u64 {
    112 + content_bytes.div_ceil(8) * 8
}

/// Checks a narinfo against what is known of its seed: its `StorePath`
/// must be the seed's; its `NarHash` the seed's NAR hash when one is known
/// ([`expected_nar_hash`]); its `NarSize` the NAR size the store database,
/// the store metadata or the bytes give, and never less than a NAR of the
/// seed's known content could be.
pub fn check_narinfo(
    path: &Path,
    info: &NarInfo,
    g: &Graph,
    facts: &SeedFacts,
    known: &Known<'_>,
) -> Result<(), SizeError> {
    let mismatch = |field: &'static str, expected: String, actual: String, because: &str| {
        SizeError::NarinfoMismatch {
            path: path.to_owned(),
            field,
            expected,
            actual,
            because: because.to_owned(),
        }
    };
    if info.store_path != facts.store_path {
        return Err(mismatch(
            "StorePath",
            facts.store_path.clone(),
            info.store_path.clone(),
            "the seed the file is named after",
        ));
    }
    if let Some((h, because)) = expected_nar_hash(g, facts, known) {
        if info.nar_hash != h {
            return Err(mismatch(
                "NarHash",
                h.to_string(),
                info.nar_hash.to_string(),
                because,
            ));
        }
    }
    let exact = [
        (
            known.db.and_then(|r| r.nar_size),
            "the NAR size in the store database",
        ),
        (
            if facts.fixed.is_none() {
                g.nar_size(facts.node)
            } else {
                None
            },
            "the NAR size in the store metadata",
        ),
        (
            known.found.and_then(|f| f.nar).map(|n| n.size),
            "the NAR size of its bytes",
        ),
    ];
    for (size, because) in exact {
        if let Some(s) = size {
            if info.nar_size != s {
                return Err(mismatch(
                    "NarSize",
                    s.to_string(),
                    info.nar_size.to_string(),
                    because,
                ));
            }
        }
    }
    // The bytes found: a single file's own length (what its NAR holds;
    // the scan of an archive counts what is inside, which can be more), or
    // the sum of a tree's files.
    let found_bytes = match known.found.and_then(|f| std::fs::metadata(&f.path).ok()) {
        Some(m) if m.is_file() => Some(m.len()),
        _ => known.content.map(|c| c.bytes),
    };
    let content = [
        (found_bytes, "at least a NAR of the bytes found"),
        (
            known.known.and_then(|k| k.size),
            "at least a NAR of the size in the knowledge base",
        ),
    ];
    for (size, because) in content {
        if let Some(s) = size {
            let least = min_nar_size(s);
            if info.nar_size < least {
                return Err(mismatch(
                    "NarSize",
                    format!("{least} or more"),
                    info.nar_size.to_string(),
                    because,
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    #[test]
    fn the_smallest_nar_of_a_file_is_exact() {
        for n in [0usize, 1, 7, 8, 9, 357, 4096] {
            let content = vec![b'x'; n];
            let nar = abovo_store::nar::hash_regular_bytes(&content, false);
            assert_eq!(min_nar_size(n as u64), nar.size, "{n} bytes");
        }
    }

    #[test]
    fn db_must_be_guix_schema_and_is_read_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        let h = HashAlgo::Sha256.digest(b"x");
        {
            let c = rusqlite::Connection::open(&path).unwrap();
            c.execute_batch(&format!(
                "CREATE TABLE ValidPaths(id integer primary key autoincrement not null, path text unique not null,
                 hash text not null, registrationTime integer not null, deriver text, narSize integer);
                 INSERT INTO ValidPaths(path, hash, registrationTime, narSize) VALUES ('/gnu/store/aaa-x', '{}', 1, 777);
                 INSERT INTO ValidPaths(path, hash, registrationTime, narSize) VALUES ('/gnu/store/ccc-z', 'sha256:nothex', 1, 0);",
                h.to_db_string()
            ))
            .unwrap();
        }
        let mut s = Sizes::default();
        s.open_db(&path).unwrap();
        let row = s.db_row("/gnu/store/aaa-x").unwrap().unwrap();
        assert_eq!(row.nar_size, Some(777));
        assert_eq!(row.nar_hash, Some(h));
        assert_eq!(s.db_row("/gnu/store/bbb-y").unwrap(), None);
        // A hash that does not parse is an error naming the database.
        let err = s.db_row("/gnu/store/ccc-z").unwrap_err().to_string();
        assert!(err.contains("db.sqlite") && err.contains("ccc-z"), "{err}");
        // Writing through the connection fails: it is read-only.
        let db = s.db.as_ref().unwrap().1.lock().unwrap();
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
