//! Tests of the borrowed reader ([`DerivationRef`]) and of the hashes it
//! splices from canonical bytes, against the owned form and its written
//! modulo texts (the reference).
#![allow(clippy::unwrap_used)]

use super::tests::{MINIMAL, derivation_strategy};
use super::*;
use crate::encoding::base16_encode;
use crate::store_path::StoreDir;
use proptest::prelude::*;
use std::borrow::Cow;

fn store() -> StoreDir {
    StoreDir::default()
}

#[test]
fn reads_without_copying() {
    let store = store();
    let drv = DerivationRef::parse(&store, MINIMAL.as_bytes()).unwrap();
    assert!(drv.is_canonical());
    assert_eq!(drv, Derivation::parse(&store, MINIMAL.as_bytes()).unwrap());
    let out = drv.output("out").unwrap();
    assert!(matches!(out.name, Cow::Borrowed("out")));
    assert_eq!(
        out.path.as_ref().unwrap().base_name(),
        "280xcws0xz6c1gx6721jyj2d8j0ly9gz-minimal"
    );
    assert_eq!(out.path.as_ref().unwrap().name(), "minimal");
    assert!(matches!(drv.system(), "x86_64-linux"));
    assert!(
        drv.environment()
            .iter()
            .all(|(k, v)| matches!((k, v), (Cow::Borrowed(_), Cow::Borrowed(_))))
    );
    assert_eq!(drv.env("PATH"), Some(&b"/bin"[..]));
    let args: Vec<Cow<'_, [u8]>> = drv.arguments().iter().collect();
    assert_eq!(args, [&b"-c"[..], b"echo 'Success' > $out"]);
    assert_eq!(drv.arguments().len(), 2);
    assert!(drv.input_derivations().is_empty() && drv.input_sources().is_empty());
    assert_eq!(drv.bytes(), MINIMAL.as_bytes());
}

const DEP: &str = "/gnu/store/00000000000000000000000000000001-dep.drv";
const DEP2: &str = "/gnu/store/00000000000000000000000000000002-dep.drv";
const SRC: &str = "/gnu/store/00000000000000000000000000000003-src";
const SRC2: &str = "/gnu/store/00000000000000000000000000000004-src";

/// A small text with every list filled, from its parts.
fn text(outputs: &str, inputs: &str, sources: &str, args: &str, env: &str) -> String {
    format!(
        r#"Derive([{outputs}],[{inputs}],[{sources}],"x86_64-linux","/bin/sh",[{args}],[{env}])"#
    )
}

#[test]
fn the_canonical_flag_says_whether_the_text_writes_back() {
    let store = store();
    let out = r#"("lib","","",""),("out","","","")"#;
    let inputs = format!(r#"("{DEP}",["lib","out"]),("{DEP2}",["out"])"#);
    let sources = format!(r#""{SRC}","{SRC2}""#);
    let env = r#"("a","1"),("b","2")"#;
    let cases = [
        (text(out, &inputs, &sources, r#""x""#, env), true),
        // The writer's escapes are canonical.
        (
            text(out, &inputs, &sources, r#""a\"b\\c\nd\re\tf""#, env),
            true,
        ),
        // Any other escape, or a raw LF, CR or TAB, is not.
        (text(out, &inputs, &sources, r#""\a""#, env), false),
        (text(out, &inputs, &sources, "\"a\nb\"", env), false),
        (text(out, &inputs, &sources, "\"a\tb\"", env), false),
        // Nor is any keyed list out of order.
        (
            text(
                r#"("out","","",""),("lib","","","")"#,
                &inputs,
                &sources,
                r#""x""#,
                env,
            ),
            false,
        ),
        (
            text(
                out,
                &format!(r#"("{DEP2}",["out"]),("{DEP}",["lib","out"])"#),
                &sources,
                r#""x""#,
                env,
            ),
            false,
        ),
        (
            text(
                out,
                &format!(r#"("{DEP}",["out","lib"]),("{DEP2}",["out"])"#),
                &sources,
                r#""x""#,
                env,
            ),
            false,
        ),
        (
            text(out, &inputs, &format!(r#""{SRC2}","{SRC}""#), r#""x""#, env),
            false,
        ),
        (
            text(out, &inputs, &sources, r#""x""#, r#"("b","2"),("a","1")"#),
            false,
        ),
    ];
    for (text, canonical) in cases {
        let drv = DerivationRef::parse(&store, text.as_bytes()).unwrap();
        let owned = Derivation::parse(&store, text.as_bytes()).unwrap();
        assert_eq!(drv, owned, "{text}");
        assert_eq!(drv.is_canonical(), canonical, "{text}");
        assert_eq!(
            owned.to_aterm(&store) == text.as_bytes(),
            canonical,
            "{text}"
        );
    }
}

/// In a list out of order, a repeated key is still found, and reported at
/// its second occurrence (which the reader finds by reading the list again).
#[test]
fn repeats_in_unsorted_lists_are_found_at_their_offset() {
    let store = store();
    let cases = [
        (
            text(
                r#"("out","","",""),("lib","","",""),("out","","","")"#,
                "",
                "",
                "",
                "",
            ),
            r#"("out"#,
            2,
            1,
            "duplicate output `out`",
        ),
        (
            text(
                "",
                &format!(r#"("{DEP2}",["out"]),("{DEP}",["out"]),("{DEP2}",["lib"])"#),
                "",
                "",
                "",
            ),
            &*format!(r#"("{DEP2}""#),
            2,
            1,
            "duplicate input derivation",
        ),
        (
            text("", &format!(r#"("{DEP}",["out","lib","out"])"#), "", "", ""),
            r#""out""#,
            2,
            0,
            "duplicate output name of an input `out`",
        ),
        (
            text("", "", &format!(r#""{SRC2}","{SRC}","{SRC2}""#), "", ""),
            &*format!(r#""{SRC2}""#),
            2,
            0,
            "duplicate input source",
        ),
        (
            text("", "", "", "", r#"("b","1"),("a","2"),("b","3")"#),
            r#"("b""#,
            2,
            1,
            "duplicate environment variable `b`",
        ),
    ];
    for (text, needle, nth, skip, message) in cases {
        let offset = text.match_indices(needle).nth(nth - 1).unwrap().0 + skip;
        let err = DerivationRef::parse(&store, text.as_bytes()).unwrap_err();
        assert_eq!(err.offset, offset, "{text}: {err}");
        assert!(err.to_string().contains(message), "{text}: {err}");
        assert_eq!(Derivation::parse(&store, text.as_bytes()), Err(err));
    }
}

/// Input hashes with a collision: `b` and `c` hash alike, so the later one
/// in path order (`c`) stays in the modulo text.
#[test]
fn spliced_texts_equal_the_written_ones() {
    let store = store();
    let sp = |s: &str| StorePath::from_base_name(s).unwrap();
    let (a, b, c) = (
        sp("0aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-a.drv"),
        sp("0bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-b.drv"),
        sp("0ccccccccccccccccccccccccccccccc-c.drv"),
    );
    let (out, lib) = (
        sp("1ddddddddddddddddddddddddddddddd-x"),
        sp("1fffffffffffffffffffffffffffffff-x-lib"),
    );
    let output = |p: &StorePath| Output {
        path: Some(p.clone()),
        ..Output::default()
    };
    let drv = Derivation {
        outputs: BTreeMap::from([("out".into(), output(&out)), ("lib".into(), output(&lib))]),
        input_derivations: BTreeMap::from([
            (a.clone(), BTreeSet::from(["out".to_owned()])),
            (b.clone(), BTreeSet::from(["dev".into(), "out".into()])),
            (c.clone(), BTreeSet::from(["lib".to_owned()])),
        ]),
        dynamic_inputs: BTreeMap::new(),
        input_sources: BTreeSet::from([sp("0sssssssssssssssssssssssssssssss-s")]),
        system: "x86_64-linux".into(),
        builder: "/bin/sh".into(),
        arguments: vec![b"-c".to_vec(), b"echo \"hi\"\n".to_vec()],
        environment: BTreeMap::from([
            (b"lib".to_vec(), store.display(&lib).into_bytes()),
            (b"out".to_vec(), store.display(&out).into_bytes()),
            (b"tab".to_vec(), b"a\tb\\c".to_vec()),
        ]),
    };
    let hashes = BTreeMap::from([(a, [3u8; 32]), (b, [1u8; 32]), (c, [1u8; 32])]);
    let owned = |p: &StorePath| Ok(hashes[p]);
    let borrowed = |p: &StorePathRef<'_>| Ok(hashes[&p.to_store_path()]);
    let mut without_lib = drv.clone();
    without_lib.environment.remove(&b"lib"[..]);
    // With every output variable the texts are spliced; without one, they
    // come from the owned form: the same either way, with the Guix rule
    // for colliding inputs and with Nix's.
    let nix = StoreDir::new(StoreDir::NIX).unwrap();
    for (drv, store) in [(&drv, &store), (&without_lib, &store), (&drv, &nix)] {
        let bytes = drv.to_aterm(store);
        let r = DerivationRef::parse(store, &bytes).unwrap();
        for masked in [false, true] {
            assert_eq!(
                r.modulo_text(store, masked, borrowed).unwrap(),
                drv.modulo_text(store, masked, owned).unwrap()
            );
        }
        let text = String::from_utf8(drv.modulo_text(store, false, owned).unwrap()).unwrap();
        let collided = format!("(\"{}\",", base16_encode(&[1u8; 32]));
        let merged = if store == &nix {
            r#"["dev","lib","out"]"#
        } else {
            r#"["lib"]"#
        };
        assert!(text.contains(&format!("{collided}{merged})")), "{text}");
        let h = r.hashes(store, borrowed).unwrap();
        assert_eq!(h, drv.hashes(store, owned).unwrap());
        assert_eq!(
            h.modulo.clone().unwrap(),
            drv.hash_modulo(store, owned).unwrap()
        );
        assert_eq!(
            r.output_paths(store, "x", &h).unwrap(),
            drv.compute_output_paths(store, "x", owned).unwrap()
        );
        assert_eq!(
            r.check_output_paths_with(store, "x", &h).unwrap(),
            drv.check_output_paths(store, "x", owned).unwrap()
        );
    }
}

#[test]
fn fixed_outputs_hash_without_inputs() {
    let store = StoreDir::new("/nix/store").unwrap();
    let text = r#"Derive([("out","/nix/store/4q0pg5zpfmznxscq3avycvf9xdvx50n3-bar","r:sha256","08813cbee9903c62be4c5027726a418a300da4500b2d369d3af9286f4815ceba")],[],[],":",":",[],[("builder",":"),("name","bar"),("out","/nix/store/4q0pg5zpfmznxscq3avycvf9xdvx50n3-bar"),("outputHash","08813cbee9903c62be4c5027726a418a300da4500b2d369d3af9286f4815ceba"),("outputHashAlgo","sha256"),("outputHashMode","recursive"),("system",":")])"#;
    let drv = DerivationRef::parse(&store, text.as_bytes()).unwrap();
    let never = |p: &StorePathRef<'_>| -> Result<[u8; 32], DerivationError> {
        panic!("asked for the hash of {p}")
    };
    let h = drv.hashes(&store, never).unwrap();
    assert_eq!(
        base16_encode(&h.modulo.clone().unwrap()),
        "724f3e3634fce4cbbbd3483287b8798588e80280660b9a63fd13a1bc90485b33"
    );
    assert_eq!(h.masked, None);
    assert!(
        drv.check_output_paths_with(&store, "bar", &h)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.display(&drv.drv_path(&store, "bar").unwrap()),
        "/nix/store/0hm2f1psjpcwg8fijsmr4wwxrx59s092-bar.drv"
    );
}

/// Strings that are almost store paths: right and wrong prefixes, nix32
/// and other characters, dashes, slashes, dots, non-ASCII.
fn almost_paths() -> impl Strategy<Value = String> {
    (
        prop_oneof![
            Just("/gnu/store/"),
            Just("/nix/store/"),
            Just("/gnu/store"),
            Just("/gnu/store//"),
            Just(""),
        ],
        "[0-9a-z]{30,33}",
        "[-a-zA-Z0-9.+_?=/ é]{0,12}",
    )
        .prop_map(|(prefix, hash, rest)| format!("{prefix}{hash}{rest}"))
}

/// What the proptests below hash with: a small pool, so that inputs
/// collide.
fn pooled(p: &StorePath) -> [u8; 32] {
    [p.hash_part_bytes()[0] % 3; 32]
}

/// Every hash a borrowed derivation gives equals the owned form's.
fn assert_hashes_agree(store: &StoreDir, r: &DerivationRef<'_>, drv: &Derivation) {
    let owned = |p: &StorePath| Ok(pooled(p));
    let borrowed = |p: &StorePathRef<'_>| Ok(pooled(&p.to_store_path()));
    let h = r.hashes(store, borrowed);
    assert_eq!(h, drv.hashes(store, owned));
    assert_eq!(
        r.hash_modulo(store, borrowed),
        drv.hash_modulo(store, owned)
    );
    for masked in [false, true] {
        assert_eq!(
            r.modulo_text(store, masked, borrowed),
            drv.modulo_text(store, masked, owned)
        );
    }
    assert_eq!(
        r.compute_output_paths(store, "x", borrowed),
        drv.compute_output_paths(store, "x", owned)
    );
    assert_eq!(
        r.check_output_paths(store, "x", borrowed),
        drv.check_output_paths(store, "x", owned)
    );
}

proptest! {
    #[test]
    fn store_path_refs_parse_like_store_paths(path in almost_paths()) {
        let store = store();
        let borrowed = StorePathRef::parse(&store, &path);
        prop_assert_eq!(
            borrowed.clone().map(|p| p.to_store_path()),
            store.parse(&path)
        );
        if let Ok(p) = borrowed {
            let owned = p.to_store_path();
            prop_assert_eq!(p.hash_part(), owned.hash_part_bytes());
            prop_assert_eq!(p.name(), owned.name());
            prop_assert_eq!(p.display(&store), store.display(&owned));
        }
    }

    #[test]
    fn borrowed_and_owned_forms_agree(drv in derivation_strategy(), fill_env in any::<bool>()) {
        let store = store();
        let mut drv = drv;
        if fill_env {
            // Every output's variable present: the texts are spliced.
            for (name, o) in &drv.outputs {
                let value = o.path.as_ref().map(|p| store.display(p)).unwrap_or_default();
                drv.environment.insert(name.as_bytes().to_vec(), value.into_bytes());
            }
        }
        let text = drv.to_aterm(&store);
        let r = DerivationRef::parse(&store, &text).unwrap();
        prop_assert!(r.is_canonical());
        prop_assert_eq!(&r, &drv);
        prop_assert_eq!(r.to_derivation(), drv.clone());
        prop_assert_eq!(r.references().count(), drv.references().count());
        assert_hashes_agree(&store, &r, &drv);
    }

    /// Texts that do not write back (lists reversed, a needless escape)
    /// read as the same derivation, say so, and hash like the reference.
    #[test]
    fn non_canonical_texts_agree_too(drv in derivation_strategy(), escape in any::<bool>()) {
        let store = store();
        let mut drv = drv;
        drv.system = "x86_64-linux".into();
        drv.dynamic_inputs.clear();
        let paths: Vec<String> = drv
            .outputs
            .values()
            .map(|o| o.path.as_ref().map(|p| store.display(p)).unwrap_or_default())
            .collect();
        let inputs: Vec<(String, &BTreeSet<String>)> = drv
            .input_derivations
            .iter()
            .map(|(p, o)| (store.display(p), o))
            .collect();
        let sources: Vec<String> = drv.input_sources.iter().map(|p| store.display(p)).collect();
        let mut text = b"Derive(".to_vec();
        aterm::write_derive(
            &mut text,
            drv.outputs
                .iter()
                .zip(&paths)
                .map(|((n, o), p)| (n.as_str(), p.as_str(), o.hash_algo.as_str(), o.hash.as_str()))
                .rev(),
            inputs.iter().map(|(p, o)| (p.as_str(), *o, None)).rev(),
            sources.iter().map(String::as_str).rev(),
            &drv,
            drv.environment.iter().map(|(k, v)| (k.as_slice(), v.as_slice())).rev(),
        );
        if escape {
            let plain = br#""x86_64-linux""#;
            if let Some(at) = text.windows(plain.len()).position(|w| w == plain) {
                text.insert(at + 1, b'\\');
            }
        }
        let r = DerivationRef::parse(&store, &text).unwrap();
        prop_assert_eq!(&r, &drv);
        prop_assert_eq!(r.is_canonical(), drv.to_aterm(&store) == text);
        assert_hashes_agree(&store, &r, &drv);
    }

    #[test]
    fn any_bytes_read_alike(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let store = store();
        match (DerivationRef::parse(&store, &bytes), Derivation::parse(&store, &bytes)) {
            (Ok(r), Ok(d)) => {
                prop_assert_eq!(&r, &d);
                prop_assert_eq!(r.is_canonical(), d.to_aterm(&store) == bytes);
            }
            (Err(a), Err(b)) => prop_assert_eq!(a, b),
            (a, b) => prop_assert!(false, "{:?} vs {:?}", a.is_ok(), b.is_ok()),
        }
    }

    #[test]
    fn single_byte_changes_read_alike(pos in 0usize..MINIMAL.len(), byte in any::<u8>()) {
        let store = store();
        let mut bytes = MINIMAL.as_bytes().to_vec();
        bytes[pos] = byte;
        if let Ok(r) = DerivationRef::parse(&store, &bytes) {
            let d = Derivation::parse(&store, &bytes).unwrap();
            prop_assert_eq!(&r, &d);
            prop_assert_eq!(r.is_canonical(), d.to_aterm(&store) == bytes);
            assert_hashes_agree(&store, &r, &d);
        }
    }
}
