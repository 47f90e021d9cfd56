//! Nix's content-addressed derivations built in the sandbox: a floating
//! output lands at the path its content gives (Nix's rules, checked here
//! by reconstructing that path from the registered bytes, and against
//! `abovo add -r` of the same content), with its self-references
//! rewritten; a derivation that uses it through its placeholder is
//! resolved and built; what abovo does not build is refused by name.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod cli_build_support;

use abovo_store::derivation::output::{downstream_placeholder, hash_placeholder};
use abovo_store::hash::{HashAlgo, sha256};
use abovo_store::{StoreDir, StorePath};
use cli_build_support::TestStore;
use serde_json::json;
use std::path::Path;

fn base(path: &str) -> StorePath {
    StorePath::from_base_name(path.rsplit('/').next().unwrap()).unwrap()
}

/// A floating content-addressed derivation: busybox `sh -c SCRIPT`, its
/// `out` variable the placeholder of its own output, as Nix writes one.
fn floating(t: &TestStore, name: &str, script: &str) -> serde_json::Value {
    json!({
        "name": name,
        "outputs": {"out": {"hashAlgo": "sha256", "method": "nar"}},
        "inputSrcs": [t.busybox],
        "system": "x86_64-linux",
        "builder": t.bb(),
        "args": ["sh", "-c", script],
        "env": {"bb": t.bb(), "out": hash_placeholder("out")},
    })
}

/// The path Nix's rules give a NAR-hashed floating output named `name`
/// whose registered bytes are the tree at `real` (registered at `path`),
/// reconstructed from those bytes: every occurrence of its own hash part
/// is zeroed, the offsets appended as `|<n>`, SHA-256; a `source` path,
/// `:self` when it refers to itself.
fn nix_path(store: &StoreDir, real: &Path, path: &StorePath, name: &str) -> StorePath {
    let mut nar = Vec::new();
    abovo_store::nar::dump_path(real, &mut nar).unwrap();
    let hash_part = path.hash_part().as_bytes();
    let mut zeroed = Vec::new();
    let mut offsets = Vec::new();
    let mut i = 0;
    while i < nar.len() {
        if nar[i..].starts_with(hash_part) {
            offsets.push(i);
            zeroed.extend_from_slice(&[0; 32]);
            i += 32;
        } else {
            zeroed.push(nar[i]);
            i += 1;
        }
    }
    for o in &offsets {
        zeroed.extend_from_slice(format!("|{o}").as_bytes());
    }
    let digest = sha256(&zeroed);
    let path_type = if offsets.is_empty() {
        "source"
    } else {
        "source:self"
    };
    store.make_store_path(path_type, &digest, name).unwrap()
}

#[test]
fn a_floating_output_lands_where_its_content_says() {
    let mut t = TestStore::new();
    if t.add_busybox("a_floating_output_lands_where_its_content_says")
        .is_none()
    {
        return;
    }
    let store = StoreDir::new(t.store.to_str().unwrap()).unwrap();
    let script = "$bb mkdir $out && echo hello > $out/greeting && echo $out > $out/self && $bb ln -s $out/greeting $out/link";
    let drv = t.add_drv(&floating(&t, "ca-hello", script));
    let built = t.ok(&["build", &drv]);
    let out = built.trim().to_owned();
    let out_path = store.parse(&out).unwrap();
    assert_eq!(out_path.name(), "ca-hello");
    // Its self-references name its final path, not the scratch path.
    assert_eq!(
        std::fs::read_to_string(format!("{out}/self"))
            .unwrap()
            .trim(),
        out
    );
    assert_eq!(
        std::fs::read_link(format!("{out}/link"))
            .unwrap()
            .to_str()
            .unwrap(),
        format!("{out}/greeting")
    );
    assert_eq!(
        nix_path(&store, Path::new(&out), &out_path, "ca-hello"),
        out_path
    );
    let info = t.info(&out);
    assert_eq!(info["references"], json!([out]));
    let nar = abovo_store::nar::hash_path(Path::new(&out)).unwrap();
    assert_eq!(info["nar_hash"], nar.hash.to_nix32_string());
    // Built again: nothing to do, it is where it was registered.
    let again = t.run(&["build", "-f", "json", &drv]);
    let v: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(v["results"], json!([]), "{v}");
    assert_eq!(v["targets"][0]["outputs"]["out"], out);
    // `verify` of the `.drv` and the store agree.
    let drv_file = format!("{}/{}", t.store.display(), base(&drv));
    let out = t.run(&[
        "verify",
        "--store-dir",
        t.store.to_str().unwrap(),
        &drv_file,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(t.verify_consistent());
    // --check is not supported for it, and says so.
    let out = t.run(&["build", "--check", &drv]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "abovo does not support --check and --repair of content-addressed derivations"
        ),
        "{err}"
    );
}

#[test]
fn without_references_it_is_what_add_recursive_gives() {
    let mut t = TestStore::new();
    if t.add_busybox("without_references_it_is_what_add_recursive_gives")
        .is_none()
    {
        return;
    }
    let drv = t.add_drv(&floating(
        &t,
        "plain",
        "$bb mkdir $out && echo same > $out/file",
    ));
    let out = t.ok(&["build", &drv]).trim().to_owned();
    // The same tree added as a source: Nix's rule gives the same path.
    let copy = t.dir.path().join("copy");
    std::fs::create_dir(&copy).unwrap();
    std::fs::write(copy.join("file"), "same\n").unwrap();
    let added = t.ok(&["add", "-r", "--name", "plain", copy.to_str().unwrap()]);
    assert_eq!(added.trim(), out);
    // A flat floating output is the fixed path of its bytes' hash.
    let mut flat = floating(&t, "flat", "echo flat > $out");
    flat["outputs"]["out"] = json!({"hashAlgo": "sha256", "method": "flat"});
    let drv = t.add_drv(&flat);
    let out = t.ok(&["build", &drv]).trim().to_owned();
    let want = StoreDir::new(t.store.to_str().unwrap())
        .unwrap()
        .make_fixed_output_path("flat", false, &HashAlgo::Sha256.digest(b"flat\n"))
        .unwrap();
    assert_eq!(out, format!("{}/{want}", t.store.display()));
}

#[test]
fn a_dependent_is_resolved_and_built() {
    let mut t = TestStore::new();
    if t.add_busybox("a_dependent_is_resolved_and_built").is_none() {
        return;
    }
    let ca = t.add_drv(&floating(
        &t,
        "lib",
        "$bb mkdir $out && echo 42 > $out/answer",
    ));
    let placeholder = downstream_placeholder(&base(&ca), "out");
    // An input-addressed user of it: its output is deferred, and the
    // placeholder stands for the input's output.
    let user = json!({
        "name": "user",
        "outputs": {"out": {}},
        "inputDrvs": {ca.clone(): ["out"]},
        "inputSrcs": [t.busybox],
        "system": "x86_64-linux",
        "builder": t.bb(),
        "args": ["sh", "-c", "$bb cat $lib/answer > $out"],
        "env": {"bb": t.bb(), "lib": placeholder, "out": ""},
    });
    let drv = t.add_drv(&user);
    let shown = t.ok(&[
        "show",
        "-f",
        "json",
        "--store-dir",
        t.store.to_str().unwrap(),
        &drv,
    ]);
    let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown["outputs"]["out"], json!({}), "deferred: {shown}");
    let out = t.ok(&["build", &drv]).trim().to_owned();
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "42\n");
    let lib = t.ok(&["build", &ca]).trim().to_owned();
    assert_eq!(t.info(&out)["references"], json!([]));
    assert!(lib.ends_with("-lib"));
    assert!(t.verify_consistent());
}

#[test]
fn impure_derivations_are_refused_by_name() {
    let mut t = TestStore::new();
    if t.add_busybox("impure_derivations_are_refused_by_name")
        .is_none()
    {
        return;
    }
    let mut j = floating(&t, "impure", "echo x > $out");
    j["outputs"]["out"] = json!({"hashAlgo": "sha256", "method": "nar", "impure": true});
    let drv = t.add_drv(&j);
    let out = t.run(&["build", &drv]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("abovo does not support impure derivations"),
        "{err}"
    );
}
