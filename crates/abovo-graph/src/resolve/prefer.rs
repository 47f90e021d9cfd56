//! Breaking ties between derivations that a name matches equally well.
//!
//! A plain store holds the derivations of several systems: the Guix 1.5.0
//! corpus has a `guile-bootstrap-2.0.drv` for x86_64-linux, i686-linux and
//! armhf-linux, all with the same name and version. Guix never meets that
//! ambiguity, because every command works for one system (`--system`,
//! default: the host's). abovo does the same, and for a question about two
//! nodes (`path FROM TO`) it can also use the first to pick the second:
//! of several `TO`s, the one `FROM` depends on is almost always the one
//! meant.
//!
//! [`Preferences`] say what may decide; each preference, in order (system,
//! then reachability), keeps the candidates that satisfy it when at least
//! one does, and is passed over when none does (so a system that the graph
//! does not have changes nothing). One candidate left wins, and the
//! [`TieBreak`] says what chose it; several left are still an ambiguity,
//! listing only those.

use crate::graph::{Graph, NodeId, NodeKind};
use crate::query::{Walk, closure};

/// What may decide between candidates of the same name and version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Preferences {
    /// Prefer derivations built for this system (`x86_64-linux`).
    pub system: Option<String>,
    /// Prefer nodes reachable from this node by this walk.
    pub reachable_from: Option<(NodeId, Walk)>,
}

impl Preferences {
    /// No preference: every tie is an ambiguity, as with
    /// [`resolve`](super::resolve).
    pub fn new() -> Preferences {
        Preferences::default()
    }

    /// Prefers derivations whose system is `system`.
    pub fn system(mut self, system: impl Into<String>) -> Preferences {
        self.system = Some(system.into());
        self
    }

    /// Prefers nodes that `from` reaches by `walk`.
    pub fn reachable_from(mut self, from: NodeId, walk: Walk) -> Preferences {
        self.reachable_from = Some((from, walk));
        self
    }
}

/// What chose the node of a name that matched several.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TieBreak {
    /// It is the only candidate built for `system`.
    System {
        /// The preferred system.
        system: String,
        /// Every candidate that matched the name equally well, in id order.
        candidates: Vec<NodeId>,
    },
    /// It is the only candidate that `from` reaches.
    Reachable {
        /// Where the walk started.
        from: NodeId,
        /// Every candidate left before reachability decided, in id order.
        candidates: Vec<NodeId>,
    },
}

impl TieBreak {
    /// The candidates the choice was made among.
    pub fn candidates(&self) -> &[NodeId] {
        match self {
            TieBreak::System { candidates, .. } | TieBreak::Reachable { candidates, .. } => {
                candidates
            }
        }
    }
}

/// A name resolved: the node, and what broke the tie when the name matched
/// several.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Resolution {
    /// The node.
    pub node: NodeId,
    /// `None` when the name matched this node alone.
    pub tie_break: Option<TieBreak>,
    /// The preferred system, when the graph has no derivation of this name
    /// built for it: the node is built for another system.
    pub system_unavailable: Option<String>,
}

impl Resolution {
    /// A name that matched one node.
    pub(crate) fn unique(node: NodeId) -> Resolution {
        Resolution {
            node,
            tie_break: None,
            system_unavailable: None,
        }
    }
}

/// Moves a name resolved to a derivation built for another system than
/// the preferred one to the derivation of the same name built for it (a
/// package table lists one system's derivations; the store may hold the
/// others); says so in the resolution when the graph has none. Several of
/// that name for the system are an ambiguity between them.
pub(crate) fn prefer_system(
    g: &Graph,
    spec: &str,
    found: Resolution,
    prefs: &Preferences,
) -> Result<Resolution, crate::ResolveError> {
    let Some(system) = &prefs.system else {
        return Ok(found);
    };
    // Only derivations have a system; the usual case, a name resolved to
    // one built for `system`, ends here.
    if g.system(found.node).is_none_or(|s| s == system)
        || g.kind(found.node) != NodeKind::Derivation
    {
        return Ok(found);
    }
    // Names, flags and systems are read from the per-node columns (in place
    // for a mapped snapshot): no derivation is decoded.
    let name = g.label(found.node);
    let fixed = g.is_fixed_output(found.node);
    let same: Vec<NodeId> = super::scan::derivations_named(g, name)
        .into_iter()
        .filter(|o| o.name == name && o.fixed == fixed)
        .map(|o| o.node)
        .collect();
    let for_system: Vec<NodeId> = same
        .iter()
        .copied()
        .filter(|&n| g.system(n) == Some(system.as_str()))
        .collect();
    match for_system[..] {
        [] => Ok(Resolution {
            system_unavailable: Some(system.clone()),
            ..found
        }),
        [one] => Ok(Resolution {
            node: one,
            tie_break: Some(TieBreak::System {
                system: system.clone(),
                candidates: same,
            }),
            system_unavailable: None,
        }),
        _ => Err(crate::ResolveError::Ambiguous {
            name: spec.to_owned(),
            candidates: super::describe_candidates(g, &for_system),
        }),
    }
}

/// Narrows `tied` (two or more distinct nodes, in id order) by `prefs`.
/// `Ok` with the winner; `Err` with the candidates left when the tie stands.
pub(crate) fn break_tie(
    g: &Graph,
    tied: Vec<NodeId>,
    prefs: &Preferences,
) -> Result<Resolution, Vec<NodeId>> {
    let mut left = tied;
    if let Some(system) = &prefs.system {
        let before = left.clone();
        narrow(&mut left, |n| g.system(n) == Some(system.as_str()));
        if let [one] = left[..] {
            return Ok(Resolution {
                node: one,
                tie_break: Some(TieBreak::System {
                    system: system.clone(),
                    candidates: before,
                }),
                system_unavailable: None,
            });
        }
    }
    if let Some((from, walk)) = &prefs.reachable_from {
        let before = left.clone();
        // One walk for all candidates; only ever done for a tie, so the
        // common case (a name that matches one node) costs nothing.
        let reach = closure(g, &[*from], walk);
        narrow(&mut left, |n| reach.binary_search(&n).is_ok());
        if let [one] = left[..] {
            return Ok(Resolution {
                node: one,
                tie_break: Some(TieBreak::Reachable {
                    from: *from,
                    candidates: before,
                }),
                system_unavailable: None,
            });
        }
    }
    Err(left)
}

/// Keeps the nodes that satisfy `keep`, unless none does.
fn narrow(nodes: &mut Vec<NodeId>, keep: impl Fn(NodeId) -> bool) {
    if nodes.iter().any(|&n| keep(n)) {
        nodes.retain(|&n| keep(n));
    }
}

/// The system of this machine as Guix names it (`x86_64-linux`,
/// `aarch64-linux`, `i686-linux`, …): the default of `--system`.
pub fn host_system() -> String {
    guix_system(std::env::consts::ARCH, std::env::consts::OS)
}

/// The Guix name of the system with Rust's `arch` and `os` names
/// ([`std::env::consts`]): Guix calls 32-bit x86 `i686`, 32-bit ARM
/// `armhf`, and supports only the little-endian 64-bit PowerPC and MIPS
/// (`powerpc64le`, `mips64el`); the Hurd is `gnu`, on `i586` when 32-bit.
/// Other pairs keep Rust's names, `ARCH-OS`.
pub fn guix_system(arch: &str, os: &str) -> String {
    let arch = match (arch, os) {
        ("x86", "hurd") => "i586",
        ("x86", _) => "i686",
        ("arm", _) => "armhf",
        ("powerpc64", _) => "powerpc64le",
        ("mips64", _) => "mips64el",
        (other, _) => other,
    };
    let os = match os {
        "hurd" => "gnu",
        other => other,
    };
    format!("{arch}-{os}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_names_map_to_guix_names() {
        let cases = [
            ("x86_64", "linux", "x86_64-linux"),
            ("x86", "linux", "i686-linux"),
            ("aarch64", "linux", "aarch64-linux"),
            ("arm", "linux", "armhf-linux"),
            ("powerpc64", "linux", "powerpc64le-linux"),
            ("riscv64", "linux", "riscv64-linux"),
            ("mips64", "linux", "mips64el-linux"),
            ("x86", "hurd", "i586-gnu"),
            ("x86_64", "macos", "x86_64-macos"),
        ];
        for (arch, os, want) in cases {
            assert_eq!(guix_system(arch, os), want, "{arch} {os}");
        }
        assert_eq!(
            host_system(),
            guix_system(std::env::consts::ARCH, std::env::consts::OS)
        );
    }
}
