//! `abovo scan PATH…`: which compiled code is inside files, directories and
//! archives (the content scanner of [`abovo_trust::content`], on its own).

use crate::exit;
use crate::output::{Context, Format, TEXT_JSON, print_json, sanitize};
use crate::report::human_bytes;
use crate::report::text::{Align, Table, count, plural};
use abovo_trust::content::{
    CodeClass, CodeKind, ContentReport, Limits, Member, Progress, ScanOptions, scan_path_with,
    scan_reader_with,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Find the compiled code inside files, directories and archives.
///
/// Every PATH is read as a stream and opened recursively: tar, gzip, xz,
/// bzip2, lzip, zstd, zip and jar, ar, and archives inside archives. Each
/// member that is compiled code is listed with its path (nested archives
/// joined with `!/`: `a.tar.gz!/dir/b.zip!/x.class`), its size and its
/// kind: native code (ELF, PE and Mach-O executables, shared libraries,
/// objects; static libraries count as one member), bytecode (OCaml bytecode
/// executables by their `Caml1999X` trailer, Java classes, Python `.pyc`,
/// Guile `.go`, Emacs `.elc`, Erlang `.beam`, WebAssembly …); opaque blobs
/// (data no format explains) are listed too. Nothing is written to disk.
///
/// Exit status: 0 when every PATH was scanned to the end; 1 with
/// --fail-on-binary when compiled code was found (and everything was
/// scanned); 2 when a PATH could not be read or its scan could not finish
/// (a corrupt archive, a limit crossed): what was not seen is not vouched
/// for.
#[derive(Debug, clap::Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct Args {
    /// Files, directories or archives to scan; `-` reads standard input.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, short = 'f', default_value = "text", value_parser = Format::parser(TEXT_JSON))]
    pub format: Format,
    /// Exit with status 1 when compiled code (native or bytecode) is found;
    /// opaque blobs do not count.
    #[arg(long)]
    pub fail_on_binary: bool,
    /// List at most N members of each category (compiled code, opaque
    /// blobs) per PATH, in text and JSON; 0 lists them all. Counts and
    /// totals stay exact.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub max_listed: usize,
    /// Also list machine-made text (configure scripts, minified
    /// JavaScript …), which is not compiled code.
    #[arg(long)]
    pub generated: bool,
}

/// The end of `abovo scan --help`: paths, kinds and exit status.
const AFTER_HELP: &str = "\
Archives are opened recursively: tar, gzip, xz, bzip2, lzip, zstd, zip and jar, ar, and
archives inside archives. A member's path joins nested archives with `!/`
(`a.tar.gz!/dir/b.zip!/x.class`). Kinds: native code (ELF, PE and Mach-O executables, shared
libraries and objects, static libraries as one member, x86 boot sectors) and bytecode (OCaml
bytecode executables by their Caml1999X trailer, Java classes, Python .pyc, Guile .go, Emacs
.elc, Erlang .beam, WebAssembly, …); opaque blobs are data no known format explains.

Exit status: 0 when every PATH was scanned to its end; 1 with --fail-on-binary when compiled
code was found; 2 when a PATH could not be read or its scan could not finish (a cut archive,
a limit crossed): what was not seen is not vouched for.";

/// One listed member, in JSON.
#[derive(Debug, Serialize)]
struct Finding<'a> {
    path: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    class: Option<CodeClass>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<CodeKind>,
    what: &'a str,
    size: u64,
}

impl<'a> Finding<'a> {
    fn of(m: &'a Member) -> Finding<'a> {
        Finding {
            path: &m.path,
            class: m.kind.map(CodeKind::class),
            kind: m.kind,
            what: &m.what,
            size: m.size,
        }
    }
}

/// A count in JSON.
#[derive(Debug, Default, Clone, Copy, Serialize)]
struct Count {
    files: u64,
    bytes: u64,
}

/// One kind's total, in JSON.
#[derive(Debug, Serialize)]
struct KindCount {
    kind: CodeKind,
    class: CodeClass,
    label: &'static str,
    files: u64,
    bytes: u64,
}

/// The scan of one PATH, in JSON.
#[derive(Debug, Serialize)]
struct Input<'a> {
    path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    scan: Option<Scanned<'a>>,
}

#[derive(Debug, Serialize)]
struct Scanned<'a> {
    format: &'a str,
    /// Leaves seen (after decompression) and their expanded bytes.
    files: u64,
    bytes: u64,
    verdict: &'static str,
    summary: &'a str,
    complete: bool,
    issues: &'a [String],
    native: Count,
    bytecode: Count,
    opaque: Count,
    kinds: Vec<KindCount>,
    compiled: Vec<Finding<'a>>,
    opaque_blobs: Vec<Finding<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    generated: Option<Vec<Finding<'a>>>,
    /// Whether every member of each category is listed.
    listed_all: bool,
}

/// The whole answer, in JSON.
#[derive(Debug, Serialize)]
struct Answer<'a> {
    inputs: Vec<Input<'a>>,
    native: Count,
    bytecode: Count,
    opaque: Count,
    kinds: Vec<KindCount>,
    compiled_code_found: bool,
    complete: bool,
}

fn class_count(r: &ContentReport, class: CodeClass) -> Count {
    r.code_kinds
        .iter()
        .filter(|t| t.class == class)
        .fold(Count::default(), |c, t| Count {
            files: c.files + t.files,
            bytes: c.bytes + t.bytes,
        })
}

fn kind_counts(totals: &BTreeMap<CodeKind, Count>) -> Vec<KindCount> {
    totals
        .iter()
        .map(|(&kind, c)| KindCount {
            kind,
            class: kind.class(),
            label: kind.label(),
            files: c.files,
            bytes: c.bytes,
        })
        .collect()
}

/// Draws a byte-count progress bar on standard error once the scan has
/// taken a second (never with --quiet or off a terminal).
struct Bar {
    bar: Option<ProgressBar>,
    started: Instant,
    shown: std::cell::Cell<bool>,
}

impl Bar {
    fn new(enabled: bool, total: u64) -> Bar {
        let bar = enabled.then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
            let style = ProgressStyle::with_template(
                "{msg:>8} [{bar:40}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
            )
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.set_message("scanning");
            bar
        });
        Bar {
            bar,
            started: Instant::now(),
            shown: std::cell::Cell::new(false),
        }
    }

    fn advance(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(n);
            if !self.shown.get() && self.started.elapsed() > Duration::from_secs(1) {
                bar.set_draw_target(ProgressDrawTarget::stderr());
                self.shown.set(true);
            }
        }
    }

    fn clear(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// What the bar counts for a PATH: the bytes of a file, of every file of a
/// tree, nothing for standard input.
fn input_size(path: &Path) -> u64 {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_file() => m.len(),
        Ok(m) if m.is_dir() => walkdir_size(path),
        _ => 0,
    }
}

fn walkdir_size(root: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(e.path()),
                Ok(t) if t.is_file() => total += e.metadata().map_or(0, |m| m.len()),
                _ => {}
            }
        }
    }
    total
}

/// Runs `abovo scan`.
pub fn run(args: Args, ctx: &Context) -> anyhow::Result<u8> {
    args.format.check("scan", TEXT_JSON)?;
    let limits = Limits {
        max_listed: if args.max_listed == 0 {
            usize::MAX
        } else {
            args.max_listed
        },
        ..Limits::default()
    };
    let total: u64 = args.paths.iter().map(|p| input_size(p)).sum();
    let bar = Bar::new(ctx.progress, total);
    let hook = |n: u64| bar.advance(n);
    let mut results: Vec<(String, Result<ContentReport, String>)> = Vec::new();
    for path in &args.paths {
        let label = path.display().to_string();
        let result = if path.as_os_str() == "-" {
            let options = ScanOptions {
                root: "<stdin>".to_owned(),
                progress: None,
            };
            let stdin = std::io::stdin().lock();
            let reader =
                std::io::BufReader::with_capacity(1 << 16, Progress::new(stdin, Some(&hook)));
            Ok(scan_reader_with("-", reader, &limits, &options))
        } else {
            let options = ScanOptions {
                root: label.clone(),
                progress: Some(&hook),
            };
            scan_path_with(path, &limits, &options).map_err(|e| e.to_string())
        };
        if let Err(e) = &result {
            bar.clear();
            ctx.error(&anyhow::anyhow!("{e}"));
        }
        results.push((
            if path.as_os_str() == "-" {
                "<stdin>".to_owned()
            } else {
                label
            },
            result,
        ));
    }
    bar.clear();
    let mut totals: BTreeMap<CodeKind, Count> = BTreeMap::new();
    let mut native = Count::default();
    let mut bytecode = Count::default();
    let mut opaque = Count::default();
    let mut complete = true;
    for (_, r) in &results {
        let Ok(r) = r else {
            complete = false;
            continue;
        };
        complete &= r.complete;
        for t in &r.code_kinds {
            let c = totals.entry(t.kind).or_default();
            c.files += t.files;
            c.bytes += t.bytes;
        }
        for (sum, class) in [
            (&mut native, CodeClass::Native),
            (&mut bytecode, CodeClass::Bytecode),
        ] {
            let c = class_count(r, class);
            sum.files += c.files;
            sum.bytes += c.bytes;
        }
        opaque.files += r.opaque.files;
        opaque.bytes += r.opaque.bytes;
    }
    for (path, r) in &results {
        if let Ok(r) = r {
            if !r.complete {
                ctx.warn(&format!(
                    "the scan of `{path}` could not finish: {}",
                    r.issues.last().map_or("no reason recorded", String::as_str)
                ));
            }
        }
    }
    let found = native.files + bytecode.files > 0;
    if args.format == Format::Json {
        let answer = Answer {
            inputs: results
                .iter()
                .map(|(path, r)| match r {
                    Ok(r) => Input {
                        path: path.clone(),
                        error: None,
                        scan: Some(scanned(r, args.generated)),
                    },
                    Err(e) => Input {
                        path: path.clone(),
                        error: Some(e.clone()),
                        scan: None,
                    },
                })
                .collect(),
            native,
            bytecode,
            opaque,
            kinds: kind_counts(&totals),
            compiled_code_found: found,
            complete,
        };
        print_json(&answer)?;
    } else {
        let text = render_text(&results, &totals, args.generated, &|sgr, t| {
            ctx.style(sgr, t)
        });
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.flush()?;
    }
    Ok(if !complete {
        exit::ERROR
    } else if args.fail_on_binary && found {
        exit::NEGATIVE
    } else {
        exit::SUCCESS
    })
}

fn scanned(r: &ContentReport, generated: bool) -> Scanned<'_> {
    let listed_all = r.binary_members.len() as u64
        >= r.code_kinds.iter().map(|t| t.files).sum::<u64>()
        && r.opaque_members.len() as u64 >= r.opaque.files;
    Scanned {
        format: &r.format,
        files: r.files,
        bytes: r.bytes,
        verdict: r.kind.name(),
        summary: &r.summary,
        complete: r.complete,
        issues: &r.issues,
        native: class_count(r, CodeClass::Native),
        bytecode: class_count(r, CodeClass::Bytecode),
        opaque: Count {
            files: r.opaque.files,
            bytes: r.opaque.bytes,
        },
        kinds: r
            .code_kinds
            .iter()
            .map(|t| KindCount {
                kind: t.kind,
                class: t.class,
                label: t.kind.label(),
                files: t.files,
                bytes: t.bytes,
            })
            .collect(),
        compiled: r.binary_members.iter().map(Finding::of).collect(),
        opaque_blobs: r.opaque_members.iter().map(Finding::of).collect(),
        generated: generated.then(|| r.generated_members.iter().map(Finding::of).collect()),
        listed_all,
    }
}

/// The style of a class of findings in text.
fn class_style(class: Option<CodeClass>) -> &'static str {
    match class {
        Some(CodeClass::Native) => "1;31",
        Some(CodeClass::Bytecode) => "1;33",
        None => "2",
    }
}

/// Lists members (kind, size, path, what), and says how many more there
/// are when `counted` is more than the list holds.
fn member_table(
    o: &mut String,
    members: &[Member],
    counted: u64,
    label: &dyn Fn(&Member) -> String,
    style: &dyn Fn(&str, &str) -> String,
) {
    let mut t = Table::new(&[(Align::Left, 28), (Align::Right, 12), (Align::Left, 0)]);
    for m in members {
        t.row(vec![
            (label(m), class_style(m.kind.map(CodeKind::class))),
            (human_bytes(m.size), ""),
            (
                format!("{}  ({})", sanitize(&m.path), sanitize(&m.what)),
                "",
            ),
        ]);
    }
    o.push_str(&t.render("    ", style));
    let listed = members.len() as u64;
    if listed < counted {
        o.push_str(&format!(
            "    … and {} more (--max-listed)\n",
            count(counted - listed)
        ));
    }
}

/// The text report.
fn render_text(
    results: &[(String, Result<ContentReport, String>)],
    totals: &BTreeMap<CodeKind, Count>,
    generated: bool,
    style: &dyn Fn(&str, &str) -> String,
) -> String {
    let mut o = String::new();
    for (path, r) in results {
        let Ok(r) = r else {
            o.push_str(&format!(
                "{}: {}\n\n",
                style("1", &sanitize(path)),
                style("1;31", "could not be read (see the error above)")
            ));
            continue;
        };
        o.push_str(&format!(
            "{}: {} — {}, {} unpacked\n",
            style("1", &sanitize(path)),
            sanitize(&r.format),
            plural(r.files as usize, "file", "files"),
            human_bytes(r.bytes)
        ));
        let native = class_count(r, CodeClass::Native);
        let bytecode = class_count(r, CodeClass::Bytecode);
        let compiled = native.files + bytecode.files;
        if compiled == 0 {
            o.push_str("  no compiled code\n");
        } else {
            o.push_str(&format!(
                "  compiled code: {} ({} native, {} bytecode), {}\n",
                plural(compiled as usize, "member", "members"),
                count(native.files),
                count(bytecode.files),
                human_bytes(native.bytes + bytecode.bytes)
            ));
            member_table(
                &mut o,
                &r.binary_members,
                compiled,
                &|m| m.kind.map_or("", CodeKind::label).to_owned(),
                style,
            );
        }
        let mut sections = vec![("opaque blobs", "opaque blob", &r.opaque_members, r.opaque)];
        if generated {
            sections.push((
                "machine-made text",
                "generated text",
                &r.generated_members,
                r.generated,
            ));
        }
        for (heading, label, members, tally) in sections {
            if tally.files == 0 {
                continue;
            }
            o.push_str(&format!(
                "  {heading}: {}, {}\n",
                plural(tally.files as usize, "member", "members"),
                human_bytes(tally.bytes)
            ));
            member_table(&mut o, members, tally.files, &|_| label.to_owned(), style);
        }
        if !r.complete {
            o.push_str(&format!(
                "  {} {}\n",
                style("1;31", "scan incomplete:"),
                sanitize(&r.issues.join("; "))
            ));
        } else if !r.issues.is_empty() {
            o.push_str(&format!("  notes: {}\n", sanitize(&r.issues.join("; "))));
        }
        o.push('\n');
    }
    o.push_str(&format!("{}\n", style("1", "Totals")));
    let mut t = Table::new(&[
        (Align::Left, usize::MAX),
        (Align::Left, usize::MAX),
        (Align::Right, usize::MAX),
        (Align::Right, usize::MAX),
    ]);
    t.header(&["kind", "class", "members", "bytes"]);
    let mut sums = [Count::default(); 2];
    for (&kind, c) in totals {
        let i = usize::from(kind.class() == CodeClass::Bytecode);
        sums[i].files += c.files;
        sums[i].bytes += c.bytes;
        t.row(vec![
            (kind.label().to_owned(), class_style(Some(kind.class()))),
            (kind.class().name().to_owned(), ""),
            (count(c.files), ""),
            (human_bytes(c.bytes), ""),
        ]);
    }
    let opaque =
        results
            .iter()
            .filter_map(|(_, r)| r.as_ref().ok())
            .fold(Count::default(), |c, r| Count {
                files: c.files + r.opaque.files,
                bytes: c.bytes + r.opaque.bytes,
            });
    for (label, c) in [
        ("native code", sums[0]),
        ("bytecode", sums[1]),
        ("opaque blobs", opaque),
    ] {
        t.row(vec![
            (label.to_owned(), "1"),
            (String::new(), ""),
            (count(c.files), ""),
            (human_bytes(c.bytes), ""),
        ]);
    }
    o.push_str(&t.render("  ", style));
    o
}
