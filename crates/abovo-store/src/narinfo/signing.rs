//! Signing narinfos: Guix's ECDSA on edwards25519 and Nix's Ed25519, with
//! one key pair, and the files both keep their keys in.
//!
//! # One key, two schemes
//!
//! A Nix key is an Ed25519 seed; its public key is `A = a·B`, where `a` is
//! the clamped first half of `SHA-512(seed)`. A Guix key is an ECDSA key on
//! the same curve: a secret scalar `d` and the point `q = d·B`, written
//! compressed as EdDSA writes points. Taking `d = a mod n` makes `q` and
//! `A` the same 32 bytes, so a key made by [`SigningKey::from_seed`] signs
//! in both forms and its public half is one key in both worlds (`abovo key
//! generate` writes it both ways). A Guix secret key file holds `d` only,
//! so a key read from one signs in Guix's form alone.
//!
//! # Guix signatures
//!
//! [`SigningKey::sign_guix`] reproduces libgcrypt's `gcry_pk_sign` for an
//! ECDSA key with `(flags rfc6979)`, which is what `guix publish` calls:
//!
//! 1. `e = int_be(digest) >> 3` (the digest cut to the 253 bits of `n`);
//! 2. `k` from RFC 6979 with HMAC-SHA-256 (deterministic: the same text and
//!    key always give the same signature);
//! 3. `r = x(k·B) mod n`, `s = k⁻¹·(e + r·d) mod n`;
//! 4. the S-expression printed in libgcrypt's advanced form, byte for byte
//!    what `guix publish` 1.5.0 serves (`../shared/data/guix-publish-fixtures`).
//!
//! # Key files
//!
//! | form | secret | public |
//! | --- | --- | --- |
//! | Guix (`/etc/guix/signing-key.{sec,pub}`) | `(private-key (ecc (curve Ed25519) (q #…#) (d #…#)))` | `(public-key (ecc (curve Ed25519) (q #…#)))` |
//! | Nix (`nix-store --generate-binary-cache-key`) | `name:base64(seed ‖ public)` | `name:base64(public)` |

use super::sexp::{Sexp, atom, find};
use super::signature::{SignatureError, affine_x, group_order, scalar};
use crate::encoding::{base16_encode, base64_decode, base64_encode};
use curve25519_dalek::constants::ED25519_BASEPOINT_TABLE;
use curve25519_dalek::scalar::Scalar;
use num_bigint::BigUint;
use sha2::{Digest, Sha256};

/// A secret signing key (see the module docs).
#[derive(Clone)]
pub struct SigningKey {
    /// The ECDSA secret scalar (`a mod n` for a key made from a seed).
    d: Scalar,
    /// `d·B`, compressed.
    public: [u8; 32],
    /// The Nix form, when the key was made from a seed: its name and key.
    nix: Option<(String, ed25519_dalek::SigningKey)>,
}

/// Secret material is never printed.
impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("public", &base16_encode(&self.public))
            .field("nix_name", &self.nix.as_ref().map(|(n, _)| n))
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// The key of a 32-byte Ed25519 seed, named `name` in its Nix form.
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> SigningKey {
        let nix = ed25519_dalek::SigningKey::from_bytes(seed);
        let d = nix.to_scalar();
        SigningKey {
            d,
            public: nix.verifying_key().to_bytes(),
            nix: Some((name.to_owned(), nix)),
        }
    }

    /// Reads a secret key file in either form (see the module docs): a Guix
    /// `(private-key …)` or a Nix `name:base64`. The public point a Guix
    /// file records must be the one its `d` gives.
    pub fn parse(text: &str) -> Result<SigningKey, SignatureError> {
        let text = text.trim();
        if text.starts_with('(') {
            return Self::parse_guix(text);
        }
        let (name, b64) = text.split_once(':').ok_or_else(|| {
            malformed("expected a Guix `(private-key …)` or a Nix secret key `name:base64`")
        })?;
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(malformed("the Nix key name is empty or has white space"));
        }
        let bytes = base64_decode(b64).map_err(|e| malformed(&e.to_string()))?;
        if bytes.len() != 64 {
            return Err(malformed(&format!(
                "a Nix secret key has 64 bytes (seed and public key), this one {}",
                bytes.len()
            )));
        }
        let mut seed = [0u8; 32];
        seed.copy_from_slice(&bytes[..32]);
        let key = SigningKey::from_seed(name, &seed);
        if key.public[..] != bytes[32..] {
            return Err(malformed(
                "its public half is not the public key of its seed",
            ));
        }
        Ok(key)
    }

    fn parse_guix(text: &str) -> Result<SigningKey, SignatureError> {
        let tree = Sexp::parse(text.as_bytes()).map_err(|e| malformed(&e.to_string()))?;
        let ecc = tree
            .list_named("private-key")
            .and_then(|key| find(key, "ecc"))
            .filter(|ecc| find(ecc, "curve").and_then(|c| atom(c, 1)) == Some(&b"Ed25519"[..]))
            .ok_or_else(|| {
                malformed("expected `(private-key (ecc (curve Ed25519) (q #…#) (d #…#)))`")
            })?;
        let field = |name: &str| -> Result<&[u8], SignatureError> {
            find(ecc, name)
                .and_then(|l| atom(l, 1))
                .ok_or_else(|| malformed(&format!("no `({name} #…#)` in the private key")))
        };
        let d_bytes = field("d")?;
        let d_int = BigUint::from_bytes_be(d_bytes);
        if d_bytes.len() > 33 || d_int >= group_order() || d_int == BigUint::from(0u8) {
            return Err(malformed("`d` is not a scalar below the group order"));
        }
        let d = scalar(&d_int);
        let public = (&d * ED25519_BASEPOINT_TABLE).compress().to_bytes();
        let q = field("q")?;
        // libgcrypt may prefix the compressed point with 0x40.
        let q = match q.len() {
            33 if q[0] == 0x40 => &q[1..],
            _ => q,
        };
        if q != public {
            return Err(malformed("its `q` is not the public key of its `d`"));
        }
        Ok(SigningKey {
            d,
            public,
            nix: None,
        })
    }

    /// The public key: a compressed edwards25519 point (Guix's `q`, Nix's
    /// 32 bytes).
    pub fn public_key(&self) -> [u8; 32] {
        self.public
    }

    /// The Nix name of the key, when it has a Nix form.
    pub fn nix_name(&self) -> Option<&str> {
        self.nix.as_ref().map(|(n, _)| n.as_str())
    }

    /// The secret key in Guix's form (`signing-key.sec`).
    pub fn to_guix_secret(&self) -> String {
        format!(
            "(private-key \n (ecc \n  (curve Ed25519)\n  (q #{}#)\n  (d #{}#)\n  )\n )\n",
            hex_upper(&self.public),
            hex_upper(&mpi_bytes(&self.d.to_bytes()))
        )
    }

    /// The public key in Guix's form (`signing-key.pub`, what an ACL entry
    /// holds).
    pub fn to_guix_public(&self) -> String {
        guix_public_key(&self.public)
    }

    /// The secret key in Nix's form, `name:base64(seed ‖ public)`; `None`
    /// for a key read from a Guix file (it has no seed).
    pub fn to_nix_secret(&self) -> Option<String> {
        self.nix
            .as_ref()
            .map(|(name, k)| format!("{name}:{}", base64_encode(&k.to_keypair_bytes())))
    }

    /// The public key in Nix's form, `name:base64` (for
    /// `trusted-public-keys`); `None` without a Nix name.
    pub fn to_nix_public(&self) -> Option<String> {
        self.nix_name()
            .map(|name| format!("{name}:{}", base64_encode(&self.public)))
    }

    /// The value of a Guix `Signature:` line for a narinfo whose text before
    /// that line is `signed_text`: `1;<host>;<base64 S-expression>`.
    pub fn sign_guix(&self, host: &str, signed_text: &str) -> String {
        let digest: [u8; 32] = Sha256::digest(signed_text.as_bytes()).into();
        let (r, s) = self.ecdsa(&digest);
        let sexp = format!(
            "(signature \n (data \n  (flags rfc6979)\n  (hash sha256 #{}#)\n  )\n (sig-val \n  (ecdsa \n   (r #{}#)\n   (s #{}#)\n   )\n  )\n (public-key \n  (ecc \n   (curve Ed25519)\n   (q #{}#)\n   )\n  )\n )\n",
            hex_upper(&digest),
            hex_upper(&r),
            hex_upper(&s),
            hex_upper(&self.public),
        );
        format!("1;{host};{}", base64_encode(sexp.as_bytes()))
    }

    /// The value of a Nix `Sig:` line over `fingerprint`; `None` for a key
    /// without a Nix form.
    pub fn sign_nix(&self, fingerprint: &str) -> Option<String> {
        use ed25519_dalek::Signer;
        let (name, key) = self.nix.as_ref()?;
        let sig = key.sign(fingerprint.as_bytes());
        Some(format!("{name}:{}", base64_encode(&sig.to_bytes())))
    }

    /// ECDSA with libgcrypt's conventions and an RFC 6979 nonce: `(r, s)`
    /// as libgcrypt prints their MPIs (big-endian, no leading zero byte).
    fn ecdsa(&self, digest: &[u8; 32]) -> (Vec<u8>, Vec<u8>) {
        let n = group_order();
        let e = scalar(&((BigUint::from_bytes_be(digest) >> 3u32) % &n));
        let mut nonces = Rfc6979::new(&self.d, digest, &n);
        loop {
            let k_int = nonces.next_k();
            let k = scalar(&k_int);
            let point = &k * ED25519_BASEPOINT_TABLE;
            let Some(x) = affine_x(&point) else { continue };
            let r_int = x % &n;
            if r_int == BigUint::from(0u8) {
                continue;
            }
            let r = scalar(&r_int);
            let s = k.invert() * (e + r * self.d);
            if s == Scalar::ZERO {
                continue;
            }
            let mut s_be = s.to_bytes();
            s_be.reverse();
            return (mpi_bytes_be(&r_int.to_bytes_be()), mpi_bytes_be(&s_be));
        }
    }
}

/// The Guix `(public-key …)` of a compressed point, as `guix publish`
/// prints it.
pub fn guix_public_key(q: &[u8; 32]) -> String {
    format!(
        "(public-key \n (ecc \n  (curve Ed25519)\n  (q #{}#)\n  )\n )\n",
        hex_upper(q)
    )
}

fn malformed(reason: &str) -> SignatureError {
    SignatureError::Malformed {
        what: "secret key",
        value: String::new(),
        reason: reason.to_owned(),
    }
}

fn hex_upper(bytes: &[u8]) -> String {
    base16_encode(bytes).to_ascii_uppercase()
}

/// A little-endian scalar as libgcrypt prints an MPI.
fn mpi_bytes(le: &[u8; 32]) -> Vec<u8> {
    let mut be = *le;
    be.reverse();
    mpi_bytes_be(&be)
}

/// Big-endian bytes without leading zeros, with one zero byte in front
/// when the first has its high bit set (libgcrypt's signed `%M` form).
fn mpi_bytes_be(be: &[u8]) -> Vec<u8> {
    let first = be.iter().position(|&b| b != 0).unwrap_or(be.len());
    let mut out = Vec::with_capacity(be.len() - first + 1);
    if be.get(first).is_some_and(|&b| b >= 0x80) {
        out.push(0);
    }
    out.extend_from_slice(&be[first..]);
    if out.is_empty() {
        out.push(0);
    }
    out
}

/// HMAC-SHA-256 (RFC 2104) of the concatenation of `parts`.
fn hmac_sha256(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(key);
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    for p in parts {
        inner.update(p);
    }
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// RFC 6979's deterministic nonces for a 253-bit group order and SHA-256.
struct Rfc6979 {
    k: [u8; 32],
    v: [u8; 32],
    n: BigUint,
    first: bool,
}

impl Rfc6979 {
    fn new(d: &Scalar, digest: &[u8; 32], n: &BigUint) -> Rfc6979 {
        // int2octets(d) and bits2octets(digest), 32 bytes each.
        let mut x = d.to_bytes();
        x.reverse();
        let z = (BigUint::from_bytes_be(digest) >> 3u32) % n;
        let h = int2octets(&z);
        let mut k = [0u8; 32];
        let mut v = [1u8; 32];
        k = hmac_sha256(&k, &[&v, &[0], &x, &h]);
        v = hmac_sha256(&k, &[&v]);
        k = hmac_sha256(&k, &[&v, &[1], &x, &h]);
        v = hmac_sha256(&k, &[&v]);
        Rfc6979 {
            k,
            v,
            n: n.clone(),
            first: true,
        }
    }

    /// The next candidate `k` in `[1, n)`.
    fn next_k(&mut self) -> BigUint {
        loop {
            if !self.first {
                self.k = hmac_sha256(&self.k, &[&self.v, &[0]]);
                self.v = hmac_sha256(&self.k, &[&self.v]);
            }
            self.first = false;
            self.v = hmac_sha256(&self.k, &[&self.v]);
            let k = BigUint::from_bytes_be(&self.v) >> 3u32;
            if k != BigUint::from(0u8) && k < self.n {
                return k;
            }
        }
    }
}

fn int2octets(x: &BigUint) -> [u8; 32] {
    let be = x.to_bytes_be();
    let mut out = [0u8; 32];
    out[32 - be.len()..].copy_from_slice(&be);
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use crate::narinfo::{GuixSignature, NarInfo, verify_nix_signature};

    fn key() -> SigningKey {
        SigningKey::from_seed("test-1", &[7; 32])
    }

    #[test]
    fn guix_signatures_verify_and_are_deterministic() {
        let k = key();
        let text = "StorePath: /gnu/store/36spjx951ih4nmip9wm9a2rq7fxm8mbj-x\nNarHash: sha256:1ysbwi8icaw2g5qmwjf9k0qd4d9gazd91kf1djycpk5ahwh4kmlp\nNarSize: 128\nReferences: \n";
        let value = k.sign_guix("host", text);
        assert_eq!(value, k.sign_guix("host", text));
        let signed = format!("{text}Signature: {value}\nURL: nar/x\nCompression: none\n");
        let info = NarInfo::parse(&signed).unwrap();
        let (ok, sig) = info.verify_guix_signature().unwrap().unwrap();
        assert!(ok);
        assert_eq!(sig.public_key, k.public_key());
        assert_eq!(sig.host, "host");
        // The S-expression has the shape and spacing of Guix's.
        assert!(
            sig.sexp
                .starts_with("(signature \n (data \n  (flags rfc6979)\n  (hash sha256 #")
        );
        assert!(sig.sexp.ends_with(&format!(
            "   (q #{}#)\n   )\n  )\n )\n",
            hex_upper(&k.public)
        )));
        // Another text does not verify with this signature.
        let other = signed.replacen("NarSize: 128", "NarSize: 129", 1);
        assert!(
            !NarInfo::parse(&other)
                .unwrap()
                .verify_guix_signature()
                .unwrap()
                .unwrap()
                .0
        );
        // Many texts: every signature verifies (r and s of every length).
        for i in 0..40 {
            let t = format!("{text}X-{i}: y\n");
            let sig = GuixSignature::parse(&k.sign_guix("h", &t)).unwrap();
            assert!(sig.verify(&format!("{t}Signature: …")), "{i}");
        }
    }

    #[test]
    fn one_key_signs_in_both_forms_and_its_files_read_back() {
        let k = key();
        let fingerprint = "1;/nix/store/x;sha256:0;1;";
        let sig = k.sign_nix(fingerprint).unwrap();
        let public = k.to_nix_public().unwrap();
        assert!(verify_nix_signature(fingerprint, &sig, &public).unwrap());
        // The Nix public key is Guix's q.
        assert!(public.ends_with(&base64_encode(&k.public_key())));
        let nix = SigningKey::parse(&k.to_nix_secret().unwrap()).unwrap();
        assert_eq!(nix.public_key(), k.public_key());
        assert_eq!(nix.nix_name(), Some("test-1"));
        let guix = SigningKey::parse(&k.to_guix_secret()).unwrap();
        assert_eq!(guix.public_key(), k.public_key());
        assert!(guix.sign_nix(fingerprint).is_none());
        assert_eq!(guix.sign_guix("h", "a"), k.sign_guix("h", "a"));
        assert!(k.to_guix_public().contains(&hex_upper(&k.public_key())));
    }

    #[test]
    fn bad_secret_keys_are_refused() {
        let k = key();
        for (text, why) in [
            ("nothing", "expected a Guix"),
            ("n:AAAA", "64 bytes"),
            (":AAAA", "key name"),
            ("(public-key (ecc (curve Ed25519) (q #00#)))", "private-key"),
            ("(private-key (ecc (curve Ed25519) (q #00#)))", "no `(d"),
        ] {
            let err = SigningKey::parse(text).unwrap_err().to_string();
            assert!(err.contains(why), "{text}: {err}");
        }
        // A q that is not d's point, and a seed whose public half is wrong.
        let other = SigningKey::from_seed("o", &[8; 32]).public_key();
        let wrong_q = k
            .to_guix_secret()
            .replace(&hex_upper(&k.public_key()), &hex_upper(&other));
        assert!(SigningKey::parse(&wrong_q).is_err());
        let mut pair = k.nix.as_ref().unwrap().1.to_keypair_bytes();
        pair[40] ^= 1;
        let bad = format!("test-1:{}", base64_encode(&pair));
        assert!(
            SigningKey::parse(&bad)
                .unwrap_err()
                .to_string()
                .contains("public half")
        );
    }

    /// RFC 6979's HMAC is HMAC-SHA-256 (RFC 4231, test case 2 shape with a
    /// 32-byte key of `0x0b`).
    #[test]
    fn hmac_matches_rfc_4231() {
        let key = [0x0bu8; 32];
        let mac = hmac_sha256(&key, &[b"Hi ", b"There"]);
        // RFC 4231 case 1 uses a 20-byte key; padded with zeros to 32 bytes
        // the HMAC is the same (keys are zero-padded to the block size).
        let mut short = [0u8; 32];
        short[..20].copy_from_slice(&[0x0b; 20]);
        assert_eq!(
            base16_encode(&hmac_sha256(&short, &[b"Hi There"])),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        assert_ne!(mac, hmac_sha256(&short, &[b"Hi There"]));
    }
}
