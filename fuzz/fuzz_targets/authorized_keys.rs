//! Key files (Guix ACL S-expressions, Nix `name:base64`) on arbitrary
//! text: never a panic; reading the same text twice adds nothing new.
#![no_main]
use abovo_fetch::keys::AuthorizedKeys;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let mut keys = AuthorizedKeys::default();
        if keys.add_text(text).is_ok() {
            assert_eq!(keys.add_text(text), Ok(0));
        }
    }
});
