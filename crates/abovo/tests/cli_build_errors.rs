//! What the store commands say when something is wrong, and what they leave
//! behind: commands that only read never create a store, errors say each
//! thing once with the right hint, and structurally invalid derivations are
//! refused when they are added.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod cli_build_support;

use cli_build_support::{TestStore, builtin_drv, sha256_hex};
use serde_json::json;
use std::path::Path;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `abovo ARGS` with HOME in a fresh directory and no store variable, so
/// that the default store would be `$HOME/.local/share/abovo/store`.
fn in_empty_home(home: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_abovo"))
        .args(args)
        .env("HOME", home)
        .env_remove("XDG_DATA_HOME")
        .env_remove("ABOVO_STORE")
        .env_remove("ABOVO_STORE_DIR")
        .env_remove("ABOVO_STATE_DIR")
        .env("TMPDIR", home)
        .env("NO_COLOR", "1")
        .current_dir(home)
        .output()
        .unwrap()
}

#[test]
fn commands_that_only_read_create_no_store() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    std::fs::write(h.join("a"), "1\n").unwrap();
    std::fs::write(h.join("b"), "2\n").unwrap();
    let default = h.join(".local/share/abovo");
    let foreign = "/tmp/elsewhere/3zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-x.drv";
    let cases: [&[&str]; 7] = [
        &["build", foreign],
        &["build", "hello"],
        &["log", "hello"],
        &["store", "verify"],
        &["store", "verify", "--repair"],
        &["store", "info", foreign],
        &["diff", "a", "b"],
    ];
    for args in cases {
        let out = in_empty_home(h, args);
        assert_ne!(out.status.code(), Some(0), "{args:?}");
        assert!(
            !default.exists(),
            "`abovo {}` created {}",
            args.join(" "),
            default.display()
        );
    }
    // A store path of the default store that is not there: the error says
    // there is no store, and still nothing is created.
    let store = default.join("store");
    let absent = format!("{}/3zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-x.drv", store.display());
    let out = in_empty_home(h, &["build", &absent]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("there is no store at"), "{err}");
    assert!(
        err.contains("`abovo add` and `abovo derivation add` create one"),
        "{err}"
    );
    assert!(!default.exists());
    // An invalid derivation is refused before a store is made for it.
    std::fs::write(
        h.join("none.json"),
        r#"{"name": "none", "outputs": {}, "system": "x86_64-linux", "builder": "/bin/sh"}"#,
    )
    .unwrap();
    let out = in_empty_home(h, &["derivation", "add", "none.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!default.exists());
    // Adding creates it.
    let out = in_empty_home(h, &["add", "a"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(default.join("store").is_dir());
    assert!(default.join("var/abovo/db/db.sqlite").is_file());
}

#[test]
fn errors_say_each_thing_once_with_the_right_hint() {
    let t = TestStore::new();
    let file = t.write("f", b"x");
    t.ok(&["add", file.to_str().unwrap()]);
    let store = t.store.to_str().unwrap();
    // Not a path of this store: said once, with a hint.
    for cmd in ["build", "log"] {
        let out = t.run(&[cmd, "hello"]);
        assert_eq!(out.status.code(), Some(2));
        let err = stderr(&out);
        assert_eq!(
            err.matches("is not in the store").count(),
            1,
            "{cmd}: said once: {err}"
        );
        assert!(
            err.starts_with(&format!(
                "abovo: error: `hello` is not in the store `{store}`\nhint: "
            )),
            "{err}"
        );
    }
    // A `.drv` that is not in the store: added with `derivation add`.
    let absent = format!("{store}/3zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-x.drv");
    let out = t.run(&["build", &absent]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("abovo derivation add"), "{err}");
    assert!(!err.contains("`abovo add`"), "{err}");
    // Not a derivation at all.
    let item = t.ok(&["add", file.to_str().unwrap()]);
    let out = t.run(&["build", item.trim()]);
    let err = stderr(&out);
    assert!(err.contains("is not a derivation (`.drv`) path"), "{err}");
    // A relative path in the store means its absolute path.
    let rel = format!(
        "store/{}",
        Path::new(item.trim())
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
    );
    let out = t.run(&["store", "info", &rel]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn structurally_invalid_derivations_are_refused_at_add_time() {
    let t = TestStore::new();
    let file = t.write("f", b"x");
    t.ok(&["add", file.to_str().unwrap()]);
    let add = |j: serde_json::Value| {
        let p = t.write("bad.json", serde_json::to_string(&j).unwrap().as_bytes());
        t.run(&["derivation", "add", p.to_str().unwrap()])
    };
    let base = json!({"name": "x", "system": "x86_64-linux", "builder": "/bin/sh"});
    let with = |extra: serde_json::Value| {
        let mut j = base.clone();
        cli_build_support::merge(&mut j, extra);
        j
    };
    let sha = sha256_hex(b"x");
    let cases = [
        (with(json!({"outputs": {}})), "it has no outputs"),
        (
            with(json!({"outputs": {"out": {}, "bad name": {}}})),
            "output name `bad name` is invalid",
        ),
        (
            with(json!({"outputs": {"lib": {"hashAlgo": "sha256", "hash": sha}}})),
            "its output `lib` has a hash",
        ),
        (
            with(json!({"outputs": {"out": {"hashAlgo": "sha256", "hash": sha}, "doc": {}}})),
            "only a derivation whose one output is `out` can be fixed-output",
        ),
        (
            with(json!({"outputs": {"out": {}}, "builder": ""})),
            "its builder is empty",
        ),
        (
            with(json!({"outputs": {"out": {}}, "system": ""})),
            "its system is empty",
        ),
        (
            with(json!({"outputs": {"out": {}}, "builder": "builtin:download"})),
            "only for a fixed-output derivation",
        ),
        // Names: every store name abovo makes has at most 211 bytes.
        (
            with(json!({"outputs": {"out": {}}, "name": "n".repeat(300)})),
            "is 304 bytes long; a store name has at most 211",
        ),
        (
            with(json!({"outputs": {"out": {}}, "name": "n".repeat(208)})),
            "with `.drv` is no store name: it is 212 bytes long",
        ),
        (
            with(json!({"outputs": {"o".repeat(100_000): {}}})),
            "would get an invalid path name `x-oooo",
        ),
        (
            with(json!({"outputs": {"out": {}, "b/in": {}}})),
            "output name `b/in` is invalid",
        ),
        // What no execve can carry.
        (
            with(json!({"outputs": {"out": {}}, "env": {"a": "\u{0}b"}})),
            "its environment variable `a` has a NUL byte at offset 0",
        ),
        (
            with(json!({"outputs": {"out": {}}, "env": {"a\u{0}": "b"}})),
            "has a NUL byte at offset 1",
        ),
        (
            with(json!({"outputs": {"out": {}}, "env": {"a=b": "c"}})),
            "environment variable `a=b` has a `=`",
        ),
        (
            with(json!({"outputs": {"out": {}}, "args": ["-c", "x\u{0}y"]})),
            "its argument 2 has a NUL byte at offset 1",
        ),
        (
            with(json!({"outputs": {"out": {}}, "builder": "/bin/sh\u{0}x"})),
            "its builder has a NUL byte at offset 7",
        ),
        // An unquoted URL: said in words, not as a Debug dump.
        (
            builtin_drv(
                "download",
                "x",
                "sha256",
                &sha,
                json!({"url": "file:///tmp/x.tar.gz"}),
            ),
            "`url` must be a Scheme string in double quotes, such as \"https://",
        ),
    ];
    for (j, want) in cases {
        let out = add(j.clone());
        assert_eq!(out.status.code(), Some(2), "{j}");
        let err = stderr(&out);
        assert!(err.contains("is not a valid derivation: "), "{err}");
        assert!(err.contains(want), "{want:?} not in {err}");
        assert!(!err.contains("Sym(\""), "{err}");
    }
    let out = add(builtin_drv(
        "download",
        "x",
        "sha256",
        &sha,
        json!({"url": "file:///tmp/x.tar.gz"}),
    ));
    assert!(
        stderr(&out).contains("but it is the symbol `file:///tmp/x.tar.gz` (a bare word"),
        "{}",
        stderr(&out)
    );
    // Nothing was added: the store holds the one file.
    let j: serde_json::Value =
        serde_json::from_str(&t.ok(&["store", "verify", "-f", "json"])).unwrap();
    assert_eq!(j["checked"], 1, "{j}");
}

/// Names are checked before a store is created or anything is written:
/// `add` refuses a `.drv` name (only `derivation add` makes derivations;
/// `store verify` would find such a file wrong forever) and names longer
/// than 211 bytes, which used to be stored and then fail at the lock file.
#[test]
fn add_refuses_drv_and_overlong_names_before_writing() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("f");
    std::fs::write(&file, b"x").unwrap();
    let f = file.to_str().unwrap();
    let long = "a".repeat(300);
    let drv_named = home.path().join("g.drv");
    std::fs::write(&drv_named, b"x").unwrap();
    for (args, want) in [
        (
            vec!["add", f, "-n", "x.drv"],
            "a name ending in `.drv` is a derivation's",
        ),
        (
            vec!["add", "-r", f, "-n", "x.drv"],
            "only `abovo derivation add` makes",
        ),
        (
            vec!["add", drv_named.to_str().unwrap()],
            "cannot use `g.drv` as a store name",
        ),
        (
            vec!["add", f, "-n", &long],
            "is 300 bytes long; a store name has at most 211",
        ),
        (vec!["add", f, "-n", "a b"], "invalid character ' '"),
    ] {
        let out = in_empty_home(home.path(), &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr(&out);
        assert!(err.contains(want), "{args:?}: {want:?} not in {err}");
        assert!(err.len() < 400, "a long name is shortened: {err}");
        assert!(
            !home.path().join(".local").exists(),
            "{args:?} created a store"
        );
    }
    // 211 bytes is fine, and the item verifies.
    let t = TestStore::new();
    let file = t.write("f", b"x");
    let name = "b".repeat(211);
    let path = t.ok(&["add", file.to_str().unwrap(), "-n", &name]);
    assert!(path.trim().ends_with(&name), "{path}");
    assert!(t.verify_consistent());
}

/// A derivation whose names are at the limit (`NAME.drv` and
/// `NAME-OUTPUT` 211 bytes each) is added and builds: its lock files,
/// chroot and build directory all fit in a file name.
#[test]
fn a_derivation_with_names_at_the_limit_builds() {
    let mut t = TestStore::new();
    if t.add_busybox("a_derivation_with_names_at_the_limit_builds")
        .is_none()
    {
        return;
    }
    let name = "n".repeat(207);
    let mut j = t.sh_drv(&name, "echo a > $out; echo b > $dev", json!({}));
    j["outputs"] = json!({"out": {}, "dev": {}});
    let drv = t.add_drv(&j);
    t.ok(&["build", &drv]);
    assert_eq!(std::fs::read_to_string(t.output(&drv)).unwrap(), "a\n");
    t.ok(&["build", "--check", "-K", &drv]);
    assert!(t.ok(&["log", &drv]).is_empty());
    assert!(t.verify_consistent());
}

/// `nix derivation show` wraps the derivation in an object keyed by its
/// `.drv` path: that shape is accepted (the name comes from the path when
/// the derivation has none), and several derivations are refused with a
/// clear message.
#[test]
fn derivation_add_accepts_nix_derivation_show_output() {
    let t = TestStore::new();
    let inner = json!({
        "outputs": {"out": {}}, "inputDrvs": {}, "inputSrcs": [],
        "system": "x86_64-linux", "builder": "/bin/sh", "args": ["-c", "echo hi > $out"], "env": {}
    });
    let key = "/nix/store/gqvrxnbnki1z5317s2a780l1fp1syh7m-t1.drv";
    let wrapped = t.write("w.json", json!({ key: inner }).to_string().as_bytes());
    let from_wrapper = t.ok(&["derivation", "add", wrapped.to_str().unwrap()]);
    assert!(from_wrapper.trim().ends_with("-t1.drv"), "{from_wrapper}");
    // The same derivation, unwrapped and named: the same `.drv`.
    let mut named = inner.clone();
    named["name"] = json!("t1");
    let plain = t.write("p.json", named.to_string().as_bytes());
    assert_eq!(
        t.ok(&["derivation", "add", plain.to_str().unwrap()]),
        from_wrapper
    );
    // A "name" inside the wrapper wins over the path's.
    let wrapped = t.write(
        "w2.json",
        json!({ key: named.clone() }).to_string().as_bytes(),
    );
    assert_eq!(
        t.ok(&["derivation", "add", wrapped.to_str().unwrap()]),
        from_wrapper
    );
    let two = t.write(
        "two.json",
        json!({ key: inner, "/nix/store/aqvrxnbnki1z5317s2a780l1fp1syh7m-t2.drv": named })
            .to_string()
            .as_bytes(),
    );
    let out = t.run(&["derivation", "add", two.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("it holds 2 derivations"),
        "{}",
        stderr(&out)
    );
}

/// `store verify --repair` deletes the leftovers abovo made and says so; it
/// leaves entries abovo never makes (Guix's `.links`, here a symlink to a
/// directory outside the store, and a `garbage-dir`), lists them as
/// `foreign`, and no note claims that `--repair` deletes them.
#[test]
fn repair_deletes_leftovers_and_leaves_foreign_entries() {
    let t = TestStore::new();
    let file = t.write("f", b"x");
    t.ok(&["add", file.to_str().unwrap()]);
    let store = t.dir.path().join("store");
    let victim = t.write("victim/precious", b"p");
    std::os::unix::fs::symlink(victim.parent().unwrap(), store.join(".links")).unwrap();
    std::fs::create_dir(store.join("garbage-dir")).unwrap();
    let dead = store.join(".abovo-add-999999999-0");
    std::fs::create_dir(&dead).unwrap();
    let out = t.run(&["store", "verify"]);
    assert_eq!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert!(err.contains("1 leftover of interrupted work"), "{err}");
    assert!(err.contains("`--repair` deletes them"), "{err}");
    assert!(
        err.contains("2 entries in the store directory that abovo never makes"),
        "{err}"
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.contains("foreign: ") && text.contains(".links"),
        "{text}"
    );

    let out = t.run(&["store", "verify", "--repair"]);
    assert_eq!(out.status.code(), Some(0));
    let (text, err) = (String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert!(
        text.contains("removed leftover: ") && text.contains(".abovo-add-999999999-0"),
        "{text}"
    );
    assert!(
        !err.contains("`--repair` deletes"),
        "a false promise: {err}"
    );
    assert!(!err.contains("leftover"), "{err}");
    assert!(!dead.exists());
    assert!(store.join(".links").exists() && store.join("garbage-dir").exists());
    assert!(victim.exists(), "the symlink was not followed");
    let out = t.run(&["store", "verify", "--repair", "-f", "json"]);
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["leftovers"], json!([]), "{j}");
    assert_eq!(j["foreign"].as_array().unwrap().len(), 2, "{j}");
}

/// `abovo add` takes any path: a file whose name is not UTF-8 is added
/// under `--name`; without one it is refused with a hint, before a store
/// exists.
#[test]
fn add_takes_paths_that_are_not_utf8() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let t = TestStore::new();
    let file = t.dir.path().join(OsStr::from_bytes(b"f\xff"));
    std::fs::write(&file, b"x").unwrap();
    let out = t.cmd(&["add"]).arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("pass --name"), "{err}");
    assert!(!t.store.exists(), "no store was created");
    let out = t.cmd(&["add", "-n", "f"]).arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let path = String::from_utf8(out.stdout).unwrap();
    assert!(path.trim().ends_with("-f"), "{path}");
    assert_eq!(std::fs::read(path.trim()).unwrap(), b"x");
}

#[test]
fn outputs_that_refer_to_each_other_are_refused() {
    // guix-daemon refuses them ("cycle detected in the references of …"):
    // no order registers each output after what it refers to.
    let mut t = TestStore::new();
    if t.add_busybox("outputs_that_refer_to_each_other_are_refused")
        .is_none()
    {
        return;
    }
    let cyclic = t.add_drv(&t.sh_drv(
        "cyclic",
        "$bb mkdir $out $lib; echo $lib > $out/lib; echo $out > $lib/out",
        serde_json::json!({"outputs": {"lib": {}}}),
    ));
    let out = t.run(&["build", "-f", "json", &cyclic]);
    assert_eq!(out.status.code(), Some(2));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let r = &j["results"][0];
    assert_eq!(r["kind"], "reference-cycle", "{r}");
    let error = r["error"].as_str().unwrap();
    assert!(
        error.starts_with("cycle detected in the references of `"),
        "{error}"
    );
    // Nothing was registered or left at the output paths.
    let show: serde_json::Value =
        serde_json::from_str(&t.ok(&["show", "-f", "json", &cyclic])).unwrap();
    for name in ["out", "lib"] {
        let path = show["outputs"][name]["path"].as_str().unwrap();
        assert!(!Path::new(path).exists(), "{path}");
    }
    assert!(t.verify_consistent());
    // One way, and to itself, is fine.
    let one_way = t.add_drv(&t.sh_drv(
        "one-way",
        "$bb mkdir $out $lib; echo $lib > $out/lib; echo $lib > $lib/self",
        serde_json::json!({"outputs": {"lib": {}}}),
    ));
    t.ok(&["build", &one_way]);
}

/// `--store` (ABOVO_STORE) names abovo's own store; the old spelling,
/// `--store-dir` or ABOVO_STORE_DIR, still works for the store commands,
/// with a warning, and loses to the new one when both are given.
#[test]
fn the_old_spelling_of_store_still_works_with_a_warning() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    std::fs::write(h.join("a"), "1\n").unwrap();
    let added = |out: &std::process::Output| {
        assert_eq!(out.status.code(), Some(0), "{}", stderr(out));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let new_store = h.join("new").join("store");
    let old_store = h.join("old").join("store");
    let (new, old) = (new_store.to_str().unwrap(), old_store.to_str().unwrap());

    let out = in_empty_home(h, &["add", "a", "--store", new]);
    assert!(
        added(&out).starts_with(&format!("{new}/")),
        "{}",
        added(&out)
    );
    assert!(!stderr(&out).contains("deprecated"), "{}", stderr(&out));

    let out = in_empty_home(h, &["add", "a", "--store-dir", old]);
    assert!(
        added(&out).starts_with(&format!("{old}/")),
        "{}",
        added(&out)
    );
    assert!(
        stderr(&out)
            .contains("warning: --store-dir for abovo's own store is deprecated: use --store"),
        "{}",
        stderr(&out)
    );

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_abovo"))
        .args(["add", "a"])
        .current_dir(h)
        .env("HOME", h)
        .env_remove("ABOVO_STORE")
        .env("ABOVO_STORE_DIR", old)
        .output()
        .unwrap();
    assert!(
        added(&out).starts_with(&format!("{old}/")),
        "{}",
        added(&out)
    );
    assert!(
        stderr(&out).contains("warning: ABOVO_STORE_DIR for abovo's own store is deprecated"),
        "{}",
        stderr(&out)
    );

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_abovo"))
        .args(["add", "a", "--store", new])
        .current_dir(h)
        .env("HOME", h)
        .env("ABOVO_STORE_DIR", old)
        .output()
        .unwrap();
    assert!(
        added(&out).starts_with(&format!("{new}/")),
        "{}",
        added(&out)
    );
    assert!(
        stderr(&out).contains(&format!("warning: ignoring ABOVO_STORE_DIR `{old}`")),
        "{}",
        stderr(&out)
    );
}
