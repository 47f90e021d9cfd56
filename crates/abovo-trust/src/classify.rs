//! Putting the three layers together for one seed of a graph: find its
//! bytes, prove they are the seed ([`bytes`]) and scan them (content), else
//! look its hash up (known), else try the name and URL rules (rule), else
//! say `unknown`.
//!
//! A seed is a node of an `abovo-graph` [`Graph`]: a fixed-output
//! derivation (its output is the seed) or an input source. [`Seeds`] holds
//! what every classification needs (the knowledge base, where bytes may be
//! found, the scan limits and the size sources) and classifies nodes one by
//! one; [`SeedFacts`] is what the graph tells about a node.

use crate::bytes::{self, Expected, Located, NarHashRecord, RejectedFile, Verified};
use crate::content::{self, ContentReport, Limits};
use crate::kind::{Evidence, Kind};
use crate::knowledge::{KnowledgeBase, KnownSeed};
use crate::rules;
use crate::sizes::{DbRow, Known, SizeError, SizeSource, Sizes};
use abovo_graph::{Graph, NodeId, NodeKind};
use abovo_store::StorePath;
use abovo_store::derivation::FixedOutput;
use serde::Serialize;
use std::borrow::Cow;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// Where a seed comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// The output of a fixed-output derivation.
    FixedOutput,
    /// An input source (a file or tree added to the store).
    InputSource,
    /// A `.drv` named as input but not loaded: nothing is known of it.
    Missing,
    /// An impure derivation (Nix's `__impure`): like a fixed-output one it
    /// may fetch what it likes, but no hash pins what it gets.
    Impure,
}

/// Why an impure derivation is a seed of unknown kind.
const IMPURE_WHY: &str = "an impure derivation (Nix's `__impure`): its output is whatever its build \
     fetched, pinned by no hash, so abovo does not support it in a trust base: what it rests on \
     is known only after it is built";

/// What the graph says about a seed.
#[derive(Debug, Clone, Serialize)]
pub struct SeedFacts {
    /// The node.
    #[serde(skip)]
    pub node: NodeId,
    /// Where it comes from.
    pub origin: Origin,
    /// Its store name (`hello-2.12.2.tar.gz`).
    pub name: String,
    /// The store path of the seed itself (the output path of a fixed-output
    /// derivation, the path of an input source).
    pub store_path: String,
    /// The fixed-output derivation, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub derivation: Option<String>,
    /// Its pinned hash.
    #[serde(skip)]
    pub fixed: Option<FixedOutput>,
    /// The pinned hash as Guix shows it (`r:sha256:<nix32>`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    /// The URLs it is fetched from.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    /// The fetcher: `builtin:download`, `builtin:git-download` or a program.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub builder: Option<String>,
}

impl SeedFacts {
    /// Reads the facts of node `n`.
    pub fn of(g: &Graph, n: NodeId) -> SeedFacts {
        match g.kind(n) {
            NodeKind::Derivation => {
                let d = g.derivation(n);
                let fixed = d.as_ref().and_then(|d| d.fixed_output());
                let impure = d.as_ref().is_some_and(|d| d.is_impure());
                let store_path = seed_path(g, n, d.as_ref());
                let name = g.name(n).trim_end_matches(".drv").to_owned();
                let urls = d
                    .as_ref()
                    .and_then(|d| d.env("url"))
                    .map(rules::split_urls)
                    .unwrap_or_default();
                SeedFacts {
                    node: n,
                    origin: if impure {
                        Origin::Impure
                    } else {
                        Origin::FixedOutput
                    },
                    name,
                    store_path,
                    derivation: Some(g.display_path(n)),
                    hash: fixed
                        .map(|f| format!("{}{}", if f.recursive { "r:" } else { "" }, f.hash)),
                    fixed,
                    urls,
                    builder: d.map(|d| d.builder().to_owned()),
                }
            }
            kind => SeedFacts {
                node: n,
                origin: if kind == NodeKind::Missing {
                    Origin::Missing
                } else {
                    Origin::InputSource
                },
                name: g.name(n).to_owned(),
                store_path: g.display_path(n),
                derivation: None,
                fixed: None,
                hash: None,
                urls: Vec::new(),
                builder: None,
            },
        }
    }

    /// The store path of seed `n` ([`SeedFacts::store_path`]) alone.
    pub fn store_path_of(g: &Graph, n: NodeId) -> String {
        match g.kind(n) {
            NodeKind::Derivation => seed_path(g, n, g.derivation(n).as_ref()),
            _ => g.display_path(n),
        }
    }

    /// The hash part of seed `n`'s store path (that of
    /// [`SeedFacts::store_path_of`]), without making the path: what tells
    /// two seeds apart (a store path's hash covers its name), for an audit
    /// that counts tens of thousands of seeds by store item.
    pub fn store_hash_of(g: &Graph, n: NodeId) -> [u8; 32] {
        let own = || g.hash_part(n).as_bytes().try_into().unwrap_or([0; 32]);
        match g.kind(n) {
            // The hash part alone: making each seed's path to compare them
            // was a tenth of a large report's time.
            NodeKind::Derivation => {
                recorded_seed_hash_part(g.derivation(n).as_ref()).unwrap_or_else(own)
            }
            _ => own(),
        }
    }

    /// The store base name of the seed (`<hash>-<name>`).
    pub fn base_name(&self) -> &str {
        self.store_path
            .rsplit('/')
            .next()
            .unwrap_or(&self.store_path)
    }

    /// The hash part of its store path (before the first `-` of the base
    /// name).
    pub fn hash_part(&self) -> Option<&str> {
        self.base_name().split_once('-').map(|(h, _)| h)
    }
}

/// The store path of the seed that derivation `n` (`d`) stands for: its
/// fixed output, else its `out`, else (nothing recorded) its own path.
fn seed_path(g: &Graph, n: NodeId, d: Option<&abovo_graph::DerivationNode<'_>>) -> String {
    recorded_seed_path(d)
        .map(|p| g.store_dir().display(&p))
        .unwrap_or_else(|| g.display_path(n))
}

/// The path derivation `d` records for the seed it stands for: its fixed
/// output, else its `out` (as [`recorded_seed_hash_part`] reads it).
fn recorded_seed_path(d: Option<&abovo_graph::DerivationNode<'_>>) -> Option<StorePath> {
    d.and_then(|d| d.fixed_output_path().or_else(|| d.output_path("out")))
}

/// The hash part of [`recorded_seed_path`], read alone: the two must
/// choose alike.
fn recorded_seed_hash_part(d: Option<&abovo_graph::DerivationNode<'_>>) -> Option<[u8; 32]> {
    d.and_then(|d| {
        d.fixed_output_hash_part()
            .or_else(|| d.output_hash_part("out"))
    })
}

/// A seed's verdict.
#[derive(Debug, Clone, Serialize)]
pub struct Classification {
    /// The kind.
    pub kind: Kind,
    /// The evidence for it.
    pub evidence: Evidence,
    /// Why, in one line: the content summary, the knowledge-base
    /// description, or the rule's justification (borrowed when it is a
    /// rule's: thousands of seeds share a few).
    pub why: Cow<'static, str>,
    /// The knowledge-base entry, when one matched (even when content won).
    /// Boxed, as is the scan: most seeds have neither, and a report of
    /// thousands of seeds should not carry their room.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub known: Option<Box<KnownSeed>>,
    /// The content scan, when the bytes were found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<Box<ContentReport>>,
    /// Where the bytes were found (only bytes proven to be the seed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_at: Option<PathBuf>,
    /// How the bytes were proven to be the seed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_verified: Option<Verified>,
    /// Why the bytes found could not be scanned at all (the scan's own
    /// trouble inside an archive is in `content.issues`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scan_error: Option<String>,
    /// Files found under the seed's name that are not the seed: ignored.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rejected_files: Vec<RejectedFile>,
    /// The size in bytes, when known (a recursive output's unpacked size).
    pub size: Option<u64>,
    /// The NAR size of bytes found, when computed (recursive outputs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nar_size: Option<u64>,
    /// Where the size came from.
    pub size_source: SizeSource,
    /// Who signed its bytes, per server ([`crate::signatures`]): the
    /// narinfos kept by `abovo fetch`, and those asked for by the caller.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub signatures: Vec<crate::signatures::Signature>,
}

impl Classification {
    /// The name to show for a seed: the knowledge base's label when it has
    /// one (it tells apart seeds with the same file name, such as the
    /// i686 and x86_64 bootstrap Guile tarballs), else the store name.
    pub fn display_name<'a>(&'a self, facts: &'a SeedFacts) -> &'a str {
        self.known
            .as_ref()
            .map_or(facts.name.as_str(), |k| k.name.as_str())
    }
}

/// Everything classification needs.
pub struct Seeds {
    /// The knowledge base.
    pub knowledge: KnowledgeBase,
    /// Directories holding fetched seeds, named by store base name, store
    /// hash, fixed-output hash or file name (see [`bytes::candidates`]).
    pub seed_dirs: Vec<PathBuf>,
    /// Also look for seeds at their own store path (a real store).
    pub use_store: bool,
    /// abovo's fetch cache, looked in first (see [`bytes::from_cache`]).
    pub cache: Option<abovo_fetch::cache::Cache>,
    /// Content scan limits.
    pub limits: Limits,
    /// Size sources besides the bytes.
    pub sizes: Sizes,
    /// The keys whose signatures count ([`crate::signatures`]).
    pub keys: abovo_fetch::keys::AuthorizedKeys,
    /// What the file system holds, read once for all the seeds of a
    /// classification ([`Present`]).
    present: Present,
}

/// What the file system holds, asked once for a batch of seeds rather
/// than once per seed ([`Seeds::batch`]): an audit classifies tens of
/// thousands of seeds, nearly none of which are in the fetch cache or in a
/// store, and a failed `open` or `stat` per seed and place cost more than
/// all the rest of the audit. Outside a batch every seed asks on its own,
/// so that a long-lived `Seeds` (the explorer's) sees what is fetched
/// meanwhile.
#[derive(Default)]
struct Present {
    /// The answers of the batch under way.
    batch: std::sync::RwLock<Option<Arc<Listings>>>,
}

/// The answers of one batch, each taken when first needed.
#[derive(Default)]
struct Listings {
    /// The fetch cache, as a batch ([`abovo_fetch::cache::Cache::batch`]).
    cache: OnceLock<Option<abovo_fetch::cache::Cache>>,
    /// A store directory and whether it exists.
    store: OnceLock<(String, bool)>,
    /// Per narinfo directory of the size sources, the hash parts it has a
    /// narinfo for (`None`: it cannot be listed).
    narinfos: OnceLock<Vec<Option<HashSet<String>>>>,
}

impl Seeds {
    /// Classification with the built-in knowledge base, no bytes and no
    /// extra size sources.
    pub fn new(knowledge: KnowledgeBase) -> Seeds {
        Seeds {
            knowledge,
            seed_dirs: Vec::new(),
            use_store: true,
            cache: None,
            limits: Limits::default(),
            sizes: Sizes::default(),
            keys: abovo_fetch::keys::AuthorizedKeys::default(),
            present: Present::default(),
        }
    }

    /// Runs `f`, a classification of many seeds, with the fetch cache's
    /// records listed once and the store directory's existence asked once
    /// (`Present`); a file that appears meanwhile may be missed, as it
    /// would be a moment earlier.
    pub fn batch<R>(&self, f: impl FnOnce() -> R) -> R {
        let set = |l: Option<Arc<Listings>>| match self.present.batch.write() {
            Ok(mut b) => *b = l,
            Err(poisoned) => *poisoned.into_inner() = l,
        };
        set(Some(Arc::default()));
        let r = f();
        set(None);
        r
    }

    /// The answers of the batch under way, if any.
    fn listings(&self) -> Option<Arc<Listings>> {
        self.present.batch.read().ok()?.clone()
    }

    /// The fetch cache's record of `base_name`, when it holds one.
    pub(crate) fn cache_record(&self, base_name: &str) -> Option<abovo_fetch::cache::Record> {
        match self.listings() {
            Some(l) => self.batch_cache(&l)?.lookup(base_name),
            None => self.cache.as_ref()?.lookup(base_name),
        }
    }

    /// The fetch cache as the batch `l` reads it.
    fn batch_cache<'l>(&self, l: &'l Listings) -> Option<&'l abovo_fetch::cache::Cache> {
        l.cache
            .get_or_init(|| self.cache.as_ref().map(abovo_fetch::cache::Cache::batch))
            .as_ref()
    }

    /// The kind [`Seeds::classify`] gives seed `n` of `g` when nothing
    /// but the graph, the knowledge base and the rules can speak of it,
    /// found without its facts; `None` when something else may: its bytes
    /// (in the fetch cache, a seed directory or a store), a store database
    /// row, a narinfo (which may also be refused, failing the
    /// classification), or when it is a missing or impure derivation.
    ///
    /// Only in a batch ([`Seeds::batch`]), where what the file system holds
    /// is listed once: an audit classifies tens of thousands of seeds,
    /// nearly all of which only the rules speak of, and asks this first.
    pub(crate) fn plain_kind(&self, g: &Graph, n: NodeId) -> Option<Kind> {
        let l = self.listings()?;
        if !self.seed_dirs.is_empty() || self.sizes.has_db() || self.look_in_store(g) {
            return None;
        }
        // The store path is made only when a listing is asked for it.
        let store_path = std::cell::OnceCell::new();
        let base_name = || -> &str {
            let p = store_path.get_or_init(|| SeedFacts::store_path_of(g, n));
            p.rsplit('/').next().unwrap_or(p)
        };
        let narinfo_dirs = self.sizes.narinfo_dirs();
        let hash_part = match narinfo_dirs.is_empty() {
            true => "",
            false => base_name().split_once('-').map_or("", |(h, _)| h),
        };
        if !hash_part.is_empty() {
            let listed = l.narinfos.get_or_init(|| {
                narinfo_dirs
                    .iter()
                    .map(|d| abovo_fetch::cache::names_ending_in(d, ".narinfo"))
                    .collect()
            });
            if listed
                .iter()
                .any(|names| names.as_ref().is_none_or(|names| names.contains(hash_part)))
            {
                return None;
            }
        }
        let (name, d) = match g.kind(n) {
            NodeKind::Source => (g.name(n), None),
            NodeKind::Missing => return None,
            NodeKind::Derivation => {
                let d = g.derivation(n)?;
                if d.is_impure() {
                    return None;
                }
                let fixed = d.fixed_output()?;
                if self
                    .batch_cache(&l)
                    .is_some_and(|cache| cache.may_hold(base_name()))
                {
                    return None;
                }
                if let Some(k) = self.knowledge.lookup_fixed(&fixed) {
                    return Some(k.kind);
                }
                (g.name(n).trim_end_matches(".drv"), Some(d))
            }
        };
        if d.is_none() {
            let known = g
                .meta()
                .nar_hash(n)
                .and_then(|h| self.knowledge.lookup_nar(&h));
            if let Some(k) = known {
                return Some(k.kind);
            }
        }
        let urls = d
            .as_ref()
            .and_then(|d| d.env("url"))
            .map(rules::split_urls)
            .unwrap_or_default();
        let rf = rules::Facts {
            name,
            urls: &urls,
            builder: d.as_ref().map(|d| d.builder()),
            input_source: d.is_none(),
        };
        Some(rules::apply(&rf).map_or(Kind::Unknown, |r| r.kind))
    }

    /// Whether to look for seeds at their own store paths in `g`'s store:
    /// asked for, and (in a batch) the store directory exists.
    fn look_in_store(&self, g: &Graph) -> bool {
        if !self.use_store {
            return false;
        }
        let Some(l) = self.listings() else {
            return true;
        };
        let dir = g.store_dir().as_str();
        let exists = |dir: &str| Path::new(dir).is_dir();
        let (known, there) = l.store.get_or_init(|| (dir.to_owned(), exists(dir)));
        if known == dir { *there } else { exists(dir) }
    }

    /// What the bytes of a seed must hash to: its fixed-output hash, else
    /// the NAR hash the store metadata or the store database records, else
    /// its store path must follow from them. `None` for a seed that has
    /// no bytes to look for (a missing or impure derivation).
    pub fn expected(g: &Graph, facts: &SeedFacts, db: Option<DbRow>) -> Option<Expected> {
        match (facts.origin, &facts.fixed) {
            (Origin::Missing | Origin::Impure, _) => None,
            (_, Some(f)) => Some(Expected::Fixed(*f)),
            (Origin::FixedOutput, None) => None,
            (Origin::InputSource, None) => {
                if let Some(hash) = g.meta().nar_hash(facts.node) {
                    return Some(Expected::NarHash {
                        hash,
                        record: NarHashRecord::StoreMeta,
                    });
                }
                if let Some(hash) = db.and_then(|r| r.nar_hash) {
                    return Some(Expected::NarHash {
                        hash,
                        record: NarHashRecord::StoreDb,
                    });
                }
                let path = g.store_dir().parse(&facts.store_path).ok()?;
                Some(Expected::StorePath {
                    store: g.store_dir().clone(),
                    path,
                })
            }
        }
    }

    /// Where the bytes of a seed are, if anywhere: the first candidate
    /// that hashes as the seed must, and the candidates that do not.
    pub fn locate(&self, g: &Graph, facts: &SeedFacts, db: Option<DbRow>) -> Located {
        let cached = self
            .cache
            .as_ref()
            .filter(|_| facts.fixed.is_some())
            .and_then(|c| Some((c, self.cache_record(facts.base_name())?)));
        if let Some(found) = cached.and_then(|(c, record)| bytes::from_cache(facts, c, &record)) {
            return Located {
                found: Some(found),
                rejected: Vec::new(),
            };
        }
        match Seeds::expected(g, facts, db) {
            Some(e) => bytes::locate(facts, &e, &self.seed_dirs, self.look_in_store(g)),
            None => Located::default(),
        }
    }

    /// Scans the bytes of a seed at `path`. An item of the fetch cache
    /// never changes, so its verdict is kept and read back
    /// ([`content::remembered`]); other places are scanned every time.
    fn scan(&self, facts: &SeedFacts, path: &Path) -> Result<ContentReport, content::ContentError> {
        match &self.cache {
            Some(cache) if path == cache.item_path(facts.base_name()) => {
                content::remembered::scan_cached_item(cache, facts.base_name(), path, &self.limits)
            }
            _ => content::scan_path(path, &self.limits),
        }
    }

    /// Classifies one seed of `g`. Fails only on a size source that is
    /// refused (a narinfo that does not parse or contradicts the seed, a
    /// store database row that does not parse).
    pub fn classify(&self, g: &Graph, facts: &SeedFacts) -> Result<Classification, SizeError> {
        let db = self.sizes.db_row(&facts.store_path)?;
        let known = match (&facts.fixed, facts.origin) {
            (Some(f), _) => self.knowledge.lookup_fixed(f).cloned(),
            (None, Origin::InputSource) => g
                .meta()
                .nar_hash(facts.node)
                .or(db.and_then(|r| r.nar_hash))
                .and_then(|h| self.knowledge.lookup_nar(&h))
                .cloned(),
            _ => None,
        };
        let located = self.locate(g, facts, db);
        let (content, scan_error) = match &located.found {
            Some(f) => match self.scan(facts, &f.path) {
                Ok(c) => (Some(c), None),
                Err(e) => (None, Some(e.to_string())),
            },
            None => (None, None),
        };
        let (size, size_source) = self.sizes.size_of(
            g,
            facts,
            &Known {
                found: located.found.as_ref(),
                content: content.as_ref(),
                known: known.as_ref(),
                db,
            },
        )?;
        let (kind, evidence, why) = if let Some(c) = &content {
            (c.kind, Evidence::Content, Cow::Owned(c.summary.clone()))
        } else if let Some(k) = &known {
            (
                k.kind,
                Evidence::Known {
                    source: k.source.clone(),
                },
                Cow::Owned(k.description.clone()),
            )
        } else {
            let rf = rules::Facts {
                name: &facts.name,
                urls: &facts.urls,
                builder: facts.builder.as_deref(),
                input_source: facts.origin == Origin::InputSource,
            };
            match (facts.origin, rules::apply(&rf)) {
                (Origin::Missing, _) => (
                    Kind::Unknown,
                    Evidence::None,
                    Cow::Borrowed("the derivation was not loaded: nothing is known of it"),
                ),
                (Origin::Impure, _) => (Kind::Unknown, Evidence::None, Cow::Borrowed(IMPURE_WHY)),
                (_, Some(rule)) => (
                    rule.kind,
                    Evidence::Rule {
                        id: rule.id.to_owned(),
                    },
                    Cow::Borrowed(rule.justification),
                ),
                (_, None) => (
                    Kind::Unknown,
                    Evidence::None,
                    Cow::Borrowed("no bytes, no knowledge-base entry and no rule"),
                ),
            }
        };
        let bytes_verified = located.found.as_ref().map(|f| f.verified);
        let nar_size = located.found.as_ref().and_then(|f| f.nar).map(|n| n.size);
        let mut class = Classification {
            kind,
            evidence,
            why,
            known: known.map(Box::new),
            content: content.map(Box::new),
            bytes_at: located.found.map(|f| f.path),
            bytes_verified,
            scan_error,
            rejected_files: located.rejected,
            size,
            nar_size,
            size_source,
            signatures: Vec::new(),
        };
        class.signatures = self.kept_signatures(g, facts, &class);
        Ok(class)
    }
}
