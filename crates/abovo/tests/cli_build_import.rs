//! Guix's own `.drv` files, built as they are: imported with their
//! derivation closure from a directory or a tarball, every `.drv` checked,
//! and bad imports refused with nothing registered (issue 10, item 3).
//!
//! The data are guix-daemon 1.5.0's conformance probes
//! (`ABOVO_DAEMON_CONFORMANCE`, see `../shared/data/daemon-conformance/`):
//! real `.drv` files naming `/gnu/store`, their inputs as NARs, and the
//! NAR hash guix-daemon registered for every output. abovo's stores here
//! name `/gnu/store` and keep their items in a temporary directory
//! (`--real-store-dir`), so the host's `/gnu` is never touched.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod cli_build_support;
mod cli_import_support;

use cli_build_support::TestStore;
use cli_import_support::{Conformance, SAME_TODAY, valid_paths};
use std::path::Path;

/// Builds the probes whose outputs abovo reproduces today, imported from
/// the directory of `.drv` files by naming the files.
#[test]
fn guix_derivations_build_from_a_directory() {
    let Some(conf) = Conformance::load("guix_derivations_build_from_a_directory") else {
        return;
    };
    let t = TestStore::guix();
    conf.add_inputs(&t);
    let mut args = vec!["build".to_owned(), "--cores".into(), "1".into()];
    for probe in SAME_TODAY {
        args.push(conf.drv_file(probe).to_str().unwrap().to_owned());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = t.run(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    // conf-refs needs conf-ident, which is imported too.
    assert!(
        stderr.contains(&format!(
            "imported {} derivations and 0 sources from the directory",
            SAME_TODAY.len() + 1
        )),
        "{stderr}"
    );
    let printed = String::from_utf8(out.stdout).unwrap();
    for probe in SAME_TODAY {
        for row in conf.outputs(probe) {
            assert!(printed.contains(&row.path), "{} not printed", row.path);
            let info = t.info(&row.path);
            assert_eq!(
                info["nar_hash"], row.nar_hash,
                "{probe}: guix-daemon's bits, from Guix's own .drv"
            );
            assert_eq!(info["nar_size"], row.nar_size);
        }
    }
    assert!(t.verify_consistent());
}

/// The same from a `.tar.zst` of the `.drv` files, named by base name
/// with `--from`, and `abovo derivation add FILE.drv` for symmetry.
#[test]
fn guix_derivations_build_from_a_tarball() {
    let Some(conf) = Conformance::load("guix_derivations_build_from_a_tarball") else {
        return;
    };
    let t = TestStore::guix();
    conf.add_inputs(&t);
    let tarball = conf.drvs_tarball(t.dir.path(), true);
    let canon = conf.drv_base("conf-canon");
    let multi = conf.drv_base("conf-multi");
    let out = t.run(&[
        "build",
        "--cores",
        "1",
        "-f",
        "json",
        "--from",
        tarball.to_str().unwrap(),
        &canon,
        &format!("/gnu/store/{multi}"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["imported"][0]["derivations"], 2);
    assert_eq!(j["imported"][0]["from"][0], tarball.to_str().unwrap());
    for probe in ["conf-canon", "conf-multi"] {
        for row in conf.outputs(probe) {
            assert_eq!(t.info(&row.path)["nar_hash"], row.nar_hash, "{probe}");
        }
    }

    // `derivation add` of an ATerm file: checked and added with its
    // closure, not built.
    let added = t.ok(&[
        "derivation",
        "add",
        conf.drv_file("conf-refs").to_str().unwrap(),
    ]);
    assert_eq!(
        added.trim(),
        format!("/gnu/store/{}", conf.drv_base("conf-refs"))
    );
    let ident = format!("/gnu/store/{}", conf.drv_base("conf-ident"));
    assert_eq!(t.info(&ident)["path"], ident, "its input came along");
    // A loose copy (not named by its store path) gets the path its bytes
    // give under the name it is added as.
    let loose = t.dir.path().join("refs.drv");
    std::fs::copy(conf.drv_file("conf-refs"), &loose).unwrap();
    let added = t.ok(&[
        "derivation",
        "add",
        "--name",
        "conf-refs",
        loose.to_str().unwrap(),
    ]);
    assert_eq!(
        added.trim(),
        format!("/gnu/store/{}", conf.drv_base("conf-refs"))
    );
    assert!(t.verify_consistent());
}

/// Every way an import can be wrong is refused with an error that says
/// what and where, and nothing is registered or left in the store.
#[test]
fn bad_imports_are_refused_and_nothing_is_registered() {
    let Some(conf) = Conformance::load("bad_imports_are_refused_and_nothing_is_registered") else {
        return;
    };
    let t = TestStore::guix();
    conf.add_inputs(&t);
    let before = valid_paths(&t);
    let entries = TestStore::entries(t.real_dir());
    let refused = |args: &[&str], wanted: &[&str]| {
        let out = t.run(args);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        for w in wanted {
            assert!(err.contains(w), "{w:?} not in:\n{err}");
        }
        assert_eq!(valid_paths(&t), before, "{args:?} registered something");
        assert_eq!(
            TestStore::entries(t.real_dir()),
            entries,
            "{args:?} left something in the store directory"
        );
    };

    // A `.drv` whose name does not match its content: conf-canon's bytes
    // under conf-fsview's hash.
    let bad = t.dir.path().join("bad");
    std::fs::create_dir(&bad).unwrap();
    let canon = conf.drv_base("conf-canon");
    let fsview = conf.drv_base("conf-fsview");
    let liar = format!("{}-conf-canon.drv", &fsview[..32]);
    std::fs::copy(conf.drv_file("conf-canon"), bad.join(&liar)).unwrap();
    refused(
        &["build", bad.join(&liar).to_str().unwrap()],
        &[
            &format!("derivation `/gnu/store/{liar}`"),
            "its name does not match its content",
            &format!("give `/gnu/store/{canon}`"),
        ],
    );

    // A missing input derivation and a missing input source, with what
    // needs them: conf-refs without conf-ident, in a store without busybox.
    std::fs::copy(
        conf.drv_file("conf-refs"),
        bad.join(conf.drv_base("conf-refs")),
    )
    .unwrap();
    refused(
        &[
            "build",
            bad.join(conf.drv_base("conf-refs")).to_str().unwrap(),
        ],
        &[&format!(
            "derivation `/gnu/store/{}` is missing (needed by `/gnu/store/{}`)",
            conf.drv_base("conf-ident"),
            conf.drv_base("conf-refs")
        )],
    );
    let bare = TestStore::guix();
    // A store that exists, without the sources.
    bare.ok(&["add", "--name", "x", t.write("x", b"x").to_str().unwrap()]);
    let bare_before = valid_paths(&bare);
    let out = bare.run(&["build", conf.drv_file("conf-canon").to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "input source `{}` is missing (needed by `/gnu/store/{canon}`)",
            conf.busybox
        )) && err.contains("hint: add missing sources"),
        "{err}"
    );
    assert_eq!(valid_paths(&bare), bare_before);

    // Input derivations that form a cycle.
    let cyc = t.dir.path().join("cycle");
    std::fs::create_dir(&cyc).unwrap();
    let a = "a".repeat(32) + "-a.drv";
    let b = "b".repeat(32) + "-b.drv";
    for (me, other) in [(&a, &b), (&b, &a)] {
        let text = format!(
            "Derive([(\"out\",\"/gnu/store/{}-o\",\"\",\"\")],[(\"/gnu/store/{other}\",[\"out\"])],[],\"x86_64-linux\",\"{}/bin/sh\",[],[])",
            "c".repeat(32),
            conf.busybox
        );
        std::fs::write(cyc.join(me), text).unwrap();
    }
    refused(
        &["build", cyc.join(&a).to_str().unwrap()],
        &[
            "input derivations form a cycle",
            &format!("`/gnu/store/{a}` → `/gnu/store/{b}` → `/gnu/store/{a}`"),
        ],
    );

    // Truncated tarballs: a `.tar.zst` cut in half, and a plain `.tar` cut
    // exactly after a member (which tar alone would take for complete).
    let zst = conf.drvs_tarball(t.dir.path(), true);
    let bytes = std::fs::read(&zst).unwrap();
    let cut = t.dir.path().join("cut.tar.zst");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    refused(
        &["build", "--from", cut.to_str().unwrap(), &canon],
        &["cut.tar.zst", "truncated or corrupt"],
    );
    let tar = conf.drvs_tarball(t.dir.path(), false);
    let bytes = std::fs::read(&tar).unwrap();
    let first_member = 512
        + bytes[124..135]
            .iter()
            .fold(0usize, |n, d| n * 8 + (d - b'0') as usize)
            .div_ceil(512)
            * 512;
    let cut = t.dir.path().join("cut.tar");
    std::fs::write(&cut, &bytes[..first_member]).unwrap();
    refused(
        &["build", "--from", cut.to_str().unwrap(), &canon],
        &[
            "cut.tar",
            "ends before tar's end-of-archive blocks: the file is truncated",
        ],
    );

    // A Guix `.drv` for a store that does not name `/gnu/store`.
    let mine = TestStore::new();
    mine.ok(&[
        "add",
        "--name",
        "x",
        mine.write("x", b"x").to_str().unwrap(),
    ]);
    let out = mine.run(&["build", conf.drv_file("conf-canon").to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("it names the store directory `/gnu/store`")
            && err.contains("hint: a derivation holds only in a store whose directory is")
            && err.contains("--store /gnu/store --real-store-dir DIR"),
        "{err}"
    );
    assert!(Path::new(&t.dir.path().join("store")).is_dir());
}

/// A store whose items are elsewhere than the directory their paths name
/// (as Guix's derivations need without privileges): `builtin:download`
/// reads the mirror list the derivation names by its `/gnu/store/…` path
/// where the store keeps it.
#[test]
fn mirror_lists_are_read_where_the_store_keeps_them() {
    let t = TestStore::guix();
    let body = b"tarball bytes\n".to_vec();
    let server =
        cli_build_support::HttpServer::start(vec![("/pub/thing.tar.gz".into(), body.clone())]);
    let list = t.write(
        "mirrors-list",
        format!("((example \"{}/\"))", server.url("/pub")).as_bytes(),
    );
    let mirrors = t.ok(&["add", "--name", "mirrors", list.to_str().unwrap()]);
    let mirrors = mirrors.trim();
    assert!(mirrors.starts_with("/gnu/store/"), "{mirrors}");
    assert!(!Path::new(mirrors).exists(), "the host has no such file");
    let mut drv = cli_build_support::builtin_drv(
        "download",
        "thing.tar.gz",
        "sha256",
        &cli_build_support::sha256_hex(&body),
        serde_json::json!({"url": "(\"mirror://example/thing.tar.gz\")", "mirrors": mirrors}),
    );
    cli_build_support::merge(&mut drv, serde_json::json!({"inputSrcs": [mirrors]}));
    let drv = t.add_drv(&drv);
    let out = t.ok(&["build", &drv]);
    let real = t.real_dir().join(out.trim().rsplit('/').next().unwrap());
    assert_eq!(std::fs::read(real).unwrap(), body);
}

/// Without privileges (uid 65534), in a store whose paths name
/// `/gnu/store` and whose items are in the user's directory, Guix's own
/// `.drv` files build to guix-daemon's bits: the builder sees its inputs at
/// `/gnu/store/…` although they are elsewhere on disk.
#[test]
fn guix_derivations_build_rootless() {
    let Some(conf) = Conformance::load("guix_derivations_build_rootless") else {
        return;
    };
    let t = TestStore::with_user(Some(65534)).naming_gnu_store();
    conf.add_inputs(&t);
    let probes = ["conf-canon", "conf-multi", "conf-refs"];
    let mut args = vec!["build".to_owned(), "--cores".into(), "1".into()];
    for p in probes {
        args.push(conf.drv_file(p).to_str().unwrap().to_owned());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    t.ok(&args);
    for p in probes {
        for row in conf.outputs(p) {
            assert_eq!(t.info(&row.path)["nar_hash"], row.nar_hash, "{p} rootless");
        }
    }
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(t.real_dir()).unwrap().uid(), 65534);
}
