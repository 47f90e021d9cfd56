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
//!
//! # Example: realise a fixed output from a directory of seeds
//!
//! ```
//! use abovo_fetch::cache::Cache;
//! use abovo_fetch::realise::{LocalStore, Quiet, Realiser, Request, Settings, Status};
//! use abovo_store::{derivation::FixedOutput, HashAlgo, StoreDir};
//!
//! let tmp = tempfile::tempdir()?;
//! let fixed = FixedOutput { recursive: false, hash: HashAlgo::Sha256.digest(b"seed\n") };
//! let store = StoreDir::default();
//! let path = store.display(&store.make_fixed_output_path("seed.txt", false, &fixed.hash)?);
//! // A directory holding the output under its store base name.
//! let seeds = tmp.path().join("seeds");
//! std::fs::create_dir(&seeds)?;
//! std::fs::write(seeds.join(path.rsplit('/').next().unwrap()), b"seed\n")?;
//!
//! let cache = Cache::new(tmp.path().join("cache"));
//! let settings = Settings {
//!     stores: vec![LocalStore { dir: seeds, store_dir: None }],
//!     offline: true,
//!     ..Settings::default()
//! };
//! let run = Realiser::new(&cache, &settings, &Quiet)?;
//! let request = Request { store_path: path, fixed, derivation: None, mirrors: None, ca_mirrors: None };
//! let outcome = run.realise(&request);
//! assert_eq!(outcome.status, Status::Fetched);
//! assert_eq!(outcome.measured.unwrap().bytes, 5);
//! // Verified, in the cache, where `seeds --seed-dir` would find it too.
//! assert!(cache.item_path(request.base_name()).is_file());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

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
