//! What a builder cannot do: reach the network, see host files, write
//! outside its output and build directory, outlive its build, leave
//! special modes, or change a fixed output after its hash was checked; and
//! a build refused when there is no sandbox.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod cli_build_support;

use cli_build_support::{HttpServer, TestStore, sha256_hex};
use serde_json::json;
use std::os::unix::fs::MetadataExt;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

#[test]
fn no_network_for_ordinary_derivations() {
    let mut t = TestStore::new();
    if t.add_busybox("no_network_for_ordinary_derivations")
        .is_none()
    {
        return;
    }
    let body = b"reachable\n".to_vec();
    let server = HttpServer::start(vec![("/x".into(), body.clone())]);
    let script = format!(
        "$bb mkdir $out
         if $bb wget -q -O $out/got {} 2>$out/err1; then echo reached > $out/loopback; else echo refused > $out/loopback; fi
         if $bb wget -q -O /dev/null http://192.0.2.1/ 2>$out/err2; then echo reached > $out/outside; else echo refused > $out/outside; fi",
        server.url("/x")
    );
    let drv = t.add_drv(&t.sh_drv("netless", &script, json!({})));
    let out = t.ok(&["build", &drv]);
    let o = out.trim();
    assert_eq!(
        std::fs::read_to_string(format!("{o}/loopback")).unwrap(),
        "refused\n"
    );
    assert_eq!(
        std::fs::read_to_string(format!("{o}/outside")).unwrap(),
        "refused\n"
    );
    assert_eq!(
        server.hits.load(Ordering::SeqCst),
        0,
        "the host listener saw nothing"
    );
}

/// This machine's address on its network (not loopback), if it has a
/// route out: what a fixed-output build reaches through slirp4netns.
fn host_address() -> Option<std::net::IpAddr> {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    // Connecting a UDP socket sends nothing; it only picks the route.
    s.connect("192.0.2.1:9").ok()?;
    Some(s.local_addr().ok()?.ip()).filter(|ip| !ip.is_loopback())
}

#[test]
fn fixed_output_builds_get_a_network_of_their_own() {
    let mut t = TestStore::new();
    if t.add_busybox("fixed_output_builds_get_a_network_of_their_own")
        .is_none()
    {
        return;
    }
    let body = b"reachable\n".to_vec();
    let server = HttpServer::start_on("0.0.0.0", vec![("/x".into(), body.clone())]);
    let local = format!("http://127.0.0.1:{}/x", server.port);
    let outside = host_address().map(|ip| format!("http://{ip}:{}/x", server.port));
    // A fixed output cannot record what happened (its hash is fixed): the
    // builder says it in its log.
    let try_url = |name: &str, url: &str| {
        format!(
            "if $bb wget -q -O /dev/null {url} 2>/dev/null; then echo '{name}: reached'; else echo '{name}: refused'; fi"
        )
    };
    let script = format!(
        "{}\n{}\n$bb cat /proc/net/dev | $bb tail -n +3 | $bb cut -d: -f1 | $bb tr -d ' ' | $bb sort | $bb tr '\\n' ' '; echo\nprintf 'done\\n' > $out",
        try_url("host-loopback", &local),
        try_url(
            "host-address",
            outside.as_deref().unwrap_or("http://192.0.2.1/")
        ),
    );
    let fod = t.sh_drv(
        "netful",
        &script,
        json!({"outputs": {"out": {"hashAlgo": "sha256", "hash": sha256_hex(b"done\n")}}}),
    );
    let drv = t.add_drv(&fod);
    let run = |how: &str| -> String {
        t.ok(&["build", "--check", "--fixed-output-network", how, &drv]);
        t.ok(&["log", &drv])
    };
    t.ok(&["build", "--fixed-output-network", "none", &drv]);
    // `none`: a network namespace of its own with only `lo`, as guix-daemon
    // without slirp4netns.
    let log = t.ok(&["log", &drv]);
    assert!(log.contains("host-loopback: refused"), "{log}");
    assert!(log.contains("host-address: refused"), "{log}");
    assert!(log.lines().any(|l| l.trim() == "lo"), "only lo: {log}");
    let hits = server.hits.load(Ordering::SeqCst);
    assert_eq!(hits, 0, "the host listener saw nothing");
    // `host`: the host's network, loopback included (abovo's and Guix's
    // way before 1.5, which the user asks for by name).
    let log = run("host");
    assert!(log.contains("host-loopback: reached"), "{log}");
    assert!(server.hits.load(Ordering::SeqCst) > hits);
    // `slirp4netns`: the network through user-mode NAT, never the host's
    // loopback. The default (`auto`) is the same when it is installed.
    let hits = server.hits.load(Ordering::SeqCst);
    let slirp = t.run(&[
        "build",
        "--check",
        "--fixed-output-network",
        "slirp4netns",
        &drv,
    ]);
    if !slirp.status.success() {
        let err = String::from_utf8_lossy(&slirp.stderr);
        assert!(err.contains("`slirp4netns` is not installed"), "{err}");
        eprintln!(
            "fixed_output_builds_get_a_network_of_their_own: slirp4netns part skipped: it is not installed (.ci/run installs it)"
        );
        return;
    }
    let log = t.ok(&["log", &drv]);
    assert!(log.contains("host-loopback: refused"), "{log}");
    assert!(log.contains("tap0"), "slirp4netns's interface: {log}");
    match outside {
        Some(_) => {
            assert!(log.contains("host-address: reached"), "{log}");
            assert!(server.hits.load(Ordering::SeqCst) > hits);
        }
        None => eprintln!(
            "fixed_output_builds_get_a_network_of_their_own: no route out of this machine; the reachable part of slirp4netns is not checked"
        ),
    }
}

#[test]
fn host_files_and_other_store_items_are_invisible() {
    let mut t = TestStore::new();
    if t.add_busybox("host_files_and_other_store_items_are_invisible")
        .is_none()
    {
        return;
    }
    let secret = t.write("secret.txt", b"TOP SECRET 8c1f\n");
    let other = t.ok(&["add", secret.to_str().unwrap()]).trim().to_owned();
    let script = format!(
        "$bb mkdir $out
         $bb cat {secret} > $out/secret 2>&1 || true
         $bb cat {other} > $out/other 2>&1 || true
         $bb cat /etc/shadow > $out/shadow 2>&1 || true
         $bb ls $NIX_STORE > $out/store
         $bb ls /tmp > $out/tmp
         $bb ls / > $out/root",
        secret = secret.display()
    );
    let drv = t.add_drv(&t.sh_drv("peek", &script, json!({})));
    let o = t.ok(&["build", &drv]).trim().to_owned();
    let all: String = ["secret", "other", "shadow", "store", "tmp", "root"]
        .iter()
        .map(|f| std::fs::read_to_string(format!("{o}/{f}")).unwrap())
        .collect();
    assert!(!all.contains("TOP SECRET"), "{all}");
    assert!(
        std::fs::read_to_string(format!("{o}/secret"))
            .unwrap()
            .contains("No such file")
    );
    assert!(
        std::fs::read_to_string(format!("{o}/shadow"))
            .unwrap()
            .contains("No such file")
    );
    let store_listing = std::fs::read_to_string(format!("{o}/store")).unwrap();
    let busybox_base = t.busybox.rsplit('/').next().unwrap();
    let out_base = o.rsplit('/').next().unwrap();
    let mut listed: Vec<&str> = store_listing.lines().collect();
    listed.sort();
    let mut want = vec![busybox_base, out_base];
    want.sort();
    assert_eq!(
        listed, want,
        "the fake store holds the input closure and the output only"
    );
    // /tmp holds the build directory (and the way to the store when the
    // store itself is under /tmp, as in this test).
    let tmp = std::fs::read_to_string(format!("{o}/tmp")).unwrap();
    let store_top = t
        .store
        .strip_prefix("/tmp")
        .ok()
        .and_then(|p| p.iter().next())
        .map(|c| c.to_string_lossy().into_owned());
    let mut want: Vec<String> = vec!["guix-build-peek.drv-0".into()];
    want.extend(store_top);
    want.sort();
    assert_eq!(tmp.lines().map(str::to_owned).collect::<Vec<_>>(), want);
}

#[test]
fn nothing_outside_the_output_and_build_directory_is_writable() {
    vandal(
        None,
        "nothing_outside_the_output_and_build_directory_is_writable",
    );
}

#[test]
fn nothing_outside_the_output_and_build_directory_is_writable_rootless() {
    // Rootless, the builder's host uid owns the whole store, inputs
    // included: only the read-only mounts stand in its way.
    if std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(1)
        != 0
    {
        eprintln!(
            "nothing_outside_the_output_and_build_directory_is_writable_rootless: skipped: needs root to run as uid 65534"
        );
        return;
    }
    vandal(
        Some(65534),
        "nothing_outside_the_output_and_build_directory_is_writable_rootless",
    );
}

fn vandal(user: Option<u32>, test: &str) {
    let mut t = TestStore::with_user(user);
    if t.add_busybox(test).is_none() {
        return;
    }
    let attempts = [
        ("input", format!("echo x > {}/evil", t.busybox)),
        ("input-binary", format!("echo x >> {}", t.bb())),
        ("etc-passwd", "echo x >> /etc/passwd".to_owned()),
        ("etc-new", "echo x > /etc/evil".to_owned()),
        ("root-dir", "echo x > /evil".to_owned()),
        ("dev", "echo x > /dev/evil".to_owned()),
        (
            "proc-sys",
            "echo evil > /proc/sys/kernel/hostname".to_owned(),
        ),
        ("remount", "$bb mount -o remount,rw / ".to_owned()),
        ("unmount-input", format!("$bb umount -l {}", t.busybox)),
        ("hostname", "$bb hostname evil".to_owned()),
        ("chmod-input", format!("$bb chmod 0777 {}", t.busybox)),
        ("chmod-root", "$bb chmod 0777 /".to_owned()),
    ];
    let mut script = String::from("$bb mkdir $out\n");
    for (name, cmd) in &attempts {
        script.push_str(&format!(
            "if ( {cmd} ) 2>/dev/null; then echo allowed > $out/{name}; else echo denied > $out/{name}; fi\n"
        ));
    }
    script.push_str("echo fine > $NIX_BUILD_TOP/scratch && echo allowed > $out/build-dir\n");
    let drv = t.add_drv(&t.sh_drv("vandal", &script, json!({})));
    let o = t.ok(&["build", &drv]).trim().to_owned();
    for (name, _) in &attempts {
        // Without privileges the chroot's own files are the builder's (the
        // only uid its namespace maps), so it may change their modes; that
        // changes nothing but its own throw-away chroot.
        let expected = if user.is_some() && *name == "chmod-root" {
            "allowed\n"
        } else {
            "denied\n"
        };
        assert_eq!(
            std::fs::read_to_string(format!("{o}/{name}")).unwrap(),
            expected,
            "{name}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(format!("{o}/build-dir")).unwrap(),
        "allowed\n"
    );
    assert!(!std::path::Path::new(&format!("{}/evil", t.busybox)).exists());
    assert!(t.verify_consistent(), "busybox is unchanged");
}

fn processes_with(arg: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline"))
            && cmd.split(|b| *b == 0).any(|a| a == arg.as_bytes())
        {
            found.push(pid);
        }
    }
    found
}

#[test]
fn processes_left_running_are_killed_when_the_build_ends() {
    let mut t = TestStore::new();
    if t.add_busybox("processes_left_running_are_killed_when_the_build_ends")
        .is_none()
    {
        return;
    }
    let script = "$bb sleep 4242 &
                  $bb setsid $bb sleep 4343 </dev/null >/dev/null 2>&1 &
                  $bb nohup $bb sleep 4444 >/dev/null 2>&1 &
                  $bb sleep 0.3
                  echo done > $out";
    let drv = t.add_drv(&t.sh_drv("daemons", script, json!({})));
    let start = Instant::now();
    t.ok(&["build", &drv]);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "the build did not wait for its children"
    );
    std::thread::sleep(Duration::from_millis(200));
    for arg in ["4242", "4343", "4444"] {
        assert!(
            processes_with(arg).is_empty(),
            "sleep {arg} survived the build"
        );
    }
}

#[test]
fn special_modes_are_canonicalised_and_writable_tops_rejected() {
    let mut t = TestStore::new();
    if t.add_busybox("special_modes_are_canonicalised_and_writable_tops_rejected")
        .is_none()
    {
        return;
    }
    // Setuid and setgid bits cannot be set at all (the system call filter,
    // cli_build_hardening.rs, which also shows them canonicalised when a
    // builder creates them without chmod); the sticky and write bits can.
    let script = "$bb mkdir -p $out/dir
                  echo a > $out/exe; $bb chmod 0775 $out/exe
                  echo b > $out/plain; $bb chmod 0640 $out/plain
                  echo c > $out/world; $bb chmod 0666 $out/world
                  $bb chmod 1777 $out/dir
                  $bb ln -s exe $out/link";
    let drv = t.add_drv(&t.sh_drv("modes", script, json!({})));
    let o = t.ok(&["build", &drv]).trim().to_owned();
    let mode = |p: &str| {
        std::fs::symlink_metadata(format!("{o}/{p}"))
            .unwrap()
            .mode()
            & 0o7777
    };
    assert_eq!(mode("exe"), 0o555);
    assert_eq!(mode("plain"), 0o444);
    assert_eq!(mode("world"), 0o444);
    assert_eq!(mode("dir"), 0o555);
    for p in ["exe", "dir", "link"] {
        let m = std::fs::symlink_metadata(format!("{o}/{p}")).unwrap();
        assert_eq!((m.uid(), m.mtime()), (rustix_euid(), 1), "{p}");
    }
    // A group- or world-writable output is refused, as guix-daemon does.
    for (name, script) in [
        ("gw-dir", "$bb mkdir $out; $bb chmod 0775 $out"),
        ("ww-file", "echo x > $out; $bb chmod 0666 $out"),
    ] {
        let drv = t.add_drv(&t.sh_drv(name, script, json!({})));
        let out = t.run(&["build", &drv]);
        assert_eq!(out.status.code(), Some(2), "{name}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("group- or world-writable"), "{err}");
        assert!(!std::path::Path::new(&t.output(&drv)).exists());
    }
}

fn rustix_euid() -> u32 {
    // The test runs abovo as itself, so outputs belong to the test's uid.
    std::fs::metadata("/proc/self").unwrap().uid()
}

#[test]
fn a_fixed_output_cannot_be_changed_after_its_hash_was_checked() {
    // CVE-2024-27297: a fixed-output builder hands a descriptor of its output
    // to someone outside (here: the test itself opens the file from the host
    // while the build runs), who writes through it once the output is
    // registered. abovo registers a fresh copy, so the write lands nowhere.
    let mut t = TestStore::new();
    if t.add_busybox("a_fixed_output_cannot_be_changed_after_its_hash_was_checked")
        .is_none()
    {
        return;
    }
    let good = b"good bytes\n";
    let script = "printf 'good bytes\\n' > $out; echo ready > /tmp/ready; $bb sleep 2";
    let drv = t.add_drv(&t.sh_drv(
        "pinned",
        script,
        json!({"outputs": {"out": {"hashAlgo": "sha256", "hash": sha256_hex(good)}}}),
    ));
    let out_path = t.output(&drv);
    let chroot = format!("{drv}.chroot");
    let in_chroot = format!("{chroot}/top{out_path}");
    let ready = format!("{chroot}/top/tmp/ready");
    let child = t
        .cmd(&["build", &drv])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !std::path::Path::new(&ready).exists() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the builder never got ready"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut accomplice = std::fs::OpenOptions::new()
        .write(true)
        .open(&in_chroot)
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    use std::io::{Seek, Write};
    accomplice.seek(std::io::SeekFrom::Start(0)).unwrap();
    accomplice.write_all(b"EVIL BYTES\n").unwrap();
    accomplice.sync_all().unwrap();
    drop(accomplice);
    assert_eq!(
        std::fs::read(&out_path).unwrap(),
        good,
        "the registered output is untouched"
    );
    assert!(t.verify_consistent());
}

#[test]
fn without_user_namespaces_abovo_refuses_to_build() {
    let mut t = TestStore::new();
    if t.add_busybox("without_user_namespaces_abovo_refuses_to_build")
        .is_none()
    {
        return;
    }
    let drv = t.add_drv(&t.sh_drv("never", "echo x > $out", json!({})));
    // Inside a user namespace whose limit on nested namespaces is 0.
    let probe = std::process::Command::new("unshare")
        .args(["--user", "--map-root-user", "true"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!(
            "without_user_namespaces_abovo_refuses_to_build: skipped: cannot run `unshare --user`"
        );
        return;
    }
    let script = format!(
        "echo 0 > /proc/sys/user/max_user_namespaces && exec {} build {drv}",
        env!("CARGO_BIN_EXE_abovo")
    );
    let out = std::process::Command::new("unshare")
        .args(["--user", "--map-root-user", "sh", "-c", &script])
        .env("ABOVO_STORE", &t.store)
        .env("TMPDIR", t.tmp())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot create the build sandbox"), "{err}");
    assert!(err.contains("never builds without its sandbox"), "{err}");
    assert!(!std::path::Path::new(&t.output(&drv)).exists());
}
