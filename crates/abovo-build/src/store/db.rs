//! The store database: SQLite with the Guix schema, byte for byte.
//!
//! The tables and indexes are those of Guix's `guix/store/schema.sql`
//! (docs/formats.md §9), so a Guix tool can read an abovo database and the other
//! way round:
//!
//! * `ValidPaths(id, path, hash, registrationTime, deriver, narSize)`: one
//!   row per valid store item; `hash` is `sha256:<base16>` of its NAR;
//! * `Refs(referrer, reference)`: the references, self-references included;
//! * `DerivationOutputs(drv, id, path)`: for every registered `.drv`, its
//!   outputs;
//! * `FailedPaths(path, time)`: kept for compatibility, unused by abovo.
//!
//! Connection settings follow the daemon: foreign keys on, WAL journal with
//! `wal_autocheckpoint = 40000`, `synchronous = normal`. Every change happens
//! in one `BEGIN IMMEDIATE` transaction, so a process killed half-way leaves
//! either all of a registration or none of it. A busy timeout lets several
//! abovo processes share one database.
//!
//! # Another daemon's database, read-only
//!
//! [`Database::open_read_only`] opens the database of a Guix or Nix store
//! (`/var/guix/db/db.sqlite`, `/nix/var/nix/db/db.sqlite`: the same schema)
//! without writing anything next to it. SQLite's `mode=ro` is not enough:
//! a read-only connection to a WAL database creates `db.sqlite-wal` and
//! `db.sqlite-shm` when they are missing and leaves them behind (the test
//! `read_only_creates_no_file` shows it). So:
//!
//! * without a WAL file (or with an empty one), every committed
//!   transaction is in the main file, which is opened `immutable=1`: no
//!   lock, no journal, no shared memory, no file created;
//! * with a non-empty WAL and its shared-memory index (a running daemon),
//!   the database is opened `mode=ro` and reads the WAL through the
//!   existing index, as any reader next to guix-daemon does; it creates no
//!   file and writes neither the database nor its WAL (a reader only takes
//!   read locks in the index);
//! * a non-empty WAL without its index (a daemon that was killed) cannot be
//!   read without creating the index, so the main file alone is read,
//!   `immutable=1`, and [`ReadOnlyMode::WalIgnored`] says that the last
//!   registrations may be missing.
//!
//! Every such connection also sets `query_only`.

use super::StoreError;
use abovo_store::{Hash, StoreDir, StorePath};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The schema, as Guix's `schema.sql` has it (every statement is idempotent).
pub const SCHEMA: &str = "
create table if not exists ValidPaths (
    id               integer primary key autoincrement not null,
    path             text unique not null,
    hash             text not null,
    registrationTime integer not null,
    deriver          text,
    narSize          integer
);

create table if not exists Refs (
    referrer  integer not null,
    reference integer not null,
    primary key (referrer, reference),
    foreign key (referrer) references ValidPaths(id) on delete cascade,
    foreign key (reference) references ValidPaths(id) on delete restrict
);

create index if not exists IndexReferrer on Refs(referrer);
create index if not exists IndexReference on Refs(reference);

create trigger if not exists DeleteSelfRefs before delete on ValidPaths
  begin
    delete from Refs where referrer = old.id and reference = old.id;
  end;

create table if not exists DerivationOutputs (
    drv  integer not null,
    id   text not null,
    path text not null,
    primary key (drv, id),
    foreign key (drv) references ValidPaths(id) on delete cascade
);

create index if not exists IndexDerivationOutputs on DerivationOutputs(path);

create table if not exists FailedPaths (
    path text primary key not null,
    time integer not null
);
";

/// The schema version Guix writes to `db/schema` ("Guix always used version 7").
pub const SCHEMA_VERSION: &str = "7";

/// What the database knows about one valid store item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathInfo {
    /// The item.
    pub path: StorePath,
    /// SHA-256 of its NAR serialisation.
    pub nar_hash: Hash,
    /// Length of its NAR serialisation in bytes.
    pub nar_size: u64,
    /// The store items its bytes mention (possibly itself).
    pub references: BTreeSet<StorePath>,
    /// The derivation that built it, if any.
    pub deriver: Option<StorePath>,
    /// When it was registered, in Unix seconds.
    pub registration_time: i64,
}

/// One item to register: its [`PathInfo`] (the time is filled in) and, for a
/// `.drv`, its outputs for `DerivationOutputs`.
#[derive(Debug, Clone)]
pub struct Registration {
    /// The item and its metadata.
    pub info: PathInfo,
    /// Output name to output path, when the item is a derivation.
    pub derivation_outputs: BTreeMap<String, StorePath>,
}

/// How [`Database::open_read_only`] opened a database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadOnlyMode {
    /// The main file only, `immutable=1` (there was no WAL to read).
    Immutable,
    /// `mode=ro`, through the existing WAL and its index.
    ThroughWal,
    /// The main file only, `immutable=1`, although a WAL exists: its index
    /// is missing, and creating it would write next to the database. The
    /// registrations still in the WAL are not seen.
    WalIgnored,
}

/// An open store database.
pub struct Database {
    conn: Connection,
    store: StoreDir,
    file: PathBuf,
}

impl Database {
    /// Opens (creating if needed) `<db_dir>/db.sqlite` and writes the schema
    /// version file next to it.
    pub fn open(db_dir: &Path, store: StoreDir) -> Result<Database, StoreError> {
        let file = db_dir.join("db.sqlite");
        let sql = |source| StoreError::Database {
            file: file.clone(),
            source,
        };
        let conn = Connection::open(&file).map_err(sql)?;
        conn.busy_timeout(Duration::from_secs(600)).map_err(sql)?;
        conn.execute_batch(
            "pragma foreign_keys = 1;
             pragma journal_mode = wal;
             pragma wal_autocheckpoint = 40000;
             pragma synchronous = normal;",
        )
        .map_err(sql)?;
        conn.execute_batch(SCHEMA).map_err(sql)?;
        let schema_file = db_dir.join("schema");
        if !schema_file.exists() {
            super::write_file_atomically(&schema_file, SCHEMA_VERSION.as_bytes())?;
        }
        Ok(Database { conn, store, file })
    }

    /// A database in memory, with the schema, for a store that lives no
    /// longer than its process (the scratch store of a foreign `--check`):
    /// nothing on disk, nothing to sync. `file` names it in messages.
    pub fn open_in_memory(file: &Path, store: StoreDir) -> Result<Database, StoreError> {
        let sql = |source| StoreError::Database {
            file: file.to_owned(),
            source,
        };
        let conn = Connection::open_in_memory().map_err(sql)?;
        conn.execute_batch("pragma foreign_keys = 1;")
            .map_err(sql)?;
        conn.execute_batch(SCHEMA).map_err(sql)?;
        Ok(Database {
            conn,
            store,
            file: file.to_owned(),
        })
    }

    /// Opens another daemon's database (Guix's or Nix's) for reading only,
    /// creating and changing nothing (see the module docs). `store` is the
    /// store directory its paths name; when `None`, the directory of its
    /// first path (a database that holds none is refused).
    pub fn open_read_only(
        file: &Path,
        store: Option<StoreDir>,
    ) -> Result<(Database, ReadOnlyMode), StoreError> {
        use rusqlite::OpenFlags;
        let sql = |source| StoreError::Database {
            file: file.to_owned(),
            source,
        };
        let io = |action| super::io_err(file, action);
        // A FIFO or device would block or never end; only a regular file is
        // a database.
        let meta = std::fs::metadata(file).map_err(io("open the database"))?;
        if !meta.is_file() {
            return Err(StoreError::CorruptDatabase {
                file: file.to_owned(),
                reason: "it is not a regular file".into(),
            });
        }
        let absolute = std::path::absolute(file).map_err(io("resolve"))?;
        let side = |suffix: &str| {
            let mut s = absolute.as_os_str().to_owned();
            s.push(suffix);
            PathBuf::from(s)
        };
        let wal_len = std::fs::metadata(side("-wal")).map_or(0, |m| m.len());
        let mode = match (wal_len, side("-shm").is_file()) {
            (0, _) => ReadOnlyMode::Immutable,
            (_, true) => ReadOnlyMode::ThroughWal,
            (_, false) => ReadOnlyMode::WalIgnored,
        };
        let params = match mode {
            ReadOnlyMode::ThroughWal => "mode=ro",
            ReadOnlyMode::Immutable | ReadOnlyMode::WalIgnored => "mode=ro&immutable=1",
        };
        let uri = format!("file:{}?{params}", uri_path(&absolute));
        let conn = Connection::open_with_flags(
            &uri,
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_URI
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sql)?;
        conn.busy_timeout(Duration::from_secs(600)).map_err(sql)?;
        conn.execute_batch("pragma query_only = 1;").map_err(sql)?;
        // A file that is not a store database says so now rather than at
        // the first query.
        let corrupt = |reason: String| StoreError::CorruptDatabase {
            file: file.to_owned(),
            reason,
        };
        let first: Option<String> = conn
            .query_row("select path from ValidPaths limit 1", [], |r| r.get(0))
            .optional()
            .map_err(|e| corrupt(format!("it is not a Guix or Nix store database ({e})")))?;
        let store = match store {
            Some(s) => s,
            None => {
                let first = first.ok_or_else(|| {
                    corrupt("it holds no store item, so its store directory is unknown".into())
                })?;
                let dir = first.rsplit_once('/').map_or("", |(d, _)| d);
                StoreDir::new(dir).map_err(|e| {
                    corrupt(format!(
                        "its path `{first}` is not in a store directory: {e}"
                    ))
                })?
            }
        };
        Ok((
            Database {
                conn,
                store,
                file: file.to_owned(),
            },
            mode,
        ))
    }

    /// The database file.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// The store directory its paths name.
    pub fn store_dir(&self) -> &StoreDir {
        &self.store
    }

    fn sql_err(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Database {
            file: self.file.clone(),
            source,
        }
    }

    fn parse_path(&self, text: &str) -> Result<StorePath, StoreError> {
        self.store
            .parse(text)
            .map_err(|e| StoreError::CorruptDatabase {
                file: self.file.clone(),
                reason: format!("invalid store path `{text}`: {e}"),
            })
    }

    /// Whether `path` is registered as valid.
    pub fn is_valid(&self, path: &StorePath) -> Result<bool, StoreError> {
        self.conn
            .query_row(
                "select 1 from ValidPaths where path = ?1",
                [self.store.display(path)],
                |_| Ok(()),
            )
            .optional()
            .map(|r| r.is_some())
            .map_err(|e| self.sql_err(e))
    }

    /// Everything the database records about `path`, or `None` when it is not
    /// valid.
    pub fn path_info(&self, path: &StorePath) -> Result<Option<PathInfo>, StoreError> {
        let row = self
            .conn
            .query_row(
                "select id, hash, registrationTime, deriver, narSize from ValidPaths where path = ?1",
                [self.store.display(path)],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, Option<i64>>(4)?,
                    ))
                },
            )
            .optional()
            .map_err(|e| self.sql_err(e))?;
        let Some((id, hash, time, deriver, size)) = row else {
            return Ok(None);
        };
        let corrupt = |reason: String| StoreError::CorruptDatabase {
            file: self.file.clone(),
            reason,
        };
        let nar_hash = Hash::parse_prefixed(&hash)
            .map_err(|e| corrupt(format!("hash of `{}`: {e}", self.store.display(path))))?;
        let deriver = match deriver.as_deref() {
            None | Some("") => None,
            Some(d) => Some(self.parse_path(d)?),
        };
        Ok(Some(PathInfo {
            path: path.clone(),
            nar_hash,
            // Guix reads a NULL narSize as 0.
            nar_size: size.unwrap_or(0).max(0) as u64,
            references: self.references_by_id(id)?,
            deriver,
            registration_time: time,
        }))
    }

    fn references_by_id(&self, id: i64) -> Result<BTreeSet<StorePath>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "select path from Refs join ValidPaths on reference = id where referrer = ?1",
            )
            .map_err(|e| self.sql_err(e))?;
        let rows = stmt
            .query_map([id], |r| r.get::<_, String>(0))
            .map_err(|e| self.sql_err(e))?;
        let mut out = BTreeSet::new();
        for row in rows {
            out.insert(self.parse_path(&row.map_err(|e| self.sql_err(e))?)?);
        }
        Ok(out)
    }

    /// The valid items that refer to `path`.
    pub fn referrers(&self, path: &StorePath) -> Result<BTreeSet<StorePath>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "select v.path from Refs join ValidPaths v on referrer = v.id
                 where reference = (select id from ValidPaths where path = ?1)",
            )
            .map_err(|e| self.sql_err(e))?;
        let rows = stmt
            .query_map([self.store.display(path)], |r| r.get::<_, String>(0))
            .map_err(|e| self.sql_err(e))?;
        let mut out = BTreeSet::new();
        for row in rows {
            out.insert(self.parse_path(&row.map_err(|e| self.sql_err(e))?)?);
        }
        Ok(out)
    }

    /// Every valid item, sorted.
    pub fn valid_paths(&self) -> Result<Vec<StorePath>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("select path from ValidPaths order by path")
            .map_err(|e| self.sql_err(e))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| self.sql_err(e))?;
        rows.map(|r| self.parse_path(&r.map_err(|e| self.sql_err(e))?))
            .collect()
    }

    /// The valid item whose hash part is `hash_part` (32 nix32
    /// characters), as Nix's `queryPathFromHashPart`: what a substitute
    /// server needs to answer `/<hash>.narinfo`. A range scan of the path
    /// index, so it costs one lookup whatever the store's size.
    pub fn path_from_hash_part(&self, hash_part: &str) -> Result<Option<StorePath>, StoreError> {
        let prefix = format!("{}/{hash_part}", self.store.as_str());
        let row = self
            .conn
            .prepare_cached("select path from ValidPaths where path >= ?1 limit 1")
            .and_then(|mut stmt| {
                stmt.query_row([&prefix], |r| r.get::<_, String>(0))
                    .optional()
            })
            .map_err(|e| self.sql_err(e))?;
        match row {
            Some(p) if p.starts_with(&prefix) && p.as_bytes().get(prefix.len()) == Some(&b'-') => {
                Ok(Some(self.parse_path(&p)?))
            }
            _ => Ok(None),
        }
    }

    /// The outputs recorded for a registered derivation.
    pub fn derivation_outputs(
        &self,
        drv: &StorePath,
    ) -> Result<BTreeMap<String, StorePath>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "select d.id, d.path from DerivationOutputs d join ValidPaths v on d.drv = v.id
                 where v.path = ?1",
            )
            .map_err(|e| self.sql_err(e))?;
        let rows = stmt
            .query_map([self.store.display(drv)], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(|e| self.sql_err(e))?;
        let mut out = BTreeMap::new();
        for row in rows {
            let (id, path) = row.map_err(|e| self.sql_err(e))?;
            out.insert(id, self.parse_path(&path)?);
        }
        Ok(out)
    }

    /// The valid derivations that list `output` among their outputs.
    pub fn valid_derivers(&self, output: &StorePath) -> Result<Vec<StorePath>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "select v.path from DerivationOutputs d join ValidPaths v on d.drv = v.id
                 where d.path = ?1",
            )
            .map_err(|e| self.sql_err(e))?;
        let rows = stmt
            .query_map([self.store.display(output)], |r| r.get::<_, String>(0))
            .map_err(|e| self.sql_err(e))?;
        rows.map(|r| self.parse_path(&r.map_err(|e| self.sql_err(e))?))
            .collect()
    }

    /// Registers `items` in one transaction, as the daemon's
    /// `registerValidPaths` does: insert or update each row, then add the
    /// references (which must be valid or among `items`) and the derivation
    /// outputs. Either all of it is committed or none.
    pub fn register(&mut self, items: &[Registration], now: i64) -> Result<(), StoreError> {
        let file = self.file.clone();
        let store = self.store.clone();
        let sql = |source| StoreError::Database {
            file: file.clone(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        for item in items {
            let info = &item.info;
            let path = store.display(&info.path);
            let deriver = info.deriver.as_ref().map(|d| store.display(d));
            let size = i64::try_from(info.nar_size).unwrap_or(i64::MAX);
            let updated = tx
                .execute(
                    "update ValidPaths set hash = ?2, deriver = ?3, narSize = ?4 where path = ?1",
                    params![path, info.nar_hash.to_db_string(), deriver, size],
                )
                .map_err(sql)?;
            if updated == 0 {
                tx.execute(
                    "insert into ValidPaths (path, hash, registrationTime, deriver, narSize)
                     values (?1, ?2, ?3, ?4, ?5)",
                    params![path, info.nar_hash.to_db_string(), now, deriver, size],
                )
                .map_err(sql)?;
            }
        }
        for item in items {
            let referrer = store.display(&item.info.path);
            let id: i64 = tx
                .query_row(
                    "select id from ValidPaths where path = ?1",
                    [&referrer],
                    |r| r.get(0),
                )
                .map_err(sql)?;
            for reference in &item.info.references {
                let reference = store.display(reference);
                let rid: Option<i64> = tx
                    .query_row(
                        "select id from ValidPaths where path = ?1",
                        [&reference],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(sql)?;
                let Some(rid) = rid else {
                    return Err(StoreError::InvalidReference {
                        path: referrer,
                        reference,
                    });
                };
                tx.execute(
                    "insert or replace into Refs (referrer, reference) values (?1, ?2)",
                    params![id, rid],
                )
                .map_err(sql)?;
            }
            for (output, out_path) in &item.derivation_outputs {
                tx.execute(
                    "insert or replace into DerivationOutputs (drv, id, path) values (?1, ?2, ?3)",
                    params![id, output, store.display(out_path)],
                )
                .map_err(sql)?;
            }
        }
        tx.commit().map_err(sql)
    }

    /// Removes `paths` from the database in one transaction. Fails (and
    /// changes nothing) when a remaining valid item still refers to one of
    /// them, which keeps the closure property.
    pub fn invalidate(&mut self, paths: &[StorePath]) -> Result<(), StoreError> {
        let file = self.file.clone();
        let store = self.store.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|source| StoreError::Database {
                file: file.clone(),
                source,
            })?;
        for p in paths {
            let path = store.display(p);
            tx.execute("delete from ValidPaths where path = ?1", [&path])
                .map_err(|source| match source {
                    rusqlite::Error::SqliteFailure(e, _)
                        if e.code == rusqlite::ErrorCode::ConstraintViolation =>
                    {
                        StoreError::StillReferenced(path.clone())
                    }
                    source => StoreError::Database {
                        file: file.clone(),
                        source,
                    },
                })?;
        }
        tx.commit()
            .map_err(|source| StoreError::Database { file, source })
    }

    /// SQLite's own consistency check plus a foreign key check; the problems
    /// found, empty when there are none.
    pub fn integrity_problems(&self) -> Result<Vec<String>, StoreError> {
        let mut problems = Vec::new();
        let mut stmt = self
            .conn
            .prepare("pragma integrity_check")
            .map_err(|e| self.sql_err(e))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| self.sql_err(e))?;
        for row in rows {
            let row = row.map_err(|e| self.sql_err(e))?;
            if row != "ok" {
                problems.push(format!("SQLite integrity check: {row}"));
            }
        }
        let mut stmt = self
            .conn
            .prepare("pragma foreign_key_check")
            .map_err(|e| self.sql_err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Option<i64>>(1)?))
            })
            .map_err(|e| self.sql_err(e))?;
        for row in rows {
            let (table, rowid) = row.map_err(|e| self.sql_err(e))?;
            problems.push(format!(
                "table {table} row {} refers to a missing item",
                rowid.map_or("?".to_owned(), |r| r.to_string())
            ));
        }
        Ok(problems)
    }
}

/// `path` as the path of a `file:` URI: every byte but the unreserved ones
/// and `/` percent-encoded, so that `?`, `#` and `%` in a directory name
/// are not taken for URI syntax.
fn uri_path(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut out = String::new();
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    fn path(store: &StoreDir, name: &str) -> StorePath {
        store.make_text_path(name, name.as_bytes(), []).unwrap()
    }

    fn info(p: &StorePath, refs: &[&StorePath]) -> Registration {
        Registration {
            info: PathInfo {
                path: p.clone(),
                nar_hash: Hash::sha256([7; 32]),
                nar_size: 120,
                references: refs.iter().map(|r| (*r).clone()).collect(),
                deriver: None,
                registration_time: 0,
            },
            derivation_outputs: BTreeMap::new(),
        }
    }

    #[test]
    fn register_query_and_invalidate() {
        let dir = tempfile::tempdir().unwrap();
        let store = StoreDir::new("/gnu/store").unwrap();
        let mut db = Database::open(dir.path(), store.clone()).unwrap();
        let a = path(&store, "a");
        let b = path(&store, "b");
        // b refers to a and to itself; both in one transaction.
        db.register(&[info(&b, &[&a, &b]), info(&a, &[])], 42)
            .unwrap();
        assert!(db.is_valid(&a).unwrap());
        let got = db.path_info(&b).unwrap().unwrap();
        assert_eq!(got.references, [a.clone(), b.clone()].into());
        assert_eq!(got.registration_time, 42);
        assert_eq!(got.nar_size, 120);
        assert_eq!(db.referrers(&a).unwrap(), [b.clone()].into());
        // a is still referenced by b: refused, nothing changes.
        assert!(matches!(
            db.invalidate(std::slice::from_ref(&a)),
            Err(StoreError::StillReferenced(_))
        ));
        assert!(db.is_valid(&a).unwrap());
        // b's self-reference does not block its own removal (DeleteSelfRefs).
        db.invalidate(&[b.clone(), a.clone()]).unwrap();
        assert!(db.valid_paths().unwrap().is_empty());
        assert!(db.integrity_problems().unwrap().is_empty());
        assert_eq!(
            std::fs::read_to_string(dir.path().join("schema")).unwrap(),
            "7"
        );
    }

    #[test]
    fn a_missing_reference_rolls_back_the_whole_registration() {
        let dir = tempfile::tempdir().unwrap();
        let store = StoreDir::default();
        let mut db = Database::open(dir.path(), store.clone()).unwrap();
        let a = path(&store, "a");
        let ghost = path(&store, "ghost");
        let err = db
            .register(&[info(&a, &[]), info(&path(&store, "c"), &[&ghost])], 1)
            .unwrap_err();
        assert!(matches!(err, StoreError::InvalidReference { .. }), "{err}");
        assert!(!db.is_valid(&a).unwrap(), "the transaction was rolled back");
    }

    /// The files of a directory with their bytes.
    fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn read_only_creates_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = StoreDir::new("/gnu/store").unwrap();
        let a = path(&store, "a");
        {
            let mut db = Database::open(dir.path(), store.clone()).unwrap();
            db.register(&[info(&a, &[&a])], 42).unwrap();
        }
        let file = dir.path().join("db.sqlite");
        // Closed cleanly: a WAL database without its WAL, as Guix leaves
        // one when no daemon runs.
        let before = snapshot(dir.path());
        assert_eq!(
            before.keys().collect::<Vec<_>>(),
            ["db.sqlite", "schema"],
            "no -wal or -shm to begin with"
        );
        {
            let (db, mode) = Database::open_read_only(&file, None).unwrap();
            assert_eq!(mode, ReadOnlyMode::Immutable);
            assert_eq!(db.store_dir(), &store, "read from its first path");
            let got = db.path_info(&a).unwrap().unwrap();
            assert_eq!(got.references, [a.clone()].into());
            assert!(
                db.conn.execute("delete from Refs", []).is_err(),
                "query_only"
            );
        }
        assert_eq!(snapshot(dir.path()), before, "nothing created or changed");

        // What plain `mode=ro` would have done: create the WAL and its
        // index next to the database, and leave them there.
        let copy = tempfile::tempdir().unwrap();
        std::fs::copy(&file, copy.path().join("db.sqlite")).unwrap();
        {
            let conn = Connection::open_with_flags(
                copy.path().join("db.sqlite"),
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )
            .unwrap();
            let n: i64 = conn
                .query_row("select count(*) from ValidPaths", [], |r| r.get(0))
                .unwrap();
            assert_eq!(n, 1);
        }
        assert!(copy.path().join("db.sqlite-shm").exists());
        assert!(copy.path().join("db.sqlite-wal").exists());
    }

    #[test]
    fn read_only_sees_a_live_wal_and_says_when_it_cannot() {
        let dir = tempfile::tempdir().unwrap();
        let store = StoreDir::new("/gnu/store").unwrap();
        let (a, b) = (path(&store, "a"), path(&store, "b"));
        // A writer that stays open, as a running daemon: its last
        // registration is only in the WAL.
        let mut writer = Database::open(dir.path(), store.clone()).unwrap();
        writer.register(&[info(&a, &[])], 1).unwrap();
        writer
            .conn
            .execute_batch("pragma wal_checkpoint(truncate)")
            .unwrap();
        writer.register(&[info(&b, &[])], 2).unwrap();
        let file = dir.path().join("db.sqlite");
        assert!(
            std::fs::metadata(dir.path().join("db.sqlite-wal"))
                .unwrap()
                .len()
                > 0
        );
        let wal_before = std::fs::read(dir.path().join("db.sqlite-wal")).unwrap();
        let main_before = std::fs::read(&file).unwrap();
        {
            let (db, mode) = Database::open_read_only(&file, Some(store.clone())).unwrap();
            assert_eq!(mode, ReadOnlyMode::ThroughWal);
            assert!(db.is_valid(&b).unwrap(), "the WAL is read");
        }
        assert_eq!(
            std::fs::read(dir.path().join("db.sqlite-wal")).unwrap(),
            wal_before
        );
        assert_eq!(std::fs::read(&file).unwrap(), main_before);

        // The WAL without its index (a killed daemon): the main file only.
        let copy = tempfile::tempdir().unwrap();
        std::fs::copy(&file, copy.path().join("db.sqlite")).unwrap();
        std::fs::write(copy.path().join("db.sqlite-wal"), &wal_before).unwrap();
        let before = snapshot(copy.path());
        {
            let (db, mode) =
                Database::open_read_only(&copy.path().join("db.sqlite"), Some(store.clone()))
                    .unwrap();
            assert_eq!(mode, ReadOnlyMode::WalIgnored);
            assert!(db.is_valid(&a).unwrap());
            assert!(!db.is_valid(&b).unwrap(), "only in the WAL, not read");
        }
        assert_eq!(snapshot(copy.path()), before);

        // Not a database, and a database without paths.
        let junk = copy.path().join("junk");
        std::fs::write(&junk, "not sqlite").unwrap();
        let err = Database::open_read_only(&junk, None)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("junk"), "{err}");
        let empty = tempfile::tempdir().unwrap();
        drop(Database::open(empty.path(), store.clone()).unwrap());
        let err = Database::open_read_only(&empty.path().join("db.sqlite"), None)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("holds no store item"), "{err}");
        drop(writer);
    }

    #[test]
    fn schema_is_guix_schema() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path(), StoreDir::default()).unwrap();
        let mut names: Vec<String> = db
            .conn
            .prepare("select name from sqlite_master where name not like 'sqlite_%' order by name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "DeleteSelfRefs",
                "DerivationOutputs",
                "FailedPaths",
                "IndexDerivationOutputs",
                "IndexReference",
                "IndexReferrer",
                "Refs",
                "ValidPaths"
            ]
        );
        let mode: String = db
            .conn
            .query_row("pragma journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }
}
