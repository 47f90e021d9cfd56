//! Secret key files as `abovo publish --key` reads them (Guix's
//! `(private-key …)`, Nix's `name:base64`): never a panic, and a key that
//! parses writes itself back in a form that parses to the same key.
#![no_main]
use abovo_store::narinfo::SigningKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(key) = SigningKey::parse(text) {
        let again = SigningKey::parse(&key.to_guix_secret()).expect("its own Guix form parses");
        assert_eq!(again.public_key(), key.public_key());
    }
});
