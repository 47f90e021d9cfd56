//! Realising Guix derivations: a local store, a sandboxed builder and the
//! tools to check that a build is reproducible.
//!
//! This crate is abovo's independent implementation of the Guix daemon's
//! job. Building a derivation here means what it means for `guix-daemon`
//! 1.5 (docs/sandbox.md, docs/build.md, and the daemon's own builders in
//! `../shared/data/daemon-conformance`): the builder runs in fresh user,
//! mount, PID, network, IPC and UTS namespaces ([`sandbox`]), in a chroot
//! holding only its input closure, as a build user, with the environment
//! Guix gives it; its outputs are checked, canonicalised (fixed outputs
//! copied out through descriptors no builder holds), hashed and scanned for
//! references in one pass, and registered in a database with Guix's schema
//! in one transaction.
//!
//! | module | job |
//! | --- | --- |
//! | [`store`] | the store directory (its items optionally elsewhere on disk, [`StoreConfig::with_real_dir`]) and its SQLite database, locks, adding items, verification |
//! | [`build`] | planning, scheduling and realising derivations; `--check` and `--rounds` |
//! | [`builtins`] | which built-in runs (`builtin:download`, `builtin:git-download`); the fetching itself is `abovo-fetch`'s |
//! | [`diff`] | file-by-file comparison of two trees |
//! | [`foreign`] | other daemons' stores: importing their `.drv` files (from a directory, store or tarball), `--check` against their store, read only |
//! | [`fsutil`] | deleting, copying and canonicalising trees |
//! | [`sandbox`] | the `abovo-sandbox` crate, re-exported: the namespaces, the chroot and the helper process that runs a builder |
//!
//! Nothing here prints: progress reaches the caller through a reporter.
//!
//! # Example: a store of one's own
//!
//! ```
//! use abovo_build::store::add::AddMethod;
//! use abovo_build::{LocalStore, StoreConfig};
//! use abovo_store::StoreDir;
//!
//! let dir = tempfile::tempdir()?;
//! let store_dir = StoreDir::new(dir.path().join("store").to_str().unwrap())?;
//! // The database goes next to the store: `<dir>/var/abovo/db/db.sqlite`.
//! let store = LocalStore::open(StoreConfig::new(store_dir, None))?;
//! std::fs::write(dir.path().join("hello.txt"), "hello\n")?;
//! let item = store.add_path(&dir.path().join("hello.txt"), AddMethod::Flat, None)?;
//! assert!(store.is_valid(&item)?);
//! let info = store.path_info(&item)?.unwrap();
//! assert_eq!(info.nar_size, 120);
//! assert!(store.verify(&mut |_, _| {})?.is_consistent());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Building needs the sandbox helper: the `abovo` binary re-executes itself
//! (`abovo __sandbox-helper`); a library user runs the
//! `abovo-sandbox-helper` binary of the `abovo-sandbox` crate
//! ([`sandbox::HelperCommand`]).
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod build;
pub mod builtins;
pub mod diff;
pub mod foreign;
pub mod fsutil;
mod io_error;
pub mod store;
#[cfg(test)]
mod test_support;

pub use abovo_sandbox as sandbox;

pub use build::{BuildError, BuildOptions, Builder, Reporter};
pub use io_error::IoError;
pub use store::{LocalStore, StoreConfig, StoreError};
