//! The caller's side: start the helper, hand it the spec, read the status
//! pipe, then copy the log while enforcing the limits.

use crate::error::{SandboxError, SetupError};
use crate::spec::SandboxSpec;
use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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

/// A duration in whole seconds for messages: `1 second`, `30 seconds`.
fn seconds(d: Duration) -> String {
    match d.as_secs() {
        1 => "1 second".into(),
        n => format!("{n} seconds"),
    }
}

fn pipe_error(source: impl Into<io::Error>) -> SandboxError {
    SandboxError::Io {
        path: PathBuf::from("pipe"),
        action: "create",
        source: source.into(),
    }
}

/// Runs the builder of `spec` in its sandbox through `helper`, sending
/// everything it prints to `log`, and returns how it ended. The chroot must
/// have been prepared with [`crate::chroot::prepare`].
pub fn run(
    spec: &SandboxSpec,
    helper: &HelperCommand,
    limits: Limits,
    log: &mut dyn FnMut(&[u8]),
) -> Result<Outcome, SandboxError> {
    let cloexec = rustix::pipe::PipeFlags::CLOEXEC;
    let (status_r, status_w) = rustix::pipe::pipe_with(cloexec).map_err(pipe_error)?;
    let (log_r, log_w) = rustix::pipe::pipe_with(cloexec).map_err(pipe_error)?;
    // Away from 0-2, which the helper's standard streams take before the
    // status pipe is put at 3.
    let status_w = {
        let high = rustix::io::fcntl_dupfd_cloexec(&status_w, 10).map_err(pipe_error)?;
        // The original must be closed too, or the status pipe never ends.
        drop(status_w);
        high
    };
    let mut cmd = Command::new(&helper.program);
    cmd.args(&helper.args)
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::from(log_w.try_clone().map_err(pipe_error)?))
        .stderr(Stdio::from(log_w));
    crate::sys::pass_status_pipe(&mut cmd, status_w.as_raw_fd());
    let mut child = cmd.spawn().map_err(|source| SandboxError::Helper {
        program: helper.program.clone(),
        action: "start",
        source,
    })?;
    // Our copies of the write ends must go, or the reads below never end.
    drop(cmd);
    drop(status_w);
    let json = serde_json::to_vec(spec).map_err(|e| SandboxError::Io {
        path: helper.program.clone(),
        action: "write the sandbox spec for",
        source: io::Error::other(e),
    })?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that died early says why on the status pipe; if it said
        // nothing, the end of the status pipe below reports it.
        let _ = stdin.write_all(&json);
    }
    let mut status = String::new();
    std::fs::File::from(status_r)
        .read_to_string(&mut status)
        .map_err(|source| SandboxError::Io {
            path: PathBuf::from("status pipe"),
            action: "read",
            source,
        })?;
    let mut sandbox_pid: Option<i32> = None;
    let mut setup_error: Option<SetupError> = None;
    for line in status.lines() {
        if let Some(pid) = line.strip_prefix("pid ") {
            sandbox_pid = pid.trim().parse().ok();
        } else if let Some(rest) = line.strip_prefix("error ") {
            setup_error = setup_error.or_else(|| SetupError::from_line(rest));
        }
    }
    if let Some(e) = setup_error {
        // The helper exits by itself after reporting; reap it. A failure to
        // do so changes nothing about the answer.
        let _ = child.kill();
        let _ = child.wait();
        return Err(SandboxError::Setup(e));
    }
    let timed_out = pump_log(log_r, sandbox_pid, limits, log);
    let status = child.wait().map_err(|source| SandboxError::Helper {
        program: helper.program.clone(),
        action: "wait for",
        source,
    })?;
    use std::os::unix::process::ExitStatusExt;
    if sandbox_pid.is_none() {
        return Err(SandboxError::HelperVanished(status.to_string()));
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
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    let limits = limits.effective();
    let started = Instant::now();
    let mut last_output = started;
    let mut timed_out = None;
    let mut logged: u64 = 0;
    let kill = || {
        if let Some(pid) = sandbox_pid.and_then(rustix::process::Pid::from_raw) {
            // ESRCH: it is gone already, which is what was wanted.
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
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
            Some(d) => {
                let left = (d - now).min(Duration::from_secs(60)) + Duration::from_millis(1);
                Some(Timespec {
                    tv_sec: left.as_secs() as i64,
                    tv_nsec: i64::from(left.subsec_nanos()),
                })
            }
            None => None,
        };
        let ready = {
            let mut fds = [PollFd::new(&file, PollFlags::IN)];
            match poll(&mut fds, wait.as_ref()) {
                Ok(n) => n > 0,
                Err(rustix::io::Errno::INTR) => false,
                // Let the read below say what is wrong.
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
