//! The local store: a store directory and its database.
//!
//! # Layout
//!
//! A store is two directories:
//!
//! * the **store directory**, any absolute path (`/gnu/store` works when
//!   abovo runs as root). Store paths name it (`<store>/<hash>-<name>`), so
//!   the same derivation has different outputs in different stores, exactly
//!   as in Guix. The default is `$XDG_DATA_HOME/abovo/store`
//!   (`~/.local/share/abovo/store`), which needs no privileges. The items
//!   may live elsewhere on disk, in the **real store directory**
//!   ([`StoreConfig::real_dir`], Nix's `real`; by default the store
//!   directory itself): a store whose paths say `/gnu/store` can keep its
//!   items in `~/x/gnu/store`, and builders still see them at `/gnu/store`
//!   inside their sandbox. That is how a user without privileges builds
//!   Guix's own derivations, whose paths name `/gnu/store`;
//! * the **state directory**, Guix's `/var/guix`: `db/db.sqlite` (Guix's
//!   schema, [`db`]), `db/schema`, `log/drvs/xx/…[.gz]` (build logs, as
//!   Guix names them) and `userpool/` (locks on build uids). By default it sits
//!   next to the (real) store: `<parent of store>/var/abovo`, so a store in
//!   `/tmp/x/store` keeps its state in `/tmp/x/var/abovo`, and the default
//!   store's state is `~/.local/share/abovo/var/abovo`. abovo never picks
//!   Guix's own `/var/guix` by itself.
//!
//! # Invariants
//!
//! * An item is *valid* when its row is in `ValidPaths`. Only valid items are
//!   used as inputs; a path in the directory without a row is garbage left
//!   by an interrupted operation and is deleted before it is rebuilt.
//! * An item is written completely (and canonicalised) before it is
//!   registered, and registration is one transaction, so a process killed at
//!   any moment leaves the valid set consistent.
//! * The references of a valid item are valid (the database's foreign keys).
//!
//! # Over another daemon's store
//!
//! A store can sit over another daemon's store, read only
//! ([`LocalStore::with_lower`], [`crate::foreign`]): that store's valid items
//! count as valid and are read where they are ([`LocalStore::item_path`]),
//! while everything this store creates stays in its own directories. This
//! is how `--check --guix-store` rebuilds against Guix's own store.

pub mod add;
pub mod db;
pub mod lock;
pub mod names;
pub mod verify;

use crate::foreign::ForeignStore;
use crate::fsutil::FsError;
use abovo_store::derivation::{Derivation, MAX_DRV_SIZE};
use abovo_store::nar::DumpError;
use abovo_store::store_path::StorePathError;
use abovo_store::{StoreDir, StorePath};
use db::{Database, PathInfo, Registration};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A system call failed.
    #[error(transparent)]
    Io(#[from] crate::IoError),
    /// The database refused an operation.
    #[error("store database `{}`: {source}", file.display())]
    Database {
        /// The database file.
        file: PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// The database holds something that cannot be read back.
    #[error("store database `{}` is corrupt: {reason}", file.display())]
    CorruptDatabase {
        /// The database file.
        file: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A registration names a reference that is not valid.
    #[error("cannot register `{path}`: its reference `{reference}` is not a valid store item")]
    InvalidReference {
        /// The item being registered.
        path: String,
        /// The missing reference.
        reference: String,
    },
    /// An item cannot be invalidated because a valid item refers to it.
    #[error("`{0}` is still referenced by a valid store item")]
    StillReferenced(String),
    /// A store path is required but the item is not valid.
    #[error("`{path}` is not a valid store item (hint: {hint})", path = .0, hint = not_valid_hint(.0))]
    NotValid(String),
    /// There is no store where one was expected (commands that only read
    /// never create one).
    #[error(
        "there is no store at `{store_dir}` (no database `{}`; `abovo add` and `abovo derivation add` create one; --store or ABOVO_STORE choose another)",
        database.display()
    )]
    NoStore {
        /// The store directory.
        store_dir: String,
        /// The database that does not exist.
        database: PathBuf,
    },
    /// A path that is not in this store.
    #[error(transparent)]
    BadPath(#[from] StorePathError),
    /// A tree could not be processed.
    #[error(transparent)]
    Fs(#[from] FsError),
    /// A tree could not be serialised.
    #[error(transparent)]
    Nar(#[from] DumpError),
    /// A `.drv` in the store that does not parse or whose paths are wrong.
    #[error("derivation `{path}`: {reason}")]
    BadDerivation {
        /// The `.drv` path.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A file changed while it was being added.
    #[error("`{}` changed while it was being added to the store", .0.display())]
    Changed(PathBuf),
    /// Two stores, or a store and a derivation, that name different store
    /// directories, so that store paths cannot be shared between them.
    #[error(
        "{what} names the store directory `{theirs}`, but this store's is `{ours}` (hint: a store path holds only in its own store directory; use a store whose directory is `{theirs}`, such as `--store {theirs} --real-store-dir DIR`, which keeps the items in DIR)"
    )]
    StoreDirMismatch {
        /// This store's directory.
        ours: String,
        /// The other one.
        theirs: String,
        /// What names it.
        what: String,
    },
    /// A name that a new store item cannot have ([`names`]).
    #[error("cannot use `{}` as a store name: {reason}", names::shorten(.name))]
    BadName {
        /// The name.
        name: String,
        /// Why not.
        reason: String,
    },
}

/// What to do about an item that is not valid: a `.drv` is added with
/// `abovo derivation add`, anything else with `abovo add` or by building.
fn not_valid_hint(path: &str) -> &'static str {
    if path.ends_with(".drv") {
        "add a derivation with `abovo derivation add FILE.json`, which prints its `.drv` path"
    } else {
        "add it with `abovo add`, or build the derivation that makes it"
    }
}

pub(crate) use crate::io_error::io_err;

/// Where a store lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// The store directory; store paths start with it. It is the *logical*
    /// directory: where builders see the items, and what store paths and
    /// their hashes are made of.
    pub store_dir: StoreDir,
    /// Where the items are on disk: the store directory itself, or, for a
    /// store whose directory the user cannot write (`/gnu/store` without
    /// privileges), any other directory, as Nix's `real` setting and
    /// chroot stores do. Builders still see every item at its store path.
    pub real_dir: PathBuf,
    /// The state directory (database, logs, locks).
    pub state_dir: PathBuf,
}

impl StoreConfig {
    /// A store at `store_dir` with its state in `state_dir`, or in the
    /// default state directory for that store when `None`.
    pub fn new(store_dir: StoreDir, state_dir: Option<PathBuf>) -> StoreConfig {
        let real_dir = PathBuf::from(store_dir.as_str());
        StoreConfig::with_real_dir(store_dir, real_dir, state_dir)
    }

    /// A store whose paths start with `store_dir` but whose items are in
    /// `real_dir` on disk; its state is in `state_dir`, or by default next
    /// to `real_dir` (`<parent of real_dir>/var/abovo`).
    pub fn with_real_dir(
        store_dir: StoreDir,
        real_dir: PathBuf,
        state_dir: Option<PathBuf>,
    ) -> StoreConfig {
        let state_dir = state_dir.unwrap_or_else(|| default_state_dir(&real_dir));
        StoreConfig {
            store_dir,
            real_dir,
            state_dir,
        }
    }

    /// Where `path` is on disk: in [`StoreConfig::real_dir`], under its
    /// base name ([`item_file`]).
    pub fn real_path(&self, path: &StorePath) -> PathBuf {
        item_file(&self.real_dir, path)
    }
}

/// The file of store item `path` in a store whose items are in `real_dir`.
/// The one place where a store path becomes a file name: a local store
/// ([`LocalStore::real_path`], [`StoreConfig::real_path`]) and another
/// daemon's ([`ForeignStore::real_path`]) both resolve through it, so that
/// no code reads or writes an item at the path it is shown under.
pub fn item_file(real_dir: &Path, path: &StorePath) -> PathBuf {
    real_dir.join(path.base_name())
}

/// abovo's default store directory: `$XDG_DATA_HOME/abovo/store`, else
/// `$HOME/.local/share/abovo/store`; `None` when neither variable is set.
pub fn default_store_dir() -> Option<PathBuf> {
    let data = match std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => {
            PathBuf::from(std::env::var_os("HOME").filter(|v| !v.is_empty())?).join(".local/share")
        }
    };
    Some(data.join("abovo/store"))
}

/// The default state directory of a store: `<parent of store>/var/abovo`.
pub fn default_state_dir(store_dir: &Path) -> PathBuf {
    store_dir
        .parent()
        .unwrap_or(Path::new("/"))
        .join("var/abovo")
}

/// An open local store.
pub struct LocalStore {
    config: StoreConfig,
    db: Mutex<Database>,
    /// Another daemon's store whose valid items count as valid here
    /// ([`LocalStore::with_lower`]).
    lower: Option<ForeignStore>,
}

impl LocalStore {
    /// Opens the store, creating its directories and database when missing.
    pub fn open(config: StoreConfig) -> Result<LocalStore, StoreError> {
        let store = &config.real_dir;
        std::fs::create_dir_all(store).map_err(io_err(store, "create the store directory"))?;
        let db_dir = config.state_dir.join("db");
        std::fs::create_dir_all(&db_dir).map_err(io_err(&db_dir, "create"))?;
        let db = Database::open(&db_dir, config.store_dir.clone())?;
        Ok(LocalStore {
            config,
            db: Mutex::new(db),
            lower: None,
        })
    }

    /// A store whose database is in memory: for a store that lives no
    /// longer than this process ([`crate::foreign::check`]'s scratch
    /// store), which then costs no database file and no sync. Its
    /// directories are created.
    pub fn open_scratch(config: StoreConfig) -> Result<LocalStore, StoreError> {
        let store = &config.real_dir;
        std::fs::create_dir_all(store).map_err(io_err(store, "create the store directory"))?;
        let state = &config.state_dir;
        std::fs::create_dir_all(state).map_err(io_err(state, "create"))?;
        let db = Database::open_in_memory(
            &config.state_dir.join("db (in memory)"),
            config.store_dir.clone(),
        )?;
        Ok(LocalStore {
            config,
            db: Mutex::new(db),
            lower: None,
        })
    }

    /// This store over `lower`, another daemon's store read only: an item
    /// valid there is valid here and is read where it is
    /// ([`LocalStore::item_path`]); whatever this store creates goes to its
    /// own directories. A build in such a store takes its inputs from
    /// `lower`; registering an item whose references are only valid in
    /// `lower` fails (the database's foreign keys), which
    /// [`crate::foreign::check`] rules out before it builds. Both stores
    /// must name the same store directory.
    pub fn with_lower(mut self, lower: ForeignStore) -> Result<LocalStore, StoreError> {
        if lower.store_dir() != self.store_dir() {
            return Err(StoreError::StoreDirMismatch {
                ours: self.store_dir().to_string(),
                theirs: lower.store_dir().to_string(),
                what: format!("the store of `{}`", lower.database().display()),
            });
        }
        self.lower = Some(lower);
        Ok(self)
    }

    /// The lower layer, if any.
    pub fn lower(&self) -> Option<&ForeignStore> {
        self.lower.as_ref()
    }

    /// Opens a store that exists, creating nothing: for commands that only
    /// read (or build what a store already holds). [`StoreError::NoStore`]
    /// when its database does not exist.
    pub fn open_existing(config: StoreConfig) -> Result<LocalStore, StoreError> {
        let database = config.state_dir.join("db/db.sqlite");
        if !database.is_file() || !config.real_dir.is_dir() {
            return Err(StoreError::NoStore {
                store_dir: config.store_dir.to_string(),
                database,
            });
        }
        LocalStore::open(config)
    }

    /// The store directory.
    pub fn store_dir(&self) -> &StoreDir {
        &self.config.store_dir
    }

    /// The state directory.
    pub fn state_dir(&self) -> &Path {
        &self.config.state_dir
    }

    /// The configuration the store was opened with.
    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    /// The database, locked for this thread.
    pub fn db(&self) -> MutexGuard<'_, Database> {
        // A panic while holding the lock cannot leave SQLite half-written
        // (transactions roll back), so a poisoned lock is still usable.
        self.db.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Where this store keeps `path` on disk (in [`LocalStore::real_dir`]):
    /// where it is created, locked and deleted ([`item_file`]). A valid
    /// item of a store with a [foreign lower layer](LocalStore::with_lower)
    /// may be read from elsewhere: see [`LocalStore::item_path`].
    pub fn real_path(&self, path: &StorePath) -> PathBuf {
        self.config.real_path(path)
    }

    /// Where the items are on disk ([`StoreConfig::real_dir`]): the store
    /// directory itself unless the store was configured with another.
    pub fn real_dir(&self) -> &Path {
        &self.config.real_dir
    }

    /// The absolute path string of a store path.
    pub fn display(&self, path: &StorePath) -> String {
        self.config.store_dir.display(path)
    }

    /// Parses an absolute path in this store.
    pub fn parse(&self, path: &str) -> Result<StorePath, StoreError> {
        Ok(self.config.store_dir.parse(path)?)
    }

    /// Whether `path` is valid (here or in the lower layer).
    pub fn is_valid(&self, path: &StorePath) -> Result<bool, StoreError> {
        if self.db().is_valid(path)? {
            return Ok(true);
        }
        match &self.lower {
            Some(lower) => lower.is_valid(path),
            None => Ok(false),
        }
    }

    /// The database record of a valid path (here, else in the lower layer).
    pub fn path_info(&self, path: &StorePath) -> Result<Option<PathInfo>, StoreError> {
        if let Some(info) = self.db().path_info(path)? {
            return Ok(Some(info));
        }
        match &self.lower {
            Some(lower) => lower.path_info(path),
            None => Ok(None),
        }
    }

    /// Where the bytes of `path` are read from: [`LocalStore::real_path`],
    /// unless `path` is valid only in the lower layer, whose copy is then
    /// read where it is. Never write there.
    pub fn item_path(&self, path: &StorePath) -> Result<PathBuf, StoreError> {
        if let Some(lower) = &self.lower
            && !self.db().is_valid(path)?
            && lower.is_valid(path)?
        {
            return Ok(lower.real_path(path));
        }
        Ok(self.real_path(path))
    }

    /// Registers items in one transaction, stamped with the current time.
    pub fn register(&self, items: &[Registration]) -> Result<(), StoreError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        self.db().register(items, now)
    }

    /// The closure of `paths`: them and everything they refer to,
    /// transitively. Every path must be valid.
    pub fn closure<'a>(
        &self,
        paths: impl IntoIterator<Item = &'a StorePath>,
    ) -> Result<BTreeSet<StorePath>, StoreError> {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<StorePath> = paths.into_iter().cloned().collect();
        while let Some(p) = todo.pop() {
            if seen.contains(&p) {
                continue;
            }
            let info = self
                .path_info(&p)?
                .ok_or_else(|| StoreError::NotValid(self.display(&p)))?;
            todo.extend(info.references.into_iter().filter(|r| !seen.contains(r)));
            seen.insert(p);
        }
        Ok(seen)
    }

    /// Reads and parses a valid `.drv` from the store (or the lower layer).
    pub fn read_derivation(&self, drv_path: &StorePath) -> Result<Derivation, StoreError> {
        let file = self.item_path(drv_path)?;
        use std::io::Read as _;
        let mut bytes = Vec::new();
        std::fs::File::open(&file)
            .and_then(|f| f.take(MAX_DRV_SIZE + 1).read_to_end(&mut bytes))
            .map_err(io_err(&file, "read"))?;
        if bytes.len() as u64 > MAX_DRV_SIZE {
            return Err(StoreError::BadDerivation {
                path: self.display(drv_path),
                reason: format!("it holds more than {MAX_DRV_SIZE} bytes"),
            });
        }
        Derivation::parse(&self.config.store_dir, &bytes).map_err(|e| StoreError::BadDerivation {
            path: self.display(drv_path),
            reason: e.to_string(),
        })
    }

    /// The outputs of a derivation, as its `.drv` records them.
    pub fn derivation_output_paths(
        drv: &Derivation,
        store: &StoreDir,
        drv_path: &StorePath,
    ) -> Result<BTreeMap<String, StorePath>, StoreError> {
        drv.outputs
            .iter()
            .map(|(name, o)| {
                o.path
                    .clone()
                    .map(|p| (name.clone(), p))
                    .ok_or_else(|| StoreError::BadDerivation {
                        path: store.display(drv_path),
                        reason: format!("its output `{name}` has no path"),
                    })
            })
            .collect()
    }

    /// The directory of build logs, `<state>/log` (Guix's `/var/log/guix`):
    /// the log of `/…/xxrest.drv` is `drvs/xx/rest[.gz|.bz2]` in it (see
    /// [`crate::build::log`]).
    pub fn log_dir(&self) -> PathBuf {
        self.config.state_dir.join("log")
    }

    /// A fresh, unique temporary name inside the store directory. Its name
    /// starts with `.`, which no store path can, so it is never mistaken for
    /// an item.
    pub fn temp_path(&self, what: &str) -> PathBuf {
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        self.config
            .real_dir
            .join(format!(".abovo-{what}-{}-{n}", std::process::id()))
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename, so that
/// readers never see a half-written file.
pub(crate) fn write_file_atomically(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp-{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).map_err(io_err(&tmp, "write"))?;
    std::fs::rename(&tmp, path).map_err(io_err(path, "replace"))?;
    Ok(())
}
