//! What a run reports: per item, how it ended, where the content came
//! from, what it measures, and every source that did not give it.

use crate::verify::Measured;
use serde::Serialize;

/// Where content came from, or was looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    /// abovo's cache.
    Cache,
    /// A store directory.
    Store,
    /// A substitute server's NAR.
    Substitute,
    /// A content-addressed mirror (a substitute server's `/file/`, the
    /// derivation's own, `--mirror`).
    Mirror,
    /// Debian's source archive.
    Debian,
    /// The derivation's own URL.
    Url,
    /// `git`, for `builtin:git-download`.
    Git,
}

impl SourceKind {
    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            SourceKind::Cache => "cache",
            SourceKind::Store => "store",
            SourceKind::Substitute => "substitute",
            SourceKind::Mirror => "mirror",
            SourceKind::Debian => "debian",
            SourceKind::Url => "url",
            SourceKind::Git => "git",
        }
    }
}

/// A source that was tried and did not give the content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attempt {
    /// The kind of source.
    pub source: SourceKind,
    /// The server, URL or directory.
    pub location: String,
    /// Why not.
    pub error: String,
}

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The cache already held it.
    Cached,
    /// It was fetched and verified now.
    Fetched,
    /// Only its narinfo was asked for, and found (`--narinfo-only`).
    Narinfo,
    /// No source gave it.
    Failed,
}

/// What a narinfo says of an item's size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NarinfoSizes {
    /// The server.
    pub server: String,
    /// `NarSize`.
    pub nar_size: u64,
    /// `FileSize` of the copy abovo would download, when given.
    pub file_size: Option<u64>,
    /// Who signed it (`None`: accepted unsigned or untrusted).
    pub signer: Option<String>,
}

/// The report of one request.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The store path.
    pub store_path: String,
    /// The output's name.
    pub name: String,
    /// The pinned hash (`r:sha256:<nix32>`).
    pub hash: String,
    /// How it ended.
    pub status: Status,
    /// Where the content came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceKind>,
    /// The URL or directory it came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// What the content measures (checked against the pinned hash).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measured: Option<Measured>,
    /// Bytes received over the network for it in this run.
    pub downloaded: u64,
    /// Whether content was verified against the pinned hash.
    pub verified: bool,
    /// The narinfo's sizes, when a server had one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub narinfo: Option<NarinfoSizes>,
    /// Every source that did not give it, in order.
    pub attempts: Vec<Attempt>,
}
