//! What the server publishes: the valid items of a store, looked up by
//! hash part, with what the database records about them and where their
//! bytes are.
//!
//! The server only reads: the database is asked, files are opened for
//! reading, nothing is written or locked in the store.

use abovo_build::LocalStore;
use abovo_build::store::db::PathInfo;
use abovo_store::{StoreDir, StorePath};
use std::path::PathBuf;

/// A published item: its record and where its bytes are.
#[derive(Debug, Clone)]
pub struct Item {
    /// What the database records (NAR hash and size, references, deriver).
    pub info: PathInfo,
    /// The file or directory on disk.
    pub file: PathBuf,
}

/// A store the server reads from.
pub trait Catalogue: Send + Sync + 'static {
    /// The store directory its paths name (`nix-cache-info`'s `StoreDir`).
    fn store_dir(&self) -> &StoreDir;

    /// The valid item whose hash part is `hash_part`, if any.
    fn find(&self, hash_part: &str) -> Result<Option<Item>, String>;

    /// `path`, if it is valid.
    fn item(&self, path: &StorePath) -> Result<Option<Item>, String>;
}

/// abovo's own store.
impl Catalogue for LocalStore {
    fn store_dir(&self) -> &StoreDir {
        LocalStore::store_dir(self)
    }

    fn find(&self, hash_part: &str) -> Result<Option<Item>, String> {
        let path = self
            .db()
            .path_from_hash_part(hash_part)
            .map_err(|e| e.to_string())?;
        match path {
            Some(p) => Catalogue::item(self, &p),
            None => Ok(None),
        }
    }

    fn item(&self, path: &StorePath) -> Result<Option<Item>, String> {
        let info = self.path_info(path).map_err(|e| e.to_string())?;
        Ok(info.map(|info| Item {
            file: self.real_path(path),
            info,
        }))
    }
}

/// A store whose items are not at its store directory: a copy, or another
/// machine's disk mounted elsewhere (Nix's `local?real=DIR`). Paths, the
/// database and signatures name the store directory; bytes are read from
/// `real`.
pub struct Relocated {
    store: LocalStore,
    real: PathBuf,
}

impl Relocated {
    /// `store`, whose items are in `real` under their base names.
    pub fn new(store: LocalStore, real: PathBuf) -> Relocated {
        Relocated { store, real }
    }
}

impl Catalogue for Relocated {
    fn store_dir(&self) -> &StoreDir {
        self.store.store_dir()
    }

    fn find(&self, hash_part: &str) -> Result<Option<Item>, String> {
        let found = Catalogue::find(&self.store, hash_part)?;
        Ok(found.map(|item| self.relocate(item)))
    }

    fn item(&self, path: &StorePath) -> Result<Option<Item>, String> {
        let found = Catalogue::item(&self.store, path)?;
        Ok(found.map(|item| self.relocate(item)))
    }
}

impl Relocated {
    fn relocate(&self, mut item: Item) -> Item {
        item.file = self.real.join(item.info.path.base_name());
        item
    }
}
