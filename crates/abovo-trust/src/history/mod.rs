//! Trust over time: what changed in the trust base between two revisions
//! (`abovo seeds TARGET --against OLD`, `abovo audit --against OLD`).
//!
//! Two reports, computed on their own graphs with the same classifier, are
//! compared seed by seed:
//!
//! - **unchanged**: the same content in both: the same fixed-output hash
//!   (algorithm, digest, recursive or flat), else the same store base name
//!   (input sources). The hash, not the store path, decides, so a seed is
//!   the same in a Nix and a Guix graph, and under another file name.
//! - **changed**: a seed gone and a seed come that play the same *role*
//!   ([`SeedKey`]): the same knowledge-base entry once versions are set
//!   aside (`guile-… (x86_64-linux bootstrap Guile)`), else the same name
//!   once versions and archive extensions are set aside
//!   (`stage0-posix-1.4.tar.gz` → `stage0-posix-1.6.0.tar.gz`,
//!   `hello-2.10.tar.gz` → `hello-2.12.2.tar.gz`). Two seeds that the
//!   knowledge base names differently never pair (the i686 and armhf
//!   `bash`). When several play one role, the newest pair first.
//! - **added** and **removed**: the rest.
//!
//! For the audit, packages are matched by name across versions
//! ([`match_packages`]), and every matched package's binary seeds are
//! compared: what it gained, lost, or rests on in another version, each
//! with a shortest path (in the graph the seed is in) from the package.
//!
//! [`FailOn`] is the guard for CI: [`SeedsComparison::violations`] and
//! [`AuditComparison::violations`] list what makes it fail.
//!
//! | module | owns |
//! | --- | --- |
//! | [`roles`] | what identifies a seed across revisions ([`SeedKey`]) and how two seed lists pair up ([`pair`]) |
//! | [`seeds`] | one target's trust reports compared ([`compare_seeds`]) |
//! | [`audit`] | two audits compared: packages matched by name, and their binary seeds ([`compare_audits`]) |
//! | [`guard`] | the guard for CI: [`FailOn`] and the [`Violation`]s it finds |

pub mod audit;
pub mod guard;
pub mod roles;
pub mod seeds;

pub use audit::{
    AuditComparison, AuditSeedChange, AuditSeedSide, AuditSide, PackageChange, Revision, SeedPath,
    SeedSwap, compare_audits, match_packages, package_name,
};
pub use guard::{FailOn, Violation};
pub use roles::{Pairing, SeedKey, known_role, name_role, pair};
pub use seeds::{BinaryBytes, KindChanges, SeedChange, SeedsComparison, TargetSide, compare_seeds};

use serde::Serialize;

/// What happened to a seed between the old and the new revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    /// Only in the new revision.
    Added,
    /// Only in the old revision.
    Removed,
    /// Another seed in the same role: other content (hash) or version.
    Changed,
    /// The same content in both.
    Unchanged,
}

impl Change {
    /// The name reports use.
    pub fn name(self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Removed => "removed",
            Change::Changed => "changed",
            Change::Unchanged => "unchanged",
        }
    }
}
