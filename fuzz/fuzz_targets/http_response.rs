//! The HTTP client on arbitrary server answers: a server on 127.0.0.1
//! writes the input as its whole response, and `get_bytes` (capped at
//! 4 KiB) and `download` (with resumption) read it. Never a panic, never
//! more than the cap in memory; a success returns at most the cap.
#![no_main]
use abovo_fetch::Deadline;
use abovo_fetch::http::{HttpClient, HttpOptions, Resume};
use libfuzzer_sys::fuzz_target;
use std::io::{Read, Write};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// The response the server sends next, and its address.
static SERVER: OnceLock<(String, &'static Mutex<Vec<u8>>)> = OnceLock::new();

fn server() -> &'static (String, &'static Mutex<Vec<u8>>) {
    SERVER.get_or_init(|| {
        let next: &'static Mutex<Vec<u8>> = Box::leak(Box::new(Mutex::new(Vec::new())));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/x", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for s in listener.incoming() {
                let Ok(mut s) = s else { continue };
                let mut buf = [0u8; 4096];
                let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
                let _ = s.read(&mut buf);
                let body = next.lock().unwrap().clone();
                let _ = s.write_all(&body);
            }
        });
        (url, next)
    })
}

fuzz_target!(|data: &[u8]| {
    let (url, next) = server();
    *next.lock().unwrap() = data.to_vec();
    let opts = HttpOptions {
        timeout: Duration::from_millis(200),
        retries: 0,
        ..HttpOptions::default()
    };
    let client = HttpClient::new(&opts, Deadline::none()).unwrap();
    if let Ok(body) = client.get_bytes(url, 4096) {
        assert!(body.len() <= 4096);
    }
    let dir = std::env::temp_dir().join(format!("abovo-fuzz-http-{}", std::process::id()));
    let _ = client.download(url, &dir, Resume::FromExisting, &mut |_| {}, &mut |_| {});
    let _ = std::fs::remove_file(&dir);
});
