//! Verification: is every `.drv` what it claims to be?
//!
//! For a set of `.drv` files, [`verify_files`] checks that
//! 1. each file parses and re-serialises to exactly its bytes;
//! 2. its store path, recomputed from its bytes and its references (input
//!    derivations and sources), is its file name;
//! 3. every output path, and the environment variable named after each
//!    output, is the one recomputed from the derivation: fixed outputs from
//!    their hash, input-addressed ones from the derivation hash "modulo"
//!    fixed-output inputs. Outputs whose paths are known only after a
//!    build (Nix's floating content-addressed and impure outputs, and the
//!    deferred outputs of derivations that depend on those) have nothing
//!    to compare: they are counted and listed ([`Report::unbuilt`]), with
//!    the path a deferred output would have when it is computable (Nix
//!    warns about those), and an input-addressed output that should be
//!    deferred is a mismatch (Nix refuses it).
//!
//! A file not named `<hash>-<name>.drv` has no store path to check and no
//! name for its outputs: it is parsed and its bytes compared, and it is
//! reported as unchecked.
//!
//! The derivation hash of an input-addressed derivation needs the hashes of
//! all its inputs, so hashes are computed once per derivation, memoised, in
//! waves: a wave holds the derivations whose inputs are all hashed, and is
//! processed in parallel. Fixed-output derivations hash without their
//! inputs, so they all go in the first wave, which keeps the waves few.
//!
//! A mismatch has a root cause: a `.drv` whose own content was changed
//! (its store path no longer matches its bytes) changes its derivation
//! hash, and with it the output paths of every derivation built on it,
//! whose own bytes are intact. Those are reported as consequences
//! ([`Mismatch::caused_by`] names the nearest changed derivations
//! upstream), so that one edited file reads as one error with N
//! consequences, not as N + 1 independent errors. Likewise a derivation
//! that cannot be checked because an input does not parse or is missing
//! names that input ([`Unchecked::caused_by`]).
//!
//! Every format rule comes from `abovo-store`: files are read with the
//! zero-copy [`DerivationRef`], whose canonical flag answers check 1
//! without writing the text back, and whose hashes are spliced from the
//! canonical bytes ([`DerivationRef::hashes`]).

use crate::load::{DrvFile, Reporter};
use abovo_store::derivation::{
    Deferral, DerivationError, DerivationKind, DerivationRef, OutputKind, StorePathRef,
};
use abovo_store::store_path::{StoreDir, StorePath};
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;

mod report;

pub use report::{MAX_CAUSES, Mismatch, Report, Unbuilt, Unchecked, Unparsable, Unreadable};

/// What the first pass keeps of one file.
struct Parsed {
    label: String,
    path: Option<StorePath>,
    state: State,
    mismatches: Vec<Mismatch>,
}

enum State {
    /// The file does not parse (the parser's error), or its state was
    /// taken.
    Broken(Option<String>),
    /// A fixed-output derivation, already hashed and checked (its hash
    /// needs no input): its hash, or why it could not be computed.
    Done { result: Result<WaveResult, String> },
    /// An input-addressed derivation, waiting for its inputs' hashes. Its
    /// bytes are kept rather than the parsed form (several times larger),
    /// and parsed again when its turn comes: zeroing fresh memory costs
    /// more than parsing twice.
    Waiting {
        bytes: Vec<u8>,
        inputs: Vec<StorePath>,
    },
}

/// Shows up to 40 bytes around `at` for a message.
fn excerpt(bytes: &[u8], at: usize) -> String {
    let start = at.saturating_sub(20);
    let end = (at + 20).min(bytes.len());
    format!(
        "byte {at}: …{}…",
        String::from_utf8_lossy(&bytes[start.min(end)..end])
    )
}

fn check_file(store: &StoreDir, file: DrvFile) -> Parsed {
    let path = crate::load::file_store_path(&file.name).ok();
    let label = match &path {
        Some(p) => store.display(p),
        None => file.name.clone(),
    };
    let mut mismatches = Vec::new();
    let mismatch = |what: &str, recomputed: String, recorded: String| Mismatch {
        drv: label.clone(),
        what: what.to_owned(),
        recomputed,
        recorded,
        caused_by: Vec::new(),
    };
    let drv = match DerivationRef::parse(store, &file.bytes) {
        Ok(d) => d,
        Err(e) => {
            return Parsed {
                label,
                path,
                state: State::Broken(Some(e.to_string())),
                mismatches,
            };
        }
    };
    // The reader knows whether writing the derivation back gives its bytes;
    // only when it does not is the text written, to show where it differs.
    if !drv.is_canonical() {
        let written = drv.to_derivation().to_aterm(store);
        let at = written
            .iter()
            .zip(&file.bytes)
            .position(|(a, b)| a != b)
            .unwrap_or(written.len().min(file.bytes.len()));
        mismatches.push(mismatch(
            "bytes",
            excerpt(&written, at),
            excerpt(&file.bytes, at),
        ));
    }
    match &path {
        // Not a mismatch: nothing records a path to compare with.
        None => {}
        Some(p) => {
            let name = p.derivation_name().unwrap_or(p.name());
            match drv.drv_path(store, name) {
                Ok(want) if &want == p => {}
                Ok(want) => mismatches.push(mismatch(
                    "store path",
                    store.display(&want),
                    store.display(p),
                )),
                Err(e) => mismatches.push(mismatch(
                    "store path",
                    "a computable path".into(),
                    e.to_string(),
                )),
            }
        }
    }
    // Derivations whose checks need no input hash are done at once.
    let alone = matches!(
        drv.kind(),
        Ok(DerivationKind::Fixed | DerivationKind::Floating | DerivationKind::Impure)
    ) || drv
        .input_derivations()
        .iter()
        .any(|i| !i.dynamic.is_empty());
    let state = if path.is_none() {
        State::Done {
            result: Err(format!(
                "its file name `{}` is not `<hash>-<name>.drv`, so its store path and its name, \
                 which its output paths need, are unknown",
                file.name
            )),
        }
    } else if alone {
        State::Done {
            result: hash_and_check(store, &label, path.as_ref(), &drv, &|_| None),
        }
    } else {
        let inputs = drv
            .input_derivations()
            .iter()
            .map(|i| i.path.to_store_path())
            .collect();
        drop(drv);
        State::Waiting {
            inputs,
            bytes: file.bytes,
        }
    };
    Parsed {
        label,
        path,
        state,
        mismatches,
    }
}

/// Verifies `files` (see the [module docs](self)). Input derivations that
/// are not among `files` make their dependents [`Unchecked`]. Each file's
/// bytes are dropped once parsed and checked.
pub fn verify_files(store: &StoreDir, files: Vec<DrvFile>, reporter: &dyn Reporter) -> Report {
    let count = files.len();
    reporter.begin("parsing", Some(count as u64));
    let parsed: Vec<Parsed> = files
        .into_par_iter()
        .map(|f| {
            let p = check_file(store, f);
            reporter.advance(1);
            p
        })
        .collect();
    reporter.end();
    let mut report = Report {
        files: count,
        parsed: parsed
            .iter()
            .filter(|p| !matches!(p.state, State::Broken(_)))
            .count(),
        ..Report::default()
    };
    report.round_trips = report.parsed;
    report.drv_paths = parsed
        .iter()
        .filter(|p| !matches!(p.state, State::Broken(_)) && p.path.is_some())
        .count();

    let mut parsed = parsed;
    let n = parsed.len();
    let mut hashes: Vec<Option<Result<[u8; 32], Deferral>>> = vec![None; n];
    let mut waiting = vec![0u32; n];
    let mut users: Vec<Vec<u32>> = vec![Vec::new(); n];
    let mut blocked: Vec<Option<NoHash>> = vec![None; n];
    // The nearest changed derivations upstream of each derivation (indices
    // into `parsed`), filled in as its inputs settle.
    let mut causes: Vec<Vec<u32>> = vec![Vec::new(); n];
    let mut pending: Vec<Option<Vec<u8>>> = vec![None; n];
    let mut settled: Vec<(usize, Result<WaveResult, NoHash>)> = Vec::new();
    // Fixed-output derivations are done; the others wait for their inputs.
    let mut deps: Vec<(usize, Vec<StorePath>)> = Vec::new();
    for (i, p) in parsed.iter_mut().enumerate() {
        match std::mem::replace(&mut p.state, State::Broken(None)) {
            // Broken files never hash; their dependents learn it when
            // they settle.
            State::Broken(error) => {
                report.unparsable.push(Unparsable {
                    drv: p.label.clone(),
                    error: error.unwrap_or_default(),
                });
                settled.push((i, Err(NoHash::unparsable())));
            }
            State::Done { result } => {
                report.waves = 1;
                settled.push((i, result.map_err(NoHash::own)));
            }
            State::Waiting { bytes, inputs } => {
                pending[i] = Some(bytes);
                deps.push((i, inputs));
            }
        }
    }
    let paths: Vec<Option<StorePath>> = parsed.iter().map(|p| p.path.clone()).collect();
    let index = Index::new(&paths);
    for (i, inputs) in deps {
        for input in &inputs {
            match index.get(input.hash_part_bytes(), input.name()) {
                Some(j) => {
                    waiting[i] += 1;
                    users[j].push(i as u32);
                }
                None => {
                    blocked[i].get_or_insert_with(|| {
                        let missing = store.display(input);
                        NoHash {
                            reason: format!("input `{missing}` is not among the derivations"),
                            root: Some(missing),
                            unparsable: false,
                        }
                    });
                }
            }
        }
    }
    let mut wave: Vec<usize> = (0..n)
        .filter(|&i| pending[i].is_some() && waiting[i] == 0)
        .collect();
    let mut done = 0usize;
    let to_hash = pending.iter().filter(|b| b.is_some()).count();
    reporter.begin("hashing", Some(to_hash as u64));
    loop {
        let mut next = Vec::new();
        for (i, r) in settled.drain(..) {
            done += 1;
            let label = &parsed[i].label;
            let inherited = std::mem::take(&mut causes[i]);
            // What the dependents of `i` inherit: why it has no hash, or
            // the root causes of a changed derivation hash.
            let mut no_hash = None;
            let mut passed_on: Option<Vec<u32>> = None;
            match r {
                Ok(w) => {
                    hashes[i] = Some(w.hash);
                    report.outputs += w.outputs;
                    if w.fixed {
                        report.fixed_outputs += w.outputs;
                    }
                    report.floating_outputs += w.floating;
                    report.impure_outputs += w.impure;
                    report.deferred_outputs += w.deferred;
                    report.unbuilt.extend(w.unbuilt);
                    let blame = Blame::of(
                        !parsed[i].mismatches.is_empty(),
                        !w.mismatches.is_empty(),
                        w.fixed,
                        tidy(inherited),
                    );
                    let caused_by: Vec<String> = match &blame {
                        Blame::Consequence(roots) => roots
                            .iter()
                            .map(|&j| parsed[j as usize].label.clone())
                            .collect(),
                        _ => Vec::new(),
                    };
                    report
                        .mismatches
                        .extend(w.mismatches.into_iter().map(|m| Mismatch {
                            caused_by: caused_by.clone(),
                            ..m
                        }));
                    passed_on = match blame {
                        Blame::Clean => None,
                        Blame::Root { changes_hash } => changes_hash.then(|| vec![i as u32]),
                        Blame::Consequence(roots) => Some(roots),
                    };
                }
                Err(why) => {
                    if !why.unparsable {
                        report.unchecked.push(Unchecked {
                            drv: label.clone(),
                            reason: why.reason.clone(),
                            caused_by: why.root.clone(),
                        });
                    }
                    no_hash = Some(NoHash {
                        reason: format!(
                            "input `{label}` {}",
                            if why.unparsable {
                                "does not parse"
                            } else {
                                "could not be checked"
                            }
                        ),
                        root: Some(why.root.unwrap_or_else(|| label.clone())),
                        unparsable: false,
                    });
                }
            }
            for &u in &users[i] {
                let u = u as usize;
                if let Some(why) = &no_hash {
                    blocked[u].get_or_insert_with(|| why.clone());
                }
                if let Some(roots) = &passed_on {
                    let c = &mut causes[u];
                    c.extend_from_slice(roots);
                    if c.len() > MAX_CAUSES {
                        *c = tidy(std::mem::take(c));
                    }
                }
                waiting[u] -= 1;
                if waiting[u] == 0 {
                    next.push(u);
                }
            }
        }
        wave.extend(next);
        if wave.is_empty() {
            break;
        }
        report.waves += 1;
        let batch: Vec<(usize, Vec<u8>)> = wave
            .drain(..)
            .filter_map(|i| pending[i].take().map(|b| (i, b)))
            .collect();
        let lookup = |path: &StorePathRef<'_>| {
            index
                .get(path.hash_part(), path.name())
                .and_then(|j| hashes[j].clone())
        };
        settled = batch
            .into_par_iter()
            .map(|(i, bytes)| {
                let p = &parsed[i];
                let r = match &blocked[i] {
                    Some(why) => Err(why.clone()),
                    None => DerivationRef::parse(store, &bytes)
                        .map_err(|e| e.to_string())
                        .and_then(|drv| {
                            hash_and_check(store, &p.label, p.path.as_ref(), &drv, &lookup)
                        })
                        .map_err(NoHash::own),
                };
                reporter.advance(1);
                (i, r)
            })
            .collect();
    }
    reporter.end();
    // Whatever never became ready sits on a cycle.
    if done < n {
        for (i, p) in parsed.iter().enumerate() {
            if waiting[i] > 0 {
                report.unchecked.push(Unchecked {
                    drv: p.label.clone(),
                    reason: "its inputs form a cycle".into(),
                    caused_by: None,
                });
            }
        }
    }
    for p in parsed {
        report.mismatches.extend(p.mismatches);
    }
    // By file, then the file's own checks before those of its outputs.
    let rank = |what: &str| match what {
        "bytes" => 0,
        "store path" => 1,
        _ => 2,
    };
    report.mismatches.sort_by(|a, b| {
        (a.drv.as_str(), rank(&a.what), a.what.as_str()).cmp(&(
            b.drv.as_str(),
            rank(&b.what),
            b.what.as_str(),
        ))
    });
    report.unparsable.sort_by(|a, b| a.drv.cmp(&b.drv));
    report.unchecked.sort_by(|a, b| a.drv.cmp(&b.drv));
    report
        .unbuilt
        .sort_by(|a, b| (&a.drv, a.kind).cmp(&(&b.drv, b.kind)));
    report
}

/// Why a derivation has no hash (so that its dependents cannot be
/// checked).
#[derive(Debug, Clone)]
struct NoHash {
    reason: String,
    /// The input at the root of it, when the reason lies upstream.
    root: Option<String>,
    /// The file itself does not parse (reported in
    /// [`Report::unparsable`], not as unchecked).
    unparsable: bool,
}

impl NoHash {
    fn unparsable() -> NoHash {
        NoHash {
            reason: "it does not parse".into(),
            root: None,
            unparsable: true,
        }
    }

    fn own(reason: String) -> NoHash {
        NoHash {
            reason,
            root: None,
            unparsable: false,
        }
    }
}

/// Where the mismatches of one hashed derivation come from.
#[derive(Debug, PartialEq, Eq)]
enum Blame {
    /// None, and its derivation hash is what its dependents were made with.
    Clean,
    /// Its own: its bytes changed (its store path, computed from its bytes,
    /// no longer matches), or its recorded output paths were never right.
    /// `changes_hash`: whether its derivation hash differs because of it,
    /// which shifts the output paths of every dependent.
    Root {
        /// Whether its dependents inherit the change.
        changes_hash: bool,
    },
    /// Its bytes are intact but an input's derivation hash changed: these
    /// root causes upstream explain every mismatch of its outputs.
    Consequence(Vec<u32>),
}

impl Blame {
    /// `own`: the first pass found a mismatch of the file itself (store
    /// path, bytes); `outputs_differ`: an output path or its environment
    /// variable mismatches; `inherited`: the root causes of the changed
    /// inputs.
    fn of(own: bool, outputs_differ: bool, fixed: bool, inherited: Vec<u32>) -> Blame {
        // A fixed-output derivation hashes as its output hash and path
        // only: its inputs, URL or builder do not reach its dependents.
        let changes_hash = if fixed {
            outputs_differ
        } else {
            own || outputs_differ
        };
        if own || (outputs_differ && inherited.is_empty()) {
            Blame::Root { changes_hash }
        } else if !inherited.is_empty() && !fixed {
            Blame::Consequence(inherited)
        } else {
            Blame::Clean
        }
    }
}

/// Sorts, deduplicates and bounds a list of root causes (file order: the
/// files come sorted by name).
fn tidy(mut roots: Vec<u32>) -> Vec<u32> {
    roots.sort_unstable();
    roots.dedup();
    roots.truncate(MAX_CAUSES);
    roots
}

/// Finds a derivation by path: keyed by the hash part, which is already
/// uniformly random, so hashing it is cheap; the name is checked too.
struct Index<'a> {
    paths: &'a [Option<StorePath>],
    by_hash: FxHashMap<[u8; 32], usize>,
}

impl<'a> Index<'a> {
    fn new(paths: &'a [Option<StorePath>]) -> Index<'a> {
        let mut by_hash = FxHashMap::default();
        by_hash.reserve(paths.len());
        for (i, p) in paths.iter().enumerate() {
            if let Some(path) = p {
                by_hash.entry(*path.hash_part_bytes()).or_insert(i);
            }
        }
        Index { paths, by_hash }
    }

    fn get(&self, hash_part: &[u8; 32], name: &str) -> Option<usize> {
        let &i = self.by_hash.get(hash_part)?;
        (self.paths[i].as_ref().map(StorePath::name) == Some(name)).then_some(i)
    }
}

struct WaveResult {
    /// Its hash for dependents, or why it has none.
    hash: Result<[u8; 32], Deferral>,
    /// Outputs whose paths were checked.
    outputs: usize,
    fixed: bool,
    floating: usize,
    impure: usize,
    deferred: usize,
    unbuilt: Vec<Unbuilt>,
    mismatches: Vec<Mismatch>,
}

/// What the verification keeps of a derivation's hash for its dependents.
type Memo = Option<Result<[u8; 32], Deferral>>;

/// Hashes `drv` and checks its output paths with `abovo-store` (which
/// splices the hashes from canonical bytes; see
/// [`DerivationRef::hashes`]), given the hashes of its inputs.
fn hash_and_check(
    store: &StoreDir,
    label: &str,
    path: Option<&StorePath>,
    drv: &DerivationRef<'_>,
    lookup: &(dyn Fn(&StorePathRef<'_>) -> Memo + Sync),
) -> Result<WaveResult, String> {
    let input_hash = |p: &StorePathRef<'_>| -> Result<[u8; 32], DerivationError> {
        match lookup(p) {
            Some(Ok(h)) => Ok(h),
            Some(Err(d)) => Err(DerivationError::Deferred(d)),
            None => Err(DerivationError::Input {
                path: p.display(store),
                reason: "not hashed".into(),
            }),
        }
    };
    let hashes = drv.hashes(store, input_hash).map_err(|e| e.to_string())?;
    let name = path
        .and_then(StorePath::derivation_name)
        .ok_or("its file name is not a derivation name")?;
    let found = drv
        .check_output_paths_with(store, name, &hashes)
        .map_err(|e| e.to_string())?;
    let mut w = WaveResult {
        hash: hashes.modulo.clone(),
        outputs: 0,
        fixed: drv.is_fixed_output(),
        floating: 0,
        impure: 0,
        deferred: 0,
        unbuilt: Vec::new(),
        mismatches: found
            .into_iter()
            .map(|m| Mismatch {
                drv: label.to_owned(),
                what: m.what,
                recomputed: m.expected,
                recorded: m.actual,
                caused_by: Vec::new(),
            })
            .collect(),
    };
    let mut unbuilt: BTreeMap<&'static str, Unbuilt> = BTreeMap::new();
    for o in drv.outputs() {
        let kind = o.kind().map_err(|e| e.to_string())?;
        let count = match kind {
            OutputKind::InputAddressed | OutputKind::Fixed(_) => {
                w.outputs += 1;
                continue;
            }
            OutputKind::Floating { .. } => &mut w.floating,
            OutputKind::Impure { .. } => &mut w.impure,
            OutputKind::Deferred => &mut w.deferred,
        };
        *count += 1;
        let entry = unbuilt.entry(kind.name()).or_insert_with(|| Unbuilt {
            drv: label.to_owned(),
            outputs: Vec::new(),
            kind: kind.name(),
            reason: match &hashes.modulo {
                Err(d) => d.to_string(),
                Ok(_) => String::new(),
            },
            computable: BTreeMap::new(),
        });
        entry.outputs.push(o.name.to_string());
        if let (OutputKind::Deferred, Some(h)) = (kind, hashes.masked) {
            let p = store
                .make_output_path(&h, name, &o.name)
                .map_err(|e| e.to_string())?;
            entry
                .computable
                .insert(o.name.to_string(), store.display(&p));
        }
    }
    w.unbuilt = unbuilt.into_values().collect();
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blame_tells_roots_from_consequences() {
        // Own bytes changed: a root whose hash change reaches dependents,
        // unless it is fixed-output and its output is intact (a new URL).
        assert_eq!(
            Blame::of(true, false, false, vec![]),
            Blame::Root { changes_hash: true }
        );
        assert_eq!(
            Blame::of(true, false, true, vec![]),
            Blame::Root {
                changes_hash: false
            }
        );
        assert_eq!(
            Blame::of(true, true, true, vec![]),
            Blame::Root { changes_hash: true }
        );
        // Outputs wrong with intact bytes and clean inputs: its own fault.
        assert_eq!(
            Blame::of(false, true, false, vec![]),
            Blame::Root { changes_hash: true }
        );
        // Outputs wrong with intact bytes and a changed input: a consequence.
        assert_eq!(
            Blame::of(false, true, false, vec![3, 7]),
            Blame::Consequence(vec![3, 7])
        );
        // Own bytes changed and a changed input: its own change is the root.
        assert_eq!(
            Blame::of(true, true, false, vec![3]),
            Blame::Root { changes_hash: true }
        );
        assert_eq!(Blame::of(false, false, false, vec![]), Blame::Clean);
        assert_eq!(Blame::of(false, false, true, vec![]), Blame::Clean);
    }

    #[test]
    fn causes_are_sorted_unique_and_bounded() {
        assert_eq!(tidy(vec![5, 1, 5, 3]), vec![1, 3, 5]);
        let many: Vec<u32> = (0..100).rev().collect();
        assert_eq!(tidy(many), (0..MAX_CAUSES as u32).collect::<Vec<_>>());
    }
}
