//! `abovo seeds` and `abovo audit` on the Guix 1.5.0 graph (issue 4's
//! acceptance): the corpus when ABOVO_GUIX_CORPUS is set, else the
//! snapshot built into the binary. What hello and pandoc rest on, and the
//! audit of every package.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod cli_support;
mod cli_trust_support;

use cli_support::*;
use cli_trust_support::*;
use serde_json::Value;

/// Every seed has a kind, and evidence for it, or is honestly unknown.
fn check_every_seed_is_accounted_for(report: &Value) {
    for s in report["seeds"].as_array().unwrap() {
        let kind = s["kind"].as_str().unwrap();
        let evidence = s["evidence"]["type"].as_str().unwrap();
        assert!(
            [
                "binary",
                "source-with-binaries",
                "generated",
                "source",
                "unknown"
            ]
            .contains(&kind),
            "{s}"
        );
        if kind == "unknown" {
            assert!(evidence == "none" || evidence == "content", "{s}");
        } else {
            assert!(["content", "known", "rule"].contains(&evidence), "{s}");
            if evidence == "rule" {
                assert!(!s["evidence"]["id"].as_str().unwrap().is_empty());
            }
        }
        assert!(!s["path_from_target"].as_array().unwrap().is_empty());
    }
}

#[test]
fn hello_rests_on_the_guix_bootstrap_binaries() {
    let r = json(&on_guix(&["seeds", "hello", "--format", "json"]));
    assert_eq!(r["target_label"], "hello-2.12.2");
    for exe in ["bash", "mkdir", "tar", "xz"] {
        let found = seed(&r, exe);
        assert_eq!(found.len(), 1, "{exe}");
        let s = found[0];
        assert_eq!(s["kind"], "binary", "{exe}");
        assert_eq!(s["evidence"]["type"], "known", "{exe}");
        assert!(
            s["urls"][0].as_str().unwrap().contains("/i686-linux/"),
            "{exe} is the i686 static executable"
        );
        let path = labels(s);
        assert_eq!(path.first().unwrap(), "hello-2.12.2");
        assert_eq!(path.last().unwrap(), exe);
    }
    let guile = seed(&r, "guile-2.0.9.tar.xz");
    assert_eq!(guile.len(), 1);
    assert_eq!(guile[0]["kind"], "binary");
    assert_eq!(labels(guile[0]).first().unwrap(), "hello-2.12.2");
    let stage0 = seed(&r, "stage0-posix-1.6.0.tar.gz");
    assert_eq!(stage0.len(), 1);
    assert_eq!(stage0[0]["kind"], "source-with-binaries");
    assert!(
        stage0[0]["known"]["members"][0]["path"]
            .as_str()
            .unwrap()
            .ends_with("hex0-seed")
    );
    // The size measured from the real tarball (the 357 of Guix's comment
    // was an older seed's), and the kaem seed next to it.
    assert_eq!(stage0[0]["known"]["members"][0]["size"], 256);
    assert_eq!(stage0[0]["known"]["members"][1]["size"], 640);
    assert_eq!(stage0[0]["size"], 1_189_782);
    check_every_seed_is_accounted_for(&r);
    assert_eq!(r["builtins"][0]["builder"], "builtin:download");
    // The text form says the same at a glance.
    let text = on_guix(&["seeds", "hello"]);
    assert_eq!(text.status.code(), Some(SUCCESS));
    let out = stdout(&text);
    assert!(out.contains("binary — "), "{out}");
    assert!(out.contains("hello-2.12.2 → "));
    assert!(!out.contains('\x1b'), "no colours when not on a terminal");
}

#[test]
fn the_audit_of_guix_has_the_bootstrap_core() {
    let r = json(&on_guix(&["audit", "--format", "json", "--top", "20"]));
    assert_eq!(r["package_count"], 30574);
    let core: Vec<&str> = r["core"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    for exe in ["bash", "mkdir", "tar", "xz"] {
        assert!(
            core.contains(&exe),
            "{exe} is under every package: {core:?}"
        );
    }
    let others = r["others"].as_array().unwrap();
    let ghc = others
        .iter()
        .find(|s| s["name"] == "ghc-7.8.4-x86_64-unknown-linux-deb7.tar.xz")
        .unwrap();
    assert!(ghc["packages"].as_u64().unwrap() > 1000);
    // Leaves: the names of the packages on it that no other package on it
    // depends on.
    let leaves: Vec<&str> = ghc["leaves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert!(
        !leaves.is_empty() && (leaves.len() as u64) < ghc["packages"].as_u64().unwrap(),
        "{} leaves",
        leaves.len()
    );
    assert!(leaves.contains(&"agda-categories@0.2.0"), "a leaf on GHC");
    assert!(
        !leaves.contains(&"agda@2.7.0.1"),
        "agda has dependents on GHC"
    );
    assert!(
        !leaves.contains(&"ghc@9.2.8"),
        "GHC 9.2.8 has dependents on GHC"
    );
    assert_eq!(r["largest"].as_array().unwrap().len(), 20);

    // The seed table, and every package's seed ids.
    let table = r["binary_seeds"].as_array().unwrap();
    let labels: Vec<&str> = table.iter().map(|s| s["label"].as_str().unwrap()).collect();
    let mut unique = labels.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), labels.len(), "labels are unique: {labels:?}");
    assert_eq!(
        table.len() as u64,
        r["seeds_by_kind"]["binary"].as_u64().unwrap()
            + r["seeds_by_kind"]["source-with-binaries"].as_u64().unwrap()
    );
    let packages = r["packages"].as_array().unwrap();
    assert_eq!(packages.len(), 30574);
    let hello = packages.iter().find(|p| p["name"] == "hello").unwrap();
    assert_eq!(hello["version"], "2.12.2");
    assert!(
        hello["drv"]
            .as_str()
            .unwrap()
            .ends_with("-hello-2.12.2.drv")
    );
    let hello_seeds: Vec<&str> = hello["seeds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| labels[id.as_u64().unwrap() as usize])
        .collect();
    for want in [
        "bash (i686-linux static bootstrap executable)",
        "guile-2.0.9.tar.xz (x86_64-linux bootstrap Guile)",
        "stage0-posix-1.6.0.tar.gz (full-source bootstrap seeds)",
    ] {
        assert!(hello_seeds.contains(&want), "{want}: {hello_seeds:?}");
    }
    // The same sets as `abovo seeds hello` finds.
    let seeds = json(&on_guix(&["seeds", "hello", "--format", "json"]));
    let mut binary_paths: Vec<&str> = seeds["seeds"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["kind"] == "binary" || s["kind"] == "source-with-binaries")
        .map(|s| s["store_path"].as_str().unwrap())
        .collect();
    binary_paths.sort_unstable();
    let mut from_audit: Vec<&str> = hello["seeds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| {
            table[id.as_u64().unwrap() as usize]["store_path"]
                .as_str()
                .unwrap()
        })
        .collect();
    from_audit.sort_unstable();
    assert_eq!(from_audit, binary_paths);
    // How many packages rest on any of these seeds.
    let resting_on = |ids: &[u64]| {
        packages
            .iter()
            .filter(|p| {
                p["seeds"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|x| ids.contains(&x.as_u64().unwrap()))
            })
            .count()
    };
    // Every count agrees with the package lists.
    for s in r["core"].as_array().unwrap().iter().chain(others) {
        let n = resting_on(&[s["id"].as_u64().unwrap()]);
        assert_eq!(
            s["packages"].as_u64().unwrap() as usize,
            n,
            "{}",
            s["label"]
        );
    }

    // Beyond the core: labels with the architecture, no duplicates.
    let sunxi = &r["largest"][0];
    assert_eq!(sunxi["package"], "sunxi-tools@1.4.2");
    let beyond: Vec<&str> = sunxi["beyond_core"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_str().unwrap())
        .collect();
    assert_eq!(
        beyond.len(),
        sunxi["beyond_core_ids"].as_array().unwrap().len()
    );
    assert!(beyond.contains(&"static-binaries.tar.xz (armhf-linux bootstrap Coreutils & co)"));
    assert!(beyond.contains(&"static-binaries.tar.xz (x86_64-linux bootstrap Coreutils & co)"));
    let mut d = beyond.clone();
    d.dedup();
    assert_eq!(d, beyond);

    // The unknown seeds, all named.
    let unknown = r["unknown"].as_array().unwrap();
    assert_eq!(
        unknown.len() as u64,
        r["seeds_by_kind"]["unknown"].as_u64().unwrap()
    );
    assert!(
        unknown
            .iter()
            .any(|u| u["name"] == "ncurses-6.2-20210619-patch.sh.bz2"),
        "pandoc's unknown seed is named"
    );

    // OCaml's source releases carry its bootstrap bytecode compilers
    // (boot/ocamlc, boot/ocamllex): the knowledge base names the five OCaml
    // seeds of the corpus, and every package built with OCaml rests on one.
    let ocaml: Vec<u64> = table
        .iter()
        .filter(|s| s["name"].as_str().unwrap().starts_with("ocaml-"))
        .map(|s| {
            assert_eq!(s["kind"], "source-with-binaries", "{s}");
            assert_eq!(s["evidence"]["type"], "known", "{s}");
            s["id"].as_u64().unwrap()
        })
        .collect();
    assert_eq!(ocaml.len(), 5);
    assert_eq!(
        resting_on(&ocaml),
        359,
        "packages resting on OCaml's bytecode"
    );
    // Guix deletes 4.07.1's boot compilers (its 4.07 is bootstrapped from
    // source); 357 packages rest on a version whose boot compilers it runs.
    let used: Vec<u64> = table
        .iter()
        .filter(|s| {
            let name = s["name"].as_str().unwrap();
            name.starts_with("ocaml-") && !name.starts_with("ocaml-4.07.1")
        })
        .map(|s| s["id"].as_u64().unwrap())
        .collect();
    assert_eq!(resting_on(&used), 357);
    let ocaml_packages = packages
        .iter()
        .find(|p| p["name"] == "ocaml" && p["version"] == "4.14.1")
        .unwrap();
    assert!(
        ocaml_packages["seeds"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| labels[x.as_u64().unwrap() as usize].starts_with("ocaml-4.14.1.tar.xz")),
        "ocaml@4.14.1 rests on its own source tarball"
    );

    // The text lists the first unknown seeds and says how to see them all.
    let text = stdout(&on_guix(&["audit", "--top", "3"]));
    assert!(text.starts_with("Audit of 30,574 packages\n"), "{text}");
    assert!(
        text.contains(&format!("Unknown seeds ({})", unknown.len())),
        "{text}"
    );
    assert!(text.contains("more (--all lists them all"), "{text}");
    assert!(text.contains("leaves (1,0"), "thousands separators: {text}");
    let all = stdout(&on_guix(&["audit", "--top", "3", "--all"]));
    for u in unknown {
        assert!(all.contains(u["store_path"].as_str().unwrap()), "{u}");
    }
}

#[test]
fn pandoc_also_rests_on_the_ghc_binary_tarball() {
    let r = json(&on_guix(&["seeds", "pandoc", "--format", "json"]));
    let ghc = seed(&r, "ghc-7.8.4-x86_64-unknown-linux-deb7.tar.xz");
    assert_eq!(ghc.len(), 1);
    assert_eq!(ghc[0]["kind"], "binary");
    assert_eq!(labels(ghc[0]).first().unwrap(), "pandoc-2.19.2");
    for exe in ["bash", "mkdir", "tar", "xz", "guile-2.0.9.tar.xz"] {
        assert_eq!(seed(&r, exe)[0]["kind"], "binary", "{exe}");
    }
    check_every_seed_is_accounted_for(&r);
}

#[test]
fn members_of_known_seeds_lead_to_the_seeds_that_carry_them() {
    // `hex0` is no package: it is a member of the stage0-posix tarball, a
    // fixed-output derivation (a node of the derivation graph only).
    let o = on_guix(&["path", "--type", "derivation", "hello", "hex0"]);
    assert_eq!(code(&o), SUCCESS, "{}", text(&o));
    let out = stdout(&o);
    assert!(
        out.trim_end().ends_with("-stage0-posix-1.6.0.tar.gz.drv"),
        "{out}"
    );
    let err = stderr(&o);
    assert!(err.contains("`hex0` is not a package"), "{err}");
    assert!(
        err.contains("stage0-posix-1.6.0/bootstrap-seeds/POSIX/x86/hex0-seed"),
        "{err}"
    );
    // `bootstrap-seeds`: the trust base of that tarball is the tarball.
    let o = on_guix(&["seeds", "bootstrap-seeds", "--format", "json"]);
    let r = json(&o);
    assert!(
        r["target"]
            .as_str()
            .unwrap()
            .ends_with("-stage0-posix-1.6.0.tar.gz.drv")
    );
    assert_eq!(r["seeds"][0]["kind"], "source-with-binaries");
    assert_eq!(r["seeds"][0]["known"]["members"][0]["size"], 256);
    // A member several seeds carry is an ambiguity that names them.
    let o = on_guix(&["seeds", "ocamlc"]);
    assert_eq!(code(&o), ERROR);
    let err = stderr(&o);
    assert!(err.contains("member of 5 seeds"), "{err}");
    assert!(err.contains("ocaml-4.14.1/boot/ocamlc"), "{err}");
    // A name that is nothing at all is still an unknown name.
    let o = on_guix(&["seeds", "hex1-nothing"]);
    assert_eq!(code(&o), ERROR);
    assert!(stderr(&o).contains("unknown package"), "{}", stderr(&o));
}
