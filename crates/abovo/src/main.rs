//! The `abovo` command; everything happens in [`abovo::run`].
fn main() -> std::process::ExitCode {
    abovo::run(std::env::args_os())
}
