//! What `abovo build` builds, and from where:
//!
//! * `.drv` paths of abovo's store (what `abovo derivation add` prints);
//! * `.drv` files to import first, with their derivation closure: named in
//!   `--from PLACE` (a directory, a store directory or a tarball), or given
//!   as files outside the store (`./drvs/…-hello.drv`, or `/gnu/store/…`
//!   when abovo's store names `/gnu/store` but keeps its items elsewhere),
//!   which are imported from the directory they are in;
//! * with `--check --guix-store DIR`, `.drv` paths of another daemon's
//!   store, checked against it in a scratch store.

use super::Args;
use crate::output::Context;
use abovo_build::LocalStore;
use abovo_build::foreign::ForeignStore;
use abovo_build::foreign::check::ForeignCheck;
use abovo_build::foreign::import::{ImportReport, Importer, Target, describe};
use abovo_build::foreign::place::Place;
use abovo_build::store::StoreConfig;
use abovo_build::store::db::ReadOnlyMode;
use abovo_store::{StoreDir, StorePath};
use anyhow::Context as _;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What was imported from one place, for the reports.
#[derive(Debug, serde::Serialize)]
pub struct Imported {
    /// The directories and tarballs.
    pub from: Vec<PathBuf>,
    /// How many `.drv` files and sources were added.
    #[serde(flatten)]
    pub added: ImportReport,
}

/// The targets of a build in abovo's own store: the store (created when an
/// import needs it), the `.drv` paths, and what was imported.
pub fn local(
    args: &Args,
    ctx: &Context,
) -> anyhow::Result<(LocalStore, Vec<StorePath>, Vec<Imported>)> {
    let config = args.store.config()?;
    let existing = args.store.open_if_exists()?;
    let mut targets = Vec::new();
    // Places → their targets, in the order given.
    let mut imports: BTreeMap<Vec<PathBuf>, Vec<(usize, Target)>> = BTreeMap::new();
    for (i, arg) in args.drvs.iter().enumerate() {
        match resolve(args, &config, existing.as_ref(), arg)? {
            Resolved::InStore(p) => targets.push(Some(p)),
            Resolved::Import(places, t) => {
                targets.push(None);
                imports.entry(places).or_default().push((i, t));
            }
        }
    }
    if imports.is_empty() {
        // Nothing to import: the store must exist, as for any build.
        let store = match existing {
            Some(s) => s,
            None => args.store.open_existing()?,
        };
        return Ok((store, targets.into_iter().flatten().collect(), Vec::new()));
    }
    // Every place is read and checked before anything is written, and the
    // store is created only then.
    let mut plans = Vec::new();
    for (paths, wanted) in imports {
        let places = paths
            .iter()
            .map(|p| Place::open(p))
            .collect::<Result<Vec<_>, _>>()?;
        let (indexes, wanted): (Vec<usize>, Vec<Target>) = wanted.into_iter().unzip();
        let plan = Importer::new(&places, &config.store_dir, existing.as_ref()).plan(&wanted)?;
        for (i, p) in indexes.into_iter().zip(&plan.targets) {
            targets[i] = Some(p.clone());
        }
        plans.push((places, plan));
    }
    let store = match existing {
        Some(s) => s,
        None => args.store.open()?,
    };
    let mut imported = Vec::new();
    for (places, plan) in plans {
        let shown = describe(&places);
        let added = plan
            .apply(&store, &places)
            .with_context(|| format!("cannot import from {shown}"))?;
        ctx.note(&format!(
            "imported {} and {} from {shown}",
            crate::report::text::plain_plural(added.derivations, "derivation", "derivations"),
            crate::report::text::plain_plural(added.sources, "source", "sources"),
        ));
        imported.push(Imported {
            from: places.iter().map(|p| p.path().to_owned()).collect(),
            added,
        });
    }
    Ok((store, targets.into_iter().flatten().collect(), imported))
}

enum Resolved {
    InStore(StorePath),
    /// Imported from these places.
    Import(Vec<PathBuf>, Target),
}

/// What one DRV argument names.
fn resolve(
    args: &Args,
    config: &StoreConfig,
    store: Option<&LocalStore>,
    arg: &str,
) -> anyhow::Result<Resolved> {
    if !args.from.is_empty() {
        // Named in the places: by base name, whatever directory the
        // argument puts it in.
        let base = arg.trim_end_matches('/').rsplit('/').next().unwrap_or(arg);
        return Ok(Resolved::Import(
            args.from.clone(),
            Target::Named(base.to_owned()),
        ));
    }
    let file = Path::new(arg);
    match super::parse_item(&config.store_dir, arg) {
        Ok(p) => {
            if !p.is_derivation() {
                anyhow::bail!(
                    "`{arg}` is not a derivation (`.drv`) path\nhint: `abovo build` takes the \
                     `.drv` path that `abovo derivation add` prints"
                );
            }
            let valid = match store {
                Some(s) => s.is_valid(&p)?,
                None => false,
            };
            // `/gnu/store/…-x.drv` with abovo's items kept elsewhere: a
            // file at that path is another daemon's, to import.
            let ours = config.real_path(&p);
            if !valid && file.is_absolute() && file.is_file() && file != ours {
                let dir = file.parent().unwrap_or(Path::new("/")).to_owned();
                return Ok(Resolved::Import(vec![dir], Target::Named(p.base_name())));
            }
            Ok(Resolved::InStore(p))
        }
        Err(_) if file.is_file() => file_target(file),
        Err(e) => Err(e),
    }
}

/// A `.drv` file outside the store: imported from its directory, under its
/// store path name when it has one (`<hash>-<name>.drv`, which must then
/// match its content), else as a loose file whose path follows from its
/// bytes.
fn file_target(file: &Path) -> anyhow::Result<Resolved> {
    let absolute = std::path::absolute(file)
        .with_context(|| format!("cannot resolve `{}`", file.display()))?;
    let dir = absolute.parent().unwrap_or(Path::new("/")).to_owned();
    let base = absolute
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_owned();
    if StorePath::from_base_name(&base).is_ok_and(|p| p.is_derivation()) {
        return Ok(Resolved::Import(vec![dir], Target::Named(base)));
    }
    Ok(Resolved::Import(vec![dir], loose_target(&absolute)?))
}

/// A `.drv` file whose name is not a store path name, read whole; its name
/// is the file's name without `.drv`.
fn loose_target(file: &Path) -> anyhow::Result<Target> {
    let meta =
        std::fs::metadata(file).with_context(|| format!("cannot read `{}`", file.display()))?;
    if !meta.is_file() {
        anyhow::bail!("`{}` is not a regular file", file.display());
    }
    if meta.len() > abovo_build::foreign::place::MAX_DRV_SIZE {
        anyhow::bail!(
            "`{}` is larger than {} bytes, the most a .drv file may hold",
            file.display(),
            abovo_build::foreign::place::MAX_DRV_SIZE
        );
    }
    let bytes = std::fs::read(file).with_context(|| format!("cannot read `{}`", file.display()))?;
    let base = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let name = base.strip_suffix(".drv").unwrap_or(base).to_owned();
    Ok(Target::Loose {
        file: file.to_owned(),
        bytes,
        name,
    })
}

/// `--check --guix-store DIR`: the scratch store over the foreign store,
/// and the targets, checked to be checkable.
pub fn foreign(
    args: &Args,
    dir: &Path,
    tmp: &Path,
    ctx: &Context,
) -> anyhow::Result<(ForeignCheck, Vec<StorePath>)> {
    let database = match &args.guix_db {
        Some(db) => db.clone(),
        None => ForeignStore::default_database(dir).map_err(|tried| {
            let tried: Vec<String> = tried.iter().map(|p| format!("`{}`", p.display())).collect();
            anyhow::anyhow!(
                "no database for the store `{}`: none of {} exists\nhint: give it with --guix-db FILE",
                dir.display(),
                tried.join(" or ")
            )
        })?,
    };
    let foreign = ForeignStore::open(dir, &database, None)
        .with_context(|| format!("cannot open the store `{}`", dir.display()))?;
    if foreign.mode() == ReadOnlyMode::WalIgnored {
        ctx.warn(&format!(
            "`{}-wal` exists without its index, so it is not read (reading it would create \
             files next to the database): the items registered last may count as missing",
            database.display()
        ));
    }
    let store_dir: StoreDir = foreign.store_dir().clone();
    let mut targets = Vec::new();
    for arg in &args.drvs {
        let p = if arg.contains('/') {
            super::parse_item(&store_dir, arg)?
        } else {
            StorePath::from_base_name(arg)
                .with_context(|| format!("`{arg}` is not a store path name"))?
        };
        if !p.is_derivation() {
            anyhow::bail!("`{arg}` is not a derivation (`.drv`) path");
        }
        targets.push(p);
    }
    let check = ForeignCheck::new(foreign, tmp).context("cannot create the scratch store")?;
    check.prepare(&targets)?;
    Ok((check, targets))
}
