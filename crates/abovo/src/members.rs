//! Names that are not derivations but members of a seed the knowledge base
//! knows: `hex0`, `hex0-seed`, `bootstrap-seeds` lead to the stage0-posix
//! tarball, `ocamlc` to the OCaml sources. [`resolve_member`] is the last
//! resort of name resolution ([`crate::source::resolve_one`]): it runs
//! only when nothing in the graph has the name, and its answer comes with a
//! note saying which member of which seed was taken.

use abovo_graph::resolve::Preferences;
use abovo_graph::{Graph, NodeId};
use abovo_trust::knowledge::{KnowledgeBase, KnownSeed};

/// What a member name resolved to.
pub enum Member {
    /// One seed of the graph carries it: the node, and the note to print.
    Found(NodeId, String),
    /// Several seeds of the graph carry it: the error to print.
    Ambiguous(String),
    /// No seed of the graph carries a member of that name.
    None,
}

/// The fixed-output derivations of `g` whose output is the seed `entry`;
/// when several systems build the same output, the one for the preferred
/// system (or the first by store path).
fn nodes_of(g: &Graph, entry: &KnownSeed, prefs: &Preferences) -> Option<NodeId> {
    let mut nodes: Vec<(NodeId, bool)> = g
        .derivations()
        .filter(|d| {
            d.fixed_output()
                .is_some_and(|f| f.recursive == entry.recursive && f.hash == entry.hash)
        })
        .map(|d| (d.node(), prefs.system.as_deref() == Some(d.system())))
        .collect();
    nodes.sort_by_key(|&(n, preferred)| (!preferred, g.display_path(n)));
    nodes.first().map(|&(n, _)| n)
}

/// Resolves `spec` as a member of a known seed (see the module docs).
pub fn resolve_member(g: &Graph, spec: &str, prefs: &Preferences) -> Member {
    let Ok(kb) = KnowledgeBase::built_in() else {
        return Member::None;
    };
    let found: Vec<(NodeId, &KnownSeed, String)> = kb
        .carriers_of(spec)
        .into_iter()
        .filter_map(|(entry, member)| {
            nodes_of(g, entry, prefs).map(|n| (n, entry, member.path.clone()))
        })
        .collect();
    match found.as_slice() {
        [] => Member::None,
        [(node, entry, member)] => Member::Found(
            *node,
            format!(
                "`{spec}` is not a package: the knowledge base knows `{member}` as a member of {}; taking that seed: {}",
                entry.name,
                g.display_path(*node)
            ),
        ),
        many => {
            let list: Vec<String> = many
                .iter()
                .map(|(n, entry, member)| {
                    format!("  {} (`{member}`): {}", entry.name, g.display_path(*n))
                })
                .collect();
            Member::Ambiguous(format!(
                "`{spec}` is not a package; the knowledge base knows it as a member of {} seeds of this graph:\n{}\n  (hint: name one of them by its .drv path)",
                many.len(),
                list.join("\n")
            ))
        }
    }
}
