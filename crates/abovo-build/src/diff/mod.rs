//! Comparing two store items or trees file by file (`abovo diff`), and the
//! explanation of a failed `--check`.
//!
//! Both trees are walked in byte order of names, symlinks are never
//! followed, and every difference is one [`Change`]:
//!
//! | change | when |
//! | --- | --- |
//! | `added`, `removed` | an entry exists on one side only (its subtree is not listed again) |
//! | `type` | a file became a directory, a symlink, a FIFO, a socket, a device; or a device's major:minor numbers differ (`character device 1:3 → character device 1:5`). Only files, directories and symlinks are ever opened, so a FIFO never blocks the diff |
//! | `mode` | permission bits differ (in a store, the executable bit) |
//! | `symlink` | a symlink's target differs |
//! | `content` | a regular file's bytes differ: sizes, and for text a unified diff, for binary data the first differing byte ranges with a hex view of both sides |
//!
//! Names are bytes: a path or symlink target that is not UTF-8 is shown
//! with each stray byte as `\xNN`, and its JSON carries `path_bytes`
//! (`old_bytes`, `new_bytes`), the raw bytes in hex, so that two different
//! names never serialise the same.
//!
//! A file is *text* when both sides are valid UTF-8 without NUL bytes and
//! small enough to diff line by line.
//!
//! | module | owns |
//! | --- | --- |
//! | this one | the error ([`DiffError`]) |
//! | `report` | what a diff says: [`TreeDiff`], [`Change`], [`ContentDiff`], and their one-line, terminal-safe [`Change::summary`] |
//! | `walk` | walking both trees in name order ([`diff_trees`], [`diff_items`]) |
//! | `content` | two regular files: equal, text (a unified diff) or binary |
//! | `binary` | the differing byte ranges of two streams and the hex view of both sides |
//! | `unified` | the unified diff of two texts, as `diff -u` writes it |

mod binary;
mod content;
mod report;
mod unified;
mod walk;

pub use content::{TEXT_LIMIT, compare_bytes};
pub use report::{
    ByteRange, Change, ContentDiff, Kind, TreeDiff, bytes, escape_controls, name_text,
};
pub use walk::{diff_items, diff_trees};

/// Why two trees could not be compared.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiffError {
    /// A file could not be read.
    #[error(transparent)]
    Io(#[from] crate::IoError),
}

use crate::io_error::io_err;

#[cfg(test)]
mod tests;
