//! What several targets share (each includes it with `#[path]`).

use abovo_graph::Graph;
use abovo_graph::snapshot::{self, WriteOptions};

/// `g` written as a snapshot (quickly: zstd level 1) and read back: the
/// bytes, and the graph they hold. A graph that does not write, or a
/// snapshot that does not read, is a failure of the target.
pub fn snapshot_round_trip(g: &Graph) -> (Vec<u8>, Graph) {
    let opts = WriteOptions {
        creator: "fuzz".into(),
        level: 1,
        nar_hashes: true,
    };
    let written = snapshot::write(g, &opts).expect("a graph that was loaded writes");
    let back = snapshot::read(&written).expect("a written snapshot reads");
    (written, back)
}
