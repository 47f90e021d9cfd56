//! Bytes only count when they are the seed, and narinfos only when they
//! agree with it: a small graph with a recursive fixed output (a bootstrap
//! `bash`), a flat one (a tarball) and an input source with a recorded NAR
//! hash, checked through `Seeds::classify` and the trust report.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use abovo_graph::build::{DrvRecord, build_graph};
use abovo_graph::query::Walk;
use abovo_graph::{Graph, StoreMeta};
use abovo_store::derivation::FixedOutput;
use abovo_store::nar;
use abovo_store::{Hash, HashAlgo, StoreDir, StorePath};
use abovo_trust::bytes::Verified;
use abovo_trust::classify::{SeedFacts, Seeds};
use abovo_trust::knowledge::KnowledgeBase;
use abovo_trust::report::trust_report;
use abovo_trust::sizes::{SizeError, SizeSource};
use abovo_trust::{Evidence, Kind};
use std::path::Path;

const BASH: &[u8] =
    b"\x7fELF\x01\x01\x01\0\0\0\0\0\0\0\0\0\x02\0\x03\0\x01\0\0\0 a static i686 bash, pretend";
const PATCH: &[u8] = b"--- a/x.c\n+++ b/x.c\n@@ -1 +1 @@\n-int x;\n+int y;\n";

fn sp(hash_char: char, name: &str) -> StorePath {
    StorePath::from_base_name(&format!("{}-{name}", hash_char.to_string().repeat(32))).unwrap()
}

fn fixed_bash() -> FixedOutput {
    FixedOutput {
        recursive: true,
        hash: nar::hash_regular_bytes(BASH, true).hash,
    }
}

fn tarball() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let text = b"int main(void) { return 0; }\n";
    let mut h = tar::Header::new_gnu();
    h.set_size(text.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, "t-1.0/main.c", &text[..]).unwrap();
    b.into_inner().unwrap()
}

fn fixed_tarball() -> FixedOutput {
    FixedOutput {
        recursive: false,
        hash: HashAlgo::Sha256.digest(&tarball()),
    }
}

fn fod(drv: char, out: char, name: &str, fixed: FixedOutput) -> DrvRecord {
    DrvRecord {
        path: sp(drv, &format!("{name}.drv")),
        system: "x86_64-linux".into(),
        builder: "builtin:download".into(),
        outputs: vec![("out".into(), Some(sp(out, name)))],
        fixed: Some(fixed),
        kind: abovo_store::derivation::DerivationKind::Fixed,
        env: vec![(
            "url".into(),
            format!("https://ftpmirror.gnu.org/guix/bootstrap/i686-linux/{name}"),
        )],
        inputs: vec![],
        sources: vec![],
    }
}

/// top-1.0 → bash (recursive FOD), t-1.0.tar.gz (flat FOD), x.patch
/// (input source whose NAR hash and size are in the store metadata).
fn graph(dir: &Path) -> Graph {
    let bash = fod('1', '2', "bash", fixed_bash());
    let tar = fod('3', '4', "t-1.0.tar.gz", fixed_tarball());
    let top = DrvRecord {
        path: sp('5', "top-1.0.drv"),
        system: "x86_64-linux".into(),
        builder: "/bin/sh".into(),
        outputs: vec![("out".into(), Some(sp('6', "top-1.0")))],
        fixed: None,
        kind: abovo_store::derivation::DerivationKind::InputAddressed,
        env: vec![],
        inputs: vec![
            (bash.path.clone(), vec!["out".into()]),
            (tar.path.clone(), vec!["out".into()]),
        ],
        sources: vec![sp('7', "x.patch")],
    };
    let mut g = build_graph(StoreDir::default(), vec![bash, tar, top]).unwrap();
    let nar = nar::hash_regular_bytes(PATCH, false);
    let tsv = dir.join("store-meta.tsv");
    std::fs::write(
        &tsv,
        format!(
            "path\tnar_hash\tnar_size\treferences\n/gnu/store/{}\t{}\t{}\t\n",
            sp('7', "x.patch").base_name(),
            nar.hash.to_db_string(),
            nar.size
        ),
    )
    .unwrap();
    let meta = StoreMeta::read(&tsv, &g).unwrap();
    g.set_meta(meta);
    g
}

fn seeds_with(dirs: &[&Path]) -> Seeds {
    let mut s = Seeds::new(KnowledgeBase::built_in().unwrap());
    s.use_store = false;
    s.seed_dirs = dirs.iter().map(|d| d.to_path_buf()).collect();
    s
}

fn facts_named(g: &Graph, name: &str) -> SeedFacts {
    g.nodes()
        .map(|n| SeedFacts::of(g, n))
        .find(|f| f.name == name && f.derivation.is_some() == (name != "x.patch"))
        .unwrap()
}

#[test]
fn a_file_named_like_the_seed_is_not_the_seed() {
    let work = tempfile::tempdir().unwrap();
    let g = graph(work.path());
    let seeds_dir = work.path().join("seeds");
    std::fs::create_dir(&seeds_dir).unwrap();
    // The reviewer's case: a text file named `bash`.
    std::fs::write(seeds_dir.join("bash"), b"echo I am not bash\n").unwrap();
    let s = seeds_with(&[&seeds_dir]);
    let bash = facts_named(&g, "bash");
    let c = s.classify(&g, &bash).unwrap();
    assert_ne!(c.evidence, Evidence::Content, "{c:?}");
    assert_eq!(c.kind, Kind::Binary, "the rule still says binary");
    assert!(c.bytes_at.is_none());
    assert_ne!(c.size_source, SizeSource::Bytes);
    assert_eq!(c.rejected_files.len(), 1);
    let j = serde_json::to_value(&c.rejected_files[0]).unwrap();
    assert_eq!(j["file"], seeds_dir.join("bash").to_str().unwrap());
    assert_eq!(j["reason"], "hash-mismatch");
    assert_eq!(j["method"], "nar");
    assert_eq!(j["expected"], fixed_bash().hash.to_string());
    let actual = nar::hash_path(&seeds_dir.join("bash")).unwrap().hash;
    assert_eq!(j["actual"], actual.to_string());
    assert!(j["expected"].as_str().unwrap().starts_with("sha256:"));

    // The real bytes under the bare name, downloaded (not executable, as
    // the store item is): they are the seed.
    std::fs::write(seeds_dir.join("bash"), BASH).unwrap();
    let c = s.classify(&g, &bash).unwrap();
    assert_eq!(c.evidence, Evidence::Content);
    assert_eq!(c.bytes_verified, Some(Verified::FixedOutputHash));
    assert_eq!(c.size, Some(BASH.len() as u64));
    assert!(c.rejected_files.is_empty());
}

#[test]
fn flat_fixed_outputs_and_input_sources_are_checked() {
    let work = tempfile::tempdir().unwrap();
    let g = graph(work.path());
    let seeds_dir = work.path().join("seeds");
    std::fs::create_dir(&seeds_dir).unwrap();
    let s = seeds_with(&[&seeds_dir]);

    let tar = facts_named(&g, "t-1.0.tar.gz");
    std::fs::write(seeds_dir.join(fixed_tarball().hash.to_nix32()), tarball()).unwrap();
    let c = s.classify(&g, &tar).unwrap();
    assert_eq!(c.evidence, Evidence::Content);
    assert_eq!(c.kind, Kind::Source);
    // A wrong file under a better name comes first, is reported, and the
    // right one is still found.
    std::fs::write(seeds_dir.join(tar.base_name()), b"not the tarball").unwrap();
    let c = s.classify(&g, &tar).unwrap();
    assert_eq!(c.evidence, Evidence::Content);
    assert_eq!(c.rejected_files.len(), 1);
    assert_eq!(c.rejected_files[0].file, seeds_dir.join(tar.base_name()));

    let patch = facts_named(&g, "x.patch");
    std::fs::write(seeds_dir.join(patch.base_name()), PATCH).unwrap();
    let c = s.classify(&g, &patch).unwrap();
    assert_eq!(c.bytes_verified, Some(Verified::StoreMeta));
    assert_eq!(c.evidence, Evidence::Content);
    std::fs::write(seeds_dir.join(patch.base_name()), b"--- changed\n").unwrap();
    let c = s.classify(&g, &patch).unwrap();
    assert_ne!(c.evidence, Evidence::Content);
    assert_eq!(c.rejected_files.len(), 1);
}

fn narinfo(store_path: &str, hash: &Hash, size: u64) -> String {
    format!(
        "StorePath: {store_path}\nURL: nar/lzip/x\nCompression: lzip\nFileSize: 10\nNarHash: {hash}\nNarSize: {size}\nReferences: \n"
    )
}

fn classify_err(s: &Seeds, g: &Graph, f: &SeedFacts) -> SizeError {
    s.classify(g, f).unwrap_err()
}

#[test]
fn narinfos_must_parse_and_agree_with_the_seed() {
    let work = tempfile::tempdir().unwrap();
    let g = graph(work.path());
    let dir = work.path().join("narinfo");
    std::fs::create_dir(&dir).unwrap();
    let mut s = seeds_with(&[]);
    s.sizes.add_narinfo_dir(&dir).unwrap();
    let bash = facts_named(&g, "bash");
    let file = dir.join(format!("{}.narinfo", &bash.base_name()[..32]));
    let right = fixed_bash().hash;
    let wrong = HashAlgo::Sha256.digest(b"something else");

    // Right: the size comes from the narinfo.
    std::fs::write(&file, narinfo(&bash.store_path, &right, 4242)).unwrap();
    let c = s.classify(&g, &bash).unwrap();
    assert_eq!(c.size, Some(4242));
    assert_eq!(c.size_source, SizeSource::Narinfo);

    // A wrong NarHash for a recursive sha256 fixed output is refused.
    std::fs::write(&file, narinfo(&bash.store_path, &wrong, 4242)).unwrap();
    let e = classify_err(&s, &g, &bash).to_string();
    assert!(e.contains(file.to_str().unwrap()), "{e}");
    assert!(e.contains("`NarHash`"), "{e}");
    assert!(
        e.contains(&right.to_string()) && e.contains(&wrong.to_string()),
        "{e}"
    );

    // Another store path.
    std::fs::write(
        &file,
        narinfo(
            "/gnu/store/zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-bash",
            &right,
            1,
        ),
    )
    .unwrap();
    let e = classify_err(&s, &g, &bash).to_string();
    assert!(e.contains("`StorePath`"), "{e}");

    // A narinfo that does not parse names the file and line.
    std::fs::write(
        &file,
        format!("StorePath: {}\nthis is not a field\n", bash.store_path),
    )
    .unwrap();
    let e = classify_err(&s, &g, &bash);
    assert!(
        matches!(e, SizeError::NarinfoSyntax { line: Some(2), .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains("line 2"), "{e}");
    std::fs::write(&file, b"StorePath: \xff\n").unwrap();
    assert!(classify_err(&s, &g, &bash).to_string().contains("UTF-8"));

    // An input source: NarHash and NarSize must be the store metadata's.
    let patch = facts_named(&g, "x.patch");
    let pfile = dir.join(format!("{}.narinfo", &patch.base_name()[..32]));
    let pnar = nar::hash_regular_bytes(PATCH, false);
    std::fs::remove_file(&file).unwrap();
    std::fs::write(&pfile, narinfo(&patch.store_path, &pnar.hash, pnar.size)).unwrap();
    s.classify(&g, &patch).unwrap();
    std::fs::write(
        &pfile,
        narinfo(&patch.store_path, &pnar.hash, pnar.size + 8),
    )
    .unwrap();
    let e = classify_err(&s, &g, &patch).to_string();
    assert!(
        e.contains("`NarSize`") && e.contains("store metadata"),
        "{e}"
    );
    std::fs::write(&pfile, narinfo(&patch.store_path, &wrong, pnar.size)).unwrap();
    let e = classify_err(&s, &g, &patch).to_string();
    assert!(e.contains("`NarHash`"), "{e}");

    // The whole report fails, not just one seed.
    let top = abovo_graph::resolve::resolve(&g, "top").unwrap();
    assert!(trust_report(&g, top, &s, &Walk::trust(false)).is_err());
}

#[test]
fn a_narinfo_smaller_than_the_known_content_is_refused() {
    let work = tempfile::tempdir().unwrap();
    let g = graph(work.path());
    let dir = work.path().join("narinfo");
    std::fs::create_dir(&dir).unwrap();
    let mut s = seeds_with(&[]);
    s.knowledge
        .add_text(
            "mine.toml",
            &format!(
                "[[seed]]\nname = \"t\"\nhash = \"{}\"\nkind = \"source\"\ndescription = \"d\"\nsize = 10000\nsize_source = \"ls\"\nprovenance = \"p\"\n",
                fixed_tarball().hash.to_db_string()
            ),
        )
        .unwrap();
    s.sizes.add_narinfo_dir(&dir).unwrap();
    let tar = facts_named(&g, "t-1.0.tar.gz");
    let file = dir.join(format!("{}.narinfo", &tar.base_name()[..32]));
    // A flat hash says nothing of the NAR hash: any NarHash is accepted.
    let any = HashAlgo::Sha256.digest(b"any");
    std::fs::write(&file, narinfo(&tar.store_path, &any, 5000)).unwrap();
    let e = classify_err(&s, &g, &tar).to_string();
    assert!(
        e.contains("`NarSize`") && e.contains("10112 or more"),
        "{e}"
    );
    std::fs::write(&file, narinfo(&tar.store_path, &any, 10112)).unwrap();
    s.classify(&g, &tar).unwrap();
}
