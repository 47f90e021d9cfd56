//! `abovo publish`: serve abovo's store as a substitute server with Guix's
//! protocol, signed with the store's key (see `abovo key generate`).

use super::store::StoreArgs;
use crate::exit;
use crate::output::Context;
use abovo_publish::catalogue::Catalogue;
use abovo_publish::compression::Method;
use abovo_publish::{Options, Publisher};
use abovo_store::narinfo::SigningKey;
use anyhow::Context as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Serve abovo's store as a substitute server, as `guix publish` does.
///
/// Paths served: `/nix-cache-info`; `/HASH.narinfo`, signed with the key
/// (Guix's `Signature:` form, and a Nix `Sig:` when the key has a Nix
/// form), its fields in the order of Guix 1.5.0's `guix publish`;
/// `/nar/[COMPRESSION/]HASH-NAME`, streamed and compressed on the fly;
/// `/file/NAME/sha256/HASH` for flat fixed outputs. Guix can substitute
/// from it once its public key is authorised (`guix archive --authorize <
/// signing-key.pub`), Nix with the `.nix.pub` key in `trusted-public-keys`,
/// and `abovo challenge` compares it with other servers.
///
/// Runs until interrupted (Ctrl-C or SIGTERM). Exit status: 2 when the
/// store, the key or the address cannot be used.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The address to listen on (port 0: any free port, printed on
    /// standard error). Listen on 0.0.0.0 to serve other machines.
    #[arg(
        long,
        short = 'l',
        default_value = "127.0.0.1:8080",
        value_name = "ADDR:PORT"
    )]
    pub listen: String,
    /// The secret key: Guix's `(private-key …)` or Nix's `name:base64`.
    /// Default: `signing-key.nix.sec` in the state directory, else
    /// `signing-key.sec` (`abovo key generate` writes both).
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// NAR compressions offered, `METHOD[:LEVEL]` (none, gzip, xz, zstd);
    /// may be repeated; each narinfo lists them in this order. Default:
    /// none (the NAR as is, with its size known in advance).
    #[arg(long, short = 'C', value_name = "METHOD[:LEVEL]", value_parser = parse_method)]
    pub compression: Vec<Method>,
    /// Serve the items from this directory instead of the store directory
    /// (a copy of the store, or another machine's store mounted here):
    /// paths and signatures still name the store directory.
    #[arg(long, value_name = "DIR")]
    pub real_store: Option<PathBuf>,
    /// The host name in signatures (informational). Default: this machine's.
    #[arg(long, value_name = "NAME")]
    pub host_name: Option<String>,
    /// Worker threads (default: one per core).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub workers: usize,
    /// The store.
    #[command(flatten)]
    pub store: StoreArgs,
}

fn parse_method(text: &str) -> Result<Method, String> {
    Method::parse(text)
}

/// Runs `abovo publish`.
pub fn run(args: Args, ctx: &Context) -> anyhow::Result<u8> {
    let mut store_args = args.store.clone();
    if let Some(real) = &args.real_store {
        if !real.is_dir() {
            anyhow::bail!("--real-store `{}` is not a directory", real.display());
        }
        // The store's own mechanism for items kept apart from their
        // directory; the state stays where the store has it.
        store_args.state_dir = Some(args.store.config()?.state_dir);
        store_args.real_store_dir = Some(real.clone());
    }
    let store = store_args.open_existing()?;
    let key_file = match &args.key {
        Some(k) => k.clone(),
        None => default_key(store.state_dir())?,
    };
    let key = read_key(&key_file)?;
    let mut opts = Options::default();
    if !args.compression.is_empty() {
        opts.compressions = args.compression.clone();
    }
    if let Some(h) = &args.host_name {
        if h.is_empty() || h.contains([';', '\n']) {
            anyhow::bail!("--host-name `{h}`: a host name has no `;` or line break");
        }
        opts.host_name = h.clone();
    }
    opts.workers = args.workers;
    let store_dir = store.store_dir().to_string();
    let catalogue: Arc<dyn Catalogue> = Arc::new(store);
    let listener = std::net::TcpListener::bind(&args.listen)
        .with_context(|| format!("cannot listen on `{}`", args.listen))?;
    let addr = listener.local_addr()?;
    let public = abovo_store::encoding::base16_encode(&key.public_key()).to_ascii_uppercase();
    // One line on standard error, always (even with --quiet): scripts and
    // tests that asked for port 0 read the address from it.
    eprintln!(
        "abovo publish: serving {store_dir} on http://{addr} (key {public}, from {})",
        key_file.display()
    );
    let _ = ctx;
    let publisher = Arc::new(Publisher::new(catalogue, key, opts));
    abovo_publish::server::serve(publisher, listener, shutdown_signal())
        .context("the server stopped")?;
    Ok(exit::SUCCESS)
}

/// Completes on Ctrl-C or SIGTERM (polled inside the server's runtime).
pub(crate) async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// The default key of a store: its Nix form (which signs both ways) when
/// there is one, else its Guix form.
fn default_key(state_dir: &Path) -> anyhow::Result<PathBuf> {
    for name in [super::key::NIX_SECRET, super::key::GUIX_SECRET] {
        let p = state_dir.join(name);
        if p.is_file() {
            return Ok(p);
        }
    }
    anyhow::bail!(
        "no signing key in `{}` (hint: `abovo key generate` makes one, or give --key FILE)",
        state_dir.display()
    )
}

/// Reads a secret key file (either form).
pub fn read_key(file: &Path) -> anyhow::Result<SigningKey> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read the key file `{}`", file.display()))?;
    SigningKey::parse(&text).map_err(|e| anyhow::anyhow!("key file `{}`: {e}", file.display()))
}
