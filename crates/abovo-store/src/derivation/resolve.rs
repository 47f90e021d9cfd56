//! Resolving a derivation whose inputs' output paths were not known when it
//! was written (Nix `tryResolve`).
//!
//! A derivation that uses an output of a floating content-addressed (or
//! impure, or deferred) input cannot name that output's path: it names a
//! [downstream placeholder](super::output::downstream_placeholder) instead,
//! and its own outputs are deferred. Once the inputs are built, the
//! derivation is *resolved*: every placeholder, in the builder, the
//! arguments and the environment (names and values, structured attributes
//! included), is replaced by the path the output was built at; the input
//! derivations become input sources (those paths); and deferred outputs get
//! their paths, which now follow from a derivation without input
//! derivations. The resolved derivation is what is built, and its outputs
//! are the original's.

use super::Derivation;
use super::hashing::DerivationError;
use super::output::downstream_placeholder;
use crate::store_path::{StoreDir, StorePath};
use std::collections::BTreeMap;

/// Why a derivation cannot be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// An output of an input is not built (no path is known for it).
    #[error("output `{output}` of `{drv}` has not been built (its path is not known)")]
    Unrealised {
        /// The input derivation.
        drv: String,
        /// Its output.
        output: String,
    },
    /// Outputs of outputs (Nix's dynamic derivations).
    #[error(
        "it uses outputs of outputs of `{0}` (Nix's dynamic derivations), which abovo does not resolve"
    )]
    DynamicInputs(String),
    /// The resolved derivation's output paths cannot be computed.
    #[error("{0}")]
    Paths(#[from] DerivationError),
}

impl Derivation {
    /// This derivation, named `name`, resolved with the paths its inputs'
    /// outputs were built at: `realised(drv, output)` (see the
    /// [module docs](self)).
    pub fn resolve(
        &self,
        store: &StoreDir,
        name: &str,
        mut realised: impl FnMut(&StorePath, &str) -> Option<StorePath>,
    ) -> Result<Derivation, ResolveError> {
        if let Some((p, _)) = self.dynamic_inputs.iter().find(|(_, m)| !m.is_empty()) {
            return Err(ResolveError::DynamicInputs(store.display(p)));
        }
        let mut resolved = Derivation {
            outputs: self.outputs.clone(),
            input_sources: self.input_sources.clone(),
            system: self.system.clone(),
            builder: self.builder.clone(),
            arguments: self.arguments.clone(),
            environment: self.environment.clone(),
            ..Derivation::default()
        };
        let mut rewrites: BTreeMap<String, String> = BTreeMap::new();
        for (drv, outputs) in &self.input_derivations {
            for output in outputs {
                let path = realised(drv, output).ok_or_else(|| ResolveError::Unrealised {
                    drv: store.display(drv),
                    output: output.clone(),
                })?;
                rewrites.insert(downstream_placeholder(drv, output), store.display(&path));
                resolved.input_sources.insert(path);
            }
        }
        resolved.rewrite(&rewrites);
        // No input derivations now: deferred outputs get their paths.
        resolved.fill_output_paths(store, name, |p| {
            Err(DerivationError::Input {
                path: store.display(p),
                reason: "a resolved derivation has no input derivations".into(),
            })
        })?;
        Ok(resolved)
    }

    /// Replaces every occurrence of each key of `rewrites` by its value, in
    /// the builder, the arguments and the environment's names and values
    /// (Nix `applyRewrites`; the keys are placeholders, which hold no
    /// character that JSON escapes, so structured attributes are rewritten
    /// in their text).
    pub fn rewrite(&mut self, rewrites: &BTreeMap<String, String>) {
        if rewrites.is_empty() {
            return;
        }
        let bytes = |s: &[u8]| {
            let mut s = s.to_vec();
            for (from, to) in rewrites {
                s = replace_all(&s, from.as_bytes(), to.as_bytes());
            }
            s
        };
        self.builder = String::from_utf8(bytes(self.builder.as_bytes()))
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        for a in &mut self.arguments {
            *a = bytes(a);
        }
        self.environment = std::mem::take(&mut self.environment)
            .into_iter()
            .map(|(k, v)| (bytes(&k), bytes(&v)))
            .collect();
    }
}

/// `haystack` with every occurrence of `from` (left to right, not
/// overlapping) replaced by `to`.
pub(crate) fn replace_all(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    if from.is_empty() {
        return haystack.to_vec();
    }
    let mut out = Vec::with_capacity(haystack.len());
    let mut rest = haystack;
    while let Some(i) = memchr::memmem::find(rest, from) {
        out.extend_from_slice(&rest[..i]);
        out.extend_from_slice(to);
        rest = &rest[i + from.len()..];
    }
    out.extend_from_slice(rest);
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    #[test]
    fn placeholders_of_built_inputs_become_their_paths() {
        let store = StoreDir::new(StoreDir::NIX).unwrap();
        let dep = StorePath::from_base_name("g1w7hy3qg1w7hy3qg1w7hy3qg1w7hy3q-dep.drv").unwrap();
        let built = StorePath::from_base_name("f1w7hy3qg1w7hy3qg1w7hy3qg1w7hy3q-dep").unwrap();
        let placeholder = downstream_placeholder(&dep, "out");
        let text = format!(
            r#"Derive([("out","","","")],[("{}",["out"])],[],"x86_64-linux","/bin/sh",["{placeholder}/bin"],[("DEP","x{placeholder}y"),("out","")])"#,
            store.display(&dep)
        );
        let drv = Derivation::parse(&store, text.as_bytes()).unwrap();
        let resolved = drv
            .resolve(&store, "top", |d, o| {
                (d == &dep && o == "out").then(|| built.clone())
            })
            .unwrap();
        let shown = store.display(&built);
        assert_eq!(resolved.arguments, [format!("{shown}/bin").into_bytes()]);
        assert_eq!(resolved.env_str("DEP"), Some(format!("x{shown}y").as_str()));
        assert!(resolved.input_derivations.is_empty());
        assert!(resolved.input_sources.contains(&built));
        // The deferred output got its path, and the derivation checks.
        let out = resolved.outputs["out"].path.clone().unwrap();
        assert_eq!(resolved.env_str("out"), Some(store.display(&out).as_str()));
        let err = drv.resolve(&store, "top", |_, _| None).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "output `out` of `{}` has not been built (its path is not known)",
                store.display(&dep)
            )
        );
        assert_eq!(replace_all(b"aXXbXX", b"XX", b"YY"), b"aYYbYY");
    }
}
