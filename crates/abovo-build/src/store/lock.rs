//! Locks on store paths, shared by every abovo process on the machine.
//!
//! As in the Guix daemon (`pathlocks.cc`), a path `P` is locked by taking an
//! exclusive `flock` on the file `P.lock`. A process that wants to build `P`
//! takes the lock and *then* checks whether `P` became valid meanwhile: that
//! is how a second process asking for the same derivation waits for the
//! first and then uses its result.
//!
//! Lock files are removed when released. To make that safe, the releasing
//! process first writes one byte into the file; a waiter that acquires a
//! lock on a non-empty file knows it holds a lock on a deleted file and tries
//! again. Locks are released when the process dies, however it dies.

use super::StoreError;
use rustix::fs::{FlockOperation, flock};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// A set of held locks; dropping it releases them (and deletes the lock files
/// when [`PathLocks::set_delete`] was called).
#[derive(Debug, Default)]
pub struct PathLocks {
    held: Vec<(PathBuf, File)>,
    delete: bool,
}

/// Whether to wait for a lock that another process holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Block until it is free.
    Block,
    /// Return `None` at once.
    Try,
}

impl PathLocks {
    /// Locks `<p>.lock` for every `p` in `paths`, in sorted order so that two
    /// processes locking overlapping sets cannot deadlock. With
    /// [`Wait::Try`], returns `Ok(None)` when any lock is taken.
    pub fn lock<'a>(
        paths: impl IntoIterator<Item = &'a Path>,
        wait: Wait,
    ) -> Result<Option<PathLocks>, StoreError> {
        let mut lock_files: Vec<PathBuf> = paths
            .into_iter()
            .map(|p| {
                let mut s = p.as_os_str().to_owned();
                s.push(".lock");
                PathBuf::from(s)
            })
            .collect();
        lock_files.sort();
        lock_files.dedup();
        let mut locks = PathLocks::default();
        for lock_file in lock_files {
            match lock_one(&lock_file, wait)? {
                Some(file) => locks.held.push((lock_file, file)),
                None => return Ok(None),
            }
        }
        Ok(Some(locks))
    }

    /// Delete the lock files on release (when the paths are now valid or
    /// given up, so nobody needs the files any more).
    pub fn set_delete(&mut self, delete: bool) {
        self.delete = delete;
    }
}

fn lock_one(lock_file: &Path, wait: Wait) -> Result<Option<File>, StoreError> {
    loop {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(lock_file)
            .map_err(|source| {
                StoreError::Io(crate::IoError {
                    path: lock_file.to_owned(),
                    action: "open lock file",
                    source,
                })
            })?;
        let op = match wait {
            Wait::Block => FlockOperation::LockExclusive,
            Wait::Try => FlockOperation::NonBlockingLockExclusive,
        };
        loop {
            match flock(&file, op) {
                Ok(()) => break,
                Err(rustix::io::Errno::INTR) => continue,
                Err(rustix::io::Errno::WOULDBLOCK) if wait == Wait::Try => return Ok(None),
                Err(e) => {
                    return Err(StoreError::Io(crate::IoError {
                        path: lock_file.to_owned(),
                        action: "lock",
                        source: e.into(),
                    }));
                }
            }
        }
        // A non-empty lock file was deleted by its previous holder: the lock
        // we hold is on a file nobody else will look at. Try again.
        let stale = file
            .metadata()
            .map_err(|source| {
                StoreError::Io(crate::IoError {
                    path: lock_file.to_owned(),
                    action: "stat lock file",
                    source,
                })
            })?
            .len()
            != 0;
        if !stale {
            return Ok(Some(file));
        }
    }
}

impl Drop for PathLocks {
    fn drop(&mut self) {
        for (path, mut file) in self.held.drain(..) {
            if self.delete {
                // Mark stale before unlinking, so that a waiter that already
                // opened this inode retries rather than trusting it.
                let _ = file.write_all(b"d");
                let _ = std::fs::remove_file(&path);
            }
            // Closing the file releases the flock.
            drop(file);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    #[test]
    fn second_locker_waits_until_release() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("item");
        let mut first = PathLocks::lock([p.as_path()], Wait::Block)
            .unwrap()
            .unwrap();
        first.set_delete(true);
        // flock is per open file description, so a second open in this process
        // contends like another process would.
        assert!(PathLocks::lock([p.as_path()], Wait::Try).unwrap().is_none());
        let (tx, rx) = mpsc::channel();
        let p2 = p.clone();
        let t = std::thread::spawn(move || {
            let _l = PathLocks::lock([p2.as_path()], Wait::Block).unwrap();
            tx.send(()).unwrap();
        });
        assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
        drop(first);
        rx.recv_timeout(Duration::from_secs(5)).unwrap();
        t.join().unwrap();
    }
}
