//! JSON text that holds raw bytes that are not UTF-8 inside its strings.
//!
//! JSON is UTF-8, but `.drv` values are bytes, and tvix's test data writes
//! cp1252 and latin1 values into its JSON as they are. To read such a text
//! with a standard JSON parser without losing a byte, each byte of an
//! invalid UTF-8 sequence (always `0x80` or more) is first replaced by a
//! character of Unicode's last private-use plane, U+10FF80 to U+10FFFF,
//! and mapped back when a string is turned into bytes. A text that is
//! valid UTF-8 is read as it is; a text that needs the mapping must not
//! hold those characters itself, or the mapping could not be undone.

use std::borrow::Cow;

/// The character standing for byte `b` (`0x80..=0xFF`).
const BASE: u32 = 0x10_FF00;
/// The first of those characters.
const FIRST: char = '\u{10FF80}';

/// The text to parse, and whether strings must be mapped back to bytes
/// with [`string_bytes`]; `None` when the text is not UTF-8 and already
/// holds characters the mapping would use.
pub(super) fn decode(bytes: &[u8]) -> Option<(Cow<'_, str>, bool)> {
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Some((Cow::Borrowed(s), false));
    }
    let mut rest = bytes;
    let mut out = String::with_capacity(bytes.len() + 16);
    let push_valid = |out: &mut String, valid: &str| {
        out.push_str(valid);
        !valid.chars().any(|c| c >= FIRST)
    };
    loop {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                if !push_valid(&mut out, s) {
                    return None;
                }
                break;
            }
            Err(e) => {
                let (valid, after) = rest.split_at(e.valid_up_to());
                // The prefix is valid UTF-8 by the error's word.
                if !push_valid(&mut out, std::str::from_utf8(valid).unwrap_or_default()) {
                    return None;
                }
                let bad = e.error_len().unwrap_or(after.len());
                for &b in &after[..bad] {
                    out.push(char::from_u32(BASE + u32::from(b)).unwrap_or(FIRST));
                }
                rest = &after[bad..];
            }
        }
    }
    Some((Cow::Owned(out), true))
}

/// The bytes of a JSON string: its UTF-8, with the mapping's characters
/// turned back into the bytes they stand for when `mapped`.
pub(super) fn string_bytes(s: &str, mapped: bool) -> Vec<u8> {
    if !mapped || !s.chars().any(|c| c >= FIRST) {
        return s.as_bytes().to_vec();
    }
    let mut out = Vec::with_capacity(s.len());
    for c in s.chars() {
        if c >= FIRST {
            out.push((u32::from(c) - BASE) as u8);
        } else {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn cp1252_bytes_survive() {
        let json = b"{\"chars\": \"\xc5\xc4\xd6\"}";
        let (text, mapped) = decode(json).unwrap();
        assert!(mapped);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            string_bytes(v["chars"].as_str().unwrap(), mapped),
            b"\xc5\xc4\xd6"
        );
    }

    #[test]
    fn valid_text_is_kept_and_ambiguous_text_refused() {
        let (text, mapped) = decode("\u{10FFAA}".as_bytes()).unwrap();
        assert!(!mapped);
        assert_eq!(string_bytes(&text, mapped), "\u{10FFAA}".as_bytes());
        let mut both = "\u{10FFAA}".as_bytes().to_vec();
        both.push(0xff);
        assert_eq!(decode(&both), None);
    }

    proptest! {
        /// Whatever bytes a JSON string holds come back, when the text
        /// needs mapping or not.
        #[test]
        fn string_bytes_round_trip(s in proptest::collection::vec(any::<u8>(), 0..40)) {
            let quoted: Vec<u8> = s.iter().map(|&b| if b == b'"' || b == b'\\' || b < 0x20 { b'x' } else { b }).collect();
            let mut json = b"\"".to_vec();
            json.extend_from_slice(&quoted);
            json.push(b'"');
            if let Some((text, mapped)) = decode(&json) {
                let v: String = serde_json::from_str(&text).unwrap();
                prop_assert_eq!(string_bytes(&v, mapped), quoted);
            }
        }
    }
}
