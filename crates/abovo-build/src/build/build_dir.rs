//! Host build directories: where a builder's `/tmp/guix-build-<name>.drv-0`
//! lives on the host, and how those of killed builds are reclaimed.
//!
//! Every build directory sits in one directory that abovo owns, the *build
//! area* `$TMPDIR/abovo-builds-<uid>` (mode 0700, refused when another user
//! owns it or may write to it, since `/tmp` is shared):
//!
//! ```text
//! $TMPDIR/abovo-builds-<uid>/
//!   guix-build-<name>.drv-N/     0700, abovo's; abovo holds a `flock` on it while it builds
//!     top/                       the builder's build directory (owned by the build user)
//! ```
//!
//! The lock is what tells a live build from the remains of a killed one: the
//! kernel releases a `flock` when its process dies, however it dies, and a
//! pid could be reused. [`reclaim`] deletes every entry of the area whose
//! lock it can take; `abovo build` calls it before building and `abovo
//! store verify --repair` calls it too. Nothing outside the area is ever
//! reclaimed, so a guix-daemon sharing `/tmp` is left alone.
//!
//! A failed build kept with `--keep-failed` is moved out of the area to
//! `$TMPDIR/guix-build-<name>.drv-N`, where Guix users look for it, and is
//! never reclaimed: it is the user's to delete. Before it leaves the area
//! (where nobody else can reach it), every setuid and setgid bit in it is
//! cleared and every inode given to the user who asked
//! ([`fsutil::secure_kept`]): otherwise a setuid program the builder left
//! there would let anyone become the build user, whose uid a later build
//! gets again, and write into that build before it is registered (the
//! pattern of CVE-2024-52867; guix-daemon does the same since).

use super::BuildError;
use crate::fsutil;
use crate::store::StoreError;
use rustix::fs::{FlockOperation, RenameFlags, flock};
use std::fs::File;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The build area of this user under `tmp`: `<tmp>/abovo-builds-<euid>`.
pub fn area(tmp: &Path) -> PathBuf {
    tmp.join(format!(
        "abovo-builds-{}",
        rustix::process::geteuid().as_raw()
    ))
}

/// The build directory of one round of one build, locked for as long as
/// the value lives.
#[derive(Debug)]
pub struct BuildDir {
    root: PathBuf,
    top: PathBuf,
    tmp: PathBuf,
    drv_name: String,
    _lock: File,
}

impl BuildDir {
    /// Creates and locks `<area>/guix-build-<drv_name>-N` for the first
    /// free N (the area is created, or checked, first). `top` inside it is
    /// not created: the caller makes it with the build user's ownership.
    pub fn create(tmp: &Path, drv_name: &str) -> Result<BuildDir, BuildError> {
        let area = prepare_area(tmp)?;
        for n in 0..u32::MAX {
            let root = area.join(format!("guix-build-{drv_name}-{n}"));
            match std::fs::DirBuilder::new().mode(0o700).create(&root) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(io_error(&root, "create the build directory", e)),
            }
            let Some(lock) = try_lock_dir(&root)? else {
                // A reclaimer holds it and is deleting it: take another.
                continue;
            };
            // A reclaimer may have deleted the directory between our mkdir
            // and our lock: then the lock is on a removed inode.
            let same = match (lock.metadata(), std::fs::symlink_metadata(&root)) {
                (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
                _ => false,
            };
            if !same {
                continue;
            }
            return Ok(BuildDir {
                top: root.join("top"),
                root,
                tmp: tmp.to_owned(),
                drv_name: drv_name.to_owned(),
                _lock: lock,
            });
        }
        Err(io_error(
            &area,
            "create a build directory in",
            io::Error::other("no free name"),
        ))
    }

    /// The builder's build directory on the host.
    pub fn top(&self) -> &Path {
        &self.top
    }

    /// The locked directory that holds [`BuildDir::top`].
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Deletes the build directory (best effort: whatever cannot be deleted
    /// now is reclaimed later, the lock being gone).
    pub fn remove(self) {
        let _ = fsutil::delete_path(&self.root);
    }

    /// Keeps the builder's directory for the user (`--keep-failed`): clears
    /// every setuid and setgid bit in it and gives it to the user who asked
    /// (abovo's real uid and gid), then moves it to
    /// `$TMPDIR/guix-build-<name>.drv-N` (first free N, never replacing
    /// anything) and deletes the rest. Returns where it is now.
    pub fn keep(self) -> Result<PathBuf, BuildError> {
        fsutil::secure_kept(
            &self.top,
            rustix::process::getuid().as_raw(),
            rustix::process::getgid().as_raw(),
        )?;
        for n in 0..u32::MAX {
            let dest = self.tmp.join(format!("guix-build-{}-{n}", self.drv_name));
            match rustix::fs::renameat_with(
                rustix::fs::CWD,
                &self.top,
                rustix::fs::CWD,
                &dest,
                RenameFlags::NOREPLACE,
            ) {
                Ok(()) => {
                    let _ = fsutil::delete_path(&self.root);
                    return Ok(dest);
                }
                Err(rustix::io::Errno::EXIST) => continue,
                Err(e) => return Err(io_error(&dest, "keep the build directory as", e.into())),
            }
        }
        Err(io_error(
            &self.tmp,
            "keep the build directory in",
            io::Error::other("no free name"),
        ))
    }
}

/// Creates the build area, or checks that an existing one is abovo's: a
/// real directory (not a symlink) of this user that nobody else can enter.
fn prepare_area(tmp: &Path) -> Result<PathBuf, BuildError> {
    let area = area(tmp);
    match std::fs::DirBuilder::new().mode(0o700).create(&area) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io_error(&area, "create the build area", e)),
    }
    let meta = std::fs::symlink_metadata(&area)
        .map_err(|e| io_error(&area, "inspect the build area", e))?;
    let euid = rustix::process::geteuid().as_raw();
    let reason = if !meta.file_type().is_dir() {
        Some("it is not a directory".to_owned())
    } else if meta.uid() != euid {
        Some(format!("it belongs to uid {}, not to {euid}", meta.uid()))
    } else if meta.mode() & 0o077 != 0 {
        Some(format!(
            "its mode is {:04o}: other users could enter it (must be 0700)",
            meta.mode() & 0o7777
        ))
    } else {
        None
    };
    match reason {
        Some(reason) => Err(BuildError::UnsafeBuildArea { path: area, reason }),
        None => Ok(area),
    }
}

/// Opens a directory (never through a symlink) and takes its lock without
/// waiting; `None` when another open file holds it.
fn try_lock_dir(dir: &Path) -> Result<Option<File>, BuildError> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags((rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::NOFOLLOW).bits() as i32)
        .open(dir)
        .map_err(|e| io_error(dir, "open", e))?;
    loop {
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => return Ok(Some(file)),
            Err(rustix::io::Errno::INTR) => continue,
            Err(rustix::io::Errno::WOULDBLOCK) => return Ok(None),
            Err(e) => return Err(io_error(dir, "lock", e.into())),
        }
    }
}

/// Deletes the build directories under `tmp` that no running build holds
/// (those of builds whose abovo was killed); returns what was deleted.
/// Only abovo's own build area is looked at. A missing area is not an
/// error.
pub fn reclaim(tmp: &Path) -> Result<Vec<PathBuf>, BuildError> {
    let area = area(tmp);
    let entries = match std::fs::read_dir(&area) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_error(&area, "list", e)),
    };
    let mut reclaimed = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| io_error(&area, "list", e))?;
        let path = entry.path();
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if !is_dir
            || !entry
                .file_name()
                .to_string_lossy()
                .starts_with("guix-build-")
        {
            continue;
        }
        let lock = match try_lock_dir(&path) {
            Ok(Some(lock)) => lock,
            // In use, or gone meanwhile.
            Ok(None) | Err(_) => continue,
        };
        fsutil::delete_path(&path)?;
        drop(lock);
        reclaimed.push(path);
    }
    reclaimed.sort();
    Ok(reclaimed)
}

fn io_error(path: &Path, action: &'static str, source: io::Error) -> BuildError {
    BuildError::Store(StoreError::Io(crate::IoError {
        path: path.to_owned(),
        action,
        source,
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn live_build_directories_survive_and_stale_ones_are_reclaimed() {
        let tmp = tempfile::tempdir().unwrap();
        let live = BuildDir::create(tmp.path(), "a.drv").unwrap();
        std::fs::create_dir(live.top()).unwrap();
        assert!(live.root().ends_with("guix-build-a.drv-0"));
        // A second build of the same derivation gets the next number.
        let second = BuildDir::create(tmp.path(), "a.drv").unwrap();
        assert!(second.root().ends_with("guix-build-a.drv-1"));
        // The remains of a killed build: a directory nobody locks.
        let stale = area(tmp.path()).join("guix-build-b.drv-0");
        std::fs::create_dir_all(stale.join("top/deep")).unwrap();
        std::fs::set_permissions(stale.join("top"), std::fs::Permissions::from_mode(0o500))
            .unwrap();
        // Something else in the area is not touched.
        std::fs::write(area(tmp.path()).join("note"), "x").unwrap();
        let reclaimed = reclaim(tmp.path()).unwrap();
        assert_eq!(reclaimed, std::slice::from_ref(&stale));
        assert!(!stale.exists());
        assert!(live.top().exists(), "a locked build directory is kept");
        assert!(area(tmp.path()).join("note").exists());
        let root = second.root().to_owned();
        drop(second);
        // Dropped without remove (abovo killed): reclaimed next time.
        assert_eq!(reclaim(tmp.path()).unwrap(), [root]);
        live.remove();
        assert_eq!(
            std::fs::read_dir(area(tmp.path())).unwrap().count(),
            1,
            "only the note is left"
        );
    }

    #[test]
    fn a_kept_build_directory_moves_out_of_the_area() {
        let tmp = tempfile::tempdir().unwrap();
        // Taken names are skipped, never replaced.
        std::fs::create_dir(tmp.path().join("guix-build-k.drv-0")).unwrap();
        let dir = BuildDir::create(tmp.path(), "k.drv").unwrap();
        std::fs::create_dir(dir.top()).unwrap();
        std::fs::write(dir.top().join("log.txt"), "kept").unwrap();
        let root = dir.root().to_owned();
        let kept = dir.keep().unwrap();
        assert_eq!(kept, tmp.path().join("guix-build-k.drv-1"));
        assert_eq!(
            std::fs::read_to_string(kept.join("log.txt")).unwrap(),
            "kept"
        );
        assert!(!root.exists());
        assert!(reclaim(tmp.path()).unwrap().is_empty());
        assert!(kept.exists(), "kept directories are never reclaimed");
    }

    #[test]
    fn a_foreign_or_open_area_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(area(tmp.path())).unwrap();
        std::fs::set_permissions(area(tmp.path()), std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = BuildDir::create(tmp.path(), "x.drv")
            .unwrap_err()
            .to_string();
        assert!(err.contains("other users could enter it"), "{err}");
        std::fs::remove_dir(area(tmp.path())).unwrap();
        std::os::unix::fs::symlink(tmp.path(), area(tmp.path())).unwrap();
        let err = BuildDir::create(tmp.path(), "x.drv")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a directory"), "{err}");
    }
}
