//! Unit tests of the tree diff: every kind of change, single files, hostile
//! names, large binary files and the cap on byte ranges.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use super::binary::{MAX_RANGES, byte_ranges};
use super::content::TEXT_LIMIT;
use super::*;
use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

fn tree(root: &Path, files: &[(&str, &[u8])]) {
    fs::create_dir_all(root).unwrap();
    for (name, data) in files {
        let p = root.join(name);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, data).unwrap();
    }
}

#[test]
fn every_kind_of_change_is_reported() {
    let d = tempfile::tempdir().unwrap();
    let (a, b) = (d.path().join("a"), d.path().join("b"));
    tree(
        &a,
        &[
            ("same", b"x"),
            ("gone", b"1"),
            ("t.txt", b"one\ntwo\nthree\n"),
            ("bin", b"\0\x01\x02\x03rest"),
            ("sub/f", b"f"),
        ],
    );
    tree(
        &b,
        &[
            ("same", b"x"),
            ("new", b"2"),
            ("t.txt", b"one\nTWO\nthree\n"),
            ("bin", b"\0\x01\xff\x03rest+"),
            ("sub", b"now a file"),
        ],
    );
    symlink("here", a.join("l")).unwrap();
    symlink("there", b.join("l")).unwrap();
    fs::set_permissions(b.join("same"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(a.join("same"), fs::Permissions::from_mode(0o644)).unwrap();
    let diff = diff_trees(&a, &b).unwrap();
    let summary: Vec<String> = diff.changes.iter().map(Change::summary).collect();
    assert_eq!(
        summary,
        [
            "binary content differs: bin (8 → 9 bytes)",
            "removed file: gone",
            "symlink target changed: l (here → there)",
            "added file: new",
            "mode changed: same (0644 → 0755)",
            "type changed: sub (directory → file)",
            "text content differs: t.txt (14 bytes)",
        ]
    );
    let Change::Content {
        diff: ContentDiff::Binary { ranges, hex, .. },
        ..
    } = &diff.changes[0]
    else {
        panic!("{:?}", diff.changes[0]);
    };
    assert_eq!(
        ranges,
        &[
            ByteRange { offset: 2, len: 1 },
            ByteRange { offset: 8, len: 1 }
        ]
    );
    assert!(hex.contains("-00000000  00 01 02 03"), "{hex}");
    assert!(hex.contains("+00000000  00 01 ff 03"), "{hex}");
    let Change::Content {
        diff: ContentDiff::Text { unified },
        ..
    } = &diff.changes[6]
    else {
        panic!();
    };
    assert!(unified.contains("-two\n+TWO\n"), "{unified}");
    let json = serde_json::to_value(&diff).unwrap();
    assert_eq!(json["changes"][1]["change"], "removed");
    assert_eq!(json["changes"][6]["format"], "text");
}

#[test]
fn single_files_go_by_their_name_and_json_is_snake_case() {
    let d = tempfile::tempdir().unwrap();
    let (a, b) = (d.path().join("hash-nd"), d.path().join("hash-nd-check"));
    fs::write(&a, b"\x00\x01").unwrap();
    fs::write(&b, b"\x00\x02\x03").unwrap();
    let diff = diff_trees(&a, &b).unwrap();
    assert_eq!(diff.changes.len(), 1);
    assert_eq!(
        diff.changes[0].summary(),
        "binary content differs: hash-nd (2 → 3 bytes)"
    );
    // The builder names the output, whatever the other build is called.
    let diff = diff_items(&b, &a, "out-name").unwrap();
    assert_eq!(diff.changes[0].path(), "out-name");
    let json = serde_json::to_value(&diff).unwrap();
    let change = &json["changes"][0];
    assert_eq!(change["old_size"], 3);
    assert_eq!(change["new_size"], 2);
    assert!(change.get("oldSize").is_none(), "{change}");
    // Text: the unified header names the file too.
    fs::write(&a, "one\n").unwrap();
    fs::write(&b, "two\n").unwrap();
    let Change::Content {
        diff: ContentDiff::Text { unified },
        ..
    } = &diff_trees(&a, &b).unwrap().changes[0]
    else {
        panic!()
    };
    assert!(
        unified.starts_with("--- a/hash-nd\n+++ b/hash-nd\n"),
        "{unified}"
    );
    // A directory's own changes are still `.`.
    let (x, y) = (d.path().join("x"), d.path().join("y"));
    fs::create_dir(&x).unwrap();
    fs::create_dir(&y).unwrap();
    fs::set_permissions(&y, fs::Permissions::from_mode(0o700)).unwrap();
    fs::set_permissions(&x, fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(
        diff_trees(&x, &y).unwrap().changes[0].summary(),
        "mode changed: . (0755 → 0700)"
    );
}

#[test]
fn hostile_names_cannot_reach_the_terminal() {
    let d = tempfile::tempdir().unwrap();
    let (a, b) = (d.path().join("a"), d.path().join("b"));
    let evil = "evil\x1b[31mRED\nname";
    tree(&a, &[(evil, b"1\n")]);
    tree(&b, &[(evil, b"2\n")]);
    symlink("\x1b]0;title\x07", a.join("l")).unwrap();
    symlink("x", b.join("l")).unwrap();
    let diff = diff_trees(&a, &b).unwrap();
    for c in &diff.changes {
        let summary = c.summary();
        assert!(!summary.chars().any(|ch| ch.is_control()), "{summary:?}");
    }
    assert_eq!(
        diff.changes[0].summary(),
        "text content differs: evil\\u{1b}[31mRED\\nname (2 bytes)"
    );
    let Change::Content {
        diff: ContentDiff::Text { unified },
        ..
    } = &diff.changes[0]
    else {
        panic!()
    };
    assert!(
        unified.starts_with("--- a/evil\\u{1b}[31mRED\\nname\n"),
        "{unified}"
    );
    assert!(diff.changes[1].summary().contains("\\u{1b}]0;title\\u{7}"));
}

#[test]
fn large_binary_files_get_a_hex_view_of_the_first_difference() {
    let d = tempfile::tempdir().unwrap();
    let size = (TEXT_LIMIT + 4096) as usize;
    let mut a = vec![0u8; size];
    let mut b = a.clone();
    let at = size - 1000;
    a[at] = 0xaa;
    b[at] = 0xbb;
    b.push(7);
    fs::write(d.path().join("a"), &a).unwrap();
    fs::write(d.path().join("b"), &b).unwrap();
    let diff = diff_trees(&d.path().join("a"), &d.path().join("b")).unwrap();
    let Change::Content {
        diff: ContentDiff::Binary { ranges, hex, .. },
        ..
    } = &diff.changes[0]
    else {
        panic!("{:?}", diff.changes)
    };
    assert_eq!(
        ranges[0],
        ByteRange {
            offset: at as u64,
            len: 1
        }
    );
    assert_eq!(
        ranges[1],
        ByteRange {
            offset: size as u64,
            len: 1
        }
    );
    let row = at / 16 * 16;
    let col = 3 * (at - row);
    let want_a = format!("-{row:08x} {}aa", " 00".repeat(col / 3) + " ");
    let want_b = format!("+{row:08x} {}bb", " 00".repeat(col / 3) + " ");
    assert!(hex.contains(&want_a), "{hex}");
    assert!(hex.contains(&want_b), "{hex}");
    assert!(
        hex.contains(&format!("@@ offset {at:#x}, 1 byte differs @@")),
        "{hex}"
    );
    // The byte past the end of the shorter file: only the longer side.
    assert!(hex.contains(&format!("+{size:08x}  07")), "{hex}");
    assert!(!hex.contains(&format!("-{size:08x}")), "{hex}");
}

#[test]
fn identical_trees_have_no_changes() {
    let d = tempfile::tempdir().unwrap();
    let (a, b) = (d.path().join("a"), d.path().join("b"));
    tree(&a, &[("x/y", b"same")]);
    tree(&b, &[("x/y", b"same")]);
    assert!(diff_trees(&a, &b).unwrap().is_empty());
}

#[test]
fn ranges_are_capped() {
    let a: Vec<u8> = (0..100).map(|i| if i % 2 == 0 { 0 } else { 1 }).collect();
    let b = [0u8; 100];
    let (ranges, more) = byte_ranges(&mut &a[..], &mut &b[..], 100, 100).unwrap();
    assert_eq!(ranges.len(), MAX_RANGES);
    assert!(more);
    assert_eq!(ranges[0], ByteRange { offset: 1, len: 1 });
}

#[test]
fn devices_fifos_and_sockets_differ_in_kind() {
    // Two character devices differ in their numbers.
    let null = Path::new("/dev/null");
    let zero = Path::new("/dev/zero");
    let diff = diff_trees(null, zero).unwrap();
    let summary: Vec<String> = diff.changes.iter().map(Change::summary).collect();
    assert_eq!(
        summary,
        ["type changed: null (character device 1:3 → character device 1:5)"]
    );
    assert!(diff_trees(null, null).unwrap().is_empty());
    // A FIFO against a device: a type change, and the FIFO is never opened
    // (opening it for reading would wait for a writer forever).
    let d = tempfile::tempdir().unwrap();
    let fifo = d.path().join("fifo");
    crate::test_support::make_fifo(&fifo);
    let diff = diff_trees(&fifo, null).unwrap();
    assert_eq!(
        diff.changes[0].summary(),
        "type changed: fifo (fifo → character device 1:3)"
    );
    assert!(diff_trees(&fifo, &fifo).unwrap().is_empty());
    // Inside trees, with a socket; JSON names the kinds in words.
    let (a, b) = (d.path().join("a"), d.path().join("b"));
    tree(&a, &[("p", b"x")]);
    tree(&b, &[]);
    crate::test_support::make_fifo(&b.join("p"));
    let _socket = std::os::unix::net::UnixListener::bind(b.join("s")).unwrap();
    let diff = diff_trees(&a, &b).unwrap();
    let json = serde_json::to_value(&diff).unwrap();
    assert_eq!(json["changes"][0]["change"], "type");
    assert_eq!(json["changes"][0]["old"], "file");
    assert_eq!(json["changes"][0]["new"], "fifo");
    assert_eq!(json["changes"][1]["change"], "added");
    assert_eq!(json["changes"][1]["kind"], "socket");
}

#[test]
fn names_that_are_not_utf8_stay_distinct() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let d = tempfile::tempdir().unwrap();
    let (a, b) = (d.path().join("a"), d.path().join("b"));
    fs::create_dir_all(&a).unwrap();
    fs::create_dir_all(&b).unwrap();
    // Two names that a lossy conversion would make the same (`n\u{fffd}`).
    for raw in [&b"n\xff"[..], &b"n\xfe"[..]] {
        fs::write(a.join(OsStr::from_bytes(raw)), "1").unwrap();
    }
    symlink(OsStr::from_bytes(b"t\xff"), a.join("l")).unwrap();
    symlink("t", b.join("l")).unwrap();
    let diff = diff_trees(&a, &b).unwrap();
    let summary: Vec<String> = diff.changes.iter().map(Change::summary).collect();
    assert_eq!(
        summary,
        [
            "symlink target changed: l (t\\xff → t)",
            "removed file: n\\xfe",
            "removed file: n\\xff",
        ]
    );
    let json = serde_json::to_value(&diff).unwrap();
    let changes = json["changes"].as_array().unwrap();
    assert_eq!(changes[0]["old_bytes"], "74ff");
    assert!(changes[0].get("new_bytes").is_none(), "UTF-8: no bytes");
    assert!(changes[0].get("path_bytes").is_none(), "UTF-8: no bytes");
    assert_eq!(changes[1]["path"], "n\\xfe");
    assert_eq!(changes[1]["path_bytes"], "6efe");
    assert_eq!(changes[2]["path_bytes"], "6eff");
    // A tree whose own path is not UTF-8 serialises too.
    let odd = d.path().join(OsStr::from_bytes(b"tree\xff"));
    fs::create_dir_all(&odd).unwrap();
    let json = serde_json::to_value(diff_trees(&odd, &b).unwrap()).unwrap();
    assert!(
        json["old"].as_str().unwrap().ends_with("tree\\xff"),
        "{json}"
    );
    assert!(
        json["old_bytes"].as_str().unwrap().ends_with("74726565ff"),
        "{json}"
    );
    assert!(json.get("new_bytes").is_none());
}
