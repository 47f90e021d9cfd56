//! The output names a graph's edges use, as a whole: a graph has a few
//! dozen distinct sets of them, so a question about every edge of a
//! closure ("does any use an output of an output?") is first asked of
//! those sets, and a closure is walked only when one of them answers yes.

use super::Graph;

impl Graph {
    /// Every output name some edge of the graph uses (each set of names
    /// once; a name may repeat across sets).
    pub fn edge_output_names(&self) -> impl Iterator<Item = &str> {
        self.columns
            .out_sets
            .iter()
            .flatten()
            .map(|&s| self.columns.strings.get(s))
    }
}
