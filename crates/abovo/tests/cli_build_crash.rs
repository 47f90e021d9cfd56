//! Crash safety: `abovo build` killed with SIGKILL at any moment (during the
//! build, the post-processing of its outputs or their registration) leaves a
//! store that `abovo store verify` finds consistent, no process behind, and
//! the next build succeeds.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod cli_build_support;

use cli_build_support::TestStore;
use serde_json::json;
use std::time::{Duration, Instant};

fn sigkill(child: &mut std::process::Child) {
    nix_kill(child.id());
    let _ = child.wait();
}

fn nix_kill(pid: u32) {
    std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
}

fn processes_with(arg: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            std::fs::read(e.path().join("cmdline"))
                .is_ok_and(|c| c.split(|b| *b == 0).any(|a| a == arg.as_bytes()))
        })
        .count()
}

#[test]
fn killed_during_the_build() {
    let mut t = TestStore::new();
    if t.add_busybox("killed_during_the_build").is_none() {
        return;
    }
    let drv = t.add_drv(&t.sh_drv(
        "interrupted",
        "$bb mkdir $out; echo partial > $out/x; $bb sleep 2.71828; echo done > $out/y",
        json!({}),
    ));
    let mut child = t.cmd(&["build", &drv]).spawn().unwrap();
    let started = Instant::now();
    let probe = format!("{drv}.chroot/top/tmp");
    while !std::path::Path::new(&probe).exists() || processes_with("2.71828") == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the build never started"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    sigkill(&mut child);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(processes_with("2.71828"), 0, "the builder died with abovo");
    // Its build directory is left, in abovo's own build area (under this
    // test's TMPDIR), and nothing of it in TMPDIR itself.
    let stale = "guix-build-interrupted.drv-0";
    assert_eq!(TestStore::entries(&t.build_area()), [stale]);
    assert_eq!(
        TestStore::entries(&t.tmp()),
        [t.build_area().file_name().unwrap().to_str().unwrap()]
    );
    assert!(t.verify_consistent());
    let o = t.output(&drv);
    assert_eq!(
        t.run(&["store", "info", &o]).status.code(),
        Some(2),
        "nothing registered"
    );
    // The next build reclaims the stale build directory (its lock is
    // free) and leaves nothing of its own.
    let out = t.ok(&["build", &drv]);
    assert_eq!(
        std::fs::read_to_string(format!("{}/y", out.trim())).unwrap(),
        "done\n"
    );
    assert_eq!(TestStore::entries(&t.build_area()), Vec::<String>::new());
    assert!(t.verify_consistent());
    // The leftovers of the killed build are gone once rebuilt or repaired.
    let j: serde_json::Value =
        serde_json::from_str(&t.ok(&["store", "verify", "--repair", "-f", "json"])).unwrap();
    assert_eq!(j["leftovers"], json!([]), "{j}");
    // `store verify --repair` reclaims a killed build's directory too, and
    // a lock file the killed abovo held.
    let drv = t.add_drv(&t.sh_drv(
        "interrupted-again",
        "$bb sleep 3.14159; echo done > $out",
        json!({}),
    ));
    let mut child = t.cmd(&["build", &drv]).spawn().unwrap();
    let started = Instant::now();
    while processes_with("3.14159") == 0 {
        assert!(started.elapsed() < Duration::from_secs(20), "never started");
        std::thread::sleep(Duration::from_millis(10));
    }
    sigkill(&mut child);
    let stale = t.build_area().join("guix-build-interrupted-again.drv-0");
    assert!(stale.is_dir());
    assert!(
        TestStore::entries(&t.store)
            .iter()
            .any(|n| n.ends_with("-interrupted-again.lock")),
        "the killed build held its output's lock"
    );
    let j: serde_json::Value =
        serde_json::from_str(&t.ok(&["store", "verify", "--repair", "-f", "json"])).unwrap();
    assert_eq!(
        j["removed_build_directories"],
        json!([stale.to_str().unwrap()]),
        "{j}"
    );
    assert!(!stale.exists());
    let locks: Vec<String> = TestStore::entries(&t.store)
        .into_iter()
        .filter(|n| n.ends_with(".lock"))
        .collect();
    assert_eq!(locks, Vec::<String>::new());
}

/// Three outputs of 48 MiB each, so that post-processing and registration
/// take a while; `salt` makes a distinct derivation.
fn script_of(salt: usize) -> String {
    format!(
        "# {salt}
         $bb mkdir $out $doc $lib
         for d in $out $doc $lib; do $bb dd if=/dev/zero of=$d/zeros bs=1048576 count=48 2>/dev/null; done
         echo $out > $doc/ref; echo $doc > $lib/ref"
    )
}

fn big(t: &TestStore, salt: usize) -> String {
    let script = script_of(salt);
    let j = t.sh_drv(
        &format!("big-{salt}"),
        &script,
        json!({"outputs": {"doc": {}, "lib": {}}}),
    );
    t.add_drv(&j)
}

fn outputs_valid(t: &TestStore, drv: &str) -> Vec<bool> {
    let j: serde_json::Value = serde_json::from_str(&t.ok(&[
        "show",
        "-f",
        "json",
        "--store-dir",
        t.store.to_str().unwrap(),
        drv,
    ]))
    .unwrap();
    j["outputs"]
        .as_object()
        .unwrap()
        .values()
        .map(|o| {
            t.run(&["store", "info", o["path"].as_str().unwrap()])
                .status
                .success()
        })
        .collect()
}

/// Waits until a process whose arguments include `needle` has come and
/// gone; returns false if it never showed up within the time limit.
fn wait_for_builder_to_finish(needle: &str, limit: Duration) -> bool {
    let start = Instant::now();
    while processes_with(needle) == 0 {
        if start.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    while processes_with(needle) > 0 {
        std::thread::sleep(Duration::from_millis(2));
    }
    true
}

#[test]
fn killed_at_any_point_of_post_processing_and_registration() {
    let mut t = TestStore::new();
    if t.add_busybox("killed_at_any_point_of_post_processing_and_registration")
        .is_none()
    {
        return;
    }
    // How long abovo works after the builder ends: post-processing (three
    // outputs to canonicalise, hash and scan) and registration.
    let drv = big(&t, 0);
    let mut child = t.cmd(&["build", &drv]).spawn().unwrap();
    assert!(wait_for_builder_to_finish(
        &script_of(0),
        Duration::from_secs(20)
    ));
    let ended = Instant::now();
    assert!(child.wait().unwrap().success());
    let after = ended.elapsed();
    let points = 16u32;
    let mut registered = 0;
    for k in 0..points {
        let salt = k as usize + 1;
        let drv = big(&t, salt);
        let mut child = t.cmd(&["build", &drv]).spawn().unwrap();
        assert!(wait_for_builder_to_finish(
            &script_of(salt),
            Duration::from_secs(20)
        ));
        // From the moment the builder ends to a little after abovo would.
        std::thread::sleep(after * k / (points - 2));
        sigkill(&mut child);
        assert!(
            t.verify_consistent(),
            "inconsistent after a kill at {k}/{points}"
        );
        let valid = outputs_valid(&t, &drv);
        assert!(
            valid.iter().all(|v| *v) || valid.iter().all(|v| !*v),
            "the three outputs are registered together or not at all: {valid:?}"
        );
        if valid[0] {
            registered += 1;
        }
        t.ok(&["build", &drv]);
        assert!(outputs_valid(&t, &drv).iter().all(|v| *v));
    }
    eprintln!(
        "post-processing and registration took {after:?}; {registered} of {points} kills came after the registration"
    );
    // Sixteen killed builds, and no build directory left: each next build
    // reclaimed the one before.
    assert_eq!(TestStore::entries(&t.build_area()), Vec::<String>::new());
    assert!(
        registered < points,
        "no kill landed before the registration committed"
    );
    assert!(t.verify_consistent());
}
