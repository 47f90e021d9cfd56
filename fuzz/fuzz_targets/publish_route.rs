//! The request paths `abovo publish` parses from any client: never a
//! panic, and a path that parses names only valid store items and hashes.
#![no_main]
use abovo_publish::route::Route;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(path) = std::str::from_utf8(data) else {
        return;
    };
    match Route::parse(path) {
        Route::NarInfo { hash_part } => assert_eq!(hash_part.len(), 32),
        Route::Nar { path: item, .. } => {
            assert!(!item.name().contains('/'));
        }
        Route::File { name, .. } => assert!(!name.contains('/')),
        Route::CacheInfo | Route::NotFound(_) => {}
    }
});
