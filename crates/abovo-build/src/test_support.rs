//! Helpers shared by the unit tests of several modules.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::path::Path;

/// Makes a FIFO (mode 0644) at `path`: a file type no store item can hold,
/// and one that blocks whoever opens it for reading.
pub(crate) fn make_fifo(path: &Path) {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
        0,
    )
    .unwrap();
}
