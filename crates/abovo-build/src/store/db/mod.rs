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
//! Beside them abovo keeps one table of its own, `AbovoInputTrees`
//! (`input_trees`), which Guix's tools ignore.
//!
//! Connection settings follow the daemon: foreign keys on, WAL journal with
//! `wal_autocheckpoint = 40000`, `synchronous = normal`. Every change happens
//! in one `BEGIN IMMEDIATE` transaction, so a process killed half-way leaves
//! either all of a registration or none of it. A busy timeout lets several
//! abovo processes share one database.
//!
//! | module | job |
//! | --- | --- |
//! | this one | the schema, opening a database abovo owns |
//! | [`read_only`] | opening another daemon's database without writing next to it |
//! | `query` | what the database knows: validity, path info, references, derivers |
//! | `register` | changing it: registering and invalidating items |
//! | `input_trees` | abovo's own table: each item's tree for remote builds |

mod input_trees;
mod query;
pub mod read_only;
mod register;

pub use input_trees::{ABOVO_SCHEMA, ItemTree};
pub use read_only::ReadOnlyMode;

use super::StoreError;
use abovo_store::{Hash, StoreDir, StorePath};
use rusqlite::Connection;
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

impl Registration {
    /// The registration of a store item that is one regular file holding
    /// `bytes` (a `.drv`, a text): its NAR hash and size, no references, no
    /// deriver, no outputs. What a test or a benchmark that fills a store
    /// with files needs to make the daemon's database agree.
    pub fn regular_file(path: StorePath, bytes: &[u8]) -> Registration {
        let nar = abovo_store::nar::hash_regular_bytes(bytes, false);
        Registration {
            info: PathInfo {
                path,
                nar_hash: nar.hash,
                nar_size: nar.size,
                references: BTreeSet::new(),
                deriver: None,
                registration_time: 0,
            },
            derivation_outputs: BTreeMap::new(),
        }
    }
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
        conn.execute_batch(ABOVO_SCHEMA).map_err(sql)?;
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
        conn.execute_batch(ABOVO_SCHEMA).map_err(sql)?;
        Ok(Database {
            conn,
            store,
            file: file.to_owned(),
        })
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
}

#[cfg(test)]
mod tests;
