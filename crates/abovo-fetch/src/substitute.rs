//! The substitute protocol of `guix publish` and Nix binary caches, as a
//! client: `<server>/<hash>.narinfo`, then the NAR it points to.
//!
//! A narinfo is used only when it describes the store path asked for and
//! its signature is valid and made with an authorised key
//! ([`crate::keys`]); unsigned or untrusted narinfos are refused unless the
//! caller allows them. The NAR is downloaded (resumably, in its
//! compression), decompressed as it streams ([`crate::compression`]),
//! hashed, and unpacked; its SHA-256 and size must be the narinfo's
//! `NarHash` and `NarSize`, or it is thrown away. The caller then checks
//! the unpacked content against the derivation's own hash.

use crate::compression::Compression;
use crate::http::{Failure, HttpClient, Resume};
use crate::keys::AuthorizedKeys;
use abovo_store::nar::HashingReader;
use abovo_store::narinfo::NarInfo;
use std::path::Path;

/// The largest narinfo accepted (real ones are a few KiB).
pub const MAX_NARINFO: u64 = 1 << 20;

/// A narinfo that was fetched and accepted.
#[derive(Debug, Clone)]
pub struct Accepted {
    /// The server's base URL.
    pub server: String,
    /// The narinfo.
    pub info: NarInfo,
    /// Its text, as served.
    pub text: String,
    /// Who signed it, or why it is not trusted (unsigned, or signed by a
    /// key not authorised: accepted because the caller allows it).
    pub signer: Result<String, crate::keys::Refusal>,
}

/// What asking a server for a narinfo gave.
#[derive(Debug)]
pub enum Lookup {
    /// It has an acceptable narinfo.
    Found(Box<Accepted>),
    /// It does not have the item (404).
    Missing,
}

/// A substitute client: one HTTP client, the authorised keys, and whether
/// unsigned or untrusted narinfos are accepted.
pub struct Substituter<'a> {
    /// The HTTP client.
    pub client: &'a HttpClient,
    /// The authorised keys.
    pub keys: &'a AuthorizedKeys,
    /// Accept narinfos that are unsigned or signed by an unknown key (a
    /// bad signature is refused all the same).
    pub allow_untrusted: bool,
}

impl Substituter<'_> {
    /// Asks `server` for the narinfo of `store_path`
    /// (`/gnu/store/<hash>-<name>`). An error says what was refused and why.
    pub fn narinfo(&self, server: &str, store_path: &str) -> Result<Lookup, Failure> {
        let base = store_path.rsplit('/').next().unwrap_or(store_path);
        let hash_part = base.split('-').next().unwrap_or(base);
        let url = format!("{}/{hash_part}.narinfo", server.trim_end_matches('/'));
        let bytes = match self.client.get_bytes(&url, MAX_NARINFO) {
            Ok(b) => b,
            Err(e) if e.is_not_found() => return Ok(Lookup::Missing),
            Err(e) => return Err(e),
        };
        let permanent = |m: String| Failure::Permanent(m);
        let text = String::from_utf8(bytes)
            .map_err(|_| permanent(format!("{url}: the narinfo is not UTF-8 text")))?;
        let info = NarInfo::parse(&text).map_err(|e| permanent(format!("{url}: {e}")))?;
        if info.store_path != store_path {
            return Err(permanent(format!(
                "{url}: the narinfo describes `{}`, not `{store_path}`",
                info.store_path
            )));
        }
        let signer = match self.keys.check(&info) {
            Err(crate::keys::Refusal::Invalid(why)) => {
                return Err(permanent(format!(
                    "{url}: refused: its signature is invalid ({why})"
                )));
            }
            Err(other) if !self.allow_untrusted => {
                return Err(permanent(format!(
                    "{url}: refused: {other} (hint: --authorized-key FILE adds a key; --allow-untrusted accepts it anyway, since the content is checked against the derivation's hash)"
                )));
            }
            checked => checked,
        };
        Ok(Lookup::Found(Box::new(Accepted {
            server: server.to_owned(),
            info,
            text,
            signer,
        })))
    }

    /// Downloads the NAR of `found` (the first copy in a compression abovo
    /// reads, preferring [`Compression::ALL`]'s order) into `partial`
    /// (kept for resumption when interrupted), and unpacks it as `target`,
    /// checking `NarHash`, `NarSize` and, when given, `FileSize` and
    /// `FileHash`. On error nothing is left at `target`.
    pub fn fetch_nar(
        &self,
        found: &Accepted,
        partial: &Path,
        target: &Path,
        log: &mut dyn FnMut(&[u8]),
        progress: &mut dyn FnMut(u64),
    ) -> Result<abovo_store::nar::NarSummary, Failure> {
        let info = &found.info;
        let (url, compression, i) = nar_copy(&found.server, info)?;
        let got = self
            .client
            .download(&url, partial, Resume::FromExisting, log, progress)
            .map_err(|e| prefix(&url, e))?;
        let fail = |m: String| {
            let _ = std::fs::remove_file(partial);
            Failure::Permanent(format!("{url}: {m}"))
        };
        if let Some(&size) = info.file_sizes.get(i) {
            if size != got {
                return Err(fail(format!(
                    "the compressed NAR has {got} bytes, the narinfo's FileSize says {size}"
                )));
            }
        }
        if let Some(h) = info.file_hashes.get(i) {
            let file = std::fs::File::open(partial).map_err(|e| fail(e.to_string()))?;
            let actual = abovo_store::file_hash::hash_reader(file, h.algo())
                .map_err(|e| fail(e.to_string()))?;
            if &actual != h {
                return Err(fail(format!(
                    "FileHash mismatch: expected {h}, got {actual}"
                )));
            }
        }
        let file = std::fs::File::open(partial).map_err(|e| fail(e.to_string()))?;
        let decoder = compression
            .decoder(std::io::BufReader::with_capacity(1 << 16, file))
            .map_err(|e| fail(format!("cannot decompress ({}): {e}", compression.name())))?;
        let mut hashing = HashingReader::new(decoder);
        let restored = abovo_store::nar::restore(&mut hashing, target);
        // Whatever follows the archive counts too: a NAR with trailing
        // bytes is not the NAR the narinfo hashed.
        let rest = std::io::copy(&mut hashing, &mut std::io::sink());
        let nar = hashing.finish();
        let summary = match (restored, rest) {
            (Ok(s), Ok(_)) => s,
            (Err(e), _) => {
                crate::cache::remove_any(target);
                return Err(fail(format!(
                    "the NAR ({}) is not a valid archive after {} bytes: {e}; expected NarHash {} ({} bytes)",
                    compression.name(),
                    nar.size,
                    info.nar_hash,
                    info.nar_size
                )));
            }
            (Ok(_), Err(e)) => {
                crate::cache::remove_any(target);
                return Err(fail(format!(
                    "the NAR ({}) cannot be decompressed to its end: {e}",
                    compression.name()
                )));
            }
        };
        let _ = std::fs::remove_file(partial);
        if nar.hash != info.nar_hash || nar.size != info.nar_size {
            crate::cache::remove_any(target);
            return Err(Failure::Permanent(format!(
                "{url}: NarHash mismatch: the narinfo says {} ({} bytes), the NAR is {} ({} bytes)",
                info.nar_hash, info.nar_size, nar.hash, nar.size
            )));
        }
        Ok(summary)
    }

    /// Downloads `<server>/file/<name>/sha256/<nix32>` (what `guix
    /// publish` serves for content-addressed files) into `target`.
    pub fn file_url(server: &str, name: &str, hash: &abovo_store::Hash) -> String {
        format!(
            "{}/file/{name}/{}/{}",
            server.trim_end_matches('/'),
            hash.algo().name(),
            hash.to_nix32()
        )
    }
}

/// The same failure, with the URL in front of its message.
pub fn prefix(url: &str, e: Failure) -> Failure {
    match e {
        Failure::Transient(m) => Failure::Transient(format!("{url}: {m}")),
        Failure::Permanent(m) => Failure::Permanent(format!("{url}: {m}")),
        Failure::Fatal(m) => Failure::Fatal(format!("{url}: {m}")),
    }
}

/// The copy of `info`'s NAR to fetch from `server`: the first in a
/// compression abovo reads, preferring [`Compression::ALL`]'s order; its
/// absolute URL, compression and position among the narinfo's copies.
pub fn nar_copy(server: &str, info: &NarInfo) -> Result<(String, Compression, usize), Failure> {
    let server = server.trim_end_matches('/');
    let mut copies: Vec<(Compression, usize)> = (0..info.urls.len())
        .filter_map(|i| {
            let c = info.compressions.get(i).map_or("none", String::as_str);
            Compression::from_name(c).map(|c| (c, i))
        })
        .collect();
    copies.sort();
    let Some(&(compression, i)) = copies.first() else {
        return Err(Failure::Permanent(format!(
            "{server}: the narinfo of `{}` offers no NAR in a compression abovo reads ({})",
            info.store_path,
            info.compressions.join(", ")
        )));
    };
    let rel = &info.urls[i];
    let url = if rel.contains("://") {
        rel.clone()
    } else {
        format!("{server}/{}", rel.trim_start_matches('/'))
    };
    Ok((url, compression, i))
}
