//! The vocabulary of trust: what a seed is ([`Kind`]) and why abovo says so
//! ([`Evidence`]).
//!
//! These are the words of docs/trust.md ("Classification: three layers"),
//! as types, so that
//! every layer (content scan, knowledge base, rules) answers in the same terms
//! and the reports can sort, group and count by them.

use serde::{Deserialize, Serialize};
use std::fmt;

/// What a seed is, from the point of view of someone who must trust it.
///
/// The order is the order of concern: a report lists binaries first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Executable code that no source explains: ELF, PE, Mach-O, JVM or
    /// Python bytecode, wasm, static archives and objects, or an archive that
    /// is mostly made of them.
    Binary,
    /// A source archive that embeds binary blobs (a tarball that ships a
    /// prebuilt seed, test executables, a bundled jar).
    SourceWithBinaries,
    /// Machine-made text: minified bundles, pre-generated configure scripts,
    /// parsers or headers.
    Generated,
    /// Human-readable text or recognised non-executable data: nothing opaque
    /// to trust.
    Source,
    /// Nothing tells: the bytes were not available and no knowledge-base
    /// entry or rule applies. An honest answer, never a guess.
    Unknown,
}

impl Kind {
    /// Every kind, in report order.
    pub const ALL: [Kind; 5] = [
        Kind::Binary,
        Kind::SourceWithBinaries,
        Kind::Generated,
        Kind::Source,
        Kind::Unknown,
    ];

    /// The name used in reports and data files (`source-with-binaries` …).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Binary => "binary",
            Kind::SourceWithBinaries => "source-with-binaries",
            Kind::Generated => "generated",
            Kind::Source => "source",
            Kind::Unknown => "unknown",
        }
    }

    /// Parses a kind name as written by [`Kind::name`].
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Whether a seed of this kind carries opaque executable code that the
    /// whole-distribution audit counts (binary or source-with-binaries).
    pub fn carries_binaries(self) -> bool {
        matches!(self, Kind::Binary | Kind::SourceWithBinaries)
    }

    /// Whether a report's summary gives seeds of this kind one line each
    /// (generated and source seeds: a large closure has thousands, and
    /// nothing in them needs a closer look), rather than their details.
    pub fn summarised(self) -> bool {
        matches!(self, Kind::Generated | Kind::Source)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a kind was decided. Content beats knowledge beats rules.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Evidence {
    /// The seed's bytes were inspected.
    Content,
    /// The knowledge base lists this exact hash.
    Known {
        /// The knowledge-base file the entry came from (`built-in` for the
        /// one shipped with abovo).
        source: String,
    },
    /// Its name or URL matches a rule.
    Rule {
        /// The rule's id (see `abovo seeds --help` and docs/trust.md).
        id: String,
    },
    /// Nothing applied.
    None,
}

impl Evidence {
    /// A short label: `content`, `known`, `rule:<id>` or `none`.
    pub fn label(&self) -> String {
        match self {
            Evidence::Content => "content".to_owned(),
            Evidence::Known { .. } => "known".to_owned(),
            Evidence::Rule { id } => format!("rule:{id}"),
            Evidence::None => "none".to_owned(),
        }
    }

    /// The strength of the evidence: content 3, known 2, rule 1, none 0.
    pub fn strength(&self) -> u8 {
        match self {
            Evidence::Content => 3,
            Evidence::Known { .. } => 2,
            Evidence::Rule { .. } => 1,
            Evidence::None => 0,
        }
    }
}

impl fmt::Display for Evidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    #[test]
    fn kind_names_round_trip() {
        for k in Kind::ALL {
            assert_eq!(Kind::from_name(k.name()), Some(k));
            assert_eq!(
                serde_json::to_string(&k).unwrap(),
                format!("\"{}\"", k.name())
            );
        }
        assert_eq!(Kind::from_name("binaries"), None);
    }

    #[test]
    fn evidence_strength_orders_layers() {
        let content = Evidence::Content;
        let known = Evidence::Known {
            source: "built-in".into(),
        };
        let rule = Evidence::Rule { id: "r".into() };
        assert!(content.strength() > known.strength());
        assert!(known.strength() > rule.strength());
        assert!(rule.strength() > Evidence::None.strength());
        assert_eq!(rule.label(), "rule:r");
    }
}
