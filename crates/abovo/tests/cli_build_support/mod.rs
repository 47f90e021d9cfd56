//! Shared helpers of the `cli_build*` tests: a throw-away store, busybox as
//! the builder, derivations in JSON, and a tiny HTTP server.
#![allow(dead_code, clippy::unwrap_used)] // tests: a panic is the failure report

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The busybox the tests build with, or `None` (after printing one line
/// saying the test is skipped).
pub fn busybox(test: &str) -> Option<PathBuf> {
    let p = Path::new("/bin/busybox");
    if p.exists() {
        Some(p.to_owned())
    } else {
        eprintln!(
            "{test}: skipped: /bin/busybox is missing (Debian: apt-get install busybox-static; .ci/run installs it)"
        );
        None
    }
}

/// A store in a temporary directory, used through the real `abovo` binary.
pub struct TestStore {
    pub dir: tempfile::TempDir,
    pub store: PathBuf,
    /// Run abovo as this uid/gid (rootless tests).
    pub as_user: Option<u32>,
    /// `<store>/…-busybox-static`, once added.
    pub busybox: String,
}

impl TestStore {
    /// A fresh store run by the current user.
    pub fn new() -> TestStore {
        TestStore::with_user(None)
    }

    /// A fresh store owned and run by `uid` (gid = uid).
    pub fn with_user(as_user: Option<u32>) -> TestStore {
        let dir = tempfile::Builder::new()
            .prefix("abovo-test-")
            .tempdir_in("/tmp")
            .unwrap();
        if let Some(u) = as_user {
            std::os::unix::fs::chown(dir.path(), Some(u), Some(u)).unwrap();
        }
        let store = dir.path().join("store");
        TestStore {
            dir,
            store,
            as_user,
            busybox: String::new(),
        }
    }

    /// The state directory (the default: next to the store).
    pub fn state(&self) -> PathBuf {
        self.dir.path().join("var/abovo")
    }

    /// `abovo ARGS` against this store.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_abovo"));
        c.args(args)
            .env("ABOVO_STORE_DIR", &self.store)
            .env_remove("ABOVO_STATE_DIR")
            .env("HOME", self.dir.path())
            .env("NO_COLOR", "1")
            .current_dir(self.dir.path());
        if let Some(u) = self.as_user {
            c.uid(u).gid(u);
        }
        c
    }

    /// Runs `abovo ARGS`.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// Runs `abovo ARGS`, expects exit 0, returns standard output.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "abovo {args:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// A file or directory inside the test directory, owned by the test user.
    pub fn write(&self, rel: &str, contents: &[u8]) -> PathBuf {
        let p = self.dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, contents).unwrap();
        self.give(&p);
        p
    }

    /// Hands a path to the test user (rootless tests).
    pub fn give(&self, p: &Path) {
        if let Some(u) = self.as_user {
            let mut cur = p.to_owned();
            while cur.starts_with(self.dir.path()) && cur != self.dir.path() {
                std::os::unix::fs::chown(&cur, Some(u), Some(u)).unwrap();
                cur = cur.parent().unwrap().to_owned();
            }
        }
    }

    /// Adds busybox (as `<item>/busybox`) to the store; `None` when the
    /// machine has no busybox.
    pub fn add_busybox(&mut self, test: &str) -> Option<String> {
        let bb = busybox(test)?;
        let seed = self.dir.path().join("seed");
        std::fs::create_dir_all(&seed).unwrap();
        std::fs::copy(bb, seed.join("busybox")).unwrap();
        self.give(&seed.join("busybox"));
        let out = self.ok(&[
            "add",
            "--recursive",
            "--name",
            "busybox-static",
            seed.to_str().unwrap(),
        ]);
        self.busybox = out.trim().to_owned();
        Some(self.busybox.clone())
    }

    /// The busybox binary in the store.
    pub fn bb(&self) -> String {
        format!("{}/busybox", self.busybox)
    }

    /// Adds a derivation (JSON) and returns its `.drv` path.
    pub fn add_drv(&self, json: &serde_json::Value) -> String {
        let file = format!("drv-{}.json", COUNTER.fetch_add(1, Ordering::Relaxed));
        let p = self.write(
            &file,
            serde_json::to_string_pretty(json).unwrap().as_bytes(),
        );
        self.ok(&["derivation", "add", p.to_str().unwrap()])
            .trim()
            .to_owned()
    }

    /// A derivation `name` whose builder is `busybox sh -c SCRIPT`, with
    /// `$bb` set to busybox; `extra` is merged into the JSON (inputs,
    /// outputs, env).
    pub fn sh_drv(&self, name: &str, script: &str, extra: serde_json::Value) -> serde_json::Value {
        let mut j = serde_json::json!({
            "name": name,
            "outputs": {"out": {}},
            "inputSrcs": [self.busybox],
            "system": "x86_64-linux",
            "builder": self.bb(),
            "args": ["sh", "-c", script],
            "env": {"bb": self.bb()},
        });
        merge(&mut j, extra);
        j
    }

    /// The absolute path of output `out` of a `.drv` in the store.
    pub fn output(&self, drv: &str) -> String {
        let j: serde_json::Value = serde_json::from_str(&self.ok(&[
            "show",
            "-f",
            "json",
            "--store-dir",
            self.store.to_str().unwrap(),
            drv,
        ]))
        .unwrap();
        j["outputs"]["out"]["path"].as_str().unwrap().to_owned()
    }

    /// `abovo store info -f json` of one item.
    pub fn info(&self, path: &str) -> serde_json::Value {
        let j: serde_json::Value =
            serde_json::from_str(&self.ok(&["store", "info", "-f", "json", path])).unwrap();
        j[0].clone()
    }

    /// Whether `abovo store verify` finds the store consistent.
    pub fn verify_consistent(&self) -> bool {
        let out = self.run(&["store", "verify", "-f", "json"]);
        let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        if !out.status.success() {
            eprintln!("verify: {}", serde_json::to_string_pretty(&j).unwrap());
        }
        out.status.success() && j["consistent"] == true
    }
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Merges `extra` into `base` (objects recursively, arrays appended).
pub fn merge(base: &mut serde_json::Value, extra: serde_json::Value) {
    match (base, extra) {
        (serde_json::Value::Object(b), serde_json::Value::Object(e)) => {
            for (k, v) in e {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (serde_json::Value::Array(b), serde_json::Value::Array(e)) => b.extend(e),
        (slot, v) => *slot = v,
    }
}

/// A minimal HTTP/1.0 server on 127.0.0.1 serving `files` (path → bytes);
/// counts the connections it accepted.
pub struct HttpServer {
    pub port: u16,
    pub hits: Arc<AtomicUsize>,
}

impl HttpServer {
    pub fn start(files: Vec<(String, Vec<u8>)>) -> HttpServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(AtomicUsize::new(0));
        let h = hits.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut s) = stream else { continue };
                h.fetch_add(1, Ordering::SeqCst);
                let mut buf = [0u8; 4096];
                let n = s.read(&mut buf).unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]);
                let path = req.split_whitespace().nth(1).unwrap_or("/").to_owned();
                match files.iter().find(|(p, _)| *p == path) {
                    Some((_, body)) => {
                        let _ = write!(
                            s,
                            "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n",
                            body.len()
                        );
                        let _ = s.write_all(body);
                    }
                    None => {
                        let _ = s.write_all(b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n");
                    }
                }
            }
        });
        HttpServer { port, hits }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

/// SHA-256 of bytes in base16.
pub fn sha256_hex(data: &[u8]) -> String {
    abovo_store::Hash::sha256(abovo_store::hash::sha256(data)).to_base16()
}
