//! The stamps file of a live store's index (`abovo-index`), which abovo
//! reads back from its cache, where anything may have damaged it. An
//! XXH3 checksum guards the whole file, so random bytes would only ever
//! test it: the harness sets the last eight bytes to the checksum of the
//! ones before, so that the decoder (magic, version, count, length) sees
//! the mutations.
//!
//! Never a panic. What `decode` accepts encodes to the same bytes.
#![no_main]
use abovo_index::stamps;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut file = data.to_vec();
    if file.len() >= 8 {
        let at = file.len() - 8;
        let sum = xxhash_rust::xxh3::xxh3_64(&file[..at]);
        file[at..].copy_from_slice(&sum.to_le_bytes());
    }
    let Ok(entries) = stamps::decode(&file) else {
        return;
    };
    assert_eq!(stamps::encode(&entries), file, "encode ∘ decode changed the file");
});
