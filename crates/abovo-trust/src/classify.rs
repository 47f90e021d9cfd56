//! Putting the three layers together for one seed of a graph: find its
//! bytes and scan them (content), else look its hash up (known), else try
//! the name and URL rules (rule), else say `unknown`.
//!
//! A seed is a node of an `abovo-graph` [`Graph`]: a fixed-output
//! derivation (its output is the seed) or an input source. [`Seeds`] holds
//! what every classification needs (the knowledge base, where bytes may be
//! found, the scan limits and the size sources) and classifies nodes one by
//! one; [`SeedFacts`] is what the graph tells about a node.

use crate::content::{self, ContentReport, Limits};
use crate::kind::{Evidence, Kind};
use crate::knowledge::{KnowledgeBase, KnownSeed};
use crate::rules;
use crate::sizes::{SizeSource, Sizes};
use abovo_graph::{Graph, NodeId, NodeKind};
use abovo_store::derivation::FixedOutput;
use serde::Serialize;
use std::path::{Path, PathBuf};

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
}

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
        let store = g.store_dir();
        match g.kind(n) {
            NodeKind::Derivation => {
                let d = g.derivation(n);
                let fixed = d.as_ref().and_then(|d| d.fixed_output());
                let store_path = d
                    .as_ref()
                    .and_then(|d| d.fixed_output_path().or_else(|| d.output_path("out")))
                    .map(|p| store.display(&p))
                    .unwrap_or_else(|| g.display_path(n));
                let name = g.name(n).trim_end_matches(".drv").to_owned();
                let urls = d
                    .as_ref()
                    .and_then(|d| d.env("url"))
                    .map(rules::split_urls)
                    .unwrap_or_default();
                SeedFacts {
                    node: n,
                    origin: Origin::FixedOutput,
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

    /// The store base name of the seed (`<hash>-<name>`).
    pub fn base_name(&self) -> &str {
        self.store_path
            .rsplit('/')
            .next()
            .unwrap_or(&self.store_path)
    }
}

/// A seed's verdict.
#[derive(Debug, Clone, Serialize)]
pub struct Classification {
    /// The kind.
    pub kind: Kind,
    /// The evidence for it.
    pub evidence: Evidence,
    /// Why, in one line: the content summary, the knowledge-base
    /// description, or the rule's justification.
    pub why: String,
    /// The knowledge-base entry, when one matched (even when content won).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub known: Option<KnownSeed>,
    /// The content scan, when the bytes were found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<ContentReport>,
    /// Where the bytes were found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_at: Option<PathBuf>,
    /// The size in bytes, when known.
    pub size: Option<u64>,
    /// Where the size came from.
    pub size_source: SizeSource,
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
    /// hash, output name or fixed-output hash.
    pub seed_dirs: Vec<PathBuf>,
    /// Also look for seeds at their own store path (a real store).
    pub use_store: bool,
    /// Content scan limits.
    pub limits: Limits,
    /// Size sources besides the bytes.
    pub sizes: Sizes,
}

impl Seeds {
    /// Classification with the built-in knowledge base, no bytes and no
    /// extra size sources.
    pub fn new(knowledge: KnowledgeBase) -> Seeds {
        Seeds {
            knowledge,
            seed_dirs: Vec::new(),
            use_store: true,
            limits: Limits::default(),
            sizes: Sizes::default(),
        }
    }

    /// Where the bytes of a seed are, if anywhere.
    pub fn locate(&self, facts: &SeedFacts) -> Option<PathBuf> {
        let mut names: Vec<String> = vec![facts.base_name().to_owned()];
        if let Some((hash_part, _)) = facts.base_name().split_once('-') {
            names.push(hash_part.to_owned());
        }
        names.push(facts.name.clone());
        if let Some(f) = &facts.fixed {
            let h = f.hash;
            names.push(h.to_nix32());
            names.push(h.to_base16());
            names.push(format!("{}-{}", h.algo(), h.to_base16()));
            names.push(format!("{}:{}", h.algo(), h.to_nix32()));
        }
        for dir in &self.seed_dirs {
            for n in &names {
                if n.is_empty() || n.contains('/') {
                    continue;
                }
                let p = dir.join(n);
                if std::fs::symlink_metadata(&p).is_ok() {
                    return Some(p);
                }
            }
        }
        if self.use_store {
            let p = Path::new(&facts.store_path);
            if std::fs::symlink_metadata(p).is_ok() {
                return Some(p.to_owned());
            }
        }
        None
    }

    /// Classifies one seed of `g`.
    pub fn classify(&self, g: &Graph, facts: &SeedFacts) -> Classification {
        let known = match (&facts.fixed, facts.origin) {
            (Some(f), _) => self.knowledge.lookup_fixed(f).cloned(),
            (None, Origin::InputSource) => g
                .meta()
                .nar_hash(facts.node)
                .and_then(|h| self.knowledge.lookup_nar(&h))
                .cloned(),
            _ => None,
        };
        let bytes_at = self.locate(facts);
        let content = bytes_at
            .as_deref()
            .and_then(|p| content::scan_path(p, &self.limits).ok());
        let (size, size_source) = self.sizes.size_of(
            g,
            facts,
            content.as_ref(),
            bytes_at.as_deref(),
            known.as_ref(),
        );
        let (kind, evidence, why) = if let Some(c) = &content {
            (c.kind, Evidence::Content, c.summary.clone())
        } else if let Some(k) = &known {
            (
                k.kind,
                Evidence::Known {
                    source: k.source.clone(),
                },
                k.description.clone(),
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
                    "the derivation was not loaded: nothing is known of it".to_owned(),
                ),
                (_, Some(rule)) => (
                    rule.kind,
                    Evidence::Rule {
                        id: rule.id.to_owned(),
                    },
                    rule.justification.to_owned(),
                ),
                (_, None) => (
                    Kind::Unknown,
                    Evidence::None,
                    "no bytes, no knowledge-base entry and no rule".to_owned(),
                ),
            }
        };
        Classification {
            kind,
            evidence,
            why,
            known,
            content,
            bytes_at,
            size,
            size_source,
        }
    }
}
