//! `abovo build --check --guix-store`: guix-daemon's outputs checked by a
//! second daemon, which never writes to Guix's store or database (issue
//! 10, item 4).
//!
//! The "Guix store" is made by the test from guix-daemon 1.5.0's
//! conformance probes (`ABOVO_DAEMON_CONFORMANCE`): the outputs guix-daemon
//! built (their NARs) in `gnu/store`, registered in `var/guix/db/db.sqlite`
//! with Guix's schema and the hashes guix-daemon registered. Its store
//! directory is elsewhere than `/gnu/store`, as a copy or a chroot store
//! would be; the paths name `/gnu/store`, and so do the rebuilds. Every
//! file of it is hashed before and after each check.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod cli_build_support;
mod cli_import_support;

use cli_build_support::TestStore;
use cli_import_support::{Conformance, SAME_TODAY, snapshot};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// The names below a tree.
fn s_listing(root: &Path) -> Vec<std::path::PathBuf> {
    snapshot(root).into_keys().collect()
}

fn no_side_files(db_dir: &Path) {
    let names = TestStore::entries(db_dir);
    assert_eq!(names, ["db.sqlite", "schema"], "no -wal, -shm or journal");
}

#[test]
fn check_against_a_guix_store_passes_reports_and_writes_nothing() {
    let Some(conf) =
        Conformance::load("check_against_a_guix_store_passes_reports_and_writes_nothing")
    else {
        return;
    };
    let t = TestStore::new();
    let root = t.dir.path().join("guix");
    let store = conf.guix_store(&root);
    let db_dir = root.join("var/guix/db");
    no_side_files(&db_dir);
    let before = snapshot(&root);
    let check = |drvs: &[String], extra: &[&str]| {
        let mut args = vec![
            "build",
            "--check",
            "--guix-store",
            store.to_str().unwrap(),
            "--cores",
            "1",
        ];
        args.extend_from_slice(extra);
        args.extend(drvs.iter().map(String::as_str));
        t.run(&args)
    };
    let drv = |probe: &str| format!("/gnu/store/{}", conf.drv_base(probe));

    // Identical builds pass, each output compared with the registered one.
    let same: Vec<String> = SAME_TODAY.iter().map(|p| drv(p)).collect();
    let out = check(&same, &["-f", "json"]);
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        serde_json::to_string_pretty(&j).unwrap(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(j["against"]["store"], "/gnu/store");
    assert_eq!(
        j["against"]["database"],
        root.join("var/guix/db/db.sqlite").to_str().unwrap(),
        "found where Guix keeps it, two levels above the store"
    );
    for d in &same {
        let r = j["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["drv"] == d.as_str())
            .unwrap();
        assert_eq!(r["status"], "checked", "{d}");
    }
    assert_eq!(snapshot(&root), before);
    no_side_files(&db_dir);
    assert!(
        TestStore::entries(&t.tmp())
            .iter()
            .all(|n| !n.starts_with("abovo-check-")),
        "the scratch store is gone"
    );

    // A derivation that is not deterministic differs, as under `guix build
    // --check`: exit 1, the differing file named.
    let out = check(&[drv("conf-nondet")], &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let nondet = &conf.outputs("conf-nondet")[0].path;
    assert!(
        err.contains(&format!(
            "derivation `{}` may not be deterministic",
            drv("conf-nondet")
        )) && err.contains(&format!(
            "output `{nondet}` differs from the registered output"
        )),
        "{err}"
    );
    assert_eq!(snapshot(&root), before);
    no_side_files(&db_dir);

    // A tampered output: other bytes in Guix's store, registered with
    // their hash, as if guix-daemon had built them. The check reports the
    // file that differs, and what it is.
    let canon = &conf.outputs("conf-canon")[0].path;
    let real = store.join(canon.rsplit('/').next().unwrap());
    let file = real.join("bytes256");
    let dir_mode = std::fs::metadata(&real).unwrap().permissions();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&file, b"not what the builder wrote").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o444)).unwrap();
    std::fs::set_permissions(&real, dir_mode).unwrap();
    let nar = abovo_store::nar::hash_path(&real).unwrap();
    {
        let store_dir = abovo_store::StoreDir::new("/gnu/store").unwrap();
        let mut db = abovo_build::store::db::Database::open(&db_dir, store_dir.clone()).unwrap();
        let mut info = db
            .path_info(&store_dir.parse(canon).unwrap())
            .unwrap()
            .unwrap();
        info.nar_hash = nar.hash;
        info.nar_size = nar.size;
        db.register(
            &[abovo_build::store::db::Registration {
                info,
                derivation_outputs: Default::default(),
            }],
            1,
        )
        .unwrap();
    }
    no_side_files(&db_dir);
    let tampered = snapshot(&root);
    assert_ne!(tampered, before);
    let out = check(&[drv("conf-canon")], &["-f", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let r = &j["results"][0];
    assert_eq!(r["status"], "differs");
    assert_eq!(r["against"], "registered");
    let d = &r["differences"][0];
    assert_eq!(d["path"], canon.as_str());
    assert_eq!(d["expected"], nar.hash.to_nix32_string());
    assert_eq!(d["actual"], conf.outputs("conf-canon")[0].nar_hash);
    let changes = serde_json::to_string(&d["changes"]).unwrap();
    assert!(changes.contains("bytes256"), "{changes}");
    assert_eq!(d["changes"].as_array().unwrap().len(), 1, "{changes}");
    // The same in text, with -K: the rebuild kept in the scratch store.
    let out = check(&[drv("conf-canon")], &["-K"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("content differs: bytes256"), "{err}");
    assert!(err.contains("the scratch store is kept at"), "{err}");
    let kept = TestStore::entries(&t.tmp())
        .into_iter()
        .find(|n| n.starts_with("abovo-check-"))
        .unwrap();
    let kept_check = t
        .tmp()
        .join(kept)
        .join("store")
        .join(format!("{}-check", canon.rsplit('/').next().unwrap()));
    let rebuilt = std::fs::read(kept_check.join("bytes256")).unwrap();
    assert_eq!(
        rebuilt.len(),
        256,
        "the builder's 256 bytes, kept as OUT-check"
    );
    assert_eq!(
        s_listing(&kept_check),
        s_listing(&real),
        "same tree, one file's bytes apart"
    );
    assert_eq!(
        snapshot(&root),
        tampered,
        "Guix's store and database unchanged"
    );
    no_side_files(&db_dir);
}

/// What cannot be checked is said before anything is built: an output
/// guix-daemon never built, an input it does not have, a `.drv` it does
/// not know.
#[test]
fn what_cannot_be_checked_is_refused_before_building() {
    let Some(conf) = Conformance::load("what_cannot_be_checked_is_refused_before_building") else {
        return;
    };
    let t = TestStore::new();
    let root = t.dir.path().join("guix");
    let store = conf.guix_store(&root);
    let before = snapshot(&root);
    let drv = |probe: &str| format!("/gnu/store/{}", conf.drv_base(probe));
    let out = t.run(&[
        "build",
        "--check",
        "--guix-store",
        store.to_str().unwrap(),
        &drv("conf-fail"),
        "/gnu/store/00000000000000000000000000000000-nothing.drv",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("is not valid in it: there is nothing to compare with")
            && err.contains("00000000000000000000000000000000-nothing.drv` is not valid in it"),
        "{err}"
    );
    assert!(!err.contains("building"), "nothing was built: {err}");
    assert_eq!(snapshot(&root), before);
    // No database where Guix or Nix keep theirs.
    let lone = t.dir.path().join("lone/gnu/store");
    std::fs::create_dir_all(&lone).unwrap();
    let out = t.run(&[
        "build",
        "--check",
        "--guix-store",
        lone.to_str().unwrap(),
        &drv("conf-canon"),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("no database for the store") && err.contains("--guix-db"),
        "{err}"
    );
}

/// Nix's store works the same way: `--nix-store` finds
/// `nix/var/nix/db/db.sqlite` next to `nix/store`. The store is made by
/// abovo itself, with the same schema, naming `/nix/store`.
#[test]
fn check_against_a_nix_store() {
    let mut t = TestStore::new();
    if t.add_busybox("check_against_a_nix_store").is_none() {
        return;
    }
    let root = t.dir.path().join("nixroot");
    let nix = TestStore {
        dir: tempfile::tempdir_in(t.dir.path()).unwrap(),
        store: "/nix/store".into(),
        real: Some(root.join("nix/store")),
        as_user: None,
        busybox: String::new(),
    };
    let state = root.join("nix/var/nix");
    // `abovo ARGS` in the Nix store, which must succeed: its standard output.
    let nix_ok = |args: &[&str]| {
        let mut c = nix.cmd(args);
        c.env("ABOVO_STATE_DIR", &state).env("TMPDIR", t.tmp());
        cli_build_support::succeeded(args, c.output().unwrap())
            .trim()
            .to_owned()
    };
    let seed = t.dir.path().join("seed");
    let bb = nix_ok(&[
        "add",
        "--recursive",
        "--name",
        "busybox-static",
        seed.to_str().unwrap(),
    ]);
    let json = serde_json::json!({
        "name": "hello-nix",
        "outputs": {"out": {}},
        "inputSrcs": [bb],
        "system": "x86_64-linux",
        "builder": format!("{bb}/busybox"),
        "args": ["sh", "-c", "echo hello from $out > $out"],
        "env": {},
    });
    let file = t.write("hello.json", json.to_string().as_bytes());
    let drv = nix_ok(&["derivation", "add", file.to_str().unwrap()]);
    assert!(drv.starts_with("/nix/store/"), "{drv}");
    nix_ok(&["build", &drv]);
    let before = snapshot(&root);
    let out = t.run(&[
        "build",
        "--check",
        "--nix-store",
        root.join("nix/store").to_str().unwrap(),
        "-f",
        "json",
        &drv,
    ]);
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(j["results"][0]["status"], "checked");
    assert_eq!(j["against"]["store"], "/nix/store");
    assert_eq!(
        j["against"]["database"],
        state.join("db/db.sqlite").to_str().unwrap()
    );
    assert_eq!(snapshot(&root), before);
}
