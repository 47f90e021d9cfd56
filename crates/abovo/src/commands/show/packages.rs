//! `abovo show NAME…`: what `guix show` prints of the packages called
//! NAME (every package of that name, newest version first, one record
//! each; `NAME@VERSION` keeps the versions that start with VERSION, as
//! Guix matches them), from the graph's package metadata and package
//! graphs.
//!
//! Formats: `recutils` is exactly the record `guix show` prints
//! ([`crate::report::recutils`]); `text` is that record with abovo's own
//! fields after it (the derivation, the package that supersedes it); `json`
//! has both, with the Texinfo fields as written and as plain text.
//!
//! Names Guix's user interface does not show get the answer Guix gives
//! ("package not found"), with what abovo knows of them: a hidden or
//! private package is still a node of the package graphs; a version that
//! matches nothing lists the versions there are; an unknown name suggests
//! near ones. A superseded (deprecated) package is shown, as Guix shows
//! it, with a note naming the package that replaces it.

use crate::exit;
use crate::output::{Context, print_json, sanitize};
use crate::report::recutils::{ShowRecord, record, terminal_width};
use abovo_graph::Graph;
use abovo_graph::package_graph::{GraphType, PackageId, Visibility};
use abovo_graph::texinfo::to_plain_text_or_raw;
use abovo_graph::version::compare_versions;
use std::io::Write;

/// How `show` prints packages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackageFormat {
    /// The `guix show` record, then abovo's fields.
    Text,
    /// Exactly the `guix show` record.
    Recutils,
    /// JSON.
    Json,
}

/// One package to show: its record and what abovo adds.
struct Shown {
    record: ShowRecord,
    derivation: Option<String>,
    module: String,
    superseded_by: Option<String>,
    visibility: Visibility,
}

/// Shows the packages `names` name on `graph` (see the [module
/// documentation](self)).
pub fn run(
    graph: &Graph,
    names: &[String],
    format: PackageFormat,
    ctx: &Context,
) -> anyhow::Result<u8> {
    let mut shown = Vec::new();
    for spec in names {
        let (name, version) = match spec.rsplit_once('@') {
            Some((n, v)) if !n.is_empty() => (n, Some(v)),
            _ => (spec.as_str(), None),
        };
        let rows = graph.packages().find(name, version);
        if rows.is_empty() {
            return Err(not_found(graph, spec, name, version));
        }
        shown.extend(rows.into_iter().map(|row| shown_of(graph, row)));
    }
    for s in &shown {
        if let Some(new) = &s.superseded_by {
            ctx.note(&format!(
                "{}@{} is deprecated: superseded by {new}, which `guix install` takes instead",
                sanitize(&s.record.name),
                sanitize(&s.record.version),
            ));
        }
    }
    match format {
        PackageFormat::Json => {
            let list: Vec<serde_json::Value> = shown.iter().map(to_json).collect();
            print_json(&serde_json::json!({
                "graph": graph.description(),
                "packages": list,
            }))?;
        }
        PackageFormat::Text | PackageFormat::Recutils => {
            let width = terminal_width();
            let mut out = std::io::stdout().lock();
            for s in &shown {
                let mut text = record(&s.record, width);
                if format == PackageFormat::Text {
                    // abovo's fields, before the record's blank line.
                    text.pop();
                    if let Some(d) = &s.derivation {
                        text.push_str(&format!("derivation: {d}\n"));
                    }
                    if let Some(new) = &s.superseded_by {
                        text.push_str(&format!("superseded: {new}\n"));
                    }
                    text.push('\n');
                }
                out.write_all(crate::output::sanitize_lines(&text).as_bytes())?;
            }
            out.flush()?;
        }
    }
    Ok(exit::SUCCESS)
}

/// The record of package table row `row`.
fn shown_of(graph: &Graph, row: usize) -> Shown {
    // One row's fields read where they lie, not the whole table made.
    let table = graph.packages();
    let node = graph.packages().node(row);
    let info = graph.package_meta().get(row);
    // Read per node, without decoding every derivation.
    let outputs = node
        .map(|n| {
            graph
                .output_names(n)
                .into_iter()
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let pg = graph.package_graph();
    let dependencies = match (
        node.and_then(|n| pg.by_drv(n)),
        graph.package_view(GraphType::Package),
    ) {
        (Some(id), Some(view)) => {
            use abovo_graph::dag::Dag;
            view.inputs(id).iter().map(|&q| pg.full_name(q)).collect()
        }
        _ => Vec::new(),
    };
    let text = |f: for<'a> fn(&abovo_graph::package_meta::PackageInfo<'a>) -> &'a str| {
        info.as_ref().map(|i| f(i).to_owned()).unwrap_or_default()
    };
    Shown {
        record: ShowRecord {
            name: table.name(row).to_owned(),
            version: table.version(row).to_owned(),
            outputs,
            systems: info
                .map(|i| i.systems().map(str::to_owned).collect())
                .unwrap_or_default(),
            dependencies,
            location: text(|i| i.location()),
            homepage: text(|i| i.home_page()),
            licenses: info
                .map(|i| i.licenses().map(str::to_owned).collect())
                .unwrap_or_default(),
            synopsis: text(|i| i.synopsis()),
            description: text(|i| i.description()),
        },
        derivation: node.map(|n| graph.display_path(n)),
        module: table.module(row).to_owned(),
        superseded_by: info.and_then(|i| i.superseded_by()).map(str::to_owned),
        visibility: if info.is_some_and(|i| i.hidden()) {
            Visibility::Hidden
        } else {
            Visibility::Public
        },
    }
}

fn to_json(s: &Shown) -> serde_json::Value {
    let r = &s.record;
    // Plain text, unfilled: one line a paragraph.
    let plain = |t: &str| {
        to_plain_text_or_raw(t, usize::MAX)
            .trim_end_matches('\n')
            .to_owned()
    };
    let mut v = serde_json::to_value(r).unwrap_or_default();
    if r.homepage.is_empty() {
        v["homepage"] = serde_json::Value::Null;
    }
    v["synopsis_text"] = serde_json::json!(plain(&r.synopsis));
    v["description_text"] = serde_json::json!(plain(&r.description));
    v["derivation"] = serde_json::json!(s.derivation);
    v["module"] = serde_json::json!(s.module);
    v["visibility"] = serde_json::json!(s.visibility);
    v["superseded_by"] = serde_json::json!(s.superseded_by);
    v
}

/// "NAME: package not found", as Guix says it, with what abovo knows: the
/// hidden or private packages of that name, the versions there are, or
/// near names.
fn not_found(graph: &Graph, spec: &str, name: &str, version: Option<&str>) -> anyhow::Error {
    let mut msg = format!("{}: package not found", sanitize(spec));
    let pg = graph.package_graph();
    let mut unseen: Vec<PackageId> = pg
        .ids()
        .filter(|&p| {
            pg.name(p) == name
                && pg.status(p).visibility != Visibility::Public
                && version.is_none_or(|v| abovo_graph::version::is_version_prefix(v, pg.version(p)))
        })
        .collect();
    unseen.sort_by(|&a, &b| compare_versions(pg.version(b), pg.version(a)).then(a.cmp(&b)));
    if let Some(&p) = unseen.first() {
        let what = match pg.status(p).visibility {
            Visibility::Hidden => {
                "a hidden package (bound to a public variable, but hidden from Guix's user interface)"
            }
            Visibility::PublicExcluded => "a package Guix does not build for this system",
            _ => "a private package (no public variable holds it: it is only an input of others)",
        };
        msg.push_str(&format!(
            "\n  {} is {what}; guix show says the same",
            sanitize(&pg.full_name(p))
        ));
        if let Some(view) = graph.package_view(GraphType::BagEmerged) {
            use abovo_graph::dag::Dag;
            let users = view.dependents(p);
            if let Some(&first) = users.first() {
                msg.push_str(&format!(
                    "\n  {} takes it as an input{}; abovo graph, path, why and dependents \
                     know it (e.g. abovo dependents {})",
                    sanitize(&pg.full_name(first)),
                    if users.len() > 1 {
                        format!(", and {} other packages", users.len() - 1)
                    } else {
                        String::new()
                    },
                    // The derivation names the one meant where several
                    // hidden packages share the name (gcc-mesboot0).
                    sanitize(
                        &pg.drv(p)
                            .map_or_else(|| name.to_owned(), |n| graph.display_path(n))
                    )
                ));
            }
        }
        return anyhow::anyhow!(msg);
    }
    let versions: Vec<String> = {
        let mut v: Vec<String> = graph
            .packages()
            .find(name, None)
            .into_iter()
            .map(|i| graph.packages().version(i).to_owned())
            .collect();
        v.dedup();
        v
    };
    if version.is_some() && !versions.is_empty() {
        msg.push_str(&format!(
            "\n  versions of {}: {}",
            sanitize(name),
            sanitize(&versions.join(", "))
        ));
    } else {
        let near = abovo_graph::resolve::suggest(graph, name);
        if !near.is_empty() {
            msg.push_str(&format!("; did you mean {}?", sanitize(&near.join(", "))));
        }
    }
    anyhow::anyhow!(msg)
}
