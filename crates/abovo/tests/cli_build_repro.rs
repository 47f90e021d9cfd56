//! Reproducibility: `--check`, `--rounds`, `--keep-failed` and `abovo diff`,
//! and identical NAR hashes whether abovo runs as root or not.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod cli_build_support;

use cli_build_support::TestStore;
use serde_json::json;

/// A builder whose output differs on every run: random bytes in a binary
/// file, a changing line in a text file; one file stays the same.
const FLAKY: &str = "$bb mkdir -p $out/share
$bb head -c 64 /dev/urandom > $out/share/random.bin
printf 'built at %s\\nstable line\\n' \"$($bb head -c 8 /dev/urandom | $bb od -An -tx1 | $bb tr -d ' ')\" > $out/share/stamp
echo same > $out/share/same";

#[test]
fn check_passes_for_a_deterministic_derivation() {
    let mut t = TestStore::new();
    if t.add_busybox("check_passes_for_a_deterministic_derivation")
        .is_none()
    {
        return;
    }
    let drv = t.add_drv(&t.sh_drv("steady", "$bb mkdir $out; echo $out > $out/self", json!({})));
    let out = t.run(&["build", "--check", &drv]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "nothing to check before a first build"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("checking is not possible"));
    let o = t.ok(&["build", &drv]);
    assert_eq!(t.ok(&["build", "--check", &drv]), o);
    let j: serde_json::Value =
        serde_json::from_str(&t.ok(&["build", "--check", "-f", "json", &drv])).unwrap();
    assert_eq!(j["results"][0]["status"], "checked");
    // Three rounds of a deterministic build agree and register.
    let drv = t.add_drv(&t.sh_drv(
        "steady-rounds",
        "$bb mkdir $out; echo $out > $out/self",
        json!({}),
    ));
    let o = t.ok(&["build", "--rounds", "3", &drv]);
    assert!(t.info(o.trim())["nar_hash"].is_string());
    assert!(!std::path::Path::new(&format!("{}-check", o.trim())).exists());
    assert!(t.verify_consistent());
}

#[test]
fn check_catches_a_non_deterministic_derivation_and_diff_explains_it() {
    let mut t = TestStore::new();
    if t.add_busybox("check_catches_a_non_deterministic_derivation_and_diff_explains_it")
        .is_none()
    {
        return;
    }
    let drv = t.add_drv(&t.sh_drv("flaky", FLAKY, json!({})));
    let o = t.ok(&["build", &drv]).trim().to_owned();
    let registered = t.info(&o)["nar_hash"].clone();
    // Without -K: exit 1, every differing file listed, nothing kept.
    let out = t.run(&["build", "--check", &drv]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("may not be deterministic"), "{err}");
    assert!(
        err.contains(&format!("output `{o}` differs from the registered output")),
        "{err}"
    );
    assert!(
        err.contains("binary content differs: share/random.bin (64 bytes)"),
        "{err}"
    );
    assert!(err.contains("text content differs: share/stamp"), "{err}");
    assert!(
        !err.contains("share/same"),
        "an identical file is not listed: {err}"
    );
    assert!(!std::path::Path::new(&format!("{o}-check")).exists());
    assert_eq!(
        t.info(&o)["nar_hash"],
        registered,
        "the registered output is kept"
    );
    // With -K the other build stays as OUT-check, and `abovo diff` explains.
    let out = t.run(&["build", "--check", "-K", &drv]);
    assert_eq!(out.status.code(), Some(1));
    let check = format!("{o}-check");
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("kept at {check}")));
    let diff = t.run(&["diff", &o, &check]);
    assert_eq!(diff.status.code(), Some(1));
    let text = String::from_utf8_lossy(&diff.stdout);
    assert!(text.contains("2 changes from "), "{text}");
    assert!(
        text.contains("-built at "),
        "a unified diff of the text file: {text}"
    );
    assert!(text.contains("+built at "), "{text}");
    assert!(
        text.contains("differing bytes at 0x"),
        "byte ranges of the binary file: {text}"
    );
    assert!(text.contains("-00000000 "), "a hex view: {text}");
    let j: serde_json::Value =
        serde_json::from_str(&t.ok_or_one(&["diff", "-f", "json", &o, &check])).unwrap();
    let changes = j["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 2);
    assert_eq!(changes[0]["path"], "share/random.bin");
    assert_eq!(changes[0]["format"], "binary");
    assert_eq!(changes[1]["path"], "share/stamp");
    assert_eq!(changes[1]["format"], "text");
    // The same trees compare equal.
    let same = t.run(&["diff", &o, &o]);
    assert_eq!(same.status.code(), Some(0));
    // JSON of the failed check carries every difference.
    let out = t.run(&["build", "--check", "-f", "json", &drv]);
    assert_eq!(out.status.code(), Some(1));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["results"][0]["status"], "differs");
    assert_eq!(
        j["results"][0]["differences"][0]["changes"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // A check leaves the store consistent: OUT-check is not an item, it
    // is listed as kept, and `--repair` leaves it (and no lock file).
    assert!(t.verify_consistent());
    let verify = |args: &[&str]| -> serde_json::Value {
        let mut all = vec!["store", "verify", "-f", "json"];
        all.extend_from_slice(args);
        serde_json::from_str(&t.ok(&all)).unwrap()
    };
    let j = verify(&["--repair"]);
    assert_eq!(j["kept"], json!([check]), "{j}");
    assert_eq!(j["leftovers"], json!([]), "{j}");
    assert_eq!(j["removed_leftovers"], json!([]), "{j}");
    assert!(std::path::Path::new(&check).exists(), "kept on purpose");
    let locks: Vec<String> = TestStore::entries(&t.store)
        .into_iter()
        .filter(|n| n.ends_with(".lock"))
        .collect();
    assert_eq!(locks, Vec::<String>::new(), "no lock file is left behind");
    let text = t.ok(&["store", "verify", "--repair"]);
    assert!(text.contains(&format!("kept: {check}")), "{text}");
    assert!(!text.contains("removed"), "{text}");
    // Asked for, it goes.
    let j = verify(&["--remove-check"]);
    assert_eq!(j["removed_kept"], json!([check]), "{j}");
    assert_eq!(j["kept"], json!([]), "{j}");
    assert!(!std::path::Path::new(&check).exists());
    assert!(std::path::Path::new(&o).exists());
    assert!(t.verify_consistent());
}

#[test]
fn rounds_catch_a_non_deterministic_derivation_before_registering() {
    let mut t = TestStore::new();
    if t.add_busybox("rounds_catch_a_non_deterministic_derivation_before_registering")
        .is_none()
    {
        return;
    }
    let drv = t.add_drv(&t.sh_drv("flaky-rounds", FLAKY, json!({})));
    let o = t.output(&drv);
    let out = t.run(&["build", "--rounds", "2", &drv]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("differs from the previous round"), "{err}");
    assert!(err.contains("share/random.bin"), "{err}");
    assert_eq!(
        t.run(&["store", "info", &o]).status.code(),
        Some(2),
        "nothing registered"
    );
    assert!(!std::path::Path::new(&o).exists());
    // With -K: the earlier round at OUT-check, the later one at OUT
    // (unregistered), so that they can be compared.
    let out = t.run(&["build", "--rounds", "2", "-K", &drv]);
    assert_eq!(out.status.code(), Some(1));
    let diff = t.run(&["diff", "--brief", &format!("{o}-check"), &o]);
    assert_eq!(diff.status.code(), Some(1));
    assert_eq!(t.run(&["store", "info", &o]).status.code(), Some(2));
    // Both rounds are kept on purpose, not leftovers: `--repair` keeps them.
    let j: serde_json::Value =
        serde_json::from_str(&t.ok(&["store", "verify", "--repair", "-f", "json"])).unwrap();
    assert_eq!(j["kept"], json!([o.clone(), format!("{o}-check")]), "{j}");
    assert_eq!(j["removed_leftovers"], json!([]), "{j}");
    assert!(std::path::Path::new(&o).exists());
    // The next plain build replaces the leftover and registers.
    t.ok(&["build", &drv]);
    assert!(t.verify_consistent());
}

#[test]
fn diff_prints_nothing_a_terminal_would_obey() {
    let t = TestStore::new();
    let (a, b) = (t.dir.path().join("a"), t.dir.path().join("b"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    // A name that would colour the terminal and forge a line of the report,
    // and text lines carrying OSC (window title) and CSI sequences.
    let evil = "evil\x1b[31mRED\nname";
    std::fs::write(a.join(evil), "same\nold \x1b]0;pwned\x07line\n").unwrap();
    std::fs::write(b.join(evil), "same\nnew \x1b[2Jline\r\n").unwrap();
    std::os::unix::fs::symlink("\x1b[1mtarget", a.join("link")).unwrap();
    std::os::unix::fs::symlink("plain", b.join("link")).unwrap();
    let out = t.run(&["diff", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        !text.bytes().any(|c| c == 0x1b || c == b'\r' || c == 0x07),
        "raw control bytes: {text:?}"
    );
    assert!(
        text.contains("text content differs: evil\\u{1b}[31mRED\\nname ("),
        "{text}"
    );
    assert!(text.contains("-old \\u{1b}]0;pwned\\u{7}line"), "{text}");
    assert!(text.contains("+new \\u{1b}[2Jline\\r"), "{text}");
    assert!(text.contains("(\\u{1b}[1mtarget → plain)"), "{text}");
    // Every line of the report is one the report made: no forged `name` line.
    assert!(!text.lines().any(|l| l.starts_with("name")), "{text}");
    assert!(text.starts_with("2 changes from "), "{text}");
    // JSON keeps the real bytes (escaped by JSON itself).
    let out = t.run(&[
        "diff",
        "-f",
        "json",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
    ]);
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["changes"][0]["path"], evil);
    assert_eq!(
        j["changes"][0]["old_size"],
        std::fs::metadata(a.join(evil)).unwrap().len()
    );
}

#[test]
fn diff_of_single_files_names_them_and_shows_hex() {
    let t = TestStore::new();
    let (a, b) = (t.dir.path().join("one.bin"), t.dir.path().join("two.bin"));
    std::fs::write(&a, b"\x00\x01\x02\x03").unwrap();
    std::fs::write(&b, b"\x00\x01\xff\x03").unwrap();
    let out = t.run(&["diff", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("binary content differs: one.bin (4 bytes)"),
        "the file's name, not `.`: {text}"
    );
    assert!(text.starts_with("1 change from "), "{text}");
    assert!(text.contains("differing bytes at 0x2 (1 byte)"), "{text}");
    assert!(text.contains("@@ offset 0x2, 1 byte differs @@"), "{text}");
    assert!(text.contains("+00000000  00 01 ff 03"), "{text}");
}

/// The deterministic builder of the root/rootless comparison: everything
/// that could leak the identity of who runs abovo ends up in the output.
/// Not the supplementary groups (`id` without options): as root the builder
/// is a build user in the build group, as guix-daemon's are, and a user
/// namespace made without privileges cannot give it any (docs/build.md).
const IDENTITY: &str = "$bb mkdir -p $out/bin
{ $bb id -u; $bb id -g; $bb id -un; $bb id -gn; } > $out/id
$bb cat /etc/passwd /etc/group > $out/etc
$bb stat -c '%n %a %u %g %h' $NIX_BUILD_TOP > $out/ls
$bb cat /proc/self/personality > $out/personality
$bb env | $bb sort > $out/env
$bb cp $bb $out/bin/busybox
$bb ln -s ../id $out/bin/link
echo $out > $out/self";

fn nar_hash_as(user: Option<u32>, dir: &std::path::Path) -> Option<(String, String)> {
    let mut t = TestStore::with_user(user);
    // Same store path in both runs, so that the outputs can be compared.
    t.store = dir.join("store");
    std::fs::create_dir_all(dir).unwrap();
    if let Some(u) = user {
        std::os::unix::fs::chown(dir, Some(u), Some(u)).unwrap();
    }
    t.add_busybox("identical_nar_hashes_as_root_and_rootless")?;
    let drv = t.add_drv(&t.sh_drv("identity", IDENTITY, json!({})));
    let o = t.ok(&["build", &drv]).trim().to_owned();
    let info = t.info(&o);
    let id = std::fs::read_to_string(format!("{o}/id")).unwrap();
    assert!(t.verify_consistent());
    Some((info["nar_hash"].as_str().unwrap().to_owned(), id))
}

#[test]
fn identical_nar_hashes_as_root_and_rootless() {
    if !rustix_is_root() {
        eprintln!(
            "identical_nar_hashes_as_root_and_rootless: skipped: needs root to also run as uid 65534"
        );
        return;
    }
    let base = tempfile::Builder::new()
        .prefix("abovo-det-")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::set_permissions(
        base.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let dir = base.path().join("s");
    let Some((root_hash, root_id)) = nar_hash_as(None, &dir) else {
        return;
    };
    std::fs::remove_dir_all(&dir).unwrap_or_else(|_| {
        std::process::Command::new("rm")
            .args(["-rf"])
            .arg(&dir)
            .status()
            .unwrap();
    });
    let (rootless_hash, rootless_id) = nar_hash_as(Some(65534), &dir).unwrap();
    assert_eq!(root_id, rootless_id);
    assert_eq!(
        root_hash, rootless_hash,
        "same NAR hash as root and as uid 65534"
    );
    // And building twice as root gives the same hash again.
    let _ = std::process::Command::new("rm")
        .args(["-rf"])
        .arg(&dir)
        .status();
    let (again, _) = nar_hash_as(None, &dir).unwrap();
    assert_eq!(again, root_hash);
    let _ = std::process::Command::new("rm")
        .args(["-rf"])
        .arg(&dir)
        .status();
}

fn rustix_is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").unwrap().uid() == 0
}

trait OkOrOne {
    fn ok_or_one(&self, args: &[&str]) -> String;
}

impl OkOrOne for TestStore {
    /// Standard output of a command that may answer "no" (exit 1).
    fn ok_or_one(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}
