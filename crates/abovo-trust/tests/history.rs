//! Trust over time on two small hand-made revisions whose answers are
//! known: seeds paired by hash and role, packages matched by name across
//! versions, per-package gains and losses with their paths, the counts
//! per seed, and what the guard for CI reports.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use abovo_graph::build::{DrvRecord, build_graph};
use abovo_graph::query::Walk;
use abovo_graph::{Graph, Package, PackageTable};
use abovo_store::derivation::{DerivationKind, FixedOutput};
use abovo_store::{HashAlgo, StoreDir, StorePath};
use abovo_trust::audit::{audit, table_packages};
use abovo_trust::classify::Seeds;
use abovo_trust::history::{Change, FailOn, Revision, compare_audits, compare_seeds};
use abovo_trust::knowledge::KnowledgeBase;
use abovo_trust::report::trust_report;

/// A store path whose 32-character hash part is `i` in nix32 digits.
fn sp(i: u32, name: &str) -> StorePath {
    StorePath::from_base_name(&format!("{i:0>32}-{name}")).unwrap()
}

/// Derivations of one revision; `base` keeps the two revisions' paths
/// apart.
struct Rev {
    records: Vec<DrvRecord>,
    next: u32,
}

impl Rev {
    fn new(base: u32) -> Self {
        Rev {
            records: Vec::new(),
            next: base,
        }
    }

    fn record(
        &mut self,
        name: &str,
        fixed: Option<(&str, &str)>,
        inputs: &[&StorePath],
    ) -> StorePath {
        self.next += 1;
        let path = sp(self.next, &format!("{name}.drv"));
        self.records.push(DrvRecord {
            path: path.clone(),
            system: "x86_64-linux".into(),
            builder: if fixed.is_some() {
                "builtin:download"
            } else {
                "/bin/sh"
            }
            .into(),
            outputs: vec![("out".into(), Some(sp(self.next + 5000, name)))],
            // The hash stands for the content: the same text, the same
            // seed in both revisions.
            fixed: fixed.map(|(content, _)| FixedOutput {
                recursive: false,
                hash: HashAlgo::Sha256.digest(content.as_bytes()),
            }),
            kind: if fixed.is_some() {
                DerivationKind::Fixed
            } else {
                DerivationKind::InputAddressed
            },
            env: fixed
                .map(|(_, url)| vec![("url".into(), format!("\"{url}\""))])
                .unwrap_or_default(),
            inputs: inputs
                .iter()
                .map(|p| ((*p).clone(), vec!["out".into()]))
                .collect(),
            sources: vec![],
        });
        path
    }

    fn finish(self, packages: &[(&str, &str, &StorePath)]) -> Graph {
        let mut g = build_graph(StoreDir::default(), self.records).unwrap();
        g.set_packages(PackageTable::new(
            packages
                .iter()
                .map(|(name, version, p)| Package {
                    name: (*name).into(),
                    version: (*version).into(),
                    derivation: (*p).clone(),
                    module: "test.scm".into(),
                })
                .collect(),
        ));
        g
    }
}

const BASH: (&str, &str) = (
    "bash bytes",
    "https://ftpmirror.gnu.org/guix/bootstrap/i686-linux/bash",
);

/// ```text
/// old: a-1.0 → libc → boot → bash, mes-minimal-stripped-0.19-i686-linux.tar.xz
///      b-1.0 → libc, tool-1.0-x86_64-linux.tar.gz
///      c-1.0 → boot
///      e-1.0 → boot
/// new: a-2.0 → libc → boot → bash, stage0-posix-1.6.0.tar.gz
///      b-1.0 → libc, tool-1.1-x86_64-linux.tar.gz
///      c-1.0 → boot, tool-1.1-x86_64-linux.tar.gz
///      d-1.0 → boot
/// ```
fn revisions() -> (Graph, Graph) {
    let mut o = Rev::new(0);
    let bash = o.record("bash", Some(BASH), &[]);
    let mes = o.record(
        "mes-minimal-stripped-0.19-i686-linux.tar.xz",
        Some(("mes", "https://ftpmirror.gnu.org/guix/bootstrap/i686-linux/20190815/mes-minimal-stripped-0.19-i686-linux.tar.xz")),
        &[],
    );
    let boot = o.record("boot-0", None, &[&bash, &mes]);
    let libc = o.record("libc-1.0", None, &[&boot]);
    let a = o.record("a-1.0", None, &[&libc]);
    let tool = o.record(
        "tool-1.0-x86_64-linux.tar.gz",
        Some((
            "tool 1.0",
            "https://example.org/tool-1.0-x86_64-linux.tar.gz",
        )),
        &[],
    );
    let b = o.record("b-1.0", None, &[&libc, &tool]);
    let c = o.record("c-1.0", None, &[&boot]);
    let e = o.record("e-1.0", None, &[&boot]);
    let old = o.finish(&[
        ("a", "1.0", &a),
        ("b", "1.0", &b),
        ("c", "1.0", &c),
        ("e", "1.0", &e),
    ]);

    let mut n = Rev::new(1000);
    let bash = n.record("bash", Some(BASH), &[]);
    let stage0 = n.record(
        "stage0-posix-1.6.0.tar.gz",
        Some(("stage0", "mirror://gnu/mes/stage0-posix-1.6.0.tar.gz")),
        &[],
    );
    let boot = n.record("boot-0", None, &[&bash, &stage0]);
    let libc = n.record("libc-1.0", None, &[&boot]);
    let a = n.record("a-2.0", None, &[&libc]);
    let tool = n.record(
        "tool-1.1-x86_64-linux.tar.gz",
        Some((
            "tool 1.1",
            "https://example.org/tool-1.1-x86_64-linux.tar.gz",
        )),
        &[],
    );
    let b = n.record("b-1.0", None, &[&libc, &tool]);
    let c = n.record("c-1.0", None, &[&boot, &tool]);
    let d = n.record("d-1.0", None, &[&boot]);
    let new = n.finish(&[
        ("a", "2.0", &a),
        ("b", "1.0", &b),
        ("c", "1.0", &c),
        ("d", "1.0", &d),
    ]);
    (old, new)
}

fn seeds() -> Seeds {
    let mut s = Seeds::new(KnowledgeBase::built_in().unwrap());
    s.use_store = false;
    s
}

#[test]
fn the_audits_of_two_revisions_compared() {
    let (old_g, new_g) = revisions();
    let (old_p, new_p) = (table_packages(&old_g), table_packages(&new_g));
    let walk = &Walk::trust(false);
    let old_r = audit(&old_g, &old_p, &seeds(), walk, 0).unwrap();
    let new_r = audit(&new_g, &new_p, &seeds(), walk, 0).unwrap();
    let c = compare_audits(
        Revision {
            graph: &old_g,
            packages: &old_p,
            report: &old_r,
        },
        Revision {
            graph: &new_g,
            packages: &new_p,
            report: &new_r,
        },
        walk,
    );
    assert_eq!(c.matched, 3);
    assert_eq!(c.only_old, ["e@1.0"]);
    assert_eq!(c.only_new, ["d@1.0"]);
    let seed = |name: &str| c.seeds.iter().find(|s| s.side().name == name).unwrap();
    let stage0 = seed("stage0-posix-1.6.0.tar.gz");
    assert_eq!(
        (stage0.change, stage0.gained, stage0.lost),
        (Change::Added, 3, 0)
    );
    assert_eq!(stage0.new.as_ref().unwrap().packages, 4);
    let mes = seed("mes-minimal-stripped-0.19-i686-linux.tar.xz");
    assert_eq!((mes.change, mes.gained, mes.lost), (Change::Removed, 0, 3));
    let tool = seed("tool-1.1-x86_64-linux.tar.gz");
    assert_eq!(tool.change, Change::Changed);
    assert_eq!(
        tool.old.as_ref().unwrap().name,
        "tool-1.0-x86_64-linux.tar.gz"
    );
    assert_eq!((tool.gained, tool.lost, tool.changed_under), (1, 0, 1));
    assert_eq!(seed("bash").change, Change::Unchanged);
    // Added, removed, changed, unchanged, in that order.
    let order: Vec<Change> = c.seeds.iter().map(|s| s.change).collect();
    assert_eq!(
        order,
        [
            Change::Added,
            Change::Removed,
            Change::Changed,
            Change::Unchanged
        ]
    );

    let names = |p: &abovo_trust::history::PackageChange| {
        (
            p.gained
                .iter()
                .map(|s| c.label(s.seed).to_owned())
                .collect::<Vec<_>>(),
            p.lost
                .iter()
                .map(|s| c.label(s.seed).to_owned())
                .collect::<Vec<_>>(),
            p.changed.len(),
        )
    };
    assert_eq!(c.packages.len(), 3);
    let a = &c.packages[0];
    assert_eq!(
        (
            a.name.as_str(),
            a.old_version.as_deref(),
            a.new_version.as_deref()
        ),
        ("a", Some("1.0"), Some("2.0"))
    );
    assert_eq!(
        names(a),
        (
            vec!["stage0-posix-1.6.0.tar.gz".into()],
            vec!["mes-minimal-stripped-0.19-i686-linux.tar.xz".into()],
            0
        )
    );
    assert_eq!(
        a.gained[0].path,
        ["a-2.0", "libc-1.0", "boot-0", "stage0-posix-1.6.0.tar.gz"]
    );
    assert_eq!(
        a.lost[0].path,
        [
            "a-1.0",
            "libc-1.0",
            "boot-0",
            "mes-minimal-stripped-0.19-i686-linux.tar.xz"
        ]
    );
    let b = &c.packages[1];
    assert_eq!(names(b).2, 1);
    assert_eq!(
        b.changed[0].old.path,
        ["b-1.0", "tool-1.0-x86_64-linux.tar.gz"]
    );
    assert_eq!(
        b.changed[0].new.path,
        ["b-1.0", "tool-1.1-x86_64-linux.tar.gz"]
    );
    let cc = &c.packages[2];
    assert_eq!(
        names(cc).0,
        ["stage0-posix-1.6.0.tar.gz", "tool-1.1-x86_64-linux.tar.gz"]
    );

    // The guard: binary seeds new to the distribution (stage0, the new
    // tool), then every package newly resting on one.
    let v = c.violations(FailOn::NewBinary);
    let listed: Vec<(Option<&str>, &str)> = v
        .iter()
        .map(|v| (v.package.as_deref(), v.seed.as_str()))
        .collect();
    assert_eq!(
        listed,
        [
            (None, "stage0-posix-1.6.0.tar.gz"),
            (None, "tool-1.1-x86_64-linux.tar.gz"),
            (Some("a"), "stage0-posix-1.6.0.tar.gz"),
            (Some("b"), "stage0-posix-1.6.0.tar.gz"),
            (Some("b"), "tool-1.1-x86_64-linux.tar.gz"),
            (Some("c"), "stage0-posix-1.6.0.tar.gz"),
            (Some("c"), "tool-1.1-x86_64-linux.tar.gz"),
        ]
    );
    // any-change adds the removed Mes binary and the three packages that lost it.
    assert_eq!(c.violations(FailOn::AnyChange).len(), v.len() + 4);

    // Against itself: nothing changed, nothing to report.
    let same = compare_audits(
        Revision {
            graph: &new_g,
            packages: &new_p,
            report: &new_r,
        },
        Revision {
            graph: &new_g,
            packages: &new_p,
            report: &new_r,
        },
        walk,
    );
    assert_eq!(same.unchanged_packages, 4);
    assert!(same.violations(FailOn::AnyChange).is_empty());
}

#[test]
fn the_seeds_of_one_package_compared() {
    let (old_g, new_g) = revisions();
    let resolve = |g: &Graph, name: &str| abovo_graph::resolve::resolve(g, name).unwrap();
    let walk = &Walk::trust(false);
    let old = trust_report(&old_g, resolve(&old_g, "b"), &seeds(), walk).unwrap();
    let new = trust_report(&new_g, resolve(&new_g, "b"), &seeds(), walk).unwrap();
    let c = compare_seeds(&old, &new);
    let of = |ch: Change| -> Vec<String> {
        c.with_change(ch)
            .map(|s| s.entry().facts.name.clone())
            .collect()
    };
    assert_eq!(of(Change::Added), ["stage0-posix-1.6.0.tar.gz"]);
    assert_eq!(
        of(Change::Removed),
        ["mes-minimal-stripped-0.19-i686-linux.tar.xz"]
    );
    assert_eq!(of(Change::Changed), ["tool-1.1-x86_64-linux.tar.gz"]);
    assert_eq!(of(Change::Unchanged), ["bash"]);
    assert_eq!((c.old_binary.seeds, c.new_binary.seeds), (3, 3));
    let v = c.violations(FailOn::NewBinary);
    assert_eq!(v.len(), 2);
    assert!(v.iter().all(|v| v.package.as_deref() == Some("b-1.0")));
    assert_eq!(v[0].path.first().map(String::as_str), Some("b-1.0"));
    assert_eq!(c.violations(FailOn::AnyChange).len(), 3);
}
