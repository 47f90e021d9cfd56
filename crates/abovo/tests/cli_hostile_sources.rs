//! Graph sources that try to hang abovo, exhaust its memory or garble its
//! messages, end to end: a FIFO inside a `--source` directory is skipped
//! with one note, a FIFO or a device named on the command line is refused
//! (exit 2) instead of waited on, an unreadable member of `verify --all` is
//! listed and the run goes on, a snapshot piped through `/dev/stdin` loads,
//! and the messages about truncated snapshots, empty tarballs and bad
//! tables name what they are about. Every run has a deadline: a hang fails
//! the test instead of stalling the suite.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod cli_support;

use cli_support::*;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

/// Runs abovo with `args`, killing it and failing when it has not ended
/// after 20 seconds.
fn run_with_deadline(args: &[&str]) -> Output {
    let mut child = abovo_command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("abovo {args:?} did not end within 20 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn a_fifo_in_a_source_directory_is_skipped_with_one_note() {
    let dir = tempfile::tempdir().unwrap();
    let top = make_closure(dir.path());
    mkfifo(&dir.path().join("00000000000000000000000000000000-x.drv"));
    mkfifo(&dir.path().join("00000000000000000000000000000001-y.drv"));
    let d = dir.path().to_str().unwrap();
    let top = format!("/gnu/store/{top}");
    let note = format!("note: skipped 2 `.drv` entries of `{d}` that are not a regular file");
    for args in [
        &["graph", top.as_str(), "--source", d][..],
        &["verify", "--all", d],
    ] {
        let o = run_with_deadline(args);
        assert_eq!(code(&o), 0, "{args:?}: {}", text(&o));
        assert_eq!(stderr(&o).matches(&note).count(), 1, "{}", text(&o));
    }
}

#[test]
fn fifos_and_devices_named_on_the_command_line_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("x.drv");
    mkfifo(&fifo);
    let f = fifo.to_str().unwrap();
    let said = format!("`{f}` is a FIFO, not a regular file");
    for args in [
        &["graph", "--type", "derivation", "hello", "--source", f][..],
        &["verify", "--all", f],
        &["verify", f],
        &["snapshot", "info", f],
        &["show", f],
    ] {
        let o = run_with_deadline(args);
        assert_eq!(code(&o), ERROR, "{args:?}: {}", text(&o));
        assert!(stderr(&o).contains(&said), "{args:?}: {}", text(&o));
    }
    for args in [
        &["show", "/dev/zero"][..],
        &["snapshot", "info", "/dev/zero"],
    ] {
        let o = run_with_deadline(args);
        assert_eq!(code(&o), ERROR, "{args:?}: {}", text(&o));
        assert!(
            stderr(&o).contains("`/dev/zero` is a character device, not a regular file"),
            "{args:?}: {}",
            text(&o)
        );
    }
}

#[test]
fn verify_all_lists_unreadable_files_and_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    make_closure(dir.path());
    let gone = dir.path().join("00000000000000000000000000000000-gone.drv");
    std::os::unix::fs::symlink(dir.path().join("nowhere"), &gone).unwrap();
    let d = dir.path().to_str().unwrap();
    let o = run_with_deadline(&["verify", "--all", d]);
    assert_eq!(code(&o), ERROR, "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains(&format!(
            "UNREADABLE {}: cannot be read: No such file",
            gone.display()
        )),
        "{out}"
    );
    assert!(out.contains("1 .drv file could not be read"), "{out}");
    let o = run_with_deadline(&["verify", "--all", d, "-f", "json"]);
    assert_eq!(code(&o), ERROR);
    let v = parse_json(&o);
    assert_eq!(
        v["unreadable"][0]["file"],
        gone.display().to_string(),
        "{v}"
    );
    // The others were verified all the same.
    assert_eq!(v["parsed"], 3, "{v}");
    assert_eq!(v["mismatches"].as_array().unwrap().len(), 0, "{v}");
}

#[test]
fn a_snapshot_piped_through_standard_input_loads() {
    let dir = tempfile::tempdir().unwrap();
    let top = make_closure(dir.path());
    let d = dir.path().to_str().unwrap();
    let mut create = abovo_command(&["snapshot", "create", "--from", d, "-o", "-"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pipe = create.stdout.take().unwrap();
    let top = format!("/gnu/store/{top}");
    let o = abovo_command(&["graph", &top, "--source", "/dev/stdin", "-f", "json"])
        .stdin(Stdio::from(pipe))
        .output()
        .unwrap();
    assert!(create.wait().unwrap().success());
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(parse_json(&o)["nodes"].as_array().unwrap().len(), 4);
}

#[test]
fn messages_name_what_they_are_about() {
    let dir = tempfile::tempdir().unwrap();
    // A ten-byte snapshot: the same words whoever reads it.
    let ten = dir.path().join("ten.abovo-snapshot");
    std::fs::write(&ten, b"ABOVOSNP\x01\x00").unwrap();
    let t = ten.to_str().unwrap();
    let want = "truncated: the header needs 52 bytes, the file has 10";
    for args in [
        &["snapshot", "info", t][..],
        &["graph", "--type", "derivation", "hello", "--source", t],
    ] {
        let o = run_with_deadline(args);
        assert_eq!(code(&o), ERROR);
        assert!(stderr(&o).contains(want), "{args:?}: {}", text(&o));
    }
    // An archive without a `.drv` member names itself.
    let tarball = dir.path().join("empty.tar");
    let mut b = tar::Builder::new(std::fs::File::create(&tarball).unwrap());
    let mut h = tar::Header::new_gnu();
    h.set_size(2);
    h.set_mode(0o444);
    h.set_cksum();
    b.append_data(&mut h, "README", &b"hi"[..]).unwrap();
    b.finish().unwrap();
    drop(b);
    let tb = tarball.to_str().unwrap();
    let o = run_with_deadline(&["graph", "--type", "derivation", "hello", "--source", tb]);
    assert_eq!(code(&o), ERROR);
    assert!(
        stderr(&o).contains(&format!("`{tb}` holds no `.drv` file")),
        "{}",
        text(&o)
    );
    // A package table of random bytes: its first line is line 1; a long
    // header is quoted in part.
    let drvs = dir.path().join("drvs");
    std::fs::create_dir(&drvs).unwrap();
    make_closure(&drvs);
    let table = dir.path().join("p.tsv");
    std::fs::write(&table, b"\xff\xfe random").unwrap();
    let args = |p: &Path| {
        vec![
            "graph".to_owned(),
            "top".into(),
            "--source".into(),
            drvs.display().to_string(),
            "--package-table".into(),
            p.display().to_string(),
        ]
    };
    let run = |p: &Path| {
        let a = args(p);
        run_with_deadline(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let o = run(&table);
    assert_eq!(code(&o), ERROR);
    assert!(
        stderr(&o).contains("p.tsv` line 1: not UTF-8"),
        "{}",
        text(&o)
    );
    std::fs::write(&table, "z".repeat(10_000)).unwrap();
    let o = run(&table);
    assert_eq!(code(&o), ERROR);
    let err = stderr(&o);
    assert!(err.contains("… (10000 bytes)"), "{err}");
    assert!(err.len() < 600, "{err}");
}

#[test]
fn path_limit_zero_is_refused() {
    let o = run_with_deadline(&[
        "path",
        "--type",
        "derivation",
        "hello",
        "guile-bootstrap",
        "--all-shortest",
        "--limit",
        "0",
    ]);
    assert_eq!(code(&o), ERROR);
    assert!(stderr(&o).contains("must be at least 1"), "{}", text(&o));
    assert!(stdout(&o).is_empty());
}

#[test]
fn snapshot_info_escapes_what_the_snapshot_says() {
    let dir = tempfile::tempdir().unwrap();
    // The description of a snapshot is the path it was made from.
    let drvs = dir.path().join("a\x1b[2Jb");
    std::fs::create_dir(&drvs).unwrap();
    make_closure(&drvs);
    let snap = dir.path().join("s.abovo-snapshot");
    let o = run_with_deadline(&[
        "snapshot",
        "create",
        "--from",
        drvs.to_str().unwrap(),
        "-o",
        snap.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let o = run_with_deadline(&["snapshot", "info", snap.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let out = stdout(&o);
    assert!(!out.contains('\x1b'), "{out:?}");
    assert!(out.contains("graph of"), "{out}");
    assert!(out.contains("[2Jb"), "the rest is kept: {out}");
}
