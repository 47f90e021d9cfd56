//! Another daemon's database, read-only.
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

use super::Database;
use crate::store::{StoreError, io_err};
use abovo_store::StoreDir;
use rusqlite::{Connection, OptionalExtension};
use std::path::{Path, PathBuf};
use std::time::Duration;

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

impl Database {
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
        let io = |action| io_err(file, action);
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
