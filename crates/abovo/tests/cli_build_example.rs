//! The example that ties build and trust together
//! (`examples/busybox-chain`): Debian's static busybox as the one explicit
//! seed, a chain of derivations built from it and from sources, a
//! deliberately non-deterministic one that `--check` catches and `abovo
//! diff` explains, and `abovo seeds` on the final derivation listing exactly
//! that seed, with its real size and `content` evidence.
//!
//! The test runs the example's own script (`run.sh`), then checks its
//! results through abovo's JSON outputs.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod cli_build_support;

use std::path::PathBuf;

fn example_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/busybox-chain")
}

#[test]
fn busybox_chain() {
    let Some(busybox) = cli_build_support::busybox("busybox_chain") else {
        return;
    };
    let work = tempfile::Builder::new()
        .prefix("abovo-example-")
        .tempdir_in("/tmp")
        .unwrap();
    let out = std::process::Command::new("sh")
        .arg(example_dir().join("run.sh"))
        .arg(work.path())
        .env("ABOVO", env!("CARGO_BIN_EXE_abovo"))
        .env("TMPDIR", work.path())
        .env("NO_COLOR", "1")
        .env_remove("ABOVO_STATE_DIR")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "run.sh failed:\n{stdout}\n{stderr}");
    let store = work.path().join("store");
    let line = |prefix: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no `{prefix}` line in:\n{stdout}"))
            .trim()
            .to_owned()
    };
    let seed = line("seed:");
    let bundle = line("built:");
    let bundle_drv = line("final derivation:");
    let abovo = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_abovo"))
            .args(args)
            .env("ABOVO_STORE", &store)
            .env_remove("ABOVO_STATE_DIR")
            .output()
            .unwrap()
    };

    // The chain ran: the bundle's program prints the greeting, through
    // busybox, by store paths only.
    assert!(stdout.contains("HELLO FROM A CHAIN OF DERIVATIONS ROOTED IN ONE STATIC BINARY."));
    // --check: the greeting is reproducible, the stamp is not, and the
    // report names its differing files.
    assert!(
        stdout.contains("greeting: rebuilds bit for bit"),
        "{stdout}"
    );
    assert!(
        stderr.contains("build-stamp-1.0.drv` may not be deterministic"),
        "{stderr}"
    );
    assert!(
        stderr.contains("binary content differs: share/build-id (32 bytes)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("text content differs: share/stamp"),
        "{stderr}"
    );
    // abovo diff explained it: a unified diff of the stamp, a hex view of
    // the build id.
    assert!(stdout.contains("-built on "), "{stdout}");
    assert!(stdout.contains("+built on "), "{stdout}");
    // (Not necessarily at offset 0: the first random bytes agree one time
    // in 256.)
    assert!(stdout.contains("@@ offset 0x"), "{stdout}");

    // The closure of the bundle output really rests on busybox.
    let info = abovo(&["store", "info", "-f", "json", &bundle]);
    let info: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(info[0]["deriver"], bundle_drv.as_str());
    assert!(info[0]["nar_hash"].is_string(), "{info}");
    assert!(info[0]["nar_size"].as_u64().unwrap() > 0, "{info}");
    let verify = abovo(&["store", "verify", "-f", "json"]);
    let verify: serde_json::Value = serde_json::from_slice(&verify.stdout).unwrap();
    assert_eq!(verify["consistent"], true, "{verify}");
    // The stamp's other build is kept on purpose, listed apart.
    let kept = verify["kept"].as_array().unwrap();
    assert_eq!(kept.len(), 1, "{verify}");
    assert!(
        kept[0]
            .as_str()
            .unwrap()
            .ends_with("-build-stamp-1.0-check"),
        "{verify}"
    );
    assert!(stdout.contains("kept: "), "{stdout}");

    // `abovo seeds` on the final derivation: exactly one binary seed, the
    // busybox we imported, with its real size and `content` evidence.
    let out = abovo(&[
        "seeds",
        &bundle_drv,
        "--source",
        store.to_str().unwrap(),
        "--store-dir",
        store.to_str().unwrap(),
        "-f",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let seeds = report["seeds"].as_array().unwrap();
    let binaries: Vec<&serde_json::Value> =
        seeds.iter().filter(|s| s["kind"] == "binary").collect();
    assert_eq!(binaries.len(), 1, "exactly one binary seed: {report}");
    let b = binaries[0];
    assert_eq!(b["store_path"], seed.as_str());
    assert_eq!(b["evidence"]["type"], "content");
    let real_size = std::fs::metadata(&busybox).unwrap().len();
    assert_eq!(b["size"], real_size, "the real size of /bin/busybox");
    assert_eq!(b["size_source"], "bytes");
    // Everything else it rests on is source.
    for s in seeds.iter().filter(|s| s["kind"] != "binary") {
        assert_eq!(s["kind"], "source", "{s}");
    }
}
