//! The narinfo parser on arbitrary text: it must never panic, and a parsed
//! narinfo must write back to exactly its input (quirks are kept).
#![no_main]
use abovo_store::narinfo::NarInfo;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(info) = NarInfo::parse(text)
    {
        assert_eq!(info.to_string(), text);
        let _ = info.fingerprint();
        let _ = info.verify_guix_signature();
    }
});
