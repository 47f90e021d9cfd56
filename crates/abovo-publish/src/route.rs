//! What a request asks for: the URL paths of Guix's substitute protocol,
//! parsed strictly, before anything touches the store.
//!
//! | path | answer |
//! | --- | --- |
//! | `/nix-cache-info` | the store directory and priority |
//! | `/<hash>.narinfo` | the signed narinfo of the item whose hash part is `<hash>` |
//! | `/nar/<hash>-<name>` | its NAR, uncompressed |
//! | `/nar/<compression>/<hash>-<name>` | its NAR, compressed (`gzip`, `xz`, `zstd`) |
//! | `/file/<name>/sha256/<nix32>` | the bytes of the flat fixed output `<name>` with that SHA-256 |
//!
//! Names are percent-decoded (a narinfo writes `fake-gtk%2B` for
//! `fake-gtk+`) and must then be valid store names; hashes must be 32
//! nix32 characters (52 for a SHA-256). Anything else is [`Route::NotFound`]
//! with the reason, so a client hears why.

use crate::compression::{Compression, writes};
use abovo_store::store_path::validate_name;
use abovo_store::{Hash, StorePath, nixbase32};

/// The longest request path considered (a store name is at most 211
/// bytes; the longest valid path is well under this).
pub const MAX_PATH: usize = 1024;

/// A parsed request path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/nix-cache-info`.
    CacheInfo,
    /// `/<hash>.narinfo`.
    NarInfo {
        /// The 32-character nix32 hash part.
        hash_part: String,
    },
    /// `/nar/[<compression>/]<hash>-<name>`.
    Nar {
        /// The compression asked for.
        compression: Compression,
        /// The item.
        path: StorePath,
    },
    /// `/file/<name>/sha256/<nix32>`.
    File {
        /// The store name of the fixed output.
        name: String,
        /// Its flat SHA-256.
        hash: Hash,
    },
    /// Anything else, with why.
    NotFound(String),
}

impl Route {
    /// Parses the path of a request URL (its query, if any, is ignored).
    pub fn parse(path: &str) -> Route {
        let path = path.split(['?', '#']).next().unwrap_or("");
        if path.len() > MAX_PATH {
            return Route::NotFound(format!("the path is longer than {MAX_PATH} bytes"));
        }
        let Some(rest) = path.strip_prefix('/') else {
            return Route::NotFound("the path does not start with `/`".into());
        };
        if rest == "nix-cache-info" {
            return Route::CacheInfo;
        }
        if let Some(hash_part) = rest.strip_suffix(".narinfo") {
            return match check_hash_part(hash_part) {
                Ok(()) => Route::NarInfo {
                    hash_part: hash_part.to_owned(),
                },
                Err(why) => Route::NotFound(why),
            };
        }
        let parts: Vec<&str> = rest.split('/').collect();
        match parts.as_slice() {
            ["nar", item] => nar(Compression::None, item),
            ["nar", method, item] => match Compression::from_name(method) {
                Some(c) if c != Compression::None && writes(c) => nar(c, item),
                _ => Route::NotFound(format!(
                    "`{}` is not a compression this server writes (gzip, xz, zstd)",
                    shorten(method)
                )),
            },
            ["file", name, algo, hash] => file(name, algo, hash),
            _ => Route::NotFound(format!("no such resource `{}`", shorten(path))),
        }
    }
}

fn nar(compression: Compression, item: &str) -> Route {
    let Some(base) = percent_decode(item) else {
        return Route::NotFound("the item name has a bad percent escape".into());
    };
    match StorePath::from_base_name(&base) {
        Ok(path) => Route::Nar { compression, path },
        Err(e) => Route::NotFound(format!("`{}` is not a store item: {e}", shorten(&base))),
    }
}

fn file(name: &str, algo: &str, hash: &str) -> Route {
    if algo != "sha256" {
        return Route::NotFound(format!("`{}`: only sha256 files are served", shorten(algo)));
    }
    let Some(name) = percent_decode(name) else {
        return Route::NotFound("the file name has a bad percent escape".into());
    };
    if let Err(e) = validate_name(&name) {
        return Route::NotFound(format!("`{}` is not a store name: {e}", shorten(&name)));
    }
    match nixbase32::decode_fixed::<32>(hash) {
        Ok(bytes) => Route::File {
            name,
            hash: Hash::sha256(bytes),
        },
        Err(_) => Route::NotFound(format!(
            "`{}` is not a SHA-256 in nix32 (52 characters)",
            shorten(hash)
        )),
    }
}

fn check_hash_part(h: &str) -> Result<(), String> {
    if h.len() == 32 && h.bytes().all(nixbase32::is_nix32_char) {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not a store hash (32 nix32 characters)",
            shorten(h)
        ))
    }
}

/// Decodes `%XX` escapes; `None` for a bad escape or bytes that are not
/// UTF-8 (no store name has them).
pub fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Encodes what a URL path segment cannot hold as is, as Guix's
/// `uri-encode` does for store names (`+` → `%2B`).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// At most 80 characters of what a client sent, for messages.
fn shorten(s: &str) -> String {
    let mut t: String = s.chars().take(80).collect();
    if t.len() < s.len() {
        t.push('…');
    }
    t.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use proptest::prelude::*;

    const H: &str = "0nni5m6skfn4912n5vpzlk6p8nrgqxn0";

    #[test]
    fn the_protocol_paths_parse() {
        assert_eq!(Route::parse("/nix-cache-info"), Route::CacheInfo);
        assert_eq!(
            Route::parse(&format!("/{H}.narinfo")),
            Route::NarInfo {
                hash_part: H.into()
            }
        );
        let Route::Nar { compression, path } = Route::parse(&format!("/nar/gzip/{H}-fake-gtk%2B"))
        else {
            panic!()
        };
        assert_eq!(compression, Compression::Gzip);
        assert_eq!(path.name(), "fake-gtk+");
        assert!(matches!(
            Route::parse(&format!("/nar/{H}-x?y=1")),
            Route::Nar {
                compression: Compression::None,
                ..
            }
        ));
        let Route::File { name, hash } = Route::parse(
            "/file/hello-2.12.2.tar.gz/sha256/1ysbwi8icaw2g5qmwjf9k0qd4d9gazd91kf1djycpk5ahwh4kmlp",
        ) else {
            panic!()
        };
        assert_eq!(name, "hello-2.12.2.tar.gz");
        assert_eq!(
            hash.to_nix32(),
            "1ysbwi8icaw2g5qmwjf9k0qd4d9gazd91kf1djycpk5ahwh4kmlp"
        );
    }

    #[test]
    fn anything_else_is_not_found_with_a_reason() {
        for (path, why) in [
            ("/", "no such resource"),
            ("nix-cache-info", "start with"),
            ("/short.narinfo", "store hash"),
            (&format!("/{}.narinfo", "e".repeat(32)), "store hash"),
            (&format!("/nar/lzip/{H}-x"), "compression"),
            (&format!("/nar/none/{H}-x"), "compression"),
            (&format!("/nar/{H}-a%2"), "percent"),
            (&format!("/nar/{H}-a%2Fb"), "store item"),
            (&format!("/nar/{H}"), "store item"),
            ("/nar/../../etc/passwd", "no such resource"),
            ("/file/x/md5/abc", "only sha256"),
            (
                "/file/a%2Fb/sha256/1ysbwi8icaw2g5qmwjf9k0qd4d9gazd91kf1djycpk5ahwh4kmlp",
                "store name",
            ),
            ("/file/x/sha256/xyz", "52 characters"),
            (&"/x".repeat(600), "longer than"),
        ] {
            match Route::parse(path) {
                Route::NotFound(m) => assert!(m.contains(why), "{path}: {m}"),
                other => panic!("{path}: {other:?}"),
            }
        }
    }

    proptest! {
        #[test]
        fn percent_encoding_round_trips(s in "[ -~]{0,40}") {
            prop_assert_eq!(percent_decode(&percent_encode(&s)).unwrap(), s);
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,200}") {
            let _ = Route::parse(&s);
        }
    }
}
