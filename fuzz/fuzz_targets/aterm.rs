//! The `.drv` reader on arbitrary bytes: it must never panic; the borrowed
//! and owned forms must accept the same texts with the same errors and hold
//! the same derivation; the canonical flag must say exactly whether the text
//! writes back to itself; the modulo texts spliced from the bytes must equal
//! the ones written from the owned form; and whatever is accepted must write
//! back to a text that parses to the same derivation.
#![no_main]
use abovo_store::derivation::{Derivation, DerivationRef};
use abovo_store::{StoreDir, StorePath};
use libfuzzer_sys::fuzz_target;

/// Input hashes for the modulo texts: a few values, so that inputs collide.
fn input_hash(p: &StorePath) -> [u8; 32] {
    [p.hash_part_bytes()[0] % 3; 32]
}

fuzz_target!(|data: &[u8]| {
    let store = StoreDir::default();
    let borrowed = DerivationRef::parse(&store, data);
    let owned = Derivation::parse(&store, data);
    let (drv, view) = match (owned, borrowed) {
        (Ok(drv), Ok(view)) => (drv, view),
        (Err(a), Err(b)) => {
            assert_eq!(a, b, "the forms fail differently");
            return;
        }
        _ => panic!("one form accepts what the other rejects"),
    };
    assert!(view == drv, "the forms hold different derivations");
    let text = drv.to_aterm(&store);
    assert_eq!(view.is_canonical(), text == data, "wrong canonical flag");
    for masked in [false, true] {
        let spliced = view.modulo_text(&store, masked, |p| Ok(input_hash(&p.to_store_path())));
        let written = drv.modulo_text(&store, masked, |p| Ok(input_hash(p)));
        assert_eq!(spliced, written, "modulo texts differ (masked: {masked})");
    }
    let again = Derivation::parse(&store, &text).expect("written text parses");
    assert_eq!(again, drv);
    assert_eq!(again.to_aterm(&store), text);
});
