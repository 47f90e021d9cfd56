//! Adding content to the store: files and trees (`abovo add`), texts, and
//! derivations (`abovo derivation add`).
//!
//! Every addition follows the same steps, so that nothing half-written ever
//! becomes valid: lock the destination path; if it is already valid, stop;
//! otherwise write a copy under a temporary name inside the store,
//! canonicalise it, check that its hash is still the one the path was
//! computed from (the source could have changed), delete any invalid leftover
//! at the destination, rename the copy into place and register it.
//!
//! | method | store path | like Guix's |
//! | --- | --- | --- |
//! | [`AddMethod::Recursive`] | `source` path of the NAR SHA-256, no references | `add-to-store` with `recursive? #t` (`guix download -r`, `local-file`) |
//! | [`AddMethod::Flat`] | fixed path of the file's SHA-256 | `add-to-store` with `recursive? #f` |
//! | text | `text` path of the contents and references | `add-text-to-store`, `.drv` files |

use super::db::{PathInfo, Registration};
use super::lock::{PathLocks, Wait};
use super::{LocalStore, StoreError, io_err};
use crate::fsutil::{self, InodesSeen};
use abovo_store::StorePath;
use abovo_store::derivation::{Derivation, DerivationError};
use abovo_store::hash::{Hash, HashAlgo};
use abovo_store::nar::{self, NarHash};
use abovo_store::store_path::validate_name;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// How a file or tree is hashed when it is added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddMethod {
    /// The NAR serialisation (any file type, executable bits kept).
    Recursive,
    /// The bytes of one regular file.
    Flat,
}

impl LocalStore {
    /// Adds the file or tree at `src` under `name` (default: its file name)
    /// and returns its store path.
    pub fn add_path(
        &self,
        src: &Path,
        method: AddMethod,
        name: Option<&str>,
    ) -> Result<StorePath, StoreError> {
        let name = match name {
            Some(n) => n.to_owned(),
            None => src
                .file_name()
                .and_then(|n| n.to_str())
                .map(str::to_owned)
                .ok_or_else(|| StoreError::Io {
                    path: src.to_owned(),
                    action: "name (pass --name)",
                    source: std::io::Error::from(std::io::ErrorKind::InvalidInput),
                })?,
        };
        validate_name(&name)?;
        match method {
            AddMethod::Recursive => {
                let nar = nar::hash_path(src)?;
                let path = self
                    .store_dir()
                    .make_fixed_output_path(&name, true, &nar.hash)?;
                self.install(
                    &path,
                    BTreeSet::new(),
                    None,
                    BTreeMap::new(),
                    src,
                    Some(nar.hash),
                    |tmp| Ok(fsutil::copy_tree(src, tmp)?),
                )?;
                Ok(path)
            }
            AddMethod::Flat => {
                let bytes = std::fs::read(src).map_err(io_err(src, "read"))?;
                let hash = HashAlgo::Sha256.digest(&bytes);
                let path = self
                    .store_dir()
                    .make_fixed_output_path(&name, false, &hash)?;
                // Written from the bytes that were hashed: nothing can change.
                self.install(
                    &path,
                    BTreeSet::new(),
                    None,
                    BTreeMap::new(),
                    src,
                    None,
                    |tmp| write_new_file(tmp, &bytes),
                )?;
                Ok(path)
            }
        }
    }

    /// Adds `contents` as a text file with `references` (which must be
    /// valid), as `add-text-to-store` does.
    pub fn add_text(
        &self,
        name: &str,
        contents: &[u8],
        references: &BTreeSet<StorePath>,
    ) -> Result<StorePath, StoreError> {
        let path = self
            .store_dir()
            .make_text_path(name, contents, references)?;
        let source = Path::new(name);
        self.install(
            &path,
            references.clone(),
            None,
            BTreeMap::new(),
            source,
            None,
            |tmp| write_new_file(tmp, contents),
        )?;
        Ok(path)
    }

    /// Writes the derivation `drv` named `name` to the store and registers it
    /// with its references and outputs. Output paths that are missing are
    /// computed; recorded ones must be right. Every input must be valid.
    pub fn add_derivation(
        &self,
        drv: &mut Derivation,
        name: &str,
    ) -> Result<StorePath, StoreError> {
        validate_name(name)?;
        let bad = |reason: String| StoreError::BadDerivation {
            path: format!("{name}.drv"),
            reason,
        };
        for input in drv.references() {
            if !self.is_valid(input)? {
                return Err(StoreError::NotValid(self.display(input)));
            }
        }
        for (drv_path, outputs) in &drv.input_derivations {
            let input = self.read_derivation(drv_path)?;
            for o in outputs {
                if !input.outputs.contains_key(o) {
                    return Err(bad(format!(
                        "input `{}` has no output {o:?}",
                        self.display(drv_path)
                    )));
                }
            }
        }
        let mut memo = HashMap::new();
        let store_dir = self.store_dir().clone();
        let missing = drv.outputs.values().any(|o| o.path.is_none());
        if missing {
            drv.fill_output_paths(&store_dir, name, |p| self.input_hash(p, &mut memo))
                .map_err(|e| bad(e.to_string()))?;
        }
        let mismatches = drv
            .check_output_paths(&store_dir, name, |p| self.input_hash(p, &mut memo))
            .map_err(|e| bad(e.to_string()))?;
        if let Some(m) = mismatches.first() {
            return Err(bad(format!(
                "{} is `{}` but must be `{}` (leave the output paths out and abovo computes them)",
                m.what, m.actual, m.expected
            )));
        }
        let aterm = drv.to_aterm(&store_dir);
        let drv_path = drv
            .drv_path(&store_dir, name, &aterm)
            .map_err(|e| bad(e.to_string()))?;
        let references: BTreeSet<StorePath> = drv.references().cloned().collect();
        let outputs = LocalStore::derivation_output_paths(drv, &store_dir, &drv_path)?;
        let source = Path::new(name);
        self.install(&drv_path, references, None, outputs, source, None, |tmp| {
            write_new_file(tmp, &aterm)
        })?;
        Ok(drv_path)
    }

    /// The derivation hash (modulo fixed outputs) of a valid `.drv`, with
    /// memoisation across one call tree.
    fn input_hash(
        &self,
        path: &StorePath,
        memo: &mut HashMap<StorePath, [u8; 32]>,
    ) -> Result<[u8; 32], DerivationError> {
        if let Some(h) = memo.get(path) {
            return Ok(*h);
        }
        let fail = |reason: String| DerivationError::Input {
            path: self.display(path),
            reason,
        };
        let drv = self
            .read_derivation(path)
            .map_err(|e| fail(e.to_string()))?;
        let h = drv.hash_modulo(self.store_dir(), |q| self.input_hash(q, memo))?;
        memo.insert(path.clone(), h);
        Ok(h)
    }

    /// The common path of every addition (see the module docs). `write`
    /// creates the item at the temporary path it is given, copying from
    /// `source`; when `expected_nar` is given, the copy must have that NAR
    /// hash (the path was computed from it).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn install(
        &self,
        path: &StorePath,
        references: BTreeSet<StorePath>,
        deriver: Option<StorePath>,
        derivation_outputs: BTreeMap<String, StorePath>,
        source: &Path,
        expected_nar: Option<Hash>,
        write: impl FnOnce(&Path) -> Result<(), StoreError>,
    ) -> Result<NarHash, StoreError> {
        let real = self.real_path(path);
        let mut locks = PathLocks::lock([real.as_path()], Wait::Block)?.unwrap_or_default();
        locks.set_delete(true);
        if let Some(info) = self.path_info(path)? {
            return Ok(NarHash {
                hash: info.nar_hash,
                size: info.nar_size,
            });
        }
        let tmp = self.temp_path("add");
        let result = (|| {
            write(&tmp)?;
            fsutil::canonicalise(&tmp, None, &mut InodesSeen::default())?;
            let nar = nar::hash_path(&tmp)?;
            if expected_nar.is_some_and(|h| h != nar.hash) {
                return Err(StoreError::Changed(source.to_owned()));
            }
            fsutil::delete_path(&real)?;
            fsutil::rename_item(&tmp, &real)?;
            Ok(nar)
        })();
        let nar = match result {
            Ok(nar) => nar,
            Err(e) => {
                let _ = fsutil::delete_path(&tmp);
                return Err(e);
            }
        };
        self.register(&[Registration {
            info: PathInfo {
                path: path.clone(),
                nar_hash: nar.hash,
                nar_size: nar.size,
                references,
                deriver,
                registration_time: 0,
            },
            derivation_outputs,
        }])?;
        Ok(nar)
    }
}

fn write_new_file(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o444)
        .open(path)
        .map_err(io_err(path, "create"))?;
    f.write_all(bytes).map_err(io_err(path, "write"))?;
    Ok(())
}
