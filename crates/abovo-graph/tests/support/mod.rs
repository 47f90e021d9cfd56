//! Hand-made graphs for the integration tests: store paths whose hash part
//! comes from a number (so node ids sort by it) and derivation records
//! built from a few names.
#![allow(dead_code, clippy::unwrap_used)] // tests: a panic is the failure report

use abovo_graph::build::DrvRecord;
use abovo_store::StorePath;

/// A store path whose hash part is derived from `tag`, so that ids sort by
/// tag.
pub fn sp(tag: u32, name: &str) -> StorePath {
    let alphabet = b"0123456789abcdfghijklmnpqrsvwxyz";
    let mut h = [b'0'; 32];
    let mut t = tag;
    for i in (0..32).rev() {
        h[i] = alphabet[(t % 32) as usize];
        t /= 32;
    }
    StorePath::from_base_name(&format!("{}-{name}", std::str::from_utf8(&h).unwrap())).unwrap()
}

/// The derivation `name` built by `/bin/sh`: its `.drv` path from `tag`,
/// one output per name in `outputs` (all at the path of `tag + 1000`), the
/// `inputs` with the output names each one is used for, and `sources`.
pub fn record(
    tag: u32,
    name: &str,
    outputs: &[&str],
    inputs: &[(&StorePath, &[&str])],
    sources: &[&StorePath],
) -> DrvRecord {
    DrvRecord {
        path: sp(tag, &format!("{name}.drv")),
        system: "x86_64-linux".into(),
        builder: "/bin/sh".into(),
        outputs: outputs
            .iter()
            .map(|o| (o.to_string(), Some(sp(tag + 1000, name))))
            .collect(),
        fixed: None,
        kind: abovo_store::derivation::DerivationKind::InputAddressed,
        env: vec![],
        inputs: inputs
            .iter()
            .map(|(p, o)| ((*p).clone(), o.iter().map(|s| s.to_string()).collect()))
            .collect(),
        sources: sources.iter().map(|p| (*p).clone()).collect(),
    }
}
