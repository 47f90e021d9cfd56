//! Why a derivation could not be realised ([`BuildError`]), and how a
//! rebuild that differs is described ([`OutputDifference`]).

use crate::diff::Change;
use crate::sandbox::SandboxError;
use crate::store::StoreError;
use abovo_store::Hash;
use std::path::PathBuf;

/// One output whose rebuild differs.
///
/// In JSON its keys are the field names (snake_case, like every abovo report).
#[derive(Debug, Clone, serde::Serialize)]
pub struct OutputDifference {
    /// The output name.
    pub output: String,
    /// The output path.
    pub path: String,
    /// NAR hash of the registered output or of the previous round.
    pub expected: Hash,
    /// NAR hash of the new build.
    pub actual: Hash,
    /// Whether the references differ too (`--rounds` compares them).
    pub references_differ: bool,
    /// Where the other build was kept (`<out>-check`), with `--keep-failed`.
    pub kept: Option<String>,
    /// Every file that differs.
    pub changes: Vec<Change>,
}

/// Why a derivation could not be realised.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The sandbox could not be set up.
    #[error("cannot build `{drv}`: {source}")]
    Sandbox {
        /// The derivation.
        drv: String,
        /// Why.
        #[source]
        source: SandboxError,
    },
    /// Something the build needs is not there (`slirp4netns`).
    #[error("cannot build `{drv}`: {reason}")]
    Unavailable {
        /// The derivation.
        drv: String,
        /// What is missing.
        reason: String,
    },
    /// The remote build service (`abovo build --remote`) failed: it could
    /// not be reached, refused the action, or sent back something wrong.
    #[error("cannot build `{drv}` remotely: {source}")]
    Remote {
        /// The derivation.
        drv: String,
        /// Why (the remote client's error).
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The builder failed.
    #[error("builder for `{drv}` {how}; see the build log: {}{}", log.display(),
        kept.as_ref().map(|k| format!("\n  (build directory kept at {})", k.display())).unwrap_or_default())]
    BuilderFailed {
        /// The derivation.
        drv: String,
        /// What happened (`exited with code 1`).
        how: String,
        /// Its log file.
        log: PathBuf,
        /// The build directory, when kept.
        kept: Option<PathBuf>,
    },
    /// A built-in builder failed.
    #[error("built-in builder `{builtin}` for `{drv}` failed: {reason}")]
    BuiltinFailed {
        /// The derivation.
        drv: String,
        /// The built-in (`download`).
        builtin: String,
        /// Why.
        reason: String,
    },
    /// The builder did not create an output.
    #[error("builder for `{drv}` failed to produce output path `{path}`")]
    MissingOutput {
        /// The derivation.
        drv: String,
        /// The output path.
        path: String,
    },
    /// An output that must not be accepted (group- or world-writable top,
    /// foreign owner, wrong file type).
    #[error("suspicious output `{path}` of `{drv}`: {reason}")]
    Suspicious {
        /// The derivation.
        drv: String,
        /// The output path.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// An output holds a file of a type no store item can hold (a FIFO, a
    /// socket, a device).
    #[error("file `{}` (in an output of `{drv}`) has an unsupported type: it is a {kind}; store items hold only regular files, directories and symlinks", file.display())]
    UnsupportedFileType {
        /// The derivation.
        drv: String,
        /// The file, where it was built.
        file: PathBuf,
        /// Its type.
        kind: &'static str,
    },
    /// A fixed output with the wrong hash; nothing was registered.
    #[error(
        "hash mismatch for store item `{path}` (built by `{drv}`):\n  expected hash: {expected}\n  actual hash:   {actual}"
    )]
    HashMismatch {
        /// The derivation.
        drv: String,
        /// The output path.
        path: String,
        /// The expected hash, `algo:<nix32>`.
        expected: String,
        /// The hash of what was built, `algo:<nix32>`.
        actual: String,
    },
    /// An output refers to a path its derivation forbids.
    #[error("output `{path}` of `{drv}` is not allowed to refer to `{reference}` ({attribute})")]
    ForbiddenReference {
        /// The derivation.
        drv: String,
        /// The output.
        path: String,
        /// The reference.
        reference: String,
        /// The attribute (`allowedReferences`, …).
        attribute: String,
    },
    /// Outputs that refer to each other, which no store can register.
    #[error("cycle detected in the references of `{path}` from `{referrer}` (outputs of `{drv}`)")]
    ReferenceCycle {
        /// The derivation.
        drv: String,
        /// The output met again.
        path: String,
        /// The output that refers to it.
        referrer: String,
    },
    /// The rebuild differs from the registered output or the previous round.
    #[error("derivation `{drv}` may not be deterministic:{}", describe_differences(.differences, *.against_previous_round))]
    NotDeterministic {
        /// The derivation.
        drv: String,
        /// True for `--rounds`, false for `--check`.
        against_previous_round: bool,
        /// Every output that differs.
        differences: Vec<OutputDifference>,
    },
    /// `--check` on a derivation whose outputs are not all valid.
    #[error("some outputs of `{drv}` are not valid, so checking is not possible (build it first)")]
    CheckNotPossible {
        /// The derivation.
        drv: String,
    },
    /// An input is not valid.
    #[error("input `{input}` of `{drv}` is not valid (hint: add it with `abovo add` or build it)")]
    InputNotValid {
        /// The derivation.
        drv: String,
        /// The input.
        input: String,
    },
    /// A derivation it depends on failed.
    #[error("cannot build `{drv}`: its input `{dependency}` failed")]
    DependencyFailed {
        /// The derivation.
        drv: String,
        /// The failed input derivation.
        dependency: String,
    },
    /// The derivation is for a system this machine cannot run.
    #[error("a `{system}` is required to build `{drv}`, but I am a `{host}`")]
    UnsupportedSystem {
        /// The derivation.
        drv: String,
        /// Its system.
        system: String,
        /// This machine's system.
        host: String,
    },
    /// Something the derivation asks for is malformed.
    #[error("derivation `{drv}`: {reason}")]
    BadDerivation {
        /// The derivation.
        drv: String,
        /// What is wrong.
        reason: String,
    },
    /// A file operation failed.
    #[error(transparent)]
    Fs(#[from] crate::fsutil::FsError),
    /// The directory that holds the build directories is not abovo's
    /// alone ([`build_dir`](crate::build::build_dir)).
    #[error(
        "refusing to build in `{}`: {reason} (hint: remove it, or set TMPDIR to a directory of your own)",
        path.display()
    )]
    UnsafeBuildArea {
        /// The build area.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Something abovo cannot build yet, named.
    #[error("cannot build `{drv}`: abovo does not support {what}")]
    Unsupported {
        /// The derivation.
        drv: String,
        /// What it does not support.
        what: String,
    },
    /// The derivation breaks a rule every derivation must follow.
    #[error("`{drv}` is not a valid derivation: {reason}")]
    Invalid {
        /// The derivation.
        drv: String,
        /// The rule it breaks.
        reason: String,
    },
}

fn describe_differences(differences: &[OutputDifference], rounds: bool) -> String {
    let mut s = String::new();
    for d in differences {
        let kept = d
            .kept
            .as_ref()
            .map(|k| format!(" (kept at {k})"))
            .unwrap_or_default();
        let changes = match d.changes.len() {
            0 if d.references_differ => "only its references differ".to_owned(),
            0 => "its NAR hash differs".to_owned(),
            1 => "1 difference".to_owned(),
            n => format!("{n} differences"),
        };
        s.push_str(&format!(
            "\n  output `{}` differs from {}{kept}: {changes}",
            d.path,
            if rounds {
                "the previous round"
            } else {
                "the registered output"
            },
        ));
        for c in &d.changes {
            s.push_str(&format!("\n    {}", c.summary()));
        }
    }
    s
}

impl BuildError {
    /// Whether this is a reproducibility failure (a negative answer rather
    /// than an error).
    pub fn is_not_deterministic(&self) -> bool {
        matches!(self, BuildError::NotDeterministic { .. })
    }
}

/// A failed system call in a build is an error of the store it builds in.
impl From<crate::IoError> for BuildError {
    fn from(e: crate::IoError) -> Self {
        BuildError::Store(e.into())
    }
}
