//! File-system chores of a store: deleting trees that may be read-only,
//! copying trees into fresh inodes, and canonicalising store items.
//!
//! # Canonicalisation
//!
//! What the daemon does to every item before it becomes valid
//! (docs/build.md, "After the build", step 2), so that nothing but the bytes, the tree shape and the executable
//! bit distinguishes two items:
//!
//! * only regular files, directories and symlinks are allowed;
//! * every inode must belong to the build user (`from_uid`), which stops a
//!   builder from hard-linking someone else's file into its output; an
//!   inode already seen (a hard link inside the outputs) is fine;
//! * modes become `0444`, or `0555` for directories and files with the owner
//!   execute bit: no write, setuid, setgid or sticky bit survives (Nix's rule
//!   for directories, which Guix's literal rule would leave at 0444);
//! * mtime becomes 1 (one second past the epoch), symlinks included; the
//!   access time is left alone;
//! * the owner becomes the store owner (the effective uid and gid).
//!
//! Trees a builder may still be changing are walked through descriptors,
//! never through paths: [`copy_out`] and [`secure_kept`].

mod fd_tree;

pub use fd_tree::{copy_out, secure_kept};

use std::collections::HashSet;
use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};

/// The mtime of every store item: one second past the epoch.
pub const STORE_MTIME: i64 = 1;

/// Why a tree could not be processed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FsError {
    /// A system call failed.
    #[error(transparent)]
    Io(#[from] crate::IoError),
    /// A device, FIFO or socket where only files, directories and symlinks
    /// may be.
    #[error("`{}` is a {kind}; store items hold only regular files, directories and symlinks", path.display())]
    UnsupportedType {
        /// The item.
        path: PathBuf,
        /// Its type.
        kind: &'static str,
    },
    /// An inode that does not belong to the build user.
    #[error("invalid ownership on `{}`: owned by uid {uid}, expected the build user {expected}", path.display())]
    InvalidOwnership {
        /// The item.
        path: PathBuf,
        /// Its owner.
        uid: u32,
        /// The build user's uid on the host.
        expected: u32,
    },
}

use crate::io_error::io_err;

/// The name of a file type that a store item cannot hold, or `None` for the
/// three it can.
pub fn unsupported_kind(ft: &fs::FileType) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_file() || ft.is_dir() || ft.is_symlink() {
        None
    } else if ft.is_char_device() {
        Some("character device")
    } else if ft.is_block_device() {
        Some("block device")
    } else if ft.is_fifo() {
        Some("FIFO")
    } else if ft.is_socket() {
        Some("socket")
    } else {
        Some("file of unknown type")
    }
}

/// Deletes `path` and everything below it, whatever the modes (read-only
/// store directories are made writable first). Symlinks are removed, never
/// followed. A missing path is not an error.
pub fn delete_path(path: &Path) -> Result<(), FsError> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err(path, "lstat")(e).into()),
    };
    if meta.is_dir() {
        if meta.mode() & 0o700 != 0o700 {
            // Only the owner (or root) can do this; anyone else fails below
            // with a clear error.
            let _ = fs::set_permissions(path, fs::Permissions::from_mode(meta.mode() | 0o700));
        }
        for entry in fs::read_dir(path).map_err(io_err(path, "list"))? {
            let entry = entry.map_err(io_err(path, "list"))?;
            delete_path(&entry.path())?;
        }
        match fs::remove_dir(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err(path, "remove")(e).into()),
            _ => Ok(()),
        }
    } else {
        match fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err(path, "remove")(e).into()),
            _ => Ok(()),
        }
    }
}

/// Copies the tree at `src` to `dst` (which must not exist) into fresh
/// inodes: regular files (keeping the owner execute bit), directories and
/// symlinks (not followed). Anything else is an error.
///
/// This is how a fixed output is taken away from its builder before its
/// hash is checked: a file descriptor the builder passed to someone else
/// still points at the old inodes, so it cannot change what gets registered
/// (the CVE-2024-27297 pattern).
pub fn copy_tree(src: &Path, dst: &Path) -> Result<(), FsError> {
    let meta = fs::symlink_metadata(src).map_err(io_err(src, "lstat"))?;
    let ft = meta.file_type();
    if let Some(kind) = unsupported_kind(&ft) {
        return Err(FsError::UnsupportedType {
            path: src.to_owned(),
            kind,
        });
    }
    if ft.is_symlink() {
        let target = fs::read_link(src).map_err(io_err(src, "read the link"))?;
        symlink(&target, dst).map_err(io_err(dst, "create symlink"))?;
    } else if ft.is_dir() {
        fs::create_dir(dst).map_err(io_err(dst, "create directory"))?;
        let mut names: Vec<_> = fs::read_dir(src)
            .map_err(io_err(src, "list"))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()
            .map_err(io_err(src, "list"))?;
        names.sort();
        for name in names {
            copy_tree(&src.join(&name), &dst.join(&name))?;
        }
    } else {
        let mut input = fs::File::open(src).map_err(io_err(src, "open"))?;
        let mode = if meta.mode() & 0o100 != 0 {
            0o755
        } else {
            0o644
        };
        let mut output = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(dst)
            .map_err(io_err(dst, "create"))?;
        io::copy(&mut input, &mut output).map_err(io_err(dst, "copy into"))?;
        output
            .set_permissions(fs::Permissions::from_mode(mode))
            .map_err(io_err(dst, "chmod"))?;
    }
    Ok(())
}

/// Inodes already canonicalised, shared by all outputs of one build so that
/// hard links between them pass the ownership check.
#[derive(Debug, Default)]
pub struct InodesSeen(HashSet<(u64, u64)>);

/// Canonicalises the tree at `path` (see the module docs). `from_uid` is the
/// host uid the builder ran as; `None` skips the ownership check (for items
/// abovo wrote itself).
pub fn canonicalise(
    path: &Path,
    from_uid: Option<u32>,
    seen: &mut InodesSeen,
) -> Result<(), FsError> {
    let meta = fs::symlink_metadata(path).map_err(io_err(path, "lstat"))?;
    let ft = meta.file_type();
    if let Some(kind) = unsupported_kind(&ft) {
        return Err(FsError::UnsupportedType {
            path: path.to_owned(),
            kind,
        });
    }
    let inode = (meta.dev(), meta.ino());
    if let Some(uid) = from_uid
        && meta.uid() != uid
        && (!seen.0.contains(&inode) || ft.is_dir())
    {
        return Err(FsError::InvalidOwnership {
            path: path.to_owned(),
            uid: meta.uid(),
            expected: uid,
        });
    }
    if !seen.0.insert(inode) && !ft.is_dir() {
        // A hard link to an inode done already.
        return Ok(());
    }
    if !ft.is_symlink() {
        let mode = meta.mode() & 0o7777;
        if (mode != 0o444 || ft.is_dir()) && mode != 0o555 {
            let exec = ft.is_dir() || mode & 0o100 != 0;
            let new = if exec { 0o555 } else { 0o444 };
            fs::set_permissions(path, fs::Permissions::from_mode(new))
                .map_err(io_err(path, "chmod"))?;
        }
    }
    if meta.mtime() != STORE_MTIME || meta.mtime_nsec() != 0 {
        set_mtime(path, STORE_MTIME)?;
    }
    let euid = rustix::process::geteuid().as_raw();
    let egid = rustix::process::getegid().as_raw();
    if meta.uid() != euid || meta.gid() != egid {
        std::os::unix::fs::lchown(path, Some(euid), Some(egid)).map_err(io_err(path, "chown"))?;
    }
    if ft.is_dir() {
        let mut names: Vec<_> = fs::read_dir(path)
            .map_err(io_err(path, "list"))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()
            .map_err(io_err(path, "list"))?;
        names.sort();
        for name in names {
            canonicalise(&path.join(name), from_uid, seen)?;
        }
    }
    Ok(())
}

/// Sets the modification time of `path` (not following a symlink), keeping
/// its access time.
pub fn set_mtime(path: &Path, seconds: i64) -> Result<(), FsError> {
    let times = rustix::fs::Timestamps {
        last_access: rustix::fs::Timespec {
            tv_sec: 0,
            tv_nsec: rustix::fs::UTIME_OMIT,
        },
        last_modification: rustix::fs::Timespec {
            tv_sec: seconds,
            tv_nsec: 0,
        },
    };
    rustix::fs::utimensat(
        rustix::fs::CWD,
        path,
        &times,
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )
    .map_err(|e| io_err(path, "set the time of")(e.into()).into())
}

/// Renames `from` to `to`. A read-only directory is made writable for the
/// move (`rename` rewrites its `..` entry, which needs write permission when
/// not root) and read-only again at its new place.
pub fn rename_item(from: &Path, to: &Path) -> Result<(), FsError> {
    let meta = fs::symlink_metadata(from).map_err(io_err(from, "lstat"))?;
    let restore = meta.is_dir() && meta.mode() & 0o200 == 0;
    if restore {
        fs::set_permissions(from, fs::Permissions::from_mode(meta.mode() | 0o200))
            .map_err(io_err(from, "chmod"))?;
    }
    fs::rename(from, to).map_err(io_err(from, "move"))?;
    if restore {
        fs::set_permissions(to, fs::Permissions::from_mode(meta.mode() & 0o7777))
            .map_err(io_err(to, "chmod"))?;
    }
    // Moving a directory rewrites its `..`, which may touch its times.
    set_mtime(to, meta.mtime())?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use std::os::unix::fs::OpenOptionsExt;

    fn write(path: &Path, data: &[u8], mode: u32) {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(path)
            .unwrap();
        io::Write::write_all(&mut f, data).unwrap();
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn canonicalise_clears_special_bits_and_times() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        fs::create_dir(&out).unwrap();
        write(&out.join("suid"), b"x", 0o4755);
        write(&out.join("sgid-gw"), b"y", 0o2664);
        write(&out.join("plain"), b"z", 0o600);
        fs::create_dir(out.join("sticky")).unwrap();
        fs::set_permissions(out.join("sticky"), fs::Permissions::from_mode(0o1777)).unwrap();
        symlink("plain", out.join("link")).unwrap();
        let uid = rustix::process::geteuid().as_raw();
        canonicalise(&out, Some(uid), &mut InodesSeen::default()).unwrap();
        let mode = |p: &str| fs::symlink_metadata(out.join(p)).unwrap().mode() & 0o7777;
        assert_eq!(mode("suid"), 0o555);
        assert_eq!(mode("sgid-gw"), 0o444);
        assert_eq!(mode("plain"), 0o444);
        assert_eq!(mode("sticky"), 0o555);
        assert_eq!(fs::symlink_metadata(&out).unwrap().mode() & 0o7777, 0o555);
        for p in ["suid", "plain", "link", "sticky"] {
            assert_eq!(fs::symlink_metadata(out.join(p)).unwrap().mtime(), 1, "{p}");
        }
        delete_path(&out).unwrap();
        assert!(!out.exists());
    }

    #[test]
    fn devices_and_fifos_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        crate::test_support::make_fifo(&fifo);
        let err = canonicalise(dir.path(), None, &mut InodesSeen::default()).unwrap_err();
        assert!(
            matches!(err, FsError::UnsupportedType { kind: "FIFO", .. }),
            "{err}"
        );
        let other = tempfile::tempdir().unwrap();
        let err = copy_tree(dir.path(), &other.path().join("copy")).unwrap_err();
        assert!(matches!(err, FsError::UnsupportedType { .. }), "{err}");
    }

    #[test]
    fn foreign_owner_is_refused() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: needs root to create a file owned by another user");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        write(&f, b"x", 0o644);
        std::os::unix::fs::lchown(&f, Some(12345), Some(12345)).unwrap();
        let err = canonicalise(&f, Some(54321), &mut InodesSeen::default()).unwrap_err();
        assert!(
            matches!(err, FsError::InvalidOwnership { uid: 12345, .. }),
            "{err}"
        );
    }

    #[test]
    fn copy_tree_makes_fresh_inodes() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        fs::create_dir(&src).unwrap();
        write(&src.join("exe"), b"#!x", 0o755);
        write(&src.join("data"), b"data", 0o644);
        symlink("/nowhere", src.join("l")).unwrap();
        let dst = dir.path().join("dst");
        copy_tree(&src, &dst).unwrap();
        let a = fs::metadata(src.join("data")).unwrap();
        let b = fs::metadata(dst.join("data")).unwrap();
        assert_ne!(a.ino(), b.ino());
        assert_eq!(fs::read(dst.join("data")).unwrap(), b"data");
        assert_eq!(fs::metadata(dst.join("exe")).unwrap().mode() & 0o100, 0o100);
        assert_eq!(
            fs::read_link(dst.join("l")).unwrap(),
            PathBuf::from("/nowhere")
        );
    }
}
