//! The content scanner on arbitrary bytes: magic detection, every
//! decompressor and container (tar, zip read as a stream, ar, gzip, xz,
//! bzip2, zstd, lzip), nested, under tight limits. It must never panic,
//! and its report must add up: every file counted once in one category,
//! no more compiled-code members listed than counted, the scan complete
//! only when no issue stopped it.
#![no_main]
use abovo_trust::content::{Limits, code, magic, scan_bytes};
use libfuzzer_sys::fuzz_target;

/// Names change what is recognised (`.pyc`, `.hi`, minified `.js`, the
/// inner name of a compressed file): the first byte picks one.
const NAMES: &[&str] = &[
    "blob", "a.tar.gz", "A.class", "m.pyc", "libx.a", "app.jar", "M.hi", "b.min.js", "x.tar.lz",
];

fuzz_target!(|data: &[u8]| {
    let name = NAMES[data.first().map_or(0, |b| usize::from(*b) % NAMES.len())];
    let limits = Limits {
        max_expanded_bytes: 32 << 20,
        max_members: 5_000,
        max_decoder_memory: 32 << 20,
        max_listed: 50,
        ..Limits::default()
    };
    let r = scan_bytes(name, data, &limits);
    assert_eq!(
        r.binary.files + r.generated.files + r.source.files + r.data.files + r.opaque.files,
        r.files
    );
    let counted: u64 = r.code_kinds.iter().map(|t| t.files).sum();
    assert!(
        counted <= r.binary.files,
        "{counted} kinds, {} binaries",
        r.binary.files
    );
    assert!(r.binary_members.len() as u64 <= counted);
    assert!(r.binary_members.len() <= limits.max_listed);
    assert!(
        r.complete || !r.issues.is_empty(),
        "an incomplete scan says why"
    );
    for m in r.binary_members.iter().chain(&r.opaque_members) {
        assert!(!m.path.chars().any(char::is_control), "{:?}", m.path);
    }
    // Recognition alone, on every prefix length the scanner may pass.
    let _ = magic::sniff(data, name);
    let _ = magic::sniff(&data[..data.len().min(magic::HEAD_LEN)], "");
    let _ = code::ocaml_trailer(data, data.len() as u64);
});
