//! The narinfo parser and its signatures on arbitrary text. It must never
//! panic; a parsed narinfo writes back to exactly its input (quirks are
//! kept), and its Guix and Nix orders parse back to the same fields. One
//! whose store path and references are valid, signed as `guix publish`
//! signs, verifies (Guix `Signature:` and Nix `Sig:`, by the signing key)
//! and stops verifying once a signed field changes; signing refuses only
//! a narinfo whose signed fields hold `Signature:`.
#![no_main]
use abovo_store::narinfo::{NarInfo, SignatureError, SigningKey};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::from_seed("fuzz-1", &[7; 32]))
}

/// The fields, without the text layout a parse records.
fn fields(info: &NarInfo) -> NarInfo {
    let mut plain = NarInfo::new(info.store_path.clone(), info.nar_hash, info.nar_size);
    plain.urls = info.urls.clone();
    plain.compressions = info.compressions.clone();
    plain.file_sizes = info.file_sizes.clone();
    plain.file_hashes = info.file_hashes.clone();
    plain.references = info.references.clone();
    plain.deriver = info.deriver.clone();
    plain.system = info.system.clone();
    plain.ca = info.ca.clone();
    plain.signature = info.signature.clone();
    plain.sigs = info.sigs.clone();
    plain.extra = info.extra.clone();
    plain
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(info) = NarInfo::parse(text) else {
        return;
    };
    assert_eq!(info.to_string(), text);
    let _ = info.verify_guix_signature();
    for form in [info.to_guix_string(), info.to_nix_string()] {
        let again = NarInfo::parse(&form).expect("a written narinfo parses");
        assert_eq!(fields(&again), fields(&info), "{form}");
    }
    if info.fingerprint().is_err() {
        return;
    }
    let mut signed = info.clone();
    let signed_text = match signed.sign_guix_publish(key(), "fuzz") {
        Ok(text) => text,
        Err(SignatureError::Malformed {
            what: "narinfo field to sign",
            value,
            ..
        }) => {
            // Refused because a field holds what would end the signed text
            // for a client: `Signature:` other than its own line.
            let text = info.to_guix_publish_string();
            let own = usize::from(info.signature.is_some());
            assert!(text.matches("Signature:").count() > own, "{value}");
            assert_eq!(signed, info, "a refused narinfo changed");
            return;
        }
        Err(e) => panic!("a narinfo with a fingerprint does not sign: {e}"),
    };
    let back = NarInfo::parse(&signed_text).expect("a signed narinfo parses");
    let (valid, sig) = back
        .verify_guix_signature()
        .expect("its signature decodes")
        .expect("it has a signature");
    assert!(valid, "a fresh Guix signature does not verify");
    assert_eq!(sig.public_key, key().public_key());
    let public = key().to_nix_public().expect("a Nix key");
    assert_eq!(
        back.valid_nix_signers(&[&public]),
        Ok(vec!["fuzz-1".into()])
    );
    let mut tampered = back.clone();
    tampered.nar_size ^= 1;
    let tampered = NarInfo::parse(&tampered.to_string()).expect("it still parses");
    assert!(matches!(
        tampered.verify_guix_signature(),
        Ok(Some((false, _)))
    ));
    assert_eq!(tampered.valid_nix_signers(&[&public]), Ok(vec![]));
});
