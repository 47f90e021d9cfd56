//! The options of a build (`abovo build`'s flags), and the network a
//! fixed-output build gets.

use super::log::LogCompression;
use super::remote::RemoteExecutor;
use crate::builtins::DownloadOptions;
use crate::sandbox::{HelperCommand, Limits};
use std::path::PathBuf;
use std::sync::Arc;

/// Options of a build (`abovo build`'s flags).
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// How many derivations build at once.
    pub jobs: usize,
    /// `NIX_BUILD_CORES`; `None` passes `0` ("all"), as guix-daemon does.
    pub cores: Option<u32>,
    /// Silence and total time limits.
    pub limits: Limits,
    /// Keep the build directory of a failed build, and the differing output
    /// of `--check`/`--rounds` as `<out>-check`.
    pub keep_failed: bool,
    /// Rebuild the targets although their outputs are valid and compare.
    pub check: bool,
    /// Rebuild the targets and replace their outputs (corrupt or missing
    /// items of a store with a valid deriver).
    pub repair: bool,
    /// Build each derivation this many times and compare (at least 1).
    pub rounds: u32,
    /// Go on with other derivations after a failure.
    pub keep_going: bool,
    /// How to start the sandbox helper.
    pub helper: HelperCommand,
    /// Where host build directories are created (`$TMPDIR` or `/tmp`).
    pub tmp_dir: PathBuf,
    /// Settings of `builtin:download` and `builtin:git-download`.
    pub downloads: DownloadOptions,
    /// How build logs are compressed (gzip, as guix-daemon does by
    /// default).
    pub log_compression: LogCompression,
    /// Install the system call filter in the sandbox (no setuid or setgid
    /// bits, no extended attributes) and `no_new_privs`, as Nix does. Off by
    /// default: guix-daemon has neither, a builder can see both, and a
    /// build Guix passes (one that sets a setuid bit, which canonicalisation
    /// clears) would fail.
    pub filter_syscalls: bool,
    /// The network of fixed-output builds.
    pub fixed_output_network: FixedOutputNetwork,
    /// Where builders run instead of the local sandbox (`--remote`); the
    /// outputs still come back here to be checked and registered.
    pub remote: Option<Arc<dyn RemoteExecutor>>,
}

impl BuildOptions {
    /// Defaults: one job per core, one round, no limits.
    pub fn new(helper: HelperCommand) -> BuildOptions {
        BuildOptions {
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cores: None,
            limits: Limits::default(),
            keep_failed: false,
            check: false,
            repair: false,
            rounds: 1,
            keep_going: false,
            helper,
            tmp_dir: std::env::var_os("TMPDIR")
                .filter(|v| !v.is_empty())
                .map_or_else(|| PathBuf::from("/tmp"), PathBuf::from),
            downloads: DownloadOptions::default(),
            filter_syscalls: false,
            fixed_output_network: FixedOutputNetwork::Auto,
            log_compression: LogCompression::Gzip,
            remote: None,
        }
    }
}

/// The network of a fixed-output build (an ordinary build never has one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FixedOutputNetwork {
    /// As guix-daemon 1.5: a network namespace of its own, connected through
    /// `slirp4netns` when it is installed (found in `PATH`), otherwise with
    /// no network at all.
    #[default]
    Auto,
    /// A network namespace of its own and no network, even with
    /// `slirp4netns`.
    None,
    /// Through `slirp4netns`; the build fails when it is not installed.
    Slirp4netns,
    /// The host's network namespace, as abovo and guix-daemon before 1.5
    /// gave fixed-output builds: the builder can then talk to anything on
    /// the host, abstract Unix sockets included.
    Host,
}

impl FixedOutputNetwork {
    /// The sandbox's network for a fixed-output build; `Err` names what is
    /// missing.
    pub fn resolve(self) -> Result<abovo_sandbox::Network, String> {
        use abovo_sandbox::Network;
        Ok(match self {
            FixedOutputNetwork::Host => Network::Host,
            FixedOutputNetwork::None => Network::Isolated,
            FixedOutputNetwork::Auto => match find_in_path("slirp4netns") {
                Some(p) if tun_is_usable() => Network::Slirp(p),
                _ => Network::Isolated,
            },
            FixedOutputNetwork::Slirp4netns => match find_in_path("slirp4netns") {
                Some(p) if tun_is_usable() => Network::Slirp(p),
                Some(_) => {
                    return Err(format!(
                        "slirp4netns cannot open `{TUN}` (it is not readable and writable by \
                         this user); it gives fixed-output builds their network"
                    ));
                }
                None => {
                    return Err("`slirp4netns` is not installed (not found in PATH); \
                                it gives fixed-output builds their network"
                        .into());
                }
            },
        })
    }
}

/// The device slirp4netns makes its interface with.
const TUN: &str = "/dev/net/tun";

/// Whether this process may open [`TUN`] for reading and writing: always
/// as root; without privileges only where it is mode 0666, as on most
/// distributions (some containers make it 0600: slirp4netns then cannot
/// run, and `auto` gives the build no network, as when it is missing).
fn tun_is_usable() -> bool {
    use rustix::fs::{Access, AtFlags, CWD};
    rustix::fs::accessat(
        CWD,
        TUN,
        Access::READ_OK | Access::WRITE_OK,
        AtFlags::EACCESS,
    )
    .is_ok()
}

/// The first executable file named `name` in `PATH`.
fn find_in_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}
