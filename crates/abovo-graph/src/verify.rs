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

use crate::load::{DrvFile, Reporter};
use abovo_store::derivation::{Derivation, DerivationError};
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

struct Parsed {
    label: String,
    path: Option<StorePath>,
    drv: Option<Derivation>,
    mismatches: Vec<Mismatch>,
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
    let drv = match Derivation::parse(store, &file.bytes) {
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
                drv: None,
                mismatches,
            };
        }
    };
    let written = drv.to_aterm(store);
    if written != file.bytes {
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
            match drv.drv_path(store, name, &file.bytes) {
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
    Parsed {
        label,
        path,
        drv: Some(drv),
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
        parsed: parsed.iter().filter(|p| p.drv.is_some()).count(),
        ..Report::default()
    };
    report.round_trips = report.parsed;
    report.drv_paths = parsed
        .iter()
        .filter(|p| p.drv.is_some() && p.path.is_some())
        .count();

    // The parsed derivations move out, so that each is dropped by the worker
    // that hashed it rather than all at the end.
    let mut parsed = parsed;
    let mut drvs: Vec<Option<Derivation>> = parsed.iter_mut().map(|p| p.drv.take()).collect();
    let parsed_ok: Vec<bool> = drvs.iter().map(Option::is_some).collect();
    let index = Index::new(&parsed);
    // Hash dependencies: input derivations of derivations that are not
    // fixed-output.
    let n = parsed.len();
    let mut waiting = vec![0u32; n];
    let mut users: Vec<Vec<u32>> = vec![Vec::new(); n];
    let mut blocked: Vec<Option<String>> = vec![None; n];
    for (i, drv) in drvs.iter().enumerate() {
        let Some(drv) = drv else {
            blocked[i] = Some("it does not parse".into());
            continue;
        };
        if drv.is_fixed_output() {
            continue;
        }
        for input in drv.input_derivations.keys() {
            match index.get(input) {
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
    let mut hashes: Vec<Option<[u8; 32]>> = vec![None; n];
    let mut wave: Vec<usize> = (0..n).filter(|&i| waiting[i] == 0).collect();
    let mut done = 0usize;
    reporter.begin("hashing", Some(n as u64));
    while !wave.is_empty() {
        report.waves += 1;
        let batch: Vec<(usize, Option<Derivation>)> =
            wave.iter().map(|&i| (i, drvs[i].take())).collect();
        let results: Vec<(usize, Result<WaveResult, String>)> = batch
            .into_par_iter()
            .map(|(i, drv)| {
                let r = hash_and_check(store, &parsed[i], drv, &blocked[i], &index, &hashes);
                reporter.advance(1);
                (i, r)
            })
            .collect();
        let mut next = Vec::new();
        for (i, r) in results {
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
                    if parsed_ok[i] {
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
        wave = next;
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
    parsed: &'a [Parsed],
    by_hash: FxHashMap<[u8; 32], usize>,
}

impl<'a> Index<'a> {
    fn new(parsed: &'a [Parsed]) -> Index<'a> {
        let mut by_hash = FxHashMap::default();
        by_hash.reserve(parsed.len());
        for (i, p) in parsed.iter().enumerate() {
            if let Some(path) = &p.path {
                by_hash.entry(*path.hash_part_bytes()).or_insert(i);
            }
        }
        Index { parsed, by_hash }
    }

    fn get(&self, path: &StorePath) -> Option<usize> {
        let &i = self.by_hash.get(path.hash_part_bytes())?;
        (self.parsed[i].path.as_ref() == Some(path)).then_some(i)
    }
}

struct WaveResult {
    hash: [u8; 32],
    outputs: usize,
    fixed: bool,
    mismatches: Vec<Mismatch>,
}

fn hash_and_check(
    store: &StoreDir,
    p: &Parsed,
    drv: Option<Derivation>,
    blocked: &Option<String>,
    index: &Index<'_>,
    hashes: &[Option<[u8; 32]>],
) -> Result<WaveResult, String> {
    if let Some(reason) = blocked {
        return Err(reason.clone());
    }
    let drv = drv.ok_or("it does not parse")?;
    let input_hash = |path: &StorePath| -> Result<[u8; 32], DerivationError> {
        index
            .get(path)
            .and_then(|j| hashes[j])
            .ok_or_else(|| DerivationError::Input {
                path: store.display(path),
                reason: "not hashed".into(),
            })
    };
    let hash = drv
        .hash_modulo(store, input_hash)
        .map_err(|e| e.to_string())?;
    let name = p
        .path
        .as_ref()
        .and_then(|p| p.derivation_name().map(str::to_owned))
        .ok_or("its file name is not a derivation name")?;
    let found = drv
        .check_output_paths(store, &name, input_hash)
        .map_err(|e| e.to_string())?;
    Ok(WaveResult {
        hash,
        outputs: drv.outputs.len(),
        fixed: drv.is_fixed_output(),
        mismatches: found
            .into_iter()
            .map(|m| Mismatch {
                drv: p.label.clone(),
                what: m.what,
                expected: m.expected,
                actual: m.actual,
            })
            .collect(),
    })
}
