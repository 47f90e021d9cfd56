//! The single-threaded helper: reads a [`SandboxSpec`] on standard input,
//! clones the sandbox's first process into new namespaces, writes its uid
//! and gid maps, lets it go, waits for it and ends the way it ended (same
//! exit code, or killed by the same signal).
//!
//! [`main`] is the whole program; the `abovo` binary runs it as `abovo
//! __sandbox-helper`, and this crate ships it as `abovo-sandbox-helper`.

use crate::error::{SetupError, Step};
use crate::spec::{Identity, Network, SandboxSpec};
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
    // The status pipe must not reach what the helper starts (slirp4netns):
    // the caller reads it until its end.
    rustix::io::fcntl_setfd(&*status, rustix::io::FdFlags::CLOEXEC).map_err(|e| {
        SetupError::os(
            Step::ReadSpec,
            "cannot mark the status pipe close-on-exec",
            e,
        )
    })?;
    let spec = read_spec()?;
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
    // What the builder's bounding set must be: the helper's own, which a
    // new user namespace would otherwise widen to every capability.
    let bounding = sys::bounding_set()
        .map_err(|e| SetupError::os(Step::Clone, "cannot read the capability bounding set", e))?;
    let mut flags = libc::CLONE_NEWUSER
        | libc::CLONE_NEWNS
        | libc::CLONE_NEWPID
        | libc::CLONE_NEWIPC
        | libc::CLONE_NEWUTS;
    let own_network = spec.network != Network::Host;
    if own_network {
        flags |= libc::CLONE_NEWNET;
    }
    let pid = match sys::clone_into_namespaces(flags) {
        Err(e) => {
            return Err(SetupError::os(
                Step::Clone,
                format!(
                    "clone with new user, mount, PID, IPC, UTS{} namespaces failed",
                    if own_network { " and network" } else { "" }
                ),
                e,
            ));
        }
        Ok(Forked::Child) => {
            drop(go_w);
            let err = match crate::child::run(&spec, filter.as_ref(), &bounding, go_r) {
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
    let ready = started
        .map_err(|e| SetupError::os(Step::IdMaps, "cannot write to the status pipe", e))
        .and_then(|()| match &spec.identity {
            Identity::Mapped { host_uid, host_gid } => write_id_maps(pid, *host_uid, *host_gid),
            Identity::BuildUser { uid, gid, .. } => write_build_user_maps(pid, *uid, *gid),
        })
        .and_then(|()| match &spec.network {
            Network::Slirp(program) => {
                let rootless = matches!(spec.identity, Identity::Mapped { .. });
                start_slirp(program, pid, rootless).map(Some)
            }
            _ => Ok(None),
        });
    // Held until the helper exits, which is when slirp4netns must stop.
    let _network = match ready {
        Ok(n) => n,
        Err(e) => {
            kill(pid);
            return Err(e);
        }
    };
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

/// Step: guest 30001/30000 map to the caller's host ids; `setgroups` is
/// denied, as an unprivileged process must before writing a gid map.
fn write_id_maps(pid: i32, host_uid: u32, host_gid: u32) -> Result<(), SetupError> {
    for (file, text) in [
        ("uid_map", format!("{GUEST_UID} {host_uid} 1")),
        ("setgroups", "deny".to_owned()),
        ("gid_map", format!("{GUEST_GID} {host_gid} 1")),
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

/// `slirp4netns` connected to the sandbox's network namespace, and the
/// descriptor whose end tells it to stop.
struct Slirp {
    _child: std::process::Child,
    _exit: std::os::fd::OwnedFd,
}

/// Step: user-mode networking for a fixed-output build (as guix-daemon
/// does when slirp4netns is installed): `slirp4netns --configure` on the
/// sandbox's network namespace, no way to the host's loopback, waited for
/// until the interface is up. It stops when the helper exits (its exit
/// descriptor closes). Without privileges it must also join the sandbox's
/// user namespace, which owns the network namespace (the helper's uid owns
/// that user namespace, so slirp4netns, running as that uid, may).
fn start_slirp(program: &std::path::Path, pid: i32, rootless: bool) -> Result<Slirp, SetupError> {
    use rustix::pipe::{PipeFlags, pipe_with};
    let fail = |what: String, e: std::io::Error| SetupError::os(Step::Network, what, e);
    // Its ends of the two pipes must reach it (no close-on-exec); ours not.
    let (ready_r, ready_w) =
        pipe_with(PipeFlags::empty()).map_err(|e| fail("pipe".into(), e.into()))?;
    let (exit_r, exit_w) =
        pipe_with(PipeFlags::empty()).map_err(|e| fail("pipe".into(), e.into()))?;
    for ours in [&ready_r, &exit_w] {
        rustix::io::fcntl_setfd(ours, rustix::io::FdFlags::CLOEXEC)
            .map_err(|e| fail("fcntl".into(), e.into()))?;
    }
    use std::os::fd::AsRawFd;
    let mut child = std::process::Command::new(program)
        .args([
            "--configure".to_owned(),
            "--mtu=65520".to_owned(),
            "--disable-host-loopback".to_owned(),
            format!("--ready-fd={}", ready_w.as_raw_fd()),
            format!("--exit-fd={}", exit_r.as_raw_fd()),
        ])
        .args(rootless.then(|| format!("--userns-path=/proc/{pid}/ns/user")))
        .args([pid.to_string(), "tap0".to_owned()])
        .env_clear()
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| fail(format!("cannot run `{}`", program.display()), e))?;
    drop(ready_w);
    drop(exit_r);
    let mut byte = [0u8; 1];
    match File::from(ready_r).read(&mut byte) {
        Ok(1) => Ok(Slirp {
            _child: child,
            _exit: exit_w,
        }),
        other => {
            let _ = child.kill();
            let how = child
                .wait()
                .map_or_else(|e| e.to_string(), |s| s.to_string());
            Err(SetupError::new(
                Step::Network,
                format!(
                    "`{}` did not bring up the network of the fixed-output build ({how}{})",
                    program.display(),
                    match other {
                        Err(e) => format!("; {e}"),
                        _ => String::new(),
                    }
                ),
            ))
        }
    }
}

/// Step, as root: maps that show the builder what guix-daemon's first build
/// user sees in the initial namespace. Every id maps to itself (so root's
/// files are root's, the build group is 30000, and `uid_map` reads
/// `0 0 4294967295`), except that the build user's host uid and guest 30001
/// trade places when they differ: whichever build user of the pool runs the
/// build, it is uid 30001 inside. `setgroups` stays allowed, so the builder
/// gets its supplementary group.
fn write_build_user_maps(pid: i32, host_uid: u32, gid: u32) -> Result<(), SetupError> {
    let uid_map = permutation_map(GUEST_UID, host_uid);
    let gid_map = if gid == GUEST_GID {
        "0 0 4294967295".to_owned()
    } else {
        permutation_map(GUEST_GID, gid)
    };
    for (file, text) in [("uid_map", uid_map), ("gid_map", gid_map)] {
        let path = format!("/proc/{pid}/{file}");
        std::fs::write(&path, &text).map_err(|e| {
            SetupError::os(
                Step::IdMaps,
                format!(
                    "cannot set up the build user: write `{}` to {path}",
                    text.replace('\n', "; ")
                ),
                e,
            )
        })?;
    }
    Ok(())
}

/// The identity map of every id (0 … 2³² − 2), with `guest` and `host`
/// swapped.
fn permutation_map(guest: u32, host: u32) -> String {
    const ALL: u64 = 4_294_967_295;
    let (low, high) = (u64::from(guest.min(host)), u64::from(guest.max(host)));
    if low == high {
        return format!("0 0 {ALL}");
    }
    let mut lines = vec![format!("0 0 {low}"), format!("{guest} {host} 1")];
    if high > low + 1 {
        lines.push(format!("{} {} {}", low + 1, low + 1, high - low - 1));
    }
    lines.push(format!("{host} {guest} 1"));
    lines.push(format!("{} {} {}", high + 1, high + 1, ALL - high - 1));
    lines.join("\n")
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

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::permutation_map;

    #[test]
    fn the_build_user_map_is_the_identity_with_one_swap() {
        assert_eq!(permutation_map(30001, 30001), "0 0 4294967295");
        let map = permutation_map(30001, 30005);
        assert_eq!(
            map,
            "0 0 30001\n30001 30005 1\n30002 30002 3\n30005 30001 1\n30006 30006 4294937289"
        );
        // Every id from 0 to 2^32 - 2 appears once on each side.
        let mut inside = 0u64;
        let mut outside = 0u64;
        for l in map.lines() {
            let f: Vec<u64> = l.split(' ').map(|x| x.parse().unwrap()).collect();
            inside += f[2];
            outside += f[2];
        }
        assert_eq!((inside, outside), (4_294_967_295, 4_294_967_295));
        assert_eq!(
            permutation_map(30001, 30002),
            "0 0 30001\n30001 30002 1\n30002 30001 1\n30003 30003 4294937292"
        );
    }
}
