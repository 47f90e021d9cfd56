//! Authorised signing keys of substitute servers, and the verdict on a
//! narinfo's signatures.
//!
//! Two forms are read, in one file or several:
//!
//! * **Guix**: libgcrypt S-expressions as `guix archive --authorize` keeps
//!   them in `/etc/guix/acl`,
//!   `(acl (entry (public-key (ecc (curve Ed25519) (q #HEX#))) (tag (guix import))) …)`,
//!   or a single `(public-key …)` as `guix publish` serves it. Every
//!   `(q #…#)` inside a `(public-key (ecc (curve Ed25519) …))` is a key.
//! * **Nix**: `name:base64` (32 bytes), as in `trusted-public-keys`; several
//!   may be separated by white space.
//!
//! A narinfo is accepted when one of its signatures is valid *and* made
//! with an authorised key: a Guix `Signature:` (ECDSA on edwards25519 over
//! the text above it) whose public key is in the ACL, or a Nix `Sig:`
//! (Ed25519 over the fingerprint) by a listed key. Anything else is a
//! [`Refusal`] that says which.

use abovo_store::encoding::base16_encode;
use abovo_store::narinfo::NarInfo;
use abovo_store::narinfo::sexp::{Sexp, atom, find};

/// The keys a run trusts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizedKeys {
    /// Guix keys: the 32-byte compressed point `q`.
    pub guix: Vec<[u8; 32]>,
    /// Nix keys, `name:base64`.
    pub nix: Vec<String>,
}

/// A key file that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} at byte {offset}")]
pub struct KeyError {
    /// Where in the text.
    pub offset: usize,
    /// What is wrong.
    pub what: String,
}

/// Why a narinfo's signatures are not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// It carries no signature.
    #[error("it is not signed")]
    Unsigned,
    /// A signature does not verify (the text was changed, or it is forged).
    #[error("its signature is invalid ({0})")]
    Invalid(String),
    /// Valid signatures, by keys that are not authorised.
    #[error("it is signed by a key that is not authorised ({0})")]
    UnknownKey(String),
}

impl AuthorizedKeys {
    /// Adds every key of `text` (either form); an error names the byte.
    pub fn add_text(&mut self, text: &str) -> Result<usize, KeyError> {
        let before = self.guix.len() + self.nix.len();
        if text.trim_start().starts_with('(') {
            let data = Sexp::parse_all(text.as_bytes()).map_err(|e| KeyError {
                offset: e.offset,
                what: e.reason,
            })?;
            collect_guix_keys(&data, &mut self.guix);
        } else {
            let mut offset = 0;
            for word in text.split_whitespace() {
                offset = text[offset..].find(word).map_or(offset, |i| offset + i);
                let ok = word.split_once(':').is_some_and(|(name, b64)| {
                    !name.is_empty()
                        && abovo_store::encoding::base64_decode(b64).is_ok_and(|b| b.len() == 32)
                });
                if !ok {
                    return Err(KeyError {
                        offset,
                        what: format!(
                            "`{}` is not a key: expected a Guix S-expression `(public-key …)` or a Nix key `name:base64` of 32 bytes",
                            word.chars().take(60).collect::<String>()
                        ),
                    });
                }
                if !self.nix.iter().any(|k| k == word) {
                    self.nix.push(word.to_owned());
                }
            }
        }
        Ok(self.guix.len() + self.nix.len() - before)
    }

    /// Whether no key is authorised.
    pub fn is_empty(&self) -> bool {
        self.guix.is_empty() && self.nix.is_empty()
    }

    /// Whether `info` carries a valid signature by an authorised key; the
    /// signer (`guix:<hex of q>` or the Nix key name) when it does.
    pub fn check(&self, info: &NarInfo) -> Result<String, Refusal> {
        if info.signature.is_none() && info.sigs.is_empty() {
            return Err(Refusal::Unsigned);
        }
        let mut problems = Vec::new();
        let mut unknown = Vec::new();
        match info.verify_guix_signature() {
            Ok(None) => {}
            Ok(Some((true, sig))) => {
                if self.guix.contains(&sig.public_key) {
                    return Ok(format!("guix:{}", base16_encode(&sig.public_key)));
                }
                unknown.push(format!(
                    "Guix key {}",
                    base16_encode(&sig.public_key).to_ascii_uppercase()
                ));
            }
            Ok(Some((false, sig))) => problems.push(format!(
                "the Guix signature by {} does not match the narinfo's text",
                base16_encode(&sig.public_key).to_ascii_uppercase()
            )),
            Err(e) => problems.push(e.to_string()),
        }
        if !info.sigs.is_empty() {
            let keys: Vec<&str> = self.nix.iter().map(String::as_str).collect();
            let fingerprint = info
                .fingerprint()
                .map_err(|e| Refusal::Invalid(e.to_string()))?;
            for sig in &info.sigs {
                let name = sig.split_once(':').map_or(sig.as_str(), |(n, _)| n);
                match keys
                    .iter()
                    .find(|k| k.split_once(':').map(|(n, _)| n) == Some(name))
                {
                    None => unknown.push(format!("Nix key `{name}`")),
                    Some(key) => {
                        match abovo_store::narinfo::verify_nix_signature(&fingerprint, sig, key) {
                            Ok(true) => return Ok(name.to_owned()),
                            Ok(false) => problems.push(format!(
                                "the signature by `{name}` does not match the narinfo's fingerprint"
                            )),
                            Err(e) => problems.push(e.to_string()),
                        }
                    }
                }
            }
        }
        if !problems.is_empty() {
            return Err(Refusal::Invalid(problems.join("; ")));
        }
        Err(Refusal::UnknownKey(unknown.join(", ")))
    }
}

/// The `q` of every `(public-key (ecc (curve Ed25519) (q #…#)))` anywhere.
fn collect_guix_keys(data: &[Sexp], out: &mut Vec<[u8; 32]>) {
    for d in data {
        let Sexp::List(items) = d else { continue };
        if d.head() != Some(&b"public-key"[..]) {
            collect_guix_keys(items, out);
            continue;
        }
        for ecc in items[1..].iter().filter_map(|a| a.list_named("ecc")) {
            let curve_ok = find(ecc, "curve")
                .and_then(|c| atom(c, 1))
                .is_some_and(|n| n.eq_ignore_ascii_case(b"ed25519"));
            let q = find(ecc, "q")
                .and_then(|q| atom(q, 1))
                .and_then(|b| <[u8; 32]>::try_from(b).ok());
            if let (true, Some(q)) = (curve_ok, q) {
                if !out.contains(&q) {
                    out.push(q);
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    const PUBLISH_KEY: &str = "(public-key \n (ecc \n  (curve Ed25519)\n  (q #D2017BB1B74461D6D570DB079E8C491C50703C259CEB53EFAAAEC89AA265420C#)\n  )\n )\n";

    #[test]
    fn guix_acl_and_single_keys_are_read() {
        let acl = format!(
            "(acl\n (entry {PUBLISH_KEY} (tag (guix import)))\n (entry (public-key (ecc (curve Ed25519) (q #{}#))) (tag (guix import))))",
            "AB".repeat(32)
        );
        let mut keys = AuthorizedKeys::default();
        assert_eq!(keys.add_text(&acl).unwrap(), 2);
        assert_eq!(keys.guix[1], [0xab; 32]);
        // The same key again adds nothing.
        assert_eq!(keys.add_text(PUBLISH_KEY).unwrap(), 0);
        let err = keys.add_text("(acl (entry").unwrap_err();
        assert!(err.to_string().contains("unclosed list"), "{err}");
        let err = keys.add_text("(q #ZZ#)").unwrap_err();
        assert!(err.to_string().contains("not hexadecimal"), "{err}");
    }

    #[test]
    fn nix_keys_are_read_and_checked() {
        let mut keys = AuthorizedKeys::default();
        let key = format!("test-1:{}", abovo_store::encoding::base64_encode(&[7; 32]));
        assert_eq!(keys.add_text(&format!("{key}\n  {key}\n")).unwrap(), 1);
        let err = keys.add_text("cache.nixos.org-1:short").unwrap_err();
        assert!(err.to_string().contains("32 bytes"), "{err}");
    }

    #[test]
    fn unsigned_narinfos_are_refused() {
        let info = NarInfo::new(
            "/gnu/store/36spjx951ih4nmip9wm9a2rq7fxm8mbj-x".into(),
            abovo_store::HashAlgo::Sha256.digest(b"x"),
            120,
        );
        let keys = AuthorizedKeys {
            guix: vec![[1; 32]],
            nix: vec![format!(
                "k:{}",
                abovo_store::encoding::base64_encode(&[7; 32])
            )],
        };
        assert_eq!(keys.check(&info), Err(Refusal::Unsigned));
    }

    /// The narinfos a real `guix publish` 1.5.0 signed, with its key.
    #[test]
    fn real_guix_publish_narinfos_are_accepted_and_tampering_is_refused() {
        let Some(dir) = std::env::var_os("ABOVO_GUIX_PUBLISH_FIXTURES") else {
            eprintln!("skipped: ABOVO_GUIX_PUBLISH_FIXTURES is not set");
            return;
        };
        let dir = std::path::PathBuf::from(dir);
        let mut keys = AuthorizedKeys::default();
        keys.add_text(&std::fs::read_to_string(dir.join("signing-key.pub")).unwrap())
            .unwrap();
        let mut checked = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "narinfo") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let info = NarInfo::parse(&text).unwrap();
            assert!(keys.check(&info).unwrap().starts_with("guix:d2017bb1"));
            let tampered = NarInfo::parse(&text.replacen("NarSize: ", "NarSize: 1", 1)).unwrap();
            assert!(matches!(keys.check(&tampered), Err(Refusal::Invalid(_))));
            let other = AuthorizedKeys {
                guix: vec![[1; 32]],
                nix: vec![],
            };
            assert!(
                matches!(other.check(&info), Err(Refusal::UnknownKey(k)) if k.contains("D2017BB1"))
            );
            checked += 1;
        }
        assert!(checked >= 10, "{checked}");
        eprintln!("checked {checked} real guix publish narinfos");
    }
}
