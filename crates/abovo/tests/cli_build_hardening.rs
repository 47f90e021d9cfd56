//! The sandbox's hardening: the system call filter (Nix's, when asked),
//! mounts that cannot be undone (as root, a build user without
//! capabilities; without privileges, locked in a nested user namespace as
//! Guix's 2025 daemon does), and the process state a builder starts with.
//!
//! Calls busybox has no applet for (setxattr, the i386 ABI, creating a
//! setuid file with `creat`) are made by tiny static ELF programs written by
//! the test ([`tiny_elf`]), each making one call and exiting with its errno.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod cli_build_support;

use cli_build_support::{Abi, Arg, TestStore, tiny_elf};
use serde_json::json;
use std::os::unix::fs::MetadataExt;

const ENOTSUP: i32 = 95;
const EPERM: i32 = 1;
const EBADF: i32 = 9;

fn read(dir: &str, name: &str) -> String {
    std::fs::read_to_string(format!("{dir}/{name}"))
        .unwrap_or_else(|e| panic!("{dir}/{name}: {e}"))
        .trim()
        .to_owned()
}

fn code(dir: &str, name: &str) -> i32 {
    read(dir, name).parse().unwrap()
}

#[test]
fn the_syscall_filter_denies_setuid_bits_and_xattrs_when_asked() {
    let mut t = TestStore::new();
    if t.add_busybox("the_syscall_filter_denies_setuid_bits_and_xattrs_when_asked")
        .is_none()
    {
        return;
    }
    let xattr_args = [
        Arg::Str("f"),
        Arg::Str("user.abovo"),
        Arg::Str("v"),
        Arg::Int(1),
        Arg::Int(0),
    ];
    let tools = t.add_tools(
        "syscalls",
        &[
            ("setxattr", tiny_elf(Abi::X86_64, 188, &xattr_args)),
            (
                "getxattr",
                tiny_elf(
                    Abi::X86_64,
                    191,
                    &[
                        Arg::Str("f"),
                        Arg::Str("user.none"),
                        Arg::Int(0),
                        Arg::Int(0),
                    ],
                ),
            ),
            // i386: close(-1) tells whether the kernel runs i386 calls.
            ("i386-probe", tiny_elf(Abi::I386, 6, &[Arg::Int(u32::MAX)])),
            (
                "i386-chmod-suid",
                tiny_elf(Abi::I386, 15, &[Arg::Str("f"), Arg::Int(0o4755)]),
            ),
            (
                "i386-chmod-755",
                tiny_elf(Abi::I386, 15, &[Arg::Str("f"), Arg::Int(0o755)]),
            ),
            ("i386-setxattr", tiny_elf(Abi::I386, 226, &xattr_args)),
        ],
    );
    let script = "$bb mkdir $out; echo x > f
        $bb chmod u+s f 2> $out/chmod-u+s.err; echo $? > $out/chmod-u+s
        $bb chmod g+s f 2> $out/chmod-g+s.err; echo $? > $out/chmod-g+s
        $bb chmod 755 f; echo $? > $out/chmod-755; $bb stat -c %a f > $out/mode
        for p in setxattr getxattr i386-probe i386-chmod-suid i386-chmod-755 i386-setxattr; do
          $tools/$p; echo $? > $out/$p
        done
        $bb grep -E '^(Seccomp|NoNewPrivs)' /proc/self/status > $out/status";
    let drv = t.add_drv(&t.sh_drv(
        "syscalls",
        script,
        json!({"inputSrcs": [tools], "env": {"tools": tools}}),
    ));
    let o = t.ok(&["build", "--syscall-filter", &drv]).trim().to_owned();
    for bit in ["u+s", "g+s"] {
        assert_eq!(
            code(&o, &format!("chmod-{bit}")),
            1,
            "chmod {bit} must fail"
        );
        let err = read(&o, &format!("chmod-{bit}.err"));
        assert!(err.contains("Operation not permitted"), "{err}");
    }
    assert_eq!(code(&o, "chmod-755"), 0, "chmod 755 works");
    assert_eq!(read(&o, "mode"), "755");
    assert_eq!(code(&o, "setxattr"), ENOTSUP);
    assert_eq!(code(&o, "getxattr"), ENOTSUP);
    if code(&o, "i386-probe") == EBADF {
        assert_eq!(code(&o, "i386-chmod-suid"), EPERM, "i386 chmod u+s");
        assert_eq!(code(&o, "i386-chmod-755"), 0, "i386 chmod 755");
        assert_eq!(code(&o, "i386-setxattr"), ENOTSUP, "i386 setxattr");
    } else {
        eprintln!("i386 part skipped: this kernel does not run i386 system calls");
    }
    let status = read(&o, "status");
    assert!(status.contains("NoNewPrivs:\t1"), "{status}");
    assert!(status.contains("Seccomp:\t2"), "{status}");

    // The default, as guix-daemon: no filter, so the same builder may set
    // the bits (the rebuild differs, and -K keeps it at OUT-check, where
    // canonicalisation cleared them).
    let out = t.run(&["build", "--check", "-K", &drv]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let other = format!("{o}-check");
    assert_eq!(
        code(&other, "chmod-u+s"),
        0,
        "without the filter, u+s is allowed"
    );
    assert_eq!(
        code(&other, "chmod-g+s"),
        0,
        "without the filter, g+s is allowed"
    );
    let status = read(&other, "status");
    assert!(status.contains("Seccomp:\t0"), "{status}");
    assert!(status.contains("NoNewPrivs:\t0"), "{status}");
    for f in ["chmod-u+s", "chmod-g+s"] {
        let m = std::fs::metadata(format!("{other}/{f}")).map(|m| m.mode() & 0o7000);
        assert!(m.map_or(true, |bits| bits == 0), "{f}");
    }
    if code(&other, "setxattr") == ENOTSUP {
        eprintln!("note: the build directory's file system has no user xattrs");
    }
}

#[test]
fn setuid_files_created_without_chmod_are_canonicalised() {
    // The filter does not look at the mode of open/creat (openat2 passes it
    // in a structure a filter cannot read): canonicalisation is what
    // guarantees no setuid file reaches the store.
    let mut t = TestStore::new();
    if t.add_busybox("setuid_files_created_without_chmod_are_canonicalised")
        .is_none()
    {
        return;
    }
    let tools = t.add_tools(
        "creat",
        &[
            (
                "creat-suid",
                tiny_elf(Abi::X86_64, 85, &[Arg::Str("suid"), Arg::Int(0o4755)]),
            ),
            (
                "creat-sgid",
                tiny_elf(Abi::X86_64, 85, &[Arg::Str("sgid"), Arg::Int(0o2644)]),
            ),
        ],
    );
    let script = "$bb mkdir $out; cd $out; $tools/creat-suid; $tools/creat-sgid
        $bb stat -c %a suid sgid > $NIX_BUILD_TOP/modes; $bb cp $NIX_BUILD_TOP/modes $out/modes";
    let drv = t.add_drv(&t.sh_drv(
        "creat",
        script,
        json!({"inputSrcs": [tools], "env": {"tools": tools}}),
    ));
    let o = t.ok(&["build", &drv]).trim().to_owned();
    assert_eq!(
        read(&o, "modes"),
        "4755\n2644",
        "the builder did create the special bits"
    );
    let mode = |p: &str| std::fs::metadata(format!("{o}/{p}")).unwrap().mode() & 0o7777;
    assert_eq!(mode("suid"), 0o555);
    assert_eq!(mode("sgid"), 0o444);
}

fn locked_mounts(user: Option<u32>, test: &str) {
    let mut t = TestStore::with_user(user);
    if t.add_busybox(test).is_none() {
        return;
    }
    let script = "$bb mkdir $out
        try() { name=$1; shift; if \"$@\" 2> $out/$name.err; then echo allowed; else echo denied; fi > $out/$name; }
        try umount-input $bb umount $busybox
        try umount-lazy-input $bb umount -l $busybox
        try umount-build-dir $bb umount -l $NIX_BUILD_TOP
        try nested-umount-input $bb unshare -r -m $bb umount -l $busybox
        try nested-umount-store $bb unshare -r -m $bb umount -l $NIX_STORE
        try nested-remount-input-rw $bb unshare -r -m $bb mount -o remount,rw,bind $busybox
        try nested-works $bb unshare -r -m $bb true
        $bb cat /proc/self/uid_map | $bb tr -s ' ' > $out/uid_map
        $bb cat /proc/self/gid_map | $bb tr -s ' ' > $out/gid_map
        $bb grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status > $out/caps
        ulimit -c > $out/core
        $bb cat /proc/self/oom_score_adj > $out/oom";
    let drv = t.add_drv(&t.sh_drv("locked", script, json!({"env": {"busybox": t.busybox}})));
    let o = t.ok(&["build", &drv]).trim().to_owned();
    for name in [
        "umount-input",
        "umount-lazy-input",
        "umount-build-dir",
        "nested-umount-input",
        "nested-umount-store",
        "nested-remount-input-rw",
    ] {
        assert_eq!(
            read(&o, name),
            "denied",
            "{name}: {}",
            read(&o, &format!("{name}.err"))
        );
    }
    // A positive control: the nested namespace itself can be made, so the
    // denials above come from the locked mounts.
    assert_eq!(read(&o, "nested-works"), "allowed");
    // As root the builder's user namespace maps every id to itself, as the
    // initial namespace where guix-daemon's build users run, except that
    // the build user's host uid and 30001 trade places when another test's
    // build holds the first build user (`helper::permutation_map`, and
    // `every_root_build_is_uid_30001_whichever_build_user_runs_it`).
    // Without privileges the nested namespace that locks the mounts maps
    // the guest ids to themselves (the host uid does not show).
    let words = |name: &str| -> Vec<u64> {
        read(&o, name)
            .split_whitespace()
            .map(|w| w.parse().unwrap())
            .collect()
    };
    let (uid_map, gid_map) = (words("uid_map"), words("gid_map"));
    if user.is_none() && is_root() {
        assert_eq!(gid_map, [0, 0, 4294967295]);
        if uid_map != [0, 0, 4294967295] {
            let guest_line = uid_map
                .chunks(3)
                .find(|l| l[0] == 30001)
                .unwrap_or_else(|| panic!("{uid_map:?}"));
            assert!((30002..30065).contains(&guest_line[1]), "{uid_map:?}");
            assert_eq!(guest_line[2], 1, "{uid_map:?}");
            let covered: u64 = uid_map.chunks(3).map(|l| l[2]).sum();
            assert_eq!(covered, 4294967295, "{uid_map:?}");
        }
    } else {
        assert_eq!(uid_map, [30001, 30001, 1]);
        assert_eq!(gid_map, [30000, 30000, 1]);
    }
    let caps = read(&o, "caps");
    for field in ["CapInh", "CapPrm", "CapEff", "CapAmb"] {
        assert!(
            caps.contains(&format!("{field}:\t0000000000000000")),
            "{field}: {caps}"
        );
    }
    assert_eq!(read(&o, "core"), "0");
    assert_eq!(
        read(&o, "oom"),
        "1000",
        "the builder is the first OOM victim"
    );
}

#[test]
fn mounts_are_locked_and_no_capability_is_left() {
    locked_mounts(None, "mounts_are_locked_and_no_capability_is_left");
}

#[test]
fn mounts_are_locked_and_no_capability_is_left_rootless() {
    if std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(1)
        != 0
    {
        eprintln!(
            "mounts_are_locked_and_no_capability_is_left_rootless: skipped: needs root to run as uid 65534"
        );
        return;
    }
    locked_mounts(
        Some(65534),
        "mounts_are_locked_and_no_capability_is_left_rootless",
    );
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(1)
        == 0
}

#[test]
fn a_builder_outside_the_store_is_refused() {
    // CVE-2019-5736's pattern: `..` out of an input to run /proc/self/exe,
    // which is abovo itself.
    let mut t = TestStore::new();
    if t.add_busybox("a_builder_outside_the_store_is_refused")
        .is_none()
    {
        return;
    }
    for builder in [
        format!("{}/../../proc/self/exe", t.busybox),
        "/bin/busybox".to_owned(),
    ] {
        let mut j = t.sh_drv("escape", "echo x > $out", json!({}));
        j["builder"] = json!(builder);
        let drv = t.add_drv(&j);
        let out = t.run(&["build", &drv]);
        assert_eq!(out.status.code(), Some(2), "{builder}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("its builder `{builder}` is not in the store")),
            "{err}"
        );
    }
}

#[test]
fn every_root_build_is_uid_30001_whichever_build_user_runs_it() {
    // As root, concurrent builds run as different build users of the pool
    // (host uids 30001, 30002, …), as guix-daemon's do; unlike under
    // guix-daemon, each one is uid 30001 inside (its user namespace swaps
    // the two), so what it records does not depend on which was free.
    let test = "every_root_build_is_uid_30001_whichever_build_user_runs_it";
    if !is_root() {
        eprintln!("{test}: skipped: needs root (the pool of build users)");
        return;
    }
    let mut t = TestStore::new();
    if t.add_busybox(test).is_none() {
        return;
    }
    let script = "$bb mkdir $out; $bb sleep 1
        $bb id > $out/id
        $bb cat /proc/self/uid_map | $bb tr -s ' ' > $out/uid_map
        $bb stat -c %u $NIX_BUILD_TOP > $out/owner";
    let a = t.add_drv(&t.sh_drv("who-a", script, json!({})));
    let b = t.add_drv(&t.sh_drv("who-b", script, json!({})));
    let outs = t.ok(&["build", "--jobs", "2", &a, &b]);
    let outs: Vec<&str> = outs.lines().collect();
    assert_eq!(outs.len(), 2);
    let mut maps = Vec::new();
    for o in &outs {
        assert_eq!(
            read(o, "id"),
            "uid=30001(nixbld) gid=30000(nixbld) groups=30000(nixbld)"
        );
        assert_eq!(read(o, "owner"), "30001");
        maps.push(read(o, "uid_map"));
    }
    // Two build users ran them (another test may hold the first): each map
    // is the identity with 30001 swapped for the build user's host uid (no
    // swap for the first build user, 30001 itself: the identity map, as
    // in the initial namespace).
    let host_uid = |map: &str| -> u64 {
        let f: Vec<u64> = map.split_whitespace().map(|x| x.parse().unwrap()).collect();
        if f == [0, 0, 4294967295] {
            return 30001;
        }
        let h = f[4];
        let mut want = vec![0, 0, 30001, 30001, h, 1];
        if h > 30002 {
            want.extend([30002, 30002, h - 30002]);
        }
        want.extend([h, 30001, 1, h + 1, h + 1, 4294967295 - h - 1]);
        assert_eq!(f, want, "{map}");
        h
    };
    let users: Vec<u64> = maps.iter().map(|m| host_uid(m)).collect();
    assert_ne!(users[0], users[1], "{maps:?}");
    assert!(
        users.iter().all(|u| (30001..30065).contains(u)),
        "{users:?}"
    );
}
