//! A real HTTP server on 127.0.0.1 for the `abovo fetch` tests, and the
//! real seed bytes it serves (`ABOVO_SEED_BYTES`, Guix 1.5.0's bootstrap
//! seeds, verified against their derivations' hashes).
//!
//! The server is plain HTTP/1.1 over `std::net`, one thread per
//! connection, one request per connection: enough for `ureq`, and every
//! byte on the wire is under the test's control, so it can also misbehave
//! on purpose (stall, 404). It answers `Range` requests with 206, as a real
//! server does, and records the paths it was asked for.
#![allow(dead_code, clippy::unwrap_used)] // tests: a panic is the failure report

use abovo_store::nar::Tree;
use abovo_store::narinfo::NarInfo;
use abovo_store::{Hash, HashAlgo};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the server does for a path.
#[derive(Clone)]
pub enum Route {
    /// Serves these bytes (honouring `Range`).
    Bytes(Arc<Vec<u8>>),
    /// Sends the headers of a body of this length and a few bytes, then
    /// nothing more (for 120 seconds, then hangs up).
    Stall(u64),
}

/// A running server.
pub struct Server {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    routes: Arc<Mutex<HashMap<String, Route>>>,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts a server with no routes (everything is 404).
    pub fn start() -> Server {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let routes: Arc<Mutex<HashMap<String, Route>>> = Arc::default();
        let log: Arc<Mutex<Vec<String>>> = Arc::default();
        let (r, l) = (routes.clone(), log.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (r, l) = (r.clone(), l.clone());
                std::thread::spawn(move || serve(stream, &r, &l));
            }
        });
        Server { url, routes, log }
    }

    /// Serves `route` at `path` (starting with `/`).
    pub fn route(&self, path: &str, route: Route) {
        self.routes.lock().unwrap().insert(path.to_owned(), route);
    }

    /// Serves `bytes` at `path`.
    pub fn bytes(&self, path: &str, bytes: Vec<u8>) {
        self.route(path, Route::Bytes(Arc::new(bytes)));
    }

    /// The paths asked for so far, in order.
    pub fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

fn serve(
    mut s: std::net::TcpStream,
    routes: &Mutex<HashMap<String, Route>>,
    log: &Mutex<Vec<String>>,
) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if head.len() > 64 * 1024 {
            return;
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
    log.lock().unwrap().push(path.clone());
    let range = head.lines().find_map(|l| {
        let l = l.to_ascii_lowercase();
        l.strip_prefix("range: bytes=")
            .and_then(|r| r.trim().trim_end_matches('-').parse::<usize>().ok())
    });
    let route = routes.lock().unwrap().get(&path).cloned();
    let _ = match route {
        None => s.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found"),
        Some(Route::Bytes(body)) => match range {
            Some(from) if from < body.len() => write!(
                s,
                "HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\nContent-Range: bytes {from}-{}/{}\r\nConnection: close\r\n\r\n",
                body.len() - from,
                body.len() - 1,
                body.len()
            )
            .and_then(|()| s.write_all(&body[from..])),
            _ => write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .and_then(|()| s.write_all(&body)),
        },
        Some(Route::Stall(len)) => {
            let _ = write!(s, "HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nConnection: close\r\n\r\nfirst bytes");
            std::thread::sleep(Duration::from_secs(120));
            Ok(())
        }
    };
}

/// One of the real seeds.
#[derive(Clone)]
pub struct SeedItem {
    /// Store base name.
    pub base: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// Whether its hash is recursive (the bootstrap executables).
    pub recursive: bool,
    /// The derivation's hash.
    pub hash: Hash,
}

impl SeedItem {
    /// `/gnu/store/<base>`.
    pub fn store_path(&self) -> String {
        format!("/gnu/store/{}", self.base)
    }

    /// Its name (`bash`, `stage0-posix-1.6.0.tar.gz`).
    pub fn name(&self) -> &str {
        self.base.split_once('-').unwrap().1
    }

    /// The hash part of its store path.
    pub fn hash_part(&self) -> &str {
        self.base.split_once('-').unwrap().0
    }

    /// The NAR of the store item: an executable file for the recursive
    /// ones (builtin:download's `executable`), a plain file otherwise.
    pub fn nar(&self) -> Vec<u8> {
        Tree::Regular {
            executable: self.recursive,
            contents: self.bytes.clone(),
        }
        .to_nar()
    }

    /// The path a `/ALGO/HASH` content-addressed mirror serves it at.
    pub fn ca_path(&self) -> String {
        format!("/sha256/{}", self.hash.to_nix32())
    }
}

/// The seeds of `ABOVO_SEED_BYTES` that hello rests on (the four i686
/// executables, stage0-posix, Mes, TinyCC), each checked against the
/// hash its manifest gives; `None` (with one line saying so) when the
/// variable is not set.
pub fn hello_seed_items() -> Option<Vec<SeedItem>> {
    let Some(dir) = std::env::var_os("ABOVO_SEED_BYTES").map(PathBuf::from) else {
        eprintln!(
            "skipped: ABOVO_SEED_BYTES is not set (.ci/run sets it to ../shared/data/seed-bytes)"
        );
        return None;
    };
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.tsv")).unwrap();
    let mut out = Vec::new();
    for line in manifest.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (base, mode, nix32) = (cols[0], cols[2], cols[3]);
        // The armhf set is not in x86_64 closures.
        if ["0qcdnbs0", "2bz52pga", "g2w0baj8", "8djd0l7w"]
            .iter()
            .any(|p| base.starts_with(p))
        {
            continue;
        }
        let bytes = std::fs::read(dir.join(base)).unwrap();
        let recursive = mode.starts_with("r:");
        let hash = Hash::parse_digest(HashAlgo::Sha256, nix32).unwrap();
        let item = SeedItem {
            base: base.to_owned(),
            bytes,
            recursive,
            hash,
        };
        let actual = if recursive {
            abovo_store::nar::hash_regular_bytes(&item.bytes, true).hash
        } else {
            HashAlgo::Sha256.digest(&item.bytes)
        };
        assert_eq!(
            actual, hash,
            "{base}: the seed bytes are not what the manifest says"
        );
        out.push(item);
    }
    assert_eq!(out.len(), 7);
    Some(out)
}

/// The test signing key (Ed25519), its Nix name.
pub const KEY_NAME: &str = "abovo-test-1";

/// A signing key made from `seed`.
pub fn signing_key(seed: u8) -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[seed; 32])
}

/// The public key of `key` as Nix writes it (`name:base64`).
pub fn public_key(key: &ed25519_dalek::SigningKey) -> String {
    format!(
        "{KEY_NAME}:{}",
        abovo_store::encoding::base64_encode(key.verifying_key().as_bytes())
    )
}

/// Signs `info` (a Nix `Sig:` over its fingerprint) with `key`, named
/// [`KEY_NAME`].
pub fn sign(info: &mut NarInfo, key: &ed25519_dalek::SigningKey) {
    sign_as(info, key, KEY_NAME, None);
}

/// Signs `info` with `key` under `name`, over `fingerprint` instead of
/// its own when given (a signature that does not match).
pub fn sign_as(
    info: &mut NarInfo,
    key: &ed25519_dalek::SigningKey,
    name: &str,
    fingerprint: Option<&str>,
) {
    use ed25519_dalek::Signer;
    let fp = fingerprint.map_or_else(|| info.fingerprint().unwrap(), str::to_owned);
    let sig = key.sign(fp.as_bytes());
    info.sigs = vec![format!(
        "{name}:{}",
        abovo_store::encoding::base64_encode(&sig.to_bytes())
    )];
}

/// Compresses a NAR as a substitute server would.
pub fn compress(nar: &[u8], xz: bool) -> Vec<u8> {
    if xz {
        let mut e = xz2::write::XzEncoder::new(Vec::new(), 6);
        e.write_all(nar).unwrap();
        e.finish().unwrap()
    } else {
        zstd::encode_all(nar, 3).unwrap()
    }
}

/// The narinfo of `item` pointing to `url` (relative to the server) of a
/// NAR compressed with xz or zstd, signed with `key`.
pub fn narinfo(
    item: &SeedItem,
    url: &str,
    xz: bool,
    file_size: u64,
    key: &ed25519_dalek::SigningKey,
) -> NarInfo {
    let nar = item.nar();
    let mut info = NarInfo::new(
        item.store_path(),
        abovo_store::nar::hash_regular_bytes(&item.bytes, item.recursive).hash,
        nar.len() as u64,
    );
    info.urls = vec![url.to_owned()];
    info.compressions = vec![if xz { "xz" } else { "zstd" }.to_owned()];
    info.file_sizes = vec![file_size];
    sign(&mut info, key);
    info
}

/// Serves every item as a substitute server signed by `key` would: the
/// narinfo and its NAR, xz- and zstd-compressed in turn.
pub fn serve_substitutes(server: &Server, items: &[SeedItem], key: &ed25519_dalek::SigningKey) {
    for (i, item) in items.iter().enumerate() {
        let xz = i % 2 == 0;
        let compressed = compress(&item.nar(), xz);
        let url = format!("nar/{}/{}", if xz { "xz" } else { "zstd" }, item.base);
        let info = narinfo(item, &url, xz, compressed.len() as u64, key);
        server.bytes(&format!("/{url}"), compressed);
        server.bytes(
            &format!("/{}.narinfo", item.hash_part()),
            info.to_nix_string().into_bytes(),
        );
    }
}
