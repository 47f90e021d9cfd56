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
