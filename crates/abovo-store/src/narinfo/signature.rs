//! Narinfo signatures: Nix's Ed25519 over the fingerprint, and Guix's ECDSA
//! on the edwards25519 curve over the SHA-256 of the narinfo text.
//!
//! # Nix (docs/formats.md §8.2)
//!
//! `Sig: <key name>:<base64 of a 64-byte Ed25519 signature>` over the bytes
//! of [`NarInfo::fingerprint`](super::NarInfo::fingerprint); public keys are
//! written `<key name>:<base64 of 32 bytes>`. Checked with `ed25519-dalek`'s
//! strict verification, which refuses the same malleable forms libsodium
//! does.
//!
//! # Guix (docs/formats.md §8.3)
//!
//! `Signature: 1;<host>;<base64 of a libgcrypt S-expression>`:
//!
//! ```text
//! (signature
//!  (data (flags rfc6979) (hash sha256 #<SHA-256 of the text before "Signature:">#))
//!  (sig-val (ecdsa (r #<r>#) (s #<s>#)))
//!  (public-key (ecc (curve Ed25519) (q #<32-byte compressed point>#))))
//! ```
//!
//! The key is an *ECDSA* key on the twisted Edwards curve edwards25519, not
//! an EdDSA key, so `ed25519-dalek` cannot check it. The procedure libgcrypt
//! follows, and [`GuixSignature::verify`] reproduces:
//!
//! 1. `e = int_be(digest) >> 3` — the 256-bit digest is cut to the 253 bits
//!    of the group order `n = 2^252 + 27742317777372353535851937790883648493`;
//! 2. `w = s⁻¹ mod n`;
//! 3. `X = (e·w)·B + (r·w)·Q`;
//! 4. valid iff `x(X) mod n == r`.
//!
//! Point arithmetic uses `curve25519-dalek`; only the recovery of the affine
//! `x` from the compressed point needs plain big-integer arithmetic.
//! Verification says nothing about *trust*: the caller must check
//! [`GuixSignature::public_key`] against its ACL (`/etc/guix/acl`).

use super::sexp::{Sexp, SexpError, atom, find};
use crate::encoding::{base16_encode, base64_decode};
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use num_bigint::BigUint;

/// Why a signature could not be checked (as opposed to being checked and
/// found invalid, which is `Ok(false)`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The value does not have the expected shape.
    #[error("malformed {what} {value:?}: {reason}")]
    Malformed {
        /// What was being read (Nix signature, Nix public key, Guix signature).
        what: &'static str,
        /// The value, cut to 100 characters.
        value: String,
        /// What is wrong.
        reason: String,
    },
    /// The S-expression inside a Guix signature does not parse.
    #[error("malformed signature S-expression at byte {offset}: {reason}")]
    Sexp {
        /// Byte offset in the S-expression.
        offset: usize,
        /// What is wrong.
        reason: String,
    },
    /// A part of the S-expression that must be there is not.
    #[error("the signature S-expression has no `{0}`")]
    MissingPart(&'static str),
    /// An algorithm, curve or hash abovo does not verify.
    #[error("unsupported {what} `{value}` (abovo verifies ECDSA with SHA-256 on Ed25519)")]
    Unsupported {
        /// What is unsupported.
        what: &'static str,
        /// Its value.
        value: String,
    },
    /// The Nix key and signature have different key names.
    #[error("signature by key `{signature}` cannot be checked with key `{key}`")]
    KeyNameMismatch {
        /// The signature's key name.
        signature: String,
        /// The public key's name.
        key: String,
    },
}

impl From<SexpError> for SignatureError {
    fn from(e: SexpError) -> SignatureError {
        SignatureError::Sexp {
            offset: e.offset,
            reason: e.reason,
        }
    }
}

fn malformed(what: &'static str, value: &str, reason: impl ToString) -> SignatureError {
    SignatureError::Malformed {
        what,
        value: value.chars().take(100).collect(),
        reason: reason.to_string(),
    }
}

/// Splits `<name>:<base64>` and decodes the base64 to exactly `N` bytes.
fn named_bytes<const N: usize>(
    what: &'static str,
    text: &str,
) -> Result<(String, [u8; N]), SignatureError> {
    let (name, b64) = text
        .split_once(':')
        .ok_or_else(|| malformed(what, text, "expected `<key name>:<base64>`"))?;
    if name.is_empty() {
        return Err(malformed(what, text, "empty key name"));
    }
    let bytes = base64_decode(b64).map_err(|e| malformed(what, text, e))?;
    let bytes: [u8; N] = bytes.try_into().map_err(|b: Vec<u8>| {
        malformed(what, text, format!("expected {N} bytes, found {}", b.len()))
    })?;
    Ok((name.to_owned(), bytes))
}

/// Checks a Nix `Sig` value against a public key `<name>:<base64>` over
/// `fingerprint`. `Ok(false)` means the signature is well-formed but wrong.
pub fn verify_nix_signature(
    fingerprint: &str,
    sig: &str,
    public_key: &str,
) -> Result<bool, SignatureError> {
    let (sig_name, sig_bytes) = named_bytes::<64>("Nix signature", sig)?;
    let (key_name, key_bytes) = named_bytes::<32>("Nix public key", public_key)?;
    if sig_name != key_name {
        return Err(SignatureError::KeyNameMismatch {
            signature: sig_name,
            key: key_name,
        });
    }
    let key = ed25519_dalek::VerifyingKey::from_bytes(&key_bytes)
        .map_err(|e| malformed("Nix public key", public_key, e))?;
    let signature = ed25519_dalek::Signature::from_bytes(&sig_bytes);
    Ok(key
        .verify_strict(fingerprint.as_bytes(), &signature)
        .is_ok())
}

/// A Guix narinfo `Signature` value, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuixSignature {
    /// The format version; only `1` exists.
    pub version: u32,
    /// The signing host's name (informational).
    pub host: String,
    /// The S-expression text (libgcrypt's "advanced" printed form).
    pub sexp: String,
    /// The hash the signature covers, from `(data … (hash sha256 #…#))`.
    pub signed_hash: [u8; 32],
    /// `r`, big-endian, from `(sig-val (ecdsa (r …)))`.
    pub r: Vec<u8>,
    /// `s`, big-endian.
    pub s: Vec<u8>,
    /// The public key `q`: a 32-byte compressed edwards25519 point.
    pub public_key: [u8; 32],
}

impl GuixSignature {
    /// Parses `1;<host>;<base64 sexp>`.
    pub fn parse(value: &str) -> Result<GuixSignature, SignatureError> {
        const WHAT: &str = "Guix signature";
        let mut parts = value.splitn(3, ';');
        let (Some(version), Some(host), Some(b64)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed(WHAT, value, "expected `1;<host>;<base64>`"));
        };
        let version: u32 = version
            .parse()
            .map_err(|_| malformed(WHAT, value, format!("version {version:?} is not a number")))?;
        if version != 1 {
            return Err(malformed(WHAT, value, format!("unknown version {version}")));
        }
        let bytes = base64_decode(b64).map_err(|e| malformed(WHAT, value, e))?;
        // Guix reads the sexp as ISO-8859-1; every byte is one character.
        let sexp: String = bytes.iter().map(|&b| b as char).collect();
        let tree = Sexp::parse(&bytes)?;
        let top = tree
            .list_named("signature")
            .ok_or(SignatureError::MissingPart("signature"))?;
        let data = find(top, "data").ok_or(SignatureError::MissingPart("data"))?;
        let hash = find(data, "hash").ok_or(SignatureError::MissingPart("data/hash"))?;
        let algo = atom(hash, 1).ok_or(SignatureError::MissingPart("data/hash algorithm"))?;
        if algo != b"sha256" {
            return Err(SignatureError::Unsupported {
                what: "hash",
                value: String::from_utf8_lossy(algo).into_owned(),
            });
        }
        let signed_hash: [u8; 32] = atom(hash, 2)
            .and_then(|h| h.try_into().ok())
            .ok_or(SignatureError::MissingPart("data/hash value (32 bytes)"))?;
        let sig_val = find(top, "sig-val").ok_or(SignatureError::MissingPart("sig-val"))?;
        let ecdsa = find(sig_val, "ecdsa").ok_or_else(|| SignatureError::Unsupported {
            what: "signature algorithm",
            value: sig_val
                .get(1)
                .and_then(|s| s.head())
                .map(|h| String::from_utf8_lossy(h).into_owned())
                .unwrap_or_default(),
        })?;
        let r = find(ecdsa, "r")
            .and_then(|l| atom(l, 1))
            .ok_or(SignatureError::MissingPart("sig-val/ecdsa/r"))?;
        let s = find(ecdsa, "s")
            .and_then(|l| atom(l, 1))
            .ok_or(SignatureError::MissingPart("sig-val/ecdsa/s"))?;
        let key = find(top, "public-key").ok_or(SignatureError::MissingPart("public-key"))?;
        let ecc = find(key, "ecc").ok_or(SignatureError::MissingPart("public-key/ecc"))?;
        let curve = find(ecc, "curve")
            .and_then(|l| atom(l, 1))
            .ok_or(SignatureError::MissingPart("public-key/ecc/curve"))?;
        if curve != b"Ed25519" {
            return Err(SignatureError::Unsupported {
                what: "curve",
                value: String::from_utf8_lossy(curve).into_owned(),
            });
        }
        let q = find(ecc, "q")
            .and_then(|l| atom(l, 1))
            .ok_or(SignatureError::MissingPart("public-key/ecc/q"))?;
        // libgcrypt may prefix a compressed point with 0x40.
        let q = match q.len() {
            33 if q[0] == 0x40 => &q[1..],
            _ => q,
        };
        let public_key: [u8; 32] = q.try_into().map_err(|_| SignatureError::Unsupported {
            what: "public key encoding",
            value: base16_encode(q),
        })?;
        Ok(GuixSignature {
            version,
            host: host.to_owned(),
            sexp,
            signed_hash,
            r: r.to_vec(),
            s: s.to_vec(),
            public_key,
        })
    }

    /// Checks the signature against the narinfo `text` it came from: the
    /// signed hash must be [`guix_signed_sha256`](super::guix_signed_sha256)
    /// of the text, and the ECDSA signature must verify under the embedded
    /// public key. `Ok(false)` for a text that does not match or a bad
    /// signature.
    pub fn verify(&self, text: &str) -> bool {
        match super::guix_signed_sha256(text) {
            Some(h) if h == self.signed_hash => self.verify_hash(&h),
            _ => false,
        }
    }

    /// The ECDSA check alone, over a given digest, with the embedded key.
    pub fn verify_hash(&self, digest: &[u8; 32]) -> bool {
        verify_ecdsa_ed25519(digest, &self.r, &self.s, &self.public_key)
    }
}

/// ECDSA verification on edwards25519 with libgcrypt's conventions (see the
/// module docs): `r`, `s` big-endian; `q` a compressed point.
pub fn verify_ecdsa_ed25519(digest: &[u8; 32], r: &[u8], s: &[u8], q: &[u8; 32]) -> bool {
    let n = group_order();
    let r_int = BigUint::from_bytes_be(r);
    let s_int = BigUint::from_bytes_be(s);
    let zero = BigUint::from(0u8);
    if r_int == zero || s_int == zero || r_int >= n || s_int >= n {
        return false;
    }
    let Some(q_point) = CompressedEdwardsY(*q).decompress() else {
        return false;
    };
    let e = (BigUint::from_bytes_be(digest) >> 3u32) % &n;
    let w = scalar(&s_int).invert();
    let u1 = scalar(&e) * w;
    let u2 = scalar(&r_int) * w;
    let x_point = EdwardsPoint::vartime_double_scalar_mul_basepoint(&u2, &q_point, &u1);
    match affine_x(&x_point) {
        Some(x) => x % &n == r_int,
        None => false,
    }
}

/// `n`, the order of the edwards25519 base point.
pub(super) fn group_order() -> BigUint {
    (BigUint::from(1u8) << 252u32)
        + BigUint::parse_bytes(b"27742317777372353535851937790883648493", 10).expect("a constant") // literal digits
}

/// A scalar from an integer already below `n`.
pub(super) fn scalar(x: &BigUint) -> Scalar {
    let mut le = x.to_bytes_le();
    le.resize(32, 0);
    let mut bytes = [0u8; 32];
    bytes.copy_from_slice(&le[..32]);
    Scalar::from_bytes_mod_order(bytes)
}

/// The affine x coordinate of a point, recovered from its compressed form:
/// `x² = (y² − 1) / (d·y² + 1) mod p`, sign from the top bit.
pub(super) fn affine_x(point: &EdwardsPoint) -> Option<BigUint> {
    let p = (BigUint::from(1u8) << 255u32) - BigUint::from(19u8);
    let mut y_bytes = point.compress().to_bytes();
    let sign = y_bytes[31] >> 7;
    y_bytes[31] &= 0x7f;
    let y = BigUint::from_bytes_le(&y_bytes);
    // d = -121665 / 121666
    let d = (&p - BigUint::from(121_665u32)) * BigUint::from(121_666u32).modinv(&p)? % &p;
    let yy = &y * &y % &p;
    let u = (&yy + &p - BigUint::from(1u8)) % &p;
    let v = (&d * &yy + BigUint::from(1u8)) % &p;
    // x = u·v³·(u·v⁷)^((p−5)/8), then fix with sqrt(−1) if needed.
    let v3 = v.modpow(&BigUint::from(3u8), &p);
    let v7 = v.modpow(&BigUint::from(7u8), &p);
    let exp = (&p - BigUint::from(5u8)) >> 3u32;
    let mut x = &u * &v3 % &p * (&u * &v7 % &p).modpow(&exp, &p) % &p;
    let check = &v * &x % &p * &x % &p;
    if check != u {
        let minus_u = (&p - &u) % &p;
        if check != minus_u {
            return None;
        }
        let sqrt_m1 = BigUint::from(2u8).modpow(&((&p - BigUint::from(1u8)) >> 2u32), &p);
        x = x * sqrt_m1 % &p;
    }
    let x_is_odd = x.bit(0);
    if x_is_odd != (sign == 1) && x != BigUint::from(0u8) {
        x = &p - x;
    }
    Some(x)
}
