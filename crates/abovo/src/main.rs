//! The `abovo` command; everything happens in [`abovo::run`].
#![forbid(unsafe_code)]
fn main() -> std::process::ExitCode {
    abovo::run(std::env::args_os())
}
