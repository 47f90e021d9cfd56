//! The input root of an action: a Merkle tree of `Directory` messages
//! rooted at `/`, holding every item of the input closure at its store
//! path (`gnu/store/<hash>-<name>/…`) and the empty build directory.
//!
//! Each store item's tree is computed once ([`ItemCache`]): store items are
//! immutable, so a closure shared by many actions is read from disk once,
//! and only the few directories above the items (`/`, `gnu`, `gnu/store`,
//! `tmp`…) are new for each action. A computed tree is kept in abovo's
//! database (`crate::recorded`), so the next process reads none of the
//! item's bytes.

use crate::RemoteError;
use crate::client::Stats;
use crate::digest::Key;
use crate::proto::{Directory, DirectoryNode, FileNode, SymlinkNode};
use abovo_build::build::InputTrees;
use prost::Message;
use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
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
    /// The bytes, which must have the digest `key`: a store file whose
    /// bytes changed since its digest was computed (or recorded in abovo's
    /// database) is not sent under the old digest.
    pub fn read(&self, key: &Key) -> Result<Vec<u8>, RemoteError> {
        match self {
            Blob::Bytes(b) => Ok(b.as_ref().clone()),
            Blob::File(p) => {
                let data = std::fs::read(p).map_err(RemoteError::io("read", p))?;
                let actual = Key::of(&data);
                if actual != *key {
                    return Err(RemoteError::Changed {
                        path: p.clone(),
                        expected: key.hash.clone(),
                        actual: actual.hash,
                    });
                }
                Ok(data)
            }
        }
    }
}

/// Every blob of an action, by digest.
pub type Blobs = BTreeMap<Key, Blob>;

/// What an item (or anything in it) is in the tree.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    File { key: Key, executable: bool },
    Dir(Key),
    Symlink(String),
}

/// A store item's tree: its node and every blob under it.
#[derive(Debug)]
pub(crate) struct Item {
    pub node: Node,
    pub blobs: Blobs,
    /// An absolute symlink in it, if any (some servers forbid them).
    pub absolute_symlink: Option<PathBuf>,
}

/// Store items' trees: each computed once (or read from abovo's
/// database), by one action while the others that need it wait.
#[derive(Debug, Default)]
pub struct ItemCache {
    items: Mutex<HashMap<PathBuf, Arc<Slot>>>,
}

/// An item's place in [`ItemCache`]: locked while its tree is made.
type Slot = Mutex<Option<Arc<Item>>>;

impl ItemCache {
    /// The tree of the item at `on_disk`, store path `path`.
    fn item(
        &self,
        on_disk: &Path,
        path: &str,
        trees: &dyn InputTrees,
        stats: &Stats,
    ) -> Result<Arc<Item>, RemoteError> {
        let slot = lock(&self.items)
            .entry(on_disk.to_owned())
            .or_default()
            .clone();
        let mut slot = lock(&slot);
        if let Some(i) = slot.as_ref() {
            return Ok(i.clone());
        }
        let known = trees.input_tree(path)?;
        let recorded = known.as_ref().and_then(|k| {
            let record = k.tree.as_ref()?;
            match crate::recorded::decode(record, on_disk, k.nar_size) {
                Ok(item) => Some(item),
                Err(_) => {
                    stats.trees_rejected.fetch_add(1, Ordering::Relaxed);
                    None
                }
            }
        });
        let item = match recorded {
            Some(item) => {
                stats.trees_from_database.fetch_add(1, Ordering::Relaxed);
                item
            }
            None => {
                let mut blobs = Blobs::new();
                let mut absolute_symlink = None;
                let node = walk(on_disk, &mut blobs, &mut absolute_symlink)?;
                let item = Item {
                    node,
                    blobs,
                    absolute_symlink,
                };
                stats.trees_computed.fetch_add(1, Ordering::Relaxed);
                if let Some(k) = &known {
                    trees.record_input_tree(path, &k.nar_hash, &crate::recorded::encode(&item))?;
                }
                item
            }
        };
        let item = Arc::new(item);
        *slot = Some(item.clone());
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
        push_entry(&mut dir, name, node);
    }
    let bytes = dir.encode_to_vec();
    let key = Key::of(&bytes);
    blobs.insert(key.clone(), Blob::Bytes(Arc::new(bytes)));
    key
}

/// Adds `node` to `dir` as `name` (entries must come sorted by name).
pub(crate) fn push_entry(dir: &mut Directory, name: String, node: Node) {
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
/// its path in the build; their trees kept in `trees`) and the empty
/// directories `dirs`. Returns the root's digest; every blob of the tree
/// is added to `blobs`, and the first input that holds an absolute symlink
/// (its place on disk) is noted in `absolute_symlink`.
pub fn input_root(
    cache: &ItemCache,
    trees: &dyn InputTrees,
    stats: &Stats,
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
        let item = cache.item(on_disk, path, trees, stats)?;
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
pub(crate) mod tests {
    use super::*;
    use abovo_build::StoreError;
    use abovo_build::store::db::ItemTree;

    /// abovo's database, in memory: every path is a valid item of NAR
    /// hash `h` and the NAR size given.
    #[derive(Default)]
    pub struct MemoryTrees {
        pub rows: Mutex<HashMap<String, Vec<u8>>>,
        pub nar_size: u64,
    }

    impl InputTrees for MemoryTrees {
        fn input_tree(&self, path: &str) -> Result<Option<ItemTree>, StoreError> {
            Ok(Some(ItemTree {
                nar_hash: "h".into(),
                nar_size: self.nar_size,
                tree: lock(&self.rows).get(path).cloned(),
            }))
        }

        fn record_input_tree(&self, path: &str, _: &str, tree: &[u8]) -> Result<(), StoreError> {
            lock(&self.rows).insert(path.into(), tree.to_vec());
            Ok(())
        }
    }

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
        let trees = MemoryTrees::default();
        let stats = Stats::default();
        let root = input_root(
            &cache,
            &trees,
            &stats,
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
            &trees,
            &stats,
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
            &trees,
            &stats,
            &[(a, "/gnu/store/aaa-a".into())],
            &["/tmp/guix-build-a.drv-0"],
            &mut again,
            &mut None,
        )
        .unwrap();
        assert_eq!(root, root2);
        assert!(components("/gnu/../x").is_err());
    }

    /// A store item with a bit of everything (files, an executable, a
    /// subdirectory, an absolute symlink, an empty file); returns its
    /// place.
    fn item(dir: &Path) -> PathBuf {
        let a = dir.join("item");
        std::fs::create_dir_all(a.join("bin/empty-dir")).unwrap();
        std::fs::write(a.join("bin/sh"), b"#!/bin/sh\necho hello\n").unwrap();
        std::fs::set_permissions(a.join("bin/sh"), std::fs::Permissions::from_mode(0o555)).unwrap();
        std::fs::write(a.join("empty"), b"").unwrap();
        std::fs::write(a.join("data"), vec![7; 1000]).unwrap();
        std::os::unix::fs::symlink("/gnu/store/x-y/bin/sh", a.join("link")).unwrap();
        std::os::unix::fs::symlink("bin", a.join("rel")).unwrap();
        a
    }

    fn root_of(
        trees: &MemoryTrees,
        stats: &Stats,
        inputs: &[(PathBuf, String)],
    ) -> (Key, Blobs, Option<PathBuf>) {
        let mut blobs = Blobs::new();
        let mut abs = None;
        let root = input_root(
            &ItemCache::default(),
            trees,
            stats,
            inputs,
            &["/tmp/x"],
            &mut blobs,
            &mut abs,
        )
        .unwrap();
        (root, blobs, abs)
    }

    #[test]
    fn a_recorded_tree_is_read_back_without_the_bytes_and_a_wrong_one_is_recomputed() {
        let dir = tempfile::tempdir().unwrap();
        let a = item(dir.path());
        let file = dir.path().join("file");
        std::fs::write(&file, b"a store item that is one file").unwrap();
        let inputs = [
            (a.clone(), "/gnu/store/aaa-a".to_owned()),
            (file.clone(), "/gnu/store/bbb-f".to_owned()),
        ];
        // The registered NAR size is checked for the directory item.
        let nar_size = abovo_store::nar::hash_path(&a).unwrap().size;
        let trees = MemoryTrees {
            nar_size,
            ..MemoryTrees::default()
        };
        lock(&trees.rows).insert("/gnu/store/bbb-f".into(), Vec::new());
        let first = Stats::default();
        let computed = root_of(&trees, &first, &inputs[..1]);
        assert_eq!(first.trees(), (0, 1, 0));
        // The next process: the same root, the same blobs (the files at the
        // same places), from the record alone.
        let next = Stats::default();
        let recorded = root_of(&trees, &next, &inputs[..1]);
        assert_eq!(next.trees(), (1, 0, 0));
        assert_eq!(computed.0, recorded.0);
        assert_eq!(
            computed.1.keys().collect::<Vec<_>>(),
            recorded.1.keys().collect::<Vec<_>>()
        );
        for (k, b) in &recorded.1 {
            assert_eq!(b.read(k).unwrap(), computed.1[k].read(k).unwrap());
        }
        assert_eq!(recorded.2, Some(a.join("link")));
        // Wrong records: garbage, a size changed, a name changed, a
        // directory left out. Each is found and the tree computed anew.
        let good = lock(&trees.rows)["/gnu/store/aaa-a"].clone();
        let mut tree = crate::proto::Tree::decode(good.as_slice()).unwrap();
        let mut resized = tree.clone();
        for c in &mut resized.children {
            for f in &mut c.files {
                f.digest.as_mut().unwrap().size_bytes += 1;
            }
        }
        let mut renamed = tree.clone();
        for c in &mut renamed.children {
            for f in &mut c.files {
                f.name.push('x');
            }
        }
        let mut escaping = tree.clone();
        for c in &mut escaping.children {
            for l in &mut c.symlinks {
                l.name = "../x".into();
            }
        }
        tree.children.pop();
        for bad in [
            b"not a tree".to_vec(),
            resized.encode_to_vec(),
            renamed.encode_to_vec(),
            escaping.encode_to_vec(),
            tree.encode_to_vec(),
        ] {
            lock(&trees.rows).insert("/gnu/store/aaa-a".into(), bad);
            let stats = Stats::default();
            let again = root_of(&trees, &stats, &inputs[..1]);
            assert_eq!(stats.trees(), (0, 1, 1));
            assert_eq!(again.0, computed.0);
            assert_eq!(lock(&trees.rows)["/gnu/store/aaa-a"], good, "replaced");
        }
        // A single-file item (NAR size unknown: 0, not checked).
        let trees = MemoryTrees::default();
        let one = root_of(&trees, &Stats::default(), &inputs[1..]);
        let stats = Stats::default();
        assert_eq!(root_of(&trees, &stats, &inputs[1..]).0, one.0);
        assert_eq!(stats.trees(), (1, 0, 0));
        // A file whose bytes changed behind the record is not sent.
        std::fs::write(&file, b"a store item that is one fil!").unwrap();
        let (_, blobs, _) = root_of(&trees, &Stats::default(), &inputs[1..]);
        let e = blobs
            .iter()
            .find_map(|(k, b)| b.read(k).err())
            .unwrap()
            .to_string();
        assert!(
            e.contains("has changed since its digest was recorded"),
            "{e}"
        );
    }
}
