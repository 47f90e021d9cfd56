//! `guix hash` semantics: the hash of a file, of standard input, or of the
//! NAR of a tree, with Guix 1.5.0's version-control filter.
//!
//! Guix's `guix hash FILE` (docs/formats.md §7, Guix `guix/scripts/hash.scm` and
//! `guix/hash.scm`) works in one of two serialisations:
//!
//! | serializer | what is hashed | symlink `FILE` | directory `FILE` |
//! | --- | --- | --- | --- |
//! | [`Serializer::None`] (default) | the file's bytes | followed | an error |
//! | [`Serializer::Nar`] (`-S nar`, `-r`) | the NAR of `FILE` | recorded as a symlink | archived |
//! | [`Serializer::Git`] (`-S git`) | a Git blob or tree ([`git`]) | followed | a tree |
//!
//! With `-S none`, the argument `-` means standard input ([`hash_reader`]).
//! With `-S nar` it is an ordinary file name, exactly as in Guix.
//!
//! # `-x`, as Guix 1.5.0 does it
//!
//! [`VcsFilter::for_root`] first looks at which of the version-control
//! directory names `.bzr`, `.git`, `.hg`, `.svn` and `CVS` exist directly
//! under `FILE` (following symlinks, like Guile's `file-exists?`). Only those
//! kinds are then excluded, at every depth: a *directory* with one of those
//! names, and a *regular file* named `.git` (a git submodule's pointer) when
//! `.git` is one of them. `FILE` itself is never filtered. So a tree whose top
//! level has no VCS directory hashes the same with and without `-x`, even
//! when `sub/.git/` exists deeper; and a tree with a top-level `.git/` loses
//! every `.git` but keeps a nested `.hg/`. Without `-x` nothing is excluded.
//!
//! ```
//! use abovo_store::file_hash::{FileHashOptions, hash_file};
//! let dir = tempfile::tempdir()?;
//! let f = dir.path().join("empty");
//! std::fs::write(&f, b"")?;
//! let h = hash_file(&f, &FileHashOptions::default())?;
//! assert_eq!(h.to_nix32(), "0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod git;

use crate::hash::{Hash, HashAlgo};
use crate::nar::{DumpError, hash_path_with};
use std::fs::Metadata;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// How `FILE` is turned into bytes before hashing (`-S`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Serializer {
    /// The file's own bytes (`-S none`, the default).
    #[default]
    None,
    /// The NAR serialisation of the tree at `FILE` (`-S nar`, `-r`).
    Nar,
    /// A Git blob or tree object, hashed with the chosen algorithm
    /// (`-S git`; see [`git`]).
    Git,
}

impl Serializer {
    /// Parses a `-S` value: `none`, `nar` or `git`.
    pub fn from_name(name: &str) -> Result<Serializer, FileHashError> {
        match name {
            "none" => Ok(Serializer::None),
            "nar" => Ok(Serializer::Nar),
            "git" => Ok(Serializer::Git),
            other => Err(FileHashError::UnsupportedSerializer(other.to_owned())),
        }
    }
}

/// The options of `guix hash` that decide the hash (not its text form).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileHashOptions {
    /// The hash algorithm (`-H`), SHA-256 by default.
    pub algo: HashAlgo,
    /// The serializer (`-S`).
    pub serializer: Serializer,
    /// Leave out version-control files (`-x`), Guix 1.5.0 style.
    pub exclude_vcs: bool,
}

impl Default for FileHashOptions {
    fn default() -> Self {
        FileHashOptions {
            algo: HashAlgo::Sha256,
            serializer: Serializer::None,
            exclude_vcs: false,
        }
    }
}

/// Why a file could not be hashed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileHashError {
    /// Reading the file failed (for a directory without `-S nar`, this is
    /// "Is a directory", as with Guix).
    #[error("{}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        error: io::Error,
    },
    /// Writing the NAR of the tree failed.
    #[error(transparent)]
    Nar(#[from] DumpError),
    /// A `-S` value abovo does not implement.
    #[error("unsupported serializer type: {0} (expected none, nar or git)")]
    UnsupportedSerializer(String),
}

/// The version-control kinds Guix knows, by directory name.
pub const VCS_DIRECTORIES: [&str; 5] = [".bzr", ".git", ".hg", ".svn", "CVS"];

/// Guix 1.5.0's `vcs-file-predicate`: which entries `-x` leaves out of the
/// NAR of one particular root.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VcsFilter {
    /// The VCS directory names found at the top level of the root.
    kinds: Vec<&'static str>,
}

impl VcsFilter {
    /// The filter for `root`: the VCS kinds that exist directly under it.
    pub fn for_root(root: &Path) -> VcsFilter {
        VcsFilter {
            // Guile's `file-exists?` is stat(2): it follows symlinks, and a
            // `.git` *file* counts as much as a `.git` directory.
            kinds: VCS_DIRECTORIES
                .into_iter()
                .filter(|k| std::fs::metadata(root.join(k)).is_ok())
                .collect(),
        }
    }

    /// The kinds this filter excludes, in Guix's order.
    pub fn kinds(&self) -> &[&'static str] {
        &self.kinds
    }

    /// Whether the entry at `path` (with its `lstat` metadata) is a VCS file
    /// to leave out: Guix's `vcs-file?` against the kinds found.
    pub fn is_vcs_file(&self, path: &Path, meta: &Metadata) -> bool {
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            return false;
        };
        let ft = meta.file_type();
        if ft.is_dir() {
            self.kinds.contains(&name)
        } else if ft.is_file() {
            name == ".git" && self.kinds.contains(&".git")
        } else {
            false
        }
    }
}

/// Hashes `path` as `guix hash` with `options` would.
pub fn hash_file(path: &Path, options: &FileHashOptions) -> Result<Hash, FileHashError> {
    match options.serializer {
        Serializer::None => {
            // File::open follows symlinks, and reading a directory fails with
            // EISDIR: both as in Guix.
            let file = std::fs::File::open(path).map_err(|error| FileHashError::Io {
                path: path.to_owned(),
                error,
            })?;
            hash_reader(file, options.algo).map_err(|error| FileHashError::Io {
                path: path.to_owned(),
                error,
            })
        }
        Serializer::Nar => {
            let nar = if options.exclude_vcs {
                let filter = VcsFilter::for_root(path);
                hash_path_with(path, options.algo, &mut |p, m| !filter.is_vcs_file(p, m))?
            } else {
                hash_path_with(path, options.algo, &mut |_, _| true)?
            };
            Ok(nar.hash)
        }
        Serializer::Git => {
            let filter = options.exclude_vcs.then(|| VcsFilter::for_root(path));
            git::git_hash(path, options.algo, filter.as_ref())
        }
    }
}

/// Hashes everything `input` yields (`guix hash -`).
pub fn hash_reader<R: Read>(mut input: R, algo: HashAlgo) -> io::Result<Hash> {
    let mut hasher = algo.hasher();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(hasher.finish())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use crate::encoding::TextEncoding;
    use std::os::unix::fs::{PermissionsExt, symlink};

    fn nar_opts(exclude_vcs: bool) -> FileHashOptions {
        FileHashOptions {
            serializer: Serializer::Nar,
            exclude_vcs,
            ..FileHashOptions::default()
        }
    }

    /// The tree of Guix's tests/guix-hash.sh.
    fn guix_tree(root: &Path) {
        std::fs::create_dir(root).unwrap();
        std::fs::write(root.join("exe"), b"executable").unwrap();
        std::fs::set_permissions(root.join("exe"), std::fs::Permissions::from_mode(0o755)).unwrap();
        symlink("exe", root.join("symlink")).unwrap();
        std::fs::create_dir(root.join("subdir")).unwrap();
    }

    const PLAIN: &str = "10k1lw41wyrjf9mxydi0is5nkpynlsvgslinics4ppir13g7d74p";
    const WITH_GIT: &str = "0a50z04zyzf7pidwxv0nwbj82pgzbrhdy9562kncnvkcfvb48m59";

    #[test]
    fn guix_hash_sh_vectors() {
        let tmp = tempfile::tempdir().unwrap();
        let t = tmp.path().join("t");
        guix_tree(&t);
        assert_eq!(hash_file(&t, &nar_opts(false)).unwrap().to_nix32(), PLAIN);
        let sha512 = FileHashOptions {
            algo: HashAlgo::Sha512,
            ..nar_opts(false)
        };
        assert_eq!(
            hash_file(&t, &sha512).unwrap().to_nix32(),
            "301ra58c2vahczzxiyfin41mpyb0ljh4dh9zn3ijvwviaw1j40sfzw5skh9x945da88n3785ggifzig7acd6k72h0mpsc20m1f66m9n"
        );
        std::fs::create_dir(t.join(".git")).unwrap();
        std::fs::write(t.join(".git/foo"), b"").unwrap();
        assert_eq!(
            hash_file(&t, &nar_opts(false)).unwrap().to_nix32(),
            WITH_GIT
        );
        assert_eq!(hash_file(&t, &nar_opts(true)).unwrap().to_nix32(), PLAIN);
        // Without -r a directory is an error.
        let err = hash_file(&t, &FileHashOptions::default()).unwrap_err();
        assert!(err.to_string().contains("Is a directory"), "{err}");
    }

    #[test]
    fn vcs_kinds_come_from_the_top_level_only() {
        let tmp = tempfile::tempdir().unwrap();
        let t = tmp.path().join("t");
        guix_tree(&t);
        // A nested .git with no top-level one: -x changes nothing.
        std::fs::create_dir_all(t.join("subdir/.git")).unwrap();
        std::fs::write(t.join("subdir/.git/HEAD"), b"ref").unwrap();
        let with = hash_file(&t, &nar_opts(true)).unwrap();
        assert_eq!(with, hash_file(&t, &nar_opts(false)).unwrap());
        assert_ne!(with.to_nix32(), PLAIN);
        assert!(VcsFilter::for_root(&t).kinds().is_empty());

        // Add a top-level .git: now the nested .git dir, a nested .git file,
        // and the top-level one go, but a nested .hg stays.
        std::fs::create_dir(t.join(".git")).unwrap();
        std::fs::write(t.join("subdir/.hg"), b"").unwrap(); // a file named .hg is never VCS
        std::fs::create_dir(t.join("hgrepo")).unwrap();
        std::fs::create_dir(t.join("hgrepo/.hg")).unwrap();
        std::fs::write(t.join("module.git-file"), b"").unwrap();
        std::fs::create_dir(t.join("sm")).unwrap();
        std::fs::write(t.join("sm/.git"), b"gitdir: ../.git/modules/sm").unwrap();
        let filter = VcsFilter::for_root(&t);
        assert_eq!(filter.kinds(), &[".git"]);
        let got = hash_file(&t, &nar_opts(true)).unwrap();
        // The expected tree: the original plus what survives.
        let e = tmp.path().join("expected");
        guix_tree(&e);
        std::fs::write(e.join("subdir/.hg"), b"").unwrap();
        std::fs::create_dir(e.join("hgrepo")).unwrap();
        std::fs::create_dir(e.join("hgrepo/.hg")).unwrap();
        std::fs::write(e.join("module.git-file"), b"").unwrap();
        std::fs::create_dir(e.join("sm")).unwrap();
        assert_eq!(got, hash_file(&e, &nar_opts(false)).unwrap());
    }

    #[test]
    fn a_symlink_named_git_is_kept_and_a_git_file_at_top_counts() {
        let tmp = tempfile::tempdir().unwrap();
        let t = tmp.path().join("t");
        std::fs::create_dir(&t).unwrap();
        std::fs::write(t.join(".git"), b"gitdir: elsewhere").unwrap();
        std::fs::create_dir(t.join("d")).unwrap();
        symlink("x", t.join("d/.git")).unwrap();
        // The top-level .git file makes `.git` a kind: it is itself dropped,
        // the symlink named .git is not (only directories and regular files are).
        let filter = VcsFilter::for_root(&t);
        assert_eq!(filter.kinds(), &[".git"]);
        let e = tmp.path().join("e");
        std::fs::create_dir(&e).unwrap();
        std::fs::create_dir(e.join("d")).unwrap();
        symlink("x", e.join("d/.git")).unwrap();
        assert_eq!(
            hash_file(&t, &nar_opts(true)).unwrap(),
            hash_file(&e, &nar_opts(false)).unwrap()
        );
    }

    #[test]
    fn the_root_itself_is_never_filtered() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join(".git");
        std::fs::create_dir(&root).unwrap();
        std::fs::write(root.join("f"), b"x").unwrap();
        let with = hash_file(&root, &nar_opts(true)).unwrap();
        assert_eq!(with, hash_file(&root, &nar_opts(false)).unwrap());
    }

    #[test]
    fn flat_hash_follows_symlinks_and_nar_does_not() {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("f");
        std::fs::write(&f, b"").unwrap();
        let l = tmp.path().join("l");
        symlink("f", &l).unwrap();
        let flat = hash_file(&l, &FileHashOptions::default()).unwrap();
        assert_eq!(
            flat.encode(TextEncoding::Base16),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let nar = hash_file(&l, &nar_opts(false)).unwrap();
        assert_eq!(
            nar,
            crate::nar::hash_path(&l).unwrap().hash,
            "the NAR of the link itself"
        );
        assert_ne!(nar, hash_file(&f, &nar_opts(false)).unwrap());
        assert!(matches!(
            Serializer::from_name("tar"),
            Err(FileHashError::UnsupportedSerializer(_))
        ));
    }
}
