//! Name and URL rules: the weakest evidence, for seeds whose bytes are not
//! at hand and whose hash no knowledge-base entry lists.
//!
//! Each rule has an id (reported as `rule:<id>`), the kind it gives and a
//! one-line justification. They are tried in the order of [`RULES`]; the
//! first that matches wins. A rule says what a name or URL *conventionally*
//! means; only a content scan can confirm it, which is why content and the
//! knowledge base always win over rules.

use crate::kind::Kind;
use serde::Serialize;

/// What the rules look at.
#[derive(Debug, Clone, Default)]
pub struct Facts<'a> {
    /// The seed's store name (`hello-2.12.2.tar.gz`, `bash52-001`, `module-import`).
    pub name: &'a str,
    /// The URLs a fixed-output derivation fetches from (empty for input
    /// sources).
    pub urls: &'a [String],
    /// The fixed-output derivation's builder (`builtin:download`,
    /// `builtin:git-download`, a Guile path …).
    pub builder: Option<&'a str>,
    /// Whether the seed is an input source (added to the store, not fetched).
    pub input_source: bool,
}

/// A rule.
#[derive(Debug, Serialize)]
pub struct Rule {
    /// Its id.
    pub id: &'static str,
    /// The kind it gives.
    pub kind: Kind,
    /// Why the rule holds, in one line.
    pub justification: &'static str,
    /// The test, given the facts and their [`file_names`].
    #[serde(skip)]
    test: fn(&Facts<'_>, &[String]) -> bool,
}

impl Rule {
    /// Whether the rule applies.
    pub fn matches(&self, facts: &Facts<'_>) -> bool {
        (self.test)(facts, &file_names(facts))
    }
}

/// The seed name, lower-cased, first; then the last component of each
/// URL, without a query string, lower-cased; each once (the mirrors of a
/// download mostly end in the same file name, and the rules ask whether
/// any name matches).
fn file_names(f: &Facts<'_>) -> Vec<String> {
    let mut names = vec![f.name.to_ascii_lowercase()];
    for u in f.urls {
        let no_query = u.split(['?', '#']).next().unwrap_or(u);
        if let Some(last) = no_query.trim_end_matches('/').rsplit('/').next() {
            if !names.iter().any(|n| n.eq_ignore_ascii_case(last)) {
                names.push(last.to_ascii_lowercase());
            }
        }
    }
    names
}

fn any_url(f: &Facts<'_>, pred: impl Fn(&str) -> bool) -> bool {
    f.urls.iter().any(|u| pred(u))
}

const PLATFORM_MARKERS: &[&str] = &[
    "x86_64-linux",
    "i386-linux",
    "i686-linux",
    "aarch64-linux",
    "armhf-linux",
    "-linux-x86_64",
    "-linux-amd64",
    "-linux-x64",
    "-linux-arm64",
    "linux64",
    "-unknown-linux-",
    "-pc-linux-gnu",
    "amd64-unix",
    "x86-unix",
    "-bin.tar",
    "_bin.tar",
    "-binary.tar",
    "-bin.zip",
];

const BINARY_PACKAGE_EXTENSIONS: &[&str] = &[
    ".appimage",
    ".exe",
    ".msi",
    ".dmg",
    ".deb",
    ".rpm",
    ".apk",
    ".snap",
];

fn has_platform_marker(name: &str) -> bool {
    let source_like = name.contains("-src") || name.contains("source") || name.contains(".orig.");
    (!source_like && PLATFORM_MARKERS.iter().any(|m| name.contains(m)))
        || BINARY_PACKAGE_EXTENSIONS.iter().any(|e| name.ends_with(e))
}

const ARCHIVE_EXTENSIONS: &[&str] = &[
    ".tar.gz",
    ".tgz",
    ".tar.xz",
    ".txz",
    ".tar.bz2",
    ".tbz2",
    ".tbz",
    ".tar.lz",
    ".tar.zst",
    ".tar.z",
    ".tar",
    ".zip",
    ".crate",
    ".gem",
    ".tar.lzma",
];

fn is_archive(name: &str) -> bool {
    ARCHIVE_EXTENSIONS.iter().any(|e| name.ends_with(e))
}

const SOURCE_EXTENSIONS: &[&str] = &[
    ".c",
    ".h",
    ".cc",
    ".cpp",
    ".cxx",
    ".hpp",
    ".hh",
    ".py",
    ".pl",
    ".pm",
    ".rb",
    ".sh",
    ".bash",
    ".el",
    ".scm",
    ".lisp",
    ".lsp",
    ".cl",
    ".go",
    ".rs",
    ".java",
    ".js",
    ".mjs",
    ".ts",
    ".css",
    ".html",
    ".htm",
    ".xml",
    ".xsd",
    ".xsl",
    ".dtd",
    ".json",
    ".yaml",
    ".yml",
    ".toml",
    ".txt",
    ".md",
    ".rst",
    ".org",
    ".in",
    ".am",
    ".ac",
    ".m4",
    ".cabal",
    ".tex",
    ".sty",
    ".cls",
    ".bib",
    ".po",
    ".sql",
    ".ml",
    ".mli",
    ".hs",
    ".lua",
    ".tcl",
    ".awk",
    ".sed",
    ".cmake",
    ".mk",
    ".conf",
    ".cfg",
    ".ini",
    ".desktop",
    ".service",
    ".texi",
    ".pod",
    ".svg",
    ".patch",
    ".diff",
    ".jl",
    ".r",
    ".vim",
    ".nix",
    ".cs",
    ".fs",
    ".kt",
    ".scala",
    ".clj",
    ".erl",
    ".ex",
    ".exs",
    ".hx",
    ".d",
    ".pas",
    ".asm",
    ".s",
    ".php",
    ".ps1",
    ".bat",
    ".cmd",
    ".proto",
    ".gradle",
    ".properties",
    ".csv",
    ".tsv",
];

const SOURCE_HOSTS: &[&str] = &[
    "mirror://gnu/",
    "mirror://savannah/",
    "mirror://kernel.org/",
    "mirror://cpan/",
    "mirror://cran/",
    "mirror://gnome/",
    "mirror://kde/",
    "mirror://xorg/",
    "mirror://apache/",
    "mirror://debian/",
    "mirror://hackage/",
    "mirror://gnupg/",
    "mirror://openbsd/",
    "mirror://samba/",
    "mirror://sourceware/",
    "ftp.gnu.org/gnu/",
    "ftpmirror.gnu.org/",
    "download.savannah.",
    "files.pythonhosted.org/packages/source/",
    "pypi.org/packages/source/",
    "crates.io/api/v1/crates/",
    "static.crates.io/crates/",
    "hackage.haskell.org/package/",
    "rubygems.org/downloads/",
    "bioconductor.org/packages/",
    "/archive/refs/tags/",
    "codeload.github.com/",
    "/-/archive/",
    "registry.npmjs.org/",
    "ctan.org/",
];

fn scheme_script_name(name: &str) -> bool {
    name.ends_with("-builder")
        || name == "compile-modules"
        || name.ends_with("-guile-builder")
        || name.starts_with("build-bootstrap-guile")
}

/// `ocaml-4.14.1.tar.xz`, `ocaml-5.3.0-checkout` fetched from OCaml's own
/// release directory or repository (not `ocaml-findlib-…`, not a fork).
fn ocaml_compiler_source(f: &Facts<'_>) -> bool {
    let versioned = f
        .name
        .strip_prefix("ocaml-")
        .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()));
    // The URLs (lower-cased, a copy each) only for the few seeds so named:
    // every seed of an audit is asked.
    let upstream = || {
        any_url(f, |u| {
            let u = u.to_ascii_lowercase();
            let repo = u.trim_end_matches('/').trim_end_matches(".git");
            u.contains("caml.inria.fr/pub/distrib/ocaml-")
                || u.contains("github.com/ocaml/ocaml/archive/")
                || u.contains("github.com/ocaml/ocaml/releases/")
                || repo.ends_with("github.com/ocaml/ocaml")
        })
    };
    !f.input_source && versioned && upstream()
}

/// The rules, in the order they are tried.
pub static RULES: &[Rule] = &[
    Rule {
        id: "guix-bootstrap-directory",
        kind: Kind::Binary,
        justification: "Guix keeps its pre-built bootstrap binaries under guix/bootstrap (gnu/packages/bootstrap.scm)",
        test: |f, _| {
            any_url(f, |u| {
                u.contains("/guix/bootstrap/") || u.contains("gnu/packages/bootstrap/")
            })
        },
    },
    Rule {
        id: "stage0-seeds",
        kind: Kind::SourceWithBinaries,
        justification: "stage0-posix releases carry the bootstrap-seeds tree of hand-written binary seeds",
        test: |f, _| {
            !f.input_source
                && (f.name.starts_with("stage0-posix") || f.name.starts_with("bootstrap-seeds"))
        },
    },
    Rule {
        id: "ocaml-compiler-source",
        kind: Kind::SourceWithBinaries,
        justification: "OCaml compiler sources (release tarballs and checkouts of github.com/ocaml/ocaml) carry boot/ocamlc and boot/ocamllex, the bytecode compilers their build starts from",
        test: |f, _| ocaml_compiler_source(f),
    },
    Rule {
        id: "platform-binary-name",
        kind: Kind::Binary,
        justification: "release files named after the platform they run on (x86_64-linux, -bin.tar, .deb …) are pre-built; source is not tied to a platform",
        test: |f, names| !f.input_source && names.iter().any(|n| has_platform_marker(n)),
    },
    Rule {
        id: "sources-jar",
        kind: Kind::Source,
        justification: "a jar named as sources (-sources.jar, -src.jar, ecjsrc-…) holds .java files by the Maven convention",
        test: |_, names| {
            names
                .iter()
                .any(|n| n.ends_with(".jar") && (n.contains("src") || n.contains("source")))
        },
    },
    Rule {
        id: "jar-bytecode",
        kind: Kind::Binary,
        justification: "a .jar (not named as sources) holds compiled JVM class files",
        test: |_, names| names.iter().any(|n| n.ends_with(".jar")),
    },
    Rule {
        id: "pure-python-wheel",
        kind: Kind::Source,
        justification: "a py*-none-any wheel has no platform tag, so it carries Python source, not compiled extensions",
        test: |_, names| names.iter().any(|n| n.ends_with("-none-any.whl")),
    },
    Rule {
        id: "platform-wheel",
        kind: Kind::Binary,
        justification: "a wheel with a platform tag carries compiled extension modules",
        test: |_, names| names.iter().any(|n| n.ends_with(".whl")),
    },
    Rule {
        id: "minified-name",
        kind: Kind::Generated,
        justification: "*.min.js, *.min.css and *.bundle.js are, by universal convention, minifier or bundler output",
        test: |_, names| {
            names.iter().any(|n| {
                n.ends_with(".min.js")
                    || n.ends_with(".min.css")
                    || n.ends_with(".min.mjs")
                    || n.ends_with(".bundle.js")
            })
        },
    },
    Rule {
        id: "vcs-checkout",
        kind: Kind::Source,
        justification: "a version-control checkout holds what its authors committed: normally source (committed blobs show only in a content scan)",
        test: |f, _| f.builder == Some("builtin:git-download") || f.name.ends_with("-checkout"),
    },
    Rule {
        id: "guix-build-script",
        kind: Kind::Generated,
        justification: "Guix writes these Scheme build scripts from package recipes: readable, but machine-made",
        test: |f, _| f.input_source && scheme_script_name(f.name),
    },
    Rule {
        id: "guix-module-tree",
        kind: Kind::Source,
        justification: "a tree of Guile modules copied from Guix's own Scheme sources",
        test: |f, _| {
            f.input_source && (f.name == "module-import" || f.name == "module-import-source")
        },
    },
    Rule {
        id: "guix-download-lists",
        kind: Kind::Source,
        justification: "mirror lists that Guix writes as text for its downloaders",
        test: |f, _| f.input_source && f.name.ends_with("mirrors"),
    },
    Rule {
        id: "source-file-extension",
        kind: Kind::Source,
        justification: "a single file with a source-code or text extension (.c, .scm, .patch …)",
        // The first of the file names is the seed's name, lower-cased.
        test: |_, names| {
            names
                .first()
                .is_some_and(|n| SOURCE_EXTENSIONS.iter().any(|e| n.ends_with(e)))
        },
    },
    Rule {
        id: "source-release-host",
        kind: Kind::Source,
        justification: "release archives from GNU, PyPI sdists, crates.io, Hackage, CPAN, CRAN, Bioconductor, RubyGems or forge tag archives are source distributions by the host's convention",
        test: |f, _| any_url(f, |u| SOURCE_HOSTS.iter().any(|h| u.contains(h))),
    },
    Rule {
        id: "versioned-source-archive",
        kind: Kind::Source,
        justification: "a versioned release archive with no platform in its name is, by convention, a source release",
        test: |f, names| {
            !f.input_source
                && names
                    .iter()
                    .any(|n| is_archive(n) && n.bytes().any(|b| b.is_ascii_digit()))
        },
    },
];

/// The first rule that matches, or `None`.
pub fn apply(facts: &Facts<'_>) -> Option<&'static Rule> {
    // The file names once, not once per rule that looks at them.
    let names = file_names(facts);
    RULES.iter().find(|r| (r.test)(facts, &names))
}

/// Splits the `url` variable of a fixed-output derivation into URLs: Guix
/// writes either one URL or a Scheme list of quoted strings.
pub fn split_urls(value: &str) -> Vec<String> {
    let v = value.trim();
    if !v.contains('"') {
        return if v.is_empty() {
            vec![]
        } else {
            vec![v.to_owned()]
        };
    }
    let mut out = Vec::new();
    let mut rest = v;
    while let Some(start) = rest.find('"') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('"') else { break };
        out.push(after[..end].to_owned());
        rest = &after[end + 1..];
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    fn fod<'a>(name: &'a str, urls: &'a [String], builder: &'a str) -> Facts<'a> {
        Facts {
            name,
            urls,
            builder: Some(builder),
            input_source: false,
        }
    }

    fn src(name: &str) -> Facts<'_> {
        Facts {
            name,
            urls: &[],
            builder: None,
            input_source: true,
        }
    }

    fn id(f: &Facts<'_>) -> Option<&'static str> {
        apply(f).map(|r| r.id)
    }

    #[test]
    fn rule_ids_are_unique() {
        let mut ids: Vec<_> = RULES.iter().map(|r| r.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), RULES.len());
    }

    #[test]
    fn docs_list_every_rule_in_order() {
        // docs/trust.md documents the rules; it must not drift from them.
        let docs = include_str!("../../../docs/trust.md");
        let mut at = 0;
        for r in RULES {
            let needle = format!("| `{}` | {} |", r.id, r.kind.name());
            let found = docs[at..].find(&needle);
            assert!(
                found.is_some(),
                "docs/trust.md lacks, or misorders, the row {needle}"
            );
            at += found.unwrap_or(0);
        }
    }

    #[test]
    fn urls_are_split() {
        assert_eq!(split_urls("https://a/b.tar.gz"), ["https://a/b.tar.gz"]);
        assert_eq!(
            split_urls("(\"https://a/x\" \"mirror://gnu/x\")"),
            ["https://a/x", "mirror://gnu/x"]
        );
        assert!(split_urls("").is_empty());
    }

    #[test]
    fn rules_on_real_corpus_names() {
        let u = |s: &str| vec![s.to_owned()];
        let boot = u("https://ftpmirror.gnu.org/guix/bootstrap/i686-linux/bash?id=44f0");
        assert_eq!(
            id(&fod("bash", &boot, "builtin:download")),
            Some("guix-bootstrap-directory")
        );
        let ghc =
            u("https://www.haskell.org/ghc/dist/7.8.4/ghc-7.8.4-x86_64-unknown-linux-deb7.tar.xz");
        assert_eq!(
            id(&fod(
                "ghc-7.8.4-x86_64-unknown-linux-deb7.tar.xz",
                &ghc,
                "builtin:download"
            )),
            Some("platform-binary-name")
        );
        let hello = u("mirror://gnu/hello/hello-2.12.2.tar.gz");
        assert_eq!(
            id(&fod("hello-2.12.2.tar.gz", &hello, "builtin:download")),
            Some("source-release-host")
        );
        let stage0 = u(
            "https://github.com/oriansj/stage0-posix/releases/download/Release_1.6.0/stage0-posix-1.6.0.tar.gz",
        );
        assert_eq!(
            id(&fod(
                "stage0-posix-1.6.0.tar.gz",
                &stage0,
                "builtin:download"
            )),
            Some("stage0-seeds")
        );
        let ocaml = u("http://caml.inria.fr/pub/distrib/ocaml-4.14/ocaml-4.14.1.tar.xz");
        assert_eq!(
            id(&fod("ocaml-4.14.1.tar.xz", &ocaml, "builtin:download")),
            Some("ocaml-compiler-source")
        );
        let repo = u("https://github.com/ocaml/ocaml");
        assert_eq!(
            id(&fod("ocaml-5.3.0-checkout", &repo, "builtin:git-download")),
            Some("ocaml-compiler-source")
        );
        // OCaml libraries and forks are not the compiler's sources.
        let findlib = u("http://download.camlcity.org/download/findlib-1.9.6.tar.gz");
        assert_ne!(
            id(&fod(
                "ocaml-findlib-1.9.6.tar.gz",
                &findlib,
                "builtin:download"
            )),
            Some("ocaml-compiler-source")
        );
        let fork = u("https://github.com/ocaml/ocaml-lsp");
        assert_ne!(
            id(&fod("ocaml-5.0.0-checkout", &fork, "builtin:git-download")),
            Some("ocaml-compiler-source")
        );
        let jar = u("https://repo1.maven.org/maven2/jaxen/jaxen/1.1.6/jaxen-1.1.6-sources.jar");
        assert_eq!(
            id(&fod("jaxen-1.1.6-sources.jar", &jar, "builtin:download")),
            Some("sources-jar")
        );
        let ecj = u(
            "http://archive.eclipse.org/eclipse/downloads/drops4/R-4.2.1-201209141800/ecjsrc-4.2.1.jar",
        );
        assert_eq!(
            id(&fod("ecjsrc-4.2.1.jar", &ecj, "builtin:download")),
            Some("sources-jar")
        );
        let bin = u("https://repo1.maven.org/maven2/junit/junit/4.12/junit-4.12.jar");
        assert_eq!(
            id(&fod("junit-4.12.jar", &bin, "builtin:download")),
            Some("jar-bytecode")
        );
        let git = u("https://github.com/rizsotto/Bear");
        assert_eq!(
            id(&fod("bear-3.1.6-checkout", &git, "builtin:git-download")),
            Some("vcs-checkout")
        );
        let js = u(
            "https://raw.githubusercontent.com/twbs/bootstrap/v4.6.0/dist/js/bootstrap.bundle.js",
        );
        assert_eq!(
            id(&fod("bootstrap.bundle.js", &js, "builtin:download")),
            Some("minified-name")
        );
        assert_eq!(id(&src("hello-2.12.2-builder")), Some("guix-build-script"));
        assert_eq!(
            id(&src("stage0-posix-1.6.0-builder")),
            Some("guix-build-script")
        );
        assert_eq!(
            id(&src("glibc-2.41-ldd-x86_64.patch")),
            Some("source-file-extension")
        );
        assert_eq!(id(&src("module-import")), Some("guix-module-tree"));
        assert_eq!(
            id(&src("content-addressed-mirrors")),
            Some("guix-download-lists")
        );
        // Nothing applies: honest unknown.
        assert_eq!(id(&src("mystery-blob")), None);
        let odd = u("https://example.org/download?id=7");
        assert_eq!(id(&fod("payload", &odd, "builtin:download")), None);
    }
}
