//! Package names and versions as Guix reads them: splitting a derivation
//! name into name and version, comparing versions, and version prefixes.

use std::cmp::Ordering;

/// Splits `name-version` at the first hyphen followed by a digit, as Guix's
/// `package-name->name+version` does: `guile-bootstrap-2.0` gives
/// `("guile-bootstrap", Some("2.0"))`, `bash` gives `("bash", None)`.
pub fn split_name_version(name: &str) -> (&str, Option<&str>) {
    match version_hyphen(name.as_bytes()) {
        // The hyphen is ASCII: a character boundary on both sides.
        Some(i) => (&name[..i], Some(&name[i + 1..])),
        None => (name, None),
    }
}

/// Where [`split_name_version`] splits `name`, given as bytes that may not
/// be UTF-8: the position of the hyphen.
pub(crate) fn version_hyphen(name: &[u8]) -> Option<usize> {
    // Eight bytes at a time, without a branch a byte: an unknown name's
    // suggestions split every derivation's name, a loop over bytes (or
    // memchr's, whose set-up a name this short does not repay) costed a
    // fifth of their time.
    const ONES: u64 = u64::from_le_bytes([1; 8]);
    const HIGH: u64 = ONES << 7;
    let word = |at: usize| -> u64 {
        match name.get(at..at + 8) {
            Some(w) => u64::from_le_bytes(w.try_into().unwrap_or_default()),
            None => {
                // The end, padded with zeros: neither hyphens nor digits.
                let mut w = [0u8; 8];
                let rest = name.get(at..).unwrap_or_default();
                w[..rest.len()].copy_from_slice(rest);
                u64::from_le_bytes(w)
            }
        }
    };
    let mut at = 0;
    while at + 1 < name.len() {
        // The high bit of each byte that is a hyphen: of each that is 0
        // once the hyphen is taken out (its low seven bits, plus 0x7f,
        // carry into it unless they are 0; it is set already when the
        // byte's is).
        let x = word(at) ^ (ONES * u64::from(b'-'));
        let hyphens = !(((x & !HIGH) + !HIGH) | x) & HIGH;
        // The high bit of each byte followed by a digit: below 10 once
        // `0` is taken out (with its high bit set first, 10 is taken
        // from each byte without a borrow from the next).
        let y = word(at + 1) ^ (ONES * u64::from(b'0'));
        let digits = !((y | HIGH) - ONES * 10) & !y & HIGH;
        let both = hyphens & digits;
        if both != 0 {
            return Some(at + (both.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    None
}

/// Compares versions like glibc's `strverscmp`, which Guix's
/// `version-compare` uses: runs of digits compare as numbers, other runs
/// byte by byte.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a.as_bytes(), b.as_bytes());
    loop {
        match (x.first(), y.first()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(c), Some(d)) if c.is_ascii_digit() && d.is_ascii_digit() => {
                let i = x.iter().take_while(|c| c.is_ascii_digit()).count();
                let j = y.iter().take_while(|c| c.is_ascii_digit()).count();
                let (p, q) = (trim_zeros(&x[..i]), trim_zeros(&y[..j]));
                let ord = p.len().cmp(&q.len()).then_with(|| p.cmp(q));
                if ord != Ordering::Equal {
                    return ord;
                }
                x = &x[i..];
                y = &y[j..];
            }
            (Some(c), Some(d)) => {
                if c != d {
                    return c.cmp(d);
                }
                x = &x[1..];
                y = &y[1..];
            }
        }
    }
}

fn trim_zeros(digits: &[u8]) -> &[u8] {
    let k = digits.iter().take_while(|&&c| c == b'0').count();
    &digits[k..]
}

/// Whether `prefix` is a version prefix of `version`, component by
/// component as Guix's `version-prefix?`: `4.1` is a prefix of `4.1.2` but
/// not of `4.16.2`.
pub fn is_version_prefix(prefix: &str, version: &str) -> bool {
    let mut v = version.split('.').filter(|s| !s.is_empty());
    prefix
        .split('.')
        .filter(|s| !s.is_empty())
        .all(|p| v.next() == Some(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hyphen_is_found_as_a_byte_loop_finds_it() {
        let plain = |b: &[u8]| {
            b.windows(2)
                .position(|w| w[0] == b'-' && w[1].is_ascii_digit())
        };
        let bytes = b"-0123456789/:,.a\x80\xff\xad\xb0\0";
        // Every name of up to 4 of these bytes, and longer ones around
        // the eight-byte words.
        let mut names: Vec<Vec<u8>> = vec![Vec::new()];
        for _ in 0..4 {
            let longer: Vec<Vec<u8>> = names
                .iter()
                .filter(|n| n.len() == names.last().map_or(0, Vec::len))
                .flat_map(|n| bytes.iter().map(move |&b| [n.as_slice(), &[b]].concat()))
                .collect();
            names.extend(longer);
        }
        for pad in 0..20 {
            for tail in [&b"-1"[..], b"-", b"-a1", b"--1", b"1-"] {
                let mut n = b"python-foo".repeat(3)[..pad].to_vec();
                n.extend_from_slice(tail);
                names.push(n);
            }
        }
        for n in &names {
            assert_eq!(version_hyphen(n), plain(n), "{n:?}");
        }
    }

    #[test]
    fn splits_like_guix() {
        assert_eq!(
            split_name_version("hello-2.12.2"),
            ("hello", Some("2.12.2"))
        );
        assert_eq!(
            split_name_version("guile-bootstrap-2.0"),
            ("guile-bootstrap", Some("2.0"))
        );
        assert_eq!(split_name_version("bash"), ("bash", None));
        assert_eq!(
            split_name_version("gcc-cross-boot0-14.3.0"),
            ("gcc-cross-boot0", Some("14.3.0"))
        );
        assert_eq!(split_name_version("x-"), ("x-", None));
    }

    #[test]
    fn compares_versions() {
        assert_eq!(compare_versions("2.12.2", "2.9"), Ordering::Greater);
        assert_eq!(compare_versions("1.0", "1.0"), Ordering::Equal);
        assert_eq!(compare_versions("1.0", "1.0.1"), Ordering::Less);
        assert_eq!(compare_versions("21.0.5", "17.0.13"), Ordering::Greater);
        assert_eq!(compare_versions("1.0-0.e455d67", "1.0"), Ordering::Greater);
        assert_eq!(compare_versions("007", "7"), Ordering::Equal);
    }

    #[test]
    fn version_prefixes() {
        assert!(is_version_prefix("4.1", "4.1.2"));
        assert!(!is_version_prefix("4.1", "4.16.2"));
        assert!(is_version_prefix("21", "21.0.5"));
        assert!(is_version_prefix("2.12.2", "2.12.2"));
        assert!(!is_version_prefix("2.12.2.1", "2.12.2"));
    }
}
