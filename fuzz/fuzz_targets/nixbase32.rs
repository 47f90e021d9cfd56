//! The strict nix32 decoder: never panics, and accepts only canonical text.
#![no_main]
use abovo_store::nixbase32;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data)
        && let Ok(bytes) = nixbase32::decode(s)
    {
        assert_eq!(nixbase32::encode(&bytes), s);
    }
});
