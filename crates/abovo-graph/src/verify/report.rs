//! What a verification reports ([`Report`]): the counts, and every
//! mismatch, unparsable, unreadable, unchecked and unbuilt derivation, each
//! serialised in JSON with its field names.

use std::collections::BTreeMap;

/// The most root causes kept per consequence (the nearest changed
/// derivations upstream, in file order): enough to point at the culprit
/// without letting a graph with many edited files grow quadratically.
pub const MAX_CAUSES: usize = 16;

/// A recorded value that differs from the recomputed one.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Mismatch {
    /// The `.drv` file (its store path when the name is one, else the file
    /// name).
    pub drv: String,
    /// What was checked: `bytes`, `store path`, `output "out"`,
    /// `environment variable "out"`.
    pub what: String,
    /// The value recomputed from the content.
    pub recomputed: String,
    /// The value recorded (in the file, or as its name).
    pub recorded: String,
    /// Empty when this mismatch is a root cause; else the derivations
    /// (up to [`MAX_CAUSES`]) whose own mismatch changed the derivation
    /// hash of an input of `drv`, and so this recomputed output path:
    /// `drv`'s own bytes are intact, it mismatches only because it depends
    /// on them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub caused_by: Vec<String>,
}

impl Mismatch {
    /// Whether this mismatch is a root cause rather than a consequence of
    /// one upstream.
    pub fn is_root(&self) -> bool {
        self.caused_by.is_empty()
    }
}

/// A `.drv` file that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Unparsable {
    /// The `.drv` file (its store path when the name is one).
    pub drv: String,
    /// The parser's error: the byte offset and what was expected there.
    pub error: String,
}

/// A `.drv` file that could not be read at all (a dangling link, an I/O
/// error, a file too large).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Unreadable {
    /// The file, by its path.
    pub file: String,
    /// Why it could not be read.
    pub error: String,
}

/// A derivation whose outputs could not be checked.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Unchecked {
    /// The `.drv` file.
    pub drv: String,
    /// Why.
    pub reason: String,
    /// The input at the root of it when the reason lies upstream: the
    /// nearest input (perhaps several levels up) that does not parse, is
    /// missing, or could not be hashed itself. `None` when the reason is
    /// the derivation's own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caused_by: Option<String>,
}

/// A derivation with outputs whose paths are known only after a build.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Unbuilt {
    /// The `.drv` file.
    pub drv: String,
    /// Its outputs of that kind.
    pub outputs: Vec<String>,
    /// Their kind: `floating content-addressed`, `impure` or `deferred`.
    pub kind: &'static str,
    /// Why their paths are not known.
    pub reason: String,
    /// The deferred outputs whose paths can be computed after all (Nix
    /// warns that they should have been filled in), with those paths.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub computable: BTreeMap<String, String>,
}

/// The outcome of a verification, with what was counted.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    /// `.drv` files looked at.
    pub files: usize,
    /// Files that parse.
    pub parsed: usize,
    /// Files whose re-serialisation was compared with their bytes.
    pub round_trips: usize,
    /// `.drv` store paths recomputed.
    pub drv_paths: usize,
    /// Output paths recomputed (each also checked in the environment).
    pub outputs: usize,
    /// Of those, outputs of fixed-output derivations.
    pub fixed_outputs: usize,
    /// Floating content-addressed outputs (no path before the build).
    pub floating_outputs: usize,
    /// Impure outputs (no path before the build).
    pub impure_outputs: usize,
    /// Deferred outputs (input-addressed, no path recorded).
    pub deferred_outputs: usize,
    /// The derivations with outputs of those three kinds, sorted.
    pub unbuilt: Vec<Unbuilt>,
    /// Waves of the memoised hash computation.
    pub waves: usize,
    /// Every mismatch found, sorted by file, then its own checks (`bytes`,
    /// `store path`) before its outputs'; consequences
    /// included (each names its root causes).
    pub mismatches: Vec<Mismatch>,
    /// Files that do not parse, sorted.
    pub unparsable: Vec<Unparsable>,
    /// Derivations whose outputs could not be checked, sorted.
    pub unchecked: Vec<Unchecked>,
    /// Files that could not be read, sorted (filled in by the caller that
    /// read the files; [`verify_files`](super::verify_files) is handed bytes).
    pub unreadable: Vec<Unreadable>,
}

impl Report {
    /// Whether every file parsed, every check passed and every output was
    /// checked.
    pub fn is_clean(&self) -> bool {
        self.mismatches.is_empty()
            && self.unparsable.is_empty()
            && self.unchecked.is_empty()
            && self.unreadable.is_empty()
    }
}
