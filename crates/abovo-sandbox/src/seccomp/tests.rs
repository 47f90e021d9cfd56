//! The filter, installed in a forked child that tries the calls it denies
//! and the ones it must let through, natively and (on x86_64) through the
//! i386 and x32 ABIs.

use super::*;
use std::ffi::CString;

#[test]
fn seccompilers_architecture_check_is_what_is_removed() {
    assert_eq!(arch_check_len().unwrap(), 3);
    let f = Filter::for_host().unwrap();
    assert_eq!(f.programs.len(), 2);
    assert!(f.len() > 20 && f.len() < 400, "{} instructions", f.len());
    // Every program starts with the dispatch on the architecture.
    for p in &f.programs {
        assert_eq!((p[0].code, p[0].k), (LD_W_ABS, DATA_ARCH));
    }
}

#[cfg(target_arch = "x86_64")]
#[test]
fn syscall_numbers_match_libc() {
    assert_eq!(X86_64.chmod, Some(libc::SYS_chmod));
    assert_eq!(X86_64.fchmod, libc::SYS_fchmod);
    assert_eq!(X86_64.fchmodat, libc::SYS_fchmodat);
    assert_eq!(
        X86_64.xattr,
        [
            libc::SYS_setxattr,
            libc::SYS_lsetxattr,
            libc::SYS_fsetxattr,
            libc::SYS_getxattr,
            libc::SYS_lgetxattr,
            libc::SYS_fgetxattr,
            libc::SYS_listxattr,
            libc::SYS_llistxattr,
            libc::SYS_flistxattr,
            libc::SYS_removexattr,
            libc::SYS_lremovexattr,
            libc::SYS_fremovexattr,
        ]
    );
}

/// A system call through the i386 ABI from a 64-bit process (`int 0x80`),
/// which the kernel and seccomp see as `AUDIT_ARCH_I386`. Pointers must be
/// below 4 GiB.
#[cfg(target_arch = "x86_64")]
unsafe fn int80(nr: u32, a: u32, b: u32, c: u32, d: u32, e: u32) -> i32 {
    let ret: u64;
    // SAFETY: the caller passes arguments valid for the call; rbx cannot be
    // named as an operand, so the first argument is swapped in and out.
    unsafe {
        core::arch::asm!(
            "xchg {a}, rbx",
            "int 0x80",
            "xchg {a}, rbx",
            a = inout(reg) u64::from(a) => _,
            inlateout("rax") u64::from(nr) => ret,
            in("rcx") u64::from(b),
            in("rdx") u64::from(c),
            in("rsi") u64::from(d),
            in("rdi") u64::from(e),
        );
    }
    ret as u32 as i32
}

/// What the child saw: one errno (0 for success) per attempt.
const ATTEMPTS: [&str; 14] = [
    "chmod 4755",
    "chmod 2755",
    "chmod 0755",
    "fchmod 4755",
    "fchmodat 2755",
    "fchmodat2 6755",
    "setxattr",
    "getxattr",
    "listxattr",
    "removexattr",
    "i386 chmod 4755",
    "i386 chmod 0755",
    "i386 setxattr",
    "x32 getpid",
];

fn errno_of(r: libc::c_long) -> i32 {
    if r < 0 {
        std::io::Error::last_os_error().raw_os_error().unwrap_or(-1)
    } else {
        0
    }
}

#[test]
fn the_filter_denies_setuid_bits_and_xattrs_and_allows_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f");
    std::fs::write(&file, "x").unwrap();
    let path = CString::new(file.to_str().unwrap()).unwrap();
    let filter = Filter::for_host().unwrap();
    // Memory below 4 GiB for the i386 calls: the path, an attribute name
    // and a value.
    #[cfg(target_arch = "x86_64")]
    let low = unsafe {
        // SAFETY: a fresh anonymous mapping.
        let p = libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_32BIT,
            -1,
            0,
        );
        assert_ne!(p, libc::MAP_FAILED);
        let p = p as *mut u8;
        let bytes = path.as_bytes_with_nul();
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len());
        std::ptr::copy_nonoverlapping(c"user.abovo".as_ptr().cast::<u8>(), p.add(2048), 11);
        p as usize as u32
    };
    let (mut r, w) = std::io::pipe().unwrap();
    use std::os::fd::AsRawFd;
    let wfd = w.as_raw_fd();
    // SAFETY: the child makes only system calls (no allocation) and leaves
    // with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        let mut out = [0i32; ATTEMPTS.len() + 1];
        // SAFETY: plain system calls on our own files.
        unsafe {
            #[cfg(target_arch = "x86_64")]
            {
                // 20 = getpid: does this kernel run i386 calls at all?
                out[ATTEMPTS.len()] = i32::from(int80(20, 0, 0, 0, 0, 0) > 0);
            }
            if filter.install().is_err() {
                libc::_exit(3);
            }
            let p = path.as_ptr();
            out[0] = errno_of(libc::chmod(p, 0o4755) as libc::c_long);
            out[1] = errno_of(libc::chmod(p, 0o2755) as libc::c_long);
            out[2] = errno_of(libc::chmod(p, 0o755) as libc::c_long);
            let fd = libc::open(p, libc::O_RDONLY);
            out[3] = errno_of(libc::fchmod(fd, 0o4755) as libc::c_long);
            out[4] = errno_of(libc::fchmodat(libc::AT_FDCWD, p, 0o2755, 0) as libc::c_long);
            out[5] = errno_of(libc::syscall(FCHMODAT2, libc::AT_FDCWD, p, 0o6755, 0));
            let name = c"user.abovo".as_ptr();
            out[6] = errno_of(libc::setxattr(p, name, b"v".as_ptr().cast(), 1, 0) as libc::c_long);
            let mut buf = [0u8; 64];
            out[7] = errno_of(libc::getxattr(p, name, buf.as_mut_ptr().cast(), 64) as libc::c_long);
            out[8] = errno_of(libc::listxattr(p, buf.as_mut_ptr().cast(), 64) as libc::c_long);
            out[9] = errno_of(libc::removexattr(p, name) as libc::c_long);
            #[cfg(target_arch = "x86_64")]
            {
                let neg = |r: i32| if r < 0 { -r } else { 0 };
                out[10] = neg(int80(15, low, 0o4755, 0, 0, 0));
                out[11] = neg(int80(15, low, 0o755, 0, 0, 0));
                out[12] = neg(int80(226, low, low + 2048, low + 2048, 1, 0));
                out[13] = errno_of(libc::syscall(0x4000_0000 | libc::SYS_getpid));
            }
            let bytes =
                std::slice::from_raw_parts(out.as_ptr().cast::<u8>(), std::mem::size_of_val(&out));
            libc::write(wfd, bytes.as_ptr().cast(), bytes.len());
            libc::_exit(0);
        }
    }
    drop(w);
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut r, &mut bytes).unwrap();
    let mut status = 0;
    // SAFETY: waiting for our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "child status {status:#x}"
    );
    let got: Vec<i32> = bytes
        .chunks_exact(4)
        .map(|c| i32::from_ne_bytes(c.try_into().unwrap()))
        .collect();
    let (eperm, enotsup, enosys) = (libc::EPERM, libc::ENOTSUP, libc::ENOSYS);
    let want = [
        eperm, eperm, 0, eperm, eperm, eperm, enotsup, enotsup, enotsup, enotsup,
    ];
    for (i, w) in want.iter().enumerate() {
        assert_eq!(got[i], *w, "{}", ATTEMPTS[i]);
    }
    if cfg!(target_arch = "x86_64") {
        if got[ATTEMPTS.len()] == 1 {
            assert_eq!(got[10], eperm, "i386 chmod 4755");
            assert_eq!(got[11], 0, "i386 chmod 0755");
            assert_eq!(got[12], enotsup, "i386 setxattr");
        } else {
            eprintln!("i386 part skipped: this kernel does not run i386 system calls");
        }
        assert_eq!(got[13], enosys, "x32 calls are denied");
    }
    // Without the filter the bits are allowed: the denial came from it.
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o4755)).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o7777,
        0o4755
    );
}
