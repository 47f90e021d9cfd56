//! Changing the database: registering items (with their references and
//! derivation outputs) and invalidating them, each in one `BEGIN IMMEDIATE`
//! transaction.

use super::{Database, Registration};
use crate::store::StoreError;
use abovo_store::StorePath;
use rusqlite::{OptionalExtension, TransactionBehavior, params};

impl Database {
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
}
