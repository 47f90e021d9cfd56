//! Debian's source archive as a content-addressed mirror.
//!
//! Debian keeps upstream tarballs unchanged (`*.orig.tar.*`), and its
//! `Sources` indices list the SHA-256 of every file of every source
//! package. So a fixed output with a flat SHA-256 hash that Debian also
//! ships is found by looking its hash up in the indices, and fetched from
//! `<archive>/<Directory>/<file>`; the bytes are verified like any others.
//!
//! * [`AptSource`]s are read from the machine's apt configuration
//!   ([`apt_sources`]: `/etc/apt/sources.list.d/*.sources` in deb822 form
//!   and the one-line `sources.list` form), or given.
//! * An index is `<archive>/dists/<suite>/<component>/source/Sources.xz`
//!   (deb822 paragraphs, [`parse_sources`]); what abovo needs of it (hash,
//!   size, path) is kept in the cache as a TSV ([`Index`]), reused for a
//!   day.

use std::collections::HashMap;
use std::path::Path;

/// One archive, suite and component to look in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AptSource {
    /// The archive's base URL (`http://deb.debian.org/debian`).
    pub uri: String,
    /// The suite (`bookworm`).
    pub suite: String,
    /// The component (`main`).
    pub component: String,
}

impl AptSource {
    /// The URL of its `Sources.xz` index.
    pub fn index_url(&self) -> String {
        format!(
            "{}/dists/{}/{}/source/Sources.xz",
            self.uri.trim_end_matches('/'),
            self.suite,
            self.component
        )
    }

    /// The file name of its parsed index in the cache.
    pub fn cache_name(&self) -> String {
        let raw = format!("{}_{}_{}", self.uri, self.suite, self.component);
        let safe: String = raw
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!("{safe}.tsv")
    }
}

/// The apt sources of this machine: every `deb` or `deb-src` entry of
/// `<root>/etc/apt/sources.list`, `<root>/etc/apt/sources.list.d/*.list`
/// and `*.sources`, each suite and component once, in the order read.
/// Unreadable files are skipped (apt ignores what it cannot read too).
pub fn apt_sources(root: &Path) -> Vec<AptSource> {
    let mut out: Vec<AptSource> = Vec::new();
    let mut add = |s: AptSource| {
        if !out.contains(&s) {
            out.push(s);
        }
    };
    let etc = root.join("etc/apt");
    if let Ok(text) = std::fs::read_to_string(etc.join("sources.list")) {
        parse_one_line(&text).into_iter().for_each(&mut add);
    }
    let mut files: Vec<_> = std::fs::read_dir(etc.join("sources.list.d"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        match f.extension().and_then(|e| e.to_str()) {
            Some("sources") => parse_deb822_sources(&text).into_iter().for_each(&mut add),
            Some("list") => parse_one_line(&text).into_iter().for_each(&mut add),
            _ => {}
        }
    }
    out
}

/// The one-line form: `deb [options] URI SUITE COMPONENT…`.
pub fn parse_one_line(text: &str) -> Vec<AptSource> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let mut words = line.split_whitespace();
        if !matches!(words.next(), Some("deb" | "deb-src")) {
            continue;
        }
        let mut rest: Vec<&str> = words.collect();
        if rest.first().is_some_and(|w| w.starts_with('[')) {
            let end = rest.iter().position(|w| w.ends_with(']')).unwrap_or(0);
            rest.drain(..=end);
        }
        if let [uri, suite, components @ ..] = rest.as_slice() {
            for c in components {
                out.push(AptSource {
                    uri: (*uri).to_owned(),
                    suite: (*suite).to_owned(),
                    component: (*c).to_owned(),
                });
            }
        }
    }
    out
}

/// The deb822 form: paragraphs with `Types`, `URIs`, `Suites`,
/// `Components` (and `Enabled: no` to skip one).
pub fn parse_deb822_sources(text: &str) -> Vec<AptSource> {
    let mut out = Vec::new();
    for para in paragraphs(text) {
        let field = |name: &str| {
            para.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
                .unwrap_or_default()
        };
        if field("Enabled")
            .first()
            .is_some_and(|v| v.eq_ignore_ascii_case("no"))
        {
            continue;
        }
        if !field("Types").iter().any(|t| t == "deb" || t == "deb-src") {
            continue;
        }
        for uri in field("URIs") {
            for suite in field("Suites") {
                for component in field("Components") {
                    out.push(AptSource {
                        uri: uri.clone(),
                        suite: suite.clone(),
                        component,
                    });
                }
            }
        }
    }
    out
}

/// deb822 paragraphs: `(field, value)` pairs, continuation lines (those
/// starting with white space) joined to their field with `\n`, comments
/// (`#`) dropped.
fn paragraphs(text: &str) -> Vec<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut cur: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        if line.trim().is_empty() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = cur.last_mut() {
                v.push('\n');
                v.push_str(line.trim());
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            cur.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// A file of the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveFile {
    /// Its size in bytes, as the index gives it.
    pub size: u64,
    /// Its path under the archive's base URL (`pool/main/p/patch/patch_2.7.6.orig.tar.xz`).
    pub path: String,
}

/// A line of a `Sources` index that does not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Sources index, line {line}: {what}")]
pub struct IndexError {
    /// 1-based.
    pub line: usize,
    /// What is wrong.
    pub what: String,
}

/// The SHA-256 of every file a `Sources` index lists (its
/// `Checksums-Sha256` field: `<hex> <size> <name>` per line), with its
/// path (`Directory/name`). A paragraph without `Directory` is skipped;
/// a checksum line that does not read is an error naming the line.
pub fn parse_sources(text: &str) -> Result<Vec<([u8; 32], ArchiveFile)>, IndexError> {
    let mut out = Vec::new();
    let mut directory: Option<&str> = None;
    let mut pending: Vec<([u8; 32], u64, &str)> = Vec::new();
    let mut in_sums = false;
    let flush = |dir: Option<&str>, pending: &mut Vec<([u8; 32], u64, &str)>, out: &mut Vec<_>| {
        if let Some(dir) = dir {
            for (h, size, name) in pending.drain(..) {
                out.push((
                    h,
                    ArchiveFile {
                        size,
                        path: format!("{}/{name}", dir.trim_end_matches('/')),
                    },
                ));
            }
        }
        pending.clear();
    };
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            flush(directory, &mut pending, &mut out);
            directory = None;
            in_sums = false;
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if !in_sums {
                continue;
            }
            let bad = |what: &str| IndexError {
                line: i + 1,
                what: format!(
                    "{what} in Checksums-Sha256: {:?}",
                    line.chars().take(120).collect::<String>()
                ),
            };
            let mut words = line.split_whitespace();
            let (Some(hex), Some(size), Some(name), None) =
                (words.next(), words.next(), words.next(), words.next())
            else {
                return Err(bad("expected `<sha256> <size> <name>`"));
            };
            let digest = abovo_store::encoding::base16_decode(hex)
                .ok()
                .and_then(|d| <[u8; 32]>::try_from(d).ok())
                .ok_or_else(|| bad("not a SHA-256 in hexadecimal"))?;
            let size = size.parse().map_err(|_| bad("not a size"))?;
            if name.contains('/') || name == ".." || name == "." {
                return Err(bad("a file name with a `/` (or `.`, `..`)"));
            }
            pending.push((digest, size, name));
            continue;
        }
        in_sums = false;
        if let Some((k, v)) = line.split_once(':') {
            match k {
                "Checksums-Sha256" => in_sums = true,
                "Directory" => {
                    let v = v.trim();
                    // Empty, it would make the paths absolute.
                    if v.is_empty() || v.split('/').any(|c| c == "..") || v.starts_with('/') {
                        return Err(IndexError {
                            line: i + 1,
                            what: format!("Directory {v:?} leaves the archive"),
                        });
                    }
                    directory = Some(v);
                }
                _ => {}
            }
        }
    }
    flush(directory, &mut pending, &mut out);
    Ok(out)
}

/// A parsed index: SHA-256 → file.
#[derive(Debug, Clone, Default)]
pub struct Index {
    files: HashMap<[u8; 32], ArchiveFile>,
}

impl Index {
    /// The index of these entries.
    pub fn from_entries(entries: Vec<([u8; 32], ArchiveFile)>) -> Index {
        Index {
            files: entries.into_iter().collect(),
        }
    }

    /// How many files it lists.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether it lists none.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The file with this SHA-256.
    pub fn get(&self, sha256: &[u8; 32]) -> Option<&ArchiveFile> {
        self.files.get(sha256)
    }

    /// The cache form: `<hex>\t<size>\t<path>` per line (nothing for an
    /// empty index).
    pub fn to_tsv(&self) -> String {
        let mut lines: Vec<String> = self
            .files
            .iter()
            .map(|(h, f)| {
                format!(
                    "{}\t{}\t{}",
                    abovo_store::encoding::base16_encode(h),
                    f.size,
                    f.path
                )
            })
            .collect();
        lines.sort();
        let mut s = String::new();
        for line in lines {
            s.push_str(&line);
            s.push('\n');
        }
        s
    }

    /// Reads the cache form; `None` when it does not read (it is then
    /// fetched again).
    pub fn from_tsv(text: &str) -> Option<Index> {
        let mut files = HashMap::new();
        for line in text.lines() {
            let mut parts = line.splitn(3, '\t');
            let h = abovo_store::encoding::base16_decode(parts.next()?).ok()?;
            let size = parts.next()?.parse().ok()?;
            let path = parts.next()?.to_owned();
            files.insert(<[u8; 32]>::try_from(h).ok()?, ArchiveFile { size, path });
        }
        Some(Index { files })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    const SOURCES: &str = "Package: patch
Binary: patch
Version: 2.7.6-7
Checksums-Sha256:
 ac610bda97abe0d9f6b7c963255a11dcb196c25e337c61f94e4778d632f1d8fd 113344 patch_2.7.6.orig.tar.xz
 1111111111111111111111111111111111111111111111111111111111111111 24848 patch_2.7.6-7.debian.tar.xz
Directory: pool/main/p/patch
Priority: source

Package: nodir
Checksums-Sha256:
 2222222222222222222222222222222222222222222222222222222222222222 1 x.tar.gz
";

    #[test]
    fn sources_indices_give_hash_size_and_path() {
        let entries = parse_sources(SOURCES).unwrap();
        assert_eq!(entries.len(), 2, "a paragraph without Directory is skipped");
        let index = Index::from_entries(entries);
        let h: [u8; 32] = abovo_store::encoding::base16_decode(
            "ac610bda97abe0d9f6b7c963255a11dcb196c25e337c61f94e4778d632f1d8fd",
        )
        .unwrap()
        .try_into()
        .unwrap();
        let f = index.get(&h).unwrap();
        assert_eq!(f.path, "pool/main/p/patch/patch_2.7.6.orig.tar.xz");
        assert_eq!(f.size, 113344);
        let back = Index::from_tsv(&index.to_tsv()).unwrap();
        assert_eq!(back.get(&h), Some(f));
        // Found with the fuzz target `debian_sources` (fuzz/): the cache form
        // of an empty index (a lone newline) did not read back, so the index
        // was fetched again on every run.
        let empty = Index::from_tsv(&Index::default().to_tsv()).unwrap();
        assert!(empty.is_empty());
        let err = parse_sources("Package: x\nChecksums-Sha256:\n zz 1 a\n").unwrap_err();
        assert_eq!(err.line, 3);
        let err = parse_sources("Directory: ../../etc\n").unwrap_err();
        assert!(err.what.contains("leaves the archive"), "{err}");
        // Found with the fuzz target `debian_sources`: an empty Directory
        // made the path `/patch`, absolute.
        let err = parse_sources(&format!(
            "Directory:\nChecksums-Sha256:\n {} 1 patch\n",
            "a".repeat(64)
        ))
        .unwrap_err();
        assert!(err.what.contains("leaves the archive"), "{err}");
        let err =
            parse_sources(&format!("Checksums-Sha256:\n {} 1 .\n", "a".repeat(64))).unwrap_err();
        assert!(err.what.contains("`.`"), "{err}");
        let err =
            parse_sources(&format!("Checksums-Sha256:\n {} 1 ../x\n", "a".repeat(64))).unwrap_err();
        assert!(err.what.contains('/'), "{err}");
    }

    #[test]
    fn apt_sources_in_both_forms() {
        let deb822 = "Types: deb\n# a comment\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /x.gpg\n\nTypes: deb\nURIs: http://x/\nSuites: s\nComponents: c\nEnabled: no\n";
        let s = parse_deb822_sources(deb822);
        assert_eq!(s.len(), 2);
        assert_eq!(s[1].suite, "bookworm-updates");
        assert_eq!(
            s[0].index_url(),
            "http://deb.debian.org/debian/dists/bookworm/main/source/Sources.xz"
        );
        let one = parse_one_line(
            "deb [arch=amd64 signed-by=/k] https://a/debian trixie main contrib # x\n# deb http://b s c\n",
        );
        assert_eq!(one.len(), 2);
        assert_eq!(
            (one[0].uri.as_str(), one[1].component.as_str()),
            ("https://a/debian", "contrib")
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc/apt/sources.list.d")).unwrap();
        std::fs::write(
            dir.path().join("etc/apt/sources.list.d/debian.sources"),
            deb822,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("etc/apt/sources.list"),
            "deb http://deb.debian.org/debian bookworm main\n",
        )
        .unwrap();
        assert_eq!(apt_sources(dir.path()).len(), 2, "duplicates are read once");
    }

    proptest::proptest! {
        #[test]
        fn no_index_makes_it_panic(text in "(Directory: [a-z/.]{0,12}\n|Checksums-Sha256:\n| [0-9a-f ]{0,70}\n|\n|[A-Za-z]{1,8}: .{0,10}\n){0,12}") {
            let _ = parse_sources(&text);
        }
    }
}
