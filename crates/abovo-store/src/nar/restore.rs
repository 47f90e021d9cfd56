//! Unpacking a NAR into the filesystem, safely and all-or-nothing.
//!
//! [`restore`] creates `target` (which must not exist) from an archive, the
//! way Guix's `restore-file` plus the daemon's canonicalisation leave a
//! store item: regular files get mode `0444`, or `0555` when executable;
//! directories `0555` once filled; every item, symlinks included, gets
//! access and modification time 1 (one second after the epoch).
//!
//! # Why it cannot write outside `target`
//!
//! * The [reader](super::reader) refuses entry names that are empty, `.`,
//!   `..` or contain `/` or NUL, and duplicates: a name is always one new
//!   component.
//! * Nothing is opened by path. Each directory is created and then opened
//!   with `O_DIRECTORY | O_NOFOLLOW`, relative to the handle of its parent;
//!   files are created with `O_CREAT | O_EXCL | O_NOFOLLOW` relative to the
//!   handle of their directory. A symlink the archive created is therefore
//!   never followed, and an existing name is never reused.
//!
//! # Why a failure leaves nothing that looks complete
//!
//! The tree is built under a temporary name (`.<name>.abovo-unpack-<pid>-<n>`)
//! in the same directory as `target`, and renamed to `target` (refusing to
//! replace anything) only after the whole archive has been read and
//! checked. On any error the temporary tree is removed.

use super::reader::{NarSummary, NarVisitor, ReadError, parse};
use rustix::fs::{AtFlags, Mode, OFlags, RenameFlags, Timespec, Timestamps};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Why an archive could not be unpacked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RestoreError {
    /// The target already exists; restoring never replaces anything.
    #[error("cannot unpack into `{}`: it already exists", .0.display())]
    Exists(PathBuf),
    /// The target has no usable file name (`/`, `..`, …).
    #[error("cannot unpack into `{}`: it does not name a new file or directory", .0.display())]
    BadTarget(PathBuf),
    /// The directory that should hold the target cannot be used.
    #[error("cannot {operation} `{}`: {error}", path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// What was being done.
        operation: &'static str,
        /// The error.
        error: io::Error,
    },
    /// The archive is invalid, or an item of it could not be created; the
    /// target was not created.
    #[error("cannot unpack into `{}`: {error}", target.display())]
    Archive {
        /// The target.
        target: PathBuf,
        /// The reader's error, with its byte offset.
        error: ReadError,
    },
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

const TIMES: Timestamps = Timestamps {
    last_access: Timespec {
        tv_sec: 1,
        tv_nsec: 0,
    },
    last_modification: Timespec {
        tv_sec: 1,
        tv_nsec: 0,
    },
};

/// Unpacks the NAR read from `input` as `target`, which must not exist.
/// Returns what the archive held. On error nothing is left at `target` or
/// under a temporary name.
pub fn restore<R: Read>(input: R, target: &Path) -> Result<NarSummary, RestoreError> {
    let name = match target.file_name() {
        Some(n) if n != ".." => n.to_owned(),
        _ => return Err(RestoreError::BadTarget(target.to_owned())),
    };
    let parent = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let parent_fd = rustix::fs::open(
        &parent,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| RestoreError::Io {
        path: parent.clone(),
        operation: "open the directory",
        error: e.into(),
    })?;
    if exists_at(parent_fd.as_fd(), name.as_bytes()) {
        return Err(RestoreError::Exists(target.to_owned()));
    }
    let mut temp_name = b".".to_vec();
    temp_name.extend_from_slice(name.as_bytes());
    temp_name.extend_from_slice(
        format!(
            ".abovo-unpack-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        )
        .as_bytes(),
    );
    let temp_path = parent.join(std::ffi::OsStr::from_bytes(&temp_name));
    let mut restorer = Restorer {
        parent: parent_fd.as_fd(),
        temp_name: &temp_name,
        dirs: Vec::new(),
        buf: Vec::new(),
    };
    let parsed = parse(input, &mut restorer);
    drop(restorer);
    let summary = match parsed {
        Ok(s) => s,
        Err(error) => {
            let _ = force_remove(&temp_path);
            return Err(RestoreError::Archive {
                target: target.to_owned(),
                error,
            });
        }
    };
    if let Err(e) = rename_no_replace(parent_fd.as_fd(), &temp_name, name.as_bytes()) {
        let _ = force_remove(&temp_path);
        if e.kind() == io::ErrorKind::AlreadyExists {
            return Err(RestoreError::Exists(target.to_owned()));
        }
        return Err(RestoreError::Io {
            path: target.to_owned(),
            operation: "rename the unpacked tree to",
            error: e,
        });
    }
    // The rename does not touch the item's own times, but be explicit: the
    // result must not depend on the filesystem.
    let _ = rustix::fs::utimensat(
        parent_fd.as_fd(),
        name.as_bytes(),
        &TIMES,
        AtFlags::SYMLINK_NOFOLLOW,
    );
    Ok(summary)
}

fn exists_at(dir: BorrowedFd<'_>, name: &[u8]) -> bool {
    rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).is_ok()
}

fn rename_no_replace(dir: BorrowedFd<'_>, from: &[u8], to: &[u8]) -> io::Result<()> {
    match rustix::fs::renameat_with(dir, from, dir, to, RenameFlags::NOREPLACE) {
        Ok(()) => Ok(()),
        // Filesystems without renameat2 flags: check, then rename.
        Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS => {
            if exists_at(dir, to) {
                return Err(io::ErrorKind::AlreadyExists.into());
            }
            rustix::fs::renameat(dir, from, dir, to).map_err(Into::into)
        }
        Err(e) => Err(e.into()),
    }
}

/// Removes a tree we created, making its directories writable first.
fn force_remove(path: &Path) -> io::Result<()> {
    let meta = std::fs::symlink_metadata(path)?;
    if meta.is_dir() {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))?;
        for entry in std::fs::read_dir(path)? {
            force_remove(&entry?.path())?;
        }
        std::fs::remove_dir(path)
    } else {
        std::fs::remove_file(path)
    }
}

/// The visitor that creates the items.
struct Restorer<'a> {
    /// The directory that holds the target.
    parent: BorrowedFd<'a>,
    /// The temporary name of the root item in `parent`.
    temp_name: &'a [u8],
    /// Open handles of the directories being filled, innermost last.
    dirs: Vec<OwnedFd>,
    /// Copy buffer, allocated on the first file.
    buf: Vec<u8>,
}

impl Restorer<'_> {
    /// The directory handle and the name to create an item at `path` under.
    fn place<'p>(&'p self, path: &'p [u8]) -> (BorrowedFd<'p>, &'p [u8]) {
        match self.dirs.last() {
            Some(fd) if !path.is_empty() => {
                let name = path.rsplit(|&b| b == b'/').next().unwrap_or(path);
                (fd.as_fd(), name)
            }
            _ => (self.parent, self.temp_name),
        }
    }
}

impl NarVisitor for Restorer<'_> {
    fn directory(&mut self, path: &[u8]) -> io::Result<()> {
        let (dir, name) = self.place(path);
        rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(0o700))?;
        let fd = rustix::fs::openat(
            dir,
            name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        self.dirs.push(fd);
        Ok(())
    }

    fn directory_end(&mut self, _: &[u8]) -> io::Result<()> {
        if let Some(fd) = self.dirs.pop() {
            rustix::fs::fchmod(&fd, Mode::from_raw_mode(0o555))?;
            rustix::fs::futimens(&fd, &TIMES)?;
        }
        Ok(())
    }

    fn symlink(&mut self, path: &[u8], target: &[u8]) -> io::Result<()> {
        let (dir, name) = self.place(path);
        rustix::fs::symlinkat(target, dir, name)?;
        rustix::fs::utimensat(dir, name, &TIMES, AtFlags::SYMLINK_NOFOLLOW)?;
        Ok(())
    }

    fn regular(
        &mut self,
        path: &[u8],
        executable: bool,
        _size: u64,
        contents: &mut dyn Read,
    ) -> io::Result<()> {
        let (dir, name) = self.place(path);
        let fd = rustix::fs::openat(
            dir,
            name,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )?;
        let mut file = File::from(fd);
        if self.buf.is_empty() {
            self.buf = vec![0u8; 256 * 1024];
        }
        loop {
            let n = match contents.read(&mut self.buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            file.write_all(&self.buf[..n])?;
        }
        let mode = if executable { 0o555 } else { 0o444 };
        rustix::fs::fchmod(&file, Mode::from_raw_mode(mode))?;
        rustix::fs::futimens(&file, &TIMES)?;
        Ok(())
    }
}
