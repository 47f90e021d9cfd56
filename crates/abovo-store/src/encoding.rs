//! The byte-to-text encodings Guix prints hashes in: base16, RFC 4648 base32
//! and base64, next to [`nixbase32`](crate::nixbase32).
//!
//! * **base16** is lower-case hex; the decoder accepts either case, as the
//!   Guix daemon's `parseHash` does.
//! * **base32** is RFC 4648 in *lower case without `=` padding*, which is what
//!   `guix hash -f base32` prints (not the nix32 alphabet).
//! * **base64** is the standard alphabet *with* padding (`guix hash -f base64`,
//!   narinfo signatures, Nix SRI hashes).

use data_encoding::{BASE64, Encoding, HEXLOWER_PERMISSIVE, Specification};
use std::sync::OnceLock;

/// A text encoding of bytes that `guix hash -f` can print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TextEncoding {
    /// Nix base32, the default of Guix and Nix.
    NixBase32,
    /// Lower-case hexadecimal.
    Base16,
    /// RFC 4648 base32, lower case, no padding.
    Base32,
    /// RFC 4648 base64, standard alphabet, padded.
    Base64,
}

impl TextEncoding {
    /// Encodes `bytes` in this encoding.
    pub fn encode(self, bytes: &[u8]) -> String {
        match self {
            TextEncoding::NixBase32 => crate::nixbase32::encode(bytes),
            TextEncoding::Base16 => base16_encode(bytes),
            TextEncoding::Base32 => base32_encode(bytes),
            TextEncoding::Base64 => base64_encode(bytes),
        }
    }

    /// Parses the names `guix hash -f` accepts: `nix-base32`, `base16`, `hex`,
    /// `hexadecimal`, `base32`, `base64`.
    pub fn from_guix_name(name: &str) -> Option<Self> {
        Some(match name {
            "nix-base32" => TextEncoding::NixBase32,
            "base16" | "hex" | "hexadecimal" => TextEncoding::Base16,
            "base32" => TextEncoding::Base32,
            "base64" => TextEncoding::Base64,
            _ => return None,
        })
    }
}

/// Why a string did not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {encoding} at offset {offset}: {reason}")]
pub struct DecodeError {
    /// The encoding that was expected.
    pub encoding: &'static str,
    /// The byte offset of the problem in the input.
    pub offset: usize,
    /// What went wrong there.
    pub reason: String,
}

fn wrap(encoding: &'static str, e: data_encoding::DecodeError) -> DecodeError {
    DecodeError {
        encoding,
        offset: e.position,
        reason: e.kind.to_string(),
    }
}

/// Lower-case hex of `bytes`.
pub fn base16_encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// Decodes hex in either case.
pub fn base16_decode(s: &str) -> Result<Vec<u8>, DecodeError> {
    HEXLOWER_PERMISSIVE
        .decode(s.as_bytes())
        .map_err(|e| wrap("base16", e))
}

fn base32_spec() -> &'static Encoding {
    static ENCODING: OnceLock<Encoding> = OnceLock::new();
    ENCODING.get_or_init(|| {
        let mut spec = Specification::new();
        spec.symbols.push_str("abcdefghijklmnopqrstuvwxyz234567");
        spec.encoding().expect("a valid base32 specification") // constant input
    })
}

/// RFC 4648 base32 of `bytes`, lower case, without padding.
pub fn base32_encode(bytes: &[u8]) -> String {
    base32_spec().encode(bytes)
}

/// Decodes lower-case RFC 4648 base32 without padding.
pub fn base32_decode(s: &str) -> Result<Vec<u8>, DecodeError> {
    base32_spec()
        .decode(s.as_bytes())
        .map_err(|e| wrap("base32", e))
}

/// Standard, padded base64 of `bytes`.
pub fn base64_encode(bytes: &[u8]) -> String {
    BASE64.encode(bytes)
}

/// Decodes standard, padded base64.
pub fn base64_decode(s: &str) -> Result<Vec<u8>, DecodeError> {
    BASE64.decode(s.as_bytes()).map_err(|e| wrap("base64", e))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc4648_base32_vectors() {
        let cases = [
            ("", ""),
            ("f", "my"),
            ("fo", "mzxq"),
            ("foo", "mzxw6"),
            ("foob", "mzxw6yq"),
            ("fooba", "mzxw6ytb"),
            ("foobar", "mzxw6ytboi"),
        ];
        for (input, expected) in cases {
            assert_eq!(base32_encode(input.as_bytes()), expected);
            assert_eq!(base32_decode(expected).unwrap(), input.as_bytes());
        }
    }

    #[test]
    fn base16_accepts_both_cases() {
        assert_eq!(base16_decode("0aFf").unwrap(), vec![0x0a, 0xff]);
        assert_eq!(base16_encode(&[0x0a, 0xff]), "0aff");
        assert!(base16_decode("0g").is_err());
        assert!(base16_decode("abc").is_err());
    }

    proptest! {
        #[test]
        fn round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            prop_assert_eq!(base16_decode(&base16_encode(&bytes)).unwrap(), bytes.clone());
            prop_assert_eq!(base32_decode(&base32_encode(&bytes)).unwrap(), bytes.clone());
            prop_assert_eq!(base64_decode(&base64_encode(&bytes)).unwrap(), bytes);
        }
    }
}
