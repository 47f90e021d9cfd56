//! Narinfo parsing, writing and signatures, on the real vectors of
//! docs/formats.md §8 and §10 and on quirky and broken inputs.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use super::signature::verify_ecdsa_ed25519;
use super::*;
use proptest::prelude::*;

const GUIX_SIGNED: &str = "StorePath: /gnu/store/803q5wapfnmr91ag8d9dzwabkbdxz3ay-hello-2.10\nURL: nar/gzip/803q5wapfnmr91ag8d9dzwabkbdxz3ay-hello-2.10\nCompression: gzip\nFileSize: 61822\nURL: nar/lzip/803q5wapfnmr91ag8d9dzwabkbdxz3ay-hello-2.10\nCompression: lzip\nFileSize: 52887\nNarHash: sha256:0g4k1kppjs5148ynm4zw4x1kpaby67npc3ws6s7y7hf0il1cgryk\nNarSize: 204328\nReferences: 803q5wapfnmr91ag8d9dzwabkbdxz3ay-hello-2.10 9vs3gkp6svam82zw7vjlml7iiarcs11c-glibc-2.31 bwvd5338kfm0vsc4i9xvh48vdxr5ywrz-gcc-7.5.0-lib\nSystem: i586-gnu\nDeriver: jqdvjhcxxnbq370y8i2c973c9zfiqrgl-hello-2.10.drv\nSignature: 1;berlin.guix.gnu.org;KHNpZ25hdHVyZSAKIChkYXRhIAogIChmbGFncyByZmM2OTc5KQogIChoYXNoIHNoYTI1NiAjMDVGOEY5NjMxRUU5QzcxM0REQUNBRTYwNUNCNjJBNzlDNUY4NEVFQTIwMjc5OERBNTQ3NURCOUU2Q0FBRDMwMSMpCiAgKQogKHNpZy12YWwgCiAgKGVjZHNhIAogICAociAjMDVBMzkzMTgwOUY1RkQyMTdGMDM4MUVDMTJEODYyNzIyOEYyNjJGRDA4MTcxQjREMzZBNEM0RjBBNjZEQkY4NSMpCiAgIChzICMwQTc2RjZGNENCOTMzQTczNzA4QkNGMzRGREExMzkyOTRGQTQxREQzQTUwQkEwOUE0ODRCQUQyOTA4MjQ5ODIxIykKICAgKQogICkKIChwdWJsaWMta2V5IAogIChlY2MgCiAgIChjdXJ2ZSBFZDI1NTE5KQogICAocSAjOEQxNTZGMjk1RDI0QjBEOUE4NkZBNTc0MUE4NDBGRjJEMjRGNjBGN0I2QzQxMzQ4MTRBRDU1NjI1OTcxQjM5NCMpCiAgICkKICApCiApCg==\n";

const GUIX_UNSIGNED: &str = "StorePath: /gnu/store/36spjx951ih4nmip9wm9a2rq7fxm8mbj-fake-gtk+\nURL: nar/36spjx951ih4nmip9wm9a2rq7fxm8mbj-fake-gtk%2B\nCompression: none\nFileSize: 128\nNarHash: sha256:1ysbwi8icaw2g5qmwjf9k0qd4d9gazd91kf1djycpk5ahwh4kmlp\nNarSize: 128\nReferences: \n";

fn hex(s: &str) -> Vec<u8> {
    crate::encoding::base16_decode(&s.to_ascii_lowercase()).unwrap()
}

#[test]
fn guix_signed_narinfo_parses_and_writes_back() {
    let info = NarInfo::parse(GUIX_SIGNED).unwrap();
    assert_eq!(info.urls.len(), 2);
    assert_eq!(info.compressions, ["gzip", "lzip"]);
    assert_eq!(info.file_sizes, [61822, 52887]);
    assert_eq!(info.nar_size, 204328);
    assert_eq!(info.references.len(), 3);
    assert_eq!(info.system.as_deref(), Some("i586-gnu"));
    assert_eq!(info.to_string(), GUIX_SIGNED);
    // This is also exactly Guix's own field order.
    assert_eq!(info.to_guix_string(), GUIX_SIGNED);
    let (store, path) = info.store_path().unwrap();
    assert_eq!(store.as_str(), "/gnu/store");
    assert_eq!(path.name(), "hello-2.10");
}

#[test]
fn guix_signature_verifies_on_the_real_narinfo() {
    let digest = guix_signed_sha256(GUIX_SIGNED).unwrap();
    assert_eq!(
        digest.to_vec(),
        hex("05F8F9631EE9C713DDACAE605CB62A79C5F84EEA202798DA5475DB9E6CAAD301")
    );
    let info = NarInfo::parse(GUIX_SIGNED).unwrap();
    let sig = GuixSignature::parse(info.signature.as_deref().unwrap()).unwrap();
    assert_eq!(sig.host, "berlin.guix.gnu.org");
    assert_eq!(sig.signed_hash, digest);
    assert_eq!(
        sig.r,
        hex("05A3931809F5FD217F0381EC12D8627228F262FD08171B4D36A4C4F0A66DBF85")
    );
    assert_eq!(
        sig.s,
        hex("0A76F6F4CB933A73708BCF34FDA139294FA41DD3A50BA09A484BAD2908249821")
    );
    assert_eq!(
        sig.public_key.to_vec(),
        hex("8D156F295D24B0D9A86FA5741A840FF2D24F60F7B6C4134814AD55625971B394")
    );
    assert!(
        sig.sexp
            .starts_with("(signature \n (data \n  (flags rfc6979)")
    );
    assert!(sig.verify(GUIX_SIGNED));
    let (valid, embedded) = info.verify_guix_signature().unwrap().unwrap();
    assert!(valid);
    assert_eq!(embedded, sig);
    assert_eq!(
        NarInfo::parse(GUIX_UNSIGNED)
            .unwrap()
            .verify_guix_signature(),
        Ok(None)
    );
    let mut edited = info.clone();
    edited.nar_size += 1;
    assert!(!edited.verify_guix_signature().unwrap().unwrap().0);
    // Any change to the signed text breaks it.
    let tampered = GUIX_SIGNED.replace("NarSize: 204328", "NarSize: 204329");
    assert!(!sig.verify(&tampered));
    // So does a changed r, s, digest or key.
    let mut r = sig.r.clone();
    r[31] ^= 1;
    assert!(!verify_ecdsa_ed25519(&digest, &r, &sig.s, &sig.public_key));
    let mut s = sig.s.clone();
    s[0] ^= 1;
    assert!(!verify_ecdsa_ed25519(&digest, &sig.r, &s, &sig.public_key));
    let mut d = digest;
    d[5] ^= 0x80;
    assert!(!verify_ecdsa_ed25519(&d, &sig.r, &sig.s, &sig.public_key));
    // The shift by 3 is essential: the low 3 bits of the digest do not count.
    let mut low = digest;
    low[31] ^= 0x07;
    assert!(verify_ecdsa_ed25519(&low, &sig.r, &sig.s, &sig.public_key));
    // r = 0 and r >= n are refused outright.
    assert!(!verify_ecdsa_ed25519(
        &digest,
        &[0],
        &sig.s,
        &sig.public_key
    ));
    assert!(!verify_ecdsa_ed25519(
        &digest,
        &[0xff; 32],
        &sig.s,
        &sig.public_key
    ));
}

#[test]
fn guix_signed_prefix_rules() {
    assert_eq!(
        guix_signed_sha256(GUIX_UNSIGNED),
        None,
        "no Signature: line"
    );
    // A prefix without References counts as unsigned.
    let no_refs = "StorePath: /gnu/store/36spjx951ih4nmip9wm9a2rq7fxm8mbj-x\nNarHash: sha256:1ysbwi8icaw2g5qmwjf9k0qd4d9gazd91kf1djycpk5ahwh4kmlp\nSignature: 1;h;AA==\n";
    assert_eq!(guix_signed_sha256(no_refs), None);
    // Whatever follows the first `Signature:` is not covered.
    let prefix = guix_signed_prefix(GUIX_SIGNED).unwrap();
    assert!(prefix.ends_with("hello-2.10.drv\n"));
}

#[test]
fn guix_unsigned_vector_round_trips_and_matches_its_content() {
    let info = NarInfo::parse(GUIX_UNSIGNED).unwrap();
    assert!(info.references.is_empty());
    assert_eq!(info.to_string(), GUIX_UNSIGNED);
    assert_eq!(info.to_guix_string(), GUIX_UNSIGNED);
    // The NAR hash and size are those of a regular file holding "Congrats!",
    // and the path is its add-text-to-store path.
    let nar = crate::nar::hash_regular_bytes(b"Congrats!", false);
    assert_eq!(info.nar_hash, nar.hash);
    assert_eq!(info.nar_size, nar.size);
    let (store, path) = info.store_path().unwrap();
    assert_eq!(
        store.make_text_path("fake-gtk+", b"Congrats!", []).unwrap(),
        path
    );
    // Nix order differs only in FileHash/FileSize order, absent here.
    assert_eq!(info.to_nix_string(), GUIX_UNSIGNED);
}

#[test]
fn nix_fingerprint_and_signature() {
    let mut info = NarInfo::new(
        "/nix/store/syd87l2rxw8cbsxmxl853h0r6pdwhwjr-curl-7.82.0-bin".into(),
        Hash::parse_prefixed("sha256:1b4sb93wp679q4zx9k1ignby1yna3z7c4c2ri3wphylbc2dwsys0")
            .unwrap(),
        196040,
    );
    info.references = [
        "0jqd0rlxzra1rs38rdxl43yh6rxchgc6-curl-7.82.0",
        "6w8g7njm4mck5dmjxws0z1xnrxvl81xa-glibc-2.34-115",
        "j5jxw3iy7bbz4a57fh9g2xm2gxmyal8h-zlib-1.2.12",
        "yxvjs9drzsphm9pcf42a4byzj1kb9m7k-openssl-1.1.1n",
    ]
    .map(String::from)
    .to_vec();
    let fp = info.fingerprint().unwrap();
    assert_eq!(
        fp,
        "1;/nix/store/syd87l2rxw8cbsxmxl853h0r6pdwhwjr-curl-7.82.0-bin;sha256:1b4sb93wp679q4zx9k1ignby1yna3z7c4c2ri3wphylbc2dwsys0;196040;/nix/store/0jqd0rlxzra1rs38rdxl43yh6rxchgc6-curl-7.82.0,/nix/store/6w8g7njm4mck5dmjxws0z1xnrxvl81xa-glibc-2.34-115,/nix/store/j5jxw3iy7bbz4a57fh9g2xm2gxmyal8h-zlib-1.2.12,/nix/store/yxvjs9drzsphm9pcf42a4byzj1kb9m7k-openssl-1.1.1n"
    );
    let key = "cache.nixos.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY=";
    let sig = "cache.nixos.org-1:TsTTb3WGTZKphvYdBHXwo6weVILmTytUjLB+vcX89fOjjRicCHmKA4RCPMVLkj6TMJ4GMX3HPVWRdD1hkeKZBQ==";
    assert_eq!(verify_nix_signature(&fp, sig, key), Ok(true));
    assert_eq!(
        verify_nix_signature(&fp.replace("196040", "196041"), sig, key),
        Ok(false)
    );
    assert!(matches!(
        verify_nix_signature(
            &fp,
            sig,
            "other-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY="
        ),
        Err(SignatureError::KeyNameMismatch { .. })
    ));
    assert!(matches!(
        verify_nix_signature(&fp, "cache.nixos.org-1:AAAA", key),
        Err(SignatureError::Malformed { .. })
    ));
    // Unsorted references give the same fingerprint.
    info.references.reverse();
    assert_eq!(info.fingerprint().unwrap(), fp);
    // Written in Nix order, and read back.
    info.urls.push("nar/x.nar.xz".into());
    info.compressions.push("xz".into());
    info.sigs.push(sig.into());
    let text = info.to_nix_string();
    assert!(text.starts_with("StorePath: /nix/store/syd87l2rxw8cbsxmxl853h0r6pdwhwjr-curl-7.82.0-bin\nURL: nar/x.nar.xz\nCompression: xz\nNarHash:"));
    assert!(text.ends_with(&format!("Sig: {sig}\n")));
    let back = NarInfo::parse(&text).unwrap();
    assert_eq!(back.to_string(), text);
    assert_eq!(back.fingerprint().unwrap(), fp);
    assert_eq!(
        back.valid_nix_signers(&[key]).unwrap(),
        ["cache.nixos.org-1"]
    );
    let other = "other-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY=";
    assert!(back.valid_nix_signers(&[other]).unwrap().is_empty());
    let mut wrong = back.clone();
    wrong.nar_size += 1;
    assert!(wrong.valid_nix_signers(&[key]).unwrap().is_empty());
}

#[test]
fn quirks_survive_a_round_trip() {
    let quirky = [
        // Nix order with FileHash, unknown field, base16 NarHash, no final newline.
        "StorePath: /nix/store/syd87l2rxw8cbsxmxl853h0r6pdwhwjr-curl\nURL: nar/a.nar.xz\nCompression: xz\nFileHash: sha256:1b4sb93wp679q4zx9k1ignby1yna3z7c4c2ri3wphylbc2dwsys0\nFileSize: 10\nNarHash: sha256:bac788414329413229a882d950ee2cfb5481c5a7affbe3eafcc8793b04335ae6\nNarSize: 0020\nReferences:\nDeriver: unknown-deriver\nX-Custom: keep me\nCA: fixed:r:sha256:1b4sb93wp679q4zx9k1ignby1yna3z7c4c2ri3wphylbc2dwsys0",
        // Order shuffled, double space between references, Key:Value without a space.
        "NarSize:5\nReferences: 803q5wapfnmr91ag8d9dzwabkbdxz3ay-hello-2.10  9vs3gkp6svam82zw7vjlml7iiarcs11c-glibc-2.31\nNarHash: sha256:0g4k1kppjs5148ynm4zw4x1kpaby67npc3ws6s7y7hf0il1cgryk\nStorePath: /gnu/store/803q5wapfnmr91ag8d9dzwabkbdxz3ay-hello-2.10\n",
    ];
    for text in quirky {
        let info = NarInfo::parse(text).unwrap();
        assert_eq!(info.to_string(), text);
    }
    // Changing a value rewrites that line canonically, the rest stays.
    let mut info = NarInfo::parse(quirky[1]).unwrap();
    info.nar_size = 6;
    info.deriver = Some("jqdvjhcxxnbq370y8i2c973c9zfiqrgl-hello-2.10.drv".into());
    assert_eq!(
        info.to_string(),
        quirky[1].replace("NarSize:5", "NarSize: 6")
            + "Deriver: jqdvjhcxxnbq370y8i2c973c9zfiqrgl-hello-2.10.drv\n"
    );
    // The canonical Guix form of a quirky narinfo is canonical.
    let canonical = NarInfo::parse(quirky[1]).unwrap().to_guix_string();
    assert!(canonical.starts_with(
        "StorePath: /gnu/store/803q5wapfnmr91ag8d9dzwabkbdxz3ay-hello-2.10\nNarHash: sha256:0g4k"
    ));
    assert!(canonical.contains("\nReferences: 803q5wapfnmr91ag8d9dzwabkbdxz3ay-hello-2.10 9vs3gkp6svam82zw7vjlml7iiarcs11c-glibc-2.31\n"));
}

#[test]
fn errors_name_the_line() {
    let cases: &[(&str, Option<usize>, &str)] = &[
        (
            "StorePath: /gnu/store/36spjx951ih4nmip9wm9a2rq7fxm8mbj-x\nStorePath: /gnu/store/36spjx951ih4nmip9wm9a2rq7fxm8mbj-x\n",
            Some(2),
            "duplicate field `StorePath` (first on line 1)",
        ),
        (
            "StorePath: /gnu/store/36spjx951ih4nmip9wm9a2rq7fxm8mbj-x\nNarSize: 12x\n",
            Some(2),
            "NarSize",
        ),
        (
            "StorePath: /gnu/store/36spjx951ih4nmip9wm9a2rq7fxm8mbj-x\nNarHash: sha256:abc\n",
            Some(2),
            "NarHash",
        ),
        ("StorePath: nowhere\n", Some(1), "StorePath"),
        (
            "StorePath: /gnu/store/36spjx951ih4nmip9wm9a2rq7fxm8mbj-x\n\nNarSize: 1\n",
            Some(2),
            "empty line",
        ),
        (
            "StorePath: /gnu/store/36spjx951ih4nmip9wm9a2rq7fxm8mbj-x\ngarbage\n",
            Some(2),
            "expected `Key: Value`",
        ),
        (
            "StorePath: /gnu/store/36spjx951ih4nmip9wm9a2rq7fxm8mbj-x\nReferences: not-a-path\n",
            Some(2),
            "References",
        ),
        (
            "StorePath: /gnu/store/36spjx951ih4nmip9wm9a2rq7fxm8mbj-x\nNarSize: 1\n",
            None,
            "missing required field `NarHash`",
        ),
        ("", None, "missing required field `StorePath`"),
    ];
    for (text, line, needle) in cases {
        let e = NarInfo::parse(text).unwrap_err();
        assert_eq!(e.line, *line, "{text:?}: {e}");
        assert!(e.to_string().contains(needle), "{text:?}: {e}");
        if let Some(n) = line {
            assert!(
                e.to_string().starts_with(&format!("narinfo line {n}: ")),
                "{e}"
            );
        }
    }
}

#[test]
fn guix_signature_errors_are_clear() {
    assert!(matches!(
        GuixSignature::parse("2;h;AA=="),
        Err(SignatureError::Malformed { .. })
    ));
    assert!(matches!(
        GuixSignature::parse("1;h"),
        Err(SignatureError::Malformed { .. })
    ));
    assert!(matches!(
        GuixSignature::parse("1;h;!!!"),
        Err(SignatureError::Malformed { .. })
    ));
    let b64 = |s: &str| crate::encoding::base64_encode(s.as_bytes());
    let e = GuixSignature::parse(&format!("1;h;{}", b64("(signature (data"))).unwrap_err();
    assert!(matches!(e, SignatureError::Sexp { .. }), "{e}");
    let e = GuixSignature::parse(&format!(
        "1;h;{}",
        b64("(signature (data (hash sha256 #00#)))")
    ))
    .unwrap_err();
    assert!(e.to_string().contains("32 bytes"), "{e}");
    let sexp = "(signature (data (hash sha512 #00#)) (sig-val (ecdsa (r #01#) (s #01#))) (public-key (ecc (curve Ed25519) (q #00#))))";
    assert!(matches!(
        GuixSignature::parse(&format!("1;h;{}", b64(sexp))),
        Err(SignatureError::Unsupported { what: "hash", .. })
    ));
}

proptest! {
    #[test]
    fn parse_never_panics_and_valid_text_round_trips(
        lines in proptest::collection::vec(
            prop_oneof![
                Just("StorePath: /gnu/store/36spjx951ih4nmip9wm9a2rq7fxm8mbj-x".to_owned()),
                Just("NarHash: sha256:1ysbwi8icaw2g5qmwjf9k0qd4d9gazd91kf1djycpk5ahwh4kmlp".to_owned()),
                Just("NarSize: 128".to_owned()),
                Just("References: ".to_owned()),
                "URL: [a-z/]{0,10}",
                "Compression: [a-z]{0,5}",
                "FileSize: [0-9]{1,5}",
                "[A-Za-z-]{1,8}: ?[ -~]{0,12}",
                "[ -~]{0,20}",
            ],
            0..10,
        ),
        newline in any::<bool>(),
    ) {
        let mut text = lines.join("\n");
        if newline { text.push('\n'); }
        if let Ok(info) = NarInfo::parse(&text) {
            prop_assert_eq!(info.to_string(), text);
            let canonical = info.to_guix_string();
            let again = NarInfo::parse(&canonical).unwrap();
            prop_assert_eq!(again.to_guix_string(), canonical);
        }
    }
}

/// What `guix publish` 1.5.0 served, in its own field order: written back
/// in that order byte for byte, and a narinfo signed by abovo in that
/// order has the same lines in the same places.
#[test]
fn guix_publish_order_is_the_fixtures() {
    let Some(dir) = std::env::var_os("ABOVO_GUIX_PUBLISH_FIXTURES") else {
        eprintln!("skipped: ABOVO_GUIX_PUBLISH_FIXTURES is not set");
        return;
    };
    let key = signing::SigningKey::from_seed("abovo-test-1", &[3; 32]);
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "narinfo") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let info = NarInfo::parse(&text).unwrap();
        assert_eq!(info.to_guix_publish_string(), text, "{}", path.display());
        let mut ours = info.clone();
        let signed = ours.sign_guix_publish(&key, "vm").unwrap();
        let keys = |t: &str| {
            t.lines()
                .map(|l| l.split(':').next().unwrap().to_owned())
                .collect::<Vec<_>>()
        };
        // The same fields in the same order, plus the Nix Sig after the
        // Guix Signature.
        let mut expected = keys(&text);
        let at = expected.iter().position(|k| k == "Signature").unwrap();
        expected.insert(at + 1, "Sig".to_owned());
        assert_eq!(keys(&signed), expected);
        let again = NarInfo::parse(&signed).unwrap();
        let (ok, sig) = again.verify_guix_signature().unwrap().unwrap();
        assert!(ok, "{}", path.display());
        assert_eq!(sig.public_key, key.public_key());
        checked += 1;
    }
    assert!(checked >= 10, "{checked}");
}

// Found with the fuzz target `narinfo` (fuzz/): a narinfo with an unknown
// field named `CompressiSignature` was signed, and its signature could not
// be verified, by abovo or by Guix, which both hash the text up to the
// first `Signature:`.
#[test]
fn a_signed_field_holding_signature_is_refused() {
    let key = signing::SigningKey::from_seed("test-1", &[1; 32]);
    let mut info = NarInfo::parse(GUIX_UNSIGNED).unwrap();
    for (field, value) in [
        ("CompressiSignature", "1;x;y"),
        ("Comment", "see Signature: below"),
    ] {
        let mut bad = info.clone();
        bad.extra.push((field.into(), value.into()));
        let err = bad.sign_guix_publish(&key, "h").unwrap_err();
        assert!(
            err.to_string()
                .contains(&format!("field to sign {field:?}")),
            "{err}"
        );
        assert_eq!(bad, {
            let mut b = info.clone();
            b.extra.push((field.into(), value.into()));
            b
        });
    }
    let mut bad = info.clone();
    bad.system = Some("x86_64-linux Signature:".into());
    assert!(bad.sign_guix_publish(&key, "h").is_err());
    let text = info.sign_guix_publish(&key, "h").unwrap();
    let (valid, _) = NarInfo::parse(&text)
        .unwrap()
        .verify_guix_signature()
        .unwrap()
        .unwrap();
    assert!(valid);
}
