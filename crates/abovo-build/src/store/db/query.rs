//! What the database knows: validity, path info, references, derivation
//! outputs and derivers, and its own consistency.

use super::{Database, PathInfo};
use crate::store::StoreError;
use abovo_store::{Hash, StorePath};
use rusqlite::OptionalExtension;
use std::collections::{BTreeMap, BTreeSet};

impl Database {
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

    /// The highest `ValidPaths` id and the number of rows: what tells,
    /// beside [`Database::registered_since`], that items were registered or
    /// deleted (an index of a live store compares them). Ids only grow: a
    /// registration takes a new row, a deletion removes one.
    pub fn registration_state(&self) -> Result<(i64, u64), StoreError> {
        self.conn
            .query_row(
                "select coalesce(max(id), 0), count(*) from ValidPaths",
                [],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
            )
            .map(|(id, count)| (id, count.max(0) as u64))
            .map_err(|e| self.sql_err(e))
    }

    /// How many rows have an id above `id`, and the base names of the
    /// `.drv` items among them (a range of the primary key: the cost is
    /// that of the rows since, whatever the size of the store).
    pub fn registered_since(&self, id: i64) -> Result<(u64, Vec<String>), StoreError> {
        let mut stmt = self
            .conn
            .prepare("select path from ValidPaths where id > ?1")
            .map_err(|e| self.sql_err(e))?;
        let rows = stmt
            .query_map([id], |r| r.get::<_, String>(0))
            .map_err(|e| self.sql_err(e))?;
        let (mut count, mut drvs) = (0u64, Vec::new());
        for row in rows {
            let path = row.map_err(|e| self.sql_err(e))?;
            count += 1;
            if path.ends_with(".drv") {
                drvs.push(self.parse_path(&path)?.base_name());
            }
        }
        Ok((count, drvs))
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
