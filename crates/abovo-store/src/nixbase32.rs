//! Nix base32 ("nix32"), the encoding of store path hashes and of most hashes
//! that Guix and Nix print.
//!
//! It is not RFC 4648 base32, which is why no stock crate will do:
//!
//! * the alphabet is `0123456789abcdfghijklmnpqrsvwxyz` (no `e`, `o`, `u`, `t`);
//! * the bytes are read as one *little-endian* number whose base-32 digits are
//!   written most significant first, so the encoding works "from the end";
//! * an `n`-byte input always gives `ceil(8n / 5)` characters, with no padding.
//!
//! The Guix daemon silently drops the bits that overflow the last byte when it
//! decodes. [`decode`] is strict instead: it rejects non-zero overflow bits and
//! wrong lengths, and agrees with the daemon on every canonical input.
//!
//! ```
//! use abovo_store::nixbase32;
//! assert_eq!(nixbase32::encode(&[0x1f]), "0z");
//! assert_eq!(nixbase32::decode("0z").unwrap(), vec![0x1f]);
//! assert!(nixbase32::decode("zz").is_err()); // overflow bits set
//! ```

/// The 32 characters of the nix32 alphabet, in digit order.
pub const ALPHABET: &[u8; 32] = b"0123456789abcdfghijklmnpqrsvwxyz";

/// Maps an ASCII byte to its digit value, or `0xff` when it is not in [`ALPHABET`].
const DECODE: [u8; 256] = {
    let mut table = [0xffu8; 256];
    let mut i = 0;
    while i < ALPHABET.len() {
        table[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    table
};

/// Why a string is not the nix32 form of a byte string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Nix32Error {
    /// A character outside the alphabet, at this byte offset of the string.
    #[error("invalid nix-base32 character {character:?} at offset {offset}")]
    InvalidCharacter {
        /// The offending character.
        character: char,
        /// Its byte offset in the input.
        offset: usize,
    },
    /// The length is not `ceil(8n/5)` for the expected number of bytes, or is
    /// not the length of any byte string at all.
    #[error("invalid nix-base32 length {length}{}", expected_suffix(*expected))]
    InvalidLength {
        /// The length of the input.
        length: usize,
        /// The length required, when a particular size was asked for.
        expected: Option<usize>,
    },
    /// The leading character carries bits beyond the last byte.
    #[error("nix-base32 string has non-zero bits past its last byte (not a canonical encoding)")]
    Overflow,
}

fn expected_suffix(expected: Option<usize>) -> String {
    expected
        .map(|e| format!(" (expected {e} characters)"))
        .unwrap_or_default()
}

/// The number of nix32 characters for `n` bytes: `ceil(8n / 5)`.
pub const fn encoded_len(n: usize) -> usize {
    if n == 0 { 0 } else { (n * 8 - 1) / 5 + 1 }
}

/// The number of bytes that `len` nix32 characters stand for, if `len` is the
/// encoded length of some byte string.
pub const fn decoded_len(len: usize) -> Option<usize> {
    let n = len * 5 / 8;
    if encoded_len(n) == len { Some(n) } else { None }
}

/// Encodes `bytes` as nix32.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(encoded_len(bytes.len()));
    encode_into(bytes, &mut out);
    out
}

/// Appends the nix32 encoding of `bytes` to `out` (no allocation when `out`
/// has room).
pub fn encode_into(bytes: &[u8], out: &mut String) {
    let len = encoded_len(bytes.len());
    out.reserve(len);
    for k in (0..len).rev() {
        let b = k * 5;
        let i = b / 8;
        let j = b % 8;
        let low = (bytes[i] as u16) >> j;
        let high = if i + 1 < bytes.len() {
            (bytes[i + 1] as u16) << (8 - j)
        } else {
            0
        };
        out.push(ALPHABET[((low | high) & 31) as usize] as char);
    }
}

/// Decodes a nix32 string of any valid length.
pub fn decode(s: &str) -> Result<Vec<u8>, Nix32Error> {
    let n = decoded_len(s.len()).ok_or(Nix32Error::InvalidLength {
        length: s.len(),
        expected: None,
    })?;
    let mut out = vec![0u8; n];
    decode_into(s.as_bytes(), &mut out)?;
    Ok(out)
}

/// Decodes a nix32 string that must stand for exactly `N` bytes, such as the
/// 20-byte hash part of a store path or a 32-byte SHA-256 digest.
pub fn decode_fixed<const N: usize>(s: &str) -> Result<[u8; N], Nix32Error> {
    if s.len() != encoded_len(N) {
        return Err(Nix32Error::InvalidLength {
            length: s.len(),
            expected: Some(encoded_len(N)),
        });
    }
    let mut out = [0u8; N];
    decode_into(s.as_bytes(), &mut out)?;
    Ok(out)
}

/// Decodes `input` (whose length must be `encoded_len(out.len())`) into `out`.
fn decode_into(input: &[u8], out: &mut [u8]) -> Result<(), Nix32Error> {
    debug_assert_eq!(input.len(), encoded_len(out.len()));
    out.fill(0);
    let len = input.len();
    for (n, &c) in input.iter().rev().enumerate() {
        let digit = DECODE[c as usize];
        if digit == 0xff {
            return Err(Nix32Error::InvalidCharacter {
                character: c as char,
                offset: len - 1 - n,
            });
        }
        let b = n * 5;
        let i = b / 8;
        let j = b % 8;
        out[i] |= digit << j;
        let carry = (digit as u16) >> (8 - j);
        if i + 1 < out.len() {
            out[i + 1] |= carry as u8;
        } else if carry != 0 {
            return Err(Nix32Error::Overflow);
        }
    }
    Ok(())
}

/// Whether `c` is a character of the nix32 alphabet.
pub fn is_nix32_char(c: u8) -> bool {
    DECODE[c as usize] != 0xff
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_vectors() {
        assert_eq!(encode(&[]), "");
        assert_eq!(encode(&[0x1f]), "0z");
        let h = hex("8a12321522fd91efbd60ebb2481af88580f61600");
        assert_eq!(encode(&h), "00bgd045z0d4icpbc2yyz4gx48ak44la");
        let h = hex("b3a24de97a8fdbc835b9833169501030b8977031bcb54b3b3ac13740f846ab30");
        assert_eq!(
            encode(&h),
            "0c5b8vw40dy178xlpddw65q9gf1h2186jcc3p4swinwggbllv8mk"
        );
    }

    #[test]
    fn rejects_overflow_and_bad_lengths() {
        assert_eq!(decode("zz"), Err(Nix32Error::Overflow));
        assert_eq!(decode("c0"), Err(Nix32Error::Overflow));
        assert!(matches!(decode("0"), Err(Nix32Error::InvalidLength { .. })));
        assert!(matches!(
            decode("0zz"),
            Err(Nix32Error::InvalidLength { .. })
        ));
        assert_eq!(
            decode("0e"),
            Err(Nix32Error::InvalidCharacter {
                character: 'e',
                offset: 1
            })
        );
        assert!(matches!(
            decode_fixed::<20>("0z"),
            Err(Nix32Error::InvalidLength {
                length: 2,
                expected: Some(32)
            })
        ));
    }

    #[test]
    fn lengths() {
        assert_eq!(encoded_len(16), 26);
        assert_eq!(encoded_len(20), 32);
        assert_eq!(encoded_len(32), 52);
        assert_eq!(encoded_len(64), 103);
        for n in 0..200 {
            assert_eq!(decoded_len(encoded_len(n)), Some(n));
        }
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    proptest! {
        #[test]
        fn round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
            let s = encode(&bytes);
            prop_assert_eq!(s.len(), encoded_len(bytes.len()));
            prop_assert_eq!(decode(&s).unwrap(), bytes);
        }

        #[test]
        fn decode_never_panics(s in "[0-9a-z]{0,60}") {
            if let Ok(bytes) = decode(&s) {
                prop_assert_eq!(encode(&bytes), s);
            }
        }
    }
}
