//! `abovo serve`: a read-only explorer of trust bases in the browser.
//!
//! The server answers the questions of the command line over HTTP, for a
//! page that draws them: a search with suggestions, a package's trust base
//! as an interactive graph, its dependents and closure, and the audit of
//! the whole distribution as charts, and the diff with an older revision. Every view has its URL and its JSON at
//! an `/api/…` path ([`route`]), and that JSON is the command line's own
//! `--format json` output: this crate does not compute any of it. It asks
//! an [`Explorer`] (implemented by the `abovo` binary over the same library
//! calls as its commands) and keeps the answers ([`limit::Answers`]).
//! Served with an older revision (`abovo serve --against OLD`), it also
//! shows what changed in the trust base since then: the distribution's
//! (`abovo audit --against`) and each package's (`abovo seeds --against`).
//!
//! | module | owns |
//! | --- | --- |
//! | [`route`] | the URL paths, parsed strictly (hostile paths are refused before anything runs) |
//! | [`server`] | the HTTP server (hyper on tokio): GET and HEAD only, bounded requests, connections, rates |
//! | [`limit`] | the per-client rate limit and the kept answers |
//! | [`assets`] | the page, script and style sheet, embedded in the binary (no CDN: it works offline) |
//!
//! The page is one HTML shell; its script builds every element with
//! `textContent` and `setAttribute`, never from markup, so names from the
//! data cannot become markup. What the shell itself carries from the data
//! (the graph's description) goes through [`escape::json_in_html`].
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod assets;
pub mod escape;
pub mod limit;
pub mod route;
pub mod server;

/// The bounds a client meets (connections, time to send a request head, its size).
pub use abovo_http::Limits;
pub use route::Question;
use std::time::Duration;

/// A question the explorer could not answer, and how to say so.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    /// The HTTP status: `404` for a name nothing has, `400` for a
    /// question that cannot be asked, `500` for a failure.
    pub status: u16,
    /// What went wrong, for people (sent as JSON `{"error": …}`).
    pub message: String,
}

/// What answers the questions: the library calls behind the command line.
pub trait Explorer: Send + Sync + 'static {
    /// The JSON answer to `question` (the bytes the command line would
    /// print with `--format json`).
    fn answer(&self, question: &Question) -> Result<Vec<u8>, Refusal>;
}

/// How the server behaves.
#[derive(Debug, Clone)]
pub struct Options {
    /// Worker threads of the runtime (`0`: one per core).
    pub workers: usize,
    /// Connections at once, the time a client has to send a request's
    /// head (and an idle keep-alive connection is kept), the largest head.
    pub limits: Limits,
    /// New questions (not answered before) per second one client address
    /// may ask (`0`: no limit); beyond it, `429 Too Many Requests`.
    pub rate: u32,
    /// Questions answered at once (the others wait their turn): a
    /// question not answered before can take a second of CPU.
    pub max_computing: usize,
    /// Bytes of answers kept in memory.
    pub max_kept_bytes: usize,
    /// What the page's title line says is served.
    pub description: String,
    /// The older revision the diff view compares with (`--against`), as
    /// the page names it; `None`: no diff view.
    pub against: Option<String>,
    /// Questions answered in the background as soon as the server starts
    /// (each in its turn among the questions computed at once), so that
    /// the first page to ask finds the answer kept: those that take
    /// seconds, as the diff with an older revision.
    pub warm: Vec<Question>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            workers: 0,
            limits: Limits {
                max_connections: 256,
                header_timeout: Duration::from_secs(10),
                max_request_bytes: 16 * 1024,
            },
            rate: 50,
            max_computing: 2,
            max_kept_bytes: 512 << 20,
            description: String::new(),
            against: None,
            warm: Vec::new(),
        }
    }
}
