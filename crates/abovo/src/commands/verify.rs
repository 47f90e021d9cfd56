//! `abovo verify`: is every `.drv` what it claims to be?

use crate::exit;
use crate::output::{Context, Format, print_json, sanitize};
use crate::report::text::plain_plural;
use crate::source::{LoadProgress, STORE_DIR_HELP, TEXT_JSON, store_dir_or_inferred};
use abovo_graph::input::{Input, MAX_DRV_SIZE, read_regular};
use abovo_graph::load::{DrvFile, SourceKind, detect_input, read_directory_lenient, read_tarball};
use abovo_graph::verify::{Mismatch, Report, Unreadable, verify_files};
use abovo_store::StoreDir;
use abovo_store::derivation::DerivationRef;
use anyhow::Context as _;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Recompute each `.drv` file's store path from its bytes and references,
/// and every output path from its content; print every mismatch with the
/// recomputed and the recorded value.
///
/// Output paths of input-addressed derivations depend on the hashes of all
/// their inputs, so the inputs of each DRV are looked up too: next to the
/// file, then in the store directory. A derivation whose own bytes are
/// intact but whose outputs mismatch because an input was changed is shown
/// as a consequence of that input, not as an error of its own (the JSON
/// lists every mismatch, each consequence with `caused_by`).
///
/// Outputs whose paths are known only after a build (Nix's floating
/// content-addressed and impure outputs, and deferred outputs of the
/// derivations that depend on them) have no recorded path to check: they
/// are counted, and listed in the JSON (`unbuilt`). A file not named
/// `<hash>-<name>.drv` is parsed but reported as unchecked: nothing tells
/// its store path or its name.
///
/// Exit code: 0 when everything matches; 1 when a mismatch was found; 2 on
/// an error: a file that cannot be read or does not parse, or (when nothing
/// mismatched) a derivation that could not be checked.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// `.drv` files to verify.
    #[arg(
        value_name = "DRV",
        required_unless_present = "all",
        conflicts_with = "all"
    )]
    pub drvs: Vec<PathBuf>,
    /// Verify every `.drv` of a directory (a store or an unpacked corpus), a
    /// `.tar.zst` of them, or a corpus folder.
    #[arg(long, value_name = "DIR|TARBALL")]
    pub all: Option<PathBuf>,
    /// The store directory of the paths (see `source::STORE_DIR_HELP`).
    #[arg(long, value_name = "DIR", help = STORE_DIR_HELP)]
    pub store_dir: Option<String>,
    /// Output format.
    #[arg(long, short = 'f', default_value = "text", value_parser = Format::parser(TEXT_JSON))]
    pub format: Format,
}

/// The `.drv` files to verify, with where they came from (to name a file
/// that does not parse by the path a person can open).
struct Files {
    files: Vec<DrvFile>,
    /// Files of a directory that could not be read.
    unreadable: Vec<Unreadable>,
    store: StoreDir,
    origin: Origin,
}

/// Where the `.drv` files were read.
enum Origin {
    /// All from one directory.
    Directory(PathBuf),
    /// All from one tar archive.
    Archive(PathBuf),
    /// Given files and the inputs found for them: base name → path.
    Files(BTreeMap<String, PathBuf>),
}

impl Origin {
    /// Where the `.drv` file of a report line was read: its path on disk,
    /// or its member name and the archive.
    fn file_of(&self, label: &str) -> String {
        let base = label.rsplit('/').next().unwrap_or(label);
        match self {
            Origin::Directory(dir) => dir.join(base).display().to_string(),
            Origin::Archive(tar) => format!("{base} (in `{}`)", tar.display()),
            Origin::Files(paths) => match paths.get(base) {
                Some(p) => p.display().to_string(),
                None => label.to_owned(),
            },
        }
    }
}

/// Runs `abovo verify`.
pub fn run(args: Args, ctx: &Context) -> anyhow::Result<u8> {
    args.format.check("verify", TEXT_JSON)?;
    let reporter = LoadProgress::new(ctx.progress);
    let Files {
        files,
        unreadable,
        store,
        origin,
    } = match &args.all {
        Some(source) => read_all(source, args.store_dir.as_deref(), &reporter)?,
        None => with_inputs(args.store_dir.as_deref(), &args.drvs)?,
    };
    if files.is_empty() && unreadable.is_empty() {
        match &args.all {
            Some(source) => anyhow::bail!("`{}` holds no `.drv` file", source.display()),
            None => anyhow::bail!("no `.drv` file to verify"),
        }
    }
    let mut report = verify_files(&store, files, &reporter);
    reporter.clear();
    reporter.notes(ctx);
    report.files += unreadable.len();
    report.unreadable = unreadable;
    if args.format == Format::Json {
        print_json(&report)?;
    } else {
        print_text(&report, ctx, &origin)?;
    }
    if !report.mismatches.is_empty() {
        return Ok(exit::NEGATIVE);
    }
    let mut problems = Vec::new();
    if !report.unreadable.is_empty() {
        problems.push(format!(
            "{} could not be read",
            plain_plural(report.unreadable.len(), ".drv file", ".drv files"),
        ));
    }
    if !report.unparsable.is_empty() {
        let n = report.unparsable.len();
        problems.push(format!(
            "{} {} not parse",
            plain_plural(n, ".drv file", ".drv files"),
            if n == 1 { "does" } else { "do" }
        ));
    }
    if !report.unchecked.is_empty() {
        let n = report.unchecked.len();
        problems.push(format!(
            "{} could not be checked",
            plain_plural(n, "derivation", "derivations")
        ));
    }
    if !problems.is_empty() {
        anyhow::bail!("{} (see above)", problems.join(" and "));
    }
    Ok(exit::SUCCESS)
}

fn read_all(
    source: &Path,
    store_dir: Option<&str>,
    reporter: &LoadProgress,
) -> anyhow::Result<Files> {
    let input = Input::open(source)?;
    let mut unreadable = Vec::new();
    let (files, origin) = match detect_input(&input)? {
        SourceKind::Directory => {
            let read = read_directory_lenient(source, reporter)?;
            unreadable = read
                .unreadable
                .into_iter()
                .map(|e| Unreadable {
                    file: unreadable_file(&e, source),
                    error: unreadable_reason(&e),
                })
                .collect();
            (read.files, Origin::Directory(source.to_owned()))
        }
        SourceKind::Tarball => (
            abovo_graph::load::read_tarball_input(&input, reporter)?,
            Origin::Archive(source.to_owned()),
        ),
        SourceKind::CorpusFolder { tarball, .. } => {
            (read_tarball(&tarball, reporter)?, Origin::Archive(tarball))
        }
        SourceKind::Snapshot => anyhow::bail!(
            "`{}` is a snapshot, which keeps the graph but not the `.drv` bytes; verify needs the `.drv` files",
            source.display()
        ),
    };
    reporter.clear();
    let store = store_dir_or_inferred(store_dir, abovo_graph::store_dir::from_files(&files))?;
    Ok(Files {
        files,
        unreadable,
        store,
        origin,
    })
}

/// The file an error of [`read_directory_lenient`] is about.
fn unreadable_file(e: &abovo_graph::LoadError, dir: &Path) -> String {
    use abovo_graph::LoadError;
    match e {
        LoadError::Io { path, .. } | LoadError::NotRegular { path, .. } => {
            path.display().to_string()
        }
        LoadError::TooLarge { file, .. } => file.clone(),
        _ => dir.display().to_string(),
    }
}

/// Why a file could not be read, without its name (printed beside it).
fn unreadable_reason(e: &abovo_graph::LoadError) -> String {
    use abovo_graph::LoadError;
    match e {
        LoadError::Io { source, .. } => source.to_string(),
        LoadError::TooLarge { limit, .. } => {
            format!("larger than {limit} bytes, the most a .drv file may hold")
        }
        e => e.to_string(),
    }
}

/// Reads the given files and, transitively, the input derivations they name
/// (looked up next to the file that names them, then in the store
/// directory). A given file that cannot be read or does not parse is an
/// error; inputs found nowhere are left out, and their dependents are then
/// reported as unchecked.
fn with_inputs(store_dir: Option<&str>, drvs: &[PathBuf]) -> anyhow::Result<Files> {
    let mut given = Vec::new();
    for path in drvs {
        if path.is_dir() {
            anyhow::bail!(
                "`{}` is a directory, not a `.drv` file\nhint: use --all {} to verify every .drv in a directory",
                path.display(),
                path.display()
            );
        }
        let bytes = read_regular(path, MAX_DRV_SIZE, "a .drv file")?;
        given.push((path.clone(), bytes));
    }
    let store = store_dir_or_inferred(
        store_dir,
        given
            .iter()
            .find_map(|(_, b)| abovo_graph::store_dir::from_derivation(b)),
    )?;
    let mut found: BTreeMap<String, DrvFile> = BTreeMap::new();
    let mut origin = BTreeMap::new();
    let mut queue: VecDeque<(PathBuf, Option<Vec<u8>>)> =
        given.into_iter().map(|(p, b)| (p, Some(b))).collect();
    while let Some((path, bytes)) = queue.pop_front() {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .with_context(|| format!("`{}` has no usable file name", path.display()))?
            .to_owned();
        if found.contains_key(&name) {
            continue;
        }
        let is_given = bytes.is_some();
        let bytes = match bytes {
            Some(b) => b,
            None => match read_regular(&path, MAX_DRV_SIZE, "a .drv file") {
                Ok(b) => b,
                Err(_) => continue,
            },
        };
        match DerivationRef::parse(&store, &bytes) {
            Ok(drv) => {
                let dir = path.parent().unwrap_or(Path::new("."));
                for input in drv.input_derivations() {
                    let base = input.path.base_name();
                    if found.contains_key(base) {
                        continue;
                    }
                    let beside = dir.join(base);
                    let in_store = Path::new(store.as_str()).join(base);
                    if beside.is_file() {
                        queue.push_back((beside, None));
                    } else if in_store.is_file() {
                        queue.push_back((in_store, None));
                    }
                }
            }
            Err(e) if is_given => {
                let hint = if store_dir.is_none() {
                    String::new()
                } else {
                    format!("\nhint: its paths were read as in the store `{store}` (--store-dir)")
                };
                anyhow::bail!("`{}` is not a valid derivation: {e}{hint}", path.display());
            }
            // An input that does not parse is reported with the others.
            Err(_) => {}
        }
        origin.insert(name.clone(), path.clone());
        found.insert(name.clone(), DrvFile { name, bytes });
    }
    Ok(Files {
        files: found.into_values().collect(),
        unreadable: Vec::new(),
        store,
        origin: Origin::Files(origin),
    })
}

/// How many consequences the text lists under their root cause before
/// pointing at the JSON.
const LISTED: usize = 5;

fn print_text(r: &Report, ctx: &Context, origin: &Origin) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    // Derivations that mismatch only because of each root cause, with
    // their number of mismatches.
    let mut consequences: BTreeMap<&str, BTreeMap<&str, usize>> = BTreeMap::new();
    for m in &r.mismatches {
        for root in &m.caused_by {
            *consequences
                .entry(root.as_str())
                .or_default()
                .entry(m.drv.as_str())
                .or_default() += 1;
        }
    }
    let roots: Vec<&Mismatch> = r.mismatches.iter().filter(|m| m.is_root()).collect();
    for (k, m) in roots.iter().enumerate() {
        writeln!(
            out,
            "{} {}: {}",
            ctx.style("1;31", "MISMATCH"),
            sanitize(&m.drv),
            sanitize(&m.what)
        )?;
        writeln!(out, "  recomputed: {}", sanitize(&m.recomputed))?;
        writeln!(out, "  recorded:   {}", sanitize(&m.recorded))?;
        let last_of_drv = roots.get(k + 1).is_none_or(|n| n.drv != m.drv);
        if let (true, Some(deps)) = (last_of_drv, consequences.get(m.drv.as_str())) {
            let n = deps.len();
            writeln!(
                out,
                "  {} {}",
                plain_plural(n, "further derivation", "further derivations"),
                if n == 1 {
                    "mismatches only because it depends on it (its own bytes are intact):"
                } else {
                    "mismatch only because they depend on it (their own bytes are intact):"
                },
            )?;
            for (drv, count) in deps.iter().take(LISTED) {
                writeln!(
                    out,
                    "    {} ({})",
                    sanitize(drv),
                    plain_plural(*count, "mismatch", "mismatches")
                )?;
            }
            if n > LISTED {
                writeln!(
                    out,
                    "    … and {} more (--format json lists them all)",
                    n - LISTED
                )?;
            }
        }
    }
    for u in &r.unreadable {
        writeln!(
            out,
            "{} {}: cannot be read: {}",
            ctx.style("1;31", "UNREADABLE"),
            sanitize(&u.file),
            sanitize(&u.error)
        )?;
    }
    for u in &r.unparsable {
        writeln!(
            out,
            "{} {}: does not parse: {}",
            ctx.style("1;31", "UNPARSABLE"),
            sanitize(&origin.file_of(&u.drv)),
            sanitize(&u.error)
        )?;
    }
    print_unchecked(&mut out, r, ctx)?;
    for u in &r.unbuilt {
        for (output, path) in &u.computable {
            writeln!(
                out,
                "{} {}: output {output:?} records no path, but its path is computable: {} \
                 (Nix warns that it should have been filled in)",
                ctx.style("1;33", "DEFERRED"),
                sanitize(&u.drv),
                sanitize(path)
            )?;
        }
    }
    let unbuilt = r.floating_outputs + r.impure_outputs + r.deferred_outputs;
    let unbuilt = if unbuilt == 0 {
        String::new()
    } else {
        let kinds: Vec<String> = [
            (r.floating_outputs, "floating content-addressed"),
            (r.impure_outputs, "impure"),
            (r.deferred_outputs, "deferred"),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, k)| format!("{n} {k}"))
        .collect();
        format!(
            " and {} known only after a build ({})",
            plain_plural(unbuilt, "output", "outputs"),
            kinds.join(", ")
        )
    };
    writeln!(
        out,
        "checked {}: {} parsed and re-serialised, {}, {} ({} fixed, {} input-addressed){unbuilt} in {}: {}",
        plain_plural(r.files, ".drv file", ".drv files"),
        r.parsed,
        plain_plural(r.drv_paths, ".drv path", ".drv paths"),
        plain_plural(r.outputs, "output path", "output paths"),
        r.fixed_outputs,
        r.outputs - r.fixed_outputs,
        plain_plural(r.waves, "wave", "waves"),
        if r.is_clean() {
            ctx.style("1;32", "all match")
        } else {
            ctx.style("1;31", &summary(r, &roots))
        }
    )?;
    out.flush()?;
    Ok(())
}

/// The derivations that could not be checked: those whose reason is their
/// own one by one, those blocked by the same input upstream as one group.
fn print_unchecked(out: &mut impl Write, r: &Report, ctx: &Context) -> anyhow::Result<()> {
    let mut groups: BTreeMap<&str, Vec<&abovo_graph::verify::Unchecked>> = BTreeMap::new();
    let label = ctx.style("1;33", "UNCHECKED");
    for u in &r.unchecked {
        match &u.caused_by {
            Some(root) => groups.entry(root.as_str()).or_default().push(u),
            None => writeln!(out, "{label} {}: {}", sanitize(&u.drv), sanitize(&u.reason))?,
        }
    }
    for (root, members) in groups {
        if let [only] = members.as_slice() {
            writeln!(
                out,
                "{label} {}: {}",
                sanitize(&only.drv),
                sanitize(&only.reason)
            )?;
            continue;
        }
        let why = if r.unparsable.iter().any(|p| p.drv == root) {
            "does not parse"
        } else if r.unchecked.iter().any(|p| p.drv == root) {
            "could not be checked"
        } else {
            "is not among the derivations"
        };
        writeln!(
            out,
            "{label} {} depend on `{}`, which {why}:",
            plain_plural(members.len(), "derivation", "derivations"),
            sanitize(root)
        )?;
        for u in members.iter().take(LISTED) {
            writeln!(out, "    {}", sanitize(&u.drv))?;
        }
        if members.len() > LISTED {
            writeln!(
                out,
                "    … and {} more (--format json lists them all)",
                members.len() - LISTED
            )?;
        }
    }
    Ok(())
}

/// `2 mismatches in 1 derivation, and 4 more in 2 derivations that depend
/// on it; 1 .drv file does not parse; 2 unchecked`.
fn summary(r: &Report, roots: &[&Mismatch]) -> String {
    let drvs = |ms: &mut dyn Iterator<Item = &Mismatch>| {
        ms.map(|m| m.drv.as_str()).collect::<BTreeSet<_>>().len()
    };
    let root_drvs = drvs(&mut roots.iter().copied());
    let further = r.mismatches.len() - roots.len();
    let further_drvs = drvs(&mut r.mismatches.iter().filter(|m| !m.is_root()));
    let mut parts = Vec::new();
    if r.mismatches.is_empty() {
        parts.push("no mismatch".to_owned());
    } else {
        let mut s = format!(
            "{} in {}",
            plain_plural(roots.len(), "mismatch", "mismatches"),
            plain_plural(root_drvs, "derivation", "derivations")
        );
        if further > 0 {
            s.push_str(&format!(
                ", and {further} more in {} that {} on {}",
                plain_plural(further_drvs, "derivation", "derivations"),
                if further_drvs == 1 {
                    "depends"
                } else {
                    "depend"
                },
                if root_drvs == 1 { "it" } else { "them" }
            ));
        }
        parts.push(s);
    }
    if !r.unreadable.is_empty() {
        parts.push(format!(
            "{} cannot be read",
            plain_plural(r.unreadable.len(), ".drv file", ".drv files")
        ));
    }
    if !r.unparsable.is_empty() {
        let n = r.unparsable.len();
        parts.push(format!(
            "{} {} not parse",
            plain_plural(n, ".drv file", ".drv files"),
            if n == 1 { "does" } else { "do" }
        ));
    }
    if !r.unchecked.is_empty() {
        parts.push(format!("{} unchecked", r.unchecked.len()));
    }
    parts.join("; ")
}
