//! Limits and downloads: `--max-log-size`, `--timeout` on the built-ins,
//! and `https` for `builtin:download` against a local TLS server with a
//! certificate made by the test (trusted through `--ca-file` or
//! `SSL_CERT_FILE`, refused otherwise).
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod cli_build_support;

use cli_build_support::tls::HttpsServer;
use cli_build_support::{TestStore, builtin_drv, sha256_hex, silent_server};
use serde_json::json;
use std::time::{Duration, Instant};

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Whether git is installed; when not, prints that `what` is skipped.
fn have_git(what: &str) -> bool {
    let found = std::process::Command::new("git")
        .arg("--version")
        .output()
        .is_ok();
    if !found {
        eprintln!("{what} skipped: no git");
    }
    found
}

/// A `builtin:download` of `name` from the local server on `port`.
fn download_from(t: &TestStore, port: u16, name: &str) -> String {
    t.add_drv(&builtin_drv(
        "download",
        name,
        "sha256",
        &sha256_hex(b"x"),
        json!({"url": format!("\"http://127.0.0.1:{port}/{name}\"")}),
    ))
}

/// A `builtin:git-download` (checkout `name`) of a commit from the local
/// server on `port`.
fn git_download_from(t: &TestStore, port: u16, name: &str) -> String {
    t.add_drv(&builtin_drv(
        "git-download",
        name,
        "r:sha256",
        &sha256_hex(b"x"),
        json!({
            "url": format!("\"http://127.0.0.1:{port}/repo.git\""),
            "commit": "0123456789abcdef0123456789abcdef01234567",
            "recursive?": "#f",
        }),
    ))
}

/// Runs `abovo build ARGS`, expects the built-in `builder` to be stopped
/// with `why` (exit code 2), and returns how long it took.
fn stopped(t: &TestStore, args: &[&str], builder: &str, why: &str) -> Duration {
    let start = Instant::now();
    let out = t.run(&[&["build"], args].concat());
    let took = start.elapsed();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("built-in builder `{builder}`")) && err.contains(why),
        "{err}"
    );
    took
}

#[test]
fn a_build_that_writes_too_much_log_is_killed() {
    let mut t = TestStore::new();
    if t.add_busybox("a_build_that_writes_too_much_log_is_killed")
        .is_none()
    {
        return;
    }
    // Writes forever: only the limit ends it.
    let drv = t.add_drv(&t.sh_drv(
        "chatty",
        "while true; do echo 0123456789abcdef0123456789abcdef; done",
        json!({}),
    ));
    let start = Instant::now();
    let out = t.run(&["build", "--max-log-size", "1000", &drv]);
    assert!(start.elapsed() < Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("was killed after writing more than 1000 bytes of log output"),
        "{err}"
    );
    assert!(err.contains("see the build log"), "{err}");
    let log = t.ok(&["log", &drv]);
    assert_eq!(
        log.len(),
        1000,
        "the log keeps exactly the first 1000 bytes"
    );
    assert!(log.starts_with("0123456789abcdef"));
    assert!(!std::path::Path::new(&t.output(&drv)).exists());
    // Under the limit nothing happens.
    let drv = t.add_drv(&t.sh_drv("quiet", "echo 0123456789; echo done > $out", json!({})));
    t.ok(&["build", "--max-log-size", "1000", &drv]);
}

/// As in guix-daemon and Nix, a limit of 0 turns the limit off (Guix users
/// write `--max-silent-time=0`): a builder that is silent for a moment,
/// then writes more than a few bytes, is not killed by any of them.
#[test]
fn a_limit_of_zero_means_no_limit() {
    let mut t = TestStore::new();
    if t.add_busybox("a_limit_of_zero_means_no_limit").is_none() {
        return;
    }
    let script = "$bb sleep 1; i=0; while [ $i -lt 200 ]; do echo 0123456789abcdef; i=$((i+1)); done; echo ok > $out";
    for (flag, name) in [
        ("--max-silent-time", "silent-zero"),
        ("--timeout", "timeout-zero"),
        ("--max-log-size", "log-zero"),
    ] {
        let drv = t.add_drv(&t.sh_drv(name, script, json!({})));
        let out = t.run(&["build", flag, "0", &drv]);
        assert_eq!(out.status.code(), Some(0), "{flag} 0: {}", stderr(&out));
        assert_eq!(
            std::fs::read_to_string(t.output(&drv)).unwrap(),
            "ok\n",
            "{flag} 0"
        );
        let log = t.ok(&["log", &drv]);
        assert_eq!(log.len(), 200 * 17, "{flag} 0 keeps the whole log");
    }
    // A positive limit is still enforced: the same builder dies at 1000 bytes.
    let drv = t.add_drv(&t.sh_drv("log-small", script, json!({})));
    let out = t.run(&["build", "--max-log-size", "1000", &drv]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

/// `--jobs 0` is refused with clap's range message (Guix's `-M 0` means
/// "substitutes only", and abovo has none), before anything runs.
#[test]
fn zero_jobs_are_refused() {
    let t = TestStore::new();
    for arg in [["--jobs", "0"], ["-j", "0"]] {
        let out = t.run(&["build", arg[0], arg[1], "/nowhere/x.drv"]);
        assert_eq!(out.status.code(), Some(2));
        let err = stderr(&out);
        assert!(
            err.contains("--jobs") && err.contains("0 is not in 1.."),
            "{err}"
        );
    }
    let help = t.ok(&["build", "--help"]);
    for flag in ["--max-silent-time", "--timeout", "--max-log-size"] {
        let at = help.find(flag).unwrap();
        let text = &help[at..(at + 300).min(help.len())];
        assert!(text.contains("0: no limit"), "{flag}: {help}");
    }
}

#[test]
fn timeout_stops_builtin_download() {
    let t = TestStore::new();
    let drv = download_from(&t, silent_server(), "never.tar.gz");
    let took = stopped(
        &t,
        &["--timeout", "2", &drv],
        "download",
        "timed out after 2 seconds",
    );
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(10),
        "{took:?}"
    );
}

#[test]
fn timeout_stops_builtin_git_download() {
    if !have_git("timeout_stops_builtin_git_download:") {
        return;
    }
    let t = TestStore::new();
    let port = silent_server();
    let drv = git_download_from(&t, port, "never-checkout");
    let took = stopped(
        &t,
        &["--timeout", "2", &drv],
        "git-download",
        "timed out after 2 seconds",
    );
    assert!(took < Duration::from_secs(10), "{took:?}");
    // git and its remote helper were killed with their process group.
    std::thread::sleep(Duration::from_millis(200));
    let url = format!("127.0.0.1:{port}");
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
            assert!(
                !String::from_utf8_lossy(&cmd).contains(&url),
                "a git process survived: {}",
                String::from_utf8_lossy(&cmd)
            );
        }
    }
}

/// Sends the headers and a few bytes of a 1000-byte body, then nothing,
/// keeping the connection open.
fn stalling_server() -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 2048];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 1000\r\n\r\nstart");
            held.push(s);
        }
    });
    port
}

#[test]
fn max_silent_time_stops_builtins_that_make_no_progress() {
    let t = TestStore::new();
    // A download whose server stops sending after a few bytes: without
    // the limit it would wait 60 s per read and retry three times.
    let drv = download_from(&t, stalling_server(), "stalled.tar.gz");
    let took = stopped(
        &t,
        &["--max-silent-time", "1", &drv],
        "download",
        "timed out after 1 second of silence",
    );
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(8),
        "{took:?}"
    );
    assert!(!std::path::Path::new(&t.output(&drv)).exists());
    // `git` fetching from a server that never answers prints nothing.
    if !have_git("max_silent_time_stops_builtins_that_make_no_progress: git part") {
        return;
    }
    let drv = git_download_from(&t, silent_server(), "stalled-checkout");
    let took = stopped(
        &t,
        &["--max-silent-time", "2", &drv],
        "git-download",
        "timed out after 2 seconds of silence",
    );
    assert!(took < Duration::from_secs(10), "{took:?}");
}

#[test]
fn https_downloads_check_the_certificate() {
    let t = TestStore::new();
    let body = b"served over TLS\n".to_vec();
    let server = HttpsServer::start(vec![("/f.tar.gz".into(), body.clone())]);
    let ca = t.write("ca.pem", server.ca_pem.as_bytes());
    let hash = sha256_hex(&body);
    let drv = |name: &str| {
        t.add_drv(&builtin_drv(
            "download",
            name,
            "sha256",
            &hash,
            json!({"url": format!("\"{}\"", server.url("/f.tar.gz"))}),
        ))
    };
    let no_env = |args: &[&str]| {
        t.cmd(args)
            .env_remove("SSL_CERT_FILE")
            .env_remove("SSL_CERT_DIR")
            .output()
            .unwrap()
    };
    // Not trusted by the built-in roots: a clear error, nothing built.
    let untrusted = drv("untrusted.tar.gz");
    let out = no_env(&["build", &untrusted]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    for needle in [
        "TLS certificate is not trusted",
        "UnknownIssuer",
        "abovo's built-in Mozilla roots",
        "--ca-file",
        "--no-check-certificate",
    ] {
        assert!(err.contains(needle), "{needle}: {err}");
    }
    assert!(!std::path::Path::new(&t.output(&untrusted)).exists());
    // Trusted through --ca-file.
    let out = no_env(&["build", "--ca-file", ca.to_str().unwrap(), &untrusted]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read(t.output(&untrusted)).unwrap(), body);
    // Through SSL_CERT_FILE.
    let via_env = drv("via-env.tar.gz");
    let out = t
        .cmd(&["build", &via_env])
        .env("SSL_CERT_FILE", &ca)
        .env_remove("SSL_CERT_DIR")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read(t.output(&via_env)).unwrap(), body);
    // Through SSL_CERT_DIR.
    let dir = t.dir.path().join("certs");
    std::fs::create_dir(&dir).unwrap();
    std::fs::copy(&ca, dir.join("test-ca.pem")).unwrap();
    let via_dir = drv("via-dir.tar.gz");
    let out = t
        .cmd(&["build", &via_dir])
        .env_remove("SSL_CERT_FILE")
        .env("SSL_CERT_DIR", &dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // Without any check, as guix-daemon does.
    let unchecked = drv("unchecked.tar.gz");
    let out = no_env(&["build", "--no-check-certificate", &unchecked]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read(t.output(&unchecked)).unwrap(), body);
    // A CA file that is not one is named.
    let bad = t.write("bad.pem", b"not a certificate\n");
    let out = no_env(&["build", "--ca-file", bad.to_str().unwrap(), &drv("bad-ca")]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("bad.pem") && err.contains("no PEM certificate"),
        "{err}"
    );
    assert!(t.verify_consistent());
}
