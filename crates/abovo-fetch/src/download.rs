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
//!   [`crate::sexp`]) is called with the file name, the hash algorithm and
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

use crate::deadline::Deadline;
use crate::http::{Failure, HttpClient, HttpOptions, Resume};
use crate::sexp::{self, Evaluator, Value};
use crate::tls::Trust;
use abovo_store::derivation::Derivation;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Settings of the built-in fetchers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadOptions {
    /// Timeout of connecting, of waiting for the response, and of each read
    /// of the body (not of the whole body: a large file may take longer).
    pub timeout: Duration,
    /// Extra attempts per URL after a transient failure.
    pub retries: u32,
    /// A mirrors file to use instead of the derivation's own.
    pub mirrors_file: Option<PathBuf>,
    /// Content-addressed mirror URL templates tried after the derivation's
    /// own: `{file}`, `{algo}`, `{hash}` (nix-base32), `{hex}`.
    pub content_addressed_mirrors: Vec<String>,
    /// Which certificates `https` downloads trust ([`crate::tls`]).
    pub trust: Trust,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        DownloadOptions {
            timeout: Duration::from_secs(60),
            retries: 3,
            mirrors_file: None,
            content_addressed_mirrors: Vec::new(),
            trust: Trust::default(),
        }
    }
}

impl DownloadOptions {
    /// The HTTP client's share of these options.
    pub fn http(&self) -> HttpOptions {
        HttpOptions {
            timeout: self.timeout,
            retries: self.retries,
            trust: self.trust.clone(),
            user_agent: "abovo (builtin:download)".into(),
        }
    }
}

/// The name of a fixed-output derivation's output (`hello-2.12.tar.gz`),
/// which content-addressed mirrors receive as the file name.
pub fn output_name(drv: &Derivation) -> String {
    drv.outputs
        .get("out")
        .and_then(|o| o.path.as_ref())
        .map(|p| p.name().to_owned())
        .unwrap_or_default()
}

/// The URLs to try for a `builtin:download` derivation, in order: its own
/// (`mirror://` expanded with `mirrors`, the text of its mirrors file),
/// then the URLs its content-addressed mirrors program (`ca_mirrors`, its
/// text) computes, then `templates` filled in. A content-addressed mirrors
/// program that cannot be evaluated is reported through `note` and
/// skipped: the other URLs may still have the file.
pub fn candidate_urls(
    drv: &Derivation,
    mirrors: Option<&str>,
    ca_mirrors: Option<&str>,
    templates: &[String],
    note: &mut dyn FnMut(&str),
) -> Result<Vec<String>, String> {
    let urls = url_list(drv)?;
    let mirrors = match mirrors {
        Some(text) => parse_mirrors(text)?,
        None => BTreeMap::new(),
    };
    let mut candidates = Vec::new();
    for url in &urls {
        candidates.extend(expand_mirror(url, &mirrors)?);
    }
    let file_name = output_name(drv);
    if let Some(Ok(fixed)) = drv.fixed_output() {
        if let Some(text) = ca_mirrors {
            match content_addressed_urls(text, &file_name, &fixed.hash) {
                Ok(urls) => candidates.extend(urls),
                Err(e) => note(&format!("ignoring content-addressed mirrors: {e}")),
            }
        }
        for template in templates {
            candidates.push(fill_template(template, &file_name, &fixed.hash));
        }
    }
    Ok(candidates)
}

/// Reads the file a derivation variable names (`mirrors`,
/// `content-addressed-mirrors`), if it names one.
fn env_file(drv: &Derivation, name: &str) -> Result<Option<String>, String> {
    match drv.env_str(name).filter(|f| !f.is_empty()) {
        Some(f) => std::fs::read_to_string(f)
            .map(Some)
            .map_err(|e| format!("cannot read {name} file `{f}`: {e}")),
        None => Ok(None),
    }
}

/// Fetches the output of a `builtin:download` derivation into `target`,
/// giving up at `deadline`.
pub fn run(
    drv: &Derivation,
    target: &Path,
    opts: &DownloadOptions,
    deadline: Deadline,
    log: &mut dyn FnMut(&[u8]),
) -> Result<(), String> {
    let mirrors = match &opts.mirrors_file {
        Some(f) => Some(
            std::fs::read_to_string(f)
                .map_err(|e| format!("cannot read mirrors file `{}`: {e}", f.display()))?,
        ),
        None => env_file(drv, "mirrors")?,
    };
    let ca = match env_file(drv, "content-addressed-mirrors") {
        Ok(t) => t,
        Err(e) => {
            log(format!("note: ignoring content-addressed mirrors: {e}\n").as_bytes());
            None
        }
    };
    let candidates = candidate_urls(
        drv,
        mirrors.as_deref(),
        ca.as_deref(),
        &opts.content_addressed_mirrors,
        &mut |n| log(format!("note: {n}\n").as_bytes()),
    )?;
    if candidates.is_empty() {
        return Err("no URL to download from".into());
    }
    let client = HttpClient::new(&opts.http(), deadline)?;
    let mut errors = Vec::new();
    for url in &candidates {
        if deadline.passed() {
            return Err(deadline.message());
        }
        log(format!("Starting download of {}\nFrom {url}...\n", target.display()).as_bytes());
        match client.download(url, target, Resume::Never, log, &mut |_| {}) {
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

/// Reads the text of a mirrors file: `((name "base-url" …) …)`.
pub fn parse_mirrors(text: &str) -> Result<BTreeMap<String, Vec<String>>, String> {
    let data = sexp::read_all(text).map_err(|e| format!("mirrors file: {e}"))?;
    let mut out = BTreeMap::new();
    let Some(Value::List(entries)) = data.first() else {
        return Err("the mirrors file is not a list".into());
    };
    for e in entries {
        let Value::List(items) = e else {
            return Err(format!("mirrors file: {} is not a list", e.describe()));
        };
        let Some(Value::Sym(name)) = items.first() else {
            return Err("mirrors file: an entry has no name".into());
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

/// The URLs a content-addressed mirrors program (its text) gives for a
/// file name and hash.
pub fn content_addressed_urls(
    text: &str,
    name: &str,
    hash: &abovo_store::Hash,
) -> Result<Vec<String>, String> {
    let forms = sexp::read_all(text)?;
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

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

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
