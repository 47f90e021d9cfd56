//! Who signed each seed's bytes, as the trust reports say it: the
//! `signed by` line, the refused answers worth reading, the closing table
//! of totals (text), and the same in HTML. The judging itself is
//! [`abovo_trust::signatures`]; asking the servers is
//! [`crate::commands::signers`].

use crate::output::sanitize;
use crate::report::text::{Align, Table, count};
use abovo_trust::signatures::{self, Signature, Verdict};

/// The `signed by` text of a seed: its independent signers with their
/// servers, then how many other answers there were of each verdict; `None`
/// when nobody was asked and nothing was kept.
pub fn signed_by(sigs: &[Signature]) -> Option<String> {
    if sigs.is_empty() {
        return None;
    }
    let mut parts: Vec<String> = signatures::signers(sigs)
        .into_iter()
        .map(|key| {
            let mut servers: Vec<&str> = sigs
                .iter()
                .filter(|s| s.verdict == Verdict::Signed && s.key.as_deref() == Some(key))
                .map(|s| s.server.as_str())
                .collect();
            servers.dedup();
            format!("{} ({})", sanitize(key), sanitize(&servers.join(", ")))
        })
        .collect();
    if parts.is_empty() {
        parts.push("nobody".into());
    }
    let mut others: Vec<Verdict> = sigs
        .iter()
        .map(|s| s.verdict)
        .filter(|&v| v != Verdict::Signed)
        .collect();
    others.sort();
    let mut rest = Vec::new();
    for v in [
        Verdict::Unverified,
        Verdict::Mismatch,
        Verdict::Invalid,
        Verdict::Untrusted,
        Verdict::Unsigned,
        Verdict::Missing,
        Verdict::Failed,
    ] {
        let n = others.iter().filter(|&&o| o == v).count();
        if n > 0 {
            rest.push(format!("{} {}", count(n as u64), v.name()));
        }
    }
    let mut out = parts.join("; ");
    if !rest.is_empty() {
        out.push_str(&format!(" — also {}", rest.join(", ")));
    }
    Some(out)
}

/// The lines of a seed's non-signatures worth reading (mismatch, invalid,
/// untrusted), each with its server and why.
pub fn refused_lines(sigs: &[Signature]) -> Vec<String> {
    sigs.iter()
        .filter(|s| {
            matches!(
                s.verdict,
                Verdict::Mismatch | Verdict::Invalid | Verdict::Untrusted | Verdict::Unverified
            )
        })
        .map(|s| {
            format!(
                "{} from {}: {}",
                s.verdict.name(),
                sanitize(&s.server),
                sanitize(s.why.as_deref().unwrap_or(""))
            )
        })
        .collect()
}

/// A group of seeds for the signature totals: its name and its seeds'
/// signatures.
pub type Group<'a> = (&'a str, Vec<&'a [Signature]>);

/// The closing table of signature totals (nothing when no seed has any
/// signature information): per group, how many seeds, how many with at
/// least one and at least two independent signers.
pub fn push_totals(o: &mut String, groups: &[Group<'_>], style: &dyn Fn(&str, &str) -> String) {
    if groups.iter().all(|(_, g)| g.iter().all(|s| s.is_empty())) {
        return;
    }
    o.push_str(&format!(
        "\n{}\n",
        style(
            "1",
            "Signatures (independent authorised signers of each seed's bytes)"
        )
    ));
    let mut t = Table::new(&[
        (Align::Left, usize::MAX),
        (Align::Right, usize::MAX),
        (Align::Right, usize::MAX),
        (Align::Right, usize::MAX),
        (Align::Right, usize::MAX),
    ]);
    t.row(vec![
        ("seeds".into(), ""),
        ("count".into(), ""),
        ("asked or kept".into(), ""),
        ("≥ 1 signer".into(), ""),
        ("≥ 2 signers".into(), ""),
    ]);
    for (name, sigs) in groups {
        let n = |k: usize| sigs.iter().filter(|s| signers_of(s) >= k).count() as u64;
        t.row(vec![
            ((*name).to_owned(), ""),
            (count(sigs.len() as u64), ""),
            (
                count(sigs.iter().filter(|s| !s.is_empty()).count() as u64),
                "",
            ),
            (count(n(1)), ""),
            (count(n(2)), ""),
        ]);
    }
    o.push_str(&t.render("  ", style));
}

/// How many independent authorised signers `sigs` have.
pub fn signers_of(sigs: &[Signature]) -> usize {
    signatures::signers(sigs).len()
}
