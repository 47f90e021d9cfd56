//! The chroot directory, prepared on the host before the sandbox starts.
//!
//! Everything that is a plain file or directory is made here, by abovo; the
//! sandbox's PID 1 only mounts (in its own mount namespace, so no mount is
//! ever visible on the host and nothing needs unmounting afterwards). The
//! layout is guix-daemon 1.5's (docs/sandbox.md §1.3, and what its builders
//! record in `../shared/data/daemon-conformance`), and so are the owners
//! and modes as root ([`Identity::BuildUser`]):
//!
//! | path | what | as root |
//! | --- | --- | --- |
//! | `/` | the chroot: `<store>/<drv>.chroot/top` on the host | `0555`, root and the build group |
//! | `/tmp` | `/tmp/guix-build-<name>.drv-0` is the build directory | `1777`, root |
//! | `/etc/passwd` | `nixbld:x:30001:30000:Nix build user:/:/noshell` and `nobody` | `0644`, root (`/etc` `0755`) |
//! | `/etc/group` | `nixbld:!:30000:` | `0644`, root |
//! | `/etc/hosts` | `127.0.0.1 localhost` and `::1 localhost` (a fixed-output build sees the host's) | `0644`, root |
//! | `<store>` | the fake store, where the outputs are made; each input is a mount point (a symlink input is copied as a symlink) | `1775`, root and the build group (its parents `0755`, root) |
//! | `/dev` | `full`, `null`, `random`, `tty`, `urandom`, `zero` (and `kvm` when the host has it) bound from the host; `fd`, `stdin`, `stdout`, `stderr` symlinks into `/proc/self/fd`; `shm`; `pts` and `ptmx` | `0755`, root |
//! | `/proc` | a fresh proc for the sandbox's PID namespace | |
//!
//! So the builder (uid 30001, group 30000) can write only into the fake
//! store, `/tmp` and its build directory; anything else gives `EACCES`, and
//! the inputs are read-only mounts (`EROFS`).
//!
//! Without privileges ([`Identity::Mapped`]) the user namespace maps one
//! uid and one gid, the caller's, to the builder: everything made here
//! belongs to the caller, so to the builder. The modes are then those of
//! the table without their owner's write bit (`/`, `/etc`, the store's
//! parents and `/dev` `0555`, the files of `/etc` `0444`), so that writing
//! there still fails (`EACCES`) unless the builder first changes the modes
//! of its own files, which it can, and which affects nothing but its own
//! build (the chroot is its alone and deleted after it; the inputs stay
//! read-only mounts).

use crate::spec::{Identity, SandboxSpec};
use crate::{GUEST_GID, GUEST_UID, SandboxError};
use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};

/// The device nodes bound into `/dev`, when the host has them.
pub const DEVICES: [&str; 7] = ["full", "kvm", "null", "random", "tty", "urandom", "zero"];

/// The host files a fixed-output derivation sees (bound read-only), when
/// they exist.
pub const NETWORK_FILES: [&str; 4] = [
    "/etc/resolv.conf",
    "/etc/nsswitch.conf",
    "/etc/services",
    "/etc/hosts",
];

fn io_err<'a>(path: &'a Path, action: &'static str) -> impl FnOnce(io::Error) -> SandboxError + 'a {
    move |source| SandboxError::Io {
        path: path.to_owned(),
        action,
        source,
    }
}

/// `path` (absolute) inside `root`.
pub fn inside(root: &Path, path: &Path) -> PathBuf {
    root.join(path.strip_prefix("/").unwrap_or(path))
}

fn mkdir(path: &Path, mode: u32) -> Result<(), SandboxError> {
    fs::DirBuilder::new()
        .mode(mode)
        .create(path)
        .map_err(io_err(path, "create directory"))?;
    // The umask may have taken bits away.
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(io_err(path, "chmod"))
}

fn mkdir_all(path: &Path) -> Result<(), SandboxError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(path)
        .map_err(io_err(path, "create directory"))
}

fn write(path: &Path, contents: &str) -> Result<(), SandboxError> {
    fs::write(path, contents).map_err(io_err(path, "write"))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o644)).map_err(io_err(path, "chmod"))
}

fn chown(path: &Path, uid: u32, gid: u32) -> Result<(), SandboxError> {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid)).map_err(io_err(path, "chown"))
}

/// The `/etc/passwd` of the sandbox.
pub fn passwd() -> String {
    format!(
        "nixbld:x:{GUEST_UID}:{GUEST_GID}:Nix build user:/:/noshell\n\
         nobody:x:65534:65534:Nobody:/:/noshell\n"
    )
}

/// The `/etc/group` of the sandbox.
pub fn group() -> String {
    format!("nixbld:!:{GUEST_GID}:\n")
}

/// The contents of `/etc/hosts` when the builder does not see the host's.
pub const HOSTS: &str = "127.0.0.1 localhost\n::1 localhost\n";

/// Creates the chroot of `spec` (which must not exist yet; its parent
/// must, and should be reachable by abovo only) and the mount points.
pub fn prepare(spec: &SandboxSpec) -> Result<(), SandboxError> {
    let root = &spec.chroot;
    mkdir(root, 0o755)?;
    create(spec)?;
    match &spec.identity {
        Identity::BuildUser { gid, .. } => {
            // Root owns it all; the build group may write into the store.
            let store = inside(root, &spec.store_dir);
            chown(&store, 0, *gid)?;
            chmod(&store, 0o1775)?;
            chown(root, 0, *gid)?;
            chmod(root, 0o555)
        }
        Identity::Mapped { .. } => {
            // Everything is the builder's: only the modes keep it from
            // writing where it should not.
            let etc = root.join("etc");
            for entry in fs::read_dir(&etc).map_err(io_err(&etc, "list"))? {
                let path = entry.map_err(io_err(&etc, "list"))?.path();
                chmod(&path, 0o444)?;
            }
            chmod(&etc, 0o555)?;
            chmod(&root.join("dev"), 0o555)?;
            let store = inside(root, &spec.store_dir);
            let mut dir = store.parent();
            while let Some(d) = dir.filter(|d| d.starts_with(root) && *d != root) {
                chmod(d, 0o555)?;
                dir = d.parent();
            }
            chmod(root, 0o555)
        }
    }
}

fn chmod(path: &Path, mode: u32) -> Result<(), SandboxError> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(io_err(path, "chmod"))
}

fn create(spec: &SandboxSpec) -> Result<(), SandboxError> {
    let root = &spec.chroot;

    let tmp = root.join("tmp");
    mkdir(&tmp, 0o1777)?;
    mkdir_all(&inside(root, &spec.sandbox_build_dir))?;

    let etc = root.join("etc");
    mkdir(&etc, 0o755)?;
    write(&etc.join("passwd"), &passwd())?;
    write(&etc.join("group"), &group())?;
    if spec.host_files.iter().all(|f| f != Path::new("/etc/hosts")) {
        write(&etc.join("hosts"), HOSTS)?;
    }
    for file in &spec.host_files {
        let target = inside(root, file);
        if let Some(parent) = target.parent() {
            mkdir_all(parent)?;
        }
        write(&target, "")?;
    }

    let store = inside(root, &spec.store_dir);
    if let Some(parent) = store.parent() {
        mkdir_all(parent)?;
    }
    mkdir(&store, 0o1775)?;
    for (input, path) in &spec.inputs {
        let target = inside(root, path);
        let meta = fs::symlink_metadata(input).map_err(io_err(input, "lstat"))?;
        if meta.file_type().is_symlink() {
            let link = fs::read_link(input).map_err(io_err(input, "read the link"))?;
            symlink(&link, &target).map_err(io_err(&target, "create symlink"))?;
        } else if meta.is_dir() {
            mkdir(&target, 0o755)?;
        } else {
            write(&target, "")?;
        }
    }

    let dev = root.join("dev");
    mkdir(&dev, 0o755)?;
    mkdir(&dev.join("shm"), 0o755)?;
    mkdir(&dev.join("pts"), 0o755)?;
    for name in DEVICES {
        if Path::new("/dev").join(name).exists() {
            write(&dev.join(name), "")?;
        }
    }
    for (name, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        let link = dev.join(name);
        symlink(target, &link).map_err(io_err(&link, "create symlink"))?;
    }
    if Path::new("/dev/pts/ptmx").exists() {
        let link = dev.join("ptmx");
        symlink("/dev/pts/ptmx", &link).map_err(io_err(&link, "create symlink"))?;
    }
    mkdir(&root.join("proc"), 0o555)?;
    Ok(())
}

/// Whether an input is bound (directories and files) rather than copied as
/// a symlink.
pub fn is_bound(input: &Path) -> bool {
    fs::symlink_metadata(input).is_ok_and(|m| !m.file_type().is_symlink())
}
