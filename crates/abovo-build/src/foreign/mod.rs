//! Other daemons' stores and derivations: importing Guix's own `.drv` files,
//! and checking Guix's (or Nix's) builds without touching their store.
//!
//! | module | job |
//! | --- | --- |
//! | [`place`] | reading `.drv` files and items from a directory or a tarball |
//! | [`import`] | verifying a derivation closure and adding it to abovo's store |
//! | [`check`] | `--check` against a foreign store: rebuild in a scratch store, compare with what the other daemon registered |
//!
//! A [`ForeignStore`] is another daemon's store, read only: its directory
//! (where the items are on disk, `/gnu/store` or a copy elsewhere), the
//! store directory its paths name, and its database opened so that nothing
//! is written next to it ([`Database::open_read_only`]). A [`LocalStore`]
//! can take one as a *lower layer* ([`LocalStore::with_lower`]): its items
//! then count as valid and are read where they are, while everything the
//! local store creates (locks, chroots, outputs, logs) goes to its own
//! directories.
//!
//! [`LocalStore`]: crate::LocalStore
//! [`LocalStore::with_lower`]: crate::LocalStore::with_lower

pub mod check;
pub mod import;
pub mod place;

use crate::store::db::{Database, PathInfo, ReadOnlyMode};
use crate::store::{StoreError, item_file};
use abovo_store::{StoreDir, StorePath};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// Another daemon's store, read only.
pub struct ForeignStore {
    store_dir: StoreDir,
    real_dir: PathBuf,
    database: PathBuf,
    mode: ReadOnlyMode,
    db: Mutex<Database>,
}

impl std::fmt::Debug for ForeignStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForeignStore")
            .field("store_dir", &self.store_dir)
            .field("real_dir", &self.real_dir)
            .field("database", &self.database)
            .field("mode", &self.mode)
            .finish()
    }
}

impl ForeignStore {
    /// Opens the store whose items are in `real_dir`, with the database
    /// `database` (read only). `store_dir` is the store directory its paths
    /// name; when `None`, the one its database names.
    pub fn open(
        real_dir: &Path,
        database: &Path,
        store_dir: Option<StoreDir>,
    ) -> Result<ForeignStore, StoreError> {
        if !real_dir.is_dir() {
            return Err(StoreError::Io(crate::IoError {
                path: real_dir.to_owned(),
                action: "open the store directory",
                source: std::io::Error::from(std::io::ErrorKind::NotADirectory),
            }));
        }
        let (db, mode) = Database::open_read_only(database, store_dir)?;
        Ok(ForeignStore {
            store_dir: db.store_dir().clone(),
            real_dir: real_dir.to_owned(),
            database: database.to_owned(),
            mode,
            db: Mutex::new(db),
        })
    }

    /// Where the database of a store whose items are in `real_dir` usually
    /// is: Guix's `<root>/var/guix/db/db.sqlite` for `<root>/gnu/store`,
    /// Nix's `<root>/nix/var/nix/db/db.sqlite` for `<root>/nix/store`; the
    /// first of them that exists.
    pub fn default_database(real_dir: &Path) -> Result<PathBuf, Vec<PathBuf>> {
        let parent = real_dir.parent().unwrap_or(Path::new("/"));
        let root = parent.parent().unwrap_or(Path::new("/"));
        let candidates = vec![
            root.join("var/guix/db/db.sqlite"),
            parent.join("var/nix/db/db.sqlite"),
        ];
        match candidates.iter().find(|c| c.is_file()) {
            Some(c) => Ok(c.clone()),
            None => Err(candidates),
        }
    }

    /// The store directory its paths name (`/gnu/store`).
    pub fn store_dir(&self) -> &StoreDir {
        &self.store_dir
    }

    /// Where its items are on disk.
    pub fn real_dir(&self) -> &Path {
        &self.real_dir
    }

    /// Its database file.
    pub fn database(&self) -> &Path {
        &self.database
    }

    /// How its database was opened.
    pub fn mode(&self) -> ReadOnlyMode {
        self.mode
    }

    /// Its database, locked for this thread.
    pub fn db(&self) -> MutexGuard<'_, Database> {
        self.db.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Where `path` is on disk ([`item_file`], as for a local store).
    pub fn real_path(&self, path: &StorePath) -> PathBuf {
        item_file(&self.real_dir, path)
    }

    /// Whether its database has `path` as valid.
    pub fn is_valid(&self, path: &StorePath) -> Result<bool, StoreError> {
        self.db().is_valid(path)
    }

    /// What its database records about `path`.
    pub fn path_info(&self, path: &StorePath) -> Result<Option<PathInfo>, StoreError> {
        self.db().path_info(path)
    }
}
