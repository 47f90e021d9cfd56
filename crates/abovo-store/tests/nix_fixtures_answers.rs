//! Nix's answers in other projects' derivation test data
//! (`ABOVO_NIX_DRV_FIXTURES`, see `nix_fixtures.rs`): the output fixtures
//! give Nix's kinds and paths, the hash-modulo texts are Nix's, and the
//! invariant and resolution fixtures give Nix's answers (where Nix
//! contradicts itself, the test says where).

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

#[macro_use]
mod nix_fixtures_support;

use abovo_store::StorePath;
use abovo_store::derivation::json::JsonFormat;
use abovo_store::derivation::output::OutputKind;
use abovo_store::derivation::{Deferral, Derivation, DerivationError, ResolveError};
use abovo_store::encoding::base16_encode;
use nix_fixtures_support::{Dir, base, files, read, root, store};
use std::collections::BTreeMap;
use std::path::Path;

#[test]
fn output_json_fixtures_give_nix_s_kinds_and_paths() {
    let Some(root) = root("output_json_fixtures_give_nix_s_kinds_and_paths") else {
        return;
    };
    let store = store();
    let nix = root.join("upstream/nix");
    let dirs = [
        (
            "2.22.0/tests/unit/libstore/data/derivation",
            JsonFormat::Nix2_18,
        ),
        (
            "2.31.0/src/libstore-tests/data/derivation",
            JsonFormat::Nix2_30,
        ),
        (
            "head/src/libstore-tests/data/derivation",
            JsonFormat::Nix2_33,
        ),
    ];
    let fixed_paths = BTreeMap::from([
        (
            "caFixedFlat",
            "rhcg9h16sqvlbpsa6dqm57sbr2al6nzg-drv-name-output-name",
        ),
        (
            "caFixedNAR",
            "c015dhfh5l0lp6wxyvdn7bmwhbbr6hr9-drv-name-output-name",
        ),
        (
            "caFixedText",
            "6s1zwabh956jvhv4w9xcdb5jiyanyxg1-drv-name-output-name",
        ),
    ]);
    let mut n = 0;
    for (dir, format) in dirs {
        for f in files(&nix.join(dir)) {
            let Some(kind) = base(&f)
                .strip_prefix("output-")
                .and_then(|k| k.strip_suffix(".json"))
            else {
                continue;
            };
            let output: serde_json::Value = serde_json::from_slice(&read(&f)).unwrap();
            let mut drv = serde_json::json!({
                "name": "drv-name",
                "outputs": {"output-name": output},
                "system": "x86_64-linux",
                "builder": "/bin/sh",
            });
            if let Some(v) = format.version() {
                drv["version"] = v.into();
                drv["inputs"] = serde_json::json!({"srcs": [], "drvs": {}});
            }
            let read = Derivation::read_json(&store, drv.to_string().as_bytes(), None, None)
                .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            let o = &read.derivation.outputs["output-name"];
            let got = o.kind().unwrap();
            let ok = match kind {
                "inputAddressed" => got == OutputKind::InputAddressed,
                "deferred" => got == OutputKind::Deferred,
                "caFloating" => matches!(got, OutputKind::Floating { .. }),
                "impure" => matches!(got, OutputKind::Impure { .. }),
                k if k.starts_with("caFixed") => {
                    matches!(got, OutputKind::Fixed(_))
                        && o.path.as_ref().unwrap().to_string() == fixed_paths[k]
                }
                other => panic!("unknown output fixture {other}"),
            };
            assert!(ok, "{}: {got:?}", f.display());
            let written = read
                .derivation
                .to_json_as(&store, Some("drv-name"), format)
                .unwrap();
            assert_eq!(written["outputs"]["output-name"], output, "{}", f.display());
            n += 1;
        }
    }
    assert_eq!(n, 21);
    report!(
        "nix fixtures: {n} output JSON fixtures give Nix's kinds and paths, and are written back as they are"
    );
}

#[test]
fn hash_modulo_texts_are_nix_s() {
    let Some(root) = root("hash_modulo_texts_are_nix_s") else {
        return;
    };
    let dir = root.join("upstream/nix/head/src/libstore-tests/data/derivation/hash-modulo");
    let mut named = Dir::load(&root.join("named/hm"));
    let store = named.store.clone();
    let by_stem: BTreeMap<&str, &str> = BTreeMap::from([
        (
            "source-first",
            "q4mzjdlh5px6977h7v5fdsk1p33yg583-source.drv",
        ),
        (
            "source-second",
            "jwmbpldsdgfjhkxk317jn55jilyfl63f-source.drv",
        ),
        (
            "intermediate-first",
            "f8g8x4m83da3b2f79iv84q2r3qlc58lr-intermediate.drv",
        ),
        (
            "intermediate-second",
            "kp6i4n4bb3hlniwqjakhlf046qpdc0gl-intermediate.drv",
        ),
        (
            "parent-split",
            "shafa2ghpwvpm19fdm1isj0mh69w2nhn-parent.drv",
        ),
        (
            "parent-joined",
            "d01ns1h2ap7p8cmng69g0ridch40016p-parent.drv",
        ),
    ]);
    for (stem, path) in &by_stem {
        let drv = Derivation::parse(&store, &read(&dir.join(format!("{stem}.drv")))).unwrap();
        let path = StorePath::from_base_name(path).unwrap();
        assert_eq!(drv, named.drvs[&path], "{stem}");
        let h = named.hash(&path);
        if stem.starts_with("source") {
            assert_eq!(
                base16_encode(&h.unwrap()),
                "42cfa58bf5a281911b6c9471c67cf64f70a820b033415190db3da91710c5ff2c"
            );
            continue;
        }
        if stem.starts_with("intermediate") {
            assert_eq!(
                base16_encode(&h.unwrap()),
                "6df335a6cafec6b08aa38163a4a3d1b8f04bc8dc10de4ad35d677f911f2d3b5a"
            );
        } else {
            // A derivation with deferred outputs has no hash of its own.
            assert_eq!(h, Err(DerivationError::Deferred(Deferral::DeferredOutputs)));
        }
        let ours = drv.modulo_text(&store, true, |q| named.hash(q)).unwrap();
        let nix = String::from_utf8(read(&dir.join(format!("{stem}-modulo.drv")))).unwrap();
        if stem.starts_with("intermediate") {
            assert_eq!(String::from_utf8(ours).unwrap(), nix, "{stem}");
        } else {
            // The parents have no `out` variable: Nix hashes without it,
            // the Guix rule (which Nix's own check uses once the variable
            // is filled in) adds it blank; otherwise the texts are equal,
            // the inputs merged as Nix merges them.
            assert!(nix.ends_with(",[])"), "{nix}");
            let with_var = format!("{},[(\"out\",\"\")])", &nix[..nix.len() - 4]);
            assert_eq!(String::from_utf8(ours).unwrap(), with_var, "{stem}");
            assert!(nix.contains(r#"["dev","out"]"#));
        }
    }
    report!(
        "nix fixtures: hash-modulo texts and hashes of the 6 derivations are Nix's (parents: up to the Guix rule's blank variable)"
    );
}

/// The JSON fixture `name` of the `invariants` folder.
fn invariant(root: &Path, name: &str) -> Derivation {
    let file = root.join(format!(
        "upstream/nix/head/src/libstore-tests/data/derivation/invariants/{name}.json"
    ));
    Derivation::read_json(&store(), &read(&file), None, None)
        .unwrap()
        .derivation
}

fn no_inputs(p: &StorePath) -> Result<[u8; 32], DerivationError> {
    Err(DerivationError::Input {
        path: p.to_string(),
        reason: "unexpected".into(),
    })
}

#[test]
fn invariant_fixtures_give_nix_s_answers() {
    let Some(root) = root("invariant_fixtures_give_nix_s_answers") else {
        return;
    };
    let store = store();
    let check = |d: &Derivation, name: &str| d.check_output_paths(&store, name, no_inputs).unwrap();
    // A correct path stays; a wrong one is refused.
    assert!(
        check(
            &invariant(&root, "filled-in-idempotent"),
            "filled-in-already"
        )
        .is_empty()
    );
    let bad = check(&invariant(&root, "bad-path"), "bad-path");
    assert!(bad.iter().any(|m| m.what == "output \"out\""), "{bad:?}");
    // A deferred output with a blank variable is filled in as Nix does.
    let mut pre = invariant(&root, "filled-in-deferred-empty-env-var-pre");
    pre.fill_output_paths(&store, "filled-in-deferred-empty-env-var", no_inputs)
        .unwrap();
    assert_eq!(
        pre,
        invariant(&root, "filled-in-deferred-empty-env-var-post")
    );
    // A wrong variable of a deferred output is corrected (Nix warns).
    let mut wrong = invariant(&root, "bad-env-var");
    wrong
        .fill_output_paths(&store, "bad-env-var", no_inputs)
        .unwrap();
    assert!(check(&wrong, "bad-env-var").is_empty());
    // Without the variable, Nix hashes the text without it, then adds it:
    // its own check then computes another path and refuses the result.
    // abovo fills in the path that check accepts.
    let name = "filled-in-deferred-no-env-var";
    let nix_post = invariant(&root, &format!("{name}-post"));
    assert_eq!(
        check(&nix_post, name).len(),
        2,
        "Nix's own check refuses it"
    );
    let mut pre = invariant(&root, &format!("{name}-pre"));
    pre.fill_output_paths(&store, name, no_inputs).unwrap();
    assert!(check(&pre, name).is_empty());
    assert_ne!(pre.outputs["out"].path, nix_post.outputs["out"].path);

    // The floating dependency of the next two, as Nix's test makes it.
    let dep_text =
        br#"Derive([("out","","r:sha256","")],[],[],"x86_64-linux","/bin/sh",[],[("out","")])"#;
    let dep = Derivation::parse(&store, dep_text).unwrap();
    let dep_path = dep.drv_path(&store, "dependency", dep_text).unwrap();
    assert_eq!(
        dep_path.to_string(),
        "lg4c4b8r9hlczwprl6kgnzfd9mc1xmkk-dependency.drv"
    );
    let dep_hash = |p: &StorePath| {
        assert_eq!(p, &dep_path);
        dep.hash_modulo(&store, no_inputs)
    };
    // Deferred stays deferred with a floating input; input-addressed is
    // refused ("should be deferred").
    let mut pre = invariant(&root, "depends-on-drv-pre");
    let before = pre.clone();
    pre.fill_output_paths(&store, "depends-on-drv", dep_hash)
        .unwrap();
    assert_eq!(pre, before);
    let bad = invariant(&root, "bad-depends-on-drv-pre");
    let m = bad
        .check_output_paths(&store, "depends-on-drv", dep_hash)
        .unwrap();
    assert_eq!(m.len(), 1);
    assert!(m[0].expected.starts_with("no path (deferred)"), "{m:?}");
    report!(
        "nix fixtures: the 9 invariant fixtures give Nix's answers (one where Nix refuses its own result, as documented)"
    );
}

/// A build trace: `[[{"drvPath", "output"}, path], …]`.
fn build_trace(bytes: &[u8]) -> BTreeMap<(String, String), StorePath> {
    let v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|pair| {
            let key = &pair[0];
            (
                (
                    key["drvPath"].as_str().unwrap().to_owned(),
                    key["output"].as_str().unwrap().to_owned(),
                ),
                StorePath::from_base_name(pair[1].as_str().unwrap()).unwrap(),
            )
        })
        .collect()
}

#[test]
fn resolution_fixtures_resolve_as_nix_does() {
    let Some(root) = root("resolution_fixtures_resolve_as_nix_does") else {
        return;
    };
    let store = store();
    let dir = root.join("upstream/nix/head/src/libstore-tests/data/derivation/try-resolve");
    let json = |name: &str| {
        Derivation::read_json(&store, &read(&dir.join(format!("{name}.json"))), None, None).unwrap()
    };
    for (case, after) in [
        ("no-inputs", "after"),
        ("with-inputs", "after"),
        ("export-ref-subpath", "resolved"),
        ("export-ref-subpath-sa", "resolved"),
    ] {
        let before = json(&format!("{case}-before"));
        let trace = build_trace(&read(&dir.join(format!("{case}-buildTrace.json"))));
        let name = before.name.clone().unwrap();
        let resolved = before
            .derivation
            .resolve(&store, &name, |d, o| {
                trace.get(&(d.to_string(), o.to_owned())).cloned()
            })
            .unwrap();
        assert_eq!(
            resolved,
            json(&format!("{case}-{after}")).derivation,
            "{case}"
        );
    }
    let failing = json("resolution-failure-before");
    let err = failing
        .derivation
        .resolve(&store, "resolution-failure", |_, _| None)
        .unwrap_err();
    assert!(
        matches!(err, ResolveError::Unrealised { ref output, .. } if output == "out"),
        "{err}"
    );
    // The derivation options beside them are no derivations.
    for f in files(&dir)
        .into_iter()
        .filter(|f| base(f).ends_with("-options.json"))
    {
        assert!(Derivation::read_json(&store, &read(&f), None, None).is_err());
    }
    report!(
        "nix fixtures: 4 derivations resolve to Nix's resolved derivations, 1 is refused for its unbuilt input"
    );
}
