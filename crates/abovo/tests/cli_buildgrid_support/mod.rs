//! The real BuildGrid of `cli_build_buildgrid`: a throw-away PostgreSQL
//! cluster, BuildGrid 0.9.1's server (CAS, ActionCache, Execution and Bots
//! services of instance `main`, its scheduler on that PostgreSQL) on a free
//! port of 127.0.0.1, and two workers, all stopped when dropped
//! (docs/remote.md, "Testing with BuildGrid").
//!
//! The workers are test scaffolding (`bot.py` here, a minimal Remote
//! Workers API bot running buildbox-run): BuildGrid's own worker,
//! buildbox-worker, is in no registry these machines reach.
#![allow(dead_code, clippy::unwrap_used)] // tests: a panic is the failure report

use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// One grid at a time: each is a database, a server and two workers, and
/// the machines that run the tests are small.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// How long a silent worker keeps its session (BuildGrid's
/// `bot-session-keepalive-timeout`): after it, its lease goes to another
/// worker. BuildGrid wants it over 3.75 s (its network timeout is 3 s, of
/// which it takes 80 %).
pub const KEEPALIVE_SECONDS: u64 = 6;

/// A running grid.
pub struct Grid {
    dir: tempfile::TempDir,
    pgbin: PathBuf,
    pg_user: Option<String>,
    server: Option<Child>,
    workers: Vec<Child>,
    port: u16,
    _lock: MutexGuard<'static, ()>,
}

impl Grid {
    /// Starts one with two workers, or `None` (after one line saying the
    /// test is skipped).
    pub fn start(test: &str) -> Option<Grid> {
        Grid::start_with(test, None)
    }

    /// [`Grid::start`], the server closing every connection after
    /// `max_connection_age` (gRPC's `grpc.max_connection_age_ms`, which
    /// BuildGrid's reference configuration sets): each stream of
    /// operation updates breaks then, and the client must re-attach.
    pub fn start_with(test: &str, max_connection_age: Option<Duration>) -> Option<Grid> {
        let (Some(grid), Some(buildbox)) = (
            std::env::var_os("ABOVO_BUILDGRID").map(PathBuf::from),
            std::env::var_os("ABOVO_BUILDBOX").map(PathBuf::from),
        ) else {
            eprintln!(
                "{test}: skipped: ABOVO_BUILDGRID or ABOVO_BUILDBOX is not set (scripts/install-buildgrid.sh and scripts/install-buildbox.sh install them; .ci/run does)"
            );
            return None;
        };
        let venv = grid.join("venv/bin");
        if !venv.join("bgd").exists()
            || !grid.join("pgbin/initdb").exists()
            || !buildbox.join("buildbox-run").exists()
            || Command::new("bwrap").arg("--version").output().is_err()
        {
            eprintln!(
                "{test}: skipped: no BuildGrid or PostgreSQL in {}, no buildbox-run in {}, or no bwrap",
                grid.display(),
                buildbox.display()
            );
            return None;
        }
        let lock = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::Builder::new()
            .prefix("abovo-buildgrid-")
            .tempdir_in("/tmp")
            .unwrap();
        let mut g = Grid {
            pgbin: grid.join("pgbin"),
            pg_user: pg_user(),
            server: None,
            workers: Vec::new(),
            port: 0,
            dir,
            _lock: lock,
        };
        let conn = g.start_postgres();
        let bgd = venv.join("bgd");
        let out = Command::new(&bgd)
            .args(["migrate", "apply", &conn])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "bgd migrate: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        g.port = free_port();
        let config = g.path("bgd.yml");
        std::fs::write(
            &config,
            server_config(g.port, &conn, &g.path("cas"), max_connection_age),
        )
        .unwrap();
        let log = std::fs::File::create(g.path("server.log")).unwrap();
        g.server = Some(
            Command::new(&bgd)
                .args(["server", "start"])
                .arg(&config)
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap(),
        );
        g.wait_for_port();
        let bot = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cli_buildgrid_support/bot.py");
        for i in 0..2 {
            let work = g.path(&format!("worker-{i}"));
            std::fs::create_dir(&work).unwrap();
            let log = std::fs::File::create(g.worker_log_path(i)).unwrap();
            let child = Command::new(venv.join("python"))
                .arg(&bot)
                .arg(g.url())
                .arg("main")
                .arg(format!("worker-{i}"))
                .arg(buildbox.join("buildbox-run"))
                .arg(&work)
                // Its own process group: killing the worker kills the
                // runner and the builder with it, as when a machine dies.
                .process_group(0)
                .env("GRPC_VERBOSITY", "ERROR")
                // buildbox-run leaves files in $TMPDIR: the worker's own
                // directory takes them, and goes with the test's.
                .env("TMPDIR", &work)
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap();
            g.workers.push(child);
        }
        let start = Instant::now();
        while !(0..2).all(|i| g.worker_log(i).contains(": session ")) {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the workers did not open their sessions: {} {}",
                g.worker_log(0),
                g.worker_log(1)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(g)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A cluster of its own, reached through a Unix socket in the grid's
    /// directory (PostgreSQL refuses to run as root: as `postgres` then).
    fn start_postgres(&self) -> String {
        let data = self.path("pg");
        std::fs::create_dir(&data).unwrap();
        if let Some(user) = &self.pg_user {
            let out = Command::new("chown")
                .arg(user)
                .arg(&data)
                .arg(self.dir.path())
                .output()
                .unwrap();
            assert!(out.status.success());
        }
        let out = self
            .pg(&self.pgbin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-A", "trust", "-U", "bgd", "--no-sync"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let sock = self.dir.path().display().to_string();
        let out = self
            .pg(&self.pgbin.join("pg_ctl"))
            .arg("-D")
            .arg(&data)
            .arg("-o")
            .arg(format!("-k {sock} -c listen_addresses= -F"))
            .arg("-l")
            .arg(self.path("postgres.log"))
            .args(["-w", "start"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_ctl start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // The database `postgres` exists in every cluster; BuildGrid's
        // tables go there.
        format!("postgresql+psycopg://bgd@/postgres?host={sock}")
    }

    fn pg(&self, program: &Path) -> Command {
        match &self.pg_user {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(program);
                c
            }
            None => Command::new(program),
        }
    }

    fn wait_for_port(&mut self) {
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            let exited = self.server.as_mut().unwrap().try_wait().unwrap();
            assert!(
                exited.is_none() && start.elapsed() < Duration::from_secs(120),
                "BuildGrid did not start: {}",
                std::fs::read_to_string(self.path("server.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The server's URL.
    pub fn url(&self) -> String {
        format!("grpc://127.0.0.1:{}", self.port)
    }

    fn worker_log_path(&self, i: usize) -> PathBuf {
        self.path(&format!("worker-{i}.log"))
    }

    /// What worker `i` said so far (`bot worker-I: lease ID started`…).
    pub fn worker_log(&self, i: usize) -> String {
        std::fs::read_to_string(self.worker_log_path(i)).unwrap_or_default()
    }

    /// The server's log so far.
    pub fn server_log(&self) -> String {
        std::fs::read_to_string(self.path("server.log")).unwrap_or_default()
    }

    /// Kills worker `i` with SIGKILL, and its runner and builder with it.
    pub fn kill_worker(&mut self, i: usize) {
        let pid = self.workers[i].id();
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .stderr(Stdio::null())
            .status();
        let _ = self.workers[i].wait();
    }

    /// Stops the server (SIGKILL: it goes away, as a crashed machine's).
    pub fn kill_server(&mut self) {
        if let Some(mut s) = self.server.take() {
            let _ = s.kill();
            let _ = s.wait();
        }
    }
}

impl Drop for Grid {
    fn drop(&mut self) {
        for i in 0..self.workers.len() {
            self.kill_worker(i);
        }
        self.kill_server();
        let _ = self
            .pg(&self.pgbin.join("pg_ctl"))
            .arg("-D")
            .arg(self.path("pg"))
            .args(["-m", "immediate", "stop"])
            .output();
    }
}

/// Who runs PostgreSQL: `postgres` (or `nobody`) when the tests run as
/// root, which PostgreSQL refuses to be.
fn pg_user() -> Option<String> {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    if !root {
        return None;
    }
    ["postgres", "nobody"]
        .into_iter()
        .find(|u| {
            Command::new("id")
                .arg(u)
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .map(str::to_owned)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// BuildGrid's configuration: one instance `main` with every service the
/// client and the workers use, its storage on disk, its scheduler on the
/// PostgreSQL cluster, silent workers given up after
/// [`KEEPALIVE_SECONDS`].
fn server_config(port: u16, conn: &str, cas: &Path, age: Option<Duration>) -> String {
    let options = age.map_or(String::new(), |age| {
        format!(
            "grpc-server-options:\n  grpc.max_connection_age_ms: {}\n  grpc.max_connection_age_grace_ms: 0\n",
            age.as_millis()
        )
    });
    format!(
        r#"{options}server:
  - !channel
    address: "127.0.0.1:{port}"
    insecure-mode: true
authorization:
  method: none
# Every Execute stream holds one of the server's threads until its action
# is done (BuildGrid's default is 5 per core, and RESOURCE_EXHAUSTED beyond):
# room for abovo's 16 concurrent actions, their calls and two workers.
thread-pool-size: 64
connections:
  - !sql-connection &sql
    connection-string: {conn}
storages:
  - !disk-storage &cas
    path: {cas}
caches:
  - !lru-action-cache &ac
    storage: *cas
    max-cached-refs: 100000
    allow-updates: true
    cache-failed-actions: false
schedulers:
  - !sql-scheduler &scheduler
    sql: *sql
    storage: *cas
    action-cache: *ac
    bot-session-keepalive-timeout: {KEEPALIVE_SECONDS}
    session-expiry-timer-interval: 1
    poll-interval: 0.2
    bot-poll-interval: 0.2
    property-set: !dynamic-property-set
      match-property-keys: [OSFamily, ISA]
      wildcard-property-keys: [network]
instances:
  - name: main
    services:
      - !action-cache
        cache: *ac
      - !execution
        scheduler: *scheduler
      - !cas
        storage: *cas
      - !bytestream
        storage: *cas
"#,
        cas = cas.display()
    )
}
