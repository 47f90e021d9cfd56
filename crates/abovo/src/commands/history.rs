//! `--against OLD_SOURCE` of `abovo seeds` and `abovo audit`: what changed
//! in the trust base between an old revision and the new one, and the
//! guard for CI (`--fail-on`). The comparison itself is
//! [`abovo_trust::history`]; this module loads the two graphs, finds the
//! target (or the packages) in both, and chooses the form of the answer
//! ([`crate::report::history`] renders it). `abovo serve --against` asks
//! the same functions (`load_old`, `compare_targets`,
//! `compare_distributions`) for its diff view.

use crate::commands::trust_common::warn_rejected_files;
use crate::commands::{audit, seeds};
use crate::exit;
use crate::output::Context;
use crate::report::history::Guard;
use crate::report::history::text::violation_text;
use crate::report::text::plural;
use abovo_graph::query::Walk;
use abovo_graph::{Graph, NodeId};
use abovo_trust::audit::{AuditPackage, Audited};
use abovo_trust::classify::Seeds;
use abovo_trust::history::{
    AuditComparison, FailOn, Revision, SeedsComparison, compare_audits, compare_seeds, package_name,
};
use abovo_trust::report::trust_report;
use std::path::PathBuf;

/// The flags of a comparison with an older revision.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct HistoryArgs {
    /// Compare with an older revision: what was added, removed and
    /// changed since OLD_SOURCE (a store directory, a directory or
    /// `.tar.zst` of `.drv` files, a corpus folder, an abovo snapshot, or
    /// `built-in` for the built-in snapshot). The new revision is
    /// --source. Packages are matched by name across versions.
    #[arg(long, value_name = "OLD_SOURCE")]
    pub against: Option<PathBuf>,
    /// With --against, exit with code 1 when the new revision rests on a
    /// binary seed the old one did not (new-binary: added or changed, in
    /// the audit also under a package that did not rest on it), or when
    /// any binary seed was added, removed or changed (any-change).
    #[arg(long, value_name = "WHAT", requires = "against",
          value_parser = clap::builder::PossibleValuesParser::new(["new-binary", "any-change"]))]
    pub fail_on: Option<String>,
}

impl HistoryArgs {
    fn fail_on(&self) -> Option<FailOn> {
        match self.fail_on.as_deref() {
            Some("new-binary") => Some(FailOn::NewBinary),
            Some("any-change") => Some(FailOn::AnyChange),
            _ => None,
        }
    }
}

/// Loads the old revision (`--against`): any source `--source` takes, or
/// `built-in` (unless a file of that name is there).
pub(crate) fn load_old(against: &std::path::Path, ctx: &Context) -> anyhow::Result<Graph> {
    let old_args = crate::source::SourceArgs {
        source: (against.as_os_str() != "built-in" || against.exists())
            .then(|| against.to_path_buf()),
        ..Default::default()
    };
    old_args
        .load(ctx)
        .map_err(|e| e.context(format!("--against `{}`", against.display())))
}

/// Loads the new graph (`--source`) and the old one (`--against`), side by
/// side.
fn load_both(
    trust: &crate::commands::trust_common::TrustArgs,
    against: &std::path::Path,
    ctx: &Context,
) -> anyhow::Result<(Graph, Graph)> {
    let (old, new) = both(|| load_old(against, ctx), || trust.load_graph(ctx));
    let old = old?;
    Ok((new?, old))
}

/// Runs `a` and `b` side by side (the old and the new revision).
pub(crate) fn both<A: Send, B: Send>(
    a: impl FnOnce() -> A + Send,
    b: impl FnOnce() -> B + Send,
) -> (A, B) {
    std::thread::scope(|s| {
        let a = s.spawn(a);
        let b = b();
        match a.join() {
            Ok(a) => (a, b),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// Says on standard error why the guard failed, and gives the exit code.
fn guard_code(g: Option<&Guard>, ctx: &Context) -> u8 {
    match g {
        Some(g) if g.failed => {
            // A package's violation says more than the distribution's.
            let first = g
                .violations
                .iter()
                .find(|v| v.package.is_some())
                .unwrap_or(&g.violations[0]);
            ctx.warn(&format!(
                "--fail-on {}: {} (first: {})",
                g.fail_on.name(),
                plural(g.violations.len(), "violation", "violations"),
                violation_text(first)
            ));
            exit::NEGATIVE
        }
        _ => exit::SUCCESS,
    }
}

// ---------------------------------------------------------------------
// seeds TARGET --against OLD

/// Finds the target in the old revision: the same name (and version,
/// when the old revision has it), else the new target's package name.
pub(crate) fn resolve_old(
    old: &Graph,
    new: &Graph,
    spec: &str,
    target: NodeId,
    prefs: &abovo_graph::resolve::Preferences,
    ctx: &Context,
) -> anyhow::Result<NodeId> {
    if !spec.contains('/') {
        if let Ok(n) = crate::source::resolve_one(old, spec, prefs, ctx) {
            return Ok(n);
        }
    }
    let name = new
        .packages()
        .packages_of(target)
        .next()
        .map(|p| p.name.clone())
        .unwrap_or_else(|| {
            abovo_graph::version::split_name_version(new.label(target))
                .0
                .to_owned()
        });
    let node = crate::source::resolve_one(old, &name, prefs, ctx).map_err(|e| {
        e.context(format!(
            "`{spec}` has no counterpart named `{name}` in the old revision ({})",
            old.description()
        ))
    })?;
    if name != spec {
        ctx.note(&format!(
            "`{spec}` is not in the old revision as such: comparing with `{name}` there, {}",
            old.label(node)
        ));
    }
    Ok(node)
}

/// Runs `abovo seeds TARGET --against OLD_SOURCE`.
pub fn run_seeds(
    args: &seeds::Args,
    against: &std::path::Path,
    ctx: &Context,
) -> anyhow::Result<u8> {
    let (new_g, old_g) = load_both(&args.trust, against, ctx)?;
    let prefs = args.trust.preferences();
    let target = crate::source::resolve_one(&new_g, &args.target, &prefs, ctx)?;
    let old_target = resolve_old(&old_g, &new_g, &args.target, target, &prefs, ctx)?;
    let mut code = exit::SUCCESS;
    if args.fetch {
        code = crate::commands::fetch::fetch_seeds_first(&new_g, &[target], &args.trust, ctx)?.max(
            crate::commands::fetch::fetch_seeds_first(&old_g, &[old_target], &args.trust, ctx)?,
        );
    }
    let seeds = args.trust.seeds()?;
    let (cmp, rejected) = compare_targets(
        (&old_g, old_target),
        (&new_g, target),
        &seeds,
        &args.trust.walk(),
    )?;
    warn_rejected_files(ctx, rejected);
    let g = Guard::new(args.history.fail_on(), |f| cmp.violations(f));
    crate::report::history::write(&cmp, g.as_ref(), args.format, args.all, ctx)?;
    Ok(code.max(guard_code(g.as_ref(), ctx)))
}

/// One target's trust base in the old and the new revision, compared;
/// with the number of files the classification rejected (on both sides).
pub(crate) fn compare_targets(
    (old_g, old_target): (&Graph, NodeId),
    (new_g, target): (&Graph, NodeId),
    seeds: &Seeds,
    walk: &Walk,
) -> anyhow::Result<(SeedsComparison, usize)> {
    let (old_r, new_r) = both(
        || trust_report(old_g, old_target, seeds, walk),
        || trust_report(new_g, target, seeds, walk),
    );
    let (old_r, new_r) = (old_r?, new_r?);
    let rejected = |r: &abovo_trust::report::TrustReport| -> usize {
        r.seeds.iter().map(|e| e.class.rejected_files.len()).sum()
    };
    let rejected = rejected(&old_r) + rejected(&new_r);
    Ok((compare_seeds(&old_r, &new_r), rejected))
}

// ---------------------------------------------------------------------
// audit --against OLD

/// The old revision's packages: with `--only`, those of the new revision's
/// list that the old one has, by name; else its package table, or its
/// root derivations.
pub(crate) fn old_packages(
    old: &Graph,
    new_packages: &[AuditPackage],
    only: Option<&str>,
    prefs: &abovo_graph::resolve::Preferences,
    ctx: &Context,
) -> anyhow::Result<(Vec<AuditPackage>, Audited)> {
    if only.is_none() {
        return audit::packages_of(old, None, prefs, ctx);
    }
    let mut out = Vec::new();
    for p in new_packages {
        let name = package_name(p).0;
        let Ok(found) = abovo_graph::resolve::resolve_with(old, name, prefs) else {
            ctx.note(&format!("`{name}` is not in the old revision"));
            continue;
        };
        let node = found.node;
        out.push(match old.packages().packages_of(node).next() {
            Some(t) => AuditPackage {
                name: t.name.clone(),
                version: Some(t.version.clone()),
                node,
            },
            None => AuditPackage {
                name: old.label(node).to_owned(),
                version: None,
                node,
            },
        });
    }
    Ok((out, Audited::Packages))
}

/// Runs `abovo audit --against OLD_SOURCE`.
pub fn run_audit(
    args: &audit::Args,
    against: &std::path::Path,
    ctx: &Context,
) -> anyhow::Result<u8> {
    let (new_g, old_g) = load_both(&args.trust, against, ctx)?;
    let prefs = args.trust.preferences();
    let (new_p, new_what) = audit::packages_of(&new_g, args.packages.as_deref(), &prefs, ctx)?;
    let (old_p, old_what) = old_packages(&old_g, &new_p, args.packages.as_deref(), &prefs, ctx)?;
    let mut code = exit::SUCCESS;
    if args.fetch {
        let roots = |ps: &[AuditPackage]| ps.iter().map(|p| p.node).collect::<Vec<_>>();
        code = crate::commands::fetch::fetch_seeds_first(&new_g, &roots(&new_p), &args.trust, ctx)?
            .max(crate::commands::fetch::fetch_seeds_first(
                &old_g,
                &roots(&old_p),
                &args.trust,
                ctx,
            )?);
    }
    let seeds = args.trust.seeds()?;
    let (cmp, rejected) = compare_distributions(
        (&old_g, &old_p, old_what),
        (&new_g, &new_p, new_what),
        &seeds,
        &args.trust.walk(),
    )?;
    warn_rejected_files(ctx, rejected);
    let g = Guard::new(args.history.fail_on(), |f| cmp.violations(f));
    crate::report::history::write(&cmp, g.as_ref(), args.format, args.all, ctx)?;
    Ok(code.max(guard_code(g.as_ref(), ctx)))
}

/// One revision's side of an audit comparison: its graph, the packages
/// audited, and what they are.
pub(crate) type AuditedSide<'a> = (&'a Graph, &'a [AuditPackage], Audited);

/// Two revisions' audits compared; with the number of files the
/// classification rejected (on both sides).
pub(crate) fn compare_distributions(
    (old_g, old_p, old_what): AuditedSide<'_>,
    (new_g, new_p, new_what): AuditedSide<'_>,
    seeds: &Seeds,
    walk: &Walk,
) -> anyhow::Result<(AuditComparison, usize)> {
    let (old_r, new_r) = both(
        || abovo_trust::audit::audit(old_g, old_p, seeds, walk, 0),
        || abovo_trust::audit::audit(new_g, new_p, seeds, walk, 0),
    );
    let (mut old_r, mut new_r) = (old_r?, new_r?);
    old_r.audited = old_what;
    new_r.audited = new_what;
    let rejected = old_r.rejected_files.len() + new_r.rejected_files.len();
    let cmp = compare_audits(
        Revision {
            graph: old_g,
            packages: old_p,
            report: &old_r,
        },
        Revision {
            graph: new_g,
            packages: new_p,
            report: &new_r,
        },
        walk,
    );
    Ok((cmp, rejected))
}
