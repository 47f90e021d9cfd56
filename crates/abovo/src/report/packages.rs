//! How the trust reports say a seed in package terms: which package
//! brings it in and the package path to it (see `abovo_trust::packages`),
//! in the same words in text and HTML.

use super::text::arrows;
use crate::output::sanitize;
use abovo_graph::package_graph::Visibility;
use abovo_trust::packages::{PackageStep, PackageTrail};

/// A package in a report: `name@version`, the other system it is built
/// for, and whether it is private or hidden: `guile-bootstrap@2.0 for
/// i686-linux (private)`.
pub fn package_name(p: &PackageStep) -> String {
    let mut s = sanitize(&p.package).into_owned();
    if let Some(system) = &p.system {
        s.push_str(&format!(" for {}", sanitize(system)));
    }
    s.push_str(visibility_note(p.visibility));
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
    let b = &t.brought_in_by;
    let first = format!("{} brings it in", package_name(b));
    let packages = arrows(t.package_path.iter().map(|s| s.package.as_str()));
    let mut then = match t.package_path.len() {
        0 => return (first, None),
        1 if t.then.is_empty() => return (format!("{first}: the target itself"), None),
        _ => format!("{packages} (bag-emerged graph)"),
    };
    if !t.then.is_empty() {
        then.push_str(&format!(
            ", then {} (derivations outside the bag-emerged graph)",
            arrows(t.then.iter().map(|s| s.label.as_str()))
        ));
    }
    (first, Some(then))
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
