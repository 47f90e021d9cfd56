//! Why a sandbox could not run a builder: the caller's side
//! ([`SandboxError`]) and the step of the sequence that failed inside
//! ([`SetupError`], [`Step`]).

use std::io;
use std::path::PathBuf;

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
    /// The helper program could not be started or waited for.
    #[error("cannot {action} the sandbox helper `{}`: {source}", program.display())]
    Helper {
        /// The program.
        program: PathBuf,
        /// What was being done (`start`, `wait for`).
        action: &'static str,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// A step of the sandbox's setup failed, in the helper or in the
    /// sandbox.
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// The helper ended without saying what happened (it was killed, or
    /// is not abovo's helper).
    #[error("the sandbox helper ended without starting a build ({0})")]
    HelperVanished(String),
}

/// A step of the sandbox's setup (the sequence in the crate's front page),
/// named in its failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Step {
    /// The helper reads the spec on its standard input.
    ReadSpec,
    /// The helper's own standard input becomes `/dev/null`.
    Stdin,
    /// Root's supplementary groups are dropped before cloning.
    DropGroups,
    /// The system call filter is compiled.
    CompileFilter,
    /// The pipe that lets the sandbox go.
    GoPipe,
    /// `clone` into new namespaces.
    Clone,
    /// The helper writes the sandbox's uid and gid maps.
    IdMaps,
    /// slirp4netns connects a fixed-output build to the network.
    Network,
    /// The sandbox waits until its maps are written.
    WaitForMaps,
    /// `setsid`.
    NewSession,
    /// `ip link set lo up`.
    Loopback,
    /// Host name and domain name.
    HostNames,
    /// `/` made private in the new mount namespace.
    PrivateMounts,
    /// A bind mount (the chroot onto itself, the store, `/tmp`, the build
    /// directory, an input, a host file, a device).
    Bind,
    /// A read-only remount.
    RemountReadOnly,
    /// `/proc`, `/dev/shm` or `/dev/pts`.
    MountFilesystem,
    /// `pivot_root`, `chroot` and detaching the old root.
    PivotRoot,
    /// The working directory becomes the build directory.
    EnterBuildDir,
    /// `oom_score_adj` = 1000.
    OomScore,
    /// Every descriptor above 2 closed on exec.
    CloseDescriptors,
    /// The personality (32-bit, no address space randomisation).
    Personality,
    /// No core files.
    CoreLimit,
    /// No ambient capabilities.
    AmbientCapabilities,
    /// `no_new_privs`.
    NoNewPrivs,
    /// gid 30000, uid 30001.
    BuildUser,
    /// The mounts locked in a nested user and mount namespace.
    LockMounts,
    /// Killed if the helper dies.
    DeathSignal,
    /// The system call filter is installed.
    InstallFilter,
    /// Every signal's action back to the default.
    Signals,
    /// `execve` of the builder.
    Exec,
}

impl Step {
    /// Every step, for the wire format.
    const ALL: [Step; 30] = [
        Step::ReadSpec,
        Step::Stdin,
        Step::DropGroups,
        Step::CompileFilter,
        Step::GoPipe,
        Step::Clone,
        Step::IdMaps,
        Step::Network,
        Step::WaitForMaps,
        Step::NewSession,
        Step::Loopback,
        Step::HostNames,
        Step::PrivateMounts,
        Step::Bind,
        Step::RemountReadOnly,
        Step::MountFilesystem,
        Step::PivotRoot,
        Step::EnterBuildDir,
        Step::OomScore,
        Step::CloseDescriptors,
        Step::Personality,
        Step::CoreLimit,
        Step::AmbientCapabilities,
        Step::NoNewPrivs,
        Step::BuildUser,
        Step::LockMounts,
        Step::DeathSignal,
        Step::InstallFilter,
        Step::Signals,
        Step::Exec,
    ];

    /// A short, stable name (`mount-filesystem`), as it crosses the status
    /// pipe.
    pub fn name(self) -> &'static str {
        match self {
            Step::ReadSpec => "read-spec",
            Step::Stdin => "stdin",
            Step::DropGroups => "drop-groups",
            Step::CompileFilter => "compile-filter",
            Step::GoPipe => "go-pipe",
            Step::Clone => "clone",
            Step::IdMaps => "id-maps",
            Step::Network => "network",
            Step::WaitForMaps => "wait-for-maps",
            Step::NewSession => "new-session",
            Step::Loopback => "loopback",
            Step::HostNames => "host-names",
            Step::PrivateMounts => "private-mounts",
            Step::Bind => "bind",
            Step::RemountReadOnly => "remount-read-only",
            Step::MountFilesystem => "mount-filesystem",
            Step::PivotRoot => "pivot-root",
            Step::EnterBuildDir => "enter-build-dir",
            Step::OomScore => "oom-score",
            Step::CloseDescriptors => "close-descriptors",
            Step::Personality => "personality",
            Step::CoreLimit => "core-limit",
            Step::AmbientCapabilities => "ambient-capabilities",
            Step::NoNewPrivs => "no-new-privs",
            Step::BuildUser => "build-user",
            Step::LockMounts => "lock-mounts",
            Step::DeathSignal => "death-signal",
            Step::InstallFilter => "install-filter",
            Step::Signals => "signals",
            Step::Exec => "exec",
        }
    }

    /// The step of a [`Step::name`].
    pub fn from_name(name: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// A step of the setup that failed: which, on what (`detail`: a path, a
/// value), and the system's error number when a call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupError {
    /// The step.
    pub step: Step,
    /// What it was doing, in words (`cannot mount /proc`).
    pub detail: String,
    /// The `errno` of the call that failed, if one did.
    pub errno: Option<i32>,
}

impl SetupError {
    /// A failure of `step` without a system error.
    pub fn new(step: Step, detail: impl Into<String>) -> SetupError {
        SetupError {
            step,
            detail: detail.into(),
            errno: None,
        }
    }

    /// A failure of `step` because a call failed with `err`.
    pub fn os(step: Step, detail: impl Into<String>, err: impl Into<io::Error>) -> SetupError {
        let err = err.into();
        SetupError {
            step,
            detail: match err.raw_os_error() {
                Some(_) => detail.into(),
                // Not a system error: keep its words.
                None => format!("{}: {err}", detail.into()),
            },
            errno: err.raw_os_error(),
        }
    }

    /// The line that carries it over the status pipe:
    /// `error <step> <errno or -> <detail>`, the detail on one line.
    pub(crate) fn to_line(&self) -> String {
        format!(
            "error {} {} {}\n",
            self.step.name(),
            self.errno.map_or("-".to_owned(), |e| e.to_string()),
            self.detail.replace('\\', "\\\\").replace('\n', "\\n")
        )
    }

    /// Reads back [`SetupError::to_line`] (without `error `); `None` when
    /// the line is not one.
    pub(crate) fn from_line(rest: &str) -> Option<SetupError> {
        let mut parts = rest.splitn(3, ' ');
        let step = Step::from_name(parts.next()?)?;
        let errno = match parts.next()? {
            "-" => None,
            n => Some(n.parse().ok()?),
        };
        let mut detail = String::new();
        let mut chars = parts.next().unwrap_or_default().chars();
        while let Some(c) = chars.next() {
            match (c, c == '\\') {
                (_, true) => match chars.next() {
                    Some('n') => detail.push('\n'),
                    Some(other) => detail.push(other),
                    None => {}
                },
                (c, false) => detail.push(c),
            }
        }
        Some(SetupError {
            step,
            detail,
            errno,
        })
    }
}

impl std::fmt::Display for SetupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let err = self.errno.map(io::Error::from_raw_os_error);
        match (self.step, err) {
            (Step::Clone, Some(err)) => write!(
                f,
                "cannot create the build sandbox: {}: {err}\n  (hint: abovo never builds \
                 without its sandbox; user namespaces must be allowed: see \
                 /proc/sys/user/max_user_namespaces, and on Ubuntu the sysctl \
                 kernel.apparmor_restrict_unprivileged_userns)",
                self.detail
            ),
            // The helper's own steps, before any sandbox exists.
            (
                Step::ReadSpec
                | Step::Stdin
                | Step::DropGroups
                | Step::CompileFilter
                | Step::GoPipe
                | Step::Clone,
                err,
            ) => match err {
                Some(err) => write!(f, "{}: {err}", self.detail),
                None => write!(f, "{}", self.detail),
            },
            (_, Some(err)) => write!(
                f,
                "while setting up the build environment: {}: {err}",
                self.detail
            ),
            (_, None) => write!(f, "while setting up the build environment: {}", self.detail),
        }
    }
}

impl std::error::Error for SetupError {}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    #[test]
    fn setup_errors_cross_the_status_pipe_intact() {
        for step in Step::ALL {
            assert_eq!(Step::from_name(step.name()), Some(step));
        }
        let e = SetupError::os(
            Step::Bind,
            "cannot bind-mount `/a b\\c`\non `/x`",
            io::Error::from_raw_os_error(1),
        );
        let line = e.to_line();
        assert_eq!(line.matches('\n').count(), 1, "{line}");
        let back = SetupError::from_line(line.trim_end().strip_prefix("error ").unwrap()).unwrap();
        assert_eq!(back, e);
        assert_eq!(
            back.to_string(),
            "while setting up the build environment: cannot bind-mount `/a b\\c`\non `/x`: \
             Operation not permitted (os error 1)"
        );
        assert!(SetupError::from_line("nonsense 1 x").is_none());
        let clone = SetupError::os(Step::Clone, "clone", io::Error::from_raw_os_error(28));
        assert!(
            clone
                .to_string()
                .contains("never builds without its sandbox")
        );
    }
}
