//! Tests of the JSON forms: hand-made cases for each format's quirks, and
//! round trips of random derivations through every format.
#![allow(clippy::unwrap_used)]

use super::*;
use crate::derivation::output::OutputKind;
use crate::derivation::tests::derivation_strategy;
use proptest::prelude::*;
use serde_json::Value;

const MINIMAL: &str = crate::derivation::tests::MINIMAL;

fn nix() -> StoreDir {
    StoreDir::new(StoreDir::NIX).unwrap()
}

#[test]
fn non_utf8_values_round_trip_as_bytes() {
    let store = StoreDir::default();
    let mut drv = Derivation::parse(&store, MINIMAL.as_bytes()).unwrap();
    drv.environment
        .insert(b"raw".to_vec(), vec![0xc5, 0xc4, 0xd6]);
    drv.arguments.push(vec![0xff]);
    for format in JsonFormat::ALL {
        let json = drv.to_json_as(&store, Some("minimal"), format).unwrap();
        assert_eq!(json["env"]["raw"]["bytes"], "xcTW", "{format}");
        let text = json.to_string();
        let back = Derivation::read_json(&store, text.as_bytes(), None, None).unwrap();
        assert_eq!(back.derivation, drv, "{format}");
        // Without inputs, nix-2.18 looks like nix-2.17; asked for, it reads.
        let asked = Derivation::read_json(&store, text.as_bytes(), Some(format), None).unwrap();
        assert_eq!((asked.derivation, asked.format), (drv.clone(), format));
    }
    // A name that is not UTF-8 makes `env` a list of pairs.
    drv.environment.insert(vec![0xff], b"v".to_vec());
    let json = drv.to_json(&store, None);
    assert!(json["env"].is_array());
    assert_eq!(
        Derivation::from_json(&store, &json.to_string()).unwrap().0,
        drv
    );
}

#[test]
fn raw_bytes_in_json_strings_are_read_as_bytes() {
    // As tvix's cp1252 fixture holds them.
    let json = b"{\"outputs\":{\"out\":{}},\"system\":\":\",\"builder\":\":\",\"env\":{\"chars\":\"\xc5\xc4\xd6\",\"name\":\"cp1252\"}}";
    let read = Derivation::read_json(&StoreDir::default(), json, None, None).unwrap();
    assert_eq!(read.derivation.env("chars"), Some(&b"\xc5\xc4\xd6"[..]));
    assert_eq!(read.format, JsonFormat::Tvix);
    // The name comes from the environment when nothing else gives one.
    assert_eq!(read.name.as_deref(), Some("cp1252"));
    assert_eq!(read.name_from, NameSource::Environment);
    // Not in a text field.
    let bad = b"{\"outputs\":{},\"system\":\"\xff\",\"builder\":\":\"}";
    let err = Derivation::read_json(&StoreDir::default(), bad, None, None).unwrap_err();
    assert_eq!(err.to_string(), "system: not valid UTF-8");
}

#[test]
fn each_format_writes_its_own_shape() {
    let store = nix();
    let fixed = r#"Derive([("out","/nix/store/4q0pg5zpfmznxscq3avycvf9xdvx50n3-bar","r:sha256","08813cbee9903c62be4c5027726a418a300da4500b2d369d3af9286f4815ceba")],[],[],":",":",[],[("out","/nix/store/4q0pg5zpfmznxscq3avycvf9xdvx50n3-bar")])"#;
    let drv = Derivation::parse(&store, fixed.as_bytes()).unwrap();
    let out = |f| drv.to_json_as(&store, Some("bar"), f).unwrap()["outputs"]["out"].clone();
    let hex = "08813cbee9903c62be4c5027726a418a300da4500b2d369d3af9286f4815ceba";
    let path = "/nix/store/4q0pg5zpfmznxscq3avycvf9xdvx50n3-bar";
    assert_eq!(
        out(JsonFormat::Nix2_17),
        serde_json::json!({"hash": hex, "hashAlgo": "r:sha256", "path": path})
    );
    assert_eq!(
        out(JsonFormat::Nix2_23),
        serde_json::json!({"hash": hex, "hashAlgo": "sha256", "method": "nar", "path": path})
    );
    assert_eq!(
        out(JsonFormat::Nix2_32),
        serde_json::json!({"hash": hex, "hashAlgo": "sha256", "method": "nar"})
    );
    assert_eq!(
        out(JsonFormat::Nix2_33),
        serde_json::json!({"hash": "sha256-CIE8vumQPGK+TFAncmpBijANpFALLTadOvkob0gVzro=", "method": "nar"})
    );
    // Versions 3 and 4 need the name, and read back the path from it.
    assert!(drv.to_json_as(&store, None, JsonFormat::Nix2_33).is_err());
    for f in [JsonFormat::Nix2_32, JsonFormat::Nix2_33] {
        let json = drv.to_json_as(&store, Some("bar"), f).unwrap().to_string();
        let back = Derivation::read_json(&store, json.as_bytes(), None, None).unwrap();
        assert_eq!(back.derivation, drv);
    }
}

#[test]
fn floating_and_impure_outputs_in_every_format() {
    let store = nix();
    for (hash, extra) in [("", None), ("impure", Some(true))] {
        let text = format!(
            r#"Derive([("out","","r:sha256","{hash}")],[],[],"x86_64-linux","/bin/sh",[],[("out","/1rz4g4znpzjwh1xymhjpm42vipw92pr73vdgl6xs1hycac8kf2n9")])"#
        );
        let drv = Derivation::parse(&store, text.as_bytes()).unwrap();
        for format in JsonFormat::ALL {
            let json = drv.to_json_as(&store, Some("x"), format).unwrap();
            let out = &json["outputs"]["out"];
            assert_eq!(
                out.get("impure").and_then(Value::as_bool),
                extra,
                "{format}"
            );
            assert!(out.get("path").is_none());
            let back = Derivation::read_json(&store, json.to_string().as_bytes(), None, None)
                .unwrap()
                .derivation;
            assert_eq!(back, drv, "{format}");
            assert_eq!(back.to_aterm(&store), text.as_bytes());
        }
    }
}

#[test]
fn a_format_asked_for_must_match_the_data() {
    let store = nix();
    let v4 = r#"{"name":"x","version":4,"outputs":{"out":{}},"inputs":{"srcs":[],"drvs":{}},"system":"s","builder":"b","args":[],"env":{}}"#;
    let err = Derivation::read_json(&store, v4.as_bytes(), Some(JsonFormat::Nix2_17), None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("nix-2.33 format, not nix-2.17"), "{err}");
    let lists = r#"{"name":"x","outputs":{"out":{}},"inputDrvs":{"/nix/store/c015dhfh5l0lp6wxyvdn7bmwhbbr6hr9-dep2.drv":["out"]},"system":"s","builder":"b"}"#;
    assert!(
        Derivation::read_json(&store, lists.as_bytes(), Some(JsonFormat::Nix2_17), None).is_ok()
    );
    let err = Derivation::read_json(&store, lists.as_bytes(), Some(JsonFormat::Nix2_18), None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("`inputDrvs` values are lists"), "{err}");
    let unknown = r#"{"version":5,"outputs":{}}"#;
    assert_eq!(
        Derivation::read_json(&store, unknown.as_bytes(), None, None)
            .unwrap_err()
            .to_string(),
        "unsupported derivation JSON format version 5 (abovo reads 3 and 4, and the older unversioned forms)"
    );
}

#[test]
fn errors_name_the_key() {
    let store = nix();
    let cases = [
        (
            r#"{"outputs":{"out":{"bogus":1}},"system":"s","builder":"b"}"#,
            "outputs.out.bogus: unknown key",
        ),
        (
            r#"{"outputs":{"out":{"hash":"00"}},"system":"s","builder":"b"}"#,
            "outputs.out.hashAlgo: missing",
        ),
        (
            r#"{"outputs":{"out":{"hashAlgo":"r:sha3"}},"system":"s","builder":"b"}"#,
            "outputs.out.hashAlgo: unknown hash algorithm `sha3`",
        ),
        (
            r#"{"outputs":{"out":{"hashAlgo":"r:sha256","path":"/nix/store/c015dhfh5l0lp6wxyvdn7bmwhbbr6hr9-x"}},"system":"s","builder":"b"}"#,
            "outputs.out.path: a floating content-addressed output has no path",
        ),
        (
            r#"{"outputs":{"out":{"hashAlgo":"sha256","hash":"abc","path":"/nix/store/c015dhfh5l0lp6wxyvdn7bmwhbbr6hr9-x"}},"system":"s","builder":"b"}"#,
            "outputs.out.hash: a sha256 digest cannot be 3",
        ),
        (r#"{"outputs":{},"system":"s"}"#, "builder: missing"),
        (
            r#"{"outputs":{},"system":"s","builder":"b","args":[1]}"#,
            "args[0]: expected a string",
        ),
        (
            r#"{"outputs":{},"system":"s","builder":"b","inputDrvs":{"/nix/store/c015dhfh5l0lp6wxyvdn7bmwhbbr6hr9-x":["out"]}}"#,
            "an input derivation ends in `.drv`",
        ),
        (
            r#"{"outputs":{"out":{"method":"nar","hash":"sha256-CIE8vumQPGK+TFAncmpBijANpFALLTadOvkob0gVzro="}},"system":"s","builder":"b"}"#,
            "outputs.out.path: missing, and the derivation's name",
        ),
        ("[1]", "the derivation: expected a JSON object"),
        ("{", "invalid JSON: EOF while parsing an object"),
    ];
    for (json, want) in cases {
        let err = Derivation::read_json(&store, json.as_bytes(), None, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "{json}: {err}");
    }
}

#[test]
fn structured_attrs_become_json_only_when_they_print_back_the_same() {
    let store = nix();
    let exact = r#"{"builder":":","name":"structured-attrs","system":":"}"#;
    let mut drv = Derivation::parse(&store, MINIMAL.replace("/gnu/", "/nix/").as_bytes()).unwrap();
    drv.environment
        .insert(b"__json".to_vec(), exact.as_bytes().to_vec());
    let json = drv.to_json_as(&store, None, JsonFormat::Nix2_30).unwrap();
    assert_eq!(json["structuredAttrs"]["name"], "structured-attrs");
    assert!(json["env"].get("__json").is_none());
    let back = Derivation::read_json(&store, json.to_string().as_bytes(), None, None).unwrap();
    assert_eq!(back.derivation, drv);
    // With a space, the bytes stay a variable.
    drv.environment
        .insert(b"__json".to_vec(), br#"{"a": 1}"#.to_vec());
    let json = drv.to_json_as(&store, None, JsonFormat::Nix2_30).unwrap();
    assert!(json.get("structuredAttrs").is_none());
    assert_eq!(json["env"]["__json"], r#"{"a": 1}"#);
}

#[test]
fn wrappers_of_nix_derivation_show_are_unwrapped() {
    let store = nix();
    let inner = r#"{"outputs":{"out":{}},"system":"s","builder":"b"}"#;
    for (json, name) in [
        (
            format!(r#"{{"/nix/store/c015dhfh5l0lp6wxyvdn7bmwhbbr6hr9-hello.drv":{inner}}}"#),
            "hello",
        ),
        (
            format!(
                r#"{{"version":4,"derivations":{{"c015dhfh5l0lp6wxyvdn7bmwhbbr6hr9-hi.drv":{inner}}}}}"#
            ),
            "hi",
        ),
    ] {
        let read = Derivation::read_json(&store, json.as_bytes(), None, None).unwrap();
        assert_eq!(read.name.as_deref(), Some(name));
        assert_eq!(read.name_from, NameSource::WrapperKey);
    }
    let two = format!(
        r#"{{"/nix/store/c015dhfh5l0lp6wxyvdn7bmwhbbr6hr9-a.drv":{inner},"/nix/store/c015dhfh5l0lp6wxyvdn7bmwhbbr6hr9-b.drv":{inner}}}"#
    );
    let err = Derivation::read_json(&store, two.as_bytes(), None, None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("it holds 2 derivations"), "{err}");
}

/// Makes a random derivation fit `format` and `store`: fixed outputs get
/// the path their hash gives (formats 3 and 4 do not record it), and a
/// format without nested inputs gets none.
fn fitted(mut drv: Derivation, store: &StoreDir, format: JsonFormat) -> Option<Derivation> {
    if !format.nested_inputs() {
        drv.dynamic_inputs.clear();
    }
    for (name, o) in drv.outputs.iter_mut() {
        if let Ok(OutputKind::Fixed(ca)) = o.kind() {
            let path_name = crate::store_path::output_path_name("x", name);
            o.path = Some(ca.path(store, &path_name).ok()?);
        }
    }
    Some(drv)
}

proptest! {
    /// Every format writes what it reads back, and is detected as itself.
    #[test]
    fn every_format_round_trips(drv in derivation_strategy(), which in 0usize..JsonFormat::ALL.len()) {
        let store = StoreDir::default();
        let format = JsonFormat::ALL[which];
        let Some(drv) = fitted(drv, &store, format) else { return Ok(()) };
        let json = drv.to_json_as(&store, Some("x"), format).unwrap();
        let text = serde_json::to_string_pretty(&json).unwrap();
        let back = Derivation::read_json(&store, text.as_bytes(), None, Some("x")).unwrap();
        prop_assert_eq!(&back.derivation, &drv);
        prop_assert_eq!(back.derivation.to_aterm(&store), drv.to_aterm(&store));
        // Detection is by shape: a simple derivation looks like an older
        // format, but reading it as the one asked for agrees.
        let asked = Derivation::read_json(&store, text.as_bytes(), Some(format), Some("x"));
        prop_assert_eq!(&asked.map(|r| r.derivation).ok(), &Some(drv.clone()));
    }

    /// Arbitrary bytes never make the reader panic.
    #[test]
    fn reader_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = Derivation::read_json(&StoreDir::default(), &bytes, None, None);
    }

    /// Nor do single-byte changes of a valid JSON derivation.
    #[test]
    fn reader_never_panics_on_mutated_json(drv in derivation_strategy(), pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let store = StoreDir::default();
        let Some(drv) = fitted(drv, &store, JsonFormat::Nix2_33) else { return Ok(()) };
        let mut text = drv.to_json_as(&store, Some("x"), JsonFormat::Nix2_33).unwrap().to_string().into_bytes();
        let i = pos.index(text.len());
        text[i] = byte;
        if let Ok(read) = Derivation::read_json(&store, &text, None, None) {
            // Whatever reads writes back and reads again the same.
            let again = read.derivation.to_json_as(&store, Some("x"), JsonFormat::Nix2_18);
            if let Ok(again) = again {
                let back = Derivation::read_json(&store, again.to_string().as_bytes(), None, Some("x")).unwrap();
                prop_assert_eq!(back.derivation, read.derivation);
            }
        }
    }
}
