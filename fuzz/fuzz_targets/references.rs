//! The reference scanner, which decides what a build output (written by an
//! untrusted builder) refers to, on arbitrary bytes fed in arbitrary
//! chunks. It must find exactly the candidates that occur in the bytes, as
//! a plain substring search does, wherever the chunks split them.
//!
//! The candidates are taken from the input itself (runs of 32 nix32
//! characters at every eleventh offset, and each of them with its last
//! character changed, which may or may not occur), so that both hits and
//! near misses are common; the chunk sizes come from the first bytes.
#![no_main]
use abovo_store::nixbase32::is_nix32_char;
use abovo_store::references::{HashPart, ReferenceScanner};
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeSet;

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let (sizes, bytes) = data.split_at(4);
    let mut candidates: BTreeSet<HashPart> = BTreeSet::new();
    for w in bytes.windows(32).step_by(11) {
        if w.iter().all(|&c| is_nix32_char(c)) {
            let mut h: HashPart = w.try_into().expect("32 bytes");
            candidates.insert(h);
            h[31] = if h[31] == b'0' { b'1' } else { b'0' };
            candidates.insert(h);
        }
    }
    let expected: BTreeSet<HashPart> = candidates
        .iter()
        .filter(|c| bytes.windows(32).any(|w| w == &c[..]))
        .copied()
        .collect();

    let mut scanner = ReferenceScanner::new(candidates.iter().copied());
    let mut rest = bytes;
    let mut i = 0;
    while !rest.is_empty() {
        // Chunks of 0 to 63 bytes, as the first four bytes say in turn.
        let n = usize::from(sizes[i % sizes.len()] % 64).min(rest.len());
        scanner.scan(&rest[..n]);
        rest = &rest[n..];
        i += 1;
        if i > 4 * bytes.len() + 4 {
            // Four zero sizes: one chunk with everything left.
            scanner.scan(rest);
            break;
        }
    }
    assert_eq!(scanner.found(), &expected);
    assert_eq!(scanner.all_found(), expected.len() == candidates.len());
});
