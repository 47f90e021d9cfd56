//! The store formats of GNU Guix (and Nix), bit for bit.
//!
//! This crate is the ground abovo stands on (docs/architecture.md; the
//! formats are described in docs/formats.md): it turns the bytes
//! Guix writes into typed values and back, and computes every hash and path the
//! way the Guix daemon does. It does no I/O policy, no graph work and no
//! printing for people.
//!
//! | module | format |
//! | --- | --- |
//! | [`nixbase32`] | Nix base32, the encoding of store path hashes |
//! | [`encoding`] | base16, RFC 4648 base32 and base64 |
//! | [`hash`] | hash algorithms, digests, `algo:digest` strings |
//! | [`file_hash`] | `guix hash` semantics: flat, NAR and Git hashes of files, `-x` |
//! | [`store_path`] | store directories, store paths, fingerprints |
//! | [`derivation`] | `.drv` files: ATerm reading and writing, JSON, hashing, output paths |
//! | [`nar`] | NAR archives: writing, strict reading, unpacking, NAR hash and size |
//! | [`narinfo`] | narinfo files: parsing, writing, Nix and Guix signatures |
//! | [`references`] | reference scanning over a NAR stream, as the daemon does it |
//! | [`rewrite`] | rewriting hash parts in a stream, hashing modulo a hash part (self-references of content-addressed outputs) |
//!
//! Everything that names a path takes the store directory as a value
//! ([`store_path::StoreDir`]): `/gnu/store` by default, `/nix/store` works too.
//!
//! # Example: check a derivation's name
//!
//! ```
//! use abovo_store::{derivation::Derivation, store_path::StoreDir};
//! let store = StoreDir::default();
//! let text = br#"Derive([("out","/gnu/store/280xcws0xz6c1gx6721jyj2d8j0ly9gz-minimal","","")],[],[],"x86_64-linux","/bin/sh",["-c","echo 'Success' > $out"],[("PATH","/bin"),("out","/gnu/store/280xcws0xz6c1gx6721jyj2d8j0ly9gz-minimal")])"#;
//! let drv = Derivation::parse(&store, text)?;
//! assert_eq!(drv.to_aterm(&store), &text[..]);
//! let path = drv.drv_path(&store, "minimal", text)?;
//! assert_eq!(store.display(&path), "/gnu/store/w9krgvil6919s2ghqgx443zb9krx75s6-minimal.drv");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod derivation;
pub mod encoding;
pub mod file_hash;
pub mod hash;
pub mod nar;
pub mod narinfo;
pub mod nixbase32;
pub mod references;
pub mod rewrite;
pub mod store_path;

pub use hash::{Hash, HashAlgo};
pub use store_path::{StoreDir, StorePath};
