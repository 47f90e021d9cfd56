//! Shared helpers of the tests that import Guix's `.drv` files and check
//! against a Guix store: guix-daemon's conformance probes
//! (`ABOVO_DAEMON_CONFORMANCE`), a Guix store made from them, and
//! snapshots that show a store was not changed.
#![allow(dead_code, clippy::unwrap_used)] // tests: a panic is the failure report

use crate::cli_build_support::TestStore;
use abovo_build::store::db::{Database, PathInfo, Registration};
use abovo_store::derivation::Derivation;
use abovo_store::{Hash, StoreDir, StorePath};
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The probes whose outputs abovo's builder gives bit for bit today, as
/// guix-daemon did. The others (`conf-ident`, `conf-fsview`, `conf-meta`)
/// record what differs between the two sandboxes (issue 10, item 1), and
/// `conf-nondet` reads `/dev/urandom`.
pub const SAME_TODAY: [&str; 8] = [
    "conf-env",
    "conf-canon",
    "conf-refs",
    "conf-multi",
    "conf-allowed-ok",
    "conf-export-graph",
    "conf-fod-flat",
    "conf-fod-rec",
];

/// One output row of `expected.tsv`.
#[derive(Debug, Clone)]
pub struct Row {
    pub probe: String,
    pub drv: String,
    pub output: String,
    pub path: String,
    pub nar_hash: String,
    pub nar_size: u64,
    pub references: Vec<String>,
}

/// The conformance data.
pub struct Conformance {
    pub dir: PathBuf,
    pub rows: Vec<Row>,
    /// `/gnu/store/…-conf-busybox`.
    pub busybox: String,
    /// `/gnu/store/…-bash`.
    pub bash: String,
}

impl Conformance {
    /// The data, or `None` after one line saying the test is skipped.
    pub fn load(test: &str) -> Option<Conformance> {
        let Some(dir) = std::env::var_os("ABOVO_DAEMON_CONFORMANCE") else {
            eprintln!(
                "{test}: skipped: ABOVO_DAEMON_CONFORMANCE is not set (.ci/run sets it to ../shared/data/daemon-conformance)"
            );
            return None;
        };
        let dir = PathBuf::from(dir);
        let text = std::fs::read_to_string(dir.join("expected.tsv")).unwrap();
        let mut rows = Vec::new();
        let (mut busybox, mut bash) = (String::new(), String::new());
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split('\t').collect();
            if f[0] == "INPUT" {
                if f[3].ends_with("-conf-busybox") {
                    busybox = f[3].to_owned();
                } else {
                    bash = f[3].to_owned();
                }
            }
            if f[0] == "INPUT" || !f[8].starts_with("OK") {
                continue;
            }
            rows.push(Row {
                probe: f[0].to_owned(),
                drv: f[1].to_owned(),
                output: f[2].to_owned(),
                path: f[3].to_owned(),
                nar_hash: f[4].to_owned(),
                nar_size: f[5].parse().unwrap(),
                references: f[6]
                    .split_whitespace()
                    .map(|r| format!("/gnu/store/{r}"))
                    .collect(),
            });
        }
        Some(Conformance {
            dir,
            rows,
            busybox,
            bash,
        })
    }

    /// The outputs guix-daemon built for `probe`.
    pub fn outputs(&self, probe: &str) -> Vec<Row> {
        self.rows
            .iter()
            .filter(|r| r.probe == probe)
            .cloned()
            .collect()
    }

    /// The base name of `probe`'s `.drv`.
    pub fn drv_base(&self, probe: &str) -> String {
        let suffix = format!("-{probe}.drv");
        std::fs::read_dir(self.dir.join("drvs"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .find(|n| n.ends_with(&suffix))
            .unwrap()
    }

    /// `probe`'s `.drv` file.
    pub fn drv_file(&self, probe: &str) -> PathBuf {
        self.dir.join("drvs").join(self.drv_base(probe))
    }

    /// Every `.drv` file.
    pub fn drv_files(&self) -> Vec<PathBuf> {
        let mut all: Vec<PathBuf> = std::fs::read_dir(self.dir.join("drvs"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "drv"))
            .collect();
        all.sort();
        all
    }

    /// Unpacks an input's NAR (the plain copies beside them lose the
    /// `bin/sh` symlink) into `into`.
    pub fn restore_input(&self, path: &str, into: &Path) {
        let base = path.rsplit('/').next().unwrap();
        let nar =
            std::fs::File::open(self.dir.join("drvs/inputs").join(format!("{base}.nar"))).unwrap();
        abovo_store::nar::restore(std::io::BufReader::new(nar), into).unwrap();
    }

    /// Adds the two inputs to `t` as Guix added them (recursive, SHA-256),
    /// checking that they come out at guix-daemon's paths.
    pub fn add_inputs(&self, t: &TestStore) {
        for (path, name) in [(&self.busybox, "conf-busybox"), (&self.bash, "bash")] {
            let copy = t.dir.path().join(format!("input-{name}"));
            if !copy.exists() {
                self.restore_input(path, &copy);
            }
            let added = t.ok(&["add", "--recursive", "--name", name, copy.to_str().unwrap()]);
            assert_eq!(added.trim(), path.as_str());
        }
    }

    /// The `.drv` files as a tarball in `dir` (zstd-compressed or plain),
    /// as Guix 1.5.0's `drvs.tar.zst` holds them: base names at the top.
    pub fn drvs_tarball(&self, dir: &Path, zstd: bool) -> PathBuf {
        let mut b = tar::Builder::new(Vec::new());
        for f in self.drv_files() {
            b.append_path_with_name(&f, f.file_name().unwrap()).unwrap();
        }
        let plain = b.into_inner().unwrap();
        let (name, bytes) = if zstd {
            ("drvs.tar.zst", zstd::encode_all(&plain[..], 19).unwrap())
        } else {
            ("drvs.tar", plain)
        };
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// A Guix store made of the probes, as guix-daemon left it: under
    /// `root`, `gnu/store` holds the two inputs, every `.drv` and every
    /// output guix-daemon built (unpacked from its NAR), and
    /// `var/guix/db/db.sqlite` registers them with Guix's schema, the
    /// hashes, sizes and references of `expected.tsv`, their derivers and
    /// the derivations' outputs. Returns the store directory.
    pub fn guix_store(&self, root: &Path) -> PathBuf {
        let store_dir = StoreDir::new("/gnu/store").unwrap();
        let store = root.join("gnu/store");
        std::fs::create_dir_all(&store).unwrap();
        let db_dir = root.join("var/guix/db");
        std::fs::create_dir_all(&db_dir).unwrap();
        let mut items = Vec::new();
        let path = |p: &str| store_dir.parse(p).unwrap();
        for input in [&self.busybox, &self.bash] {
            let p = path(input);
            let to = store.join(p.base_name());
            self.restore_input(input, &to);
            let nar = abovo_store::nar::hash_path(&to).unwrap();
            items.push(registration(&p, nar.hash, nar.size, BTreeSet::new(), None));
        }
        for f in self.drv_files() {
            let bytes = std::fs::read(&f).unwrap();
            let p = StorePath::from_base_name(f.file_name().unwrap().to_str().unwrap()).unwrap();
            let to = store.join(p.base_name());
            std::fs::write(&to, &bytes).unwrap();
            let drv = Derivation::parse(&store_dir, &bytes).unwrap();
            let nar = abovo_store::nar::hash_regular_bytes(&bytes, false);
            let mut r = registration(
                &p,
                nar.hash,
                nar.size,
                drv.references().cloned().collect(),
                None,
            );
            r.derivation_outputs = drv
                .outputs
                .iter()
                .map(|(n, o)| (n.clone(), o.path.clone().unwrap()))
                .collect();
            items.push(r);
        }
        for row in &self.rows {
            let p = path(&row.path);
            let nar =
                std::fs::File::open(self.dir.join("nar").join(format!("{}.nar", p.base_name())))
                    .unwrap();
            abovo_store::nar::restore(std::io::BufReader::new(nar), &store.join(p.base_name()))
                .unwrap();
            let references = row.references.iter().map(|r| path(r)).collect();
            let deriver = Some(path(&format!("/gnu/store/{}", row.drv)));
            items.push(registration(
                &p,
                Hash::parse_prefixed(&row.nar_hash).unwrap(),
                row.nar_size,
                references,
                deriver,
            ));
        }
        // Closed at the end of the block: checkpointed, no WAL left, as a
        // Guix store whose daemon is stopped.
        {
            let mut db = Database::open(&db_dir, store_dir).unwrap();
            db.register(&items, 1_700_000_000).unwrap();
        }
        store
    }
}

fn registration(
    path: &StorePath,
    nar_hash: Hash,
    nar_size: u64,
    references: BTreeSet<StorePath>,
    deriver: Option<StorePath>,
) -> Registration {
    Registration {
        info: PathInfo {
            path: path.clone(),
            nar_hash,
            nar_size,
            references,
            deriver,
            registration_time: 0,
        },
        derivation_outputs: BTreeMap::new(),
    }
}

/// The valid paths of `t`'s store, read through the read-only opening
/// (which changes nothing).
pub fn valid_paths(t: &TestStore) -> Vec<String> {
    let db = t.state().join("db/db.sqlite");
    if !db.exists() {
        return Vec::new();
    }
    let store = StoreDir::new(t.store.to_str().unwrap()).unwrap();
    let (db, _) = Database::open_read_only(&db, Some(store.clone())).unwrap();
    db.valid_paths()
        .unwrap()
        .iter()
        .map(|p| store.display(p))
        .collect()
}

/// Everything about every file below `root` but its access time: type,
/// mode, owner, size, modification time, and the SHA-256 of its bytes
/// (or its link target).
pub fn snapshot(root: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut todo = vec![root.to_owned()];
    while let Some(p) = todo.pop() {
        let m = std::fs::symlink_metadata(&p).unwrap();
        let content = if m.is_dir() {
            for e in std::fs::read_dir(&p).unwrap() {
                todo.push(e.unwrap().path());
            }
            String::new()
        } else if m.file_type().is_symlink() {
            std::fs::read_link(&p).unwrap().display().to_string()
        } else {
            abovo_store::encoding::base16_encode(&abovo_store::hash::sha256(
                &std::fs::read(&p).unwrap(),
            ))
        };
        out.insert(
            p.strip_prefix(root).unwrap().to_owned(),
            format!(
                "{:o} {}:{} {} {}.{} {content}",
                m.mode(),
                m.uid(),
                m.gid(),
                m.size(),
                m.mtime(),
                m.mtime_nsec()
            ),
        );
    }
    out
}
