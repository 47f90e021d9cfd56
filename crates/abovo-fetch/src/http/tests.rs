//! The client against real servers on 127.0.0.1: retries, deadlines,
//! silence, resumption.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use super::*;
use std::time::Duration;

fn limits(timeout: Option<u64>, silence: Option<u64>) -> Deadline {
    Deadline::new(
        timeout.map(Duration::from_secs),
        silence.map(Duration::from_secs),
    )
}

/// Downloads `url` into `target` as the daemon does (no resumption).
fn fetch(
    client: &HttpClient,
    url: &str,
    target: &Path,
    log: &mut dyn FnMut(&[u8]),
) -> Result<u64, String> {
    client
        .download(url, target, Resume::Never, log, &mut |_| {})
        .map_err(Failure::into_message)
}

fn flaky_server(failures: usize, body: &'static [u8]) -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for (i, stream) in listener.incoming().enumerate() {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 2048];
            let _ = s.read(&mut buf);
            let _ = if i < failures {
                s.write_all(b"HTTP/1.0 503 Busy\r\nContent-Length: 0\r\n\r\n")
            } else {
                write!(
                    s,
                    "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                )
                .and_then(|()| s.write_all(body))
            };
        }
    });
    port
}

#[test]
fn transient_failures_are_retried_and_permanent_ones_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("f");
    let port = flaky_server(2, b"finally\n");
    let mut log = Vec::new();
    let url = format!("http://127.0.0.1:{port}/f");
    let client = HttpClient::new(&HttpOptions::default(), Deadline::none()).unwrap();
    let n = fetch(&client, &url, &target, &mut |b| log.extend_from_slice(b)).unwrap();
    assert_eq!(n, 8);
    assert_eq!(std::fs::read(&target).unwrap(), b"finally\n");
    let log = String::from_utf8(log).unwrap();
    assert_eq!(log.matches("retrying").count(), 2, "{log}");
    // With no retries left, the 503 is the answer.
    let port = flaky_server(5, b"never");
    let opts = HttpOptions {
        retries: 1,
        ..HttpOptions::default()
    };
    let url = format!("http://127.0.0.1:{port}/f");
    let client = HttpClient::new(&opts, Deadline::none()).unwrap();
    let err = fetch(&client, &url, &target, &mut |_| {}).unwrap_err();
    assert!(err.contains("HTTP status 503"), "{err}");
    // Other schemes are refused at once.
    let err = fetch(&client, "ftp://example.org/x", &target, &mut |_| {}).unwrap_err();
    assert!(err.contains("unsupported URL scheme"), "{err}");
}

#[test]
fn the_deadline_stops_a_server_that_never_answers() {
    // Accepts connections and never says a word.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming() {
            held.push(s);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let client = HttpClient::new(&HttpOptions::default(), limits(Some(1), None)).unwrap();
    let start = std::time::Instant::now();
    let url = format!("http://127.0.0.1:{port}/f");
    let err = fetch(&client, &url, &dir.path().join("f"), &mut |_| {}).unwrap_err();
    assert_eq!(err, "timed out after 1 second");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn a_slow_download_is_not_cut_while_data_flows() {
    // Sends its body in pieces over ~2 s, longer than the 1 s timeout,
    // but never silent for that long.
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let Ok((mut s, _)) = listener.accept() else {
            return;
        };
        let mut buf = [0u8; 2048];
        let _ = s.read(&mut buf);
        let _ = s.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 8\r\n\r\n");
        for piece in [b"ab", b"cd", b"ef", b"gh"] {
            std::thread::sleep(Duration::from_millis(500));
            let _ = s.write_all(piece);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let opts = HttpOptions {
        timeout: Duration::from_secs(1),
        retries: 0,
        ..HttpOptions::default()
    };
    let client = HttpClient::new(&opts, Deadline::none()).unwrap();
    let target = dir.path().join("f");
    let url = format!("http://127.0.0.1:{port}/f");
    let n = fetch(&client, &url, &target, &mut |_| {}).unwrap();
    assert_eq!(n, 8);
    assert_eq!(std::fs::read(&target).unwrap(), b"abcdefgh");
}
/// Answers with headers and the first bytes of a body, then says
/// nothing more while keeping the connection open.
fn stalling_server() -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 2048];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 1000\r\n\r\nfirst bytes");
            held.push(s);
        }
    });
    port
}

#[test]
fn max_silent_time_stops_a_download_that_stops_sending() {
    let dir = tempfile::tempdir().unwrap();
    let port = stalling_server();
    let url = format!("http://127.0.0.1:{port}/f");
    let client = HttpClient::new(&HttpOptions::default(), limits(None, Some(1))).unwrap();
    let start = std::time::Instant::now();
    let err = fetch(&client, &url, &dir.path().join("f"), &mut |_| {}).unwrap_err();
    assert_eq!(err, "timed out after 1 second of silence");
    // Not retried: a limit of the build, not a transient failure.
    let took = start.elapsed();
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

/// Sends the first half of `body` and hangs up; answers a `Range`
/// request with the rest (206). Records the `Range` headers it saw.
fn cutting_server(body: &'static [u8]) -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(4) {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 2048];
            let n = s.read(&mut buf).unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase();
            let range = head
                .lines()
                .find_map(|l| l.strip_prefix("range: bytes="))
                .map(|r| r.trim_end_matches('-').parse::<usize>().unwrap());
            seen2.lock().unwrap().push(format!("{range:?}"));
            let _ = match range {
                Some(from) => write!(
                    s,
                    "HTTP/1.1 206 Partial\r\nContent-Length: {}\r\nContent-Range: bytes {from}-{}/{}\r\nConnection: close\r\n\r\n",
                    body.len() - from,
                    body.len() - 1,
                    body.len()
                )
                .and_then(|()| s.write_all(&body[from..])),
                None => write!(
                    s,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                )
                .and_then(|()| s.write_all(&body[..body.len() / 2])),
            };
        }
    });
    (port, seen)
}

#[test]
fn an_interrupted_download_resumes_where_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("f");
    let body: &'static [u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let (port, seen) = cutting_server(body);
    let client = HttpClient::new(&HttpOptions::default(), Deadline::none()).unwrap();
    let url = format!("http://127.0.0.1:{port}/f");
    let mut received = 0;
    let n = client
        .download(&url, &target, Resume::FromExisting, &mut |_| {}, &mut |b| {
            received += b
        })
        .unwrap();
    assert_eq!(n, body.len() as u64);
    assert_eq!(std::fs::read(&target).unwrap(), body);
    // The second request asked for the rest only.
    assert_eq!(*seen.lock().unwrap(), ["None", "Some(18)"]);
    assert_eq!(received, body.len() as u64);
}

#[test]
fn small_documents_are_capped_and_hosts_are_named() {
    let port = flaky_server(0, b"0123456789");
    let client = HttpClient::new(&HttpOptions::default(), Deadline::none()).unwrap();
    let url = format!("http://127.0.0.1:{port}/x");
    assert_eq!(client.get_bytes(&url, 10).unwrap(), b"0123456789");
    let err = client.get_bytes(&url, 9).unwrap_err();
    assert!(err.message().contains("larger than 9 bytes"), "{err:?}");
    assert_eq!(host_of("https://ci.guix.gnu.org/nar/x"), "ci.guix.gnu.org");
    assert_eq!(host_of("http://127.0.0.1:80?x"), "127.0.0.1:80");
    // Nothing listens on port 1: unreachable, not retried.
    let err = client.get_bytes("http://127.0.0.1:1/x", 10).unwrap_err();
    assert!(err.is_unreachable(), "{err:?}");
}
