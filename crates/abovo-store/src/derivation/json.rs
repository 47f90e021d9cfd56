//! A JSON form of derivations, in the shape `nix derivation show` uses for one
//! derivation:
//!
//! ```json
//! {
//!   "name": "hello-2.12.2",
//!   "outputs": { "out": { "path": "/gnu/store/…-hello-2.12.2" } },
//!   "inputDrvs": { "/gnu/store/…-bash-5.2.drv": ["out"] },
//!   "inputSrcs": ["/gnu/store/…-builder"],
//!   "system": "x86_64-linux",
//!   "builder": "/gnu/store/…-bash/bin/bash",
//!   "args": ["-c", "…"],
//!   "env": { "out": "/gnu/store/…-hello-2.12.2" }
//! }
//! ```
//!
//! * A fixed output also has `"hashAlgo"` (`"r:sha256"`, `"sha256"`, …) and
//!   `"hash"`. When reading, the hash may be in base16, nix32 or base64; it is
//!   written back in base16, the form the ATerm needs.
//! * `"path"` may be left out when reading, for a derivation whose paths are
//!   still to be computed.
//! * Arguments and environment values that are not UTF-8 are written as
//!   `{"bytes": "<base64>"}`. If an environment *name* is not UTF-8, `"env"`
//!   is a list of `[name, value]` pairs instead of an object.
//! * `"name"` is optional: the name is not part of a derivation's content.

use super::{Derivation, FixedOutput, Output};
use crate::encoding::{base64_decode, base64_encode};
use crate::store_path::{StoreDir, StorePathError};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Why a JSON derivation cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JsonError {
    /// Not JSON of the expected shape.
    #[error("invalid derivation JSON: {0}")]
    Syntax(#[from] serde_json::Error),
    /// A path that is not in the store.
    #[error("invalid store path in {field}: {source}")]
    BadPath {
        /// The field holding it.
        field: &'static str,
        /// Why it is invalid.
        source: StorePathError,
    },
    /// An input derivation that is not a `.drv`.
    #[error("input derivation `{0}` does not end in `.drv`")]
    NotADerivation(String),
    /// A fixed output with an invalid hash.
    #[error("output {output:?}: {source}")]
    BadHash {
        /// The output name.
        output: String,
        /// Why the hash is invalid.
        source: crate::hash::HashError,
    },
    /// A `{"bytes": …}` value that is not base64.
    #[error("invalid base64 in a `bytes` value: {0}")]
    BadBytes(#[from] crate::encoding::DecodeError),
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DerivationJson {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    outputs: BTreeMap<String, OutputJson>,
    #[serde(rename = "inputDrvs", default)]
    input_drvs: BTreeMap<String, BTreeSet<String>>,
    #[serde(rename = "inputSrcs", default)]
    input_srcs: BTreeSet<String>,
    system: String,
    builder: String,
    #[serde(default)]
    args: Vec<JsonBytes>,
    #[serde(default)]
    env: EnvJson,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct OutputJson {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    #[serde(rename = "hashAlgo", default, skip_serializing_if = "String::is_empty")]
    hash_algo: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    hash: String,
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum JsonBytes {
    Text(String),
    Bytes { bytes: String },
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum EnvJson {
    Object(BTreeMap<String, JsonBytes>),
    Pairs(Vec<(JsonBytes, JsonBytes)>),
}

impl Default for EnvJson {
    fn default() -> Self {
        EnvJson::Object(BTreeMap::new())
    }
}

impl JsonBytes {
    fn from_bytes(b: &[u8]) -> JsonBytes {
        match std::str::from_utf8(b) {
            Ok(s) => JsonBytes::Text(s.to_owned()),
            Err(_) => JsonBytes::Bytes {
                bytes: base64_encode(b),
            },
        }
    }

    fn into_bytes(self) -> Result<Vec<u8>, JsonError> {
        match self {
            JsonBytes::Text(s) => Ok(s.into_bytes()),
            JsonBytes::Bytes { bytes } => Ok(base64_decode(&bytes)?),
        }
    }
}

impl Derivation {
    /// The JSON form as a value; `name` is included when given.
    pub fn to_json(&self, store: &StoreDir, name: Option<&str>) -> serde_json::Value {
        let env = if self
            .environment
            .keys()
            .all(|k| std::str::from_utf8(k).is_ok())
        {
            EnvJson::Object(
                self.environment
                    .iter()
                    .map(|(k, v)| {
                        (
                            String::from_utf8_lossy(k).into_owned(),
                            JsonBytes::from_bytes(v),
                        )
                    })
                    .collect(),
            )
        } else {
            EnvJson::Pairs(
                self.environment
                    .iter()
                    .map(|(k, v)| (JsonBytes::from_bytes(k), JsonBytes::from_bytes(v)))
                    .collect(),
            )
        };
        let json = DerivationJson {
            name: name.map(str::to_owned),
            outputs: self
                .outputs
                .iter()
                .map(|(n, o)| {
                    let out = OutputJson {
                        path: o.path.as_ref().map(|p| store.display(p)),
                        hash_algo: o.hash_algo.clone(),
                        hash: o.hash.clone(),
                    };
                    (n.clone(), out)
                })
                .collect(),
            input_drvs: self
                .input_derivations
                .iter()
                .map(|(p, o)| (store.display(p), o.clone()))
                .collect(),
            input_srcs: self
                .input_sources
                .iter()
                .map(|p| store.display(p))
                .collect(),
            system: self.system.clone(),
            builder: self.builder.clone(),
            args: self
                .arguments
                .iter()
                .map(|a| JsonBytes::from_bytes(a))
                .collect(),
            env,
        };
        // Serialising plain maps, strings and lists cannot fail.
        serde_json::to_value(json).unwrap_or(serde_json::Value::Null)
    }

    /// Reads the JSON form; returns the derivation and its `"name"`, if any.
    pub fn from_json(
        store: &StoreDir,
        text: &str,
    ) -> Result<(Derivation, Option<String>), JsonError> {
        let json: DerivationJson = serde_json::from_str(text)?;
        let mut drv = Derivation {
            system: json.system,
            builder: json.builder,
            ..Derivation::default()
        };
        for (name, o) in json.outputs {
            let path = match o.path.as_deref() {
                None | Some("") => None,
                Some(p) => Some(store.parse(p).map_err(|source| JsonError::BadPath {
                    field: "outputs",
                    source,
                })?),
            };
            let (hash_algo, hash) = if o.hash_algo.is_empty() && o.hash.is_empty() {
                (String::new(), String::new())
            } else {
                let fixed = FixedOutput::from_fields(&o.hash_algo, &o.hash).map_err(|source| {
                    JsonError::BadHash {
                        output: name.clone(),
                        source,
                    }
                })?;
                (fixed.hash_algo_field(), fixed.hash.to_base16())
            };
            drv.outputs.insert(
                name,
                Output {
                    path,
                    hash_algo,
                    hash,
                },
            );
        }
        for (p, outputs) in json.input_drvs {
            let path = store.parse(&p).map_err(|source| JsonError::BadPath {
                field: "inputDrvs",
                source,
            })?;
            if !path.is_derivation() {
                return Err(JsonError::NotADerivation(p));
            }
            drv.input_derivations.insert(path, outputs);
        }
        for p in json.input_srcs {
            drv.input_sources
                .insert(store.parse(&p).map_err(|source| JsonError::BadPath {
                    field: "inputSrcs",
                    source,
                })?);
        }
        drv.arguments = json
            .args
            .into_iter()
            .map(JsonBytes::into_bytes)
            .collect::<Result<_, _>>()?;
        drv.environment = match json.env {
            EnvJson::Object(map) => map
                .into_iter()
                .map(|(k, v)| Ok((k.into_bytes(), v.into_bytes()?)))
                .collect::<Result<_, JsonError>>()?,
            EnvJson::Pairs(pairs) => pairs
                .into_iter()
                .map(|(k, v)| Ok((k.into_bytes()?, v.into_bytes()?)))
                .collect::<Result<_, JsonError>>()?,
        };
        Ok((drv, json.name))
    }
}
