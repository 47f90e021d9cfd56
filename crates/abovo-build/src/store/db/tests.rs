//! Tests of the store database: registration, queries, the Guix schema,
//! and read-only opening of another daemon's database.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

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
            Database::open_read_only(&copy.path().join("db.sqlite"), Some(store.clone())).unwrap();
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
            "AbovoInputTrees",
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

#[test]
fn an_input_tree_is_kept_for_its_nar_hash_only_and_goes_with_its_item() {
    let dir = tempfile::tempdir().unwrap();
    let store = StoreDir::default();
    let mut db = Database::open(dir.path(), store.clone()).unwrap();
    let a = path(&store, "a");
    assert_eq!(db.input_tree(&a).unwrap(), None, "not valid");
    db.register(&[info(&a, &[])], 1).unwrap();
    let known = db.input_tree(&a).unwrap().unwrap();
    assert_eq!(known.tree, None);
    assert_eq!(known.nar_size, 120);
    db.record_input_tree(&a, &known.nar_hash, b"tree").unwrap();
    assert_eq!(
        db.input_tree(&a).unwrap().unwrap().tree.as_deref(),
        Some(&b"tree"[..])
    );
    // Read by another connection (the next process).
    drop(db);
    let mut db = Database::open(dir.path(), store.clone()).unwrap();
    assert!(db.input_tree(&a).unwrap().unwrap().tree.is_some());
    // The item registered anew with another NAR hash: the row is stale.
    let mut other = info(&a, &[]);
    other.info.nar_hash = Hash::sha256([8; 32]);
    db.register(&[other], 2).unwrap();
    let now = db.input_tree(&a).unwrap().unwrap();
    assert_eq!(now.tree, None, "a tree of other bytes is not returned");
    // A tree computed from the old bytes is not recorded for the new ones.
    db.record_input_tree(&a, &known.nar_hash, b"old").unwrap();
    assert_eq!(db.input_tree(&a).unwrap().unwrap().tree, None);
    db.record_input_tree(&a, &now.nar_hash, b"new").unwrap();
    assert!(db.input_tree(&a).unwrap().unwrap().tree.is_some());
    // Invalidating the item deletes its row (and nothing dangles).
    db.invalidate(std::slice::from_ref(&a)).unwrap();
    let rows: i64 = db
        .conn
        .query_row("select count(*) from AbovoInputTrees", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 0);
}
