//! The system calls that only `unsafe` code can make, each result checked.
//! Everything else goes through rustix's safe functions.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::Command;

/// Which side of a [`clone_into_namespaces`] this is.
pub(crate) enum Forked {
    /// The new process.
    Child,
    /// The caller; the new process's PID.
    Parent(i32),
}

/// `clone(flags | SIGCHLD)` without `CLONE_VM` and with a null stack, which
/// behaves like `fork()` into new namespaces (`flags` are `CLONE_NEW*`).
///
/// Must be called from a process with a single thread: the child is a copy
/// of the calling thread only, and may then allocate and take locks.
pub(crate) fn clone_into_namespaces(flags: libc::c_int) -> io::Result<Forked> {
    // SAFETY: without CLONE_VM the child gets its own copy of the address
    // space, as with fork(), so a null stack means "the same stack pointer
    // in the copy". The caller (the helper) has one thread, so no lock held
    // by another thread is copied in a locked state.
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
    match pid {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        pid => i32::try_from(pid)
            .map(Forked::Parent)
            .map_err(|_| io::Error::other(format!("clone returned a PID out of range: {pid}"))),
    }
}

/// `personality(persona)`: sets the execution domain, returns the previous
/// one. `0xffffffff` only reads it.
pub(crate) fn personality(persona: libc::c_ulong) -> io::Result<libc::c_int> {
    // SAFETY: personality takes a plain integer and touches no memory.
    let previous = unsafe { libc::personality(persona) };
    if previous == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(previous)
}

/// `ip link set lo up`, with the `ioctl` guix-daemon uses.
pub(crate) fn loopback_up() -> io::Result<()> {
    // SAFETY: socket takes integers; the result is checked and owned below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: ifreq is plain old data, valid when zeroed.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (slot, b) in req.ifr_name.iter_mut().zip(b"lo") {
        *slot = *b as libc::c_char;
    }
    req.ifr_ifru.ifru_flags = (libc::IFF_UP | libc::IFF_LOOPBACK | libc::IFF_RUNNING) as i16;
    // SAFETY: SIOCSIFFLAGS reads the ifreq we own for the duration of the
    // call.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::SIOCSIFFLAGS, &req) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `close_range(first, ~0, CLOSE_RANGE_CLOEXEC)`: every descriptor from
/// `first` up closes on exec (Linux 5.11).
pub(crate) fn close_range_cloexec(first: u32) -> io::Result<()> {
    // SAFETY: close_range only changes the descriptor table's flags.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Marks descriptor `fd` close-on-exec (the fallback of
/// [`close_range_cloexec`]).
pub(crate) fn set_close_on_exec(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on an integer; a descriptor that is not open gives
    // EBADF, which the caller handles.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `unshare(CLONE_NEWUSER | CLONE_NEWNS)`: new user and mount namespaces
/// for the calling thread (the sandbox's only one).
pub(crate) fn unshare_user_and_mount() -> io::Result<()> {
    use rustix::thread::UnshareFlags;
    // SAFETY: unshare_unsafe is unsafe only for CLONE_FILES, which could
    // leave other threads with descriptors of another table; it is not
    // asked for, and the sandbox has a single thread anyway.
    unsafe { rustix::thread::unshare_unsafe(UnshareFlags::NEWUSER | UnshareFlags::NEWNS) }
        .map_err(io::Error::from)
}

/// Every signal's action back to the default (those ignored survive
/// `execve`), so that the builder does not inherit whatever the process
/// that started abovo ignored (a shell's background job ignores `SIGINT`
/// and `SIGQUIT`). `SIGKILL` and `SIGSTOP` cannot be changed and are
/// skipped.
///
/// Through the raw system call, because the C library refuses the two
/// real-time signals it reserves (32 and 33), which may be ignored too.
pub(crate) fn reset_signal_actions() -> io::Result<()> {
    // The kernel's `struct sigaction` (handler, flags, restorer, mask on
    // x86_64 and the generic ABI): all zero is SIG_DFL, no flag, nothing
    // blocked.
    let default = [0usize; 4];
    for signal in 1..=64 {
        if signal == libc::SIGKILL || signal == libc::SIGSTOP {
            continue;
        }
        // SAFETY: rt_sigaction reads the zeroed struct we own and writes
        // nothing (null old action); the size is that of the kernel's
        // sigset_t.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                signal,
                default.as_ptr(),
                std::ptr::null_mut::<libc::c_void>(),
                8usize,
            )
        };
        if rc != 0 {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(e.kind(), format!("signal {signal}: {e}")));
        }
    }
    Ok(())
}

/// The capabilities in this thread's bounding set (numbers up to the
/// kernel's last).
pub(crate) fn bounding_set() -> io::Result<Vec<u32>> {
    let last: u32 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")?
        .trim()
        .parse()
        .map_err(io::Error::other)?;
    let mut set = Vec::new();
    for cap in 0..=last {
        // SAFETY: PR_CAPBSET_READ takes an integer and touches no memory.
        match unsafe { libc::prctl(libc::PR_CAPBSET_READ, cap as libc::c_ulong, 0, 0, 0) } {
            1 => set.push(cap),
            0 => {}
            _ => return Err(io::Error::last_os_error()),
        }
    }
    Ok(set)
}

/// Drops from this thread's bounding set every capability not in `keep`
/// (a new user namespace starts with all of them).
pub(crate) fn restrict_bounding_set(keep: &[u32]) -> io::Result<()> {
    let last: u32 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")?
        .trim()
        .parse()
        .map_err(io::Error::other)?;
    for cap in (0..=last).filter(|c| !keep.contains(c)) {
        // SAFETY: PR_CAPBSET_DROP takes an integer and touches no memory.
        if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Leaves at once with `code`, running no destructor and no `atexit`
/// handler of the process this one was copied from.
pub(crate) fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and needs nothing from us.
    unsafe { libc::_exit(code) }
}

/// Dies of `signal` as the sandbox did: the default action restored, the
/// signal raised. If that does not kill (a signal whose default is to
/// ignore, which wait never reports), exits with 128 + `signal`.
pub(crate) fn die_of(signal: i32) -> ! {
    // SAFETY: SIG_DFL is a valid disposition for any signal; raise sends a
    // signal to ourselves.
    unsafe {
        if libc::signal(signal, libc::SIG_DFL) != libc::SIG_ERR {
            libc::raise(signal);
        }
    }
    exit_now(128 + signal)
}

/// The status pipe the helper inherits as descriptor 3, once checked to be
/// open.
pub(crate) fn status_pipe(fd: RawFd) -> io::Result<File> {
    // SAFETY: only borrowed for the check below, while nothing closes it.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    rustix::io::fcntl_getfd(borrowed)?;
    // SAFETY: descriptor `fd` is open (checked) and, by contract with
    // `run`, is the status pipe, which nothing else in the helper owns.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// Makes `status` descriptor 3 of the helper `cmd` starts, and has the
/// helper killed if its parent dies.
pub(crate) fn pass_status_pipe(cmd: &mut Command, status: RawFd) {
    // SAFETY: between fork and exec only async-signal-safe calls are made
    // (dup2, prctl), on integers; no allocation, no lock.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(status, crate::helper::STATUS_FD) < 0 {
                return Err(io::Error::last_os_error());
            }
            // If the caller dies, the helper dies, and with it the sandbox.
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}
