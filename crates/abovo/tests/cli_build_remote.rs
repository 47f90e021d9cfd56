//! `abovo build --remote` against a real Remote Execution API server on
//! 127.0.0.1: buildbox-casd with local execution through its bubblewrap
//! runner (`buildbox-run`), installed by `scripts/install-buildbox.sh`
//! (`.ci/run` sets ABOVO_BUILDBOX to its directory; the tests skip with
//! one line without it).
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod cli_build_support;
mod cli_remote_support;

use cli_build_support::TestStore;
use cli_remote_support::{Casd, chain, guix_store, stderr, store, trivial};
use serde_json::json;
use std::net::TcpListener;
use std::process::Stdio;
use std::time::{Duration, Instant};

#[test]
fn remote_builds_give_local_nar_hashes_and_a_second_run_hits_the_action_cache() {
    let test = "remote_builds_give_local_nar_hashes_and_a_second_run_hits_the_action_cache";
    let Some(t) = store(test) else { return };
    let Some(casd) = Casd::start(test) else {
        return;
    };
    let drvs = chain(&t);
    let url = casd.url();
    let out = t.run(&["build", "--remote", &url, &drvs[0]]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("remote: 3 actions executed, 0 from the ActionCache")
            && stderr(&out).contains("input trees: 0 from the database, 3 computed"),
        "{}",
        stderr(&out)
    );
    let c_out = t.output(&drvs[0]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), c_out);
    // Registered as a local build's: canonical, with references found.
    let info = t.info(&c_out);
    let a_out = t.output(&drvs[2]);
    let b_out = t.output(&drvs[1]);
    assert_eq!(info["deriver"], json!(drvs[0]));
    // `c` holds a copy of `b`, which names `a`.
    assert_eq!(info["references"], json!([a_out]), "{info}");
    let b = std::fs::read_to_string(&b_out).unwrap();
    eprintln!("b: {b}");
    assert!(b.starts_with(&format!("{a_out}\n")), "{b}");
    assert_eq!(
        std::fs::read_to_string(format!("{c_out}/a")).unwrap(),
        "from a\n"
    );
    assert!(t.verify_consistent());
    let remote_hashes: Vec<_> = drvs
        .iter()
        .map(|d| t.info(&t.output(d))["nar_hash"].clone())
        .collect();
    // The same derivations rebuilt here, in abovo's own sandbox, must give
    // the same bits, except `b`, which records the working directory
    // (docs/remote.md: the remote builder starts at the input root).
    let out = t.run(&["build", "--check", "-f", "json", &drvs[2]]);
    assert!(
        out.status.success(),
        "a remote build differs from the local one: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    // `--check --remote`: remote against remote, every action built again
    // (not answered by the ActionCache), in a new process that reads every
    // input's tree from abovo's database, none of its bytes.
    let out = t.run(&[
        "build", "--check", "--remote", &url, &drvs[0], &drvs[1], &drvs[2],
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("remote: 3 actions executed, 0 from the ActionCache")
            && stderr(&out).contains("input trees: 3 from the database, 0 computed"),
        "{}",
        stderr(&out)
    );
    // Two stores naming /gnu/store ask for the same derivation: the first's
    // action is executed, the second's answered by the ActionCache, with
    // the same bits.
    let mut built = Vec::new();
    for (executed, cached) in [(1, 0), (0, 1)] {
        let t2 = guix_store(test).expect("busybox was found for the first store");
        let drv = t2.add_drv(&t2.sh_drv("remote-cached", "echo cached > $out", json!({})));
        let out = t2.run(&["build", "--remote", &url, &drv]);
        let want = format!(
            "remote: {executed} {} executed, {cached} from the ActionCache",
            if executed == 1 { "action" } else { "actions" }
        );
        assert!(
            out.status.success() && stderr(&out).contains(&want),
            "{want}: {}",
            stderr(&out)
        );
        let path = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let nar_hash = t2.info(&path)["nar_hash"].clone();
        assert!(t2.verify_consistent());
        built.push((drv, path, nar_hash));
    }
    assert_eq!(built[0], built[1], "the same derivation, output and bits");
    // `--rounds 2` remotely: the second round runs the builder again, it
    // is not the first one's cached result.
    let twice = t.add_drv(&t.sh_drv("remote-twice", "echo same > $out", json!({})));
    let out = t.run(&["build", "--rounds", "2", "--remote", &url, &twice]);
    assert!(
        out.status.success()
            && stderr(&out).contains("remote: 2 actions executed, 0 from the ActionCache"),
        "{}",
        stderr(&out)
    );
    // A row of abovo's database goes bad: it is found wrong, the tree is
    // computed anew (the check builds it again) and the
    // row replaced.
    let db = t.state().join("db/db.sqlite");
    let sql = "update AbovoInputTrees set tree = x'0a0a08' \
               where item = (select id from ValidPaths where path like '%-busybox%')";
    let status = std::process::Command::new("sqlite3")
        .arg(&db)
        .arg(sql)
        .status();
    if status.is_ok_and(|s| s.success()) {
        for (computed, note) in [(1, " (1 found wrong in the database)"), (0, "")] {
            let out = t.run(&["build", "--check", "--remote", &url, &drvs[2]]);
            assert!(out.status.success(), "{}", stderr(&out));
            let want = format!(
                "input trees: {} from the database, {computed} computed{note}\n",
                1 - computed
            );
            assert!(stderr(&out).contains(&want), "{want}: {}", stderr(&out));
        }
    } else {
        eprintln!("{test}: the corrupted row is not tried: no sqlite3 here");
    }
    let again: Vec<_> = drvs
        .iter()
        .map(|d| t.info(&t.output(d))["nar_hash"].clone())
        .collect();
    assert_eq!(remote_hashes, again);
}

#[test]
fn a_failing_remote_builder_registers_nothing_and_keeps_its_log() {
    let test = "a_failing_remote_builder_registers_nothing_and_keeps_its_log";
    let Some(t) = store(test) else { return };
    let Some(casd) = Casd::start(test) else {
        return;
    };
    let drv = t.add_drv(&t.sh_drv("remote-fails", "echo about to fail; exit 3", json!({})));
    let out = t.run(&["build", "--remote", &casd.url(), &drv]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("failed remotely with exit code 3"),
        "{}",
        stderr(&out)
    );
    let log = t.ok(&["log", &drv]);
    assert!(log.contains("about to fail"), "{log}");
    let out = t.run(&["store", "info", &t.output(&drv)]);
    assert!(!out.status.success(), "nothing is registered");
    assert!(t.verify_consistent());
}

#[test]
fn an_unreachable_or_vanishing_server_is_a_clear_error_and_registers_nothing() {
    let test = "an_unreachable_or_vanishing_server_is_a_clear_error_and_registers_nothing";
    let Some(t) = store(test) else { return };
    let Some(mut casd) = Casd::start(test) else {
        return;
    };
    let drv = t.add_drv(&t.sh_drv("remote-slow", "$bb sleep 4; echo late > $out", json!({})));
    // A port nobody listens on.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = t.run(&[
        "build",
        "--remote",
        &format!("grpc://127.0.0.1:{closed}"),
        &drv,
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cannot reach the remote execution server"),
        "{}",
        stderr(&out)
    );
    let out = t.run(&["build", "--remote", "https://127.0.0.1:1", &drv]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("TLS is not supported"),
        "{}",
        stderr(&out)
    );
    // The server goes away while the builder runs.
    let child = t
        .cmd(&["build", "--remote", &casd.url(), &drv])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    casd.stop();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("remotely"), "{}", stderr(&out));
    let out = t.run(&["store", "info", &t.output(&drv)]);
    assert!(!out.status.success(), "nothing is registered");
    assert!(t.verify_consistent());
}

#[test]
fn fifty_independent_derivations_build_remotely_with_local_bits() {
    let test = "fifty_independent_derivations_build_remotely_with_local_bits";
    let Some(t) = store(test) else { return };
    let Some(casd) = Casd::start(test) else {
        return;
    };
    let drvs = trivial(&t, 50);
    let url = casd.url();
    let mut args = vec!["build", "--remote", &url, "--remote-jobs", "8"];
    args.extend(drvs.iter().map(String::as_str));
    let start = Instant::now();
    let out = t.run(&args);
    let remote_time = start.elapsed();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("remote: 50 actions executed, 0 from the ActionCache"),
        "{}",
        stderr(&out)
    );
    // The same 50 rebuilt in abovo's own sandbox: the same NAR hashes
    // (`--check` exits 1 on any difference).
    let mut check = vec!["build", "--check"];
    check.extend(drvs.iter().map(String::as_str));
    let start = Instant::now();
    let out = t.run(&check);
    eprintln!(
        "{test}: 50 derivations remotely in {remote_time:?}, rebuilt locally in {:?}",
        start.elapsed()
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(t.verify_consistent());
}

#[test]
fn big_blobs_go_through_bytestream_both_ways() {
    let test = "big_blobs_go_through_bytestream_both_ways";
    let Some(t) = store(test) else { return };
    let Some(casd) = Casd::start(test) else {
        return;
    };
    // Over the 3 MiB batch limit: uploaded and downloaded with ByteStream.
    let big: Vec<u8> = (0..5_000_000u32).map(|i| (i % 251) as u8).collect();
    let f = t.write("big.bin", &big);
    let src = t.ok(&["add", f.to_str().unwrap()]).trim().to_owned();
    let drv = t.add_drv(&t.sh_drv(
        "remote-big",
        &format!(
            "$bb mkdir $out; $bb cp {src} $out/copy; $bb head -c 4500000 /dev/zero > $out/zeros"
        ),
        json!({"inputSrcs": [&src]}),
    ));
    let url = casd.url();
    let out = t.run(&["build", "--remote", &url, &drv]);
    assert!(out.status.success(), "{}", stderr(&out));
    let o = t.output(&drv);
    assert_eq!(std::fs::read(format!("{o}/copy")).unwrap(), big);
    assert_eq!(
        std::fs::read(format!("{o}/zeros")).unwrap(),
        vec![0; 4_500_000]
    );
}

#[test]
fn check_with_remote_finds_where_the_remote_sandbox_differs() {
    let test = "check_with_remote_finds_where_the_remote_sandbox_differs";
    let Some(t) = store(test) else { return };
    let Some(casd) = Casd::start(test) else {
        return;
    };
    // Built here, in abovo's sandbox (the builder starts in NIX_BUILD_TOP)…
    let drv = t.add_drv(&t.sh_drv("remote-pwd", "echo $PWD > $out", json!({})));
    t.ok(&["build", &drv]);
    // …and remotely, where it starts at the input root: `--check` says so.
    let url = casd.url();
    let out = t.run(&["build", "--check", "--remote", &url, "-f", "json", &drv]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(j.to_string().contains("remote-pwd"), "{j}");
    assert!(t.verify_consistent());
}

#[test]
fn bytes_that_do_not_match_their_digest_are_refused_and_nothing_is_registered() {
    let test = "bytes_that_do_not_match_their_digest_are_refused_and_nothing_is_registered";
    let Some(t) = store(test) else { return };
    let Some(casd) = Casd::start(test) else {
        return;
    };
    let drv = t.add_drv(&t.sh_drv(
        "remote-corrupt",
        "echo 'the genuine output of a build' > $out",
        json!({}),
    ));
    let url = casd.url();
    t.ok(&["build", "--remote", &url, &drv]);
    let genuine = std::fs::read(t.output(&drv)).unwrap();
    // The server's storage goes bad: every copy of the output's bytes in
    // its CAS is overwritten (same length), and the ActionCache still
    // names the old digest.
    let mut corrupted = 0;
    for e in walk(casd.cache()) {
        if std::fs::read(&e).is_ok_and(|b| b == genuine) {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&e, std::fs::Permissions::from_mode(0o644)).unwrap();
            std::fs::write(&e, &b"a forged output, same size as it!\n"[..genuine.len()]).unwrap();
            corrupted += 1;
        }
    }
    assert!(
        corrupted > 0,
        "the output's blob is in buildbox-casd's storage"
    );
    // A second store (another store directory, so another action) builds
    // the same script: its output has the same digest, whose bytes in the
    // CAS are the corrupted ones; they do not match, nothing is registered.
    let t2 = {
        let mut t2 = TestStore::new();
        t2.add_busybox(test).unwrap();
        t2
    };
    let drv2 = t2.add_drv(&t2.sh_drv(
        "remote-corrupt",
        "echo 'the genuine output of a build' > $out",
        json!({}),
    ));
    let out = t2.run(&["build", "--remote", &url, &drv2]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("has other bytes"), "{}", stderr(&out));
    assert!(
        !t2.run(&["store", "info", &t2.output(&drv2)])
            .status
            .success()
    );
    assert!(t2.verify_consistent());
}

/// Every regular file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                todo.push(e.path());
            } else if ft.is_file() {
                out.push(e.path());
            }
        }
    }
    out
}

/// The `remote:` note's uploads: (blobs, bytes, upload calls at most at
/// once).
fn uploaded(stderr: &str) -> (u64, u64, u64) {
    let note = stderr
        .lines()
        .find_map(|l| l.split_once("remote: "))
        .map(|(_, n)| n)
        .unwrap();
    let number_before = |what: &str| -> u64 {
        let end = note.find(what).unwrap();
        let start = note[..end].rfind([' ', '(']).unwrap() + 1;
        note[start..end].parse().unwrap()
    };
    (
        number_before(" blobs"),
        number_before(" bytes)"),
        number_before(" at most at once"),
    )
}

#[test]
fn actions_sharing_a_big_input_upload_it_once_within_the_jobs_limit() {
    let test = "actions_sharing_a_big_input_upload_it_once_within_the_jobs_limit";
    let Some(t) = store(test) else { return };
    let Some(casd) = Casd::start(test) else {
        return;
    };
    // Four derivations, started together, each needing busybox and the
    // same 6 MB source (sent through ByteStream): each blob crosses once.
    let big: Vec<u8> = (0..6_000_000u32).map(|i| (i % 241) as u8).collect();
    let f = t.write("shared.bin", &big);
    let src = t.ok(&["add", f.to_str().unwrap()]).trim().to_owned();
    let drvs: Vec<String> = (0..4)
        .map(|i| {
            t.add_drv(&t.sh_drv(
                &format!("shares-{i}"),
                &format!("$bb wc -c < {src} > $out; echo {i} >> $out"),
                json!({"inputSrcs": [&src]}),
            ))
        })
        .collect();
    let busybox = std::fs::metadata("/bin/busybox").unwrap().len();
    let url = casd.url();
    let mut args = vec!["build", "--remote", &url, "--remote-jobs", "2"];
    args.extend(drvs.iter().map(String::as_str));
    let out = t.run(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let (_, bytes, at_once) = uploaded(&stderr(&out));
    // Each file once; the rest is small messages (four Commands, four
    // Actions, the directories above the items).
    let files = big.len() as u64 + busybox;
    assert!(
        (files..files + 20_000).contains(&bytes),
        "{bytes} bytes uploaded for {files} bytes of files: {}",
        stderr(&out)
    );
    assert!((1..=2).contains(&at_once), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(t.output(&drvs[3])).unwrap(),
        "6000000\n3\n"
    );
}

#[test]
fn the_configuration_file_gives_remote_defaults_and_flags_override_it() {
    let test = "the_configuration_file_gives_remote_defaults_and_flags_override_it";
    let Some(t) = store(test) else { return };
    let Some(casd) = Casd::start(test) else {
        return;
    };
    let drv = t.add_drv(&t.sh_drv("configured", "echo configured > $out", json!({})));
    let config = t.write(
        "config.toml",
        format!("# abovo\n[remote]\nurl = \"{}\"\njobs = 3\n", casd.url()).as_bytes(),
    );
    let run = |args: &[&str], config: &std::path::Path| {
        t.cmd(args)
            .env("ABOVO_CONFIG", config)
            .stderr(Stdio::piped())
            .output()
            .unwrap()
    };
    // A flag pointing elsewhere wins over the file.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let elsewhere = format!("grpc://127.0.0.1:{closed}");
    let out = run(&["build", "--remote", &elsewhere, &drv], &config);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("cannot reach"), "{}", stderr(&out));
    // The file's [remote] is used without a flag.
    let out = run(&["build", &drv], &config);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("remote: 1 action executed"),
        "{}",
        stderr(&out)
    );
    // --no-remote builds here (a check: no remote note).
    let out = run(&["build", "--check", "--no-remote", &drv], &config);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("remote:"), "{}", stderr(&out));
    // Mistakes: the file, the line and what was expected; exit 2.
    for (text, want) in [
        (
            "[remote]\nurl = \"grpc://x:1\"\njobs = \"many\"\n",
            "invalid type",
        ),
        (
            "[remote]\nurl = \"grpc://x:1\"\njbos = 2\n",
            "expected one of",
        ),
    ] {
        let bad = t.write("bad.toml", text.as_bytes());
        let out = run(&["build", &drv], &bad);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        let e = stderr(&out);
        assert!(
            e.contains(&bad.display().to_string()) && e.contains("line 3") && e.contains(want),
            "{e}"
        );
    }
    // --config names a file that must exist; the default place is read.
    let out = t.run(&["build", "--config", "/nonexistent/abovo.toml", &drv]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cannot read the configuration file"),
        "{}",
        stderr(&out)
    );
    let xdg = t.tmp().join("xdg");
    std::fs::create_dir_all(xdg.join("abovo")).unwrap();
    std::fs::write(xdg.join("abovo/config.toml"), "[remote]\nurll = 1\n").unwrap();
    let out = t
        .cmd(&["build", &drv])
        .env_remove("ABOVO_CONFIG")
        .env("XDG_CONFIG_HOME", &xdg)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("abovo/config.toml"),
        "{}",
        stderr(&out)
    );
}
