//! The strict NAR reader on arbitrary bytes: it must never panic, a NAR it
//! accepts must be canonical (writing the tree back gives the same bytes),
//! and the validator and the tree reader must agree.
#![no_main]
use abovo_store::nar::{self, Tree};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let valid = nar::validate(data).is_ok();
    match Tree::from_nar(data) {
        Ok(tree) => {
            assert!(valid, "the tree reader accepted what the validator refused");
            assert_eq!(tree.to_nar(), data);
        }
        Err(_) => assert!(
            !valid,
            "the validator accepted what the tree reader refused"
        ),
    }
});
