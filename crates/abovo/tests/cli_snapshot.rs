//! `abovo snapshot create -o` end to end, and the store directory of the
//! analysis commands.
//!
//! The output of `snapshot create` is all or nothing: `-o -` writes to
//! standard output; a file is written under a temporary name beside it and
//! renamed into place, so no partial snapshot and no temporary file is left
//! behind on any error; a target that exists and is not a regular file
//! (symlink, directory, FIFO, device) is refused, naming it; a directory
//! that does not exist is an error with the path and the OS's reason.
//!
//! The analysis commands read the store directory from their data (a
//! snapshot's header, the paths of `.drv` files), take `--store-dir` as an
//! override, and ignore ABOVO_STORE_DIR (abovo's own build store).

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod cli_support;

use abovo_store::StoreDir;
use cli_support::{ERROR, SUCCESS, abovo_command, find, make_closure_in, text};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output as ProcOutput};

/// Runs abovo with ABOVO_STORE (and its old name ABOVO_STORE_DIR) set to a
/// store that has nothing to do with the data, as a user of `abovo build`
/// may have exported it: no analysis command may be swayed by it.
fn abovo(args: &[&str]) -> ProcOutput {
    abovo_command(args)
        .env("ABOVO_STORE", "/tmp/abovo-unrelated-build-store")
        .env("ABOVO_STORE_DIR", "/tmp/abovo-unrelated-build-store")
        .output()
        .expect("run abovo")
}

/// The entries of a directory, sorted (to see that nothing was left).
fn entries(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect()
}

/// A directory of `.drv` files in /gnu/store.
fn guix_drvs() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    make_closure_in(dir.path(), &StoreDir::default());
    dir
}

fn create(from: &Path, out: &Path) -> ProcOutput {
    abovo(&[
        "snapshot",
        "create",
        "--from",
        from.to_str().unwrap(),
        "--level",
        "1",
        "-o",
        out.to_str().unwrap(),
    ])
}

#[test]
fn a_snapshot_goes_to_a_file_or_to_standard_output() {
    let drvs = guix_drvs();
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("g.abovo-snapshot");
    let o = create(drvs.path(), &file);
    assert_eq!(o.status.code(), Some(SUCCESS), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("wrote `{}`", file.display())),
        "{}",
        text(&o)
    );
    // Exactly the snapshot: no temporary file beside it.
    assert_eq!(
        entries(out.path()),
        BTreeSet::from(["g.abovo-snapshot".to_owned()])
    );
    let on_disk = std::fs::read(&file).unwrap();
    assert!(on_disk.starts_with(b"ABOVOSNP"));

    // `-o -`: the same bytes on standard output, the note on standard error.
    let o = abovo(&[
        "snapshot",
        "create",
        "--from",
        drvs.path().to_str().unwrap(),
        "--level",
        "1",
        "-o",
        "-",
    ]);
    assert_eq!(o.status.code(), Some(SUCCESS), "{}", text(&o));
    assert_eq!(o.stdout, on_disk);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("wrote the snapshot to standard output"),
        "{err}"
    );
    assert!(err.contains("3 derivations"), "{err}");

    // Replacing an existing snapshot is fine (a regular file).
    std::fs::write(&file, b"old").unwrap();
    let o = create(drvs.path(), &file);
    assert_eq!(o.status.code(), Some(SUCCESS), "{}", text(&o));
    assert_eq!(std::fs::read(&file).unwrap(), on_disk);
    let o = abovo(&["snapshot", "info", file.to_str().unwrap(), "-f", "json"]);
    assert_eq!(o.status.code(), Some(SUCCESS), "{}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["derivations"], 3);
    assert_eq!(v["store_dir"], "/gnu/store");
}

#[test]
fn a_target_that_is_not_a_regular_file_is_refused() {
    let drvs = guix_drvs();
    let out = tempfile::tempdir().unwrap();
    let real = out.path().join("real");
    std::fs::write(&real, b"keep me").unwrap();
    let link = out.path().join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let subdir = out.path().join("subdir");
    std::fs::create_dir(&subdir).unwrap();
    let fifo = out.path().join("fifo");
    let made = Command::new("mkfifo").arg(&fifo).status();
    let mut cases = vec![
        (link.clone(), "a symbolic link"),
        (subdir.clone(), "a directory"),
        (Path::new("/dev/null").to_owned(), "a device"),
    ];
    if made.is_ok_and(|s| s.success()) {
        cases.push((fifo.clone(), "a FIFO"));
    } else {
        println!("mkfifo is not available: the FIFO case is skipped");
    }
    let before = entries(out.path());
    for (target, kind) in cases {
        let o = create(drvs.path(), &target);
        assert_eq!(o.status.code(), Some(ERROR), "{}", text(&o));
        let t = text(&o);
        assert!(
            t.contains(&format!(
                "refusing to write the snapshot to `{}`: it exists and is {kind}",
                target.display()
            )),
            "{t}"
        );
        // Nothing written through it, nothing left beside it.
        assert_eq!(std::fs::read(&real).unwrap(), b"keep me");
        assert_eq!(entries(out.path()), before);
    }
    assert_eq!(entries(&subdir), BTreeSet::new());
}

#[test]
fn write_failures_name_the_path_and_the_reason() {
    let drvs = guix_drvs();
    let out = tempfile::tempdir().unwrap();
    // A directory that does not exist.
    let missing = out.path().join("no-such-dir").join("g.abovo-snapshot");
    let o = create(drvs.path(), &missing);
    assert_eq!(o.status.code(), Some(ERROR), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains(&format!(
            "cannot write the snapshot `{}`",
            missing.display()
        )),
        "{t}"
    );
    assert!(t.contains("No such file or directory (os error 2)"), "{t}");
    // The temporary name is not part of the story.
    assert!(!t.contains(".part"), "{t}");

    // A source that does not load: the (already created) temporary file
    // goes, the existing target stays as it was.
    let file = out.path().join("g.abovo-snapshot");
    std::fs::write(&file, b"previous").unwrap();
    let o = create(&out.path().join("absent-source"), &file);
    assert_eq!(o.status.code(), Some(ERROR), "{}", text(&o));
    assert_eq!(std::fs::read(&file).unwrap(), b"previous");
    assert_eq!(
        entries(out.path()),
        BTreeSet::from(["g.abovo-snapshot".to_owned()])
    );

    // A read-only directory (only meaningful without root's override).
    let ro = out.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    if std::fs::write(ro.join("probe"), b"").is_ok() {
        // Root: sysfs refuses new files even to root.
        let target = Path::new("/sys/abovo-test.abovo-snapshot");
        if Path::new("/sys/kernel").is_dir() && std::fs::write(target, b"").is_err() {
            let o = create(drvs.path(), target);
            assert_eq!(o.status.code(), Some(ERROR), "{}", text(&o));
            let t = text(&o);
            assert!(
                t.contains("cannot write the snapshot `/sys/abovo-test.abovo-snapshot`")
                    && (t.contains("Permission denied") || t.contains("Read-only file system")),
                "{t}"
            );
        } else {
            println!("running as root without sysfs: the read-only case is skipped");
        }
    } else {
        let target = ro.join("g.abovo-snapshot");
        let o = create(drvs.path(), &target);
        assert_eq!(o.status.code(), Some(ERROR), "{}", text(&o));
        let t = text(&o);
        assert!(
            t.contains(&format!("cannot write the snapshot `{}`", target.display())),
            "{t}"
        );
        assert!(t.contains("Permission denied"), "{t}");
        assert_eq!(entries(&ro), BTreeSet::new());
    }
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn the_built_in_snapshot_ignores_the_build_store_variable() {
    // ABOVO_STORE_DIR is set (see `abovo`): the built-in Guix snapshot
    // still answers in /gnu/store.
    let o = abovo(&["path", "--type", "derivation", "hello", "guile-bootstrap"]);
    assert_eq!(o.status.code(), Some(SUCCESS), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).starts_with("/gnu/store/"),
        "{}",
        text(&o)
    );
    // A --store-dir that contradicts a snapshot is an error, not a silent
    // reinterpretation.
    let o = abovo(&[
        "path",
        "--type",
        "derivation",
        "hello",
        "guile-bootstrap",
        "--store-dir",
        "/nix/store",
    ]);
    assert_eq!(o.status.code(), Some(ERROR), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("--store-dir `/nix/store` does not match")
            && t.contains("whose paths are in `/gnu/store`"),
        "{t}"
    );
    let o = abovo(&[
        "path",
        "--type",
        "derivation",
        "hello",
        "guile-bootstrap",
        "--store-dir",
        "/gnu/store",
    ]);
    assert_eq!(o.status.code(), Some(SUCCESS), "{}", text(&o));
    // The help says where the store directory comes from.
    let o = abovo(&["path", "--help"]);
    assert!(
        // (clap wraps the help: compare with single spaces)
        text(&o)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .contains("neither ABOVO_STORE nor its old name ABOVO_STORE_DIR is read here"),
        "{}",
        text(&o)
    );
}

#[test]
fn a_nix_store_is_inferred_from_its_derivations() {
    let drvs = tempfile::tempdir().unwrap();
    make_closure_in(drvs.path(), &StoreDir::new("/nix/store").unwrap());
    let d = drvs.path().to_str().unwrap();
    // Every analysis command on the directory, no --store-dir.
    let o = abovo(&[
        "graph",
        "--type",
        "derivation",
        "--source",
        d,
        "top",
        "-f",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(SUCCESS), "{}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let nodes = v["nodes"].as_array().unwrap();
    assert!(!nodes.is_empty());
    assert!(
        nodes
            .iter()
            .all(|n| n["path"].as_str().unwrap().starts_with("/nix/store/")),
        "{v}"
    );
    for args in [
        vec![
            "path",
            "--type",
            "derivation",
            "--source",
            d,
            "top",
            "thing-1.0.tar.gz",
        ],
        vec!["why", "--type", "derivation", "--source", d, "top", "thing"],
        vec!["dependents", "--type", "derivation", "--source", d, "thing"],
        vec!["closure", "--type", "derivation", "--source", d, "top"],
        vec!["seeds", "--source", d, "top", "--no-store"],
        vec!["audit", "--source", d],
    ] {
        let args = [args.as_slice(), &["-f", "json"]].concat();
        let o = abovo(&args);
        assert_eq!(o.status.code(), Some(SUCCESS), "{args:?}: {}", text(&o));
        assert!(text(&o).contains("/nix/store/"), "{args:?}: {}", text(&o));
        assert!(!text(&o).contains("/gnu/store/"), "{args:?}: {}", text(&o));
    }
    // `show` infers it from the file too, whatever ABOVO_STORE_DIR (abovo's
    // own build store) says.
    let top = find(drvs.path(), "-top-2.0.drv");
    let o = abovo_command(&["show", "-f", "json", top.to_str().unwrap()])
        .env("ABOVO_STORE_DIR", "/gnu/store")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(SUCCESS), "{}", text(&o));
    assert!(text(&o).contains("/nix/store/"), "{}", text(&o));
    // An explicit --store-dir wins: a wrong one fails on the first path.
    let o = abovo(&[
        "closure",
        "--type",
        "derivation",
        "--source",
        d,
        "top",
        "--store-dir",
        "/gnu/store",
    ]);
    assert_eq!(o.status.code(), Some(ERROR), "{}", text(&o));
    assert!(
        text(&o).contains("is not in the store `/gnu/store`"),
        "{}",
        text(&o)
    );

    // A snapshot of it records /nix/store, and queries on the snapshot
    // answer in /nix/store.
    let out = tempfile::tempdir().unwrap();
    let snap = out.path().join("nix.abovo-snapshot");
    let o = create(drvs.path(), &snap);
    assert_eq!(o.status.code(), Some(SUCCESS), "{}", text(&o));
    let o = abovo(&["snapshot", "info", snap.to_str().unwrap()]);
    assert!(
        text(&o).contains("store         /nix/store"),
        "{}",
        text(&o)
    );
    let s = snap.to_str().unwrap();
    let o = abovo(&[
        "path",
        "--type",
        "derivation",
        "--source",
        s,
        "top",
        "thing-1.0.tar.gz",
    ]);
    assert_eq!(o.status.code(), Some(SUCCESS), "{}", text(&o));
    assert!(text(&o).starts_with("/nix/store/"), "{}", text(&o));
    let o = abovo(&[
        "path",
        "--type",
        "derivation",
        "--source",
        s,
        "top",
        "thing",
        "--store-dir",
        "/gnu/store",
    ]);
    assert_eq!(o.status.code(), Some(ERROR), "{}", text(&o));
    assert!(
        text(&o).contains(&format!(
            "--store-dir `/gnu/store` does not match the snapshot `{s}`, whose paths are in `/nix/store`"
        )),
        "{}",
        text(&o)
    );
}
