//! The Texinfo renderer of `abovo show` on arbitrary text: it must never
//! panic, loop or overflow the stack, whatever the width; what it refuses
//! prints as written (as `guix show` prints what Guile refuses); and what
//! it accepts fills to the width, but for a word longer than a line.
#![no_main]
use abovo_graph::texinfo::{to_plain_text, to_plain_text_or_raw};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&w, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let width = usize::from(w % 100);
    match to_plain_text(text, width) {
        Ok(plain) => {
            assert!(plain.is_empty() || plain.ends_with("\n\n"), "{plain:?}");
        }
        Err(_) => assert_eq!(to_plain_text_or_raw(text, width), text),
    }
});
