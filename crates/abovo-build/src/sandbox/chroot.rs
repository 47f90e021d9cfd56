//! The chroot directory, prepared on the host before the sandbox starts.
//!
//! Everything that is a plain file or directory is made here, by abovo; the
//! sandbox's PID 1 only mounts (in its own mount namespace, so no mount is
//! ever visible on the host and nothing needs unmounting afterwards). The
//! layout is Guix's (sandbox.md §1.3):
//!
//! | path | what |
//! | --- | --- |
//! | `/` | `0750`, group = the build group |
//! | `/tmp` | `1777`; `/tmp/guix-build-<name>.drv-0` is the build directory |
//! | `/etc/passwd` | `nixbld:x:30001:30000:Nix build user:/:/noshell` and `nobody` |
//! | `/etc/group` | `nixbld:!:30000:` |
//! | `/etc/hosts` | `127.0.0.1 localhost` (not for fixed-output derivations, which see the host's) |
//! | `<store>` | the fake store, `1775`, group = the build group; each input is a mount point (a symlink input is copied as a symlink) |
//! | `/dev` | `full`, `null`, `random`, `tty`, `urandom`, `zero` (and `kvm` when the host has it) bound from the host; `fd`, `stdin`, `stdout`, `stderr` symlinks into `/proc/self/fd`; `shm`; `pts` and `ptmx` |
//! | `/proc` | a fresh proc for the sandbox's PID namespace |
//!
//! Guix writes the build user's *host* gid into `/etc/group` in its rootless
//! mode while the builder runs with gid 30000; abovo writes 30000 in both
//! files, which keeps what a builder sees identical in every mode.
//!
//! For the same reason every entry created here belongs to the host ids the
//! builder maps to, so it shows as `nixbld` inside whether abovo runs as
//! root (a build uid of the pool) or not (abovo's own uid). Guix leaves
//! them to root, which a builder sees as uid 0 or as the overflow uid
//! 65534 depending on the daemon's mode. Owning them gives the builder
//! nothing: everything but the fake store, `/tmp` and the build directory
//! is mounted read-only.

use super::{GUEST_GID, GUEST_UID, SandboxError, SandboxSpec};
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

/// Creates the chroot of `spec` (which must not exist yet) and the mount
/// point of the build directory.
pub fn prepare(spec: &SandboxSpec) -> Result<(), SandboxError> {
    let root = &spec.chroot;
    mkdir(root, 0o750)?;
    create(spec)?;
    give_to_builder(root, spec.host_uid, spec.host_gid)
}

/// Hands every entry of the chroot (not following symlinks, not entering
/// the input mount points) to the build user's host ids.
fn give_to_builder(dir: &Path, uid: u32, gid: u32) -> Result<(), SandboxError> {
    chown(dir, uid, gid)?;
    for entry in fs::read_dir(dir).map_err(io_err(dir, "list"))? {
        let entry = entry.map_err(io_err(dir, "list"))?;
        let path = entry.path();
        let ft = entry.file_type().map_err(io_err(&path, "lstat"))?;
        if ft.is_dir() {
            give_to_builder(&path, uid, gid)?;
        } else {
            chown(&path, uid, gid)?;
        }
    }
    Ok(())
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
    if !spec.network {
        write(&etc.join("hosts"), "127.0.0.1 localhost\n")?;
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
