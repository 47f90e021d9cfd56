//! The records file of a live store's index (`abovo-index`), which abovo
//! reads back from its cache, where anything may have damaged it. A SHA-256
//! guards the body, so random bytes would only ever test the checksum: the
//! harness makes every file pass it. The first byte picks the mode. Even:
//! the rest is a whole file, whose checksum is set to what its frame needs.
//! Odd: the rest is the decompressed body, which the harness compresses and
//! frames as `records::encode` does, so that the decoder (varints, ids,
//! string and path tables, fixed outputs) sees the mutations rather than
//! zstd.
//!
//! Never a panic. What `decode` accepts encodes to a file that decodes to
//! the same entries.
#![no_main]
use abovo_index::records::{self, MAGIC, VERSION};
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};

/// The fixed header: magic, version, SHA-256 of the frame.
const HEADER_LEN: usize = 44;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let file = if mode & 1 == 0 {
        let mut out = rest.to_vec();
        if out.len() >= HEADER_LEN {
            let sum = Sha256::digest(&out[HEADER_LEN..]);
            out[12..HEADER_LEN].copy_from_slice(&sum);
        }
        out
    } else {
        let frame = zstd::bulk::compress(rest, 1).expect("zstd compresses");
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&Sha256::digest(&frame));
        out.extend_from_slice(&frame);
        out
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
