//! Debian `Sources` indices (what `abovo fetch` downloads from an archive)
//! on arbitrary text: never a panic, and what is read survives the cache's
//! TSV form unchanged.
#![no_main]
use abovo_fetch::debian::{Index, parse_sources};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(entries) = parse_sources(text)
    {
        for (_, f) in &entries {
            assert!(!f.path.starts_with('/'), "{}", f.path);
            assert!(!f.path.split('/').any(|c| c == ".."), "{}", f.path);
        }
        let index = Index::from_entries(entries.clone());
        let back = Index::from_tsv(&index.to_tsv()).expect("the TSV form reads back");
        assert_eq!(back.len(), index.len());
        for (h, _) in &entries {
            assert_eq!(back.get(h), index.get(h));
        }
    }
});
