//! Nix's own NAR fixtures (`src/libutil-tests/data/nars/`): each must give
//! exactly the outcome the fixtures' README table states, with a clear error
//! that names the byte offset, and never a panic.
//!
//! The fixtures are copied into `tests/data/nars/` so this always runs; when
//! `ABOVO_NAR_FIXTURES` points at the shared copy, that one is checked too.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use abovo_store::nar::{self, ReadErrorKind};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Prints a line that `cargo test` does not capture, so the fixture count
/// (or the skip) shows in every CI log.
macro_rules! report {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// Outcomes from the README table: file name → valid?
fn readme_outcomes(dir: &Path) -> BTreeMap<String, bool> {
    let text = std::fs::read_to_string(dir.join("README.md")).expect("the fixtures' README.md");
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // | `file` | outcome | why |
        if cells.len() >= 4 && cells[1].starts_with('`') && cells[1].ends_with(".nar`") {
            let name = cells[1].trim_matches('`').to_owned();
            let valid = match cells[2] {
                "valid" => true,
                "invalid" => false,
                other => panic!("unknown outcome {other:?} for {name}"),
            };
            out.insert(name, valid);
        }
    }
    out
}

/// What each invalid fixture must be rejected for (our reading of the
/// README's "why" column), so a fixture rejected for the wrong reason fails.
fn expected_reason(name: &str, kind: &ReadErrorKind) -> bool {
    match name {
        "regular-one-byte-non-zero-padding.nar" => {
            matches!(kind, ReadErrorKind::NonZeroPadding { .. })
        }
        "regular-truncated-large-contents.nar" | "regular-truncated-padding.nar" => {
            matches!(kind, ReadErrorKind::Truncated { .. })
        }
        "invalid-tag-instead-of-contents.nar" => matches!(
            kind,
            ReadErrorKind::UnexpectedToken { expected, found } if expected.contains("contents") && found.contains("AAAAAAAA")
        ),
        "executable-after-contents.nar" => matches!(kind, ReadErrorKind::ExecutableAfterContents),
        "name-after-node.nar" => matches!(
            kind,
            ReadErrorKind::UnexpectedToken { expected, found } if expected.contains("name") && found.contains("node")
        ),
        "nul-character.nar" => {
            matches!(kind, ReadErrorKind::BadName { reason, .. } if reason.contains("NUL"))
        }
        "dot.nar" | "dotdot.nar" => {
            matches!(kind, ReadErrorKind::BadName { reason, .. } if reason.contains("`.`"))
        }
        "slash.nar" => {
            matches!(kind, ReadErrorKind::BadName { reason, .. } if reason.contains('/'))
        }
        "empty.nar" => {
            matches!(kind, ReadErrorKind::BadName { reason, .. } if reason.contains("empty"))
        }
        _ => false,
    }
}

fn check_dir(dir: &Path) -> usize {
    let outcomes = readme_outcomes(dir);
    let mut on_disk: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "nar"))
        .collect();
    on_disk.sort();
    assert_eq!(
        on_disk.len(),
        outcomes.len(),
        "every .nar in {} has a README row and vice versa",
        dir.display()
    );
    for path in &on_disk {
        let name = path.file_name().unwrap().to_str().unwrap();
        let valid = outcomes[name];
        let bytes = std::fs::read(path).unwrap();
        let result = nar::validate(&bytes[..]);
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("out");
        let restored = nar::restore(&bytes[..], &target);
        if valid {
            let summary = result.unwrap_or_else(|e| panic!("{name} must be valid: {e}"));
            assert_eq!(
                summary.nar_size,
                bytes.len() as u64,
                "{name}: consumed exactly"
            );
            restored.unwrap_or_else(|e| panic!("{name} must unpack: {e}"));
            // What was unpacked archives back to the same bytes.
            let mut again = Vec::new();
            nar::dump_path(&target, &mut again).unwrap();
            assert_eq!(again, bytes, "{name}: unpack then pack");
        } else {
            let err = match result {
                Ok(_) => panic!("{name} must be rejected"),
                Err(e) => e,
            };
            assert!(
                expected_reason(name, &err.kind),
                "{name} rejected for the wrong reason: {err}"
            );
            let msg = err.to_string();
            assert!(msg.starts_with("invalid NAR at byte "), "{name}: {msg}");
            assert!(err.offset <= bytes.len() as u64, "{name}: offset in range");
            println!("{name}: {msg}");
            assert!(restored.is_err(), "{name} must not unpack");
            assert_eq!(
                std::fs::read_dir(tmp.path()).unwrap().count(),
                0,
                "{name}: a failed unpack leaves nothing"
            );
        }
    }
    on_disk.len()
}

#[test]
fn bundled_fixtures_give_the_readme_outcomes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/nars");
    assert_eq!(check_dir(&dir), 12);
}

#[test]
fn shared_fixtures_give_the_readme_outcomes() {
    match std::env::var_os("ABOVO_NAR_FIXTURES") {
        Some(dir) => {
            let n = check_dir(Path::new(&dir));
            report!("checked {n} NAR fixtures in {}", Path::new(&dir).display());
        }
        None => report!("nar_fixtures: skipped: ABOVO_NAR_FIXTURES is not set"),
    }
}
