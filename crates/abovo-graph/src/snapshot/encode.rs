//! Writing a graph as snapshot sections (see the [format](super)).

use super::WriteOptions;
use super::codec::Enc;
use crate::graph::{Graph, OutPath};
use abovo_store::derivation::DerivationKind;
use abovo_store::hash::HashAlgo;
use abovo_store::nixbase32;

pub(super) fn algo_code(a: HashAlgo) -> u8 {
    match a {
        HashAlgo::Md5 => 1,
        HashAlgo::Sha1 => 2,
        HashAlgo::Sha256 => 3,
        HashAlgo::Sha512 => 4,
    }
}

/// The tag of a derivation without a fixed output: 0 for an input-addressed
/// one (all of Guix's), the kind in the bits above the algorithm's and
/// `recursive`'s for Nix's kinds whose paths are known only after a build.
fn unbuilt_code(kind: DerivationKind) -> u8 {
    match kind {
        DerivationKind::InputAddressed | DerivationKind::Fixed => 0,
        DerivationKind::Deferred => 1 << 5,
        DerivationKind::Floating => 2 << 5,
        DerivationKind::Impure => 3 << 5,
    }
}

fn digest20(hash_part: &[u8; 32]) -> [u8; 20] {
    std::str::from_utf8(hash_part)
        .ok()
        .and_then(|s| nixbase32::decode_fixed::<20>(s).ok())
        .unwrap_or([0; 20])
}

/// The eleven sections, uncompressed.
pub(super) fn encode(g: &Graph, opts: &WriteOptions) -> Vec<Vec<u8>> {
    let (text, ends) = g.columns.strings.raw_parts();
    let columns = g.drv_columns();

    let mut h = Enc::default();
    h.str(&opts.creator);
    h.str(g.columns.store.as_str());
    h.str(&g.description);
    for count in [
        ends.len(),
        g.len(),
        columns.drvs.len(),
        columns.outputs.len(),
        columns.env.len(),
        g.columns.out_sets.len(),
        g.edge_count(),
        g.packages().len(),
    ] {
        h.var(count as u64);
    }

    let mut s = Enc::default();
    let mut prev = 0;
    for &end in ends {
        s.var(u64::from(end - prev));
        prev = end;
    }
    s.bytes(text);

    let mut nodes = Enc::default();
    for hp in g.columns.hash_parts.all() {
        nodes.bytes(&digest20(hp));
    }
    for id in g.columns.names.iter() {
        nodes.var(u64::from(id.0));
    }
    for &k in g.columns.kinds.iter() {
        nodes.u8(k);
    }

    let mut d = Enc::default();
    let mut prev = 0;
    for drv in &columns.drvs {
        d.var(u64::from(drv.node.0 - prev));
        prev = drv.node.0;
        d.var(u64::from(drv.system.0));
        d.var(u64::from(drv.builder.0));
        match drv.fixed {
            None => d.u8(unbuilt_code(drv.kind)),
            Some(f) => {
                d.u8(algo_code(f.hash.algo()) | if f.recursive { 16 } else { 0 });
                d.bytes(f.hash.digest());
            }
        }
        let outputs = &columns.outputs[drv.outputs.0 as usize..drv.outputs.1 as usize];
        d.var(outputs.len() as u64);
        // A fixed output at the path its hash gives is not stored: the
        // digests are incompressible and the path is cheap to recompute.
        let computed = drv.fixed.and_then(|f| {
            g.columns
                .store
                .make_fixed_output_path(g.label(drv.node), f.recursive, &f.hash)
                .ok()
        });
        for o in outputs {
            d.var(u64::from(o.name.0));
            match o.path {
                OutPath::None => d.u8(0),
                OutPath::Fixed => d.u8(2),
                OutPath::Stored(hp, n) => {
                    let is_computed = computed.as_ref().is_some_and(|c| {
                        c.hash_part_bytes() == &hp
                            && c.name() == g.columns.strings.get(n)
                            && g.columns.strings.get(o.name) == "out"
                    });
                    if is_computed {
                        d.u8(2);
                    } else {
                        d.u8(1);
                        d.var(u64::from(n.0));
                        d.bytes(&digest20(&hp));
                    }
                }
            }
        }
        let env = &columns.env[drv.env.0 as usize..drv.env.1 as usize];
        d.var(env.len() as u64);
        for (k, v) in env {
            d.var(u64::from(k.0));
            d.var(u64::from(v.0));
        }
    }

    let mut e = Enc::default();
    for set in &g.columns.out_sets {
        e.var(set.len() as u64);
        for s in set {
            e.var(u64::from(s.0));
        }
    }
    for n in g.nodes() {
        let targets = g.inputs(n);
        e.var(targets.len() as u64);
        let mut prev = 0u32;
        for t in targets {
            e.var(u64::from(t.0 - prev));
            prev = t.0;
        }
        for &set in g.columns.edge_sets(g.columns.inputs.range(n)) {
            e.var(u64::from(set));
        }
    }

    let mut p = Enc::default();
    let table = g.packages();
    for (i, row) in table.rows().iter().enumerate() {
        p.str(&row.name);
        p.str(&row.version);
        match table.node(i) {
            Some(n) => p.var(u64::from(n.0) + 1),
            None => {
                p.var(0);
                p.str(&row.derivation.to_string());
            }
        }
        p.str(&row.module);
    }

    let mut m = Enc::default();
    let meta = g.meta();
    if meta.is_empty() {
        m.u8(0);
    } else {
        m.u8(1);
        for n in g.nodes() {
            m.var(meta.nar_size(n).map_or(0, |s| s.saturating_add(1)));
        }
        let mut hashes: Vec<_> = meta.nar_hash.iter().filter(|_| opts.nar_hashes).collect();
        hashes.sort_unstable();
        m.var(hashes.len() as u64);
        let mut prev = 0;
        for (n, hash) in hashes {
            m.var(u64::from(n.0 - prev));
            prev = n.0;
            m.bytes(hash);
        }
        let mut refs: Vec<_> = meta.references.iter().collect();
        refs.sort_unstable();
        m.var(refs.len() as u64);
        for (n, list) in refs {
            m.var(u64::from(n.0));
            m.var(list.len() as u64);
            for r in list {
                m.var(u64::from(r.0));
            }
        }
        m.var(meta.rows_outside);
        m.var(meta.references_outside);
    }
    let mut sections = vec![h.buf, s.buf, nodes.buf, d.buf, e.buf, p.buf, m.buf];
    sections.extend(super::packages::encode(g));
    sections
}
