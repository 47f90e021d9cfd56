//! Asking a substitute server for the narinfos of a package's seeds.
//!
//! `abovo fetch --narinfo-only` and every fetch start with one narinfo per
//! item: the bar is hello's 278 seeds from a local server in at
//! most a second. This bench serves 278 narinfos signed with an Ed25519
//! key from a real HTTP server on 127.0.0.1 (one connection per request,
//! as `guix publish` behind no proxy), and times fetching, parsing and
//! checking the signature of all of them with 1 and with 8 threads.
#![allow(clippy::unwrap_used)] // a bench: a panic is the failure report

use abovo_fetch::Deadline;
use abovo_fetch::http::{HttpClient, HttpOptions};
use abovo_fetch::keys::AuthorizedKeys;
use abovo_fetch::substitute::{Lookup, Substituter};
use abovo_store::narinfo::NarInfo;
use criterion::{Criterion, criterion_group, criterion_main};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::Arc;

const SEEDS: usize = 278;

fn serve(narinfos: HashMap<String, Vec<u8>>) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let narinfos = Arc::new(narinfos);
    std::thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(mut s) = s else { continue };
            let narinfos = narinfos.clone();
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut buf = [0u8; 2048];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head);
                let path = head.split_whitespace().nth(1).unwrap_or("");
                let _ = match narinfos.get(path) {
                    Some(body) => write!(
                        s,
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    )
                    .and_then(|()| s.write_all(body)),
                    None => s.write_all(
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    ),
                };
            });
        }
    });
    url
}

fn bench(c: &mut Criterion) {
    use ed25519_dalek::Signer;
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let public = format!(
        "bench-1:{}",
        abovo_store::encoding::base64_encode(key.verifying_key().as_bytes())
    );
    let mut keys = AuthorizedKeys::default();
    keys.add_text(&public).unwrap();
    let mut served = HashMap::new();
    let mut paths = Vec::new();
    for i in 0..SEEDS {
        let h = abovo_store::hash::sha256(&i.to_le_bytes());
        let hash_part = abovo_store::nixbase32::encode(&h[..20]);
        let path = format!("/gnu/store/{hash_part}-seed-{i}.tar.gz");
        let mut info = NarInfo::new(
            path.clone(),
            abovo_store::Hash::sha256(h),
            1_000_000 + i as u64,
        );
        info.urls = vec![format!("nar/xz/{hash_part}")];
        info.compressions = vec!["xz".into()];
        info.file_sizes = vec![900_000];
        let sig = key.sign(info.fingerprint().unwrap().as_bytes());
        info.sigs = vec![format!(
            "bench-1:{}",
            abovo_store::encoding::base64_encode(&sig.to_bytes())
        )];
        served.insert(
            format!("/{hash_part}.narinfo"),
            info.to_nix_string().into_bytes(),
        );
        paths.push(path);
    }
    let url = serve(served);
    let client = HttpClient::new(&HttpOptions::default(), Deadline::none()).unwrap();
    let sub = Substituter {
        client: &client,
        keys: &keys,
        allow_untrusted: false,
    };
    let fetch_all = |threads: usize| {
        let next = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(p) = paths.get(i) else { break };
                        match sub.narinfo(&url, p).unwrap() {
                            Lookup::Found(f) => assert!(f.signer.is_ok()),
                            Lookup::Missing => panic!("missing {p}"),
                        }
                    }
                });
            }
        });
    };
    let mut g = c.benchmark_group("narinfo");
    g.sample_size(20);
    g.bench_function("278_seeds_1_thread", |b| b.iter(|| fetch_all(1)));
    g.bench_function("278_seeds_8_threads", |b| b.iter(|| fetch_all(8)));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
