//! What `abovo build` says: exit codes (0 built or identical, 1 a
//! reproducibility difference, 2 an error), the JSON report, one error line
//! per failure, and `-L` logs prefixed with the derivation's name when
//! several build at once.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod cli_build_support;

use cli_build_support::TestStore;
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
    assert_eq!(j["exitCode"], 1);
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
    assert_eq!(j["exitCode"], 0);
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
    assert!(outputs.iter().all(|o| o["narHash"].is_string()));
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
