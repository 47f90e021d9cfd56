//! What `abovo build` says: exit codes (0 built or identical, 1 a
//! reproducibility difference, 2 an error), the JSON report, one error line
//! per failure, and `-L` logs prefixed with the derivation's name when
//! several build at once.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod cli_build_support;

use cli_build_support::{OnTerminal, TestStore, run_on_terminal};
use serde_json::json;

/// A builder whose output differs on every run.
const FLAKY: &str = "$bb cat /proc/sys/kernel/random/uuid > $out";

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_difference_in_an_input_is_a_negative_answer_not_an_error() {
    let mut t = TestStore::new();
    if t.add_busybox("a_difference_in_an_input_is_a_negative_answer_not_an_error")
        .is_none()
    {
        return;
    }
    let flaky = t.add_drv(&t.sh_drv("flaky-input", FLAKY, json!({})));
    let flaky_out = t.output(&flaky);
    let user = t.add_drv(&t.sh_drv(
        "user",
        "$bb cp $in $out",
        json!({"inputDrvs": {flaky.clone(): ["out"]}, "env": {"in": flaky_out}}),
    ));
    let out = t.run(&["build", "--rounds", "2", &user]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("may not be deterministic"), "{err}");
    assert!(
        err.contains(&format!(
            "1 derivation not built because `{flaky}` failed: user"
        )),
        "{err}"
    );
    assert!(
        out.stdout.is_empty(),
        "no output path when nothing was built"
    );
    // The same in JSON: exit 1, the difference and the blocked dependent.
    let out = t.run(&["build", "--rounds", "2", "-f", "json", &user]);
    assert_eq!(out.status.code(), Some(1));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["exit_code"], 1);
    assert_eq!(j["success"], false);
    let results = j["results"].as_array().unwrap();
    let by_drv = |d: &str| results.iter().find(|r| r["drv"] == d).unwrap().clone();
    assert_eq!(by_drv(&flaky)["status"], "differs");
    assert_eq!(by_drv(&flaky)["against"], "previous-round");
    assert_eq!(by_drv(&user)["kind"], "dependency-failed");
    assert_eq!(by_drv(&user)["dependency"], flaky.as_str());
    // A real failure is an error (2), even next to a difference.
    let broken = t.add_drv(&t.sh_drv("broken", "exit 7", json!({})));
    let out = t.run(&["build", "--rounds", "2", "-k", &user, &broken]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn the_json_report_names_targets_outputs_and_failures() {
    let mut t = TestStore::new();
    if t.add_busybox("the_json_report_names_targets_outputs_and_failures")
        .is_none()
    {
        return;
    }
    let drv = t.add_drv(&t.sh_drv(
        "two-outputs",
        "echo a > $out; echo b > $doc",
        json!({"outputs": {"out": {}, "doc": {}}}),
    ));
    let json_of = |args: &[&str]| -> (Option<i32>, serde_json::Value) {
        let out = t.run(args);
        (
            out.status.code(),
            serde_json::from_slice(&out.stdout).unwrap(),
        )
    };
    let (code, j) = json_of(&["build", "-f", "json", &drv]);
    assert_eq!(code, Some(0));
    assert_eq!(j["exit_code"], 0);
    assert_eq!(j["targets"][0]["drv"], drv.as_str());
    let out_path = t.output(&drv);
    assert_eq!(j["targets"][0]["outputs"]["out"], out_path.as_str());
    assert!(
        j["targets"][0]["outputs"]["doc"]
            .as_str()
            .unwrap()
            .ends_with("-two-outputs-doc")
    );
    assert_eq!(j["results"][0]["status"], "built");
    let outputs = j["results"][0]["outputs"].as_array().unwrap();
    assert_eq!(outputs.len(), 2);
    assert!(outputs.iter().all(|o| o["nar_hash"].is_string()));
    // Already valid: nothing to build, but the targets still name their
    // outputs.
    let (code, j) = json_of(&["build", "-f", "json", &drv]);
    assert_eq!(code, Some(0));
    assert_eq!(j["results"], json!([]));
    assert_eq!(j["targets"][0]["outputs"]["out"], out_path.as_str());
    // A failed builder: its kind, how it ended and its log.
    let bad = t.add_drv(&t.sh_drv("bad", "echo oops; exit 4", json!({})));
    let (code, j) = json_of(&["build", "-f", "json", &bad]);
    assert_eq!(code, Some(2));
    let r = &j["results"][0];
    assert_eq!(r["status"], "failed");
    assert_eq!(r["kind"], "builder");
    assert_eq!(r["how"], "exited with code 4");
    assert!(r["log"].as_str().unwrap().ends_with("-bad.drv.gz"));
    assert!(r["error"].as_str().unwrap().contains("see the build log"));
}

#[test]
fn parallel_logs_are_prefixed_with_the_derivation_name() {
    let mut t = TestStore::new();
    if t.add_busybox("parallel_logs_are_prefixed_with_the_derivation_name")
        .is_none()
    {
        return;
    }
    // Partial lines are held until they are complete, and the last one is
    // printed when the build ends.
    let script = |word: &str| {
        format!(
            "printf '{word} one\\n{word} t'; $bb sleep 0.2; printf 'wo\\n'; printf '{word} end'; echo > $out"
        )
    };
    let a = t.add_drv(&t.sh_drv("alpha", &script("alpha"), json!({})));
    let b = t.add_drv(&t.sh_drv("beta", &script("beta"), json!({})));
    let out = t.run(&["build", "-L", "-j", "2", &a, &b]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    for word in ["alpha", "beta"] {
        for line in [
            format!("{word}> {word} one"),
            format!("{word}> {word} two"),
            format!("{word}> {word} end"),
        ] {
            assert!(err.lines().any(|l| l == line), "{line:?} in:\n{err}");
        }
    }
    // One build at a time: the log as the builder wrote it.
    let c = t.add_drv(&t.sh_drv("gamma", &script("gamma"), json!({})));
    let out = t.run(&["build", "-L", "-j", "1", &c]);
    let err = stderr(&out);
    assert!(err.contains("gamma one\ngamma two\ngamma end"), "{err}");
    assert!(!err.contains("gamma>"), "{err}");
}

/// Whether a JSON key is snake_case: lowercase ASCII letters, digits and
/// underscores, starting with a letter.
fn is_snake_case(key: &str) -> bool {
    key.starts_with(|c: char| c.is_ascii_lowercase())
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Maps whose keys are data, not schema (a target's `outputs` is keyed by
/// output names), as paths where `[]` stands for any array item.
const DATA_KEYED: &[&str] = &["/targets/[]/outputs"];

/// Collects every object key of `value` with the path of its object.
fn keys_of(value: &serde_json::Value, at: &str, keys: &mut Vec<(String, String)>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                if !DATA_KEYED.contains(&at) {
                    keys.push((at.to_owned(), k.clone()));
                }
                keys_of(v, &format!("{at}/{k}"), keys);
            }
        }
        serde_json::Value::Array(items) => {
            for v in items {
                keys_of(v, &format!("{at}/[]"), keys);
            }
        }
        _ => {}
    }
}

/// A guard against a key style creeping back: every key of the JSON of
/// `build` (built outputs, a failure, a `--check` difference with its
/// changes), `store verify` (problems, kept trees, what `--repair` and
/// `--remove-check` removed), `diff` and `store info` is snake_case. The
/// walk must meet the multi-word keys of each report, so a report that
/// lost its nested parts cannot pass by being empty.
#[test]
fn every_key_of_the_build_store_and_diff_json_is_snake_case() {
    let mut t = TestStore::new();
    if t.add_busybox("every_key_of_the_build_store_and_diff_json_is_snake_case")
        .is_none()
    {
        return;
    }
    assert!(!is_snake_case("exitCode") && !is_snake_case("old-size"));
    assert!(is_snake_case("removed_build_directories") && is_snake_case("base16"));
    let mut reports: Vec<(String, serde_json::Value)> = Vec::new();
    let mut record = |what: &str, args: &[&str], code: i32| {
        let out = t.run(args);
        assert_eq!(out.status.code(), Some(code), "{what}: {}", stderr(&out));
        reports.push((
            what.to_owned(),
            serde_json::from_slice(&out.stdout).unwrap(),
        ));
    };
    let flaky = t.add_drv(&t.sh_drv(
        "flaky-keys",
        "$bb mkdir $out; $bb head -c 32 /dev/urandom > $out/random.bin; \
         $bb cat /proc/sys/kernel/random/uuid > $out/stamp",
        json!({}),
    ));
    let victim = t.add_drv(&t.sh_drv("victim-keys", "echo original > $out", json!({})));
    let broken = t.add_drv(&t.sh_drv("broken-keys", "exit 3", json!({})));
    record(
        "build",
        &["build", "-k", "-f", "json", &flaky, &victim, &broken],
        2,
    );
    record(
        "check",
        &["build", "--check", "-K", "-f", "json", &flaky],
        1,
    );
    let o = t.output(&flaky);
    let check = format!("{o}-check");
    record("diff", &["diff", "-f", "json", &o, &check], 1);
    record("store info", &["store", "info", "-f", "json", &o], 0);
    // Tamper with an output so that verify has a problem to report.
    use std::os::unix::fs::PermissionsExt;
    let v = t.output(&victim);
    std::fs::set_permissions(&v, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&v, "tampered\n").unwrap();
    record("store verify", &["store", "verify", "-f", "json"], 1);
    record(
        "store verify --repair --remove-check",
        &[
            "store",
            "verify",
            "--repair",
            "--remove-check",
            "-f",
            "json",
        ],
        0,
    );
    let mut seen = std::collections::BTreeSet::new();
    for (what, j) in &reports {
        let mut keys = Vec::new();
        keys_of(j, "", &mut keys);
        for (at, key) in keys {
            assert!(
                is_snake_case(&key),
                "`{what}` JSON has the key {key:?} at {at:?}, not snake_case: {j}"
            );
            seen.insert(key);
        }
    }
    for key in [
        "exit_code",
        "nar_hash",
        "nar_size",
        "references_differ",
        "old_size",
        "new_size",
        "nar_hash_base16",
        "registration_time",
        "removed_leftovers",
        "removed_kept",
        "removed_build_directories",
    ] {
        assert!(seen.contains(key), "no report had {key:?}: {reports:?}");
    }
    let repaired = &reports.last().unwrap().1;
    assert_eq!(repaired["removed_kept"], json!([check]), "{repaired}");
    assert_eq!(repaired["consistent"], true, "{repaired}");
}

/// `abovo diff` compares file types: two devices differ by their numbers,
/// a FIFO against a device is a type change (and the FIFO is never read,
/// so nothing hangs), and names that are not UTF-8 stay distinct in JSON.
#[test]
fn diff_compares_file_types_and_keeps_names_distinct() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let t = TestStore::new();
    let out = t.run(&["diff", "/dev/null", "/dev/zero"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.contains("type changed: null (character device 1:3 → character device 1:5)"),
        "{text}"
    );
    let fifo = t.dir.path().join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    // Run with a deadline: reading the FIFO would block forever.
    let mut child = t
        .cmd(&["diff", "-f", "json", fifo.to_str().unwrap(), "/dev/null"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > std::time::Duration::from_secs(20) {
            child.kill().unwrap();
            panic!("abovo diff FIFO /dev/null hangs");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        j["changes"],
        json!([{"change": "type", "path": "fifo", "old": "fifo", "new": "character device 1:3"}])
    );
    // Names that a lossy conversion would merge.
    let (a, b) = (t.dir.path().join("a"), t.dir.path().join("b"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    for raw in [&b"x\xff"[..], &b"x\xfe"[..]] {
        std::fs::write(a.join(OsStr::from_bytes(raw)), "1").unwrap();
    }
    let odd = t.dir.path().join(OsStr::from_bytes(b"b\xff"));
    std::fs::create_dir_all(&odd).unwrap();
    let out = t
        .cmd(&["diff", "-f", "json", a.to_str().unwrap()])
        .arg(&odd)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<(&str, &str)> = j["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["path"].as_str().unwrap(),
                c["path_bytes"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(names, [("x\\xfe", "78fe"), ("x\\xff", "78ff")]);
    assert!(j["new_bytes"].as_str().unwrap().ends_with("62ff"), "{j}");
}

/// `build -L` on a terminal: the builder's colours reach it, its other
/// escape sequences (setting the title, clearing the screen) do not; in a
/// pipe the log is left as the builder wrote it.
#[test]
fn live_logs_on_a_terminal_keep_only_colours() {
    let mut t = TestStore::new();
    if t.add_busybox("live_logs_on_a_terminal_keep_only_colours")
        .is_none()
    {
        return;
    }
    let script = r"printf '\033]0;owned\007\033[2Jhello \033[1;32mgreen\033[0m\n'; echo > $out";
    let drv = t.add_drv(&t.sh_drv("noisy", script, json!({})));
    // In a pipe: unchanged.
    let out = t.run(&["build", "-L", &drv]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("\x1b]0;owned\x07\x1b[2Jhello \x1b[1;32mgreen\x1b[0m"),
        "{}",
        stderr(&out)
    );
    // On a terminal (a pseudo-terminal here), a rebuild with --check.
    let (status, seen) =
        run_on_terminal(t.cmd(&["build", "-L", "--check", &drv]), OnTerminal::Stderr);
    let seen = String::from_utf8_lossy(&seen);
    assert!(status.success(), "{seen}");
    assert!(seen.contains("hello \x1b[1;32mgreen\x1b[0m"), "{seen:?}");
    assert!(!seen.contains("\x1b]0;"), "{seen:?}");
    assert!(!seen.contains("\x1b[2J"), "{seen:?}");
}
