//! The sandbox on its own: what a builder sees and cannot do.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use abovo_sandbox::{self as sandbox, HelperCommand, Limits, SandboxSpec};
use std::path::{Path, PathBuf};

fn busybox() -> Option<PathBuf> {
    let p = Path::new("/bin/busybox");
    if p.exists() {
        Some(p.to_owned())
    } else {
        eprintln!("skipped: /bin/busybox is missing (apt-get install busybox-static)");
        None
    }
}

fn helper() -> HelperCommand {
    HelperCommand {
        program: PathBuf::from(env!("CARGO_BIN_EXE_abovo-sandbox-helper")),
        args: vec![],
    }
}

struct Setup {
    _dir: tempfile::TempDir,
    spec: SandboxSpec,
}

fn setup(script: &str, network: bool) -> Option<Setup> {
    let bb = busybox()?;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    std::fs::create_dir(&store).unwrap();
    let bbdir = store.join("00000000000000000000000000000000-busybox");
    std::fs::create_dir(&bbdir).unwrap();
    std::fs::copy(&bb, bbdir.join("busybox")).unwrap();
    let top = dir.path().join("build/top");
    std::fs::create_dir_all(&top).unwrap();
    let chroot = store.join("11111111111111111111111111111111-x.drv.chroot");
    let out = format!("{}/22222222222222222222222222222222-x", store.display());
    let spec = SandboxSpec {
        chroot,
        build_dir: top,
        sandbox_build_dir: PathBuf::from("/tmp/guix-build-x.drv-0"),
        store_dir: store.clone(),
        inputs: vec![(bbdir.clone(), bbdir.clone())],
        host_files: vec![],
        network: if network {
            sandbox::Network::Host
        } else {
            sandbox::Network::Loopback
        },
        identity: sandbox::Identity::Mapped {
            host_uid: rustix::process::geteuid().as_raw(),
            host_gid: rustix::process::getegid().as_raw(),
        },
        personality32: false,
        filter_syscalls: true,
        builder: bbdir.join("busybox"),
        args: vec![b"sh".to_vec(), b"-c".to_vec(), script.as_bytes().to_vec()],
        env: vec![
            (b"out".to_vec(), out.into_bytes()),
            (
                b"PATH".to_vec(),
                format!("{}", bbdir.display()).into_bytes(),
            ),
        ],
    };
    sandbox::chroot::prepare(&spec).unwrap();
    Some(Setup { _dir: dir, spec })
}

#[test]
fn identity() {
    let Some(s) = setup(
        "busybox id; busybox hostname; echo pid=$$; busybox pwd; busybox ls /; busybox cat /etc/passwd; busybox mkdir $out; echo hi > $out/x",
        false,
    ) else {
        return;
    };
    let mut log = Vec::new();
    let outcome = sandbox::run(&s.spec, &helper(), Limits::default(), &mut |b| {
        log.extend_from_slice(b)
    })
    .unwrap();
    let log = String::from_utf8_lossy(&log);
    eprintln!("{log}");
    assert!(outcome.success(), "{outcome:?}");
    assert!(log.contains("uid=30001(nixbld) gid=30000(nixbld)"), "{log}");
}

fn run(s: &Setup) -> (Result<sandbox::Outcome, sandbox::SandboxError>, String) {
    let mut log = Vec::new();
    let outcome = sandbox::run(&s.spec, &helper(), Limits::default(), &mut |b| {
        log.extend_from_slice(b)
    });
    (outcome, String::from_utf8_lossy(&log).into_owned())
}

#[test]
fn the_builder_holds_no_descriptor_but_its_standard_streams() {
    // A descriptor left open would be the log pipe's write end or the
    // status pipe: the build would never end.
    let Some(s) = setup(
        "busybox ls /proc/self/fd; echo --; exec busybox grep -E '^Sig(Ign|Blk)' /proc/self/status",
        false,
    ) else {
        return;
    };
    let (outcome, log) = run(&s);
    assert!(outcome.unwrap().success(), "{log}");
    let mut lines = log.lines();
    // `ls` itself holds the directory it lists (3).
    let fds: Vec<&str> = lines.by_ref().take_while(|l| *l != "--").collect();
    assert_eq!(fds, ["0", "1", "2", "3"], "{log}");
    // No signal ignored or blocked: SIGPIPE is back to its default, as
    // guix-daemon restores it.
    for l in lines {
        assert!(l.ends_with("0000000000000000"), "{log}");
    }
}

#[test]
fn a_failing_step_is_reported_by_name() {
    let Some(mut s) = setup("true", false) else {
        return;
    };
    // The build directory to bind is gone.
    std::fs::remove_dir(&s.spec.build_dir).unwrap();
    s.spec.build_dir = s.spec.build_dir.with_file_name("missing");
    let (outcome, log) = run(&s);
    let err = outcome.unwrap_err();
    match &err {
        sandbox::SandboxError::Setup(e) => {
            assert_eq!(e.step, sandbox::Step::Bind, "{e}");
            assert_eq!(e.errno, Some(2), "{e}");
        }
        other => panic!("{other}"),
    }
    let text = err.to_string();
    assert!(
        text.starts_with("while setting up the build environment: cannot bind-mount `")
            && text.ends_with("No such file or directory (os error 2)"),
        "{text}"
    );
    assert!(log.is_empty(), "{log}");
}
