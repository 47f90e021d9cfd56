//! Narinfo files: the description of a substitute that a binary cache
//! (`guix publish`, a Nix cache) serves at `/<hash32>.narinfo`.
//!
//! # Format (docs/formats.md §8.1)
//!
//! One `Key: Value` line per field. [`NarInfo::parse`] reads it the way
//! Guix's recutils-style reader does: field order does not matter, `URL`,
//! `Compression`, `FileSize` and `FileHash` may repeat (the *i*-th of each
//! describe the *i*-th compressed copy of the NAR), and every other field may
//! appear at most once. Errors name the line.
//!
//! | field | kept in | notes |
//! | --- | --- | --- |
//! | `StorePath` | [`NarInfo::store_path`] | full path; required |
//! | `URL`, `Compression`, `FileSize`, `FileHash` | [`NarInfo::urls`] … | parallel lists |
//! | `NarHash` | [`NarInfo::nar_hash`] | `sha256:<nix32>` (base16 is read too); required |
//! | `NarSize` | [`NarInfo::nar_size`] | required |
//! | `References` | [`NarInfo::references`] | base names, space-separated |
//! | `Deriver` | [`NarInfo::deriver`] | base name |
//! | `System` | [`NarInfo::system`] | Guix only |
//! | `CA` | [`NarInfo::ca`] | Nix only |
//! | `Signature` | [`NarInfo::signature`] | Guix: `1;<host>;<base64 sexp>` |
//! | `Sig` | [`NarInfo::sigs`] | Nix: `<key name>:<base64>`, may repeat |
//! | anything else | [`NarInfo::extra`] | kept in order |
//!
//! # Writing
//!
//! [`NarInfo::to_guix_string`] and [`NarInfo::to_nix_string`] write the
//! field order of `guix publish` and of Nix. A parsed narinfo remembers its
//! own layout (field order, spacing, non-canonical spellings such as a base16
//! hash or leading zeros) so that its `Display` (`to_string()`) writes it back byte
//! for byte; a line whose typed value was changed since is written
//! canonically.
//!
//! # Signatures
//!
//! * Nix signs the [fingerprint](NarInfo::fingerprint) with Ed25519
//!   ([`verify_nix_signature`]).
//! * Guix signs the SHA-256 of the text *before* `Signature:`
//!   ([`guix_signed_sha256`]) with ECDSA on the edwards25519 curve, inside a
//!   libgcrypt S-expression
//!   ([`GuixSignature`]).
//!
//! ```
//! use abovo_store::narinfo::NarInfo;
//! let text = "StorePath: /gnu/store/36spjx951ih4nmip9wm9a2rq7fxm8mbj-fake-gtk+\n\
//!             URL: nar/36spjx951ih4nmip9wm9a2rq7fxm8mbj-fake-gtk%2B\n\
//!             Compression: none\nFileSize: 128\n\
//!             NarHash: sha256:1ysbwi8icaw2g5qmwjf9k0qd4d9gazd91kf1djycpk5ahwh4kmlp\n\
//!             NarSize: 128\nReferences: \n";
//! let info = NarInfo::parse(text)?;
//! assert_eq!(info.nar_size, 128);
//! assert!(info.references.is_empty());
//! assert_eq!(info.to_string(), text);
//! assert_eq!(info.to_guix_string(), text);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod sexp;
pub mod signature;
pub mod signing;

use crate::hash::{Hash, HashAlgo, HashError};
use crate::nixbase32;
use crate::store_path::{StoreDir, StorePath, StorePathError};
use std::fmt;

pub use signature::{GuixSignature, SignatureError, verify_nix_signature};
pub use signing::SigningKey;

/// A narinfo, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NarInfo {
    /// The full store path (`/gnu/store/<hash>-<name>`).
    pub store_path: String,
    /// `URL` values, in order.
    pub urls: Vec<String>,
    /// `Compression` values, in order (the i-th goes with the i-th URL).
    pub compressions: Vec<String>,
    /// `FileSize` values, in order.
    pub file_sizes: Vec<u64>,
    /// `FileHash` values, in order (Guix never writes them).
    pub file_hashes: Vec<Hash>,
    /// The NAR hash.
    pub nar_hash: Hash,
    /// The NAR size.
    pub nar_size: u64,
    /// The references, as base names, in the order given (normally sorted).
    pub references: Vec<String>,
    /// The deriver's base name.
    pub deriver: Option<String>,
    /// The system (Guix).
    pub system: Option<String>,
    /// The content address (Nix).
    pub ca: Option<String>,
    /// The Guix `Signature` value (`1;<host>;<base64>`).
    pub signature: Option<String>,
    /// The Nix `Sig` values.
    pub sigs: Vec<String>,
    /// Fields this module does not know, in order.
    pub extra: Vec<(String, String)>,
    /// How the parsed text was laid out; empty for a narinfo built in code.
    layout: Vec<Line>,
    /// Whether the parsed text ended with a newline (a quirk to keep).
    final_newline: bool,
}

/// Which field a line holds (with its index for repeated fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    StorePath,
    Url(usize),
    Compression(usize),
    FileSize(usize),
    FileHash(usize),
    NarHash,
    NarSize,
    References,
    Deriver,
    System,
    Ca,
    Signature,
    Sig(usize),
    Extra(usize),
}

/// One parsed line: its field, and its exact text when that differs from
/// the canonical rendering of the value it had.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Line {
    field: Field,
    /// `(canonical rendering at parse time, the line as read)`.
    verbatim: Option<(String, String)>,
}

/// A narinfo that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("narinfo {}: {kind}", match .line { Some(n) => format!("line {n}"), None => "text".to_owned() })]
pub struct NarInfoError {
    /// The 1-based line number, when one line is to blame.
    pub line: Option<usize>,
    /// What is wrong.
    pub kind: NarInfoErrorKind,
}

/// What is wrong with a narinfo.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NarInfoErrorKind {
    /// A line without `:`.
    #[error("expected `Key: Value`, found {0:?}")]
    NotAField(String),
    /// An empty line.
    #[error("empty line (a narinfo is one record)")]
    EmptyLine,
    /// A single-valued field given twice.
    #[error("duplicate field `{field}` (first on line {first})")]
    Duplicate {
        /// The field.
        field: &'static str,
        /// The line of its first occurrence.
        first: usize,
    },
    /// A required field is missing.
    #[error("missing required field `{0}`")]
    Missing(&'static str),
    /// A value that does not parse.
    #[error("invalid `{field}` value {value:?}: {reason}")]
    BadValue {
        /// The field.
        field: &'static str,
        /// The value.
        value: String,
        /// Why.
        reason: String,
    },
}

fn bad(line: usize, field: &'static str, value: &str, reason: impl fmt::Display) -> NarInfoError {
    NarInfoError {
        line: Some(line),
        kind: NarInfoErrorKind::BadValue {
            field,
            value: value.to_owned(),
            reason: reason.to_string(),
        },
    }
}

/// Splits a full store path into its store directory and path.
pub fn split_store_path(path: &str) -> Result<(StoreDir, StorePath), StorePathError> {
    let (dir, base) = path
        .rsplit_once('/')
        .ok_or_else(|| StorePathError::TooShort(path.to_owned()))?;
    Ok((StoreDir::new(dir)?, StorePath::from_base_name(base)?))
}

fn parse_u64(line: usize, field: &'static str, value: &str) -> Result<u64, NarInfoError> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(line, field, value, "expected a decimal number"));
    }
    value
        .parse()
        .map_err(|e| bad(line, field, value, format!("{e}")))
}

fn parse_hash(line: usize, field: &'static str, value: &str) -> Result<Hash, NarInfoError> {
    Hash::parse_prefixed(value).map_err(|e: HashError| bad(line, field, value, e))
}

impl NarInfo {
    /// A narinfo with the required fields and nothing else.
    pub fn new(store_path: String, nar_hash: Hash, nar_size: u64) -> NarInfo {
        NarInfo {
            store_path,
            urls: Vec::new(),
            compressions: Vec::new(),
            file_sizes: Vec::new(),
            file_hashes: Vec::new(),
            nar_hash,
            nar_size,
            references: Vec::new(),
            deriver: None,
            system: None,
            ca: None,
            signature: None,
            sigs: Vec::new(),
            extra: Vec::new(),
            layout: Vec::new(),
            final_newline: true,
        }
    }

    /// Parses a narinfo (see the module docs for the rules).
    pub fn parse(text: &str) -> Result<NarInfo, NarInfoError> {
        let mut info = NarInfo::new(String::new(), HashAlgo::Sha256.digest(b""), 0);
        let mut seen: Vec<(&'static str, usize)> = Vec::new();
        let mut once = |name: &'static str, line: usize| -> Result<(), NarInfoError> {
            if let Some(&(_, first)) = seen.iter().find(|(n, _)| *n == name) {
                return Err(NarInfoError {
                    line: Some(line),
                    kind: NarInfoErrorKind::Duplicate { field: name, first },
                });
            }
            seen.push((name, line));
            Ok(())
        };
        let mut has = (false, false, false); // StorePath, NarHash, NarSize
        let body = text.strip_suffix('\n').unwrap_or(text);
        if text.is_empty() {
            return Err(NarInfoError {
                line: None,
                kind: NarInfoErrorKind::Missing("StorePath"),
            });
        }
        for (i, raw) in body.split('\n').enumerate() {
            let n = i + 1;
            if raw.is_empty() {
                return Err(NarInfoError {
                    line: Some(n),
                    kind: NarInfoErrorKind::EmptyLine,
                });
            }
            let (key, rest) = raw.split_once(':').ok_or_else(|| NarInfoError {
                line: Some(n),
                kind: NarInfoErrorKind::NotAField(raw.to_owned()),
            })?;
            let value = rest.strip_prefix(' ').unwrap_or(rest);
            let field = match key {
                "StorePath" => {
                    once("StorePath", n)?;
                    split_store_path(value).map_err(|e| bad(n, "StorePath", value, e))?;
                    info.store_path = value.to_owned();
                    has.0 = true;
                    Field::StorePath
                }
                "URL" => {
                    info.urls.push(value.to_owned());
                    Field::Url(info.urls.len() - 1)
                }
                "Compression" => {
                    info.compressions.push(value.to_owned());
                    Field::Compression(info.compressions.len() - 1)
                }
                "FileSize" => {
                    info.file_sizes.push(parse_u64(n, "FileSize", value)?);
                    Field::FileSize(info.file_sizes.len() - 1)
                }
                "FileHash" => {
                    info.file_hashes.push(parse_hash(n, "FileHash", value)?);
                    Field::FileHash(info.file_hashes.len() - 1)
                }
                "NarHash" => {
                    once("NarHash", n)?;
                    info.nar_hash = parse_hash(n, "NarHash", value)?;
                    has.1 = true;
                    Field::NarHash
                }
                "NarSize" => {
                    once("NarSize", n)?;
                    info.nar_size = parse_u64(n, "NarSize", value)?;
                    has.2 = true;
                    Field::NarSize
                }
                "References" => {
                    once("References", n)?;
                    for r in value.split(' ').filter(|r| !r.is_empty()) {
                        StorePath::from_base_name(r).map_err(|e| bad(n, "References", r, e))?;
                        info.references.push(r.to_owned());
                    }
                    Field::References
                }
                "Deriver" => {
                    once("Deriver", n)?;
                    info.deriver = Some(value.to_owned());
                    Field::Deriver
                }
                "System" => {
                    once("System", n)?;
                    info.system = Some(value.to_owned());
                    Field::System
                }
                "CA" => {
                    once("CA", n)?;
                    info.ca = Some(value.to_owned());
                    Field::Ca
                }
                "Signature" => {
                    once("Signature", n)?;
                    info.signature = Some(value.to_owned());
                    Field::Signature
                }
                "Sig" => {
                    info.sigs.push(value.to_owned());
                    Field::Sig(info.sigs.len() - 1)
                }
                _ => {
                    info.extra.push((key.to_owned(), value.to_owned()));
                    Field::Extra(info.extra.len() - 1)
                }
            };
            let canonical = info.render(field).unwrap_or_default();
            let verbatim = (canonical != raw).then(|| (canonical, raw.to_owned()));
            info.layout.push(Line { field, verbatim });
        }
        for (present, name) in [(has.0, "StorePath"), (has.1, "NarHash"), (has.2, "NarSize")] {
            if !present {
                return Err(NarInfoError {
                    line: None,
                    kind: NarInfoErrorKind::Missing(name),
                });
            }
        }
        info.final_newline = text.ends_with('\n');
        Ok(info)
    }

    /// The canonical text of one field's line (without the newline), or
    /// `None` when the field no longer exists.
    fn render(&self, field: Field) -> Option<String> {
        let line = |k: &str, v: &str| Some(format!("{k}: {v}"));
        match field {
            Field::StorePath => line("StorePath", &self.store_path),
            Field::Url(i) => line("URL", self.urls.get(i)?),
            Field::Compression(i) => line("Compression", self.compressions.get(i)?),
            Field::FileSize(i) => line("FileSize", &self.file_sizes.get(i)?.to_string()),
            Field::FileHash(i) => line("FileHash", &self.file_hashes.get(i)?.to_nix32_string()),
            Field::NarHash => line("NarHash", &self.nar_hash.to_nix32_string()),
            Field::NarSize => line("NarSize", &self.nar_size.to_string()),
            Field::References => line("References", &self.references.join(" ")),
            Field::Deriver => line("Deriver", self.deriver.as_ref()?),
            Field::System => line("System", self.system.as_ref()?),
            Field::Ca => line("CA", self.ca.as_ref()?),
            Field::Signature => line("Signature", self.signature.as_ref()?),
            Field::Sig(i) => line("Sig", self.sigs.get(i)?),
            Field::Extra(i) => {
                let (k, v) = self.extra.get(i)?;
                line(k, v)
            }
        }
    }

    fn write_fields(&self, fields: &[Field], out: &mut String) {
        for &f in fields {
            if let Some(l) = self.render(f) {
                out.push_str(&l);
                out.push('\n');
            }
        }
    }

    /// The fields in `guix publish` order: `StorePath`; per copy `URL`,
    /// `Compression`, `FileSize` (and `FileHash`, which Guix never writes);
    /// `NarHash`, `NarSize`, `References`, `System`, `Deriver`, then unknown
    /// fields, `CA`, `Signature` and Nix `Sig`s.
    pub fn to_guix_string(&self) -> String {
        let mut out = String::new();
        self.write_fields(&self.guix_fields(), &mut out);
        out
    }

    /// The fields in the order of Guix 1.5.0's `guix publish` (what
    /// `../shared/data/guix-publish-fixtures` holds): `StorePath`,
    /// `NarHash`, `NarSize`, `References`, `System`, `Deriver`, unknown
    /// fields, `CA`; then `Signature` and Nix `Sig`s; then, per copy, `URL`,
    /// `Compression`, `FileSize`, `FileHash`. A Guix signature covers the
    /// lines before `Signature:`, so what describes the compressed copies is
    /// outside it. [`NarInfo::to_guix_string`] is the older order, with the
    /// copies first and signed.
    pub fn to_guix_publish_string(&self) -> String {
        let mut fields = self.guix_publish_signed_fields();
        fields.push(Field::Signature);
        fields.extend((0..self.sigs.len()).map(Field::Sig));
        fields.extend(self.guix_copy_fields());
        let mut out = String::new();
        self.write_fields(&fields, &mut out);
        out
    }

    /// What a Guix 1.5.0 signature covers: `StorePath` and the description.
    fn guix_publish_signed_fields(&self) -> Vec<Field> {
        let mut fields = vec![Field::StorePath];
        fields.extend(self.guix_description_fields());
        fields
    }

    /// Per copy, in Guix's order: `URL`, `Compression`, `FileSize`,
    /// `FileHash`.
    fn guix_copy_fields(&self) -> impl Iterator<Item = Field> {
        (0..self.copies()).flat_map(|i| {
            [
                Field::Url(i),
                Field::Compression(i),
                Field::FileSize(i),
                Field::FileHash(i),
            ]
        })
    }

    /// The item, in Guix's order: `NarHash`, `NarSize`, `References`,
    /// `System`, `Deriver`, unknown fields, `CA`.
    fn guix_description_fields(&self) -> impl Iterator<Item = Field> {
        [
            Field::NarHash,
            Field::NarSize,
            Field::References,
            Field::System,
            Field::Deriver,
        ]
        .into_iter()
        .chain((0..self.extra.len()).map(Field::Extra))
        .chain([Field::Ca])
    }

    /// Signs the narinfo as `guix publish` does, with `key` (and, when the
    /// key has a Nix form, adds a Nix `Sig` too), replacing any signature it
    /// had; returns the text in [`NarInfo::to_guix_publish_string`]'s
    /// order, which is the text the Guix signature holds for. `host` is
    /// the informational host name in `Signature: 1;<host>;…`.
    ///
    /// An error when the fingerprint cannot be made (a bad `StorePath` or
    /// reference), or when a signed field holds `Signature:` (an unknown
    /// field so named, a `System` or `CA` value): a Guix client hashes the
    /// text up to the first `Signature:` it finds, so no client could
    /// verify the signature.
    pub fn sign_guix_publish(
        &mut self,
        key: &signing::SigningKey,
        host: &str,
    ) -> Result<String, SignatureError> {
        let fingerprint = self.fingerprint().map_err(|e| SignatureError::Malformed {
            what: "narinfo StorePath or References",
            value: self.store_path.clone(),
            reason: e.to_string(),
        })?;
        let mut signed = String::new();
        self.write_fields(&self.guix_publish_signed_fields(), &mut signed);
        if let Some(line) = signed.lines().find(|l| l.contains("Signature:")) {
            let field = line.split(':').next().unwrap_or(line);
            return Err(SignatureError::Malformed {
                what: "narinfo field to sign",
                value: field.chars().take(100).collect(),
                reason: "it holds `Signature:`, where a Guix client would end the text the \
                         signature covers"
                    .into(),
            });
        }
        self.signature = Some(key.sign_guix(host, &signed));
        self.sigs.clear();
        if let Some(sig) = key.sign_nix(&fingerprint) {
            self.sigs.push(sig);
        }
        Ok(self.to_guix_publish_string())
    }

    /// The fields in Nix's order: `StorePath`, `URL`, `Compression`,
    /// `FileHash`, `FileSize` (per copy), `NarHash`, `NarSize`, `References`,
    /// `Deriver`, `Sig`s, `CA`, then `System`, unknown fields and a Guix
    /// `Signature`.
    pub fn to_nix_string(&self) -> String {
        let mut fields = vec![Field::StorePath];
        for i in 0..self.copies() {
            fields.extend([
                Field::Url(i),
                Field::Compression(i),
                Field::FileHash(i),
                Field::FileSize(i),
            ]);
        }
        fields.extend([
            Field::NarHash,
            Field::NarSize,
            Field::References,
            Field::Deriver,
        ]);
        fields.extend((0..self.sigs.len()).map(Field::Sig));
        fields.extend([Field::Ca, Field::System]);
        fields.extend((0..self.extra.len()).map(Field::Extra));
        fields.push(Field::Signature);
        let mut out = String::new();
        self.write_fields(&fields, &mut out);
        out
    }

    /// How many compressed copies the URL/Compression/FileSize/FileHash
    /// lists describe.
    pub fn copies(&self) -> usize {
        self.urls
            .len()
            .max(self.compressions.len())
            .max(self.file_sizes.len())
            .max(self.file_hashes.len())
    }

    /// The store directory and path of `StorePath`.
    pub fn store_path(&self) -> Result<(StoreDir, StorePath), StorePathError> {
        split_store_path(&self.store_path)
    }

    /// Nix's signing fingerprint:
    /// `1;<store path>;sha256:<nix32 NAR hash>;<NAR size>;<full reference paths, sorted, comma-separated>`.
    pub fn fingerprint(&self) -> Result<String, StorePathError> {
        let (store, _) = self.store_path()?;
        let mut refs: Vec<String> = Vec::with_capacity(self.references.len());
        for r in &self.references {
            refs.push(store.display(&StorePath::from_base_name(r)?));
        }
        refs.sort();
        Ok(format!(
            "1;{};{}:{};{};{}",
            self.store_path,
            self.nar_hash.algo(),
            nixbase32::encode(self.nar_hash.digest()),
            self.nar_size,
            refs.join(",")
        ))
    }
}

impl NarInfo {
    fn guix_fields(&self) -> Vec<Field> {
        let mut fields = vec![Field::StorePath];
        fields.extend(self.guix_copy_fields());
        fields.extend(self.guix_description_fields());
        fields.push(Field::Signature);
        fields.extend((0..self.sigs.len()).map(Field::Sig));
        fields
    }

    /// The text as parsed: each line in its place and spelling, unless its
    /// value changed since; values added since go at the end, in Guix order.
    fn as_parsed(&self) -> String {
        let mut out = String::new();
        let mut covered = Vec::with_capacity(self.layout.len());
        for line in &self.layout {
            let Some(now) = self.render(line.field) else {
                continue;
            };
            covered.push(line.field);
            match &line.verbatim {
                Some((canonical, raw)) if *canonical == now => out.push_str(raw),
                _ => out.push_str(&now),
            }
            out.push('\n');
        }
        // A References line the text did not have is added only when there
        // are references to list: its absence is a quirk worth keeping.
        let added: Vec<Field> = self
            .guix_fields()
            .into_iter()
            .filter(|f| !covered.contains(f) && self.render(*f).is_some())
            .filter(|f| *f != Field::References || !self.references.is_empty())
            .collect();
        self.write_fields(&added, &mut out);
        if !self.final_newline && added.is_empty() {
            out.pop();
        }
        out
    }
}

impl NarInfo {
    /// The decoded Guix `Signature`, if there is one.
    pub fn guix_signature(&self) -> Option<Result<GuixSignature, SignatureError>> {
        self.signature.as_deref().map(GuixSignature::parse)
    }

    /// Whether the Guix signature is valid for this narinfo's text (as it
    /// writes itself, which for a parsed narinfo is the text read). `Ok(None)`
    /// when there is no signature. The signing key must still be checked
    /// against an ACL by the caller ([`GuixSignature::public_key`]).
    pub fn verify_guix_signature(&self) -> Result<Option<(bool, GuixSignature)>, SignatureError> {
        let Some(sig) = self.guix_signature().transpose()? else {
            return Ok(None);
        };
        Ok(Some((sig.verify(&self.to_string()), sig)))
    }

    /// The names of the keys among `public_keys` (`<name>:<base64>`) whose
    /// Nix `Sig` is valid for this narinfo's fingerprint.
    pub fn valid_nix_signers(&self, public_keys: &[&str]) -> Result<Vec<String>, SignatureError> {
        let fingerprint = self.fingerprint().map_err(|e| SignatureError::Malformed {
            what: "narinfo StorePath or References",
            value: self.store_path.clone(),
            reason: e.to_string(),
        })?;
        let mut signers = Vec::new();
        for key in public_keys {
            let key_name = key.split_once(':').map(|(n, _)| n).unwrap_or(key);
            for sig in &self.sigs {
                if sig.split_once(':').map(|(n, _)| n) != Some(key_name) {
                    continue;
                }
                if verify_nix_signature(&fingerprint, sig, key)? {
                    signers.push(key_name.to_owned());
                    break;
                }
            }
        }
        Ok(signers)
    }
}

/// The text exactly as parsed (see the module docs), or in Guix order for a
/// narinfo built in code.
impl fmt::Display for NarInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.layout.is_empty() {
            f.write_str(&self.to_guix_string())
        } else {
            f.write_str(&self.as_parsed())
        }
    }
}

/// The SHA-256 that a Guix narinfo signature covers: of the text from the
/// start up to (not including) the first occurrence of `Signature:`, as
/// Guix's `narinfo-sha256` computes it. `None` when there is no
/// `Signature:`, or when that prefix lacks `StorePath`, `NarHash` or
/// `References`, in which case Guix treats the narinfo as unsigned.
pub fn guix_signed_sha256(text: &str) -> Option<[u8; 32]> {
    let prefix = guix_signed_prefix(text)?;
    let has = |field: &str| {
        prefix.starts_with(&format!("{field}:")) || prefix.contains(&format!("\n{field}:"))
    };
    if !(has("StorePath") && has("NarHash") && has("References")) {
        return None;
    }
    Some(crate::hash::sha256(prefix.as_bytes()))
}

/// The text a Guix signature covers: everything before the first
/// `Signature:` (the newline before it included).
pub fn guix_signed_prefix(text: &str) -> Option<&str> {
    text.find("Signature:").map(|i| &text[..i])
}

#[cfg(test)]
mod tests;
