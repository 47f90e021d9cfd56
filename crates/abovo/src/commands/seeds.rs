//! `abovo seeds TARGET`: what must one trust to get TARGET.
//!
//! Its flags shared with `abovo audit` ([`TrustArgs`]) live in
//! [`crate::commands::trust_common`]; the report's text, JSON and HTML
//! forms in [`crate::report::seeds`].

use crate::commands::signers;
use crate::commands::trust_common::{TrustArgs, note_unused_seed_files, warn_rejected_files};
use crate::exit;
use crate::output::{Context, Format};
use abovo_trust::report::untraced_report;

/// List every seed that TARGET rests on: binaries first, with evidence,
/// size, hash, URLs and the shortest path from TARGET.
///
/// A seed is where content enters the graph: the output of a fixed-output
/// derivation or an input source (or an impure derivation of Nix's, which
/// no hash pins: of unknown kind). Each gets a kind (binary,
/// source-with-binaries, generated, source, unknown) with its evidence:
/// content (bytes scanned, see --seed-dir), known (the knowledge base lists
/// its hash) or rule:<id> (its name or URL matches a rule).
// `rule:<id>` is shown as it is in `--help`, not as HTML.
#[allow(rustdoc::invalid_html_tags)]
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The target: `hello`, `hello@2.12`, a `.drv` path or an output path.
    pub target: String,
    /// Output format: text, json or html (a self-contained page).
    #[arg(long, short = 'f', default_value = "text",
          value_parser = Format::parser(&[Format::Text, Format::Json, Format::Html]))]
    pub format: Format,
    /// In text, list every seed in detail (by default generated and source
    /// seeds get one line each).
    #[arg(long)]
    pub all: bool,
    /// Fetch the seeds' content into the cache first (what is missing;
    /// see `abovo fetch`). Exit code 1 when some could not be fetched.
    #[arg(long)]
    pub fetch: bool,
    /// Who signed the seeds' bytes (`--signers`, `--require-signers`).
    #[command(flatten)]
    pub sign: crate::commands::signers::SignerArgs,
    /// Shared flags.
    #[command(flatten)]
    pub trust: TrustArgs,
    /// Comparison with an older revision (`--against`, `--fail-on`).
    #[command(flatten)]
    pub history: crate::commands::history::HistoryArgs,
}

/// Runs `abovo seeds`.
pub fn run(args: Args, ctx: &Context) -> anyhow::Result<u8> {
    args.format
        .check("seeds", &[Format::Text, Format::Json, Format::Html])?;
    if let Some(against) = &args.history.against {
        return crate::commands::history::run_seeds(&args, against, ctx);
    }
    // The knowledge base is read while the graph loads, which also starts
    // the threads the report runs on.
    let (g, kb) = rayon::join(
        || args.trust.load_graph(ctx),
        || args.trust.knowledge_base(),
    );
    let g = g?;
    let target = crate::source::resolve_one(&g, &args.target, &args.trust.preferences(), ctx)?;
    let mut code = exit::SUCCESS;
    if args.fetch {
        code = crate::commands::fetch::fetch_seeds_first(&g, &[target], &args.trust, ctx)?;
    }
    let seeds = args.trust.seeds_with(kb?)?;
    crate::source::warn_dynamic(ctx, &g, || {
        abovo_graph::query::subgraph(&g, &[target], &Default::default()).edges
    });
    // Untraced: each form traces the seeds it shows as it writes them, by
    // ids (see `report::seeds`).
    let (mut report, tracer) = untraced_report(&g, target, &seeds, &args.trust.walk())?;
    if args.sign.signers {
        let entries = report
            .seeds
            .iter_mut()
            .map(|e| (&e.facts, &mut e.class))
            .collect();
        signers::ask(&g, &seeds, entries, &args.trust.net, ctx)?;
    }
    let signed: Vec<_> = report
        .seeds
        .iter()
        .map(|e| (&e.facts, e.class.signatures.as_slice()))
        .collect();
    if !signers::require(args.sign.require_signers, &signed, ctx)? {
        code = exit::NEGATIVE;
    }
    let rejected: usize = report
        .seeds
        .iter()
        .map(|e| e.class.rejected_files.len())
        .sum();
    warn_rejected_files(ctx, rejected);
    note_unused_seed_files(ctx, report.unused_seed_files.len());
    crate::report::seeds::write(&report, &tracer, args.format, args.all, ctx)?;
    crate::source::release_at_exit((report, tracer));
    crate::source::release_at_exit(g);
    Ok(code)
}
