//! The sandbox helper as a program of its own, for library users and this
//! crate's tests. The `abovo` binary runs the same code by re-executing
//! itself with a hidden subcommand.
fn main() {
    abovo_sandbox::helper::main()
}
