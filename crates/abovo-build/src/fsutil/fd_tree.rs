//! Trees that a builder made, walked through descriptors abovo opened
//! itself, never through a path a builder could change while abovo walks
//! it.
//!
//! Every entry is reached with `openat` relative to its parent's
//! descriptor and `O_NOFOLLOW`, its type and owner are read from the
//! descriptor (`fstat`), and only then is it used: a symlink swapped in
//! for a directory, or a FIFO for a file, is seen for what it is and never
//! followed or blocked on.
//!
//! * [`copy_out`] takes a fixed output away from its builder: it copies the
//!   tree into fresh inodes that abovo creates (`O_EXCL`) in a directory no
//!   sandbox can reach, with their canonical metadata already set. What is
//!   hashed and registered is that copy, which no builder ever held a
//!   descriptor of; the builder's own tree is only read.
//! * [`secure_kept`] makes a kept build directory safe to hand over: every
//!   setuid and setgid bit cleared and every inode given to the user who
//!   asked, so that nothing in it lets anyone become the build user.

use super::{FsError, InodesSeen, STORE_MTIME};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, Timespec, Timestamps};
use std::ffi::{CStr, OsStr};
use std::fs;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

fn io_err(path: &Path, action: &'static str, e: impl Into<io::Error>) -> FsError {
    crate::IoError::new(path, action, e).into()
}

/// Opens a directory abovo made itself (the chroot, the build area), the
/// starting point of a walk.
fn open_dir(path: &Path) -> Result<OwnedFd, FsError> {
    rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io_err(path, "open", e))
}

/// Opens `name` in `dir` without following a symlink, for reading. `O_NONBLOCK`
/// so that a FIFO put there is not waited on (its type is then refused).
fn open_entry(dir: BorrowedFd<'_>, name: &CStr, path: &Path) -> Result<OwnedFd, FsError> {
    rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io_err(path, "open", e))
}

fn unsupported(path: &Path, ft: FileType) -> FsError {
    let std_type = match ft {
        FileType::Fifo => "FIFO",
        FileType::Socket => "socket",
        FileType::CharacterDevice => "character device",
        FileType::BlockDevice => "block device",
        _ => "file of unknown type",
    };
    FsError::UnsupportedType {
        path: path.to_owned(),
        kind: std_type,
    }
}

/// The entries of the directory open as `dir`, sorted, without `.` and `..`.
fn entries(dir: BorrowedFd<'_>, path: &Path) -> Result<Vec<std::ffi::CString>, FsError> {
    let mut d = rustix::fs::Dir::read_from(dir).map_err(|e| io_err(path, "list", e))?;
    let mut names = Vec::new();
    while let Some(entry) = d.read() {
        let entry = entry.map_err(|e| io_err(path, "list", e))?;
        let name = entry.file_name();
        if name != c"." && name != c".." {
            names.push(name.to_owned());
        }
    }
    names.sort();
    Ok(names)
}

fn os(name: &CStr) -> &OsStr {
    OsStr::from_bytes(name.to_bytes())
}

fn mtime_one() -> Timestamps {
    Timestamps {
        last_access: Timespec {
            tv_sec: 0,
            tv_nsec: rustix::fs::UTIME_OMIT,
        },
        last_modification: Timespec {
            tv_sec: STORE_MTIME,
            tv_nsec: 0,
        },
    }
}

/// Copies the tree at `src` (a builder's output, which it may still be
/// changing) to `dst`, which must not exist and must be in a directory
/// that only abovo can reach. The copy is canonical as it is made (modes
/// 0444/0555, mtime 1, owned by abovo). Like canonicalisation, it refuses
/// file types a store item cannot hold and, when `from_uid` is given,
/// inodes that do not belong to the build user (unless `seen` already
/// holds them: hard links between the outputs of one build).
///
/// `src` itself is opened without following a symlink; its parent
/// directories are abovo's.
pub fn copy_out(
    src: &Path,
    dst: &Path,
    from_uid: Option<u32>,
    seen: &mut InodesSeen,
) -> Result<(), FsError> {
    let (src_parent, src_name) = split(src)?;
    let (dst_parent, dst_name) = split(dst)?;
    let src_dir = open_dir(src_parent)?;
    let dst_dir = open_dir(dst_parent)?;
    copy_entry(
        src_dir.as_fd(),
        &src_name,
        src,
        dst_dir.as_fd(),
        &dst_name,
        from_uid,
        seen,
    )
}

fn split(path: &Path) -> Result<(&Path, std::ffi::CString), FsError> {
    match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) => Ok((
            parent,
            std::ffi::CString::new(name.as_bytes())
                .map_err(|e| io_err(path, "open", io::Error::other(e)))?,
        )),
        _ => Err(io_err(
            path,
            "open",
            io::Error::from(io::ErrorKind::InvalidInput),
        )),
    }
}

fn copy_entry(
    src_dir: BorrowedFd<'_>,
    name: &CStr,
    src: &Path,
    dst_dir: BorrowedFd<'_>,
    dst_name: &CStr,
    from_uid: Option<u32>,
    seen: &mut InodesSeen,
) -> Result<(), FsError> {
    let st = rustix::fs::statat(src_dir, name, AtFlags::SYMLINK_NOFOLLOW)
        .map_err(|e| io_err(src, "lstat", e))?;
    let ft = FileType::from_raw_mode(st.st_mode);
    match ft {
        FileType::Symlink => {
            check_owner(
                src,
                st.st_uid,
                (st.st_dev, st.st_ino),
                false,
                from_uid,
                seen,
            )?;
            // Read through the directory's descriptor: if the entry is no
            // longer a symlink, this fails instead of reading something
            // else.
            let target = rustix::fs::readlinkat(src_dir, name, Vec::new())
                .map_err(|e| io_err(src, "read the link", e))?;
            let shown = PathBuf::from(os(dst_name));
            rustix::fs::symlinkat(target.as_c_str(), dst_dir, dst_name)
                .map_err(|e| io_err(&shown, "create symlink", e))?;
            rustix::fs::utimensat(dst_dir, dst_name, &mtime_one(), AtFlags::SYMLINK_NOFOLLOW)
                .map_err(|e| io_err(&shown, "set the time of", e))
        }
        FileType::Directory | FileType::RegularFile => {
            let fd = open_entry(src_dir, name, src)?;
            // What was opened is what counts, whatever the name pointed to
            // when it was looked at above.
            let st = rustix::fs::fstat(&fd).map_err(|e| io_err(src, "stat", e))?;
            let ft = FileType::from_raw_mode(st.st_mode);
            let is_dir = ft == FileType::Directory;
            if !is_dir && ft != FileType::RegularFile {
                return Err(unsupported(src, ft));
            }
            check_owner(
                src,
                st.st_uid,
                (st.st_dev, st.st_ino),
                is_dir,
                from_uid,
                seen,
            )?;
            let shown = PathBuf::from(os(dst_name));
            if is_dir {
                rustix::fs::mkdirat(dst_dir, dst_name, Mode::from_raw_mode(0o700))
                    .map_err(|e| io_err(&shown, "create directory", e))?;
                let out = rustix::fs::openat(
                    dst_dir,
                    dst_name,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| io_err(&shown, "open", e))?;
                for child in entries(fd.as_fd(), src)? {
                    copy_entry(
                        fd.as_fd(),
                        &child,
                        &src.join(os(&child)),
                        out.as_fd(),
                        &child,
                        from_uid,
                        seen,
                    )?;
                }
                finish(&out, 0o555, &shown)
            } else {
                let out = rustix::fs::openat(
                    dst_dir,
                    dst_name,
                    OFlags::WRONLY
                        | OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o600),
                )
                .map_err(|e| io_err(&shown, "create", e))?;
                let mut reader = fs::File::from(fd);
                let mut writer = fs::File::from(out);
                io::copy(&mut reader, &mut writer).map_err(|e| io_err(src, "copy", e))?;
                let exec = st.st_mode & 0o100 != 0;
                finish(&writer, if exec { 0o555 } else { 0o444 }, &shown)
            }
        }
        other => Err(unsupported(src, other)),
    }
}

/// Gives a fresh copy its final mode and mtime.
fn finish(fd: &impl AsFd, mode: u32, shown: &Path) -> Result<(), FsError> {
    rustix::fs::fchmod(fd, Mode::from_raw_mode(mode)).map_err(|e| io_err(shown, "chmod", e))?;
    rustix::fs::futimens(fd, &mtime_one()).map_err(|e| io_err(shown, "set the time of", e))
}

fn check_owner(
    path: &Path,
    uid: u32,
    inode: (u64, u64),
    is_dir: bool,
    from_uid: Option<u32>,
    seen: &mut InodesSeen,
) -> Result<(), FsError> {
    if let Some(expected) = from_uid
        && uid != expected
        && (is_dir || !seen.0.contains(&inode))
    {
        return Err(FsError::InvalidOwnership {
            path: path.to_owned(),
            uid,
            expected,
        });
    }
    seen.0.insert(inode);
    Ok(())
}

/// Makes a build directory that `--keep-failed` keeps safe to leave where
/// other users can reach it: every setuid and setgid bit is cleared and
/// every inode is given to `uid`:`gid` (the user who asked), symlinks
/// included and never followed. Must run while nobody else can reach the
/// tree (abovo does it in its private build area, after the builder died).
pub fn secure_kept(path: &Path, uid: u32, gid: u32) -> Result<(), FsError> {
    let dir = open_dir(path)?;
    secure_fd(dir.as_fd(), path, uid, gid)?;
    for name in entries(dir.as_fd(), path)? {
        secure_entry(dir.as_fd(), &name, &path.join(os(&name)), uid, gid)?;
    }
    Ok(())
}

fn secure_entry(
    dir: BorrowedFd<'_>,
    name: &CStr,
    path: &Path,
    uid: u32,
    gid: u32,
) -> Result<(), FsError> {
    let st = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
        .map_err(|e| io_err(path, "lstat", e))?;
    match FileType::from_raw_mode(st.st_mode) {
        FileType::Symlink => rustix::fs::chownat(
            dir,
            name,
            Some(rustix::fs::Uid::from_raw(uid)),
            Some(rustix::fs::Gid::from_raw(gid)),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(|e| io_err(path, "chown", e)),
        FileType::Directory => {
            let fd = open_entry(dir, name, path)?;
            secure_fd(fd.as_fd(), path, uid, gid)?;
            for child in entries(fd.as_fd(), path)? {
                secure_entry(fd.as_fd(), &child, &path.join(os(&child)), uid, gid)?;
            }
            Ok(())
        }
        FileType::RegularFile | FileType::Fifo => {
            let fd = open_entry(dir, name, path)?;
            secure_fd(fd.as_fd(), path, uid, gid)
        }
        // Sockets and devices cannot be opened to be changed through a
        // descriptor, and carry no setuid meaning: they go.
        _ => {
            rustix::fs::unlinkat(dir, name, AtFlags::empty()).map_err(|e| io_err(path, "remove", e))
        }
    }
}

/// Clears the setuid and setgid bits of an open inode (first, so that the
/// `chown` below never meets a setuid file of the new owner) and gives it
/// to `uid`:`gid`.
fn secure_fd(fd: BorrowedFd<'_>, path: &Path, uid: u32, gid: u32) -> Result<(), FsError> {
    let st = rustix::fs::fstat(fd).map_err(|e| io_err(path, "stat", e))?;
    let mode = st.st_mode & 0o7777;
    if mode & 0o6000 != 0 {
        rustix::fs::fchmod(fd, Mode::from_raw_mode(mode & !0o6000))
            .map_err(|e| io_err(path, "chmod", e))?;
    }
    if st.st_uid != uid || st.st_gid != gid {
        rustix::fs::fchown(
            fd,
            Some(rustix::fs::Uid::from_raw(uid)),
            Some(rustix::fs::Gid::from_raw(gid)),
        )
        .map_err(|e| io_err(path, "chown", e))?;
    }
    // chown clears the bits again on some file systems; check nothing is
    // left.
    let st = rustix::fs::fstat(fd).map_err(|e| io_err(path, "stat", e))?;
    if st.st_mode & 0o6000 != 0 {
        return Err(io_err(
            path,
            "clear the setuid and setgid bits of",
            io::Error::other("they are still set"),
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};

    #[test]
    fn copy_out_makes_canonical_fresh_inodes_and_follows_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        fs::create_dir(&src).unwrap();
        fs::write(src.join("exe"), "#!x").unwrap();
        fs::set_permissions(src.join("exe"), fs::Permissions::from_mode(0o4775)).unwrap();
        fs::write(src.join("data"), "data").unwrap();
        fs::create_dir(src.join("sub")).unwrap();
        symlink("/etc/passwd", src.join("sub/l")).unwrap();
        let private = dir.path().join("private");
        fs::create_dir(&private).unwrap();
        let dst = private.join("out");
        let uid = rustix::process::geteuid().as_raw();
        copy_out(&src, &dst, Some(uid), &mut InodesSeen::default()).unwrap();
        let meta = |p: &str| fs::symlink_metadata(dst.join(p)).unwrap();
        assert_eq!(meta("exe").mode() & 0o7777, 0o555);
        assert_eq!(meta("data").mode() & 0o7777, 0o444);
        assert_eq!(meta("sub").mode() & 0o7777, 0o555);
        assert_eq!(fs::symlink_metadata(&dst).unwrap().mode() & 0o7777, 0o555);
        for p in ["exe", "data", "sub", "sub/l"] {
            assert_eq!(meta(p).mtime(), 1, "{p}");
        }
        assert_ne!(
            meta("data").ino(),
            fs::metadata(src.join("data")).unwrap().ino()
        );
        assert_eq!(fs::read(dst.join("data")).unwrap(), b"data");
        assert_eq!(
            fs::read_link(dst.join("sub/l")).unwrap(),
            Path::new("/etc/passwd")
        );
        // The source is only read.
        assert_eq!(
            fs::metadata(src.join("exe")).unwrap().mode() & 0o7777,
            0o4775
        );
    }

    #[test]
    fn copy_out_refuses_what_a_store_item_cannot_hold() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        fs::create_dir(&src).unwrap();
        crate::test_support::make_fifo(&src.join("fifo"));
        let err = copy_out(
            &src,
            &dir.path().join("dst"),
            None,
            &mut InodesSeen::default(),
        )
        .unwrap_err();
        assert!(
            matches!(err, FsError::UnsupportedType { kind: "FIFO", .. }),
            "{err}"
        );
        // A symlink at the top is copied as a symlink, not followed.
        let link = dir.path().join("link");
        symlink(&src, &link).unwrap();
        let dst = dir.path().join("dst2");
        copy_out(&link, &dst, None, &mut InodesSeen::default()).unwrap();
        assert!(fs::symlink_metadata(&dst).unwrap().file_type().is_symlink());
    }

    #[test]
    fn secure_kept_clears_setuid_bits_and_changes_owners() {
        let dir = tempfile::tempdir().unwrap();
        let kept = dir.path().join("kept");
        fs::create_dir(&kept).unwrap();
        fs::create_dir(kept.join("sub")).unwrap();
        fs::set_permissions(kept.join("sub"), fs::Permissions::from_mode(0o2775)).unwrap();
        fs::write(kept.join("sub/suid"), "x").unwrap();
        fs::set_permissions(kept.join("sub/suid"), fs::Permissions::from_mode(0o6755)).unwrap();
        symlink("sub/suid", kept.join("link")).unwrap();
        let (uid, gid) = if rustix::process::geteuid().is_root() {
            for p in ["sub/suid", "sub", "link"] {
                std::os::unix::fs::lchown(kept.join(p), Some(4242), Some(4242)).unwrap();
            }
            (0, 0)
        } else {
            (
                rustix::process::geteuid().as_raw(),
                rustix::process::getegid().as_raw(),
            )
        };
        // chown by root clears the bits on its own: set them again.
        fs::set_permissions(kept.join("sub/suid"), fs::Permissions::from_mode(0o6755)).unwrap();
        secure_kept(&kept, uid, gid).unwrap();
        for p in ["", "sub", "sub/suid", "link"] {
            let m = fs::symlink_metadata(kept.join(p)).unwrap();
            assert_eq!((m.uid(), m.gid()), (uid, gid), "{p}");
            if !m.file_type().is_symlink() {
                assert_eq!(m.mode() & 0o6000, 0, "{p}");
            }
        }
        assert_eq!(
            fs::metadata(kept.join("sub/suid")).unwrap().mode() & 0o777,
            0o755
        );
    }
}
