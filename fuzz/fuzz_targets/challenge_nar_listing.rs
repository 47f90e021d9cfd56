//! `abovo challenge --diff`'s reading of a server's NAR: the first byte
//! picks the compression, the rest is the stream, held to a NarSize and
//! NarHash taken from the input's own tail. Never a panic; a listing that
//! is accepted compares with itself as unchanged.
#![no_main]
use abovo_challenge::nar::{changes, list_stream};
use abovo_fetch::compression::Compression;
use abovo_store::HashAlgo;
use abovo_store::narinfo::NarInfo;
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeSet;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let c = Compression::ALL[usize::from(pick) % Compression::ALL.len()];
    let info = NarInfo::new(
        "/gnu/store/00000000000000000000000000000000-x".into(),
        HashAlgo::Sha256.digest(rest),
        (rest.len() as u64).min(64 << 20),
    );
    let keep: BTreeSet<Vec<u8>> = [Vec::new()].into();
    if let Ok(listing) = list_stream(rest, c, &info, &keep) {
        assert!(changes(&listing, &listing).is_empty());
    }
});
