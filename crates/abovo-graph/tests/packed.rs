//! Packed records (what a load of a directory and an index's first build
//! keep) must build the graph the plain records build, byte for byte in a
//! snapshot: on `.drv` texts with inputs, sources and output names in any
//! order (not canonical), shared and missing inputs, several outputs and
//! fixed outputs, and on the whole Guix 1.5.0 corpus.
#![allow(clippy::unwrap_used)]

mod support;

use abovo_graph::Graph;
use abovo_graph::build::{PackedRecord, build_graph, build_graph_packed};
use abovo_graph::load::{parse_packed, parse_record};
use abovo_graph::snapshot::{WriteOptions, write_in_place};
use abovo_store::StoreDir;
use proptest::prelude::*;
use support::sp;

fn bytes(g: &Graph) -> Vec<u8> {
    write_in_place(g, &WriteOptions::default())
}

/// Both graphs of the files `(name, text)`: of their records and of their
/// packed records.
fn both(files: &[(String, String)]) -> (Vec<u8>, Vec<u8>) {
    let store = StoreDir::default();
    let records = files
        .iter()
        .map(|(n, t)| parse_record(&store, n, t.as_bytes()).unwrap())
        .collect();
    let packed: Vec<PackedRecord> = files
        .iter()
        .map(|(n, t)| parse_packed(&store, n, t.as_bytes()).unwrap())
        .collect();
    let plain = build_graph(store.clone(), records).unwrap();
    let packed = build_graph_packed(store, packed.iter().collect()).unwrap();
    (bytes(&plain), bytes(&packed))
}

/// A derivation's parts, each list in the order given (a text not
/// canonical when it is not sorted).
struct Drv {
    tag: u32,
    outputs: Vec<&'static str>,
    inputs: Vec<(String, Vec<&'static str>)>,
    sources: Vec<String>,
    fixed: bool,
}

fn quoted(items: impl IntoIterator<Item = String>) -> String {
    items.into_iter().collect::<Vec<_>>().join(",")
}

impl Drv {
    fn file(&self) -> (String, String) {
        let name = format!("d{}", self.tag);
        let out_path = |o: &str| {
            format!(
                "/gnu/store/{}-{name}-{o}",
                &sp(self.tag + 500, "x").to_string()[..32]
            )
        };
        let outputs = if self.fixed {
            format!(
                r#"("out","{}","sha256","{}")"#,
                out_path("out"),
                "0".repeat(64)
            )
        } else {
            quoted(
                self.outputs
                    .iter()
                    .map(|o| format!(r#"("{o}","{}","","")"#, out_path(o))),
            )
        };
        let inputs = quoted(self.inputs.iter().map(|(p, outs)| {
            format!(
                r#"("/gnu/store/{p}",[{}])"#,
                quoted(outs.iter().map(|o| format!(r#""{o}""#)))
            )
        }));
        let sources = quoted(self.sources.iter().map(|s| format!(r#""/gnu/store/{s}""#)));
        let env = if self.fixed {
            format!(
                r#"("out","{}"),("url","https://example.org/{name}")"#,
                out_path("out")
            )
        } else {
            String::new()
        };
        let text = format!(
            r#"Derive([{outputs}],[{inputs}],[{sources}],"x86_64-linux","/bin/sh",[],[{env}])"#
        );
        (sp(self.tag, &format!("{name}.drv")).to_string(), text)
    }
}

const OUTPUTS: [&str; 3] = ["out", "lib", "doc"];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn packed_records_build_the_graph_records_build(
        seed in proptest::collection::vec(0u8..=255, 8..64),
        n in 1usize..24,
    ) {
        let byte = |i: usize| seed[i % seed.len()] as usize;
        let sources: Vec<String> = (0..4).map(|i| sp(9_000 + i, &format!("src-{i}")).to_string()).collect();
        let mut drvs: Vec<Drv> = Vec::new();
        for i in 0..n {
            let b = |k: usize| byte(i * 7 + k);
            // Output names in a scattered order, `out` among them or not.
            let mut outputs: Vec<&'static str> = (0..1 + b(0) % 3).map(|k| OUTPUTS[(b(1) + k) % 3]).collect();
            outputs.dedup();
            if b(2) % 2 == 0 {
                outputs.reverse();
            }
            let fixed = b(13) % 6 == 0;
            if fixed {
                outputs = vec!["out"];
            }
            let mut inputs: Vec<(String, Vec<&'static str>)> = Vec::new();
            for k in 0..b(3) % 4 {
                let (path, outs) = match drvs.get((b(4 + k) * 13) % drvs.len().max(1)) {
                    Some(d) if b(k) % 5 != 0 => (d.file().0, d.outputs.clone()),
                    // An input never loaded.
                    _ => (sp(8_000 + (b(k) % 3) as u32, "gone.drv").to_string(), vec!["out", "lib"]),
                };
                if inputs.iter().any(|(p, _)| *p == path) {
                    continue;
                }
                let mut used: Vec<&'static str> = outs.iter().copied().filter(|_| b(5 + k) % 3 != 0).collect();
                if used.is_empty() {
                    used.push(outs[0]);
                }
                if b(6 + k) % 2 == 0 {
                    used.reverse();
                }
                inputs.push((path, used));
            }
            if b(8) % 2 == 0 {
                inputs.reverse();
            }
            let mut srcs: Vec<String> = sources.iter().filter(|_| b(9) % 3 != 0).take(1 + b(10) % 3).cloned().collect();
            if b(11) % 2 == 0 {
                srcs.reverse();
            }
            drvs.push(Drv {
                // Distinct, and not in the order made.
                tag: (1 + b(12) + 300 * ((i * 5) % 24)) as u32,
                outputs,
                inputs,
                sources: srcs,
                fixed,
            });
        }
        let mut files: Vec<(String, String)> = drvs.iter().map(Drv::file).collect();
        files.sort();
        files.dedup_by(|a, b| a.0 == b.0);
        let (plain, packed) = both(&files);
        prop_assert!(plain == packed, "the packed records' graph differs");
    }
}

/// Every `.drv` of the Guix 1.5.0 corpus, packed and not: the same graph.
#[test]
fn corpus_packed_records_build_the_same_graph() {
    let Some(folder) = std::env::var_os("ABOVO_GUIX_CORPUS") else {
        println!("skipped: ABOVO_GUIX_CORPUS is not set");
        return;
    };
    let tarball = std::path::Path::new(&folder).join("drvs.tar.zst");
    let files = abovo_graph::load::read_tarball(&tarball, &abovo_graph::load::Silent).unwrap();
    let files: Vec<(String, String)> = files
        .into_iter()
        .map(|f| (f.name, String::from_utf8(f.bytes).unwrap()))
        .collect();
    let (plain, packed) = both(&files);
    assert!(plain == packed, "the packed records' graph differs");
    eprintln!(
        "the graph of {} packed records is the plain one's",
        files.len()
    );
}
