//! Helpers shared by the tests of other projects' derivation test data
//! (`ABOVO_NIX_DRV_FIXTURES`): finding the folder, reading its files
//! (following the text files that hold a relative link), and the
//! derivation hashes of a directory of `.drv` files.
#![allow(dead_code, clippy::unwrap_used)] // tests: a panic is the failure report

use abovo_store::derivation::{Derivation, DerivationError};
use abovo_store::{StoreDir, StorePath};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Prints a line that `cargo test` does not capture.
macro_rules! report {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// The fixtures' folder, or `None` (with one line saying so).
pub fn root(test: &str) -> Option<PathBuf> {
    match std::env::var_os("ABOVO_NIX_DRV_FIXTURES") {
        Some(d) if Path::new(&d).is_dir() => Some(PathBuf::from(d)),
        _ => {
            report!("{test}: skipped, ABOVO_NIX_DRV_FIXTURES is not set (.ci/run sets it)");
            None
        }
    }
}

pub fn store() -> StoreDir {
    StoreDir::new(StoreDir::NIX).unwrap()
}

/// Every file under `dir`, sorted.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// A file's bytes, following a text file that holds a relative link.
pub fn read(path: &Path) -> Vec<u8> {
    let bytes = std::fs::read(path).unwrap();
    if bytes.starts_with(b"../") && bytes.len() < 300 && !bytes.contains(&b'(') {
        let target = std::str::from_utf8(&bytes).unwrap().trim();
        return read(&path.parent().unwrap().join(target));
    }
    bytes
}

pub fn base(path: &Path) -> &str {
    path.file_name().unwrap().to_str().unwrap()
}

/// The derivation name of a file named `<hash>-<name>.drv`.
pub fn drv_name(path: &Path) -> Option<String> {
    let p = StorePath::from_base_name(base(path)).ok()?;
    p.derivation_name().map(str::to_owned)
}

/// Derivation hashes of the `.drv` files of one directory, by store path.
pub struct Dir {
    pub store: StoreDir,
    pub drvs: BTreeMap<StorePath, Derivation>,
    memo: BTreeMap<StorePath, Result<[u8; 32], DerivationError>>,
}

impl Dir {
    pub fn load(dir: &Path) -> Dir {
        let store = store();
        let mut drvs = BTreeMap::new();
        for f in files(dir).into_iter().filter(|f| base(f).ends_with(".drv")) {
            if let Ok(p) = StorePath::from_base_name(base(&f)) {
                drvs.insert(p, Derivation::parse(&store, &read(&f)).unwrap());
            }
        }
        Dir {
            store,
            drvs,
            memo: BTreeMap::new(),
        }
    }

    pub fn hash(&mut self, p: &StorePath) -> Result<[u8; 32], DerivationError> {
        if let Some(h) = self.memo.get(p) {
            return h.clone();
        }
        let drv = self
            .drvs
            .get(p)
            .cloned()
            .ok_or_else(|| DerivationError::Input {
                path: p.to_string(),
                reason: "not in the directory".into(),
            })?;
        let store = self.store.clone();
        let h = drv.hash_modulo(&store, |q| self.hash(q));
        self.memo.insert(p.clone(), h.clone());
        h
    }
}
