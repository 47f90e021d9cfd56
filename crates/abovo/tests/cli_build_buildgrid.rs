//! `abovo build --remote` against a real BuildGrid 0.9.1 on 127.0.0.1: its
//! scheduler on a throw-away PostgreSQL cluster and two workers, installed
//! by `scripts/install-buildgrid.sh` and `scripts/install-buildbox.sh`
//! (`.ci/run` sets ABOVO_BUILDGRID and ABOVO_BUILDBOX; the tests skip with
//! one line without them). The workers are test scaffolding
//! (`cli_buildgrid_support/bot.py`, a minimal Remote Workers API bot
//! running buildbox-run), as buildbox-worker is in no reachable registry.
//!
//! What buildbox-casd cannot show: a real scheduler handing actions to
//! several workers, and a worker killed mid-action whose action the server
//! gives to the other.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod cli_build_support;
mod cli_buildgrid_support;
mod cli_remote_support;

use cli_build_support::TestStore;
use cli_buildgrid_support::Grid;
use cli_remote_support::{chain, guix_store, stderr, store, trivial};
use serde_json::json;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The ids of the leases `log` (a worker's) says it started.
fn leases_started(log: &str) -> Vec<String> {
    log.lines()
        .filter_map(|l| l.split_once(": lease ")?.1.strip_suffix(" started"))
        .map(str::to_owned)
        .collect()
}

/// Waits until a worker starts a lease, and says which (worker, lease).
fn first_lease(grid: &Grid) -> (usize, String) {
    let start = Instant::now();
    loop {
        for i in 0..2 {
            if let Some(lease) = leases_started(&grid.worker_log(i)).pop() {
                return (i, lease);
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no worker started the action: {}",
            grid.server_log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn buildgrid_builds_give_local_nar_hashes_and_a_second_run_hits_the_action_cache() {
    let test = "buildgrid_builds_give_local_nar_hashes_and_a_second_run_hits_the_action_cache";
    let Some(t) = store(test) else { return };
    let Some(grid) = Grid::start(test) else {
        return;
    };
    let drvs = chain(&t);
    let trivial = trivial(&t, 50);
    let url = grid.url();
    let all: Vec<&str> = drvs.iter().chain(&trivial).map(String::as_str).collect();
    let mut args = vec!["build", "--remote", &url, "--remote-instance", "main"];
    args.extend(&all);
    let start = Instant::now();
    let out = t.run(&args);
    let remote_time = start.elapsed();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("remote: 53 actions executed, 0 from the ActionCache"),
        "{}",
        stderr(&out)
    );
    // Both workers took a share of the 53 actions.
    let shares: Vec<usize> = (0..2)
        .map(|i| leases_started(&grid.worker_log(i)).len())
        .collect();
    assert_eq!(shares.iter().sum::<usize>(), 53, "{shares:?}");
    assert!(shares.iter().all(|&n| n > 0), "{shares:?}");
    // The chain registered as a local build's, references found.
    let c_out = t.output(&drvs[0]);
    let a_out = t.output(&drvs[2]);
    assert_eq!(t.info(&c_out)["references"], json!([a_out]));
    assert_eq!(
        std::fs::read_to_string(format!("{c_out}/a")).unwrap(),
        "from a\n"
    );
    let hashes = |t: &TestStore| -> Vec<serde_json::Value> {
        all.iter()
            .map(|d| t.info(&t.output(d))["nar_hash"].clone())
            .collect()
    };
    let remote_hashes = hashes(&t);
    // Rebuilt here, in abovo's own sandbox: the same NAR hashes (`--check`
    // exits 1 on any difference), but for `b` and `c`, which record the
    // working directory (docs/remote.md: the remote builder starts at `/`).
    let mut check = vec!["build", "--check", drvs[2].as_str()];
    check.extend(trivial.iter().map(String::as_str));
    let start = Instant::now();
    let out = t.run(&check);
    eprintln!(
        "{test}: 53 derivations through BuildGrid in {remote_time:?}; the 51 rebuilt locally in {:?}",
        start.elapsed()
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        hashes(&t),
        remote_hashes,
        "a check leaves the outputs as they were"
    );
    // A second run of the same derivations is answered by the ActionCache
    // (`--check --remote` builds again). The same paths need two stores
    // naming /gnu/store: the first's 50 are executed, the second's all come
    // from the ActionCache, no worker runs anything, the same bits.
    let mut built = Vec::new();
    let mut leases = 53;
    for (executed, cached) in [(50, 0), (0, 50)] {
        let t2 = guix_store(test).expect("busybox was found for the first store");
        let drvs = cli_remote_support::trivial(&t2, 50);
        let mut args = vec!["build", "--remote", &url, "--remote-instance", "main"];
        args.extend(drvs.iter().map(String::as_str));
        let out = t2.run(&args);
        let want = format!("remote: {executed} actions executed, {cached} from the ActionCache");
        assert!(
            out.status.success() && stderr(&out).contains(&want),
            "{want}: {}",
            stderr(&out)
        );
        leases += executed;
        let started: usize = (0..2)
            .map(|i| leases_started(&grid.worker_log(i)).len())
            .sum();
        assert_eq!(started, leases, "only executed actions reach a worker");
        let paths = String::from_utf8_lossy(&out.stdout).to_string();
        let hashes: Vec<_> = paths
            .lines()
            .map(|p| t2.info(p)["nar_hash"].clone())
            .collect();
        assert_eq!(hashes.len(), 50);
        assert!(t2.verify_consistent());
        built.push((drvs, paths, hashes));
    }
    assert_eq!(built[0], built[1], "the same derivations, outputs and bits");
}

#[test]
fn a_worker_killed_mid_action_is_retried_on_the_other_and_registered_once() {
    let test = "a_worker_killed_mid_action_is_retried_on_the_other_and_registered_once";
    let Some(t) = store(test) else { return };
    // The server also closes every connection after 8 s, as BuildGrid's
    // reference configuration does after 5 min (8 s: longer than a
    // worker's long poll, shorter than this build): the stream of the
    // operation's updates breaks, and abovo re-attaches (WaitExecution).
    let Some(mut grid) = Grid::start_with(test, Some(Duration::from_secs(8))) else {
        return;
    };
    let drv = t.add_drv(&t.sh_drv(
        "grid-killed",
        "echo started; $bb sleep 3; $bb mkdir $out; echo done > $out/result",
        json!({}),
    ));
    let child = t
        .cmd(&[
            "build",
            "--remote",
            &grid.url(),
            "--remote-instance",
            "main",
            &drv,
        ])
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (victim, lease) = first_lease(&grid);
    // Mid-action: the builder sleeps, the worker (runner and builder with
    // it) dies without a word to the server.
    std::thread::sleep(Duration::from_millis(500));
    grid.kill_worker(victim);
    let start = Instant::now();
    let out = child.wait_with_output().unwrap();
    let other = 1 - victim;
    eprintln!(
        "{test}: built {:?} after the kill; the survivor's log:\n{}",
        start.elapsed(),
        grid.worker_log(other)
    );
    assert!(out.status.success(), "{}", stderr(&out));
    // The server's retry, followed: the other worker ran the same lease to
    // its end, and the client saw one action executed.
    assert!(
        leases_started(&grid.worker_log(other)).contains(&lease),
        "{}",
        grid.worker_log(other)
    );
    assert!(
        grid.worker_log(other)
            .contains(&format!("lease {lease} finished with status 0")),
        "{}",
        grid.worker_log(other)
    );
    assert!(
        stderr(&out).contains("remote: 1 action executed, 0 from the ActionCache"),
        "{}",
        stderr(&out)
    );
    let o = t.output(&drv);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), o);
    assert_eq!(
        std::fs::read_to_string(format!("{o}/result")).unwrap(),
        "done\n"
    );
    // Registered once, with the surviving attempt's log.
    assert!(t.info(&o)["nar_hash"].is_string());
    assert!(t.ok(&["log", &drv]).contains("started"));
    assert!(t.verify_consistent());
}

#[test]
fn a_buildgrid_that_forbids_absolute_symlinks_or_goes_away_mid_build_is_a_clear_error() {
    let test = "a_buildgrid_that_forbids_absolute_symlinks_or_goes_away_mid_build_is_a_clear_error";
    let Some(t) = store(test) else { return };
    let Some(mut grid) = Grid::start(test) else {
        return;
    };
    // BuildGrid's capabilities forbid absolute symlinks: an action whose
    // inputs hold one is refused before anything is sent.
    let src = t.dir.path().join("abs-src");
    std::fs::create_dir(&src).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", src.join("abs")).unwrap();
    let src = t.ok(&["add", "--recursive", src.to_str().unwrap()]);
    let refused = t.add_drv(&t.sh_drv(
        "grid-abs-symlink",
        "echo never > $out",
        json!({"inputSrcs": [src.trim()]}),
    ));
    let url = grid.url();
    let out = t.run(&[
        "build",
        "--remote",
        &url,
        "--remote-instance",
        "main",
        &refused,
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("forbid absolute symlinks"),
        "{}",
        stderr(&out)
    );
    assert!(leases_started(&grid.worker_log(0)).is_empty());
    assert!(leases_started(&grid.worker_log(1)).is_empty());
    let drv = t.add_drv(&t.sh_drv("grid-orphaned", "$bb sleep 5; echo late > $out", json!({})));
    let child = t
        .cmd(&["build", "--remote", &url, "--remote-instance", "main", &drv])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    first_lease(&grid);
    grid.kill_server();
    let start = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "abovo gave up in {:?}",
        start.elapsed()
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("remotely"), "{}", stderr(&out));
    assert!(!t.run(&["store", "info", &t.output(&drv)]).status.success());
    assert!(t.verify_consistent());
}
