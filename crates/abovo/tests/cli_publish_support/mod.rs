//! Shared helpers of the `cli_publish` and `cli_challenge` tests: a real
//! `abovo publish` process on 127.0.0.1 (stopped when dropped), and GETs
//! through abovo's own HTTP client.
#![allow(dead_code, clippy::unwrap_used)] // tests: a panic is the failure report

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A running `abovo publish`.
pub struct Publish {
    pub child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

impl Publish {
    /// Starts `cmd` (an `abovo publish --listen 127.0.0.1:0 …` command) and
    /// reads the address from its first line on standard error.
    pub fn start(mut cmd: Command) -> Publish {
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        err.read_line(&mut line).unwrap();
        let Some(url) = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .map(str::to_owned)
        else {
            let _ = child.kill();
            let mut rest = String::new();
            let _ = std::io::Read::read_to_string(&mut err, &mut rest);
            panic!("abovo publish did not start: {line}{rest}");
        };
        // Keep draining standard error so the server never blocks on it.
        std::thread::spawn(move || {
            let mut sink = String::new();
            while err.read_line(&mut sink).is_ok_and(|n| n > 0) {
                eprint!("publish: {sink}");
                sink.clear();
            }
        });
        Publish { child, url }
    }
}

impl Drop for Publish {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GET `url` with abovo's HTTP client: `None` on 404.
pub fn get(url: &str) -> Option<Vec<u8>> {
    let client = abovo_fetch::HttpClient::new(
        &abovo_fetch::HttpOptions {
            retries: 0,
            ..abovo_fetch::HttpOptions::default()
        },
        abovo_fetch::Deadline::none(),
    )
    .unwrap();
    match client.get_bytes(url, 1 << 30) {
        Ok(b) => Some(b),
        Err(e) if e.is_not_found() => None,
        Err(e) => panic!("{url}: {e:?}"),
    }
}
