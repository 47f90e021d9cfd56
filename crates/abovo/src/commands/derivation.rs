//! `abovo derivation add FILE.json|FILE.drv`: write a derivation into
//! abovo's store (or, with `--dry-run`, say which `.drv` path it would get).

use super::store::StoreArgs;
use crate::exit;
use crate::output::Context;
use abovo_store::derivation::json::{JsonDerivation, JsonFormat, NameSource};
use abovo_store::derivation::{Derivation, DerivationError};
use abovo_store::{StoreDir, StorePath};
use anyhow::Context as _;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

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
    /// path. The JSON is Nix's derivation JSON in any of its forms (that of
    /// `nix derivation show` from Nix 2.17 to today's format version 4,
    /// tvix's, and `abovo show -f json`'s), detected from its shape or
    /// named with --json-format. Its keys are Nix's (`outputs`,
    /// `inputDrvs`/`inputSrcs` or `inputs`, `system`, `builder`, `args`,
    /// `env`, `structuredAttrs`; an output's `path`, `method`, `hashAlgo`,
    /// `hash`, `impure`) and an optional `name`; unlike abovo's reports,
    /// they are camelCase. `nix derivation show`'s wrapper, an object keyed
    /// by the `.drv` path (or `{"derivations": …}`), is accepted too.
    /// Values that are not UTF-8 may be given as `{"bytes": "<base64>"}`.
    ///
    /// The name is the JSON's `name`, else the wrapper's `.drv` path's,
    /// else --name, else the `name` variable of its environment (which
    /// Nix always sets). Output paths may be left out: abovo computes them
    /// (and the `out`… environment variables) the way Guix and Nix do, for
    /// this store; floating content-addressed and impure outputs have none
    /// until they are built. Every input must already be in the store.
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
    /// The derivation name, when the JSON does not say it (or the `.drv`
    /// file is not named `<hash>-<name>.drv`).
    #[arg(long, short = 'n', value_name = "NAME")]
    pub name: Option<String>,
    /// Read the JSON as this form only (see `abovo show --help`): `nix-2.17`,
    /// `nix-2.18`, `nix-2.23`, `nix-2.30`, `nix-2.32`, `nix-2.33` (or
    /// `latest`), `tvix`. Without it the form is detected.
    #[arg(long, value_name = "FORMAT", value_parser = super::show::parse_json_format)]
    pub json_format: Option<JsonFormat>,
    /// Print the `.drv` path the derivation would get, and write nothing
    /// (the store need not exist). Input derivations, whose hashes output
    /// paths need, are read from the store directory, else from FILE's
    /// directory (as `<hash>-<name>.drv`).
    #[arg(long)]
    pub dry_run: bool,
    /// The store.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Runs `abovo derivation`.
pub fn run(args: Args, _ctx: &Context) -> anyhow::Result<u8> {
    let DerivationCommand::Add(args) = args.command;
    let store_dir = args.store.config()?.store_dir;
    let shown = args.file.display().to_string();
    let bytes = if args.file.as_os_str() == "-" {
        let mut b = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut b)
            .context("cannot read standard input")?;
        b
    } else {
        std::fs::read(&args.file).with_context(|| format!("cannot read `{shown}`"))?
    };
    if bytes.starts_with(b"Derive(") || bytes.starts_with(b"DrvWithVersion(") {
        if args.dry_run {
            anyhow::bail!(
                "--dry-run reads JSON; `{shown}` is a `.drv` file (`abovo verify` checks its paths)"
            );
        }
        return add_aterm(&args, bytes);
    }
    let read = Derivation::read_json(&store_dir, &bytes, args.json_format, args.name.as_deref())
        .map_err(|e| anyhow::anyhow!("`{shown}` is not a derivation in JSON: {e}"))?;
    let JsonDerivation {
        derivation: mut drv,
        name,
        name_from,
        ..
    } = read;
    let name = match (name, &args.name) {
        (Some(n), Some(flag))
            if matches!(name_from, NameSource::Name | NameSource::WrapperKey) && n != *flag =>
        {
            anyhow::bail!(
                "`{shown}` names the derivation `{n}`, but --name says `{flag}`; leave one out"
            );
        }
        (Some(n), _) => n,
        (None, _) => anyhow::bail!(
            "`{shown}` does not say the derivation's name (no \"name\", and no `name` variable \
             in its environment); pass --name"
        ),
    };
    // Structural mistakes are refused before a store is created for them.
    abovo_build::store::add::check_derivation(&drv, &name).map_err(|reason| {
        anyhow::anyhow!("cannot add `{shown}` to the store: it is not a valid derivation: {reason}")
    })?;
    if args.dry_run {
        let beside = match args.file.parent() {
            Some(p) if args.file.as_os_str() != "-" => p.to_owned(),
            _ => PathBuf::from("."),
        };
        let path = dry_run(&mut drv, &name, &store_dir, &beside)
            .with_context(|| format!("cannot add `{shown}` to the store"))?;
        crate::outln!("{}", store_dir.display(&path))?;
        return Ok(exit::SUCCESS);
    }
    let store = args.store.open()?;
    let path = store
        .add_derivation(&mut drv, &name)
        .with_context(|| format!("cannot add `{shown}` to the store"))?;
    crate::outln!("{}", store.display(&path))?;
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
        crate::outln!("{}", store.display(t))?;
    }
    Ok(exit::SUCCESS)
}

/// What `add_derivation` computes and checks, without a store: the output
/// paths (filled in when missing, else compared), then the `.drv` path.
fn dry_run(
    drv: &mut Derivation,
    name: &str,
    store_dir: &StoreDir,
    beside: &Path,
) -> anyhow::Result<StorePath> {
    let mut inputs = InputHashes {
        store_dir,
        dirs: [PathBuf::from(store_dir.as_str()), beside.to_owned()],
        memo: HashMap::new(),
    };
    drv.fill_output_paths(store_dir, name, |p| inputs.hash(p))?;
    let mismatches = drv.check_output_paths(store_dir, name, |p| inputs.hash(p))?;
    if let Some(m) = mismatches.first() {
        anyhow::bail!(
            "it is not a valid derivation: {} is `{}` but must be `{}` (leave the output paths \
             out and abovo computes them)",
            m.what,
            m.actual,
            m.expected
        );
    }
    let aterm = drv.to_aterm(store_dir);
    Ok(drv.drv_path(store_dir, name, &aterm)?)
}

/// The derivation hashes of input `.drv` files read from directories,
/// memoised.
struct InputHashes<'a> {
    store_dir: &'a StoreDir,
    dirs: [PathBuf; 2],
    memo: HashMap<StorePath, Result<[u8; 32], DerivationError>>,
}

impl InputHashes<'_> {
    fn hash(&mut self, path: &StorePath) -> Result<[u8; 32], DerivationError> {
        if let Some(h) = self.memo.get(path) {
            return h.clone();
        }
        let h = self.compute(path);
        self.memo.insert(path.clone(), h.clone());
        h
    }

    fn compute(&mut self, path: &StorePath) -> Result<[u8; 32], DerivationError> {
        let fail = |reason: String| DerivationError::Input {
            path: self.store_dir.display(path),
            reason,
        };
        let base = path.base_name();
        let Some(file) = self
            .dirs
            .iter()
            .map(|d| d.join(&base))
            .find(|f| f.is_file())
        else {
            return Err(fail(format!(
                "it is neither in the store directory nor in `{}`",
                self.dirs[1].display()
            )));
        };
        let bytes = abovo_graph::input::read_regular(
            &file,
            abovo_graph::input::MAX_DRV_SIZE,
            "a .drv file",
        )
        .map_err(|e| fail(e.to_string()))?;
        let drv = Derivation::parse(self.store_dir, &bytes).map_err(|e| fail(e.to_string()))?;
        let store_dir = self.store_dir;
        drv.hash_modulo(store_dir, |q| self.hash(q))
    }
}
