//! The small readers every file and server answer goes through: store paths
//! (`StoreDir::parse`, `parse_prefix`, `StorePath::from_base_name`), hashes
//! in every spelling (`algo:base16|nix32|base64`, SRI `algo-base64`), the
//! base-N decoders, and the value of a Guix `Signature:` line. The first
//! byte picks which. Never a panic, and what is accepted writes back:
//! a path prints as its text, a hash parses back from each of its forms.
#![no_main]
use abovo_store::encoding::{base16_decode, base16_encode, base64_decode, base64_encode};
use abovo_store::narinfo::GuixSignature;
use abovo_store::{Hash, HashAlgo, StoreDir, StorePath, nixbase32};
use libfuzzer_sys::fuzz_target;

const ALGOS: [HashAlgo; 4] = [
    HashAlgo::Md5,
    HashAlgo::Sha1,
    HashAlgo::Sha256,
    HashAlgo::Sha512,
];

/// `DIR<TAB>PATH` gives a store directory; anything else is in `/gnu/store`.
fn paths(text: &str) {
    let (store, path) = match text.split_once('\t') {
        Some((dir, path)) => match StoreDir::new(dir) {
            Ok(store) => (store, path),
            Err(_) => return,
        },
        None => (StoreDir::default(), text),
    };
    if let Ok(p) = store.parse(path) {
        assert_eq!(store.display(&p), path);
        check(&p);
    }
    if let Ok((p, rest)) = store.parse_prefix(path) {
        assert_eq!(format!("{}{rest}", store.display(&p)), path);
        assert!(rest.is_empty() || rest.starts_with('/'), "{rest:?}");
        check(&p);
    }
    if let Ok(p) = StorePath::from_base_name(path) {
        assert_eq!(p.base_name(), path);
        check(&p);
    }
}

/// What holds for any store path.
fn check(p: &StorePath) {
    assert_eq!(StorePath::from_base_name(&p.base_name()).as_ref(), Ok(p));
    let digest = nixbase32::decode_fixed::<20>(p.hash_part()).expect("a nix32 hash part");
    assert_eq!(StorePath::from_digest(&digest, p.name()).as_ref(), Ok(p));
    assert_eq!(p.is_derivation(), p.name().ends_with(".drv"));
    assert!(!p.name().is_empty() && !p.name().contains('/'));
}

fn hashes(text: &str) {
    if let Ok(h) = Hash::parse_prefixed(text) {
        forms_parse_back(h);
    }
    for algo in ALGOS {
        if let Ok(h) = Hash::parse_digest(algo, text) {
            assert_eq!(h.algo(), algo);
            forms_parse_back(h);
        }
    }
    if let Ok(bytes) = base16_decode(text) {
        assert_eq!(base16_encode(&bytes), text.to_ascii_lowercase());
    }
    if let Ok(bytes) = base64_decode(text) {
        assert_eq!(base64_decode(&base64_encode(&bytes)), Ok(bytes));
    }
}

fn forms_parse_back(h: Hash) {
    for form in [
        h.to_nix32_string(),
        h.to_db_string(),
        h.to_sri(),
        h.to_string(),
    ] {
        assert_eq!(Hash::parse_prefixed(&form), Ok(h), "{form}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    match pick % 3 {
        0 => paths(text),
        1 => hashes(text),
        _ => {
            if let Ok(sig) = GuixSignature::parse(text) {
                let _ = sig.verify_hash(&sig.signed_hash);
            }
        }
    }
});
