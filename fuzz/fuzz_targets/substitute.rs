//! A substitute server as `abovo fetch` and `abovo build` meet one: a server
//! on 127.0.0.1 serves a narinfo and a NAR, and the client asks for the
//! narinfo (`Substituter::narinfo`), then downloads, decompresses, checks
//! and unpacks the NAR (`Substituter::fetch_nar`).
//!
//! The first byte picks the mode. Even: the input is the server's narinfo,
//! a NUL, then its NAR file as it is, so every field and byte is hostile.
//! Odd: the rest is a NAR that the harness compresses in the compression
//! the first byte names and describes truthfully in a narinfo, so that the
//! success path is reached.
//!
//! Never a panic; nothing is left at the target after an error; an item that
//! is unpacked dumps back to a NAR with the narinfo's `NarHash` and
//! `NarSize`, and in the truthful mode to exactly the NAR served (a NAR is
//! accepted exactly when the strict reader accepts it).
#![no_main]
use abovo_fetch::Deadline;
use abovo_fetch::http::{HttpClient, HttpOptions};
use abovo_fetch::keys::AuthorizedKeys;
use abovo_fetch::substitute::{Lookup, Substituter};
use abovo_publish::compression::{Compression, Method};
use abovo_store::HashAlgo;
use abovo_store::nar;
use abovo_store::narinfo::NarInfo;
use libfuzzer_sys::fuzz_target;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// The store item asked for.
const STORE_PATH: &str = "/gnu/store/0mdqa9w1p6cmli6976v4wi0sw9r4p5pr-hello-2.12.2";

/// What the server answers: the narinfo, and the NAR file for any other
/// path.
#[derive(Default)]
struct Answers {
    narinfo: Vec<u8>,
    nar: Vec<u8>,
}

struct Fixture {
    url: String,
    answers: &'static Mutex<Answers>,
    client: HttpClient,
    dir: PathBuf,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let answers: &'static Mutex<Answers> = Box::leak(Box::default());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let url = format!("http://{}", listener.local_addr().expect("its address"));
        std::thread::spawn(move || {
            for s in listener.incoming() {
                let Ok(mut s) = s else { continue };
                let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
                let answers = answers.lock().expect("answers");
                let body = if line.windows(9).any(|w| w == b".narinfo ") {
                    &answers.narinfo
                } else {
                    &answers.nar
                };
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(body);
            }
        });
        let opts = HttpOptions {
            timeout: Duration::from_millis(500),
            retries: 0,
            ..HttpOptions::default()
        };
        let dir =
            std::env::temp_dir().join(format!("abovo-fuzz-substitute-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        Fixture {
            url,
            answers,
            client: HttpClient::new(&opts, Deadline::none()).expect("an HTTP client"),
            dir,
        }
    })
}

/// Removes whatever `path` is (a file or a tree).
fn remove(path: &Path) {
    let _ = std::fs::remove_dir_all(path);
    let _ = std::fs::remove_file(path);
}

/// A truthful narinfo for `nar`, compressed in `compression`.
fn describe(nar: &[u8], compression: Compression) -> (String, Vec<u8>) {
    let method = Method {
        compression,
        level: 1,
    };
    let mut encoder = method.encoder(Vec::new()).expect("an encoder");
    encoder.write_all(nar).expect("compress");
    let file = encoder.finish().expect("compress");
    let mut info = NarInfo::new(
        STORE_PATH.into(),
        HashAlgo::Sha256.digest(nar),
        nar.len() as u64,
    );
    info.urls.push(format!("nar/{}/x", compression.name()));
    info.compressions.push(compression.name().into());
    info.file_sizes.push(file.len() as u64);
    info.file_hashes.push(HashAlgo::Sha256.digest(&file));
    (info.to_string(), file)
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let f = fixture();
    let truthful = mode & 1 == 1;
    let answers = if truthful {
        let all = [
            Compression::None,
            Compression::Gzip,
            Compression::Xz,
            Compression::Zstd,
        ];
        let (text, file) = describe(rest, all[usize::from(mode >> 1) % all.len()]);
        Answers {
            narinfo: text.into_bytes(),
            nar: file,
        }
    } else {
        let at = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        Answers {
            narinfo: rest[..at].to_vec(),
            nar: rest.get(at + 1..).unwrap_or_default().to_vec(),
        }
    };
    let served_narinfo = answers.narinfo.clone();
    *f.answers.lock().expect("answers") = answers;

    let keys = AuthorizedKeys::default();
    let substituter = Substituter {
        client: &f.client,
        keys: &keys,
        allow_untrusted: true,
    };
    let found = match substituter.narinfo(&f.url, STORE_PATH) {
        Ok(Lookup::Found(found)) => found,
        Ok(Lookup::Missing) => panic!("a 200 answer read as missing"),
        Err(e) => {
            assert!(!truthful, "a truthful narinfo refused: {}", e.message());
            return;
        }
    };
    assert_eq!(found.info.store_path, STORE_PATH);
    assert_eq!(found.text.as_bytes(), served_narinfo);
    assert!(found.signer.is_err(), "trusted with no key authorised");

    let partial = f.dir.join("partial");
    let target = f.dir.join("target");
    remove(&partial);
    remove(&target);
    let result = substituter.fetch_nar(&found, &partial, &target, &mut |_| {}, &mut |_| {});
    match result {
        Ok(summary) => {
            let mut dumped = Vec::new();
            nar::dump_path(&target, &mut dumped).expect("the unpacked item dumps");
            assert_eq!(summary.nar_size, dumped.len() as u64);
            assert_eq!(found.info.nar_size, dumped.len() as u64);
            assert_eq!(found.info.nar_hash, HashAlgo::Sha256.digest(&dumped));
            if truthful {
                assert_eq!(dumped, rest, "unpacked and dumped, the NAR changed");
            }
        }
        Err(e) => {
            assert!(
                std::fs::symlink_metadata(&target).is_err(),
                "left at the target after: {}",
                e.message()
            );
            if truthful {
                assert!(
                    nar::validate(rest).is_err(),
                    "a valid NAR refused: {}",
                    e.message()
                );
            }
        }
    }
    remove(&partial);
    remove(&target);
});
