//! Pairing seeds across revisions: what identifies a seed (its content),
//! the role it plays (its name, or its knowledge-base entry, with versions
//! set aside), and how two lists of seeds pair up: unchanged, changed,
//! removed, added.

use crate::classify::{Classification, SeedFacts};
use abovo_graph::version::{compare_versions, split_name_version};
use std::cmp::Ordering;
use std::collections::{HashMap, VecDeque};

/// What identifies a seed across revisions, and the role it plays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedKey {
    /// The content: `hash:<r:algo:nix32>`, or `path:<store base name>`.
    pub identity: String,
    /// The name with versions and archive extensions set aside
    /// ([`name_role`]).
    pub role: String,
    /// The knowledge-base entry's name with versions set aside, when the
    /// knowledge base knows the seed.
    pub known_role: Option<String>,
    /// The store name, to order seeds of one role by version.
    pub name: String,
}

impl SeedKey {
    /// The key of a seed from its facts and verdict.
    pub fn of(facts: &SeedFacts, class: &Classification) -> SeedKey {
        SeedKey::new(
            facts.hash.as_deref(),
            facts.base_name(),
            &facts.name,
            class.known.as_ref().map(|k| k.name.as_str()),
        )
    }

    /// A key from its parts: the fixed-output hash as Guix shows it
    /// (`r:sha256:<nix32>`), the store base name, the store name and the
    /// knowledge base's name.
    pub fn new(hash: Option<&str>, base_name: &str, name: &str, known: Option<&str>) -> SeedKey {
        SeedKey {
            identity: match hash {
                Some(h) => format!("hash:{h}"),
                None => format!("path:{base_name}"),
            },
            role: name_role(name),
            known_role: known.map(known_role),
            name: name.to_owned(),
        }
    }

    /// The role shown in reports: the knowledge base's, else the name's.
    pub fn shown_role(&self) -> &str {
        self.known_role.as_deref().unwrap_or(&self.role)
    }
}

const ARCHIVE_EXTENSIONS: [&str; 14] = [
    ".gz", ".xz", ".bz2", ".zst", ".lz", ".lzma", ".Z", ".tar", ".tgz", ".tbz2", ".tbz", ".txz",
    ".zip", ".tlz",
];

/// Whether a `-`-separated part of a version is itself version-like: it
/// starts with a digit (`2.12.2`, `1103`, `16.e3226ff`) or is a `git
/// describe` commit (`g6e62e0e`).
fn is_version_part(part: &str) -> bool {
    let b = part.as_bytes();
    match b.first() {
        None => true,
        Some(c) if c.is_ascii_digit() => true,
        Some(b'g') => b.len() >= 8 && b[1..].iter().all(u8::is_ascii_hexdigit),
        _ => false,
    }
}

/// The role a store name plays, with versions and archive extensions set
/// aside: `stage0-posix-1.6.0.tar.gz` → `stage0-posix-*`,
/// `mes-minimal-stripped-0.19-i686-linux.tar.xz` →
/// `mes-minimal-stripped-*-i686-linux`, `bash` → `bash`.
pub fn name_role(name: &str) -> String {
    let mut base = name;
    while let Some(ext) = ARCHIVE_EXTENSIONS.iter().find(|e| base.ends_with(*e)) {
        if base.len() == ext.len() {
            break;
        }
        base = &base[..base.len() - ext.len()];
    }
    match split_name_version(base) {
        (stem, None) => stem.to_owned(),
        (stem, Some(version)) => {
            let rest: Vec<&str> = version.split('-').filter(|p| !is_version_part(p)).collect();
            if rest.is_empty() {
                format!("{stem}-*")
            } else {
                format!("{stem}-*-{}", rest.join("-"))
            }
        }
    }
}

/// A knowledge-base name with versions set aside: the file name's role,
/// and the words of its description that are not versions:
/// `guile-2.0.9.tar.xz (x86_64-linux bootstrap Guile)` → `guile-*
/// (x86_64-linux bootstrap Guile)`.
pub fn known_role(name: &str) -> String {
    match name.split_once(" (") {
        Some((file, rest)) => {
            let words: Vec<&str> = rest
                .trim_end_matches(')')
                .split(' ')
                .filter(|w| !w.starts_with(|c: char| c.is_ascii_digit()))
                .collect();
            format!("{} ({})", name_role(file), words.join(" "))
        }
        None => name_role(name),
    }
}

/// How two lists of seeds pair up (indices into the lists).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pairing {
    /// `(old, new)` with the same content.
    pub unchanged: Vec<(usize, usize)>,
    /// `(old, new)` in the same role, with other content.
    pub changed: Vec<(usize, usize)>,
    /// Old seeds with no counterpart.
    pub removed: Vec<usize>,
    /// New seeds with no counterpart.
    pub added: Vec<usize>,
}

fn version_order(a: &SeedKey, b: &SeedKey) -> Ordering {
    let va = split_name_version(&a.name).1.unwrap_or("");
    let vb = split_name_version(&b.name).1.unwrap_or("");
    compare_versions(va, vb)
        .then_with(|| a.name.cmp(&b.name))
        .then_with(|| a.identity.cmp(&b.identity))
}

/// Pairs `old` with `new` (see the module docs): by content, then by
/// knowledge-base role, then by name role, newest with newest.
pub fn pair(old: &[SeedKey], new: &[SeedKey]) -> Pairing {
    let mut out = Pairing::default();
    let mut old_done = vec![false; old.len()];
    let mut new_done = vec![false; new.len()];
    let mut by_identity: HashMap<&str, VecDeque<usize>> = HashMap::new();
    for (j, k) in new.iter().enumerate() {
        by_identity.entry(&k.identity).or_default().push_back(j);
    }
    for (i, k) in old.iter().enumerate() {
        if let Some(j) = by_identity
            .get_mut(k.identity.as_str())
            .and_then(VecDeque::pop_front)
        {
            out.unchanged.push((i, j));
            old_done[i] = true;
            new_done[j] = true;
        }
    }
    // Two rounds: the knowledge base's role, then the name's.
    for round in 0..2 {
        let role = |k: &SeedKey| -> Option<String> {
            if round == 0 {
                k.known_role.clone()
            } else {
                Some(k.role.clone())
            }
        };
        let mut groups: HashMap<String, (Vec<usize>, Vec<usize>)> = HashMap::new();
        for (i, k) in old.iter().enumerate().filter(|(i, _)| !old_done[*i]) {
            if let Some(r) = role(k) {
                groups.entry(r).or_default().0.push(i);
            }
        }
        for (j, k) in new.iter().enumerate().filter(|(j, _)| !new_done[*j]) {
            if let Some(r) = role(k) {
                groups.entry(r).or_default().1.push(j);
            }
        }
        let mut groups: Vec<_> = groups
            .into_iter()
            .filter(|(_, (o, n))| !o.is_empty() && !n.is_empty())
            .collect();
        groups.sort_by(|a, b| a.0.cmp(&b.0));
        for (_, (mut olds, mut news)) in groups {
            olds.sort_by(|&a, &b| version_order(&old[b], &old[a]));
            news.sort_by(|&a, &b| version_order(&new[b], &new[a]));
            for i in olds {
                // The newest new seed of the role not yet taken whose
                // knowledge-base role does not contradict the old one's.
                let found = news.iter().position(|&j| {
                    !new_done[j]
                        && match (&old[i].known_role, &new[j].known_role) {
                            (Some(a), Some(b)) => a == b,
                            _ => true,
                        }
                });
                if let Some(p) = found {
                    let j = news.remove(p);
                    out.changed.push((i, j));
                    old_done[i] = true;
                    new_done[j] = true;
                }
            }
        }
    }
    out.removed = (0..old.len()).filter(|&i| !old_done[i]).collect();
    out.added = (0..new.len()).filter(|&j| !new_done[j]).collect();
    out.changed.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(hash: &str, name: &str, known: Option<&str>) -> SeedKey {
        SeedKey::new(Some(hash), &format!("h-{name}"), name, known)
    }

    #[test]
    fn roles_set_versions_and_archive_extensions_aside() {
        assert_eq!(name_role("stage0-posix-1.6.0.tar.gz"), "stage0-posix-*");
        assert_eq!(name_role("stage0-posix-1.4.tar.xz"), "stage0-posix-*");
        assert_eq!(
            name_role("mes-minimal-stripped-0.19-i686-linux.tar.xz"),
            "mes-minimal-stripped-*-i686-linux"
        );
        assert_eq!(
            name_role("tcc-0.9.26-1149-g46a75d0c.tar.gz"),
            name_role("tcc-0.9.26-1103-g6e62e0e.tar.gz")
        );
        assert_eq!(name_role("bash"), "bash");
        assert_ne!(name_role("bash"), name_role("bash-5.2.tar.gz"));
        assert_eq!(name_role("static-binaries.tar.xz"), "static-binaries");
        assert_eq!(name_role(".tar.gz"), ".tar");
        assert_eq!(
            name_role("linux-libre-6.12.17-gnu.tar.xz"),
            "linux-libre-*-gnu"
        );
        assert_eq!(
            known_role("guile-2.0.9.tar.xz (x86_64-linux bootstrap Guile)"),
            known_role("guile-2.0.11.tar.xz (x86_64-linux bootstrap Guile)")
        );
        assert_ne!(
            known_role("guile-2.0.9.tar.xz (x86_64-linux bootstrap Guile)"),
            known_role("guile-2.0.11.tar.xz (armhf-linux bootstrap Guile)")
        );
        assert_eq!(
            known_role("ocaml-4.14.1.tar.xz (OCaml 4.14.1 source release)"),
            "ocaml-* (OCaml source release)"
        );
    }

    #[test]
    fn pairing_by_content_then_role_newest_first() {
        let old = [
            key("sha256:a", "bash", None),
            key("sha256:b", "stage0-posix-1.4.tar.gz", None),
            key(
                "sha256:c",
                "mes-minimal-stripped-0.19-i686-linux.tar.xz",
                None,
            ),
            key("sha256:d", "ocaml-4.07.1.tar.xz", None),
            key("sha256:e", "ocaml-4.09.0.tar.xz", None),
        ];
        let new = [
            key("sha256:f", "stage0-posix-1.6.0.tar.gz", None),
            key("sha256:a", "bash-renamed", None),
            key("sha256:g", "ocaml-4.14.1.tar.xz", None),
        ];
        let p = pair(&old, &new);
        assert_eq!(
            p.unchanged,
            vec![(0, 1)],
            "the same hash under another name"
        );
        assert_eq!(p.changed, vec![(1, 0), (4, 2)], "newest with newest");
        assert_eq!(p.removed, vec![2, 3]);
        assert!(p.added.is_empty());
    }

    #[test]
    fn the_knowledge_base_keeps_systems_apart() {
        let old = [key(
            "sha256:a",
            "bash",
            Some("bash (i686-linux static bootstrap executable)"),
        )];
        let new = [key(
            "sha256:b",
            "bash",
            Some("bash (armhf-linux static bootstrap executable)"),
        )];
        let p = pair(&old, &new);
        assert!(p.changed.is_empty() && p.unchanged.is_empty());
        assert_eq!((p.removed, p.added), (vec![0], vec![0]));
        // The same entry under another file name is the same role.
        let old = [key(
            "sha256:a",
            "guile-2.0.9.tar.xz",
            Some("guile-2.0.9.tar.xz (x86_64-linux bootstrap Guile)"),
        )];
        let new = [key(
            "sha256:b",
            "guile-static.tar.xz",
            Some("guile-3.0.tar.xz (x86_64-linux bootstrap Guile)"),
        )];
        assert_eq!(pair(&old, &new).changed, vec![(0, 0)]);
    }

    #[test]
    fn duplicates_pair_one_to_one() {
        let old = [key("sha256:a", "x", None), key("sha256:a", "x", None)];
        let new = [key("sha256:a", "x", None)];
        let p = pair(&old, &new);
        assert_eq!(p.unchanged, vec![(0, 0)]);
        assert_eq!(p.removed, vec![1]);
    }
}
