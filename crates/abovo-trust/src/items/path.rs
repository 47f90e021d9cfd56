//! `STORE-PATH[/PATH]`: a store item and a path inside it, as people type
//! them.
//!
//! The item is an absolute store path (`/gnu/store/<hash>-<name>`, in any
//! store directory: the directory is what comes before the first
//! `<hash>-<name>` component) or a bare base name (`<hash>-<name>`). The
//! path inside goes on through directories of the item and, past a file
//! that is an archive, through the archive's members:
//! `/gnu/store/…-stage0-posix-1.6.0.tar.gz/stage0-posix-1.6.0/bootstrap-seeds/POSIX/x86/hex0-seed`.
//! Empty components and `.` are dropped; `..` is refused (there is no
//! "up" inside an item, and a path that climbs out of one is a mistake or
//! a trick).

use super::ItemError;
use abovo_store::{StoreDir, StorePath};
use std::fmt;

/// A store item and a path inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemPath {
    /// The store directory (`/gnu/store`).
    pub store: StoreDir,
    /// The item.
    pub item: StorePath,
    /// The components of the path inside it (none: the item itself).
    pub inner: Vec<String>,
}

impl ItemPath {
    /// Parses `spec`. With `store`, an absolute `spec` must be in that
    /// store directory; without, the directory is read from `spec` (and a
    /// bare base name is in `/gnu/store`).
    pub fn parse(spec: &str, store: Option<&StoreDir>) -> Result<ItemPath, ItemError> {
        let bad = |reason: String| ItemError::NotAStorePath {
            given: spec.to_owned(),
            reason,
        };
        let parts: Vec<&str> = spec.split('/').collect();
        if parts.contains(&"..") {
            return Err(ItemError::DotDot {
                given: spec.to_owned(),
            });
        }
        let (dir, rest): (StoreDir, Vec<&str>) = if spec.starts_with('/') {
            match store {
                Some(s) => {
                    let tail = spec
                        .strip_prefix(s.as_str())
                        .and_then(|t| t.strip_prefix('/'))
                        .ok_or_else(|| bad(format!("it is not in the store `{s}`")))?;
                    (s.clone(), tail.split('/').collect())
                }
                None => {
                    let Some(at) = parts
                        .iter()
                        .position(|p| StorePath::from_base_name(p).is_ok())
                    else {
                        return Err(bad(
                            "no component of it is a store item (`<hash>-<name>`, the hash \
                             32 characters of Nix base32)"
                                .to_owned(),
                        ));
                    };
                    let dir = parts[..at].join("/");
                    let dir = StoreDir::new(&dir).map_err(|e| bad(format!("{e}")))?;
                    (dir, parts[at..].to_vec())
                }
            }
        } else {
            (store.cloned().unwrap_or_default(), parts.clone())
        };
        let Some((first, inner)) = rest.split_first() else {
            return Err(bad("it names no item".to_owned()));
        };
        let item = StorePath::from_base_name(first).map_err(|e| {
            bad(format!(
                "`{first}` is not a store item name (`<hash>-<name>`): {e}"
            ))
        })?;
        let inner = inner
            .iter()
            .filter(|c| !c.is_empty() && **c != ".")
            .map(|c| (*c).to_owned())
            .collect();
        Ok(ItemPath {
            store: dir,
            item,
            inner,
        })
    }

    /// The item's absolute path.
    pub fn item_path(&self) -> String {
        self.store.display(&self.item)
    }

    /// The absolute path of the item followed by the first `n` inner
    /// components.
    pub fn prefix(&self, n: usize) -> String {
        let mut s = self.item_path();
        for c in &self.inner[..n.min(self.inner.len())] {
            s.push('/');
            s.push_str(c);
        }
        s
    }
}

impl fmt::Display for ItemPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.prefix(self.inner.len()))
    }
}
