//! The real Remote Execution API server of the `cli_build_remote*` tests:
//! buildbox-casd with local execution through its bubblewrap runner, on a
//! free port of 127.0.0.1 (docs/remote.md, "Testing with a real server").
#![allow(dead_code, clippy::unwrap_used)] // tests: a panic is the failure report

use crate::cli_build_support::TestStore;
use serde_json::json;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A buildbox-casd serving CAS, ActionCache and Execute on 127.0.0.1,
/// killed when dropped.
pub struct Casd {
    child: Child,
    port: u16,
    cache: tempfile::TempDir,
    /// Its `TMPDIR`: buildbox-casd leaves a directory there for each
    /// action it runs (`buildboxXXXXXX`: the action, its result and
    /// output), which go with the test's own directory instead of
    /// piling up in /tmp.
    _scratch: tempfile::TempDir,
}

impl Casd {
    /// Starts one, or `None` (after one line saying the test is skipped).
    pub fn start(test: &str) -> Option<Casd> {
        let Some(dir) = std::env::var_os("ABOVO_BUILDBOX").map(PathBuf::from) else {
            eprintln!(
                "{test}: skipped: ABOVO_BUILDBOX is not set (scripts/install-buildbox.sh DIR installs buildbox-casd; .ci/run does)"
            );
            return None;
        };
        if !dir.join("buildbox-casd").exists()
            || Command::new("bwrap").arg("--version").output().is_err()
        {
            eprintln!(
                "{test}: skipped: no buildbox-casd in {} or no bwrap",
                dir.display()
            );
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cache = tempfile::tempdir().unwrap();
        let scratch = tempfile::tempdir().unwrap();
        let child = Command::new(dir.join("buildbox-casd"))
            .arg(format!(
                "--buildbox-run={}",
                dir.join("buildbox-run").display()
            ))
            .arg(format!("--bind=127.0.0.1:{port}"))
            .arg("--jobs=4")
            .arg(cache.path())
            .env("TMPDIR", scratch.path())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let casd = Casd {
            child,
            port,
            cache,
            _scratch: scratch,
        };
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "buildbox-casd did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(casd)
    }

    pub fn url(&self) -> String {
        format!("grpc://127.0.0.1:{}", self.port)
    }

    /// Its storage directory.
    pub fn cache(&self) -> &std::path::Path {
        self.cache.path()
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Casd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A chain of three derivations (each reads the previous output), one
/// output of each kind (a directory with an executable, a symlink and a
/// subdirectory; a single file), as `.drv` paths, the last first.
pub fn chain(t: &TestStore) -> Vec<String> {
    let a = t.add_drv(&t.sh_drv(
        "remote-a",
        "$bb mkdir -p $out/bin $out/share/doc; echo 'echo from a' > $out/bin/a; $bb chmod +x $out/bin/a; \
         $bb ln -s bin/a $out/link; echo $out > $out/share/doc/self",
        json!({}),
    ));
    let a_out = t.output(&a);
    let b = t.add_drv(&t.sh_drv(
        "remote-b",
        &format!("$bb cat {a_out}/share/doc/self > $out; echo \"$PWD $HOME\" >> $out"),
        json!({"inputDrvs": {&a: ["out"]}}),
    ));
    let b_out = t.output(&b);
    let c = t.add_drv(&t.sh_drv(
        "remote-c",
        &format!("$bb mkdir $out; $bb cp {b_out} $out/b; $bb sh {a_out}/bin/a > $out/a"),
        json!({"inputDrvs": {&b: ["out"], &a: ["out"]}}),
    ));
    vec![c, b, a]
}

/// A store with busybox, or `None` when the machine has none.
pub fn store(test: &str) -> Option<TestStore> {
    let mut t = TestStore::new();
    t.add_busybox(test)?;
    Some(t)
}

/// A fresh store whose paths name `/gnu/store` (its items elsewhere), with
/// busybox: two of them give the same derivations the same paths, hence
/// the same actions, so the second asks for what the ActionCache holds.
pub fn guix_store(test: &str) -> Option<TestStore> {
    let mut t = TestStore::guix();
    t.add_busybox(test)?;
    Some(t)
}

/// `n` independent trivial derivations (a directory with a file and a
/// relative symlink), as `.drv` paths.
pub fn trivial(t: &TestStore, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            t.add_drv(&t.sh_drv(
                &format!("trivial-{i}"),
                &format!("$bb mkdir $out; echo {i} > $out/n; $bb ln -s n $out/link"),
                json!({}),
            ))
        })
        .collect()
}

/// A command's standard error.
pub fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
