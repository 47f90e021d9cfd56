//! Trust over time (issue 12): `abovo seeds TARGET --against OLD` and
//! `abovo audit --against OLD`, on the real Guix 1.2.0 slice
//! (ABOVO_GUIX_SLICE) against Guix 1.5.0 (the corpus when
//! ABOVO_GUIX_CORPUS is set, else the built-in snapshot), on revisions
//! the tests make (one binary seed added under one package), and between
//! sources of every sort (snapshot and tarball, a Nix and a Guix store).

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod cli_support;
mod cli_trust_support;

use abovo_store::StoreDir;
use abovo_store::derivation::Derivation;
use cli_support::*;
use cli_trust_support::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::io::Read;
use std::path::{Path, PathBuf};

fn slice() -> Option<PathBuf> {
    let p = std::env::var_os("ABOVO_GUIX_SLICE").map(PathBuf::from);
    if p.is_none() {
        println!("skipped: ABOVO_GUIX_SLICE is not set");
    }
    p
}

/// Every `.drv` of a (zstd-compressed) tarball, by base name.
fn drv_files(tarball: &Path) -> HashMap<String, Vec<u8>> {
    let file = std::fs::File::open(tarball).unwrap();
    let mut archive = tar::Archive::new(zstd::Decoder::new(file).unwrap());
    let mut out = HashMap::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let base = name.rsplit('/').next().unwrap().to_owned();
        if base.ends_with(".drv") {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            out.insert(base, bytes);
        }
    }
    out
}

/// The seeds Guix's bootstrap binaries make, found by reading the `.drv`
/// files alone, without abovo's graph or classifier: walk from `root`
/// through input derivations, stopping at fixed-output ones (as the trust
/// walk does), and keep the fixed outputs fetched from Guix's bootstrap
/// binary directory (`…/guix/bootstrap/…` on the mirrors,
/// `gnu/packages/bootstrap/…` in guix.git), kernel headers aside, and the
/// stage0-posix tarball of the full-source bootstrap. Returns `hash →
/// name`.
fn bootstrap_binaries(files: &HashMap<String, Vec<u8>>, root: &str) -> BTreeMap<String, String> {
    let store = StoreDir::default();
    let mut seen = BTreeSet::from([root.to_owned()]);
    let mut queue = VecDeque::from([root.to_owned()]);
    let mut out = BTreeMap::new();
    while let Some(base) = queue.pop_front() {
        let d = Derivation::parse(&store, &files[&base]).unwrap();
        let fixed = d.outputs.get("out").filter(|o| !o.hash.is_empty());
        if let Some(o) = fixed {
            if base != root {
                let name = base[33..].trim_end_matches(".drv").to_owned();
                let url = d.env_str("url").unwrap_or_default().to_owned();
                let bootstrap_dir =
                    url.contains("/guix/bootstrap/") || url.contains("gnu/packages/bootstrap/");
                if (bootstrap_dir && !name.contains("linux-libre-headers"))
                    || name.starts_with("stage0-posix-")
                {
                    out.insert(format!("{}:{}", o.hash_algo, o.hash), name);
                }
                continue;
            }
        }
        for input in d.input_derivations.keys() {
            let input = input.to_string();
            if seen.insert(input.clone()) {
                queue.push_back(input);
            }
        }
    }
    out
}

fn names(seeds: &[&Value], side: &str) -> BTreeSet<String> {
    seeds
        .iter()
        .map(|s| s[side]["name"].as_str().unwrap().to_owned())
        .collect()
}

fn binary_changes<'a>(r: &'a Value, change: &str) -> Vec<&'a Value> {
    r["seeds"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["change"] == change)
        .filter(|s| {
            ["old", "new"].iter().any(|side| {
                let k = &s[*side]["kind"];
                k == "binary" || k == "source-with-binaries"
            })
        })
        .collect()
}

/// Issue 12's acceptance: between Guix 1.2.0 and 1.5.0, hello stopped
/// resting on the prebuilt Mes and mescc-tools binaries and started from
/// stage0-posix, while the four executables, the bootstrap Guile and
/// static-binaries.tar.xz stayed; the expected sets come from the `.drv`
/// files.
#[test]
fn hello_between_guix_1_2_and_1_5() {
    let Some(slice) = slice() else { return };
    let mut args = vec!["seeds", "hello", "--against", slice.to_str().unwrap()];
    let source = source_args();
    args.extend(source.iter().map(String::as_str));
    let mut json_args = args.clone();
    json_args.extend(["--format", "json"]);
    let r = json(&abovo(&json_args));
    assert_eq!(r["old"]["target_label"], "hello-2.10");
    assert_eq!(r["new"]["target_label"], "hello-2.12.2");

    // Independently, from the .drv files.
    let old_files = drv_files(&slice.join("drvs.tar.zst"));
    let new_files = match std::env::var_os("ABOVO_GUIX_CORPUS") {
        Some(c) => drv_files(&PathBuf::from(c).join("drvs.tar.zst")),
        // The built-in items hold the .drv files of hello's closure.
        None => drv_files(
            &Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../data/guix-1.5.0-hello-items.tar.zst"),
        ),
    };
    let base = |p: &Value| p.as_str().unwrap().rsplit('/').next().unwrap().to_owned();
    let old = bootstrap_binaries(&old_files, &base(&r["old"]["target"]));
    let new = bootstrap_binaries(&new_files, &base(&r["new"]["target"]));
    let only = |a: &BTreeMap<String, String>, b: &BTreeMap<String, String>| -> BTreeSet<String> {
        a.iter()
            .filter(|(h, _)| !b.contains_key(*h))
            .map(|(_, n)| n.clone())
            .collect()
    };
    let both: BTreeSet<String> = new
        .iter()
        .filter(|(h, _)| old.contains_key(*h))
        .map(|(_, n)| n.clone())
        .collect();
    let (removed, added) = (only(&old, &new), only(&new, &old));
    // What the .drv files say, as the issue tells it.
    assert_eq!(
        removed,
        BTreeSet::from([
            "mes-minimal-stripped-0.19-i686-linux.tar.xz".to_owned(),
            "mescc-tools-static-stripped-0.5.2-i686-linux.tar.xz".to_owned()
        ])
    );
    assert_eq!(
        added,
        BTreeSet::from(["stage0-posix-1.6.0.tar.gz".to_owned()])
    );
    assert_eq!(
        both,
        [
            "bash",
            "guile-2.0.9.tar.xz",
            "mkdir",
            "static-binaries.tar.xz",
            "tar",
            "xz"
        ]
        .into_iter()
        .map(str::to_owned)
        .collect()
    );
    // And abovo says exactly that.
    assert_eq!(names(&binary_changes(&r, "removed"), "old"), removed);
    assert_eq!(names(&binary_changes(&r, "added"), "new"), added);
    assert_eq!(names(&binary_changes(&r, "unchanged"), "new"), both);
    assert!(binary_changes(&r, "changed").is_empty());
    // Each with its path and its size where the bytes were measured.
    let stage0 = binary_changes(&r, "added")[0];
    assert_eq!(stage0["new"]["size"], 1_189_782);
    let path = labels(&stage0["new"]);
    assert_eq!(path.first().unwrap(), "hello-2.12.2");
    assert_eq!(path.last().unwrap(), "stage0-posix-1.6.0.tar.gz");
    for s in binary_changes(&r, "removed") {
        assert_eq!(labels(&s["old"]).first().unwrap(), "hello-2.10");
    }
    // hello's own tarball is the same role in another version.
    let tarball = r["seeds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["old"]["name"] == "hello-2.10.tar.gz")
        .unwrap();
    assert_eq!(tarball["change"], "changed");
    assert_eq!(tarball["new"]["name"], "hello-2.12.2.tar.gz");
    assert_eq!(r["old_binary"]["seeds"], 8);
    assert_eq!(r["new_binary"]["seeds"], 7);

    // The text says it at a glance; the guard fails on the new binary seed.
    let o = abovo(&args);
    assert_eq!(code(&o), SUCCESS, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.starts_with("Trust base of hello-2.12.2 against hello-2.10\n"),
        "{out}"
    );
    assert!(
        out.contains("1 added, 2 removed, 0 changed, 6 unchanged"),
        "{out}"
    );
    let mut guarded = args.clone();
    guarded.extend(["--fail-on", "new-binary"]);
    let o = abovo(&guarded);
    assert_eq!(code(&o), NEGATIVE, "{}", text(&o));
    assert!(
        stderr(&o).contains("stage0-posix-1.6.0.tar.gz"),
        "{}",
        stderr(&o)
    );
    assert!(
        stdout(&o).contains("Guard --fail-on new-binary: failed, 1 violation"),
        "{}",
        stdout(&o)
    );
    // The HTML page names them too.
    let mut html = args.clone();
    html.extend(["--format", "html"]);
    let page = stdout(&abovo(&html));
    assert!(page.starts_with("<!DOCTYPE html>"));
    for name in [
        "stage0-posix-1.6.0.tar.gz",
        "mes-minimal-stripped-0.19-i686-linux.tar.xz",
    ] {
        assert!(page.contains(name), "{name}");
    }
}

/// The names of a package table, with how many rows each has.
fn table_names(tsv: &Path) -> HashMap<String, usize> {
    let text =
        String::from_utf8(zstd::decode_all(std::fs::File::open(tsv).unwrap()).unwrap()).unwrap();
    let mut out = HashMap::new();
    for line in text.lines().skip(1) {
        *out.entry(line.split('\t').next().unwrap().to_owned())
            .or_insert(0) += 1;
    }
    out
}

/// `audit --against` on the packages both revisions have: matched by name
/// (counted here from the two package tables), hello's change as `seeds`
/// tells it, with a path to each seed, and counts that add up.
#[test]
fn audit_between_guix_1_2_and_1_5() {
    let (Some(slice), Some(corpus)) = (slice(), std::env::var_os("ABOVO_GUIX_CORPUS")) else {
        println!("skipped: needs ABOVO_GUIX_SLICE and ABOVO_GUIX_CORPUS");
        return;
    };
    let corpus = PathBuf::from(corpus);
    let started = std::time::Instant::now();
    let r = json(&abovo(&[
        "audit",
        "--against",
        slice.to_str().unwrap(),
        "--source",
        corpus.to_str().unwrap(),
        "--format",
        "json",
    ]));
    println!(
        "audit --against (corpus from .drv files): {:?}",
        started.elapsed()
    );
    let old = table_names(&slice.join("packages.tsv.zst"));
    let new = table_names(&corpus.join("packages.tsv.zst"));
    let expected: usize = old
        .iter()
        .filter_map(|(n, k)| new.get(n).map(|m| (*k).min(*m)))
        .sum();
    assert_eq!(r["matched"], expected);
    assert_eq!(r["old"]["package_count"], old.values().sum::<usize>());
    let packages = r["packages"].as_array().unwrap();
    let seeds = r["seeds"].as_array().unwrap();
    let label = |id: &Value| {
        seeds[id.as_u64().unwrap() as usize]["new"]["name"]
            .as_str()
            .or(seeds[id.as_u64().unwrap() as usize]["old"]["name"].as_str())
            .unwrap()
            .to_owned()
    };
    let hello = packages.iter().find(|p| p["name"] == "hello").unwrap();
    assert_eq!(hello["old_version"], "2.10");
    assert_eq!(hello["new_version"], "2.12.2");
    let gained: BTreeSet<String> = hello["gained"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| label(&s["seed"]))
        .collect();
    let lost: BTreeSet<String> = hello["lost"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| label(&s["seed"]))
        .collect();
    assert_eq!(
        gained,
        BTreeSet::from(["stage0-posix-1.6.0.tar.gz".to_owned()])
    );
    assert_eq!(
        lost,
        BTreeSet::from([
            "mes-minimal-stripped-0.19-i686-linux.tar.xz".to_owned(),
            "mescc-tools-static-stripped-0.5.2-i686-linux.tar.xz".to_owned()
        ])
    );
    for s in hello["gained"].as_array().unwrap() {
        assert_eq!(s["path"][0], "hello-2.12.2");
        assert_eq!(
            s["path"]
                .as_array()
                .unwrap()
                .last()
                .unwrap()
                .as_str()
                .unwrap(),
            label(&s["seed"])
        );
    }
    for s in hello["lost"].as_array().unwrap() {
        assert_eq!(s["path"][0], "hello-2.10");
    }
    // Per seed, the packages that gained or lost it are those whose
    // entries say so.
    for s in seeds {
        let id = &s["id"];
        let n = |field: &str| {
            packages
                .iter()
                .filter(|p| {
                    p[field]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|x| &x["seed"] == id)
                })
                .count()
        };
        assert_eq!(
            s["gained"].as_u64().unwrap() as usize,
            n("gained") + swapped(packages, id, "new"),
            "{s}"
        );
        assert_eq!(
            s["lost"].as_u64().unwrap() as usize,
            n("lost") + swapped(packages, id, "old"),
            "{s}"
        );
    }
    let stage0 = seeds
        .iter()
        .find(|s| s["new"]["name"] == "stage0-posix-1.6.0.tar.gz")
        .unwrap();
    assert_eq!(stage0["change"], "added");
    // Every matched package but the bootstrap binaries themselves.
    let resting = packages
        .iter()
        .filter(|p| {
            p["gained"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["seed"] == stage0["id"])
        })
        .count();
    assert_eq!(stage0["gained"].as_u64().unwrap() as usize, resting);
    assert!(
        resting > 350 && resting < r["matched"].as_u64().unwrap() as usize,
        "{stage0}"
    );
    // The text and the HTML.
    let o = abovo(&[
        "audit",
        "--against",
        slice.to_str().unwrap(),
        "--source",
        corpus.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), SUCCESS, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("Binary seeds of the distribution: "), "{out}");
    assert!(out.contains("stage0-posix-1.6.0.tar.gz"), "{out}");
}

/// Package changes that pair a lost seed with a gained one of the same
/// role count as a gain of the new seed (`side` "new") and a loss of the
/// old (`side` "old"), unless the seed itself changed (the same id on
/// both sides).
fn swapped(packages: &[Value], id: &Value, side: &str) -> usize {
    packages
        .iter()
        .map(|p| {
            p["changed"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|s| &s[side]["seed"] == id && s["old"]["seed"] != s["new"]["seed"])
                .count()
        })
        .sum()
}

/// A new revision made here from the 1.2.0 slice: hello gains one more
/// input, a fixed-output download of a platform binary. The guard catches
/// it under hello and nowhere else; the unchanged slice passes.
#[test]
fn a_binary_seed_added_under_one_package_fails_the_guard() {
    let Some(slice) = slice() else { return };
    let mut files = drv_files(&slice.join("drvs.tar.zst"));
    let hello = files
        .keys()
        .find(|k| k.ends_with("-hello-2.10.drv"))
        .unwrap()
        .clone();
    let evil = "0000000000000000000000000000000a-evil-1.0-x86_64-linux.tar.gz.drv";
    let out = "/gnu/store/0000000000000000000000000000000b-evil-1.0-x86_64-linux.tar.gz";
    files.insert(
        evil.to_owned(),
        format!(
            "Derive([(\"out\",\"{out}\",\"sha256\",\"{}\")],[],[],\"x86_64-linux\",\"builtin:download\",[],[(\"out\",\"{out}\"),(\"url\",\"https://example.org/evil-1.0-x86_64-linux.tar.gz\")])",
            "c".repeat(64)
        )
        .into_bytes(),
    );
    let aterm = String::from_utf8(files[&hello].clone()).unwrap();
    // The first "],[" closes the outputs and opens the input derivations.
    let aterm = aterm.replacen("],[", &format!("],[(\"/gnu/store/{evil}\",[\"out\"]),"), 1);
    assert!(aterm.contains(evil));
    files.insert(hello.clone(), aterm.into_bytes());
    let dir = tempfile::tempdir().unwrap();
    let mut tarball = tar::Builder::new(
        zstd::Encoder::new(
            std::fs::File::create(dir.path().join("drvs.tar.zst")).unwrap(),
            3,
        )
        .unwrap()
        .auto_finish(),
    );
    let mut sorted: Vec<_> = files.iter().collect();
    sorted.sort();
    for (name, bytes) in sorted {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o444);
        h.set_cksum();
        tarball.append_data(&mut h, name, bytes.as_slice()).unwrap();
    }
    tarball.into_inner().unwrap();
    std::fs::copy(
        slice.join("packages.tsv.zst"),
        dir.path().join("packages.tsv.zst"),
    )
    .unwrap();
    let new = dir.path().to_str().unwrap();
    let old = slice.to_str().unwrap();
    // `abovo COMMAND… --source SOURCE --against OLD --fail-on FAIL_ON MORE…`.
    let guarded = |command: &[&str], source: &str, fail_on: &str, more: &[&str]| {
        let mut args = command.to_vec();
        args.extend(["--source", source, "--against", old, "--fail-on", fail_on]);
        args.extend(more);
        abovo(&args)
    };

    let o = guarded(&["audit"], new, "new-binary", &["--format", "json"]);
    assert_eq!(code(&o), NEGATIVE, "{}", stderr(&o));
    let r = parse_json(&o);
    let v = r["guard"]["violations"].as_array().unwrap();
    assert_eq!(v.len(), 2, "{v:?}");
    assert!(v[0]["package"].is_null());
    assert_eq!(v[0]["seed"], "evil-1.0-x86_64-linux.tar.gz");
    assert_eq!(v[0]["change"], "added");
    assert_eq!(v[1]["package"], "hello");
    assert_eq!(v[1]["seed"], "evil-1.0-x86_64-linux.tar.gz");
    assert_eq!(v[1]["kind"], "binary");
    assert_eq!(
        v[1]["path"],
        serde_json::json!(["hello-2.10", "evil-1.0-x86_64-linux.tar.gz"])
    );
    assert_eq!(r["packages"].as_array().unwrap().len(), 1);
    assert_eq!(
        r["unchanged_packages"].as_u64().unwrap() + 1,
        r["matched"].as_u64().unwrap()
    );
    let err = stderr(&o);
    assert!(
        err.contains("hello now rests on evil-1.0-x86_64-linux.tar.gz"),
        "{err}"
    );
    // In text.
    let o = guarded(&["audit"], new, "new-binary", &[]);
    assert_eq!(code(&o), NEGATIVE);
    assert!(
        stdout(&o).contains("1 package — + evil-1.0-x86_64-linux.tar.gz"),
        "{}",
        stdout(&o)
    );

    // Per target: hello fails, coreutils passes.
    let o = guarded(&["seeds", "hello"], new, "new-binary", &[]);
    assert_eq!(code(&o), NEGATIVE, "{}", text(&o));
    let o = guarded(&["seeds", "coreutils"], new, "any-change", &[]);
    assert_eq!(code(&o), SUCCESS, "{}", text(&o));

    // Against itself, nothing changed: any-change passes.
    let o = guarded(&["audit"], old, "any-change", &["--format", "json"]);
    assert_eq!(code(&o), SUCCESS, "{}", stderr(&o));
    let r = parse_json(&o);
    assert_eq!(r["guard"]["failed"], false);
    assert!(r["packages"].as_array().unwrap().is_empty());
    assert!(
        r["seeds"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["change"] == "unchanged")
    );
    assert_eq!(r["matched"], r["new"]["package_count"]);
}

/// Any two sources: a snapshot against the corpus folder it was made
/// from, and a tarball of `.drv` files (no package table: names resolve
/// to root derivations) against the snapshot, on a list of packages.
#[test]
fn a_snapshot_against_its_folder_and_a_tarball_are_unchanged() {
    let Some(slice) = slice() else { return };
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("slice.abovo-snapshot");
    let o = abovo(&[
        "snapshot",
        "create",
        "--from",
        slice.to_str().unwrap(),
        "-o",
        snap.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), SUCCESS, "{}", stderr(&o));
    let snap = snap.to_str().unwrap();
    let r = json_of(
        &[
            "audit",
            "--source",
            snap,
            "--against",
            slice.to_str().unwrap(),
            "--fail-on",
            "any-change",
            "--format",
            "json",
        ],
        SUCCESS,
    );
    assert_eq!(r["matched"], r["new"]["package_count"]);
    assert_eq!(r["matched"], r["old"]["package_count"]);
    assert!(
        r["seeds"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["change"] == "unchanged")
    );
    assert!(r["packages"].as_array().unwrap().is_empty());
    let tarball = slice.join("drvs.tar.zst");
    let r = json_of(
        &[
            "audit",
            "--source",
            tarball.to_str().unwrap(),
            "--against",
            snap,
            "--only",
            "hello",
            "--fail-on",
            "any-change",
            "--format",
            "json",
        ],
        SUCCESS,
    );
    assert_eq!(r["matched"], 1);
    assert_eq!(r["unchanged_packages"], 1);
    assert!(
        r["seeds"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["change"] == "unchanged")
    );
}

/// Writes a derivation in `store` (a fixed output when `hash` is given).
fn drv(
    dir: &Path,
    store: &str,
    i: u32,
    name: &str,
    hash: Option<&str>,
    inputs: &[String],
) -> String {
    let base = format!("{}-{name}.drv", cli_trust_support::hash(i));
    let out = format!("{store}/{}-{name}", cli_trust_support::hash(i + 100));
    let (algo, h) = hash.map_or(("", ""), |h| ("sha256", h));
    let ins: Vec<String> = inputs
        .iter()
        .map(|p| format!("(\"{store}/{p}\",[\"out\"])"))
        .collect();
    let text = format!(
        "Derive([(\"out\",\"{out}\",\"{algo}\",\"{h}\")],[{}],[],\"x86_64-linux\",\"{}\",[],[(\"out\",\"{out}\"),(\"url\",\"https://example.org/{name}\")])",
        ins.join(","),
        if hash.is_some() {
            "builtin:download"
        } else {
            "/bin/sh"
        }
    );
    std::fs::write(dir.join(&base), text).unwrap();
    base
}

/// A Nix store against a Guix one: the same download is the same seed
/// whatever the store path; a tarball in another version is changed.
#[test]
fn nix_against_guix_pairs_by_hash_and_role() {
    let make = |store: &str, src: &str, src_hash: &str, tool_offset: u32| {
        let dir = tempfile::tempdir().unwrap();
        let tool = drv(
            dir.path(),
            store,
            1 + tool_offset,
            "tool-1.0-x86_64-linux.tar.gz",
            Some(&"a".repeat(64)),
            &[],
        );
        let src = drv(dir.path(), store, 2, src, Some(src_hash), &[]);
        drv(dir.path(), store, 3, "app-1.0", None, &[tool, src]);
        dir
    };
    let old = make("/gnu/store", "app-1.0.tar.gz", &"b".repeat(64), 0);
    let new = make("/nix/store", "app-2.0.tar.xz", &"d".repeat(64), 7);
    let r = json_of(
        &[
            "seeds",
            "app",
            "--source",
            new.path().to_str().unwrap(),
            "--against",
            old.path().to_str().unwrap(),
            "--fail-on",
            "new-binary",
            "--format",
            "json",
        ],
        SUCCESS,
    );
    let seeds = r["seeds"].as_array().unwrap();
    assert_eq!(seeds.len(), 2, "{seeds:?}");
    let tool = seeds
        .iter()
        .find(|s| s["new"]["name"] == "tool-1.0-x86_64-linux.tar.gz")
        .unwrap();
    assert_eq!(tool["change"], "unchanged");
    assert!(
        tool["new"]["store_path"]
            .as_str()
            .unwrap()
            .starts_with("/nix/store/")
    );
    assert!(
        tool["old"]["store_path"]
            .as_str()
            .unwrap()
            .starts_with("/gnu/store/")
    );
    let src = seeds
        .iter()
        .find(|s| s["new"]["name"] == "app-2.0.tar.xz")
        .unwrap();
    assert_eq!(src["change"], "changed");
    assert_eq!(src["old"]["name"], "app-1.0.tar.gz");
    assert_eq!(r["guard"]["failed"], false);
    // Against a source that does not load: an error naming it.
    let o = abovo(&[
        "seeds",
        "app",
        "--source",
        new.path().to_str().unwrap(),
        "--against",
        "/nonexistent/old",
    ]);
    assert_eq!(code(&o), ERROR);
    assert!(stderr(&o).contains("/nonexistent/old"), "{}", stderr(&o));
    // --fail-on needs --against.
    let o = abovo(&[
        "seeds",
        "app",
        "--source",
        new.path().to_str().unwrap(),
        "--fail-on",
        "new-binary",
    ]);
    assert_eq!(code(&o), ERROR);
}
