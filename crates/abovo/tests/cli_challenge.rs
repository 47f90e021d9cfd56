//! `abovo challenge` against real servers on 127.0.0.1: two `abovo
//! publish` instances with different keys over two stores of the same
//! store directory (each built a deliberately non-deterministic derivation,
//! differently), a plain server replaying what `guix publish` 1.5.0 served
//! (`../shared/data/guix-publish-fixtures`), and hostile servers.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod cli_build_support;
mod cli_publish_support;

use abovo_store::narinfo::{NarInfo, SigningKey};
use cli_build_support::{HttpServer, TestStore, silent_server};
use cli_publish_support::Publish;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

/// A builder whose output differs on every run (as in cli_build_repro).
const FLAKY: &str = "$bb mkdir -p $out/share
$bb head -c 64 /dev/urandom > $out/share/random.bin
printf 'built at %s\\nstable line\\n' \"$($bb head -c 8 /dev/urandom | $bb od -An -tx1 | $bb tr -d ' ')\" > $out/share/stamp
echo same > $out/share/same";

fn fixtures() -> Option<PathBuf> {
    std::env::var_os("ABOVO_GUIX_PUBLISH_FIXTURES").map(PathBuf::from)
}

/// A plain HTTP server replaying the fixtures: `/nix-cache-info`,
/// `/HASH.narinfo` and the NARs at their `URL`s.
fn replay(dir: &Path) -> HttpServer {
    let mut files = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_str().unwrap().to_owned();
        let bytes = std::fs::read(&p).unwrap();
        if name == "nix-cache-info" || name.ends_with(".narinfo") {
            files.push((format!("/{name}"), bytes));
        } else if let Some(base) = name.strip_suffix(".nar.gz") {
            files.push((format!("/nar/gzip/{base}"), bytes));
        }
    }
    HttpServer::start(files)
}

struct Builders {
    t: TestStore,
    /// Store 1: in place, state in the default directory.
    a: Publish,
    /// Store 2: its items moved to `store2`, state in `state2`.
    b: Publish,
    state2: PathBuf,
    flaky: String,
    steady: String,
    lonely: String,
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Two stores of one store directory: both build `flaky` (differently)
/// and `steady` (identically); only the second builds `lonely`.
fn two_builders(test: &str) -> Option<Builders> {
    let mut t = TestStore::new();
    t.add_busybox(test)?;
    let flaky_drv = t.sh_drv("flaky", FLAKY, json!({}));
    let steady_drv = t.sh_drv("steady", "$bb mkdir $out; echo steady > $out/x", json!({}));
    let lonely_drv = t.sh_drv("lonely", "$bb mkdir $out; echo alone > $out/x", json!({}));
    let flaky = t.ok(&["build", &t.add_drv(&flaky_drv)]).trim().to_owned();
    let steady = t.ok(&["build", &t.add_drv(&steady_drv)]).trim().to_owned();
    t.ok(&["key", "generate", "--name", "builder-a-1"]);

    // The second machine: the same store directory, another state.
    let store1 = t.dir.path().join("store1");
    let store2 = t.dir.path().join("store2");
    let state2 = t.dir.path().join("state2");
    std::fs::rename(&t.store, &store1).unwrap();
    let two = |args: &[&str]| {
        let out = t
            .cmd(args)
            .env("ABOVO_STATE_DIR", &state2)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let seed = t.dir.path().join("seed");
    two(&[
        "add",
        "--recursive",
        "--name",
        "busybox-static",
        seed.to_str().unwrap(),
    ]);
    let add = |j: &Value| {
        let p = t.dir.path().join("drv2.json");
        std::fs::write(&p, serde_json::to_vec(j).unwrap()).unwrap();
        two(&["derivation", "add", p.to_str().unwrap()])
    };
    assert_eq!(two(&["build", &add(&flaky_drv)]), flaky);
    assert_eq!(two(&["build", &add(&steady_drv)]), steady);
    let lonely = two(&["build", &add(&lonely_drv)]);
    two(&["key", "generate", "--name", "builder-b-1"]);
    std::fs::rename(&t.store, &store2).unwrap();
    std::fs::rename(&store1, &t.store).unwrap();

    let a = Publish::start(t.cmd(&["publish", "--listen", "127.0.0.1:0", "-C", "zstd"]));
    let mut cmd_b = t.cmd(&[
        "publish",
        "--listen",
        "127.0.0.1:0",
        "--real-store",
        store2.to_str().unwrap(),
        "-C",
        "gzip",
    ]);
    cmd_b.env("ABOVO_STATE_DIR", &state2);
    let b = Publish::start(cmd_b);
    Some(Builders {
        t,
        a,
        b,
        state2,
        flaky,
        steady,
        lonely,
    })
}

fn verdicts(j: &Value) -> Vec<(String, String)> {
    j["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["path"].as_str().unwrap().to_owned(),
                i["verdict"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn verdict<'a>(v: &'a [(String, String)], path: &str) -> &'a str {
    &v.iter().find(|(p, _)| p == path).unwrap().1
}

#[test]
fn two_builders_and_a_replay_of_guix_publish() {
    let Some(s) = two_builders("two_builders_and_a_replay_of_guix_publish") else {
        return;
    };
    let t = &s.t;
    let key_a = t.state().join("signing-key.pub"); // Guix form
    let key_b = s.state2.join("signing-key.nix.pub"); // Nix form
    let missing = format!("{}/{}-missing", t.store.display(), "0".repeat(32));
    let (replay_url, fixture_item, fixture_key) = match fixtures() {
        Some(dir) => {
            let r = replay(&dir);
            let url = r.url("");
            std::mem::forget(r); // the thread serves until the test process ends
            (
                Some(url),
                Some(
                    "/gnu/store/blh33w5xzl6xl3cvh522w8p0vkwlwn0w-python-pytorch-2.9.0-builder"
                        .to_owned(),
                ),
                Some(dir.join("signing-key.pub")),
            )
        }
        None => {
            eprintln!("fixture replay skipped: ABOVO_GUIX_PUBLISH_FIXTURES is not set");
            (None, None, None)
        }
    };
    let urls = [
        Some(s.a.url.clone()),
        Some(s.b.url.clone()),
        replay_url.clone(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ");
    let mut args: Vec<String> = vec!["challenge".into(), "--substitute-urls".into(), urls.clone()];
    for k in [Some(&key_a), Some(&key_b), fixture_key.as_ref()]
        .into_iter()
        .flatten()
    {
        args.extend(["--authorized-key".into(), k.display().to_string()]);
    }
    let with = |extra: &[&str]| -> Output {
        let mut a: Vec<&str> = args.iter().map(String::as_str).collect();
        a.extend_from_slice(extra);
        t.run(&a)
    };
    let mut targets = vec![
        s.flaky.as_str(),
        s.steady.as_str(),
        s.lonely.as_str(),
        missing.as_str(),
    ];
    if let Some(f) = &fixture_item {
        targets.push(f);
    }

    let mut a = vec!["--local", "-f", "json"];
    a.extend(&targets);
    let out = with(&a);
    assert_eq!(out.status.code(), Some(1), "a differing output: exit 1");
    let j = json_of(&out);
    let v = verdicts(&j);
    assert_eq!(verdict(&v, &s.flaky), "differ");
    assert_eq!(verdict(&v, &s.steady), "agree");
    assert_eq!(verdict(&v, &s.lonely), "only-one");
    assert_eq!(verdict(&v, &missing), "unavailable");
    let steady = j["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["path"] == s.steady.as_str())
        .unwrap();
    let signers: Vec<&str> = steady["signers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    assert_eq!(signers.len(), 3, "{signers:?}");
    assert!(
        signers.contains(&"builder-b-1") && signers.contains(&"local"),
        "{signers:?}"
    );
    assert!(
        signers.iter().any(|x| x.starts_with("guix:")),
        "{signers:?}"
    );
    // Who differs with whom: the local store and server A against B.
    let flaky = j["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["path"] == s.flaky.as_str())
        .unwrap();
    let groups = flaky["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0]["sources"], json!([null, 0]));
    assert_eq!(groups[1]["sources"], json!([1]));
    if let Some(f) = &fixture_item {
        assert_eq!(verdict(&v, f), "only-one");
        let item = j["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["path"] == f.as_str())
            .unwrap();
        assert!(
            item["signers"][0]
                .as_str()
                .unwrap()
                .starts_with("guix:d2017bb1"),
            "{item}"
        );
        assert_eq!(item["answers"][0]["answer"], "missing");
        assert_eq!(
            item["answers"][2]["nar_hash"],
            "sha256:1xi1hpv5vdwj083jsrrkx2j39706nr5gaw9z98jbmfadra5biwl0"
        );
    }
    assert_eq!(j["summary"]["differ"], 1);

    // Text: guix challenge's summary, the differing servers named.
    let mut a = vec!["--local"];
    a.extend(&targets);
    let out = with(&a);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(&format!("{} differ: contents differ", s.flaky)),
        "{text}"
    );
    assert!(
        text.contains(&format!("local and {} gave", s.a.url)),
        "{text}"
    );
    assert!(text.contains("store items were analysed:"), "{text}");
    assert!(
        text.contains("- 1 (20.0%) differed") || text.contains("- 1 (25.0%) differed"),
        "{text}"
    );
    assert!(
        !text.contains(&format!("{} agree", s.steady)),
        "agreeing items only with -v: {text}"
    );

    // --require K: exactly when K independent signers agree everywhere.
    assert_eq!(with(&["--require", "2", &s.steady]).status.code(), Some(0));
    assert_eq!(with(&["--require", "3", &s.steady]).status.code(), Some(1));
    assert_eq!(
        with(&["--local", "--require", "3", &s.steady])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        with(&["--require", "1", &s.steady, &s.lonely])
            .status
            .code(),
        Some(0)
    );
    let out = with(&["--require", "2", &s.steady, &s.lonely]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("1 output has fewer than 2 agreeing independent signers")
    );
    assert_eq!(with(&["--require", "1", &s.flaky]).status.code(), Some(1));

    // --diff names the differing files, streamed from both servers.
    let out = with(&["--diff", &s.flaky]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("share/random.bin"), "{text}");
    assert!(text.contains("share/stamp"), "{text}");
    assert!(!text.contains("share/same"), "{text}");
    let j = json_of(&with(&["--diff", "-f", "json", &s.flaky]));
    let changes = j["items"][0]["diff"]["changes"].as_array().unwrap();
    let paths: Vec<&str> = changes
        .iter()
        .map(|c| c["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["share/random.bin", "share/stamp"]);

    // HTML: one self-contained page with every verdict.
    let out = with(&["-f", "html", &s.flaky, &s.steady, &missing]);
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(
        page.starts_with("<!DOCTYPE html>")
            && page.contains("unavailable")
            && page.contains("differ")
    );

    // Without B's key, B is untrusted: shown, but it does not decide.
    let out = t.run(&[
        "challenge",
        "--substitute-urls",
        &urls,
        "--authorized-key",
        key_a.to_str().unwrap(),
        "-f",
        "json",
        &s.flaky,
        &s.lonely,
    ]);
    let j = json_of(&out);
    let v = verdicts(&j);
    assert_eq!(verdict(&v, &s.flaky), "only-one");
    assert_eq!(verdict(&v, &s.lonely), "untrusted");
    assert_eq!(out.status.code(), Some(0));
}

/// Serves `narinfos` (hash part → text) and `nars` (URL path → bytes).
fn crafted(files: Vec<(String, Vec<u8>)>) -> HttpServer {
    HttpServer::start(files)
}

fn signed(path: &str, nar: &[u8], declared_size: u64, key: &SigningKey, url: &str) -> String {
    let mut info = NarInfo::new(
        path.into(),
        abovo_store::HashAlgo::Sha256.digest(nar),
        declared_size,
    );
    info.urls.push(url.into());
    info.compressions.push("none".into());
    info.sign_guix_publish(key, "test").unwrap()
}

/// A server answering every request with a redirect to itself.
fn redirect_loop() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(mut s) = s else { continue };
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.1 302 Found\r\nLocation: /again\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    port
}

#[test]
fn hostile_servers_get_clear_errors_and_the_others_are_still_asked() {
    let t = TestStore::new();
    let path = format!("/gnu/store/{}-probe", "1".repeat(32));
    let hash_part = "1".repeat(32);
    let (k1, k2) = (
        SigningKey::from_seed("one-1", &[1; 32]),
        SigningKey::from_seed("two-1", &[2; 32]),
    );
    let keys = t.write(
        "keys",
        format!(
            "{}\n{}\n",
            k1.to_nix_public().unwrap(),
            k2.to_nix_public().unwrap()
        )
        .as_bytes(),
    );
    let base = format!("{hash_part}-probe");
    let nar_a = abovo_store::nar::Tree::Regular {
        executable: false,
        contents: b"version a\n".to_vec(),
    }
    .to_nar();
    let nar_b = abovo_store::nar::Tree::Regular {
        executable: false,
        contents: b"version b, longer\n".to_vec(),
    }
    .to_nar();
    // Server 1 signs A but serves it cut short; server 2 signs B but
    // serves it with bytes beyond its NarSize.
    let mut long = nar_b.clone();
    long.extend_from_slice(&[0u8; 4096]);
    let one = crafted(vec![
        (
            format!("/{hash_part}.narinfo"),
            signed(
                &path,
                &nar_a,
                nar_a.len() as u64,
                &k1,
                &format!("nar/{base}"),
            )
            .into_bytes(),
        ),
        (format!("/nar/{base}"), nar_a[..nar_a.len() - 20].to_vec()),
    ]);
    let two = crafted(vec![
        (
            format!("/{hash_part}.narinfo"),
            signed(
                &path,
                &nar_b,
                nar_b.len() as u64,
                &k2,
                &format!("nar/{base}"),
            )
            .into_bytes(),
        ),
        (format!("/nar/{base}"), long),
    ]);
    let malformed = crafted(vec![(
        format!("/{hash_part}.narinfo"),
        b"StorePath: nonsense\nNarHash: x\n".to_vec(),
    )]);
    let stall = silent_server();
    let loop_port = redirect_loop();
    let urls = format!(
        "{} {} {} http://127.0.0.1:{stall} http://127.0.0.1:{loop_port}",
        one.url(""),
        two.url(""),
        malformed.url("")
    );
    let start = Instant::now();
    let out = t.run(&[
        "challenge",
        "--substitute-urls",
        &urls,
        "--authorized-key",
        keys.to_str().unwrap(),
        "--timeout",
        "2",
        "--retries",
        "0",
        "--diff",
        "-f",
        "json",
        &path,
    ]);
    let took = start.elapsed();
    assert!(took < Duration::from_secs(30), "took {took:?}");
    assert_eq!(out.status.code(), Some(1));
    let j = json_of(&out);
    let item = &j["items"][0];
    assert_eq!(item["verdict"], "differ", "{item}");
    let answers = item["answers"].as_array().unwrap();
    assert_eq!(answers[0]["answer"], "found");
    assert_eq!(answers[1]["answer"], "found");
    let err = |i: usize| answers[i]["error"].as_str().unwrap_or_default().to_owned();
    assert!(
        err(2).contains("NarHash") || err(2).contains("line"),
        "malformed: {}",
        err(2)
    );
    assert!(
        err(3).contains("stopped sending")
            || err(3).contains("timed out")
            || err(3).contains("timeout"),
        "stall: {}",
        err(3)
    );
    assert!(
        err(4).to_lowercase().contains("redirect"),
        "loop: {}",
        err(4)
    );
    let diff_error = item["diff"]["error"].as_str().unwrap();
    assert!(
        diff_error.contains("ends early") || diff_error.contains("larger than its NarSize"),
        "{diff_error}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("gave up on http://127.0.0.1:{stall}")),
        "{stderr}"
    );
}
