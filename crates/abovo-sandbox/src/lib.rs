//! The build sandbox: a builder run exactly as guix-daemon runs it
//! (docs/sandbox.md §1), isolated in namespaces and a chroot, set up one
//! checked system call at a time from a single-threaded helper process.
//!
//! # Processes
//!
//! ```text
//! caller (abovo, many threads)           run(): spec on stdin, log pipe, status pipe as fd 3
//!   └─ helper: `abovo __sandbox-helper`  helper::main(), one thread
//!        └─ clone(new namespaces)        the sandbox's PID 1: the steps below
//!             └─ execve(builder)
//! ```
//!
//! `clone` with namespaces is done in a helper because forking a
//! multi-threaded program copies only the calling thread, and the child
//! could then block on a lock another thread held. [`run`] writes the
//! [`SandboxSpec`] as JSON on the helper's standard input, gives it the log
//! pipe as standard output and error, and a *status pipe* as descriptor 3.
//! On the status pipe the helper writes the sandbox's PID (so that a limit
//! can kill it), and the sandbox reports the step that failed, if one does,
//! as a [`SetupError`]. The status pipe is close-on-exec, so its end of file
//! without an error means the builder is running. The log is read with
//! Guix's three [`Limits`]: silence, total time and log size.
//!
//! # The sequence
//!
//! The helper ([`helper`]) reads the spec, compiles the system call filter
//! when asked, clones the sandbox's first process into new user, mount,
//! PID, IPC, UTS and (unless the build shares the host's) network
//! namespaces, writes its uid and gid maps, starts slirp4netns for a
//! fixed-output build that gets the network that way, and lets it go.
//! That process then runs these steps, in this order, one function each
//! (guix-daemon's `runChild`, docs/sandbox.md §1.1); any failure stops it and is
//! reported with the step's name:
//!
//! 1. wait until the helper has written the id maps and started the
//!    network;
//! 2. standard input `/dev/null` (opened here, as guix-daemon does); new
//!    session; loopback up (ordinary builds); host name `localhost`,
//!    domain name `(none)`;
//! 3. `/` made private; the chroot bound onto itself; the build directory
//!    bound at `/tmp/guix-build-<name>.drv-0`; every input bound and
//!    remounted read-only; the host files of a fixed-output build; the
//!    device nodes; fresh `/proc`, `/dev/shm` (tmpfs) and `/dev/pts` (a new
//!    devpts instance);
//! 4. `pivot_root` into the chroot, `chroot`, the old root detached and
//!    removed;
//! 5. working directory = the build directory; `oom_score_adj` 1000; every
//!    descriptor above 2 closed on exec; personality (32-bit for an
//!    `i686-linux` build on x86_64, `ADDR_NO_RANDOMIZE`); umask 022; no
//!    core files; no ambient capabilities; the helper's capability bounding
//!    set; `no_new_privs` when the filter is asked for;
//! 6. the build user (gid 30000, uid 30001, and as root the supplementary
//!    group 30000); without privileges, the mounts locked in a nested user
//!    and mount namespace, checked; killed if the helper dies;
//! 7. every signal's action back to its default; the system call filter
//!    ([`seccomp`]) installed, when asked;
//! 8. `execve(builder, [basename(builder), args…], env)`.
//!
//! Every system call's result is checked: a step that cannot do what it
//! must fails the build with its reason, and nothing is left to chance
//! (a descriptor left open in the builder would keep the log pipe open, so
//! the build would never end and its limits never apply).
//!
//! # Identity and modes
//!
//! The builder is uid 30001, gid 30000 (`nixbld` in `/etc/passwd`) inside
//! its user namespace ([`Identity`]): as root, a host build user with a map
//! that is the identity (or swaps the build user's uid with 30001), so
//! that it sees what guix-daemon's build users see in the initial
//! namespace; without privileges, the caller's own ids, the only ones such
//! a namespace can map. When user namespaces are unavailable the build
//! fails with an error that says so: there is no weaker fallback.
//!
//! # Unsafe code
//!
//! This is the only crate of abovo with `unsafe` code, all of it in one
//! private module (`sys`): the raw `clone` into new namespaces, `personality`,
//! the loopback `ioctl`, the capability bounding set, signal actions through
//! the raw `rt_sigaction`, the descriptor 3 the helper inherits and the
//! parent-side `pre_exec`. Each block says why it is sound.
#![deny(missing_docs)]

mod child;
pub mod chroot;
mod error;
pub mod helper;
mod parent;
pub mod seccomp;
mod spec;
mod sys;

pub use error::{SandboxError, SetupError, Step};
pub use parent::{HelperCommand, Limits, Outcome, TimedOut, run};
pub use spec::{Identity, Network, SandboxSpec};

/// The uid the builder runs as, inside its user namespace.
pub const GUEST_UID: u32 = 30001;
/// The gid the builder runs as, inside its user namespace.
pub const GUEST_GID: u32 = 30000;
