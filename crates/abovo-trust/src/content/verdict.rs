//! The end of a scan: the verdict ([`Kind`]) and the report.
//!
//! A single file is what its bytes are. A container or tree is `binary`
//! when executable members are at least half of its bytes,
//! `source-with-binaries` when there are some but fewer; else `generated`
//! when machine-made text is most of its text, `unknown` when opaque data
//! is most of it, else `source`. A scan that could not finish and found no
//! executable code says `unknown`: what was not seen cannot be vouched for.

use super::scan::{Leaf, Scan};
use super::{CodeTally, ContentReport};
use crate::kind::Kind;

/// `1982256` → `1,982,256`: summaries are read by people.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Decides the kind and writes the report; `container_format` names what
/// the input was when the scan did not start from a stream (`directory`).
pub(super) fn finish(mut scan: Scan<'_>, container_format: &str) -> ContentReport {
    if let Some(reason) = scan.budget.stopped() {
        scan.complete = false;
        scan.issues.push(reason);
    }
    let mut format = scan.format.join(", ");
    if !container_format.is_empty() {
        format = container_format.to_owned();
    }
    let (kind, summary) = verdict(&scan);
    ContentReport {
        kind,
        summary,
        format,
        files: scan.files,
        bytes: scan.bytes,
        binary: scan.binary,
        generated: scan.generated,
        source: scan.source,
        data: scan.data,
        opaque: scan.opaque,
        code_kinds: scan
            .code_kinds
            .iter()
            .map(|(&kind, &tally)| CodeTally {
                kind,
                class: kind.class(),
                files: tally.files,
                bytes: tally.bytes,
            })
            .collect(),
        binary_members: scan.binary_members,
        generated_members: scan.generated_members,
        opaque_members: scan.opaque_members,
        complete: scan.complete,
        issues: scan.issues,
    }
}

fn verdict(scan: &Scan<'_>) -> (Kind, String) {
    let incomplete = if scan.complete {
        ""
    } else {
        " (scan incomplete)"
    };
    if !scan.container_seen {
        if let Some(leaf) = &scan.top_leaf {
            return match leaf {
                Leaf::Code(c) => (Kind::Binary, format!("{}{incomplete}", c.what)),
                _ if !scan.complete => (
                    Kind::Unknown,
                    "the scan could not finish and found no executable code".to_owned(),
                ),
                Leaf::Generated(why) => (Kind::Generated, why.clone()),
                Leaf::Text => (Kind::Source, "text".to_owned()),
                Leaf::Data(d) => (Kind::Source, format!("{d} (data, not executable code)")),
                Leaf::Opaque(why) => (
                    Kind::Unknown,
                    format!("{why}: not a known executable, archive or data format"),
                ),
            };
        }
        return (Kind::Unknown, "nothing could be read".to_owned());
    }
    if scan.binary.files > 0 {
        let share = scan.binary.bytes * 100 / scan.bytes.max(1);
        let counts = format!(
            "{} of {} {} executable code ({} of {} bytes, {share}%){incomplete}",
            thousands(scan.binary.files),
            thousands(scan.files),
            match (scan.files, scan.binary.files) {
                (1, _) => "file is",
                (_, 1) => "files is",
                _ => "files are",
            },
            thousands(scan.binary.bytes),
            thousands(scan.bytes)
        );
        return if scan.binary.bytes * 2 >= scan.bytes {
            (Kind::Binary, counts)
        } else {
            (Kind::SourceWithBinaries, counts)
        };
    }
    if !scan.complete {
        return (
            Kind::Unknown,
            "the scan could not finish and found no executable code".to_owned(),
        );
    }
    if scan.files == 0 {
        return (Kind::Source, "empty".to_owned());
    }
    if scan.opaque.bytes * 2 > scan.bytes {
        return (
            Kind::Unknown,
            format!(
                "{} of {} bytes are unrecognised binary data",
                thousands(scan.opaque.bytes),
                thousands(scan.bytes)
            ),
        );
    }
    let text = scan.generated.bytes + scan.source.bytes;
    if scan.generated.bytes * 2 > text {
        return (
            Kind::Generated,
            format!(
                "{} of {} text bytes are machine-made",
                thousands(scan.generated.bytes),
                thousands(text)
            ),
        );
    }
    (
        Kind::Source,
        format!(
            "no executable code in {} {} ({} generated, {} opaque)",
            thousands(scan.files),
            if scan.files == 1 { "file" } else { "files" },
            thousands(scan.generated.files),
            thousands(scan.opaque.files)
        ),
    )
}
