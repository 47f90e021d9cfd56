//! Who signed each seed's bytes, in `abovo seeds` and `abovo audit`:
//! `--signers` asks the substitute servers now (through
//! [`abovo_challenge`]'s asking: every server in parallel, with the HTTP
//! client's timeouts, a server that stops answering given up once), and
//! the text both reports print of signatures (the judging itself is
//! [`abovo_trust::signatures`]).

use crate::commands::fetch::NetArgs;
use crate::output::{Context, sanitize};
use crate::report::text::{Align, Table, count, plural};
use abovo_challenge::ask::Challenger;
use abovo_challenge::verdict::Answer;
use abovo_graph::Graph;
use abovo_trust::classify::{Classification, SeedFacts, Seeds};
use abovo_trust::signatures::{self, Seen, Signature, Verdict};

/// The flags of signatures, shared by `seeds` and `audit`.
#[derive(Debug, Clone, clap::Args)]
pub struct SignerArgs {
    /// Ask the substitute servers (--substitute-urls) now, for every seed,
    /// who signed its bytes: a narinfo counts when its signature verifies
    /// with an authorised key (--authorized-key) and its NarHash is the
    /// seed's. Without it, the report shows the narinfos that `abovo
    /// fetch` kept in the cache, judged offline.
    #[arg(long)]
    pub signers: bool,
    /// Exit code 1 unless the bytes of every seed of the report are
    /// signed by at least K independent authorised keys.
    #[arg(long, value_name = "K")]
    pub require_signers: Option<usize>,
}

/// Asks every server of `net` about each seed of `entries`, and adds
/// their answers to its signatures.
pub fn ask(
    g: &Graph,
    seeds: &Seeds,
    entries: Vec<(&SeedFacts, &mut Classification)>,
    net: &NetArgs,
    ctx: &Context,
) -> anyhow::Result<()> {
    let servers = super::fetch::substitute_urls(&net.substitute_urls);
    for s in &servers {
        if !(s.starts_with("http://") || s.starts_with("https://")) {
            anyhow::bail!("--substitute-urls: `{s}` is not an http or https URL");
        }
    }
    if servers.is_empty() {
        anyhow::bail!("--signers: --substitute-urls is empty, so no server can be asked");
    }
    if net.offline {
        anyhow::bail!("--signers asks the substitute servers, and --offline forbids it");
    }
    if seeds.keys.is_empty() {
        ctx.warn("no authorised keys (--authorized-key FILE): no narinfo can count as a signature");
    }
    let client = abovo_fetch::HttpClient::new(&net.http.options(), abovo_fetch::Deadline::none())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let challenger = Challenger {
        client: &client,
        keys: &seeds.keys,
        servers,
        jobs: net.jobs,
    };
    let mut paths: Vec<String> = entries.iter().map(|(f, _)| f.store_path.clone()).collect();
    paths.sort();
    paths.dedup();
    let report = super::challenge::ask_all(
        &challenger,
        &paths,
        &|_| None,
        "asking who signed",
        "seeds",
        ctx,
    );
    for (facts, class) in entries {
        let Ok(i) = paths.binary_search(&facts.store_path) else {
            continue;
        };
        let item = &report.items[i];
        let nar = seeds.seed_nar(g, facts, class);
        for ((answer, info), server) in item.answers.iter().zip(&item.narinfos).zip(&report.servers)
        {
            let sig = match (answer, info) {
                (Answer::Found(_), Some(info)) => signatures::judge(
                    &server.url,
                    &facts.store_path,
                    info,
                    &seeds.keys,
                    nar.as_deref(),
                    Seen::Asked,
                ),
                (Answer::Missing, _) => {
                    Signature::without_narinfo(&server.url, Verdict::Missing, None)
                }
                (Answer::Failed { error }, _) => {
                    Signature::without_narinfo(&server.url, Verdict::Failed, Some(error.clone()))
                }
                (Answer::Found(_), None) => continue,
            };
            class.signatures.push(sig);
        }
    }
    Ok(())
}

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

/// `--require-signers K`: a warning naming the seeds below K, and whether
/// every seed meets it (true when K is not given).
pub fn require(
    k: Option<usize>,
    seeds: &[(&SeedFacts, &[Signature])],
    ctx: &Context,
) -> anyhow::Result<bool> {
    let Some(k) = k else {
        return Ok(true);
    };
    if k == 0 {
        anyhow::bail!("--require-signers 0 asks nothing; give K ≥ 1");
    }
    let below: Vec<&str> = seeds
        .iter()
        .filter(|(_, s)| signers_of(s) < k)
        .map(|(f, _)| f.store_path.as_str())
        .collect();
    if !below.is_empty() {
        let shown: Vec<String> = below
            .iter()
            .take(5)
            .map(|p| sanitize(p).into_owned())
            .collect();
        ctx.warn(&format!(
            "--require-signers {k}: {} {} fewer than {k} independent authorised {} ({}{})",
            plural(below.len(), "seed", "seeds"),
            if below.len() == 1 { "has" } else { "have" },
            if k == 1 { "signer" } else { "signers" },
            shown.join(", "),
            if below.len() > 5 { ", …" } else { "" }
        ));
    }
    Ok(below.is_empty())
}
