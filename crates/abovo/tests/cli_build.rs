//! `abovo add`, `derivation add`, `build`, `log`, `store` end to end: what a
//! builder sees, what gets registered, failures, and two processes asking
//! for the same derivation (built-in downloads: `cli_build_downloads`).
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod cli_build_support;

use cli_build_support::TestStore;
use serde_json::json;
use std::time::{Duration, Instant};

#[test]
fn add_is_content_addressed_and_checks_its_input() {
    let t = TestStore::new();
    let f = t.write("data/hello.txt", b"hello\n");
    let flat = t.ok(&["add", f.to_str().unwrap()]);
    let again = t.ok(&["add", f.to_str().unwrap()]);
    assert_eq!(flat, again, "same content, same path");
    // Flat: the fixed path of the file's SHA-256 (as Guix computes it).
    let expected = abovo_store::StoreDir::new(t.store.to_str().unwrap())
        .unwrap()
        .make_fixed_output_path(
            "hello.txt",
            false,
            &abovo_store::HashAlgo::Sha256.digest(b"hello\n"),
        )
        .unwrap();
    assert_eq!(flat.trim(), format!("{}/{}", t.store.display(), expected));
    assert_eq!(std::fs::read(flat.trim()).unwrap(), b"hello\n");
    // Recursive: a `source` path of the NAR hash, with another name.
    let rec = t.ok(&["add", "-r", "--name", "greeting", f.to_str().unwrap()]);
    let nar = abovo_store::nar::hash_path(&f).unwrap();
    let expected = abovo_store::StoreDir::new(t.store.to_str().unwrap())
        .unwrap()
        .make_fixed_output_path("greeting", true, &nar.hash)
        .unwrap();
    assert_eq!(rec.trim(), format!("{}/{}", t.store.display(), expected));
    let info = t.info(rec.trim());
    assert_eq!(info["nar_hash"], nar.hash.to_nix32_string());
    assert_eq!(info["references"], json!([]));
    // A directory without --recursive, a bad name, a missing file: errors.
    let dir = t.dir.path().join("data");
    let out = t.run(&["add", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("without --recursive"));
    let out = t.run(&["add", "--name", "bad name", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid character"));
    let out = t.run(&["add", "/nonexistent/file"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(t.verify_consistent());
}

#[test]
fn derivation_add_computes_paths_and_refuses_bad_input() {
    let mut t = TestStore::new();
    if t.add_busybox("derivation_add_computes_paths_and_refuses_bad_input")
        .is_none()
    {
        return;
    }
    let j = t.sh_drv("greeting-1.0", "echo hi > $out", json!({}));
    let drv = t.add_drv(&j);
    assert!(drv.ends_with("-greeting-1.0.drv"), "{drv}");
    // The .drv in the store is what Guix would write: abovo verify agrees.
    let out = t.run(&["verify", "--store-dir", t.store.to_str().unwrap(), &drv]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let info = t.info(&drv);
    assert_eq!(info["references"], json!([t.busybox]));
    // Adding the same JSON again gives the same path.
    assert_eq!(t.add_drv(&j), drv);
    // A wrong output path is refused, naming both paths.
    let mut bad = j.clone();
    bad["outputs"]["out"]["path"] = json!(format!(
        "{}/00000000000000000000000000000000-greeting-1.0",
        t.store.display()
    ));
    let p = t.write("bad.json", bad.to_string().as_bytes());
    let out = t.run(&["derivation", "add", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("must be"), "{err}");
    // An input that is not in the store.
    let mut missing = j.clone();
    missing["inputSrcs"] = json!([format!(
        "{}/11111111111111111111111111111111-nowhere",
        t.store.display()
    )]);
    let p = t.write("missing.json", missing.to_string().as_bytes());
    let out = t.run(&["derivation", "add", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a valid store item"));
    // Not JSON.
    let p = t.write("garbage.json", b"{ not json");
    let out = t.run(&["derivation", "add", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a derivation in JSON"));
}

#[test]
fn the_builder_sees_exactly_what_guix_gives_it() {
    use std::os::unix::fs::MetadataExt;
    let mut t = TestStore::new();
    if t.add_busybox("the_builder_sees_exactly_what_guix_gives_it")
        .is_none()
    {
        return;
    }
    let script = r#"set -e
b=$bb
start=$($b pwd)
$b mkdir $out
cd $out
echo $start > pwd
$b cat /proc/1/environ > environ
$b id > id
$b hostname > hostname
$b cat /proc/sys/kernel/domainname > domainname
echo $$ > pid
umask > umask
$b cat /proc/self/personality > personality
$b ls -a / > root
$b ls /dev > dev
$b cat /etc/passwd > passwd
$b cat /etc/group > group
$b cat /etc/hosts > hosts
$b ip -o link > links
"#;
    let drv = t.add_drv(&t.sh_drv(
        "probe",
        script,
        json!({"env": {"ZZZ": "from the derivation", "HOME": "/override"}}),
    ));
    let out = t.ok(&["build", &drv]);
    let o = out.trim().to_owned();
    let read = |f: &str| std::fs::read_to_string(format!("{o}/{f}")).unwrap();
    let store = t.store.to_str().unwrap();
    let top = "/tmp/guix-build-probe.drv-0";
    let expected: Vec<String> = vec![
        "HOME=/override".into(),
        "NIX_BUILD_CORES=0".into(),
        format!("NIX_BUILD_TOP={top}"),
        format!("NIX_STORE={store}"),
        "PATH=/path-not-set".into(),
        format!("PWD={top}"),
        format!("TEMP={top}"),
        format!("TEMPDIR={top}"),
        format!("TMP={top}"),
        format!("TMPDIR={top}"),
        "ZZZ=from the derivation".into(),
        format!("bb={}", t.bb()),
        format!("out={o}"),
    ];
    let environ: Vec<String> = read("environ")
        .split('\0')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    assert_eq!(environ, expected, "the environment, in order");
    // As root the builder is a build user whose supplementary group is the
    // build group, as guix-daemon's; a user namespace made without
    // privileges cannot give it one.
    let root = std::fs::metadata("/proc/self").unwrap().uid() == 0;
    assert_eq!(
        read("id").trim(),
        if root {
            "uid=30001(nixbld) gid=30000(nixbld) groups=30000(nixbld)"
        } else {
            "uid=30001(nixbld) gid=30000(nixbld)"
        }
    );
    assert_eq!(read("hostname").trim(), "localhost");
    assert_eq!(read("domainname").trim(), "(none)");
    assert_eq!(read("pid").trim(), "1");
    assert_eq!(read("pwd").trim(), top);
    assert_eq!(read("umask").trim(), "0022");
    assert_eq!(read("personality").trim(), "00040000", "ASLR off");
    let top_dir = store.trim_start_matches('/').split('/').next().unwrap();
    let mut root: Vec<&str> = read("root").leak().lines().collect();
    root.sort();
    let mut want = vec![".", "..", "dev", "etc", "proc", "tmp"];
    if !want.contains(&top_dir) {
        want.push(top_dir);
    }
    want.sort();
    assert_eq!(root, want, "only the chroot's own entries at /");
    let dev: Vec<String> = read("dev").lines().map(str::to_owned).collect();
    for d in [
        "fd", "full", "null", "pts", "random", "shm", "stderr", "stdin", "stdout", "tty",
        "urandom", "zero",
    ] {
        assert!(dev.iter().any(|x| x == d), "/dev/{d} missing: {dev:?}");
    }
    assert_eq!(
        read("passwd"),
        "nixbld:x:30001:30000:Nix build user:/:/noshell\nnobody:x:65534:65534:Nobody:/:/noshell\n"
    );
    assert_eq!(read("group"), "nixbld:!:30000:\n");
    assert_eq!(read("hosts"), "127.0.0.1 localhost\n::1 localhost\n");
    let links = read("links");
    assert_eq!(
        links.lines().count(),
        1,
        "only the loopback interface: {links}"
    );
    assert!(links.contains("lo:") && links.contains("UP"), "{links}");
    // Registered with its deriver; the output refers to busybox (its path is
    // in `environ`) and to itself.
    let info = t.info(&o);
    assert_eq!(info["deriver"], json!(drv));
    let refs: Vec<String> = serde_json::from_value(info["references"].clone()).unwrap();
    assert_eq!(refs.len(), 2, "{refs:?}");
    assert!(refs.contains(&t.busybox) && refs.contains(&o));
    // Canonical: 0555 directories and executables, 0444 files, mtime 1.
    let m = std::fs::symlink_metadata(&o).unwrap();
    assert_eq!((m.mode() & 0o7777, m.mtime()), (0o555, 1));
    let m = std::fs::symlink_metadata(format!("{o}/pid")).unwrap();
    assert_eq!((m.mode() & 0o7777, m.mtime()), (0o444, 1));
    // Building again is a no-op that prints the same path.
    assert_eq!(t.ok(&["build", &drv]).trim(), o);
    assert!(t.verify_consistent());
}

#[test]
fn a_chain_builds_inputs_first_and_logs_each_build() {
    let mut t = TestStore::new();
    if t.add_busybox("a_chain_builds_inputs_first_and_logs_each_build")
        .is_none()
    {
        return;
    }
    let a = t.add_drv(&t.sh_drv("a", "echo building a; echo A > $out", json!({})));
    let a_out = t.output(&a);
    let b = t.add_drv(&t.sh_drv(
        "b",
        "echo building b; $bb cat $a > $out; echo B >> $out",
        json!({"inputDrvs": {a.clone(): ["out"]}, "env": {"a": a_out}}),
    ));
    let b_out = t.ok(&["build", &b]).trim().to_owned();
    assert_eq!(std::fs::read_to_string(&b_out).unwrap(), "A\nB\n");
    assert!(
        t.info(&a_out)["path"].is_string(),
        "the input was built and registered"
    );
    let log = t.ok(&["log", &b]);
    assert_eq!(log, "building b\n");
    // `abovo log` also takes an output path.
    assert_eq!(t.ok(&["log", &a_out]), "building a\n");
    let refs = &t.info(&b_out)["references"];
    assert_eq!(refs, &json!([]), "B's bytes name no store path");
}

#[test]
fn a_failed_build_names_its_log_and_registers_nothing() {
    let mut t = TestStore::new();
    if t.add_busybox("a_failed_build_names_its_log_and_registers_nothing")
        .is_none()
    {
        return;
    }
    let drv = t.add_drv(&t.sh_drv(
        "fails",
        "echo about to fail; $bb mkdir $out; exit 3",
        json!({}),
    ));
    let out = t.run(&["build", &drv]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("exited with code 3"), "{err}");
    assert!(err.contains("see the build log: "), "{err}");
    assert!(err.contains("/log/drvs/"), "{err}");
    assert_eq!(t.ok(&["log", &drv]), "about to fail\n");
    let o = t.output(&drv);
    let info = t.run(&["store", "info", &o]);
    assert_eq!(info.status.code(), Some(2), "not registered");
    assert!(
        !std::path::Path::new(&o).exists(),
        "not moved into the store"
    );
    // A builder that does not create its output.
    let drv = t.add_drv(&t.sh_drv("lazy", "true", json!({})));
    let out = t.run(&["build", &drv]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("failed to produce output path"));
    // -K keeps the build directory where Guix users look for it,
    // `$TMPDIR/guix-build-NAME.drv-N`, and names the directory that holds
    // the builder's files.
    let drv = t.add_drv(&t.sh_drv("keep", "echo kept > note; exit 1", json!({})));
    let out = t.run(&["build", "-K", &drv]);
    let err = String::from_utf8_lossy(&out.stderr);
    let kept = t.tmp().join("guix-build-keep.drv-0");
    assert!(
        err.contains(&format!("(build directory kept at {})", kept.display())),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(kept.join("note")).unwrap(),
        "kept\n"
    );
    // It is the user's: a later build and `--repair` leave it alone, and
    // nothing else is left in the build area.
    t.ok(&["store", "verify", "--repair"]);
    assert!(kept.join("note").exists());
    assert_eq!(TestStore::entries(&t.build_area()), Vec::<String>::new());
    assert!(t.verify_consistent());
}

#[test]
fn timeouts_kill_the_build() {
    let mut t = TestStore::new();
    if t.add_busybox("timeouts_kill_the_build").is_none() {
        return;
    }
    let drv = t.add_drv(&t.sh_drv("silent", "$bb sleep 30; $bb mkdir $out", json!({})));
    let start = Instant::now();
    let out = t.run(&["build", "--max-silent-time", "1", &drv]);
    assert!(start.elapsed() < Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("timed out after 1 second of silence"));
    let drv = t.add_drv(&t.sh_drv(
        "chatty",
        "while true; do echo tick; $bb sleep 0.2; done",
        json!({}),
    ));
    let start = Instant::now();
    let out = t.run(&["build", "--timeout", "1", "--max-silent-time", "5", &drv]);
    assert!(start.elapsed() < Duration::from_secs(10));
    assert!(String::from_utf8_lossy(&out.stderr).contains("timed out after 1 second"));
}

#[test]
fn a_second_process_waits_and_uses_the_result() {
    let mut t = TestStore::new();
    if t.add_busybox("a_second_process_waits_and_uses_the_result")
        .is_none()
    {
        return;
    }
    let drv = t.add_drv(&t.sh_drv(
        "slow",
        "$bb sleep 2; $bb head -c 16 /dev/urandom | $bb od -x > $out",
        json!({}),
    ));
    let first = t
        .cmd(&["build", &drv])
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    let second = t.run(&["build", &drv]);
    let first = first.wait_with_output().unwrap();
    assert!(first.status.success() && second.status.success());
    assert_eq!(first.stdout, second.stdout, "same output path");
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(err.contains("waiting for another process"), "{err}");
    assert!(
        !err.lines().any(|l| l.starts_with("building ")),
        "the second process did not build: {err}"
    );
    assert!(t.verify_consistent());
}

#[test]
fn two_hundred_independent_derivations_build_in_parallel() {
    let mut t = TestStore::new();
    if t.add_busybox("two_hundred_independent_derivations_build_in_parallel")
        .is_none()
    {
        return;
    }
    let drvs: Vec<String> = (0..200)
        .map(|i| {
            t.add_drv(&t.sh_drv(
                &format!("trivial-{i}"),
                &format!("echo {i} > $out"),
                json!({}),
            ))
        })
        .collect();
    let mut args = vec!["build", "--jobs", "8"];
    args.extend(drvs.iter().map(String::as_str));
    let start = Instant::now();
    let out = t.ok(&args);
    let took = start.elapsed();
    assert_eq!(out.lines().count(), 200);
    for (i, line) in out.lines().enumerate() {
        assert_eq!(std::fs::read_to_string(line).unwrap(), format!("{i}\n"));
    }
    // Past the capture: the time belongs in the CI log (BENCHMARKS.md quotes it).
    let _ = std::io::Write::write_fmt(
        &mut std::io::stderr(),
        format_args!("200 trivial derivations built in {took:?}\n"),
    );
    assert!(t.verify_consistent());
}

#[test]
fn store_verify_finds_corruption_and_repair_rebuilds() {
    let mut t = TestStore::new();
    if t.add_busybox("store_verify_finds_corruption_and_repair_rebuilds")
        .is_none()
    {
        return;
    }
    let drv = t.add_drv(&t.sh_drv(
        "victim",
        "$bb mkdir $out; echo original > $out/file",
        json!({}),
    ));
    let o = t.ok(&["build", &drv]).trim().to_owned();
    assert!(t.verify_consistent());
    // Tamper with the output behind abovo's back.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&o, std::fs::Permissions::from_mode(0o755)).unwrap();
    let f = format!("{o}/file");
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&f, "tampered\n").unwrap();
    let out = t.run(&["store", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("`{o}` was modified")), "{text}");
    // A missing item nothing refers to, and a corrupt source nobody can rebuild.
    let lonely = t.write("lonely", b"lonely\n");
    let lonely = t.ok(&["add", lonely.to_str().unwrap()]).trim().to_owned();
    std::fs::remove_file(&lonely).unwrap();
    let out = t.run(&["store", "verify", "-f", "json"]);
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let kinds: Vec<&str> = j["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.len(), 2, "{j}");
    assert!(
        kinds.contains(&"missing") && kinds.contains(&"corrupt"),
        "{j}"
    );
    let out = t.run(&["store", "verify", "--repair"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "original\n");
    assert_eq!(
        t.run(&["store", "info", &lonely]).status.code(),
        Some(2),
        "forgotten"
    );
    assert!(t.verify_consistent());
}

#[test]
fn cores_systems_and_personality() {
    let mut t = TestStore::new();
    if t.add_busybox("cores_systems_and_personality").is_none() {
        return;
    }
    let drv = t.add_drv(&t.sh_drv("cores", "echo $NIX_BUILD_CORES > $out", json!({})));
    let o = t.ok(&["build", "--cores", "3", &drv]);
    assert_eq!(std::fs::read_to_string(o.trim()).unwrap(), "3\n");
    // An i686-linux build on x86_64 runs with the 32-bit personality.
    if std::env::consts::ARCH == "x86_64" {
        let drv = t.add_drv(&t.sh_drv(
            "uname32",
            "$bb uname -m > $out",
            json!({"system": "i686-linux"}),
        ));
        let o = t.ok(&["build", &drv]);
        assert_eq!(std::fs::read_to_string(o.trim()).unwrap(), "i686\n");
    }
    // A system this machine cannot run.
    let drv = t.add_drv(&t.sh_drv("foreign", "echo > $out", json!({"system": "riscv64-linux"})));
    let out = t.run(&["build", &drv]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("a `riscv64-linux` is required to build"),
        "{err}"
    );
}

#[test]
fn export_references_graph_writes_the_closure() {
    let mut t = TestStore::new();
    if t.add_busybox("export_references_graph_writes_the_closure")
        .is_none()
    {
        return;
    }
    let a = t.add_drv(&t.sh_drv("refers", "echo $bb > $out", json!({})));
    let a_out = t.ok(&["build", &a]).trim().to_owned();
    let b = t.add_drv(&t.sh_drv(
        "exports",
        "$bb cp graph $out",
        json!({"inputDrvs": {a.clone(): ["out"]}, "env": {"exportReferencesGraph": format!("graph {a_out}")}}),
    ));
    let o = t.ok(&["build", &b]).trim().to_owned();
    let mut entries = [
        format!("{a_out}\n\n1\n{}\n", t.busybox),
        format!("{}\n\n0\n", t.busybox),
    ];
    entries.sort();
    assert_eq!(std::fs::read_to_string(&o).unwrap(), entries.concat());
    // An odd number of tokens is an error.
    let c = t.add_drv(&t.sh_drv(
        "odd",
        "true",
        json!({"env": {"exportReferencesGraph": "graph"}}),
    ));
    let out = t.run(&["build", &c]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("odd number of tokens"));
}

#[test]
fn a_failure_stops_its_dependents_and_keep_going_builds_the_rest() {
    let mut t = TestStore::new();
    if t.add_busybox("a_failure_stops_its_dependents_and_keep_going_builds_the_rest")
        .is_none()
    {
        return;
    }
    let bad = t.add_drv(&t.sh_drv("bad", "exit 1", json!({})));
    let dependent = t.add_drv(&t.sh_drv(
        "dependent",
        "echo x > $out",
        json!({"inputDrvs": {bad.clone(): ["out"]}}),
    ));
    let other = t.add_drv(&t.sh_drv("other", "$bb sleep 0.5; echo y > $out", json!({})));
    let out = t.run(&["build", "-k", "-j", "1", "-f", "json", &dependent, &other]);
    assert_eq!(out.status.code(), Some(2));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let status = |drv: &str| {
        j["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["drv"] == drv)
            .map(|r| r["status"].as_str().unwrap().to_owned())
            .unwrap()
    };
    assert_eq!(status(&bad), "failed");
    assert_eq!(status(&dependent), "failed");
    assert_eq!(
        status(&other),
        "built",
        "--keep-going built the independent one"
    );
    let err = j["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["drv"] == dependent.as_str())
        .unwrap()["error"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(err.contains("its input") && err.contains("failed"), "{err}");
    // Without --keep-going, nothing new starts after the failure.
    let other2 = t.add_drv(&t.sh_drv("other2", "echo z > $out", json!({})));
    let bad2 = t.add_drv(&t.sh_drv("bad2", "exit 1", json!({})));
    let out = t.run(&["build", "-j", "1", "-f", "json", &bad2, &other2]);
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let statuses: Vec<&str> = j["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses.len(), 2, "{statuses:?}");
    // Results come in the order builds finished; whatever never started is
    // last and `skipped`.
    match statuses[0] {
        "failed" => assert_eq!(statuses[1], "skipped", "{statuses:?}"),
        "built" => assert_eq!(statuses[1], "failed", "{statuses:?}"),
        other => panic!("unexpected {other}"),
    }
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_store_whose_items_live_elsewhere_builds_with_its_own_paths() {
    // `--store /gnu/store --real-store-dir DIR`, without privileges
    // (as uid 65534 when the test runs as root): store paths, hashes and
    // what the builder sees say `/gnu/store`; the items are in DIR, and
    // nothing is written to the host's /gnu.
    let test = "a_store_whose_items_live_elsewhere_builds_with_its_own_paths";
    let root = std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false);
    let mut t = TestStore::with_user(root.then_some(65534)).naming_gnu_store();
    let Some(bb) = t.add_busybox(test) else {
        return;
    };
    assert!(bb.starts_with("/gnu/store/"), "{bb}");
    let base = |p: &str| p.rsplit('/').next().unwrap().to_owned();
    assert!(t.real_dir().join(base(&bb)).join("busybox").is_file());
    let script = "$bb mkdir $out; echo $out $NIX_STORE > $out/paths
        $bb ls /gnu/store > $out/store; $bb cat $bb > /dev/null && echo ran > $out/ran";
    let drv = t.add_drv(&t.sh_drv("elsewhere", script, json!({})));
    assert!(drv.starts_with("/gnu/store/") && drv.ends_with("-elsewhere.drv"));
    let out = t.ok(&["build", &drv]).trim().to_owned();
    assert!(out.starts_with("/gnu/store/"), "{out}");
    let real = t.real_dir().join(base(&out));
    let read = |f: &str| std::fs::read_to_string(real.join(f)).unwrap();
    assert_eq!(read("paths"), format!("{out} /gnu/store\n"));
    assert_eq!(read("ran"), "ran\n");
    // The fake store holds the inputs and the output, at their store paths.
    let mut seen: Vec<String> = read("store").lines().map(str::to_owned).collect();
    seen.sort();
    let mut want = vec![base(&bb), base(&out)];
    want.sort();
    assert_eq!(seen, want);
    // The same derivation in a store at the physical directory would have
    // other paths: these are /gnu/store's.
    let other = abovo_store::StoreDir::new(t.real_dir().to_str().unwrap()).unwrap();
    assert!(other.parse(&out).is_err());
    assert!(!std::path::Path::new(&out).exists(), "{out} on the host");
    assert_eq!(t.info(&out)["path"], out.as_str());
    assert_eq!(t.run(&["build", "--check", &drv]).status.code(), Some(0));
    assert!(t.verify_consistent());
}
