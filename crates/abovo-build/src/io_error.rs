//! The one error of a failed system call on a path, shared by the error
//! types of this crate ([`crate::store::StoreError`],
//! [`crate::fsutil::FsError`], [`crate::diff::DiffError`],
//! [`crate::foreign::place::PlaceError`]): which file, what was being done,
//! and the operating system's reason, in full.

use std::io;
use std::path::{Path, PathBuf};

/// A system call on `path` failed while doing `action`.
#[derive(Debug, thiserror::Error)]
#[error("cannot {action} `{}`: {source}", path.display())]
pub struct IoError {
    /// The file or directory.
    pub path: PathBuf,
    /// What was being done (`open`, `rename the unpacked tree to`…).
    pub action: &'static str,
    /// The operating system's error.
    #[source]
    pub source: io::Error,
}

impl IoError {
    /// The error of `action` on `path`.
    pub fn new(path: &Path, action: &'static str, source: impl Into<io::Error>) -> IoError {
        IoError {
            path: path.to_owned(),
            action,
            source: source.into(),
        }
    }
}

/// A `map_err` argument: turns the `io::Error` of `action` on `path` into
/// an [`IoError`] (which `?` turns into the error of the function).
pub fn io_err<'a>(path: &'a Path, action: &'static str) -> impl FnOnce(io::Error) -> IoError + 'a {
    move |source| IoError::new(path, action, source)
}
