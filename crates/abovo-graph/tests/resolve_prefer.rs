//! Ties between derivations of the same name and version, broken the Guix
//! way: by the preferred system, then (for the second node of a question
//! about two) by reachability from the first. Small hand-made graphs with
//! known answers: a `boot-1.0` built for three systems, as the Guix corpus
//! has `guile-bootstrap-2.0`, and a `twin-2.0` defined twice for the same
//! system.
#![allow(clippy::unwrap_used)]

mod support;

use abovo_graph::build::{DrvRecord, build_graph};
use abovo_graph::query::Walk;
use abovo_graph::resolve::{Preferences, Resolution, TieBreak, resolve, resolve_with};
use abovo_graph::{Graph, NodeId, Package, PackageTable, ResolveError};
use abovo_store::{StoreDir, StorePath};
use support::record;

/// A derivation for `system`, using the `out` output of each input.
fn drv(tag: u32, name: &str, system: &str, inputs: &[&StorePath]) -> DrvRecord {
    let inputs: Vec<(&StorePath, &[&str])> = inputs.iter().map(|p| (*p, &["out"][..])).collect();
    let mut r = record(tag, name, &["out"], &inputs, &[]);
    r.system = system.into();
    r
}

/// `boot-1.0` for x86_64 (10), i686 (11) and armhf (12); `app` (x86_64)
/// uses the first, `tool` (i686) the second. `twin-2.0` twice for x86_64
/// (20, 21) and once for armhf (22); `user` uses twin 21. `odd-1.0` only
/// for i686 (30) and armhf (31); `far` uses the armhf one.
fn world() -> Graph {
    let boot = [
        drv(10, "boot-1.0", "x86_64-linux", &[]),
        drv(11, "boot-1.0", "i686-linux", &[]),
        drv(12, "boot-1.0", "armhf-linux", &[]),
    ];
    let twin = [
        drv(20, "twin-2.0", "x86_64-linux", &[]),
        drv(21, "twin-2.0", "x86_64-linux", &[]),
        drv(22, "twin-2.0", "armhf-linux", &[]),
    ];
    let odd = [
        drv(30, "odd-1.0", "i686-linux", &[]),
        drv(31, "odd-1.0", "armhf-linux", &[]),
    ];
    let app = drv(40, "app-1.0", "x86_64-linux", &[&boot[0].path]);
    let tool = drv(41, "tool-1.0", "i686-linux", &[&boot[1].path]);
    let user = drv(42, "user-1.0", "x86_64-linux", &[&twin[1].path]);
    let far = drv(43, "far-1.0", "armhf-linux", &[&odd[1].path]);
    let mut all: Vec<DrvRecord> = boot.into_iter().chain(twin).chain(odd).collect();
    all.extend([app, tool, user, far]);
    build_graph(StoreDir::default(), all).unwrap()
}

fn node(g: &Graph, spec: &str) -> NodeId {
    resolve(g, spec).unwrap_or_else(|e| panic!("{spec}: {e}"))
}

fn by_tag(g: &Graph, tag: u32, name: &str) -> NodeId {
    g.lookup(&support::sp(tag, &format!("{name}.drv"))).unwrap()
}

fn system(s: &str) -> Preferences {
    Preferences::new().system(s)
}

/// The systems of the candidates an ambiguity lists.
fn ambiguity(r: Result<Resolution, ResolveError>) -> Vec<String> {
    match r {
        Err(ResolveError::Ambiguous { candidates, .. }) => {
            candidates.into_iter().map(|c| c.system).collect()
        }
        other => panic!("expected an ambiguity, got {other:?}"),
    }
}

#[test]
fn without_preferences_a_tie_is_an_ambiguity() {
    let g = world();
    let systems = ambiguity(resolve_with(&g, "boot", &Preferences::new()));
    assert_eq!(systems, ["x86_64-linux", "i686-linux", "armhf-linux"]);
    assert!(resolve(&g, "boot@1").is_err());
}

#[test]
fn the_preferred_system_breaks_a_tie() {
    let g = world();
    let all: Vec<NodeId> = [10, 11, 12].map(|t| by_tag(&g, t, "boot-1.0")).into();
    for (sys, tag) in [
        ("x86_64-linux", 10),
        ("i686-linux", 11),
        ("armhf-linux", 12),
    ] {
        let r = resolve_with(&g, "boot", &system(sys)).unwrap();
        assert_eq!(r.node, by_tag(&g, tag, "boot-1.0"), "{sys}");
        assert_eq!(
            r.tie_break,
            Some(TieBreak::System {
                system: sys.into(),
                candidates: all.clone()
            })
        );
        // Every spelling of the name that ties goes the same way.
        for spec in ["boot@1.0", "boot@1", "boot-1.0", "boot-1.0.drv"] {
            assert_eq!(resolve_with(&g, spec, &system(sys)).unwrap().node, r.node);
        }
    }
}

#[test]
fn a_system_nobody_has_keeps_the_ambiguity() {
    let g = world();
    let systems = ambiguity(resolve_with(&g, "boot", &system("mips64el-linux")));
    assert_eq!(systems.len(), 3);
    // Two left for the system: the ambiguity lists only those two.
    let systems = ambiguity(resolve_with(&g, "twin", &system("x86_64-linux")));
    assert_eq!(systems, ["x86_64-linux", "x86_64-linux"]);
}

#[test]
fn a_unique_name_ignores_the_system() {
    let g = world();
    let r = resolve_with(&g, "tool", &system("x86_64-linux")).unwrap();
    assert_eq!(r.node, node(&g, "tool"));
    assert_eq!(r.tie_break, None);
    // …and says that the graph has no derivation of it for the system.
    assert_eq!(r.system_unavailable.as_deref(), Some("x86_64-linux"));
    let r = resolve_with(&g, "tool", &system("i686-linux")).unwrap();
    assert_eq!(r.system_unavailable, None);
    // A path is never reinterpreted either.
    let path = g.display_path(by_tag(&g, 11, "boot-1.0"));
    let r = resolve_with(&g, &path, &system("x86_64-linux")).unwrap();
    assert_eq!((r.node, r.tie_break), (by_tag(&g, 11, "boot-1.0"), None));
}

#[test]
fn reachability_breaks_what_the_system_leaves() {
    let g = world();
    let user = node(&g, "user");
    let twins: Vec<NodeId> = [20, 21].map(|t| by_tag(&g, t, "twin-2.0")).into();
    // The system keeps 20 and 21; only 21 is an input of `user`.
    let prefs = system("x86_64-linux").reachable_from(user, Walk::default());
    let r = resolve_with(&g, "twin", &prefs).unwrap();
    assert_eq!(r.node, twins[1]);
    assert_eq!(
        r.tie_break,
        Some(TieBreak::Reachable {
            from: user,
            candidates: twins.clone()
        })
    );
    assert_eq!(r.tie_break.unwrap().candidates(), &twins[..]);
    // No system matches `odd`: reachability decides among all.
    let far = node(&g, "far");
    let prefs = system("x86_64-linux").reachable_from(far, Walk::default());
    let r = resolve_with(&g, "odd", &prefs).unwrap();
    assert_eq!(r.node, by_tag(&g, 31, "odd-1.0"));
    // A start that reaches none of them leaves the ambiguity whole.
    let app = node(&g, "app");
    let prefs = system("x86_64-linux").reachable_from(app, Walk::default());
    assert_eq!(ambiguity(resolve_with(&g, "odd", &prefs)).len(), 2);
    // The system comes first: `tool` reaches the i686 `boot`, but the
    // x86_64 one is taken, as with the system alone.
    let tool = node(&g, "tool");
    let prefs = system("x86_64-linux").reachable_from(tool, Walk::default());
    let r = resolve_with(&g, "boot", &prefs).unwrap();
    assert_eq!(r.node, by_tag(&g, 10, "boot-1.0"));
    assert!(matches!(r.tie_break, Some(TieBreak::System { .. })));
    // Without a system, reachability alone.
    let prefs = Preferences::new().reachable_from(tool, Walk::default());
    assert_eq!(
        resolve_with(&g, "boot", &prefs).unwrap().node,
        by_tag(&g, 11, "boot-1.0")
    );
}

#[test]
fn ties_in_the_package_table_break_the_same_way() {
    let mut g = world();
    let row = |tag: u32| Package {
        name: "bootstrap".into(),
        version: "1.0".into(),
        derivation: support::sp(tag, "boot-1.0.drv"),
        module: "boot.scm".into(),
    };
    g.set_packages(PackageTable::new(vec![row(10), row(11), row(12)]));
    assert_eq!(
        ambiguity(resolve_with(&g, "bootstrap", &Preferences::new())).len(),
        3
    );
    let r = resolve_with(&g, "bootstrap@1", &system("armhf-linux")).unwrap();
    assert_eq!(r.node, by_tag(&g, 12, "boot-1.0"));
}

/// A package table lists one system's derivations (Guix computes it for
/// one), while the graph holds the others: `--system` still chooses.
#[test]
fn a_package_table_of_one_system_follows_the_preferred_system() {
    let mut g = world();
    let row = |name: &str, tag: u32, drv: &str| Package {
        name: name.into(),
        version: "1.0".into(),
        derivation: support::sp(tag, drv),
        module: "boot.scm".into(),
    };
    g.set_packages(PackageTable::new(vec![
        row("bootstrap", 10, "boot-1.0.drv"),
        row("app", 40, "app-1.0.drv"),
    ]));
    let boots: Vec<NodeId> = [10, 11, 12].map(|t| by_tag(&g, t, "boot-1.0")).into();
    // The table's x86_64 row, as before.
    let r = resolve_with(&g, "bootstrap", &system("x86_64-linux")).unwrap();
    assert_eq!((r.node, r.tie_break), (boots[0], None));
    // The i686 derivation of the same name, and the tie-break says why.
    let r = resolve_with(&g, "bootstrap", &system("i686-linux")).unwrap();
    assert_eq!(r.node, boots[1]);
    assert_eq!(
        r.tie_break,
        Some(TieBreak::System {
            system: "i686-linux".into(),
            candidates: boots.clone()
        })
    );
    assert_eq!(r.system_unavailable, None);
    let r = resolve_with(&g, "bootstrap@1", &system("armhf-linux")).unwrap();
    assert_eq!(r.node, boots[2]);
    // No derivation of that name for the system: the table's, said so.
    let r = resolve_with(&g, "bootstrap", &system("mips64el-linux")).unwrap();
    assert_eq!(r.node, boots[0]);
    assert_eq!(r.system_unavailable.as_deref(), Some("mips64el-linux"));
    let r = resolve_with(&g, "app", &system("i686-linux")).unwrap();
    assert_eq!(r.node, node(&g, "app"));
    assert_eq!(r.system_unavailable.as_deref(), Some("i686-linux"));
    // Without a preferred system, the table decides alone.
    let r = resolve_with(&g, "bootstrap", &Preferences::new()).unwrap();
    assert_eq!((r.node, r.system_unavailable), (boots[0], None));
    // Two of that name for the system: an ambiguity between those two.
    g.set_packages(PackageTable::new(vec![Package {
        name: "twin".into(),
        version: "2.0".into(),
        derivation: support::sp(22, "twin-2.0.drv"),
        module: String::new(),
    }]));
    let systems = ambiguity(resolve_with(&g, "twin", &system("x86_64-linux")));
    assert_eq!(systems, ["x86_64-linux", "x86_64-linux"]);
}
