//! The `abovo` command; everything happens in [`abovo::run_and_exit`].
#![forbid(unsafe_code)]
fn main() {
    abovo::run_and_exit(std::env::args_os())
}
