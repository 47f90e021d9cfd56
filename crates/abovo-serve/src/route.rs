//! What a request asks for, parsed strictly before anything else runs.
//!
//! | path | answer |
//! | --- | --- |
//! | `/`, `/package/NAME`, `/audit`, `/diff`, `/diff/NAME` | the page (one HTML shell; the embedded script draws the view the URL names) |
//! | `/static/app.js`, `/static/app.css` | the embedded script and style sheet |
//! | `/api/info` | what is served: the graph's description, abovo's version |
//! | `/api/search?q=TEXT` | suggestions: packages by name, version or `.drv` path |
//! | `/api/seeds/NAME` | `abovo seeds NAME --format json` |
//! | `/api/dependents/NAME` | `abovo dependents NAME --format json` |
//! | `/api/closure/NAME` | `abovo closure NAME --format json` |
//! | `/api/audit` | `abovo audit --format json` |
//! | `/api/derivation?path=DRV` | `abovo show --derivation DRV --format recipe-json` |
//! | `/api/diff` | `abovo audit --against OLD --format json` (served with `--against OLD`) |
//! | `/api/diff/NAME` | `abovo seeds NAME --against OLD --format json` |
//!
//! A NAME is one percent-decoded path segment (`hello`, `hello@2.12`,
//! `python-pytorch`, or a `.drv` path with its slashes encoded). Paths with `.` or `..` segments, empty segments, control
//! characters, invalid UTF-8 or more than [`MAX_PATH`] bytes are refused
//! with the reason ([`Route::Bad`]), and so is a text longer than
//! [`MAX_TEXT`] bytes: nothing of that reaches the library.

/// The longest request target considered (path and query).
pub const MAX_PATH: usize = 2048;

/// The longest name, query text or `.drv` path (a store name is at most
/// 211 bytes).
pub const MAX_TEXT: usize = 512;

/// A parsed request target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// A page of the application: the HTML shell.
    Page,
    /// An embedded asset, by file name.
    Asset(&'static str),
    /// A question for the API.
    Api(Question),
    /// Refused (`400`), with why.
    Bad(String),
    /// Nothing here (`404`), with why.
    NotFound(String),
}

/// A question of the API: what the JSON answers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Question {
    /// What is served.
    Info,
    /// Suggestions for a search text.
    Search(String),
    /// The trust base of a target (`abovo seeds`).
    Seeds(String),
    /// Its dependents (`abovo dependents`).
    Dependents(String),
    /// Its closure (`abovo closure`).
    Closure(String),
    /// The whole distribution (`abovo audit`).
    Audit,
    /// How a derivation is built (`abovo show --derivation`).
    Derivation(String),
    /// The whole distribution against the older revision (`abovo audit
    /// --against OLD`).
    AuditAgainst,
    /// A target's trust base against the older revision (`abovo seeds
    /// NAME --against OLD`).
    SeedsAgainst(String),
}

impl Question {
    /// Whether the answer may be kept and served again: every one, since
    /// the graph does not change while it is served (searches too: the
    /// answers kept are bounded in number and bytes).
    pub fn cacheable(&self) -> bool {
        true
    }
}

/// The assets, by URL path.
pub const ASSETS: [(&str, &str); 2] = [("app.js", "app.js"), ("app.css", "app.css")];

impl Route {
    /// Parses a request target (`/path?query`).
    pub fn parse(target: &str) -> Route {
        if target.len() > MAX_PATH {
            return Route::Bad(format!(
                "the request target is longer than {MAX_PATH} bytes"
            ));
        }
        let target = target.split('#').next().unwrap_or("");
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p, q),
            None => (target, ""),
        };
        let Some(rest) = path.strip_prefix('/') else {
            return Route::Bad("the path does not start with `/`".into());
        };
        let mut segments = Vec::new();
        if !rest.is_empty() {
            for raw in rest.split('/') {
                let s = match decode(raw) {
                    Ok(s) => s,
                    Err(why) => return Route::Bad(why),
                };
                // A name may hold an encoded `/` (a `.drv` path), never a
                // `.` or `..` component.
                if s.is_empty() || s.split('/').any(|c| c == "." || c == "..") {
                    return Route::Bad(format!(
                        "the path has an empty segment or a `.` or `..` component: `{}`",
                        s.chars().take(100).collect::<String>()
                    ));
                }
                segments.push(s);
            }
        }
        let param = |name: &str| -> Result<Option<String>, String> {
            for pair in query.split('&') {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                if k == name {
                    return decode(&v.replace('+', " ")).map(Some);
                }
            }
            Ok(None)
        };
        let seg: Vec<&str> = segments.iter().map(String::as_str).collect();
        match seg.as_slice() {
            [] | ["audit"] | ["diff"] => Route::Page,
            ["package" | "diff", name] => match check_text(name) {
                Ok(()) => Route::Page,
                Err(why) => Route::Bad(why),
            },
            ["static", file] => match ASSETS.iter().find(|(url, _)| url == file) {
                Some((_, name)) => Route::Asset(name),
                None => Route::NotFound(format!("no asset `{file}`")),
            },
            ["api", "info"] => Route::Api(Question::Info),
            ["api", "audit"] => Route::Api(Question::Audit),
            ["api", "diff"] => Route::Api(Question::AuditAgainst),
            ["api", "search"] => match param("q") {
                Ok(q) => {
                    let q = q.unwrap_or_default();
                    match check_text(&q) {
                        Ok(()) => Route::Api(Question::Search(q)),
                        Err(why) => Route::Bad(why),
                    }
                }
                Err(why) => Route::Bad(why),
            },
            ["api", "derivation"] => match param("path") {
                Ok(Some(p)) if !p.is_empty() => match check_text(&p) {
                    Ok(()) => Route::Api(Question::Derivation(p)),
                    Err(why) => Route::Bad(why),
                },
                Ok(_) => Route::Bad("`/api/derivation` needs `?path=` a `.drv` path".into()),
                Err(why) => Route::Bad(why),
            },
            ["api", what, name] => {
                if let Err(why) = check_text(name) {
                    return Route::Bad(why);
                }
                let name = (*name).to_owned();
                match *what {
                    "seeds" => Route::Api(Question::Seeds(name)),
                    "dependents" => Route::Api(Question::Dependents(name)),
                    "closure" => Route::Api(Question::Closure(name)),
                    "diff" => Route::Api(Question::SeedsAgainst(name)),
                    _ => Route::NotFound(format!("no API `/api/{what}/…`")),
                }
            }
            _ => Route::NotFound("no such page or API path".into()),
        }
    }
}

/// A text that goes to the library: not too long, no control characters.
fn check_text(s: &str) -> Result<(), String> {
    if s.len() > MAX_TEXT {
        return Err(format!("a name or text is longer than {MAX_TEXT} bytes"));
    }
    if s.chars().any(char::is_control) {
        return Err("a name or text holds control characters".into());
    }
    Ok(())
}

/// Percent-decodes `s` into UTF-8.
pub fn decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                Some(v) => out.push(v),
                None => return Err(format!("bad percent-encoding at byte {i} of the path")),
            }
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "the path is not UTF-8 once decoded".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(Route::parse("/"), Route::Page);
        assert_eq!(Route::parse("/package/hello%402.12"), Route::Page);
        assert_eq!(Route::parse("/diff"), Route::Page);
        assert_eq!(Route::parse("/diff/hello"), Route::Page);
        assert_eq!(
            Route::parse("/api/diff"),
            Route::Api(Question::AuditAgainst)
        );
        assert_eq!(
            Route::parse("/api/diff/hello%402.12"),
            Route::Api(Question::SeedsAgainst("hello@2.12".into()))
        );
        assert_eq!(Route::parse("/static/app.js"), Route::Asset("app.js"));
        assert_eq!(
            Route::parse("/api/closure/%2Fgnu%2Fstore%2Fx-a.drv"),
            Route::Api(Question::Closure("/gnu/store/x-a.drv".into()))
        );
        assert_eq!(
            Route::parse("/api/seeds/hello%402.12"),
            Route::Api(Question::Seeds("hello@2.12".into()))
        );
        assert_eq!(
            Route::parse("/api/search?q=py+torch"),
            Route::Api(Question::Search("py torch".into()))
        );
        assert_eq!(
            Route::parse("/api/derivation?path=%2Fgnu%2Fstore%2Fx-a.drv"),
            Route::Api(Question::Derivation("/gnu/store/x-a.drv".into()))
        );
    }

    #[test]
    fn refusals() {
        for bad in [
            "/api/seeds/..",
            "/api/seeds/%2E%2E",
            "/static/../Cargo.toml",
            "/api/seeds/%2E%2E%2Fetc%2Fpasswd",
            "/api/seeds/%2Fgnu%2Fstore%2F..%2Fx",
            "/api/diff/..",
            "/api/diff/%2E%2E%2Fetc%2Fpasswd",
            "/diff/%00",
            "/diff//x",
            "/package//x",
            "/api/seeds/%00",
            "/api/seeds/%ff",
            "/api/seeds/%zz",
            "relative",
        ] {
            assert!(matches!(Route::parse(bad), Route::Bad(_)), "{bad}");
        }
        let long = format!("/api/seeds/{}", "a".repeat(MAX_TEXT + 1));
        assert!(matches!(Route::parse(&long), Route::Bad(_)));
        let huge = format!("/api/seeds/{}", "a".repeat(100_000));
        assert!(matches!(Route::parse(&huge), Route::Bad(_)));
        let long = format!("/diff/{}", "a".repeat(MAX_TEXT + 1));
        assert!(matches!(Route::parse(&long), Route::Bad(_)));
        assert!(matches!(Route::parse("/diff/a/b"), Route::NotFound(_)));
        assert!(matches!(Route::parse("/static/x.js"), Route::NotFound(_)));
        assert!(matches!(Route::parse("/etc/passwd"), Route::NotFound(_)));
    }

    proptest::proptest! {
        /// Whatever the target, parsing answers (no panic), and a question
        /// never carries a control character or an over-long text.
        #[test]
        fn any_target(t in "\\PC{0,300}") {
            if let Route::Api(Question::Seeds(n) | Question::Search(n) | Question::Derivation(n)
                | Question::Dependents(n) | Question::Closure(n) | Question::SeedsAgainst(n)) = Route::parse(&t) {
                proptest::prop_assert!(n.len() <= MAX_TEXT && !n.chars().any(char::is_control));
            }
        }
    }
}
