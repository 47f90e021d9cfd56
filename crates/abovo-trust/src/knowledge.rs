//! The knowledge base: seeds that are known by their fixed-output hash.
//!
//! When abovo does not have a seed's bytes, the next best evidence is that
//! this exact hash has been identified before, by a person, with sources.
//! The built-in base (`data/knowledge.toml`, compiled in) lists the binaries
//! of the Guix bootstrap found in the Guix 1.5.0 corpus, each with how it
//! was determined; users add their own files in the same format
//! (`--knowledge FILE`), and a later file's entry wins over an earlier one
//! for the same hash. The format is documented at the top of the data file
//! and in docs/trust.md.

use crate::kind::Kind;
use abovo_store::Hash;
use abovo_store::derivation::FixedOutput;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The built-in knowledge base, as text.
pub const BUILT_IN: &str = include_str!("../data/knowledge.toml");

/// The name of the built-in base in reports.
pub const BUILT_IN_NAME: &str = "built-in";

/// Why a knowledge-base file was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KnowledgeError {
    /// The file could not be read.
    #[error("cannot read knowledge base `{path}`: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not valid TOML of the expected shape.
    #[error("knowledge base `{source_name}` is not valid: {message}")]
    Parse {
        /// The file (or `built-in`).
        source_name: String,
        /// The parser's message, with line and column.
        message: String,
    },
    /// An entry is well-formed TOML but wrong.
    #[error("knowledge base `{source_name}`, entry {index} ({name}): {reason}")]
    Invalid {
        /// The file (or `built-in`).
        source_name: String,
        /// The entry's position, from 1.
        index: usize,
        /// The entry's name.
        name: String,
        /// What is wrong.
        reason: String,
    },
}

/// A member of a known seed worth naming (the binary inside a source
/// tarball).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnownMember {
    /// Its path inside the seed.
    pub path: String,
    /// What it is.
    pub what: String,
    /// Its size in bytes, when a source gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Where the size comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_source: Option<String>,
}

/// One knowledge-base entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnownSeed {
    /// A short label.
    pub name: String,
    /// The hash (algorithm and digest).
    pub hash: Hash,
    /// Whether the hash is over the NAR serialisation.
    #[serde(default)]
    pub recursive: bool,
    /// The kind.
    pub kind: Kind,
    /// What it is.
    pub description: String,
    /// Its size in bytes, when a source gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Where the size comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_source: Option<String>,
    /// How the entry was determined.
    pub provenance: String,
    /// Members worth naming.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<KnownMember>,
    /// The file the entry came from (`built-in` or a path); set on load.
    #[serde(default, skip_deserializing)]
    pub source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    seed: Vec<KnownSeed>,
}

/// A set of knowledge-base entries, looked up by hash.
#[derive(Debug, Clone, Default)]
pub struct KnowledgeBase {
    entries: Vec<KnownSeed>,
    index: HashMap<(bool, Hash), usize>,
    sources: Vec<String>,
}

impl KnowledgeBase {
    /// The built-in base alone.
    pub fn built_in() -> Result<KnowledgeBase, KnowledgeError> {
        let mut kb = KnowledgeBase::default();
        kb.add_text(BUILT_IN_NAME, BUILT_IN)?;
        Ok(kb)
    }

    /// Adds the entries of a file; its entries replace earlier ones with the
    /// same hash.
    pub fn add_file(&mut self, path: &Path) -> Result<(), KnowledgeError> {
        let text = std::fs::read_to_string(path).map_err(|source| KnowledgeError::Read {
            path: path.to_owned(),
            source,
        })?;
        self.add_text(&path.display().to_string(), &text)
    }

    /// Adds the entries of a TOML text named `source_name` in errors and
    /// reports.
    pub fn add_text(&mut self, source_name: &str, text: &str) -> Result<(), KnowledgeError> {
        let file: File = toml::from_str(text).map_err(|e| KnowledgeError::Parse {
            source_name: source_name.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        for (i, mut seed) in file.seed.into_iter().enumerate() {
            let invalid = |reason: &str| KnowledgeError::Invalid {
                source_name: source_name.to_owned(),
                index: i + 1,
                name: seed.name.clone(),
                reason: reason.to_owned(),
            };
            if seed.kind == Kind::Unknown {
                return Err(invalid(
                    "kind `unknown` says nothing; leave the hash out instead",
                ));
            }
            if seed.provenance.trim().is_empty() {
                return Err(invalid(
                    "provenance is empty: say how the entry was determined",
                ));
            }
            if seed.size.is_some() != seed.size_source.is_some() {
                return Err(invalid("size and size_source go together"));
            }
            if seed
                .members
                .iter()
                .any(|m| m.size.is_some() != m.size_source.is_some())
            {
                return Err(invalid("a member's size and size_source go together"));
            }
            seed.source = source_name.to_owned();
            let key = (seed.recursive, seed.hash);
            match self.index.get(&key) {
                Some(&at) => self.entries[at] = seed,
                None => {
                    self.index.insert(key, self.entries.len());
                    self.entries.push(seed);
                }
            }
        }
        self.sources.push(source_name.to_owned());
        Ok(())
    }

    /// The entry for a fixed-output derivation's pinned hash.
    pub fn lookup_fixed(&self, fixed: &FixedOutput) -> Option<&KnownSeed> {
        self.index
            .get(&(fixed.recursive, fixed.hash))
            .map(|&i| &self.entries[i])
    }

    /// The entry for a store item whose NAR hash is `nar_hash` (a recursive
    /// hash of the item, so it matches recursive entries).
    pub fn lookup_nar(&self, nar_hash: &Hash) -> Option<&KnownSeed> {
        self.index
            .get(&(true, *nar_hash))
            .map(|&i| &self.entries[i])
    }

    /// The entries that carry a member `name` names, each with the first
    /// such member: `name` is the member's file name (`hex0-seed`), that
    /// name without its `-seed` suffix (`hex0`) or a directory on its path
    /// (`bootstrap-seeds`), compared without regard to case. This is how a
    /// person who asks for a member finds the seed that carries it.
    pub fn carriers_of(&self, name: &str) -> Vec<(&KnownSeed, &KnownMember)> {
        let want = name.trim().trim_matches('/').to_ascii_lowercase();
        if want.is_empty() {
            return Vec::new();
        }
        let names = |m: &KnownMember| -> bool {
            let path = m.path.to_ascii_lowercase();
            let mut parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
            let Some(file) = parts.pop() else {
                return false;
            };
            file == want
                || file.strip_suffix("-seed") == Some(want.as_str())
                || parts.contains(&want.as_str())
                || path.trim_matches('/') == want
        };
        self.entries
            .iter()
            .filter_map(|e| e.members.iter().find(|m| names(m)).map(|m| (e, m)))
            .collect()
    }

    /// All entries.
    pub fn entries(&self) -> &[KnownSeed] {
        &self.entries
    }

    /// The files loaded, in order.
    pub fn sources(&self) -> &[String] {
        &self.sources
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use abovo_store::HashAlgo;

    #[test]
    fn built_in_base_loads_and_is_consistent() {
        let kb = KnowledgeBase::built_in().unwrap();
        assert!(kb.entries().len() >= 20);
        for e in kb.entries() {
            assert_eq!(e.hash.algo(), HashAlgo::Sha256, "{}", e.name);
            assert!(
                e.provenance.len() > 80,
                "{} needs a real provenance",
                e.name
            );
            assert_eq!(e.source, BUILT_IN_NAME);
        }
        // The i686 static bash, by its recursive hash.
        let bash = FixedOutput {
            recursive: true,
            hash: Hash::parse_prefixed(
                "sha256:0rjaxyzjdllfkf1abczvgaf3cdcc7mmahyvdbkjmjzhgz92pv23g",
            )
            .unwrap(),
        };
        let e = kb.lookup_fixed(&bash).unwrap();
        assert_eq!(e.kind, Kind::Binary);
        // The same digest as a flat hash is another thing.
        assert!(
            kb.lookup_fixed(&FixedOutput {
                recursive: false,
                ..bash
            })
            .is_none()
        );
        assert!(kb.lookup_nar(&bash.hash).is_some());
    }

    #[test]
    fn members_lead_to_the_seeds_that_carry_them() {
        let kb = KnowledgeBase::built_in().unwrap();
        for name in [
            "hex0",
            "hex0-seed",
            "HEX0-SEED",
            "bootstrap-seeds",
            "kaem-optional-seed",
        ] {
            let found = kb.carriers_of(name);
            assert_eq!(found.len(), 1, "{name}");
            assert!(
                found[0].0.name.starts_with("stage0-posix-1.6.0.tar.gz"),
                "{name}"
            );
        }
        assert!(
            kb.carriers_of("kaem-optional")
                .first()
                .unwrap()
                .1
                .path
                .ends_with("kaem-optional-seed")
        );
        // Every OCaml source entry carries boot/ocamlc.
        assert_eq!(kb.carriers_of("ocamlc").len(), 5);
        assert!(kb.carriers_of("posix/x86").is_empty());
        assert!(kb.carriers_of("").is_empty());
        assert!(kb.carriers_of("hello").is_empty());
    }

    #[test]
    fn user_entries_override_and_errors_are_clear() {
        let mut kb = KnowledgeBase::built_in().unwrap();
        let n = kb.entries().len();
        let user = r#"
[[seed]]
name = "my bash"
hash = "sha256:0rjaxyzjdllfkf1abczvgaf3cdcc7mmahyvdbkjmjzhgz92pv23g"
recursive = true
kind = "binary"
description = "audited by me"
size = 1234
size_source = "ls -l"
provenance = "I rebuilt it and compared"
"#;
        kb.add_text("mine.toml", user).unwrap();
        assert_eq!(kb.entries().len(), n);
        let h = Hash::parse_prefixed("sha256:0rjaxyzjdllfkf1abczvgaf3cdcc7mmahyvdbkjmjzhgz92pv23g")
            .unwrap();
        let e = kb.lookup_nar(&h).unwrap();
        assert_eq!(e.name, "my bash");
        assert_eq!(e.source, "mine.toml");
        assert_eq!(e.size, Some(1234));

        let err = kb.add_text("bad.toml", "[[seed]]\nname = 3\n").unwrap_err();
        assert!(err.to_string().contains("bad.toml"), "{err}");
        assert!(err.to_string().contains("line"), "{err}");
        let no_source = user.replace("size_source = \"ls -l\"\n", "");
        let err = kb.add_text("x.toml", &no_source).unwrap_err();
        assert!(err.to_string().contains("size and size_source"), "{err}");
        let unknown = user.replace("kind = \"binary\"", "kind = \"unknown\"");
        assert!(kb.add_text("y.toml", &unknown).is_err());
        let bad_hash = user.replace("0rjaxy", "0rjaxyz");
        let err = kb.add_text("z.toml", &bad_hash).unwrap_err();
        assert!(err.to_string().contains("z.toml"), "{err}");
    }
}
