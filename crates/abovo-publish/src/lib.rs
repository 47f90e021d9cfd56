//! A substitute server with Guix's protocol: what `guix publish` serves,
//! from abovo's store, so that Guix, Nix and other abovo instances can
//! substitute from it and cross-check its builds (`abovo challenge`).
//!
//! | module | owns |
//! | --- | --- |
//! | [`route`] | the URL paths of the protocol, parsed strictly |
//! | [`catalogue`] | what is published: a store's valid items by hash part, and where their bytes are |
//! | [`compression`] | NAR compressions written on the fly (`none`, `gzip`, `xz`, `zstd`) |
//! | [`server`] | the HTTP server (hyper on tokio): limits, streaming, shutdown |
//!
//! This module holds the [`Publisher`]: the answers themselves, which do
//! not depend on HTTP. Narinfos are written in the field order of Guix
//! 1.5.0's `guix publish` and signed in its form
//! ([`abovo_store::narinfo::NarInfo::sign_guix_publish`]); a signed
//! narinfo is kept in memory, so a server asked again answers from there
//! (items in a store never change while they are valid).
//!
//! # Example
//!
//! ```
//! use abovo_build::{LocalStore, StoreConfig};
//! use abovo_build::store::add::AddMethod;
//! use abovo_publish::{Options, Publisher};
//! use abovo_store::narinfo::{NarInfo, SigningKey};
//! use abovo_store::StoreDir;
//! use std::sync::Arc;
//!
//! let dir = tempfile::tempdir()?;
//! let store_dir = StoreDir::new(dir.path().join("store").to_str().unwrap())?;
//! let store = LocalStore::open(StoreConfig::new(store_dir, None))?;
//! std::fs::write(dir.path().join("hello.txt"), "hello\n")?;
//! let item = store.add_path(&dir.path().join("hello.txt"), AddMethod::Flat, None)?;
//!
//! let key = SigningKey::from_seed("example-1", &[1; 32]);
//! let publisher = Publisher::new(Arc::new(store), key.clone(), Options::default());
//! let text = publisher.narinfo(item.hash_part())?.expect("the item is published");
//! let info = NarInfo::parse(&text)?;
//! assert_eq!(info.nar_size, 120);
//! assert_eq!(info.urls[0], format!("nar/{}", item.base_name()));
//! let (valid, signature) = info.verify_guix_signature()?.expect("signed");
//! assert!(valid && signature.public_key == key.public_key());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

pub mod catalogue;
pub mod compression;
pub mod route;
pub mod server;

/// The bounds a client meets (connections, time to send a request head, its size).
pub use abovo_http::Limits;
use abovo_store::narinfo::{NarInfo, SigningKey};
use catalogue::{Catalogue, Item};
use compression::{Compression, Method};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// How the server behaves.
#[derive(Debug, Clone)]
pub struct Options {
    /// The compressions offered, in the order narinfos list them.
    pub compressions: Vec<Method>,
    /// The host name in `Signature: 1;<host>;…` (informational).
    pub host_name: String,
    /// `Priority` in `/nix-cache-info` (Guix's default is 100).
    pub priority: u32,
    /// Worker threads of the runtime (`0`: one per core).
    pub workers: usize,
    /// Connections at once, the time a client has to send a request's
    /// head (and an idle keep-alive connection is kept), the largest head.
    pub limits: Limits,
    /// How many signed narinfos are kept in memory.
    pub narinfo_cache: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            compressions: vec![Method {
                compression: Compression::None,
                level: 0,
            }],
            host_name: host_name(),
            priority: 100,
            workers: 0,
            limits: Limits {
                max_connections: 512,
                header_timeout: Duration::from_secs(30),
                max_request_bytes: 16 * 1024,
            },
            narinfo_cache: 100_000,
        }
    }
}

/// This machine's host name (`localhost` when it has none).
pub fn host_name() -> String {
    let name = rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned();
    if name.is_empty() || name.contains([';', '\n']) {
        "localhost".into()
    } else {
        name
    }
}

/// The answers of a substitute server over one store, with one key.
pub struct Publisher {
    catalogue: Arc<dyn Catalogue>,
    key: SigningKey,
    opts: Options,
    narinfos: RwLock<HashMap<String, Arc<str>>>,
}

impl Publisher {
    /// A publisher of `catalogue`'s items, signing with `key`.
    pub fn new(catalogue: Arc<dyn Catalogue>, key: SigningKey, opts: Options) -> Publisher {
        Publisher {
            catalogue,
            key,
            opts,
            narinfos: RwLock::new(HashMap::new()),
        }
    }

    /// The options.
    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// The store being published.
    pub fn catalogue(&self) -> &dyn Catalogue {
        &*self.catalogue
    }

    /// `/nix-cache-info`, as `guix publish` writes it.
    pub fn cache_info(&self) -> String {
        format!(
            "StoreDir: {}\nWantMassQuery: 0\nPriority: {}\n",
            self.catalogue.store_dir().as_str(),
            self.opts.priority
        )
    }

    /// The signed narinfo of the item whose hash part is `hash_part`;
    /// `None` when the store has no such item.
    pub fn narinfo(&self, hash_part: &str) -> Result<Option<Arc<str>>, String> {
        if let Some(text) = self.cached_narinfo(hash_part) {
            return Ok(Some(text));
        }
        let Some(item) = self.catalogue.find(hash_part)? else {
            return Ok(None);
        };
        let text: Arc<str> = self.write_narinfo(&item)?.into();
        let mut cache = self.narinfos.write().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= self.opts.narinfo_cache {
            cache.clear();
        }
        cache.insert(hash_part.to_owned(), text.clone());
        Ok(Some(text))
    }

    /// The narinfo of `hash_part` if it was signed already (no store lookup).
    pub fn cached_narinfo(&self, hash_part: &str) -> Option<Arc<str>> {
        let cache = self.narinfos.read().unwrap_or_else(|p| p.into_inner());
        cache.get(hash_part).cloned()
    }

    /// The narinfo of `item`: its record, one `URL`/`Compression` per
    /// offered compression (with `FileSize` when the only one is `none`,
    /// whose size is the NAR's), signed.
    fn write_narinfo(&self, item: &Item) -> Result<String, String> {
        let store = self.catalogue.store_dir();
        let path = &item.info.path;
        let mut info = NarInfo::new(store.display(path), item.info.nar_hash, item.info.nar_size);
        info.references = item.info.references.iter().map(|r| r.base_name()).collect();
        info.references.sort();
        info.deriver = item.info.deriver.as_ref().map(|d| d.base_name());
        let base = route::percent_encode(&path.base_name());
        for m in &self.opts.compressions {
            info.urls.push(match m.compression {
                Compression::None => format!("nar/{base}"),
                c => format!("nar/{}/{base}", c.name()),
            });
            info.compressions.push(m.compression.name().to_owned());
        }
        if let [only] = self.opts.compressions.as_slice() {
            if only.compression == Compression::None {
                info.file_sizes.push(item.info.nar_size);
            }
        }
        info.sign_guix_publish(&self.key, &self.opts.host_name)
            .map_err(|e| format!("cannot sign the narinfo of `{}`: {e}", store.display(path)))
    }

    /// The method offered for `compression`, if it is offered.
    pub fn method(&self, compression: Compression) -> Option<Method> {
        self.opts
            .compressions
            .iter()
            .copied()
            .find(|m| m.compression == compression)
    }
}
