//! Do independent builders agree? `guix challenge`'s question, with
//! signatures and a policy.
//!
//! For each store item, every substitute server is asked for its narinfo
//! (in parallel, through [`abovo_fetch`]'s one HTTP client, with its
//! timeouts), each signature is checked against the authorised keys
//! ([`abovo_fetch::keys`]), and the `NarHash`es are compared with one
//! another and with the local store's record. An answer counts as
//! *trusted* when a valid signature by an authorised key covers it (the
//! local store is trusted too: it is this machine's own build); the
//! verdict on an item weighs only trusted answers, and a signer is counted
//! once however many servers carry its signatures ("independent"
//! signers: two mirrors of one build farm are one witness).
//!
//! | module | owns |
//! | --- | --- |
//! | [`verdict`] | the verdict on one item from its answers, and the summary |
//! | [`ask`] | asking every server for every item, in parallel, without hanging on a bad one |
//! | [`nar`] | streaming a server's NAR, decompressed and hashed, for `--diff` |
//!
//! # Example: the verdict on three answers
//!
//! ```
//! use abovo_challenge::verdict::{Answer, Found, Standing, Verdict, judge};
//!
//! let found = |hash: &str, signer: &str| Answer::Found(Found {
//!     nar_hash: hash.into(),
//!     nar_size: 120,
//!     standing: Standing::Trusted { signer: signer.into() },
//! });
//! let answers = [found("sha256:aaa", "builder-a-1"), found("sha256:aaa", "builder-b-1"), Answer::Missing];
//! let judged = judge(None, &answers);
//! assert_eq!(judged.verdict, Verdict::Agree);
//! assert_eq!(judged.signers, ["builder-a-1", "builder-b-1"]);
//! ```
#![deny(missing_docs)]

pub mod ask;
pub mod nar;
pub mod verdict;

pub use ask::{Challenger, ItemReport, Report};
pub use verdict::{Answer, Verdict};
