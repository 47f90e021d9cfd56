//! The audit and the trust report on small hand-made graphs whose answers
//! are known, checked through their JSON form.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use abovo_graph::build::{DrvRecord, build_graph};
use abovo_graph::query::Walk;
use abovo_graph::{Graph, Package, PackageTable};
use abovo_store::derivation::FixedOutput;
use abovo_store::{Hash, HashAlgo, StoreDir, StorePath};
use abovo_trust::audit::{audit, table_packages};
use abovo_trust::classify::{SeedFacts, Seeds};
use abovo_trust::knowledge::KnowledgeBase;
use abovo_trust::report::trust_report;
use serde_json::Value;

fn sp(i: u32, name: &str) -> StorePath {
    // 32 nix32 characters that differ per node and sort by `i`.
    let hash = format!("{:0>32}", format!("{i}").replace('0', "a"));
    let hash: String = hash
        .chars()
        .map(|c| {
            if c == 'e' || c == 'o' || c == 'u' || c == 't' {
                'a'
            } else {
                c
            }
        })
        .collect();
    StorePath::from_base_name(&format!("{hash}-{name}")).unwrap()
}

struct Builder {
    records: Vec<DrvRecord>,
    next: u32,
}

impl Builder {
    fn drv(&mut self, name: &str, inputs: &[&StorePath], sources: &[&StorePath]) -> StorePath {
        self.next += 1;
        let path = sp(self.next, &format!("{name}.drv"));
        self.records.push(DrvRecord {
            path: path.clone(),
            system: "x86_64-linux".into(),
            builder: "/gnu/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-bash/bin/bash".into(),
            outputs: vec![("out".into(), Some(sp(self.next + 500, name)))],
            fixed: None,
            kind: abovo_store::derivation::DerivationKind::InputAddressed,
            env: vec![],
            inputs: inputs
                .iter()
                .map(|p| ((*p).clone(), vec!["out".into()]))
                .collect(),
            sources: sources.iter().map(|p| (*p).clone()).collect(),
        });
        path
    }

    fn fod(&mut self, name: &str, url: &str, builder: &str, inputs: &[&StorePath]) -> StorePath {
        self.next += 1;
        let digest = HashAlgo::Sha256.digest(format!("{name}{url}").as_bytes());
        let path = sp(self.next, &format!("{name}.drv"));
        self.records.push(DrvRecord {
            path: path.clone(),
            system: "x86_64-linux".into(),
            builder: builder.into(),
            outputs: vec![("out".into(), Some(sp(self.next + 500, name)))],
            fixed: Some(FixedOutput {
                recursive: false,
                hash: digest,
            }),
            kind: abovo_store::derivation::DerivationKind::Fixed,
            env: vec![("url".into(), format!("\"{url}\""))],
            inputs: inputs
                .iter()
                .map(|p| ((*p).clone(), vec!["out".into()]))
                .collect(),
            sources: vec![],
        });
        path
    }
}

/// The graph:
///
/// ```text
/// A → libc → boot → bash (FOD, guix/bootstrap URL: binary)
///        └→ lib-1.0.tar.gz (FOD, mirror://gnu: source)
/// B → libc, tool-1.0-x86_64-linux.tar.gz (FOD: binary by platform name)
/// C → B
/// D → boot
/// E → boot, data-1.0.tar.gz (FOD built by a fetcher that uses sdk-2.0-linux64.tgz)
/// F → boot, another tool-1.0-x86_64-linux.tar.gz (same name, other hash),
///     mystery-blob (FOD: nothing classifies it)
/// ```
fn graph() -> Graph {
    let mut b = Builder {
        records: vec![],
        next: 0,
    };
    let bash = b.fod(
        "bash",
        "https://ftpmirror.gnu.org/guix/bootstrap/i686-linux/bash",
        "builtin:download",
        &[],
    );
    let script = sp(400, "boot-builder");
    let boot = b.drv("boot-0", &[&bash], &[&script]);
    let lib = b.fod(
        "lib-1.0.tar.gz",
        "mirror://gnu/lib/lib-1.0.tar.gz",
        "builtin:download",
        &[],
    );
    let libc = b.drv("libc-1.0", &[&boot, &lib], &[]);
    let a = b.drv("a-1.0", &[&libc], &[]);
    let tool = b.fod(
        "tool-1.0-x86_64-linux.tar.gz",
        "https://example.org/tool-1.0-x86_64-linux.tar.gz",
        "builtin:download",
        &[],
    );
    let bb = b.drv("b-1.0", &[&libc, &tool], &[]);
    let c = b.drv("c-1.0", &[&bb], &[]);
    let d = b.drv("d-1.0", &[&boot], &[]);
    let sdk = b.fod(
        "sdk-2.0-linux64.tgz",
        "https://example.org/sdk-2.0-linux64.tgz",
        "builtin:download",
        &[],
    );
    let fetcher = b.drv("fetcher-1.0", &[&sdk, &boot], &[]);
    let data = b.fod(
        "data-1.0.tar.gz",
        "https://example.org/data-1.0.tar.gz",
        "/gnu/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-guile/bin/guile",
        &[&fetcher],
    );
    let e = b.drv("e-1.0", &[&boot, &data], &[]);
    let tool2 = b.fod(
        "tool-1.0-x86_64-linux.tar.gz",
        "https://example.org/v2/tool-1.0-x86_64-linux.tar.gz",
        "builtin:download",
        &[],
    );
    let mystery = b.fod(
        "mystery-blob",
        "https://example.org/mystery-blob",
        "builtin:download",
        &[],
    );
    let f = b.drv("f-1.0", &[&boot, &tool2, &mystery], &[]);
    let mut g = build_graph(StoreDir::default(), b.records).unwrap();
    let row = |name: &str, p: &StorePath| Package {
        name: name.into(),
        version: "1.0".into(),
        derivation: p.clone(),
        module: "test.scm".into(),
    };
    g.set_packages(PackageTable::new(vec![
        row("a", &a),
        row("b", &bb),
        row("c", &c),
        row("d", &d),
        row("e", &e),
        row("f", &f),
    ]));
    g.set_description("hand-made");
    g
}

fn seeds() -> Seeds {
    let mut s = Seeds::new(KnowledgeBase::built_in().unwrap());
    s.use_store = false;
    s
}

fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn audit_stopping_at_fixed_outputs() {
    let g = graph();
    let packages = table_packages(&g);
    assert_eq!(packages.len(), 6);
    let r = audit(&g, &packages, &seeds(), &Walk::trust(false), 10).unwrap();
    let j = serde_json::to_value(&r).unwrap();
    assert_eq!(j["package_count"], 6);
    assert_eq!(j["graph"], "hand-made");
    // bash is under every package; nothing else is.
    assert_eq!(names(&j["core"]), ["bash"]);
    assert_eq!(j["core"][0]["kind"], "binary");
    assert_eq!(j["core"][0]["evidence"]["type"], "rule");
    assert_eq!(j["core"][0]["evidence"]["id"], "guix-bootstrap-directory");
    assert_eq!(j["core"][0]["packages"], 6);
    // The tool is under b and c; c depends on b, so c is the only leaf.
    // F's tool has the same file name: both get the store hash in their
    // labels, so that no two binary seeds read the same.
    assert_eq!(
        names(&j["others"]),
        [
            "tool-1.0-x86_64-linux.tar.gz",
            "tool-1.0-x86_64-linux.tar.gz"
        ]
    );
    let tool = &j["others"][0];
    assert_eq!(tool["packages"], 2);
    assert_eq!(tool["leaves"], serde_json::json!(["c@1.0"]));
    let tool2 = &j["others"][1];
    assert_eq!(tool2["leaves"], serde_json::json!(["f@1.0"]));
    let label = |s: &Value| s["label"].as_str().unwrap().to_owned();
    assert_ne!(label(tool), label(tool2));
    for t in [tool, tool2] {
        let hash = &t["store_path"].as_str().unwrap()["/gnu/store/".len()..][..32];
        assert_eq!(
            label(t),
            format!("tool-1.0-x86_64-linux.tar.gz [{hash}]"),
            "{t}"
        );
    }
    // a, d and e rest on the core alone (the sdk is behind a fixed output).
    assert_eq!(j["core_only_packages"], 3);
    assert_eq!(j["largest"][0]["binary_seeds"], 2);
    assert_eq!(j["largest"][0]["package"], "b@1.0");
    assert_eq!(j["largest"][1]["package"], "c@1.0");
    assert_eq!(j["largest"][2]["package"], "f@1.0");
    assert_eq!(
        j["largest"][1]["beyond_core"],
        serde_json::json!([label(tool)])
    );
    assert_eq!(
        j["largest"][2]["beyond_core"],
        serde_json::json!([label(tool2)])
    );

    // The seed table and every package's seed ids.
    let table = j["binary_seeds"].as_array().unwrap();
    assert_eq!(table.len(), 3);
    for (i, row) in table.iter().enumerate() {
        assert_eq!(row["id"], i);
    }
    let id_of = |s: &Value| s["id"].as_u64().unwrap();
    assert_eq!(table[id_of(tool) as usize]["label"], tool["label"]);
    let bash = id_of(&j["core"][0]);
    let pkgs: Vec<(String, Vec<u64>)> = j["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            assert_eq!(p["version"], "1.0");
            assert!(p["drv"].as_str().unwrap().ends_with(".drv"));
            (
                p["name"].as_str().unwrap().to_owned(),
                p["seeds"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_u64().unwrap())
                    .collect(),
            )
        })
        .collect();
    let mut want = vec![
        ("a".to_owned(), vec![bash]),
        ("b".to_owned(), vec![bash, id_of(tool)]),
        ("c".to_owned(), vec![bash, id_of(tool)]),
        ("d".to_owned(), vec![bash]),
        ("e".to_owned(), vec![bash]),
        ("f".to_owned(), vec![bash, id_of(tool2)]),
    ];
    for (_, ids) in &mut want {
        ids.sort_unstable();
    }
    assert_eq!(pkgs, want);

    // The unknown seed is named, with why.
    assert_eq!(names(&j["unknown"]), ["mystery-blob"]);
    assert!(j["unknown"][0]["why"].as_str().unwrap().contains("no rule"));
    assert_eq!(j["seeds_by_kind"]["unknown"], 1);
    assert_eq!(j["seeds_by_kind"]["binary"], 3);
}

#[test]
fn audit_through_fixed_outputs_sees_the_fetchers() {
    let g = graph();
    let packages = table_packages(&g);
    let r = audit(&g, &packages, &seeds(), &Walk::trust(true), 10).unwrap();
    let j = serde_json::to_value(&r).unwrap();
    assert_eq!(names(&j["core"]), ["bash"]);
    let others = names(&j["others"]);
    // Ranked by how many packages rest on them: the tool (b, c), then the
    // sdk (e) and F's tool, by label.
    assert_eq!(
        others,
        [
            "tool-1.0-x86_64-linux.tar.gz",
            "sdk-2.0-linux64.tgz",
            "tool-1.0-x86_64-linux.tar.gz"
        ]
    );
    assert_eq!(j["others"][1]["packages"], 1);
    assert_eq!(j["others"][1]["leaves"], serde_json::json!(["e@1.0"]));
    assert_eq!(j["core_only_packages"], 2);
}

#[test]
fn audit_of_a_subset() {
    let g = graph();
    let packages: Vec<_> = table_packages(&g)
        .into_iter()
        .filter(|p| p.label() == "b@1.0" || p.label() == "c@1.0")
        .collect();
    let r = audit(&g, &packages, &seeds(), &Walk::trust(false), 1).unwrap();
    let j = serde_json::to_value(&r).unwrap();
    // For b and c alone, the tool is common to all: it joins the core.
    assert_eq!(names(&j["core"]), ["bash", "tool-1.0-x86_64-linux.tar.gz"]);
    assert_eq!(j["others"], serde_json::json!([]));
    assert_eq!(j["core_only_packages"], 2);
    assert_eq!(j["largest"].as_array().unwrap().len(), 1);
}

#[test]
fn trust_report_of_one_target() {
    let g = graph();
    let target = abovo_graph::resolve::resolve(&g, "c").unwrap();
    let r = trust_report(&g, target, &seeds(), &Walk::trust(false)).unwrap();
    let j = serde_json::to_value(&r).unwrap();
    let seeds = j["seeds"].as_array().unwrap();
    let kinds: Vec<(&str, &str)> = seeds
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("bash", "binary"),
            ("tool-1.0-x86_64-linux.tar.gz", "binary"),
            ("boot-builder", "generated"),
            ("lib-1.0.tar.gz", "source"),
        ]
    );
    let path: Vec<&str> = seeds[0]["path_from_target"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["label"].as_str().unwrap())
        .collect();
    assert_eq!(path, ["c-1.0", "b-1.0", "libc-1.0", "boot-0", "bash"]);
    assert_eq!(
        seeds[0]["urls"][0],
        "https://ftpmirror.gnu.org/guix/bootstrap/i686-linux/bash"
    );
    assert_eq!(seeds[0]["origin"], "fixed-output");
    assert_eq!(seeds[2]["origin"], "input-source");
    assert_eq!(seeds[0]["size"], Value::Null);
    assert_eq!(seeds[0]["size_source"], "unknown");
    assert_eq!(j["builtins"][0]["builder"], "builtin:download");
    assert_eq!(j["builtins"][0]["derivations"], 3);
    assert_eq!(j["derivations_walked"], 7);
    let totals: Vec<(&str, u64)> = j["totals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["kind"].as_str().unwrap(), t["seeds"].as_u64().unwrap()))
        .collect();
    assert_eq!(totals, [("binary", 2), ("generated", 1), ("source", 1)]);
}

#[test]
fn a_user_knowledge_base_beats_rules() {
    let g = graph();
    let target = abovo_graph::resolve::resolve(&g, "a").unwrap();
    let mut s = seeds();
    let digest = HashAlgo::Sha256.digest(b"lib-1.0.tar.gzmirror://gnu/lib/lib-1.0.tar.gz");
    let entry = format!(
        "[[seed]]\nname = \"lib with a blob\"\nhash = \"{}\"\nkind = \"source-with-binaries\"\ndescription = \"ships a prebuilt blob\"\nsize = 4242\nsize_source = \"measured\"\nprovenance = \"unpacked and inspected by hand\"\n",
        digest.to_db_string()
    );
    s.knowledge.add_text("mine.toml", &entry).unwrap();
    let r = trust_report(&g, target, &s, &Walk::trust(false)).unwrap();
    let lib = r
        .seeds
        .iter()
        .find(|e| e.facts.name == "lib-1.0.tar.gz")
        .unwrap();
    assert_eq!(lib.class.kind, abovo_trust::Kind::SourceWithBinaries);
    assert_eq!(lib.class.evidence.label(), "known");
    assert_eq!(lib.class.size, Some(4242));
    assert_eq!(lib.class.size_source.label(), "knowledge base");
    let _ = Hash::sha256([0; 32]);
}

/// An impure derivation of Nix's (network access, no pinned hash) is a
/// seed of unknown kind that says why, and the walk goes on into its
/// inputs, which it builds with; a floating content-addressed one is
/// walked through like any derivation.
#[test]
fn an_impure_derivation_is_a_seed_that_says_why() {
    use abovo_store::derivation::DerivationKind;
    let mut b = Builder {
        records: vec![],
        next: 0,
    };
    let bash = b.fod(
        "bash",
        "https://ftpmirror.gnu.org/guix/bootstrap/i686-linux/bash",
        "builtin:download",
        &[],
    );
    let curl = b.drv("curl-8.0", &[&bash], &[]);
    let impure = b.drv("latest-prices", &[&curl], &[]);
    let floating = b.drv("lib-1.0", &[&bash], &[]);
    let top = b.drv("top-1.0", &[&impure, &floating], &[]);
    for r in &mut b.records {
        match r.path.name() {
            "latest-prices.drv" => r.kind = DerivationKind::Impure,
            "lib-1.0.drv" => r.kind = DerivationKind::Floating,
            "top-1.0.drv" => r.kind = DerivationKind::Deferred,
            _ => {}
        }
        if r.kind != DerivationKind::InputAddressed && r.fixed.is_none() {
            r.outputs = vec![("out".into(), None)];
        }
    }
    let g = build_graph(StoreDir::default(), b.records).unwrap();
    let target = g.lookup(&top).unwrap();
    let r = trust_report(&g, target, &seeds(), &Walk::trust(false)).unwrap();
    let j = serde_json::to_value(&r).unwrap();
    let seeds: Vec<(&str, &str, &str)> = j["seeds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap(),
                s["origin"].as_str().unwrap(),
                s["kind"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seeds,
        [
            ("bash", "fixed-output", "binary"),
            ("latest-prices", "impure", "unknown")
        ]
    );
    let impure_seed = &j["seeds"][1];
    assert!(
        impure_seed["why"]
            .as_str()
            .unwrap()
            .contains("pinned by no hash"),
        "{impure_seed}"
    );
    assert_eq!(
        impure_seed["store_path"],
        g.store_dir().display(&impure),
        "no output path is invented"
    );
    // top, latest-prices, curl, lib and bash: through the impure one.
    assert_eq!(j["derivations_walked"], 5);
}

/// The audit computes every package's binary seeds in one pass over the
/// graph (bitsets in topological order), its leaves from one reverse pass,
/// and classifies each seed once. On random graphs it must say what the
/// straightforward computation says: one trust walk per package, each seed
/// reached classified on its own.
mod one_pass_equals_one_walk_per_package {
    use super::*;
    use abovo_graph::query::closure;
    use abovo_trust::report::is_seed;
    use proptest::prelude::*;
    use std::collections::{BTreeMap, BTreeSet};

    /// What a node of a random graph is.
    #[derive(Debug, Clone, Copy)]
    enum Node {
        /// A derivation; packages are among them.
        Drv { package: bool },
        /// A fixed-output derivation whose URL makes it a binary seed.
        Binary,
        /// One a rule calls source.
        Source,
        /// One nothing classifies.
        Unknown,
    }

    fn node() -> impl Strategy<Value = Node> {
        prop_oneof![
            4 => any::<bool>().prop_map(|package| Node::Drv { package }),
            2 => Just(Node::Binary),
            1 => Just(Node::Source),
            1 => Just(Node::Unknown),
        ]
    }

    /// Nodes, each with the earlier nodes it uses (as bits of a mask).
    fn graphs() -> impl Strategy<Value = Vec<(Node, u64)>> {
        prop::collection::vec((node(), any::<u64>()), 1..40)
    }

    fn build(spec: &[(Node, u64)]) -> Graph {
        let mut b = Builder {
            records: vec![],
            next: 0,
        };
        let mut paths: Vec<StorePath> = Vec::new();
        let mut rows = Vec::new();
        for (i, &(kind, mask)) in spec.iter().enumerate() {
            // At most 4 inputs among the earlier nodes, so that graphs are
            // deep rather than all-to-all.
            let inputs: Vec<&StorePath> = (0..i)
                .filter(|&j| mask >> (j % 64) & 1 == 1)
                .take(4)
                .map(|j| &paths[j])
                .collect();
            let p = match kind {
                Node::Drv { package } => {
                    let p = b.drv(&format!("p{i}-1.0"), &inputs, &[]);
                    if package {
                        rows.push(Package {
                            name: format!("p{i}"),
                            version: "1.0".into(),
                            derivation: p.clone(),
                            module: "test.scm".into(),
                        });
                    }
                    p
                }
                Node::Binary => b.fod(
                    &format!("bin{i}"),
                    &format!("https://ftpmirror.gnu.org/guix/bootstrap/i686-linux/bin{i}"),
                    "builtin:download",
                    &[],
                ),
                // A fetcher that uses earlier nodes: the walk goes there
                // only through fixed outputs.
                Node::Source => b.fod(
                    &format!("src{i}-1.0.tar.gz"),
                    &format!("mirror://gnu/src/src{i}-1.0.tar.gz"),
                    "/gnu/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-guile/bin/guile",
                    &inputs,
                ),
                Node::Unknown => b.fod(
                    &format!("blob{i}"),
                    &format!("https://example.org/blob{i}"),
                    "builtin:download",
                    &[],
                ),
            };
            paths.push(p);
        }
        let mut g = build_graph(StoreDir::default(), b.records).unwrap();
        g.set_packages(PackageTable::new(rows));
        g
    }

    /// Per package label, the store paths of its binary seeds, found by a
    /// walk of its own.
    fn walked(g: &Graph, walk: &Walk, s: &Seeds) -> BTreeMap<String, BTreeSet<String>> {
        table_packages(g)
            .iter()
            .map(|p| {
                let binaries = closure(g, &[p.node], walk)
                    .into_iter()
                    .filter(|&n| is_seed(g, n))
                    .filter_map(|n| {
                        let facts = SeedFacts::of(g, n);
                        let class = s.classify(g, &facts).unwrap();
                        class.kind.carries_binaries().then_some(facts.store_path)
                    })
                    .collect();
                (p.label(), binaries)
            })
            .collect()
    }

    /// The packages that no other package's walk reaches.
    fn leaves(g: &Graph, walk: &Walk) -> BTreeSet<String> {
        let packages = table_packages(g);
        packages
            .iter()
            .filter(|p| {
                !packages
                    .iter()
                    .any(|q| q.node != p.node && closure(g, &[q.node], walk).contains(&p.node))
            })
            .map(|p| p.label())
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        #[test]
        fn on_random_graphs(spec in graphs(), through_fixed in any::<bool>()) {
            let g = build(&spec);
            let walk = Walk::trust(through_fixed);
            let s = seeds();
            let r = audit(&g, &table_packages(&g), &s, &walk, 1000).unwrap();
            let want = walked(&g, &walk, &s);

            // Every package's binary seeds.
            let path_of = |id: u32| r.binary_seeds[id as usize].store_path.clone();
            let got: BTreeMap<String, BTreeSet<String>> = r
                .packages
                .iter()
                .map(|p| {
                    let label = format!("{}@{}", p.name, p.version.as_deref().unwrap_or(""));
                    (label, p.seeds.iter().map(|&id| path_of(id)).collect())
                })
                .collect();
            prop_assert_eq!(&got, &want);

            // Per seed: how many packages rest on it, whether it is in the
            // core, and its leaves.
            let leaves = leaves(&g, &walk);
            let resting = |path: &str| -> Vec<&String> {
                want.iter().filter(|(_, s)| s.contains(path)).map(|(l, _)| l).collect()
            };
            prop_assert_eq!(r.core.len() + r.others.len(),
                r.binary_seeds.iter().filter(|row| !resting(&row.store_path).is_empty()).count());
            for seed in r.core.iter().chain(&r.others) {
                let on = resting(&seed.facts.store_path);
                prop_assert_eq!(seed.packages, on.len());
                let mut want_leaves: Vec<String> =
                    on.into_iter().filter(|l| leaves.contains(*l)).cloned().collect();
                want_leaves.sort();
                prop_assert_eq!(&seed.leaves, &want_leaves);
            }
            for seed in &r.core {
                prop_assert_eq!(seed.packages, want.len());
            }
            for seed in &r.others {
                prop_assert!(seed.packages < want.len());
            }
            let core: BTreeSet<String> =
                r.core.iter().map(|s| s.facts.store_path.clone()).collect();
            prop_assert_eq!(
                r.core_only_packages,
                want.values().filter(|s| **s == core).count()
            );
        }
    }
}
