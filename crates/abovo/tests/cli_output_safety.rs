//! Text from data never reaches the user raw: a graph whose description
//! (here, the name of its source directory) and package table carry
//! terminal escapes (colour, window title, clear screen, BEL) and markup
//! (`<script>`, quotes, `&`) goes through every graph and trust command in
//! every format, and nothing printed holds a control character other than
//! newline and tab; the GraphML and HTML stay well-formed, the DOT strings
//! closed. Also: errors quoting huge input are clipped, and help written to
//! a full disk is an error.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod cli_support;

use cli_support::{A, B, C, S, SUCCESS, abovo_command, write_drv};
use std::path::{Path, PathBuf};
use std::process::Output;

/// A description and names that would paint, retitle and clear a
/// terminal, and open a script in a page.
const EVIL_DIR: &str = "evil<script>alert(1)\u{1b}[2J\u{1b}]0;pwn\u{7}&\"'";

/// The hand-made graph `app → lib → base` (and a source), in a directory
/// named [`EVIL_DIR`], with a package table whose names and modules carry
/// escapes and markup, written into a snapshot as well.
struct EvilGraph {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    table: PathBuf,
    snapshot: PathBuf,
}

fn evil_graph() -> EvilGraph {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(EVIL_DIR);
    std::fs::create_dir(&dir).unwrap();
    write_drv(&dir, A, &[B], &[S], false);
    write_drv(&dir, B, &[C], &[], false);
    write_drv(&dir, C, &[], &[], true);
    std::fs::write(dir.join(S), "echo build").unwrap();
    let table = tmp.path().join("evil.tsv");
    std::fs::write(
        &table,
        format!(
            "name\tversion\tderivation\tmodule\n\
             ap\u{1b}[31mp<i>\t1.0\t/gnu/store/{A}\t<b>mod\u{1b}]0;x\u{7}</b>\n\
             li\u{1b}]0;title\u{7}b\t2.1\t/gnu/store/{B}\tm\n\
             ba\u{7}se&\"\t3.0\t/gnu/store/{C}\tm\u{1b}c\n"
        ),
    )
    .unwrap();
    let snapshot = tmp.path().join("evil.abovo-snapshot");
    let o = run(&[
        "snapshot",
        "create",
        "--from",
        dir.to_str().unwrap(),
        "--package-table",
        table.to_str().unwrap(),
        "-o",
        snapshot.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(SUCCESS), "{}", lossy(&o.stderr));
    EvilGraph {
        _tmp: tmp,
        dir,
        table,
        snapshot,
    }
}

fn run(args: &[&str]) -> Output {
    abovo_command(args)
        .env("NO_COLOR", "1")
        .env_remove("ABOVO_STATE_DIR")
        .output()
        .unwrap()
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The first control byte other than newline and tab, with its offset.
fn first_control(bytes: &[u8]) -> Option<(usize, u8)> {
    bytes
        .iter()
        .position(|&b| (b < 0x20 && b != b'\n' && b != b'\t') || b == 0x7f)
        .map(|i| (i, bytes[i]))
        .or_else(|| {
            // C1 controls in UTF-8 (U+0080–U+009F) count too.
            bytes
                .windows(2)
                .position(|w| w[0] == 0xc2 && (0x80..=0x9f).contains(&w[1]))
                .map(|i| (i, bytes[i + 1]))
        })
}

fn assert_clean(what: &str, o: &Output) {
    for (stream, bytes) in [("stdout", &o.stdout), ("stderr", &o.stderr)] {
        if let Some((at, b)) = first_control(bytes) {
            let from = at.saturating_sub(60);
            panic!(
                "{what}: {stream} has byte {b:#04x} at {at}: {:?}",
                lossy(&bytes[from..(at + 20).min(bytes.len())])
            );
        }
    }
}

/// Runs `args`, which must succeed with no control byte in what they
/// print (`what` names the run in a failure).
fn run_clean(what: &str, args: &[&str]) -> Output {
    let o = run(args);
    assert_eq!(
        o.status.code(),
        Some(SUCCESS),
        "{what}: {}",
        lossy(&o.stderr)
    );
    assert_clean(what, &o);
    o
}

/// A small well-formedness check of XML: names, balanced tags, quoted
/// attributes, known entity references, and only characters XML 1.0
/// allows. (No XML parser is a dependency; this is what matters here.)
fn assert_well_formed_xml(xml: &str) {
    for c in xml.chars() {
        let allowed = matches!(c, '\t' | '\n' | '\r')
            || ('\u{20}'..='\u{d7ff}').contains(&c)
            || ('\u{e000}'..='\u{fffd}').contains(&c)
            || c >= '\u{10000}';
        assert!(allowed, "character {c:?} is not allowed in XML 1.0");
    }
    let check_text = |text: &str| {
        assert!(!text.contains('<'), "`<` in text: {text}");
        let mut rest = text;
        while let Some(at) = rest.find('&') {
            let end = rest[at..]
                .find(';')
                .unwrap_or_else(|| panic!("bare & in {text}"));
            let entity = &rest[at + 1..at + end];
            assert!(
                matches!(entity, "amp" | "lt" | "gt" | "quot" | "apos")
                    || entity
                        .strip_prefix('#')
                        .is_some_and(|n| n.parse::<u32>().is_ok()),
                "unknown entity &{entity}; in {text}"
            );
            rest = &rest[at + end + 1..];
        }
    };
    let body = xml
        .strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>")
        .expect("XML declaration");
    let mut open: Vec<&str> = Vec::new();
    let mut rest = body;
    while let Some(lt) = rest.find('<') {
        check_text(&rest[..lt]);
        let gt = rest[lt..].find('>').expect("unclosed tag") + lt;
        let tag = &rest[lt + 1..gt];
        rest = &rest[gt + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(open.pop(), Some(name.trim()), "mismatched </{name}>");
            continue;
        }
        let self_closing = tag.ends_with('/');
        let tag = tag.trim_end_matches('/');
        let name_end = tag.find(char::is_whitespace).unwrap_or(tag.len());
        let name = &tag[..name_end];
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '-'),
            "bad tag name {name:?}"
        );
        // Attributes: name="value", the value without `<` or `"`.
        let mut attrs = tag[name_end..].trim();
        while !attrs.is_empty() {
            let eq = attrs
                .find("=\"")
                .unwrap_or_else(|| panic!("bad attributes {attrs}"));
            let close = attrs[eq + 2..].find('"').expect("unquoted attribute") + eq + 2;
            check_text(&attrs[eq + 2..close]);
            attrs = attrs[close + 1..].trim_start();
        }
        if !self_closing {
            open.push(name);
        }
    }
    check_text(rest);
    assert!(open.is_empty(), "unclosed elements {open:?}");
}

/// Every quoted string of a DOT file ends on its line: after removing the
/// escapes `\\` and `\"`, each line has an even number of quotes.
fn assert_dot_strings_closed(dot: &str) {
    for line in dot.lines() {
        let plain = line.replace("\\\\", "").replace("\\\"", "");
        assert_eq!(plain.matches('"').count() % 2, 0, "open string: {line}");
    }
}

fn source_args(g: &EvilGraph, snapshot: bool) -> Vec<String> {
    if snapshot {
        vec!["--source".into(), g.snapshot.to_str().unwrap().into()]
    } else {
        vec![
            "--source".into(),
            g.dir.to_str().unwrap().into(),
            "--package-table".into(),
            g.table.to_str().unwrap().into(),
        ]
    }
}

#[test]
fn data_never_reaches_the_terminal_raw() {
    let g = evil_graph();
    let app = format!("/gnu/store/{A}");
    let base = format!("/gnu/store/{C}");
    let commands: Vec<(Vec<&str>, &[&str])> = vec![
        (vec!["graph", &app], &["text", "json", "dot", "graphml"]),
        (vec!["dependents", &base], &["text", "json"]),
        (vec!["why", &app, &base], &["text", "json"]),
        (vec!["path", &app, &base], &["text", "json"]),
        (vec!["closure", &app, "--list"], &["text", "json"]),
    ];
    for snapshot in [false, true] {
        for (command, formats) in &commands {
            for format in *formats {
                let mut args: Vec<String> = command.iter().map(|s| s.to_string()).collect();
                args.extend(["-f".into(), format.to_string()]);
                args.extend(source_args(&g, snapshot));
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let what = format!("{} -f {format} (snapshot: {snapshot})", command[0]);
                let o = run_clean(&what, &args);
                let out = String::from_utf8(o.stdout.clone()).unwrap();
                match *format {
                    "graphml" => assert_well_formed_xml(&out),
                    "dot" => assert_dot_strings_closed(&out),
                    "json" => {
                        serde_json::from_str::<serde_json::Value>(&out).unwrap();
                    }
                    _ => {}
                }
            }
        }
    }
    // What the escapes look like: visible, and the description is there.
    let o = run(&[
        &["graph", &app][..],
        &source_args(&g, true)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    ]
    .concat());
    let out = lossy(&o.stdout);
    assert!(
        out.lines()
            .next()
            .unwrap()
            .contains("evil<script>alert(1)\\u{1b}[2J\\u{1b}]0;pwn\\u{7}&\"'"),
        "{out}"
    );
    let o = run(&[
        &["dependents", &base][..],
        &source_args(&g, true)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    ]
    .concat());
    assert!(
        lossy(&o.stdout).contains("ap\\u{1b}[31mp<i>@1.0"),
        "{}",
        lossy(&o.stdout)
    );
}

#[test]
fn trust_reports_escape_data_in_every_format() {
    let g = evil_graph();
    let app = format!("/gnu/store/{A}");
    let source = g.snapshot.to_str().unwrap();
    // A knowledge base that names `base`'s fixed output with escapes and
    // markup in every text it has.
    let knowledge = g.dir.parent().unwrap().join("evil.toml");
    let evil = r#"x\u001b]0;t\u0007<i>&\u001b[2J\u001bc"#;
    std::fs::write(
        &knowledge,
        format!(
            "[[seed]]\nname = \"seed {evil}\"\n\
             hash = \"sha256:{}\"\nrecursive = false\nkind = \"binary\"\n\
             description = \"what {evil}\"\nprovenance = \"from {evil}\"\n\
             members = [{{ path = \"bin/{evil}\", what = \"an {evil}\" }}]\n",
            "0".repeat(64)
        ),
    )
    .unwrap();
    let knowledge = knowledge.to_str().unwrap();
    for (command, formats) in [
        (vec!["seeds", app.as_str()], ["text", "json", "html"]),
        (vec!["audit"], ["text", "json", "html"]),
    ] {
        for format in formats {
            let mut args = command.clone();
            args.extend([
                "-f",
                format,
                "--source",
                source,
                "--no-store",
                "--knowledge",
                knowledge,
            ]);
            let what = format!("{} -f {format}", command[0]);
            let o = run_clean(&what, &args);
            let out = lossy(&o.stdout);
            assert!(
                out.contains("seed x"),
                "{what}: the knowledge entry is used: {out}"
            );
            if format == "html" {
                assert!(!out.contains("<script"), "{what}: a script tag from data");
                assert!(
                    out.contains("&lt;script&gt;alert(1)\\u{1b}[2J"),
                    "{what}: {out}"
                );
                // The page is XML-clean too: no control characters, and
                // every `&` starts a reference.
                for (i, _) in out.match_indices('&') {
                    let entity = &out[i..(i + 8).min(out.len())];
                    assert!(
                        ["&amp;", "&lt;", "&gt;", "&quot;", "&#39;"]
                            .iter()
                            .any(|e| entity.starts_with(e)),
                        "{what}: bare & at {entity}"
                    );
                }
            }
        }
    }
}

/// An error that quotes a 1 MB store path of a `.drv` (or a 1,000
/// character name on the command line) prints a few hundred characters of it, and
/// says how many it left out.
#[test]
fn errors_quoting_huge_input_are_clipped() {
    let tmp = tempfile::tempdir().unwrap();
    let bogus = format!("/gnu/store/{}", "a".repeat(1 << 20));
    std::fs::write(
        tmp.path().join(A),
        format!(
            "Derive([(\"out\",\"/gnu/store/1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-app-1.0\",\"\",\"\")],\
             [(\"{bogus}\",[\"out\"])],[],\"x86_64-linux\",\"/bin/sh\",[],[])"
        ),
    )
    .unwrap();
    // (Not longer: the "did you mean" search costs time quadratic in it.)
    let long_name = "y".repeat(1_000);
    let app = format!("/gnu/store/{A}");
    for args in [
        vec![
            "graph",
            app.as_str(),
            "--source",
            tmp.path().to_str().unwrap(),
        ],
        vec!["graph", long_name.as_str()],
    ] {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(cli_support::ERROR));
        assert_clean("huge input", &o);
        let err = lossy(&o.stderr);
        assert!(err.len() < 4_000, "{} bytes of error", err.len());
        for line in err.lines() {
            assert!(line.chars().count() < 500, "{line}");
        }
        assert!(err.contains("characters left out) …"), "{err}");
    }
}

/// `--help` and `-V` that cannot be written are an error (exit 2) that
/// says so; a reader that closes the pipe early is not.
#[test]
fn help_that_cannot_be_written_is_an_error() {
    let full = Path::new("/dev/full");
    if !full.exists() {
        eprintln!("help_that_cannot_be_written_is_an_error: skipped: no /dev/full");
        return;
    }
    for args in [
        &["--help"][..],
        &["-V"],
        &["graph", "--help"],
        &["help", "graph"],
    ] {
        let o = abovo_command(args)
            .stdout(std::fs::File::create(full).unwrap())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(cli_support::ERROR), "{args:?}");
        let err = lossy(&o.stderr);
        assert!(
            err.contains("cannot write to standard output"),
            "{args:?}: {err}"
        );
    }
    // Written normally, help exits 0.
    let o = abovo_command(&["--help"]).output().unwrap();
    assert_eq!(o.status.code(), Some(SUCCESS));
    assert!(lossy(&o.stdout).contains("Usage"));
}

/// A reader that closed the pipe before anything was written (`abovo … |
/// head -0`) ends a command quietly with exit 0, whether its answer is a
/// report, JSON or a line or two (`index`, which once panicked there).
#[test]
fn a_closed_standard_output_ends_commands_quietly() {
    let g = evil_graph();
    let dir = g.dir.to_str().unwrap();
    let cache = tempfile::tempdir().unwrap();
    for args in [
        &["index", "--source", dir][..],
        &["index", "--source", dir, "--format", "json"],
        &["closure", "--source", dir, "app"],
        &["seeds", "--source", dir, "app"],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let o = abovo_command(args)
            .env("ABOVO_CACHE_DIR", cache.path())
            .stdout(writer)
            .output()
            .unwrap();
        let err = lossy(&o.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(o.status.code(), Some(SUCCESS), "{args:?}: {err}");
    }
}
