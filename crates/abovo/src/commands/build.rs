//! `abovo build DRV…`: realise derivations in the sandbox.

mod targets;

use super::store::{HELPER_SUBCOMMAND, StoreArgs, parse_item};
use crate::exit;
use crate::output::{Context, Format, TEXT_JSON, print_json};
use crate::report::text::plain_plural;
use abovo_build::LocalStore;
use abovo_build::build::floating::realised;
use abovo_build::build::log::LogCompression;
use abovo_build::build::{
    BuildError, BuildOptions, BuildReport, Builder, DrvResult, FixedOutputNetwork, Realised,
    Reporter,
};
use abovo_build::builtins::tls::Trust;
use abovo_build::sandbox::{HelperCommand, Limits};
use abovo_store::StorePath;
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

/// Build derivations (and whatever they need) in abovo's sandbox, and print
/// their output paths.
///
/// Each builder runs as Guix's daemon runs it: in new mount, PID, network,
/// IPC and UTS namespaces (and a user namespace without privileges), in a
/// chroot holding only its inputs, as uid 30001 in
/// /tmp/guix-build-NAME.drv-0, with Guix's environment.
/// Exit 0 when everything built, 1 when --check or --rounds found a
/// difference (and nothing else failed), 2 when a build failed.
///
/// A `.drv` file outside the store (Guix's own, as `guix build -d` or
/// `/gnu/store` has it) is imported first with its derivation closure,
/// each `.drv` checked: its path must follow from its bytes and its output
/// paths from its content.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// `.drv` paths in the store (see `abovo derivation add`), `.drv` files
    /// to import from the directory they are in, or with --from the names
    /// of `.drv` files there. With --guix-store, `.drv` paths of that
    /// store.
    #[arg(required = true, value_name = "DRV")]
    pub drvs: Vec<String>,
    /// Import the DRVs and their derivation closure from PLACE first: a
    /// directory of `.drv` files, a store directory such as /gnu/store, or
    /// a tarball (.tar, .tar.zst, .tar.gz). Input sources the store lacks
    /// must be there too; each is checked against its path. May be
    /// repeated (Guix 1.5.0's corpus: --from drvs.tar.zst --from
    /// sources.tar.zst); the places are searched in order. Nothing is
    /// written unless everything checks.
    #[arg(long, value_name = "PLACE", conflicts_with = "guix_store")]
    pub from: Vec<PathBuf>,
    /// Rebuild the derivations although their outputs are valid, and
    /// compare: list every output and file that differs.
    #[arg(long)]
    pub check: bool,
    /// With --check: check the derivations against another daemon's store
    /// (Guix's /gnu/store, or Nix's /nix/store: the same format), read
    /// only. Inputs are taken from it, the rebuild happens in a scratch
    /// store under $TMPDIR with the same store directory, and each output
    /// is compared with the one that store registered. Nothing is written
    /// to that store or its database. DIR is where its items are on disk;
    /// the store directory its paths name is read from its database.
    #[arg(
        long,
        value_name = "DIR",
        visible_alias = "nix-store",
        requires = "check"
    )]
    pub guix_store: Option<PathBuf>,
    /// The database of --guix-store, opened read only (default:
    /// var/guix/db/db.sqlite two levels above DIR, as /var/guix for
    /// /gnu/store, else var/nix/db/db.sqlite one level above, as
    /// /nix/var/nix for /nix/store).
    #[arg(
        long,
        value_name = "FILE",
        visible_alias = "nix-db",
        requires = "guix_store"
    )]
    pub guix_db: Option<PathBuf>,
    /// Build each derivation N times and compare the rounds.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub rounds: u32,
    /// Keep the build directory of a failed build, and the other build of
    /// a differing output as OUT-check.
    #[arg(long, short = 'K')]
    pub keep_failed: bool,
    /// Go on building what does not depend on a failed build.
    #[arg(long, short = 'k')]
    pub keep_going: bool,
    /// How many derivations build at once, at least 1 (default: one per
    /// core). Unlike Guix's `--max-jobs 0`, which leaves every build to
    /// substitutes, 0 is refused: abovo has no substitutes.
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub jobs: Option<u32>,
    /// NIX_BUILD_CORES for the builders (default 0: "use them all").
    #[arg(long, short = 'c', value_name = "N")]
    pub cores: Option<u32>,
    /// Kill a build that prints nothing for S seconds (0: no limit, as in
    /// Guix).
    #[arg(long, value_name = "S")]
    pub max_silent_time: Option<u64>,
    /// Kill a build that runs longer than S seconds, built-in downloads
    /// included (0: no limit, as in Guix).
    #[arg(long, value_name = "S")]
    pub timeout: Option<u64>,
    /// Kill a build once it has written more than BYTES bytes of log; the
    /// log keeps the first BYTES bytes (0: no limit, as in Guix).
    #[arg(long, value_name = "BYTES")]
    pub max_log_size: Option<u64>,
    /// Print the builders' logs on standard error as they run.
    #[arg(long, short = 'L')]
    pub print_build_logs: bool,
    /// A mirrors file (Guix's format) for `mirror://` URLs, instead of the
    /// derivation's own.
    #[arg(long, value_name = "FILE")]
    pub mirrors: Option<PathBuf>,
    /// A content-addressed mirror tried by builtin:download, as a URL
    /// template with {file}, {algo}, {hash} (nix-base32) and {hex}; may be
    /// repeated.
    #[arg(long, value_name = "URL")]
    pub content_addressed_mirror: Vec<String>,
    /// Trust exactly the certificates of this PEM file for https downloads
    /// (builtin:download). Without it: $SSL_CERT_FILE, else the PEM files
    /// of $SSL_CERT_DIR, else abovo's built-in Mozilla roots.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Do not check the certificates of https downloads, as guix-daemon
    /// does not (the output's hash is checked anyway).
    #[arg(long, conflicts_with = "ca_file")]
    pub no_check_certificate: bool,
    /// Install Nix's system call filter in the sandbox, with no_new_privs: a
    /// builder then cannot set setuid or setgid bits (EPERM) or use extended
    /// attributes (ENOTSUP). Off by default, as in guix-daemon: a builder
    /// can see the filter, and a build that sets a setuid bit (which
    /// canonicalisation clears) passes under Guix and would fail.
    #[arg(long, conflicts_with = "no_syscall_filter")]
    pub syscall_filter: bool,
    /// The default (no system call filter); accepted for scripts written
    /// when the filter was on by default.
    #[arg(long, hide = true)]
    pub no_syscall_filter: bool,
    /// The network of fixed-output builds: `auto` (as guix-daemon 1.5: a
    /// network namespace of their own, connected through slirp4netns when
    /// it is installed, otherwise no network), `none`, `slirp4netns` (fail
    /// without it) or `host` (the host's network, as before Guix 1.5: the
    /// builder can then reach anything on the host).
    #[arg(long, value_enum, value_name = "HOW", default_value_t = FixedOutputNetworkArg::Auto)]
    pub fixed_output_network: FixedOutputNetworkArg,
    /// How build logs are compressed (`abovo log` reads them all).
    #[arg(long, value_enum, value_name = "HOW", default_value_t = LogCompressionArg::Gzip)]
    pub log_compression: LogCompressionArg,
    /// Run the builders on a Remote Execution API v2 server (buildbox-casd,
    /// BuildGrid, Buildbarn…) at URL, `grpc://HOST:PORT`: each derivation
    /// whose inputs are ready becomes an Action (its ActionCache asked
    /// first); the outputs come back here and are checked, canonicalised,
    /// scanned and registered as a local build's. Built-ins
    /// (builtin:download) still run here. The default is the configuration
    /// file's `[remote]` table (`url`, `instance`, `jobs`; see --config).
    /// See docs/remote.md.
    #[arg(long, value_name = "URL", conflicts_with_all = ["guix_store", "no_remote"])]
    pub remote: Option<String>,
    /// The instance name on the --remote server (default: none).
    #[arg(long, value_name = "NAME", conflicts_with = "no_remote")]
    pub remote_instance: Option<String>,
    /// How many derivations are sent to the --remote server at once, and
    /// how many uploads (default 16), instead of --jobs.
    #[arg(long, value_name = "N", conflicts_with = "no_remote", value_parser = clap::value_parser!(u32).range(1..))]
    pub remote_jobs: Option<u32>,
    /// Build here, whatever the configuration file's `[remote]` says.
    #[arg(long)]
    pub no_remote: bool,
    /// The configuration file (default: $ABOVO_CONFIG, else
    /// $XDG_CONFIG_HOME/abovo/config.toml, ~/.config/abovo/config.toml,
    /// when it exists). Its `[remote]` table gives the defaults of
    /// --remote (`url = "grpc://HOST:PORT"`), --remote-instance
    /// (`instance`) and --remote-jobs (`jobs`). See docs/config.md.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Output format: text (output paths) or json (every result).
    #[arg(long, short = 'f', default_value = "text", value_parser = Format::parser(TEXT_JSON))]
    pub format: Format,
    /// The store.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `--fixed-output-network` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FixedOutputNetworkArg {
    /// Through slirp4netns when it is installed, otherwise none (Guix 1.5).
    Auto,
    /// No network.
    None,
    /// Through slirp4netns; fail when it is not installed.
    Slirp4netns,
    /// The host's network namespace.
    Host,
}

/// `--log-compression` values, as guix-daemon's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogCompressionArg {
    /// Plain text.
    None,
    /// gzip (`.gz`), guix-daemon's default.
    Gzip,
    /// bzip2 (`.bz2`).
    Bzip2,
}

/// Draws a build on standard error (the builder's reporter; loading a graph
/// has its own, [`crate::source::LoadProgress`]): a progress bar with the derivations
/// running (on a terminal), `building …` notes, and with `-L` the builders'
/// logs, line by line. When more than one derivation can build at once,
/// each log line is prefixed with its derivation's name (`hello-2.12> `),
/// so interleaved logs stay readable; a single build's log is printed as
/// it is.
struct BuildProgress {
    bar: Option<ProgressBar>,
    print_logs: bool,
    notes: bool,
    store_dir: String,
    jobs: usize,
    /// Standard error is a terminal: builders' escape sequences other than
    /// colours (titles, clearing the screen) are dropped from live logs.
    terminal: bool,
    state: Mutex<ReporterState>,
}

#[derive(Default)]
struct ReporterState {
    /// Prefix log lines with the derivation's name.
    prefix: bool,
    /// Names of the derivations building now, in the bar's message.
    running: BTreeSet<String>,
    /// The unfinished last line of each derivation's log.
    partial: BTreeMap<StorePath, Vec<u8>>,
    /// On a terminal, each running derivation's escape filter (a sequence
    /// may straddle two chunks).
    filters: BTreeMap<StorePath, crate::output::TerminalLogFilter>,
}

impl BuildProgress {
    fn say(&self, msg: String) {
        match &self.bar {
            Some(bar) => bar.println(msg),
            None if self.notes => eprintln!("{msg}"),
            None => {}
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, ReporterState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn show_running(&self, state: &ReporterState) {
        if let Some(bar) = &self.bar {
            let names: Vec<&str> = state.running.iter().map(String::as_str).collect();
            bar.set_message(names.join(", "));
        }
    }

    fn write_log(&self, bytes: &[u8]) {
        let write = || {
            let _ = std::io::stderr().lock().write_all(bytes);
        };
        match &self.bar {
            Some(bar) => bar.suspend(write),
            None => write(),
        }
    }

    /// The complete lines of `data` (with what was left over from the
    /// previous chunk), prefixed; keeps the rest for later.
    fn prefixed_lines(state: &mut ReporterState, drv: &StorePath, data: &[u8]) -> Vec<u8> {
        let pending = state.partial.entry(drv.clone()).or_default();
        pending.extend_from_slice(data);
        let Some(last_newline) = pending.iter().rposition(|b| *b == b'\n') else {
            return Vec::new();
        };
        let rest = pending.split_off(last_newline + 1);
        let complete = std::mem::replace(pending, rest);
        prefix_lines(display_name(drv), &complete)
    }
}

/// A derivation's name without `.drv` (`hello-2.12`).
fn display_name(drv: &StorePath) -> &str {
    drv.name().strip_suffix(".drv").unwrap_or(drv.name())
}

/// `name> ` before every line of `text` (which ends with a newline, unless
/// it is the last piece of a log).
fn prefix_lines(name: &str, text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 16);
    for line in text.split_inclusive(|b| *b == b'\n') {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"> ");
        out.extend_from_slice(line);
    }
    out
}

impl Reporter for BuildProgress {
    fn planned(&self, drvs: &[StorePath]) {
        self.state().prefix = self.jobs > 1 && drvs.len() > 1;
        if let Some(bar) = &self.bar {
            bar.set_length(drvs.len() as u64);
            // Drawn from here on: before the plan, there is nothing to count.
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            bar.enable_steady_tick(Duration::from_millis(120));
        }
    }
    fn waiting(&self, drv: &StorePath) {
        self.say(format!(
            "waiting for another process building {}/{}...",
            self.store_dir, drv
        ));
    }
    fn started(&self, drv: &StorePath, round: u32, rounds: u32) {
        let round = if rounds > 1 {
            format!(" (round {round}/{rounds})")
        } else {
            String::new()
        };
        self.say(format!("building {}/{drv}{round}...", self.store_dir));
        let mut state = self.state();
        state.running.insert(display_name(drv).to_owned());
        self.show_running(&state);
    }
    fn log(&self, drv: &StorePath, data: &[u8]) {
        if !self.print_logs {
            return;
        }
        let mut state = self.state();
        let filtered;
        let data = if self.terminal {
            let mut out = Vec::with_capacity(data.len());
            state
                .filters
                .entry(drv.clone())
                .or_default()
                .push(data, &mut out);
            filtered = out;
            &filtered[..]
        } else {
            data
        };
        if state.prefix {
            let lines = Self::prefixed_lines(&mut state, drv, data);
            drop(state);
            if !lines.is_empty() {
                self.write_log(&lines);
            }
        } else {
            drop(state);
            self.write_log(data);
        }
    }
    fn finished(&self, drv: &StorePath, _ok: bool) {
        let mut state = self.state();
        state.running.remove(display_name(drv));
        let mut tail = Vec::new();
        if let Some(mut filter) = state.filters.remove(drv) {
            filter.finish(&mut tail);
        }
        let mut rest = state.partial.remove(drv).unwrap_or_default();
        if state.prefix {
            rest.extend_from_slice(&tail);
        } else if !tail.is_empty() {
            self.write_log(&tail);
        }
        self.show_running(&state);
        drop(state);
        if !rest.is_empty() {
            let mut last = prefix_lines(display_name(drv), &rest);
            last.push(b'\n');
            self.write_log(&last);
        }
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }
}

/// Runs `abovo build`.
pub fn run(args: Args, ctx: &Context) -> anyhow::Result<u8> {
    args.format.check("build", TEXT_JSON)?;
    let mut opts = options(&args);
    let config = crate::config::load(args.config.as_deref())?;
    // Flags first, then the configuration file's `[remote]`.
    let from_config = config
        .remote
        .filter(|_| !args.no_remote && args.guix_store.is_none());
    let url = args
        .remote
        .clone()
        .or_else(|| from_config.as_ref().map(|r| r.url.clone()));
    if url.is_none() && (args.remote_instance.is_some() || args.remote_jobs.is_some()) {
        anyhow::bail!(
            "--remote-instance and --remote-jobs need --remote (or `url` in the configuration file's [remote])"
        );
    }
    let remote = match &url {
        Some(url) => {
            let instance = args
                .remote_instance
                .clone()
                .or_else(|| from_config.as_ref().and_then(|r| r.instance.clone()))
                .unwrap_or_default();
            let jobs = args
                .remote_jobs
                .or_else(|| from_config.as_ref().and_then(|r| r.jobs.map(|j| j.get())));
            // Before the store: a server that cannot build leaves nothing
            // behind.
            let mut remote = abovo_remote::Remote::connect(url, &instance)?;
            opts.jobs = jobs.map_or(16, |j| j as usize);
            remote.limit_uploads(opts.jobs);
            let remote = std::sync::Arc::new(remote);
            opts.remote = Some(remote.clone());
            Some(remote)
        }
        None => None,
    };
    let code = run_with(&args, ctx, opts);
    if let Some(remote) = remote {
        let (blobs, bytes, hits, executed) = remote.stats().snapshot();
        let (from_db, computed, rejected) = remote.stats().trees();
        let rejected = if rejected > 0 {
            format!(" ({rejected} found wrong in the database)")
        } else {
            String::new()
        };
        ctx.note(&format!(
            "remote: {} executed, {hits} from the ActionCache; {} ({bytes} bytes) uploaded, \
             {at_once} at most at once; \
             input trees: {from_db} from the database, {computed} computed{rejected}",
            plain_plural(executed as usize, "action", "actions"),
            plain_plural(blobs as usize, "blob", "blobs"),
            at_once = remote
                .stats()
                .uploads_at_once
                .load(std::sync::atomic::Ordering::Relaxed),
        ));
    }
    code
}

/// Runs `abovo build` with the options made of `args`.
fn run_with(args: &Args, ctx: &Context, opts: BuildOptions) -> anyhow::Result<u8> {
    match &args.guix_store {
        Some(dir) => {
            // The arguments first, then the scratch store: a check that
            // cannot start leaves nothing behind.
            let (mut check, targets) = targets::foreign(args, dir, &opts.tmp_dir, ctx)?;
            let code = build(args, ctx, check.store(), &targets, opts, &[])?;
            // Kept with -K (the other builds are there), or when a build
            // failed (its log is there); a difference alone is reported in
            // full, so nothing is kept for it.
            if args.keep_failed || code == exit::ERROR {
                let kept = check.keep().to_owned();
                ctx.note(&format!(
                    "the scratch store is kept at {} (build logs in var/log{})",
                    kept.display(),
                    if args.keep_failed {
                        ", other builds as OUT-check in store"
                    } else {
                        ""
                    }
                ));
            }
            Ok(code)
        }
        None => {
            // The arguments first, then a store that must exist (or that an
            // import checked first creates): a build that cannot start
            // creates nothing.
            let (store, targets, imported) = targets::local(args, ctx)?;
            build(args, ctx, &store, &targets, opts, &imported)
        }
    }
}

/// The build options `args` ask for.
fn options(args: &Args) -> BuildOptions {
    let mut opts = BuildOptions::new(HelperCommand::reexec(HELPER_SUBCOMMAND));
    if let Some(j) = args.jobs {
        opts.jobs = j as usize;
    }
    opts.cores = args.cores;
    opts.check = args.check;
    opts.rounds = args.rounds;
    opts.keep_failed = args.keep_failed;
    opts.keep_going = args.keep_going;
    opts.filter_syscalls = args.syscall_filter;
    opts.fixed_output_network = match args.fixed_output_network {
        FixedOutputNetworkArg::Auto => FixedOutputNetwork::Auto,
        FixedOutputNetworkArg::None => FixedOutputNetwork::None,
        FixedOutputNetworkArg::Slirp4netns => FixedOutputNetwork::Slirp4netns,
        FixedOutputNetworkArg::Host => FixedOutputNetwork::Host,
    };
    opts.log_compression = match args.log_compression {
        LogCompressionArg::None => LogCompression::None,
        LogCompressionArg::Gzip => LogCompression::Gzip,
        LogCompressionArg::Bzip2 => LogCompression::Bzip2,
    };
    opts.limits = Limits {
        max_silent_time: args.max_silent_time.map(Duration::from_secs),
        timeout: args.timeout.map(Duration::from_secs),
        max_log_size: args.max_log_size,
    };
    opts.downloads.mirrors_file = args.mirrors.clone();
    opts.downloads.content_addressed_mirrors = args.content_addressed_mirror.clone();
    opts.downloads.trust = match (&args.ca_file, args.no_check_certificate) {
        (_, true) => Trust::Insecure,
        (Some(f), false) => Trust::CaFile(f.clone()),
        (None, false) => Trust::FromEnvironment,
    };
    opts
}

/// Builds `targets` in `store` and reports; returns the exit code.
fn build(
    args: &Args,
    ctx: &Context,
    store: &LocalStore,
    targets: &[StorePath],
    opts: BuildOptions,
    imported: &[targets::Imported],
) -> anyhow::Result<u8> {
    let bar = ctx.progress.then(|| {
        let bar = ProgressBar::with_draw_target(Some(0), indicatif::ProgressDrawTarget::hidden());
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{pos}/{len}] {elapsed} {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    });
    let reporter = BuildProgress {
        bar,
        print_logs: args.print_build_logs,
        notes: ctx.notes,
        store_dir: store.store_dir().to_string(),
        jobs: opts.jobs,
        terminal: std::io::IsTerminal::is_terminal(&std::io::stderr()),
        state: Mutex::new(ReporterState::default()),
    };
    let builder = Builder::new(store, opts, &reporter);
    let report = builder.build(targets)?;
    if let Some(bar) = &reporter.bar {
        bar.finish_and_clear();
    }
    let code = exit_code(&report);
    if args.format == Format::Json {
        let mut json = json_report(store, targets, &report, code)?;
        if !imported.is_empty() {
            json["imported"] = serde_json::to_value(imported)?;
        }
        if let Some(lower) = store.lower() {
            json["against"] = serde_json::json!({
                "store": lower.store_dir().as_str(),
                "real_dir": lower.real_dir(),
                "database": lower.database(),
                "scratch": store.real_dir().parent(),
            });
        }
        print_json(&json)?;
        return Ok(code);
    }
    // The failures themselves, then one line per failure for what could
    // not be built because of it (instead of one error per dependent).
    let mut blocked: BTreeMap<&str, Vec<&StorePath>> = BTreeMap::new();
    for (drv, e) in report.failures() {
        match e {
            BuildError::DependencyFailed { dependency, .. } => {
                blocked.entry(dependency.as_str()).or_default().push(drv);
            }
            _ => ctx.error(&anyhow::anyhow!("{e}")),
        }
    }
    for (dependency, drvs) in blocked {
        let mut names: Vec<&str> = drvs.iter().map(|d| display_name(d)).collect();
        names.sort_unstable();
        let shown = if names.len() > 5 {
            format!("{}, …", names[..5].join(", "))
        } else {
            names.join(", ")
        };
        ctx.error(&anyhow::anyhow!(
            "{} not built because `{dependency}` failed: {shown}",
            plain_plural(names.len(), "derivation", "derivations")
        ));
    }
    if code == exit::SUCCESS {
        let mut out = std::io::stdout().lock();
        for t in targets {
            let drv = store.read_derivation(t)?;
            // Floating outputs are where their build registered them.
            for name in drv.outputs.keys() {
                if let Some(p) = realised(store, t, &drv, name)? {
                    writeln!(out, "{}", store.display(&p))?;
                }
            }
        }
    }
    Ok(code)
}

/// 0 when everything was built (or was valid, or matched), 1 when the only
/// failures are reproducibility differences (and what could not be built
/// because of them), 2 when anything else failed.
fn exit_code(report: &BuildReport) -> u8 {
    let differing: BTreeSet<&StorePath> = report
        .failures()
        .filter(|(_, e)| e.is_not_deterministic())
        .map(|(d, _)| d)
        .collect();
    let mut negative = false;
    for (_, e) in report.failures() {
        match e {
            e if e.is_not_deterministic() => negative = true,
            BuildError::DependencyFailed { dependency, .. }
                if differing
                    .iter()
                    .any(|d| d.base_name() == base_of(dependency)) =>
            {
                negative = true
            }
            _ => return exit::ERROR,
        }
    }
    if negative {
        exit::NEGATIVE
    } else if report.success() {
        exit::SUCCESS
    } else {
        // Skipped derivations without a failure cannot happen; be safe.
        exit::ERROR
    }
}

/// The file name of a displayed store path.
fn base_of(shown: &str) -> &str {
    shown.rsplit('/').next().unwrap_or(shown)
}

/// The JSON report: the targets with their output paths, every result
/// (what was built, checked or repaired with its outputs; failures with
/// their kind, message and details), the exit code. Keys are snake_case,
/// like every abovo report; the keys of a target's `outputs` are output
/// names (data, not schema).
fn json_report(
    store: &LocalStore,
    targets: &[StorePath],
    report: &BuildReport,
    code: u8,
) -> anyhow::Result<serde_json::Value> {
    use serde_json::json;
    let mut target_list = Vec::new();
    for t in targets {
        let drv = store.read_derivation(t)?;
        let mut outputs: BTreeMap<&str, String> = BTreeMap::new();
        for name in drv.outputs.keys() {
            if let Some(p) = realised(store, t, &drv, name)? {
                outputs.insert(name, store.display(&p));
            }
        }
        target_list.push(json!({"drv": store.display(t), "outputs": outputs}));
    }
    let results: Vec<serde_json::Value> = report
        .results
        .iter()
        .map(|(drv, r)| {
            let drv = store.display(drv);
            match r {
                DrvResult::Done(Realised::Valid) => json!({"drv": drv, "status": "valid"}),
                DrvResult::Done(Realised::Built(o)) => {
                    json!({"drv": drv, "status": "built", "outputs": o})
                }
                DrvResult::Done(Realised::Checked(o)) => {
                    json!({"drv": drv, "status": "checked", "outputs": o})
                }
                DrvResult::Done(Realised::Repaired(o)) => {
                    json!({"drv": drv, "status": "repaired", "outputs": o})
                }
                DrvResult::Failed(BuildError::NotDeterministic {
                    against_previous_round,
                    differences,
                    ..
                }) => json!({
                    "drv": drv,
                    "status": "differs",
                    "against": if *against_previous_round { "previous-round" } else { "registered" },
                    "differences": differences,
                }),
                DrvResult::Failed(e) => {
                    let mut j = json!({"drv": drv, "status": "failed", "error": e.to_string()});
                    match e {
                        BuildError::BuilderFailed { how, log, kept, .. } => {
                            j["kind"] = json!("builder");
                            j["how"] = json!(how);
                            j["log"] = json!(log);
                            j["kept"] = json!(kept);
                        }
                        BuildError::HashMismatch {
                            path,
                            expected,
                            actual,
                            ..
                        } => {
                            j["kind"] = json!("hash-mismatch");
                            j["path"] = json!(path);
                            j["expected"] = json!(expected);
                            j["actual"] = json!(actual);
                        }
                        BuildError::DependencyFailed { dependency, .. } => {
                            j["kind"] = json!("dependency-failed");
                            j["dependency"] = json!(dependency);
                        }
                        BuildError::BuiltinFailed { builtin, reason, .. } => {
                            j["kind"] = json!("builtin");
                            j["builtin"] = json!(builtin);
                            j["reason"] = json!(reason);
                        }
                        BuildError::Sandbox { .. } => j["kind"] = json!("sandbox"),
                        BuildError::UnsupportedFileType { file, .. } => {
                            j["kind"] = json!("unsupported-file-type");
                            j["file"] = json!(file);
                        }
                        BuildError::ForbiddenReference {
                            path, reference, ..
                        } => {
                            j["kind"] = json!("forbidden-reference");
                            j["path"] = json!(path);
                            j["reference"] = json!(reference);
                        }
                        BuildError::ReferenceCycle { path, referrer, .. } => {
                            j["kind"] = json!("reference-cycle");
                            j["path"] = json!(path);
                            j["referrer"] = json!(referrer);
                        }
                        _ => j["kind"] = json!("other"),
                    }
                    j
                }
                DrvResult::Skipped => json!({"drv": drv, "status": "skipped"}),
            }
        })
        .collect();
    Ok(json!({
        "success": report.success(),
        "exit_code": code,
        "targets": target_list,
        "results": results,
    }))
}
