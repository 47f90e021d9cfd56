//! `--diff`: two servers' NARs of one item, compared file by file as they
//! stream, without unpacking either to disk.
//!
//! Each NAR is read from its server (decompressed on the way, through
//! [`abovo_fetch`]'s client and decoders) and parsed entry by entry: a
//! listing of paths, kinds, modes, symlink targets, and each regular
//! file's size and SHA-256. The two listings give the changes, in the
//! terms of `abovo diff` ([`abovo_build::diff::Change`]). Files that
//! differ and are small enough to show ([`TEXT_LIMIT`]) are then read
//! again, from a second pass over both NARs that keeps only their bytes,
//! so memory holds the listing and those files, never a whole archive.
//!
//! Each stream is held to its narinfo: more bytes than `NarSize` stop it
//! (an oversized NAR), an archive that ends early is an error (a
//! truncated NAR), and the hash of what was read must be `NarHash`.

use abovo_build::diff::{
    Change, ContentDiff, Kind, TEXT_LIMIT, TreeDiff, compare_bytes, name_text,
};
use abovo_fetch::HttpClient;
use abovo_fetch::substitute::nar_copy;
use abovo_store::HashAlgo;
use abovo_store::nar::{HashingReader, NarVisitor};
use abovo_store::narinfo::NarInfo;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read};
use std::path::PathBuf;

/// One entry of an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A directory.
    Directory,
    /// A symbolic link and its target.
    Symlink(Vec<u8>),
    /// A regular file.
    Regular {
        /// Its executable bit.
        executable: bool,
        /// Its size.
        size: u64,
        /// The SHA-256 of its bytes.
        sha256: Vec<u8>,
        /// Its bytes, when they were asked for.
        contents: Option<Vec<u8>>,
    },
}

/// What an archive holds, by path (relative, `/`-separated; the root is
/// the empty path).
pub type Listing = BTreeMap<Vec<u8>, Entry>;

struct Lister<'a> {
    listing: Listing,
    keep: &'a BTreeSet<Vec<u8>>,
}

impl NarVisitor for Lister<'_> {
    fn directory(&mut self, path: &[u8]) -> io::Result<()> {
        self.listing.insert(path.to_vec(), Entry::Directory);
        Ok(())
    }

    fn symlink(&mut self, path: &[u8], target: &[u8]) -> io::Result<()> {
        self.listing
            .insert(path.to_vec(), Entry::Symlink(target.to_vec()));
        Ok(())
    }

    fn regular(
        &mut self,
        path: &[u8],
        executable: bool,
        size: u64,
        contents: &mut dyn Read,
    ) -> io::Result<()> {
        let mut hasher = HashAlgo::Sha256.hasher();
        let kept = if self.keep.contains(path) && size <= TEXT_LIMIT {
            let mut bytes = Vec::with_capacity(size as usize);
            contents.read_to_end(&mut bytes)?;
            hasher.update(&bytes);
            Some(bytes)
        } else {
            io::copy(contents, &mut hasher)?;
            None
        };
        self.listing.insert(
            path.to_vec(),
            Entry::Regular {
                executable,
                size,
                sha256: hasher.finish().digest().to_vec(),
                contents: kept,
            },
        );
        Ok(())
    }
}

/// A reader that fails once more than `limit` bytes come through.
struct AtMost<R> {
    inner: R,
    left: u64,
    limit: u64,
}

impl<R: Read> Read for AtMost<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n as u64 > self.left {
            return Err(io::Error::other(format!(
                "the NAR is larger than its NarSize ({} bytes)",
                self.limit
            )));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Streams the NAR `info` describes from `server` and lists it, keeping
/// the bytes of the regular files in `keep`.
pub fn list(
    client: &HttpClient,
    server: &str,
    info: &NarInfo,
    keep: &BTreeSet<Vec<u8>>,
) -> Result<Listing, String> {
    let (url, compression, _) = nar_copy(server, info).map_err(|e| e.into_message())?;
    let body = client
        .open(&url)
        .map_err(|e| format!("{url}: {}", e.into_message()))?;
    list_stream(body, compression, info, keep).map_err(|e| format!("{url}: {e}"))
}

/// [`list`] on a stream already open: `body` in `compression`.
pub fn list_stream(
    body: impl Read,
    compression: abovo_fetch::compression::Compression,
    info: &NarInfo,
    keep: &BTreeSet<Vec<u8>>,
) -> Result<Listing, String> {
    let decoder = compression
        .decoder(io::BufReader::with_capacity(1 << 16, body))
        .map_err(|e| format!("cannot decompress ({}): {e}", compression.name()))?;
    let limited = AtMost {
        inner: decoder,
        left: info.nar_size,
        limit: info.nar_size,
    };
    let mut hashing = HashingReader::new(limited);
    let mut lister = Lister {
        listing: Listing::new(),
        keep,
    };
    let parsed = abovo_store::nar::parse(&mut hashing, &mut lister);
    let nar = hashing.finish();
    parsed.map_err(|e| format!("the NAR ({}) is not valid: {e}", compression.name()))?;
    if nar.hash != info.nar_hash || nar.size != info.nar_size {
        return Err(format!(
            "NarHash mismatch: the narinfo says {} ({} bytes), the NAR is {} ({} bytes)",
            info.nar_hash, info.nar_size, nar.hash, nar.size
        ));
    }
    Ok(lister.listing)
}

/// Compares the NARs of one item on two servers: `(server, narinfo)` each.
/// `old` and `new` in the result are the two NAR URLs.
pub fn diff(
    client: &HttpClient,
    a: (&str, &NarInfo),
    b: (&str, &NarInfo),
) -> Result<TreeDiff, String> {
    let none = BTreeSet::new();
    let both = |keep_a: &BTreeSet<Vec<u8>>, keep_b: &BTreeSet<Vec<u8>>| {
        std::thread::scope(|s| {
            let left = s.spawn(|| list(client, a.0, a.1, keep_a));
            let right = list(client, b.0, b.1, keep_b);
            let left = left
                .join()
                .unwrap_or_else(|_| Err("internal error: the listing thread panicked".into()));
            Ok::<_, String>((left?, right?))
        })
    };
    let (mut old, mut new) = both(&none, &none)?;
    let wanted: BTreeSet<Vec<u8>> = old
        .iter()
        .filter_map(|(path, e)| match (e, new.get(path)) {
            (
                Entry::Regular {
                    sha256: x,
                    size: sa,
                    ..
                },
                Some(Entry::Regular {
                    sha256: y,
                    size: sb,
                    ..
                }),
            ) if x != y && *sa <= TEXT_LIMIT && *sb <= TEXT_LIMIT => Some(path.clone()),
            _ => None,
        })
        .collect();
    if !wanted.is_empty() {
        (old, new) = both(&wanted, &wanted)?;
    }
    let url = |s: &str, i: &NarInfo| nar_copy(s, i).map(|c| c.0).unwrap_or_default();
    Ok(TreeDiff {
        old: PathBuf::from(url(a.0, a.1)),
        new: PathBuf::from(url(b.0, b.1)),
        changes: changes(&old, &new),
    })
}

/// The changes from `old` to `new`, in path order; the entries under an
/// added or removed directory are not listed again.
pub fn changes(old: &Listing, new: &Listing) -> Vec<Change> {
    let paths: BTreeSet<&Vec<u8>> = old.keys().chain(new.keys()).collect();
    let mut out = Vec::new();
    let mut gone: Option<Vec<u8>> = None;
    for path in paths {
        if let Some(g) = &gone {
            if path.starts_with(g) && (g.is_empty() || path.get(g.len()) == Some(&b'/')) {
                continue;
            }
        }
        let (text, path_bytes) = name_text(path);
        match (old.get(path), new.get(path)) {
            (Some(e), None) => {
                gone = Some(path.clone());
                out.push(Change::Removed {
                    path: text,
                    path_bytes,
                    kind: kind(e),
                });
            }
            (None, Some(e)) => {
                gone = Some(path.clone());
                out.push(Change::Added {
                    path: text,
                    path_bytes,
                    kind: kind(e),
                });
            }
            (Some(a), Some(b)) => {
                if let Some(c) = change(text, path_bytes, a, b) {
                    out.push(c);
                }
            }
            (None, None) => {}
        }
    }
    out
}

fn kind(e: &Entry) -> Kind {
    match e {
        Entry::Directory => Kind::Directory,
        Entry::Symlink(_) => Kind::Symlink,
        Entry::Regular { .. } => Kind::File,
    }
}

/// A store's modes: what a NAR's executable bit stands for.
fn mode(executable: bool) -> u32 {
    if executable { 0o555 } else { 0o444 }
}

fn change(path: String, path_bytes: Option<String>, a: &Entry, b: &Entry) -> Option<Change> {
    match (a, b) {
        (Entry::Directory, Entry::Directory) => None,
        (Entry::Symlink(x), Entry::Symlink(y)) => {
            (x != y).then(|| Change::symlink(path, path_bytes, x, y))
        }
        (
            Entry::Regular {
                executable: xa,
                size: sa,
                sha256: ha,
                contents: ca,
            },
            Entry::Regular {
                executable: xb,
                size: sb,
                sha256: hb,
                contents: cb,
            },
        ) => {
            if ha != hb {
                let diff = match (ca, cb) {
                    (Some(a), Some(b)) => compare_bytes(a, b, &path),
                    _ => None,
                }
                .unwrap_or_else(|| ContentDiff::Binary {
                    ranges: Vec::new(),
                    more: true,
                    hex: format!(
                        "too large to show here (over {}): SHA-256 {} and {}",
                        abovo_build::diff::bytes(TEXT_LIMIT),
                        abovo_store::encoding::base16_encode(ha),
                        abovo_store::encoding::base16_encode(hb)
                    ),
                });
                Some(Change::Content {
                    path,
                    path_bytes,
                    old_size: *sa,
                    new_size: *sb,
                    diff,
                })
            } else if xa != xb {
                Some(Change::Mode {
                    path,
                    path_bytes,
                    old: mode(*xa),
                    new: mode(*xb),
                })
            } else {
                None
            }
        }
        _ => Some(Change::Type {
            path,
            path_bytes,
            old: kind(a),
            new: kind(b),
        }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use abovo_fetch::compression::Compression;
    use abovo_store::nar::Tree;

    fn nar(tree: &Tree) -> Vec<u8> {
        tree.to_nar()
    }

    fn info(bytes: &[u8]) -> NarInfo {
        NarInfo::new(
            "/gnu/store/00000000000000000000000000000000-x".into(),
            HashAlgo::Sha256.digest(bytes),
            bytes.len() as u64,
        )
    }

    fn file(s: &str) -> Tree {
        Tree::Regular {
            executable: false,
            contents: s.as_bytes().to_vec(),
        }
    }

    fn dir(entries: Vec<(&str, Tree)>) -> Tree {
        Tree::Directory(
            entries
                .into_iter()
                .map(|(n, t)| (n.as_bytes().to_vec(), t))
                .collect(),
        )
    }

    #[test]
    fn listings_give_abovo_diffs_changes() {
        let a = nar(&dir(vec![
            ("bin", dir(vec![("hello", file("v1\n"))])),
            ("gone", dir(vec![("inner", file("x"))])),
            (
                "link",
                Tree::Symlink {
                    target: b"bin/hello".to_vec(),
                },
            ),
            ("same", file("same\n")),
        ]));
        let b = nar(&dir(vec![
            ("bin", dir(vec![("hello", file("v2\n"))])),
            (
                "link",
                Tree::Symlink {
                    target: b"elsewhere".to_vec(),
                },
            ),
            ("new", file("n")),
            ("same", file("same\n")),
        ]));
        let keep: BTreeSet<Vec<u8>> = [b"bin/hello".to_vec()].into();
        let old = list_stream(&a[..], Compression::None, &info(&a), &keep).unwrap();
        let new = list_stream(&b[..], Compression::None, &info(&b), &keep).unwrap();
        let c = changes(&old, &new);
        let summary: Vec<String> = c.iter().map(Change::summary).collect();
        assert_eq!(c.len(), 4, "{summary:?}");
        assert_eq!(c[0].path(), "bin/hello");
        let Change::Content {
            diff: ContentDiff::Text { unified },
            ..
        } = &c[0]
        else {
            panic!("{:?}", c[0])
        };
        assert!(
            unified.contains("-v1") && unified.contains("+v2"),
            "{unified}"
        );
        assert!(matches!(&c[1], Change::Removed { path, .. } if path == "gone"));
        assert!(matches!(&c[2], Change::Symlink { new, .. } if new == "elsewhere"));
        assert!(matches!(&c[3], Change::Added { path, .. } if path == "new"));
    }

    #[test]
    fn truncated_oversized_and_mismatched_nars_are_refused() {
        let a = nar(&dir(vec![("f", file("hello"))]));
        let none = BTreeSet::new();
        let whole = info(&a);
        let cut = list_stream(&a[..a.len() - 9], Compression::None, &whole, &none).unwrap_err();
        assert!(cut.contains("ends early"), "{cut}");
        let mut long = a.clone();
        long.extend_from_slice(&[0; 64]);
        let over = list_stream(&long[..], Compression::None, &whole, &none).unwrap_err();
        assert!(over.contains("larger than its NarSize"), "{over}");
        let mut other = whole.clone();
        other.nar_hash = HashAlgo::Sha256.digest(b"something else");
        let bad = list_stream(&a[..], Compression::None, &other, &none).unwrap_err();
        assert!(bad.contains("NarHash mismatch"), "{bad}");
        let junk =
            list_stream(&b"nix-archive-2"[..], Compression::None, &whole, &none).unwrap_err();
        assert!(junk.contains("not valid"), "{junk}");
    }
}
