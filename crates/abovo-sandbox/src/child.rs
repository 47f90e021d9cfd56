//! The sandbox's first process: the setup sequence of the crate's front
//! page, one function per step, then the builder.
//!
//! Every function checks what it calls and fails with the [`Step`] it
//! stands for; [`run`] stops at the first failure, which the helper
//! reports on the status pipe.

use crate::chroot;
use crate::error::{SetupError, Step};
use crate::seccomp::Filter;
use crate::spec::{Identity, Network, SandboxSpec};
use crate::sys;
use crate::{GUEST_GID, GUEST_UID};
use rustix::mount::{MountFlags, MountPropagationFlags, UnmountFlags};
use std::convert::Infallible;
use std::ffi::OsStr;
use std::fs::File;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::Path;

/// Runs the whole sequence; returns only if a step failed.
pub(crate) fn run(
    spec: &SandboxSpec,
    filter: Option<&Filter>,
    bounding: &[u32],
    go: OwnedFd,
) -> Result<Infallible, SetupError> {
    wait_for_helper(go)?;
    stdin_from_dev_null()?;
    new_session()?;
    if spec.network == Network::Loopback {
        loopback_up()?;
    }
    set_host_names()?;

    make_mounts_private()?;
    bind_chroot(spec)?;
    bind_build_dir(spec)?;
    bind_inputs(spec)?;
    bind_host_files(spec)?;
    bind_devices(spec)?;
    mount_proc(spec)?;
    mount_shm(spec)?;
    mount_pts(spec)?;
    pivot_into_chroot(spec)?;

    enter_build_dir(spec)?;
    set_oom_score()?;
    close_other_descriptors()?;
    set_personality(spec.personality32)?;
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o022));
    no_core_files()?;
    drop_ambient_capabilities()?;
    restore_bounding_set(bounding)?;
    if filter.is_some() {
        set_no_new_privs()?;
    }

    become_build_user(&spec.identity)?;
    if matches!(spec.identity, Identity::Mapped { .. }) {
        lock_mounts(&spec.sandbox_build_dir)?;
        // The nested user namespace widened the bounding set again.
        restore_bounding_set(bounding)?;
    }
    die_with_helper()?;
    reset_signals()?;
    if let Some(filter) = filter {
        install_filter(filter)?;
    }
    exec_builder(spec)
}

/// Step 1: wait until the helper has written our id maps (without them we
/// are nobody) and started our network, if it does.
fn wait_for_helper(go: OwnedFd) -> Result<(), SetupError> {
    let mut word = [0u8; 3];
    File::from(go)
        .read_exact(&mut word)
        .map_err(|e| SetupError::os(Step::WaitForMaps, "the helper did not start the build", e))
}

/// Step 2: standard input is `/dev/null`, opened here, in the new mount
/// namespace, as guix-daemon does: once the host's `/dev` is detached from
/// the sandbox, the builder sees it as `/null` (what
/// `readlink /proc/self/fd/0` gives under guix-daemon).
fn stdin_from_dev_null() -> Result<(), SetupError> {
    let devnull = File::open("/dev/null")
        .map_err(|e| SetupError::os(Step::Stdin, "cannot open /dev/null", e))?;
    rustix::stdio::dup2_stdin(&devnull)
        .map_err(|e| SetupError::os(Step::Stdin, "cannot make /dev/null standard input", e))
}

/// Step 2: a session of its own, so that no terminal or process group of
/// abovo's reaches the builder.
fn new_session() -> Result<(), SetupError> {
    rustix::process::setsid()
        .map(drop)
        .map_err(|e| SetupError::os(Step::NewSession, "setsid", e))
}

/// Step 2: the loopback interface of the new network namespace, up.
fn loopback_up() -> Result<(), SetupError> {
    sys::loopback_up()
        .map_err(|e| SetupError::os(Step::Loopback, "cannot bring up the loopback interface", e))
}

/// Step 2: host name `localhost`, domain name `(none)` (the kernel's
/// default), as guix-daemon sets them.
fn set_host_names() -> Result<(), SetupError> {
    rustix::system::sethostname(b"localhost")
        .map_err(|e| SetupError::os(Step::HostNames, "cannot set the host name", e))?;
    rustix::system::setdomainname(b"(none)")
        .map_err(|e| SetupError::os(Step::HostNames, "cannot set the domain name", e))
}

/// Step 3: every mount private, so that nothing mounted below propagates
/// to the host (systemd makes `/` shared).
fn make_mounts_private() -> Result<(), SetupError> {
    rustix::mount::mount_change(
        "/",
        MountPropagationFlags::REC | MountPropagationFlags::PRIVATE,
    )
    .map_err(|e| SetupError::os(Step::PrivateMounts, "cannot make / private", e))
}

fn bind(source: &Path, target: &Path) -> Result<(), SetupError> {
    rustix::mount::mount_bind(source, target).map_err(|e| {
        SetupError::os(
            Step::Bind,
            format!(
                "cannot bind-mount `{}` on `{}`",
                source.display(),
                target.display()
            ),
            e,
        )
    })
}

/// Step 3: the chroot bound onto itself, which `pivot_root` needs (a mount
/// point).
fn bind_chroot(spec: &SandboxSpec) -> Result<(), SetupError> {
    bind(&spec.chroot, &spec.chroot)
}

/// Step 3: the host build directory at `/tmp/guix-build-<name>.drv-0`.
fn bind_build_dir(spec: &SandboxSpec) -> Result<(), SetupError> {
    bind(
        &spec.build_dir,
        &chroot::inside(&spec.chroot, &spec.sandbox_build_dir),
    )
}

/// Step 3: every input bound (with what is mounted below it) and made
/// read-only; symlink inputs were copied as symlinks by
/// [`chroot::prepare`].
fn bind_inputs(spec: &SandboxSpec) -> Result<(), SetupError> {
    for (input, path) in &spec.inputs {
        if chroot::is_bound(input) {
            let target = chroot::inside(&spec.chroot, path);
            rustix::mount::mount_bind_recursive(input, &target).map_err(|e| {
                SetupError::os(
                    Step::Bind,
                    format!(
                        "cannot bind-mount `{}` on `{}`",
                        input.display(),
                        target.display()
                    ),
                    e,
                )
            })?;
            remount_read_only(&target)?;
        }
    }
    Ok(())
}

/// Step 3: a fixed-output build's host files (`/etc/resolv.conf` and
/// friends), read-only.
fn bind_host_files(spec: &SandboxSpec) -> Result<(), SetupError> {
    for file in &spec.host_files {
        let target = chroot::inside(&spec.chroot, file);
        bind(file, &target)?;
        remount_read_only(&target)?;
    }
    Ok(())
}

/// Step 3: the device nodes of `/dev`, bound from the host (those it has).
fn bind_devices(spec: &SandboxSpec) -> Result<(), SetupError> {
    for name in chroot::DEVICES {
        let host = Path::new("/dev").join(name);
        if host.exists() {
            bind(&host, &spec.chroot.join("dev").join(name))?;
        }
    }
    Ok(())
}

fn mount_fs(
    fs: &str,
    target: &Path,
    data: Option<&std::ffi::CStr>,
    what: &str,
) -> Result<(), SetupError> {
    rustix::mount::mount("none", target, fs, MountFlags::empty(), data)
        .map_err(|e| SetupError::os(Step::MountFilesystem, format!("cannot mount {what}"), e))
}

/// Step 3: a fresh `/proc` for the new PID namespace.
fn mount_proc(spec: &SandboxSpec) -> Result<(), SetupError> {
    mount_fs("proc", &spec.chroot.join("proc"), None, "/proc")
}

/// Step 3: a tmpfs on `/dev/shm`, so that what the builder leaves there
/// goes with it.
fn mount_shm(spec: &SandboxSpec) -> Result<(), SetupError> {
    mount_fs("tmpfs", &spec.chroot.join("dev/shm"), None, "/dev/shm")
}

/// Step 3: a new devpts instance on `/dev/pts`, when the host has one, with
/// its `ptmx` usable by all.
fn mount_pts(spec: &SandboxSpec) -> Result<(), SetupError> {
    if !Path::new("/dev/pts/ptmx").exists() {
        return Ok(());
    }
    let pts = spec.chroot.join("dev/pts");
    mount_fs("devpts", &pts, Some(c"newinstance,mode=0620"), "/dev/pts")?;
    let ptmx = pts.join("ptmx");
    rustix::fs::chmod(&ptmx, rustix::fs::Mode::from_raw_mode(0o666)).map_err(|e| {
        SetupError::os(
            Step::MountFilesystem,
            format!("cannot chmod {}", ptmx.display()),
            e,
        )
    })
}

/// Step 4: the chroot becomes `/`: `pivot_root`, `chroot`, and the old
/// root detached and removed, so that nothing of the host is reachable.
fn pivot_into_chroot(spec: &SandboxSpec) -> Result<(), SetupError> {
    let fail = |what: &str, e| SetupError::os(Step::PivotRoot, what.to_owned(), e);
    rustix::process::chdir(&spec.chroot).map_err(|e| {
        fail(
            &format!("cannot change directory to `{}`", spec.chroot.display()),
            e,
        )
    })?;
    rustix::fs::mkdir("real-root", rustix::fs::Mode::empty())
        .map_err(|e| fail("cannot create real-root", e))?;
    rustix::process::pivot_root(".", "real-root").map_err(|e| fail("pivot_root", e))?;
    rustix::process::chroot(".").map_err(|e| fail("chroot", e))?;
    rustix::mount::unmount("real-root", UnmountFlags::DETACH)
        .map_err(|e| fail("cannot unmount the real root", e))?;
    rustix::fs::rmdir("real-root").map_err(|e| fail("cannot remove real-root", e))
}

/// Step 3: a bind mount remounted read-only, keeping the flags a user
/// namespace may not clear (nosuid, nodev, noexec, the atime flags).
fn remount_read_only(target: &Path) -> Result<(), SetupError> {
    use rustix::fs::StatVfsMountFlags as F;
    let st = rustix::fs::statvfs(target).map_err(|e| {
        SetupError::os(
            Step::RemountReadOnly,
            format!("cannot statvfs `{}`", target.display()),
            e,
        )
    })?;
    let mut flags = MountFlags::BIND | MountFlags::RDONLY;
    for (from, to) in [
        (F::NOSUID, MountFlags::NOSUID),
        (F::NODEV, MountFlags::NODEV),
        (F::NOEXEC, MountFlags::NOEXEC),
        (F::NOATIME, MountFlags::NOATIME),
        (F::NODIRATIME, MountFlags::NODIRATIME),
        (F::RELATIME, MountFlags::RELATIME),
    ] {
        if st.f_flag.contains(from) {
            flags |= to;
        }
    }
    rustix::mount::mount_remount(target, flags, c"").map_err(|e| {
        SetupError::os(
            Step::RemountReadOnly,
            format!("cannot remount `{}` read-only", target.display()),
            e,
        )
    })
}

/// Step 5: the working directory is the build directory.
fn enter_build_dir(spec: &SandboxSpec) -> Result<(), SetupError> {
    rustix::process::chdir(&spec.sandbox_build_dir).map_err(|e| {
        SetupError::os(
            Step::EnterBuildDir,
            format!("chdir {}", spec.sandbox_build_dir.display()),
            e,
        )
    })
}

/// Step 5: if memory runs out, the builder goes first, not abovo (as
/// guix-daemon). Raising one's own score needs no privilege.
fn set_oom_score() -> Result<(), SetupError> {
    std::fs::write("/proc/self/oom_score_adj", "1000").map_err(|e| {
        SetupError::os(
            Step::OomScore,
            "cannot write 1000 to /proc/self/oom_score_adj",
            e,
        )
    })
}

/// Step 5: every descriptor but 0-2 closes on exec, the status pipe
/// included. `close_range` (Linux 5.11) does it in one call; older kernels
/// get each open descriptor marked, as listed in `/proc/self/fd`.
fn close_other_descriptors() -> Result<(), SetupError> {
    match sys::close_range_cloexec(3) {
        Ok(()) => return Ok(()),
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EINVAL)) => {}
        Err(e) => {
            return Err(SetupError::os(
                Step::CloseDescriptors,
                "close_range(3, ~0, CLOSE_RANGE_CLOEXEC)",
                e,
            ));
        }
    }
    let fail = |e| SetupError::os(Step::CloseDescriptors, "cannot list /proc/self/fd", e);
    let mut fds = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd").map_err(fail)? {
        let name = entry.map_err(fail)?.file_name();
        if let Ok(fd) = name.to_string_lossy().parse::<i32>()
            && fd > 2
        {
            fds.push(fd);
        }
    }
    for fd in fds {
        // The listing's own descriptor is closed by now: EBADF for it.
        match sys::set_close_on_exec(fd) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EBADF) => {}
            Err(e) => {
                return Err(SetupError::os(
                    Step::CloseDescriptors,
                    format!("cannot mark descriptor {fd} close-on-exec"),
                    e,
                ));
            }
        }
    }
    Ok(())
}

/// Step 5: the 32-bit personality for an `i686-linux` build on x86_64, and
/// always `ADDR_NO_RANDOMIZE`: no address space randomisation.
fn set_personality(linux32: bool) -> Result<(), SetupError> {
    const PER_LINUX32: libc::c_ulong = 0x0008;
    let fail = |e| SetupError::os(Step::Personality, "personality", e);
    if linux32 {
        sys::personality(PER_LINUX32).map_err(fail)?;
    }
    let current = sys::personality(0xffff_ffff).map_err(fail)? as libc::c_ulong;
    sys::personality(current | libc::ADDR_NO_RANDOMIZE as libc::c_ulong).map_err(fail)?;
    Ok(())
}

/// Step 5: no core files (the soft limit 0; the hard limit stays what it
/// was, as under guix-daemon, whose builders inherit the daemon's).
fn no_core_files() -> Result<(), SetupError> {
    let core = rustix::process::getrlimit(rustix::process::Resource::Core);
    rustix::process::setrlimit(
        rustix::process::Resource::Core,
        rustix::process::Rlimit {
            current: Some(0),
            maximum: core.maximum,
        },
    )
    .map_err(|e| SetupError::os(Step::CoreLimit, "setrlimit(RLIMIT_CORE, 0)", e))
}

/// Step 5: no ambient capabilities (a daemon may have been started with
/// some, such as `CAP_CHOWN`).
fn drop_ambient_capabilities() -> Result<(), SetupError> {
    rustix::thread::clear_ambient_capability_set().map_err(|e| {
        SetupError::os(
            Step::AmbientCapabilities,
            "cannot clear the ambient capabilities",
            e,
        )
    })
}

/// Step 5: the capability bounding set the helper had (a new user
/// namespace starts with every capability in it), so that the builder sees
/// the host's, as under guix-daemon.
fn restore_bounding_set(bounding: &[u32]) -> Result<(), SetupError> {
    sys::restrict_bounding_set(bounding).map_err(|e| {
        SetupError::os(
            Step::AmbientCapabilities,
            "cannot restore the capability bounding set",
            e,
        )
    })
}

/// Step 5: nothing the builder executes can gain privileges.
fn set_no_new_privs() -> Result<(), SetupError> {
    rustix::thread::set_no_new_privs(true)
        .map_err(|e| SetupError::os(Step::NoNewPrivs, "prctl(PR_SET_NO_NEW_PRIVS)", e))
}

/// Step 6: the build user, uid 30001 and gid 30000 of the sandbox's user
/// namespace (which the helper mapped to the host's build user as root, or
/// to the caller's ids without privileges), with the build user's
/// supplementary groups as root (guix-daemon's build users have the build
/// group). Checked.
fn become_build_user(identity: &Identity) -> Result<(), SetupError> {
    if let Identity::BuildUser { groups, .. } = identity {
        let groups: Vec<_> = groups
            .iter()
            .map(|g| rustix::process::Gid::from_raw(*g))
            .collect();
        rustix::thread::set_thread_groups(&groups).map_err(|e| {
            SetupError::os(Step::BuildUser, "cannot set the supplementary groups", e)
        })?;
    }
    let (uid, gid) = (GUEST_UID, GUEST_GID);
    let gid = rustix::process::Gid::from_raw(gid);
    let uid = rustix::process::Uid::from_raw(uid);
    rustix::thread::set_thread_res_gid(gid, gid, gid)
        .map_err(|e| SetupError::os(Step::BuildUser, format!("setgid {}", gid.as_raw()), e))?;
    rustix::thread::set_thread_res_uid(uid, uid, uid)
        .map_err(|e| SetupError::os(Step::BuildUser, format!("setuid {}", uid.as_raw()), e))?;
    if rustix::process::getuid() != uid
        || rustix::process::geteuid() != uid
        || rustix::process::getgid() != gid
        || rustix::process::getegid() != gid
    {
        return Err(SetupError::new(
            Step::BuildUser,
            format!(
                "the process is not {}:{} after setuid and setgid",
                uid.as_raw(),
                gid.as_raw()
            ),
        ));
    }
    Ok(())
}

/// Step 6, without privileges: locks the mounts together, as Guix's daemon
/// does since 2025 when it is not root: a
/// new user namespace (owned by the builder's uid, with the identity map
/// 30001 → 30001 and 30000 → 30000) and a new mount namespace in it. Mounts
/// that reach a mount namespace owned by a less privileged user namespace
/// are locked (`mount_namespaces(7)`): none of them can be unmounted to
/// uncover what lies beneath, and their read-only flag cannot be cleared,
/// whatever capabilities are held in the new namespace. As Guix, check that
/// it worked: unmounting the build directory must fail with `EINVAL`, even
/// with every capability this process still holds.
///
/// A side effect: `/proc/self/uid_map` shows `30001 30001 1` to the
/// builder, instead of the host uid it maps to. As root there is no user
/// namespace and no need for this: the builder has no capability, so it
/// cannot unmount anything, and the mounts of any namespace it makes are
/// locked by the kernel.
fn lock_mounts(build_dir: &Path) -> Result<(), SetupError> {
    let fail = |what: String, e: std::io::Error| SetupError::os(Step::LockMounts, what, e);
    // After setuid from root (root mode), the kernel made this process
    // non-dumpable, which gives its /proc/self files to root; the builder
    // is dumpable again after execve anyway (and RLIMIT_CORE is 0).
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::Dumpable)
        .map_err(|e| fail("prctl(PR_SET_DUMPABLE)".into(), e.into()))?;
    sys::unshare_user_and_mount().map_err(|e| fail("unshare(user, mount)".into(), e))?;
    for (file, text) in [
        ("setgroups", "deny".to_owned()),
        ("uid_map", format!("{GUEST_UID} {GUEST_UID} 1")),
        ("gid_map", format!("{GUEST_GID} {GUEST_GID} 1")),
    ] {
        std::fs::write(format!("/proc/self/{file}"), &text)
            .map_err(|e| fail(format!("write `{text}` to /proc/self/{file}"), e))?;
    }
    match rustix::mount::unmount(build_dir, UnmountFlags::empty()) {
        Err(rustix::io::Errno::INVAL) => Ok(()),
        Ok(()) => Err(SetupError::new(
            Step::LockMounts,
            format!(
                "the mounts are not locked: `{}` could be unmounted",
                build_dir.display()
            ),
        )),
        Err(e) => Err(SetupError::new(
            Step::LockMounts,
            format!(
                "the mounts are not locked: unmounting `{}` failed with {} instead of EINVAL",
                build_dir.display(),
                std::io::Error::from(e)
            ),
        )),
    }
}

/// Step 6: changing credentials (and user namespaces) cleared the
/// parent-death signal, so it is set again now.
fn die_with_helper() -> Result<(), SetupError> {
    rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
        .map_err(|e| SetupError::os(Step::DeathSignal, "prctl(PR_SET_PDEATHSIG)", e))
}

/// Step 7: every signal's action back to its default: an ignored signal
/// would survive `execve`, and what the builder sees must not depend on how
/// abovo was started. (guix-daemon restores `SIGPIPE` only.)
fn reset_signals() -> Result<(), SetupError> {
    sys::reset_signal_actions().map_err(|e| {
        SetupError::os(
            Step::Signals,
            "cannot restore the default signal actions",
            e,
        )
    })
}

/// Step 7: the system call filter, last, so that nothing above runs under
/// it.
fn install_filter(filter: &Filter) -> Result<(), SetupError> {
    filter
        .install()
        .map_err(|e| SetupError::new(Step::InstallFilter, e.to_string()))
}

/// Step 8: `execve(builder, [basename(builder), args…], env)`, with
/// `SIGPIPE` back to its default action and no signal blocked (what std's
/// `exec` does before `execve`), as guix-daemon restores `SIGPIPE`.
fn exec_builder(spec: &SandboxSpec) -> Result<Infallible, SetupError> {
    let argv0 = spec
        .builder
        .file_name()
        .map(|n| n.to_owned())
        .unwrap_or_default();
    let mut cmd = std::process::Command::new(&spec.builder);
    cmd.arg0(argv0)
        .args(spec.args.iter().map(|a| OsStr::from_bytes(a)))
        .env_clear()
        .envs(
            spec.env
                .iter()
                .map(|(k, v)| (OsStr::from_bytes(k), OsStr::from_bytes(v))),
        );
    let err = cmd.exec();
    Err(SetupError::os(
        Step::Exec,
        format!("executing `{}`", spec.builder.display()),
        err,
    ))
}
