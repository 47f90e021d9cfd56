//! The sandbox on its own: what a builder sees and cannot do.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use abovo_build::sandbox::{self, HelperCommand, Limits, SandboxSpec};
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
        network,
        host_uid: rustix::process::geteuid().as_raw(),
        host_gid: rustix::process::getegid().as_raw(),
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
