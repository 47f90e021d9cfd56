//! `abovo hash` end to end: the real binary against the Guix vectors of
//! test-vectors.json (`guix hash` 1.5.0 semantics), plus its error paths and
//! exit codes.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use serde_json::Value;
use std::io::Write;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::process::{Command, Output, Stdio};

const SUCCESS: i32 = 0;
const ERROR: i32 = 2;

fn abovo(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_abovo"))
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .expect("run abovo")
}

fn abovo_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_abovo"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run abovo");
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}
fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

/// Runs abovo, expects success and exactly one line, returns it.
fn one_line(args: &[&str], cwd: &Path) -> String {
    let o = abovo(args, cwd);
    assert_eq!(o.status.code(), Some(SUCCESS), "{args:?}: {}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.ends_with('\n') && out.matches('\n').count() == 1,
        "{args:?}: {out:?}"
    );
    out.trim_end().to_owned()
}

fn vectors() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../abovo-store/tests/data/test-vectors.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Creates the test-vectors.json `tree` at `path`.
fn materialise(tree: &Value, path: &Path) {
    match tree["type"].as_str().unwrap() {
        "regular" => {
            std::fs::write(path, tree["contents"].as_str().unwrap()).unwrap();
            let exec = tree["executable"].as_bool().unwrap_or(false);
            let mode = if exec { 0o755 } else { 0o644 };
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        "symlink" => symlink(tree["target"].as_str().unwrap(), path).unwrap(),
        "directory" => {
            std::fs::create_dir(path).unwrap();
            for (name, child) in tree["entries"].as_object().unwrap() {
                materialise(child, &path.join(name));
            }
        }
        other => panic!("unknown tree type {other}"),
    }
}

#[test]
fn nar_vectors() {
    let v = vectors();
    let mut checked = 0;
    for (i, vector) in v["nar"].as_array().unwrap().iter().enumerate() {
        let tmp = tempfile::tempdir().unwrap();
        let item = tmp.path().join("item");
        materialise(&vector["tree"], &item);
        let item = item.to_str().unwrap();
        let x = vector["exclude_vcs"].as_bool().unwrap_or(false);
        let mut args = vec!["hash", "-S", "nar"];
        if x {
            args.push("-x");
        }
        args.push(item);
        let expected = vector["sha256_nix32"].as_str().unwrap();
        assert_eq!(one_line(&args, tmp.path()), expected, "nar vector {i}");
        // -r is -S nar.
        args[1] = "-r";
        args.remove(2);
        assert_eq!(
            one_line(&args, tmp.path()),
            expected,
            "nar vector {i} with -r"
        );
        if let Some(hex) = vector["sha256_hex"].as_str() {
            let mut a = vec!["hash", "-r", "-f", "hex"];
            a.push(item);
            assert_eq!(one_line(&a, tmp.path()), hex, "nar vector {i} in hex");
        }
        if let Some(h) = vector["sha512_nix32"].as_str() {
            assert_eq!(
                one_line(&["hash", "-r", "-H", "sha512", item], tmp.path()),
                h
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 7);
}

#[test]
fn flat_vectors_of_the_empty_file() {
    let v = vectors();
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("empty"), b"").unwrap();
    let dir = tmp.path();
    // Vectors whose input is a hash of the empty string, as guix-hash.sh runs them.
    let nix32 = v["nix32"][0]["nix32"].as_str().unwrap();
    assert!(
        v["nix32"][0]["note"]
            .as_str()
            .unwrap()
            .contains("sha256 of the empty string")
    );
    assert_eq!(one_line(&["hash", "empty"], dir), nix32);
    assert_eq!(one_line(&["hash", "-f", "nix-base32", "empty"], dir), nix32);
    let hex = v["nix32"][0]["input_hex"].as_str().unwrap();
    for f in ["hex", "base16", "hexadecimal"] {
        assert_eq!(one_line(&["hash", "-f", f, "empty"], dir), hex);
    }
    let b32 = v["base32_rfc4648"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["input_hex"].as_str() == Some(hex))
        .unwrap();
    assert_eq!(
        one_line(&["hash", "-f", "base32", "empty"], dir),
        b32["base32"].as_str().unwrap()
    );
    let b64 = &v["base64"][0];
    assert_eq!(b64["hash_algo"], "sha1");
    assert_eq!(
        one_line(&["hash", "-H", "sha1", "-f", "base64", "empty"], dir),
        b64["base64"].as_str().unwrap()
    );
    assert_eq!(
        one_line(&["hash", "-H", "sha512", "-f", "hex", "empty"], dir),
        "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"
    );
    // The same from standard input.
    let o = abovo_stdin(&["hash", "-"], b"");
    assert_eq!(o.status.code(), Some(SUCCESS));
    assert_eq!(stdout(&o), format!("{nix32}\n"));
    let o = abovo_stdin(&["hash", "-H", "sha256", "-f", "hex", "-"], b"abc");
    assert_eq!(
        stdout(&o),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n"
    );
}

#[test]
fn one_line_per_file_and_symlinks_followed_without_r() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("a"), b"").unwrap();
    std::fs::write(dir.join("b"), b"abc").unwrap();
    symlink("a", dir.join("l")).unwrap();
    let o = abovo(&["hash", "-f", "hex", "a", "b", "l"], dir);
    assert_eq!(o.status.code(), Some(SUCCESS));
    assert_eq!(
        stdout(&o),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n\
         ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
    );
    // With -S nar the link itself is hashed.
    let link_nar = one_line(&["hash", "-S", "nar", "l"], dir);
    let file_nar = one_line(&["hash", "-S", "nar", "a"], dir);
    assert_ne!(link_nar, file_nar);
    // The last of -r and -S wins.
    assert_eq!(
        one_line(&["hash", "-r", "-S", "none", "l"], dir),
        one_line(&["hash", "a"], dir)
    );
    assert_eq!(one_line(&["hash", "-S", "none", "-r", "l"], dir), link_nar);
}

#[test]
fn vcs_exclusion_is_decided_at_the_top_level() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path().join("t");
    std::fs::create_dir_all(t.join("sub/.git")).unwrap();
    std::fs::write(t.join("sub/.git/HEAD"), b"x").unwrap();
    std::fs::write(t.join("f"), b"y").unwrap();
    let dir = tmp.path();
    // No VCS directory at the top: -x changes nothing.
    assert_eq!(
        one_line(&["hash", "-rx", "t"], dir),
        one_line(&["hash", "-r", "t"], dir)
    );
    // A top-level .git: all .git go, a nested .hg stays.
    std::fs::create_dir(t.join(".git")).unwrap();
    std::fs::create_dir(t.join("sub/.hg")).unwrap();
    let excluded = one_line(&["hash", "-r", "-x", "t"], dir);
    let e = tmp.path().join("e");
    std::fs::create_dir_all(e.join("sub/.hg")).unwrap();
    std::fs::write(e.join("f"), b"y").unwrap();
    assert_eq!(excluded, one_line(&["hash", "-r", "e"], dir));
    assert_ne!(excluded, one_line(&["hash", "-r", "t"], dir));
}

#[test]
fn errors_are_clear_and_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir(dir.join("d")).unwrap();
    std::fs::write(dir.join("ok"), b"").unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["hash", "d"], "Is a directory"),
        (&["hash", "missing"], "missing"),
        (&["hash", "-r", "missing"], "missing"),
        (&["hash", "-r", "/dev/null"], "character device"),
        (&["hash", "-H", "whirlpool", "ok"], "whirlpool"),
        (
            &["hash", "-f", "base58", "ok"],
            "unsupported hash format: base58",
        ),
        (
            &["hash", "-S", "tar", "ok"],
            "unsupported serializer type: tar",
        ),
        (&["hash"], "FILE"),
    ];
    for (args, needle) in cases {
        let o = abovo(args, dir);
        assert_eq!(o.status.code(), Some(ERROR), "{args:?}");
        assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{args:?}");
    }
    // Worded like the other commands' read errors: what, then why.
    let o = abovo(&["hash", "nonexistent"], dir);
    assert_eq!(o.status.code(), Some(ERROR));
    assert_eq!(
        stderr(&o),
        "abovo: error: cannot read `nonexistent`\n  caused by: No such file or directory (os error 2)\n"
    );
    let o = abovo(&["hash", "d"], dir);
    assert!(
        stderr(&o).starts_with("abovo: error: cannot read `d`: Is a directory")
            && stderr(&o).contains("hint: `d` is a directory"),
        "{}",
        stderr(&o)
    );
    // The first failing FILE stops the command; earlier lines stay printed.
    let o = abovo(&["hash", "ok", "missing", "ok"], dir);
    assert_eq!(o.status.code(), Some(ERROR));
    assert_eq!(stdout(&o).lines().count(), 1);
    // --recursive works and warns, as in Guix.
    let o = abovo(&["hash", "--recursive", "ok"], dir);
    assert_eq!(o.status.code(), Some(SUCCESS));
    assert!(stderr(&o).contains("deprecated"));
}

#[test]
fn json_output() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("empty"), b"").unwrap();
    let o = abovo(
        &["hash", "--json", "-f", "base64", "-H", "sha1", "empty"],
        tmp.path(),
    );
    assert_eq!(o.status.code(), Some(SUCCESS));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["file"], "empty");
    assert_eq!(v[0]["hash"], "2jmj7l5rSw0yVb/vlWAYkK/YBwk=");
    assert_eq!(v[0]["algorithm"], "sha1");
    assert_eq!(v[0]["format"], "base64");
    assert_eq!(v[0]["serializer"], "none");
}

#[test]
fn git_serializer() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir(dir.join("empty")).unwrap();
    std::fs::write(dir.join("e"), b"").unwrap();
    // Git's own ids for the empty tree and the empty blob.
    assert_eq!(
        one_line(
            &["hash", "-S", "git", "-H", "sha1", "-f", "hex", "empty"],
            dir
        ),
        "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
    );
    assert_eq!(
        one_line(&["hash", "-S", "git", "-H", "sha1", "-f", "hex", "e"], dir),
        "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
    );
    let o = abovo(&["hash", "--json", "-S", "git", "e"], dir);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["serializer"], "git");
}

/// File names need not be UTF-8 (as with `guix hash` and sha256sum): such
/// a FILE is hashed, and its JSON `file` shows the stray bytes as `\xNN`
/// with `file_bytes` (hex) beside it, so two names never print the same.
#[test]
fn file_names_that_are_not_utf8() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (OsStr::from_bytes(b"n\xff"), OsStr::from_bytes(b"n\xfe"));
    std::fs::write(tmp.path().join(a), b"").unwrap();
    std::fs::write(tmp.path().join(b), b"x").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_abovo"))
        .arg("hash")
        .arg("--json")
        .arg(a)
        .arg(b)
        .arg("empty-name-is-utf8")
        .current_dir(tmp.path())
        .output()
        .unwrap();
    // The third file does not exist: the first two were still hashed.
    assert_eq!(o.status.code(), Some(ERROR), "{}", stderr(&o));
    assert!(stderr(&o).contains("empty-name-is-utf8"), "{}", stderr(&o));
    let o = Command::new(env!("CARGO_BIN_EXE_abovo"))
        .arg("hash")
        .arg("--json")
        .arg(a)
        .arg(b)
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(SUCCESS), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["file"], "n\\xff");
    assert_eq!(v[0]["file_bytes"], "6eff");
    assert_eq!(v[1]["file_bytes"], "6efe");
    assert_eq!(
        v[0]["hash"], "0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73",
        "sha256 of the empty file"
    );
    let o = Command::new(env!("CARGO_BIN_EXE_abovo"))
        .args(["hash", "-r"])
        .arg(a)
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(SUCCESS), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().count(), 1);
    // UTF-8 names carry no `file_bytes`.
    let o = abovo(&["hash", "--json", "-"], tmp.path());
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v[0].get("file_bytes").is_none(), "{v}");
}
