//! Sections of the built-in snapshot's in-place form read on first use:
//! wrong or damaged, they are found when they are read, never before.

use super::*;

/// The arrays of version 7 made wrong but not out of range, checksums
/// made right: opening in place takes them (wrong answers, never a
/// panic), the checked read refuses each, naming what is wrong.
pub(super) fn wrong_stored_arrays_are_caught(g: &Graph, bytes: &[u8], dir: &tempfile::TempDir) {
    let t = table(bytes);
    let words = |b: &[u8], i: usize| -> Vec<u32> {
        let (start, len) = t[i];
        b[start..start + len]
            .chunks(4)
            .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
            .collect()
    };
    let put = |b: &mut Vec<u8>, i: usize, v: &[u32]| {
        let (start, len) = t[i];
        let new: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        b[start..start + len].copy_from_slice(&new);
        rehash(b, i, start, len);
    };
    let mut cases: Vec<(usize, Vec<u32>, &str)> = Vec::new();
    // The `package` graph's order reversed (33), its dependents of two
    // packages swapped (32).
    let mut order = words(bytes, 33);
    order.reverse();
    cases.push((33, order, "before an input"));
    let mut targets = words(bytes, 32);
    let at = targets.windows(2).position(|w| w[0] != w[1]).unwrap();
    targets.swap(at, at + 1);
    cases.push((32, targets, "not the reverse edges"));
    // A package row starting a byte late (37), a row naming another node
    // (38).
    let mut starts = words(bytes, 37);
    starts[1] += 1;
    cases.push((37, starts, "package row starts"));
    let mut nodes = words(bytes, 38);
    let at = nodes.iter().position(|&n| n != u32::MAX).unwrap();
    nodes[at] = (nodes[at] + 1) % g.len() as u32;
    cases.push((38, nodes, "package row starts or nodes"));
    // A derivation given another derivation's set of output names (40).
    let mut sets = words(bytes, 40);
    let a = sets.iter().position(|&x| x != u32::MAX).unwrap();
    let b = sets
        .iter()
        .position(|&x| x != u32::MAX && x != sets[a])
        .unwrap();
    sets[a] = sets[b];
    cases.push((40, sets, "output names of node"));
    // Two derivations' record starts swapped (42).
    let mut starts = words(bytes, 42);
    let a = starts.iter().position(|&x| x != 0).unwrap();
    let b = a + 1 + starts[a + 1..].iter().position(|&x| x != 0).unwrap();
    starts.swap(a, b);
    cases.push((42, starts, "derivation start of node"));
    for (section, value, want) in cases {
        let mut bad = bytes.to_vec();
        put(&mut bad, section, &value);
        let err = snapshot::read(&bad).unwrap_err().to_string();
        assert!(err.contains(want), "section {section}: {err}");
        let (opts, seen) = recorder();
        let m = snapshot::open_with(&write_file(dir, &bad), &opts).unwrap();
        let pg = m.package_graph();
        if let Some(v) = pg.view(&m, GraphType::Package) {
            let _ = v.topological_order();
            let _ = pg.ids().map(|p| v.dependents(p).len()).sum::<usize>();
        }
        let _ = m.nodes().map(|n| m.output_names(n).len()).sum::<usize>();
        let _ = m.nodes().filter_map(|n| m.derivation(n)).count();
        let _ = (0..m.packages().len())
            .map(|i| m.packages().name(i).len())
            .sum::<usize>();
        assert!(seen.lock().unwrap().is_empty(), "section {section}");
    }
    // Two fixed outputs' hash parts swapped (43): opened in place, each
    // names the other's path; the checked read refuses it.
    let (start, len) = t[43];
    let mut bad = bytes.to_vec();
    let parts: Vec<[u8; 32]> = bad[start..start + len]
        .chunks(32)
        .map(|c| c.try_into().unwrap())
        .collect();
    let a = parts.iter().position(|p| *p != [0; 32]).unwrap();
    let b = a + 1 + parts[a + 1..].iter().position(|p| *p != [0; 32]).unwrap();
    bad[start + 32 * a..start + 32 * a + 32].copy_from_slice(&parts[b]);
    bad[start + 32 * b..start + 32 * b + 32].copy_from_slice(&parts[a]);
    rehash(&mut bad, 43, start, len);
    let err = snapshot::read(&bad).unwrap_err().to_string();
    assert!(err.contains("fixed outputs' hash parts"), "{err}");
    let m = snapshot::open(&write_file(dir, &bad)).unwrap();
    let path = |g: &Graph, i: usize| {
        let n = g.nodes().nth(i).unwrap();
        g.derivation(n).unwrap().fixed_output_path().unwrap()
    };
    assert_eq!(path(&m, a).hash_part(), path(g, b).hash_part());
}

/// How package edges are taken (the uses array of a layer and the use
/// sets in its head) is read on first use only: following the edges, as a
/// trust report's package trails do, never reads it, so damage there goes
/// unseen until [`abovo_graph::package_graph::PackageView::uses`] is
/// asked; then it is reported once and the uses read as none, while the
/// edges stay as they were.
pub(super) fn edge_uses_are_read_on_first_use(g: &Graph, bytes: &[u8], dir: &tempfile::TempDir) {
    // The bag-emerged graph's head (15) and uses array (24).
    let (head, uses) = (15, 24);
    let t = table(bytes);
    let bag = GraphType::BagEmerged;
    let view = g.package_graph().view(g, bag).unwrap();
    let (p, q) = g
        .package_graph()
        .ids()
        .find_map(|p| view.inputs(p).first().map(|&q| (p, q)))
        .unwrap();
    assert!(view.uses(p, q).len() > 0);
    let mut cases: Vec<(Vec<u8>, &str)> = Vec::new();
    // A byte of the uses array flipped, its checksum left wrong.
    let (start, len) = t[uses];
    let mut bad = bytes.to_vec();
    bad[start + len / 2] ^= 0x21;
    cases.push((bad, "checksum"));
    // An edge's use set past the last set, the checksum made right.
    let mut bad = bytes.to_vec();
    bad[start..start + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    rehash(&mut bad, uses, start, len);
    cases.push((bad, "input use set out of range"));
    // The head's edge count (its last varint) one more, the checksum
    // made right.
    let (start, len) = t[head];
    let mut bad = bytes.to_vec();
    bad[start + len - 1] += 1;
    rehash(&mut bad, head, start, len);
    cases.push((bad, "package edge count"));
    for (bad, want) in cases {
        let (opts, seen) = recorder();
        let m = snapshot::open_with(&write_file(dir, &bad), &opts).unwrap();
        let pg = m.package_graph();
        let v = pg.view(&m, bag).unwrap();
        let _ = v.topological_order();
        for p in pg.ids() {
            assert_eq!(v.inputs(p), view.inputs(p));
            let _ = v.dependents(p);
        }
        assert!(seen.lock().unwrap().is_empty(), "{want}");
        assert_eq!(v.uses(p, q).len(), 0, "{want}");
        assert_eq!(v.uses(p, q).len(), 0, "{want}");
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 1, "{want}: {seen:?}");
        assert!(seen[0].contains(want), "{want}: {seen:?}");
        assert!(seen[0].contains("bag-emerged edges"), "{seen:?}");
    }
}
