//! Unit tests of the seed byte lookup and checks: fixed-output hashes flat
//! and recursive, recorded NAR hashes, store paths recomputed from content,
//! symbolic links, names that cannot escape, and either executable mode.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use super::check::mentioned_store_paths;
use super::hash::nar_hashes;
use super::*;
use crate::classify::{Origin, SeedFacts};
use abovo_store::HashAlgo;
use abovo_store::nar;

fn facts(name: &str, fixed: Option<FixedOutput>, store_path: &str) -> SeedFacts {
    SeedFacts {
        node: abovo_graph::NodeId(0),
        origin: if fixed.is_some() {
            Origin::FixedOutput
        } else {
            Origin::InputSource
        },
        name: name.to_owned(),
        store_path: store_path.to_owned(),
        derivation: None,
        fixed,
        hash: None,
        urls: vec![],
        builder: None,
    }
}

#[test]
fn a_flat_fixed_output_needs_its_flat_hash() {
    let dir = tempfile::tempdir().unwrap();
    let good = b"#!/bin/sh\necho the real seed\n";
    std::fs::write(dir.path().join("tool"), good).unwrap();
    let fixed = FixedOutput {
        recursive: false,
        hash: HashAlgo::Sha256.digest(good),
    };
    let f = facts(
        "tool",
        Some(fixed),
        "/gnu/store/00000000000000000000000000000000-tool",
    );
    let dirs = vec![dir.path().to_owned()];
    let l = locate(&f, &Expected::Fixed(fixed), &dirs, false);
    let found = l.found.unwrap();
    assert_eq!(found.verified, Verified::FixedOutputHash);
    assert!(l.rejected.is_empty());

    // Another file under the same name is ignored and reported.
    std::fs::write(dir.path().join("tool"), b"impostor").unwrap();
    let l = locate(&f, &Expected::Fixed(fixed), &dirs, false);
    assert!(l.found.is_none());
    assert_eq!(l.rejected.len(), 1);
    let Rejection::HashMismatch {
        method,
        expected,
        actual,
    } = &l.rejected[0].rejection
    else {
        panic!("{:?}", l.rejected)
    };
    assert_eq!(*method, HashMethod::Flat);
    assert_eq!(expected, &fixed.hash.to_string());
    assert_eq!(actual, &HashAlgo::Sha256.digest(b"impostor").to_string());
    assert!(l.rejected[0].message().contains("is not this seed"));
}

#[test]
fn a_recursive_fixed_output_needs_its_nar_hash_and_the_hash_resolves_shared_names() {
    // Two seeds named `bash` (as the i686 and armhf bootstrap bash):
    // the one in the directory under a hash name is found for its own
    // seed; the bare name serves only the seed whose hash it has.
    let dir = tempfile::tempdir().unwrap();
    let i686 = b"\x7fELF i686 bash";
    let armhf = b"\x7fELF armhf bash";
    std::fs::write(dir.path().join("bash"), i686).unwrap();
    let nar_of = |b: &[u8]| nar::hash_regular_bytes(b, false).hash;
    let fixed_i686 = FixedOutput {
        recursive: true,
        hash: nar_of(i686),
    };
    let fixed_armhf = FixedOutput {
        recursive: true,
        hash: nar_of(armhf),
    };
    std::fs::write(dir.path().join(fixed_armhf.hash.to_nix32()), armhf).unwrap();
    let dirs = vec![dir.path().to_owned()];
    let a = facts(
        "bash",
        Some(fixed_i686),
        "/gnu/store/00000000000000000000000000000001-bash",
    );
    let b = facts(
        "bash",
        Some(fixed_armhf),
        "/gnu/store/00000000000000000000000000000002-bash",
    );
    let la = locate(&a, &Expected::Fixed(fixed_i686), &dirs, false);
    assert_eq!(la.found.unwrap().path, dir.path().join("bash"));
    let lb = locate(&b, &Expected::Fixed(fixed_armhf), &dirs, false);
    assert_eq!(
        lb.found.unwrap().path,
        dir.path().join(fixed_armhf.hash.to_nix32())
    );
    // A flat hash of the same bytes is not the recursive one.
    let flat = FixedOutput {
        recursive: false,
        hash: nar_of(i686),
    };
    let l = locate(&a, &Expected::Fixed(flat), &dirs, false);
    assert!(l.found.is_none());
}

#[test]
fn input_sources_check_the_recorded_nar_hash_or_the_store_path() {
    let dir = tempfile::tempdir().unwrap();
    let store = StoreDir::default();
    let content = b"(define x 1)\n";
    let nar = nar::hash_regular_bytes(content, false);
    // Added recursively (add-to-store): the path is a source path.
    let path = store
        .make_fixed_output_path("x.scm", true, &nar.hash)
        .unwrap();
    std::fs::write(dir.path().join(path.base_name()), content).unwrap();
    let f = facts("x.scm", None, &store.display(&path));
    let dirs = vec![dir.path().to_owned()];
    let by_path = Expected::StorePath {
        store: store.clone(),
        path: path.clone(),
    };
    let l = locate(&f, &by_path, &dirs, false);
    assert_eq!(l.found.unwrap().verified, Verified::StorePath);
    let recorded = Expected::NarHash {
        hash: nar.hash,
        record: NarHashRecord::StoreMeta,
    };
    let l = locate(&f, &recorded, &dirs, false);
    assert_eq!(l.found.unwrap().verified, Verified::StoreMeta);
    // Added as text (add-text-to-store), also recognised.
    let text_path = store.make_text_path("y.scm", content, []).unwrap();
    std::fs::write(dir.path().join(text_path.base_name()), content).unwrap();
    let ft = facts("y.scm", None, &store.display(&text_path));
    let l = locate(
        &ft,
        &Expected::StorePath {
            store: store.clone(),
            path: text_path,
        },
        &dirs,
        false,
    );
    assert!(l.found.is_some());
    // A builder script refers to the store paths it names.
    let lib = StorePath::from_base_name("0a9wqyxa0cg4cx1rj3d1cxjgyqiqmfdi-lib-1.0").unwrap();
    let guile = StorePath::from_base_name("1b9wqyxa0cg4cx1rj3d1cxjgyqiqmfdi-guile-3.0").unwrap();
    let script = format!(
        "(begin (use-modules (guix build utils)) (system* \"{0}/bin/guile\" \"{1}/lib\" \"{0}\"))\n",
        store.display(&guile),
        store.display(&lib)
    );
    let builder = store
        .make_text_path("x-builder", script.as_bytes(), [&lib, &guile])
        .unwrap();
    std::fs::write(dir.path().join(builder.base_name()), &script).unwrap();
    let fb = facts("x-builder", None, &store.display(&builder));
    let expect_builder = Expected::StorePath {
        store: store.clone(),
        path: builder.clone(),
    };
    let l = locate(&fb, &expect_builder, &dirs, false);
    assert_eq!(l.found.unwrap().verified, Verified::StorePath);
    assert_eq!(
        mentioned_store_paths(&store, script.as_bytes()),
        [guile, lib]
    );
    std::fs::write(
        dir.path().join(builder.base_name()),
        script.replace("lib\"", "lob\""),
    )
    .unwrap();
    let l = locate(&fb, &expect_builder, &dirs, false);
    assert!(l.found.is_none());
    assert!(l.rejected[0].message().contains("--db"));
    // Changed bytes: neither check passes.
    std::fs::write(dir.path().join(path.base_name()), b"(define x 2)\n").unwrap();
    let l = locate(&f, &by_path, &dirs, false);
    assert!(l.found.is_none());
    assert!(matches!(
        l.rejected[0].rejection,
        Rejection::StorePathMismatch { .. }
    ));
    let l = locate(&f, &recorded, &dirs, false);
    assert!(matches!(
        l.rejected[0].rejection,
        Rejection::HashMismatch {
            method: HashMethod::Nar,
            ..
        }
    ));
}

#[test]
fn symlinks_in_seed_dirs_are_followed_and_names_cannot_escape() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let content = b"payload";
    std::fs::write(elsewhere.path().join("download"), content).unwrap();
    let fixed = FixedOutput {
        recursive: false,
        hash: HashAlgo::Sha256.digest(content),
    };
    std::os::unix::fs::symlink(
        elsewhere.path().join("download"),
        dir.path().join(fixed.hash.to_nix32()),
    )
    .unwrap();
    let f = facts(
        "p",
        Some(fixed),
        "/gnu/store/00000000000000000000000000000003-p",
    );
    let l = locate(&f, &Expected::Fixed(fixed), &[dir.path().to_owned()], false);
    assert!(l.found.is_some());
    let odd = facts("..", None, "/gnu/store/x/..");
    assert!(
        candidates(&odd, &[dir.path().to_owned()], false)
            .iter()
            .all(|c| !c.path.ends_with(".."))
    );
}

#[test]
fn a_download_need_not_carry_the_executable_bit() {
    let dir = tempfile::tempdir().unwrap();
    let content = b"\x7fELF pretend static bash";
    let file = dir.path().join("bash");
    std::fs::write(&file, content).unwrap();
    // The store item is executable; the download is not.
    let fixed = FixedOutput {
        recursive: true,
        hash: nar::hash_regular_bytes(content, true).hash,
    };
    let (v, n) = check(&file, &Expected::Fixed(fixed), true).unwrap();
    assert_eq!(v, Verified::FixedOutputHash);
    // The NAR hash and size reported are those of the store item.
    assert_eq!(n.unwrap(), nar::hash_regular_bytes(content, true));
    // Taken as it is (a store path), the mode counts.
    let r = check(&file, &Expected::Fixed(fixed), false).unwrap_err();
    let Rejection::HashMismatch { actual, .. } = r else {
        panic!("{r:?}")
    };
    assert_eq!(
        actual,
        nar::hash_regular_bytes(content, false).hash.to_string()
    );
    // Both modes are hashed exactly as the NAR writer does.
    let (own, flipped) = nar_hashes(&file, HashAlgo::Sha256, true).unwrap();
    assert_eq!(own, nar::hash_path(&file).unwrap());
    assert_eq!(flipped.unwrap(), nar::hash_regular_bytes(content, true));
}

#[test]
fn a_directory_is_not_a_flat_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("t")).unwrap();
    let fixed = FixedOutput {
        recursive: false,
        hash: HashAlgo::Sha256.digest(b""),
    };
    let r = check(&dir.path().join("t"), &Expected::Fixed(fixed), true).unwrap_err();
    assert!(matches!(r, Rejection::Unreadable { .. }), "{r:?}");
}
