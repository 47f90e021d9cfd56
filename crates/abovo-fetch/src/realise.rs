//! Realising fixed outputs into the cache: every source in order, every
//! candidate verified, a report per item.
//!
//! For one [`Request`] (a fixed-output derivation's output), the sources
//! are tried in this order, and the first whose content passes
//! [`crate::verify::check`] wins:
//!
//! 1. the cache itself;
//! 2. store directories that may already hold the output (a Guix user's
//!    `/gnu/store`, abovo's own store, a directory of seeds);
//! 3. substitute servers: the narinfo (signature checked), then the NAR
//!    ([`crate::substitute`]);
//! 4. content-addressed mirrors: `/file/NAME/ALGO/HASH` on each substitute
//!    server, the derivation's own `content-addressed-mirrors` program,
//!    the `--mirror` URLs, and Debian's source archive ([`crate::debian`]);
//! 5. the derivation's own URLs with `builtin:download` semantics
//!    (`mirror://` expanded from its mirrors file), or `git` for
//!    `builtin:git-download`.
//!
//! A server that cannot be reached at all (its name does not resolve, the
//! connection is refused) is not asked again during the run: with Guix's
//! default substitute servers out of reach, a run fails fast instead of
//! waiting on them for every item. Every refusal is kept in the item's
//! [`Outcome`] with the source, the URL and why (the expected and actual
//! hash for a mismatch).

use crate::cache::{Cache, Record, SeenNarinfo};
use crate::debian::{AptSource, Index};
use crate::download::{candidate_urls, output_name};
use crate::http::{Failure, HttpClient, HttpOptions, Resume, host_of};
use crate::keys::AuthorizedKeys;
use crate::substitute::{Lookup, Substituter};
use crate::verify::{self, Measured, show_fixed};
use crate::{Deadline, cache};
use abovo_store::HashAlgo;
use abovo_store::derivation::{Derivation, FixedOutput};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

mod outcome;
pub use outcome::{Attempt, NarinfoSizes, Outcome, SourceKind, Status};

/// One fixed output to realise.
#[derive(Debug, Clone)]
pub struct Request {
    /// Its store path (`/gnu/store/<hash>-<name>`).
    pub store_path: String,
    /// Its pinned hash.
    pub fixed: FixedOutput,
    /// The derivation (its URLs, its builder), when known.
    pub derivation: Option<Derivation>,
    /// The text of its `mirrors` file, when found.
    pub mirrors: Option<String>,
    /// The text of its `content-addressed-mirrors` program, when found.
    pub ca_mirrors: Option<String>,
}

impl Request {
    /// The store base name (`<hash>-<name>`).
    pub fn base_name(&self) -> &str {
        self.store_path
            .rsplit('/')
            .next()
            .unwrap_or(&self.store_path)
    }

    /// The output's name (`hello-2.12.tar.gz`).
    pub fn name(&self) -> &str {
        self.base_name().split_once('-').map_or("", |(_, n)| n)
    }

    fn executable(&self) -> bool {
        self.derivation
            .as_ref()
            .is_some_and(|d| d.env_str("executable") == Some("1"))
    }
}

/// What a run may use.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Directories that may hold outputs: store directories (a store
    /// directory of another prefix, such as abovo's own store, is given
    /// with it, and the output's path there is computed from its hash),
    /// or directories of seeds named by `/gnu/store` base name.
    pub stores: Vec<LocalStore>,
    /// Substitute servers, in order.
    pub substitute_urls: Vec<String>,
    /// Keys whose signatures are accepted.
    pub keys: AuthorizedKeys,
    /// Accept unsigned narinfos and unknown keys.
    pub allow_untrusted: bool,
    /// Content-addressed mirrors: a base URL (`{base}/{algo}/{hash}` is
    /// asked) or a template with `{file}`, `{algo}`, `{hash}`, `{hex}`.
    pub mirrors: Vec<String>,
    /// Debian archives, suites and components to look hashes up in.
    pub debian: Vec<AptSource>,
    /// Do not use the derivations' own URLs.
    pub no_urls: bool,
    /// Use no network at all: the cache and the stores only.
    pub offline: bool,
    /// Ask substitute servers for narinfos only (sizes), not for content.
    pub narinfo_only: bool,
    /// The HTTP client's settings.
    pub http: HttpOptions,
}

/// A directory that may hold outputs.
#[derive(Debug, Clone)]
pub struct LocalStore {
    /// The directory.
    pub dir: PathBuf,
    /// Its store prefix when it is a store of its own (the output's base
    /// name there differs from the request's); `None`: items are named by
    /// the request's base name.
    pub store_dir: Option<abovo_store::StoreDir>,
}

/// Hears about progress (the CLI draws a bar; the library never touches
/// the terminal).
pub trait Progress: Sync {
    /// An item is being worked on.
    fn started(&self, _name: &str) {}
    /// `n` more bytes were received.
    fn bytes(&self, _n: u64) {}
    /// An item is done.
    fn finished(&self, _outcome: &Outcome) {}
}

/// No progress report.
pub struct Quiet;
impl Progress for Quiet {}

/// A run: the cache, the settings, one HTTP client, and what the run has
/// learnt (unreachable servers, Debian's indices).
pub struct Realiser<'a> {
    cache: &'a Cache,
    settings: &'a Settings,
    client: HttpClient,
    progress: &'a dyn Progress,
    unreachable: Mutex<HashMap<String, String>>,
    debian: Mutex<Option<Arc<Indices>>>,
}

/// Debian's indices as a run loaded them: each source with its index, or
/// why it could not be had.
type Indices = Vec<(AptSource, Result<Index, String>)>;

/// The outcome of trying one candidate: the content is in the cache, or
/// why not.
type Tried = Result<Measured, Failure>;

impl<'a> Realiser<'a> {
    /// A run over `cache` with `settings`.
    pub fn new(
        cache: &'a Cache,
        settings: &'a Settings,
        progress: &'a dyn Progress,
    ) -> Result<Realiser<'a>, String> {
        Ok(Realiser {
            cache,
            settings,
            client: HttpClient::new(&settings.http, Deadline::none())?,
            progress,
            unreachable: Mutex::new(HashMap::new()),
            debian: Mutex::new(None),
        })
    }

    /// Realises every request with `jobs` threads; the outcomes in the
    /// order of the requests.
    pub fn realise_all(&self, requests: &[Request], jobs: usize) -> Vec<Outcome> {
        let next = std::sync::atomic::AtomicUsize::new(0);
        let results: Mutex<Vec<Option<Outcome>>> = Mutex::new(vec![None; requests.len()]);
        std::thread::scope(|s| {
            for _ in 0..jobs.clamp(1, requests.len().max(1)) {
                s.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(req) = requests.get(i) else { break };
                        let o = self.realise(req);
                        if let Ok(mut r) = results.lock() {
                            r[i] = Some(o);
                        }
                    }
                });
            }
        });
        results
            .into_inner()
            .unwrap_or_default()
            .into_iter()
            .flatten()
            .collect()
    }

    /// Realises one request.
    pub fn realise(&self, req: &Request) -> Outcome {
        self.progress.started(req.name());
        let mut out = Outcome {
            store_path: req.store_path.clone(),
            name: req.name().to_owned(),
            hash: show_fixed(&req.fixed),
            status: Status::Failed,
            source: None,
            location: None,
            measured: None,
            downloaded: 0,
            verified: false,
            narinfo: None,
            attempts: Vec::new(),
        };
        let mut seen = Vec::new();
        self.run_sources(req, &mut out, &mut seen);
        // The narinfos seen on the way are kept with the item, whichever
        // source gave its bytes: a report judges them later, offline.
        if out.status == Status::Fetched && !seen.is_empty() {
            let _ = self.cache.add_narinfos(req.base_name(), &seen);
        }
        self.progress.finished(&out);
        out
    }

    fn run_sources(&self, req: &Request, out: &mut Outcome, seen: &mut Vec<SeenNarinfo>) {
        let base = req.base_name();
        if let Some(record) = self.cache.lookup(base) {
            if record.hash == out.hash {
                out.status = Status::Cached;
                out.source = Some(SourceKind::Cache);
                out.location = Some(self.cache.item_path(base).display().to_string());
                out.measured = Some(record.measured);
                out.verified = true;
                return;
            }
        }
        for store in &self.settings.stores {
            let path = match &store.store_dir {
                None => store.dir.join(base),
                Some(sd) => match sd.make_fixed_output_path(
                    req.name(),
                    req.fixed.recursive,
                    &req.fixed.hash,
                ) {
                    Ok(p) => PathBuf::from(sd.display(&p)),
                    Err(_) => continue,
                },
            };
            if std::fs::symlink_metadata(&path).is_err() {
                continue;
            }
            let location = path.display().to_string();
            match self.copy_in(req, &path, SourceKind::Store, &location) {
                Ok(m) => return self.success(out, SourceKind::Store, location, m),
                Err(e) => out.attempts.push(Attempt {
                    source: SourceKind::Store,
                    location,
                    error: e,
                }),
            }
        }
        if self.settings.offline {
            out.attempts.push(Attempt {
                source: SourceKind::Cache,
                location: self.cache.root().display().to_string(),
                error: "--offline: not in the cache or a store directory".into(),
            });
            return;
        }
        if self.substitutes(req, out, seen) || self.settings.narinfo_only {
            return;
        }
        for (kind, url) in self.content_addressed_urls(req, out) {
            if self.try_url(req, kind, &url, out) {
                return;
            }
        }
        if self.debian(req, out) {
            return;
        }
        if !self.settings.no_urls {
            self.own_urls(req, out);
        }
    }

    fn success(&self, out: &mut Outcome, kind: SourceKind, location: String, m: Measured) {
        out.status = Status::Fetched;
        out.source = Some(kind);
        out.location = Some(location);
        out.measured = Some(m);
        out.verified = true;
    }

    /// Copies `path` into scratch space, checks it, and keeps it.
    fn copy_in(
        &self,
        req: &Request,
        path: &Path,
        kind: SourceKind,
        location: &str,
    ) -> Result<Measured, String> {
        let scratch = self
            .cache
            .scratch(req.base_name())
            .map_err(|e| e.to_string())?;
        copy_tree(path, &scratch).map_err(|e| {
            cache::remove_any(&scratch);
            format!("cannot copy: {e}")
        })?;
        if req.executable() && scratch.is_file() {
            // A seed directory does not keep the store's modes; the
            // derivation says what they are.
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&scratch, std::fs::Permissions::from_mode(0o755));
        }
        self.keep(req, &scratch, kind, location)
    }

    /// Checks the content at `scratch` against the request's hash, and
    /// moves it into the cache, or deletes it.
    fn keep(
        &self,
        req: &Request,
        scratch: &Path,
        kind: SourceKind,
        location: &str,
    ) -> Result<Measured, String> {
        match verify::check(scratch, &req.fixed) {
            Ok(m) => {
                let record = Record {
                    store_path: req.store_path.clone(),
                    hash: show_fixed(&req.fixed),
                    measured: m,
                    source: location.to_owned(),
                    source_kind: kind.name().to_owned(),
                    verified_at: std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs()),
                    narinfos: Vec::new(),
                };
                self.cache
                    .insert(req.base_name(), scratch, &record)
                    .map_err(|e| e.to_string())?;
                Ok(m)
            }
            Err(e) => {
                cache::remove_any(scratch);
                Err(e.to_string())
            }
        }
    }

    /// Skips hosts found unreachable earlier in the run.
    fn skip_host(&self, url: &str) -> Option<String> {
        let host = host_of(url);
        self.unreachable
            .lock()
            .ok()
            .and_then(|m| m.get(host).cloned())
            .map(|why| format!("skipped: {host} could not be reached earlier in this run ({why})"))
    }

    fn note_failure(&self, url: &str, e: &Failure) {
        if e.is_unreachable() {
            if let Ok(mut m) = self.unreachable.lock() {
                m.entry(host_of(url).to_owned())
                    .or_insert_with(|| e.message().to_owned());
            }
        }
    }

    /// Tries the substitute servers; true when the content (or, with
    /// `narinfo_only`, a narinfo) was found.
    fn substitutes(&self, req: &Request, out: &mut Outcome, seen: &mut Vec<SeenNarinfo>) -> bool {
        let sub = Substituter {
            client: &self.client,
            keys: &self.settings.keys,
            allow_untrusted: self.settings.allow_untrusted,
        };
        for server in &self.settings.substitute_urls {
            let mut attempt = |error: String| {
                out.attempts.push(Attempt {
                    source: SourceKind::Substitute,
                    location: server.clone(),
                    error,
                })
            };
            if let Some(why) = self.skip_host(server) {
                attempt(why);
                continue;
            }
            let found = match sub.narinfo(server, &req.store_path) {
                Ok(Lookup::Found(f)) => f,
                Ok(Lookup::Missing) => {
                    attempt("no narinfo for this item (HTTP 404)".into());
                    continue;
                }
                Err(e) => {
                    self.note_failure(server, &e);
                    attempt(e.into_message());
                    continue;
                }
            };
            let hash_part = req.base_name().split('-').next().unwrap_or("");
            seen.push(SeenNarinfo {
                server: server.clone(),
                text: found.text.clone(),
            });
            let i = 0;
            out.narinfo = Some(NarinfoSizes {
                server: server.clone(),
                nar_size: found.info.nar_size,
                file_size: found.info.file_sizes.get(i).copied(),
                signer: found.signer.clone().ok(),
            });
            if req.fixed.recursive
                && req.fixed.hash.algo() == HashAlgo::Sha256
                && found.info.nar_hash != req.fixed.hash
            {
                out.narinfo = None;
                attempt(format!(
                    "refused: the narinfo's NarHash is {}, the derivation's hash is r:{}",
                    found.info.nar_hash, req.fixed.hash
                ));
                continue;
            }
            // Found means trusted, or allowed untrusted: either way cached.
            let _ = self.cache.put_narinfo(hash_part, &found.text);
            if self.settings.narinfo_only {
                out.status = Status::Narinfo;
                out.source = Some(SourceKind::Substitute);
                out.location = Some(server.clone());
                return true;
            }
            let Ok(scratch) = self.cache.scratch(req.base_name()) else {
                attempt("cannot make room in the cache".into());
                continue;
            };
            let partial = self
                .cache
                .partial_path(&format!("{server}/{}", found.info.store_path));
            let _ = self
                .cache
                .ensure(partial.parent().unwrap_or(Path::new(".")));
            let mut got = 0u64;
            let fetched = sub.fetch_nar(&found, &partial, &scratch, &mut |_| {}, &mut |n| {
                got += n;
                self.progress.bytes(n);
            });
            out.downloaded += got;
            match fetched {
                Ok(_) => match self.keep(req, &scratch, SourceKind::Substitute, server) {
                    Ok(m) => {
                        self.success(out, SourceKind::Substitute, server.clone(), m);
                        return true;
                    }
                    Err(e) => attempt(format!("refused: the NAR's content does not match: {e}")),
                },
                Err(e) => {
                    cache::remove_any(&scratch);
                    self.note_failure(server, &e);
                    attempt(e.into_message());
                }
            }
        }
        false
    }

    /// The content-addressed URLs of a request, in order.
    fn content_addressed_urls(
        &self,
        req: &Request,
        out: &mut Outcome,
    ) -> Vec<(SourceKind, String)> {
        let name = req.name();
        let h = &req.fixed.hash;
        let mut urls = Vec::new();
        if !req.fixed.recursive {
            for s in &self.settings.substitute_urls {
                urls.push((SourceKind::Mirror, Substituter::file_url(s, name, h)));
            }
        }
        if let Some(text) = &req.ca_mirrors {
            match crate::download::content_addressed_urls(text, name, h) {
                Ok(list) => urls.extend(list.into_iter().map(|u| (SourceKind::Mirror, u))),
                Err(e) => out.attempts.push(Attempt {
                    source: SourceKind::Mirror,
                    location: "the derivation's content-addressed-mirrors".into(),
                    error: format!("cannot evaluate: {e}"),
                }),
            }
        }
        for m in &self.settings.mirrors {
            let template = if m.contains('{') {
                m.clone()
            } else {
                format!("{}/{{algo}}/{{hash}}", m.trim_end_matches('/'))
            };
            urls.push((
                SourceKind::Mirror,
                crate::download::fill_template(&template, name, h),
            ));
        }
        // A server may be both a substitute server and one of the
        // derivation's own mirrors: ask it once.
        let mut seen = std::collections::HashSet::new();
        urls.retain(|(_, u)| seen.insert(u.clone()));
        urls
    }

    /// Downloads `url`, checks it, keeps it; true on success. A failure is
    /// added to `out.attempts`.
    fn try_url(&self, req: &Request, kind: SourceKind, url: &str, out: &mut Outcome) -> bool {
        let mut attempt = |error: String| {
            out.attempts.push(Attempt {
                source: kind,
                location: url.to_owned(),
                error,
            })
        };
        if let Some(why) = self.skip_host(url) {
            attempt(why);
            return false;
        }
        let partial = self.cache.partial_path(url);
        if let Err(e) = self
            .cache
            .ensure(partial.parent().unwrap_or(Path::new(".")))
        {
            attempt(e.to_string());
            return false;
        }
        let mut got = 0u64;
        let r = self
            .client
            .download(url, &partial, Resume::FromExisting, &mut |_| {}, &mut |n| {
                got += n;
                self.progress.bytes(n);
            });
        out.downloaded += got;
        let r: Tried = match r {
            Err(e) => {
                self.note_failure(url, &e);
                // A transient failure keeps the bytes for a resumed try.
                if !matches!(e, Failure::Transient(_)) {
                    let _ = std::fs::remove_file(&partial);
                }
                Err(e)
            }
            Ok(_) => self.keep_download(req, kind, url, &partial),
        };
        match r {
            Ok(m) => {
                self.success(out, kind, url.to_owned(), m);
                true
            }
            Err(e) => {
                attempt(e.into_message());
                false
            }
        }
    }

    fn keep_download(&self, req: &Request, kind: SourceKind, url: &str, partial: &Path) -> Tried {
        use std::os::unix::fs::PermissionsExt;
        let scratch = self
            .cache
            .scratch(req.base_name())
            .map_err(|e| Failure::Permanent(e.to_string()))?;
        std::fs::rename(partial, &scratch).map_err(|e| Failure::Permanent(e.to_string()))?;
        // As builtin:download: `executable` makes the file executable,
        // which a recursive hash sees.
        let mode = if req.executable() { 0o755 } else { 0o644 };
        let _ = std::fs::set_permissions(&scratch, std::fs::Permissions::from_mode(mode));
        self.keep(req, &scratch, kind, url)
            .map_err(|e| Failure::Permanent(format!("refused: {e}")))
    }

    /// Looks a flat SHA-256 up in Debian's indices; true on success.
    fn debian(&self, req: &Request, out: &mut Outcome) -> bool {
        if self.settings.debian.is_empty() {
            return false;
        }
        if req.fixed.recursive || req.fixed.hash.algo() != HashAlgo::Sha256 {
            return false;
        }
        let Ok(digest) = <[u8; 32]>::try_from(req.fixed.hash.digest()) else {
            return false;
        };
        let indices = self.debian_indices();
        let mut searched = Vec::new();
        for (src, index) in indices.iter() {
            let label = format!("{} {} {}", src.uri, src.suite, src.component);
            match index {
                Err(e) => out.attempts.push(Attempt {
                    source: SourceKind::Debian,
                    location: src.index_url(),
                    error: format!("index unavailable: {e}"),
                }),
                Ok(index) => match index.get(&digest) {
                    Some(file) => {
                        let url = format!("{}/{}", src.uri.trim_end_matches('/'), file.path);
                        if self.try_url(req, SourceKind::Debian, &url, out) {
                            return true;
                        }
                    }
                    None => searched.push(format!("{label} ({} files)", index.len())),
                },
            }
        }
        if !searched.is_empty() {
            out.attempts.push(Attempt {
                source: SourceKind::Debian,
                location: "Sources indices".into(),
                error: format!("no file with this SHA-256 in {}", searched.join(", ")),
            });
        }
        false
    }

    /// Debian's indices, loaded once per run (from the cache when fresh).
    fn debian_indices(&self) -> Arc<Indices> {
        let mut slot = match self.debian.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        };
        if let Some(i) = slot.as_ref() {
            return i.clone();
        }
        let loaded: Vec<_> = self
            .settings
            .debian
            .iter()
            .map(|src| (src.clone(), self.load_index(src)))
            .collect();
        let loaded = Arc::new(loaded);
        *slot = Some(loaded.clone());
        loaded
    }

    fn load_index(&self, src: &AptSource) -> Result<Index, String> {
        let path = self.cache.debian_dir().join(src.cache_name());
        let fresh = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age < std::time::Duration::from_secs(24 * 3600));
        if fresh {
            if let Some(i) = std::fs::read_to_string(&path)
                .ok()
                .and_then(|t| Index::from_tsv(&t))
            {
                return Ok(i);
            }
        }
        let url = src.index_url();
        if let Some(why) = self.skip_host(&url) {
            return Err(why);
        }
        let xz = self.client.get_bytes(&url, 256 << 20).map_err(|e| {
            self.note_failure(&url, &e);
            format!("{url}: {}", e.message())
        })?;
        self.progress.bytes(xz.len() as u64);
        let mut text = String::new();
        use std::io::Read;
        crate::compression::Compression::Xz
            .decoder(&xz[..])
            .and_then(|d| d.take(2 << 30).read_to_string(&mut text))
            .map_err(|e| format!("{url}: cannot decompress: {e}"))?;
        let index = Index::from_entries(
            crate::debian::parse_sources(&text).map_err(|e| format!("{url}: {e}"))?,
        );
        self.cache
            .write_atomic(&path, index.to_tsv().as_bytes())
            .map_err(|e| e.to_string())?;
        Ok(index)
    }

    /// The derivation's own URLs (or git); tried last.
    fn own_urls(&self, req: &Request, out: &mut Outcome) {
        let Some(drv) = &req.derivation else {
            return;
        };
        match drv.builtin() {
            Some("download") => {
                let urls = match candidate_urls(drv, req.mirrors.as_deref(), None, &[], &mut |_| {}) {
                    Ok(u) => u,
                    Err(e) => {
                        out.attempts.push(Attempt {
                            source: SourceKind::Url,
                            location: "the derivation's `url`".into(),
                            error: e,
                        });
                        return;
                    }
                };
                for url in urls {
                    if url.starts_with("mirror://") {
                        continue;
                    }
                    if self.try_url(req, SourceKind::Url, &url, out) {
                        return;
                    }
                }
            }
            Some("git-download") => {
                let location = drv.env_str("url").unwrap_or("").trim_matches('"').to_owned();
                if let Some(why) = self.skip_host(&location) {
                    out.attempts.push(Attempt {
                        source: SourceKind::Git,
                        location,
                        error: why,
                    });
                    return;
                }
                let r = self.cache.scratch(req.base_name()).map_err(|e| e.to_string()).and_then(|scratch| {
                    let deadline = Deadline::new(None, Some(self.settings.http.timeout));
                    crate::git::run(drv, &scratch, deadline, &mut |_| {})
                        .inspect_err(|_| cache::remove_any(&scratch))
                        .and_then(|()| self.keep(req, &scratch, SourceKind::Git, &location))
                });
                match r {
                    Ok(m) => self.success(out, SourceKind::Git, location, m),
                    Err(e) => out.attempts.push(Attempt {
                        source: SourceKind::Git,
                        location,
                        error: e,
                    }),
                }
            }
            _ => out.attempts.push(Attempt {
                source: SourceKind::Url,
                location: drv.builder.clone(),
                error: format!(
                    "fetched by a builder program, not a built-in: only a store, a substitute or a content-addressed mirror can give it (file name {:?})",
                    output_name(drv)
                ),
            }),
        }
    }
}

/// Copies a file or tree (modes' execute bits and symbolic links kept) to
/// `dst`, which must not exist.
fn copy_tree(src: &Path, dst: &Path) -> std::io::Result<()> {
    let meta = std::fs::symlink_metadata(src)?;
    if meta.file_type().is_symlink() {
        std::os::unix::fs::symlink(std::fs::read_link(src)?, dst)
    } else if meta.is_dir() {
        std::fs::create_dir(dst)?;
        for e in std::fs::read_dir(src)? {
            let e = e?;
            copy_tree(&e.path(), &dst.join(e.file_name()))?;
        }
        Ok(())
    } else {
        std::fs::copy(src, dst).map(|_| ())
    }
}

#[cfg(test)]
mod tests;
