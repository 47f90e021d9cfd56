//! The daemon-conformance probes (`ABOVO_DAEMON_CONFORMANCE`) built through
//! a real buildbox-casd (`ABOVO_BUILDBOX`): which give guix-daemon 1.5.0's
//! bits, and why the others do not (docs/remote.md, "What differs from a
//! local build"). Each probe's verdict is asserted, so a change in the
//! remote path (or in buildbox) shows here.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod cli_build_support;
mod cli_remote_support;

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// What a probe gives remotely, and why when it is not guix-daemon's.
const VERDICTS: &[(&str, &str)] = &[
    ("conf-allowed-ok", "same"),
    ("conf-fod-flat", "same"),
    ("conf-fod-rec", "same"),
    ("conf-multi", "same"),
    ("conf-refs", "same"),
    // Probes guix-daemon fails fail here too.
    ("conf-fail", "fails too"),
    ("conf-disallowed-fail", "fails too"),
    ("conf-fod-wrong", "fails too"),
    // The remote sandbox is the runner's: its host name (`buildbox`), uid
    // 0 and no /etc/passwd, /etc/group or /etc/hosts, bwrap as PID 1, and
    // the builder starts at the input root (`/`), not in NIX_BUILD_TOP.
    ("conf-ident", "differs"),
    ("conf-meta", "differs"),
    ("conf-fsview", "differs"),
    // Reads /dev/urandom: differs from any other build.
    ("conf-nondet", "differs"),
    // REAPI has no file type for a FIFO: the runner leaves it out of the
    // output, so abovo cannot see it (guix-daemon refuses the output).
    ("conf-fifo", "built, guix-daemon refused it"),
    // REAPI strings are UTF-8; these pass raw bytes (0xE9) to the builder.
    ("conf-env", "refused: not UTF-8"),
    ("conf-canon", "refused: not UTF-8"),
    ("conf-export-graph", "refused: exportReferencesGraph"),
];

fn abovo(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_abovo"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("ABOVO_STORE", "/gnu/store")
        .env("ABOVO_REAL_STORE_DIR", dir.join("store"))
        .env("ABOVO_STATE_DIR", dir.join("var"))
        .env("TMPDIR", dir.join("tmp"))
        .env("HOME", dir)
        .env("NO_COLOR", "1")
        .env("CONF_IMPURE_SET", "value-from-daemon-env")
        .output()
        .unwrap()
}

fn ok(dir: &Path, args: &[&str]) -> String {
    cli_build_support::succeeded(args, abovo(dir, args))
}

#[test]
fn conformance_probes_built_remotely() {
    let test = "conformance_probes_built_remotely";
    let Some(data) = std::env::var_os("ABOVO_DAEMON_CONFORMANCE").map(PathBuf::from) else {
        eprintln!("{test}: skipped: ABOVO_DAEMON_CONFORMANCE is not set (.ci/run sets it)");
        return;
    };
    let Some(casd) = cli_remote_support::Casd::start(test) else {
        return;
    };
    let work = tempfile::Builder::new()
        .prefix("abovo-remote-conformance-")
        .tempdir_in("/tmp")
        .unwrap();
    let dir = work.path();
    for d in ["store", "var", "tmp", "inputs", "json"] {
        std::fs::create_dir(dir.join(d)).unwrap();
    }
    for (name, nar) in [
        (
            "conf-busybox",
            "xjh0xakzc0pbxnw0hnrzzblkkfyadg13-conf-busybox.nar",
        ),
        ("bash", "mzfkrxd4w8vqrmyrx169wj8wyw7r8i37-bash.nar"),
    ] {
        let target = dir.join("inputs").join(name);
        let file = std::fs::File::open(data.join("drvs/inputs").join(nar)).unwrap();
        abovo_store::nar::restore(std::io::BufReader::new(file), &target).unwrap();
        ok(
            dir,
            &[
                "add",
                "--recursive",
                "--name",
                name,
                target.to_str().unwrap(),
            ],
        );
    }
    let mut pending: Vec<PathBuf> = Vec::new();
    let mut targets = Vec::new();
    for e in std::fs::read_dir(data.join("drvs")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|e| e == "drv") {
            let name = p.file_name().unwrap().to_str().unwrap().to_owned();
            let json = ok(dir, &["show", "-f", "json", p.to_str().unwrap()]);
            let file = dir.join("json").join(format!("{name}.json"));
            std::fs::write(&file, json).unwrap();
            pending.push(file);
            targets.push(format!("/gnu/store/{name}"));
        }
    }
    while !pending.is_empty() {
        let before = pending.len();
        pending.retain(|f| {
            !abovo(dir, &["derivation", "add", f.to_str().unwrap()])
                .status
                .success()
        });
        assert!(pending.len() < before, "cannot add {pending:?}");
    }
    let url = casd.url();
    let mut args = vec![
        "build",
        "--keep-going",
        "--cores",
        "1",
        "-f",
        "json",
        "--remote",
        &url,
    ];
    args.extend(targets.iter().map(String::as_str));
    let out = abovo(dir, &args);
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    // guix-daemon's NAR hash (or failure) of each probe's outputs.
    let expected = std::fs::read_to_string(data.join("expected.tsv")).unwrap();
    let mut guix: BTreeMap<String, Vec<(String, String, String)>> = BTreeMap::new();
    for l in expected.lines().skip(1) {
        let f: Vec<&str> = l.split('\t').collect();
        if f.len() == 10 && f[0] != "INPUT" && f[2] != "check" {
            guix.entry(f[0].into())
                .or_default()
                .push((f[2].into(), f[4].into(), f[8].into()));
        }
    }
    let mut seen = 0;
    for r in report["results"].as_array().unwrap() {
        let drv = r["drv"].as_str().unwrap();
        // `/gnu/store/<hash>-<probe>.drv`
        let base = drv.rsplit('/').next().unwrap();
        let probe = base.split_once('-').unwrap().1.trim_end_matches(".drv");
        let Some((_, verdict)) = VERDICTS.iter().find(|(p, _)| *p == probe) else {
            panic!("{probe}: no verdict for this probe; add it to VERDICTS");
        };
        let rows = &guix[probe];
        let got = match r["status"].as_str().unwrap() {
            "built" => {
                let same = r["outputs"].as_array().unwrap().iter().all(|o| {
                    rows.iter().any(|(name, hash, _)| {
                        o["name"] == name.as_str() && o["nar_hash"] == hash.as_str()
                    })
                });
                match (same, rows[0].2.starts_with("FAIL")) {
                    (true, _) => "same",
                    (false, true) => "built, guix-daemon refused it",
                    (false, false) => "differs",
                }
            }
            _ => {
                let msg = r.to_string();
                if msg.contains("not UTF-8") {
                    "refused: not UTF-8"
                } else if msg.contains("exportReferencesGraph") {
                    "refused: exportReferencesGraph"
                } else if rows[0].2.starts_with("FAIL") {
                    "fails too"
                } else {
                    "failed"
                }
            }
        };
        assert_eq!(got, *verdict, "{probe}: {r}");
        seen += 1;
    }
    assert_eq!(seen, VERDICTS.len(), "every probe was built");
}
