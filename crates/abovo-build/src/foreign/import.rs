//! Importing derivations as other daemons wrote them: a `.drv` and its
//! derivation closure (its input `.drv` files, recursively), with the input
//! sources it needs, from one or more [`Place`]s (searched in order) into
//! abovo's store.
//!
//! Nothing is taken on trust. [`Importer::plan`] reads the closure and
//! checks every `.drv` that is not valid in the store yet:
//!
//! * its file name is a store path name ending in `.drv`, and its bytes
//!   parse as a derivation of *this* store's directory (a `.drv` naming
//!   `/gnu/store` holds only in a store whose directory is `/gnu/store`);
//! * it follows the rules every derivation must
//!   ([`crate::store::add::check_derivation`]);
//! * its path **recomputes from its bytes** and its references (its input
//!   derivations and sources), as `add-text-to-store` makes it;
//! * its **output paths recompute** from its content with Guix's hash
//!   modulo, through the hashes of its inputs, and each output it asks of
//!   an input exists;
//! * its input derivations form no cycle;
//! * every input source is valid in the store already or is in a place.
//!
//! Every problem found is reported, each naming its `.drv` (and for a
//! missing input or source, which derivations need it), and **nothing is
//! written** unless there is none. [`ImportPlan::apply`] then copies the
//! sources out of the places into fresh inodes, canonicalises them, and
//! checks that each one's path follows from its content, as `add-to-store`
//! (recursive or flat) or `add-text-to-store` (with the references found
//! in it) makes it; it writes the `.drv` files byte for byte, moves
//! everything into place under the items' locks, and registers it all in
//! **one transaction**: an import is complete or absent.

mod apply;

use super::place::{Place, PlaceError};
use crate::store::add::{Hashed, check_derivation};
use crate::store::{LocalStore, StoreError};
use abovo_store::derivation::{Derivation, DerivationError};
use abovo_store::{StoreDir, StorePath};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

/// Why an import did not happen.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The place could not be read.
    #[error(transparent)]
    Place(#[from] PlaceError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// What was read does not hold; nothing was written.
    #[error("cannot import from {place}: {}", Problems(.problems))]
    Refused {
        /// The places, as [`Place::describe`] says them.
        place: String,
        /// Every problem found.
        problems: Vec<Problem>,
    },
}

/// One reason an import is refused.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Problem {
    /// A `.drv` the closure needs is neither in the store nor in a place.
    MissingDerivation {
        /// Its path.
        path: String,
        /// The derivations that need it (none for a target).
        needed_by: Vec<String>,
    },
    /// An input source that is neither in the store nor in a place.
    MissingSource {
        /// Its path.
        path: String,
        /// The derivations that need it.
        needed_by: Vec<String>,
    },
    /// A file that is not a derivation, or not one of this store.
    Unreadable {
        /// The `.drv` path (or file).
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A derivation whose recorded path or outputs are not what its content
    /// gives, or that breaks a rule.
    Invalid {
        /// The `.drv` path.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// Input derivations that depend on each other in a circle.
    Cycle {
        /// The derivations of the cycle, the first repeated at the end.
        cycle: Vec<String>,
    },
    /// A source whose path does not follow from its content.
    BadSource {
        /// Its path.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let needed = |by: &[String]| match by {
            [] => String::new(),
            [one] => format!(" (needed by `{one}`)"),
            [one, rest @ ..] => format!(" (needed by `{one}` and {} more)", rest.len()),
        };
        match self {
            Problem::MissingDerivation { path, needed_by } => {
                write!(f, "derivation `{path}` is missing{}", needed(needed_by))
            }
            Problem::MissingSource { path, needed_by } => {
                write!(f, "input source `{path}` is missing{}", needed(needed_by))
            }
            Problem::Unreadable { path, reason } => write!(f, "`{path}`: {reason}"),
            Problem::Invalid { path, reason } => write!(f, "derivation `{path}`: {reason}"),
            Problem::Cycle { cycle } => write!(
                f,
                "input derivations form a cycle: {}",
                cycle
                    .iter()
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(" → ")
            ),
            Problem::BadSource { path, reason } => write!(f, "input source `{path}`: {reason}"),
        }
    }
}

/// The problems of a refused import, one per line (at most 20, then a
/// count), with a hint when sources are missing.
struct Problems<'a>(&'a [Problem]);

impl fmt::Display for Problems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 20;
        match self.0 {
            [one] => write!(f, "{one}")?,
            all => {
                write!(f, "{} problems", all.len())?;
                for p in all.iter().take(SHOWN) {
                    write!(f, "\n  {p}")?;
                }
                if all.len() > SHOWN {
                    write!(f, "\n  … and {} more", all.len() - SHOWN)?;
                }
            }
        }
        let other_store = self.0.iter().find_map(|p| match p {
            Problem::Unreadable { reason, .. } => reason
                .strip_prefix("it names the store directory `")
                .and_then(|r| r.split_once('`'))
                .map(|(dir, _)| dir),
            _ => None,
        });
        if let Some(dir) = other_store {
            write!(
                f,
                "\nhint: a derivation holds only in a store whose directory is the one it \
                 names; without privileges, `--store {dir} --real-store-dir DIR` makes one \
                 that keeps its items in DIR"
            )?;
        }
        if self
            .0
            .iter()
            .any(|p| matches!(p, Problem::MissingSource { .. }))
        {
            write!(
                f,
                "\nhint: add missing sources with `abovo add`, or import from a store directory \
                 that holds them (`--from /gnu/store`)"
            )?;
        }
        Ok(())
    }
}

/// A derivation to import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The `.drv` of this base name (`<hash>-<name>.drv`) in a place.
    Named(String),
    /// A `.drv` file whose name is not its store path name (`hello.drv`):
    /// its path is computed from its bytes under the derivation name
    /// `name`; its inputs come from the store or the places.
    Loose {
        /// The file, for messages.
        file: PathBuf,
        /// Its bytes.
        bytes: Vec<u8>,
        /// The derivation name (without `.drv`).
        name: String,
    },
}

/// Reads and checks a closure (see the module docs).
pub struct Importer<'a> {
    places: &'a [Place],
    store_dir: &'a StoreDir,
    store: Option<&'a LocalStore>,
}

/// A checked closure, ready to be written.
#[derive(Debug)]
pub struct ImportPlan {
    /// The targets' `.drv` paths, in the order given.
    pub targets: Vec<StorePath>,
    /// The derivations to add, inputs first, with their bytes.
    derivations: Vec<(StorePath, Vec<u8>, Derivation)>,
    /// The sources to copy, each with the index of the place it is in.
    sources: BTreeMap<StorePath, usize>,
    /// The paths a text source may refer to: every item of the closure.
    candidates: BTreeSet<StorePath>,
}

/// What [`ImportPlan::apply`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportReport {
    /// `.drv` files added.
    pub derivations: usize,
    /// Sources added.
    pub sources: usize,
}

/// What the plan knows about one `.drv` it read.
struct Node {
    drv: Derivation,
    bytes: Vec<u8>,
    /// A problem of its own was reported: its outputs are not checked.
    bad: bool,
    /// Its input derivations that were read too (not valid in the store).
    read_inputs: Vec<StorePath>,
}

impl<'a> Importer<'a> {
    /// An importer from `places` (searched in order) into a store whose
    /// directory is `store_dir`; `store` is that store when it exists (its
    /// valid items are not read again).
    pub fn new(
        places: &'a [Place],
        store_dir: &'a StoreDir,
        store: Option<&'a LocalStore>,
    ) -> Importer<'a> {
        Importer {
            places,
            store_dir,
            store,
        }
    }

    /// The bytes of `.drv` file `base` from the first place that has it.
    fn derivation(&self, base: &str) -> Result<Option<Vec<u8>>, PlaceError> {
        for place in self.places {
            if let Some(bytes) = place.derivation(base)? {
                return Ok(Some(bytes));
            }
        }
        Ok(None)
    }

    fn is_valid(&self, path: &StorePath) -> Result<bool, ImportError> {
        match self.store {
            Some(s) => Ok(s.is_valid(path)?),
            None => Ok(false),
        }
    }

    fn shown(&self, path: &StorePath) -> String {
        self.store_dir.display(path)
    }

    /// Reads the closure of `targets` and checks it; an
    /// [`ImportError::Refused`] lists every problem.
    pub fn plan(&self, targets: &[Target]) -> Result<ImportPlan, ImportError> {
        let mut problems = Vec::new();
        let mut nodes: HashMap<StorePath, Node> = HashMap::new();
        let mut missing_drvs: BTreeMap<StorePath, BTreeSet<String>> = BTreeMap::new();
        let mut missing_sources: BTreeMap<StorePath, BTreeSet<String>> = BTreeMap::new();
        let mut sources = BTreeMap::new();
        let mut candidates = BTreeSet::new();
        let mut seen: HashSet<StorePath> = HashSet::new();
        let mut target_paths = Vec::new();
        // (path, bytes if already read, who needs it)
        let mut todo: Vec<(StorePath, Option<Vec<u8>>, Option<StorePath>)> = Vec::new();
        for t in targets.iter().rev() {
            match t {
                Target::Named(base) => match StorePath::from_base_name(base) {
                    Ok(p) if p.is_derivation() => {
                        target_paths.push(p.clone());
                        todo.push((p, None, None));
                    }
                    _ => problems.push(Problem::Unreadable {
                        path: base.clone(),
                        reason: "not the name of a `.drv` store path (`<hash>-<name>.drv`)".into(),
                    }),
                },
                Target::Loose { file, bytes, name } => match self.loose_path(file, bytes, name) {
                    Ok(p) => {
                        target_paths.push(p.clone());
                        todo.push((p, Some(bytes.clone()), None));
                    }
                    Err(p) => problems.push(p),
                },
            }
        }
        target_paths.reverse();
        while let Some((path, bytes, needed_by)) = todo.pop() {
            if !seen.insert(path.clone()) {
                if let (Some(set), Some(by)) = (missing_drvs.get_mut(&path), &needed_by) {
                    set.insert(self.shown(by));
                }
                continue;
            }
            candidates.insert(path.clone());
            if self.is_valid(&path)? {
                continue;
            }
            let bytes = match bytes {
                Some(b) => b,
                None => match self.derivation(&path.base_name())? {
                    Some(b) => b,
                    None => {
                        missing_drvs
                            .entry(path)
                            .or_default()
                            .extend(needed_by.map(|b| self.shown(&b)));
                        continue;
                    }
                },
            };
            let shown = self.shown(&path);
            let (drv, bad) = match self.read(&path, &bytes) {
                Ok((d, problem)) => {
                    let bad = problem.is_some();
                    problems.extend(problem);
                    (d, bad)
                }
                Err(p) => {
                    problems.push(p);
                    continue;
                }
            };
            for src in &drv.input_sources {
                candidates.insert(src.clone());
                if self.is_valid(src)? {
                    continue;
                }
                let base = src.base_name();
                if let Some(i) = self.places.iter().position(|p| p.has_item(&base)) {
                    sources.insert(src.clone(), i);
                } else {
                    missing_sources
                        .entry(src.clone())
                        .or_default()
                        .insert(shown.clone());
                }
            }
            let mut read_inputs = Vec::new();
            for input in drv.input_derivations.keys().rev() {
                if !self.is_valid(input)? {
                    read_inputs.push(input.clone());
                }
                todo.push((input.clone(), None, Some(path.clone())));
            }
            nodes.insert(
                path,
                Node {
                    drv,
                    bytes,
                    bad,
                    read_inputs,
                },
            );
        }
        for (path, needed_by) in missing_drvs {
            problems.push(Problem::MissingDerivation {
                path: self.shown(&path),
                needed_by: needed_by.into_iter().collect(),
            });
        }
        for (path, needed_by) in missing_sources {
            problems.push(Problem::MissingSource {
                path: self.shown(&path),
                needed_by: needed_by.into_iter().collect(),
            });
        }
        let order = match topological(&nodes) {
            Ok(order) => order,
            Err(cycle) => {
                problems.push(Problem::Cycle {
                    cycle: cycle.iter().map(|p| self.shown(p)).collect(),
                });
                Vec::new()
            }
        };
        // Output paths, inputs first, each through its inputs' hashes.
        let mut hashes: HashMap<StorePath, Hashed> = HashMap::new();
        let mut broken: BTreeSet<StorePath> = BTreeSet::new();
        for path in &order {
            let node = &nodes[path];
            if node.bad
                || node
                    .read_inputs
                    .iter()
                    .any(|i| broken.contains(i) || !nodes.contains_key(i))
            {
                // Its own or its input's problem is reported; its outputs
                // cannot be checked.
                broken.insert(path.clone());
                continue;
            }
            match self.check_outputs(path, &node.drv, &nodes, &mut hashes) {
                Ok(()) => {}
                Err(p) => {
                    problems.push(p);
                    broken.insert(path.clone());
                }
            }
        }
        if !problems.is_empty() {
            return Err(ImportError::Refused {
                place: describe(self.places),
                problems,
            });
        }
        let derivations = order
            .into_iter()
            .filter_map(|p| nodes.remove(&p).map(|node| (p, node.bytes, node.drv)))
            .collect();
        Ok(ImportPlan {
            targets: target_paths,
            derivations,
            sources,
            candidates,
        })
    }

    /// The path of a loose `.drv` file, computed from its bytes.
    fn loose_path(&self, file: &Path, bytes: &[u8], name: &str) -> Result<StorePath, Problem> {
        let shown = file.display().to_string();
        let drv = Derivation::parse(self.store_dir, bytes).map_err(|e| Problem::Unreadable {
            path: shown.clone(),
            reason: not_a_derivation(self.store_dir, bytes, &e.to_string()),
        })?;
        self.store_dir
            .make_text_path(&format!("{name}.drv"), bytes, drv.references())
            .map_err(|e| Problem::Invalid {
                path: shown,
                reason: format!("`{name}.drv` is not a valid store name: {e}"),
            })
    }

    /// Parses one `.drv` of the place and checks what needs nothing else:
    /// the rules and its own path. A derivation that parses is returned
    /// with what is wrong with it, so that its inputs are still read (and
    /// their problems, a cycle among them, reported too).
    fn read(
        &self,
        path: &StorePath,
        bytes: &[u8],
    ) -> Result<(Derivation, Option<Problem>), Problem> {
        let shown = self.shown(path);
        let drv = Derivation::parse(self.store_dir, bytes).map_err(|e| Problem::Unreadable {
            path: shown.clone(),
            reason: not_a_derivation(self.store_dir, bytes, &e.to_string()),
        })?;
        let invalid = |reason: String| Problem::Invalid {
            path: shown.clone(),
            reason,
        };
        let name = path.derivation_name().unwrap_or(path.name());
        if let Err(r) = check_derivation(&drv, name) {
            let problem = invalid(format!("not a valid derivation: {r}"));
            return Ok((drv, Some(problem)));
        }
        let problem = match self
            .store_dir
            .make_text_path(path.name(), bytes, drv.references())
        {
            Err(e) => Some(invalid(e.to_string())),
            Ok(computed) if &computed != path => Some(invalid(format!(
                "its name does not match its content: its bytes and references give `{}`",
                self.shown(&computed)
            ))),
            Ok(_) => None,
        };
        Ok((drv, problem))
    }

    /// Checks that the outputs `drv` records are those its content gives,
    /// and that the outputs it asks of its inputs exist; records its hash.
    fn check_outputs(
        &self,
        path: &StorePath,
        drv: &Derivation,
        nodes: &HashMap<StorePath, Node>,
        hashes: &mut HashMap<StorePath, Hashed>,
    ) -> Result<(), Problem> {
        let shown = self.shown(path);
        let invalid = |reason: String| Problem::Invalid {
            path: shown.clone(),
            reason,
        };
        for (input, wanted) in &drv.input_derivations {
            let outputs: BTreeSet<String> = match nodes.get(input) {
                Some(n) => n.drv.outputs.keys().cloned().collect(),
                None => self
                    .read_valid(input)
                    .map_err(|e| invalid(e.to_string()))?
                    .outputs
                    .into_keys()
                    .collect(),
            };
            if let Some(o) = wanted.iter().find(|o| !outputs.contains(*o)) {
                return Err(invalid(format!(
                    "its input `{}` has no output `{o}`",
                    self.shown(input)
                )));
            }
        }
        let name = path.derivation_name().unwrap_or(path.name());
        // The borrowed form splices both hashes out of the bytes in one
        // pass (the owned form's reference texts otherwise).
        let bytes = &nodes.get(path).map_or(&[][..], |n| &n.bytes[..]);
        let borrowed = abovo_store::derivation::DerivationRef::parse(self.store_dir, bytes)
            .map_err(|e| invalid(e.to_string()))?;
        let both = borrowed
            .hashes(self.store_dir, |p| {
                self.hash_of(&p.to_store_path(), nodes, hashes)
            })
            .map_err(|e| invalid(e.to_string()))?;
        let mismatches = borrowed
            .check_output_paths_with(self.store_dir, name, &both)
            .map_err(|e| invalid(e.to_string()))?;
        if let Some(m) = mismatches.first() {
            return Err(invalid(format!(
                "{} is `{}`, but its content gives `{}`",
                m.what, m.actual, m.expected
            )));
        }
        // A floating or deferred derivation has no hash: its users are
        // deferred in turn.
        hashes.insert(path.clone(), both.modulo);
        Ok(())
    }

    /// The derivation hash of an input: one of the plan (already hashed,
    /// inputs come first) or one valid in the store.
    fn hash_of(
        &self,
        path: &StorePath,
        nodes: &HashMap<StorePath, Node>,
        hashes: &mut HashMap<StorePath, Hashed>,
    ) -> Result<[u8; 32], DerivationError> {
        if let Some(h) = hashes.get(path) {
            return h.clone().map_err(DerivationError::Deferred);
        }
        let fail = |reason: String| DerivationError::Input {
            path: self.shown(path),
            reason,
        };
        if nodes.contains_key(path) {
            return Err(fail("its own hash could not be computed".into()));
        }
        // Not in the plan, so valid in the store, whose inputs are too: the
        // store hashes it, sharing the memo.
        match self.store {
            Some(s) => s.input_hash(path, hashes),
            None => Err(fail(StoreError::NotValid(self.shown(path)).to_string())),
        }
    }

    fn read_valid(&self, path: &StorePath) -> Result<Derivation, StoreError> {
        match self.store {
            Some(s) => s.read_derivation(path),
            None => Err(StoreError::NotValid(self.shown(path))),
        }
    }
}

/// The places as a list for messages (``the directory `…` and the
/// tarball `…` ``).
pub fn describe(places: &[Place]) -> String {
    let all: Vec<String> = places.iter().map(Place::describe).collect();
    all.join(" and ")
}

/// Why bytes are not a derivation of `store`: the parser's message, or,
/// when the derivation names another store directory, which one.
fn not_a_derivation(store: &StoreDir, bytes: &[u8], parse_error: &str) -> String {
    match named_store_dir(bytes) {
        Some(theirs) if theirs != store.as_str() => {
            format!("it names the store directory `{theirs}`, but this store's is `{store}`")
        }
        _ => format!("not a derivation: {parse_error}"),
    }
}

/// The store directory of a derivation's first output path: the text
/// between `Derive([("out","` and the last `/` of that path.
pub fn named_store_dir(bytes: &[u8]) -> Option<String> {
    let rest = bytes.strip_prefix(b"Derive([(\"")?;
    let start = rest.windows(3).position(|w| w == b"\",\"")? + 3;
    let rest = &rest[start..];
    let path = &rest[..rest.iter().position(|b| *b == b'"')?];
    let dir = &path[..path.iter().rposition(|b| *b == b'/')?];
    let dir = std::str::from_utf8(dir).ok()?;
    (!dir.is_empty()).then(|| dir.to_owned())
}

/// The nodes in dependency order (inputs first), or a cycle.
fn topological(nodes: &HashMap<StorePath, Node>) -> Result<Vec<StorePath>, Vec<StorePath>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Active,
        Done,
    }
    let mut marks: HashMap<&StorePath, Mark> = HashMap::new();
    let mut order = Vec::with_capacity(nodes.len());
    // Sorted, so that the order (and the cycle reported) does not depend
    // on hashing.
    let mut roots: Vec<&StorePath> = nodes.keys().collect();
    roots.sort_unstable();
    for root in roots {
        if marks.contains_key(root) {
            continue;
        }
        // An explicit stack: a chain of inputs may be deeper than the
        // thread's stack would allow to recurse.
        let mut stack: Vec<(&StorePath, usize)> = vec![(root, 0)];
        marks.insert(root, Mark::Active);
        while let Some((path, next)) = stack.pop() {
            let inputs = &nodes[path].read_inputs;
            if let Some(input) = inputs.get(next) {
                stack.push((path, next + 1));
                if !nodes.contains_key(input) {
                    continue;
                }
                match marks.get(input) {
                    Some(Mark::Done) => {}
                    Some(Mark::Active) => {
                        let start = stack.iter().position(|(p, _)| *p == input).unwrap_or(0);
                        let mut cycle: Vec<StorePath> =
                            stack[start..].iter().map(|(p, _)| (*p).clone()).collect();
                        cycle.push(input.clone());
                        return Err(cycle);
                    }
                    None => {
                        marks.insert(input, Mark::Active);
                        stack.push((input, 0));
                    }
                }
            } else {
                marks.insert(path, Mark::Done);
                order.push(path.clone());
            }
        }
    }
    Ok(order)
}

#[cfg(test)]
mod tests;
