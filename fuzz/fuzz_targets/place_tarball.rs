//! The tarball reader of imports (`abovo build --from X.tar[.zst|.gz]`) on
//! arbitrary bytes: it must never panic nor read without bound, and the
//! `.drv` members it accepts must come back the same from a tarball written
//! of them (a round trip through the `tar` crate's writer).
#![no_main]
use abovo_build::foreign::place::Place;
use libfuzzer_sys::fuzz_target;
use std::io::Cursor;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(place) = Place::from_tarball(Path::new("fuzz.tar"), Cursor::new(data.to_vec())) else {
        return;
    };
    let names: Vec<String> = place
        .derivation_names()
        .map(|n| n.map(str::to_owned).collect())
        .unwrap_or_default();
    let mut out = tar::Builder::new(Vec::new());
    for name in &names {
        let bytes = place.derivation(name).unwrap().unwrap();
        assert!(place.has_item(name));
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o444);
        h.set_cksum();
        out.append_data(&mut h, name, &bytes[..]).unwrap();
    }
    let again = Place::from_tarball(
        Path::new("again.tar"),
        Cursor::new(out.into_inner().unwrap()),
    )
    .unwrap();
    let again_names: Vec<String> = again
        .derivation_names()
        .map(|n| n.map(str::to_owned).collect())
        .unwrap_or_default();
    assert_eq!(names, again_names);
    for name in &names {
        assert_eq!(
            place.derivation(name).unwrap(),
            again.derivation(name).unwrap()
        );
    }
});
