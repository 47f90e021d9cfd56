//! Laying out an ActionResult's outputs where abovo-build expects them.
//!
//! Every name the server sends is checked to be one path component, and
//! every blob to have the digest it is named by, before anything is
//! written; what is written belongs to abovo's user with plain modes
//! (abovo-build canonicalises it afterwards, as a local build's).

use crate::RemoteError;
use crate::client::Client;
use crate::digest::Key;
use crate::proto::{ActionResult, Digest, Directory, Tree};
use prost::Message;
use std::collections::{BTreeSet, HashMap};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Writes the output `rel` (relative to the input root) of `result` at
/// `dest`; an output the result does not have is left absent (abovo-build
/// then reports it missing).
pub async fn materialise(
    client: &Client,
    result: &ActionResult,
    rel: &str,
    dest: &Path,
) -> Result<(), RemoteError> {
    let bad = |reason: String| RemoteError::BadReply {
        call: "Execute",
        reason,
    };
    if let Some(f) = result.output_files.iter().find(|f| f.path == rel) {
        let d = f
            .digest
            .as_ref()
            .ok_or_else(|| bad(format!("the output file `{rel}` has no digest")))?;
        let data = client.read_blobs(std::slice::from_ref(d)).await?.remove(0);
        return write_file(dest, &data, f.is_executable);
    }
    // Servers before v2.1 list symlinks by what they point to.
    #[allow(deprecated)]
    let symlinks = result
        .output_symlinks
        .iter()
        .chain(&result.output_file_symlinks)
        .chain(&result.output_directory_symlinks);
    for s in symlinks {
        if s.path == rel {
            return std::os::unix::fs::symlink(&s.target, dest)
                .map_err(RemoteError::io("create the symlink", dest));
        }
    }
    if let Some(o) = result.output_directories.iter().find(|o| o.path == rel) {
        let d = o
            .tree_digest
            .as_ref()
            .ok_or_else(|| bad(format!("the output directory `{rel}` has no tree digest")))?;
        let bytes = client.read_blobs(std::slice::from_ref(d)).await?.remove(0);
        let tree = OutputTree::decode(&bytes)
            .map_err(|reason| bad(format!("the tree of `{rel}` {reason}")))?;
        // Every file's bytes, fetched once each.
        let digests: Vec<Digest> = tree.files.iter().map(Key::digest).collect();
        let blobs = client.read_blobs(&digests).await?;
        let contents: HashMap<Key, Vec<u8>> = tree.files.iter().cloned().zip(blobs).collect();
        return tree.write(dest, &contents);
    }
    Ok(())
}

/// Directories deeper than this are refused (a cycle of digests cannot
/// happen in a real tree, but a hostile one can name one).
const MAX_DEPTH: usize = 512;
/// Output trees with more entries than this are refused.
const MAX_ENTRIES: usize = 10_000_000;

/// An output directory's `Tree`, decoded and checked: every directory it
/// names is in it, no deeper than `MAX_DEPTH`, and every name is one path
/// component; `files` are the digests of the files' contents.
#[derive(Debug)]
pub struct OutputTree {
    root: Directory,
    children: HashMap<Key, Directory>,
    /// The digests of every file's contents, each once.
    pub files: BTreeSet<Key>,
}

impl OutputTree {
    /// Decodes and checks a `Tree` message; `Err` says what is wrong.
    pub fn decode(bytes: &[u8]) -> Result<OutputTree, String> {
        let tree = Tree::decode(bytes).map_err(|e| format!("does not decode: {e}"))?;
        let root = tree.root.ok_or("has no root")?;
        let children: HashMap<Key, Directory> = tree
            .children
            .into_iter()
            .map(|c| (Key::of(&c.encode_to_vec()), c))
            .collect();
        let mut t = OutputTree {
            root,
            children,
            files: BTreeSet::new(),
        };
        let mut files = BTreeSet::new();
        let mut budget = MAX_ENTRIES;
        t.check(&t.root, &mut files, &mut budget, 0)?;
        t.files = files;
        Ok(t)
    }

    fn child(&self, d: Option<&Digest>) -> Result<&Directory, String> {
        d.and_then(|d| self.children.get(&Key::from_digest(d)))
            .ok_or_else(|| "names a directory it does not hold".to_owned())
    }

    fn check(
        &self,
        dir: &Directory,
        files: &mut BTreeSet<Key>,
        budget: &mut usize,
        depth: usize,
    ) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!("is more than {MAX_DEPTH} directories deep"));
        }
        // A directory may be named many times (the same digest); a hostile
        // tree could name one twice at every level.
        let entries = dir.files.len() + dir.symlinks.len() + dir.directories.len();
        *budget = budget
            .checked_sub(entries)
            .ok_or_else(|| format!("has more than {MAX_ENTRIES} entries"))?;
        let mut names = BTreeSet::new();
        for f in &dir.files {
            let d = f
                .digest
                .as_ref()
                .ok_or_else(|| format!("has a file `{}` without a digest", f.name))?;
            files.insert(Key::from_digest(d));
            names.insert(component(&f.name)?);
        }
        for s in &dir.symlinks {
            names.insert(component(&s.name)?);
        }
        for d in &dir.directories {
            names.insert(component(&d.name)?);
            self.check(self.child(d.digest.as_ref())?, files, budget, depth + 1)?;
        }
        if names.len() != entries {
            return Err("names an entry twice in one directory".into());
        }
        Ok(())
    }

    /// Writes the tree at `dest` (which must not exist), the files'
    /// contents from `contents`.
    pub fn write(&self, dest: &Path, contents: &HashMap<Key, Vec<u8>>) -> Result<(), RemoteError> {
        write_dir(dest, &self.root, self, contents)
    }
}

fn write_dir(
    dest: &Path,
    dir: &Directory,
    tree: &OutputTree,
    contents: &HashMap<Key, Vec<u8>>,
) -> Result<(), RemoteError> {
    // Names, digests and depth were checked by `OutputTree::decode`.
    let bad = |reason: String| RemoteError::BadReply {
        call: "Execute",
        reason,
    };
    std::fs::create_dir(dest).map_err(RemoteError::io("create", dest))?;
    std::fs::set_permissions(dest, std::fs::Permissions::from_mode(0o755))
        .map_err(RemoteError::io("set the mode of", dest))?;
    for f in &dir.files {
        let data = f
            .digest
            .as_ref()
            .and_then(|d| contents.get(&Key::from_digest(d)))
            .ok_or_else(|| bad(format!("the contents of `{}` did not come", f.name)))?;
        write_file(
            &dest.join(component(&f.name).map_err(bad)?),
            data,
            f.is_executable,
        )?;
    }
    for s in &dir.symlinks {
        let p = dest.join(component(&s.name).map_err(bad)?);
        std::os::unix::fs::symlink(&s.target, &p)
            .map_err(RemoteError::io("create the symlink", &p))?;
    }
    for d in &dir.directories {
        let sub = tree.child(d.digest.as_ref()).map_err(bad)?;
        write_dir(
            &dest.join(component(&d.name).map_err(bad)?),
            sub,
            tree,
            contents,
        )?;
    }
    Ok(())
}

/// `name` when it is one path component: a server cannot make abovo write
/// outside the output.
pub(crate) fn component(name: &str) -> Result<&str, String> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') || name.contains('\0') {
        return Err(format!("holds the name `{name}`, which is not a file name"));
    }
    Ok(name)
}

fn write_file(dest: &Path, data: &[u8], executable: bool) -> Result<(), RemoteError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(if executable { 0o755 } else { 0o644 })
        .open(dest)
        .map_err(RemoteError::io("create", dest))?;
    f.write_all(data).map_err(RemoteError::io("write", dest))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use crate::proto::{DirectoryNode, FileNode};

    #[test]
    fn hostile_trees_are_refused_before_anything_is_written() {
        let file = |name: &str| FileNode {
            name: name.into(),
            digest: Some(Key::of(b"x").digest()),
            is_executable: false,
            node_properties: None,
        };
        let tree = |root: Directory, children: Vec<Directory>| {
            Tree {
                root: Some(root),
                children,
            }
            .encode_to_vec()
        };
        let escape = Directory {
            files: vec![file("../evil")],
            ..Directory::default()
        };
        let e = OutputTree::decode(&tree(escape, vec![])).unwrap_err();
        assert!(e.contains("not a file name"), "{e}");
        let twice = Directory {
            files: vec![file("a"), file("a")],
            ..Directory::default()
        };
        assert!(OutputTree::decode(&tree(twice, vec![])).is_err());
        let dangling = Directory {
            directories: vec![DirectoryNode {
                name: "d".into(),
                digest: Some(Key::of(b"nothing").digest()),
            }],
            ..Directory::default()
        };
        assert!(OutputTree::decode(&tree(dangling, vec![])).is_err());
        // A good one is written out.
        let sub = Directory {
            files: vec![file("f")],
            ..Directory::default()
        };
        let root = Directory {
            directories: vec![DirectoryNode {
                name: "d".into(),
                digest: Some(Key::of(&sub.encode_to_vec()).digest()),
            }],
            ..Directory::default()
        };
        let t = OutputTree::decode(&tree(root, vec![sub])).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let contents = t.files.iter().map(|k| (k.clone(), b"x".to_vec())).collect();
        t.write(&dir.path().join("out"), &contents).unwrap();
        assert_eq!(std::fs::read(dir.path().join("out/d/f")).unwrap(), b"x");
    }

    #[test]
    fn only_single_components_are_names() {
        for bad in ["", ".", "..", "a/b", "/etc", "a\0"] {
            assert!(component(bad).is_err(), "{bad:?}");
        }
        assert!(component("..a").is_ok());
    }
}
