//! Network fetching with verification.
//!
//! abovo fetches content in two places: the daemon's built-in builders
//! (`builtin:download`, `builtin:git-download`, in `abovo-build`), and
//! `abovo fetch`, which realises the fixed outputs a package rests on into
//! a content-addressed cache without building anything. Both use this
//! crate, so there is one HTTP client and one reading of Guix's mirror
//! lists.
//!
//! | module | owns |
//! | --- | --- |
//! | [`deadline`] | when a fetch gives up: an overall limit and a silence limit |
//! | [`tls`] | which certificates `https` trusts |
//! | [`http`] | the HTTP client: timeouts, retries, resumption, size limits |
//! | [`sexp`] | just enough Scheme for Guix's mirror lists and URL lists |
//! | [`download`] | `builtin:download` semantics: URL lists, `mirror://`, content-addressed mirrors |
//! | [`git`] | `builtin:git-download`: a checkout of one commit |
//! | [`guix_data`] | Guix 1.5.0's mirror lists, built in |
//! | [`verify`] | content against a fixed-output hash, flat or recursive |
//! | [`cache`] | the content-addressed cache (`$XDG_CACHE_HOME/abovo`) and its layout |
//! | [`keys`] | authorised keys (Guix ACL, Nix `name:base64`) and the verdict on signatures |
//! | [`compression`] | NAR compressions: none, gzip, xz, zstd, lzip, bzip2 |
//! | [`substitute`] | narinfo, then NAR, from `guix publish` and Nix caches |
//! | [`debian`] | Debian's source archive as a content-addressed mirror |
//! | [`realise`] | every source in order for each fixed output, in parallel, with a report |
#![deny(missing_docs)]

pub mod cache;
pub mod compression;
pub mod deadline;
pub mod debian;
pub mod download;
pub mod git;
pub mod guix_data;
pub mod http;
pub mod keys;
pub mod realise;
pub mod sexp;
pub mod substitute;
pub mod tls;
pub mod verify;

pub use deadline::Deadline;
pub use http::{Failure, HttpClient, HttpOptions};
