//! What the graph commands share to answer in packages rather than
//! derivations: the `--type` flag ([`GraphKind`], `guix graph`'s
//! `--type`), opening a package graph with a clear error when the source
//! has none ([`package_view`]), turning a name into a package node
//! ([`package_of`], [`packages_of`]), and the pieces of their reports (a
//! package in JSON, how an input is taken, in words).
//!
//! Each command picks its default type after its Guix counterpart:
//! `graph` and `path` draw the `package` graph, as `guix graph` (and
//! `guix graph --path`) do, and `why` with them; `dependents` walks the
//! `bag-emerged` graph, the bag graph that `guix refresh -l` walks
//! (implicit inputs included); `closure` counts derivations, the build
//! closure that `guix gc -R` gives of a `.drv`.

use abovo_graph::package_graph::{GraphType, InputKind, InputUse, PackageId, PackageView};
use abovo_graph::query::{Walk, shortest_path};
use abovo_graph::{Graph, NodeId, NodeKind};

/// What the nodes of a graph are (`--type`, as in `guix graph --type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphKind {
    /// Packages and their explicit inputs, native inputs and propagated
    /// inputs (`guix graph`'s default).
    Package,
    /// Packages with the implicit inputs their build systems add (GCC,
    /// Coreutils, …), the standard packages of gnu-build-system drawn
    /// without their own inputs (`guix graph -t bag-emerged`).
    BagEmerged,
    /// Derivations and the store items they take as input sources (`guix
    /// graph -t derivation`).
    Derivation,
}

/// The `--help` text of `--type` in the graph commands, with each one's
/// default: `type_help!("package")`.
macro_rules! type_help {
    ($default:literal) => {
        concat!(
            "What the nodes are, as `guix graph --type`: `package` (packages and their ",
            "explicit inputs), `bag-emerged` (packages with the implicit inputs of their build ",
            "systems) or `derivation` (derivations and input sources). Default: ",
            $default,
            " (derivation when the source has no package-level data)."
        )
    };
}
pub(crate) use type_help;

impl GraphKind {
    /// The package graph it names, or `None` for derivations.
    pub fn package_graph(self) -> Option<GraphType> {
        match self {
            GraphKind::Package => Some(GraphType::Package),
            GraphKind::BagEmerged => Some(GraphType::BagEmerged),
            GraphKind::Derivation => None,
        }
    }

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            GraphKind::Package => "package",
            GraphKind::BagEmerged => "bag-emerged",
            GraphKind::Derivation => "derivation",
        }
    }
}

/// The type a command works with: `requested` (`--type`), else the
/// command's `default`, unless the source has no such package graph (a
/// store directory, hand-made `.drv` files): then derivations, with a note
/// that says so.
pub fn choose_kind(
    graph: &Graph,
    requested: Option<GraphKind>,
    default: GraphKind,
    ctx: &crate::output::Context,
) -> GraphKind {
    if let Some(kind) = requested {
        return kind;
    }
    match default.package_graph() {
        Some(ty) if graph.package_view(ty).is_none() => {
            ctx.note(&format!(
                "{} has no `{}` graph (no package-level data): answering with derivations \
                 (--type derivation)",
                graph.description(),
                ty.name()
            ));
            GraphKind::Derivation
        }
        _ => default,
    }
}

/// The package graph `ty` of `graph`, or an error that says the source
/// lacks its edges and how to give them.
pub fn package_view(graph: &Graph, ty: GraphType) -> anyhow::Result<PackageView<'_>> {
    graph.package_view(ty).ok_or_else(|| {
        let flag = match ty {
            GraphType::Package => "--package-edges",
            GraphType::BagEmerged => "--bag-emerged-edges",
        };
        anyhow::anyhow!(
            "{} has no `{}` graph (its package-level edges were not loaded)\n\
             hint: give them with {flag} TSV (a corpus folder has them), or use --type derivation",
            graph.description(),
            ty.name()
        )
    })
}

/// The package node of derivation `node`, which `spec` resolved to; an
/// error that says what `spec` is instead when it is no package.
pub fn package_of(view: &PackageView<'_>, node: NodeId, spec: &str) -> anyhow::Result<PackageId> {
    let graph = view.derivations();
    if let Some(p) = view.packages().by_drv(node) {
        return Ok(p);
    }
    let what = match graph.kind(node) {
        NodeKind::Source => "an input source",
        NodeKind::Missing => "a derivation missing from the source",
        NodeKind::Derivation if graph.is_fixed_output(node) => "a fixed-output derivation",
        NodeKind::Derivation => "a derivation that no package has",
    };
    anyhow::bail!(
        "`{spec}` resolves to {}, {what}, not a node of the `{}` graph\n\
         hint: --type derivation walks derivations and sources",
        graph.display_path(node),
        view.graph_type().name()
    )
}

/// The package nodes of `nodes`, which `specs` resolved to (one each), as
/// [`package_of`] finds them.
pub fn packages_of(
    view: &PackageView<'_>,
    nodes: &[NodeId],
    specs: &[String],
) -> anyhow::Result<Vec<PackageId>> {
    specs
        .iter()
        .zip(nodes)
        .map(|(spec, &n)| package_of(view, n, spec))
        .collect()
}

/// The other types of graph in which `from` reaches `to` (derivation
/// nodes, or those of their packages), with the length of a shortest path
/// in each: what a "no path in the `package` graph" answer adds, since
/// most of what a package needs comes in through implicit inputs.
pub fn other_paths(
    graph: &Graph,
    (from, to): (NodeId, NodeId),
    asked: GraphKind,
    walk: &Walk,
) -> Vec<(GraphKind, usize)> {
    let mut found = Vec::new();
    for kind in [
        GraphKind::Package,
        GraphKind::BagEmerged,
        GraphKind::Derivation,
    ] {
        if kind == asked {
            continue;
        }
        let length = match kind.package_graph() {
            Some(ty) => graph.package_view(ty).and_then(|view| {
                let pg = view.packages();
                let (a, b) = (pg.by_drv(from)?, pg.by_drv(to)?);
                shortest_path(&view, a, b, &Walk::default()).map(|p| p.len() - 1)
            }),
            None => shortest_path(graph, from, to, walk).map(|p| p.len() - 1),
        };
        if let Some(length) = length {
            found.push((kind, length));
        }
    }
    found
}

/// [`other_paths`] as lines to append to a "no path" warning (empty when
/// there is none).
pub fn other_paths_text(found: &[(GraphKind, usize)]) -> String {
    found
        .iter()
        .map(|(kind, length)| {
            format!(
                "\n  the `{}` graph has one of {}: --type {}",
                kind.name(),
                crate::report::text::plural(*length, "edge", "edges"),
                kind.name()
            )
        })
        .collect()
}

/// [`other_paths`] in JSON.
pub fn other_paths_json(found: &[(GraphKind, usize)]) -> serde_json::Value {
    serde_json::json!(
        found
            .iter()
            .map(|(kind, length)| serde_json::json!({"type": kind.name(), "length": length}))
            .collect::<Vec<_>>()
    )
}

/// A package node in JSON: name, version, `name@version`, derivation and
/// status.
pub fn package_json<'g>(view: &PackageView<'g>, package: PackageId) -> PackageJson<'g> {
    PackageJson {
        view: *view,
        package,
    }
}

/// A package node as a JSON object ([`package_json`]), serialized straight
/// from the package graph, as [`crate::source::NodeJson`] is.
#[derive(Clone, Copy)]
pub struct PackageJson<'g> {
    view: PackageView<'g>,
    package: PackageId,
}

impl serde::Serialize for PackageJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let (pg, p) = (self.view.packages(), self.package);
        let mut map = s.serialize_map(Some(5))?;
        map.serialize_entry("name", pg.name(p))?;
        map.serialize_entry("version", pg.version(p))?;
        map.serialize_entry("full_name", &pg.full_name(p))?;
        map.serialize_entry("derivation", &self.view.display_drv_path(p))?;
        map.serialize_entry("status", &pg.status(p))?;
        map.end()
    }
}

/// Package nodes in JSON ([`package_json`]), as an array.
pub fn packages_json<'g>(view: &PackageView<'g>, nodes: &'g [PackageId]) -> PackagesJson<'g> {
    PackagesJson { view: *view, nodes }
}

/// Package nodes as a JSON array ([`packages_json`]).
#[derive(Clone, Copy)]
pub struct PackagesJson<'g> {
    view: PackageView<'g>,
    nodes: &'g [PackageId],
}

impl serde::Serialize for PackagesJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.nodes.iter().map(|&p| package_json(&self.view, p)))
    }
}

/// How `from` takes `to`, in JSON: one object per use (label, output,
/// kind).
pub fn uses_json<'g>(view: &PackageView<'g>, from: PackageId, to: PackageId) -> Vec<InputUse<'g>> {
    view.uses(from, to).collect()
}

/// A short note on how an input is taken, for a graph's text: its kind,
/// and its label and output when they are not the input's name and `out`
/// (`implicit`, `input label=libc output=static`).
pub fn uses_note(view: &PackageView<'_>, from: PackageId, to: PackageId) -> String {
    let name = view.packages().name(to);
    let notes: Vec<String> = view
        .uses(from, to)
        .map(|u| {
            let mut s = u.kind.name().to_owned();
            if u.label != name {
                s.push_str(&format!(" label={}", u.label));
            }
            if u.output != "out" {
                s.push_str(&format!(" output={}", u.output));
            }
            s
        })
        .collect();
    notes.join(", ")
}

/// How `from` takes `to`, in words, for `why`: "as a propagated input",
/// "as an implicit input (output \"static\")".
pub fn uses_words(uses: &[InputUse<'_>]) -> String {
    let words: Vec<String> = uses
        .iter()
        .map(|u| {
            let kind = match u.kind {
                InputKind::Input => "an input",
                InputKind::NativeInput => "a native input",
                InputKind::PropagatedInput => "a propagated input",
                InputKind::Implicit => "an implicit input (added by its build system)",
            };
            if u.output == "out" {
                format!("as {kind}")
            } else {
                format!("as {kind}, output \"{}\"", u.output)
            }
        })
        .collect();
    words.join(" and ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use abovo_graph::package_graph::InputUse;

    #[test]
    fn uses_read_as_words() {
        let u = |kind, output| InputUse {
            label: "gcc",
            output,
            kind,
        };
        assert_eq!(
            uses_words(&[u(InputKind::PropagatedInput, "out")]),
            "as a propagated input"
        );
        assert_eq!(
            uses_words(&[u(InputKind::Implicit, "out"), u(InputKind::Implicit, "lib")]),
            "as an implicit input (added by its build system) and as an implicit input \
             (added by its build system), output \"lib\""
        );
        assert_eq!(
            GraphKind::BagEmerged.package_graph(),
            Some(GraphType::BagEmerged)
        );
        assert_eq!(GraphKind::Derivation.package_graph(), None);
    }
}
