//! The derivation JSON reader on arbitrary bytes: it must never panic;
//! whatever it reads must write back, in every JSON form that can hold it,
//! to a text that reads as the same derivation, whose ATerm text parses to
//! it too.
#![no_main]
use abovo_store::StoreDir;
use abovo_store::derivation::Derivation;
use abovo_store::derivation::json::JsonFormat;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let store = StoreDir::new(StoreDir::NIX).expect("the Nix store directory");
    let Ok(read) = Derivation::read_json(&store, data, None, Some("x")) else {
        return;
    };
    let drv = read.derivation;
    let name = read.name.as_deref().unwrap_or("x");
    for format in JsonFormat::ALL {
        let Ok(json) = drv.to_json_as(&store, Some(name), format) else {
            continue;
        };
        let back = Derivation::read_json(
            &store,
            json.to_string().as_bytes(),
            Some(format),
            Some(name),
        )
        .expect("written JSON reads back");
        assert_eq!(back.derivation, drv, "{format}");
    }
    let text = drv.to_aterm(&store);
    let again = Derivation::parse(&store, &text).expect("written ATerm parses");
    assert_eq!(again, drv);
});
