//! Tarballs made here with the `tar` crate, read back by [`Place`]: every
//! way a member can be named, compressed archives, and every way an archive
//! can lie (truncation, `..`, a symbolic link to climb out of an item, a
//! FIFO, a hard link into nowhere).
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use super::*;
use std::io::Write;

const DRV: &str = "w9krgvil6919s2ghqgx443zb9krx75s6-minimal.drv";
const SRC: &str = "1ysbwi8icaw2g5qmwjf9k0qd4d9gazd9-src";
const OTHER: &str = "0mdqa9w1p6cmli6976v4wi0sw9r4p5pr-other";

/// A tar builder that takes members as (path, kind).
struct Tar(tar::Builder<Vec<u8>>);

enum M<'a> {
    File(&'a [u8], u32),
    Dir,
    Link(&'a str),
    Hard(&'a str),
    Fifo,
}

impl Tar {
    fn new() -> Tar {
        Tar(tar::Builder::new(Vec::new()))
    }

    fn add(&mut self, path: &str, m: M<'_>) -> &mut Tar {
        let mut h = tar::Header::new_gnu();
        // Names set as raw bytes: `set_path` refuses `..`, which the tests
        // need to write.
        let name = path.as_bytes();
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
        let (kind, data, mode): (tar::EntryType, &[u8], u32) = match m {
            M::File(d, mode) => (tar::EntryType::Regular, d, mode),
            M::Dir => (tar::EntryType::Directory, b"", 0o755),
            M::Link(t) => {
                h.set_link_name(t).unwrap();
                (tar::EntryType::Symlink, b"", 0o777)
            }
            M::Hard(t) => {
                h.set_link_name(t).unwrap();
                (tar::EntryType::Link, b"", 0o644)
            }
            M::Fifo => (tar::EntryType::Fifo, b"", 0o644),
        };
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(data.len() as u64);
        h.set_cksum();
        self.0.append(&h, data).unwrap();
        self
    }

    fn bytes(self) -> Vec<u8> {
        self.0.into_inner().unwrap()
    }
}

fn place(bytes: Vec<u8>) -> Result<Place, PlaceError> {
    Place::from_tarball(Path::new("test.tar"), io::Cursor::new(bytes))
}

#[test]
fn drv_members_are_found_by_base_name_however_they_are_named() {
    for name in [
        DRV.to_owned(),
        format!("./{DRV}"),
        format!("gnu/store/{DRV}"),
    ] {
        let mut t = Tar::new();
        t.add("gnu/", M::Dir)
            .add(&name, M::File(b"Derive(x)", 0o444))
            .add("README", M::File(b"not an item", 0o644));
        let p = place(t.bytes()).unwrap();
        assert_eq!(p.derivation(DRV).unwrap().unwrap(), b"Derive(x)", "{name}");
        assert!(p.has_item(DRV));
        assert!(!p.has_item("README"));
        assert_eq!(p.derivation(&DRV.replace('w', "x")).unwrap(), None);
    }
}

#[test]
fn zstd_and_gzip_archives_are_read_by_their_first_bytes() {
    let mut t = Tar::new();
    t.add(DRV, M::File(b"Derive(z)", 0o444));
    let plain = t.bytes();
    let zst = zstd::encode_all(&plain[..], 3).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&plain).unwrap();
    let gz = gz.finish().unwrap();
    for bytes in [plain, zst, gz] {
        let p = place(bytes).unwrap();
        assert_eq!(p.derivation(DRV).unwrap().unwrap(), b"Derive(z)");
    }
}

#[test]
fn truncated_archives_are_refused() {
    let mut t = Tar::new();
    t.add(DRV, M::File(&[b'x'; 600], 0o444))
        .add(SRC, M::File(b"second", 0o444));
    let whole = t.bytes();
    // At a member boundary (after the first member's two data blocks): tar
    // alone would call that a complete archive.
    let boundary = 512 + 1024;
    let err = place(whole[..boundary].to_vec()).unwrap_err().to_string();
    assert!(err.contains("truncated"), "{err}");
    // In the middle of a member's data, of a header, and of a zstd frame.
    for cut in [700, boundary + 100] {
        let err = place(whole[..cut].to_vec()).unwrap_err().to_string();
        assert!(err.contains("test.tar"), "{err}");
    }
    let zst = zstd::encode_all(&whole[..], 3).unwrap();
    let err = place(zst[..zst.len() / 2].to_vec())
        .unwrap_err()
        .to_string();
    assert!(err.contains("truncated or corrupt"), "{err}");
    // The whole archive is fine.
    assert!(place(whole).is_ok());
}

#[test]
fn members_that_climb_out_or_are_not_files_are_refused() {
    let mut t = Tar::new();
    t.add(&format!("{SRC}/../../etc/passwd"), M::File(b"x", 0o644));
    let err = place(t.bytes()).unwrap_err().to_string();
    assert!(err.contains("has a `..`"), "{err}");

    let mut t = Tar::new();
    t.add(DRV, M::Fifo);
    let err = place(t.bytes()).unwrap_err().to_string();
    assert!(err.contains("is not a regular file"), "{err}");

    // A FIFO inside a source item is found when it is unpacked.
    let dir = tempfile::tempdir().unwrap();
    let mut t = Tar::new();
    t.add(&format!("{SRC}/pipe"), M::Fifo);
    let path = dir.path().join("t.tar");
    std::fs::write(&path, t.bytes()).unwrap();
    let p = Place::open(&path).unwrap();
    let err = p
        .copy_items(&[SRC.to_owned()].into(), &|b| dir.path().join(b))
        .unwrap_err()
        .to_string();
    assert!(err.contains("FIFO"), "{err}");
}

#[test]
fn a_symbolic_link_is_never_followed_when_unpacking() {
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    let mut t = Tar::new();
    t.add(&format!("{SRC}/"), M::Dir)
        .add(&format!("{SRC}/lib"), M::Link(outside.to_str().unwrap()))
        .add(&format!("{SRC}/lib/planted"), M::File(b"gotcha", 0o644));
    let path = dir.path().join("t.tar");
    std::fs::write(&path, t.bytes()).unwrap();
    let p = Place::open(&path).unwrap();
    let into = dir.path().join("into");
    std::fs::create_dir(&into).unwrap();
    let err = p
        .copy_items(&[SRC.to_owned()].into(), &|b| into.join(b))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("below a member that is not a directory"),
        "{err}"
    );
    assert!(!outside.join("planted").exists(), "nothing written outside");
}

#[test]
fn items_unpack_with_their_modes_links_and_hard_links() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = Tar::new();
    // OTHER comes first: GNU tar then stores SRC's identical file as a hard
    // link to OTHER's member.
    t.add(&format!("{OTHER}/shared"), M::File(b"same bytes", 0o755))
        .add(&format!("{SRC}/bin/tool"), M::File(b"#!tool", 0o755))
        .add(&format!("{SRC}/doc"), M::File(b"read me", 0o644))
        .add(&format!("{SRC}/bin/alias"), M::Link("tool"))
        .add(&format!("{SRC}/doc2"), M::Hard(&format!("{SRC}/doc")))
        .add(
            &format!("{SRC}/shared"),
            M::Hard(&format!("{OTHER}/shared")),
        )
        .add(DRV, M::File(b"Derive()", 0o444));
    let path = dir.path().join("t.tar.zst");
    std::fs::write(&path, zstd::encode_all(&t.bytes()[..], 3).unwrap()).unwrap();
    let p = Place::open(&path).unwrap();
    assert!(p.has_item(SRC) && p.has_item(OTHER) && p.has_item(DRV));
    let into = dir.path().join("into");
    std::fs::create_dir(&into).unwrap();
    p.copy_items(&[SRC.to_owned()].into(), &|b| into.join(b))
        .unwrap();
    let src = into.join(SRC);
    use std::os::unix::fs::PermissionsExt;
    let mode = |f: &str| std::fs::metadata(src.join(f)).unwrap().permissions().mode() & 0o777;
    assert_eq!(std::fs::read(src.join("bin/tool")).unwrap(), b"#!tool");
    assert_eq!(mode("bin/tool"), 0o755);
    assert_eq!(mode("doc"), 0o644);
    assert_eq!(
        std::fs::read_link(src.join("bin/alias")).unwrap(),
        Path::new("tool")
    );
    assert_eq!(std::fs::read(src.join("doc2")).unwrap(), b"read me");
    assert_eq!(std::fs::read(src.join("shared")).unwrap(), b"same bytes");
    assert_eq!(mode("shared"), 0o755);
    assert!(!into.join(OTHER).exists(), "only the items asked for");

    // Both items at once: the shared member is unpacked and kept.
    let both = dir.path().join("both");
    std::fs::create_dir(&both).unwrap();
    p.copy_items(&[SRC.to_owned(), OTHER.to_owned()].into(), &|b| {
        both.join(b)
    })
    .unwrap();
    assert_eq!(
        std::fs::read(both.join(SRC).join("shared")).unwrap(),
        b"same bytes"
    );
    assert_eq!(
        std::fs::read(both.join(OTHER).join("shared")).unwrap(),
        b"same bytes"
    );
}

#[test]
fn directories_are_read_by_name_and_refuse_fifos() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(DRV), "Derive(d)").unwrap();
    let fifo = dir.path().join(format!("{OTHER}.drv"));
    crate::test_support::make_fifo(&fifo);
    let p = Place::open(dir.path()).unwrap();
    assert_eq!(p.derivation(DRV).unwrap().unwrap(), b"Derive(d)");
    assert_eq!(p.derivation(&format!("{SRC}.drv")).unwrap(), None);
    let err = p
        .derivation(&format!("{OTHER}.drv"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("a FIFO"), "{err}");
    // A FIFO given as the place itself is refused without blocking.
    let err = Place::open(&fifo).unwrap_err().to_string();
    assert!(err.contains("a FIFO"), "{err}");
}
