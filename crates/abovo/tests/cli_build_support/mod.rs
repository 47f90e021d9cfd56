//! Shared helpers of the `cli_build*` tests: a throw-away store, busybox as
//! the builder, derivations in JSON, and a tiny HTTP server.
#![allow(dead_code, clippy::unwrap_used)] // tests: a panic is the failure report

pub mod tls;

use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
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
    /// Where the items are when `store` is only the store directory their
    /// paths name (`--real-store-dir`; see [`TestStore::guix`]).
    pub real: Option<PathBuf>,
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
        // Build directories go here, not in the shared /tmp: whatever a
        // test leaves (a killed build, a kept directory) goes with it.
        std::fs::create_dir(dir.path().join("tmp")).unwrap();
        if let Some(u) = as_user {
            std::os::unix::fs::chown(dir.path(), Some(u), Some(u)).unwrap();
            std::os::unix::fs::chown(dir.path().join("tmp"), Some(u), Some(u)).unwrap();
        }
        let store = dir.path().join("store");
        TestStore {
            dir,
            store,
            real: None,
            as_user,
            busybox: String::new(),
        }
    }

    /// A fresh store whose paths name `/gnu/store`, as Guix's, with its
    /// items in `<dir>/store` (`--real-store-dir`), run by the current user.
    pub fn guix() -> TestStore {
        TestStore::new().naming_gnu_store()
    }

    /// This store with its paths naming `/gnu/store` and its items where
    /// they were (`--real-store-dir`).
    pub fn naming_gnu_store(mut self) -> TestStore {
        self.real = Some(self.store.clone());
        self.store = PathBuf::from("/gnu/store");
        self
    }

    /// Where the items are on disk.
    pub fn real_dir(&self) -> &Path {
        self.real.as_deref().unwrap_or(&self.store)
    }

    /// The state directory (the default: next to the store).
    pub fn state(&self) -> PathBuf {
        self.dir.path().join("var/abovo")
    }

    /// `TMPDIR` of every abovo this test runs.
    pub fn tmp(&self) -> PathBuf {
        self.dir.path().join("tmp")
    }

    /// The build area of the user abovo runs as (`$TMPDIR/abovo-builds-UID`),
    /// where the directories of running builds are.
    pub fn build_area(&self) -> PathBuf {
        let uid = self.as_user.unwrap_or_else(|| {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata("/proc/self").unwrap().uid()
        });
        self.tmp().join(format!("abovo-builds-{uid}"))
    }

    /// The entries of a directory (empty when it does not exist), sorted.
    pub fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map(|d| {
                d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// `abovo ARGS` against this store.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_abovo"));
        c.args(args)
            .env("ABOVO_STORE", &self.store)
            .env_remove("ABOVO_STORE_DIR")
            .env_remove("ABOVO_REAL_STORE_DIR")
            .env_remove("ABOVO_STATE_DIR")
            .env("HOME", self.dir.path())
            .env("TMPDIR", self.tmp())
            .env("NO_COLOR", "1")
            .current_dir(self.dir.path());
        if let Some(real) = &self.real {
            c.env("ABOVO_REAL_STORE_DIR", real);
        }
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
        succeeded(args, self.run(args))
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

    /// Adds a directory of executables (name, contents) to the store as
    /// `<item>/<name>`; returns the item.
    pub fn add_tools(&self, name: &str, files: &[(&str, Vec<u8>)]) -> String {
        use std::os::unix::fs::PermissionsExt;
        let dir = self.dir.path().join(format!("tools-{name}"));
        std::fs::create_dir_all(&dir).unwrap();
        for (file, bytes) in files {
            let p = dir.join(file);
            std::fs::write(&p, bytes).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
            self.give(&p);
        }
        self.ok(&["add", "--recursive", "--name", name, dir.to_str().unwrap()])
            .trim()
            .to_owned()
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

/// The standard output of `abovo ARGS`, which must have exited with 0
/// (else the test fails with both streams).
pub fn succeeded(args: &[&str], out: Output) -> String {
    assert!(
        out.status.success(),
        "abovo {args:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
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
        HttpServer::start_on("127.0.0.1", files)
    }

    /// The same server on another address of this machine (`0.0.0.0`: all).
    pub fn start_on(ip: &str, files: Vec<(String, Vec<u8>)>) -> HttpServer {
        let listener = std::net::TcpListener::bind((ip, 0)).unwrap();
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

/// A server that accepts connections and never answers (for timeouts).
pub fn silent_server() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming() {
            held.push(s);
        }
    });
    port
}

/// A fixed-output derivation built by a built-in (`download` or
/// `git-download`); `extra` is merged in.
pub fn builtin_drv(
    builtin: &str,
    name: &str,
    hash_algo: &str,
    hash: &str,
    env: serde_json::Value,
) -> serde_json::Value {
    let mut j = serde_json::json!({
        "name": name,
        "outputs": {"out": {"hashAlgo": hash_algo, "hash": hash}},
        "system": "x86_64-linux",
        "builder": format!("builtin:{builtin}"),
        "env": {},
    });
    merge(&mut j, serde_json::json!({ "env": env }));
    j
}

/// SHA-256 of bytes in base16.
pub fn sha256_hex(data: &[u8]) -> String {
    abovo_store::Hash::sha256(abovo_store::hash::sha256(data)).to_base16()
}

/// How [`tiny_elf`] makes its one system call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abi {
    /// `syscall`, the x86_64 ABI.
    X86_64,
    /// `int 0x80`, the i386 ABI (as an `i686-linux` builder calls).
    I386,
}

/// An argument of the call in [`tiny_elf`].
#[derive(Debug, Clone, Copy)]
pub enum Arg<'a> {
    /// A number.
    Int(u32),
    /// The address of these bytes (a NUL is appended), placed in the file.
    Str(&'a str),
}

/// A static x86_64 ELF executable of a few hundred bytes that makes one
/// system call and exits with its errno (0 when it succeeded). It needs no
/// library, so it runs in any chroot; loaded at 0x400000, all its addresses
/// fit in 32 bits, so it can call through the i386 ABI too. This is how the
/// tests try calls that busybox has no applet for (setxattr) and the i386
/// ABI of an `i686-linux` builder.
pub fn tiny_elf(abi: Abi, nr: u32, args: &[Arg]) -> Vec<u8> {
    const BASE: u32 = 0x40_0000;
    const HEADERS: u32 = 64 + 56;
    // Registers of the arguments: x86_64 rdi rsi rdx r10 r8; i386 ebx ecx
    // edx esi edi. Opcode bytes of `mov r32, imm32` for each.
    let movs: [&[u8]; 5] = match abi {
        Abi::X86_64 => [&[0xbf], &[0xbe], &[0xba], &[0x41, 0xba], &[0x41, 0xb8]],
        Abi::I386 => [&[0xbb], &[0xb9], &[0xba], &[0xbe], &[0xbf]],
    };
    assert!(args.len() <= 5);
    // Code length: one mov per argument, mov eax, the call (2), neg eax
    // (2), mov edi, eax (2), mov eax, 60 (5), syscall (2).
    let code_len: u32 = args
        .iter()
        .enumerate()
        .map(|(i, _)| movs[i].len() as u32 + 4)
        .sum::<u32>()
        + 5
        + 2
        + 2
        + 2
        + 5
        + 2;
    let mut data = Vec::new();
    let mut code = Vec::new();
    for (i, a) in args.iter().enumerate() {
        let v = match a {
            Arg::Int(v) => *v,
            Arg::Str(s) => {
                let at = BASE + HEADERS + code_len + data.len() as u32;
                data.extend_from_slice(s.as_bytes());
                data.push(0);
                at
            }
        };
        code.extend_from_slice(movs[i]);
        code.extend_from_slice(&v.to_le_bytes());
    }
    code.push(0xb8);
    code.extend_from_slice(&nr.to_le_bytes());
    code.extend_from_slice(match abi {
        Abi::X86_64 => &[0x0f, 0x05],
        Abi::I386 => &[0xcd, 0x80],
    });
    code.extend_from_slice(&[0xf7, 0xd8, 0x89, 0xc7, 0xb8, 60, 0, 0, 0, 0x0f, 0x05]);
    assert_eq!(code.len() as u32, code_len);
    let total = (HEADERS as usize + code.len() + data.len()) as u64;
    let mut elf = Vec::new();
    elf.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    elf.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    elf.extend_from_slice(&0x3eu16.to_le_bytes()); // x86_64
    elf.extend_from_slice(&1u32.to_le_bytes());
    elf.extend_from_slice(&u64::from(BASE + HEADERS).to_le_bytes()); // entry
    elf.extend_from_slice(&64u64.to_le_bytes()); // program headers
    elf.extend_from_slice(&0u64.to_le_bytes()); // no section headers
    elf.extend_from_slice(&0u32.to_le_bytes());
    for v in [64u16, 56, 1, 64, 0, 0] {
        elf.extend_from_slice(&v.to_le_bytes());
    }
    elf.extend_from_slice(&1u32.to_le_bytes()); // PT_LOAD
    elf.extend_from_slice(&5u32.to_le_bytes()); // R + X
    elf.extend_from_slice(&0u64.to_le_bytes());
    elf.extend_from_slice(&u64::from(BASE).to_le_bytes());
    elf.extend_from_slice(&u64::from(BASE).to_le_bytes());
    elf.extend_from_slice(&total.to_le_bytes());
    elf.extend_from_slice(&total.to_le_bytes());
    elf.extend_from_slice(&0x1000u64.to_le_bytes());
    assert_eq!(elf.len() as u32, HEADERS);
    elf.extend_from_slice(&code);
    elf.extend_from_slice(&data);
    elf
}

/// Which standard stream of a command [`run_on_terminal`] connects to a
/// pseudo-terminal.
pub enum OnTerminal {
    /// Standard output (standard error is piped).
    Stdout,
    /// Standard error (standard output is piped).
    Stderr,
}

/// Runs `command` with one stream on a pseudo-terminal and returns its exit
/// status and every byte the terminal received (the terminal turns `\n`
/// into `\r\n`: those pairs are given back as `\n`).
pub fn run_on_terminal(
    mut command: Command,
    stream: OnTerminal,
) -> (std::process::ExitStatus, Vec<u8>) {
    use rustix::pty::OpenptFlags;
    let master = rustix::pty::openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).unwrap();
    rustix::pty::grantpt(&master).unwrap();
    rustix::pty::unlockpt(&master).unwrap();
    let name = rustix::pty::ptsname(&master, Vec::new()).unwrap();
    let slave = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(std::ffi::OsStr::from_bytes(name.to_bytes()))
        .unwrap();
    let slave = std::process::Stdio::from(slave);
    match stream {
        OnTerminal::Stdout => command.stdout(slave).stderr(std::process::Stdio::piped()),
        OnTerminal::Stderr => command.stderr(slave).stdout(std::process::Stdio::piped()),
    };
    let mut child = command.spawn().unwrap();
    // Once the child exits, the command held the only other copy of the
    // terminal's end: reading the master ends (EIO).
    drop(command);
    let mut master = std::fs::File::from(master);
    let reader = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = master.read(&mut buf) {
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
        }
        seen
    });
    let status = child.wait().unwrap();
    drop(child);
    let seen = reader.join().unwrap();
    let mut text = Vec::with_capacity(seen.len());
    for (i, &b) in seen.iter().enumerate() {
        if !(b == b'\r' && seen.get(i + 1) == Some(&b'\n')) {
            text.push(b);
        }
    }
    (status, text)
}

/// A static x86_64 executable compiled from C `source` by the host's `cc`
/// (`-static`, so it runs in a chroot without a C library), or `None` after
/// printing one line saying the test is skipped. For the few programs a
/// test needs that busybox cannot be and that are too long for
/// [`tiny_elf`] (passing descriptors over a Unix socket).
pub fn c_program(test: &str, name: &str, source: &str) -> Option<Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join(format!("{name}.c"));
    let exe = dir.path().join(name);
    std::fs::write(&src, source).unwrap();
    let out = Command::new("cc")
        .args(["-static", "-O1", "-Wall", "-o"])
        .arg(&exe)
        .arg(&src)
        .output();
    match out {
        Ok(o) if o.status.success() => Some(std::fs::read(&exe).unwrap()),
        Ok(o) => {
            eprintln!(
                "{test}: skipped: `cc -static` failed (Debian: apt-get install gcc libc6-dev; .ci/run installs them):\n{}",
                String::from_utf8_lossy(&o.stderr)
            );
            None
        }
        Err(e) => {
            eprintln!(
                "{test}: skipped: no C compiler `cc` ({e}; Debian: apt-get install gcc libc6-dev; .ci/run installs them)"
            );
            None
        }
    }
}
