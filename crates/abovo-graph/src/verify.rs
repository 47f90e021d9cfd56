//! Verification: is every `.drv` what it claims to be?
//!
//! For a set of `.drv` files, [`verify_files`] checks that
//! 1. each file parses and re-serialises to exactly its bytes;
//! 2. its store path, recomputed from its bytes and its references (input
//!    derivations and sources), is its file name;
//! 3. every output path, and the environment variable named after each
//!    output, is the one recomputed from the derivation: fixed outputs from
//!    their hash, the others from the derivation hash "modulo" fixed-output
//!    inputs.
//!
//! The derivation hash of an input-addressed derivation needs the hashes of
//! all its inputs, so hashes are computed once per derivation, memoised, in
//! waves: a wave holds the derivations whose inputs are all hashed, and is
//! processed in parallel. Fixed-output derivations hash without their
//! inputs, so they all go in the first wave, which keeps the waves few.
//!
//! Every format rule comes from `abovo-store`: files are read with the
//! zero-copy [`DerivationRef`], whose canonical flag answers check 1
//! without writing the text back, and whose hashes are spliced from the
//! canonical bytes ([`DerivationRef::hashes`]).

use crate::load::{DrvFile, Reporter};
use abovo_store::derivation::{DerivationError, DerivationRef, StorePathRef};
use abovo_store::store_path::{StoreDir, StorePath};
use rayon::prelude::*;
use rustc_hash::FxHashMap;

/// A recorded value that differs from the recomputed one.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Mismatch {
    /// The `.drv` file (its store path when the name is one, else the file
    /// name).
    pub drv: String,
    /// What was checked: `bytes`, `store path`, `output "out"`,
    /// `environment variable "out"`, `parse`.
    pub what: String,
    /// The value recomputed from content (or, for `parse`, what the parser
    /// wanted).
    pub expected: String,
    /// The value recorded in the file.
    pub actual: String,
}

/// A derivation whose outputs could not be checked.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Unchecked {
    /// The `.drv` file.
    pub drv: String,
    /// Why.
    pub reason: String,
}

/// The outcome of a verification, with what was counted.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    /// `.drv` files looked at.
    pub files: usize,
    /// Files that parse.
    pub parsed: usize,
    /// Files whose re-serialisation was compared with their bytes.
    pub round_trips: usize,
    /// `.drv` store paths recomputed.
    pub drv_paths: usize,
    /// Output paths recomputed (each also checked in the environment).
    pub outputs: usize,
    /// Of those, outputs of fixed-output derivations.
    pub fixed_outputs: usize,
    /// Waves of the memoised hash computation.
    pub waves: usize,
    /// Every mismatch found, sorted by file then check.
    pub mismatches: Vec<Mismatch>,
    /// Derivations whose outputs could not be checked.
    pub unchecked: Vec<Unchecked>,
}

impl Report {
    /// Whether every check passed and every output was checked.
    pub fn is_clean(&self) -> bool {
        self.mismatches.is_empty() && self.unchecked.is_empty()
    }
}

/// What the first pass keeps of one file.
struct Parsed {
    label: String,
    path: Option<StorePath>,
    state: State,
    mismatches: Vec<Mismatch>,
}

enum State {
    /// The file does not parse.
    Broken,
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
    let mismatch = |what: &str, expected: String, actual: String| Mismatch {
        drv: label.clone(),
        what: what.to_owned(),
        expected,
        actual,
    };
    let drv = match DerivationRef::parse(store, &file.bytes) {
        Ok(d) => d,
        Err(e) => {
            mismatches.push(mismatch(
                "parse",
                "a valid derivation".into(),
                e.to_string(),
            ));
            return Parsed {
                label,
                path,
                state: State::Broken,
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
        None => mismatches.push(mismatch(
            "store path",
            "a file named `<hash>-<name>.drv`".into(),
            file.name.clone(),
        )),
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
    let state = if drv.is_fixed_output() {
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
            .filter(|p| !matches!(p.state, State::Broken))
            .count(),
        ..Report::default()
    };
    report.round_trips = report.parsed;
    report.drv_paths = parsed
        .iter()
        .filter(|p| !matches!(p.state, State::Broken) && p.path.is_some())
        .count();

    let mut parsed = parsed;
    let n = parsed.len();
    let mut hashes: Vec<Option<[u8; 32]>> = vec![None; n];
    let mut waiting = vec![0u32; n];
    let mut users: Vec<Vec<u32>> = vec![Vec::new(); n];
    let mut blocked: Vec<Option<String>> = vec![None; n];
    let mut pending: Vec<Option<Vec<u8>>> = vec![None; n];
    let mut settled: Vec<(usize, Result<WaveResult, String>)> = Vec::new();
    // Fixed-output derivations are done; the others wait for their inputs.
    let mut deps: Vec<(usize, Vec<StorePath>)> = Vec::new();
    for (i, p) in parsed.iter_mut().enumerate() {
        match std::mem::replace(&mut p.state, State::Broken) {
            // Broken files never hash; their dependents learn it when
            // they settle.
            State::Broken => settled.push((i, Err("it does not parse".into()))),
            State::Done { result } => {
                report.waves = 1;
                settled.push((i, result));
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
                        format!(
                            "input `{}` is not among the derivations",
                            store.display(input)
                        )
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
            match r {
                Ok(w) => {
                    hashes[i] = Some(w.hash);
                    report.outputs += w.outputs;
                    if w.fixed {
                        report.fixed_outputs += w.outputs;
                    }
                    report.mismatches.extend(w.mismatches);
                }
                Err(reason) => {
                    if !parsed[i].mismatches.iter().any(|m| m.what == "parse") {
                        report.unchecked.push(Unchecked {
                            drv: parsed[i].label.clone(),
                            reason,
                        });
                    }
                }
            }
            for &u in &users[i] {
                let u = u as usize;
                if hashes[i].is_none() {
                    blocked[u].get_or_insert_with(|| {
                        format!("input `{}` could not be hashed", parsed[i].label)
                    });
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
                .and_then(|j| hashes[j])
        };
        settled = batch
            .into_par_iter()
            .map(|(i, bytes)| {
                let p = &parsed[i];
                let r = match &blocked[i] {
                    Some(reason) => Err(reason.clone()),
                    None => DerivationRef::parse(store, &bytes)
                        .map_err(|e| e.to_string())
                        .and_then(|drv| {
                            hash_and_check(store, &p.label, p.path.as_ref(), &drv, &lookup)
                        }),
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
                });
            }
        }
    }
    for p in parsed {
        report.mismatches.extend(p.mismatches);
    }
    report
        .mismatches
        .sort_by(|a, b| a.drv.cmp(&b.drv).then(a.what.cmp(&b.what)));
    report.unchecked.sort_by(|a, b| a.drv.cmp(&b.drv));
    report
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
    hash: [u8; 32],
    outputs: usize,
    fixed: bool,
    mismatches: Vec<Mismatch>,
}

/// Hashes `drv` and checks its output paths with `abovo-store` (which
/// splices the hashes from canonical bytes; see
/// [`DerivationRef::hashes`]), given the hashes of its inputs.
fn hash_and_check(
    store: &StoreDir,
    label: &str,
    path: Option<&StorePath>,
    drv: &DerivationRef<'_>,
    lookup: &(dyn Fn(&StorePathRef<'_>) -> Option<[u8; 32]> + Sync),
) -> Result<WaveResult, String> {
    let input_hash = |p: &StorePathRef<'_>| -> Result<[u8; 32], DerivationError> {
        lookup(p).ok_or_else(|| DerivationError::Input {
            path: p.display(store),
            reason: "not hashed".into(),
        })
    };
    let hashes = drv.hashes(store, input_hash).map_err(|e| e.to_string())?;
    let name = path
        .and_then(StorePath::derivation_name)
        .ok_or("its file name is not a derivation name")?;
    let found = drv
        .check_output_paths_with(store, name, &hashes)
        .map_err(|e| e.to_string())?;
    Ok(WaveResult {
        hash: hashes.modulo,
        outputs: drv.outputs().len(),
        fixed: drv.is_fixed_output(),
        mismatches: found
            .into_iter()
            .map(|m| Mismatch {
                drv: label.to_owned(),
                what: m.what,
                expected: m.expected,
                actual: m.actual,
            })
            .collect(),
    })
}
