//! Reading store items on arbitrary bytes: the archive readers behind
//! `abovo ls` and `abovo cat` (tar, zip and `ar` under any compression)
//! must never panic, must stay within their limits, and must hand over
//! only canonical member paths; `STORE-PATH[/PATH]` must parse to a path
//! with no `..` that prints back to itself.
#![no_main]
use abovo_trust::content::Limits;
use abovo_trust::items::{ItemPath, list_archive};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_expanded_bytes: 64 << 20,
        max_members: 10_000,
        max_decoder_memory: 64 << 20,
        ..Limits::default()
    };
    let mut members = 0u64;
    let _ = list_archive(&mut &data[..], "fuzz.tar", &limits, &mut |e| {
        members += 1;
        assert!(!e.path.starts_with(b"/"), "{:?}", e.path);
        assert!(
            !e.path
                .split(|&b| b == b'/')
                .any(|c| c.is_empty() || c == b".")
                || e.path.is_empty(),
            "{:?}",
            e.path
        );
        Ok(())
    });
    assert!(members <= limits.max_members);
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(path) = ItemPath::parse(text, None)
    {
        assert!(
            !path
                .inner
                .iter()
                .any(|c| c == ".." || c == "." || c.is_empty())
        );
        let again = ItemPath::parse(&path.to_string(), None).expect("a printed path parses");
        assert_eq!(again, path);
    }
});
