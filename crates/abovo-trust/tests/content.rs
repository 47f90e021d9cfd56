//! Content classification on real archives built here with the tar, flate2,
//! xz2, bzip2, zstd and zip crates: what a person would hand abovo, and what
//! an attacker would.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod archives;

use abovo_trust::Kind;
use abovo_trust::content::{CodeKind, ContentReport, Limits, scan_bytes, scan_path};
use archives::{bzip2, gzip, lzip, tar_of, xz, zip_of, zstd};

/// A small but well-formed 32-bit i386 ELF executable header and body.
fn elf_i386(len: usize) -> Vec<u8> {
    let mut b = vec![0u8; len.max(64)];
    b[..4].copy_from_slice(b"\x7fELF");
    b[4] = 1; // 32-bit
    b[5] = 1; // little-endian
    b[6] = 1;
    b[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    b[18..20].copy_from_slice(&3u16.to_le_bytes()); // EM_386
    for (i, x) in b.iter_mut().enumerate().skip(64) {
        *x = (i * 7 % 251) as u8;
    }
    b
}

fn class_file() -> Vec<u8> {
    let mut b = vec![0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 52];
    b.extend_from_slice(&[0, 10, 1, 0, 3, b'F', b'o', b'o', 0, 0, 0, 0, 0, 0]);
    b
}

fn pyc() -> Vec<u8> {
    // CPython 3.11 magic (3495), flags, mtime, size, then marshalled code.
    let mut b = vec![0xa7, 0x0d, b'\r', b'\n', 0, 0, 0, 0, 1, 2, 3, 4, 5, 0, 0, 0];
    b.extend_from_slice(&[0xe3, 0, 0, 0, 0, 0, 0, 0]);
    b
}

fn source_files() -> Vec<(String, Vec<u8>)> {
    (0..20)
        .map(|i| {
            let text =
                format!("/* file {i} */\nint f{i}(int x) {{ return x + {i}; }}\n").repeat(40);
            (format!("pkg-1.0/src/f{i}.c"), text.into_bytes())
        })
        .collect()
}

fn scan(name: &str, bytes: &[u8]) -> ContentReport {
    scan_bytes(name, bytes, &Limits::default())
}

#[test]
fn a_lone_elf_is_binary() {
    let r = scan("bash", &elf_i386(4096));
    assert_eq!(r.kind, Kind::Binary, "{r:?}");
    assert_eq!(r.format, "ELF 32-bit LSB executable, Intel 80386");
    assert_eq!(r.bytes, 4096);
    assert!(r.complete);
}

#[test]
fn tarball_of_static_binaries_is_binary_with_members_listed() {
    let bash = elf_i386(50_000);
    let mkdir = elf_i386(20_000);
    let tar = tar_of(&[
        ("bin/bash", &bash),
        ("bin/mkdir", &mkdir),
        ("README", b"static binaries\n"),
    ]);
    let r = scan("static-binaries.tar.xz", &xz(&tar));
    assert_eq!(r.kind, Kind::Binary, "{r:?}");
    assert_eq!(r.format, "xz, tar");
    assert_eq!(r.binary.files, 2);
    assert_eq!(r.binary.bytes, 70_000);
    let paths: Vec<&str> = r.binary_members.iter().map(|m| m.path.as_str()).collect();
    assert_eq!(paths, ["bin/bash", "bin/mkdir"]);
    assert_eq!(r.binary_members[0].size, 50_000);
    assert_eq!(r.files, 3);
}

#[test]
fn source_tarball_with_one_binary_member_is_source_with_binaries() {
    let mut files = source_files();
    files.push((
        "pkg-1.0/bootstrap-seeds/x86/hex0-seed".into(),
        elf_i386(357),
    ));
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    let r = scan("pkg-1.0.tar.gz", &gzip(&tar_of(&refs)));
    assert_eq!(r.kind, Kind::SourceWithBinaries, "{r:?}");
    assert_eq!(r.binary_members.len(), 1);
    assert_eq!(
        r.binary_members[0].path,
        "pkg-1.0/bootstrap-seeds/x86/hex0-seed"
    );
    assert_eq!(r.binary_members[0].size, 357);
    assert_eq!(r.source.files, 20);
}

#[test]
fn pure_source_tarball_is_source_in_every_compression() {
    let files = source_files();
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    let tar = tar_of(&refs);
    for (name, bytes, fmt) in [
        ("p.tar.gz", gzip(&tar), "gzip, tar"),
        ("p.tar.xz", xz(&tar), "xz, tar"),
        ("p.tar.bz2", bzip2(&tar), "bzip2, tar"),
        ("p.tar.zst", zstd(&tar), "zstd, tar"),
        ("p.tar.lz", lzip(&tar), "lzip, tar"),
        ("p.tar", tar.clone(), "tar"),
    ] {
        let r = scan(name, &bytes);
        assert_eq!(r.kind, Kind::Source, "{name}: {r:?}");
        assert_eq!(r.format, fmt, "{name}");
        assert_eq!(r.files, 20, "{name}");
        assert!(r.complete, "{name}: {:?}", r.issues);
    }
}

#[test]
fn zip_with_a_class_file_and_a_pyc() {
    let jar = zip_of(&[
        ("META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\n"),
        ("org/x/Foo.class", &class_file()),
    ]);
    let r = scan("foo.jar", &jar);
    assert_eq!(r.format, "jar");
    assert_eq!(r.binary_members.len(), 1);
    assert!(
        r.binary_members[0].what.starts_with("JVM class file"),
        "{r:?}"
    );
    assert_eq!(r.kind, Kind::Binary, "class bytes dominate a jar: {r:?}");

    let wheel = zip_of(&[
        ("pkg/__init__.py", &b"print('hello')\n".repeat(100)),
        ("pkg/__pycache__/m.cpython-311.pyc", &pyc()),
    ]);
    let r = scan("pkg.whl", &wheel);
    assert_eq!(r.kind, Kind::SourceWithBinaries, "{r:?}");
    assert!(r.binary_members[0].what.starts_with("Python 3 bytecode"));
}

#[test]
fn nested_archives_are_followed_and_named() {
    // A zip holding a .tar.gz holding a .tar.bz2 holding an ELF.
    let innermost = bzip2(&tar_of(&[("tool", &elf_i386(1000))]));
    let middle = gzip(&tar_of(&[
        ("inner.tar.bz2", &innermost),
        ("NEWS", b"news\n"),
    ]));
    let outer = zip_of(&[
        ("dist/middle.tar.gz", &middle),
        ("README.txt", &b"read me\n".repeat(1000)),
    ]);
    let r = scan("bundle.zip", &outer);
    assert_eq!(r.kind, Kind::SourceWithBinaries, "{r:?}");
    assert_eq!(r.binary_members.len(), 1);
    assert_eq!(
        r.binary_members[0].path,
        "dist/middle.tar.gz!/inner.tar.bz2!/tool"
    );
    assert_eq!(r.binary_members[0].size, 1000);
}

#[test]
fn static_library_members_are_objects() {
    let mut obj = elf_i386(600);
    obj[16..18].copy_from_slice(&1u16.to_le_bytes()); // ET_REL
    let mut ar = b"!<arch>\n".to_vec();
    for name in ["a.o/", "b.o/"] {
        ar.extend_from_slice(
            format!(
                "{name:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
                0,
                0,
                0,
                644,
                obj.len()
            )
            .as_bytes(),
        );
        ar.extend_from_slice(&obj);
    }
    let r = scan("libfoo.a", &ar);
    assert_eq!(r.kind, Kind::Binary, "{r:?}");
    // Both objects are counted as files of executable code ...
    assert_eq!(r.binary.files, 2);
    // ... and listed as one static library, named by the archive.
    assert_eq!(r.binary_members.len(), 1, "{r:?}");
    let lib = &r.binary_members[0];
    assert_eq!(lib.path, "libfoo.a");
    assert_eq!(lib.kind, Some(CodeKind::StaticLibrary));
    assert_eq!(lib.size, 1200);
    assert!(lib.what.contains("of 2 objects"), "{}", lib.what);
    assert!(lib.what.contains("relocatable object"), "{}", lib.what);
    assert_eq!(r.code_kinds.len(), 1);
    assert_eq!(r.code_kinds[0].kind, CodeKind::StaticLibrary);
    assert_eq!(r.code_kinds[0].files, 1);
}

#[test]
fn generated_configure_and_minified_bundles() {
    let configure = format!(
        "#! /bin/sh\n# Guess values for system-dependent variables and create Makefiles.\n# Generated by GNU Autoconf 2.71 for pkg 1.0.\n{}",
        "as_fn_exit () { exit $1; }\n".repeat(200)
    );
    let r = scan("configure", configure.as_bytes());
    assert_eq!(r.kind, Kind::Generated, "{r:?}");
    let line: String = (0..2000).map(|i| format!("var a{i}=b(c,{i});")).collect();
    let r = scan("bootstrap.bundle.js", line.as_bytes());
    assert_eq!(r.kind, Kind::Generated, "{r:?}");
    // In a tarball they are listed, but source still dominates.
    let mut files = source_files();
    files.push(("pkg-1.0/configure".into(), configure.clone().into_bytes()));
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    let r = scan("pkg.tar", &tar_of(&refs));
    assert_eq!(r.kind, Kind::Source, "{r:?}");
    assert_eq!(r.generated_members[0].path, "pkg-1.0/configure");
}

#[test]
fn plain_text_and_data() {
    assert_eq!(
        scan("hello.c", b"int main() { return 0; }\n").kind,
        Kind::Source
    );
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    let r = scan("logo.png", png);
    assert_eq!(r.kind, Kind::Source);
    assert!(r.summary.contains("PNG"));
    let opaque: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761u32) >> 13) as u8)
        .collect();
    let r = scan("firmware.bin", &opaque);
    assert_eq!(r.kind, Kind::Unknown, "{r:?}");
}

#[test]
fn directory_tree_is_walked_without_following_links() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("src")).unwrap();
    std::fs::write(
        dir.path().join("src/main.c"),
        b"int main() { return 0; }\n".repeat(100),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("prebuilt.jar"),
        zip_of(&[("A.class", &class_file())]),
    )
    .unwrap();
    std::os::unix::fs::symlink("/bin/sh", dir.path().join("sh")).unwrap();
    let r = scan_path(dir.path(), &Limits::default()).unwrap();
    assert_eq!(r.format, "directory");
    assert_eq!(r.kind, Kind::SourceWithBinaries, "{r:?}");
    assert_eq!(r.binary_members[0].path, "prebuilt.jar!/A.class");
    assert_eq!(r.files, 2, "the symlink to /bin/sh is not followed");
    let err = scan_path(&dir.path().join("missing"), &Limits::default()).unwrap_err();
    assert!(err.to_string().contains("missing"));
}

// ---- hostile input ----

#[test]
fn gzip_bomb_is_stopped_by_the_ratio_guard() {
    // 64 MiB of zeros compress about 1000:1; the guard allows 100:1 here.
    let zeros = vec![0u8; 64 << 20];
    let bomb = gzip(&tar_of(&[("zeros", &zeros)]));
    let limits = Limits {
        max_ratio: 100,
        ratio_grace_bytes: 1 << 20,
        ..Limits::default()
    };
    let r = scan_bytes("bomb.tar.gz", &bomb, &limits);
    assert!(!r.complete);
    assert_eq!(r.kind, Kind::Unknown, "{r:?}");
    assert!(
        r.issues
            .iter()
            .any(|i| i.contains("decompression bomb guard")),
        "{:?}",
        r.issues
    );
}

#[test]
fn total_expansion_is_capped() {
    let data = vec![b'a'; 8 << 20];
    let limits = Limits {
        max_expanded_bytes: 1 << 20,
        ..Limits::default()
    };
    let r = scan_bytes("big.xz", &xz(&data), &limits);
    assert!(!r.complete);
    assert!(
        r.issues.iter().any(|i| i.contains("decompressed in all")),
        "{:?}",
        r.issues
    );
}

#[test]
fn deep_nesting_is_capped() {
    let mut bytes = elf_i386(100);
    for _ in 0..20 {
        bytes = gzip(&bytes);
    }
    let r = scan("deep.gz", &bytes);
    assert!(!r.complete);
    assert!(
        r.issues.iter().any(|i| i.contains("nested deeper than 8")),
        "{:?}",
        r.issues
    );
    assert_eq!(r.kind, Kind::Unknown);
    // Within the limit the ELF is found.
    let mut shallow = elf_i386(100);
    for _ in 0..5 {
        shallow = gzip(&shallow);
    }
    assert_eq!(scan("shallow.gz", &shallow).kind, Kind::Binary);
}

#[test]
fn truncated_archives_report_what_they_saw() {
    let mut files = source_files();
    files.insert(0, ("pkg/bin/tool".into(), elf_i386(3000)));
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    let gz = gzip(&tar_of(&refs));
    let cut = &gz[..gz.len() / 2];
    let r = scan("pkg.tar.gz", cut);
    assert!(!r.complete);
    assert!(!r.issues.is_empty());
    // The binary at the front was seen before the cut.
    assert_eq!(r.binary_members[0].path, "pkg/bin/tool");
    assert!(r.kind.carries_binaries());

    // Without a binary before the cut, nothing can be vouched for.
    let source_only = gzip(&tar_of(&refs[1..]));
    let r = scan("src.tar.gz", &source_only[..source_only.len() / 2]);
    assert_eq!(r.kind, Kind::Unknown, "{r:?}");
}

#[test]
fn bogus_headers_and_absurd_sizes() {
    // A tar header whose size field claims 8 GiB with 10 bytes behind it.
    let mut h = tar::Header::new_ustar();
    h.set_path("huge").unwrap();
    h.set_size(8 << 30);
    h.set_cksum();
    let mut bytes = h.as_bytes().to_vec();
    bytes.extend_from_slice(b"only ten b");
    let r = scan("absurd.tar", &bytes);
    assert!(r.bytes <= 10, "{r:?}");
    // A zip whose local header is cut short.
    let zip = zip_of(&[("a.txt", b"hello")]);
    let r = scan("cut.zip", &zip[..20]);
    assert!(!r.complete);
    // An ar archive with a size that is not a number.
    let mut ar = b"!<arch>\n".to_vec();
    ar.extend_from_slice(b"a.o/            0           0     0     644     12x4567890`\n");
    let r = scan("bad.a", &ar);
    assert!(
        r.issues.iter().any(|i| i.contains("not a number")),
        "{:?}",
        r.issues
    );
    // gzip magic followed by garbage.
    let r = scan("bad.gz", &[0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert!(!r.complete);
    assert_eq!(r.kind, Kind::Unknown);
}

#[test]
fn path_tricks_are_only_printed_escaped() {
    // Member names are never used as paths; control characters are escaped.
    let mut builder = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    let evil = b"../../etc/\x1b[31mpasswd";
    h.as_gnu_mut().unwrap().name[..evil.len()].copy_from_slice(evil);
    h.set_size(100);
    h.set_mode(0o644);
    h.set_cksum();
    builder.append(&h, &elf_i386(100)[..]).unwrap();
    let tar = builder.into_inner().unwrap();
    let r = scan("evil.tar", &tar);
    assert_eq!(r.binary_members.len(), 1, "{r:?}");
    let p = &r.binary_members[0].path;
    assert!(!p.contains('\x1b'), "{p:?}");
    assert!(p.contains("\\u{1b}"), "{p:?}");
}

#[test]
fn member_count_is_capped() {
    let many: Vec<(String, Vec<u8>)> = (0..50).map(|i| (format!("f{i}"), b"x".to_vec())).collect();
    let refs: Vec<(&str, &[u8])> = many
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    let limits = Limits {
        max_members: 10,
        ..Limits::default()
    };
    let r = scan_bytes("many.tar", &tar_of(&refs), &limits);
    assert!(!r.complete);
    assert!(
        r.issues.iter().any(|i| i.contains("member count guard")),
        "{:?}",
        r.issues
    );
    assert_eq!(r.files, 10);
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    const MAGICS: &[&[u8]] = &[
        b"",
        b"\x7fELF",
        b"MZ",
        b"\xca\xfe\xba\xbe",
        b"PK\x03\x04",
        b"!<arch>\n",
        b"\x1f\x8b\x08",
        b"\xfd7zXZ\0",
        b"BZh91AY&SY",
        b"\x28\xb5\x2f\xfd",
        b"LZIP\x01\x0c",
        b"\x5d\0\0\x80\0\xff\xff\xff\xff\xff\xff\xff\xff",
        b"\0asm\x01\0\0\0",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        /// Arbitrary bytes, alone or behind a magic number that sends the
        /// scanner into a decoder or container, give a report, never a
        /// panic, and never more files than bytes.
        #[test]
        fn arbitrary_input(magic in 0..MAGICS.len(), body in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let mut bytes = MAGICS[magic].to_vec();
            bytes.extend_from_slice(&body);
            let r = scan("input", &bytes);
            prop_assert!(r.files <= bytes.len() as u64 + 1);
            prop_assert!(r.binary.files + r.source.files + r.generated.files + r.data.files + r.opaque.files == r.files);
        }

        /// A valid tar header followed by garbage is handled the same way.
        #[test]
        fn tar_header_then_garbage(size in 0u64..1 << 40, body in proptest::collection::vec(any::<u8>(), 0..4096)) {
            let mut h = tar::Header::new_ustar();
            h.set_path("x").unwrap();
            h.set_size(size);
            h.set_cksum();
            let mut bytes = h.as_bytes().to_vec();
            bytes.extend_from_slice(&body);
            let r = scan("x.tar", &bytes);
            prop_assert!(r.bytes <= body.len() as u64);
        }
    }
}
