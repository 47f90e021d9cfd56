//! The daemon's built-in builders: `builtin:download` and
//! `builtin:git-download`.
//!
//! As in guix-daemon, built-ins are not run in the chroot: they are the
//! daemon's own code (here, abovo's), trusted like the daemon, and their
//! outputs are fixed, so the hash check decides. They write the output
//! where a sandboxed builder would (inside the derivation's staging
//! directory in the store) and the same post-processing follows.
//!
//! The fetching itself (the HTTP client, certificates, mirror lists, git)
//! lives in `abovo-fetch`, shared with `abovo fetch`; this module decides
//! which built-in runs and re-exports what callers of the daemon set.

pub use abovo_fetch::download::{self, DownloadOptions};
pub use abovo_fetch::{Deadline, git, sexp, tls};

use crate::sandbox::Limits;
use crate::store::LocalStore;
use abovo_store::derivation::Derivation;
use std::path::Path;

/// The deadline of a built-in run under `limits`: `--timeout` and
/// `--max-silent-time` apply to built-ins as to any builder (a zero limit
/// is none). For a built-in, *silence* means no progress: no byte
/// received by a download, no output from `git`.
pub fn deadline(limits: Limits) -> Deadline {
    let limits = limits.effective();
    Deadline::new(limits.timeout, limits.max_silent_time)
}

/// Runs built-in `name` for `drv`, creating its output at `target`, giving
/// up at `deadline`.
pub fn run(
    name: &str,
    drv: &Derivation,
    target: &Path,
    opts: &DownloadOptions,
    store: &LocalStore,
    deadline: Deadline,
    log: &mut dyn FnMut(&[u8]),
) -> Result<(), String> {
    if !drv.is_fixed_output() {
        return Err("a built-in builder can only build fixed-output derivations".into());
    }
    // The derivation names its mirror lists by store path; the store may
    // keep its items elsewhere (`--real-store-dir`, a lower layer), so the
    // built-in reads them where they are.
    let drv = &with_mirror_lists_on_disk(drv, store);
    match name {
        "download" => download::run(drv, target, opts, deadline, log),
        "git-download" => git::run(drv, target, deadline, log),
        other => Err(format!("unsupported built-in builder `builtin:{other}`")),
    }
}

/// `drv` with its `mirrors` and `content-addressed-mirrors` variables (store
/// paths) replaced by where `store` has those files on disk.
fn with_mirror_lists_on_disk(drv: &Derivation, store: &LocalStore) -> Derivation {
    let mut drv = drv.clone();
    for key in ["mirrors", "content-addressed-mirrors"] {
        let Some(file) = drv.env_str(key).map(str::to_owned) else {
            continue;
        };
        let Ok((item, rest)) = store.store_dir().parse_prefix(&file) else {
            continue;
        };
        if let Ok(real) = store.item_path(&item) {
            let mut on_disk = real.into_os_string().into_encoded_bytes();
            on_disk.extend_from_slice(rest.as_bytes());
            drv.environment.insert(key.as_bytes().to_vec(), on_disk);
        }
    }
    drv
}
