//! Who signed each seed's bytes, as the trust reports say it: the
//! `signed by` line, the refused answers worth reading, the closing table
//! of totals (text), and the same in HTML. The judging itself is
//! [`abovo_trust::signatures`]; asking the servers is
//! [`crate::commands::signers`].

use crate::output::sanitize;
use crate::report::esc;
use crate::report::text::{Table, count, plural};
use abovo_trust::signatures::{self, Signature, Verdict};
use std::fmt::Write as _;

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

/// The title of the signature totals, in text and HTML.
const TOTALS_TITLE: &str = "Signatures (independent authorised signers of each seed's bytes)";

/// The header and rows of the signature totals: per group, how many seeds,
/// how many were asked about or kept, how many have at least one and at
/// least two independent signers. `None` when no seed has any signature
/// information.
fn totals(groups: &[Group<'_>]) -> Option<Vec<[String; 5]>> {
    if groups.iter().all(|(_, g)| g.iter().all(|s| s.is_empty())) {
        return None;
    }
    let mut rows = vec![[
        "seeds".into(),
        "count".into(),
        "asked or kept".into(),
        "≥ 1 signer".into(),
        "≥ 2 signers".into(),
    ]];
    for (name, sigs) in groups {
        let n = |k: usize| sigs.iter().filter(|s| signers_of(s) >= k).count() as u64;
        rows.push([
            (*name).to_owned(),
            count(sigs.len() as u64),
            count(sigs.iter().filter(|s| !s.is_empty()).count() as u64),
            count(n(1)),
            count(n(2)),
        ]);
    }
    Some(rows)
}

/// The closing table of signature totals in text (nothing when no seed has
/// any signature information).
pub fn push_totals(o: &mut String, groups: &[Group<'_>], style: &dyn Fn(&str, &str) -> String) {
    let Some(rows) = totals(groups) else {
        return;
    };
    o.push_str(&format!("\n{}\n", style("1", TOTALS_TITLE)));
    let mut t = Table::name_and_numbers(4);
    for row in rows {
        t.row(row.into_iter().map(|c| (c, "")).collect());
    }
    o.push_str(&t.render("  ", style));
}

/// The signature totals as an HTML section (empty when no seed has any
/// signature information).
pub fn html_totals(groups: &[Group<'_>]) -> String {
    let Some(rows) = totals(groups) else {
        return String::new();
    };
    let mut b = format!("<h2>{}</h2><table>", esc(TOTALS_TITLE));
    for (i, row) in rows.iter().enumerate() {
        let (open, close) = if i == 0 {
            ("<th>", "</th>")
        } else {
            ("<td class=\"num\">", "</td>")
        };
        b.push_str("<tr>");
        for (j, cell) in row.iter().enumerate() {
            let open = if i > 0 && j == 0 { "<td>" } else { open };
            let _ = write!(b, "{open}{}{close}", esc(cell));
        }
        b.push_str("</tr>");
    }
    b.push_str("</table>");
    b
}

/// Who signed a seed's bytes, for its cell in an HTML report: the
/// `signed by` line, then every server's answer (verdict, key, why) in a
/// table to unfold. Empty when nobody was asked and nothing was kept.
pub fn html_cell(sigs: &[Signature]) -> String {
    let Some(by) = signed_by(sigs) else {
        return String::new();
    };
    let mut b = format!(
        "<div class=\"why\">signed by: {}</div><details><summary>{}</summary><table>\
         <tr><th>server</th><th>verdict</th><th>key</th><th>why</th></tr>",
        esc(&by),
        plural(sigs.len(), "answer", "answers")
    );
    for s in sigs {
        let _ = write!(
            b,
            "<tr><td class=\"mono\">{}</td><td>{}</td><td class=\"mono\">{}</td><td class=\"why\">{}</td></tr>",
            esc(&s.server),
            esc(s.verdict.name()),
            esc(s.key.as_deref().unwrap_or("")),
            esc(s.why.as_deref().unwrap_or(""))
        );
    }
    b.push_str("</table></details>");
    b
}

/// How many independent authorised signers `sigs` have.
pub fn signers_of(sigs: &[Signature]) -> usize {
    signatures::signers(sigs).len()
}
