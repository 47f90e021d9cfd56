//! `exportReferencesGraph`: the closure files a derivation asks for in its
//! build directory, written as guix-daemon writes them.

use super::build_user::BuildUser;
use super::{BuildError, Builder};
use crate::store::StoreError;
use abovo_store::StorePath;
use abovo_store::derivation::Derivation;
use std::path::Path;

impl Builder<'_> {
    /// `exportReferencesGraph = "name1 path1 name2 path2 …"`: writes the
    /// closure of each path (with the outputs of any derivation in it) to
    /// `name` in the build directory, in the format of `guix-daemon
    /// --register-validity` without derivers, as the daemon does.
    pub(super) fn export_references_graph(
        &self,
        drv_path: &StorePath,
        drv: &Derivation,
        top: &Path,
        user: &BuildUser,
    ) -> Result<(), BuildError> {
        let Some(value) = drv.env_str("exportReferencesGraph") else {
            return Ok(());
        };
        let store = self.store;
        let bad = |reason: String| BuildError::BadDerivation {
            drv: store.display(drv_path),
            reason,
        };
        let tokens: Vec<&str> = value.split_ascii_whitespace().collect();
        if tokens.len() % 2 != 0 {
            return Err(bad(format!(
                "odd number of tokens in `exportReferencesGraph`: `{value}`"
            )));
        }
        for pair in tokens.chunks(2) {
            let (file, path) = (pair[0], pair[1]);
            abovo_store::store_path::validate_name(file)
                .map_err(|e| bad(format!("`exportReferencesGraph` file name: {e}")))?;
            let (item, _) = store.store_dir().parse_prefix(path).map_err(|_| {
                bad(format!(
                    "`exportReferencesGraph` contains a non-store path `{path}`"
                ))
            })?;
            if !store.is_valid(&item)? {
                return Err(bad(format!(
                    "`exportReferencesGraph` contains an invalid path `{path}`"
                )));
            }
            let mut paths = store.closure([&item])?;
            for p in paths.clone() {
                if p.is_derivation() {
                    let d = store.read_derivation(&p)?;
                    let outs: Vec<StorePath> = d
                        .outputs
                        .values()
                        .filter_map(|o| o.path.clone())
                        .filter(|o| store.is_valid(o).unwrap_or(false))
                        .collect();
                    paths.extend(store.closure(&outs)?);
                }
            }
            let mut text = String::new();
            let mut shown: Vec<(String, &StorePath)> =
                paths.iter().map(|p| (store.display(p), p)).collect();
            shown.sort();
            for (s, p) in shown {
                let info = store
                    .path_info(p)?
                    .ok_or_else(|| StoreError::NotValid(s.clone()))?;
                let mut refs: Vec<String> =
                    info.references.iter().map(|r| store.display(r)).collect();
                refs.sort();
                text.push_str(&format!("{s}\n\n{}\n", refs.len()));
                for r in refs {
                    text.push_str(&r);
                    text.push('\n');
                }
            }
            let target = top.join(file);
            std::fs::write(&target, text).map_err(|e| {
                StoreError::Io(crate::IoError {
                    path: target.clone(),
                    action: "write",
                    source: e,
                })
            })?;
            std::os::unix::fs::chown(&target, Some(user.uid()), Some(user.gid())).map_err(|e| {
                StoreError::Io(crate::IoError {
                    path: target.clone(),
                    action: "chown",
                    source: e,
                })
            })?;
        }
        Ok(())
    }
}
