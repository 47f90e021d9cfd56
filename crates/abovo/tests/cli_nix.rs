//! Nix's derivations end to end: `show`, `verify`, `derivation add` and
//! `graph` on content-addressed, impure, deferred and dynamic derivations
//! and on Nix's bad ones; `derivation add --dry-run` gives the `.drv` path
//! of Nix's fixtures from each JSON version, and reads back every JSON form
//! `show` writes. Small cases are written here; the fixture-driven ones
//! need `ABOVO_NIX_DRV_FIXTURES` (`.ci/run` sets it) and say when they skip.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod cli_support;

use abovo_store::derivation::Derivation;
use abovo_store::derivation::json::JsonFormat;
use abovo_store::derivation::output::hash_placeholder;
use abovo_store::{StoreDir, StorePath};
use cli_support::*;
use std::path::{Path, PathBuf};

/// Nix's `bad-ca-fixed-path.drv`: a fixed output whose path is not the
/// one its hash gives.
const BAD_CA_FIXED_PATH: &str = r#"Derive([("out","/nix/store/c015dhfh5l0lp6wxyvdn7bmwhbbr6hr9-fixed","sha256","89451791163c896ec31a2adbd33c0681fd5f45b2c0ef0a264c92a03fb97f390f")],[],[],"x86_64-linux","/bin/sh",[],[("out","/nix/store/c015dhfh5l0lp6wxyvdn7bmwhbbr6hr9-fixed")])"#;

/// Nix's `simple-derivation.drv`: no outputs.
const SIMPLE: &str = r#"Derive([],[("/nix/store/c015dhfh5l0lp6wxyvdn7bmwhbbr6hr9-dep2.drv",["cat","dog"])],["/nix/store/c015dhfh5l0lp6wxyvdn7bmwhbbr6hr9-dep1"],"wasm-sel4","foo",["bar","baz"],[("BIG_BAD","WOLF")])"#;

/// Nix's `dyn-dep-derivation.drv`: outputs of outputs.
const DYNAMIC: &str = r#"DrvWithVersion("xp-dyn-drv",[],[("/nix/store/c015dhfh5l0lp6wxyvdn7bmwhbbr6hr9-dep2.drv",(["cat","dog"],[("cat",["kitten"]),("goose",["gosling"])]))],["/nix/store/c015dhfh5l0lp6wxyvdn7bmwhbbr6hr9-dep1"],"wasm-sel4","foo",["bar","baz"],[("BIG_BAD","WOLF")])"#;

fn nix() -> StoreDir {
    StoreDir::new(StoreDir::NIX).unwrap()
}

fn write(dir: &Path, name: &str, text: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_owned()
}

/// Writes `text` under its store base name (`<hash>-<name>.drv`); returns
/// the file.
fn write_named(dir: &Path, name: &str, text: &str) -> (String, StorePath) {
    let store = nix();
    let drv = Derivation::parse(&store, text.as_bytes()).unwrap();
    let path = drv.drv_path(&store, name, text.as_bytes()).unwrap();
    (write(dir, &path.to_string(), text.as_bytes()), path)
}

fn fixtures(test: &str) -> Option<PathBuf> {
    match std::env::var_os("ABOVO_NIX_DRV_FIXTURES") {
        Some(d) if Path::new(&d).is_dir() => Some(PathBuf::from(d)),
        _ => {
            eprintln!("{test}: skipped, ABOVO_NIX_DRV_FIXTURES is not set (.ci/run sets it)");
            None
        }
    }
}

#[test]
fn show_refuses_a_fixed_output_whose_path_is_not_its_hash_s() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "bad-ca-fixed-path.drv",
        BAD_CA_FIXED_PATH.as_bytes(),
    );
    // In every view: how it is built, its `.drv` text, its JSON.
    for format in ["text", "recipe-json", "aterm", "json"] {
        let t = text_of(&["show", &file, "-f", format], ERROR);
        assert!(
            t.contains("its fixed output \"out\" has the path `/nix/store/c015dhfh5l0lp6wxyvdn7bmwhbbr6hr9-fixed`, which does not match its content address"),
            "{format}: {t}"
        );
    }
    // Named by a store path, the file's name is the derivation's.
    let renamed = write(
        dir.path(),
        "0000000000000000000000000000000a-fixed.drv",
        BAD_CA_FIXED_PATH.as_bytes(),
    );
    text_of(&["show", &renamed, "-f", "json"], ERROR);
}

#[test]
fn an_unterminated_string_is_said_to_be_one() {
    let dir = tempfile::tempdir().unwrap();
    // Nix's fuzzing corpus `unterminated-string.drv`.
    let file = write(
        dir.path(),
        "unterminated-string.drv",
        b"Derive([(\"out\",\"/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-foo\n",
    );
    let t = text_of(&["show", &file], ERROR);
    assert!(
        t.contains("unterminated string: the text ends before its closing"),
        "{t}"
    );
    assert!(!t.contains("--store-dir"), "{t}");
}

#[test]
fn verify_calls_a_file_without_a_store_name_unchecked() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "simple.drv", SIMPLE.as_bytes());
    let t = text_of(&["verify", &file], ERROR);
    assert!(
        t.contains("UNCHECKED") && t.contains("is not `<hash>-<name>.drv`"),
        "{t}"
    );
    assert!(!t.contains("MISMATCH"), "{t}");
    let v = parse_json(&abovo(&["verify", &file, "-f", "json"]));
    assert!(v["mismatches"].as_array().unwrap().is_empty());
    assert_eq!(v["unchecked"].as_array().unwrap().len(), 1);
}

#[test]
fn a_derivation_without_outputs_parses_but_no_store_takes_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "simple.drv", SIMPLE.as_bytes());
    let o = abovo(&["show", &file, "-f", "aterm"]);
    assert_eq!(code(&o), SUCCESS, "{}", text(&o));
    assert_eq!(o.stdout, SIMPLE.as_bytes());
    // As Nix's store: "must have at least one output".
    let json = abovo(&["show", &file, "-f", "json"]);
    let json_file = write(dir.path(), "simple.json", &json.stdout);
    let t = text_of(
        &[
            "derivation",
            "add",
            "--dry-run",
            "--store",
            "/nix/store",
            "-n",
            "simple",
            &json_file,
        ],
        ERROR,
    );
    assert!(t.contains("it has no outputs"), "{t}");
}

#[test]
fn dynamic_derivations_show_and_graph_says_what_it_cannot_follow() {
    let dir = tempfile::tempdir().unwrap();
    let (file, path) = write_named(dir.path(), "dyn-dep-derivation", DYNAMIC);
    let in_store = nix().display(&path);
    let o = abovo(&["show", &file, "-f", "aterm"]);
    assert_eq!(o.stdout, DYNAMIC.as_bytes(), "{}", text(&o));
    // The default JSON form cannot hold them: the next one is used.
    let v = json(&abovo(&["show", &file, "-f", "json"]));
    let input = &v["inputDrvs"]["/nix/store/c015dhfh5l0lp6wxyvdn7bmwhbbr6hr9-dep2.drv"];
    assert_eq!(input["dynamicOutputs"]["cat"]["outputs"][0], "kitten");
    let t = text_of(
        &["show", &file, "-f", "json", "--json-format", "nix-2.17"],
        ERROR,
    );
    assert!(t.contains("cannot hold outputs of outputs"), "{t}");
    let o = abovo(&[
        "graph",
        "--source",
        dir.path().to_str().unwrap(),
        &in_store,
        "-f",
        "json",
    ]);
    let v = json(&o);
    let edge = v["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["to"].as_str().unwrap().ends_with("-dep2.drv"))
        .unwrap();
    let outputs: Vec<&str> = edge["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o.as_str().unwrap())
        .collect();
    assert_eq!(outputs, ["cat", "cat^kitten", "dog", "goose^gosling"]);
    assert!(
        stderr(&o).contains("an output of an output (Nix's dynamic derivations"),
        "{}",
        stderr(&o)
    );
    // The trust base built on that graph says so too.
    let o = abovo(&["seeds", "--source", dir.path().to_str().unwrap(), &in_store]);
    assert!(
        stderr(&o)
            .contains("uses `/nix/store/c015dhfh5l0lp6wxyvdn7bmwhbbr6hr9-dep2.drv^cat^kitten`"),
        "{}",
        text(&o)
    );
}

/// A floating content-addressed derivation as Nix writes one, and a
/// dependent whose output is deferred, with its placeholder.
fn floating_pair(dir: &Path) -> (String, String, String) {
    let out = hash_placeholder("out");
    let ca = format!(
        r#"Derive([("out","","r:sha256","")],[],[],"x86_64-linux","/bin/sh",["-c","echo hi > $out"],[("builder","/bin/sh"),("name","ca"),("out","{out}"),("system","x86_64-linux")])"#
    );
    let (ca_file, ca_path) = write_named(dir, "ca", &ca);
    let upstream = abovo_store::derivation::output::downstream_placeholder(&ca_path, "out");
    let top = format!(
        r#"Derive([("out","","","")],[("{}",["out"])],[],"x86_64-linux","/bin/sh",["-c","cat {upstream} > $out"],[("name","top"),("out","")])"#,
        nix().display(&ca_path)
    );
    let (top_file, top_path) = write_named(dir, "top", &top);
    (ca_file, top_file, nix().display(&top_path))
}

#[test]
fn floating_and_deferred_outputs_are_verified_without_inventing_paths() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, top, top_in_store) = floating_pair(dir.path());
    let t = text_of(&["verify", &top], SUCCESS);
    assert!(
        t.contains("0 output paths (0 fixed, 0 input-addressed) and 2 outputs known only after a build (1 floating content-addressed, 1 deferred)"),
        "{t}"
    );
    assert!(!t.contains("MISMATCH"), "{t}");
    let v = parse_json(&abovo(&["verify", &top, "-f", "json"]));
    let unbuilt = v["unbuilt"].as_array().unwrap();
    assert_eq!(unbuilt.len(), 2);
    assert!(
        unbuilt.iter().any(|u| u["kind"] == "deferred"
            && u["reason"]
                .as_str()
                .unwrap()
                .contains("ca.drv`, whose output paths are known only after a build")),
        "{unbuilt:?}"
    );
    // An input-addressed path recorded anyway is refused, as Nix does.
    let wrong = std::fs::read_to_string(&top).unwrap().replacen(
        r#"("out","","","")"#,
        r#"("out","/nix/store/00000000000000000000000000000000-top","","")"#,
        1,
    );
    let (wrong_file, _) = write_named(dir.path(), "top", &wrong);
    let t = text_of(&["verify", &wrong_file], NEGATIVE);
    assert!(t.contains("recomputed: no path (deferred)"), "{t}");
    // `show -f json` gives Nix's floating output, read back by `derivation add`.
    for format in ["nix-2.17", "nix-2.23", "nix-2.33"] {
        let v = json(&abovo(&[
            "show",
            &ca,
            "-f",
            "json",
            "--json-format",
            format,
        ]));
        assert!(v["outputs"]["out"].get("path").is_none(), "{format}");
        let json_file = write(dir.path(), "ca.json", v.to_string().as_bytes());
        let t = text_of(
            &[
                "derivation",
                "add",
                "--dry-run",
                "--store",
                "/nix/store",
                &json_file,
            ],
            SUCCESS,
        );
        assert_eq!(
            t.trim(),
            format!(
                "/nix/store/{}",
                Path::new(&ca).file_name().unwrap().to_str().unwrap()
            )
        );
    }
    // The graph holds no output path for them.
    let v = json(&abovo(&[
        "graph",
        "--source",
        dir.path().to_str().unwrap(),
        &top_in_store,
        "-f",
        "json",
    ]));
    assert_eq!(v["node_count"], 2);
}

#[test]
fn impure_derivations_load_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let text = r#"Derive([("out","","r:sha256","impure")],[],[],"x86_64-linux","/bin/sh",[],[("out","/1rz4g4znpzjwh1xymhjpm42vipw92pr73vdgl6xs1hycac8kf2n9")])"#;
    let (file, path) = write_named(dir.path(), "impure", text);
    // Nothing in the text names a store: say which.
    let t = text_of(&["verify", "--store-dir", "/nix/store", &file], SUCCESS);
    assert!(t.contains("(1 impure)"), "{t}");
    let in_store = nix().display(&path);
    let v = json(&abovo(&[
        "graph",
        "--store-dir",
        "/nix/store",
        "--source",
        dir.path().to_str().unwrap(),
        &in_store,
        "-f",
        "json",
    ]));
    assert_eq!(v["nodes"][0]["fixed_output"], false);
}

/// `graph` says which outputs are known only after a build, `seeds` makes
/// an impure derivation a seed that says why, and a snapshot keeps both.
#[test]
fn graph_and_seeds_name_outputs_known_only_after_a_build() {
    let dir = tempfile::tempdir().unwrap();
    let out = hash_placeholder("out");
    let ca = format!(
        r#"Derive([("out","","r:sha256","")],[],[],"x86_64-linux","/bin/sh",["-c","echo hi > $out"],[("name","ca"),("out","{out}")])"#
    );
    let (ca_file, ca_path) = write_named(dir.path(), "ca", &ca);
    let impure = format!(
        r#"Derive([("out","","r:sha256","impure")],[],[],"x86_64-linux","/bin/sh",["-c","curl > $out"],[("name","prices"),("out","{out}")])"#
    );
    let (impure_file, impure_path) = write_named(dir.path(), "prices", &impure);
    let mut inputs = [nix().display(&ca_path), nix().display(&impure_path)];
    inputs.sort();
    let top = format!(
        r#"Derive([("out","","","")],[("{}",["out"]),("{}",["out"])],[],"x86_64-linux","/bin/sh",[],[("name","top"),("out","")])"#,
        inputs[0], inputs[1]
    );
    let (top_file, top_path) = write_named(dir.path(), "top", &top);
    let target = nix().display(&top_path);
    // How each is built says so, in text and JSON.
    for (file, kind, says) in [
        (
            &ca_file,
            "floating",
            "(floating content-addressed: known after the build)",
        ),
        (
            &impure_file,
            "impure",
            "(impure: known after the build, pinned by no hash)",
        ),
        (
            &top_file,
            "deferred",
            "(deferred: known once its inputs are built)",
        ),
    ] {
        let t = text_of(&["show", "--store-dir", "/nix/store", file], SUCCESS);
        assert!(t.contains(says), "{t}");
        assert!(!t.contains("fixed:"), "{t}");
        let v = json(&abovo(&[
            "show",
            "-f",
            "recipe-json",
            "--store-dir",
            "/nix/store",
            file,
        ]));
        assert_eq!(v["outputs"][0]["after_build"], kind, "{v}");
    }
    let snapshot = dir.path().join("g.snap");
    text_of(
        &[
            "snapshot",
            "create",
            "--from",
            dir.path().to_str().unwrap(),
            "--output",
            snapshot.to_str().unwrap(),
        ],
        SUCCESS,
    );
    for source in [dir.path(), snapshot.as_path()] {
        let source = source.to_str().unwrap();
        let v = json(&abovo(&[
            "graph", "--source", source, &target, "-f", "json",
        ]));
        let kinds: Vec<(&str, &str)> = v["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| {
                (
                    n["name"].as_str().unwrap(),
                    n["output_kind"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            kinds.len(),
            3,
            "{source}: every node has an output kind: {v}"
        );
        for want in [
            ("ca", "floating"),
            ("prices", "impure"),
            ("top", "deferred"),
        ] {
            assert!(kinds.contains(&want), "{source}: {kinds:?}");
        }
        let v = json(&abovo(&[
            "seeds", "--source", source, &target, "-f", "json",
        ]));
        let seeds = v["seeds"].as_array().unwrap();
        assert_eq!(seeds.len(), 1, "{source}: {v}");
        assert_eq!(seeds[0]["origin"], "impure");
        assert_eq!(seeds[0]["kind"], "unknown");
        assert_eq!(seeds[0]["store_path"], nix().display(&impure_path));
        let t = text_of(&["seeds", "--source", source, &target], SUCCESS);
        assert!(
            t.contains("abovo does not support it in a trust base"),
            "{source}: {t}"
        );
        // Nothing can be fetched in its place, and `fetch` says so.
        let o = abovo(&["fetch", "--source", source, &target, "--offline"]);
        assert!(
            stderr(&o).contains("rests on 1 impure derivation (the first: ")
                && stderr(&o).contains("prices.drv): an impure derivation fetches what it likes"),
            "{source}: {}",
            text(&o)
        );
        // Against itself, every seed is unchanged, the impure one paired by
        // its `.drv` path (it has no hash).
        let v = json(&abovo(&[
            "seeds",
            "--source",
            source,
            &target,
            "--against",
            source,
            "--fail-on",
            "any-change",
            "-f",
            "json",
        ]));
        let seeds = v["seeds"].as_array().unwrap();
        assert_eq!(seeds.len(), 1, "{source}: {v}");
        assert_eq!(seeds[0]["change"], "unchanged", "{source}: {v}");
        assert_eq!(v["guard"]["failed"], false, "{source}: {v}");
        // No package-level data: `show NAME` shows the derivation, saying
        // so; a package graph is refused by name.
        let o = abovo(&["show", "--source", source, "top"]);
        assert_eq!(code(&o), SUCCESS, "{source}: {}", stderr(&o));
        assert!(stderr(&o).contains("no package table"), "{}", stderr(&o));
        assert!(text(&o).contains("(deferred: known once its inputs are built)"));
        let o = abovo(&["graph", "--source", source, &target, "--type", "package"]);
        assert_eq!(code(&o), ERROR, "{source}: {}", text(&o));
        assert!(stderr(&o).contains("no `package` graph"), "{}", stderr(&o));
        // No output has a path to ask a substitute server about: refused
        // before any request, by name.
        for closure in [false, true] {
            let mut args = vec!["challenge", "--source", source, &target];
            args.extend(["--substitute-urls", "http://127.0.0.1:9"]);
            if closure {
                args.push("--closure");
            }
            let o = abovo(&args);
            assert_eq!(code(&o), ERROR, "{source}: {}", text(&o));
            let outputs = if closure { "3 outputs" } else { "1 output" };
            assert!(
                stderr(&o).contains(&format!(
                    "{outputs} whose paths are known only after a build"
                )),
                "{}",
                stderr(&o)
            );
        }
    }
}

/// A fixed output hashed as `text` (Nix's experimental dynamic
/// derivations): `show` and `verify` check its path; `graph`, `seeds` and
/// `derivation add`, which do not support it, say so by name.
#[test]
fn a_text_hashed_fixed_output_is_checked_or_refused_by_name() {
    use abovo_store::derivation::ContentAddress;
    let dir = tempfile::tempdir().unwrap();
    let hex = abovo_store::hash::Hash::sha256(abovo_store::hash::sha256(b"hello")).to_base16();
    let out = ContentAddress::from_fields("text:sha256", &hex)
        .unwrap()
        .path(&nix(), "greeting")
        .unwrap();
    let out = nix().display(&out);
    let text = format!(
        r#"Derive([("out","{out}","text:sha256","{hex}")],[],[],"x86_64-linux","/bin/sh",[],[("out","{out}")])"#
    );
    let (file, path) = write_named(dir.path(), "greeting", &text);
    let t = text_of(&["verify", &file], SUCCESS);
    assert!(
        t.contains("1 output path (1 fixed, 0 input-addressed)"),
        "{t}"
    );
    let v = json(&abovo(&["show", &file, "-f", "json"]));
    assert_eq!(v["outputs"]["out"]["hashAlgo"], "text:sha256");
    // Recorded elsewhere, it is a mismatch.
    let wrong = text.replace(&out, "/nix/store/00000000000000000000000000000000-greeting");
    let (wrong_file, _) = write_named(dir.path(), "greeting", &wrong);
    text_of(&["verify", &wrong_file], NEGATIVE);
    std::fs::remove_file(&wrong_file).unwrap();
    let target = nix().display(&path);
    for command in ["graph", "seeds"] {
        let t = text_of(
            &[command, "--source", dir.path().to_str().unwrap(), &target],
            ERROR,
        );
        assert!(
            t.contains("its fixed output is content-addressed by `text`, which abovo does not support in a graph"),
            "{command}: {t}"
        );
    }
    let json_file = write(
        dir.path(),
        "greeting.json",
        abovo(&["show", &file, "-f", "json"]).stdout.as_slice(),
    );
    let t = text_of(
        &[
            "derivation",
            "add",
            "--dry-run",
            "--store",
            "/nix/store",
            &json_file,
        ],
        ERROR,
    );
    assert!(
        t.contains(
            "content-addressed by `text` (hashAlgo `text:sha256`), which abovo does not support"
        ),
        "{t}"
    );
}

/// Copies the `.drv` files of `from` into `to`.
fn copy_drvs(from: &Path, to: &Path) {
    for f in std::fs::read_dir(from).unwrap() {
        let f = f.unwrap().path();
        let name = f.file_name().unwrap().to_str().unwrap().to_owned();
        if name.ends_with(".drv") {
            std::fs::copy(&f, to.join(name)).unwrap();
        }
    }
}

/// `derivation add --dry-run` of `json` beside copies of `inputs`: the
/// `.drv` path printed.
fn dry_run(dir: &Path, json: &Path, name: Option<&str>) -> String {
    let file = dir.join("x.json");
    std::fs::copy(json, &file).unwrap();
    let mut args = vec!["derivation", "add", "--dry-run", "--store", "/nix/store"];
    if let Some(n) = name {
        args.extend(["--name", n]);
    }
    let f = file.to_str().unwrap().to_owned();
    args.push(&f);
    text_of(&args, SUCCESS).trim().to_owned()
}

#[test]
fn derivation_add_gives_the_fixtures_drv_paths_from_every_json_version() {
    let Some(root) =
        fixtures("derivation_add_gives_the_fixtures_drv_paths_from_every_json_version")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // The inputs of the advanced-attributes fixtures.
    for sub in ["ca-head", "ia-head"] {
        for f in std::fs::read_dir(root.join("named").join(sub)).unwrap() {
            let f = f.unwrap().path();
            let name = f.file_name().unwrap().to_str().unwrap().to_owned();
            if name.ends_with("-foo.drv") || name.ends_with("-bar.drv") {
                std::fs::copy(&f, dir.path().join(name)).unwrap();
            }
        }
    }
    let mut n = 0;
    for (version, named) in [("2.31.0", "2.31.0"), ("head", "head")] {
        for kind in ["ca", "ia"] {
            let data = root.join(format!(
                "upstream/nix/{version}/src/libstore-tests/data/derivation/{kind}"
            ));
            let expected: Vec<String> =
                std::fs::read_dir(root.join(format!("named/{kind}-{named}")))
                    .unwrap()
                    .map(|e| e.unwrap().file_name().to_str().unwrap().to_owned())
                    .collect();
            for stem in [
                "advanced-attributes",
                "advanced-attributes-defaults",
                "advanced-attributes-structured-attrs",
                "advanced-attributes-structured-attrs-defaults",
            ] {
                let got = dry_run(dir.path(), &data.join(format!("{stem}.json")), None);
                let want = expected
                    .iter()
                    .find(|e| e.ends_with(&format!("-{stem}.drv")))
                    .unwrap();
                assert_eq!(got, format!("/nix/store/{want}"), "{version} {kind} {stem}");
                n += 1;
            }
        }
    }
    // tvix's JSON (no name: the environment says it), non-UTF-8 included;
    // its `.drv` files beside it, as inputs.
    let ok = root.join("upstream/tvix/nix-compat/src/derivation/tests/derivation_tests/ok");
    copy_drvs(&ok, dir.path());
    for f in std::fs::read_dir(&ok).unwrap() {
        let f = f.unwrap().path();
        let name = f.file_name().unwrap().to_str().unwrap().to_owned();
        if let Some(drv) = name.strip_suffix(".json") {
            assert_eq!(
                dry_run(dir.path(), &f, None),
                format!("/nix/store/{drv}"),
                "{name}"
            );
            n += 1;
        }
    }
    // Nix's hash-modulo sources (format 4) and 2.22's text-hashed outputs.
    let hm = root.join("upstream/nix/head/src/libstore-tests/data/derivation/hash-modulo");
    assert_eq!(
        dry_run(dir.path(), &hm.join("source-first.json"), None),
        "/nix/store/q4mzjdlh5px6977h7v5fdsk1p33yg583-source.drv"
    );
    eprintln!(
        "derivation add --dry-run: {} fixtures from Nix 2.31, Nix's format 4 and tvix give their .drv paths",
        n + 1
    );
}

#[test]
fn every_json_form_show_writes_is_read_back_by_derivation_add() {
    let Some(root) = fixtures("every_json_form_show_writes_is_read_back_by_derivation_add") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let ok = root.join("upstream/tvix/nix-compat/src/derivation/tests/derivation_tests/ok");
    copy_drvs(&ok, dir.path());
    let mut n = 0;
    for f in std::fs::read_dir(&ok).unwrap() {
        let f = f.unwrap().path();
        let name = f.file_name().unwrap().to_str().unwrap().to_owned();
        if !name.ends_with(".drv") {
            continue;
        }
        for format in JsonFormat::ALL {
            let o = abovo(&[
                "show",
                f.to_str().unwrap(),
                "-f",
                "json",
                "--json-format",
                format.name(),
            ]);
            assert_eq!(code(&o), SUCCESS, "{name} {format}: {}", text(&o));
            let json = dir.path().join("shown.json");
            std::fs::write(&json, &o.stdout).unwrap();
            let t = text_of(
                &[
                    "derivation",
                    "add",
                    "--dry-run",
                    "--store",
                    "/nix/store",
                    "--json-format",
                    format.name(),
                    json.to_str().unwrap(),
                ],
                SUCCESS,
            );
            assert_eq!(t.trim(), format!("/nix/store/{name}"), "{name} {format}");
            n += 1;
        }
    }
    assert_eq!(n, 70);
}

#[test]
fn derivation_add_says_which_name_and_format_it_needs() {
    let dir = tempfile::tempdir().unwrap();
    let nameless = write(
        dir.path(),
        "x.json",
        br#"{"outputs":{"out":{}},"system":"x86_64-linux","builder":"/bin/sh"}"#,
    );
    let t = text_of(
        &[
            "derivation",
            "add",
            "--dry-run",
            "--store",
            "/nix/store",
            &nameless,
        ],
        ERROR,
    );
    assert!(t.contains("does not say the derivation's name"), "{t}");
    text_of(
        &[
            "derivation",
            "add",
            "--dry-run",
            "--store",
            "/nix/store",
            "-n",
            "x",
            &nameless,
        ],
        SUCCESS,
    );
    let named = write(
        dir.path(),
        "y.json",
        br#"{"name":"y","outputs":{"out":{}},"system":"x86_64-linux","builder":"/bin/sh"}"#,
    );
    let t = text_of(
        &[
            "derivation",
            "add",
            "--dry-run",
            "--store",
            "/nix/store",
            "-n",
            "z",
            &named,
        ],
        ERROR,
    );
    assert!(
        t.contains("names the derivation `y`, but --name says `z`"),
        "{t}"
    );
    let t = text_of(
        &[
            "derivation",
            "add",
            "--dry-run",
            "--store",
            "/nix/store",
            "--json-format",
            "nix-2.33",
            &named,
        ],
        ERROR,
    );
    assert!(t.contains("not nix-2.33 (it has no `version`)"), "{t}");
    let t = text_of(&["show", &named, "--json-format", "nix-9"], ERROR);
    assert!(t.contains("unknown JSON format `nix-9`"), "{t}");
}
