//! Realising Guix derivations: a local store, a sandboxed builder and the
//! tools to check that a build is reproducible.
//!
//! This crate is abovo's independent implementation of the Guix daemon's
//! job. Building a derivation here means what it means for `guix-daemon`
//! (sandbox.md): the builder runs in fresh user, mount, PID, network, IPC
//! and UTS namespaces, in a chroot holding only its input closure, with the
//! environment Guix gives it; its outputs are checked, canonicalised, hashed
//! and scanned for references in one pass, and registered in a database
//! with Guix's schema in one transaction.
//!
//! | module | job |
//! | --- | --- |
//! | [`store`] | the store directory and its SQLite database, locks, adding items, verification |
//! | [`build`] | planning, scheduling and realising derivations; `--check` and `--rounds` |
//! | [`builtins`] | `builtin:download` and `builtin:git-download` |
//! | [`diff`] | file-by-file comparison of two trees |
//! | [`fsutil`] | deleting, copying and canonicalising trees |
//! | [`sandbox`] | the namespaces, the chroot and the helper process that runs a builder |
//!
//! Nothing here prints: progress reaches the caller through a reporter.
#![deny(missing_docs)]

pub mod build;
pub mod builtins;
pub mod diff;
pub mod fsutil;
pub mod sandbox;
pub mod store;

pub use build::{BuildError, BuildOptions, Builder, Reporter};
pub use store::{LocalStore, StoreConfig, StoreError};
