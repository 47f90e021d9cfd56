//! A store item's tree as abovo's database keeps it between processes
//! (`AbovoInputTrees`, through abovo-build's [`InputTrees`]).
//!
//! The record is a REAPI `Tree` message: its root a directory holding the
//! item as its one entry, named `item` (a store item may be a file or a
//! symlink), its children every directory inside the item. Reading one back
//! reads none of the item's bytes, so it is checked before it is trusted:
//! it must decode, every directory it names must be in it, every name must
//! be one path component, and the NAR size its shape implies (names, file
//! sizes, symlink targets) must be the item's registered NAR size. A record
//! that fails is recomputed from the item and replaced. A file digest
//! changed on its own (same size) passes these checks; its bytes are
//! checked when they are uploaded ([`crate::client`]).
//!
//! [`InputTrees`]: abovo_build::build::InputTrees

use crate::digest::Key;
use crate::input_root::{Blob, Blobs, Item, Node};
use crate::outputs::component;
use crate::proto::{Directory, Tree};
use prost::Message;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// The name of the item in the record's root.
const ITEM: &str = "item";
/// Records naming more entries than this (counting a directory named
/// twice twice) are refused.
const MAX_ENTRIES: usize = 10_000_000;

/// The record of `item`.
pub fn encode(item: &Item) -> Vec<u8> {
    let mut root = Directory::default();
    crate::input_root::push_entry(&mut root, ITEM.to_owned(), item.node.clone());
    let children = item
        .blobs
        .values()
        .filter_map(|b| match b {
            Blob::Bytes(bytes) => Directory::decode(bytes.as_slice()).ok(),
            Blob::File(_) => None,
        })
        .collect();
    Tree {
        root: Some(root),
        children,
    }
    .encode_to_vec()
}

/// The item at `on_disk` as `record` describes it, checked against its
/// registered `nar_size` (0: unknown, not checked); `Err` says why the
/// record cannot be trusted.
pub fn decode(record: &[u8], on_disk: &Path, nar_size: u64) -> Result<Item, String> {
    let tree = Tree::decode(record).map_err(|e| format!("does not decode: {e}"))?;
    let root = tree.root.ok_or("has no root")?;
    let children: HashMap<Key, (Directory, Arc<Vec<u8>>)> = tree
        .children
        .into_iter()
        .map(|c| {
            let bytes = c.encode_to_vec();
            (Key::of(&bytes), (c, Arc::new(bytes)))
        })
        .collect();
    let mut reader = Reader {
        children: &children,
        blobs: Blobs::new(),
        absolute_symlink: None,
        budget: MAX_ENTRIES,
        nar: token("nix-archive-1"),
    };
    let entries = root.files.len() + root.directories.len() + root.symlinks.len();
    if entries != 1 {
        return Err(format!("holds {entries} items instead of one"));
    }
    let node = reader.entry(&root, on_disk)?;
    if nar_size != 0 && reader.nar != nar_size {
        return Err(format!(
            "describes a NAR of {} bytes, and the item's is {nar_size}",
            reader.nar
        ));
    }
    Ok(Item {
        node,
        blobs: reader.blobs,
        absolute_symlink: reader.absolute_symlink,
    })
}

struct Reader<'a> {
    children: &'a HashMap<Key, (Directory, Arc<Vec<u8>>)>,
    blobs: Blobs,
    absolute_symlink: Option<std::path::PathBuf>,
    budget: usize,
    /// The NAR size of what was read so far.
    nar: u64,
}

impl Reader<'_> {
    /// The one entry of `dir` (the record's root) at `path`.
    fn entry(&mut self, dir: &Directory, path: &Path) -> Result<Node, String> {
        if let Some(f) = dir.files.first() {
            let key = Key::from_digest(f.digest.as_ref().ok_or("names a file without digest")?);
            self.file(&key, f.is_executable, path);
            return Ok(Node::File {
                key,
                executable: f.is_executable,
            });
        }
        if let Some(s) = dir.symlinks.first() {
            self.symlink(&s.target, path);
            return Ok(Node::Symlink(s.target.clone()));
        }
        let d = dir.directories.first().ok_or("is empty")?;
        let key = Key::from_digest(
            d.digest
                .as_ref()
                .ok_or("names a directory without digest")?,
        );
        self.directory(&key, 0, path)?;
        Ok(Node::Dir(key))
    }

    fn file(&mut self, key: &Key, executable: bool, path: &Path) {
        self.blobs
            .entry(key.clone())
            .or_insert_with(|| Blob::File(path.to_owned()));
        self.nar += token("(") + token("type") + token("regular");
        if executable {
            self.nar += token("executable") + token("");
        }
        self.nar += token("contents") + string(u64::try_from(key.size).unwrap_or(0)) + token(")");
    }

    fn symlink(&mut self, target: &str, path: &Path) {
        if target.starts_with('/') && self.absolute_symlink.is_none() {
            self.absolute_symlink = Some(path.to_owned());
        }
        self.nar += token("(") + token("type") + token("symlink");
        self.nar += token("target") + string(target.len() as u64) + token(")");
    }

    fn directory(&mut self, key: &Key, depth: usize, path: &Path) -> Result<(), String> {
        if depth > 512 {
            return Err("is more than 512 directories deep".into());
        }
        let (dir, bytes) = self
            .children
            .get(key)
            .ok_or("names a directory it does not hold")?;
        self.blobs
            .entry(key.clone())
            .or_insert_with(|| Blob::Bytes(bytes.clone()));
        let entries = dir.files.len() + dir.directories.len() + dir.symlinks.len();
        self.budget = self
            .budget
            .checked_sub(entries)
            .ok_or("names too many entries")?;
        self.nar += token("(") + token("type") + token("directory");
        let entry = |name: &str| {
            token("entry") + token("(") + token("name") + string(name.len() as u64) + token("node")
        };
        for f in &dir.files {
            self.nar += entry(&f.name) + token(")");
            let key = Key::from_digest(f.digest.as_ref().ok_or("names a file without digest")?);
            self.file(&key, f.is_executable, &path.join(component(&f.name)?));
        }
        for s in &dir.symlinks {
            self.nar += entry(&s.name) + token(")");
            self.symlink(&s.target, &path.join(component(&s.name)?));
        }
        for d in &dir.directories {
            self.nar += entry(&d.name) + token(")");
            let key = Key::from_digest(
                d.digest
                    .as_ref()
                    .ok_or("names a directory without digest")?,
            );
            self.directory(&key, depth + 1, &path.join(component(&d.name)?))?;
        }
        self.nar += token(")");
        Ok(())
    }
}

/// The size of a NAR string of `len` bytes: its length, then the bytes
/// padded to 8.
fn string(len: u64) -> u64 {
    8 + len.div_ceil(8) * 8
}

fn token(s: &str) -> u64 {
    string(s.len() as u64)
}
