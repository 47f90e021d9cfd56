//! The one HTTP client of abovo: `http`, `https` (certificates checked as
//! [`crate::tls`] says) and `file` URLs, with per-attempt timeouts,
//! retries of transient failures, resumption of interrupted downloads
//! (HTTP `Range`), a size limit for documents read into memory, and
//! progress reported byte by byte.
//!
//! Failures are sorted by what should happen next ([`Failure`]): a
//! transient one (a timeout, a refused or reset connection, HTTP 5xx or
//! 429) is retried with a growing pause; a permanent one (HTTP 404, an
//! untrusted certificate) moves on to the next source; a fatal one (the
//! overall [`Deadline`] or its silence limit) stops the whole fetch, as a
//! builder killed by `--timeout` does.

use crate::deadline::Deadline;
use crate::tls::{Trust, TrustStore};
use std::io::{Read, Seek, Write};
use std::path::Path;
use std::time::{Duration, Instant};

/// How a fetch failed, which decides what happens next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Worth retrying (timeouts, connection errors, HTTP 5xx and 429).
    Transient(String),
    /// Not worth retrying this URL; the next one is tried.
    Permanent(String),
    /// A limit of the whole fetch was reached: nothing else is tried.
    Fatal(String),
}

impl Failure {
    /// The message.
    pub fn message(&self) -> &str {
        match self {
            Failure::Transient(m) | Failure::Permanent(m) | Failure::Fatal(m) => m,
        }
    }

    /// The message, owned.
    pub fn into_message(self) -> String {
        match self {
            Failure::Transient(m) | Failure::Permanent(m) | Failure::Fatal(m) => m,
        }
    }

    /// Whether the server could not be reached at all (name resolution,
    /// connection, TLS): a reason to skip the same host for the rest of a
    /// run rather than ask it again for every item.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, Failure::Transient(m) if m.contains(UNREACHABLE))
    }

    /// Whether the server answered that it does not have the thing
    /// (HTTP 404 or 410).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Failure::Permanent(m) if m.ends_with("HTTP status 404") || m.ends_with("HTTP status 410"))
    }
}

/// The prefix of messages for servers that could not be reached.
const UNREACHABLE: &str = "cannot reach the server";

/// Settings of the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpOptions {
    /// Timeout of connecting, of waiting for the response, and of each read
    /// of the body (not of the whole body: a large file may take longer).
    pub timeout: Duration,
    /// Extra attempts per URL after a transient failure.
    pub retries: u32,
    /// Which certificates `https` trusts.
    pub trust: Trust,
    /// The `User-Agent` header.
    pub user_agent: String,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            timeout: Duration::from_secs(60),
            retries: 3,
            trust: Trust::default(),
            user_agent: "abovo".into(),
        }
    }
}

/// How a download writes its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// Start from nothing on every attempt (the daemon's `builtin:download`).
    Never,
    /// Keep what the target already holds and ask for the rest with a
    /// `Range` request; a server that ignores it sends everything again.
    FromExisting,
}

/// An HTTP agent with its trust store, options and deadline.
pub struct HttpClient {
    opts: HttpOptions,
    deadline: Deadline,
    agent: ureq::Agent,
    trust: TrustStore,
}

impl HttpClient {
    /// A client with the trust store of `opts` (an error when it cannot be
    /// loaded).
    pub fn new(opts: &HttpOptions, deadline: Deadline) -> Result<HttpClient, String> {
        let trust = opts.trust.load(&|name| std::env::var(name).ok())?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .tls_config(trust.config.clone())
            .max_redirects(10)
            .user_agent(opts.user_agent.as_str())
            .build()
            .into();
        Ok(HttpClient {
            opts: opts.clone(),
            deadline,
            agent,
            trust,
        })
    }

    /// The options.
    pub fn options(&self) -> &HttpOptions {
        &self.opts
    }

    /// The deadline.
    pub fn deadline(&self) -> Deadline {
        self.deadline
    }

    /// Fetches `url` into `target`, retrying transient failures (a retry
    /// resumes with `Resume::FromExisting`, starts over otherwise);
    /// returns the target's final length. `log` hears about retries,
    /// `progress` about every block received (its size).
    pub fn download(
        &self,
        url: &str,
        target: &Path,
        resume: Resume,
        log: &mut dyn FnMut(&[u8]),
        progress: &mut dyn FnMut(u64),
    ) -> Result<u64, Failure> {
        let mut pause = Duration::from_millis(250);
        let mut attempt = 0;
        loop {
            match self.fetch_once(url, target, resume, progress) {
                Ok(n) => return Ok(n),
                Err(Failure::Transient(e))
                    if attempt < self.opts.retries && !e.starts_with(UNREACHABLE) =>
                {
                    attempt += 1;
                    if self.deadline.remaining().is_some_and(|r| r <= pause) {
                        return Err(Failure::Fatal(self.deadline.message()));
                    }
                    log(format!(
                        "{e}; retrying in {} ms ({attempt}/{})\n",
                        pause.as_millis(),
                        self.opts.retries
                    )
                    .as_bytes());
                    if resume == Resume::Never {
                        let _ = std::fs::remove_file(target);
                    }
                    std::thread::sleep(pause);
                    pause *= 2;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Fetches a small document (a narinfo, an index) into memory, at
    /// most `limit` bytes, retrying transient failures.
    pub fn get_bytes(&self, url: &str, limit: u64) -> Result<Vec<u8>, Failure> {
        let mut pause = Duration::from_millis(250);
        let mut attempt = 0;
        loop {
            match self.get_once(url, limit) {
                Ok(b) => return Ok(b),
                Err(Failure::Transient(e))
                    if attempt < self.opts.retries && !e.starts_with(UNREACHABLE) =>
                {
                    attempt += 1;
                    if self.deadline.remaining().is_some_and(|r| r <= pause) {
                        return Err(Failure::Fatal(self.deadline.message()));
                    }
                    std::thread::sleep(pause);
                    pause *= 2;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Opens `url` as a stream, read as it arrives (no retries, no
    /// resumption, nothing written to disk): for a body used once, such as
    /// a NAR compared on the fly. Each read is bounded by the per-attempt
    /// timeout, so a server that stalls mid-body gives an error, not a hang.
    pub fn open(&self, url: &str) -> Result<Box<dyn Read + Send>, Failure> {
        if let Some(path) = url.strip_prefix("file://") {
            let file = std::fs::File::open(path)
                .map_err(|e| Failure::Permanent(format!("cannot open `{path}`: {e}")))?;
            return Ok(Box::new(file));
        }
        let (response, _) = self.request(url, None)?;
        Ok(Box::new(
            response
                .into_body()
                .into_with_config()
                .limit(u64::MAX)
                .reader(),
        ))
    }

    fn get_once(&self, url: &str, limit: u64) -> Result<Vec<u8>, Failure> {
        if let Some(path) = url.strip_prefix("file://") {
            let file = std::fs::File::open(path)
                .map_err(|e| Failure::Permanent(format!("cannot open `{path}`: {e}")))?;
            let mut out = Vec::new();
            file.take(limit + 1)
                .read_to_end(&mut out)
                .map_err(|e| Failure::Permanent(format!("cannot read `{path}`: {e}")))?;
            if out.len() as u64 > limit {
                return Err(Failure::Permanent(format!("larger than {limit} bytes")));
            }
            return Ok(out);
        }
        let (mut response, mut quiet_since) = self.request(url, None)?;
        let mut reader = response.body_mut().with_config().limit(u64::MAX).reader();
        let mut out = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let got = self.read_some(&mut reader, &mut buf, &mut quiet_since)?;
            if got == 0 {
                return Ok(out);
            }
            out.extend_from_slice(&buf[..got]);
            if out.len() as u64 > limit {
                return Err(Failure::Permanent(format!(
                    "the answer is larger than {limit} bytes"
                )));
            }
        }
    }

    /// Sends a GET (with `Range: bytes=FROM-` when `from` is given) and
    /// returns the response and when its headers arrived.
    fn request(
        &self,
        url: &str,
        from: Option<u64>,
    ) -> Result<(ureq::http::Response<ureq::Body>, Instant), Failure> {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(Failure::Permanent(
                "unsupported URL scheme (abovo fetches http, https and file URLs)".into(),
            ));
        }
        let per_attempt = self.per_attempt();
        let quiet_since = Instant::now();
        let mut req = self.agent.get(url);
        if let Some(n) = from {
            req = req.header("Range", format!("bytes={n}-"));
        }
        let response = req
            .config()
            .timeout_global(self.deadline.remaining())
            .timeout_connect(Some(per_attempt))
            .timeout_recv_response(Some(per_attempt))
            // Per read, not for the whole body: a large file may take
            // longer than that, a stalled one may not.
            .timeout_per_read(Some(per_attempt))
            .build()
            .call()
            .map_err(|e| self.classify(e, quiet_since))?;
        Ok((response, Instant::now()))
    }

    /// Each wait (connecting, the response, every read) is bounded by the
    /// per-attempt timeout, and by the silence limit when shorter: a server
    /// that stops sending is silence, as a quiet builder is.
    fn per_attempt(&self) -> Duration {
        let mut per_attempt = self.deadline.cap(self.opts.timeout);
        if let Some(silence) = self.deadline.max_silence() {
            per_attempt = per_attempt.min(silence);
        }
        per_attempt
    }

    /// One read of a response body, with the deadline and silence checks.
    fn read_some(
        &self,
        reader: &mut impl Read,
        buf: &mut [u8],
        quiet_since: &mut Instant,
    ) -> Result<usize, Failure> {
        loop {
            if self.deadline.passed() {
                return Err(Failure::Fatal(self.deadline.message()));
            }
            match reader.read(buf) {
                Ok(got) => {
                    *quiet_since = Instant::now();
                    return Ok(got);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(self.limit_reached(*quiet_since).unwrap_or_else(|| {
                        // ureq reports its per-read timeout as an I/O
                        // error of its own.
                        let text = e.to_string();
                        let timed_out = e.kind() == std::io::ErrorKind::TimedOut
                            || e.kind() == std::io::ErrorKind::WouldBlock
                            || text.contains("timeout")
                            || text.contains("timed out");
                        let what = if timed_out {
                            format!(
                                "the server stopped sending (nothing for {})",
                                crate::deadline::seconds(self.per_attempt())
                            )
                        } else {
                            format!("download interrupted: {e}")
                        };
                        Failure::Transient(what)
                    }));
                }
            }
        }
    }

    fn fetch_once(
        &self,
        url: &str,
        target: &Path,
        resume: Resume,
        progress: &mut dyn FnMut(u64),
    ) -> Result<u64, Failure> {
        let open = |append: bool| {
            let mut o = std::fs::OpenOptions::new();
            o.write(true).create(true);
            if append {
                o.append(true);
            } else {
                o.truncate(true);
            }
            o.open(target).map_err(|e| {
                Failure::Permanent(format!("cannot create `{}`: {e}", target.display()))
            })
        };
        if let Some(path) = url.strip_prefix("file://") {
            let mut input = std::fs::File::open(path)
                .map_err(|e| Failure::Permanent(format!("cannot open `{path}`: {e}")))?;
            let mut out = open(false)?;
            let n = std::io::copy(&mut input, &mut out)
                .map_err(|e| Failure::Permanent(format!("cannot copy `{path}`: {e}")))?;
            progress(n);
            return Ok(n);
        }
        let have = match resume {
            Resume::FromExisting => std::fs::metadata(target).map_or(0, |m| m.len()),
            Resume::Never => 0,
        };
        let (mut response, mut quiet_since) = match self.request(url, (have > 0).then_some(have)) {
            // The server has no more than we hold: start over, the
            // verification decides what the bytes are.
            Err(Failure::Permanent(m)) if have > 0 && m == "HTTP status 416" => {
                let _ = std::fs::remove_file(target);
                self.request(url, None)?
            }
            other => other?,
        };
        let partial = response.status().as_u16() == 206 && have > 0;
        let mut out = open(partial)?;
        // `progress` hears of new bytes only: those kept were counted
        // when they arrived.
        let mut n: u64 = if partial { have } else { 0 };
        if !partial {
            out.rewind().map_err(|e| {
                Failure::Permanent(format!("cannot write `{}`: {e}", target.display()))
            })?;
        }
        let mut reader = response.body_mut().with_config().limit(u64::MAX).reader();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let got = self.read_some(&mut reader, &mut buf, &mut quiet_since)?;
            if got == 0 {
                break;
            }
            out.write_all(&buf[..got]).map_err(|e| {
                Failure::Permanent(format!("cannot write `{}`: {e}", target.display()))
            })?;
            n += got as u64;
            progress(got as u64);
        }
        out.flush()
            .map_err(|e| Failure::Permanent(format!("cannot write `{}`: {e}", target.display())))?;
        Ok(n)
    }

    /// The failure to report when a wait failed because a limit was
    /// reached: the deadline, or silence since `quiet_since`.
    fn limit_reached(&self, quiet_since: Instant) -> Option<Failure> {
        if self.deadline.passed() {
            Some(Failure::Fatal(self.deadline.message()))
        } else if self.deadline.silent_too_long(quiet_since) {
            Some(Failure::Fatal(self.deadline.silence_message()))
        } else {
            None
        }
    }

    /// Sorts an error into retry or not, and words the ones a user must
    /// act on (an untrusted certificate, the deadline).
    fn classify(&self, e: ureq::Error, quiet_since: Instant) -> Failure {
        if let Some(limit) = self.limit_reached(quiet_since) {
            return limit;
        }
        let text = e.to_string();
        if is_certificate_error(&text) {
            return Failure::Permanent(format!(
                "the server's TLS certificate is not trusted ({text}); trusted roots: {} \
                 (hint: --ca-file FILE, SSL_CERT_FILE or SSL_CERT_DIR choose them; \
                 --no-check-certificate skips the check, as guix-daemon does, since the \
                 output's hash is checked anyway)",
                self.trust.source
            ));
        }
        match e {
            ureq::Error::StatusCode(code) if code >= 500 || code == 429 => {
                Failure::Transient(format!("HTTP status {code}"))
            }
            ureq::Error::StatusCode(code) => Failure::Permanent(format!("HTTP status {code}")),
            ureq::Error::Timeout(t) => Failure::Transient(format!("timed out ({t})")),
            ureq::Error::HostNotFound => {
                Failure::Transient(format!("{UNREACHABLE}: its name does not resolve"))
            }
            ureq::Error::ConnectionFailed => {
                Failure::Transient(format!("{UNREACHABLE}: connection failed"))
            }
            ureq::Error::Io(e) if is_unreachable_io(&e) => {
                Failure::Transient(format!("{UNREACHABLE}: {e}"))
            }
            ureq::Error::Io(e) => Failure::Transient(format!("{e}")),
            other => Failure::Permanent(other.to_string()),
        }
    }
}

/// Whether an I/O error means the server cannot be reached at all: its
/// name does not resolve (the resolver's words, as the standard library
/// passes them on), or no connection can be made.
fn is_unreachable_io(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    if matches!(
        e.kind(),
        ConnectionRefused | HostUnreachable | NetworkUnreachable | AddrNotAvailable
    ) {
        return true;
    }
    let text = e.to_string();
    text.contains("failed to lookup address")
        || text.contains("Name or service not known")
        || text.contains("No address associated")
        || text.contains("Temporary failure in name resolution")
}

/// Whether an error from the TLS layer is about the peer's certificate
/// (rustls words them `invalid peer certificate: …`).
fn is_certificate_error(text: &str) -> bool {
    text.contains("invalid peer certificate")
        || text.contains("UnknownIssuer")
        || text.contains("NotValidForName")
}

/// The host part of a URL (`https://ci.guix.gnu.org/x` → `ci.guix.gnu.org`),
/// for grouping failures by server; the whole URL when it has none.
pub fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    &rest[..end]
}

#[cfg(test)]
mod tests;
