//! Shared helpers of the `cli_trust*` tests (`abovo seeds` and `abovo
//! audit`), on top of [`crate::cli_support`] (running the real binary and
//! reading its output): the Guix graph to check on (the corpus or the
//! built-in snapshot), picking seeds out of a JSON report, and small `.drv`
//! trees written on the spot.
#![allow(dead_code, clippy::unwrap_used)] // tests: a panic is the failure report

use crate::cli_support::{abovo, json};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Output;

/// The graph to check issue 4's acceptance on: the corpus when
/// ABOVO_GUIX_CORPUS is set, else the built-in Guix 1.5.0 snapshot (the
/// same graph, carried by the binary).
pub fn source_args() -> Vec<String> {
    match std::env::var_os("ABOVO_GUIX_CORPUS") {
        Some(p) => vec![
            "--source".into(),
            PathBuf::from(p).to_str().unwrap().to_owned(),
        ],
        None => {
            eprintln!("ABOVO_GUIX_CORPUS is not set: checking on the built-in snapshot");
            vec![]
        }
    }
}

/// Runs the real binary with `args` on the Guix graph ([`source_args`]).
pub fn on_guix(args: &[&str]) -> Output {
    let mut all: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    all.extend(source_args());
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    abovo(&refs)
}

/// The seeds of a `seeds` JSON report named `name`.
pub fn seed<'a>(report: &'a Value, name: &str) -> Vec<&'a Value> {
    report["seeds"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["name"] == name)
        .collect()
}

/// The labels on a seed's path from the target, target first.
pub fn labels(s: &Value) -> Vec<String> {
    s["path_from_target"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["label"].as_str().unwrap().to_owned())
        .collect()
}

// ---- small .drv trees written here ----

/// A 32-character store hash made of digits only (valid nix32).
pub fn hash(i: u32) -> String {
    format!("{i:0>32}")
}

/// A directory of `.drv` files, as `--source` reads it.
pub struct Tree {
    /// The directory, removed when the tree is dropped.
    pub dir: tempfile::TempDir,
}

impl Tree {
    /// The directory, as an argument.
    pub fn path(&self) -> &str {
        self.dir.path().to_str().unwrap()
    }

    /// The JSON report of `abovo seeds top` on this tree, with `more`
    /// arguments.
    pub fn seeds_of_top(&self, more: &[&str]) -> Value {
        let mut args = vec!["seeds", "top", "--source", self.path()];
        args.extend_from_slice(more);
        args.extend(["--format", "json"]);
        json(&abovo(&args))
    }

    /// Writes derivation `i` named `name` with output `out`, fixed when
    /// `fixed` is `(algo, hash)`, with `inputs` (.drv base names) and
    /// `env`; returns the `.drv` file's name.
    pub fn write(
        &self,
        i: u32,
        name: &str,
        out: &str,
        fixed: Option<(&str, &str)>,
        inputs: &[String],
        env: &[(&str, &str)],
    ) -> String {
        let drv = format!("{}-{name}.drv", hash(i));
        let (algo, h) = fixed.unwrap_or(("", ""));
        let ins: Vec<String> = inputs
            .iter()
            .map(|p| format!("(\"/gnu/store/{p}\",[\"out\"])"))
            .collect();
        let mut envs: Vec<String> = env
            .iter()
            .map(|(k, v)| format!("(\"{k}\",\"{}\")", v.replace('"', "\\\"")))
            .collect();
        envs.push(format!("(\"out\",\"/gnu/store/{out}\")"));
        let builder = if fixed.is_some() {
            "builtin:download"
        } else {
            "/bin/sh"
        };
        let text = format!(
            "Derive([(\"out\",\"/gnu/store/{out}\",\"{algo}\",\"{h}\")],[{}],[],\"x86_64-linux\",\"{builder}\",[],[{}])",
            ins.join(","),
            envs.join(",")
        );
        std::fs::write(self.dir.path().join(&drv), text).unwrap();
        drv
    }
}

/// The default bytes of the small tree's blob.
pub const BLOB: &[u8] = b"pretend this is a platform tarball\n";

/// top-1.0 → mid-1.0 → blob (a FOD fetched from a platform-named URL,
///       │                    whose flat sha256 is that of `blob`)
///       └→ src-1.0.tar.gz (a FOD from mirror://gnu)
pub fn small_tree_with(blob: &[u8], blob_url: &str) -> Tree {
    let t = Tree {
        dir: tempfile::tempdir().unwrap(),
    };
    let digest = abovo_store::HashAlgo::Sha256.digest(blob).to_base16();
    let blob = t.write(
        1,
        "blob-1.0-x86_64-linux.tar.gz",
        &format!("{}-blob-1.0-x86_64-linux.tar.gz", hash(101)),
        Some(("sha256", &digest)),
        &[],
        &[("url", blob_url)],
    );
    let src = t.write(
        2,
        "src-1.0.tar.gz",
        &format!("{}-src-1.0.tar.gz", hash(102)),
        Some(("sha256", &"b".repeat(64))),
        &[],
        &[("url", "mirror://gnu/src/src-1.0.tar.gz")],
    );
    let mid = t.write(
        3,
        "mid-1.0",
        &format!("{}-mid-1.0", hash(103)),
        None,
        &[blob],
        &[],
    );
    t.write(
        4,
        "top-1.0",
        &format!("{}-top-1.0", hash(104)),
        None,
        &[mid, src],
        &[],
    );
    t
}

/// [`small_tree_with`] the default blob and a platform-named URL.
pub fn small_tree() -> Tree {
    small_tree_with(BLOB, "https://example.org/blob-1.0-x86_64-linux.tar.gz")
}
