//! Who signed each seed's bytes, in `abovo seeds` and `abovo audit`:
//! `--signers` asks the substitute servers now (through
//! [`abovo_challenge`]'s asking: every server in parallel, with the HTTP
//! client's timeouts, a server that stops answering given up once), and
//! the text both reports print of signatures (the judging itself is
//! [`abovo_trust::signatures`]).

use crate::commands::fetch::NetArgs;
use crate::output::{Context, sanitize};
use crate::report::signers::signers_of;
use crate::report::text::plural;
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
