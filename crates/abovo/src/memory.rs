//! How the `abovo` process takes memory: its allocator, which commands
//! let the heap use transparent huge pages, and how it gives it back.
//!
//! mimalloc asks the kernel for transparent huge pages (`MADV_HUGEPAGE`) on
//! the regions it reserves. A query on the built-in snapshot is short and
//! its heap dense: `seeds python-pytorch` touches some 13 MB of fresh heap,
//! which in 4 KiB pages is about 3,200 page faults (each zeroing a page)
//! and as many pages for the kernel to free at exit; in 2 MiB pages it is a
//! few dozen faults (3,580 in all became 307). The queries ran 5–14% faster
//! that way (BENCHMARKS.md, "Huge pages and smaller checked blocks").
//!
//! A huge page is resident as a whole once touched, so a process that
//! keeps many partly used regions grows: `audit` peaked at 170 MB instead
//! of 122 MB, above its 150 MB bar. So only the graph queries
//! ([`keeps_huge_pages`]) keep them; every other command turns them off
//! for the whole process at its start ([`keep_pages_small`]), as abovo did
//! for all commands before. The setting is inherited by child processes,
//! which for `abovo build` means its builders, as before.
//!
//! Where the kernel gives no huge pages (`never` in
//! `/sys/kernel/mm/transparent_hugepage/enabled`), none of this changes
//! anything.
//!
//! The process ends without giving anything back ([`exit`]): the graph and
//! the answer are left allocated ([`crate::source::release_at_exit`]), and the
//! allocator's exit handler, which would return its free pages to the
//! kernel one region at a time, does not run; the kernel takes the whole
//! address space back at once.

use crate::commands::Command;

/// The allocator of the `abovo` binary. Loading and verifying a graph makes
/// millions of small allocations (every string of every derivation), where
/// mimalloc is about a quarter faster than glibc's malloc.
///
/// Its version 2: a query's heap takes fewer huge pages in it than in
/// version 3 (13 instead of 20 for `seeds python-pytorch`), each zeroed by
/// the kernel when first touched. With the same code, queries were 3–14%
/// faster in version 2 (the seeds' HTML alone 3% slower). What it costs:
/// the first index of a 200,000-`.drv` store 1.045× the time (median of 36
/// pairs) and 1.10× the peak memory; a whole store parsed without the
/// index 1.23× the peak memory (BENCHMARKS.md, "mimalloc 2").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Whether `command` keeps transparent huge pages: the graph queries, which
/// load a graph, answer one question about it and exit.
pub fn keeps_huge_pages(command: &Command) -> bool {
    matches!(
        command,
        Command::Graph(_)
            | Command::Path(_)
            | Command::Why(_)
            | Command::Dependents(_)
            | Command::Closure(_)
            | Command::Seeds(_)
            | Command::Show(_)
    )
}

/// Turns transparent huge pages off for this process and the processes it
/// starts (`PR_SET_THP_DISABLE`). Best effort: on a kernel without them
/// the call fails, and there is nothing to turn off.
pub fn keep_pages_small() {
    // SAFETY: prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) takes no pointer and
    // only sets a flag of the calling process.
    #[allow(unsafe_code)]
    let _ = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
}

/// Ends the process with exit code `code`, standard output flushed,
/// without the handlers that run at exit: the allocator's hands every
/// page it holds back to the kernel one range at a time (0.4 ms after a
/// large report), memory the kernel takes back anyway, at once, when the
/// process ends. Nothing else of abovo's runs at exit (Rust runs no
/// destructors there), and its output is written and flushed by then.
pub fn exit(code: u8) -> ! {
    // What a command left in the buffer (it flushes its own output and
    // reports errors; this is what the runtime would do at exit). No
    // thread holds standard output's lock by now: the commands' writers
    // are dropped when they return.
    let _ = std::io::Write::flush(&mut std::io::stdout());
    // SAFETY: _exit takes no pointer and does not return; the threads
    // still running (idle workers) end with the process.
    #[allow(unsafe_code)]
    unsafe {
        libc::_exit(i32::from(code))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::Parser;

    fn command(args: &[&str]) -> Command {
        Cli::try_parse_from(std::iter::once("abovo").chain(args.iter().copied()))
            .expect("the arguments parse")
            .command
    }

    #[test]
    fn only_the_graph_queries_keep_huge_pages() {
        for args in [
            &["graph", "hello"][..],
            &["path", "hello", "bash"],
            &["why", "hello", "glibc"],
            &["dependents", "glibc"],
            &["closure", "hello"],
            &["seeds", "python-pytorch"],
            &["show", "hello"],
        ] {
            assert!(keeps_huge_pages(&command(args)), "{args:?}");
        }
        for args in [
            &["audit"][..],
            &["index", "--source", "/gnu/store"],
            &["verify", "--all", "drvs.tar.zst"],
            &["build", "/gnu/store/x.drv"],
            &["serve"],
        ] {
            assert!(!keeps_huge_pages(&command(args)), "{args:?}");
        }
    }

    /// The flag is the kernel's, read back from /proc (Linux 5.0 and
    /// later show it); the test's own process is the one turned off.
    #[test]
    fn keeping_pages_small_turns_them_off_for_the_process() {
        let status = || std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        if !status().contains("THP_enabled:") {
            eprintln!("skipped: this kernel does not show THP_enabled in /proc/self/status");
            return;
        }
        keep_pages_small();
        assert!(
            status().lines().any(|l| l == "THP_enabled:\t0"),
            "{}",
            status()
        );
    }
}
