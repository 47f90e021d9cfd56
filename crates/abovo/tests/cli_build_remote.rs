//! `abovo build --remote` against a real Remote Execution API server on
//! 127.0.0.1: buildbox-casd with local execution through its bubblewrap
//! runner (`buildbox-run`), installed by `scripts/install-buildbox.sh`
//! (`.ci/run` sets ABOVO_BUILDBOX to its directory; the tests skip with
//! one line without it).
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod cli_build_support;
mod cli_remote_support;

use cli_build_support::TestStore;
use cli_remote_support::Casd;
use serde_json::json;
use std::net::TcpListener;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// A store with busybox, or `None` when the machine has none.
fn store(test: &str) -> Option<TestStore> {
    let mut t = TestStore::new();
    t.add_busybox(test)?;
    Some(t)
}

/// A chain of three derivations (each reads the previous output), one
/// output of each kind (a directory with an executable, a symlink and a
/// subdirectory; a single file), as `.drv` paths, the last first.
fn chain(t: &TestStore) -> Vec<String> {
    let a = t.add_drv(&t.sh_drv(
        "remote-a",
        "$bb mkdir -p $out/bin $out/share/doc; echo 'echo from a' > $out/bin/a; $bb chmod +x $out/bin/a; \
         $bb ln -s bin/a $out/link; echo $out > $out/share/doc/self",
        json!({}),
    ));
    let a_out = t.output(&a);
    let b = t.add_drv(&t.sh_drv(
        "remote-b",
        &format!("$bb cat {a_out}/share/doc/self > $out; echo \"$PWD $HOME\" >> $out"),
        json!({"inputDrvs": {&a: ["out"]}}),
    ));
    let b_out = t.output(&b);
    let c = t.add_drv(&t.sh_drv(
        "remote-c",
        &format!("$bb mkdir $out; $bb cp {b_out} $out/b; $bb sh {a_out}/bin/a > $out/a"),
        json!({"inputDrvs": {&b: ["out"], &a: ["out"]}}),
    ));
    vec![c, b, a]
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

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
        stderr(&out).contains("remote: 3 actions executed, 0 from the ActionCache"),
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
    // `--check --remote`: the ActionCache answers every action now.
    let out = t.run(&[
        "build", "--check", "--remote", &url, &drvs[0], &drvs[1], &drvs[2],
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("remote: 0 actions executed, 3 from the ActionCache"),
        "{}",
        stderr(&out)
    );
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
    let drvs: Vec<String> = (0..50)
        .map(|i| {
            t.add_drv(&t.sh_drv(
                &format!("trivial-{i}"),
                &format!("$bb mkdir $out; echo {i} > $out/n; $bb ln -s n $out/link"),
                json!({}),
            ))
        })
        .collect();
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
