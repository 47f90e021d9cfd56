//! The records file of a live store's index (`abovo-index`), which abovo
//! reads back from its cache, where anything may have damaged it. SHA-256
//! sums guard the chunk table and every chunk, so random bytes would only
//! ever test the checksums: the harness makes every file pass them. The
//! first byte picks the mode. Even: the rest is a whole file, whose table
//! and chunk checksums are set to what its bytes need (where its table can
//! be read). Odd: the rest is the decompressed body of one chunk, which the
//! harness compresses and frames with `records::lay_out`, as `encode` does, so that the
//! decoder (varints, lengths, path numbers, fixed outputs) sees the
//! mutations rather than zstd.
//!
//! Never a panic. What `decode` accepts encodes to a file that decodes to
//! the same entries.
#![no_main]
use abovo_index::records;
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};

/// Magic, version, chunk count.
const FIXED: usize = 16;
/// Frame length and SHA-256 of a chunk.
const ENTRY: usize = 40;

/// Sets the checksums of a whole file, as far as its chunk table goes.
fn fix_sums(out: &mut [u8]) {
    if out.len() < FIXED {
        return;
    }
    let n = u32::from_le_bytes([out[12], out[13], out[14], out[15]]) as usize;
    let Some(table_end) = n
        .checked_mul(ENTRY)
        .and_then(|t| t.checked_add(FIXED + 32))
        .filter(|&end| end <= out.len())
    else {
        return;
    };
    let mut at = table_end;
    for i in 0..n {
        let e = FIXED + i * ENTRY;
        let len = u64::from_le_bytes(out[e..e + 8].try_into().expect("8 bytes"));
        let Some(end) = usize::try_from(len)
            .ok()
            .and_then(|len| at.checked_add(len))
            .filter(|&end| end <= out.len())
        else {
            break;
        };
        let sum = Sha256::digest(&out[at..end]);
        out[e + 8..e + ENTRY].copy_from_slice(&sum);
        at = end;
    }
    let sum = Sha256::digest(&out[..table_end - 32]);
    out[table_end - 32..table_end].copy_from_slice(&sum);
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let file = if mode & 1 == 0 {
        let mut out = rest.to_vec();
        fix_sums(&mut out);
        out
    } else {
        records::lay_out(&[zstd::bulk::compress(rest, 1).expect("zstd compresses")])
    };
    let Ok(entries) = records::decode(&file) else {
        return;
    };
    let again = records::encode(&entries, 1).expect("level 1 is valid");
    assert_eq!(
        records::decode(&again).expect("what encode writes decodes"),
        entries,
        "encode ∘ decode changed the entries"
    );
});
