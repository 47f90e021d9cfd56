//! The verdicts on real narinfos: what a real `guix publish` 1.5.0 served
//! (`ABOVO_GUIX_PUBLISH_FIXTURES`), signed with its own key.

use super::*;
use std::path::PathBuf;

/// The fixture narinfo of `conf-fod-flat` and the server's key, or `None`
/// (with one line saying so) when the fixtures are not there.
fn fixture() -> Option<(String, AuthorizedKeys)> {
    let Some(dir) = std::env::var_os("ABOVO_GUIX_PUBLISH_FIXTURES").map(PathBuf::from) else {
        eprintln!("skipped: ABOVO_GUIX_PUBLISH_FIXTURES is not set");
        return None;
    };
    let text =
        std::fs::read_to_string(dir.join("v40yaym6gxq1znp9f0mn94z0pzpzydhi.narinfo")).unwrap();
    let mut keys = AuthorizedKeys::default();
    keys.add_text(&std::fs::read_to_string(dir.join("signing-key.pub")).unwrap())
        .unwrap();
    Some((text, keys))
}

const PATH: &str = "/gnu/store/v40yaym6gxq1znp9f0mn94z0pzpzydhi-conf-fod-flat";

#[test]
fn a_signature_counts_only_with_an_authorised_key_and_the_seeds_nar_hash() {
    let Some((text, keys)) = fixture() else {
        return;
    };
    let info = NarInfo::parse(&text).unwrap();
    let right = [info.nar_hash];
    let other = [HashAlgo::Sha256.digest(b"other bytes")];
    let at = |nar: Option<&[Hash]>, keys: &AuthorizedKeys| {
        judge_text("http://s", PATH, &text, keys, nar, Seen::Fetch)
    };

    let signed = at(Some(&right), &keys);
    assert_eq!(signed.verdict, Verdict::Signed);
    let key = signed.key.clone().unwrap();
    assert!(key.starts_with("guix:"), "{key}");
    assert_eq!(signed.nar_hash, Some(info.nar_hash.to_string()));
    // Either of a flat file's two NAR hashes will do.
    assert_eq!(
        at(Some(&[other[0], info.nar_hash]), &keys).verdict,
        Verdict::Signed
    );
    assert_eq!(at(None, &keys).verdict, Verdict::Unverified);
    let mismatch = at(Some(&other), &keys);
    assert_eq!(mismatch.verdict, Verdict::Mismatch);
    assert!(mismatch.why.unwrap().contains(&other[0].to_string()));
    // Another seed's narinfo is not this seed's signature.
    let elsewhere = judge_text(
        "http://s",
        "/gnu/store/x-y",
        &text,
        &keys,
        None,
        Seen::Fetch,
    );
    assert_eq!(elsewhere.verdict, Verdict::Mismatch);

    // No authorised key: untrusted, naming the key that signed.
    let untrusted = at(Some(&right), &AuthorizedKeys::default());
    assert_eq!(untrusted.verdict, Verdict::Untrusted);
    assert!(untrusted.key.unwrap().contains("Guix key"));
    // One byte changed above the signature: invalid, no key credited.
    let changed = text.replacen("NarSize: ", "NarSize: 1", 1);
    let invalid = judge_text("http://s", PATH, &changed, &keys, None, Seen::Fetch);
    assert_eq!(invalid.verdict, Verdict::Invalid, "{invalid:?}");
    assert_eq!(invalid.key, None);
    // No signature at all.
    let bare: String = text
        .lines()
        .filter(|l| !l.starts_with("Signature:"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(at_text(&bare, &keys).verdict, Verdict::Unsigned);
    assert_eq!(at_text("not a narinfo", &keys).verdict, Verdict::Failed);

    // Two servers carrying one key's signatures are one signer.
    let mut twice = vec![signed.clone(), signed, mismatch_of(&keys, &text)];
    twice[1].server = "http://mirror".into();
    assert_eq!(signers(&twice), [key.as_str()]);
}

fn at_text(text: &str, keys: &AuthorizedKeys) -> Signature {
    judge_text("http://s", PATH, text, keys, None, Seen::Asked)
}

fn mismatch_of(keys: &AuthorizedKeys, text: &str) -> Signature {
    let other = [HashAlgo::Sha256.digest(b"x")];
    judge_text("http://t", PATH, text, keys, Some(&other), Seen::Asked)
}
