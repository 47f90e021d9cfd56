//! The index of a live store (`abovo-index`, issue 14): real `.drv` files of
//! the Guix 1.5.0 corpus (`ABOVO_GUIX_CORPUS`) copied into a temporary
//! store, indexed by a first query, then added to and removed from, with
//! and without the daemon's database beside the store; after each change,
//! the answers through the index must be those of a fresh load without it
//! (`ABOVO_NO_INDEX=1`): the whole graph (a snapshot of it, byte for
//! byte), a closure and the dependents of a derivation. A damaged index is
//! rebuilt with one note; an unwritable cache still answers.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod cli_support;

use abovo_build::store::db::{Database, Registration};
use abovo_store::{StoreDir, StorePath};
use cli_support::{abovo_command, code, stderr, stdout};
use serde_json::Value;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, SystemTime};

/// The first `n` `.drv` members of the corpus's `drvs.tar.zst`, in archive
/// order, or `None` (with a line saying so) without the corpus.
fn corpus_drvs(n: usize) -> Option<Vec<(String, Vec<u8>)>> {
    let Some(folder) = std::env::var_os("ABOVO_GUIX_CORPUS") else {
        println!("skipped: ABOVO_GUIX_CORPUS is not set");
        return None;
    };
    let file = std::fs::File::open(Path::new(&folder).join("drvs.tar.zst")).unwrap();
    let mut archive = tar::Archive::new(zstd::Decoder::new(file).unwrap());
    let mut out = Vec::with_capacity(n);
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().display().to_string();
        if !name.ends_with(".drv") {
            continue;
        }
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        out.push((name, bytes));
        if out.len() == n {
            break;
        }
    }
    Some(out)
}

/// A temporary Guix-like root: `gnu/store` with `.drv` files, and a cache.
struct Live {
    root: tempfile::TempDir,
}

impl Live {
    fn new() -> Live {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("gnu/store")).unwrap();
        Live { root }
    }

    fn store(&self) -> PathBuf {
        self.root.path().join("gnu/store")
    }

    fn cache(&self) -> PathBuf {
        self.root.path().join("cache")
    }

    fn add(&self, files: &[(String, Vec<u8>)]) {
        for (name, bytes) in files {
            std::fs::write(self.store().join(name), bytes).unwrap();
        }
    }

    fn remove(&self, files: &[(String, Vec<u8>)]) {
        for (name, _) in files {
            std::fs::remove_file(self.store().join(name)).unwrap();
        }
    }

    /// abovo with this root's cache and the index on.
    fn run(&self, args: &[&str]) -> Output {
        let mut c = abovo_command(args);
        c.env("ABOVO_CACHE_DIR", self.cache())
            .env_remove("ABOVO_NO_INDEX");
        c.output().unwrap()
    }

    /// abovo without an index.
    fn run_fresh(&self, args: &[&str]) -> Output {
        let o = abovo_command(args).output().unwrap();
        assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
        o
    }

    /// `abovo index` in JSON.
    fn index(&self, extra: &[&str]) -> Value {
        let store = self.store();
        let mut args = vec!["index", "--source", store.to_str().unwrap(), "-f", "json"];
        args.extend_from_slice(extra);
        let o = self.run(&args);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        serde_json::from_slice(&o.stdout).unwrap()
    }

    /// Moves the store directory's modification time an hour back, so that
    /// an index may trust it (a time younger than two seconds is not).
    fn age(&self) {
        let dir = std::fs::File::open(self.store()).unwrap();
        dir.set_modified(SystemTime::now() - Duration::from_secs(3600))
            .unwrap();
    }

    /// Checks that the graph through the index is the graph without it:
    /// a snapshot of each (byte for byte), and the closure and dependents
    /// of the derivations with the most inputs and the most dependents.
    fn same_answers(&self) {
        let store = self.store();
        let store = store.to_str().unwrap();
        let snap = |name: &str| self.root.path().join(name);
        let (a, b) = (snap("indexed.snap"), snap("fresh.snap"));
        let create = |out: &Path| {
            vec![
                "snapshot".to_owned(),
                "create".into(),
                "--from".into(),
                store.into(),
                "--level".into(),
                "1".into(),
                "-o".into(),
                out.to_str().unwrap().into(),
            ]
        };
        let args_a = create(&a);
        let o = self.run(&args_a.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        let args_b = create(&b);
        self.run_fresh(&args_b.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(
            std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap(),
            "the indexed graph differs from a fresh load"
        );
        let g = abovo_graph::load::load_directory(
            &self.store(),
            abovo_graph::load::LoadOptions::new(&StoreDir::default(), &abovo_graph::load::Silent),
        )
        .unwrap();
        let drvs: Vec<_> = g.nodes().filter(|&n| g.derivation(n).is_some()).collect();
        let most_inputs = drvs.iter().max_by_key(|&&n| g.inputs(n).len()).unwrap();
        let most_used = drvs.iter().max_by_key(|&&n| g.dependents(n).len()).unwrap();
        for (command, node) in [("closure", most_inputs), ("dependents", most_used)] {
            let path = g.display_path(*node);
            let mut args = vec![command, path.as_str(), "--source", store, "-f", "json"];
            if command == "closure" {
                args.push("--list");
            }
            let indexed = self.run(&args);
            assert_eq!(code(&indexed), 0, "{}", stderr(&indexed));
            let fresh = self.run_fresh(&args);
            assert_eq!(stdout(&indexed), stdout(&fresh), "{command} {path}");
        }
    }
}

fn how(v: &Value) -> (&str, &str, u64, u64, u64) {
    (
        v["how"].as_str().unwrap(),
        v["checked_by"].as_str().unwrap(),
        v["added"].as_u64().unwrap(),
        v["removed"].as_u64().unwrap(),
        v["reparsed"].as_u64().unwrap(),
    )
}

#[test]
fn the_index_follows_drvs_added_changed_and_removed() {
    let Some(drvs) = corpus_drvs(3_400) else {
        return;
    };
    let (first, more) = drvs.split_at(3_000);
    let live = Live::new();
    live.add(first);
    let v = live.index(&[]);
    assert_eq!(how(&v), ("built", "", 3_000, 0, 0));
    assert_eq!(v["derivations"], 3_000);
    live.same_answers();

    // Unchanged: a listing finds nothing (the directory's time was too
    // young to trust), then the directory's time alone says so.
    live.age();
    assert_eq!(how(&live.index(&[])), ("checked", "listing", 0, 0, 0));
    assert_eq!(
        how(&live.index(&[])),
        ("unchanged", "directory time", 0, 0, 0)
    );

    // 400 added, 250 removed.
    live.add(more);
    live.remove(&first[..250]);
    let v = live.index(&[]);
    assert_eq!(how(&v), ("updated", "listing", 400, 250, 0));
    assert_eq!(v["derivations"], 3_150);
    live.same_answers();

    // A file rewritten in place (another system), and the directory
    // changed otherwise (a rewrite in place alone leaves the directory's
    // time, which a directory that is not a store does not promise): the
    // listing finds the file's stamp changed, so it is parsed again,
    // whatever its name says.
    let (name, bytes) = &first[300];
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(text.contains("\"x86_64-linux\""));
    let changed = text.replace("\"x86_64-linux\"", "\"i686-linux\"");
    std::fs::write(live.store().join(name), changed).unwrap();
    std::fs::File::open(live.store())
        .unwrap()
        .set_modified(SystemTime::now())
        .unwrap();
    assert_eq!(how(&live.index(&[])), ("updated", "listing", 0, 0, 1));
    live.same_answers();

    // --rebuild makes it anew; --no-index and ABOVO_NO_INDEX leave the
    // cache alone.
    assert_eq!(how(&live.index(&["--rebuild"])).0, "built");
    let fresh_cache = live.root.path().join("untouched");
    let store = live.store();
    let mut c = abovo_command(&[
        "closure",
        &first[400].0,
        "--source",
        store.to_str().unwrap(),
    ]);
    c.env("ABOVO_CACHE_DIR", &fresh_cache)
        .env_remove("ABOVO_NO_INDEX");
    let o = c.arg("--no-index").output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let mut c = abovo_command(&[
        "closure",
        &first[400].0,
        "--source",
        store.to_str().unwrap(),
    ]);
    c.env("ABOVO_CACHE_DIR", &fresh_cache)
        .env("ABOVO_NO_INDEX", "1");
    assert_eq!(code(&c.output().unwrap()), 0);
    assert!(!fresh_cache.exists());
}

/// `text` with its system changed: the same name, other content.
fn other_content(bytes: &[u8]) -> Vec<u8> {
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    assert!(text.contains("\"x86_64-linux\""));
    text.replace("\"x86_64-linux\"", "\"i686-linux\"")
        .into_bytes()
}

/// Thousands added at once (eight times as many as were indexed, so that
/// most of the new graph's derivations are new ones between the kept
/// ones), and a file removed then put back with other content: the index
/// forgets it, then parses the new text.
#[test]
fn the_index_follows_many_added_at_once_and_a_file_put_back_changed() {
    let Some(drvs) = corpus_drvs(9_000) else {
        return;
    };
    let (first, more) = drvs.split_at(1_000);
    let live = Live::new();
    live.add(first);
    assert_eq!(how(&live.index(&[])), ("built", "", 1_000, 0, 0));
    live.add(more);
    let v = live.index(&[]);
    assert_eq!(how(&v), ("updated", "listing", 8_000, 0, 0));
    assert_eq!(v["derivations"], 9_000);
    live.same_answers();

    let gone = &more[5_000..5_001];
    live.remove(gone);
    assert_eq!(how(&live.index(&[])), ("updated", "listing", 0, 1, 0));
    let back = [(gone[0].0.clone(), other_content(&gone[0].1))];
    live.add(&back);
    assert_eq!(how(&live.index(&[])), ("updated", "listing", 1, 0, 0));
    live.same_answers();
    // Read again from the index alone, the answers hold.
    live.age();
    assert_eq!(how(&live.index(&[])).0, "checked");
    live.same_answers();
}

fn register(db_dir: &Path, files: &[(String, Vec<u8>)]) {
    let store_dir = StoreDir::default();
    let items: Vec<Registration> = files
        .iter()
        .map(|(name, bytes)| {
            Registration::regular_file(StorePath::from_base_name(name).unwrap(), bytes)
        })
        .collect();
    // Closed at the end: checkpointed, as a stopped daemon leaves it.
    let mut db = Database::open(db_dir, store_dir).unwrap();
    db.register(&items, 1_700_000_000).unwrap();
}

fn unregister(db_dir: &Path, files: &[(String, Vec<u8>)]) {
    let paths: Vec<StorePath> = files
        .iter()
        .map(|(n, _)| StorePath::from_base_name(n).unwrap())
        .collect();
    let mut db = Database::open(db_dir, StoreDir::default()).unwrap();
    db.invalidate(&paths).unwrap();
}

#[test]
fn the_index_follows_the_daemons_database() {
    let Some(drvs) = corpus_drvs(2_600) else {
        return;
    };
    let (first, more) = drvs.split_at(2_300);
    let live = Live::new();
    let db_dir = live.root.path().join("var/guix/db");
    std::fs::create_dir_all(&db_dir).unwrap();
    live.add(first);
    register(&db_dir, first);
    assert_eq!(how(&live.index(&[])).0, "built");

    // Registered since: only those rows are read, only those files parsed.
    live.add(more);
    register(&db_dir, more);
    let v = live.index(&[]);
    assert_eq!(how(&v), ("updated", "database", 300, 0, 0));
    assert_eq!(v["derivations"], 2_600);
    live.same_answers();

    // Another item registered (not a .drv): the directory changed, the
    // database says there is nothing to parse.
    let src = "0000000000000000000000000000000a-some-source";
    std::fs::write(live.store().join(src), "x").unwrap();
    register(&db_dir, &[(src.to_owned(), b"x".to_vec())]);
    assert_eq!(how(&live.index(&[])), ("checked", "database", 0, 0, 0));

    // A garbage collection: rows deleted, so the count says to list the
    // directory, which tells which files went.
    live.remove(&first[..200]);
    unregister(&db_dir, &first[..200]);
    let v = live.index(&[]);
    assert_eq!(how(&v), ("updated", "listing", 0, 200, 0));
    assert_eq!(v["derivations"], 2_400);
    live.same_answers();

    // One of those collected, built again with other content and
    // registered anew: the database names it, and its new text is parsed.
    let back = [(first[10].0.clone(), other_content(&first[10].1))];
    live.add(&back);
    register(&db_dir, &back);
    let v = live.index(&[]);
    assert_eq!(how(&v), ("updated", "database", 1, 0, 0));
    assert_eq!(v["derivations"], 2_401);
    live.same_answers();
}

#[test]
fn a_damaged_index_is_rebuilt_with_one_note() {
    let Some(drvs) = corpus_drvs(1_200) else {
        return;
    };
    let live = Live::new();
    live.add(&drvs[..1_000]);
    let v = live.index(&[]);
    let at = PathBuf::from(v["index"].as_str().unwrap());
    let file = |prefix: &str| {
        std::fs::read_dir(&at)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.file_name().unwrap().to_str().unwrap().starts_with(prefix))
            .unwrap()
    };
    let flip = |p: &Path, at: usize| {
        let mut bytes = std::fs::read(p).unwrap();
        let i = at.min(bytes.len() - 1);
        bytes[i] ^= 0x55;
        std::fs::write(p, bytes).unwrap();
    };
    let store = live.store();
    let query = [
        "closure",
        &drvs[10].0,
        "--source",
        store.to_str().unwrap(),
        "-f",
        "json",
    ];
    let want = stdout(&live.run_fresh(&query));
    // The stamps (read when something changed), the snapshot (read when
    // nothing did), the state (always read).
    for (prefix, offset) in [("stamps-", 5_000), ("graph-", 3_000), ("state", 20)] {
        live.age();
        assert_eq!(
            how(&live.index(&[])).1,
            "listing",
            "the time is trusted now"
        );
        if prefix == "stamps-" {
            // A change, so that the stamps are read.
            live.add(&drvs[1_000..1_001]);
        }
        flip(&file(prefix), offset);
        let o = live.run(&query);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 1, "{prefix}: {err}");
        assert!(
            err.contains("was damaged") && err.contains("rebuilding it"),
            "{prefix}: {err}"
        );
        if prefix != "stamps-" {
            assert_eq!(stdout(&o), want, "{prefix}");
        }
        // Rebuilt: the next query says nothing.
        let o = live.run(&query);
        assert_eq!(stderr(&o), "", "{prefix}");
    }
    // An index of another format version.
    let state = file("state");
    let mut bytes = std::fs::read(&state).unwrap();
    bytes[8] = 99;
    std::fs::write(&state, bytes).unwrap();
    let o = live.run(&query);
    assert!(
        stderr(&o).contains("index format version 99"),
        "{}",
        stderr(&o)
    );
    live.same_answers();
}

#[test]
fn an_unwritable_cache_still_answers() {
    let Some(drvs) = corpus_drvs(500) else {
        return;
    };
    let live = Live::new();
    live.add(&drvs);
    // A cache "directory" that is a file: nothing can be made under it,
    // even by root.
    std::fs::write(live.cache(), "not a directory").unwrap();
    let store = live.store();
    let query = [
        "closure",
        &drvs[7].0,
        "--source",
        store.to_str().unwrap(),
        "-f",
        "json",
    ];
    let o = live.run(&query);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o), stdout(&live.run_fresh(&query)));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("cannot write the index") && err.contains("working without one"),
        "{err}"
    );
    // `abovo index` says it loaded without one.
    assert_eq!(how(&live.index(&[])).0, "unindexed");
}
