//! The `.drv` parser on arbitrary bytes: it must never panic, and whatever it
//! accepts must write back to a text that parses to the same derivation.
#![no_main]
use abovo_store::{StoreDir, derivation::Derivation};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let store = StoreDir::default();
    if let Ok(drv) = Derivation::parse(&store, data) {
        let text = drv.to_aterm(&store);
        let again = Derivation::parse(&store, &text).expect("written text parses");
        assert_eq!(again, drv);
        assert_eq!(again.to_aterm(&store), text);
    }
});
