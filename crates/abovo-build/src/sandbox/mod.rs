//! The build sandbox, as guix-daemon sets it up (sandbox.md §1), run from a
//! single-threaded helper process (sandbox.md §4.2).
//!
//! # Processes
//!
//! ```text
//! abovo (many threads)
//!   └─ helper: `abovo __sandbox-helper` or `abovo-sandbox-helper`   (one thread)
//!        └─ clone(NEWUSER|NEWNS|NEWPID|NEWIPC|NEWUTS[|NEWNET])        PID 1 of the sandbox
//!             └─ execve(builder)
//! ```
//!
//! `clone` with namespaces is done in a helper because forking a
//! multi-threaded program only copies the calling thread, and the child could
//! then block on a lock another thread held. The abovo side ([`run`]) writes
//! the [`SandboxSpec`] as JSON on the helper's standard input, gives it the log
//! pipe as standard output and error, and a *status pipe* as file descriptor 3.
//! On the status pipe the helper writes `pid <n>` (the sandbox's PID 1 as seen
//! from the host, so a timeout can kill it), and the sandbox writes
//! `error: …` if its setup fails. The status pipe is close-on-exec, so end of
//! file without an error means the builder is running.
//!
//! # Identity and modes
//!
//! The builder always runs in a new user namespace as uid 30001, gid 30000
//! (`nixbld` in `/etc/passwd`), which makes what it sees the same in every
//! mode:
//!
//! * **rootless**: the guest ids map to abovo's own uid and gid;
//! * **root**: they map to a build uid of their own, taken from a pool
//!   (`userpool/` in the state directory, one lock per uid), so concurrent
//!   builds never share an owner and a builder has no power over the store.
//!
//! When user namespaces are unavailable the build fails with an error that
//! says so. abovo never builds without its sandbox.
//!
//! # Hardening beyond guix-daemon's namespaces
//!
//! Before it executes the builder, the sandbox locks its mounts in a nested
//! user and mount namespace (as Guix's 2025 daemon does; [`helper`]) and
//! installs Nix's system call filter ([`seccomp`]). The log is read with
//! Guix's three [`Limits`]: silence, total time and log size.

pub mod chroot;
pub mod helper;
pub mod seccomp;

use serde::{Deserialize, Serialize};
use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The uid the builder runs as, inside its user namespace.
pub const GUEST_UID: u32 = 30001;
/// The gid the builder runs as, inside its user namespace.
pub const GUEST_GID: u32 = 30000;

/// Why a sandboxed build could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SandboxError {
    /// Preparing the chroot or the pipes failed.
    #[error("cannot {action} `{}`: {source}", path.display())]
    Io {
        /// The file involved.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// The helper program could not be started.
    #[error("cannot start the sandbox helper `{}`: {source}", program.display())]
    Helper {
        /// The program.
        program: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// The sandbox could not be set up; the message comes from inside.
    #[error("{0}")]
    Setup(String),
}

/// Everything the helper needs to set up one sandbox and run one builder.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SandboxSpec {
    /// The chroot on the host, prepared by [`chroot::prepare`].
    pub chroot: PathBuf,
    /// The build directory on the host (`…/guix-build-<name>.drv-N/top`).
    pub build_dir: PathBuf,
    /// Where it appears in the sandbox: `/tmp/guix-build-<name>.drv-0`.
    pub sandbox_build_dir: PathBuf,
    /// The store directory; inside the chroot it is the writable fake store
    /// in which the builder creates its outputs.
    pub store_dir: PathBuf,
    /// The input closure: each item's path on the host and its store path
    /// in the sandbox (they differ when the store keeps its items
    /// elsewhere), bound read-only (symlinks among them are recreated as
    /// symlinks instead).
    pub inputs: Vec<(PathBuf, PathBuf)>,
    /// Host files bound read-only at the same place (fixed-output
    /// derivations: `/etc/resolv.conf` and friends).
    pub host_files: Vec<PathBuf>,
    /// Share the host's network (fixed-output derivations only).
    pub network: bool,
    /// The host uid that guest uid 30001 maps to.
    pub host_uid: u32,
    /// The host gid that guest gid 30000 maps to.
    pub host_gid: u32,
    /// Run with the 32-bit personality (an `i686-linux` build on x86_64).
    #[serde(default)]
    pub personality32: bool,
    /// Install the system call filter ([`seccomp`]): no setuid or setgid
    /// bits, no extended attributes. On unless the user turns it off.
    #[serde(default = "yes")]
    pub filter_syscalls: bool,
    /// The builder program (in the store).
    pub builder: PathBuf,
    /// Its arguments (without `argv[0]`, which is the builder's base name).
    #[serde(with = "bytes_list")]
    pub args: Vec<Vec<u8>>,
    /// The complete environment, in order.
    #[serde(with = "bytes_pairs")]
    pub env: Vec<(Vec<u8>, Vec<u8>)>,
}

fn yes() -> bool {
    true
}

/// How to start the helper process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelperCommand {
    /// The program.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<OsString>,
}

impl HelperCommand {
    /// The running program itself with a hidden subcommand (how the `abovo`
    /// binary does it); `/proc/self/exe` so that it is the same file even if
    /// the binary was replaced meanwhile.
    pub fn reexec(subcommand: &str) -> HelperCommand {
        HelperCommand {
            program: PathBuf::from("/proc/self/exe"),
            args: vec![subcommand.into()],
        }
    }
}

/// Limits of a build (Guix's `--max-silent-time`, `--timeout` and
/// `build-max-log-size`). As in guix-daemon and Nix, a limit of zero means
/// *no limit* (Guix users write `--max-silent-time=0` to turn it off), so
/// `Some(0)` and `None` behave the same.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Kill the build after this long without output.
    pub max_silent_time: Option<Duration>,
    /// Kill the build after this long in all.
    pub timeout: Option<Duration>,
    /// Kill the build once it has written more than this many bytes of log;
    /// the log keeps the first this many bytes.
    pub max_log_size: Option<u64>,
}

impl Limits {
    /// The same limits with every zero turned into `None`: what is
    /// enforced.
    pub fn effective(self) -> Limits {
        Limits {
            max_silent_time: self.max_silent_time.filter(|d| !d.is_zero()),
            timeout: self.timeout.filter(|d| !d.is_zero()),
            max_log_size: self.max_log_size.filter(|&n| n != 0),
        }
    }
}

/// Which limit killed a build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimedOut {
    /// No output for `max_silent_time`.
    Silence(Duration),
    /// Ran longer than `timeout`.
    Total(Duration),
    /// Wrote more than `max_log_size` bytes of log.
    LogTooLarge(u64),
}

/// How the builder ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Its exit code, or `None` when a signal killed it.
    pub code: Option<i32>,
    /// The signal that killed it.
    pub signal: Option<i32>,
    /// Set when abovo killed it for running too long.
    pub timed_out: Option<TimedOut>,
}

impl Outcome {
    /// Whether the builder exited with code 0 in time.
    pub fn success(&self) -> bool {
        self.code == Some(0) && self.timed_out.is_none()
    }

    /// A phrase for messages: `exited with code 1`, `was killed by signal 9`.
    pub fn describe(&self) -> String {
        match (self.timed_out, self.code, self.signal) {
            (Some(TimedOut::Silence(d)), ..) => {
                format!("timed out after {} of silence", seconds(d))
            }
            (Some(TimedOut::Total(d)), ..) => format!("timed out after {}", seconds(d)),
            (Some(TimedOut::LogTooLarge(n)), ..) => {
                format!("was killed after writing more than {n} bytes of log output")
            }
            (None, Some(c), _) => format!("exited with code {c}"),
            (None, None, Some(s)) => format!("was killed by signal {s}"),
            (None, None, None) => "ended in an unknown way".into(),
        }
    }
}

pub use abovo_fetch::deadline::seconds;

/// Runs the builder of `spec` in its sandbox through `helper`, sending
/// everything it prints to `log`, and returns how it ended. The chroot must
/// have been prepared with [`chroot::prepare`].
pub fn run(
    spec: &SandboxSpec,
    helper: &HelperCommand,
    limits: Limits,
    log: &mut dyn FnMut(&[u8]),
) -> Result<Outcome, SandboxError> {
    let pipe_err = |source| SandboxError::Io {
        path: PathBuf::from("pipe"),
        action: "create",
        source,
    };
    let (status_r, status_w) = pipe().map_err(pipe_err)?;
    let (log_r, log_w) = pipe().map_err(pipe_err)?;
    // Keep the status pipe away from 0-2, which the child's stdio takes.
    let status_w = {
        let high = dup_at_least(&status_w, 10).map_err(pipe_err)?;
        drop(status_w);
        high
    };
    let status_fd = status_w.as_raw_fd();
    let mut cmd = Command::new(&helper.program);
    cmd.args(&helper.args)
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::from(log_w.try_clone().map_err(pipe_err)?))
        .stderr(Stdio::from(log_w));
    // SAFETY: only async-signal-safe calls (dup2, fcntl, prctl) between fork
    // and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(status_fd, 3) < 0 {
                return Err(io::Error::last_os_error());
            }
            // If abovo dies, the helper dies, and with it the sandbox.
            libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            );
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|source| SandboxError::Helper {
        program: helper.program.clone(),
        source,
    })?;
    // Our copies of the write ends must go, or the reads below never end.
    drop(cmd);
    drop(status_w);
    if let Some(mut stdin) = child.stdin.take() {
        let json = serde_json::to_vec(spec).map_err(|e| SandboxError::Setup(e.to_string()))?;
        // A helper that died early shows up below as a setup error.
        let _ = stdin.write_all(&json);
    }
    let mut status = String::new();
    let _ = std::fs::File::from(status_r).read_to_string(&mut status);
    let mut sandbox_pid: Option<i32> = None;
    let mut setup_error: Option<String> = None;
    for line in status.lines() {
        if let Some(pid) = line.strip_prefix("pid ") {
            sandbox_pid = pid.trim().parse().ok();
        } else if let Some(msg) = line.strip_prefix("error: ") {
            setup_error.get_or_insert_with(String::new).push_str(msg);
        } else if let Some(e) = &mut setup_error {
            // A message of several lines (a hint).
            e.push('\n');
            e.push_str(line);
        }
    }
    if let Some(msg) = setup_error {
        let _ = child.kill();
        let _ = child.wait();
        return Err(SandboxError::Setup(msg));
    }
    let timed_out = pump_log(log_r, sandbox_pid, limits, log);
    let status = child.wait().map_err(|source| SandboxError::Helper {
        program: helper.program.clone(),
        source,
    })?;
    use std::os::unix::process::ExitStatusExt;
    if sandbox_pid.is_none() {
        return Err(SandboxError::Setup(format!(
            "the sandbox helper ended without starting a build ({status})"
        )));
    }
    Ok(Outcome {
        code: status.code(),
        signal: status.signal(),
        timed_out,
    })
}

/// Copies the log pipe to `log` until every writer is gone, enforcing the
/// limits by killing the sandbox's PID 1 (which takes every process of the
/// sandbox with it). Past the log size limit, what is still read is dropped.
fn pump_log(
    log_r: OwnedFd,
    sandbox_pid: Option<i32>,
    limits: Limits,
    log: &mut dyn FnMut(&[u8]),
) -> Option<TimedOut> {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let limits = limits.effective();
    let started = Instant::now();
    let mut last_output = started;
    let mut timed_out = None;
    let mut logged: u64 = 0;
    let kill = || {
        if let Some(pid) = sandbox_pid {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    };
    let mut buf = vec![0u8; 64 * 1024];
    let mut file = std::fs::File::from(log_r);
    loop {
        let now = Instant::now();
        let mut deadline: Option<Instant> = None;
        if timed_out.is_none() {
            if let Some(d) = limits.max_silent_time {
                deadline = Some(last_output + d);
            }
            if let Some(d) = limits.timeout {
                let t = started + d;
                deadline = Some(deadline.map_or(t, |x| x.min(t)));
            }
        }
        let wait = match deadline {
            Some(d) if d <= now => {
                let kind = match limits.timeout {
                    Some(t) if started + t <= now => TimedOut::Total(t),
                    _ => TimedOut::Silence(limits.max_silent_time.unwrap_or_default()),
                };
                timed_out = Some(kind);
                kill();
                continue;
            }
            Some(d) => PollTimeout::try_from((d - now).as_millis().min(60_000) as i32 + 1)
                .unwrap_or(PollTimeout::MAX),
            None => PollTimeout::NONE,
        };
        let ready = {
            let mut fds = [PollFd::new(
                std::os::fd::AsFd::as_fd(&file),
                PollFlags::POLLIN,
            )];
            match poll(&mut fds, wait) {
                Ok(n) => n > 0,
                Err(nix::errno::Errno::EINTR) => false,
                Err(_) => true,
            }
        };
        if !ready {
            continue;
        }
        match file.read(&mut buf) {
            Ok(0) => return timed_out,
            Ok(n) => {
                last_output = Instant::now();
                let room = match limits.max_log_size {
                    Some(max) => max.saturating_sub(logged),
                    None => u64::MAX,
                };
                let keep = (n as u64).min(room) as usize;
                if keep > 0 {
                    log(&buf[..keep]);
                    logged += keep as u64;
                }
                if keep < n
                    && timed_out.is_none()
                    && let Some(max) = limits.max_log_size
                {
                    timed_out = Some(TimedOut::LogTooLarge(max));
                    kill();
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return timed_out,
        }
    }
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(io::Error::from)
}

fn dup_at_least(fd: &OwnedFd, min: i32) -> io::Result<OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: F_DUPFD_CLOEXEC returns a new descriptor we then own.
    let new = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, min) };
    if new < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `new` is a fresh descriptor owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// Byte strings as base64 in the JSON spec (arguments and environment need
/// not be UTF-8).
mod bytes_list {
    use abovo_store::encoding::{base64_decode, base64_encode};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[Vec<u8>], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|b| base64_encode(b)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<u8>>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|s| base64_decode(s).map_err(serde::de::Error::custom))
            .collect()
    }
}

mod bytes_pairs {
    use abovo_store::encoding::{base64_decode, base64_encode};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[(Vec<u8>, Vec<u8>)], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|(k, v)| (base64_encode(k), base64_encode(v))))
    }

    type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Pairs, D::Error> {
        Vec::<(String, String)>::deserialize(d)?
            .iter()
            .map(|(k, v)| {
                Ok((
                    base64_decode(k).map_err(serde::de::Error::custom)?,
                    base64_decode(v).map_err(serde::de::Error::custom)?,
                ))
            })
            .collect()
    }
}
