//! Errors of graph loading, building and querying, one enum per concern.

use std::path::PathBuf;

/// Why a source of derivations could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// A file or directory that cannot be read.
    #[error("cannot read `{path}`: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A file that is not a regular file where one is read (a FIFO, a
    /// device): refused rather than waited on or read without end.
    #[error("`{path}` is {kind}, not a regular file")]
    NotRegular {
        /// The file.
        path: PathBuf,
        /// What it is instead: `a FIFO`, `a character device`, …
        kind: &'static str,
    },
    /// A file, tar member or stream larger than anything of its kind may
    /// be (a decompression bomb, or the wrong file).
    #[error("`{file}` holds more than {limit} bytes, the most abovo reads of {what}")]
    TooLarge {
        /// The file (`TARBALL:MEMBER` for a tar member).
        file: String,
        /// What it was read as: `a .drv file`, `a table`, …
        what: &'static str,
        /// The bound it passed.
        limit: u64,
    },
    /// A `.drv` file that does not parse.
    #[error("`{file}` is not a valid derivation: {source}")]
    Parse {
        /// The file: its path on disk, `TARBALL:MEMBER` for a tar member,
        /// its base name for bytes given in memory.
        file: String,
        /// Where and why it does not parse.
        source: abovo_store::derivation::ParseError,
    },
    /// A file whose name is not a store base name `<hash>-<name>.drv`.
    #[error("`{file}` is not named like a store derivation (`<hash>-<name>.drv`): {source}")]
    BadFileName {
        /// The file, named as in [`LoadError::Parse`].
        file: String,
        /// Why the name is not a store path.
        source: abovo_store::store_path::StorePathError,
    },
    /// A tarball that cannot be read.
    #[error("`{path}` is not a readable tar archive of `.drv` files: {reason}")]
    Tarball {
        /// The archive.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A path that is neither a directory, a tarball nor a snapshot.
    #[error("`{0}` is not a store directory, a .tar.zst of .drv files or an abovo snapshot")]
    UnknownSource(PathBuf),
    /// The source holds no derivation at all (an empty path: files given
    /// in memory).
    #[error("{} holds no `.drv` file", named_or_input(.0))]
    Empty(PathBuf),
    /// A snapshot that cannot be read.
    #[error("snapshot `{path}`: {source}")]
    Snapshot {
        /// The snapshot file.
        path: PathBuf,
        /// What is wrong with it.
        source: crate::snapshot::SnapshotError,
    },
    /// A package table or store metadata file that does not parse.
    #[error("`{path}` line {line}: {reason}")]
    Table {
        /// The TSV file.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// What is wrong on that line.
        reason: String,
    },
    /// A table line longer than any line of a real table.
    #[error("`{path}` line {line} is longer than {limit} bytes")]
    LineTooLong {
        /// The TSV file.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// The longest line allowed.
        limit: usize,
    },
    /// A package-level edge table whose edges go round in a circle.
    #[error("`{}`: the package edges form a cycle through {}", .path.display(), .through.join(", "))]
    PackageCycle {
        /// The edge table.
        path: PathBuf,
        /// Some packages on the cycle or below it (`name@version`).
        through: Vec<String>,
    },
    /// The derivations do not form a valid graph.
    #[error(transparent)]
    Graph(#[from] GraphError),
}

/// Why a set of derivations does not form a graph.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GraphError {
    /// Derivations that depend on themselves through their inputs.
    #[error("the derivations form a cycle: {}", .0.join(" -> "))]
    Cycle(Vec<String>),
    /// A fixed-output derivation whose hash does not parse.
    #[error("`{path}`: fixed output has an invalid hash: {reason}")]
    BadFixedOutput {
        /// The derivation.
        path: String,
        /// Why the hash does not parse.
        reason: String,
    },
    /// A fixed output content-addressed by a method other than flat or
    /// NAR hashing (Nix's experimental `text` and `git` methods).
    #[error(
        "`{path}`: its fixed output is content-addressed by `{method}`, which abovo does not \
         support in a graph (only flat and NAR, `r:`, fixed outputs)"
    )]
    UnsupportedFixedOutput {
        /// The derivation.
        path: String,
        /// The content-address method (`text`, `git`).
        method: &'static str,
    },
    /// The same `.drv` path given twice with different contents.
    #[error("derivation `{0}` is given twice")]
    Duplicate(String),
    /// More nodes or edges than 32-bit ids can number.
    #[error("the graph is too large: {0}")]
    TooLarge(String),
    /// A node kept from a graph built before that has no derivation there
    /// (not a derivation, or its facts unreadable in a damaged snapshot).
    #[error("`{0}` is not a derivation of the graph it is kept from")]
    NotKept(String),
}

/// Why a name does not resolve to exactly one node.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// Nothing matches; `suggestions` are near names.
    #[error("unknown package or derivation `{name}`{}", did_you_mean(.suggestions))]
    Unknown {
        /// The name asked for.
        name: String,
        /// Known names close to it, best first.
        suggestions: Vec<String>,
    },
    /// Several nodes match equally well.
    #[error("`{name}` is ambiguous; it could be any of:{}", list_candidates(.candidates))]
    Ambiguous {
        /// The name asked for.
        name: String,
        /// Every candidate, with what tells it apart from the others.
        candidates: Vec<crate::resolve::Candidate>,
    },
    /// The name is known, but none of its versions starts with `version`.
    #[error("no version of {name} matches {version}; available: {}", list_versions(.available))]
    NoMatchingVersion {
        /// The name asked for (without `@version`).
        name: String,
        /// The version prefix asked for.
        version: String,
        /// The versions there are, newest first.
        available: Vec<String>,
    },
    /// A store path that is in the store directory but not in this graph.
    #[error("`{0}` is not in this graph")]
    NotInGraph(String),
}

fn named_or_input(path: &std::path::Path) -> String {
    if path.as_os_str().is_empty() {
        "the input".to_owned()
    } else {
        format!("`{}`", path.display())
    }
}

/// How many versions a [`ResolveError::NoMatchingVersion`] lists.
const VERSIONS_SHOWN: usize = 12;

fn list_versions(available: &[String]) -> String {
    let shown = &available[..available.len().min(VERSIONS_SHOWN)];
    let mut text = shown.join(", ");
    if available.len() > shown.len() {
        text.push_str(&format!(" and {} older", available.len() - shown.len()));
    }
    text
}

fn list_candidates(candidates: &[crate::resolve::Candidate]) -> String {
    let mut text = String::new();
    for c in candidates {
        text.push_str("\n  ");
        text.push_str(&c.to_string());
    }
    if let Some(first) = candidates.first() {
        text.push_str(&format!("\nname one by its .drv path, e.g. {}", first.path));
    }
    text
}

fn did_you_mean(suggestions: &[String]) -> String {
    if suggestions.is_empty() {
        String::new()
    } else {
        format!("; did you mean {}?", suggestions.join(", "))
    }
}
