//! What a derivation runs: its builder, arguments and environment, and the
//! store items it reads — builder scripts, patches, module trees, the
//! builder itself, the fixed outputs of its inputs — with what they hold
//! when their bytes are at hand ([`crate::items`]).
//!
//! A [`Recipe`] comes from the `.drv` text ([`Recipe::from_derivation`]),
//! or, when only the graph is at hand (abovo's built-in snapshot keeps
//! neither arguments nor the environment of derivations that are not
//! fixed-output), from the graph ([`Recipe::from_graph`]), saying what is
//! unknown. [`Recipe::read_items`] then reads every item it uses from the
//! [`Places`] in one pass per place.

use crate::items::{ItemError, ItemSummary, Places, SummaryOptions, Wanted, summarise};
use abovo_graph::{Graph, NodeId, NodeKind};
use abovo_store::derivation::{Derivation, DerivationKind};
use abovo_store::{StoreDir, StorePath};
use serde::Serialize;

/// One output of the derivation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecipeOutput {
    /// Its name (`out`, `lib`).
    pub name: String,
    /// Its store path, when recorded.
    pub path: Option<String>,
    /// For a fixed output, its hash as the `.drv` writes it
    /// (`r:sha256:<base16>`).
    pub fixed: Option<String>,
    /// For an output whose path is known only after a build, Nix's kind
    /// of it: `deferred`, `floating` (content-addressed) or `impure`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after_build: Option<&'static str>,
}

/// The `after_build` of a derivation of `kind`.
fn after_build(kind: DerivationKind) -> Option<&'static str> {
    match kind {
        DerivationKind::Deferred => Some("deferred"),
        DerivationKind::Floating => Some("floating"),
        DerivationKind::Impure => Some("impure"),
        DerivationKind::InputAddressed | DerivationKind::Fixed => None,
    }
}

/// An input derivation and the outputs used from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InputDerivation {
    /// Its `.drv` path.
    pub path: String,
    /// The output names used (`out`, `lib`).
    pub outputs: Vec<String>,
}

/// Why the derivation uses an item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "role", rename_all = "kebab-case")]
pub enum Role {
    /// An input source: a builder script, a patch, a module tree.
    InputSource,
    /// The builder itself, a store item of its own (a bootstrap
    /// executable).
    Builder,
    /// The output of an input derivation that is fixed-output (a
    /// downloaded tarball, a checkout).
    FixedOutput {
        /// That derivation.
        derivation: String,
    },
}

/// An item the derivation reads, and what it holds when at hand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsedItem {
    /// Its store path.
    pub path: String,
    /// Why it is used.
    #[serde(flatten)]
    pub role: Role,
    /// What it holds; `None` when no place holds it.
    pub summary: Option<ItemSummary>,
    /// The item, for the lookup.
    #[serde(skip)]
    wanted: Wanted,
}

/// How a derivation is built.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recipe {
    /// The `.drv` path.
    pub derivation: String,
    /// The derivation name (`guile-bootstrap-2.0`).
    pub name: String,
    /// Where the `.drv` text was read; `None` when only the graph was at
    /// hand.
    pub read_from: Option<String>,
    /// The system it is built for.
    pub system: String,
    /// The builder: a store path or `builtin:…`.
    pub builder: String,
    /// The builder's arguments; `None` when unknown (graph only).
    #[serde(skip)]
    pub arguments: Option<Vec<Vec<u8>>>,
    /// The environment, sorted by name; `None` when unknown (graph only,
    /// not fixed-output).
    #[serde(skip)]
    pub environment: Option<Vec<(Vec<u8>, Vec<u8>)>>,
    /// The outputs, by name.
    pub outputs: Vec<RecipeOutput>,
    /// Input derivations and the outputs used from each.
    pub input_derivations: Vec<InputDerivation>,
    /// Input sources.
    pub input_sources: Vec<String>,
    /// The items it reads (input sources, the builder when it is an item
    /// of its own, fixed outputs of inputs), with what they hold.
    pub items: Vec<UsedItem>,
}

impl Recipe {
    /// The recipe in the `.drv` text `drv` (at `drv_path`, read from
    /// `read_from`). With `graph`, the fixed outputs of its inputs are
    /// among the items it reads.
    pub fn from_derivation(
        drv: &Derivation,
        drv_path: &StorePath,
        store: &StoreDir,
        read_from: String,
        graph: Option<&Graph>,
    ) -> Recipe {
        let show = |p: &StorePath| store.display(p);
        let mut recipe = Recipe {
            derivation: show(drv_path),
            name: drv_path
                .derivation_name()
                .unwrap_or(drv_path.name())
                .to_owned(),
            read_from: Some(read_from),
            system: drv.system.clone(),
            builder: drv.builder.clone(),
            arguments: Some(drv.arguments.clone()),
            environment: Some(
                drv.environment
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ),
            outputs: drv
                .outputs
                .iter()
                .map(|(name, o)| RecipeOutput {
                    name: name.clone(),
                    path: o.path.as_ref().map(show),
                    fixed: drv
                        .is_fixed_output()
                        .then(|| format!("{}:{}", o.hash_algo, o.hash)),
                    after_build: drv.kind().ok().and_then(after_build),
                })
                .collect(),
            input_derivations: drv
                .input_derivations
                .iter()
                .map(|(p, outs)| InputDerivation {
                    path: show(p),
                    outputs: outs.iter().cloned().collect(),
                })
                .collect(),
            input_sources: drv.input_sources.iter().map(show).collect(),
            items: Vec::new(),
        };
        let sources: Vec<StorePath> = drv.input_sources.iter().cloned().collect();
        let fixed: Vec<(StorePath, Wanted)> = match graph {
            Some(g) => drv
                .input_derivations
                .keys()
                .filter_map(|p| g.lookup(p))
                .filter_map(|n| fixed_output_of(g, n))
                .collect(),
            None => Vec::new(),
        };
        recipe.items = used_items(store, &drv.builder, &sources, fixed);
        recipe
    }

    /// What the graph knows of derivation `node`: everything but the
    /// arguments and (unless it is fixed-output) the environment.
    pub fn from_graph(graph: &Graph, node: NodeId) -> Option<Recipe> {
        let d = graph.derivation(node)?;
        let store = graph.store_dir();
        let show = |p: &StorePath| store.display(p);
        let mut input_derivations = Vec::new();
        let mut sources = Vec::new();
        let mut fixed = Vec::new();
        for e in d.input_edges() {
            let n = e.to;
            match graph.kind(n) {
                NodeKind::Source => sources.push(graph.path(n)),
                _ => {
                    input_derivations.push(InputDerivation {
                        path: graph.display_path(n),
                        outputs: e.outputs().map(str::to_owned).collect(),
                    });
                    fixed.extend(fixed_output_of(graph, n));
                }
            }
        }
        let environment = d.fixed_output().map(|_| {
            d.env_vars()
                .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
                .collect()
        });
        let builder = d.builder().to_owned();
        Some(Recipe {
            derivation: graph.display_path(node),
            name: d.name().to_owned(),
            read_from: None,
            system: d.system().to_owned(),
            builder: builder.clone(),
            arguments: None,
            environment,
            outputs: d
                .outputs()
                .map(|o| RecipeOutput {
                    name: o.name.to_owned(),
                    path: o.path.as_ref().map(show),
                    fixed: d.fixed_output().filter(|_| o.name == "out").map(|f| {
                        format!(
                            "{}{}:{}",
                            if f.recursive { "r:" } else { "" },
                            f.hash.algo(),
                            f.hash.to_base16()
                        )
                    }),
                    after_build: after_build(d.kind()),
                })
                .collect(),
            input_derivations,
            input_sources: sources.iter().map(show).collect(),
            items: used_items(store, &builder, &sources, fixed),
        })
    }

    /// Reads each item from the first place that holds it.
    pub fn read_items(
        &mut self,
        places: &Places,
        options: &SummaryOptions,
    ) -> Result<(), ItemError> {
        let wanted: Vec<Wanted> = self.items.iter().map(|i| i.wanted.clone()).collect();
        let summaries = summarise(places, &wanted, options)?;
        for (item, summary) in self.items.iter_mut().zip(summaries) {
            item.summary = summary;
        }
        Ok(())
    }
}

/// The output of derivation `n` and what finds it, when `n` is
/// fixed-output.
fn fixed_output_of(g: &Graph, n: NodeId) -> Option<(StorePath, Wanted)> {
    let d = g.derivation(n)?;
    let fixed = d.fixed_output()?;
    let path = d.fixed_output_path()?;
    Some((
        g.path(n),
        Wanted {
            path,
            fixed: Some(fixed),
        },
    ))
}

/// The items a derivation reads: its input sources, its builder when that
/// is a store item of its own, the fixed outputs of its inputs; each once.
fn used_items(
    store: &StoreDir,
    builder: &str,
    sources: &[StorePath],
    fixed: Vec<(StorePath, Wanted)>,
) -> Vec<UsedItem> {
    let mut items: Vec<UsedItem> = sources
        .iter()
        .map(|p| UsedItem {
            path: store.display(p),
            role: Role::InputSource,
            summary: None,
            wanted: Wanted::new(p.clone()),
        })
        .collect();
    let builder_item = store.parse(builder).ok().filter(|p| !sources.contains(p));
    if let Some(p) = &builder_item {
        let fixed_hash = fixed
            .iter()
            .find(|(_, w)| &w.path == p)
            .and_then(|(_, w)| w.fixed);
        items.push(UsedItem {
            path: store.display(p),
            role: Role::Builder,
            summary: None,
            wanted: Wanted {
                path: p.clone(),
                fixed: fixed_hash,
            },
        });
    }
    for (drv, w) in fixed {
        if builder_item.as_ref() == Some(&w.path) || sources.contains(&w.path) {
            continue;
        }
        if items.iter().any(|i| i.wanted.path == w.path) {
            continue;
        }
        items.push(UsedItem {
            path: store.display(&w.path),
            role: Role::FixedOutput {
                derivation: store.display(&drv),
            },
            summary: None,
            wanted: w,
        });
    }
    items
}
