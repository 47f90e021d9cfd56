//! `guix hash -S git`: Git-style blob and tree hashes, computed with any
//! hash algorithm, as Guix does through Disarchive's `git-hash` module.
//!
//! * A file is a blob: `H("blob " + size + "\0" + bytes)`.
//! * A directory is a tree: `H("tree " + len + "\0" + entries)`, each entry
//!   `mode " " name "\0" raw-digest`, with mode `100644`, `100755` (owner
//!   execute bit set), `40000` (directory, hashed recursively) or `120000`
//!   (symlink: the blob of its target). Entries are in Git's order: names
//!   compared byte-wise, a directory's name as if it ended in `/`.
//! * Unlike Git, an empty directory is kept (as the empty tree).
//! * `FILE` itself is `stat`ed, so a symlink to a directory is hashed as
//!   that directory; entries below are `lstat`ed.
//! * `-x` (the [`VcsFilter`]) applies to the entries of `FILE` only:
//!   Disarchive's recursion into subdirectories does not pass the predicate
//!   on, and abovo keeps that behaviour.
//!
//! With SHA-1 the results are Git's own object ids; with SHA-256 those of a
//! repository in Git's `sha256` object format.

use super::{FileHashError, VcsFilter};
use crate::hash::{Hash, HashAlgo, Hasher};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> FileHashError + '_ {
    move |error| FileHashError::Io {
        path: path.to_owned(),
        error,
    }
}

/// The Git-style hash of `path` (see the module docs).
pub fn git_hash(
    path: &Path,
    algo: HashAlgo,
    filter: Option<&VcsFilter>,
) -> Result<Hash, FileHashError> {
    let meta = std::fs::metadata(path).map_err(io_error(path))?;
    if meta.is_dir() {
        tree(path, algo, filter)
    } else {
        blob_file(path, meta.len(), algo)
    }
}

/// The blob hash of `bytes`.
pub fn blob(bytes: &[u8], algo: HashAlgo) -> Hash {
    let mut h = algo.hasher();
    h.update(format!("blob {}\0", bytes.len()).as_bytes());
    h.update(bytes);
    h.finish()
}

fn blob_file(path: &Path, size: u64, algo: HashAlgo) -> Result<Hash, FileHashError> {
    let mut h = algo.hasher();
    h.update(format!("blob {size}\0").as_bytes());
    let mut file = std::fs::File::open(path).map_err(io_error(path))?;
    copy_into(&mut file, &mut h).map_err(io_error(path))?;
    Ok(h.finish())
}

fn copy_into(input: &mut impl Read, h: &mut Hasher) -> std::io::Result<()> {
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        match input.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => h.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

fn tree(dir: &Path, algo: HashAlgo, filter: Option<&VcsFilter>) -> Result<Hash, FileHashError> {
    // (sort key, entry bytes)
    let mut nodes: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_error(dir))? {
        let entry = entry.map_err(io_error(dir))?;
        let path = entry.path();
        let meta = std::fs::symlink_metadata(&path).map_err(io_error(&path))?;
        if filter.is_some_and(|f| f.is_vcs_file(&path, &meta)) {
            continue;
        }
        let name = entry.file_name();
        let name = name.as_bytes();
        let ft = meta.file_type();
        let (mode, digest, is_dir): (&[u8], Hash, bool) = if ft.is_file() {
            let exec = meta.permissions().mode() & 0o100 != 0;
            let mode: &[u8] = if exec { b"100755" } else { b"100644" };
            (mode, blob_file(&path, meta.len(), algo)?, false)
        } else if ft.is_dir() {
            (b"40000", tree(&path, algo, None)?, true)
        } else if ft.is_symlink() {
            let target = std::fs::read_link(&path).map_err(io_error(&path))?;
            (b"120000", blob(target.as_os_str().as_bytes(), algo), false)
        } else {
            return Err(FileHashError::Io {
                path,
                error: std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "not a regular file, directory or symlink; a Git tree cannot hold it",
                ),
            });
        };
        let mut key = name.to_vec();
        if is_dir {
            key.push(b'/');
        }
        let mut node = Vec::with_capacity(mode.len() + name.len() + 2 + digest.digest().len());
        node.extend_from_slice(mode);
        node.push(b' ');
        node.extend_from_slice(name);
        node.push(0);
        node.extend_from_slice(digest.digest());
        nodes.push((key, node));
    }
    nodes.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let len: usize = nodes.iter().map(|(_, n)| n.len()).sum();
    let mut h = algo.hasher();
    h.update(format!("tree {len}\0").as_bytes());
    for (_, node) in &nodes {
        h.update(node);
    }
    Ok(h.finish())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;
    use std::process::Command;

    /// A tree whose names exercise Git's ordering: `a-b` < `a.c` < `a/`
    /// (0x2d < 0x2e < 0x2f), so the directory `a` sorts after `a.c`, where a
    /// plain byte sort of names would put it first. With an executable and a
    /// symlink.
    fn make(root: &Path) {
        std::fs::create_dir_all(root.join("a")).unwrap();
        std::fs::write(root.join("a/inner"), b"inner\n").unwrap();
        std::fs::write(root.join("a-b"), b"dash\n").unwrap();
        std::fs::write(root.join("a.c"), b"dot\n").unwrap();
        std::fs::write(root.join("run"), b"#!/bin/sh\n").unwrap();
        std::fs::set_permissions(root.join("run"), std::fs::Permissions::from_mode(0o755)).unwrap();
        symlink("a.c", root.join("link")).unwrap();
    }

    #[test]
    fn known_answers_from_git() {
        // Values printed by git 2.47 (`git hash-object`, `git write-tree`) on
        // the same content, SHA-1 and SHA-256 object formats.
        assert_eq!(
            blob(b"", HashAlgo::Sha1).to_base16(),
            "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
        );
        assert_eq!(
            blob(b"hi\n", HashAlgo::Sha256).to_base16(),
            "96c18f0297e38d01f4b2dacddea4259aea6b2961eb0822bd2c0c3f6029030045"
        );
        let tmp = tempfile::tempdir().unwrap();
        let empty = tmp.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        assert_eq!(
            git_hash(&empty, HashAlgo::Sha1, None).unwrap().to_base16(),
            "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
        );
    }

    fn git(dir: &Path, args: &[&str]) -> Option<String> {
        let out = Command::new("git")
            .args(args)
            .current_dir(dir)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    #[test]
    fn trees_match_git_write_tree() {
        for (format, algo) in [("sha1", HashAlgo::Sha1), ("sha256", HashAlgo::Sha256)] {
            let tmp = tempfile::tempdir().unwrap();
            let root = tmp.path().join("repo");
            make(&root);
            let ours = git_hash(&root, algo, None).unwrap().to_base16();
            let init = git(&root, &["init", "-q", &format!("--object-format={format}")]);
            if init.is_none() {
                println!("skipped the live comparison: git is not available");
                return;
            }
            // Hash with the .git directory present but excluded, as -x would.
            let filter = VcsFilter::for_root(&root);
            assert_eq!(
                git_hash(&root, algo, Some(&filter)).unwrap().to_base16(),
                ours
            );
            git(&root, &["add", "-A"]).unwrap();
            let theirs = git(&root, &["write-tree"]).unwrap();
            assert_eq!(ours, theirs, "{format}");
            let file = git(&root, &["hash-object", "run"]).unwrap();
            assert_eq!(
                git_hash(&root.join("run"), algo, None).unwrap().to_base16(),
                file
            );
        }
    }

    #[test]
    fn vcs_filter_applies_to_the_top_level_only() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("r");
        make(&root);
        let plain = git_hash(&root, HashAlgo::Sha1, None).unwrap();
        std::fs::create_dir_all(root.join(".git")).unwrap();
        std::fs::create_dir_all(root.join("a/.git")).unwrap();
        let filter = VcsFilter::for_root(&root);
        let filtered = git_hash(&root, HashAlgo::Sha1, Some(&filter)).unwrap();
        // The top-level .git is gone, the nested one stays (as an empty tree).
        assert_ne!(filtered, plain);
        std::fs::remove_dir(root.join(".git")).unwrap();
        assert_eq!(git_hash(&root, HashAlgo::Sha1, None).unwrap(), filtered);
    }
}
