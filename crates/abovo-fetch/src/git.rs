//! `builtin:git-download`: a checkout of one commit, without `.git`.
//!
//! The derivation carries `url` (a Scheme string), `commit` (a commit id or
//! a tag) and `recursive?` (`#t` to include submodules). abovo runs the
//! host's `git` (the one on its `PATH`) with a clean environment and no user
//! or system configuration: a shallow fetch of the commit, falling back to a
//! full fetch when the server refuses fetching by id; a checkout; the
//! submodules when asked; then every `.git` directory and file is removed,
//! as Guix's `git-fetch` does. The result is a fixed output like any other:
//! its NAR hash decides whether it is accepted, so which `git` produced it
//! does not matter.

use crate::deadline::Deadline;
use crate::download::url_list;
use abovo_store::derivation::Derivation;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Checks out the commit of a `builtin:git-download` derivation at `target`;
/// `git` is killed (with everything it started) at `deadline`.
pub fn run(
    drv: &Derivation,
    target: &Path,
    deadline: Deadline,
    log: &mut dyn FnMut(&[u8]),
) -> Result<(), String> {
    let urls = url_list(drv)?;
    let url = urls.first().ok_or("the derivation has no `url`")?;
    let commit = drv
        .env_str("commit")
        .filter(|c| !c.is_empty())
        .ok_or("the derivation has no `commit`")?;
    let recursive = drv.env_str("recursive?") == Some("#t");
    let home = tempfile_dir(target)?;
    let git = |args: &[&str], log: &mut dyn FnMut(&[u8])| -> Result<bool, String> {
        log(format!("git {}\n", args.join(" ")).as_bytes());
        let mut cmd = Command::new("git");
        cmd.args(["-c", "safe.directory=*", "-c", "protocol.file.allow=always"])
            .args(args)
            .current_dir(target)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_TERMINAL_PROMPT", "0")
            .stdin(Stdio::null())
            // Its own process group, so a timeout kills the helpers it
            // starts (git-remote-http, ssh) too.
            .process_group(0);
        let (ok, output) = run_until(cmd, deadline)?;
        log(&output);
        Ok(ok)
    };
    std::fs::create_dir(target)
        .map_err(|e| format!("cannot create `{}`: {e}", target.display()))?;
    let result = (|| {
        if !git(&["init", "-q"], log)? || !git(&["remote", "add", "origin", url], log)? {
            return Err(format!("cannot set up a repository for `{url}`"));
        }
        // `--progress` even though the output is not a terminal: progress
        // is what tells a slow fetch from a stalled one (--max-silent-time).
        let shallow = git(
            &["fetch", "--progress", "--depth", "1", "origin", commit],
            log,
        )?;
        let rev = if shallow {
            "FETCH_HEAD".to_owned()
        } else {
            if !git(&["fetch", "--progress", "--tags", "origin"], log)? {
                return Err(format!("cannot fetch from `{url}`"));
            }
            commit.to_owned()
        };
        if !git(
            &["-c", "advice.detachedHead=false", "checkout", "-q", &rev],
            log,
        )? {
            return Err(format!("commit `{commit}` not found in `{url}`"));
        }
        if recursive && !git(&["submodule", "update", "--init", "--recursive"], log)? {
            return Err(format!("cannot fetch the submodules of `{url}`"));
        }
        remove_git_metadata(target)
    })();
    let _ = std::fs::remove_dir_all(&home);
    result
}

/// Runs `cmd` with its standard output and error in a temporary file,
/// killing its process group at `deadline`, or when it has printed nothing
/// for the deadline's silence limit; returns whether it succeeded and what
/// it printed.
fn run_until(mut cmd: Command, deadline: Deadline) -> Result<(bool, Vec<u8>), String> {
    use std::io::{Read, Seek};
    let mut out = tempfile_anon()?;
    let err = out
        .try_clone()
        .map_err(|e| format!("cannot duplicate a descriptor: {e}"))?;
    let mut child = cmd
        .stdout(
            out.try_clone()
                .map_err(|e| format!("cannot duplicate a descriptor: {e}"))?,
        )
        .stderr(err)
        .spawn()
        .map_err(|e| format!("cannot run the host's `git`: {e}"))?;
    let kill = |child: &mut std::process::Child| {
        // The process group `git` leads (`process_group(0)`): its remote
        // helpers go with it. ESRCH: it is gone already.
        if let Some(group) = i32::try_from(child.id())
            .ok()
            .and_then(rustix::process::Pid::from_raw)
        {
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        }
        let _ = child.wait();
    };
    let mut printed = 0;
    let mut quiet_since = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if deadline.passed() => {
                kill(&mut child);
                return Err(deadline.message());
            }
            Ok(None) => {
                let now = out.metadata().map_or(printed, |m| m.len());
                if now != printed {
                    printed = now;
                    quiet_since = Instant::now();
                } else if deadline.silent_too_long(quiet_since) {
                    kill(&mut child);
                    return Err(deadline.silence_message());
                }
                std::thread::sleep(deadline.cap(Duration::from_millis(20)));
            }
            Err(e) => return Err(format!("cannot wait for `git`: {e}")),
        }
    };
    let mut output = Vec::new();
    out.rewind()
        .and_then(|()| out.read_to_end(&mut output))
        .map_err(|e| format!("cannot read the output of `git`: {e}"))?;
    Ok((status.success(), output))
}

/// An unnamed temporary file: created in the system's temporary directory
/// and deleted at once.
fn tempfile_anon() -> Result<std::fs::File, String> {
    let dir = std::env::temp_dir();
    let path = dir.join(format!(
        ".abovo-git-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| format!("cannot create `{}`: {e}", path.display()))?;
    let _ = std::fs::remove_file(&path);
    Ok(file)
}

/// A scratch HOME next to the target, so that no user configuration
/// applies.
fn tempfile_dir(target: &Path) -> Result<std::path::PathBuf, String> {
    let mut s = target.as_os_str().to_owned();
    s.push(".git-home");
    let p = std::path::PathBuf::from(s);
    std::fs::create_dir_all(&p).map_err(|e| format!("cannot create `{}`: {e}", p.display()))?;
    Ok(p)
}

/// Removes `.git` directories and files at every depth.
fn remove_git_metadata(dir: &Path) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
        let path = entry.path();
        let ft = entry
            .file_type()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if entry.file_name() == ".git" {
            // git's own files: writable directories, so removal needs no
            // change of mode.
            let removed = if ft.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            removed.map_err(|e| format!("cannot remove `{}`: {e}", path.display()))?;
        } else if ft.is_dir() {
            remove_git_metadata(&path)?;
        }
    }
    Ok(())
}
