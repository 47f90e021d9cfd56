//! Every vector of every section of `tests/data/test-vectors.json` (the
//! known answers that docs/formats.md §10 describes), run against the library.
//!
//! Each section's test counts the vectors it ran and fails if a vector of
//! an unknown kind appears, so nothing in the file is silently skipped.
//!
//! Nix-only vectors are checked as Nix-only: the modern-Nix
//! `source:<refs>[:self]` store path type is computed with the generic
//! [`StoreDir::make_store_path`] (Guix has no such type, and the test also
//! shows that Guix's rule gives a different path), and the Nix output-path
//! masking rule is checked next to the Guix one.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use abovo_store::derivation::{Derivation, DerivationError, Output};
use abovo_store::encoding::{self, TextEncoding};
use abovo_store::file_hash::{FileHashOptions, Serializer, hash_file};
use abovo_store::hash::sha256;
use abovo_store::nar::{NarHashSink, Tree, write_tree};
use abovo_store::narinfo::{GuixSignature, NarInfo, guix_signed_sha256, verify_nix_signature};
use abovo_store::{Hash, HashAlgo, StoreDir, StorePath, nixbase32};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

fn vectors() -> Value {
    let text = include_str!("data/test-vectors.json");
    serde_json::from_str(text).expect("test-vectors.json is JSON")
}

fn section(name: &str) -> Vec<Value> {
    vectors()[name]
        .as_array()
        .unwrap_or_else(|| panic!("section {name}"))
        .clone()
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("field {key} in {v}"))
}

fn hex(text: &str) -> Vec<u8> {
    encoding::base16_decode(text).unwrap()
}

fn store(v: &Value) -> StoreDir {
    StoreDir::new(s(v, "store_dir")).unwrap()
}

#[test]
fn nix32() {
    let mut n = 0;
    for v in section("nix32") {
        match s(&v, "kind") {
            "encode" => {
                let bytes = hex(s(&v, "input_hex"));
                assert_eq!(nixbase32::encode(&bytes), s(&v, "nix32"));
                assert_eq!(nixbase32::decode(s(&v, "nix32")).unwrap(), bytes);
            }
            "invalid" => {
                let e = nixbase32::decode(s(&v, "input"));
                assert!(
                    e.is_err(),
                    "{} must be rejected ({})",
                    s(&v, "input"),
                    s(&v, "reason")
                );
            }
            other => panic!("unknown nix32 vector kind {other}"),
        }
        n += 1;
    }
    assert_eq!(n, 9);
}

#[test]
fn base32_rfc4648() {
    let mut n = 0;
    for v in section("base32_rfc4648") {
        let input = match (v["input_ascii"].as_str(), v["input_hex"].as_str()) {
            (Some(a), None) => a.as_bytes().to_vec(),
            (None, Some(h)) => hex(h),
            _ => panic!("base32 vector without one input: {v}"),
        };
        assert_eq!(encoding::base32_encode(&input), s(&v, "base32"));
        assert_eq!(encoding::base32_decode(s(&v, "base32")).unwrap(), input);
        n += 1;
    }
    assert_eq!(n, 8);
}

#[test]
fn base64() {
    let mut n = 0;
    for v in section("base64") {
        let input = match (v["input_hex"].as_str(), v["hashed_ascii"].as_str()) {
            (Some(h), None) => hex(h),
            (None, Some(text)) => {
                let algo = HashAlgo::from_name(s(&v, "hash_algo")).unwrap();
                algo.digest(text.as_bytes()).digest().to_vec()
            }
            _ => panic!("base64 vector without one input: {v}"),
        };
        assert_eq!(encoding::base64_encode(&input), s(&v, "base64"));
        assert_eq!(TextEncoding::Base64.encode(&input), s(&v, "base64"));
        n += 1;
    }
    assert_eq!(n, 3);
}

/// The modern-Nix `source:<ref>…[:self]` path type, which Guix lacks.
fn nix_source_path(
    store: &StoreDir,
    name: &str,
    nar_sha256: &[u8; 32],
    refs: &[StorePath],
    self_ref: bool,
) -> StorePath {
    let mut ty = "source".to_owned();
    let mut sorted: Vec<&StorePath> = refs.iter().collect();
    sorted.sort();
    for r in sorted {
        ty.push(':');
        ty.push_str(&store.display(r));
    }
    if self_ref {
        ty.push_str(":self");
    }
    store.make_store_path(&ty, nar_sha256, name).unwrap()
}

#[test]
fn store_paths() {
    let mut n = 0;
    for v in section("store_paths") {
        let store = store(&v);
        let name = s(&v, "name");
        let refs: Vec<StorePath> = v["references"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|r| store.parse(r.as_str().unwrap()).unwrap())
                    .collect()
            })
            .unwrap_or_default();
        let got = match s(&v, "kind") {
            "text" => match (v["contents"].as_str(), v["inner_hash_hex"].as_str()) {
                (Some(contents), None) => store
                    .make_text_path(name, contents.as_bytes(), &refs)
                    .unwrap(),
                (None, Some(h)) => {
                    let inner: [u8; 32] = hex(h).try_into().unwrap();
                    store.make_text_path_from_hash(name, &inner, &refs).unwrap()
                }
                _ => panic!("text vector without contents or inner hash: {v}"),
            },
            "fixed" => {
                let algo = HashAlgo::from_name(s(&v, "hash_algo")).unwrap();
                let hash = match (v["hash_hex"].as_str(), v["hashed_ascii"].as_str()) {
                    (Some(h), None) => Hash::new(algo, &hex(h)).unwrap(),
                    (None, Some(text)) => algo.digest(text.as_bytes()),
                    _ => panic!("fixed vector without a hash: {v}"),
                };
                let recursive = v["recursive"].as_bool().unwrap();
                store
                    .make_fixed_output_path(name, recursive, &hash)
                    .unwrap()
            }
            "source-with-references" => {
                assert_eq!(s(&v, "applies_to"), "nix-only");
                let digest = nixbase32::decode(s(&v, "hash_nix32")).unwrap();
                let inner: [u8; 32] = digest.clone().try_into().unwrap();
                let self_ref = v["self_reference"].as_bool().unwrap();
                if let Some(ca) = v["ca"].as_str() {
                    let hash = Hash::new(HashAlgo::Sha256, &digest).unwrap();
                    assert_eq!(ca, format!("fixed:r:{}", hash.to_nix32_string()));
                }
                // Guix's rule for a recursive sha256 item has no references,
                // so it must give another path.
                let guix = store
                    .make_fixed_output_path(
                        name,
                        true,
                        &Hash::new(HashAlgo::Sha256, &digest).unwrap(),
                    )
                    .unwrap();
                assert_ne!(store.display(&guix), s(&v, "expected"));
                nix_source_path(&store, name, &inner, &refs, self_ref)
            }
            other => panic!("unknown store path vector kind {other}"),
        };
        assert_eq!(store.display(&got), s(&v, "expected"), "{name}");
        n += 1;
    }
    assert_eq!(n, 15);
}

fn tree_of(v: &Value) -> Tree {
    match s(v, "type") {
        "regular" => Tree::Regular {
            executable: v["executable"].as_bool().unwrap_or(false),
            contents: s(v, "contents").as_bytes().to_vec(),
        },
        "symlink" => Tree::Symlink {
            target: s(v, "target").as_bytes().to_vec(),
        },
        "directory" => Tree::Directory(
            v["entries"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, child)| (k.as_bytes().to_vec(), tree_of(child)))
                .collect(),
        ),
        other => panic!("unknown tree type {other}"),
    }
}

fn materialise(tree: &Tree, path: &Path) {
    match tree {
        Tree::Regular {
            executable,
            contents,
        } => {
            std::fs::write(path, contents).unwrap();
            let mode = if *executable { 0o755 } else { 0o644 };
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        Tree::Symlink { target } => symlink(std::str::from_utf8(target).unwrap(), path).unwrap(),
        Tree::Directory(entries) => {
            std::fs::create_dir(path).unwrap();
            for (name, child) in entries {
                materialise(child, &path.join(std::str::from_utf8(name).unwrap()));
            }
        }
    }
}

#[test]
fn nar() {
    let mut n = 0;
    for v in section("nar") {
        let tree = tree_of(&v["tree"]);
        let exclude_vcs = v["exclude_vcs"].as_bool().unwrap_or(false);
        // On disk, through `guix hash -S nar [-x]` semantics.
        let tmp = tempfile::tempdir().unwrap();
        let item = tmp.path().join("item");
        materialise(&tree, &item);
        let opts = |algo| FileHashOptions {
            algo,
            serializer: Serializer::Nar,
            exclude_vcs,
        };
        let on_disk = hash_file(&item, &opts(HashAlgo::Sha256)).unwrap();
        assert_eq!(on_disk.to_nix32(), s(&v, "sha256_nix32"), "vector {n}");
        if let Some(h) = v["sha512_nix32"].as_str() {
            assert_eq!(
                hash_file(&item, &opts(HashAlgo::Sha512))
                    .unwrap()
                    .to_nix32(),
                h
            );
        }
        // In memory, where no filter applies.
        let mut sink = NarHashSink::new();
        write_tree(&tree, &mut sink).unwrap();
        let mem = sink.finish();
        if !exclude_vcs {
            assert_eq!(
                mem.hash, on_disk,
                "vector {n}: memory and disk writers agree"
            );
        }
        if let Some(h) = v["sha256_hex"].as_str() {
            assert_eq!(mem.hash.to_base16(), h);
        }
        if let Some(size) = v["nar_size"].as_u64() {
            assert_eq!(mem.size, size);
        }
        // The bytes read back to the same tree.
        assert_eq!(Tree::from_nar(&tree.to_nar()).unwrap(), tree);
        n += 1;
    }
    assert_eq!(n, 7);
}

fn no_inputs(_: &StorePath) -> Result<[u8; 32], DerivationError> {
    panic!("this derivation has no input derivations")
}

#[test]
fn drv() {
    let mut n = 0;
    for v in section("drv") {
        let store = store(&v);
        let aterm = s(&v, "aterm").as_bytes();
        let drv = Derivation::parse(&store, aterm).unwrap();
        let checks: Vec<&str> = v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        for check in checks {
            match check {
                "parse then unparse reproduces the bytes" => {
                    assert_eq!(drv.to_aterm(&store), aterm)
                }
                "output path recomputed from the masked derivation equals expected_output_paths" => {
                    let got = drv
                        .compute_output_paths(&store, s(&v, "name"), no_inputs)
                        .unwrap();
                    let want = v["expected_output_paths"].as_object().unwrap();
                    assert_eq!(got.len(), want.len());
                    for (o, p) in want {
                        assert_eq!(store.display(&got[o]), p.as_str().unwrap());
                    }
                }
                "drv path = text store path of the ATerm with no references" => {
                    assert_eq!(drv.references().count(), 0);
                    let path = drv.drv_path(&store, s(&v, "name"), aterm).unwrap();
                    assert_eq!(store.display(&path), s(&v, "expected_drv_path"));
                }
                other => panic!("unknown drv check {other:?}"),
            }
        }
        n += 1;
    }
    assert_eq!(n, 2);
}

/// The ATerm text with its env list replaced by `[]`.
fn without_env(text: &str) -> String {
    let start = text.rfind(",[(").expect("an env list");
    format!("{},[])", &text[..start])
}

#[test]
fn hash_modulo() {
    let mut n = 0;
    for v in section("hash_modulo") {
        match s(&v, "kind") {
            "fixed-output" => {
                let store = StoreDir::new("/nix/store").unwrap();
                let out = &v["output"];
                let mut drv = Derivation::default();
                drv.outputs.insert(
                    "out".into(),
                    Output {
                        path: Some(store.parse(s(out, "path")).unwrap()),
                        hash_algo: s(out, "hash_algo").into(),
                        hash: s(out, "hash").into(),
                    },
                );
                drv.builder = "/bin/x".into();
                drv.system = "x86_64-linux".into();
                let h = drv.hash_modulo(&store, no_inputs).unwrap();
                assert_eq!(encoding::base16_encode(&h), s(&v, "expected_hex"));
                // The stated rule, spelled out.
                let rule = format!(
                    "fixed:out:{}:{}:{}",
                    s(out, "hash_algo"),
                    s(out, "hash"),
                    s(out, "path")
                );
                assert_eq!(sha256(rule.as_bytes()), h);
            }
            "masked-modulo-text" => {
                let store = StoreDir::new(s(&v, "store_dir")).unwrap();
                let name = s(&v, "name");
                let text = s(&v, "modulo_text");
                for (key, body) in [
                    ("expected_output_paths_guix_rule", text.to_owned()),
                    ("expected_output_paths_nix_rule", without_env(text)),
                ] {
                    let want = &v[key];
                    let h = sha256(body.as_bytes());
                    for output in ["out", "dev"] {
                        let p = store.make_output_path(&h, name, output).unwrap();
                        assert_eq!(store.display(&p), s(want, output), "{key} {output}");
                    }
                }
                // The Guix rule is what the library does: a derivation with
                // these outputs and this input, masked, gives this very text.
                let mut drv = Derivation::default();
                for o in ["dev", "out"] {
                    drv.outputs.insert(o.into(), Output::default());
                }
                let input = store
                    .parse("/nix/store/q4mzjdlh5px6977h7v5fdsk1p33yg583-source.drv")
                    .unwrap();
                drv.input_derivations
                    .insert(input, BTreeSet::from(["out".to_owned()]));
                drv.system = "x86_64-linux".into();
                drv.builder = "/bin/intermediate".into();
                let input_hash: [u8; 32] =
                    hex("42cfa58bf5a281911b6c9471c67cf64f70a820b033415190db3da91710c5ff2c")
                        .try_into()
                        .unwrap();
                let masked = drv.modulo_text(&store, true, |_| Ok(input_hash)).unwrap();
                assert_eq!(String::from_utf8(masked).unwrap(), text);
                let paths = drv
                    .compute_output_paths(&store, name, |_| Ok(input_hash))
                    .unwrap();
                assert_eq!(
                    store.display(&paths["out"]),
                    s(&v["expected_output_paths_guix_rule"], "out")
                );
            }
            "modulo-text" => {
                assert_eq!(s(&v, "applies_to"), "nix-only");
                // Modern Nix merges the output sets of inputs that hash alike,
                // and so does the library in `/nix/store`; in a Guix store the
                // daemon's map keeps only the last one, and so does the
                // library.
                let text = s(&v, "modulo_text");
                let shared: [u8; 32] =
                    hex("6df335a6cafec6b08aa38163a4a3d1b8f04bc8dc10de4ad35d677f911f2d3b5a")
                        .try_into()
                        .unwrap();
                for dir in ["/nix/store", "/gnu/store"] {
                    let store = StoreDir::new(dir).unwrap();
                    let mut drv = Derivation::default();
                    drv.outputs.insert("out".into(), Output::default());
                    let first = store
                        .parse(&format!(
                            "{dir}/f8g8x4m83da3b2f79iv84q2r3qlc58lr-intermediate.drv"
                        ))
                        .unwrap();
                    let second = store
                        .parse(&format!(
                            "{dir}/kp6i4n4bb3hlniwqjakhlf046qpdc0gl-intermediate.drv"
                        ))
                        .unwrap();
                    drv.input_derivations
                        .insert(first, BTreeSet::from(["dev".to_owned()]));
                    drv.input_derivations
                        .insert(second, BTreeSet::from(["out".to_owned()]));
                    drv.system = "x86_64-linux".into();
                    drv.builder = "/bin/parent".into();
                    let ours =
                        String::from_utf8(drv.modulo_text(&store, false, |_| Ok(shared)).unwrap())
                            .unwrap();
                    if dir == "/nix/store" {
                        assert_eq!(ours, text);
                    } else {
                        assert_eq!(ours, text.replace(r#"["dev","out"]"#, r#"["out"]"#));
                    }
                }
            }
            other => panic!("unknown hash_modulo vector kind {other}"),
        }
        n += 1;
    }
    assert_eq!(n, 5);
}

#[test]
fn narinfo() {
    let mut n = 0;
    for v in section("narinfo") {
        match s(&v, "kind") {
            "guix-signed" => {
                let text = s(&v, "text");
                let info = NarInfo::parse(text).unwrap();
                assert_eq!(info.to_string(), text);
                let digest = guix_signed_sha256(text).unwrap();
                assert_eq!(
                    encoding::base16_encode(&digest).to_uppercase(),
                    s(&v, "signed_prefix_sha256_hex_upper")
                );
                let sig = GuixSignature::parse(info.signature.as_deref().unwrap()).unwrap();
                assert_eq!(sig.host, s(&v, "signature_hostname"));
                assert_eq!(
                    encoding::base16_encode(&sig.r).to_uppercase(),
                    s(&v, "r_hex_upper")
                );
                assert_eq!(
                    encoding::base16_encode(&sig.s).to_uppercase(),
                    s(&v, "s_hex_upper")
                );
                assert_eq!(
                    encoding::base16_encode(&sig.public_key).to_uppercase(),
                    s(&v["public_key"], "q_hex_upper")
                );
                assert_eq!(sig.verify(text), v["expected_valid"].as_bool().unwrap());
            }
            "nix-fingerprint-signature" => {
                let mut info = NarInfo::new(
                    s(&v, "store_path").into(),
                    Hash::parse_prefixed(s(&v, "nar_hash")).unwrap(),
                    v["nar_size"].as_u64().unwrap(),
                );
                info.references = v["references"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r.as_str().unwrap().to_owned())
                    .collect();
                let fp = info.fingerprint().unwrap();
                assert_eq!(fp, s(&v, "expected_fingerprint"));
                let valid = verify_nix_signature(&fp, s(&v, "sig"), s(&v, "public_key")).unwrap();
                assert_eq!(valid, v["expected_valid"].as_bool().unwrap());
            }
            "guix-unsigned" => {
                let text = s(&v, "text");
                let info = NarInfo::parse(text).unwrap();
                assert_eq!(info.to_string(), text);
                assert_eq!(info.to_guix_string(), text);
                assert!(info.signature.is_none());
                assert_eq!(guix_signed_sha256(text), None);
            }
            other => panic!("unknown narinfo vector kind {other}"),
        }
        n += 1;
    }
    assert_eq!(n, 3);
}

#[test]
fn every_section_is_covered() {
    let v = vectors();
    let sections: BTreeMap<&str, usize> = v
        .as_object()
        .unwrap()
        .iter()
        .filter_map(|(k, x)| x.as_array().map(|a| (k.as_str(), a.len())))
        .collect();
    let tested = [
        "base32_rfc4648",
        "base64",
        "drv",
        "hash_modulo",
        "nar",
        "narinfo",
        "nix32",
        "store_paths",
    ];
    assert_eq!(
        sections.keys().copied().collect::<Vec<_>>(),
        tested,
        "a new section needs a test"
    );
}
