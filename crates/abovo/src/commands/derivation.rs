//! `abovo derivation add FILE.json|FILE.drv`: write a derivation into
//! abovo's store.

use super::store::StoreArgs;
use crate::exit;
use crate::output::Context;
use abovo_store::derivation::Derivation;
use anyhow::Context as _;
use std::path::PathBuf;

/// Make derivations without Scheme.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub command: DerivationCommand,
}

/// `abovo derivation` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum DerivationCommand {
    /// Add a derivation written in JSON to the store and print its `.drv`
    /// path. The JSON is Nix's derivation JSON, the shape of `nix derivation
    /// show` and of `abovo show -f json`, with Nix's own keys (`outputs`,
    /// `inputDrvs`, `inputSrcs`, `system`, `builder`, `args`, `env`; an
    /// output's `path`, `hashAlgo`, `hash`) and an optional `name`; unlike
    /// abovo's reports, these keys are camelCase. `nix derivation show`'s
    /// wrapper, an object whose one key is the `.drv` path, is accepted too
    /// (the name then defaults to that path's). Output paths may be left
    /// out: abovo computes them (and the `out`… environment variables) the
    /// way Guix does, for this store. Every input must already be in the
    /// store.
    ///
    /// A `.drv` file (ATerm, as Guix and Nix write them) is added as it is,
    /// with its derivation closure from the directory it is in (the inputs
    /// the store lacks, and the input sources); every `.drv` is checked:
    /// its path must follow from its bytes (when the file is named
    /// `<hash>-<name>.drv`) and its output paths from its content.
    Add(AddArgs),
}

/// `abovo derivation add` flags.
#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// The JSON or `.drv` file (`-` for standard input).
    pub file: PathBuf,
    /// The derivation name, when the JSON has no "name" (or the `.drv`
    /// file is not named `<hash>-<name>.drv`).
    #[arg(long, short = 'n', value_name = "NAME")]
    pub name: Option<String>,
    /// The store.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Runs `abovo derivation`.
pub fn run(args: Args, _ctx: &Context) -> anyhow::Result<u8> {
    let DerivationCommand::Add(args) = args.command;
    let store_dir = args.store.config()?.store_dir;
    let bytes = if args.file.as_os_str() == "-" {
        let mut b = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut b)
            .context("cannot read standard input")?;
        b
    } else {
        std::fs::read(&args.file)
            .with_context(|| format!("cannot read `{}`", args.file.display()))?
    };
    if bytes.starts_with(b"Derive(") {
        return add_aterm(&args, bytes);
    }
    let text = String::from_utf8(bytes)
        .map_err(|e| anyhow::anyhow!("`{}` is not UTF-8 text: {e}", args.file.display()))?;
    let (text, path_name) = unwrap_show_output(&text).map_err(|e| {
        anyhow::anyhow!("`{}` is not a derivation in JSON: {e}", args.file.display())
    })?;
    let (mut drv, name) = Derivation::from_json(&store_dir, &text)
        .with_context(|| format!("`{}` is not a derivation in JSON", args.file.display()))?;
    let name =
        args.name.or(name).or(path_name).ok_or_else(|| {
            anyhow::anyhow!("`{}` has no \"name\"; pass --name", args.file.display())
        })?;
    // Structural mistakes are refused before a store is created for them.
    abovo_build::store::add::check_derivation(&drv, &name).map_err(|reason| {
        anyhow::anyhow!(
            "cannot add `{}` to the store: it is not a valid derivation: {reason}",
            args.file.display()
        )
    })?;
    let store = args.store.open()?;
    let path = store
        .add_derivation(&mut drv, &name)
        .with_context(|| format!("cannot add `{}` to the store", args.file.display()))?;
    println!("{}", store.display(&path));
    Ok(exit::SUCCESS)
}

/// Adds a `.drv` file (ATerm) with its closure from its directory
/// (standard input: the current directory).
fn add_aterm(args: &AddArgs, bytes: Vec<u8>) -> anyhow::Result<u8> {
    use abovo_build::foreign::import::{Importer, Target};
    use abovo_build::foreign::place::Place;
    let config = args.store.config()?;
    let stdin = args.file.as_os_str() == "-";
    let file = std::path::absolute(&args.file)
        .with_context(|| format!("cannot resolve `{}`", args.file.display()))?;
    let dir = if stdin {
        std::env::current_dir().context("cannot find the current directory")?
    } else {
        file.parent()
            .unwrap_or(std::path::Path::new("/"))
            .to_owned()
    };
    let base = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let named =
        !stdin && abovo_store::StorePath::from_base_name(base).is_ok_and(|p| p.is_derivation());
    let target = if named {
        if args.name.is_some() {
            anyhow::bail!(
                "`{}` is named by its store path, which fixes its name: leave --name out",
                args.file.display()
            );
        }
        Target::Named(base.to_owned())
    } else {
        let name = match (&args.name, stdin) {
            (Some(n), _) => n.clone(),
            (None, true) => anyhow::bail!("a `.drv` read from standard input needs --name"),
            (None, false) => base.strip_suffix(".drv").unwrap_or(base).to_owned(),
        };
        Target::Loose {
            file: args.file.clone(),
            bytes,
            name,
        }
    };
    let existing = args.store.open_if_exists()?;
    let places = [Place::open(&dir)?];
    let plan = Importer::new(&places, &config.store_dir, existing.as_ref()).plan(&[target])?;
    // Checked: now the store may be created.
    let store = match existing {
        Some(s) => s,
        None => args.store.open()?,
    };
    plan.apply(&store, &places)
        .with_context(|| format!("cannot add `{}` to the store", args.file.display()))?;
    for t in &plan.targets {
        println!("{}", store.display(t));
    }
    Ok(exit::SUCCESS)
}

/// `nix derivation show` prints `{"/nix/store/…-x.drv": {…}}`: an object
/// whose one key is the `.drv` path and whose value is the derivation.
/// Returns the derivation's JSON text (`text` itself when it is not
/// wrapped) and, when wrapped, the name of the `.drv` path (without hash
/// part and `.drv`), for a derivation without `"name"`.
fn unwrap_show_output(text: &str) -> anyhow::Result<(String, Option<String>)> {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(text) else {
        // Not an object: let the derivation reader say what is wrong.
        return Ok((text.to_owned(), None));
    };
    let is_drv_path = |key: &str| key.ends_with(".drv") && key.contains('/');
    if map.is_empty() || !map.keys().all(|k| is_drv_path(k)) {
        return Ok((text.to_owned(), None));
    }
    if map.len() > 1 {
        anyhow::bail!(
            "it holds {} derivations keyed by their `.drv` paths (the output of `nix \
             derivation show` for several); add them one at a time",
            map.len()
        );
    }
    let Some((key, inner)) = map.into_iter().next() else {
        return Ok((text.to_owned(), None));
    };
    if !inner.is_object() {
        anyhow::bail!("the value of `{key}` is not a JSON object");
    }
    // `/…/<32 characters of hash>-NAME.drv` → NAME.
    let base = key.rsplit('/').next().unwrap_or(&key);
    let name = base
        .get(33..)
        .and_then(|rest| rest.strip_suffix(".drv"))
        .filter(|n| !n.is_empty())
        .map(str::to_owned);
    Ok((inner.to_string(), name))
}
