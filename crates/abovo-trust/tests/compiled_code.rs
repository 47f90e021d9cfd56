//! Every kind of compiled code the scanner knows, built here byte by byte
//! after each format's specification and hidden in archives nested three
//! deep (tar.gz → zip → tar.xz, tar.zst → tar.bz2, a streamed jar): each
//! must be found, with its full path and kind, and nothing else.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod archives;

use abovo_trust::content::{CodeClass, CodeKind, Limits, ScanOptions, scan_reader_with};
use archives::{bzip2, gzip, lzip, xz, zstd};

// ---- samples, one per kind ----

fn elf(class: u8, etype: u16, machine: u16, len: usize) -> Vec<u8> {
    let mut b = vec![0u8; len.max(64)];
    b[..4].copy_from_slice(b"\x7fELF");
    b[4] = class;
    b[5] = 1;
    b[6] = 1;
    b[16..18].copy_from_slice(&etype.to_le_bytes());
    b[18..20].copy_from_slice(&machine.to_le_bytes());
    for (i, x) in b.iter_mut().enumerate().skip(64 + 2 * 56) {
        *x = (i * 7 % 251) as u8;
    }
    b
}

/// A 64-bit ET_DYN with two program headers: PT_LOAD, then PT_INTERP
/// (a PIE executable) or another PT_LOAD (a shared library).
fn elf_dyn(interp: bool) -> Vec<u8> {
    let mut h = elf(2, 3, 62, 4000);
    h[32..40].copy_from_slice(&64u64.to_le_bytes());
    h[54..56].copy_from_slice(&56u16.to_le_bytes());
    h[56..58].copy_from_slice(&2u16.to_le_bytes());
    h[64..68].copy_from_slice(&1u32.to_le_bytes());
    h[120..124].copy_from_slice(&(if interp { 3u32 } else { 1 }).to_le_bytes());
    h
}

fn guile_elf() -> Vec<u8> {
    let mut b = elf(2, 3, 0, 3000);
    b[7] = 255; // ELFOSABI_STANDALONE, as Guile's linker writes
    b
}

fn pe(dll: bool) -> Vec<u8> {
    let mut b = vec![0u8; 2048];
    b[..2].copy_from_slice(b"MZ");
    b[8] = 4;
    b[0x3c] = 0x80;
    b[0x80..0x84].copy_from_slice(b"PE\0\0");
    b[0x84..0x86].copy_from_slice(&0x8664u16.to_le_bytes());
    let characteristics: u16 = if dll { 0x2022 } else { 0x0022 };
    b[0x96..0x98].copy_from_slice(&characteristics.to_le_bytes());
    b
}

fn macho(filetype: u32) -> Vec<u8> {
    let mut b = vec![0u8; 1500];
    b[..4].copy_from_slice(&[0xcf, 0xfa, 0xed, 0xfe]);
    b[4..8].copy_from_slice(&0x0100_0007u32.to_le_bytes());
    b[12..16].copy_from_slice(&filetype.to_le_bytes());
    b
}

fn class_file() -> Vec<u8> {
    let mut b = vec![0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 52];
    b.extend_from_slice(&[0, 10, 1, 0, 3, b'F', b'o', b'o', 0, 0, 0, 0, 0, 0]);
    b
}

/// An OCaml bytecode executable as OCaml's own `boot/ocamlc` is: code
/// from the first byte (no `#!` header), then the section table, the
/// section count and the `Caml1999X` magic.
fn ocaml_bytecode() -> Vec<u8> {
    let code: Vec<u8> = (0..3000u32).map(|i| (i * 13 % 256) as u8).collect();
    let mut b = code.clone();
    for (name, len) in [(b"CODE", 2000u32), (b"DATA", 900), (b"PRIM", 100)] {
        b.extend_from_slice(name);
        b.extend_from_slice(&len.to_be_bytes());
    }
    b.extend_from_slice(&3u32.to_be_bytes());
    b.extend_from_slice(b"Caml1999X031");
    b
}

fn pyc() -> Vec<u8> {
    let mut b = vec![0xa7, 0x0d, b'\r', b'\n', 0, 0, 0, 0, 1, 2, 3, 4, 5, 0, 0, 0];
    b.extend_from_slice(&[0xe3, 0, 0, 0, 0, 0, 0, 0]);
    b
}

fn with_tail(head: &[u8], len: usize) -> Vec<u8> {
    let mut b = head.to_vec();
    b.extend((0..len).map(|i| (i % 7) as u8));
    b
}

fn opaque_blob() -> Vec<u8> {
    (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

/// One sector of x86 real-mode code with the boot signature.
fn boot_sector() -> Vec<u8> {
    let mut b = opaque_blob()[..512].to_vec();
    b[..4].copy_from_slice(&[0x31, 0xc0, 0x8e, 0xd8]); // xor ax,ax; mov ds,ax
    b[510..].copy_from_slice(&[0x55, 0xaa]);
    b
}

fn static_library() -> Vec<u8> {
    let obj = elf(1, 1, 3, 600);
    let mut ar = b"!<arch>\n".to_vec();
    for name in ["a.o/", "b.o/"] {
        let header = format!(
            "{name:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
            0,
            0,
            0,
            644,
            obj.len()
        );
        ar.extend_from_slice(header.as_bytes());
        ar.extend_from_slice(&obj);
    }
    ar
}

// ---- containers (owned members, for building nested archives) ----

fn refs<'a>(files: &'a [(&'a str, Vec<u8>)]) -> Vec<(&'a str, &'a [u8])> {
    files.iter().map(|(n, d)| (*n, d.as_slice())).collect()
}

fn tar_of(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    archives::tar_of(&refs(files))
}

fn zip_of(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    archives::zip_of(&refs(files))
}

fn streamed_zip_of(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    archives::streamed_zip_of(&refs(files))
}

/// The archive: every kind, three levels deep, in every compression.
fn nested_archive() -> Vec<u8> {
    let level3_xz = xz(&tar_of(&[
        ("ocamlc", ocaml_bytecode()),
        ("libfoo.a", static_library()),
        ("m.beam", with_tail(b"FOR1\0\0\x01\0BEAMAtU8", 300)),
    ]));
    let jar = streamed_zip_of(&[
        ("META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\n".to_vec()),
        ("org/x/A.class", class_file()),
    ]);
    let level2_zip = zip_of(&[
        ("x.class", class_file()),
        ("lib/c.tar.xz", level3_xz),
        ("app.jar", jar),
        ("notes.txt", b"plain text\n".repeat(20)),
    ]);
    let level3_bz2 = bzip2(&tar_of(&[
        ("f.pyc", pyc()),
        ("boot-9.go", guile_elf()),
        ("old.go", with_tail(b"GOOF----LE-8-2.0", 500)),
        ("a.elc", with_tail(b";ELC\x1c\0\0\0\n;;; compiled\n", 200)),
        ("m.wasm", with_tail(b"\0asm\x01\0\0\0", 100)),
        ("libx.so", elf_dyn(false)),
        ("pie", elf_dyn(true)),
        ("prog.exe", pe(false)),
        ("lib.dll", pe(true)),
        ("mach", macho(2)),
        ("lib.dylib", macho(6)),
        ("blob.bin", opaque_blob()),
        ("boot.img", boot_sector()),
        ("y.class.lz", lzip(&class_file())),
    ]));
    let level2_zst = zstd(&tar_of(&[("e.tar.bz2", level3_bz2)]));
    let mut top: Vec<(&str, Vec<u8>)> = vec![
        ("dir/bin/tool", elf(1, 2, 3, 5000)),
        ("dir/b.zip", level2_zip),
        ("dir/d.tar.zst", level2_zst),
        ("dir/README", b"read me\n".repeat(50)),
    ];
    let sources: Vec<(String, Vec<u8>)> = (0..10)
        .map(|i| {
            let text = format!("int f{i}(int x) {{ return x + {i}; }}\n").repeat(30);
            (format!("dir/src/f{i}.c"), text.into_bytes())
        })
        .collect();
    top.extend(sources.iter().map(|(n, d)| (n.as_str(), d.clone())));
    gzip(&tar_of(&top))
}

#[test]
fn every_kind_is_found_three_archives_deep_with_its_path() {
    let bytes = nested_archive();
    let options = ScanOptions {
        root: "a.tar.gz".to_owned(),
        ..ScanOptions::default()
    };
    let r = scan_reader_with("a.tar.gz", &bytes[..], &Limits::default(), &options);
    assert!(r.complete, "{:?}", r.issues);
    assert_eq!(r.format, "gzip, tar");
    let z = "a.tar.gz!/dir/b.zip";
    let b = "a.tar.gz!/dir/d.tar.zst!/e.tar.bz2";
    let want: Vec<(String, CodeKind)> = [
        ("a.tar.gz!/dir/bin/tool".to_owned(), CodeKind::ElfExecutable),
        (format!("{z}!/x.class"), CodeKind::JavaClass),
        (
            format!("{z}!/lib/c.tar.xz!/ocamlc"),
            CodeKind::OcamlExecutable,
        ),
        (
            format!("{z}!/lib/c.tar.xz!/libfoo.a"),
            CodeKind::StaticLibrary,
        ),
        (format!("{z}!/lib/c.tar.xz!/m.beam"), CodeKind::ErlangBeam),
        (format!("{z}!/app.jar!/org/x/A.class"), CodeKind::JavaClass),
        (format!("{b}!/f.pyc"), CodeKind::PythonBytecode),
        (format!("{b}!/boot-9.go"), CodeKind::GuileObject),
        (format!("{b}!/old.go"), CodeKind::GuileObject),
        (format!("{b}!/a.elc"), CodeKind::EmacsBytecode),
        (format!("{b}!/m.wasm"), CodeKind::WebAssembly),
        (format!("{b}!/libx.so"), CodeKind::ElfSharedLibrary),
        (format!("{b}!/pie"), CodeKind::ElfExecutable),
        (format!("{b}!/prog.exe"), CodeKind::PeExecutable),
        (format!("{b}!/lib.dll"), CodeKind::PeDll),
        (format!("{b}!/mach"), CodeKind::MachoExecutable),
        (format!("{b}!/lib.dylib"), CodeKind::MachoDylib),
        (format!("{b}!/y.class.lz"), CodeKind::JavaClass),
        (format!("{b}!/boot.img"), CodeKind::BootSector),
    ]
    .into_iter()
    .collect();
    let mut got: Vec<(String, CodeKind)> = r
        .binary_members
        .iter()
        .map(|m| (m.path.clone(), m.kind.unwrap()))
        .collect();
    got.sort();
    let mut want_sorted = want.clone();
    want_sorted.sort();
    assert_eq!(got, want_sorted);
    // Sizes are the members' own, expanded.
    let ocamlc = r
        .binary_members
        .iter()
        .find(|m| m.path.ends_with("!/ocamlc"))
        .unwrap();
    assert_eq!(ocamlc.size, ocaml_bytecode().len() as u64);
    assert!(ocamlc.what.contains("Caml1999X031"), "{}", ocamlc.what);
    // The opaque blob is listed as such, not as code.
    let opaque: Vec<&str> = r.opaque_members.iter().map(|m| m.path.as_str()).collect();
    assert_eq!(opaque, [format!("{b}!/blob.bin")]);
    // Totals per kind: the two objects of libfoo.a make one static library,
    // and the binary tally counts them as two files.
    let count = |k: CodeKind| {
        r.code_kinds
            .iter()
            .find(|t| t.kind == k)
            .map_or(0, |t| t.files)
    };
    assert_eq!(count(CodeKind::JavaClass), 3);
    assert_eq!(count(CodeKind::GuileObject), 2);
    assert_eq!(count(CodeKind::StaticLibrary), 1);
    assert_eq!(count(CodeKind::ElfObject), 0);
    assert_eq!(r.binary.files, want.len() as u64 + 1);
    let native: u64 = r
        .code_kinds
        .iter()
        .filter(|t| t.class == CodeClass::Native)
        .map(|t| t.files)
        .sum();
    assert_eq!(native, 9);
}

#[test]
fn a_corrupt_member_is_an_opaque_blob_and_the_scan_goes_on() {
    let mut bad_gz = gzip(&b"text ".repeat(1000));
    let cut = bad_gz.len() - 20;
    bad_gz[cut..].fill(0xff);
    let tar = tar_of(&[
        ("tests/bad.gz", bad_gz.clone()),
        ("bin/tool", elf(1, 2, 3, 3000)),
        ("README", b"hi\n".to_vec()),
    ]);
    let r = scan_reader_with(
        "t.tar",
        &tar[..],
        &Limits::default(),
        &ScanOptions::default(),
    );
    assert!(r.complete, "every byte was seen: {:?}", r.issues);
    assert_eq!(r.binary_members.len(), 1, "{r:?}");
    assert_eq!(r.binary_members[0].path, "bin/tool");
    let blob = &r.opaque_members[0];
    assert_eq!(blob.path, "tests/bad.gz");
    assert_eq!(blob.size, bad_gz.len() as u64);
    assert!(blob.what.starts_with("undecodable data"), "{}", blob.what);
    assert!(
        r.issues.iter().any(|i| i.starts_with("tests/bad.gz")),
        "{:?}",
        r.issues
    );
}

#[test]
fn a_single_file_is_named_by_its_file_name_or_root() {
    let r = scan_reader_with(
        "ocamlc",
        &ocaml_bytecode()[..],
        &Limits::default(),
        &ScanOptions::default(),
    );
    assert_eq!(r.binary_members[0].path, "ocamlc");
    assert_eq!(r.binary_members[0].kind, Some(CodeKind::OcamlExecutable));
    let options = ScanOptions {
        root: "boot/ocamlc.gz".to_owned(),
        ..ScanOptions::default()
    };
    let r = scan_reader_with(
        "ocamlc.gz",
        &gzip(&ocaml_bytecode())[..],
        &Limits::default(),
        &options,
    );
    assert_eq!(r.binary_members[0].path, "boot/ocamlc.gz");
}

#[test]
fn progress_is_told_every_byte_read() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.tar.gz");
    let bytes = nested_archive();
    std::fs::write(&file, &bytes).unwrap();
    let seen = std::cell::Cell::new(0u64);
    let hook = |n: u64| seen.set(seen.get() + n);
    let options = ScanOptions {
        root: String::new(),
        progress: Some(&hook),
    };
    let r = abovo_trust::content::scan_path_with(&file, &Limits::default(), &options).unwrap();
    assert!(r.complete);
    assert_eq!(seen.get(), bytes.len() as u64);
}
