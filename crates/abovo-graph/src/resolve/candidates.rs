//! What tells ambiguous candidates apart.
//!
//! Two derivations can carry the same `name@version`: a package defined
//! twice with other build flags, a variant built with another input. An
//! ambiguity error that prints two identical lines does not help anyone
//! pick, so each [`Candidate`] carries what a person can tell them apart
//! by: the module that defines it (from the package table), its outputs,
//! its system, how many inputs and dependents it has, and the inputs the
//! other candidates do not share.

use crate::graph::{Graph, NodeId};
use crate::version::split_name_version;
use rustc_hash::FxHashSet;
use std::fmt;

/// How many inputs that only one candidate has are named in the error.
const DISTINCT_SHOWN: usize = 3;

/// One candidate of an ambiguous name, with what distinguishes it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Candidate {
    /// The node.
    pub node: NodeId,
    /// `name@version`: the package's when the table knows it, else split
    /// from the derivation name.
    pub label: String,
    /// Its absolute `.drv` path (what selects it unambiguously).
    pub path: String,
    /// The modules defining it, from the package table (empty when unknown).
    pub modules: Vec<String>,
    /// Its output names.
    pub outputs: Vec<String>,
    /// Its system (`x86_64-linux`); empty for nodes that are not loaded
    /// derivations.
    pub system: String,
    /// How many inputs (derivations and sources) it has.
    pub input_count: usize,
    /// How many derivations use it directly.
    pub dependent_count: usize,
    /// Base names of its inputs that some other candidate lacks, sorted.
    pub distinct_inputs: Vec<String>,
}

/// Describes each of `nodes` as a [`Candidate`] of the same ambiguous name.
pub fn describe_candidates(g: &Graph, nodes: &[NodeId]) -> Vec<Candidate> {
    let input_sets: Vec<FxHashSet<NodeId>> = nodes
        .iter()
        .map(|&n| g.inputs(n).iter().copied().collect())
        .collect();
    nodes
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let mut distinct: Vec<String> = g
                .inputs(n)
                .iter()
                .filter(|input| {
                    input_sets
                        .iter()
                        .enumerate()
                        .any(|(j, set)| j != i && !set.contains(input))
                })
                .map(|&input| g.base_name(input))
                .collect();
            distinct.sort();
            let drv = g.derivation(n);
            Candidate {
                node: n,
                label: label(g, n),
                path: g.display_path(n),
                modules: g
                    .packages()
                    .rows_of(n)
                    .map(|i| g.packages().module(i).to_owned())
                    .filter(|m| !m.is_empty())
                    .collect(),
                outputs: drv
                    .map(|d| d.outputs().map(|o| o.name.to_owned()).collect())
                    .unwrap_or_default(),
                system: drv.map(|d| d.system().to_owned()).unwrap_or_default(),
                input_count: g.inputs(n).len(),
                dependent_count: g.dependents(n).len(),
                distinct_inputs: distinct,
            }
        })
        .collect()
}

/// `name@version` of a node: its package's, or split from its name.
pub(crate) fn label(g: &Graph, n: NodeId) -> String {
    match g.packages().rows_of(n).next() {
        Some(i) => g.packages().full_name(i),
        None => match split_name_version(g.label(n)) {
            (name, Some(v)) => format!("{name}@{v}"),
            (name, None) => name.to_owned(),
        },
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Two lines: `label  path`, then what distinguishes it, indented.
impl fmt::Display for Candidate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}  {}", self.label, self.path)?;
        let mut facts = Vec::new();
        if !self.modules.is_empty() {
            facts.push(format!("defined in {}", self.modules.join(", ")));
        }
        if !self.outputs.is_empty() {
            facts.push(format!(
                "{} {}",
                if self.outputs.len() == 1 {
                    "output"
                } else {
                    "outputs"
                },
                self.outputs.join(" ")
            ));
        }
        if !self.system.is_empty() {
            facts.push(self.system.clone());
        }
        facts.push(plural(self.input_count, "input", "inputs"));
        facts.push(format!(
            "used by {}",
            plural(self.dependent_count, "derivation", "derivations")
        ));
        write!(f, "\n      {}", facts.join(", "))?;
        if !self.distinct_inputs.is_empty() {
            let shown = &self.distinct_inputs[..self.distinct_inputs.len().min(DISTINCT_SHOWN)];
            let more = self.distinct_inputs.len() - shown.len();
            write!(f, "\n      inputs the others lack: {}", shown.join(", "))?;
            if more > 0 {
                write!(f, " and {more} more")?;
            }
        }
        Ok(())
    }
}
