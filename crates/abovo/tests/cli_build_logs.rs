//! Build logs as guix-daemon keeps them: `drvs/XX/REST[.gz|.bz2]`, gzip by
//! default, `--log-compression`, and `abovo log --log-dir` on a directory
//! laid out as Guix's `/var/log/guix`.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod cli_build_support;

use cli_build_support::{OnTerminal, TestStore, run_on_terminal};
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};

/// `<state>/log/drvs/XX/REST` for a `.drv` path.
fn log_base(t: &TestStore, drv: &str) -> PathBuf {
    let name = Path::new(drv).file_name().unwrap().to_str().unwrap();
    t.state().join("log/drvs").join(&name[..2]).join(&name[2..])
}

fn with_ext(base: &Path, ext: &str) -> PathBuf {
    PathBuf::from(format!("{}{ext}", base.display()))
}

#[test]
fn logs_are_written_as_guix_daemon_writes_them() {
    let mut t = TestStore::new();
    if t.add_busybox("logs_are_written_as_guix_daemon_writes_them")
        .is_none()
    {
        return;
    }
    let drv = t.add_drv(&t.sh_drv(
        "logged",
        "echo round $($bb cat /proc/sys/kernel/random/uuid); echo same > $out",
        json!({}),
    ));
    let base = log_base(&t, &drv);
    // Default: gzip, like guix-daemon.
    t.ok(&["build", &drv]);
    let gz = with_ext(&base, ".gz");
    assert!(std::fs::read(&gz).unwrap().starts_with(&[0x1f, 0x8b]));
    let first = t.ok(&["log", &drv]);
    assert!(first.starts_with("round "), "{first}");
    // bzip2: the gzip log of the earlier build is replaced.
    t.ok(&["build", "--check", "--log-compression", "bzip2", &drv]);
    let bz2 = with_ext(&base, ".bz2");
    assert!(std::fs::read(&bz2).unwrap().starts_with(b"BZh"));
    assert!(!gz.exists(), "one log per derivation");
    let second = t.ok(&["log", &drv]);
    assert!(second.starts_with("round ") && second != first, "{second}");
    // none: plain text, and `abovo log` also takes the output path.
    t.ok(&["build", "--check", "--log-compression", "none", &drv]);
    let plain = std::fs::read_to_string(&base).unwrap();
    assert!(!bz2.exists());
    assert_eq!(t.ok(&["log", &t.output(&drv)]), plain);
    // A failed build names its log, with the extension it was written with.
    let bad = t.add_drv(&t.sh_drv("bad", "echo doomed; exit 3", json!({})));
    let out = t.run(&["build", "--log-compression", "bzip2", &bad]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    let bad_log = with_ext(&log_base(&t, &bad), ".bz2");
    assert!(
        err.contains(&format!("see the build log: {}", bad_log.display())),
        "{err}"
    );
    assert_eq!(t.ok(&["log", &bad]), "doomed\n");
}

/// A directory laid out as Guix's /var/log/guix, with one log of each kind.
fn guix_log_dir(root: &Path, logs: &[(&str, &str, &[u8])]) -> PathBuf {
    let dir = root.join("var/log/guix");
    for (base, ext, text) in logs {
        let file = dir
            .join("drvs")
            .join(&base[..2])
            .join(format!("{}{ext}", &base[2..]));
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        let bytes = match *ext {
            ".gz" => system_tools::gzip(text),
            ".bz2" => system_tools::bzip2(text),
            _ => text.to_vec(),
        };
        std::fs::write(&file, bytes).unwrap();
    }
    dir
}

/// Compressors through the system's own tools (gzip and bzip2 as Guix runs
/// them would write), so the test does not read back its own writer.
mod system_tools {
    use std::io::Write;
    use std::process::{Command, Stdio};

    fn through(tool: &str, data: &[u8]) -> Vec<u8> {
        let mut child = Command::new(tool)
            .arg("-c")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{tool}: {e}"));
        child.stdin.take().unwrap().write_all(data).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        out.stdout
    }

    pub fn gzip(data: &[u8]) -> Vec<u8> {
        through("gzip", data)
    }

    pub fn bzip2(data: &[u8]) -> Vec<u8> {
        through("bzip2", data)
    }
}

fn have(tool: &str) -> bool {
    std::process::Command::new(tool)
        .arg("--help")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok()
}

#[test]
fn abovo_log_reads_a_guix_log_directory() {
    if !have("gzip") || !have("bzip2") {
        eprintln!("abovo_log_reads_a_guix_log_directory: skipped: needs gzip and bzip2");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let hello = "0n3cqz8fjh3fs1ywvsvmk5g6mf3ggnh7-hello-2.12.1.drv";
    let make = "1ksdh7lyyilyxjzncp6f8g9hmcld5gbs-make-4.4.1.drv";
    let sed = "2ab8hn1yxzvx7p3kmz3hrpbpf3aac4wq-sed-4.9.drv";
    let dir = guix_log_dir(
        tmp.path(),
        &[
            (hello, ".gz", b"starting phase `configure'\nhello built\n"),
            (make, ".bz2", b"make built\n"),
            (sed, "", b"sed built\n"),
        ],
    );
    // No store is opened: the store directory named by the environment
    // must not appear.
    let unused_store = tmp.path().join("unused/store");
    let log = |item: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_abovo"))
            .args(["log", "--log-dir", dir.to_str().unwrap(), item])
            .env("ABOVO_STORE", &unused_store)
            .env_remove("ABOVO_STATE_DIR")
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    };
    for (item, want) in [
        (
            format!("/gnu/store/{hello}"),
            "starting phase `configure'\nhello built\n",
        ),
        (format!("/gnu/store/{make}"), "make built\n"),
        (sed.to_owned(), "sed built\n"),
    ] {
        let out = log(&item);
        assert!(
            out.status.success(),
            "{item}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8(out.stdout).unwrap(), want, "{item}");
    }
    assert!(!tmp.path().join("unused").exists(), "no store was created");
    // A missing log names where it looked; an output path is refused.
    let missing = "3zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-gone-1.0.drv";
    let out = log(&format!("/gnu/store/{missing}"));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no build log")
            && err.contains("drvs/3z/zzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-gone-1.0.drv"),
        "{err}"
    );
    let out = log("/gnu/store/0n3cqz8fjh3fs1ywvsvmk5g6mf3ggnh7-hello-2.12.1");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not a derivation"), "{err}");
    let out = log("/gnu/store/not-a-store-path");
    assert_eq!(out.status.code(), Some(2));
    // A corrupt gzip log is an error that names the file.
    let broken = "4aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-broken-1.drv";
    let file = dir.join("drvs/4a").join(format!("{}.gz", &broken[2..]));
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let mut f = std::fs::File::create(&file).unwrap();
    f.write_all(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff])
        .unwrap();
    drop(f);
    let out = log(broken);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot read the build log") && err.contains("broken-1.drv.gz"),
        "{err}"
    );
}

/// A builder's log with escape sequences: `abovo log` writes it byte for
/// byte to a pipe (a log is data), and to a terminal (a pseudo-terminal
/// here) without the sequences that set the title, clear the screen or
/// move the cursor, keeping its colours.
#[test]
fn abovo_log_strips_escapes_only_on_a_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let drv = "5bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-noisy-1.0.drv";
    let log: &[u8] = b"\x1b]0;owned title\x07\x1b[2J\x1b[Hstarting\r\n\
        \x1b[1;32mgreen\x1b[0m ok\n\x1bc\xc2\x9b31m\x1b[?1049hdone \xff\n";
    let dir = guix_log_dir(tmp.path(), &[(drv, "", log)]);
    let command = || {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_abovo"));
        c.args(["log", "--log-dir", dir.to_str().unwrap(), drv])
            .env_remove("ABOVO_STATE_DIR")
            .env("NO_COLOR", "1");
        c
    };
    // To a pipe: unchanged.
    let out = command().output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, log);
    // To a terminal: the colours stay, the rest of the sequences go.
    let (status, text) = run_on_terminal(command(), OnTerminal::Stdout);
    assert!(status.success());
    assert_eq!(
        text,
        b"starting\r\n\x1b[1;32mgreen\x1b[0m ok\n31mdone \xff\n",
        "{}",
        String::from_utf8_lossy(&text)
    );
}
