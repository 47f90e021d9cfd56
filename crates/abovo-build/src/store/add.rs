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
use super::names::{check_new_name, check_no_nul, shorten};
use super::{LocalStore, StoreError, io_err};
use crate::fsutil::{self, InodesSeen};
use abovo_store::StorePath;
use abovo_store::derivation::{
    Derivation, DerivationError, DerivationKind, IMPURE_HASH, MAX_DRV_SIZE, OutputKind,
};
use abovo_store::hash::{Hash, HashAlgo, HashError};
use abovo_store::nar::{self, NarHash};
use abovo_store::store_path::validate_name;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// A derivation's hash modulo, or why it has none (Nix's `DeferredDrv`),
/// as [`LocalStore::input_hash`] memoises it.
pub(crate) type Hashed = Result<[u8; 32], abovo_store::derivation::Deferral>;

/// How a file or tree is hashed when it is added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddMethod {
    /// The NAR serialisation (any file type, executable bits kept).
    Recursive,
    /// The bytes of one regular file.
    Flat,
}

/// Checks the name of an item `abovo add` makes: a valid new store name
/// ([`check_new_name`]) that does not end in `.drv`. Only `add_derivation`
/// makes `.drv` items (a text item whose references are its inputs); a file
/// added under such a name would look like a derivation that `store verify`
/// finds wrong forever.
pub fn check_add_name(name: &str) -> Result<(), StoreError> {
    let bad = |reason: String| StoreError::BadName {
        name: name.to_owned(),
        reason,
    };
    check_new_name(name).map_err(bad)?;
    if name.ends_with(".drv") {
        return Err(bad(
            "a name ending in `.drv` is a derivation's, and only `abovo derivation add` \
             makes derivations (from their JSON)"
                .into(),
        ));
    }
    Ok(())
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
                .ok_or_else(|| {
                    StoreError::Io(crate::IoError {
                        path: src.to_owned(),
                        action: "name (pass --name)",
                        source: std::io::Error::from(std::io::ErrorKind::InvalidInput),
                    })
                })?,
        };
        check_add_name(&name)?;
        // A tree is hashed, then copied, and the copy must hash the same (the
        // tree could change in between); a flat file is written from the
        // bytes that were hashed, so nothing can change.
        let (hash, flat_bytes) = match method {
            AddMethod::Recursive => (nar::hash_path(src)?.hash, None),
            AddMethod::Flat => {
                let bytes = std::fs::read(src).map_err(io_err(src, "read"))?;
                (HashAlgo::Sha256.digest(&bytes), Some(bytes))
            }
        };
        let path = self.store_dir().make_fixed_output_path(
            &name,
            method == AddMethod::Recursive,
            &hash,
        )?;
        let expected_nar = flat_bytes.is_none().then_some(hash);
        self.install(
            &path,
            BTreeSet::new(),
            None,
            BTreeMap::new(),
            src,
            expected_nar,
            |tmp| match &flat_bytes {
                Some(bytes) => write_new_file(tmp, bytes),
                None => Ok(fsutil::copy_tree(src, tmp)?),
            },
        )?;
        Ok(path)
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
        check_derivation(drv, name).map_err(bad)?;
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
                        "input `{}` has no output `{o}`",
                        self.display(drv_path)
                    )));
                }
            }
        }
        let mut memo = HashMap::new();
        let store_dir = self.store_dir().clone();
        // Missing paths and variables are filled in; recorded ones checked.
        drv.fill_output_paths(&store_dir, name, |p| self.input_hash(p, &mut memo))
            .map_err(|e| bad(e.to_string()))?;
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
        // The limit every reader of `.drv` files applies: a larger one would
        // be stored, then refused by `show`, `verify` and the builder.
        if aterm.len() as u64 > MAX_DRV_SIZE {
            return Err(bad(format!(
                "its text would be {} bytes, more than the {MAX_DRV_SIZE} bytes a `.drv` file may hold",
                aterm.len()
            )));
        }
        let drv_path = drv
            .drv_path(&store_dir, name, &aterm)
            .map_err(|e| bad(e.to_string()))?;
        let references: BTreeSet<StorePath> = drv.references().cloned().collect();
        // Outputs whose paths are known only after a build (floating,
        // impure, deferred) get no `DerivationOutputs` row yet, as in Nix.
        let outputs: BTreeMap<String, StorePath> = drv
            .outputs
            .iter()
            .filter_map(|(n, o)| o.path.clone().map(|p| (n.clone(), p)))
            .collect();
        let source = Path::new(name);
        self.install(&drv_path, references, None, outputs, source, None, |tmp| {
            write_new_file(tmp, &aterm)
        })?;
        Ok(drv_path)
    }

    /// The derivation hash (modulo fixed outputs) of a valid `.drv`, with
    /// memoisation across one call tree (`memo` may already hold hashes of
    /// derivations that are not valid yet, as an import's plan does). A
    /// floating or deferred derivation has none ([`DerivationError::Deferred`]):
    /// its users are deferred in turn.
    pub(crate) fn input_hash(
        &self,
        path: &StorePath,
        memo: &mut HashMap<StorePath, Hashed>,
    ) -> Result<[u8; 32], DerivationError> {
        if let Some(h) = memo.get(path) {
            return h.clone().map_err(DerivationError::Deferred);
        }
        let fail = |reason: String| DerivationError::Input {
            path: self.display(path),
            reason,
        };
        let drv = self
            .read_derivation(path)
            .map_err(|e| fail(e.to_string()))?;
        let h = drv
            .hashes(self.store_dir(), |q| self.input_hash(q, memo))?
            .modulo;
        memo.insert(path.clone(), h.clone());
        h.map_err(DerivationError::Deferred)
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
            Ok(nar)
        })();
        let nar = match result {
            Ok(nar) => nar,
            Err(e) => {
                let _ = fsutil::delete_path(&tmp);
                return Err(e);
            }
        };
        let registration = Registration {
            info: PathInfo {
                path: path.clone(),
                nar_hash: nar.hash,
                nar_size: nar.size,
                references,
                deriver,
                registration_time: 0,
            },
            derivation_outputs,
        };
        self.commit_staged(vec![(registration, tmp)])?;
        Ok(nar)
    }
}

impl LocalStore {
    /// Moves items written and checked under temporary names (each paired
    /// with its registration) to their paths, replacing invalid leftovers
    /// there, and registers them all in one transaction. The caller holds
    /// their locks. On any failure, the temporary and moved copies are
    /// deleted and nothing is registered.
    pub(crate) fn commit_staged(
        &self,
        staged: Vec<(Registration, PathBuf)>,
    ) -> Result<(), StoreError> {
        let mut moved = Vec::new();
        let result = (|| {
            for (r, tmp) in &staged {
                let real = self.real_path(&r.info.path);
                fsutil::delete_path(&real)?;
                fsutil::rename_item(tmp, &real)?;
                moved.push(real);
            }
            let registrations: Vec<Registration> = staged.iter().map(|(r, _)| r.clone()).collect();
            self.register(&registrations)
        })();
        if result.is_err() {
            for (_, tmp) in &staged {
                let _ = fsutil::delete_path(tmp);
            }
            for real in &moved {
                let _ = fsutil::delete_path(real);
            }
        }
        result
    }
}

/// The structural rules every derivation must follow, checked when one is
/// added and again before one is built (a `.drv` may come from elsewhere):
///
/// * it has at least one output (a derivation without outputs would
///   "build" nothing and succeed);
/// * every output name is a valid part of a store name, and so is
///   `<name>-<output>`, the name of its path;
/// * an output with a hash (a fixed output) is the only output, and is
///   named `out` (guix-daemon treats nothing else as fixed, so the hash
///   would silently not be checked); its hash fields parse;
/// * floating content-addressed, impure and input-addressed outputs are
///   not mixed, and floating ones share one hash algorithm (Nix's rule);
/// * the builder and the system are not empty;
/// * a built-in builder (`builtin:…`) builds a fixed output, as guix-daemon
///   requires; for `download` and `git-download`, its `url` reads as a
///   Scheme string or list of strings.
///
/// `name` is the derivation's name (without `.drv`). The error says which
/// rule is broken and how.
pub fn check_derivation(drv: &Derivation, name: &str) -> Result<(), String> {
    if drv.outputs.is_empty() {
        return Err(
            "it has no outputs; a derivation must declare at least one, usually `out` \
             (in JSON: \"outputs\": {\"out\": {}})"
                .into(),
        );
    }
    check_new_name(&format!("{name}.drv")).map_err(|e| {
        format!(
            "its name `{}` with `.drv` is no store name: {e}",
            shorten(name)
        )
    })?;
    for (output, o) in &drv.outputs {
        if output.is_empty() {
            return Err("it has an output with an empty name".into());
        }
        let shown = shorten(output);
        validate_name(output).map_err(|e| format!("its output name `{shown}` is invalid: {e}"))?;
        let path_name = abovo_store::store_path::output_path_name(name, output);
        check_new_name(&path_name).map_err(|e| {
            format!(
                "its output `{shown}` would get an invalid path name `{}`: {e}",
                shorten(&path_name)
            )
        })?;
        let fixed = !o.hash.is_empty() && o.hash != IMPURE_HASH;
        if fixed {
            if drv.outputs.len() != 1 || output != "out" {
                let names: Vec<&str> = drv.outputs.keys().map(String::as_str).collect();
                return Err(format!(
                    "its output `{output}` has a hash, but only a derivation whose one output \
                     is `out` can be fixed-output (its outputs: {})",
                    names.join(", ")
                ));
            }
            abovo_store::derivation::FixedOutput::from_fields(&o.hash_algo, &o.hash).map_err(
                |e| match e {
                    HashError::UnsupportedMethod(method) => format!(
                        "its fixed output is content-addressed by `{method}` (hashAlgo `{}`), \
                         which abovo does not support (only flat and NAR, `r:`, fixed outputs)",
                        o.hash_algo
                    ),
                    e => format!(
                        "the hash of its fixed output (hashAlgo `{}`, hash `{}`) is invalid: {e}",
                        o.hash_algo, o.hash
                    ),
                },
            )?;
        }
    }
    // Nix's rule for the other kinds: floating, impure and input-addressed
    // outputs do not mix (paths not filled in yet do not count).
    let kinds = drv.outputs.iter().map(|(n, o)| {
        let fixed = !o.hash.is_empty() && o.hash != IMPURE_HASH;
        (
            n.as_str(),
            OutputKind::classify(fixed, &o.hash_algo, &o.hash),
        )
    });
    DerivationKind::of(kinds).map_err(|e| e.to_string())?;
    if drv.builder.is_empty() {
        return Err("its builder is empty (it names the program that builds it)".into());
    }
    // What execve would cut short at a NUL: the builder would run with other
    // strings than the ones the derivation (and its hash) records.
    check_no_nul("its builder", drv.builder.as_bytes())?;
    for (i, arg) in drv.arguments.iter().enumerate() {
        check_no_nul(&format!("its argument {}", i + 1), arg)?;
    }
    for (key, value) in &drv.environment {
        let shown = shorten(&String::from_utf8_lossy(key));
        check_no_nul(
            &format!("the name of its environment variable `{shown}`"),
            key,
        )?;
        if key.contains(&b'=') {
            return Err(format!(
                "the name of its environment variable `{shown}` has a `=`, which would end the \
                 name there in the builder's environment"
            ));
        }
        check_no_nul(&format!("its environment variable `{shown}`"), value)?;
    }
    if drv.system.is_empty() {
        return Err("its system is empty (for example `x86_64-linux`)".into());
    }
    if let Some(builtin) = drv.builtin() {
        if !drv.is_fixed_output() {
            return Err(format!(
                "its builder `builtin:{builtin}` is built into the daemon, which runs it only \
                 for a fixed-output derivation (one output `out` with a hash)"
            ));
        }
        // Said now rather than when the download starts.
        if matches!(builtin, "download" | "git-download") {
            crate::builtins::download::url_list(drv)?;
        }
    }
    // Every argument and variable is in the `.drv` text at least once, so
    // their sum already tells a derivation too large to be stored, before
    // its text is written ([`LocalStore::add_derivation`] measures that).
    let strings: u64 = drv.arguments.iter().map(|a| a.len() as u64).sum::<u64>()
        + drv
            .environment
            .iter()
            .map(|(k, v)| (k.len() + v.len()) as u64)
            .sum::<u64>();
    if strings > MAX_DRV_SIZE {
        return Err(format!(
            "its arguments and environment hold {strings} bytes, more than the {MAX_DRV_SIZE} \
             bytes a `.drv` file may hold"
        ));
    }
    Ok(())
}

pub(crate) fn write_new_file(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o444)
        .open(path)
        .map_err(io_err(path, "create"))?;
    f.write_all(bytes).map_err(io_err(path, "write"))?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use crate::store::StoreConfig;
    use abovo_store::StoreDir;
    use abovo_store::derivation::Output;

    fn drv(outputs: &[(&str, &str, &str)]) -> Derivation {
        Derivation {
            outputs: outputs
                .iter()
                .map(|(name, algo, hash)| {
                    (
                        name.to_string(),
                        Output {
                            path: None,
                            hash_algo: algo.to_string(),
                            hash: hash.to_string(),
                        },
                    )
                })
                .collect(),
            system: "x86_64-linux".into(),
            builder: "/gnu/store/00000000000000000000000000000000-sh/bin/sh".into(),
            ..Derivation::default()
        }
    }

    const SHA: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

    #[test]
    fn structurally_invalid_derivations_are_refused() {
        assert_eq!(check_derivation(&drv(&[("out", "", "")]), "ok"), Ok(()));
        assert_eq!(
            check_derivation(&drv(&[("out", "", ""), ("doc", "", "")]), "ok"),
            Ok(())
        );
        assert_eq!(
            check_derivation(&drv(&[("out", "sha256", SHA)]), "ok"),
            Ok(())
        );
        let refused = |d: Derivation, name: &str, want: &str| {
            let err = check_derivation(&d, name).unwrap_err();
            assert!(err.contains(want), "{want:?} not in {err:?}");
        };
        refused(drv(&[]), "x", "it has no outputs");
        refused(drv(&[("", "", "")]), "x", "an output with an empty name");
        refused(
            drv(&[("out", "", ""), ("bad/name", "", "")]),
            "x",
            "output name `bad/name` is invalid",
        );
        refused(
            drv(&[("lib", "sha256", SHA)]),
            "x",
            "its output `lib` has a hash",
        );
        refused(
            drv(&[("out", "sha256", SHA), ("doc", "", "")]),
            "x",
            "only a derivation whose one output is `out` can be fixed-output",
        );
        refused(drv(&[("out", "sha256", "nothex")]), "x", "is invalid");
        refused(drv(&[("out", "md4", SHA)]), "x", "is invalid");
        let mut d = drv(&[("out", "", "")]);
        d.builder.clear();
        refused(d, "x", "its builder is empty");
        let mut d = drv(&[("out", "", "")]);
        d.system.clear();
        refused(d, "x", "its system is empty");
        let mut d = drv(&[("out", "", "")]);
        d.builder = "builtin:download".into();
        refused(d, "x", "only for a fixed-output derivation");
        let mut d = drv(&[("out", "sha256", SHA)]);
        d.builder = "builtin:download".into();
        d.environment
            .insert(b"url".to_vec(), b"file:///tmp/x".to_vec());
        refused(d.clone(), "x", "but it is the symbol `file:///tmp/x`");
        d.environment
            .insert(b"url".to_vec(), b"\"file:///tmp/x\"".to_vec());
        assert_eq!(check_derivation(&d, "x"), Ok(()));
    }

    #[test]
    fn add_derivation_refuses_a_derivation_without_outputs() {
        let dir = tempfile::tempdir().unwrap();
        let store_dir = StoreDir::new(dir.path().join("store").to_str().unwrap()).unwrap();
        let store = LocalStore::open(StoreConfig::new(store_dir, None)).unwrap();
        let err = store
            .add_derivation(&mut drv(&[]), "empty")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("derivation `empty.drv`: it has no outputs"),
            "{err}"
        );
        assert!(
            store.db().valid_paths().unwrap().is_empty(),
            "nothing added"
        );
    }

    /// Issue 16: a derivation too large for the readers was stored, then
    /// refused by `show` and `verify`. The limit now holds at entry, both
    /// on the raw strings (`check_derivation`) and on the escaped text.
    #[test]
    fn derivations_larger_than_a_drv_file_may_be_are_refused() {
        let limit = MAX_DRV_SIZE as usize;
        let mut d = drv(&[("out", "", "")]);
        d.arguments.push(vec![b'a'; limit + 1]);
        let err = check_derivation(&d, "big").unwrap_err();
        assert!(
            err.contains(&format!("{} bytes, more than the {limit}", limit + 1)),
            "{err}"
        );
        // Just under the limit raw, but every `"` is written `\"`: only
        // the text's own size tells.
        let mut d = drv(&[("out", "", "")]);
        d.arguments.push(vec![b'"'; limit / 2 + 1]);
        assert_eq!(check_derivation(&d, "quotes"), Ok(()));
        let dir = tempfile::tempdir().unwrap();
        let store_dir = StoreDir::new(dir.path().join("store").to_str().unwrap()).unwrap();
        let store = LocalStore::open(StoreConfig::new(store_dir, None)).unwrap();
        let err = store
            .add_derivation(&mut d, "quotes")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!(
                "more than the {limit} bytes a `.drv` file may hold"
            )),
            "{err}"
        );
        assert!(
            store.db().valid_paths().unwrap().is_empty(),
            "nothing added"
        );
        // Just under the limit (room left for the output paths the store
        // fills in) is stored and read back.
        let mut d = drv(&[("out", "", "")]);
        d.arguments.push(vec![b'a'; limit - 4096]);
        let path = store.add_derivation(&mut d, "fits").unwrap();
        let back = store.read_derivation(&path).unwrap();
        assert_eq!(back.arguments, d.arguments);
    }
}
