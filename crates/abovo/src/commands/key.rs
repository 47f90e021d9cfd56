//! `abovo key generate`: make the key pair `abovo publish` signs with.

use super::store::StoreArgs;
use crate::exit;
use crate::output::{Context, Format, TEXT_JSON, print_json};
use abovo_store::narinfo::SigningKey;
use anyhow::Context as _;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The Guix secret key file (`/etc/guix/signing-key.sec`'s form).
pub const GUIX_SECRET: &str = "signing-key.sec";
/// The Guix public key file.
pub const GUIX_PUBLIC: &str = "signing-key.pub";
/// The Nix secret key file (`nix-store --generate-binary-cache-key`'s form).
pub const NIX_SECRET: &str = "signing-key.nix.sec";
/// The Nix public key file.
pub const NIX_PUBLIC: &str = "signing-key.nix.pub";

/// Manage the signing keys of `abovo publish`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub command: KeyCommand,
}

/// The `key` subcommands.
// The variant's `about` documents it (a doc comment would hide
// `GenerateArgs`' text in `--help`).
#[allow(missing_docs)]
#[derive(Debug, clap::Subcommand)]
pub enum KeyCommand {
    #[command(about = "Make a key pair, written in Guix's form and in Nix's")]
    Generate(GenerateArgs),
}

/// Make a signing key pair from the system's random numbers.
///
/// One key, four files: `signing-key.sec` and `signing-key.pub` in Guix's
/// form (`guix archive --generate-key`'s; authorise the server with `guix
/// archive --authorize < signing-key.pub`), `signing-key.nix.sec` and
/// `signing-key.nix.pub` in Nix's (`NAME:base64`, for
/// `trusted-public-keys` and `abovo challenge --authorized-key`). Both
/// public files hold the same 32-byte key. Secret files are made readable
/// by their owner only. An existing key is never replaced without --force.
#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// Where to write the files. Default: the store's state directory,
    /// where `abovo publish` looks.
    #[arg(long, short = 'o', value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// The key's Nix name. Default: `HOST-1`.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Replace a key that exists.
    #[arg(long)]
    pub force: bool,
    /// Output format: text or json.
    #[arg(long, short = 'f', default_value = "text", value_parser = Format::parser(TEXT_JSON))]
    pub format: Format,
    /// The store (for its state directory).
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Runs `abovo key`.
pub fn run(args: Args, ctx: &Context) -> anyhow::Result<u8> {
    match args.command {
        KeyCommand::Generate(g) => generate(g, ctx),
    }
}

fn generate(args: GenerateArgs, _ctx: &Context) -> anyhow::Result<u8> {
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => args.store.config()?.state_dir,
    };
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| format!("{}-1", abovo_publish::host_name()));
    if name.is_empty() || name.contains([':', ' ', '\n', '\t']) {
        anyhow::bail!("--name `{name}`: a key name has no `:` or white space");
    }
    if !args.force {
        for f in [GUIX_SECRET, GUIX_PUBLIC, NIX_SECRET, NIX_PUBLIC] {
            let p = dir.join(f);
            if p.exists() {
                anyhow::bail!(
                    "`{}` exists: a key is never replaced silently (hint: --force replaces it)",
                    p.display()
                );
            }
        }
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed)
        .map_err(|e| anyhow::anyhow!("the system gives no random numbers: {e}"))?;
    let key = SigningKey::from_seed(&name, &seed);
    let nix_secret = key
        .to_nix_secret()
        .ok_or_else(|| anyhow::anyhow!("internal error: a generated key has a Nix form"))?;
    let nix_public = key
        .to_nix_public()
        .ok_or_else(|| anyhow::anyhow!("internal error: a generated key has a Nix form"))?;
    // Public halves last: a reader that finds the public key finds the
    // secret one too.
    write_key(&dir.join(GUIX_SECRET), &key.to_guix_secret(), true)?;
    write_key(&dir.join(NIX_SECRET), &format!("{nix_secret}\n"), true)?;
    write_key(&dir.join(GUIX_PUBLIC), &key.to_guix_public(), false)?;
    write_key(&dir.join(NIX_PUBLIC), &format!("{nix_public}\n"), false)?;
    let files = |f: &str| dir.join(f).display().to_string();
    if args.format == Format::Json {
        print_json(&serde_json::json!({
            "name": name,
            "public_key": abovo_store::encoding::base16_encode(&key.public_key()),
            "nix_public_key": nix_public,
            "guix_public_key": key.to_guix_public().trim_end(),
            "files": {
                "guix_secret": files(GUIX_SECRET),
                "guix_public": files(GUIX_PUBLIC),
                "nix_secret": files(NIX_SECRET),
                "nix_public": files(NIX_PUBLIC),
            },
        }))?;
    } else {
        let mut out = std::io::stdout().lock();
        writeln!(out, "A new signing key, `{name}`:")?;
        writeln!(
            out,
            "  Guix: {} (secret), {}",
            files(GUIX_SECRET),
            files(GUIX_PUBLIC)
        )?;
        writeln!(
            out,
            "  Nix:  {} (secret), {}",
            files(NIX_SECRET),
            files(NIX_PUBLIC)
        )?;
        writeln!(out, "Public key (Nix form): {nix_public}")?;
        writeln!(
            out,
            "Public key (Guix form): {}",
            key.to_guix_public().trim_end()
        )?;
        out.flush()?;
    }
    Ok(exit::SUCCESS)
}

/// Writes a key file whole (a temporary file renamed into place), readable
/// by its owner only when `secret`.
fn write_key(path: &Path, text: &str, secret: bool) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("key"),
        std::process::id()
    ));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(if secret { 0o600 } else { 0o644 })
            .open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        anyhow::anyhow!("cannot write `{}`: {e}", path.display())
    })
}
