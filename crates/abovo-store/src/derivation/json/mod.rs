//! Derivations in JSON: every form Nix's `nix derivation show` has written,
//! and tvix's.
//!
//! Nix's JSON changed shape several times. abovo reads all of them (the
//! form is detected from the data, or chosen: [`JsonFormat`]) and writes
//! any of them:
//!
//! | format | Nix | shape |
//! | --- | --- | --- |
//! | [`nix-2.17`](JsonFormat::Nix2_17) | ≤ 2.17 (version 1) | `inputDrvs` maps a `.drv` path to a list of output names; an output's `hashAlgo` carries the method (`r:sha256`); absolute paths |
//! | [`nix-2.18`](JsonFormat::Nix2_18) | 2.18–2.22 | `inputDrvs` values are `{"outputs": […], "dynamicOutputs": {…}}` |
//! | [`nix-2.23`](JsonFormat::Nix2_23) | 2.23–2.29 (version 2) | an output has `method` (`flat`, `nar`, `text`, `git`) and a bare `hashAlgo` |
//! | [`nix-2.30`](JsonFormat::Nix2_30) | 2.30–2.31 | structured attributes in a top-level `structuredAttrs` object instead of the `__json` variable |
//! | [`nix-2.32`](JsonFormat::Nix2_32) | 2.32 (version 3) | `"version": 3`; store paths as base names (`<hash>-<name>`); a fixed output without its `path` |
//! | [`nix-2.33`](JsonFormat::Nix2_33) | 2.33 and later (version 4) | `"version": 4`; `inputs: {"srcs": […], "drvs": {…}}`; a fixed output is `{"method", "hash"}` with an SRI hash |
//! | [`tvix`](JsonFormat::Tvix) | tvix, snix | `nix-2.17` without `name` |
//!
//! A *resolved* derivation in format 4 (Nix's `derivation-resolved-v4`)
//! has `inputs` as a plain list of store paths; it reads as a derivation
//! whose inputs are all sources.
//!
//! Each output is an object whose keys say its kind (Nix's rule): `{}`
//! deferred, `{"path"}` input-addressed, `hashAlgo` without `hash`
//! floating, with `"impure": true` impure, with `hash` fixed.
//!
//! Where the formats cannot say something, abovo extends them the same way
//! in all of them: an argument or environment value that is not UTF-8 is
//! written `{"bytes": "<base64>"}` (Nix and tvix would write invalid UTF-8
//! or refuse; tvix's own test data holds raw bytes, which abovo reads as
//! those bytes too); when an environment *name* is not UTF-8, `env` is a
//! list of `[name, value]` pairs. `name` is written when it is known (the
//! name is not part of a derivation's content).
//!
//! Structured attributes are written as `structuredAttrs` (from
//! `nix-2.30` on) only when the `__json` variable is exactly what Nix's
//! JSON printer makes of that object ([`structured::dump`]: keys sorted,
//! no spaces), so that reading the JSON back gives the same bytes;
//! otherwise `__json` stays a variable. Reading `structuredAttrs` sets
//! `__json` to that printer's text.
//!
//! When reading, a fixed output's `path`, where the format has none, is
//! computed from its content address and the derivation's name; output
//! paths of input-addressed derivations may be left out (`{}`), for
//! `abovo derivation add` to compute. Hashes may be in base16, nix32,
//! base64 or SRI form.
//!
//! # Example
//!
//! ```
//! use abovo_store::derivation::json::JsonFormat;
//! use abovo_store::derivation::Derivation;
//! use abovo_store::StoreDir;
//! let store = StoreDir::default();
//! let text = br#"Derive([("out","/gnu/store/280xcws0xz6c1gx6721jyj2d8j0ly9gz-minimal","","")],[],[],"x86_64-linux","/bin/sh",["-c","echo 'Success' > $out"],[("PATH","/bin"),("out","/gnu/store/280xcws0xz6c1gx6721jyj2d8j0ly9gz-minimal")])"#;
//! let drv = Derivation::parse(&store, text)?;
//! let v4 = drv.to_json_as(&store, Some("minimal"), JsonFormat::Nix2_33)?;
//! assert_eq!(v4["version"], 4);
//! assert_eq!(v4["outputs"]["out"]["path"], "280xcws0xz6c1gx6721jyj2d8j0ly9gz-minimal");
//! let back = Derivation::read_json(&store, v4.to_string().as_bytes(), None, None)?;
//! assert_eq!(back.format, JsonFormat::Nix2_33);
//! assert_eq!(back.derivation, drv);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod raw;
mod read;
pub mod structured;
mod write;

use super::Derivation;
use crate::store_path::StoreDir;
use std::fmt;

/// The JSON forms of a derivation; see the [module docs](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum JsonFormat {
    /// Nix ≤ 2.17: `inputDrvs` values are lists, `hashAlgo` carries the
    /// method. What `abovo show -f json` writes by default.
    Nix2_17,
    /// Nix 2.18–2.22: `inputDrvs` values are `{outputs, dynamicOutputs}`.
    Nix2_18,
    /// Nix 2.23–2.29: outputs have `method`.
    Nix2_23,
    /// Nix 2.30–2.31: top-level `structuredAttrs`.
    Nix2_30,
    /// Nix 2.32, format version 3: base names, fixed outputs without path.
    Nix2_32,
    /// Nix 2.33 and later, format version 4: `inputs`, SRI hashes.
    Nix2_33,
    /// tvix and snix: `nix-2.17` without `name`.
    Tvix,
}

impl JsonFormat {
    /// Every format, oldest first.
    pub const ALL: [JsonFormat; 7] = [
        JsonFormat::Nix2_17,
        JsonFormat::Nix2_18,
        JsonFormat::Nix2_23,
        JsonFormat::Nix2_30,
        JsonFormat::Nix2_32,
        JsonFormat::Nix2_33,
        JsonFormat::Tvix,
    ];

    /// The newest format.
    pub const LATEST: JsonFormat = JsonFormat::Nix2_33;

    /// The format's name on the command line: `nix-2.17`, …, `tvix`.
    pub fn name(self) -> &'static str {
        match self {
            JsonFormat::Nix2_17 => "nix-2.17",
            JsonFormat::Nix2_18 => "nix-2.18",
            JsonFormat::Nix2_23 => "nix-2.23",
            JsonFormat::Nix2_30 => "nix-2.30",
            JsonFormat::Nix2_32 => "nix-2.32",
            JsonFormat::Nix2_33 => "nix-2.33",
            JsonFormat::Tvix => "tvix",
        }
    }

    /// Reads a format's name; `latest` is [`JsonFormat::LATEST`], and Nix's
    /// version numbers `1` to `4` name the newest Nix release of each.
    pub fn from_name(name: &str) -> Option<JsonFormat> {
        match name {
            "latest" | "4" | "v4" => Some(JsonFormat::LATEST),
            "3" | "v3" => Some(JsonFormat::Nix2_32),
            "2" | "v2" => Some(JsonFormat::Nix2_30),
            "1" | "v1" => Some(JsonFormat::Nix2_18),
            _ => JsonFormat::ALL.into_iter().find(|f| f.name() == name),
        }
    }

    /// Nix's `version` field: 3 and 4 write it, the older forms have none.
    pub fn version(self) -> Option<u64> {
        match self {
            JsonFormat::Nix2_32 => Some(3),
            JsonFormat::Nix2_33 => Some(4),
            _ => None,
        }
    }

    /// Whether `inputDrvs` values are objects with `dynamicOutputs`.
    fn nested_inputs(self) -> bool {
        !matches!(self, JsonFormat::Nix2_17 | JsonFormat::Tvix)
    }

    /// Whether outputs have a separate `method`.
    fn has_method(self) -> bool {
        self >= JsonFormat::Nix2_23 && self != JsonFormat::Tvix
    }

    /// Whether structured attributes are a top-level object.
    fn structured_attrs(self) -> bool {
        self >= JsonFormat::Nix2_30 && self != JsonFormat::Tvix
    }

    /// Whether store paths are base names.
    fn base_names(self) -> bool {
        self.version().is_some()
    }
}

impl fmt::Display for JsonFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A derivation read from JSON, with what the JSON said besides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonDerivation {
    /// The derivation.
    pub derivation: Derivation,
    /// Its name: the JSON's `name`, else the name of the `.drv` path that
    /// `nix derivation show`'s wrapper object is keyed by, else the given
    /// fallback, else its `name` environment variable (which Nix's
    /// `derivation` always sets, inside the structured attributes when it
    /// has them); `None` when none gives one.
    pub name: Option<String>,
    /// Where the name came from, for messages.
    pub name_from: NameSource,
    /// The format it was read as: the one asked for, or the one detected.
    pub format: JsonFormat,
}

/// Where the name of a derivation read from JSON came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameSource {
    /// The JSON's `name`.
    Name,
    /// The `.drv` path of `nix derivation show`'s wrapper object.
    WrapperKey,
    /// The caller's fallback (`--name`).
    Given,
    /// The `name` environment variable.
    Environment,
    /// Nothing gave one.
    None,
}

/// Why a JSON derivation cannot be read or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JsonError {
    /// Not JSON.
    #[error("invalid JSON: {0}")]
    Syntax(String),
    /// A value of the wrong shape, at a place (`outputs.out.hashAlgo`).
    #[error("{at}: {reason}")]
    Shape {
        /// Where, as a dotted path of keys.
        at: String,
        /// What was expected there.
        reason: String,
    },
    /// A `version` abovo does not know.
    #[error(
        "unsupported derivation JSON format version {0} (abovo reads 3 and 4, and the older unversioned forms)"
    )]
    UnknownVersion(String),
    /// The data is of another format than the one asked for.
    #[error(
        "the JSON is in the {found} format, not {asked} ({why}); leave the format out to read it as it is"
    )]
    WrongFormat {
        /// The format asked for.
        asked: JsonFormat,
        /// What the data looks like.
        found: String,
        /// The telling detail.
        why: String,
    },
    /// Something a format cannot hold.
    #[error("the {format} JSON format cannot hold {what}; use {instead}")]
    Unrepresentable {
        /// The format.
        format: JsonFormat,
        /// What it cannot hold.
        what: &'static str,
        /// Which format can.
        instead: &'static str,
    },
}

impl JsonError {
    fn shape(at: &str, reason: impl Into<String>) -> JsonError {
        JsonError::Shape {
            at: at.to_owned(),
            reason: reason.into(),
        }
    }
}

impl Derivation {
    /// The JSON form in the default shape ([`JsonFormat::Nix2_17`], which
    /// holds everything but outputs of outputs); `name` is included when
    /// given.
    pub fn to_json(&self, store: &StoreDir, name: Option<&str>) -> serde_json::Value {
        self.to_json_as(store, name, JsonFormat::Nix2_17)
            .or_else(|_| self.to_json_as(store, name, JsonFormat::Nix2_18))
            .unwrap_or(serde_json::Value::Null)
    }

    /// The JSON form in `format`. Keys are sorted, as Nix prints them. An
    /// error when the format cannot hold the derivation: outputs of
    /// outputs before `nix-2.18`; for format versions 3 and 4, which do
    /// not record fixed outputs' paths, a derivation without a name or
    /// whose fixed output records another path than its hash gives.
    pub fn to_json_as(
        &self,
        store: &StoreDir,
        name: Option<&str>,
        format: JsonFormat,
    ) -> Result<serde_json::Value, JsonError> {
        write::write(self, store, name, format)
    }

    /// Reads a derivation in JSON (`bytes`, normally UTF-8; raw bytes that
    /// are not, inside strings, are read as those bytes), in `format` or,
    /// when `None`, in the format its shape shows. `nix derivation show`'s
    /// wrapper (an object whose one key is the `.drv` path) is accepted.
    /// `name` is the fallback name (see [`JsonDerivation::name`]), used
    /// also to compute fixed outputs' paths the JSON leaves out.
    pub fn read_json(
        store: &StoreDir,
        bytes: &[u8],
        format: Option<JsonFormat>,
        name: Option<&str>,
    ) -> Result<JsonDerivation, JsonError> {
        read::read(store, bytes, format, name)
    }

    /// Reads the JSON form in any format; returns the derivation and its
    /// `"name"`, if any ([`Derivation::read_json`] says more).
    pub fn from_json(
        store: &StoreDir,
        text: &str,
    ) -> Result<(Derivation, Option<String>), JsonError> {
        let read = read::read(store, text.as_bytes(), None, None)?;
        let name = match read.name_from {
            NameSource::Name => read.name,
            _ => None,
        };
        Ok((read.derivation, name))
    }
}

#[cfg(test)]
mod tests;
