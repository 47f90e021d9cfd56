//! Who a builder is on the host.
//!
//! * **As root** (in a user namespace where the build ids are mapped, such
//!   as the initial one): a *build user* of abovo's pool, the way
//!   guix-daemon uses its `guixbuilder` accounts. Slot n is uid 30001 + n
//!   in the build group, gid 30000, which is also its one supplementary
//!   group: the ids the reference guix-daemon's builders have
//!   (`../shared/data/daemon-conformance`), so that a builder sees exactly
//!   what it sees there (`id`, the owners of its files, the uid and gid
//!   maps of the initial namespace). No user namespace is made: a build user
//!   holds no capability, so it can neither unmount nor change what is
//!   mounted, and root's files appear owned by root. A slot is reserved by
//!   a lock in `userpool/` of the state directory, and a uid that some
//!   process already runs as (another daemon's build user, say) is passed
//!   over: two builds never share a uid.
//! * **Without privileges**: abovo's own uid and gid, to which a user
//!   namespace maps guest 30001 and 30000 (see `abovo_sandbox::Identity`).

use crate::store::StoreError;
use crate::store::lock::{PathLocks, Wait};
use abovo_sandbox::Identity;
use std::path::Path;

/// The uid of the first build user (slot 0).
pub const FIRST_UID: u32 = abovo_sandbox::GUEST_UID;
/// The build group.
pub const BUILD_GID: u32 = abovo_sandbox::GUEST_GID;
/// How many build users there are: at most this many root builds run at
/// once.
pub const POOL_SIZE: u32 = 64;

/// The host identity of one build.
#[derive(Debug)]
pub enum BuildUser {
    /// abovo's own ids (without privileges, or as root in a user namespace
    /// that does not map the build users).
    Own {
        /// The uid.
        uid: u32,
        /// The gid.
        gid: u32,
    },
    /// A build user of the pool, held through a lock file.
    Pool {
        /// The uid (`FIRST_UID` + slot).
        uid: u32,
        /// The lock that reserves it.
        _lock: PathLocks,
    },
}

impl BuildUser {
    /// The host uid the builder runs as.
    pub fn uid(&self) -> u32 {
        match self {
            BuildUser::Own { uid, .. } | BuildUser::Pool { uid, .. } => *uid,
        }
    }

    /// The host gid the builder runs as.
    pub fn gid(&self) -> u32 {
        match self {
            BuildUser::Own { gid, .. } => *gid,
            BuildUser::Pool { .. } => BUILD_GID,
        }
    }

    /// What the sandbox makes of it.
    pub fn identity(&self) -> Identity {
        match self {
            BuildUser::Own { uid, gid } => Identity::Mapped {
                host_uid: *uid,
                host_gid: *gid,
            },
            BuildUser::Pool { uid, .. } => Identity::BuildUser {
                uid: *uid,
                gid: BUILD_GID,
                groups: vec![BUILD_GID],
            },
        }
    }

    /// As root where the build users exist: a free build user (waits when
    /// all are taken). Otherwise: abovo's own ids.
    pub fn acquire(state_dir: &Path) -> Result<BuildUser, StoreError> {
        let euid = rustix::process::geteuid().as_raw();
        let own = BuildUser::Own {
            uid: euid,
            gid: rustix::process::getegid().as_raw(),
        };
        if euid != 0 || !pool_is_mapped() {
            return Ok(own);
        }
        let dir = state_dir.join("userpool");
        std::fs::create_dir_all(&dir).map_err(crate::store::io_err(&dir, "create"))?;
        let busy = uids_in_use();
        for slot in 0..POOL_SIZE {
            let uid = FIRST_UID + slot;
            if busy.contains(&uid) {
                continue;
            }
            let p = dir.join(uid.to_string());
            if let Some(lock) = PathLocks::lock([p.as_path()], Wait::Try)? {
                return Ok(BuildUser::Pool { uid, _lock: lock });
            }
        }
        let uid = FIRST_UID + std::process::id() % POOL_SIZE;
        let p = dir.join(uid.to_string());
        let lock = PathLocks::lock([p.as_path()], Wait::Block)?.unwrap_or_default();
        Ok(BuildUser::Pool { uid, _lock: lock })
    }
}

/// Whether this process's user namespace maps the build users and the
/// build group (it does in the initial namespace).
fn pool_is_mapped() -> bool {
    let covers = |file: &str, first: u32, count: u32| {
        std::fs::read_to_string(file).is_ok_and(|map| {
            map.lines().any(|l| {
                let f: Vec<u64> = l
                    .split_whitespace()
                    .filter_map(|x| x.parse().ok())
                    .collect();
                f.len() == 3 && f[0] <= u64::from(first) && f[0] + f[2] >= u64::from(first + count)
            })
        })
    };
    covers("/proc/self/uid_map", FIRST_UID, POOL_SIZE) && covers("/proc/self/gid_map", BUILD_GID, 1)
}

/// The uids processes run as now (the owners of `/proc/<pid>`), among the
/// build users: a uid in use is another program's, never one of abovo's
/// builds (whose processes all die with their PID namespace), so it is
/// left alone.
fn uids_in_use() -> std::collections::BTreeSet<u32> {
    use std::os::unix::fs::MetadataExt;
    let mut busy = std::collections::BTreeSet::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return busy;
    };
    for entry in entries.flatten() {
        let is_pid = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()));
        if let (true, Ok(meta)) = (is_pid, entry.metadata()) {
            let uid = meta.uid();
            if (FIRST_UID..FIRST_UID + POOL_SIZE).contains(&uid) {
                busy.insert(uid);
            }
        }
    }
    busy
}
