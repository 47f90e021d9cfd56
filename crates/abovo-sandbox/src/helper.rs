//! The single-threaded helper: reads a [`SandboxSpec`] on standard input,
//! clones the sandbox's first process into new namespaces, writes its uid
//! and gid maps, lets it go, waits for it and ends the way it ended (same
//! exit code, or killed by the same signal).
//!
//! [`main`] is the whole program; the `abovo` binary runs it as `abovo
//! __sandbox-helper`, and this crate ships it as `abovo-sandbox-helper`.

use crate::error::{SetupError, Step};
use crate::spec::SandboxSpec;
use crate::sys::{self, Forked};
use crate::{GUEST_GID, GUEST_UID};
use std::fs::File;
use std::io::{Read, Write};

/// The descriptor of the status pipe in the helper.
pub const STATUS_FD: i32 = 3;

/// Runs the helper and exits; never returns.
pub fn main() -> ! {
    let mut status = match sys::status_pipe(STATUS_FD) {
        Ok(f) => f,
        Err(e) => {
            // Nobody to tell but standard error, which is the build log.
            eprintln!(
                "abovo sandbox helper: descriptor {STATUS_FD} is not the status pipe ({e}); \
                 this program is started by abovo"
            );
            sys::exit_now(2)
        }
    };
    match helper(&mut status) {
        Ok(never) => match never {},
        Err(e) => {
            // If even this fails, the caller sees a helper that ended without
            // a word, and says so.
            let _ = status.write_all(e.to_line().as_bytes());
            sys::exit_now(1)
        }
    }
}

fn helper(status: &mut File) -> Result<std::convert::Infallible, SetupError> {
    let spec = read_spec()?;
    builder_stdin_is_dev_null()?;
    if rustix::process::geteuid().is_root() {
        drop_supplementary_groups()?;
    }
    // Compiled here, where an error can still be reported plainly; the
    // sandbox installs it just before it executes the builder.
    let filter = if spec.filter_syscalls {
        Some(
            crate::seccomp::Filter::for_host()
                .map_err(|e| SetupError::new(Step::CompileFilter, e.to_string()))?,
        )
    } else {
        None
    };
    let (go_r, go_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| SetupError::os(Step::GoPipe, "cannot create a pipe", e))?;
    let mut flags = libc::CLONE_NEWUSER
        | libc::CLONE_NEWNS
        | libc::CLONE_NEWPID
        | libc::CLONE_NEWIPC
        | libc::CLONE_NEWUTS;
    if !spec.network {
        flags |= libc::CLONE_NEWNET;
    }
    let pid = match sys::clone_into_namespaces(flags) {
        Err(e) => {
            return Err(SetupError::os(
                Step::Clone,
                format!(
                    "clone with new user, mount, PID, IPC, UTS{} namespaces failed",
                    if spec.network { "" } else { " and network" }
                ),
                e,
            ));
        }
        Ok(Forked::Child) => {
            drop(go_w);
            let err = match crate::child::run(&spec, filter.as_ref(), go_r) {
                Ok(never) => match never {},
                Err(e) => e,
            };
            // The status pipe is the only way to say it; if it is gone, the
            // caller reports a helper that ended without a word.
            let _ = status.write_all(err.to_line().as_bytes());
            sys::exit_now(1)
        }
        Ok(Forked::Parent(pid)) => pid,
    };
    drop(go_r);
    let started = status
        .write_all(format!("pid {pid}\n").as_bytes())
        .and_then(|()| status.flush());
    let maps = started
        .map_err(|e| SetupError::os(Step::IdMaps, "cannot write to the status pipe", e))
        .and_then(|()| write_id_maps(pid, &spec));
    if let Err(e) = maps {
        kill(pid);
        return Err(e);
    }
    let mut go = File::from(go_w);
    if let Err(e) = go.write_all(b"go\n") {
        kill(pid);
        return Err(SetupError::os(
            Step::IdMaps,
            "cannot let the sandbox start",
            e,
        ));
    }
    drop(go);
    // From here on only the sandbox holds the status pipe; it closes on
    // exec, which tells the caller the builder runs.
    drop(std::mem::replace(status, devnull()?));
    wait_and_mirror(pid)
}

/// Step: the spec, as JSON on standard input.
fn read_spec() -> Result<SandboxSpec, SetupError> {
    let mut input = Vec::new();
    std::io::stdin()
        .read_to_end(&mut input)
        .map_err(|e| SetupError::os(Step::ReadSpec, "cannot read the sandbox spec", e))?;
    serde_json::from_slice(&input)
        .map_err(|e| SetupError::new(Step::ReadSpec, format!("invalid sandbox spec: {e}")))
}

/// Step: the builder's standard input (and the helper's) is `/dev/null`.
fn builder_stdin_is_dev_null() -> Result<(), SetupError> {
    let devnull = devnull()?;
    rustix::stdio::dup2_stdin(&devnull)
        .map_err(|e| SetupError::os(Step::Stdin, "cannot make /dev/null standard input", e))
}

fn devnull() -> Result<File, SetupError> {
    File::open("/dev/null").map_err(|e| SetupError::os(Step::Stdin, "cannot open /dev/null", e))
}

/// Step: root's supplementary groups must not follow the builder. Inside a
/// user namespace that denies `setgroups` this fails with `EPERM`, and the
/// groups are unmapped in the sandbox anyway.
fn drop_supplementary_groups() -> Result<(), SetupError> {
    match rustix::thread::set_thread_groups(&[]) {
        Ok(()) | Err(rustix::io::Errno::PERM) => Ok(()),
        Err(e) => Err(SetupError::os(
            Step::DropGroups,
            "cannot drop the supplementary groups",
            e,
        )),
    }
}

/// Step: guest 30001/30000 map to the host ids of the spec; `setgroups`
/// is denied, as an unprivileged process must before writing a gid map.
fn write_id_maps(pid: i32, spec: &SandboxSpec) -> Result<(), SetupError> {
    for (file, text) in [
        ("uid_map", format!("{GUEST_UID} {} 1", spec.host_uid)),
        ("setgroups", "deny".to_owned()),
        ("gid_map", format!("{GUEST_GID} {} 1", spec.host_gid)),
    ] {
        let path = format!("/proc/{pid}/{file}");
        std::fs::write(&path, &text).map_err(|e| {
            SetupError::os(
                Step::IdMaps,
                format!("cannot set up the build user: write `{text}` to {path}"),
                e,
            )
        })?;
    }
    Ok(())
}

fn kill(pid: i32) {
    if let Some(pid) = rustix::process::Pid::from_raw(pid) {
        // ESRCH: it died already, which is what was wanted.
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
    }
}

/// Waits for the sandbox and leaves the way it left.
fn wait_and_mirror(pid: i32) -> Result<std::convert::Infallible, SetupError> {
    let Some(pid) = rustix::process::Pid::from_raw(pid) else {
        return Err(SetupError::new(Step::Clone, format!("invalid PID {pid}")));
    };
    loop {
        match rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty()) {
            Ok(Some((_, status))) => {
                if let Some(code) = status.exit_status() {
                    sys::exit_now(code);
                }
                if let Some(signal) = status.terminating_signal() {
                    sys::die_of(signal);
                }
            }
            Ok(None) | Err(rustix::io::Errno::INTR) => continue,
            Err(e) => {
                return Err(SetupError::os(
                    Step::Clone,
                    "cannot wait for the sandbox",
                    e,
                ));
            }
        }
    }
}
