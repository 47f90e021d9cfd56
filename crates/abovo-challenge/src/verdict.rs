//! The verdict on one store item, from what the local store and each
//! server said about it.
//!
//! Only *trusted* answers decide: the local store's record and narinfos
//! with a valid signature by an authorised key. Among them:
//!
//! | trusted answers | verdict |
//! | --- | --- |
//! | two or more `NarHash`es | [`Verdict::Differ`] |
//! | one `NarHash`, two or more independent signers | [`Verdict::Agree`] |
//! | one `NarHash`, one signer | [`Verdict::OnlyOne`] |
//! | none, but an unsigned narinfo | [`Verdict::Unsigned`] |
//! | none, but one signed by a key not authorised | [`Verdict::Untrusted`] |
//! | none at all | [`Verdict::Unavailable`] |
//!
//! An untrusted answer that contradicts the trusted ones is not ignored:
//! [`Judged::groups`] shows every hash with who gave it.

use serde::Serialize;

/// The name the local store signs as (it is one witness, this machine).
pub const LOCAL: &str = "local";

/// How a narinfo's signatures stand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "standing", rename_all = "kebab-case")]
pub enum Standing {
    /// A valid signature by an authorised key.
    Trusted {
        /// The signer: a Nix key name, or `guix:<hex of the key>`.
        signer: String,
    },
    /// No signature.
    Unsigned,
    /// Valid signatures, by keys that are not authorised.
    Untrusted {
        /// Which keys.
        why: String,
    },
}

/// What a server's narinfo says of the item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Found {
    /// `NarHash`, as the narinfo writes it (`sha256:<nix32>`).
    pub nar_hash: String,
    /// `NarSize`.
    pub nar_size: u64,
    /// Its signatures.
    #[serde(flatten)]
    pub standing: Standing,
}

/// One server's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "answer", rename_all = "kebab-case")]
pub enum Answer {
    /// A narinfo that parsed and describes the item.
    Found(Found),
    /// The server does not have the item (404).
    Missing,
    /// The server could not be asked, or its answer was refused (a bad
    /// signature, a malformed narinfo, a timeout): why.
    Failed {
        /// What went wrong.
        error: String,
    },
}

/// The verdict on one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Trusted answers disagree.
    Differ,
    /// Two or more independent signers agree.
    Agree,
    /// A single trusted signer vouches for it.
    OnlyOne,
    /// Only unsigned narinfos.
    Unsigned,
    /// Only narinfos signed by keys that are not authorised.
    Untrusted,
    /// No one has it.
    Unavailable,
}

impl Verdict {
    /// Every verdict, in the order reports list them.
    pub const ALL: [Verdict; 6] = [
        Verdict::Agree,
        Verdict::Differ,
        Verdict::OnlyOne,
        Verdict::Unsigned,
        Verdict::Untrusted,
        Verdict::Unavailable,
    ];

    /// Its name in reports (`only-one`).
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Differ => "differ",
            Verdict::Agree => "agree",
            Verdict::OnlyOne => "only-one",
            Verdict::Unsigned => "unsigned",
            Verdict::Untrusted => "untrusted",
            Verdict::Unavailable => "unavailable",
        }
    }
}

/// The sources that gave one `NarHash`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Group {
    /// The hash.
    pub nar_hash: String,
    /// Who gave it: [`LOCAL`] or server indices, as `#0`, `#1`, … are
    /// resolved by the caller; here, the positions in the answers
    /// (`None` for the local store).
    pub sources: Vec<Option<usize>>,
    /// The trusted signers among them (each once).
    pub signers: Vec<String>,
    /// Whether any of them is trusted.
    pub trusted: bool,
}

/// The verdict and what it rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Judged {
    /// The verdict.
    pub verdict: Verdict,
    /// The independent signers of the hash that trusted answers agree on
    /// (empty unless the verdict is `agree` or `only-one`), sorted.
    pub signers: Vec<String>,
    /// Every hash given, trusted ones first, each with its sources.
    pub groups: Vec<Group>,
}

/// Judges an item from the local store's `NarHash` (if it has the item)
/// and the servers' answers.
pub fn judge(local: Option<&str>, answers: &[Answer]) -> Judged {
    let mut groups: Vec<Group> = Vec::new();
    let mut add = |hash: &str, source: Option<usize>, signer: Option<&str>| {
        let g = match groups.iter_mut().position(|g| g.nar_hash == hash) {
            Some(i) => &mut groups[i],
            None => {
                groups.push(Group {
                    nar_hash: hash.to_owned(),
                    sources: Vec::new(),
                    signers: Vec::new(),
                    trusted: false,
                });
                groups.last_mut().expect("just pushed")
            }
        };
        g.sources.push(source);
        if let Some(s) = signer {
            g.trusted = true;
            if !g.signers.iter().any(|x| x == s) {
                g.signers.push(s.to_owned());
            }
        }
    };
    if let Some(h) = local {
        add(h, None, Some(LOCAL));
    }
    let (mut unsigned, mut untrusted) = (false, false);
    for (i, a) in answers.iter().enumerate() {
        if let Answer::Found(f) = a {
            let signer = match &f.standing {
                Standing::Trusted { signer } => Some(signer.as_str()),
                Standing::Unsigned => {
                    unsigned = true;
                    None
                }
                Standing::Untrusted { .. } => {
                    untrusted = true;
                    None
                }
            };
            add(&f.nar_hash, Some(i), signer);
        }
    }
    for g in &mut groups {
        g.signers.sort();
    }
    // Trusted hashes first, the best-vouched first.
    groups.sort_by(|a, b| {
        b.trusted
            .cmp(&a.trusted)
            .then(b.signers.len().cmp(&a.signers.len()))
    });
    let trusted: Vec<&Group> = groups.iter().filter(|g| g.trusted).collect();
    let (verdict, signers) = match trusted.as_slice() {
        [] if unsigned => (Verdict::Unsigned, Vec::new()),
        [] if untrusted => (Verdict::Untrusted, Vec::new()),
        [] => (Verdict::Unavailable, Vec::new()),
        [one] if one.signers.len() >= 2 => (Verdict::Agree, one.signers.clone()),
        [one] => (Verdict::OnlyOne, one.signers.clone()),
        _ => (Verdict::Differ, Vec::new()),
    };
    Judged {
        verdict,
        signers,
        groups,
    }
}

/// Whether `judged` meets `--require K`: at least `k` independent signers
/// agree (and nothing trusted disagrees).
pub fn meets(judged: &Judged, k: usize) -> bool {
    matches!(judged.verdict, Verdict::Agree | Verdict::OnlyOne) && judged.signers.len() >= k
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn found(hash: &str, standing: Standing) -> Answer {
        Answer::Found(Found {
            nar_hash: hash.into(),
            nar_size: 1,
            standing,
        })
    }
    fn by(s: &str) -> Standing {
        Standing::Trusted { signer: s.into() }
    }

    #[test]
    fn every_verdict() {
        let cases = [
            (
                None,
                vec![found("h1", by("a")), found("h1", by("b"))],
                Verdict::Agree,
                2,
            ),
            (Some("h1"), vec![found("h1", by("a"))], Verdict::Agree, 2),
            (Some("h1"), vec![found("h2", by("a"))], Verdict::Differ, 0),
            (
                None,
                vec![found("h1", by("a")), Answer::Missing],
                Verdict::OnlyOne,
                1,
            ),
            // One key on two servers is one witness.
            (
                None,
                vec![found("h1", by("a")), found("h1", by("a"))],
                Verdict::OnlyOne,
                1,
            ),
            (
                None,
                vec![found("h1", Standing::Unsigned), Answer::Missing],
                Verdict::Unsigned,
                0,
            ),
            (
                None,
                vec![found("h1", Standing::Untrusted { why: "k".into() })],
                Verdict::Untrusted,
                0,
            ),
            (
                None,
                vec![
                    Answer::Missing,
                    Answer::Failed {
                        error: "timeout".into(),
                    },
                ],
                Verdict::Unavailable,
                0,
            ),
            (None, vec![], Verdict::Unavailable, 0),
        ];
        for (local, answers, verdict, signers) in cases {
            let j = judge(local, &answers);
            assert_eq!(j.verdict, verdict, "{local:?} {answers:?}");
            assert_eq!(j.signers.len(), signers, "{local:?} {answers:?}");
        }
    }

    #[test]
    fn an_untrusted_contradiction_is_shown_but_does_not_decide() {
        let j = judge(
            None,
            &[
                found("h1", by("a")),
                found("h2", Standing::Unsigned),
                found("h1", by("b")),
            ],
        );
        assert_eq!(j.verdict, Verdict::Agree);
        assert_eq!(j.groups.len(), 2);
        assert_eq!(j.groups[0].sources, [Some(0), Some(2)]);
        assert!(!j.groups[1].trusted);
        assert!(meets(&j, 2) && !meets(&j, 3));
    }

    proptest! {
        /// The verdict depends on the answers, not on their order, and
        /// `--require K` holds exactly when K distinct signers share the
        /// only trusted hash.
        #[test]
        fn verdicts_are_order_free(picks in proptest::collection::vec((0u8..3, 0u8..5), 0..8)) {
            let answers: Vec<Answer> = picks.iter().map(|&(h, s)| match s {
                0 => Answer::Missing,
                1 => found(&format!("h{h}"), Standing::Unsigned),
                _ => found(&format!("h{h}"), by(&format!("k{s}"))),
            }).collect();
            let j = judge(None, &answers);
            let mut rev = answers.clone();
            rev.reverse();
            let r = judge(None, &rev);
            prop_assert_eq!(j.verdict, r.verdict);
            prop_assert_eq!(&j.signers, &r.signers);
            let hashes: std::collections::BTreeSet<String> = answers.iter().filter_map(|a| match a {
                Answer::Found(Found { nar_hash, standing: Standing::Trusted { .. }, .. }) => Some(nar_hash.clone()),
                _ => None,
            }).collect();
            prop_assert_eq!(j.verdict == Verdict::Differ, hashes.len() >= 2);
            for k in 1..4 {
                let signers: std::collections::BTreeSet<&str> = answers.iter().filter_map(|a| match a {
                    Answer::Found(Found { standing: Standing::Trusted { signer }, .. }) => Some(signer.as_str()),
                    _ => None,
                }).collect();
                prop_assert_eq!(meets(&j, k), hashes.len() == 1 && signers.len() >= k);
            }
        }
    }
}
