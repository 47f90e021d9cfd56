//! Who signed a seed's bytes: narinfos from substitute servers, each judged
//! against the authorised keys and against the seed's own NAR hash.
//!
//! A signature vouches for a NAR hash, not for a store path: a narinfo
//! counts as a signature of the seed's bytes only when its signature
//! verifies with an authorised key ([`abovo_fetch::keys`]) *and* its
//! `NarHash` is the NAR hash of the seed's bytes. That hash is known
//! without the bytes when the seed is a recursive SHA-256 fixed output
//! (its hash is the NAR hash) or an input source whose NAR hash the store
//! records; a flat fixed output's NAR hash is computed from its bytes, when
//! they are at hand, in both executable modes (a download does not carry
//! the store item's mode; see [`crate::bytes`]). With no bytes, a valid
//! signature is [`Verdict::Unverified`]: it names a NAR hash that nothing
//! here can compare.
//!
//! The narinfos come from two places: the ones `abovo fetch` kept with an
//! item in its cache ([`abovo_fetch::cache::Record::narinfos`], judged
//! again now, offline, against the keys of this run), and the ones the
//! caller asked servers for now ([`Seen::Asked`]).

use crate::classify::{Classification, Origin, SeedFacts, Seeds};
use abovo_fetch::keys::{AuthorizedKeys, Refusal};
use abovo_graph::Graph;
use abovo_store::narinfo::NarInfo;
use abovo_store::{Hash, HashAlgo};
use serde::Serialize;

/// The verdict on one narinfo of a seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Signed by an authorised key, and its `NarHash` is the seed's bytes.
    Signed,
    /// Signed by an authorised key, but the seed's NAR hash is not known
    /// here (a flat fixed output whose bytes are not at hand).
    Unverified,
    /// Its `NarHash` (or store path) is not the seed's, whoever signed it.
    Mismatch,
    /// It carries no signature.
    Unsigned,
    /// Valid signatures, by keys that are not authorised.
    Untrusted,
    /// A signature does not verify: the text was changed, or forged.
    Invalid,
    /// The server has no narinfo for the seed.
    Missing,
    /// The server could not be asked, or its answer could not be read.
    Failed,
}

impl Verdict {
    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Signed => "signed",
            Verdict::Unverified => "unverified",
            Verdict::Mismatch => "mismatch",
            Verdict::Unsigned => "unsigned",
            Verdict::Untrusted => "untrusted",
            Verdict::Invalid => "invalid",
            Verdict::Missing => "missing",
            Verdict::Failed => "failed",
        }
    }
}

/// Where a narinfo was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Seen {
    /// Kept in abovo's fetch cache when the item was fetched.
    Fetch,
    /// Asked of the server in this run.
    Asked,
}

/// One server's word on a seed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Signature {
    /// The server's base URL.
    pub server: String,
    /// The key: the authorised signer (`guix:<hex>` for a Guix key, the
    /// name for a Nix key), or the keys that are not authorised.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The verdict.
    pub verdict: Verdict,
    /// The narinfo's `NarHash` (`sha256:<nix32>`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nar_hash: Option<String>,
    /// Why, when it is not a signature of the bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// Where it was seen.
    pub seen: Seen,
}

impl Signature {
    /// A server's answer that carries no narinfo (`Missing`, `Failed`).
    pub fn without_narinfo(server: &str, verdict: Verdict, why: Option<String>) -> Signature {
        Signature {
            server: server.to_owned(),
            key: None,
            verdict,
            nar_hash: None,
            why,
            seen: Seen::Asked,
        }
    }
}

/// Judges `info`, served by `server` for the seed at `store_path`, against
/// `keys` and the seed's NAR hashes (`None`: not known).
pub fn judge(
    server: &str,
    store_path: &str,
    info: &NarInfo,
    keys: &AuthorizedKeys,
    nar: Option<&[Hash]>,
    seen: Seen,
) -> Signature {
    let checked = keys.check(info);
    let mut key = match &checked {
        Ok(k) | Err(Refusal::UnknownKey(k)) => Some(k.clone()),
        Err(_) => None,
    };
    let (verdict, why) = if info.store_path != store_path {
        (
            Verdict::Mismatch,
            Some(format!("the narinfo describes `{}`", info.store_path)),
        )
    } else {
        match (checked, nar) {
            (_, Some(hashes)) if !hashes.contains(&info.nar_hash) => (
                Verdict::Mismatch,
                Some(format!(
                    "its NarHash is not the seed's ({})",
                    hashes
                        .iter()
                        .map(Hash::to_string)
                        .collect::<Vec<_>>()
                        .join(" or ")
                )),
            ),
            (Ok(_), Some(_)) => (Verdict::Signed, None),
            (Ok(_), None) => (
                Verdict::Unverified,
                Some("the seed's bytes are not at hand to check its NarHash against".into()),
            ),
            (Err(Refusal::Unsigned), _) => (Verdict::Unsigned, None),
            (Err(Refusal::Invalid(why)), _) => {
                key = None;
                (Verdict::Invalid, Some(why))
            }
            (Err(other), _) => (Verdict::Untrusted, Some(other.to_string())),
        }
    };
    Signature {
        server: server.to_owned(),
        key,
        verdict,
        nar_hash: Some(info.nar_hash.to_string()),
        why,
        seen,
    }
}

/// Judges a narinfo's text (kept as served); one that does not parse is
/// [`Verdict::Failed`].
pub fn judge_text(
    server: &str,
    store_path: &str,
    text: &str,
    keys: &AuthorizedKeys,
    nar: Option<&[Hash]>,
    seen: Seen,
) -> Signature {
    match NarInfo::parse(text) {
        Ok(info) => judge(server, store_path, &info, keys, nar, seen),
        Err(e) => Signature {
            server: server.to_owned(),
            key: None,
            verdict: Verdict::Failed,
            nar_hash: None,
            why: Some(format!("the narinfo does not parse: {e}")),
            seen,
        },
    }
}

/// The independent signers of a seed's bytes: the distinct keys of its
/// [`Verdict::Signed`] signatures (two servers carrying one key's
/// signatures are one witness), sorted.
pub fn signers(signatures: &[Signature]) -> Vec<&str> {
    let mut keys: Vec<&str> = signatures
        .iter()
        .filter(|s| s.verdict == Verdict::Signed)
        .filter_map(|s| s.key.as_deref())
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

impl Seeds {
    /// What a narinfo's `NarHash` must be for `facts`' bytes: the
    /// recursive SHA-256 fixed-output hash; else the NAR hash the store
    /// records for an input source; else the NAR hashes of the bytes found
    /// (`class.bytes_at`, in both executable modes for a single file).
    /// `None` when nothing tells.
    pub fn seed_nar(
        &self,
        g: &Graph,
        facts: &SeedFacts,
        class: &Classification,
    ) -> Option<Vec<Hash>> {
        if let Some(f) = &facts.fixed {
            if f.recursive && f.hash.algo() == HashAlgo::Sha256 {
                return Some(vec![f.hash]);
            }
        }
        if facts.origin == Origin::InputSource {
            let recorded = g.meta().nar_hash(facts.node).or_else(|| {
                self.sizes
                    .db_row(&facts.store_path)
                    .ok()
                    .flatten()
                    .and_then(|r| r.nar_hash)
            });
            if let Some(h) = recorded {
                return Some(vec![h]);
            }
        }
        let path = class.bytes_at.as_deref()?;
        crate::bytes::nar_hashes_either_mode(path).ok()
    }

    /// The signatures of the narinfos that `abovo fetch` kept with the
    /// seed's item in the cache, judged now against `self.keys` (none
    /// when there is no cache, no item or no narinfo).
    pub fn kept_signatures(
        &self,
        g: &Graph,
        facts: &SeedFacts,
        class: &Classification,
    ) -> Vec<Signature> {
        let Some(record) = self.cache_record(facts.base_name()) else {
            return Vec::new();
        };
        if record.narinfos.is_empty() || record.store_path != facts.store_path {
            return Vec::new();
        }
        let nar = self.seed_nar(g, facts, class);
        record
            .narinfos
            .iter()
            .map(|n| {
                judge_text(
                    &n.server,
                    &facts.store_path,
                    &n.text,
                    &self.keys,
                    nar.as_deref(),
                    Seen::Fetch,
                )
            })
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests;
