//! Walking two trees side by side: entries in byte order of their names,
//! symbolic links never followed, a subtree present on one side only
//! reported once (as `added` or `removed`), not entry by entry.

use super::content::compare_files;
use super::report::{Change, Kind, TreeDiff, name_text};
use super::{DiffError, io_err};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Compares the trees at `old` and `new`. When they are single files (not
/// directories), changes name them by the file name of `old`.
pub fn diff_trees(old: &Path, new: &Path) -> Result<TreeDiff, DiffError> {
    let name = old.file_name().unwrap_or(std::ffi::OsStr::new("."));
    diff_named(old, new, name.as_encoded_bytes())
}

/// [`diff_trees`], naming single-file trees `top_name` (the builder passes
/// the output's store name: the other build sits at a temporary name).
pub fn diff_items(old: &Path, new: &Path, top_name: &str) -> Result<TreeDiff, DiffError> {
    diff_named(old, new, top_name.as_bytes())
}

fn diff_named(old: &Path, new: &Path, top_name: &[u8]) -> Result<TreeDiff, DiffError> {
    let mut changes = Vec::new();
    let a = fs::symlink_metadata(old).map_err(io_err(old, "lstat"))?;
    let b = fs::symlink_metadata(new).map_err(io_err(new, "lstat"))?;
    // Inside a directory paths are relative to it (the top itself is "");
    // a single file has no relative path, so it goes by its name.
    let top = if a.is_dir() && b.is_dir() {
        Vec::new()
    } else {
        top_name.to_owned()
    };
    compare(old, new, &a, &b, top, &mut changes)?;
    Ok(TreeDiff {
        old: old.to_owned(),
        new: new.to_owned(),
        changes,
    })
}

fn compare(
    old: &Path,
    new: &Path,
    a: &fs::Metadata,
    b: &fs::Metadata,
    rel: Vec<u8>,
    changes: &mut Vec<Change>,
) -> Result<(), DiffError> {
    // Only the metadata is compared for anything but files, directories
    // and symlinks: a FIFO or a device is never opened (reading a FIFO
    // would hang), and devices differ in kind when their numbers do.
    let (ka, kb) = (Kind::of(a), Kind::of(b));
    let (path, path_bytes) = name_text(&rel);
    if ka != kb {
        changes.push(Change::Type {
            path,
            path_bytes,
            old: ka,
            new: kb,
        });
        return Ok(());
    }
    if ka != Kind::Symlink && a.mode() & 0o7777 != b.mode() & 0o7777 {
        changes.push(Change::Mode {
            path: path.clone(),
            path_bytes: path_bytes.clone(),
            old: a.mode() & 0o7777,
            new: b.mode() & 0o7777,
        });
    }
    match ka {
        Kind::Symlink => {
            let ta = fs::read_link(old).map_err(io_err(old, "read the link"))?;
            let tb = fs::read_link(new).map_err(io_err(new, "read the link"))?;
            if ta != tb {
                changes.push(Change::symlink(
                    path,
                    path_bytes,
                    ta.as_os_str().as_encoded_bytes(),
                    tb.as_os_str().as_encoded_bytes(),
                ));
            }
        }
        Kind::File => {
            if let Some(diff) = compare_files(old, new, a.len(), b.len(), &path)? {
                changes.push(Change::Content {
                    path,
                    path_bytes,
                    old_size: a.len(),
                    new_size: b.len(),
                    diff,
                });
            }
        }
        Kind::Directory => compare_dirs(old, new, &rel, changes)?,
        _ => {}
    }
    Ok(())
}

fn sorted_names(dir: &Path) -> Result<Vec<std::ffi::OsString>, DiffError> {
    let mut names: Vec<_> = fs::read_dir(dir)
        .map_err(io_err(dir, "list"))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()
        .map_err(io_err(dir, "list"))?;
    names.sort_by(|x, y| x.as_encoded_bytes().cmp(y.as_encoded_bytes()));
    Ok(names)
}

fn compare_dirs(
    old: &Path,
    new: &Path,
    rel: &[u8],
    changes: &mut Vec<Change>,
) -> Result<(), DiffError> {
    let na = sorted_names(old)?;
    let nb = sorted_names(new)?;
    let (mut i, mut j) = (0, 0);
    let join = |name: &std::ffi::OsString| {
        let mut path = rel.to_vec();
        if !path.is_empty() {
            path.push(b'/');
        }
        path.extend_from_slice(name.as_encoded_bytes());
        path
    };
    while i < na.len() || j < nb.len() {
        let order = match (na.get(i), nb.get(j)) {
            (Some(x), Some(y)) => x.as_encoded_bytes().cmp(y.as_encoded_bytes()),
            (Some(_), None) => std::cmp::Ordering::Less,
            _ => std::cmp::Ordering::Greater,
        };
        match order {
            std::cmp::Ordering::Less => {
                let p = old.join(&na[i]);
                let m = fs::symlink_metadata(&p).map_err(io_err(&p, "lstat"))?;
                let (path, path_bytes) = name_text(&join(&na[i]));
                changes.push(Change::Removed {
                    path,
                    path_bytes,
                    kind: Kind::of(&m),
                });
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                let p = new.join(&nb[j]);
                let m = fs::symlink_metadata(&p).map_err(io_err(&p, "lstat"))?;
                let (path, path_bytes) = name_text(&join(&nb[j]));
                changes.push(Change::Added {
                    path,
                    path_bytes,
                    kind: Kind::of(&m),
                });
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                let (pa, pb) = (old.join(&na[i]), new.join(&nb[j]));
                let ma = fs::symlink_metadata(&pa).map_err(io_err(&pa, "lstat"))?;
                let mb = fs::symlink_metadata(&pb).map_err(io_err(&pb, "lstat"))?;
                compare(&pa, &pb, &ma, &mb, join(&na[i]), changes)?;
                i += 1;
                j += 1;
            }
        }
    }
    Ok(())
}
