//! The guard for CI (`--fail-on`): which changes of a comparison make it
//! fail, each as a [`Violation`] with its path.

use super::Change;
use super::audit::{AuditComparison, SeedPath};
use super::seeds::{SeedsComparison, entry_label, path_labels};
use crate::kind::Kind;
use serde::Serialize;

/// When the guard for CI fails (`--fail-on`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailOn {
    /// The new revision rests on a binary seed (kind `binary` or
    /// `source-with-binaries`) that the old one did not: added, or changed
    /// (other bytes); in the audit also a matched package newly resting on
    /// one.
    NewBinary,
    /// Any binary seed added, removed or changed; in the audit also any
    /// matched package that gained or lost one.
    AnyChange,
}

impl FailOn {
    /// The name of the flag's value.
    pub fn name(self) -> &'static str {
        match self {
            FailOn::NewBinary => "new-binary",
            FailOn::AnyChange => "any-change",
        }
    }
}

/// Something that makes the guard fail.
#[derive(Debug, Clone, Serialize)]
pub struct Violation {
    /// The package concerned (`hello`), or none for a change of the
    /// distribution as a whole.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    /// The seed, by label.
    pub seed: String,
    /// Its kind.
    pub kind: Kind,
    /// What happened: added (or gained, for a package), removed (or lost),
    /// changed.
    pub change: Change,
    /// A shortest path from the package to the seed (labels), in the
    /// revision the seed is in; empty for the distribution as a whole.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub path: Vec<String>,
}

impl SeedsComparison {
    /// What makes the guard fail: the binary seeds the new revision rests on
    /// that the old one did not (`new-binary`), or every change of a binary
    /// seed (`any-change`), each with its path from the target.
    pub fn violations(&self, fail_on: FailOn) -> Vec<Violation> {
        self.seeds
            .iter()
            .filter(|s| match fail_on {
                FailOn::NewBinary => s.is_new_binary(),
                FailOn::AnyChange => s.change != Change::Unchanged && s.carries_binaries(),
            })
            .map(|s| {
                let e = s.entry();
                Violation {
                    package: Some(match &s.new {
                        Some(_) => self.new.target_label.clone(),
                        None => self.old.target_label.clone(),
                    }),
                    seed: entry_label(e),
                    kind: e.class.kind,
                    change: s.change,
                    path: path_labels(e),
                }
            })
            .collect()
    }
}

impl AuditComparison {
    /// What makes the guard fail: binary seeds new to the distribution and
    /// matched packages newly resting on a binary seed (`new-binary`), or
    /// every change of either (`any-change`). Package entries come with
    /// their path.
    pub fn violations(&self, fail_on: FailOn) -> Vec<Violation> {
        let mut out = Vec::new();
        for s in &self.seeds {
            let counts = match fail_on {
                FailOn::NewBinary => matches!(s.change, Change::Added | Change::Changed),
                FailOn::AnyChange => s.change != Change::Unchanged,
            };
            if counts {
                out.push(Violation {
                    package: None,
                    seed: s.side().label.clone(),
                    kind: s.side().kind,
                    change: s.change,
                    path: Vec::new(),
                });
            }
        }
        for p in &self.packages {
            let name = p.name.clone();
            let mut add = |sp: &SeedPath, change| {
                out.push(Violation {
                    package: Some(name.clone()),
                    seed: self.label(sp.seed).to_owned(),
                    kind: self.seeds[sp.seed as usize].side().kind,
                    change,
                    path: sp.path.clone(),
                });
            };
            for sp in &p.gained {
                add(sp, Change::Added);
            }
            for sw in &p.changed {
                add(&sw.new, Change::Changed);
            }
            if fail_on == FailOn::AnyChange {
                for sp in &p.lost {
                    add(sp, Change::Removed);
                }
            }
        }
        out
    }
}
