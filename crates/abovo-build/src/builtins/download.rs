//! `builtin:download`: the daemon's own fetcher of fixed-output files.
//!
//! What Guix's `perform-download` does, for the variables a Guix derivation
//! carries:
//!
//! * `url`: a Scheme string or list of strings; `http`, `https` and `file`
//!   URLs are fetched, `mirror://NAME/PATH` is expanded with every base URL
//!   the `mirrors` file lists for `NAME` (in order);
//! * after the URLs, the *content-addressed mirrors*: each procedure of the
//!   `content-addressed-mirrors` file (a small Scheme program, see
//!   [`super::sexp`]) is called with the file name, the hash algorithm and
//!   the expected hash, and the URL it returns is tried; URL templates given
//!   by the user ([`DownloadOptions::content_addressed_mirrors`]) come next;
//! * `executable`: `"1"` makes the file executable.
//!
//! Each URL is tried `retries + 1` times on transient failures (timeouts,
//! connection errors, HTTP 5xx) with a growing pause, and the next URL is
//! tried when one fails. The file is written where the output must be; its
//! hash is checked afterwards like any fixed output. Disarchive mirrors are
//! not supported (the derivation still builds when another source has the
//! file).

use super::sexp::{self, Evaluator, Value};
use super::tls::TrustStore;
use super::{Deadline, DownloadOptions};
use abovo_store::derivation::Derivation;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

/// Fetches the output of a `builtin:download` derivation into `target`,
/// giving up at `deadline`.
pub fn run(
    drv: &Derivation,
    target: &Path,
    opts: &DownloadOptions,
    deadline: Deadline,
    log: &mut dyn FnMut(&[u8]),
) -> Result<(), String> {
    let urls = url_list(drv)?;
    let mirrors = match (&opts.mirrors_file, drv.env_str("mirrors")) {
        (Some(f), _) => read_mirrors(f)?,
        (None, Some(f)) if !f.is_empty() => read_mirrors(Path::new(f))?,
        _ => BTreeMap::new(),
    };
    let mut candidates = Vec::new();
    for url in &urls {
        candidates.extend(expand_mirror(url, &mirrors)?);
    }
    let file_name = drv
        .outputs
        .get("out")
        .and_then(|o| o.path.as_ref())
        .map(|p| p.name().to_owned())
        .unwrap_or_default();
    if let Some(Ok(fixed)) = drv.fixed_output() {
        if let Some(f) = drv
            .env_str("content-addressed-mirrors")
            .filter(|f| !f.is_empty())
        {
            match content_addressed_urls(Path::new(f), &file_name, &fixed.hash) {
                Ok(urls) => candidates.extend(urls),
                Err(e) => {
                    log(format!("note: ignoring content-addressed mirrors: {e}\n").as_bytes())
                }
            }
        }
        for template in &opts.content_addressed_mirrors {
            candidates.push(fill_template(template, &file_name, &fixed.hash));
        }
    }
    if candidates.is_empty() {
        return Err("no URL to download from".into());
    }
    let fetcher = Fetcher::new(opts, deadline)?;
    let mut errors = Vec::new();
    for url in &candidates {
        if deadline.passed() {
            return Err(deadline.message());
        }
        log(format!("Starting download of {}\nFrom {url}...\n", target.display()).as_bytes());
        match fetcher.fetch_url(url, target, log) {
            Ok(size) => {
                log(format!("downloaded {size} bytes from {url}\n").as_bytes());
                if drv.env_str("executable") == Some("1") {
                    use std::os::unix::fs::PermissionsExt;
                    std::fs::set_permissions(target, std::fs::Permissions::from_mode(0o755))
                        .map_err(|e| {
                            format!("cannot make `{}` executable: {e}", target.display())
                        })?;
                }
                return Ok(());
            }
            Err(Failure::Fatal(e)) => {
                // Like a builder killed by a limit: no other source is tried.
                log(format!("{url}: {e}\n").as_bytes());
                let _ = std::fs::remove_file(target);
                return Err(e);
            }
            Err(Failure::Transient(e) | Failure::Permanent(e)) => {
                log(format!("failed to download from {url}: {e}\n").as_bytes());
                let _ = std::fs::remove_file(target);
                if deadline.passed() {
                    return Err(deadline.message());
                }
                errors.push(format!("{url}: {e}"));
            }
        }
    }
    if drv
        .env_str("disarchive-mirrors")
        .is_some_and(|d| !d.is_empty())
    {
        errors.push(
            "(the derivation's disarchive mirrors were not tried: abovo does not support them)"
                .into(),
        );
    }
    Err(format!(
        "every source failed:\n    {}",
        errors.join("\n    ")
    ))
}

/// What `url` must look like, for error messages.
const URL_EXPECTED: &str = "a Scheme string in double quotes, such as \"https://example.org/f.tar.gz\", \
     or a list of them, such as (\"https://a.example/f.tar.gz\" \"mirror://gnu/f.tar.gz\"), \
     as Guix writes it";

/// The URLs of the `url` variable (a Scheme string or list of strings).
pub fn url_list(drv: &Derivation) -> Result<Vec<String>, String> {
    let text = drv.env_str("url").ok_or_else(|| {
        format!("the derivation has no `url` variable; it must be {URL_EXPECTED}")
    })?;
    let data = sexp::read_all(text)
        .map_err(|e| format!("cannot read `url` ({e}); it must be {URL_EXPECTED}"))?;
    let wrong = |found: String| format!("`url` must be {URL_EXPECTED}, but it is {found}");
    let strings = |v: &Value| -> Result<Vec<String>, String> {
        match v {
            Value::Str(s) => Ok(vec![s.clone()]),
            Value::List(items) if !items.is_empty() => items
                .iter()
                .enumerate()
                .map(|(k, i)| match i {
                    Value::Str(s) => Ok(s.clone()),
                    other => Err(wrong(format!(
                        "a list whose item {} is {}",
                        k + 1,
                        other.describe()
                    ))),
                })
                .collect(),
            Value::List(_) => Err(wrong("an empty list".into())),
            other => Err(wrong(other.describe())),
        }
    };
    match data.as_slice() {
        [v] => strings(v),
        [] => Err(wrong("empty".into())),
        more => Err(wrong(format!(
            "{} values in a row (put them in a list)",
            more.len()
        ))),
    }
}

/// Reads a mirrors file: `((name "base-url" …) …)`.
pub fn read_mirrors(file: &Path) -> Result<BTreeMap<String, Vec<String>>, String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read mirrors file `{}`: {e}", file.display()))?;
    let data =
        sexp::read_all(&text).map_err(|e| format!("mirrors file `{}`: {e}", file.display()))?;
    let mut out = BTreeMap::new();
    let Some(Value::List(entries)) = data.first() else {
        return Err(format!("mirrors file `{}` is not a list", file.display()));
    };
    for e in entries {
        let Value::List(items) = e else {
            return Err(format!(
                "mirrors file `{}`: an entry is not a list",
                file.display()
            ));
        };
        let Some(Value::Sym(name)) = items.first() else {
            return Err(format!(
                "mirrors file `{}`: an entry has no name",
                file.display()
            ));
        };
        let urls = items[1..]
            .iter()
            .filter_map(|u| match u {
                Value::Str(s) => Some(s.clone()),
                _ => None,
            })
            .collect();
        out.insert(name.clone(), urls);
    }
    Ok(out)
}

/// `mirror://NAME/PATH` → every mirror base of `NAME` followed by `PATH`;
/// any other URL stays as it is.
pub fn expand_mirror(
    url: &str,
    mirrors: &BTreeMap<String, Vec<String>>,
) -> Result<Vec<String>, String> {
    let Some(rest) = url.strip_prefix("mirror://") else {
        return Ok(vec![url.to_owned()]);
    };
    let (name, path) = rest.split_once('/').unwrap_or((rest, ""));
    let bases = mirrors
        .get(name)
        .ok_or_else(|| format!("unknown mirror `{name}` in `{url}` (not in the mirrors file)"))?;
    Ok(bases
        .iter()
        .map(|b| {
            if b.ends_with('/') {
                format!("{b}{path}")
            } else {
                format!("{b}/{path}")
            }
        })
        .collect())
}

fn content_addressed_urls(
    file: &Path,
    name: &str,
    hash: &abovo_store::Hash,
) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let forms = sexp::read_all(&text)?;
    let mut ev = Evaluator::default();
    let Value::List(procs) = ev.eval_program(&forms)? else {
        return Err("it does not evaluate to a list of procedures".into());
    };
    let mut urls = Vec::new();
    for p in procs {
        let args = vec![
            Value::Str(name.to_owned()),
            Value::Sym(hash.algo().name().to_owned()),
            Value::Bytes(hash.digest().to_vec()),
        ];
        if let Value::Str(u) = ev.apply(&p, args)? {
            urls.push(u);
        }
    }
    Ok(urls)
}

/// Fills `{file}`, `{algo}`, `{hash}` (nix-base32) and `{hex}` in a URL
/// template.
pub fn fill_template(template: &str, file: &str, hash: &abovo_store::Hash) -> String {
    template
        .replace("{file}", file)
        .replace("{algo}", hash.algo().name())
        .replace("{hash}", &hash.to_nix32())
        .replace("{hex}", &hash.to_base16())
}

/// How a fetch failed, which decides what happens next.
enum Failure {
    /// Worth retrying (timeouts, connection errors, HTTP 5xx and 429).
    Transient(String),
    /// Not worth retrying this URL; the next one is tried.
    Permanent(String),
    /// A limit of the build was reached (`--timeout`,
    /// `--max-silent-time`): the whole built-in stops.
    Fatal(String),
}

impl Failure {
    fn message(self) -> String {
        match self {
            Failure::Transient(m) | Failure::Permanent(m) | Failure::Fatal(m) => m,
        }
    }
}

/// Fetches URLs with one HTTP agent (one trust store) and the deadline.
pub struct Fetcher<'a> {
    opts: &'a DownloadOptions,
    deadline: Deadline,
    agent: ureq::Agent,
    trust: TrustStore,
}

impl<'a> Fetcher<'a> {
    /// An agent with the trust store of `opts` (an error when it cannot be
    /// loaded).
    pub fn new(opts: &'a DownloadOptions, deadline: Deadline) -> Result<Fetcher<'a>, String> {
        let trust = opts.trust.load(&|name| std::env::var(name).ok())?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .tls_config(trust.config.clone())
            .max_redirects(10)
            .user_agent("abovo (builtin:download)")
            .build()
            .into();
        Ok(Fetcher {
            opts,
            deadline,
            agent,
            trust,
        })
    }

    /// Fetches `url` into `target`, retrying transient failures; returns
    /// the number of bytes.
    pub fn fetch_with_retries(
        &self,
        url: &str,
        target: &Path,
        log: &mut dyn FnMut(&[u8]),
    ) -> Result<u64, String> {
        self.fetch_url(url, target, log).map_err(Failure::message)
    }

    fn fetch_url(
        &self,
        url: &str,
        target: &Path,
        log: &mut dyn FnMut(&[u8]),
    ) -> Result<u64, Failure> {
        let mut pause = Duration::from_millis(250);
        let mut attempt = 0;
        loop {
            match self.fetch(url, target) {
                Ok(n) => return Ok(n),
                Err(Failure::Transient(e)) if attempt < self.opts.retries => {
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
                    let _ = std::fs::remove_file(target);
                    std::thread::sleep(pause);
                    pause *= 2;
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn fetch(&self, url: &str, target: &Path) -> Result<u64, Failure> {
        let create = || {
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(target)
                .map_err(|e| {
                    Failure::Permanent(format!("cannot create `{}`: {e}", target.display()))
                })
        };
        if let Some(path) = url.strip_prefix("file://") {
            let mut input = std::fs::File::open(path)
                .map_err(|e| Failure::Permanent(format!("cannot open `{path}`: {e}")))?;
            let mut out = create()?;
            return std::io::copy(&mut input, &mut out)
                .map_err(|e| Failure::Permanent(format!("cannot copy `{path}`: {e}")));
        }
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(Failure::Permanent(
                "unsupported URL scheme (abovo fetches http, https and file URLs)".into(),
            ));
        }
        // Each wait (connecting, the response, every read) is bounded by
        // the per-attempt timeout, and by --max-silent-time when shorter:
        // a server that stops sending is silence, as a quiet builder is.
        let mut per_attempt = self.deadline.cap(self.opts.timeout);
        if let Some(silence) = self.deadline.max_silence() {
            per_attempt = per_attempt.min(silence);
        }
        let mut quiet_since = std::time::Instant::now();
        let mut response = self
            .agent
            .get(url)
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
        quiet_since = std::time::Instant::now();
        let mut out = create()?;
        let mut reader = response.body_mut().with_config().limit(u64::MAX).reader();
        let mut buf = vec![0u8; 64 * 1024];
        let mut n: u64 = 0;
        loop {
            if self.deadline.passed() {
                return Err(Failure::Fatal(self.deadline.message()));
            }
            let got = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(got) => got,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(self.limit_reached(quiet_since).unwrap_or_else(|| {
                        Failure::Transient(format!("download interrupted: {e}"))
                    }));
                }
            };
            quiet_since = std::time::Instant::now();
            out.write_all(&buf[..got]).map_err(|e| {
                Failure::Permanent(format!("cannot write `{}`: {e}", target.display()))
            })?;
            n += got as u64;
        }
        out.flush()
            .map_err(|e| Failure::Permanent(format!("cannot write `{}`: {e}", target.display())))?;
        Ok(n)
    }

    /// The failure to report when a wait failed because a limit of the
    /// build was reached: the deadline, or silence since `quiet_since`.
    fn limit_reached(&self, quiet_since: std::time::Instant) -> Option<Failure> {
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
    fn classify(&self, e: ureq::Error, quiet_since: std::time::Instant) -> Failure {
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
            ureq::Error::Io(e) => Failure::Transient(format!("{e}")),
            ureq::Error::ConnectionFailed => Failure::Transient("connection failed".into()),
            other => Failure::Permanent(other.to_string()),
        }
    }
}

/// Whether an error from the TLS layer is about the peer's certificate
/// (rustls words them `invalid peer certificate: …`).
fn is_certificate_error(text: &str) -> bool {
    text.contains("invalid peer certificate")
        || text.contains("UnknownIssuer")
        || text.contains("NotValidForName")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use crate::sandbox::Limits;

    #[test]
    fn mirror_urls_expand_in_order() {
        let mut m = BTreeMap::new();
        m.insert(
            "gnu".to_owned(),
            vec![
                "https://ftpmirror.gnu.org/".to_owned(),
                "https://ftp.gnu.org/gnu".to_owned(),
            ],
        );
        assert_eq!(
            expand_mirror("mirror://gnu/hello/hello-2.12.tar.gz", &m).unwrap(),
            [
                "https://ftpmirror.gnu.org/hello/hello-2.12.tar.gz",
                "https://ftp.gnu.org/gnu/hello/hello-2.12.tar.gz"
            ]
        );
        assert_eq!(expand_mirror("https://x/y", &m).unwrap(), ["https://x/y"]);
        let err = expand_mirror("mirror://cran/x", &m).unwrap_err();
        assert!(err.contains("unknown mirror `cran`"), "{err}");
    }

    /// A server that answers 503 to the first `failures` requests, then 200.
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
        let opts = DownloadOptions::default();
        let fetcher = Fetcher::new(&opts, Deadline::new(Limits::default())).unwrap();
        let n = fetcher
            .fetch_with_retries(&url, &target, &mut |b| log.extend_from_slice(b))
            .unwrap();
        assert_eq!(n, 8);
        assert_eq!(std::fs::read(&target).unwrap(), b"finally\n");
        let log = String::from_utf8(log).unwrap();
        assert_eq!(log.matches("retrying").count(), 2, "{log}");
        // With no retries left, the 503 is the answer.
        let port = flaky_server(5, b"never");
        let opts = DownloadOptions {
            retries: 1,
            ..DownloadOptions::default()
        };
        let url = format!("http://127.0.0.1:{port}/f");
        let fetcher = Fetcher::new(&opts, Deadline::new(Limits::default())).unwrap();
        let err = fetcher
            .fetch_with_retries(&url, &target, &mut |_| {})
            .unwrap_err();
        assert!(err.contains("HTTP status 503"), "{err}");
        // Other schemes are refused at once.
        let err = fetcher
            .fetch_with_retries("ftp://example.org/x", &target, &mut |_| {})
            .unwrap_err();
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
        let opts = DownloadOptions::default();
        let deadline = Deadline::new(Limits {
            timeout: Some(Duration::from_secs(1)),
            ..Limits::default()
        });
        let fetcher = Fetcher::new(&opts, deadline).unwrap();
        let start = std::time::Instant::now();
        let url = format!("http://127.0.0.1:{port}/f");
        let err = fetcher
            .fetch_with_retries(&url, &dir.path().join("f"), &mut |_| {})
            .unwrap_err();
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
        let opts = DownloadOptions {
            timeout: Duration::from_secs(1),
            retries: 0,
            ..DownloadOptions::default()
        };
        let fetcher = Fetcher::new(&opts, Deadline::new(Limits::default())).unwrap();
        let target = dir.path().join("f");
        let url = format!("http://127.0.0.1:{port}/f");
        let n = fetcher
            .fetch_with_retries(&url, &target, &mut |_| {})
            .unwrap();
        assert_eq!(n, 8);
        assert_eq!(std::fs::read(&target).unwrap(), b"abcdefgh");
    }

    fn with_url(url: &str) -> Derivation {
        let mut drv = Derivation {
            system: "x86_64-linux".into(),
            builder: "builtin:download".into(),
            ..Derivation::default()
        };
        drv.environment
            .insert(b"url".to_vec(), url.as_bytes().to_vec());
        drv
    }

    #[test]
    fn url_errors_say_what_was_expected_and_found() {
        assert_eq!(
            url_list(&with_url("(\"https://a/x\" \"http://b/x\")")).unwrap(),
            ["https://a/x", "http://b/x"]
        );
        assert_eq!(url_list(&with_url("\"file:///x\"")).unwrap(), ["file:///x"]);
        let cases = [
            (
                "file:///tmp/x",
                "it is the symbol `file:///tmp/x` (a bare word",
            ),
            ("42", "it is the number 42"),
            ("()", "it is an empty list"),
            (
                "(\"https://a/x\" b)",
                "it is a list whose item 2 is the symbol `b`",
            ),
            (
                "\"a\" \"b\"",
                "it is 2 values in a row (put them in a list)",
            ),
            ("", "it is empty"),
        ];
        for (url, found) in cases {
            let err = url_list(&with_url(url)).unwrap_err();
            assert!(
                err.starts_with(
                    "`url` must be a Scheme string in double quotes, such as \"https://"
                ),
                "{err}"
            );
            assert!(err.contains(found), "{url}: {err}");
            assert!(
                !err.contains("Sym(") && !err.contains("Str("),
                "no Debug dump: {err}"
            );
        }
        let err = url_list(&with_url("(\"unterminated")).unwrap_err();
        assert!(err.starts_with("cannot read `url` (") && err.contains("must be a Scheme string"));
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
        let opts = DownloadOptions::default();
        let deadline = Deadline::new(Limits {
            max_silent_time: Some(Duration::from_secs(1)),
            ..Limits::default()
        });
        let fetcher = Fetcher::new(&opts, deadline).unwrap();
        let start = std::time::Instant::now();
        let err = fetcher
            .fetch_url(&url, &dir.path().join("f"), &mut |_| {})
            .err()
            .map(Failure::message)
            .unwrap();
        assert_eq!(err, "timed out after 1 second of silence");
        // Not retried: a limit of the build, not a transient failure.
        let took = start.elapsed();
        assert!(
            took >= Duration::from_secs(1) && took < Duration::from_secs(3),
            "{took:?}"
        );
    }

    #[test]
    fn templates_fill_the_hash() {
        let h = abovo_store::Hash::sha256([1; 32]);
        let url = fill_template("https://m/{algo}/{hash}?f={file}&x={hex}", "a.tar", &h);
        assert_eq!(
            url,
            format!(
                "https://m/sha256/{}?f=a.tar&x={}",
                h.to_nix32(),
                h.to_base16()
            )
        );
    }
}
