//! How the trust reports say a seed in package terms: which package
//! brings it in and the package path to it (see `abovo_trust::packages`),
//! in the same words in text and HTML.

use super::text::arrows;
use crate::output::sanitize;
use abovo_graph::Graph;
use abovo_graph::package_graph::PackageId;
use abovo_graph::package_graph::Visibility;
use abovo_trust::packages::{PackageName, PackageStep, PackageTrail, TrailIds, Trails};
use std::borrow::Cow;

/// A package in a report: `name@version`, the other system it is built
/// for, and whether it is private or hidden: `guile-bootstrap@2.0 for
/// i686-linux (private)`.
pub fn package_name(p: &PackageStep) -> String {
    name_in_words(&p.package, p.system.as_deref(), p.visibility)
}

/// [`package_name`] of a package build's words
/// ([`abovo_trust::packages::Packages::name`]).
pub fn build_name(p: &PackageName<'_>) -> String {
    name_in_words(&p.package, p.system, p.visibility)
}

fn name_in_words(package: &str, system: Option<&str>, visibility: Visibility) -> String {
    let mut s = sanitize(package).into_owned();
    if let Some(system) = system {
        s.push_str(" for ");
        s.push_str(&sanitize(system));
    }
    s.push_str(visibility_note(visibility));
    s
}

/// The names of `packages` ([`package_name`]), each once, with `×N` after
/// those that stand for N derivations (two package objects of one name
/// and version, or builds for several systems).
pub fn names_counted(packages: &[PackageStep]) -> Vec<String> {
    let mut names: Vec<(String, usize)> = Vec::new();
    for p in packages {
        let name = package_name(p);
        match names.iter_mut().find(|(n, _)| *n == name) {
            Some((_, count)) => *count += 1,
            None => names.push((name, 1)),
        }
    }
    names
        .into_iter()
        .map(|(n, count)| {
            if count > 1 {
                format!("{n} ×{count}")
            } else {
                n
            }
        })
        .collect()
}

/// The package that brings a seed in, and the package path to it, in the
/// words of both reports: "guile-bootstrap@2.0 brings it in (private)",
/// then "hello@2.12.2 → … → guile-bootstrap@2.0 (bag-emerged graph)", and
/// the derivations that follow when the package path stops short.
pub fn package_lines(t: &PackageTrail) -> (String, Option<String>) {
    trail_lines(
        &package_name(&t.brought_in_by),
        t.package_path.iter().map(|s| s.package.as_str()),
        t.then.iter().map(|s| s.label.as_str()),
    )
}

/// [`package_lines`] of a trail by ids ([`Trails::trail_ids`], on the
/// graph `g`): the same words, without making the derivations' store paths
/// that a [`PackageTrail`] holds and these lines do not show. `full_name`
/// gives a package's `name@version` (made once per package by a caller
/// that writes many trails).
pub fn package_lines_by_ids<'n>(
    g: &Graph,
    trails: &Trails<'_>,
    t: &TrailIds<'_>,
    full_name: impl Fn(PackageId) -> Cow<'n, str>,
) -> (String, Option<String>) {
    let names: Vec<Cow<'n, str>> = t.package_path.iter().map(|&p| full_name(p)).collect();
    trail_lines(
        &build_name(&trails.packages().name(t.brought_in_by)),
        names.iter().map(|n| n.as_ref()),
        t.then.iter().map(|&n| g.label(n)),
    )
}

/// The lines of [`package_lines`]: the bringer's name, the package path's
/// names and the labels of the derivations that follow it.
fn trail_lines<'a>(
    bringer: &str,
    package_path: impl ExactSizeIterator<Item = &'a str>,
    then: impl ExactSizeIterator<Item = &'a str>,
) -> (String, Option<String>) {
    let first = format!("{bringer} brings it in");
    let (steps, then_steps) = (package_path.len(), then.len());
    let packages = arrows(package_path);
    let mut line = match steps {
        0 => return (first, None),
        1 if then_steps == 0 => return (format!("{first}: the target itself"), None),
        _ => format!("{packages} (bag-emerged graph)"),
    };
    if then_steps > 0 {
        line.push_str(&format!(
            ", then {} (derivations outside the bag-emerged graph)",
            arrows(then)
        ));
    }
    (first, Some(line))
}

/// ` (private)`, ` (hidden)`, or nothing for a public package.
pub fn visibility_note(v: Visibility) -> &'static str {
    match v {
        Visibility::Public => "",
        Visibility::PublicExcluded => " (excluded)",
        Visibility::Hidden => " (hidden)",
        Visibility::Private => " (private)",
    }
}
