//! Reading store items (`abovo_trust::items`): places, paths through
//! directories and archives, `cat`, `list` and the summaries `show` prints.
//!
//! The real data: the stage0-posix 1.6.0 tarball of `ABOVO_SEED_BYTES`
//! (`../shared/data/seed-bytes`), compared member by member with what GNU
//! tar itself extracts and lists, and the Guix corpus's `sources.tar.zst`
//! (`ABOVO_GUIX_CORPUS`), compared with what `zstd | tar` extracts. The
//! rest uses archives made here, nested three deep.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use abovo_store::StorePath;
use abovo_trust::content::Limits;
use abovo_trust::items::{
    self, DiskPlace, EntryKind, Found, ItemArchive, ItemError, ItemPath, ListOptions, Places,
    SummaryOptions, Wanted,
};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

const STAGE0: &str = "ahfrzz7g2y50krrm28plnx6ffknr97z1-stage0-posix-1.6.0.tar.gz";
const HEX0: &str = "stage0-posix-1.6.0/bootstrap-seeds/POSIX/x86/hex0-seed";
const KAEM: &str = "stage0-posix-1.6.0/bootstrap-seeds/POSIX/x86/kaem-optional-seed";

fn seed_bytes() -> Option<PathBuf> {
    match std::env::var_os("ABOVO_SEED_BYTES") {
        Some(d) => Some(PathBuf::from(d)),
        None => {
            println!("skipped: ABOVO_SEED_BYTES is not set");
            None
        }
    }
}

fn wanted(path: &ItemPath) -> Wanted {
    Wanted::new(path.item.clone())
}

fn cat(places: &Places, spec: &str) -> Result<(Vec<u8>, items::Located), ItemError> {
    let path = ItemPath::parse(spec, None)?;
    let mut out = Vec::new();
    let located = items::cat(places, &path, &wanted(&path), &Limits::default(), &mut out)?;
    Ok((out, located))
}

fn list(
    places: &Places,
    spec: &str,
    options: ListOptions,
) -> Result<(Vec<items::Entry>, items::Located), ItemError> {
    let path = ItemPath::parse(spec, None)?;
    let mut entries = Vec::new();
    let located = items::list(
        places,
        &path,
        &wanted(&path),
        &Limits::default(),
        options,
        &mut |e| {
            entries.push(e.clone());
            Ok(())
        },
    )?;
    Ok((entries, located))
}

fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn places_of(dir: &Path) -> Places {
    let mut p = Places::new();
    p.push(Box::new(DiskPlace::directory(dir)));
    p
}

#[test]
fn stage0_members_are_the_bytes_gnu_tar_extracts() {
    let Some(dir) = seed_bytes() else { return };
    let tarball = dir.join(STAGE0);
    let places = places_of(&dir);
    for (member, size) in [(HEX0, 256), (KAEM, 640)] {
        let tar = run(Command::new("tar").arg("-xzOf").arg(&tarball).arg(member));
        assert_eq!(tar.len(), size, "{member}");
        // As the member is named in the archive…
        let (bytes, located) = cat(&places, &format!("/gnu/store/{STAGE0}/{member}")).unwrap();
        assert_eq!(bytes, tar, "{member}");
        assert_eq!(located.place, format!("`{}`", dir.display()));
        // …and without the archive's top-level directory.
        let short = member.trim_start_matches("stage0-posix-1.6.0/");
        let (bytes, located) = cat(&places, &format!("/gnu/store/{STAGE0}/{short}")).unwrap();
        assert_eq!(bytes, tar, "{short}");
        assert_eq!(located.path, format!("/gnu/store/{STAGE0}/{member}"));
    }
    // The tarball itself, byte for byte.
    let (bytes, located) = cat(&places, &format!("/gnu/store/{STAGE0}")).unwrap();
    assert_eq!(bytes, std::fs::read(&tarball).unwrap());
    assert_eq!(
        located.found,
        Found::File {
            what: String::new()
        }
    );
}

#[test]
fn stage0_listing_is_gnu_tars() {
    let Some(dir) = seed_bytes() else { return };
    let tarball = dir.join(STAGE0);
    let places = places_of(&dir);
    let (entries, located) = list(
        &places,
        &format!("/gnu/store/{STAGE0}"),
        ListOptions::default(),
    )
    .unwrap();
    assert_eq!(
        located.found,
        Found::Archive {
            format: "gzip, tar".to_owned()
        }
    );
    // `tar tvzf --numeric-owner` in UTC: mode, owner, size, date, name.
    let tar = run(Command::new("tar")
        .env("TZ", "UTC")
        .arg("--numeric-owner")
        .arg("-tvzf")
        .arg(&tarball));
    let tar = String::from_utf8(tar).unwrap();
    let theirs: Vec<(String, u64, String, String)> = tar
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let name = f[5..].join(" ");
            (
                f[0].to_owned(),
                f[2].parse().unwrap(),
                format!("{} {}", f[3], f[4]),
                name.trim_end_matches('/').to_owned(),
            )
        })
        .collect();
    let ours: Vec<(String, u64, String, String)> = entries
        .iter()
        .map(|e| {
            (
                e.mode_string(),
                e.size.unwrap(),
                items::format_time(e.mtime.unwrap()),
                String::from_utf8(e.path.clone()).unwrap(),
            )
        })
        .collect();
    assert_eq!(ours.len(), 934);
    assert_eq!(ours, theirs);
    // A directory inside the archive: its direct entries, then the whole
    // tree.
    let spec = format!("/gnu/store/{STAGE0}/bootstrap-seeds/POSIX");
    let (direct, located) = list(&places, &spec, ListOptions::default()).unwrap();
    assert_eq!(located.found, Found::Directory);
    let names: Vec<String> = direct
        .iter()
        .map(|e| String::from_utf8(e.path.clone()).unwrap())
        .collect();
    assert!(names.contains(&"x86".to_owned()), "{names:?}");
    assert!(names.iter().all(|n| !n.contains('/')), "{names:?}");
    let recursive = ListOptions {
        recursive: true,
        ..ListOptions::default()
    };
    let (all, _) = list(&places, &spec, recursive).unwrap();
    assert!(all.iter().any(|e| e.path == b"x86/hex0-seed"));
    assert!(all.len() > direct.len());
}

#[test]
fn sources_archive_items_are_the_bytes_tar_extracts() {
    let Some(corpus) = std::env::var_os("ABOVO_GUIX_CORPUS") else {
        println!("skipped: ABOVO_GUIX_CORPUS is not set");
        return;
    };
    let archive = Path::new(&corpus).join("sources.tar.zst");
    let mut places = Places::new();
    places.push_path(Path::new(&corpus)).unwrap();
    let script = "nmxl6qyj16bv4rx4irhg23r66gn752kd-build-bootstrap-guile.sh";
    let module = "004j3lwvcxvis5nla20jkp6zc31j3c34-module-import/guix/build/utils.scm";
    for member in [script, module] {
        let theirs = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "zstd -dc '{}' | tar -xO '{member}'",
                archive.display()
            ))
            .output()
            .unwrap();
        assert!(theirs.status.success());
        assert!(!theirs.stdout.is_empty());
        let (ours, located) = cat(&places, &format!("/gnu/store/{member}")).unwrap();
        assert_eq!(ours, theirs.stdout, "{member}");
        assert_eq!(located.place, format!("`{}`", archive.display()));
    }
    let (ours, _) = cat(&places, &format!("/gnu/store/{script}")).unwrap();
    assert!(String::from_utf8(ours).unwrap().contains("GUILE_TARBALL"));
    // A tree item: its direct entries.
    let (entries, located) = list(
        &places,
        "/gnu/store/004j3lwvcxvis5nla20jkp6zc31j3c34-module-import",
        ListOptions::default(),
    )
    .unwrap();
    assert_eq!(located.found, Found::Directory);
    let names: Vec<&[u8]> = entries.iter().map(|e| &e.path[..]).collect();
    assert_eq!(names, [&b"guix"[..], b"json", b"json.scm"]);
}

/// A store directory made here: a tarball holding a zip holding a gzipped
/// patch (three layers of archives), a tree, a link and a text file.
struct Store {
    dir: tempfile::TempDir,
}

const TARBALL: &str = "0000000000000000000000000000000a-thing-1.0.tar.xz";
const TREE: &str = "0000000000000000000000000000000b-module-import";
const SCRIPT: &str = "0000000000000000000000000000000c-build.sh";

fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_698_880_620);
        h.set_cksum();
        b.append_data(&mut h, name, *data).unwrap();
    }
    b.into_inner().unwrap()
}

fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in files {
        w.start_file(*name, opts).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn xz(data: &[u8]) -> Vec<u8> {
    let mut e = xz2::write::XzEncoder::new(Vec::new(), 6);
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

const PATCH: &[u8] = b"--- a/x.c\n+++ b/x.c\n@@ -1 +1 @@\n-old\n+new\n";

impl Store {
    fn new() -> Store {
        let dir = tempfile::tempdir().unwrap();
        let zip = zip_of(&[
            ("patches/fix.patch.gz", &gzip(PATCH)),
            ("README", b"read me\n"),
        ]);
        let tar = tar_of(&[
            ("thing-1.0/src/x.c", b"int main(void) { return 0; }\n"),
            ("thing-1.0/extra.zip", &zip),
            ("thing-1.0/doc/x.txt", b"doc\n"),
        ]);
        std::fs::write(dir.path().join(TARBALL), xz(&tar)).unwrap();
        let tree = dir.path().join(TREE);
        std::fs::create_dir_all(tree.join("guix/build")).unwrap();
        std::fs::write(
            tree.join("guix/build/utils.scm"),
            "(define-module (guix build utils))\n",
        )
        .unwrap();
        std::fs::write(tree.join("guix.scm"), "(define-module (guix))\n").unwrap();
        std::os::unix::fs::symlink("guix.scm", tree.join("link")).unwrap();
        std::fs::write(dir.path().join(SCRIPT), "#!/bin/sh\necho \x1b[31mhi\n").unwrap();
        Store { dir }
    }

    fn places(&self) -> Places {
        places_of(self.dir.path())
    }
}

#[test]
fn paths_go_through_directories_and_nested_archives() {
    let s = Store::new();
    let p = s.places();
    let base = format!("/gnu/store/{TARBALL}");
    // Three archives deep: xz+tar, zip, gzip.
    let (bytes, located) = cat(
        &p,
        &format!("{base}/thing-1.0/extra.zip/patches/fix.patch.gz/fix.patch"),
    )
    .unwrap();
    assert_eq!(bytes, PATCH);
    assert_eq!(
        located.path,
        format!("{base}/thing-1.0/extra.zip/patches/fix.patch.gz/fix.patch")
    );
    // The top-level directory may be left out.
    let (bytes, located) = cat(&p, &format!("{base}/extra.zip/README")).unwrap();
    assert_eq!(bytes, b"read me\n");
    assert_eq!(located.path, format!("{base}/thing-1.0/extra.zip/README"));
    // A tree, and a bare base name.
    let (bytes, _) = cat(&p, &format!("{TREE}/guix/build/utils.scm")).unwrap();
    assert_eq!(bytes, b"(define-module (guix build utils))\n");
    // Listing the zip and the compressed patch.
    let (entries, located) =
        list(&p, &format!("{base}/extra.zip"), ListOptions::default()).unwrap();
    assert_eq!(
        located.found,
        Found::Archive {
            format: "zip".into()
        }
    );
    let names: Vec<&[u8]> = entries.iter().map(|e| &e.path[..]).collect();
    assert_eq!(names, [&b"patches/fix.patch.gz"[..], b"README"]);
    let (entries, located) = list(
        &p,
        &format!("{base}/extra.zip/patches/fix.patch.gz"),
        ListOptions::default(),
    )
    .unwrap();
    assert_eq!(
        located.found,
        Found::Archive {
            format: "gzip".into()
        }
    );
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].path, b"fix.patch");
    assert_eq!(entries[0].size, Some(PATCH.len() as u64));
    // A file that is no archive lists itself; `--directory` too.
    let (entries, located) = list(&p, SCRIPT, ListOptions::default()).unwrap();
    assert_eq!(
        located.found,
        Found::File {
            what: "text".into()
        }
    );
    assert_eq!(entries[0].path, format!("/gnu/store/{SCRIPT}").as_bytes());
    let dir_only = ListOptions {
        directory: true,
        ..ListOptions::default()
    };
    let (entries, _) = list(&p, &base, dir_only).unwrap();
    assert_eq!(entries.len(), 1);
    // A tree: direct entries with the link's target; then recursive.
    let (entries, _) = list(&p, TREE, ListOptions::default()).unwrap();
    let names: Vec<&[u8]> = entries.iter().map(|e| &e.path[..]).collect();
    assert_eq!(names, [&b"guix"[..], b"guix.scm", b"link"]);
    assert_eq!(entries[2].kind, EntryKind::Symlink);
    assert_eq!(entries[2].target.as_deref(), Some(&b"guix.scm"[..]));
    let recursive = ListOptions {
        recursive: true,
        ..ListOptions::default()
    };
    let (entries, _) = list(&p, TREE, recursive).unwrap();
    assert!(entries.iter().any(|e| e.path == b"guix/build/utils.scm"));
}

#[test]
fn bad_paths_are_clear_errors() {
    let s = Store::new();
    let p = s.places();
    let base = format!("/gnu/store/{TARBALL}");
    let err = |spec: &str| cat(&p, spec).unwrap_err().to_string();
    let e = err(&format!("{base}/thing-1.0/nothing"));
    assert!(e.contains("has no member `thing-1.0/nothing`"), "{e}");
    // A member with the same file name is suggested.
    let e = err(&format!("{base}/x.txt"));
    assert!(
        e.contains(&format!("did you mean {base}/thing-1.0/doc/x.txt?")),
        "{e}"
    );
    let e = err(&format!("/gnu/store/{SCRIPT}/inside"));
    assert_eq!(
        e,
        format!("/gnu/store/{SCRIPT} is text, not a directory or an archive: it has no `inside`")
    );
    let e = err(&format!("{base}/thing-1.0/src/x.c/deeper/still"));
    assert!(
        e.contains("is text, not a directory or an archive: it has no `deeper/still`"),
        "{e}"
    );
    let e = err(&format!("/gnu/store/{TREE}/link/x"));
    assert!(e.contains("is a link to `guix.scm`"), "{e}");
    let e = err(&format!("/gnu/store/{TREE}/link"));
    assert!(
        e.contains("is a symbolic link to `guix.scm`, not a file"),
        "{e}"
    );
    let e = err(&format!("/gnu/store/{TREE}/guix"));
    assert!(
        e.contains("is a directory (abovo ls lists it), not a file"),
        "{e}"
    );
    let e = err(&format!("{base}/thing-1.0/../etc/passwd"));
    assert!(e.contains("`..` is not allowed"), "{e}");
    let e = err("/etc/passwd");
    assert!(e.contains("is not a store path"), "{e}");
    let e = err("/gnu/store/1111111111111111111111111111111a-absent");
    assert!(e.contains("is not at hand: it is in none of"), "{e}");
    assert!(e.contains(&s.dir.path().display().to_string()), "{e}");
}

#[test]
fn item_archives_hold_items_at_their_top_level() {
    // An archive of items, as the corpus's sources.tar.zst: a file item
    // and a tree item.
    let tar = tar_of(&[
        (SCRIPT, b"#!/bin/sh\nexit 0\n"),
        (&format!("{TREE}/guix.scm"), b"(define-module (guix))\n"),
        (&format!("{TREE}/guix/build/utils.scm"), b"utils\n"),
    ]);
    let bytes: &'static [u8] = Box::leak(zstd::encode_all(&tar[..], 3).unwrap().into_boxed_slice());
    let mut p = Places::new();
    p.push(Box::new(ItemArchive::in_memory(bytes, "the test items")));
    let (out, located) = cat(&p, SCRIPT).unwrap();
    assert_eq!(out, b"#!/bin/sh\nexit 0\n");
    assert_eq!(located.place, "the test items");
    let (out, _) = cat(&p, &format!("{TREE}/guix/build/utils.scm")).unwrap();
    assert_eq!(out, b"utils\n");
    // Summaries of several items in one pass, with one missing.
    let w = |b: &str| Wanted::new(StorePath::from_base_name(b).unwrap());
    let got = items::summarise(
        &p,
        &[w(SCRIPT), w(TARBALL), w(TREE)],
        &SummaryOptions::default(),
    )
    .unwrap();
    let script = got[0].as_ref().unwrap();
    assert_eq!(script.size, 17);
    assert!(matches!(
        &script.content,
        items::Content::Text { lines: 2, .. }
    ));
    assert!(got[1].is_none());
    let tree = got[2].as_ref().unwrap();
    assert!(matches!(
        &tree.content,
        items::Content::Tree { files: 2, .. }
    ));
    // Not an archive of items.
    let mut bad = Places::new();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), b"just text\n").unwrap();
    bad.push_path(file.path()).unwrap();
    let e = cat(&bad, SCRIPT).unwrap_err().to_string();
    assert!(
        e.contains("not an archive of store items: it is text"),
        "{e}"
    );
}
