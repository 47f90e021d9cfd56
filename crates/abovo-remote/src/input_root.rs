//! The input root of an action: a Merkle tree of `Directory` messages
//! rooted at `/`, holding every item of the input closure at its store
//! path (`gnu/store/<hash>-<name>/…`) and the empty build directory.
//!
//! Each store item's tree is computed once per process ([`ItemCache`]):
//! store items are immutable, so a closure shared by many actions is read
//! from disk once, and only the few directories above the items (`/`,
//! `gnu`, `gnu/store`, `tmp`…) are new for each action.

use crate::RemoteError;
use crate::digest::Key;
use crate::proto::{Directory, DirectoryNode, FileNode, SymlinkNode};
use prost::Message;
use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Where a blob's bytes are.
#[derive(Debug, Clone)]
pub enum Blob {
    /// In memory (`Directory` messages, `Command`, `Action`).
    Bytes(Arc<Vec<u8>>),
    /// A file of the store.
    File(PathBuf),
}

impl Blob {
    /// The bytes.
    pub fn read(&self) -> Result<Vec<u8>, RemoteError> {
        match self {
            Blob::Bytes(b) => Ok(b.as_ref().clone()),
            Blob::File(p) => std::fs::read(p).map_err(RemoteError::io("read", p)),
        }
    }
}

/// Every blob of an action, by digest.
pub type Blobs = BTreeMap<Key, Blob>;

/// What an item (or anything in it) is in the tree.
#[derive(Debug, Clone)]
enum Node {
    File { key: Key, executable: bool },
    Dir(Key),
    Symlink(String),
}

/// A store item's tree: its node and every blob under it.
#[derive(Debug)]
struct Item {
    node: Node,
    blobs: Blobs,
    /// An absolute symlink in it, if any (some servers forbid them).
    absolute_symlink: Option<PathBuf>,
}

/// Store items' trees, computed once per process.
#[derive(Debug, Default)]
pub struct ItemCache {
    items: Mutex<HashMap<PathBuf, Arc<Item>>>,
}

impl ItemCache {
    fn item(&self, on_disk: &Path) -> Result<Arc<Item>, RemoteError> {
        if let Some(i) = lock(&self.items).get(on_disk) {
            return Ok(i.clone());
        }
        let mut blobs = Blobs::new();
        let mut absolute_symlink = None;
        let node = walk(on_disk, &mut blobs, &mut absolute_symlink)?;
        let item = Arc::new(Item {
            node,
            blobs,
            absolute_symlink,
        });
        lock(&self.items).insert(on_disk.to_owned(), item.clone());
        Ok(item)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The node of `path` (not followed if a symlink), its blobs added.
fn walk(
    path: &Path,
    blobs: &mut Blobs,
    absolute_symlink: &mut Option<PathBuf>,
) -> Result<Node, RemoteError> {
    let meta = std::fs::symlink_metadata(path).map_err(RemoteError::io("read", path))?;
    let ft = meta.file_type();
    if ft.is_symlink() {
        let target = std::fs::read_link(path).map_err(RemoteError::io("read the link", path))?;
        if target.is_absolute() && absolute_symlink.is_none() {
            *absolute_symlink = Some(path.to_owned());
        }
        return Ok(Node::Symlink(utf8(target.as_os_str(), path)?.to_owned()));
    }
    if ft.is_file() {
        let data = std::fs::read(path).map_err(RemoteError::io("read", path))?;
        let key = Key::of(&data);
        blobs.insert(key.clone(), Blob::File(path.to_owned()));
        return Ok(Node::File {
            key,
            executable: meta.permissions().mode() & 0o100 != 0,
        });
    }
    if !ft.is_dir() {
        return Err(RemoteError::Unrepresentable(format!(
            "`{}` is neither a file, a directory nor a symlink",
            path.display()
        )));
    }
    let mut entries = BTreeMap::new();
    for e in std::fs::read_dir(path).map_err(RemoteError::io("read", path))? {
        let e = e.map_err(RemoteError::io("read", path))?;
        let name = utf8(&e.file_name(), &e.path())?.to_owned();
        let node = walk(&e.path(), blobs, absolute_symlink)?;
        entries.insert(name, node);
    }
    Ok(Node::Dir(directory(entries, blobs)))
}

/// The `Directory` message of `entries` (sorted by name, as the protocol
/// requires), added to `blobs`; its key.
fn directory(entries: BTreeMap<String, Node>, blobs: &mut Blobs) -> Key {
    let mut dir = Directory::default();
    for (name, node) in entries {
        match node {
            Node::File { key, executable } => dir.files.push(FileNode {
                name,
                digest: Some(key.digest()),
                is_executable: executable,
                node_properties: None,
            }),
            Node::Dir(key) => dir.directories.push(DirectoryNode {
                name,
                digest: Some(key.digest()),
            }),
            Node::Symlink(target) => dir.symlinks.push(SymlinkNode {
                name,
                target,
                node_properties: None,
            }),
        }
    }
    let bytes = dir.encode_to_vec();
    let key = Key::of(&bytes);
    blobs.insert(key.clone(), Blob::Bytes(Arc::new(bytes)));
    key
}

fn utf8<'a>(s: &'a std::ffi::OsStr, path: &Path) -> Result<&'a str, RemoteError> {
    s.to_str().ok_or_else(|| {
        RemoteError::Unrepresentable(format!(
            "the name `{}` is not UTF-8 (the protocol's names are)",
            path.display()
        ))
    })
}

/// A directory being assembled from absolute paths.
#[derive(Default)]
struct Tree {
    dirs: BTreeMap<String, Tree>,
    leaves: BTreeMap<String, Node>,
}

impl Tree {
    fn at(&mut self, components: &[String]) -> &mut Tree {
        components
            .iter()
            .fold(self, |t, c| t.dirs.entry(c.clone()).or_default())
    }

    fn finish(self, blobs: &mut Blobs) -> Key {
        let mut entries = self.leaves;
        for (name, sub) in self.dirs {
            let key = sub.finish(blobs);
            entries.insert(name, Node::Dir(key));
        }
        directory(entries, blobs)
    }
}

/// The components of an absolute path (`/gnu/store/x` → `gnu`, `store`,
/// `x`); `..`, `.` and empty components are refused.
pub fn components(path: &str) -> Result<Vec<String>, RemoteError> {
    let rest = path
        .strip_prefix('/')
        .ok_or_else(|| RemoteError::Unrepresentable(format!("`{path}` is not an absolute path")))?;
    rest.split('/')
        .map(|c| match c {
            "" | "." | ".." => Err(RemoteError::Unrepresentable(format!(
                "`{path}` is not a plain absolute path"
            ))),
            c => Ok(c.to_owned()),
        })
        .collect()
}

/// The input root of an action: `inputs` (each item's place on disk and
/// its path in the build) and the empty directories `dirs`. Returns the
/// root's digest; every blob of the tree is added to `blobs`, and the first
/// input that holds an absolute symlink (its place on disk) is noted in
/// `absolute_symlink`.
pub fn input_root(
    cache: &ItemCache,
    inputs: &[(PathBuf, String)],
    dirs: &[&str],
    blobs: &mut Blobs,
    absolute_symlink: &mut Option<PathBuf>,
) -> Result<Key, RemoteError> {
    let mut root = Tree::default();
    for d in dirs {
        root.at(&components(d)?);
    }
    for (on_disk, path) in inputs {
        let mut c = components(path)?;
        let name = c.pop().ok_or_else(|| {
            RemoteError::Unrepresentable(format!("`{path}` is the root directory"))
        })?;
        let item = cache.item(on_disk)?;
        blobs.extend(item.blobs.iter().map(|(k, b)| (k.clone(), b.clone())));
        if absolute_symlink.is_none() {
            absolute_symlink.clone_from(&item.absolute_symlink);
        }
        root.at(&c).leaves.insert(name, item.node.clone());
    }
    Ok(root.finish(blobs))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    #[test]
    fn the_tree_holds_items_at_their_store_paths_sorted() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::create_dir_all(a.join("bin")).unwrap();
        std::fs::write(a.join("bin/z"), b"z").unwrap();
        std::fs::write(a.join("bin/sh"), b"#!").unwrap();
        std::fs::set_permissions(a.join("bin/sh"), std::fs::Permissions::from_mode(0o555)).unwrap();
        std::os::unix::fs::symlink("/gnu/store/x", a.join("link")).unwrap();
        let cache = ItemCache::default();
        let mut blobs = Blobs::new();
        let root = input_root(
            &cache,
            &[(a.clone(), "/gnu/store/aaa-a".into())],
            &["/tmp/guix-build-a.drv-0"],
            &mut blobs,
            &mut None,
        )
        .unwrap();
        let get = |k: &Key| -> Directory {
            match &blobs[k] {
                Blob::Bytes(b) => Directory::decode(b.as_slice()).unwrap(),
                Blob::File(_) => panic!("a directory is in memory"),
            }
        };
        let top = get(&root);
        let names: Vec<_> = top.directories.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["gnu", "tmp"]);
        let gnu = get(&Key::from_digest(
            top.directories[0].digest.as_ref().unwrap(),
        ));
        let store = get(&Key::from_digest(
            gnu.directories[0].digest.as_ref().unwrap(),
        ));
        assert_eq!(store.directories[0].name, "aaa-a");
        let item = get(&Key::from_digest(
            store.directories[0].digest.as_ref().unwrap(),
        ));
        assert_eq!(item.symlinks[0].target, "/gnu/store/x");
        let mut abs = None;
        input_root(
            &cache,
            &[(a.clone(), "/gnu/store/aaa-a".into())],
            &[],
            &mut Blobs::new(),
            &mut abs,
        )
        .unwrap();
        assert_eq!(abs, Some(a.join("link")), "the absolute symlink is noted");
        let bin = get(&Key::from_digest(
            item.directories[0].digest.as_ref().unwrap(),
        ));
        let files: Vec<_> = bin
            .files
            .iter()
            .map(|f| (f.name.as_str(), f.is_executable))
            .collect();
        assert_eq!(files, [("sh", true), ("z", false)]);
        // The same closure gives the same root (a cache hit on the server).
        let mut again = Blobs::new();
        let root2 = input_root(
            &cache,
            &[(a, "/gnu/store/aaa-a".into())],
            &["/tmp/guix-build-a.drv-0"],
            &mut again,
            &mut None,
        )
        .unwrap();
        assert_eq!(root, root2);
        assert!(components("/gnu/../x").is_err());
    }
}
