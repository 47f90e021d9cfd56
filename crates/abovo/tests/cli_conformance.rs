//! abovo against guix-daemon 1.5.0 itself: every probe of
//! `../shared/data/daemon-conformance` (`ABOVO_DAEMON_CONFORMANCE`) is
//! built and `--check`ed by abovo, and must give what the real daemon gave
//! (`expected.tsv`): each output's NAR hash, NAR size and references, or
//! the same class of failure, and the same `--check` verdict. `conf-nondet`
//! reads `/dev/urandom`: only its references and verdict are compared.
//!
//! The store directory is `/gnu/store` in both modes, as in Guix. As root
//! each abovo runs
//! in a private mount namespace (`unshare`), whose root is a view of the
//! host (a tmpfs with every top-level directory of the host bound in) in
//! which the test's own directory is mounted at `/gnu/store`. Nothing of
//! the host is changed, not even an empty `/gnu`. Without privileges (as
//! uid 65534 when the test runs as root) abovo keeps the items in the
//! test's directory (`--real-store-dir`) and its builders see them at
//! `/gnu/store`: every probe that records no owner must give Guix's bits,
//! and the two that do (`conf-ident`, `conf-meta`) must differ from Guix's
//! output only in the lines docs/build.md names.
//!
//! A few lines of `conf-meta` describe the machine rather than the daemon
//! (the limits of pending signals and processes, which follow the memory;
//! the owner and mode of `/dev/kvm`; the capability bounding set). Those
//! lines of guix-daemon's output are replaced by this machine's values
//! before comparing, and the test says which; on a machine like the
//! reference one, nothing is replaced and the hash is `expected.tsv`'s.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod cli_build_support;

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

/// One row of `expected.tsv`.
#[derive(Debug, Clone)]
struct Row {
    probe: String,
    drv: String,
    output: String,
    path: String,
    nar_hash: String,
    nar_size: String,
    references: String,
    status: String,
}

fn read_rows(dir: &Path) -> Vec<Row> {
    let text = std::fs::read_to_string(dir.join("expected.tsv")).unwrap();
    text.lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 10, "expected.tsv: {l}");
            Row {
                probe: f[0].into(),
                drv: f[1].into(),
                output: f[2].into(),
                path: f[3].into(),
                nar_hash: f[4].into(),
                nar_size: f[5].into(),
                references: f[6].into(),
                status: f[8].into(),
            }
        })
        .collect()
}

fn data_dir(test: &str) -> Option<PathBuf> {
    match std::env::var_os("ABOVO_DAEMON_CONFORMANCE") {
        Some(d) => Some(PathBuf::from(d)),
        None => {
            eprintln!(
                "{test}: skipped: ABOVO_DAEMON_CONFORMANCE is not set (.ci/run sets it to ../shared/data/daemon-conformance)"
            );
            None
        }
    }
}

/// A store whose directory is `/gnu/store`, with its items in
/// `<dir>/store` on the host.
struct GnuStore {
    dir: tempfile::TempDir,
    mode: Mode,
}

/// How abovo runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// As root, in a private mount namespace where `<dir>/store` is
    /// mounted at `/gnu/store`.
    Root,
    /// Without privileges (as this uid when the test runs as root, else as
    /// the test's own user), with `--real-store-dir <dir>/store`.
    Rootless(Option<u32>),
}

/// What makes the host's view with `/gnu/store` at `$STORE`, then runs
/// abovo in it (`$@`).
const IN_GNU_STORE: &str = r#"set -eu
R="$ROOT"
mount -t tmpfs -o mode=0755 abovo-conformance "$R"
for e in /*; do
  n=${e#/}
  [ "$n" = gnu ] && continue
  if [ -L "$e" ]; then ln -s "$(readlink "$e")" "$R/$n"
  elif [ -d "$e" ]; then mkdir "$R/$n"; mount --rbind "$e" "$R/$n"
  fi
done
mkdir -p "$R/gnu/store"
mount --bind "$STORE" "$R/gnu/store"
# pivot_root, not chroot: a chrooted process may not make user namespaces.
mkdir "$R/.old-root"
cd "$R"
pivot_root . .old-root
exec /bin/sh -c 'umount -l /.old-root && rmdir /.old-root && exec "$@"' sh "$@"
"#;

impl GnuStore {
    fn new(mode: Mode) -> GnuStore {
        let dir = tempfile::Builder::new()
            .prefix("abovo-conformance-")
            .tempdir_in("/tmp")
            .unwrap();
        for d in ["store", "tmp", "root", "var", "inputs", "json"] {
            std::fs::create_dir(dir.path().join(d)).unwrap();
        }
        if let Mode::Rootless(Some(uid)) = mode {
            for d in ["", "store", "tmp", "var", "inputs", "json"] {
                std::os::unix::fs::chown(dir.path().join(d), Some(uid), Some(uid)).unwrap();
            }
        }
        GnuStore { dir, mode }
    }

    /// `abovo ARGS` with the store `/gnu/store`, as guix-daemon was given
    /// the probes: `CONF_IMPURE_SET` set, one core.
    fn abovo(&self, args: &[&str]) -> Output {
        use std::os::unix::process::CommandExt;
        let d = self.dir.path();
        let mut cmd = match self.mode {
            Mode::Root => {
                let mut c = Command::new("unshare");
                c.args([
                    "--mount",
                    "--propagation",
                    "private",
                    "sh",
                    "-c",
                    IN_GNU_STORE,
                    "sh",
                ])
                .arg(env!("CARGO_BIN_EXE_abovo"));
                c
            }
            Mode::Rootless(user) => {
                let mut c = Command::new(env!("CARGO_BIN_EXE_abovo"));
                if let Some(uid) = user {
                    c.uid(uid).gid(uid);
                }
                c
            }
        };
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("ROOT", d.join("root"))
            .env("STORE", d.join("store"))
            .env("ABOVO_STORE", "/gnu/store")
            .env("ABOVO_STATE_DIR", d.join("var"))
            .env("TMPDIR", d.join("tmp"))
            .env("HOME", d)
            .env("NO_COLOR", "1")
            .env("CONF_IMPURE_SET", "value-from-daemon-env")
            .current_dir(d);
        if let Mode::Rootless(_) = self.mode {
            cmd.env("ABOVO_REAL_STORE_DIR", d.join("store"));
        }
        cmd.output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        cli_build_support::succeeded(args, self.abovo(args))
    }
}

/// The two inputs, unpacked from their NARs (a plain copy loses the
/// symlink `bin/sh`).
fn unpack_inputs(data: &Path, into: &Path) -> Vec<(String, PathBuf)> {
    let mut inputs = Vec::new();
    for (name, nar) in [
        (
            "conf-busybox",
            "xjh0xakzc0pbxnw0hnrzzblkkfyadg13-conf-busybox.nar",
        ),
        ("bash", "mzfkrxd4w8vqrmyrx169wj8wyw7r8i37-bash.nar"),
    ] {
        let target = into.join(name);
        let file = std::fs::File::open(data.join("drvs/inputs").join(nar)).unwrap();
        abovo_store::nar::restore(std::io::BufReader::new(file), &target).unwrap();
        inputs.push((name.to_owned(), target));
    }
    inputs
}

/// The text of a NAR holding one regular file.
fn nar_file_text(nar: &Path) -> String {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("f");
    let file = std::fs::File::open(nar).unwrap();
    abovo_store::nar::restore(std::io::BufReader::new(file), &target).unwrap();
    String::from_utf8(std::fs::read(&target).unwrap()).unwrap()
}

/// guix-daemon's output of `probe` as it would be on this machine: the
/// lines that describe the machine get this machine's values. Returns the
/// text and the lines changed.
fn on_this_host(probe: &str, guix: &str) -> (String, Vec<String>) {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    // `(soft, hard, units)` of a line of /proc/self/limits.
    let limit = |name: &str| -> (String, String, String) {
        let line = limits.lines().find(|l| l.starts_with(name)).unwrap();
        let f: Vec<&str> = line[name.len()..].split_whitespace().collect();
        (
            f[0].into(),
            f[1].into(),
            f.get(2).copied().unwrap_or_default().into(),
        )
    };
    let kb = |v: String| v.parse::<u64>().map_or(v, |n| (n / 1024).to_string());
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let cap_bnd = status.lines().find(|l| l.starts_with("CapBnd:")).unwrap();
    let kvm = std::fs::metadata("/dev/kvm").ok().map(|m| {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        format!(
            "/dev/kvm|character special file|{:o}|{}|{}|1",
            m.permissions().mode() & 0o7777,
            m.uid(),
            m.gid()
        )
    });
    let mut changed = Vec::new();
    let mut out = String::new();
    for line in guix.lines() {
        let new: Option<String> = if probe != "conf-meta" {
            // conf-fsview: /dev/kvm is there only if the host has it.
            let about_kvm = line == "kvm c" || line == "/dev/kvm";
            (about_kvm && kvm.is_none()).then(String::new)
        } else if let Some(flag) = ["-i", "-u", "-n", "-s", "-l"]
            .into_iter()
            .find(|f| line.contains(&format!("({f}) ")))
        {
            // `ulimit -a`: the value is the last word.
            let value = match flag {
                "-i" => limit("Max pending signals").0,
                "-u" => limit("Max processes").0,
                "-n" => limit("Max open files").0,
                "-s" => kb(limit("Max stack size").0),
                _ => kb(limit("Max locked memory").0),
            };
            line.rsplit_once(' ')
                .map(|(head, _)| format!("{head} {value}"))
        } else if let Some(name) = [
            "Max processes",
            "Max open files",
            "Max locked memory",
            "Max pending signals",
            "Max stack size",
            "Max core file size",
        ]
        .into_iter()
        .find(|n| line.starts_with(n))
        {
            // /proc/self/limits, in the kernel's columns. The soft core
            // limit stays 0: abovo sets it, as the reference daemon had it.
            let (mut soft, hard, units) = limit(name);
            if name == "Max core file size" {
                soft = "0".into();
            }
            Some(format!("{name:<25} {soft:<20} {hard:<20} {units:<10}"))
        } else if line.starts_with("CapBnd:") {
            Some(cap_bnd.to_owned())
        } else if line.starts_with("/dev/kvm") {
            match (&kvm, line.starts_with("/dev/kvm|")) {
                (Some(k), true) => Some(k.clone()),
                (Some(_), false) => None,
                (None, _) => Some(String::new()),
            }
        } else {
            None
        };
        let new = new.unwrap_or_else(|| line.to_owned());
        if new != line {
            changed.push(format!("{line:?} -> {new:?}"));
        }
        // An empty replacement removes the line (no /dev/kvm here).
        if !new.is_empty() || line.is_empty() {
            out.push_str(&new);
            out.push('\n');
        }
    }
    (out, changed)
}

fn basenames(refs: &Value) -> String {
    let mut names: Vec<String> = refs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().rsplit('/').next().unwrap().to_owned())
        .collect();
    names.sort();
    names.join(" ")
}

/// The class of a failure, in `expected.tsv`'s words, from abovo's JSON.
fn failure_class(result: &Value) -> String {
    match result["kind"].as_str().unwrap_or_default() {
        "builder" => "builder-failed".into(),
        "forbidden-reference" => "disallowed-reference".into(),
        other => other.into(),
    }
}

#[test]
fn every_probe_gives_guix_daemons_result_as_root() {
    let test = "every_probe_gives_guix_daemons_result_as_root";
    let Some(data) = data_dir(test) else {
        return;
    };
    if !is_root() {
        eprintln!("{test}: skipped: needs root (a private mount namespace with /gnu/store)");
        return;
    }
    if cli_build_support::busybox(test).is_none() {
        // Only .ci/run's other tests need it, but a machine without it is
        // not set up for build tests at all.
        return;
    }
    let probe_ns = Command::new("unshare").args(["--mount", "true"]).output();
    if !probe_ns.is_ok_and(|o| o.status.success()) {
        eprintln!("{test}: skipped: cannot run `unshare --mount` (util-linux)");
        return;
    }
    replay(test, &data, Mode::Root);
}

#[test]
fn every_probe_without_owners_gives_guix_daemons_result_rootless() {
    let test = "every_probe_without_owners_gives_guix_daemons_result_rootless";
    let Some(data) = data_dir(test) else {
        return;
    };
    if cli_build_support::busybox(test).is_none() {
        return;
    }
    let user = is_root().then_some(65534);
    replay(test, &data, Mode::Rootless(user));
}

/// The probes whose output records owners (of the sandbox's entries, its
/// inputs, the builder's groups and id maps), which a user namespace made
/// without privileges cannot give as guix-daemon's build users see them
/// (docs/build.md, "Root and rootless"); each with the lines of Guix's
/// output that rootless abovo gives otherwise (a prefix of each line).
const OWNERSHIP_PROBES: &[(&str, &[&str])] = &[
    // `id` has no supplementary group.
    (
        "conf-ident",
        &["uid=30001(nixbld) gid=30000(nixbld) groups="],
    ),
    (
        "conf-meta",
        &[
            // Owners: everything not the builder's is 65534; the chroot's
            // entries are the builder's, so their modes lack the owner's
            // write bit (writing there still gives `EACCES`, as in Guix).
            "/|",
            "/tmp|",
            "/etc|",
            "/etc/",
            "/gnu|",
            "/gnu/store|",
            "/gnu/store/",
            "/dev|",
            "/dev/",
            "/proc|",
            // The nested namespace that locks the mounts: its maps, and
            // `setgroups` denied.
            "0 0 4294967295",
            "allow",
            "Groups:",
        ],
    ),
];

fn replay(test: &str, data: &Path, mode: Mode) {
    let started = Instant::now();
    let rows = read_rows(data);
    let s = GnuStore::new(mode);

    // The inputs, with the paths Guix gave them.
    let unpacked = s.dir.path().join("inputs");
    for (name, dir) in unpack_inputs(data, &unpacked) {
        let path = s.ok(&["add", "--recursive", "--name", &name, dir.to_str().unwrap()]);
        let row = rows
            .iter()
            .find(|r| r.probe == "INPUT" && r.path.ends_with(&format!("-{name}")))
            .unwrap();
        assert_eq!(path.trim(), row.path, "input {name}");
        let info: Value =
            serde_json::from_str(&s.ok(&["store", "info", "-f", "json", &row.path])).unwrap();
        assert_eq!(info[0]["nar_hash"], row.nar_hash.as_str(), "input {name}");
        assert_eq!(
            info[0]["nar_size"].to_string(),
            row.nar_size,
            "input {name}"
        );
    }

    // The .drv files, through abovo's JSON: each must land at its name.
    let json_dir = s.dir.path().join("json");
    let mut drvs: Vec<PathBuf> = std::fs::read_dir(data.join("drvs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "drv"))
        .collect();
    drvs.sort();
    let mut pending: Vec<(String, PathBuf)> = Vec::new();
    for drv in &drvs {
        let args = ["show", "-f", "json", drv.to_str().unwrap()];
        let out = Command::new(env!("CARGO_BIN_EXE_abovo"))
            .args(args)
            .output()
            .unwrap();
        let json = cli_build_support::succeeded(&args, out);
        let name = drv.file_name().unwrap().to_str().unwrap().to_owned();
        let file = json_dir.join(format!("{name}.json"));
        std::fs::write(&file, json).unwrap();
        pending.push((name, file));
    }
    // Inputs first: add what can be added until nothing is left.
    while !pending.is_empty() {
        let before = pending.len();
        pending.retain(|(name, file)| {
            let out = s.abovo(&["derivation", "add", file.to_str().unwrap()]);
            if !out.status.success() {
                return true;
            }
            let path = String::from_utf8(out.stdout).unwrap();
            assert_eq!(path.trim(), format!("/gnu/store/{name}"), "{name}");
            false
        });
        assert!(pending.len() < before, "cannot add {pending:?}");
    }

    // Build them all, one at a time, as `guix build --cores=1` did.
    let targets: Vec<String> = drvs
        .iter()
        .map(|d| format!("/gnu/store/{}", d.file_name().unwrap().to_str().unwrap()))
        .collect();
    let mut args = vec![
        "build",
        "--keep-going",
        "--jobs",
        "1",
        "--cores",
        "1",
        "-f",
        "json",
    ];
    args.extend(targets.iter().map(String::as_str));
    let out = s.abovo(&args);
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let results: BTreeMap<String, Value> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["drv"].as_str().unwrap().to_owned(), r.clone()))
        .collect();

    let mut compared = 0;
    // Probes compared line by line (rootless, those recording owners).
    let mut by_lines = 0;
    for row in rows
        .iter()
        .filter(|r| r.probe != "INPUT" && r.output != "check")
    {
        let drv = format!("/gnu/store/{}", row.drv);
        let result = &results[&drv];
        if let Some(class) = row.status.strip_prefix("FAIL:") {
            assert_eq!(result["status"], "failed", "{}: {result}", row.probe);
            assert_eq!(failure_class(result), class, "{}: {result}", row.probe);
            compared += 1;
            continue;
        }
        assert_eq!(result["status"], "built", "{}: {result}", row.probe);
        let output = result["outputs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["name"] == row.output.as_str())
            .unwrap();
        assert_eq!(output["path"], row.path.as_str(), "{}", row.probe);
        assert_eq!(
            basenames(&output["references"]),
            row.references,
            "{}: references",
            row.probe
        );
        if row.status == "OK:nondeterministic" {
            compared += 1;
            continue;
        }
        let base = row.path.rsplit('/').next().unwrap();
        let ownership = OWNERSHIP_PROBES.iter().find(|(p, _)| *p == row.probe);
        if let (Mode::Rootless(_), Some((_, lines))) = (mode, ownership) {
            // Not Guix's bits, by design: every line but those recording
            // owners must be Guix's.
            let guix = nar_file_text(&data.join("nar").join(format!("{base}.nar")));
            let (guix, _) = on_this_host(&row.probe, &guix);
            let built = std::fs::read_to_string(s.dir.path().join("store").join(base)).unwrap();
            let (guix, built): (Vec<&str>, Vec<&str>) =
                (guix.lines().collect(), built.lines().collect());
            assert_eq!(
                guix.len(),
                built.len(),
                "{}:\n{}",
                row.probe,
                built.join("\n")
            );
            let mut differing = 0;
            let mut unexpected = Vec::new();
            let mut shown = Vec::new();
            for (g, b) in guix.iter().zip(&built) {
                if g != b {
                    let words = g.split_whitespace().collect::<Vec<_>>().join(" ");
                    if !lines.iter().any(|l| words.starts_with(l)) {
                        unexpected.push(format!("  guix:  {g}\n  abovo: {b}"));
                    }
                    shown.push(format!("{g:?} -> {b:?}"));
                    differing += 1;
                }
            }
            assert!(
                unexpected.is_empty(),
                "{}: lines that record no owner differ from guix-daemon's:\n{}",
                row.probe,
                unexpected.join("\n")
            );
            assert!(differing > 0, "{}: no owner differs", row.probe);
            eprintln!(
                "{test}: {}: {differing} lines record owners and differ, as documented; the other {} are guix-daemon's:\n  {}",
                row.probe,
                guix.len() - differing,
                shown.join("\n  ")
            );
            compared += 1;
            by_lines += 1;
            continue;
        }
        let mut expected_hash = row.nar_hash.clone();
        let mut expected_size = row.nar_size.clone();
        if row.probe == "conf-meta" || row.probe == "conf-fsview" {
            let guix = nar_file_text(&data.join("nar").join(format!("{base}.nar")));
            let (here, changed) = on_this_host(&row.probe, &guix);
            if !changed.is_empty() {
                eprintln!(
                    "{test}: {}: {} lines describe the machine and were given this one's values:\n  {}",
                    row.probe,
                    changed.len(),
                    changed.join("\n  ")
                );
                let nar = abovo_store::nar::hash_regular_bytes(here.as_bytes(), false);
                expected_hash = nar.hash.to_nix32_string();
                expected_size = nar.size.to_string();
            }
            let built = std::fs::read_to_string(s.dir.path().join("store").join(base)).unwrap();
            assert_eq!(
                built, here,
                "{}, against guix-daemon's output on this machine",
                row.probe
            );
        }
        assert_eq!(
            output["nar_hash"],
            expected_hash.as_str(),
            "{}: NAR hash",
            row.probe
        );
        assert_eq!(
            output["nar_size"].to_string(),
            expected_size,
            "{}: NAR size",
            row.probe
        );
        compared += 1;
    }

    // --check, as Guix checked every probe that built.
    let mut checked = 0;
    for row in rows.iter().filter(|r| r.output == "check") {
        let drv = format!("/gnu/store/{}", row.drv);
        let out = s.abovo(&["build", "--check", "--cores", "1", "-f", "json", &drv]);
        let j: Value = serde_json::from_slice(&out.stdout).unwrap();
        let status = j["results"][0]["status"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let expected = match row.status.as_str() {
            "CHECK:same" => (Some(0), "checked"),
            "CHECK:check-differs" => (Some(1), "differs"),
            other => panic!("unknown verdict {other}"),
        };
        assert_eq!(
            (out.status.code(), status.as_str()),
            expected,
            "{}: {j}",
            row.probe
        );
        checked += 1;
    }
    assert!(
        s.ok(&["store", "verify", "-f", "json"])
            .contains("\"consistent\": true")
    );
    eprintln!(
        "{test}: {} results and {checked} --check verdicts equal to guix-daemon 1.5.0's, {by_lines} equal but for the lines recording owners, in {:.1} s",
        compared - by_lines,
        started.elapsed().as_secs_f64()
    );
    assert_eq!(
        compared,
        rows.iter()
            .filter(|r| r.probe != "INPUT" && r.output != "check")
            .count()
    );
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").unwrap().uid() == 0
}
