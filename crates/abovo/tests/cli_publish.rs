//! `abovo key generate` and `abovo publish`, as a user runs them: the key
//! files in Guix's and Nix's forms, and a real server over a real store
//! whose narinfos verify with the generated key.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod cli_build_support;
mod cli_publish_support;

use abovo_fetch::keys::AuthorizedKeys;
use abovo_store::narinfo::NarInfo;
use cli_build_support::TestStore;
use cli_publish_support::{Publish, get};
use std::os::unix::fs::PermissionsExt;

#[test]
fn key_generate_writes_both_forms_and_never_replaces_silently() {
    let t = TestStore::new();
    let out = t.ok(&["key", "generate", "--name", "builder-a-1", "-f", "json"]);
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    let state = t.state();
    let read = |f: &str| std::fs::read_to_string(state.join(f)).unwrap();
    assert_eq!(read("signing-key.nix.pub").trim(), j["nix_public_key"]);
    assert!(read("signing-key.nix.pub").starts_with("builder-a-1:"));
    assert!(read("signing-key.pub").starts_with("(public-key"));
    assert!(read("signing-key.sec").starts_with("(private-key"));
    for secret in ["signing-key.sec", "signing-key.nix.sec"] {
        let mode = std::fs::metadata(state.join(secret))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{secret}");
    }
    // Both public files name the same key, read by the ACL reader.
    let mut guix = AuthorizedKeys::default();
    guix.add_text(&read("signing-key.pub")).unwrap();
    let hex = j["public_key"].as_str().unwrap();
    assert_eq!(abovo_store::encoding::base16_encode(&guix.guix[0]), hex);

    let again = t.run(&["key", "generate"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    assert_eq!(read("signing-key.nix.pub").trim(), j["nix_public_key"]);
    let forced: serde_json::Value =
        serde_json::from_str(&t.ok(&["key", "generate", "--force", "-f", "json"])).unwrap();
    assert_ne!(forced["public_key"], j["public_key"], "a new key each time");
    let bad = t.run(&["key", "generate", "--force", "--name", "a:b"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn publish_serves_the_store_signed_with_its_key() {
    let t = TestStore::new();
    let file = t.write("greeting.txt", b"hello from abovo\n");
    let item = t.ok(&["add", file.to_str().unwrap()]).trim().to_owned();
    // No key yet: a clear error, exit 2.
    let none = t.run(&["publish", "--listen", "127.0.0.1:0"]);
    assert_eq!(none.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&none.stderr).contains("abovo key generate"));
    t.ok(&["key", "generate", "--name", "t-1"]);

    let server = Publish::start(t.cmd(&[
        "publish",
        "--listen",
        "127.0.0.1:0",
        "-C",
        "zstd",
        "-C",
        "none",
    ]));
    let info = String::from_utf8(get(&format!("{}/nix-cache-info", server.url)).unwrap()).unwrap();
    assert!(
        info.starts_with(&format!("StoreDir: {}\n", t.store.display())),
        "{info}"
    );
    let base = item.rsplit('/').next().unwrap();
    let text = get(&format!("{}/{}.narinfo", server.url, &base[..32])).unwrap();
    let narinfo = NarInfo::parse(std::str::from_utf8(&text).unwrap()).unwrap();
    assert_eq!(narinfo.store_path, item);
    assert_eq!(narinfo.compressions, ["zstd", "none"]);
    let mut keys = AuthorizedKeys::default();
    keys.add_text(&std::fs::read_to_string(t.state().join("signing-key.pub")).unwrap())
        .unwrap();
    assert!(keys.check(&narinfo).is_ok());
    let mut nix = AuthorizedKeys::default();
    nix.add_text(&std::fs::read_to_string(t.state().join("signing-key.nix.pub")).unwrap())
        .unwrap();
    assert_eq!(nix.check(&narinfo).unwrap(), "t-1");
    let nar = get(&format!("{}/{}", server.url, narinfo.urls[1])).unwrap();
    assert_eq!(abovo_store::HashAlgo::Sha256.digest(&nar), narinfo.nar_hash);
    assert!(get(&format!("{}/{}.narinfo", server.url, "0".repeat(32))).is_none());
}

#[test]
fn publish_refuses_what_it_cannot_use() {
    let t = TestStore::new();
    t.ok(&["add", t.write("x", b"x").to_str().unwrap()]);
    let junk = t.write("junk.sec", b"(private-key (ecc (curve Ed25519) (q #00#)))");
    let out = t.run(&[
        "publish",
        "--key",
        junk.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("junk.sec"));
    t.ok(&["key", "generate"]);
    let out = t.run(&["publish", "--listen", "not-an-address"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot listen on `not-an-address`"));
    let out = t.run(&["publish", "-C", "lzip", "--listen", "127.0.0.1:0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown compression"));
}

#[test]
fn publish_real_store_serves_the_bytes_of_the_copy() {
    let t = TestStore::new();
    let item = t
        .ok(&["add", t.write("x.txt", b"in the store\n").to_str().unwrap()])
        .trim()
        .to_owned();
    t.ok(&["key", "generate", "--name", "t-1"]);
    let base = item.rsplit('/').next().unwrap();
    // A copy of the store whose item says something else: what is served
    // comes from the copy, what is signed still names the store.
    let copy = t.dir.path().join("copy");
    std::fs::create_dir(&copy).unwrap();
    std::fs::write(copy.join(base), b"in the copy\n").unwrap();
    let missing = t.run(&[
        "publish",
        "--real-store",
        "nowhere",
        "--listen",
        "127.0.0.1:0",
    ]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("--real-store `nowhere`"));

    let server = Publish::start(t.cmd(&[
        "publish",
        "--listen",
        "127.0.0.1:0",
        "--real-store",
        copy.to_str().unwrap(),
    ]));
    let text = get(&format!("{}/{}.narinfo", server.url, &base[..32])).unwrap();
    let narinfo = NarInfo::parse(std::str::from_utf8(&text).unwrap()).unwrap();
    assert_eq!(narinfo.store_path, item);
    let nar = get(&format!("{}/{}", server.url, narinfo.urls[0])).unwrap();
    assert_eq!(
        nar,
        abovo_store::nar::Tree::Regular {
            executable: false,
            contents: b"in the copy\n".to_vec(),
        }
        .to_nar()
    );
}
