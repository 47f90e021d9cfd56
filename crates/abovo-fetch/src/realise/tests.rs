//! Realising from stores (another prefix, tampered copies) and git.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report
use super::*;
use abovo_store::StoreDir;

fn request(name: &str, fixed: FixedOutput, drv: Option<Derivation>) -> Request {
    let store = StoreDir::default();
    let path = store
        .make_fixed_output_path(name, fixed.recursive, &fixed.hash)
        .unwrap();
    Request {
        store_path: store.display(&path),
        fixed,
        derivation: drv,
        mirrors: None,
        ca_mirrors: None,
    }
}

fn offline() -> Settings {
    Settings {
        offline: true,
        ..Settings::default()
    }
}

#[test]
fn stores_of_another_prefix_and_tampered_copies() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = Cache::new(tmp.path().join("cache"));
    let content = b"seed\n";
    let fixed = FixedOutput {
        recursive: false,
        hash: HashAlgo::Sha256.digest(content),
    };
    let req = request("seed.txt", fixed, None);
    // abovo's own store: another prefix, so another base name.
    let own = tmp.path().join("own");
    std::fs::create_dir(&own).unwrap();
    let sd = StoreDir::new(own.to_str().unwrap()).unwrap();
    let there = sd
        .make_fixed_output_path("seed.txt", false, &fixed.hash)
        .unwrap();
    // A seed directory by /gnu/store base name, with the wrong bytes.
    let seeds = tmp.path().join("seeds");
    std::fs::create_dir(&seeds).unwrap();
    std::fs::write(seeds.join(req.base_name()), b"not the seed\n").unwrap();
    let settings = Settings {
        stores: vec![
            LocalStore {
                dir: seeds.clone(),
                store_dir: None,
            },
            LocalStore {
                dir: own.clone(),
                store_dir: Some(sd.clone()),
            },
        ],
        ..offline()
    };
    let r = Realiser::new(&cache, &settings, &Quiet).unwrap();
    let o = r.realise(&req);
    assert_eq!(o.status, Status::Failed);
    assert!(
        o.attempts[0]
            .error
            .starts_with("hash mismatch: expected sha256:"),
        "{:?}",
        o.attempts
    );
    assert!(o.attempts.last().unwrap().error.contains("--offline"));
    assert!(cache.lookup(req.base_name()).is_none());
    std::fs::write(sd.display(&there), content).unwrap();
    let o = r.realise(&req);
    assert_eq!(
        (o.status, o.source),
        (Status::Fetched, Some(SourceKind::Store))
    );
    assert_eq!(o.measured.unwrap().bytes, 5);
    assert_eq!(
        std::fs::read(cache.item_path(req.base_name())).unwrap(),
        content
    );
    // Next time it is in the cache.
    assert_eq!(r.realise(&req).status, Status::Cached);
}

#[test]
fn git_checkouts_are_verified_like_any_output() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    std::fs::write(repo.join("README"), b"hello\n").unwrap();
    let git = |args: &[&str]| {
        let ok = std::process::Command::new("git")
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "-c",
                "init.defaultBranch=main",
            ])
            .args(args)
            .current_dir(&repo)
            .output()
            .map(|o| o.status.success());
        ok.unwrap_or(false)
    };
    if !git(&["init", "-q"]) {
        eprintln!("skipped: no working `git` here");
        return;
    }
    assert!(git(&["add", "README"]) && git(&["commit", "-qm", "x"]));
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(&repo)
        .output()
        .unwrap();
    let commit = String::from_utf8(commit.stdout).unwrap().trim().to_owned();
    // The expected tree: the checkout without .git.
    let expected = tmp.path().join("expected");
    std::fs::create_dir(&expected).unwrap();
    std::fs::write(expected.join("README"), b"hello\n").unwrap();
    let hash = abovo_store::nar::hash_path(&expected).unwrap().hash;
    let fixed = FixedOutput {
        recursive: true,
        hash,
    };
    let mut drv = Derivation {
        builder: "builtin:git-download".into(),
        ..Derivation::default()
    };
    drv.environment.insert(
        b"url".to_vec(),
        format!("\"file://{}\"", repo.display()).into_bytes(),
    );
    drv.environment
        .insert(b"commit".to_vec(), commit.into_bytes());
    let req = request("repo-checkout", fixed, Some(drv.clone()));
    let cache = Cache::new(tmp.path().join("cache"));
    let settings = Settings::default();
    let r = Realiser::new(&cache, &settings, &Quiet).unwrap();
    let o = r.realise(&req);
    assert_eq!(
        (o.status, o.source),
        (Status::Fetched, Some(SourceKind::Git)),
        "{:?}",
        o.attempts
    );
    assert!(cache.item_path(req.base_name()).join("README").is_file());
    assert!(!cache.item_path(req.base_name()).join(".git").exists());
    // Another expected hash: the checkout is refused, nothing kept.
    let wrong = FixedOutput {
        recursive: true,
        hash: HashAlgo::Sha256.digest(b"x"),
    };
    let req = request("repo-checkout", wrong, Some(drv));
    let o = r.realise(&req);
    assert_eq!(o.status, Status::Failed);
    assert!(
        o.attempts
            .last()
            .unwrap()
            .error
            .contains("hash mismatch: expected r:sha256:"),
        "{:?}",
        o.attempts
    );
    assert!(cache.lookup(req.base_name()).is_none());
}
