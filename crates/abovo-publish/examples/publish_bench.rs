//! Measures `abovo publish` (see BENCHMARKS.md).
//!
//! * `publish_bench narinfo [SECONDS] [CONNECTIONS]`: one server over an
//!   in-memory catalogue of 1,000 items, hit by CONNECTIONS keep-alive
//!   clients asking narinfos in turn; prints requests per second (the
//!   first request of each narinfo signs it, the rest are answered from
//!   memory, as a real server's steady state).
//! * `publish_bench servers N < PATHS`: N servers (keys `bench-1` …
//!   `bench-N`) that all hold every store path read from standard input,
//!   with the same NarHash; prints their URLs and the Nix public keys'
//!   file, then serves until killed: what `abovo challenge --closure
//!   hello` is timed against.
#![allow(clippy::unwrap_used)] // a bench tool: a panic is the report

use abovo_build::store::db::PathInfo;
use abovo_publish::catalogue::{Catalogue, Item};
use abovo_publish::{Options, Publisher};
use abovo_store::narinfo::SigningKey;
use abovo_store::{HashAlgo, StoreDir, StorePath};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Items that exist only in the database: narinfos can be served, NARs not.
struct Memory {
    store: StoreDir,
    items: HashMap<String, Item>,
}

impl Catalogue for Memory {
    fn store_dir(&self) -> &StoreDir {
        &self.store
    }
    fn find(&self, hash_part: &str) -> Result<Option<Item>, String> {
        Ok(self.items.get(hash_part).cloned())
    }
    fn item(&self, path: &StorePath) -> Result<Option<Item>, String> {
        Ok(self.items.get(path.hash_part()).cloned())
    }
}

fn memory(paths: &[String]) -> Memory {
    let store = StoreDir::default();
    let items = paths
        .iter()
        .map(|p| {
            let path = store.parse(p).unwrap();
            let info = PathInfo {
                nar_hash: HashAlgo::Sha256.digest(p.as_bytes()),
                nar_size: 1000 + p.len() as u64,
                references: [path.clone()].into(),
                deriver: None,
                registration_time: 0,
                path: path.clone(),
            };
            (
                path.hash_part().to_owned(),
                Item {
                    info,
                    file: "/nonexistent".into(),
                },
            )
        })
        .collect();
    Memory { store, items }
}

fn start(catalogue: Memory, key: SigningKey) -> String {
    let publisher = Arc::new(Publisher::new(Arc::new(catalogue), key, Options::default()));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        abovo_publish::server::serve(publisher, listener, std::future::pending()).unwrap();
    });
    url
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("narinfo") => narinfo(
            args.get(1).map_or(5, |s| s.parse().unwrap()),
            args.get(2).map_or(8, |s| s.parse().unwrap()),
        ),
        Some("servers") => servers(args.get(1).map_or(3, |s| s.parse().unwrap())),
        _ => eprintln!("usage: publish_bench narinfo [SECONDS] [CONNECTIONS] | servers N < PATHS"),
    }
}

fn servers(n: usize) {
    let paths: Vec<String> = std::io::stdin()
        .lock()
        .lines()
        .map(Result::unwrap)
        .filter(|l| !l.is_empty())
        .collect();
    let keys_file = std::env::temp_dir().join(format!("publish-bench-keys-{}", std::process::id()));
    let mut keys = String::new();
    let mut urls = Vec::new();
    for i in 1..=n {
        let key = SigningKey::from_seed(&format!("bench-{i}"), &[i as u8; 32]);
        keys.push_str(&format!("{}\n", key.to_nix_public().unwrap()));
        urls.push(start(memory(&paths), key));
    }
    std::fs::write(&keys_file, keys).unwrap();
    println!("{}", urls.join(" "));
    println!("{}", keys_file.display());
    std::io::stdout().flush().unwrap();
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

fn narinfo(seconds: u64, connections: usize) {
    let paths: Vec<String> = (0..1000u32)
        .map(|i| {
            let h = abovo_store::nixbase32::encode(
                &HashAlgo::Sha256.digest(&i.to_le_bytes()).digest()[..20],
            );
            format!("/gnu/store/{h}-item-{i}")
        })
        .collect();
    let hashes: Vec<String> = paths.iter().map(|p| p[11..43].to_owned()).collect();
    let url = start(memory(&paths), SigningKey::from_seed("bench-1", &[1; 32]));
    let addr = url.trim_start_matches("http://").to_owned();
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let threads: Vec<_> = (0..connections)
        .map(|c| {
            let (addr, hashes, done) = (addr.clone(), hashes.clone(), done.clone());
            std::thread::spawn(move || {
                let stream = std::net::TcpStream::connect(&addr).unwrap();
                stream.set_nodelay(true).unwrap();
                let mut w = stream.try_clone().unwrap();
                let mut r = BufReader::new(stream);
                let mut i = c * 97;
                let mut body = Vec::new();
                while Instant::now() < deadline {
                    let h = &hashes[i % hashes.len()];
                    i += 1;
                    write!(w, "GET /{h}.narinfo HTTP/1.1\r\nHost: bench\r\n\r\n").unwrap();
                    let mut len = 0usize;
                    let mut line = String::new();
                    loop {
                        line.clear();
                        r.read_line(&mut line).unwrap();
                        if line == "\r\n" {
                            break;
                        }
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap();
                        }
                    }
                    body.resize(len, 0);
                    r.read_exact(&mut body).unwrap();
                    assert!(body.starts_with(b"StorePath: "));
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let n = done.load(Ordering::Relaxed);
    println!(
        "{n} narinfo requests in {seconds} s over {connections} keep-alive connections: {:.0} requests/s",
        n as f64 / seconds as f64
    );
}
