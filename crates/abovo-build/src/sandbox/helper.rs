//! The single-threaded sandbox helper and the sandbox's PID 1.
//!
//! [`main`] is the whole helper program: it reads a [`SandboxSpec`] on
//! standard input, clones the sandbox's first process into new namespaces,
//! writes its uid and gid maps, lets it go, waits for it and exits the way it
//! exited (same code, or killed by the same signal).
//!
//! The sandbox's first process then does, in this order (guix-daemon's
//! `runChild`, sandbox.md §1.1):
//!
//! 1. new session; loopback up (unless it shares the host network);
//!    hostname `localhost`, domain name `(none)`;
//! 2. `/` made private; the chroot bound onto itself; the fake store and
//!    `/tmp` bound onto themselves (so they stay writable); the build
//!    directory bound at `/tmp/guix-build-<name>.drv-0`; every input bound
//!    and remounted read-only; the device nodes bound; fresh `/proc`,
//!    `/dev/shm` (tmpfs) and `/dev/pts` (a new devpts instance);
//! 3. `pivot_root` into the chroot, `chroot`, the old root detached, the
//!    new `/` remounted read-only;
//! 4. working directory = the build directory; `oom_score_adj` 1000;
//!    every descriptor above 2 closed on exec; ASLR off (`ADDR_NO_RANDOMIZE`); umask 022; no core
//!    files; no ambient capabilities; `no_new_privs`;
//! 5. gid 30000, uid 30001; the mounts locked in a nested user and mount
//!    namespace (`lock_mounts`); killed if the helper dies;
//! 6. the system call filter ([`super::seccomp`]) installed;
//! 7. `execve(builder, [basename(builder), args…], env)`.
//!
//! Any failure is written to the status pipe as
//! `error: while setting up the build environment: …` and the process exits.

use super::{GUEST_GID, GUEST_UID, SandboxSpec, chroot};
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use std::ffi::CString;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The descriptor of the status pipe in the helper.
pub const STATUS_FD: i32 = 3;

/// Runs the helper and exits; never returns.
pub fn main() -> ! {
    // SAFETY: descriptor 3 is the status pipe by contract with `run`; if it
    // is not open, writes to it fail and are ignored.
    let mut status = unsafe { File::from_raw_fd(STATUS_FD) };
    match helper(&mut status) {
        Ok(code) => std::process::exit(code),
        Err(msg) => {
            let _ = writeln!(status, "error: {msg}");
            std::process::exit(1)
        }
    }
}

fn helper(status: &mut File) -> Result<i32, String> {
    let mut input = Vec::new();
    std::io::stdin()
        .read_to_end(&mut input)
        .map_err(|e| format!("cannot read the sandbox spec: {e}"))?;
    let spec: SandboxSpec =
        serde_json::from_slice(&input).map_err(|e| format!("invalid sandbox spec: {e}"))?;
    // The builder's standard input is /dev/null.
    let devnull = File::open("/dev/null").map_err(|e| format!("cannot open /dev/null: {e}"))?;
    // SAFETY: duplicating a descriptor we own onto 0.
    if unsafe { libc::dup2(devnull.as_raw_fd(), 0) } < 0 {
        return Err(format!("dup2: {}", std::io::Error::last_os_error()));
    }
    drop(devnull);
    if rustix::process::geteuid().is_root() {
        // Root's supplementary groups must not follow the builder. Inside a
        // user namespace that denies setgroups this fails, and the groups
        // are unmapped in the sandbox anyway.
        match nix::unistd::setgroups(&[]) {
            Ok(()) | Err(nix::errno::Errno::EPERM) => {}
            Err(e) => return Err(format!("setgroups: {e}")),
        }
    }
    // Compiled here, where an error can still be reported plainly; the
    // sandbox installs it just before it executes the builder.
    let filter = if spec.filter_syscalls {
        Some(super::seccomp::Filter::for_host().map_err(|e| e.to_string())?)
    } else {
        None
    };
    let (go_r, go_w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))?;
    let mut flags = libc::CLONE_NEWUSER
        | libc::CLONE_NEWNS
        | libc::CLONE_NEWPID
        | libc::CLONE_NEWIPC
        | libc::CLONE_NEWUTS;
    if !spec.network {
        flags |= libc::CLONE_NEWNET;
    }
    // SAFETY: a raw clone without CLONE_VM and with a null stack behaves like
    // fork(); this process has a single thread, so the child may allocate.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (flags | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    if pid < 0 {
        let err = std::io::Error::last_os_error();
        return Err(format!(
            "cannot create the build sandbox: clone with new user, mount, PID, IPC, UTS{} \
             namespaces failed: {err}\n  (hint: abovo never builds without its sandbox; \
             user namespaces must be allowed: see /proc/sys/user/max_user_namespaces, and \
             on Ubuntu the sysctl kernel.apparmor_restrict_unprivileged_userns)",
            if spec.network { "" } else { " and network" }
        ));
    }
    if pid == 0 {
        drop(go_w);
        let err = match sandbox_child(&spec, filter.as_ref(), go_r) {
            Ok(never) => match never {},
            Err(e) => e,
        };
        let _ = writeln!(
            status,
            "error: while setting up the build environment: {err}"
        );
        // SAFETY: leave without running destructors or atexit handlers of
        // the helper copy.
        unsafe { libc::_exit(1) }
    }
    drop(go_r);
    let pid = pid as i32;
    let _ = writeln!(status, "pid {pid}");
    let _ = status.flush();
    if let Err(e) = write_id_maps(pid, &spec) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
        return Err(format!("cannot set up the build user: {e}"));
    }
    let mut go = File::from(go_w);
    let _ = go.write_all(b"go\n");
    drop(go);
    // From here on only the sandbox holds the status pipe; it closes on exec.
    // SAFETY: closing our copy of descriptor 3, which `status` wraps and is
    // not used again.
    unsafe { libc::close(STATUS_FD) };
    std::mem::forget(std::mem::replace(status, devnull_file()));
    wait_and_mirror(pid)
}

fn devnull_file() -> File {
    File::open("/dev/null").unwrap_or_else(|_| {
        // SAFETY: -1 is never a valid descriptor; writes fail harmlessly.
        unsafe { File::from_raw_fd(-1) }
    })
}

fn write_id_maps(pid: i32, spec: &SandboxSpec) -> std::io::Result<()> {
    let proc = PathBuf::from(format!("/proc/{pid}"));
    std::fs::write(
        proc.join("uid_map"),
        format!("{GUEST_UID} {} 1", spec.host_uid),
    )?;
    std::fs::write(proc.join("setgroups"), "deny")?;
    std::fs::write(
        proc.join("gid_map"),
        format!("{GUEST_GID} {} 1", spec.host_gid),
    )?;
    Ok(())
}

/// Waits for the sandbox and leaves the way it left.
fn wait_and_mirror(pid: i32) -> Result<i32, String> {
    use nix::sys::wait::{WaitStatus, waitpid};
    let pid = nix::unistd::Pid::from_raw(pid);
    loop {
        match waitpid(pid, None) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(code),
            Ok(WaitStatus::Signaled(_, sig, _)) => {
                // SAFETY: restoring the default action and raising the same
                // signal on ourselves; if we survive, fall back to 128+n.
                unsafe {
                    libc::signal(sig as i32, libc::SIG_DFL);
                    libc::raise(sig as i32);
                }
                return Ok(128 + sig as i32);
            }
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(format!("waitpid: {e}")),
        }
    }
}

enum Never {}

fn sandbox_child(
    spec: &SandboxSpec,
    filter: Option<&super::seccomp::Filter>,
    go_r: OwnedFd,
) -> Result<Never, String> {
    // Wait until the helper has written our id maps.
    let mut go = [0u8; 3];
    let mut f = File::from(go_r);
    f.read_exact(&mut go)
        .map_err(|e| format!("the helper did not start the build: {e}"))?;
    drop(f);

    nix::unistd::setsid().map_err(|e| format!("setsid: {e}"))?;
    if !spec.network {
        loopback_up().map_err(|e| format!("cannot bring up the loopback interface: {e}"))?;
    }
    nix::unistd::sethostname("localhost").map_err(|e| format!("sethostname: {e}"))?;
    // SAFETY: a valid buffer and its length.
    if unsafe { libc::setdomainname(c"(none)".as_ptr(), 6) } != 0 {
        return Err(format!(
            "setdomainname: {}",
            std::io::Error::last_os_error()
        ));
    }

    let root = &spec.chroot;
    let none: Option<&str> = None;
    mount(none, "/", none, MsFlags::MS_REC | MsFlags::MS_PRIVATE, none)
        .map_err(|e| format!("cannot make / private: {e}"))?;
    bind(root, root)?;
    let store = chroot::inside(root, &spec.store_dir);
    bind(&store, &store)?;
    let tmp = root.join("tmp");
    bind(&tmp, &tmp)?;
    bind(
        &spec.build_dir,
        &chroot::inside(root, &spec.sandbox_build_dir),
    )?;
    for (input, path) in &spec.inputs {
        if chroot::is_bound(input) {
            let target = chroot::inside(root, path);
            bind_recursive(input, &target)?;
            remount_read_only(&target)?;
        }
    }
    for file in &spec.host_files {
        let target = chroot::inside(root, file);
        bind(file, &target)?;
        remount_read_only(&target)?;
    }
    for name in chroot::DEVICES {
        let host = Path::new("/dev").join(name);
        if host.exists() {
            bind(&host, &root.join("dev").join(name))?;
        }
    }
    mount(
        Some("none"),
        &root.join("proc"),
        Some("proc"),
        MsFlags::empty(),
        none,
    )
    .map_err(|e| format!("cannot mount /proc: {e}"))?;
    mount(
        Some("none"),
        &root.join("dev/shm"),
        Some("tmpfs"),
        MsFlags::empty(),
        none,
    )
    .map_err(|e| format!("cannot mount /dev/shm: {e}"))?;
    if Path::new("/dev/pts/ptmx").exists() {
        let pts = root.join("dev/pts");
        mount(
            Some("none"),
            &pts,
            Some("devpts"),
            MsFlags::empty(),
            Some("newinstance,mode=0620"),
        )
        .map_err(|e| format!("cannot mount /dev/pts: {e}"))?;
        let ptmx = pts.join("ptmx");
        std::fs::set_permissions(&ptmx, std::os::unix::fs::PermissionsExt::from_mode(0o666))
            .map_err(|e| format!("cannot chmod {}: {e}", ptmx.display()))?;
    }

    nix::unistd::chdir(root).map_err(|e| format!("chdir: {e}"))?;
    std::fs::create_dir("real-root").map_err(|e| format!("mkdir real-root: {e}"))?;
    nix::unistd::pivot_root(".", "real-root").map_err(|e| format!("pivot_root: {e}"))?;
    nix::unistd::chroot(".").map_err(|e| format!("chroot: {e}"))?;
    umount2("real-root", MntFlags::MNT_DETACH).map_err(|e| format!("umount real-root: {e}"))?;
    std::fs::remove_dir("real-root").map_err(|e| format!("rmdir real-root: {e}"))?;
    remount_read_only(Path::new("/"))?;
    nix::unistd::chdir(&spec.sandbox_build_dir)
        .map_err(|e| format!("chdir {}: {e}", spec.sandbox_build_dir.display()))?;

    // As guix-daemon: if memory runs out, the builder goes first, not
    // abovo. Raising one's own score needs no privilege.
    let _ = std::fs::write("/proc/self/oom_score_adj", "1000");
    // SAFETY: plain system calls on our own process.
    unsafe {
        // Every descriptor but 0-2 closes on exec (the status pipe too).
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        );
        if spec.personality32 {
            // PER_LINUX32 from <sys/personality.h>.
            libc::personality(0x0008);
        }
        let persona = libc::personality(0xffff_ffff);
        if persona >= 0 {
            libc::personality(
                (persona as libc::c_ulong) | libc::ADDR_NO_RANDOMIZE as libc::c_ulong,
            );
        }
        libc::umask(0o022);
        let zero = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::setrlimit(libc::RLIMIT_CORE, &zero);
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        );
        libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    }
    nix::unistd::setgid(nix::unistd::Gid::from_raw(GUEST_GID))
        .map_err(|e| format!("setgid {GUEST_GID}: {e}"))?;
    nix::unistd::setuid(nix::unistd::Uid::from_raw(GUEST_UID))
        .map_err(|e| format!("setuid {GUEST_UID}: {e}"))?;
    lock_mounts(&spec.sandbox_build_dir)?;
    // Changing credentials (and user namespaces) clears the parent-death
    // signal, so set it now.
    // SAFETY: a plain prctl on ourselves.
    unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        )
    };

    let builder = cstring(spec.builder.as_os_str().as_bytes())?;
    let argv0 = spec
        .builder
        .file_name()
        .map(|n| n.as_bytes().to_vec())
        .unwrap_or_default();
    let mut argv = vec![cstring(&argv0)?];
    for a in &spec.args {
        argv.push(cstring(a)?);
    }
    let mut envp = Vec::with_capacity(spec.env.len());
    for (k, v) in &spec.env {
        let mut kv = k.clone();
        kv.push(b'=');
        kv.extend_from_slice(v);
        envp.push(cstring(&kv)?);
    }
    // Last, so that nothing above runs under it.
    if let Some(filter) = filter {
        filter.install().map_err(|e| e.to_string())?;
    }
    let err = nix::unistd::execve(&builder, &argv, &envp)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    Err(format!("executing `{}`: {err}", spec.builder.display()))
}

/// Locks the mounts together, as Guix's daemon does since 2025: a new user
/// namespace (owned by the builder's uid, with the identity map 30001 → 30001
/// and 30000 → 30000) and a new mount namespace in it. Mounts that reach a
/// mount namespace owned by a less privileged user namespace are locked
/// (`mount_namespaces(7)`): none of them can be unmounted to uncover what
/// lies beneath, and their read-only flag cannot be cleared, whatever
/// capabilities are held in the new namespace. As Guix, check that it
/// worked: unmounting the build directory must fail with `EINVAL`, even
/// with every capability this process still holds.
///
/// A side effect: `/proc/self/uid_map` shows `30001 30001 1` to the builder
/// in every mode, instead of the host uid it maps to.
fn lock_mounts(build_dir: &Path) -> Result<(), String> {
    // After setuid from root (root mode), the kernel made this process
    // non-dumpable, which gives its /proc/self files to root; the builder
    // is dumpable again after execve anyway (and RLIMIT_CORE is 0).
    // SAFETY: a plain prctl on ourselves.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0) };
    nix::sched::unshare(
        nix::sched::CloneFlags::CLONE_NEWNS | nix::sched::CloneFlags::CLONE_NEWUSER,
    )
    .map_err(|e| format!("cannot lock the mounts: unshare(user, mount): {e}"))?;
    let write = |file: &str, text: String| {
        std::fs::write(format!("/proc/self/{file}"), &text).map_err(|e| {
            format!("cannot lock the mounts: write `{text}` to /proc/self/{file}: {e}")
        })
    };
    write("setgroups", "deny".into())?;
    write("uid_map", format!("{GUEST_UID} {GUEST_UID} 1"))?;
    write("gid_map", format!("{GUEST_GID} {GUEST_GID} 1"))?;
    match umount2(build_dir, MntFlags::empty()) {
        Err(nix::errno::Errno::EINVAL) => Ok(()),
        Ok(()) => Err(format!(
            "the mounts are not locked: `{}` could be unmounted",
            build_dir.display()
        )),
        Err(e) => Err(format!(
            "the mounts are not locked: unmounting `{}` failed with {e} instead of EINVAL",
            build_dir.display()
        )),
    }
}

fn cstring(bytes: &[u8]) -> Result<CString, String> {
    CString::new(bytes)
        .map_err(|_| format!("`{}` contains a NUL byte", String::from_utf8_lossy(bytes)))
}

fn bind(source: &Path, target: &Path) -> Result<(), String> {
    let none: Option<&str> = None;
    mount(Some(source), target, none, MsFlags::MS_BIND, none).map_err(|e| {
        format!(
            "cannot bind-mount `{}` on `{}`: {e}",
            source.display(),
            target.display()
        )
    })
}

fn bind_recursive(source: &Path, target: &Path) -> Result<(), String> {
    let none: Option<&str> = None;
    mount(
        Some(source),
        target,
        none,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        none,
    )
    .map_err(|e| {
        format!(
            "cannot bind-mount `{}` on `{}`: {e}",
            source.display(),
            target.display()
        )
    })
}

/// Remounts a bind mount read-only, keeping the flags a user namespace is
/// not allowed to clear (nosuid, nodev, noexec, the atime flags).
fn remount_read_only(target: &Path) -> Result<(), String> {
    let st = nix::sys::statvfs::statvfs(target)
        .map_err(|e| format!("statvfs `{}`: {e}", target.display()))?;
    use nix::sys::statvfs::FsFlags;
    let f = st.flags();
    let mut flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
    for (from, to) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if f.contains(from) {
            flags |= to;
        }
    }
    let none: Option<&str> = None;
    mount(none, target, none, flags, none)
        .map_err(|e| format!("cannot remount `{}` read-only: {e}", target.display()))
}

/// `ip link set lo up`, with the ioctl the daemon uses.
fn loopback_up() -> std::io::Result<()> {
    // SAFETY: a socket we own, an ifreq we initialise, and ioctls that only
    // read and write that struct.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let fd = OwnedFd::from_raw_fd(fd);
        let mut req: libc::ifreq = std::mem::zeroed();
        for (i, b) in b"lo".iter().enumerate() {
            req.ifr_name[i] = *b as libc::c_char;
        }
        req.ifr_ifru.ifru_flags = (libc::IFF_UP | libc::IFF_LOOPBACK | libc::IFF_RUNNING) as i16;
        if libc::ioctl(fd.as_raw_fd(), libc::SIOCSIFFLAGS, &req) < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}
