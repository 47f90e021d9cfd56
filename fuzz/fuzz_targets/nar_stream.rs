//! A substitute's NAR stream as `abovo fetch` reads it: the first byte
//! picks the compression, the rest is the compressed stream, decoded and
//! NAR-checked as it flows. Never a panic, memory bounded by the
//! decoders' limits; a stream that validates hashes to what was read.
#![no_main]
use abovo_fetch::compression::Compression;
use abovo_store::nar::{HashingReader, validate};
use libfuzzer_sys::fuzz_target;
use std::io::Read;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let c = Compression::ALL[usize::from(pick) % Compression::ALL.len()];
    let Ok(decoder) = c.decoder(rest) else { return };
    // Bounded: a bomb stops at 64 MiB of output.
    let mut hashing = HashingReader::new(decoder.take(64 << 20));
    if let Ok(summary) = validate(&mut hashing) {
        assert_eq!(summary.nar_size, hashing.finish().size);
    }
});
