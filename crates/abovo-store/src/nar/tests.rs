//! Tests of the NAR writer, reader, hasher and unpacker together: known
//! vectors, filesystem round trips, hostile archives, and properties.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use super::reader::ReadErrorKind;
use super::wire::{MAX_DEPTH, write_str};
use super::*;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

fn dir(entries: Vec<(&str, Tree)>) -> Tree {
    Tree::Directory(
        entries
            .into_iter()
            .map(|(n, t)| (n.as_bytes().to_vec(), t))
            .collect(),
    )
}
fn file(contents: &str, executable: bool) -> Tree {
    Tree::Regular {
        executable,
        contents: contents.as_bytes().to_vec(),
    }
}
fn link(target: &str) -> Tree {
    Tree::Symlink {
        target: target.as_bytes().to_vec(),
    }
}

/// The tree of Guix's `tests/guix-hash.sh`.
fn guix_hash_tree() -> Tree {
    dir(vec![
        ("exe", file("executable", true)),
        ("symlink", link("exe")),
        ("subdir", dir(vec![])),
    ])
}

fn nar_hash(tree: &Tree) -> NarHash {
    let mut sink = NarHashSink::new();
    write_tree(tree, &mut sink).unwrap();
    sink.finish()
}

/// Materialises a tree on disk (modes as a build would leave them).
fn materialise(tree: &Tree, path: &Path) {
    match tree {
        Tree::Regular {
            executable,
            contents,
        } => {
            std::fs::write(path, contents).unwrap();
            let mode = if *executable { 0o755 } else { 0o644 };
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        Tree::Symlink { target } => {
            symlink(std::ffi::OsStr::from_bytes(target), path).unwrap();
        }
        Tree::Directory(entries) => {
            std::fs::create_dir(path).unwrap();
            for (name, child) in entries {
                materialise(child, &path.join(std::ffi::OsStr::from_bytes(name)));
            }
        }
    }
}
use std::os::unix::ffi::OsStrExt;

#[test]
fn guix_vectors_from_memory() {
    let h = nar_hash(&guix_hash_tree());
    assert_eq!(
        h.hash.to_nix32(),
        "10k1lw41wyrjf9mxydi0is5nkpynlsvgslinics4ppir13g7d74p"
    );
    assert_eq!(h.size, 688);
    let sorted = dir(vec![
        ("B", file("", false)),
        ("Z", file("", false)),
        ("a", file("", false)),
        ("z", link("B")),
    ]);
    assert_eq!(
        nar_hash(&sorted).hash.to_nix32(),
        "0sfn5r63k88w9ls4hivnvscg82bqg8a0w7955l6xlk4g96jnb2z3"
    );
    let h = hash_regular_bytes(b"hello", true);
    assert_eq!(
        h.hash.to_nix32(),
        "1pm3sl0kwg6q94zcndf65j7zh0j368wjfw27v9kx96pb2bwi9y4w"
    );
    assert_eq!(h.size, 152);
    assert_eq!(nar_hash(&file("hello", true)), h);
}

#[test]
fn filesystem_writer_matches_memory_writer() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("t");
    materialise(&guix_hash_tree(), &root);
    let on_disk = hash_path(&root).unwrap();
    assert_eq!(on_disk, nar_hash(&guix_hash_tree()));
    let mut bytes = Vec::new();
    let n = dump_path(&root, &mut bytes).unwrap();
    assert_eq!(n, bytes.len() as u64);
    assert_eq!(bytes, guix_hash_tree().to_nar());
    // A symlink at the top is recorded, not followed.
    let top_link = tmp.path().join("l");
    symlink("t", &top_link).unwrap();
    assert_eq!(hash_path(&top_link).unwrap(), nar_hash(&link("t")));
}

#[test]
fn only_the_owner_execute_bit_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("f");
    std::fs::write(&f, b"hello").unwrap();
    for (mode, exec) in [
        (0o644, false),
        (0o611, false),
        (0o500, true),
        (0o744, true),
        (0o400, false),
    ] {
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(mode)).unwrap();
        assert_eq!(
            hash_path(&f).unwrap(),
            hash_regular_bytes(b"hello", exec),
            "mode {mode:o}"
        );
    }
}

#[test]
fn fifos_and_devices_are_errors_naming_the_path() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("d");
    std::fs::create_dir(&root).unwrap();
    let fifo = root.join("pipe");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    let err = hash_path(&root).unwrap_err();
    assert!(
        matches!(err, DumpError::UnsupportedFileType { kind: "FIFO", .. }),
        "{err}"
    );
    assert!(err.to_string().contains("pipe"), "{err}");
    let err = hash_path(Path::new("/dev/null")).unwrap_err();
    assert!(
        err.to_string().contains("/dev/null") && err.to_string().contains("character device"),
        "{err}"
    );
    let err = hash_path(&tmp.path().join("missing")).unwrap_err();
    assert!(
        matches!(
            err,
            DumpError::Io {
                operation: "lstat",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn reader_round_trips_and_summarises() {
    let nar = guix_hash_tree().to_nar();
    assert_eq!(Tree::from_nar(&nar).unwrap(), guix_hash_tree());
    let s = validate(&nar[..]).unwrap();
    assert_eq!(s.nar_size, 688);
    assert_eq!(
        (s.regular_files, s.executables, s.symlinks, s.directories),
        (1, 1, 1, 2)
    );
    assert_eq!(s.contents_bytes, 10);
}

// ---------------------------------------------------------------------------
// Hostile archives, built token by token.

/// Builds an archive from raw tokens; `Raw` lets a test put anything anywhere.
#[derive(Clone, Copy)]
enum Tok<'a> {
    S(&'a [u8]),
    U(u64),
    Raw(&'a [u8]),
}

fn build(tokens: &[Tok]) -> Vec<u8> {
    let mut v = Vec::new();
    for t in tokens {
        match t {
            Tok::S(s) => write_str(&mut v, s).unwrap(),
            Tok::U(n) => v.extend_from_slice(&n.to_le_bytes()),
            Tok::Raw(b) => v.extend_from_slice(b),
        }
    }
    v
}

use Tok::{Raw, S, U};

/// The string tokens of `text`, one per word (for tokens that are not
/// empty and hold no white space).
fn words(text: &str) -> Vec<Tok<'_>> {
    text.split_whitespace().map(|w| S(w.as_bytes())).collect()
}

/// The archive of `text`'s words ([`words`]).
fn nar_of(text: &str) -> Vec<u8> {
    build(&words(text))
}

fn dir_with_entries(names: &[&[u8]]) -> Vec<u8> {
    let mut toks = words("nix-archive-1 ( type directory");
    for n in names {
        toks.extend([S(b"entry"), S(b"("), S(b"name"), S(n)]);
        toks.extend(words("node ( type regular contents"));
        toks.extend([S(b""), S(b")"), S(b")")]);
    }
    toks.push(S(b")"));
    build(&toks)
}

fn kind(nar: &[u8]) -> (u64, ReadErrorKind) {
    let e = validate(nar).unwrap_err();
    (e.offset, e.kind)
}

#[test]
fn valid_directory_builder_is_valid() {
    let nar = dir_with_entries(&[b"a", b"b"]);
    validate(&nar[..]).unwrap();
    assert_eq!(
        nar,
        dir(vec![("a", file("", false)), ("b", file("", false))]).to_nar()
    );
}

#[test]
fn bad_names_are_refused_with_their_offset() {
    for (name, reason) in [
        (&b""[..], "empty"),
        (b".", "`.`"),
        (b"..", "`..`"),
        (b"a/b", "`/`"),
        (b"../../etc", "`/`"),
        (b"a\0b", "NUL"),
    ] {
        let nar = dir_with_entries(&[name]);
        let (offset, k) = kind(&nar);
        assert!(matches!(&k, ReadErrorKind::BadName { .. }), "{name:?}: {k}");
        assert!(k.to_string().contains(reason), "{name:?}: {k}");
        // The name's length field: after the magic (24 bytes), `(` and
        // `type` (16 each), `directory` (24), `entry` `(` `name` (16 each).
        assert_eq!(offset, 24 + 16 + 16 + 24 + 16 * 3, "{name:?}");
    }
}

#[test]
fn unsorted_and_duplicate_entries_are_refused() {
    let (_, k) = kind(&dir_with_entries(&[b"b", b"a"]));
    assert!(
        matches!(
            k,
            ReadErrorKind::Unsorted {
                duplicate: false,
                ..
            }
        ),
        "{k}"
    );
    let (_, k) = kind(&dir_with_entries(&[b"a", b"a"]));
    assert!(
        matches!(
            k,
            ReadErrorKind::Unsorted {
                duplicate: true,
                ..
            }
        ),
        "{k}"
    );
    assert!(k.to_string().contains("duplicate"));
    // Byte order, not case-insensitive: "B" < "a".
    validate(&dir_with_entries(&[b"B", b"a"])[..]).unwrap();
    let (_, k) = kind(&dir_with_entries(&[b"a", b"B"]));
    assert!(matches!(k, ReadErrorKind::Unsorted { .. }));
}

#[test]
fn huge_declared_lengths_cost_nothing_and_are_refused() {
    // A file that claims 2^64-1 bytes of contents.
    let nar = build(
        &[
            words("nix-archive-1 ( type regular contents"),
            vec![U(u64::MAX), Raw(b"abc")],
        ]
        .concat(),
    );
    let (offset, k) = kind(&nar);
    assert!(matches!(k, ReadErrorKind::Truncated { .. }), "{k}");
    assert_eq!(offset, 24 + 16 * 4);
    // A name that claims 2^63 bytes.
    let nar = build(
        &[
            words("nix-archive-1 ( type directory entry ( name"),
            vec![U(1 << 63)],
        ]
        .concat(),
    );
    let (_, k) = kind(&nar);
    assert!(
        matches!(k, ReadErrorKind::TooLong { len, .. } if len == 1 << 63),
        "{k}"
    );
    // A 256-byte name is over NAME_MAX.
    let long = vec![b'x'; 256];
    let (_, k) = kind(&dir_with_entries(&[&long]));
    assert!(
        matches!(
            k,
            ReadErrorKind::TooLong {
                len: 256,
                limit: 255,
                ..
            }
        ),
        "{k}"
    );
    validate(&dir_with_entries(&[&long[..255]])[..]).unwrap();
    // A token slot holding a huge length.
    let nar = build(&[S(b"nix-archive-1"), U(u64::MAX)]);
    let (offset, k) = kind(&nar);
    assert_eq!(offset, 24);
    assert!(matches!(k, ReadErrorKind::UnexpectedToken { .. }), "{k}");
    assert!(k.to_string().contains("18446744073709551615 bytes"), "{k}");
}

#[test]
fn padding_tags_trailing_data_and_targets() {
    let mut nar = hash_regular_bytes_nar(b"x");
    // The byte after the one content byte is padding.
    let pad_at = 24 + 16 * 4 + 8 + 1;
    nar[pad_at + 2] = 7;
    let (offset, k) = kind(&nar);
    assert_eq!(offset, pad_at as u64 + 2);
    assert!(
        matches!(k, ReadErrorKind::NonZeroPadding { byte: 7 }),
        "{k}"
    );

    let mut nar = hash_regular_bytes_nar(b"x");
    nar.push(0);
    let (offset, k) = kind(&nar);
    assert!(matches!(k, ReadErrorKind::TrailingData), "{k}");
    assert_eq!(offset, nar.len() as u64 - 1);

    let nar = build(&[S(b"nix-archive-2")]);
    assert!(kind(&nar).1.to_string().contains("not a NAR"));
    assert!(matches!(kind(b"").1, ReadErrorKind::Truncated { .. }));

    let nar = nar_of("nix-archive-1 ( type fifo");
    let (offset, k) = kind(&nar);
    assert_eq!(offset, 24 + 32);
    assert!(k.to_string().contains("`fifo`"), "{k}");

    for (target, why) in [(&b""[..], "empty"), (b"a\0b", "NUL")] {
        let nar = build(
            &[
                words("nix-archive-1 ( type symlink target"),
                vec![S(target), S(b")")],
            ]
            .concat(),
        );
        let (_, k) = kind(&nar);
        assert!(
            matches!(k, ReadErrorKind::BadTarget { .. }) && k.to_string().contains(why),
            "{k}"
        );
    }
    let nar = build(
        &[
            words("nix-archive-1 ( type regular contents x executable"),
            vec![S(b""), S(b")")],
        ]
        .concat(),
    );
    assert!(matches!(
        kind(&nar).1,
        ReadErrorKind::ExecutableAfterContents
    ));
}

fn hash_regular_bytes_nar(contents: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    write_regular(contents, false, &mut v).unwrap();
    v
}

fn nested(depth: usize) -> Vec<u8> {
    let mut toks = words("nix-archive-1");
    for _ in 0..depth {
        toks.extend(words("( type directory entry ( name d node"));
    }
    toks.extend(words("( type directory )"));
    for _ in 0..depth {
        toks.extend(words(") )"));
    }
    build(&toks)
}

#[test]
fn deep_nesting_is_capped() {
    validate(&nested(MAX_DEPTH - 1)[..]).unwrap();
    let (_, k) = kind(&nested(MAX_DEPTH));
    assert!(matches!(k, ReadErrorKind::TooDeep { .. }), "{k}");
    // Far deeper than the cap: refused, no stack overflow.
    assert!(matches!(
        kind(&nested(100_000)).1,
        ReadErrorKind::TooDeep { .. }
    ));
}

// ---------------------------------------------------------------------------
// Unpacking.

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}
fn mtime(p: &Path) -> i64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(p).unwrap().mtime()
}

#[test]
fn restore_sets_modes_and_times_and_round_trips() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = dir(vec![
        ("exe", file("#!/bin/sh\n", true)),
        (
            "lib",
            dir(vec![
                ("a.so", file("\x7fELF", false)),
                ("link", link("a.so")),
            ]),
        ),
        ("up", link("../../etc/passwd")),
    ]);
    let out = tmp.path().join("out");
    let s = restore(&tree.to_nar()[..], &out).unwrap();
    assert_eq!(s.regular_files, 2);
    assert_eq!(mode(&out), 0o555);
    assert_eq!(mode(&out.join("exe")), 0o555);
    assert_eq!(mode(&out.join("lib/a.so")), 0o444);
    assert_eq!(mode(&out.join("lib")), 0o555);
    for p in ["", "exe", "lib", "lib/a.so", "lib/link", "up"] {
        assert_eq!(mtime(&out.join(p)), 1, "{p}");
    }
    assert_eq!(
        std::fs::read_link(out.join("up")).unwrap(),
        Path::new("../../etc/passwd")
    );
    assert_eq!(hash_path(&out).unwrap(), nar_hash(&tree));
    // Nothing else was left next to the target.
    let names: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("out")]);
    // A second restore never replaces the first.
    let err = restore(&tree.to_nar()[..], &out).unwrap_err();
    assert!(matches!(err, RestoreError::Exists(_)), "{err}");
}

#[test]
fn restore_single_file_and_symlink_roots() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("f");
    restore(&file("hi", true).to_nar()[..], &f).unwrap();
    assert_eq!(std::fs::read(&f).unwrap(), b"hi");
    assert_eq!(mode(&f), 0o555);
    assert_eq!(mtime(&f), 1);
    let l = tmp.path().join("l");
    restore(&link("/nowhere").to_nar()[..], &l).unwrap();
    assert_eq!(std::fs::read_link(&l).unwrap(), Path::new("/nowhere"));
    assert_eq!(mtime(&l), 1);
}

/// Whatever a hostile archive tries, a failed unpack leaves the parent
/// directory exactly as it was.
fn assert_restore_fails_cleanly(nar: &[u8]) -> RestoreError {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    let work = tmp.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let err = restore(nar, &work.join("out")).unwrap_err();
    assert_eq!(
        std::fs::read_dir(&work).unwrap().count(),
        0,
        "leftovers after {err}"
    );
    assert_eq!(
        std::fs::read_dir(&outside).unwrap().count(),
        0,
        "wrote outside after {err}"
    );
    err
}

#[test]
fn hostile_archives_never_escape_and_leave_nothing() {
    // Symlink to a directory outside, then a file "through" it: the only way
    // to say "through" is a name with `/`, which is refused.
    let nar = nar_of(
        "nix-archive-1 ( type directory
           entry ( name esc node ( type symlink target ../../outside ) )
           entry ( name esc/pwned node ( type regular contents x ) ) )",
    );
    let err = assert_restore_fails_cleanly(&nar);
    assert!(err.to_string().contains("contains `/`"), "{err}");

    // The same name twice: a symlink, then a directory to be filled through it.
    let nar = nar_of(
        "nix-archive-1 ( type directory
           entry ( name esc node ( type symlink target ../../outside ) )
           entry ( name esc node ( type directory
             entry ( name pwned node ( type regular contents x ) ) ) ) )",
    );
    let err = assert_restore_fails_cleanly(&nar);
    assert!(err.to_string().contains("duplicate"), "{err}");

    // `..` as a directory name.
    let err = assert_restore_fails_cleanly(&dir_with_entries(&[b".."]));
    assert!(err.to_string().contains("`..`"), "{err}");

    // A valid start, then truncation inside a big file: the half-written
    // tree must vanish.
    let mut nar = dir(vec![
        ("a", file("aaaa", false)),
        ("b", file(&"b".repeat(100_000), false)),
    ])
    .to_nar();
    nar.truncate(nar.len() - 5000);
    let err = assert_restore_fails_cleanly(&nar);
    assert!(err.to_string().contains("ends early"), "{err}");

    // Bad padding after a complete file, deep inside.
    let mut nar = dir(vec![("d", dir(vec![("f", file("x", false))]))]).to_nar();
    let x = nar.iter().rposition(|&b| b == b'x').unwrap();
    nar[x + 1] = 1;
    let err = assert_restore_fails_cleanly(&nar);
    assert!(err.to_string().contains("padding"), "{err}");

    // Too deep.
    assert_restore_fails_cleanly(&nested(MAX_DEPTH + 3));
}

#[test]
fn restore_refuses_a_target_through_an_existing_symlink() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("real")).unwrap();
    symlink("real", tmp.path().join("lnk")).unwrap();
    let err = restore(&file("x", false).to_nar()[..], &tmp.path().join("lnk")).unwrap_err();
    assert!(matches!(err, RestoreError::Exists(_)), "{err}");
    assert_eq!(
        std::fs::read_dir(tmp.path().join("real")).unwrap().count(),
        0
    );
}

// ---------------------------------------------------------------------------
// Properties.

fn arb_name() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        any::<u8>().prop_filter("no / or NUL", |b| *b != b'/' && *b != 0),
        1..12,
    )
    .prop_filter("not . or ..", |n| n != b"." && n != b"..")
}

fn arb_tree() -> impl Strategy<Value = Tree> {
    let leaf = prop_oneof![
        (any::<bool>(), proptest::collection::vec(any::<u8>(), 0..40)).prop_map(
            |(executable, contents)| Tree::Regular {
                executable,
                contents
            }
        ),
        proptest::collection::vec(any::<u8>().prop_filter("no NUL", |b| *b != 0), 1..30)
            .prop_map(|target| Tree::Symlink { target }),
    ];
    leaf.prop_recursive(4, 40, 6, |inner| {
        proptest::collection::btree_map(arb_name(), inner, 0..6).prop_map(Tree::Directory)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn pack_unpack_pack_is_identical(tree in arb_tree()) {
        let nar = tree.to_nar();
        prop_assert_eq!(Tree::from_nar(&nar).unwrap(), tree.clone());
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        restore(&nar[..], &out).unwrap();
        let mut again = Vec::new();
        dump_path(&out, &mut again).unwrap();
        prop_assert_eq!(again, nar);
    }

    #[test]
    fn reader_never_panics_on_mutations(
        tree in arb_tree(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
        do_cut in any::<bool>(),
    ) {
        let mut nar = tree.to_nar();
        for (i, b) in edits {
            let i = i.index(nar.len());
            nar[i] = b;
        }
        if do_cut {
            nar.truncate(cut.index(nar.len() + 1));
        }
        if let Ok(t) = Tree::from_nar(&nar) {
            // Anything accepted is canonical: it writes back to the same bytes.
            prop_assert_eq!(t.to_nar(), nar);
        }
    }

    #[test]
    fn reader_never_panics_on_noise(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut nar = Vec::new();
        write_str(&mut nar, b"nix-archive-1").unwrap();
        nar.extend_from_slice(&bytes);
        let _ = validate(&nar[..]);
        let _ = validate(&bytes[..]);
    }
}

#[test]
fn tree_map_is_byte_ordered() {
    let mut m = BTreeMap::new();
    m.insert(b"a".to_vec(), 1);
    m.insert(b"B".to_vec(), 2);
    assert_eq!(m.keys().next().unwrap(), b"B");
}
