//! Names on stores without a package table, end to end on the real binary:
//! `--system` picks among same-named derivations of several systems, `path`
//! and `why` pick the TO that FROM depends on, and `show` reads a derivation
//! named like the graph commands name it. On a small hand-made store, and
//! on the Guix 1.5.0 corpus when ABOVO_GUIX_CORPUS names its folder.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod cli_support;

use cli_support::{ERROR, NEGATIVE, SUCCESS, abovo, code, json_of, stderr, stdout, write_drv};
use std::path::Path;

/// `boot-1.0` for three systems; `app` (x86_64) uses the x86_64 one, `tool`
/// (i686) the i686 one. `odd-1.0` for i686 and armhf only; `far` (x86_64)
/// uses the armhf one.
const BOOT_X86_64: &str = "00000000000000000000000000000b01-boot-1.0.drv";
const BOOT_I686: &str = "00000000000000000000000000000b02-boot-1.0.drv";
const BOOT_ARMHF: &str = "00000000000000000000000000000b03-boot-1.0.drv";
const ODD_I686: &str = "00000000000000000000000000000c01-odd-1.0.drv";
const ODD_ARMHF: &str = "00000000000000000000000000000c02-odd-1.0.drv";
const APP: &str = "00000000000000000000000000000a01-app-1.0.drv";
const TOOL: &str = "00000000000000000000000000000a02-tool-1.0.drv";
const FAR: &str = "00000000000000000000000000000a03-far-1.0.drv";
const SCRIPT: &str = "00000000000000000000000000000s01-build.sh";

/// Writes a derivation as [`write_drv`] does, built for `system`.
fn drv_for(dir: &Path, base: &str, system: &str, inputs: &[&str], sources: &[&str]) {
    write_drv(dir, base, inputs, sources, false);
    let file = dir.join(base);
    let text = std::fs::read_to_string(&file).unwrap();
    let text = text.replace("\"x86_64-linux\"", &format!("\"{system}\""));
    std::fs::write(file, text).unwrap();
}

fn store() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    drv_for(d, BOOT_X86_64, "x86_64-linux", &[], &[]);
    drv_for(d, BOOT_I686, "i686-linux", &[], &[]);
    drv_for(d, BOOT_ARMHF, "armhf-linux", &[], &[]);
    drv_for(d, ODD_I686, "i686-linux", &[], &[]);
    drv_for(d, ODD_ARMHF, "armhf-linux", &[], &[]);
    drv_for(d, APP, "x86_64-linux", &[BOOT_X86_64], &[SCRIPT]);
    drv_for(d, TOOL, "i686-linux", &[BOOT_I686], &[]);
    drv_for(d, FAR, "x86_64-linux", &[ODD_ARMHF], &[]);
    dir
}

fn path_of(base: &str) -> String {
    format!("/gnu/store/{base}")
}

#[test]
fn the_system_picks_among_same_named_derivations() {
    let dir = store();
    let d = dir.path().to_str().unwrap();
    for (system, want) in [
        ("x86_64-linux", BOOT_X86_64),
        ("i686-linux", BOOT_I686),
        ("armhf-linux", BOOT_ARMHF),
    ] {
        let o = abovo(&[
            "closure",
            "--type",
            "derivation",
            "boot",
            "--source",
            d,
            "--system",
            system,
        ]);
        assert_eq!(code(&o), SUCCESS, "{system}: {}", stderr(&o));
        // The note names the choice and why.
        let e = stderr(&o);
        assert!(
            e.contains(&format!(
                "`boot` matches 3 derivations; taking the {system} one (--system): {}",
                path_of(want)
            )),
            "{e}"
        );
        let v = json_of(
            &[
                "graph",
                "--type",
                "derivation",
                "boot",
                "--source",
                d,
                "--system",
                system,
                "-f",
                "json",
            ],
            SUCCESS,
        );
        assert_eq!(v["roots"][0], path_of(want), "{v}");
        // seeds and audit resolve names the same way.
        let v = json_of(
            &[
                "seeds", "boot", "--source", d, "--system", system, "-f", "json",
            ],
            SUCCESS,
        );
        assert_eq!(v["target"], path_of(want), "{v}");
        let v = json_of(
            &[
                "audit", "--only", "boot", "--source", d, "--system", system, "-f", "json",
            ],
            SUCCESS,
        );
        assert_eq!(v["packages"][0]["drv"], path_of(want), "{v}");
    }
    // --quiet keeps the answer and drops the note.
    let o = abovo(&[
        "path",
        "--type",
        "derivation",
        "app",
        "boot",
        "--source",
        d,
        "--system",
        "x86_64-linux",
        "-q",
    ]);
    assert_eq!(code(&o), SUCCESS, "{}", stderr(&o));
    assert_eq!(stderr(&o), "");
    assert_eq!(
        stdout(&o),
        format!("{}\n{}\n", path_of(APP), path_of(BOOT_X86_64))
    );
    // A system nobody built for: the ambiguity, with all three.
    let o = abovo(&[
        "dependents",
        "--type",
        "derivation",
        "boot",
        "--source",
        d,
        "--system",
        "mips64el-linux",
    ]);
    assert_eq!(code(&o), ERROR);
    let e = stderr(&o);
    assert!(e.contains("`boot` is ambiguous"), "{e}");
    for base in [BOOT_X86_64, BOOT_I686, BOOT_ARMHF] {
        assert!(e.contains(&path_of(base)), "{e}");
    }
}

#[test]
fn the_default_system_is_the_hosts() {
    let host = abovo_graph::resolve::host_system();
    for command in ["graph", "path", "why", "dependents", "closure", "show"] {
        let o = abovo(&[command, "--help"]);
        let help = stdout(&o);
        assert!(help.contains("--system <SYSTEM>"), "{command}: {help}");
        assert!(
            help.contains(&format!("[default: {host}]")),
            "{command}: {help}"
        );
    }
    // Without --system, the host's system decides (this store has a
    // `boot` for each of three systems; on another host, none decides).
    let dir = store();
    let d = dir.path().to_str().unwrap();
    let o = abovo(&["closure", "--type", "derivation", "boot", "--source", d]);
    match host.as_str() {
        "x86_64-linux" | "i686-linux" | "armhf-linux" => {
            assert_eq!(code(&o), SUCCESS, "{}", stderr(&o));
            assert!(
                stderr(&o).contains(&format!("the {host} one")),
                "{}",
                stderr(&o)
            );
        }
        _ => assert_eq!(code(&o), ERROR, "{}", stderr(&o)),
    }
}

#[test]
fn path_and_why_take_the_one_that_from_depends_on() {
    let dir = store();
    let d = dir.path().to_str().unwrap();
    // `odd` exists for no x86_64; `far` depends on the armhf one only.
    let o = abovo(&[
        "path",
        "--type",
        "derivation",
        "far",
        "odd",
        "--source",
        d,
        "--system",
        "x86_64-linux",
    ]);
    assert_eq!(code(&o), SUCCESS, "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        format!("{}\n{}\n", path_of(FAR), path_of(ODD_ARMHF))
    );
    assert!(
        stderr(&o).contains(&format!(
            "`odd` matches 2 derivations; taking the only one far-1.0 depends on: {}",
            path_of(ODD_ARMHF)
        )),
        "{}",
        stderr(&o)
    );
    let v = json_of(
        &[
            "why",
            "--type",
            "derivation",
            "far",
            "odd",
            "--source",
            d,
            "--system",
            "x86_64-linux",
            "-f",
            "json",
        ],
        SUCCESS,
    );
    assert_eq!(v["dependency"]["path"], path_of(ODD_ARMHF));
    // `app` depends on neither: still ambiguous.
    let o = abovo(&[
        "path",
        "--type",
        "derivation",
        "app",
        "odd",
        "--source",
        d,
        "--system",
        "x86_64-linux",
    ]);
    assert_eq!(code(&o), ERROR);
    assert!(stderr(&o).contains("`odd` is ambiguous"), "{}", stderr(&o));
    // The system decides first: `tool` (i686) depends on the i686 `boot`,
    // but with --system x86_64-linux `boot` is the x86_64 one, and the "no
    // path" answer points at the one `tool` uses.
    let o = abovo(&[
        "path",
        "--type",
        "derivation",
        "tool",
        "boot",
        "--source",
        d,
        "--system",
        "x86_64-linux",
    ]);
    assert_eq!(code(&o), NEGATIVE, "{}", stderr(&o));
    assert!(stderr(&o).contains(&path_of(BOOT_I686)), "{}", stderr(&o));
    let o = abovo(&[
        "path",
        "--type",
        "derivation",
        "tool",
        "boot",
        "--source",
        d,
        "--system",
        "i686-linux",
    ]);
    assert_eq!(code(&o), SUCCESS, "{}", stderr(&o));
}

#[test]
fn show_reads_a_named_derivation_from_the_source() {
    let dir = store();
    let d = dir.path().to_str().unwrap();
    let app_text = std::fs::read(dir.path().join(APP)).unwrap();
    // A name, a `.drv` path, a base name, an output path: the same file,
    // byte for byte.
    let out_path = format!("/gnu/store/{}-app-1.0", &APP[..32].replace('0', "1"));
    for spec in ["app", "app@1", &path_of(APP), APP, &out_path] {
        let o = abovo(&["show", spec, "--source", d, "-f", "aterm"]);
        assert_eq!(code(&o), SUCCESS, "{spec}: {}", stderr(&o));
        assert_eq!(o.stdout, app_text, "{spec}");
    }
    // Names prefer --system, in JSON too.
    let v = json_of(
        &[
            "show",
            "--derivation",
            "boot",
            "--source",
            d,
            "--system",
            "armhf-linux",
            "-f",
            "json",
        ],
        SUCCESS,
    );
    assert_eq!(v["system"], "armhf-linux");
    assert_eq!(v["name"], "boot-1.0");
    // From a tarball of the same files.
    let tarball = dir.path().join("drvs.tar");
    {
        let mut b = tar::Builder::new(std::fs::File::create(&tarball).unwrap());
        for base in [APP, BOOT_X86_64] {
            b.append_path_with_name(dir.path().join(base), base)
                .unwrap();
        }
        b.finish().unwrap();
    }
    let o = abovo(&[
        "show",
        "app",
        "--source",
        tarball.to_str().unwrap(),
        "-f",
        "aterm",
    ]);
    assert_eq!(code(&o), SUCCESS, "{}", stderr(&o));
    assert_eq!(o.stdout, app_text);
    // Not a derivation, not there, not a directory of files.
    let o = abovo(&["show", &path_of(SCRIPT), "--source", d]);
    assert_eq!(code(&o), ERROR);
    assert!(stderr(&o).contains("is a source"), "{}", stderr(&o));
    let o = abovo(&["show", "--derivation", "nothing-like-it", "--source", d]);
    assert_eq!(code(&o), ERROR);
    assert!(
        stderr(&o).contains("unknown package or derivation"),
        "{}",
        stderr(&o)
    );
    let snapshot = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/guix-1.5.0.abovo-snapshot"
    );
    // A snapshot keeps no whole .drv: one that is at hand nowhere is named.
    let o = abovo(&["show", "python", "--source", snapshot, "-f", "aterm"]);
    assert_eq!(code(&o), ERROR);
    assert!(
        stderr(&o).contains("-python-3.11.14.drv, which is in none of"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn show_without_a_source_says_which_file_to_look_for() {
    // hello's .drv is among the built-in items; python's is not.
    let o = abovo(&["show", "hello", "-f", "aterm"]);
    assert_eq!(code(&o), SUCCESS, "{}", stderr(&o));
    assert!(stdout(&o).starts_with("Derive([(\"out\",\"/gnu/store/"));
    let o = abovo(&["show", "python", "-f", "aterm"]);
    assert_eq!(code(&o), ERROR);
    let e = stderr(&o);
    assert!(
        e.starts_with("abovo: error: `python` is not a file; abovo show reads .drv files. Its derivation in the built-in Guix 1.5.0 snapshot"),
        "{e}"
    );
    assert!(
        e.contains("give a store directory holding it with --source DIR, or an archive of items with --sources PATH"),
        "{e}"
    );
    assert!(!e.contains("os error"), "{e}");
    // A path the snapshot does not know either: the read error, and what
    // show takes.
    let o = abovo(&["show", "./nothing-like-it.drv"]);
    assert_eq!(code(&o), ERROR);
    let e = stderr(&o);
    assert!(
        e.contains("`./nothing-like-it.drv` is not a file; abovo show reads .drv files"),
        "{e}"
    );
    assert!(e.contains("No such file or directory"), "{e}");
}

#[test]
fn help_names_no_old_spellings_and_version_only_at_the_top() {
    let top = stdout(&abovo(&["--help"]));
    assert!(top.contains("-V, --version"), "{top}");
    for args in [
        &["graph", "--help"][..],
        &["path", "--help"],
        &["why", "--help"],
        &["dependents", "--help"],
        &["closure", "--help"],
        &["show", "--help"],
        &["hash", "--help"],
        &["snapshot", "create", "--help"],
        &["snapshot", "info", "--help"],
    ] {
        let help = stdout(&abovo(args));
        assert!(help.contains("Usage: abovo"), "{args:?}: {help}");
        assert!(!help.contains("--version"), "{args:?}: {help}");
        assert!(!help.contains("old spelling"), "{args:?}: {help}");
    }
    // (cli_graph_ux checks that the old spelling still works.)
    assert_eq!(code(&abovo(&["path", "--type", "derivation", "-V"])), ERROR);
}

/// On the Guix 1.5.0 corpus's tarball (no package table): `guile-bootstrap`
/// is a derivation for x86_64-linux, i686-linux and armhf-linux.
#[test]
fn corpus_guile_bootstrap_by_system_and_by_reachability() {
    let Some(folder) = std::env::var_os("ABOVO_GUIX_CORPUS") else {
        println!("skipped: ABOVO_GUIX_CORPUS is not set");
        return;
    };
    let tarball = Path::new(&folder).join("drvs.tar.zst");
    let t = tarball.to_str().unwrap();
    let run = |system: &str| {
        abovo(&[
            "path",
            "--type",
            "derivation",
            "hello",
            "guile-bootstrap",
            "--source",
            t,
            "--system",
            system,
        ])
    };
    // The host's system as Guix names it: the x86_64 one.
    let o = run("x86_64-linux");
    assert_eq!(code(&o), SUCCESS, "{}", stderr(&o));
    let x86_64 = stdout(&o).lines().last().unwrap().to_owned();
    assert!(x86_64.ends_with("-guile-bootstrap-2.0.drv"), "{x86_64}");
    assert!(
        stderr(&o).contains(
            "`guile-bootstrap` matches 3 derivations; taking the x86_64-linux one (--system)"
        ),
        "{}",
        stderr(&o)
    );
    // No derivation for that system: hello depends on one of the three.
    let o = run("mips64el-linux");
    assert_eq!(code(&o), SUCCESS, "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().last().unwrap(), x86_64);
    assert!(
        stderr(&o).contains("taking the only one hello-2.12.2 depends on"),
        "{}",
        stderr(&o)
    );
    // The i686 one, which hello does not use: no path, and the hint names
    // the one it does use.
    let o = run("i686-linux");
    assert_eq!(code(&o), NEGATIVE, "{}", stderr(&o));
    assert!(stderr(&o).contains(&x86_64), "{}", stderr(&o));
    // `show` reads hello's derivation from the corpus folder.
    let o = abovo(&[
        "show",
        "hello",
        "--source",
        folder.to_str().unwrap(),
        "-f",
        "aterm",
    ]);
    assert_eq!(code(&o), SUCCESS, "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with("Derive([(\"out\",\"/gnu/store/"),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("-hello-2.12.2\""));
}
