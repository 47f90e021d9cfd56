//! What one sandbox is made of, as the caller describes it to the helper.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Everything the helper needs to set up one sandbox and run one builder.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SandboxSpec {
    /// The chroot on the host, prepared by [`crate::chroot::prepare`].
    pub chroot: PathBuf,
    /// The build directory on the host (`…/guix-build-<name>.drv-N/top`).
    pub build_dir: PathBuf,
    /// Where it appears in the sandbox: `/tmp/guix-build-<name>.drv-0`.
    pub sandbox_build_dir: PathBuf,
    /// The store directory; inside the chroot it is the writable fake store
    /// in which the builder creates its outputs.
    pub store_dir: PathBuf,
    /// The input closure: each item's path on the host and its store path
    /// in the sandbox (they differ when the store keeps its items
    /// elsewhere), bound read-only (symlinks among them are recreated as
    /// symlinks instead).
    pub inputs: Vec<(PathBuf, PathBuf)>,
    /// Host files bound read-only at the same place (fixed-output
    /// derivations: `/etc/resolv.conf` and friends).
    pub host_files: Vec<PathBuf>,
    /// The builder's network.
    pub network: Network,
    /// Who the builder is on the host.
    pub identity: Identity,
    /// Run with the 32-bit personality (an `i686-linux` build on x86_64).
    #[serde(default)]
    pub personality32: bool,
    /// Install the system call filter ([`crate::seccomp`]: no setuid or
    /// setgid bits, no extended attributes) and `no_new_privs`. Off unless
    /// the user asks: guix-daemon has neither, and a builder can see both.
    #[serde(default)]
    pub filter_syscalls: bool,
    /// The builder program (in the store).
    pub builder: PathBuf,
    /// Its arguments (without `argv[0]`, which is the builder's base name).
    #[serde(with = "bytes_list")]
    pub args: Vec<Vec<u8>>,
    /// The complete environment, in order.
    #[serde(with = "bytes_pairs")]
    pub env: Vec<(Vec<u8>, Vec<u8>)>,
}

/// The builder's network.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum Network {
    /// A network namespace of its own with only `lo`, up: every build but
    /// a fixed-output one.
    Loopback,
    /// A network namespace of its own with only `lo`, down, as guix-daemon
    /// gives a fixed-output build when it has no slirp4netns.
    Isolated,
    /// A network namespace of its own, connected to the host's network by
    /// this `slirp4netns` program (user-mode networking: TCP and UDP out,
    /// nothing of the host's loopback).
    Slirp(PathBuf),
    /// The host's network namespace (abovo's older way for fixed-output
    /// builds; the user asks for it).
    Host,
}

/// Who the builder is on the host. Inside it is always uid 30001, gid
/// 30000 (`nixbld`); how that is done decides what it sees of owners.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum Identity {
    /// Root: no user namespace; the builder runs as a build user of the
    /// host, as guix-daemon's build users do (uid 30001 + n, gid 30000, and
    /// these supplementary groups). The chroot belongs to root, and what
    /// root owns appears owned by root.
    BuildUser {
        /// The host uid (the builder's uid).
        uid: u32,
        /// The host gid (the build group).
        gid: u32,
        /// Its supplementary groups (Guix's build users have the build
        /// group).
        groups: Vec<u32>,
    },
    /// Without privileges: a user namespace maps guest 30001/30000 to these
    /// host ids (the caller's own), the only ids such a namespace can map.
    /// The chroot belongs to them, so to the builder; everything else
    /// appears owned by the overflow ids (65534).
    Mapped {
        /// The host uid guest 30001 maps to.
        host_uid: u32,
        /// The host gid guest 30000 maps to.
        host_gid: u32,
    },
}

/// Byte strings as base64 in the JSON spec (arguments and environment need
/// not be UTF-8).
mod bytes_list {
    use data_encoding::BASE64;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[Vec<u8>], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|b| BASE64.encode(b)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<u8>>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|s| {
                BASE64
                    .decode(s.as_bytes())
                    .map_err(serde::de::Error::custom)
            })
            .collect()
    }
}

mod bytes_pairs {
    use data_encoding::BASE64;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[(Vec<u8>, Vec<u8>)], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|(k, v)| (BASE64.encode(k), BASE64.encode(v))))
    }

    type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Pairs, D::Error> {
        let decode = |s: &String| {
            BASE64
                .decode(s.as_bytes())
                .map_err(serde::de::Error::custom)
        };
        Vec::<(String, String)>::deserialize(d)?
            .iter()
            .map(|(k, v)| Ok((decode(k)?, decode(v)?)))
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    #[test]
    fn a_spec_survives_json_with_bytes_that_are_not_utf8() {
        let spec = SandboxSpec {
            chroot: "/s/x.drv.chroot".into(),
            build_dir: "/t/top".into(),
            sandbox_build_dir: "/tmp/guix-build-x.drv-0".into(),
            store_dir: "/s".into(),
            inputs: vec![("/r/a".into(), "/s/a".into())],
            host_files: vec![],
            network: Network::Slirp("/usr/bin/slirp4netns".into()),
            identity: Identity::BuildUser {
                uid: 30001,
                gid: 30000,
                groups: vec![30000],
            },
            personality32: false,
            filter_syscalls: false,
            builder: "/s/a/sh".into(),
            args: vec![b"-c".to_vec(), vec![0xe9, b'\n', 0]],
            env: vec![(b"A".to_vec(), vec![0xff, b'='])],
        };
        let json = serde_json::to_vec(&spec).unwrap();
        assert_eq!(serde_json::from_slice::<SandboxSpec>(&json).unwrap(), spec);
    }
}
