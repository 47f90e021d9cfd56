//! `abovo scan` end to end: archives made here (nested three deep), the
//! real seed bytes of `../shared/data/seed-bytes` (ABOVO_SEED_BYTES: GNU
//! Mes 0.25.1 and TinyCC 0.9.27 hold no compiled code, stage0-posix 1.6.0
//! holds the hex0 and kaem seeds), text and JSON, standard input, and the
//! exit codes.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod cli_support;

use cli_support::*;
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;

fn elf_executable(len: usize) -> Vec<u8> {
    let mut b = vec![0u8; len];
    b[..4].copy_from_slice(b"\x7fELF");
    b[4] = 1;
    b[5] = 1;
    b[6] = 1;
    b[16..18].copy_from_slice(&2u16.to_le_bytes());
    b[18..20].copy_from_slice(&3u16.to_le_bytes());
    for (i, x) in b.iter_mut().enumerate().skip(64) {
        *x = (i * 7 % 251) as u8;
    }
    b
}

/// Bytecode the way OCaml's own `boot/ocamlc` is: no header, the
/// `Caml1999X` trailer at the end.
fn ocaml_bytecode() -> Vec<u8> {
    let mut b: Vec<u8> = (0..2000u32).map(|i| (i * 13 % 256) as u8).collect();
    for (name, len) in [(b"CODE", 1500u32), (b"DATA", 500)] {
        b.extend_from_slice(name);
        b.extend_from_slice(&len.to_be_bytes());
    }
    b.extend_from_slice(&2u32.to_be_bytes());
    b.extend_from_slice(b"Caml1999X023");
    b
}

fn class_file() -> Vec<u8> {
    let mut b = vec![0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 52];
    b.extend_from_slice(&[0, 10, 1, 0, 3, b'F', b'o', b'o', 0, 0, 0, 0, 0, 0]);
    b
}

fn tar_of(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        builder.append_data(&mut h, name, &data[..]).unwrap();
    }
    builder.into_inner().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// `a.tar.gz` → `dir/b.tar` → `c.tar.gz` → the compiled members.
fn nested() -> Vec<u8> {
    let c = gzip(&tar_of(&[
        ("bin/tool", elf_executable(3000)),
        ("boot/ocamlc", ocaml_bytecode()),
        ("X.class", class_file()),
        ("README", b"hello\n".repeat(10)),
    ]));
    let b = tar_of(&[("c.tar.gz", c), ("NEWS", b"news\n".to_vec())]);
    gzip(&tar_of(&[
        ("dir/b.tar", b),
        ("dir/main.c", b"int main(void) { return 0; }\n".repeat(40)),
    ]))
}

/// Runs `abovo scan` in `dir` (so that paths are relative to it).
fn scan_in(dir: &Path, args: &[&str]) -> std::process::Output {
    let mut all = vec!["scan"];
    all.extend_from_slice(args);
    abovo_command(&all).current_dir(dir).output().unwrap()
}

fn compiled(input: &Value) -> Vec<(String, String)> {
    input["compiled"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_owned(),
                f["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn nested_archives_give_full_paths_and_kinds_in_json_and_text() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.tar.gz"), nested()).unwrap();
    let o = scan_in(dir.path(), &["a.tar.gz", "--format", "json"]);
    assert_eq!(code(&o), SUCCESS, "{}", text(&o));
    let v = parse_json(&o);
    let input = &v["inputs"][0];
    assert_eq!(input["path"], "a.tar.gz");
    assert_eq!(input["format"], "gzip, tar");
    assert_eq!(input["complete"], true);
    let c = "a.tar.gz!/dir/b.tar!/c.tar.gz";
    assert_eq!(
        compiled(input),
        [
            (format!("{c}!/bin/tool"), "elf-executable".to_owned()),
            (
                format!("{c}!/boot/ocamlc"),
                "ocaml-bytecode-executable".to_owned()
            ),
            (format!("{c}!/X.class"), "java-class".to_owned()),
        ]
    );
    assert_eq!(input["compiled"][1]["class"], "bytecode");
    assert_eq!(input["compiled"][1]["size"], ocaml_bytecode().len());
    assert_eq!(input["native"]["files"], 1);
    assert_eq!(input["bytecode"]["files"], 2);
    assert_eq!(v["compiled_code_found"], true);
    assert_eq!(v["kinds"].as_array().unwrap().len(), 3);

    // The same in text: one line per member, totals per kind.
    let o = scan_in(dir.path(), &["a.tar.gz"]);
    assert_eq!(code(&o), SUCCESS);
    let t = stdout(&o);
    assert!(t.contains(&format!("{c}!/boot/ocamlc")), "{t}");
    assert!(t.contains("OCaml bytecode executable"), "{t}");
    assert!(
        t.contains("compiled code: 3 members (1 native, 2 bytecode)"),
        "{t}"
    );
    assert!(t.contains("Totals"), "{t}");

    // --fail-on-binary turns the finding into a negative answer.
    let o = scan_in(dir.path(), &["a.tar.gz", "--fail-on-binary"]);
    assert_eq!(code(&o), NEGATIVE, "{}", text(&o));
    // --max-listed caps the list, not the counts.
    let o = scan_in(
        dir.path(),
        &["a.tar.gz", "--format", "json", "--max-listed", "1"],
    );
    let v = parse_json(&o);
    assert_eq!(v["inputs"][0]["compiled"].as_array().unwrap().len(), 1);
    assert_eq!(v["inputs"][0]["bytecode"]["files"], 2);
    assert_eq!(v["inputs"][0]["listed_all"], false);
}

#[test]
fn standard_input_and_plain_source_and_directories() {
    let src = gzip(&tar_of(&[("p/main.c", b"int x;\n".repeat(100))]));
    let mut child = abovo_command(&["scan", "-", "--format", "json", "--fail-on-binary"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&src).unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(code(&o), SUCCESS, "no compiled code: {}", text(&o));
    let v = parse_json(&o);
    assert_eq!(v["inputs"][0]["path"], "<stdin>");
    assert_eq!(v["compiled_code_found"], false);

    // A directory: paths under its name.
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(tree.join("lib")).unwrap();
    std::fs::write(tree.join("lib/X.class"), class_file()).unwrap();
    std::fs::write(tree.join("notes.txt"), b"notes\n").unwrap();
    let v = parse_json(&scan_in(dir.path(), &["tree", "--format", "json"]));
    assert_eq!(
        compiled(&v["inputs"][0]),
        [("tree/lib/X.class".to_owned(), "java-class".to_owned())]
    );
}

#[test]
fn unreadable_and_cut_inputs_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let o = scan_in(dir.path(), &["missing.tar.gz"]);
    assert_eq!(code(&o), ERROR);
    assert!(stderr(&o).contains("missing.tar.gz"), "{}", stderr(&o));

    // A cut archive: what was seen is reported, and the exit code says that
    // the rest was not.
    let whole = nested();
    std::fs::write(dir.path().join("cut.tar.gz"), &whole[..whole.len() / 2]).unwrap();
    let o = scan_in(dir.path(), &["cut.tar.gz", "--format", "json"]);
    assert_eq!(code(&o), ERROR, "{}", text(&o));
    let v = parse_json(&o);
    assert_eq!(v["complete"], false);
    assert_eq!(v["inputs"][0]["complete"], false);
    assert!(!v["inputs"][0]["issues"].as_array().unwrap().is_empty());
    assert!(stderr(&o).contains("could not finish"), "{}", stderr(&o));
    // Another input still scanned, in order.
    std::fs::write(dir.path().join("ok.txt"), b"fine\n").unwrap();
    let o = scan_in(dir.path(), &["missing", "ok.txt", "--format", "json"]);
    assert_eq!(code(&o), ERROR);
    let v = parse_json(&o);
    assert!(
        v["inputs"][0]["error"]
            .as_str()
            .unwrap()
            .contains("missing")
    );
    assert_eq!(v["inputs"][1]["verdict"], "source");
}

/// The real seed bytes, when `.ci/run` points ABOVO_SEED_BYTES at them.
fn seed_bytes() -> Option<PathBuf> {
    match std::env::var_os("ABOVO_SEED_BYTES") {
        Some(d) => Some(PathBuf::from(d)),
        None => {
            eprintln!("ABOVO_SEED_BYTES is not set: skipping the scans of the real seed bytes");
            None
        }
    }
}

/// `abovo scan FILE --format json --fail-on-binary`: the run and its JSON.
fn scan_json(file: &Path) -> (std::process::Output, Value) {
    let o = abovo(&[
        "scan",
        file.to_str().unwrap(),
        "--format",
        "json",
        "--fail-on-binary",
    ]);
    let v = parse_json(&o);
    (o, v)
}

#[test]
fn mes_and_tinycc_sources_hold_no_compiled_code() {
    let Some(dir) = seed_bytes() else { return };
    for file in [
        "ypy1z1lanj03pbaf19ylk9zb3sib18yp-mes-0.25.1.tar.gz",
        "dn4i3qrjza2rgb3wj63jfxlhkvaz49wl-tcc-0.9.27.tar.bz2",
    ] {
        let (o, v) = scan_json(&dir.join(file));
        assert_eq!(code(&o), SUCCESS, "{file}: {}", text(&o));
        let input = &v["inputs"][0];
        assert_eq!(input["complete"], true, "{file}");
        assert!(
            input["compiled"].as_array().unwrap().is_empty(),
            "{file}: {input}"
        );
        assert!(
            input["files"].as_u64().unwrap() > 300,
            "{file}: the tarball was opened"
        );
        eprintln!("{file}: {} files, no compiled code", input["files"]);
    }
}

#[test]
fn stage0_posix_carries_the_hex0_and_kaem_seeds() {
    let Some(dir) = seed_bytes() else { return };
    let (o, v) = scan_json(&dir.join("ahfrzz7g2y50krrm28plnx6ffknr97z1-stage0-posix-1.6.0.tar.gz"));
    assert_eq!(code(&o), NEGATIVE, "{}", text(&o));
    let input = &v["inputs"][0];
    let member = |suffix: &str| -> Value {
        input["compiled"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"].as_str().unwrap().ends_with(suffix))
            .cloned()
            .unwrap_or_else(|| panic!("{suffix} not found in {input}"))
    };
    let hex0 = member("!/stage0-posix-1.6.0/bootstrap-seeds/POSIX/x86/hex0-seed");
    assert_eq!(hex0["size"], 256);
    assert_eq!(hex0["kind"], "elf-executable");
    assert_eq!(hex0["what"], "ELF 32-bit LSB executable, Intel 80386");
    let kaem = member("!/stage0-posix-1.6.0/bootstrap-seeds/POSIX/x86/kaem-optional-seed");
    assert_eq!(kaem["size"], 640);
    // Every POSIX architecture's pair, the UEFI pair and the two x86 boot
    // sectors; the Knight VM's seed is an opaque blob (no known format).
    assert_eq!(input["native"]["files"], 14);
    assert_eq!(input["bytecode"]["files"], 0);
    let opaque: Vec<&str> = input["opaque_blobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(opaque.len(), 1, "{opaque:?}");
    assert!(opaque[0].ends_with("NATIVE/knight/hex0-seed"));
}
