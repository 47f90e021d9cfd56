//! Built-in downloads end to end: `builtin:download` (plain URLs,
//! `mirror://` through a mirrors file, content-addressed mirrors, `file://`),
//! a fixed output whose hash does not match (built-in or sandboxed), and
//! `builtin:git-download` checking out one commit.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod cli_build_support;

use cli_build_support::{HttpServer, TestStore, sha256_hex};
use serde_json::json;

#[test]
fn builtin_download_fetches_verifies_and_uses_mirrors() {
    let mut t = TestStore::new();
    if t.add_busybox("builtin_download_fetches_verifies_and_uses_mirrors")
        .is_none()
    {
        return;
    }
    let body = b"pretend this is a tarball\n".to_vec();
    let server = HttpServer::start(vec![
        ("/pub/thing-1.0.tar.gz".into(), body.clone()),
        (
            format!(
                "/ca/sha256/{}",
                abovo_store::HashAlgo::Sha256.digest(&body).to_nix32()
            ),
            body.clone(),
        ),
    ]);
    let fod = |name: &str, url: &str, hash: &str, extra: serde_json::Value| {
        let mut j = json!({
            "name": name,
            "outputs": {"out": {"hashAlgo": "sha256", "hash": hash}},
            "system": "x86_64-linux",
            "builder": "builtin:download",
            "env": {"url": url, "impureEnvVars": "http_proxy"},
        });
        cli_build_support::merge(&mut j, extra);
        j
    };
    let hash = sha256_hex(&body);
    // A plain URL (a Scheme string, as Guix writes it).
    let drv = t.add_drv(&fod(
        "thing-1.0.tar.gz",
        &format!("\"{}\"", server.url("/pub/thing-1.0.tar.gz")),
        &hash,
        json!({}),
    ));
    let out = t.ok(&["build", &drv]);
    assert_eq!(std::fs::read(out.trim()).unwrap(), body);
    // mirror:// through a mirrors file in the store, after a dead URL.
    let mirrors = t.write(
        "mirrors",
        format!(
            "((example \"http://127.0.0.1:1/\" \"{}/\"))",
            server.url("/pub")
        )
        .as_bytes(),
    );
    let mirrors = t
        .ok(&["add", "--name", "mirrors", mirrors.to_str().unwrap()])
        .trim()
        .to_owned();
    let drv = t.add_drv(&fod(
        "thing-again.tar.gz",
        "(\"mirror://example/thing-1.0.tar.gz\")",
        &hash,
        json!({"inputSrcs": [mirrors.clone()], "env": {"mirrors": mirrors}}),
    ));
    let out = t.ok(&["build", &drv]);
    assert_eq!(std::fs::read(out.trim()).unwrap(), body);
    // A content-addressed mirror when the URL is gone.
    let drv = t.add_drv(&fod(
        "thing-ca.tar.gz",
        &format!("\"{}\"", server.url("/gone")),
        &hash,
        json!({}),
    ));
    let template = format!("http://127.0.0.1:{}/ca/{{algo}}/{{hash}}", server.port);
    let out = t.ok(&["build", "--content-addressed-mirror", &template, &drv]);
    assert_eq!(std::fs::read(out.trim()).unwrap(), body);
    // file:// URLs.
    let local = t.write("local.bin", &body);
    let drv = t.add_drv(&fod(
        "thing-file",
        &format!("\"file://{}\"", local.display()),
        &hash,
        json!({}),
    ));
    t.ok(&["build", &drv]);
    assert!(t.verify_consistent());
}

#[test]
fn a_hash_mismatch_shows_both_hashes_and_registers_nothing() {
    let mut t = TestStore::new();
    if t.add_busybox("a_hash_mismatch_shows_both_hashes_and_registers_nothing")
        .is_none()
    {
        return;
    }
    let body = b"the real bytes\n".to_vec();
    let server = HttpServer::start(vec![("/f".into(), body.clone())]);
    let wrong = sha256_hex(b"what we expected");
    let drv = t.add_drv(&json!({
        "name": "f",
        "outputs": {"out": {"hashAlgo": "sha256", "hash": wrong}},
        "system": "x86_64-linux",
        "builder": "builtin:download",
        "env": {"url": format!("\"{}\"", server.url("/f"))},
    }));
    let out = t.run(&["build", &drv]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    let expected = abovo_store::HashAlgo::Sha256
        .digest(b"what we expected")
        .to_nix32();
    let actual = abovo_store::HashAlgo::Sha256.digest(&body).to_nix32();
    assert!(
        err.contains(&format!("expected hash: sha256:{expected}")),
        "{err}"
    );
    assert!(
        err.contains(&format!("actual hash:   sha256:{actual}")),
        "{err}"
    );
    let o = t.output(&drv);
    assert!(!std::path::Path::new(&o).exists());
    assert_eq!(t.run(&["store", "info", &o]).status.code(), Some(2));
    // The same with a sandboxed fixed-output builder.
    let drv = t.add_drv(&t.sh_drv(
        "fod",
        "echo not that > $out",
        json!({"outputs": {"out": {"hashAlgo": "sha256", "hash": wrong}}}),
    ));
    let out = t.run(&["build", &drv]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("hash mismatch"));
    assert!(!std::path::Path::new(&t.output(&drv)).exists());
    let j: serde_json::Value =
        serde_json::from_str(&t.ok(&["store", "verify", "-f", "json"])).unwrap();
    assert_eq!(j["checked"], 3, "only busybox and the two .drv files: {j}");
}

#[test]
fn builtin_git_download_checks_out_a_commit() {
    let mut t = TestStore::new();
    if t.add_busybox("builtin_git_download_checks_out_a_commit")
        .is_none()
    {
        return;
    }
    if std::process::Command::new("git")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("builtin_git_download_checks_out_a_commit: skipped: no git");
        return;
    }
    let repo = t.dir.path().join("repo");
    std::fs::create_dir_all(repo.join("src")).unwrap();
    std::fs::write(repo.join("README"), "read me\n").unwrap();
    std::fs::write(repo.join("src/main.c"), "int main(){return 0;}\n").unwrap();
    let git = |args: &[&str]| {
        let o = std::process::Command::new("git")
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
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "one"]);
    let commit = git(&["rev-parse", "HEAD"]).trim().to_owned();
    std::fs::write(repo.join("README"), "changed later\n").unwrap();
    git(&["commit", "-q", "-am", "two"]);
    // The expected hash: the first commit's tree without .git.
    let expect = t.dir.path().join("expect");
    std::fs::create_dir_all(expect.join("src")).unwrap();
    std::fs::write(expect.join("README"), "read me\n").unwrap();
    std::fs::write(expect.join("src/main.c"), "int main(){return 0;}\n").unwrap();
    let hash = abovo_store::nar::hash_path(&expect)
        .unwrap()
        .hash
        .to_base16();
    let drv = t.add_drv(&json!({
        "name": "repo-checkout",
        "outputs": {"out": {"hashAlgo": "r:sha256", "hash": hash}},
        "system": "x86_64-linux",
        "builder": "builtin:git-download",
        "env": {"url": format!("\"file://{}\"", repo.display()), "commit": commit, "recursive?": "#f"},
    }));
    let out = t.ok(&["build", &drv]);
    let o = out.trim();
    assert_eq!(
        std::fs::read_to_string(format!("{o}/README")).unwrap(),
        "read me\n"
    );
    assert!(!std::path::Path::new(&format!("{o}/.git")).exists());
}
