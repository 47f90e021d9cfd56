//! Tests of the owned derivation: parsing, writing, JSON, hashes and
//! output paths on hand-made and random derivations.
#![allow(clippy::unwrap_used)]

use super::*;
use crate::encoding::base16_encode;
use crate::store_path::StoreDir;
use proptest::prelude::*;
use std::collections::BTreeMap;

pub(super) const MINIMAL: &str = r#"Derive([("out","/gnu/store/280xcws0xz6c1gx6721jyj2d8j0ly9gz-minimal","","")],[],[],"x86_64-linux","/bin/sh",["-c","echo 'Success' > $out"],[("PATH","/bin"),("out","/gnu/store/280xcws0xz6c1gx6721jyj2d8j0ly9gz-minimal")])"#;

fn no_inputs(p: &StorePath) -> Result<[u8; 32], DerivationError> {
    Err(DerivationError::Input {
        path: p.to_string(),
        reason: "unexpected".into(),
    })
}

#[test]
fn minimal_guix_derivation() {
    let store = StoreDir::default();
    let drv = Derivation::parse(&store, MINIMAL.as_bytes()).unwrap();
    assert_eq!(drv.to_aterm(&store), MINIMAL.as_bytes());
    let outs = drv
        .compute_output_paths(&store, "minimal", no_inputs)
        .unwrap();
    assert_eq!(
        store.display(&outs["out"]),
        "/gnu/store/280xcws0xz6c1gx6721jyj2d8j0ly9gz-minimal"
    );
    assert!(
        drv.check_output_paths(&store, "minimal", no_inputs)
            .unwrap()
            .is_empty()
    );
    let path = drv.drv_path(&store, "minimal", MINIMAL.as_bytes()).unwrap();
    assert_eq!(
        store.display(&path),
        "/gnu/store/w9krgvil6919s2ghqgx443zb9krx75s6-minimal.drv"
    );
}

#[test]
fn fixed_output_hash_modulo() {
    let store = StoreDir::new("/nix/store").unwrap();
    let text = r#"Derive([("out","/nix/store/4q0pg5zpfmznxscq3avycvf9xdvx50n3-bar","r:sha256","08813cbee9903c62be4c5027726a418a300da4500b2d369d3af9286f4815ceba")],[],[],":",":",[],[("builder",":"),("name","bar"),("out","/nix/store/4q0pg5zpfmznxscq3avycvf9xdvx50n3-bar"),("outputHash","08813cbee9903c62be4c5027726a418a300da4500b2d369d3af9286f4815ceba"),("outputHashAlgo","sha256"),("outputHashMode","recursive"),("system",":")])"#;
    let drv = Derivation::parse(&store, text.as_bytes()).unwrap();
    assert!(drv.is_fixed_output());
    let h = drv.hash_modulo(&store, no_inputs).unwrap();
    assert_eq!(
        base16_encode(&h),
        "724f3e3634fce4cbbbd3483287b8798588e80280660b9a63fd13a1bc90485b33"
    );
    assert_eq!(
        store.display(&drv.drv_path(&store, "bar", text.as_bytes()).unwrap()),
        "/nix/store/0hm2f1psjpcwg8fijsmr4wwxrx59s092-bar.drv"
    );
    assert!(
        drv.check_output_paths(&store, "bar", no_inputs)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn masked_modulo_text_follows_the_guix_rule() {
    // The Nix "intermediate" derivation with its input replaced by the hash of
    // the source FOD; Guix always adds the output variables when masking.
    let store = StoreDir::new("/nix/store").unwrap();
    let src = "/nix/store/q4mzjdlh5px6977h7v5fdsk1p33yg583-source.drv";
    let text = format!(
        r#"Derive([("dev","/nix/store/xgskw9kbh807ah56r4f4kxdh0fa1i0ip-intermediate-dev","",""),("out","/nix/store/jlzxv2xpqj0adi22cy93573vyf9xr6fw-intermediate","","")],[("{src}",["out"])],[],"x86_64-linux","/bin/intermediate",[],[])"#
    );
    let drv = Derivation::parse(&store, text.as_bytes()).unwrap();
    let input = |_: &StorePath| {
        let mut h = [0u8; 32];
        h.copy_from_slice(
            &crate::encoding::base16_decode(
                "42cfa58bf5a281911b6c9471c67cf64f70a820b033415190db3da91710c5ff2c",
            )
            .unwrap(),
        );
        Ok(h)
    };
    let masked = drv.modulo_text(&store, true, input).unwrap();
    assert_eq!(
        String::from_utf8(masked).unwrap(),
        r#"Derive([("dev","","",""),("out","","","")],[("42cfa58bf5a281911b6c9471c67cf64f70a820b033415190db3da91710c5ff2c",["out"])],[],"x86_64-linux","/bin/intermediate",[],[("dev",""),("out","")])"#
    );
    let outs = drv
        .compute_output_paths(&store, "intermediate", input)
        .unwrap();
    assert_eq!(
        store.display(&outs["out"]),
        "/nix/store/9y9d7gv85dkhgy5k13cvss5bmbvc4hjm-intermediate"
    );
    assert_eq!(
        store.display(&outs["dev"]),
        "/nix/store/d643b76vd5qrddnjsmfz3gk0k47y70wz-intermediate-dev"
    );
}

#[test]
fn escapes_round_trip() {
    let store = StoreDir::default();
    let text = "Derive([],[],[],\"x86_64-linux\",\"b\",[\"a\\\"b\\\\c\\nd\\re\\tf\"],[(\"k\",\"\u{e9} \u{1}\")])";
    let drv = Derivation::parse(&store, text.as_bytes()).unwrap();
    assert_eq!(drv.arguments[0], b"a\"b\\c\nd\re\tf");
    assert_eq!(drv.to_aterm(&store), text.as_bytes());
    // A non-canonical escape reads as the character itself.
    let odd = Derivation::parse(&store, br#"Derive([],[],[],"s","b",["\a"],[])"#).unwrap();
    assert_eq!(odd.arguments[0], b"a");
}

fn parse_err(text: &str) -> ParseError {
    Derivation::parse(&StoreDir::default(), text.as_bytes()).unwrap_err()
}

#[test]
fn malformed_inputs_give_offsets() {
    let p = "/gnu/store/280xcws0xz6c1gx6721jyj2d8j0ly9gz-x";
    let d = "/gnu/store/280xcws0xz6c1gx6721jyj2d8j0ly9gz-x.drv";
    let cases: Vec<(String, usize, &str)> =
        vec![
        ("".into(), 0, "expected `Derive(` or `DrvWithVersion(`, found end of input"),
        ("Derive(".into(), 7, "expected `[`, found end of input"),
        (
            "Derive([],[],[],\"s\",\"b\",[],[])x".into(),
            30,
            "1 unexpected byte(s) after the end of the derivation",
        ),
        (
            "Derive([],[],[],\"s\",\"b\",[],[])\n".into(),
            30,
            "1 unexpected byte(s) after the end of the derivation",
        ),
        (
            "Derive([],[],[],\"s,\"b\",[],[])".into(),
            20,
            "expected `,`, found `b`",
        ),
        (
            "Derive([],[],[],\"s\",\"b\",[],[(\"a\",\"1\"),(\"a\",\"2\")])".into(),
            39,
            "duplicate environment variable `a`",
        ),
        (
            format!("Derive([],[],[\"{p}\",\"{p}\"],\"s\",\"b\",[],[])"),
            62,
            "duplicate input source",
        ),
        (
            format!("Derive([],[(\"{d}\",[\"out\",\"out\"])],[],\"s\",\"b\",[],[])"),
            71,
            "duplicate output name of an input `out`",
        ),
        (
            format!("Derive([],[(\"{p}\",[\"out\"])],[],\"s\",\"b\",[],[])"),
            12,
            "does not end in `.drv`",
        ),
        (
            "Derive([],[],[\"/nix/store/280xcws0xz6c1gx6721jyj2d8j0ly9gz-x\"],\"s\",\"b\",[],[])"
                .into(),
            14,
            "is not in the store",
        ),
        (
            "Derive([],[],[\"/gnu/store/280xcws0xz6c1gx6721jyj2d8j0ly9gz-a b\"],\"s\",\"b\",[],[])"
                .into(),
            14,
            "invalid character ' '",
        ),
        (
            "Derive([(\"out\",\"\",\"\",\"\"),(\"out\",\"\",\"\",\"\")],[],[],\"s\",\"b\",[],[])"
                .into(),
            26,
            "duplicate output `out`",
        ),
        (
            "Derive([],[],[],\"s\",\"b\",[\"abc".into(),
            25,
            "unterminated string",
        ),
        (
            "Derive([],[],[],\"s\",\"b\",[\"abc\\".into(),
            25,
            "unterminated string",
        ),
        (
            "Derive([],[],[],\"s\",\"b\",[\"a\" ],[])".into(),
            28,
            "expected `,` or `]`, found ` `",
        ),
        (
            "Derive([],[],[],\"\u{ff}\",\"b\",[],[])".into(),
            16,
            "system is not valid UTF-8",
        ),
    ];
    for (text, offset, message) in cases {
        // The UTF-8 case needs a raw byte, not the two-byte encoding of U+00FF.
        let bytes: Vec<u8> = if text.contains('\u{ff}') {
            text.replace('\u{ff}', "\u{1}")
                .into_bytes()
                .into_iter()
                .map(|b| if b == 1 { 0xff } else { b })
                .collect()
        } else {
            text.clone().into_bytes()
        };
        let err = Derivation::parse(&StoreDir::default(), &bytes).unwrap_err();
        assert_eq!(err.offset, offset, "offset for {text:?}: {err}");
        assert!(
            err.to_string().contains(message),
            "message for {text:?}: {err}"
        );
    }
    assert!(
        parse_err("Derive([],[],[],1,\"b\",[],[])")
            .to_string()
            .contains("expected `\"` (a string), found `1`")
    );
}

#[test]
fn json_round_trip_and_non_utf8() {
    let store = StoreDir::default();
    let mut drv = Derivation::parse(&store, MINIMAL.as_bytes()).unwrap();
    drv.environment
        .insert(b"raw".to_vec(), vec![0xc5, 0xc4, 0xd6]);
    let json = drv.to_json(&store, Some("minimal"));
    assert_eq!(json["env"]["raw"]["bytes"], "xcTW");
    let (back, name) = Derivation::from_json(&store, &json.to_string()).unwrap();
    assert_eq!(back, drv);
    assert_eq!(name.as_deref(), Some("minimal"));
    // Hashes in nix32 are normalised to base16.
    let text = r#"{"outputs":{"out":{"hashAlgo":"r:sha256","hash":"0sg9f58l1jj88w6pdrfdpj5x9b1zrwszk84j81zvby36q9whhhqa"}},"system":"x86_64-linux","builder":"builtin:download"}"#;
    let fod = Derivation::read_json(&store, text.as_bytes(), None, Some("x"))
        .unwrap()
        .derivation;
    assert_eq!(
        fod.outputs["out"].hash,
        "0a430879c266f8b57f4092a0f935cf3facd48bbccde5760d4748ca405171e969"
    );
    assert!(
        Derivation::from_json(
            &store,
            r#"{"outputs":{},"system":"s","builder":"b","bogus":1}"#
        )
        .is_err()
    );
}

/// Strategies for random derivations: every string is arbitrary bytes where
/// the format allows it, so escapes are exercised.
fn store_path_strategy() -> impl Strategy<Value = StorePath> {
    (
        "[0-9a-df-np-sv-z]{32}",
        "[A-Za-z0-9+_?=][A-Za-z0-9+._?=-]{0,20}",
    )
        .prop_map(|(h, n)| StorePath::from_base_name(&format!("{h}-{n}")).unwrap())
}

/// One output of any kind, with valid fields (see [`output`]).
fn output_strategy() -> impl Strategy<Value = Output> {
    let algo =
        prop_oneof![Just(""), Just("r:"), Just("text:"), Just("git:")].prop_flat_map(|method| {
            prop_oneof![Just("sha1"), Just("sha256"), Just("md5"), Just("sha512")]
                .prop_map(move |a| format!("{method}{a}"))
        });
    prop_oneof![
        store_path_strategy().prop_map(|p| Output {
            path: Some(p),
            ..Output::default()
        }),
        Just(Output::default()),
        (store_path_strategy(), algo.clone(), any::<[u8; 64]>()).prop_map(|(p, a, d)| {
            let len = crate::hash::HashAlgo::from_name(CaMethod::split(&a).1)
                .unwrap()
                .digest_len();
            Output {
                path: Some(p),
                hash_algo: a,
                hash: base16_encode(&d[..len]),
            }
        }),
        algo.clone().prop_map(|a| Output {
            path: None,
            hash_algo: a,
            hash: String::new(),
        }),
        algo.prop_map(|a| Output {
            path: None,
            hash_algo: a,
            hash: IMPURE_HASH.into(),
        }),
    ]
}

/// Outputs of outputs, two levels at most.
fn dynamic_strategy() -> impl Strategy<Value = BTreeMap<String, DynamicOutputs>> {
    let names = || proptest::collection::btree_set("[a-z]{1,4}", 0..3);
    let leaf = names().prop_map(|outputs| DynamicOutputs {
        outputs,
        dynamic: BTreeMap::new(),
    });
    let node = (
        names(),
        proptest::collection::btree_map("[a-z]{1,4}", leaf, 0..2),
    )
        .prop_map(|(outputs, dynamic)| DynamicOutputs { outputs, dynamic });
    proptest::collection::btree_map("[a-z]{1,4}", node, 0..2)
}

pub(super) fn derivation_strategy() -> impl Strategy<Value = Derivation> {
    let bytes = || proptest::collection::vec(any::<u8>(), 0..24);
    let text = || "\\PC{0,12}";
    (
        proptest::collection::btree_map(text(), output_strategy(), 0..4),
        proptest::collection::btree_map(
            store_path_strategy().prop_map(|p| {
                StorePath::from_base_name(&format!("{}.drv", p.base_name())).unwrap()
            }),
            (
                proptest::collection::btree_set(text(), 0..3),
                proptest::option::weighted(0.1, dynamic_strategy()),
            ),
            0..4,
        ),
        proptest::collection::btree_set(store_path_strategy(), 0..4),
        (text(), text()),
        proptest::collection::vec(bytes(), 0..4),
        proptest::collection::btree_map(bytes(), bytes(), 0..6),
    )
        .prop_map(
            |(outputs, inputs, input_sources, (system, builder), arguments, environment)| {
                let dynamic_inputs = inputs
                    .iter()
                    .filter_map(|(p, (_, d))| {
                        d.clone().filter(|d| !d.is_empty()).map(|d| (p.clone(), d))
                    })
                    .collect();
                Derivation {
                    outputs,
                    input_derivations: inputs.into_iter().map(|(p, (o, _))| (p, o)).collect(),
                    dynamic_inputs,
                    input_sources,
                    system,
                    builder,
                    arguments,
                    environment,
                }
            },
        )
}

proptest! {
    #[test]
    fn write_parse_write(drv in derivation_strategy()) {
        let store = StoreDir::default();
        let text = drv.to_aterm(&store);
        let back = Derivation::parse(&store, &text).unwrap();
        prop_assert_eq!(&back, &drv);
        prop_assert_eq!(back.to_aterm(&store), text);
    }

    #[test]
    fn parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = Derivation::parse(&StoreDir::default(), &bytes);
    }

    #[test]
    fn parser_never_panics_on_mutated_drv(pos in 0usize..MINIMAL.len(), byte in any::<u8>()) {
        let mut bytes = MINIMAL.as_bytes().to_vec();
        bytes[pos] = byte;
        if let Ok(drv) = Derivation::parse(&StoreDir::default(), &bytes) {
            // Whatever parses writes back to the same bytes or to a canonical form.
            let again = drv.to_aterm(&StoreDir::default());
            prop_assert_eq!(Derivation::parse(&StoreDir::default(), &again).unwrap(), drv);
        }
    }
}
