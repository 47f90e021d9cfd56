//! Facts abovo keeps about store items beside Guix's schema: each item's
//! tree as a remote executor sends it (`abovo build --remote`), so that a
//! closure is hashed once, not once per process.
//!
//! The table is abovo's own (Guix's tools ignore tables they do not know);
//! it is created when a database is opened, which is its migration. Each
//! row is keyed by the item's `ValidPaths` row (deleted with it) and
//! records the NAR hash the tree was computed from: a row whose hash is no
//! longer the item's (the item was repaired or registered anew) is never
//! returned. The tree's bytes are opaque here; their reader checks them.

use super::Database;
use crate::store::StoreError;
use abovo_store::StorePath;
use rusqlite::{OptionalExtension, params};

/// abovo's tables, created when missing (every statement is idempotent).
pub const ABOVO_SCHEMA: &str = "
create table if not exists AbovoInputTrees (
    item    integer primary key not null,
    narHash text not null,
    tree    blob not null,
    foreign key (item) references ValidPaths(id) on delete cascade
);
";

/// What the database says of a valid item for a remote executor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemTree {
    /// The item's NAR hash, exactly as the database has it (the token
    /// [`Database::record_input_tree`] takes back).
    pub nar_hash: String,
    /// The item's NAR size, as registered (0 when Guix left it NULL).
    pub nar_size: u64,
    /// The tree recorded for that NAR hash, if any.
    pub tree: Option<Vec<u8>>,
}

impl Database {
    /// The NAR hash and size of `path` and the tree recorded for that hash;
    /// `None` when `path` is not valid.
    pub fn input_tree(&self, path: &StorePath) -> Result<Option<ItemTree>, StoreError> {
        let row = self
            .conn
            .query_row(
                "select v.hash, v.narSize, t.tree from ValidPaths v
                 left join AbovoInputTrees t on t.item = v.id and t.narHash = v.hash
                 where v.path = ?1",
                [self.store.display(path)],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, Option<i64>>(1)?,
                        r.get::<_, Option<Vec<u8>>>(2)?,
                    ))
                },
            )
            .optional()
            .map_err(|e| self.sql_err(e))?;
        let Some((hash, size, tree)) = row else {
            return Ok(None);
        };
        Ok(Some(ItemTree {
            nar_hash: hash,
            nar_size: size.map_or(0, |s| u64::try_from(s).unwrap_or(0)),
            tree,
        }))
    }

    /// Records `tree` for `path`, computed from the item whose NAR hash is
    /// `nar_hash` (as [`ItemTree::nar_hash`] had it); nothing is recorded when that is no longer the item's
    /// hash (or the item is no longer valid). Replaces an older row.
    pub fn record_input_tree(
        &self,
        path: &StorePath,
        nar_hash: &str,
        tree: &[u8],
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "insert or replace into AbovoInputTrees (item, narHash, tree)
                 select id, hash, ?3 from ValidPaths where path = ?1 and hash = ?2",
                params![self.store.display(path), nar_hash, tree],
            )
            .map(drop)
            .map_err(|e| self.sql_err(e))
    }
}
